/*  datastore_batch: the datastore's group commit (datastore_internal.h).
    The writes that one actor_query_handle delivers are deferred, committed
    together in one LMDB write transaction (one fsync), and only then
    published and answered: durable before acknowledged.
*/
#include "actors/datastore/datastore_internal.h"

#define S_ANSWER_MS 30000 //  a deferred answer is kept this long at most

typedef struct {
    json_t *records; //  to put; deleting: {scope, name} maps
    json_t *olds;    //  what each replaced (null: none)
    bool deleting;
    uint64_t ticket; //  the deferred answer
    json_t *result;
} s_entry_t;

static void
s_touch_key (const char *scope, const char *name, char *out, size_t size)
{
    snprintf (out, size, "%s\x1f%s", scope, name);
}

void
datastore_batch_touched (datastore_t *self, const char *scope, const char *name)
{
    char key[DATASTORE_SCOPE_MAX + DATASTORE_NAME_MAX + 8];
    s_touch_key (scope, name, key, sizeof key);
    if (json_object_get (self->touched, key))
        datastore_batch_flush (self);
}

void
datastore_batch_add (datastore_t *self, actor_answer_t *answer, json_t *records,
                     bool deleting, json_t *result)
{
    s_entry_t *entry = (s_entry_t *)zmalloc (sizeof (s_entry_t));
    entry->records = records;
    entry->olds = json_array ();
    entry->deleting = deleting;
    entry->result = result;
    entry->ticket = actor_query_defer (self->query, answer, S_ANSWER_MS);
    size_t i;
    json_t *record;
    json_array_foreach (records, i, record)
    {
        char key[DATASTORE_SCOPE_MAX + DATASTORE_NAME_MAX + 8];
        s_touch_key (json_string_value (json_object_get (record, "scope")),
                     json_string_value (json_object_get (record, "name")), key,
                     sizeof key);
        json_object_set_new (self->touched, key, json_true ());
    }
    zlist_append (self->batch, entry);
}

//  One entry's writes in the transaction
static int
s_write_entry (datastore_t *self, store_txn_t *txn, s_entry_t *entry)
{
    json_array_clear (entry->olds);
    size_t i;
    json_t *record;
    json_array_foreach (entry->records, i, record)
    {
        const char *scope = json_string_value (json_object_get (record, "scope"));
        const char *name = json_string_value (json_object_get (record, "name"));
        json_t *old = datastore_keys_get (self->keys, txn, scope, name);
        store_code_t code = STORE_OK;
        if (entry->deleting && old)
            code = datastore_keys_del (self->keys, txn, scope, name);
        else if (!entry->deleting) {
            if (old)
                json_object_set (record, "created_at",
                                 json_object_get (old, "created_at"));
            code = datastore_keys_put (self->keys, txn, record);
        }
        json_array_append_new (entry->olds, old ? old : json_null ());
        if (code != STORE_OK)
            return -1;
        if ((old || !entry->deleting) &&
            datastore_events (self, txn, old, entry->deleting ? NULL : record) != 0)
            return -1;
    }
    return 0;
}

static int
s_write_fn (store_txn_t *txn, void *arg)
{
    datastore_t *self = (datastore_t *)arg;
    event_outbox_attempt (self->outbox);
    for (s_entry_t *entry = (s_entry_t *)zlist_first (self->batch); entry;
         entry = (s_entry_t *)zlist_next (self->batch))
        if (s_write_entry (self, txn, entry) != 0)
            return -1;
    //  The rows of events acked so far go with this commit
    return event_outbox_flush (self->outbox, txn) < 0 ? -1 : 0;
}

//  After the commit: publish each change, note deadlines, answer
static void
s_done (datastore_t *self, s_entry_t *entry)
{
    size_t i;
    json_t *record;
    json_array_foreach (entry->records, i, record)
    {
        json_t *old = json_array_get (entry->olds, i);
        if (entry->deleting && json_is_null (old))
            continue;
        datastore_changed (self, json_is_null (old) ? NULL : old,
                           entry->deleting ? NULL : record,
                           entry->deleting ? "delete" : "set");
        if (!entry->deleting)
            datastore_expiry_note (
                self, json_integer_value (json_object_get (record, "expire_at")));
    }
    if (!entry->deleting)
        self->sets += json_array_size (entry->records);
    actor_query_reply (self->query, entry->ticket, entry->result, NULL, NULL);
    entry->result = NULL;
}

void
datastore_batch_flush (datastore_t *self)
{
    if (zlist_size (self->batch) == 0)
        return;
    store_code_t code = store_write (self->store, s_write_fn, self);
    if (code == STORE_OK)
        event_outbox_committed (self->outbox);
    else
        event_outbox_attempt (self->outbox); //  forgotten with the transaction
    char message[256];
    snprintf (message, sizeof message, "the datastore cannot write: %s",
              store_strerror (code));
    s_entry_t *entry;
    while ((entry = (s_entry_t *)zlist_pop (self->batch))) {
        if (code == STORE_OK)
            s_done (self, entry);
        else
            actor_query_reply (self->query, entry->ticket, NULL, "unavailable", message);
        json_decref (entry->records);
        json_decref (entry->olds);
        json_decref (entry->result);
        free (entry);
    }
    json_object_clear (self->touched);
}
