/*  test_policies: concurrency, rate, retry and queue policies end to end, in
    a live attuned, watched through its fact stream (api.facts) and driven
    through its api.

    The execution facts come from one publisher, in the order the executor
    committed them, so counting `execution.scheduled` (+1) against terminal
    facts (-1) gives the number of admitted executions at every step.
*/
#include "tests/testing_api.h"
#include "bus/bus_facts.h"

static testing_daemon_t s_daemon;

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (policies, .fini = s_teardown, .timeout = 120);

static void
s_write (const char *path, const char *text)
{
    testing_daemon_write (&s_daemon, path, text);
}

//  The test pack: actions, and the policies each test needs.
static void
s_pack (void)
{
    s_write ("test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    s_write ("test/actions/one.yaml", "name: one\nrunner_type: noop\nparameters:\n"
                                      "  n:\n    type: integer\n");
    s_write ("test/policies/one.yaml", "name: one\nresource_ref: test.one\n"
                                       "policy_type: action.concurrency\n"
                                       "parameters:\n  threshold: 1\n");
    s_write ("test/actions/slow.yaml", "name: slow\nrunner_type: local-shell-cmd\n"
                                       "entry_point: \"sleep 0.1\"\n");
    s_write ("test/policies/slow.yaml", "name: slow\nresource_ref: test.slow\n"
                                        "policy_type: action.concurrency\n"
                                        "parameters:\n  threshold: 3\n");
    //  gate: sleeps as long as asked; one at a time
    s_write ("test/actions/gate.yaml",
             "name: gate\nrunner_type: local-shell-cmd\n"
             "entry_point: 'sleep \"$ATTUNE_PARAM_SECONDS\"'\n"
             "parameters:\n  seconds:\n    type: number\n    default: 0\n"
             "  stage:\n    type: string\n    default: none\n");
    s_write ("test/policies/gate.yaml",
             "name: gate\nresource_ref: test.gate\n"
             "policy_type: action.concurrency\n"
             "parameters:\n  threshold: 1\n  queue_timeout: 30\n");
    s_write ("test/actions/fail.yaml", "name: fail\nrunner_type: local-shell-cmd\n"
                                       "entry_point: 'sleep 0.2; exit 3'\n");
    s_write ("test/policies/fail.yaml", "name: fail\nresource_ref: test.fail\n"
                                        "policy_type: action.concurrency\n"
                                        "parameters:\n  threshold: 1\n");
    s_write ("test/actions/late.yaml", "name: late\nrunner_type: local-shell-cmd\n"
                                       "entry_point: 'sleep 10'\ntimeout: 1\n");
    s_write ("test/policies/late.yaml", "name: late\nresource_ref: test.late\n"
                                        "policy_type: action.concurrency\n"
                                        "parameters:\n  threshold: 1\n");
    s_write ("test/actions/env.yaml",
             "name: env\nrunner_type: local-shell-cmd\nentry_point: 'sleep 0.5'\n"
             "parameters:\n  stage:\n    type: string\n    required: true\n");
    s_write ("test/policies/env.yaml",
             "name: env\nresource_ref: test.env\n"
             "policy_type: action.concurrency.attr\n"
             "parameters:\n  threshold: 1\n  attributes: [stage]\n");
    s_write ("test/actions/rated.yaml", "name: rated\nrunner_type: noop\n");
    s_write ("test/policies/rated.yaml", "name: rated\nresource_ref: test.rated\n"
                                         "policy_type: action.ratelimit\n"
                                         "parameters:\n  max: 2\n  window_seconds: 1\n");
    s_write ("test/actions/capped.yaml", "name: capped\nrunner_type: noop\n");
    s_write ("test/policies/capped.yaml", "name: capped\nresource_ref: test.capped\n"
                                          "policy_type: action.ratelimit\n"
                                          "parameters:\n  max: 1\n  window_seconds: 60\n"
                                          "  action: cancel\n");
    s_write ("test/actions/held.yaml", "name: held\nrunner_type: local-shell-cmd\n"
                                       "entry_point: 'sleep 3'\n");
    s_write ("test/policies/held.yaml",
             "name: held\nresource_ref: test.held\n"
             "policy_type: action.concurrency\n"
             "parameters:\n  threshold: 1\n  queue_timeout: 1\n");
    s_write ("test/actions/flaky.yaml", "name: flaky\nrunner_type: local-shell-cmd\n"
                                        "entry_point: 'exit 1'\n");
    s_write ("test/policies/flaky.yaml",
             "name: flaky\nresource_ref: test.flaky\n"
             "policy_type: action.retry\n"
             "parameters:\n  max_retry_count: 2\n  delay: 0.3\n"
             "  backoff: exponential\n");
    s_write ("test/actions/quick.yaml", "name: quick\nrunner_type: local-shell-cmd\n"
                                        "entry_point: 'sleep 5'\n");
    s_write ("test/policies/quick.yaml", "name: quick\nresource_ref: test.quick\n"
                                         "policy_type: action.timeout\n"
                                         "parameters:\n  timeout: 0.5\n");
}

