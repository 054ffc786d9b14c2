/*  attune: the command line client of attune's api, as st2 is for StackStorm.

        attune [--api ENDPOINT] [--json] [--timeout MS] [--as NAME]
               [--cert FILE --server-cert FILE] COMMAND ...
        attune keygen NAME [--identity ID] [--role admin|operator|viewer] [--dir DIR]

    With --cert (a secret cert, default $ATTUNE_CERT) and --server-cert (the
    api's public cert, default $ATTUNE_SERVER_CERT) the DEALER to the api and
    the SUB to its facts use CURVE (bus/bus_security.h); without them a tcp
    api that is not on loopback is refused, never reached in plaintext.
    `keygen` makes a cert pair with zcert (no socket involved).

    Every command is one or a few request/reply exchanges with the api
    (proto/PROTOCOL.md, "API (issue 4)") over a DEALER socket: one frame out,
    an envelope whose type is the operation, one frame back, `api.reply` or
    `api.error` with corr = the request's id. A request with no reply within
    half the timeout is sent once more with the same id (the api is
    idempotent by request id); without a reply by the timeout the command
    fails with `unavailable`. `run --wait` and `execution tail` also
    subscribe to the api's fact endpoint for `execution.` facts and poll
    `api.execution.get`, so a lost fact only delays a status line.

    Output is an aligned table or a property list for people; with --json it
    is the operation's result as one JSON document, for scripts.

    Exit codes: 0 success, 1 an api error, a timeout or an execution that did
    not complete, 2 a usage error. Errors go to stderr as "attune: CODE:
    MESSAGE".
*/
#include <pwd.h>
#include <unistd.h>

#include "tools/attune_cli.h"
#include "bus/bus_security.h"
#include "proto/proto_json.h"

//  ---------------------------------------------------------------------------
//  The command table: every group's slice, in the order usage shows them

static const cli_command_t *const s_groups[] = {
    cli_execution_commands, cli_rule_commands,   cli_action_commands, cli_event_commands,
    cli_inquiry_commands,   cli_system_commands, cli_keygen_commands, cli_key_commands,
    cli_pack_commands,      cli_apikey_commands, cli_sensor_commands, cli_purge_commands};

#define S_MAX_COMMANDS 64
static const cli_command_t *s_table[S_MAX_COMMANDS];
static size_t s_count;

static void
s_table_init (void)
{
    s_count = 0;
    for (size_t g = 0; g < sizeof s_groups / sizeof s_groups[0]; g++)
        for (const cli_command_t *c = s_groups[g]; c->group; c++) {
            assert (s_count < S_MAX_COMMANDS);
            s_table[s_count++] = c;
        }
}

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: attune [--api ENDPOINT] [--json] [--st2-status] [--timeout MS]\n"
             "              [--as NAME]\n"
             "              [--cert FILE --server-cert FILE] COMMAND ...\n\n"
             "options:\n"
             "  --api ENDPOINT   the api (default $ATTUNE_API, else " CLI_DEFAULT_API
             ")\n"
             "  --json           print results as JSON, for scripts\n"
             "  --st2-status     show StackStorm's status names (succeeded for\n"
             "                   completed, canceled for cancelled; also\n"
             "                   $ATTUNE_ST2_STATUS=1)\n"
             "  --as NAME        who you are, for runs, inquiries and user keys\n"
             "                   (default $ATTUNE_IDENTITY, else your login name)\n"
             "  --timeout MS     wait at most MS for each reply (default 10000; the\n"
             "                   request is sent again once, half way)\n"
             "  --cert FILE      your secret CURVE cert (default $ATTUNE_CERT)\n"
             "  --server-cert F  the api's public cert (default $ATTUNE_SERVER_CERT);\n"
             "                   with both, the api is reached over CURVE\n"
             "  -h, --help       this text\n\n"
             "commands:\n");
    for (size_t i = 0; i < s_count; i++) {
        char path[64];
        cli_command_path (s_table[i], path, sizeof path);
        if (*s_table[i]->synopsis)
            fprintf (out, "  %-18s %s\n", path, s_table[i]->synopsis);
        else
            fprintf (out, "  %s\n", path);
    }
    fprintf (out, "\n'attune COMMAND --help' describes a command.\n");
}

static void
s_group_usage (const char *group, FILE *out)
{
    fprintf (out, "usage: attune %s SUBCOMMAND ...\n\nsubcommands:\n", group);
    for (size_t i = 0; i < s_count; i++)
        if (streq (s_table[i]->group, group))
            fprintf (out, "  %s%*s%s\n", s_table[i]->name,
                     *s_table[i]->synopsis ? (int)(9 - strlen (s_table[i]->name)) : 0, "",
                     s_table[i]->synopsis);
    fprintf (out, "\n'attune %s SUBCOMMAND --help' describes one.\n", group);
}

