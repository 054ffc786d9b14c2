/*  rules_retention: events and enforcements purged (rules_retention.h). */
#include "actors/rules/rules_retention.h"
#include "proto/proto_envelope.h"

#include <msgpack.h>

#define S_UUID 16

typedef struct {
    int64_t cutoff;        //  µs: stored before it
    int table;             //  0 events, 1 enforcements, 2 done
    uint8_t after[S_UUID]; //  the last key examined
    bool started;          //  after[] holds a key
    uint64_t removed[2];
    uint64_t ticket; //  the api.purge to answer; 0: a TTL sweep
    int64_t begun;   //  monotonic ms
} s_job_t;

struct _rules_retention_t {
    store_t *store;
    store_table_t *tables[2];
    actor_query_t *query;
    actor_retention_t config;
    zlistx_t *jobs;
    int64_t sweep_at;
    int64_t step_at; //  busy: monotonic ms of the next step
    uint8_t keys[ACTOR_RETENTION_BATCH][S_UUID];
    uint64_t purged[2]; //  since the start: events, enforcements
};

typedef struct {
    rules_retention_t *self;
    s_job_t *job;
    uint8_t after[S_UUID];
    bool started, done;
    int removed;
} s_step_t;

static void
s_job_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

rules_retention_t *
rules_retention_new (store_t *store, store_table_t *events, store_table_t *enforcements,
                     actor_query_t *query, const actor_retention_t *config)
{
    rules_retention_t *self = (rules_retention_t *)zmalloc (sizeof (rules_retention_t));
    self->store = store;
    self->tables[0] = events;
    self->tables[1] = enforcements;
    self->query = query;
    self->config = *config;
    self->jobs = zlistx_new ();
    self->sweep_at = zclock_mono () + 1000;
    if (!self->jobs) {
        free (self);
        return NULL;
    }
    zlistx_set_destructor (self->jobs, s_job_free);
    return self;
}

void
rules_retention_destroy (rules_retention_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zlistx_destroy (&(*self_p)->jobs);
        free (*self_p);
        *self_p = NULL;
    }
}

int
rules_event_delete (rules_retention_t *self, store_txn_t *txn, const uint8_t *uuid)
{
    store_code_t code = store_del (txn, self->tables[0], uuid, S_UUID);
    return code == STORE_OK ? 1 : code == STORE_NOTFOUND ? 0 : -1;
}

int
rules_enforcement_delete (rules_retention_t *self, store_txn_t *txn, const uint8_t *uuid)
{
    store_code_t code = store_del (txn, self->tables[1], uuid, S_UUID);
    return code == STORE_OK ? 1 : code == STORE_NOTFOUND ? 0 : -1;
}

