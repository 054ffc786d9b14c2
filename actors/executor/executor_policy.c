/*  executor_policy: concurrency, rate, retry and timeout policies
    (executor_policy.h). All state in LMDB, inside the caller's transaction. */
#include "actors/executor/executor_policy.h"
#include <czmq.h>
#include <inttypes.h>
#include <math.h>

#define S_TICK_MS   100 //  how often queues and timers are looked at while any exist
#define S_GROUP_MAX 400 //  longest group key (LMDB keys are at most 511 bytes)
#define S_ID_MAX    64

typedef struct {
    const json_t *concurrency; //  action.concurrency(.attr) definition, or NULL
    const json_t *rate;        //  action.ratelimit
    const json_t *retry;       //  action.retry parameters
    double timeout;            //  action.timeout, s
    json_t *refs;              //  the policies' refs
} s_rules_t;

struct _executor_policy_t {
    store_t *store;
    store_table_t *count, *admitted, *queue, *queued, *rate, *timers, *stats, *meta;
    json_t *definitions; //  our copy of the enabled policies
    zhashx_t *by_action; //  action ref -> s_rules_t
    bool maybe_waiting;  //  queues or timers may hold something: tick
};

//  ---------------------------------------------------------------------------
//  Small helpers

//  Big-endian 8-byte integers, as the store keys its ids
#define s_put_u64(out, value) store_id_key ((uint64_t)(value), (out))
#define s_get_u64(in)         store_key_id (in)

static int64_t
s_param_int (const json_t *policy, const char *key, int64_t fallback)
{
    const json_t *value = json_object_get (json_object_get (policy, "parameters"), key);
    return json_is_number (value) ? (int64_t)json_number_value (value) : fallback;
}

static double
s_param_number (const json_t *policy, const char *key, double fallback)
{
    const json_t *value = json_object_get (json_object_get (policy, "parameters"), key);
    return json_is_number (value) ? json_number_value (value) : fallback;
}

static const char *
s_param_str (const json_t *policy, const char *key, const char *fallback)
{
    const json_t *value = json_object_get (json_object_get (policy, "parameters"), key);
    return json_is_string (value) ? json_string_value (value) : fallback;
}

static void
s_rules_destroy (void **item_p)
{
    s_rules_t *rules = (s_rules_t *)*item_p;
    if (rules) {
        json_decref (rules->refs);
        free (rules);
        *item_p = NULL;
    }
}

//  The action a group key belongs to: up to '|' or the end.
static void
s_group_action (const char *group, size_t size, char *action, size_t action_size)
{
    size_t n = 0;
    while (n < size && group[n] != '|')
        n++;
    snprintf (action, action_size, "%.*s", (int)n, group);
}

