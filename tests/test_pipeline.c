/*  test_pipeline: the whole pipeline in one process, end to end.

    Every actor (registry, executor, rules, worker, sensor) runs as in
    attuned, over inproc:// with a namespace of its own, a temporary data
    directory and a packs directory holding the core pack and a test pack.
    The test watches the executor's facts and sends external events to the
    rules actor over the reliable link, as any client would.
*/
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
#include "actors/rules/rules_template.h"
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
    testing_tmpdir (s_root, sizeof s_root, "test_pipeline");
    snprintf (s_packs, sizeof s_packs, "%s/packs", s_root);
    snprintf (s_data, sizeof s_data, "%s/data", s_root);
    mkdir (s_packs, 0750);
    char core[PATH_MAX + 32];
    snprintf (core, sizeof core, "%s/core", s_packs);
    cr_assert_eq (symlink (ATTUNE_SOURCE_DIR "/packs/core", core), 0);
    s_write ("test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    s_write ("test/triggers/hook.yaml", "name: hook\npack: test\n");
    s_write ("test/actions/show.yaml",
             "name: show\nrunner_type: local-shell-cmd\nparameters:\n"
             "  cmd:\n    type: string\n    immutable: true\n"
             "    default: printf '%s' \"$ATTUNE_PARAM_TEXT\"\n"
             "  text:\n    type: string\n    required: true\n");
    s_write ("test/actions/count.yaml", "name: count\nrunner_type: noop\nparameters:\n"
                                        "  n:\n    type: integer\n    required: true\n");
    s_write ("test/actions/slow.yaml",
             "name: slow\nrunner_type: local-shell-cmd\ntimeout: 1\n"
             "parameters:\n  cmd:\n    type: string\n"
             "    default: sleep 30\n");
    s_write ("test/rules/show.yaml",
             "name: show\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
             "  trigger.payload.kind: {type: equals, pattern: show}\n"
             "action:\n  ref: test.show\n  parameters:\n    text: \"{{ "
             "trigger.payload.text }}\"\n");
    //  Event text templated into core.local's cmd: the classic injection
    s_write ("test/rules/inject.yaml",
             "name: inject\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
             "  trigger.payload.kind: {type: equals, pattern: inject}\n"
             "action:\n  ref: core.local\n  parameters:\n    cmd: \"echo {{ "
             "trigger.payload.text }}\"\n");
    s_write ("test/rules/count.yaml",
             "name: count\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
             "  trigger.payload.kind: {type: equals, pattern: count}\n"
             "action:\n  ref: test.count\n  parameters:\n    n: \"{{ trigger.payload.n "
             "}}\"\n");
    s_write ("test/rules/slow.yaml",
             "name: slow\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
             "  trigger.payload.kind: {type: equals, pattern: slow}\n"
             "action:\n  ref: test.slow\n");
    char ns[64];
    snprintf (ns, sizeof ns, "pipe-%d-%d", getpid (), ++s_counter);
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

TestSuite (pipeline, .init = s_setup, .fini = s_teardown, .timeout = 60);

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

Test (pipeline, interval_rule_runs_echo)
{
    s_write ("test/rules/tick.yaml",
             "name: tick\npack: test\ntrigger:\n  type: core.st2.IntervalTimer\n"
             "  parameters:\n    unit: seconds\n    delta: 1\n"
             "action:\n  ref: core.echo\n  parameters:\n    message: hello, world\n");
    s_start ();
    json_t *done = s_wait_terminal ("rule", "test.tick", 8000);
    cr_assert_not_null (done, "no execution of test.tick within 8 s");
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    char *result = json_dumps (json_object_get (done, "result"), JSON_COMPACT);
    cr_assert (strstr (result, "hello, world"), "echo output in the result: %s", result);
    free (result);
    json_decref (done);
}

Test (pipeline, two_timer_rules_with_different_parameters_both_fire)
{
    s_write ("test/rules/one.yaml",
             "name: one\npack: test\ntrigger:\n  type: core.st2.IntervalTimer\n"
             "  parameters:\n    unit: seconds\n    delta: 1\n"
             "action:\n  ref: core.noop\n");
    s_write ("test/rules/two.yaml",
             "name: two\npack: test\ntrigger:\n  type: core.st2.IntervalTimer\n"
             "  parameters:\n    unit: seconds\n    delta: 2\n"
             "action:\n  ref: core.noop\n");
    s_start ();
    bool one = false, two = false;
    int64_t deadline = zclock_mono () + 10000;
    while (!(one && two) && zclock_mono () < deadline) {
        proto_envelope_t *fact = bus_sub_recv (s_facts, NULL, 100);
        if (!fact)
            continue;
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        const char *rule = json_string_value (json_object_get (payload, "rule"));
        const char *status = json_string_value (json_object_get (payload, "status"));
        if (rule && status && streq (status, "completed")) {
            one |= streq (rule, "test.one");
            two |= streq (rule, "test.two");
        }
        json_decref (payload);
        proto_envelope_destroy (&fact);
    }
    cr_assert (one, "the 1 s rule fired");
    cr_assert (two, "the 2 s rule fired");
}

Test (pipeline, shell_parameters_are_data_never_code)
{
    s_start ();
    char file[PATH_MAX + 32];
    snprintf (file, sizeof file, "%s/PWNED", s_root);
    char text[8 * PATH_MAX];
    snprintf (text, sizeof text,
              "$(touch %s) `touch %s` ; touch %s && touch %s | touch %s\ntouch %s '\"",
              file, file, file, file, file, file);
    s_event (json_pack ("{s:s, s:s}", "kind", "show", "text", text));
    json_t *done = s_wait_terminal ("action", "test.show", 10000);
    cr_assert_not_null (done);
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    const char *out =
        json_string_value (json_object_get (json_object_get (done, "result"), "stdout"));
    cr_assert_not_null (out);
    cr_assert_str_eq (out, text, "the parameter arrives unchanged, as data");
    struct stat st;
    cr_assert_neq (stat (file, &st), 0, "%s must never be created", file);
    json_decref (done);
}

Test (pipeline, a_cmd_parameter_is_never_parsed_by_a_shell)
{
    //  core.local's cmd comes from the caller (here, from an event): it runs
    //  as words, with no shell, so the event's text cannot become code
    s_start ();
    char file[PATH_MAX + 32];
    snprintf (file, sizeof file, "%s/PWNED", s_root);
    char text[8 * PATH_MAX];
    snprintf (text, sizeof text,
              "$(touch %s) `touch %s` ; touch %s && touch %s | touch %s", file, file,
              file, file, file);
    s_event (json_pack ("{s:s, s:s}", "kind", "inject", "text", text));
    json_t *done = s_wait_terminal ("action", "core.local", 10000);
    cr_assert_not_null (done);
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    const char *out =
        json_string_value (json_object_get (json_object_get (done, "result"), "stdout"));
    cr_assert_not_null (out);
    cr_assert_not_null (strstr (out, "$(touch"), "echo printed the text: %s", out);
    cr_assert_not_null (strstr (out, "; touch"), "echo printed the text: %s", out);
    struct stat st;
    cr_assert_neq (stat (file, &st), 0, "%s must never be created", file);
    json_decref (done);
}

//  Run `cmd` as a shell command will run it (/bin/sh -c) in `dir`; its status.
static int
s_sh_in (const char *dir, const char *cmd)
{
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        int null = open ("/dev/null", O_WRONLY);
        dup2 (null, 1);
        dup2 (null, 2);
        if (chdir (dir) == 0)
            execl ("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit (127);
    }
    int status = 0;
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

Test (pipeline, event_text_in_a_cmd_template_never_adds_arguments)
{
    //  Issue 14, item 6: core.local's cmd templated from an event. Each
    //  message would add find arguments (-exec touch PWNED) if it were
    //  inserted as it is: with the worker's word splitting (now) or under
    //  /bin/sh -c (the StackStorm semantics a shell cmd will have).
    char dir[PATH_MAX + 32];
    snprintf (dir, sizeof dir, "%s/find", s_root);
    cr_assert_eq (mkdir (dir, 0750), 0);
    testing_write (dir, "file", "x");
    char *rule = zsys_sprintf (
        "name: find\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
        "  trigger.payload.kind: {type: equals, pattern: find}\n"
        "action:\n  ref: core.local\n  parameters:\n"
        "    cmd: \"find %s -name {{ trigger.payload.msg }}\"\n    cwd: %s\n",
        dir, dir);
    s_write ("test/rules/find.yaml", rule);
    zstr_free (&rule);
    s_start ();
    char pwned[PATH_MAX + 64];
    snprintf (pwned, sizeof pwned, "%s/PWNED", dir);
    const char *messages[] = {"x -o -exec touch PWNED ;", "x -o -exec touch PWNED \\;",
                              "x$(touch PWNED)", "x' -o -exec touch PWNED ';'"};
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        s_event (json_pack ("{s:s, s:s}", "kind", "find", "msg", messages[i]));
        json_t *done = s_wait_terminal ("action", "core.local", 10000);
        cr_assert_not_null (done, "%s: no end", messages[i]);
        cr_expect_str_eq (json_string_value (json_object_get (done, "status")),
                          "completed", "%s", messages[i]);
        const char *cmd = json_string_value (
            json_object_get (json_object_get (done, "parameters"), "cmd"));
        cr_assert_not_null (cmd);
        char *word = rules_template_shell_quote (messages[i]);
        char *expect = zsys_sprintf ("find %s -name %s", dir, word);
        free (word);
        cr_expect_str_eq (cmd, expect, "the message is one quoted word");
        zstr_free (&expect);
        struct stat st;
        cr_assert_neq (stat (pwned, &st), 0, "%s: ran as words, created PWNED",
                       messages[i]);
        cr_expect_eq (s_sh_in (dir, cmd), 0, "sh -c %s", cmd);
        cr_assert_neq (stat (pwned, &st), 0, "%s: under sh -c, created PWNED",
                       messages[i]);
        json_decref (done);
    }
}

Test (pipeline, template_keeps_types_and_invalid_parameters_fail)
{
    s_start ();
    s_event (json_pack ("{s:s, s:i}", "kind", "count", "n", 42));
    json_t *done = s_wait_terminal ("action", "test.count", 10000);
    cr_assert_not_null (done);
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    json_decref (done);

    //  A string that is not an integer: the execution fails with the reason
    s_event (json_pack ("{s:s, s:s}", "kind", "count", "n", "many"));
    done = s_wait_terminal ("action", "test.count", 10000);
    cr_assert_not_null (done);
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    char *result = json_dumps (json_object_get (done, "result"), JSON_COMPACT);
    cr_assert (strstr (result, "'n'"), "the reason names the parameter: %s", result);
    free (result);
    json_decref (done);
}

Test (pipeline, action_timeout)
{
    s_start ();
    int64_t start = zclock_mono ();
    s_event (json_pack ("{s:s}", "kind", "slow"));
    json_t *done = s_wait_terminal ("action", "test.slow", 15000);
    cr_assert_not_null (done);
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "timeout");
    cr_assert_lt (zclock_mono () - start, 8000, "a 1 s timeout ends it in seconds");
    json_decref (done);
}

