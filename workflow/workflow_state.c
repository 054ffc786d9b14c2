/*  workflow_state: a run's status (settle), its end (terminal context and
    output), control requests (cancel, pause, resume), re-runs and the
    execution result. See workflow_conductor.c for the state. */
#include "workflow/workflow_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#define S(obj, key) json_string_value (json_object_get ((obj), (key)))
#define I(obj, key) ((long)json_integer_value (json_object_get ((obj), (key))))

void
wf_merge (json_t *left, const json_t *right)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)right, key, value)
    {
        json_t *old = json_object_get (left, key);
        if (json_is_object (old) && json_is_object (value)) {
            json_t *copy = json_deep_copy (old);
            wf_merge (copy, value);
            json_object_set_new (left, key, copy);
        } else
            json_object_set (left, key, value);
    }
}

void
wf_run_error (wf_run_t *run, const char *task, const char *message, const json_t *result)
{
    json_t *error = json_pack ("{s:s, s:s}", "type", "error", "message", message);
    if (task)
        json_object_set_new (error, "task", json_string (task));
    if (result)
        json_object_set (error, "result", (json_t *)result);
    json_array_append_new (json_object_get (run->state, "errors"), error);
    json_object_set_new (run->state, "failing", json_true ());
}

static bool
s_active (const json_t *slot, bool pending_too)
{
    const char *status = S (slot, "status");
    return streq (status, "running") || (pending_too && streq (status, "pending"));
}

void
wf_run_signal_active (wf_run_t *run, const char *op)
{
    bool pending_too = streq (op, "cancel");
    json_t *sequence = json_object_get (run->state, "sequence");
    for (size_t i = wf_run_active_from (run); i < json_array_size (sequence); i++) {
        json_t *entry = json_array_get (sequence, i);
        json_t *items = json_object_get (entry, "items");
        size_t j;
        json_t *slot;
        if (items && s_active (entry, false)) {
            json_array_foreach (items, j, slot) if (s_active (slot, pending_too))
            {
                char *key = wf_format ("%zu.%ld.%zu/%s", i, I (entry, "attempt"), j,
                                       S (entry, "task"));
                json_array_append_new (run->commands,
                                       json_pack ("{s:s, s:s}", "op", op, "key", key));
                free (key);
            }
        } else if (!items && s_active (entry, pending_too)) {
            char *key =
                wf_format ("%zu.%ld/%s", i, I (entry, "attempt"), S (entry, "task"));
            json_array_append_new (run->commands,
                                   json_pack ("{s:s, s:s}", "op", op, "key", key));
            free (key);
        }
    }
}

//  Children running and pending; with items tasks that wait for a slot.
static void
s_count (wf_run_t *run, long *running, long *pending, long *waiting)
{
    *running = *pending = *waiting = 0;
    json_t *sequence = json_object_get (run->state, "sequence");
    for (size_t i = wf_run_active_from (run); i < json_array_size (sequence); i++) {
        json_t *entry = json_array_get (sequence, i);
        json_t *items = json_object_get (entry, "items");
        if (!items) {
            *running += streq (S (entry, "status"), "running");
            *pending += streq (S (entry, "status"), "pending");
            continue;
        }
        if (!streq (S (entry, "status"), "running"))
            continue;
        long active = I (entry, "active"), waits = I (entry, "pending");
        *running += active - waits;
        *pending += waits;
        *waiting += active == 0;
    }
}

//  The merged contexts of the terminal task instances (Orquesta's
//  workflow terminal context).
static json_t *
s_terminal_context (const json_t *state)
{
    json_t *contexts = json_object_get (state, "contexts");
    json_t *out = json_deep_copy (json_array_get (contexts, 0));
    bool first = true;
    size_t i;
    json_t *entry;
    json_array_foreach (json_object_get (state, "sequence"), i, entry)
    {
        if (!json_is_true (json_object_get (entry, "term")))
            continue;
        bool dropped = first;
        size_t j;
        json_t *index;
        json_array_foreach (json_object_get (entry, "ctxs"), j, index)
        {
            if (!dropped && json_integer_value (index) == 0) {
                dropped = true;
                continue;
            }
            wf_merge (out, json_array_get (contexts, (size_t)json_integer_value (index)));
        }
        first = false;
    }
    return out;
}

static void
s_finish (wf_run_t *run, const char *status)
{
    json_object_set_new (run->state, "status", json_string (status));
    json_t *last = json_array_get (json_object_get (run->state, "sequence"),
                                   run->last >= 0 ? (size_t)run->last : (size_t)-1);
    if (last)
        json_object_set_new (last, "term", json_true ());
    json_t *vars = s_terminal_context (run->state);
    json_t *output = json_object ();
    wf_scope_t scope = {run->spec, run->state, vars, NULL, 0, NULL, NULL, NULL};
    size_t i;
    json_t *entry;
    json_array_foreach (run->spec->output, i, entry)
    {
        const char *name = json_object_iter_key (json_object_iter (entry));
        char field[300], *error = NULL;
        snprintf (field, sizeof field, "output.%s", name);
        json_t *value = wf_eval (&scope, json_object_get (entry, name), field, &error);
        if (!value) {
            wf_run_error (run, NULL, error, NULL);
            free (error);
            if (streq (status, "succeeded"))
                json_object_set_new (run->state, "status", json_string ("failed"));
            continue;
        }
        json_object_set (vars, name, value);
        json_object_set_new (output, name, value);
    }
    json_object_set_new (run->state, "output", output);
    json_decref (vars);
}

