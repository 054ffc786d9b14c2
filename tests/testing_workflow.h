/*  testing_workflow: drive the workflow conductor (workflow/workflow.h)
    with simulated children, the way Orquesta's own rehearsal does: each
    round starts every child the last round asked for (ordered by task and
    route), then ends them one by one with the mocked status and result.
    The recorded sequence names each task instance as it starts ("task" or
    "task__rROUTE"), engine commands (noop, fail, continue) as they are
    reached. Header-only; for the test_workflow_* suites. */
#ifndef TESTING_WORKFLOW_H_INCLUDED
#define TESTING_WORKFLOW_H_INCLUDED

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workflow/workflow.h"

#define WF_FIXTURES  ATTUNE_SHARED_DIR "/orquesta-fixtures"
#define WF_EXAMPLES  ATTUNE_SHARED_DIR "/st2-packs/examples/actions"
#define WF_MAX_MOCKS 16
#ifndef streq
#define streq(s1, s2) (!strcmp ((s1), (s2)))
#endif

//  What a child ends with: the first mock of its task (and item, -1 any)
//  with uses left applies ("*": any task; times -1: no limit); else
//  "completed" with a null result. Status
//  "running" leaves the child running; "pending" reports it pending.
typedef struct {
    const char *task;
    int item;
    const char *status;
    const char *result; //  JSON text, NULL: null
    int times;          //  0: once
} wf_mock_t;

typedef struct {
    workflow_spec_t *spec;
    json_t *state;
    json_t *sequence;    //  recorded names
    json_t *outstanding; //  run commands to start next round
    json_t *held;        //  children left running or pending
    json_t *recorded;    //  {"SEQ.ATTEMPT": true}
    json_t *commands;    //  every command, in order
    size_t scanned;      //  sequence entries looked at for engine commands
    wf_mock_t mocks[WF_MAX_MOCKS];
    int used[WF_MAX_MOCKS];
    size_t mock_count;
    size_t max_batch; //  the most children running at once
} wf_drive_t;

static inline workflow_spec_t *
wf_load_fixture (const char *name)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s.yaml", WF_FIXTURES, name);
    if (access (path, R_OK))
        cr_skip_test ("no fixtures at %s", WF_FIXTURES);
    char *error = NULL;
    workflow_spec_t *spec = workflow_spec_load (path, "orquesta", &error);
    cr_assert (spec, "%s: %s", name, error ? error : "?");
    return spec;
}

static inline const wf_mock_t *
wf_mock_find (wf_drive_t *d, const char *task, int item)
{
    for (size_t i = 0; i < d->mock_count; i++) {
        wf_mock_t *m = &d->mocks[i];
        int times = m->times ? m->times : 1;
        if (times < 0)
            times = d->used[i] + 1; //  no limit
        if ((streq (m->task, task) || streq (m->task, "*")) &&
            (m->item < 0 || m->item == item) && d->used[i] < times) {
            d->used[i]++;
            return m;
        }
    }
    return NULL;
}

//  Engine commands reached since the last look, and tasks with no child.
static inline void
wf_drive_scan (wf_drive_t *d, bool actionless)
{
    json_t *sequence = json_object_get (d->state, "sequence");
    for (size_t i = actionless ? 0 : d->scanned; i < json_array_size (sequence); i++) {
        json_t *entry = json_array_get (sequence, i);
        const char *task = json_string_value (json_object_get (entry, "task"));
        bool command =
            streq (task, "noop") || streq (task, "fail") || streq (task, "continue");
        char id[64];
        snprintf (id, sizeof id, "%zu.%lld", i,
                  (long long)json_integer_value (json_object_get (entry, "attempt")));
        if (json_object_get (d->recorded, id) || command == actionless)
            continue;
        if (actionless) {
            //  a task that ended without a child (no action, or not rendered)
            bool started = false;
            size_t j;
            json_t *c;
            json_array_foreach (d->outstanding, j, c)
            {
                int seq = atoi (json_string_value (json_object_get (c, "key")));
                started = started || seq == (int)i;
            }
            if (started || json_object_get (entry, "items") ||
                streq (json_string_value (json_object_get (entry, "status")), "running"))
                continue;
        }
        json_object_set_new (d->recorded, id, json_true ());
        long long route = json_integer_value (json_object_get (entry, "route"));
        json_array_append_new (d->sequence, json_sprintf ("%s__r%lld", task, route));
    }
    if (!actionless)
        d->scanned = json_array_size (sequence);
}

static inline void
wf_drive_take (wf_drive_t *d, json_t *commands)
{
    size_t i;
    json_t *c;
    json_array_foreach (commands, i, c)
    {
        json_array_append (d->commands, c);
        if (streq (json_string_value (json_object_get (c, "op")), "run"))
            json_array_append (d->outstanding, c);
    }
    json_array_clear (commands);
}

static inline int
wf_cmd_cmp (const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp (json_string_value (json_object_get (x, "task")),
                    json_string_value (json_object_get (y, "task")));
    if (c)
        return c;
    long long rx = json_integer_value (json_object_get (x, "route"));
    long long ry = json_integer_value (json_object_get (y, "route"));
    if (rx != ry)
        return rx < ry ? -1 : 1;
    return strcmp (json_string_value (json_object_get (x, "key")),
                   json_string_value (json_object_get (y, "key")));
}

