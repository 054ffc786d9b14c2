/*  test_pipeline: the whole pipeline in one process, end to end.

    Every actor (registry, executor, rules, worker, sensor) runs as in
    attuned, over inproc:// with a namespace of its own, a temporary data
    directory and a packs directory holding the core pack and a test pack.
    The test watches the executor's facts and sends external events to the
    rules actor over the reliable link, as any client would.
*/
#include "tests/testing_st2.h"
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include "actors/rules/rules_template.h"

static testing_st2_t s_st2;

static void
s_setup (void)
{
    testing_st2_init (&s_st2, "test_pipeline", "pipe",
                      TESTING_ST2_CORE | TESTING_ST2_SENSOR);
    testing_st2_write (&s_st2, "test/actions/show.yaml",
                       "name: show\nrunner_type: local-shell-cmd\nparameters:\n"
                       "  cmd:\n    type: string\n    immutable: true\n"
                       "    default: printf '%s' \"$ATTUNE_PARAM_TEXT\"\n"
                       "  text:\n    type: string\n    required: true\n");
    testing_st2_write (&s_st2, "test/actions/count.yaml",
                       "name: count\nrunner_type: noop\nparameters:\n"
                       "  n:\n    type: integer\n    required: true\n");
    testing_st2_write (&s_st2, "test/actions/slow.yaml",
                       "name: slow\nrunner_type: local-shell-cmd\ntimeout: 1\n"
                       "parameters:\n  cmd:\n    type: string\n"
                       "    default: sleep 30\n");
    testing_st2_rule (&s_st2, "show", "test.show",
                      "    text: \"{{ trigger.payload.text }}\"\n");
    //  Event text templated into core.local's cmd: the classic injection
    testing_st2_rule (&s_st2, "inject", "core.local",
                      "    cmd: \"echo {{ trigger.payload.text }}\"\n");
    testing_st2_rule (&s_st2, "count", "test.count",
                      "    n: \"{{ trigger.payload.n }}\"\n");
    testing_st2_write (&s_st2, "test/rules/slow.yaml",
                       "name: slow\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
                       "  trigger.payload.kind: {type: equals, pattern: slow}\n"
                       "action:\n  ref: test.slow\n");
}

static void
s_teardown (void)
{
    testing_st2_fini (&s_st2);
}

TestSuite (pipeline, .init = s_setup, .fini = s_teardown, .timeout = 60);

Test (pipeline, interval_rule_runs_echo)
{
    testing_st2_write (
        &s_st2, "test/rules/tick.yaml",
        "name: tick\npack: test\ntrigger:\n  type: core.st2.IntervalTimer\n"
        "  parameters:\n    unit: seconds\n    delta: 1\n"
        "action:\n  ref: core.echo\n  parameters:\n    message: hello, world\n");
    testing_st2_start (&s_st2);
    json_t *done = testing_st2_wait (&s_st2, "rule", "test.tick", 8000);
    cr_assert_not_null (done, "no execution of test.tick within 8 s");
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    char *result = json_dumps (json_object_get (done, "result"), JSON_COMPACT);
    cr_assert (strstr (result, "hello, world"), "echo output in the result: %s", result);
    free (result);
    json_decref (done);
}

