/*  rules_sync: read-your-writes for definitions changed through the api
    (proto/PROTOCOL.md, "Read-your-writes").

    The registry marks every definition a command changes with the
    command's id (`change`). Once the registry has acknowledged the command,
    the api asks the rules actor `rules.sync {kind, ref, change, deleted}`
    on rules.query; the rules actor answers when its copy of the registry
    (registry_client) holds that change (for a deletion: no longer holds
    the definition). Since the rules actor applies a registry fact to its
    rule set as it reads it, the answer means: an event that reaches the
    rules actor after it sees the change.

    A request whose change has not arrived is parked here (the query
    endpoint defers its answer) and answered from rules_sync_check, called
    after the registry's sockets are read; one still waiting after
    RULES_SYNC_TIMEOUT_MS is answered `unavailable`.
*/
#ifndef RULES_SYNC_H_INCLUDED
#define RULES_SYNC_H_INCLUDED

#include "actors/actor_query.h"
#include "actors/registry/registry_client.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RULES_SYNC_TIMEOUT_MS 4000 //  under the api's 5 s

typedef struct _rules_sync_t rules_sync_t;

//  New list of waiting syncs, answered on `query`. NULL when out of memory.
rules_sync_t *rules_sync_new (actor_query_t *query, registry_client_t *registry);
void rules_sync_destroy (rules_sync_t **self_p);

//  Handle a rules.sync request (payload borrowed): answer it now when the
//  change is applied, else defer the answer. Fills `answer`.
void rules_sync_request (rules_sync_t *self, json_t *payload, actor_answer_t *answer);

//  Answer the waiting requests whose change has arrived, and those that
//  waited too long (`unavailable`). Cheap when none waits.
void rules_sync_check (rules_sync_t *self);

//  Requests waiting.
size_t rules_sync_waiting (rules_sync_t *self);

#ifdef __cplusplus
}
#endif

#endif
