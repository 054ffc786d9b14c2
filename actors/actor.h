/*  actor: what every attune actor is started with, and the names they share.

    Every actor is a CZMQ zactor: `zactor_new (<name>_actor, &config)`. The
    config is copied by the actor before it signals ready, so the caller may
    free it afterwards. Actors talk only through the bus, by logical endpoint
    names resolved by the topology (proto/PROTOCOL.md lists the messages).

    Endpoint names:
        registry.facts      PUB    registry.* facts
        registry.snapshot   ROUTER snapshot of every definition (Clone pattern)
        registry.commands   ROUTER registry.rule.put/enable/disable/delete (bus_inbox)
        rules.commands      ROUTER event.create (bus_inbox)
        rules.facts         PUB    event.created, enforcement.created,
                                   rules.heartbeat
        executor.commands   ROUTER enforcement.create, execution.status,
                                   worker.register, execution.run/cancel
        executor.facts      PUB    execution.*, worker.*
        worker.<name>       ROUTER execution.dispatch, execution.cancel
        datastore.query     ROUTER api.key.* (actors/datastore/datastore.h)
        datastore.facts     PUB    kv.set, kv.deleted

    Pipe commands (tests drive actors with these; actor_loop.h handles them
    the same way in every actor):
        "$TERM"     stops the actor (no reply)
        "STATUS"    one frame of JSON: the actor's counters (see each actor)
        others      the actor's own (worker DRAIN, api ENDPOINTS, registry
                    ERRORS), each answered as its header says
        unknown     ACTOR_UNKNOWN_REPLY: one frame of JSON
                    {"error":"unknown command","command":"<the command>"}
                    (a warning is logged too)
*/
#ifndef ACTOR_H_INCLUDED
#define ACTOR_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include "bus/bus_link.h"
#include "bus/bus_topology.h"
#include "store/store.h"
#include "actors/actor_retention.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    bus_topology_t *topology;  //  shared, read-only; outlives the actors
    const char *data_dir;      //  each actor uses <data_dir>/<actor>
    const char *packs_dir;     //  registry: packs to load
    const char *host;          //  "actor@host" names; default the hostname
    const char *worker_name;   //  worker: unique name (default "worker@host")
    int worker_slots;          //  worker: concurrent executions (default 2 x cores)
    const char *runtimes;      //  worker: comma list (default all known runners)
    int worker_output_kib;     //  worker: live output per execution, KiB (0: the
                               //  default, WORKER_OUTPUT_STREAM_CAP; -1: none)
    int heartbeat_ms;          //  bus heartbeats (default 1000)
    bool nosync;               //  stores without fsync (benchmarks only)
    const char *datastore_key; //  datastore: its key file (NULL: the default)
    const char *worker_certs;  //  datastore: the workers' public certs (a dir)

    //  http (actors/http/http.h): the gateway
    const char *http;      //  ADDR:PORT (default HTTP_DEFAULT_ADDRESS)
    bool http_required;    //  --http given: not binding it is fatal
    bool http_insecure;    //  plain HTTP beyond loopback allowed
    const char *http_cert; //  HTTPS: PEM certificate and key files
    const char *http_key;

    //  retention (actors/actor_retention.h): TTLs; all 0 purges nothing
    actor_retention_t retention;
} actor_config_t;

//  The host part of actor names: config->host, else the hostname, else
//  "localhost". Always NUL-terminated.
void actor_host (const actor_config_t *config, char *host, size_t size);

//  Link settings for an actor: the defaults with config->heartbeat_ms.
void actor_link_config (const actor_config_t *config, bus_link_config_t *link_config);

//  Answer a pipe command with one frame of compact JSON; takes the value.
void actor_reply_json (zsock_t *pipe, json_t **value_p);

//  The one answer to a pipe command the actor does not know (logged as a
//  warning from `actor`): one frame,
//  {"error":"unknown command","command":"<command>"}.
#define ACTOR_UNKNOWN_REPLY "unknown command"
void actor_reply_unknown (zsock_t *pipe, const char *actor, const char *command);

//  Open the actor's store, <data_dir>/<actor> (data_dir "." when unset),
//  with config->nosync. NULL on failure, logged as "<actor>: <why>".
store_t *actor_store_open (const actor_config_t *config, const char *actor);

#ifdef __cplusplus
}
#endif

#endif
