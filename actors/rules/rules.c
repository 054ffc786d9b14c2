/*  rules: events -> enforcements (rules.h).

    The inbox handler runs inside the batch's write transaction and may run
    again for the same batch when the store grows its map. Everything it
    wants done after the commit (facts to publish, outbox commands to send)
    is kept in an "attempt": a list of effects that the commit callback
    carries out and that a new attempt (retry) throws away. An attempt is
    recognised by the store's (commits, growths) counters, which change
    between any two write transactions that can reach the handler.

    Outbox: a command is in the outbox table from the transaction that
    creates its enforcement until an ACK covers it. Memory holds the commands
    waiting for room in the link's window (`queue`) and the ones sent and not
    yet acked (`inflight`, in send order, which is ack order). Acked outbox
    ids are deleted in the next write: the inbox batch's transaction, or a
    small write of their own when the inbox is idle.
    Outbox ids come from memory (`outbox_last`, seeded at start from the
    highest id in the table), not from the store's id counter, whose meta
    record would be one more page in every commit. Ids keep increasing within
    a run and are above every stored one; after a restart an id deleted
    before may come again, which is harmless: nothing outlives a restart
    that refers to a deleted id (acked and inflight ids live in memory).
*/
#include "actors/rules/rules.h"
#include "actors/registry/registry_client.h"
#include "actors/rules/rules_kv.h"
#include "actors/rules/rules_query.h"
#include "actors/rules/rules_sync.h"
#include "proto/proto_messages.h"
#include "actors/rules/rules_set.h"
#include "actors/rules/rules_template.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"
#include "proto/proto_json.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <unistd.h>

#define S_ACK_FLUSH_MS  50   //  acked outbox entries wait at most this long
#define S_ACK_FLUSH_MAX 4096 //  ... or until this many are waiting
#define S_MAX_TRIGGER   256  //  longest trigger type ref

//  ---------------------------------------------------------------------------
//  Outgoing commands: a growable ring

typedef struct {
    uint64_t oid;                //  outbox id
    uint8_t id[PROTO_UUID_SIZE]; //  envelope id
    uint8_t *data;               //  the encoded envelope, as stored in the
    size_t size;                 //  outbox; queued: owned; inflight: NULL
} s_out_t;

typedef struct {
    s_out_t *items;
    size_t head;
    size_t count;
    size_t capacity;
} s_fifo_t;

static s_out_t *
s_fifo_at (s_fifo_t *fifo, size_t index)
{
    return &fifo->items[(fifo->head + index) % fifo->capacity];
}

static void
s_fifo_push (s_fifo_t *fifo, const s_out_t *item)
{
    if (fifo->count == fifo->capacity) {
        size_t capacity = fifo->capacity ? fifo->capacity * 2 : 64;
        s_out_t *items = (s_out_t *)malloc (capacity * sizeof (s_out_t));
        assert (items);
        for (size_t i = 0; i < fifo->count; i++)
            items[i] = *s_fifo_at (fifo, i);
        free (fifo->items);
        fifo->items = items;
        fifo->capacity = capacity;
        fifo->head = 0;
    }
    *s_fifo_at (fifo, fifo->count) = *item;
    fifo->count++;
}

static void
s_fifo_pop (s_fifo_t *fifo, s_out_t *item)
{
    assert (fifo->count > 0);
    *item = *s_fifo_at (fifo, 0);
    fifo->head = (fifo->head + 1) % fifo->capacity;
    fifo->count--;
}

//  Remove the item at `index`, keeping the order of the others.
static void
s_fifo_remove (s_fifo_t *fifo, size_t index)
{
    for (size_t i = index; i + 1 < fifo->count; i++)
        *s_fifo_at (fifo, i) = *s_fifo_at (fifo, i + 1);
    fifo->count--;
}

static void
s_fifo_destroy (s_fifo_t *fifo)
{
    for (size_t i = 0; i < fifo->count; i++)
        free (s_fifo_at (fifo, i)->data);
    free (fifo->items);
    memset (fifo, 0, sizeof *fifo);
}

//  ---------------------------------------------------------------------------
//  Actor state

typedef enum { EFFECT_FACT, EFFECT_COMMAND } s_effect_kind_t;

typedef struct {
    s_effect_kind_t kind;
    uint64_t oid;
    proto_envelope_t *envelope; //  a fact
    s_out_t out;                //  a command, encoded once
} s_effect_t;

typedef struct {
    zsock_t *pipe;
    char source[300];
    store_t *store;
    store_table_t *events;
    store_table_t *enforcements;
    store_table_t *outbox;
    store_table_t *counters;
    bus_inbox_t *inbox;
    actor_query_t *query; //  rules.query: api reads
    bus_pub_t *pub;
    bus_link_t *link;
    registry_client_t *registry;
    rules_kv_t *kv; //  st2kv keys in templates (rules_kv.h)
    rules_sync_t *sync; //  rules.sync requests waiting for a registry change
    rules_set_t *rules;
    msgpack_sbuffer record;  //  a stored record
    msgpack_sbuffer params;  //  rendered parameters, packed once
    msgpack_sbuffer payload; //  a fact or command payload
    msgpack_sbuffer encoded; //  an encoded envelope (outbox)

    //  The current write attempt
    bool attempt_open;
    uint64_t attempt_commits;
    uint64_t attempt_growths;
    s_effect_t *effects;
    size_t neffects;
    size_t effects_capacity;
    size_t attempt_acked; //  acked[0 .. attempt_acked) deleted in it
    uint64_t attempt_duplicates;

    //  Outbox in memory
    s_fifo_t queue;
    s_fifo_t inflight;
    uint64_t outbox_last;    //  last outbox id of a committed write
    uint64_t outbox_pending; //  ... and of the running attempt
    uint64_t *acked;         //  outbox ids acked, not yet deleted
    size_t nacked;
    size_t acked_capacity;
    int64_t ack_flush_at; //  monotonic ms

    uint64_t duplicates; //  event.create of an event already stored
    uint64_t sent;       //  commands handed to the link (resends at start included)
    uint64_t acks;       //  commands acked
    bool synced;
    bool terminated;
} s_rules_t;