static void
s_start (void)
{
    testing_daemon_init (&s_daemon, "test_policies");
    s_pack ();
    testing_daemon_start (&s_daemon, NULL);
}

//  ---------------------------------------------------------------------------
//  Facts: every execution.* fact, in order

typedef struct {
    char type[48];
    char id[64];
    char action[64];
    int64_t ts; //  envelope time, µs
    char reason[256];
} s_fact_t;

static bus_sub_t *s_sub;
static s_fact_t *s_facts;
static size_t s_nfacts, s_cap;

static void
s_watch (void)
{
    s_sub = bus_sub_new (100000);
    cr_assert_not_null (s_sub);
    bus_sub_connect (s_sub, s_daemon.facts);
    bus_sub_subscribe (s_sub, "execution.");
    s_nfacts = 0;
    //  The subscription must reach the proxy before the test starts: wait
    //  for the facts of a run of test.one
    zsock_t *sock = testing_api_client (&s_daemon);
    int64_t deadline = zclock_mono () + 10000;
    while (zclock_mono () < deadline) {
        json_decref (testing_api_ok (sock, "api.execution.run",
                                     json_pack ("{s:s}", "action", "test.rated")));
        proto_envelope_t *first = bus_sub_recv (s_sub, NULL, 300);
        if (first) {
            proto_envelope_destroy (&first);
            zclock_sleep (300);
            break;
        }
    }
    zsock_destroy (&sock);
    proto_envelope_t *drop;
    while ((drop = bus_sub_recv (s_sub, NULL, 0)))
        proto_envelope_destroy (&drop);
}

//  Read what has arrived (waiting at most `ms` for the first).
static void
s_drain (int ms)
{
    proto_envelope_t *fact;
    int wait = ms;
    while ((fact = bus_sub_recv (s_sub, NULL, wait))) {
        wait = 0;
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        if (s_nfacts == s_cap) {
            s_cap = s_cap ? s_cap * 2 : 256;
            s_facts = (s_fact_t *)realloc (s_facts, s_cap * sizeof (s_fact_t));
        }
        s_fact_t *f = &s_facts[s_nfacts++];
        memset (f, 0, sizeof *f);
        snprintf (f->type, sizeof f->type, "%s", proto_envelope_type (fact));
        snprintf (f->id, sizeof f->id, "%s",
                  json_string_value (json_object_get (payload, "execution")) ?: "");
        snprintf (f->action, sizeof f->action, "%s",
                  json_string_value (json_object_get (payload, "action")) ?: "");
        f->ts = proto_envelope_ts (fact);
        const char *error = json_string_value (
            json_object_get (json_object_get (payload, "result"), "error"));
        snprintf (f->reason, sizeof f->reason, "%s", error ? error : "");
        json_decref (payload);
        proto_envelope_destroy (&fact);
    }
}

