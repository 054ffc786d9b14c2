/*  datastore_internal: the datastore actor's state, shared by datastore.c
    (the actor: sockets, loop, expiry, facts and events) and datastore_ops.c
    (the operations and who may use them). Not for use outside
    actors/datastore/.
*/
#ifndef DATASTORE_INTERNAL_H_INCLUDED
#define DATASTORE_INTERNAL_H_INCLUDED

#include "actors/actor_loop.h"
#include "actors/actor_query.h"
#include "actors/datastore/datastore.h"
#include "store/store_crypto.h"
#include "actors/datastore/datastore_keys.h"
#include "actors/event_outbox.h"
#include "actors/datastore/datastore_peers.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"

typedef struct {
    zsock_t *pipe;
    actor_loop_t *loop;
    int heartbeat_ms; //  datastore.heartbeat every interval
    char source[300];
    char dir[2000];
    char key_path[2048];
    store_t *store;
    datastore_keys_t *keys;
    store_crypto_t *crypto;
    actor_query_t *query;
    datastore_peers_t *peers; //  who asks on datastore.query
    bus_pub_t *pub;
    bus_link_t *events;     //  rules.commands: event.create
    event_outbox_t *outbox; //  the events, durable until acked
    int64_t next_expiry;    //  µs of the earliest TTL deadline, 0: none
    zlist_t *batch;         //  writes waiting for the group commit
    json_t *touched;        //  "scope\x1fname" of the keys the batch writes
    uint64_t sets, gets, lists, deletes, loads, expired, rotations, denied;
    uint64_t peer_refusals; //  requests refused for the peer key they came with
} datastore_t;

//  Group commit (datastore_batch.c): the writes of one wake-up committed in
//  one transaction, then each published and answered. Add a write (records
//  and result taken), its answer deferred until the commit.
void datastore_batch_add (datastore_t *self, actor_answer_t *answer, json_t *records,
                          bool deleting, json_t *result);
//  Before a write of (scope, name) reads the store: when the batch already
//  writes that key, commit the batch first.
void datastore_batch_touched (datastore_t *self, const char *scope, const char *name);
//  Commit the batch (if any), publish and answer each write.
void datastore_batch_flush (datastore_t *self);

//  Counters, for the pipe's STATUS and the api's api.status.
json_t *datastore_status (datastore_t *self);

//  Handle one request of datastore.query (datastore_ops.c).
void datastore_handle_query (void *arg, const char *type, json_t *payload,
                             actor_answer_t *answer);

//  In the transaction of a change: its StackStorm triggers into the outbox.
//  `old` and `new_` are records (either may be NULL: created / deleted).
//  0, or -1 (the transaction must fail).
int datastore_events (datastore_t *self, store_txn_t *txn, const json_t *old,
                      const json_t *new_);
//  After the commit: the change's fact; `reason` is "set", "delete" or
//  "expire".
void datastore_changed (datastore_t *self, const json_t *old, const json_t *new_,
                        const char *reason);

//  A deadline was written: the timer is moved when it is earlier.
void datastore_expiry_note (datastore_t *self, int64_t deadline);

//  Re-seal every secret under a new key (crash-safe); result {key_id,
//  secrets}. 0, or -1 with `message`.
int datastore_rotate (datastore_t *self, json_t **result, char *message, size_t size);

#endif