//  ---------------------------------------------------------------------------
//  Helpers

//  New envelope of `type` with a msgpack payload, corr = the command's id,
//  trace = the command's trace or the event id. NULL on failure (logged).
static proto_envelope_t *
s_envelope (s_rules_t *self, const char *type, proto_envelope_t *command,
            const char *event_id, const msgpack_sbuffer *payload)
{
    proto_envelope_t *envelope = proto_envelope_new (type, self->source);
    if (!envelope)
        return NULL;
    //  Packed here (from values already validated on the way in): no second
    //  validation
    if (proto_envelope_set_payload_packed (envelope, payload->data, payload->size) != 0) {
        zsys_error ("rules: cannot build %s for event %s: out of memory", type, event_id);
        proto_envelope_destroy (&envelope);
        return NULL;
    }
    proto_envelope_set_corr (envelope, proto_envelope_id (command));
    const char *trace = proto_envelope_trace (command);
    proto_envelope_set_trace (envelope, trace ? trace : event_id);
    return envelope;
}

static void
s_effect_add (s_rules_t *self, s_effect_kind_t kind, uint64_t oid,
              proto_envelope_t *envelope)
{
    if (self->neffects == self->effects_capacity) {
        size_t capacity = self->effects_capacity ? self->effects_capacity * 2 : 256;
        s_effect_t *effects =
            (s_effect_t *)realloc (self->effects, capacity * sizeof (s_effect_t));
        assert (effects);
        self->effects = effects;
        self->effects_capacity = capacity;
    }
    self->effects[self->neffects++] = (s_effect_t){kind, oid, envelope, {0}};
}

//  A command for after the commit: the bytes just stored in the outbox
//  (copied), sent as they are. 0, or -1 out of memory.
static int
s_effect_add_command (s_rules_t *self, uint64_t oid, const uint8_t id[PROTO_UUID_SIZE],
                      const msgpack_sbuffer *encoded)
{
    uint8_t *data = (uint8_t *)malloc (encoded->size);
    if (!data)
        return -1;
    memcpy (data, encoded->data, encoded->size);
    s_effect_add (self, EFFECT_COMMAND, oid, NULL);
    s_out_t *out = &self->effects[self->neffects - 1].out;
    out->oid = oid;
    memcpy (out->id, id, PROTO_UUID_SIZE);
    out->data = data;
    out->size = encoded->size;
    return 0;
}

//  Throw away what an attempt that did not commit wanted to do.
static void
s_attempt_discard (s_rules_t *self)
{
    for (size_t i = 0; i < self->neffects; i++) {
        proto_envelope_destroy (&self->effects[i].envelope);
        free (self->effects[i].out.data);
    }
    self->neffects = 0;
    self->attempt_acked = 0;
    self->attempt_duplicates = 0;
    self->attempt_open = false;
    self->outbox_pending = self->outbox_last;
}

//  Drop acked[0 .. count) (deleted from the outbox by a commit).
static void
s_acked_forget (s_rules_t *self, size_t count)
{
    assert (count <= self->nacked);
    if (count == 0)
        return;
    memmove (self->acked, self->acked + count,
             (self->nacked - count) * sizeof (uint64_t));
    self->nacked -= count;
}

static int
s_delete_acked (s_rules_t *self, store_txn_t *txn)
{
    for (size_t i = 0; i < self->nacked; i++) {
        store_code_t code = store_del_id (txn, self->outbox, self->acked[i]);
        if (code != STORE_OK && code != STORE_NOTFOUND)
            return -1;
    }
    return 0;
}

//  Send queued commands while the link has room: never blocks.
static void
s_pump (s_rules_t *self)
{
    while (self->queue.count > 0 && bus_link_can_send (self->link)) {
        s_out_t out;
        s_fifo_pop (&self->queue, &out);
        uint8_t *data = out.data;
        out.data = NULL;
        s_fifo_push (&self->inflight, &out);
        if (bus_link_send_encoded (self->link, out.id, &data, out.size) != 0) {
            //  Cannot happen with room in the window (a command over the
            //  frame limit): it stays in the outbox for the next start
            zsys_error ("rules: cannot send outbox command %" PRIu64, out.oid);
            free (data);
            s_fifo_remove (&self->inflight, self->inflight.count - 1);
            continue;
        }
        self->sent++;
    }
}

