/*  store: an actor's durable tables in an embedded LMDB environment.

    One store per actor, in its own directory (the daemon gives each actor a
    subdirectory of its data directory), so actors never share a writer lock
    and each one group-commits on its own.

    - Tables are LMDB named databases. Keys are bytes; records are msgpack.
    - Each table has a 64-bit monotonic id sequence (kept in the store's meta
      table, never reused even after deletes). Id keys are 8-byte big-endian,
      so cursors run in creation order.
    - Indexes are tables of (index key -> sorted 8-byte ids) (MDB_DUPSORT +
      MDB_DUPFIXED): "all executions with status X, oldest first".
    - Writes happen only inside store_write (), which runs a function in one
      write transaction, commits, and then runs the callbacks registered
      during it (send acks, publish facts). When the map is full it aborts,
      grows the map (doubling, up to the configured maximum) and runs the
      function again: the function must keep its side effects in callbacks.

    Errors from the outside world (unwritable, locked, corrupt directory, disk
    full) are codes with messages, never asserts.
*/
#ifndef STORE_H_INCLUDED
#define STORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    STORE_OK = 0,
    STORE_NOTFOUND, //  no such key (not an error for lookups)
    STORE_EXISTS,   //  key already present where it must not be
    STORE_MAP_FULL, //  map full and already at the configured maximum
    STORE_ACCESS,   //  directory or files not readable/writable
    STORE_LOCKED,   //  directory in use by another process
    STORE_CORRUPT,  //  files are not a valid LMDB environment / bad record
    STORE_IO,       //  I/O error (disk full, EIO ...)
    STORE_NOMEM,    //  out of memory
    STORE_LIMIT,    //  too many tables / key too long / value too large
    STORE_INVALID,  //  bad argument (empty name ...)
    STORE_ABORTED,  //  the write function asked to abort
    STORE_INTERNAL, //  any other LMDB error (message says which)
    STORE_VERSION,  //  the store's format is newer than this build reads
    STORE_COUNT
} store_code_t;

//  The format version this build writes (store_format_version). Stores of
//  an older version are migrated when opened, newer ones refused.
#define STORE_FORMAT_VERSION 3

typedef struct {
    size_t map_size;      //  initial map size; default 64 MiB
    size_t map_size_max;  //  growth limit; default 64 GiB
    unsigned max_tables;  //  named databases; default 128
    unsigned max_readers; //  default 126
    bool nosync;          //  MDB_NOSYNC: not durable, benchmarks/tests only
} store_config_t;

typedef struct _store_t store_t;
typedef struct _store_table_t store_table_t; //  owned by the store
typedef struct _store_txn_t store_txn_t;     //  a read or write transaction
typedef struct _store_cursor_t store_cursor_t;

//  Run after a successful commit, in registration order.
typedef void (store_commit_fn) (void *arg);
//  The body of a write: returns 0 to commit, non-zero to abort (the value is
//  returned by store_write as STORE_ABORTED). May run more than once (map
//  growth): keep effects outside the transaction in commit callbacks.
typedef int (store_write_fn) (store_txn_t *txn, void *arg);

const char *store_strerror (store_code_t code);

//  ---------------------------------------------------------------------------
//  Environment

//  Open (creating it if missing) the store in directory `dir`. Takes an
//  exclusive lock on dir/attune.lock (a second process gets STORE_LOCKED),
//  runs mdb_reader_check to clear stale readers. `config` may be NULL.
//  Returns NULL on failure with *code and `message` (if given) filled:
//  "/var/lib/attune/executor: directory is not writable (Permission denied)".
store_t *store_open (const char *dir, const store_config_t *config, store_code_t *code,
                     char *message, size_t message_size);

//  Opening checks the store's format version (recorded in its meta table;
//  none recorded is version 0, today's layout): a newer one than
//  STORE_FORMAT_VERSION is refused with STORE_VERSION ("<dir>: store format
//  version 2 is newer than this build of attune reads (format version 1)
//  ..."); an older one is migrated in place, one write transaction per step,
//  so a crash mid-way leaves a store the next open migrates on.

//  The store's format version (STORE_FORMAT_VERSION once opened).
uint64_t store_format_version (store_t *self);

