/*  bus_facts: facts over PUB/SUB with per-publisher sequence numbers.

    See bus_facts.h and proto/PROTOCOL.md, "Facts". The publisher encodes
    into one reused sbuffer and sends three frames with zmq_send (no picture
    API on this path); the subscriber keeps a hash of publisher id -> last
    sequence number.
*/
#include "bus/bus_facts.h"
#include "bus/bus_topology.h"
#include "bus/bus_security.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

//  Distinct publishers a subscriber tracks before it forgets the oldest
//  (a publisher that restarts many times would otherwise grow the table).
#define S_MAX_PUBLISHERS 4096
//  Log the first few of each kind of trouble, then every Nth.
#define S_LOG_EVERY 1000

struct _bus_pub_t {
    zsock_t *sock;
    void *handle; //  the libzmq socket, for zmq_send
    uint64_t seq;
    uint64_t id;
    char *endpoint;
    msgpack_sbuffer buffer;
    uint64_t errors;
};

typedef struct {
    uint64_t publisher;
    uint64_t last;
    uint64_t touched; //  receive counter when last seen, for eviction
} s_stream_t;

struct _bus_sub_t {
    zsock_t *sock;
    void *handle;
    s_stream_t *streams; //  open addressing on publisher id
    size_t nstreams;
    size_t capacity;
    bus_gap_fn *gap_fn;
    void *gap_arg;
    uint64_t missed;
    uint64_t gaps;
    uint64_t errors;
    uint64_t received;
    zmq_msg_t topic, meta, body, extra; //  reused for every fact
    bool msgs_ready;
};

