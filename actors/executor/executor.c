/*  executor: executions, their lifecycle and their dispatch (executor.h).

    Retry safety: bus_inbox may run the handlers of a batch twice when the
    store grows its map. Handlers therefore change only the transaction and
    a list of effects (facts to publish, slots to release, workers to
    register); the effects are applied after the batch committed, and
    cleared when the first command of the batch is seen again (a retry).
*/
#include "actors/executor/executor.h"
#include "actors/executor/executor_status.h"
#include "actors/executor/executor_workers.h"
#include "actors/registry/registry_client.h"
#include "actors/registry/registry_params.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"
#include "store/store.h"

#include <inttypes.h>
#include <unistd.h>

#define S_SCHEDULE_MAX 1024 //  executions scheduled per transaction
#define S_ID_SIZE      40
#define S_PREFETCH     2 //  dispatch window, in multiples of a worker's slots

typedef enum {
    EFFECT_FACT,
    EFFECT_RELEASE,
    EFFECT_WORKER,
    EFFECT_WAIT,
    EFFECT_ACQUIRED, //  a slot taken in the handler: undone if the batch does not commit
    EFFECT_DISPATCH  //  payload: the scheduled record
} s_effect_kind_t;

typedef struct {
    s_effect_kind_t kind;
    char type[48];      //  fact type
    json_t *payload;    //  fact payload / worker registration
    char worker[256];   //  release: worker name
    char id[S_ID_SIZE]; //  wait: execution id
    char runner[32];    //  wait: runner
    uint64_t key;       //  wait: key in the waiting table
} s_effect_t;

typedef struct {
    bus_link_t *link;
    uint64_t instance;
    char endpoint[512];
    bool up;
    char name[256]; //  the worker's name
    struct _s_executor_t *owner;
} s_wlink_t;

typedef struct {
    char id[S_ID_SIZE];
    char runner[32];
    uint64_t key;
} s_wait_t;

typedef struct {
    char status; //  execution_status_t
    char worker[256];
} s_active_t;

typedef struct _s_executor_t {
    zsock_t *pipe;
    char host[256];
    char source[300];
    actor_config_t config;
    bus_link_config_t link_config;
    store_t *store;
    store_table_t *executions, *by_enforcement, *waiting, *active, *workers_table;
    bus_inbox_t *inbox;
    bus_pub_t *pub;
    registry_client_t *registry;
    executor_workers_t *workers;
    zhashx_t *links;     //  worker name -> s_wlink_t
    zhashx_t *actives;   //  execution id -> s_active_t
    zhashx_t *instances; //  worker name -> uint64_t instance, as stored at start
    zlistx_t *queue;     //  s_wait_t, FIFO
    zlist_t *effects;    //  s_effect_t of the batch being applied
    bool batch_open;
    bool queued_in_batch; //  an execution of this batch went to the waiting queue
    char first_peer[256];
    uint64_t first_epoch, first_seq;
    uint64_t created, ignored, duplicates, by_status[EXECUTION_STATUS_COUNT];
    bool terminated;
} s_executor_t;

//  ---------------------------------------------------------------------------
//  Small helpers

static void
s_effect_destroy (s_effect_t **effect_p)
{
    if (*effect_p) {
        json_decref ((*effect_p)->payload);
        free (*effect_p);
        *effect_p = NULL;
    }
}

static void
s_effects_clear (s_executor_t *self)
{
    s_effect_t *effect;
    while ((effect = (s_effect_t *)zlist_pop (self->effects))) {
        if (effect->kind == EFFECT_ACQUIRED)
            executor_workers_release (self->workers, effect->worker);
        s_effect_destroy (&effect);
    }
}

static s_effect_t *
s_effect (s_executor_t *self, s_effect_kind_t kind)
{
    s_effect_t *effect = (s_effect_t *)zmalloc (sizeof (s_effect_t));
    effect->kind = kind;
    zlist_append (self->effects, effect);
    return effect;
}

static json_t *
s_record_get (store_txn_t *txn, s_executor_t *self, const char *id)
{
    const void *data;
    size_t size;
    if (store_get (txn, self->executions, id, strlen (id), &data, &size) != STORE_OK)
        return NULL;
    return json_loadb ((const char *)data, size, 0, NULL);
}

static int
s_record_put (store_txn_t *txn, s_executor_t *self, const json_t *record)
{
    const char *id = json_string_value (json_object_get (record, "id"));
    char *text = json_dumps (record, JSON_COMPACT);
    if (!id || !text) {
        free (text);
        return -1;
    }
    store_code_t code =
        store_put (txn, self->executions, id, strlen (id), text, strlen (text));
    free (text);
    return code == STORE_OK ? 0 : -1;
}

static void
s_set_status (json_t *record, execution_status_t status, int64_t ts)
{
    json_object_set_new (record, "status", json_string (execution_status_name (status)));
    json_t *log = json_object_get (record, "log");
    if (!json_is_array (log)) {
        log = json_array ();
        json_object_set_new (record, "log", log);
    }
    json_array_append_new (log, json_pack ("{s:s, s:I}", "status",
                                           execution_status_name (status), "ts",
                                           (json_int_t)ts));
}

