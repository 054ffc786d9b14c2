/*  store: an actor's durable tables in an embedded LMDB environment.

    The store's sources: this file opens and closes the environment and
    holds the error codes; store_txn.c runs transactions (the write runner,
    map growth, the failing-disk backoff, data.mdb written ahead);
    store_table.c holds tables, records and indexes; store_cursor.c the
    cursors. store_internal.h has the types they share.

    A tour:

    - store_open () checks the directory, takes dir/attune.lock with flock
      (LOCK_EX | LOCK_NB) so one process owns the directory, then opens the
      LMDB environment with MDB_NOTLS (actors are threads: read transactions
      must not be bound to thread-local reader slots).
    - Tables are LMDB named databases, cached by name in the store. The
      reserved table "__meta" maps each table name to its last id (8 bytes,
      big-endian).
    - Ids: each table keeps the last committed id in memory (`committed`) and
      the last id handed out in the running write transaction (`pending`).
      Tables whose counter moved are listed in `dirty`; their counters are
      written to meta once, just before commit, and rolled back on abort.
    - store_write () runs the user function in the store's one write
      transaction (a member of store_t, so the put path never allocates).
      The first failure of a write operation is remembered on the
      transaction; a transaction that failed is never committed. MDB_MAP_FULL
      aborts, doubles the map (up to map_size_max) and runs the function
      again from scratch.
    - Cursors opened in a transaction are kept on a list and closed when the
      transaction ends; a cursor object that outlives its transaction is
      only good for store_cursor_destroy ().
*/
#include "store/store.h"
#include "store/store_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *s_code_names[STORE_COUNT] = {
    [STORE_OK] = "success",
    [STORE_NOTFOUND] = "not found",
    [STORE_EXISTS] = "key exists",
    [STORE_MAP_FULL] = "map full at its maximum size",
    [STORE_ACCESS] = "access denied",
    [STORE_LOCKED] = "in use by another process",
    [STORE_CORRUPT] = "corrupt store",
    [STORE_IO] = "I/O error",
    [STORE_NOMEM] = "out of memory",
    [STORE_LIMIT] = "limit exceeded",
    [STORE_INVALID] = "invalid argument",
    [STORE_ABORTED] = "aborted",
    [STORE_INTERNAL] = "internal error",
    [STORE_VERSION] = "store format newer than this build",
};

const char *
store_strerror (store_code_t code)
{
    if ((int)code < 0 || code >= STORE_COUNT)
        return "unknown error";
    return s_code_names[code];
}

//  ---------------------------------------------------------------------------
//  Errors

store_code_t
store_code_of (int rc)
{
    switch (rc) {
        case MDB_SUCCESS:
            return STORE_OK;
        case MDB_NOTFOUND:
            return STORE_NOTFOUND;
        case MDB_KEYEXIST:
            return STORE_EXISTS;
        case MDB_MAP_FULL:
            return STORE_MAP_FULL;
        case MDB_INVALID:
        case MDB_VERSION_MISMATCH:
        case MDB_CORRUPTED:
        case MDB_PANIC:
        case MDB_PAGE_NOTFOUND:
            return STORE_CORRUPT;
        case EACCES:
        case EPERM:
        case EROFS:
            return STORE_ACCESS;
        case ENOSPC:
        case EIO:
        case EDQUOT:
            return STORE_IO;
        case ENOMEM:
            return STORE_NOMEM;
        case MDB_DBS_FULL:
        case MDB_READERS_FULL:
        case MDB_BAD_VALSIZE:
        case MDB_TXN_FULL:
        case MDB_CURSOR_FULL:
            return STORE_LIMIT;
        case MDB_INCOMPATIBLE:
        case MDB_BAD_DBI:
        case EINVAL:
            return STORE_INVALID;
        default:
            return STORE_INTERNAL;
    }
}

//  errno of the file system calls made before LMDB is involved
static store_code_t
s_code_of_errno (int err)
{
    switch (err) {
        case EACCES:
        case EPERM:
        case EROFS:
        case ENOTDIR:
        case ENOENT:
        case EEXIST:
        case ELOOP:
        case ENAMETOOLONG:
            return STORE_ACCESS;
        case ENOSPC:
        case EIO:
        case EDQUOT:
            return STORE_IO;
        case ENOMEM:
            return STORE_NOMEM;
        default:
            return STORE_INTERNAL;
    }
}

