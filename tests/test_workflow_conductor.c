/*  The workflow conductor against Orquesta's own native fixtures
    (../shared/orquesta-fixtures): each workflow driven with simulated
    children, its task sequence, status and output as Orquesta's semantics
    give them (worked out from its documentation and its conducting tests
    for these very files), success and failure paths. */
#include "tests/testing_workflow.h"

#define SEQ(...) ((const char *const[]){__VA_ARGS__, NULL})
#define MOCKS(...)                                                                       \
    ((const wf_mock_t[]){__VA_ARGS__}),                                                  \
        sizeof ((const wf_mock_t[]){__VA_ARGS__}) / sizeof (wf_mock_t)
#define NO_MOCKS NULL, 0

//  Drive `fixture` and check the sequence, the status and (when given) the
//  output.
static void
s_check (const char *fixture, const char *input, const wf_mock_t *mocks, size_t count,
         const char *const *expected, const char *status, const char *output)
{
    wf_drive_t d = {0};
    for (size_t i = 0; i < count; i++)
        d.mocks[d.mock_count++] = mocks[i];
    wf_drive (&d, wf_load_fixture (fixture), input);
    wf_assert_sequence (&d, expected);
    wf_assert_status (&d, status);
    if (output)
        wf_assert_output (&d, output);
    wf_drive_free (&d);
}

Test (conductor_basic, sequential)
{
    s_check (
        "sequential", "{\"name\": \"Stanley\"}",
        MOCKS ({"task1", -1, NULL, "\"Stanley\"", 0},
               {"task2", -1, NULL, "\"All your base are belong to us!\"", 0},
               {"task3", -1, NULL, "\"Stanley, All your base are belong to us!\"", 0}),
        SEQ ("task1", "task2", "task3", "continue"), "succeeded",
        "{\"greeting\": \"Stanley, All your base are belong to us!\"}");
}

Test (conductor_basic, sequential_renders_input_from_context)
{
    wf_drive_t d = {0};
    wf_drive (&d, wf_load_fixture ("sequential"), "{\"name\": \"Stanley\"}");
    //  task1 is `core.echo message=<% ctx().name %>`; task3 reads the greeting
    json_t *first = json_array_get (d.commands, 0);
    cr_assert_str_eq (json_string_value (json_object_get (first, "action")), "core.echo");
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (first, "parameters"), "message")),
                      "Stanley");
    json_t *third = json_array_get (d.commands, 2);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (third, "parameters"), "message")),
                      "None, None");
    wf_drive_free (&d);
}

Test (conductor_basic, parallel)
{
    s_check ("parallel", NULL, NO_MOCKS,
             SEQ ("task1", "task4", "task2", "task5", "task3", "task6"), "succeeded",
             NULL);
}

Test (conductor_basic, branching)
{
    s_check ("branching", NULL, NO_MOCKS,
             SEQ ("task1", "task2", "task4", "task3", "task5"), "succeeded", NULL);
}

Test (conductor_basic, decision)
{
    s_check ("decision", "{\"which\": \"a\"}", NO_MOCKS, SEQ ("t1", "a"), "succeeded",
             NULL);
    s_check ("decision", "{\"which\": \"b\"}", NO_MOCKS, SEQ ("t1", "b"), "succeeded",
             NULL);
    s_check ("decision", "{\"which\": \"c\"}", NO_MOCKS, SEQ ("t1", "c"), "succeeded",
             NULL);
}

Test (conductor_basic, a_failed_task_with_no_handler_fails_the_workflow)
{
    s_check ("sequential", "{\"name\": \"x\"}",
             MOCKS ({"task2", -1, "failed", "{\"stderr\": \"boom\"}", 0}),
             SEQ ("task1", "task2"), "failed", "{\"greeting\": null}");
}

Test (conductor_cycle, cycle)
{
    s_check ("cycle", NULL, NO_MOCKS,
             SEQ ("prep", "task1", "task2", "task3", "task1", "task2", "task3", "task1",
                  "task2", "task3"),
             "succeeded", NULL);
}

