/*  workflow_events: what the engine reports about children (ended,
    pending) applied to a run; see workflow_conductor.c for the state and
    the keys. */
#include "workflow/workflow_internal.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define S(obj, key) json_string_value (json_object_get ((obj), (key)))
#define I(obj, key) ((long)json_integer_value (json_object_get ((obj), (key))))

//  Parse "SEQ.ATTEMPT[.ITEM]/TASK".
//  A number of the key: digits only.
static int
s_key_number (const char **p, long *out)
{
    if (!isdigit ((unsigned char)**p))
        return -1;
    char *end = NULL;
    errno = 0;
    *out = strtol (*p, &end, 10);
    if (errno)
        return -1;
    *p = end;
    return 0;
}

static int
s_parse_key (const char *key, long *seq, long *attempt, long *item, const char **task)
{
    const char *p = key;
    *item = -1;
    if (s_key_number (&p, seq) || *p++ != '.' || s_key_number (&p, attempt))
        return -1;
    if (*p == '.' && (p++, s_key_number (&p, item)))
        return -1;
    if (*p != '/')
        return -1;
    *task = p + 1;
    return 0;
}

static const char *
s_child_status (const char *status)
{
    if (streq (status, "completed") || streq (status, "succeeded"))
        return "succeeded";
    if (streq (status, "failed") || streq (status, "timeout") ||
        streq (status, "abandoned"))
        return "failed";
    if (streq (status, "cancelled") || streq (status, "canceled"))
        return "canceled";
    return NULL;
}

//  The entry (and item slot) a key names, when it is still active; NULL
//  with *error when the key names nothing; NULL alone when it ended.
static json_t *
s_active_slot (wf_run_t *run, const char *key, long *seq_p, long *item_p, char **error)
{
    long seq, attempt, item;
    const char *task;
    json_t *entry = NULL;
    if (s_parse_key (key, &seq, &attempt, &item, &task) == 0 && seq >= 0)
        entry = wf_run_entry (run, seq);
    if (!entry || !streq (S (entry, "task"), task)) {
        *error = wf_format ("no task instance has key '%s'", key);
        return NULL;
    }
    *seq_p = seq;
    *item_p = item;
    if (attempt < I (entry, "attempt"))
        return NULL; //  an earlier attempt's child: a late report
    json_t *slot = entry;
    if (attempt > I (entry, "attempt") ||
        (item >= 0) != (json_object_get (entry, "items") != NULL)) {
        *error = wf_format ("no task instance has key '%s'", key);
        return NULL;
    }
    if (item >= 0) {
        slot = json_array_get (json_object_get (entry, "items"), (size_t)item);
        if (!slot) {
            *error = wf_format ("no task instance has key '%s'", key);
            return NULL;
        }
    }
    const char *status = S (slot, "status");
    return streq (status, "running") || streq (status, "pending") ? slot : NULL;
}

static int
s_ended (wf_run_t *run, const char *key, const char *status, const json_t *result,
         char **error)
{
    const char *mapped = status ? s_child_status (status) : NULL;
    if (!mapped) {
        *error = wf_format ("'%s' is not a terminal status", status ? status : "(null)");
        return -1;
    }
    long seq, item;
    char *reason = NULL;
    json_t *slot = s_active_slot (run, key, &seq, &item, &reason);
    if (!slot) {
        *error = reason;
        return reason ? -1 : 0; //  a repeated end changes nothing
    }
    if (streq (S (slot, "status"), "pending"))
        json_object_set_new (run->state, "pending",
                             json_integer (I (run->state, "pending") - 1));
    json_t *value = result ? (json_t *)result : json_null ();
    if (item < 0)
        wf_run_complete (run, seq, mapped, value);
    else {
        json_t *entry = wf_run_entry (run, seq);
        if (streq (S (slot, "status"), "pending"))
            json_object_set_new (entry, "pending",
                                 json_integer (I (entry, "pending") - 1));
        json_object_set_new (slot, "status", json_string (mapped));
        json_object_set (slot, "result", value);
        json_object_set_new (entry, "active", json_integer (I (entry, "active") - 1));
        if (!streq (mapped, "succeeded"))
            json_object_set_new (entry, "failed", json_integer (I (entry, "failed") + 1));
        wf_run_items_fill (run, seq);
        wf_run_items_check (run, seq);
    }
    return 0;
}

int
wf_run_atomic (const workflow_spec_t *spec, json_t *state, json_t *commands,
               wf_step_fn *step, const void *arg, char **error)
{
    wf_run_t run = {spec, state, json_array (), -1};
    char *reason = NULL;
    int rc = step (&run, arg, &reason);
    if (rc == 0)
        json_array_extend (commands, run.commands);
    else if (error)
        *error = reason;
    else
        free (reason);
    json_decref (run.commands);
    return rc;
}

typedef struct {
    const char *key, *status;
    const json_t *result;
} ended_t;

static int
s_ended_step (wf_run_t *run, const void *arg, char **error)
{
    const ended_t *e = (const ended_t *)arg;
    if (workflow_done (run->state)) {
        //  a late or repeated report: nothing changes; an unknown key is an error
        long seq, item;
        char *reason = NULL;
        s_active_slot (run, e->key, &seq, &item, &reason);
        *error = reason;
        return reason ? -1 : 0;
    }
    if (s_ended (run, e->key, e->status, e->result, error))
        return -1;
    wf_run_dispatch (run);
    wf_run_settle (run);
    return 0;
}

int
workflow_task_ended (const workflow_spec_t *spec, json_t *state, const char *key,
                     const char *status, const json_t *result, json_t *commands,
                     char **error)
{
    assert (spec && state && key && commands);
    ended_t e = {key, status, result};
    return wf_run_atomic (spec, state, commands, s_ended_step, &e, error);
}

static int
s_pending_step (wf_run_t *run, const void *arg, char **error)
{
    long seq, item;
    char *reason = NULL;
    json_t *slot = s_active_slot (run, (const char *)arg, &seq, &item, &reason);
    if (!slot) {
        *error = reason ? reason : wf_format ("'%s' has ended", (const char *)arg);
        return -1;
    }
    if (streq (S (slot, "status"), "pending"))
        return 0; //  said twice
    if (item >= 0) {
        json_t *entry = wf_run_entry (run, seq);
        json_object_set_new (entry, "pending", json_integer (I (entry, "pending") + 1));
    }
    json_object_set_new (slot, "status", json_string ("pending"));
    json_object_set_new (run->state, "pending",
                         json_integer (I (run->state, "pending") + 1));
    wf_run_settle (run);
    return 0;
}

int
workflow_task_pending (const workflow_spec_t *spec, json_t *state, const char *key,
                       json_t *commands, char **error)
{
    assert (spec && state && key && commands);
    return wf_run_atomic (spec, state, commands, s_pending_step, key, error);
}