void
store_error_set (store_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
}

//  Record a failed LMDB call made in a transaction; returns its code.
//  Failures of write operations (anything but not-found / exists) mark a
//  write transaction failed, so it is never committed.
store_code_t
store_txn_fail (store_txn_t *txn, int rc, const char *op, store_table_t *table,
                size_t key_size, bool is_write)
{
    store_t *self = txn->store;
    store_code_t code = store_code_of (rc);
    if (rc == MDB_BAD_TXN && txn->write && txn->status != STORE_OK)
        return txn->status; //  LMDB refuses a txn that already failed
    if (code == STORE_NOTFOUND || code == STORE_EXISTS)
        return code;

    const char *name = table ? table->name : STORE_META_NAME;
    if (rc == MDB_BAD_VALSIZE)
        store_error_set (self,
                         "%s: %s in table '%s': key of %zu bytes is empty or too long "
                         "(max %d), or value too large for an index",
                         self->dir, op, name, key_size, self->max_key);
    else if (rc == MDB_MAP_FULL)
        store_error_set (self, "%s: %s in table '%s': map full (%s)", self->dir, op, name,
                         mdb_strerror (rc));
    else
        store_error_set (self, "%s: %s in table '%s': %s", self->dir, op, name,
                         mdb_strerror (rc));

    if (txn->write && is_write) {
        if (rc == MDB_MAP_FULL)
            txn->map_full = true;
        if (txn->status == STORE_OK)
            txn->status = code;
    }
    return code;
}

store_code_t
store_txn_readonly (store_txn_t *txn, const char *op, store_table_t *table)
{
    store_error_set (txn->store, "%s: %s in table '%s': read-only transaction",
                     txn->store->dir, op, table->name);
    return STORE_INVALID;
}

//  ---------------------------------------------------------------------------
//  Ids

void
store_id_key (uint64_t id, uint8_t key[8])
{
    for (int i = 7; i >= 0; i--) {
        key[i] = (uint8_t)(id & 0xff);
        id >>= 8;
    }
}

uint64_t
store_key_id (const void *key)
{
    assert (key);
    const uint8_t *bytes = (const uint8_t *)key;
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = (id << 8) | bytes[i];
    return id;
}

//  ---------------------------------------------------------------------------
//  Opening

//  mkdir -p with mode 0750; returns 0 or an errno.
static int
s_mkdir_p (const char *dir)
{
    char path[PATH_MAX];
    size_t length = strlen (dir);
    if (length == 0 || length >= sizeof (path))
        return ENAMETOOLONG;
    memcpy (path, dir, length + 1);
    for (size_t i = 1; i <= length; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir (path, 0750) != 0 && errno != EEXIST)
            return errno;
        path[i] = saved;
    }
    struct stat st;
    if (stat (dir, &st) != 0)
        return errno;
    if (!S_ISDIR (st.st_mode))
        return ENOTDIR;
    return 0;
}

static void s_open_fail (store_code_t *code, char *message, size_t message_size,
                         store_code_t value, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

static void
s_open_fail (store_code_t *code, char *message, size_t message_size, store_code_t value,
             const char *format, ...)
{
    if (code)
        *code = value;
    if (message && message_size > 0) {
        va_list args;
        va_start (args, format);
        vsnprintf (message, message_size, format, args);
        va_end (args);
    }
}

//  Takes dir/attune.lock; returns the fd, or -1 with the failure filled in.
static int
s_lock (const char *dir, store_code_t *code, char *message, size_t message_size)
{
    char path[PATH_MAX];
    if (snprintf (path, sizeof (path), "%s/%s", dir, STORE_LOCK_NAME) >=
        (int)sizeof (path)) {
        s_open_fail (code, message, message_size, STORE_INVALID, "%s: path too long",
                     dir);
        return -1;
    }
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        int err = errno;
        s_open_fail (code, message, message_size, s_code_of_errno (err),
                     "%s: cannot open the lock file (%s)", path, strerror (err));
        return -1;
    }
    if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EWOULDBLOCK) {
            char text[32] = "";
            ssize_t size = pread (fd, text, sizeof (text) - 1, 0);
            long pid = size > 0 ? strtol (text, NULL, 10) : 0;
            if (pid > 0)
                s_open_fail (code, message, message_size, STORE_LOCKED,
                             "%s: in use by another process (pid %ld)", dir, pid);
            else
                s_open_fail (code, message, message_size, STORE_LOCKED,
                             "%s: in use by another process", dir);
        } else
            s_open_fail (code, message, message_size, s_code_of_errno (err),
                         "%s: cannot lock (%s)", path, strerror (err));
        close (fd);
        return -1;
    }
    char text[32];
    int size = snprintf (text, sizeof (text), "%ld\n", (long)getpid ());
    if (ftruncate (fd, 0) != 0 || pwrite (fd, text, (size_t)size, 0) != size) {
        int err = errno;
        s_open_fail (code, message, message_size, s_code_of_errno (err),
                     "%s: cannot write the lock file (%s)", path, strerror (err));
        close (fd);
        return -1;
    }
    return fd;
}