//  The `ts` (µs) of a stored record, or -1.
static int64_t
s_ts (const void *data, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int64_t ts = -1;
    if (msgpack_unpack_next (&unpacked, data, size, NULL) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *value = proto_map_get (&unpacked.data, "ts");
        if (value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            ts = value->via.i64;
    }
    msgpack_unpacked_destroy (&unpacked);
    return ts;
}

//  Whether a UUIDv7 key was made at or after `cutoff` (µs): nothing after
//  it in the table is older. False for keys of another version.
static bool
s_key_after (const uint8_t *key, int64_t cutoff)
{
    if ((key[6] >> 4) != 7)
        return false;
    int64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = (ms << 8) | key[i];
    return ms * 1000 >= cutoff + 1000; //  a millisecond of slack: the ts decides
}

//  The keys to delete from the job's table, from after step->after.
static size_t
s_scan (s_step_t *step, store_txn_t *txn)
{
    rules_retention_t *self = step->self;
    store_cursor_t *cursor = store_cursor_new (txn, self->tables[step->job->table]);
    store_code_t code = STORE_NOTFOUND;
    if (cursor)
        code = step->started ? store_cursor_seek (cursor, step->after, S_UUID)
                             : store_cursor_first (cursor);
    size_t key_size, found = 0, seen = 0;
    const uint8_t *key =
        code == STORE_OK ? (const uint8_t *)store_cursor_key (cursor, &key_size) : NULL;
    if (key && step->started && key_size == S_UUID &&
        memcmp (key, step->after, S_UUID) == 0)
        code = store_cursor_next (cursor);
    bool stop = false;
    while (code == STORE_OK && seen++ < ACTOR_RETENTION_SCAN &&
           found < ACTOR_RETENTION_BATCH) {
        key = (const uint8_t *)store_cursor_key (cursor, &key_size);
        if (key_size != S_UUID) {
            code = store_cursor_next (cursor);
            continue;
        }
        if ((stop = s_key_after (key, step->job->cutoff)))
            break;
        size_t size;
        const void *data = store_cursor_data (cursor, &size);
        int64_t ts = s_ts (data, size);
        memcpy (step->after, key, S_UUID);
        step->started = true;
        if (ts >= 0 && ts < step->job->cutoff)
            memcpy (self->keys[found++], key, S_UUID);
        code = store_cursor_next (cursor);
    }
    step->done = code != STORE_OK || stop;
    store_cursor_destroy (&cursor);
    return found;
}

static int
s_step (store_txn_t *txn, void *arg)
{
    s_step_t *step = (s_step_t *)arg;
    memcpy (step->after, step->job->after, S_UUID);
    step->started = step->job->started;
    step->removed = 0;
    step->done = false;
    size_t found = s_scan (step, txn);
    for (size_t i = 0; i < found; i++) {
        int rc = step->job->table == 0
                     ? rules_event_delete (step->self, txn, step->self->keys[i])
                     : rules_enforcement_delete (step->self, txn, step->self->keys[i]);
        if (rc < 0)
            return -1;
        step->removed += rc;
    }
    return 0;
}

static void
s_finish (rules_retention_t *self, s_job_t *job, const char *error)
{
    if (job->ticket) {
        json_t *result =
            error ? NULL
                  : json_pack ("{s:s, s:I, s:I, s:I, s:I}", "kind", "events", "removed",
                               (json_int_t)(job->removed[0] + job->removed[1]), "events",
                               (json_int_t)job->removed[0], "enforcements",
                               (json_int_t)job->removed[1], "took_ms",
                               (json_int_t)(zclock_mono () - job->begun));
        actor_query_reply (self->query, job->ticket, result, error ? "store" : NULL,
                           error);
    } else if (job->removed[0] + job->removed[1] > 0 || error)
        zsys_info ("rules: retention: %" PRIu64 " events and %" PRIu64
                   " enforcements purged%s%s",
                   job->removed[0], job->removed[1], error ? ", stopped: " : "",
                   error ? error : "");
}

static s_job_t *
s_job_new (int64_t older_than_s, uint64_t ticket)
{
    s_job_t *job = (s_job_t *)zmalloc (sizeof (s_job_t));
    job->cutoff = proto_now_usec () - older_than_s * 1000000;
    job->ticket = ticket;
    job->begun = zclock_mono ();
    return job;
}

void
rules_retention_tick (rules_retention_t *self, bool busy)
{
    int64_t now = zclock_mono ();
    if (zlistx_size (self->jobs) == 0 && self->config.events > 0 &&
        now >= self->sweep_at) {
        int64_t interval = self->config.interval > 0 ? self->config.interval
                                                     : ACTOR_RETENTION_INTERVAL_DEFAULT;
        self->sweep_at = now + interval * 1000;
        zlistx_add_end (self->jobs, s_job_new (self->config.events, 0));
    }
    s_job_t *job = (s_job_t *)zlistx_first (self->jobs);
    if (!job || store_io_failing (self->store) || (busy && now < self->step_at))
        return;
    self->step_at = now + ACTOR_RETENTION_BUSY_MS;
    s_step_t step = {.self = self, .job = job};
    store_code_t code = store_write (self->store, s_step, &step);
    if (code == STORE_OK) {
        job->removed[job->table] += (uint64_t)step.removed;
        self->purged[job->table] += (uint64_t)step.removed;
        memcpy (job->after, step.after, S_UUID);
        job->started = step.started;
        if (step.done) { //  the next table, from its start
            job->table++;
            job->started = false;
        }
        if (job->table < 2)
            return;
    }
    s_finish (self, job, code == STORE_OK ? NULL : store_last_error (self->store));
    zlistx_delete (self->jobs, zlistx_cursor (self->jobs));
}

json_t *
rules_retention_status (rules_retention_t *self)
{
    return json_pack ("{s:I, s:I, s:I}", "events", (json_int_t)self->purged[0],
                      "enforcements", (json_int_t)self->purged[1], "jobs",
                      (json_int_t)zlistx_size (self->jobs));
}

int
rules_retention_timeout (rules_retention_t *self)
{
    if (zlistx_size (self->jobs) > 0)
        return 0;
    if (self->config.events <= 0)
        return -1;
    int64_t left = self->sweep_at - zclock_mono ();
    return left <= 0 ? 0 : left > 3600000 ? 3600000 : (int)left;
}

void
rules_retention_purge (rules_retention_t *self, json_t *payload, actor_answer_t *answer)
{
    const char *kind = json_string_value (json_object_get (payload, "kind"));
    json_t *older = json_object_get (payload, "older_than");
    if (!kind || !streq (kind, "events"))
        actor_query_fail (answer, "bad_request", "kind: the rules actor purges events");
    else if (!json_is_integer (older) || json_integer_value (older) < 0)
        actor_query_fail (answer, "bad_request",
                          "older_than: required, seconds (0 or more)");
    else if (json_object_get (payload, "status") || json_object_get (payload, "action"))
        actor_query_fail (answer, "bad_request",
                          "status and action select executions, not events");
    if (answer->code[0])
        return;
    uint64_t ticket = actor_query_defer (self->query, answer, 3600 * 1000);
    zlistx_add_end (self->jobs, s_job_new (json_integer_value (older), ticket));
}
