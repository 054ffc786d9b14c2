/*  registry_internal: the registry actor's state, shared by its files
    (registry.c: the actor, its commands and snapshots; registry_query.c:
    the answers on registry.query). Private to actors/registry/.
*/
#ifndef REGISTRY_INTERNAL_H_INCLUDED
#define REGISTRY_INTERNAL_H_INCLUDED

#include "actors/actor_effects.h"
#include "actors/actor_loop.h"
#include "actors/actor_query.h"
#include "actors/registry/registry_catalog.h"
#include "bus/bus_facts.h"
#include "bus/bus_inbox.h"
#include "store/store.h"

typedef struct {
    zsock_t *pipe;
    actor_loop_t *loop;
    actor_effects_t *effects; //  publications after the batch's commit
    char source[300];
    registry_catalog_t *catalog;
    zlist_t *errors; //  load errors, strings
    store_t *store;
    store_table_t *changes;
    bus_pub_t *pub;
    zsock_t *snapshot; //  ROUTER
    bus_inbox_t *inbox;
    actor_query_t *query; //  registry.query: api reads
    msgpack_sbuffer buffer;
    uint64_t snapshots;
    uint64_t commands;
    int heartbeat_ms;
    char *packs_dir; //  NULL: no packs directory
    char *data_dir;  //  virtualenvs of installed packs
} registry_t;

//  The catalog's definitions of `kind` (pack, trigger, rule, policy, sensor;
//  anything else: rules). Borrowed. NULL for actions: they are packed
//  (registry_catalog_packed_actions).
const json_t *registry_all (registry_t *self, const char *kind);

//  Publish registry.<kind>.updated (definition) or .deleted (NULL).
void registry_publish (registry_t *self, const char *kind, const char *ref,
                       const json_t *definition);

//  Apply the stored runtime changes over the catalog (after a load). 0 or -1.
int registry_apply_changes (registry_t *self);

//  Counters, for the pipe's STATUS and the api's api.status. New reference.
json_t *registry_status (registry_t *self);

//  Answer one registry.query request (actor_query_handle's handler; `arg`
//  is the registry_t): api.<kind>.list / get, api.pack.install / remove /
//  reload (registry_live.h), api.status.
void registry_query_handle (void *arg, const char *type, json_t *payload,
                            actor_answer_t *answer);

#endif
