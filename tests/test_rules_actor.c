/*  test_rules_actor: the rules actor (actors/rules/rules.h) with the real
    registry actor.

    Each test writes a pack into its own temporary directory, starts the
    registry and the rules actor in a topology namespace of its own, and
    plays the executor with a plain bus_inbox bound on executor.commands
    that records the enforcement.create commands. Events go in over a
    bus_link to rules.commands; facts are watched with a bus_sub on
    rules.facts. Waits are poll loops with deadlines.
*/
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/registry/registry.h"
#include "actors/rules/rules.h"
#include "bus/bus_facts.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"
#include "proto/proto_json.h"

#define WAIT_MS 10000

static char s_root[PATH_MAX - 128];
static char s_packs[PATH_MAX];
static char s_data[PATH_MAX];
static int s_namespace_seq;

typedef struct {
    bus_topology_t *topology;
    actor_config_t config;
    zactor_t *registry;
    zactor_t *rules;
    bus_sub_t *sub;
    bus_link_t *sender;
    bus_inbox_t *executor;
    json_t *commands; //  enforcement.create payloads seen by the executor
    json_t *corrs;    //  their corr ids (strings) and traces
    json_t *facts;    //  [{type, payload}] from rules.facts
    char reject_code[64];
    char reject_message[512];
} fixture_t;

static fixture_t s_fx;

//  ---------------------------------------------------------------------------
//  Files

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove (path);
}

static void
s_write (const char *relative, const char *text)
{
    char path[PATH_MAX + 256];
    snprintf (path, sizeof path, "%s/%s", s_packs, relative);
    //  make the parent folders
    for (char *p = path + strlen (s_packs) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir (path, 0750);
            *p = '/';
        }
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file, "fopen %s: %s", path, strerror (errno));
    fputs (text, file);
    fclose (file);
}

static void
s_write_pack (void)
{
    s_write ("t/pack.yaml",
             "---\nref: t\nname: t\nversion: 1.0.0\ndescription: test pack\n");
    s_write ("t/actions/echo.yaml", "---\n"
                                    "name: echo\n"
                                    "runner_type: builtin\n"
                                    "entry_point: echo\n"
                                    "enabled: true\n"
                                    "parameters:\n"
                                    "  message:\n"
                                    "    type: string\n");
    s_write ("t/triggers/webhook.yaml",
             "---\nname: webhook\ndescription: external events\n");
    s_write ("t/rules/match.yaml",
             "---\n"
             "name: r_match\n"
             "pack: t\n"
             "enabled: true\n"
             "trigger:\n"
             "  type: t.webhook\n"
             "criteria:\n"
             "  trigger.payload.kind:\n"
             "    type: equals\n"
             "    pattern: deploy\n"
             "action:\n"
             "  ref: t.echo\n"
             "  parameters:\n"
             "    message: \"deploy {{ trigger.payload.app }}\"\n"
             "    n: \"{{ trigger.payload.n }}\"\n"
             "    flag: \"{{ trigger.flag }}\"\n"
             "    obj: \"{{ trigger.payload.obj }}\"\n"
             "    retries: \"{{ trigger.payload.retries | default(3) }}\"\n"
             "    event: \"{{ event.id }}\"\n"
             "    rule: \"{{ rule.ref }}\"\n");
    s_write ("t/rules/broken.yaml",
             "---\n"
             "name: r_broken\n"
             "pack: t\n"
             "trigger:\n"
             "  type: t.webhook\n"
             "criteria:\n"
             "  trigger.payload.kind: {type: equals, pattern: broken}\n"
             "action:\n"
             "  ref: t.echo\n"
             "  parameters:\n"
             "    message: \"{{ trigger.payload.missing }}\"\n");
    s_write ("t/rules/disabled.yaml", "---\n"
                                      "name: r_disabled\n"
                                      "pack: t\n"
                                      "enabled: false\n"
                                      "trigger:\n"
                                      "  type: t.webhook\n"
                                      "action:\n"
                                      "  ref: t.echo\n");
    s_write ("t/rules/every5.yaml", "---\n"
                                    "name: r_every5\n"
                                    "pack: t\n"
                                    "trigger:\n"
                                    "  type: core.st2.IntervalTimer\n"
                                    "  parameters: {unit: seconds, delta: 5}\n"
                                    "action:\n"
                                    "  ref: t.echo\n"
                                    "  parameters: {message: five}\n");
    s_write ("t/rules/every10.yaml", "---\n"
                                     "name: r_every10\n"
                                     "pack: t\n"
                                     "trigger:\n"
                                     "  type: core.st2.IntervalTimer\n"
                                     "  parameters: {unit: seconds, delta: 10}\n"
                                     "action:\n"
                                     "  ref: t.echo\n"
                                     "  parameters: {message: ten}\n");
}

