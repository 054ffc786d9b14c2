/*  executor_policy: the limits the executor applies to executions
    (StackStorm's policies: the packs' policies folders, loaded by the registry).

        action.concurrency       at most `threshold` executions of the action
                                 admitted (not yet ended) at once; the others
                                 wait in a FIFO queue (delay) or are cancelled
        action.concurrency.attr  the same, one queue and count per value of
                                 the named parameters (`attributes`)
        action.ratelimit         at most `max` admissions per `window_seconds`;
                                 the others wait (delay) or are cancelled
        action.retry             a failed (or timed-out) execution is run
                                 again, up to `max_retry_count` times, after
                                 `delay` seconds (constant, linear or
                                 exponential backoff)
        action.timeout           the action's timeout, overridden

    Waiting queues hold at most `max_queue` executions (default 10,000; more
    are cancelled) for at most `queue_timeout` seconds (default 3,600; then
    the execution ends as `timeout`).

    Every piece of state lives in the executor's LMDB store, read and written
    inside the caller's write transaction, so it commits or aborts with the
    execution records it goes with, survives restarts unchanged (order and
    counts), and a transaction the store retries (map growth) is simply done
    again. Tables:
        policy.count     group key -> uint64 executions admitted, not ended
        policy.admitted  execution id -> group key
        policy.queue     group key, 0, seq (8 BE) -> enqueued (8 BE) + execution id
        policy.queued    execution id -> its policy.queue key
        policy.rate      action, 0, admitted at (8 BE), seq (8 BE) -> ""
        policy.timers    due (8 BE) + execution id -> "" (deferred retries)
        policy.stats     action -> admitted (8 BE) + completed (8 BE)
        policy.meta      "seq" -> uint64
    A group key is the action ref, or for action.concurrency.attr the ref,
    '|' and the JSON array of the attributes' values.
*/
#ifndef EXECUTOR_POLICY_H_INCLUDED
#define EXECUTOR_POLICY_H_INCLUDED

#include <jansson.h>
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _executor_policy_t executor_policy_t;

typedef enum {
    POLICY_ADMIT = 0, //  go on: it counts against the limits until it ends
    POLICY_DELAY,     //  queued: status delayed until admitted
    POLICY_CANCEL     //  refused: status cancelled, `reason` says why
} executor_admission_t;

//  Open the tables in `store`. NULL on failure.
executor_policy_t *executor_policy_new (store_t *store);
void executor_policy_destroy (executor_policy_t **self_p);

//  Take the policy definitions (the registry's "policy" kind: ref ->
//  definition; borrowed for the call). Disabled policies are ignored.
void executor_policy_define (executor_policy_t *self, const json_t *policies);

//  Number of enabled policies known.
size_t executor_policy_count (executor_policy_t *self);

//  True when a concurrency or rate policy governs `action`'s admissions.
bool executor_policy_limits (executor_policy_t *self, const char *action);

//  The action.retry parameters for `action`, or NULL (borrowed).
const json_t *executor_policy_retry (executor_policy_t *self, const char *action);

//  Seconds from now before retry number `attempt` (1, 2 ...) may start.
double executor_policy_retry_delay (const json_t *retry, int attempt);

//  The action.timeout for `action` in seconds, or 0 when there is none.
double executor_policy_timeout (executor_policy_t *self, const char *action);

//  Decide for a new execution `id` of `action` with `parameters`, at `now`
//  (µs). Writes what it decides (counts, queue) into `txn`. `reason` says
//  why an execution is refused or delayed. Returns -1 on a store error.
int executor_policy_admit (executor_policy_t *self, store_txn_t *txn, const char *id,
                           const char *action, const json_t *parameters, int64_t now,
                           executor_admission_t *decision, char *reason, size_t size);

//  Called for each execution the policies let go (it was delayed: move it
//  to requested), or expire (delayed past queue_timeout: end it as timeout),
//  or that is due (a deferred retry: admit it). Inside the same transaction.
//  Returns 0, or -1 to abort the transaction.
typedef int (executor_policy_fn) (void *arg, store_txn_t *txn, const char *id);

//  Execution `id` ended (any terminal status): free its slot, or take it out
//  of its queue, then admit the next ones that fit (`admit` for each).
int executor_policy_release (executor_policy_t *self, store_txn_t *txn, const char *id,
                             int64_t now, executor_policy_fn *admit, void *arg);

//  Defer execution `id` until `due` (µs): it is handed to `due_fn` then.
int executor_policy_defer (executor_policy_t *self, store_txn_t *txn, const char *id,
                           int64_t due);

//  Timers: admit queue heads a rate window now lets through, expire those
//  waiting longer than their queue_timeout, hand deferred ones that are due.
int executor_policy_tick (executor_policy_t *self, store_txn_t *txn, int64_t now,
                          executor_policy_fn *admit, executor_policy_fn *expire,
                          executor_policy_fn *due_fn, void *arg);

//  Whether a tick may have something to do (queues or timers exist), and
//  after how many ms to run it; -1 when nothing waits.
int executor_policy_tick_ms (executor_policy_t *self);

//  Queue statistics of `action`: {action, running, queued, oldest_wait (s),
//  admitted, completed, policies: [refs]}. Caller owns it.
json_t *executor_policy_stats (executor_policy_t *self, store_txn_t *txn,
                               const char *action, int64_t now);

#ifdef __cplusplus
}
#endif

#endif