//  The group of an execution: the action, or action|[attribute values].
static void
s_group_key (const s_rules_t *rules, const char *action, const json_t *parameters,
             char *out, size_t size)
{
    const json_t *attributes =
        rules && rules->concurrency
            ? json_object_get (json_object_get (rules->concurrency, "parameters"),
                               "attributes")
            : NULL;
    if (!json_is_array (attributes)) {
        snprintf (out, size, "%s", action);
        return;
    }
    json_t *values = json_array ();
    for (size_t i = 0; i < json_array_size (attributes); i++) {
        const json_t *value = json_object_get (
            parameters, json_string_value (json_array_get (attributes, i)) ?: "");
        json_array_append_new (values, value ? json_deep_copy (value) : json_null ());
    }
    char *text = json_dumps (values, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref (values);
    size_t need = strlen (action) + 1 + (text ? strlen (text) : 0);
    if (text && need < S_GROUP_MAX && need < size && !strchr (text, 0x01)) {
        memcpy (out, action, strlen (action));
        out[strlen (action)] = '|';
        memcpy (out + strlen (action) + 1, text, strlen (text) + 1);
    } else {
        //  Too long for a key: a digest of the values stands for them
        uint64_t hash = 1469598103934665603ULL;
        for (const char *p = text ? text : ""; *p; p++)
            hash = (hash ^ (uint8_t)*p) * 1099511628211ULL;
        snprintf (out, size, "%s|#%016" PRIx64, action, hash);
    }
    free (text);
}

//  policy.count of a group: running, queued.
static int
s_counts (executor_policy_t *self, store_txn_t *txn, const char *group, uint64_t *running,
          uint64_t *queued)
{
    const void *data;
    size_t size;
    store_code_t code = store_get (txn, self->count, group, strlen (group), &data, &size);
    *running = *queued = 0;
    if (code == STORE_NOTFOUND)
        return 0;
    if (code != STORE_OK || size != 16)
        return code == STORE_OK ? 0 : -1;
    *running = s_get_u64 ((const uint8_t *)data);
    *queued = s_get_u64 ((const uint8_t *)data + 8);
    return 0;
}

static int
s_set_counts (executor_policy_t *self, store_txn_t *txn, const char *group,
              uint64_t running, uint64_t queued)
{
    if (running == 0 && queued == 0) {
        store_code_t code = store_del (txn, self->count, group, strlen (group));
        return code == STORE_OK || code == STORE_NOTFOUND ? 0 : -1;
    }
    uint8_t value[16];
    s_put_u64 (value, running);
    s_put_u64 (value + 8, queued);
    return store_put (txn, self->count, group, strlen (group), value, sizeof value) ==
                   STORE_OK
               ? 0
               : -1;
}

static int
s_stat_add (executor_policy_t *self, store_txn_t *txn, const char *action, int which)
{
    uint8_t value[16] = {0};
    const void *data;
    size_t size;
    if (store_get (txn, self->stats, action, strlen (action), &data, &size) == STORE_OK &&
        size == 16)
        memcpy (value, data, 16);
    s_put_u64 (value + 8 * which, s_get_u64 (value + 8 * which) + 1);
    return store_put (txn, self->stats, action, strlen (action), value, sizeof value) ==
                   STORE_OK
               ? 0
               : -1;
}

static uint64_t
s_next_seq (executor_policy_t *self, store_txn_t *txn)
{
    const void *data;
    size_t size;
    uint64_t seq = 0;
    if (store_get (txn, self->meta, "seq", 3, &data, &size) == STORE_OK && size == 8)
        seq = s_get_u64 ((const uint8_t *)data);
    seq++;
    uint8_t value[8];
    s_put_u64 (value, seq);
    store_put (txn, self->meta, "seq", 3, value, sizeof value);
    return seq;
}

//  Admissions of `action` within the rate window ending at `now` (older ones
//  are pruned on the way).
static uint64_t
s_rate_count (executor_policy_t *self, store_txn_t *txn, const char *action,
              double window_s, int64_t now)
{
    size_t n = strlen (action);
    uint8_t key[S_GROUP_MAX + 32];
    memcpy (key, action, n);
    key[n] = 0;
    s_put_u64 (key + n + 1, 0);
    int64_t since = now - (int64_t)(window_s * 1e6);
    uint64_t count = 0;
    store_cursor_t *cursor = store_cursor_new (txn, self->rate);
    store_code_t code = cursor ? store_cursor_seek (cursor, key, n + 1) : STORE_NOTFOUND;
    while (code == STORE_OK) {
        size_t size;
        const uint8_t *at = (const uint8_t *)store_cursor_key (cursor, &size);
        if (size != n + 17 || memcmp (at, key, n + 1) != 0)
            break;
        if ((int64_t)s_get_u64 (at + n + 1) < since) {
            store_cursor_del (cursor); //  outside every window from now on
            code = store_cursor_seek (cursor, key, n + 1);
            continue;
        }
        count++;
        code = store_cursor_next (cursor);
    }
    store_cursor_destroy (&cursor);
    return count;
}

//  ---------------------------------------------------------------------------
//  Definitions

executor_policy_t *
executor_policy_new (store_t *store)
{
    executor_policy_t *self = (executor_policy_t *)zmalloc (sizeof (executor_policy_t));
    self->store = store;
    self->count = store_table (store, "policy.count", false);
    self->admitted = store_table (store, "policy.admitted", false);
    self->queue = store_table (store, "policy.queue", false);
    self->queued = store_table (store, "policy.queued", false);
    self->rate = store_table (store, "policy.rate", false);
    self->timers = store_table (store, "policy.timers", false);
    self->stats = store_table (store, "policy.stats", false);
    self->meta = store_table (store, "policy.meta", false);
    self->by_action = zhashx_new ();
    self->definitions = json_object ();
    if (!self->count || !self->admitted || !self->queue || !self->queued || !self->rate ||
        !self->timers || !self->stats || !self->meta || !self->by_action) {
        executor_policy_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->by_action, s_rules_destroy);
    self->maybe_waiting = true; //  a restart may have left queues and timers
    return self;
}

void
executor_policy_destroy (executor_policy_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        executor_policy_t *self = *self_p;
        zhashx_destroy (&self->by_action);
        json_decref (self->definitions);
        free (self);
        *self_p = NULL;
    }
}

