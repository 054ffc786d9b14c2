/*  registry: the actor that owns definitions (registry.h).

    Runtime changes are kept in one table, "changes": rule ref (or
    "trigger:" + trigger type ref) -> the JSON text of its current
    definition, or {"deleted": true}. At start the
    packs are loaded from disk and these changes applied over them, so a rule
    created through the API survives a restart and a rule deleted through the
    API stays deleted even though its YAML file is still there.

    The state is registry_internal.h's; the answers on registry.query are
    registry_query.c's.
*/
#include "actors/registry/registry.h"
#include "actors/registry/registry_internal.h"
#include "actors/actor_effects.h"
#include "actors/actor_loop.h"
#include "actors/actor_query.h"
#include "actors/registry/registry_catalog.h"
#include "actors/registry/registry_pack.h"
#include "bus/bus_facts.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"
#include "bus/bus_security.h"
#include "proto/proto_json.h"
#include "proto/proto_messages.h"
#include "store/store.h"

#include <inttypes.h>
#include <unistd.h>

#define S_KINDS 6
static const char *s_kinds[S_KINDS] = {"pack", "trigger", "action",
                                       "rule", "policy",  "sensor"};

//  ---------------------------------------------------------------------------
//  Helpers

const json_t *
registry_all (registry_t *self, const char *kind)
{
    if (streq (kind, "pack"))
        return registry_catalog_packs (self->catalog);
    if (streq (kind, "trigger"))
        return registry_catalog_triggers (self->catalog);
    if (streq (kind, "action"))
        return NULL; //  packed: registry_catalog_packed_actions
    if (streq (kind, "policy"))
        return registry_catalog_policies (self->catalog);
    if (streq (kind, "sensor"))
        return registry_catalog_sensors (self->catalog);
    return registry_catalog_rules (self->catalog);
}

//  New envelope with a JSON payload (stolen). NULL on failure (logged).
static proto_envelope_t *
s_envelope (registry_t *self, const char *type, json_t *payload)
{
    proto_envelope_t *envelope = proto_envelope_new (type, self->source);
    proto_error_t error;
    if (envelope &&
        proto_envelope_set_payload_json (envelope, payload, &error) != PROTO_OK) {
        zsys_error ("registry: cannot encode %s: %s", type, error.message);
        proto_envelope_destroy (&envelope);
    }
    json_decref (payload);
    return envelope;
}

void
registry_publish (registry_t *self, const char *kind, const char *ref,
                  const json_t *definition)
{
    char type[64];
    snprintf (type, sizeof type, "registry.%s.%s", kind,
              definition ? "updated" : "deleted");
    json_t *payload = json_pack ("{s:s}", "ref", ref);
    if (definition)
        json_object_set (payload, "definition", (json_t *)definition);
    proto_envelope_t *envelope = s_envelope (self, type, payload);
    if (envelope) {
        bus_pub_send (self->pub, envelope);
        proto_envelope_destroy (&envelope);
    }
}

//  ---------------------------------------------------------------------------
//  Persisted runtime changes

//  The key of a change in the "changes" table: a rule's ref, or "trigger:"
//  and a trigger type's ref (a rule ref never holds ':').
#define S_TRIGGER_KEY "trigger:"