//  Find and run the command in argv; returns the exit code.
static int
s_dispatch (cli_t *client, int argc, char **argv)
{
    if (argc < 1) {
        fprintf (stderr, "attune: missing command\n");
        s_usage (stderr);
        return CLI_EXIT_USAGE;
    }
    const char *group = argv[0];
    bool known = false, grouped = false;
    for (size_t i = 0; i < s_count; i++)
        if (streq (s_table[i]->group, group)) {
            known = true;
            grouped = s_table[i]->name != NULL;
        }
    if (!known) {
        char *clean = cli_clean (group, CLI_CELL_MAX);
        fprintf (stderr, "attune: unknown command '%s'\n(see attune --help)\n", clean);
        free (clean);
        return CLI_EXIT_USAGE;
    }
    const cli_command_t *command = NULL;
    int skip = 1;
    if (grouped) {
        if (argc < 2 || streq (argv[1], "--help") || streq (argv[1], "-h")) {
            if (argc < 2)
                fprintf (stderr, "attune: %s: missing subcommand\n", group);
            s_group_usage (group, argc < 2 ? stderr : stdout);
            return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
        }
        //  StackStorm's spelling of `execution rerun` (st2 execution re-run)
        const char *name = streq (argv[1], "re-run") ? "rerun" : argv[1];
        for (size_t i = 0; i < s_count; i++)
            if (streq (s_table[i]->group, group) && streq (s_table[i]->name, name))
                command = s_table[i];
        if (!command) {
            char *clean = cli_clean (argv[1], CLI_CELL_MAX);
            fprintf (stderr, "attune: %s: unknown subcommand '%s'\n", group, clean);
            free (clean);
            s_group_usage (group, stderr);
            return CLI_EXIT_USAGE;
        }
        skip = 2;
    } else
        for (size_t i = 0; i < s_count; i++)
            if (streq (s_table[i]->group, group))
                command = s_table[i];
    cli_args_t args;
    int rc = cli_args_parse (client, command, argc - skip, argv + skip, &args);
    if (rc < 0)
        rc = command->fn (client, &args);
    free (args.pos);
    return rc;
}

//  ---------------------------------------------------------------------------
//  main, in steps

//  Defaults before the options: $ATTUNE_API, $ATTUNE_IDENTITY or the login.
static void
s_defaults (cli_t *client)
{
    client->endpoint = getenv ("ATTUNE_API");
    if (!client->endpoint || !*client->endpoint)
        client->endpoint = CLI_DEFAULT_API;
    client->timeout_ms = CLI_DEFAULT_MS;
    const char *st2 = getenv ("ATTUNE_ST2_STATUS");
    client->st2_status = st2 && *st2 && !streq (st2, "0");
    cli_st2_status_enable (client->st2_status);
    client->identity = getenv ("ATTUNE_IDENTITY");
    if (!client->identity || !*client->identity) {
        struct passwd *pw = getpwuid (getuid ());
        client->identity = pw && pw->pw_name && *pw->pw_name ? pw->pw_name : NULL;
    }
}

