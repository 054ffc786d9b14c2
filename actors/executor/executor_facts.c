/*  executor_facts: stored records, facts and dispatches built (executor_internal.h). */
#include "actors/executor/executor_internal.h"

json_t *
executor_json_get (store_txn_t *txn, executor_t *self, const char *id)
{
    const void *data;
    size_t size;
    if (store_get (txn, self->executions, id, strlen (id), &data, &size) != STORE_OK)
        return NULL;
    return executor_record_decode (data, size);
}

int
executor_json_put (store_txn_t *txn, executor_t *self, const json_t *record)
{
    const char *id = json_string_value (json_object_get (record, "id"));
    msgpack_sbuffer_clear (&self->packed);
    if (!id || proto_json_to_sbuffer (record, &self->packed, NULL) != PROTO_OK)
        return -1;
    store_code_t code = store_put (txn, self->executions, id, strlen (id),
                                   self->packed.data, self->packed.size);
    return code == STORE_OK ? 0 : -1;
}

//  ---------------------------------------------------------------------------
//  Built from self->record with msgpack_pack_* into reused buffers: JSON
//  only for parameters an action's schema marks secret (masked in facts).
//  Each fact and each dispatch is encoded once, here.

//  A value of `map` that is a string of at most size - 1 bytes without NUL,
//  copied into `out`; false otherwise.
bool
executor_get_str (const msgpack_object *map, const char *key, char *out, size_t size)
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

int
executor_pack_parameters (executor_t *self, const json_t *action, msgpack_packer *pk)
{
    const msgpack_object *parameters =
        executor_record_get (&self->record, EXECUTOR_RECORD_PARAMETERS);
    if (!parameters || !s_has_secret (action)) {
        s_pack_field (pk, &self->record, EXECUTOR_RECORD_PARAMETERS);
        return 0;
    }
    json_t *given = proto_json_from_msgpack (parameters, "parameters", NULL);
    json_t *masked = registry_params_mask (json_object_get (action, "parameters"), given);
    proto_code_t code =
        masked ? proto_json_to_msgpack (masked, pk, NULL) : PROTO_ERR_JSON;
    json_decref (given);
    json_decref (masked);
    return code == PROTO_OK ? 0 : -1;
}

//  An envelope of `type` with the packed payload in self->packed.
proto_envelope_t *
executor_envelope_packed (executor_t *self, const char *type)
{
    proto_envelope_t *envelope = proto_envelope_new_packed (
        type, self->source, self->packed.data, self->packed.size);
    if (!envelope)
        zsys_error ("executor: cannot build %s: out of memory", type);
    return envelope;
}

//  The fact for self->record's current status (parameters masked), as an
//  envelope; `type` gets its type.
proto_envelope_t *
executor_fact_envelope (executor_t *self, const json_t *action, char *type,
                        size_t type_size)
{
    const executor_record_t *record = &self->record;
    char status[32];
    executor_record_text (record, EXECUTOR_RECORD_STATUS, status, sizeof status);
    //  "execution." + status (status is at most 31 bytes: it fits)
    assert (type_size >= sizeof "execution." + sizeof status);
    memcpy (type, "execution.", 10);
    executor_copy (type + 10, type_size - 10, status[0] ? status : "unknown");
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
    //  A workflow's child says its parent and task (a re-run or a retry
    //  its parent): the engine follows its children by these
    const msgpack_object *parent = executor_record_extra (record, "parent");
    const msgpack_object *task = executor_record_extra (record, "task");
    msgpack_pack_map (&pk, count + 1 + (parent != NULL) + (task != NULL));
    for (size_t i = 0; i < count; i++) {
        executor_record_pack_str (&pk, fields[i].key);
        s_pack_field (&pk, record, fields[i].field);
    }
    if (parent) {
        executor_record_pack_str (&pk, "parent");
        msgpack_pack_object (&pk, *parent);
    }
    if (task) {
        executor_record_pack_str (&pk, "task");
        msgpack_pack_object (&pk, *task);
    }
    executor_record_pack_str (&pk, "parameters");
    if (executor_pack_parameters (self, action, &pk) != 0) {
        zsys_error ("executor: cannot mask the parameters of a %s fact", type);
        return NULL;
    }
    return executor_envelope_packed (self, type);
}

