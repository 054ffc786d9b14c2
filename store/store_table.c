/*  store_table: tables (LMDB named databases, opened once and cached by
    name), their records, id-keyed records and secondary indexes. See
    store.h for the API.
*/
#include "store/store.h"
#include "store/store_internal.h"

#include <assert.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

static inline void
s_mark_dirty (store_t *self, store_table_t *table)
{
    if (!table->dirty) {
        table->dirty = true;
        self->dirty[self->ndirty++] = table;
    }
}

//  ---------------------------------------------------------------------------
//  Tables

typedef struct {
    const char *name;
    bool index;
    MDB_dbi dbi;
    uint64_t last_id;
    int rc;
} s_table_open_t;

static int
s_table_open (store_txn_t *txn, void *arg)
{
    s_table_open_t *ctx = (s_table_open_t *)arg;
    store_t *self = txn->store;
    unsigned flags = MDB_CREATE | (ctx->index ? MDB_DUPSORT | MDB_DUPFIXED : 0);
    ctx->rc = mdb_dbi_open (txn->txn, ctx->name, flags, &ctx->dbi);
    if (ctx->rc == 0) {
        //  LMDB takes the flags of an existing table from the file: a plain
        //  table opened as an index (or the reverse) must fail here.
        unsigned actual = 0;
        mdb_dbi_flags (txn->txn, ctx->dbi, &actual);
        if (((actual & MDB_DUPSORT) != 0) != ctx->index)
            ctx->rc = MDB_INCOMPATIBLE;
    }
    if (ctx->rc) {
        if (ctx->rc == MDB_MAP_FULL)
            txn->map_full = true;
        return -1;
    }

    //  The id counter: from meta, and never below the highest id key
    ctx->last_id = 0;
    MDB_val k = {strlen (ctx->name), (void *)ctx->name}, v;
    int rc = mdb_get (txn->txn, self->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        ctx->last_id = store_key_id (v.mv_data);
    if (!ctx->index) {
        MDB_cursor *cursor;
        if (mdb_cursor_open (txn->txn, ctx->dbi, &cursor) == 0) {
            if (mdb_cursor_get (cursor, &k, &v, MDB_LAST) == 0 && k.mv_size == 8) {
                uint64_t last = store_key_id (k.mv_data);
                if (last > ctx->last_id)
                    ctx->last_id = last;
            }
            mdb_cursor_close (cursor);
        }
    }
    return 0;
}

store_table_t *
store_table (store_t *self, const char *name, bool index)
{
    assert (self);
    assert (name);
    size_t length = strlen (name);
    if (length == 0 || length > STORE_TABLE_NAME_MAX) {
        store_error_set (self, "%s: table name '%s' is empty or longer than %d bytes",
                         self->dir, name, STORE_TABLE_NAME_MAX);
        return NULL;
    }
    if (strcmp (name, STORE_META_NAME) == 0 || strcmp (name, STORE_FORMAT_KEY) == 0) {
        store_error_set (self, "%s: table name '%s' is reserved", self->dir, name);
        return NULL;
    }
    for (size_t i = 0; i < self->ntables; i++) {
        store_table_t *table = self->tables[i];
        if (strcmp (table->name, name) == 0) {
            if (table->index != index) {
                store_error_set (self, "%s: table '%s' is already open as %s", self->dir,
                                 name, table->index ? "an index" : "a plain table");
                return NULL;
            }
            return table;
        }
    }
    if (self->in_write) {
        store_error_set (self, "%s: cannot open table '%s' inside store_write", self->dir,
                         name);
        return NULL;
    }
    if (self->ntables == self->max_tables) {
        store_error_set (self, "%s: cannot open table '%s': too many tables (max %u)",
                         self->dir, name, self->max_tables);
        return NULL;
    }
    store_table_t *table = (store_table_t *)calloc (1, sizeof (store_table_t));
    char *copy = strdup (name);
    if (!table || !copy) {
        free (table);
        free (copy);
        store_error_set (self, "%s: cannot open table '%s': out of memory", self->dir,
                         name);
        return NULL;
    }
    s_table_open_t ctx = {name, index, 0, 0, 0};
    store_code_t code = store_write_run (self, s_table_open, &ctx, false);
    if (code != STORE_OK) {
        if (ctx.rc && ctx.rc != MDB_MAP_FULL)
            store_error_set (self, "%s: cannot open table '%s': %s", self->dir, name,
                             ctx.rc == MDB_INCOMPATIBLE
                                 ? "it exists with other flags (plain table vs index)"
                                 : mdb_strerror (ctx.rc));
        free (table);
        free (copy);
        return NULL;
    }
    table->store = self;
    table->name = copy;
    table->dbi = ctx.dbi;
    table->index = index;
    table->committed = table->pending = ctx.last_id;
    self->tables[self->ntables++] = table;
    return table;
}

//  ---------------------------------------------------------------------------
//  Records

store_code_t
store_get (store_txn_t *txn, store_table_t *table, const void *key, size_t key_size,
           const void **data, size_t *size)
{
    assert (txn);
    assert (table);
    MDB_val k = {key_size, (void *)key}, v;
    int rc = mdb_get (txn->txn, table->dbi, &k, &v);
    if (rc)
        return store_txn_fail (txn, rc, "get", table, key_size, false);
    if (data)
        *data = v.mv_data;
    if (size)
        *size = v.mv_size;
    return STORE_OK;
}

static inline store_code_t
s_put (store_txn_t *txn, store_table_t *table, const void *key, size_t key_size,
       const void *data, size_t size, unsigned flags, const char *op)
{
    assert (txn);
    assert (table);
    if (!txn->write)
        return store_txn_readonly (txn, op, table);
    if (txn->status != STORE_OK)
        return txn->status;
    MDB_val k = {key_size, (void *)key}, v = {size, (void *)data};
    int rc = mdb_put (txn->txn, table->dbi, &k, &v, flags);
    if (rc)
        return store_txn_fail (txn, rc, op, table, key_size, true);
    return STORE_OK;
}

store_code_t
store_put (store_txn_t *txn, store_table_t *table, const void *key, size_t key_size,
           const void *data, size_t size)
{
    return s_put (txn, table, key, key_size, data, size, 0, "put");
}

store_code_t
store_put_new (store_txn_t *txn, store_table_t *table, const void *key, size_t key_size,
               const void *data, size_t size)
{
    return s_put (txn, table, key, key_size, data, size, MDB_NOOVERWRITE, "put_new");
}

store_code_t
store_del (store_txn_t *txn, store_table_t *table, const void *key, size_t key_size)
{
    assert (txn);
    assert (table);
    if (!txn->write)
        return store_txn_readonly (txn, "del", table);
    if (txn->status != STORE_OK)
        return txn->status;
    MDB_val k = {key_size, (void *)key};
    int rc = mdb_del (txn->txn, table->dbi, &k, NULL);
    if (rc)
        return store_txn_fail (txn, rc, "del", table, key_size, true);
    return STORE_OK;
}

uint64_t
store_next_id (store_txn_t *txn, store_table_t *table)
{
    assert (txn);
    assert (table);
    if (!txn->write) {
        store_txn_readonly (txn, "next_id", table);
        return 0;
    }
    s_mark_dirty (txn->store, table);
    return ++table->pending;
}

//  The id after the counter is taken (a key was put above it by hand):
//  move the counter past the highest key, so ids stay in creation order.
static int
s_insert_slow (store_txn_t *txn, store_table_t *table, uint64_t *id, MDB_val *v)
{
    MDB_cursor *cursor;
    MDB_val k, last;
    int rc = mdb_cursor_open (txn->txn, table->dbi, &cursor);
    if (rc)
        return rc;
    rc = mdb_cursor_get (cursor, &last, NULL, MDB_LAST);
    uint64_t last_id = 0;
    bool id_keys = rc == 0 && last.mv_size == 8;
    if (id_keys)
        last_id = store_key_id (last.mv_data);
    mdb_cursor_close (cursor);

    uint8_t key[8];
    if (id_keys && last_id >= *id) {
        *id = last_id + 1;
        store_id_key (*id, key);
        k.mv_size = 8;
        k.mv_data = key;
        return mdb_put (txn->txn, table->dbi, &k, v, MDB_APPEND);
    }
    //  Keys of other sizes sort after ours: put in place, never overwrite
    store_id_key (*id, key);
    k.mv_size = 8;
    k.mv_data = key;
    return mdb_put (txn->txn, table->dbi, &k, v, MDB_NOOVERWRITE);
}

store_code_t
store_insert (store_txn_t *txn, store_table_t *table, const void *data, size_t size,
              uint64_t *id)
{
    assert (txn);
    assert (table);
    if (!txn->write)
        return store_txn_readonly (txn, "insert", table);
    if (txn->status != STORE_OK)
        return txn->status;
    if (table->index) {
        store_error_set (txn->store,
                         "%s: insert in table '%s': an index takes store_index_add",
                         txn->store->dir, table->name);
        return STORE_INVALID;
    }
    uint64_t next = table->pending + 1;
    uint8_t key[8];
    store_id_key (next, key);
    MDB_val k = {8, key}, v = {size, (void *)data};
    int rc = mdb_put (txn->txn, table->dbi, &k, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        rc = s_insert_slow (txn, table, &next, &v);
    if (rc)
        return store_txn_fail (txn, rc, "insert", table, 8, true);
    table->pending = next;
    s_mark_dirty (txn->store, table);
    if (id)
        *id = next;
    return STORE_OK;
}

store_code_t
store_get_id (store_txn_t *txn, store_table_t *table, uint64_t id, const void **data,
              size_t *size)
{
    uint8_t key[8];
    store_id_key (id, key);
    return store_get (txn, table, key, sizeof (key), data, size);
}

store_code_t
store_put_id (store_txn_t *txn, store_table_t *table, uint64_t id, const void *data,
              size_t size)
{
    uint8_t key[8];
    store_id_key (id, key);
    return s_put (txn, table, key, sizeof (key), data, size, 0, "put_id");
}

store_code_t
store_del_id (store_txn_t *txn, store_table_t *table, uint64_t id)
{
    uint8_t key[8];
    store_id_key (id, key);
    return store_del (txn, table, key, sizeof (key));
}

uint64_t
store_count (store_txn_t *txn, store_table_t *table)
{
    assert (txn);
    assert (table);
    MDB_stat st;
    int rc = mdb_stat (txn->txn, table->dbi, &st);
    if (rc) {
        store_txn_fail (txn, rc, "count", table, 0, false);
        return 0;
    }
    return st.ms_entries;
}

//  ---------------------------------------------------------------------------
//  Indexes

store_code_t
store_table_not_index (store_txn_t *txn, store_table_t *table, const char *op)
{
    store_error_set (txn->store, "%s: %s: table '%s' is not an index", txn->store->dir,
                     op, table->name);
    return STORE_INVALID;
}

store_code_t
store_index_add (store_txn_t *txn, store_table_t *index, const void *key, size_t key_size,
                 uint64_t id)
{
    assert (txn);
    assert (index);
    if (!index->index)
        return store_table_not_index (txn, index, "index_add");
    uint8_t value[8];
    store_id_key (id, value);
    store_code_t code = s_put (txn, index, key, key_size, value, sizeof (value),
                               MDB_NODUPDATA, "index_add");
    return code == STORE_EXISTS ? STORE_OK : code; //  already there: idempotent
}

store_code_t
store_index_del (store_txn_t *txn, store_table_t *index, const void *key, size_t key_size,
                 uint64_t id)
{
    assert (txn);
    assert (index);
    if (!index->index)
        return store_table_not_index (txn, index, "index_del");
    if (!txn->write)
        return store_txn_readonly (txn, "index_del", index);
    if (txn->status != STORE_OK)
        return txn->status;
    uint8_t value[8];
    store_id_key (id, value);
    MDB_val k = {key_size, (void *)key}, v = {sizeof (value), value};
    int rc = mdb_del (txn->txn, index->dbi, &k, &v);
    if (rc)
        return store_txn_fail (txn, rc, "index_del", index, key_size, true);
    return STORE_OK;
}

uint64_t
store_index_count (store_txn_t *txn, store_table_t *index, const void *key,
                   size_t key_size)
{
    assert (txn);
    assert (index);
    if (!index->index) {
        store_table_not_index (txn, index, "index_count");
        return 0;
    }
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn->txn, index->dbi, &cursor);
    if (rc) {
        store_txn_fail (txn, rc, "index_count", index, key_size, false);
        return 0;
    }
    MDB_val k = {key_size, (void *)key}, v;
    size_t count = 0;
    rc = mdb_cursor_get (cursor, &k, &v, MDB_SET);
    if (rc == 0)
        rc = mdb_cursor_count (cursor, &count);
    mdb_cursor_close (cursor);
    if (rc) {
        store_txn_fail (txn, rc, "index_count", index, key_size, false);
        return 0;
    }
    return count;
}
