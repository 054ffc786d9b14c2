/*  attune_cli_execution: run, execution list/get/tail/cancel/rerun.
*/
#include "tools/attune_cli.h"

static void
s_show_execution_id (const json_t *result)
{
    const char *id = cli_str (result, "execution");
    printf ("%s\n", id ? id : "?");
}

//  run ACTION [key=value ...] and rerun ID [key=value ...]
static int
s_start_execution (cli_t *client, cli_args_t *args, const char *type, json_t *payload)
{
    bool wait = cli_opt (args, "--wait") != NULL;
    double wait_s = 0;
    const char *timeout = cli_opt (args, "--timeout");
    if (timeout && !cli_parse_seconds (timeout, &wait_s)) {
        json_decref (payload);
        return cli_usage_error (args->command,
                                "--timeout: '%s' is not a number of seconds", timeout);
    }
    if (timeout && !wait) {
        json_decref (payload);
        return cli_usage_error (args->command, "--timeout is for --wait");
    }
    json_t *parameters =
        cli_parse_parameters (args->command, args->pos + 1, args->npos - 1);
    if (!parameters) {
        json_decref (payload);
        return CLI_EXIT_USAGE;
    }
    if (json_object_size (parameters) || streq (type, "api.execution.run"))
        json_object_set_new (payload, "parameters", parameters);
    else
        json_decref (parameters);
    if (client->identity) //  who runs it, where the api trusts its clients
        json_object_set_new (payload, "identity", json_string (client->identity));
    json_t *result = cli_request (client, type, payload);
    if (!result)
        return cli_report (client);
    const char *id = cli_str (result, "execution");
    char canonical[PROTO_UUID_STR_SIZE];
    if (!cli_parse_id (id, canonical)) {
        json_decref (result);
        cli_fail (client, "bad_reply", "%s gave no execution id", type);
        return cli_report (client);
    }
    if (!wait) {
        if (client->json)
            cli_print_json (result);
        else
            s_show_execution_id (result);
        json_decref (result);
        return CLI_EXIT_OK;
    }
    json_decref (result);
    return cli_follow_done (
        client, cli_follow (client, canonical, false, (int64_t)(wait_s * 1000), NULL));
}

static int
s_cmd_run (cli_t *client, cli_args_t *args)
{
    json_t *payload = cli_name_payload (args, 0, "action");
    return payload ? s_start_execution (client, args, "api.execution.run", payload)
                   : CLI_EXIT_USAGE;
}

//  NAME[,NAME...] as a list of names; NULL when empty names are in it.
static json_t *
s_name_list (const char *text)
{
    json_t *list = json_array ();
    for (const char *at = text; list;) {
        const char *comma = strchr (at, ',');
        size_t size = comma ? (size_t)(comma - at) : strlen (at);
        if (size == 0)
            json_decref (list), list = NULL;
        else
            json_array_append_new (list, json_stringn (at, size));
        if (!comma)
            break;
        at = comma + 1;
    }
    return list;
}

//  --tasks A,B [--no-reset B]: StackStorm's re-run of a workflow from its
//  tasks; every with items task named is reset (all its items run again)
//  but those named by --no-reset (only the items that did not succeed). 0,
//  or the usage error's exit code.
static int
s_rerun_tasks (cli_args_t *args, json_t *payload)
{
    const char *tasks_text = cli_opt (args, "--tasks");
    const char *keep_text = cli_opt (args, "--no-reset");
    if (!tasks_text)
        return keep_text ? cli_usage_error (args->command, "--no-reset is for --tasks")
                         : 0;
    json_t *tasks = s_name_list (tasks_text);
    json_t *keep = keep_text ? s_name_list (keep_text) : json_array ();
    json_t *reset = json_array ();
    int rc = tasks && keep
                 ? 0
                 : cli_usage_error (args->command, "--tasks, --no-reset: NAME[,NAME...]");
    size_t i, k;
    json_t *name;
    json_array_foreach (keep, i, name)
    {
        bool among = false;
        for (k = 0; k < json_array_size (tasks); k++)
            among = among || json_equal (name, json_array_get (tasks, k));
        if (!among && !rc)
            rc = cli_usage_error (args->command, "--no-reset: '%s' is not in --tasks",
                                  json_string_value (name));
    }
    json_array_foreach (tasks, i, name)
    {
        bool kept = false;
        for (k = 0; k < json_array_size (keep); k++)
            kept = kept || json_equal (name, json_array_get (keep, k));
        if (!kept)
            json_array_append (reset, name);
    }
    if (!rc) {
        json_object_set (payload, "tasks", tasks);
        json_object_set (payload, "reset", reset);
    }
    json_decref (tasks);
    json_decref (keep);
    json_decref (reset);
    return rc;
}

