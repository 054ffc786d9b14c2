/*  rules_config: config_context in rule parameters (rules_config.h). */
#include "actors/rules/rules_config.h"
#include "actors/pack/pack_config.h"

#include <czmq.h>

//  True when a string in `value` mentions config_context
static bool
s_mentions (const json_t *value, int depth)
{
    if (depth > 32)
        return false;
    if (json_is_string (value))
        return strstr (json_string_value (value), "config_context") != NULL;
    const json_t *each;
    if (json_is_array (value)) {
        size_t i;
        json_array_foreach (value, i, each)
        {
            if (s_mentions (each, depth + 1))
                return true;
        }
    } else if (json_is_object (value)) {
        const char *key;
        json_object_foreach ((json_t *)value, key, each)
        {
            if (s_mentions (each, depth + 1))
                return true;
        }
    }
    return false;
}

//  The config with its secret values masked (takes the config)
static json_t *
s_masked (json_t *config, const json_t *secrets)
{
    json_t *masked = pack_config_mask (config, secrets);
    json_decref (config);
    return masked;
}

bool
rules_config_add (const char *packs_dir, const char *action_ref, const json_t *params,
                  json_t *context)
{
    if (!json_is_object (context) || !action_ref || !s_mentions (params, 0))
        return false;
    const char *dot = strchr (action_ref, '.');
    char pack[256];
    snprintf (pack, sizeof pack, "%.*s", dot ? (int)(dot - action_ref) : 0, action_ref);
    json_t *config = NULL, *secrets = NULL;
    char message[1024];
    if (*pack && packs_dir && *packs_dir) {
        char *pack_dir = zsys_sprintf ("%s/%s", packs_dir, pack);
        if (pack_dir && pack_config_load (pack_dir, pack, NULL, &config, &secrets,
                                          message, sizeof message) != 0)
            zsys_warning ("rules: config_context of %s: %s", pack, message);
        free (pack_dir);
    }
    json_object_set_new (context, "config_context",
                         config ? s_masked (config, secrets) : json_object ());
    json_decref (secrets);
    return true;
}

void
rules_config_done (json_t *context)
{
    if (json_is_object (context))
        json_object_del (context, "config_context");
}
