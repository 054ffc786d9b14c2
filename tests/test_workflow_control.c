/*  The workflow conductor: cancel, pause and resume in the middle of runs,
    an inquiry (pending child) answered and timed out, re-runs from tasks,
    and the calls' contract: bad keys and statuses are errors that leave the
    state as it was, a repeated end changes nothing, the same calls give the
    same keys, and a state stored as JSON text carries on. */
#include "tests/testing_workflow.h"

static workflow_spec_t *
s_parse (const char *text)
{
    char *error = NULL;
    workflow_spec_t *spec = workflow_spec_parse ("inline.yaml", text, "orquesta", &error);
    cr_assert (spec, "%s", error ? error : "?");
    return spec;
}

//  A run stepped by hand.
typedef struct {
    workflow_spec_t *spec;
    json_t *state;
    json_t *commands; //  the last call's commands
} run_t;

static void
s_start (run_t *r, workflow_spec_t *spec, const char *input)
{
    r->spec = spec;
    r->commands = json_array ();
    json_t *in = json_loads (input ? input : "{}", 0, NULL);
    char *error = NULL;
    r->state = workflow_start (spec, in, r->commands, &error);
    cr_assert (r->state, "%s", error);
    json_decref (in);
}

static const char *
s_key (run_t *r, size_t i)
{
    return json_string_value (json_object_get (json_array_get (r->commands, i), "key"));
}

static const char *
s_op (run_t *r, size_t i)
{
    return json_string_value (json_object_get (json_array_get (r->commands, i), "op"));
}

static const char *
s_task (run_t *r, size_t i)
{
    return json_string_value (json_object_get (json_array_get (r->commands, i), "task"));
}

static void
s_end (run_t *r, const char *key, const char *status)
{
    char *copy = strdup (key);
    json_array_clear (r->commands);
    char *error = NULL;
    cr_assert_eq (
        workflow_task_ended (r->spec, r->state, copy, status, NULL, r->commands, &error),
        0, "%s", error);
    free (copy);
}

static void
s_request (run_t *r, const char *what)
{
    json_array_clear (r->commands);
    char *error = NULL;
    cr_assert_eq (workflow_request (r->spec, r->state, what, r->commands, &error), 0,
                  "%s", error);
}

static void
s_free (run_t *r)
{
    json_decref (r->state);
    json_decref (r->commands);
    workflow_spec_destroy (&r->spec);
}

static const char *s_three = "version: 1.0\n"
                             "tasks:\n"
                             "  a:\n"
                             "    action: core.noop\n"
                             "    next:\n"
                             "      - do: b, c\n"
                             "  b:\n"
                             "    action: core.noop\n"
                             "    next:\n"
                             "      - do: d\n"
                             "  c:\n"
                             "    action: core.noop\n"
                             "    next:\n"
                             "      - do: d\n"
                             "  d:\n"
                             "    join: all\n"
                             "    action: core.noop\n"
                             "output:\n"
                             "  - done: true\n";

Test (control, cancel_in_the_middle_of_a_fork)
{
    run_t r;
    s_start (&r, s_parse (s_three), NULL);
    s_end (&r, s_key (&r, 0), "completed");
    cr_assert_eq (json_array_size (r.commands), 2);
    char *b = strdup (s_key (&r, 0)), *c = strdup (s_key (&r, 1));
    s_request (&r, "cancel");
    //  both running children are cancelled, nothing new starts
    cr_assert_eq (json_array_size (r.commands), 2);
    cr_assert_str_eq (s_op (&r, 0), "cancel");
    cr_assert_str_eq (s_key (&r, 0), b);
    cr_assert_str_eq (s_key (&r, 1), c);
    cr_assert_str_eq (workflow_status (r.state), "canceling");
    s_end (&r, b, "completed");
    cr_assert_eq (json_array_size (r.commands), 0);
    cr_assert_str_eq (workflow_status (r.state), "canceling");
    s_end (&r, c, "cancelled");
    cr_assert_str_eq (workflow_status (r.state), "cancelled");
    cr_assert (workflow_done (r.state));
    //  a report repeated after the end changes nothing; an unknown key is an error
    s_end (&r, c, "cancelled");
    cr_assert_eq (json_array_size (r.commands), 0);
    char *unknown = NULL;
    cr_assert_eq (workflow_task_ended (r.spec, r.state, "77.0/x", "completed", NULL,
                                       r.commands, &unknown),
                  -1);
    free (unknown);
    //  an ended run refuses requests and ends
    char *error = NULL;
    cr_assert_eq (workflow_request (r.spec, r.state, "resume", r.commands, &error), -1);
    cr_assert (strstr (error, "ended"), "%s", error);
    free (error);
    free (b);
    free (c);
    s_free (&r);
}

