/*  registry_client: a replicated copy of the registry (registry_client.h).
*/
#include "actors/registry/registry_client.h"
#include "actors/registry/registry_runners.h"
#include "bus/bus_client.h"
#include "bus/bus_facts.h"
#include "proto/proto_envelope.h"

#include <inttypes.h>

#define S_RETRY_MS    1000   //  snapshot request with no end: ask again
#define S_MAX_PENDING 100000 //  facts kept while a snapshot loads

typedef struct {
    uint64_t publisher;
    uint64_t seq;
    proto_envelope_t *envelope;
} s_pending_t;

struct _registry_client_t {
    char *source;
    bus_sub_t *sub;
    bus_client_t *snapshot; //  to registry.snapshot
    json_t *cache;          //  kind -> {ref -> definition}
    json_t *keep;           //  kind kept -> {field -> true (only) / false (dropped)}
    json_t *interned;       //  hash of canonical JSON -> the one copy shared
    json_t *loading;        //  the snapshot being received, same shape
    bool requesting;
    int64_t requested_at; //  monotonic ms
    bool synced;
    uint64_t publisher; //  the stream the cache follows
    uint64_t last_seq;
    zlist_t *pending; //  s_pending_t facts that arrived during a snapshot
    registry_change_fn *change_fn;
    void *change_arg;
    uint64_t version;
    uint64_t snapshots;
};

static const char *s_kinds[] = {"pack", "trigger", "action", "rule", "policy", "sensor"};

static json_t *
s_empty_cache (void)
{
    json_t *cache = json_object ();
    for (size_t k = 0; k < sizeof s_kinds / sizeof s_kinds[0]; k++)
        json_object_set_new (cache, s_kinds[k], json_object ());
    return cache;
}

static void
s_pending_destroy (void **item_p)
{
    s_pending_t *pending = (s_pending_t *)*item_p;
    if (pending) {
        proto_envelope_destroy (&pending->envelope);
        free (pending);
        *item_p = NULL;
    }
}

static void
s_pending_purge (registry_client_t *self)
{
    void *item;
    while ((item = zlist_pop (self->pending)))
        s_pending_destroy (&item);
}

static void
s_request (registry_client_t *self)
{
    proto_envelope_t *request =
        proto_envelope_new ("registry.snapshot.request", self->source);
    if (!request)
        return;
    json_t *payload = json_pack ("{s:[]}", "kinds");
    const char *kind;
    json_t *fields;
    json_object_foreach (self->keep, kind, fields)
    {
        json_array_append_new (json_object_get (payload, "kinds"), json_string (kind));
    }
    proto_envelope_set_payload_json (request, payload, NULL);
    json_decref (payload);
    //  A new id: a late answer to an earlier request is skipped
    bus_client_forget (self->snapshot, NULL);
    if (bus_client_send (self->snapshot, &request) != 0)
        zsys_warning ("%s: cannot ask for a snapshot: %s", self->source,
                      bus_client_message (self->snapshot));
    proto_envelope_destroy (&request);
    json_decref (self->loading);
    self->loading = s_empty_cache ();
    //  What the new snapshot's definitions share (the old ones keep theirs)
    json_decref (self->interned);
    self->interned = json_object ();
    self->requesting = true;
    self->requested_at = zclock_mono ();
}

static void
s_on_skip (void *arg, bus_client_skip_t why, const char *text)
{
    //  Answers to an older request are expected; anything else is not
    if (why != BUS_CLIENT_SKIP_STALE)
        zsys_warning ("%s: bad snapshot reply: %s", (const char *)arg, text);
}

static bool
s_kind_known (const char *kind)
{
    for (size_t k = 0; k < sizeof s_kinds / sizeof s_kinds[0]; k++)
        if (streq (s_kinds[k], kind))
            return true;
    return false;
}

