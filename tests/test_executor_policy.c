/*  executor_policy: admission, FIFO queues, release, rate windows, queue
    limits and timeouts, deferred retries, restarts, statistics; on a real
    LMDB store in a temporary directory. (The executor's use of it, end to
    end, is in test_policies.) */
#include "tests/testing.h"
#include <czmq.h>
#include "actors/executor/executor_policy.h"

static char s_dir[PATH_MAX];
static store_t *s_store;
static executor_policy_t *s_policy;
static zlist_t *s_admitted, *s_expired, *s_due; //  what the callbacks saw, in order

static void
s_open (void)
{
    char message[256];
    store_code_t code;
    s_store = store_open (s_dir, NULL, &code, message, sizeof message);
    cr_assert_not_null (s_store, "%s", message);
    s_policy = executor_policy_new (s_store);
    cr_assert_not_null (s_policy);
}

static void
s_close (void)
{
    executor_policy_destroy (&s_policy);
    store_close (&s_store);
}

static void
s_setup (void)
{
    testing_tmpdir (s_dir, sizeof s_dir, "test_executor_policy");
    s_open ();
}

static void
s_teardown (void)
{
    zlist_destroy (&s_admitted);
    zlist_destroy (&s_expired);
    zlist_destroy (&s_due);
    s_close ();
    testing_rmtree (s_dir);
}

TestSuite (executor_policy, .init = s_setup, .fini = s_teardown, .timeout = 60);

static void
s_define (const char *json)
{
    json_error_t error;
    json_t *policies = json_loads (json, 0, &error);
    cr_assert_not_null (policies, "%s", error.text);
    executor_policy_define (s_policy, policies);
    json_decref (policies);
}

static int
s_on_admit (void *arg, store_txn_t *txn, const char *id)
{
    zlist_append (s_admitted, (void *)id);
    return 0;
}

static int
s_on_expire (void *arg, store_txn_t *txn, const char *id)
{
    zlist_append (s_expired, (void *)id);
    return 0;
}

static int
s_on_due (void *arg, store_txn_t *txn, const char *id)
{
    zlist_append (s_due, (void *)id);
    return 0;
}

static void
s_lists (void)
{
    zlist_destroy (&s_admitted);
    zlist_destroy (&s_expired);
    zlist_destroy (&s_due);
    s_admitted = zlist_new ();
    s_expired = zlist_new ();
    s_due = zlist_new ();
    zlist_autofree (s_admitted);
    zlist_autofree (s_expired);
    zlist_autofree (s_due);
}

typedef struct {
    const char *op; //  "admit", "release", "tick", "defer", "stats"
    const char *id;
    const char *action;
    json_t *parameters;
    int64_t now;
    executor_admission_t decision;
    char reason[256];
    json_t *stats;
} s_call_t;

static int
s_apply (store_txn_t *txn, void *arg)
{
    s_call_t *call = (s_call_t *)arg;
    if (streq (call->op, "admit"))
        return executor_policy_admit (s_policy, txn, call->id, call->action,
                                      call->parameters, call->now, &call->decision,
                                      call->reason, sizeof call->reason);
    if (streq (call->op, "release"))
        return executor_policy_release (s_policy, txn, call->id, call->now, s_on_admit,
                                        NULL);
    if (streq (call->op, "tick"))
        return executor_policy_tick (s_policy, txn, call->now, s_on_admit, s_on_expire,
                                     s_on_due, NULL);
    if (streq (call->op, "defer"))
        return executor_policy_defer (s_policy, txn, call->id, call->now);
    return -1;
}

static executor_admission_t
s_admit (const char *id, const char *action, const char *parameters, int64_t now)
{
    s_call_t call = {.op = "admit", .id = id, .action = action, .now = now};
    call.parameters = parameters ? json_loads (parameters, 0, NULL) : json_object ();
    cr_assert_eq (store_write (s_store, s_apply, &call), STORE_OK);
    json_decref (call.parameters);
    return call.decision;
}

static void
s_op (const char *op, const char *id, int64_t now)
{
    s_call_t call = {.op = op, .id = id, .now = now};
    cr_assert_eq (store_write (s_store, s_apply, &call), STORE_OK);
}

static json_t *
s_stats (const char *action, int64_t now)
{
    store_txn_t *txn = store_read_begin (s_store);
    json_t *stats = executor_policy_stats (s_policy, txn, action, now);
    store_read_end (&txn);
    return stats;
}

static const char *s_threshold_1 =
    "{\"ops.one\": {\"ref\": \"ops.one\", \"enabled\": true, \"resource_ref\": "
    "\"ops.deploy\","
    " \"policy_type\": \"action.concurrency\", \"parameters\": {\"threshold\": 1,"
    " \"action\": \"delay\", \"max_queue\": 10000, \"queue_timeout\": 3600}}}";

