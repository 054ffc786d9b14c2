/*  test_store: the LMDB store (store/store.h).

    Every test works in its own temporary directory under $ATTUNE_TEST_TMP
    (or /tmp), removed at the end. Tests that need a second process fork a
    child that reports through its exit status or a pipe; waits are bounded.
*/
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static char s_root[PATH_MAX - 64]; //  this test's temporary directory
static char s_dir[PATH_MAX];       //  the store directory inside it

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove (path);
}

static void
s_setup (void)
{
    const char *base = getenv ("ATTUNE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir (base, 0750); //  ctest's directory may not exist yet
    snprintf (s_root, sizeof (s_root), "%s/test_store-XXXXXX", base);
    cr_assert_not_null (mkdtemp (s_root), "mkdtemp %s: %s", s_root, strerror (errno));
    snprintf (s_dir, sizeof (s_dir), "%s/store", s_root);
}

static void
s_teardown (void)
{
    if (s_root[0])
        nftw (s_root, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite (store, .init = s_setup, .fini = s_teardown, .timeout = 60);

static store_t *
s_open_config (const char *dir, const store_config_t *config)
{
    store_code_t code = STORE_INTERNAL;
    char message[512] = "";
    store_t *store = store_open (dir, config, &code, message, sizeof (message));
    cr_assert_not_null (store, "store_open %s: %s (%s)", dir, message,
                        store_strerror (code));
    cr_assert_eq (code, STORE_OK);
    return store;
}

static store_t *
s_open (void)
{
    return s_open_config (s_dir, NULL);
}

static store_table_t *
s_table (store_t *store, const char *name, bool index)
{
    store_table_t *table = store_table (store, name, index);
    cr_assert_not_null (table, "store_table %s: %s", name, store_last_error (store));
    return table;
}

//  Read one string value; NULL if absent. Copies into a static buffer.
static const char *
s_get_string (store_t *store, store_table_t *table, const char *key)
{
    static char value[256];
    store_txn_t *txn = store_read_begin (store);
    cr_assert_not_null (txn, "%s", store_last_error (store));
    const void *data;
    size_t size;
    store_code_t code = store_get (txn, table, key, strlen (key), &data, &size);
    const char *result = NULL;
    if (code == STORE_OK) {
        cr_assert_lt (size, sizeof (value));
        memcpy (value, data, size);
        value[size] = '\0';
        result = value;
    } else
        cr_assert_eq (code, STORE_NOTFOUND, "get %s: %s", key, store_strerror (code));
    store_read_end (&txn);
    cr_assert_null (txn);
    return result;
}

static uint64_t
s_count (store_t *store, store_table_t *table)
{
    store_txn_t *txn = store_read_begin (store);
    cr_assert_not_null (txn, "%s", store_last_error (store));
    uint64_t count = store_count (txn, table);
    store_read_end (&txn);
    return count;
}

//  ---------------------------------------------------------------------------
//  Small write functions driven by a struct of arguments

typedef struct {
    store_table_t *table;
    const char *key;
    const char *value;
} kv_t;

static int
s_put_kv (store_txn_t *txn, void *arg)
{
    kv_t *kv = (kv_t *)arg;
    return store_put (txn, kv->table, kv->key, strlen (kv->key), kv->value,
                      strlen (kv->value)) != STORE_OK;
}

static void
s_put_string (store_t *store, store_table_t *table, const char *key, const char *value)
{
    kv_t kv = {table, key, value};
    store_code_t code = store_write (store, s_put_kv, &kv);
    cr_assert_eq (code, STORE_OK, "put %s: %s", key, store_last_error (store));
}

typedef struct {
    store_table_t *table;
    size_t count;      //  records to insert
    size_t size;       //  bytes each
    uint64_t tag;      //  first 8 bytes of each record
    uint64_t first_id; //  out: id of the first record
    uint64_t last_id;  //  out
    int runs;          //  times the function ran
    int committed;     //  commit callbacks seen
    bool fail;         //  return non-zero at the end
} batch_t;

static void
s_batch_committed (void *arg)
{
    ((batch_t *)arg)->committed++;
}

static int
s_insert_batch (store_txn_t *txn, void *arg)
{
    batch_t *batch = (batch_t *)arg;
    batch->runs++;
    uint8_t record[8192];
    cr_assert_leq (batch->size, sizeof (record));
    memset (record, 0x5a, sizeof (record));
    store_id_key (batch->tag, record);
    for (size_t i = 0; i < batch->count; i++) {
        uint64_t id;
        store_code_t code = store_insert (txn, batch->table, record, batch->size, &id);
        if (code != STORE_OK)
            return -1;
        if (i == 0)
            batch->first_id = id;
        batch->last_id = id;
    }
    if (store_txn_on_commit (txn, s_batch_committed, batch) != 0)
        return -1;
    return batch->fail ? -1 : 0;
}

//  ---------------------------------------------------------------------------
//  Environment

Test (store, open_close_reopen)
{
    store_t *store = s_open ();
    cr_assert_eq (store_commits (store), 0);
    store_table_t *table = s_table (store, "things", false);
    cr_assert_eq (store_table (store, "things", false), table, "table is cached");
    s_put_string (store, table, "alpha", "one");
    s_put_string (store, table, "beta", "two");
    cr_assert_eq (store_commits (store), 2);
    cr_assert_str_eq (store_last_error (store), store_last_error (store));
    store_close (&store);
    cr_assert_null (store);
    store_close (&store); //  safe twice

    //  The lock file names the owner
    char path[PATH_MAX + 32];
    snprintf (path, sizeof (path), "%s/attune.lock", s_dir);
    struct stat st;
    cr_assert_eq (stat (path, &st), 0, "%s: %s", path, strerror (errno));
    snprintf (path, sizeof (path), "%s/data.mdb", s_dir);
    cr_assert_eq (stat (path, &st), 0);

    store = s_open ();
    table = s_table (store, "things", false);
    cr_assert_str_eq (s_get_string (store, table, "alpha"), "one");
    cr_assert_str_eq (s_get_string (store, table, "beta"), "two");
    cr_assert_null (s_get_string (store, table, "gamma"));
    cr_assert_eq (s_count (store, table), 2);
    cr_assert_gt (store_used_size (store), 0);
    cr_assert_leq (store_used_size (store), store_map_size (store));
    store_close (&store);
}

Test (store, config_defaults_and_rounding)
{
    store_t *store = s_open ();
    cr_assert_eq (store_map_size (store), (size_t)64 << 20);
    store_close (&store);

    //  A map size that is not a multiple of the page size is rounded up
    store_config_t config = {.map_size = 100001};
    snprintf (s_dir, sizeof (s_dir), "%s/rounded", s_root);
    store = s_open_config (s_dir, &config);
    size_t page = (size_t)sysconf (_SC_PAGESIZE);
    cr_assert_geq (store_map_size (store), 100001);
    cr_assert_eq (store_map_size (store) % page, 0, "map %zu", store_map_size (store));
    store_close (&store);
}

Test (store, creates_missing_parents)
{
    snprintf (s_dir, sizeof (s_dir), "%s/a/b/c", s_root);
    store_t *store = s_open ();
    struct stat st;
    cr_assert_eq (stat (s_dir, &st), 0);
    cr_assert (S_ISDIR (st.st_mode));
    cr_assert_eq (st.st_mode & 0777, 0750, "mode %o", st.st_mode & 0777);
    store_close (&store);
}

Test (store, strerror_names_every_code)
{
    for (int code = 0; code < STORE_COUNT; code++) {
        const char *text = store_strerror ((store_code_t)code);
        cr_assert_not_null (text);
        cr_assert_neq (strcmp (text, "unknown error"), 0, "code %d", code);
        for (int other = 0; other < code; other++)
            cr_assert_str_neq (text, store_strerror ((store_code_t)other));
    }
    cr_assert_str_eq (store_strerror (STORE_COUNT), "unknown error");
}

Test (store, tables_are_checked)
{
    store_config_t config = {.max_tables = 3};
    store_t *store = s_open_config (s_dir, &config);
    store_table_t *a = s_table (store, "a", false);
    store_table_t *ix = s_table (store, "ix", true);
    cr_assert_neq (a, ix);
    cr_assert_eq (store_table (store, "ix", true), ix);

    cr_assert_null (store_table (store, "a", true), "plain table reopened as index");
    cr_assert (strstr (store_last_error (store), "'a'"), "%s", store_last_error (store));
    cr_assert_null (store_table (store, "", false));
    cr_assert_null (store_table (store, "__meta", false));
    cr_assert (strstr (store_last_error (store), "reserved"), "%s",
               store_last_error (store));

    s_table (store, "c", false);
    cr_assert_null (store_table (store, "d", false), "more than max_tables");
    cr_assert (strstr (store_last_error (store), "too many tables"), "%s",
               store_last_error (store));
    store_close (&store);

    //  Flags are persistent: after a restart the mismatch is caught by LMDB
    store = s_open_config (s_dir, &config);
    cr_assert_null (store_table (store, "ix", false), "index reopened as plain table");
    cr_assert_null (store_table (store, "a", true));
    s_table (store, "a", false);
    store_close (&store);
}

//  ---------------------------------------------------------------------------
//  Records

typedef struct {
    store_table_t *table;
    store_code_t put, put_new, put_new_absent, del, del_again, get_after_del;
    uint64_t count;
} records_t;

static int
s_records (store_txn_t *txn, void *arg)
{
    records_t *r = (records_t *)arg;
    r->put = store_put (txn, r->table, "k1", 2, "v1", 2);
    store_put (txn, r->table, "k1", 2, "v1b", 3); //  overwrite
    r->put_new = store_put_new (txn, r->table, "k1", 2, "zz", 2);
    r->put_new_absent = store_put_new (txn, r->table, "k2", 2, "v2", 2);
    store_put (txn, r->table, "k3", 2, "v3", 2);
    r->del = store_del (txn, r->table, "k3", 2);
    r->del_again = store_del (txn, r->table, "k3", 2);
    r->get_after_del = store_get (txn, r->table, "k3", 2, NULL, NULL);
    r->count = store_count (txn, r->table);
    return 0;
}

Test (store, put_get_del_put_new)
{
    store_t *store = s_open ();
    records_t r = {s_table (store, "records", false)};
    cr_assert_eq (store_write (store, s_records, &r), STORE_OK, "%s",
                  store_last_error (store));
    cr_assert_eq (r.put, STORE_OK);
    cr_assert_eq (r.put_new, STORE_EXISTS);
    cr_assert_eq (r.put_new_absent, STORE_OK);
    cr_assert_eq (r.del, STORE_OK);
    cr_assert_eq (r.del_again, STORE_NOTFOUND);
    cr_assert_eq (r.get_after_del, STORE_NOTFOUND);
    cr_assert_eq (r.count, 2);
    //  put_new's EXISTS did not fail the transaction: all of it committed
    cr_assert_str_eq (s_get_string (store, r.table, "k1"), "v1b");
    cr_assert_str_eq (s_get_string (store, r.table, "k2"), "v2");
    cr_assert_null (s_get_string (store, r.table, "k3"));
    store_close (&store);
}

Test (store, writes_refused_in_read_txn)
{
    store_t *store = s_open ();
    store_table_t *table = s_table (store, "t", false);
    store_table_t *ix = s_table (store, "ix", true);
    store_txn_t *txn = store_read_begin (store);
    cr_assert_not_null (txn);
    cr_assert_eq (store_txn_store (txn), store);
    cr_assert_eq (store_put (txn, table, "k", 1, "v", 1), STORE_INVALID);
    cr_assert (strstr (store_last_error (store), "read-only"), "%s",
               store_last_error (store));
    cr_assert_eq (store_del (txn, table, "k", 1), STORE_INVALID);
    cr_assert_eq (store_insert (txn, table, "v", 1, NULL), STORE_INVALID);
    cr_assert_eq (store_next_id (txn, table), 0);
    cr_assert_eq (store_index_add (txn, ix, "k", 1, 1), STORE_INVALID);
    cr_assert_eq (store_txn_on_commit (txn, s_batch_committed, NULL), -1);
    store_read_end (&txn);
    cr_assert_eq (s_count (store, table), 0);
    store_close (&store);
}

//  ---------------------------------------------------------------------------
//  Ids

typedef struct {
    store_table_t *a, *b;
    uint64_t ids[8];
    bool fail;
} ids_t;

static int
s_take_ids (store_txn_t *txn, void *arg)
{
    ids_t *ids = (ids_t *)arg;
    ids->ids[0] = store_next_id (txn, ids->a);
    ids->ids[1] = store_next_id (txn, ids->a);
    ids->ids[2] = store_next_id (txn, ids->b);
    ids->ids[3] = store_next_id (txn, ids->a);
    return ids->fail ? 1 : 0;
}

Test (store, ids_monotonic_per_table)
{
    store_t *store = s_open ();
    ids_t ids = {s_table (store, "a", false), s_table (store, "b", false)};
    cr_assert_eq (store_write (store, s_take_ids, &ids), STORE_OK);
    cr_assert_eq (ids.ids[0], 1);
    cr_assert_eq (ids.ids[1], 2);
    cr_assert_eq (ids.ids[2], 1, "each table has its own sequence");
    cr_assert_eq (ids.ids[3], 3);

    cr_assert_eq (store_write (store, s_take_ids, &ids), STORE_OK);
    cr_assert_eq (ids.ids[0], 4);
    cr_assert_eq (ids.ids[2], 2);

    //  An aborted transaction rolls its ids back: they were never used
    ids.fail = true;
    cr_assert_eq (store_write (store, s_take_ids, &ids), STORE_ABORTED);
    cr_assert_eq (ids.ids[0], 7);
    ids.fail = false;
    cr_assert_eq (store_write (store, s_take_ids, &ids), STORE_OK);
    cr_assert_eq (ids.ids[0], 7);
    cr_assert_eq (ids.ids[3], 9);
    store_close (&store);

    store = s_open ();
    ids.a = s_table (store, "a", false);
    ids.b = s_table (store, "b", false);
    cr_assert_eq (store_write (store, s_take_ids, &ids), STORE_OK);
    cr_assert_eq (ids.ids[0], 10, "counter persisted");
    cr_assert_eq (ids.ids[2], 4);
    store_close (&store);
}

static int
s_del_last (store_txn_t *txn, void *arg)
{
    batch_t *batch = (batch_t *)arg;
    return store_del_id (txn, batch->table, batch->last_id) != STORE_OK;
}

Test (store, ids_not_reused_after_delete)
{
    store_t *store = s_open ();
    batch_t batch = {s_table (store, "events", false), 3, 16, 1};
    cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK);
    cr_assert_eq (batch.first_id, 1, "ids start at 1");
    cr_assert_eq (batch.last_id, 3);
    cr_assert_eq (store_write (store, s_del_last, &batch), STORE_OK);
    cr_assert_eq (s_count (store, batch.table), 2);
    store_close (&store);

    store = s_open ();
    batch.table = s_table (store, "events", false);
    batch.count = 1;
    cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK);
    cr_assert_eq (batch.first_id, 4, "id 3 was deleted but must not come back");
    store_close (&store);
}

typedef struct {
    store_table_t *table;
    uint64_t id;
} put_id_t;

static int
s_put_id (store_txn_t *txn, void *arg)
{
    put_id_t *p = (put_id_t *)arg;
    return store_put_id (txn, p->table, p->id, "hand", 4) != STORE_OK;
}

Test (store, insert_in_creation_order)
{
    store_t *store = s_open ();
    store_table_t *table = s_table (store, "log", false);
    for (uint64_t tag = 1; tag <= 3; tag++) {
        batch_t batch = {table, 100, 24, tag};
        cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK);
        cr_assert_eq (batch.first_id, (tag - 1) * 100 + 1);
    }
    //  A key put by hand above the counter: the next insert skips past it
    put_id_t hand = {table, 1000};
    cr_assert_eq (store_write (store, s_put_id, &hand), STORE_OK);
    batch_t batch = {table, 2, 24, 4};
    cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK, "%s",
                  store_last_error (store));
    cr_assert_eq (batch.first_id, 1001);
    cr_assert_eq (batch.last_id, 1002);

    store_txn_t *txn = store_read_begin (store);
    store_cursor_t *cursor = store_cursor_new (txn, table);
    cr_assert_not_null (cursor);
    uint64_t previous = 0, seen = 0;
    while (store_cursor_next (cursor) == STORE_OK) {
        uint64_t id = store_cursor_id (cursor);
        cr_assert_gt (id, previous, "ids in order");
        size_t size;
        const uint8_t *data = (const uint8_t *)store_cursor_data (cursor, &size);
        if (id <= 300) {
            cr_assert_eq (id, previous + 1);
            cr_assert_eq (size, 24);
            cr_assert_eq (store_key_id (data), (id - 1) / 100 + 1, "record of id %lu",
                          (unsigned long)id);
        }
        previous = id;
        seen++;
    }
    cr_assert_eq (seen, 303);
    cr_assert_eq (previous, 1002);
    store_cursor_destroy (&cursor);
    cr_assert_null (cursor);
    store_read_end (&txn);
    store_close (&store);
}

