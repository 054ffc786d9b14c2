/*  worker_groups: find and end the process groups of action processes
    through /proc. Shared by the worker's ledger (what a previous instance
    of a worker left, worker_ledger.h) and its guard (what a worker that
    died leaves, worker_guard.h and tools/attune_guard.c).

    A group is known by its leader (the action process the worker started:
    its pid is the group id) and the leader's start time, and its processes
    carry ATTUNE_EXECUTION_ID=<id> in their environment. A live process
    (of our user, not a zombie) belongs to a group when it is in a process
    group of that id, started no earlier than the recorded leader, and is
    either the recorded leader itself (same pid and start time) or carries
    the execution's id. A group whose leader is not known (0: an intent
    written before the process existed) is found by the environment alone.
    So a pid or a group id used again by something else is never touched.

    Plain libc, no CZMQ: tools/attune_guard.c links this file alone.
*/
#ifndef WORKER_GROUPS_H_INCLUDED
#define WORKER_GROUPS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    pid_t pgid;      //  the leader's pid; 0 = not known (find by `id` alone)
    long long start; //  the leader's start time (worker_groups_start)
    const char *id;  //  the execution id its processes carry
} worker_group_t;

//  Told of each process a kill pass kills (for a log line); may be NULL.
typedef void (worker_groups_fn) (void *arg, pid_t pid, pid_t pgrp, const char *id);

//  Start time of a process (field 22 of /proc/<pid>/stat, clock ticks since
//  boot), its process group and whether it has ended (a zombie). -1 if none.
long long worker_groups_start (pid_t pid, pid_t *pgrp, bool *zombie);

//  One pass over /proc: SIGKILL every live process that belongs to one of
//  `groups`, with its whole group. Returns how many were found.
size_t worker_groups_kill_pass (const worker_group_t *groups, size_t count,
                                worker_groups_fn *killed, void *arg);

//  Kill passes 10 ms apart until one finds nothing or `wait_ms` is over.
//  Returns how many the last pass found (0: all gone).
size_t worker_groups_kill (const worker_group_t *groups, size_t count, int wait_ms,
                           worker_groups_fn *killed, void *arg);

#ifdef __cplusplus
}
#endif

#endif
