/*  test_executor_actor: the executor with real registry and worker actors.

    Enforcements are sent to the executor over the reliable link as the rules
    actor sends them; the test watches the executor's facts.
*/
#include "tests/testing.h"
#include <limits.h>
#include <sys/stat.h>

#include "actors/executor/executor.h"
#include "actors/registry/registry.h"
#include "actors/worker/worker.h"
#include "bus/bus_facts.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"

static char s_root[PATH_MAX - 256];
static char s_packs[PATH_MAX];
static char s_data[PATH_MAX];
static bus_topology_t *s_topology;
static zactor_t *s_registry, *s_executor;
static bus_sub_t *s_facts;
static bus_link_t *s_link;
static int s_counter;

static void
s_write (const char *path, const char *text)
{
    testing_write (s_packs, path, text);
}

static actor_config_t
s_config (void)
{
    actor_config_t config = {.topology = s_topology,
                             .data_dir = s_data,
                             .packs_dir = s_packs,
                             .host = "test",
                             .heartbeat_ms = 100,
                             .nosync = true};
    return config;
}

static void
s_setup (void)
{
    testing_tmpdir (s_root, sizeof s_root, "test_executor");
    snprintf (s_packs, sizeof s_packs, "%s/packs", s_root);
    snprintf (s_data, sizeof s_data, "%s/data", s_root);
    s_write ("test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    s_write ("test/actions/count.yaml", "name: count\nrunner_type: noop\nparameters:\n"
                                        "  n:\n    type: integer\n    required: true\n");
    s_write ("test/actions/nap.yaml",
             "name: nap\nrunner_type: local-shell-cmd\nparameters:\n"
             "  cmd:\n    type: string\n    default: sleep 0.4\n"
             "  n:\n    type: integer\n");
    s_write ("test/actions/long.yaml",
             "name: long\nrunner_type: local-shell-cmd\nparameters:\n"
             "  cmd:\n    type: string\n    default: sleep 30\n");
    char ns[64];
    snprintf (ns, sizeof ns, "exec-%d-%d", getpid (), ++s_counter);
    s_topology = bus_topology_new (ns);
    actor_config_t config = s_config ();
    s_facts = bus_sub_new (0);
    bus_sub_connect (s_facts, bus_topology_connect (s_topology, "executor.facts"));
    bus_sub_subscribe (s_facts, "");
    s_registry = zactor_new (registry_actor, &config);
    s_executor = zactor_new (executor_actor, &config);
    s_link = bus_link_new (bus_topology_connect (s_topology, "executor.commands"),
                           "rules@test", NULL);
}

static void
s_teardown (void)
{
    bus_link_destroy (&s_link);
    zactor_destroy (&s_executor);
    zactor_destroy (&s_registry);
    bus_sub_destroy (&s_facts);
    bus_topology_destroy (&s_topology);
    testing_rmtree (s_root);
}

TestSuite (executor_actor, .init = s_setup, .fini = s_teardown, .timeout = 60);

static zactor_t *
s_worker (const char *name, int slots, const char *runtimes)
{
    actor_config_t config = s_config ();
    config.worker_name = name;
    config.worker_slots = slots;
    config.runtimes = runtimes;
    zactor_t *worker = zactor_new (worker_actor, &config);
    cr_assert_not_null (worker);
    return worker;
}

static void
s_enforce (const char *enforcement, const char *action, json_t *parameters)
{
    proto_envelope_t *command = proto_envelope_new ("enforcement.create", "rules@test");
    json_t *payload = json_pack ("{s:s, s:s, s:s, s:s, s:o}", "enforcement", enforcement,
                                 "rule", "test.rule", "event", "e-1", "action", action,
                                 "parameters", parameters);
    cr_assert_eq (proto_envelope_set_payload_json (command, payload, NULL), PROTO_OK);
    json_decref (payload);
    cr_assert_eq (bus_link_send (s_link, &command), 0);
}