//  The fact for a record's current status (parameters masked).
static void
s_fact (s_executor_t *self, const json_t *record)
{
    const char *status = json_string_value (json_object_get (record, "status"));
    s_effect_t *effect = s_effect (self, EFFECT_FACT);
    snprintf (effect->type, sizeof effect->type, "execution.%s",
              status ? status : "unknown");
    json_t *payload = json_object ();
    const char *keys[] = {"action", "status", "worker",    "enforcement", "rule",
                          "event",  "result", "requested", "started",     "ended"};
    json_object_set (payload, "execution", json_object_get (record, "id"));
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *value = json_object_get (record, keys[i]);
        json_object_set (payload, keys[i], value ? value : json_null ());
    }
    const json_t *action = registry_client_get (
        self->registry, "action", json_string_value (json_object_get (record, "action")));
    json_object_set_new (payload, "parameters",
                         registry_params_mask (json_object_get (action, "parameters"),
                                               json_object_get (record, "parameters")));
    effect->payload = payload;
}

static void
s_publish (s_executor_t *self, const char *type, json_t *payload)
{
    proto_envelope_t *fact = proto_envelope_new (type, self->source);
    proto_error_t error;
    if (fact && proto_envelope_set_payload_json (fact, payload, &error) == PROTO_OK)
        bus_pub_send (self->pub, fact);
    else
        zsys_error ("executor: cannot publish %s: %s", type,
                    fact ? error.message : "no memory");
    proto_envelope_destroy (&fact);
}

//  ---------------------------------------------------------------------------
//  Workers and their links

static void s_worker_lost (s_executor_t *self, const char *name, const char *why);

static void
s_on_worker_peer (void *arg, const char *peer, bus_peer_event_t event)
{
    //  `peer` is our own link name; the argument says which worker it is
    s_wlink_t *wl = (s_wlink_t *)arg;
    if (event == BUS_PEER_UP)
        wl->up = true;
    else if (wl->up) {
        wl->up = false;
        char name[256];
        snprintf (name, sizeof name, "%s", wl->name);
        s_worker_lost (wl->owner, name, "stopped heartbeating");
    }
}

static void
s_wlink_destroy (void **item_p)
{
    s_wlink_t *wl = (s_wlink_t *)*item_p;
    if (wl) {
        bus_link_destroy (&wl->link);
        free (wl);
        *item_p = NULL;
    }
}

static void
s_dispatch (s_executor_t *self, const json_t *record)
{
    const char *worker = json_string_value (json_object_get (record, "worker"));
    s_wlink_t *wl = worker ? (s_wlink_t *)zhashx_lookup (self->links, worker) : NULL;
    if (!wl)
        return; //  it re-registers and gets it then
    const char *ref = json_string_value (json_object_get (record, "action"));
    const json_t *action = registry_client_get (self->registry, "action", ref);
    json_t *secret = json_array ();
    const char *name;
    json_t *schema;
    json_object_foreach (json_object_get (action, "parameters"), name, schema)
    {
        if (json_is_true (json_object_get (schema, "secret")))
            json_array_append_new (secret, json_string (name));
    }
    json_t *payload = json_pack (
        "{s:O, s:{s:s, s:s, s:s, s:s, s:O}, s:O, s:o}", "execution",
        json_object_get (record, "id"), "action", "ref", ref ? ref : "", "runner_type",
        json_string_value (json_object_get (record, "runner")) ?: "", "entry_point",
        json_string_value (json_object_get (action, "entry_point")) ?: "", "pack_dir",
        json_string_value (json_object_get (action, "pack_dir")) ?: "", "timeout",
        json_object_get (action, "timeout") ? json_object_get (action, "timeout")
                                            : json_null (),
        "parameters", json_object_get (record, "parameters"), "secret", secret);
    proto_envelope_t *command = proto_envelope_new ("execution.dispatch", self->source);
    proto_error_t error;
    if (payload && command &&
        proto_envelope_set_payload_json (command, payload, &error) == PROTO_OK) {
        //  The link keeps it until acked, resending; beyond its window we
        //  would block: the window (1024) is above any worker's slots.
        if (bus_link_send (wl->link, &command) != 0)
            zsys_warning ("executor: dispatch to %s is waiting (link full)", worker);
    }
    proto_envelope_destroy (&command);
    json_decref (payload);
}

//  ---------------------------------------------------------------------------
//  Command handlers (inside the batch transaction)

