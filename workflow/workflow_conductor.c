/*  workflow_conductor: a run of a workflow as a pure state machine, with
    Orquesta's semantics. See workflow.h for the calls and the commands.

    The state (a JSON object the engine stores verbatim):

        status      running, pausing, paused, canceling, cancelled,
                    succeeded, failed
        request     null, "cancel" or "pause": what the operator asked
        failing     true once the run is to fail: nothing new starts (but the
                    tasks a `fail` transition staged beside it, as Orquesta's
                    run_on_fail), it fails once its active children end
        contexts    [ctx0, ...]: ctx0 is input and vars; each transition that
                    publishes adds one (only what it published)
        routes      [[], ["task2__t0"], ...]: a task reached by several
                    transitions (no join, not in a cycle) runs once per route,
                    a route being the list of edges that split the run
        staged      [{task, route, ctxs, prev, ready[, run_on_fail]}]: tasks a
                    transition reached, waiting to start (a join until enough
                    of its inbound transitions fired)
        sequence    every task instance in the order started: {task, route,
                    ctxs (indexes into contexts, merged in order), prev, next
                    ({"to__tKEY": fired}), status, result, attempt, retry
                    {count, delay, tally}, term}; with items also values
                    (until all started), items [{status, result}] (results
                    move to the task's result when it ends), cursor,
                    active, pending, failed, concurrency, delay. Engine
                    commands (noop, fail, continue) are entries too.
        index       {"task__rROUTE": the latest entry of that task and route}
        errors      [{task, type, message[, result]}]
        output      the rendered output once the run ended
        runs        task instances and children started (bounded by
                    WORKFLOW_MAX_TRANSITIONS)
        pending     children waiting on a person (inquiries)
        active_from the first entry that may still be active

    A child's key is "SEQ.ATTEMPT/TASK" or "SEQ.ATTEMPT.ITEM/TASK": the entry,
    its retry attempt and its item, so the same calls give the same keys.

    Semantics, as Orquesta's conductor: start tasks are those no transition
    reaches; a task's transitions are evaluated in the order Orquesta sorts
    them (by target name, then as written), all that match fire, each
    publishing into a new context that the next task merges over its own;
    a join starts when `join` (all, or N) of its inbound tasks fired into
    it, merging their contexts; a task that ends failed with no fired
    transition (other than `continue`) fails the run; `fail` fails it;
    `retry` (the spec or the command) re-runs the task while `when` holds
    and the count allows; with items renders the list once, starts up to
    `concurrency` at a time, and ends failed when any item failed (after the
    running ones end), its result the item results in order. The output is
    rendered from the contexts of the terminal tasks when the run ends. */
#include "workflow/workflow_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#define S(obj, key) json_string_value (json_object_get ((obj), (key)))
#define I(obj, key) ((long)json_integer_value (json_object_get ((obj), (key))))

json_t *
wf_run_entry (wf_run_t *run, long seq)
{
    return json_array_get (json_object_get (run->state, "sequence"), (size_t)seq);
}

static const wf_task_t *
s_task (wf_run_t *run, json_t *entry)
{
    int t = wf_spec_task (run->spec, S (entry, "task"));
    return t >= 0 ? &run->spec->tasks[t] : NULL;
}

static json_t *
s_context (const json_t *state, const json_t *ctxs)
{
    json_t *contexts = json_object_get (state, "contexts");
    json_t *out = json_object ();
    size_t i;
    json_t *index;
    json_array_foreach (ctxs, i, index)
        wf_merge (out, json_array_get (contexts, (size_t)json_integer_value (index)));
    return out;
}

static bool
s_can_dispatch (wf_run_t *run, bool run_on_fail)
{
    //  nothing starts once the run ended, while an operator's request
    //  holds, or while a child waits on a person (the run pauses)
    if (workflow_done (run->state) ||
        !json_is_null (json_object_get (run->state, "request")) ||
        I (run->state, "pending") > 0)
        return false;
    return !json_is_true (json_object_get (run->state, "failing")) || run_on_fail;
}