Test (store, id_key_round_trip)
{
    uint8_t key[8];
    store_id_key (0x0102030405060708ULL, key);
    uint8_t expect[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cr_assert_arr_eq (key, expect, 8, "big-endian");
    cr_assert_eq (store_key_id (key), 0x0102030405060708ULL);
    store_id_key (UINT64_MAX, key);
    cr_assert_eq (store_key_id (key), UINT64_MAX);
}

//  ---------------------------------------------------------------------------
//  Cursors

static void
s_assert_at (store_cursor_t *cursor, store_code_t code, const char *expect)
{
    cr_assert_eq (code, STORE_OK, "expected '%s', got %s", expect, store_strerror (code));
    size_t size;
    const char *key = (const char *)store_cursor_key (cursor, &size);
    cr_assert_not_null (key);
    cr_assert_eq (size, strlen (expect));
    cr_assert_eq (memcmp (key, expect, size), 0, "expected '%s', got '%.*s'", expect,
                  (int)size, key);
}

Test (store, cursor_moves)
{
    store_t *store = s_open ();
    store_table_t *table = s_table (store, "keys", false);
    s_put_string (store, table, "c", "3");
    s_put_string (store, table, "a", "1");
    s_put_string (store, table, "e", "5");

    store_txn_t *txn = store_read_begin (store);
    store_cursor_t *cursor = store_cursor_new (txn, table);
    cr_assert_null (store_cursor_key (cursor, NULL), "not positioned yet");
    s_assert_at (cursor, store_cursor_next (cursor), "a"); //  next on new = first
    s_assert_at (cursor, store_cursor_next (cursor), "c");
    s_assert_at (cursor, store_cursor_next (cursor), "e");
    cr_assert_eq (store_cursor_next (cursor), STORE_NOTFOUND);
    cr_assert_null (store_cursor_key (cursor, NULL));
    cr_assert_eq (store_cursor_next (cursor), STORE_NOTFOUND, "stays at the end");
    s_assert_at (cursor, store_cursor_prev (cursor), "e"); //  back from the end
    s_assert_at (cursor, store_cursor_prev (cursor), "c");
    s_assert_at (cursor, store_cursor_first (cursor), "a");
    cr_assert_eq (store_cursor_prev (cursor), STORE_NOTFOUND);
    s_assert_at (cursor, store_cursor_next (cursor), "a"); //  back from the front
    s_assert_at (cursor, store_cursor_last (cursor), "e");
    size_t size;
    const char *data = (const char *)store_cursor_data (cursor, &size);
    cr_assert_eq (size, 1);
    cr_assert_eq (data[0], '5');

    s_assert_at (cursor, store_cursor_seek (cursor, "b", 1), "c");
    s_assert_at (cursor, store_cursor_seek (cursor, "c", 1), "c");
    s_assert_at (cursor, store_cursor_seek (cursor, "", 0), "a");
    cr_assert_eq (store_cursor_seek (cursor, "f", 1), STORE_NOTFOUND);
    s_assert_at (cursor, store_cursor_prev (cursor), "e");
    cr_assert_eq (store_cursor_id (cursor), 0, "1-byte keys are not ids");

    store_cursor_t *prev_first = store_cursor_new (txn, table);
    s_assert_at (prev_first, store_cursor_prev (prev_first), "e"); //  prev on new = last
    store_cursor_destroy (&prev_first);
    store_cursor_destroy (&cursor);
    store_read_end (&txn);

    //  An empty table
    store_table_t *empty = s_table (store, "empty", false);
    txn = store_read_begin (store);
    cursor = store_cursor_new (txn, empty);
    cr_assert_eq (store_cursor_first (cursor), STORE_NOTFOUND);
    cr_assert_eq (store_cursor_last (cursor), STORE_NOTFOUND);
    cr_assert_eq (store_cursor_next (cursor), STORE_NOTFOUND);
    cr_assert_eq (store_cursor_seek (cursor, "a", 1), STORE_NOTFOUND);
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    store_close (&store);
}

typedef struct {
    store_table_t *table;
    store_cursor_t *kept; //  left open when the transaction ends
    uint64_t deleted;
    store_code_t del_code;
} purge_t;

//  Delete the records with even ids while walking
static int
s_purge_even (store_txn_t *txn, void *arg)
{
    purge_t *purge = (purge_t *)arg;
    store_cursor_t *cursor = store_cursor_new (txn, purge->table);
    if (!cursor)
        return -1;
    store_code_t code = store_cursor_first (cursor);
    while (code == STORE_OK) {
        if (store_cursor_id (cursor) % 2 == 0) {
            purge->del_code = store_cursor_del (cursor);
            if (purge->del_code != STORE_OK)
                return -1;
            purge->deleted++;
        }
        code = store_cursor_next (cursor);
    }
    purge->kept = cursor; //  not destroyed: the transaction closes it
    return code == STORE_NOTFOUND ? 0 : -1;
}

Test (store, cursor_delete_while_walking)
{
    store_t *store = s_open ();
    store_table_t *table = s_table (store, "walk", false);
    batch_t batch = {table, 1000, 32, 1};
    cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK);

    purge_t purge = {table};
    cr_assert_eq (store_write (store, s_purge_even, &purge), STORE_OK);
    cr_assert_eq (purge.deleted, 500);
    cr_assert_not_null (purge.kept);
    //  The transaction ended: the cursor is closed, only destroy is valid
    cr_assert_eq (store_cursor_first (purge.kept), STORE_INVALID);
    store_cursor_destroy (&purge.kept);

    store_txn_t *txn = store_read_begin (store);
    cr_assert_eq (store_count (txn, table), 500);
    store_cursor_t *cursor = store_cursor_new (txn, table);
    uint64_t expect = 1;
    while (store_cursor_next (cursor) == STORE_OK) {
        cr_assert_eq (store_cursor_id (cursor), expect);
        expect += 2;
    }
    cr_assert_eq (expect, 1001);
    //  Deleting needs a write transaction
    cr_assert_eq (store_cursor_first (cursor), STORE_OK);
    cr_assert_eq (store_cursor_del (cursor), STORE_INVALID);
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    store_close (&store);
}