static bool
s_terminal (const char *type)
{
    const char *ends[] = {"execution.completed", "execution.failed", "execution.timeout",
                          "execution.cancelled", "execution.abandoned"};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        if (streq (type, ends[i]))
            return true;
    return false;
}

//  Index of the first fact of `type` for `id`, or -1.
static int
s_find (const char *type, const char *id)
{
    for (size_t i = 0; i < s_nfacts; i++)
        if (streq (s_facts[i].type, type) && streq (s_facts[i].id, id))
            return (int)i;
    return -1;
}

//  Wait until `id` has a fact of `type` (prefix "execution." implied).
static s_fact_t *
s_await (const char *id, const char *status, int timeout_ms)
{
    char type[64];
    snprintf (type, sizeof type, "execution.%s", status);
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int at = s_find (type, id);
        if (at >= 0)
            return &s_facts[at];
        cr_assert_lt (zclock_mono (), deadline, "no %s fact for %s", type, id);
        s_drain (50);
    }
}

//  Wait until every id in `ids` has ended.
static void
s_await_all_ended (char ids[][64], int count, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    for (int i = 0; i < count; i++) {
        while (true) {
            bool ended = false;
            for (size_t f = 0; f < s_nfacts && !ended; f++)
                ended = streq (s_facts[f].id, ids[i]) && s_terminal (s_facts[f].type);
            if (ended)
                break;
            cr_assert_lt (zclock_mono (), deadline, "execution %d (%s) did not end", i,
                          ids[i]);
            s_drain (50);
        }
    }
}

//  The most admitted (scheduled, not ended) executions of `action` at once.
static int
s_peak (const char *action)
{
    int now = 0, peak = 0;
    for (size_t i = 0; i < s_nfacts; i++) {
        if (!streq (s_facts[i].action, action))
            continue;
        if (streq (s_facts[i].type, "execution.scheduled"))
            now++;
        else if (s_terminal (s_facts[i].type) &&
                 s_find ("execution.scheduled", s_facts[i].id) >= 0 &&
                 s_find ("execution.scheduled", s_facts[i].id) < (int)i)
            now--;
        if (now > peak)
            peak = now;
    }
    return peak;
}

static void
s_run (zsock_t *sock, const char *action, json_t *parameters, char id[64])
{
    json_t *payload = json_pack ("{s:s}", "action", action);
    if (parameters)
        json_object_set_new (payload, "parameters", parameters);
    json_t *run = testing_api_ok (sock, "api.execution.run", payload);
    snprintf (id, 64, "%s", json_string_value (json_object_get (run, "execution")));
    json_decref (run);
}

static void
s_unwatch (void)
{
    bus_sub_destroy (&s_sub);
    free (s_facts);
    s_facts = NULL;
    s_nfacts = s_cap = 0;
}

//  ---------------------------------------------------------------------------

Test (policies, threshold_1_runs_100_strictly_in_arrival_order)
{
    s_start ();
    s_watch ();
    zsock_t *sock = testing_api_client (&s_daemon);
    //  One holds the slot for 5 s while 100 queue behind it (101 runs through
    //  the api take well over a second under ASan on a busy machine)
    char first[64];
    s_run (sock, "test.gate", json_pack ("{s:i}", "seconds", 5), first);
    static char ids[100][64];
    for (int i = 0; i < 100; i++)
        s_run (sock, "test.gate", json_pack ("{s:i}", "seconds", 0), ids[i]);
    json_t *stats = testing_api_ok (sock, "api.action.queue_stats",
                                    json_pack ("{s:s}", "ref", "test.gate"));
    cr_assert_eq (json_integer_value (json_object_get (stats, "running")), 1);
    cr_assert_eq (json_integer_value (json_object_get (stats, "queued")), 100);
    json_decref (stats);
    s_await_all_ended (ids, 100, 60000);
    int last = s_find ("execution.completed", first);
    cr_assert_geq (last, 0);
    for (int i = 0; i < 100; i++) {
        cr_assert_geq (s_find ("execution.delayed", ids[i]), 0, "execution %d waited", i);
        int scheduled = s_find ("execution.scheduled", ids[i]);
        cr_assert_gt (scheduled, last, "execution %d scheduled after %d ended", i, i - 1);
        cr_assert_geq (s_find ("execution.completed", ids[i]), 0);
        last = scheduled;
    }
    cr_assert_eq (s_peak ("test.gate"), 1, "never two at once");
    stats = testing_api_ok (sock, "api.action.queue_stats",
                            json_pack ("{s:s}", "ref", "test.gate"));
    cr_assert_eq (json_integer_value (json_object_get (stats, "running")), 0);
    cr_assert_eq (json_integer_value (json_object_get (stats, "queued")), 0);
    cr_assert_eq (json_integer_value (json_object_get (stats, "admitted")), 101);
    cr_assert_eq (json_integer_value (json_object_get (stats, "completed")), 101);
    json_decref (stats);
    zsock_destroy (&sock);
    s_unwatch ();
}

