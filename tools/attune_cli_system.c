/*  attune_cli_system: worker list, status, backup.
*/
#include "tools/attune_cli.h"

#include <limits.h>
#include <unistd.h>

#define S_BACKUP_MS (10 * 60 * 1000) //  attune backup waits at least this long

//  "shell,python"
static char *
s_runtimes_cell (const char *key, const json_t *item)
{
    char *runtimes = NULL;
    size_t r;
    const json_t *runtime;
    json_array_foreach (json_object_get (item, "runtimes"), r, runtime)
    {
        char *more = zsys_sprintf (
            "%s%s%s", runtimes ? runtimes : "", runtimes ? "," : "",
            json_string_value (runtime) ? json_string_value (runtime) : "?");
        zstr_free (&runtimes);
        runtimes = more;
    }
    return runtimes ? runtimes : strdup ("-");
}

static char *
s_alive_cell (const char *key, const json_t *item)
{
    const json_t *alive = json_object_get (item, "alive");
    bool draining = json_is_true (json_object_get (item, "draining"));
    return strdup (!json_is_boolean (alive) ? "-"
                   : !json_is_true (alive)  ? "no"
                   : draining               ? "draining"
                                            : "yes");
}

static const cli_column_t s_worker_columns[] = {
    {"WORKER", "worker"},
    {"RUNTIMES", NULL, 0, s_runtimes_cell},
    {"SLOTS", "slots"},
    {"BUSY", "busy"},
    {"ALIVE", NULL, 0, s_alive_cell},
    {"LAST-HEARTBEAT", "last_heartbeat", CLI_CELL_TIME},
    {NULL}};

static void
s_show_worker_list (const json_t *result)
{
    cli_table_print (json_object_get (result, "items"), s_worker_columns, NULL);
}

static int
s_cmd_worker_list (cli_t *client, cli_args_t *args)
{
    return cli_list (client, "api.worker.list", json_object (), "after", 0,
                     s_show_worker_list);
}

//  "key=value key=value" of an object's members, without `skip`.
static char *
s_counters (const json_t *object, const char *skip)
{
    char *text = NULL;
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)object, key, value)
    {
        if (skip && streq (key, skip))
            continue;
        char *shown = cli_json_text (value);
        char *more =
            zsys_sprintf ("%s%s%s=%s", text ? text : "", text ? " " : "", key, shown);
        free (shown);
        zstr_free (&text);
        text = more;
    }
    return text ? text : strdup ("");
}

static char *
s_up_cell (const char *key, const json_t *actor)
{
    const json_t *up = json_object_get (actor, "up");
    return strdup (json_is_boolean (up) ? (json_is_true (up) ? "yes" : "no") : "-");
}

static char *
s_details_cell (const char *key, const json_t *actor)
{
    return s_counters (actor, "up"); //  may be long: not clipped
}

static const cli_column_t s_actor_columns[] = {
    {"ACTOR", ""},
    {"UP", NULL, 0, s_up_cell},
    {"DETAILS", NULL, CLI_CELL_WHOLE, s_details_cell},
    {NULL}};

static void
s_show_status (const json_t *result)
{
    const json_t *api = json_object_get (result, "api");
    char *counters = s_counters (api, NULL);
    char *line = cli_clean (counters, 0);
    printf ("api:  %s\n", line);
    free (line);
    zstr_free (&counters);
    printf ("\n");
    cli_table_print (json_object_get (result, "actors"), s_actor_columns, NULL);
}

//  --prometheus: api.metrics's text as it is (what GET /metrics serves)
static int
s_cmd_status (cli_t *client, cli_args_t *args)
{
    if (!cli_opt (args, "--prometheus"))
        return cli_simple (client, "api.status", NULL, s_show_status);
    json_t *result = cli_request (client, "api.metrics", NULL);
    if (!result)
        return cli_report (client);
    if (client->json)
        cli_print_json (result);
    else
        fputs (cli_str (result, "text") ? cli_str (result, "text") : "", stdout);
    json_decref (result);
    return CLI_EXIT_OK;
}

static const cli_option_t s_status_options[] = {
    {"--prometheus", NULL,
     "Print the metrics of every actor in Prometheus's text format (api.metrics)."},
    {NULL}};

static const cli_column_t s_store_columns[] = {{"ORDER", "order"},   {"STORE", "store"},
                                               {"FORMAT", "format"}, {"BYTES", "size"},
                                               {"MS", "took_ms"},    {NULL}};

static void
s_show_backup (const json_t *result)
{
    cli_table_print (json_object_get (result, "stores"), s_store_columns, NULL);
    printf ("\nmanifest: %s/manifest.json\n",
            json_string_value (json_object_get (result, "dir"))
                ? json_string_value (json_object_get (result, "dir"))
                : ".");
}

//  The copy is made by the daemon, on its host: DIR is a path there (a
//  relative one is taken from here, for a daemon on this host).
static int
s_cmd_backup (cli_t *client, cli_args_t *args)
{
    char dir[2 * PATH_MAX + 2], cwd[PATH_MAX];
    const char *given = args->pos[0];
    if (given[0] != '/' && getcwd (cwd, sizeof cwd))
        snprintf (dir, sizeof dir, "%s/%s", cwd, given);
    else
        snprintf (dir, sizeof dir, "%s", given);
    if (client->timeout_ms < S_BACKUP_MS)
        client->timeout_ms = S_BACKUP_MS; //  a copy of each store takes a while
    json_t *result = cli_request (client, "api.backup", json_pack ("{s:s}", "dir", dir));
    if (!result)
        return cli_report (client);
    json_object_set_new (result, "dir", json_string (dir));
    if (client->json)
        cli_print_json (result);
    else
        s_show_backup (result);
    json_decref (result);
    return CLI_EXIT_OK;
}

const cli_command_t cli_system_commands[] = {
    {"backup", NULL, "DIR",
     "Copy every store of the running daemon to DIR (new or empty, on the "
     "daemon's host), with a manifest; `attuned --data DIR` runs from it.",
     cli_no_options, 1, 1, s_cmd_backup},
    {"worker", "list", "", "List the workers the executor knows.", cli_no_options, 0, 0,
     s_cmd_worker_list},
    {"status", NULL, "", "Show whether the actors are up, and the api's counters.",
     s_status_options, 0, 0, s_cmd_status},
    {NULL}};
