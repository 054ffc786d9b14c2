/*  worker_st2: StackStorm's runners that start no process: inquirer (an
    attune inquiry, as core.ask) and announcement. */
#ifndef WORKER_ST2_H_INCLUDED
#define WORKER_ST2_H_INCLUDED

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The result of an inquirer job: {"__inquiry": {prompt, response_schema,
//  assigned_to, timeout_seconds, route, users, roles}}, which the executor
//  opens as an inquiry. timeout_seconds is `timeout` when given, else `ttl`
//  minutes. Caller owns it.
json_t *worker_st2_inquirer (const json_t *parameters);

//  The result of an announcement job, as StackStorm's: the parameters
//  without the runner's (experimental, route), with the route as
//  `__announcement`. Caller owns it.
json_t *worker_st2_announcement (const json_t *parameters);

#ifdef __cplusplus
}
#endif

#endif