//  ---------------------------------------------------------------------------
//  Fixture

static void
s_setup (void)
{
    memset (&s_fx, 0, sizeof s_fx);
    const char *base = getenv ("ATTUNE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir (base, 0750);
    snprintf (s_root, sizeof s_root, "%s/test_rules_actor-XXXXXX", base);
    cr_assert_not_null (mkdtemp (s_root), "mkdtemp %s: %s", s_root, strerror (errno));
    snprintf (s_packs, sizeof s_packs, "%s/packs", s_root);
    snprintf (s_data, sizeof s_data, "%s/data", s_root);
    mkdir (s_packs, 0750);
    mkdir (s_data, 0750);
    s_write_pack ();

    char ns[128];
    snprintf (ns, sizeof ns, "test-rules-%d-%d", (int)getpid (), ++s_namespace_seq);
    s_fx.topology = bus_topology_new (ns);
    cr_assert_not_null (s_fx.topology);
    s_fx.config.topology = s_fx.topology;
    s_fx.config.data_dir = s_data;
    s_fx.config.packs_dir = s_packs;
    s_fx.config.host = "test";
    s_fx.config.heartbeat_ms = 200;
    s_fx.config.nosync = true;
    s_fx.commands = json_array ();
    s_fx.corrs = json_array ();
    s_fx.facts = json_array ();

    //  Watch facts before anything is published
    s_fx.sub = bus_sub_new (0);
    cr_assert_not_null (s_fx.sub);
    cr_assert_eq (
        bus_sub_connect (s_fx.sub, bus_topology_connect (s_fx.topology, "rules.facts")),
        0);
    cr_assert_eq (bus_sub_subscribe (s_fx.sub, ""), 0);
}

static void
s_teardown (void)
{
    zactor_destroy (&s_fx.rules);
    zactor_destroy (&s_fx.registry);
    bus_link_destroy (&s_fx.sender);
    bus_inbox_destroy (&s_fx.executor);
    bus_sub_destroy (&s_fx.sub);
    json_decref (s_fx.commands);
    json_decref (s_fx.corrs);
    json_decref (s_fx.facts);
    bus_topology_destroy (&s_fx.topology);
    if (s_root[0])
        nftw (s_root, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite (rules_actor, .init = s_setup, .fini = s_teardown, .timeout = 60);

static void
s_on_reject (void *arg, const proto_envelope_t *command, const char *code,
             const char *message)
{
    (void)arg;
    (void)command;
    snprintf (s_fx.reject_code, sizeof s_fx.reject_code, "%s", code);
    snprintf (s_fx.reject_message, sizeof s_fx.reject_message, "%s", message);
}

static bus_link_t *
s_new_sender (const char *name)
{
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    config.heartbeat_ms = 200;
    config.resend_ms = 300;
    bus_link_t *link = bus_link_new (
        bus_topology_connect (s_fx.topology, "rules.commands"), name, &config);
    cr_assert_not_null (link);
    bus_link_set_reject_handler (link, s_on_reject, NULL);
    return link;
}

static void
s_start_registry (void)
{
    s_fx.registry = zactor_new (registry_actor, &s_fx.config);
    cr_assert_not_null (s_fx.registry, "registry actor did not start");
}

static void
s_start_rules (void)
{
    s_fx.rules = zactor_new (rules_actor, &s_fx.config);
    cr_assert_not_null (s_fx.rules, "rules actor did not start");
}

static void
s_start_executor (void)
{
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    config.heartbeat_ms = 200;
    s_fx.executor = bus_inbox_new (bus_topology_bind (s_fx.topology, "executor.commands"),
                                   "executor", NULL, &config);
    cr_assert_not_null (s_fx.executor);
}

static void
s_start_all (void)
{
    s_start_registry ();
    s_start_rules ();
    s_start_executor ();
    s_fx.sender = s_new_sender ("sensor@test");
}

static int
s_executor_handler (void *arg, store_txn_t *txn, proto_envelope_t *command,
                    bus_command_t *info)
{
    (void)arg;
    (void)txn;
    (void)info;
    cr_expect_str_eq (proto_envelope_type (command), "enforcement.create");
    json_t *payload = proto_envelope_payload_json (command, NULL);
    cr_assert_not_null (payload);
    json_array_append_new (s_fx.commands, payload);
    char corr[PROTO_UUID_STR_SIZE] = "";
    if (proto_envelope_corr (command))
        proto_uuid_format (proto_envelope_corr (command), corr);
    const char *trace = proto_envelope_trace (command);
    json_array_append_new (
        s_fx.corrs, json_pack ("{s:s, s:s}", "corr", corr, "trace", trace ? trace : ""));
    return 0;
}

//  Service every socket of the test side once, waiting at most `wait_ms`.
static void
s_service (bus_link_t *other, int wait_ms)
{
    zmq_pollitem_t items[4];
    int n = 0;
    items[n++] =
        (zmq_pollitem_t){zsock_resolve (bus_sub_sock (s_fx.sub)), 0, ZMQ_POLLIN, 0};
    if (s_fx.sender)
        items[n++] = (zmq_pollitem_t){zsock_resolve (bus_link_sock (s_fx.sender)), 0,
                                      ZMQ_POLLIN, 0};
    if (other)
        items[n++] =
            (zmq_pollitem_t){zsock_resolve (bus_link_sock (other)), 0, ZMQ_POLLIN, 0};
    if (s_fx.executor)
        items[n++] = (zmq_pollitem_t){zsock_resolve (bus_inbox_sock (s_fx.executor)), 0,
                                      ZMQ_POLLIN, 0};
    zmq_poll (items, n, wait_ms);
    while (true) {
        proto_envelope_t *fact = bus_sub_recv (s_fx.sub, NULL, 0);
        if (!fact)
            break;
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        json_array_append_new (
            s_fx.facts, json_pack ("{s:s, s:o}", "type", proto_envelope_type (fact),
                                   "payload", payload ? payload : json_null ()));
        proto_envelope_destroy (&fact);
    }
    if (s_fx.sender) {
        bus_link_handle (s_fx.sender);
        bus_link_tick (s_fx.sender);
    }
    if (other) {
        bus_link_handle (other);
        bus_link_tick (other);
    }
    if (s_fx.executor) {
        bus_inbox_process (s_fx.executor, s_executor_handler, NULL);
        bus_inbox_tick (s_fx.executor);
    }
}

static json_t *
s_status (void)
{
    zstr_send (s_fx.rules, "STATUS");
    char *text = zstr_recv (s_fx.rules);
    cr_assert_not_null (text);
    json_t *status = json_loads (text, 0, NULL);
    cr_assert_not_null (status, "STATUS is not JSON: %s", text);
    free (text);
    return status;
}

static json_int_t
s_status_int (const char *key)
{
    json_t *status = s_status ();
    json_t *value = json_object_get (status, key);
    cr_assert (json_is_integer (value), "STATUS has no %s", key);
    json_int_t result = json_integer_value (value);
    json_decref (status);
    return result;
}

static bool
s_streq (const char *a, const char *b)
{
    return a && b && streq (a, b);
}

//  Facts of `type` about event `event` (field "event").
static size_t
s_facts_count (const char *type, const char *event)
{
    size_t count = 0, i;
    json_t *fact;
    json_array_foreach (s_fx.facts, i, fact)
    {
        json_t *payload = json_object_get (fact, "payload");
        if (streq (json_string_value (json_object_get (fact, "type")), type) &&
            (!event ||
             s_streq (json_string_value (json_object_get (payload, "event")), event)))
            count++;
    }
    return count;
}

static json_t *
s_fact (const char *type, const char *event)
{
    size_t i;
    json_t *fact;
    json_array_foreach (s_fx.facts, i, fact)
    {
        json_t *payload = json_object_get (fact, "payload");
        if (streq (json_string_value (json_object_get (fact, "type")), type) &&
            s_streq (json_string_value (json_object_get (payload, "event")), event))
            return payload;
    }
    return NULL;
}

#define WAIT_FOR(cond, other)                                                            \
    do {                                                                                 \
        int64_t deadline_ = zclock_mono () + WAIT_MS;                                    \
        while (!(cond) && zclock_mono () < deadline_)                                    \
            s_service ((other), 20);                                                     \
        cr_assert ((cond), "timed out waiting for: %s", #cond);                          \
    } while (0)

//  An event.create envelope (not sent). `event_id` receives its id.
static proto_envelope_t *
s_event (const char *trigger_json, const char *tparams_json, const char *payload_json,
         char event_id[PROTO_UUID_STR_SIZE])
{
    proto_envelope_t *envelope = proto_envelope_new ("event.create", "sensor@test");
    cr_assert_not_null (envelope);
    json_t *payload = json_object ();
    if (trigger_json)
        json_object_set_new (payload, "trigger",
                             json_loads (trigger_json, JSON_DECODE_ANY, NULL));
    if (tparams_json)
        json_object_set_new (payload, "trigger_parameters",
                             json_loads (tparams_json, JSON_DECODE_ANY, NULL));
    if (payload_json)
        json_object_set_new (payload, "payload",
                             json_loads (payload_json, JSON_DECODE_ANY, NULL));
    cr_assert_eq (proto_envelope_set_payload_json (envelope, payload, NULL), PROTO_OK);
    json_decref (payload);
    if (event_id)
        proto_uuid_format (proto_envelope_id (envelope), event_id);
    return envelope;
}

static void
s_send (bus_link_t *link, proto_envelope_t *envelope)
{
    cr_assert_eq (bus_link_send (link, &envelope), 0);
}

//  ---------------------------------------------------------------------------
//  Tests

Test (rules_actor, event_matching_one_rule)
{
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    proto_envelope_t *envelope =
        s_event ("\"t.webhook\"", "{}",
                 "{\"kind\": \"deploy\", \"app\": \"web\", \"n\": 42, \"flag\": true, "
                 "\"obj\": {\"a\": [1, 2.5, null]}}",
                 event);
    proto_envelope_set_trace (envelope, "trace-1");
    s_send (s_fx.sender, envelope);
    WAIT_FOR (json_array_size (s_fx.commands) >= 1 &&
                  s_facts_count ("enforcement.created", event),
              NULL);

    //  The command: rendered parameters with their types
    cr_assert_eq (json_array_size (s_fx.commands), 1);
    json_t *command = json_array_get (s_fx.commands, 0);
    cr_assert_str_eq (json_string_value (json_object_get (command, "rule")), "t.r_match");
    cr_assert_str_eq (json_string_value (json_object_get (command, "event")), event);
    cr_assert_str_eq (json_string_value (json_object_get (command, "action")), "t.echo");
    const char *enforcement =
        json_string_value (json_object_get (command, "enforcement"));
    uint8_t uuid[PROTO_UUID_SIZE];
    cr_assert (enforcement && proto_uuid_parse (enforcement, uuid) == 0);
    json_t *params = json_object_get (command, "parameters");
    json_t *expected =
        json_pack ("{s:s, s:i, s:b, s:{s:[i, f, n]}, s:i, s:s, s:s}", "message",
                   "deploy web", "n", 42, "flag", 1, "obj", "a", 1, 2.5, "retries", 3,
                   "event", event, "rule", "t.r_match");
    cr_assert (json_equal (params, expected), "parameters: %s",
               json_dumps (params, JSON_COMPACT | JSON_SORT_KEYS));
    json_decref (expected);
    cr_assert (json_is_integer (json_object_get (params, "n")));
    cr_assert (json_is_true (json_object_get (params, "flag")));
    json_t *corr = json_array_get (s_fx.corrs, 0);
    cr_assert_str_eq (json_string_value (json_object_get (corr, "corr")), event);
    cr_assert_str_eq (json_string_value (json_object_get (corr, "trace")), "trace-1");

    //  Facts
    json_t *created = s_fact ("event.created", event);
    cr_assert_not_null (created);
    cr_assert_str_eq (json_string_value (json_object_get (created, "trigger")),
                      "t.webhook");
    cr_assert_eq (
        json_integer_value (json_object_get (json_object_get (created, "payload"), "n")),
        42);
    cr_assert (json_is_integer (json_object_get (created, "ts")));
    json_t *enf = s_fact ("enforcement.created", event);
    cr_assert_not_null (enf);
    cr_assert_str_eq (json_string_value (json_object_get (enf, "status")), "created");
    cr_assert_str_eq (json_string_value (json_object_get (enf, "enforcement")),
                      enforcement);
    cr_assert_str_eq (json_string_value (json_object_get (enf, "rule")), "t.r_match");
    cr_assert_eq (s_facts_count ("enforcement.created", event), 1);

    //  Durable counters; the acked command leaves the outbox
    cr_assert_eq (s_status_int ("events"), 1);
    cr_assert_eq (s_status_int ("enforcements"), 1);
    cr_assert_eq (s_status_int ("failed"), 0);
    cr_assert_eq (s_status_int ("rules"), 5);
    WAIT_FOR (s_status_int ("outbox") == 0, NULL);
}

Test (rules_actor, criteria_false_no_enforcement)
{
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, "{\"kind\": \"other\"}", event));
    WAIT_FOR (s_facts_count ("event.created", event) == 1, NULL);
    //  Committed before the fact went out: nothing else will come of it
    cr_assert_eq (s_status_int ("events"), 1);
    cr_assert_eq (s_status_int ("enforcements"), 0);
    cr_assert_eq (s_status_int ("outbox"), 0);
    //  A later matching event gets through; the first still has nothing
    char second[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL,
                                  "{\"kind\": \"deploy\", \"app\": \"a\", \"n\": 1, "
                                  "\"flag\": false, \"obj\": {}}",
                                  second));
    WAIT_FOR (json_array_size (s_fx.commands) == 1, NULL);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_array_get (s_fx.commands, 0), "event")),
        second);
    cr_assert_eq (s_facts_count ("enforcement.created", event), 0);
    //  An unknown trigger type: refused (not_found), nothing stored
    char third[PROTO_UUID_STR_SIZE];
    s_fx.reject_code[0] = 0;
    s_send (s_fx.sender, s_event ("\"t.nobody\"", NULL, "{}", third));
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_assert_str_eq (s_fx.reject_code, "not_found");
    cr_assert (strstr (s_fx.reject_message, "t.nobody"), "message: %s",
               s_fx.reject_message);
    cr_assert_eq (s_facts_count ("event.created", third), 0);
    cr_assert_eq (s_status_int ("events"), 2);
    cr_assert_eq (s_status_int ("enforcements"), 1);
}