//  Parse one item of a keep spec ("kind", "kind:f1,f2", "kind:-f1") into
//  `keep`. 0 or -1 with a warning.
static int
s_keep_item (json_t *keep, char *item)
{
    char *fields = strchr (item, ':');
    if (fields)
        *fields++ = 0;
    size_t length = fields ? strlen (fields) : 1;
    if (!s_kind_known (item) || length == 0 ||
        (fields &&
         (fields[0] == ',' || fields[length - 1] == ',' || strstr (fields, ",,")))) {
        zsys_error ("registry_client: keep: bad item \"%s\"", item);
        return -1;
    }
    json_t *spec = json_object ();
    json_object_set_new (keep, item, spec);
    char *save = NULL;
    for (char *field = fields ? strtok_r (fields, ",", &save) : NULL; field;
         field = strtok_r (NULL, ",", &save)) {
        bool drop = *field == '-';
        if (!field[drop]) {
            zsys_error ("registry_client: keep: %s: empty field", item);
            return -1;
        }
        json_object_set_new (spec, field + drop, json_boolean (!drop));
    }
    return 0;
}

//  The keep spec as kind -> {field -> kept}; NULL for everything (`text`
//  NULL) or on a malformed spec (`*bad` set).
static json_t *
s_keep_parse (const char *text, bool *bad)
{
    *bad = false;
    if (!text)
        return NULL;
    json_t *keep = json_object ();
    char *copy = strdup (text);
    char *save = NULL;
    for (char *item = copy ? strtok_r (copy, " ", &save) : NULL; item && !*bad;
         item = strtok_r (NULL, " ", &save))
        *bad = s_keep_item (keep, item) != 0;
    *bad = *bad || !copy || json_object_size (keep) == 0;
    free (copy);
    if (*bad)
        json_decref (keep);
    return *bad ? NULL : keep;
}

registry_client_t *
registry_client_new (bus_topology_t *topology, const char *name)
{
    return registry_client_new_keeping (topology, name, NULL);
}

registry_client_t *
registry_client_new_keeping (bus_topology_t *topology, const char *name, const char *keep)
{
    assert (topology);
    assert (name);
    bool bad;
    json_t *kept = s_keep_parse (keep, &bad);
    if (bad)
        return NULL;
    registry_client_t *self = (registry_client_t *)zmalloc (sizeof (registry_client_t));
    self->keep = kept;
    self->source = strdup (name);
    self->cache = s_empty_cache ();
    self->pending = zlist_new ();
    self->sub = bus_sub_new (0);
    self->snapshot = bus_client_new (name);
    if (!self->source || !self->cache || !self->pending || !self->sub ||
        !self->snapshot) {
        registry_client_destroy (&self);
        return NULL;
    }
    char routing[300];
    snprintf (routing, sizeof routing, "%s/registry", name);
    bus_client_set_identity (self->snapshot, routing);
    bus_client_set_unbounded (self->snapshot); //  a snapshot arrives whole
    bus_client_set_skip_handler (self->snapshot, s_on_skip, self->source);
    //  Subscribe first, then ask for the snapshot (Clone): nothing falls
    //  between the two.
    if (bus_sub_connect (self->sub, bus_topology_connect (topology, "registry.facts")) !=
            0 ||
        bus_sub_subscribe (self->sub, "registry.") != 0 ||
        bus_client_connect (self->snapshot,
                            bus_topology_connect (topology, "registry.snapshot")) != 0) {
        registry_client_destroy (&self);
        return NULL;
    }
    s_request (self);
    return self;
}

