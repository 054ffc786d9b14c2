/*  worker_python: python-script actions as StackStorm runs them: through
    attune's wrapper (python/attune_st2/wrapper.py), which loads the
    action's module, constructs its Action subclass with the pack's config
    and calls run(**parameters).

    The interpreter is the pack's virtualenv's (<venvs>/<pack>/bin/python3,
    <venvs> = $ATTUNE_VIRTUALENVS, which attuned sets to <data>/virtualenvs;
    `attune pack setup-venv PACK` makes it), else $ATTUNE_PYTHON, else
    /usr/bin/python3. The wrapper's package comes from
    $ATTUNE_PYTHON_PATH, else the source tree's python/.

    The pack's config (actors/pack/pack_config.h) is read here, on the
    worker's host, like the action's script: it never travels in a message
    or lands in a record. Its secret values are masked in everything the
    execution reports (stdout, stderr, result).

    The wrapper's stdin is {entry_point, action, pack, pack_dir, parameters,
    config, marker, log_level}; it prints its outcome after the action's own
    output as "\n<marker><json>\n", the marker random per execution. The
    result is StackStorm's {result, exit_code, stdout, stderr}, stdout
    without the marker line, plus `error` when the action raised.
*/
#ifndef WORKER_PYTHON_H_INCLUDED
#define WORKER_PYTHON_H_INCLUDED

#include "actors/worker/worker_internal.h"

//  What a python-script job needs: interpreter, wrapper, marker, config.
//  Made by worker_python_command; freed with the job.
typedef struct _worker_python_t worker_python_t;

void worker_python_destroy (worker_python_t **self_p);

//  Prepare the job: its pack config (checked), the interpreter and the
//  wrapper into argv (room for 4; the strings live in job->python).
//  `script` is the action's entry point, resolved. 0, or -1 with message.
int worker_python_command (worker_job_t *job, const char *script, char *argv[4],
                           char *message, size_t size);

//  What live output must not show (worker_output.h): the config's secret
//  values (borrowed, NULL when none) and the result line's marker.
const json_t *worker_python_secrets (worker_job_t *job);
const char *worker_python_marker (worker_job_t *job);

//  The wrapper's stdin (JSON). Caller frees; NULL when out of memory.
char *worker_python_input (worker_job_t *job);

//  Add PYTHONPATH, ATTUNE_API, ATTUNE_PACK ... to envp (n entries so far,
//  room for max). Returns the new count.
int worker_python_environment (worker_job_t *job, char **envp, int n, int max);

//  The result of an ended python job and its status (completed, failed,
//  timeout, cancelled). Caller owns the result.
json_t *worker_python_result (worker_job_t *job, const worker_result_t *r,
                              const char **status);

//  attune's Python package directory ($ATTUNE_PYTHON_PATH, else the build's
//  python/): PYTHONPATH of every Python child (actions, sensors).
const char *worker_python_dir (void);

//  The interpreter for pack `pack`: its virtualenv's
//  ($ATTUNE_VIRTUALENVS/<pack>/bin/python3), $ATTUNE_PYTHON, or the
//  system's. Caller frees.
char *worker_python_interpreter (const char *pack);

#endif