Test (rules_actor, timer_parameters_select_the_rule)
{
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"core.st2.IntervalTimer\"",
                                  "{\"unit\": \"seconds\", \"delta\": 10}",
                                  "{\"executed_at\": \"2026-01-01T00:00:00Z\"}", event));
    WAIT_FOR (json_array_size (s_fx.commands) == 1, NULL);
    json_t *command = json_array_get (s_fx.commands, 0);
    cr_assert_str_eq (json_string_value (json_object_get (command, "rule")),
                      "t.r_every10");
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (command, "parameters"), "message")),
                      "ten");
    cr_assert_eq (s_status_int ("enforcements"), 1);
    cr_assert_eq (s_facts_count ("enforcement.created", event), 1);

    //  Parameters no rule has: nothing
    char none[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"core.st2.IntervalTimer\"",
                                  "{\"unit\": \"seconds\", \"delta\": 7}", "{}", none));
    WAIT_FOR (s_facts_count ("event.created", none) == 1, NULL);
    cr_assert_eq (s_status_int ("enforcements"), 1);

    //  No parameters (an external event of that type): not a timer's event,
    //  so no timer rule fires (a client cannot set off every timer rule)
    char any[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"core.st2.IntervalTimer\"", "{}", "{}", any));
    WAIT_FOR (s_facts_count ("event.created", any) == 1, NULL);
    cr_assert_eq (s_facts_count ("enforcement.created", any), 0);
    cr_assert_eq (s_status_int ("enforcements"), 1);
    cr_assert_eq (json_array_size (s_fx.commands), 1);
}

