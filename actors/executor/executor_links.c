/*  executor_links: workers, their links, and their executions when they
    come and go. */
#include "actors/executor/executor_internal.h"

//  ---------------------------------------------------------------------------
//  Workers and their links

static void s_worker_lost (executor_t *self, const char *name, const char *why);

//  worker.resync: "register again, with what you hold".
static void
s_resync (executor_link_t *wl)
{
    json_t *payload = json_pack ("{s:s}", "worker", wl->name);
    proto_envelope_t *command = proto_envelope_new ("worker.resync", wl->owner->source);
    if (command && payload &&
        proto_envelope_set_payload_json (command, payload, NULL) == PROTO_OK &&
        bus_link_send (wl->link, &command) != 0)
        zsys_warning ("executor: worker.resync to %s is waiting (link full)", wl->name);
    proto_envelope_destroy (&command);
    json_decref (payload);
}

static void
s_on_worker_peer (void *arg, const char *peer, bus_peer_event_t event)
{
    //  `peer` is our own link name; the argument says which worker it is
    executor_link_t *wl = (executor_link_t *)arg;
    if (event == BUS_PEER_UP) {
        wl->up = true;
        //  Heard again after we gave up on it (or it restarted): ask it to
        //  register, so it is reconciled and used again
        executor_worker_t *known = executor_workers_find (wl->owner->workers, wl->name);
        if (!known || !known->alive)
            s_resync (wl);
    } else if (wl->up) {
        wl->up = false;
        char name[256];
        executor_copy (name, sizeof name, wl->name);
        s_worker_lost (wl->owner, name, "stopped heartbeating");
    }
}

void
executor_link_destroy (void **item_p)
{
    executor_link_t *wl = (executor_link_t *)*item_p;
    if (wl) {
        bus_link_destroy (&wl->link);
        free (wl);
        *item_p = NULL;
    }
}

//  A str field as a C string of fewer than `size` bytes (no NUL), or NULL.
static const char *
s_str (const msgpack_object *map, const char *key, char *out, size_t size)
{
    return executor_get_str (map, key, out, size) ? out : NULL;
}

