/*  workflow_engine_ended: the runs whose end the executor acked, kept for
    a re-run from their tasks (StackStorm's `re-run --tasks`), and the
    re-run itself (workflow_engine_internal.h). */
#include "actors/workflow/workflow_engine_internal.h"

//  The ended run `id` kept for re-runs ({action, state}); the oldest
//  beyond S_ENDED_MAX forgotten. 0 or -1.
int
wf_ended_put (store_txn_t *txn, wf_engine_t *self, const char *id, const json_t *record)
{
    json_t *ended = json_pack ("{s:O, s:O}", "action", json_object_get (record, "action"),
                               "state", json_object_get (record, "state"));
    //  Its own definition's text: a re-run goes on with it, as Orquesta's
    //  re-run with the spec its workflow execution recorded
    json_t *definition = json_object_get (record, "definition");
    if (ended && json_is_string (definition))
        json_object_set (ended, "definition", definition);
    char *text = ended ? json_dumps (ended, JSON_COMPACT) : NULL;
    json_decref (ended);
    store_code_t code =
        text ? store_put (txn, self->finished, id, strlen (id), text, strlen (text))
             : STORE_NOMEM;
    free (text);
    if (code != STORE_OK ||
        store_insert (txn, self->finished_order, id, strlen (id), NULL) != STORE_OK)
        return -1;
    if (store_count (txn, self->finished_order) <= S_ENDED_MAX)
        return 0;
    store_cursor_t *cursor = store_cursor_new (txn, self->finished_order);
    size_t size = 0;
    const void *oldest = cursor && store_cursor_first (cursor) == STORE_OK
                             ? store_cursor_data (cursor, &size)
                             : NULL;
    code = oldest ? store_del (txn, self->finished, oldest, size) : STORE_NOTFOUND;
    int rc = (code == STORE_OK || code == STORE_NOTFOUND) &&
                     store_cursor_del (cursor) == STORE_OK
                 ? 0
                 : -1;
    store_cursor_destroy (&cursor);
    return rc;
}

//  An array of strings as a C array (borrowed texts); NULL when empty.
static const char **
s_names (const json_t *list, size_t *count)
{
    *count = json_array_size (list);
    const char **names = *count ? (const char **)calloc (*count, sizeof (char *)) : NULL;
    for (size_t i = 0; names && i < *count; i++)
        names[i] = json_string_value (json_array_get (list, i)) ?: "";
    return names;
}

//  The ended run a re-run names ({ref, tasks, reset} of the dispatch), as
//  kept: {action, state, definition (its text, when kept)}. New reference,
//  or NULL with *error set (malloc'd).
static json_t *
s_ended_get (wf_engine_t *self, const json_t *rerun, char **error)
{
    const char *ref = json_string_value (json_object_get (rerun, "ref"));
    ref = ref ? ref : "";
    json_t *ended = NULL;
    store_txn_t *txn = store_read_begin (self->store);
    const void *data;
    size_t size;
    if (txn &&
        store_get (txn, self->finished, ref, strlen (ref), &data, &size) == STORE_OK)
        ended = json_loadb ((const char *)data, size, 0, NULL);
    store_read_end (&txn);
    if (!ended)
        *error = zsys_sprintf ("cannot re-run from tasks: the workflow %s has not ended "
                               "here, or its state is no longer kept (the latest %d are)",
                               ref, S_ENDED_MAX);
    return ended;
}

//  The ended run's state re-run by the conductor (workflow_rerun) with
//  `spec`, its first commands appended. NULL with *error set (malloc'd).
static json_t *
s_rerun (const workflow_spec_t *spec, const json_t *ended, const json_t *rerun,
         json_t *commands, char **error)
{
    size_t count, reset_count;
    const char **tasks = s_names (json_object_get (rerun, "tasks"), &count);
    const char **reset = s_names (json_object_get (rerun, "reset"), &reset_count);
    json_t *state = workflow_rerun (spec, json_object_get (ended, "state"), tasks, count,
                                    reset, reset_count, commands, error);
    free (tasks);
    free (reset);
    return state;
}

json_t *
wf_ended_rerun (wf_engine_t *self, const json_t *action, const json_t *rerun,
                json_t *commands, char **definition, workflow_spec_t **spec, char **error)
{
    json_t *ended = s_ended_get (self, rerun, error);
    if (!ended)
        return NULL;
    const char *text = json_string_value (json_object_get (ended, "definition"));
    *spec = wf_runs_spec (self, action, text, text ? NULL : definition, error);
    if (*spec && text && !(*definition = strdup (text)))
        *error = strdup ("out of memory");
    json_t *state =
        *spec && *definition ? s_rerun (*spec, ended, rerun, commands, error) : NULL;
    json_decref (ended);
    return state;
}
