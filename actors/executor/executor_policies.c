/*  executor_policies: the executor's side of executor_policy: the callbacks it
    makes inside a transaction, and what happens when an execution ends. */
#include "actors/executor/executor_internal.h"

//  ---------------------------------------------------------------------------
//  Policies (executor_policy.h): the callbacks it makes inside a transaction,
//  and what happens when an execution ends

//  A delayed execution the policies let go: requested, waiting for a worker.
int
executor_policies_wake (void *arg, store_txn_t *txn, const char *id)
{
    executor_t *self = (executor_t *)arg;
    json_t *record = executor_json_get (txn, self, id);
    if (!record)
        return 0;
    int status =
        execution_status_parse (json_string_value (json_object_get (record, "status")));
    int rc = 0;
    if (status == EXECUTION_DELAYED) {
        executor_set_status (record, EXECUTION_REQUESTED, proto_now_usec ());
        uint64_t key = 0;
        if (store_insert (txn, self->waiting, id, strlen (id), &key) != STORE_OK ||
            executor_json_put (txn, self, record) != 0)
            rc = -1;
        else {
            executor_effect_t *effect = executor_effect_new (self, EFFECT_WAIT);
            executor_copy (effect->id, sizeof effect->id, id);
            snprintf (effect->runner, sizeof effect->runner, "%s",
                      json_string_value (json_object_get (record, "runner")) ?: "");
            effect->key = key;
            self->queued_in_batch = true;
            executor_fact_json (self, record);
        }
    }
    json_decref (record);
    return rc;
}

//  A delayed execution that waited longer than its queue_timeout.
static int
s_policy_expire (void *arg, store_txn_t *txn, const char *id)
{
    executor_t *self = (executor_t *)arg;
    json_t *record = executor_json_get (txn, self, id);
    if (!record)
        return 0;
    int status =
        execution_status_parse (json_string_value (json_object_get (record, "status")));
    int rc = 0;
    if (status == EXECUTION_DELAYED) {
        int64_t now = proto_now_usec ();
        executor_set_status (record, EXECUTION_TIMEOUT, now);
        json_object_set_new (record, "ended", json_integer (now));
        json_object_set_new (
            record, "result",
            json_pack ("{s:s}", "error",
                       "waited longer than its policy's queue_timeout in the queue of "
                       "its action"));
        store_del (txn, self->active, id, strlen (id));
        rc = executor_json_put (txn, self, record);
        executor_fact_json (self, record);
        executor_effect_t *effect = executor_effect_new (self, EFFECT_FORGET);
        executor_copy (effect->id, sizeof effect->id, id);
    }
    json_decref (record);
    return rc;
}

//  A deferred execution (a retry) whose time has come: admitted now, queued,
//  or refused, as a new one would be.
static int
s_policy_due (void *arg, store_txn_t *txn, const char *id)
{
    executor_t *self = (executor_t *)arg;
    json_t *record = executor_json_get (txn, self, id);
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
        rc = executor_policies_wake (self, txn, id);
    else if (decision == POLICY_CANCEL) {
        executor_set_status (record, EXECUTION_CANCELLED, now);
        json_object_set_new (record, "ended", json_integer (now));
        json_object_set_new (record, "result", json_pack ("{s:s}", "error", reason));
        store_del (txn, self->active, id, strlen (id));
        rc = executor_json_put (txn, self, record);
        executor_fact_json (self, record);
        executor_effect_t *effect = executor_effect_new (self, EFFECT_FORGET);
        executor_copy (effect->id, sizeof effect->id, id);
    } //  POLICY_DELAY: queued, still delayed
    json_decref (record);
    return rc;
}

//  Execution `id` of `action` has ended as `status` (in this transaction):
//  its slot goes to the next in line, and a failure its retry policy covers
//  is run again, after the policy's delay.
int
executor_policies_ended (executor_t *self, store_txn_t *txn, const char *id,
                         const char *action, int status)
{
    if (executor_policy_count (self->policy) == 0)
        return 0;
    int64_t now = proto_now_usec ();
    if (executor_policy_release (self->policy, txn, id, now, executor_policies_wake,
                                 self) != 0)
        return -1;
    const json_t *retry = action ? executor_policy_retry (self->policy, action) : NULL;
    const char *on = json_string_value (json_object_get (retry, "retry_on"));
    if (!retry || !on ||
        !((status == EXECUTION_FAILED && streq (on, "failure")) ||
          (status == EXECUTION_TIMEOUT && streq (on, "timeout")) ||
          (status == EXECUTION_ABANDONED && streq (on, "abandoned"))))
        return 0;
    json_t *record = executor_json_get (txn, self, id);
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
        if (!payload || executor_create_json (self, txn, payload, &info) != 0)
            rc = -1;
        json_decref (payload);
    }
    json_decref (record);
    return rc;
}

static int
s_apply_tick (store_txn_t *txn, void *arg)
{
    executor_t *self = (executor_t *)arg;
    executor_effects_clear (self); //  a retry of this transaction starts over
    self->queued_in_batch = false;
    return executor_policy_tick (self->policy, txn, proto_now_usec (),
                                 executor_policies_wake, s_policy_expire, s_policy_due,
                                 self);
}

//  Timers of the policies: queue heads a rate window lets through, queue
//  timeouts, retries that are due.
void
executor_policies_tick (executor_t *self)
{
    int every = executor_policy_tick_ms (self->policy);
    if (every < 0 || zclock_mono () < self->policy_tick_at)
        return;
    if (store_write (self->store, s_apply_tick, self) == STORE_OK)
        executor_effects_apply (self);
    else {
        executor_effects_clear (self);
        if (!store_io_failing (self->store)) //  a full disk is said once by the store
            zsys_error ("executor: policy timers: %s", store_last_error (self->store));
    }
    self->queued_in_batch = false;
    self->policy_tick_at = zclock_mono () + every;
}

//  Take the registry's policies when they changed.
void
executor_policies_sync (executor_t *self)
{
    uint64_t version = registry_client_version (self->registry);
    if (version == self->policy_version)
        return;
    self->policy_version = version;
    executor_policy_define (self->policy, registry_client_all (self->registry, "policy"));
    self->policy_tick_at = zclock_mono ();
}
