/*  executor_create: new executions (executor_internal.h). */
#include "actors/executor/executor_internal.h"

//  ---------------------------------------------------------------------------
//  Command handlers (inside the batch transaction)

int
executor_create_json (executor_t *self, store_txn_t *txn, json_t *payload,
                      bus_command_t *info)
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
    executor_set_status (record, EXECUTION_REQUESTED, now);
    executor_fact_json (self, record);
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
        executor_set_status (record, EXECUTION_DELAYED, now);
        if (store_put (txn, self->active, id, strlen (id), "", 0) != STORE_OK)
            rc = -1;
        executor_fact_json (self, record);
        executor_effect_t *effect = executor_effect_new (self, EFFECT_DELAYED);
        executor_copy (effect->id, sizeof effect->id, id);
    } else if (parameters && decision == POLICY_CANCEL) {
        executor_set_status (record, EXECUTION_CANCELLED, now);
        json_object_set_new (record, "ended", json_integer (now));
        json_object_set_new (record, "result", json_pack ("{s:s}", "error", reason));
        executor_fact_json (self, record);
    } else if (!parameters) {
        executor_set_status (record, EXECUTION_FAILED, now);
        json_object_set_new (record, "ended", json_integer (now));
        json_object_set_new (record, "result", json_pack ("{s:s}", "error", reason));
        executor_fact_json (self, record);
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
            executor_effect_t *acquired = executor_effect_new (self, EFFECT_ACQUIRED);
            executor_copy (acquired->worker, sizeof acquired->worker, worker->name);
            executor_copy (acquired->id, sizeof acquired->id, id);
            executor_set_status (record, EXECUTION_SCHEDULED, now);
            json_object_set_new (record, "worker", json_string (worker->name));
            executor_fact_json (self, record);
            executor_effect_t *dispatch = executor_effect_new (self, EFFECT_DISPATCH);
            dispatch->payload = json_deep_copy (record);
        } else {
            uint64_t key = 0;
            if (store_insert (txn, self->waiting, id, strlen (id), &key) != STORE_OK)
                rc = -1;
            executor_effect_t *effect = executor_effect_new (self, EFFECT_WAIT);
            executor_copy (effect->id, sizeof effect->id, id);
            executor_copy (effect->runner, sizeof effect->runner, runner ? runner : "");
            effect->key = key;
            self->queued_in_batch = true;
        }
    }
    if (rc == 0 && (executor_json_put (txn, self, record) != 0 ||
                    store_put (txn, self->by_enforcement, enforcement,
                               strlen (enforcement), id, strlen (id)) != STORE_OK))
        rc = -1;
    json_decref (record);
    return rc;
}

int
executor_create_packed (executor_t *self, store_txn_t *txn, const msgpack_object *payload,
                        bus_command_t *info)
{
    //  The natural key: the enforcement, or for a manual run "run:<request>"
    char enforcement[66], ref[256];
    const msgpack_object *key = proto_map_get (payload, "key");
    bool keyed = key && key->type == MSGPACK_OBJECT_STR;
    const msgpack_object *given = proto_map_get (payload, "parameters");
    if (!(keyed ? executor_get_str (payload, "key", enforcement, sizeof enforcement)
                : executor_get_str (payload, "enforcement", enforcement,
                                    sizeof enforcement)) ||
        !*enforcement || strlen (enforcement) > 64 ||
        !executor_get_str (payload, "action", ref, sizeof ref))
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
    executor_fact_packed (self, action);
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
        executor_fact_packed (self, action);
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
            executor_effect_t *acquired = executor_effect_new (self, EFFECT_ACQUIRED);
            executor_copy (acquired->worker, sizeof acquired->worker, worker->name);
            executor_copy (acquired->id, sizeof acquired->id, id);
            executor_record_set_status (record,
                                        execution_status_name (EXECUTION_SCHEDULED), now);
            executor_record_set_str (record, EXECUTOR_RECORD_WORKER, worker->name);
            executor_fact_packed (self, action);
            executor_dispatch_packed (self, action, worker->name);
        } else {
            uint64_t wait_key = 0;
            if (store_insert (txn, self->waiting, id, strlen (id), &wait_key) != STORE_OK)
                rc = -1;
            executor_effect_t *effect = executor_effect_new (self, EFFECT_WAIT);
            executor_copy (effect->id, sizeof effect->id, id);
            executor_copy (effect->runner, sizeof effect->runner, runner ? runner : "");
            effect->key = wait_key;
            self->queued_in_batch = true;
        }
    }
    if (rc == 0 && (executor_packed_put (self, txn, id) != 0 ||
                    store_put (txn, self->by_enforcement, enforcement,
                               strlen (enforcement), id, strlen (id)) != STORE_OK))
        rc = -1;
    return rc;
}
