/*  workflow_transitions: what happens when a task instance ends, as
    Orquesta's conductor does it: each edge evaluated (its transition's
    `when` once), publish into a new context, routes for split tasks, the
    next task staged (a join made ready once enough inbound transitions
    fired), engine commands recorded, and an unhandled failure failing the
    run. See workflow_conductor.c for the state. */
#include "workflow/workflow_internal.h"

#include <stdio.h>
#include <stdlib.h>

#define S(obj, key) json_string_value (json_object_get ((obj), (key)))
#define I(obj, key) ((long)json_integer_value (json_object_get ((obj), (key))))

enum { INBOUND_NOT_SATISFIED, INBOUND_WIP, INBOUND_SATISFIED };

static json_t *
s_entry (wf_run_t *run, long seq)
{
    return json_array_get (json_object_get (run->state, "sequence"), (size_t)seq);
}

//  The latest entry of `task` in `route`, or NULL.
static json_t *
s_latest (wf_run_t *run, const char *task, long route)
{
    char *id = wf_format ("%s__r%ld", task, route);
    json_t *index = json_object_get (json_object_get (run->state, "index"), id);
    free (id);
    return index ? s_entry (run, (long)json_integer_value (index)) : NULL;
}

static bool
s_active (const json_t *entry)
{
    const char *status = S (entry, "status");
    return streq (status, "running") || streq (status, "pending");
}

static bool
s_any_active (wf_run_t *run)
{
    json_t *index = json_object_get (run->state, "index");
    const char *id;
    json_t *seq;
    json_object_foreach (
        index, id,
        seq) if (s_active (s_entry (run, (long)json_integer_value (seq)))) return true;
    return false;
}

static bool
s_any_ready (wf_run_t *run)
{
    json_t *staged = json_object_get (run->state, "staged");
    for (size_t i = 0; i < json_array_size (staged); i++)
        if (json_is_true (json_object_get (json_array_get (staged, i), "ready")))
            return true;
    return false;
}

static int
wf_run_inbound (wf_run_t *run, const char *task, long route)
{
    const workflow_spec_t *spec = run->spec;
    int t = wf_spec_task (spec, task);
    int join = t >= 0 ? spec->tasks[t].join : 0;
    //  per inbound task: 0 not run, 1 ran and its edge did not fire, 2 fired
    int *seen = (int *)calloc (spec->task_count + 1, sizeof (int));
    size_t sources = 0, fired = 0;
    bool unknown = false;
    for (size_t e = 0; e < spec->edge_count; e++) {
        const wf_edge_t *edge = &spec->edges[e];
        if (!streq (edge->to, task))
            continue;
        json_t *entry = s_latest (run, spec->tasks[edge->from].name, route);
        if (!entry)
            continue;
        char *id = wf_format ("%s__t%d", task, edge->key);
        bool ok = json_is_true (json_object_get (json_object_get (entry, "next"), id));
        free (id);
        if (seen[edge->from] != 2)
            seen[edge->from] = ok ? 2 : 1;
    }
    bool *source = (bool *)calloc (spec->task_count + 1, sizeof (bool));
    for (size_t e = 0; e < spec->edge_count; e++)
        if (streq (spec->edges[e].to, task))
            source[spec->edges[e].from] = true;
    for (size_t i = 0; i < spec->task_count; i++) {
        if (!source[i])
            continue;
        sources++;
        if (seen[i] == 2)
            fired++;
        if (seen[i] == 0)
            unknown = true;
    }
    free (seen);
    free (source);
    size_t requirement = join < 0 ? sources : join > 0 ? (size_t)join : 1;
    if (fired >= requirement)
        return INBOUND_SATISFIED;
    if (unknown && (s_any_active (run) || s_any_ready (run)))
        return INBOUND_WIP;
    return INBOUND_NOT_SATISFIED;
}

//  A task's contexts grow by one each time round a cycle; past a few,
//  those after ctx0 become one (merged in order), so a long cycle costs
//  the same each turn. ctx0 stays apart: a join leaves it out when it
//  merges a branch in, as Orquesta does.
#define WF_CTXS_COMPACT 16