//  Count one more task instance or child; over the bound, the run fails.
static int
s_bump (wf_run_t *run)
{
    long runs = I (run->state, "runs") + 1;
    json_object_set_new (run->state, "runs", json_integer (runs));
    if (runs <= WORKFLOW_MAX_TRANSITIONS)
        return 0;
    if (runs == WORKFLOW_MAX_TRANSITIONS + 1) {
        char *message = wf_format ("more than %d task instances in one run",
                                   WORKFLOW_MAX_TRANSITIONS);
        wf_run_error (run, NULL, message, NULL);
        free (message);
    }
    return -1;
}

static void
s_emit_run (wf_run_t *run, long seq, long item, const char *action, json_t *parameters,
            long delay)
{
    json_t *entry = wf_run_entry (run, seq);
    char *key = item >= 0 ? wf_format ("%ld.%ld.%ld/%s", seq, I (entry, "attempt"), item,
                                       S (entry, "task"))
                          : wf_format ("%ld.%ld/%s", seq, I (entry, "attempt"),
                                       S (entry, "task"));
    json_t *command =
        json_pack ("{s:s, s:s, s:s, s:s, s:O, s:I, s:O}", "op", "run", "key", key, "task",
                   S (entry, "task"), "action", action, "parameters", parameters, "delay",
                   (json_int_t)delay, "route", json_object_get (entry, "route"));
    if (item >= 0)
        json_object_set_new (command, "item", json_integer (item));
    json_array_append_new (run->commands, command);
    free (key);
}

//  The task failed before it ran (its fields did not render).
static void
s_render_failed (wf_run_t *run, long seq, char *message)
{
    json_t *entry = wf_run_entry (run, seq);
    json_object_set_new (entry, "status", json_string ("failed"));
    json_object_set_new (entry, "term", json_true ());
    wf_run_error (run, S (entry, "task"), message, NULL);
    free (message);
}

//  An integer field (delay, count, concurrency): a number or an expression.
static int
s_integer (const wf_scope_t *scope, const json_t *value, const char *field, long *out,
           char **error)
{
    json_t *v = wf_eval (scope, value, field, error);
    if (!v)
        return -1;
    if (json_is_string (v)) {
        char *end = NULL;
        long n = strtol (json_string_value (v), &end, 10);
        if (end && !*end && json_string_length (v)) {
            json_decref (v);
            v = json_integer (n);
        }
    }
    if (!json_is_integer (v) || json_integer_value (v) < 0) {
        *error = wf_format ("%s: not a positive integer", field);
        json_decref (v);
        return -1;
    }
    *out = (long)json_integer_value (v);
    json_decref (v);
    return 0;
}

//  Render one child's action and input, and start it.
static int
s_start_child (wf_run_t *run, long seq, const wf_scope_t *scope, long item, long delay,
               char **error)
{
    const wf_task_t *task = s_task (run, wf_run_entry (run, seq));
    if (s_bump (run))
        return 0;
    char field[300];
    snprintf (field, sizeof field, "tasks.%s.action", task->name);
    json_t *text = json_string (task->action);
    json_t *action = wf_eval (scope, text, field, error);
    json_decref (text);
    if (!action)
        return -1;
    if (!json_is_string (action) || !json_string_length (action)) {
        *error = wf_format ("%s: %s: not an action ref", field, task->action);
        json_decref (action);
        return -1;
    }
    snprintf (field, sizeof field, "tasks.%s.input", task->name);
    json_t *input =
        task->input ? wf_eval (scope, task->input, field, error) : json_object ();
    if (input && !json_is_object (input)) {
        *error = wf_format ("%s: not a mapping of parameters", field);
        json_decref (input);
        input = NULL;
    }
    if (input)
        s_emit_run (run, seq, item, json_string_value (action), input, delay);
    json_decref (action);
    json_decref (input);
    return input ? 0 : -1;
}

