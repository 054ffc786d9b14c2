/*  executor: executions, their lifecycle and their dispatch (executor.h).

    Retry safety: bus_inbox may run the handlers of a batch twice when the
    store grows its map. Handlers therefore change only the transaction and
    a list of effects (facts to publish, slots to release, workers to
    register); the effects are applied after the batch committed, and
    cleared when the first command of the batch is seen again (a retry).
*/
#include "actors/executor/executor.h"
#include "actors/executor/executor_changes.h"
#include "actors/executor/executor_inquiry.h"
#include "actors/executor/executor_policy.h"
#include "actors/actor_query.h"
#include "actors/executor/executor_record.h"
#include "actors/executor/executor_status.h"
#include "actors/executor/executor_workers.h"
#include "actors/registry/registry_client.h"
#include "actors/registry/registry_params.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"
#include "bus/bus_security.h"
#include "proto/proto_json.h"
#include "store/store.h"

#include <inttypes.h>
#include <unistd.h>

//  snprintf (dst, size, "%s", src) without the formatter (hot paths)
static inline void
s_copy (char *dst, size_t size, const char *src)
{
    size_t len = strnlen (src, size - 1);
    memcpy (dst, src, len);
    dst[len] = 0;
}

#define S_SCHEDULE_MAX 1024 //  executions scheduled per transaction
#define S_ID_SIZE      40
#define S_PREFETCH     2 //  dispatch window, in multiples of a worker's slots
#define S_LIST_DEFAULT 50
#define S_LIST_MAX     1000
#define S_SCAN_MAX     200000 //  records examined per list request, at most

typedef enum {
    EFFECT_FACT,
    EFFECT_RELEASE,
    EFFECT_WORKER,
    EFFECT_WAIT,
    EFFECT_DELAYED,  //  held by a policy: active, not waiting for a worker
    EFFECT_FORGET,   //  ended without a worker: no longer active
    EFFECT_ACQUIRED, //  a slot taken in the handler: undone if the batch does not commit
    EFFECT_DISPATCH, //  payload: the scheduled record
    EFFECT_DRAINING, //  worker: takes nothing new from now on
    EFFECT_DEQUEUE,  //  id: scheduled from the queue in the batch: leaves the queue
    EFFECT_START,    //  worker, id, key (the claim): start it, it is recorded running
    EFFECT_REFUSED   //  worker, id, type (the reason): do not start it
} s_effect_kind_t;