//  Facts received in `ms` (or until `stop` completed executions)
typedef struct {
    char type[64];
    char worker[64];
    int n;
} s_fact_t;

static int
s_collect (s_fact_t *facts, int max, int ms, int stop)
{
    int count = 0, done = 0;
    int64_t deadline = zclock_mono () + ms;
    while (zclock_mono () < deadline && count < max && (stop <= 0 || done < stop)) {
        bus_link_handle (s_link);
        bus_link_tick (s_link);
        proto_envelope_t *fact = bus_sub_recv (s_facts, NULL, 20);
        if (!fact)
            continue;
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        s_fact_t *f = &facts[count++];
        snprintf (f->type, sizeof f->type, "%s", proto_envelope_type (fact));
        const char *worker = json_string_value (json_object_get (payload, "worker"));
        snprintf (f->worker, sizeof f->worker, "%s", worker ? worker : "");
        json_t *n = json_object_get (json_object_get (payload, "parameters"), "n");
        f->n = json_is_integer (n) ? (int)json_integer_value (n) : -1;
        if (streq (f->type, "execution.completed") ||
            streq (f->type, "execution.abandoned") || streq (f->type, "execution.failed"))
            done++;
        json_decref (payload);
        proto_envelope_destroy (&fact);
    }
    return count;
}

static int
s_count (s_fact_t *facts, int count, const char *type)
{
    int n = 0;
    for (int i = 0; i < count; i++)
        n += streq (facts[i].type, type);
    return n;
}

Test (executor_actor, waits_for_a_worker_then_runs_in_arrival_order)
{
    static s_fact_t facts[4096];
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf (id, sizeof id, "enf-%d", i);
        s_enforce (id, "test.count", json_pack ("{s:i}", "n", i));
    }
    int count = s_collect (facts, 4096, 800, 0);
    cr_assert_eq (s_count (facts, count, "execution.requested"), 20);
    cr_assert_eq (s_count (facts, count, "execution.scheduled"), 0, "no worker yet");
    zactor_t *worker = s_worker ("solo@test", 1, NULL);
    count = s_collect (facts, 4096, 10000, 20);
    int next = 0;
    for (int i = 0; i < count; i++)
        if (streq (facts[i].type, "execution.completed")) {
            cr_assert_eq (facts[i].n, next, "FIFO: completion %d", next);
            next++;
        }
    cr_assert_eq (next, 20);
    zactor_destroy (&worker);
}

Test (executor_actor, one_execution_per_enforcement)
{
    static s_fact_t facts[1024];
    zactor_t *worker = s_worker ("w@test", 2, NULL);
    s_enforce ("same", "test.count", json_pack ("{s:i}", "n", 1));
    s_enforce ("same", "test.count", json_pack ("{s:i}", "n", 1));
    s_enforce ("other", "test.count", json_pack ("{s:s}", "n", "x"));
    int count = s_collect (facts, 1024, 2000, 0);
    cr_assert_eq (s_count (facts, count, "execution.completed"), 1,
                  "the duplicate is dropped");
    cr_assert_eq (s_count (facts, count, "execution.failed"), 1,
                  "invalid parameters fail");
    zstr_send (s_executor, "STATUS");
    char *text = zstr_recv (s_executor);
    json_t *status = json_loads (text, 0, NULL);
    zstr_free (&text);
    cr_assert_eq (json_integer_value (json_object_get (status, "duplicates")), 1);
    json_decref (status);
    zactor_destroy (&worker);
}