Test (executor_policy, threshold_1_releases_strictly_in_arrival_order)
{
    s_lists ();
    s_define (s_threshold_1);
    cr_assert (executor_policy_limits (s_policy, "ops.deploy"));
    cr_assert_not (executor_policy_limits (s_policy, "ops.other"));
    char id[32];
    for (int i = 0; i < 101; i++) {
        snprintf (id, sizeof id, "e%03d", i);
        executor_admission_t decision = s_admit (id, "ops.deploy", NULL, 1000 + i);
        cr_assert_eq (decision, i == 0 ? POLICY_ADMIT : POLICY_DELAY, "execution %d", i);
    }
    json_t *stats = s_stats ("ops.deploy", 2000);
    cr_assert_eq (json_integer_value (json_object_get (stats, "running")), 1);
    cr_assert_eq (json_integer_value (json_object_get (stats, "queued")), 100);
    json_decref (stats);
    //  Each end lets exactly the next one in
    for (int i = 0; i < 100; i++) {
        snprintf (id, sizeof id, "e%03d", i);
        s_op ("release", id, 5000 + i);
        cr_assert_eq (zlist_size (s_admitted), (size_t)i + 1);
        char expect[32];
        snprintf (expect, sizeof expect, "e%03d", i + 1);
        cr_assert_str_eq ((char *)zlist_tail (s_admitted), expect);
    }
    //  Releasing twice, or an unknown execution, changes nothing
    s_op ("release", "e000", 9000);
    s_op ("release", "nobody", 9000);
    stats = s_stats ("ops.deploy", 9000);
    cr_assert_eq (json_integer_value (json_object_get (stats, "running")), 1);
    cr_assert_eq (json_integer_value (json_object_get (stats, "queued")), 0);
    cr_assert_eq (json_integer_value (json_object_get (stats, "admitted")), 101);
    cr_assert_eq (json_integer_value (json_object_get (stats, "completed")), 100);
    json_decref (stats);
}

Test (executor_policy, threshold_3_is_never_exceeded)
{
    s_lists ();
    s_define ("{\"p\": {\"ref\": \"p\", \"resource_ref\": \"a\", \"policy_type\": "
              "\"action.concurrency\", \"parameters\": {\"threshold\": 3}}}");
    int running = 0, admitted = 0;
    char id[32];
    zlist_t *live = zlist_new ();
    zlist_autofree (live);
    for (int i = 0; i < 30; i++) {
        snprintf (id, sizeof id, "x%02d", i);
        if (s_admit (id, "a", NULL, i) == POLICY_ADMIT) {
            running++;
            zlist_append (live, id);
        }
        cr_assert_leq (running, 3);
        //  End one in three as they come
        if (i % 3 == 2 && zlist_size (live)) {
            char *done = (char *)zlist_pop (live);
            size_t before = zlist_size (s_admitted);
            s_op ("release", done, i);
            free (done);
            running--;
            for (size_t k = before; k < zlist_size (s_admitted); k++) {
                running++;
                zlist_append (live, (char *)zlist_tail (s_admitted));
            }
            cr_assert_leq (running, 3);
        }
        admitted = running;
    }
    cr_assert_eq (admitted, 3);
    zlist_destroy (&live);
}

Test (executor_policy, attr_groups_have_their_own_slots)
{
    s_lists ();
    s_define ("{\"p\": {\"ref\": \"p\", \"resource_ref\": \"a\", \"policy_type\": "
              "\"action.concurrency.attr\", \"parameters\": {\"threshold\": 1, "
              "\"attributes\": [\"env\"]}}}");
    cr_assert_eq (s_admit ("1", "a", "{\"env\": \"prod\", \"n\": 1}", 1), POLICY_ADMIT);
    cr_assert_eq (s_admit ("2", "a", "{\"env\": \"test\", \"n\": 1}", 2), POLICY_ADMIT);
    cr_assert_eq (s_admit ("3", "a", "{\"env\": \"prod\", \"n\": 2}", 3), POLICY_DELAY);
    cr_assert_eq (s_admit ("4", "a", "{\"n\": 2}", 4), POLICY_ADMIT,
                  "a missing value is a group");
    cr_assert_eq (s_admit ("5", "a", "{\"n\": 3}", 5), POLICY_DELAY);
    s_op ("release", "2", 6); //  test's slot: nothing waits for it
    cr_assert_eq (zlist_size (s_admitted), 0);
    s_op ("release", "1", 7);
    cr_assert_eq (zlist_size (s_admitted), 1);
    cr_assert_str_eq ((char *)zlist_first (s_admitted), "3");
    json_t *stats = s_stats ("a", 8);
    cr_assert_eq (json_integer_value (json_object_get (stats, "running")), 2);
    cr_assert_eq (json_integer_value (json_object_get (stats, "queued")), 1);
    json_decref (stats);
}

