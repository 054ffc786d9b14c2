/*  worker_report: status reports to the executor, registration, and what
    ended here (worker_internal.h). */
#include "actors/worker/worker_internal.h"
#include "actors/pack/pack_config.h"

//  ---------------------------------------------------------------------------
//  Reports to the executor

void
worker_report_flush (worker_t *self)
{
    worker_link_flush (&self->wl, self->outbox);
}

static void
s_send (worker_t *self, const char *type, json_t *payload)
{
    proto_envelope_t *envelope = worker_link_envelope (self->source, type, payload);
    if (!envelope)
        return;
    if (streq (type, "execution.status")) {
        size_t size;
        memcpy (self->report_id, proto_envelope_id (envelope), PROTO_UUID_SIZE);
        self->report_queued = true;
        const void *bytes = proto_envelope_payload (envelope, &size);
        msgpack_sbuffer_clear (&self->last);
        msgpack_sbuffer_write (&self->last, (const char *)bytes, size);
    }
    zlist_append (self->outbox, envelope);
    worker_report_flush (self);
}

void
worker_report_output (worker_t *self, worker_job_t *job, bool final)
{
    if (!job->output && !job->task)
        return;
    int64_t now = zclock_mono ();
    json_t *chunk;
    while ((chunk = job->output ? worker_output_take (job->output, now, final)
                                : worker_task_output_take (job->task, now, final))) {
        self->output_chunks++;
        s_send (self, "execution.output", chunk);
    }
}

void
worker_report_register (worker_t *self)
{
    //  What it holds (queued and running), so an executor that restarted, or
    //  settled them while it could not hear us, can reconcile
    json_t *held = json_array ();
    for (worker_job_t *job = (worker_job_t *)zhashx_first (self->jobs); job;
         job = (worker_job_t *)zhashx_next (self->jobs))
        json_array_append_new (held, json_string (job->id));
    json_t *payload =
        worker_link_register_payload (&self->wl, self->name, self->instance,
                                      self->runtimes, self->slots, held, self->draining);
    //  What the previous instance left (worker_ledger.h), until the executor
    //  has answered a registration that said it: its processes are gone
    json_t *never = worker_ledger_never_started (self->ledger);
    json_t *stopped = worker_ledger_stopped (self->ledger);
    if (payload && never && stopped) {
        json_object_set (payload, "never_started", never);
        json_object_set (payload, "stopped", stopped);
    }
    s_send (self, "worker.register", payload);
}

//  Give back executions not started (ids in `returned`, taken): the
//  executor sends them to another worker.
void
worker_report_return (worker_t *self, json_t *returned)
{
    self->returned += json_array_size (returned);
    s_send (self, "worker.draining",
            json_pack ("{s:s, s:o}", "worker", self->name, "returned", returned));
}

//  Stop taking work: what waits for a slot goes back to the executor; what
//  runs may finish within `grace_ms`.
void
worker_report_drain (worker_t *self, int grace_ms)
{
    if (self->draining)
        return;
    self->draining = true;
    self->drain_until = zclock_mono () + grace_ms;
    json_t *returned = json_array ();
    char *id;
    while ((id = (char *)zlist_pop (self->queue))) {
        worker_job_t *job = (worker_job_t *)zhashx_lookup (self->jobs, id);
        if (job && !job->running) {
            json_array_append_new (returned, json_string (id));
            zhashx_delete (self->jobs, id);
        }
        free (id);
    }
    zsys_info ("%s: draining: %zu returned, %d running (grace %d ms)", self->name,
               json_array_size (returned), self->busy, grace_ms);
    worker_report_return (self, returned);
}

void
worker_report_status (worker_t *self, worker_job_t *job, const char *status,
                      json_t *result, int exit_code)
{
    //  Packed directly (no JSON payload to build and convert); a result that
    //  cannot travel takes the JSON path below, which replaces it. What is
    //  sent is kept in self->last (nothing when nothing could be sent)
    msgpack_sbuffer_clear (&self->last);
    msgpack_sbuffer_clear (&self->report);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->report, msgpack_sbuffer_write);
    bool claim = job->claiming && streq (status, "running");
    //  When the process started (a claimed one starts after its claim)
    bool started = job->confirm && job->started_usec && !streq (status, "running");
    msgpack_pack_map (&pk, 5 + (result != NULL) + claim + started);
    proto_pack_str (&pk, "execution");
    proto_pack_str (&pk, job->id);
    proto_pack_str (&pk, "worker");
    proto_pack_str (&pk, self->name);
    proto_pack_str (&pk, "status");
    proto_pack_str (&pk, status);
    proto_pack_str (&pk, "exit_code");
    msgpack_pack_int (&pk, exit_code);
    proto_pack_str (&pk, "ts");
    msgpack_pack_int64 (&pk, proto_now_usec ());
    if (claim) {
        proto_pack_str (&pk, "claim");
        msgpack_pack_int64 (&pk, job->claim_ts);
    }
    if (started) {
        proto_pack_str (&pk, "started");
        msgpack_pack_int64 (&pk, job->started_usec);
    }
    proto_code_t code = PROTO_OK;
    if (result) {
        proto_pack_str (&pk, "result");
        code = proto_json_to_msgpack (result, &pk, NULL);
    }
    proto_envelope_t *envelope =
        code == PROTO_OK && self->report.size <= S_MAX_REPORT
            ? proto_envelope_new ("execution.status", self->source)
            : NULL;
    if (envelope && proto_envelope_set_payload_packed (envelope, self->report.data,
                                                       self->report.size) == 0) {
        json_decref (result);
        msgpack_sbuffer_clear (&self->last);
        msgpack_sbuffer_write (&self->last, self->report.data, self->report.size);
        memcpy (self->report_id, proto_envelope_id (envelope), PROTO_UUID_SIZE);
        self->report_queued = true;
        zlist_append (self->outbox, envelope);
        worker_report_flush (self);
        return;
    }
    proto_envelope_destroy (&envelope);
    json_t *payload = json_pack ("{s:s, s:s, s:s, s:i, s:I}", "execution", job->id,
                                 "worker", self->name, "status", status, "exit_code",
                                 exit_code, "ts", (json_int_t)proto_now_usec ());
    if (result)
        json_object_set_new (payload, "result", result);
    if (claim)
        json_object_set_new (payload, "claim", json_integer ((json_int_t)job->claim_ts));
    if (started)
        json_object_set_new (payload, "started",
                             json_integer ((json_int_t)job->started_usec));
    s_send (self, "execution.status", payload);
}

