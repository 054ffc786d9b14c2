/*  registry_pack: the core pack loads; errors name file, line and field and
    do not stop the other definitions or packs. */
#include "tests/testing.h"
#include "actors/registry/registry_catalog.h"
#include "actors/registry/registry_pack.h"

#ifndef ATTUNE_SOURCE_DIR
#define ATTUNE_SOURCE_DIR "."
#endif

static char s_root[256];

static void
s_setup (void)
{
    testing_tmpdir (s_root, sizeof s_root, "packs");
}

static void
s_teardown (void)
{
    testing_rmtree (s_root);
}

static bool
s_has_error (zlist_t *errors, const char *fragment)
{
    for (char *e = (char *)zlist_first (errors); e; e = (char *)zlist_next (errors))
        if (strstr (e, fragment))
            return true;
    return false;
}

static char *
s_dump_errors (zlist_t *errors)
{
    static char text[8192];
    text[0] = 0;
    for (char *e = (char *)zlist_first (errors); e; e = (char *)zlist_next (errors)) {
        strncat (text, e, sizeof text - strlen (text) - 2);
        strncat (text, "\n", sizeof text - strlen (text) - 1);
    }
    return text;
}

TestSuite (registry_pack, .init = s_setup, .fini = s_teardown);

Test (registry_pack, core_pack_loads_clean)
{
    registry_catalog_t *catalog = registry_catalog_new ();
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    int packs = registry_catalog_load_dir (catalog, ATTUNE_SOURCE_DIR "/packs", errors);
    cr_expect_eq (zlist_size (errors), 0, "%s", s_dump_errors (errors));
    cr_expect_geq (packs, 1);
    const char *actions[] = {"core.noop", "core.echo", "core.sleep", "core.local",
                             "core.local_script"};
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        cr_expect_not_null (registry_catalog_action (catalog, actions[i]), "%s",
                            actions[i]);
    const json_t *echo = registry_catalog_action (catalog, "core.echo");
    cr_expect_str_eq (json_string_value (json_object_get (echo, "runner_type")),
                      "builtin");
    cr_expect_eq (json_integer_value (json_object_get (echo, "timeout")), 600);
    const json_t *rule = registry_catalog_rule (catalog, "core.timer_echo_10s");
    cr_assert_not_null (rule);
    const json_t *trigger = json_object_get (rule, "trigger");
    cr_expect_str_eq (json_string_value (json_object_get (trigger, "type")),
                      "core.st2.IntervalTimer");
    cr_expect_eq (json_integer_value (
                      json_object_get (json_object_get (trigger, "parameters"), "delta")),
                  10);
    cr_expect_str_eq (
        json_string_value (json_object_get (
            json_object_get (json_object_get (rule, "action"), "parameters"), "message")),
        "hello, world");
    const char *triggers[] = {"core.st2.IntervalTimer", "core.st2.DateTimer",
                              "core.st2.CronTimer"};
    for (size_t i = 0; i < 3; i++)
        cr_expect_not_null (registry_catalog_trigger (catalog, triggers[i]));
    zlist_destroy (&errors);
    registry_catalog_destroy (&catalog);
}

