/*  store_format: the format version every store records, and the
    migrations that bring an older store up to this build's.

    The version is the value of the key "__format" in the meta table (8
    bytes, big-endian, as the id counters beside it). A store without the
    key is version 0: the format before versions were recorded, which is
    the same layout as version 1. Opening a store:

    - newer than STORE_FORMAT_VERSION: refused (STORE_VERSION), the message
      names the store, its version and this build's;
    - older: migrated in place, one step at a time, each step (its changes
      and the new version) in one write transaction: a crash between steps
      leaves a store at a version the next open migrates on from;
    - a new store is version 0 with nothing in it: it takes this build's
      version in one transaction (silently: nothing to migrate, and no
      more pages written than one step; a small map stays its size).

    A change to a record layout bumps STORE_FORMAT_VERSION and adds its
    step to s_steps.
*/
#include "store/store.h"
#include "store/store_internal.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

//  One migration step from version `from` to from + 1, inside `txn` (the
//  new version is written by the caller in the same transaction). 0 or an
//  LMDB error.
typedef int (s_step_fn) (store_t *self, MDB_txn *txn);

//  0 -> 1: the layout is unchanged; the step is recording the version.
static int
s_step_record (store_t *self, MDB_txn *txn)
{
    (void)self;
    (void)txn;
    return 0;
}

//  1 -> 2: the workflow engine keeps a run's children and commands in rows
//  of their own (actors/workflow/workflow_engine_store.c) and reads a run
//  record of format 1 (children and commands inside it) as it is, moving
//  it to the rows at its next commit. Nothing to rewrite here: the step
//  records the version, so that a build of format 1, which would see those
//  runs without their children, refuses the store instead.
static int
s_step_workflow_rows (store_t *self, MDB_txn *txn)
{
    (void)self;
    (void)txn;
    return 0;
}

//  2 -> 3: the workflow engine journals a run's transitions (the conductor
//  calls since its state was last written whole, table `run_journal`) and
//  replays them on the stored state when it loads the run. A store of
//  format 2 has no journal rows and loads as it is. Nothing to rewrite: the
//  step records the version, so that a build of format 2, which would
//  ignore the journal and continue from a stale state, refuses the store.
static int
s_step_workflow_journal (store_t *self, MDB_txn *txn)
{
    (void)self;
    (void)txn;
    return 0;
}

static s_step_fn *s_steps[STORE_FORMAT_VERSION] = {s_step_record, s_step_workflow_rows,
                                                   s_step_workflow_journal};

static int
s_version_read (store_t *self, MDB_txn *txn, uint64_t *version)
{
    MDB_val k = {strlen (STORE_FORMAT_KEY), (void *)STORE_FORMAT_KEY}, v;
    int rc = mdb_get (txn, self->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *version = 0;
        return 0;
    }
    if (rc == 0 && v.mv_size != 8)
        return MDB_CORRUPTED;
    if (rc == 0)
        *version = store_key_id (v.mv_data);
    return rc;
}

static int
s_version_write (store_t *self, MDB_txn *txn, uint64_t version)
{
    uint8_t bytes[8];
    store_id_key (version, bytes);
    MDB_val k = {strlen (STORE_FORMAT_KEY), (void *)STORE_FORMAT_KEY};
    MDB_val v = {sizeof bytes, bytes};
    return mdb_put (txn, self->meta, &k, &v, 0);
}

//  Whether the store holds anything (a table beside meta, or a counter).
static bool
s_empty (store_t *self, MDB_txn *txn)
{
    MDB_stat st;
    return mdb_stat (txn, self->meta, &st) == 0 && st.ms_entries == 0;
}

//  One step in one write transaction: `from` -> `to`, from + 1 (its
//  migration), or this build's version for an empty store (nothing to
//  migrate: one transaction, however many versions it skips).
static int
s_migrate_step (store_t *self, uint64_t from, uint64_t to)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc)
        return rc;
    if (to == from + 1)
        rc = s_steps[from](self, txn);
    if (rc == 0)
        rc = s_version_write (self, txn, to);
    if (rc == 0)
        return mdb_txn_commit (txn);
    mdb_txn_abort (txn);
    return rc;
}

store_code_t
store_format_check (store_t *self, char *message, size_t message_size)
{
    MDB_txn *txn = NULL;
    uint64_t version = 0;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    bool empty = false;
    if (rc == 0) {
        rc = s_version_read (self, txn, &version);
        empty = s_empty (self, txn);
        mdb_txn_abort (txn);
    }
    if (rc) {
        snprintf (message, message_size, "%s: cannot read the format version: %s",
                  self->dir, mdb_strerror (rc));
        return store_code_of (rc) == STORE_NOTFOUND ? STORE_CORRUPT : store_code_of (rc);
    }
    if (version > STORE_FORMAT_VERSION) {
        snprintf (message, message_size,
                  "%s: store format version %" PRIu64 " is newer than this build "
                  "of attune reads (format version %d): run a newer attune, or "
                  "restore a backup made by this version",
                  self->dir, version, STORE_FORMAT_VERSION);
        return STORE_VERSION;
    }
    uint64_t from = version;
    while (version < STORE_FORMAT_VERSION) {
        uint64_t to = empty ? STORE_FORMAT_VERSION : version + 1;
        rc = s_migrate_step (self, version, to);
        if (rc) {
            snprintf (message, message_size,
                      "%s: cannot migrate the store from format version %" PRIu64
                      " to %" PRIu64 ": %s",
                      self->dir, version, to, mdb_strerror (rc));
            return store_code_of (rc);
        }
        version = to;
    }
    if (from != version && !empty)
        zsys_notice ("%s: store migrated from format version %" PRIu64 " to %" PRIu64,
                     self->dir, from, version);
    self->format = version;
    return STORE_OK;
}

uint64_t
store_format_version (store_t *self)
{
    assert (self);
    return self->format;
}