//  Mark what still waits (a with items task with no child left) cancelled.
static void
s_cancel_waiting (wf_run_t *run)
{
    json_t *sequence = json_object_get (run->state, "sequence");
    for (size_t i = wf_run_active_from (run); i < json_array_size (sequence); i++) {
        json_t *entry = json_array_get (sequence, i);
        if (streq (S (entry, "status"), "running") && json_object_get (entry, "items"))
            json_object_set_new (entry, "status", json_string ("canceled"));
    }
}

static bool
s_ready_staged (wf_run_t *run, bool run_on_fail_only)
{
    json_t *staged = json_object_get (run->state, "staged");
    for (size_t i = 0; i < json_array_size (staged); i++) {
        json_t *s = json_array_get (staged, i);
        if (json_is_true (json_object_get (s, "ready")) &&
            (!run_on_fail_only || json_is_true (json_object_get (s, "run_on_fail"))))
            return true;
    }
    return false;
}

void
wf_run_settle (wf_run_t *run)
{
    if (workflow_done (run->state))
        return;
    long running, pending, waiting;
    s_count (run, &running, &pending, &waiting);
    const char *request = S (run->state, "request");
    const char *status = "running";
    if (request && streq (request, "cancel")) {
        if (running + pending == 0) {
            s_cancel_waiting (run);
            s_finish (run, "cancelled");
            return;
        }
        status = "canceling";
    } else if (json_is_true (json_object_get (run->state, "failing"))) {
        if (running + pending == 0 && !s_ready_staged (run, true)) {
            s_cancel_waiting (run);
            wf_run_unreachable (run);
            s_finish (run, "failed");
            return;
        }
    } else if (request && streq (request, "pause"))
        status = running + pending ? "pausing" : "paused";
    else if (pending)
        status = running ? "pausing" : "paused";
    else if (running + waiting == 0 && !s_ready_staged (run, false)) {
        s_finish (run, wf_run_unreachable (run) ? "failed" : "succeeded");
        return;
    }
    json_object_set_new (run->state, "status", json_string (status));
}

//  --------------------------------------------------------------------------

static int
s_request_step (wf_run_t *run, const void *arg, char **error)
{
    const char *what = (const char *)arg;
    const char *request = S (run->state, "request");
    if (workflow_done (run->state)) {
        *error = wf_format ("cannot %s: the run has ended (%s)", what,
                            S (run->state, "status"));
        return -1;
    }
    if (streq (what, "cancel")) {
        if (request && streq (request, "cancel"))
            return 0;
        json_object_set_new (run->state, "request", json_string ("cancel"));
        wf_run_signal_active (run, "cancel");
    } else if (streq (what, "pause")) {
        if (request && streq (request, "cancel")) {
            *error = wf_format ("cannot pause: the run is being cancelled");
            return -1;
        }
        if (request)
            return 0;
        json_object_set_new (run->state, "request", json_string ("pause"));
        wf_run_signal_active (run, "pause");
    } else if (streq (what, "resume")) {
        if (!request && I (run->state, "pending") > 0) {
            *error = wf_format ("cannot resume: the run waits on an inquiry; its "
                                "response resumes it");
            return -1;
        }
        if (!request || !streq (request, "pause")) {
            *error = wf_format ("cannot resume: the run is not paused (%s)",
                                S (run->state, "status"));
            return -1;
        }
        json_object_set_new (run->state, "request", json_null ());
        json_object_set_new (run->state, "status", json_string ("running"));
        wf_run_signal_active (run, "resume");
        wf_run_settle (run);
        wf_run_dispatch (run);
    } else {
        *error = wf_format ("'%s' is not a request (cancel, pause, resume)", what);
        return -1;
    }
    wf_run_settle (run);
    return 0;
}

int
workflow_request (const workflow_spec_t *spec, json_t *state, const char *what,
                  json_t *commands, char **error)
{
    assert (spec && state && what && commands);
    return wf_run_atomic (spec, state, commands, s_request_step, what, error);
}

typedef struct {
    const char *const *tasks;
    size_t count;
    const char *const *reset;
    size_t reset_count;
} rerun_t;