Test (registry_pack, errors_name_file_line_field_and_the_rest_loads)
{
    testing_write (s_root, "ops/pack.yaml", "ref: ops\nname: ops\nversion: 1.0.0\n");
    testing_write (s_root, "ops/actions/good.yaml", "name: good\nrunner_type: noop\n");
    testing_write (s_root, "ops/actions/bad_runner.yaml",
                   "name: bad_runner\n"
                   "runner_type: ssh\n");
    testing_write (s_root, "ops/actions/bad_param.yaml",
                   "name: bad_param\nrunner_type: noop\n"
                   "parameters:\n  n:\n    type: int\n");
    testing_write (s_root, "ops/actions/syntax.yaml", "name: [unclosed\n");
    testing_write (s_root, "ops/rules/good.yaml",
                   "name: good\npack: ops\ntrigger:\n  type: ops.hook\n"
                   "criteria:\n  trigger.payload.n:\n    type: equals\n"
                   "    pattern: 3\naction:\n  ref: ops.good\n");
    testing_write (s_root, "ops/rules/bad_op.yaml",
                   "name: bad_op\n"         // 1
                   "pack: ops\n"            // 2
                   "trigger:\n"             // 3
                   "  type: ops.hook\n"     // 4
                   "criteria:\n"            // 5
                   "  trigger.payload.n:\n" // 6
                   "    type: equal\n"      // 7
                   "    pattern: 3\n"       // 8
                   "action:\n  ref: ops.good\n");
    testing_write (s_root, "ops/rules/bad_action.yaml",
                   "name: bad_action\npack: ops\ntrigger:\n"
                   "  type: ops.hook\naction:\n  ref: ops.nothing\n");
    testing_write (s_root, "ops/rules/bad_timer.yaml",
                   "name: bad_timer\npack: ops\ntrigger:\n"
                   "  type: core.st2.IntervalTimer\n  parameters:\n"
                   "    unit: fortnights\n    delta: 1\n"
                   "action:\n  ref: ops.good\n");
    testing_write (s_root, "ops/rules/bad_template.yaml",
                   "name: bad_template\npack: ops\ntrigger:\n"
                   "  type: ops.hook\naction:\n  ref: ops.good\n"
                   "  parameters:\n    x: \"{{ trigger.payload.n | nope }}\"\n");
    //  StackStorm's rules have no notify (its schema refuses one; notify is
    //  the action's)
    testing_write (s_root, "ops/rules/bad_notify.yaml",
                   "name: bad_notify\npack: ops\ntrigger:\n  type: ops.hook\n"
                   "action:\n  ref: ops.good\nnotify:\n  on-complete: {routes: [x]}\n");
    testing_write (
        s_root, "ops/rules/bad_action_notify.yaml",
        "name: bad_action_notify\npack: ops\ntrigger:\n  type: ops.hook\n"
        "action:\n  ref: ops.good\n  notify:\n    on-complete: {routes: [x]}\n");
    testing_write (s_root, "ops/triggers/hook.yaml",
                   "name: hook\ndescription: a webhook\n");
    testing_write (s_root, "broken/pack.yaml", "name: [\n");
    testing_write (s_root, "second/pack.yaml", "name: second\n");
    testing_write (s_root, "second/actions/typo.yaml",
                   "name: typo\nrunner_type: noop\nparamters: {}\n");

    registry_catalog_t *catalog = registry_catalog_new ();
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    int packs = registry_catalog_load_dir (catalog, s_root, errors);
    cr_expect_eq (packs, 2, "%s", s_dump_errors (errors)); //  ops and second
    cr_expect_not_null (registry_catalog_action (catalog, "ops.good"));
    cr_expect_not_null (registry_catalog_rule (catalog, "ops.good"));
    cr_expect_not_null (registry_catalog_trigger (catalog, "ops.hook"));
    cr_expect_null (registry_catalog_action (catalog, "ops.bad_runner"));
    cr_expect_null (registry_catalog_rule (catalog, "ops.bad_op"));
    cr_expect_null (registry_catalog_rule (catalog, "ops.bad_action"));
    cr_expect_null (registry_catalog_rule (catalog, "ops.bad_timer"));
    cr_expect_null (registry_catalog_rule (catalog, "ops.bad_notify"));
    cr_expect_null (registry_catalog_rule (catalog, "ops.bad_action_notify"));
    cr_expect_null (registry_catalog_action (catalog, "second.typo"));
    const char *expect[] = {
        "actions/bad_runner.yaml:2: runner_type: unknown runner \"ssh\"",
        "actions/bad_param.yaml:5: parameters.n.type: unknown type",
        "actions/syntax.yaml:",
        "rules/bad_op.yaml:6: criteria.trigger.payload.n: unknown operator \"equal\"",
        "rules/bad_action.yaml:6: action.ref: unknown action \"ops.nothing\"",
        "rules/bad_timer.yaml:5: trigger.parameters: parameter 'unit'",
        "rules/bad_template.yaml:8: action.parameters.x:",
        "broken/pack.yaml:",
        "second/actions/typo.yaml:3: paramters: unknown field",
        "rules/bad_notify.yaml:7: notify: a rule has no notify block",
        "rules/bad_action_notify.yaml:7: action.notify: a rule has no notify block",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        cr_expect (s_has_error (errors, expect[i]), "missing error '%s' in:\n%s",
                   expect[i], s_dump_errors (errors));
    zlist_destroy (&errors);
    registry_catalog_destroy (&catalog);
}

Test (registry_pack, put_and_delete_rule)
{
    registry_catalog_t *catalog = registry_catalog_new ();
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    registry_catalog_load_dir (catalog, ATTUNE_SOURCE_DIR "/packs", errors);
    json_t *rule = json_loads ("{\"name\": \"every5\", \"pack\": \"core\", \"trigger\": "
                               "{\"type\": \"core.st2.IntervalTimer\", \"parameters\": "
                               "{\"unit\": \"seconds\", \"delta\": 5}}, \"action\": "
                               "{\"ref\": \"core.noop\"}}",
                               0, NULL);
    char message[512] = "";
    cr_expect_eq (
        registry_catalog_put_rule (catalog, rule, "api", message, sizeof message), 0,
        "%s", message);
    cr_expect_not_null (registry_catalog_rule (catalog, "core.every5"));
    cr_expect_eq (registry_catalog_delete_rule (catalog, "core.every5"), 0);
    cr_expect_eq (registry_catalog_delete_rule (catalog, "core.every5"), -1);
    json_object_set_new (json_object_get (rule, "action"), "ref",
                         json_string ("core.nope"));
    cr_expect_eq (
        registry_catalog_put_rule (catalog, rule, "api", message, sizeof message), -1);
    cr_expect (strstr (message, "unknown action \"core.nope\"") != NULL, "%s", message);
    json_decref (rule);
    zlist_destroy (&errors);
    registry_catalog_destroy (&catalog);
}

Test (registry_pack, policies_load_with_defaults_and_errors_name_the_line)
{
    testing_write (s_root, "ops/pack.yaml", "ref: ops\nname: ops\nversion: 1.0.0\n");
    testing_write (s_root, "ops/actions/deploy.yaml",
                   "name: deploy\nrunner_type: noop\n"
                   "parameters:\n  env:\n    type: string\n");
    testing_write (s_root, "ops/policies/deploy.concurrency.yaml",
                   "name: deploy.concurrency\nresource_ref: ops.deploy\n"
                   "policy_type: action.concurrency\nparameters:\n  threshold: 3\n");
    testing_write (s_root, "ops/policies/by_env.yaml",
                   "name: by_env\nresource_ref: ops.deploy\nenabled: false\n"
                   "policy_type: action.concurrency.attr\nparameters:\n  threshold: 1\n"
                   "  attributes: [env]\n  action: cancel\n");
    testing_write (s_root, "ops/policies/rate.yaml",
                   "name: rate\nresource_ref: ops.deploy\npolicy_type: action.ratelimit\n"
                   "parameters:\n  max: 10\n  window_seconds: 60\n");
    testing_write (s_root, "ops/policies/retry.yaml",
                   "name: retry\nresource_ref: ops.deploy\npolicy_type: action.retry\n"
                   "parameters:\n  retry_on: timeout\n  max_retry_count: 3\n  delay: 2\n"
                   "  backoff: exponential\n");
    testing_write (s_root, "ops/policies/bad_type.yaml",
                   "name: bad_type\n"              // 1
                   "resource_ref: ops.deploy\n"    // 2
                   "policy_type: action.speed\n"); // 3
    testing_write (s_root, "ops/policies/bad_threshold.yaml",
                   "name: bad_threshold\n"
                   "resource_ref: ops.deploy\n"
                   "policy_type: action.concurrency\n"
                   "parameters:\n"      // 4
                   "  threshold: 0\n"); // 5
    testing_write (s_root, "ops/policies/bad_param.yaml",
                   "name: bad_param\nresource_ref: ops.deploy\n"
                   "policy_type: action.retry\nparameters:\n"
                   "  retries: 3\n"); // 5
    testing_write (s_root, "ops/policies/bad_action.yaml",
                   "name: bad_action\n"
                   "resource_ref: ops.nothing\n" // 2
                   "policy_type: action.timeout\n"
                   "parameters:\n  timeout: 5\n");
    testing_write (s_root, "ops/policies/no_threshold.yaml",
                   "name: no_threshold\nresource_ref: ops.deploy\n"
                   "policy_type: action.concurrency\n");
    registry_catalog_t *catalog = registry_catalog_new ();
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    cr_assert_eq (registry_catalog_load_dir (catalog, s_root, errors), 1);
    const json_t *policies = registry_catalog_policies (catalog);
    cr_expect_eq (json_object_size (policies), 4, "%s", s_dump_errors (errors));
    const json_t *concurrency = json_object_get (policies, "ops.deploy.concurrency");
    cr_assert_not_null (concurrency);
    const json_t *params = json_object_get (concurrency, "parameters");
    cr_expect_eq (json_integer_value (json_object_get (params, "threshold")), 3);
    cr_expect_str_eq (json_string_value (json_object_get (params, "action")), "delay");
    cr_expect_eq (json_integer_value (json_object_get (params, "max_queue")), 10000);
    cr_expect_eq (json_integer_value (json_object_get (params, "queue_timeout")), 3600);
    cr_expect (json_is_true (json_object_get (concurrency, "enabled")));
    const json_t *by_env = json_object_get (policies, "ops.by_env");
    cr_expect (json_is_false (json_object_get (by_env, "enabled")));
    cr_expect_str_eq (
        json_string_value (json_array_get (
            json_object_get (json_object_get (by_env, "parameters"), "attributes"), 0)),
        "env");
    const json_t *retry =
        json_object_get (json_object_get (policies, "ops.retry"), "parameters");
    cr_expect_str_eq (json_string_value (json_object_get (retry, "backoff")),
                      "exponential");
    const char *expect[] = {
        "policies/bad_type.yaml:3: policy_type: unknown policy type \"action.speed\"",
        "policies/bad_threshold.yaml:5: parameters.threshold: 0:",
        "policies/bad_param.yaml:5: parameters.retries: not a parameter of action.retry",
        "policies/bad_action.yaml:2: resource_ref: unknown action \"ops.nothing\"",
        "policies/no_threshold.yaml:",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        cr_expect (s_has_error (errors, expect[i]), "missing error '%s' in:\n%s",
                   expect[i], s_dump_errors (errors));
    zlist_destroy (&errors);
    registry_catalog_destroy (&catalog);
}
