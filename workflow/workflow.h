/*  workflow: the workflow conductor for Orquesta and ActionChain
    definitions. A pure state machine: no I/O, no clock, no sockets. The
    workflow engine actor (actors/workflow) keeps each running workflow's
    state (a JSON object this module owns the shape of) in its LMDB store,
    calls these functions as things happen, commits the new state, and only
    then carries out the commands they returned.

    Commands (JSON objects appended to the caller's `commands` array):

        {"op": "run", "key": KEY, "task": NAME, "action": REF,
         "parameters": {...}, "delay": SECONDS (0: now), "item": INDEX (with items)}
            start a child execution for one task instance. KEY is unique
            within the workflow and stable: replaying the same calls on the
            same state gives the same keys, so the engine derives the
            child's execution id from (workflow id, KEY) and a resend after
            a crash never starts a task twice.
        {"op": "cancel", "key": KEY}
            cancel a child that is still running (workflow cancelled).
        {"op": "pause", "key": KEY}, {"op": "resume", "key": KEY}
            cascade to a child that is itself a workflow.

    Statuses (workflow_status): "running", "pausing", "paused", "resuming",
    "canceling", "cancelled", "succeeded", "failed". The engine reports
    succeeded as the execution's `completed`.

    Errors are malloc'd text that names the file or workflow, the task, the
    field and the expression: "deploy.yaml line 12: tasks.check.next[0].when:
    <% ctx(x) %>: ...". */
#ifndef WORKFLOW_H_INCLUDED
#define WORKFLOW_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "template/template.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WORKFLOW_MAX_TASKS       1024    //  tasks in one definition
#define WORKFLOW_MAX_ITEMS       100000  //  items of one `with` task
#define WORKFLOW_MAX_TRANSITIONS 1000000 //  task instances in one run

typedef struct _workflow_spec_t workflow_spec_t;

//  Parse and validate a definition. `runner` is "orquesta" or
//  "action-chain". Validation reports unknown tasks in `do`/`on-success`,
//  unreachable tasks, expressions that do not parse and cycles with no
//  exit, with the line and the field. NULL with *error set on failure.
workflow_spec_t *workflow_spec_load (const char *path, const char *runner, char **error);
workflow_spec_t *workflow_spec_parse (const char *name, const char *text,
                                      const char *runner, char **error);
void workflow_spec_destroy (workflow_spec_t **self_p);

//  What expressions may need from outside the conductor, as the template
//  engine's hooks (template/template.h): `call` for the functions the
//  conductor does not have (StackStorm's st2kv() ...), `decrypt_kv` for
//  the filter. Copied; without them such expressions are errors. A value
//  an expression took from outside is recorded in the state where it lands
//  (published, a child's parameters), so replaying the calls stays pure.
void workflow_spec_set_hooks (workflow_spec_t *spec, const template_hooks_t *hooks);

//  Start a run: `input` is the execution's parameters (borrowed), and
//  whatever else expressions should find in ctx() (StackStorm puts its
//  execution context under `st2`: ctx(st2).action_execution_id ...).
//  Returns the new state (caller owns it) and appends the first commands;
//  a run that fails at once (vars that do not render) is a state whose
//  status is failed, with its errors.
json_t *workflow_start (const workflow_spec_t *spec, const json_t *input,
                        json_t *commands, char **error);

//  A child ended: `status` is the child execution's terminal status
//  (completed, failed, timeout, cancelled, abandoned), `result` its result
//  (borrowed). Updates `state` in place and appends commands. 0, or -1
//  with *error set (the state is then unchanged).
int workflow_task_ended (const workflow_spec_t *spec, json_t *state, const char *key,
                         const char *status, const json_t *result, json_t *commands,
                         char **error);

//  A child is waiting on a person (an inquiry, status pending): the
//  workflow pauses until it ends.
int workflow_task_pending (const workflow_spec_t *spec, json_t *state, const char *key,
                           json_t *commands, char **error);

//  Control: "cancel", "pause" or "resume". 0, or -1 with *error set (for
//  instance: resume of a workflow that is not paused).
int workflow_request (const workflow_spec_t *spec, json_t *state, const char *what,
                      json_t *commands, char **error);

//  Re-run from the named tasks with the recorded context (StackStorm's
//  `re_run --tasks`): a new state from an ended one. Each named task starts
//  again with the context it started with (its latest instance), the tasks
//  after it may run again; with none named, the failed tasks no transition
//  handled. A with items task named in `reset` runs every item again;
//  otherwise only the items that did not succeed (Orquesta's reset_items).
json_t *workflow_rerun (const workflow_spec_t *spec, const json_t *ended,
                        const char *const *tasks, size_t count, const char *const *reset,
                        size_t reset_count, json_t *commands, char **error);

//  The state's status (see above); never NULL.
const char *workflow_status (const json_t *state);

//  True once the status is cancelled, succeeded or failed.
bool workflow_done (const json_t *state);

//  The execution result of an ended run, as StackStorm's: {"output": {...}}
//  and, when it failed, "errors": [{"task": ..., "type": ..., "message": ...}].
//  New reference.
json_t *workflow_result (const json_t *state);

#ifdef __cplusplus
}
#endif

#endif
