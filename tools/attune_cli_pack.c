/*  attune_cli_pack: packs: list, get, install, remove, reload (the
    registry's, through the api) and setup-venv (local).

    attune pack install PATH|GIT-URL [--ref REF]
    attune pack remove PACK
    attune pack reload [PACK]
    attune pack list | get PACK
    attune pack setup-venv PACK [--packs DIR] [--data DIR]

    install, remove and reload run in the registry, which owns the packs
    directory (PROTOCOL.md, "Packs managed while running"); a local PATH is
    sent as an absolute path. setup-venv makes <data>/virtualenvs/PACK
    (actors/pack/pack_venv.h) without a daemon.
*/
#include "tools/attune_cli.h"
#include "actors/pack/pack_venv.h"

#include <sys/stat.h>
#include <unistd.h>

//  An install waits for git and pip, which the registry bounds
#define S_INSTALL_MS 300000

static const cli_column_t s_pack_columns[] = {
    {"REF", "ref"}, {"VERSION", "version"}, {"DESCRIPTION", "description"}, {NULL}};

static void
s_show_pack_list (const json_t *result)
{
    cli_table_print (json_object_get (result, "items"), s_pack_columns, NULL);
}

static int
s_cmd_pack_list (cli_t *client, cli_args_t *args)
{
    return cli_list (client, "api.pack.list", json_object (), "after", 0,
                     s_show_pack_list);
}

static void
s_show_pack (const json_t *result)
{
    static const char *const first[] = {"ref", "name", "version", "description", NULL};
    cli_show_definition (result, first);
}

static int
s_cmd_pack_get (cli_t *client, cli_args_t *args)
{
    json_t *payload = cli_name_payload (args, 0, "ref");
    return payload ? cli_simple (client, "api.pack.get", payload, s_show_pack)
                   : CLI_EXIT_USAGE;
}

//  What an install, remove or reload changed
static void
s_show_change (const json_t *result)
{
    static const char *const first[] = {"pack", "version", "updated", "deleted", NULL};
    cli_show_definition (result, first);
}

static int
s_cmd_pack_install (cli_t *client, cli_args_t *args)
{
    const char *source = args->pos[0];
    char absolute[PATH_MAX];
    //  A local path goes as an absolute one: the registry runs elsewhere
    bool local = !strstr (source, "://") && !strchr (source, '@') && source[0] != '/';
    size_t n = strlen (source);
    if (local && !(n > 4 && streq (source + n - 4, ".git")) && !cli_opt (args, "--ref")) {
        if (!realpath (source, absolute)) {
            cli_fail (client, "not_found", "%s: %s (a pack directory or a git URL)",
                      source, strerror (errno));
            return cli_report (client);
        }
        source = absolute;
    }
    json_t *payload = json_pack ("{s:s}", "source", source);
    if (cli_opt (args, "--ref"))
        json_object_set_new (payload, "ref", json_string (cli_opt (args, "--ref")));
    if (client->timeout_ms < S_INSTALL_MS)
        client->timeout_ms = S_INSTALL_MS;
    return cli_simple (client, "api.pack.install", payload, s_show_change);
}

static int
s_cmd_pack_remove (cli_t *client, cli_args_t *args)
{
    json_t *payload = cli_name_payload (args, 0, "ref");
    return payload ? cli_simple (client, "api.pack.remove", payload, s_show_change)
                   : CLI_EXIT_USAGE;
}

static int
s_cmd_pack_reload (cli_t *client, cli_args_t *args)
{
    json_t *payload = args->npos > 0 ? cli_name_payload (args, 0, "ref") : json_object ();
    return payload ? cli_simple (client, "api.pack.reload", payload, s_show_change)
                   : CLI_EXIT_USAGE;
}

static int
s_cmd_setup_venv (cli_t *client, cli_args_t *args)
{
    const char *pack = args->pos[0];
    const char *packs = cli_opt (args, "--packs") ?: getenv ("ATTUNE_PACKS") ?: "./packs";
    const char *data = cli_opt (args, "--data") ?: getenv ("ATTUNE_DATA") ?: "./var/attune";
    if (!*pack || strchr (pack, '/') || strstr (pack, "..")) {
        cli_fail (client, "bad_request", "'%s' is not a pack name", pack);
        return cli_report (client);
    }
    char pack_dir[PATH_MAX], venv[PATH_MAX + 300], message[2048];
    snprintf (pack_dir, sizeof pack_dir, "%s/%s", packs, pack);
    struct stat st;
    if (stat (pack_dir, &st) != 0) {
        cli_fail (client, "not_found", "no pack %s in %s", pack, packs);
        return cli_report (client);
    }
    bool requirements = false;
    if (pack_venv_setup (pack_dir, pack, data, NULL, venv, sizeof venv, &requirements,
                         message, sizeof message) != 0) {
        cli_fail (client, "failed", "%s", message);
        return cli_report (client);
    }
    if (client->json)
        printf ("{\"pack\": \"%s\", \"virtualenv\": \"%s\", \"requirements\": %s}\n",
                pack, venv, requirements ? "true" : "false");
    else
        printf ("%s: virtualenv %s ready%s\n", pack, venv,
                requirements ? " (requirements.txt installed)" : "");
    return 0;
}

static const cli_option_t s_venv_options[] = {
    {"--packs", "DIR", "the packs directory (default $ATTUNE_PACKS or ./packs)"},
    {"--data", "DIR", "attuned's data directory (default $ATTUNE_DATA or ./var/attune)"},
    {NULL}};
static const cli_option_t s_install_options[] = {
    {"--ref", "REF", "the git branch, tag or commit to check out (a git source)"},
    {NULL}};

const cli_command_t cli_pack_commands[] = {
    {"pack", "list", "", "List the packs loaded, with their versions.", cli_no_options, 0,
     0, s_cmd_pack_list},
    {"pack", "get", "PACK",
     "Show a pack: version, description, and what loading it skipped.", cli_no_options, 1,
     1, s_cmd_pack_get},
    {"pack", "install", "PATH|GIT-URL [--ref REF]",
     "Install a pack into the daemon's packs directory from a local directory or\n"
     "a git repository (cloned with the system's git; --ref a branch, tag or\n"
     "commit), set up its virtualenv when it has a requirements.txt, and load\n"
     "it without a restart.",
     s_install_options, 1, 1, s_cmd_pack_install},
    {"pack", "remove", "PACK",
     "Unload a pack and delete it from the packs directory. Queued executions\n"
     "of its actions end failed; running ones finish.",
     cli_no_options, 1, 1, s_cmd_pack_remove},
    {"pack", "reload", "[PACK]",
     "Read the pack (or every pack) from disk again and apply the added,\n"
     "changed and removed definitions without a restart.",
     cli_no_options, 0, 1, s_cmd_pack_reload},
    {"pack", "setup-venv", "PACK [--packs DIR] [--data DIR]",
     "Make the pack's Python virtualenv, DATA/virtualenvs/PACK (with the\n"
     "system's site-packages), and install its requirements.txt from local\n"
     "paths only (no network). The worker runs the pack's python-script\n"
     "actions with it.",
     s_venv_options, 1, 1, s_cmd_setup_venv},
    {NULL}};