//  Start as many items as the concurrency allows.
void
wf_run_items_fill (wf_run_t *run, long seq)
{
    json_t *entry = wf_run_entry (run, seq);
    json_t *items = json_object_get (entry, "items");
    if (!streq (S (entry, "status"), "running") || !items || I (entry, "failed") > 0)
        return;
    long limit = json_is_integer (json_object_get (entry, "concurrency"))
                     ? I (entry, "concurrency")
                     : -1;
    json_t *vars = s_context (run->state, json_object_get (entry, "ctxs"));
    const wf_task_t *task = s_task (run, entry);
    long cursor = I (entry, "cursor"), active = I (entry, "active");
    while (cursor < (long)json_array_size (items) && (limit < 0 || active < limit) &&
           s_can_dispatch (run, json_is_true (json_object_get (entry, "run_on_fail")))) {
        wf_scope_t scope = {
            run->spec,
            run->state,
            vars,
            task->name,
            I (entry, "route"),
            NULL,
            NULL,
            json_array_get (json_object_get (entry, "values"), (size_t)cursor)};
        json_t *slot = json_array_get (items, (size_t)cursor);
        if (!streq (S (slot, "status"), "unset")) { //  kept from the run re-run
            cursor++;
            continue;
        }
        char *error = NULL;
        if (s_start_child (run, seq, &scope, cursor, I (entry, "delay"), &error)) {
            json_object_set_new (slot, "status", json_string ("failed"));
            json_object_set_new (entry, "failed", json_integer (I (entry, "failed") + 1));
            wf_run_error (run, task->name, error, NULL);
            free (error);
            cursor++;
            break;
        }
        json_object_set_new (slot, "status", json_string ("running"));
        cursor++;
        active++;
    }
    json_object_set_new (entry, "cursor", json_integer (cursor));
    json_object_set_new (entry, "active", json_integer (active));
    json_decref (vars);
}

//  With items: when nothing runs any more, the task ends.
void
wf_run_items_check (wf_run_t *run, long seq)
{
    json_t *entry = wf_run_entry (run, seq);
    json_t *items = json_object_get (entry, "items");
    if (!streq (S (entry, "status"), "running") || I (entry, "active") > 0)
        return;
    bool stopped = I (entry, "failed") > 0;
    if (!stopped && I (entry, "cursor") < (long)json_array_size (items))
        return;
    json_t *results = json_array ();
    bool canceled = false;
    size_t i;
    json_t *slot;
    json_array_foreach (items, i, slot)
    {
        json_t *r = json_object_get (slot, "result");
        json_array_append (results, r ? r : json_null ());
        canceled = canceled || streq (S (slot, "status"), "canceled");
        json_object_del (slot, "result"); //  kept once, as the task's result
    }
    json_object_del (entry, "values");
    const char *status = !stopped ? "succeeded" : canceled ? "canceled" : "failed";
    wf_run_complete (run, seq, status, results);
    json_decref (results);
}

//  The item values (keys applied) and their slots; a re-run keeps the
//  slots of the items that succeeded (Orquesta resets the others).
static json_t *
s_items_slots (wf_run_t *run, json_t *entry, const wf_task_t *task, json_t *list,
               json_t **values_p)
{
    json_t *values = json_array ();
    json_t *items = json_array ();
    size_t i, nkeys = json_array_size (task->item_keys);
    json_t *value;
    json_array_foreach (list, i, value)
    {
        json_t *item = json_incref (value);
        if (nkeys && json_is_array (value)) {
            json_decref (item);
            item = json_object ();
            for (size_t k = 0; k < nkeys && k < json_array_size (value); k++)
                json_object_set (item,
                                 json_string_value (json_array_get (task->item_keys, k)),
                                 json_array_get (value, k));
        } else if (nkeys == 1) {
            json_decref (item);
            item = json_pack (
                "{sO}", json_string_value (json_array_get (task->item_keys, 0)), value);
        }
        json_array_append_new (values, item);
        json_array_append_new (items, json_pack ("{ss}", "status", "unset"));
    }
    json_t *old = json_object_get (entry, "rerun_of")
                      ? wf_run_entry (run, I (entry, "rerun_of"))
                      : NULL;
    //  reset (StackStorm's re-run `reset`): every item runs again
    json_t *kept = json_is_true (json_object_get (entry, "reset_items"))
                       ? NULL
                       : json_object_get (old, "items");
    json_t *results = json_object_get (old, "result");
    if (kept && json_array_size (kept) == json_array_size (items))
        json_array_foreach (kept, i, value)
        {
            json_t *r = json_array_get (results, i);
            if (streq (S (value, "status"), "succeeded"))
                json_array_set_new (items, i,
                                    json_pack ("{s:s, s:O}", "status", "succeeded",
                                               "result", r ? r : json_null ()));
        }
    *values_p = values;
    return items;
}