Test (executor_actor, spreads_over_workers_by_runtime_and_load)
{
    static s_fact_t facts[4096];
    zactor_t *a = s_worker ("a@test", 2, "local-shell-cmd");
    zactor_t *b = s_worker ("b@test", 2, "local-shell-cmd");
    zactor_t *c = s_worker ("c@test", 8, "noop"); //  never gets a shell action
    for (int i = 0; i < 8; i++) {
        char id[32];
        snprintf (id, sizeof id, "nap-%d", i);
        s_enforce (id, "test.nap", json_pack ("{s:i}", "n", i));
    }
    int count = s_collect (facts, 4096, 15000, 8);
    cr_assert_eq (s_count (facts, count, "execution.completed"), 8);
    //  Replay the facts: running per worker never above its 2 slots
    int running_a = 0, running_b = 0, max_a = 0, max_b = 0, on_a = 0, on_b = 0;
    for (int i = 0; i < count; i++) {
        bool is_a = streq (facts[i].worker, "a@test");
        bool is_b = streq (facts[i].worker, "b@test");
        if (strncmp (facts[i].type, "execution.", 10) == 0)
            cr_assert (!streq (facts[i].worker, "c@test"),
                       "a noop-only worker got a shell action");
        if (streq (facts[i].type, "execution.scheduled")) {
            on_a += is_a;
            on_b += is_b;
        } else if (streq (facts[i].type, "execution.running")) {
            running_a += is_a;
            running_b += is_b;
        } else if (streq (facts[i].type, "execution.completed")) {
            running_a -= is_a;
            running_b -= is_b;
        }
        max_a = running_a > max_a ? running_a : max_a;
        max_b = running_b > max_b ? running_b : max_b;
    }
    cr_assert_leq (max_a, 2, "slots of a respected");
    cr_assert_leq (max_b, 2, "slots of b respected");
    cr_assert_eq (on_a, 4, "least loaded first: an even spread (%d on a)", on_a);
    cr_assert_eq (on_b, 4, "least loaded first: an even spread (%d on b)", on_b);
    zactor_destroy (&c);
    zactor_destroy (&b);
    zactor_destroy (&a);
}

Test (executor_actor, lost_worker_execution_is_abandoned)
{
    static s_fact_t facts[1024];
    zactor_t *worker = s_worker ("doomed@test", 1, NULL);
    s_enforce ("long-1", "test.long", json_object ());
    int count = s_collect (facts, 1024, 3000, 0);
    cr_assert_eq (s_count (facts, count, "execution.running"), 1);
    int64_t lost = zclock_mono ();
    zactor_destroy (&worker); //  gone without a word
    count = s_collect (facts, 1024, 5000, 1);
    cr_assert_eq (s_count (facts, count, "execution.abandoned"), 1,
                  "settled, not left running");
    cr_assert_eq (s_count (facts, count, "worker.down"), 1);
    cr_assert_lt (zclock_mono () - lost, 3000, "within heartbeat x liveness, plus slack");
}

Test (executor_actor, restart_settles_what_a_restarted_worker_lost)
{
    static s_fact_t facts[1024];
    zactor_t *worker = s_worker ("phoenix@test", 1, NULL);
    s_enforce ("long-2", "test.long", json_object ());
    int count = s_collect (facts, 1024, 3000, 0);
    cr_assert_eq (s_count (facts, count, "execution.running"), 1);
    //  Both go down while it runs (as in a crash of the whole host)
    zactor_destroy (&s_executor);
    zactor_destroy (&worker);
    //  inproc subscribers do not reconnect to a new binder: subscribe anew
    //  before the executor binds again
    bus_sub_destroy (&s_facts);
    s_facts = bus_sub_new (0);
    bus_sub_connect (s_facts, bus_topology_connect (s_topology, "executor.facts"));
    bus_sub_subscribe (s_facts, "");
    bus_link_destroy (&s_link);
    s_link = bus_link_new (bus_topology_connect (s_topology, "executor.commands"),
                           "rules@test", NULL);
    actor_config_t config = s_config ();
    s_executor = zactor_new (executor_actor, &config);
    worker = s_worker ("phoenix@test", 1, NULL); //  a new instance
    count = s_collect (facts, 1024, 5000, 1);
    cr_assert_eq (s_count (facts, count, "execution.abandoned"), 1,
                  "the running execution the old instance lost is settled");
    //  And the restarted pair still works
    s_enforce ("after", "test.count", json_pack ("{s:i}", "n", 5));
    count = s_collect (facts, 1024, 5000, 1);
    cr_assert_eq (s_count (facts, count, "execution.completed"), 1);
    zactor_destroy (&worker);
}