//  Apply one stored change (JSON text) of `kind` to the catalog.
static void
s_apply_change (registry_t *self, const char *kind, const char *ref, const char *data,
                size_t size)
{
    json_error_t jerror;
    json_t *definition = json_loadb (data, size, 0, &jerror);
    if (!definition) {
        zsys_error ("registry: stored change for %s '%s' is not JSON (%s): ignored", kind,
                    ref, jerror.text);
        return;
    }
    //  The command that made it (rules.sync answers a resent request by it)
    json_t *change = json_incref (json_object_get (definition, "change"));
    json_object_del (definition, "change");
    char message[1024];
    bool deleted = json_is_true (json_object_get (definition, "deleted"));
    if (streq (kind, "trigger") && deleted)
        registry_catalog_delete_trigger (self->catalog, ref, message, sizeof message);
    else if (streq (kind, "trigger") &&
             registry_catalog_put_trigger (self->catalog, definition, "store", message,
                                           sizeof message) != 0)
        zsys_error ("registry: stored trigger type '%s' no longer loads: %s", ref,
                    message);
    else if (streq (kind, "rule") && deleted)
        registry_catalog_delete_rule (self->catalog, ref);
    else if (streq (kind, "rule") &&
             registry_catalog_put_rule (self->catalog, definition, "store", message,
                                        sizeof message) != 0)
        zsys_error ("registry: stored rule '%s' no longer loads: %s", ref, message);
    const json_t *loaded = streq (kind, "rule")
                               ? registry_catalog_rule (self->catalog, ref)
                               : registry_catalog_trigger (self->catalog, ref);
    if (loaded && json_is_string (change))
        json_object_set ((json_t *)loaded, "change", change);
    json_decref (change);
    json_decref (definition);
}

//  Trigger types first: the rules stored after them may use them.
int
registry_apply_changes (registry_t *self)
{
    store_txn_t *txn = store_read_begin (self->store);
    if (!txn)
        return -1;
    int applied = 0;
    for (int pass = 0; pass < 2; pass++) {
        store_cursor_t *cursor = store_cursor_new (txn, self->changes);
        while (cursor && store_cursor_next (cursor) == STORE_OK) {
            size_t key_size, size;
            const char *key = (const char *)store_cursor_key (cursor, &key_size);
            const char *data = (const char *)store_cursor_data (cursor, &size);
            size_t prefix = strlen (S_TRIGGER_KEY);
            bool trigger = key_size > prefix && memcmp (key, S_TRIGGER_KEY, prefix) == 0;
            if (trigger != (pass == 0))
                continue;
            char ref[512];
            snprintf (ref, sizeof ref, "%.*s", (int)(key_size - (trigger ? prefix : 0)),
                      key + (trigger ? prefix : 0));
            s_apply_change (self, trigger ? "trigger" : "rule", ref, data, size);
            applied++;
        }
        store_cursor_destroy (&cursor);
    }
    store_read_end (&txn);
    return applied;
}

//  ---------------------------------------------------------------------------
//  Commands: registry.rule.put / enable / disable / delete,
//  registry.trigger.put / delete (proto/proto_messages.c has their payloads)

typedef struct {
    registry_t *self;
    const char *kind; //  "rule" or "trigger"
    char ref[512];
    json_t *definition; //  NULL when deleted
} s_change_t;

static void
s_change_dropped (void *ctx, void *arg)
{
    s_change_t *change = (s_change_t *)arg;
    json_decref (change->definition);
    free (change);
}

static void
s_change_committed (void *ctx, void *arg)
{
    s_change_t *change = (s_change_t *)arg;
    registry_publish (change->self, change->kind, change->ref, change->definition);
    s_change_dropped (ctx, arg);
}

//  Store `stored` (what a restart applies again) and publish `published`
//  (NULL: deleted) after the commit.
static int
s_store_change (store_txn_t *txn, registry_t *self, const char *kind, const char *ref,
                const json_t *stored, const json_t *published)
{
    char key[600];
    snprintf (key, sizeof key, "%s%s", streq (kind, "trigger") ? S_TRIGGER_KEY : "", ref);
    json_t *copy = json_deep_copy (stored);
    if (copy && json_object_get (published, "change"))
        json_object_set (copy, "change", json_object_get (published, "change"));
    char *text = copy ? json_dumps (copy, JSON_COMPACT) : NULL;
    json_decref (copy);
    if (!text)
        return -1;
    store_code_t code =
        store_put (txn, self->changes, key, strlen (key), text, strlen (text));
    free (text);
    if (code != STORE_OK)
        return -1;
    s_change_t *change = (s_change_t *)calloc (1, sizeof (s_change_t));
    if (!change)
        return -1;
    change->self = self;
    change->kind = streq (kind, "trigger") ? "trigger" : "rule";
    snprintf (change->ref, sizeof change->ref, "%s", ref);
    change->definition = published ? json_deep_copy (published) : NULL;
    if (actor_effects_attach (self->effects, self->store, txn) < 0 ||
        actor_effects_add (self->effects, s_change_committed, s_change_dropped, change) !=
            0) {
        s_change_dropped (self, change);
        return -1;
    }
    return 0;
}

