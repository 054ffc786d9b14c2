/*  test_executor_runs: api.execution.run and rerun on the executor's query
    endpoint, sent in bursts as the workflow engine sends its children: the
    runs of one wake-up are committed together (executor_runs.c), each
    answered once durable, one execution per request id, a bad run failing
    alone. Real registry and executor actors, a real store.
*/
#include "tests/testing.h"
#include <limits.h>

#include "actors/executor/executor.h"
#include "actors/registry/registry.h"
#include "bus/bus_client.h"
#include "bus/bus_facts.h"
#include "proto/proto_json.h"

static char s_root[PATH_MAX - 256];
static char s_packs[PATH_MAX];
static char s_data[PATH_MAX];
static bus_topology_t *s_topology;
static zactor_t *s_registry, *s_executor;
static bus_sub_t *s_facts;
static bus_client_t *s_client;
static int s_counter;

static actor_config_t
s_config (void)
{
    actor_config_t config = {.topology = s_topology,
                             .data_dir = s_data,
                             .packs_dir = s_packs,
                             .host = "test",
                             .heartbeat_ms = 100};
    return config;
}

static void
s_setup (void)
{
    testing_tmpdir (s_root, sizeof s_root, "test_executor_runs");
    snprintf (s_packs, sizeof s_packs, "%s/packs", s_root);
    snprintf (s_data, sizeof s_data, "%s/data", s_root);
    testing_write (s_packs, "test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    testing_write (s_packs, "test/actions/count.yaml",
                   "name: count\nrunner_type: noop\nparameters:\n"
                   "  n:\n    type: integer\n    required: true\n");
    //  As StackStorm's linux.scp: a parameter with an immutable default
    testing_write (
        s_packs, "test/actions/scp.yaml",
        "name: scp\nrunner_type: noop\nparameters:\n"
        "  cmd:\n    type: string\n    default: scp {{ n }} b\n    immutable: true\n"
        "  n:\n    type: integer\n");
    char ns[64];
    snprintf (ns, sizeof ns, "runs-%d-%d", getpid (), ++s_counter);
    s_topology = bus_topology_new (ns);
    actor_config_t config = s_config ();
    s_facts = bus_sub_new (0);
    bus_sub_connect (s_facts, bus_topology_connect (s_topology, "executor.facts"));
    bus_sub_subscribe (s_facts, "");
    s_registry = zactor_new (registry_actor, &config);
    s_executor = zactor_new (executor_actor, &config);
    cr_assert_not_null (s_executor);
    s_client = bus_client_new ("test@runs");
    cr_assert_eq (bus_client_connect (
                      s_client, bus_topology_connect (s_topology, "executor.query")),
                  0);
    bus_client_set_timeout (s_client, 8000);
}

static void
s_teardown (void)
{
    bus_client_destroy (&s_client);
    zactor_destroy (&s_executor);
    zactor_destroy (&s_registry);
    bus_sub_destroy (&s_facts);
    bus_topology_destroy (&s_topology);
    testing_rmtree (s_root);
}