void
worker_report_done_destroy (void **item_p)
{
    worker_done_t *done = (worker_done_t *)*item_p;
    if (done) {
        free (done->report);
        free (done);
        *item_p = NULL;
    }
}

//  Remember an execution that ended here with its final report (the last
//  one sent, in self->last).
static void
s_remember (worker_t *self, const char *id, const char *status, int exit_code)
{
    worker_done_t *done = (worker_done_t *)zmalloc (sizeof (worker_done_t));
    snprintf (done->status, sizeof done->status, "%s", status);
    done->exit_code = exit_code;
    if (self->last.size) {
        done->report = (uint8_t *)malloc (self->last.size);
        if (done->report) {
            memcpy (done->report, self->last.data, self->last.size);
            done->size = self->last.size;
            self->kept_bytes += done->size;
            zlist_append (self->kept_order, done);
        }
    }
    zhashx_insert (self->finished, id, done);
    zlist_append (self->finished_order, strdup (id));
    while (zlist_size (self->finished_order) > S_FINISHED_KEEP) {
        char *oldest = (char *)zlist_pop (self->finished_order);
        worker_done_t *gone = (worker_done_t *)zhashx_lookup (self->finished, oldest);
        if (gone && gone->report) {
            //  The oldest of all with a report is the oldest of those kept
            self->kept_bytes -= gone->size;
            void *head = zlist_pop (self->kept_order);
            assert (head == gone);
            (void)head;
        }
        zhashx_delete (self->finished, oldest);
        free (oldest);
    }
    //  Over the budget: the oldest reports go (their status stays)
    while (self->kept_bytes > S_FINISHED_REPORTS && zlist_size (self->kept_order)) {
        worker_done_t *kept = (worker_done_t *)zlist_pop (self->kept_order);
        self->kept_bytes -= kept->size;
        free (kept->report);
        kept->report = NULL;
        kept->size = 0;
    }
}

//  A dispatch of what ended here: say again how it ended.
void
worker_report_resend (worker_t *self, const char *id, worker_done_t *done)
{
    proto_envelope_t *envelope = proto_envelope_new ("execution.status", self->source);
    if (envelope && done->report &&
        proto_envelope_set_payload_packed (envelope, done->report, done->size) == 0) {
        zlist_append (self->outbox, envelope);
        worker_report_flush (self);
        self->resent++;
        return;
    }
    proto_envelope_destroy (&envelope);
    s_send (self, "execution.status",
            json_pack ("{s:s, s:s, s:s, s:i, s:I, s:{s:s}}", "execution", id, "worker",
                       self->name, "status", done->status, "exit_code", done->exit_code,
                       "ts", (json_int_t)proto_now_usec (), "result", "error",
                       "it ran on this worker earlier; its result is no longer held"));
    self->resent++;
}

//  `result` (taken) with the values of the job's secret parameters (the
//  dispatch's `secret`: names never to print) masked wherever they appear
//  in its strings (what the action printed, its error): a new reference.
json_t *
worker_report_secret_values (worker_job_t *job)
{
    json_t *values = json_array ();
    size_t i;
    json_t *name;
    json_array_foreach (job->secret, i, name)
    {
        json_t *value = json_object_get (job->parameters, json_string_value (name));
        if (json_is_string (value))
            json_array_append (values, value);
    }
    return values;
}

static json_t *
s_mask_secrets (worker_job_t *job, json_t *result)
{
    if (!result || !json_array_size (job->secret))
        return result;
    json_t *values = worker_report_secret_values (job);
    json_t *masked = pack_config_mask (result, values);
    json_decref (values);
    json_decref (result);
    return masked;
}

//  The job is over: report, free the slot.
void
worker_report_finish (worker_t *self, worker_job_t *job, const char *status,
                      json_t *result, int exit_code)
{
    result = s_mask_secrets (job, result);
    self->report_queued = false;
    worker_report_status (self, job, status, result, exit_code);
    //  Out of the ledger once the executor holds the outcome (its ack)
    if (job->ledgered && self->report_queued)
        worker_ledger_end_after (self->ledger, job->id, self->report_id);
    else if (job->ledgered)
        worker_ledger_end (self->ledger, job->id);
    if (streq (status, "completed"))
        self->completed++;
    else if (streq (status, "timeout"))
        self->timeouts++;
    else if (streq (status, "cancelled"))
        self->cancelled++;
    else
        self->failed++;
    if (job->running)
        self->busy--;
    //  Remember it and its report: a dispatch of it that arrives again
    //  (the executor restarted before it learnt the outcome, or took back
    //  what it thought lost with us and ignored the report as late) must not
    //  run it twice, and gets the outcome again. One the executor told us to
    //  drop is not ours: given again, it runs again.
    if (!job->dropped && !zhashx_lookup (self->finished, job->id))
        s_remember (self, job->id, status, exit_code);
    zhashx_delete (self->jobs, job->id);
}
