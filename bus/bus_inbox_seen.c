/*  bus_inbox_seen: the ids of the commands an inbox has processed, so a
    redelivered one is dropped: without a store, the last
    BUS_INBOX_MEMORY_SEEN ids in memory; with one, its seen table, pruned of
    ids older than the retention time.
*/
#include "bus/bus_inbox_internal.h"
#include "bus/bus_link_internal.h"

#include <string.h>

bool
bus_inbox_seen_memory_has (bus_inbox_t *self, const uint8_t *id)
{
    return zhashx_lookup (self->memory_seen, id) != NULL;
}

void
bus_inbox_seen_memory_add (bus_inbox_t *self, const uint8_t *id)
{
    uint8_t *slot = self->memory_ring[self->memory_next];
    if (zhashx_size (self->memory_seen) >= BUS_INBOX_MEMORY_SEEN)
        zhashx_delete (self->memory_seen, slot); //  forget the oldest
    memcpy (slot, id, PROTO_UUID_SIZE);
    zhashx_insert (self->memory_seen, slot, slot);
    self->memory_next = (self->memory_next + 1) % BUS_INBOX_MEMORY_SEEN;
}

static size_t
s_id_hash (const void *key)
{
    size_t hash;
    memcpy (&hash, key, sizeof hash); //  ids are random
    return hash;
}

static int
s_id_compare (const void *a, const void *b)
{
    return memcmp (a, b, PROTO_UUID_SIZE);
}

int
bus_inbox_seen_memory_open (bus_inbox_t *self)
{
    self->memory_seen = zhashx_new ();
    self->memory_ring = calloc (BUS_INBOX_MEMORY_SEEN, sizeof *self->memory_ring);
    if (!self->memory_seen || !self->memory_ring)
        return -1;
    zhashx_set_key_hasher (self->memory_seen, s_id_hash);
    zhashx_set_key_comparator (self->memory_seen, s_id_compare);
    zhashx_set_key_duplicator (self->memory_seen, NULL);
    zhashx_set_key_destructor (self->memory_seen, NULL);
    return 0;
}

//  Pruning: the seen table (id -> the ts it was processed at) is walked a
//  slice at a time from where the last slice stopped, wrapping at the end;
//  the ids of a slice that are past the retention time are deleted in a
//  write of their own, only when there are some. A full pass visits every
//  id, so none is kept much longer than retention plus one pass; with
//  time-ordered ids (UUIDv7) the expired ones are at the front anyway.
//  Stores of earlier versions also have a seen_ts table (ts + id -> nil);
//  it is no longer written, and emptied BUS_INBOX_PRUNE_MAX entries per tick.

//  Read a slice of the seen table; fills prune_keys. 0, or -1 (store).
static int
s_prune_scan (bus_inbox_t *self)
{
    self->nprune = 0;
    store_txn_t *txn = store_read_begin (self->store);
    if (!txn)
        return -1;
    store_cursor_t *cursor = store_cursor_new (txn, self->seen_table);
    if (!cursor) {
        store_read_end (&txn);
        return -1;
    }
    store_code_t code =
        self->prune_from_set
            ? store_cursor_seek (cursor, self->prune_from, PROTO_UUID_SIZE)
            : store_cursor_first (cursor);
    //  At least four ids looked at per id processed since the last slice: a
    //  pass never takes longer than a quarter of the time ids are kept
    size_t visit =
        BUS_INBOX_PRUNE_VISIT + 4 * (size_t)(self->processed - self->processed_scan);
    self->processed_scan = self->processed;
    size_t visited = 0;
    while (code == STORE_OK && self->nprune < BUS_INBOX_PRUNE_MAX && visited < visit) {
        size_t key_size, size;
        const uint8_t *key = (const uint8_t *)store_cursor_key (cursor, &key_size);
        const uint8_t *data = (const uint8_t *)store_cursor_data (cursor, &size);
        visited++;
        //  A record that is not a processed ts cannot be trusted: pruned
        bool expired = size != 9 || data[0] != 0xcf ||
                       (int64_t)bus_link_get_u64 (data + 1) < self->prune_cutoff;
        if (expired && key_size == PROTO_UUID_SIZE)
            memcpy (self->prune_keys[self->nprune++], key, PROTO_UUID_SIZE);
        code = store_cursor_next (cursor);
    }
    if (code == STORE_OK) {
        //  Stopped inside the table: the next slice starts here
        size_t key_size;
        const void *key = store_cursor_key (cursor, &key_size);
        self->prune_from_set = key_size == PROTO_UUID_SIZE;
        if (self->prune_from_set)
            memcpy (self->prune_from, key, PROTO_UUID_SIZE);
    } else
        self->prune_from_set = false; //  the pass is over: start again
    if (!self->legacy_checked) {
        //  Anything left in the table of an earlier version?
        store_cursor_t *legacy = store_cursor_new (txn, self->seen_ts_table);
        self->legacy_left = legacy && store_cursor_first (legacy) == STORE_OK;
        store_cursor_destroy (&legacy);
        self->legacy_checked = true;
    }
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    return code == STORE_OK || code == STORE_NOTFOUND ? 0 : -1;
}

//  Delete the expired ids found by the scan (and a slice of the legacy
//  table); re-runnable.
static int
s_prune (store_txn_t *txn, void *arg)
{
    bus_inbox_t *self = (bus_inbox_t *)arg;
    for (size_t i = 0; i < self->nprune; i++) {
        store_code_t code =
            store_del (txn, self->seen_table, self->prune_keys[i], PROTO_UUID_SIZE);
        if (code != STORE_OK && code != STORE_NOTFOUND)
            return -1;
    }
    if (self->legacy_left) {
        store_cursor_t *cursor = store_cursor_new (txn, self->seen_ts_table);
        if (!cursor)
            return -1;
        store_code_t code = store_cursor_first (cursor);
        for (size_t i = 0; code == STORE_OK && i < BUS_INBOX_PRUNE_MAX; i++) {
            code = store_cursor_del (cursor);
            if (code == STORE_OK)
                code = store_cursor_next (cursor);
        }
        store_cursor_destroy (&cursor);
        if (code != STORE_OK && code != STORE_NOTFOUND)
            return -1;
    }
    return 0;
}

void
bus_inbox_seen_prune (bus_inbox_t *self, int64_t now)
{
    self->next_prune = now + BUS_INBOX_PRUNE_INTERVAL_MS;
    self->prune_cutoff = proto_now_usec () - self->config.dedup_retention_s * 1000000;
    if (s_prune_scan (self) != 0)
        zsys_error ("bus_inbox %s: cannot read processed ids (%s)", self->name,
                    store_last_error (self->store));
    else if (self->nprune > 0 || self->legacy_left) {
        bool legacy = self->legacy_left;
        store_code_t code = store_write (self->store, s_prune, self);
        if (code != STORE_OK) {
            zsys_error ("bus_inbox %s: cannot prune processed ids (%s: %s)", self->name,
                        store_strerror (code), store_last_error (self->store));
            self->prune_from_set = false; //  the next pass finds them again
        } else if (legacy)
            self->legacy_checked = false; //  look again after this slice
    }
    if (self->nprune == BUS_INBOX_PRUNE_MAX || self->legacy_left)
        self->next_prune = now; //  more to delete: next tick
}