static int
s_cmd_execution_rerun (cli_t *client, cli_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!cli_id_arg (args, 0, id))
        return CLI_EXIT_USAGE;
    json_t *payload = json_pack ("{s:s}", "id", id);
    int rc = s_rerun_tasks (args, payload);
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return s_start_execution (client, args, "api.execution.rerun", payload);
}

static char *
s_duration_cell (const char *key, const json_t *item)
{
    char duration[64];
    cli_execution_duration (item, duration, sizeof duration);
    return strdup (duration);
}

static const cli_column_t s_execution_columns[] = {
    {"ID", "id"},
    {"ACTION", "action"},
    {"STATUS", "status"},
    {"REQUESTED", "requested", CLI_CELL_TIME},
    {"DURATION", NULL, 0, s_duration_cell},
    {NULL}};

static void
s_show_execution_list (const json_t *result)
{
    cli_table_print (json_object_get (result, "items"), s_execution_columns, NULL);
}

static int
s_cmd_execution_list (cli_t *client, cli_args_t *args)
{
    json_t *payload = json_object ();
    size_t total;
    int rc = cli_paging (args, payload, &total);
    if (!rc)
        rc = cli_string_opt (args, "--status", payload, "status");
    if (!rc)
        rc = cli_string_opt (args, "--action", payload, "action");
    if (!rc)
        rc = cli_string_opt (args, "--rule", payload, "rule");
    if (!rc)
        rc = cli_string_opt (args, "--parent", payload, "parent");
    const char *times[] = {"--since", "--until"};
    for (size_t i = 0; !rc && i < 2; i++) {
        const char *text = cli_opt (args, times[i]);
        int64_t usec;
        if (text && !cli_parse_time (text, &usec))
            rc = cli_usage_error (args->command,
                                  "%s: '%s' is not a time (YYYY-MM-DD[ HH:MM[:SS]][Z], "
                                  "10m, 2h, 1d, now, or µs since the epoch)",
                                  times[i], text);
        else if (text)
            json_object_set_new (payload, times[i] + 2, json_integer (usec));
    }
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return cli_list (client, "api.execution.list", payload, "before", total,
                     s_show_execution_list);
}

static void
s_show_execution (const json_t *result)
{
    cli_print_execution (result);
}

#define S_TREE_DEPTH 16    //  levels of children shown, at most
#define S_TREE_MAX   10000 //  executions in one tree, at most

//  The children of `execution` under "children", oldest first, each with
//  its own (api.execution.children), to S_TREE_DEPTH levels and
//  S_TREE_MAX executions in all. 0, or -1 when a request failed.
static int
s_tree (cli_t *client, json_t *execution, int depth, size_t *count)
{
    json_t *children = json_array ();
    json_object_set_new (execution, "children", children);
    json_t *page = NULL;
    const char *before = NULL;
    do {
        json_t *payload = json_pack ("{s:s}", "id", cli_str (execution, "id"));
        if (before)
            json_object_set_new (payload, "before", json_string (before));
        json_decref (page);
        page = cli_request (client, "api.execution.children", payload);
        if (!page)
            return -1;
        size_t i;
        json_t *child;
        json_array_foreach (json_object_get (page, "items"), i, child)
        {
            if (++*count > S_TREE_MAX)
                break;
            json_array_insert (children, 0, child); //  newest first: reversed
        }
        before = cli_str (page, "next");
    } while (before && *before && *count <= S_TREE_MAX);
    json_decref (page);
    size_t i;
    json_t *child;
    json_array_foreach (children, i, child)
    {
        if (depth + 1 < S_TREE_DEPTH && s_tree (client, child, depth + 1, count) != 0)
            return -1;
    }
    return 0;
}