Test (conductor_cycle, cycles)
{
    s_check ("cycles", NULL, NO_MOCKS,
             SEQ ("prep", "task1", "task2", "task3", "task4", "task2", "task5", "task1",
                  "task2", "task3", "task4", "task2", "task5", "task1", "task2", "task3",
                  "task4", "task2", "task5"),
             "succeeded", NULL);
}

Test (conductor_cycle, cycle_retry)
{
    s_check ("cycle-retry", NULL, MOCKS ({"task1", -1, "failed", NULL, 2}),
             SEQ ("init", "task1", "task1", "task1", "task2"), "succeeded", NULL);
}

Test (conductor_cycle, rollback_retry)
{
    s_check ("rollback-retry", NULL, MOCKS ({"check", -1, "failed", NULL, 0}),
             SEQ ("init", "check", "create", "rollback", "check", "delete"), "succeeded",
             NULL);
}

Test (conductor_cycle, cycle_and_fork)
{
    s_check ("cycle-fork", NULL,
             MOCKS ({"query", -1, NULL, "true", 0}, {"query", -1, NULL, "false", 0}),
             SEQ ("init", "query", "decide_cheer", "decide_work", "cheer", "notify_work",
                  "toil", "query", "decide_cheer", "decide_work"),
             "succeeded", NULL);
}

Test (conductor_errors, error_handling)
{
    s_check ("error-handling", NULL, NO_MOCKS, SEQ ("task1", "task2"), "succeeded", NULL);
    s_check ("error-handling", NULL, MOCKS ({"task1", -1, "failed", NULL, 0}),
             SEQ ("task1", "task3"), "succeeded", NULL);
}

Test (conductor_errors, continue)
{
    s_check ("error-handling-continue", NULL, NO_MOCKS,
             SEQ ("task1", "task2", "continue__r1"), "succeeded",
             "{\"message\": \"hooray!!!\"}");
    s_check ("error-handling-continue", NULL, MOCKS ({"task1", -1, "failed", NULL, 0}),
             SEQ ("task1", "continue__r1"), "failed", "{\"message\": \"$%#&@#$!!!\"}");
}

Test (conductor_errors, noop)
{
    s_check ("error-handling-noop", NULL, NO_MOCKS, SEQ ("task1", "task2", "continue"),
             "succeeded", "{\"message\": \"hooray!!!\"}");
    s_check ("error-handling-noop", NULL, MOCKS ({"task1", -1, "failed", NULL, 0}),
             SEQ ("task1", "noop"), "succeeded", "{\"message\": \"$%#&@#$!!!\"}");
}

Test (conductor_errors, fail)
{
    s_check ("error-handling-fail", NULL, NO_MOCKS, SEQ ("task1", "task2", "continue"),
             "succeeded", "{\"message\": \"hooray!!!\"}");
    s_check ("error-handling-fail", NULL, MOCKS ({"task1", -1, "failed", NULL, 0}),
             SEQ ("task1", "task3", "fail"), "failed", "{\"message\": \"$%#&@#$!!!\"}");
}

Test (conductor_errors, log_then_fail)
{
    s_check ("error-log-fail", NULL,
             MOCKS ({"task1", -1, "failed", "\"All your base\"", 0},
                    {"log", -1, NULL, "\"All your base\"", 0}),
             SEQ ("task1", "log", "fail"), "failed", NULL);
}

Test (conductor_errors, log_and_fail_concurrently)
{
    wf_drive_t d = {0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task1", -1, "failed", "\"All your base\"", 0};
    wf_drive (&d, wf_load_fixture ("error-log-fail-concurrent"), NULL);
    //  the fail command and the log task its transition staged beside it
    //  (Orquesta's run_on_fail): log still runs, with the published error
    wf_assert_sequence (&d, SEQ ("task1", "fail", "log"));
    wf_assert_status (&d, "failed");
    json_t *log = json_array_get (d.commands, 1);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (log, "parameters"), "message")),
                      "All your base");
    json_t *result = workflow_result (d.state);
    json_t *errors = json_object_get (result, "errors");
    cr_assert_eq (json_array_size (errors), 1);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_array_get (errors, 0), "task")),
        "task1");
    json_decref (result);
    wf_drive_free (&d);
}