Test (pipeline, two_timer_rules_with_different_parameters_both_fire)
{
    testing_st2_write (&s_st2, "test/rules/one.yaml",
                       "name: one\npack: test\ntrigger:\n  type: core.st2.IntervalTimer\n"
                       "  parameters:\n    unit: seconds\n    delta: 1\n"
                       "action:\n  ref: core.noop\n");
    testing_st2_write (&s_st2, "test/rules/two.yaml",
                       "name: two\npack: test\ntrigger:\n  type: core.st2.IntervalTimer\n"
                       "  parameters:\n    unit: seconds\n    delta: 2\n"
                       "action:\n  ref: core.noop\n");
    testing_st2_start (&s_st2);
    bool one = false, two = false;
    int64_t deadline = zclock_mono () + 10000;
    while (!(one && two) && zclock_mono () < deadline) {
        proto_envelope_t *fact = bus_sub_recv (s_st2.facts, NULL, 100);
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
    testing_st2_start (&s_st2);
    char file[PATH_MAX + 32];
    snprintf (file, sizeof file, "%s/PWNED", s_st2.root);
    char text[8 * PATH_MAX];
    snprintf (text, sizeof text,
              "$(touch %s) `touch %s` ; touch %s && touch %s | touch %s\ntouch %s '\"",
              file, file, file, file, file, file);
    testing_st2_event (&s_st2, json_pack ("{s:s, s:s}", "kind", "show", "text", text));
    json_t *done = testing_st2_wait (&s_st2, "action", "test.show", 10000);
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
    testing_st2_start (&s_st2);
    char file[PATH_MAX + 32];
    snprintf (file, sizeof file, "%s/PWNED", s_st2.root);
    char text[8 * PATH_MAX];
    snprintf (text, sizeof text,
              "$(touch %s) `touch %s` ; touch %s && touch %s | touch %s", file, file,
              file, file, file);
    testing_st2_event (&s_st2, json_pack ("{s:s, s:s}", "kind", "inject", "text", text));
    json_t *done = testing_st2_wait (&s_st2, "action", "core.local", 10000);
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
    snprintf (dir, sizeof dir, "%s/find", s_st2.root);
    cr_assert_eq (mkdir (dir, 0750), 0);
    testing_write (dir, "file", "x");
    char *params = zsys_sprintf (
        "    cmd: \"find %s -name {{ trigger.payload.msg }}\"\n    cwd: %s\n", dir, dir);
    testing_st2_rule (&s_st2, "find", "core.local", params);
    zstr_free (&params);
    testing_st2_start (&s_st2);
    char pwned[PATH_MAX + 64];
    snprintf (pwned, sizeof pwned, "%s/PWNED", dir);
    const char *messages[] = {"x -o -exec touch PWNED ;", "x -o -exec touch PWNED \\;",
                              "x$(touch PWNED)", "x' -o -exec touch PWNED ';'"};
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        testing_st2_event (&s_st2,
                           json_pack ("{s:s, s:s}", "kind", "find", "msg", messages[i]));
        json_t *done = testing_st2_wait (&s_st2, "action", "core.local", 10000);
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
    testing_st2_start (&s_st2);
    testing_st2_event (&s_st2, json_pack ("{s:s, s:i}", "kind", "count", "n", 42));
    json_t *done = testing_st2_wait (&s_st2, "action", "test.count", 10000);
    cr_assert_not_null (done);
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    json_decref (done);

    //  A string that is not an integer: the execution fails with the reason
    testing_st2_event (&s_st2, json_pack ("{s:s, s:s}", "kind", "count", "n", "many"));
    done = testing_st2_wait (&s_st2, "action", "test.count", 10000);
    cr_assert_not_null (done);
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    char *result = json_dumps (json_object_get (done, "result"), JSON_COMPACT);
    cr_assert (strstr (result, "'n'"), "the reason names the parameter: %s", result);
    free (result);
    json_decref (done);
}

Test (pipeline, action_timeout)
{
    testing_st2_start (&s_st2);
    int64_t start = zclock_mono ();
    testing_st2_event (&s_st2, json_pack ("{s:s}", "kind", "slow"));
    json_t *done = testing_st2_wait (&s_st2, "action", "test.slow", 15000);
    cr_assert_not_null (done);
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "timeout");
    cr_assert_lt (zclock_mono () - start, 8000, "a 1 s timeout ends it in seconds");
    json_decref (done);
}

Test (pipeline, python_and_shell_script_runners)
{
    testing_st2_write (
        &s_st2, "test/actions/script.yaml",
        "name: script\nrunner_type: local-shell-script\nentry_point: script.sh\n"
        "parameters:\n  word:\n    type: string\n");
    testing_st2_write (&s_st2, "test/actions/script.sh",
                       "#!/bin/sh\nprintf '%s|' \"$ATTUNE_PARAM_WORD\"\ncat\n");
    char script[PATH_MAX + 64];
    snprintf (script, sizeof script, "%s/test/actions/script.sh", s_st2.packs);
    cr_assert_eq (chmod (script, 0755), 0);
    testing_st2_rule (&s_st2, "python", "core.python_echo",
                      "    message: \"{{ trigger.payload.text }}\"\n    count: 2\n");
    testing_st2_rule (&s_st2, "script", "test.script",
                      "    word: \"{{ trigger.payload.text }}\"\n");
    testing_st2_start (&s_st2);
    testing_st2_event (&s_st2,
                       json_pack ("{s:s, s:s}", "kind", "python", "text", "héllo $(x)"));
    json_t *done = testing_st2_wait (&s_st2, "action", "core.python_echo", 10000);
    cr_assert_not_null (done);
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    json_t *result = json_object_get (json_object_get (done, "result"), "result");
    cr_assert_str_eq (json_string_value (json_object_get (result, "message")),
                      "héllo $(x)");
    cr_assert_eq (json_array_size (json_object_get (result, "repeated")), 2);
    json_decref (done);

    testing_st2_event (&s_st2, json_pack ("{s:s, s:s}", "kind", "script", "text", "w;1"));
    done = testing_st2_wait (&s_st2, "action", "test.script", 10000);
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
        bus_topology_connect (s_st2.topology, "registry.commands"), "admin@test", NULL);
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
        proto_envelope_t *fact = bus_sub_recv (s_st2.facts, NULL, 50);
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
    testing_st2_write (
        &s_st2, "test/rules/tick.yaml",
        "name: tick\npack: test\ntrigger:\n  type: core.st2.IntervalTimer\n"
        "  parameters:\n    unit: seconds\n    delta: 1\n"
        "action:\n  ref: core.noop\n");
    testing_st2_start (&s_st2);
    json_t *done = testing_st2_wait (&s_st2, "rule", "test.tick", 8000);
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
    testing_st2_write (&s_st2, "test/rules/cron.yaml",
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
    testing_st2_write (&s_st2, "test/rules/once.yaml", rule);
    testing_st2_start (&s_st2);
    int cron = 0, once = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline) {
        proto_envelope_t *fact = bus_sub_recv (s_st2.facts, NULL, 50);
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
