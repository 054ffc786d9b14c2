/*  executor_workers and executor_status: worker choice and the lifecycle. */
#include <criterion/criterion.h>
#include <string.h>
#include "actors/executor/executor_status.h"
#include "actors/executor/executor_workers.h"

Test (executor_workers, picks_fitting_live_least_loaded_round_robin)
{
    executor_workers_t *workers = executor_workers_new ();
    cr_assert_not_null (executor_workers_upsert (workers, "a", "inproc://a",
                                                 "noop,builtin,local-shell-cmd", 2, 1));
    cr_assert_not_null (
        executor_workers_upsert (workers, "b", "inproc://b", "noop, builtin", 2, 1));
    cr_assert_not_null (
        executor_workers_upsert (workers, "py", "inproc://py", "python-script", 1, 1));
    //  Only "a" runs shell commands
    executor_worker_t *w = executor_workers_pick (workers, "local-shell-cmd");
    cr_assert_not_null (w);
    cr_expect_str_eq (w->name, "a");
    cr_expect_null (executor_workers_pick (workers, "http-request"));
    //  Round-robin among equals: a, b, a, b
    const char *expect[] = {"a", "b", "a", "b"};
    for (int i = 0; i < 4; i++) {
        w = executor_workers_pick (workers, "noop");
        cr_assert_not_null (w, "pick %d", i);
        cr_expect_str_eq (w->name, expect[i], "pick %d", i);
        executor_workers_acquire (workers, w);
    }
    //  Both full now
    cr_expect_null (executor_workers_pick (workers, "noop"));
    executor_workers_release (workers, "b");
    w = executor_workers_pick (workers, "noop");
    cr_assert_not_null (w);
    cr_expect_str_eq (w->name, "b");
    //  Least loaded wins over round-robin
    executor_workers_release (workers, "a");
    executor_workers_release (workers, "a");
    w = executor_workers_pick (workers, "noop");
    cr_expect_str_eq (w->name, "a");
    //  Dead workers are skipped
    executor_workers_find (workers, "a")->alive = false;
    w = executor_workers_pick (workers, "noop");
    cr_expect_str_eq (w->name, "b");
    executor_workers_remove (workers, "b");
    cr_expect_null (executor_workers_pick (workers, "noop"));
    cr_expect_eq (executor_workers_count (workers), 2);
    cr_expect_null (executor_workers_upsert (workers, "", "x", "noop", 1, 1));
    executor_workers_destroy (&workers);
    cr_expect_null (workers);
}

Test (executor_status, lifecycle)
{
    cr_expect_str_eq (execution_status_name (EXECUTION_ABANDONED), "abandoned");
    cr_expect_eq (execution_status_parse ("timeout"), EXECUTION_TIMEOUT);
    cr_expect_eq (execution_status_parse ("nope"), -1);
    cr_expect (execution_status_allowed (EXECUTION_REQUESTED, EXECUTION_SCHEDULED));
    cr_expect (execution_status_allowed (EXECUTION_SCHEDULED, EXECUTION_RUNNING));
    cr_expect (execution_status_allowed (EXECUTION_RUNNING, EXECUTION_COMPLETED));
    cr_expect (execution_status_allowed (EXECUTION_SCHEDULED, EXECUTION_COMPLETED));
    cr_expect (execution_status_allowed (EXECUTION_RUNNING, EXECUTION_ABANDONED));
    cr_expect_not (execution_status_allowed (EXECUTION_COMPLETED, EXECUTION_RUNNING));
    cr_expect_not (execution_status_allowed (EXECUTION_FAILED, EXECUTION_CANCELLED));
    cr_expect_not (execution_status_allowed (EXECUTION_RUNNING, EXECUTION_SCHEDULED));
    cr_expect_not (execution_status_allowed (EXECUTION_REQUESTED, EXECUTION_RUNNING));
    cr_expect_not (execution_status_allowed (EXECUTION_RUNNING, EXECUTION_RUNNING));
    for (int s = 0; s < EXECUTION_STATUS_COUNT; s++)
        cr_expect_eq (execution_status_terminal ((execution_status_t)s),
                      s >= EXECUTION_COMPLETED, "%s", execution_status_name (s));
}
