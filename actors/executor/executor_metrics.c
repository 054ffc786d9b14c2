/*  executor_metrics: the executor's families for metrics.get
    (actors/actor_metrics.h; proto/PROTOCOL.md, "Metrics").

    Counted as executions end (executor_end calls executor_metrics_ended):
    executions ended by action and status, and the latency of each stage,
    event -> requested -> running -> ended, in fixed buckets. The count is
    an effect of the ending transaction (actor_effects.h): it happens once
    the end is durable, never for a transaction that did not commit. It
    costs one small allocation, a hash lookup and three bucket searches per
    ended execution; nothing is counted on any other path.

    Read when asked (metrics.get, in the executor's thread): executions in
    each status that is not final (the memory mirror of active executions,
    and the open inquiries for `pending`), the queue of executions waiting
    for a worker, the policies' queues, the workers and their slots, the
    links to the workers and to the rules actor. Counters start at 0 when
    the executor starts (Prometheus takes a restart as a counter reset).
*/
#include "actors/executor/executor_internal.h"
#include "actors/actor_metrics.h"

#define S_ACTIONS_MAX 1000 //  actions counted by name; the others as "(other)"

struct _executor_metrics_t {
    zhashx_t *ended; //  action ref -> uint64_t[EXECUTION_STATUS_COUNT]
    actor_histogram_t event_requested, requested_running, running_ended;
};

//  An ended execution, counted once its transaction committed
typedef struct {
    int status;
    int64_t event_ms; //  the event's UUIDv7 time (ms), -1: none
    int64_t requested, started, ended;
    char action[];
} s_ended_t;

void
executor_metrics_open (executor_t *self)
{
    executor_metrics_t *metrics =
        (executor_metrics_t *)zmalloc (sizeof (executor_metrics_t));
    metrics->ended = zhashx_new ();
    assert (metrics->ended);
    zhashx_set_destructor (metrics->ended, (zhashx_destructor_fn *)zstr_free);
    actor_histogram_init (&metrics->event_requested, actor_latency_bounds,
                          actor_latency_nbounds);
    actor_histogram_init (&metrics->requested_running, actor_latency_bounds,
                          actor_latency_nbounds);
    actor_histogram_init (&metrics->running_ended, actor_latency_bounds,
                          actor_latency_nbounds);
    self->metrics = metrics;
    actor_query_set_metrics (self->query, "executor", executor_metrics_families, self);
    actor_query_metrics_inbox (self->query, self->inbox);
    actor_query_metrics_link (self->query, "rules", self->events);
}

void
executor_metrics_close (executor_t *self)
{
    if (self->metrics) {
        zhashx_destroy (&self->metrics->ended);
        free (self->metrics);
        self->metrics = NULL;
    }
}

//  ---------------------------------------------------------------------------
//  Counted as executions end

//  A record's integer field, or -1
static int64_t
s_time (const executor_record_t *record, executor_record_field_t field)
{
    const msgpack_object *value = executor_record_get (record, field);
    if (value && (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                  value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER))
        return value->via.i64;
    return -1;
}

//  The time (ms since the epoch) of a UUIDv7 (RFC 9562: its first 48 bits),
//  or -1 when `id` is not one (an event id a client made otherwise)
static int64_t
s_uuid7_ms (const char *id)
{
    if (strlen (id) != 36 || id[8] != '-' || id[14] != '7')
        return -1;
    int64_t ms = 0;
    for (int i = 0; i < 13; i++) {
        if (i == 8)
            continue;
        int c = tolower ((unsigned char)id[i]);
        int digit = isdigit (c) ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0)
            return -1;
        ms = ms * 16 + digit;
    }
    return ms;
}

static void
s_ended_drop (void *ctx, void *arg)
{
    (void)ctx;
    free (arg);
}

//  Seconds from `from` to `to` (µs), observed when both are known
static void
s_stage (actor_histogram_t *histogram, int64_t from, int64_t to)
{
    if (from >= 0 && to >= 0)
        actor_histogram_observe (histogram, to > from ? (double)(to - from) / 1e6 : 0);
}