//  ---------------------------------------------------------------------------
//  Indexes

typedef struct {
    store_table_t *index;
    store_code_t codes[16];
    uint64_t count_x_before_del;
} index_t;

static int
s_index_fill (store_txn_t *txn, void *arg)
{
    index_t *ix = (index_t *)arg;
    //  Ids that sort wrongly unless compared as big-endian numbers
    uint64_t ids[] = {256, 3, 1ULL << 40, 255, 7};
    int n = 0;
    for (size_t i = 0; i < sizeof (ids) / sizeof (ids[0]); i++)
        ix->codes[n++] = store_index_add (txn, ix->index, "x", 1, ids[i]);
    ix->codes[n++] = store_index_add (txn, ix->index, "y", 1, 1);
    ix->codes[n++] = store_index_add (txn, ix->index, "x", 1, 3); //  again: no-op
    ix->count_x_before_del = store_index_count (txn, ix->index, "x", 1);
    ix->codes[n++] = store_index_del (txn, ix->index, "x", 1, 7);
    ix->codes[n++] = store_index_del (txn, ix->index, "x", 1, 7); //  gone
    ix->codes[n++] = store_index_del (txn, ix->index, "z", 1, 7);
    return 0;
}

static void
s_assert_id (store_cursor_t *cursor, store_code_t code, uint64_t id)
{
    cr_assert_eq (code, STORE_OK, "expected id %lu, got %s", (unsigned long)id,
                  store_strerror (code));
    cr_assert_eq (store_cursor_id (cursor), id, "expected id %lu, got %lu",
                  (unsigned long)id, (unsigned long)store_cursor_id (cursor));
    size_t size;
    const char *key = (const char *)store_cursor_key (cursor, &size);
    cr_assert_eq (size, 1);
    cr_assert_eq (key[0], 'x');
    store_cursor_data (cursor, &size);
    cr_assert_eq (size, 8);
}

