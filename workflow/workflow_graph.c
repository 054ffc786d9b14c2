/*  workflow_graph: a definition's graph as Orquesta composes it (edges by
    target name, the `retry` command as a retry spec, splits, start tasks)
    and the checks made when a workflow loads: unknown targets, unreachable
    tasks, cycles with no exit. */
#include "workflow/workflow_internal.h"

#include <stdio.h>
#include <stdlib.h>

//  The edges of one task, Orquesta's order: by target name, then in the
//  order the transitions list them.
typedef struct {
    const char *to;
    size_t ref;
    size_t order;
} pending_t;

static int
s_pending_cmp (const void *a, const void *b)
{
    const pending_t *x = (const pending_t *)a, *y = (const pending_t *)b;
    int c = strcmp (x->to, y->to);
    return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

static void
s_edges (workflow_spec_t *spec)
{
    size_t total = 0;
    for (size_t i = 0; i < spec->task_count; i++)
        for (size_t j = 0; j < spec->tasks[i].next_count; j++)
            total += spec->tasks[i].next[j].target_count;
    spec->edges = (wf_edge_t *)calloc (total + 1, sizeof (wf_edge_t));
    pending_t *pending = (pending_t *)calloc (total + 1, sizeof (pending_t));
    for (size_t i = 0; i < spec->task_count; i++) {
        wf_task_t *task = &spec->tasks[i];
        size_t count = 0;
        for (size_t j = 0; j < task->next_count; j++) {
            wf_next_t *next = &task->next[j];
            for (size_t k = 0; k < next->target_count; k++) {
                if (streq (next->targets[k], "retry")) {
                    //  the `retry` command: a retry spec, no edge
                    task->retry = true;
                    free (task->retry_when);
                    task->retry_when =
                        strdup (next->when ? next->when : "<% completed() %>");
                    json_decref (task->retry_count);
                    task->retry_count = json_integer (3);
                    json_decref (task->retry_delay);
                    task->retry_delay = NULL;
                    continue;
                }
                pending[count] = (pending_t){next->targets[k], j, count};
                count++;
            }
        }
        qsort (pending, count, sizeof (pending_t), s_pending_cmp);
        for (size_t k = 0; k < count; k++) {
            int key = 0;
            for (size_t e = 0; e < k; e++)
                if (streq (pending[e].to, pending[k].to))
                    key++;
            spec->edges[spec->edge_count++] =
                (wf_edge_t){i, pending[k].to, key, pending[k].ref};
        }
    }
    free (pending);
}

static size_t
s_inbound (const workflow_spec_t *spec, const char *name)
{
    size_t count = 0;
    for (size_t e = 0; e < spec->edge_count; e++)
        if (streq (spec->edges[e].to, name))
            count++;
    return count;
}

//  True when `name` can reach itself (Orquesta's in_cycle).
static bool
s_in_cycle (const workflow_spec_t *spec, const char *name)
{
    int start = wf_spec_task (spec, name);
    if (start < 0)
        return false;
    size_t n = spec->task_count;
    bool *seen = (bool *)calloc (n, sizeof (bool));
    int *queue = (int *)calloc (n + 1, sizeof (int));
    size_t head = 0, tail = 0;
    queue[tail++] = start;
    bool cycle = false;
    while (head < tail && !cycle) {
        int at = queue[head++];
        for (size_t e = 0; e < spec->edge_count; e++) {
            if (spec->edges[e].from != (size_t)at)
                continue;
            int to = wf_spec_task (spec, spec->edges[e].to);
            if (to == start) {
                cycle = true;
                break;
            }
            if (to >= 0 && !seen[to]) {
                seen[to] = true;
                queue[tail++] = to;
            }
        }
    }
    free (seen);
    free (queue);
    return cycle;
}

bool
wf_spec_split (const workflow_spec_t *spec, const char *name)
{
    int t = wf_spec_task (spec, name);
    if (t >= 0)
        return spec->tasks[t].split;
    return !spec->chain && s_inbound (spec, name) > 1;
}

static void
s_check_targets (workflow_spec_t *spec, wf_errors_t *errors)
{
    for (size_t i = 0; i < spec->task_count; i++) {
        wf_task_t *task = &spec->tasks[i];
        for (size_t j = 0; j < task->next_count; j++)
            for (size_t k = 0; k < task->next[j].target_count; k++) {
                const char *to = task->next[j].targets[k];
                if (wf_is_command (to) || wf_spec_task (spec, to) >= 0)
                    continue;
                char field[300];
                if (spec->chain)
                    snprintf (field, sizeof field, "chain.%s.%s", task->name,
                              task->next[j].on == WF_ON_FAILURE ? "on-failure"
                                                                : "on-success");
                else
                    snprintf (field, sizeof field, "tasks.%s.next[%zu].do", task->name,
                              j);
                wf_errors_add (errors, spec->name,
                               task->next[j].do_line ? task->next[j].do_line
                                                     : task->next[j].line,
                               field, "unknown task '%s'", to);
            }
    }
}

static void
s_check_reachable (workflow_spec_t *spec, wf_errors_t *errors)
{
    size_t n = spec->task_count;
    bool *seen = (bool *)calloc (n, sizeof (bool));
    int *queue = (int *)calloc (n + 1, sizeof (int));
    size_t head = 0, tail = 0;
    size_t i;
    json_t *name;
    json_array_foreach (spec->start, i, name)
    {
        int t = wf_spec_task (spec, json_string_value (name));
        if (t >= 0 && !seen[t]) {
            seen[t] = true;
            queue[tail++] = t;
        }
    }
    while (head < tail) {
        int at = queue[head++];
        for (size_t e = 0; e < spec->edge_count; e++) {
            int to = spec->edges[e].from == (size_t)at
                         ? wf_spec_task (spec, spec->edges[e].to)
                         : -1;
            if (to >= 0 && !seen[to]) {
                seen[to] = true;
                queue[tail++] = to;
            }
        }
    }
    for (size_t t = 0; t < n && !spec->chain; t++)
        if (!seen[t])
            wf_errors_add (errors, spec->name, spec->tasks[t].line, "tasks",
                           "task '%s' is unreachable (no transition from a start task "
                           "leads to it)",
                           spec->tasks[t].name);
    free (seen);
    free (queue);
}

//  A task is trapped when every transition it has fires unconditionally
//  into tasks that are trapped too: once there, the run never ends.
static void
s_check_exits (workflow_spec_t *spec, wf_errors_t *errors)
{
    size_t n = spec->task_count;
    bool *trapped = (bool *)calloc (n + 1, sizeof (bool));
    for (size_t t = 0; t < n; t++) {
        wf_task_t *task = &spec->tasks[t];
        trapped[t] = task->next_count > 0 && !task->retry;
        for (size_t j = 0; j < task->next_count && trapped[t]; j++) {
            wf_next_t *next = &task->next[j];
            if (next->when || next->on != WF_ON_WHEN)
                trapped[t] = false;
            for (size_t k = 0; k < next->target_count; k++)
                if (wf_spec_task (spec, next->targets[k]) < 0)
                    trapped[t] = false;
        }
    }
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t e = 0; e < spec->edge_count; e++) {
            int to = wf_spec_task (spec, spec->edges[e].to);
            if (trapped[spec->edges[e].from] && to >= 0 && !trapped[to]) {
                trapped[spec->edges[e].from] = false;
                changed = true;
            }
        }
    }
    for (size_t t = 0; t < n; t++)
        if (trapped[t] && s_in_cycle (spec, spec->tasks[t].name))
            wf_errors_add (errors, spec->name, spec->tasks[t].line, "tasks",
                           "task '%s' is in a cycle with no exit (every transition "
                           "from it loops back unconditionally)",
                           spec->tasks[t].name);
    free (trapped);
}