int
executor_links_register (executor_t *self, store_txn_t *txn,
                         const msgpack_object *payload, bus_command_t *info)
{
    //  Types and required fields: checked (executor_check); the limits
    //  a link needs, here
    char name[256], endpoint[512], key[64];
    const msgpack_object *slots = proto_map_get (payload, "slots");
    if (!s_str (payload, "worker", name, sizeof name) || !*name ||
        !s_str (payload, "endpoint", endpoint, sizeof endpoint) || slots->via.u64 < 1 ||
        slots->via.u64 > 100000)
        return bus_command_reject (
            info, "bad_request",
            "worker.register needs worker, endpoint, runtimes, slots (1-100000)");
    const msgpack_object *curve_key =
        proto_map_get (payload, "curve_key"); //  optional (bus_security.h)
    if (curve_key &&
        (!s_str (payload, "curve_key", key, sizeof key) || !bus_security_key_valid (key)))
        return bus_command_reject (info, "bad_request",
                                   "worker.register: curve_key: expected a 40-character "
                                   "z85 CURVE public key");
    msgpack_sbuffer_clear (&self->packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
    msgpack_pack_object (&pk, *payload);
    //  Linking and reconciling, after the commit, read it as JSON (once)
    json_t *json = proto_json_from_msgpack (payload, "payload", NULL);
    if (!json || store_put (txn, self->workers_table, name, strlen (name),
                            self->packed.data, self->packed.size) != STORE_OK) {
        json_decref (json);
        return -1;
    }
    executor_effect_t *effect = executor_effect_new (self, EFFECT_WORKER);
    effect->payload = json;
    return 0;
}

bool
executor_links_stored_instance (const void *data, size_t size, uint64_t *instance)
{
    const msgpack_object *found = NULL;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    bool ok = false;
    if (size && *(const char *)data != '{' &&
        msgpack_unpack_next (&unpacked, (const char *)data, size, NULL) ==
            MSGPACK_UNPACK_SUCCESS &&
        unpacked.data.type == MSGPACK_OBJECT_MAP &&
        (found = proto_map_get (&unpacked.data, "instance")) &&
        found->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *instance = found->via.u64;
        ok = true;
    } else if (size && *(const char *)data == '{') {
        json_t *registration = json_loadb ((const char *)data, size, 0, NULL);
        json_t *value = json_object_get (registration, "instance");
        ok = json_is_integer (value);
        if (ok)
            *instance = (uint64_t)json_integer_value (value);
        json_decref (registration);
    }
    msgpack_unpacked_destroy (&unpacked);
    return ok;
}

//  Execution `id`, scheduled on worker `name`, given back unstarted: it
//  waits again (last in line), its slot freed. 0 or -1.
static int
s_returned (executor_t *self, store_txn_t *txn, const char *name, const char *id,
            int64_t now)
{
    char its[256], runner[32], ref[512];
    if (executor_load (self, txn, id) != EXECUTION_SCHEDULED ||
        !streq (
            executor_record_text (&self->record, EXECUTOR_RECORD_WORKER, its, sizeof its),
            name))
        return 0;
    executor_move (self, EXECUTION_RETURN, now);
    executor_record_set_nil (&self->record, EXECUTOR_RECORD_WORKER);
    executor_effect_t *release = executor_effect_new (self, EFFECT_RELEASE);
    executor_copy (release->worker, sizeof release->worker, name);
    executor_copy (release->id, sizeof release->id, id);
    executor_record_text (&self->record, EXECUTOR_RECORD_RUNNER, runner, sizeof runner);
    if (executor_schedule_wait (self, txn, id, runner) != 0)
        return -1;
    executor_fact_packed (self, executor_action_of (self, ref, sizeof ref));
    return executor_packed_put (self, txn, id);
}

//  worker.draining {worker, returned: [ids]}: the worker is stopping; it
//  takes nothing new, and the executions it had not started wait again,
//  first in line for the next worker.
int
executor_links_draining (executor_t *self, store_txn_t *txn,
                         const msgpack_object *payload, bus_command_t *info)
{
    char name[256];
    if (!s_str (payload, "worker", name, sizeof name) || !*name)
        return bus_command_reject (info, "bad_request",
                                   "worker.draining needs worker and returned [ids]");
    executor_effect_t *effect = executor_effect_new (self, EFFECT_DRAINING);
    executor_copy (effect->worker, sizeof effect->worker, name);
    int64_t now = proto_now_usec ();
    const msgpack_object *returned = proto_map_get (payload, "returned");
    for (uint32_t i = 0; returned && i < returned->via.array.size; i++) {
        const msgpack_object *item = &returned->via.array.ptr[i];
        char id[EXECUTOR_ID_SIZE];
        if (item->type == MSGPACK_OBJECT_STR && item->via.str.size < sizeof id &&
            !memchr (item->via.str.ptr, 0, item->via.str.size)) {
            memcpy (id, item->via.str.ptr, item->via.str.size);
            id[item->via.str.size] = 0;
            if (s_returned (self, txn, name, id, now) != 0)
                return -1;
        }
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Workers coming and going

typedef struct {
    executor_t *self;
    zlist_t *ids;
    const char *worker;
    bool abandon_running;
    bool requeue_running;     //  running ones never started: wait again
    zlist_t *done;            //  s_done_t: executions changed
    actor_effects_t *effects; //  their facts, and what policies did meanwhile
} s_lost_t;

//  An execution a lost worker had, as changed.
typedef struct {
    char id[EXECUTOR_ID_SIZE];
    char runner[32];
    int status;   //  requested (waiting again) or abandoned
    uint64_t key; //  in the waiting table, when requested
} s_done_t;

//  self->record goes back to waiting by `event` (return, rerun). 0 or -1.
static int
s_requeue (executor_t *self, store_txn_t *txn, s_done_t *done, execution_event_t event,
           int64_t now)
{
    executor_move (self, event, now);
    if (event == EXECUTION_RERUN) {
        const msgpack_object *count =
            executor_record_extra (&self->record, "redispatched");
        msgpack_object again = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER};
        again.via.u64 =
            (count && count->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? count->via.u64
                                                                     : 0) +
            1;
        executor_record_set_extra (&self->record, "redispatched", &again);
    }
    executor_record_set_nil (&self->record, EXECUTOR_RECORD_WORKER);
    //  A rerun's live output starts again from 0 on its next worker
    if (event == EXECUTION_RERUN && executor_output_delete (self, txn, done->id) < 0)
        return -1;
    if (store_insert (txn, self->waiting, done->id, strlen (done->id), &done->key) !=
        STORE_OK)
        return -1;
    done->status = EXECUTION_REQUESTED;
    char ref[512];
    executor_fact_packed (self, executor_action_of (self, ref, sizeof ref));
    return executor_packed_put (self, txn, done->id);
}

//  One execution of a lost worker: scheduled -> requested (waiting again);
//  running -> requested when it never started or its action is idempotent;
//  running/canceling -> abandoned (when abandon_running). The change goes
//  into lost->done. 0 or -1.
static int
s_lose (executor_t *self, store_txn_t *txn, s_lost_t *lost, const char *id, int64_t now)
{
    int status = executor_load (self, txn, id);
    if (status < 0)
        return 0;
    char ref[512];
    const json_t *action = executor_action_of (self, ref, sizeof ref);
    //  An action that says running it twice is harmless runs again; so does a
    //  workflow: its engine keeps the run in its store and, given it again,
    //  goes on where it was (its tasks' request ids are derived from the run:
    //  even a new engine starts no task twice)
    char runner[32] = "";
    executor_record_text (&self->record, EXECUTOR_RECORD_RUNNER, runner, sizeof runner);
    bool workflow = streq (runner, "orquesta") || streq (runner, "action-chain");
    bool rerun = status == EXECUTION_RUNNING && lost->abandon_running &&
                 !lost->requeue_running &&
                 (workflow || json_is_true (json_object_get (action, "idempotent")));
    bool unstarted = status == EXECUTION_SCHEDULED ||
                     (status == EXECUTION_RUNNING && lost->requeue_running);
    s_done_t *done = (s_done_t *)zmalloc (sizeof (s_done_t));
    executor_copy (done->id, sizeof done->id, id);
    executor_record_text (&self->record, EXECUTOR_RECORD_RUNNER, done->runner,
                          sizeof done->runner);
    zlist_append (lost->done, done);
    if (unstarted || rerun)
        return s_requeue (self, txn, done, unstarted ? EXECUTION_RETURN : EXECUTION_RERUN,
                          now);
    done->status = EXECUTION_ABANDONED;
    int rc = 1;
    if (lost->abandon_running && status != EXECUTION_REQUESTED) {
        executor_end_t end = {.event = EXECUTION_ABANDON,
                              .error = "the worker running it was lost",
                              .policies = true};
        rc = executor_end (self, txn, id, &end, now);
    }
    if (rc == 1) { //  nothing to do
        zlist_remove (lost->done, done);
        free (done);
    }
    return rc < 0 ? -1 : 0;
}

static int
s_apply_lost (store_txn_t *txn, void *arg)
{
    s_lost_t *lost = (s_lost_t *)arg;
    executor_t *self = lost->self;
    while (zlist_size (lost->done))
        free (zlist_pop (lost->done)); //  a retry starts over
    //  The facts and what the policies do when these end (admit the next in
    //  line) go to this transaction's own effects, applied after its commit
    actor_effects_t *outer = self->effects;
    self->effects = lost->effects;
    executor_effects_clear (self);
    int64_t now = proto_now_usec ();
    int rc = 0;
    for (char *id = (char *)zlist_first (lost->ids); id && rc == 0;
         id = (char *)zlist_next (lost->ids))
        rc = s_lose (self, txn, lost, id, now);
    self->effects = outer;
    return rc;
}

static void s_redispatch (executor_t *self, const char *name);

static void
s_unsettled_add (executor_t *self, const char *name, bool abandon_running, zlist_t *only,
                 bool requeue_running)
{
    executor_unsettled_t *item =
        (executor_unsettled_t *)zmalloc (sizeof (executor_unsettled_t));
    executor_copy (item->worker, sizeof item->worker, name);
    item->abandon_running = abandon_running;
    item->requeue_running = requeue_running;
    if (only) {
        item->only = zlist_new ();
        zlist_autofree (item->only);
        for (char *id = (char *)zlist_first (only); id; id = (char *)zlist_next (only))
            zlist_append (item->only, id);
    }
    zlist_append (self->unsettled, item);
}

void
executor_unsettled_destroy (executor_unsettled_t **item_p)
{
    if (*item_p) {
        zlist_destroy (&(*item_p)->only);
        free (*item_p);
        *item_p = NULL;
    }
}

static void s_settle_worker_ids (executor_t *self, const char *name, bool abandon_running,
                                 zlist_t *only, bool requeue_running);

//  Settles that failed, tried again (each goes back on the list if it
//  fails again)
void
executor_links_retry (executor_t *self)
{
    size_t count = zlist_size (self->unsettled);
    if (count == 0 || store_io_failing (self->store))
        return;
    while (count--) {
        executor_unsettled_t *item = (executor_unsettled_t *)zlist_pop (self->unsettled);
        s_settle_worker_ids (self, item->worker, item->abandon_running, item->only,
                             item->requeue_running);
        executor_unsettled_destroy (&item);
    }
}

//  After the settle of worker `name`'s executions committed (`committed`)
//  or not: the memory mirrors, the facts, what the policies did.
static void
s_settled (executor_t *self, const char *name, s_lost_t *lost, bool committed)
{
    s_done_t *done;
    while ((done = (s_done_t *)zlist_pop (lost->done))) {
        if (committed) {
            executor_workers_release (self->workers, name);
            if (done->status == EXECUTION_REQUESTED) {
                executor_active_t *active =
                    (executor_active_t *)zhashx_lookup (self->actives, done->id);
                if (active) {
                    active->status = EXECUTION_REQUESTED;
                    active->worker[0] = 0;
                }
                executor_wait_t *wait =
                    (executor_wait_t *)zmalloc (sizeof (executor_wait_t));
                executor_copy (wait->id, sizeof wait->id, done->id);
                executor_copy (wait->runner, sizeof wait->runner, done->runner);
                wait->key = done->key;
                zlistx_add_start (self->queue, wait); //  first in line again
            } else
                zhashx_delete (self->actives, done->id);
        }
        free (done);
    }
    //  The facts, then what the policies did (the next in line admitted);
    //  nothing of it when the transaction failed (slots it took given back)
    actor_effects_t *outer = self->effects;
    self->effects = lost->effects;
    if (!committed)
        executor_effects_clear (self);
    self->effects = outer;
    actor_effects_move (self->effects, lost->effects);
}

//  Settle the executions of worker `name`: all of them, or only those in
//  `only` (ids; NULL for all). `requeue_running`: those running never
//  started (the worker says so), they wait again.
static void
s_settle_worker_ids (executor_t *self, const char *name, bool abandon_running,
                     zlist_t *only, bool requeue_running)
{
    s_lost_t lost = {.self = self,
                     .worker = name,
                     .abandon_running = abandon_running,
                     .requeue_running = requeue_running};
    lost.ids = zlist_new ();
    zlist_autofree (lost.ids);
    lost.done = zlist_new ();
    lost.effects = actor_effects_new (self);
    assert (lost.effects);
    if (only)
        for (char *id = (char *)zlist_first (only); id; id = (char *)zlist_next (only))
            zlist_append (lost.ids, id);
    else
        for (executor_active_t *active =
                 (executor_active_t *)zhashx_first (self->actives);
             active; active = (executor_active_t *)zhashx_next (self->actives))
            if (streq (active->worker, name))
                zlist_append (lost.ids, (void *)zhashx_cursor (self->actives));
    if (zlist_size (lost.ids)) {
        store_code_t code = store_write (self->store, s_apply_lost, &lost);
        if (code != STORE_OK) {
            if (code != STORE_IO) //  a full disk is said once by the store
                zsys_error ("executor: cannot settle the executions of %s: %s", name,
                            store_last_error (self->store));
            s_unsettled_add (self, name, abandon_running, only, requeue_running);
        }
        s_settled (self, name, &lost, code == STORE_OK);
    }
    zlist_destroy (&lost.ids);
    zlist_destroy (&lost.done);
    actor_effects_destroy (&lost.effects);
    executor_effects_apply (self);
}

static void
s_settle_worker (executor_t *self, const char *name, bool abandon_running)
{
    s_settle_worker_ids (self, name, abandon_running, NULL, false);
}

//  True when worker `name` runs workflows (a workflow engine: its runs are
//  in its own store, and a run given to it again goes on where it was).
static bool
s_engine (executor_t *self, const char *name)
{
    executor_worker_t *worker = executor_workers_find (self->workers, name);
    for (int i = 0; worker && i < worker->runtime_count; i++)
        if (streq (worker->runtimes[i], "orquesta") ||
            streq (worker->runtimes[i], "action-chain"))
            return true;
    return false;
}

//  A registration says what the worker holds (`executions`): what we gave it
//  and it does not hold is settled (running: lost; scheduled: sent again,
//  the dispatch may not have arrived); what it holds and we did not give it
//  (settled meanwhile, or given to another) goes into `drop`, which the
//  worker gets in worker.reconciled.
static void
s_reconcile (executor_t *self, const char *name, const json_t *held, json_t *drop)
{
    zhashx_t *holds = zhashx_new ();
    size_t i;
    const json_t *item;
    json_array_foreach (held, i, item)
    {
        if (json_is_string (item))
            zhashx_update (holds, json_string_value (item), (void *)"");
    }
    zlist_t *lost = zlist_new ();
    zlist_autofree (lost);
    bool resend = false;
    for (executor_active_t *active = (executor_active_t *)zhashx_first (self->actives);
         active; active = (executor_active_t *)zhashx_next (self->actives)) {
        const char *id = (const char *)zhashx_cursor (self->actives);
        if (!streq (active->worker, name) || zhashx_lookup (holds, id))
            continue;
        if (active->status == EXECUTION_SCHEDULED)
            resend = true;
        else if (active->status == EXECUTION_RUNNING ||
                 active->status == EXECUTION_CANCELING ||
                 active->status == EXECUTION_PAUSING ||
                 active->status == EXECUTION_PAUSED ||
                 active->status == EXECUTION_RESUMING)
            zlist_append (lost, (void *)id);
    }
    for (const char *id = (const char *)zhashx_first (holds); id;
         id = (const char *)zhashx_next (holds)) {
        const char *key = (const char *)zhashx_cursor (holds);
        executor_active_t *active =
            (executor_active_t *)zhashx_lookup (self->actives, key);
        //  A workflow waiting again after its engine was lost, held by the
        //  engine back: it keeps it, and the dispatch to come says running
        if (active && active->status == EXECUTION_REQUESTED && s_engine (self, name))
            continue;
        if (!active || !streq (active->worker, name)) {
            zsys_info (
                "executor: worker %s holds %s, settled without it: told to drop it", name,
                key);
            json_array_append_new (drop, json_string (key));
        }
    }
    if (zlist_size (lost)) {
        zsys_warning (
            "executor: worker %s no longer runs %zu of its executions: settling "
            "them",
            name, zlist_size (lost));
        s_settle_worker_ids (self, name, true, lost, false);
    }
    if (resend)
        s_redispatch (self, name); //  it drops what it already holds
    zlist_destroy (&lost);
    zhashx_destroy (&holds);
}

//  What a previous instance of the worker left (its ledger: worker_ledger.h),
//  said by a registration after the worker ended every process of it:
//  `never_started` (claimed, no process) wait again; `stopped` (started,
//  nothing of them runs now) are lost: abandoned, or run again when
//  idempotent. Only ids still given to this worker are touched.
static void
s_previous (executor_t *self, const char *name, const json_t *payload)
{
    const char *keys[2] = {"never_started", "stopped"};
    for (int k = 0; k < 2; k++) {
        zlist_t *ids = zlist_new ();
        size_t i;
        const json_t *item;
        json_array_foreach (json_object_get (payload, keys[k]), i, item)
        {
            const char *id = json_string_value (item);
            executor_active_t *active =
                id ? (executor_active_t *)zhashx_lookup (self->actives, id) : NULL;
            if (active && streq (active->worker, name))
                zlist_append (ids, (void *)zhashx_cursor (self->actives));
        }
        if (zlist_size (ids)) {
            zsys_info ("executor: worker %s restarted: %zu of its executions %s", name,
                       zlist_size (ids),
                       k == 0 ? "never started: they wait again"
                              : "had started and are gone: settling them");
            s_settle_worker_ids (self, name, true, ids, k == 0);
        }
        zlist_destroy (&ids);
    }
}

static void
s_worker_lost (executor_t *self, const char *name, const char *why)
{
    executor_worker_t *worker = executor_workers_find (self->workers, name);
    if (!worker || !worker->alive)
        return;
    zsys_warning ("executor: worker %s %s: settling its executions", name, why);
    worker->alive = false;
    json_t *payload = json_pack ("{s:s, s:[], s:i}", "worker", name, "runtimes", "slots",
                                 worker->slots);
    executor_publish (self, "worker.down", payload);
    json_decref (payload);
    s_settle_worker (self, name, true);
}

//  This actor restarted and a worker it had given executions to is still
//  the same instance: send it again those it may not have received (it
//  drops ids it already holds). They stay with that worker: another one
//  could run what this one has queued.
static void
s_redispatch (executor_t *self, const char *name)
{
    executor_link_t *wl = (executor_link_t *)zhashx_lookup (self->links, name);
    store_txn_t *txn = wl ? store_read_begin (self->store) : NULL;
    if (!txn)
        return; //  no link: it re-registers and gets them then
    zlist_t *dispatches = zlist_new ();
    for (executor_active_t *active = (executor_active_t *)zhashx_first (self->actives);
         active; active = (executor_active_t *)zhashx_next (self->actives)) {
        const char *id = (const char *)zhashx_cursor (self->actives);
        char ref[512];
        proto_envelope_t *dispatch =
            active->status == EXECUTION_SCHEDULED && streq (active->worker, name) &&
                    executor_read (self, txn, id) == 0
                ? executor_dispatch_envelope (self,
                                              executor_action_of (self, ref, sizeof ref))
                : NULL;
        if (dispatch)
            zlist_append (dispatches, dispatch);
    }
    store_read_end (&txn);
    proto_envelope_t *dispatch;
    while ((dispatch = (proto_envelope_t *)zlist_pop (dispatches))) {
        //  The link keeps it until acked, resending; beyond its window we
        //  would block: the window (1024) is above any worker's slots.
        if (bus_link_send (wl->link, &dispatch) != 0)
            zsys_warning ("executor: dispatch to %s is waiting (link full)", name);
        proto_envelope_destroy (&dispatch);
    }
    zlist_destroy (&dispatches);
}

//  "a,b,c" from a registration's runtimes array.
static void
s_runtimes (const json_t *payload, char *runtimes, size_t size)
{
    runtimes[0] = 0;
    size_t i;
    json_t *runtime;
    json_array_foreach (json_object_get (payload, "runtimes"), i, runtime)
    {
        if (json_is_string (runtime)) {
            if (*runtimes)
                strncat (runtimes, ",", size - strlen (runtimes) - 1);
            strncat (runtimes, json_string_value (runtime), size - strlen (runtimes) - 1);
        }
    }
}

//  A new link to worker `name` (a new instance, or a new endpoint), in
//  place of the one it had. False when it cannot be made.
static bool
s_link_new (executor_t *self, const char *name, const char *endpoint, uint64_t instance,
            const json_t *payload)
{
    executor_link_t *fresh = (executor_link_t *)zmalloc (sizeof (executor_link_t));
    fresh->instance = instance;
    fresh->up = true;
    executor_copy (fresh->endpoint, sizeof fresh->endpoint, endpoint);
    char link_name[300];
    snprintf (link_name, sizeof link_name, "executor@%s", self->host);
    //  A CURVE worker endpoint: connect with the key it registered
    bus_link_config_t worker_config = self->link_config;
    const char *curve_key = json_string_value (json_object_get (payload, "curve_key"));
    snprintf (worker_config.curve_server_key, sizeof worker_config.curve_server_key, "%s",
              curve_key ? curve_key : "");
    fresh->link = bus_link_new (endpoint, link_name, &worker_config);
    if (!fresh->link) {
        zsys_error ("executor: cannot connect to worker %s at %s", name, endpoint);
        free (fresh);
        return false;
    }
    executor_copy (fresh->name, sizeof fresh->name, name);
    fresh->owner = self;
    bus_link_set_peer_handler (fresh->link, s_on_worker_peer, fresh);
    zhashx_update (self->links, name, fresh);
    self->poll_dirty = true;
    return true;
}

//  The link of a registering worker: kept, or new. *restarted when it is a
//  new instance of the worker. False when no link can be made.
static bool
s_link (executor_t *self, const char *name, const json_t *payload, bool *restarted)
{
    const char *endpoint = json_string_value (json_object_get (payload, "endpoint"));
    uint64_t instance =
        (uint64_t)json_integer_value (json_object_get (payload, "instance"));
    executor_link_t *wl = (executor_link_t *)zhashx_lookup (self->links, name);
    //  The instance it had: from its link, or, after this actor restarted,
    //  from the workers table as it was at start
    uint64_t *stored = (uint64_t *)zhashx_lookup (self->instances, name);
    *restarted = wl ? wl->instance != instance : stored && *stored != instance;
    if (stored)
        zhashx_delete (self->instances, name); //  the link knows from now on
    if (!wl || *restarted || !streq (wl->endpoint, endpoint))
        return s_link_new (self, name, endpoint, instance, payload);
    wl->up = true;
    return true;
}

//  worker.reconciled {worker, drop}: the answer a worker that may have been
//  given up on waits for before it starts anything again. Takes `drop`.
static void
s_reconciled (executor_t *self, const char *name, json_t *drop)
{
    executor_link_t *wl = (executor_link_t *)zhashx_lookup (self->links, name);
    json_t *answer = json_pack ("{s:s, s:o}", "worker", name, "drop", drop);
    proto_envelope_t *command = proto_envelope_new ("worker.reconciled", self->source);
    if (wl && command &&
        proto_envelope_set_payload_json (command, answer, NULL) == PROTO_OK &&
        bus_link_send (wl->link, &command) != 0)
        zsys_warning ("executor: worker.reconciled to %s is waiting (link full)", name);
    proto_envelope_destroy (&command);
    json_decref (answer);
}

void
executor_links_apply_worker (executor_t *self, json_t *payload)
{
    const char *name = json_string_value (json_object_get (payload, "worker"));
    int slots = (int)json_integer_value (json_object_get (payload, "slots"));
    char runtimes[512];
    s_runtimes (payload, runtimes, sizeof runtimes);
    bool restarted;
    if (!s_link (self, name, payload, &restarted))
        return;
    executor_worker_t *worker = executor_workers_find (self->workers, name);
    bool known = worker != NULL;
    bool was_up = worker && worker->alive;
    //  Dispatch window: a worker gets up to twice its slots, the second half
    //  waiting in its own FIFO, so a finished process is followed at once by
    //  the next instead of after a round trip through this actor (and its
    //  commit). The worker never runs more than `slots` at a time.
    worker = executor_workers_upsert (
        self->workers, name, json_string_value (json_object_get (payload, "endpoint")),
        runtimes, slots * EXECUTOR_PREFETCH, proto_now_usec ());
    if (!worker)
        return;
    if (!known) {
        //  After an executor restart: count what this worker already holds
        worker->busy = 0;
        for (executor_active_t *active =
                 (executor_active_t *)zhashx_first (self->actives);
             active; active = (executor_active_t *)zhashx_next (self->actives))
            if (streq (active->worker, name))
                worker->busy++;
    }
    if (!was_up || restarted) { //  a repeated registration changes nothing
        json_t *up = json_pack ("{s:s, s:O, s:i}", "worker", name, "runtimes",
                                json_object_get (payload, "runtimes"), "slots", slots);
        executor_publish (self, "worker.up", up);
        json_decref (up);
        zsys_info ("executor: worker %s up (%s, %d slots)", name, runtimes, slots);
    }
    //  A new instance lost what the old one ran; the same instance (we were
    //  the one restarting) still runs its executions: dispatch again only
    //  those it has not started (it ignores ids it already has).
    worker->draining = json_is_true (json_object_get (payload, "draining"));
    const json_t *held = json_object_get (payload, "executions");
    json_t *drop = json_array ();
    s_previous (self, name, payload);
    if (restarted)
        s_settle_worker (self, name, true);
    else if (json_is_array (held))
        s_reconcile (self, name, held, drop);
    else if (!known)
        s_redispatch (self, name);
    s_reconciled (self, name, drop);
}
