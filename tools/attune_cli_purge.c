/*  attune_cli_purge: purge executions, events or inquiries older than a
    duration, on demand (api.purge; the daemon's TTLs do it on their own).
*/
#include "tools/attune_cli.h"
#include "actors/actor_retention.h"

#define S_PURGE_MS (60 * 60 * 1000) //  a purge is answered when done: waits this long

//  --status a,b (StackStorm's succeeded and canceled taken too) as a list;
//  NULL after a usage error.
static json_t *
s_statuses (cli_args_t *args, const char *given)
{
    json_t *list = json_array ();
    char *copy = strdup (given), *save = NULL;
    for (char *name = strtok_r (copy, ",", &save); name;
         name = strtok_r (NULL, ",", &save)) {
        const char *status = streq (name, "succeeded")  ? "completed"
                             : streq (name, "canceled") ? "cancelled"
                                                        : name;
        json_array_append_new (list, json_string (status));
    }
    free (copy);
    if (json_array_size (list) == 0) {
        json_decref (list);
        cli_usage_error (args->command, "--status: a comma-separated list of statuses");
        return NULL;
    }
    return list;
}

static void
s_show (const json_t *result)
{
    printf ("%" JSON_INTEGER_FORMAT " %s purged",
            json_integer_value (json_object_get (result, "removed")),
            json_string_value (json_object_get (result, "kind")));
    if (json_object_get (result, "enforcements"))
        printf (" (%" JSON_INTEGER_FORMAT " events, %" JSON_INTEGER_FORMAT
                " enforcements)",
                json_integer_value (json_object_get (result, "events")),
                json_integer_value (json_object_get (result, "enforcements")));
    printf (" in %" JSON_INTEGER_FORMAT " ms\n",
            json_integer_value (json_object_get (result, "took_ms")));
}

static int
s_purge (cli_t *client, cli_args_t *args, const char *kind)
{
    const char *older = cli_opt (args, "--older-than");
    bool executions = streq (kind, "executions"); //  the only kind with filters
    const char *status = executions ? cli_opt (args, "--status") : NULL;
    const char *action = executions ? cli_opt (args, "--action") : NULL;
    char error[256];
    int64_t seconds;
    if (!older)
        return cli_usage_error (args->command, "--older-than: required (30d, 12h, 90m)");
    if (actor_duration_parse (older, &seconds, error, sizeof error) != 0)
        return cli_usage_error (args->command, "--older-than: %s", error);
    json_t *payload =
        json_pack ("{s:s, s:I}", "kind", kind, "older_than", (json_int_t)seconds);
    if (status) {
        json_t *list = s_statuses (args, status);
        if (!list) {
            json_decref (payload);
            return 2;
        }
        json_object_set_new (payload, "status", list);
    }
    if (action)
        json_object_set_new (payload, "action", json_string (action));
    if (client->timeout_ms < S_PURGE_MS)
        client->timeout_ms = S_PURGE_MS;
    return cli_simple (client, "api.purge", payload, s_show);
}

static int
s_cmd_executions (cli_t *client, cli_args_t *args)
{
    return s_purge (client, args, "executions");
}

static int
s_cmd_events (cli_t *client, cli_args_t *args)
{
    return s_purge (client, args, "events");
}

static int
s_cmd_inquiries (cli_t *client, cli_args_t *args)
{
    return s_purge (client, args, "inquiries");
}

static const cli_option_t s_executions_options[] = {
    {"--older-than", "D", "ended more than D ago (30d, 12h, 90m, 45s)"},
    {"--status", "S",
     "only these final statuses, comma-separated (completed, failed, "
     "timeout, cancelled, abandoned)"},
    {"--action", "A", "only executions of action A"},
    {NULL}};
static const cli_option_t s_older_options[] = {
    {"--older-than", "D", "stored (closed) more than D ago (30d, 12h, 90m, 45s)"},
    {NULL}};

const cli_command_t cli_purge_commands[] = {
    {"purge", "executions", "--older-than D [--status S,...] [--action A]",
     "Delete ended executions older than D (with their inquiries and late\n"
     "reports); never one still running, queued or waiting. Admins only.\n"
     "Answers with the count once done.",
     s_executions_options, 0, 0, s_cmd_executions},
    {"purge", "events", "--older-than D",
     "Delete events and enforcements (trigger instances) older than D. Admins only.",
     s_older_options, 0, 0, s_cmd_events},
    {"purge", "inquiries", "--older-than D",
     "Delete inquiries answered, timed out or cancelled more than D ago. Admins only.",
     s_older_options, 0, 0, s_cmd_inquiries},
    {NULL}};
