/*  executor_retention: ended executions and closed inquiries purged, by
    their TTLs (actor_config_t.retention, actors/actor_retention.h) and on
    request (api.purge), inside the executor's loop.

    A purge is a job: executions (or inquiries) that ended before a cutoff,
    walked oldest first (ids are time-ordered). Each turn of the loop runs
    one step of the first job: at most ACTOR_RETENTION_SCAN records examined
    and ACTOR_RETENTION_BATCH deleted, in one write transaction, then the
    loop goes back to serving (its timeout is 0 while a job is left); on a
    turn that handled commands, one step every ACTOR_RETENTION_BUSY_MS at
    most (the pipeline first). The
    walk stops at the first execution requested after the cutoff (nothing
    later ended before it). A restart forgets the jobs: the next sweep
    starts from the oldest again, and every step left the store consistent.

    Never deleted: an execution not in a final status; a child whose parent
    is not final (the workflow engine follows it); a parent with a child
    not final; a pending inquiry.
*/
#include "actors/executor/executor_internal.h"

typedef struct {
    bool executions;              //  else inquiries
    int64_t cutoff;               //  µs: ended before it
    uint32_t statuses;            //  bits of execution_status_t; 0: every final one
    char action[256];             //  "" any
    char after[EXECUTOR_ID_SIZE]; //  the last key examined
    uint64_t removed;
    uint64_t ticket; //  the api.purge to answer when done; 0: a TTL sweep
    int64_t started; //  monotonic ms
} s_job_t;

struct _executor_retention_t {
    zlistx_t *jobs;         //  s_job_t, first one runs
    int64_t sweep_at;       //  monotonic ms of the next TTL sweep
    int64_t step_at;        //  busy: monotonic ms of the next step
    executor_record_t view; //  the record being looked at
    char ids[ACTOR_RETENTION_BATCH][EXECUTOR_ID_SIZE]; //  a step's to delete
    uint64_t purged[2]; //  since the start: executions, inquiries
};

//  One step: the job, and what it did (set again when the write is retried)
typedef struct {
    executor_t *self;
    s_job_t *job;
    char after[EXECUTOR_ID_SIZE];
    int removed;
    bool done;
} s_step_t;

//  A record's string field or extra key into out ("" when absent).
static const char *
s_text (const msgpack_object *value, char *out, size_t size)
{
    out[0] = 0;
    if (value && value->type == MSGPACK_OBJECT_STR && value->via.str.size < size) {
        memcpy (out, value->via.str.ptr, value->via.str.size);
        out[value->via.str.size] = 0;
    }
    return out;
}