Test (control, pause_then_resume)
{
    run_t r;
    s_start (&r, s_parse (s_three), NULL);
    char *a = strdup (s_key (&r, 0));
    s_request (&r, "pause");
    cr_assert_str_eq (s_op (&r, 0), "pause");
    cr_assert_str_eq (workflow_status (r.state), "pausing");
    s_end (&r, a, "completed");
    //  paused: b and c wait
    cr_assert_eq (json_array_size (r.commands), 0);
    cr_assert_str_eq (workflow_status (r.state), "paused");
    char *error = NULL;
    cr_assert_eq (workflow_request (r.spec, r.state, "bogus", r.commands, &error), -1);
    free (error);
    s_request (&r, "resume");
    cr_assert_str_eq (workflow_status (r.state), "running");
    cr_assert_eq (json_array_size (r.commands), 2);
    cr_assert_str_eq (s_task (&r, 0), "b");
    cr_assert_str_eq (s_task (&r, 1), "c");
    char *b = strdup (s_key (&r, 0)), *c = strdup (s_key (&r, 1));
    s_end (&r, b, "completed");
    s_end (&r, c, "completed");
    cr_assert_str_eq (s_task (&r, 0), "d");
    s_end (&r, s_key (&r, 0), "completed");
    cr_assert_str_eq (workflow_status (r.state), "succeeded");
    cr_assert_eq (workflow_request (r.spec, r.state, "pause", r.commands, &error), -1);
    free (error);
    free (a);
    free (b);
    free (c);
    s_free (&r);
}

Test (control, resume_of_a_running_run_is_an_error)
{
    run_t r;
    s_start (&r, s_parse (s_three), NULL);
    char *error = NULL;
    json_t *before = json_deep_copy (r.state);
    cr_assert_eq (workflow_request (r.spec, r.state, "resume", r.commands, &error), -1);
    cr_assert (strstr (error, "not paused"), "%s", error);
    cr_assert (json_equal (before, r.state));
    free (error);
    json_decref (before);
    s_free (&r);
}

Test (control, pause_and_cancel_with_items)
{
    run_t r;
    s_start (&r, wf_load_fixture ("with-items-concurrency"),
             "{\"members\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}");
    cr_assert_eq (json_array_size (r.commands), 2);
    char *k0 = strdup (s_key (&r, 0)), *k1 = strdup (s_key (&r, 1));
    s_request (&r, "pause");
    s_end (&r, k0, "completed");
    cr_assert_eq (json_array_size (r.commands), 0);
    s_end (&r, k1, "completed");
    cr_assert_str_eq (workflow_status (r.state), "paused");
    s_request (&r, "resume");
    //  the next two items
    cr_assert_eq (json_array_size (r.commands), 2);
    cr_assert_eq (
        json_integer_value (json_object_get (json_array_get (r.commands, 0), "item")), 2);
    char *k2 = strdup (s_key (&r, 0)), *k3 = strdup (s_key (&r, 1));
    s_request (&r, "cancel");
    cr_assert_eq (json_array_size (r.commands), 2);
    s_end (&r, k2, "completed");
    cr_assert_str_eq (workflow_status (r.state), "canceling");
    s_end (&r, k3, "cancelled");
    cr_assert_str_eq (workflow_status (r.state), "cancelled");
    free (k3);
    free (k0);
    free (k1);
    free (k2);
    s_free (&r);
}

static const char *s_ask =
    "version: 1.0\n"
    "tasks:\n"
    "  ask:\n"
    "    action: core.ask\n"
    "    next:\n"
    "      - when: <% succeeded() and result().response.approved %>\n"
    "        do: deploy\n"
    "      - when: <% failed() %>\n"
    "        do: page\n"
    "  deploy:\n"
    "    action: core.noop\n"
    "  page:\n"
    "    action: core.noop\n";

