/*  test_builtin_triggers: StackStorm's built-in triggers raised by the
    executor (actors/executor/executor_triggers.c) against a live attuned:
    actiontrigger once per execution end, notifytrigger from an action's
    notify block (one per route), core.st2.generic.inquiry when an inquiry
    opens, none when no rule listens, and every actiontrigger delivered
    exactly once across a SIGKILL right after the executions ended. */
#include "tests/testing_api.h"
#include <jansson.h>

static testing_daemon_t s_daemon;

static void
s_pack (testing_daemon_t *daemon, bool rules)
{
    testing_daemon_write (daemon, "demo/pack.yaml",
                          "ref: demo\nname: demo\nversion: 1.0.0\n");
    testing_daemon_write (daemon, "demo/actions/job.yaml",
                          "name: job\nrunner_type: noop\nparameters:\n"
                          "  n: {type: integer}\n  token: {type: string, secret: true}\n"
                          "notify:\n  on-complete:\n    message: job done\n"
                          "    data: {team: ops}\n    routes: [slack, audit]\n");
    if (!rules)
        return;
    testing_daemon_write (
        daemon, "demo/rules/after.yaml",
        "name: after\npack: demo\n"
        "trigger: {type: core.st2.generic.actiontrigger}\n"
        "criteria:\n  trigger.action_ref: {type: equals, pattern: demo.job}\n"
        "action:\n  ref: core.noop\n");
    testing_daemon_write (daemon, "demo/rules/notified.yaml",
                          "name: notified\npack: demo\n"
                          "trigger: {type: core.st2.generic.notifytrigger}\n"
                          "criteria:\n  trigger.route: {type: equals, pattern: audit}\n"
                          "action:\n  ref: core.echo\n  parameters:\n"
                          "    message: \"{{ trigger.message }} {{ trigger.status }} "
                          "{{ trigger.data.team }}\"\n");
    testing_daemon_write (daemon, "demo/rules/asked.yaml",
                          "name: asked\npack: demo\n"
                          "trigger: {type: core.st2.generic.inquiry}\n"
                          "action:\n  ref: core.noop\n");
}

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

//  The events of `trigger` (newest first, at most 1000)
static json_t *
s_events (zsock_t *api, const char *trigger)
{
    json_t *page =
        testing_api_ok (api, "api.event.list",
                        json_pack ("{s:s, s:i}", "trigger", trigger, "limit", 1000));
    json_t *items = json_incref (json_object_get (page, "items"));
    json_decref (page);
    return items;
}

//  How many events of `trigger` have payload.execution_id == id
static int
s_count_for (json_t *events, const char *id)
{
    int count = 0;
    size_t i;
    json_t *event;
    json_array_foreach (events, i, event)
    {
        const char *of = json_string_value (
            json_object_get (json_object_get (event, "payload"), "execution_id"));
        count += of && streq (of, id);
    }
    return count;
}

//  Wait (bounded) until `trigger` has `want` events for execution `id`
static json_t *
s_wait_events (zsock_t *api, const char *trigger, const char *id, int want)
{
    int64_t deadline = zclock_mono () + 15000;
    while (true) {
        json_t *events = s_events (api, trigger);
        if (s_count_for (events, id) >= want || zclock_mono () > deadline)
            return events;
        json_decref (events);
        zclock_sleep (50);
    }
}

static char *
s_run_job (zsock_t *api, int n)
{
    json_t *run =
        testing_api_ok (api, "api.execution.run",
                        json_pack ("{s:s, s:{s:i, s:s}}", "action", "demo.job",
                                   "parameters", "n", n, "token", "s3cr3t-value"));
    char *id = strdup (json_string_value (json_object_get (run, "execution")));
    json_decref (run);
    return id;
}

TestSuite (builtin_triggers, .fini = s_teardown, .timeout = 180);

