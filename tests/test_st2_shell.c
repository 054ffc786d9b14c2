/*  test_st2_shell: StackStorm's shell runners end to end (registry, rules,
    executor, worker in one process): local-shell-cmd runs `cmd` with bash
    -c while event data a rule inserts stays one quoted word; action names
    with dots; local-shell-script's positional and --name=value arguments;
    results as StackStorm's. */
#include "tests/testing.h"
#include <limits.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "actors/actor.h"
#include "actors/executor/executor.h"
#include "actors/registry/registry.h"
#include "actors/rules/rules.h"
#include "actors/sensor/sensor.h"
#include "actors/worker/worker.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"

static char s_root[PATH_MAX - 256];
static char s_packs[PATH_MAX];
static char s_data[PATH_MAX];
static bus_topology_t *s_topology;
static zactor_t *s_actors[5];
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
    testing_tmpdir (s_root, sizeof s_root, "test_st2_shell");
    snprintf (s_packs, sizeof s_packs, "%s/packs", s_root);
    snprintf (s_data, sizeof s_data, "%s/data", s_root);
    mkdir (s_packs, 0750);
    char core[PATH_MAX + 32];
    snprintf (core, sizeof core, "%s/core", s_packs);
    cr_assert_eq (symlink (ATTUNE_SOURCE_DIR "/packs/core", core), 0);
    s_write ("test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    s_write ("test/triggers/hook.yaml", "name: hook\npack: test\n");
    char ns[64];
    snprintf (ns, sizeof ns, "st2sh-%d-%d", getpid (), ++s_counter);
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
    zactor_fn *fns[5] = {registry_actor, executor_actor, rules_actor, worker_actor,
                         sensor_actor};
    for (int i = 0; i < 5; i++) {
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
    for (int i = 4; i >= 0; i--)
        zactor_destroy (&s_actors[i]);
    bus_sub_destroy (&s_facts);
    bus_topology_destroy (&s_topology);
    testing_rmtree (s_root);
}

TestSuite (st2_shell, .init = s_setup, .fini = s_teardown, .timeout = 60);

static void
s_event (json_t *payload)
{
    proto_envelope_t *event = proto_envelope_new ("event.create", "client@test");
    json_t *body = json_pack ("{s:s, s:{}, s:o}", "trigger", "test.hook",
                              "trigger_parameters", "payload", payload);
    cr_assert_eq (proto_envelope_set_payload_json (event, body, NULL), PROTO_OK);
    json_decref (body);
    cr_assert_eq (bus_link_send (s_link, &event), 0);
}

//  Wait for a terminal execution fact whose payload field `key` equals
//  `value`; returns its payload (caller owns it) or NULL after timeout_ms.
static json_t *
s_wait_terminal (const char *key, const char *value, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        bus_link_handle (s_link);
        bus_link_tick (s_link);
        proto_envelope_t *fact = bus_sub_recv (s_facts, NULL, 50);
        if (!fact)
            continue;
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        proto_envelope_destroy (&fact);
        const char *status = json_string_value (json_object_get (payload, "status"));
        const char *field = json_string_value (json_object_get (payload, key));
        if (status && field && streq (field, value) &&
            (streq (status, "completed") || streq (status, "failed") ||
             streq (status, "timeout") || streq (status, "cancelled") ||
             streq (status, "abandoned")))
            return payload;
        json_decref (payload);
    }
    return NULL;
}

//  A rule of the test pack: on events of `kind`, run `ref` with `params`
//  (YAML lines, indented by four).
static void
s_rule (const char *kind, const char *ref, const char *params)
{
    char path[128], text[4096];
    snprintf (path, sizeof path, "test/rules/%s.yaml", kind);
    snprintf (text, sizeof text,
              "name: %s\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
              "  trigger.payload.kind: {type: equals, pattern: %s}\n"
              "action:\n  ref: %s\n  parameters:\n%s",
              kind, kind, ref, params);
    s_write (path, text);
}

//  The result of the execution of rule test.`kind` after an event.
static json_t *
s_run (const char *kind, json_t *payload)
{
    json_object_set_new (payload, "kind", json_string (kind));
    s_event (payload);
    char rule[128];
    snprintf (rule, sizeof rule, "test.%s", kind);
    json_t *done = s_wait_terminal ("rule", rule, 10000);
    cr_assert_not_null (done, "no end of %s", rule);
    return done;
}

