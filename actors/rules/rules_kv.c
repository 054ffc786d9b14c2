/*  rules_kv: the datastore's keys in rule templates (rules_kv.h).
*/
#include "actors/rules/rules_kv.h"
#include "bus/bus_client.h"
#include "bus/bus_facts.h"
#include "proto/proto_secret.h"

#include <czmq.h>
#include <stdint.h>

#define S_MASK     "********"
#define S_PAGE     1000
#define S_NAME_MAX 512

struct _rules_kv_t {
    bus_topology_t *topology;
    char source[300];
    bus_sub_t *sub;
    bus_client_t *client; //  datastore.query, on first use
    json_t *keys;         //  "scope\x1fname" -> {value?, secret, at}
    json_t *loaded;       //  scope -> true: its keys are all in `keys`
    json_t *rendered;     //  rule ref -> {params, generation, st2kv}: reused
                          //  while no key changed (none decrypted)
    uint64_t generation;  //  one more at every change of `keys`
    bool no_reuse;        //  this rendering decrypted a secret: not kept
    char nonce[PROTO_SECRET_NONCE_LEN + 1]; //  of this rendering's references, or ""
    int64_t down_until; //  monotonic ms: the datastore did not answer, fail fast
    uint64_t loads, secret_reads, facts, gaps;
};

static void
s_on_gap (void *arg, uint64_t publisher, uint64_t expected, uint64_t received)
{
    rules_kv_t *self = (rules_kv_t *)arg;
    //  Facts were missed: every scope is loaded again when next needed
    json_object_clear (self->loaded);
    json_object_clear (self->keys);
    self->generation++;
    self->gaps++;
}

rules_kv_t *
rules_kv_new (bus_topology_t *topology, const char *source)
{
    rules_kv_t *self = (rules_kv_t *)zmalloc (sizeof (rules_kv_t));
    self->topology = topology;
    snprintf (self->source, sizeof self->source, "%s", source);
    self->keys = json_object ();
    self->loaded = json_object ();
    self->rendered = json_object ();
    self->sub = bus_sub_new (100000);
    if (!self->sub ||
        bus_sub_connect (self->sub, bus_topology_connect (topology, "datastore.facts")) ||
        bus_sub_subscribe (self->sub, "kv.")) {
        rules_kv_destroy (&self);
        return NULL;
    }
    bus_sub_set_gap_handler (self->sub, s_on_gap, self);
    return self;
}

void
rules_kv_destroy (rules_kv_t **self_p)
{
    if (self_p && *self_p) {
        rules_kv_t *self = *self_p;
        bus_sub_destroy (&self->sub);
        bus_client_destroy (&self->client);
        json_decref (self->keys);
        json_decref (self->loaded);
        json_decref (self->rendered);
        free (self);
        *self_p = NULL;
    }
}

static void
s_key (const char *scope, const char *name, char *out, size_t size)
{
    snprintf (out, size, "%s\x1f%s", scope, name);
}

//  Apply one fact of a loaded scope; one older than what the cache holds
//  (a snapshot taken after it) changes nothing
static void
s_apply (rules_kv_t *self, proto_envelope_t *fact)
{
    json_t *payload = proto_envelope_payload_json (fact, NULL);
    const char *scope = json_string_value (json_object_get (payload, "scope"));
    const char *name = json_string_value (json_object_get (payload, "name"));
    if (scope && name && json_object_get (self->loaded, scope)) {
        char key[1024];
        s_key (scope, name, key, sizeof key);
        int64_t at = proto_envelope_ts (fact);
        json_t *held = json_object_get (self->keys, key);
        if (!held || json_integer_value (json_object_get (held, "at")) <= at) {
            if (streq (proto_envelope_type (fact), "kv.deleted"))
                json_object_del (self->keys, key);
            else
                json_object_set_new (self->keys, key,
                                     json_pack ("{s:O?, s:O, s:I}", "value",
                                                json_object_get (payload, "value"),
                                                "secret",
                                                json_object_get (payload, "secret"), "at",
                                                (json_int_t)at));
            self->facts++;
            self->generation++;
        }
    }
    json_decref (payload);
}

