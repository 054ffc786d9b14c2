/*  workflow_engine_store: a run's rows (workflow_engine_internal.h): the
    record with the conductor's state, one row per child, the commands not
    yet acknowledged; each written when it changed, so a transition costs
    what it changed, not the size of the run. */
#include "actors/workflow/workflow_engine_internal.h"

wf_run_t *
wf_run_new (const char *id, json_t *record)
{
    wf_run_t *run = (wf_run_t *)zmalloc (sizeof (wf_run_t));
    snprintf (run->id, sizeof run->id, "%s", id);
    run->record = record;
    run->touched = zhashx_new ();
    run->state_dirty = run->commands_dirty = true;
    return run;
}

void
wf_run_destroy (void **item_p)
{
    wf_run_t *run = (wf_run_t *)*item_p;
    if (run) {
        json_decref (run->record);
        zhashx_destroy (&run->touched);
        free (run);
        *item_p = NULL;
    }
}

void
wf_run_touch (wf_run_t *run, const char *key)
{
    zhashx_update (run->touched, key, "");
}

void
wf_run_clean (wf_run_t *run)
{
    run->state_dirty = run->commands_dirty = false;
    zhashx_purge (run->touched);
}

//  "ID\nKEY": a child's row key, in `out` (S_ID_SIZE + 300). Its length.
static size_t
s_child_key (char *out, const char *id, const char *key)
{
    int size = snprintf (out, S_ID_SIZE + 300, "%s\n%s", id, key);
    return size > 0 && size < S_ID_SIZE + 300 ? (size_t)size : 0;
}

//  Put `value` (JSON text) at `key` of `table`.
static int
s_put_json (store_txn_t *txn, store_table_t *table, const char *key, size_t key_size,
            const json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT);
    store_code_t code =
        text ? store_put (txn, table, key, key_size, text, strlen (text)) : STORE_NOMEM;
    free (text);
    return code == STORE_OK ? 0 : -1;
}

static int
s_del (store_txn_t *txn, store_table_t *table, const char *key, size_t key_size)
{
    store_code_t code = store_del (txn, table, key, key_size);
    return code == STORE_OK || code == STORE_NOTFOUND ? 0 : -1;
}

//  The run is over: every row of it goes, its state kept for re-runs.
static int
s_remove (store_txn_t *txn, wf_engine_t *self, wf_run_t *run)
{
    const char *id = run->id;
    if (s_del (txn, self->runs, id, strlen (id)) ||
        s_del (txn, self->run_commands, id, strlen (id)))
        return -1;
    const char *key;
    json_t *child;
    json_object_foreach (json_object_get (run->record, "children"), key, child)
    {
        char row[S_ID_SIZE + 300];
        size_t size = s_child_key (row, id, key);
        if (size && s_del (txn, self->run_children, row, size))
            return -1;
    }
    return wf_ended_put (txn, self, id, run->record);
}

int
wf_store_put (store_txn_t *txn, wf_engine_t *self, wf_run_t *run, bool remove)
{
    if (remove)
        return s_remove (txn, self, run);
    const char *id = run->id;
    if (run->state_dirty) {
        json_t *record = json_pack ("{s:O, s:O, s:O}", "action",
                                    json_object_get (run->record, "action"), "state",
                                    json_object_get (run->record, "state"), "done",
                                    json_object_get (run->record, "done"));
        int rc = record ? s_put_json (txn, self->runs, id, strlen (id), record) : -1;
        json_decref (record);
        if (rc)
            return -1;
    }
    if (run->commands_dirty && s_put_json (txn, self->run_commands, id, strlen (id),
                                           json_object_get (run->record, "commands")))
        return -1;
    json_t *children = json_object_get (run->record, "children");
    for (void *item = zhashx_first (run->touched); item;
         item = zhashx_next (run->touched)) {
        const char *key = (const char *)zhashx_cursor (run->touched);
        json_t *child = json_object_get (children, key);
        char row[S_ID_SIZE + 300];
        size_t size = s_child_key (row, id, key);
        if (!size)
            continue; //  a key too long for a row: kept in memory only
        if (child ? s_put_json (txn, self->run_children, row, size, child)
                  : s_del (txn, self->run_children, row, size))
            return -1;
    }
    return 0;
}

//  The rows of run `id`'s children, into `children`.
static void
s_load_children (store_txn_t *txn, wf_engine_t *self, const char *id, json_t *children)
{
    store_cursor_t *cursor = store_cursor_new (txn, self->run_children);
    char prefix[S_ID_SIZE + 2];
    int length = snprintf (prefix, sizeof prefix, "%s\n", id);
    for (store_code_t code = cursor ? store_cursor_seek (cursor, prefix, (size_t)length)
                                    : STORE_NOTFOUND;
         code == STORE_OK; code = store_cursor_next (cursor)) {
        size_t key_size, size;
        const char *key = (const char *)store_cursor_key (cursor, &key_size);
        const char *data = (const char *)store_cursor_data (cursor, &size);
        if (key_size < (size_t)length || memcmp (key, prefix, (size_t)length) != 0)
            break;
        char name[300];
        snprintf (name, sizeof name, "%.*s", (int)(key_size - (size_t)length),
                  key + length);
        json_t *child = json_loadb (data, size, 0, NULL);
        if (json_is_object (child))
            json_object_set_new (children, name, child);
        else {
            zsys_error ("workflow: run %s child %s does not read: skipped", id, name);
            json_decref (child);
        }
    }
    store_cursor_destroy (&cursor);
}

wf_run_t *
wf_store_load (store_txn_t *txn, wf_engine_t *self, const char *id, const char *data,
               size_t size)
{
    json_t *record = json_loadb (data, size, 0, NULL);
    if (!json_is_object (record)) {
        json_decref (record);
        return NULL;
    }
    wf_run_t *run = wf_run_new (id, record);
    json_t *children = json_object_get (record, "children");
    if (json_is_object (children)) {
        //  An older build's record: its children and commands move to their
        //  rows at the next commit
        zsys_info ("workflow: run %s: a record of an older build, its children move "
                   "to their rows",
                   id);
        const char *key;
        json_t *child;
        json_object_foreach (children, key, child) wf_run_touch (run, key);
        if (!json_is_array (json_object_get (record, "commands")))
            json_object_set_new (record, "commands", json_array ());
        zhashx_update (self->dirty, id, "");
        return run;
    }
    wf_run_clean (run);
    children = json_object ();
    json_object_set_new (record, "children", children);
    s_load_children (txn, self, id, children);
    const void *text;
    size_t text_size;
    json_t *commands = store_get (txn, self->run_commands, id, strlen (id), &text,
                                  &text_size) == STORE_OK
                           ? json_loadb ((const char *)text, text_size, 0, NULL)
                           : NULL;
    if (!json_is_array (commands)) {
        json_decref (commands);
        commands = json_array ();
    }
    json_object_set_new (record, "commands", commands);
    return run;
}
