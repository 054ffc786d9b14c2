/*  executor_schedule: waiting -> scheduled, one routine per execution
    (executor_schedule_one) for every way there: a new execution nothing
    waits ahead of, the queue inside a batch's transaction, the queue in a
    transaction of its own. See executor_internal.h.
*/
#include "actors/executor/executor_internal.h"

int
executor_schedule_one (executor_t *self, executor_worker_t *worker, const json_t *action,
                       int64_t now)
{
    if (executor_move (self, EXECUTION_SCHEDULE, now) < 0)
        return -1;
    char id[EXECUTOR_ID_SIZE];
    executor_record_text (&self->record, EXECUTOR_RECORD_ID, id, sizeof id);
    executor_workers_acquire (self->workers, worker);
    executor_effect_t *acquired = executor_effect_new (self, EFFECT_ACQUIRED);
    executor_copy (acquired->worker, sizeof acquired->worker, worker->name);
    executor_copy (acquired->id, sizeof acquired->id, id);
    executor_record_set_str (&self->record, EXECUTOR_RECORD_WORKER, worker->name);
    executor_fact_packed (self, action);
    proto_envelope_t *dispatch = executor_dispatch_envelope (self, action);
    if (!dispatch)
        return -1; //  not scheduled: the transaction is undone
    executor_effect_t *effect = executor_effect_new (self, EFFECT_DISPATCH);
    executor_copy (effect->worker, sizeof effect->worker, worker->name);
    effect->envelope = dispatch;
    return 0;
}

int
executor_schedule_wait (executor_t *self, store_txn_t *txn, const char *id,
                        const char *runner)
{
    uint64_t key = 0;
    if (store_insert (txn, self->waiting, id, strlen (id), &key) != STORE_OK)
        return -1;
    executor_effect_t *effect = executor_effect_new (self, EFFECT_WAIT);
    executor_copy (effect->id, sizeof effect->id, id);
    executor_copy (effect->runner, sizeof effect->runner, runner);
    effect->key = key;
    self->queued_in_batch = true;
    return 0;
}

//  Leaves the queue once the transaction committed.
static void
s_dequeue (executor_t *self)
{
    executor_effect_t *dequeue = executor_effect_new (self, EFFECT_DEQUEUE);
    dequeue->handle = zlistx_cursor (self->queue);
}

//  The waiting execution of `wait` to `worker`, in `txn`. 0 or -1.
static int
s_take (executor_t *self, store_txn_t *txn, executor_wait_t *wait,
        executor_worker_t *worker, int64_t now)
{
    if (executor_load (self, txn, wait->id) != EXECUTION_REQUESTED) {
        store_del_id (txn, self->waiting, wait->key); //  cancelled or gone
        s_dequeue (self);
        return 0;
    }
    char ref[512];
    const json_t *action = executor_action_of (self, ref, sizeof ref);
    if (!action) { //  removed while it waited (a pack removed or reloaded)
        char reason[600];
        snprintf (reason, sizeof reason, "action %s was removed", ref);
        executor_end_t end = {
            .event = EXECUTION_REJECT, .error = reason, .policies = true};
        if (executor_end (self, txn, wait->id, &end, now) < 0 ||
            store_del_id (txn, self->waiting, wait->key) != STORE_OK)
            return -1;
        s_dequeue (self);
        executor_effect_t *forget = executor_effect_new (self, EFFECT_FORGET);
        executor_copy (forget->id, sizeof forget->id, wait->id);
        return 0;
    }
    if (executor_schedule_one (self, worker, action, now) != 0 ||
        executor_packed_put (self, txn, wait->id) != 0 ||
        store_del_id (txn, self->waiting, wait->key) != STORE_OK)
        return -1;
    s_dequeue (self);
    return 1;
}

//  Arrival order; an execution no worker can take now does not hold up the
//  others (another runner may be free). 0 or -1.
static int
s_walk (executor_t *self, store_txn_t *txn)
{
    int64_t now = proto_now_usec ();
    size_t planned = 0; //  a transaction's dispatches stay below the link's window
    int free_slots = executor_workers_free (self->workers);
    for (executor_wait_t *wait = (executor_wait_t *)zlistx_first (self->queue);
         wait && planned < EXECUTOR_SCHEDULE_MAX && free_slots > 0;
         wait = (executor_wait_t *)zlistx_next (self->queue)) {
        executor_worker_t *worker = executor_workers_pick (self->workers, wait->runner);
        if (!worker)
            continue;
        int taken = s_take (self, txn, wait, worker, now);
        if (taken < 0)
            return -1;
        free_slots -= taken;
        planned += (size_t)taken;
    }
    return 0;
}

//  Inside a batch's transaction, last (bus_inbox_set_batch_end): what waits
//  and a free slot can take now rides the batch's one commit instead of a
//  second one after it. Slots freed by the batch itself are taken on the
//  next turn. The slots taken are given back if the batch does not commit
//  (EFFECT_ACQUIRED); the queue loses the scheduled after the commit
//  (EFFECT_DEQUEUE). Only in a batch that delivered a command: a retried
//  batch clears its effects at its first command.
int
executor_schedule_batch (void *arg, store_txn_t *txn)
{
    executor_t *self = (executor_t *)arg;
    if (!self->batch_open || zlistx_size (self->queue) == 0 ||
        executor_workers_count (self->workers) == 0)
        return 0;
    return s_walk (self, txn);
}

static int
s_apply_schedule (store_txn_t *txn, void *arg)
{
    executor_t *self = (executor_t *)arg;
    executor_effects_clear (self); //  a retry starts over (its slots given back)
    return s_walk (self, txn);
}

//  True when a waiting execution has a worker now.
static bool
s_fits (executor_t *self)
{
    if (executor_workers_free (self->workers) <= 0)
        return false;
    for (executor_wait_t *wait = (executor_wait_t *)zlistx_first (self->queue); wait;
         wait = (executor_wait_t *)zlistx_next (self->queue))
        if (executor_workers_pick (self->workers, wait->runner))
            return true;
    return false;
}

void
executor_schedule_run (executor_t *self)
{
    if (zlistx_size (self->queue) == 0 || executor_workers_count (self->workers) == 0 ||
        !s_fits (self))
        return;
    store_code_t code = store_write (self->store, s_apply_schedule, self);
    if (code == STORE_OK)
        executor_effects_apply (self);
    else {
        executor_effects_clear (self); //  they stay waiting; tried again next round
        if (code != STORE_IO)          //  a full disk is said once by the store
            zsys_error ("executor: cannot schedule: %s", store_last_error (self->store));
    }
    self->queued_in_batch = false;
}