Test (control, inquiry_pauses_until_answered)
{
    run_t r;
    s_start (&r, s_parse (s_ask), NULL);
    char *ask = strdup (s_key (&r, 0));
    json_array_clear (r.commands);
    char *error = NULL;
    cr_assert_eq (workflow_task_pending (r.spec, r.state, ask, r.commands, &error), 0,
                  "%s", error);
    cr_assert_str_eq (workflow_status (r.state), "paused");
    cr_assert (!workflow_done (r.state));
    cr_assert_eq (workflow_request (r.spec, r.state, "resume", r.commands, &error), -1);
    cr_assert (strstr (error, "inquiry"), "%s", error);
    free (error);
    json_t *response = json_pack ("{s:{s:b}}", "response", "approved", 1);
    json_array_clear (r.commands);
    cr_assert_eq (workflow_task_ended (r.spec, r.state, ask, "completed", response,
                                       r.commands, &error),
                  0, "%s", error);
    json_decref (response);
    cr_assert_str_eq (workflow_status (r.state), "running");
    cr_assert_str_eq (s_task (&r, 0), "deploy");
    s_end (&r, s_key (&r, 0), "completed");
    cr_assert_str_eq (workflow_status (r.state), "succeeded");
    free (ask);
    s_free (&r);
}

Test (control, inquiry_timeout_is_the_task_failure)
{
    run_t r;
    s_start (&r, s_parse (s_ask), NULL);
    char *ask = strdup (s_key (&r, 0));
    json_array_clear (r.commands);
    cr_assert_eq (workflow_task_pending (r.spec, r.state, ask, r.commands, NULL), 0);
    s_end (&r, ask, "timeout");
    cr_assert_str_eq (s_task (&r, 0), "page");
    s_end (&r, s_key (&r, 0), "completed");
    cr_assert_str_eq (workflow_status (r.state), "succeeded");
    free (ask);
    s_free (&r);
}

Test (control, rerun_from_a_task_with_its_recorded_context)
{
    run_t r;
    s_start (&r, wf_load_fixture ("sequential"), "{\"name\": \"Ada\"}");
    json_t *result = json_string ("Ada");
    char *error = NULL;
    char *k = strdup (s_key (&r, 0));
    json_array_clear (r.commands);
    cr_assert_eq (
        workflow_task_ended (r.spec, r.state, k, "completed", result, r.commands, &error),
        0);
    free (k);
    json_decref (result);
    s_end (&r, s_key (&r, 0), "failed");
    cr_assert_str_eq (workflow_status (r.state), "failed");
    //  re-run task2: it starts again with the context task1 published
    json_t *commands = json_array ();
    const char *tasks[] = {"task2"};
    json_t *again = workflow_rerun (r.spec, r.state, tasks, 1, NULL, 0, commands, &error);
    cr_assert (again, "%s", error);
    cr_assert_str_eq (workflow_status (again), "running");
    cr_assert_eq (json_array_size (commands), 1);
    json_t *run = json_array_get (commands, 0);
    cr_assert_str_eq (json_string_value (json_object_get (run, "task")), "task2");
    json_decref (r.state);
    r.state = again;
    json_array_clear (r.commands);
    json_array_extend (r.commands, commands);
    json_decref (commands);
    result = json_string ("hi");
    k = strdup (s_key (&r, 0));
    json_array_clear (r.commands);
    cr_assert_eq (
        workflow_task_ended (r.spec, r.state, k, "completed", result, r.commands, &error),
        0, "%s", error);
    free (k);
    json_decref (result);
    cr_assert_str_eq (s_task (&r, 0), "task3");
    cr_assert_str_eq (
        json_string_value (json_object_get (
            json_object_get (json_array_get (r.commands, 0), "parameters"), "message")),
        "Ada, hi");
    s_end (&r, s_key (&r, 0), "completed");
    cr_assert_str_eq (workflow_status (r.state), "succeeded");
    //  unknown task, and a run still going, are refused
    const char *bogus[] = {"nope"};
    cr_assert_null (
        workflow_rerun (r.spec, r.state, bogus, 1, NULL, 0, r.commands, &error));
    cr_assert (strstr (error, "'nope'"), "%s", error);
    free (error);
    s_free (&r);
}