static int
s_enforcement (s_executor_t *self, store_txn_t *txn, json_t *payload, bus_command_t *info)
{
    const char *enforcement =
        json_string_value (json_object_get (payload, "enforcement"));
    const char *ref = json_string_value (json_object_get (payload, "action"));
    json_t *given = json_object_get (payload, "parameters");
    if (!enforcement || !*enforcement || strlen (enforcement) > 64 || !ref)
        return bus_command_reject (
            info, "bad_request",
            "enforcement.create needs enforcement and action strings");
    if (given && !json_is_object (given))
        return bus_command_reject (info, "bad_request", "parameters: expected a map");
    const void *data;
    size_t size;
    if (store_get (txn, self->by_enforcement, enforcement, strlen (enforcement), &data,
                   &size) == STORE_OK) {
        self->duplicates++;
        return 0; //  one execution per enforcement
    }
    uint8_t uuid[PROTO_UUID_SIZE];
    char id[PROTO_UUID_STR_SIZE];
    proto_uuid_generate (uuid);
    proto_uuid_format (uuid, id);
    int64_t now = proto_now_usec ();
    json_t *record =
        json_pack ("{s:s, s:s, s:O, s:O, s:O, s:n, s:I, s:[]}", "id", id, "action", ref,
                   "enforcement", json_object_get (payload, "enforcement"), "rule",
                   json_object_get (payload, "rule") ?: json_null (), "event",
                   json_object_get (payload, "event") ?: json_null (), "worker",
                   "requested", (json_int_t)now, "log");
    const json_t *action = registry_client_get (self->registry, "action", ref);
    char reason[512] = "";
    json_t *parameters = NULL;
    if (!action)
        snprintf (reason, sizeof reason, "action '%s' does not exist", ref);
    else if (json_is_false (json_object_get (action, "enabled")))
        snprintf (reason, sizeof reason, "action '%s' is disabled", ref);
    else
        parameters = registry_params_apply (json_object_get (action, "parameters"), given,
                                            reason, sizeof reason);
    const char *runner = json_string_value (json_object_get (action, "runner_type"));
    json_object_set_new (record, "runner", json_string (runner ? runner : ""));
    json_object_set_new (record, "parameters",
                         parameters ? parameters
                                    : json_deep_copy (given ? given : json_object ()));
    s_set_status (record, EXECUTION_REQUESTED, now);
    s_fact (self, record);
    int rc = 0;
    if (!parameters) {
        s_set_status (record, EXECUTION_FAILED, now);
        json_object_set_new (record, "ended", json_integer (now));
        json_object_set_new (record, "result", json_pack ("{s:s}", "error", reason));
        s_fact (self, record);
    } else {
        //  Nothing waiting ahead of it and a worker free: scheduled in this
        //  same transaction (one commit, not two); otherwise it waits in
        //  arrival order.
        executor_worker_t *worker =
            zlistx_size (self->queue) == 0 && !self->queued_in_batch
                ? executor_workers_pick (self->workers, runner ? runner : "")
                : NULL;
        if (store_put (txn, self->active, id, strlen (id), "", 0) != STORE_OK)
            rc = -1;
        if (worker) {
            executor_workers_acquire (self->workers, worker);
            s_effect_t *acquired = s_effect (self, EFFECT_ACQUIRED);
            snprintf (acquired->worker, sizeof acquired->worker, "%s", worker->name);
            snprintf (acquired->id, sizeof acquired->id, "%s", id);
            s_set_status (record, EXECUTION_SCHEDULED, now);
            json_object_set_new (record, "worker", json_string (worker->name));
            s_fact (self, record);
            s_effect_t *dispatch = s_effect (self, EFFECT_DISPATCH);
            dispatch->payload = json_deep_copy (record);
        } else {
            uint64_t key = 0;
            if (store_insert (txn, self->waiting, id, strlen (id), &key) != STORE_OK)
                rc = -1;
            s_effect_t *effect = s_effect (self, EFFECT_WAIT);
            snprintf (effect->id, sizeof effect->id, "%s", id);
            snprintf (effect->runner, sizeof effect->runner, "%s", runner ? runner : "");
            effect->key = key;
            self->queued_in_batch = true;
        }
    }
    if (rc == 0 && (s_record_put (txn, self, record) != 0 ||
                    store_put (txn, self->by_enforcement, enforcement,
                               strlen (enforcement), id, strlen (id)) != STORE_OK))
        rc = -1;
    json_decref (record);
    return rc;
}

static int
s_status_report (s_executor_t *self, store_txn_t *txn, json_t *payload,
                 bus_command_t *info)
{
    const char *id = json_string_value (json_object_get (payload, "execution"));
    const char *name = json_string_value (json_object_get (payload, "status"));
    const char *worker = json_string_value (json_object_get (payload, "worker"));
    int status = name ? execution_status_parse (name) : -1;
    if (!id || strlen (id) >= S_ID_SIZE || status < 0)
        return bus_command_reject (info, "bad_request",
                                   "execution.status needs execution and a known status");
    json_t *record = s_record_get (txn, self, id);
    if (!record) {
        self->ignored++;
        return 0;
    }
    int current =
        execution_status_parse (json_string_value (json_object_get (record, "status")));
    const char *assigned = json_string_value (json_object_get (record, "worker"));
    //  Only the worker it was given to may report on it (a late report from a
    //  worker it was taken from changes nothing)
    if (current < 0 || !execution_status_allowed ((execution_status_t)current, status) ||
        (worker && assigned && !streq (worker, assigned))) {
        self->ignored++;
        json_decref (record);
        return 0;
    }
    int64_t now = proto_now_usec ();
    s_set_status (record, (execution_status_t)status, now);
    if (status == EXECUTION_RUNNING)
        json_object_set_new (record, "started", json_integer (now));
    if (execution_status_terminal ((execution_status_t)status)) {
        if (!json_is_integer (json_object_get (record, "started")))
            json_object_set_new (record, "started", json_integer (now));
        json_object_set_new (record, "ended", json_integer (now));
        json_t *result = json_object_get (payload, "result");
        json_object_set (record, "result", result ? result : json_null ());
        store_del (txn, self->active, id, strlen (id));
        if (assigned) {
            s_effect_t *effect = s_effect (self, EFFECT_RELEASE);
            snprintf (effect->worker, sizeof effect->worker, "%s", assigned);
            snprintf (effect->id, sizeof effect->id, "%s", id);
        }
    } else {
        s_effect_t *effect = s_effect (self, EFFECT_RELEASE);
        effect->worker[0] = 0; //  status change only: update the memory mirror
        snprintf (effect->id, sizeof effect->id, "%s", id);
        snprintf (effect->runner, sizeof effect->runner, "%d", status);
    }
    s_fact (self, record);
    int rc = s_record_put (txn, self, record);
    json_decref (record);
    return rc;
}