//  Mark the catalog's definition with the command that changed it: the
//  rules actor answers rules.sync once its copy carries this mark.
static void
s_stamp (const json_t *definition, proto_envelope_t *command)
{
    char id[PROTO_UUID_STR_SIZE];
    proto_uuid_format (proto_envelope_id (command), id);
    json_object_set_new ((json_t *)definition, "change", json_string (id));
}

static int
s_rule_put (registry_t *self, store_txn_t *txn, proto_envelope_t *command,
            bus_command_t *info, const json_t *payload)
{
    const json_t *definition = json_object_get (payload, "definition");
    json_t *clean = json_deep_copy (definition);
    json_object_del (clean, "change");
    char message[1024];
    int rc = 0;
    if (registry_catalog_put_rule (self->catalog, clean, "request", message,
                                   sizeof message) != 0)
        rc = bus_command_reject (info, "invalid", "%s", message);
    else {
        //  The catalog normalised it: the ref is pack.name
        const char *name = json_string_value (json_object_get (clean, "name"));
        const char *pack = json_string_value (json_object_get (clean, "pack"));
        char ref[512];
        snprintf (ref, sizeof ref, "%s.%s", pack ? pack : "", name ? name : "");
        const json_t *rule = registry_catalog_rule (self->catalog, ref);
        if (!rule)
            rc = bus_command_reject (info, "invalid", "rule '%s' did not load", ref);
        else {
            s_stamp (rule, command);
            rc = s_store_change (txn, self, "rule", ref, clean, rule);
        }
    }
    json_decref (clean);
    return rc;
}

static int
s_rule_change (registry_t *self, store_txn_t *txn, proto_envelope_t *command,
               bus_command_t *info, const char *verb, const char *ref)
{
    const json_t *rule = registry_catalog_rule (self->catalog, ref);
    if (!rule)
        return bus_command_reject (info, "not_found", "rule '%s' does not exist", ref);
    if (streq (verb, "delete")) {
        json_t *tombstone = json_pack ("{s:b}", "deleted", 1);
        int rc = s_store_change (txn, self, "rule", ref, tombstone, NULL);
        json_decref (tombstone);
        if (rc == 0)
            registry_catalog_delete_rule (self->catalog, ref);
        return rc;
    }
    json_t *changed = json_deep_copy (rule);
    json_object_del (changed, "ref"); //  fields the catalog adds
    json_object_del (changed, "file");
    json_object_del (changed, "change");
    json_object_set_new (changed, "enabled", json_boolean (streq (verb, "enable")));
    char message[1024];
    int rc;
    if (registry_catalog_put_rule (self->catalog, changed, "request", message,
                                   sizeof message) != 0)
        rc = bus_command_reject (info, "invalid", "%s", message);
    else {
        rule = registry_catalog_rule (self->catalog, ref);
        s_stamp (rule, command);
        rc = s_store_change (txn, self, "rule", ref, changed, rule);
    }
    json_decref (changed);
    return rc;
}

static int
s_trigger_put (registry_t *self, store_txn_t *txn, proto_envelope_t *command,
               bus_command_t *info, const json_t *payload)
{
    json_t *clean = json_deep_copy (json_object_get (payload, "definition"));
    json_object_del (clean, "change");
    json_object_del (clean, "ref");
    char message[1024];
    int rc;
    rc = registry_catalog_put_trigger (self->catalog, clean, "request", message,
                                       sizeof message);
    if (rc != 0)
        rc = bus_command_reject (info, rc == -2 ? "conflict" : "invalid", "%s", message);
    else {
        char ref[600];
        snprintf (ref, sizeof ref, "%s.%s",
                  json_string_value (json_object_get (clean, "pack")),
                  json_string_value (json_object_get (clean, "name")));
        const json_t *trigger = registry_catalog_trigger (self->catalog, ref);
        s_stamp (trigger, command);
        rc = s_store_change (txn, self, "trigger", ref, clean, trigger);
    }
    json_decref (clean);
    return rc;
}