//  The entries to re-run: the latest of each named task, or, with none
//  named, the failed ones no transition handled.
static json_t *
s_rerun_candidates (wf_run_t *run, const rerun_t *r, char **error)
{
    json_t *sequence = json_object_get (run->state, "sequence");
    json_t *out = json_array ();
    for (size_t k = 0; k < r->count; k++) {
        long found = -1;
        for (size_t i = 0; i < json_array_size (sequence); i++)
            if (streq (S (json_array_get (sequence, i), "task"), r->tasks[k]))
                found = (long)i;
        if (found < 0 || wf_spec_task (run->spec, r->tasks[k]) < 0) {
            *error = wf_format ("cannot re-run '%s': no such task ran", r->tasks[k]);
            json_decref (out);
            return NULL;
        }
        json_array_append_new (out, json_integer (found));
    }
    for (size_t i = 0; r->count == 0 && i < json_array_size (sequence); i++) {
        json_t *entry = json_array_get (sequence, i);
        if (!streq (S (entry, "status"), "failed") ||
            wf_spec_task (run->spec, S (entry, "task")) < 0)
            continue;
        bool handled = false;
        const char *id;
        json_t *fired;
        json_object_foreach (json_object_get (entry, "next"), id, fired) handled =
            handled || json_is_true (fired);
        if (!handled)
            json_array_append_new (out, json_integer ((json_int_t)i));
    }
    if (json_array_size (out) == 0) {
        *error = wf_format ("nothing to re-run: no task failed");
        json_decref (out);
        return NULL;
    }
    return out;
}

static int
s_rerun_step (wf_run_t *run, const void *arg, char **error)
{
    const rerun_t *r = (const rerun_t *)arg;
    if (!workflow_done (run->state)) {
        *error =
            wf_format ("cannot re-run: the run is still %s", S (run->state, "status"));
        return -1;
    }
    json_t *candidates = s_rerun_candidates (run, r, error);
    if (!candidates)
        return -1;
    json_t *errors = json_object_get (run->state, "errors");
    json_t *sequence = json_object_get (run->state, "sequence");
    size_t i;
    json_t *index;
    json_array_foreach (candidates, i, index)
    {
        json_t *entry = json_array_get (sequence, (size_t)json_integer_value (index));
        for (size_t e = json_array_size (errors); e-- > 0;)
            if (S (json_array_get (errors, e), "task") &&
                streq (S (json_array_get (errors, e), "task"), S (entry, "task")))
                json_array_remove (errors, e);
        json_object_del (entry, "term");
        json_t *staged = json_pack (
            "{s:O, s:O, s:O, s:O, s:b, s:O}", "task", json_object_get (entry, "task"),
            "route", json_object_get (entry, "route"), "ctxs",
            json_object_get (entry, "ctxs"), "prev", json_object_get (entry, "prev"),
            "ready", 1, "rerun_of", index);
        for (size_t k = 0; k < r->reset_count; k++)
            if (streq (r->reset[k], S (entry, "task")))
                json_object_set_new (staged, "reset_items", json_true ());
        json_array_append_new (json_object_get (run->state, "staged"), staged);
    }
    json_decref (candidates);
    json_object_del (run->state, "output");
    json_object_set_new (run->state, "status", json_string ("running"));
    json_object_set_new (run->state, "failing", json_false ());
    json_object_set_new (run->state, "request", json_null ());
    wf_run_dispatch (run);
    wf_run_settle (run);
    return 0;
}

json_t *
workflow_rerun (const workflow_spec_t *spec, const json_t *ended,
                const char *const *tasks, size_t count, const char *const *reset,
                size_t reset_count, json_t *commands, char **error)
{
    assert (spec && ended && commands);
    json_t *state = json_deep_copy (ended);
    rerun_t r = {tasks, count, reset, reset_count};
    if (wf_run_atomic (spec, state, commands, s_rerun_step, &r, error)) {
        json_decref (state);
        return NULL;
    }
    return state;
}

const char *
workflow_status (const json_t *state)
{
    const char *status = S (state, "status");
    return status ? status : "failed";
}

bool
workflow_done (const json_t *state)
{
    const char *status = workflow_status (state);
    return streq (status, "succeeded") || streq (status, "failed") ||
           streq (status, "cancelled");
}

json_t *
workflow_result (const json_t *state)
{
    json_t *result = json_object ();
    json_t *published = json_object_get (state, "published");
    bool chain = json_is_true (json_object_get (state, "chain"));
    if (chain) {
        //  ActionChain: StackStorm's {"tasks": [...], "published": {...}}
        json_t *tasks = json_array ();
        size_t i;
        json_t *entry;
        json_array_foreach (json_object_get (state, "sequence"), i, entry)
        {
            if (wf_is_command (S (entry, "task")))
                continue;
            json_t *r = json_object_get (entry, "result");
            json_array_append_new (tasks,
                                   json_pack ("{s:O, s:O, s:O, s:O}", "id",
                                              json_object_get (entry, "task"), "name",
                                              json_object_get (entry, "task"), "state",
                                              json_object_get (entry, "status"), "result",
                                              r ? r : json_null ()));
        }
        json_object_set_new (result, "tasks", tasks);
        json_object_set_new (result, "published",
                             published ? json_deep_copy (published) : json_object ());
    }
    json_t *output = json_object_get (state, "output");
    if (output && !chain)
        json_object_set_new (result, "output", json_deep_copy (output));
    json_t *errors = json_object_get (state, "errors");
    if (streq (workflow_status (state), "failed") && json_array_size (errors))
        json_object_set_new (result, "errors", json_deep_copy (errors));
    return result;
}