Test (policies, threshold_3_is_never_exceeded)
{
    s_start ();
    s_watch ();
    zsock_t *sock = testing_api_client (&s_daemon);
    static char ids[24][64];
    for (int i = 0; i < 24; i++)
        s_run (sock, "test.slow", NULL, ids[i]);
    //  While they run, the queue statistics agree
    json_t *stats = testing_api_ok (sock, "api.action.queue_stats",
                                    json_pack ("{s:s}", "ref", "test.slow"));
    cr_assert_leq (json_integer_value (json_object_get (stats, "running")), 3);
    cr_assert_gt (json_integer_value (json_object_get (stats, "queued")), 0);
    cr_assert_geq (json_number_value (json_object_get (stats, "oldest_wait")), 0);
    json_decref (stats);
    //  The same through the CLI
    char *out = NULL, *err = NULL;
    const char *stats_argv[] = {ATTUNE_HELPER_DIR "/attune",
                                "--api",
                                s_daemon.api,
                                "action",
                                "queue-stats",
                                "test.slow",
                                NULL};
    int code = testing_run (stats_argv, NULL, &out, &err, 10000);
    cr_assert_eq (code, 0, "attune action queue-stats: %s", err);
    cr_assert_not_null (strstr (out, "running"), "%s", out);
    cr_assert_not_null (strstr (out, "queued"), "%s", out);
    cr_assert_not_null (strstr (out, "test.slow"), "%s", out);
    free (out);
    free (err);
    const char *policy_argv[] = {ATTUNE_HELPER_DIR "/attune",
                                 "--api",
                                 s_daemon.api,
                                 "--json",
                                 "policy",
                                 "get",
                                 "test.slow",
                                 NULL};
    code = testing_run (policy_argv, NULL, &out, &err, 10000);
    cr_assert_eq (code, 0, "attune policy get: %s", err);
    json_t *policy = json_loads (out, 0, NULL);
    cr_assert_eq (json_integer_value (json_object_get (
                      json_object_get (policy, "parameters"), "threshold")),
                  3, "%s", out);
    json_decref (policy);
    free (out);
    free (err);
    const char *missing_argv[] = {ATTUNE_HELPER_DIR "/attune",
                                  "--api",
                                  s_daemon.api,
                                  "action",
                                  "queue-stats",
                                  "test.nope",
                                  NULL};
    code = testing_run (missing_argv, NULL, &out, &err, 10000);
    cr_assert_eq (code, 1);
    cr_assert_not_null (strstr (err, "not_found"), "%s", err);
    free (out);
    free (err);
    s_await_all_ended (ids, 24, 60000);
    cr_assert_eq (s_peak ("test.slow"), 3, "three at once, never four");
    zsock_destroy (&sock);
    s_unwatch ();
}