void
executor_policy_define (executor_policy_t *self, const json_t *policies)
{
    zhashx_purge (self->by_action);
    json_decref (self->definitions);
    self->definitions = json_object ();
    const char *ref;
    json_t *policy;
    json_object_foreach ((json_t *)policies, ref, policy)
    {
        if (json_is_false (json_object_get (policy, "enabled")))
            continue;
        json_object_set (self->definitions, ref, policy);
    }
    //  In ref order, so the first of two policies of one kind is the one used
    const char **refs =
        (const char **)calloc (json_object_size (self->definitions) + 1, sizeof (char *));
    size_t n = 0;
    json_object_foreach (self->definitions, ref, policy) refs[n++] = ref;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp (refs[j - 1], refs[j]) > 0; j--) {
            const char *swap = refs[j];
            refs[j] = refs[j - 1];
            refs[j - 1] = swap;
        }
    for (size_t i = 0; i < n; i++) {
        policy = json_object_get (self->definitions, refs[i]);
        const char *action = json_string_value (json_object_get (policy, "resource_ref"));
        const char *type = json_string_value (json_object_get (policy, "policy_type"));
        if (!action || !type)
            continue;
        s_rules_t *rules = (s_rules_t *)zhashx_lookup (self->by_action, action);
        if (!rules) {
            rules = (s_rules_t *)zmalloc (sizeof (s_rules_t));
            rules->refs = json_array ();
            zhashx_insert (self->by_action, action, rules);
        }
        bool used = true;
        if (strncmp (type, "action.concurrency", 18) == 0 && !rules->concurrency)
            rules->concurrency = policy;
        else if (streq (type, "action.ratelimit") && !rules->rate)
            rules->rate = policy;
        else if (streq (type, "action.retry") && !rules->retry)
            rules->retry = json_object_get (policy, "parameters");
        else if (streq (type, "action.timeout") && rules->timeout == 0)
            rules->timeout = s_param_number (policy, "timeout", 0);
        else {
            used = false;
            zsys_warning ("executor: policy %s ignored: %s already has a %s policy",
                          refs[i], action, type);
        }
        if (used)
            json_array_append_new (rules->refs, json_string (refs[i]));
    }
    free (refs);
    self->maybe_waiting = true; //  a limit may have been lifted: look at the queues
}

size_t
executor_policy_count (executor_policy_t *self)
{
    return json_object_size (self->definitions);
}

static s_rules_t *
s_rules (executor_policy_t *self, const char *action)
{
    return action ? (s_rules_t *)zhashx_lookup (self->by_action, action) : NULL;
}

bool
executor_policy_limits (executor_policy_t *self, const char *action)
{
    s_rules_t *rules = s_rules (self, action);
    return rules && (rules->concurrency || rules->rate);
}

const json_t *
executor_policy_retry (executor_policy_t *self, const char *action)
{
    s_rules_t *rules = s_rules (self, action);
    return rules ? rules->retry : NULL;
}

double
executor_policy_retry_delay (const json_t *retry, int attempt)
{
    const json_t *value = json_object_get (retry, "delay");
    double delay = json_is_number (value) ? json_number_value (value) : 0;
    const char *backoff = json_string_value (json_object_get (retry, "backoff"));
    if (attempt < 1)
        attempt = 1;
    if (backoff && streq (backoff, "linear"))
        return delay * attempt;
    if (backoff && streq (backoff, "exponential"))
        return delay * pow (2, attempt > 40 ? 40 : attempt - 1);
    return delay;
}