//  After a commit: publish facts, queue commands, forget deleted acks.
static void
s_attempt_commit (void *arg)
{
    s_rules_t *self = (s_rules_t *)arg;
    for (size_t i = 0; i < self->neffects; i++) {
        s_effect_t *effect = &self->effects[i];
        if (effect->kind == EFFECT_FACT) {
            bus_pub_send (self->pub, effect->envelope);
            proto_envelope_destroy (&effect->envelope);
        } else {
            s_fifo_push (&self->queue, &effect->out);
            effect->out.data = NULL;
        }
    }
    self->neffects = 0;
    s_acked_forget (self, self->attempt_acked);
    self->attempt_acked = 0;
    self->duplicates += self->attempt_duplicates;
    self->attempt_duplicates = 0;
    self->attempt_open = false;
    self->outbox_last = self->outbox_pending;
}

//  First handler call of a write attempt: delete the acked outbox entries
//  and register the commit callback. 0 or -1 (store failure).
static int
s_attempt_begin (s_rules_t *self, store_txn_t *txn)
{
    uint64_t commits = store_commits (self->store);
    uint64_t growths = store_growths (self->store);
    if (self->attempt_open && commits == self->attempt_commits &&
        growths == self->attempt_growths)
        return 0;
    s_attempt_discard (self);
    self->attempt_open = true;
    self->attempt_commits = commits;
    self->attempt_growths = growths;
    if (s_delete_acked (self, txn) != 0)
        return -1;
    self->attempt_acked = self->nacked;
    return store_txn_on_commit (txn, s_attempt_commit, self);
}

//  ---------------------------------------------------------------------------
//  Enforcements

static int
s_count_failed (s_rules_t *self, store_txn_t *txn)
{
    uint64_t failed = 0;
    const void *data;
    size_t size;
    if (store_get (txn, self->counters, "failed", 6, &data, &size) == STORE_OK &&
        size == 8)
        failed = store_key_id (data);
    uint8_t value[8];
    store_id_key (failed + 1, value);
    return store_put (txn, self->counters, "failed", 6, value, sizeof value) == STORE_OK
               ? 0
               : -1;
}

//  Pack {enforcement, rule, event, action} (the start of every enforcement
//  map, `extra` more entries follow).
static void
s_pack_head (msgpack_packer *pk, size_t extra, const char *enforcement,
             const rules_rule_t *rule, const char *event_id)
{
    msgpack_pack_map (pk, 4 + extra);
    proto_pack_str (pk, "enforcement");
    proto_pack_str (pk, enforcement);
    proto_pack_str (pk, "rule");
    proto_pack_str (pk, rule->ref);
    proto_pack_str (pk, "event");
    proto_pack_str (pk, event_id);
    proto_pack_str (pk, "action");
    proto_pack_str (pk, rule->action);
}

//  Whether `rule`'s action runs its `cmd` parameter as a shell command: its
//  runner is local-shell-cmd or remote-shell-cmd, or the action is not (yet)
//  in the registry's copy (quoting a value that needed none is the safe
//  mistake).
static bool
s_cmd_is_shell (s_rules_t *self, const rules_rule_t *rule)
{
    const json_t *action = registry_client_get (self->registry, "action", rule->action);
    const char *runner = json_string_value (json_object_get (action, "runner_type"));
    return !runner || streq (runner, "local-shell-cmd") ||
           streq (runner, "remote-shell-cmd");
}

//  Render the rule's action parameters for the event; a shell command (a
//  string `cmd` of a shell action) is rendered with every inserted value
//  quoted as one word (principle 7). New reference, or NULL with `reason`.
static json_t *
s_render_in (s_rules_t *self, const rules_rule_t *rule, const json_t *context,
             char *reason, size_t size)
{
    const json_t *params = rule->action_parameters;
    const json_t *cmd = json_object_get (params, "cmd");
    if (!json_is_string (cmd) || !s_cmd_is_shell (self, rule))
        return rules_template_render (params, context, "action.parameters", reason, size);
    json_t *others = json_copy ((json_t *)params);
    json_object_del (others, "cmd");
    json_t *rendered = others ? rules_template_render (others, context,
                                                       "action.parameters", reason, size)
                              : NULL;
    json_decref (others);
    json_t *line =
        rendered ? rules_template_render_shell (json_string_value (cmd), context,
                                                "action.parameters.cmd", reason, size)
                 : NULL;
    if (!line) {
        json_decref (rendered);
        return NULL;
    }
    json_object_set_new (rendered, "cmd", line);
    return rendered;
}

//  ... with the st2kv keys the parameters name added to the context
static json_t *
s_render_parameters (s_rules_t *self, const rules_rule_t *rule, const json_t *context,
                     char *reason, size_t size)
{
    json_t *with_kv = rules_kv_context (self->kv, rule->definition,
                                        rule->action_parameters, context, reason, size);
    json_t *rendered = with_kv ? s_render_in (self, rule, with_kv, reason, size) : NULL;
    rules_kv_done (&with_kv);
    return rendered;
}

