/*  worker_st2: StackStorm's runners that start no process: inquirer (an
    attune inquiry, as core.ask) and announcement. */
#ifndef WORKER_ST2_H_INCLUDED
#define WORKER_ST2_H_INCLUDED

#include <jansson.h>
#include "bus/bus_topology.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The result of an inquirer job: {"__inquiry": {prompt, response_schema,
//  assigned_to, timeout_seconds, route, users, roles}}, which the executor
//  opens as an inquiry. timeout_seconds is `timeout` when given, else `ttl`
//  minutes. Caller owns it.
json_t *worker_st2_inquirer (const json_t *parameters);

//  Run an announcement job as StackStorm's announcement runner: refused
//  unless `experimental` is true (StackStorm's message); the event
//  WORKER_ST2_ANNOUNCE_TRIGGER {route, payload: the action's parameters
//  (the runner's left out), execution} sent to rules.commands with the
//  execution's id as the command's (one event per execution, however many
//  times the job runs), waiting at most WORKER_ST2_ANNOUNCE_TIMEOUT_MS for
//  rules to store it (this blocks the worker's loop, as worker_secrets
//  does). Returns StackStorm's result, the parameters and again under
//  `output` (caller owns it), or NULL with `reason`.
#define WORKER_ST2_ANNOUNCE_TRIGGER    "core.st2.announcement"
#define WORKER_ST2_ANNOUNCE_TIMEOUT_MS 2000
json_t *worker_st2_announce (bus_topology_t *topology, const char *source,
                             const char *execution, const json_t *action,
                             const json_t *parameters, char *reason, size_t size);

#ifdef __cplusplus
}
#endif

#endif
