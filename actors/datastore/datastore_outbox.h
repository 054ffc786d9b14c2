/*  datastore_outbox: the datastore's key change events (event.create to
    rules.commands), durable from the transaction of the change until the
    rules actor acknowledges them.

    An event is encoded once into the store's "outbox" table (8-byte id ->
    the envelope's bytes) inside the write transaction that made the change,
    queued after the commit, sent over the link as those bytes
    (bus_link_send_encoded) when the link takes it, and deleted from the
    table once acked. What was never acked (a crash, the rules actor away)
    is queued again at start: an event may be delivered twice across a
    crash (the rules actor drops a resent one by its id), never lost.
*/
#ifndef DATASTORE_OUTBOX_H_INCLUDED
#define DATASTORE_OUTBOX_H_INCLUDED

#include <jansson.h>
#include "bus/bus_link.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _datastore_outbox_t datastore_outbox_t;

//  New outbox over `store` (its table) sending on `link` (borrowed), with
//  every event left from before queued. NULL on failure (logged).
datastore_outbox_t *datastore_outbox_new (store_t *store, bus_link_t *link,
                                          const char *source);
void datastore_outbox_destroy (datastore_outbox_t **self_p);

//  Start of a write attempt: forget what an earlier attempt of the same
//  transaction added (store_write may run its function again).
void datastore_outbox_attempt (datastore_outbox_t *self);
//  In a write transaction: store event.create {trigger, payload (taken)}.
//  0, or -1 (the transaction must fail).
int datastore_outbox_add (datastore_outbox_t *self, store_txn_t *txn, const char *trigger,
                          json_t *payload);
//  After the commit: queue what the transaction stored.
void datastore_outbox_committed (datastore_outbox_t *self);

//  Send what the link takes; delete what was acked (a write of its own, at
//  most every 50 ms). Call once per loop.
void datastore_outbox_pump (datastore_outbox_t *self);

//  Events waiting to be sent or acked.
size_t datastore_outbox_size (datastore_outbox_t *self);
uint64_t datastore_outbox_sent (datastore_outbox_t *self);

#ifdef __cplusplus
}
#endif

#endif