//  One enforcement of `rule` for the event. `failure` non-NULL fails it
//  without rendering. 0, or -1 when the store failed.
static int
s_enforce (s_rules_t *self, store_txn_t *txn, proto_envelope_t *command,
           const uint8_t event_uuid[PROTO_UUID_SIZE], const char *event_id, int64_t ts,
           const rules_rule_t *rule, const json_t *context, const char *failure)
{
    //  Natural key (event, rule): the event is stored under its command id
    //  in this same transaction (a redelivered event stops in s_on_command
    //  before any rule is looked at) and a rule is once in its trigger's
    //  list, so this (event, rule) has no enforcement yet. No key table to
    //  check: one table (three pages of a grown tree) less per commit.
    uint8_t uuid[PROTO_UUID_SIZE];
    proto_uuid_generate (uuid);
    char id[PROTO_UUID_STR_SIZE];
    proto_uuid_format (uuid, id);

    //  Render
    char reason[768] = "";
    bool created = false;
    if (failure)
        snprintf (reason, sizeof reason, "%s", failure);
    else if (json_object_size (rule->action_parameters) == 0) {
        //  Nothing to render (no context needed): an empty map
        msgpack_sbuffer_clear (&self->params);
        msgpack_sbuffer_write (&self->params, "\x80", 1);
        created = true;
    } else {
        assert (context);
        json_t *rendered =
            s_render_parameters (self, rule, context, reason, sizeof reason);
        if (rendered) {
            msgpack_sbuffer_clear (&self->params);
            proto_error_t error;
            if (proto_json_to_sbuffer (rendered, &self->params, &error) == PROTO_OK)
                created = true;
            else
                snprintf (reason, sizeof reason, "action.parameters: %s", error.message);
            json_decref (rendered);
        } else if (!reason[0])
            snprintf (reason, sizeof reason, "action.parameters: cannot be rendered");
    }
    const char *status = created ? "created" : "failed";

    //  Record
    msgpack_packer pk;
    msgpack_sbuffer_clear (&self->record);
    msgpack_packer_init (&pk, &self->record, msgpack_sbuffer_write);
    s_pack_head (&pk, 3, id, rule, event_id);
    proto_pack_str (&pk, "status");
    proto_pack_str (&pk, status);
    proto_pack_str (&pk, "ts");
    msgpack_pack_int64 (&pk, ts);
    if (created) {
        proto_pack_str (&pk, "parameters");
        msgpack_sbuffer_write (&self->record, self->params.data, self->params.size);
    } else {
        proto_pack_str (&pk, "reason");
        proto_pack_str (&pk, reason);
    }
    if (store_put (txn, self->enforcements, uuid, sizeof uuid, self->record.data,
                   self->record.size) != STORE_OK)
        return -1;

    //  Command into the outbox
    if (created) {
        msgpack_sbuffer_clear (&self->payload);
        msgpack_packer_init (&pk, &self->payload, msgpack_sbuffer_write);
        s_pack_head (&pk, 1, id, rule, event_id);
        proto_pack_str (&pk, "parameters");
        msgpack_sbuffer_write (&self->payload, self->params.data, self->params.size);
        proto_envelope_t *envelope =
            s_envelope (self, "enforcement.create", command, event_id, &self->payload);
        msgpack_sbuffer_clear (&self->encoded);
        if (!envelope || proto_envelope_encode (envelope, &self->encoded) != 0) {
            proto_envelope_destroy (&envelope);
            return -1;
        }
        //  Never over a stored command: STORE_EXISTS fails the batch
        uint64_t oid = ++self->outbox_pending;
        uint8_t oid_key[8];
        store_id_key (oid, oid_key);
        uint8_t envelope_id[PROTO_UUID_SIZE];
        memcpy (envelope_id, proto_envelope_id (envelope), PROTO_UUID_SIZE);
        proto_envelope_destroy (&envelope);
        if (store_put_new (txn, self->outbox, oid_key, sizeof oid_key, self->encoded.data,
                           self->encoded.size) != STORE_OK ||
            s_effect_add_command (self, oid, envelope_id, &self->encoded) != 0)
            return -1;
    } else {
        zsys_warning ("rules: enforcement %s of rule %s for event %s failed: %s", id,
                      rule->ref, event_id, reason);
        if (s_count_failed (self, txn) != 0)
            return -1;
    }

    //  Fact
    msgpack_sbuffer_clear (&self->payload);
    msgpack_packer_init (&pk, &self->payload, msgpack_sbuffer_write);
    s_pack_head (&pk, created ? 1 : 2, id, rule, event_id);
    proto_pack_str (&pk, "status");
    proto_pack_str (&pk, status);
    if (!created) {
        proto_pack_str (&pk, "reason");
        proto_pack_str (&pk, reason);
    }
    proto_envelope_t *fact =
        s_envelope (self, "enforcement.created", command, event_id, &self->payload);
    if (fact)
        s_effect_add (self, EFFECT_FACT, 0, fact);
    return 0;
}

//  Whether `obj` has a JSON form; when not, `error` says why exactly as the
//  conversion would (it is run then, on the rare failing path, for the path).
static bool
s_has_json_form (const msgpack_object *obj, const char *path, proto_error_t *error)
{
    if (proto_json_check (obj, path, error) == PROTO_OK)
        return true;
    json_t *json = proto_json_from_msgpack (obj, path, error);
    json_decref (json);
    return json != NULL;
}

//  The JSON forms of an event, built on first need: the evaluation context
//  (criteria, templates) and the trigger parameters (compared with rules').
typedef struct {
    const char *trigger;
    const char *event_id;
    int64_t ts;
    const msgpack_object *tparams;
    const msgpack_object *data;
    json_t *context;
    json_t *rule_object;
    json_t *tparams_json;
} s_forms_t;