void
registry_client_destroy (registry_client_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        registry_client_t *self = *self_p;
        bus_sub_destroy (&self->sub);
        bus_client_destroy (&self->snapshot);
        json_decref (self->cache);
        json_decref (self->loading);
        json_decref (self->keep);
        json_decref (self->interned);
        if (self->pending)
            s_pending_purge (self);
        zlist_destroy (&self->pending);
        free (self->source);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
registry_client_sub_sock (registry_client_t *self)
{
    assert (self);
    return bus_sub_sock (self->sub);
}

zsock_t *
registry_client_snapshot_sock (registry_client_t *self)
{
    assert (self);
    return bus_client_sock (self->snapshot);
}

static void
s_changed (registry_client_t *self, const char *kind, const char *ref,
           const json_t *definition)
{
    self->version++;
    if (self->change_fn)
        (self->change_fn) (self->change_arg, kind, ref, definition);
}

//  Apply one fact to the cache. Types: registry.<kind>.updated / .deleted
//  An action's parameters that are its runner's unchanged, shared with the
//  runner table (read only, process-wide constants, registry_runners.h) as
//  the registry's catalog shares them: a replica of a big pack holds one
//  copy of each runner's specs, not one per action.
static void
s_share_runner_specs (const char *kind, json_t *definition)
{
    json_t *parameters = json_object_get (definition, "parameters");
    const json_t *runner = streq (kind, "action") && json_is_object (parameters)
                               ? registry_runners_parameters (json_string_value (
                                     json_object_get (definition, "runner_type")))
                               : NULL;
    const char *name;
    json_t *spec;
    json_object_foreach ((json_t *)runner, name, spec)
    {
        json_t *own = json_object_get (parameters, name);
        if (own && own != spec && json_equal (own, spec))
            json_object_set (parameters, name, spec);
    }
}

//  The descriptions of an action's own parameters (those shared with the
//  runner table are constants, left as they are)
static void
s_drop_parameter_descriptions (json_t *definition)
{
    const json_t *runner = registry_runners_parameters (
        json_string_value (json_object_get (definition, "runner_type")));
    const char *name;
    json_t *spec;
    json_object_foreach (json_object_get (definition, "parameters"), name, spec)
    {
        if (json_is_object (spec) && spec != json_object_get (runner, name))
            json_object_del (spec, "description");
    }
}

//  The one copy of `value` this replica's definitions share (read only, as
//  all definitions are): a new reference
static json_t *
s_interned (registry_client_t *self, json_t *value)
{
    //  Keyed by a hash of the canonical JSON (a key as long as the value
    //  would cost what sharing saves); a collision is not shared
    char *text = json_dumps (value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!text)
        return json_incref (value);
    uint64_t hash = 14695981039346656037ULL; //  FNV-1a
    for (const char *c = text; *c; c++)
        hash = (hash ^ (unsigned char)*c) * 1099511628211ULL;
    free (text);
    char key[17];
    snprintf (key, sizeof key, "%016" PRIx64, hash);
    json_t *shared = json_object_get (self->interned, key);
    if (!shared)
        json_object_set (self->interned, key, shared = value);
    return json_incref (json_equal (shared, value) ? shared : value);
}

//  An action's own parameter specs, its pack and runner names, its pack's
//  folder and its entry point are mostly the same as other actions' (type:
//  string, required: true ...): one copy of each, shared
static void
s_share_action_values (registry_client_t *self, json_t *definition)
{
    const json_t *runner = registry_runners_parameters (
        json_string_value (json_object_get (definition, "runner_type")));
    json_t *parameters = json_object_get (definition, "parameters");
    const char *name;
    json_t *spec;
    json_object_foreach (parameters, name, spec)
    {
        if (spec != json_object_get (runner, name))
            json_object_set_new (parameters, name, s_interned (self, spec));
    }
    const char *shared[] = {"pack", "runner_type", "pack_dir", "entry_point"};
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        json_t *value = json_object_get (definition, shared[i]);
        if (value)
            json_object_set_new (definition, shared[i], s_interned (self, value));
    }
}

//  What is kept of a definition of `kind` (a new reference: the definition
//  itself cut to the fields kept, or a new object of only the fields named),
//  NULL for a kind not kept.
static json_t *
s_keep (registry_client_t *self, const char *kind, json_t *definition)
{
    json_t *fields = self->keep ? json_object_get (self->keep, kind) : NULL;
    if (self->keep && !fields)
        return NULL;
    bool only = false;
    const char *field;
    json_t *value;
    void *tmp;
    json_object_foreach (fields, field, value)
    {
        only = only || json_is_true (value);
    }
    json_t *kept = only ? json_object () : json_incref (definition);
    json_object_foreach_safe (definition, tmp, field, value)
    {
        json_t *rule = json_object_get (fields, field);
        if (only &&
            (json_is_true (rule) || streq (field, "ref") || streq (field, "change")))
            json_object_set (kept, field, value);
        else if (!only && json_is_false (rule))
            json_object_del (kept, field);
    }
    s_share_runner_specs (kind, kept);
    if (json_is_false (json_object_get (fields, "description")))
        s_drop_parameter_descriptions (kept);
    if (streq (kind, "action"))
        s_share_action_values (self, kept);
    return kept;
}

