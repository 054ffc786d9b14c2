/*  attune_cli_event: event publish/list.
*/
#include "tools/attune_cli.h"

static void
s_show_event (const json_t *result)
{
    const char *event = cli_str (result, "event");
    printf ("%s\n", event ? event : "?");
}

static int
s_cmd_event_publish (cli_t *client, cli_args_t *args)
{
    json_error_t error;
    json_t *body = json_loads (args->pos[1], JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object (body)) {
        json_decref (body);
        return cli_usage_error (args->command, "the payload must be a JSON object%s%s",
                                body ? "" : ": ", body ? "" : error.text);
    }
    json_t *payload = cli_name_payload (args, 0, "trigger");
    if (!payload) {
        json_decref (body);
        return CLI_EXIT_USAGE;
    }
    json_object_set_new (payload, "payload", body);
    return cli_simple (client, "api.event.publish", payload, s_show_event);
}

static const cli_column_t s_event_columns[] = {{"ID", "event"},
                                               {"TRIGGER", "trigger"},
                                               {"TIME", "ts", CLI_CELL_TIME},
                                               {"PAYLOAD", "payload"},
                                               {NULL}};

static void
s_show_event_list (const json_t *result)
{
    cli_table_print (json_object_get (result, "items"), s_event_columns, NULL);
}

static int
s_cmd_event_list (cli_t *client, cli_args_t *args)
{
    json_t *payload = json_object ();
    size_t total;
    int rc = cli_paging (args, payload, &total);
    if (!rc)
        rc = cli_string_opt (args, "--trigger", payload, "trigger");
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return cli_list (client, "api.event.list", payload, "before", total,
                     s_show_event_list);
}
static const cli_option_t s_event_list_options[] = {
    {"--trigger", "T", "only events of trigger T"},
    {"--limit", "N", "at most N events, over as many pages as needed (default 100)"},
    {"--before", "ID", "the page after event ID"},
    {NULL}};

const cli_command_t cli_event_commands[] = {
    {"event", "publish", "TRIGGER JSON",
     "Publish an event of TRIGGER with the JSON object as its payload; prints its id.",
     cli_no_options, 2, 2, s_cmd_event_publish},
    {"event", "list", "[--trigger T] [--limit N] [--before ID]",
     "List events, newest first.", s_event_list_options, 0, 0, s_cmd_event_list},
    {NULL}};