Test (rules_actor, redelivered_event_is_one_event)
{
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    proto_envelope_t *envelope =
        s_event ("\"t.webhook\"", "{}",
                 "{\"kind\": \"deploy\", \"app\": \"x\", \"n\": 1, \"flag\": true, "
                 "\"obj\": []}",
                 event);
    proto_envelope_t *again = proto_envelope_dup (envelope);
    cr_assert_not_null (again);
    bus_link_t *second = s_new_sender ("sensor-restarted@test");
    s_send (s_fx.sender, envelope);
    s_send (second, again);
    WAIT_FOR (bus_link_unacked (s_fx.sender) == 0 && bus_link_unacked (second) == 0 &&
                  json_array_size (s_fx.commands) >= 1,
              second);
    cr_assert_eq (s_status_int ("events"), 1);
    cr_assert_eq (s_status_int ("enforcements"), 1);
    WAIT_FOR (s_status_int ("outbox") == 0, second);
    //  Let anything late arrive, then count
    int64_t until = zclock_mono () + 300;
    while (zclock_mono () < until)
        s_service (second, 20);
    cr_assert_eq (json_array_size (s_fx.commands), 1);
    cr_assert_eq (s_facts_count ("event.created", event), 1);
    cr_assert_eq (s_facts_count ("enforcement.created", event), 1);
    bus_link_destroy (&second);
}

