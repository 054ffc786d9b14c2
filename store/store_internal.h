/*  store_internal: the store's types and helpers shared by its sources
    (store.c: environment and errors, store_txn.c: transactions and the
    write runner, store_table.c: tables, records and indexes,
    store_cursor.c: cursors). Not a public API: nothing outside store/
    includes this file.
*/
#ifndef STORE_INTERNAL_H_INCLUDED
#define STORE_INTERNAL_H_INCLUDED

#include "store/store.h"

#include <lmdb.h>
#include <stdint.h>

#define STORE_META_NAME        "__meta"
#define STORE_FORMAT_KEY       "__format" //  in meta: the format version
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
} store_callback_t;

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
} store_io_state_t;

//  Time spent in LMDB's commit (page writes and fdatasync) of the counted
//  commits: a fixed-bucket histogram (store_commit_bounds), read on demand
//  by store_stats in the owner's thread: plain counters, no lock.
typedef struct {
    uint64_t buckets[STORE_COMMIT_BUCKETS + 1]; //  per bucket; the last: +Inf
    uint64_t nanos;                             //  sum
} store_commit_time_t;

//  Add one commit of `nanos` to the histogram (store_stats.c).
void store_commit_time_add (store_commit_time_t *self, uint64_t nanos);

#define STORE_IO_BACKOFF_MIN 10
#define STORE_IO_BACKOFF_MAX 1000

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
    store_callback_t *callbacks;
    size_t ncallbacks;
    size_t callbacks_max;

    store_txn_t *spare; //  a reset read txn kept for reuse
    int readers;        //  read txns open
    bool broken;        //  the map could not be remapped: unusable

    uint64_t commits;
    uint64_t growths;
    store_commit_time_t commit_time; //  time in mdb_txn_commit (store_stats.c)
    int data_fd;           //  data.mdb (LMDB's descriptor), -1: not extended ahead
    uint64_t data_written; //  bytes of data.mdb known to exist (zeros or pages)
    uint64_t data_used;    //  bytes LMDB used after the last commit
    int64_t ahead_retry;   //  monotonic ms: write ahead again (after a full disk)
    store_io_state_t io;   //  commits failing on a full or failing disk
    uint64_t format;       //  format version (store_format.c)
    char error[STORE_ERROR_SIZE];
};

//  Map an LMDB return code (or an errno LMDB passed on) to a store code.
store_code_t store_code_of (int rc);

//  Set the store's last error message (store_last_error), printf-style.
void store_error_set (store_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Record a failed LMDB call made in a transaction; returns its code.
//  Failures of write operations (anything but not-found / exists) mark a
//  write transaction failed, so it is never committed.
store_code_t store_txn_fail (store_txn_t *txn, int rc, const char *op,
                             store_table_t *table, size_t key_size, bool is_write);

//  Say that `op` on `table` needs a write transaction; returns STORE_INVALID.
store_code_t store_txn_readonly (store_txn_t *txn, const char *op, store_table_t *table);

//  Say that `op` needs an index and `table` is not one; returns STORE_INVALID.
store_code_t store_table_not_index (store_txn_t *txn, store_table_t *table,
                                    const char *op);

//  Run `fn` in the store's write transaction (store_write), counting the
//  commit in store_commits () when `count` is true.
store_code_t store_write_run (store_t *self, store_write_fn *fn, void *arg, bool count);

//  Check the format version of a newly opened store: refuse a newer one
//  (STORE_VERSION), migrate an older one (store_format.c). STORE_OK, or the
//  code with `message` filled.
store_code_t store_format_check (store_t *self, char *message, size_t message_size);

//  `size` rounded up to a multiple of `page` (down when rounding up would
//  overflow).
static inline size_t
store_round_up (size_t size, size_t page)
{
    if (size > SIZE_MAX - page)
        return size / page * page;
    return (size + page - 1) / page * page;
}

#endif