static size_t
s_map_size (store_t *self)
{
    MDB_envinfo info;
    mdb_env_info (self->env, &info);
    return info.me_mapsize;
}

size_t
store_map_size (store_t *self)
{
    assert (self);
    return s_map_size (self);
}

size_t
store_used_size (store_t *self)
{
    assert (self);
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info (self->env, &info);
    mdb_env_stat (self->env, &st);
    return (size_t)(info.me_last_pgno + 1) * st.ms_psize;
}

static void s_free (store_t *self);

//  The system's page size (4096 when it says something odd).
static size_t
s_page_size (void)
{
    size_t page = (size_t)sysconf (_SC_PAGESIZE);
    if (page == 0 || page > (1 << 16))
        page = 4096;
    return page;
}

//  `config` (NULL: all defaults) with its defaults filled in and its map
//  sizes in whole pages.
static store_config_t
s_config_resolve (const store_config_t *config, size_t page)
{
    store_config_t cfg = {0};
    if (config)
        cfg = *config;
    if (cfg.map_size == 0)
        cfg.map_size = STORE_DEFAULT_MAP;
    if (cfg.map_size_max == 0)
        cfg.map_size_max = STORE_DEFAULT_MAP_MAX;
    if (cfg.max_tables == 0)
        cfg.max_tables = STORE_DEFAULT_TABLES;
    if (cfg.max_readers == 0)
        cfg.max_readers = STORE_DEFAULT_READERS;
    cfg.map_size = store_round_up (cfg.map_size, page);
    cfg.map_size_max = cfg.map_size_max / page * page;
    if (cfg.map_size_max < cfg.map_size)
        cfg.map_size_max = cfg.map_size;
    return cfg;
}

//  The directory: present (or created) and writable. Returns false with the
//  failure filled in.
static bool
s_dir_ready (const char *dir, store_code_t *code, char *message, size_t message_size)
{
    int err = s_mkdir_p (dir);
    if (err) {
        s_open_fail (code, message, message_size, s_code_of_errno (err),
                     "%s: cannot create directory (%s)", dir, strerror (err));
        return false;
    }
    if (access (dir, R_OK | W_OK | X_OK) != 0) {
        err = errno;
        s_open_fail (code, message, message_size, s_code_of_errno (err),
                     "%s: directory is not writable (%s)", dir, strerror (err));
        return false;
    }
    return true;
}

//  A store with its table slots and callbacks allocated, no environment yet.
//  Returns NULL with the failure filled in.
static store_t *
s_alloc (const char *dir, const store_config_t *cfg, size_t page, store_code_t *code,
         char *message, size_t message_size)
{
    store_t *self = (store_t *)calloc (1, sizeof (store_t));
    if (!self) {
        s_open_fail (code, message, message_size, STORE_NOMEM, "%s: out of memory", dir);
        return NULL;
    }
    self->lock_fd = -1;
    self->page_size = page;
    self->map_size_max = cfg->map_size_max;
    self->max_tables = cfg->max_tables;
    self->dir = strdup (dir);
    self->tables = (store_table_t **)calloc (cfg->max_tables, sizeof (store_table_t *));
    self->dirty = (store_table_t **)calloc (cfg->max_tables, sizeof (store_table_t *));
    self->callbacks_max = 16;
    self->callbacks =
        (store_callback_t *)calloc (self->callbacks_max, sizeof (store_callback_t));
    if (!self->dir || !self->tables || !self->dirty || !self->callbacks) {
        s_open_fail (code, message, message_size, STORE_NOMEM, "%s: out of memory", dir);
        s_free (self);
        return NULL;
    }
    self->wtxn.store = self;
    self->wtxn.write = true;
    return self;
}