Test (executor_policy, rate_limit_delays_then_admits_as_the_window_slides)
{
    s_lists ();
    s_define ("{\"r\": {\"ref\": \"r\", \"resource_ref\": \"a\", \"policy_type\": "
              "\"action.ratelimit\", \"parameters\": {\"max\": 2, \"window_seconds\": 1,"
              " \"action\": \"delay\"}}}");
    int64_t t = 1000000000;
    cr_assert_eq (s_admit ("1", "a", NULL, t), POLICY_ADMIT);
    cr_assert_eq (s_admit ("2", "a", NULL, t + 100), POLICY_ADMIT);
    cr_assert_eq (s_admit ("3", "a", NULL, t + 200), POLICY_DELAY);
    cr_assert_eq (s_admit ("4", "a", NULL, t + 300), POLICY_DELAY);
    cr_assert_eq (s_admit ("5", "a", NULL, t + 400), POLICY_DELAY);
    cr_assert_geq (executor_policy_tick_ms (s_policy), 0, "a tick is wanted");
    s_op ("tick", NULL, t + 500000); //  still inside the window
    cr_assert_eq (zlist_size (s_admitted), 0);
    s_op ("tick", NULL, t + 1000050); //  the first admission left the window
    cr_assert_eq (zlist_size (s_admitted), 1);
    s_op ("tick", NULL, t + 1000150); //  and the second
    cr_assert_eq (zlist_size (s_admitted), 2);
    cr_assert_str_eq ((char *)zlist_first (s_admitted), "3");
    cr_assert_str_eq ((char *)zlist_next (s_admitted), "4");
    s_op ("tick", NULL, t + 2100000);
    cr_assert_eq (zlist_size (s_admitted), 3);
    cr_assert_str_eq ((char *)zlist_tail (s_admitted), "5");
    s_op ("tick", NULL, t + 3100000);
    cr_assert_eq (executor_policy_tick_ms (s_policy), -1, "nothing waits any more");
}

Test (executor_policy, cancel_actions_and_queue_limits)
{
    s_lists ();
    s_define (
        "{\"c\": {\"ref\": \"c\", \"resource_ref\": \"a\", \"policy_type\": "
        "\"action.concurrency\", \"parameters\": {\"threshold\": 1, \"action\": "
        "\"cancel\"}},"
        " \"r\": {\"ref\": \"r\", \"resource_ref\": \"b\", \"policy_type\": "
        "\"action.ratelimit\", \"parameters\": {\"max\": 1, \"window_seconds\": 60,"
        " \"action\": \"cancel\"}},"
        " \"q\": {\"ref\": \"q\", \"resource_ref\": \"c\", \"policy_type\": "
        "\"action.concurrency\", \"parameters\": {\"threshold\": 1, \"max_queue\": 2,"
        " \"queue_timeout\": 10}}}");
    cr_assert_eq (s_admit ("a1", "a", NULL, 1), POLICY_ADMIT);
    s_call_t call = {.op = "admit", .id = "a2", .action = "a", .now = 2};
    call.parameters = json_object ();
    cr_assert_eq (store_write (s_store, s_apply, &call), STORE_OK);
    cr_assert_eq (call.decision, POLICY_CANCEL);
    cr_assert_not_null (strstr (call.reason, "threshold 1"), "%s", call.reason);
    json_decref (call.parameters);
    cr_assert_eq (s_admit ("b1", "b", NULL, 1), POLICY_ADMIT);
    cr_assert_eq (s_admit ("b2", "b", NULL, 2), POLICY_CANCEL);
    //  Queue of 2 at most; then cancelled
    cr_assert_eq (s_admit ("c1", "c", NULL, 1), POLICY_ADMIT);
    cr_assert_eq (s_admit ("c2", "c", NULL, 2), POLICY_DELAY);
    cr_assert_eq (s_admit ("c3", "c", NULL, 3), POLICY_DELAY);
    cr_assert_eq (s_admit ("c4", "c", NULL, 4), POLICY_CANCEL, "the queue is full");
    //  Queue timeout (10 s): both waiting ones expire, in order
    s_op ("tick", NULL, 5000000);
    cr_assert_eq (zlist_size (s_expired), 0);
    s_op ("tick", NULL, 11000003);
    cr_assert_eq (zlist_size (s_expired), 2);
    cr_assert_str_eq ((char *)zlist_first (s_expired), "c2");
    cr_assert_str_eq ((char *)zlist_next (s_expired), "c3");
    //  A waiting execution that is cancelled leaves its queue
    cr_assert_eq (s_admit ("c5", "c", NULL, 12000000), POLICY_DELAY);
    cr_assert_eq (s_admit ("c6", "c", NULL, 12000001), POLICY_DELAY);
    s_op ("release", "c5", 12000002);
    s_op ("release", "c1", 12000003);
    cr_assert_eq (zlist_size (s_admitted), 1);
    cr_assert_str_eq ((char *)zlist_first (s_admitted), "c6");
}

