/*  attune_cli_action: action list/get/queue-stats, policy list/get: what the registry
    loaded from packs, and the executor's policy queues.
*/
#include "tools/attune_cli.h"

static const cli_column_t s_action_columns[] = {
    {"REF", "ref"}, {"RUNNER", "runner_type"}, {"DESCRIPTION", "description"}, {NULL}};

static void
s_show_action_list (const json_t *result)
{
    cli_table_print (json_object_get (result, "items"), s_action_columns, NULL);
}

static int
s_cmd_action_list (cli_t *client, cli_args_t *args)
{
    json_t *payload = json_object ();
    int rc = cli_string_opt (args, "--pack", payload, "pack");
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return cli_list (client, "api.action.list", payload, "after", 0, s_show_action_list);
}

static char *
s_required_cell (const char *key, const json_t *schema)
{
    return strdup (json_is_true (json_object_get (schema, "required")) ? "yes" : "no");
}

//  A secret's default is not shown
static char *
s_default_cell (const char *key, const json_t *schema)
{
    const json_t *value = json_object_get (schema, "default");
    if (json_is_true (json_object_get (schema, "secret")) && value)
        return strdup ("********");
    return cli_json_text (value);
}

static const cli_column_t s_parameter_columns[] = {{"NAME", ""},
                                                   {"TYPE", "type"},
                                                   {"REQUIRED", NULL, 0, s_required_cell},
                                                   {"DEFAULT", NULL, 0, s_default_cell},
                                                   {"DESCRIPTION", "description"},
                                                   {NULL}};

static void
s_show_action (const json_t *result)
{
    static const char *const first[] = {"ref",         "pack",        "name",
                                        "runner_type", "entry_point", "timeout",
                                        "enabled",     "description", NULL};
    cli_show_definition (result, first);
    const json_t *parameters = json_object_get (result, "parameters");
    if (!json_is_object (parameters) || !json_object_size (parameters)) {
        cli_prop ("parameters", "(none)");
        return;
    }
    printf ("parameters:\n");
    cli_table_print (parameters, s_parameter_columns, "  ");
}

static int
s_cmd_action_get (cli_t *client, cli_args_t *args)
{
    json_t *payload = cli_name_payload (args, 0, "ref");
    return payload ? cli_simple (client, "api.action.get", payload, s_show_action)
                   : CLI_EXIT_USAGE;
}

//  attune policy list / get: the policies the registry loaded from packs
static const cli_column_t s_policy_columns[] = {{"REF", "ref"},
                                                {"TYPE", "policy_type"},
                                                {"ACTION", "resource_ref"},
                                                {"ENABLED", "enabled", CLI_CELL_YES_NO},
                                                {"PARAMETERS", "parameters"},
                                                {NULL}};

static void
s_show_policy_list (const json_t *result)
{
    cli_table_print (json_object_get (result, "items"), s_policy_columns, NULL);
}

static int
s_cmd_policy_list (cli_t *client, cli_args_t *args)
{
    json_t *payload = json_object ();
    int rc = cli_string_opt (args, "--pack", payload, "pack");
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return cli_list (client, "api.policy.list", payload, "after", 0, s_show_policy_list);
}

static void
s_show_policy (const json_t *result)
{
    static const char *const first[] = {
        "ref",          "pack",    "name",        "policy_type",
        "resource_ref", "enabled", "description", NULL};
    cli_show_definition (result, first);
    cli_prop_json ("parameters", json_object_get (result, "parameters"));
}

static int
s_cmd_policy_get (cli_t *client, cli_args_t *args)
{
    json_t *payload = cli_name_payload (args, 0, "ref");
    return payload ? cli_simple (client, "api.policy.get", payload, s_show_policy)
                   : CLI_EXIT_USAGE;
}

//  attune action queue-stats REF: the executor's policy queue for an action
static void
s_show_queue_stats (const json_t *result)
{
    cli_prop_json ("action", json_object_get (result, "action"));
    cli_prop_json ("running", json_object_get (result, "running"));
    cli_prop_json ("queued", json_object_get (result, "queued"));
    char wait[64];
    snprintf (wait, sizeof wait, "%.1f s",
              json_number_value (json_object_get (result, "oldest_wait")));
    cli_prop ("oldest wait", wait);
    cli_prop_json ("total admitted", json_object_get (result, "admitted"));
    cli_prop_json ("total completed", json_object_get (result, "completed"));
    const json_t *policies = json_object_get (result, "policies");
    char *text = json_array_size (policies) ? json_dumps (policies, JSON_COMPACT) : NULL;
    cli_prop ("policies", text ? text : "(none)");
    free (text);
}

static int
s_cmd_action_queue_stats (cli_t *client, cli_args_t *args)
{
    json_t *payload = cli_name_payload (args, 0, "ref");
    return payload ? cli_simple (client, "api.action.queue_stats", payload,
                                 s_show_queue_stats)
                   : CLI_EXIT_USAGE;
}
static const cli_option_t s_action_list_options[] = {
    {"--pack", "P", "only actions of pack P"}, {NULL}};
static const cli_option_t s_policy_list_options[] = {
    {"--pack", "P", "only policies of pack P"}, {NULL}};

const cli_command_t cli_action_commands[] = {
    {"action", "list", "[--pack P]", "List actions.", s_action_list_options, 0, 0,
     s_cmd_action_list},
    {"action", "get", "REF", "Show an action and its parameters.", cli_no_options, 1, 1,
     s_cmd_action_get},
    {"policy", "list", "[--pack P]",
     "List the policies (concurrency, rate, retry, timeout).", s_policy_list_options, 0,
     0, s_cmd_policy_list},
    {"policy", "get", "REF", "Show a policy.", cli_no_options, 1, 1, s_cmd_policy_get},
    {"action", "queue-stats", "REF",
     "Show the policy queue of an action: running, queued, oldest wait, totals.",
     cli_no_options, 1, 1, s_cmd_action_queue_stats},
    {NULL}};
