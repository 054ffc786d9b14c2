/*  actor: helpers every actor shares (actor.h).
*/
#include "actors/actor.h"

#include <unistd.h>

void
actor_host (const actor_config_t *config, char *host, size_t size)
{
    assert (config && host && size > 1);
    if (config->host && *config->host)
        snprintf (host, size, "%s", config->host);
    else if (gethostname (host, size - 1) != 0 || !*host)
        snprintf (host, size, "localhost");
    host[size - 1] = 0;
}

void
actor_link_config (const actor_config_t *config, bus_link_config_t *link_config)
{
    assert (config && link_config);
    bus_link_config_defaults (link_config);
    if (config->heartbeat_ms > 0)
        link_config->heartbeat_ms = config->heartbeat_ms;
}

void
actor_reply_json (zsock_t *pipe, json_t **value_p)
{
    assert (pipe && value_p);
    char *text = *value_p ? json_dumps (*value_p, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    zstr_send (pipe, text ? text : "null");
    free (text);
    json_decref (*value_p);
    *value_p = NULL;
}

void
actor_reply_unknown (zsock_t *pipe, const char *actor, const char *command)
{
    assert (pipe && actor);
    zsys_warning ("%s: unknown pipe command '%s'", actor, command ? command : "");
    json_t *reply = json_pack ("{s:s, s:s}", "error", ACTOR_UNKNOWN_REPLY, "command",
                               command ? command : "");
    actor_reply_json (pipe, &reply);
}

store_t *
actor_store_open (const actor_config_t *config, const char *actor)
{
    assert (config && actor);
    char dir[4096], message[512];
    snprintf (dir, sizeof dir, "%s/%s", config->data_dir ? config->data_dir : ".", actor);
    store_config_t store_config = {.nosync = config->nosync};
    store_code_t code;
    store_t *store = store_open (dir, &store_config, &code, message, sizeof message);
    if (!store)
        zsys_error ("%s: %s", actor, message);
    return store;
}