//  Two executions of `action` under threshold 1: the first ends as
//  `status` (after `end` does what it takes), and that lets the second in.
static void
s_releases (const char *action, const char *status, json_t *parameters, bool cancel)
{
    s_start ();
    s_watch ();
    zsock_t *sock = testing_api_client (&s_daemon);
    char first[64], second[64];
    s_run (sock, action, parameters ? json_deep_copy (parameters) : NULL, first);
    s_run (sock, action, parameters ? json_deep_copy (parameters) : NULL, second);
    json_decref (parameters);
    s_await (second, "delayed", 10000);
    if (cancel) {
        s_await (first, "running", 10000);
        json_decref (testing_api_ok (sock, "api.execution.cancel",
                                     json_pack ("{s:s}", "id", first)));
    }
    s_fact_t *ended = s_await (first, status, 20000);
    int64_t ended_at = ended->ts;
    s_fact_t *admitted = s_await (second, "scheduled", 10000);
    cr_assert_geq (admitted->ts, ended_at, "admitted after the first ended");
    cr_assert_eq (s_peak (action), 1);
    zsock_destroy (&sock);
    s_unwatch ();
}

Test (policies, completed_releases_its_slot)
{
    s_releases ("test.gate", "completed", json_pack ("{s:f}", "seconds", 0.3), false);
}

Test (policies, failed_releases_its_slot)
{
    s_releases ("test.fail", "failed", NULL, false);
}

Test (policies, timeout_releases_its_slot)
{
    s_releases ("test.late", "timeout", NULL, false);
}

Test (policies, cancelled_releases_its_slot)
{
    s_releases ("test.gate", "cancelled", json_pack ("{s:i}", "seconds", 30), true);
}

Test (policies, cancelled_while_waiting_leaves_the_queue)
{
    s_start ();
    s_watch ();
    zsock_t *sock = testing_api_client (&s_daemon);
    char ids[3][64];
    s_run (sock, "test.gate", json_pack ("{s:f}", "seconds", 0.5), ids[0]);
    s_run (sock, "test.gate", NULL, ids[1]);
    s_run (sock, "test.gate", NULL, ids[2]);
    s_await (ids[1], "delayed", 5000);
    json_t *cancel =
        testing_api_ok (sock, "api.execution.cancel", json_pack ("{s:s}", "id", ids[1]));
    cr_assert_str_eq (json_string_value (json_object_get (cancel, "status")),
                      "cancelled");
    json_decref (cancel);
    s_await (ids[2], "completed", 10000);
    cr_assert_lt (s_find ("execution.scheduled", ids[1]), 0,
                  "the cancelled one never ran");
    zsock_destroy (&sock);
    s_unwatch ();
}

Test (policies, attr_groups_by_parameter_value)
{
    s_start ();
    s_watch ();
    zsock_t *sock = testing_api_client (&s_daemon);
    char a1[64], b1[64], a2[64];
    s_run (sock, "test.env", json_pack ("{s:s}", "stage", "prod"), a1);
    s_run (sock, "test.env", json_pack ("{s:s}", "stage", "test"), b1);
    s_run (sock, "test.env", json_pack ("{s:s}", "stage", "prod"), a2);
    s_fact_t *b_running = s_await (b1, "scheduled", 5000);
    int64_t b_at = b_running->ts;
    s_fact_t *a1_end = s_await (a1, "completed", 10000);
    cr_assert_lt (b_at, a1_end->ts, "another env does not wait");
    int64_t a1_ended = a1_end->ts;
    s_fact_t *a2_start = s_await (a2, "scheduled", 10000);
    cr_assert_geq (a2_start->ts, a1_ended, "the same env waits its turn");
    cr_assert_geq (s_find ("execution.delayed", a2), 0);
    cr_assert_lt (s_find ("execution.delayed", b1), 0);
    zsock_destroy (&sock);
    s_unwatch ();
}

