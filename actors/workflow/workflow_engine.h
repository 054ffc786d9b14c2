/*  workflow_engine: the actor that runs workflows (StackStorm's
    st2workflowengine), for the runners `orquesta` and `action-chain`.

    It takes workflow executions from the executor as a worker does
    (worker_link.h: it registers as the worker `workflow` with those
    runtimes and many slots, so the executor's scheduler, policies and
    reconciliation apply unchanged), and runs each with the conductor
    (workflow/workflow.h): a task's action is a child execution it asks the
    executor for (api.execution.run on executor.query, with `parent` and
    `task`, and a request id derived from (workflow id, command key), so a
    request sent again after a crash starts nothing twice). It follows the
    children by the executor's facts (`execution.*`, which carry `parent`),
    asking for each child's record after a gap or a restart, and reports the
    workflow's own status as a worker reports (execution.status).

    Durable: every run (its conductor state, its children, the commands not
    yet acknowledged) is in <data>/workflow (LMDB), written before any
    command leaves. After a restart every run continues from its last
    commit: commands not acknowledged are sent again, children are asked
    for, and finished runs report again until the executor acks.

    Control: execution.cancel of a workflow cancels its running children
    (api.execution.cancel) and ends `cancelled` once they end.

    Pipe: "$TERM"; "STATUS" -> JSON {name, runs, done, children, requests,
    started, ended, gaps}; the loop is actor_loop's.
*/
#ifndef WORKFLOW_ENGINE_H_INCLUDED
#define WORKFLOW_ENGINE_H_INCLUDED

#include "actors/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The runtimes it registers with, and its name as a worker.
#define WORKFLOW_ENGINE_RUNTIMES "orquesta,action-chain"
#define WORKFLOW_ENGINE_NAME     "workflow"
#define WORKFLOW_ENGINE_SLOTS    4096

void workflow_engine_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
