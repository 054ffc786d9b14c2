/*  attune_cli_key: key set/get/list/delete/load/rotate-crypto (the
    datastore, proto/PROTOCOL.md "Datastore").
*/
#include "tools/attune_cli.h"

#include <errno.h>
#include "actors/datastore/datastore_keys.h"
#include "actors/registry/registry_yaml.h"

#define S_LOAD_FILE_MAX (16 * 1024 * 1024)

static const cli_column_t s_key_columns[] = {{"NAME", "name"},
                                             {"SCOPE", "scope"},
                                             {"USER", "user"},
                                             {"SECRET", "secret", CLI_CELL_YES_NO},
                                             {"EXPIRES", "expire_at", CLI_CELL_TIME},
                                             {"VALUE", "value", CLI_CELL_WHOLE},
                                             {NULL}};

//  {scope, user, identity} of every key command, with the name when
//  `name_index` >= 0. NULL after a usage error (exit 2).
static json_t *
s_key_payload (cli_t *client, cli_args_t *args, int name_index)
{
    json_t *payload =
        name_index >= 0 ? cli_name_payload (args, name_index, "name") : json_object ();
    if (!payload)
        return NULL;
    if (name_index >= 0 && strlen (args->pos[name_index]) > DATASTORE_NAME_MAX) {
        cli_usage_error (args->command, "NAME: %zu bytes, at most %d",
                         strlen (args->pos[name_index]), DATASTORE_NAME_MAX);
        json_decref (payload);
        return NULL;
    }
    if (cli_string_opt (args, "--scope", payload, "scope") ||
        cli_string_opt (args, "--user", payload, "user")) {
        json_decref (payload);
        return NULL;
    }
    if (client->identity && *client->identity)
        json_object_set_new (payload, "identity", json_string (client->identity));
    return payload;
}

static void
s_show_key (const json_t *key)
{
    cli_prop_json ("name", json_object_get (key, "name"));
    cli_prop_json ("scope", json_object_get (key, "scope"));
    if (json_object_get (key, "user"))
        cli_prop_json ("user", json_object_get (key, "user"));
    cli_prop ("secret", json_is_true (json_object_get (key, "secret")) ? "yes" : "no");
    cli_prop_json ("value", json_object_get (key, "value"));
    if (cli_int (key, "expire_at")) {
        cli_prop_time ("expire_at", cli_int (key, "expire_at"));
        cli_prop_json ("ttl", json_object_get (key, "ttl"));
    }
    cli_prop_time ("updated_at", cli_int (key, "updated_at"));
}

static void
s_show_list (const json_t *result)
{
    cli_table_print (json_object_get (result, "items"), s_key_columns, NULL);
}

static int
s_cmd_key_set (cli_t *client, cli_args_t *args)
{
    json_t *payload = s_key_payload (client, args, 0);
    if (!payload)
        return CLI_EXIT_USAGE;
    const char *value = args->pos[1];
    const char *ttl = cli_opt (args, "--ttl");
    long long seconds = 0;
    int rc = 0;
    if (strlen (value) > DATASTORE_VALUE_MAX)
        rc = cli_usage_error (args->command, "VALUE: %zu bytes, at most %d",
                              strlen (value), DATASTORE_VALUE_MAX);
    else if (!datastore_utf8_valid (value, strlen (value)))
        rc = cli_usage_error (args->command, "VALUE: not valid UTF-8");
    else if (ttl && !cli_parse_long (ttl, 1, 10LL * 365 * 86400, &seconds))
        rc = cli_usage_error (args->command, "--ttl: whole seconds from 1 (got '%s')",
                              ttl);
    if (rc) {
        json_decref (payload);
        return rc;
    }
    json_object_set_new (payload, "value", json_string (value));
    if (ttl)
        json_object_set_new (payload, "ttl", json_integer (seconds));
    if (cli_opt (args, "--encrypt"))
        json_object_set_new (payload, "secret", json_true ());
    return cli_simple (client, "api.key.set", payload, s_show_key);
}

static int
s_cmd_key_get (cli_t *client, cli_args_t *args)
{
    json_t *payload = s_key_payload (client, args, 0);
    if (!payload)
        return CLI_EXIT_USAGE;
    if (cli_opt (args, "--decrypt"))
        json_object_set_new (payload, "decrypt", json_true ());
    return cli_simple (client, "api.key.get", payload, s_show_key);
}

static int
s_cmd_key_list (cli_t *client, cli_args_t *args)
{
    json_t *payload = s_key_payload (client, args, -1);
    if (!payload)
        return CLI_EXIT_USAGE;
    if (cli_string_opt (args, "--prefix", payload, "prefix")) {
        json_decref (payload);
        return CLI_EXIT_USAGE;
    }
    if (cli_opt (args, "--decrypt"))
        json_object_set_new (payload, "decrypt", json_true ());
    return cli_list (client, "api.key.list", payload, "after", 0, s_show_list);
}

static void
s_show_deleted (const json_t *result)
{
    char *clean =
        cli_clean (cli_str (result, "name") ? cli_str (result, "name") : "?", 0);
    printf ("%s deleted\n", clean);
    free (clean);
}

