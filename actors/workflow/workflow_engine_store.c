/*  workflow_engine_store: a run's rows (workflow_engine_internal.h): the
    record with a snapshot of the conductor's state, the journal of the
    conductor calls since, one row per child, the commands not yet
    acknowledged; each written when it changed, so a transition costs what
    it changed, not the size of the run. */
#include "actors/workflow/workflow_engine_internal.h"

#include <inttypes.h>

wf_run_t *
wf_run_new (const char *id, json_t *record)
{
    wf_run_t *run = (wf_run_t *)zmalloc (sizeof (wf_run_t));
    snprintf (run->id, sizeof run->id, "%s", id);
    run->record = record;
    run->touched = zhashx_new ();
    run->journal = json_array ();
    run->state_dirty = run->commands_dirty = true;
    return run;
}

void
wf_run_destroy (void **item_p)
{
    wf_run_t *run = (wf_run_t *)*item_p;
    if (run) {
        json_decref (run->record);
        json_decref (run->journal);
        json_decref (run->replay);
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
wf_run_journal (wf_run_t *run, json_t *call)
{
    json_array_append_new (run->journal, call);
}

void
wf_run_clean (wf_run_t *run)
{
    if (run->put_snapshot) {
        run->journal_first = run->journal_next;
        run->journal_bytes = 0;
        run->snapshot_bytes = run->put_bytes;
    } else if (json_array_size (run->journal)) {
        run->journal_next += json_array_size (run->journal);
        run->journal_bytes += run->put_bytes;
    }
    run->put_snapshot = false;
    run->put_bytes = 0;
    json_array_clear (run->journal);
    run->state_dirty = run->commands_dirty = false;
    zhashx_purge (run->touched);
}

//  "ID\nNUMBER": a journal row's key, in `out` (S_ID_SIZE + 20).
static size_t
s_journal_key (char *out, const char *id, uint64_t number)
{
    int size = snprintf (out, S_ID_SIZE + 20, "%s\n%016" PRIx64, id, number);
    return size > 0 && size < S_ID_SIZE + 20 ? (size_t)size : 0;
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

//  The journal rows after the snapshot go: the state is written whole.
static int
s_journal_drop (store_txn_t *txn, wf_engine_t *self, wf_run_t *run)
{
    for (uint64_t number = run->journal_first; number < run->journal_next; number++) {
        char row[S_ID_SIZE + 20];
        size_t size = s_journal_key (row, run->id, number);
        if (size && s_del (txn, self->run_journal, row, size))
            return -1;
    }
    return 0;
}

//  Append the calls since the last commit to the journal: 1 when written,
//  0 when they outgrew the snapshot (the state is to be written whole
//  instead, which costs as much as the journal it replaces), -1 on error.
static int
s_journal_put (store_txn_t *txn, wf_engine_t *self, wf_run_t *run)
{
    size_t count = json_array_size (run->journal), bytes = 0;
    char **texts = (char **)zmalloc (count * sizeof (char *) + 1);
    int rc = 1;
    for (size_t i = 0; i < count && rc == 1; i++) {
        texts[i] = json_dumps (json_array_get (run->journal, i), JSON_COMPACT);
        rc = texts[i] ? 1 : -1;
        bytes += texts[i] ? strlen (texts[i]) : 0;
    }
    if (rc == 1 && run->journal_bytes + bytes > run->snapshot_bytes)
        rc = 0;
    for (size_t i = 0; i < count && rc == 1; i++) {
        char row[S_ID_SIZE + 20];
        size_t size = s_journal_key (row, run->id, run->journal_next + i);
        if (!size || store_put (txn, self->run_journal, row, size, texts[i],
                                strlen (texts[i])) != STORE_OK)
            rc = -1;
    }
    for (size_t i = 0; i < count; i++)
        free (texts[i]);
    free (texts);
    run->put_bytes = bytes;
    return rc;
}

//  The state whole (with the action, the definition's text the run started
//  with, and whether it is done), its journal rows gone.
static int
s_snapshot_put (store_txn_t *txn, wf_engine_t *self, wf_run_t *run)
{
    json_t *record =
        json_pack ("{s:O, s:O, s:O}", "action", json_object_get (run->record, "action"),
                   "state", json_object_get (run->record, "state"), "done",
                   json_object_get (run->record, "done"));
    json_t *definition = json_object_get (run->record, "definition");
    if (record && definition)
        json_object_set (record, "definition", definition);
    char *text = record ? json_dumps (record, JSON_COMPACT) : NULL;
    json_decref (record);
    int rc = text && store_put (txn, self->runs, run->id, strlen (run->id), text,
                                strlen (text)) == STORE_OK
                 ? s_journal_drop (txn, self, run)
                 : -1;
    run->put_snapshot = rc == 0;
    run->put_bytes = text ? strlen (text) : 0;
    free (text);
    return rc;
}

//  The run is over: every row of it goes, its state kept for re-runs.
static int
s_remove (store_txn_t *txn, wf_engine_t *self, wf_run_t *run)
{
    const char *id = run->id;
    if (s_journal_drop (txn, self, run) || s_del (txn, self->runs, id, strlen (id)) ||
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
    run->put_snapshot = false;
    int journaled = run->state_dirty || !json_array_size (run->journal)
                        ? 0
                        : s_journal_put (txn, self, run);
    if (journaled < 0)
        return -1;
    if ((run->state_dirty || (!journaled && json_array_size (run->journal))) &&
        s_snapshot_put (txn, self, run))
        return -1;
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

//  The rows of run `id` in `table` ("ID\nNAME": {...}), into `rows` by
//  NAME, in the order of their keys; their size added to *bytes.
static void
s_load_rows (store_txn_t *txn, store_table_t *table, const char *id, const char *what,
             json_t *rows, size_t *bytes)
{
    store_cursor_t *cursor = store_cursor_new (txn, table);
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
        json_t *row = json_loadb (data, size, 0, NULL);
        if (json_is_object (row)) {
            json_object_set_new (rows, name, row);
            *bytes += size;
        } else {
            zsys_error ("workflow: run %s %s %s does not read: skipped", id, what, name);
            json_decref (row);
        }
    }
    store_cursor_destroy (&cursor);
}

//  The journal of `run` after its snapshot (`size` bytes): the calls to
//  replay, and where it goes on.
static void
s_load_journal (store_txn_t *txn, wf_engine_t *self, wf_run_t *run, size_t size)
{
    json_t *rows = json_object ();
    s_load_rows (txn, self->run_journal, run->id, "journal entry", rows,
                 &run->journal_bytes);
    run->snapshot_bytes = size;
    run->replay = json_array ();
    const char *name;
    json_t *call;
    json_object_foreach (rows, name, call)
    {
        uint64_t number = strtoull (name, NULL, 16);
        if (json_array_size (run->replay) == 0)
            run->journal_first = number;
        run->journal_next = number + 1;
        json_array_append (run->replay, call);
    }
    json_decref (rows);
}

//  Make the conductor call `call` (a journal entry) on `state` again.
static int
s_replay_call (wf_run_t *run, json_t *state, const json_t *call, json_t *commands,
               char **error)
{
    const char *what = json_string_value (json_object_get (call, "call"));
    const char *key = json_string_value (json_object_get (call, "key"));
    const char *status = json_string_value (json_object_get (call, "status"));
    const char *request = json_string_value (json_object_get (call, "what"));
    if (what && key && streq (what, "ended"))
        return workflow_task_ended (run->spec, state, key, status,
                                    json_object_get (call, "result"), commands, error);
    if (what && key && streq (what, "pending"))
        return workflow_task_pending (run->spec, state, key, commands, error);
    if (what && request && streq (what, "request"))
        return workflow_request (run->spec, state, request, commands, error);
    *error = strdup ("not a call");
    return -1;
}

int
wf_store_replay (wf_run_t *run)
{
    json_t *state = json_object_get (run->record, "state");
    json_t *commands = json_array ();
    int rc = 0;
    size_t i;
    json_t *call;
    json_array_foreach (run->replay, i, call)
    {
        char *error = NULL;
        if (!json_is_object (state) ||
            s_replay_call (run, state, call, commands, &error) != 0) {
            zsys_error ("workflow: run %s: journal entry %zu does not replay: %s",
                        run->id, i, error ? error : "no state");
            rc = -1;
        }
        free (error);
        json_array_clear (commands); //  stored when they were made
    }
    json_decref (commands);
    json_decref (run->replay);
    run->replay = NULL;
    if (state)
        json_object_set_new (run->record, "done", json_boolean (workflow_done (state)));
    return rc;
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
    s_load_journal (txn, self, run, size);
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
    size_t bytes = 0;
    s_load_rows (txn, self->run_children, id, "child", children, &bytes);
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
