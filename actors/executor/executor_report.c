/*  executor_report: execution.status reports and claims from workers. */
#include "actors/executor/executor_internal.h"

#define S_LATE_MAX 8 //  late reports kept per execution

//  A report that came after its execution was settled without that worker:
//  appended to the record's `late` [{worker, status, ts, result}], at most
//  S_LATE_MAX, and counted; the execution does not change.
static int
s_late (executor_t *self, store_txn_t *txn, const char *id, const msgpack_object *payload)
{
    json_t *record = executor_json_get (txn, self, id);
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
            rc = executor_json_put (txn, self, record);
        }
        self->late++;
    }
    json_decref (report);
    json_decref (record);
    return rc;
}

//  The answer to a claim: execution.start {execution, claim} or
//  execution.refused {execution, reason}, on the worker's link.
void
executor_report_answer (executor_t *self, const char *worker, const char *id, bool start,
                        uint64_t claim, const char *reason)
{
    executor_link_t *wl = (executor_link_t *)zhashx_lookup (self->links, worker);
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

int
executor_report_status (executor_t *self, store_txn_t *txn, const msgpack_object *payload,
                        bus_command_t *info)
{
    char id[EXECUTOR_ID_SIZE], name[32], worker[256];
    bool have_id = executor_get_str (payload, "execution", id, sizeof id);
    int status = executor_get_str (payload, "status", name, sizeof name)
                     ? execution_status_parse (name)
                     : -1;
    const msgpack_object *given_worker = proto_map_get (payload, "worker");
    bool have_worker = given_worker && given_worker->type == MSGPACK_OBJECT_STR;
    //  A name longer than any worker's matches none
    bool worker_fits =
        have_worker && executor_get_str (payload, "worker", worker, sizeof worker);
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
            executor_effect_t *refused = executor_effect_new (self, EFFECT_REFUSED);
            executor_copy (refused->worker, sizeof refused->worker, worker);
            executor_copy (refused->id, sizeof refused->id, id);
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
            executor_report_answer (self, worker, id, true, (uint64_t)claim->via.i64,
                                    NULL);
            return 0;
        }
        if (ours && (current == EXECUTION_SCHEDULED || current == EXECUTION_RUNNING)) {
            //  Started only once this batch's commit made `running` durable
            //  (a running that an earlier claim of this batch wrote is not
            //  durable yet, and is undone if the commit fails)
            executor_effect_t *start = executor_effect_new (self, EFFECT_START);
            executor_copy (start->worker, sizeof start->worker, worker);
            executor_copy (start->id, sizeof start->id, id);
            start->key = (uint64_t)claim->via.i64;
            if (current == EXECUTION_RUNNING)
                return 0; //  already written by this batch
        } else {
            executor_effect_t *refused = executor_effect_new (self, EFFECT_REFUSED);
            executor_copy (refused->worker, sizeof refused->worker, worker);
            executor_copy (refused->id, sizeof refused->id, id);
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
            int rc = result
                         ? executor_inquiries_open (self, txn, id,
                                                    has_assigned ? assigned : "", result,
                                                    executor_inquiry_spec (result))
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
            executor_effect_t *effect = executor_effect_new (self, EFFECT_RELEASE);
            executor_copy (effect->worker, sizeof effect->worker, assigned);
            executor_copy (effect->id, sizeof effect->id, id);
        }
    } else {
        executor_effect_t *effect = executor_effect_new (self, EFFECT_RELEASE);
        effect->worker[0] = 0; //  status change only: update the memory mirror
        executor_copy (effect->id, sizeof effect->id, id);
        snprintf (effect->runner, sizeof effect->runner, "%d", status);
    }
    char ref[512];
    const json_t *action = registry_client_get (
        self->registry, "action",
        executor_record_text (record, EXECUTOR_RECORD_ACTION, ref, sizeof ref));
    executor_fact_packed (self, action);
    //  Stored first: what the policies do next may reuse self->record
    if (executor_packed_put (self, txn, id) != 0)
        return -1;
    if (execution_status_terminal ((execution_status_t)status) &&
        executor_policies_ended (self, txn, id, ref, status) != 0)
        return -1;
    return 0;
}
