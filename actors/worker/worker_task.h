/*  worker_task: a job that runs in a helper thread (http-request,
    remote-shell-*) and tells the worker's loop when it is done.

    Why a thread per job, not libcurl's multi interface in the loop: the
    SSH runners need one anyway (libssh's calls block: connect, auth, key
    exchange), and one mechanism for both keeps the worker simple. The
    threads are bounded by the worker's slots (a task holds one), they
    share nothing with the loop while they run (a task owns copies of the
    job's action and parameters), and their only way back is one message,
    the job id, over an inproc PUSH to the worker's PULL, which the loop
    reads as any other socket: the loop never waits on a task.

    A task is shared by its thread and the job, each holding a reference;
    whichever lets go last frees it. A job that goes away first (cancelled,
    dropped, the worker stops) sets the abort flag, which the runners check
    at least every 100 ms, and does not wait.
*/
#ifndef WORKER_TASK_H_INCLUDED
#define WORKER_TASK_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include "actors/worker/worker_output.h"

typedef struct _worker_task_t worker_task_t;

//  What a task runs, in its thread: returns its result (caller owns it) and
//  sets *status to "completed", "failed", "timeout" or "cancelled".
//  `parameters` and `action` belong to the task (read only).
typedef json_t *(worker_task_fn)(worker_task_t *task, const json_t *parameters,
                                 const json_t *action, const char **status);

//  Run `fn` in a new thread with `parameters` and `action` (both taken);
//  when it is done, `id` is sent to `endpoint` (inproc, a PULL socket).
//  `output` (taken; NULL or *output NULL: none) gets what the runner
//  reads as it runs (worker_task_output). NULL if the thread cannot start
//  (the json values and the output are freed).
worker_task_t *worker_task_start (worker_task_fn *fn, json_t **parameters,
                                  json_t **action, const char *endpoint, const char *id,
                                  worker_output_t **output);

//  The runner (its thread, or threads) read `size` bytes of stream 1
//  (stdout) or 2 (stderr): fed to the task's live output, if it has one.
//  Safe on a NULL task.
void worker_task_output (worker_task_t *self, int stream, const char *data, size_t size);

//  The worker's loop: the next chunk of the task's live output that is due
//  (worker_output_take), or NULL; and when one will be (worker_output_timeout).
json_t *worker_task_output_take (worker_task_t *self, int64_t now, bool final);
int worker_task_output_timeout (worker_task_t *self, int64_t now);

//  True once the task was told to stop (runners poll this).
bool worker_task_aborted (worker_task_t *self);

//  Ask the task to stop soon; it still reports (status "cancelled").
void worker_task_abort (worker_task_t *self);

//  The result once the task said it is done (NULL before): the caller owns
//  it; *status as the function set it.
json_t *worker_task_take (worker_task_t *self, const char **status);

//  Let go of the task: it is aborted if it still runs, and freed by
//  whichever side is last. Clears *self_p.
void worker_task_destroy (worker_task_t **self_p);

#endif