Test (control, bad_calls_leave_the_state_unchanged)
{
    run_t r;
    s_start (&r, s_parse (s_three), NULL);
    char *a = strdup (s_key (&r, 0));
    json_t *before = json_deep_copy (r.state);
    char *error = NULL;
    cr_assert_eq (workflow_task_ended (r.spec, r.state, "9.0/zz", "completed", NULL,
                                       r.commands, &error),
                  -1);
    cr_assert (strstr (error, "9.0/zz"), "%s", error);
    free (error);
    cr_assert_eq (workflow_task_ended (r.spec, r.state, "garbage", "completed", NULL,
                                       r.commands, &error),
                  -1);
    free (error);
    cr_assert_eq (
        workflow_task_ended (r.spec, r.state, a, "running", NULL, r.commands, &error),
        -1);
    cr_assert (strstr (error, "not a terminal status"), "%s", error);
    free (error);
    cr_assert (json_equal (before, r.state));
    //  a repeated end (a resend after a crash) changes nothing
    s_end (&r, a, "completed");
    json_t *after = json_deep_copy (r.state);
    s_end (&r, a, "completed");
    cr_assert_eq (json_array_size (r.commands), 0);
    cr_assert (json_equal (after, r.state));
    json_decref (before);
    json_decref (after);
    free (a);
    s_free (&r);
}

Test (control, same_calls_same_keys_and_stored_state_carries_on)
{
    run_t r1, r2;
    s_start (&r1, s_parse (s_three), NULL);
    s_start (&r2, s_parse (s_three), NULL);
    cr_assert_str_eq (s_key (&r1, 0), s_key (&r2, 0));
    char *a = strdup (s_key (&r1, 0));
    s_end (&r1, a, "completed");
    s_end (&r2, a, "completed");
    cr_assert (json_equal (r1.commands, r2.commands));
    cr_assert (json_equal (r1.state, r2.state));
    //  the engine stores the state as text and loads it after a restart
    char *text = json_dumps (r2.state, JSON_COMPACT);
    json_decref (r2.state);
    r2.state = json_loads (text, 0, NULL);
    free (text);
    char *b = strdup (s_key (&r1, 0)), *c = strdup (s_key (&r1, 1));
    s_end (&r2, b, "completed");
    s_end (&r2, c, "completed");
    s_end (&r2, s_key (&r2, 0), "completed");
    cr_assert_str_eq (workflow_status (r2.state), "succeeded");
    json_t *result = workflow_result (r2.state);
    json_t *want = json_pack ("{s:b}", "done", 1);
    cr_assert (json_equal (json_object_get (result, "output"), want));
    json_decref (want);
    json_decref (result);
    free (a);
    free (b);
    free (c);
    s_free (&r1);
    s_free (&r2);
}

Test (control, rerun_of_items_keeps_the_items_that_succeeded)
{
    run_t r;
    s_start (&r, wf_load_fixture ("with-items-transition"), NULL);
    cr_assert_eq (json_array_size (r.commands), 4);
    json_t *keys = json_deep_copy (r.commands);
    const char *words[] = {"\"fee\"", "\"fi\"", "\"fo\"", "\"fum\""};
    char *error = NULL;
    for (size_t i = 0; i < 4; i++) {
        json_t *result = json_loads (words[i], JSON_DECODE_ANY, NULL);
        const char *key =
            json_string_value (json_object_get (json_array_get (keys, i), "key"));
        cr_assert_eq (workflow_task_ended (r.spec, r.state, key,
                                           i == 2 ? "failed" : "completed", result,
                                           r.commands, &error),
                      0, "%s", error);
        json_decref (result);
    }
    json_decref (keys);
    cr_assert_str_eq (workflow_status (r.state), "failed");
    json_t *commands = json_array ();
    json_t *again = workflow_rerun (r.spec, r.state, NULL, 0, NULL, 0, commands, &error);
    cr_assert (again, "%s", error);
    json_decref (r.state);
    r.state = again;
    //  only the failed item runs again
    cr_assert_eq (json_array_size (commands), 1);
    json_t *run = json_array_get (commands, 0);
    cr_assert_eq (json_integer_value (json_object_get (run, "item")), 2);
    json_t *result = json_string ("fo");
    json_array_clear (r.commands);
    cr_assert_eq (workflow_task_ended (r.spec, r.state,
                                       json_string_value (json_object_get (run, "key")),
                                       "completed", result, r.commands, &error),
                  0, "%s", error);
    json_decref (result);
    json_decref (commands);
    s_end (&r, s_key (&r, 0), "completed");
    cr_assert_str_eq (workflow_status (r.state), "succeeded");
    json_t *out = workflow_result (r.state);
    char *text = json_dumps (json_object_get (out, "output"), JSON_COMPACT);
    cr_assert_str_eq (text, "{\"items\":[\"fee\",\"fi\",\"fo\",\"fum\"]}");
    free (text);
    json_decref (out);
    s_free (&r);
}

