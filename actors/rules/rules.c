/*  rules: events -> enforcements (rules.h).

    The inbox handler runs inside the batch's write transaction and may run
    again for the same batch when the store grows its map. Everything it
    wants done after the commit (facts to publish, outbox commands to send)
    is kept in an "attempt": effects (actor_effects.h) that the commit
    callback carries out and that a new attempt (retry) throws away. An
    attempt is recognised by the store's (commits, growths) counters, which
    change between any two write transactions that can reach the handler.

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
#include "actors/rules/rules_internal.h"
#include "actors/actor_effects.h"
#include "actors/actor_loop.h"

//  The actor's own names for the shared types (rules_internal.h)
typedef rules_out_t s_out_t;
typedef rules_fifo_t s_fifo_t;
typedef rules_t s_rules_t;

//  ---------------------------------------------------------------------------
//  Outgoing commands: a growable ring

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
//  Effects of a write attempt (actor_effects): run after its commit

static void
s_fact_drop (void *ctx, void *arg)
{
    proto_envelope_t *fact = (proto_envelope_t *)arg;
    proto_envelope_destroy (&fact);
}

static void
s_fact_run (void *ctx, void *arg)
{
    bus_pub_send (((s_rules_t *)ctx)->pub, (proto_envelope_t *)arg);
    s_fact_drop (ctx, arg);
}

static void
s_command_drop (void *ctx, void *arg)
{
    s_out_t *out = (s_out_t *)arg;
    free (out->data);
    free (out);
}

static void s_fifo_push (s_fifo_t *fifo, const s_out_t *item);

//  Committed: in the outbox table, so to the link (through the queue)
static void
s_command_run (void *ctx, void *arg)
{
    s_out_t *out = (s_out_t *)arg;
    s_fifo_push (&((s_rules_t *)ctx)->queue, out);
    out->data = NULL;
    s_command_drop (ctx, arg);
}

void
rules_effect_fact (s_rules_t *self, proto_envelope_t *fact)
{
    if (actor_effects_add (self->effects, s_fact_run, s_fact_drop, fact) != 0) {
        zsys_error ("rules: cannot keep a fact for after the commit: out of memory");
        proto_envelope_destroy (&fact);
    }
}

int
rules_effect_command (s_rules_t *self, uint64_t oid, const uint8_t id[PROTO_UUID_SIZE],
                      const msgpack_sbuffer *encoded)
{
    s_out_t *out = (s_out_t *)malloc (sizeof (s_out_t));
    uint8_t *data = (uint8_t *)malloc (encoded->size);
    if (!out || !data) {
        free (out);
        free (data);
        return -1;
    }
    memcpy (data, encoded->data, encoded->size);
    out->oid = oid;
    memcpy (out->id, id, PROTO_UUID_SIZE);
    out->data = data;
    out->size = encoded->size;
    if (actor_effects_add (self->effects, s_command_run, s_command_drop, out) != 0) {
        s_command_drop (self, out);
        return -1;
    }
    return 0;
}

//  An attempt that did not commit: forget its counts.
static void
s_attempt_discard (void *ctx, void *unused)
{
    s_rules_t *self = (s_rules_t *)ctx;
    self->attempt_acked = 0;
    self->attempt_duplicates = 0;
    self->attempt_refused = 0;
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

//  After a commit: forget deleted acks, count what it did (its facts and
//  commands are effects of their own, run after this one).
static void
s_attempt_commit (void *ctx, void *unused)
{
    s_rules_t *self = (s_rules_t *)ctx;
    s_acked_forget (self, self->attempt_acked);
    self->attempt_acked = 0;
    self->duplicates += self->attempt_duplicates;
    self->attempt_duplicates = 0;
    self->refused += self->attempt_refused;
    self->attempt_refused = 0;
    self->outbox_last = self->outbox_pending;
}

int
rules_attempt_begin (s_rules_t *self, store_txn_t *txn)
{
    int rc = actor_effects_attach (self->effects, self->store, txn);
    if (rc <= 0)
        return rc; //  the same attempt, or no memory
    s_attempt_discard (self, NULL);
    if (s_delete_acked (self, txn) != 0)
        return -1;
    self->attempt_acked = self->nacked;
    return actor_effects_add (self->effects, s_attempt_commit, s_attempt_discard, NULL);
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

static json_t *
s_pipe_status (void *arg)
{
    s_rules_t *self = (s_rules_t *)arg;
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
        (json_int_t)(bus_inbox_rejected (self->inbox) + self->refused), "sent",
        (json_int_t)self->sent, "acked", (json_int_t)self->acks);
    store_read_end (&txn);
    return status;
}

//  api.rule.test: a loaded rule (`rule`) or one given whole (`definition`)
//  against a stored event (`event`) or one given whole (`trigger_instance`)
static void
s_rule_test (s_rules_t *self, const rules_query_tables_t *tables, json_t *payload,
             actor_answer_t *answer)
{
    const char *ref = json_string_value (json_object_get (payload, "rule"));
    json_t *definition = json_object_get (payload, "definition");
    const char *event_id = json_string_value (json_object_get (payload, "event"));
    json_t *instance = json_object_get (payload, "trigger_instance");
    if (!ref == !definition || !event_id == !instance) {
        actor_query_fail (answer, "bad_request",
                          "give one of rule and definition, and one of event and "
                          "trigger_instance");
        return;
    }
    char message[768] = "";
    const char *name = json_string_value (json_object_get (definition, "ref"));
    if (!name)
        name = json_string_value (json_object_get (definition, "name"));
    rules_rule_t *own = definition
                            ? rules_rule_compile (name ? name : "(given)", definition,
                                                  message, sizeof message)
                            : NULL;
    const rules_rule_t *rule = own ? own : ref ? rules_set_get (self->rules, ref) : NULL;
    json_t *event = instance ? json_incref (instance) : NULL;
    if (event_id) {
        json_t *get = json_pack ("{s:s}", "id", event_id);
        rules_query (tables, "api.event.get", get, answer);
        json_decref (get);
        event = answer->result;
        answer->result = NULL;
    }
    if (!rule && !answer->code[0])
        actor_query_fail (answer, definition ? "invalid" : "not_found", "%s",
                          definition ? message : "no such rule");
    else if (event && !answer->code[0]) {
        answer->result = rules_enforce_test (self, rule, event);
        if (!answer->result)
            actor_query_fail (answer, "internal", "out of memory");
    }
    json_decref (event);
    rules_rule_destroy (&own);
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
    if (streq (type, "api.purge")) {
        rules_retention_purge (self->retention, payload, answer);
        return;
    }
    rules_query_tables_t tables = {self->store, self->events, self->enforcements, NULL};
    if (streq (type, "api.rule.test")) {
        s_rule_test (self, &tables, payload, answer);
        return;
    }
    json_t *counters = json_pack ("{s:I, s:I, s:I, s:b, s:I}", "rules",
                                  (json_int_t)rules_set_size (self->rules), "outbox",
                                  (json_int_t)(self->queue.count + self->inflight.count),
                                  "duplicates", (json_int_t)self->duplicates, "synced",
                                  self->synced, "sent", (json_int_t)self->sent);
    json_object_set_new (counters, "purged", rules_retention_status (self->retention));
    tables.counters = counters;
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
s_rules_destroy (s_rules_t **self_p)
{
    s_rules_t *self = *self_p;
    if (!self)
        return;
    actor_loop_destroy (&self->loop);
    actor_effects_destroy (&self->effects);
    s_fifo_destroy (&self->queue);
    s_fifo_destroy (&self->inflight);
    free (self->acked);
    rules_sync_destroy (&self->sync);
    rules_retention_destroy (&self->retention);
    actor_query_destroy (&self->query);
    registry_client_destroy (&self->registry);
    rules_kv_destroy (&self->kv);
    json_decref (self->context_cache);
    rules_set_destroy (&self->rules);
    bus_link_destroy (&self->link);
    bus_pub_destroy (&self->pub);
    bus_inbox_destroy (&self->inbox);
    store_close (&self->store);
    msgpack_sbuffer_destroy (&self->record);
    msgpack_sbuffer_destroy (&self->params);
    msgpack_sbuffer_destroy (&self->payload);
    msgpack_sbuffer_destroy (&self->encoded);
    free (self);
    *self_p = NULL;
}

//  The rules actor's store and its tables. 0, or -1 after saying why.
static int
s_open_store (s_rules_t *self, const actor_config_t *config)
{
    self->store = actor_store_open (config, "rules");
    if (!self->store)
        return -1;
    self->events = store_table (self->store, "events", false);
    self->enforcements = store_table (self->store, "enforcements", false);
    self->outbox = store_table (self->store, "outbox", false);
    self->counters = store_table (self->store, "counters", false);
    if (!self->events || !self->enforcements || !self->outbox || !self->counters) {
        zsys_error ("rules: %s", store_last_error (self->store));
        return -1;
    }
    return 0;
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
    snprintf (self->packs_dir, sizeof self->packs_dir, "%s", config->packs_dir ?: "");
    if (s_open_store (self, config) != 0)
        return -1;
    bus_link_config_t link_config;
    actor_link_config (config, &link_config);
    self->heartbeat_ms = link_config.heartbeat_ms;
    const char *endpoint = bus_topology_bind (config->topology, "rules.commands");
    self->inbox =
        endpoint ? bus_inbox_new (endpoint, "rules", self->store, &link_config) : NULL;
    if (!self->inbox) {
        zsys_error ("rules: cannot bind rules.commands (%s)", endpoint ? endpoint : "?");
        return -1;
    }
    //  An event is stored under its command id and looked up first
    //  (rules_enforce_command): the inbox needs no processed-id table of its own
    bus_inbox_set_handler_dedups (self->inbox, "event.create");
    bus_inbox_set_handler_dedups (self->inbox, "event.create.batch");
    self->query = actor_query_new (bus_topology_bind (config->topology, "rules.query"),
                                   self->source);
    if (!self->query)
        return -1;
    actor_query_set_store (self->query, self->store, "rules");
    self->retention = rules_retention_new (self->store, self->events, self->enforcements,
                                           self->query, &config->retention);
    if (!self->retention)
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
    actor_query_metrics_inbox (self->query, self->inbox); //  metrics.get
    actor_query_metrics_link (self->query, "executor", self->link);
    bus_link_set_reject_handler (self->link, s_on_reject, self);
    self->rules = rules_set_new ();
    self->registry = self->rules
                         ? registry_client_new_keeping (config->topology, self->source,
                                                        REGISTRY_KEEP_RULES)
                         : NULL;
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

//  A heartbeat fact every interval, as on the other fact streams: its
//  sequence number shows a subscriber the facts it lost and a restart
//  (a new publisher id) within one interval, even when no event comes.
static void
s_heartbeat (void *arg, void *unused)
{
    s_rules_t *self = (s_rules_t *)arg;
    proto_envelope_t *beat = proto_envelope_new ("rules.heartbeat", self->source);
    if (beat && proto_envelope_set_payload_packed (beat, "\x80", 1) == 0)
        bus_pub_send (self->pub, beat);
    else
        zsys_error ("rules: cannot publish rules.heartbeat: out of memory");
    proto_envelope_destroy (&beat);
}

//  The registry's first snapshot is in: the rules are known, events come in
static void
s_on_synced (void *arg, void *registry)
{
    s_rules_t *self = (s_rules_t *)arg;
    self->synced = true;
    zsys_info ("rules: %zu rules (%zu enabled) from the registry; taking events",
               rules_set_size (self->rules), rules_set_enabled (self->rules));
}

static void
s_on_link (void *self, void *unused)
{
    bus_link_handle (((s_rules_t *)self)->link);
}

static void
s_on_query (void *arg, void *unused)
{
    s_rules_t *self = (s_rules_t *)arg;
    actor_query_handle (self->query, s_handle_query, self);
}

//  A batch of events: its effects ran at the commit; none without one.
static void
s_on_inbox (void *arg, void *unused)
{
    s_rules_t *self = (s_rules_t *)arg;
    rules_kv_drain (self->kv); //  the keys as they are now
    bus_inbox_process (self->inbox, rules_enforce_command, self);
    actor_effects_drop (self->effects); //  an attempt that did not commit
    self->processed = true;
}

static int
s_timeout (void *arg)
{
    s_rules_t *self = (s_rules_t *)arg;
    int timeout = bus_link_timeout (self->link);
    timeout = s_min_timeout (timeout, bus_inbox_timeout (self->inbox));
    if (self->nacked > 0) {
        int64_t left = self->ack_flush_at - zclock_mono ();
        timeout = s_min_timeout (timeout, left < 0 ? 0 : (int)left);
    }
    return s_min_timeout (timeout, rules_retention_timeout (self->retention));
}

static void
s_after (void *arg)
{
    s_rules_t *self = (s_rules_t *)arg;
    if (self->nacked >= S_ACK_FLUSH_MAX ||
        (self->nacked > 0 && !self->processed && zclock_mono () >= self->ack_flush_at))
        s_flush_acked (self);
    bool busy = self->processed;
    self->processed = false;
    s_pump (self);
    bus_link_tick (self->link);
    bus_inbox_tick (self->inbox);
    rules_kv_drain (self->kv);     //  facts do not wait for events
    rules_sync_check (self->sync); //  changes applied, and those that waited too long
    rules_retention_tick (self->retention, busy);
}

//  The state, its store, sockets and loop; NULL on failure (logged).
static s_rules_t *
s_rules_new (zsock_t *pipe, const actor_config_t *config)
{
    s_rules_t *self = (s_rules_t *)zmalloc (sizeof (s_rules_t));
    self->pipe = pipe;
    self->effects = actor_effects_new (self);
    self->loop = actor_loop_new (pipe, "rules", self);
    actor_loop_t *loop = self->loop;
    if (!self->effects || !loop || !config || s_start (self, config) != 0 ||
        actor_loop_registry (loop, self->registry, bus_inbox_sock (self->inbox),
                             s_on_synced) != 0 ||
        actor_loop_reader (loop, bus_link_sock (self->link), 0, s_on_link, NULL) != 0 ||
        actor_loop_reader (loop, actor_query_sock (self->query), 1, s_on_query, NULL) !=
            0 ||
        actor_loop_reader (loop, bus_inbox_sock (self->inbox), 2, s_on_inbox, NULL) !=
            0 ||
        actor_loop_timer (loop, self->heartbeat_ms, s_heartbeat, NULL) != 0) {
        s_rules_destroy (&self);
        return NULL;
    }
    actor_loop_set_status (loop, s_pipe_status);
    actor_loop_set_timeout (loop, s_timeout);
    actor_loop_set_after (loop, s_after);
    return self;
}

void
rules_actor (zsock_t *pipe, void *args)
{
    s_rules_t *self = s_rules_new (pipe, (const actor_config_t *)args);
    zsock_signal (pipe, self ? 0 : 1);
    if (self) {
        actor_loop_run (self->loop);
        s_flush_acked (self);
    }
    s_rules_destroy (&self);
}