Test (rules_actor, render_failure_fails_the_enforcement)
{
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender,
            s_event ("\"t.webhook\"", NULL, "{\"kind\": \"broken\"}", event));
    WAIT_FOR (s_facts_count ("enforcement.created", event) == 1, NULL);
    json_t *fact = s_fact ("enforcement.created", event);
    cr_assert_str_eq (json_string_value (json_object_get (fact, "status")), "failed");
    cr_assert_str_eq (json_string_value (json_object_get (fact, "rule")), "t.r_broken");
    const char *reason = json_string_value (json_object_get (fact, "reason"));
    cr_assert_not_null (reason);
    cr_assert (strstr (reason, "action.parameters.message"), "reason: %s", reason);
    cr_assert (strstr (reason, "missing"), "reason: %s", reason);
    cr_assert_eq (s_status_int ("failed"), 1);
    cr_assert_eq (s_status_int ("enforcements"), 1);
    cr_assert_eq (s_status_int ("outbox"), 0);
    int64_t until = zclock_mono () + 200;
    while (zclock_mono () < until)
        s_service (NULL, 20);
    cr_assert_eq (json_array_size (s_fx.commands), 0);
}

Test (rules_actor, outbox_survives_a_restart)
{
    s_start_registry ();
    s_start_rules ();
    s_fx.sender = s_new_sender ("sensor@test");
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL,
                                  "{\"kind\": \"deploy\", \"app\": \"late\", \"n\": 7, "
                                  "\"flag\": true, \"obj\": {}}",
                                  event));
    WAIT_FOR (s_facts_count ("enforcement.created", event) == 1, NULL);
    cr_assert_eq (s_status_int ("outbox"), 1);

    //  Restart with the executor still absent
    zactor_destroy (&s_fx.rules);
    s_start_rules ();
    cr_assert_eq (s_status_int ("outbox"), 1);
    cr_assert_eq (s_status_int ("enforcements"), 1);

    //  The executor comes up: the command arrives, the outbox drains
    s_start_executor ();
    WAIT_FOR (json_array_size (s_fx.commands) >= 1, NULL);
    WAIT_FOR (s_status_int ("outbox") == 0, NULL);
    int64_t until = zclock_mono () + 300;
    while (zclock_mono () < until)
        s_service (NULL, 20);
    cr_assert_eq (json_array_size (s_fx.commands), 1);
    json_t *command = json_array_get (s_fx.commands, 0);
    cr_assert_str_eq (json_string_value (json_object_get (command, "event")), event);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (command, "parameters"), "message")),
                      "deploy late");
    cr_assert_eq (s_status_int ("enforcements"), 1);
}

