/*  executor_schedule: waiting -> scheduled. */
#include "actors/executor/executor_internal.h"

//  ---------------------------------------------------------------------------
//  Scheduling: waiting -> scheduled

//  The waiting execution `id`, read into self->record: true when it is
//  there and still requested (not cancelled or gone meanwhile).
static bool
s_wait_requested (executor_t *self, store_txn_t *txn, const char *id)
{
    const void *data;
    size_t size;
    char status[32];
    return store_get (txn, self->executions, id, strlen (id), &data, &size) == STORE_OK &&
           executor_record_read (&self->record, data, size) == 0 &&
           execution_status_parse (executor_record_text (
               &self->record, EXECUTOR_RECORD_STATUS, status, sizeof status)) ==
               EXECUTION_REQUESTED;
}

//  self->record (requested) goes to `worker`: scheduled, stored. Its action
//  in *action (what its fact and dispatch are made from). 0 or -1.
static int
s_mark_scheduled (executor_t *self, store_txn_t *txn, const char *id, const char *worker,
                  int64_t now, const json_t **action)
{
    char ref[512];
    executor_record_set_status (&self->record,
                                execution_status_name (EXECUTION_SCHEDULED), now);
    executor_record_set_str (&self->record, EXECUTOR_RECORD_WORKER, worker);
    *action = registry_client_get (
        self->registry, "action",
        executor_record_text (&self->record, EXECUTOR_RECORD_ACTION, ref, sizeof ref));
    return executor_packed_put (self, txn, id);
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
    int64_t now = proto_now_usec ();
    size_t planned = 0; //  a batch's dispatches stay below the link's window
    int free_slots = executor_workers_free (self->workers);
    for (executor_wait_t *wait = (executor_wait_t *)zlistx_first (self->queue);
         wait && planned < EXECUTOR_SCHEDULE_MAX && free_slots > 0;
         wait = (executor_wait_t *)zlistx_next (self->queue)) {
        executor_worker_t *worker = executor_workers_pick (self->workers, wait->runner);
        if (!worker)
            continue;
        if (!s_wait_requested (self, txn, wait->id))
            continue; //  executor_schedule_run tidies it
        executor_workers_acquire (self->workers, worker);
        free_slots--;
        executor_effect_t *acquired = executor_effect_new (self, EFFECT_ACQUIRED);
        executor_copy (acquired->worker, sizeof acquired->worker, worker->name);
        executor_copy (acquired->id, sizeof acquired->id, wait->id);
        const json_t *action;
        if (s_mark_scheduled (self, txn, wait->id, worker->name, now, &action) != 0 ||
            store_del_id (txn, self->waiting, wait->key) != STORE_OK)
            return -1;
        executor_fact_packed (self, action);
        size_t effects = zlist_size (self->effects);
        executor_dispatch_packed (self, action, worker->name);
        if (zlist_size (self->effects) == effects) //  no dispatch: not scheduled
            return -1;
        executor_effect_t *dequeue = executor_effect_new (self, EFFECT_DEQUEUE);
        executor_copy (dequeue->id, sizeof dequeue->id, wait->id);
        dequeue->handle = zlistx_cursor (self->queue);
        planned++;
    }
    return 0;
}

//  In its own transaction (what no batch took)

typedef struct {
    executor_t *self;
    executor_wait_t *items[EXECUTOR_SCHEDULE_MAX];
    char workers[EXECUTOR_SCHEDULE_MAX][256];
    size_t count;
    proto_envelope_t *dispatches[EXECUTOR_SCHEDULE_MAX]; //  NULL: not scheduled
    proto_envelope_t *facts[EXECUTOR_SCHEDULE_MAX];
} s_plan_t;

static int
s_apply_plan (store_txn_t *txn, void *arg)
{
    s_plan_t *plan = (s_plan_t *)arg;
    executor_t *self = plan->self;
    int64_t now = proto_now_usec ();
    for (size_t i = 0; i < plan->count; i++) {
        proto_envelope_destroy (&plan->dispatches[i]); //  a retry starts over
        proto_envelope_destroy (&plan->facts[i]);
        executor_wait_t *wait = plan->items[i];
        store_del_id (txn, self->waiting, wait->key);
        if (!s_wait_requested (self, txn, wait->id))
            continue; //  cancelled or gone: it leaves the queue
        char type[48];
        const json_t *action;
        if (s_mark_scheduled (self, txn, wait->id, plan->workers[i], now, &action) != 0)
            return -1;
        plan->facts[i] = executor_fact_envelope (self, action, type, sizeof type);
        plan->dispatches[i] = executor_dispatch_envelope (self, action);
        if (!plan->dispatches[i])
            return -1;
    }
    return 0;
}

void
executor_schedule_run (executor_t *self)
{
    if (zlistx_size (self->queue) == 0 || executor_workers_count (self->workers) == 0)
        return;
    s_plan_t *plan = (s_plan_t *)zmalloc (sizeof (s_plan_t));
    plan->self = self;
    //  Arrival order; an execution no worker can take now does not hold up
    //  the others (another runner may be free)
    int free_slots = executor_workers_free (self->workers);
    for (executor_wait_t *wait = (executor_wait_t *)zlistx_first (self->queue);
         wait && plan->count < EXECUTOR_SCHEDULE_MAX && free_slots > 0;
         wait = (executor_wait_t *)zlistx_next (self->queue)) {
        executor_worker_t *worker = executor_workers_pick (self->workers, wait->runner);
        if (!worker)
            continue;
        executor_workers_acquire (self->workers, worker);
        free_slots--;
        snprintf (plan->workers[plan->count], 256, "%s", worker->name);
        plan->items[plan->count++] = wait;
    }
    if (plan->count == 0) {
        free (plan);
        return;
    }
    store_code_t code = store_write (self->store, s_apply_plan, plan);
    for (size_t i = 0; i < plan->count; i++) {
        executor_wait_t *wait = plan->items[i];
        if (code != STORE_OK || !plan->dispatches[i]) {
            executor_workers_release (self->workers, plan->workers[i]);
            if (code != STORE_OK)
                continue; //  stays waiting; tried again next round
        } else {
            executor_active_t *active =
                (executor_active_t *)zhashx_lookup (self->actives, wait->id);
            if (active) {
                active->status = EXECUTION_SCHEDULED;
                executor_copy (active->worker, sizeof active->worker, plan->workers[i]);
            }
            executor_link_t *wl =
                (executor_link_t *)zhashx_lookup (self->links, plan->workers[i]);
            if (wl && bus_link_send (wl->link, &plan->dispatches[i]) != 0)
                zsys_warning ("executor: dispatch to %s is waiting (link full)",
                              plan->workers[i]);
            if (plan->facts[i]) {
                executor_effect_t *effect = executor_effect_new (self, EFFECT_FACT);
                snprintf (effect->type, sizeof effect->type, "execution.%s",
                          execution_status_name (EXECUTION_SCHEDULED));
                effect->envelope = plan->facts[i];
                plan->facts[i] = NULL;
            }
        }
        proto_envelope_destroy (&plan->dispatches[i]);
        proto_envelope_destroy (&plan->facts[i]);
        void *handle = zlistx_find (self->queue, wait);
        if (handle)
            zlistx_delete (self->queue, handle);
    }
    if (code != STORE_OK && code != STORE_IO) //  a full disk is said once by the store
        zsys_error ("executor: cannot schedule: %s", store_last_error (self->store));
    free (plan);
    executor_effects_apply (self); //  the scheduled facts
}