Test (st2_shell, event_data_in_a_cmd_runs_nothing_but_the_intended_command)
{
    char marker[PATH_MAX + 16];
    snprintf (marker, sizeof marker, "%s/pwned", s_root);
    //  the author's pipe and `;` are shell; the event's text is one word
    s_rule ("inject", "core.local",
            "    cmd: \"printf '%s|' {{ trigger.payload.text }} | tr a-z A-Z; echo "
            "end\"\n");
    s_start ();
    char text[PATH_MAX * 6];
    snprintf (text, sizeof text,
              "a $(touch %s) `touch %s` ; touch %s\ntouch %s && touch %s | x '\" \\",
              marker, marker, marker, marker, marker);
    json_t *done = s_run ("inject", json_pack ("{s:s}", "text", text));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    json_t *result = json_object_get (done, "result");
    const char *out = json_string_value (json_object_get (result, "stdout"));
    cr_assert_not_null (out);
    //  one argument, upper-cased by the author's pipe, then the author's echo
    char expect[PATH_MAX * 6 + 16];
    size_t n = 0;
    for (const char *p = text; *p; p++)
        expect[n++] = (char)toupper ((unsigned char)*p);
    snprintf (expect + n, sizeof expect - n, "|end");
    cr_assert_str_eq (out, expect);
    struct stat st;
    cr_assert_neq (stat (marker, &st), 0, "the event's text ran nothing");
    cr_assert (json_is_true (json_object_get (result, "succeeded")));
    cr_assert (json_is_false (json_object_get (result, "failed")));
    cr_assert_eq (json_integer_value (json_object_get (result, "return_code")), 0);
    json_decref (done);
}

