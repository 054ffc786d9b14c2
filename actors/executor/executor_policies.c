/*  executor_policies: the executor's side of executor_policy: the callbacks
    it makes inside a transaction, and what happens when an execution ends.
    See executor_internal.h.
*/
#include "actors/executor/executor_internal.h"

//  A delayed execution the policies let go: requested, waiting for a worker;
//  failed when its action was removed meanwhile (a pack removed or reloaded).
int
executor_policies_wake (void *arg, store_txn_t *txn, const char *id)
{
    executor_t *self = (executor_t *)arg;
    if (executor_load (self, txn, id) != EXECUTION_DELAYED)
        return 0;
    char runner[32], ref[512];
    executor_move (self, EXECUTION_RELEASE, proto_now_usec ());
    if (!executor_action_of (self, ref, sizeof ref)) {
        //  Its slot is given back (the next in its queue ends the same way)
        char reason[600];
        snprintf (reason, sizeof reason, "action %s was removed", ref);
        executor_end_t end = {
            .event = EXECUTION_REJECT, .error = reason, .policies = true};
        if (executor_end (self, txn, id, &end, proto_now_usec ()) < 0)
            return -1;
        executor_effect_t *effect = executor_effect_new (self, EFFECT_FORGET);
        executor_copy (effect->id, sizeof effect->id, id);
        return 0;
    }
    executor_record_text (&self->record, EXECUTOR_RECORD_RUNNER, runner, sizeof runner);
    if (executor_schedule_wait (self, txn, id, runner) != 0)
        return -1;
    executor_fact_packed (self, executor_action_of (self, ref, sizeof ref));
    return executor_packed_put (self, txn, id);
}

//  Execution `id`, delayed, ends by `event` without having had a worker.
static int
s_end_delayed (executor_t *self, store_txn_t *txn, const char *id,
               execution_event_t event, const char *error)
{
    executor_end_t end = {.event = event, .error = error};
    if (executor_end (self, txn, id, &end, proto_now_usec ()) < 0)
        return -1;
    executor_effect_t *effect = executor_effect_new (self, EFFECT_FORGET);
    executor_copy (effect->id, sizeof effect->id, id);
    return 0;
}

//  A delayed execution that waited longer than its queue_timeout.
static int
s_policy_expire (void *arg, store_txn_t *txn, const char *id)
{
    executor_t *self = (executor_t *)arg;
    if (executor_load (self, txn, id) != EXECUTION_DELAYED)
        return 0;
    return s_end_delayed (self, txn, id, EXECUTION_EXPIRE,
                          "waited longer than its policy's queue_timeout in the queue of "
                          "its action");
}

//  A deferred execution (a retry) whose time has come: admitted now, queued,
//  or refused, as a new one would be.
static int
s_policy_due (void *arg, store_txn_t *txn, const char *id)
{
    executor_t *self = (executor_t *)arg;
    if (executor_load (self, txn, id) != EXECUTION_DELAYED)
        return 0; //  cancelled meanwhile
    char action[512], reason[512] = "";
    executor_admission_t decision = POLICY_ADMIT;
    executor_record_text (&self->record, EXECUTOR_RECORD_ACTION, action, sizeof action);
    if (*action && executor_policy_limits (self->policy, action)) {
        json_t *parameters = proto_json_from_msgpack (
            executor_record_get (&self->record, EXECUTOR_RECORD_PARAMETERS), "parameters",
            NULL);
        int rc =
            executor_policy_admit (self->policy, txn, id, action, parameters,
                                   proto_now_usec (), &decision, reason, sizeof reason);
        json_decref (parameters);
        if (rc != 0)
            return -1;
    }
    if (decision == POLICY_ADMIT)
        return executor_policies_wake (self, txn, id);
    if (decision == POLICY_CANCEL)
        return s_end_delayed (self, txn, id, EXECUTION_REFUSE, reason);
    return 0; //  POLICY_DELAY: queued, still delayed
}

static void
s_pack_field (msgpack_packer *pk, const char *key, const msgpack_object *value)
{
    executor_record_pack_str (pk, key);
    if (value)
        msgpack_pack_object (pk, *value);
    else
        msgpack_pack_nil (pk);
}

//  The enforcement.create of retry `attempt` of self->record (execution
//  `id`), after `delay` seconds, into `buffer`.
static void
s_retry_payload (executor_t *self, const char *id, int attempt, double delay, int64_t now,
                 msgpack_sbuffer *buffer)
{
    const executor_record_t *record = &self->record;
    char key[64];
    snprintf (key, sizeof key, "retry:%s", id);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    const msgpack_object *user = executor_record_extra (record, "user");
    msgpack_pack_map (&pk, 9 + (user != NULL));
    executor_record_pack_str (&pk, "key");
    executor_record_pack_str (&pk, key);
    if (user) //  a retry runs as the same user
        s_pack_field (&pk, "user", user);
    s_pack_field (&pk, "action", executor_record_get (record, EXECUTOR_RECORD_ACTION));
    s_pack_field (&pk, "parameters",
                  executor_record_get (record, EXECUTOR_RECORD_PARAMETERS));
    executor_record_pack_str (&pk, "parent");
    executor_record_pack_str (&pk, id);
    s_pack_field (&pk, "enforcement",
                  executor_record_get (record, EXECUTOR_RECORD_ENFORCEMENT));
    s_pack_field (&pk, "rule", executor_record_get (record, EXECUTOR_RECORD_RULE));
    s_pack_field (&pk, "event", executor_record_get (record, EXECUTOR_RECORD_EVENT));
    executor_record_pack_str (&pk, "retry_count");
    msgpack_pack_int (&pk, attempt);
    executor_record_pack_str (&pk, "not_before");
    msgpack_pack_int64 (&pk, now + (int64_t)(delay * 1e6));
}

//  The number of retries before self->record (0 for a first run).
static int
s_retries (executor_t *self)
{
    const msgpack_object *count = executor_record_extra (&self->record, "retry_count");
    return count && (count->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                     count->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
               ? (int)count->via.i64
               : 0;
}

//  Run execution `id` again under its retry policy `retry`, when attempts
//  are left. 0 or -1.
static int
s_retry (executor_t *self, store_txn_t *txn, const char *id, const json_t *retry,
         int64_t now)
{
    if (executor_load (self, txn, id) < 0)
        return 0;
    int attempt = s_retries (self) + 1;
    if (attempt > json_integer_value (json_object_get (retry, "max_retry_count")))
        return 0;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    s_retry_payload (self, id, attempt, executor_policy_retry_delay (retry, attempt), now,
                     &buffer);
    msgpack_unpacked payload;
    msgpack_unpacked_init (&payload);
    bus_command_t info = {.peer = "policy"};
    int rc = msgpack_unpack_next (&payload, buffer.data, buffer.size, NULL) ==
                     MSGPACK_UNPACK_SUCCESS
                 ? executor_create (self, txn, &payload.data, &info)
                 : -1;
    msgpack_unpacked_destroy (&payload);
    msgpack_sbuffer_destroy (&buffer);
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
    return s_retry (self, txn, id, retry, now);
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
