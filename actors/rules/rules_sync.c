/*  rules_sync: read-your-writes for definitions changed through the api
    (rules_sync.h).
*/
#include "actors/rules/rules_sync.h"
#include "proto/proto_messages.h"

typedef struct {
    uint64_t ticket; //  the deferred answer (actor_query_defer)
    char kind[16];   //  "rule" or "trigger"
    char ref[256];
    char change[PROTO_UUID_STR_SIZE];
    bool deleted;
    int64_t deadline; //  monotonic ms
} s_wait_t;

struct _rules_sync_t {
    actor_query_t *query;
    registry_client_t *registry;
    zlistx_t *waiting; //  s_wait_t, oldest first
};

static void
s_wait_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

rules_sync_t *
rules_sync_new (actor_query_t *query, registry_client_t *registry)
{
    assert (query && registry);
    rules_sync_t *self = (rules_sync_t *)zmalloc (sizeof (rules_sync_t));
    self->query = query;
    self->registry = registry;
    self->waiting = zlistx_new ();
    if (!self->waiting) {
        free (self);
        return NULL;
    }
    zlistx_set_destructor (self->waiting, s_wait_destroy);
    return self;
}

void
rules_sync_destroy (rules_sync_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        rules_sync_t *self = *self_p;
        zlistx_destroy (&self->waiting);
        free (self);
        *self_p = NULL;
    }
}

//  Whether the registry copy holds the change
static bool
s_applied (rules_sync_t *self, const s_wait_t *wait)
{
    const json_t *definition =
        registry_client_get (self->registry, wait->kind, wait->ref);
    if (wait->deleted)
        return definition == NULL;
    const char *change = json_string_value (json_object_get (definition, "change"));
    return change && streq (change, wait->change);
}

void
rules_sync_request (rules_sync_t *self, json_t *payload, actor_answer_t *answer)
{
    assert (self);
    const char *kind = json_string_value (json_object_get (payload, "kind"));
    const char *ref = json_string_value (json_object_get (payload, "ref"));
    const char *change = json_string_value (json_object_get (payload, "change"));
    if (kind && !streq (kind, "rule") && !streq (kind, "trigger")) {
        actor_query_fail (answer, "bad_request",
                          "kind: \"rule\" or \"trigger\", not \"%s\"", kind);
        return;
    }
    s_wait_t *wait = (s_wait_t *)zmalloc (sizeof (s_wait_t));
    snprintf (wait->kind, sizeof wait->kind, "%s", kind ? kind : "rule");
    snprintf (wait->ref, sizeof wait->ref, "%s", ref ? ref : "");
    snprintf (wait->change, sizeof wait->change, "%s", change ? change : "");
    wait->deleted = json_is_true (json_object_get (payload, "deleted"));
    if (s_applied (self, wait)) {
        answer->result = json_pack ("{s:s}", "ref", wait->ref);
        free (wait);
        return;
    }
    wait->ticket = actor_query_defer (self->query, answer, RULES_SYNC_TIMEOUT_MS + 1000);
    wait->deadline = zclock_mono () + RULES_SYNC_TIMEOUT_MS;
    zlistx_add_end (self->waiting, wait);
}

void
rules_sync_check (rules_sync_t *self)
{
    assert (self);
    if (zlistx_size (self->waiting) == 0)
        return;
    int64_t now = zclock_mono ();
    void *handle = zlistx_first (self->waiting) ? zlistx_cursor (self->waiting) : NULL;
    while (handle) {
        s_wait_t *wait = (s_wait_t *)zlistx_handle_item (handle);
        void *next = zlistx_next (self->waiting) ? zlistx_cursor (self->waiting) : NULL;
        if (s_applied (self, wait))
            actor_query_reply (self->query, wait->ticket,
                               json_pack ("{s:s}", "ref", wait->ref), NULL, NULL);
        else if (now >= wait->deadline) {
            char message[600];
            snprintf (message, sizeof message,
                      "the rules actor has not seen change %s of %s %s within %d ms",
                      wait->change, wait->kind, wait->ref, RULES_SYNC_TIMEOUT_MS);
            actor_query_reply (self->query, wait->ticket, NULL, "unavailable", message);
        } else
            wait = NULL; //  still waiting
        if (wait)
            zlistx_delete (self->waiting, handle);
        handle = next;
    }
}

size_t
rules_sync_waiting (rules_sync_t *self)
{
    assert (self);
    return zlistx_size (self->waiting);
}