Test (st2_shell, core_local_is_bash_and_results_are_stackstorms)
{
    s_rule ("local", "core.local",
            "    cmd: \"echo hi; echo '{\\\"a\\\": [1, 2]}' | cat\"\n");
    s_rule ("json", "core.local",
            "    cmd: \"echo '{\\\"a\\\": [1, 2]}'; echo oops >&2; exit 3\"\n");
    s_start ();
    json_t *done = s_run ("local", json_object ());
    json_t *result = json_object_get (done, "result");
    cr_assert_str_eq (json_string_value (json_object_get (result, "stdout")),
                      "hi\n{\"a\": [1, 2]}", "not JSON as a whole: kept as text");
    json_decref (done);
    done = s_run ("json", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    result = json_object_get (done, "result");
    cr_assert_eq (
        json_array_size (json_object_get (json_object_get (result, "stdout"), "a")), 2,
        "stdout that is JSON is parsed");
    cr_assert_str_eq (json_string_value (json_object_get (result, "stderr")), "oops");
    cr_assert_eq (json_integer_value (json_object_get (result, "return_code")), 3);
    cr_assert (json_is_true (json_object_get (result, "failed")));
    cr_assert (json_is_false (json_object_get (result, "succeeded")));
    json_decref (done);
}

Test (st2_shell, dotted_names_and_script_arguments_as_stackstorm)
{
    //  chat.postMessage: the ref test.chat.postMessage splits at the first dot
    s_write ("test/actions/chat.postMessage.yaml",
             "name: chat.postMessage\nrunner_type: local-shell-script\n"
             "entry_point: args.sh\nparameters:\n"
             "  first:\n    type: string\n    position: 0\n"
             "  flag:\n    type: boolean\n    default: true\n"
             "  quiet:\n    type: boolean\n    default: false\n"
             "  name:\n    type: string\n"
             "  empty:\n    type: string\n    default: ''\n"
             "  n:\n    type: integer\n    default: 3\n"
             "  third:\n    type: array\n    position: 2\n"
             "  second:\n    type: boolean\n    position: 1\n"
             "  timeout:\n    default: 20\n");
    s_write ("test/actions/args.sh", "#!/bin/sh\nprintf '<%s>' \"$@\"\n");
    char script[PATH_MAX + 64];
    snprintf (script, sizeof script, "%s/test/actions/args.sh", s_packs);
    cr_assert_eq (chmod (script, 0755), 0);
    s_rule ("args", "test.chat.postMessage",
            "    first: \"{{ trigger.payload.first }}\"\n    name: x y\n"
            "    second: true\n    third: [p, q]\n");
    s_start ();
    json_t *done = s_run ("args", json_pack ("{s:s}", "first", "a b;$(c)"));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    cr_assert_str_eq (json_string_value (json_object_get (done, "action")),
                      "test.chat.postMessage");
    json_t *result = json_object_get (done, "result");
    //  named (declaration order; true alone, false and "" left out), then
    //  positional in order (booleans 1/0, lists joined with ','); the
    //  runner's parameters (timeout, kwarg_op ...) are not arguments
    cr_assert_str_eq (json_string_value (json_object_get (result, "stdout")),
                      "<--flag><--name=x y><--n=3><a b;$(c)><1><p,q>");
    json_decref (done);
}

Test (st2_shell, sudo_password_reaches_sudo_on_stdin_only)
{
    //  a stand-in sudo first on PATH: records what it was given, then runs
    //  the command after "--" with the rest of stdin, as sudo -S does
    char bin[PATH_MAX], script[PATH_MAX * 4];
    snprintf (bin, sizeof bin, "%s/bin", s_root);
    mkdir (bin, 0750);
    snprintf (script, sizeof script,
              "#!/bin/sh\nIFS= read -r password\n"
              "printf '%%s' \"$password\" > '%s/password'\n"
              "printf '%%s\\n' \"$*\" > '%s/argv'\n"
              "while [ \"$#\" -gt 0 ] && [ \"$1\" != \"--\" ]; do shift; done\n"
              "shift\nexec \"$@\"\n",
              s_root, s_root);
    testing_write (bin, "sudo", script);
    char sudo[PATH_MAX + 8];
    snprintf (sudo, sizeof sudo, "%s/sudo", bin);
    cr_assert_eq (chmod (sudo, 0755), 0);
    char path[PATH_MAX * 2];
    snprintf (path, sizeof path, "%s:%s", bin,
              getenv ("PATH") ? getenv ("PATH") : "/bin");
    setenv ("PATH", path, 1);
    char rule[PATH_MAX * 2];
    snprintf (rule, sizeof rule,
              "    cmd: \"env > %s/env; cat\"\n    sudo_password: \"pw-S3cret 'x\"\n",
              s_root);
    s_rule ("sudo", "core.local_sudo", rule);
    s_start ();
    json_t *done = s_run ("sudo", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    json_t *result = json_object_get (done, "result");
    cr_assert (json_is_object (json_object_get (result, "stdout")),
               "the command reads the parameters after the password line");
    char file[PATH_MAX + 16];
    snprintf (file, sizeof file, "%s/password", s_root);
    char *text = testing_read (file);
    cr_assert_str_eq (text, "pw-S3cret 'x", "sudo read the password on stdin");
    free (text);
    snprintf (file, sizeof file, "%s/argv", s_root);
    text = testing_read (file);
    cr_assert_eq (strncmp (text, "-S -p  -E -- bash -c env > ", 27), 0, "%s", text);
    cr_assert_null (strstr (text, "S3cret"), "not in argv: %s", text);
    free (text);
    snprintf (file, sizeof file, "%s/env", s_root);
    text = testing_read (file);
    cr_assert_null (strstr (text, "S3cret"), "not in the environment: %s", text);
    free (text);
    text = json_dumps (done, 0);
    cr_assert_null (strstr (text, "S3cret"), "not in the facts: %s", text);
    free (text);
    json_decref (done);
}

Test (st2_shell, a_nodejs_action_gets_json_on_stdin_and_returns_json)
{
    if (access ("/usr/bin/node", X_OK) != 0 && access ("/usr/local/bin/node", X_OK) != 0)
        cr_skip_test ("needs node (Debian's nodejs)");
    s_write ("test/actions/add.yaml",
             "name: add\nrunner_type: nodejs\nentry_point: add.js\nparameters:\n"
             "  a:\n    type: integer\n  b:\n    type: integer\n    default: 2\n");
    s_write ("test/actions/add.js",
             "let t = '';\nprocess.stdin.on('data', d => t += d);\n"
             "process.stdin.on('end', () => {\n  const p = JSON.parse(t);\n"
             "  console.log(JSON.stringify({sum: p.a + p.b, keys: Object.keys(p)}));\n"
             "});\n");
    s_rule ("node", "test.add", "    a: \"{{ trigger.payload.a }}\"\n");
    s_start ();
    json_t *done = s_run ("node", json_pack ("{s:i}", "a", 40));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed",
                      "%s", json_dumps (done, 0));
    json_t *result = json_object_get (json_object_get (done, "result"), "result");
    cr_assert_eq (json_integer_value (json_object_get (result, "sum")), 42);
    //  the action's parameters, not the runner's (env, timeout)
    cr_assert_eq (json_array_size (json_object_get (result, "keys")), 2, "%s",
                  json_dumps (result, 0));
    json_decref (done);
}