Test (rules_actor, outbox_ids_after_a_restart_go_above_the_stored_ones)
{
    s_start_registry ();
    s_start_rules ();
    s_fx.sender = s_new_sender ("sensor@test");
    char first[PROTO_UUID_STR_SIZE], second[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL,
                                  "{\"kind\": \"deploy\", \"app\": \"one\", \"n\": 1, "
                                  "\"flag\": true, \"obj\": {}}",
                                  first));
    WAIT_FOR (s_facts_count ("enforcement.created", first) == 1, NULL);
    cr_assert_eq (s_status_int ("outbox"), 1);

    //  Restarted with a command still in the outbox, a new one must not take
    //  its id (the write would fail and the event would never commit)
    zactor_destroy (&s_fx.rules);
    s_start_rules ();
    bus_link_t *later = s_new_sender ("sensor-later@test");
    s_send (later, s_event ("\"t.webhook\"", NULL,
                            "{\"kind\": \"deploy\", \"app\": \"two\", \"n\": 2, "
                            "\"flag\": true, \"obj\": {}}",
                            second));
    WAIT_FOR (s_status_int ("enforcements") == 2, later);
    cr_assert_eq (s_status_int ("outbox"), 2);
    bus_link_destroy (&later);
    zactor_destroy (&s_fx.rules);
    s_start_rules ();
    cr_assert_eq (s_status_int ("outbox"), 2);

    s_start_executor ();
    WAIT_FOR (json_array_size (s_fx.commands) >= 2, NULL);
    WAIT_FOR (s_status_int ("outbox") == 0, NULL);
    cr_assert_eq (json_array_size (s_fx.commands), 2);
    cr_assert_eq (s_status_int ("enforcements"), 2);
}