//  Create and open the LMDB environment, clearing stale readers. Returns
//  false with the failure filled in.
static bool
s_env_open (store_t *self, const char *dir, const store_config_t *cfg, store_code_t *code,
            char *message, size_t message_size)
{
    int rc = mdb_env_create (&self->env);
    const char *step = "mdb_env_create";
    if (rc == 0) {
        step = "mdb_env_set_maxdbs";
        rc = mdb_env_set_maxdbs (self->env, cfg->max_tables + 1);
    }
    if (rc == 0) {
        step = "mdb_env_set_maxreaders";
        rc = mdb_env_set_maxreaders (self->env, cfg->max_readers);
    }
    if (rc == 0) {
        step = "mdb_env_set_mapsize";
        rc = mdb_env_set_mapsize (self->env, cfg->map_size);
    }
    if (rc == 0) {
        step = "mdb_env_open";
        unsigned flags = MDB_NOTLS | (cfg->nosync ? MDB_NOSYNC : 0);
        rc = mdb_env_open (self->env, dir, flags, 0640);
    }
    if (rc == 0) {
        step = "mdb_reader_check";
        int dead = 0;
        rc = mdb_reader_check (self->env, &dead);
    }
    if (rc) {
        store_code_t value = store_code_of (rc);
        if (value == STORE_CORRUPT)
            s_open_fail (code, message, message_size, value,
                         "%s/data.mdb: not a valid LMDB file (%s)", dir,
                         mdb_strerror (rc));
        else if (value == STORE_ACCESS)
            s_open_fail (code, message, message_size, value, "%s: access denied (%s)",
                         dir, mdb_strerror (rc));
        else {
            if (value == STORE_INVALID)
                value = STORE_INTERNAL;
            s_open_fail (code, message, message_size, value, "%s: %s: %s", dir, step,
                         mdb_strerror (rc));
        }
        return false;
    }
    self->max_key = mdb_env_get_maxkeysize (self->env);
    return true;
}

//  Open (creating it) the meta table. Returns false with the failure filled in.
static bool
s_meta_open (store_t *self, const char *dir, store_code_t *code, char *message,
             size_t message_size)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize (self->env, 0);
        rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    }
    if (rc == 0) {
        rc = mdb_dbi_open (txn, STORE_META_NAME, MDB_CREATE, &self->meta);
        if (rc == 0)
            rc = mdb_txn_commit (txn);
        else
            mdb_txn_abort (txn);
    }
    if (rc) {
        store_code_t value = store_code_of (rc);
        if (value == STORE_INVALID)
            value = STORE_CORRUPT; //  "__meta" exists but is not a table
        s_open_fail (code, message, message_size, value, "%s: cannot open table '%s': %s",
                     dir, STORE_META_NAME, mdb_strerror (rc));
        return false;
    }
    return true;
}

//  Room to write at the start, and data.mdb's descriptor for writing ahead.
static void
s_map_start (store_t *self, const store_config_t *cfg, size_t page)
{
    //  A store reopened with a small map_size but a lot of data starts with
    //  room to write instead of growing on its first commit.
    size_t used = store_used_size (self);
    size_t map = s_map_size (self);
    if (used > map / 2 && map < self->map_size_max) {
        size_t target = used <= SIZE_MAX / 2 ? store_round_up (used * 2, page) : SIZE_MAX;
        if (target > self->map_size_max)
            target = self->map_size_max;
        if (target > map)
            mdb_env_set_mapsize (self->env, target); //  best effort
    }
    //  Durable stores keep data.mdb written ahead (s_extend_ahead)
    self->data_fd = -1;
    if (!cfg->nosync && mdb_env_get_fd (self->env, &self->data_fd) != 0)
        self->data_fd = -1;
    self->data_written = 0;
    self->data_used = 0;
}

