/*  worker_job: jobs, and the commands from the executor that make and
    end them (worker_internal.h). */
#include "actors/worker/worker_internal.h"
#include "actors/worker/worker_python.h"
#include "proto/proto_messages.h"

void
worker_job_destroy (worker_job_t **job_p)
{
    worker_job_t *job = *job_p;
    if (job) {
        if (job->process) {
            pid_t pid = worker_process_pid (job->process);
            worker_process_destroy (&job->process); //  killed if it still runs
            if (job->guard)
                worker_guard_ended (job->guard, pid, job->start);
        }
        worker_task_destroy (&job->task); //  aborted; it frees itself
        json_decref (job->action);
        json_decref (job->parameters);
        json_decref (job->secret);
        worker_python_destroy (&job->python);
        worker_output_destroy (&job->output);
        if (job->tmpdir) {
            rmdir (job->tmpdir); //  only if the action left it empty
            free (job->tmpdir);
        }
        free (job);
        *job_p = NULL;
    }
}

//  ---------------------------------------------------------------------------
//  Commands from the executor

//  A str field copied as a C string (up to its first NUL, as its JSON form
//  would read): its length, or SIZE_MAX when it is not a str.
static size_t
s_str_field (const msgpack_object *obj, char *out, size_t size)
{
    if (!obj || obj->type != MSGPACK_OBJECT_STR)
        return SIZE_MAX;
    size_t len = strnlen (obj->via.str.ptr, obj->via.str.size);
    if (len < size) {
        memcpy (out, obj->via.str.ptr, len);
        out[len] = 0;
    }
    return len;
}

//  worker.reconciled {worker, drop}: the executor's answer to a
//  registration: drop what it settled without us (given to another worker,
//  or ended), then carry on.
static void
s_reconciled (worker_t *self, const msgpack_object *payload)
{
    char id[PROTO_UUID_STR_SIZE + 8];
    const msgpack_object *drop = proto_map_get (payload, "drop");
    for (uint32_t i = 0; i < drop->via.array.size; i++) {
        if (s_str_field (&drop->via.array.ptr[i], id, sizeof id) >= sizeof id)
            continue;
        worker_job_t *job = (worker_job_t *)zhashx_lookup (self->jobs, id);
        if (!job)
            continue;
        zsys_info ("%s: dropping %s: the executor settled it without us", self->name, id);
        job->cancelled = true;
        job->dropped = true;
        if (job->claiming) //  never started
            worker_run_refused (self, job, "settled without this worker");
        else if (job->process)
            worker_process_cancel (job->process);
        else if (job->task)
            worker_task_abort (job->task); //  it reports
        else if (job->running)
            worker_report_finish (
                self, job, "cancelled",
                json_pack ("{s:s}", "error", "dropped: settled without this worker"), -1);
        else
            zhashx_delete (self->jobs, id); //  not started: nothing to report
    }
    self->suspect = false;
    worker_ledger_settled (self->ledger); //  it has what the last one left
    //  Claims the executor may not have answered (it restarted, or the
    //  answer came too late): claim again, it answers each
    for (worker_job_t *job = (worker_job_t *)zhashx_first (self->jobs); job;
         job = (worker_job_t *)zhashx_next (self->jobs))
        if (job->claiming)
            worker_run_claim (self, job);
}

//  execution.dispatch (checked): a new job, queued for a slot; a duplicate
//  or one that ended here is not run again. Only a job that runs a process
//  or a builtin has its action and parameters as JSON (its input); a noop
//  has none.
static void
s_dispatch (worker_t *self, const char *id, const msgpack_object *payload)
{
    const msgpack_object *action = proto_map_get (payload, "action");
    const msgpack_object *parameters = proto_map_get (payload, "parameters");
    char runner[32];
    size_t runner_len =
        s_str_field (proto_map_get (action, "runner_type"), runner, sizeof runner);
    if (zhashx_lookup (self->jobs, id))
        self->duplicates++; //  already here: the executor re-sent it
    else if (zhashx_lookup (self->finished, id)) {
        self->duplicates++; //  done here: it gets the outcome again
        worker_report_resend (self, id,
                              (worker_done_t *)zhashx_lookup (self->finished, id));
    } else if (self->draining) //  sent before it heard we stop
        worker_report_return (self, json_pack ("[s]", id));
    else {
        worker_job_t *job = (worker_job_t *)zmalloc (sizeof (worker_job_t));
        memcpy (job->id, id, strlen (id) + 1);
        memcpy (job->runner, runner, runner_len + 1);
        if (!streq (runner, "noop")) {
            job->action = proto_json_from_msgpack (action, "action", NULL);
            job->parameters =
                parameters ? proto_json_from_msgpack (parameters, "parameters", NULL)
                           : json_object ();
            const msgpack_object *secret = proto_map_get (payload, "secret");
            job->secret =
                secret ? proto_json_from_msgpack (secret, "secret", NULL) : NULL;
            //  A process can act on the world: it starts only when the
            //  executor confirms (idempotent or not: a dispatch alone,
            //  without an execution the executor recorded running here,
            //  runs nothing). Builtins act on nothing outside attune.
            job->confirm = !streq (runner, "builtin");
        }
        zhashx_insert (self->jobs, id, job);
        zlist_append (self->queue, strdup (id));
    }
}

//  execution.cancel: a running process is stopped (it reports), anything
//  else ends cancelled here.
static void
s_cancel (worker_t *self, worker_job_t *job)
{
    job->cancelled = true;
    if (job->process)
        worker_process_cancel (job->process);
    else if (job->task)
        worker_task_abort (job->task); //  it reports, within 100 ms or so
    else
        worker_report_finish (self, job, "cancelled",
                              json_pack ("{s:s}", "error", "cancelled"), -1);
}

int
worker_job_command (void *arg, store_txn_t *txn, proto_envelope_t *command,
                    bus_command_t *info)
{
    (void)txn;
    worker_t *self = (worker_t *)arg;
    const msgpack_object *payload = worker_link_checked (self->name, command, info);
    if (!payload)
        return -1;
    const char *type = proto_envelope_type (command);
    if (streq (type, "worker.reconciled")) {
        s_reconciled (self, payload);
        return 0;
    }
    if (streq (type, "worker.resync")) {
        worker_report_register (self); //  the executor lost track of us: who we are
        return 0;
    }
    char id[PROTO_UUID_STR_SIZE + 8];
    s_str_field (proto_map_get (payload, "execution"), id, sizeof id); //  checked
    worker_job_t *job = (worker_job_t *)zhashx_lookup (self->jobs, id);
    if (streq (type, "execution.dispatch"))
        s_dispatch (self, id, payload);
    else if (streq (type, "execution.start") && job)
        worker_run_confirmed (self, job, proto_map_get (payload, "claim")->via.i64);
    else if (streq (type, "execution.refused") && job) {
        char reason[256] = "";
        s_str_field (proto_map_get (payload, "reason"), reason, sizeof reason);
        worker_run_refused (self, job, reason);
    } else if (streq (type, "execution.cancel") && job)
        s_cancel (self, job);
    return 0;
}
