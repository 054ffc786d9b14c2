/*  rules_retention: events and enforcements (trigger instances) purged by
    their TTL (actor_config_t.retention.events) and on request (api.purge
    {kind: events}), inside the rules actor's loop.

    Both tables are keyed by UUIDv7 (time-ordered): a purge walks each from
    the oldest, at most ACTOR_RETENTION_SCAN records examined and
    ACTOR_RETENTION_BATCH deleted per turn of the loop, in one write
    transaction, and stops at the first record stored after its cutoff.
    Records hold nothing else in the rules store (no index); an enforcement
    already handed to the executor lives on there (the outbox keeps its own
    copy of a command not yet acked).
*/
#ifndef RULES_RETENTION_H_INCLUDED
#define RULES_RETENTION_H_INCLUDED

#include "actors/actor.h"
#include "actors/actor_query.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rules_retention_t rules_retention_t;

//  Purges of `events` and `enforcements` in `store`, answering api.purge
//  through `query`, sweeping by `config` (copied). NULL when out of memory.
rules_retention_t *rules_retention_new (store_t *store, store_table_t *events,
                                        store_table_t *enforcements, actor_query_t *query,
                                        const actor_retention_t *config);
void rules_retention_destroy (rules_retention_t **self_p);

//  One step of the first purge (a TTL sweep started when due). Every turn;
//  `busy`: the turn handled events (a step then at most every 50 ms).
void rules_retention_tick (rules_retention_t *self, bool busy);
//  0 while a purge is under way, else ms to the next sweep (-1: none).
int rules_retention_timeout (rules_retention_t *self);
//  {events, enforcements: purged since the start, jobs: purges under way}
json_t *rules_retention_status (rules_retention_t *self);
//  api.purge {kind: events, older_than: s}: events and enforcements stored
//  before then, answered {kind, removed, events, enforcements, took_ms}
//  when done.
void rules_retention_purge (rules_retention_t *self, json_t *payload,
                            actor_answer_t *answer);

//  Delete event (enforcement) `uuid` (16 bytes). 1 deleted, 0 absent, -1
//  on a store error. Every deletion of one goes through here.
int rules_event_delete (rules_retention_t *self, store_txn_t *txn, const uint8_t *uuid);
int rules_enforcement_delete (rules_retention_t *self, store_txn_t *txn,
                              const uint8_t *uuid);

#ifdef __cplusplus
}
#endif

#endif
