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

int
executor_links_register (executor_t *self, store_txn_t *txn, json_t *payload,
                         bus_command_t *info)
{
    const char *name = json_string_value (json_object_get (payload, "worker"));
    const char *endpoint = json_string_value (json_object_get (payload, "endpoint"));
    json_t *runtimes = json_object_get (payload, "runtimes");
    json_int_t slots = json_integer_value (json_object_get (payload, "slots"));
    if (!name || !*name || strlen (name) >= 256 || !endpoint ||
        strlen (endpoint) >= 512 || !json_is_array (runtimes) || slots < 1 ||
        slots > 100000)
        return bus_command_reject (
            info, "bad_request",
            "worker.register needs worker, endpoint, runtimes, slots");
    json_t *curve_key =
        json_object_get (payload, "curve_key"); //  optional (bus_security.h)
    if (curve_key && !bus_security_key_valid (json_string_value (curve_key)))
        return bus_command_reject (info, "bad_request",
                                   "worker.register: curve_key: expected a 40-character "
                                   "z85 CURVE public key");
    char *text = json_dumps (payload, JSON_COMPACT);
    store_code_t code =
        store_put (txn, self->workers_table, name, strlen (name), text, strlen (text));
    free (text);
    executor_effect_t *effect = executor_effect_new (self, EFFECT_WORKER);
    effect->payload = json_incref (payload);
    return code == STORE_OK ? 0 : -1;
}

