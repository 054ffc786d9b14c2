/*  registry_client: another actor's replicated copy of the registry's
    definitions (zguide "Clone": subscribe, then snapshot, then apply
    updates newer than the snapshot).

    The client subscribes to `registry.facts` (types `registry.`), then asks
    `registry.snapshot` (DEALER -> ROUTER, request `registry.snapshot.request`,
    replies `registry.snapshot.item`... then `registry.snapshot.end`, see
    proto/PROTOCOL.md). Facts that arrive while the snapshot is loading are
    kept and applied afterwards when their sequence number is above the
    snapshot's. A gap in the fact stream, or a new publisher id (registry
    restarted), makes the client take a new snapshot. A snapshot request
    with no reply (no item for a second) is asked again.

    Kinds: "pack", "action", "trigger", "rule". Definitions are the JSON
    objects registry_pack produces (a "ref" field, "pack", ...); rules carry
    "enabled". The change handler is called for every definition added,
    changed or removed (definition NULL), whether by a fact or a snapshot
    (a snapshot reports the differences against what the client had).
    Definitions are read only: equal parts of them (an action's parameter
    specs, its pack and runner names, a runner's specs) are one shared copy.

    Single-threaded: call it from the owning actor's loop only.
*/
#ifndef REGISTRY_CLIENT_H_INCLUDED
#define REGISTRY_CLIENT_H_INCLUDED

#include <stdbool.h>
#include <czmq.h>
#include <jansson.h>
#include "bus/bus_topology.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _registry_client_t registry_client_t;

typedef void (registry_change_fn) (void *arg, const char *kind, const char *ref,
                                   const json_t *definition);

//  New client for actor `name` ("sensor@host": the DEALER routing id is
//  name + "/registry"), connected to the endpoints the topology gives for
//  registry.facts and registry.snapshot. Sends the first snapshot request at
//  once. NULL on failure.
registry_client_t *registry_client_new (bus_topology_t *topology, const char *name);

//  The same, keeping only what the owner reads (issue 17: a replica per
//  actor of every definition costs ~6 KiB per action). `keep` (NULL:
//  everything) lists the kinds kept, space-separated; kinds not named are
//  neither asked for in snapshots nor kept from facts (registry_client_all
//  gives them empty). Each item is one of
//    kind              every definition of the kind, whole
//    kind:f1,f2        only these top-level fields (and ref, change)
//    kind:-f1,-f2      every field but these; -description also drops the
//                      descriptions of the definition's parameters
//  NULL on a malformed `keep` (an unknown kind, an empty field list).
registry_client_t *registry_client_new_keeping (bus_topology_t *topology,
                                                const char *name, const char *keep);

//  What each actor's replica keeps: the kinds and fields it reads.
//  rules: rules, triggers (event.create checks the type exists, rules.sync
//  waits for both), and of actions the runner (a shell command's quoting).
#define REGISTRY_KEEP_RULES "rule trigger action:runner_type"
//  executor: actions (parameters, runner, entry point, timeout, notify ...)
//  but no descriptions nor the file that defines them, policies, rules (the
//  built-in triggers listened to).
#define REGISTRY_KEEP_EXECUTOR "action:-description,-file policy rule"
//  sensor: sensors (answered whole on sensor queries), rules and triggers.
#define REGISTRY_KEEP_SENSOR "rule trigger sensor"
void registry_client_destroy (registry_client_t **self_p);

//  The two sockets to add to the owner's poller.
zsock_t *registry_client_sub_sock (registry_client_t *self);
zsock_t *registry_client_snapshot_sock (registry_client_t *self);

//  Handle what is waiting on `which` (one of the two sockets), without
//  blocking. Returns 0.
int registry_client_handle (registry_client_t *self, zsock_t *which);

//  Timers (snapshot retry). Call at least every registry_client_timeout ()
//  ms.
void registry_client_tick (registry_client_t *self);
int registry_client_timeout (registry_client_t *self);

//  True once a snapshot has been applied.
bool registry_client_synced (registry_client_t *self);

//  Wait (servicing the sockets) until synced, up to `timeout_ms`. 0 or -1.
//  For tests and for actors that cannot start without definitions.
int registry_client_wait_synced (registry_client_t *self, int timeout_ms);

void registry_client_set_change_handler (registry_client_t *self, registry_change_fn *fn,
                                         void *arg);

//  A definition (borrowed, valid until the next handle call) or NULL.
const json_t *registry_client_get (registry_client_t *self, const char *kind,
                                   const char *ref);
//  All definitions of a kind: an object ref -> definition (borrowed).
const json_t *registry_client_all (registry_client_t *self, const char *kind);
//  Incremented on every change: cheap "has anything changed" test.
uint64_t registry_client_version (registry_client_t *self);
//  Snapshots taken (1 after the first), and gaps seen.
uint64_t registry_client_snapshots (registry_client_t *self);

#ifdef __cplusplus
}
#endif

#endif