TestSuite (executor_runs, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  One request: its result, or {"error": code} (caller owns it)
static json_t *
s_call (const char *type, json_t *payload)
{
    json_t *result = bus_client_request (s_client, type, &payload);
    return result ? result : json_pack ("{s:s}", "error", bus_client_code (s_client));
}

//  Send `count` requests at once, then read every answer: answers[i] is the
//  result of payloads[i] (taken), or {"error": code}.
static void
s_burst (const char *type, json_t **payloads, json_t **answers, int count)
{
    uint8_t (*ids)[PROTO_UUID_SIZE] = calloc ((size_t)count, PROTO_UUID_SIZE);
    cr_assert_not_null (ids);
    for (int i = 0; i < count; i++) {
        proto_envelope_t *request = proto_envelope_new (type, "test@runs");
        cr_assert_eq (proto_envelope_set_payload_json (request, payloads[i], NULL),
                      PROTO_OK);
        json_decref (payloads[i]);
        memcpy (ids[i], proto_envelope_id (request), PROTO_UUID_SIZE);
        answers[i] = NULL;
        cr_assert_eq (bus_client_send (s_client, &request), 0);
    }
    zpoller_t *poller = zpoller_new (bus_client_sock (s_client), NULL);
    int64_t deadline = zclock_mono () + 20000;
    for (int got = 0; got < count && zclock_mono () < deadline;) {
        proto_envelope_t *reply = bus_client_recv (s_client);
        if (!reply) {
            zpoller_wait (poller, 100);
            continue;
        }
        int i = 0;
        while (i < count && memcmp (ids[i], proto_envelope_corr (reply), PROTO_UUID_SIZE))
            i++;
        cr_assert_lt (i, count, "an answer to no request");
        cr_assert_null (answers[i], "request %d answered twice", i);
        json_t *result = bus_client_result (s_client, reply);
        answers[i] =
            result ? result : json_pack ("{s:s}", "error", bus_client_code (s_client));
        proto_envelope_destroy (&reply);
        got++;
    }
    zpoller_destroy (&poller);
    bus_client_forget (s_client, NULL);
    for (int i = 0; i < count; i++)
        cr_assert_not_null (answers[i], "request %d not answered", i);
    free (ids);
}

static json_t *
s_run_payload (const char *action, const char *request, int n)
{
    return json_pack ("{s:s, s:s, s:{s:i}}", "action", action, "request", request,
                      "parameters", "n", n);
}

//  execution.requested facts within `ms` (stops early at `expect`), and
//  then for 300 ms more: none beyond the expected ones
static int
s_requested_facts (int expect, int ms)
{
    int count = 0;
    int64_t deadline = zclock_mono () + ms;
    while (zclock_mono () < deadline) {
        proto_envelope_t *fact = bus_sub_recv (s_facts, NULL, 50);
        if (fact && streq (proto_envelope_type (fact), "execution.requested") &&
            ++count == expect)
            deadline = zclock_mono () + 300;
        proto_envelope_destroy (&fact);
    }
    return count;
}

static json_int_t
s_executions (void)
{
    json_t *status = s_call ("api.status", json_object ());
    json_int_t executions = json_integer_value (json_object_get (status, "executions"));
    json_decref (status);
    return executions;
}

static const char *
s_id (json_t *answer)
{
    const char *id = json_string_value (json_object_get (answer, "execution"));
    cr_assert_not_null (id, "not an execution: %s",
                        json_string_value (json_object_get (answer, "error")));
    return id;
}

#define S_BURST 300

Test (executor_runs, burst_all_created_once_answered_durable)
{
    json_t *payloads[S_BURST], *answers[S_BURST];
    for (int i = 0; i < S_BURST; i++) {
        char request[64];
        snprintf (request, sizeof request, "burst-%d", i);
        payloads[i] = s_run_payload ("test.count", request, i);
    }
    s_burst ("api.execution.run", payloads, answers, S_BURST);
    zhashx_t *seen = zhashx_new ();
    for (int i = 0; i < S_BURST; i++)
        cr_assert_eq (zhashx_insert (seen, s_id (answers[i]), (void *)"x"), 0,
                      "execution %s given twice", s_id (answers[i]));
    zhashx_destroy (&seen);
    cr_assert_eq (s_requested_facts (S_BURST, 10000), S_BURST);
    cr_assert_eq (s_executions (), S_BURST);

    //  Answered: durable. A new executor on the same store has each one,
    //  with its parameters
    bus_client_destroy (&s_client);
    zactor_destroy (&s_executor);
    actor_config_t config = s_config ();
    s_executor = zactor_new (executor_actor, &config);
    cr_assert_not_null (s_executor);
    s_client = bus_client_new ("test@runs");
    cr_assert_eq (bus_client_connect (
                      s_client, bus_topology_connect (s_topology, "executor.query")),
                  0);
    bus_client_set_timeout (s_client, 8000);
    for (int i = 0; i < S_BURST; i++) {
        json_t *record =
            s_call ("api.execution.get", json_pack ("{s:s}", "id", s_id (answers[i])));
        json_t *n = json_object_get (json_object_get (record, "parameters"), "n");
        cr_assert_eq (json_integer_value (n), i, "execution %d lost", i);
        json_decref (record);
        json_decref (answers[i]);
    }
}

Test (executor_runs, duplicates_in_one_burst_make_one_execution)
{
    //  Each of 20 requests sent 5 times in one burst (interleaved)
    enum { KINDS = 20, TIMES = 5, COUNT = KINDS * TIMES };
    json_t *payloads[COUNT], *answers[COUNT];
    for (int i = 0; i < COUNT; i++) {
        char request[64];
        snprintf (request, sizeof request, "dup-%d", i % KINDS);
        payloads[i] = s_run_payload ("test.count", request, i % KINDS);
    }
    s_burst ("api.execution.run", payloads, answers, COUNT);
    for (int i = KINDS; i < COUNT; i++)
        cr_assert_str_eq (s_id (answers[i]), s_id (answers[i % KINDS]));
    cr_assert_eq (s_requested_facts (KINDS, 10000), KINDS);
    cr_assert_eq (s_executions (), KINDS);
    //  Sent again later: still the same executions
    json_t *again =
        s_call ("api.execution.run", s_run_payload ("test.count", "dup-3", 3));
    cr_assert_str_eq (s_id (again), s_id (answers[3]));
    json_decref (again);
    for (int i = 0; i < COUNT; i++)
        json_decref (answers[i]);
}

Test (executor_runs, bad_runs_fail_alone)
{
    enum { COUNT = 40 };
    json_t *payloads[COUNT], *answers[COUNT];
    for (int i = 0; i < COUNT; i++) {
        char request[64];
        snprintf (request, sizeof request, "mixed-%d", i);
        if (i % 10 == 3) //  no such action
            payloads[i] = s_run_payload ("test.nothing", request, i);
        else if (i % 10 == 5) //  parameters that do not fit the schema
            payloads[i] = json_pack ("{s:s, s:s, s:{s:s}}", "action", "test.count",
                                     "request", request, "parameters", "n", "many");
        else if (i % 10 == 7) //  no such parent
            payloads[i] = json_pack ("{s:s, s:s, s:{s:i}, s:s}", "action", "test.count",
                                     "request", request, "parameters", "n", i, "parent",
                                     "00000000-0000-4000-8000-000000000000");
        else
            payloads[i] = s_run_payload ("test.count", request, i);
    }
    s_burst ("api.execution.run", payloads, answers, COUNT);
    int good = 0;
    for (int i = 0; i < COUNT; i++) {
        const char *error = json_string_value (json_object_get (answers[i], "error"));
        const char *want = i % 10 == 3 || i % 10 == 7 ? "not_found"
                           : i % 10 == 5              ? "invalid"
                                                      : NULL;
        if (want)
            cr_assert_str_eq (error ? error : "(an execution)", want, "run %d", i);
        else {
            s_id (answers[i]);
            good++;
        }
        json_decref (answers[i]);
    }
    cr_assert_eq (s_requested_facts (good, 10000), good);
    cr_assert_eq (s_executions (), good);
}

//  A re-run of an action with an immutable default (rendered from another
//  parameter): the original's parameters go back in without it, and it is
//  rendered again
Test (executor_runs, rerun_with_immutable_default)
{
    json_t *first = s_call ("api.execution.run", s_run_payload ("test.scp", "scp-1", 4));
    const char *id = s_id (first);
    json_t *record = s_call ("api.execution.get", json_pack ("{s:s}", "id", id));
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (record, "parameters"), "cmd")),
                      "scp 4 b");
    json_decref (record);
    const char *requests[] = {"scp-2", "scp-3"};
    for (int i = 0; i < 2; i++) {
        //  As it was, then with n given anew
        json_t *payload = json_pack ("{s:s, s:s}", "id", id, "request", requests[i]);
        if (i == 1)
            json_object_set_new (payload, "parameters", json_pack ("{s:i}", "n", 7));
        json_t *again = s_call ("api.execution.rerun", payload);
        record = s_call ("api.execution.get", json_pack ("{s:s}", "id", s_id (again)));
        json_t *parameters = json_object_get (record, "parameters");
        cr_assert_str_eq (json_string_value (json_object_get (parameters, "cmd")),
                          i == 0 ? "scp 4 b" : "scp 7 b");
        cr_assert_eq (json_integer_value (json_object_get (parameters, "n")),
                      i == 0 ? 4 : 7);
        cr_assert_str_eq (json_string_value (json_object_get (record, "parent")), id);
        json_decref (record);
        json_decref (again);
    }
    //  Given on purpose, it is refused as on a run: the execution ends
    //  saying why
    json_t *refused = s_call ("api.execution.rerun",
                              json_pack ("{s:s, s:s, s:{s:s}}", "id", id, "request",
                                         "scp-4", "parameters", "cmd", "rm -rf /"));
    record = s_call ("api.execution.get", json_pack ("{s:s}", "id", s_id (refused)));
    cr_assert_str_eq (json_string_value (json_object_get (record, "status")), "failed");
    cr_assert_str_eq (
        json_string_value (json_object_get (json_object_get (record, "result"), "error")),
        "parameter 'cmd': is immutable and cannot be set");
    json_decref (record);
    json_decref (refused);
    json_decref (first);
}