Test (conductor_transitions, on_complete)
{
    s_check ("task-on-complete", NULL, NO_MOCKS, SEQ ("task1", "task2", "task4"),
             "succeeded", NULL);
    s_check ("task-on-complete", NULL, MOCKS ({"task1", -1, "failed", NULL, 0}),
             SEQ ("task1", "task3", "task4"), "succeeded", NULL);
}

Test (conductor_transitions, split_transitions)
{
    s_check ("task-transitions-split", NULL, NO_MOCKS,
             SEQ ("task1__r0", "task2__r1", "task2__r2"), "succeeded", NULL);
    s_check ("task-transitions-split", NULL, MOCKS ({"task1", -1, "failed", NULL, 0}),
             SEQ ("task1__r0", "task2__r1", "task2__r2"), "succeeded", NULL);
}

Test (conductor_transitions, duplicate_transitions)
{
    //  two transitions into task2: a split, task2 runs once per route
    s_check ("task-duplicate-transition", NULL, NO_MOCKS,
             SEQ ("task1__r0", "task2__r1", "task2__r2"), "succeeded", NULL);
    s_check ("task-duplicate-when", NULL, NO_MOCKS, SEQ ("task1", "task2", "task3"),
             "succeeded", NULL);
}

Test (conductor_split, split)
{
    s_check ("split", NULL, NO_MOCKS,
             SEQ ("task1__r0", "task2__r0", "task3__r0", "task4__r1", "task4__r2",
                  "task5__r1", "task5__r2", "task6__r1", "task6__r2", "task7__r1",
                  "task7__r2"),
             "succeeded", NULL);
}

Test (conductor_split, splits)
{
    wf_drive_t d = {0};
    wf_drive (&d, wf_load_fixture ("splits"), NULL);
    wf_assert_sequence (&d, SEQ ("task1__r0", "task2__r0", "task3__r0", "task8__r1",
                                 "task4__r2", "task4__r3", "task5__r2", "task5__r3",
                                 "task6__r2", "task6__r3", "task7__r2", "task7__r3",
                                 "task8__r4", "task8__r5"));
    json_t *want =
        json_loads ("[[], [\"task1__t0\"], [\"task2__t0\"], [\"task3__t0\"],"
                    " [\"task2__t0\", \"task7__t0\"], [\"task3__t0\", \"task7__t0\"]]",
                    0, NULL);
    cr_assert (json_equal (json_object_get (d.state, "routes"), want));
    json_decref (want);
    wf_assert_status (&d, "succeeded");
    wf_drive_free (&d);
}

Test (conductor_split, nested)
{
    s_check ("splits-nested", NULL, NO_MOCKS,
             SEQ ("task1__r0", "task2__r0", "task3__r0", "task4__r1", "task4__r2",
                  "task5__r1", "task5__r2", "task6__r1", "task6__r2", "task7__r3",
                  "task7__r4", "task7__r5", "task7__r6", "task8__r3", "task8__r4",
                  "task8__r5", "task8__r6", "task9__r3", "task9__r4", "task9__r5",
                  "task9__r6", "task10__r3", "task10__r4", "task10__r5", "task10__r6"),
             "succeeded", NULL);
}

Test (conductor_split, mixed)
{
    s_check ("splits-mixed", NULL, NO_MOCKS,
             SEQ ("task1__r0", "task2__r0", "task3__r1", "task3__r2", "task4__r3",
                  "task4__r4", "task5__r3", "task5__r4"),
             "succeeded", NULL);
    s_check ("splits-mixed", NULL,
             MOCKS ({"task3", -1, NULL, NULL, 0}, {"task3", -1, "failed", NULL, 0}),
             SEQ ("task1__r0", "task2__r0", "task3__r1", "task3__r2", "task4__r3",
                  "task4__r4", "task5__r3", "task5__r4"),
             "succeeded", NULL);
}

