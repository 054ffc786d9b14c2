/*  store_txn: the store's transactions. The one write transaction runs in
    store_write (): begin, run the caller's function, save the id counters,
    commit, run the commit callbacks; on MDB_MAP_FULL abort, grow the map and
    run the function again. Read transactions are reset and kept for reuse.
    A spell of failing commits (full or failing disk) is logged once and
    retried with backoff; a durable store keeps data.mdb written ahead of
    the pages LMDB uses. See store.h for the API.
*/
#include "store/store.h"
#include "store/store_internal.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

//  ---------------------------------------------------------------------------
//  Id counters

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
            store_txn_fail (txn, rc, "saving the id counter", table, k.mv_size, true);
            return;
        }
    }
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
    size_t map = store_map_size (self);
    if (map >= self->map_size_max) {
        store_error_set (
            self,
            "%s: map full at %zu bytes, the configured maximum (map_size_max); "
            "nothing was committed",
            self->dir, map);
        return STORE_MAP_FULL;
    }
    if (self->readers > 0) {
        store_error_set (self,
                         "%s: map full at %zu bytes and cannot grow while %d read "
                         "transaction(s) are open; nothing was committed",
                         self->dir, map, self->readers);
        return STORE_MAP_FULL;
    }
    size_t target = map <= SIZE_MAX / 2 ? map * 2 : SIZE_MAX;
    if (target > self->map_size_max)
        target = self->map_size_max;
    target = store_round_up (target, self->page_size);
    //  A reset read txn holds no snapshot: it may stay across a remap.
    int rc = mdb_env_set_mapsize (self->env, target);
    if (rc) {
        if (rc != EINVAL)
            self->broken = true; //  unmapped and could not map again
        store_error_set (self, "%s: cannot grow the map to %zu bytes: %s", self->dir,
                         target, mdb_strerror (rc));
        return store_code_of (rc) == STORE_INVALID ? STORE_INTERNAL : store_code_of (rc);
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

//  Account a write's outcome in the failing spell (store_io_state_t).
static void
s_io_note (store_t *self, store_code_t result)
{
    int64_t now = zclock_mono ();
    if (result == STORE_IO) {
        if (!self->io.failing) {
            self->io = (store_io_state_t){
                .failing = true, .since = now, .backoff_ms = STORE_IO_BACKOFF_MIN};
            zsys_error ("store: %s; writes are retried with backoff until they "
                        "succeed",
                        self->error);
        } else if (self->io.backoff_ms < STORE_IO_BACKOFF_MAX)
            self->io.backoff_ms = self->io.backoff_ms * 2 > STORE_IO_BACKOFF_MAX
                                      ? STORE_IO_BACKOFF_MAX
                                      : self->io.backoff_ms * 2;
        self->io.failures++;
        self->io.next_try = now + self->io.backoff_ms;
    } else if (result == STORE_OK && self->io.failing) {
        zsys_info ("store %s: writes succeed again after %.1f s (%" PRIu64
                   " refused or failed)",
                   self->dir, (double)(now - self->io.since) / 1000.0, self->io.failures);
        self->io = (store_io_state_t){0};
    }
}

//  Inside a failing spell's backoff: the write is refused (message set).
static bool
s_io_refused (store_t *self)
{
    if (!self->io.failing || zclock_mono () >= self->io.next_try)
        return false;
    self->io.failures++;
    store_error_set (
        self,
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

//  Refuse a write the store cannot run now: from inside store_write, on a
//  store broken by a failed remap, or inside a failing spell's backoff.
static store_code_t
s_write_check (store_t *self)
{
    if (self->in_write) {
        store_error_set (self, "%s: store_write called from inside store_write",
                         self->dir);
        return STORE_INVALID;
    }
    if (self->broken) {
        store_error_set (self, "%s: store unusable after a failed map resize", self->dir);
        return STORE_INTERNAL;
    }
    if (s_io_refused (self))
        return STORE_IO;
    return STORE_OK;
}

//  The map was full: abort and grow it; *retry when the write runs again.
static store_code_t
s_write_grow (store_t *self, bool *retry)
{
    s_write_abort (self);
    store_code_t result = s_grow (self);
    *retry = result == STORE_OK;
    return result;
}

//  The write function returned `fn_rc` (non-zero): abort, saying why.
static store_code_t
s_write_aborted (store_t *self, int fn_rc)
{
    store_txn_t *txn = &self->wtxn;
    if (txn->status != STORE_OK) {
        char cause[STORE_ERROR_SIZE];
        memcpy (cause, self->error, sizeof (cause));
        store_error_set (self,
                         "store_write: aborted by the write function (%d) after: %s",
                         fn_rc, cause);
    } else
        store_error_set (self, "%s: store_write: aborted by the write function (%d)",
                         self->dir, fn_rc);
    s_write_abort (self);
    return STORE_ABORTED;
}

//  Commit the write transaction, then run the commit callbacks and write
//  data.mdb ahead; *retry when the map was full and has grown.
static store_code_t
s_write_commit (store_t *self, bool count, bool *retry)
{
    store_txn_t *txn = &self->wtxn;
    s_cursors_detach (txn);
    struct timespec before, after;
    clock_gettime (CLOCK_MONOTONIC, &before);
    int rc = mdb_txn_commit (txn->txn);
    clock_gettime (CLOCK_MONOTONIC, &after);
    txn->txn = NULL;
    if (rc == MDB_MAP_FULL)
        return s_write_grow (self, retry);
    if (rc) {
        store_error_set (self, "%s: commit failed: %s", self->dir, mdb_strerror (rc));
        s_write_abort (self);
        return store_code_of (rc);
    }
    s_counters_end (self, true);
    if (count) {
        self->commits++;
        store_commit_time_add (&self->commit_time,
                               (uint64_t)((after.tv_sec - before.tv_sec) * 1000000000LL +
                                          (after.tv_nsec - before.tv_nsec)));
    }
    for (size_t i = 0; i < self->ncallbacks; i++)
        self->callbacks[i].fn (self->callbacks[i].arg);
    self->ncallbacks = 0;
    s_extend_ahead (self); //  after the acks and facts: off their path
    return STORE_OK;
}

//  One run of the write function in a fresh transaction, committed when it
//  and every write in it succeeded; *retry when the map has grown and the
//  function must run again from scratch.
static store_code_t
s_write_attempt (store_t *self, store_write_fn *fn, void *arg, bool count, bool *retry)
{
    store_txn_t *txn = &self->wtxn;
    *retry = false;
    txn->status = STORE_OK;
    txn->map_full = false;
    self->ncallbacks = 0;
    int rc = s_txn_begin (self, 0, &txn->txn);
    if (rc) {
        txn->txn = NULL;
        store_error_set (self, "%s: cannot begin a write transaction: %s", self->dir,
                         mdb_strerror (rc));
        return store_code_of (rc);
    }
    int fn_rc = fn (txn, arg);
    if (!txn->map_full && fn_rc == 0 && txn->status == STORE_OK)
        s_counters_save (txn);
    if (txn->map_full)
        return s_write_grow (self, retry);
    if (fn_rc != 0)
        return s_write_aborted (self, fn_rc);
    if (txn->status != STORE_OK) {
        //  The function carried on after a failed write: never commit
        //  half a batch. The failing call left its message.
        store_code_t result = txn->status;
        s_write_abort (self);
        return result;
    }
    return s_write_commit (self, count, retry);
}

store_code_t
store_write_run (store_t *self, store_write_fn *fn, void *arg, bool count)
{
    store_code_t result = s_write_check (self);
    if (result != STORE_OK)
        return result;
    self->in_write = true;
    bool retry;
    do
        result = s_write_attempt (self, fn, arg, count, &retry);
    while (retry);
    self->in_write = false;
    s_io_note (self, result);
    return result;
}

store_code_t
store_write (store_t *self, store_write_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    return store_write_run (self, fn, arg, true);
}

int
store_txn_on_commit (store_txn_t *txn, store_commit_fn *fn, void *arg)
{
    assert (txn);
    assert (fn);
    store_t *self = txn->store;
    if (!txn->write) {
        store_error_set (self, "%s: store_txn_on_commit on a read-only transaction",
                         self->dir);
        return -1;
    }
    if (self->ncallbacks == self->callbacks_max) {
        size_t max = self->callbacks_max * 2;
        store_callback_t *callbacks = (store_callback_t *)realloc (
            self->callbacks, max * sizeof (store_callback_t));
        if (!callbacks) {
            store_error_set (self, "%s: store_txn_on_commit: out of memory", self->dir);
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
        store_error_set (self, "%s: store unusable after a failed map resize", self->dir);
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
            store_error_set (self, "%s: store_read_begin: out of memory", self->dir);
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
        store_error_set (self, "%s: cannot begin a read transaction: %s", self->dir,
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
