/*  event_outbox: durable events raised by an actor's transactions
    (event_outbox.h).
*/
#include "actors/event_outbox.h"

#include "proto/proto_json.h"

#include <czmq.h>
#include <inttypes.h>

#define S_DELETE_MS 50

typedef struct {
    uint64_t oid;
    uint8_t id[PROTO_UUID_SIZE]; //  the key of `flight`
    uint8_t *data;               //  queued: the bytes; in flight: NULL
    size_t size;
} s_event_t;

struct _event_outbox_t {
    store_t *store;
    store_table_t *table;
    bus_link_t *link;
    char source[300];
    zlist_t *pending;        //  s_event_t: stored by the running attempt
    zlist_t *queue;          //  s_event_t: committed, not sent
    zhashx_t *flight;        //  id (16 bytes) -> s_event_t: sent, not acked
    zlist_t *acked;          //  s_event_t: acked, not deleted yet
    zlist_t *deleting;       //  s_event_t: acked, deleted by the running attempt
    int64_t delete_at;       //  monotonic ms: the outbox's own delete write is due
    msgpack_sbuffer buffer;  //  an event.create payload
    msgpack_sbuffer encoded; //  its envelope
    msgpack_sbuffer json;    //  a JSON payload packed
    uint64_t sent;
};

static void
s_event_free (s_event_t **event_p)
{
    if (*event_p) {
        free ((*event_p)->data);
        free (*event_p);
        *event_p = NULL;
    }
}

//  The flight table's keys are the events' own ids (binary, 16 bytes):
//  UUID v7, whose last 8 bytes are random
static size_t
s_id_hash (const void *key)
{
    uint64_t tail;
    memcpy (&tail, (const uint8_t *)key + PROTO_UUID_SIZE - 8, 8);
    return (size_t)tail;
}

static int
s_id_compare (const void *a, const void *b)
{
    return memcmp (a, b, PROTO_UUID_SIZE);
}

static void
s_on_ack (void *arg, const uint8_t id[PROTO_UUID_SIZE])
{
    event_outbox_t *self = (event_outbox_t *)arg;
    s_event_t *event = (s_event_t *)zhashx_lookup (self->flight, id);
    if (event) {
        zhashx_delete (self->flight, id);
        //  Deleted by the actor's next transaction (event_outbox_flush), or
        //  by a write of the outbox's own when none comes soon
        if (zlist_size (self->acked) == 0)
            self->delete_at = zclock_mono () + S_DELETE_MS;
        zlist_append (self->acked, event);
    }
}

//  Queue every event left in the table (sent before, never acked)
static int
s_load (event_outbox_t *self)
{
    store_txn_t *txn = store_read_begin (self->store);
    store_cursor_t *cursor = txn ? store_cursor_new (txn, self->table) : NULL;
    store_code_t code = cursor ? store_cursor_first (cursor) : STORE_INTERNAL;
    for (; code == STORE_OK; code = store_cursor_next (cursor)) {
        size_t size;
        const void *data = store_cursor_data (cursor, &size);
        proto_envelope_t *envelope = proto_envelope_decode (data, size, NULL, NULL);
        s_event_t *event = (s_event_t *)zmalloc (sizeof (s_event_t));
        event->oid = store_cursor_id (cursor);
        if (envelope)
            memcpy (event->id, proto_envelope_id (envelope), PROTO_UUID_SIZE);
        event->data = (uint8_t *)malloc (size);
        memcpy (event->data, data, size);
        event->size = size;
        proto_envelope_destroy (&envelope);
        zlist_append (self->queue, event);
    }
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    if (zlist_size (self->queue))
        zsys_info ("%s: %zu events from before the restart to send", self->source,
                   zlist_size (self->queue));
    return code == STORE_NOTFOUND ? 0 : -1;
}

event_outbox_t *
event_outbox_new (store_t *store, const char *table, bus_link_t *link, const char *source)
{
    event_outbox_t *self = (event_outbox_t *)zmalloc (sizeof (event_outbox_t));
    self->store = store;
    self->link = link;
    snprintf (self->source, sizeof self->source, "%s", source);
    self->table = store_table (store, table, false);
    self->pending = zlist_new ();
    self->queue = zlist_new ();
    self->flight = zhashx_new ();
    zhashx_set_key_hasher (self->flight, s_id_hash);
    zhashx_set_key_comparator (self->flight, s_id_compare);
    zhashx_set_key_duplicator (self->flight, NULL);
    zhashx_set_key_destructor (self->flight, NULL);
    self->acked = zlist_new ();
    self->deleting = zlist_new ();
    msgpack_sbuffer_init (&self->buffer);
    msgpack_sbuffer_init (&self->encoded);
    msgpack_sbuffer_init (&self->json);
    if (!self->table || s_load (self) != 0) {
        zsys_error ("%s: cannot read the outbox: %s", source, store_last_error (store));
        event_outbox_destroy (&self);
        return NULL;
    }
    bus_link_set_ack_handler (link, s_on_ack, self);
    return self;
}

static void
s_list_free (zlist_t **list_p)
{
    s_event_t *event;
    while (*list_p && (event = (s_event_t *)zlist_pop (*list_p)))
        s_event_free (&event);
    zlist_destroy (list_p);
}

void
event_outbox_destroy (event_outbox_t **self_p)
{
    if (self_p && *self_p) {
        event_outbox_t *self = *self_p;
        s_list_free (&self->pending);
        s_list_free (&self->queue);
        s_list_free (&self->acked);
        s_list_free (&self->deleting);
        for (s_event_t *event = (s_event_t *)zhashx_first (self->flight); event;
             event = (s_event_t *)zhashx_next (self->flight))
            s_event_free (&event);
        zhashx_destroy (&self->flight);
        msgpack_sbuffer_destroy (&self->buffer);
        msgpack_sbuffer_destroy (&self->encoded);
        msgpack_sbuffer_destroy (&self->json);
        free (self);
        *self_p = NULL;
    }
}