double
executor_policy_timeout (executor_policy_t *self, const char *action)
{
    s_rules_t *rules = s_rules (self, action);
    return rules ? rules->timeout : 0;
}

//  ---------------------------------------------------------------------------
//  Admission

//  Which policy holds back an execution of `group` now, or NULL.
static const json_t *
s_blocking (executor_policy_t *self, store_txn_t *txn, const s_rules_t *rules,
            const char *action, const char *group, int64_t now, uint64_t running)
{
    if (!rules)
        return NULL;
    if (rules->concurrency &&
        running >= (uint64_t)s_param_int (rules->concurrency, "threshold", 1))
        return rules->concurrency;
    if (rules->rate &&
        s_rate_count (self, txn, action,
                      s_param_number (rules->rate, "window_seconds", 1),
                      now) >= (uint64_t)s_param_int (rules->rate, "max", 1))
        return rules->rate;
    return NULL;
}

//  Count an admitted execution against the limits.
static int
s_take (executor_policy_t *self, store_txn_t *txn, const s_rules_t *rules, const char *id,
        const char *action, const char *group, int64_t now)
{
    uint64_t running, queued;
    if (s_counts (self, txn, group, &running, &queued) != 0 ||
        s_set_counts (self, txn, group, running + 1, queued) != 0 ||
        store_put (txn, self->admitted, id, strlen (id), group, strlen (group)) !=
            STORE_OK ||
        s_stat_add (self, txn, action, 0) != 0)
        return -1;
    if (rules && rules->rate) {
        size_t n = strlen (action);
        uint8_t key[S_GROUP_MAX + 32];
        memcpy (key, action, n);
        key[n] = 0;
        s_put_u64 (key + n + 1, (uint64_t)now);
        s_put_u64 (key + n + 9, s_next_seq (self, txn));
        if (store_put (txn, self->rate, key, n + 17, "", 0) != STORE_OK)
            return -1;
    }
    return 0;
}

int
executor_policy_admit (executor_policy_t *self, store_txn_t *txn, const char *id,
                       const char *action, const json_t *parameters, int64_t now,
                       executor_admission_t *decision, char *reason, size_t size)
{
    *decision = POLICY_ADMIT;
    if (reason && size)
        reason[0] = 0;
    s_rules_t *rules = s_rules (self, action);
    if (!rules || (!rules->concurrency && !rules->rate) || strlen (id) >= S_ID_MAX ||
        strlen (action) >= S_GROUP_MAX - 64)
        return 0;
    char group[S_GROUP_MAX + 32];
    s_group_key (rules, action, parameters, group, sizeof group);
    uint64_t running, queued;
    if (s_counts (self, txn, group, &running, &queued) != 0)
        return -1;
    const json_t *blocking = s_blocking (self, txn, rules, action, group, now, running);
    if (!blocking && queued > 0)
        blocking =
            rules->concurrency ? rules->concurrency : rules->rate; //  its turn comes
    if (!blocking)
        return s_take (self, txn, rules, id, action, group, now);
    const char *ref = json_string_value (json_object_get (blocking, "ref")) ?: "?";
    bool is_rate = blocking == rules->rate;
    if (streq (s_param_str (blocking, "action", "delay"), "cancel")) {
        *decision = POLICY_CANCEL;
        if (is_rate)
            snprintf (reason, size, "policy %s: %s already ran %" PRId64 " times in %g s",
                      ref, action, s_param_int (blocking, "max", 1),
                      s_param_number (blocking, "window_seconds", 1));
        else
            snprintf (reason, size,
                      "policy %s: %" PRIu64
                      " executions of %s already running (threshold "
                      "%" PRId64 ")",
                      ref, running, group, s_param_int (blocking, "threshold", 1));
        return 0;
    }
    int64_t max_queue = s_param_int (blocking, "max_queue", 10000);
    if ((int64_t)queued >= max_queue) {
        *decision = POLICY_CANCEL;
        snprintf (reason, size,
                  "policy %s: the queue of %s is full (%" PRIu64 " waiting)", ref, group,
                  queued);
        return 0;
    }
    //  Queue: group, 0, seq -> enqueued + id
    size_t n = strlen (group);
    uint8_t key[S_GROUP_MAX + 32];
    memcpy (key, group, n);
    key[n] = 0;
    s_put_u64 (key + n + 1, s_next_seq (self, txn));
    uint8_t value[8 + S_ID_MAX];
    s_put_u64 (value, (uint64_t)now);
    size_t id_size = strlen (id);
    memcpy (value + 8, id, id_size);
    if (store_put (txn, self->queue, key, n + 9, value, 8 + id_size) != STORE_OK ||
        store_put (txn, self->queued, id, id_size, key, n + 9) != STORE_OK ||
        s_set_counts (self, txn, group, running, queued + 1) != 0)
        return -1;
    *decision = POLICY_DELAY;
    snprintf (reason, size, "policy %s: waiting for %s (%" PRIu64 " ahead)", ref,
              is_rate ? "the rate limit" : "a free slot", queued);
    self->maybe_waiting = true;
    return 0;
}

