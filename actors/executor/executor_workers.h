/*  executor_workers: the executor's registry of workers and the choice of
    one for an execution: a live worker whose runtimes include the action's
    runner and that has a free slot; the least loaded, round-robin among
    equals.
*/
#ifndef EXECUTOR_WORKERS_H_INCLUDED
#define EXECUTOR_WORKERS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EXECUTOR_MAX_RUNTIMES 16

typedef struct {
    char name[256];
    char endpoint[256];
    char runtimes[EXECUTOR_MAX_RUNTIMES][32];
    int runtime_count;
    int slots;
    int busy;
    bool alive;
    bool draining; //  said it is stopping: gets nothing new (a registration clears it)
    int64_t last_seen_usec;
    uint64_t picked; //  round-robin tie-break: when it was last chosen
} executor_worker_t;

typedef struct _executor_workers_t executor_workers_t;

executor_workers_t *executor_workers_new (void);
void executor_workers_destroy (executor_workers_t **self_p);

//  Add or update a worker (register / heartbeat). `runtimes` is a
//  comma-separated list. Returns the entry (owned by the registry) or NULL
//  when the name is invalid or the registry is full (4096 workers).
executor_worker_t *executor_workers_upsert (executor_workers_t *self, const char *name,
                                            const char *endpoint, const char *runtimes,
                                            int slots, int64_t now_usec);
executor_worker_t *executor_workers_find (executor_workers_t *self, const char *name);
void executor_workers_remove (executor_workers_t *self, const char *name);

//  Choose a worker for `runner`, or NULL when none fits now. Does not take
//  the slot: call executor_workers_acquire on the one you dispatch to.
executor_worker_t *executor_workers_pick (executor_workers_t *self, const char *runner);
void executor_workers_acquire (executor_workers_t *self, executor_worker_t *worker);
void executor_workers_release (executor_workers_t *self, const char *name);

bool executor_worker_offers (const executor_worker_t *worker, const char *runner);

//  Free slots over every live worker that takes work: 0 means no pick can
//  succeed, whatever the runner (a scheduler stops walking its queue).
int executor_workers_free (executor_workers_t *self);

//  Iterate: index 0 .. count-1.
size_t executor_workers_count (executor_workers_t *self);
executor_worker_t *executor_workers_at (executor_workers_t *self, size_t index);

#ifdef __cplusplus
}
#endif

#endif