static int s_rejected;
static char s_codes[8][32];
static char s_messages[8][256];
static void
s_on_reject (void *arg, const proto_envelope_t *command, const char *code,
             const char *message)
{
    if (s_rejected < 8) {
        snprintf (s_codes[s_rejected], 32, "%s", code);
        snprintf (s_messages[s_rejected], 256, "%s", message ? message : "");
    }
    s_rejected++;
}

Test (executor_actor, bad_commands_are_rejected_and_it_keeps_serving)
{
    static s_fact_t facts[1024];
    zactor_t *worker = s_worker ("steady@test", 2, NULL);
    s_rejected = 0;
    bus_link_set_reject_handler (s_link, s_on_reject, NULL);
    const char *types[] = {"enforcement.create", "enforcement.create", "execution.status",
                           "execution.launch"};
    json_t *payloads[] = {
        json_pack ("{s:i}", "enforcement", 5),
        json_pack ("{s:s, s:s, s:i}", "enforcement", "e", "action", "test.count",
                   "parameters", 3),
        json_pack ("{s:s, s:s}", "execution", "x", "status", "exploded"), json_object ()};
    for (int i = 0; i < 4; i++) {
        proto_envelope_t *command = proto_envelope_new (types[i], "rules@test");
        proto_envelope_set_payload_json (command, payloads[i], NULL);
        json_decref (payloads[i]);
        cr_assert_eq (bus_link_send (s_link, &command), 0);
    }
    //  A report on an execution that does not exist changes nothing
    proto_envelope_t *ghost = proto_envelope_new ("execution.status", "rules@test");
    json_t *payload = json_pack ("{s:s, s:s, s:s}", "execution", "no-such-execution",
                                 "status", "completed", "worker", "steady@test");
    proto_envelope_set_payload_json (ghost, payload, NULL);
    json_decref (payload);
    cr_assert_eq (bus_link_send (s_link, &ghost), 0);
    s_enforce ("fine", "test.count", json_pack ("{s:i}", "n", 9));
    int count = s_collect (facts, 1024, 5000, 1);
    cr_assert_eq (s_count (facts, count, "execution.completed"), 1, "still serving");
    cr_assert_eq (s_rejected, 4, "each malformed command rejected");
    cr_assert_str_eq (s_codes[0], "bad_request");
    cr_assert_str_eq (s_codes[1], "bad_request");
    cr_assert_str_eq (s_codes[2], "bad_request");
    cr_assert_str_eq (s_codes[3], "unknown_type");
    zstr_send (s_executor, "STATUS");
    char *text = zstr_recv (s_executor);
    json_t *status = json_loads (text, 0, NULL);
    zstr_free (&text);
    cr_assert_eq (json_integer_value (json_object_get (status, "ignored_status")), 1);
    json_decref (status);
    zactor_destroy (&worker);
}

//  A worker played by hand: its inbox records what the executor sends it.
static json_t *s_hand_seen;

static int
s_hand_record (void *arg, store_txn_t *txn, proto_envelope_t *command,
               bus_command_t *info)
{
    json_t *payload = proto_envelope_payload_json (command, NULL);
    json_object_set_new (payload, "type", json_string (proto_envelope_type (command)));
    json_array_append_new (s_hand_seen, payload);
    return 0;
}

