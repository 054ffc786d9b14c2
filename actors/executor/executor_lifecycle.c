/*  executor_lifecycle: every status change of an execution goes through the
    transition table (executor_status.c), here; ending an execution is
    written once (executor_end). See executor_internal.h.
*/
#include "actors/executor/executor_internal.h"

int
executor_read (executor_t *self, store_txn_t *txn, const char *id)
{
    const void *data;
    size_t size;
    if (store_get (txn, self->executions, id, strlen (id), &data, &size) != STORE_OK ||
        executor_record_read (&self->record, data, size) != 0)
        return -1;
    return 0;
}

int
executor_load (executor_t *self, store_txn_t *txn, const char *id)
{
    return executor_read (self, txn, id) == 0 ? executor_status_of (self) : -1;
}

int
executor_status_of (executor_t *self)
{
    char status[32];
    return execution_status_parse (executor_record_text (
        &self->record, EXECUTOR_RECORD_STATUS, status, sizeof status));
}

int
executor_move (executor_t *self, execution_event_t event, int64_t now)
{
    int from = executor_status_of (self);
    int to = from < 0 ? -1 : execution_status_next ((execution_status_t)from, event);
    if (to >= 0)
        executor_record_set_status (&self->record,
                                    execution_status_name ((execution_status_t)to), now);
    return to;
}

const json_t *
executor_action_of (executor_t *self, char *ref, size_t size)
{
    return registry_client_get (
        self->registry, "action",
        executor_record_text (&self->record, EXECUTOR_RECORD_ACTION, ref, size));
}

//  The result an ending leaves in self->record. 0 or -1.
static int
s_set_result (executor_t *self, const executor_end_t *end)
{
    executor_record_t *record = &self->record;
    msgpack_sbuffer_clear (&self->packed);
    if (end->error) {
        msgpack_packer pk;
        msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 1);
        executor_record_pack_str (&pk, "error");
        executor_record_pack_str (&pk, end->error);
    } else if (end->result_json) {
        if (proto_json_to_sbuffer (end->result_json, &self->packed, NULL) != PROTO_OK)
            return -1;
    } else if (end->result) {
        executor_record_set (record, EXECUTOR_RECORD_RESULT, end->result);
        return 0;
    } else {
        executor_record_set_nil (record, EXECUTOR_RECORD_RESULT);
        return 0;
    }
    return executor_record_set_packed (record, EXECUTOR_RECORD_RESULT, self->packed.data,
                                       self->packed.size);
}

int
executor_end (executor_t *self, store_txn_t *txn, const char *id,
              const executor_end_t *end, int64_t now)
{
    int status = executor_move (self, end->event, now);
    if (status < 0)
        return 1; //  the table has no such end: nothing changes
    assert (execution_status_terminal ((execution_status_t)status));
    executor_record_set_int (&self->record, EXECUTOR_RECORD_ENDED, now);
    if (s_set_result (self, end) != 0)
        return -1;
    char ref[512];
    const json_t *action = executor_action_of (self, ref, sizeof ref);
    executor_fact_packed (self, action);
    executor_metrics_ended (self, status, ref);
    if (executor_triggers_ended (self, txn, action) != 0)
        return -1;
    store_del (txn, self->active, id, strlen (id));
    //  Stored first: what the policies do next may reuse self->record
    if (executor_packed_put (self, txn, id) != 0)
        return -1;
    if (end->policies && executor_policies_ended (self, txn, id, ref, status) != 0)
        return -1;
    return 0;
}