Test (conductor_split, multiple_transitions)
{
    s_check ("splits-transition", NULL, NO_MOCKS,
             SEQ ("task1__r0", "task2__r0", "task3__r1", "task3__r2", "task4__r3",
                  "task4__r4", "task4__r5", "task4__r6", "task5__r3", "task5__r4",
                  "task5__r5", "task5__r6", "task6__r3", "task6__r4", "task6__r5",
                  "task6__r6", "task7__r3", "task7__r4", "task7__r5", "task7__r6"),
             "succeeded", NULL);
}

Test (conductor_split, very_many)
{
    s_check ("splits-very-many", NULL, NO_MOCKS,
             SEQ ("init__r0", "notify__r1", "task2__r2", "task5__r3", "task7__r3",
                  "task9__r4", "task10__r4", "task11__r5", "task12__r5", "task13__r5",
                  "task14__r6", "task15__r6", "task17__r7", "notify__r8"),
             "succeeded", NULL);
}

Test (conductor_join, join)
{
    s_check ("join", NULL, NO_MOCKS,
             SEQ ("task1", "task2", "task4", "task3", "task5", "task6", "task7"),
             "succeeded", NULL);
}

Test (conductor_join, no_inbound_fires)
{
    s_check ("join", NULL,
             MOCKS ({"task3", -1, "failed", NULL, 0}, {"task5", -1, "failed", NULL, 0}),
             SEQ ("task1", "task2", "task4", "task3", "task5"), "failed", NULL);
    s_check ("join", NULL, MOCKS ({"task3", -1, "failed", NULL, 0}),
             SEQ ("task1", "task2", "task4", "task3", "task5"), "failed", NULL);
    s_check ("join", NULL, MOCKS ({"task5", -1, "failed", NULL, 0}),
             SEQ ("task1", "task2", "task4", "task3", "task5"), "failed", NULL);
}

Test (conductor_join, count_satisfied_while_a_branch_runs)
{
    s_check ("join-count", NULL, MOCKS ({"task6", -1, "running", NULL, 0}),
             SEQ ("task1", "task2", "task4", "task6", "task3", "task5", "task8"),
             "running", NULL);
}

Test (conductor_join, count_satisfied_with_a_branch_error)
{
    s_check (
        "join-count", NULL, MOCKS ({"task6", -1, "failed", NULL, 0}),
        SEQ ("task1", "task2", "task4", "task6", "noop__r1", "task3", "task5", "task8"),
        "succeeded", NULL);
    s_check ("join-count", NULL, MOCKS ({"task7", -1, "failed", NULL, 0}),
             SEQ ("task1", "task2", "task4", "task6", "task3", "task5", "task7",
                  "noop__r1", "task8"),
             "succeeded", NULL);
}

Test (conductor_join, count_not_satisfied)
{
    wf_drive_t d = {0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task5", -1, "failed", NULL, 0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task7", -1, "failed", NULL, 0};
    wf_drive (&d, wf_load_fixture ("join-count"), NULL);
    wf_assert_sequence (&d, SEQ ("task1", "task2", "task4", "task6", "task3", "task5",
                                 "task7", "noop__r1", "noop__r2"));
    wf_assert_status (&d, "failed");
    json_t *result = workflow_result (d.state);
    json_t *errors = json_object_get (result, "errors");
    char *text = json_dumps (errors, JSON_COMPACT);
    cr_assert_eq (json_array_size (errors), 3, "%s", text);
    cr_assert (strstr (text, "UnreachableJoinError: The join task|route \\\"task8|0\\\""),
               "%s", text);
    free (text);
    json_decref (result);
    wf_drive_free (&d);
}

