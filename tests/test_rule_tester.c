/*  test_rule_tester: `attune rule test` (StackStorm's st2-rule-tester) and
    `attune trigger-instance get|re-emit` against a live attuned.

    The test pack has a trigger test.hook and a rule test.fields on it with
    a StackStorm `search` criterion and a '#'-commented second criterion on
    one path; its action parameters are a template.
*/
#include "tests/testing_api.h"
#include <jansson.h>

#define S_ATTUNE ATTUNE_HELPER_DIR "/attune"

static testing_daemon_t s_daemon;

#define S_RULE                                                                           \
    "name: fields\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"                 \
    "  trigger.fields:\n    type: search\n    condition: any\n    pattern:\n"            \
    "      item.name: {type: equals, pattern: Status}\n"                                 \
    "      item.value: {type: iequals, pattern: approved}\n"                             \
    "  trigger.n#low: {type: gt, pattern: 1}\n"                                          \
    "  trigger.n#high: {type: lt, pattern: 10}\n"                                        \
    "action:\n  ref: test.count\n  parameters:\n    n: \"{{ trigger.n * 2 }}\"\n"

#define S_MATCHING                                                                       \
    "{\"trigger\": \"test.hook\", \"payload\": {\"n\": 5, \"fields\": "                  \
    "[{\"name\": \"Other\", \"value\": \"x\"}, {\"name\": \"Status\", "                  \
    "\"value\": \"Approved\"}]}}"

static void
s_setup (void)
{
    testing_daemon_init (&s_daemon, "test_rule_tester");
    testing_daemon_write (&s_daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (&s_daemon, "test/triggers/hook.yaml",
                          "name: hook\npack: test\n");
    testing_daemon_write (&s_daemon, "test/actions/count.yaml",
                          "name: count\nrunner_type: noop\nparameters:\n"
                          "  n:\n    type: integer\n");
    testing_daemon_write (&s_daemon, "test/rules/fields.yaml", S_RULE);
    testing_daemon_write (&s_daemon, "matching.json", S_MATCHING);
    testing_daemon_write (&s_daemon, "rule.yaml", S_RULE);
    testing_daemon_start (&s_daemon, NULL);
}

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

//  attune --api <daemon> ARGS...; exit code, stdout in *out (caller frees)
static int
s_attune (char **out, const char *const *args)
{
    const char *argv[32] = {S_ATTUNE, "--api", s_daemon.api};
    int argc = 3;
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    char *err = NULL;
    int rc = testing_run (argv, NULL, out, &err, 30000);
    free (err);
    return rc;
}
#define ATTUNE(out, ...) s_attune (out, (const char *const[]){__VA_ARGS__, NULL})

//  The criterion of `result` on `path`, in order
static const json_t *
s_criterion (const json_t *result, size_t index)
{
    return json_array_get (json_object_get (result, "criteria"), index);
}

TestSuite (rule_tester, .init = s_setup, .fini = s_teardown, .timeout = 120);

Test (rule_tester, a_matching_trigger_instance_file_renders_the_parameters)
{
    char *path = zsys_sprintf ("%s/matching.json", s_daemon.packs);
    char *out = NULL;
    int rc = ATTUNE (&out, "--json", "rule", "test", "test.fields", "--trigger-instance",
                     path);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, out);
    json_t *result = json_loads (out, 0, NULL);
    cr_assert_not_null (result, "%s", out);
    cr_expect (json_is_true (json_object_get (result, "matched")));
    cr_expect_eq (json_array_size (json_object_get (result, "criteria")), 3);
    cr_expect_str_eq (
        json_string_value (json_object_get (s_criterion (result, 0), "type")), "search");
    cr_expect_str_eq (
        json_string_value (json_object_get (s_criterion (result, 1), "path")),
        "trigger.n"); //  the '#' comment is off the path
    cr_expect_eq (json_integer_value (
                      json_object_get (json_object_get (result, "parameters"), "n")),
                  10);
    json_decref (result);
    free (out);
    free (path);
}

Test (rule_tester, a_stored_event_that_fails_one_criterion)
{
    char *out = NULL;
    int rc = ATTUNE (&out, "event", "publish", "test.hook",
                     "{\"n\": 50, \"fields\": [{\"name\": \"Status\", \"value\": "
                     "\"approved\"}]}");
    cr_assert_eq (rc, 0);
    char id[64];
    snprintf (id, sizeof id, "%.36s", out);
    free (out);
    rc = ATTUNE (&out, "rule", "test", "test.fields", "--event", id);
    cr_expect_eq (rc, 1, "a rule that does not match exits 1: %s", out);
    cr_expect (strstr (out, "does NOT match"), "%s", out);
    cr_expect (strstr (out, "FAIL trigger.n: 50 lt 10"), "%s", out);
    cr_expect (strstr (out, "ok   trigger.fields"), "%s", out);
    cr_expect_null (strstr (out, "parameters"), "no parameters when it does not match");
    free (out);
    //  The event as StackStorm's trigger instance, and re-emitted as a new one
    rc = ATTUNE (&out, "--json", "trigger-instance", "get", id);
    cr_assert_eq (rc, 0, "%s", out);
    json_t *event = json_loads (out, 0, NULL);
    cr_expect_str_eq (json_string_value (json_object_get (event, "trigger")),
                      "test.hook");
    free (out);
    rc = ATTUNE (&out, "trigger-instance", "re-emit", id);
    cr_assert_eq (rc, 0, "%s", out);
    cr_expect_neq (strncmp (out, id, 36), 0, "re-emit makes a new event");
    char again[64];
    snprintf (again, sizeof again, "%.36s", out);
    free (out);
    rc = ATTUNE (&out, "--json", "event", "get", again);
    cr_assert_eq (rc, 0, "%s", out);
    json_t *copy = json_loads (out, 0, NULL);
    cr_expect (json_equal (json_object_get (copy, "payload"),
                           json_object_get (event, "payload")),
               "%s", out);
    json_decref (copy);
    json_decref (event);
    free (out);
}

Test (rule_tester, a_rule_file_and_bad_input)
{
    char *rule = zsys_sprintf ("%s/rule.yaml", s_daemon.packs);
    char *matching = zsys_sprintf ("%s/matching.json", s_daemon.packs);
    char *out = NULL;
    int rc = ATTUNE (&out, "rule", "test", rule, "--trigger-instance", matching);
    cr_expect_eq (rc, 0, "%s", out);
    cr_expect (strstr (out, "MATCHES"), "%s", out);
    free (out);
    //  Neither or both event options: a usage error; an unknown rule and
    //  an unknown event: errors, and the daemon still answers
    rc = ATTUNE (&out, "rule", "test", "test.fields");
    cr_expect_eq (rc, 2);
    free (out);
    rc = ATTUNE (&out, "rule", "test", "test.nothing", "--trigger-instance", matching);
    cr_expect_neq (rc, 0);
    free (out);
    rc = ATTUNE (&out, "rule", "test", "test.fields", "--event",
                 "01a24514-2fa5-710b-a05e-a81362d2c9cf");
    cr_expect_neq (rc, 0);
    free (out);
    rc = ATTUNE (&out, "rule", "test", "test.fields", "--trigger-instance", rule);
    cr_expect_eq (rc, 1, "a rule file is no event: nothing matches: %s", out);
    free (out);
    rc = ATTUNE (&out, "status");
    cr_expect_eq (rc, 0);
    free (out);
    free (rule);
    free (matching);
}