static int
s_register (s_executor_t *self, store_txn_t *txn, json_t *payload, bus_command_t *info)
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
    char *text = json_dumps (payload, JSON_COMPACT);
    store_code_t code =
        store_put (txn, self->workers_table, name, strlen (name), text, strlen (text));
    free (text);
    s_effect_t *effect = s_effect (self, EFFECT_WORKER);
    effect->payload = json_incref (payload);
    return code == STORE_OK ? 0 : -1;
}

static int
s_handle_command (void *arg, store_txn_t *txn, proto_envelope_t *command,
                  bus_command_t *info)
{
    s_executor_t *self = (s_executor_t *)arg;
    //  A retry of the same batch starts again from its first command
    if (!self->batch_open) {
        self->batch_open = true;
        snprintf (self->first_peer, sizeof self->first_peer, "%s", info->peer);
        self->first_epoch = info->epoch;
        self->first_seq = info->seq;
    } else if (info->seq == self->first_seq && info->epoch == self->first_epoch &&
               streq (info->peer, self->first_peer)) {
        s_effects_clear (self);
        self->queued_in_batch = false;
    }
    const char *type = proto_envelope_type (command);
    proto_error_t error;
    json_t *payload = proto_envelope_payload_json (command, &error);
    if (!payload)
        return bus_command_reject (info, "bad_request", "payload: %s", error.message);
    int rc;
    if (streq (type, "enforcement.create"))
        rc = s_enforcement (self, txn, payload, info);
    else if (streq (type, "execution.status"))
        rc = s_status_report (self, txn, payload, info);
    else if (streq (type, "worker.register"))
        rc = s_register (self, txn, payload, info);
    else
        rc = bus_command_reject (info, "unknown_type", "the executor does not take '%s'",
                                 type);
    json_decref (payload);
    return rc;
}

//  ---------------------------------------------------------------------------
//  After a batch committed: apply its effects

static void s_apply_worker (s_executor_t *self, json_t *payload);

static void
s_apply_effects (s_executor_t *self)
{
    s_effect_t *effect;
    while ((effect = (s_effect_t *)zlist_pop (self->effects))) {
        switch (effect->kind) {
            case EFFECT_FACT: {
                s_publish (self, effect->type, effect->payload);
                int status =
                    execution_status_parse (effect->type + strlen ("execution."));
                if (status >= 0)
                    self->by_status[status]++;
                if (status == EXECUTION_REQUESTED)
                    self->created++;
                break;
            }
            case EFFECT_WAIT: {
                s_wait_t *wait = (s_wait_t *)zmalloc (sizeof (s_wait_t));
                snprintf (wait->id, sizeof wait->id, "%s", effect->id);
                snprintf (wait->runner, sizeof wait->runner, "%s", effect->runner);
                wait->key = effect->key;
                zlistx_add_end (self->queue, wait);
                s_active_t *active = (s_active_t *)zmalloc (sizeof (s_active_t));
                active->status = EXECUTION_REQUESTED;
                zhashx_update (self->actives, effect->id, active);
                break;
            }
            case EFFECT_RELEASE:
                if (effect->worker[0]) {
                    executor_workers_release (self->workers, effect->worker);
                    zhashx_delete (self->actives, effect->id);
                } else {
                    s_active_t *active =
                        (s_active_t *)zhashx_lookup (self->actives, effect->id);
                    if (active)
                        active->status = (char)atoi (effect->runner);
                }
                break;
            case EFFECT_WORKER:
                s_apply_worker (self, effect->payload);
                break;
            case EFFECT_ACQUIRED: {
                //  The slot stays taken; the execution is active on that worker
                s_active_t *active = (s_active_t *)zmalloc (sizeof (s_active_t));
                active->status = EXECUTION_SCHEDULED;
                snprintf (active->worker, sizeof active->worker, "%s", effect->worker);
                zhashx_update (self->actives, effect->id, active);
                break;
            }
            case EFFECT_DISPATCH:
                s_dispatch (self, effect->payload);
                break;
        }
        s_effect_destroy (&effect);
    }
}

//  ---------------------------------------------------------------------------
//  Scheduling: waiting -> scheduled, in its own transaction

typedef struct {
    s_executor_t *self;
    s_wait_t *items[S_SCHEDULE_MAX];
    char workers[S_SCHEDULE_MAX][256];
    size_t count;
    json_t *records[S_SCHEDULE_MAX];
} s_plan_t;

static int
s_apply_plan (store_txn_t *txn, void *arg)
{
    s_plan_t *plan = (s_plan_t *)arg;
    s_executor_t *self = plan->self;
    int64_t now = proto_now_usec ();
    for (size_t i = 0; i < plan->count; i++) {
        json_decref (plan->records[i]); //  a retry starts over
        plan->records[i] = NULL;
        s_wait_t *wait = plan->items[i];
        json_t *record = s_record_get (txn, self, wait->id);
        store_del_id (txn, self->waiting, wait->key);
        if (!record)
            continue;
        int status = execution_status_parse (
            json_string_value (json_object_get (record, "status")));
        if (status != EXECUTION_REQUESTED) {
            json_decref (record);
            continue;
        }
        s_set_status (record, EXECUTION_SCHEDULED, now);
        json_object_set_new (record, "worker", json_string (plan->workers[i]));
        if (s_record_put (txn, self, record) != 0) {
            json_decref (record);
            return -1;
        }
        plan->records[i] = record;
    }
    return 0;
}