//  --api, --timeout or --as with its value. -1 to go on, or the exit code.
static int
s_value_option (cli_t *client, const char *name, const char *value)
{
    if (!value) {
        fprintf (stderr, "attune: %s needs a value\n", name);
        return CLI_EXIT_USAGE;
    }
    long long ms;
    if (streq (name, "--as")) {
        if (!*value || strlen (value) > 256 ||
            !proto_utf8_valid (value, strlen (value))) {
            fprintf (stderr, "attune: --as: an identity of 1 to 256 bytes of UTF-8\n");
            return CLI_EXIT_USAGE;
        }
        client->identity = value;
    } else if (streq (name, "--api"))
        client->endpoint = value;
    else if (cli_parse_long (value, 1, 3600000, &ms))
        client->timeout_ms = (int)ms;
    else {
        fprintf (stderr,
                 "attune: --timeout: '%s' is not a number of milliseconds (1..3600000)\n",
                 value);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

//  The global option at argv[*i] (moving *i past its value). -1 to go on, or
//  the exit code.
static int
s_global_option (cli_t *client, int argc, char *argv[], int *i)
{
    const char *arg = argv[*i];
    size_t name_len = strcspn (arg, "=");
    const char *value = arg[name_len] == '=' ? arg + name_len + 1 : NULL;
    static const char *const valued[] = {"--api", "--timeout", "--as", "--cert",
                                         "--server-cert"};
    const char *name = NULL;
    for (size_t v = 0; v < sizeof valued / sizeof valued[0]; v++)
        if (strlen (valued[v]) == name_len && strncmp (arg, valued[v], name_len) == 0)
            name = valued[v];
    if (streq (arg, "--help") || streq (arg, "-h")) {
        s_usage (stdout);
        return CLI_EXIT_OK;
    }
    if (streq (arg, "--json")) {
        client->json = true;
        return -1;
    }
    if (streq (arg, "--st2-status")) {
        client->st2_status = true;
        cli_st2_status_enable (true);
        return -1;
    }
    if (!name) {
        char *clean = cli_clean (arg, CLI_CELL_MAX);
        fprintf (stderr, "attune: unknown option '%s'\n(see attune --help)\n", clean);
        free (clean);
        return CLI_EXIT_USAGE;
    }
    if (!value && *i + 1 < argc)
        value = argv[++*i];
    if (!streq (name, "--cert") && !streq (name, "--server-cert"))
        return s_value_option (client, name, value);
    if (!value || !*value) {
        fprintf (stderr, "attune: %s needs a file\n", name);
        return CLI_EXIT_USAGE;
    }
    if (streq (name, "--cert"))
        client->cert = value;
    else
        client->server_cert = value;
    return -1;
}

//  The api endpoint: tcp:// or ipc://. -1 to go on, or the exit code.
static int
s_check_endpoint (cli_t *client)
{
    if ((strncmp (client->endpoint, "tcp://", 6) != 0 &&
         strncmp (client->endpoint, "ipc://", 6) != 0) ||
        strlen (client->endpoint) < 8 || strlen (client->endpoint) > 1024) {
        char *clean = cli_clean (client->endpoint, CLI_CELL_MAX);
        fprintf (stderr,
                 "attune: the api endpoint '%s' is not tcp://HOST:PORT or ipc://PATH\n",
                 clean);
        free (clean);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

//  CURVE to the api: both keys, or neither (keygen needs none). -1 to go
//  on, or the exit code.
static int
s_curve (cli_t *client, bool keygen)
{
    if (!client->cert)
        client->cert = getenv ("ATTUNE_CERT");
    if (!client->server_cert)
        client->server_cert = getenv ("ATTUNE_SERVER_CERT");
    if (client->cert && !*client->cert)
        client->cert = NULL;
    if (client->server_cert && !*client->server_cert)
        client->server_cert = NULL;
    if (keygen || (!client->cert && !client->server_cert))
        return -1;
    if (!client->cert || !client->server_cert) {
        fprintf (stderr,
                 "attune: %s: CURVE needs both your secret cert (--cert, "
                 "$ATTUNE_CERT) and the api's public cert (--server-cert, "
                 "$ATTUNE_SERVER_CERT)\n",
                 client->cert ? "--server-cert missing" : "--cert missing");
        return CLI_EXIT_USAGE;
    }
    char message[512];
    bus_security_config_t security = {
        .cert = client->cert, .server = client->server_cert, .mode = BUS_SECURITY_ALWAYS};
    if (bus_security_configure (&security, message, sizeof message) != 0) {
        fprintf (stderr, "attune: %s\n", message);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

//  A source name for the envelopes: attune@HOST
static void
s_source (cli_t *client)
{
    char host[128] = "";
    if (gethostname (host, sizeof host - 1) != 0 || !*host)
        snprintf (host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    for (char *p = host; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            *p = '_';
    snprintf (client->source, sizeof client->source, "attune@%s", host);
}

int
main (int argc, char *argv[])
{
    cli_t client = {0};
    s_table_init ();
    s_defaults (&client);
    int rc = -1, i = 1;
    for (; rc < 0 && i < argc && argv[i][0] == '-' && argv[i][1]; i++)
        rc = s_global_option (&client, argc, argv, &i);
    if (rc < 0)
        rc = s_check_endpoint (&client);
    if (rc < 0)
        rc = s_curve (&client, i < argc && (streq (argv[i], "keygen") ||
                                            streq (argv[i], "apikey")));
    if (rc >= 0)
        return rc;
    //  Ctrl-C ends the program at once (no CZMQ handler)
    zsys_handler_set (NULL);
    s_source (&client);
    rc = s_dispatch (&client, argc - i, argv + i);
    fflush (stdout);
    bus_client_destroy (&client.api);
    bus_security_shutdown ();
    free (client.message);
    return rc;
}