Test (builtin_triggers, action_and_notify_triggers_fire_once_with_st2_fields)
{
    testing_daemon_init (&s_daemon, "test_builtin_triggers");
    s_pack (&s_daemon, true);
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *api = testing_api_client (&s_daemon);
    char *id = s_run_job (api, 3);
    json_decref (testing_api_wait_status (api, id, "completed", 15000));
    json_t *events = s_wait_events (api, "core.st2.generic.actiontrigger", id, 1);
    cr_assert_eq (s_count_for (events, id), 1, "one actiontrigger per end");
    json_t *payload = NULL;
    size_t i;
    json_t *event;
    json_array_foreach (events, i, event)
    {
        json_t *p = json_object_get (event, "payload");
        if (streq (json_string_value (json_object_get (p, "execution_id")), id))
            payload = p;
    }
    cr_expect_str_eq (json_string_value (json_object_get (payload, "status")),
                      "succeeded");
    cr_expect_str_eq (json_string_value (json_object_get (payload, "action_ref")),
                      "demo.job");
    cr_expect_str_eq (json_string_value (json_object_get (payload, "action_name")),
                      "job");
    cr_expect_str_eq (json_string_value (json_object_get (payload, "runner_ref")),
                      "noop");
    cr_expect (
        strchr (json_string_value (json_object_get (payload, "start_timestamp")), 'T'));
    json_t *params = json_object_get (payload, "parameters");
    cr_expect_eq (json_integer_value (json_object_get (params, "n")), 3);
    cr_expect_str_eq (json_string_value (json_object_get (params, "token")), "********",
                      "a secret parameter is masked in the trigger's payload");
    json_decref (events);
    //  notify: one per route; the rule on route audit rendered the message
    events = s_wait_events (api, "core.st2.generic.notifytrigger", id, 2);
    cr_expect_eq (s_count_for (events, id), 2, "one notifytrigger per route");
    json_decref (events);
    int64_t deadline = zclock_mono () + 15000;
    bool echoed = false;
    while (!echoed && zclock_mono () < deadline) {
        json_t *list = testing_api_ok (api, "api.execution.list",
                                       json_pack ("{s:s}", "action", "core.echo"));
        json_t *item;
        json_array_foreach (json_object_get (list, "items"), i, item)
        {
            json_t *got = testing_api_ok (
                api, "api.execution.get",
                json_pack ("{s:s}", "id",
                           json_string_value (json_object_get (item, "id"))));
            const char *message = json_string_value (
                json_object_get (json_object_get (got, "parameters"), "message"));
            echoed |= message && streq (message, "job done succeeded ops");
            json_decref (got);
        }
        json_decref (list);
        if (!echoed)
            zclock_sleep (50);
    }
    cr_expect (echoed, "the notify rule ran core.echo with the rendered message");
    free (id);
    zsock_destroy (&api);
}

Test (builtin_triggers, none_without_a_listening_rule)
{
    testing_daemon_init (&s_daemon, "test_builtin_triggers");
    s_pack (&s_daemon, false);
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *api = testing_api_client (&s_daemon);
    char *id = s_run_job (api, 1);
    json_decref (testing_api_wait_status (api, id, "completed", 15000));
    zclock_sleep (500);
    json_t *events = s_events (api, "core.st2.generic.actiontrigger");
    cr_expect_eq (json_array_size (events), 0, "no rule listens: no event");
    json_decref (events);
    events = s_events (api, "core.st2.generic.notifytrigger");
    cr_expect_eq (json_array_size (events), 0);
    json_decref (events);
    free (id);
    zsock_destroy (&api);
}

Test (builtin_triggers, exactly_once_across_a_sigkill)
{
    testing_daemon_init (&s_daemon, "test_builtin_triggers");
    s_pack (&s_daemon, true);
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *api = testing_api_client (&s_daemon);
    enum { JOBS = 30 };
    char *ids[JOBS];
    for (int i = 0; i < JOBS; i++)
        ids[i] = s_run_job (api, i);
    json_decref (testing_api_wait_status (api, ids[JOBS - 1], "completed", 15000));
    //  Killed at once: some ends' events may still be in the outbox
    testing_daemon_signal (&s_daemon, SIGKILL, 5000);
    zsock_destroy (&api);
    testing_daemon_start (&s_daemon, NULL);
    api = testing_api_client (&s_daemon);
    for (int i = 0; i < JOBS; i++) {
        json_decref (testing_api_wait_status (api, ids[i], "completed", 15000));
        json_t *events = s_wait_events (api, "core.st2.generic.actiontrigger", ids[i], 1);
        cr_expect_eq (s_count_for (events, ids[i]), 1, "job %d: %d actiontriggers", i,
                      s_count_for (events, ids[i]));
        json_decref (events);
        free (ids[i]);
    }
    zsock_destroy (&api);
}

Test (builtin_triggers, an_inquiry_opening_raises_its_trigger)
{
    testing_daemon_init (&s_daemon, "test_builtin_triggers");
    s_pack (&s_daemon, true);
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *api = testing_api_client (&s_daemon);
    json_t *run = testing_api_ok (
        api, "api.execution.run",
        json_pack ("{s:s, s:{s:s}}", "action", "core.ask", "parameters", "route", "ops"));
    const char *id = json_string_value (json_object_get (run, "execution"));
    json_decref (testing_api_wait_status (api, id, "pending", 15000));
    int64_t deadline = zclock_mono () + 15000;
    json_t *found = NULL;
    while (!found && zclock_mono () < deadline) {
        json_t *events = s_events (api, "core.st2.generic.inquiry");
        size_t i;
        json_t *event;
        json_array_foreach (events, i, event)
        {
            json_t *p = json_object_get (event, "payload");
            if (streq (json_string_value (json_object_get (p, "execution")) ?: "", id))
                found = json_incref (p);
        }
        json_decref (events);
        if (!found)
            zclock_sleep (50);
    }
    cr_assert_not_null (found, "no core.st2.generic.inquiry event for %s", id);
    cr_expect_str_eq (json_string_value (json_object_get (found, "route")), "ops");
    cr_expect_gt (strlen (json_string_value (json_object_get (found, "id"))), 0);
    json_decref (found);
    json_decref (run);
    zsock_destroy (&api);
}
