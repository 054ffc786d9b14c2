/*  worker_shell: StackStorm's local shell runners, as attune runs them.

    local-shell-cmd runs its `cmd` parameter (or, attune's own, the
    action's entry_point when no cmd is given) with `bash -c`, in `cwd`,
    with `env`, under `sudo -E` when `sudo` is true, as StackStorm does;
    a `sudo_password` goes to `sudo -S` on stdin, never in argv, the
    environment or a log (StackStorm puts it in the command text). The
    text is the action author's or the caller's; a value a rule's template
    inserts into it arrives shell-quoted as one word (rules_template), so
    event data never becomes shell syntax (ARCHITECTURE.md, principle 7).

    local-shell-script runs its script with the action's parameters (not the
    runner's) as arguments, as StackStorm builds them: first the named ones
    as <kwarg_op>name=value (kwarg_op default "--"; a true boolean as
    <kwarg_op>name alone; false, null and "" left out), then those with a
    `position` in its order (booleans "1"/"0", lists joined with ",",
    objects as JSON, null as ""). No shell parses them: they are argv.
*/
#ifndef WORKER_SHELL_H_INCLUDED
#define WORKER_SHELL_H_INCLUDED

#include <stddef.h>
#include <jansson.h>
#include "actors/worker/worker_process.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The argv of a local-shell-cmd job: bash -c TEXT (under sudo when
//  `sudo` is true). NULL-terminated, each string and the array allocated
//  (worker_shell_free), or NULL with `message` set.
char **worker_shell_cmd_argv (const json_t *parameters, const char *entry_point,
                              char *message, size_t size);

//  The argv of a local-shell-script job running `script`: see above.
//  `positional` lists the parameter names with a position, in order (NULL:
//  none); `runner` says which parameters are the runner's.
char **worker_shell_script_argv (const char *runner, const char *script,
                                 const json_t *parameters, const json_t *positional,
                                 char *message, size_t size);

//  The stdin of a shell job under sudo with a `sudo_password`: the
//  password and a newline (what `sudo -S` reads), then `input` (the
//  parameters as JSON, which the command reads after it); *size its
//  length. NULL when the job has no sudo password (stdin is `input`), or
//  holds a newline. Caller frees, and should clear it first.
char *worker_shell_stdin (const json_t *parameters, const char *input, size_t *size);

//  Free an argv of the two above; safe on NULL.
void worker_shell_free (char **argv);

//  The result of a shell runner process as StackStorm's: {failed,
//  succeeded, return_code, stdout, stderr}, stdout and stderr without their
//  last newline and parsed when they are JSON (`stdout_truncated` when
//  capped; return_code -9 and `error` on a timeout, minus the signal when
//  killed). Caller owns it.
json_t *worker_shell_result (const worker_result_t *r, double timeout_s);

#ifdef __cplusplus
}
#endif

#endif
