/*  datastore: the actor that owns keys and secrets (StackStorm's st2kv).

    Its own LMDB store under <data_dir>/datastore (datastore_keys.h), its
    secret key in a key file (store_crypto.h; default
    <data_dir>/datastore/crypto.key, $ATTUNE_DATASTORE_KEY to place it
    elsewhere), created 0600 on first start.

    Endpoints:
        datastore.query  ROUTER  api.key.set/get/list/delete/load/rotate
                                 (actor_query.h; the api forwards them with
                                 the caller's identity and role)
        datastore.facts  PUB     kv.set, kv.deleted (a secret's value never)
    and it sends event.create to rules.commands: the triggers
    core.st2.key_value_pair.create / update / value_change / delete,
    stored in the transaction of the change and sent until acked
    (event_outbox.h).

    A write is committed before it is answered. A key with a TTL is deleted
    at its deadline by a timer on the ordered expiry index, across restarts.

    Pipe commands: "$TERM"; "STATUS" answers JSON counters.
*/
#ifndef DATASTORE_H_INCLUDED
#define DATASTORE_H_INCLUDED

#include "actors/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DATASTORE_MASK "********"

//  zactor body: zactor_new (datastore_actor, &config) with an actor_config_t.
void datastore_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
