/*  attune_cli_keygen: keygen: a CURVE cert pair with zcert, for attuned and for
    clients (no socket involved).
*/
#include "tools/attune_cli.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include "proto/proto_json.h"

static const cli_option_t s_keygen_options[] = {
    {"--identity", "ID", "who the key is, for the api and inquiries (default NAME)"},
    {"--role", "ROLE",
     "admin, operator or viewer (a person or program using the api);\n"
     "none for an attune process (core, worker, sensor)"},
    {"--dir", "DIR", "where to write the two files (default .)"},
    {NULL}};

static bool
s_keygen_text_ok (const char *text, size_t max)
{
    //  What a ZPL value holds safely, quoted: printable, no quote
    if (!*text || strlen (text) > max || !proto_utf8_valid (text, strlen (text)))
        return false;
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == 0x7f)
            return false;
    return true;
}

//  NAME, the identity and the role checked. 0, or the exit code.
static int
s_keygen_check (const char *name, const char *identity, const char *role)
{
    bool name_ok = *name && strlen (name) <= 128 && name[0] != '.';
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char)*p) && !strchr ("._@-", *p))
            name_ok = false;
    if (!name_ok) {
        fprintf (stderr,
                 "attune: keygen: NAME '%s' must be 1..128 of [A-Za-z0-9._@-] "
                 "(it names the files)\n",
                 name);
        return CLI_EXIT_USAGE;
    }
    if (!s_keygen_text_ok (identity, 256)) {
        fprintf (stderr, "attune: keygen: --identity: 1 to 256 bytes of printable "
                         "UTF-8, without '\"'\n");
        return CLI_EXIT_USAGE;
    }
    if (role && !streq (role, "admin") && !streq (role, "operator") &&
        !streq (role, "viewer")) {
        fprintf (stderr,
                 "attune: keygen: --role '%s': expected admin, operator or "
                 "viewer\n",
                 role);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

//  Write the pair; 0, or the exit code (said why).
static int
s_keygen_write (zcert_t *cert, const char *public_path, const char *secret_path)
{
    int rc = zcert_save_public (cert, public_path);
    //  The secret is created private (umask), not made private afterwards
    mode_t mask = umask (077);
    if (rc == 0)
        rc = zcert_save_secret (cert, secret_path);
    umask (mask);
    if (rc == 0)
        rc = chmod (secret_path, 0600);
    if (rc != 0) {
        fprintf (stderr, "attune: keygen: cannot write %s: %s\n", public_path,
                 strerror (errno));
        return CLI_EXIT_FAILED;
    }
    return 0;
}

static int
s_cmd_keygen (cli_t *client, cli_args_t *args)
{
    const char *name = args->pos[0];
    const char *identity = cli_opt (args, "--identity");
    const char *role = cli_opt (args, "--role");
    const char *dir = cli_opt (args, "--dir");
    if (!dir || !*dir)
        dir = ".";
    if (!identity)
        identity = name;
    int rc = s_keygen_check (name, identity, role);
    if (rc)
        return rc;
    struct stat info;
    if (stat (dir, &info) != 0 || !S_ISDIR (info.st_mode)) {
        fprintf (stderr, "attune: keygen: %s: not a directory\n", dir);
        return CLI_EXIT_FAILED;
    }
    char public_path[4096], secret_path[4200];
    snprintf (public_path, sizeof public_path, "%s/%s.cert", dir, name);
    snprintf (secret_path, sizeof secret_path, "%s_secret", public_path);
    //  Never replace a key: whoever holds the old one would be locked out
    if (access (public_path, F_OK) == 0 || access (secret_path, F_OK) == 0) {
        fprintf (stderr,
                 "attune: keygen: %s exists already: remove it (and its "
                 "_secret) first\n",
                 access (public_path, F_OK) == 0 ? public_path : secret_path);
        return CLI_EXIT_FAILED;
    }
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "attune: keygen: cannot make a key pair\n");
        return CLI_EXIT_FAILED;
    }
    zcert_set_meta (cert, "name", "%s", name);
    zcert_set_meta (cert, "identity", "%s", identity);
    if (role)
        zcert_set_meta (cert, "role", "%s", role);
    if (s_keygen_write (cert, public_path, secret_path) != 0) {
        zcert_destroy (&cert);
        return CLI_EXIT_FAILED;
    }
    if (client->json) {
        json_t *out = json_pack ("{s:s, s:s, s:s, s:s, s:s?}", "public", public_path,
                                 "secret", secret_path, "key", zcert_public_txt (cert),
                                 "identity", identity, "role", role);
        cli_print_json (out);
        json_decref (out);
    } else
        printf ("wrote %s (public: copy it into the allow directory of each attuned\n"
                "      this key connects to)\n"
                "      %s (secret, mode 0600: keep it where it is used)\n"
                "key   %s\nidentity %s, role %s\n",
                public_path, secret_path, zcert_public_txt (cert), identity,
                role ? role : "none (an attune process)");
    zcert_destroy (&cert);
    return CLI_EXIT_OK;
}

const cli_command_t cli_keygen_commands[] = {
    {"keygen", NULL, "NAME [--identity ID] [--role admin|operator|viewer] [--dir DIR]",
     "Make a CURVE key pair: DIR/NAME.cert (public, with the identity and role)\n"
     "and DIR/NAME.cert_secret (secret, mode 0600). A server lets the key in when\n"
     "NAME.cert is in its allow directory; the api gives it that role.",
     s_keygen_options, 1, 1, s_cmd_keygen},
    {NULL}};