void
rules_kv_drain (rules_kv_t *self)
{
    for (int i = 0; i < 10000; i++) {
        proto_envelope_t *fact = bus_sub_recv (self->sub, NULL, 0);
        if (!fact)
            break;
        s_apply (self, fact);
        proto_envelope_destroy (&fact);
    }
}

//  One request to the datastore: its result, or NULL with `reason`
static json_t *
s_ask (rules_kv_t *self, const char *type, json_t *payload, char *reason, size_t size)
{
    if (zclock_mono () < self->down_until) {
        json_decref (payload); //  one wait per RULES_KV_RETRY_MS, not one per event
        snprintf (reason, size,
                  "st2kv: the datastore did not answer (asked again in %d ms)",
                  (int)(self->down_until - zclock_mono ()));
        return NULL;
    }
    if (!self->client) {
        self->client = bus_client_new (self->source);
        if (!self->client ||
            bus_client_connect (
                self->client, bus_topology_connect (self->topology, "datastore.query"))) {
            bus_client_destroy (&self->client);
            json_decref (payload);
            snprintf (reason, size, "st2kv: cannot reach the datastore");
            return NULL;
        }
        bus_client_set_timeout (self->client, RULES_KV_TIMEOUT_MS);
    }
    json_t *result = bus_client_request (self->client, type, &payload);
    if (!result)
        snprintf (reason, size, "st2kv: the datastore: %s: %s",
                  bus_client_code (self->client), bus_client_message (self->client));
    if (!result && streq (bus_client_code (self->client), "unavailable"))
        self->down_until = zclock_mono () + RULES_KV_RETRY_MS;
    return result;
}

//  Load every key of `scope` ("system" or "user:<id>"). 0, or -1 with reason
static int
s_load (rules_kv_t *self, const char *scope, char *reason, size_t size)
{
    rules_kv_drain (self); //  older facts first: the pages are newer
    json_object_set_new (self->loaded, scope, json_true ());
    char after[S_NAME_MAX + 1] = "";
    bool user = strncmp (scope, "user:", 5) == 0;
    do {
        json_t *payload =
            json_pack ("{s:s, s:i}", "scope", user ? "user" : "system", "limit", S_PAGE);
        if (user)
            json_object_set_new (payload, "user", json_string (scope + 5));
        if (after[0])
            json_object_set_new (payload, "after", json_string (after));
        json_t *page = s_ask (self, "api.key.list", payload, reason, size);
        if (!page) {
            json_object_del (self->loaded, scope);
            return -1;
        }
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (page, "items"), i, item)
        {
            char key[1024];
            s_key (scope, json_string_value (json_object_get (item, "name")), key,
                   sizeof key);
            bool secret = json_is_true (json_object_get (item, "secret"));
            json_object_set_new (
                self->keys, key,
                json_pack ("{s:O?, s:b, s:O}", "value",
                           secret ? NULL : json_object_get (item, "value"), "secret",
                           secret, "at", json_object_get (item, "updated_at")));
        }
        const char *next = json_string_value (json_object_get (page, "next"));
        snprintf (after, sizeof after, "%s", next ? next : "");
        json_decref (page);
    } while (after[0]);
    self->generation++;
    self->loads++;
    return 0;
}

//  A reference to a secret (proto_secret.h), never its clear value: the
//  worker asks the datastore for it when the action starts. The key's
//  existence was checked in the cache; its nonce is this rendering's.
static json_t *
s_secret (rules_kv_t *self, const char *scope, const char *name)
{
    if (!self->nonce[0]) {
        zuuid_t *uuid = zuuid_new ();
        if (!uuid)
            return NULL;
        snprintf (self->nonce, sizeof self->nonce, "%s", zuuid_str (uuid));
        zuuid_destroy (&uuid);
    }
    self->secret_reads++;
    char *text = zsys_sprintf ("%s%s:%s:%s%c", PROTO_SECRET_OPEN, self->nonce, scope,
                               name, PROTO_SECRET_CLOSE);
    json_t *value = text ? json_string (text) : NULL;
    zstr_free (&text);
    return value;
}

