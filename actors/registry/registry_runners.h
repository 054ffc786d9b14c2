/*  registry_runners: the runners attune knows, with StackStorm's runner
    parameters (their types, defaults, `immutable` and `secret` as st2's
    runner.yaml files declare them), in one table.

    An action inherits its runner's parameters: a parameter it declares with
    a runner parameter's name overrides only `default`, `description`,
    `enum`, `immutable` and `required` (StackStorm's overridable attributes;
    repeating another attribute with the same value is allowed, changing it
    is an error). Defaults of the wrong type are coerced as StackStorm does
    (an integer default on a string parameter becomes a string, 0/1 on a
    boolean becomes false/true) with a warning, not a refusal.

    Runners that attune does not have yet (workflows: orquesta,
    action-chain, mistral-v2, issue 18) or at all (winrm-*) are known by
    name so that an action using one is refused naming it.
*/
#ifndef REGISTRY_RUNNERS_H_INCLUDED
#define REGISTRY_RUNNERS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    REGISTRY_RUNNER_UNKNOWN,   //  not a runner attune or StackStorm has
    REGISTRY_RUNNER_AVAILABLE, //  actions of it load and run
    REGISTRY_RUNNER_LATER,     //  a workflow runner: not available yet (issue 18)
    REGISTRY_RUNNER_ABSENT     //  a StackStorm runner attune does not have (winrm-*)
} registry_runner_state_t;

//  The state of runner `name` (NULL: unknown).
registry_runner_state_t registry_runners_state (const char *name);

//  The runner parameters of `name` (borrowed, never modified; NULL for an
//  unknown runner, an empty object for one without parameters).
const json_t *registry_runners_parameters (const char *name);

//  Comma-separated names of the runners whose actions load.
const char *registry_runners_available (void);

//  The complete parameter schema of an action of runner `runner` whose own
//  parameters are `own` (NULL for none): the runner's parameters with the
//  action's overrides, then the action's other parameters. Specs the action
//  does not touch are shared with the table (treat them as read only).
//  Coerced defaults are reported to `warn` (may be NULL) as
//  "parameters.NAME.default: ..." with the JSON pointer in `field`.
//  Returns the schema (caller owns it), or NULL with `field` and `message`
//  set (a non-overridable attribute changed).
typedef void (registry_runners_warn_fn) (void *arg, const char *pointer,
                                         const char *message);
json_t *registry_runners_inherit (const char *runner, const json_t *own,
                                  registry_runners_warn_fn *warn, void *warn_arg,
                                  char *field, size_t field_size, char *message,
                                  size_t message_size);

//  Coerce a parameter spec's default to its type as StackStorm does: an
//  integer or number default on a string parameter becomes its text, 0 or 1
//  on a boolean becomes false or true, "5" on an integer becomes 5. Returns
//  1 when it changed `spec` (with `message` saying how), 0 otherwise.
int registry_runners_coerce_default (json_t *spec, char *message, size_t size);

//  True when `name` is one of the runner parameters of `runner` (a value
//  the runner consumes, not one passed to the script as an argument).
bool registry_runners_is_runner_param (const char *runner, const char *name);

#ifdef __cplusplus
}
#endif

#endif