static void
s_ended_run (void *ctx, void *arg)
{
    executor_metrics_t *metrics = ((executor_t *)ctx)->metrics;
    s_ended_t *ended = (s_ended_t *)arg;
    if (metrics) {
        const char *action = ended->action;
        uint64_t *counts = (uint64_t *)zhashx_lookup (metrics->ended, action);
        if (!counts && zhashx_size (metrics->ended) >= S_ACTIONS_MAX)
            counts = (uint64_t *)zhashx_lookup (metrics->ended, action = "(other)");
        if (!counts) {
            counts = (uint64_t *)zmalloc (EXECUTION_STATUS_COUNT * sizeof (uint64_t));
            zhashx_insert (metrics->ended, action, counts);
        }
        counts[ended->status]++;
        s_stage (&metrics->event_requested,
                 ended->event_ms >= 0 ? ended->event_ms * 1000 : -1, ended->requested);
        s_stage (&metrics->requested_running, ended->requested, ended->started);
        s_stage (&metrics->running_ended, ended->started, ended->ended);
    }
    free (ended);
}

void
executor_metrics_ended (executor_t *self, int status, const char *action)
{
    if (!self->metrics || status < 0 || status >= EXECUTION_STATUS_COUNT)
        return;
    size_t size = strlen (action) + 1;
    s_ended_t *ended = (s_ended_t *)malloc (sizeof (s_ended_t) + size);
    if (!ended)
        return;
    const executor_record_t *record = &self->record;
    char event[64];
    executor_record_text (record, EXECUTOR_RECORD_EVENT, event, sizeof event);
    ended->status = status;
    ended->event_ms = s_uuid7_ms (event);
    ended->requested = s_time (record, EXECUTOR_RECORD_REQUESTED);
    ended->started = s_time (record, EXECUTOR_RECORD_STARTED);
    ended->ended = s_time (record, EXECUTOR_RECORD_ENDED);
    memcpy (ended->action, action, size);
    if (actor_effects_add (self->effects, s_ended_run, s_ended_drop, ended) != 0)
        free (ended);
}

//  ---------------------------------------------------------------------------
//  Families, when asked

static void
s_executions (executor_t *self, json_t *families)
{
    executor_metrics_t *metrics = self->metrics;
    actor_metrics_declare (families, "attune_executions_ended_total", "counter",
                           "Executions that ended, by action and final status.");
    for (uint64_t *counts = (uint64_t *)zhashx_first (metrics->ended); counts;
         counts = (uint64_t *)zhashx_next (metrics->ended)) {
        const char *action = (const char *)zhashx_cursor (metrics->ended);
        for (int s = 0; s < EXECUTION_STATUS_COUNT; s++)
            if (counts[s])
                actor_metrics_add (families, "attune_executions_ended_total", "counter",
                                   "Executions that ended, by action and final status.",
                                   (double)counts[s], "action", action, "status",
                                   execution_status_name ((execution_status_t)s), NULL);
    }
    actor_metrics_add (families, "attune_executions_created_total", "counter",
                       "Executions the executor created (requested).",
                       (double)self->created, NULL);
    uint64_t current[EXECUTION_STATUS_COUNT] = {0};
    for (executor_active_t *active = (executor_active_t *)zhashx_first (self->actives);
         active; active = (executor_active_t *)zhashx_next (self->actives))
        if (active->status >= 0 && active->status < EXECUTION_STATUS_COUNT)
            current[(int)active->status]++;
    store_txn_t *txn = store_read_begin (self->store);
    current[EXECUTION_PENDING] += txn ? executor_inquiry_pending (self->inquiry, txn) : 0;
    store_read_end (&txn);
    for (int s = 0; s < EXECUTION_STATUS_COUNT; s++)
        if (!execution_status_terminal ((execution_status_t)s))
            actor_metrics_add (families, "attune_executions_active", "gauge",
                               "Executions not ended, by status.", (double)current[s],
                               "status", execution_status_name ((execution_status_t)s),
                               NULL);
    actor_metrics_add (families, "attune_executor_waiting_executions", "gauge",
                       "Requested executions waiting for a free worker slot.",
                       (double)zlistx_size (self->queue), NULL);
}

static void
s_latencies (executor_t *self, json_t *families)
{
    executor_metrics_t *metrics = self->metrics;
    actor_metrics_histogram (
        families, "attune_execution_event_to_requested_seconds",
        "From an event's creation (its UUIDv7 id) to the request of its execution, "
        "observed when the execution ends.",
        &metrics->event_requested, NULL);
    actor_metrics_histogram (families, "attune_execution_requested_to_running_seconds",
                             "From an execution's request to its start on a worker, "
                             "observed when it ends.",
                             &metrics->requested_running, NULL);
    actor_metrics_histogram (families, "attune_execution_running_to_ended_seconds",
                             "From an execution's start on a worker to its end.",
                             &metrics->running_ended, NULL);
}

