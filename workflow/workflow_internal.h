/*  workflow_internal: the parsed definition (shared by the spec parser,
    the ActionChain parser, the validator and the conductor) and the one
    function that evaluates a field. Not part of the public API. */
#ifndef WORKFLOW_INTERNAL_H_INCLUDED
#define WORKFLOW_INTERNAL_H_INCLUDED

#include "workflow/workflow.h"
#include "actors/registry/registry_yaml.h"

#include <stdarg.h>
#include <string.h>

#ifndef streq
#define streq(s1, s2) (!strcmp ((s1), (s2)))
#endif

//  What fires a transition: its `when` expression (NULL: always), or, for
//  an ActionChain node, the task's outcome.
typedef enum { WF_ON_WHEN, WF_ON_SUCCESS, WF_ON_FAILURE } wf_on_t;

typedef struct {
    wf_on_t on;
    char *when;      //  expression text or NULL
    json_t *publish; //  array of {name: value} in order, or NULL
    char **targets;  //  task names or engine commands (noop, fail, retry, continue)
    size_t target_count;
    int line;    //  of the transition
    int do_line; //  of its `do`
} wf_next_t;

typedef struct {
    char *name;
    int line;
    char *action;        //  a ref (may hold an expression); NULL: no action
    json_t *input;       //  object, or NULL
    int join;            //  0: none; -1: all; N: a count
    char *items;         //  the list expression of `with`, or NULL
    json_t *item_keys;   //  array of names (`x, y in ...`), or NULL
    json_t *concurrency; //  an integer or an expression string, or NULL
    bool retry;          //  a retry spec (from `retry:` or a `retry` command)
    char *retry_when;    //  NULL: on failure
    json_t *retry_count; //  integer or expression
    json_t *retry_delay; //  integer or expression, or NULL
    json_t *delay;       //  integer or expression, or NULL
    wf_next_t *next;
    size_t next_count;
    bool split; //  reached by several transitions, no join, not in a cycle
} wf_task_t;

//  One edge of the graph: task `from` to `to` (a task or an engine command)
//  by transition `ref` of `from`; `key` counts the edges from `from` to
//  `to` before this one (Orquesta's "to__tKEY" names the edge).
typedef struct {
    size_t from;
    const char *to;
    int key;
    size_t ref;
} wf_edge_t;

struct _workflow_spec_t {
    char *name; //  file or name, for errors
    bool chain; //  an ActionChain
    char *description;
    json_t *input;  //  array of [name] or [name, default]
    json_t *vars;   //  array of {name: value}
    json_t *output; //  array of {name: value}
    wf_task_t *tasks;
    size_t task_count;
    wf_edge_t *edges; //  by task, then by target name, then key
    size_t edge_count;
    json_t *start;          //  array of task names
    template_hooks_t hooks; //  the caller's (workflow_spec_set_hooks)
    json_t *index;          //  task name -> its position (wf_spec_task's cache)
    size_t indexed;         //  tasks the index holds
};

//  Errors gathered while loading: "NAME line L: FIELD: what", one a line.
typedef struct {
    char *text;
    size_t count;
} wf_errors_t;

void wf_errors_add (wf_errors_t *errors, const char *name, int line, const char *field,
                    const char *format, ...) __attribute__ ((format (printf, 5, 6)));

//  The task named `name`, or -1.
int wf_spec_task (const workflow_spec_t *spec, const char *name);

//  True when `name` (a task or an engine command) opens a new route when
//  reached: no join, more than one inbound transition, not in a cycle.
bool wf_spec_split (const workflow_spec_t *spec, const char *name);

//  True for noop, fail, retry and continue.
bool wf_is_command (const char *name);

//  Parse `key=value key2="v 2" key3=<% expr %>` as Orquesta's inline
//  parameters: an object (ordered as written). NULL when `text` has none.
json_t *wf_inline_params (const char *text);