//  0, or -1 when a form cannot be built (checked before: out of memory).
static int
s_forms_build (s_forms_t *forms)
{
    if (forms->context)
        return 0;
    json_t *payload_json = proto_json_from_msgpack (forms->data, "payload", NULL);
    forms->tparams_json =
        forms->tparams
            ? proto_json_from_msgpack (forms->tparams, "trigger_parameters", NULL)
            : json_object ();
    if (!payload_json || !forms->tparams_json) {
        json_decref (payload_json);
        json_decref (forms->tparams_json);
        forms->tparams_json = NULL;
        return -1;
    }
    forms->context =
        json_pack ("{s:{s:s, s:o}, s:{s:s, s:I}, s:{s:s}}", "trigger", "type",
                   forms->trigger, "payload", payload_json, "event", "id",
                   forms->event_id, "ts", (json_int_t)forms->ts, "rule", "ref", "");
    assert (forms->context);
    forms->rule_object = json_object_get (forms->context, "rule");
    return 0;
}

//  Evaluate the candidate rules of an event and enforce the matching ones.
//  0, or -1 when the store failed.
static int
s_evaluate (s_rules_t *self, store_txn_t *txn, proto_envelope_t *command,
            const uint8_t event_uuid[PROTO_UUID_SIZE], const char *event_id, int64_t ts,
            const char *trigger, const msgpack_object *tparams,
            const msgpack_object *data)
{
    size_t count;
    rules_rule_t *const *rules = rules_set_for_trigger (self->rules, trigger, &count);
    if (count == 0)
        return 0;
    //  Whether the event has JSON forms, once per event; they are built only
    //  for a rule that needs them (criteria, templates, trigger parameters)
    char failure[512] = "";
    proto_error_t error;
    if (!s_has_json_form (data, "payload", &error) ||
        (tparams && !s_has_json_form (tparams, "trigger_parameters", &error)))
        snprintf (failure, sizeof failure, "the event has no JSON form: %s",
                  error.message);
    bool by_parameters = !failure[0] && tparams && tparams->via.map.size > 0;
    s_forms_t forms = {trigger, event_id, ts, tparams, data, NULL, NULL, NULL};
    int64_t now = proto_now_usec ();
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        const rules_rule_t *rule = rules[i];
        //  A rule with trigger parameters takes only the events of that
        //  trigger instance (its timer); one without, events without any
        bool rule_has = json_object_size (rule->trigger_parameters) > 0;
        if (rule_has && !by_parameters)
            continue; //  the event has none (or no JSON form): never the same
        if (by_parameters) {
            if (s_forms_build (&forms) != 0) {
                rc = -1;
                break;
            }
            if (!rules_json_same (rule->trigger_parameters, forms.tparams_json))
                continue;
        }
        bool criteria =
            json_object_size (json_object_get (rule->definition, "criteria")) > 0;
        if (!failure[0] && (criteria || json_object_size (rule->action_parameters) > 0)) {
            if (s_forms_build (&forms) != 0) {
                rc = -1;
                break;
            }
            json_object_set_new (forms.rule_object, "ref", json_string (rule->ref));
            if (criteria && !rules_criteria_match (rule->criteria, forms.context, now))
                continue;
        }
        rc = s_enforce (self, txn, command, event_uuid, event_id, ts, rule, forms.context,
                        failure[0] ? failure : NULL);
    }
    json_decref (forms.context);
    json_decref (forms.tparams_json);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Commands