static void
s_schedule (s_executor_t *self)
{
    if (zlistx_size (self->queue) == 0 || executor_workers_count (self->workers) == 0)
        return;
    s_plan_t *plan = (s_plan_t *)zmalloc (sizeof (s_plan_t));
    plan->self = self;
    //  Arrival order; an execution no worker can take now does not hold up
    //  the others (another runner may be free)
    for (s_wait_t *wait = (s_wait_t *)zlistx_first (self->queue);
         wait && plan->count < S_SCHEDULE_MAX;
         wait = (s_wait_t *)zlistx_next (self->queue)) {
        executor_worker_t *worker = executor_workers_pick (self->workers, wait->runner);
        if (!worker)
            continue;
        executor_workers_acquire (self->workers, worker);
        snprintf (plan->workers[plan->count], 256, "%s", worker->name);
        plan->items[plan->count++] = wait;
    }
    if (plan->count == 0) {
        free (plan);
        return;
    }
    store_code_t code = store_write (self->store, s_apply_plan, plan);
    for (size_t i = 0; i < plan->count; i++) {
        s_wait_t *wait = plan->items[i];
        if (code != STORE_OK || !plan->records[i]) {
            executor_workers_release (self->workers, plan->workers[i]);
            if (code != STORE_OK)
                continue; //  stays waiting; tried again next round
        } else {
            s_active_t *active = (s_active_t *)zhashx_lookup (self->actives, wait->id);
            if (active) {
                active->status = EXECUTION_SCHEDULED;
                snprintf (active->worker, sizeof active->worker, "%s", plan->workers[i]);
            }
            s_dispatch (self, plan->records[i]);
            s_fact (self, plan->records[i]);
            json_decref (plan->records[i]);
        }
        void *handle = zlistx_find (self->queue, wait);
        if (handle)
            zlistx_delete (self->queue, handle);
    }
    if (code != STORE_OK)
        zsys_error ("executor: cannot schedule: %s", store_last_error (self->store));
    free (plan);
    s_apply_effects (self); //  the scheduled facts
}

//  ---------------------------------------------------------------------------
//  Workers coming and going

typedef struct {
    s_executor_t *self;
    zlist_t *ids;
    const char *worker;
    bool abandon_running;
    zlist_t *done; //  records changed (for facts)
} s_lost_t;

//  Executions of a lost worker: scheduled -> requested (waiting again);
//  running/pending/canceling -> abandoned (when abandon_running).
static int
s_apply_lost (store_txn_t *txn, void *arg)
{
    s_lost_t *lost = (s_lost_t *)arg;
    s_executor_t *self = lost->self;
    json_t *stale;
    while ((stale = (json_t *)zlist_pop (lost->done)))
        json_decref (stale); //  a retry starts over
    int64_t now = proto_now_usec ();
    for (char *id = (char *)zlist_first (lost->ids); id;
         id = (char *)zlist_next (lost->ids)) {
        json_t *record = s_record_get (txn, self, id);
        if (!record)
            continue;
        int status = execution_status_parse (
            json_string_value (json_object_get (record, "status")));
        if (status == EXECUTION_SCHEDULED) {
            s_set_status (record, EXECUTION_REQUESTED, now);
            json_object_set_new (record, "worker", json_null ());
            uint64_t key;
            if (store_insert (txn, self->waiting, id, strlen (id), &key) != STORE_OK) {
                json_decref (record);
                return -1;
            }
            json_object_set_new (record, "__key", json_integer ((json_int_t)key));
        } else if (lost->abandon_running && status >= 0 &&
                   !execution_status_terminal ((execution_status_t)status) &&
                   status != EXECUTION_REQUESTED) {
            s_set_status (record, EXECUTION_ABANDONED, now);
            json_object_set_new (record, "ended", json_integer (now));
            json_object_set_new (
                record, "result",
                json_pack ("{s:s}", "error", "the worker running it was lost"));
            store_del (txn, self->active, id, strlen (id));
        } else {
            json_decref (record);
            continue;
        }
        json_t *key = json_incref (json_object_get (record, "__key"));
        json_object_del (record, "__key");
        if (s_record_put (txn, self, record) != 0) {
            json_decref (key);
            json_decref (record);
            return -1;
        }
        if (key)
            json_object_set_new (record, "__key", key);
        zlist_append (lost->done, record);
    }
    return 0;
}

static void
s_settle_worker (s_executor_t *self, const char *name, bool abandon_running)
{
    s_lost_t lost = {.self = self, .worker = name, .abandon_running = abandon_running};
    lost.ids = zlist_new ();
    zlist_autofree (lost.ids);
    lost.done = zlist_new ();
    for (s_active_t *active = (s_active_t *)zhashx_first (self->actives); active;
         active = (s_active_t *)zhashx_next (self->actives))
        if (streq (active->worker, name))
            zlist_append (lost.ids, (void *)zhashx_cursor (self->actives));
    if (zlist_size (lost.ids)) {
        store_code_t code = store_write (self->store, s_apply_lost, &lost);
        if (code != STORE_OK)
            zsys_error ("executor: cannot settle the executions of %s: %s", name,
                        store_last_error (self->store));
        json_t *record;
        while ((record = (json_t *)zlist_pop (lost.done))) {
            const char *id = json_string_value (json_object_get (record, "id"));
            int status = execution_status_parse (
                json_string_value (json_object_get (record, "status")));
            json_t *key = json_object_get (record, "__key");
            if (code == STORE_OK) {
                executor_workers_release (self->workers, name);
                if (status == EXECUTION_REQUESTED) {
                    s_active_t *active = (s_active_t *)zhashx_lookup (self->actives, id);
                    if (active) {
                        active->status = EXECUTION_REQUESTED;
                        active->worker[0] = 0;
                    }
                    s_wait_t *wait = (s_wait_t *)zmalloc (sizeof (s_wait_t));
                    snprintf (wait->id, sizeof wait->id, "%s", id);
                    snprintf (wait->runner, sizeof wait->runner, "%s",
                              json_string_value (json_object_get (record, "runner"))
                                  ?: "");
                    wait->key = (uint64_t)json_integer_value (key);
                    zlistx_add_start (self->queue, wait); //  first in line again
                } else
                    zhashx_delete (self->actives, id);
                json_object_del (record, "__key");
                s_fact (self, record);
            }
            json_decref (record);
        }
    }
    zlist_destroy (&lost.ids);
    zlist_destroy (&lost.done);
    s_apply_effects (self);
}

