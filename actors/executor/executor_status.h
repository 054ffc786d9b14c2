/*  executor_status: the execution lifecycle, defined once.

        requested -> scheduled -> running -> completed | failed | timeout
        (delayed while a policy holds it; pending while an inquiry is open;
         canceling while a cancel is under way; cancelled and abandoned end
         what a person or a lost worker ends; a workflow is pausing, paused
         and resuming as its engine says, issue 18)

    Every status change is an event applied to the current status through
    one table (executor_status.c): execution_status_next (status, event)
    says where it goes, or -1 when that event cannot happen in that status.
    Events are named causes, of two kinds:

      - caused by the executor: everything up to scheduled, policies,
        inquiries, cancels, lost workers;
      - reported by a worker (execution.status): only running, completed,
        failed, timeout and cancelled can be reported
        (execution_event_reported), and only of an execution given to a
        worker (scheduled, running, canceling). A late "running" after
        "completed" changes nothing.
*/
#ifndef EXECUTOR_STATUS_H_INCLUDED
#define EXECUTOR_STATUS_H_INCLUDED

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    EXECUTION_REQUESTED = 0,
    EXECUTION_DELAYED,
    EXECUTION_SCHEDULED,
    EXECUTION_RUNNING,
    EXECUTION_PENDING,
    EXECUTION_CANCELING,
    EXECUTION_PAUSING,  //  a workflow: a pause asked of its engine
    EXECUTION_PAUSED,   //  its engine says nothing of it runs
    EXECUTION_RESUMING, //  a resume asked of its engine
    EXECUTION_COMPLETED,
    EXECUTION_FAILED,
    EXECUTION_TIMEOUT,
    EXECUTION_CANCELLED,
    EXECUTION_ABANDONED,
    EXECUTION_STATUS_COUNT
} execution_status_t;

typedef enum {
    //  Caused by the executor
    EXECUTION_HOLD = 0,   //  a policy holds it (queue, rate, deferred retry)
    EXECUTION_RELEASE,    //  the policy lets it go: it waits for a worker
    EXECUTION_REJECT,     //  it cannot run: no such action, disabled, bad parameters
    EXECUTION_REFUSE,     //  a policy refuses it
    EXECUTION_EXPIRE,     //  held longer than its policy's queue_timeout
    EXECUTION_SCHEDULE,   //  given to a worker
    EXECUTION_RETURN,     //  given back unstarted (worker lost or draining, a claim
                          //  never started): it waits again
    EXECUTION_RERUN,      //  its worker was lost while it ran, and the action is
                          //  idempotent: it waits to run again
    EXECUTION_ABANDON,    //  its worker was lost while it ran
    EXECUTION_ASK,        //  it ended asking a person: an inquiry is open
    EXECUTION_ASK_WRONG,  //  it ended asking a person, with an invalid inquiry
    EXECUTION_ANSWER,     //  its inquiry was answered
    EXECUTION_UNANSWERED, //  its inquiry timed out
    EXECUTION_CANCEL,     //  cancelled by request, here and now
    EXECUTION_CANCEL_ON_WORKER, //  cancel asked of the live worker running it
    EXECUTION_PAUSE_ON_WORKER,  //  pause asked of the workflow engine running it
    EXECUTION_RESUME_ON_WORKER, //  resume asked of the workflow engine running it
    //  Reported by a worker (execution.status)
    EXECUTION_REPORT_RUNNING,
    EXECUTION_REPORT_COMPLETED,
    EXECUTION_REPORT_FAILED,
    EXECUTION_REPORT_TIMEOUT,
    EXECUTION_REPORT_CANCELLED,
    EXECUTION_REPORT_PAUSED, //  a workflow engine: nothing of it runs now
    EXECUTION_EVENT_COUNT
} execution_event_t;

//  "requested", "scheduled" ...
const char *execution_status_name (execution_status_t status);
//  Parse a name; -1 when unknown.
int execution_status_parse (const char *name);
//  completed, failed, timeout, cancelled, abandoned
bool execution_status_terminal (execution_status_t status);

//  "hold", "report_running" ...
const char *execution_event_name (execution_event_t event);
//  The status `event` moves an execution in `from` to, or -1 when the table
//  has no such transition (the execution does not change).
int execution_status_next (execution_status_t from, execution_event_t event);
//  The event of a worker reporting `status`, or -1 when a worker may not
//  report that status.
int execution_event_reported (execution_status_t status);
//  True for the events a worker reports.
bool execution_event_by_worker (execution_event_t event);
//  True when some event moves `from` to `to`.
bool execution_status_allowed (execution_status_t from, execution_status_t to);

#ifdef __cplusplus
}
#endif

#endif