static void
s_compact (wf_run_t *run, json_t *ctxs)
{
    if (json_array_size (ctxs) <= WF_CTXS_COMPACT)
        return;
    json_t *contexts = json_object_get (run->state, "contexts");
    json_t *merged = json_object ();
    bool zero = false;
    size_t i;
    json_t *index;
    json_array_foreach (ctxs, i, index)
    {
        if (!zero && json_integer_value (index) == 0) {
            zero = true;
            continue;
        }
        wf_merge (merged, json_array_get (contexts, (size_t)json_integer_value (index)));
    }
    json_array_append_new (contexts, merged);
    json_array_clear (ctxs);
    if (zero)
        json_array_append_new (ctxs, json_integer (0));
    json_array_append_new (ctxs,
                           json_integer ((json_int_t)json_array_size (contexts) - 1));
}

//  The route of the next task: a split task opens a new route.
static long
s_route (wf_run_t *run, const char *from, const wf_edge_t *edge, long route)
{
    if (!wf_spec_split (run->spec, edge->to))
        return route;
    json_t *routes = json_object_get (run->state, "routes");
    json_t *old = json_array_get (routes, (size_t)route);
    char *id = wf_format ("%s__t%d", from, edge->key);
    bool present = false;
    size_t i;
    json_t *step;
    json_array_foreach (old, i, step) present =
        present || streq (json_string_value (step), id);
    long result = route;
    if (!present) {
        json_t *fresh = json_copy (old);
        json_array_append_new (fresh, json_string (id));
        json_array_append_new (routes, fresh);
        result = (long)json_array_size (routes) - 1;
    }
    free (id);
    return result;
}

//  Stage `to` in `route` with the contexts `ctxs`; returns the staged
//  entry, or NULL when a join instance already took the transition.
static json_t *
s_stage (wf_run_t *run, const char *to, long route, json_t *ctxs, const char *backref,
         long seq, long from_route)
{
    //  a join that already started in this route: a late inbound
    //  transition (join: N) joins that instance, it does not start another;
    //  the same inbound firing again (a cycle) does
    int t = wf_spec_task (run->spec, to);
    json_t *started =
        t >= 0 && run->spec->tasks[t].join ? s_latest (run, to, route) : NULL;
    if (started && !json_object_get (json_object_get (started, "prev"), backref)) {
        json_object_set_new (json_object_get (started, "prev"), backref,
                             json_integer (seq));
        return NULL;
    }
    json_t *staged = json_object_get (run->state, "staged");
    json_t *found = NULL;
    for (size_t i = 0; i < json_array_size (staged) && !found; i++) {
        json_t *s = json_array_get (staged, i);
        if (streq (S (s, "task"), to) && I (s, "route") == route)
            found = s;
    }
    if (found) {
        json_t *in = json_object_get (found, "ctxs");
        bool dropped = false;
        size_t i;
        json_t *c;
        json_array_foreach (ctxs, i, c)
        {
            if (!dropped && json_integer_value (c) == 0) {
                dropped = true;
                continue;
            }
            json_array_append (in, c);
        }
        json_object_set_new (json_object_get (found, "prev"), backref,
                             json_integer (seq));
    } else {
        found = json_pack ("{s:s, s:I, s:O, s:{s:I}, s:b}", "task", to, "route",
                           (json_int_t)route, "ctxs", ctxs, "prev", backref,
                           (json_int_t)seq, "ready", 0);
        json_array_append_new (staged, found);
    }
    json_object_set_new (
        found, "ready",
        json_boolean (wf_run_inbound (run, to, from_route) == INBOUND_SATISFIED));
    return found;
}

//  Does transition `ref` of the task fire? -1 on an expression error.
static int
s_fires (wf_run_t *run, const wf_task_t *task, size_t ref, const wf_scope_t *scope)
{
    const wf_next_t *next = &task->next[ref];
    if (next->on == WF_ON_SUCCESS)
        return streq (scope->status, "succeeded");
    if (next->on == WF_ON_FAILURE)
        return streq (scope->status, "failed");
    if (!next->when)
        return 1;
    char field[300], *error = NULL;
    snprintf (field, sizeof field, "tasks.%s.next[%zu].when", task->name, ref);
    bool truth = false;
    if (wf_eval_bool (scope, next->when, field, &truth, &error)) {
        wf_run_error (run, task->name, error, NULL);
        free (error);
        return -1;
    }
    return truth;
}