Test (store, index_add_del_iterate_seek)
{
    store_t *store = s_open ();
    index_t ix = {s_table (store, "by_status", true)};
    cr_assert_eq (store_write (store, s_index_fill, &ix), STORE_OK, "%s",
                  store_last_error (store));
    for (int i = 0; i < 7; i++)
        cr_assert_eq (ix.codes[i], STORE_OK, "op %d: %s", i,
                      store_strerror (ix.codes[i]));
    cr_assert_eq (ix.codes[7], STORE_OK);
    cr_assert_eq (ix.codes[8], STORE_NOTFOUND);
    cr_assert_eq (ix.codes[9], STORE_NOTFOUND);
    cr_assert_eq (ix.count_x_before_del, 5, "duplicate add is a no-op");

    store_txn_t *txn = store_read_begin (store);
    cr_assert_eq (store_index_count (txn, ix.index, "x", 1), 4);
    cr_assert_eq (store_index_count (txn, ix.index, "y", 1), 1);
    cr_assert_eq (store_index_count (txn, ix.index, "z", 1), 0);
    cr_assert_eq (store_count (txn, ix.index), 5);

    store_cursor_t *cursor = store_cursor_new_index (txn, ix.index, "x", 1);
    cr_assert_not_null (cursor);
    s_assert_id (cursor, store_cursor_next (cursor), 3);
    s_assert_id (cursor, store_cursor_next (cursor), 255);
    s_assert_id (cursor, store_cursor_next (cursor), 256);
    s_assert_id (cursor, store_cursor_next (cursor), 1ULL << 40);
    cr_assert_eq (store_cursor_next (cursor), STORE_NOTFOUND, "never wanders to 'y'");
    s_assert_id (cursor, store_cursor_prev (cursor), 1ULL << 40);
    s_assert_id (cursor, store_cursor_first (cursor), 3);
    cr_assert_eq (store_cursor_prev (cursor), STORE_NOTFOUND);
    s_assert_id (cursor, store_cursor_last (cursor), 1ULL << 40);
    s_assert_id (cursor, store_cursor_prev (cursor), 256);

    uint8_t key[8];
    store_id_key (4, key);
    s_assert_id (cursor, store_cursor_seek (cursor, key, 8), 255);
    s_assert_id (cursor, store_cursor_next (cursor), 256);
    store_id_key (256, key);
    s_assert_id (cursor, store_cursor_seek (cursor, key, 8), 256);
    store_id_key ((1ULL << 40) + 1, key);
    cr_assert_eq (store_cursor_seek (cursor, key, 8), STORE_NOTFOUND);
    cr_assert_eq (store_cursor_seek (cursor, key, 4), STORE_INVALID, "ids are 8 bytes");
    store_cursor_destroy (&cursor);

    cursor = store_cursor_new_index (txn, ix.index, "y", 1);
    cr_assert_eq (store_cursor_next (cursor), STORE_OK);
    cr_assert_eq (store_cursor_id (cursor), 1);
    cr_assert_eq (store_cursor_next (cursor), STORE_NOTFOUND);
    store_cursor_destroy (&cursor);

    cursor = store_cursor_new_index (txn, ix.index, "z", 1);
    cr_assert_eq (store_cursor_first (cursor), STORE_NOTFOUND);
    cr_assert_eq (store_cursor_last (cursor), STORE_NOTFOUND);
    store_id_key (1, key);
    cr_assert_eq (store_cursor_seek (cursor, key, 8), STORE_NOTFOUND);
    store_cursor_destroy (&cursor);

    //  A table cursor over an index walks every (key, id) pair
    cursor = store_cursor_new (txn, ix.index);
    int pairs = 0;
    while (store_cursor_next (cursor) == STORE_OK)
        pairs++;
    cr_assert_eq (pairs, 5);
    store_cursor_destroy (&cursor);

    //  Index calls on a plain table are refused
    store_table_t *plain = s_table (store, "plain", false);
    cr_assert_null (store_cursor_new_index (txn, plain, "x", 1));
    store_read_end (&txn);
    store_close (&store);
}

typedef struct {
    store_table_t *index;
    int deleted;
} index_purge_t;

static int
s_index_purge (store_txn_t *txn, void *arg)
{
    index_purge_t *p = (index_purge_t *)arg;
    store_cursor_t *cursor = store_cursor_new_index (txn, p->index, "b", 1);
    store_code_t code;
    while ((code = store_cursor_next (cursor)) == STORE_OK) {
        if (store_cursor_del (cursor) != STORE_OK)
            return -1;
        p->deleted++;
    }
    store_cursor_destroy (&cursor);
    return code == STORE_NOTFOUND ? 0 : -1;
}

