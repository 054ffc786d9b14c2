/*  executor_status: the execution lifecycle. See executor_status.h. */
#include "actors/executor/executor_status.h"

#include <string.h>

static const char *const s_names[EXECUTION_STATUS_COUNT] = {
    "requested", "delayed", "scheduled", "running",   "pending",  "canceling",
    "completed", "failed",  "timeout",   "cancelled", "abandoned"};

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

bool
execution_status_allowed (execution_status_t from, execution_status_t to)
{
    if ((unsigned)from >= EXECUTION_STATUS_COUNT ||
        (unsigned)to >= EXECUTION_STATUS_COUNT)
        return false;
    if (execution_status_terminal (from) || from == to)
        return false;
    if (to == EXECUTION_CANCELLED || to == EXECUTION_ABANDONED)
        return true;
    switch (from) {
        case EXECUTION_REQUESTED:
            return to == EXECUTION_DELAYED || to == EXECUTION_SCHEDULED ||
                   to == EXECUTION_FAILED || to == EXECUTION_CANCELING;
        case EXECUTION_DELAYED:
            return to == EXECUTION_REQUESTED || to == EXECUTION_SCHEDULED ||
                   to == EXECUTION_FAILED || to == EXECUTION_TIMEOUT ||
                   to == EXECUTION_CANCELING;
        case EXECUTION_SCHEDULED:
            //  a fast action may report its end before its start arrives
            return to == EXECUTION_RUNNING || to == EXECUTION_COMPLETED ||
                   to == EXECUTION_FAILED || to == EXECUTION_TIMEOUT ||
                   to == EXECUTION_PENDING || to == EXECUTION_CANCELING ||
                   to == EXECUTION_REQUESTED; //  re-dispatch after a worker loss
        case EXECUTION_RUNNING:
            return to == EXECUTION_COMPLETED || to == EXECUTION_FAILED ||
                   to == EXECUTION_TIMEOUT || to == EXECUTION_PENDING ||
                   to == EXECUTION_CANCELING;
        case EXECUTION_PENDING:
            return to == EXECUTION_COMPLETED || to == EXECUTION_FAILED ||
                   to == EXECUTION_TIMEOUT || to == EXECUTION_CANCELING;
        case EXECUTION_CANCELING:
            return to == EXECUTION_COMPLETED || to == EXECUTION_FAILED ||
                   to == EXECUTION_TIMEOUT;
        default:
            return false;
    }
}