//  Publish of transition `ref`: the index of its new context, -1 for none,
//  -2 on an error.
static long
s_publish (wf_run_t *run, const wf_task_t *task, size_t ref, const wf_scope_t *scope)
{
    json_t *rolling = json_deep_copy (scope->vars);
    json_t *fresh = json_object ();
    if (run->spec->chain) //  the node's result under its name
        json_object_set (fresh, task->name,
                         scope->result ? (json_t *)scope->result : json_null ());
    wf_scope_t inner = *scope;
    inner.vars = rolling;
    size_t i;
    json_t *entry;
    long rc = -1;
    json_array_foreach (task->next[ref].publish, i, entry)
    {
        const char *name = json_object_iter_key (json_object_iter (entry));
        char field[300], *error = NULL;
        snprintf (field, sizeof field, "tasks.%s.next[%zu].publish.%s", task->name, ref,
                  name);
        json_t *value = wf_eval (&inner, json_object_get (entry, name), field, &error);
        if (!value) {
            wf_run_error (run, task->name, error, NULL);
            free (error);
            rc = -2;
            break;
        }
        json_object_set (rolling, name, value);
        json_object_set_new (fresh, name, value);
        if (run->spec->chain) {
            json_t *published = json_object_get (run->state, "published");
            if (!published) {
                published = json_object ();
                json_object_set_new (run->state, "published", published);
            }
            json_object_set (published, name, value);
        }
    }
    if (rc != -2 && json_object_size (fresh)) {
        json_t *contexts = json_object_get (run->state, "contexts");
        json_array_append (contexts, fresh);
        rc = (long)json_array_size (contexts) - 1;
    }
    json_decref (fresh);
    json_decref (rolling);
    return rc;
}

static void
s_fail (wf_run_t *run)
{
    json_object_set_new (run->state, "failing", json_true ());
}

//  An engine command reached by a transition: an entry of its own.
static void
s_command (wf_run_t *run, const char *command, long route, json_t *ctxs, json_t *prev)
{
    json_t *sequence = json_object_get (run->state, "sequence");
    long seq = (long)json_array_size (sequence);
    json_array_append_new (
        sequence,
        json_pack ("{s:s, s:I, s:O, s:O, s:{}, s:s, s:b}", "task", command, "route",
                   (json_int_t)route, "ctxs", ctxs, "prev", prev, "next", "status",
                   streq (command, "fail") ? "failed" : "succeeded", "term", 1));
    char *id = wf_format ("%s__r%ld", command, route);
    json_object_set_new (json_object_get (run->state, "index"), id, json_integer (seq));
    free (id);
    run->last = seq;
    if (streq (command, "fail"))
        s_fail (run);
}

//  A failed task no transition handled fails the run; a cancelled one
//  cancels it, transitions or not (Orquesta: only failed, expired and
//  abandoned tasks are remediated; a canceled task's event cancels the run
//  whatever its next holds, and what it staged does not start).
static void
s_outcome (wf_run_t *run, const char *status, bool remediated)
{
    if (streq (status, "failed") && !remediated)
        s_fail (run);
    else if (streq (status, "canceled") &&
             json_is_null (json_object_get (run->state, "request"))) {
        json_object_set_new (run->state, "request", json_string ("cancel"));
        wf_run_signal_active (run, "cancel");
    }
}