Test (rules_actor, malformed_event_rejected)
{
    s_start_all ();
    //  trigger of the wrong type
    s_send (s_fx.sender, s_event ("5", NULL, "{}", NULL));
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_assert_str_eq (s_fx.reject_code, "bad_request");
    cr_assert (strstr (s_fx.reject_message, "trigger"), "message: %s",
               s_fx.reject_message);
    //  payload missing
    s_fx.reject_code[0] = 0;
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, NULL, NULL));
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_assert_str_eq (s_fx.reject_code, "bad_request");
    cr_assert (strstr (s_fx.reject_message, "payload"), "message: %s",
               s_fx.reject_message);
    //  payload not a map
    s_fx.reject_code[0] = 0;
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, "[1]", NULL));
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_assert_str_eq (s_fx.reject_code, "bad_request");
    //  trigger_parameters not a map
    s_fx.reject_code[0] = 0;
    s_send (s_fx.sender, s_event ("\"t.webhook\"", "\"x\"", "{}", NULL));
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_assert_str_eq (s_fx.reject_code, "bad_request");
    cr_assert (strstr (s_fx.reject_message, "trigger_parameters"), "message: %s",
               s_fx.reject_message);
    cr_assert_eq (s_status_int ("events"), 0);
    cr_assert_eq (s_status_int ("rejected"), 4);
    //  The link still works after rejects
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, "{}", event));
    WAIT_FOR (s_facts_count ("event.created", event) == 1, NULL);
}

static void
s_registry_command (bus_link_t *link, const char *type, const char *payload_json)
{
    proto_envelope_t *envelope = proto_envelope_new (type, "test@test");
    json_t *payload = json_loads (payload_json, 0, NULL);
    cr_assert_not_null (payload, "bad JSON: %s", payload_json);
    cr_assert_eq (proto_envelope_set_payload_json (envelope, payload, NULL), PROTO_OK);
    json_decref (payload);
    s_send (link, envelope);
    WAIT_FOR (bus_link_unacked (link) == 0, link);
    cr_assert_str_empty (s_fx.reject_code, "registry rejected %s: %s", type,
                         s_fx.reject_message);
}

//  rules.facts heartbeats like the other fact streams: a subscriber sees
//  rules.heartbeat every interval (200 ms here) with no event at all.
Test (rules_actor, facts_stream_heartbeats)
{
    s_start_all ();
    WAIT_FOR (s_facts_count ("rules.heartbeat", NULL) >= 3, NULL);
    cr_assert_eq (s_facts_count ("event.created", NULL), 0);
}

Test (rules_actor, rule_changes_apply_without_restart)
{
    s_start_all ();
    bus_link_t *registry = bus_link_new (
        bus_topology_connect (s_fx.topology, "registry.commands"), "admin@test", NULL);
    cr_assert_not_null (registry);
    bus_link_set_reject_handler (registry, s_on_reject, NULL);
    WAIT_FOR (s_status_int ("rules_enabled") == 4, registry);

    //  Disabled: a matching event gets nothing
    s_registry_command (registry, "registry.rule.disable", "{\"ref\": \"t.r_match\"}");
    WAIT_FOR (s_status_int ("rules_enabled") == 3, registry);
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL,
                                  "{\"kind\": \"deploy\", \"app\": \"a\", \"n\": 1, "
                                  "\"flag\": true, \"obj\": {}}",
                                  event));
    WAIT_FOR (s_facts_count ("event.created", event) == 1, registry);
    cr_assert_eq (s_status_int ("enforcements"), 0);

    //  A new rule with criteria of its own, compiled on arrival
    s_registry_command (
        registry, "registry.rule.put",
        "{\"definition\": {\"name\": \"r_new\", \"pack\": \"t\", \"trigger\": {\"type\": "
        "\"t.webhook\"}, \"criteria\": {\"trigger.payload.n\": {\"type\": "
        "\"greaterthan\", "
        "\"pattern\": 10}}, \"action\": {\"ref\": \"t.echo\", \"parameters\": "
        "{\"message\": "
        "\"n={{ trigger.payload.n }}\"}}}}");
    WAIT_FOR (s_status_int ("rules") == 6 && s_status_int ("rules_enabled") == 4,
              registry);
    char small[PROTO_UUID_STR_SIZE], big[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, "{\"n\": 5}", small));
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, "{\"n\": 50}", big));
    WAIT_FOR (json_array_size (s_fx.commands) == 1 &&
                  s_facts_count ("event.created", small) == 1,
              registry);
    json_t *command = json_array_get (s_fx.commands, 0);
    cr_assert_str_eq (json_string_value (json_object_get (command, "rule")), "t.r_new");
    cr_assert_str_eq (json_string_value (json_object_get (command, "event")), big);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (command, "parameters"), "message")),
                      "n=50");
    cr_assert_eq (s_facts_count ("enforcement.created", small), 0);

    //  Deleted: gone from the cache
    s_registry_command (registry, "registry.rule.delete", "{\"ref\": \"t.r_new\"}");
    WAIT_FOR (s_status_int ("rules") == 5, registry);
    bus_link_destroy (&registry);
}