//  Pump both sides of the hand-played worker until a command of `type` for
//  `execution` (any when NULL) arrived; returns it (borrowed) or NULL.
static json_t *
s_hand_wait (bus_inbox_t *inbox, bus_link_t *link, const char *type,
             const char *execution, size_t from, int ms)
{
    int64_t deadline = zclock_mono () + ms;
    while (true) {
        for (size_t i = from; i < json_array_size (s_hand_seen); i++) {
            json_t *item = json_array_get (s_hand_seen, i);
            const char *e = json_string_value (json_object_get (item, "execution"));
            if (streq (json_string_value (json_object_get (item, "type")), type) &&
                (!execution || (e && streq (e, execution))))
                return item;
        }
        if (zclock_mono () >= deadline)
            return NULL;
        zmq_pollitem_t items[] = {
            {zsock_resolve (bus_inbox_sock (inbox)), 0, ZMQ_POLLIN, 0},
            {zsock_resolve (bus_link_sock (link)), 0, ZMQ_POLLIN, 0}};
        zmq_poll (items, 2, 10);
        if (items[0].revents & ZMQ_POLLIN)
            bus_inbox_process (inbox, s_hand_record, NULL);
        if (items[1].revents & ZMQ_POLLIN)
            bus_link_handle (link);
        bus_inbox_tick (inbox);
        bus_link_tick (link);
        bus_link_handle (s_link);
        bus_link_tick (s_link);
    }
}

static void
s_hand_status (bus_link_t *link, const char *execution, const char *status,
               json_int_t claim)
{
    json_t *payload = json_pack ("{s:s, s:s, s:s, s:i, s:I}", "execution", execution,
                                 "worker", "hand@test", "status", status, "exit_code", 0,
                                 "ts", (json_int_t)proto_now_usec ());
    if (claim)
        json_object_set_new (payload, "claim", json_integer (claim));
    if (streq (status, "completed"))
        json_object_set_new (payload, "result", json_object ());
    proto_envelope_t *command = proto_envelope_new ("execution.status", "hand@test");
    cr_assert_eq (proto_envelope_set_payload_json (command, payload, NULL), PROTO_OK);
    json_decref (payload);
    cr_assert_eq (bus_link_send (link, &command), 0);
}

Test (executor_actor, a_claim_is_confirmed_for_its_worker_and_refused_once_settled)
{
    s_hand_seen = json_array ();
    char endpoint[128];
    snprintf (endpoint, sizeof endpoint, "inproc://exec-hand-%d-%d", getpid (),
              s_counter);
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    config.heartbeat_ms = 100;
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "hand@test", NULL, &config);
    bus_link_t *link = bus_link_new (
        bus_topology_connect (s_topology, "executor.commands"), "hand@test", &config);
    cr_assert (inbox && link);
    json_t *reg = json_pack ("{s:s, s:i, s:s, s:[s], s:i, s:[]}", "worker", "hand@test",
                             "instance", 7, "endpoint", endpoint, "runtimes",
                             "local-shell-cmd", "slots", 2, "executions");
    proto_envelope_t *command = proto_envelope_new ("worker.register", "hand@test");
    proto_envelope_set_payload_json (command, reg, NULL);
    json_decref (reg);
    cr_assert_eq (bus_link_send (link, &command), 0);
    s_enforce ("claim-1", "test.nap", json_object ());
    json_t *dispatch = s_hand_wait (inbox, link, "execution.dispatch", NULL, 0, 5000);
    cr_assert_not_null (dispatch, "dispatched to the hand-played worker");
    char id[64];
    snprintf (id, sizeof id, "%s",
              json_string_value (json_object_get (dispatch, "execution")));
    cr_assert_not (json_is_true (
        json_object_get (json_object_get (dispatch, "action"), "idempotent")));
    //  The claim is answered with a start that echoes it, after the commit
    size_t mark = json_array_size (s_hand_seen);
    s_hand_status (link, id, "running", 42);
    json_t *start = s_hand_wait (inbox, link, "execution.start", id, mark, 5000);
    cr_assert_not_null (start, "a claim on what it was given is confirmed");
    cr_assert_eq (json_integer_value (json_object_get (start, "claim")), 42);
    //  Claimed again (the start was late): confirmed again, with the new claim
    mark = json_array_size (s_hand_seen);
    s_hand_status (link, id, "running", 43);
    start = s_hand_wait (inbox, link, "execution.start", id, mark, 5000);
    cr_assert_not_null (start);
    cr_assert_eq (json_integer_value (json_object_get (start, "claim")), 43);
    //  Once it ended, a claim on it is refused: it must not start again.
    //  The same end reported twice (two commands) is the same report: not
    //  a late one
    s_hand_status (link, id, "completed", 0);
    s_hand_status (link, id, "completed", 0);
    mark = json_array_size (s_hand_seen);
    s_hand_status (link, id, "running", 44);
    json_t *refused = s_hand_wait (inbox, link, "execution.refused", id, mark, 5000);
    cr_assert_not_null (refused, "a claim on a settled execution is refused");
    cr_assert_str_eq (json_string_value (json_object_get (refused, "reason")),
                      "completed");
    cr_assert_null (s_hand_wait (inbox, link, "execution.start", id, mark, 300));
    //  So is a claim on what it was never given
    s_hand_status (link, "00000000-0000-4000-8000-000000000000", "running", 45);
    refused = s_hand_wait (inbox, link, "execution.refused",
                           "00000000-0000-4000-8000-000000000000", mark, 5000);
    cr_assert_not_null (refused);
    cr_assert_str_eq (json_string_value (json_object_get (refused, "reason")),
                      "unknown execution");
    zstr_send (s_executor, "STATUS");
    char *text = zstr_recv (s_executor);
    json_t *status = json_loads (text, 0, NULL);
    zstr_free (&text);
    cr_assert_eq (json_integer_value (json_object_get (status, "late")), 0,
                  "a report repeated is not late");
    cr_assert_eq (json_integer_value (json_object_get (status, "repeated_status")), 1,
                  "it is counted as repeated");
    json_decref (status);
    bus_link_destroy (&link);
    bus_inbox_destroy (&inbox);
    json_decref (s_hand_seen);
}

