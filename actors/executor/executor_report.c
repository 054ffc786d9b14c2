/*  executor_report: execution.status reports and claims from workers. */
#include "actors/executor/executor_internal.h"

#define S_LATE_MAX 8 //  late reports kept per execution

//  A value of the report, or nil.
static void
s_pack_or_nil (msgpack_packer *pk, const msgpack_object *payload, const char *key)
{
    const msgpack_object *value = proto_map_get (payload, key);
    if (value)
        msgpack_pack_object (pk, *value);
    else
        msgpack_pack_nil (pk);
}

//  A report that came after its execution was settled without that worker
//  (self->record, read): appended to the record's `late` [{worker, status,
//  ts, result}], at most S_LATE_MAX, and counted; the execution does not
//  change. On msgpack: the report as it came.
static int
s_late (executor_t *self, store_txn_t *txn, const char *id, const msgpack_object *payload)
{
    self->late++;
    const msgpack_object *late = executor_record_extra (&self->record, "late");
    uint32_t kept = late && late->type == MSGPACK_OBJECT_ARRAY ? late->via.array.size : 0;
    if (kept >= S_LATE_MAX)
        return 0;
    msgpack_sbuffer_clear (&self->packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, kept + 1);
    for (uint32_t i = 0; i < kept; i++)
        msgpack_pack_object (&pk, late->via.array.ptr[i]);
    msgpack_pack_map (&pk, 4);
    executor_record_pack_str (&pk, "worker");
    s_pack_or_nil (&pk, payload, "worker");
    executor_record_pack_str (&pk, "status");
    s_pack_or_nil (&pk, payload, "status");
    executor_record_pack_str (&pk, "ts");
    msgpack_pack_int64 (&pk, proto_now_usec ());
    executor_record_pack_str (&pk, "result");
    s_pack_or_nil (&pk, payload, "result");
    if (executor_record_set_extra_packed (&self->record, "late", self->packed.data,
                                          self->packed.size) != 0)
        return -1;
    return executor_packed_put (self, txn, id);
}