//  worker.draining {worker, returned: [ids]}: the worker is stopping; it
//  takes nothing new, and the executions it had not started wait again,
//  first in line for the next worker.
int
executor_links_draining (executor_t *self, store_txn_t *txn, json_t *payload,
                         bus_command_t *info)
{
    const char *name = json_string_value (json_object_get (payload, "worker"));
    json_t *returned = json_object_get (payload, "returned");
    if (!name || !*name || strlen (name) >= 256 ||
        (returned && !json_is_array (returned)))
        return bus_command_reject (info, "bad_request",
                                   "worker.draining needs worker and returned [ids]");
    executor_effect_t *effect = executor_effect_new (self, EFFECT_DRAINING);
    executor_copy (effect->worker, sizeof effect->worker, name);
    int64_t now = proto_now_usec ();
    size_t i;
    json_t *item;
    json_array_foreach (returned, i, item)
    {
        const char *id = json_string_value (item);
        json_t *record = id && strlen (id) < EXECUTOR_ID_SIZE
                             ? executor_json_get (txn, self, id)
                             : NULL;
        if (!record)
            continue;
        const char *its = json_string_value (json_object_get (record, "worker"));
        int status = execution_status_parse (
            json_string_value (json_object_get (record, "status")));
        if (status == EXECUTION_SCHEDULED && its && streq (its, name)) {
            executor_set_status (record, EXECUTION_REQUESTED, now);
            json_object_set_new (record, "worker", json_null ());
            uint64_t key = 0;
            if (store_insert (txn, self->waiting, id, strlen (id), &key) != STORE_OK ||
                executor_json_put (txn, self, record) != 0) {
                json_decref (record);
                return -1;
            }
            executor_effect_t *release = executor_effect_new (self, EFFECT_RELEASE);
            executor_copy (release->worker, sizeof release->worker, name);
            executor_copy (release->id, sizeof release->id, id);
            executor_effect_t *wait = executor_effect_new (self, EFFECT_WAIT);
            executor_copy (wait->id, sizeof wait->id, id);
            snprintf (wait->runner, sizeof wait->runner, "%s",
                      json_string_value (json_object_get (record, "runner")) ?: "");
            wait->key = key;
            self->queued_in_batch = true;
            executor_fact_json (self, record);
        }
        json_decref (record);
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
    bool requeue_running; //  running ones never started: wait again
    zlist_t *done;        //  records changed (for facts)
    zlist_t *effects;     //  what policies did meanwhile (the next in line admitted)
} s_lost_t;

//  Executions of a lost worker: scheduled -> requested (waiting again);
//  running/pending/canceling -> abandoned (when abandon_running).
static int
s_apply_lost (store_txn_t *txn, void *arg)
{
    s_lost_t *lost = (s_lost_t *)arg;
    executor_t *self = lost->self;
    json_t *stale;
    while ((stale = (json_t *)zlist_pop (lost->done)))
        json_decref (stale); //  a retry starts over
    //  What the policies do when these end (admit the next in line) goes to
    //  this transaction's own effects, applied after its commit
    zlist_t *outer = self->effects;
    self->effects = lost->effects;
    executor_effects_clear (self);
    int64_t now = proto_now_usec ();
    for (char *id = (char *)zlist_first (lost->ids); id;
         id = (char *)zlist_next (lost->ids)) {
        json_t *record = executor_json_get (txn, self, id);
        if (!record)
            continue;
        int status = execution_status_parse (
            json_string_value (json_object_get (record, "status")));
        //  An action that says running it twice is harmless runs again
        const json_t *action =
            registry_client_get (self->registry, "action",
                                 json_string_value (json_object_get (record, "action")));
        bool rerun = status == EXECUTION_RUNNING && lost->abandon_running &&
                     !lost->requeue_running &&
                     json_is_true (json_object_get (action, "idempotent"));
        bool again = rerun || (status == EXECUTION_RUNNING && lost->requeue_running);
        if (status == EXECUTION_SCHEDULED || again) {
            executor_set_status (record, EXECUTION_REQUESTED, now);
            if (rerun)
                json_object_set_new (record, "redispatched",
                                     json_integer (json_integer_value (json_object_get (
                                                       record, "redispatched")) +
                                                   1));
            json_object_set_new (record, "worker", json_null ());
            uint64_t key;
            if (store_insert (txn, self->waiting, id, strlen (id), &key) != STORE_OK) {
                json_decref (record);
                self->effects = outer;
                return -1;
            }
            json_object_set_new (record, "__key", json_integer ((json_int_t)key));
        } else if (lost->abandon_running && status >= 0 &&
                   !execution_status_terminal ((execution_status_t)status) &&
                   status != EXECUTION_REQUESTED) {
            executor_set_status (record, EXECUTION_ABANDONED, now);
            json_object_set_new (record, "ended", json_integer (now));
            json_object_set_new (
                record, "result",
                json_pack ("{s:s}", "error", "the worker running it was lost"));
            store_del (txn, self->active, id, strlen (id));
            if (executor_policies_ended (
                    self, txn, id, json_string_value (json_object_get (record, "action")),
                    EXECUTION_ABANDONED) != 0) {
                json_decref (record);
                self->effects = outer;
                return -1;
            }
        } else {
            json_decref (record);
            continue;
        }
        json_t *key = json_incref (json_object_get (record, "__key"));
        json_object_del (record, "__key");
        if (executor_json_put (txn, self, record) != 0) {
            json_decref (key);
            json_decref (record);
            self->effects = outer;
            return -1;
        }
        if (key)
            json_object_set_new (record, "__key", key);
        zlist_append (lost->done, record);
    }
    self->effects = outer;
    return 0;
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
    lost.effects = zlist_new ();
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
        json_t *record;
        while ((record = (json_t *)zlist_pop (lost.done))) {
            const char *id = json_string_value (json_object_get (record, "id"));
            int status = execution_status_parse (
                json_string_value (json_object_get (record, "status")));
            json_t *key = json_object_get (record, "__key");
            if (code == STORE_OK) {
                executor_workers_release (self->workers, name);
                if (status == EXECUTION_REQUESTED) {
                    executor_active_t *active =
                        (executor_active_t *)zhashx_lookup (self->actives, id);
                    if (active) {
                        active->status = EXECUTION_REQUESTED;
                        active->worker[0] = 0;
                    }
                    executor_wait_t *wait =
                        (executor_wait_t *)zmalloc (sizeof (executor_wait_t));
                    executor_copy (wait->id, sizeof wait->id, id);
                    snprintf (wait->runner, sizeof wait->runner, "%s",
                              json_string_value (json_object_get (record, "runner"))
                                  ?: "");
                    wait->key = (uint64_t)json_integer_value (key);
                    zlistx_add_start (self->queue, wait); //  first in line again
                } else
                    zhashx_delete (self->actives, id);
                json_object_del (record, "__key");
                executor_fact_json (self, record);
            }
            json_decref (record);
        }
        //  Then what the policies did (the next in line admitted); nothing
        //  of it when the transaction failed
        executor_effect_t *effect;
        while ((effect = (executor_effect_t *)zlist_pop (lost.effects))) {
            if (code == STORE_OK)
                zlist_append (self->effects, effect);
            else
                executor_effect_destroy (&effect);
        }
    }
    zlist_destroy (&lost.ids);
    zlist_destroy (&lost.done);
    zlist_destroy (&lost.effects);
    executor_effects_apply (self);
}