static void
s_items_begin (wf_run_t *run, long seq, const wf_scope_t *scope, long delay)
{
    json_t *entry = wf_run_entry (run, seq);
    const wf_task_t *task = s_task (run, entry);
    char field[300];
    snprintf (field, sizeof field, "tasks.%s.with.items", task->name);
    json_t *text = json_string (task->items);
    char *error = NULL;
    json_t *list = wf_eval (scope, text, field, &error);
    json_decref (text);
    if (list && !json_is_array (list)) {
        error = wf_format ("%s: %s: not a list", field, task->items);
        json_decref (list);
        list = NULL;
    } else if (list && json_array_size (list) > WORKFLOW_MAX_ITEMS) {
        error = wf_format ("%s: %zu items, more than %d", field, json_array_size (list),
                           WORKFLOW_MAX_ITEMS);
        json_decref (list);
        list = NULL;
    }
    long concurrency = -1;
    snprintf (field, sizeof field, "tasks.%s.with.concurrency", task->name);
    if (list && task->concurrency && !json_is_null (task->concurrency) &&
        s_integer (scope, task->concurrency, field, &concurrency, &error)) {
        json_decref (list);
        list = NULL;
    }
    if (!list) {
        s_render_failed (run, seq, error);
        return;
    }
    json_t *values = NULL;
    json_t *items = s_items_slots (run, entry, task, list, &values);
    json_decref (list);
    json_object_set_new (entry, "values", values);
    json_object_set_new (entry, "items", items);
    json_object_set_new (entry, "cursor", json_integer (0));
    json_object_set_new (entry, "active", json_integer (0));
    json_object_set_new (entry, "failed", json_integer (0));
    json_object_set_new (entry, "delay", json_integer (delay));
    json_object_set_new (entry, "concurrency",
                         concurrency < 0 ? json_null ()
                                         : json_integer (concurrency ? concurrency : 1));
    wf_run_items_fill (run, seq);
    wf_run_items_check (run, seq);
}

//  Render a task instance and start its child(ren); a task with no action
//  succeeds at once.
static void
s_launch (wf_run_t *run, long seq)
{
    json_t *entry = wf_run_entry (run, seq);
    const wf_task_t *task = s_task (run, entry);
    json_t *vars = s_context (run->state, json_object_get (entry, "ctxs"));
    wf_scope_t scope = {run->spec,          run->state, vars, task->name,
                        I (entry, "route"), NULL,       NULL, NULL};
    char field[300];
    char *error = NULL;
    long delay = 0;
    json_t *retry = json_object_get (entry, "retry");
    snprintf (field, sizeof field, "tasks.%s.delay", task->name);
    if (I (entry, "attempt") > 0 && retry)
        delay = I (retry, "delay");
    else if (task->delay && !json_is_null (task->delay) &&
             s_integer (&scope, task->delay, field, &delay, &error)) {
        s_render_failed (run, seq, error);
        json_decref (vars);
        return;
    }
    if (!task->action)
        wf_run_complete (run, seq, "succeeded", json_null ());
    else if (task->items)
        s_items_begin (run, seq, &scope, delay);
    else if (s_start_child (run, seq, &scope, -1, delay, &error))
        s_render_failed (run, seq, error);
    json_decref (vars);
}