static int
s_cmd_key_delete (cli_t *client, cli_args_t *args)
{
    json_t *payload = s_key_payload (client, args, 0);
    return payload ? cli_simple (client, "api.key.delete", payload, s_show_deleted)
                   : CLI_EXIT_USAGE;
}

//  A load file's keys as a list: st2's list of {name, value, ...}, one such
//  map, or a map of name: value
static json_t *
s_load_items (json_t *root)
{
    if (json_is_array (root))
        return json_incref (root);
    if (json_is_object (root) && json_object_get (root, "name"))
        return json_pack ("[O]", root);
    json_t *items = json_array ();
    const char *name;
    json_t *value;
    json_object_foreach (root, name, value)
    {
        json_array_append_new (items,
                               json_pack ("{s:s, s:O}", "name", name, "value", value));
    }
    return items;
}

static int
s_cmd_key_load (cli_t *client, cli_args_t *args)
{
    const char *path = args->pos[0];
    const char *origin = streq (path, "-") ? "<stdin>" : path;
    size_t size = 0;
    char *text = cli_read_file (client, path, &size);
    if (!text)
        return cli_report (client);
    json_t *root = NULL;
    const char *start = text + strspn (text, " \t\r\n");
    if (*start == '{' || *start == '[') {
        json_error_t error;
        root = json_loads (text, JSON_REJECT_DUPLICATES, &error);
        if (!root)
            cli_fail (client, "invalid", "%s:%d:%d: %s", origin, error.line, error.column,
                      error.text);
    } else {
        char message[512];
        registry_yaml_t *yaml =
            registry_yaml_parse (text, size, origin, message, sizeof message);
        root = yaml ? registry_yaml_take_root (yaml) : NULL;
        if (!yaml)
            cli_fail (client, "invalid", "%s", message);
        registry_yaml_destroy (&yaml);
    }
    free (text);
    if (!root)
        return cli_report (client);
    if (!json_is_array (root) && !json_is_object (root)) {
        json_decref (root);
        cli_fail (client, "invalid",
                  "%s: expected a list of keys ({name, value, scope, secret, ttl})",
                  origin);
        return cli_report (client);
    }
    json_t *payload = json_pack ("{s:o}", "items", s_load_items (root));
    json_decref (root);
    if (client->identity && *client->identity)
        json_object_set_new (payload, "identity", json_string (client->identity));
    json_t *result = cli_request (client, "api.key.load", payload);
    if (!result)
        return cli_report (client);
    if (client->json)
        cli_print_json (result);
    else
        printf ("%lld keys loaded\n", (long long)cli_int (result, "loaded"));
    json_decref (result);
    return CLI_EXIT_OK;
}

static void
s_show_rotated (const json_t *result)
{
    printf ("%lld secrets re-encrypted under key %lld\n",
            (long long)cli_int (result, "secrets"),
            (long long)cli_int (result, "key_id"));
}

static int
s_cmd_key_rotate (cli_t *client, cli_args_t *args)
{
    return cli_simple (client, "api.key.rotate", NULL, s_show_rotated);
}

#define S_SCOPE_OPTIONS                                                                  \
    {"--scope", "S", "system (the default) or user (your own keys)"},                    \
    {                                                                                    \
        "--user", "U", "with --scope user: another identity's keys (admin)"              \
    }

static const cli_option_t s_set_options[] = {
    S_SCOPE_OPTIONS,
    {"--ttl", "N", "delete the key after N seconds"},
    {"--encrypt", NULL, "a secret: encrypted at rest, shown as ********"},
    {NULL}};
static const cli_option_t s_get_options[] = {
    S_SCOPE_OPTIONS,
    {"--decrypt", NULL, "show a secret's value (admin, or its owner)"},
    {NULL}};
static const cli_option_t s_list_options[] = {
    S_SCOPE_OPTIONS,
    {"--prefix", "P", "only keys whose names start with P"},
    {"--decrypt", NULL, "show secrets' values (admin, or their owner)"},
    {NULL}};
static const cli_option_t s_delete_options[] = {S_SCOPE_OPTIONS, {NULL}};

const cli_command_t cli_key_commands[] = {
    {"key", "set", "NAME VALUE [--scope S] [--ttl N] [--encrypt]",
     "Set a key in the datastore.", s_set_options, 2, 2, s_cmd_key_set},
    {"key", "get", "NAME [--scope S] [--decrypt]", "Show a key.", s_get_options, 1, 1,
     s_cmd_key_get},
    {"key", "list", "[--prefix P] [--scope S] [--decrypt]", "List keys.", s_list_options,
     0, 0, s_cmd_key_list},
    {"key", "delete", "NAME [--scope S]", "Delete a key.", s_delete_options, 1, 1,
     s_cmd_key_delete},
    {"key", "load", "FILE",
     "Set the keys of a JSON or YAML file ('-': stdin), as st2 key load: a list of "
     "{name, value, scope, user, secret, ttl}.",
     cli_no_options, 1, 1, s_cmd_key_load},
    {"key", "rotate-crypto", "", "Re-encrypt every secret under a new key (admin).",
     cli_no_options, 0, 0, s_cmd_key_rotate},
    {NULL}};
