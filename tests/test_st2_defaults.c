/*  test_st2_defaults: Jinja in action parameter defaults, as StackStorm
    renders them when the execution is created (registry, rules, executor,
    worker in one process): StackStorm's own core.echo from the corpus
    (../shared/st2-packs), defaults that read other parameters,
    action_context and config_context, in the order of what reads what;
    a cycle and an undefined name are errors naming them; values given are
    data, never rendered. */
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

#define CORPUS ATTUNE_SHARED_DIR "/st2-packs"

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
    testing_tmpdir (s_root, sizeof s_root, "test_st2_defaults");
    snprintf (s_packs, sizeof s_packs, "%s/packs", s_root);
    snprintf (s_data, sizeof s_data, "%s/data", s_root);
    mkdir (s_packs, 0750);
    s_write ("test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    s_write ("test/triggers/hook.yaml", "name: hook\npack: test\n");
    char ns[64];
    snprintf (ns, sizeof ns, "st2df-%d-%d", getpid (), ++s_counter);
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

TestSuite (st2_defaults, .init = s_setup, .fini = s_teardown, .timeout = 60);

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

Test (st2_defaults, stackstorms_core_echo_renders_its_cmd_with_the_message)
{
    //  StackStorm's own core pack definitions (no scripts needed for echo)
    char command[PATH_MAX * 3];
    snprintf (command, sizeof command, "cp -r '%s/core' '%s/core'", CORPUS, s_packs);
    cr_assert_eq (system (command), 0);
    char marker[PATH_MAX + 16];
    snprintf (marker, sizeof marker, "%s/pwned", s_root);
    s_rule ("echo", "core.echo", "    message: \"{{ trigger.payload.text }}\"\n");
    s_start ();
    json_t *done = s_run ("echo", json_pack ("{s:s}", "text", "hello"));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed",
                      "%s", s_error (done) ? s_error (done) : "");
    cr_assert_str_eq (s_stdout (done), "hello");
    json_decref (done);
    //  the message is one word inside the author's "...", whatever it holds
    char text[PATH_MAX * 3];
    snprintf (text, sizeof text, "a \"$(touch %s)\" `touch %s`; {{ x }}", marker, marker);
    done = s_run ("echo", json_pack ("{s:s}", "text", text));
    cr_assert_str_eq (s_stdout (done), text);
    struct stat st;
    cr_assert_neq (stat (marker, &st), 0, "the message ran nothing");
    json_decref (done);
}

Test (st2_defaults, defaults_read_parameters_action_and_config_context_in_order)
{
    s_write ("test/config.schema.yaml",
             "api_url:\n  type: string\n  required: true\n"
             "token:\n  type: string\n  secret: true\n  default: s3cr3t-token\n");
    testing_write (s_root, "configs/test.yaml", "api_url: http://example.test\n");
    //  declared in an order that is not the order of rendering
    s_write ("test/actions/show.yaml",
             "name: show\nrunner_type: local-shell-cmd\nparameters:\n"
             "  cmd:\n    type: string\n    immutable: true\n"
             "    default: 'echo {{ line }} {{ count }}'\n"
             "  line:\n    type: string\n    default: '{{ greeting }} at {{ url }}'\n"
             "  greeting:\n    type: string\n    default: 'hello {{ who }}'\n"
             "  who:\n    type: string\n    default: '{{ action_context.user }}'\n"
             "  url:\n    type: string\n    default: '{{ config_context.api_url }}/v1'\n"
             "  count:\n    type: integer\n    default: '{{ n * 2 }}'\n"
             "  n:\n    type: integer\n    default: 2\n"
             "  label:\n    type: string\n    default: '{{ n }}'\n");
    s_rule ("show", "test.show", "    n: \"{{ trigger.payload.n }}\"\n");
    s_rule ("given", "test.show", "    who: \"{{ trigger.payload.who }}\"\n");
    s_start ();
    json_t *done = s_run ("show", json_pack ("{s:i}", "n", 21));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed",
                      "%s", s_error (done) ? s_error (done) : "");
    cr_assert_str_eq (s_stdout (done), "hello attune at http://example.test/v1 42");
    json_decref (done);
    //  a value given is data: "{{ n }}" from an event is not rendered again
    done = s_run ("given", json_pack ("{s:s}", "who", "{{ n }}"));
    cr_assert_str_eq (s_stdout (done), "hello {{ n }} at http://example.test/v1 4");
    json_decref (done);
}