//  The head of a group's queue: its key and value. STORE_NOTFOUND when empty.
static store_code_t
s_head (executor_policy_t *self, store_txn_t *txn, const char *group, uint8_t *key,
        size_t *key_size, char *id, int64_t *enqueued)
{
    size_t n = strlen (group);
    uint8_t start[S_GROUP_MAX + 32];
    memcpy (start, group, n);
    start[n] = 0;
    store_cursor_t *cursor = store_cursor_new (txn, self->queue);
    store_code_t code =
        cursor ? store_cursor_seek (cursor, start, n + 1) : STORE_INTERNAL;
    if (code == STORE_OK) {
        size_t size, vsize;
        const uint8_t *at = (const uint8_t *)store_cursor_key (cursor, &size);
        const uint8_t *value = (const uint8_t *)store_cursor_data (cursor, &vsize);
        if (size != n + 9 || memcmp (at, start, n + 1) != 0 || vsize < 9 ||
            vsize - 8 >= S_ID_MAX)
            code = STORE_NOTFOUND;
        else {
            memcpy (key, at, size);
            *key_size = size;
            *enqueued = (int64_t)s_get_u64 (value);
            memcpy (id, value + 8, vsize - 8);
            id[vsize - 8] = 0;
        }
    }
    store_cursor_destroy (&cursor);
    return code;
}

//  Take `id` (at `key`) out of its group's queue.
static int
s_dequeue (executor_policy_t *self, store_txn_t *txn, const char *group,
           const uint8_t *key, size_t key_size, const char *id)
{
    uint64_t running, queued;
    if (store_del (txn, self->queue, key, key_size) != STORE_OK ||
        store_del (txn, self->queued, id, strlen (id)) != STORE_OK ||
        s_counts (self, txn, group, &running, &queued) != 0)
        return -1;
    return s_set_counts (self, txn, group, running, queued ? queued - 1 : 0);
}

//  Let the heads of `group` through while the limits allow.
static int
s_wake (executor_policy_t *self, store_txn_t *txn, const char *group, int64_t now,
        executor_policy_fn *admit, executor_policy_fn *expire, void *arg)
{
    char action[S_GROUP_MAX];
    s_group_action (group, strlen (group), action, sizeof action);
    s_rules_t *rules = s_rules (self, action);
    while (true) {
        uint8_t key[S_GROUP_MAX + 32];
        size_t key_size;
        char id[S_ID_MAX];
        int64_t enqueued;
        store_code_t code = s_head (self, txn, group, key, &key_size, id, &enqueued);
        if (code == STORE_NOTFOUND)
            return 0;
        if (code != STORE_OK)
            return -1;
        const json_t *limit =
            rules ? (rules->concurrency ? rules->concurrency : rules->rate) : NULL;
        double timeout_s = limit ? s_param_number (limit, "queue_timeout", 3600) : 3600;
        if (expire && now - enqueued > (int64_t)(timeout_s * 1e6)) {
            if (s_dequeue (self, txn, group, key, key_size, id) != 0 ||
                expire (arg, txn, id) != 0)
                return -1;
            continue;
        }
        uint64_t running, queued;
        if (s_counts (self, txn, group, &running, &queued) != 0)
            return -1;
        if (s_blocking (self, txn, rules, action, group, now, running))
            return 0;
        if (s_dequeue (self, txn, group, key, key_size, id) != 0 ||
            s_take (self, txn, rules, id, action, group, now) != 0 ||
            admit (arg, txn, id) != 0)
            return -1;
    }
}