//  What the running attempt deleted is acked again (it did not commit)
static void
s_undelete (event_outbox_t *self)
{
    s_event_t *event;
    while ((event = (s_event_t *)zlist_pop (self->deleting)))
        zlist_append (self->acked, event);
}

void
event_outbox_attempt (event_outbox_t *self)
{
    s_event_t *event;
    while ((event = (s_event_t *)zlist_pop (self->pending)))
        s_event_free (&event);
    s_undelete (self);
}

int
event_outbox_add_packed (event_outbox_t *self, store_txn_t *txn, const char *trigger,
                         const void *payload, size_t size)
{
    msgpack_sbuffer_clear (&self->buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    proto_pack_str (&pk, "trigger");
    proto_pack_str (&pk, trigger);
    proto_pack_str (&pk, "trigger_parameters");
    msgpack_pack_map (&pk, 0);
    proto_pack_str (&pk, "payload");
    msgpack_sbuffer_write (&self->buffer, (const char *)payload, size);
    //  Validated as a received frame would be: a payload nested one level
    //  deeper than where it came from may now be too deep
    proto_envelope_t *command = proto_envelope_new ("event.create", self->source);
    proto_error_t error = {0};
    msgpack_sbuffer_clear (&self->encoded);
    if (!command ||
        proto_envelope_set_payload (command, self->buffer.data, self->buffer.size,
                                    &error) != PROTO_OK ||
        proto_envelope_encode (command, &self->encoded) != 0) {
        zsys_error ("%s: cannot build the %s event: %s", self->source, trigger,
                    command ? error.message : "out of memory");
        proto_envelope_destroy (&command);
        return -1;
    }
    s_event_t *event = (s_event_t *)zmalloc (sizeof (s_event_t));
    memcpy (event->id, proto_envelope_id (command), PROTO_UUID_SIZE);
    proto_envelope_destroy (&command);
    event->size = self->encoded.size;
    event->data = (uint8_t *)malloc (event->size);
    memcpy (event->data, self->encoded.data, event->size);
    if (store_insert (txn, self->table, event->data, event->size, &event->oid) !=
        STORE_OK) {
        s_event_free (&event);
        return -1;
    }
    zlist_append (self->pending, event);
    return 0;
}

int
event_outbox_add (event_outbox_t *self, store_txn_t *txn, const char *trigger,
                  json_t *payload)
{
    proto_error_t error;
    msgpack_sbuffer_clear (&self->json);
    int rc = payload && proto_json_to_sbuffer (payload, &self->json, &error) == PROTO_OK
                 ? event_outbox_add_packed (self, txn, trigger, self->json.data,
                                            self->json.size)
                 : -1;
    json_decref (payload);
    return rc;
}

int
event_outbox_flush (event_outbox_t *self, store_txn_t *txn)
{
    //  Again what an earlier attempt deleted: it may have been retried
    //  without a word (a row deleted twice is not found, which is fine)
    s_undelete (self);
    int deleted = 0;
    s_event_t *event;
    while ((event = (s_event_t *)zlist_pop (self->acked))) {
        zlist_append (self->deleting, event);
        store_code_t code = store_del_id (txn, self->table, event->oid);
        if (code != STORE_OK && code != STORE_NOTFOUND)
            return -1;
        deleted++;
    }
    return deleted;
}

size_t
event_outbox_acked (event_outbox_t *self)
{
    return zlist_size (self->acked) + zlist_size (self->deleting);
}

void
event_outbox_committed (event_outbox_t *self)
{
    s_event_t *event;
    while ((event = (s_event_t *)zlist_pop (self->pending)))
        zlist_append (self->queue, event);
    while ((event = (s_event_t *)zlist_pop (self->deleting)))
        s_event_free (&event);
}

//  The outbox's own write: what was acked, when the actor wrote nothing
//  that took it
static int
s_delete_fn (store_txn_t *txn, void *arg)
{
    event_outbox_t *self = (event_outbox_t *)arg;
    return event_outbox_flush (self, txn) < 0 ? -1 : 0;
}

void
event_outbox_pump (event_outbox_t *self)
{
    s_event_t *event;
    while (zlist_size (self->queue) && bus_link_can_send (self->link)) {
        event = (s_event_t *)zlist_first (self->queue);
        uint8_t *data = event->data;
        if (bus_link_send_encoded (self->link, event->id, &data, event->size) != 0)
            break; //  stays queued: sent at a later turn
        zlist_pop (self->queue);
        event->data = NULL; //  the link's now
        if (zhashx_insert (self->flight, event->id, event) != 0) {
            //  The same id twice: a row whose envelope did not decode at
            //  start (it has no id); its ack cannot be told apart
            zsys_error ("%s: outbox row %" PRIu64 " has no usable id: deleted",
                        self->source, event->oid);
            zlist_append (self->acked, event);
        }
        self->sent++;
    }
    if (zlist_size (self->acked) == 0 || zclock_mono () < self->delete_at)
        return;
    if (store_write (self->store, s_delete_fn, self) == STORE_OK) {
        while ((event = (s_event_t *)zlist_pop (self->deleting)))
            s_event_free (&event);
    } else
        s_undelete (self);
    self->delete_at = zclock_mono () + S_DELETE_MS;
}

size_t
event_outbox_size (event_outbox_t *self)
{
    return zlist_size (self->queue) + zhashx_size (self->flight);
}

uint64_t
event_outbox_sent (event_outbox_t *self)
{
    return self->sent;
}