static int
s_on_command (void *arg, store_txn_t *txn, proto_envelope_t *command, bus_command_t *info)
{
    s_rules_t *self = (s_rules_t *)arg;
    const char *type = proto_envelope_type (command);
    if (!streq (type, "event.create")) {
        return bus_command_reject (info, "bad_request",
                                   "rules.commands takes event.create, not %s", type);
    }
    //  The payload against the message table (proto/proto_messages.c):
    //  trigger a str of 1-255 bytes, trigger_parameters a map or nil,
    //  payload a map
    static const proto_message_t *message;
    if (!message)
        message = proto_message_lookup ("event.create", PROTO_MESSAGE_COMMAND);
    const msgpack_object *payload = proto_envelope_payload_object (command);
    proto_error_t error;
    if (proto_message_validate (message, payload, &error) != PROTO_OK)
        return bus_command_reject (info, "bad_request", "event.create: %s",
                                   error.message);
    const msgpack_object *trigger = proto_map_get (payload, "trigger");
    if (memchr (trigger->via.str.ptr, 0, trigger->via.str.size))
        return bus_command_reject (info, "bad_request",
                                   "event.create: trigger: holds a NUL byte");
    char trigger_ref[S_MAX_TRIGGER];
    memcpy (trigger_ref, trigger->via.str.ptr, trigger->via.str.size); //  < S_MAX_TRIGGER
    trigger_ref[trigger->via.str.size] = 0;
    if (!registry_client_get (self->registry, "trigger", trigger_ref))
        return bus_command_reject (info, "not_found",
                                   "event.create: trigger type '%s' does not exist",
                                   trigger_ref);
    const msgpack_object *tparams = proto_map_get (payload, "trigger_parameters");
    if (tparams && tparams->type == MSGPACK_OBJECT_NIL)
        tparams = NULL;
    const msgpack_object *data = proto_map_get (payload, "payload");
    if (s_attempt_begin (self, txn) != 0)
        return -1;

    //  The event: the command's id
    const uint8_t *event_uuid = proto_envelope_id (command);
    const void *found;
    size_t found_size;
    store_code_t code =
        store_get (txn, self->events, event_uuid, PROTO_UUID_SIZE, &found, &found_size);
    if (code == STORE_OK) {
        self->attempt_duplicates++;
        return 0;
    }
    if (code != STORE_NOTFOUND)
        return -1;
    char event_id[PROTO_UUID_STR_SIZE];
    proto_uuid_format (event_uuid, event_id);
    int64_t ts = proto_envelope_ts (command);

    //  Stored as the event.created payload
    msgpack_packer pk;
    msgpack_sbuffer_clear (&self->record);
    msgpack_packer_init (&pk, &self->record, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    proto_pack_str (&pk, "event");
    proto_pack_str (&pk, event_id);
    proto_pack_str (&pk, "trigger");
    proto_pack_str (&pk, trigger_ref);
    proto_pack_str (&pk, "trigger_parameters");
    if (tparams)
        msgpack_pack_object (&pk, *tparams);
    else
        msgpack_pack_map (&pk, 0);
    proto_pack_str (&pk, "payload");
    msgpack_pack_object (&pk, *data);
    proto_pack_str (&pk, "ts");
    msgpack_pack_int64 (&pk, ts);
    if (store_put (txn, self->events, event_uuid, PROTO_UUID_SIZE, self->record.data,
                   self->record.size) != STORE_OK)
        return -1;
    proto_envelope_t *fact =
        s_envelope (self, "event.created", command, event_id, &self->record);
    if (fact)
        s_effect_add (self, EFFECT_FACT, 0, fact);

    return s_evaluate (self, txn, command, event_uuid, event_id, ts, trigger_ref, tparams,
                       data);
}

//  ---------------------------------------------------------------------------
//  Link: acks and rejects

static void
s_on_ack (void *arg, const uint8_t id[PROTO_UUID_SIZE])
{
    s_rules_t *self = (s_rules_t *)arg;
    //  Acks come in send order: the front, except after a failed send
    for (size_t i = 0; i < self->inflight.count; i++) {
        s_out_t *out = s_fifo_at (&self->inflight, i);
        if (memcmp (out->id, id, PROTO_UUID_SIZE) != 0)
            continue;
        if (self->nacked == self->acked_capacity) {
            size_t capacity = self->acked_capacity ? self->acked_capacity * 2 : 256;
            uint64_t *acked =
                (uint64_t *)realloc (self->acked, capacity * sizeof (uint64_t));
            assert (acked);
            self->acked = acked;
            self->acked_capacity = capacity;
        }
        if (self->nacked == 0)
            self->ack_flush_at = zclock_mono () + S_ACK_FLUSH_MS;
        self->acked[self->nacked++] = out->oid;
        if (i == 0) {
            s_out_t done;
            s_fifo_pop (&self->inflight, &done);
        } else
            s_fifo_remove (&self->inflight, i);
        self->acks++;
        return;
    }
}

static void
s_on_reject (void *arg, const proto_envelope_t *command, const char *code,
             const char *message)
{
    (void)arg;
    (void)command;
    zsys_error ("rules: the executor rejected an enforcement.create: %s: %s", code,
                message);
}

static int
s_flush_write (store_txn_t *txn, void *arg)
{
    return s_delete_acked ((s_rules_t *)arg, txn);
}

//  Delete the acked outbox entries in a write of their own.
static void
s_flush_acked (s_rules_t *self)
{
    if (self->nacked == 0)
        return;
    size_t count = self->nacked;
    store_code_t code = store_write (self->store, s_flush_write, self);
    if (code == STORE_OK)
        s_acked_forget (self, count);
    else {
        zsys_error ("rules: cannot delete acked outbox commands: %s",
                    store_last_error (self->store));
        self->ack_flush_at = zclock_mono () + 1000;
    }
}

//  ---------------------------------------------------------------------------
//  Registry

static void
s_on_change (void *arg, const char *kind, const char *ref, const json_t *definition)
{
    s_rules_t *self = (s_rules_t *)arg;
    if (!streq (kind, "rule"))
        return;
    char message[1024];
    if (rules_set_put (self->rules, ref, definition, message, sizeof message) != 0)
        zsys_error ("rules: %s (rule ignored)", message);
}

//  ---------------------------------------------------------------------------
//  Pipe

static json_int_t
s_count (store_txn_t *txn, store_table_t *table)
{
    return txn ? (json_int_t)store_count (txn, table) : -1;
}

static void
s_status (s_rules_t *self)
{
    store_txn_t *txn = store_read_begin (self->store);
    json_int_t failed = 0;
    const void *data;
    size_t size;
    if (txn && store_get (txn, self->counters, "failed", 6, &data, &size) == STORE_OK &&
        size == 8)
        failed = (json_int_t)store_key_id (data);
    json_t *status = json_pack (
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "events",
        s_count (txn, self->events), "enforcements", s_count (txn, self->enforcements),
        "failed", failed, "outbox", s_count (txn, self->outbox), "rules",
        (json_int_t)rules_set_size (self->rules), "rules_enabled",
        (json_int_t)rules_set_enabled (self->rules), "synced", self->synced, "queued",
        (json_int_t)self->queue.count, "inflight", (json_int_t)self->inflight.count,
        "duplicates", (json_int_t)self->duplicates, "rejected",
        (json_int_t)bus_inbox_rejected (self->inbox), "sent", (json_int_t)self->sent,
        "acked", (json_int_t)self->acks);
    store_read_end (&txn);
    actor_reply_json (self->pipe, &status);
}

static void
s_handle_pipe (s_rules_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg) {
        self->terminated = true;
        return;
    }
    char *command = zmsg_popstr (msg);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else if (streq (command, "STATUS"))
        s_status (self);
    else
        zsys_warning ("rules: unknown pipe command '%s'", command);
    free (command);
    zmsg_destroy (&msg);
}