Test (executor_actor, a_heartbeat_fact_shows_losses_without_waiting_for_work)
{
    //  Heartbeat 100 ms: an idle executor still publishes, numbered in its
    //  one stream, so a subscriber sees a gap (or a restart) within one
    //  interval even when no execution follows
    uint64_t publisher = 0, last = 0;
    int beats = 0;
    int64_t deadline = zclock_mono () + 3000;
    while (beats < 3 && zclock_mono () < deadline) {
        bus_fact_info_t info;
        proto_envelope_t *fact = bus_sub_recv (s_facts, &info, 50);
        if (!fact)
            continue;
        if (streq (proto_envelope_type (fact), "executor.heartbeat")) {
            if (beats++ > 0) {
                cr_assert_eq (info.publisher, publisher);
                cr_assert_gt (info.seq, last, "numbered in the executor's stream");
            }
            publisher = info.publisher;
            last = info.seq;
        }
        proto_envelope_destroy (&fact);
    }
    cr_assert_eq (beats, 3, "an idle executor beats every interval");
}

//  Control commands are checked against the message table
//  (proto_messages.c) as the hot ones are: a body of the wrong shape is
//  answered bad_request naming the field, and the executor keeps serving.
Test (executor_actor, control_command_bodies_are_checked_against_the_table)
{
    static s_fact_t facts[1024];
    zactor_t *worker = s_worker ("checked@test", 2, NULL);
    s_rejected = 0;
    bus_link_set_reject_handler (s_link, s_on_reject, NULL);
    const char *types[] = {"worker.register", "worker.register", "worker.draining",
                           "execution.status", "execution.dispatch"};
    json_t *payloads[] = {
        json_pack ("{s:s, s:i, s:s, s:[i], s:i}", "worker", "bad@test", "instance", 1,
                   "endpoint", "inproc://nowhere", "runtimes", 4, "slots", 1),
        json_pack ("{s:s, s:s, s:[s], s:i}", "worker", "bad@test", "endpoint",
                   "inproc://nowhere", "runtimes", "noop", "slots", 1),
        json_pack ("{s:s, s:s}", "worker", "bad@test", "returned", "all"),
        json_pack ("{s:s, s:s, s:s, s:s}", "execution", "x", "worker", "w", "status",
                   "running", "claim", "soon"),
        json_pack ("{s:s}", "execution", "x")};
    for (int i = 0; i < 5; i++) {
        proto_envelope_t *command = proto_envelope_new (types[i], "hand@test");
        proto_envelope_set_payload_json (command, payloads[i], NULL);
        json_decref (payloads[i]);
        cr_assert_eq (bus_link_send (s_link, &command), 0);
    }
    s_enforce ("checked", "test.count", json_pack ("{s:i}", "n", 4));
    int count = s_collect (facts, 1024, 5000, 1);
    cr_assert_eq (s_count (facts, count, "execution.completed"), 1, "still serving");
    cr_assert_eq (s_rejected, 5, "each malformed command rejected");
    const char *expected[] = {"worker.register: runtimes[0]: expected str, got int",
                              "worker.register: instance: required (uint)",
                              "worker.draining: returned: expected array, got str",
                              "execution.status: claim: expected int, got str",
                              "the executor does not take 'execution.dispatch'"};
    for (int i = 0; i < 5; i++) {
        cr_expect_str_eq (s_codes[i], i == 4 ? "unknown_type" : "bad_request");
        cr_expect_str_eq (s_messages[i], expected[i]);
    }
    zactor_destroy (&worker);
}

