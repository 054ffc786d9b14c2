/*  event_outbox: events an actor raises from its own transactions
    (event.create to rules.commands), durable from the transaction that
    made them until the rules actor acknowledges them. The datastore's key
    change triggers and the executor's built-in triggers (actiontrigger,
    notifytrigger, inquiry) go through it.

    An event is encoded once into the store's outbox table (8-byte id ->
    the envelope's bytes) inside the write transaction that made it,
    queued after the commit, sent over the link when the link takes it
    (those bytes alone, or several events' bytes in one
    event.create.batch: one command, one ack for a transaction's events;
    a receiver that refuses batches gets them one by one), and deleted from the
    table once acked: by the actor's next write transaction when it hands
    it to event_outbox_flush (no commit of its own, no fsync of its own),
    else by a write of the outbox's own 50 ms after the ack. What was never
    acked (a crash, the rules actor away) is queued again at start: an
    event may be delivered twice across a crash (the rules actor drops a
    resent one by its id), never lost.

    Every call that changes the table in an actor's transaction (add,
    flush) is settled by event_outbox_committed after the commit, or
    undone by event_outbox_attempt when the attempt did not commit.
*/
#ifndef EVENT_OUTBOX_H_INCLUDED
#define EVENT_OUTBOX_H_INCLUDED

#include <jansson.h>
#include "bus/bus_link.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _event_outbox_t event_outbox_t;

//  New outbox over `store` (its table `table`) sending on `link`
//  (borrowed), with every event left from before queued; `source` is the
//  envelopes' sender and names the actor in logs. NULL on failure (logged).
event_outbox_t *event_outbox_new (store_t *store, const char *table, bus_link_t *link,
                                  const char *source);
void event_outbox_destroy (event_outbox_t **self_p);

//  Start of a write attempt, or an attempt that did not commit: forget
//  what an earlier attempt of the same transaction added (store_write may
//  run its function again), and take back what it flushed.
void event_outbox_attempt (event_outbox_t *self);
//  In a write transaction: store event.create {trigger, payload (taken)}.
//  0, or -1 (the transaction must fail).
int event_outbox_add (event_outbox_t *self, store_txn_t *txn, const char *trigger,
                      json_t *payload);
//  The same with the payload as `size` bytes of one packed msgpack map
//  (copied; validated as a received payload would be): no JSON on the way.
int event_outbox_add_packed (event_outbox_t *self, store_txn_t *txn, const char *trigger,
                             const void *payload, size_t size);
//  In a write transaction the actor commits anyway: delete the rows of the
//  events acked so far (again those an earlier attempt deleted, so a
//  silently retried attempt loses nothing). The number deleted, or -1 (the
//  transaction must fail).
int event_outbox_flush (event_outbox_t *self, store_txn_t *txn);
//  Events acked whose rows are not deleted by a commit yet (what a flush
//  would take).
size_t event_outbox_acked (event_outbox_t *self);
//  After the commit: queue what the transaction stored, forget what it
//  deleted.
void event_outbox_committed (event_outbox_t *self);

//  Send what the link takes; delete what was acked and not flushed for
//  50 ms (a write of its own). Call once per loop.
void event_outbox_pump (event_outbox_t *self);

//  Events waiting to be sent or acked.
size_t event_outbox_size (event_outbox_t *self);
uint64_t event_outbox_sent (event_outbox_t *self);

#ifdef __cplusplus
}
#endif

#endif