//  One action's policy queue, labelled with the policy that holds it
static void
s_policy_queue (executor_t *self, json_t *families, store_txn_t *txn, const char *policy,
                const char *action, int64_t now)
{
    json_t *stats = executor_policy_stats (self->policy, txn, action, now);
    if (!stats)
        return;
    actor_metrics_add (families, "attune_policy_queued_executions", "gauge",
                       "Executions delayed in a policy's FIFO queue.",
                       (double)json_integer_value (json_object_get (stats, "queued")),
                       "policy", policy, "action", action, NULL);
    actor_metrics_add (families, "attune_policy_oldest_wait_seconds", "gauge",
                       "How long the first execution of a policy's queue has waited.",
                       json_number_value (json_object_get (stats, "oldest_wait")),
                       "policy", policy, "action", action, NULL);
    actor_metrics_add (families, "attune_policy_running_executions", "gauge",
                       "Executions a policy admitted that have not ended.",
                       (double)json_integer_value (json_object_get (stats, "running")),
                       "policy", policy, "action", action, NULL);
    json_decref (stats);
}

//  The queues of the concurrency and rate policies: one per action (a
//  concurrency policy's name when the action has both)
static void
s_policies (executor_t *self, json_t *families)
{
    const json_t *all = registry_client_all (self->registry, "policy");
    store_txn_t *txn = all ? store_read_begin (self->store) : NULL;
    if (!txn)
        return;
    zhashx_t *seen = zhashx_new ();
    int64_t now = proto_now_usec ();
    for (int pass = 0; pass < 2; pass++) {
        const char *ref;
        json_t *policy;
        json_object_foreach ((json_t *)all, ref, policy)
        {
            const char *type =
                json_string_value (json_object_get (policy, "policy_type"));
            const char *action =
                json_string_value (json_object_get (policy, "resource_ref"));
            bool wanted =
                type && (pass == 0 ? strncmp (type, "action.concurrency", 18) == 0
                                   : streq (type, "action.ratelimit"));
            if (!wanted || !action ||
                json_is_false (json_object_get (policy, "enabled")) ||
                zhashx_lookup (seen, action))
                continue;
            zhashx_insert (seen, action, (void *)1);
            s_policy_queue (self, families, txn, ref, action, now);
        }
    }
    zhashx_destroy (&seen);
    store_read_end (&txn);
}

static void
s_workers (executor_t *self, json_t *families)
{
    size_t count = executor_workers_count (self->workers);
    for (size_t i = 0; i < count; i++) {
        executor_worker_t *worker = executor_workers_at (self->workers, i);
        actor_metrics_add (families, "attune_worker_up", "gauge",
                           "1 while the executor hears from a worker.",
                           worker->alive ? 1 : 0, "worker", worker->name, NULL);
        actor_metrics_add (families, "attune_worker_slots", "gauge",
                           "Executions a worker runs at once.", (double)worker->slots,
                           "worker", worker->name, NULL);
        actor_metrics_add (families, "attune_worker_busy_slots", "gauge",
                           "Executions dispatched to a worker and not ended (up to "
                           "twice its slots: the rest wait in its queue).",
                           (double)worker->busy, "worker", worker->name, NULL);
    }
    actor_metrics_add (families, "attune_workers", "gauge",
                       "Workers the executor knows (alive or not).", (double)count, NULL);
    actor_metrics_add (families, "attune_workers_free_slots", "gauge",
                       "Free slots over every live worker that takes work.",
                       (double)executor_workers_free (self->workers), NULL);
    for (executor_link_t *link = (executor_link_t *)zhashx_first (self->links); link;
         link = (executor_link_t *)zhashx_next (self->links))
        actor_metrics_link (families, "executor", link->name, link->link);
}

void
executor_metrics_families (void *arg, json_t *families)
{
    executor_t *self = (executor_t *)arg;
    if (!self->metrics)
        return;
    s_executions (self, families);
    s_latencies (self, families);
    s_policies (self, families);
    s_workers (self, families);
}
