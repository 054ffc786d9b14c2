/*  worker_secrets: secret references resolved at the last moment
    (worker_secrets.h). */
#include "actors/worker/worker_secrets.h"
#include "bus/bus_client.h"
#include "proto/proto_secret.h"

#include <czmq.h>
#include <sodium.h>

struct _worker_secrets_t {
    bus_topology_t *topology;
    char source[300];
    bus_client_t *client; //  datastore.query, on first use
};

worker_secrets_t *
worker_secrets_new (bus_topology_t *topology, const char *source)
{
    worker_secrets_t *self = (worker_secrets_t *)zmalloc (sizeof (worker_secrets_t));
    self->topology = topology;
    snprintf (self->source, sizeof self->source, "%s", source);
    return self;
}

void
worker_secrets_destroy (worker_secrets_t **self_p)
{
    if (self_p && *self_p) {
        bus_client_destroy (&(*self_p)->client);
        free (*self_p);
        *self_p = NULL;
    }
}

//  The clear value of `scope`/`name` (a string: a secret's value is text),
//  or NULL with reason
static char *
s_ask (worker_secrets_t *self, const char *scope, const char *name, bool decrypt,
       char *reason, size_t size)
{
    const char *what = decrypt ? "secret" : "key";
    const char *endpoint =
        self->topology ? bus_topology_connect (self->topology, "datastore.query") : NULL;
    if (!self->client && endpoint) {
        self->client = bus_client_new (self->source);
        if (self->client && bus_client_connect (self->client, endpoint) != 0)
            bus_client_destroy (&self->client);
        if (self->client)
            bus_client_set_timeout (self->client, WORKER_SECRETS_TIMEOUT_MS);
    }
    if (!self->client) {
        snprintf (reason, size, "%s st2kv.%s.%s: cannot reach the datastore", what,
                  strncmp (scope, "user:", 5) == 0 ? "user" : "system", name);
        return NULL;
    }
    bool user = strncmp (scope, "user:", 5) == 0;
    json_t *payload = json_pack ("{s:s, s:s, s:b}", "name", name, "scope",
                                 user ? "user" : "system", "decrypt", decrypt);
    if (user)
        json_object_set_new (payload, "user", json_string (scope + 5));
    json_t *key = bus_client_request (self->client, "api.key.get", &payload);
    const char *value = json_string_value (json_object_get (key, "value"));
    char *clear = value ? strdup (value) : NULL;
    if (!key)
        snprintf (reason, size, "%s st2kv.%s.%s: %s: %s", what, user ? "user" : "system",
                  name, bus_client_code (self->client),
                  bus_client_message (self->client));
    else if (!clear)
        snprintf (reason, size, "%s st2kv.%s.%s: the datastore gave no value", what,
                  user ? "user" : "system", name);
    if (key && value) //  the reply's copy of the clear value: wiped
        sodium_memzero ((char *)value, strlen (value));
    json_decref (key);
    return clear;
}

//  Append `text` to `out`, with ' written '\'' when `quoted`
static int
s_append (char **out, size_t *len, const char *text, size_t n, bool quoted)
{
    for (size_t i = 0; i < n; i++) {
        const char *piece = quoted && text[i] == '\'' ? "'\\''" : text + i;
        size_t k = quoted && text[i] == '\'' ? 4 : 1;
        char *grown = (char *)realloc (*out, *len + k + 1);
        if (!grown)
            return -1;
        memcpy (grown + *len, piece, k);
        *len += k;
        grown[*len] = 0;
        *out = grown;
    }
    return 0;
}

//  `text` with its references resolved: new string, or NULL with reason
static char *
s_resolve_text (worker_secrets_t *self, const char *text, bool quoted, char *reason,
                size_t size)
{
    char *out = strdup ("");
    size_t len = 0;
    const char *p = text;
    for (const char *ref = proto_secret_find (p); out && ref;
         ref = proto_secret_find (p)) {
        bool decrypt = strncmp (ref, PROTO_SECRET_OPEN, strlen (PROTO_SECRET_OPEN)) == 0;
        const char *body =
            ref + strlen (decrypt ? PROTO_SECRET_OPEN : PROTO_SECRET_KV_OPEN);
        const char *end = strchr (body, PROTO_SECRET_CLOSE);
        const char *colon = end;
        while (colon && colon > body && *colon != ':')
            colon--;
        const char *scope = body + PROTO_SECRET_NONCE_LEN + 1;
        if (!end || !colon || colon <= scope || end - colon - 1 > PROTO_SECRET_NAME_MAX ||
            end - colon < 2 || body[PROTO_SECRET_NONCE_LEN] != ':') {
            snprintf (reason, size, "a malformed secret reference in the parameters");
            sodium_memzero (out, len);
            free (out);
            return NULL;
        }
        char scope_s[600], name[PROTO_SECRET_NAME_MAX + 1];
        snprintf (scope_s, sizeof scope_s, "%.*s", (int)(colon - scope), scope);
        snprintf (name, sizeof name, "%.*s", (int)(end - colon - 1), colon + 1);
        char *clear = s_ask (self, scope_s, name, decrypt, reason, size);
        if (!clear || s_append (&out, &len, p, (size_t)(ref - p), false) != 0 ||
            s_append (&out, &len, clear, strlen (clear), quoted) != 0) {
            if (clear)
                snprintf (reason, size, "out of memory resolving a secret");
            if (clear)
                sodium_memzero (clear, strlen (clear));
            free (clear);
            if (out)
                sodium_memzero (out, len);
            free (out);
            return NULL;
        }
        sodium_memzero (clear, strlen (clear));
        free (clear);
        p = end + 1;
    }
    if (out && s_append (&out, &len, p, strlen (p), false) != 0) {
        sodium_memzero (out, len);
        free (out);
        out = NULL;
    }
    if (!out)
        snprintf (reason, size, "out of memory resolving a secret");
    return out;
}

static int
s_walk (worker_secrets_t *self, json_t *value, bool shell, int depth, char *reason,
        size_t size)
{
    const char *key;
    json_t *item;
    size_t i;
    if (depth > 64)
        return 0;
    if (json_is_object (value))
        json_object_foreach (value, key, item)
        {
            if (json_is_string (item) && proto_secret_find (json_string_value (item))) {
                char *text = s_resolve_text (self, json_string_value (item),
                                             shell && depth == 0 && streq (key, "cmd"),
                                             reason, size);
                if (!text)
                    return -1;
                json_object_set_new (value, key, json_string (text));
                sodium_memzero (text, strlen (text));
                free (text);
            } else if (s_walk (self, item, shell, depth + 1, reason, size) != 0)
                return -1;
        }
    else if (json_is_array (value))
        json_array_foreach (value, i, item)
        {
            if (json_is_string (item) && proto_secret_find (json_string_value (item))) {
                char *text =
                    s_resolve_text (self, json_string_value (item), false, reason, size);
                if (!text)
                    return -1;
                json_array_set_new (value, i, json_string (text));
                sodium_memzero (text, strlen (text));
                free (text);
            } else if (s_walk (self, item, shell, depth + 1, reason, size) != 0)
                return -1;
        }
    return 0;
}

int
worker_secrets_resolve (worker_secrets_t *self, json_t *parameters, bool shell,
                        char *reason, size_t size)
{
    assert (self);
    return s_walk (self, parameters, shell, 0, reason, size);
}