static void
s_apply_fact (registry_client_t *self, proto_envelope_t *fact)
{
    const char *type = proto_envelope_type (fact);
    char kind[32], verb[32];
    if (sscanf (type, "registry.%31[a-z].%31[a-z]", kind, verb) != 2)
        return;
    json_t *table = json_object_get (self->cache, kind);
    if (!table || (self->keep && !json_object_get (self->keep, kind)))
        return; //  a kind not kept
    json_t *payload = proto_envelope_payload_json (fact, NULL);
    const char *ref =
        payload ? json_string_value (json_object_get (payload, "ref")) : NULL;
    if (ref) {
        if (streq (verb, "updated")) {
            json_t *definition = json_object_get (payload, "definition");
            if (json_is_object (definition)) {
                definition = s_keep (self, kind, definition);
                json_object_set_new (table, ref, definition);
                s_changed (self, kind, ref, definition);
            }
        } else if (streq (verb, "deleted") && json_object_get (table, ref)) {
            json_object_del (table, ref);
            s_changed (self, kind, ref, NULL);
        }
    }
    json_decref (payload);
}

//  The snapshot is complete: swap it in, reporting differences, then apply
//  the facts newer than it.
static void
s_snapshot_done (registry_client_t *self, uint64_t publisher, uint64_t seq)
{
    bus_client_forget (self->snapshot, NULL); //  what comes after the end is stale
    json_t *old = self->cache;
    self->cache = self->loading;
    self->loading = NULL;
    self->requesting = false;
    self->synced = true;
    self->snapshots++;
    self->publisher = publisher;
    self->last_seq = seq;
    for (size_t k = 0; k < sizeof s_kinds / sizeof s_kinds[0]; k++) {
        json_t *before = json_object_get (old, s_kinds[k]);
        json_t *after = json_object_get (self->cache, s_kinds[k]);
        const char *ref;
        json_t *definition;
        json_object_foreach (after, ref, definition)
        {
            if (!json_equal (json_object_get (before, ref), definition))
                s_changed (self, s_kinds[k], ref, definition);
        }
        json_object_foreach (before, ref, definition)
        {
            if (!json_object_get (after, ref))
                s_changed (self, s_kinds[k], ref, NULL);
        }
    }
    json_decref (old);
    //  Facts received meanwhile: those past the snapshot, in order
    s_pending_t *pending;
    while ((pending = (s_pending_t *)zlist_pop (self->pending))) {
        if (pending->publisher == self->publisher && pending->seq > self->last_seq) {
            if (pending->seq != self->last_seq + 1) {
                //  A hole between the snapshot and the facts: start again
                void *item = pending;
                s_pending_destroy (&item);
                s_pending_purge (self);
                s_request (self);
                return;
            }
            s_apply_fact (self, pending->envelope);
            self->last_seq = pending->seq;
        }
        void *item = pending;
        s_pending_destroy (&item);
    }
}

static void
s_handle_facts (registry_client_t *self)
{
    while (true) {
        bus_fact_info_t info;
        proto_envelope_t *fact = bus_sub_recv (self->sub, &info, 0);
        if (!fact)
            break;
        if (self->requesting) {
            if (zlist_size (self->pending) >= S_MAX_PENDING) {
                //  Too much changed while loading: start over
                s_pending_purge (self);
                s_request (self);
            }
            s_pending_t *pending = (s_pending_t *)zmalloc (sizeof (s_pending_t));
            pending->publisher = info.publisher & INT64_MAX;
            pending->seq = info.seq;
            pending->envelope = fact;
            zlist_append (self->pending, pending);
            continue;
        }
        uint64_t publisher = info.publisher & INT64_MAX;
        if (publisher == self->publisher && info.seq == self->last_seq + 1) {
            s_apply_fact (self, fact);
            self->last_seq = info.seq;
        } else if (publisher == self->publisher && info.seq <= self->last_seq)
            ; //  already in the snapshot
        else {
            //  A gap, or the registry restarted: resynchronise
            zsys_info ("%s: registry stream %s (seq %" PRIu64 " after %" PRIu64
                       "): taking a new snapshot",
                       self->source, publisher == self->publisher ? "gap" : "restarted",
                       info.seq, self->last_seq);
            s_request (self);
            s_pending_t *pending = (s_pending_t *)zmalloc (sizeof (s_pending_t));
            pending->publisher = publisher;
            pending->seq = info.seq;
            pending->envelope = fact;
            zlist_append (self->pending, pending);
            continue;
        }
        proto_envelope_destroy (&fact);
    }
}