//  Live output (issue 21): an execution.output body is checked against the
//  table; a chunk for an execution that is not active on its worker is
//  dropped (counted), and the executor keeps serving.
Test (executor_actor, output_chunks_are_checked_and_strays_dropped)
{
    static s_fact_t facts[1024];
    zactor_t *worker = s_worker ("chunks@test", 2, NULL);
    s_rejected = 0;
    bus_link_set_reject_handler (s_link, s_on_reject, NULL);
    char *big = (char *)malloc (70000);
    memset (big, 'x', 69999);
    big[69999] = 0;
    json_t *payloads[] = {
        json_pack ("{s:s, s:s, s:s, s:s}", "execution", "x", "worker", "w", "stream",
                   "stdout", "data", "no seq"),
        json_pack ("{s:s, s:s, s:i, s:s, s:s}", "execution", "x", "worker", "w", "seq", 0,
                   "stream", "stdout", "data", big),
        json_pack ("{s:s, s:s, s:i, s:s, s:s}", "execution",
                   "00000000-0000-7000-8000-000000000000", "worker", "chunks@test", "seq",
                   0, "stream", "stdout", "data", "a stray")};
    free (big);
    for (int i = 0; i < 3; i++) {
        proto_envelope_t *command = proto_envelope_new ("execution.output", "hand@test");
        proto_envelope_set_payload_json (command, payloads[i], NULL);
        json_decref (payloads[i]);
        cr_assert_eq (bus_link_send (s_link, &command), 0);
    }
    s_enforce ("chunks", "test.count", json_pack ("{s:i}", "n", 4));
    int count = s_collect (facts, 1024, 5000, 1);
    cr_assert_eq (s_count (facts, count, "execution.completed"), 1, "still serving");
    cr_assert_eq (s_count (facts, count, "execution.output"), 0, "nothing published");
    cr_assert_eq (s_rejected, 2, "each malformed chunk rejected");
    cr_expect_str_eq (s_messages[0], "execution.output: seq: required (uint)");
    cr_expect_str_eq (s_codes[1], "bad_request");
    zstr_send (s_executor, "STATUS");
    char *text = zstr_recv (s_executor);
    json_t *status = json_loads (text, 0, NULL);
    zstr_free (&text);
    json_t *output = json_object_get (status, "output");
    cr_assert_eq (json_integer_value (json_object_get (output, "dropped")), 1);
    cr_assert_eq (json_integer_value (json_object_get (output, "stored")), 0);
    json_decref (status);
    zactor_destroy (&worker);
}