//  Answer the api's reads on rules.query (rules_query.c)
static void
s_handle_query (void *arg, const char *type, json_t *payload, actor_answer_t *answer)
{
    s_rules_t *self = (s_rules_t *)arg;
    if (streq (type, "rules.sync")) {
        //  Read-your-writes: answered once the registry change is applied
        //  (the payload was checked against proto_messages by actor_query)
        rules_sync_request (self->sync, payload, answer);
        return;
    }
    json_t *counters = json_pack ("{s:I, s:I, s:I, s:b, s:I}", "rules",
                                  (json_int_t)rules_set_size (self->rules), "outbox",
                                  (json_int_t)(self->queue.count + self->inflight.count),
                                  "duplicates", (json_int_t)self->duplicates, "synced",
                                  self->synced, "sent", (json_int_t)self->sent);
    rules_query_tables_t tables = {self->store, self->events, self->enforcements,
                                   counters};
    rules_query (&tables, type, payload, answer);
    json_decref (counters);
}

//  ---------------------------------------------------------------------------
//  Actor

//  Queue every command left in the outbox (sent before, never acked).
static int
s_load_outbox (s_rules_t *self)
{
    store_txn_t *txn = store_read_begin (self->store);
    if (!txn)
        return -1;
    store_cursor_t *cursor = store_cursor_new (txn, self->outbox);
    size_t loaded = 0, bad = 0;
    while (cursor && store_cursor_next (cursor) == STORE_OK) {
        //  New ids go above every stored one, sent or not
        if (store_cursor_id (cursor) > self->outbox_last)
            self->outbox_last = self->outbox_pending = store_cursor_id (cursor);
        size_t size;
        const void *data = store_cursor_data (cursor, &size);
        proto_error_t error;
        proto_envelope_t *envelope = proto_envelope_decode (data, size, NULL, &error);
        if (!envelope) {
            //  Kept (never lose data silently), but not sent
            zsys_error ("rules: outbox command %" PRIu64 " does not decode: %s",
                        store_cursor_id (cursor), error.message);
            bad++;
            continue;
        }
        s_out_t out = {store_cursor_id (cursor), {0}, (uint8_t *)malloc (size), size};
        memcpy (out.id, proto_envelope_id (envelope), PROTO_UUID_SIZE);
        proto_envelope_destroy (&envelope);
        if (!out.data)
            break; //  out of memory: sent at the next start
        memcpy (out.data, data, size);
        s_fifo_push (&self->queue, &out);
        loaded++;
    }
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    if (loaded)
        zsys_info ("rules: %zu outbox commands to send again", loaded);
    return 0;
}

static void
s_destroy (s_rules_t *self)
{
    s_attempt_discard (self);
    free (self->effects);
    s_fifo_destroy (&self->queue);
    s_fifo_destroy (&self->inflight);
    free (self->acked);
    rules_sync_destroy (&self->sync);
    actor_query_destroy (&self->query);
    registry_client_destroy (&self->registry);
    rules_kv_destroy (&self->kv);
    rules_set_destroy (&self->rules);
    bus_link_destroy (&self->link);
    bus_pub_destroy (&self->pub);
    bus_inbox_destroy (&self->inbox);
    store_close (&self->store);
    msgpack_sbuffer_destroy (&self->record);
    msgpack_sbuffer_destroy (&self->params);
    msgpack_sbuffer_destroy (&self->payload);
    msgpack_sbuffer_destroy (&self->encoded);
}