Test (pipeline, python_and_shell_script_runners)
{
    s_write ("test/actions/script.yaml",
             "name: script\nrunner_type: local-shell-script\nentry_point: script.sh\n"
             "parameters:\n  word:\n    type: string\n");
    s_write ("test/actions/script.sh",
             "#!/bin/sh\nprintf '%s|' \"$ATTUNE_PARAM_WORD\"\ncat\n");
    char script[PATH_MAX + 64];
    snprintf (script, sizeof script, "%s/test/actions/script.sh", s_packs);
    cr_assert_eq (chmod (script, 0755), 0);
    s_write ("test/rules/python.yaml",
             "name: python\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
             "  trigger.payload.kind: {type: equals, pattern: python}\n"
             "action:\n  ref: core.python_echo\n  parameters:\n"
             "    message: \"{{ trigger.payload.text }}\"\n    count: 2\n");
    s_write ("test/rules/script.yaml",
             "name: script\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
             "  trigger.payload.kind: {type: equals, pattern: script}\n"
             "action:\n  ref: test.script\n  parameters:\n"
             "    word: \"{{ trigger.payload.text }}\"\n");
    s_start ();
    s_event (json_pack ("{s:s, s:s}", "kind", "python", "text", "héllo $(x)"));
    json_t *done = s_wait_terminal ("action", "core.python_echo", 10000);
    cr_assert_not_null (done);
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    json_t *result = json_object_get (json_object_get (done, "result"), "result");
    cr_assert_str_eq (json_string_value (json_object_get (result, "message")),
                      "héllo $(x)");
    cr_assert_eq (json_array_size (json_object_get (result, "repeated")), 2);
    json_decref (done);

    s_event (json_pack ("{s:s, s:s}", "kind", "script", "text", "w;1"));
    done = s_wait_terminal ("action", "test.script", 10000);
    cr_assert_not_null (done);
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    const char *out =
        json_string_value (json_object_get (json_object_get (done, "result"), "stdout"));
    cr_assert_str_eq (out, "w;1|{\"word\":\"w;1\"}",
                      "argument-free script: env and stdin");
    json_decref (done);
}