//  Build the graph (edges, splits, start tasks), then check it: unknown
//  targets, unreachable tasks, cycles with no exit. Errors are added.
void wf_spec_graph (workflow_spec_t *spec, wf_errors_t *errors);

//  ActionChain: fill `spec` from the document. Errors are added.
void wf_chain_parse (workflow_spec_t *spec, json_t *root, registry_yaml_t *doc,
                     wf_errors_t *errors);

//  Check that the expressions in `value` (a string, or strings inside
//  arrays and objects) parse; errors are added for `field` at `line`.
void wf_expr_check (const workflow_spec_t *spec, const json_t *value, int line,
                    const char *field, wf_errors_t *errors);

//  What an expression sees: the context (variables), the current task,
//  its status, result and item, and the run's state (for task_status()).
typedef struct {
    const workflow_spec_t *spec;
    const json_t *state;
    const json_t *vars;
    const char *task;
    long route;
    const char *status; //  the task's status (succeeded, failed, ...) or NULL
    const json_t *result;
    const json_t *item;
} wf_scope_t;

//  Evaluate `value`: a string with {{ }} or <% %> renders (one expression
//  alone gives its typed value), arrays and objects render each member,
//  anything else is itself. New reference, or NULL with *error as
//  "FIELD: EXPRESSION: reason".
json_t *wf_eval (const wf_scope_t *scope, const json_t *value, const char *field,
                 char **error);

//  Evaluate a condition (a `when`): its truth as Python's bool().
int wf_eval_bool (const wf_scope_t *scope, const char *text, const char *field,
                  bool *truth, char **error);

//  malloc'd printf.
char *wf_format (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  --------------------------------------------------------------------------
//  The conductor's working set for one call (workflow_conductor.c)

typedef struct {
    const workflow_spec_t *spec;
    json_t *state;    //  the state being changed (a copy until the call succeeds)
    json_t *commands; //  commands of this call
    long last;        //  the sequence entry processed last, or -1
} wf_run_t;

//  The sequence entry `seq`.
json_t *wf_run_entry (wf_run_t *run, long seq);

//  A task instance ended with `status` (succeeded, failed, canceled) and
//  `result`: retry, or its transitions.
void wf_run_complete (wf_run_t *run, long seq, const char *status, json_t *result);

//  With items: start what the concurrency allows; end the task when no
//  child of it runs any more and none is left to start.
void wf_run_items_fill (wf_run_t *run, long seq);
void wf_run_items_check (wf_run_t *run, long seq);

//  Evaluate the transitions of the ended entry `seq` (its context `vars`),
//  stage what they reach, record engine commands (workflow_transitions.c).
void wf_run_transitions (wf_run_t *run, long seq, json_t *vars);

//  At the end: record an error for each staged join that can no longer be
//  satisfied; true when there is one.
bool wf_run_unreachable (wf_run_t *run);

//  Run `step` on `state`: a step checks its arguments before it changes
//  anything, so on -1 the state is as it was; commands are appended on
//  success only.
typedef int (wf_step_fn) (wf_run_t *run, const void *arg, char **error);
int wf_run_atomic (const workflow_spec_t *spec, json_t *state, json_t *commands,
                   wf_step_fn *step, const void *arg, char **error);

//  The first sequence entry that may still be active (running or pending):
//  entries before it have all ended, so scans for active ones start there.
size_t wf_run_active_from (wf_run_t *run);

//  Start ready staged tasks the status allows.
void wf_run_dispatch (wf_run_t *run);

//  Derive the status from what is active, staged and requested; at the end,
//  render the output.
void wf_run_settle (wf_run_t *run);

//  Append `op` commands for every active child (running or pending).
void wf_run_signal_active (wf_run_t *run, const char *op);

//  Record an error {task, type, message[, result]} and fail the run.
void wf_run_error (wf_run_t *run, const char *task, const char *message,
                   const json_t *result);

//  Deep merge of `right` into `left` (objects merge, anything else replaces).
void wf_merge (json_t *left, const json_t *right);

#endif
