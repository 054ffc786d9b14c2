/*  datastore_internal: the datastore actor's state, shared by datastore.c
    (the actor: sockets, loop, expiry, facts and events) and datastore_ops.c
    (the operations and who may use them). Not for use outside
    actors/datastore/.
*/
#ifndef DATASTORE_INTERNAL_H_INCLUDED
#define DATASTORE_INTERNAL_H_INCLUDED

#include "actors/actor_query.h"
#include "actors/datastore/datastore.h"
#include "actors/datastore/datastore_crypto.h"
#include "actors/datastore/datastore_keys.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"

typedef struct {
    zsock_t *pipe;
    char source[300];
    char dir[2000];
    char key_path[2048];
    store_t *store;
    datastore_keys_t *keys;
    datastore_crypto_t *crypto;
    actor_query_t *query;
    bus_pub_t *pub;
    bus_link_t *events;  //  rules.commands: event.create
    int64_t next_expiry; //  µs of the earliest TTL deadline, 0: none
    uint64_t sets, gets, lists, deletes, loads, expired, rotations, denied;
    uint64_t events_sent, events_failed;
    bool terminated;
} datastore_t;

//  Handle one request of datastore.query (datastore_ops.c).
void datastore_handle_query (void *arg, const char *type, json_t *payload,
                             actor_answer_t *answer);

//  After a commit: the fact and the StackStorm trigger of a change. `old`
//  and `new_` are records (either may be NULL: created / deleted); `reason`
//  is "set", "delete" or "expire".
void datastore_changed (datastore_t *self, const json_t *old, const json_t *new_,
                        const char *reason);

//  A deadline was written: the timer is moved when it is earlier.
void datastore_expiry_note (datastore_t *self, int64_t deadline);

//  Re-seal every secret under a new key (crash-safe); result {key_id,
//  secrets}. 0, or -1 with `message`.
int datastore_rotate (datastore_t *self, json_t **result, char *message, size_t size);

#endif