static void
s_print_tree (const json_t *children, int depth)
{
    size_t i;
    json_t *child;
    json_array_foreach (children, i, child)
    {
        char duration[64];
        cli_execution_duration (child, duration, sizeof duration);
        const char *task = cli_str (child, "task");
        const char *action = cli_str (child, "action");
        const char *status = cli_str (child, "status");
        const char *id = cli_str (child, "id");
        printf ("%*s%s %s %s %s %s\n", 2 + depth * 2, "", task && *task ? task : "-",
                action ? action : "?", status ? status : "?", id ? id : "?", duration);
        s_print_tree (json_object_get (child, "children"), depth + 1);
    }
}

static int
s_cmd_execution_get (cli_t *client, cli_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!cli_id_arg (args, 0, id))
        return CLI_EXIT_USAGE;
    json_t *payload = json_pack ("{s:s}", "id", id);
    if (cli_opt (args, "--show-secrets"))
        json_object_set_new (payload, "show_secrets", json_true ());
    if (!cli_opt (args, "--tree"))
        return cli_simple (client, "api.execution.get", payload, s_show_execution);
    json_t *execution = cli_request (client, "api.execution.get", payload);
    size_t count = 0;
    if (!execution || s_tree (client, execution, 0, &count) != 0) {
        json_decref (execution);
        return cli_report (client);
    }
    if (client->json)
        cli_print_json (execution);
    else {
        cli_print_execution (execution);
        printf ("tasks:\n");
        s_print_tree (json_object_get (execution, "children"), 0);
        if (count > S_TREE_MAX)
            printf ("  (only the first %d shown)\n", S_TREE_MAX);
    }
    json_decref (execution);
    return CLI_EXIT_OK;
}

static int
s_cmd_execution_tail (cli_t *client, cli_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!cli_id_arg (args, 0, id))
        return CLI_EXIT_USAGE;
    cli_output_t output = {client, id, 0, 0, false, false};
    return cli_follow_done (client, cli_follow (client, id, true, 0, &output));
}

static int
s_cmd_execution_cancel (cli_t *client, cli_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!cli_id_arg (args, 0, id))
        return CLI_EXIT_USAGE;
    json_t *result =
        cli_request (client, "api.execution.cancel", json_pack ("{s:s}", "id", id));
    if (!result)
        return cli_report (client);
    if (client->json)
        cli_print_json (result);
    else
        printf ("%s: cancel requested\n", id);
    json_decref (result);
    return CLI_EXIT_OK;
}

//  execution pause|resume ID: a workflow (its tasks running finish first).
static int
s_control (cli_t *client, cli_args_t *args, const char *what)
{
    char id[PROTO_UUID_STR_SIZE], type[64];
    if (!cli_id_arg (args, 0, id))
        return CLI_EXIT_USAGE;
    snprintf (type, sizeof type, "api.execution.%s", what);
    json_t *result = cli_request (client, type, json_pack ("{s:s}", "id", id));
    if (!result)
        return cli_report (client);
    if (client->json)
        cli_print_json (result);
    else
        printf ("%s: %s\n", id, cli_str (result, "status"));
    json_decref (result);
    return CLI_EXIT_OK;
}

static int
s_cmd_execution_pause (cli_t *client, cli_args_t *args)
{
    return s_control (client, args, "pause");
}

static int
s_cmd_execution_resume (cli_t *client, cli_args_t *args)
{
    return s_control (client, args, "resume");
}