static void
s_registry_command (const char *type, const char *ref)
{
    bus_link_t *link = bus_link_new (
        bus_topology_connect (s_topology, "registry.commands"), "admin@test", NULL);
    proto_envelope_t *command = proto_envelope_new (type, "admin@test");
    json_t *payload = json_pack ("{s:s}", "ref", ref);
    proto_envelope_set_payload_json (command, payload, NULL);
    json_decref (payload);
    cr_assert_eq (bus_link_send (link, &command), 0);
    cr_assert_eq (bus_link_flush (link, 5000), 0, "%s acknowledged", type);
    bus_link_destroy (&link);
}

//  Completed executions of `rule` seen during `ms`
static int
s_count_completions (const char *rule, int ms)
{
    int count = 0;
    int64_t deadline = zclock_mono () + ms;
    while (zclock_mono () < deadline) {
        proto_envelope_t *fact = bus_sub_recv (s_facts, NULL, 50);
        if (!fact)
            continue;
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        const char *r = json_string_value (json_object_get (payload, "rule"));
        const char *status = json_string_value (json_object_get (payload, "status"));
        if (r && status && streq (r, rule) && streq (status, "completed"))
            count++;
        json_decref (payload);
        proto_envelope_destroy (&fact);
    }
    return count;
}

Test (pipeline, timers_follow_rule_changes_without_restart)
{
    s_write ("test/rules/tick.yaml",
             "name: tick\npack: test\ntrigger:\n  type: core.st2.IntervalTimer\n"
             "  parameters:\n    unit: seconds\n    delta: 1\n"
             "action:\n  ref: core.noop\n");
    s_start ();
    json_t *done = s_wait_terminal ("rule", "test.tick", 8000);
    cr_assert_not_null (done, "the timer runs");
    json_decref (done);
    s_registry_command ("registry.rule.disable", "test.tick");
    s_count_completions ("test.tick", 1000); //  what was already under way
    cr_assert_eq (s_count_completions ("test.tick", 2500), 0,
                  "disabled: the timer stopped");
    s_registry_command ("registry.rule.enable", "test.tick");
    cr_assert_geq (s_count_completions ("test.tick", 3000), 1, "enabled again: it fires");
    s_registry_command ("registry.rule.delete", "test.tick");
    s_count_completions ("test.tick", 1000);
    cr_assert_eq (s_count_completions ("test.tick", 2500), 0,
                  "deleted: the timer is gone");
}