void
wf_run_transitions (wf_run_t *run, long seq, json_t *vars)
{
    json_t *entry = s_entry (run, seq);
    int t = wf_spec_task (run->spec, S (entry, "task"));
    const wf_task_t *task = &run->spec->tasks[t];
    const char *status = S (entry, "status");
    long route = I (entry, "route");
    wf_scope_t scope = {run->spec,
                        run->state,
                        vars,
                        task->name,
                        route,
                        status,
                        json_object_get (entry, "result"),
                        NULL};
    if (run->spec->chain)
        json_object_set (vars, task->name, (json_t *)scope.result);
    int fires[task->next_count + 1];
    long ctx_of[task->next_count + 1];
    for (size_t r = 0; r < task->next_count; r++)
        fires[r] = -2, ctx_of[r] = -3;
    bool remediated = false, manual_fail = false, any_edge = false;
    json_t *commands = json_array (); //  [command, route, ctxs, prev]
    json_t *ready = json_array ();
    json_t *next = json_object_get (entry, "next");
    for (size_t e = 0; e < run->spec->edge_count; e++) {
        const wf_edge_t *edge = &run->spec->edges[e];
        if (edge->from != (size_t)t)
            continue;
        any_edge = true;
        if (fires[edge->ref] == -2)
            fires[edge->ref] = s_fires (run, task, edge->ref, &scope);
        char *id = wf_format ("%s__t%d", edge->to, edge->key);
        json_object_set_new (next, id, json_boolean (fires[edge->ref] == 1));
        free (id);
        if (fires[edge->ref] != 1)
            continue;
        if (ctx_of[edge->ref] == -3)
            ctx_of[edge->ref] = s_publish (run, task, edge->ref, &scope);
        if (ctx_of[edge->ref] == -2)
            continue;
        json_t *ctxs = json_deep_copy (json_object_get (entry, "ctxs"));
        if (ctx_of[edge->ref] >= 0)
            json_array_append_new (ctxs, json_integer (ctx_of[edge->ref]));
        s_compact (run, ctxs);
        long to_route = s_route (run, task->name, edge, route);
        char *backref = wf_format ("%s__t%d", task->name, edge->key);
        if (wf_is_command (edge->to)) {
            remediated = remediated || !streq (edge->to, "continue");
            manual_fail = manual_fail || streq (edge->to, "fail");
            json_array_append_new (commands, json_pack ("[s, I, O, {s:I}]", edge->to,
                                                        (json_int_t)to_route, ctxs,
                                                        backref, (json_int_t)seq));
        } else {
            remediated = true;
            json_t *staged = s_stage (run, edge->to, to_route, ctxs, backref, seq, route);
            if (staged && json_is_true (json_object_get (staged, "ready")))
                json_array_append (ready, staged);
        }
        free (backref);
        json_decref (ctxs);
    }
    if (!any_edge)
        json_object_set_new (entry, "term", json_true ());
    size_t i;
    json_t *item;
    if (manual_fail) //  Orquesta's run_on_fail: they run beside the fail
        json_array_foreach (ready, i, item)
            json_object_set_new (item, "run_on_fail", json_true ());
    s_outcome (run, status, remediated);
    json_array_foreach (commands, i, item)
        s_command (run, json_string_value (json_array_get (item, 0)),
                   (long)json_integer_value (json_array_get (item, 1)),
                   json_array_get (item, 2), json_array_get (item, 3));
    json_decref (commands);
    json_decref (ready);
}

//  At the end: a staged join whose inbound transitions can no longer fire
//  is an error (Orquesta's UnreachableJoinError). True when there is one.
bool
wf_run_unreachable (wf_run_t *run)
{
    json_t *staged = json_object_get (run->state, "staged");
    bool found = false;
    for (size_t i = 0; i < json_array_size (staged); i++) {
        json_t *s = json_array_get (staged, i);
        int t = wf_spec_task (run->spec, S (s, "task"));
        if (t < 0 || !run->spec->tasks[t].join ||
            json_is_true (json_object_get (s, "ready")))
            continue;
        if (wf_run_inbound (run, S (s, "task"), I (s, "route")) != INBOUND_NOT_SATISFIED)
            continue;
        char *message = wf_format ("UnreachableJoinError: The join task|route \"%s|%ld\" "
                                   "is partially satisfied but unreachable.",
                                   S (s, "task"), I (s, "route"));
        wf_run_error (run, S (s, "task"), message, NULL);
        free (message);
        found = true;
    }
    return found;
}