static int
s_trigger_delete (registry_t *self, store_txn_t *txn, bus_command_t *info,
                  const char *ref)
{
    char message[1024];
    int found =
        registry_catalog_delete_trigger (self->catalog, ref, message, sizeof message);
    if (found != 0)
        return bus_command_reject (info, found == -1 ? "not_found" : "conflict", "%s",
                                   message);
    json_t *tombstone = json_pack ("{s:b}", "deleted", 1);
    int rc = s_store_change (txn, self, "trigger", ref, tombstone, NULL);
    json_decref (tombstone);
    return rc;
}

static int
s_handle_command (void *arg, store_txn_t *txn, proto_envelope_t *command,
                  bus_command_t *info)
{
    registry_t *self = (registry_t *)arg;
    self->commands++;
    const char *type = proto_envelope_type (command);
    //  The payload checked against the message table, not by hand
    const proto_message_t *message = proto_message_lookup (type, PROTO_MESSAGE_COMMAND);
    if (!message || !streq (message->to, "registry.commands"))
        return bus_command_reject (info, "unknown_type",
                                   "the registry does not take '%s'", type);
    proto_error_t error;
    json_t *payload = NULL;
    if (proto_message_validate (message, proto_envelope_payload_object (command),
                                &error) != PROTO_OK ||
        !(payload = proto_envelope_payload_json (command, &error)))
        return bus_command_reject (info, "bad_request", "%s", error.message);
    const char *ref = json_string_value (json_object_get (payload, "ref"));
    int rc;
    if (streq (type, "registry.rule.put"))
        rc = s_rule_put (self, txn, command, info, payload);
    else if (streq (type, "registry.trigger.put"))
        rc = s_trigger_put (self, txn, command, info, payload);
    else if (streq (type, "registry.trigger.delete"))
        rc = s_trigger_delete (self, txn, info, ref);
    else //  registry.rule.enable, .disable, .delete
        rc = s_rule_change (self, txn, command, info, type + strlen ("registry.rule."),
                            ref);
    json_decref (payload);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Snapshots (zguide Clone): items, then an end carrying the sequence number

static int
s_send_reply (registry_t *self, zframe_t *routing, proto_envelope_t **envelope_p)
{
    msgpack_sbuffer_clear (&self->buffer);
    int rc = proto_envelope_encode (*envelope_p, &self->buffer);
    proto_envelope_destroy (envelope_p);
    if (rc != 0)
        return -1;
    zmsg_t *msg = zmsg_new ();
    zmsg_append (msg, &(zframe_t *){zframe_dup (routing)});
    zmsg_addmem (msg, self->buffer.data, self->buffer.size);
    return zmsg_send (&msg, self->snapshot);
}

//  One registry.snapshot.item answering `request`. 1 when sent, else 0.
static int
s_snapshot_item (registry_t *self, zframe_t *routing, proto_envelope_t *request,
                 const char *kind, const char *ref, const json_t *definition)
{
    proto_envelope_t *reply =
        s_envelope (self, "registry.snapshot.item",
                    json_pack ("{s:s, s:s, s:O}", "kind", kind, "ref", ref, "definition",
                               definition));
    if (!reply)
        return 0;
    proto_envelope_set_corr (reply, proto_envelope_id (request));
    return s_send_reply (self, routing, &reply) == 0;
}

//  The same for a packed action: its payload packed from the packed
//  definition, no tree made (a snapshot holds every action)
static int
s_snapshot_action (registry_t *self, zframe_t *routing, proto_envelope_t *request,
                   registry_packed_t *actions, const char *ref)
{
    msgpack_sbuffer payload;
    msgpack_sbuffer_init (&payload);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &payload, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, 3);
    proto_pack_str (&packer, "kind");
    proto_pack_str (&packer, "action");
    proto_pack_str (&packer, "ref");
    proto_pack_str (&packer, ref);
    proto_pack_str (&packer, "definition");
    proto_envelope_t *reply =
        registry_packed_write (actions, ref, &packer) == 0
            ? proto_envelope_new ("registry.snapshot.item", self->source)
            : NULL;
    if (reply && proto_envelope_set_payload_packed (reply, payload.data, payload.size))
        proto_envelope_destroy (&reply);
    msgpack_sbuffer_destroy (&payload);
    if (!reply)
        return 0;
    proto_envelope_set_corr (reply, proto_envelope_id (request));
    return s_send_reply (self, routing, &reply) == 0;
}