static int
s_index_many (store_txn_t *txn, void *arg)
{
    store_table_t *index = (store_table_t *)arg;
    for (uint64_t id = 1; id <= 300; id++)
        if (store_index_add (txn, index,
                             id % 3 == 0   ? "a"
                             : id % 3 == 1 ? "b"
                                           : "c",
                             1, id) != STORE_OK)
            return -1;
    return 0;
}

Test (store, index_delete_all_under_key)
{
    store_t *store = s_open ();
    index_purge_t p = {s_table (store, "ix", true)};
    cr_assert_eq (store_write (store, s_index_many, p.index), STORE_OK);
    cr_assert_eq (store_write (store, s_index_purge, &p), STORE_OK);
    cr_assert_eq (p.deleted, 100, "only the ids under 'b'");
    store_txn_t *txn = store_read_begin (store);
    cr_assert_eq (store_index_count (txn, p.index, "a", 1), 100);
    cr_assert_eq (store_index_count (txn, p.index, "b", 1), 0);
    cr_assert_eq (store_index_count (txn, p.index, "c", 1), 100);
    store_read_end (&txn);
    store_close (&store);
}

//  ---------------------------------------------------------------------------
//  store_write: callbacks, aborts, failures

typedef struct {
    store_t *store;
    store_table_t *table;
    int order[8];
    int norder;
    bool visible_in_callback; //  the record was committed when it ran
    int fail;
} callbacks_t;

static callbacks_t *s_callbacks;

static void
s_callback (void *arg)
{
    callbacks_t *c = s_callbacks;
    c->order[c->norder++] = (int)(intptr_t)arg;
    if (c->norder == 1)
        c->visible_in_callback = s_get_string (c->store, c->table, "cb") != NULL;
}

static int
s_register_callbacks (store_txn_t *txn, void *arg)
{
    callbacks_t *c = (callbacks_t *)arg;
    for (intptr_t i = 1; i <= 3; i++)
        if (store_txn_on_commit (txn, s_callback, (void *)i) != 0)
            return -1;
    if (c->norder != 0)
        return -1; //  ran too early
    if (store_put (txn, c->table, "cb", 2, "x", 1) != STORE_OK)
        return -1;
    return c->fail;
}

Test (store, commit_callbacks)
{
    store_t *store = s_open ();
    callbacks_t c = {store, s_table (store, "t", false)};
    s_callbacks = &c;

    c.fail = 5;
    cr_assert_eq (store_write (store, s_register_callbacks, &c), STORE_ABORTED);
    cr_assert_eq (c.norder, 0, "no callbacks after an abort");
    cr_assert (strstr (store_last_error (store), "aborted"), "%s",
               store_last_error (store));
    cr_assert_null (s_get_string (store, c.table, "cb"));
    cr_assert_eq (store_commits (store), 0);

    c.fail = 0;
    cr_assert_eq (store_write (store, s_register_callbacks, &c), STORE_OK);
    cr_assert_eq (c.norder, 3);
    cr_assert_eq (c.order[0], 1);
    cr_assert_eq (c.order[1], 2);
    cr_assert_eq (c.order[2], 3);
    cr_assert (c.visible_in_callback, "callbacks run after the commit");
    cr_assert_eq (store_commits (store), 1);
    store_close (&store);
}

typedef struct {
    store_t *store;
    store_table_t *table;
    store_code_t nested;
    store_table_t *opened;
} nested_t;

static int
s_noop (store_txn_t *txn, void *arg)
{
    return 0;
}

static int
s_nested (store_txn_t *txn, void *arg)
{
    nested_t *n = (nested_t *)arg;
    n->nested = store_write (n->store, s_noop, NULL);
    n->opened = store_table (n->store, "new_inside", false);
    return store_put (txn, n->table, "k", 1, "v", 1) != STORE_OK;
}

Test (store, nested_write_refused)
{
    store_t *store = s_open ();
    nested_t n = {store, s_table (store, "t", false)};
    cr_assert_eq (store_write (store, s_nested, &n), STORE_OK, "%s",
                  store_last_error (store));
    cr_assert_eq (n.nested, STORE_INVALID);
    cr_assert_null (n.opened, "tables cannot be opened inside store_write");
    cr_assert_str_eq (s_get_string (store, n.table, "k"), "v");
    //  The store is still usable for tables and writes afterwards
    s_table (store, "new_inside", false);
    cr_assert_eq (store_write (store, s_noop, NULL), STORE_OK);
    store_close (&store);
}

typedef struct {
    store_table_t *table;
    store_code_t long_key;
    int result;
    uint64_t id;
} long_key_t;

static int
s_long_key (store_txn_t *txn, void *arg)
{
    long_key_t *lk = (long_key_t *)arg;
    if (store_put (txn, lk->table, "good", 4, "1", 1) != STORE_OK)
        return -1;
    if (store_insert (txn, lk->table, "r", 1, &lk->id) != STORE_OK)
        return -1;
    char key[600];
    memset (key, 'k', sizeof (key));
    lk->long_key = store_put (txn, lk->table, key, sizeof (key), "v", 1);
    //  Later writes in a failed transaction fail too
    if (store_put (txn, lk->table, "after", 5, "1", 1) == STORE_OK)
        return -2;
    return lk->result; //  carry on as if nothing happened
}

Test (store, failed_put_fails_the_write)
{
    store_t *store = s_open ();
    long_key_t lk = {s_table (store, "t", false)};
    store_code_t code = store_write (store, s_long_key, &lk);
    cr_assert_eq (lk.long_key, STORE_LIMIT);
    cr_assert_eq (code, STORE_LIMIT, "got %s", store_strerror (code));
    cr_assert (strstr (store_last_error (store), "600"), "%s", store_last_error (store));
    cr_assert_null (s_get_string (store, lk.table, "good"), "nothing committed");
    cr_assert_eq (s_count (store, lk.table), 0);
    cr_assert_eq (store_commits (store), 0);

    //  The same when the function gives up: ABORTED, cause in the message
    lk.result = -1;
    cr_assert_eq (store_write (store, s_long_key, &lk), STORE_ABORTED);
    cr_assert (strstr (store_last_error (store), "600"), "%s", store_last_error (store));
    cr_assert_eq (s_count (store, lk.table), 0);

    //  The id taken by the failed transactions was rolled back
    batch_t batch = {lk.table, 1, 8, 1};
    cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK);
    cr_assert_eq (batch.first_id, 1);
    store_close (&store);
}

//  ---------------------------------------------------------------------------
//  Map growth