Test (st2_defaults, a_cycle_and_an_undefined_name_are_errors_naming_them)
{
    s_write ("test/actions/cycle.yaml",
             "name: cycle\nrunner_type: local-shell-cmd\nparameters:\n"
             "  cmd:\n    type: string\n    default: 'echo {{ a }}'\n"
             "  a:\n    type: string\n    default: '{{ b }}'\n"
             "  b:\n    type: string\n    default: 'x{{ a }}'\n");
    s_write ("test/actions/unknown.yaml",
             "name: unknown\nrunner_type: local-shell-cmd\nparameters:\n"
             "  cmd:\n    type: string\n    default: 'echo {{ nope }}'\n"
             "  fine:\n    type: string\n    default: \"{{ nope | default('d') }}\"\n");
    s_write ("test/actions/typed.yaml",
             "name: typed\nrunner_type: local-shell-cmd\nparameters:\n"
             "  cmd:\n    type: string\n    default: 'echo {{ n }}'\n"
             "  n:\n    type: integer\n    default: '{{ word }}'\n"
             "  word:\n    type: string\n    default: abc\n");
    s_rule ("cycle", "test.cycle", "");
    s_rule ("unknown", "test.unknown", "");
    s_rule ("typed", "test.typed", "");
    s_start ();
    json_t *done = s_run ("cycle", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    cr_assert (s_error (done) && strstr (s_error (done), "parameters a, b, cmd"),
               "the cycle named: %s", s_error (done));
    json_decref (done);
    done = s_run ("unknown", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    cr_assert (s_error (done) && strstr (s_error (done), "parameter 'cmd' default") &&
                   strstr (s_error (done), "nope"),
               "the name and the parameter: %s", s_error (done));
    json_decref (done);
    done = s_run ("typed", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    cr_assert (s_error (done) && strstr (s_error (done), "parameter 'n'"), "%s",
               s_error (done));
    json_decref (done);
}

Test (st2_defaults, a_config_secret_only_into_a_secret_parameter)
{
    s_write ("test/config.schema.yaml",
             "token:\n  type: string\n  secret: true\n  default: s3cr3t-token\n");
    s_write (
        "test/actions/leak.yaml",
        "name: leak\nrunner_type: local-shell-cmd\nparameters:\n"
        "  cmd:\n    type: string\n    default: 'echo {{ config_context.token }}'\n");
    s_write ("test/actions/kept.yaml",
             "name: kept\nrunner_type: local-shell-cmd\nparameters:\n"
             "  cmd:\n    type: string\n    default: 'test -n \"$T\" && echo set'\n"
             "  token:\n    type: string\n    secret: true\n"
             "    default: '{{ config_context.token }}'\n");
    s_rule ("leak", "test.leak", "");
    s_rule ("kept", "test.kept", "");
    s_start ();
    json_t *done = s_run ("leak", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    cr_assert (s_error (done) && strstr (s_error (done), "secret: true") &&
                   !strstr (s_error (done), "s3cr3t"),
               "%s", s_error (done));
    char *text = json_dumps (done, 0);
    cr_assert_null (strstr (text, "s3cr3t"), "never in a fact: %s", text);
    free (text);
    json_decref (done);
    done = s_run ("kept", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed",
                      "$T is not set: the token is a parameter, not env");
    text = json_dumps (done, 0);
    cr_assert_null (strstr (text, "s3cr3t"), "never in a fact: %s", text);
    free (text);
    json_decref (done);
}