Test (policies, rate_limit_delays)
{
    s_start ();
    s_watch ();
    zsock_t *sock = testing_api_client (&s_daemon);
    //  s_watch ran test.rated once or more: wait for its window to pass
    zclock_sleep (1100);
    char ids[5][64];
    for (int i = 0; i < 5; i++)
        s_run (sock, "test.rated", NULL, ids[i]);
    s_await_all_ended (ids, 5, 15000);
    int64_t first = s_await (ids[0], "scheduled", 1)->ts;
    int64_t third = s_await (ids[2], "scheduled", 1)->ts;
    int64_t fifth = s_await (ids[4], "scheduled", 1)->ts;
    cr_assert_geq (s_find ("execution.delayed", ids[2]), 0);
    cr_assert_geq (third - first, 950000, "the third waited for the window (%lld us)",
                   (long long)(third - first));
    cr_assert_geq (fifth - first, 1950000, "the fifth waited two windows");
    for (int i = 0; i < 5; i++)
        cr_assert_geq (s_find ("execution.completed", ids[i]), 0);
    zsock_destroy (&sock);
    s_unwatch ();
}

Test (policies, rate_limit_cancels)
{
    s_start ();
    s_watch ();
    zsock_t *sock = testing_api_client (&s_daemon);
    char ids[2][64];
    s_run (sock, "test.capped", NULL, ids[0]);
    s_run (sock, "test.capped", NULL, ids[1]);
    s_await (ids[0], "completed", 5000);
    s_fact_t *cancelled = s_await (ids[1], "cancelled", 5000);
    cr_assert_not_null (strstr (cancelled->reason, "test.capped"), "%s",
                        cancelled->reason);
    zsock_destroy (&sock);
    s_unwatch ();
}

Test (policies, queue_timeout_ends_the_wait)
{
    s_start ();
    s_watch ();
    zsock_t *sock = testing_api_client (&s_daemon);
    char ids[2][64];
    s_run (sock, "test.held", NULL, ids[0]);
    s_run (sock, "test.held", NULL, ids[1]);
    s_fact_t *delayed = s_await (ids[1], "delayed", 5000);
    int64_t since = delayed->ts;
    s_fact_t *timeout = s_await (ids[1], "timeout", 10000);
    cr_assert_geq (timeout->ts - since, 900000, "after the 1 s queue timeout");
    cr_assert_lt (timeout->ts - since, 3000000);
    cr_assert_not_null (strstr (timeout->reason, "queue"), "%s", timeout->reason);
    cr_assert_lt (s_find ("execution.scheduled", ids[1]), 0);
    zsock_destroy (&sock);
    s_unwatch ();
}

Test (policies, retry_with_exponential_backoff)
{
    s_start ();
    s_watch ();
    zsock_t *sock = testing_api_client (&s_daemon);
    char original[64];
    s_run (sock, "test.flaky", NULL, original);
    //  The original and two retries fail; each retry's parent is the one before
    char chain[3][64];
    snprintf (chain[0], 64, "%s", original);
    int64_t ended[3], requested[3];
    for (int i = 0; i < 3; i++) {
        ended[i] = s_await (chain[i], "failed", 15000)->ts;
        if (i == 2)
            break;
        //  The retry of chain[i]: the execution whose parent it is
        int64_t deadline = zclock_mono () + 10000;
        chain[i + 1][0] = 0;
        while (!chain[i + 1][0]) {
            cr_assert_lt (zclock_mono (), deadline, "no retry of %s", chain[i]);
            json_t *list = testing_api_ok (sock, "api.execution.list",
                                           json_pack ("{s:s}", "action", "test.flaky"));
            json_t *items = json_object_get (list, "items");
            for (size_t k = 0; k < json_array_size (items); k++) {
                json_t *item = json_array_get (items, k);
                const char *parent = json_string_value (json_object_get (item, "parent"));
                if (parent && streq (parent, chain[i]))
                    snprintf (chain[i + 1], 64, "%s",
                              json_string_value (json_object_get (item, "id")));
            }
            json_decref (list);
            if (!chain[i + 1][0])
                zclock_sleep (50);
        }
        requested[i + 1] = s_await (chain[i + 1], "scheduled", 10000)->ts;
    }
    //  delay 0.3 s, exponential: 0.3 s then 0.6 s
    cr_assert_geq (requested[1] - ended[0], 280000, "first retry after 0.3 s");
    cr_assert_geq (requested[2] - ended[1], 580000, "second retry after 0.6 s");
    zclock_sleep (1500);
    json_t *list = testing_api_ok (sock, "api.execution.list",
                                   json_pack ("{s:s}", "action", "test.flaky"));
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 3,
                  "max_retry_count 2: three executions in all");
    json_decref (list);
    zsock_destroy (&sock);
    s_unwatch ();
}