Test (store, map_grows_from_64k)
{
    store_config_t config = {.map_size = 64 * 1024};
    store_t *store = s_open_config (s_dir, &config);
    cr_assert_eq (store_map_size (store), 64 * 1024);
    store_table_t *table = s_table (store, "big", false);
    size_t total = 0;
    int runs = 0;
    for (uint64_t tag = 1; total < (size_t)4 << 20; tag++) {
        batch_t batch = {table, 64, 1024, tag};
        cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK,
                      "batch %lu: %s", (unsigned long)tag, store_last_error (store));
        cr_assert_eq (batch.committed, 1, "callback once even after retries");
        runs += batch.runs;
        total += 64 * 1024;
    }
    cr_assert_gt (store_growths (store), 0);
    cr_assert_gt (runs, (int)(total / (64 * 1024)), "some batches ran again");
    cr_assert_geq (store_map_size (store), total);
    cr_assert_geq (store_used_size (store), total);
    cr_assert_eq (s_count (store, table), total / 1024);
    store_close (&store);

    store = s_open_config (s_dir, &config);
    table = s_table (store, "big", false);
    store_txn_t *txn = store_read_begin (store);
    store_cursor_t *cursor = store_cursor_new (txn, table);
    uint64_t id = 0;
    while (store_cursor_next (cursor) == STORE_OK) {
        cr_assert_eq (store_cursor_id (cursor), ++id);
        size_t size;
        const uint8_t *data = (const uint8_t *)store_cursor_data (cursor, &size);
        cr_assert_eq (size, 1024);
        cr_assert_eq (store_key_id (data), (id - 1) / 64 + 1);
    }
    cr_assert_eq (id, total / 1024);
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    //  Reopened with room to write without growing at once
    cr_assert_gt (store_map_size (store), store_used_size (store));
    batch_t batch = {table, 1, 16, 99};
    cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK);
    store_close (&store);
}

Test (store, callback_once_after_growth_retry)
{
    store_config_t config = {.map_size = 64 * 1024};
    store_t *store = s_open_config (s_dir, &config);
    batch_t batch = {s_table (store, "t", false), 100, 1024, 1};
    cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK, "%s",
                  store_last_error (store));
    cr_assert_gt (batch.runs, 1, "the function ran again after growing");
    cr_assert_eq (batch.committed, 1);
    cr_assert_gt (store_growths (store), 0);
    cr_assert_eq (batch.first_id, 1, "ids of the failed attempt rolled back");
    cr_assert_eq (batch.last_id, 100);
    cr_assert_eq (store_commits (store), 1);
    store_close (&store);
}

Test (store, map_full_at_max)
{
    store_config_t config = {.map_size = 64 * 1024, .map_size_max = 256 * 1024};
    store_t *store = s_open_config (s_dir, &config);
    store_table_t *table = s_table (store, "t", false);
    batch_t small = {table, 4, 100, 1};
    cr_assert_eq (store_write (store, s_insert_batch, &small), STORE_OK);

    batch_t big = {table, 100, 4096, 2};
    cr_assert_eq (store_write (store, s_insert_batch, &big), STORE_MAP_FULL);
    cr_assert_eq (big.committed, 0);
    cr_assert (strstr (store_last_error (store), "map_size_max"), "%s",
               store_last_error (store));
    cr_assert_eq (store_map_size (store), 256 * 1024);
    cr_assert_eq (store_growths (store), 2);
    cr_assert_eq (s_count (store, table), 4, "nothing of the big batch");

    //  Still usable
    small.tag = 3;
    cr_assert_eq (store_write (store, s_insert_batch, &small), STORE_OK);
    cr_assert_eq (small.first_id, 5);
    cr_assert_eq (s_count (store, table), 8);
    store_close (&store);
}

Test (store, no_growth_under_open_reader)
{
    store_config_t config = {.map_size = 64 * 1024};
    store_t *store = s_open_config (s_dir, &config);
    batch_t batch = {s_table (store, "t", false), 100, 1024, 1};
    store_txn_t *reader = store_read_begin (store);
    cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_MAP_FULL);
    cr_assert (strstr (store_last_error (store), "read transaction"), "%s",
               store_last_error (store));
    cr_assert_eq (store_count (reader, batch.table), 0);
    store_read_end (&reader);
    cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK);
    cr_assert_eq (s_count (store, batch.table), 100);
    store_close (&store);
}

//  ---------------------------------------------------------------------------
//  Disk and process errors

//  Wait for a child with a deadline; returns its status or kills it.
static int
s_wait_child (pid_t pid, int seconds)
{
    int status = 0;
    for (int i = 0; i < seconds * 100; i++) {
        pid_t done = waitpid (pid, &status, WNOHANG);
        if (done == pid)
            return status;
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep (&pause, NULL);
    }
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    cr_assert_fail ("child %d did not finish in %d s", (int)pid, seconds);
    return status;
}

Test (store, locked_by_another_process)
{
    store_t *store = s_open ();
    pid_t owner = getpid ();
    pid_t child = fork ();
    cr_assert_geq (child, 0);
    if (child == 0) {
        store_code_t code = STORE_OK;
        char message[512] = "";
        store_t *other = store_open (s_dir, NULL, &code, message, sizeof (message));
        char expect[64];
        snprintf (expect, sizeof (expect), "(pid %d)", (int)owner);
        if (other)
            _exit (1);
        if (code != STORE_LOCKED)
            _exit (2);
        if (!strstr (message, "in use by another process") || !strstr (message, expect) ||
            !strstr (message, s_dir))
            _exit (3);
        _exit (0);
    }
    int status = s_wait_child (child, 30);
    cr_assert (WIFEXITED (status), "child status %d", status);
    cr_assert_eq (WEXITSTATUS (status), 0, "child check %d failed", WEXITSTATUS (status));

    //  A second open in this process fails cleanly too
    store_code_t code = STORE_OK;
    char message[512] = "";
    store_t *twice = store_open (s_dir, NULL, &code, message, sizeof (message));
    cr_assert_null (twice);
    cr_assert_eq (code, STORE_LOCKED, "%s", message);

    //  The first store is unharmed, and the lock goes with it
    store_table_t *table = s_table (store, "t", false);
    s_put_string (store, table, "k", "v");
    store_close (&store);
    store = s_open ();
    table = s_table (store, "t", false);
    cr_assert_str_eq (s_get_string (store, table, "k"), "v");
    store_close (&store);
}

static void
s_assert_open_fails (const char *dir, store_code_t expect)
{
    store_code_t code = STORE_OK;
    char message[512] = "";
    store_t *store = store_open (dir, NULL, &code, message, sizeof (message));
    cr_assert_null (store, "%s opened", dir);
    cr_assert_eq (code, expect, "%s: expected %s, got %s: %s", dir,
                  store_strerror (expect), store_strerror (code), message);
    cr_assert (strstr (message, dir), "message names the path: %s", message);
    //  Without a message buffer, and without a code pointer
    cr_assert_null (store_open (dir, NULL, &code, NULL, 0));
    cr_assert_null (store_open (dir, NULL, NULL, message, sizeof (message)));
}

Test (store, unusable_directories)
{
    //  A path through a regular file
    char file[PATH_MAX + 16], below[PATH_MAX + 32];
    snprintf (file, sizeof (file), "%s/afile", s_root);
    FILE *f = fopen (file, "w");
    cr_assert_not_null (f);
    fputs ("not a directory\n", f);
    fclose (f);
    snprintf (below, sizeof (below), "%s/sub", file);
    s_assert_open_fails (below, STORE_ACCESS);
    s_assert_open_fails (file, STORE_ACCESS);

    //  Read-only directories we cannot write even as root
    struct stat st;
    if (stat ("/proc/sys", &st) == 0)
        s_assert_open_fails ("/proc/sys", STORE_ACCESS);
    if (stat ("/proc/self", &st) == 0)
        s_assert_open_fails ("/proc/self", STORE_ACCESS);

    store_code_t code = STORE_OK;
    cr_assert_null (store_open ("", NULL, &code, NULL, 0));
    cr_assert_eq (code, STORE_INVALID);
}

