/*  store_stats: what a store did and holds, for metrics (store.h,
    store_stats). The commit-time histogram is filled by the write runner
    (store_txn.c) in the owner's thread; everything else is read here, on
    demand: LMDB's environment info and per-table stats, and the size of
    data.mdb on disk.
*/
#include "store/store.h"
#include "store/store_internal.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

//  1 ms to 10 s: a commit is an fdatasync or two, faster on tmpfs
const double store_commit_bounds[STORE_COMMIT_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.25,  0.5,    1,     10};

void
store_commit_time_add (store_commit_time_t *self, uint64_t nanos)
{
    double seconds = (double)nanos / 1e9;
    size_t bucket = 0;
    while (bucket < STORE_COMMIT_BUCKETS && seconds > store_commit_bounds[bucket])
        bucket++;
    self->buckets[bucket]++;
    self->nanos += nanos;
}

//  Records in every table the store opened (its meta table included).
static uint64_t
s_entries (store_t *self)
{
    store_txn_t *txn = store_read_begin (self);
    if (!txn)
        return 0;
    uint64_t entries = 0;
    MDB_stat stat;
    if (mdb_stat (txn->txn, self->meta, &stat) == 0)
        entries += stat.ms_entries;
    for (size_t i = 0; i < self->ntables; i++)
        if (mdb_stat (txn->txn, self->tables[i]->dbi, &stat) == 0)
            entries += stat.ms_entries;
    store_read_end (&txn);
    return entries;
}

void
store_stats (store_t *self, store_stats_t *out)
{
    assert (self && out);
    memset (out, 0, sizeof *out);
    out->commits = self->commits;
    out->growths = self->growths;
    memcpy (out->commit_buckets, self->commit_time.buckets, sizeof out->commit_buckets);
    out->commit_seconds = (double)self->commit_time.nanos / 1e9;
    out->map_max_bytes = self->map_size_max;
    out->io_failing = store_io_failing (self);
    MDB_envinfo info;
    if (!self->broken && mdb_env_info (self->env, &info) == 0) {
        out->map_bytes = info.me_mapsize;
        out->used_bytes = ((uint64_t)info.me_last_pgno + 1) * self->page_size;
        out->readers = info.me_numreaders;
        out->readers_max = info.me_maxreaders;
    }
    char path[4200];
    struct stat st;
    snprintf (path, sizeof path, "%s/data.mdb", self->dir);
    if (stat (path, &st) == 0)
        out->file_bytes = (uint64_t)st.st_size;
    if (!self->broken)
        out->entries = s_entries (self);
}