static const cli_option_t s_run_options[] = {
    {"--wait", NULL, "follow the execution until it ends, then show its result"},
    {"--timeout", "S", "with --wait: give up after S seconds (exit 1)"},
    {NULL}};
static const cli_option_t s_rerun_options[] = {
    {"--wait", NULL, "follow the execution until it ends, then show its result"},
    {"--timeout", "S", "with --wait: give up after S seconds (exit 1)"},
    {"--tasks", "A,B", "a workflow: re-run from these tasks with the recorded context"},
    {"--no-reset", "A",
     "with --tasks: these with items tasks re-run only the items "
     "that did not succeed"},
    {NULL}};
static const cli_option_t s_get_options[] = {
    {"--tree", NULL, "with its children (a workflow's tasks), to any depth"},
    {"--show-secrets", NULL,
     "secret parameters in clear (admins; anyone else still sees ********)"},
    {NULL}};
static const cli_option_t s_execution_list_options[] = {
    {"--status", "S", "only executions in status S (running, completed, ...)"},
    {"--action", "A", "only executions of action A"},
    {"--rule", "R", "only executions enforced by rule R"},
    {"--parent", "ID", "only the children of execution ID (a workflow's tasks)"},
    {"--since", "T", "requested at or after T (YYYY-MM-DD[ HH:MM[:SS]][Z], 10m, 2h, 1d)"},
    {"--until", "T", "requested before T"},
    {"--limit", "N", "at most N executions, over as many pages as needed (default 100)"},
    {"--before", "ID", "the page after execution ID (the 'next' of a previous page)"},
    {NULL}};

const cli_command_t cli_execution_commands[] = {
    {"run", NULL, "ACTION [key=value ...] [--wait [--timeout S]]",
     "Run an action. Values that parse as JSON are JSON (n=3, flag=true,\n"
     "x='{\"a\":1}'), others are strings. Prints the execution id; with --wait,\n"
     "follows it and shows its result (exit 0 only if it completed).",
     s_run_options, 1, -1, s_cmd_run},
    {"execution", "list",
     "[--status S] [--action A] [--rule R] [--parent ID] [--since T] [--until T] "
     "[--limit N] [--before ID]",
     "List executions, newest first.", s_execution_list_options, 0, 0,
     s_cmd_execution_list},
    {"execution", "get", "ID [--tree] [--show-secrets]",
     "Show an execution: status, parameters, times, result; with --tree, its\n"
     "children too (a workflow's tasks, to any depth): task, action, status, id;\n"
     "with --show-secrets, secret parameters in clear (admins).",
     s_get_options, 1, 1, s_cmd_execution_get},
    {"execution", "tail", "ID",
     "Follow an execution: what it printed so far, then its output as it\n"
     "comes (stdout to stdout, stderr to stderr) and one line per status\n"
     "change, then its result (exit 0 only if it completed).",
     cli_no_options, 1, 1, s_cmd_execution_tail},
    {"execution", "cancel", "ID",
     "Cancel an execution: at once when it waits, else its process is terminated.",
     cli_no_options, 1, 1, s_cmd_execution_cancel},
    {"execution", "pause", "ID",
     "Pause a workflow: nothing new starts, its running tasks finish (pausing,\n"
     "then paused); it cascades to subworkflows.",
     cli_no_options, 1, 1, s_cmd_execution_pause},
    {"execution", "resume", "ID", "Resume a paused workflow (resuming, then running).",
     cli_no_options, 1, 1, s_cmd_execution_resume},
    {"execution", "rerun", "ID [key=value ...] [--tasks A,B [--no-reset A]] [--wait]",
     "Run an execution's action again, with its parameters and these over them;\n"
     "with --tasks, a workflow re-runs from those tasks with the context it\n"
     "recorded (StackStorm's re-run --tasks; the tasks after them run again).",
     s_rerun_options, 1, -1, s_cmd_execution_rerun},
    {NULL}};