Test (policies, timeout_policy_overrides_the_action)
{
    s_start ();
    s_watch ();
    zsock_t *sock = testing_api_client (&s_daemon);
    char id[64];
    s_run (sock, "test.quick", NULL, id);
    int64_t start = s_await (id, "running", 5000)->ts;
    int64_t end = s_await (id, "timeout", 5000)->ts;
    cr_assert_lt (end - start, 3000000, "0.5 s, not the action's 600 s (took %lld us)",
                  (long long)(end - start));
    zsock_destroy (&sock);
    s_unwatch ();
}

//  The time of the first `status` in an execution record's log (0: none).
static int64_t
s_log_ts (const json_t *record, const char *status)
{
    size_t i;
    const json_t *entry;
    json_array_foreach (json_object_get (record, "log"), i, entry)
    {
        const char *its = json_string_value (json_object_get (entry, "status"));
        if (its && streq (its, status))
            return (int64_t)json_integer_value (json_object_get (entry, "ts"));
    }
    return 0;
}

Test (policies, restart_with_50_queued_keeps_the_order)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    static char ids[51][64];
    s_run (sock, "test.gate", json_pack ("{s:i}", "seconds", 60), ids[0]);
    for (int i = 1; i <= 50; i++)
        s_run (sock, "test.gate", json_pack ("{s:i}", "seconds", 0), ids[i]);
    json_decref (testing_api_wait_status (sock, ids[0], "running", 10000));
    json_decref (testing_api_wait_status (sock, ids[50], "delayed", 10000));
    zsock_destroy (&sock);
    //  Killed: nothing is lost, the order is kept, the counts are right. The
    //  worker of the first one was lost with the daemon: abandoned, which
    //  releases its slot; then the 50 run one by one, in their order.
    testing_daemon_signal (&s_daemon, SIGKILL, 5000);
    testing_daemon_start (&s_daemon, NULL);
    sock = testing_api_client (&s_daemon);
    json_t *first = testing_api_wait_status (sock, ids[0], "abandoned", 10000);
    int64_t previous_end = (int64_t)json_integer_value (json_object_get (first, "ended"));
    json_decref (first);
    for (int i = 1; i <= 50; i++) {
        json_t *record = testing_api_wait_status (sock, ids[i], "completed", 30000);
        int64_t scheduled = s_log_ts (record, "scheduled");
        cr_assert_gt (s_log_ts (record, "delayed"), 0, "execution %d waited", i);
        cr_assert_geq (scheduled, previous_end,
                       "execution %d started after %d ended (one at a time, in order)", i,
                       i - 1);
        previous_end = (int64_t)json_integer_value (json_object_get (record, "ended"));
        json_decref (record);
    }
    json_t *stats = testing_api_ok (sock, "api.action.queue_stats",
                                    json_pack ("{s:s}", "ref", "test.gate"));
    cr_assert_eq (json_integer_value (json_object_get (stats, "running")), 0);
    cr_assert_eq (json_integer_value (json_object_get (stats, "queued")), 0);
    cr_assert_eq (json_integer_value (json_object_get (stats, "admitted")), 51);
    cr_assert_eq (json_integer_value (json_object_get (stats, "completed")), 51,
                  "the abandoned one counts as ended");
    json_decref (stats);
    zsock_destroy (&sock);
}
