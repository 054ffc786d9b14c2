/*  store: an actor's durable tables in an embedded LMDB environment.

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

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
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

#define STORE_META_NAME        "__meta"
#define STORE_LOCK_NAME        "attune.lock"
#define STORE_DEFAULT_MAP      ((size_t)64 << 20)
#define STORE_DEFAULT_MAP_MAX  ((size_t)64 << 30)
#define STORE_DEFAULT_TABLES   128
#define STORE_DEFAULT_READERS  126
#define STORE_TABLE_NAME_MAX   200
#define STORE_ERROR_SIZE       512
#define STORE_RESIZED_ATTEMPTS 3

//  Cursor states
typedef enum {
    CURSOR_UNSET,   //  not positioned yet: next = first, prev = last
    CURSOR_AT,      //  on an entry
    CURSOR_DELETED, //  the entry under the cursor was deleted
    CURSOR_END,     //  walked past the last entry: prev = last
    CURSOR_BEGIN    //  walked before the first entry: next = first
} cursor_state_t;

struct _store_table_t {
    store_t *store;
    char *name;
    MDB_dbi dbi;
    bool index;
    bool dirty;         //  listed in store->dirty
    uint64_t committed; //  last id committed to meta
    uint64_t pending;   //  last id handed out in the running write txn
};

struct _store_txn_t {
    store_t *store;
    MDB_txn *txn;
    bool write;
    bool map_full;           //  a write hit MDB_MAP_FULL: grow and retry
    store_code_t status;     //  first failure of a write operation
    store_cursor_t *cursors; //  open cursors, closed when the txn ends
};

struct _store_cursor_t {
    store_txn_t *txn; //  NULL once the transaction ended
    store_table_t *table;
    MDB_cursor *cursor;
    cursor_state_t state;
    bool by_index; //  iterates the ids under one index key
    MDB_val ikey;  //  that key (our copy)
    MDB_val key;   //  current entry
    MDB_val data;
    store_cursor_t *prev, *next; //  in txn->cursors
};

typedef struct {
    store_commit_fn *fn;
    void *arg;
} s_callback_t;

//  A spell of failing commits (ENOSPC, EIO, EDQUOT): said once when it
//  starts and once when it ends; meanwhile writes are tried at most once a
//  backoff interval (10 ms doubling to 1 s), so callers that retry on every
//  turn of their loop cost nothing while the disk is full.
typedef struct {
    bool failing;
    uint64_t failures; //  writes refused or failed in this spell
    int64_t since;     //  monotonic ms of the first failure
    int64_t next_try;  //  monotonic ms before which writes are refused
    int backoff_ms;
} s_io_state_t;

#define S_IO_BACKOFF_MIN 10
#define S_IO_BACKOFF_MAX 1000

struct _store_t {
    char *dir;
    MDB_env *env;
    int lock_fd;
    MDB_dbi meta;
    size_t page_size;
    size_t map_size_max;
    unsigned max_tables;
    int max_key;

    store_table_t **tables; //  max_tables slots
    size_t ntables;
    store_table_t **dirty; //  tables whose counter moved in this write
    size_t ndirty;

    store_txn_t wtxn; //  the write transaction
    bool in_write;    //  store_write is running
    s_callback_t *callbacks;
    size_t ncallbacks;
    size_t callbacks_max;

    store_txn_t *spare; //  a reset read txn kept for reuse
    int readers;        //  read txns open
    bool broken;        //  the map could not be remapped: unusable

    uint64_t commits;
    uint64_t growths;
    int data_fd;           //  data.mdb (LMDB's descriptor), -1: not extended ahead
    uint64_t data_written; //  bytes of data.mdb known to exist (zeros or pages)
    uint64_t data_used;    //  bytes LMDB used after the last commit
    int64_t ahead_retry;   //  monotonic ms: write ahead again (after a full disk)
    s_io_state_t io;       //  commits failing on a full or failing disk
    char error[STORE_ERROR_SIZE];
};

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

static store_code_t
s_code_of (int rc)
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

static void s_error (store_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_error (store_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
}

//  Record a failed LMDB call made in a transaction; returns its code.
//  Failures of write operations (anything but not-found / exists) mark a
//  write transaction failed, so it is never committed.
static store_code_t
s_txn_fail (store_txn_t *txn, int rc, const char *op, store_table_t *table,
            size_t key_size, bool is_write)
{
    store_t *self = txn->store;
    store_code_t code = s_code_of (rc);
    if (rc == MDB_BAD_TXN && txn->write && txn->status != STORE_OK)
        return txn->status; //  LMDB refuses a txn that already failed
    if (code == STORE_NOTFOUND || code == STORE_EXISTS)
        return code;

    const char *name = table ? table->name : STORE_META_NAME;
    if (rc == MDB_BAD_VALSIZE)
        s_error (self,
                 "%s: %s in table '%s': key of %zu bytes is empty or too long "
                 "(max %d), or value too large for an index",
                 self->dir, op, name, key_size, self->max_key);
    else if (rc == MDB_MAP_FULL)
        s_error (self, "%s: %s in table '%s': map full (%s)", self->dir, op, name,
                 mdb_strerror (rc));
    else
        s_error (self, "%s: %s in table '%s': %s", self->dir, op, name,
                 mdb_strerror (rc));

    if (txn->write && is_write) {
        if (rc == MDB_MAP_FULL)
            txn->map_full = true;
        if (txn->status == STORE_OK)
            txn->status = code;
    }
    return code;
}

static store_code_t
s_readonly (store_txn_t *txn, const char *op, store_table_t *table)
{
    s_error (txn->store, "%s: %s in table '%s': read-only transaction", txn->store->dir,
             op, table->name);
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

static inline void
s_mark_dirty (store_t *self, store_table_t *table)
{
    if (!table->dirty) {
        table->dirty = true;
        self->dirty[self->ndirty++] = table;
    }
}

//  Roll the pending counters back (abort, retry) or forward (commit).
static void
s_counters_end (store_t *self, bool committed)
{
    for (size_t i = 0; i < self->ndirty; i++) {
        store_table_t *table = self->dirty[i];
        if (committed)
            table->committed = table->pending;
        else
            table->pending = table->committed;
        table->dirty = false;
    }
    self->ndirty = 0;
}

//  Write the counters that moved to meta, once per transaction.
static void
s_counters_save (store_txn_t *txn)
{
    store_t *self = txn->store;
    for (size_t i = 0; i < self->ndirty; i++) {
        store_table_t *table = self->dirty[i];
        if (table->pending == table->committed)
            continue;
        uint8_t value[8];
        store_id_key (table->pending, value);
        MDB_val k = {strlen (table->name), table->name};
        MDB_val v = {sizeof (value), value};
        int rc = mdb_put (txn->txn, self->meta, &k, &v, 0);
        if (rc) {
            s_txn_fail (txn, rc, "saving the id counter", table, k.mv_size, true);
            return;
        }
    }
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
s_round_up (size_t size, size_t page)
{
    if (size > SIZE_MAX - page)
        return size / page * page;
    return (size + page - 1) / page * page;
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

    store_config_t cfg = {0};
    if (config)
        cfg = *config;
    size_t page = (size_t)sysconf (_SC_PAGESIZE);
    if (page == 0 || page > (1 << 16))
        page = 4096;
    if (cfg.map_size == 0)
        cfg.map_size = STORE_DEFAULT_MAP;
    if (cfg.map_size_max == 0)
        cfg.map_size_max = STORE_DEFAULT_MAP_MAX;
    if (cfg.max_tables == 0)
        cfg.max_tables = STORE_DEFAULT_TABLES;
    if (cfg.max_readers == 0)
        cfg.max_readers = STORE_DEFAULT_READERS;
    cfg.map_size = s_round_up (cfg.map_size, page);
    cfg.map_size_max = cfg.map_size_max / page * page;
    if (cfg.map_size_max < cfg.map_size)
        cfg.map_size_max = cfg.map_size;

    //  The directory: present (or created), writable, ours alone
    int err = s_mkdir_p (dir);
    if (err) {
        s_open_fail (code, message, message_size, s_code_of_errno (err),
                     "%s: cannot create directory (%s)", dir, strerror (err));
        return NULL;
    }
    if (access (dir, R_OK | W_OK | X_OK) != 0) {
        err = errno;
        s_open_fail (code, message, message_size, s_code_of_errno (err),
                     "%s: directory is not writable (%s)", dir, strerror (err));
        return NULL;
    }

    store_t *self = (store_t *)calloc (1, sizeof (store_t));
    if (!self) {
        s_open_fail (code, message, message_size, STORE_NOMEM, "%s: out of memory", dir);
        return NULL;
    }
    self->lock_fd = -1;
    self->page_size = page;
    self->map_size_max = cfg.map_size_max;
    self->max_tables = cfg.max_tables;
    self->dir = strdup (dir);
    self->tables = (store_table_t **)calloc (cfg.max_tables, sizeof (store_table_t *));
    self->dirty = (store_table_t **)calloc (cfg.max_tables, sizeof (store_table_t *));
    self->callbacks_max = 16;
    self->callbacks = (s_callback_t *)calloc (self->callbacks_max, sizeof (s_callback_t));
    if (!self->dir || !self->tables || !self->dirty || !self->callbacks) {
        s_open_fail (code, message, message_size, STORE_NOMEM, "%s: out of memory", dir);
        s_free (self);
        return NULL;
    }
    self->wtxn.store = self;
    self->wtxn.write = true;

    self->lock_fd = s_lock (dir, code, message, message_size);
    if (self->lock_fd < 0) {
        s_free (self);
        return NULL;
    }

    //  The environment
    int rc = mdb_env_create (&self->env);
    const char *step = "mdb_env_create";
    if (rc == 0) {
        step = "mdb_env_set_maxdbs";
        rc = mdb_env_set_maxdbs (self->env, cfg.max_tables + 1);
    }
    if (rc == 0) {
        step = "mdb_env_set_maxreaders";
        rc = mdb_env_set_maxreaders (self->env, cfg.max_readers);
    }
    if (rc == 0) {
        step = "mdb_env_set_mapsize";
        rc = mdb_env_set_mapsize (self->env, cfg.map_size);
    }
    if (rc == 0) {
        step = "mdb_env_open";
        unsigned flags = MDB_NOTLS | (cfg.nosync ? MDB_NOSYNC : 0);
        rc = mdb_env_open (self->env, dir, flags, 0640);
    }
    if (rc == 0) {
        step = "mdb_reader_check";
        int dead = 0;
        rc = mdb_reader_check (self->env, &dead);
    }
    if (rc) {
        store_code_t value = s_code_of (rc);
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
        s_free (self);
        return NULL;
    }
    self->max_key = mdb_env_get_maxkeysize (self->env);

    //  The meta table
    MDB_txn *txn = NULL;
    rc = mdb_txn_begin (self->env, NULL, 0, &txn);
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
        store_code_t value = s_code_of (rc);
        if (value == STORE_INVALID)
            value = STORE_CORRUPT; //  "__meta" exists but is not a table
        s_open_fail (code, message, message_size, value, "%s: cannot open table '%s': %s",
                     dir, STORE_META_NAME, mdb_strerror (rc));
        s_free (self);
        return NULL;
    }

    //  A store reopened with a small map_size but a lot of data starts with
    //  room to write instead of growing on its first commit.
    size_t used = store_used_size (self);
    size_t map = s_map_size (self);
    if (used > map / 2 && map < self->map_size_max) {
        size_t target = used <= SIZE_MAX / 2 ? s_round_up (used * 2, page) : SIZE_MAX;
        if (target > self->map_size_max)
            target = self->map_size_max;
        if (target > map)
            mdb_env_set_mapsize (self->env, target); //  best effort
    }
    //  Durable stores keep data.mdb written ahead (s_extend_ahead)
    self->data_fd = -1;
    if (!cfg.nosync && mdb_env_get_fd (self->env, &self->data_fd) != 0)
        self->data_fd = -1;
    self->data_written = 0;
    self->data_used = 0;
    snprintf (self->error, sizeof (self->error), "no error");
    return self;
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

//  ---------------------------------------------------------------------------
//  Transactions

//  Close the cursors of a transaction that is ending.
static void
s_cursors_detach (store_txn_t *txn)
{
    store_cursor_t *cursor = txn->cursors;
    while (cursor) {
        store_cursor_t *next = cursor->next;
        mdb_cursor_close (cursor->cursor);
        cursor->cursor = NULL;
        cursor->txn = NULL;
        cursor->prev = cursor->next = NULL;
        cursor->state = CURSOR_UNSET;
        cursor = next;
    }
    txn->cursors = NULL;
}

static void
s_write_abort (store_t *self)
{
    store_txn_t *txn = &self->wtxn;
    s_cursors_detach (txn);
    if (txn->txn)
        mdb_txn_abort (txn->txn);
    txn->txn = NULL;
    s_counters_end (self, false);
    self->ncallbacks = 0;
}

//  Double the map, up to map_size_max. No transaction may be open.
static store_code_t
s_grow (store_t *self)
{
    size_t map = s_map_size (self);
    if (map >= self->map_size_max) {
        s_error (self,
                 "%s: map full at %zu bytes, the configured maximum (map_size_max); "
                 "nothing was committed",
                 self->dir, map);
        return STORE_MAP_FULL;
    }
    if (self->readers > 0) {
        s_error (self,
                 "%s: map full at %zu bytes and cannot grow while %d read "
                 "transaction(s) are open; nothing was committed",
                 self->dir, map, self->readers);
        return STORE_MAP_FULL;
    }
    size_t target = map <= SIZE_MAX / 2 ? map * 2 : SIZE_MAX;
    if (target > self->map_size_max)
        target = self->map_size_max;
    target = s_round_up (target, self->page_size);
    //  A reset read txn holds no snapshot: it may stay across a remap.
    int rc = mdb_env_set_mapsize (self->env, target);
    if (rc) {
        if (rc != EINVAL)
            self->broken = true; //  unmapped and could not map again
        s_error (self, "%s: cannot grow the map to %zu bytes: %s", self->dir, target,
                 mdb_strerror (rc));
        return s_code_of (rc) == STORE_INVALID ? STORE_INTERNAL : s_code_of (rc);
    }
    self->growths++;
    return STORE_OK;
}

//  Begin an LMDB transaction, following a map grown by another process.
static int
s_txn_begin (store_t *self, unsigned flags, MDB_txn **txn)
{
    int rc = 0;
    for (int attempt = 0; attempt < STORE_RESIZED_ATTEMPTS; attempt++) {
        rc = mdb_txn_begin (self->env, NULL, flags, txn);
        if (rc != MDB_MAP_RESIZED)
            break;
        rc = mdb_env_set_mapsize (self->env, 0);
        if (rc)
            break;
    }
    return rc;
}

//  Keep data.mdb written (with zeros) ahead of the pages LMDB uses, so a
//  commit overwrites blocks that exist instead of allocating them and
//  growing the file: its fdatasync then has no file system metadata to
//  journal. Only bytes past the real end of the file are written, so no page
//  LMDB wrote is touched; the zeros become durable with the next commit's
//  sync (LMDB never reads pages past its last committed one).
//
//  The zeros go out in steps, one after a commit that left less than the
//  room ahead: writing them costs the actor's thread about 15 us a page and
//  the disk their transfer, so a step of 16 pages (or what the last commit
//  used, when more) keeps every commit's neighbours fast where 128 pages at
//  once held up the next message by up to 2 ms. The room is 512 KiB or four
//  commits like the last, so bulk batches stay inside written blocks too.
#define S_AHEAD_ROOM ((uint64_t)512 << 10) //  keep at least this much ahead
#define S_AHEAD_STEP ((uint64_t)64 << 10)  //  in steps of at least this much
#define S_AHEAD_MAX  ((uint64_t)8 << 20)   //  and never more than this

static void
s_extend_ahead (store_t *self)
{
    if (self->data_fd < 0)
        return;
    MDB_envinfo info;
    mdb_env_info (self->env, &info);
    uint64_t used = ((uint64_t)info.me_last_pgno + 1) * self->page_size;
    uint64_t growth =
        used > self->data_used && self->data_used ? used - self->data_used : 0;
    self->data_used = used;
    uint64_t room = growth * 4 > S_AHEAD_ROOM ? growth * 4 : S_AHEAD_ROOM;
    if (room > S_AHEAD_MAX)
        room = S_AHEAD_MAX;
    if (used + room <= self->data_written || zclock_mono () < self->ahead_retry)
        return;
    struct stat st;
    if (fstat (self->data_fd, &st) != 0) {
        self->data_fd = -1; //  best effort only: LMDB grows the file itself
        return;
    }
    uint64_t from = (uint64_t)st.st_size;
    if (used + room <= from) {
        self->data_written = from; //  LMDB or an earlier run grew it
        return;
    }
    uint64_t deficit = used + room - from;
    uint64_t size = deficit > room / 2      ? deficit
                    : growth > S_AHEAD_STEP ? growth
                                            : S_AHEAD_STEP;
    uint64_t target = (from + size + S_AHEAD_STEP - 1) / S_AHEAD_STEP * S_AHEAD_STEP;
    static const char zeros[65536];
    for (uint64_t at = from; at < target;) {
        size_t n = target - at < sizeof zeros ? (size_t)(target - at) : sizeof zeros;
        ssize_t rc = pwrite (self->data_fd, zeros, n, (off_t)at);
        if (rc <= 0) {
            //  Disk full: LMDB grows the file itself meanwhile; tried again
            //  in a second (what was written stays; st_size says how far)
            self->ahead_retry = zclock_mono () + 1000;
            return;
        }
        at += (uint64_t)rc;
    }
    //  Start writing them back now, not in the next commit's sync
    sync_file_range (self->data_fd, (off_t)from, (off_t)(target - from),
                     SYNC_FILE_RANGE_WRITE);
    self->data_written = target;
}

//  Account a write's outcome in the failing spell (s_io_state_t).
static void
s_io_note (store_t *self, store_code_t result)
{
    int64_t now = zclock_mono ();
    if (result == STORE_IO) {
        if (!self->io.failing) {
            self->io = (s_io_state_t){
                .failing = true, .since = now, .backoff_ms = S_IO_BACKOFF_MIN};
            zsys_error ("store: %s; writes are retried with backoff until they "
                        "succeed",
                        self->error);
        } else if (self->io.backoff_ms < S_IO_BACKOFF_MAX)
            self->io.backoff_ms = self->io.backoff_ms * 2 > S_IO_BACKOFF_MAX
                                      ? S_IO_BACKOFF_MAX
                                      : self->io.backoff_ms * 2;
        self->io.failures++;
        self->io.next_try = now + self->io.backoff_ms;
    } else if (result == STORE_OK && self->io.failing) {
        zsys_info ("store %s: writes succeed again after %.1f s (%" PRIu64
                   " refused or failed)",
                   self->dir, (double)(now - self->io.since) / 1000.0, self->io.failures);
        self->io = (s_io_state_t){0};
    }
}

//  Inside a failing spell's backoff: the write is refused (message set).
static bool
s_io_refused (store_t *self)
{
    if (!self->io.failing || zclock_mono () >= self->io.next_try)
        return false;
    self->io.failures++;
    s_error (self,
             "%s: commits failing for %.1f s (disk full or failing): retried in at "
             "most %d ms",
             self->dir, (double)(zclock_mono () - self->io.since) / 1000.0,
             self->io.backoff_ms);
    return true;
}

bool
store_io_failing (store_t *self)
{
    assert (self);
    return self->io.failing;
}

static store_code_t
s_write_run (store_t *self, store_write_fn *fn, void *arg, bool count)
{
    if (self->in_write) {
        s_error (self, "%s: store_write called from inside store_write", self->dir);
        return STORE_INVALID;
    }
    if (self->broken) {
        s_error (self, "%s: store unusable after a failed map resize", self->dir);
        return STORE_INTERNAL;
    }
    if (s_io_refused (self))
        return STORE_IO;
    self->in_write = true;
    store_txn_t *txn = &self->wtxn;
    store_code_t result;
    while (true) {
        txn->status = STORE_OK;
        txn->map_full = false;
        self->ncallbacks = 0;
        int rc = s_txn_begin (self, 0, &txn->txn);
        if (rc) {
            txn->txn = NULL;
            s_error (self, "%s: cannot begin a write transaction: %s", self->dir,
                     mdb_strerror (rc));
            result = s_code_of (rc);
            break;
        }
        int fn_rc = fn (txn, arg);
        if (!txn->map_full && fn_rc == 0 && txn->status == STORE_OK)
            s_counters_save (txn);
        if (txn->map_full) {
            s_write_abort (self);
            result = s_grow (self);
            if (result == STORE_OK)
                continue;
            break;
        }
        if (fn_rc != 0) {
            if (txn->status != STORE_OK) {
                char cause[STORE_ERROR_SIZE];
                memcpy (cause, self->error, sizeof (cause));
                s_error (self,
                         "store_write: aborted by the write function (%d) after: %s",
                         fn_rc, cause);
            } else
                s_error (self, "%s: store_write: aborted by the write function (%d)",
                         self->dir, fn_rc);
            s_write_abort (self);
            result = STORE_ABORTED;
            break;
        }
        if (txn->status != STORE_OK) {
            //  The function carried on after a failed write: never commit
            //  half a batch. The failing call left its message.
            result = txn->status;
            s_write_abort (self);
            break;
        }
        s_cursors_detach (txn);
        rc = mdb_txn_commit (txn->txn);
        txn->txn = NULL;
        if (rc == MDB_MAP_FULL) {
            s_write_abort (self);
            result = s_grow (self);
            if (result == STORE_OK)
                continue;
            break;
        }
        if (rc) {
            s_error (self, "%s: commit failed: %s", self->dir, mdb_strerror (rc));
            s_write_abort (self);
            result = s_code_of (rc);
            break;
        }
        s_counters_end (self, true);
        if (count)
            self->commits++;
        for (size_t i = 0; i < self->ncallbacks; i++)
            self->callbacks[i].fn (self->callbacks[i].arg);
        self->ncallbacks = 0;
        s_extend_ahead (self); //  after the acks and facts: off their path
        result = STORE_OK;
        break;
    }
    self->in_write = false;
    s_io_note (self, result);
    return result;
}

store_code_t
store_write (store_t *self, store_write_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    return s_write_run (self, fn, arg, true);
}

int
store_txn_on_commit (store_txn_t *txn, store_commit_fn *fn, void *arg)
{
    assert (txn);
    assert (fn);
    store_t *self = txn->store;
    if (!txn->write) {
        s_error (self, "%s: store_txn_on_commit on a read-only transaction", self->dir);
        return -1;
    }
    if (self->ncallbacks == self->callbacks_max) {
        size_t max = self->callbacks_max * 2;
        s_callback_t *callbacks =
            (s_callback_t *)realloc (self->callbacks, max * sizeof (s_callback_t));
        if (!callbacks) {
            s_error (self, "%s: store_txn_on_commit: out of memory", self->dir);
            return -1;
        }
        self->callbacks = callbacks;
        self->callbacks_max = max;
    }
    self->callbacks[self->ncallbacks].fn = fn;
    self->callbacks[self->ncallbacks].arg = arg;
    self->ncallbacks++;
    return 0;
}

store_txn_t *
store_read_begin (store_t *self)
{
    assert (self);
    if (self->broken) {
        s_error (self, "%s: store unusable after a failed map resize", self->dir);
        return NULL;
    }
    store_txn_t *txn = self->spare;
    int rc;
    if (txn) {
        self->spare = NULL;
        rc = mdb_txn_renew (txn->txn);
        if (rc == MDB_MAP_RESIZED && !self->in_write && self->readers == 0 &&
            mdb_env_set_mapsize (self->env, 0) == 0)
            rc = mdb_txn_renew (txn->txn);
        if (rc) {
            mdb_txn_abort (txn->txn);
            free (txn);
        }
    } else {
        txn = (store_txn_t *)calloc (1, sizeof (store_txn_t));
        if (!txn) {
            s_error (self, "%s: store_read_begin: out of memory", self->dir);
            return NULL;
        }
        rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn->txn);
        if (rc == MDB_MAP_RESIZED && !self->in_write && self->readers == 0 &&
            mdb_env_set_mapsize (self->env, 0) == 0)
            rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn->txn);
        if (rc)
            free (txn);
    }
    if (rc) {
        s_error (self, "%s: cannot begin a read transaction: %s", self->dir,
                 mdb_strerror (rc));
        return NULL;
    }
    txn->store = self;
    txn->write = false;
    txn->status = STORE_OK;
    txn->map_full = false;
    txn->cursors = NULL;
    self->readers++;
    return txn;
}

void
store_read_end (store_txn_t **txn_p)
{
    assert (txn_p);
    if (*txn_p) {
        store_txn_t *txn = *txn_p;
        assert (!txn->write); //  write transactions end in store_write
        store_t *self = txn->store;
        s_cursors_detach (txn);
        if (self->spare == NULL) {
            mdb_txn_reset (txn->txn);
            self->spare = txn;
        } else {
            mdb_txn_abort (txn->txn);
            free (txn);
        }
        self->readers--;
        *txn_p = NULL;
    }
}

store_t *
store_txn_store (store_txn_t *txn)
{
    assert (txn);
    return txn->store;
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
        s_error (self, "%s: table name '%s' is empty or longer than %d bytes", self->dir,
                 name, STORE_TABLE_NAME_MAX);
        return NULL;
    }
    if (strcmp (name, STORE_META_NAME) == 0) {
        s_error (self, "%s: table name '%s' is reserved", self->dir, name);
        return NULL;
    }
    for (size_t i = 0; i < self->ntables; i++) {
        store_table_t *table = self->tables[i];
        if (strcmp (table->name, name) == 0) {
            if (table->index != index) {
                s_error (self, "%s: table '%s' is already open as %s", self->dir, name,
                         table->index ? "an index" : "a plain table");
                return NULL;
            }
            return table;
        }
    }
    if (self->in_write) {
        s_error (self, "%s: cannot open table '%s' inside store_write", self->dir, name);
        return NULL;
    }
    if (self->ntables == self->max_tables) {
        s_error (self, "%s: cannot open table '%s': too many tables (max %u)", self->dir,
                 name, self->max_tables);
        return NULL;
    }
    store_table_t *table = (store_table_t *)calloc (1, sizeof (store_table_t));
    char *copy = strdup (name);
    if (!table || !copy) {
        free (table);
        free (copy);
        s_error (self, "%s: cannot open table '%s': out of memory", self->dir, name);
        return NULL;
    }
    s_table_open_t ctx = {name, index, 0, 0, 0};
    store_code_t code = s_write_run (self, s_table_open, &ctx, false);
    if (code != STORE_OK) {
        if (ctx.rc && ctx.rc != MDB_MAP_FULL)
            s_error (self, "%s: cannot open table '%s': %s", self->dir, name,
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
        return s_txn_fail (txn, rc, "get", table, key_size, false);
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
        return s_readonly (txn, op, table);
    if (txn->status != STORE_OK)
        return txn->status;
    MDB_val k = {key_size, (void *)key}, v = {size, (void *)data};
    int rc = mdb_put (txn->txn, table->dbi, &k, &v, flags);
    if (rc)
        return s_txn_fail (txn, rc, op, table, key_size, true);
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
        return s_readonly (txn, "del", table);
    if (txn->status != STORE_OK)
        return txn->status;
    MDB_val k = {key_size, (void *)key};
    int rc = mdb_del (txn->txn, table->dbi, &k, NULL);
    if (rc)
        return s_txn_fail (txn, rc, "del", table, key_size, true);
    return STORE_OK;
}

uint64_t
store_next_id (store_txn_t *txn, store_table_t *table)
{
    assert (txn);
    assert (table);
    if (!txn->write) {
        s_readonly (txn, "next_id", table);
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
        return s_readonly (txn, "insert", table);
    if (txn->status != STORE_OK)
        return txn->status;
    if (table->index) {
        s_error (txn->store, "%s: insert in table '%s': an index takes store_index_add",
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
        return s_txn_fail (txn, rc, "insert", table, 8, true);
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
        s_txn_fail (txn, rc, "count", table, 0, false);
        return 0;
    }
    return st.ms_entries;
}

//  ---------------------------------------------------------------------------
//  Indexes

static store_code_t
s_not_index (store_txn_t *txn, store_table_t *table, const char *op)
{
    s_error (txn->store, "%s: %s: table '%s' is not an index", txn->store->dir, op,
             table->name);
    return STORE_INVALID;
}

store_code_t
store_index_add (store_txn_t *txn, store_table_t *index, const void *key, size_t key_size,
                 uint64_t id)
{
    assert (txn);
    assert (index);
    if (!index->index)
        return s_not_index (txn, index, "index_add");
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
        return s_not_index (txn, index, "index_del");
    if (!txn->write)
        return s_readonly (txn, "index_del", index);
    if (txn->status != STORE_OK)
        return txn->status;
    uint8_t value[8];
    store_id_key (id, value);
    MDB_val k = {key_size, (void *)key}, v = {sizeof (value), value};
    int rc = mdb_del (txn->txn, index->dbi, &k, &v);
    if (rc)
        return s_txn_fail (txn, rc, "index_del", index, key_size, true);
    return STORE_OK;
}

uint64_t
store_index_count (store_txn_t *txn, store_table_t *index, const void *key,
                   size_t key_size)
{
    assert (txn);
    assert (index);
    if (!index->index) {
        s_not_index (txn, index, "index_count");
        return 0;
    }
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn->txn, index->dbi, &cursor);
    if (rc) {
        s_txn_fail (txn, rc, "index_count", index, key_size, false);
        return 0;
    }
    MDB_val k = {key_size, (void *)key}, v;
    size_t count = 0;
    rc = mdb_cursor_get (cursor, &k, &v, MDB_SET);
    if (rc == 0)
        rc = mdb_cursor_count (cursor, &count);
    mdb_cursor_close (cursor);
    if (rc) {
        s_txn_fail (txn, rc, "index_count", index, key_size, false);
        return 0;
    }
    return count;
}

//  ---------------------------------------------------------------------------
//  Cursors

static store_cursor_t *
s_cursor_new (store_txn_t *txn, store_table_t *table, const void *key, size_t key_size)
{
    store_t *self = txn->store;
    store_cursor_t *cursor =
        (store_cursor_t *)calloc (1, sizeof (store_cursor_t) + key_size);
    if (!cursor) {
        s_error (self, "%s: cursor on table '%s': out of memory", self->dir, table->name);
        return NULL;
    }
    int rc = mdb_cursor_open (txn->txn, table->dbi, &cursor->cursor);
    if (rc) {
        s_txn_fail (txn, rc, "cursor", table, key_size, false);
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
        s_not_index (txn, index, "cursor_new_index");
        return NULL;
    }
    if (key_size == 0 || key_size > (size_t)self->max_key) {
        s_error (self, "%s: cursor on index '%s': key of %zu bytes is empty or too long",
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
        return s_txn_fail (self->txn, rc, "cursor", self->table, 0, false);
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
                s_error (self->txn->store,
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
        return s_readonly (txn, "cursor_del", self->table);
    if (txn->status != STORE_OK)
        return txn->status;
    if (self->state != CURSOR_AT)
        return STORE_NOTFOUND;
    int rc = mdb_cursor_del (self->cursor, 0);
    if (rc)
        return s_txn_fail (txn, rc, "cursor_del", self->table, self->key.mv_size, true);
    self->state = CURSOR_DELETED;
    self->key.mv_size = self->data.mv_size = 0;
    self->key.mv_data = self->data.mv_data = NULL;
    return STORE_OK;
}
