/*  attune_cli_apikey: apikey create|list|enable|disable|delete: the HTTP
    gateway's API keys (actors/http/http_keys.h), in the data directory of
    the attuned that runs the gateway (no socket involved).
*/
#include "tools/attune_cli.h"
#include "actors/http/http_keys.h"

static const cli_option_t s_data_options[] = {
    {"--data", "DIR", "attuned's data directory (default ./var/attune)"}, {NULL}};
static const cli_option_t s_create_options[] = {
    {"--role", "ROLE", "viewer, operator or admin (default viewer)"},
    {"--data", "DIR", "attuned's data directory (default ./var/attune)"},
    {NULL}};

static char *
s_path (cli_args_t *args)
{
    const char *data = cli_opt (args, "--data");
    return http_keys_path (data && *data ? data : "./var/attune");
}

static int
s_done (http_keys_code_t code, const char *message)
{
    if (code == HTTP_KEYS_OK)
        return CLI_EXIT_OK;
    fprintf (stderr, "attune: apikey: %s\n", message);
    return code == HTTP_KEYS_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
}

static int
s_cmd_create (cli_t *client, cli_args_t *args)
{
    const char *role = cli_opt (args, "--role");
    char *path = s_path (args);
    char key[HTTP_KEY_SIZE], message[1024] = "";
    http_keys_code_t code = http_keys_create (path, args->pos[0], role ? role : "viewer",
                                              key, message, sizeof message);
    if (code == HTTP_KEYS_OK) {
        if (client->json) {
            json_t *out = json_pack ("{s:s, s:s, s:s}", "name", args->pos[0], "role",
                                     role ? role : "viewer", "key", key);
            cli_print_json (out);
            json_decref (out);
        } else
            printf ("%s\n(the key is shown once: attune keeps only its hash)\n", key);
    }
    free (path);
    return s_done (code, message);
}

static int
s_cmd_list (cli_t *client, cli_args_t *args)
{
    char *path = s_path (args);
    char message[1024] = "";
    json_t *keys = http_keys_list (path, message, sizeof message);
    free (path);
    if (!keys)
        return s_done (HTTP_KEYS_IO, message);
    if (client->json)
        cli_print_json (keys);
    else {
        size_t i;
        json_t *key;
        printf ("%-24s %-9s %s\n", "NAME", "ROLE", "ENABLED");
        json_array_foreach (keys, i, key)
            printf ("%-24s %-9s %s\n", json_string_value (json_object_get (key, "name")),
                    json_string_value (json_object_get (key, "role")),
                    json_is_true (json_object_get (key, "enabled")) ? "yes" : "no");
    }
    json_decref (keys);
    return CLI_EXIT_OK;
}

static int
s_cmd_change (cli_t *client, cli_args_t *args)
{
    const char *verb = args->command->name;
    char *path = s_path (args);
    char message[1024] = "";
    http_keys_code_t code =
        streq (verb, "delete")
            ? http_keys_delete (path, args->pos[0], message, sizeof message)
            : http_keys_enable (path, args->pos[0], streq (verb, "enable"), message,
                                sizeof message);
    free (path);
    if (code == HTTP_KEYS_OK && !client->json)
        printf ("%s: %sd\n", args->pos[0], verb);
    return s_done (code, message);
}

const cli_command_t cli_apikey_commands[] = {
    {"apikey", "create", "NAME [--role viewer|operator|admin] [--data DIR]",
     "Make an API key for the HTTP gateway (St2-Api-Key): printed once, kept hashed.",
     s_create_options, 1, 1, s_cmd_create},
    {"apikey", "list", "[--data DIR]", "The API keys: name, role, enabled.",
     s_data_options, 0, 0, s_cmd_list},
    {"apikey", "enable", "NAME [--data DIR]", "Let an API key in again.", s_data_options,
     1, 1, s_cmd_change},
    {"apikey", "disable", "NAME [--data DIR]", "Refuse an API key (kept).",
     s_data_options, 1, 1, s_cmd_change},
    {"apikey", "delete", "NAME [--data DIR]", "Remove an API key.", s_data_options, 1, 1,
     s_cmd_change},
    {NULL}};