//  Copy the store, hot and consistent (one read snapshot, LMDB's
//  mdb_env_copy2 with MDB_CP_COMPACT: free pages left out), to
//  `dir`/data.mdb. `dir` is created (0750) if missing and must hold no
//  data.mdb yet. Safe while this store is written: the copy is the state
//  of one commit. Returns STORE_OK with the copy's size in *size (may be
//  NULL), or the code with store_last_error () saying what and why.
store_code_t store_backup (store_t *self, const char *dir, uint64_t *size);

//  Close the store; safe on NULL; clears the caller's pointer.
void store_close (store_t **self_p);

//  Open (creating if needed) a table. `index` = true makes it an index table
//  (sorted 8-byte id values per key). Tables must be opened before
//  store_write / store_read_begin are used with them, typically at start
//  (not inside store_write). The same name returns the same table.
//  Returns NULL with the reason in store_last_error ().
store_table_t *store_table (store_t *self, const char *name, bool index);

//  Message describing the last failure on this store (never NULL).
const char *store_last_error (store_t *self);

//  True while commits fail on a full or failing disk (ENOSPC, EIO, EDQUOT):
//  the store said so once in the log and refuses writes (STORE_IO) until
//  its backoff (10 ms doubling to 1 s) lets the next one try; the first
//  write that succeeds ends the spell (logged too). Callers keep what they
//  could not write and try again later; they need not log each failure.
bool store_io_failing (store_t *self);

//  Current map size in bytes, and bytes in use (pages used * page size).
size_t store_map_size (store_t *self);
size_t store_used_size (store_t *self);

//  Number of committed write transactions and of map growths since open.
uint64_t store_commits (store_t *self);
uint64_t store_growths (store_t *self);

//  What a store did and holds, for metrics (store_stats.c): counters kept
//  by the store's own thread, read on demand (no lock, nothing on the
//  commit path but two clock reads and an increment).
#define STORE_COMMIT_BUCKETS 14
//  Upper bounds (seconds) of the commit-time buckets, ascending (+Inf after).
extern const double store_commit_bounds[STORE_COMMIT_BUCKETS];

typedef struct {
    uint64_t commits; //  committed write transactions (store_commits)
    uint64_t growths; //  map growths
    uint64_t commit_buckets[STORE_COMMIT_BUCKETS + 1]; //  commits per bucket, last +Inf
    double commit_seconds;  //  time in LMDB's commit (page writes, fdatasync), summed
    uint64_t map_bytes;     //  the map's size (mdb_env_info)
    uint64_t used_bytes;    //  pages in use, in bytes (last page number * page size)
    uint64_t file_bytes;    //  data.mdb's size on disk (as the file system says)
    uint64_t map_max_bytes; //  how far the map may grow
    uint64_t entries;       //  records in every table (mdb_stat of each)
    unsigned readers;       //  reader slots in use (mdb_env_info)
    unsigned readers_max;
    bool io_failing; //  commits failing on a full or failing disk
} store_stats_t;

//  Fill `out` with the store's counters and sizes. Call from the thread that
//  owns the store (the one that writes it).
void store_stats (store_t *self, store_stats_t *out);

//  ---------------------------------------------------------------------------
//  Transactions

//  Run `fn` in one write transaction, commit, then run the callbacks it
//  registered. Returns STORE_OK, STORE_ABORTED if fn returned non-zero, or the
//  error that stopped the commit (after map growth retries). A write that
//  failed inside fn aborts the transaction even if fn returns 0 (its error is
//  returned). Do not hold read transactions across store_write: the map
//  cannot grow while one is open (STORE_MAP_FULL). Calling store_write from
//  fn or from a commit callback returns STORE_INVALID.
store_code_t store_write (store_t *self, store_write_fn *fn, void *arg);

//  Register a callback to run after this write transaction commits. Dropped
//  if the transaction aborts or is retried. Returns 0 or -1 (no memory).
int store_txn_on_commit (store_txn_t *txn, store_commit_fn *fn, void *arg);

//  Begin a read-only snapshot. Returns NULL on failure (store_last_error).
store_txn_t *store_read_begin (store_t *self);
//  End a read transaction; clears the caller's pointer.
void store_read_end (store_txn_t **txn_p);

//  The store a transaction belongs to.
store_t *store_txn_store (store_txn_t *txn);