typedef struct {
    s_effect_kind_t kind;
    char type[48];              //  fact type
    json_t *payload;            //  fact payload / worker registration
    proto_envelope_t *envelope; //  fact / dispatch packed by the fast path
    char worker[256];           //  release: worker name
    char id[S_ID_SIZE];         //  wait: execution id
    char runner[32];            //  wait: runner
    uint64_t key;               //  wait: key in the waiting table
    void *handle;               //  dequeue: the item's handle in the queue
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

//  A lost worker's executions that could not be settled (the commit failed:
//  disk full): tried again every turn (the store's backoff paces it)
typedef struct {
    char worker[256];
    bool abandon_running;
    bool requeue_running;
    zlist_t *only; //  ids (autofree), NULL: all of the worker's
} s_unsettled_t;

typedef struct _s_executor_t {
    zsock_t *pipe;
    char host[256];
    char source[300];
    actor_config_t config;
    bus_link_config_t link_config;
    store_t *store;
    store_table_t *executions, *by_enforcement, *waiting, *active, *workers_table;
    bus_inbox_t *inbox;
    actor_query_t *query;        //  executor.query: the api's reads and changes
    executor_policy_t *policy;   //  concurrency, rate, retry, timeout policies
    executor_inquiry_t *inquiry; //  inquiries and their deadlines
    int64_t inquiry_next;    //  wall-clock µs of the first deadline (INT64_MAX: none)
    uint64_t policy_version; //  registry version the policies were taken at
    int64_t policy_tick_at;  //  monotonic ms of the next policy tick
    bus_pub_t *pub;
    executor_changes_t *changes; //  what recent facts were about (resync)
    registry_client_t *registry;
    executor_workers_t *workers;
    zhashx_t *links;     //  worker name -> s_wlink_t
    zhashx_t *actives;   //  execution id -> s_active_t
    zhashx_t *instances; //  worker name -> uint64_t instance, as stored at start
    zlistx_t *queue;     //  s_wait_t, FIFO
    zlist_t *effects;    //  s_effect_t of the batch being applied
    bool batch_open;
    zhashx_t *batch_running; //  ids this batch recorded running (not yet durable)
    zlist_t *unsettled;      //  s_unsettled_t: settles whose commit failed, retried
    bool queued_in_batch;    //  an execution of this batch went to the waiting queue
    bool schedule_soon;      //  the batch took slots: schedule the rest on the next turn
    char first_peer[256];
    uint64_t first_epoch, first_seq;
    uint64_t created, ignored, repeated, duplicates, late,
        by_status[EXECUTION_STATUS_COUNT];
    bool terminated;
    executor_record_t record; //  the record the fast path works on
    msgpack_sbuffer packed;   //  a record, fact or dispatch being packed
    msgpack_sbuffer params;   //  parameters, packed once per execution
    bool record_ready;
} s_executor_t;

//  ---------------------------------------------------------------------------
//  Small helpers

static void
s_effect_destroy (s_effect_t **effect_p)
{
    if (*effect_p) {
        json_decref ((*effect_p)->payload);
        proto_envelope_destroy (&(*effect_p)->envelope);
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
    return executor_record_decode (data, size);
}

static int
s_record_put (store_txn_t *txn, s_executor_t *self, const json_t *record)
{
    const char *id = json_string_value (json_object_get (record, "id"));
    msgpack_sbuffer_clear (&self->packed);
    if (!id || proto_json_to_sbuffer (record, &self->packed, NULL) != PROTO_OK)
        return -1;
    store_code_t code = store_put (txn, self->executions, id, strlen (id),
                                   self->packed.data, self->packed.size);
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
        executor_changes_note_json (self->changes, bus_pub_send (self->pub, fact), type,
                                    payload);
    else
        zsys_error ("executor: cannot publish %s: %s", type,
                    fact ? error.message : "no memory");
    proto_envelope_destroy (&fact);
}

//  ---------------------------------------------------------------------------
//  Workers and their links

static void s_worker_lost (s_executor_t *self, const char *name, const char *why);

//  worker.resync: "register again, with what you hold".
static void
s_resync (s_wlink_t *wl)
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
    s_wlink_t *wl = (s_wlink_t *)arg;
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
        s_copy (name, sizeof name, wl->name);
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
        "{s:O, s:{s:s, s:s, s:s, s:s, s:b, s:o}, s:O, s:o}", "execution",
        json_object_get (record, "id"), "action", "ref", ref ? ref : "", "runner_type",
        json_string_value (json_object_get (record, "runner")) ?: "", "entry_point",
        json_string_value (json_object_get (action, "entry_point")) ?: "", "pack_dir",
        json_string_value (json_object_get (action, "pack_dir")) ?: "", "idempotent",
        json_is_true (json_object_get (action, "idempotent")), "timeout",
        executor_policy_timeout (self->policy, ref ? ref : "") > 0
            ? json_real (executor_policy_timeout (self->policy, ref ? ref : ""))
        : json_object_get (action, "timeout")
            ? json_incref (json_object_get (action, "timeout"))
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
    //  The natural key: the enforcement, or for a manual run "run:<request>"
    const char *enforcement = json_string_value (json_object_get (payload, "key"));
    if (!enforcement)
        enforcement = json_string_value (json_object_get (payload, "enforcement"));
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
    json_t *record = json_pack (
        "{s:s, s:s, s:O, s:O, s:O, s:n, s:I, s:[]}", "id", id, "action", ref,
        "enforcement", json_object_get (payload, "enforcement") ?: json_null (), "rule",
        json_object_get (payload, "rule") ?: json_null (), "event",
        json_object_get (payload, "event") ?: json_null (), "worker", "requested",
        (json_int_t)now, "log");
    if (json_object_get (payload, "parent"))
        json_object_set (record, "parent", json_object_get (payload, "parent"));
    if (json_is_integer (json_object_get (payload, "retry_count")))
        json_object_set (record, "retry_count", json_object_get (payload, "retry_count"));
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
    //  Policies: held back (delayed: a queue or a deferred retry), refused, or
    //  admitted and on its way to a worker
    executor_admission_t decision = POLICY_ADMIT;
    json_int_t not_before = json_integer_value (json_object_get (payload, "not_before"));
    if (parameters && not_before > now) {
        decision = POLICY_DELAY;
        snprintf (reason, sizeof reason, "retry %d, not before %.3f s from now",
                  (int)json_integer_value (json_object_get (payload, "retry_count")),
                  (double)(not_before - now) / 1e6);
        if (executor_policy_defer (self->policy, txn, id, not_before) != 0)
            rc = -1;
    } else if (parameters && executor_policy_limits (self->policy, ref) &&
               executor_policy_admit (self->policy, txn, id, ref, parameters, now,
                                      &decision, reason, sizeof reason) != 0)
        rc = -1;
    if (parameters && decision == POLICY_DELAY) {
        s_set_status (record, EXECUTION_DELAYED, now);
        if (store_put (txn, self->active, id, strlen (id), "", 0) != STORE_OK)
            rc = -1;
        s_fact (self, record);
        s_effect_t *effect = s_effect (self, EFFECT_DELAYED);
        s_copy (effect->id, sizeof effect->id, id);
    } else if (parameters && decision == POLICY_CANCEL) {
        s_set_status (record, EXECUTION_CANCELLED, now);
        json_object_set_new (record, "ended", json_integer (now));
        json_object_set_new (record, "result", json_pack ("{s:s}", "error", reason));
        s_fact (self, record);
    } else if (!parameters) {
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
            s_copy (acquired->worker, sizeof acquired->worker, worker->name);
            s_copy (acquired->id, sizeof acquired->id, id);
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
            s_copy (effect->id, sizeof effect->id, id);
            s_copy (effect->runner, sizeof effect->runner, runner ? runner : "");
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

//  ---------------------------------------------------------------------------
//  Policies (executor_policy.h): the callbacks it makes inside a transaction,
//  and what happens when an execution ends

//  A delayed execution the policies let go: requested, waiting for a worker.
static int
s_policy_wake (void *arg, store_txn_t *txn, const char *id)
{
    s_executor_t *self = (s_executor_t *)arg;
    json_t *record = s_record_get (txn, self, id);
    if (!record)
        return 0;
    int status =
        execution_status_parse (json_string_value (json_object_get (record, "status")));
    int rc = 0;
    if (status == EXECUTION_DELAYED) {
        s_set_status (record, EXECUTION_REQUESTED, proto_now_usec ());
        uint64_t key = 0;
        if (store_insert (txn, self->waiting, id, strlen (id), &key) != STORE_OK ||
            s_record_put (txn, self, record) != 0)
            rc = -1;
        else {
            s_effect_t *effect = s_effect (self, EFFECT_WAIT);
            s_copy (effect->id, sizeof effect->id, id);
            snprintf (effect->runner, sizeof effect->runner, "%s",
                      json_string_value (json_object_get (record, "runner")) ?: "");
            effect->key = key;
            self->queued_in_batch = true;
            s_fact (self, record);
        }
    }
    json_decref (record);
    return rc;
}

//  A delayed execution that waited longer than its queue_timeout.
static int
s_policy_expire (void *arg, store_txn_t *txn, const char *id)
{
    s_executor_t *self = (s_executor_t *)arg;
    json_t *record = s_record_get (txn, self, id);
    if (!record)
        return 0;
    int status =
        execution_status_parse (json_string_value (json_object_get (record, "status")));
    int rc = 0;
    if (status == EXECUTION_DELAYED) {
        int64_t now = proto_now_usec ();
        s_set_status (record, EXECUTION_TIMEOUT, now);
        json_object_set_new (record, "ended", json_integer (now));
        json_object_set_new (
            record, "result",
            json_pack ("{s:s}", "error",
                       "waited longer than its policy's queue_timeout in the queue of "
                       "its action"));
        store_del (txn, self->active, id, strlen (id));
        rc = s_record_put (txn, self, record);
        s_fact (self, record);
        s_effect_t *effect = s_effect (self, EFFECT_FORGET);
        s_copy (effect->id, sizeof effect->id, id);
    }
    json_decref (record);
    return rc;
}

//  A deferred execution (a retry) whose time has come: admitted now, queued,
//  or refused, as a new one would be.
static int
s_policy_due (void *arg, store_txn_t *txn, const char *id)
{
    s_executor_t *self = (s_executor_t *)arg;
    json_t *record = s_record_get (txn, self, id);
    if (!record)
        return 0;
    int status =
        execution_status_parse (json_string_value (json_object_get (record, "status")));
    const char *action = json_string_value (json_object_get (record, "action"));
    executor_admission_t decision = POLICY_ADMIT;
    char reason[512] = "";
    int rc = 0;
    int64_t now = proto_now_usec ();
    if (status != EXECUTION_DELAYED)
        ; //  cancelled meanwhile
    else if (action && executor_policy_limits (self->policy, action) &&
             executor_policy_admit (self->policy, txn, id, action,
                                    json_object_get (record, "parameters"), now,
                                    &decision, reason, sizeof reason) != 0)
        rc = -1;
    else if (decision == POLICY_ADMIT)
        rc = s_policy_wake (self, txn, id);
    else if (decision == POLICY_CANCEL) {
        s_set_status (record, EXECUTION_CANCELLED, now);
        json_object_set_new (record, "ended", json_integer (now));
        json_object_set_new (record, "result", json_pack ("{s:s}", "error", reason));
        store_del (txn, self->active, id, strlen (id));
        rc = s_record_put (txn, self, record);
        s_fact (self, record);
        s_effect_t *effect = s_effect (self, EFFECT_FORGET);
        s_copy (effect->id, sizeof effect->id, id);
    } //  POLICY_DELAY: queued, still delayed
    json_decref (record);
    return rc;
}

//  Execution `id` of `action` has ended as `status` (in this transaction):
//  its slot goes to the next in line, and a failure its retry policy covers
//  is run again, after the policy's delay.
static int
s_policy_ended (s_executor_t *self, store_txn_t *txn, const char *id, const char *action,
                int status)
{
    if (executor_policy_count (self->policy) == 0)
        return 0;
    int64_t now = proto_now_usec ();
    if (executor_policy_release (self->policy, txn, id, now, s_policy_wake, self) != 0)
        return -1;
    const json_t *retry = action ? executor_policy_retry (self->policy, action) : NULL;
    const char *on = json_string_value (json_object_get (retry, "retry_on"));
    if (!retry || !on ||
        !((status == EXECUTION_FAILED && streq (on, "failure")) ||
          (status == EXECUTION_TIMEOUT && streq (on, "timeout")) ||
          (status == EXECUTION_ABANDONED && streq (on, "abandoned"))))
        return 0;
    json_t *record = s_record_get (txn, self, id);
    if (!record)
        return 0;
    int attempt = (int)json_integer_value (json_object_get (record, "retry_count")) + 1;
    json_int_t most = json_integer_value (json_object_get (retry, "max_retry_count"));
    int rc = 0;
    if (attempt <= most) {
        char key[64];
        snprintf (key, sizeof key, "retry:%s", id);
        double delay = executor_policy_retry_delay (retry, attempt);
        json_t *payload = json_pack (
            "{s:s, s:s, s:O, s:s, s:O, s:O, s:O, s:i, s:I}", "key", key, "action", action,
            "parameters", json_object_get (record, "parameters") ?: json_null (),
            "parent", id, "enforcement",
            json_object_get (record, "enforcement") ?: json_null (), "rule",
            json_object_get (record, "rule") ?: json_null (), "event",
            json_object_get (record, "event") ?: json_null (), "retry_count", attempt,
            "not_before", (json_int_t)(now + (int64_t)(delay * 1e6)));
        bus_command_t info = {.peer = "policy"};
        if (!payload || s_enforcement (self, txn, payload, &info) != 0)
            rc = -1;
        json_decref (payload);
    }
    json_decref (record);
    return rc;
}

static int
s_apply_tick (store_txn_t *txn, void *arg)
{
    s_executor_t *self = (s_executor_t *)arg;
    s_effects_clear (self); //  a retry of this transaction starts over
    self->queued_in_batch = false;
    return executor_policy_tick (self->policy, txn, proto_now_usec (), s_policy_wake,
                                 s_policy_expire, s_policy_due, self);
}

static void s_apply_effects (s_executor_t *self);

//  Timers of the policies: queue heads a rate window lets through, queue
//  timeouts, retries that are due.
static void
s_policy_tick (s_executor_t *self)
{
    int every = executor_policy_tick_ms (self->policy);
    if (every < 0 || zclock_mono () < self->policy_tick_at)
        return;
    if (store_write (self->store, s_apply_tick, self) == STORE_OK)
        s_apply_effects (self);
    else {
        s_effects_clear (self);
        if (!store_io_failing (self->store)) //  a full disk is said once by the store
            zsys_error ("executor: policy timers: %s", store_last_error (self->store));
    }
    self->queued_in_batch = false;
    self->policy_tick_at = zclock_mono () + every;
}

//  Take the registry's policies when they changed.
static void
s_policy_sync (s_executor_t *self)
{
    uint64_t version = registry_client_version (self->registry);
    if (version == self->policy_version)
        return;
    self->policy_version = version;
    executor_policy_define (self->policy, registry_client_all (self->registry, "policy"));
    self->policy_tick_at = zclock_mono ();
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
    s_effect_t *effect = s_effect (self, EFFECT_WORKER);
    effect->payload = json_incref (payload);
    return code == STORE_OK ? 0 : -1;
}

//  ---------------------------------------------------------------------------
//  Inquiries (executor_inquiry.h): an execution waiting for a person

//  An inquiry fact (inquiry.created, .responded, .timeout, .cancelled),
//  published after the commit.
static void
s_inquiry_fact (s_executor_t *self, const char *type, const json_t *inquiry)
{
    s_effect_t *effect = s_effect (self, EFFECT_FACT);
    s_copy (effect->type, sizeof effect->type, type);
    json_t *payload = json_deep_copy (inquiry);
    json_object_set (payload, "inquiry", json_object_get (inquiry, "id"));
    json_object_del (payload, "id");
    json_object_del (payload, "request");
    effect->payload = payload;
}

//  The result an execution ends with once its inquiry is answered: the
//  action's own result without `__inquiry`, plus `response`.
static json_t *
s_inquiry_result (const json_t *result, const json_t *response)
{
    json_t *out = json_is_object (result) ? json_deep_copy (result) : json_object ();
    json_object_del (out, "__inquiry");
    json_t *inner = json_object_get (out, "result");
    if (json_is_object (inner))
        json_object_del (inner, "__inquiry");
    if (response)
        json_object_set (out, "response", (json_t *)response);
    return out;
}

//  Worker `worker` reported execution `id` completed with a result that
//  asks a person (`spec` inside `result`): the execution is pending and
//  its inquiry open, or failed when the inquiry is not valid. The worker's
//  slot is free either way; the policy slot stays taken while pending.
static int
s_inquiry_open (s_executor_t *self, store_txn_t *txn, const char *id, const char *worker,
                const json_t *result, const json_t *spec)
{
    json_t *record = s_record_get (txn, self, id);
    if (!record)
        return 0;
    int64_t now = proto_now_usec ();
    const char *action = json_string_value (json_object_get (record, "action"));
    json_t *inquiry = NULL;
    char reason[512] = "";
    int rc = executor_inquiry_open (self->inquiry, txn, id, action, spec, now, &inquiry,
                                    reason, sizeof reason);
    if (rc < 0) {
        json_decref (record);
        return -1;
    }
    if (!json_is_integer (json_object_get (record, "started")))
        json_object_set_new (record, "started", json_integer (now));
    store_del (txn, self->active, id, strlen (id));
    s_effect_t *effect = s_effect (self, EFFECT_RELEASE);
    s_copy (effect->worker, sizeof effect->worker, worker);
    s_copy (effect->id, sizeof effect->id, id);
    if (rc == 1) {
        s_set_status (record, EXECUTION_FAILED, now);
        json_object_set_new (record, "ended", json_integer (now));
        json_object_set_new (
            record, "result",
            json_pack ("{s:s, s:O}", "error", reason, "action_result", result));
    } else {
        s_set_status (record, EXECUTION_PENDING, now);
        json_object_set (record, "result", (json_t *)result);
        int64_t deadline = json_integer_value (json_object_get (inquiry, "deadline"));
        if (deadline < self->inquiry_next)
            self->inquiry_next = deadline; //  at worst an early wake-up
    }
    s_fact (self, record);
    if (inquiry)
        s_inquiry_fact (self, "inquiry.created", inquiry);
    rc = s_record_put (txn, self, record);
    if (rc == 0 && !inquiry)
        rc = s_policy_ended (self, txn, id, action, EXECUTION_FAILED);
    json_decref (inquiry);
    json_decref (record);
    return rc;
}

//  End a pending execution with its inquiry: `status` (completed on a
//  response, timeout, cancelled), its result, the policy slot released.
static int
s_inquiry_settle (s_executor_t *self, store_txn_t *txn, json_t *record, int status,
                  json_t *result, int64_t now)
{
    s_set_status (record, (execution_status_t)status, now);
    json_object_set_new (record, "ended", json_integer (now));
    json_object_set_new (record, "result", result);
    s_fact (self, record);
    if (s_record_put (txn, self, record) != 0)
        return -1;
    return s_policy_ended (self, txn, json_string_value (json_object_get (record, "id")),
                           json_string_value (json_object_get (record, "action")),
                           status);
}

typedef struct {
    s_executor_t *self;
    const char *id, *identity, *request;
    const json_t *response;
    char code[32];
    char message[600];
    json_t *result; //  out: the answer
} s_respond_t;

static int
s_apply_respond (store_txn_t *txn, void *arg)
{
    s_respond_t *respond = (s_respond_t *)arg;
    s_executor_t *self = respond->self;
    s_effects_clear (self); //  a retry of this transaction starts over
    self->queued_in_batch = false;
    respond->code[0] = 0;
    json_decref (respond->result);
    respond->result = NULL;
    json_t *inquiry = executor_inquiry_get (self->inquiry, txn, respond->id);
    if (!inquiry) {
        snprintf (respond->code, sizeof respond->code, "not_found");
        snprintf (respond->message, sizeof respond->message, "inquiry %s does not exist",
                  respond->id);
        return 0;
    }
    const char *status = json_string_value (json_object_get (inquiry, "status"));
    const char *request = json_string_value (json_object_get (inquiry, "request"));
    int64_t now = proto_now_usec ();
    if (status && streq (status, "responded") && request && respond->request &&
        streq (request, respond->request)) {
        //  The same request again (a client that got no reply): the same answer
        respond->result =
            json_pack ("{s:s, s:s, s:s, s:O}", "inquiry", respond->id, "execution",
                       respond->id, "status", "responded", "responder",
                       json_object_get (inquiry, "responder") ?: json_null ());
        json_decref (inquiry);
        return 0;
    }
    if (executor_inquiry_check (inquiry, respond->identity, respond->response, now,
                                respond->code, respond->message,
                                sizeof respond->message) != 0) {
        json_decref (inquiry);
        return 0;
    }
    json_t *record = s_record_get (txn, self, respond->id);
    int current = record ? execution_status_parse (
                               json_string_value (json_object_get (record, "status")))
                         : -1;
    int rc = 0;
    if (current != EXECUTION_PENDING) {
        snprintf (respond->code, sizeof respond->code, "conflict");
        snprintf (respond->message, sizeof respond->message,
                  "the execution of inquiry %s is not pending (%s)", respond->id,
                  current >= 0 ? execution_status_name ((execution_status_t)current)
                               : "missing");
    } else if (executor_inquiry_close (self->inquiry, txn, inquiry, "responded",
                                       respond->response, respond->identity,
                                       respond->request, now) != 0)
        rc = -1;
    else {
        //  The inquiry's fact first, then its execution's (as on a timeout
        //  or a cancel)
        s_inquiry_fact (self, "inquiry.responded", inquiry);
        if (s_inquiry_settle (
                self, txn, record, EXECUTION_COMPLETED,
                s_inquiry_result (json_object_get (record, "result"), respond->response),
                now) != 0)
            rc = -1;
        else
            respond->result = json_pack ("{s:s, s:s, s:s, s:s?}", "inquiry", respond->id,
                                         "execution", respond->id, "status", "responded",
                                         "responder", respond->identity);
    }
    json_decref (record);
    json_decref (inquiry);
    return rc;
}

static void
s_api_respond (s_executor_t *self, const char *id, const char *identity,
               const char *request, const json_t *response, actor_answer_t *answer)
{
    s_respond_t respond = {.self = self,
                           .id = id,
                           .identity = identity,
                           .request = request,
                           .response = response};
    store_code_t code = store_write (self->store, s_apply_respond, &respond);
    if (code != STORE_OK) {
        s_effects_clear (self);
        json_decref (respond.result);
        actor_query_fail (answer, "store", "cannot record the response: %s",
                          store_last_error (self->store));
        return;
    }
    s_apply_effects (self);
    self->queued_in_batch = false;
    if (respond.code[0])
        actor_query_fail (answer, respond.code, "%s", respond.message);
    else
        answer->result = respond.result;
}

#define S_DUE_MAX 256 //  inquiries timed out per transaction

typedef struct {
    s_executor_t *self;
    int64_t next; //  out: the next deadline after these
    size_t count;
} s_due_t;

static int
s_apply_inquiry_due (store_txn_t *txn, void *arg)
{
    s_due_t *due = (s_due_t *)arg;
    s_executor_t *self = due->self;
    s_effects_clear (self);
    self->queued_in_batch = false;
    int64_t now = proto_now_usec ();
    char ids[S_DUE_MAX][40];
    due->count = executor_inquiry_due (self->inquiry, txn, now, ids, S_DUE_MAX);
    for (size_t i = 0; i < due->count; i++) {
        json_t *inquiry = executor_inquiry_get (self->inquiry, txn, ids[i]);
        if (!inquiry)
            continue;
        double seconds = json_number_value (json_object_get (inquiry, "timeout"));
        if (executor_inquiry_close (self->inquiry, txn, inquiry, "timeout", NULL, NULL,
                                    NULL, now) != 0) {
            json_decref (inquiry);
            return -1;
        }
        s_inquiry_fact (self, "inquiry.timeout", inquiry);
        json_decref (inquiry);
        json_t *record = s_record_get (txn, self, ids[i]);
        int status = record ? execution_status_parse (
                                  json_string_value (json_object_get (record, "status")))
                            : -1;
        int rc = 0;
        if (status == EXECUTION_PENDING) {
            char message[160];
            snprintf (message, sizeof message, "no response to its inquiry within %g s",
                      seconds);
            json_t *result = s_inquiry_result (json_object_get (record, "result"), NULL);
            json_object_set_new (result, "error", json_string (message));
            rc = s_inquiry_settle (self, txn, record, EXECUTION_TIMEOUT, result, now);
        }
        json_decref (record);
        if (rc != 0)
            return -1;
    }
    due->next = executor_inquiry_next_deadline (self->inquiry, txn);
    return 0;
}

//  Inquiries whose deadline has come: timed out, with their executions.
static void
s_inquiry_tick (s_executor_t *self)
{
    if (proto_now_usec () < self->inquiry_next)
        return;
    s_due_t due = {.self = self};
    store_code_t code = store_write (self->store, s_apply_inquiry_due, &due);
    if (code != STORE_OK) {
        s_effects_clear (self);
        if (code != STORE_IO) //  a full disk is said once by the store
            zsys_error ("executor: inquiry deadlines: %s",
                        store_last_error (self->store));
        self->inquiry_next = proto_now_usec () + 1000000; //  tried again in 1 s
        return;
    }
    s_apply_effects (self);
    self->queued_in_batch = false;
    self->inquiry_next = due.count == S_DUE_MAX ? proto_now_usec () : due.next;
}

static void
s_api_inquiry_list (s_executor_t *self, json_t *payload, actor_answer_t *answer)
{
    const char *status = actor_arg_str (payload, "status", answer);
    const char *before = actor_arg_str (payload, "before", answer);
    int64_t limit =
        actor_arg_int (payload, "limit", S_LIST_DEFAULT, 1, S_LIST_MAX, answer);
    if (answer->code[0])
        return;
    if (status && !streq (status, "pending") && !streq (status, "responded") &&
        !streq (status, "timeout") && !streq (status, "cancelled")) {
        actor_query_fail (answer, "bad_request",
                          "status: '%.64s' is not pending, responded, timeout or "
                          "cancelled",
                          status);
        return;
    }
    if (before && strlen (before) >= S_ID_SIZE) {
        actor_query_fail (answer, "bad_request", "before: not an inquiry id");
        return;
    }
    store_txn_t *txn = store_read_begin (self->store);
    if (!txn) {
        actor_query_fail (answer, "store", "cannot read: %s",
                          store_last_error (self->store));
        return;
    }
    char next[40];
    actor_page_t page;
    actor_page_init (&page, (size_t)limit);
    executor_inquiry_page (self->inquiry, txn, status, before, &page, next);
    store_read_end (&txn);
    size_t i;
    json_t *item;
    json_array_foreach (page.items, i, item)
    {
        json_object_del (item, "request");
    }
    answer->result = json_pack ("{s:o, s:o}", "items", page.items, "next",
                                next[0] ? json_string (next) : json_null ());
}

//  ---------------------------------------------------------------------------
//  Fast path: enforcement.create and execution.status from the command's
//  msgpack straight to the stored record, its facts and its dispatch
//  (msgpack_pack_* into reused buffers; JSON only for parameters an action's
//  schema has to check). Same checks, replies and effects as the JSON
//  handlers above, which the api's changes use.

//  A value of `map` that is a string of at most size - 1 bytes without NUL,
//  copied into `out`; false otherwise.
static bool
s_get_str (const msgpack_object *map, const char *key, char *out, size_t size)
{
    const msgpack_object *value = proto_map_get (map, key);
    if (!value || value->type != MSGPACK_OBJECT_STR || value->via.str.size >= size ||
        memchr (value->via.str.ptr, 0, value->via.str.size))
        return false;
    memcpy (out, value->via.str.ptr, value->via.str.size);
    out[value->via.str.size] = 0;
    return true;
}

static void
s_pack_field (msgpack_packer *pk, const executor_record_t *record,
              executor_record_field_t field)
{
    const msgpack_object *value = executor_record_get (record, field);
    if (value)
        msgpack_pack_object (pk, *value);
    else
        msgpack_pack_nil (pk);
}

static bool
s_has_secret (const json_t *action)
{
    const char *name;
    json_t *schema;
    json_object_foreach ((json_t *)json_object_get (action, "parameters"), name, schema)
    {
        if (json_is_true (json_object_get (schema, "secret")))
            return true;
    }
    return false;
}

//  An envelope of `type` with the packed payload in self->packed.
static proto_envelope_t *
s_envelope_packed (s_executor_t *self, const char *type)
{
    proto_envelope_t *envelope = proto_envelope_new (type, self->source);
    if (envelope && proto_envelope_set_payload_packed (envelope, self->packed.data,
                                                       self->packed.size) != 0)
        proto_envelope_destroy (&envelope);
    if (!envelope)
        zsys_error ("executor: cannot build %s: out of memory", type);
    return envelope;
}

//  The fact for self->record's current status (parameters masked), as an
//  envelope; `type` gets its type.
static proto_envelope_t *
s_fact_envelope (s_executor_t *self, const json_t *action, char *type, size_t type_size)
{
    const executor_record_t *record = &self->record;
    char status[32];
    executor_record_text (record, EXECUTOR_RECORD_STATUS, status, sizeof status);
    //  "execution." + status (status is at most 31 bytes: it fits)
    assert (type_size >= sizeof "execution." + sizeof status);
    memcpy (type, "execution.", 10);
    s_copy (type + 10, type_size - 10, status[0] ? status : "unknown");
    static const struct {
        const char *key;
        executor_record_field_t field;
    } fields[] = {{"execution", EXECUTOR_RECORD_ID},
                  {"action", EXECUTOR_RECORD_ACTION},
                  {"status", EXECUTOR_RECORD_STATUS},
                  {"worker", EXECUTOR_RECORD_WORKER},
                  {"enforcement", EXECUTOR_RECORD_ENFORCEMENT},
                  {"rule", EXECUTOR_RECORD_RULE},
                  {"event", EXECUTOR_RECORD_EVENT},
                  {"result", EXECUTOR_RECORD_RESULT},
                  {"requested", EXECUTOR_RECORD_REQUESTED},
                  {"started", EXECUTOR_RECORD_STARTED},
                  {"ended", EXECUTOR_RECORD_ENDED}};
    msgpack_sbuffer_clear (&self->packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
    size_t count = sizeof fields / sizeof fields[0];
    msgpack_pack_map (&pk, count + 1);
    for (size_t i = 0; i < count; i++) {
        executor_record_pack_str (&pk, fields[i].key);
        s_pack_field (&pk, record, fields[i].field);
    }
    executor_record_pack_str (&pk, "parameters");
    const msgpack_object *parameters =
        executor_record_get (record, EXECUTOR_RECORD_PARAMETERS);
    if (parameters && s_has_secret (action)) {
        json_t *given = proto_json_from_msgpack (parameters, "parameters", NULL);
        json_t *masked =
            registry_params_mask (json_object_get (action, "parameters"), given);
        proto_code_t code =
            masked ? proto_json_to_msgpack (masked, &pk, NULL) : PROTO_ERR_JSON;
        json_decref (given);
        json_decref (masked);
        if (code != PROTO_OK) {
            zsys_error ("executor: cannot mask the parameters of a %s fact", type);
            return NULL;
        }
    } else
        s_pack_field (&pk, record, EXECUTOR_RECORD_PARAMETERS);
    return s_envelope_packed (self, type);
}

static void
s_fact_packed (s_executor_t *self, const json_t *action)
{
    char type[48];
    proto_envelope_t *fact = s_fact_envelope (self, action, type, sizeof type);
    if (!fact)
        return;
    s_effect_t *effect = s_effect (self, EFFECT_FACT);
    s_copy (effect->type, sizeof effect->type, type);
    effect->envelope = fact;
}

static void
s_pack_json_str (msgpack_packer *pk, const json_t *value)
{
    executor_record_pack_str (pk, json_string_value (value) ?: "");
}

//  The execution.dispatch of self->record, as an envelope.
static proto_envelope_t *
s_dispatch_envelope (s_executor_t *self, const json_t *action)
{
    const executor_record_t *record = &self->record;
    msgpack_sbuffer_clear (&self->packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    executor_record_pack_str (&pk, "execution");
    s_pack_field (&pk, record, EXECUTOR_RECORD_ID);
    executor_record_pack_str (&pk, "action");
    msgpack_pack_map (&pk, 6);
    const msgpack_object *ref = executor_record_get (record, EXECUTOR_RECORD_ACTION);
    const msgpack_object *runner = executor_record_get (record, EXECUTOR_RECORD_RUNNER);
    executor_record_pack_str (&pk, "ref");
    if (ref && ref->type == MSGPACK_OBJECT_STR)
        msgpack_pack_object (&pk, *ref);
    else
        executor_record_pack_str (&pk, "");
    executor_record_pack_str (&pk, "runner_type");
    if (runner && runner->type == MSGPACK_OBJECT_STR)
        msgpack_pack_object (&pk, *runner);
    else
        executor_record_pack_str (&pk, "");
    executor_record_pack_str (&pk, "entry_point");
    s_pack_json_str (&pk, json_object_get (action, "entry_point"));
    executor_record_pack_str (&pk, "pack_dir");
    s_pack_json_str (&pk, json_object_get (action, "pack_dir"));
    executor_record_pack_str (&pk, "idempotent");
    if (json_is_true (json_object_get (action, "idempotent")))
        msgpack_pack_true (&pk);
    else
        msgpack_pack_false (&pk);
    executor_record_pack_str (&pk, "timeout");
    const json_t *timeout = json_object_get (action, "timeout");
    double policy_timeout = executor_policy_timeout (
        self->policy, json_string_value (json_object_get (action, "ref")) ?: "");
    if (policy_timeout > 0)
        msgpack_pack_double (&pk, policy_timeout);
    else if (!timeout || proto_json_to_msgpack (timeout, &pk, NULL) != PROTO_OK)
        msgpack_pack_nil (&pk);
    executor_record_pack_str (&pk, "parameters");
    s_pack_field (&pk, record, EXECUTOR_RECORD_PARAMETERS);
    executor_record_pack_str (&pk, "secret");
    size_t secrets = 0;
    const char *name;
    json_t *schema;
    json_object_foreach ((json_t *)json_object_get (action, "parameters"), name, schema)
    {
        secrets += json_is_true (json_object_get (schema, "secret"));
    }
    msgpack_pack_array (&pk, secrets);
    json_object_foreach ((json_t *)json_object_get (action, "parameters"), name, schema)
    {
        if (json_is_true (json_object_get (schema, "secret")))
            executor_record_pack_str (&pk, name);
    }
    return s_envelope_packed (self, "execution.dispatch");
}

static void
s_dispatch_packed (s_executor_t *self, const json_t *action, const char *worker)
{
    proto_envelope_t *command = s_dispatch_envelope (self, action);
    if (!command)
        return;
    s_effect_t *effect = s_effect (self, EFFECT_DISPATCH);
    s_copy (effect->worker, sizeof effect->worker, worker);
    effect->envelope = command;
}

static int
s_record_store (s_executor_t *self, store_txn_t *txn, const char *id)
{
    msgpack_sbuffer_clear (&self->packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
    if (executor_record_pack (&self->record, &pk) != 0)
        return -1;
    return store_put (txn, self->executions, id, strlen (id), self->packed.data,
                      self->packed.size) == STORE_OK
               ? 0
               : -1;
}

static int
s_enforcement_packed (s_executor_t *self, store_txn_t *txn, const msgpack_object *payload,
                      bus_command_t *info)
{
    //  The natural key: the enforcement, or for a manual run "run:<request>"
    char enforcement[66], ref[256];
    const msgpack_object *key = proto_map_get (payload, "key");
    bool keyed = key && key->type == MSGPACK_OBJECT_STR;
    const msgpack_object *given = proto_map_get (payload, "parameters");
    if (!(keyed ? s_get_str (payload, "key", enforcement, sizeof enforcement)
                : s_get_str (payload, "enforcement", enforcement, sizeof enforcement)) ||
        !*enforcement || strlen (enforcement) > 64 ||
        !s_get_str (payload, "action", ref, sizeof ref))
        return bus_command_reject (
            info, "bad_request",
            "enforcement.create needs enforcement and action strings");
    if (given && given->type != MSGPACK_OBJECT_MAP)
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
    executor_record_t *record = &self->record;
    executor_record_clear (record);
    executor_record_set_str (record, EXECUTOR_RECORD_ID, id);
    executor_record_set_str (record, EXECUTOR_RECORD_ACTION, ref);
    static const struct {
        const char *key;
        executor_record_field_t field;
    } copied[] = {{"enforcement", EXECUTOR_RECORD_ENFORCEMENT},
                  {"rule", EXECUTOR_RECORD_RULE},
                  {"event", EXECUTOR_RECORD_EVENT}};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        const msgpack_object *value = proto_map_get (payload, copied[i].key);
        if (value)
            executor_record_set (record, copied[i].field, value);
        else
            executor_record_set_nil (record, copied[i].field);
    }
    executor_record_set_nil (record, EXECUTOR_RECORD_WORKER);
    executor_record_set_int (record, EXECUTOR_RECORD_REQUESTED, now);
    const msgpack_object *parent = proto_map_get (payload, "parent");
    if (parent)
        executor_record_set_extra (record, "parent", parent);

    const json_t *action = registry_client_get (self->registry, "action", ref);
    char reason[512] = "";
    const json_t *schema = json_object_get (action, "parameters");
    bool checked = false;
    msgpack_sbuffer_clear (&self->params);
    if (!action)
        snprintf (reason, sizeof reason, "action '%s' does not exist", ref);
    else if (json_is_false (json_object_get (action, "enabled")))
        snprintf (reason, sizeof reason, "action '%s' is disabled", ref);
    else if ((!given || given->via.map.size == 0) &&
             (!json_is_object (schema) || json_object_size (schema) == 0)) {
        msgpack_packer pk;
        msgpack_packer_init (&pk, &self->params, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 0); //  nothing to check, nothing to default
        checked = true;
    } else {
        json_t *given_json =
            given ? proto_json_from_msgpack (given, "parameters", NULL) : NULL;
        json_t *parameters =
            registry_params_apply (schema, given_json, reason, sizeof reason);
        checked = parameters &&
                  proto_json_to_sbuffer (parameters, &self->params, NULL) == PROTO_OK;
        if (parameters && !checked)
            snprintf (reason, sizeof reason, "parameters: cannot be packed");
        json_decref (parameters);
        json_decref (given_json);
    }
    const char *runner = json_string_value (json_object_get (action, "runner_type"));
    executor_record_set_str (record, EXECUTOR_RECORD_RUNNER, runner ? runner : "");
    if (checked)
        executor_record_set_packed (record, EXECUTOR_RECORD_PARAMETERS, self->params.data,
                                    self->params.size);
    else if (given)
        executor_record_set (record, EXECUTOR_RECORD_PARAMETERS, given);
    else {
        msgpack_object empty = {.type = MSGPACK_OBJECT_MAP};
        executor_record_set (record, EXECUTOR_RECORD_PARAMETERS, &empty);
    }
    executor_record_set_status (record, execution_status_name (EXECUTION_REQUESTED), now);
    s_fact_packed (self, action);
    int rc = 0;
    if (!checked) {
        executor_record_set_status (record, execution_status_name (EXECUTION_FAILED),
                                    now);
        executor_record_set_int (record, EXECUTOR_RECORD_ENDED, now);
        msgpack_sbuffer_clear (&self->packed);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 1);
        executor_record_pack_str (&pk, "error");
        executor_record_pack_str (&pk, reason);
        if (executor_record_set_packed (record, EXECUTOR_RECORD_RESULT, self->packed.data,
                                        self->packed.size) != 0)
            rc = -1;
        s_fact_packed (self, action);
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
            s_copy (acquired->worker, sizeof acquired->worker, worker->name);
            s_copy (acquired->id, sizeof acquired->id, id);
            executor_record_set_status (record,
                                        execution_status_name (EXECUTION_SCHEDULED), now);
            executor_record_set_str (record, EXECUTOR_RECORD_WORKER, worker->name);
            s_fact_packed (self, action);
            s_dispatch_packed (self, action, worker->name);
        } else {
            uint64_t wait_key = 0;
            if (store_insert (txn, self->waiting, id, strlen (id), &wait_key) != STORE_OK)
                rc = -1;
            s_effect_t *effect = s_effect (self, EFFECT_WAIT);
            s_copy (effect->id, sizeof effect->id, id);
            s_copy (effect->runner, sizeof effect->runner, runner ? runner : "");
            effect->key = wait_key;
            self->queued_in_batch = true;
        }
    }
    if (rc == 0 && (s_record_store (self, txn, id) != 0 ||
                    store_put (txn, self->by_enforcement, enforcement,
                               strlen (enforcement), id, strlen (id)) != STORE_OK))
        rc = -1;
    return rc;
}

#define S_LATE_MAX 8 //  late reports kept per execution

//  A report that came after its execution was settled without that worker:
//  appended to the record's `late` [{worker, status, ts, result}], at most
//  S_LATE_MAX, and counted; the execution does not change.
static int
s_late (s_executor_t *self, store_txn_t *txn, const char *id,
        const msgpack_object *payload)
{
    json_t *record = s_record_get (txn, self, id);
    json_t *report = proto_json_from_msgpack (payload, "payload", NULL);
    int rc = 0;
    if (record && report) {
        json_t *late = json_object_get (record, "late");
        if (!json_is_array (late)) {
            late = json_array ();
            json_object_set_new (record, "late", late);
        }
        if (json_array_size (late) < S_LATE_MAX) {
            json_t *result = json_object_get (report, "result");
            json_array_append_new (
                late,
                json_pack ("{s:O, s:O, s:I, s:O}", "worker",
                           json_object_get (report, "worker") ?: json_null (), "status",
                           json_object_get (report, "status") ?: json_null (), "ts",
                           (json_int_t)proto_now_usec (), "result",
                           result ? result : json_null ()));
            rc = s_record_put (txn, self, record);
        }
        self->late++;
    }
    json_decref (report);
    json_decref (record);
    return rc;
}

//  worker.draining {worker, returned: [ids]}: the worker is stopping; it
//  takes nothing new, and the executions it had not started wait again,
//  first in line for the next worker.
static int
s_draining (s_executor_t *self, store_txn_t *txn, json_t *payload, bus_command_t *info)
{
    const char *name = json_string_value (json_object_get (payload, "worker"));
    json_t *returned = json_object_get (payload, "returned");
    if (!name || !*name || strlen (name) >= 256 ||
        (returned && !json_is_array (returned)))
        return bus_command_reject (info, "bad_request",
                                   "worker.draining needs worker and returned [ids]");
    s_effect_t *effect = s_effect (self, EFFECT_DRAINING);
    s_copy (effect->worker, sizeof effect->worker, name);
    int64_t now = proto_now_usec ();
    size_t i;
    json_t *item;
    json_array_foreach (returned, i, item)
    {
        const char *id = json_string_value (item);
        json_t *record =
            id && strlen (id) < S_ID_SIZE ? s_record_get (txn, self, id) : NULL;
        if (!record)
            continue;
        const char *its = json_string_value (json_object_get (record, "worker"));
        int status = execution_status_parse (
            json_string_value (json_object_get (record, "status")));
        if (status == EXECUTION_SCHEDULED && its && streq (its, name)) {
            s_set_status (record, EXECUTION_REQUESTED, now);
            json_object_set_new (record, "worker", json_null ());
            uint64_t key = 0;
            if (store_insert (txn, self->waiting, id, strlen (id), &key) != STORE_OK ||
                s_record_put (txn, self, record) != 0) {
                json_decref (record);
                return -1;
            }
            s_effect_t *release = s_effect (self, EFFECT_RELEASE);
            s_copy (release->worker, sizeof release->worker, name);
            s_copy (release->id, sizeof release->id, id);
            s_effect_t *wait = s_effect (self, EFFECT_WAIT);
            s_copy (wait->id, sizeof wait->id, id);
            snprintf (wait->runner, sizeof wait->runner, "%s",
                      json_string_value (json_object_get (record, "runner")) ?: "");
            wait->key = key;
            self->queued_in_batch = true;
            s_fact (self, record);
        }
        json_decref (record);
    }
    return 0;
}

//  The answer to a claim: execution.start {execution, claim} or
//  execution.refused {execution, reason}, on the worker's link.
static void
s_answer_claim (s_executor_t *self, const char *worker, const char *id, bool start,
                uint64_t claim, const char *reason)
{
    s_wlink_t *wl = (s_wlink_t *)zhashx_lookup (self->links, worker);
    json_t *payload =
        start ? json_pack ("{s:s, s:I}", "execution", id, "claim", (json_int_t)claim)
              : json_pack ("{s:s, s:s}", "execution", id, "reason", reason);
    proto_envelope_t *command = proto_envelope_new (
        start ? "execution.start" : "execution.refused", self->source);
    //  No link: it registers again, is reconciled and claims again
    if (wl && command && payload &&
        proto_envelope_set_payload_json (command, payload, NULL) == PROTO_OK &&
        bus_link_send (wl->link, &command) != 0)
        zsys_warning ("executor: %s to %s not sent (link full): the worker claims again",
                      start ? "execution.start" : "execution.refused", worker);
    proto_envelope_destroy (&command);
    json_decref (payload);
}

static int
s_status_packed (s_executor_t *self, store_txn_t *txn, const msgpack_object *payload,
                 bus_command_t *info)
{
    char id[S_ID_SIZE], name[32], worker[256];
    bool have_id = s_get_str (payload, "execution", id, sizeof id);
    int status = s_get_str (payload, "status", name, sizeof name)
                     ? execution_status_parse (name)
                     : -1;
    const msgpack_object *given_worker = proto_map_get (payload, "worker");
    bool have_worker = given_worker && given_worker->type == MSGPACK_OBJECT_STR;
    //  A name longer than any worker's matches none
    bool worker_fits =
        have_worker && s_get_str (payload, "worker", worker, sizeof worker);
    if (!have_id || status < 0)
        return bus_command_reject (info, "bad_request",
                                   "execution.status needs execution and a known status");
    const void *data;
    size_t size;
    const msgpack_object *claim = proto_map_get (payload, "claim");
    bool claiming = status == EXECUTION_RUNNING && worker_fits && claim &&
                    (claim->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                     claim->type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
    if (store_get (txn, self->executions, id, strlen (id), &data, &size) != STORE_OK ||
        executor_record_read (&self->record, data, size) != 0) {
        self->ignored++;
        if (claiming) {
            s_effect_t *refused = s_effect (self, EFFECT_REFUSED);
            s_copy (refused->worker, sizeof refused->worker, worker);
            s_copy (refused->id, sizeof refused->id, id);
            snprintf (refused->type, sizeof refused->type, "unknown execution");
        }
        return 0;
    }
    executor_record_t *record = &self->record;
    char current_name[32], assigned[256];
    int current = execution_status_parse (executor_record_text (
        record, EXECUTOR_RECORD_STATUS, current_name, sizeof current_name));
    const msgpack_object *assigned_value =
        executor_record_get (record, EXECUTOR_RECORD_WORKER);
    bool has_assigned = assigned_value && assigned_value->type == MSGPACK_OBJECT_STR;
    executor_record_text (record, EXECUTOR_RECORD_WORKER, assigned, sizeof assigned);
    //  Only the worker it was given to may report on it (a late report from a
    //  worker it was taken from changes nothing)
    //  A pending execution waits for a person, not for its worker
    //  (one given to no worker now, waiting again, is not that worker's either)
    bool other_worker =
        have_worker && (!has_assigned || !worker_fits || !streq (worker, assigned));
    //  A claim: `running` from a worker that starts the process only when
    //  told (PROTOCOL.md, "Confirmed start"). Recorded running here, it is
    //  never given to another worker; refused, it never starts there.
    if (claiming) {
        bool ours = has_assigned && !other_worker;
        bool uncommitted = zhashx_lookup (self->batch_running, id) != NULL;
        if (ours && current == EXECUTION_RUNNING && !uncommitted) {
            //  Claimed again (the first start was late or lost): its running
            //  is durable already (no command of this batch wrote it), so
            //  the answer goes at once, not after this batch's commit; under
            //  a load that makes commits slower than the claim's lease, the
            //  second claim still gets through
            s_answer_claim (self, worker, id, true, (uint64_t)claim->via.i64, NULL);
            return 0;
        }
        if (ours && (current == EXECUTION_SCHEDULED || current == EXECUTION_RUNNING)) {
            //  Started only once this batch's commit made `running` durable
            //  (a running that an earlier claim of this batch wrote is not
            //  durable yet, and is undone if the commit fails)
            s_effect_t *start = s_effect (self, EFFECT_START);
            s_copy (start->worker, sizeof start->worker, worker);
            s_copy (start->id, sizeof start->id, id);
            start->key = (uint64_t)claim->via.i64;
            if (current == EXECUTION_RUNNING)
                return 0; //  already written by this batch
        } else {
            s_effect_t *refused = s_effect (self, EFFECT_REFUSED);
            s_copy (refused->worker, sizeof refused->worker, worker);
            s_copy (refused->id, sizeof refused->id, id);
            snprintf (refused->type, sizeof refused->type, "%s",
                      current < 0 ? "unknown status"
                      : has_assigned && !ours
                          ? "given to another worker"
                          : execution_status_name ((execution_status_t)current));
            self->ignored++;
            return 0; //  not started: nothing late to keep
        }
    }
    if (current < 0 || current == EXECUTION_PENDING ||
        !execution_status_allowed ((execution_status_t)current, status) || other_worker) {
        //  The same report again (its worker, the status it has): nothing,
        //  and not counted as ignored (a worker says its outcome again when
        //  the execution is dispatched to it again: PROTOCOL.md, "Workers")
        bool again = !other_worker && current == status;
        if (again)
            self->repeated++;
        else
            self->ignored++;
        //  A worker reporting on what was settled without it (it was lost,
        //  or the execution went to another): kept as late, changes nothing
        if (current >= 0 && have_worker && !again &&
            (other_worker || execution_status_terminal ((execution_status_t)current)))
            return s_late (self, txn, id, payload);
        return 0;
    }
    const msgpack_object *given_result = proto_map_get (payload, "result");
    if (status == EXECUTION_COMPLETED && given_result &&
        given_result->type == MSGPACK_OBJECT_MAP) {
        const msgpack_object *inner = proto_map_get (given_result, "result");
        if (proto_map_get (given_result, "__inquiry") ||
            (inner && inner->type == MSGPACK_OBJECT_MAP &&
             proto_map_get (inner, "__inquiry"))) {
            json_t *result = proto_json_from_msgpack (given_result, "result", NULL);
            int rc = result ? s_inquiry_open (self, txn, id, has_assigned ? assigned : "",
                                              result, executor_inquiry_spec (result))
                            : -1;
            json_decref (result);
            return rc;
        }
    }
    int64_t now = proto_now_usec ();
    executor_record_set_status (record,
                                execution_status_name ((execution_status_t)status), now);
    if (status == EXECUTION_RUNNING) {
        executor_record_set_int (record, EXECUTOR_RECORD_STARTED, now);
        zhashx_update (self->batch_running, id, (void *)"");
    }
    if (execution_status_terminal ((execution_status_t)status)) {
        const msgpack_object *started =
            executor_record_get (record, EXECUTOR_RECORD_STARTED);
        //  A claimed process says when it really started (after its claim)
        const msgpack_object *reported = proto_map_get (payload, "started");
        if (reported && reported->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
            reported->via.u64 <= (uint64_t)now)
            executor_record_set_int (record, EXECUTOR_RECORD_STARTED,
                                     (int64_t)reported->via.u64);
        else if (!started || (started->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
                              started->type != MSGPACK_OBJECT_NEGATIVE_INTEGER))
            executor_record_set_int (record, EXECUTOR_RECORD_STARTED, now);
        executor_record_set_int (record, EXECUTOR_RECORD_ENDED, now);
        const msgpack_object *result = proto_map_get (payload, "result");
        if (result)
            executor_record_set (record, EXECUTOR_RECORD_RESULT, result);
        else
            executor_record_set_nil (record, EXECUTOR_RECORD_RESULT);
        store_del (txn, self->active, id, strlen (id));
        if (has_assigned) {
            s_effect_t *effect = s_effect (self, EFFECT_RELEASE);
            s_copy (effect->worker, sizeof effect->worker, assigned);
            s_copy (effect->id, sizeof effect->id, id);
        }
    } else {
        s_effect_t *effect = s_effect (self, EFFECT_RELEASE);
        effect->worker[0] = 0; //  status change only: update the memory mirror
        s_copy (effect->id, sizeof effect->id, id);
        snprintf (effect->runner, sizeof effect->runner, "%d", status);
    }
    char ref[512];
    const json_t *action = registry_client_get (
        self->registry, "action",
        executor_record_text (record, EXECUTOR_RECORD_ACTION, ref, sizeof ref));
    s_fact_packed (self, action);
    //  Stored first: what the policies do next may reuse self->record
    if (s_record_store (self, txn, id) != 0)
        return -1;
    if (execution_status_terminal ((execution_status_t)status) &&
        s_policy_ended (self, txn, id, ref, status) != 0)
        return -1;
    return 0;
}

static int
s_handle_command (void *arg, store_txn_t *txn, proto_envelope_t *command,
                  bus_command_t *info)
{
    s_executor_t *self = (s_executor_t *)arg;
    //  A retry of the same batch starts again from its first command
    if (!self->batch_open) {
        self->batch_open = true;
        s_copy (self->first_peer, sizeof self->first_peer, info->peer);
        self->first_epoch = info->epoch;
        self->first_seq = info->seq;
    } else if (info->seq == self->first_seq && info->epoch == self->first_epoch &&
               streq (info->peer, self->first_peer)) {
        s_effects_clear (self);
        zhashx_purge (self->batch_running);
        self->queued_in_batch = false;
    }
    const char *type = proto_envelope_type (command);
    proto_error_t error;
    bool create = streq (type, "enforcement.create");
    if (create || streq (type, "execution.status")) {
        //  The hot path, without JSON (the same checks and replies)
        const msgpack_object *object = proto_envelope_payload_object (command);
        if (!object)
            return bus_command_reject (info, "bad_request", "payload: out of memory");
        if (proto_json_check (object, "payload", &error) != PROTO_OK)
            return bus_command_reject (info, "bad_request", "payload: %s", error.message);
        //  An action under a concurrency or rate policy is admitted by
        //  s_enforcement, the one path that applies policies
        char ref[256];
        bool by_policy = create && executor_policy_count (self->policy) &&
                         s_get_str (object, "action", ref, sizeof ref) &&
                         executor_policy_limits (self->policy, ref);
        if (!by_policy)
            return create ? s_enforcement_packed (self, txn, object, info)
                          : s_status_packed (self, txn, object, info);
    }
    json_t *payload = proto_envelope_payload_json (command, &error);
    if (!payload)
        return bus_command_reject (info, "bad_request", "payload: %s", error.message);
    int rc;
    if (create)
        rc = s_enforcement (self, txn, payload, info);
    else if (streq (type, "worker.register"))
        rc = s_register (self, txn, payload, info);
    else if (streq (type, "worker.draining"))
        rc = s_draining (self, txn, payload, info);
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
                if (effect->envelope)
                    executor_changes_note_envelope (
                        self->changes, bus_pub_send (self->pub, effect->envelope),
                        effect->envelope);
                else
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
                s_copy (wait->id, sizeof wait->id, effect->id);
                s_copy (wait->runner, sizeof wait->runner, effect->runner);
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
            case EFFECT_DELAYED: {
                s_active_t *active = (s_active_t *)zmalloc (sizeof (s_active_t));
                active->status = EXECUTION_DELAYED;
                zhashx_update (self->actives, effect->id, active);
                break;
            }
            case EFFECT_FORGET:
                zhashx_delete (self->actives, effect->id);
                break;
            case EFFECT_ACQUIRED: {
                //  The slot stays taken; the execution is active on that worker
                s_active_t *active = (s_active_t *)zmalloc (sizeof (s_active_t));
                active->status = EXECUTION_SCHEDULED;
                s_copy (active->worker, sizeof active->worker, effect->worker);
                zhashx_update (self->actives, effect->id, active);
                break;
            }
            case EFFECT_DRAINING: {
                executor_worker_t *worker =
                    executor_workers_find (self->workers, effect->worker);
                if (worker && !worker->draining) {
                    worker->draining = true;
                    zsys_info ("executor: worker %s is draining: nothing new goes to it",
                               effect->worker);
                    json_t *fact = json_pack ("{s:s}", "worker", effect->worker);
                    s_publish (self, "worker.draining", fact);
                    json_decref (fact);
                }
                break;
            }
            case EFFECT_DEQUEUE:
                //  The handle was taken in this batch; nothing removes queue
                //  items between the batch and its effects
                zlistx_delete (self->queue, effect->handle);
                break;
            case EFFECT_START:
            case EFFECT_REFUSED:
                s_answer_claim (self, effect->worker, effect->id,
                                effect->kind == EFFECT_START, effect->key, effect->type);
                break;
            case EFFECT_DISPATCH:
                if (effect->envelope) {
                    s_wlink_t *wl =
                        (s_wlink_t *)zhashx_lookup (self->links, effect->worker);
                    //  No link: it re-registers and gets it then. Beyond the
                    //  link's window (1024, above any worker's slots) it waits.
                    if (wl && bus_link_send (wl->link, &effect->envelope) != 0)
                        zsys_warning ("executor: dispatch to %s is waiting (link full)",
                                      effect->worker);
                } else
                    s_dispatch (self, effect->payload);
                break;
        }
        s_effect_destroy (&effect);
    }
}

//  ---------------------------------------------------------------------------
//  Scheduling: waiting -> scheduled

//  The waiting execution `id`, read into self->record: true when it is
//  there and still requested (not cancelled or gone meanwhile).
static bool
s_wait_requested (s_executor_t *self, store_txn_t *txn, const char *id)
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
s_mark_scheduled (s_executor_t *self, store_txn_t *txn, const char *id,
                  const char *worker, int64_t now, const json_t **action)
{
    char ref[512];
    executor_record_set_status (&self->record,
                                execution_status_name (EXECUTION_SCHEDULED), now);
    executor_record_set_str (&self->record, EXECUTOR_RECORD_WORKER, worker);
    *action = registry_client_get (
        self->registry, "action",
        executor_record_text (&self->record, EXECUTOR_RECORD_ACTION, ref, sizeof ref));
    return s_record_store (self, txn, id);
}

//  Inside a batch's transaction, last (bus_inbox_set_batch_end): what waits
//  and a free slot can take now rides the batch's one commit instead of a
//  second one after it. Slots freed by the batch itself are taken on the
//  next turn. The slots taken are given back if the batch does not commit
//  (EFFECT_ACQUIRED); the queue loses the scheduled after the commit
//  (EFFECT_DEQUEUE). Only in a batch that delivered a command: a retried
//  batch clears its effects at its first command.
static int
s_schedule_batch (void *arg, store_txn_t *txn)
{
    s_executor_t *self = (s_executor_t *)arg;
    if (!self->batch_open || zlistx_size (self->queue) == 0 ||
        executor_workers_count (self->workers) == 0)
        return 0;
    int64_t now = proto_now_usec ();
    size_t planned = 0; //  a batch's dispatches stay below the link's window
    int free_slots = executor_workers_free (self->workers);
    for (s_wait_t *wait = (s_wait_t *)zlistx_first (self->queue);
         wait && planned < S_SCHEDULE_MAX && free_slots > 0;
         wait = (s_wait_t *)zlistx_next (self->queue)) {
        executor_worker_t *worker = executor_workers_pick (self->workers, wait->runner);
        if (!worker)
            continue;
        if (!s_wait_requested (self, txn, wait->id))
            continue; //  s_schedule tidies it
        executor_workers_acquire (self->workers, worker);
        free_slots--;
        s_effect_t *acquired = s_effect (self, EFFECT_ACQUIRED);
        s_copy (acquired->worker, sizeof acquired->worker, worker->name);
        s_copy (acquired->id, sizeof acquired->id, wait->id);
        const json_t *action;
        if (s_mark_scheduled (self, txn, wait->id, worker->name, now, &action) != 0 ||
            store_del_id (txn, self->waiting, wait->key) != STORE_OK)
            return -1;
        s_fact_packed (self, action);
        size_t effects = zlist_size (self->effects);
        s_dispatch_packed (self, action, worker->name);
        if (zlist_size (self->effects) == effects) //  no dispatch: not scheduled
            return -1;
        s_effect_t *dequeue = s_effect (self, EFFECT_DEQUEUE);
        s_copy (dequeue->id, sizeof dequeue->id, wait->id);
        dequeue->handle = zlistx_cursor (self->queue);
        planned++;
    }
    return 0;
}

//  In its own transaction (what no batch took)

typedef struct {
    s_executor_t *self;
    s_wait_t *items[S_SCHEDULE_MAX];
    char workers[S_SCHEDULE_MAX][256];
    size_t count;
    proto_envelope_t *dispatches[S_SCHEDULE_MAX]; //  NULL: not scheduled
    proto_envelope_t *facts[S_SCHEDULE_MAX];
} s_plan_t;

static int
s_apply_plan (store_txn_t *txn, void *arg)
{
    s_plan_t *plan = (s_plan_t *)arg;
    s_executor_t *self = plan->self;
    int64_t now = proto_now_usec ();
    for (size_t i = 0; i < plan->count; i++) {
        proto_envelope_destroy (&plan->dispatches[i]); //  a retry starts over
        proto_envelope_destroy (&plan->facts[i]);
        s_wait_t *wait = plan->items[i];
        store_del_id (txn, self->waiting, wait->key);
        if (!s_wait_requested (self, txn, wait->id))
            continue; //  cancelled or gone: it leaves the queue
        char type[48];
        const json_t *action;
        if (s_mark_scheduled (self, txn, wait->id, plan->workers[i], now, &action) != 0)
            return -1;
        plan->facts[i] = s_fact_envelope (self, action, type, sizeof type);
        plan->dispatches[i] = s_dispatch_envelope (self, action);
        if (!plan->dispatches[i])
            return -1;
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
    int free_slots = executor_workers_free (self->workers);
    for (s_wait_t *wait = (s_wait_t *)zlistx_first (self->queue);
         wait && plan->count < S_SCHEDULE_MAX && free_slots > 0;
         wait = (s_wait_t *)zlistx_next (self->queue)) {
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
        s_wait_t *wait = plan->items[i];
        if (code != STORE_OK || !plan->dispatches[i]) {
            executor_workers_release (self->workers, plan->workers[i]);
            if (code != STORE_OK)
                continue; //  stays waiting; tried again next round
        } else {
            s_active_t *active = (s_active_t *)zhashx_lookup (self->actives, wait->id);
            if (active) {
                active->status = EXECUTION_SCHEDULED;
                s_copy (active->worker, sizeof active->worker, plan->workers[i]);
            }
            s_wlink_t *wl = (s_wlink_t *)zhashx_lookup (self->links, plan->workers[i]);
            if (wl && bus_link_send (wl->link, &plan->dispatches[i]) != 0)
                zsys_warning ("executor: dispatch to %s is waiting (link full)",
                              plan->workers[i]);
            if (plan->facts[i]) {
                s_effect_t *effect = s_effect (self, EFFECT_FACT);
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
    s_apply_effects (self); //  the scheduled facts
}

//  ---------------------------------------------------------------------------
//  Workers coming and going

typedef struct {
    s_executor_t *self;
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
    s_executor_t *self = lost->self;
    json_t *stale;
    while ((stale = (json_t *)zlist_pop (lost->done)))
        json_decref (stale); //  a retry starts over
    //  What the policies do when these end (admit the next in line) goes to
    //  this transaction's own effects, applied after its commit
    zlist_t *outer = self->effects;
    self->effects = lost->effects;
    s_effects_clear (self);
    int64_t now = proto_now_usec ();
    for (char *id = (char *)zlist_first (lost->ids); id;
         id = (char *)zlist_next (lost->ids)) {
        json_t *record = s_record_get (txn, self, id);
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
            s_set_status (record, EXECUTION_REQUESTED, now);
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
            s_set_status (record, EXECUTION_ABANDONED, now);
            json_object_set_new (record, "ended", json_integer (now));
            json_object_set_new (
                record, "result",
                json_pack ("{s:s}", "error", "the worker running it was lost"));
            store_del (txn, self->active, id, strlen (id));
            if (s_policy_ended (self, txn, id,
                                json_string_value (json_object_get (record, "action")),
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
        if (s_record_put (txn, self, record) != 0) {
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

static void s_redispatch (s_executor_t *self, const char *name);

static void
s_unsettled_add (s_executor_t *self, const char *name, bool abandon_running,
                 zlist_t *only, bool requeue_running)
{
    s_unsettled_t *item = (s_unsettled_t *)zmalloc (sizeof (s_unsettled_t));
    s_copy (item->worker, sizeof item->worker, name);
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

static void
s_unsettled_destroy (s_unsettled_t **item_p)
{
    if (*item_p) {
        zlist_destroy (&(*item_p)->only);
        free (*item_p);
        *item_p = NULL;
    }
}

static void s_settle_worker_ids (s_executor_t *self, const char *name,
                                 bool abandon_running, zlist_t *only,
                                 bool requeue_running);

//  Settles that failed, tried again (each goes back on the list if it
//  fails again)
static void
s_unsettled_retry (s_executor_t *self)
{
    size_t count = zlist_size (self->unsettled);
    if (count == 0 || store_io_failing (self->store))
        return;
    while (count--) {
        s_unsettled_t *item = (s_unsettled_t *)zlist_pop (self->unsettled);
        s_settle_worker_ids (self, item->worker, item->abandon_running, item->only,
                             item->requeue_running);
        s_unsettled_destroy (&item);
    }
}

//  Settle the executions of worker `name`: all of them, or only those in
//  `only` (ids; NULL for all). `requeue_running`: those running never
//  started (the worker says so), they wait again.
static void
s_settle_worker_ids (s_executor_t *self, const char *name, bool abandon_running,
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
        for (s_active_t *active = (s_active_t *)zhashx_first (self->actives); active;
             active = (s_active_t *)zhashx_next (self->actives))
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
                    s_active_t *active = (s_active_t *)zhashx_lookup (self->actives, id);
                    if (active) {
                        active->status = EXECUTION_REQUESTED;
                        active->worker[0] = 0;
                    }
                    s_wait_t *wait = (s_wait_t *)zmalloc (sizeof (s_wait_t));
                    s_copy (wait->id, sizeof wait->id, id);
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
        //  Then what the policies did (the next in line admitted); nothing
        //  of it when the transaction failed
        s_effect_t *effect;
        while ((effect = (s_effect_t *)zlist_pop (lost.effects))) {
            if (code == STORE_OK)
                zlist_append (self->effects, effect);
            else
                s_effect_destroy (&effect);
        }
    }
    zlist_destroy (&lost.ids);
    zlist_destroy (&lost.done);
    zlist_destroy (&lost.effects);
    s_apply_effects (self);
}

static void
s_settle_worker (s_executor_t *self, const char *name, bool abandon_running)
{
    s_settle_worker_ids (self, name, abandon_running, NULL, false);
}

//  A registration says what the worker holds (`executions`): what we gave it
//  and it does not hold is settled (running: lost; scheduled: sent again,
//  the dispatch may not have arrived); what it holds and we did not give it
//  (settled meanwhile, or given to another) goes into `drop`, which the
//  worker gets in worker.reconciled.
static void
s_reconcile (s_executor_t *self, const char *name, const json_t *held, json_t *drop)
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
    for (s_active_t *active = (s_active_t *)zhashx_first (self->actives); active;
         active = (s_active_t *)zhashx_next (self->actives)) {
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
        s_active_t *active = (s_active_t *)zhashx_lookup (self->actives, key);
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
s_previous (s_executor_t *self, const char *name, const json_t *payload)
{
    const char *keys[2] = {"never_started", "stopped"};
    for (int k = 0; k < 2; k++) {
        zlist_t *ids = zlist_new ();
        size_t i;
        const json_t *item;
        json_array_foreach (json_object_get (payload, keys[k]), i, item)
        {
            const char *id = json_string_value (item);
            s_active_t *active =
                id ? (s_active_t *)zhashx_lookup (self->actives, id) : NULL;
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
        s_copy (fresh->endpoint, sizeof fresh->endpoint, endpoint);
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
        s_copy (fresh->name, sizeof fresh->name, name);
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
    s_wlink_t *wl_now = (s_wlink_t *)zhashx_lookup (self->links, name);
    json_t *answer = json_pack ("{s:s, s:o}", "worker", name, "drop", drop);
    proto_envelope_t *command = proto_envelope_new ("worker.reconciled", self->source);
    if (wl_now && command &&
        proto_envelope_set_payload_json (command, answer, NULL) == PROTO_OK &&
        bus_link_send (wl_now->link, &command) != 0)
        zsys_warning ("executor: worker.reconciled to %s is waiting (link full)", name);
    proto_envelope_destroy (&command);
    json_decref (answer);
}

//  ---------------------------------------------------------------------------
//  API requests (executor.query): reads, and the changes people make (run,
//  cancel, re-run). Changes are written in their own transaction and
//  answered after the commit; each is idempotent by request id.

//  A stored record as the api shows it: secret parameters masked; `brief`
//  (lists) leaves out result and log. Takes the record.
static json_t *
s_record_public (s_executor_t *self, json_t *record, bool brief)
{
    const json_t *action = registry_client_get (
        self->registry, "action", json_string_value (json_object_get (record, "action")));
    json_object_set_new (record, "parameters",
                         registry_params_mask (json_object_get (action, "parameters"),
                                               json_object_get (record, "parameters")));
    if (!json_object_get (record, "parent"))
        json_object_set_new (record, "parent", json_null ());
    if (brief) {
        json_object_del (record, "result");
        json_object_del (record, "log");
    }
    return record;
}

typedef struct {
    s_executor_t *self;
    json_t *payload; //  for s_enforcement: key, action, parameters, parent
    const char *key;
    char id[S_ID_SIZE]; //  out: the execution
    char code[32];      //  out: why it was refused
    char message[512];
} s_run_t;

static int
s_apply_run (store_txn_t *txn, void *arg)
{
    s_run_t *run = (s_run_t *)arg;
    s_executor_t *self = run->self;
    s_effects_clear (self); //  a retry of this transaction starts over
    self->queued_in_batch = false;
    run->id[0] = 0;
    const void *data;
    size_t size;
    if (store_get (txn, self->by_enforcement, run->key, strlen (run->key), &data,
                   &size) == STORE_OK) {
        snprintf (run->id, sizeof run->id, "%.*s", (int)size, (const char *)data);
        return 0; //  the same request again: the same execution
    }
    bus_command_t info = {.peer = "api"};
    if (s_enforcement (self, txn, run->payload, &info) != 0) {
        snprintf (run->code, sizeof run->code, "%s",
                  info.reject_code[0] ? info.reject_code : "store");
        snprintf (run->message, sizeof run->message, "%s",
                  info.reject_code[0] ? info.reject_message
                                      : "cannot write the execution");
        return -1;
    }
    if (store_get (txn, self->by_enforcement, run->key, strlen (run->key), &data,
                   &size) == STORE_OK)
        snprintf (run->id, sizeof run->id, "%.*s", (int)size, (const char *)data);
    return 0;
}

//  Create an execution of `ref` with `given` parameters for request `request`
//  (natural key "run:<request>"), `parent` for a re-run.
static void
s_api_run (s_executor_t *self, const char *request, const char *ref, json_t *given,
           const char *parent, actor_answer_t *answer)
{
    const json_t *action = registry_client_get (self->registry, "action", ref);
    if (!action) {
        actor_query_fail (answer, "not_found", "action '%s' does not exist", ref);
        return;
    }
    if (json_is_false (json_object_get (action, "enabled"))) {
        actor_query_fail (answer, "invalid", "action '%s' is disabled", ref);
        return;
    }
    char reason[512] = "";
    json_t *checked = registry_params_apply (json_object_get (action, "parameters"),
                                             given, reason, sizeof reason);
    if (!checked) {
        actor_query_fail (answer, "invalid", "%s: %s", ref, reason);
        return;
    }
    json_decref (checked);
    char key[64];
    snprintf (key, sizeof key, "run:%s", request);
    s_run_t run = {.self = self, .key = key};
    run.payload = json_pack ("{s:s, s:s, s:o}", "key", key, "action", ref, "parameters",
                             given ? json_incref (given) : json_object ());
    if (parent)
        json_object_set_new (run.payload, "parent", json_string (parent));
    store_code_t code = store_write (self->store, s_apply_run, &run);
    json_decref (run.payload);
    if (code != STORE_OK) {
        s_effects_clear (self);
        self->queued_in_batch = false;
        if (run.code[0])
            actor_query_fail (answer, run.code, "%s", run.message);
        else
            actor_query_fail (answer, "store", "cannot write the execution: %s",
                              store_last_error (self->store));
        return;
    }
    s_apply_effects (self);
    self->queued_in_batch = false;
    answer->result = json_pack ("{s:s}", "execution", run.id);
}

typedef struct {
    s_executor_t *self;
    const char *id;
    int before;       //  status found
    int after;        //  status written (-1: nothing to do)
    char worker[256]; //  assigned worker
    uint64_t wait_key;
} s_cancel_t;

static int
s_apply_cancel (store_txn_t *txn, void *arg)
{
    s_cancel_t *cancel = (s_cancel_t *)arg;
    s_executor_t *self = cancel->self;
    s_effects_clear (self);
    cancel->before = cancel->after = -1;
    json_t *record = s_record_get (txn, self, cancel->id);
    if (!record)
        return 0;
    cancel->before =
        execution_status_parse (json_string_value (json_object_get (record, "status")));
    const char *worker = json_string_value (json_object_get (record, "worker"));
    s_copy (cancel->worker, sizeof cancel->worker, worker ? worker : "");
    if (cancel->before < 0 || execution_status_terminal (cancel->before) ||
        cancel->before == EXECUTION_CANCELING) {
        json_decref (record);
        return 0;
    }
    //  Not on a worker, or on one that cannot hear us: cancelled here and now.
    //  On a live worker: canceling until the worker reports how it ended.
    s_wlink_t *wl = cancel->worker[0]
                        ? (s_wlink_t *)zhashx_lookup (self->links, cancel->worker)
                        : NULL;
    executor_worker_t *known =
        cancel->worker[0] ? executor_workers_find (self->workers, cancel->worker) : NULL;
    bool on_worker = cancel->before != EXECUTION_REQUESTED &&
                     cancel->before != EXECUTION_DELAYED &&
                     cancel->before != EXECUTION_PENDING && wl && known && known->alive;
    int64_t now = proto_now_usec ();
    if (on_worker) {
        cancel->after = EXECUTION_CANCELING;
        s_set_status (record, EXECUTION_CANCELING, now);
    } else {
        cancel->after = EXECUTION_CANCELLED;
        s_set_status (record, EXECUTION_CANCELLED, now);
        json_object_set_new (record, "ended", json_integer (now));
        json_object_set_new (record, "result",
                             json_pack ("{s:s}", "error", "cancelled by request"));
        store_del (txn, self->active, cancel->id, strlen (cancel->id));
        json_t *inquiry = cancel->before == EXECUTION_PENDING
                              ? executor_inquiry_get (self->inquiry, txn, cancel->id)
                              : NULL;
        if (inquiry &&
            streq (json_string_value (json_object_get (inquiry, "status")) ?: "",
                   "pending")) {
            if (executor_inquiry_close (self->inquiry, txn, inquiry, "cancelled", NULL,
                                        NULL, NULL, now) != 0) {
                json_decref (inquiry);
                json_decref (record);
                return -1;
            }
            s_inquiry_fact (self, "inquiry.cancelled", inquiry);
        }
        json_decref (inquiry);
        if (s_policy_ended (self, txn, cancel->id,
                            json_string_value (json_object_get (record, "action")),
                            EXECUTION_CANCELLED) != 0) {
            json_decref (record);
            return -1;
        }
        if (cancel->before == EXECUTION_REQUESTED || cancel->before == EXECUTION_DELAYED)
            for (s_wait_t *wait = (s_wait_t *)zlistx_first (self->queue); wait;
                 wait = (s_wait_t *)zlistx_next (self->queue))
                if (streq (wait->id, cancel->id)) {
                    store_del_id (txn, self->waiting, wait->key);
                    break;
                }
    }
    s_fact (self, record);
    int rc = s_record_put (txn, self, record);
    json_decref (record);
    return rc;
}

static void
s_api_cancel (s_executor_t *self, const char *id, actor_answer_t *answer)
{
    s_cancel_t cancel = {.self = self, .id = id};
    store_code_t code = store_write (self->store, s_apply_cancel, &cancel);
    if (code != STORE_OK) {
        s_effects_clear (self);
        actor_query_fail (answer, "store", "cannot cancel: %s",
                          store_last_error (self->store));
        return;
    }
    if (cancel.before < 0) {
        actor_query_fail (answer, "not_found", "execution %s does not exist", id);
        return;
    }
    if (execution_status_terminal (cancel.before)) {
        actor_query_fail (answer, "conflict", "execution %s has already ended (%s)", id,
                          execution_status_name (cancel.before));
        return;
    }
    s_apply_effects (self); //  the fact
    if (cancel.after == EXECUTION_CANCELLED) {
        for (s_wait_t *wait = (s_wait_t *)zlistx_first (self->queue); wait;
             wait = (s_wait_t *)zlistx_next (self->queue))
            if (streq (wait->id, id)) {
                zlistx_delete (self->queue, zlistx_cursor (self->queue));
                break;
            }
        //  (a pending execution gave its worker slot back when it went pending)
        if (cancel.before != EXECUTION_REQUESTED && cancel.before != EXECUTION_DELAYED &&
            cancel.before != EXECUTION_PENDING && cancel.worker[0])
            executor_workers_release (self->workers, cancel.worker);
        zhashx_delete (self->actives, id);
    } else if (cancel.after == EXECUTION_CANCELING) {
        s_active_t *active = (s_active_t *)zhashx_lookup (self->actives, id);
        if (active)
            active->status = EXECUTION_CANCELING;
        s_wlink_t *wl = (s_wlink_t *)zhashx_lookup (self->links, cancel.worker);
        json_t *payload = json_pack ("{s:s}", "execution", id);
        proto_envelope_t *command = proto_envelope_new ("execution.cancel", self->source);
        if (wl && command && payload &&
            proto_envelope_set_payload_json (command, payload, NULL) == PROTO_OK &&
            bus_link_send (wl->link, &command) != 0)
            zsys_warning ("executor: cancel of %s to %s is waiting (link full)", id,
                          cancel.worker);
        proto_envelope_destroy (&command);
        json_decref (payload);
    }
    answer->result = json_pack ("{s:s, s:s}", "execution", id, "status",
                                cancel.after >= 0 ? execution_status_name (cancel.after)
                                                  : "canceling");
}

static json_t *
s_api_get (s_executor_t *self, const char *id)
{
    store_txn_t *txn = store_read_begin (self->store);
    json_t *record = txn ? s_record_get (txn, self, id) : NULL;
    store_read_end (&txn);
    return record;
}

//  api.execution.list: newest first (ids are time-ordered), filtered.
static void
s_api_list (s_executor_t *self, json_t *payload, actor_answer_t *answer)
{
    const char *status = actor_arg_str (payload, "status", answer);
    const char *action = actor_arg_str (payload, "action", answer);
    const char *rule = actor_arg_str (payload, "rule", answer);
    const char *before = actor_arg_str (payload, "before", answer);
    int64_t since = actor_arg_int (payload, "since", 0, 0, INT64_MAX, answer);
    int64_t until = actor_arg_int (payload, "until", INT64_MAX, 0, INT64_MAX, answer);
    int64_t limit =
        actor_arg_int (payload, "limit", S_LIST_DEFAULT, 1, S_LIST_MAX, answer);
    if (answer->code[0])
        return;
    if (status && execution_status_parse (status) < 0) {
        actor_query_fail (answer, "bad_request", "status: '%.64s' is not a status",
                          status);
        return;
    }
    if (before && strlen (before) >= S_ID_SIZE) {
        actor_query_fail (answer, "bad_request", "before: not an execution id");
        return;
    }
    store_txn_t *txn = store_read_begin (self->store);
    store_cursor_t *cursor = txn ? store_cursor_new (txn, self->executions) : NULL;
    if (!cursor) {
        store_read_end (&txn);
        actor_query_fail (answer, "store", "cannot read: %s",
                          store_last_error (self->store));
        return;
    }
    store_code_t code;
    if (before) {
        code = store_cursor_seek (cursor, before, strlen (before));
        code = code == STORE_OK ? store_cursor_prev (cursor) : store_cursor_last (cursor);
    } else
        code = store_cursor_last (cursor);
    actor_page_t page; //  cut by bytes as well: a reply is one frame
    actor_page_init (&page, (size_t)limit);
    char next[S_ID_SIZE] = "";
    size_t seen = 0;
    while (code == STORE_OK && !actor_page_full (&page) && seen++ < S_SCAN_MAX) {
        size_t key_size, size;
        const char *key = (const char *)store_cursor_key (cursor, &key_size);
        const void *data = store_cursor_data (cursor, &size);
        json_t *record = executor_record_decode (data, size);
        code = store_cursor_prev (cursor);
        if (!record)
            continue;
        json_int_t requested = json_integer_value (json_object_get (record, "requested"));
        const char *its_status = json_string_value (json_object_get (record, "status"));
        const char *its_action = json_string_value (json_object_get (record, "action"));
        const char *its_rule = json_string_value (json_object_get (record, "rule"));
        bool keep = requested >= since && requested <= until &&
                    (!status || (its_status && streq (status, its_status))) &&
                    (!action || (its_action && streq (action, its_action))) &&
                    (!rule || (its_rule && streq (rule, its_rule)));
        if (!keep)
            json_decref (record);
        else if (actor_page_add (&page, s_record_public (self, record, true)))
            snprintf (next, sizeof next, "%.*s",
                      (int)(key_size < S_ID_SIZE ? key_size : S_ID_SIZE - 1), key);
    }
    if (code != STORE_OK && !page.more)
        next[0] = 0; //  nothing older
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    answer->result = json_pack ("{s:o, s:o}", "items", page.items, "next",
                                next[0] ? json_string (next) : json_null ());
}

static json_t *
s_api_workers (s_executor_t *self)
{
    json_t *items = json_array ();
    for (size_t i = 0; i < executor_workers_count (self->workers); i++) {
        executor_worker_t *worker = executor_workers_at (self->workers, i);
        json_t *runtimes = json_array ();
        for (int r = 0; r < worker->runtime_count; r++)
            json_array_append_new (runtimes, json_string (worker->runtimes[r]));
        s_wlink_t *wl = (s_wlink_t *)zhashx_lookup (self->links, worker->name);
        json_array_append_new (
            items,
            json_pack ("{s:s, s:s, s:o, s:i, s:i, s:b, s:b, s:I}", "worker", worker->name,
                       "endpoint", worker->endpoint, "runtimes", runtimes, "slots",
                       worker->slots / S_PREFETCH, "busy", worker->busy, "alive",
                       worker->alive, "draining", worker->draining, "last_heartbeat",
                       (json_int_t)(wl ? bus_link_last_heard_usec (wl->link)
                                       : worker->last_seen_usec)));
    }
    return json_pack ("{s:o}", "items", items);
}

//  api.execution.changes (executor_changes.h): the records it reads here
static json_t *
s_changes_record (void *arg, executor_change_kind_t kind, const char *key)
{
    s_executor_t *self = (s_executor_t *)arg;
    if (kind == EXECUTOR_CHANGE_WORKER) {
        json_t *all = s_api_workers (self), *item, *found = NULL;
        size_t i;
        json_array_foreach (json_object_get (all, "items"), i, item)
        {
            const char *name = json_string_value (json_object_get (item, "worker"));
            if (!found && name && streq (name, key))
                found = json_incref (item);
        }
        json_decref (all);
        return found;
    }
    if (kind == EXECUTOR_CHANGE_INQUIRY) {
        store_txn_t *txn = store_read_begin (self->store);
        json_t *inquiry = txn ? executor_inquiry_get (self->inquiry, txn, key) : NULL;
        store_read_end (&txn);
        if (inquiry)
            json_object_del (inquiry, "request");
        return inquiry;
    }
    json_t *record = s_api_get (self, key);
    return record ? s_record_public (self, record, true) : NULL;
}

//  Every non-terminal execution: the active ones, and those pending (an
//  inquiry open: not in actives) from the deadline index.
static json_t *
s_changes_active_ids (void *arg)
{
    s_executor_t *self = (s_executor_t *)arg;
    json_t *ids = json_array ();
    for (void *item = zhashx_first (self->actives); item;
         item = zhashx_next (self->actives))
        json_array_append_new (ids,
                               json_string ((const char *)zhashx_cursor (self->actives)));
    store_txn_t *txn = store_read_begin (self->store);
    size_t pending = txn ? (size_t)executor_inquiry_pending (self->inquiry, txn) : 0;
    char (*pending_ids)[40] = pending ? calloc (pending, 40) : NULL;
    if (pending_ids) {
        size_t count =
            executor_inquiry_due (self->inquiry, txn, INT64_MAX, pending_ids, pending);
        for (size_t i = 0; i < count; i++)
            json_array_append_new (ids, json_string (pending_ids[i]));
    }
    free (pending_ids);
    store_read_end (&txn);
    return ids;
}

static json_t *
s_changes_workers (void *arg)
{
    json_t *all = s_api_workers ((s_executor_t *)arg);
    json_t *items = json_incref (json_object_get (all, "items"));
    json_decref (all);
    return items;
}

static void
s_handle_query (void *arg, const char *type, json_t *payload, actor_answer_t *answer)
{
    s_executor_t *self = (s_executor_t *)arg;
    if (streq (type, "api.execution.changes")) {
        executor_changes_source_t source = {s_changes_record, s_changes_active_ids,
                                            s_changes_workers, self};
        executor_changes_query (self->changes, bus_pub_id (self->pub) & INT64_MAX,
                                bus_pub_seq (self->pub), payload, &source, answer);
        return;
    }
    if (streq (type, "api.execution.list")) {
        s_api_list (self, payload, answer);
        return;
    }
    if (streq (type, "api.worker.list")) {
        const char *after = actor_arg_str (payload, "after", answer);
        json_t *all = answer->code[0] ? NULL : s_api_workers (self);
        if (all) //  by name, cut by bytes: a reply is one frame
            answer->result = actor_page_list (json_object_get (all, "items"), "worker",
                                              after, 0, NULL);
        json_decref (all);
        return;
    }
    if (streq (type, "api.inquiry.list")) {
        s_api_inquiry_list (self, payload, answer);
        return;
    }
    if (streq (type, "api.action.queue_stats")) {
        const char *ref = actor_arg_str (payload, "ref", answer);
        if (answer->code[0])
            return;
        if (!ref || strlen (ref) > 255) {
            actor_query_fail (answer, "bad_request", "ref: required (an action ref)");
            return;
        }
        if (!registry_client_get (self->registry, "action", ref)) {
            actor_query_fail (answer, "not_found", "action '%s' does not exist", ref);
            return;
        }
        store_txn_t *txn = store_read_begin (self->store);
        if (txn)
            answer->result =
                executor_policy_stats (self->policy, txn, ref, proto_now_usec ());
        else
            actor_query_fail (answer, "store", "cannot read: %s",
                              store_last_error (self->store));
        store_read_end (&txn);
        return;
    }
    if (streq (type, "api.status")) {
        json_t *by_status = json_object ();
        for (int s = 0; s < EXECUTION_STATUS_COUNT; s++)
            json_object_set_new (by_status, execution_status_name ((execution_status_t)s),
                                 json_integer ((json_int_t)self->by_status[s]));
        store_txn_t *txn = store_read_begin (self->store);
        uint64_t pending = txn ? executor_inquiry_pending (self->inquiry, txn) : 0;
        store_read_end (&txn);
        answer->result = json_pack (
            "{s:b, s:I, s:I, s:I, s:I, s:o, s:I, s:I}", "up", 1, "executions",
            (json_int_t)self->created, "active", (json_int_t)zhashx_size (self->actives),
            "waiting", (json_int_t)zlistx_size (self->queue), "workers",
            (json_int_t)executor_workers_count (self->workers), "by_status", by_status,
            "store_bytes", (json_int_t)store_used_size (self->store), "inquiries_pending",
            (json_int_t)pending);
        return;
    }
    if (streq (type, "api.execution.run")) {
        const char *action = actor_arg_str (payload, "action", answer);
        const char *request = actor_arg_str (payload, "request", answer);
        json_t *given = json_object_get (payload, "parameters");
        if (answer->code[0])
            return;
        if (!action || !request || strlen (request) > 40)
            actor_query_fail (answer, "bad_request", "action: required (an action ref)");
        else if (given && !json_is_object (given) && !json_is_null (given))
            actor_query_fail (answer, "bad_request", "parameters: expected a map");
        else
            s_api_run (self, request, action, json_is_object (given) ? given : NULL, NULL,
                       answer);
        return;
    }
    const char *id = actor_arg_str (payload, "id", answer);
    if (answer->code[0])
        return;
    if (!id || strlen (id) >= S_ID_SIZE) {
        actor_query_fail (answer, "bad_request", "id: required (an execution id)");
        return;
    }
    if (streq (type, "api.execution.get")) {
        json_t *record = s_api_get (self, id);
        if (record)
            answer->result = s_record_public (self, record, false);
        else
            actor_query_fail (answer, "not_found", "execution %s does not exist", id);
    } else if (streq (type, "api.execution.cancel"))
        s_api_cancel (self, id, answer);
    else if (streq (type, "api.inquiry.get")) {
        store_txn_t *txn = store_read_begin (self->store);
        json_t *inquiry = txn ? executor_inquiry_get (self->inquiry, txn, id) : NULL;
        store_read_end (&txn);
        if (inquiry) {
            json_object_del (inquiry, "request");
            answer->result = inquiry;
        } else
            actor_query_fail (answer, "not_found", "inquiry %s does not exist", id);
    } else if (streq (type, "api.inquiry.respond")) {
        const char *identity = actor_arg_str (payload, "identity", answer);
        const char *request = actor_arg_str (payload, "request", answer);
        const json_t *response = json_object_get (payload, "response");
        if (answer->code[0])
            return;
        if (!response)
            actor_query_fail (answer, "bad_request",
                              "response: required (the answer, checked against the "
                              "inquiry's response_schema)");
        else if (identity && strlen (identity) > 256)
            actor_query_fail (answer, "bad_request", "identity: at most 256 bytes");
        else if (request && strlen (request) > 40)
            actor_query_fail (answer, "bad_request", "request: not a request id");
        else
            s_api_respond (self, id, identity && *identity ? identity : NULL, request,
                           response, answer);
    } else if (streq (type, "api.execution.rerun")) {
        const char *request = actor_arg_str (payload, "request", answer);
        json_t *overrides = json_object_get (payload, "parameters");
        if (answer->code[0])
            return;
        if (!request || strlen (request) > 40) {
            actor_query_fail (answer, "bad_request", "request: required");
            return;
        }
        if (overrides && !json_is_object (overrides) && !json_is_null (overrides)) {
            actor_query_fail (answer, "bad_request", "parameters: expected a map");
            return;
        }
        json_t *original = s_api_get (self, id);
        if (!original) {
            actor_query_fail (answer, "not_found", "execution %s does not exist", id);
            return;
        }
        json_t *parameters = json_deep_copy (json_object_get (original, "parameters"));
        if (!json_is_object (parameters)) {
            json_decref (parameters);
            parameters = json_object ();
        }
        if (json_is_object (overrides))
            json_object_update (parameters, overrides);
        s_api_run (self, request,
                   json_string_value (json_object_get (original, "action")), parameters,
                   id, answer);
        json_decref (parameters);
        json_decref (original);
    } else
        actor_query_fail (answer, "unknown_type", "the executor does not answer '%s'",
                          type);
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
        s_copy (active->worker, sizeof active->worker, worker ? worker : "");
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
    //  A deadline that passed while we were down fires at once
    self->inquiry_next = executor_inquiry_next_deadline (self->inquiry, txn);
    uint64_t pending = executor_inquiry_pending (self->inquiry, txn);
    store_read_end (&txn);
    if (pending)
        zsys_info ("executor: %" PRIu64 " inquiries pending", pending);
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
        json_object_set_new (status, "late", json_integer ((json_int_t)self->late));
        json_object_set_new (status, "repeated_status",
                             json_integer ((json_int_t)self->repeated));
        actor_reply_json (self->pipe, &status);
    }
    zstr_free (&command);
}

static void
s_destroy (s_executor_t *self)
{
    zhashx_destroy (&self->links);
    zhashx_destroy (&self->actives);
    zhashx_destroy (&self->batch_running);
    if (self->unsettled) {
        s_unsettled_t *item;
        while ((item = (s_unsettled_t *)zlist_pop (self->unsettled)))
            s_unsettled_destroy (&item);
        zlist_destroy (&self->unsettled);
    }
    zhashx_destroy (&self->instances);
    zlistx_destroy (&self->queue);
    if (self->effects) {
        s_effects_clear (self);
        zlist_destroy (&self->effects);
    }
    executor_workers_destroy (&self->workers);
    registry_client_destroy (&self->registry);
    actor_query_destroy (&self->query);
    executor_policy_destroy (&self->policy);
    executor_inquiry_destroy (&self->inquiry);
    bus_inbox_destroy (&self->inbox);
    bus_pub_destroy (&self->pub);
    executor_changes_destroy (&self->changes);
    store_close (&self->store);
    if (self->record_ready) {
        executor_record_release (&self->record);
        msgpack_sbuffer_destroy (&self->packed);
        msgpack_sbuffer_destroy (&self->params);
        self->record_ready = false;
    }
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
    executor_record_init (&self->record);
    msgpack_sbuffer_init (&self->packed);
    msgpack_sbuffer_init (&self->params);
    self->record_ready = true;
    actor_host (config, self->host, sizeof self->host);
    snprintf (self->source, sizeof self->source, "executor@%s", self->host);
    actor_link_config (config, &self->link_config);
    self->workers = executor_workers_new ();
    self->links = zhashx_new ();
    self->actives = zhashx_new ();
    self->batch_running = zhashx_new ();
    self->unsettled = zlist_new ();
    self->instances = zhashx_new ();
    self->queue = zlistx_new ();
    self->effects = zlist_new ();
    if (!self->workers || !self->links || !self->actives || !self->batch_running ||
        !self->unsettled || !self->queue || !self->effects)
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
    self->inquiry = executor_inquiry_new (self->store);
    if (!self->inquiry) {
        zsys_error ("executor: %s", store_last_error (self->store));
        return -1;
    }
    if (s_load (self) != 0)
        return -1;
    self->registry = registry_client_new (config->topology, self->source);
    //  A burst of thousands of executions is tens of thousands of facts: a
    //  subscriber a moment behind should not lose them (it resyncs if it does)
    self->pub =
        bus_pub_new (bus_topology_bind (config->topology, "executor.facts"), 100000);
    self->changes = executor_changes_new (EXECUTOR_CHANGES_CAPACITY);
    if (!self->registry || !self->pub || !self->changes)
        return -1;
    //  Definitions first: an enforcement needs its action's schema
    if (registry_client_wait_synced (self->registry, 30000) != 0)
        zsys_warning ("executor: no registry snapshot yet; commands wait for it");
    self->inbox =
        bus_inbox_new (bus_topology_bind (config->topology, "executor.commands"),
                       "executor", self->store, &self->link_config);
    if (!self->inbox)
        return -1;
    bus_inbox_set_batch_end (self->inbox, s_schedule_batch, self);
    //  One execution per enforcement (by_enforcement, looked up first): a
    //  redelivered enforcement.create needs no processed-id record. Status
    //  reports come from workers, which keep nothing across a restart and
    //  so never resend in a new epoch what the old one sent (the inbox's
    //  per-sender order drops a resend within an epoch); and a report the
    //  execution already reflects (its worker, its status) changes nothing
    //  in s_status_packed, not even the late list.
    bus_inbox_set_handler_dedups (self->inbox, "enforcement.create");
    bus_inbox_set_handler_dedups (self->inbox, "execution.status");
    self->policy = executor_policy_new (self->store);
    if (!self->policy)
        return -1;
    self->query = actor_query_new (bus_topology_bind (config->topology, "executor.query"),
                                   self->source);
    if (!self->query)
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
    int64_t heartbeat_at = zclock_mono ();
    while (!self->terminated) {
        //  A heartbeat fact every interval (zguide Clone's HUGZ): its sequence
        //  number shows a subscriber the facts it lost at the end of a burst,
        //  and a restart (a new publisher id), without waiting for the next
        //  execution
        if (zclock_mono () >= heartbeat_at) {
            json_t *beat = json_object ();
            s_publish (self, "executor.heartbeat", beat);
            json_decref (beat);
            heartbeat_at = zclock_mono () + self->link_config.heartbeat_ms;
        }
        s_policy_sync (self);
        size_t needed = 5 + zhashx_size (self->links);
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
        items[n++] = (zmq_pollitem_t){zsock_resolve (actor_query_sock (self->query)), 0,
                                      ZMQ_POLLIN, 0};
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
        if (executor_policy_tick_ms (self->policy) >= 0) {
            int64_t left = self->policy_tick_at - zclock_mono ();
            t = left < 0 ? 0 : (int)left;
            if (timeout < 0 || t < timeout)
                timeout = t;
        }
        if (self->inquiry_next != INT64_MAX) {
            //  Rounded up: woken at the deadline, not a millisecond before
            int64_t left = self->inquiry_next - proto_now_usec ();
            t = left <= 0             ? 0
                : left > 3600000000LL ? 3600000
                                      : (int)((left + 999) / 1000);
            if (timeout < 0 || t < timeout)
                timeout = t;
        }
        int64_t until_beat = heartbeat_at - zclock_mono ();
        if (timeout < 0 || until_beat < timeout)
            timeout = until_beat < 0 ? 0 : (int)until_beat;
        if (self->schedule_soon)
            timeout = 0;
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
        for (size_t i = 5; i < n; i++)
            if (items[i].revents & ZMQ_POLLIN)
                bus_link_handle (owners[i]->link);
        if (items[4].revents & ZMQ_POLLIN)
            actor_query_handle (self->query, s_handle_query, self);
        if (items[3].revents & ZMQ_POLLIN) {
            self->batch_open = false;
            self->queued_in_batch = false;
            int delivered = bus_inbox_process (self->inbox, s_handle_command, self);
            zhashx_purge (self->batch_running); //  committed, or undone
            self->batch_open = false;
            self->queued_in_batch = false;
            if (delivered < 0)
                s_effects_clear (self); //  nothing committed: senders resend
            else
                s_apply_effects (self);
            //  What waits for the slots this batch freed: taken by the next
            //  batch when one is already waiting (one commit a turn), else
            //  by s_schedule on a turn that comes at once
            self->schedule_soon = delivered > 0 && zlistx_size (self->queue) > 0;
        }
        s_unsettled_retry (self);
        s_policy_tick (self);
        s_inquiry_tick (self);
        if (!(items[3].revents & ZMQ_POLLIN))
            self->schedule_soon = false;
        if (!self->schedule_soon)
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
            const void *data = store_cursor_data (cursor, &size);
            json_t *record = executor_record_decode (data, size);
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
