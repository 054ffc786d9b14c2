/*  worker_process: run one action process safely.

    - clone + exec (as posix_spawn does it), never a shell of ours: the
      argv is given whole (a
      local-shell-cmd action's command is the action author's text, run as
      /bin/sh -c COMMAND with the user's parameters only in the environment
      and on stdin);
    - its own process group, so a timeout or a cancel reaches every process
      it started; signals reset to their defaults; every inherited file
      descriptor above 2 closed;
    - the parent-death signal: SIGKILL when the *thread* that started it
      ends (Linux ties PR_SET_PDEATHSIG to the creating thread). In attune
      that is the worker actor's thread, which lives as long as the worker:
      a worker that dies (SIGKILL, crash) takes its action processes with it.
      Only the process itself gets it (not what it forked, and not a set-uid
      program): the worker's guard (worker_guard.h) kills the rest of the
      group as soon as the worker's process dies, and its ledger
      (worker_ledger.h) when a worker starts again;
    - stdin gets the given bytes (the parameters as JSON) then EOF;
    - stdout and stderr captured up to a cap each, the rest read and dropped
      with a flag (a chatty action cannot exhaust the worker's memory);
    - a deadline: SIGTERM to the group, then SIGKILL after a grace period.

    Non-blocking: the owner polls worker_process_fds () and calls
    worker_process_handle () when one is ready, and worker_process_poll ()
    on its timer. worker_process_run () does all of that for one process.
*/
#ifndef WORKER_PROCESS_H_INCLUDED
#define WORKER_PROCESS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WORKER_OUTPUT_CAP (1024 * 1024)

typedef struct {
    char *const *argv; //  argv[0] is the program (path, or looked up in PATH)
    char *const *envp; //  the whole environment of the process
    const char *cwd;   //  working directory, NULL = inherit
    const void *input; //  bytes for stdin, then EOF
    size_t input_size;
    size_t output_cap;     //  per stream; 0 = WORKER_OUTPUT_CAP
    int64_t timeout_ms;    //  0 = none
    int64_t kill_grace_ms; //  SIGTERM -> SIGKILL; 0 = 2000
    //  Told every read of stdout (stream 1) or stderr (2), capped or not
    //  (live output, worker_output.h); NULL: nobody
    void (*on_output) (void *arg, int stream, const char *data, size_t size);
    void *output_arg;
} worker_process_spec_t;

typedef struct {
    bool exited; //  exit_code valid
    int exit_code;
    int signal;     //  killed by this signal (0 if exited)
    bool timed_out; //  we killed it at its deadline
    bool cancelled; //  we killed it on request
    char *out;      //  captured stdout (NUL-terminated), owned by the process
    size_t out_size;
    bool out_truncated;
    char *err;
    size_t err_size;
    bool err_truncated;
    int64_t duration_us;
} worker_result_t;

typedef struct _worker_process_t worker_process_t;

//  Start a process. NULL with `message` set if it cannot be started
//  (program not found, not executable, fork limits ...).
worker_process_t *worker_process_start (const worker_process_spec_t *spec, char *message,
                                        size_t message_size);

//  Kill (if still running) and free; safe on NULL; clears the pointer.
void worker_process_destroy (worker_process_t **self_p);

//  The descriptors to poll: [0] stdin (POLLOUT), [1] stdout, [2] stderr
//  (POLLIN); -1 for a closed one. Returns how many are open.
int worker_process_fds (worker_process_t *self, int fds[3]);

//  Service one ready descriptor (or all, with fd = -1). Never blocks.
void worker_process_handle (worker_process_t *self, int fd);

//  Reap and enforce the deadline. Returns true once the process has ended
//  and its output is fully read: the result is then final.
bool worker_process_poll (worker_process_t *self);

//  Milliseconds until poll should be called again (deadline, grace period,
//  or a short interval while the process lingers after closing its output).
int worker_process_timeout (worker_process_t *self);

//  Terminate the process group now (SIGTERM, then SIGKILL after the grace
//  period); the result will say cancelled.
void worker_process_cancel (worker_process_t *self);

pid_t worker_process_pid (worker_process_t *self);

//  The result so far (final once poll returned true). Owned by the process.
const worker_result_t *worker_process_result (worker_process_t *self);

//  Run a process to the end. Returns the process (for its result; caller
//  destroys it) or NULL if it could not start.
worker_process_t *worker_process_run (const worker_process_spec_t *spec, char *message,
                                      size_t message_size);

#ifdef __cplusplus
}
#endif

#endif