//  A staged task starts: its entry in the sequence, then its child.
static void
s_begin (wf_run_t *run, json_t *staged)
{
    json_t *sequence = json_object_get (run->state, "sequence");
    long seq = (long)json_array_size (sequence);
    if (s_bump (run))
        return;
    json_t *entry = json_pack (
        "{s:O, s:O, s:O, s:O, s:{}, s:s, s:i}", "task", json_object_get (staged, "task"),
        "route", json_object_get (staged, "route"), "ctxs",
        json_object_get (staged, "ctxs"), "prev", json_object_get (staged, "prev"),
        "next", "status", "running", "attempt", 0);
    if (json_is_true (json_object_get (staged, "run_on_fail")))
        json_object_set_new (entry, "run_on_fail", json_true ());
    if (json_object_get (staged, "rerun_of"))
        json_object_set (entry, "rerun_of", json_object_get (staged, "rerun_of"));
    if (json_is_true (json_object_get (staged, "reset_items")))
        json_object_set_new (entry, "reset_items", json_true ());
    json_array_append_new (sequence, entry);
    char *id = wf_format ("%s__r%ld", S (entry, "task"), I (entry, "route"));
    json_object_set_new (json_object_get (run->state, "index"), id, json_integer (seq));
    free (id);
    run->last = seq;
    const wf_task_t *task = s_task (run, entry);
    if (task->retry) {
        json_t *vars = s_context (run->state, json_object_get (entry, "ctxs"));
        wf_scope_t scope = {run->spec,          run->state, vars, task->name,
                            I (entry, "route"), NULL,       NULL, NULL};
        char field[300];
        snprintf (field, sizeof field, "tasks.%s.retry", task->name);
        long count = 0, delay = 0;
        char *error = NULL;
        int rc = s_integer (&scope, task->retry_count, field, &count, &error);
        if (!rc && task->retry_delay && !json_is_null (task->retry_delay))
            rc = s_integer (&scope, task->retry_delay, field, &delay, &error);
        json_decref (vars);
        if (rc) {
            s_render_failed (run, seq, error);
            return;
        }
        json_object_set_new (entry, "retry",
                             json_pack ("{s:I, s:I, s:i}", "count", (json_int_t)count,
                                        "delay", (json_int_t)delay, "tally", 0));
    }
    s_launch (run, seq);
}

size_t
wf_run_active_from (wf_run_t *run)
{
    json_t *sequence = json_object_get (run->state, "sequence");
    size_t from = (size_t)I (run->state, "active_from");
    for (; from < json_array_size (sequence); from++) {
        const char *status = S (json_array_get (sequence, from), "status");
        if (streq (status, "running") || streq (status, "pending"))
            break;
    }
    json_object_set_new (run->state, "active_from", json_integer ((json_int_t)from));
    return from;
}

void
wf_run_dispatch (wf_run_t *run)
{
    json_t *staged = json_object_get (run->state, "staged");
    for (;;) {
        long best = -1;
        for (size_t i = 0; i < json_array_size (staged); i++) {
            json_t *s = json_array_get (staged, i);
            if (!json_is_true (json_object_get (s, "ready")) ||
                !s_can_dispatch (run, json_is_true (json_object_get (s, "run_on_fail"))))
                continue;
            json_t *b = best >= 0 ? json_array_get (staged, (size_t)best) : NULL;
            int c = b ? strcmp (S (s, "task"), S (b, "task")) : -1;
            if (c < 0 || (c == 0 && I (s, "route") < I (b, "route")))
                best = (long)i;
        }
        if (best < 0)
            break;
        json_t *s = json_incref (json_array_get (staged, (size_t)best));
        json_array_remove (staged, (size_t)best);
        s_begin (run, s);
        json_decref (s);
    }
    //  with items tasks waiting for a free slot (after a pause, say)
    json_t *sequence = json_object_get (run->state, "sequence");
    for (size_t i = wf_run_active_from (run); i < json_array_size (sequence); i++) {
        json_t *entry = json_array_get (sequence, i);
        if (json_object_get (entry, "items") && streq (S (entry, "status"), "running") &&
            I (entry, "cursor") <
                (long)json_array_size (json_object_get (entry, "items")))
            wf_run_items_fill (run, (long)i);
    }
}

//  --------------------------------------------------------------------------
//  A task ended: retry, transitions (workflow_transitions.c)