int
executor_policy_release (executor_policy_t *self, store_txn_t *txn, const char *id,
                         int64_t now, executor_policy_fn *admit, void *arg)
{
    if (strlen (id) >= S_ID_MAX)
        return 0;
    char group[S_GROUP_MAX + 32];
    const void *data;
    size_t size;
    store_code_t code = store_get (txn, self->admitted, id, strlen (id), &data, &size);
    if (code == STORE_OK && size < S_GROUP_MAX + 32) {
        snprintf (group, sizeof group, "%.*s", (int)size, (const char *)data);
        uint64_t running, queued;
        char action[S_GROUP_MAX];
        s_group_action (group, strlen (group), action, sizeof action);
        if (store_del (txn, self->admitted, id, strlen (id)) != STORE_OK ||
            s_counts (self, txn, group, &running, &queued) != 0 ||
            s_set_counts (self, txn, group, running ? running - 1 : 0, queued) != 0 ||
            s_stat_add (self, txn, action, 1) != 0)
            return -1;
        return s_wake (self, txn, group, now, admit, NULL, arg);
    }
    if (code != STORE_NOTFOUND && code != STORE_OK)
        return -1;
    //  Ended while waiting (cancelled, expired): out of its queue
    code = store_get (txn, self->queued, id, strlen (id), &data, &size);
    if (code == STORE_NOTFOUND)
        return 0;
    if (code != STORE_OK || size < 10 || size > S_GROUP_MAX + 9)
        return code == STORE_OK ? 0 : -1;
    uint8_t key[S_GROUP_MAX + 32];
    memcpy (key, data, size);
    snprintf (group, sizeof group, "%.*s", (int)(size - 9), (const char *)key);
    if (s_dequeue (self, txn, group, key, size, id) != 0)
        return -1;
    return s_wake (self, txn, group, now, admit, NULL, arg);
}

int
executor_policy_defer (executor_policy_t *self, store_txn_t *txn, const char *id,
                       int64_t due)
{
    size_t n = strlen (id);
    if (n >= S_ID_MAX)
        return -1;
    uint8_t key[8 + S_ID_MAX];
    s_put_u64 (key, (uint64_t)(due < 0 ? 0 : due));
    memcpy (key + 8, id, n);
    self->maybe_waiting = true;
    return store_put (txn, self->timers, key, 8 + n, "", 0) == STORE_OK ? 0 : -1;
}

