/*  testing_rules: the fixture of the rules actor's suites
    (test_rules_actor): a pack `t` written into a temporary directory, the
    real registry and rules actors in a topology namespace of their own, and
    the executor played by a plain bus_inbox bound on executor.commands that
    records the enforcement.create commands. Events go in over a bus_link to
    rules.commands; facts are watched with a bus_sub on rules.facts; waits
    are poll loops with deadlines (WAIT_FOR).
*/
#ifndef TESTING_RULES_H_INCLUDED
#define TESTING_RULES_H_INCLUDED

#include "tests/testing.h"

#include <errno.h>

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

static inline void
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

static inline void
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

static inline void
s_setup (void)
{
    memset (&s_fx, 0, sizeof s_fx);
    testing_tmpdir (s_root, sizeof s_root, "test_rules_actor");
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

static inline void
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
    testing_rmtree (s_root);
}

static inline void
s_on_reject (void *arg, const proto_envelope_t *command, const char *code,
             const char *message)
{
    (void)arg;
    (void)command;
    snprintf (s_fx.reject_code, sizeof s_fx.reject_code, "%s", code);
    snprintf (s_fx.reject_message, sizeof s_fx.reject_message, "%s", message);
}

static inline bus_link_t *
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

static inline void
s_start_registry (void)
{
    s_fx.registry = zactor_new (registry_actor, &s_fx.config);
    cr_assert_not_null (s_fx.registry, "registry actor did not start");
}

static inline void
s_start_rules (void)
{
    s_fx.rules = zactor_new (rules_actor, &s_fx.config);
    cr_assert_not_null (s_fx.rules, "rules actor did not start");
}

static inline void
s_start_executor (void)
{
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    config.heartbeat_ms = 200;
    s_fx.executor = bus_inbox_new (bus_topology_bind (s_fx.topology, "executor.commands"),
                                   "executor", NULL, &config);
    cr_assert_not_null (s_fx.executor);
}

static inline void
s_start_all (void)
{
    s_start_registry ();
    s_start_rules ();
    s_start_executor ();
    s_fx.sender = s_new_sender ("sensor@test");
}

static inline int
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
static inline void
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

static inline json_t *
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

static inline json_int_t
s_status_int (const char *key)
{
    json_t *status = s_status ();
    json_t *value = json_object_get (status, key);
    cr_assert (json_is_integer (value), "STATUS has no %s", key);
    json_int_t result = json_integer_value (value);
    json_decref (status);
    return result;
}

static inline bool
s_streq (const char *a, const char *b)
{
    return a && b && streq (a, b);
}

//  Facts of `type` about event `event` (field "event").
static inline size_t
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

static inline json_t *
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
static inline proto_envelope_t *
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

static inline void
s_send (bus_link_t *link, proto_envelope_t *envelope)
{
    cr_assert_eq (bus_link_send (link, &envelope), 0);
}

#endif