//  A durable store keeps data.mdb written ahead of the pages LMDB uses, so
//  a commit overwrites blocks that exist instead of growing the file (whose
//  fdatasync would then journal metadata). The zeros go out in small steps
//  (64 KiB), never over what LMDB wrote, and every record survives.
Test (store, data_file_written_ahead_in_steps)
{
    store_t *store = s_open ();
    store_table_t *table = s_table (store, "grow", false);
    char path[PATH_MAX + 16];
    snprintf (path, sizeof (path), "%s/data.mdb", s_dir);
    struct stat st;
    batch_t batch = {.table = table, .count = 1, .size = 2000, .tag = 7};
    cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK);
    cr_assert_eq (stat (path, &st), 0);
    off_t size = st.st_size;
    cr_assert_geq ((size_t)size, store_used_size (store) + ((size_t)256 << 10),
                   "the first commit leaves room ahead: %lld bytes for %zu used",
                   (long long)size, store_used_size (store));
    int steps = 0;
    for (int i = 0; i < 600; i++) {
        batch.tag = (uint64_t)i;
        cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK, "%s",
                      store_last_error (store));
        cr_assert_leq (store_used_size (store), (size_t)size,
                       "commit %d used %zu bytes of a %lld-byte file: LMDB grew it", i,
                       store_used_size (store), (long long)size);
        cr_assert_eq (stat (path, &st), 0);
        if (st.st_size != size) {
            cr_assert_leq (st.st_size - size, 64 << 10,
                           "commit %d wrote %lld bytes ahead at once", i,
                           (long long)(st.st_size - size));
            steps++;
        }
        size = st.st_size;
    }
    cr_assert_geq (steps, 5, "1.2 MB of records took %d steps", steps);
    store_close (&store);

    store = s_open ();
    table = s_table (store, "grow", false);
    cr_assert_eq (s_count (store, table), 601, "every record is still there");
    store_close (&store);
}

Test (store, corrupt_data_file)
{
    cr_assert_eq (mkdir (s_dir, 0750), 0);
    char path[PATH_MAX + 16];
    snprintf (path, sizeof (path), "%s/data.mdb", s_dir);
    FILE *f = fopen (path, "w");
    cr_assert_not_null (f);
    uint32_t state = 12345;
    for (int i = 0; i < 64 * 1024; i++) {
        state = state * 1103515245u + 12345u;
        fputc ((int)(state >> 16) & 0xff, f);
    }
    fclose (f);

    store_code_t code = STORE_OK;
    char message[512] = "";
    store_t *store = store_open (s_dir, NULL, &code, message, sizeof (message));
    cr_assert_null (store);
    cr_assert_eq (code, STORE_CORRUPT, "got %s: %s", store_strerror (code), message);
    cr_assert (strstr (message, path), "%s", message);
    cr_assert (strstr (message, "not a valid LMDB file"), "%s", message);
    //  The lock was released on the way out: after a repair it opens
    cr_assert_eq (unlink (path), 0);
    store = s_open ();
    store_close (&store);
}

//  ---------------------------------------------------------------------------
//  Crash safety: SIGKILL a writer in the middle of its batches

#define CRASH_BATCH   100
#define CRASH_REPORTS 20

static int
s_crash_batch (store_txn_t *txn, void *arg)
{
    batch_t *batch = (batch_t *)arg;
    uint8_t record[256];
    memset (record, 0xc3, sizeof (record));
    store_id_key (batch->tag, record);
    for (uint32_t i = 0; i < CRASH_BATCH; i++) {
        memcpy (record + 8, &i, sizeof (i));
        if (store_insert (txn, batch->table, record, sizeof (record), NULL) != STORE_OK)
            return -1;
    }
    return 0;
}

//  The writer: batches of 100 records tagged with the batch number, each
//  reported on `fd` after its commit. Holds a read transaction throughout,
//  which leaves a stale reader slot when killed.
static void
s_crash_writer (int fd)
{
    store_config_t config = {.map_size = (size_t)512 << 20};
    store_t *store = store_open (s_dir, &config, NULL, NULL, 0);
    if (!store)
        _exit (2);
    batch_t batch = {store_table (store, "crash", false)};
    if (!batch.table)
        _exit (3);
    store_txn_t *reader = store_read_begin (store);
    if (!reader)
        _exit (4);
    for (uint64_t tag = 1;; tag++) {
        batch.tag = tag;
        if (store_write (store, s_crash_batch, &batch) != STORE_OK)
            _exit (5);
        if (write (fd, &tag, sizeof (tag)) != sizeof (tag))
            _exit (6);
    }
}

//  The witness keeps the environment open with raw LMDB, so the reader
//  table survives the writer's death, and counts the reader slots a pid
//  holds when asked (one byte on `in`, the answer on `out`).
typedef struct {
    pid_t pid;
    int slots;
} reader_count_t;

static int
s_reader_line (const char *line, void *arg)
{
    reader_count_t *count = (reader_count_t *)arg;
    int pid;
    if (sscanf (line, "%d", &pid) == 1 && pid == (int)count->pid)
        count->slots++;
    return 0;
}

static void
s_witness (int in, int out, pid_t writer)
{
    MDB_env *env;
    if (mdb_env_create (&env) || mdb_env_set_maxdbs (env, 200) ||
        mdb_env_open (env, s_dir, MDB_NOTLS, 0640))
        _exit (2);
    int ready = 1;
    if (write (out, &ready, sizeof (ready)) != sizeof (ready))
        _exit (3);
    char command;
    while (read (in, &command, 1) == 1) {
        reader_count_t count = {writer, 0};
        mdb_reader_list (env, s_reader_line, &count);
        if (write (out, &count.slots, sizeof (count.slots)) != sizeof (count.slots))
            _exit (4);
    }
    mdb_env_close (env);
    _exit (0);
}

//  Read exactly `size` bytes within `ms` milliseconds
static bool
s_read_within (int fd, void *buffer, size_t size, int ms)
{
    size_t got = 0;
    while (got < size) {
        struct pollfd item = {fd, POLLIN, 0};
        if (poll (&item, 1, ms) != 1)
            return false;
        ssize_t rc = read (fd, (char *)buffer + got, size - got);
        if (rc <= 0)
            return false;
        got += (size_t)rc;
    }
    return true;
}

static int
s_ask_witness (int to, int from)
{
    char command = '?';
    cr_assert_eq (write (to, &command, 1), 1);
    int slots = -1;
    cr_assert (s_read_within (from, &slots, sizeof (slots), 10000), "witness silent");
    return slots;
}

