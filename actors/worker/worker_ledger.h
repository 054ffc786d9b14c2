/*  worker_ledger: what a worker may have started, in a small file of its own,
    so that a worker that starts again ends what its previous instance left
    running and can tell the executor what never started.

    File <dir>/<name>.ledger, append-only text, one record a line:

        B <boot_id>                  first line: the boot it was written in
        C <id>                       claimed: a claim went to the executor
        I <id>                       about to start its process (intent)
        P <id> <pid> <starttime>     started: pid leads its group; starttime
                                     is field 22 of /proc/<pid>/stat
        E <id>                       ended: nothing of it runs and the
                                     executor holds its outcome

    Each record is one write () to the file, no fsync: once write returns,
    every later reader sees it whatever happens to this process (SIGKILL,
    crash); only a kernel crash or power loss loses it, and that ends every
    process of the boot as well. So a ledger of another boot says nothing:
    it is discarded, and the executor settles as it would without one. The
    file is rewritten (temp file, rename) when a worker starts and when it
    has grown to many times what it still holds. It is locked (flock) while
    a worker uses it: a second live worker of the same name is refused.

    On open, what the previous instance left is recovered: every process of
    a started group still there (same group, started no earlier than the
    recorded leader, and either the recorded leader itself or carrying
    ATTUNE_EXECUTION_ID=<id> in its environment; for an intent without a
    pid, the environment alone) is SIGKILLed and waited for. Then ids that
    were only claimed are "never started", the others "stopped" (they ran,
    or may have, and nothing of them runs now).
*/
#ifndef WORKER_LEDGER_H_INCLUDED
#define WORKER_LEDGER_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _worker_ledger_t worker_ledger_t;

//  Open (or create) the ledger of worker `name` in `dir` (created if
//  missing), recover what a previous instance left (processes killed, for
//  up to `wait_ms`). NULL with `message` set on failure (the directory or
//  file cannot be made, another live worker holds it).
worker_ledger_t *worker_ledger_new (const char *dir, const char *name, int wait_ms,
                                    char *message, size_t size);

//  Close; safe on NULL; clears the pointer. The records stay in the file.
void worker_ledger_destroy (worker_ledger_t **self_p);

//  Record a claim, an intent, a started process (`start`: its start time,
//  worker_groups_start), an end. 0, or -1 (logged) when the file cannot be
//  written.
int worker_ledger_claim (worker_ledger_t *self, const char *id);
int worker_ledger_intent (worker_ledger_t *self, const char *id);
int worker_ledger_started (worker_ledger_t *self, const char *id, pid_t pid,
                           long long start);
int worker_ledger_end (worker_ledger_t *self, const char *id);

//  End `id` once the envelope `envelope` (its final report) is acked by
//  the executor: until then a restart still reports it as stopped.
void worker_ledger_end_after (worker_ledger_t *self, const char *id,
                              const uint8_t envelope[16]);

//  The link's ack handler calls this for every acked envelope.
void worker_ledger_acked (worker_ledger_t *self, const uint8_t envelope[16]);

//  What the previous instance left, as arrays of ids (borrowed), or NULL
//  when the ledger cannot tell (none, another boot) or they were settled.
json_t *worker_ledger_never_started (worker_ledger_t *self);
json_t *worker_ledger_stopped (worker_ledger_t *self);

//  How many processes of the previous instance could not be ended.
size_t worker_ledger_survivors (worker_ledger_t *self);

//  The executor has been told what the previous instance left: forget it.
void worker_ledger_settled (worker_ledger_t *self);

#ifdef __cplusplus
}
#endif

#endif