Test (pipeline, cron_and_date_timers)
{
    //  Every second by cron (six fields: seconds first), and once by date
    s_write ("test/rules/cron.yaml",
             "name: cron\npack: test\ntrigger:\n  type: core.st2.CronTimer\n"
             "  parameters:\n    second: \"*\"\n"
             "action:\n  ref: core.noop\n");
    time_t soon = time (NULL) + 2;
    struct tm tm;
    gmtime_r (&soon, &tm);
    char date[64], rule[512];
    strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf (rule, sizeof rule,
              "name: once\npack: test\ntrigger:\n  type: core.st2.DateTimer\n"
              "  parameters:\n    date: \"%s\"\naction:\n  ref: core.noop\n",
              date);
    s_write ("test/rules/once.yaml", rule);
    s_start ();
    int cron = 0, once = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline) {
        proto_envelope_t *fact = bus_sub_recv (s_facts, NULL, 50);
        if (!fact)
            continue;
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        const char *r = json_string_value (json_object_get (payload, "rule"));
        const char *status = json_string_value (json_object_get (payload, "status"));
        if (r && status && streq (status, "completed")) {
            cron += streq (r, "test.cron");
            once += streq (r, "test.once");
        }
        json_decref (payload);
        proto_envelope_destroy (&fact);
    }
    cr_assert_geq (cron, 3, "cron fires every second (%d in 5 s)", cron);
    cr_assert_eq (once, 1, "the date timer (%s) fired once", date);
    cr_assert_eq (s_count_completions ("test.once", 2000), 0, "a date timer fires once");
}
