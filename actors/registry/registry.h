/*  registry: the actor that owns packs, actions, triggers and rules.

    At start it loads every pack under config->packs_dir (errors name the
    file, line and field and skip only that definition), then applies the
    runtime changes kept in its store (<data_dir>/registry): rules created,
    changed, enabled, disabled or deleted through `registry.commands`.

    Endpoints (proto/PROTOCOL.md, "Registry"):
        registry.facts      PUB     registry.<kind>.updated / .deleted
        registry.snapshot   ROUTER  registry.snapshot.request -> items + end
        registry.commands   ROUTER  (bus_inbox) registry.rule.put / enable /
                                    disable / delete

    Pipe commands: "$TERM"; "STATUS" -> JSON {packs, actions, triggers, rules,
    load_errors, snapshots, commands}; "ERRORS" -> JSON array of the load
    errors ("file:line: field: reason"); anything else -> the unknown reply
    (actor.h). The loop is actor_loop's.
*/
#ifndef REGISTRY_H_INCLUDED
#define REGISTRY_H_INCLUDED

#include "actors/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

//  zactor body: zactor_new (registry_actor, &config) with an actor_config_t.
void registry_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
