/*  executor_status: the execution lifecycle table, walked pair by pair.

    The expected table is written out here, independently of
    executor_status.c: every (status, event) pair is checked against it, so
    a transition added to or removed from the table without changing this
    test fails.
*/
#include <criterion/criterion.h>
#include <string.h>
#include "actors/executor/executor_status.h"

#define streq(a, b) (strcmp ((a), (b)) == 0)

//  Columns: the events, in execution_event_t order.
static const char *const s_columns[EXECUTION_EVENT_COUNT] = {"hold",
                                                             "release",
                                                             "reject",
                                                             "refuse",
                                                             "expire",
                                                             "schedule",
                                                             "return",
                                                             "rerun",
                                                             "abandon",
                                                             "ask",
                                                             "ask_wrong",
                                                             "answer",
                                                             "unanswered",
                                                             "cancel",
                                                             "cancel_on_worker",
                                                             "pause_on_worker",
                                                             "resume_on_worker",
                                                             "report_running",
                                                             "report_completed",
                                                             "report_failed",
                                                             "report_timeout",
                                                             "report_cancelled",
                                                             "report_paused"};

//  Rows: each status and where each event takes it ("-": nowhere).
static const struct {
    const char *status;
    const char *next[EXECUTION_EVENT_COUNT];
} s_expected[EXECUTION_STATUS_COUNT] = {
    //  columns as s_columns: hold release reject refuse expire schedule
    //  return rerun abandon ask ask_wrong answer unanswered cancel
    //  cancel_on_worker pause_on_worker resume_on_worker r_running
    //  r_completed r_failed r_timeout r_cancelled r_paused
    {"requested", {"delayed", "-", "failed", "cancelled", "-", "scheduled", "-", "-",
                   "-",       "-", "-",      "-",         "-", "cancelled", "-", "-",
                   "-",       "-", "-",      "-",         "-", "-",         "-"}},
    {"delayed",
     {"-", "requested", "-", "cancelled", "timeout", "-", "-", "-", "-", "-", "-", "-",
      "-", "cancelled", "-", "-",         "-",       "-", "-", "-", "-", "-", "-"}},
    {"scheduled",
     {"-", "-",       "-",         "-",      "-",       "-",         "requested", "-",
      "-", "pending", "failed",    "-",      "-",       "cancelled", "canceling", "-",
      "-", "running", "completed", "failed", "timeout", "cancelled", "paused"}},
    {"running", {"-",         "-",         "-",         "-",         "-",      "-",
                 "requested", "requested", "abandoned", "pending",   "failed", "-",
                 "-",         "cancelled", "canceling", "pausing",   "-",      "-",
                 "completed", "failed",    "timeout",   "cancelled", "paused"}},
    {"pending",
     {"-",       "-",         "-", "-", "-", "-", "-", "-", "-", "-", "-", "completed",
      "timeout", "cancelled", "-", "-", "-", "-", "-", "-", "-", "-", "-"}},
    {"canceling",
     {"-",         "-",       "-",         "-",      "-",       "-",         "-", "-",
      "abandoned", "pending", "failed",    "-",      "-",       "-",         "-", "-",
      "-",         "-",       "completed", "failed", "timeout", "cancelled", "-"}},
    {"pausing",
     {"-",         "-",         "-",         "-",         "-",        "-",
      "-",         "-",         "abandoned", "-",         "-",        "-",
      "-",         "cancelled", "canceling", "-",         "resuming", "running",
      "completed", "failed",    "timeout",   "cancelled", "paused"}},
    {"paused", {"-",         "-",         "-",         "-",         "-",        "-",
                "-",         "-",         "abandoned", "-",         "-",        "-",
                "-",         "cancelled", "canceling", "-",         "resuming", "running",
                "completed", "failed",    "timeout",   "cancelled", "-"}},
    {"resuming", {"-",         "-",         "-",         "-",         "-",     "-",
                  "-",         "-",         "abandoned", "-",         "-",     "-",
                  "-",         "cancelled", "canceling", "-",         "-",     "running",
                  "completed", "failed",    "timeout",   "cancelled", "paused"}},
    {"completed", {"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-",
                   "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}},
    {"failed", {"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-",
                "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}},
    {"timeout", {"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-",
                 "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}},
    {"cancelled", {"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-",
                   "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}},
    {"abandoned", {"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-",
                   "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}},
};

Test (executor_status, names_round_trip)
{
    for (int s = 0; s < EXECUTION_STATUS_COUNT; s++) {
        cr_expect_str_eq (execution_status_name ((execution_status_t)s),
                          s_expected[s].status);
        cr_expect_eq (execution_status_parse (s_expected[s].status), s);
    }
    for (int e = 0; e < EXECUTION_EVENT_COUNT; e++)
        cr_expect_str_eq (execution_event_name ((execution_event_t)e), s_columns[e]);
    cr_expect_eq (execution_status_parse ("nope"), -1);
    cr_expect_eq (execution_status_parse (NULL), -1);
    cr_expect_str_eq (execution_status_name (EXECUTION_STATUS_COUNT), "unknown");
    cr_expect_str_eq (execution_event_name (EXECUTION_EVENT_COUNT), "unknown");
}

Test (executor_status, every_pair_against_the_table)
{
    int moves = 0;
    for (int s = 0; s < EXECUTION_STATUS_COUNT; s++)
        for (int e = 0; e < EXECUTION_EVENT_COUNT; e++) {
            const char *want = s_expected[s].next[e];
            int expected = streq (want, "-") ? -1 : execution_status_parse (want);
            cr_assert (streq (want, "-") || expected >= 0, "bad expectation %s", want);
            int got = execution_status_next ((execution_status_t)s, (execution_event_t)e);
            cr_expect_eq (got, expected, "%s + %s: got %s, expected %s",
                          s_expected[s].status, s_columns[e],
                          got < 0 ? "-" : execution_status_name (got), want);
            moves += got >= 0;
        }
    cr_expect_eq (moves, 71, "transitions in the table: %d", moves);
}

Test (executor_status, terminal_statuses_move_nowhere)
{
    for (int s = 0; s < EXECUTION_STATUS_COUNT; s++) {
        bool terminal = execution_status_terminal ((execution_status_t)s);
        cr_expect_eq (terminal, s >= EXECUTION_COMPLETED, "%s", s_expected[s].status);
        for (int e = 0; terminal && e < EXECUTION_EVENT_COUNT; e++)
            cr_expect_eq (
                execution_status_next ((execution_status_t)s, (execution_event_t)e), -1);
    }
}

Test (executor_status, out_of_range_moves_nowhere)
{
    cr_expect_eq (execution_status_next (EXECUTION_STATUS_COUNT, EXECUTION_HOLD), -1);
    cr_expect_eq (execution_status_next ((execution_status_t)-1, EXECUTION_HOLD), -1);
    cr_expect_eq (execution_status_next (EXECUTION_REQUESTED, EXECUTION_EVENT_COUNT), -1);
    cr_expect_eq (execution_status_next (EXECUTION_REQUESTED, (execution_event_t)-1), -1);
}

//  A worker reports only running, completed, failed, timeout, cancelled
//  (and a workflow engine paused).
Test (executor_status, a_worker_reports_only_its_statuses)
{
    const char *reportable[] = {"running", "completed", "failed",
                                "timeout", "cancelled", "paused"};
    for (int s = 0; s < EXECUTION_STATUS_COUNT; s++) {
        bool may = false;
        for (size_t i = 0; i < sizeof reportable / sizeof reportable[0]; i++)
            may |= streq (reportable[i], s_expected[s].status);
        int event = execution_event_reported ((execution_status_t)s);
        cr_expect_eq (event >= 0, may, "%s", s_expected[s].status);
        if (event >= 0) {
            cr_expect (execution_event_by_worker ((execution_event_t)event));
            //  Where a report moves an execution, it moves it to what it says
            for (int from = 0; from < EXECUTION_STATUS_COUNT; from++) {
                int to = execution_status_next ((execution_status_t)from,
                                                (execution_event_t)event);
                cr_expect (to < 0 || to == s, "%s reported from %s gives %d",
                           s_expected[s].status, s_expected[from].status, to);
            }
        }
    }
    //  The executor's own causes are not a worker's
    for (int e = 0; e < EXECUTION_REPORT_RUNNING; e++)
        cr_expect_not (execution_event_by_worker ((execution_event_t)e), "%s",
                       s_columns[e]);
    //  Nothing a worker reports touches a pending execution (it waits for a
    //  person) or one no worker has (requested, delayed)
    for (int e = EXECUTION_REPORT_RUNNING; e < EXECUTION_EVENT_COUNT; e++) {
        cr_expect_eq (execution_status_next (EXECUTION_PENDING, (execution_event_t)e),
                      -1);
        cr_expect_eq (execution_status_next (EXECUTION_REQUESTED, (execution_event_t)e),
                      -1);
        cr_expect_eq (execution_status_next (EXECUTION_DELAYED, (execution_event_t)e),
                      -1);
    }
}

//  execution_status_allowed is "some event moves from -> to".
Test (executor_status, allowed_follows_the_table)
{
    for (int from = 0; from < EXECUTION_STATUS_COUNT; from++)
        for (int to = 0; to < EXECUTION_STATUS_COUNT; to++) {
            bool some = false;
            for (int e = 0; e < EXECUTION_EVENT_COUNT; e++)
                some |= streq (s_expected[from].next[e], s_expected[to].status);
            cr_expect_eq (execution_status_allowed ((execution_status_t)from,
                                                    (execution_status_t)to),
                          some, "%s -> %s", s_expected[from].status,
                          s_expected[to].status);
        }
}
