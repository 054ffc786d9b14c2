/*  executor_effects: what a transaction leaves to do after its commit (executor_internal.h). */
#include "actors/executor/executor_internal.h"

void
executor_effect_destroy (executor_effect_t **effect_p)
{
    if (*effect_p) {
        json_decref ((*effect_p)->payload);
        proto_envelope_destroy (&(*effect_p)->envelope);
        free (*effect_p);
        *effect_p = NULL;
    }
}

//  The transaction did not commit: a slot taken in it is given back.
static void
s_drop (void *ctx, void *arg)
{
    executor_t *self = (executor_t *)ctx;
    executor_effect_t *effect = (executor_effect_t *)arg;
    if (effect->kind == EFFECT_ACQUIRED)
        executor_workers_release (self->workers, effect->worker);
    executor_effect_destroy (&effect);
}

static void s_run (void *ctx, void *arg);

void
executor_effects_clear (executor_t *self)
{
    actor_effects_drop (self->effects);
}

executor_effect_t *
executor_effect_new (executor_t *self, executor_effect_kind_t kind)
{
    executor_effect_t *effect = (executor_effect_t *)zmalloc (sizeof (executor_effect_t));
    effect->kind = kind;
    //  Filled in by the caller; run (or dropped) when the transaction ends
    int rc = actor_effects_add (self->effects, s_run, s_drop, effect);
    assert (rc == 0); //  out of memory, as zmalloc would abort
    (void)rc;
    return effect;
}

void
executor_publish (executor_t *self, const char *type, json_t *payload)
{
    proto_envelope_t *fact = proto_envelope_new (type, self->source);
    proto_error_t error;
    if (fact && proto_envelope_set_payload_json (fact, payload, &error) == PROTO_OK)
        executor_changes_note_json (self->changes, bus_pub_send (self->pub, fact), type,
                                    payload);
    else
        zsys_error ("executor: cannot publish %s: %s", type,
                    fact ? error.message : "no memory");
    proto_envelope_destroy (&fact);
}

//  ---------------------------------------------------------------------------
//  After a transaction committed: apply its effects

static void
s_fact (executor_t *self, executor_effect_t *effect)
{
    if (effect->envelope)
        executor_changes_note_envelope (
            self->changes, bus_pub_send (self->pub, effect->envelope), effect->envelope);
    else
        executor_publish (self, effect->type, effect->payload);
    if (strncmp (effect->type, "execution.", 10) != 0)
        return;
    int status = execution_status_parse (effect->type + 10);
    if (status >= 0)
        self->by_status[status]++;
    if (status == EXECUTION_REQUESTED)
        self->created++;
}

//  The memory mirror of an active execution: its status and worker.
static void
s_active (executor_t *self, const char *id, execution_status_t status, const char *worker)
{
    executor_active_t *active = (executor_active_t *)zmalloc (sizeof (executor_active_t));
    active->status = (char)status;
    executor_copy (active->worker, sizeof active->worker, worker);
    zhashx_update (self->actives, id, active);
}

static void
s_wait (executor_t *self, executor_effect_t *effect)
{
    executor_wait_t *wait = (executor_wait_t *)zmalloc (sizeof (executor_wait_t));
    executor_copy (wait->id, sizeof wait->id, effect->id);
    executor_copy (wait->runner, sizeof wait->runner, effect->runner);
    wait->key = effect->key;
    zlistx_add_end (self->queue, wait);
    s_active (self, effect->id, EXECUTION_REQUESTED, "");
}

static void
s_draining (executor_t *self, executor_effect_t *effect)
{
    executor_worker_t *worker = executor_workers_find (self->workers, effect->worker);
    if (worker && !worker->draining) {
        worker->draining = true;
        zsys_info ("executor: worker %s is draining: nothing new goes to it",
                   effect->worker);
        json_t *fact = json_pack ("{s:s}", "worker", effect->worker);
        executor_publish (self, "worker.draining", fact);
        json_decref (fact);
    }
}

static void
s_dispatch (executor_t *self, executor_effect_t *effect)
{
    executor_link_t *wl = (executor_link_t *)zhashx_lookup (self->links, effect->worker);
    //  No link: it re-registers and gets it then. Beyond the link's window
    //  (1024, above any worker's slots) it waits.
    if (wl && bus_link_send (wl->link, &effect->envelope) != 0)
        zsys_warning ("executor: dispatch to %s is waiting (link full)", effect->worker);
}

static void
s_apply (executor_t *self, executor_effect_t *effect)
{
    executor_active_t *active;
    switch (effect->kind) {
        case EFFECT_FACT:
            s_fact (self, effect);
            break;
        case EFFECT_WAIT:
            s_wait (self, effect);
            break;
        case EFFECT_RELEASE:
            executor_workers_release (self->workers, effect->worker);
            zhashx_delete (self->actives, effect->id);
            break;
        case EFFECT_STATUS:
            active = (executor_active_t *)zhashx_lookup (self->actives, effect->id);
            if (active)
                active->status = (char)effect->status;
            break;
        case EFFECT_WORKER:
            executor_links_apply_worker (self, effect->payload);
            break;
        case EFFECT_DELAYED:
            s_active (self, effect->id, EXECUTION_DELAYED, "");
            break;
        case EFFECT_FORGET:
            zhashx_delete (self->actives, effect->id);
            break;
        case EFFECT_ACQUIRED: //  the slot stays taken; active on that worker
            s_active (self, effect->id, EXECUTION_SCHEDULED, effect->worker);
            break;
        case EFFECT_DRAINING:
            s_draining (self, effect);
            break;
        case EFFECT_DEQUEUE:
            //  The handle was taken in this transaction; nothing removes queue
            //  items between it and its effects
            zlistx_delete (self->queue, effect->handle);
            break;
        case EFFECT_START:
        case EFFECT_REFUSED:
            executor_report_answer (self, effect->worker, effect->id,
                                    effect->kind == EFFECT_START, effect->claim,
                                    effect->reason);
            break;
        case EFFECT_DISPATCH:
            s_dispatch (self, effect);
            break;
    }
}

static void
s_run (void *ctx, void *arg)
{
    executor_effect_t *effect = (executor_effect_t *)arg;
    s_apply ((executor_t *)ctx, effect);
    executor_effect_destroy (&effect);
}

void
executor_effects_apply (executor_t *self)
{
    actor_effects_run (self->effects);
}
