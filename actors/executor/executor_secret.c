/*  executor_secret: secret action parameters sealed at rest
    (executor_secret.h). */
#include "actors/executor/executor_secret.h"
#include "proto/proto_json.h"
#include "proto/proto_secret.h"
#include "store/store_crypto.h"

#include <czmq.h>
#include <errno.h>
#include <sodium.h>

struct _executor_secret_t {
    store_crypto_t *crypto;
};

executor_secret_t *
executor_secret_new (const char *dir, char *message, size_t size)
{
    if (store_crypto_init () != 0) {
        snprintf (message, size, "libsodium cannot start");
        return NULL;
    }
    char path[4200];
    snprintf (path, sizeof path, "%s/secret.key", dir);
    store_crypto_t *crypto = store_crypto_load (path, message, size);
    if (!crypto && errno == ENOENT)
        crypto = store_crypto_create (path, 1, message, size);
    if (!crypto)
        return NULL;
    executor_secret_t *self = (executor_secret_t *)zmalloc (sizeof (executor_secret_t));
    self->crypto = crypto;
    return self;
}

void
executor_secret_destroy (executor_secret_t **self_p)
{
    if (self_p && *self_p) {
        store_crypto_destroy (&(*self_p)->crypto);
        free (*self_p);
        *self_p = NULL;
    }
}

static bool
s_sealed (const char *text)
{
    return text &&
           strncmp (text, EXECUTOR_SECRET_PREFIX, strlen (EXECUTOR_SECRET_PREFIX)) == 0;
}

int
executor_secret_seal (executor_secret_t *self, const json_t *schema, json_t *parameters)
{
    const char *name;
    json_t *spec;
    json_object_foreach ((json_t *)schema, name, spec)
    {
        json_t *value = json_object_get (parameters, name);
        if (!value || !json_is_true (json_object_get (spec, "secret")) ||
            s_sealed (json_string_value (value)))
            continue;
        char *clear = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
        char *box =
            clear ? store_crypto_seal (self->crypto, clear, strlen (clear)) : NULL;
        char *text = box ? zsys_sprintf ("%s%u:%s", EXECUTOR_SECRET_PREFIX,
                                         store_crypto_id (self->crypto), box)
                         : NULL;
        if (clear)
            store_crypto_free (clear); //  wiped
        free (box);
        if (!text)
            return -1;
        json_object_set_new (parameters, name, json_string (text));
        zstr_free (&text);
    }
    return 0;
}

int
executor_secret_open (executor_secret_t *self, json_t *parameters, char *message,
                      size_t size)
{
    const char *name;
    json_t *value;
    void *tmp;
    json_object_foreach_safe (parameters, tmp, name, value)
    {
        const char *text = json_string_value (value);
        if (!s_sealed (text))
            continue;
        const char *box = strchr (text + strlen (EXECUTOR_SECRET_PREFIX), ':');
        size_t length = 0;
        char *clear = box ? store_crypto_unseal (self->crypto, box + 1, &length) : NULL;
        json_t *opened = clear ? json_loadb (clear, length, JSON_DECODE_ANY, NULL) : NULL;
        store_crypto_free (clear);
        if (!opened) {
            snprintf (message, size,
                      "secret parameter '%s': does not open under the executor's key",
                      name);
            return -1;
        }
        json_object_set_new (parameters, name, opened);
    }
    return 0;
}

bool
executor_secret_any (const msgpack_object *parameters)
{
    if (!parameters || parameters->type != MSGPACK_OBJECT_MAP)
        return false;
    const size_t prefix = strlen (EXECUTOR_SECRET_PREFIX);
    for (uint32_t i = 0; i < parameters->via.map.size; i++) {
        const msgpack_object *value = &parameters->via.map.ptr[i].val;
        if (value->type == MSGPACK_OBJECT_STR && value->via.str.size >= prefix &&
            memcmp (value->via.str.ptr, EXECUTOR_SECRET_PREFIX, prefix) == 0)
            return true;
    }
    return false;
}

static bool
s_schema_has_secret (const json_t *schema)
{
    const char *name;
    json_t *spec;
    json_object_foreach ((json_t *)schema, name, spec)
    {
        if (json_is_true (json_object_get (spec, "secret")))
            return true;
    }
    return false;
}

int
executor_secret_seal_packed (executor_secret_t *self, const json_t *schema,
                             msgpack_sbuffer *params)
{
    if (!self || !s_schema_has_secret (schema) || params->size == 0)
        return 0;
    json_t *parameters =
        proto_json_from_buffer (params->data, params->size, "parameters", NULL);
    int rc = json_is_object (parameters) ? executor_secret_seal (self, schema, parameters)
                                         : -1;
    if (rc == 0) {
        sodium_memzero (params->data, params->size); //  clear values: wiped
        msgpack_sbuffer_clear (params);
        rc = proto_json_to_sbuffer (parameters, params, NULL) == PROTO_OK ? 0 : -1;
    }
    json_decref (parameters);
    return rc;
}

int
executor_secret_pack_open (executor_secret_t *self, const msgpack_object *parameters,
                           msgpack_packer *pk, char *message, size_t size)
{
    if (!self || !executor_secret_any (parameters))
        return 0;
    json_t *opened = proto_json_from_msgpack (parameters, "parameters", NULL);
    int rc = opened && executor_secret_open (self, opened, message, size) == 0 &&
                     proto_json_to_msgpack (opened, pk, NULL) == PROTO_OK
                 ? 1
                 : -1;
    json_decref (opened);
    return rc;
}
