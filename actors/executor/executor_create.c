/*  executor_create: new executions, one path for every origin (an
    enforcement, an api run or re-run, a retry), on the msgpack record.
    See executor_internal.h.
*/
#include "actors/executor/executor_internal.h"

//  The request, read from the payload.
typedef struct {
    char key[66]; //  the natural key: the enforcement, "run:<request>", "retry:<id>"
    char ref[256];
    const msgpack_object *given;   //  parameters as given, or NULL
    const msgpack_object *payload; //  the request
    char id[PROTO_UUID_STR_SIZE];
    char runner[32];
    const json_t *action;
    char reason[512]; //  why it cannot run, or is refused
    int64_t now;
} s_create_t;

//  The key, action and parameters of `payload`. 0, or a reject.
static int
s_read (const msgpack_object *payload, s_create_t *create, bus_command_t *info)
{
    const msgpack_object *key = proto_map_get (payload, "key");
    bool keyed = key && key->type == MSGPACK_OBJECT_STR;
    create->given = proto_map_get (payload, "parameters");
    create->payload = payload;
    if (!executor_get_str (payload, keyed ? "key" : "enforcement", create->key,
                           sizeof create->key) ||
        !*create->key || strlen (create->key) > 64 ||
        !executor_get_str (payload, "action", create->ref, sizeof create->ref))
        return bus_command_reject (
            info, "bad_request",
            "enforcement.create needs enforcement and action strings");
    if (create->given && create->given->type != MSGPACK_OBJECT_MAP)
        return bus_command_reject (info, "bad_request", "parameters: expected a map");
    return 0;
}

//  A new record in self->record: requested, with what the payload says.
static void
s_record_new (executor_t *self, const msgpack_object *payload, s_create_t *create)
{
    uint8_t uuid[PROTO_UUID_SIZE];
    proto_uuid_generate (uuid);
    proto_uuid_format (uuid, create->id);
    executor_record_t *record = &self->record;
    executor_record_clear (record);
    executor_record_set_str (record, EXECUTOR_RECORD_ID, create->id);
    executor_record_set_str (record, EXECUTOR_RECORD_ACTION, create->ref);
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
    executor_record_set_int (record, EXECUTOR_RECORD_REQUESTED, create->now);
    //  Its dedup key, so that a purge deletes the entry with it
    msgpack_object key = {.type = MSGPACK_OBJECT_STR};
    key.via.str.ptr = create->key;
    key.via.str.size = (uint32_t)strlen (create->key);
    executor_record_set_extra (record, "natural_key", &key);
    const msgpack_object *parent = proto_map_get (payload, "parent");
    if (parent)
        executor_record_set_extra (record, "parent", parent);
    const msgpack_object *task = proto_map_get (payload, "task");
    if (task && task->type == MSGPACK_OBJECT_STR)
        executor_record_set_extra (record, "task", task);
    const msgpack_object *rerun =
        proto_map_get (payload, "rerun"); //  {ref, tasks, reset}
    if (rerun && rerun->type == MSGPACK_OBJECT_MAP)
        executor_record_set_extra (record, "rerun", rerun);
    //  Who runs it (action_context.user): the api's caller, else the system
    //  user, kept for a retry
    static const char system_user[] = EXECUTOR_SECRET_KV_USER;
    msgpack_object fallback = {.type = MSGPACK_OBJECT_STR};
    fallback.via.str.ptr = system_user;
    fallback.via.str.size = sizeof system_user - 1;
    const msgpack_object *user = proto_map_get (payload, "user");
    bool named = user && user->type == MSGPACK_OBJECT_STR && user->via.str.size > 0 &&
                 user->via.str.size < 256;
    executor_record_set_extra (record, "user", named ? user : &fallback);
    const msgpack_object *retry = proto_map_get (payload, "retry_count");
    if (retry && (retry->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                  retry->type == MSGPACK_OBJECT_NEGATIVE_INTEGER))
        executor_record_set_extra (record, "retry_count", retry);
}

//  StackStorm's action_context for templated defaults: user, api_user,
//  execution_id, pack, parent. New reference.
static json_t *
s_action_context (const s_create_t *create)
{
    char user[256] = EXECUTOR_SECRET_KV_USER;
    if (!executor_get_str (create->payload, "user", user, sizeof user) || !*user)
        executor_copy (user, sizeof user, EXECUTOR_SECRET_KV_USER);
    const char *dot = strchr (create->ref, '.');
    const msgpack_object *parent = proto_map_get (create->payload, "parent");
    json_t *context = json_pack ("{s:s, s:s, s:s, s:s%}", "user", user, "api_user", user,
                                 "execution_id", create->id, "pack", create->ref,
                                 dot ? (size_t)(dot - create->ref) : 0);
    json_t *from = parent ? proto_json_from_msgpack (parent, "parent", NULL) : NULL;
    if (context && from)
        json_object_set_new (context, "parent", from);
    return context;
}