Test (conductor_join, context_merges_branches)
{
    s_check ("join-context", NULL,
             MOCKS ({"task2", -1, NULL, "\"Fee fi\"", 0},
                    {"task4", -1, NULL, "\"I smell the blood of an English man\"", 0},
                    {"task3", -1, NULL, "\"fo fum\"", 0},
                    {"task7", -1, NULL, "\"Be alive, or be he dead\"", 0}),
             SEQ ("task1", "task2", "task4", "task6", "task8", "task3", "task5", "task7",
                  "task9", "task10"),
             "succeeded",
             "{\"messages\": [\"Fee fi fo fum\", \"I smell the blood of an English man\","
             " \"Be alive, or be he dead\", \"I'll grind his bones to make my bread\"]}");
}

Test (conductor_join, on_complete)
{
    const char *const *all =
        SEQ ("task1", "task2", "task4", "task3", "task5", "task6", "task7");
    s_check ("join-on-complete", NULL, NO_MOCKS, all, "succeeded", NULL);
    s_check ("join-on-complete", NULL, MOCKS ({"task3", -1, "failed", NULL, 0}), all,
             "succeeded", NULL);
    s_check ("join-on-complete", NULL, MOCKS ({"task5", -1, "failed", NULL, 0}), all,
             "succeeded", NULL);
    s_check ("join-on-complete", NULL,
             MOCKS ({"task3", -1, "failed", NULL, 0}, {"task5", -1, "failed", NULL, 0}),
             all, "succeeded", NULL);
}

Test (conductor_join, on_fail)
{
    const char *const *five = SEQ ("task1", "task2", "task4", "task3", "task5");
    s_check ("join-on-fail", NULL, NO_MOCKS, five, "succeeded", NULL);
    s_check ("join-on-fail", NULL, MOCKS ({"task3", -1, "failed", NULL, 0}), five,
             "failed", NULL);
    s_check ("join-on-fail", NULL, MOCKS ({"task5", -1, "failed", NULL, 0}), five,
             "failed", NULL);
    s_check ("join-on-fail", NULL,
             MOCKS ({"task3", -1, "failed", NULL, 0}, {"task5", -1, "failed", NULL, 0}),
             SEQ ("task1", "task2", "task4", "task3", "task5", "task6", "task7"),
             "succeeded", NULL);
}

Test (conductor_join, all_complex)
{
    const char *const *all =
        SEQ ("task1", "task2", "task4", "task3", "task5", "task6", "task7");
    s_check ("join-all-complex", NULL, NO_MOCKS, all, "succeeded", NULL);
    s_check ("join-all-complex", NULL, MOCKS ({"task3", -1, "failed", NULL, 0}), all,
             "succeeded", NULL);
    s_check ("join-all-complex", NULL,
             MOCKS ({"task3", -1, "failed", NULL, 0}, {"task5", -1, "failed", NULL, 0}),
             all, "succeeded", NULL);
}

Test (conductor_join, count_complex)
{
    s_check ("join-count-complex", NULL, NO_MOCKS,
             SEQ ("task1", "task2", "task4", "task6", "task3", "task5", "task7", "task8",
                  "task9"),
             "succeeded", NULL);
    s_check ("join-count-complex", NULL, MOCKS ({"task6", -1, "failed", NULL, 0}),
             SEQ ("task1", "task2", "task4", "task6", "noop__r1", "task3", "task5",
                  "task8", "task9"),
             "succeeded", NULL);
    s_check ("join-count-complex", NULL, MOCKS ({"task2", -1, "failed", NULL, 0}),
             SEQ ("task1", "task2", "task4", "task6", "noop__r1", "task5", "task7",
                  "task8", "task9"),
             "succeeded", NULL);
    s_check ("join-count-complex", NULL,
             MOCKS ({"task4", -1, "failed", NULL, 0}, {"task6", -1, "failed", NULL, 0}),
             SEQ ("task1", "task2", "task4", "task6", "noop__r1", "noop__r2", "task3"),
             "failed", NULL);
}