int
executor_policy_tick (executor_policy_t *self, store_txn_t *txn, int64_t now,
                      executor_policy_fn *admit, executor_policy_fn *expire,
                      executor_policy_fn *due_fn, void *arg)
{
    bool waiting = false;
    //  Deferred executions that are due, in due order
    zlist_t *due = zlist_new ();
    zlist_autofree (due);
    store_cursor_t *cursor = store_cursor_new (txn, self->timers);
    while (cursor && store_cursor_next (cursor) == STORE_OK) {
        size_t size;
        const uint8_t *key = (const uint8_t *)store_cursor_key (cursor, &size);
        if (size < 9 || size >= 8 + S_ID_MAX)
            continue;
        if ((int64_t)s_get_u64 (key) > now) {
            waiting = true;
            break;
        }
        char id[S_ID_MAX];
        memcpy (id, key + 8, size - 8);
        id[size - 8] = 0;
        zlist_append (due, id);
        store_cursor_del (cursor);
    }
    store_cursor_destroy (&cursor);
    int rc = 0;
    for (char *id = (char *)zlist_first (due); id && rc == 0;
         id = (char *)zlist_next (due))
        rc = due_fn (arg, txn, id);
    zlist_destroy (&due);
    if (rc != 0)
        return -1;
    //  Every group with a queue: expire and admit its heads
    char group[S_GROUP_MAX + 32] = "";
    while (true) {
        size_t n = strlen (group);
        uint8_t start[S_GROUP_MAX + 32];
        memcpy (start, group, n);
        start[n] = 1; //  just past every key of `group`
        cursor = store_cursor_new (txn, self->queue);
        store_code_t code = cursor ? (n ? store_cursor_seek (cursor, start, n + 1)
                                        : store_cursor_first (cursor))
                                   : STORE_INTERNAL;
        bool found = false;
        if (code == STORE_OK) {
            size_t size;
            const uint8_t *key = (const uint8_t *)store_cursor_key (cursor, &size);
            const uint8_t *zero =
                size > 9 ? (const uint8_t *)memchr (key, 0, size - 8) : NULL;
            if (zero && (size_t)(zero - key) < S_GROUP_MAX) {
                snprintf (group, sizeof group, "%.*s", (int)(zero - key),
                          (const char *)key);
                found = true;
            }
        }
        store_cursor_destroy (&cursor);
        if (!found)
            break;
        if (s_wake (self, txn, group, now, admit, expire, arg) != 0)
            return -1;
        uint64_t running, queued;
        if (s_counts (self, txn, group, &running, &queued) == 0 && queued > 0)
            waiting = true;
    }
    self->maybe_waiting = waiting;
    return 0;
}

int
executor_policy_tick_ms (executor_policy_t *self)
{
    return self->maybe_waiting ? S_TICK_MS : -1;
}

json_t *
executor_policy_stats (executor_policy_t *self, store_txn_t *txn, const char *action,
                       int64_t now)
{
    size_t n = strlen (action);
    uint64_t running = 0, queued = 0, admitted = 0, completed = 0;
    int64_t oldest = 0;
    //  Every group of the action: "action" and "action|..."
    store_cursor_t *cursor = store_cursor_new (txn, self->count);
    store_code_t code = cursor ? store_cursor_seek (cursor, action, n) : STORE_NOTFOUND;
    while (code == STORE_OK) {
        size_t size, vsize;
        const char *key = (const char *)store_cursor_key (cursor, &size);
        const uint8_t *value = (const uint8_t *)store_cursor_data (cursor, &vsize);
        if (size < n || memcmp (key, action, n) != 0)
            break;
        if ((size == n || key[n] == '|') && vsize == 16) {
            running += s_get_u64 (value);
            uint64_t waiting = s_get_u64 (value + 8);
            queued += waiting;
            if (waiting) {
                char group[S_GROUP_MAX + 32], id[S_ID_MAX];
                uint8_t head[S_GROUP_MAX + 32];
                size_t head_size;
                int64_t enqueued;
                snprintf (group, sizeof group, "%.*s", (int)size, key);
                if (s_head (self, txn, group, head, &head_size, id, &enqueued) ==
                        STORE_OK &&
                    (oldest == 0 || enqueued < oldest))
                    oldest = enqueued;
            }
        }
        code = store_cursor_next (cursor);
    }
    store_cursor_destroy (&cursor);
    const void *data;
    size_t size;
    if (store_get (txn, self->stats, action, n, &data, &size) == STORE_OK && size == 16) {
        admitted = s_get_u64 ((const uint8_t *)data);
        completed = s_get_u64 ((const uint8_t *)data + 8);
    }
    s_rules_t *rules = s_rules (self, action);
    return json_pack ("{s:s, s:I, s:I, s:f, s:I, s:I, s:o}", "action", action, "running",
                      (json_int_t)running, "queued", (json_int_t)queued, "oldest_wait",
                      oldest ? (double)(now - oldest) / 1e6 : 0.0, "admitted",
                      (json_int_t)admitted, "completed", (json_int_t)completed,
                      "policies", rules ? json_incref (rules->refs) : json_array ());
}