static void
s_put_u64 (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t
s_get_u64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

//  Set the options every attune socket carries.
static void
s_socket_options (zsock_t *sock)
{
    int64_t max = PROTO_MAX_SOCKET_MSG;
    zmq_setsockopt (zsock_resolve (sock), ZMQ_MAXMSGSIZE, &max, sizeof (max));
    zsock_set_linger (sock, 0);
}

//  ---------------------------------------------------------------------------
//  Publisher

bus_pub_t *
bus_pub_new (const char *endpoint, int sndhwm)
{
    assert (endpoint);
    bus_pub_t *self = (bus_pub_t *)calloc (1, sizeof (bus_pub_t));
    if (!self)
        return NULL;
    self->sock = zsock_new (ZMQ_PUB);
    if (!self->sock) {
        free (self);
        return NULL;
    }
    s_socket_options (self->sock);
    if (sndhwm > 0)
        zsock_set_sndhwm (self->sock, sndhwm);
    if (bus_security_apply (self->sock, endpoint, true, NULL) != 0) {
        zsys_error ("bus_pub: not binding %s without CURVE", endpoint);
        zsock_destroy (&self->sock);
        free (self);
        return NULL;
    }
    if (bus_topology_bind_socket (self->sock, endpoint) == -1) {
        zsys_error ("bus_pub: cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->sock);
        free (self);
        return NULL;
    }
    const char *bound = zsock_endpoint (self->sock);
    self->endpoint = strdup (bound ? bound : endpoint);
    //  tcp://*:N binds every address; peers on this host connect to loopback
    if (self->endpoint && strncmp (self->endpoint, "tcp://0.0.0.0:", 14) == 0) {
        char *local = NULL;
        if (asprintf (&local, "tcp://127.0.0.1:%s", self->endpoint + 14) > 0) {
            free (self->endpoint);
            self->endpoint = local;
        }
    }
    self->handle = zsock_resolve (self->sock);
    do
        self->id = ((uint64_t)randof (0x7fffffff) << 33) ^
                   ((uint64_t)randof (0x7fffffff) << 2) ^ (uint64_t)zclock_usecs ();
    while (self->id == 0);
    msgpack_sbuffer_init (&self->buffer);
    if (!self->endpoint) {
        bus_pub_destroy (&self);
        return NULL;
    }
    return self;
}

void
bus_pub_destroy (bus_pub_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        bus_pub_t *self = *self_p;
        zsock_destroy (&self->sock);
        msgpack_sbuffer_destroy (&self->buffer);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

uint64_t
bus_pub_send_raw (bus_pub_t *self, const char *type, const void *envelope, size_t size)
{
    assert (self);
    assert (type);
    assert (envelope || size == 0);
    uint8_t meta[BUS_FACT_META_SIZE];
    uint64_t seq = self->seq + 1;
    s_put_u64 (meta, seq);
    s_put_u64 (meta + 8, self->id);
    //  PUB never blocks: a full subscriber queue drops for that subscriber,
    //  which the sequence numbers reveal. A send error here is a closed
    //  context or a programming error: count it and keep the numbering.
    if (zmq_send (self->handle, type, strlen (type), ZMQ_SNDMORE) == -1 ||
        zmq_send (self->handle, meta, sizeof (meta), ZMQ_SNDMORE) == -1 ||
        zmq_send (self->handle, envelope, size, 0) == -1) {
        self->errors++;
        if (self->errors <= 10 || self->errors % S_LOG_EVERY == 0)
            zsys_warning ("bus_pub %s: send failed: %s (%" PRIu64 " so far)",
                          self->endpoint, zmq_strerror (zmq_errno ()), self->errors);
        return 0;
    }
    self->seq = seq;
    return seq;
}

uint64_t
bus_pub_send (bus_pub_t *self, const proto_envelope_t *envelope)
{
    assert (self);
    assert (envelope);
    msgpack_sbuffer_clear (&self->buffer);
    if (proto_envelope_encode (envelope, &self->buffer) != 0)
        return 0;
    return bus_pub_send_raw (self, proto_envelope_type (envelope), self->buffer.data,
                             self->buffer.size);
}

uint64_t
bus_pub_seq (bus_pub_t *self)
{
    assert (self);
    return self->seq;
}

uint64_t
bus_pub_id (bus_pub_t *self)
{
    assert (self);
    return self->id;
}

const char *
bus_pub_endpoint (bus_pub_t *self)
{
    assert (self);
    return self->endpoint;
}

zsock_t *
bus_pub_sock (bus_pub_t *self)
{
    assert (self);
    return self->sock;
}

//  ---------------------------------------------------------------------------
//  Subscriber

bus_sub_t *
bus_sub_new (int rcvhwm)
{
    bus_sub_t *self = (bus_sub_t *)calloc (1, sizeof (bus_sub_t));
    if (!self)
        return NULL;
    self->sock = zsock_new (ZMQ_SUB);
    self->capacity = 64;
    self->streams = (s_stream_t *)calloc (self->capacity, sizeof (s_stream_t));
    if (!self->sock || !self->streams) {
        bus_sub_destroy (&self);
        return NULL;
    }
    s_socket_options (self->sock);
    if (rcvhwm > 0)
        zsock_set_rcvhwm (self->sock, rcvhwm);
    self->handle = zsock_resolve (self->sock);
    zmq_msg_init (&self->topic);
    zmq_msg_init (&self->meta);
    zmq_msg_init (&self->body);
    zmq_msg_init (&self->extra);
    self->msgs_ready = true;
    return self;
}

void
bus_sub_destroy (bus_sub_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        bus_sub_t *self = *self_p;
        zsock_destroy (&self->sock);
        if (self->msgs_ready) {
            zmq_msg_close (&self->topic);
            zmq_msg_close (&self->meta);
            zmq_msg_close (&self->body);
            zmq_msg_close (&self->extra);
        }
        free (self->streams);
        free (self);
        *self_p = NULL;
    }
}

int
bus_sub_connect (bus_sub_t *self, const char *endpoint)
{
    assert (self);
    assert (endpoint);
    if (bus_security_apply (self->sock, endpoint, false, NULL) != 0)
        return -1; //  it said why
    if (zsock_connect (self->sock, "%s", endpoint) == -1) {
        zsys_error ("bus_sub: cannot connect %s: %s", endpoint,
                    zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

int
bus_sub_subscribe (bus_sub_t *self, const char *prefix)
{
    assert (self);
    assert (prefix);
    return zmq_setsockopt (self->handle, ZMQ_SUBSCRIBE, prefix, strlen (prefix));
}

int
bus_sub_unsubscribe (bus_sub_t *self, const char *prefix)
{
    assert (self);
    assert (prefix);
    return zmq_setsockopt (self->handle, ZMQ_UNSUBSCRIBE, prefix, strlen (prefix));
}

void
bus_sub_set_gap_handler (bus_sub_t *self, bus_gap_fn *fn, void *arg)
{
    assert (self);
    self->gap_fn = fn;
    self->gap_arg = arg;
}

static size_t
s_slot (uint64_t publisher, size_t capacity)
{
    uint64_t h = publisher * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 17) & (capacity - 1);
}

//  Find the stream of `publisher`, or NULL.
static s_stream_t *
s_stream_find (bus_sub_t *self, uint64_t publisher)
{
    size_t i = s_slot (publisher, self->capacity);
    while (self->streams[i].publisher) {
        if (self->streams[i].publisher == publisher)
            return &self->streams[i];
        i = (i + 1) & (self->capacity - 1);
    }
    return NULL;
}

static void
s_stream_insert_raw (s_stream_t *table, size_t capacity, const s_stream_t *entry)
{
    size_t i = s_slot (entry->publisher, capacity);
    while (table[i].publisher)
        i = (i + 1) & (capacity - 1);
    table[i] = *entry;
}

//  Rebuild the table at `capacity`, leaving out `skip` (0 for none).
static int
s_streams_rebuild (bus_sub_t *self, size_t capacity, uint64_t skip)
{
    s_stream_t *table = (s_stream_t *)calloc (capacity, sizeof (s_stream_t));
    if (!table)
        return -1;
    size_t count = 0;
    for (size_t i = 0; i < self->capacity; i++)
        if (self->streams[i].publisher && self->streams[i].publisher != skip) {
            s_stream_insert_raw (table, capacity, &self->streams[i]);
            count++;
        }
    free (self->streams);
    self->streams = table;
    self->capacity = capacity;
    self->nstreams = count;
    return 0;
}

static s_stream_t *
s_stream_add (bus_sub_t *self, uint64_t publisher, uint64_t seq)
{
    if (self->nstreams >= S_MAX_PUBLISHERS) {
        //  Forget the publisher heard from least recently
        uint64_t oldest = 0, when = UINT64_MAX;
        for (size_t i = 0; i < self->capacity; i++)
            if (self->streams[i].publisher && self->streams[i].touched < when) {
                when = self->streams[i].touched;
                oldest = self->streams[i].publisher;
            }
        if (s_streams_rebuild (self, self->capacity, oldest) != 0)
            return NULL;
    }
    if ((self->nstreams + 1) * 2 > self->capacity &&
        s_streams_rebuild (self, self->capacity * 2, 0) != 0)
        return NULL;
    s_stream_t entry = {.publisher = publisher, .last = seq, .touched = self->received};
    s_stream_insert_raw (self->streams, self->capacity, &entry);
    self->nstreams++;
    return s_stream_find (self, publisher);
}

//  Track the sequence number. Returns 0 to deliver, -1 to drop (duplicate).
static int
s_track (bus_sub_t *self, uint64_t publisher, uint64_t seq)
{
    s_stream_t *stream = s_stream_find (self, publisher);
    if (!stream) {
        s_stream_add (self, publisher, seq);
        if (self->gap_fn)
            self->gap_fn (self->gap_arg, publisher, 0, seq);
        return 0;
    }
    stream->touched = self->received;
    if (seq == stream->last + 1) {
        stream->last = seq;
        return 0;
    }
    if (seq <= stream->last)
        return -1; //  duplicate or reordered: already past it
    uint64_t expected = stream->last + 1;
    self->missed += seq - expected;
    self->gaps++;
    stream->last = seq;
    if (self->gap_fn)
        self->gap_fn (self->gap_arg, publisher, expected, seq);
    return 0;
}

static void
s_malformed (bus_sub_t *self, const char *why)
{
    self->errors++;
    if (self->errors <= 10 || self->errors % S_LOG_EVERY == 0)
        zsys_warning ("bus_sub: dropped a malformed fact: %s (%" PRIu64 " so far)", why,
                      self->errors);
}

//  Receive the next frame of a message into `msg`. Returns 0, or -1.
static int
s_recv_part (bus_sub_t *self, zmq_msg_t *msg, int *more)
{
    if (zmq_msg_recv (msg, self->handle, 0) == -1)
        return -1;
    *more = zmq_msg_more (msg);
    return 0;
}

//  Receive one fact into self->body: 0, or -1 on timeout, interrupt or a
//  malformed message (counted). Tries without blocking first: polling only
//  when the queue is empty keeps the hot path to one syscall-free receive.
static int
s_recv (bus_sub_t *self, bus_fact_info_t *info, int timeout_ms)
{
    while (true) {
        int rc = zmq_msg_recv (&self->topic, self->handle, ZMQ_DONTWAIT);
        if (rc == -1) {
            if (zmq_errno () != EAGAIN || timeout_ms == 0)
                return -1;
            zmq_pollitem_t item = {self->handle, 0, ZMQ_POLLIN, 0};
            if (zmq_poll (&item, 1, timeout_ms) <= 0)
                return -1;
            continue;
        }
        int more = zmq_msg_more (&self->topic);
        int parts = 1;
        bool meta_ok = false;
        if (more) {
            if (s_recv_part (self, &self->meta, &more) == -1)
                return -1;
            parts++;
            meta_ok = zmq_msg_size (&self->meta) == BUS_FACT_META_SIZE;
        }
        if (more) {
            if (s_recv_part (self, &self->body, &more) == -1)
                return -1;
            parts++;
        }
        while (more) { //  swallow the rest of an over-long message
            if (s_recv_part (self, &self->extra, &more) == -1)
                return -1;
            parts++;
        }
        if (parts != 3) {
            s_malformed (self, "not three frames");
            return -1;
        }
        if (!meta_ok) {
            s_malformed (self, "meta frame is not 16 bytes");
            return -1;
        }
        const uint8_t *meta = (const uint8_t *)zmq_msg_data (&self->meta);
        uint64_t seq = s_get_u64 (meta);
        uint64_t publisher = s_get_u64 (meta + 8);
        self->received++;
        if (s_track (self, publisher, seq) != 0) {
            if (timeout_ms == 0)
                return -1;
            continue; //  a duplicate: wait for the next one
        }
        if (info) {
            info->publisher = publisher;
            info->seq = seq;
            info->size = zmq_msg_size (&self->body);
        }
        return 0;
    }
}

zframe_t *
bus_sub_recv_raw (bus_sub_t *self, bus_fact_info_t *info, int timeout_ms)
{
    assert (self);
    if (s_recv (self, info, timeout_ms) != 0)
        return NULL;
    return zframe_new (zmq_msg_data (&self->body), zmq_msg_size (&self->body));
}

proto_envelope_t *
bus_sub_recv (bus_sub_t *self, bus_fact_info_t *info, int timeout_ms)
{
    assert (self);
    if (s_recv (self, info, timeout_ms) != 0)
        return NULL;
    proto_error_t error;
    proto_envelope_t *envelope = proto_envelope_decode (
        zmq_msg_data (&self->body), zmq_msg_size (&self->body), NULL, &error);
    if (!envelope)
        s_malformed (self, error.message);
    return envelope;
}

uint64_t
bus_sub_missed (bus_sub_t *self)
{
    assert (self);
    return self->missed;
}

uint64_t
bus_sub_gaps (bus_sub_t *self)
{
    assert (self);
    return self->gaps;
}

uint64_t
bus_sub_errors (bus_sub_t *self)
{
    assert (self);
    return self->errors;
}

uint64_t
bus_sub_received (bus_sub_t *self)
{
    assert (self);
    return self->received;
}

zsock_t *
bus_sub_sock (bus_sub_t *self)
{
    assert (self);
    return self->sock;
}