//  The parameters checked against the action's schema (defaults added)
//  into self->params: true; false with create->reason.
static bool
s_check (executor_t *self, s_create_t *create)
{
    const json_t *action = create->action;
    const json_t *schema = json_object_get (action, "parameters");
    const msgpack_object *given = create->given;
    msgpack_sbuffer_clear (&self->params);
    if (!action)
        snprintf (create->reason, sizeof create->reason, "action '%s' does not exist",
                  create->ref);
    else if (json_is_false (json_object_get (action, "enabled")))
        snprintf (create->reason, sizeof create->reason, "action '%s' is disabled",
                  create->ref);
    else if ((!given || given->via.map.size == 0) &&
             (!json_is_object (schema) || json_object_size (schema) == 0)) {
        msgpack_packer pk;
        msgpack_packer_init (&pk, &self->params, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 0); //  nothing to check, nothing to default
        return true;
    } else if (executor_params_templated (schema, given)) {
        json_t *context = s_action_context (create);
        int rc = context
                     ? executor_params_defaults (action, given, context, &self->params,
                                                 create->reason, sizeof create->reason)
                     : -1;
        json_decref (context);
        return rc == 0;
    } else {
        //  On msgpack when the schema needs no JSON tree (the common case)
        int applied = executor_params_apply (schema, given, &self->params, create->reason,
                                             sizeof create->reason);
        if (applied <= 0)
            return applied == 0;
        msgpack_sbuffer_clear (&self->params);
        json_t *given_json =
            given ? proto_json_from_msgpack (given, "parameters", NULL) : NULL;
        json_t *parameters = registry_params_apply (schema, given_json, create->reason,
                                                    sizeof create->reason);
        bool checked = parameters && proto_json_to_sbuffer (parameters, &self->params,
                                                            NULL) == PROTO_OK;
        if (parameters && !checked)
            snprintf (create->reason, sizeof create->reason,
                      "parameters: cannot be packed");
        json_decref (parameters);
        json_decref (given_json);
        return checked;
    }
    return false;
}

//  The policies' decision: a retry not due yet is held; an action under a
//  concurrency or rate policy is admitted, held or refused. 0 or -1.
static int
s_admit (executor_t *self, store_txn_t *txn, const msgpack_object *payload,
         s_create_t *create, executor_admission_t *decision)
{
    *decision = POLICY_ADMIT;
    const msgpack_object *not_before = proto_map_get (payload, "not_before");
    if (not_before && not_before->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        not_before->via.i64 > create->now) {
        *decision = POLICY_DELAY;
        return executor_policy_defer (self->policy, txn, create->id, not_before->via.i64);
    }
    if (!executor_policy_count (self->policy) ||
        !executor_policy_limits (self->policy, create->ref))
        return 0;
    json_t *parameters = proto_json_from_msgpack (
        executor_record_get (&self->record, EXECUTOR_RECORD_PARAMETERS), "parameters",
        NULL);
    int rc = parameters
                 ? executor_policy_admit (self->policy, txn, create->id, create->ref,
                                          parameters, create->now, decision,
                                          create->reason, sizeof create->reason)
                 : -1;
    json_decref (parameters);
    return rc;
}

//  Admitted: scheduled in this same transaction when nothing waits ahead of
//  it and a worker is free (one commit, not two); otherwise it waits in
//  arrival order. Stored. 0 or -1.
static int
s_start (executor_t *self, store_txn_t *txn, s_create_t *create)
{
    const char *id = create->id;
    executor_worker_t *worker =
        zlistx_size (self->queue) == 0 && !self->queued_in_batch
            ? executor_workers_pick (self->workers, create->runner)
            : NULL;
    if (store_put (txn, self->active, id, strlen (id), "", 0) != STORE_OK)
        return -1;
    if (worker) {
        if (executor_schedule_one (self, worker, create->action, create->now) != 0)
            return -1;
    } else if (executor_schedule_wait (self, txn, id, create->runner) != 0)
        return -1;
    return executor_packed_put (self, txn, id);
}

//  Held by a policy: delayed, active, not waiting for a worker. 0 or -1.
static int
s_hold (executor_t *self, store_txn_t *txn, s_create_t *create)
{
    const char *id = create->id;
    executor_move (self, EXECUTION_HOLD, create->now);
    executor_fact_packed (self, create->action);
    executor_effect_t *effect = executor_effect_new (self, EFFECT_DELAYED);
    executor_copy (effect->id, sizeof effect->id, id);
    if (store_put (txn, self->active, id, strlen (id), "", 0) != STORE_OK)
        return -1;
    return executor_packed_put (self, txn, id);
}

