/*  attune_cli_event: event publish/list/get/re-emit, also spelled as
    StackStorm's `trigger-instance list|get|re-emit`.
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
static void
s_show_event_record (const json_t *result)
{
    static const char *const first[] = {"event",   "trigger", "ts", "trigger_parameters",
                                        "payload", NULL};
    cli_show_definition (result, first);
}

static int
s_cmd_event_get (cli_t *client, cli_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!cli_id_arg (args, 0, id))
        return CLI_EXIT_USAGE;
    return cli_simple (client, "api.event.get", json_pack ("{s:s}", "id", id),
                       s_show_event_record);
}

//  StackStorm's re-emit: the event's trigger, parameters and payload
//  published again as a new event
static int
s_cmd_event_reemit (cli_t *client, cli_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!cli_id_arg (args, 0, id))
        return CLI_EXIT_USAGE;
    json_t *event = cli_request (client, "api.event.get", json_pack ("{s:s}", "id", id));
    if (!event)
        return cli_report (client);
    json_t *payload =
        json_pack ("{s:O, s:O}", "trigger", json_object_get (event, "trigger"), "payload",
                   json_object_get (event, "payload"));
    json_t *tparams = json_object_get (event, "trigger_parameters");
    if (payload && json_object_size (tparams))
        json_object_set (payload, "trigger_parameters", tparams);
    json_decref (event);
    if (!payload) {
        cli_fail (client, "invalid", "event %s has no trigger or payload", id);
        return cli_report (client);
    }
    return cli_simple (client, "api.event.publish", payload, s_show_event);
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
    {"event", "get", "ID", "Show an event (a trigger instance).", cli_no_options, 1, 1,
     s_cmd_event_get},
    {"event", "re-emit", "ID",
     "Publish an event's trigger and payload again as a new event; prints its id.",
     cli_no_options, 1, 1, s_cmd_event_reemit},
    {"trigger-instance", "list", "[--trigger T] [--limit N] [--before ID]",
     "StackStorm's name for event list.", s_event_list_options, 0, 0, s_cmd_event_list},
    {"trigger-instance", "get", "ID", "StackStorm's name for event get.", cli_no_options,
     1, 1, s_cmd_event_get},
    {"trigger-instance", "re-emit", "ID", "StackStorm's name for event re-emit.",
     cli_no_options, 1, 1, s_cmd_event_reemit},
    {NULL}};