static void
s_worker_lost (s_executor_t *self, const char *name, const char *why)
{
    executor_worker_t *worker = executor_workers_find (self->workers, name);
    if (!worker || !worker->alive)
        return;
    zsys_warning ("executor: worker %s %s: settling its executions", name, why);
    worker->alive = false;
    json_t *payload = json_pack ("{s:s, s:[], s:i}", "worker", name, "runtimes", "slots",
                                 worker->slots);
    s_publish (self, "worker.down", payload);
    json_decref (payload);
    s_settle_worker (self, name, true);
}

//  This actor restarted and a worker it had given executions to is still
//  the same instance: send it again those it may not have received (it
//  drops ids it already holds). They stay with that worker: another one
//  could run what this one has queued.
static void
s_redispatch (s_executor_t *self, const char *name)
{
    store_txn_t *txn = store_read_begin (self->store);
    if (!txn)
        return;
    zlist_t *records = zlist_new ();
    for (s_active_t *active = (s_active_t *)zhashx_first (self->actives); active;
         active = (s_active_t *)zhashx_next (self->actives))
        if (active->status == EXECUTION_SCHEDULED && streq (active->worker, name)) {
            json_t *record =
                s_record_get (txn, self, (const char *)zhashx_cursor (self->actives));
            if (record)
                zlist_append (records, record);
        }
    store_read_end (&txn);
    json_t *record;
    while ((record = (json_t *)zlist_pop (records))) {
        s_dispatch (self, record);
        json_decref (record);
    }
    zlist_destroy (&records);
}

static void
s_apply_worker (s_executor_t *self, json_t *payload)
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
    s_wlink_t *wl = (s_wlink_t *)zhashx_lookup (self->links, name);
    //  The instance it had: from its link, or, after this actor restarted,
    //  from the workers table as it was at start
    uint64_t *stored = (uint64_t *)zhashx_lookup (self->instances, name);
    bool restarted = wl ? wl->instance != instance : stored && *stored != instance;
    if (stored)
        zhashx_delete (self->instances, name); //  the link knows from now on
    if (!wl || restarted || !streq (wl->endpoint, endpoint)) {
        s_wlink_t *fresh = (s_wlink_t *)zmalloc (sizeof (s_wlink_t));
        fresh->instance = instance;
        fresh->up = true;
        snprintf (fresh->endpoint, sizeof fresh->endpoint, "%s", endpoint);
        char link_name[300];
        snprintf (link_name, sizeof link_name, "executor@%s", self->host);
        fresh->link = bus_link_new (endpoint, link_name, &self->link_config);
        if (!fresh->link) {
            zsys_error ("executor: cannot connect to worker %s at %s", name, endpoint);
            free (fresh);
            return;
        }
        snprintf (fresh->name, sizeof fresh->name, "%s", name);
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
                                      slots * S_PREFETCH, proto_now_usec ());
    if (!worker)
        return;
    if (!known) {
        //  After an executor restart: count what this worker already holds
        worker->busy = 0;
        for (s_active_t *active = (s_active_t *)zhashx_first (self->actives); active;
             active = (s_active_t *)zhashx_next (self->actives))
            if (streq (active->worker, name))
                worker->busy++;
    }
    if (!was_up || restarted) { //  a repeated registration changes nothing
        json_t *up = json_pack ("{s:s, s:O, s:i}", "worker", name, "runtimes",
                                json_object_get (payload, "runtimes"), "slots", slots);
        s_publish (self, "worker.up", up);
        json_decref (up);
        zsys_info ("executor: worker %s up (%s, %d slots)", name, runtimes, slots);
    }
    //  A new instance lost what the old one ran; the same instance (we were
    //  the one restarting) still runs its executions: dispatch again only
    //  those it has not started (it ignores ids it already has).
    if (restarted)
        s_settle_worker (self, name, true);
    else if (!known)
        s_redispatch (self, name);
}

//  ---------------------------------------------------------------------------
//  Start-up: memory mirrors from the store