static void
s_settle_worker (executor_t *self, const char *name, bool abandon_running)
{
    s_settle_worker_ids (self, name, abandon_running, NULL, false);
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
                 active->status == EXECUTION_CANCELING)
            zlist_append (lost, (void *)id);
    }
    for (const char *id = (const char *)zhashx_first (holds); id;
         id = (const char *)zhashx_next (holds)) {
        const char *key = (const char *)zhashx_cursor (holds);
        executor_active_t *active =
            (executor_active_t *)zhashx_lookup (self->actives, key);
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
    store_txn_t *txn = store_read_begin (self->store);
    if (!txn)
        return;
    zlist_t *records = zlist_new ();
    for (executor_active_t *active = (executor_active_t *)zhashx_first (self->actives);
         active; active = (executor_active_t *)zhashx_next (self->actives))
        if (active->status == EXECUTION_SCHEDULED && streq (active->worker, name)) {
            json_t *record = executor_json_get (
                txn, self, (const char *)zhashx_cursor (self->actives));
            if (record)
                zlist_append (records, record);
        }
    store_read_end (&txn);
    json_t *record;
    while ((record = (json_t *)zlist_pop (records))) {
        executor_dispatch_json (self, record);
        json_decref (record);
    }
    zlist_destroy (&records);
}

void
executor_links_apply_worker (executor_t *self, json_t *payload)
{
    const char *name = json_string_value (json_object_get (payload, "worker"));
    const char *endpoint = json_string_value (json_object_get (payload, "endpoint"));
    uint64_t instance =
        (uint64_t)json_integer_value (json_object_get (payload, "instance"));
    int slots = (int)json_integer_value (json_object_get (payload, "slots"));
    char runtimes[512] = "";
    size_t i;
    json_t *runtime;
    json_array_foreach (json_object_get (payload, "runtimes"), i, runtime)
    {
        if (json_is_string (runtime)) {
            if (*runtimes)
                strncat (runtimes, ",", sizeof runtimes - strlen (runtimes) - 1);
            strncat (runtimes, json_string_value (runtime),
                     sizeof runtimes - strlen (runtimes) - 1);
        }
    }
    executor_link_t *wl = (executor_link_t *)zhashx_lookup (self->links, name);
    //  The instance it had: from its link, or, after this actor restarted,
    //  from the workers table as it was at start
    uint64_t *stored = (uint64_t *)zhashx_lookup (self->instances, name);
    bool restarted = wl ? wl->instance != instance : stored && *stored != instance;
    if (stored)
        zhashx_delete (self->instances, name); //  the link knows from now on
    if (!wl || restarted || !streq (wl->endpoint, endpoint)) {
        executor_link_t *fresh = (executor_link_t *)zmalloc (sizeof (executor_link_t));
        fresh->instance = instance;
        fresh->up = true;
        executor_copy (fresh->endpoint, sizeof fresh->endpoint, endpoint);
        char link_name[300];
        snprintf (link_name, sizeof link_name, "executor@%s", self->host);
        //  A CURVE worker endpoint: connect with the key it registered
        bus_link_config_t worker_config = self->link_config;
        const char *curve_key =
            json_string_value (json_object_get (payload, "curve_key"));
        snprintf (worker_config.curve_server_key, sizeof worker_config.curve_server_key,
                  "%s", curve_key ? curve_key : "");
        fresh->link = bus_link_new (endpoint, link_name, &worker_config);
        if (!fresh->link) {
            zsys_error ("executor: cannot connect to worker %s at %s", name, endpoint);
            free (fresh);
            return;
        }
        executor_copy (fresh->name, sizeof fresh->name, name);
        fresh->owner = self;
        bus_link_set_peer_handler (fresh->link, s_on_worker_peer, fresh);
        zhashx_update (self->links, name, fresh);
    } else
        wl->up = true;
    executor_worker_t *worker = executor_workers_find (self->workers, name);
    bool known = worker != NULL;
    bool was_up = worker && worker->alive;
    //  Dispatch window: a worker gets up to twice its slots, the second half
    //  waiting in its own FIFO, so a finished process is followed at once by
    //  the next instead of after a round trip through this actor (and its
    //  commit). The worker never runs more than `slots` at a time.
    worker = executor_workers_upsert (self->workers, name, endpoint, runtimes,
                                      slots * EXECUTOR_PREFETCH, proto_now_usec ());
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
    //  The answer a worker that may have been given up on waits for before
    //  it starts anything again
    executor_link_t *wl_now = (executor_link_t *)zhashx_lookup (self->links, name);
    json_t *answer = json_pack ("{s:s, s:o}", "worker", name, "drop", drop);
    proto_envelope_t *command = proto_envelope_new ("worker.reconciled", self->source);
    if (wl_now && command &&
        proto_envelope_set_payload_json (command, answer, NULL) == PROTO_OK &&
        bus_link_send (wl_now->link, &command) != 0)
        zsys_warning ("executor: worker.reconciled to %s is waiting (link full)", name);
    proto_envelope_destroy (&command);
    json_decref (answer);
}