void
executor_fact_packed (executor_t *self, const json_t *action)
{
    char type[48];
    proto_envelope_t *fact = executor_fact_envelope (self, action, type, sizeof type);
    if (!fact)
        return;
    executor_effect_t *effect = executor_effect_new (self, EFFECT_FACT);
    executor_copy (effect->type, sizeof effect->type, type);
    effect->envelope = fact;
}

static void
s_pack_json_str (msgpack_packer *pk, const json_t *value)
{
    executor_record_pack_str (pk, json_string_value (value) ?: "");
}

//  The names of the parameters with a `position`, in its order (StackStorm's
//  positional script arguments).
static void
s_pack_positional (msgpack_packer *pk, const json_t *schema)
{
    const char *names[64];
    json_int_t at[64];
    size_t count = 0;
    const char *name;
    json_t *spec;
    json_object_foreach ((json_t *)schema, name, spec)
    {
        const json_t *position = json_object_get (spec, "position");
        if (!json_is_integer (position) || count == 64)
            continue;
        size_t i = count++;
        for (; i > 0 && at[i - 1] > json_integer_value (position); i--) {
            names[i] = names[i - 1];
            at[i] = at[i - 1];
        }
        names[i] = name;
        at[i] = json_integer_value (position);
    }
    msgpack_pack_array (pk, count);
    for (size_t i = 0; i < count; i++)
        executor_record_pack_str (pk, names[i]);
}

//  The execution.dispatch of self->record, as an envelope.
proto_envelope_t *
executor_dispatch_envelope (executor_t *self, const json_t *action)
{
    const executor_record_t *record = &self->record;
    msgpack_sbuffer_clear (&self->packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
    //  A workflow re-run from tasks says what to re-run ({ref, tasks, reset})
    const msgpack_object *rerun = executor_record_extra (record, "rerun");
    msgpack_pack_map (&pk, rerun ? 5 : 4);
    if (rerun) {
        executor_record_pack_str (&pk, "rerun");
        msgpack_pack_object (&pk, *rerun);
    }
    executor_record_pack_str (&pk, "execution");
    s_pack_field (&pk, record, EXECUTOR_RECORD_ID);
    executor_record_pack_str (&pk, "action");
    msgpack_pack_map (&pk, 7);
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
    //  A policy's timeout wins; else an action with a `timeout` parameter
    //  (StackStorm's runner parameter) is timed by it (nil here); else the
    //  action's own
    if (policy_timeout > 0)
        msgpack_pack_double (&pk, policy_timeout);
    else if (json_object_get (json_object_get (action, "parameters"), "timeout") ||
             !timeout || proto_json_to_msgpack (timeout, &pk, NULL) != PROTO_OK)
        msgpack_pack_nil (&pk);
    executor_record_pack_str (&pk, "positional");
    s_pack_positional (&pk, json_object_get (action, "parameters"));
    executor_record_pack_str (&pk, "parameters");
    //  Sealed at rest, opened for the worker only (executor_secret.h)
    char message[256];
    int opened = executor_secret_pack_open (
        self->secret, executor_record_get (record, EXECUTOR_RECORD_PARAMETERS), &pk,
        message, sizeof message);
    if (opened < 0)
        zsys_error ("executor: %s", message);
    if (opened <= 0)
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
    return executor_envelope_packed (self, "execution.dispatch");
}

void
executor_dispatch_packed (executor_t *self, const json_t *action, const char *worker)
{
    proto_envelope_t *command = executor_dispatch_envelope (self, action);
    if (!command)
        return;
    executor_effect_t *effect = executor_effect_new (self, EFFECT_DISPATCH);
    executor_copy (effect->worker, sizeof effect->worker, worker);
    effect->envelope = command;
}

int
executor_packed_put (executor_t *self, store_txn_t *txn, const char *id)
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
