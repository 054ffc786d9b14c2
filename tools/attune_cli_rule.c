/*  attune_cli_rule: rule list/get/create/enable/disable/delete.
*/
#include "tools/attune_cli.h"

#include <errno.h>
#include "actors/registry/registry_yaml.h"

static const cli_column_t s_rule_columns[] = {{"REF", "ref"},
                                              {"TRIGGER", "trigger.type"},
                                              {"ACTION", "action.ref"},
                                              {"ENABLED", "enabled"},
                                              {NULL}};

static void
s_show_rule_list (const json_t *result)
{
    cli_table_print (json_object_get (result, "items"), s_rule_columns, NULL);
}

static int
s_cmd_rule_list (cli_t *client, cli_args_t *args)
{
    json_t *payload = json_object ();
    int rc = cli_string_opt (args, "--pack", payload, "pack");
    bool enabled = cli_opt (args, "--enabled"), disabled = cli_opt (args, "--disabled");
    if (!rc && enabled && disabled)
        rc = cli_usage_error (args->command,
                              "--enabled and --disabled exclude each other");
    if (rc) {
        json_decref (payload);
        return rc;
    }
    if (enabled || disabled)
        json_object_set_new (payload, "enabled", json_boolean (enabled));
    return cli_list (client, "api.rule.list", payload, "after", 0, s_show_rule_list);
}

static void
s_show_rule (const json_t *result)
{
    static const char *const first[] = {"ref",      "pack",        "name",
                                        "enabled",  "description", "trigger",
                                        "criteria", "action",      NULL};
    cli_show_definition (result, first);
}

static int
s_cmd_rule_get (cli_t *client, cli_args_t *args)
{
    json_t *payload = cli_name_payload (args, 0, "ref");
    return payload ? cli_simple (client, "api.rule.get", payload, s_show_rule)
                   : CLI_EXIT_USAGE;
}

static int
s_cmd_rule_create (cli_t *client, cli_args_t *args)
{
    const char *path = args->pos[0];
    const char *origin = streq (path, "-") ? "<stdin>" : path;
    size_t size = 0;
    char *text = cli_read_file (client, path, &size);
    if (!text)
        return cli_report (client);
    if (strlen (text) != size) {
        free (text);
        cli_fail (client, "invalid", "%s: holds a NUL byte", origin);
        return cli_report (client);
    }
    //  Check it here, to name the file and line in syntax errors; JSON goes
    //  as the definition, YAML as its text (the api's loader names lines).
    json_t *payload = NULL;
    char message[512];
    const char *start = text + strspn (text, " \t\r\n");
    if (*start == '{') {
        json_error_t error;
        json_t *definition = json_loads (text, JSON_REJECT_DUPLICATES, &error);
        if (!definition)
            cli_fail (client, "invalid", "%s:%d:%d: %s", origin, error.line, error.column,
                      error.text);
        else
            payload = json_pack ("{s:o}", "definition", definition);
    } else {
        registry_yaml_t *yaml =
            registry_yaml_parse (text, size, origin, message, sizeof message);
        if (!yaml)
            cli_fail (client, "invalid", "%s", message);
        else if (!json_is_object (registry_yaml_root (yaml)))
            cli_fail (client, "invalid",
                      "%s: a rule is a mapping (name, pack, trigger, ...)", origin);
        else
            payload = json_pack ("{s:s%}", "yaml", text, size);
        registry_yaml_destroy (&yaml);
    }
    free (text);
    if (!payload)
        return cli_report (client);
    json_t *result = cli_request (client, "api.rule.create", payload);
    if (!result)
        return cli_report (client);
    if (client->json)
        cli_print_json (result);
    else
        printf ("%s created\n", cli_str (result, "ref") ? cli_str (result, "ref") : "?");
    json_decref (result);
    return CLI_EXIT_OK;
}

static int
s_rule_change (cli_t *client, cli_args_t *args, const char *type, const char *done)
{
    json_t *payload = cli_name_payload (args, 0, "ref");
    if (!payload)
        return CLI_EXIT_USAGE;
    json_t *result = cli_request (client, type, payload);
    if (!result)
        return cli_report (client);
    if (client->json)
        cli_print_json (result);
    else {
        char *clean =
            cli_clean (cli_str (result, "ref") ? cli_str (result, "ref") : "?", 0);
        printf ("%s %s\n", clean, done);
        free (clean);
    }
    json_decref (result);
    return CLI_EXIT_OK;
}

static int
s_cmd_rule_enable (cli_t *client, cli_args_t *args)
{
    return s_rule_change (client, args, "api.rule.enable", "enabled");
}

static int
s_cmd_rule_disable (cli_t *client, cli_args_t *args)
{
    return s_rule_change (client, args, "api.rule.disable", "disabled");
}

