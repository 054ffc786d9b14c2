/*  test_st2_announcement: the announcement runner as StackStorm's
    (core.announcement): refused without `experimental`; otherwise the
    event core.st2.announcement {route, payload, execution} through rules'
    event.create, so a rule on it fires, and StackStorm's result (the
    parameters, again under `output`). */
#include "tests/testing.h"
#include <limits.h>
#include <sys/stat.h>

#include "actors/actor.h"
#include "actors/executor/executor.h"
#include "actors/registry/registry.h"
#include "actors/rules/rules.h"
#include "actors/worker/worker.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"

static char s_root[PATH_MAX - 256];
static char s_packs[PATH_MAX];
static char s_data[PATH_MAX];
static bus_topology_t *s_topology;
static zactor_t *s_actors[4];
static bus_sub_t *s_facts;
static bus_link_t *s_link;
static int s_counter;

static void
s_write (const char *path, const char *text)
{
    testing_write (s_packs, path, text);
}

static void
s_setup (void)
{
    unsetenv ("ATTUNE_CONFIGS"); //  configs/ next to the packs
    testing_tmpdir (s_root, sizeof s_root, "test_st2_announcement");
    snprintf (s_packs, sizeof s_packs, "%s/packs", s_root);
    snprintf (s_data, sizeof s_data, "%s/data", s_root);
    mkdir (s_packs, 0750);
    char core[PATH_MAX + 32];
    snprintf (core, sizeof core, "%s/core", s_packs);
    cr_assert_eq (symlink (ATTUNE_SOURCE_DIR "/packs/core", core), 0);
    s_write ("test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    s_write ("test/triggers/hook.yaml", "name: hook\npack: test\n");
    char ns[64];
    snprintf (ns, sizeof ns, "st2an-%d-%d", getpid (), ++s_counter);
    s_topology = bus_topology_new (ns);
}

static void
s_start (void)
{
    actor_config_t config = {.topology = s_topology,
                             .data_dir = s_data,
                             .packs_dir = s_packs,
                             .host = "test",
                             .worker_slots = 4,
                             .heartbeat_ms = 200,
                             .nosync = true};
    s_facts = bus_sub_new (0);
    bus_sub_connect (s_facts, bus_topology_connect (s_topology, "executor.facts"));
    bus_sub_subscribe (s_facts, "execution.");
    zactor_fn *fns[4] = {registry_actor, executor_actor, rules_actor, worker_actor};
    for (int i = 0; i < 4; i++) {
        s_actors[i] = zactor_new (fns[i], &config);
        cr_assert_not_null (s_actors[i]);
    }
    s_link = bus_link_new (bus_topology_connect (s_topology, "rules.commands"),
                           "client@test", NULL);
    cr_assert_not_null (s_link);
}

static void
s_teardown (void)
{
    bus_link_destroy (&s_link);
    for (int i = 3; i >= 0; i--)
        zactor_destroy (&s_actors[i]);
    bus_sub_destroy (&s_facts);
    bus_topology_destroy (&s_topology);
    testing_rmtree (s_root);
}

TestSuite (st2_announcement, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  A rule of the test pack: on events of `kind`, run `ref` with `params`
//  (YAML lines, indented by four; "" for none).
static void
s_rule (const char *kind, const char *ref, const char *params)
{
    char path[128], text[4096];
    snprintf (path, sizeof path, "test/rules/%s.yaml", kind);
    snprintf (text, sizeof text,
              "name: %s\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
              "  trigger.payload.kind: {type: equals, pattern: %s}\n"
              "action:\n  ref: %s\n  parameters:%s\n%s",
              kind, kind, ref, *params ? "" : " {}", params);
    s_write (path, text);
}

static json_t *s_wait_rule (const char *rule);

//  The terminal fact of the execution of rule test.`kind` after an event
//  with `payload` (taken).
static json_t *
s_run (const char *kind, json_t *payload)
{
    json_object_set_new (payload, "kind", json_string (kind));
    proto_envelope_t *event = proto_envelope_new ("event.create", "client@test");
    json_t *body = json_pack ("{s:s, s:{}, s:o}", "trigger", "test.hook",
                              "trigger_parameters", "payload", payload);
    cr_assert_eq (proto_envelope_set_payload_json (event, body, NULL), PROTO_OK);
    json_decref (body);
    cr_assert_eq (bus_link_send (s_link, &event), 0);
    char rule[128];
    snprintf (rule, sizeof rule, "test.%s", kind);
    return s_wait_rule (rule);
}

//  The terminal fact of an execution of `rule`.
static json_t *
s_wait_rule (const char *rule)
{
    int64_t deadline = zclock_mono () + 10000;
    while (zclock_mono () < deadline) {
        bus_link_handle (s_link);
        bus_link_tick (s_link);
        proto_envelope_t *fact = bus_sub_recv (s_facts, NULL, 50);
        json_t *done = fact ? proto_envelope_payload_json (fact, NULL) : NULL;
        proto_envelope_destroy (&fact);
        const char *status = json_string_value (json_object_get (done, "status"));
        const char *field = json_string_value (json_object_get (done, "rule"));
        if (status && field && streq (field, rule) && testing_status_terminal (status))
            return done;
        json_decref (done);
    }
    cr_assert_fail ("no end of %s", rule);
    return NULL;
}

static const char *
s_stdout (const json_t *done)
{
    return json_string_value (
        json_object_get (json_object_get (done, "result"), "stdout"));
}

static const char *
s_error (const json_t *done)
{
    return json_string_value (
        json_object_get (json_object_get (done, "result"), "error"));
}

Test (st2_announcement, an_announcement_is_an_event_rules_act_on)
{
    s_rule ("announce", "core.announcement",
            "    route: ops\n    message:\n      text: \"{{ trigger.payload.text }}\"\n");
    //  a rule on the announcement, as on any trigger
    s_write ("test/rules/heard.yaml",
             "name: heard\npack: test\ntrigger:\n  type: core.st2.announcement\n"
             "criteria:\n  trigger.payload.route: {type: equals, pattern: ops}\n"
             "action:\n  ref: core.local\n  parameters:\n"
             "    cmd: \"echo heard {{ trigger.payload.payload.message.text }}\"\n");
    s_write ("test/actions/muted.yaml",
             "name: muted\nrunner_type: announcement\nparameters:\n"
             "  experimental:\n    default: false\n  note:\n    type: string\n");
    s_rule ("muted", "test.muted", "    note: hi\n");
    s_start ();
    json_t *done = s_run ("announce", json_pack ("{s:s}", "text", "deploy; done"));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed",
                      "%s", s_error (done) ? s_error (done) : "");
    json_t *result = json_object_get (done, "result");
    cr_assert_str_eq (
        json_string_value (json_object_get (json_object_get (result, "message"), "text")),
        "deploy; done");
    cr_assert_str_eq (
        json_string_value (json_object_get (
            json_object_get (json_object_get (result, "output"), "message"), "text")),
        "deploy; done");
    cr_assert_null (json_object_get (result, "route"),
                    "the runner's parameters left out");
    cr_assert_null (json_object_get (result, "experimental"));
    json_decref (done);
    //  the rule on core.st2.announcement ran
    done = s_wait_rule ("test.heard");
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    cr_assert_str_eq (s_stdout (done), "heard deploy; done");
    json_decref (done);
    //  StackStorm's pre_run: without the experimental flag, refused
    done = s_run ("muted", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    cr_assert (
        s_error (done) &&
            strstr (s_error (done), "Experimental flag is missing for action test.muted"),
        "%s", s_error (done));
    json_decref (done);
}