//  self->record: its runner and parameters (checked, or as given when they
//  are not valid).
static void
s_set_parameters (executor_t *self, s_create_t *create, bool checked)
{
    executor_record_t *record = &self->record;
    executor_record_set_str (record, EXECUTOR_RECORD_RUNNER, create->runner);
    if (!checked && create->given) { //  as given: secret ones sealed all the same
        msgpack_sbuffer_clear (&self->params);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &self->params, msgpack_sbuffer_write);
        checked = msgpack_pack_object (&pk, *create->given) == 0;
    }
    //  Secret parameters are stored sealed (executor_secret.h); st2kv in
    //  defaults became references (executor_params_defaults)
    if (checked && executor_secret_seal_packed (
                       self->secret, json_object_get (create->action, "parameters"),
                       &self->params) != 0)
        zsys_error ("executor: cannot seal the secret parameters of %s", create->id);
    if (checked)
        executor_record_set_packed (record, EXECUTOR_RECORD_PARAMETERS, self->params.data,
                                    self->params.size);
    else {
        msgpack_object empty = {.type = MSGPACK_OBJECT_MAP};
        executor_record_set (record, EXECUTOR_RECORD_PARAMETERS, &empty);
    }
}

//  The new execution, after its requested fact: admitted, held, refused or
//  failed. 0 or -1.
static int
s_decide (executor_t *self, store_txn_t *txn, const msgpack_object *payload,
          s_create_t *create, bool checked)
{
    executor_admission_t decision = POLICY_ADMIT;
    if (checked && s_admit (self, txn, payload, create, &decision) != 0)
        return -1;
    if (!checked || decision == POLICY_CANCEL) {
        executor_end_t end = {.event = checked ? EXECUTION_REFUSE : EXECUTION_REJECT,
                              .error = create->reason};
        return executor_end (self, txn, create->id, &end, create->now) == 0 ? 0 : -1;
    }
    if (decision == POLICY_DELAY)
        return s_hold (self, txn, create);
    return s_start (self, txn, create);
}

//  An execution with a parent (a workflow's task, a re-run, a retry) is
//  listed under it: children "<parent>/<child>". 0 or -1.
static int
s_index_child (executor_t *self, store_txn_t *txn, const msgpack_object *payload,
               s_create_t *create)
{
    char parent[EXECUTOR_ID_SIZE], key[2 * EXECUTOR_ID_SIZE + 2];
    if (!executor_get_str (payload, "parent", parent, sizeof parent) || !*parent)
        return 0;
    int n = snprintf (key, sizeof key, "%s/%s", parent, create->id);
    return store_put (txn, self->children, key, (size_t)n, "", 0) == STORE_OK ? 0 : -1;
}

int
executor_create (executor_t *self, store_txn_t *txn, const msgpack_object *payload,
                 bus_command_t *info)
{
    s_create_t create = {.now = proto_now_usec ()};
    if (s_read (payload, &create, info) != 0)
        return -1;
    const void *data;
    size_t size;
    if (store_get (txn, self->by_enforcement, create.key, strlen (create.key), &data,
                   &size) == STORE_OK) {
        self->duplicates++;
        return 0; //  one execution per enforcement
    }
    s_record_new (self, payload, &create);
    create.action = registry_client_get (self->registry, "action", create.ref);
    bool checked = s_check (self, &create);
    const char *runner =
        json_string_value (json_object_get (create.action, "runner_type"));
    executor_copy (create.runner, sizeof create.runner, runner ? runner : "");
    s_set_parameters (self, &create, checked);
    executor_record_set_status (&self->record,
                                execution_status_name (EXECUTION_REQUESTED), create.now);
    executor_fact_packed (self, create.action);
    if (s_decide (self, txn, payload, &create, checked) != 0 ||
        s_index_child (self, txn, payload, &create) != 0)
        return -1;
    return store_put (txn, self->by_enforcement, create.key, strlen (create.key),
                      create.id, strlen (create.id)) == STORE_OK
               ? 0
               : -1;
}

int
executor_create_json (executor_t *self, store_txn_t *txn, const json_t *payload,
                      bus_command_t *info)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = -1;
    if (proto_json_to_sbuffer (payload, &buffer, NULL) == PROTO_OK &&
        msgpack_unpack_next (&unpacked, buffer.data, buffer.size, NULL) ==
            MSGPACK_UNPACK_SUCCESS)
        rc = executor_create (self, txn, &unpacked.data, info);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buffer);
    return rc;
}