static int
s_name_cmp (const void *a, const void *b)
{
    return strcmp (*(const char *const *)a, *(const char *const *)b);
}

void
wf_spec_graph (workflow_spec_t *spec, wf_errors_t *errors)
{
    s_edges (spec);
    for (size_t t = 0; t < spec->task_count; t++) {
        wf_task_t *task = &spec->tasks[t];
        task->split = !spec->chain && !task->join && s_inbound (spec, task->name) > 1 &&
                      !s_in_cycle (spec, task->name);
    }
    if (!spec->start) {
        const char **names =
            (const char **)calloc (spec->task_count + 1, sizeof (char *));
        size_t count = 0;
        for (size_t t = 0; t < spec->task_count; t++)
            if (s_inbound (spec, spec->tasks[t].name) == 0)
                names[count++] = spec->tasks[t].name;
        qsort (names, count, sizeof (char *), s_name_cmp);
        spec->start = json_array ();
        for (size_t i = 0; i < count; i++)
            json_array_append_new (spec->start, json_string (names[i]));
        free (names);
    }
    s_check_targets (spec, errors);
    if (json_array_size (spec->start) == 0)
        wf_errors_add (errors, spec->name, 0, "tasks",
                       "no start task (every task has a transition into it)");
    else
        s_check_reachable (spec, errors);
    s_check_exits (spec, errors);
}