//  Every definition of `kind`, each as one item. The number sent.
static uint64_t
s_snapshot_kind (registry_t *self, zframe_t *routing, proto_envelope_t *request,
                 const char *kind)
{
    uint64_t count = 0;
    if (streq (kind, "action")) {
        registry_packed_t *actions = registry_catalog_packed_actions (self->catalog);
        for (const char *ref = registry_packed_first (actions); ref;
             ref = registry_packed_next (actions))
            count += s_snapshot_action (self, routing, request, actions, ref);
        return count;
    }
    const char *ref;
    json_t *definition;
    json_object_foreach ((json_t *)registry_all (self, kind), ref, definition)
    {
        count += s_snapshot_item (self, routing, request, kind, ref, definition);
    }
    return count;
}

static void
s_handle_snapshot (registry_t *self)
{
    zmsg_t *msg = zmsg_recv (self->snapshot);
    if (!msg)
        return;
    zframe_t *routing = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    proto_error_t error;
    proto_envelope_t *request =
        body && zmsg_size (msg) == 0
            ? proto_envelope_decode (zframe_data (body), zframe_size (body), NULL, &error)
            : NULL;
    if (!request || !streq (proto_envelope_type (request), "registry.snapshot.request")) {
        zsys_warning ("registry: dropped a malformed snapshot request: %s",
                      request ? "not registry.snapshot.request"
                      : body  ? error.message
                              : "no body");
        goto done;
    }
    self->snapshots++;
    json_t *payload = proto_envelope_payload_json (request, NULL);
    const json_t *kinds = payload ? json_object_get (payload, "kinds") : NULL;
    uint64_t count = 0;
    for (int k = 0; k < S_KINDS; k++) {
        bool wanted = !json_is_array (kinds) || json_array_size (kinds) == 0;
        size_t i;
        json_t *item;
        json_array_foreach (kinds, i, item) if (json_is_string (item) &&
                                                streq (json_string_value (item),
                                                       s_kinds[k])) wanted = true;
        if (wanted)
            count += s_snapshot_kind (self, routing, request, s_kinds[k]);
    }
    json_decref (payload);
    proto_envelope_t *end = s_envelope (
        self, "registry.snapshot.end",
        json_pack ("{s:I, s:I, s:I}", "seq", (json_int_t)bus_pub_seq (self->pub),
                   "publisher", (json_int_t)(bus_pub_id (self->pub) & INT64_MAX), "count",
                   (json_int_t)count));
    if (end) {
        proto_envelope_set_corr (end, proto_envelope_id (request));
        s_send_reply (self, routing, &end);
    }
done:
    proto_envelope_destroy (&request);
    zframe_destroy (&routing);
    zframe_destroy (&body);
    zmsg_destroy (&msg);
}

//  ---------------------------------------------------------------------------
//  Pipe

//  Counters, for the pipe's STATUS and the api's api.status.
json_t *
registry_status (registry_t *self)
{
    return json_pack (
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "packs",
        (json_int_t)json_object_size (registry_catalog_packs (self->catalog)), "actions",
        (json_int_t)registry_packed_size (
            registry_catalog_packed_actions (self->catalog)),
        "triggers",
        (json_int_t)json_object_size (registry_catalog_triggers (self->catalog)), "rules",
        (json_int_t)json_object_size (registry_catalog_rules (self->catalog)), "policies",
        (json_int_t)json_object_size (registry_catalog_policies (self->catalog)),
        "load_errors", (json_int_t)zlist_size (self->errors), "snapshots",
        (json_int_t)self->snapshots, "commands", (json_int_t)self->commands,
        "store_bytes", (json_int_t)store_used_size (self->store));
}

