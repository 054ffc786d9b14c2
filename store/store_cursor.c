/*  store_cursor: cursors over a table or over the ids under one index key.
    Cursors opened in a transaction are kept on its list and closed when it
    ends; a cursor object that outlives its transaction is only good for
    store_cursor_destroy (). See store.h for the API.
*/
#include "store/store.h"
#include "store/store_internal.h"

#include <assert.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------------
//  Cursors

static store_cursor_t *
s_cursor_new (store_txn_t *txn, store_table_t *table, const void *key, size_t key_size)
{
    store_t *self = txn->store;
    store_cursor_t *cursor =
        (store_cursor_t *)calloc (1, sizeof (store_cursor_t) + key_size);
    if (!cursor) {
        store_error_set (self, "%s: cursor on table '%s': out of memory", self->dir,
                         table->name);
        return NULL;
    }
    int rc = mdb_cursor_open (txn->txn, table->dbi, &cursor->cursor);
    if (rc) {
        store_txn_fail (txn, rc, "cursor", table, key_size, false);
        free (cursor);
        return NULL;
    }
    cursor->txn = txn;
    cursor->table = table;
    cursor->state = CURSOR_UNSET;
    if (key) {
        cursor->by_index = true;
        cursor->ikey.mv_size = key_size;
        cursor->ikey.mv_data = (uint8_t *)(cursor + 1);
        memcpy (cursor->ikey.mv_data, key, key_size);
    }
    cursor->next = txn->cursors;
    if (txn->cursors)
        txn->cursors->prev = cursor;
    txn->cursors = cursor;
    return cursor;
}

store_cursor_t *
store_cursor_new (store_txn_t *txn, store_table_t *table)
{
    assert (txn);
    assert (table);
    return s_cursor_new (txn, table, NULL, 0);
}

store_cursor_t *
store_cursor_new_index (store_txn_t *txn, store_table_t *index, const void *key,
                        size_t key_size)
{
    assert (txn);
    assert (index);
    assert (key || key_size == 0);
    store_t *self = txn->store;
    if (!index->index) {
        store_table_not_index (txn, index, "cursor_new_index");
        return NULL;
    }
    if (key_size == 0 || key_size > (size_t)self->max_key) {
        store_error_set (
            self, "%s: cursor on index '%s': key of %zu bytes is empty or too long",
            self->dir, index->name, key_size);
        return NULL;
    }
    return s_cursor_new (txn, index, key, key_size);
}

void
store_cursor_destroy (store_cursor_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_cursor_t *self = *self_p;
        if (self->txn) {
            if (self->prev)
                self->prev->next = self->next;
            else
                self->txn->cursors = self->next;
            if (self->next)
                self->next->prev = self->prev;
            mdb_cursor_close (self->cursor);
        }
        free (self);
        *self_p = NULL;
    }
}

//  One cursor operation; `miss` is the state when there is no entry.
static store_code_t
s_cursor_get (store_cursor_t *self, MDB_cursor_op op, cursor_state_t miss)
{
    if (!self->txn) {
        //  The transaction ended (and we have no store to report on)
        return STORE_INVALID;
    }
    MDB_val key = self->by_index ? self->ikey : self->key;
    MDB_val data = self->data;
    int rc = mdb_cursor_get (self->cursor, &key, &data, op);
    if (rc == 0 && self->by_index) {
        if (op == MDB_SET_KEY || op == MDB_NEXT_DUP || op == MDB_PREV_DUP) {
            //  Never wander to another key (after deleting its last id)
            if (key.mv_size != self->ikey.mv_size ||
                memcmp (key.mv_data, self->ikey.mv_data, key.mv_size) != 0)
                rc = MDB_NOTFOUND;
        }
        key = self->ikey;
    }
    if (rc) {
        self->state = miss;
        self->key.mv_size = self->data.mv_size = 0;
        self->key.mv_data = self->data.mv_data = NULL;
        return store_txn_fail (self->txn, rc, "cursor", self->table, 0, false);
    }
    self->state = CURSOR_AT;
    self->key = key;
    self->data = data;
    return STORE_OK;
}

