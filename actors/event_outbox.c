/*  event_outbox: durable events raised by an actor's transactions
    (event_outbox.h).
*/
#include "actors/event_outbox.h"

#include "proto/proto_json.h"

#include <czmq.h>

#define S_DELETE_MS 50
//  A batch (event.create.batch): at most this many events, of at most this
//  many bytes in all, well under the frame limit
#define S_BATCH_MAX   256
#define S_BATCH_BYTES (PROTO_MAX_FRAME / 2)

//  Events move between FIFOs linked through the events themselves: no
//  allocation per move, a few per event in all (the event, its bytes)
typedef struct _s_event_t s_event_t;
struct _s_event_t {
    s_event_t *next;
    uint64_t oid;
    uint8_t id[PROTO_UUID_SIZE];
    uint8_t sent_as[PROTO_UUID_SIZE]; //  in flight: the id of its message
    bool rejected;                    //  ... which the receiver refused
    uint8_t *data; //  the envelope's bytes; NULL when sent alone (the link's)
    size_t size;
};

typedef struct {
    s_event_t *head, *tail;
    size_t size;
} s_list_t;

struct _event_outbox_t {
    store_t *store;
    store_table_t *table;
    bus_link_t *link;
    char source[300];
    s_list_t pending;          //  stored by the running attempt
    s_list_t queue;            //  committed, not sent
    s_list_t retry;            //  sent in a batch the receiver refused: sent alone
    s_list_t flight;           //  sent, not acked, in the order sent
    s_list_t acked;            //  acked, not deleted yet
    s_list_t deleting;         //  acked, deleted by the running attempt
    int64_t delete_at;         //  monotonic ms: the outbox's own delete write is due
    proto_envelope_t *command; //  event.create, reused: a new id and ts each
    proto_envelope_t *batch;   //  event.create.batch, the same
    bool singles;              //  the receiver takes no batches: one by one
    msgpack_sbuffer buffer;    //  an event.create payload
    msgpack_sbuffer encoded;   //  its envelope
    msgpack_sbuffer json;      //  a JSON payload packed
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
s_push (s_list_t *list, s_event_t *event)
{
    event->next = NULL;
    if (list->tail)
        list->tail->next = event;
    else
        list->head = event;
    list->tail = event;
    list->size++;
}

static s_event_t *
s_pop (s_list_t *list)
{
    s_event_t *event = list->head;
    if (event) {
        list->head = event->next;
        if (!list->head)
            list->tail = NULL;
        list->size--;
    }
    return event;
}

//  Every event of `from` to the end of `to`
static void
s_append (s_list_t *to, s_list_t *from)
{
    if (!from->head)
        return;
    if (to->tail)
        to->tail->next = from->head;
    else
        to->head = from->head;
    to->tail = from->tail;
    to->size += from->size;
    *from = (s_list_t){NULL, NULL, 0};
}

static void
s_list_free (s_list_t *list)
{
    s_event_t *event;
    while ((event = s_pop (list)))
        s_event_free (&event);
}

//  The first event in flight sent as the message `id`: acks come in the
//  order sent, so the first in flight but for a resend. NULL when none
//  (a second ack).
static s_event_t *
s_flight_find (event_outbox_t *self, const uint8_t id[PROTO_UUID_SIZE], s_event_t **prev)
{
    *prev = NULL;
    s_event_t *event = self->flight.head;
    while (event && memcmp (event->sent_as, id, PROTO_UUID_SIZE) != 0) {
        *prev = event;
        event = event->next;
    }
    return event;
}

//  Every event of the message `id` leaves the flight: acked, or (a batch
//  the receiver refused) to be sent again alone
static void
s_on_ack (void *arg, const uint8_t id[PROTO_UUID_SIZE])
{
    event_outbox_t *self = (event_outbox_t *)arg;
    s_list_t *flight = &self->flight;
    s_event_t *prev, *event = s_flight_find (self, id, &prev);
    while (event && memcmp (event->sent_as, id, PROTO_UUID_SIZE) == 0) {
        s_event_t *next = event->next;
        if (prev)
            prev->next = next;
        else
            flight->head = next;
        if (flight->tail == event)
            flight->tail = prev;
        flight->size--;
        if (event->rejected) {
            event->rejected = false;
            s_push (&self->retry, event);
        } else {
            //  Deleted by the actor's next transaction (event_outbox_flush),
            //  or by a write of the outbox's own when none comes soon
            if (self->acked.size == 0)
                self->delete_at = zclock_mono () + S_DELETE_MS;
            free (event->data);
            event->data = NULL;
            s_push (&self->acked, event);
        }
        event = next;
    }
}

//  A refused batch: its events go again one by one (an older receiver that
//  takes no batches: each then gets its own answer), and so does
//  everything after. A refused event.create is done with, as any command.
static void
s_on_reject (void *arg, const proto_envelope_t *command, const char *code,
             const char *message)
{
    event_outbox_t *self = (event_outbox_t *)arg;
    const uint8_t *id = proto_envelope_id (command);
    char text[PROTO_UUID_STR_SIZE];
    proto_uuid_format (id, text);
    if (!streq (proto_envelope_type (command), "event.create.batch")) {
        zsys_warning ("%s: event %s refused by the rules actor: %s: %s", self->source,
                      text, code, message);
        return;
    }
    if (!self->singles)
        zsys_warning ("%s: the rules actor refused a batch of events (%s: %s): sending "
                      "them one by one from now on",
                      self->source, code, message);
    self->singles = true;
    s_event_t *prev, *event = s_flight_find (self, id, &prev);
    for (; event && memcmp (event->sent_as, id, PROTO_UUID_SIZE) == 0;
         event = event->next)
        event->rejected = true;
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
        s_push (&self->queue, event);
    }
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    if (self->queue.size)
        zsys_info ("%s: %zu events from before the restart to send", self->source,
                   self->queue.size);
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
    self->command = proto_envelope_new ("event.create", source);
    self->batch = proto_envelope_new ("event.create.batch", source);
    msgpack_sbuffer_init (&self->buffer);
    msgpack_sbuffer_init (&self->encoded);
    msgpack_sbuffer_init (&self->json);
    if (!self->command || !self->batch || !self->table || s_load (self) != 0) {
        zsys_error ("%s: cannot read the outbox: %s", source, store_last_error (store));
        event_outbox_destroy (&self);
        return NULL;
    }
    bus_link_set_ack_handler (link, s_on_ack, self);
    bus_link_set_reject_handler (link, s_on_reject, self);
    return self;
}

