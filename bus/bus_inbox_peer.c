/*  bus_inbox_peer: the inbox's peers, one per sender name: created when
    first heard (or loaded from the store's peers table), declared down after
    `liveness` silent intervals, and their committed positions (epoch, last)
    kept as msgpack [epoch, last] records.
*/
#include "bus/bus_inbox_internal.h"
#include "bus/bus_link_internal.h"

#include <string.h>

static void
s_peer_destroy (bus_inbox_peer_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->name);
        free (*self_p);
        *self_p = NULL;
    }
}

void
bus_inbox_peer_destructor (void **item)
{
    s_peer_destroy ((bus_inbox_peer_t **)item);
}

//  Printable name of a routing id: the id itself when it is text, else
//  "0x" and its bytes in hex (ids ZeroMQ generates start with a zero byte).
void
bus_inbox_rid_name (const uint8_t *rid, size_t size, char *name, size_t name_size)
{
    bool text = size > 0;
    for (size_t i = 0; i < size && text; i++)
        if (rid[i] < 0x20 || rid[i] == 0x7f)
            text = false;
    if (text && size < name_size) {
        memcpy (name, rid, size);
        name[size] = 0;
        return;
    }
    size_t len = (size_t)snprintf (name, name_size, "0x");
    for (size_t i = 0; i < size && len + 3 <= name_size; i++)
        len += (size_t)snprintf (name + len, name_size - len, "%02x", rid[i]);
}

bus_inbox_peer_t *
bus_inbox_peer_new (bus_inbox_t *self, const char *name)
{
    bus_inbox_peer_t *peer = (bus_inbox_peer_t *)zmalloc (sizeof (bus_inbox_peer_t));
    assert (peer);
    peer->name = strdup (name);
    assert (peer->name);
    zhashx_insert (self->peers, name, peer);
    return peer;
}

void
bus_inbox_peer_down (bus_inbox_t *self, bus_inbox_peer_t *peer)
{
    if (peer->alive) {
        peer->alive = false;
        if (self->peer_fn)
            (self->peer_fn) (self->peer_arg, peer->name, BUS_PEER_DOWN);
    }
}

void
bus_inbox_peer_record (uint64_t epoch, uint64_t last, uint8_t *record)
{
    record[0] = 0x92;
    record[1] = 0xcf;
    bus_link_put_u64 (record + 2, epoch);
    record[10] = 0xcf;
    bus_link_put_u64 (record + 11, last);
}

int
bus_inbox_peers_load (bus_inbox_t *self)
{
    store_txn_t *txn = store_read_begin (self->store);
    if (!txn)
        return -1;
    store_cursor_t *cursor = store_cursor_new (txn, self->peers_table);
    if (!cursor) {
        store_read_end (&txn);
        return -1;
    }
    store_code_t code = store_cursor_first (cursor);
    while (code == STORE_OK) {
        size_t key_size, size;
        const uint8_t *key = (const uint8_t *)store_cursor_key (cursor, &key_size);
        const uint8_t *data = (const uint8_t *)store_cursor_data (cursor, &size);
        if (key_size == 0 || key_size > 2 * 256 + 2 ||
            size != BUS_INBOX_PEER_RECORD_SIZE || data[0] != 0x92 || data[1] != 0xcf ||
            data[10] != 0xcf)
            zsys_warning ("bus_inbox %s: skipping a bad record in inbox.%s.peers",
                          self->name, self->name);
        else {
            char name[2 * 256 + 3];
            memcpy (name, key, key_size);
            name[key_size] = 0;
            bus_inbox_peer_t *peer =
                (bus_inbox_peer_t *)zhashx_lookup (self->peers, name);
            if (!peer)
                peer = bus_inbox_peer_new (self, name);
            peer->epoch = peer->pending_epoch = bus_link_get_u64 (data + 2);
            peer->last = peer->pending_last = bus_link_get_u64 (data + 11);
        }
        code = store_cursor_next (cursor);
    }
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    return code == STORE_NOTFOUND ? 0 : -1;
}
