/*  executor: the actor that owns executions.

    It takes enforcement.create (one execution per enforcement), worker.register
    and execution.status on `executor.commands` (a bus_inbox with its store),
    publishes execution.* and worker.* facts on `executor.facts`, and
    dispatches executions to workers over one bus_link per worker.

    Store (<data_dir>/executor), records are msgpack maps (JSON text in
    stores written before; both are read, see executor_record_decode):
        executions      id -> {id, action, runner, parameters, status,
                        enforcement, rule, event, worker, requested, started,
                        ended, result, log [{status, ts}]}
        by_enforcement  enforcement id -> execution id (natural key)
        waiting         8-byte sequence -> execution id: executions waiting
                        for a worker, in arrival order
        active          execution id -> "" for every execution not finished
        workers         worker name -> {instance, endpoint, runtimes, slots}

    Each batch of commands is applied in one write transaction; scheduling
    (waiting -> scheduled, worker choice: runtime fit, free slot, least
    loaded, round-robin) is a second transaction after it; dispatches and
    facts go out only after commit. After a restart: requested executions
    wait for workers, scheduled ones are dispatched again, running ones wait
    for their worker's report; a worker that comes back as a new instance
    has lost what it ran: its running executions are abandoned and its
    scheduled ones dispatched again. A worker whose link goes silent is
    declared down (worker.down): the same happens to its executions.

    Pipe: "$TERM"; "STATUS" -> JSON {executions, active, waiting, workers,
    by_status {...}, ignored_status, duplicates, late, repeated_status};
    anything else -> the unknown reply (actor.h). The loop is actor_loop's.

    The code: executor_internal.h tours the classes it is made of.
*/
#ifndef EXECUTOR_H_INCLUDED
#define EXECUTOR_H_INCLUDED

#include <jansson.h>
#include "actors/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

void executor_actor (zsock_t *pipe, void *args);

//  Read the executions in a (closed) executor store directory: calls `fn`
//  with each execution record as JSON, in key order. For tools and tests.
//  Returns the number of records, or -1 when the store cannot be opened.
//  A stored execution record (the bytes of the executions table: msgpack,
//  or JSON text in stores written before; executor_record.c) as JSON:
//  {id, action, runner, parameters, status, enforcement, rule, event,
//  parent?, worker, requested, started, ended, result, log [{status, ts}]}.
//  NULL when it does not decode. Caller owns it.
json_t *executor_record_decode (const void *data, size_t size);

typedef void (executor_record_fn) (void *arg, const json_t *execution);
int executor_store_scan (const char *data_dir, executor_record_fn *fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