static int64_t
s_int (const msgpack_object *value)
{
    return value && (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                     value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
               ? value->via.i64
               : -1;
}

//  The status of stored execution `id` (-1 when absent or unknown).
static int
s_status_of (executor_t *self, store_txn_t *txn, const char *id)
{
    const void *data;
    size_t size;
    if (store_get (txn, self->executions, id, strlen (id), &data, &size) != STORE_OK)
        return -1;
    executor_record_t *view = &self->retention->view;
    char status[32];
    if (executor_record_read (view, data, size) != 0)
        return -1;
    return execution_status_parse (s_text (
        executor_record_get (view, EXECUTOR_RECORD_STATUS), status, sizeof status));
}

//  The children index keys of `parent` ("<parent>/<child>") into a list
//  (autofree), at most `max`; NULL on a store error.
static zlist_t *
s_children_keys (executor_t *self, store_txn_t *txn, const char *parent, size_t max)
{
    char prefix[EXECUTOR_ID_SIZE + 1];
    size_t len = (size_t)snprintf (prefix, sizeof prefix, "%s/", parent);
    store_cursor_t *cursor = store_cursor_new (txn, self->children);
    zlist_t *keys = cursor ? zlist_new () : NULL;
    if (!keys) {
        store_cursor_destroy (&cursor);
        return NULL;
    }
    zlist_autofree (keys);
    store_code_t code = store_cursor_seek (cursor, prefix, len);
    while (code == STORE_OK && zlist_size (keys) < max) {
        size_t size;
        const char *key = (const char *)store_cursor_key (cursor, &size);
        if (size <= len || memcmp (key, prefix, len) != 0)
            break;
        char text[2 * EXECUTOR_ID_SIZE + 2];
        snprintf (text, sizeof text, "%.*s", (int)size, key);
        zlist_append (keys, text);
        code = store_cursor_next (cursor);
    }
    store_cursor_destroy (&cursor);
    return keys;
}

//  Whether execution `id` may go: every child final, its parent final (or
//  gone).
static bool
s_kin_final (executor_t *self, store_txn_t *txn, const char *id, const char *parent)
{
    if (*parent) {
        int status = s_status_of (self, txn, parent);
        if (status >= 0 && !execution_status_terminal ((execution_status_t)status))
            return false;
    }
    zlist_t *keys = s_children_keys (self, txn, id, 10000);
    bool final = keys != NULL;
    for (const char *key = keys ? (const char *)zlist_first (keys) : NULL; key && final;
         key = (const char *)zlist_next (keys)) {
        int status = s_status_of (self, txn, strchr (key, '/') + 1);
        final = status < 0 || execution_status_terminal ((execution_status_t)status);
    }
    zlist_destroy (&keys);
    return final;
}

int
executor_execution_delete (executor_t *self, store_txn_t *txn, const char *id)
{
    const void *data;
    size_t size;
    if (store_get (txn, self->executions, id, strlen (id), &data, &size) != STORE_OK)
        return 0;
    executor_record_t *view = &self->retention->view;
    char key[80] = "", parent[EXECUTOR_ID_SIZE] = "", owner[EXECUTOR_ID_SIZE];
    if (executor_record_read (view, data, size) == 0) {
        s_text (executor_record_extra (view, "natural_key"), key, sizeof key);
        if (!*key) //  written before the key was kept: an enforcement's
            s_text (executor_record_get (view, EXECUTOR_RECORD_ENFORCEMENT), key,
                    sizeof key);
        s_text (executor_record_extra (view, "parent"), parent, sizeof parent);
    }
    //  The dedup entry, when it is this execution's
    if (*key && store_get (txn, self->by_enforcement, key, strlen (key), &data, &size) ==
                    STORE_OK) {
        snprintf (owner, sizeof owner, "%.*s", (int)size, (const char *)data);
        if (streq (owner, id) &&
            store_del (txn, self->by_enforcement, key, strlen (key)) != STORE_OK)
            return -1;
    }
    //  The children index: under its parent, and its own children's entries
    char child[2 * EXECUTOR_ID_SIZE + 2];
    if (*parent) {
        int n = snprintf (child, sizeof child, "%s/%s", parent, id);
        store_del (txn, self->children, child, (size_t)n);
    }
    zlist_t *keys;
    while ((keys = s_children_keys (self, txn, id, 256)) && zlist_size (keys) > 0) {
        for (const char *k = (const char *)zlist_first (keys); k;
             k = (const char *)zlist_next (keys))
            store_del (txn, self->children, k, strlen (k));
        zlist_destroy (&keys);
    }
    if (!keys)
        return -1;
    zlist_destroy (&keys);
    if (executor_inquiry_delete (self->inquiry, txn, id) < 0)
        return -1;
    store_del (txn, self->active, id, strlen (id)); //  none when final: a stray one
    if (executor_output_delete (self, txn, id) < 0) //  its live output chunks
        return -1;
    self->purged++; //  the parents known may be gone (executor_query.c)
    return store_del (txn, self->executions, id, strlen (id)) == STORE_OK ? 1 : -1;
}

//  Whether the record in the view goes with `job`: 1 yes, 0 no, 2 no and
//  nothing after it can (requested after the cutoff).
static int
s_matches (executor_t *self, store_txn_t *txn, s_job_t *job, const char *id)
{
    executor_record_t *view = &self->retention->view;
    if (s_int (executor_record_get (view, EXECUTOR_RECORD_REQUESTED)) >= job->cutoff)
        return 2;
    char text[256];
    int status = execution_status_parse (
        s_text (executor_record_get (view, EXECUTOR_RECORD_STATUS), text, sizeof text));
    int64_t ended = s_int (executor_record_get (view, EXECUTOR_RECORD_ENDED));
    if (status < 0 || !execution_status_terminal ((execution_status_t)status) ||
        ended < 0 || ended >= job->cutoff ||
        (job->statuses && !(job->statuses & (1u << status))))
        return 0;
    if (*job->action &&
        !streq (s_text (executor_record_get (view, EXECUTOR_RECORD_ACTION), text,
                        sizeof text),
                job->action))
        return 0;
    char parent[EXECUTOR_ID_SIZE];
    s_text (executor_record_extra (view, "parent"), parent, sizeof parent);
    return s_kin_final (self, txn, id, parent) ? 1 : 0;
}

//  The executions of step->job to delete, from after step->after, into ids.
static size_t
s_scan (s_step_t *step, store_txn_t *txn, char (*ids)[EXECUTOR_ID_SIZE])
{
    executor_t *self = step->self;
    store_cursor_t *cursor = store_cursor_new (txn, self->executions);
    store_code_t code = STORE_NOTFOUND;
    if (cursor)
        code = *step->after
                   ? store_cursor_seek (cursor, step->after, strlen (step->after))
                   : store_cursor_first (cursor);
    size_t key_size, found = 0, seen = 0;
    const char *key = code == STORE_OK ? store_cursor_key (cursor, &key_size) : NULL;
    if (key && *step->after && key_size == strlen (step->after) &&
        memcmp (key, step->after, key_size) == 0)
        code = store_cursor_next (cursor);
    int match = 0;
    while (code == STORE_OK && seen++ < ACTOR_RETENTION_SCAN &&
           found < ACTOR_RETENTION_BATCH) {
        key = (const char *)store_cursor_key (cursor, &key_size);
        char id[EXECUTOR_ID_SIZE];
        snprintf (id, sizeof id, "%.*s",
                  (int)(key_size < EXECUTOR_ID_SIZE ? key_size : EXECUTOR_ID_SIZE - 1),
                  key);
        size_t size;
        const void *data = store_cursor_data (cursor, &size);
        match = executor_record_read (&self->retention->view, data, size) == 0
                    ? s_matches (self, txn, step->job, id)
                    : 0;
        if (match == 2)
            break;
        snprintf (step->after, sizeof step->after, "%s", id);
        if (match == 1)
            snprintf (ids[found++], EXECUTOR_ID_SIZE, "%s", id);
        code = store_cursor_next (cursor);
    }
    step->done = code != STORE_OK || match == 2;
    store_cursor_destroy (&cursor);
    return found;
}

//  store_write: one step of the first job.
static int
s_step (store_txn_t *txn, void *arg)
{
    s_step_t *step = (s_step_t *)arg;
    snprintf (step->after, sizeof step->after, "%s", step->job->after);
    step->removed = 0;
    step->done = false;
    if (!step->job->executions) {
        step->removed = executor_inquiry_sweep (
            step->self->inquiry, txn, step->job->cutoff, step->after,
            ACTOR_RETENTION_SCAN, ACTOR_RETENTION_BATCH, &step->done);
        return step->removed < 0 ? -1 : 0;
    }
    char (*ids)[EXECUTOR_ID_SIZE] = step->self->retention->ids;
    size_t found = s_scan (step, txn, ids);
    for (size_t i = 0; i < found; i++) {
        int rc = executor_execution_delete (step->self, txn, ids[i]);
        if (rc < 0)
            return -1;
        step->removed += rc;
    }
    return 0;
}

//  A job done: its answer, or the sweep's line in the log.
static void
s_finish (executor_t *self, s_job_t *job, const char *error)
{
    const char *kind = job->executions ? "executions" : "inquiries";
    if (job->ticket) {
        json_t *result = error ? NULL
                               : json_pack ("{s:s, s:I, s:I}", "kind", kind, "removed",
                                            (json_int_t)job->removed, "took_ms",
                                            (json_int_t)(zclock_mono () - job->started));
        actor_query_reply (self->query, job->ticket, result, error ? "store" : NULL,
                           error);
    } else if (job->removed > 0 || error)
        zsys_info ("executor: retention: %" PRIu64 " %s purged%s%s", job->removed, kind,
                   error ? ", stopped: " : "", error ? error : "");
}

//  TTL sweeps due: queued (one per kind with a TTL).
static void
s_schedule (executor_t *self)
{
    executor_retention_t *retention = self->retention;
    const actor_retention_t *config = &self->config.retention;
    int64_t now = zclock_mono ();
    if (zlistx_size (retention->jobs) > 0 || now < retention->sweep_at ||
        (!config->executions && !config->inquiries))
        return;
    int64_t interval =
        config->interval > 0 ? config->interval : ACTOR_RETENTION_INTERVAL_DEFAULT;
    retention->sweep_at = now + interval * 1000;
    int64_t ttls[2] = {config->executions, config->inquiries};
    for (int i = 0; i < 2; i++)
        if (ttls[i] > 0) {
            s_job_t *job = (s_job_t *)zmalloc (sizeof (s_job_t));
            job->executions = i == 0;
            job->cutoff = proto_now_usec () - ttls[i] * 1000000;
            job->started = now;
            zlistx_add_end (retention->jobs, job);
        }
}

void
executor_retention_tick (executor_t *self, bool busy)
{
    executor_retention_t *retention = self->retention;
    s_schedule (self);
    s_job_t *job = (s_job_t *)zlistx_first (retention->jobs);
    int64_t now = zclock_mono ();
    if (!job || store_io_failing (self->store) || (busy && now < retention->step_at))
        return;
    retention->step_at = now + ACTOR_RETENTION_BUSY_MS;
    s_step_t step = {.self = self, .job = job};
    store_code_t code = store_write (self->store, s_step, &step);
    if (code == STORE_OK) {
        job->removed += (uint64_t)step.removed;
        retention->purged[job->executions ? 0 : 1] += (uint64_t)step.removed;
        snprintf (job->after, sizeof job->after, "%s", step.after);
    }
    if (code == STORE_OK && !step.done)
        return;
    s_finish (self, job, code == STORE_OK ? NULL : store_last_error (self->store));
    zlistx_delete (retention->jobs, zlistx_cursor (retention->jobs));
}

json_t *
executor_retention_status (executor_t *self)
{
    executor_retention_t *retention = self->retention;
    return json_pack ("{s:I, s:I, s:I}", "executions", (json_int_t)retention->purged[0],
                      "inquiries", (json_int_t)retention->purged[1], "jobs",
                      (json_int_t)zlistx_size (retention->jobs));
}

int
executor_retention_timeout (executor_t *self)
{
    executor_retention_t *retention = self->retention;
    if (zlistx_size (retention->jobs) > 0)
        return 0;
    if (!self->config.retention.executions && !self->config.retention.inquiries)
        return -1;
    int64_t left = retention->sweep_at - zclock_mono ();
    return left <= 0 ? 0 : left > 3600000 ? 3600000 : (int)left;
}

//  api.purge's `status`: a final status name, or a list of them, into bits.
//  0, or -1 with the answer failed.
static int
s_statuses (const json_t *status, uint32_t *bits, actor_answer_t *answer)
{
    json_t *list = json_is_string (status) ? json_pack ("[O]", status)
                                           : json_incref ((json_t *)status);
    size_t i;
    json_t *item;
    int rc = json_is_array (list) || !status ? 0 : -1;
    json_array_foreach (list, i, item)
    {
        int s = execution_status_parse (json_string_value (item));
        if (s < 0 || !execution_status_terminal ((execution_status_t)s)) {
            actor_query_fail (answer, "bad_request",
                              "status: '%.64s' is not a final status (completed, "
                              "failed, timeout, cancelled, abandoned)",
                              json_is_string (item) ? json_string_value (item) : "?");
            rc = -1;
            break;
        }
        *bits |= 1u << s;
    }
    if (rc < 0 && !answer->code[0])
        actor_query_fail (answer, "bad_request", "status: expected a list of statuses");
    json_decref (list);
    return rc;
}

//  api.purge {kind: executions|inquiries, older_than: s, status?, action?}:
//  a job, answered {kind, removed, took_ms} when it is done.
void
executor_retention_purge (executor_t *self, json_t *payload, actor_answer_t *answer)
{
    const char *kind = json_string_value (json_object_get (payload, "kind"));
    json_t *older = json_object_get (payload, "older_than");
    const char *action = json_string_value (json_object_get (payload, "action"));
    s_job_t job = {.executions = kind && streq (kind, "executions")};
    if (!kind || (!job.executions && !streq (kind, "inquiries")))
        actor_query_fail (answer, "bad_request",
                          "kind: the executor purges executions or inquiries");
    else if (!json_is_integer (older) || json_integer_value (older) < 0)
        actor_query_fail (answer, "bad_request",
                          "older_than: required, seconds (0 or more)");
    else if (!job.executions &&
             (json_object_get (payload, "status") || json_object_get (payload, "action")))
        actor_query_fail (answer, "bad_request",
                          "status and action select executions, not inquiries");
    else if (action && strlen (action) >= sizeof job.action)
        actor_query_fail (answer, "bad_request", "action: longer than a ref");
    if (answer->code[0] ||
        s_statuses (json_object_get (payload, "status"), &job.statuses, answer) != 0)
        return;
    job.cutoff = proto_now_usec () - json_integer_value (older) * 1000000;
    snprintf (job.action, sizeof job.action, "%s", action ? action : "");
    job.started = zclock_mono ();
    job.ticket = actor_query_defer (self->query, answer, 3600 * 1000);
    s_job_t *copy = (s_job_t *)zmalloc (sizeof (s_job_t));
    *copy = job;
    zlistx_add_end (self->retention->jobs, copy);
}

static void
s_job_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

int
executor_retention_open (executor_t *self)
{
    executor_retention_t *retention =
        (executor_retention_t *)zmalloc (sizeof (executor_retention_t));
    retention->jobs = zlistx_new ();
    executor_record_init (&retention->view);
    zlistx_set_destructor (retention->jobs, s_job_free);
    //  The first sweep a little after the start, not in the middle of it
    retention->sweep_at = zclock_mono () + 1000;
    self->retention = retention;
    return retention->jobs ? 0 : -1;
}

void
executor_retention_close (executor_t *self)
{
    executor_retention_t *retention = self->retention;
    if (retention) {
        zlistx_destroy (&retention->jobs);
        executor_record_release (&retention->view);
        free (retention);
        self->retention = NULL;
    }
}