Test (control, two_inquiries_hold_the_run_until_both_are_answered)
{
    run_t r;
    s_start (&r,
             s_parse ("version: 1.0\n"
                      "tasks:\n"
                      "  start:\n"
                      "    action: core.noop\n"
                      "    next:\n"
                      "      - do: ask1, ask2, work\n"
                      "  ask1:\n"
                      "    action: core.ask\n"
                      "  ask2:\n"
                      "    action: core.ask\n"
                      "  work:\n"
                      "    action: core.noop\n"
                      "    next:\n"
                      "      - do: after\n"
                      "  after:\n"
                      "    action: core.noop\n"),
             NULL);
    s_end (&r, s_key (&r, 0), "completed");
    cr_assert_eq (json_array_size (r.commands), 3);
    char *ask1 = strdup (s_key (&r, 0)), *ask2 = strdup (s_key (&r, 1)),
         *work = strdup (s_key (&r, 2));
    char *error = NULL;
    cr_assert_eq (workflow_task_pending (r.spec, r.state, ask1, r.commands, &error), 0);
    cr_assert_eq (workflow_task_pending (r.spec, r.state, ask1, r.commands, &error), 0);
    cr_assert_eq (workflow_task_pending (r.spec, r.state, ask2, r.commands, &error), 0);
    cr_assert_str_eq (workflow_status (r.state), "pausing");
    //  work ends: nothing new starts while people are asked
    s_end (&r, work, "completed");
    cr_assert_eq (json_array_size (r.commands), 0);
    cr_assert_str_eq (workflow_status (r.state), "paused");
    s_end (&r, ask1, "completed");
    cr_assert_eq (json_array_size (r.commands), 0);
    cr_assert_str_eq (workflow_status (r.state), "paused");
    s_end (&r, ask2, "completed");
    cr_assert_eq (json_array_size (r.commands), 1);
    cr_assert_str_eq (s_task (&r, 0), "after");
    cr_assert_str_eq (workflow_status (r.state), "running");
    s_end (&r, s_key (&r, 0), "completed");
    cr_assert_str_eq (workflow_status (r.state), "succeeded");
    free (ask1);
    free (ask2);
    free (work);
    s_free (&r);
}

Test (control, a_retry_goes_on_while_pausing_not_while_cancelling)
{
    run_t r;
    s_start (&r, wf_load_fixture ("task-retry-spec"), NULL);
    char *k = strdup (s_key (&r, 0));
    s_request (&r, "pause");
    s_end (&r, k, "failed");
    free (k);
    cr_assert_eq (json_array_size (r.commands), 1);
    cr_assert_str_eq (s_key (&r, 0), "0.1/task1");
    cr_assert_str_eq (workflow_status (r.state), "pausing");
    k = strdup (s_key (&r, 0));
    s_end (&r, k, "completed");
    free (k);
    cr_assert_str_eq (workflow_status (r.state), "paused");
    s_request (&r, "resume");
    cr_assert_str_eq (s_task (&r, 0), "task2");
    k = strdup (s_key (&r, 0));
    s_end (&r, k, "completed");
    free (k);
    cr_assert_str_eq (workflow_status (r.state), "succeeded");
    s_free (&r);
    run_t c;
    s_start (&c, wf_load_fixture ("task-retry-spec"), NULL);
    k = strdup (s_key (&c, 0));
    s_request (&c, "cancel");
    s_end (&c, k, "failed");
    free (k);
    cr_assert_eq (json_array_size (c.commands), 0);
    cr_assert_str_eq (workflow_status (c.state), "cancelled");
    s_free (&c);
}

