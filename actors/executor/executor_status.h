/*  executor_status: the execution lifecycle.

        requested -> scheduled -> running -> completed | failed | timeout
        (delayed while a policy holds it; pending while an inquiry is open;
         canceling while a cancel is under way; cancelled and abandoned can
         end any non-terminal state)

    The executor owns every transition up to scheduled; workers report the
    rest and the executor records them, refusing impossible ones (a late
    "running" after "completed" changes nothing).
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
    EXECUTION_COMPLETED,
    EXECUTION_FAILED,
    EXECUTION_TIMEOUT,
    EXECUTION_CANCELLED,
    EXECUTION_ABANDONED,
    EXECUTION_STATUS_COUNT
} execution_status_t;

//  "requested", "scheduled" ...
const char *execution_status_name (execution_status_t status);
//  Parse a name; -1 when unknown.
int execution_status_parse (const char *name);
//  completed, failed, timeout, cancelled, abandoned
bool execution_status_terminal (execution_status_t status);
//  True when `from` may move to `to`.
bool execution_status_allowed (execution_status_t from, execution_status_t to);

#ifdef __cplusplus
}
#endif

#endif