static int
s_start (s_rules_t *self, const actor_config_t *config)
{
    msgpack_sbuffer_init (&self->record);
    msgpack_sbuffer_init (&self->params);
    msgpack_sbuffer_init (&self->payload);
    msgpack_sbuffer_init (&self->encoded);
    if (!config->topology) {
        zsys_error ("rules: no topology");
        return -1;
    }
    char host[256];
    actor_host (config, host, sizeof host);
    snprintf (self->source, sizeof self->source, "rules@%s", host);

    char dir[4096];
    snprintf (dir, sizeof dir, "%s/rules", config->data_dir ? config->data_dir : ".");
    store_config_t store_config = {.nosync = config->nosync};
    store_code_t code;
    char message[512];
    self->store = store_open (dir, &store_config, &code, message, sizeof message);
    if (!self->store) {
        zsys_error ("rules: %s", message);
        return -1;
    }
    self->events = store_table (self->store, "events", false);
    self->enforcements = store_table (self->store, "enforcements", false);
    self->outbox = store_table (self->store, "outbox", false);
    self->counters = store_table (self->store, "counters", false);
    if (!self->events || !self->enforcements || !self->outbox || !self->counters) {
        zsys_error ("rules: %s", store_last_error (self->store));
        return -1;
    }

    bus_link_config_t link_config;
    actor_link_config (config, &link_config);
    const char *endpoint = bus_topology_bind (config->topology, "rules.commands");
    self->inbox =
        endpoint ? bus_inbox_new (endpoint, "rules", self->store, &link_config) : NULL;
    if (!self->inbox) {
        zsys_error ("rules: cannot bind rules.commands (%s)", endpoint ? endpoint : "?");
        return -1;
    }
    //  An event is stored under its command id and looked up first
    //  (s_on_command): the inbox needs no processed-id table of its own
    bus_inbox_set_handler_dedups (self->inbox, "event.create");
    self->query = actor_query_new (bus_topology_bind (config->topology, "rules.query"),
                                   self->source);
    if (!self->query)
        return -1;
    endpoint = bus_topology_bind (config->topology, "rules.facts");
    self->pub = endpoint ? bus_pub_new (endpoint, 0) : NULL;
    if (!self->pub) {
        zsys_error ("rules: cannot bind rules.facts (%s)", endpoint ? endpoint : "?");
        return -1;
    }
    endpoint = bus_topology_connect (config->topology, "executor.commands");
    self->link = endpoint ? bus_link_new (endpoint, self->source, &link_config) : NULL;
    if (!self->link) {
        zsys_error ("rules: cannot connect to executor.commands (%s)",
                    endpoint ? endpoint : "?");
        return -1;
    }
    bus_link_set_ack_handler (self->link, s_on_ack, self);
    bus_link_set_reject_handler (self->link, s_on_reject, self);

    self->rules = rules_set_new ();
    self->registry =
        self->rules ? registry_client_new (config->topology, self->source) : NULL;
    self->sync = self->registry ? rules_sync_new (self->query, self->registry) : NULL;
    if (!self->sync) {
        zsys_error ("rules: cannot start the registry client");
        return -1;
    }
    registry_client_set_change_handler (self->registry, s_on_change, self);
    self->kv = rules_kv_new (config->topology, self->source);
    if (!self->kv) {
        zsys_error ("rules: cannot subscribe to datastore.facts");
        return -1;
    }
    if (s_load_outbox (self) != 0) {
        zsys_error ("rules: cannot read the outbox: %s", store_last_error (self->store));
        return -1;
    }
    s_pump (self);
    return 0;
}

static int
s_min_timeout (int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

void
rules_actor (zsock_t *pipe, void *args)
{
    const actor_config_t *config = (const actor_config_t *)args;
    s_rules_t self_data;
    memset (&self_data, 0, sizeof self_data);
    s_rules_t *self = &self_data;
    self->pipe = pipe;
    if (!config || s_start (self, config) != 0) {
        s_destroy (self);
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);

    zmq_pollitem_t items[] = {
        {zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (bus_link_sock (self->link)), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (registry_client_sub_sock (self->registry)), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (registry_client_snapshot_sock (self->registry)), 0, ZMQ_POLLIN,
         0},
        {zsock_resolve (actor_query_sock (self->query)), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (bus_inbox_sock (self->inbox)), 0, ZMQ_POLLIN, 0},
    };
    while (!self->terminated) {
        int timeout = bus_link_timeout (self->link);
        timeout = s_min_timeout (timeout, bus_inbox_timeout (self->inbox));
        timeout = s_min_timeout (timeout, registry_client_timeout (self->registry));
        if (self->nacked > 0) {
            int64_t left = self->ack_flush_at - zclock_mono ();
            timeout = s_min_timeout (timeout, left < 0 ? 0 : (int)left);
        }
        //  Commands wait until the rules are known
        int count = self->synced ? 6 : 5;
        int rc = zmq_poll (items, count, timeout);
        if (rc == -1 && errno != EINTR)
            break; //  context terminated
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            s_handle_pipe (self);
        if (self->terminated)
            break;
        if (rc > 0 && (items[2].revents & ZMQ_POLLIN))
            registry_client_handle (self->registry,
                                    registry_client_sub_sock (self->registry));
        if (rc > 0 && (items[3].revents & ZMQ_POLLIN))
            registry_client_handle (self->registry,
                                    registry_client_snapshot_sock (self->registry));
        if (rc > 0 && (items[2].revents | items[3].revents) & ZMQ_POLLIN)
            rules_sync_check (self->sync);
        if (!self->synced && registry_client_synced (self->registry)) {
            self->synced = true;
            zsys_info ("rules: %zu rules (%zu enabled) from the registry; taking events",
                       rules_set_size (self->rules), rules_set_enabled (self->rules));
        }
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN))
            bus_link_handle (self->link);
        bool processed = false;
        if (rc > 0 && (items[4].revents & ZMQ_POLLIN))
            actor_query_handle (self->query, s_handle_query, self);
        if (rc > 0 && count == 6 && (items[5].revents & ZMQ_POLLIN)) {
            rules_kv_drain (self->kv); //  the keys as they are now
            bus_inbox_process (self->inbox, s_on_command, self);
            if (self->attempt_open)
                s_attempt_discard (self); //  the batch did not commit
            processed = true;
        }
        if (self->nacked >= S_ACK_FLUSH_MAX ||
            (self->nacked > 0 && !processed && zclock_mono () >= self->ack_flush_at))
            s_flush_acked (self);
        s_pump (self);
        bus_link_tick (self->link);
        bus_inbox_tick (self->inbox);
        registry_client_tick (self->registry);
        rules_kv_drain (self->kv); //  facts do not wait for events
        rules_sync_check (self->sync); //  those that waited too long
    }
    s_flush_acked (self);
    s_destroy (self);
}