//  The value of one reference into `st2kv`; 0, or -1 with reason
static int
s_resolve (rules_kv_t *self, const char *scope, const char *name, bool decrypt,
           json_t *into, char *reason, size_t size)
{
    if (!json_object_get (self->loaded, scope) && s_load (self, scope, reason, size) != 0)
        return -1;
    char key[1024];
    s_key (scope, name, key, sizeof key);
    json_t *held = json_object_get (self->keys, key);
    if (!held) {
        snprintf (reason, size, "st2kv.%s.%s: no such key in the datastore (%s scope)",
                  strncmp (scope, "user:", 5) == 0 ? "user" : "system", name, scope);
        return -1;
    }
    bool secret = json_is_true (json_object_get (held, "secret"));
    if (secret && decrypt)
        self->no_reuse = true; //  a clear secret is never kept
    json_t *value = !secret   ? json_incref (json_object_get (held, "value"))
                    : decrypt ? s_secret (self, scope, name)
                              : json_string (S_MASK);
    if (!value) {
        snprintf (reason, size, "st2kv: out of memory");
        return -1;
    }
    json_object_set_new (into, name, value);
    return 0;
}

//  Every st2kv.<system|user>.NAME in `text`, resolved into `st2kv`
static int
s_scan_text (rules_kv_t *self, const char *text, const char *user, json_t *st2kv,
             char *reason, size_t size)
{
    for (const char *p = strstr (text, "st2kv."); p; p = strstr (p + 1, "st2kv.")) {
        const char *q = p + 6;
        bool system = strncmp (q, "system.", 7) == 0;
        if (!system && strncmp (q, "user.", 5) != 0)
            continue;
        q += system ? 7 : 5;
        size_t n = strspn (q, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789_-");
        if (n == 0 || n > S_NAME_MAX)
            continue;
        char name[S_NAME_MAX + 1], scope[300];
        memcpy (name, q, n);
        name[n] = 0;
        const char *after = q + n + strspn (q + n, " \t");
        bool decrypt = *after == '|' && strncmp (after + 1 + strspn (after + 1, " \t"),
                                                 "decrypt_kv", 10) == 0;
        snprintf (scope, sizeof scope, system ? "system" : "user:%s", user);
        json_t *into = json_object_get (st2kv, system ? "system" : "user");
        if (s_resolve (self, scope, name, decrypt, into, reason, size) != 0)
            return -1;
    }
    return 0;
}

//  Walk the strings of `value`; 1 when one names st2kv (`st2kv` NULL: only
//  look), -1 on a failed lookup
static int
s_walk (rules_kv_t *self, const json_t *value, const char *user, json_t *st2kv,
        char *reason, size_t size)
{
    int found = 0;
    if (json_is_string (value) && strstr (json_string_value (value), "st2kv.")) {
        if (st2kv &&
            s_scan_text (self, json_string_value (value), user, st2kv, reason, size) != 0)
            return -1;
        return 1;
    }
    const char *key;
    json_t *item;
    size_t i;
    if (json_is_object (value))
        json_object_foreach ((json_t *)value, key, item)
        {
            int rc = s_walk (self, item, user, st2kv, reason, size);
            if (rc < 0)
                return -1;
            found |= rc;
        }
    else if (json_is_array (value))
        json_array_foreach (value, i, item)
        {
            int rc = s_walk (self, item, user, st2kv, reason, size);
            if (rc < 0)
                return -1;
            found |= rc;
        }
    return found;
}

//  The st2kv of `params` (new reference), reused from the last rendering of
//  the rule while no key changed; NULL with reason
static json_t *
s_st2kv (rules_kv_t *self, const json_t *rule, const json_t *params, char *reason,
         size_t size)
{
    const char *ref = json_string_value (json_object_get (rule, "ref"));
    json_t *last = ref ? json_object_get (self->rendered, ref) : NULL;
    if (last &&
        json_integer_value (json_object_get (last, "params")) ==
            (json_int_t)(intptr_t)params &&
        (uint64_t)json_integer_value (json_object_get (last, "generation")) ==
            self->generation)
        return json_incref (json_object_get (last, "st2kv"));
    const char *user =
        json_string_value (json_object_get (json_object_get (rule, "context"), "user"));
    json_t *st2kv = json_pack ("{s:{}, s:{}}", "system", "user");
    self->no_reuse = false;
    if (s_walk (self, params, user && *user ? user : RULES_KV_USER, st2kv, reason, size) <
        0) {
        json_decref (st2kv);
        return NULL;
    }
    if (ref && !self->no_reuse)
        json_object_set_new (self->rendered, ref,
                             json_pack ("{s:I, s:I, s:O}", "params",
                                        (json_int_t)(intptr_t)params, "generation",
                                        (json_int_t)self->generation, "st2kv", st2kv));
    else if (ref)
        json_object_del (self->rendered, ref);
    return st2kv;
}

json_t *
rules_kv_context (rules_kv_t *self, const json_t *rule, const json_t *params,
                  const json_t *context, char *reason, size_t size)
{
    self->nonce[0] = 0; //  references of an earlier rendering are not this one's
    if (s_walk (self, params, NULL, NULL, reason, size) == 0)
        return json_incref ((json_t *)context); //  the hot path: no st2kv
    json_t *st2kv = s_st2kv (self, rule, params, reason, size);
    if (!st2kv)
        return NULL;
    //  Added to the event's context for this rendering (one thread; taken
    //  off again by rules_kv_done): no copy of the context per event
    json_object_set_new ((json_t *)context, "st2kv", st2kv);
    return json_incref ((json_t *)context);
}

void
rules_kv_done (json_t **context_p)
{
    if (context_p && *context_p) {
        json_object_del (*context_p, "st2kv");
        json_decref (*context_p);
        *context_p = NULL;
    }
}

//  Every reference in the strings of `value` is this rendering's; 0 or -1
static int
s_check (const rules_kv_t *self, const json_t *value, char *reason, size_t size)
{
    if (json_is_string (value)) {
        const size_t open = strlen (PROTO_SECRET_OPEN);
        for (const char *p = proto_secret_find (json_string_value (value)); p;
             p = proto_secret_find (p + 1))
            if (!self->nonce[0] || strncmp (p, PROTO_SECRET_OPEN, open) != 0 ||
                strncmp (p + open, self->nonce, PROTO_SECRET_NONCE_LEN) != 0) {
                snprintf (reason, size,
                          "action.parameters: a secret reference that this rule did not "
                          "render (refused: only `| decrypt_kv` makes one)");
                return -1;
            }
        return 0;
    }
    const char *key;
    json_t *item;
    size_t i;
    if (json_is_object (value))
        json_object_foreach ((json_t *)value, key, item)
        {
            if (s_check (self, item, reason, size) != 0)
                return -1;
        }
    else if (json_is_array (value))
        json_array_foreach (value, i, item)
        {
            if (s_check (self, item, reason, size) != 0)
                return -1;
        }
    return 0;
}

int
rules_kv_check (rules_kv_t *self, const json_t *rendered, char *reason, size_t size)
{
    int rc = s_check (self, rendered, reason, size);
    self->nonce[0] = 0; //  good for one rendering only
    return rc;
}

json_t *
rules_kv_status (rules_kv_t *self)
{
    return json_pack ("{s:I, s:I, s:I, s:I, s:I}", "loads", (json_int_t)self->loads,
                      "secret_reads", (json_int_t)self->secret_reads, "facts",
                      (json_int_t)self->facts, "gaps", (json_int_t)self->gaps, "cached",
                      (json_int_t)json_object_size (self->keys));
}