static int
s_load (s_executor_t *self)
{
    store_txn_t *txn = store_read_begin (self->store);
    if (!txn)
        return -1;
    store_cursor_t *cursor = store_cursor_new (txn, self->active);
    while (cursor && store_cursor_next (cursor) == STORE_OK) {
        size_t size;
        const char *key = (const char *)store_cursor_key (cursor, &size);
        char id[S_ID_SIZE];
        snprintf (id, sizeof id, "%.*s", (int)(size < S_ID_SIZE ? size : S_ID_SIZE - 1),
                  key);
        json_t *record = s_record_get (txn, self, id);
        if (!record)
            continue;
        s_active_t *active = (s_active_t *)zmalloc (sizeof (s_active_t));
        active->status = (char)execution_status_parse (
            json_string_value (json_object_get (record, "status")));
        const char *worker = json_string_value (json_object_get (record, "worker"));
        snprintf (active->worker, sizeof active->worker, "%s", worker ? worker : "");
        zhashx_update (self->actives, id, active);
        json_decref (record);
    }
    store_cursor_destroy (&cursor);
    cursor = store_cursor_new (txn, self->workers_table);
    while (cursor && store_cursor_next (cursor) == STORE_OK) {
        size_t key_size, size;
        const char *key = (const char *)store_cursor_key (cursor, &key_size);
        const char *data = (const char *)store_cursor_data (cursor, &size);
        json_t *registration = json_loadb (data, size, 0, NULL);
        if (registration && key_size < 256) {
            char name[256];
            snprintf (name, sizeof name, "%.*s", (int)key_size, key);
            uint64_t *instance = (uint64_t *)zmalloc (sizeof (uint64_t));
            *instance =
                (uint64_t)json_integer_value (json_object_get (registration, "instance"));
            zhashx_update (self->instances, name, instance);
        }
        json_decref (registration);
    }
    store_cursor_destroy (&cursor);
    cursor = store_cursor_new (txn, self->waiting);
    while (cursor && store_cursor_next (cursor) == STORE_OK) {
        size_t size;
        const char *data = (const char *)store_cursor_data (cursor, &size);
        s_wait_t *wait = (s_wait_t *)zmalloc (sizeof (s_wait_t));
        snprintf (wait->id, sizeof wait->id, "%.*s",
                  (int)(size < S_ID_SIZE ? size : S_ID_SIZE - 1), data);
        wait->key = store_cursor_id (cursor);
        json_t *record = s_record_get (txn, self, wait->id);
        snprintf (wait->runner, sizeof wait->runner, "%s",
                  record ? json_string_value (json_object_get (record, "runner")) ?: ""
                         : "");
        json_decref (record);
        zlistx_add_end (self->queue, wait);
    }
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    if (zhashx_size (self->actives))
        zsys_info ("executor: %zu executions in progress, %zu waiting for a worker",
                   zhashx_size (self->actives), zlistx_size (self->queue));
    return 0;
}

//  ---------------------------------------------------------------------------
//  Actor

static void
s_handle_pipe (s_executor_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else if (streq (command, "STATUS")) {
        json_t *by_status = json_object ();
        for (int s = 0; s < EXECUTION_STATUS_COUNT; s++)
            json_object_set_new (by_status, execution_status_name ((execution_status_t)s),
                                 json_integer ((json_int_t)self->by_status[s]));
        json_t *status = json_pack (
            "{s:I, s:I, s:I, s:I, s:o, s:I, s:I}", "executions",
            (json_int_t)self->created, "active", (json_int_t)zhashx_size (self->actives),
            "waiting", (json_int_t)zlistx_size (self->queue), "workers",
            (json_int_t)executor_workers_count (self->workers), "by_status", by_status,
            "ignored_status", (json_int_t)self->ignored, "duplicates",
            (json_int_t)self->duplicates);
        actor_reply_json (self->pipe, &status);
    }
    zstr_free (&command);
}

static void
s_destroy (s_executor_t *self)
{
    zhashx_destroy (&self->links);
    zhashx_destroy (&self->actives);
    zhashx_destroy (&self->instances);
    zlistx_destroy (&self->queue);
    if (self->effects) {
        s_effects_clear (self);
        zlist_destroy (&self->effects);
    }
    executor_workers_destroy (&self->workers);
    registry_client_destroy (&self->registry);
    bus_inbox_destroy (&self->inbox);
    bus_pub_destroy (&self->pub);
    store_close (&self->store);
}

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static int
s_start (s_executor_t *self, const actor_config_t *config)
{
    self->config = *config;
    actor_host (config, self->host, sizeof self->host);
    snprintf (self->source, sizeof self->source, "executor@%s", self->host);
    actor_link_config (config, &self->link_config);
    self->workers = executor_workers_new ();
    self->links = zhashx_new ();
    self->actives = zhashx_new ();
    self->instances = zhashx_new ();
    self->queue = zlistx_new ();
    self->effects = zlist_new ();
    if (!self->workers || !self->links || !self->actives || !self->queue ||
        !self->effects)
        return -1;
    zhashx_set_destructor (self->links, s_wlink_destroy);
    zhashx_set_destructor (self->actives, s_free_item);
    zhashx_set_destructor (self->instances, s_free_item);
    zlistx_set_destructor (self->queue, s_free_item);

    char dir[4096], message[512];
    snprintf (dir, sizeof dir, "%s/executor", config->data_dir ? config->data_dir : ".");
    store_config_t store_config = {.nosync = config->nosync};
    store_code_t code;
    self->store = store_open (dir, &store_config, &code, message, sizeof message);
    if (!self->store) {
        zsys_error ("executor: %s", message);
        return -1;
    }
    self->executions = store_table (self->store, "executions", false);
    self->by_enforcement = store_table (self->store, "by_enforcement", false);
    self->waiting = store_table (self->store, "waiting", false);
    self->active = store_table (self->store, "active", false);
    self->workers_table = store_table (self->store, "workers", false);
    if (!self->executions || !self->by_enforcement || !self->waiting || !self->active ||
        !self->workers_table) {
        zsys_error ("executor: %s", store_last_error (self->store));
        return -1;
    }
    if (s_load (self) != 0)
        return -1;
    self->registry = registry_client_new (config->topology, self->source);
    self->pub = bus_pub_new (bus_topology_bind (config->topology, "executor.facts"), 0);
    if (!self->registry || !self->pub)
        return -1;
    //  Definitions first: an enforcement needs its action's schema
    if (registry_client_wait_synced (self->registry, 30000) != 0)
        zsys_warning ("executor: no registry snapshot yet; commands wait for it");
    self->inbox =
        bus_inbox_new (bus_topology_bind (config->topology, "executor.commands"),
                       "executor", self->store, &self->link_config);
    if (!self->inbox)
        return -1;
    return 0;
}

