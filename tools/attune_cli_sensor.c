/*  attune_cli_sensor: sensor list/get/enable/disable (StackStorm's `st2
    sensor ...`): the packs' Python sensors as the sensor actor runs them.
*/
#include "tools/attune_cli.h"

static const cli_column_t s_sensor_columns[] = {{"REF", "ref"},
                                                {"TRIGGERS", "trigger_types"},
                                                {"ENABLED", "enabled", CLI_CELL_YES_NO},
                                                {"STATE", "process.state"},
                                                {"PID", "process.pid"},
                                                {"RESTARTS", "process.restarts"},
                                                {NULL}};

static void
s_show_sensor_list (const json_t *result)
{
    cli_table_print (json_object_get (result, "items"), s_sensor_columns, NULL);
}

static int
s_cmd_sensor_list (cli_t *client, cli_args_t *args)
{
    json_t *payload = json_object ();
    int rc = cli_string_opt (args, "--pack", payload, "pack");
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return cli_list (client, "api.sensor.list", payload, "after", 0, s_show_sensor_list);
}

static void
s_show_sensor (const json_t *result)
{
    static const char *const first[] = {
        "ref",    "pack",        "class_name", "enabled",       "enabled_in_pack",
        "switch", "description", "process",    "poll_interval", "trigger_types",
        NULL};
    cli_show_definition (result, first);
}

static int
s_cmd_sensor_get (cli_t *client, cli_args_t *args)
{
    json_t *payload = cli_name_payload (args, 0, "ref");
    return payload ? cli_simple (client, "api.sensor.get", payload, s_show_sensor)
                   : CLI_EXIT_USAGE;
}

static int
s_cmd_sensor_enable (cli_t *client, cli_args_t *args)
{
    json_t *payload = cli_name_payload (args, 0, "ref");
    return payload ? cli_simple (client, "api.sensor.enable", payload, s_show_sensor)
                   : CLI_EXIT_USAGE;
}

static int
s_cmd_sensor_disable (cli_t *client, cli_args_t *args)
{
    json_t *payload = cli_name_payload (args, 0, "ref");
    return payload ? cli_simple (client, "api.sensor.disable", payload, s_show_sensor)
                   : CLI_EXIT_USAGE;
}

static const cli_option_t s_sensor_list_options[] = {
    {"--pack", "P", "only the sensors of pack P"}, {NULL}};

const cli_command_t cli_sensor_commands[] = {
    {"sensor", "list", "[--pack P]",
     "List the packs' Python sensors: trigger types, enabled, and the process (state, "
     "pid, restarts).",
     s_sensor_list_options, 0, 0, s_cmd_sensor_list},
    {"sensor", "get", "REF", "Show a sensor and its process.", cli_no_options, 1, 1,
     s_cmd_sensor_get},
    {"sensor", "enable", "REF",
     "Run a sensor (a switch kept by the sensor actor over its YAML's enabled).",
     cli_no_options, 1, 1, s_cmd_sensor_enable},
    {"sensor", "disable", "REF",
     "Stop a sensor and keep it stopped (a switch, as enable).", cli_no_options, 1, 1,
     s_cmd_sensor_disable},
    {NULL}};