//  The parameters of the command for `rule` (borrowed), or NULL.
static json_t *
s_command_parameters (const char *rule)
{
    size_t i;
    json_t *command;
    json_array_foreach (s_fx.commands, i, command)
    {
        if (s_streq (json_string_value (json_object_get (command, "rule")), rule))
            return json_object_get (command, "parameters");
    }
    return NULL;
}

Test (rules_actor, a_shell_actions_cmd_gets_values_quoted_as_one_word)
{
    s_write ("t/actions/sh.yaml", "---\nname: sh\nrunner_type: local-shell-cmd\n"
                                  "parameters:\n  cmd:\n    type: string\n"
                                  "  note:\n    type: string\n");
    const char *rules[][2] = {
        {"r_sh", "ref: t.sh\n  parameters:\n    cmd: \"ls {{ trigger.payload.msg }}\"\n"
                 "    note: \"ls {{ trigger.payload.msg }}\"\n"},
        {"r_builtin", "ref: t.echo\n  parameters:\n"
                      "    cmd: \"ls {{ trigger.payload.msg }}\"\n"},
        {"r_quoted", "ref: t.sh\n  parameters:\n"
                     "    cmd: \"ls \\\"{{ trigger.payload.msg }}\\\"\"\n"},
        {"r_comment", "ref: t.sh\n  parameters:\n"
                      "    cmd: \"ls # {{ trigger.payload.msg }}\"\n"}};
    for (size_t i = 0; i < 4; i++) {
        char path[64], text[512];
        snprintf (path, sizeof path, "t/rules/%s.yaml", rules[i][0]);
        snprintf (text, sizeof text,
                  "---\nname: %s\npack: t\ntrigger:\n  type: t.webhook\ncriteria:\n"
                  "  trigger.payload.kind: {type: equals, pattern: shell}\n"
                  "action:\n  %s",
                  rules[i][0], rules[i][1]);
        s_write (path, text);
    }
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender,
            s_event ("\"t.webhook\"", NULL,
                     "{\"kind\": \"shell\", \"msg\": \"a b; it's\"}", event));
    WAIT_FOR (json_array_size (s_fx.commands) == 3 &&
                  s_facts_count ("enforcement.created", event) == 4,
              NULL);
    //  A shell action's cmd: one word; its other parameters as they are
    json_t *sh = s_command_parameters ("t.r_sh");
    cr_assert_str_eq (json_string_value (json_object_get (sh, "cmd")),
                      "ls 'a b; it'\\''s'");
    cr_assert_str_eq (json_string_value (json_object_get (sh, "note")), "ls a b; it's");
    //  Another runner's cmd is not a shell command
    cr_assert_str_eq (
        json_string_value (json_object_get (s_command_parameters ("t.r_builtin"), "cmd")),
        "ls a b; it's");
    //  Inside the author's "...": still one word, the same bytes
    cr_assert_str_eq (
        json_string_value (json_object_get (s_command_parameters ("t.r_quoted"), "cmd")),
        "ls \"\"'a b; it'\\''s'\"\"");
    //  Where no quoting holds, the enforcement fails with the reason
    cr_assert_null (s_command_parameters ("t.r_comment"));
    size_t i;
    json_t *fact;
    bool failed = false;
    json_array_foreach (s_fx.facts, i, fact)
    {
        json_t *payload = json_object_get (fact, "payload");
        const char *rule = json_string_value (json_object_get (payload, "rule"));
        if (!s_streq (rule, "t.r_comment"))
            continue;
        const char *reason = json_string_value (json_object_get (payload, "reason"));
        cr_assert (reason && strstr (reason, "action.parameters.cmd") &&
                       strstr (reason, "comment"),
                   "reason: %s", reason ? reason : "none");
        failed = true;
    }
    cr_assert (failed);
}
