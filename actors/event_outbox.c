/*  event_outbox: durable events raised by an actor's transactions
    (event_outbox.h).
*/
#include "actors/event_outbox.h"

#include <czmq.h>

#define S_DELETE_MS 50

typedef struct {
    uint64_t oid;
    uint8_t id[PROTO_UUID_SIZE];
    uint8_t *data; //  queued: the bytes; in flight: NULL
    size_t size;
} s_event_t;

struct _event_outbox_t {
    store_t *store;
    store_table_t *table;
    bus_link_t *link;
    char source[300];
    zlist_t *pending;  //  s_event_t: stored by the running attempt
    zlist_t *queue;    //  s_event_t: committed, not sent
    zhashx_t *flight;  //  hex id -> s_event_t: sent, not acked
    zlist_t *acked;    //  s_event_t: acked, not deleted yet
    int64_t delete_at; //  monotonic ms
    msgpack_sbuffer buffer;
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

static void
s_hex (const uint8_t id[PROTO_UUID_SIZE], char out[2 * PROTO_UUID_SIZE + 1])
{
    for (int i = 0; i < PROTO_UUID_SIZE; i++)
        sprintf (out + 2 * i, "%02x", id[i]);
}

static void
s_on_ack (void *arg, const uint8_t id[PROTO_UUID_SIZE])
{
    event_outbox_t *self = (event_outbox_t *)arg;
    char hex[2 * PROTO_UUID_SIZE + 1];
    s_hex (id, hex);
    s_event_t *event = (s_event_t *)zhashx_lookup (self->flight, hex);
    if (event) {
        zhashx_delete (self->flight, hex);
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
    self->acked = zlist_new ();
    msgpack_sbuffer_init (&self->buffer);
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
        for (s_event_t *event = (s_event_t *)zhashx_first (self->flight); event;
             event = (s_event_t *)zhashx_next (self->flight))
            s_event_free (&event);
        zhashx_destroy (&self->flight);
        msgpack_sbuffer_destroy (&self->buffer);
        free (self);
        *self_p = NULL;
    }
}

void
event_outbox_attempt (event_outbox_t *self)
{
    s_event_t *event;
    while ((event = (s_event_t *)zlist_pop (self->pending)))
        s_event_free (&event);
}

int
event_outbox_add (event_outbox_t *self, store_txn_t *txn, const char *trigger,
                  json_t *payload)
{
    proto_envelope_t *command = proto_envelope_new ("event.create", self->source);
    json_t *body = json_pack ("{s:s, s:o, s:o}", "trigger", trigger, "trigger_parameters",
                              json_object (), "payload", payload);
    proto_error_t error;
    msgpack_sbuffer_clear (&self->buffer);
    int rc = -1;
    if (command && body &&
        proto_envelope_set_payload_json (command, body, &error) == PROTO_OK &&
        proto_envelope_encode (command, &self->buffer) == 0) {
        s_event_t *event = (s_event_t *)zmalloc (sizeof (s_event_t));
        memcpy (event->id, proto_envelope_id (command), PROTO_UUID_SIZE);
        event->size = self->buffer.size;
        event->data = (uint8_t *)malloc (event->size);
        memcpy (event->data, self->buffer.data, event->size);
        if (store_insert (txn, self->table, event->data, event->size, &event->oid) ==
            STORE_OK) {
            zlist_append (self->pending, event);
            rc = 0;
        } else
            s_event_free (&event);
    }
    proto_envelope_destroy (&command);
    json_decref (body);
    return rc;
}

void
event_outbox_committed (event_outbox_t *self)
{
    s_event_t *event;
    while ((event = (s_event_t *)zlist_pop (self->pending)))
        zlist_append (self->queue, event);
}

static int
s_delete_fn (store_txn_t *txn, void *arg)
{
    event_outbox_t *self = (event_outbox_t *)arg;
    for (s_event_t *event = (s_event_t *)zlist_first (self->acked); event;
         event = (s_event_t *)zlist_next (self->acked)) {
        store_code_t code = store_del_id (txn, self->table, event->oid);
        if (code != STORE_OK && code != STORE_NOTFOUND)
            return -1;
    }
    return 0;
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
        char hex[2 * PROTO_UUID_SIZE + 1];
        s_hex (event->id, hex);
        zhashx_update (self->flight, hex, event);
        self->sent++;
    }
    if (zlist_size (self->acked) == 0 || zclock_mono () < self->delete_at)
        return;
    if (store_write (self->store, s_delete_fn, self) == STORE_OK)
        while ((event = (s_event_t *)zlist_pop (self->acked)))
            s_event_free (&event);
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
