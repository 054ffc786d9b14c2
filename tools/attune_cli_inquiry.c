/*  attune_cli_inquiry: inquiry list/get/respond: the questions executions wait on.
*/
#include "tools/attune_cli.h"

static char *
s_assigned_cell (const char *key, const json_t *item)
{
    const json_t *assigned = json_object_get (item, "assigned_to");
    return json_array_size (assigned) ? cli_json_text (assigned) : strdup ("anyone");
}

static const cli_column_t s_inquiry_columns[] = {{"ID", "id"},
                                                 {"ACTION", "action"},
                                                 {"STATUS", "status"},
                                                 {"ASSIGNED", NULL, 0, s_assigned_cell},
                                                 {"DEADLINE", "deadline", CLI_CELL_TIME},
                                                 {"PROMPT", "prompt"},
                                                 {NULL}};

static void
s_show_inquiry_list (const json_t *result)
{
    cli_table_print (json_object_get (result, "items"), s_inquiry_columns, NULL);
}

static void
s_show_inquiry (const json_t *inquiry)
{
    cli_prop_json ("id", json_object_get (inquiry, "id"));
    cli_prop_json ("execution", json_object_get (inquiry, "execution"));
    cli_prop_json ("action", json_object_get (inquiry, "action"));
    const char *status = cli_str (inquiry, "status");
    cli_prop ("status", status ? status : "?");
    cli_prop_json ("prompt", json_object_get (inquiry, "prompt"));
    const json_t *assigned = json_object_get (inquiry, "assigned_to");
    if (json_array_size (assigned))
        cli_prop_json ("assigned_to", assigned);
    else
        cli_prop ("assigned_to", "anyone");
    cli_prop_json ("response_schema", json_object_get (inquiry, "schema"));
    cli_prop_time ("created", cli_int (inquiry, "created"));
    int64_t deadline = cli_int (inquiry, "deadline");
    if (status && streq (status, "pending")) {
        char left[64], when[64];
        cli_format_duration ((double)(deadline - zclock_time () * 1000) / 1e6, left,
                             sizeof left);
        cli_format_time (deadline, true, when, sizeof when);
        char *line = zsys_sprintf ("%s (in %s)", when, left);
        cli_prop ("deadline", line);
        zstr_free (&line);
    } else
        cli_prop_time ("deadline", deadline);
    const json_t *response = json_object_get (inquiry, "response");
    if (response && !json_is_null (response)) {
        cli_prop_json ("response", response);
        const json_t *responder = json_object_get (inquiry, "responder");
        if (responder && !json_is_null (responder))
            cli_prop_json ("responder", responder);
        cli_prop_time ("responded", cli_int (inquiry, "responded"));
    } else if (cli_int (inquiry, "ended") > 0)
        cli_prop_time ("ended", cli_int (inquiry, "ended"));
}

static int
s_cmd_inquiry_list (cli_t *client, cli_args_t *args)
{
    json_t *payload = json_object ();
    size_t total;
    int rc = cli_paging (args, payload, &total);
    if (!rc)
        rc = cli_string_opt (args, "--status", payload, "status");
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return cli_list (client, "api.inquiry.list", payload, "before", total,
                     s_show_inquiry_list);
}

static int
s_cmd_inquiry_get (cli_t *client, cli_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!cli_id_arg (args, 0, id))
        return CLI_EXIT_USAGE;
    return cli_simple (client, "api.inquiry.get", json_pack ("{s:s}", "id", id),
                       s_show_inquiry);
}

static int
s_cmd_inquiry_respond (cli_t *client, cli_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!cli_id_arg (args, 0, id))
        return CLI_EXIT_USAGE;
    json_error_t error;
    json_t *response =
        json_loads (args->pos[1], JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (!response)
        return cli_usage_error (args->command, "the response is not JSON: %s (column %d)",
                                error.text, error.column);
    json_t *payload = json_pack ("{s:s, s:o}", "id", id, "response", response);
    if (client->identity)
        json_object_set_new (payload, "identity", json_string (client->identity));
    json_t *result = cli_request (client, "api.inquiry.respond", payload);
    if (!result)
        return cli_report (client);
    if (client->json)
        cli_print_json (result);
    else {
        //  As the api recorded it (with CURVE, the identity of the key)
        const char *who = json_string_value (json_object_get (result, "responder"));
        printf ("%s: responded%s%s\n", id, who ? " as " : "", who ? who : "");
    }
    json_decref (result);
    return CLI_EXIT_OK;
}
static const cli_option_t s_inquiry_list_options[] = {
    {"--status", "S",
     "only inquiries in status S (pending, responded, timeout, cancelled)"},
    {"--limit", "N", "at most N inquiries, over as many pages as needed (default 100)"},
    {"--before", "ID", "the page after inquiry ID"},
    {NULL}};

const cli_command_t cli_inquiry_commands[] = {
    {"inquiry", "list", "[--status S] [--limit N] [--before ID]",
     "List inquiries (questions executions wait on), newest first.",
     s_inquiry_list_options, 0, 0, s_cmd_inquiry_list},
    {"inquiry", "get", "ID",
     "Show an inquiry: prompt, assignee, schema, deadline, response.", cli_no_options, 1,
     1, s_cmd_inquiry_get},
    {"inquiry", "respond", "ID JSON",
     "Answer a pending inquiry with a JSON value that fits its response schema\n"
     "(attune --as NAME, or $ATTUNE_IDENTITY, says who you are; default: your\n"
     "login name). Its execution completes with the response in its result.",
     cli_no_options, 2, 2, s_cmd_inquiry_respond},
    {NULL}};
