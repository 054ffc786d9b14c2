/*  worker_guard: a small process that ends a worker's action processes
    when the worker dies, without waiting for it to start again.

    The parent-death signal (worker_process.h) reaches an action's own
    process only; what it forked lives on, re-parented to init, until a
    worker of the same name starts again on this host and its ledger
    (worker_ledger.h) ends it. The guard closes that gap: each worker actor
    that runs processes starts one, `attune-guard FD NAME`
    (tools/attune_guard.c), and tells it over a pipe of each process group
    it starts and of each it has reaped: one fixed-size record (below) per
    event, one non-blocking write () each (atomic: smaller than PIPE_BUF).
    When the pipe reaches EOF (the worker's process died, however: SIGKILL,
    crash; or the actor stopped) the guard SIGKILLs every group still
    registered (worker_groups.h: the leader's start time and the
    execution's id are checked, so a reused pid is never touched), waits
    until they are gone (bounded), and exits. A worker that stops cleanly
    has ended its processes itself: it says "all done" first, and the guard
    kills nothing.

    Why an exec'd helper and not a fork of the worker: the worker lives in
    a multi-threaded daemon (and in test programs), where a forked child may
    call only async-signal-safe functions until it execs, and where a fork
    under AddressSanitizer inherits the sanitizer's threads' locks. The
    helper is a separate tiny program (plain libc, no CZMQ), spawned with
    posix_spawn: its own session (no terminal or process-group signal from
    attuned's side reaches it), no parent-death signal (it watches the pipe
    instead), every descriptor but the pipe's read end and stdio closed. It
    ignores SIGTERM, SIGINT and SIGHUP: a service manager that signals the
    whole cgroup leaves it to finish its work once attuned has gone.

    It is found as ATTUNE_GUARD (environment), else `attune-guard` next to
    the running program (/proc/self/exe: attuned, or a test). When it cannot
    be started, or the pipe is full or broken, the worker logs it once and
    goes on as before: the ledger still ends what was left when the worker
    starts again.
*/
#ifndef WORKER_GUARD_H_INCLUDED
#define WORKER_GUARD_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WORKER_GUARD_ID_MAX  64
#define WORKER_GUARD_STARTED 'S' //  a group started: register it
#define WORKER_GUARD_ENDED   'E' //  its leader was reaped: forget it
#define WORKER_GUARD_DONE    'D' //  the worker stops cleanly: forget all

//  One event on the pipe; both ends are built from this header.
typedef struct {
    int64_t start;                    //  the leader's start time (worker_groups_start)
    int32_t pgid;                     //  the leader's pid: the group
    char op;                          //  WORKER_GUARD_*
    char id[WORKER_GUARD_ID_MAX + 3]; //  execution id, NUL-terminated
} worker_guard_record_t;

typedef struct _worker_guard_t worker_guard_t;

//  Start the guard of worker `name`: `program` (NULL: found as above).
//  NULL with `message` set when it cannot be found or started.
worker_guard_t *worker_guard_new (const char *program, const char *name, char *message,
                                  size_t size);

//  Say "all done", close the pipe and wait (up to a second) for the guard
//  to exit. Safe on NULL; clears the pointer.
void worker_guard_destroy (worker_guard_t **self_p);

//  Register a group the worker started / forget one it reaped. Never
//  blocks. 0, or -1 when the guard cannot be told (logged once: from then
//  on nothing more is sent). Safe on NULL (no guard): returns -1.
int worker_guard_started (worker_guard_t *self, pid_t pgid, long long start,
                          const char *id);
int worker_guard_ended (worker_guard_t *self, pid_t pgid, long long start);

//  The guard's pid (for tests).
pid_t worker_guard_pid (worker_guard_t *self);

#ifdef __cplusplus
}
#endif

#endif