Test (control, garbage_keys_are_errors)
{
    run_t r;
    s_start (&r, wf_load_fixture ("with-items-concurrency"),
             "{\"members\": [\"a\", \"b\"]}");
    json_t *before = json_deep_copy (r.state);
    const char *keys[] = {"",
                          "1",
                          "0.0",
                          "-1.0/task1",
                          "0.0.99/task1",
                          "0.0.-1/task1",
                          "0.x/task1",
                          "99999999999999999999.0/task1",
                          "0.0.0/task2",
                          "0.0.0/task1/",
                          NULL};
    for (size_t i = 0; keys[i]; i++) {
        char *error = NULL;
        cr_assert_eq (workflow_task_ended (r.spec, r.state, keys[i], "completed", NULL,
                                           r.commands, &error),
                      -1, "%s", keys[i]);
        free (error);
        cr_assert_eq (
            workflow_task_pending (r.spec, r.state, keys[i], r.commands, &error), -1,
            "%s", keys[i]);
        free (error);
    }
    char *error = NULL;
    cr_assert_eq (workflow_task_ended (r.spec, r.state, "0.0.0/task1", NULL, NULL,
                                       r.commands, &error),
                  -1);
    free (error);
    cr_assert (json_equal (before, r.state));
    json_decref (before);
    s_free (&r);
}

//  Seeded random walks over every fixture: children end in any order with
//  any status, go pending, the operator cancels, pauses and resumes. No
//  call crashes; every run ends once nothing is left running; an ended run
//  gives no more commands.
Test (control, random_walks_end_cleanly)
{
    static const char *fixtures[] = {"sequential",
                                     "parallel",
                                     "branching",
                                     "join",
                                     "join-count",
                                     "join-count-complex",
                                     "join-context",
                                     "splits",
                                     "splits-nested",
                                     "cycle",
                                     "cycles",
                                     "cycle-fork",
                                     "error-handling-fail",
                                     "error-log-fail-concurrent",
                                     "task-retry-spec",
                                     "task-retry-command-default-when",
                                     "with-items-concurrency",
                                     "with-items-remediate",
                                     "with-items-parallel",
                                     "rollback-retry",
                                     NULL};
    static const char *statuses[] = {"completed", "completed", "completed",
                                     "failed",    "timeout",   "cancelled"};
    unsigned seed = 42;
    for (size_t f = 0; fixtures[f]; f++)
        for (int walk = 0; walk < 10; walk++) {
            run_t r;
            s_start (&r, wf_load_fixture (fixtures[f]),
                     "{\"name\": \"x\", \"members\": [\"a\", \"b\", \"c\"], \"which\": "
                     "\"a\"}");
            json_t *running = json_array ();
            for (int step = 0; step < 400 && !workflow_done (r.state); step++) {
                size_t i;
                json_t *c;
                json_array_foreach (
                    r.commands, i,
                    c) if (streq (json_string_value (json_object_get (c, "op")), "run"))
                    json_array_append (running, json_object_get (c, "key"));
                json_array_clear (r.commands);
                int dice = rand_r (&seed) % 20;
                char *error = NULL;
                if (dice == 0)
                    workflow_request (r.spec, r.state, "pause", r.commands, &error);
                else if (dice == 1)
                    workflow_request (r.spec, r.state, "resume", r.commands, &error);
                else if (dice == 2 && walk % 3 == 0)
                    workflow_request (r.spec, r.state, "cancel", r.commands, &error);
                else if (json_array_size (running)) {
                    size_t pick = (size_t)rand_r (&seed) % json_array_size (running);
                    const char *key = json_string_value (json_array_get (running, pick));
                    if (dice == 3)
                        workflow_task_pending (r.spec, r.state, key, r.commands, &error);
                    else {
                        cr_assert_eq (workflow_task_ended (r.spec, r.state, key,
                                                           statuses[rand_r (&seed) % 6],
                                                           NULL, r.commands, &error),
                                      0, "%s: %s", fixtures[f], error);
                        json_array_remove (running, pick);
                    }
                } else
                    workflow_request (r.spec, r.state, "resume", r.commands, &error);
                free (error);
            }
            cr_assert (workflow_done (r.state), "%s walk %d: still %s with %zu running",
                       fixtures[f], walk, workflow_status (r.state),
                       json_array_size (running));
            json_decref (running);
            json_t *result = workflow_result (r.state);
            cr_assert (json_is_object (result));
            json_decref (result);
            s_free (&r);
        }
}
