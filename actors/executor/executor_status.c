/*  executor_status: the execution lifecycle. See executor_status.h. */
#include "actors/executor/executor_status.h"

#include <string.h>

static const char *const s_names[EXECUTION_STATUS_COUNT] = {
    "requested", "delayed",  "scheduled", "running", "pending", "canceling", "pausing",
    "paused",    "resuming", "completed", "failed",  "timeout", "cancelled", "abandoned"};

static const char *const s_events[EXECUTION_EVENT_COUNT] = {"hold",
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

#define REQ EXECUTION_REQUESTED
#define DEL EXECUTION_DELAYED
#define SCH EXECUTION_SCHEDULED
#define RUN EXECUTION_RUNNING
#define PEN EXECUTION_PENDING
#define CNG EXECUTION_CANCELING
#define PSG EXECUTION_PAUSING
#define PSD EXECUTION_PAUSED
#define RSM EXECUTION_RESUMING
#define COM EXECUTION_COMPLETED
#define FAI EXECUTION_FAILED
#define TIM EXECUTION_TIMEOUT
#define CAN EXECUTION_CANCELLED
#define ABA EXECUTION_ABANDONED
#define NO  (-1)

//  The lifecycle: s_next[from][event] is the status an event moves an
//  execution to, NO where it cannot happen. Terminal statuses move nowhere.
//  The reasons for the less obvious entries:
//   - return from running: a claim recorded running whose process never
//     started (the worker's ledger says so after its restart);
//   - rerun from running: an idempotent action whose worker was lost;
//   - ask/ask_wrong from canceling: the action finished before the cancel
//     reached it, and its result asks a person;
//   - a worker reports only on what was given to a worker: scheduled (a
//     fast action may report its end before its start arrives), running,
//     canceling; never on pending (it waits for a person, not its worker);
//   - pausing, paused, resuming are a workflow's (its engine is its
//     worker): the engine reports paused (asked to, or a task waits on a
//     person) and running again (resumed); each may end as a running one
//     does, be cancelled, or be lost with the engine.
static const signed char s_next[EXECUTION_STATUS_COUNT][EXECUTION_EVENT_COUNT] = {
    //        hold rel  rej  ref  exp  sch  ret  rer  aba  ask  askw ans  una  can  cow
    //        pow  row  r_run r_com r_fai r_tim r_can r_psd
    [REQ] = {DEL, NO,  FAI, CAN, NO, SCH, NO, NO, NO, NO, NO, NO,
             NO,  CAN, NO,  NO,  NO, NO,  NO, NO, NO, NO, NO},
    [DEL] = {NO, REQ, NO, CAN, TIM, NO, NO, NO, NO, NO, NO, NO,
             NO, CAN, NO, NO,  NO,  NO, NO, NO, NO, NO, NO},
    [SCH] = {NO, NO,  NO,  NO, NO, NO,  REQ, NO,  NO,  PEN, FAI, NO,
             NO, CAN, CNG, NO, NO, RUN, COM, FAI, TIM, CAN, PSD},
    [RUN] = {NO, NO,  NO,  NO,  NO, NO, REQ, REQ, ABA, PEN, FAI, NO,
             NO, CAN, CNG, PSG, NO, NO, COM, FAI, TIM, CAN, PSD},
    [PEN] = {NO,  NO,  NO, NO, NO, NO, NO, NO, NO, NO, NO, COM,
             TIM, CAN, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [CNG] = {NO, NO, NO, NO, NO, NO, NO,  NO,  ABA, PEN, FAI, NO,
             NO, NO, NO, NO, NO, NO, COM, FAI, TIM, CAN, NO},
    [PSG] = {NO, NO,  NO,  NO, NO,  NO,  NO,  NO,  ABA, NO,  NO, NO,
             NO, CAN, CNG, NO, RSM, RUN, COM, FAI, TIM, CAN, PSD},
    [PSD] = {NO, NO,  NO,  NO, NO,  NO,  NO,  NO,  ABA, NO,  NO, NO,
             NO, CAN, CNG, NO, RSM, RUN, COM, FAI, TIM, CAN, NO},
    [RSM] = {NO, NO,  NO,  NO, NO, NO,  NO,  NO,  ABA, NO,  NO, NO,
             NO, CAN, CNG, NO, NO, RUN, COM, FAI, TIM, CAN, PSD},
    [COM] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
             NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [FAI] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
             NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [TIM] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
             NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [CAN] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
             NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [ABA] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
             NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
};

const char *
execution_status_name (execution_status_t status)
{
    return (unsigned)status < EXECUTION_STATUS_COUNT ? s_names[status] : "unknown";
}

int
execution_status_parse (const char *name)
{
    for (int i = 0; name && i < EXECUTION_STATUS_COUNT; i++)
        if (strcmp (name, s_names[i]) == 0)
            return i;
    return -1;
}

bool
execution_status_terminal (execution_status_t status)
{
    return status >= EXECUTION_COMPLETED && status < EXECUTION_STATUS_COUNT;
}

const char *
execution_event_name (execution_event_t event)
{
    return (unsigned)event < EXECUTION_EVENT_COUNT ? s_events[event] : "unknown";
}

int
execution_status_next (execution_status_t from, execution_event_t event)
{
    if ((unsigned)from >= EXECUTION_STATUS_COUNT ||
        (unsigned)event >= EXECUTION_EVENT_COUNT)
        return -1;
    return s_next[from][event];
}

int
execution_event_reported (execution_status_t status)
{
    switch (status) {
        case EXECUTION_RUNNING:
            return EXECUTION_REPORT_RUNNING;
        case EXECUTION_COMPLETED:
            return EXECUTION_REPORT_COMPLETED;
        case EXECUTION_FAILED:
            return EXECUTION_REPORT_FAILED;
        case EXECUTION_TIMEOUT:
            return EXECUTION_REPORT_TIMEOUT;
        case EXECUTION_CANCELLED:
            return EXECUTION_REPORT_CANCELLED;
        case EXECUTION_PAUSED:
            return EXECUTION_REPORT_PAUSED;
        default:
            return -1;
    }
}

bool
execution_event_by_worker (execution_event_t event)
{
    return event >= EXECUTION_REPORT_RUNNING && event < EXECUTION_EVENT_COUNT;
}

bool
execution_status_allowed (execution_status_t from, execution_status_t to)
{
    for (int event = 0; event < EXECUTION_EVENT_COUNT; event++)
        if (execution_status_next (from, (execution_event_t)event) == (int)to)
            return (unsigned)to < EXECUTION_STATUS_COUNT;
    return false;
}