store_t *
store_open (const char *dir, const store_config_t *config, store_code_t *code,
            char *message, size_t message_size)
{
    store_code_t dummy_code;
    if (!code)
        code = &dummy_code;
    *code = STORE_OK;
    if (message && message_size > 0)
        message[0] = '\0';
    if (!dir || !*dir) {
        s_open_fail (code, message, message_size, STORE_INVALID,
                     "store_open: empty directory name");
        return NULL;
    }
    if (strlen (dir) > PATH_MAX - 32) {
        s_open_fail (code, message, message_size, STORE_INVALID, "%s: path too long",
                     dir);
        return NULL;
    }
    size_t page = s_page_size ();
    store_config_t cfg = s_config_resolve (config, page);
    //  The directory: present (or created), writable, ours alone
    if (!s_dir_ready (dir, code, message, message_size))
        return NULL;
    store_t *self = s_alloc (dir, &cfg, page, code, message, message_size);
    if (!self)
        return NULL;
    self->lock_fd = s_lock (dir, code, message, message_size);
    if (self->lock_fd < 0 || !s_env_open (self, dir, &cfg, code, message, message_size) ||
        !s_meta_open (self, dir, code, message, message_size)) {
        s_free (self);
        return NULL;
    }
    char why[STORE_ERROR_SIZE];
    store_code_t format = store_format_check (self, why, sizeof why);
    if (format != STORE_OK) {
        s_open_fail (code, message, message_size, format, "%s", why);
        s_free (self);
        return NULL;
    }
    s_map_start (self, &cfg, page);
    snprintf (self->error, sizeof (self->error), "no error");
    return self;
}

//  fsync `path` (a file or a directory). 0 or an errno.
static int
s_sync_path (const char *path)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int err = fsync (fd) == 0 ? 0 : errno;
    close (fd);
    return err;
}

store_code_t
store_backup (store_t *self, const char *dir, uint64_t *size)
{
    assert (self);
    assert (dir);
    char path[PATH_MAX];
    if (!*dir || snprintf (path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path) {
        store_error_set (self, "%s: backup to '%s': bad directory name", self->dir, dir);
        return STORE_INVALID;
    }
    int err = s_mkdir_p (dir);
    if (err) {
        store_error_set (self, "%s: backup to %s: cannot create the directory (%s)",
                         self->dir, dir, strerror (err));
        return s_code_of_errno (err);
    }
    int rc = mdb_env_copy2 (self->env, dir, MDB_CP_COMPACT);
    if (rc) {
        store_error_set (self, "%s: backup to %s: %s", self->dir, dir,
                         rc == EEXIST ? "a data.mdb is there already"
                                      : mdb_strerror (rc));
        return rc == EEXIST ? STORE_EXISTS : store_code_of (rc);
    }
    struct stat st;
    err = s_sync_path (path);
    if (!err)
        err = s_sync_path (dir);
    if (!err && chmod (path, 0640) != 0)
        err = errno;
    if (!err && stat (path, &st) != 0)
        err = errno;
    if (err) {
        store_error_set (self, "%s: backup to %s: %s", self->dir, path, strerror (err));
        return s_code_of_errno (err);
    }
    if (size)
        *size = (uint64_t)st.st_size;
    return STORE_OK;
}

static void
s_free (store_t *self)
{
    if (self->env)
        mdb_env_close (self->env);
    if (self->lock_fd >= 0)
        close (self->lock_fd); //  releases the flock
    if (self->tables) {
        for (size_t i = 0; i < self->ntables; i++) {
            free (self->tables[i]->name);
            free (self->tables[i]);
        }
    }
    free (self->tables);
    free (self->dirty);
    free (self->callbacks);
    free (self->dir);
    free (self);
}

void
store_close (store_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_t *self = *self_p;
        assert (!self->in_write);    //  store_close from inside store_write
        assert (self->readers == 0); //  read transactions still open
        if (self->spare) {
            mdb_txn_abort (self->spare->txn);
            free (self->spare);
        }
        s_free (self);
        *self_p = NULL;
    }
}

const char *
store_last_error (store_t *self)
{
    assert (self);
    return self->error;
}

uint64_t
store_commits (store_t *self)
{
    assert (self);
    return self->commits;
}

uint64_t
store_growths (store_t *self)
{
    assert (self);
    return self->growths;
}