//  ---------------------------------------------------------------------------
//  Records (in a read or write transaction as the verb requires)

//  Get: *data points into the map, valid until the transaction ends.
store_code_t store_get (store_txn_t *txn, store_table_t *table, const void *key,
                        size_t key_size, const void **data, size_t *size);
store_code_t store_put (store_txn_t *txn, store_table_t *table, const void *key,
                        size_t key_size, const void *data, size_t size);
//  Put only if absent: STORE_EXISTS otherwise.
store_code_t store_put_new (store_txn_t *txn, store_table_t *table, const void *key,
                            size_t key_size, const void *data, size_t size);
store_code_t store_del (store_txn_t *txn, store_table_t *table, const void *key,
                        size_t key_size);

//  Ids: allocate the next id of the table (1, 2, 3 ...; never reused).
//  Write transactions only (0 in a read transaction).
uint64_t store_next_id (store_txn_t *txn, store_table_t *table);
//  Insert a record under a new id (appended, so cheap). Returns the id via *id.
//  If a higher id key was put by hand, the id skips past it (creation order).
store_code_t store_insert (store_txn_t *txn, store_table_t *table, const void *data,
                           size_t size, uint64_t *id);
//  8-byte big-endian key of an id, and back.
void store_id_key (uint64_t id, uint8_t key[8]);
uint64_t store_key_id (const void *key);
store_code_t store_get_id (store_txn_t *txn, store_table_t *table, uint64_t id,
                           const void **data, size_t *size);
store_code_t store_put_id (store_txn_t *txn, store_table_t *table, uint64_t id,
                           const void *data, size_t size);
store_code_t store_del_id (store_txn_t *txn, store_table_t *table, uint64_t id);

//  Number of records in a table (entries, for an index).
uint64_t store_count (store_txn_t *txn, store_table_t *table);

//  ---------------------------------------------------------------------------
//  Secondary indexes (tables opened with index = true)

//  Adding an (key, id) pair already present is a no-op (STORE_OK); deleting
//  one that is absent returns STORE_NOTFOUND.
store_code_t store_index_add (store_txn_t *txn, store_table_t *index, const void *key,
                              size_t key_size, uint64_t id);
store_code_t store_index_del (store_txn_t *txn, store_table_t *index, const void *key,
                              size_t key_size, uint64_t id);
//  Number of ids under `key`.
uint64_t store_index_count (store_txn_t *txn, store_table_t *index, const void *key,
                            size_t key_size);

//  ---------------------------------------------------------------------------
//  Cursors: iterate a table in key order, or the ids under one index key.

//  Cursor over a whole table. NULL on failure. A cursor is closed when its
//  transaction ends; after that it only accepts store_cursor_destroy.
store_cursor_t *store_cursor_new (store_txn_t *txn, store_table_t *table);
//  Cursor over the ids stored under `key` in an index.
store_cursor_t *store_cursor_new_index (store_txn_t *txn, store_table_t *index,
                                        const void *key, size_t key_size);
void store_cursor_destroy (store_cursor_t **self_p);

//  Position the cursor. seek goes to the first key >= `key`. For index
//  cursors the "key" is the id (8 bytes) and data is NULL/0. next on a new
//  cursor (or after walking off the front) is first; prev on a new cursor
//  (or after walking off the end) is last.
//  Return STORE_OK, STORE_NOTFOUND at the end, or an error.
store_code_t store_cursor_first (store_cursor_t *self);
store_code_t store_cursor_last (store_cursor_t *self);
store_code_t store_cursor_next (store_cursor_t *self);
store_code_t store_cursor_prev (store_cursor_t *self);
store_code_t store_cursor_seek (store_cursor_t *self, const void *key, size_t key_size);
//  Current entry; pointers valid until the cursor moves or the txn ends.
const void *store_cursor_key (store_cursor_t *self, size_t *size);
const void *store_cursor_data (store_cursor_t *self, size_t *size);
//  Current key (table cursor) or value (index cursor) as an id.
uint64_t store_cursor_id (store_cursor_t *self);
//  Delete the current entry (write transactions only).
store_code_t store_cursor_del (store_cursor_t *self);

#ifdef __cplusplus
}
#endif

#endif