static json_t *
s_pipe_status (void *self)
{
    return registry_status ((registry_t *)self);
}

//  ERRORS: the load errors, one frame of JSON (an array of strings).
static int
s_pipe_command (void *arg, const char *command, zmsg_t *msg)
{
    registry_t *self = (registry_t *)arg;
    if (!streq (command, "ERRORS"))
        return -1;
    json_t *errors = json_array ();
    for (char *e = (char *)zlist_first (self->errors); e;
         e = (char *)zlist_next (self->errors))
        json_array_append_new (errors, json_string (e));
    actor_reply_json (self->pipe, &errors);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Actor

static void
s_registry_destroy (registry_t **self_p)
{
    registry_t *self = *self_p;
    if (!self)
        return;
    actor_loop_destroy (&self->loop);
    actor_effects_destroy (&self->effects);
    actor_query_destroy (&self->query);
    bus_inbox_destroy (&self->inbox);
    zsock_destroy (&self->snapshot);
    bus_pub_destroy (&self->pub);
    store_close (&self->store);
    registry_catalog_destroy (&self->catalog);
    zlist_destroy (&self->errors);
    zstr_free (&self->packs_dir);
    zstr_free (&self->data_dir);
    msgpack_sbuffer_destroy (&self->buffer);
    free (self);
    *self_p = NULL;
}

static int
s_start (registry_t *self, const actor_config_t *config)
{
    char host[256];
    actor_host (config, host, sizeof host);
    snprintf (self->source, sizeof self->source, "registry@%s", host);
    msgpack_sbuffer_init (&self->buffer);

    self->errors = zlist_new ();
    zlist_autofree (self->errors);
    self->catalog = registry_catalog_new ();
    if (!self->errors || !self->catalog)
        return -1;
    self->packs_dir = config->packs_dir ? strdup (config->packs_dir) : NULL;
    self->data_dir = strdup (config->data_dir ? config->data_dir : ".");
    if (config->packs_dir) {
        int packs =
            registry_catalog_load_dir (self->catalog, config->packs_dir, self->errors);
        if (packs < 0)
            zsys_error ("registry: cannot read the packs directory %s",
                        config->packs_dir);
        for (char *e = (char *)zlist_first (self->errors); e;
             e = (char *)zlist_next (self->errors))
            zsys_error ("registry: %s", e);
    }

    self->store = actor_store_open (config, "registry");
    if (!self->store)
        return -1;
    self->changes = store_table (self->store, "changes", false);
    if (!self->changes) {
        zsys_error ("registry: %s", store_last_error (self->store));
        return -1;
    }
    registry_apply_changes (self);

    bus_link_config_t link_config;
    actor_link_config (config, &link_config);
    self->heartbeat_ms = link_config.heartbeat_ms;
    bus_topology_t *topology = config->topology;
    self->pub = bus_pub_new (bus_topology_bind (topology, "registry.facts"), 0);
    self->snapshot = zsock_new (ZMQ_ROUTER);
    if (!self->pub || !self->snapshot)
        return -1;
    zsock_set_sndhwm (self->snapshot, 0); //  a snapshot is sent whole
    zsock_set_linger (self->snapshot, 0);
    int64_t max = PROTO_MAX_SOCKET_MSG;
    zmq_setsockopt (zsock_resolve (self->snapshot), ZMQ_MAXMSGSIZE, &max, sizeof max);
    const char *snapshot_endpoint = bus_topology_bind (topology, "registry.snapshot");
    if (bus_security_apply (self->snapshot, snapshot_endpoint, true, NULL) != 0 ||
        bus_topology_bind_socket (self->snapshot, snapshot_endpoint) == -1) {
        zsys_error ("registry: cannot bind %s: %s", snapshot_endpoint,
                    zmq_strerror (zmq_errno ()));
        return -1;
    }
    self->inbox = bus_inbox_new (bus_topology_bind (topology, "registry.commands"),
                                 "registry", self->store, &link_config);
    if (!self->inbox)
        return -1;
    self->query =
        actor_query_new (bus_topology_bind (topology, "registry.query"), self->source);
    if (!self->query)
        return -1;
    actor_query_set_store (self->query, self->store, "registry");
    actor_query_metrics_inbox (self->query, self->inbox); //  metrics.get
    zsys_info (
        "registry: %zu packs, %zu actions, %zu triggers, %zu rules, %zu load errors",
        json_object_size (registry_catalog_packs (self->catalog)),
        registry_packed_size (registry_catalog_packed_actions (self->catalog)),
        json_object_size (registry_catalog_triggers (self->catalog)),
        json_object_size (registry_catalog_rules (self->catalog)),
        zlist_size (self->errors));
    return 0;
}

//  A heartbeat fact every interval (zguide Clone's HUGZ): it carries a
//  sequence number, so a subscriber that missed facts sees the gap, and one
//  that missed a restart sees the new publisher id, within one interval
//  even when no definition changes.
static void
s_heartbeat (void *arg, void *unused)
{
    registry_t *self = (registry_t *)arg;
    proto_envelope_t *beat = s_envelope (self, "registry.heartbeat", json_object ());
    if (beat) {
        bus_pub_send (self->pub, beat);
        proto_envelope_destroy (&beat);
    }
}

static void
s_on_snapshot (void *self, void *unused)
{
    s_handle_snapshot ((registry_t *)self);
}

static void
s_on_query (void *arg, void *unused)
{
    registry_t *self = (registry_t *)arg;
    actor_query_handle (self->query, registry_query_handle, self);
}

//  A batch of commands: its publications after the commit, none without.
static void
s_on_inbox (void *arg, void *unused)
{
    registry_t *self = (registry_t *)arg;
    bus_inbox_process (self->inbox, s_handle_command, self);
    actor_effects_drop (self->effects); //  left by an attempt that did not commit
}

static int
s_timeout (void *self)
{
    return bus_inbox_timeout (((registry_t *)self)->inbox);
}

static void
s_after (void *self)
{
    bus_inbox_tick (((registry_t *)self)->inbox);
}

//  The state, its sockets and its loop; NULL on failure (logged).
static registry_t *
s_registry_new (zsock_t *pipe, const actor_config_t *config)
{
    registry_t *self = (registry_t *)zmalloc (sizeof (registry_t));
    self->pipe = pipe;
    self->effects = actor_effects_new (self);
    self->loop = actor_loop_new (pipe, "registry", self);
    if (!self->effects || !self->loop || !config || s_start (self, config) != 0 ||
        actor_loop_reader (self->loop, self->snapshot, 0, s_on_snapshot, NULL) != 0 ||
        actor_loop_reader (self->loop, actor_query_sock (self->query), 0, s_on_query,
                           NULL) != 0 ||
        actor_loop_reader (self->loop, bus_inbox_sock (self->inbox), 0, s_on_inbox,
                           NULL) != 0 ||
        actor_loop_timer (self->loop, self->heartbeat_ms, s_heartbeat, NULL) != 0) {
        s_registry_destroy (&self);
        return NULL;
    }
    actor_loop_set_status (self->loop, s_pipe_status);
    actor_loop_set_command (self->loop, s_pipe_command);
    actor_loop_set_timeout (self->loop, s_timeout);
    actor_loop_set_after (self->loop, s_after);
    return self;
}

void
registry_actor (zsock_t *pipe, void *args)
{
    registry_t *self = s_registry_new (pipe, (const actor_config_t *)args);
    zsock_signal (pipe, self ? 0 : 1);
    if (self)
        actor_loop_run (self->loop);
    s_registry_destroy (&self);
}