Test (store, crash_keeps_whole_batches, .timeout = 120)
{
    signal (SIGPIPE, SIG_IGN);
    int reports[2];
    cr_assert_eq (pipe (reports), 0);
    pid_t writer = fork ();
    cr_assert_geq (writer, 0);
    if (writer == 0) {
        close (reports[0]);
        s_crash_writer (reports[1]);
    }
    close (reports[1]);

    uint64_t tag = 0, reported = 0;
    pid_t witness = -1;
    int to_witness[2], from_witness[2];
    cr_assert_eq (pipe (to_witness), 0);
    cr_assert_eq (pipe (from_witness), 0);
    while (reported < CRASH_REPORTS) {
        if (!s_read_within (reports[0], &tag, sizeof (tag), 30000)) {
            kill (writer, SIGKILL);
            waitpid (writer, NULL, 0);
            cr_assert_fail ("writer reported %lu batches, then stopped",
                            (unsigned long)reported);
        }
        cr_assert_eq (tag, reported + 1, "batches reported in order");
        reported = tag;
        if (witness < 0) {
            //  The environment exists: start the witness
            witness = fork ();
            cr_assert_geq (witness, 0);
            if (witness == 0) {
                close (to_witness[1]);
                close (from_witness[0]);
                close (reports[0]);
                s_witness (to_witness[0], from_witness[1], writer);
            }
            close (to_witness[0]);
            close (from_witness[1]);
            int ready = 0;
            cr_assert (s_read_within (from_witness[0], &ready, sizeof (ready), 10000),
                       "witness did not start");
        }
    }
    //  The writer is in its tight loop, most likely inside a batch
    cr_assert_eq (kill (writer, SIGKILL), 0);
    int status = s_wait_child (writer, 30);
    cr_assert (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
               "writer exited on its own (status %d)", status);
    //  Anything it committed after its last report still counts
    while (s_read_within (reports[0], &tag, sizeof (tag), 0))
        reported = tag;
    close (reports[0]);

    cr_assert_eq (s_ask_witness (to_witness[1], from_witness[0]), 1,
                  "the dead writer left a stale reader slot");

    store_t *store = s_open ();
    cr_assert_eq (s_ask_witness (to_witness[1], from_witness[0]), 0,
                  "store_open cleared the stale reader slot");
    close (to_witness[1]);
    s_wait_child (witness, 30);
    close (from_witness[0]);

    store_table_t *table = s_table (store, "crash", false);
    store_txn_t *txn = store_read_begin (store);
    cr_assert_not_null (txn);
    store_cursor_t *cursor = store_cursor_new (txn, table);
    size_t max = 1024;
    uint32_t *counts = (uint32_t *)calloc (max, sizeof (uint32_t));
    uint64_t expect_id = 0, last_batch = 0;
    while (store_cursor_next (cursor) == STORE_OK) {
        cr_assert_eq (store_cursor_id (cursor), ++expect_id, "ids have no holes");
        size_t size;
        const uint8_t *data = (const uint8_t *)store_cursor_data (cursor, &size);
        cr_assert_eq (size, 256);
        uint64_t batch = store_key_id (data);
        uint32_t index;
        memcpy (&index, data + 8, sizeof (index));
        cr_assert_eq (index, (expect_id - 1) % CRASH_BATCH, "records in batch order");
        cr_assert_geq (batch, 1);
        while (batch >= max) {
            counts = (uint32_t *)realloc (counts, 2 * max * sizeof (uint32_t));
            memset (counts + max, 0, max * sizeof (uint32_t));
            max *= 2;
        }
        counts[batch]++;
        if (batch > last_batch)
            last_batch = batch;
    }
    store_cursor_destroy (&cursor);
    store_read_end (&txn);

    cr_assert_geq (last_batch, reported, "every reported batch is there");
    for (uint64_t batch = 1; batch <= last_batch; batch++)
        cr_assert_eq (counts[batch], CRASH_BATCH, "batch %lu has %u records, not %d",
                      (unsigned long)batch, counts[batch], CRASH_BATCH);
    free (counts);
    cr_assert_eq (expect_id, last_batch * CRASH_BATCH, "no partial batch");

    //  The store carries on where the dead writer stopped
    batch_t batch = {table, 1, 8, last_batch + 1};
    cr_assert_eq (store_write (store, s_insert_batch, &batch), STORE_OK, "%s",
                  store_last_error (store));
    cr_assert_eq (batch.first_id, last_batch * CRASH_BATCH + 1);
    store_close (&store);
}

//  A full disk: commits fail with STORE_IO, the store refuses writes for a
//  backoff instead of trying each one, and works again by itself once the
//  disk has room (a tmpfs this test mounts: root only).
typedef struct {
    store_table_t *table;
    uint64_t n;
    size_t size;
} s_fill_t;

static int
s_fill_write (store_txn_t *txn, void *arg)
{
    s_fill_t *fill = (s_fill_t *)arg;
    static char value[64 * 1024];
    for (int i = 0; i < 8; i++) {
        uint64_t key = fill->n + (uint64_t)i;
        if (store_put (txn, fill->table, &key, sizeof key, value, fill->size) != STORE_OK)
            return -1;
    }
    return 0;
}

Test (store, full_disk_backs_off_and_recovers)
{
    if (geteuid () != 0)
        cr_skip_test ("needs root to mount a small tmpfs");
    mkdir (s_dir, 0750);
    if (mount ("attune-test", s_dir, "tmpfs", 0, "size=2m") != 0)
        cr_skip_test ("cannot mount a tmpfs: %s", strerror (errno));
    store_t *store = s_open ();
    s_fill_t fill = {.table = store_table (store, "fill", false), .size = 60000};
    cr_assert_not_null (fill.table);
    store_code_t code = STORE_OK;
    for (int i = 0; i < 200 && code == STORE_OK; i++, fill.n += 8)
        code = store_write (store, s_fill_write, &fill);
    cr_assert_eq (code, STORE_IO, "the 2 MB disk did not fill: %s",
                  store_strerror (code));
    cr_assert (store_io_failing (store));
    //  At once again: refused by the backoff, the message says so. A slow
    //  machine (sanitizers, a loaded CI) may reach the next write after the
    //  first backoff (10 ms) is over: that try fails too and doubles it, so
    //  one of a few writes in a row is refused without trying
    bool refused = false;
    for (int i = 0; i < 10 && !refused; i++) {
        cr_assert_eq (store_write (store, s_fill_write, &fill), STORE_IO);
        refused = strstr (store_last_error (store), "retried in at most") != NULL;
    }
    cr_assert (refused, "never refused by the backoff: %s", store_last_error (store));
    cr_assert_eq (mount ("attune-test", s_dir, "tmpfs", MS_REMOUNT, "size=64m"), 0);
    //  Within the longest backoff (1 s) a write goes through
    code = STORE_IO;
    for (int i = 0; i < 40 && code != STORE_OK; i++) {
        code = store_write (store, s_fill_write, &fill);
        if (code != STORE_OK)
            usleep (50 * 1000);
    }
    cr_assert_eq (code, STORE_OK, "%s", store_last_error (store));
    cr_assert_not (store_io_failing (store));
    store_close (&store);
    umount2 (s_dir, MNT_DETACH);
}

//  store_stats (metrics): every counted commit in the commit-time buckets,
//  sizes from LMDB and the file system, records in every table
Test (store, stats_count_commits_and_sizes)
{
    store_t *store = s_open ();
    store_table_t *table = s_table (store, "things", false);
    store_stats_t stats;
    store_stats (store, &stats);
    uint64_t commits = stats.commits;
    for (int i = 0; i < 5; i++) {
        char key[16];
        snprintf (key, sizeof key, "k%d", i);
        s_put_string (store, table, key, "value");
    }
    store_stats (store, &stats);
    cr_assert_eq (stats.commits, commits + 5);
    uint64_t bucketed = 0;
    for (int i = 0; i <= STORE_COMMIT_BUCKETS; i++)
        bucketed += stats.commit_buckets[i];
    cr_assert_eq (bucketed, stats.commits, "every commit in a bucket");
    cr_assert_gt (stats.commit_seconds, 0);
    for (int i = 1; i < STORE_COMMIT_BUCKETS; i++)
        cr_assert_gt (store_commit_bounds[i], store_commit_bounds[i - 1]);
    cr_assert_eq (stats.map_bytes, store_map_size (store));
    cr_assert_eq (stats.used_bytes, store_used_size (store));
    cr_assert_gt (stats.file_bytes, 0);
    cr_assert_geq (stats.map_max_bytes, stats.map_bytes);
    cr_assert_geq (stats.entries, 5); //  the five, and the meta table's
    cr_assert (!stats.io_failing);
    store_close (&store);
}