store_code_t
store_cursor_first (store_cursor_t *self)
{
    assert (self);
    if (self->by_index)
        return s_cursor_get (self, MDB_SET_KEY, CURSOR_END);
    return s_cursor_get (self, MDB_FIRST, CURSOR_END);
}

store_code_t
store_cursor_last (store_cursor_t *self)
{
    assert (self);
    if (self->by_index) {
        store_code_t code = s_cursor_get (self, MDB_SET_KEY, CURSOR_BEGIN);
        if (code != STORE_OK)
            return code;
        return s_cursor_get (self, MDB_LAST_DUP, CURSOR_BEGIN);
    }
    return s_cursor_get (self, MDB_LAST, CURSOR_BEGIN);
}

store_code_t
store_cursor_next (store_cursor_t *self)
{
    assert (self);
    switch (self->state) {
        case CURSOR_UNSET:
        case CURSOR_BEGIN:
            return store_cursor_first (self);
        case CURSOR_END:
            return STORE_NOTFOUND;
        default:
            return s_cursor_get (self, self->by_index ? MDB_NEXT_DUP : MDB_NEXT,
                                 CURSOR_END);
    }
}

store_code_t
store_cursor_prev (store_cursor_t *self)
{
    assert (self);
    switch (self->state) {
        case CURSOR_UNSET:
        case CURSOR_END:
            return store_cursor_last (self);
        case CURSOR_BEGIN:
            return STORE_NOTFOUND;
        default:
            return s_cursor_get (self, self->by_index ? MDB_PREV_DUP : MDB_PREV,
                                 CURSOR_BEGIN);
    }
}

store_code_t
store_cursor_seek (store_cursor_t *self, const void *key, size_t key_size)
{
    assert (self);
    assert (key || key_size == 0);
    if (self->by_index) {
        if (key_size != 8) {
            if (self->txn)
                store_error_set (self->txn->store,
                                 "%s: seek in index '%s': an id key is 8 bytes, not %zu",
                                 self->txn->store->dir, self->table->name, key_size);
            return STORE_INVALID;
        }
        self->data.mv_size = 8;
        self->data.mv_data = (void *)key;
        return s_cursor_get (self, MDB_GET_BOTH_RANGE, CURSOR_END);
    }
    if (key_size == 0) //  LMDB has no empty keys: every key is >= ""
        return store_cursor_first (self);
    self->key.mv_size = key_size;
    self->key.mv_data = (void *)key;
    return s_cursor_get (self, MDB_SET_RANGE, CURSOR_END);
}

const void *
store_cursor_key (store_cursor_t *self, size_t *size)
{
    assert (self);
    if (self->state != CURSOR_AT) {
        if (size)
            *size = 0;
        return NULL;
    }
    if (size)
        *size = self->key.mv_size;
    return self->key.mv_data;
}

const void *
store_cursor_data (store_cursor_t *self, size_t *size)
{
    assert (self);
    if (self->state != CURSOR_AT) {
        if (size)
            *size = 0;
        return NULL;
    }
    if (size)
        *size = self->data.mv_size;
    return self->data.mv_data;
}

uint64_t
store_cursor_id (store_cursor_t *self)
{
    assert (self);
    if (self->state != CURSOR_AT)
        return 0;
    const MDB_val *val = self->by_index ? &self->data : &self->key;
    if (val->mv_size != 8)
        return 0;
    return store_key_id (val->mv_data);
}

store_code_t
store_cursor_del (store_cursor_t *self)
{
    assert (self);
    if (!self->txn)
        return STORE_INVALID;
    store_txn_t *txn = self->txn;
    if (!txn->write)
        return store_txn_readonly (txn, "cursor_del", self->table);
    if (txn->status != STORE_OK)
        return txn->status;
    if (self->state != CURSOR_AT)
        return STORE_NOTFOUND;
    int rc = mdb_cursor_del (self->cursor, 0);
    if (rc)
        return store_txn_fail (txn, rc, "cursor_del", self->table, self->key.mv_size,
                               true);
    self->state = CURSOR_DELETED;
    self->key.mv_size = self->data.mv_size = 0;
    self->key.mv_data = self->data.mv_data = NULL;
    return STORE_OK;
}