Test (executor_policy, queues_and_counts_outlive_a_restart)
{
    s_lists ();
    s_define (s_threshold_1);
    char id[32];
    for (int i = 0; i < 50; i++) {
        snprintf (id, sizeof id, "r%02d", i);
        s_admit (id, "ops.deploy", NULL, i);
    }
    s_close ();
    s_open ();
    s_define (s_threshold_1);
    json_t *stats = s_stats ("ops.deploy", 100);
    cr_assert_eq (json_integer_value (json_object_get (stats, "running")), 1);
    cr_assert_eq (json_integer_value (json_object_get (stats, "queued")), 49);
    json_decref (stats);
    cr_assert_eq (s_admit ("late", "ops.deploy", NULL, 200), POLICY_DELAY,
                  "a newcomer waits behind the queue");
    for (int i = 0; i < 50; i++) {
        snprintf (id, sizeof id, "r%02d", i);
        s_op ("release", id, 300 + i);
    }
    cr_assert_eq (zlist_size (s_admitted), 50);
    int i = 1;
    for (char *got = (char *)zlist_first (s_admitted); got;
         got = (char *)zlist_next (s_admitted), i++) {
        if (i < 50)
            snprintf (id, sizeof id, "r%02d", i);
        else
            snprintf (id, sizeof id, "late");
        cr_assert_str_eq (got, id, "position %d", i);
    }
}

Test (executor_policy, retries_deferred_and_backoff)
{
    s_lists ();
    s_define ("{\"t\": {\"ref\": \"t\", \"resource_ref\": \"a\", \"policy_type\": "
              "\"action.retry\", \"parameters\": {\"retry_on\": \"failure\", "
              "\"max_retry_count\": 3, \"delay\": 2, \"backoff\": \"exponential\"}},"
              " \"to\": {\"ref\": \"to\", \"resource_ref\": \"a\", \"policy_type\": "
              "\"action.timeout\", \"parameters\": {\"timeout\": 7.5}}}");
    const json_t *retry = executor_policy_retry (s_policy, "a");
    cr_assert_not_null (retry);
    cr_assert_float_eq (executor_policy_retry_delay (retry, 1), 2.0, 1e-9);
    cr_assert_float_eq (executor_policy_retry_delay (retry, 2), 4.0, 1e-9);
    cr_assert_float_eq (executor_policy_retry_delay (retry, 3), 8.0, 1e-9);
    json_t *linear = json_pack ("{s:f, s:s}", "delay", 1.5, "backoff", "linear");
    cr_assert_float_eq (executor_policy_retry_delay (linear, 3), 4.5, 1e-9);
    json_decref (linear);
    cr_assert_float_eq (executor_policy_timeout (s_policy, "a"), 7.5, 1e-9);
    cr_assert_float_eq (executor_policy_timeout (s_policy, "b"), 0, 1e-9);
    cr_assert_null (executor_policy_retry (s_policy, "b"));
    s_op ("defer", "later", 3000);
    s_op ("defer", "sooner", 2000);
    s_op ("tick", NULL, 1000);
    cr_assert_eq (zlist_size (s_due), 0);
    s_op ("tick", NULL, 2500);
    cr_assert_eq (zlist_size (s_due), 1);
    cr_assert_str_eq ((char *)zlist_first (s_due), "sooner");
    s_close (); //  timers are durable too
    s_open ();
    s_op ("tick", NULL, 3000);
    cr_assert_eq (zlist_size (s_due), 2);
    cr_assert_str_eq ((char *)zlist_tail (s_due), "later");
    s_op ("tick", NULL, 4000);
    cr_assert_eq (zlist_size (s_due), 2, "each only once");
}

Test (executor_policy, disabled_and_removed_policies_let_the_queue_go)
{
    s_lists ();
    s_define (s_threshold_1);
    s_admit ("1", "ops.deploy", NULL, 1);
    s_admit ("2", "ops.deploy", NULL, 2);
    s_admit ("3", "ops.deploy", NULL, 3);
    s_define ("{\"ops.one\": {\"ref\": \"ops.one\", \"enabled\": false, \"resource_ref\":"
              " \"ops.deploy\", \"policy_type\": \"action.concurrency\", \"parameters\":"
              " {\"threshold\": 1}}}");
    cr_assert_eq (executor_policy_count (s_policy), 0);
    cr_assert_not (executor_policy_limits (s_policy, "ops.deploy"));
    s_op ("tick", NULL, 10);
    cr_assert_eq (zlist_size (s_admitted), 2, "no limit any more: both waiting go");
}