static bool
s_retry (wf_run_t *run, long seq, json_t *vars)
{
    json_t *entry = wf_run_entry (run, seq);
    const wf_task_t *task = s_task (run, entry);
    json_t *retry = json_object_get (entry, "retry");
    const char *status = S (entry, "status");
    //  a run being cancelled or failing retries nothing; a paused one does
    //  (the retry is part of the task, which the pause waits for)
    const char *request = S (run->state, "request");
    if (!retry || I (retry, "tally") >= I (retry, "count") ||
        (request && streq (request, "cancel")) ||
        json_is_true (json_object_get (run->state, "failing")))
        return false;
    bool again = streq (status, "failed");
    if (task->retry_when) {
        wf_scope_t scope = {run->spec,
                            run->state,
                            vars,
                            task->name,
                            I (entry, "route"),
                            status,
                            json_object_get (entry, "result"),
                            NULL};
        char field[300], *error = NULL;
        snprintf (field, sizeof field, "tasks.%s.retry.when", task->name);
        if (wf_eval_bool (&scope, task->retry_when, field, &again, &error)) {
            wf_run_error (run, task->name, error, NULL);
            free (error);
            return false;
        }
    }
    if (!again)
        return false;
    json_object_set_new (retry, "tally", json_integer (I (retry, "tally") + 1));
    json_object_set_new (entry, "attempt", json_integer (I (entry, "attempt") + 1));
    json_object_set_new (entry, "status", json_string ("running"));
    json_object_del (entry, "result");
    const char *keys[] = {"values",  "items",  "cursor",      "active",
                          "pending", "failed", "concurrency", NULL};
    for (size_t k = 0; keys[k]; k++)
        json_object_del (entry, keys[k]);
    s_launch (run, seq);
    return true;
}

void
wf_run_complete (wf_run_t *run, long seq, const char *status, json_t *result)
{
    json_t *entry = wf_run_entry (run, seq);
    json_object_set_new (entry, "status", json_string (status));
    json_object_set (entry, "result", result ? result : json_null ());
    run->last = seq;
    json_t *vars = s_context (run->state, json_object_get (entry, "ctxs"));
    if (!s_retry (run, seq, vars)) {
        if (streq (status, "failed")) {
            json_t *error = json_pack (
                "{s:O, s:s, s:s, s:O}", "task", json_object_get (entry, "task"), "type",
                "error", "message", "Execution failed. See result for details.", "result",
                result ? result : json_null ());
            json_array_append_new (json_object_get (run->state, "errors"), error);
        }
        wf_run_transitions (run, seq, vars);
    }
    json_decref (vars);
}

//  --------------------------------------------------------------------------
//  The public calls

json_t *
workflow_start (const workflow_spec_t *spec, const json_t *input, json_t *commands,
                char **error)
{
    assert (spec && commands);
    json_t *state =
        json_pack ("{s:s, s:n, s:b, s:[], s:[[]], s:[], s:[], s:{}, s:[], s:I}", "status",
                   "running", "request", "failing", 0, "contexts", "routes", "staged",
                   "sequence", "index", "errors", "runs", (json_int_t)0);
    wf_run_t run = {spec, state, json_array (), -1};
    if (spec->chain)
        json_object_set_new (state, "chain", json_true ());
    json_t *ctx = json_object ();
    if (json_is_object (input))
        json_object_update (ctx, (json_t *)input);
    //  input defaults, then vars, each rendered over what came before
    wf_scope_t scope = {spec, state, ctx, NULL, 0, NULL, NULL, NULL};
    char *reason = NULL;
    size_t i;
    json_t *entry;
    json_array_foreach (spec->input, i, entry)
    {
        const char *name = json_string_value (json_array_get (entry, 0));
        if (json_object_get (ctx, name))
            continue;
        json_t *value =
            json_array_size (entry) > 1
                ? wf_eval (&scope, json_array_get (entry, 1), "input", &reason)
                : json_null ();
        if (!value)
            break;
        json_object_set_new (ctx, name, value);
    }
    json_array_foreach (spec->vars, i, entry)
    {
        if (reason)
            break;
        const char *name = json_object_iter_key (json_object_iter (entry));
        json_t *value = wf_eval (&scope, json_object_get (entry, name), "vars", &reason);
        if (value)
            json_object_set_new (ctx, name, value);
    }
    json_array_append_new (json_object_get (state, "contexts"), ctx);
    if (reason) {
        wf_run_error (&run, NULL, reason, NULL);
        free (reason);
    } else
        json_array_foreach (spec->start, i, entry)
        {
            json_array_append_new (json_object_get (state, "staged"),
                                   json_pack ("{s:O, s:i, s:[i], s:{}, s:b}", "task",
                                              entry, "route", 0, "ctxs", 0, "prev",
                                              "ready", 1));
        }
    wf_run_dispatch (&run);
    wf_run_settle (&run);
    json_array_extend (commands, run.commands);
    json_decref (run.commands);
    (void)error;
    return state;
}