//  The answer to a claim: execution.start {execution, claim} or
//  execution.refused {execution, reason}, on the worker's link.
void
executor_report_answer (executor_t *self, const char *worker, const char *id, bool start,
                        uint64_t claim, const char *reason)
{
    //  Once per execution: packed straight, no JSON
    const char *type = start ? "execution.start" : "execution.refused";
    executor_link_t *wl = (executor_link_t *)zhashx_lookup (self->links, worker);
    if (!wl)
        return; //  no link: it registers again, is reconciled and claims again
    msgpack_sbuffer_clear (&self->packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    executor_record_pack_str (&pk, "execution");
    executor_record_pack_str (&pk, id);
    if (start) {
        executor_record_pack_str (&pk, "claim");
        msgpack_pack_int64 (&pk, (int64_t)claim);
    } else {
        executor_record_pack_str (&pk, "reason");
        executor_record_pack_str (&pk, reason);
    }
    proto_envelope_t *command = executor_envelope_packed (self, type);
    if (command && bus_link_send (wl->link, &command) != 0)
        zsys_warning ("executor: %s to %s not sent (link full): the worker claims again",
                      type, worker);
    proto_envelope_destroy (&command);
}

//  What a report says, and what the execution is now.
typedef struct {
    char id[EXECUTOR_ID_SIZE];
    char worker[256];
    int status;       //  reported
    bool have_worker; //  the report names a worker
    bool worker_fits; //  ... of a length a worker's name can have
    const msgpack_object *claim;
    bool claiming;      //  running, with a claim: answered start or refused
    int current;        //  the execution's status, -1 when unknown
    char assigned[256]; //  its worker
    bool has_assigned;
    bool other_worker; //  the report is not from its worker
} s_report_t;

//  The report's fields. 0, or a reject.
static int
s_parse (const msgpack_object *payload, s_report_t *report, bus_command_t *info)
{
    char name[32];
    bool have_id = executor_get_str (payload, "execution", report->id, sizeof report->id);
    report->status = executor_get_str (payload, "status", name, sizeof name)
                         ? execution_status_parse (name)
                         : -1;
    const msgpack_object *given_worker = proto_map_get (payload, "worker");
    report->have_worker = given_worker && given_worker->type == MSGPACK_OBJECT_STR;
    //  A name longer than any worker's matches none
    report->worker_fits =
        report->have_worker &&
        executor_get_str (payload, "worker", report->worker, sizeof report->worker);
    if (!have_id || report->status < 0)
        return bus_command_reject (info, "bad_request",
                                   "execution.status needs execution and a known status");
    const msgpack_object *claim = proto_map_get (payload, "claim");
    report->claim = claim;
    report->claiming = report->status == EXECUTION_RUNNING && report->worker_fits &&
                       claim &&
                       (claim->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                        claim->type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
    return 0;
}

//  The claim refused: the worker does not start it.
static void
s_refuse (executor_t *self, const s_report_t *report, const char *reason)
{
    executor_effect_t *refused = executor_effect_new (self, EFFECT_REFUSED);
    executor_copy (refused->worker, sizeof refused->worker, report->worker);
    executor_copy (refused->id, sizeof refused->id, report->id);
    executor_copy (refused->reason, sizeof refused->reason, reason);
}

//  The execution as it is (self->record read), against the report.
static void
s_current (executor_t *self, s_report_t *report)
{
    executor_record_t *record = &self->record;
    report->current = executor_status_of (self);
    const msgpack_object *assigned = executor_record_get (record, EXECUTOR_RECORD_WORKER);
    report->has_assigned = assigned && assigned->type == MSGPACK_OBJECT_STR;
    executor_record_text (record, EXECUTOR_RECORD_WORKER, report->assigned,
                          sizeof report->assigned);
    //  Only the worker it was given to may report on it (a late report from
    //  a worker it was taken from changes nothing; one given to no worker
    //  now, waiting again, is not that worker's either)
    report->other_worker =
        report->have_worker && (!report->has_assigned || !report->worker_fits ||
                                !streq (report->worker, report->assigned));
}

//  A claim: `running` from a worker that starts the process only when told
//  (PROTOCOL.md, "Confirmed start"). Recorded running here, it is never
//  given to another worker; refused, it never starts there. 1 when the
//  claim is answered and the report done with, 0 when `running` is to be
//  recorded (and the start answered after the commit).
static int
s_claim (executor_t *self, s_report_t *report)
{
    int current = report->current;
    bool ours = report->has_assigned && !report->other_worker;
    bool uncommitted = zhashx_lookup (self->batch_running, report->id) != NULL;
    uint64_t claim = (uint64_t)report->claim->via.i64;
    if (ours && current == EXECUTION_RUNNING && !uncommitted) {
        //  Claimed again (the first start was late or lost): its running is
        //  durable already (no command of this batch wrote it), so the answer
        //  goes at once, not after this batch's commit; under a load that
        //  makes commits slower than the claim's lease, the second claim
        //  still gets through
        executor_report_answer (self, report->worker, report->id, true, claim, NULL);
        return 1;
    }
    if (ours && (current == EXECUTION_SCHEDULED || current == EXECUTION_RUNNING)) {
        //  Started only once this batch's commit made `running` durable (a
        //  running that an earlier claim of this batch wrote is not durable
        //  yet, and is undone if the commit fails)
        executor_effect_t *start = executor_effect_new (self, EFFECT_START);
        executor_copy (start->worker, sizeof start->worker, report->worker);
        executor_copy (start->id, sizeof start->id, report->id);
        start->claim = claim;
        return current == EXECUTION_RUNNING; //  already written by this batch
    }
    s_refuse (self, report,
              current < 0 ? "unknown status"
              : report->has_assigned && !ours
                  ? "given to another worker"
                  : execution_status_name ((execution_status_t)current));
    self->ignored++;
    return 1; //  not started: nothing late to keep
}

//  A report the table does not take, or not from the execution's worker.
//  The same report again (its worker, the status it has) is counted as
//  repeated, not ignored (a worker says its outcome again when the
//  execution is dispatched to it again: PROTOCOL.md, "Workers"). A worker
//  reporting on what was settled without it (it was lost, or the execution
//  went to another) is kept as late and changes nothing.
static int
s_ignore (executor_t *self, store_txn_t *txn, const s_report_t *report,
          const msgpack_object *payload)
{
    bool again = !report->other_worker && report->current == report->status;
    if (again)
        self->repeated++;
    else
        self->ignored++;
    if (report->current >= 0 && report->have_worker && !again &&
        (report->other_worker ||
         execution_status_terminal ((execution_status_t)report->current)))
        return s_late (self, txn, report->id, payload);
    return 0;
}

//  The inquiry spec of a completed report's result, when it asks a person.
static bool
s_asks (const msgpack_object *result)
{
    if (!result || result->type != MSGPACK_OBJECT_MAP)
        return false;
    const msgpack_object *inner = proto_map_get (result, "result");
    const msgpack_object *out = proto_map_get (result, "stdout"); //  shell JSON
    return proto_map_get (result, "__inquiry") ||
           (inner && inner->type == MSGPACK_OBJECT_MAP &&
            proto_map_get (inner, "__inquiry")) ||
           (out && out->type == MSGPACK_OBJECT_MAP && proto_map_get (out, "__inquiry"));
}

//  Completed, asking a person: an inquiry opens (executor_inquiries).
static int
s_ask (executor_t *self, store_txn_t *txn, const s_report_t *report,
       const msgpack_object *given_result)
{
    json_t *result = proto_json_from_msgpack (given_result, "result", NULL);
    int rc = result
                 ? executor_inquiries_open (self, txn, report->id,
                                            report->has_assigned ? report->assigned : "",
                                            result, executor_inquiry_spec (result))
                 : -1;
    json_decref (result);
    return rc;
}

//  The end a worker reports: started as the process says (a claimed one
//  says when it really started, after its claim), its result, its slot.
static int
s_ended (executor_t *self, store_txn_t *txn, const s_report_t *report,
         const msgpack_object *payload, execution_event_t event, int64_t now)
{
    executor_record_t *record = &self->record;
    const msgpack_object *started = executor_record_get (record, EXECUTOR_RECORD_STARTED);
    const msgpack_object *reported = proto_map_get (payload, "started");
    if (reported && reported->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        reported->via.u64 <= (uint64_t)now)
        executor_record_set_int (record, EXECUTOR_RECORD_STARTED,
                                 (int64_t)reported->via.u64);
    else if (!started || (started->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
                          started->type != MSGPACK_OBJECT_NEGATIVE_INTEGER))
        executor_record_set_int (record, EXECUTOR_RECORD_STARTED, now);
    if (report->has_assigned) {
        executor_effect_t *effect = executor_effect_new (self, EFFECT_RELEASE);
        executor_copy (effect->worker, sizeof effect->worker, report->assigned);
        executor_copy (effect->id, sizeof effect->id, report->id);
    }
    executor_end_t end = {
        .event = event, .result = proto_map_get (payload, "result"), .policies = true};
    return executor_end (self, txn, report->id, &end, now) < 0 ? -1 : 0;
}

//  Running (or a workflow paused, or running again), as its worker reports
//  (not durable until this batch commits).
static int
s_running (executor_t *self, store_txn_t *txn, const s_report_t *report,
           execution_event_t event, int64_t now)
{
    int next = executor_move (self, event, now);
    if (report->current == EXECUTION_SCHEDULED) //  started now, not resumed
        executor_record_set_int (&self->record, EXECUTOR_RECORD_STARTED, now);
    if (next == EXECUTION_RUNNING)
        zhashx_update (self->batch_running, report->id, (void *)"");
    executor_effect_t *effect = executor_effect_new (self, EFFECT_STATUS);
    executor_copy (effect->id, sizeof effect->id, report->id);
    effect->status = (execution_status_t)next;
    char ref[512];
    executor_fact_packed (self, executor_action_of (self, ref, sizeof ref));
    return executor_packed_put (self, txn, report->id);
}

int
executor_report_status (executor_t *self, store_txn_t *txn, const msgpack_object *payload,
                        bus_command_t *info)
{
    s_report_t report;
    memset (&report, 0, sizeof report);
    if (s_parse (payload, &report, info) != 0)
        return -1;
    if (executor_read (self, txn, report.id) != 0) {
        self->ignored++;
        if (report.claiming)
            s_refuse (self, &report, "unknown execution");
        return 0;
    }
    s_current (self, &report);
    if (report.claiming && s_claim (self, &report))
        return 0;
    int event = execution_event_reported ((execution_status_t)report.status);
    int next = report.current >= 0 && event >= 0
                   ? execution_status_next ((execution_status_t)report.current,
                                            (execution_event_t)event)
                   : -1;
    if (next < 0 || report.other_worker)
        return s_ignore (self, txn, &report, payload);
    const msgpack_object *result = proto_map_get (payload, "result");
    if (report.status == EXECUTION_COMPLETED && s_asks (result))
        return s_ask (self, txn, &report, result);
    int64_t now = proto_now_usec ();
    if (execution_status_terminal ((execution_status_t)next))
        return s_ended (self, txn, &report, payload, (execution_event_t)event, now);
    return s_running (self, txn, &report, (execution_event_t)event, now);
}
