/*  bus_link_internal: wire helpers shared by the sender (bus_link.c) and
    the receiver (bus_inbox.c). Not a public API: nothing outside bus/
    includes this file.
*/
#ifndef BUS_LINK_INTERNAL_H_INCLUDED
#define BUS_LINK_INTERNAL_H_INCLUDED

#include "bus/bus_link.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <zmq.h>

//  Copy a caller's config, replacing values that make no sense with the
//  defaults (a NULL config: all defaults).
void bus_link_config_resolve (bus_link_config_t *out, const bus_link_config_t *config);

//  Write `value` as 8 bytes big-endian.
static inline void
bus_link_put_u64 (uint8_t *out, uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(value & 0xff);
        value >>= 8;
    }
}

//  Read 8 bytes big-endian.
static inline uint64_t
bus_link_get_u64 (const uint8_t *in)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = (value << 8) | in[i];
    return value;
}

//  Receive one whole message without blocking: its first `max` parts into
//  `parts` (*kept of them, the caller closes those), the others dropped.
//  Returns the number of parts the message had, 0 when nothing is waiting.
static inline size_t
bus_link_recv_parts (void *handle, zmq_msg_t *parts, size_t max, size_t *kept)
{
    size_t total = 0;
    bool more = true;
    *kept = 0;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *part = *kept < max ? &parts[*kept] : &scratch;
        zmq_msg_init (part);
        //  Once the first part is there, the others are too
        if (zmq_msg_recv (part, handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (part);
            break;
        }
        total++;
        more = zmq_msg_more (part);
        if (part == &scratch)
            zmq_msg_close (part);
        else
            (*kept)++;
    }
    return total;
}

//  Close the `kept` parts bus_link_recv_parts received.
static inline void
bus_link_close_parts (zmq_msg_t *parts, size_t kept)
{
    for (size_t i = 0; i < kept; i++)
        zmq_msg_close (&parts[i]);
}

//  Whether a part is the verb `verb` ("CMD", "ACK", "HB" ...).
static inline bool
bus_link_verb_is (zmq_msg_t *part, const char *verb)
{
    size_t size = strlen (verb);
    return zmq_msg_size (part) == size && memcmp (zmq_msg_data (part), verb, size) == 0;
}

//  Heartbeats missed: a peer sends something (a heartbeat at least) every
//  interval, so each whole interval of silence past the first is one
//  missed; counted as time passes into *missed, at most `liveness` per
//  silence (then the peer is dead: a long death is not counted for ever).
//  *heard_at and *counted are the caller's state for the current silence.
static inline void
bus_link_count_missed (int64_t now, int64_t last_heard, int heartbeat_ms, int liveness,
                       int64_t *heard_at, int64_t *counted, uint64_t *missed)
{
    if (*heard_at != last_heard) {
        *heard_at = last_heard;
        *counted = 0;
    }
    int64_t silent = (now - last_heard) / heartbeat_ms - 1;
    if (silent > liveness)
        silent = liveness;
    if (silent > *counted) {
        *missed += (uint64_t)(silent - *counted);
        *counted = silent;
    }
}

#endif