void
event_outbox_destroy (event_outbox_t **self_p)
{
    if (self_p && *self_p) {
        event_outbox_t *self = *self_p;
        s_list_free (&self->pending);
        s_list_free (&self->queue);
        s_list_free (&self->retry);
        s_list_free (&self->flight);
        s_list_free (&self->acked);
        s_list_free (&self->deleting);
        proto_envelope_destroy (&self->command);
        proto_envelope_destroy (&self->batch);
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
    s_append (&self->acked, &self->deleting);
}

void
event_outbox_attempt (event_outbox_t *self)
{
    s_list_free (&self->pending);
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
    uint8_t id[PROTO_UUID_SIZE];
    proto_uuid_generate (id);
    proto_envelope_set_id (self->command, id);
    proto_envelope_set_ts (self->command, proto_now_usec ());
    proto_error_t error = {0};
    msgpack_sbuffer_clear (&self->encoded);
    if (proto_payload_check (self->buffer.data, self->buffer.size, &error) != PROTO_OK ||
        proto_envelope_encode_with (self->command, self->buffer.data, self->buffer.size,
                                    &self->encoded) != 0) {
        zsys_error ("%s: cannot build the %s event: %s", self->source, trigger,
                    error.code != PROTO_OK ? error.message : "out of memory");
        return -1;
    }
    s_event_t *event = (s_event_t *)zmalloc (sizeof (s_event_t));
    memcpy (event->id, id, PROTO_UUID_SIZE);
    event->size = self->encoded.size;
    event->data = (uint8_t *)malloc (event->size);
    memcpy (event->data, self->encoded.data, event->size);
    if (store_insert (txn, self->table, event->data, event->size, &event->oid) !=
        STORE_OK) {
        s_event_free (&event);
        return -1;
    }
    s_push (&self->pending, event);
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
    s_append (&self->deleting, &self->acked);
    for (s_event_t *event = self->deleting.head; event; event = event->next) {
        store_code_t code = store_del_id (txn, self->table, event->oid);
        if (code != STORE_OK && code != STORE_NOTFOUND)
            return -1;
    }
    return (int)self->deleting.size;
}

size_t
event_outbox_acked (event_outbox_t *self)
{
    return self->acked.size + self->deleting.size;
}

void
event_outbox_committed (event_outbox_t *self)
{
    s_append (&self->queue, &self->pending);
    s_list_free (&self->deleting);
}

//  The outbox's own write: what was acked, when the actor wrote nothing
//  that took it
static int
s_delete_fn (store_txn_t *txn, void *arg)
{
    event_outbox_t *self = (event_outbox_t *)arg;
    return event_outbox_flush (self, txn) < 0 ? -1 : 0;
}

//  The head of `list` alone, as it is stored: its bytes go to the link
static int
s_send_one (event_outbox_t *self, s_list_t *list)
{
    s_event_t *event = list->head;
    uint8_t *data = event->data;
    if (bus_link_send_encoded (self->link, event->id, &data, event->size) != 0)
        return -1; //  stays queued: sent at a later turn
    s_pop (list);
    event->data = NULL; //  the link's now
    memcpy (event->sent_as, event->id, PROTO_UUID_SIZE);
    s_push (&self->flight, event);
    self->sent++;
    return 0;
}

//  How many events from the head of the queue one batch takes: at most
//  S_BATCH_MAX, in at most S_BATCH_BYTES (an event larger than that goes
//  alone)
static size_t
s_batch_count (event_outbox_t *self)
{
    size_t count = 0, bytes = 0;
    for (s_event_t *event = self->queue.head; event && count < S_BATCH_MAX;
         event = event->next) {
        bytes += event->size + 5; //  a bin's header is at most 5 bytes
        if (bytes > S_BATCH_BYTES)
            break;
        count++;
    }
    return count;
}

//  The first `count` queued events in one event.create.batch: their bytes
//  are kept until it is acked (a refused batch is sent again event by event)
static int
s_send_batch (event_outbox_t *self, size_t count)
{
    msgpack_sbuffer_clear (&self->buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    proto_pack_str (&pk, "events");
    msgpack_pack_array (&pk, count);
    s_event_t *event = self->queue.head;
    for (size_t i = 0; i < count; i++, event = event->next) {
        msgpack_pack_bin (&pk, event->size);
        msgpack_pack_bin_body (&pk, event->data, event->size);
    }
    uint8_t id[PROTO_UUID_SIZE];
    proto_uuid_generate (id);
    proto_envelope_set_id (self->batch, id);
    proto_envelope_set_ts (self->batch, proto_now_usec ());
    msgpack_sbuffer_clear (&self->encoded);
    uint8_t *data = NULL;
    if (proto_envelope_encode_with (self->batch, self->buffer.data, self->buffer.size,
                                    &self->encoded) != 0 ||
        !(data = (uint8_t *)malloc (self->encoded.size)))
        return -1; //  out of memory: a later turn
    memcpy (data, self->encoded.data, self->encoded.size);
    if (bus_link_send_encoded (self->link, id, &data, self->encoded.size) != 0) {
        free (data);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        event = s_pop (&self->queue);
        memcpy (event->sent_as, id, PROTO_UUID_SIZE);
        s_push (&self->flight, event);
    }
    self->sent += count;
    return 0;
}

//  Send what the link takes: events a refused batch held, one by one; then
//  the queue, in batches (one event, or a receiver that takes no batches:
//  alone, as stored)
static void
s_send (event_outbox_t *self)
{
    while (self->retry.head && bus_link_can_send (self->link))
        if (s_send_one (self, &self->retry) != 0)
            return;
    while (self->queue.head && bus_link_can_send (self->link)) {
        size_t count = self->singles ? 1 : s_batch_count (self);
        int rc = count > 1 ? s_send_batch (self, count) : s_send_one (self, &self->queue);
        if (rc != 0)
            return;
    }
}

void
event_outbox_pump (event_outbox_t *self)
{
    s_send (self);
    if (self->acked.size == 0 || zclock_mono () < self->delete_at)
        return;
    if (store_write (self->store, s_delete_fn, self) == STORE_OK)
        s_list_free (&self->deleting);
    else
        s_undelete (self);
    self->delete_at = zclock_mono () + S_DELETE_MS;
}

size_t
event_outbox_size (event_outbox_t *self)
{
    return self->queue.size + self->retry.size + self->flight.size;
}

uint64_t
event_outbox_sent (event_outbox_t *self)
{
    return self->sent;
}
