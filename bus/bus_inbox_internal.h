/*  bus_inbox_internal: the inbox's types and the helpers its sources share
    (bus_inbox.c: the batch, replies and timers; bus_inbox_peer.c: peers;
    bus_inbox_seen.c: processed ids). Not a public API: nothing outside bus/
    includes this file.
*/
#ifndef BUS_INBOX_INTERNAL_H_INCLUDED
#define BUS_INBOX_INTERNAL_H_INCLUDED

#include "bus/bus_inbox.h"

//  Per sender name, a peer holds the committed position (epoch, last) and
//  the pending one, which runs ahead while a batch is drained and becomes
//  the committed one after the store commit (or falls back on failure).

typedef struct {
    char *name;       //  printable form of the routing id
    uint8_t rid[256]; //  routing id to reply to (rid_size 0: not heard yet)
    size_t rid_size;
    uint64_t epoch; //  committed position
    uint64_t last;
    uint64_t pending_epoch; //  position including the batch being drained
    uint64_t pending_last;
    int64_t last_heard;
    int64_t missed_heard, missed_counted; //  bus_link_count_missed's state
    int64_t last_sent;
    bool alive;
    bool in_batch; //  listed in self->touched
    bool dirty;    //  position changed in this batch: write it
    bool reack;    //  sent a duplicate in this batch: ack again
} bus_inbox_peer_t;

typedef enum { ITEM_ACCEPTED, ITEM_REJECTED, ITEM_DUPLICATE } bus_inbox_item_result_t;

typedef struct {
    bus_inbox_peer_t *peer;
    proto_envelope_t *envelope; //  NULL when it did not decode
    bus_inbox_item_result_t result;
    bus_command_t info; //  reject_code / reject_message say why
} bus_inbox_item_t;

#define BUS_INBOX_MEMORY_SEEN       100000 //  ids remembered without a store
#define BUS_INBOX_PRUNE_MAX         1000   //  processed ids deleted per tick
#define BUS_INBOX_PRUNE_VISIT       1000   //  ids looked at per tick, at least
#define BUS_INBOX_PRUNE_INTERVAL_MS 1000
#define BUS_INBOX_PEER_RECORD_SIZE  19 //  peers table record: msgpack [epoch, last]

struct _bus_inbox_t {
    zsock_t *sock;
    void *handle;
    uint64_t instance; //  random, new at each start: in every HB
    char *name;
    char *endpoint;
    bus_link_config_t config;
    zhashx_t *peers;         //  name -> bus_inbox_peer_t
    bus_inbox_item_t *items; //  the batch (config.batch_max)
    size_t nitems;
    bus_inbox_peer_t **touched; //  peers that sent something in the batch
    size_t ntouched;
    bus_inbox_fn *fn; //  the batch's handler, for s_write
    void *fn_arg;
    bus_batch_fn *batch_end; //  called last in each batch's transaction
    void *batch_end_arg;
    int64_t batch_ts; //  wall clock usec, stamped on processed ids

    store_t *store;
    char dedup_types[4][64]; //  types whose handler drops redeliveries: not
    size_t ndedup_types;     //  in the seen table
    store_table_t *peers_table;
    store_table_t *seen_table;
    store_table_t *seen_ts_table;
    uint8_t (*prune_keys)[PROTO_UUID_SIZE];
    size_t nprune;
    uint8_t prune_from[PROTO_UUID_SIZE]; //  where the next slice of the scan starts
    bool prune_from_set;                 //  false: at the first id
    bool legacy_checked, legacy_left;    //  the seen_ts table of earlier versions
    uint64_t processed;                  //  ids put in the seen table
    uint64_t processed_scan;             //  ... when the last slice was read
    int64_t prune_cutoff;
    int64_t next_prune;

    zhashx_t *memory_seen; //  without a store: the last BUS_INBOX_MEMORY_SEEN ids
    uint8_t (*memory_ring)[PROTO_UUID_SIZE];
    size_t memory_next;

    bus_peer_fn *peer_fn;
    void *peer_arg;
    uint64_t delivered;
    uint64_t duplicates;
    uint64_t out_of_order;
    uint64_t rejected;
    uint64_t malformed;
    uint64_t refused; //  from user keys, or (executor_only) not the executor's
    uint64_t stale;
    uint64_t missed; //  heartbeats missed by senders (bus_link_count_missed)
    bool curve;      //  the endpoint is CURVE: its messages carry a User-Id
    uint64_t send_failures;
};

//  ---------------------------------------------------------------------------
//  Peers (bus_inbox_peer.c)

//  zhashx destructor of a peer.
void bus_inbox_peer_destructor (void **item);

//  Printable name of a routing id: the id itself when it is text, else
//  "0x" and its bytes in hex (ids ZeroMQ generates start with a zero byte).
void bus_inbox_rid_name (const uint8_t *rid, size_t size, char *name, size_t name_size);

//  A new peer named `name`, in self->peers (which owns it).
bus_inbox_peer_t *bus_inbox_peer_new (bus_inbox_t *self, const char *name);

//  Mark a live peer down and tell the peer handler.
void bus_inbox_peer_down (bus_inbox_t *self, bus_inbox_peer_t *peer);

//  The peers table record of a position: msgpack [epoch, last] as two
//  uint64, BUS_INBOX_PEER_RECORD_SIZE bytes.
void bus_inbox_peer_record (uint64_t epoch, uint64_t last, uint8_t *record);

//  Load the peers' committed positions from the peers table. 0, or -1 (store).
int bus_inbox_peers_load (bus_inbox_t *self);

//  ---------------------------------------------------------------------------
//  Processed ids (bus_inbox_seen.c)

//  Without a store: the set of the last BUS_INBOX_MEMORY_SEEN ids. 0, or -1
//  (out of memory).
int bus_inbox_seen_memory_open (bus_inbox_t *self);

//  Whether the in-memory set holds `id`.
bool bus_inbox_seen_memory_has (bus_inbox_t *self, const uint8_t *id);

//  Add `id` to the in-memory set, forgetting the oldest when it is full.
void bus_inbox_seen_memory_add (bus_inbox_t *self, const uint8_t *id);

//  With a store, when the prune is due (`now`, monotonic ms): delete a slice
//  of the processed ids past the retention time.
void bus_inbox_seen_prune (bus_inbox_t *self, int64_t now);

#endif
