/*  test_store_format: store format versions and hot copies (store/store.h:
    store_format_version, store_backup).

    The version sits in the store's meta table; these tests change it with
    LMDB directly (the store closed) to make a store of an older or a newer
    format than this build's, as an older or a newer attune would leave it.
*/
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

static char s_root[PATH_MAX - 64];
static char s_dir[PATH_MAX];

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove (path);
}

static void
s_setup (void)
{
    const char *base = getenv ("ATTUNE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir (base, 0750);
    snprintf (s_root, sizeof s_root, "%s/test_store_format-XXXXXX", base);
    cr_assert_not_null (mkdtemp (s_root), "mkdtemp %s: %s", s_root, strerror (errno));
    snprintf (s_dir, sizeof s_dir, "%s/store", s_root);
}

static void
s_teardown (void)
{
    if (s_root[0])
        nftw (s_root, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite (store_format, .init = s_setup, .fini = s_teardown, .timeout = 60);

static store_t *
s_open (const char *dir)
{
    store_code_t code = STORE_INTERNAL;
    char message[512] = "";
    store_t *store = store_open (dir, NULL, &code, message, sizeof message);
    cr_assert_not_null (store, "store_open %s: %s", dir, message);
    return store;
}

typedef struct {
    const char *key;
    const char *value;
} s_put_t;

static int
s_put (store_txn_t *txn, void *arg)
{
    s_put_t *put = (s_put_t *)arg;
    store_table_t *table = store_table (store_txn_store (txn), "things", false);
    return table ? (int)store_put (txn, table, put->key, strlen (put->key), put->value,
                                   strlen (put->value) + 1)
                 : -1;
}

static void
s_write (store_t *store, const char *key, const char *value)
{
    cr_assert_not_null (store_table (store, "things", false));
    s_put_t put = {key, value};
    cr_assert_eq (store_write (store, s_put, &put), STORE_OK);
}

static void
s_expect (store_t *store, const char *key, const char *value)
{
    store_table_t *table = store_table (store, "things", false);
    cr_assert_not_null (table);
    store_txn_t *txn = store_read_begin (store);
    const void *data;
    size_t size;
    cr_assert_eq (store_get (txn, table, key, strlen (key), &data, &size), STORE_OK,
                  "%s missing", key);
    cr_assert_str_eq ((const char *)data, value);
    store_read_end (&txn);
}

//  The format key of the closed store in `dir`, as LMDB sees it: -1 when
//  absent. With `set` >= 0 it is written first; with `set` == -2 deleted.
static long
s_raw_format (const char *dir, long set)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    cr_assert_eq (mdb_env_create (&env), 0);
    mdb_env_set_maxdbs (env, 8);
    cr_assert_eq (mdb_env_open (env, dir, MDB_NOTLS, 0640), 0);
    cr_assert_eq (mdb_txn_begin (env, NULL, 0, &txn), 0);
    cr_assert_eq (mdb_dbi_open (txn, "__meta", 0, &meta), 0);
    MDB_val k = {8, "__format"}, v;
    if (set >= 0) {
        uint8_t bytes[8];
        store_id_key ((uint64_t)set, bytes);
        v.mv_size = 8;
        v.mv_data = bytes;
        cr_assert_eq (mdb_put (txn, meta, &k, &v, 0), 0);
    } else if (set == -2)
        cr_assert_eq (mdb_del (txn, meta, &k, NULL), 0);
    long value = -1;
    if (mdb_get (txn, meta, &k, &v) == 0) {
        cr_assert_eq (v.mv_size, 8);
        value = (long)store_key_id (v.mv_data);
    }
    cr_assert_eq (mdb_txn_commit (txn), 0);
    mdb_env_close (env);
    return value;
}

Test (store_format, new_store_records_this_builds_version)
{
    store_t *store = s_open (s_dir);
    cr_assert_eq (store_format_version (store), STORE_FORMAT_VERSION);
    store_close (&store);
    cr_assert_eq (s_raw_format (s_dir, -1), STORE_FORMAT_VERSION);
}

Test (store_format, store_without_version_is_migrated_in_place)
{
    //  A store as attune wrote it before versions: today's layout, no key
    store_t *store = s_open (s_dir);
    s_write (store, "a", "one");
    store_close (&store);
    cr_assert_eq (s_raw_format (s_dir, -2), -1);

    store = s_open (s_dir);
    cr_assert_eq (store_format_version (store), STORE_FORMAT_VERSION);
    s_expect (store, "a", "one");
    s_write (store, "b", "two");
    store_close (&store);
    //  Recorded durably, and opening again changes nothing
    cr_assert_eq (s_raw_format (s_dir, -1), STORE_FORMAT_VERSION);
    store = s_open (s_dir);
    s_expect (store, "a", "one");
    s_expect (store, "b", "two");
    store_close (&store);
}

Test (store_format, newer_format_is_refused_with_a_clear_message)
{
    store_t *store = s_open (s_dir);
    s_write (store, "a", "one");
    store_close (&store);
    s_raw_format (s_dir, STORE_FORMAT_VERSION + 1);

    store_code_t code = STORE_OK;
    char message[512] = "";
    store = store_open (s_dir, NULL, &code, message, sizeof message);
    cr_assert_null (store);
    cr_assert_eq (code, STORE_VERSION, "%s", store_strerror (code));
    char expect[PATH_MAX + 64];
    snprintf (expect, sizeof expect, "%s: store format version %d", s_dir,
              STORE_FORMAT_VERSION + 1);
    cr_assert_not_null (strstr (message, expect), "%s", message);
    snprintf (expect, sizeof expect, "(format version %d)", STORE_FORMAT_VERSION);
    cr_assert_not_null (strstr (message, expect), "%s", message);
    //  Nothing was changed, nothing stays locked
    cr_assert_eq (s_raw_format (s_dir, -1), STORE_FORMAT_VERSION + 1);
    s_raw_format (s_dir, STORE_FORMAT_VERSION);
    store = s_open (s_dir);
    s_expect (store, "a", "one");
    store_close (&store);
}

Test (store_format, format_key_is_not_a_table_name)
{
    store_t *store = s_open (s_dir);
    cr_assert_null (store_table (store, "__format", false));
    cr_assert_not_null (strstr (store_last_error (store), "reserved"));
    store_close (&store);
}

Test (store_format, backup_is_a_store_that_opens_with_the_same_records)
{
    store_t *store = s_open (s_dir);
    char key[32], value[64];
    for (int i = 0; i < 200; i++) {
        snprintf (key, sizeof key, "k%03d", i);
        snprintf (value, sizeof value, "value %d", i);
        s_write (store, key, value);
    }
    char copy[PATH_MAX + 16];
    snprintf (copy, sizeof copy, "%s/copy/store", s_root);
    uint64_t size = 0;
    cr_assert_eq (store_backup (store, copy, &size), STORE_OK, "%s",
                  store_last_error (store));
    cr_assert_gt (size, 0);
    //  Written after the copy: not in it
    s_write (store, "later", "not copied");
    //  Never over an existing copy
    cr_assert_eq (store_backup (store, copy, NULL), STORE_EXISTS);
    cr_assert_not_null (strstr (store_last_error (store), "already"));
    store_close (&store);

    store_t *restored = s_open (copy);
    cr_assert_eq (store_format_version (restored), STORE_FORMAT_VERSION);
    s_expect (restored, "k000", "value 0");
    s_expect (restored, "k199", "value 199");
    store_table_t *table = store_table (restored, "things", false);
    store_txn_t *txn = store_read_begin (restored);
    const void *data;
    size_t got;
    cr_assert_eq (store_get (txn, table, "later", 5, &data, &got), STORE_NOTFOUND);
    store_read_end (&txn);
    store_close (&restored);
}

Test (store_format, backup_to_an_unwritable_place_says_why)
{
    store_t *store = s_open (s_dir);
    char file[PATH_MAX + 16];
    snprintf (file, sizeof file, "%s/file", s_root);
    FILE *f = fopen (file, "w");
    cr_assert_not_null (f);
    fclose (f);
    char below[PATH_MAX + 32];
    snprintf (below, sizeof below, "%s/sub", file);
    cr_assert_neq (store_backup (store, below, NULL), STORE_OK);
    cr_assert_not_null (strstr (store_last_error (store), below), "%s",
                        store_last_error (store));
    store_close (&store);
}
