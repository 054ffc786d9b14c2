/*  bus_facts: facts over PUB/SUB with per-publisher sequence numbers.

    A fact is three frames (proto/PROTOCOL.md, "Facts"):

        [type]      the envelope's type, the SUB topic (prefix-filtered)
        [meta]      16 bytes: sequence number (uint64 big-endian, 1, 2, 3 ...)
                    then the publisher id (8 random bytes, new at each start)
        [envelope]  the msgpack envelope

    A subscriber tracks the last sequence number of each publisher id; a jump
    is a gap (messages lost to a high-water mark, a reconnect, a slow
    consumer): it is counted and reported to the gap callback, so the owner
    of the stream can resynchronise from a snapshot (zguide "Clone"). A
    publisher id seen for the first time starts a new stream (a late join or
    a publisher restart) and is reported through the same callback with
    expected = 0.
*/
#ifndef BUS_FACTS_H_INCLUDED
#define BUS_FACTS_H_INCLUDED

#include <czmq.h>
#include "proto/proto_envelope.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BUS_FACT_META_SIZE 16

typedef struct _bus_pub_t bus_pub_t;
typedef struct _bus_sub_t bus_sub_t;

//  ---------------------------------------------------------------------------
//  Publisher

//  New publisher bound to `endpoint` (tcp://127.0.0.1:* picks a port; see
//  bus_pub_endpoint). `sndhwm` 0 keeps libzmq's default (1000). NULL on
//  failure (bad endpoint, address in use).
bus_pub_t *bus_pub_new (const char *endpoint, int sndhwm);
void bus_pub_destroy (bus_pub_t **self_p);

//  Publish an envelope (encoded into the publisher's reused buffer). The
//  caller keeps the envelope. Returns the sequence number used, 0 on error.
uint64_t bus_pub_send (bus_pub_t *self, const proto_envelope_t *envelope);

//  Publish an already-encoded envelope of the given type. Same return.
uint64_t bus_pub_send_raw (bus_pub_t *self, const char *type, const void *envelope,
                           size_t size);

//  Last sequence number published (0 before the first).
uint64_t bus_pub_seq (bus_pub_t *self);
//  This publisher's id (random, new at each start).
uint64_t bus_pub_id (bus_pub_t *self);
//  The endpoint actually bound (with the port resolved). Owned by self.
const char *bus_pub_endpoint (bus_pub_t *self);
zsock_t *bus_pub_sock (bus_pub_t *self);

//  ---------------------------------------------------------------------------
//  Subscriber

//  Called on a gap: `expected` is the sequence number that should have come
//  (0 for a publisher not seen before), `received` the one that came.
typedef void (bus_gap_fn) (void *arg, uint64_t publisher, uint64_t expected,
                           uint64_t received);

//  What bus_sub_recv tells besides the envelope.
typedef struct {
    uint64_t publisher; //  publisher id
    uint64_t seq;       //  its sequence number
    size_t size;        //  envelope bytes
} bus_fact_info_t;

//  New subscriber (not yet connected or subscribed). `rcvhwm` 0 = default.
bus_sub_t *bus_sub_new (int rcvhwm);
void bus_sub_destroy (bus_sub_t **self_p);

//  Connect to a publisher's endpoint. 0 or -1.
int bus_sub_connect (bus_sub_t *self, const char *endpoint);
//  Receive facts whose type starts with `prefix` ("" for all). 0 or -1.
int bus_sub_subscribe (bus_sub_t *self, const char *prefix);
int bus_sub_unsubscribe (bus_sub_t *self, const char *prefix);

void bus_sub_set_gap_handler (bus_sub_t *self, bus_gap_fn *fn, void *arg);

//  Receive and decode the next fact, waiting at most `timeout_ms` (-1 for
//  ever, 0 to poll). Returns a new envelope (caller owns it) and fills
//  `info` if given; NULL on timeout, interrupt, or a fact that failed to
//  decode (counted in bus_sub_errors, logged, dropped).
proto_envelope_t *bus_sub_recv (bus_sub_t *self, bus_fact_info_t *info, int timeout_ms);

//  Receive the next fact without decoding the envelope: the sequence is
//  tracked as in bus_sub_recv. Returns the envelope frame (caller owns it),
//  NULL as above. For relays and benchmarks.
zframe_t *bus_sub_recv_raw (bus_sub_t *self, bus_fact_info_t *info, int timeout_ms);

//  Messages known lost (sum of all gaps), gap events, malformed facts
//  dropped, and facts received.
uint64_t bus_sub_missed (bus_sub_t *self);
uint64_t bus_sub_gaps (bus_sub_t *self);
uint64_t bus_sub_errors (bus_sub_t *self);
uint64_t bus_sub_received (bus_sub_t *self);
zsock_t *bus_sub_sock (bus_sub_t *self);

#ifdef __cplusplus
}
#endif

#endif