//  End one child as its mock says.
static inline void
wf_drive_end (wf_drive_t *d, json_t *c)
{
    const char *task = json_string_value (json_object_get (c, "task"));
    json_t *item = json_object_get (c, "item");
    const wf_mock_t *m =
        wf_mock_find (d, task, item ? (int)json_integer_value (item) : -1);
    const char *status = m && m->status ? m->status : "completed";
    json_t *commands = json_array ();
    char *error = NULL;
    const char *key = json_string_value (json_object_get (c, "key"));
    if (streq (status, "running"))
        json_array_append (d->held, c);
    else if (streq (status, "pending")) {
        json_array_append (d->held, c);
        cr_assert_eq (workflow_task_pending (d->spec, d->state, key, commands, &error), 0,
                      "%s", error);
    } else {
        json_t *result =
            m && m->result ? json_loads (m->result, JSON_DECODE_ANY, NULL) : json_null ();
        cr_assert (result, "mock result for %s does not parse", task);
        cr_assert_eq (workflow_task_ended (d->spec, d->state, key, status, result,
                                           commands, &error),
                      0, "%s: %s", key, error);
        json_decref (result);
    }
    wf_drive_take (d, commands);
    json_decref (commands);
    wf_drive_scan (d, false);
}

//  Run rounds until nothing is outstanding.
static inline void
wf_drive_rounds (wf_drive_t *d)
{
    while (json_array_size (d->outstanding)) {
        size_t n = json_array_size (d->outstanding);
        json_t **batch = (json_t **)calloc (n, sizeof (json_t *));
        for (size_t i = 0; i < n; i++)
            batch[i] = json_incref (json_array_get (d->outstanding, i));
        qsort (batch, n, sizeof (json_t *), wf_cmd_cmp);
        wf_drive_scan (d, true);
        json_array_clear (d->outstanding);
        for (size_t i = 0; i < n; i++) {
            char id[64];
            int seq = atoi (json_string_value (json_object_get (batch[i], "key")));
            json_t *entry =
                json_array_get (json_object_get (d->state, "sequence"), (size_t)seq);
            snprintf (id, sizeof id, "%d.%lld", seq,
                      (long long)json_integer_value (json_object_get (entry, "attempt")));
            if (json_object_get (d->recorded, id))
                continue;
            json_object_set_new (d->recorded, id, json_true ());
            json_array_append_new (
                d->sequence,
                json_sprintf (
                    "%s__r%lld", json_string_value (json_object_get (batch[i], "task")),
                    (long long)json_integer_value (json_object_get (batch[i], "route"))));
        }
        if (n + json_array_size (d->held) > d->max_batch)
            d->max_batch = n + json_array_size (d->held);
        for (size_t i = 0; i < n; i++) {
            wf_drive_end (d, batch[i]);
            json_decref (batch[i]);
        }
        free (batch);
    }
    wf_drive_scan (d, true);
}

//  Start `spec` with `input` (JSON text or NULL) and drive it to its end
//  (or until only held children remain).
static inline void
wf_drive (wf_drive_t *d, workflow_spec_t *spec, const char *input)
{
    d->spec = spec;
    d->sequence = json_array ();
    d->outstanding = json_array ();
    d->held = json_array ();
    d->recorded = json_object ();
    d->commands = json_array ();
    json_t *in = input ? json_loads (input, 0, NULL) : json_object ();
    cr_assert (in, "input does not parse");
    json_t *commands = json_array ();
    char *error = NULL;
    d->state = workflow_start (spec, in, commands, &error);
    cr_assert (d->state, "%s", error);
    json_decref (in);
    wf_drive_take (d, commands);
    json_decref (commands);
    wf_drive_scan (d, false);
    wf_drive_rounds (d);
}

static inline void
wf_drive_free (wf_drive_t *d)
{
    json_decref (d->state);
    json_decref (d->sequence);
    json_decref (d->outstanding);
    json_decref (d->held);
    json_decref (d->recorded);
    json_decref (d->commands);
    workflow_spec_destroy (&d->spec);
}

//  The recorded sequence matches `expected` (NULL-terminated); a name with
//  no "__r" matches any route.
static inline void
wf_assert_sequence (wf_drive_t *d, const char *const *expected)
{
    size_t n = 0;
    while (expected[n])
        n++;
    char *got = json_dumps (d->sequence, JSON_COMPACT);
    cr_assert_eq (json_array_size (d->sequence), n,
                  "sequence %s: %zu entries, expected %zu", got,
                  json_array_size (d->sequence), n);
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value (json_array_get (d->sequence, i));
        bool routed = strstr (expected[i], "__r") != NULL;
        size_t len = routed ? strlen (name) : (size_t)(strstr (name, "__r") - name);
        cr_assert (strlen (expected[i]) == len && !strncmp (name, expected[i], len),
                   "sequence %s: entry %zu is %s, expected %s", got, i, name,
                   expected[i]);
    }
    free (got);
}

static inline void
wf_assert_status (wf_drive_t *d, const char *status)
{
    cr_assert_str_eq (workflow_status (d->state), status,
                      "status %s, expected %s (errors %s)", workflow_status (d->state),
                      status,
                      json_dumps (json_object_get (d->state, "errors"), JSON_COMPACT));
}

static inline void
wf_assert_output (wf_drive_t *d, const char *expected)
{
    json_t *want = json_loads (expected, 0, NULL);
    cr_assert (want);
    json_t *result = workflow_result (d->state);
    json_t *output = json_object_get (result, "output");
    char *got = json_dumps (output, JSON_COMPACT);
    cr_assert (json_equal (output, want), "output %s, expected %s", got, expected);
    free (got);
    json_decref (want);
    json_decref (result);
}

#endif