void
executor_actor (zsock_t *pipe, void *args)
{
    s_executor_t *self = (s_executor_t *)zmalloc (sizeof (s_executor_t));
    self->pipe = pipe;
    if (s_start (self, (actor_config_t *)args) != 0) {
        s_destroy (self);
        free (self);
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    zmq_pollitem_t *items = NULL;
    s_wlink_t **owners = NULL;
    size_t capacity = 0;
    while (!self->terminated) {
        size_t needed = 4 + zhashx_size (self->links);
        if (needed > capacity) {
            capacity = needed * 2;
            items = (zmq_pollitem_t *)realloc (items, capacity * sizeof (zmq_pollitem_t));
            owners = (s_wlink_t **)realloc (owners, capacity * sizeof (s_wlink_t *));
            assert (items && owners);
        }
        size_t n = 0;
        items[n++] = (zmq_pollitem_t){zsock_resolve (pipe), 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){
            zsock_resolve (registry_client_sub_sock (self->registry)), 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){
            zsock_resolve (registry_client_snapshot_sock (self->registry)), 0, ZMQ_POLLIN,
            0};
        bool synced = registry_client_synced (self->registry);
        //  Until the definitions are here, commands wait in the senders' links
        items[n++] = (zmq_pollitem_t){zsock_resolve (bus_inbox_sock (self->inbox)), 0,
                                      (short)(synced ? ZMQ_POLLIN : 0), 0};
        int timeout = bus_inbox_timeout (self->inbox);
        for (s_wlink_t *wl = (s_wlink_t *)zhashx_first (self->links); wl;
             wl = (s_wlink_t *)zhashx_next (self->links)) {
            owners[n] = wl;
            items[n++] = (zmq_pollitem_t){zsock_resolve (bus_link_sock (wl->link)), 0,
                                          ZMQ_POLLIN, 0};
            int t = bus_link_timeout (wl->link);
            if (t >= 0 && (timeout < 0 || t < timeout))
                timeout = t;
        }
        int t = registry_client_timeout (self->registry);
        if (t >= 0 && (timeout < 0 || t < timeout))
            timeout = t;
        if (zmq_poll (items, (int)n, timeout < 0 ? 1000 : timeout) == -1 &&
            zmq_errno () == ETERM)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            s_handle_pipe (self);
        if (items[1].revents & ZMQ_POLLIN)
            registry_client_handle (self->registry,
                                    registry_client_sub_sock (self->registry));
        if (items[2].revents & ZMQ_POLLIN)
            registry_client_handle (self->registry,
                                    registry_client_snapshot_sock (self->registry));
        for (size_t i = 4; i < n; i++)
            if (items[i].revents & ZMQ_POLLIN)
                bus_link_handle (owners[i]->link);
        if (items[3].revents & ZMQ_POLLIN) {
            self->batch_open = false;
            self->queued_in_batch = false;
            int delivered = bus_inbox_process (self->inbox, s_handle_command, self);
            self->batch_open = false;
            self->queued_in_batch = false;
            if (delivered < 0)
                s_effects_clear (self); //  nothing committed: senders resend
            else
                s_apply_effects (self);
        }
        s_schedule (self);
        registry_client_tick (self->registry);
        bus_inbox_tick (self->inbox);
        for (s_wlink_t *wl = (s_wlink_t *)zhashx_first (self->links); wl;
             wl = (s_wlink_t *)zhashx_next (self->links))
            bus_link_tick (wl->link);
    }
    free (items);
    free (owners);
    s_destroy (self);
    free (self);
}

//  ---------------------------------------------------------------------------
//  Reading a closed store

int
executor_store_scan (const char *data_dir, executor_record_fn *fn, void *arg)
{
    char dir[4096], message[512];
    snprintf (dir, sizeof dir, "%s/executor", data_dir);
    store_code_t code;
    store_t *store = store_open (dir, NULL, &code, message, sizeof message);
    if (!store)
        return -1;
    store_table_t *executions = store_table (store, "executions", false);
    int count = -1;
    store_txn_t *txn = executions ? store_read_begin (store) : NULL;
    if (txn) {
        count = 0;
        store_cursor_t *cursor = store_cursor_new (txn, executions);
        while (cursor && store_cursor_next (cursor) == STORE_OK) {
            size_t size;
            const char *data = (const char *)store_cursor_data (cursor, &size);
            json_t *record = json_loadb (data, size, 0, NULL);
            if (record) {
                fn (arg, record);
                json_decref (record);
                count++;
            }
        }
        store_cursor_destroy (&cursor);
        store_read_end (&txn);
    }
    store_close (&store);
    return count;
}