static int
s_cmd_rule_delete (cli_t *client, cli_args_t *args)
{
    return s_rule_change (client, args, "api.rule.delete", "deleted");
}
//  A JSON or YAML file as a JSON value, or NULL (reported on the client)
static json_t *
s_read_document (cli_t *client, const char *path)
{
    const char *origin = streq (path, "-") ? "<stdin>" : path;
    size_t size = 0;
    char *text = cli_read_file (client, path, &size);
    if (!text)
        return NULL;
    char message[512];
    json_t *value = NULL;
    registry_yaml_t *yaml =
        strlen (text) == size
            ? registry_yaml_parse (text, size, origin, message, sizeof message)
            : NULL;
    if (!yaml)
        cli_fail (client, "invalid", "%s",
                  strlen (text) == size ? message : "the file holds a NUL byte");
    else if (!json_is_object (registry_yaml_root (yaml)))
        cli_fail (client, "invalid", "%s: a mapping expected", origin);
    else
        value = json_deep_copy (registry_yaml_root (yaml));
    registry_yaml_destroy (&yaml);
    free (text);
    return value;
}

static void
s_show_rule_test (const json_t *result)
{
    bool matched = json_is_true (json_object_get (result, "matched"));
    const char *rule = cli_str (result, "rule");
    printf ("rule %s %s\n", rule ? rule : "?", matched ? "MATCHES" : "does NOT match");
    size_t i;
    const json_t *c;
    json_array_foreach (json_object_get (result, "criteria"), i, c)
    {
        char *value = json_object_get (c, "value")
                          ? cli_json_text (json_object_get (c, "value"))
                          : strdup ("(missing)");
        char *pattern = cli_json_text (json_object_get (c, "pattern"));
        printf ("  %s %s: %s %s %s\n",
                json_is_true (json_object_get (c, "matched")) ? "ok  " : "FAIL",
                cli_str (c, "path"), value ? value : "?", cli_str (c, "type"),
                pattern ? pattern : "?");
        free (value);
        free (pattern);
    }
    if (json_object_get (result, "parameters"))
        cli_prop_json ("parameters", json_object_get (result, "parameters"));
    if (cli_str (result, "error"))
        cli_prop ("error", cli_str (result, "error"));
}

//  st2-rule-tester: a rule (REF of a loaded one, or a file) against an
//  event (--event ID, or --trigger-instance FILE: {trigger, payload})
static int
s_cmd_rule_test (cli_t *client, cli_args_t *args)
{
    const char *event = cli_opt (args, "--event");
    const char *file = cli_opt (args, "--trigger-instance");
    if (!event == !file)
        return cli_usage_error (args->command,
                                "give one of --event ID and --trigger-instance FILE");
    const char *rule = args->pos[0];
    bool is_file = strchr (rule, '/') || strstr (rule, ".yaml") || strstr (rule, ".json");
    json_t *payload = json_object ();
    json_t *definition = is_file ? s_read_document (client, rule) : NULL;
    json_t *instance = file ? s_read_document (client, file) : NULL;
    if ((is_file && !definition) || (file && !instance)) {
        json_decref (payload);
        json_decref (definition);
        json_decref (instance);
        return cli_report (client);
    }
    if (definition)
        json_object_set_new (payload, "definition", definition);
    else
        json_object_set_new (payload, "rule", json_string (rule));
    if (instance)
        json_object_set_new (payload, "trigger_instance", instance);
    else
        json_object_set_new (payload, "event", json_string (event));
    json_t *result = cli_request (client, "api.rule.test", payload);
    if (!result)
        return cli_report (client);
    if (client->json)
        cli_print_json (result);
    else
        s_show_rule_test (result);
    bool matched = json_is_true (json_object_get (result, "matched"));
    json_decref (result);
    return matched ? CLI_EXIT_OK : 1;
}

static const cli_option_t s_rule_test_options[] = {
    {"--event", "ID", "a stored event"},
    {"--trigger-instance", "FILE", "an event in a JSON or YAML file: {trigger, payload}"},
    {NULL}};

static const cli_option_t s_rule_list_options[] = {
    {"--pack", "P", "only rules of pack P"},
    {"--enabled", NULL, "only enabled rules"},
    {"--disabled", NULL, "only disabled rules"},
    {NULL}};

const cli_command_t cli_rule_commands[] = {
    {"rule", "list", "[--pack P] [--enabled|--disabled]", "List rules.",
     s_rule_list_options, 0, 0, s_cmd_rule_list},
    {"rule", "get", "REF", "Show a rule.", cli_no_options, 1, 1, s_cmd_rule_get},
    {"rule", "create", "FILE",
     "Create (or replace) a rule from a YAML or JSON file, '-' for stdin.",
     cli_no_options, 1, 1, s_cmd_rule_create},
    {"rule", "enable", "REF", "Enable a rule.", cli_no_options, 1, 1, s_cmd_rule_enable},
    {"rule", "disable", "REF", "Disable a rule.", cli_no_options, 1, 1,
     s_cmd_rule_disable},
    {"rule", "delete", "REF", "Delete a rule.", cli_no_options, 1, 1, s_cmd_rule_delete},
    {"rule", "test", "REF|FILE --event ID | --trigger-instance FILE",
     "Whether a rule matches an event, criterion by criterion, and the action\n"
     "parameters it would render (StackStorm's st2-rule-tester); nothing runs.\n"
     "Exit status 0 when it matches, 1 when it does not.",
     s_rule_test_options, 1, 1, s_cmd_rule_test},
    {NULL}};