static void
s_handle_snapshot (registry_client_t *self)
{
    proto_envelope_t *reply;
    while ((reply = bus_client_recv (self->snapshot))) {
        json_t *payload = proto_envelope_payload_json (reply, NULL);
        if (payload && streq (proto_envelope_type (reply), "registry.snapshot.item")) {
            const char *kind = json_string_value (json_object_get (payload, "kind"));
            const char *ref = json_string_value (json_object_get (payload, "ref"));
            json_t *definition = json_object_get (payload, "definition");
            json_t *table = kind ? json_object_get (self->loading, kind) : NULL;
            json_t *kept = table && ref && json_is_object (definition)
                               ? s_keep (self, kind, definition)
                               : NULL;
            if (kept)
                json_object_set_new (table, ref, kept);
            //  Items of the current request arrive: it has an answer, and a
            //  big snapshot that takes more than S_RETRY_MS is not asked again
            self->requested_at = zclock_mono ();
        } else if (payload &&
                   streq (proto_envelope_type (reply), "registry.snapshot.end")) {
            uint64_t seq =
                (uint64_t)json_integer_value (json_object_get (payload, "seq"));
            uint64_t publisher =
                (uint64_t)json_integer_value (json_object_get (payload, "publisher"));
            s_snapshot_done (self, publisher, seq);
        }
        json_decref (payload);
        proto_envelope_destroy (&reply);
    }
}

int
registry_client_handle (registry_client_t *self, zsock_t *which)
{
    assert (self);
    if (which == bus_sub_sock (self->sub))
        s_handle_facts (self);
    else if (which == bus_client_sock (self->snapshot))
        s_handle_snapshot (self);
    return 0;
}

void
registry_client_tick (registry_client_t *self)
{
    assert (self);
    if (self->requesting && zclock_mono () - self->requested_at >= S_RETRY_MS) {
        //  The registry may not have been up yet: ask again (a new id, so a
        //  late answer to the old request is ignored)
        s_pending_purge (self);
        s_request (self);
    }
}

int
registry_client_timeout (registry_client_t *self)
{
    assert (self);
    if (!self->requesting)
        return -1;
    int64_t left = self->requested_at + S_RETRY_MS - zclock_mono ();
    return left < 0 ? 0 : (int)left;
}

bool
registry_client_synced (registry_client_t *self)
{
    assert (self);
    return self->synced;
}

int
registry_client_wait_synced (registry_client_t *self, int timeout_ms)
{
    assert (self);
    int64_t deadline = zclock_mono () + timeout_ms;
    zpoller_t *poller =
        zpoller_new (bus_sub_sock (self->sub), bus_client_sock (self->snapshot), NULL);
    while (!self->synced) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        int wait = registry_client_timeout (self);
        if (wait < 0 || wait > left)
            wait = (int)left;
        zsock_t *which = (zsock_t *)zpoller_wait (poller, wait);
        if (which)
            registry_client_handle (self, which);
        else if (zpoller_terminated (poller))
            break;
        registry_client_tick (self);
    }
    zpoller_destroy (&poller);
    return self->synced ? 0 : -1;
}

void
registry_client_set_change_handler (registry_client_t *self, registry_change_fn *fn,
                                    void *arg)
{
    assert (self);
    self->change_fn = fn;
    self->change_arg = arg;
}

const json_t *
registry_client_get (registry_client_t *self, const char *kind, const char *ref)
{
    assert (self);
    return json_object_get (json_object_get (self->cache, kind), ref);
}

const json_t *
registry_client_all (registry_client_t *self, const char *kind)
{
    assert (self);
    return json_object_get (self->cache, kind);
}

uint64_t
registry_client_version (registry_client_t *self)
{
    assert (self);
    return self->version;
}

uint64_t
registry_client_snapshots (registry_client_t *self)
{
    assert (self);
    return self->snapshots;
}
