/*  bus_link: reliable command link. The sender (bus_link_t, DEALER) and
    the receiver (bus_inbox_t, ROUTER) share the wire helpers, so both live
    in this file.

    Sender: unacked commands live in a ring ordered by sequence number, each with the
    bytes it was first encoded to: a resend sends the very same bytes. The
    ring holds at most `window` entries; the last `unsent` of them have not
    gone out yet (the socket's queue was full) and go out in order as soon as
    it drains. Wire format and guarantees: bus_link.h and proto/PROTOCOL.md.
*/
#include "bus/bus_link.h"
#include "bus/bus_topology.h"
#include "bus/bus_security.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

typedef enum { PEER_UNKNOWN, PEER_ALIVE, PEER_DEAD } s_peer_state_t;

typedef struct {
    uint64_t seq;
    uint8_t id[PROTO_UUID_SIZE]; //  the envelope's id, for the ack handler
    uint8_t *data;               //  encoded envelope, sent as is every time
    size_t size;
    int64_t sent_at; //  monotonic ms of the last send (0 = never sent)
} s_entry_t;

struct _bus_link_t {
    zsock_t *sock;
    void *handle; //  raw libzmq socket, for the hot path
    char *name;
    bus_link_config_t config;
    uint64_t epoch;
    uint64_t last_seq;
    s_entry_t *ring; //  capacity config.window
    size_t head;     //  index of the oldest unacked entry
    size_t count;    //  unacked entries
    size_t unsent;   //  entries at the tail of the ring never sent yet
    msgpack_sbuffer buffer;
    int64_t created;
    int64_t last_send;  //  monotonic ms: anything sent
    int64_t last_heard; //  monotonic ms: anything received
    s_peer_state_t state;
    uint64_t sent;
    uint64_t resent;
    uint64_t acked;
    uint64_t ignored;       //  replies that were not understood
    uint64_t peer_instance; //  the receiver's instance, from its heartbeats
    bus_peer_fn *peer_fn;
    void *peer_arg;
    bus_reject_fn *reject_fn;
    void *reject_arg;
    bus_ack_fn *ack_fn;
    void *ack_arg;
};

void
bus_link_config_defaults (bus_link_config_t *config)
{
    assert (config);
    memset (config, 0, sizeof *config);
    config->heartbeat_ms = 1000;
    config->liveness = 3;
    config->resend_ms = 1000;
    config->window = 1024;
    config->send_timeout_ms = -1;
    config->max_msg_size = PROTO_MAX_SOCKET_MSG;
    config->batch_max = 256;
    config->dedup_retention_s = 86400;
}

//  Copy a caller's config, replacing values that make no sense with the
//  defaults.
static void
s_config_resolve (bus_link_config_t *out, const bus_link_config_t *config)
{
    bus_link_config_t defaults;
    bus_link_config_defaults (&defaults);
    if (!config) {
        *out = defaults;
        return;
    }
    *out = *config;
    if (out->heartbeat_ms <= 0)
        out->heartbeat_ms = defaults.heartbeat_ms;
    if (out->liveness <= 0)
        out->liveness = defaults.liveness;
    if (out->resend_ms <= 0)
        out->resend_ms = defaults.resend_ms;
    if (out->window == 0)
        out->window = defaults.window;
    if (out->send_timeout_ms < -1)
        out->send_timeout_ms = -1;
    if (out->max_msg_size == 0)
        out->max_msg_size = defaults.max_msg_size;
    if (out->batch_max == 0)
        out->batch_max = defaults.batch_max;
    if (out->dedup_retention_s <= 0)
        out->dedup_retention_s = defaults.dedup_retention_s;
}

static void
s_put_u64 (uint8_t *out, uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(value & 0xff);
        value >>= 8;
    }
}

static uint64_t
s_get_u64 (const uint8_t *in)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = (value << 8) | in[i];
    return value;
}

bus_link_t *
bus_link_new (const char *endpoint, const char *name, const bus_link_config_t *config)
{
    assert (endpoint);
    assert (name);
    size_t name_size = strlen (name);
    if (name_size == 0 || name_size > 255) {
        zsys_error ("bus_link: name '%s' must be 1..255 bytes", name);
        return NULL;
    }
    bus_link_t *self = (bus_link_t *)zmalloc (sizeof (bus_link_t));
    assert (self);
    s_config_resolve (&self->config, config);
    self->name = strdup (name);
    self->ring = (s_entry_t *)calloc (self->config.window, sizeof (s_entry_t));
    msgpack_sbuffer_init (&self->buffer);
    self->sock = zsock_new (ZMQ_DEALER);
    if (!self->name || !self->ring || !self->sock) {
        zsys_error ("bus_link %s: cannot create the socket", name);
        bus_link_destroy (&self);
        return NULL;
    }
    self->handle = zsock_resolve (self->sock);
    //  The queue must hold a full window of first sends plus a full window of
    //  resends; anything beyond waits in the ring (EAGAIN) for the next tick.
    size_t hwm = 2 * self->config.window + 64;
    int64_t max_msg_size = (int64_t)self->config.max_msg_size;
    int linger = 0;
    zsock_set_sndhwm (self->sock, hwm > INT_MAX ? INT_MAX : (int)hwm);
    zsock_set_linger (self->sock, 0);
    if (zmq_setsockopt (self->handle, ZMQ_ROUTING_ID, name, name_size) != 0 ||
        zmq_setsockopt (self->handle, ZMQ_MAXMSGSIZE, &max_msg_size,
                        sizeof max_msg_size) != 0 ||
        zmq_setsockopt (self->handle, ZMQ_LINGER, &linger, sizeof linger) != 0) {
        zsys_error ("bus_link %s: cannot set socket options: %s", name,
                    zmq_strerror (errno));
        bus_link_destroy (&self);
        return NULL;
    }
    if (bus_security_apply (self->sock, endpoint, false, self->config.curve_server_key) !=
        0) {
        zsys_error ("bus_link %s: not connecting to %s without CURVE", name, endpoint);
        bus_link_destroy (&self);
        return NULL;
    }
    if (zsock_connect (self->sock, "%s", endpoint) != 0) {
        zsys_error ("bus_link %s: cannot connect to %s: %s", name, endpoint,
                    zmq_strerror (errno));
        bus_link_destroy (&self);
        return NULL;
    }
    self->epoch = (uint64_t)proto_now_usec ();
    self->created = zclock_mono ();
    self->last_send = self->created;
    self->last_heard = self->created;
    self->state = PEER_UNKNOWN;
    return self;
}

void
bus_link_destroy (bus_link_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        bus_link_t *self = *self_p;
        if (self->sock) {
            zsock_set_linger (self->sock, 0);
            zsock_destroy (&self->sock);
        }
        if (self->ring) {
            for (size_t i = 0; i < self->count; i++)
                free (self->ring[(self->head + i) % self->config.window].data);
            free (self->ring);
        }
        msgpack_sbuffer_destroy (&self->buffer);
        free (self->name);
        free (self);
        *self_p = NULL;
    }
}

static s_entry_t *
s_entry_at (bus_link_t *self, size_t offset)
{
    return &self->ring[(self->head + offset) % self->config.window];
}

//  Send one entry as ["CMD"][epoch seq base][envelope] without blocking.
//  Returns 0, or -1 with errno (EAGAIN when the queue is full).
static int
s_send_entry (bus_link_t *self, s_entry_t *entry)
{
    uint8_t header[BUS_LINK_HDR_SIZE];
    s_put_u64 (header, self->epoch);
    s_put_u64 (header + 8, entry->seq);
    s_put_u64 (header + 16, s_entry_at (self, 0)->seq);
    if (zmq_send (self->handle, "CMD", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    //  Once the first part is queued the others are guaranteed to be
    if (zmq_send (self->handle, header, sizeof header, ZMQ_SNDMORE | ZMQ_DONTWAIT) ==
            -1 ||
        zmq_send (self->handle, entry->data, entry->size, ZMQ_DONTWAIT) == -1) {
        zsys_error ("bus_link %s: send failed mid-message: %s", self->name,
                    zmq_strerror (errno));
        return -1;
    }
    return 0;
}

//  Send the entries that never went out, oldest first, until the queue is
//  full.
static void
s_send_unsent (bus_link_t *self)
{
    while (self->unsent > 0) {
        s_entry_t *entry = s_entry_at (self, self->count - self->unsent);
        if (s_send_entry (self, entry) != 0)
            break;
        int64_t now = zclock_mono ();
        entry->sent_at = now;
        self->last_send = now;
        self->unsent--;
        self->sent++;
    }
}

//  Send every entry that already went out once again, in sequence order
//  (go-back-N: the receiver dropped whatever followed a missing one).
static void
s_resend_all (bus_link_t *self)
{
    size_t sent_entries = self->count - self->unsent;
    for (size_t i = 0; i < sent_entries; i++) {
        s_entry_t *entry = s_entry_at (self, i);
        if (s_send_entry (self, entry) != 0)
            break; //  queue full: the next tick tries again
        int64_t now = zclock_mono ();
        entry->sent_at = now;
        self->last_send = now;
        self->resent++;
    }
}

static void
s_peer_heard (bus_link_t *self)
{
    self->last_heard = zclock_mono ();
    if (self->state == PEER_ALIVE)
        return;
    bool was_dead = self->state == PEER_DEAD;
    self->state = PEER_ALIVE;
    if (self->peer_fn)
        (self->peer_fn) (self->peer_arg, self->name, BUS_PEER_UP);
    if (was_dead) {
        s_resend_all (self);
        s_send_unsent (self);
    }
}

static void
s_ack (bus_link_t *self, uint64_t seq)
{
    while (self->count > 0) {
        s_entry_t *entry = s_entry_at (self, 0);
        if (entry->seq > seq)
            break;
        free (entry->data);
        entry->data = NULL;
        self->head = (self->head + 1) % self->config.window;
        self->count--;
        self->acked++;
        if (self->ack_fn)
            (self->ack_fn) (self->ack_arg, entry->id);
    }
    if (self->unsent > self->count)
        self->unsent = self->count; //  acked before we sent it: a peer bug
}

static void
s_reject (bus_link_t *self, uint64_t seq, zmq_msg_t *code_msg, zmq_msg_t *text_msg)
{
    char code[64];
    char text[512];
    size_t size = zmq_msg_size (code_msg);
    if (size >= sizeof code)
        size = sizeof code - 1;
    memcpy (code, zmq_msg_data (code_msg), size);
    code[size] = 0;
    size = zmq_msg_size (text_msg);
    if (size >= sizeof text)
        size = sizeof text - 1;
    memcpy (text, zmq_msg_data (text_msg), size);
    text[size] = 0;

    s_entry_t *entry = NULL;
    for (size_t i = 0; i < self->count; i++)
        if (s_entry_at (self, i)->seq == seq) {
            entry = s_entry_at (self, i);
            break;
        }
    if (!entry) {
        zsys_warning ("bus_link %s: command %" PRIu64 " rejected (%s: %s) but no "
                      "longer held",
                      self->name, seq, code, text);
        return;
    }
    proto_error_t error;
    proto_envelope_t *command =
        proto_envelope_decode (entry->data, entry->size, NULL, &error);
    if (!command) {
        //  Our own encoding does not decode: the peer said why already
        zsys_warning ("bus_link %s: command %" PRIu64 " rejected (%s: %s)", self->name,
                      seq, code, text);
        return;
    }
    if (self->reject_fn)
        (self->reject_fn) (self->reject_arg, command, code, text);
    else
        zsys_warning ("bus_link %s: command %" PRIu64 " (%s) rejected: %s: %s",
                      self->name, seq, proto_envelope_type (command), code, text);
    proto_envelope_destroy (&command);
}

//  Receive one whole message without blocking: its first `max` parts into
//  `parts` (*kept of them, the caller closes those), the others dropped.
//  Returns the number of parts the message had, 0 when nothing is waiting.
static size_t
s_recv_parts (void *handle, zmq_msg_t *parts, size_t max, size_t *kept)
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

static void
s_close_parts (zmq_msg_t *parts, size_t kept)
{
    for (size_t i = 0; i < kept; i++)
        zmq_msg_close (&parts[i]);
}

static bool
s_verb_is (zmq_msg_t *part, const char *verb)
{
    size_t size = strlen (verb);
    return zmq_msg_size (part) == size && memcmp (zmq_msg_data (part), verb, size) == 0;
}

int
bus_link_handle (bus_link_t *self)
{
    assert (self);
    while (true) {
        zmq_msg_t parts[5];
        size_t kept;
        size_t nparts = s_recv_parts (self->handle, parts, 5, &kept);
        if (nparts == 0)
            break;
        s_peer_heard (self);
        if (s_verb_is (&parts[0], "ACK") && nparts == 3 &&
            zmq_msg_size (&parts[1]) == 8 && zmq_msg_size (&parts[2]) == 8) {
            uint64_t epoch = s_get_u64 ((uint8_t *)zmq_msg_data (&parts[1]));
            uint64_t seq = s_get_u64 ((uint8_t *)zmq_msg_data (&parts[2]));
            if (epoch == self->epoch)
                s_ack (self, seq);
        } else if (s_verb_is (&parts[0], "ERR") && nparts == 5 &&
                   zmq_msg_size (&parts[1]) == 8 && zmq_msg_size (&parts[2]) == 8) {
            uint64_t epoch = s_get_u64 ((uint8_t *)zmq_msg_data (&parts[1]));
            uint64_t seq = s_get_u64 ((uint8_t *)zmq_msg_data (&parts[2]));
            if (epoch == self->epoch)
                s_reject (self, seq, &parts[3], &parts[4]);
        } else if (s_verb_is (&parts[0], "HB") && nparts == 2 &&
                   zmq_msg_size (&parts[1]) == 8) {
            //  A receiver that restarted faster than the liveness window
            //  is a new peer all the same: say so (its owner registers
            //  again, say) and send it what is unacked
            uint64_t instance = s_get_u64 ((uint8_t *)zmq_msg_data (&parts[1]));
            bool restarted = self->peer_instance && instance != self->peer_instance;
            self->peer_instance = instance;
            if (restarted) {
                if (self->peer_fn)
                    (self->peer_fn) (self->peer_arg, self->name, BUS_PEER_UP);
                s_resend_all (self);
            }
        } else if (!(s_verb_is (&parts[0], "HB") && nparts == 1)) {
            if (self->ignored++ == 0)
                zsys_warning ("bus_link %s: ignoring a reply it does not understand "
                              "(%zu frames)",
                              self->name, nparts);
        }
        s_close_parts (parts, kept);
    }
    return 0;
}

void
bus_link_tick (bus_link_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    int64_t silence = (int64_t)self->config.liveness * self->config.heartbeat_ms;
    if (self->state != PEER_DEAD && now - self->last_heard >= silence) {
        bool was_alive = self->state == PEER_ALIVE;
        self->state = PEER_DEAD;
        if (was_alive && self->peer_fn)
            (self->peer_fn) (self->peer_arg, self->name, BUS_PEER_DOWN);
    }
    s_send_unsent (self);
    //  While the peer is dead resends would only pile up in the queue: they
    //  go out at once when it is heard again.
    if (self->state != PEER_DEAD && self->count > self->unsent &&
        now - s_entry_at (self, 0)->sent_at >= self->config.resend_ms)
        s_resend_all (self);
    if (now - self->last_send >= self->config.heartbeat_ms) {
        //  A full queue drops the heartbeat: it would not be the last word
        zmq_send (self->handle, "HB", 2, ZMQ_DONTWAIT);
        self->last_send = now;
    }
}

int
bus_link_timeout (bus_link_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    int64_t next = self->last_send + self->config.heartbeat_ms;
    if (self->state != PEER_DEAD) {
        int64_t silence = (int64_t)self->config.liveness * self->config.heartbeat_ms;
        if (self->last_heard + silence < next)
            next = self->last_heard + silence;
        if (self->count > self->unsent) {
            int64_t resend = s_entry_at (self, 0)->sent_at + self->config.resend_ms;
            if (resend < next)
                next = resend;
        }
    }
    if (self->unsent > 0 && now + 10 < next)
        next = now + 10; //  the queue was full: try again soon
    int64_t timeout = next - now;
    if (timeout < 0)
        timeout = 0;
    return timeout > INT_MAX ? INT_MAX : (int)timeout;
}

//  Service the socket and the timers until the window has room (room = true)
//  or everything is acked, or `timeout_ms` (-1 = no limit) passes.
static int
s_wait (bus_link_t *self, bool room, int timeout_ms)
{
    int64_t deadline = timeout_ms >= 0 ? zclock_mono () + timeout_ms : -1;
    zmq_pollitem_t item = {self->handle, 0, ZMQ_POLLIN, 0};
    while (room ? self->count >= self->config.window : self->count > 0) {
        if (zsys_interrupted)
            return -1;
        int64_t now = zclock_mono ();
        if (deadline >= 0 && now >= deadline)
            return -1;
        long wait = bus_link_timeout (self);
        if (deadline >= 0 && deadline - now < wait)
            wait = (long)(deadline - now);
        int rc = zmq_poll (&item, 1, wait);
        if (rc == -1 && errno != EINTR)
            return -1; //  context terminated
        if (rc > 0)
            bus_link_handle (self);
        bus_link_tick (self);
    }
    return 0;
}

//  Wait for room in the window. 0, or -1 (timeout, interrupt).
static int
s_wait_room (bus_link_t *self)
{
    if (self->count >= self->config.window) {
        bus_link_handle (self);
        if (self->count >= self->config.window &&
            s_wait (self, true, self->config.send_timeout_ms) != 0)
            return -1;
    }
    return 0;
}

//  Put an encoded command (owned `data`) at the end of the ring and send
//  what is unsent.
static void
s_enqueue (bus_link_t *self, const uint8_t id[PROTO_UUID_SIZE], uint8_t *data,
           size_t size)
{
    s_entry_t *entry = s_entry_at (self, self->count);
    entry->seq = ++self->last_seq;
    memcpy (entry->id, id, PROTO_UUID_SIZE);
    entry->data = data;
    entry->size = size;
    entry->sent_at = 0;
    self->count++;
    self->unsent++;
    s_send_unsent (self);
}

//  A frame the receiver would refuse (and libzmq would answer by dropping
//  the connection) must never enter the ring: it would be resent for ever
static bool
s_fits (bus_link_t *self, const char *type, size_t size)
{
    if (size <= PROTO_MAX_FRAME)
        return true;
    zsys_error ("bus_link %s: %s command of %zu bytes exceeds the %d-byte frame limit: "
                "not sent",
                self->name, type, size, PROTO_MAX_FRAME);
    errno = EMSGSIZE;
    return false;
}

int
bus_link_send (bus_link_t *self, proto_envelope_t **envelope_p)
{
    assert (self);
    assert (envelope_p);
    assert (*envelope_p);
    if (s_wait_room (self) != 0)
        return -1;
    msgpack_sbuffer_clear (&self->buffer);
    if (proto_envelope_encode (*envelope_p, &self->buffer) != 0) {
        zsys_error ("bus_link %s: cannot encode a command (out of memory)", self->name);
        return -1;
    }
    if (!s_fits (self, proto_envelope_type (*envelope_p), self->buffer.size))
        return -1;
    uint8_t *data = (uint8_t *)malloc (self->buffer.size);
    if (!data) {
        zsys_error ("bus_link %s: out of memory", self->name);
        return -1;
    }
    memcpy (data, self->buffer.data, self->buffer.size);
    s_enqueue (self, proto_envelope_id (*envelope_p), data, self->buffer.size);
    proto_envelope_destroy (envelope_p);
    return 0;
}

int
bus_link_send_encoded (bus_link_t *self, const uint8_t id[PROTO_UUID_SIZE],
                       uint8_t **data_p, size_t size)
{
    assert (self);
    assert (data_p);
    assert (*data_p);
    if (s_wait_room (self) != 0 || !s_fits (self, "an encoded", size))
        return -1;
    s_enqueue (self, id, *data_p, size);
    *data_p = NULL;
    return 0;
}

bool
bus_link_can_send (bus_link_t *self)
{
    assert (self);
    return self->count < self->config.window;
}

int
bus_link_flush (bus_link_t *self, int timeout_ms)
{
    assert (self);
    bus_link_handle (self);
    return s_wait (self, false, timeout_ms);
}

bool
bus_link_peer_alive (bus_link_t *self)
{
    assert (self);
    return self->state == PEER_ALIVE;
}

int64_t
bus_link_last_heard_usec (bus_link_t *self)
{
    assert (self);
    return proto_now_usec () - (zclock_mono () - self->last_heard) * 1000;
}

size_t
bus_link_unacked (bus_link_t *self)
{
    assert (self);
    return self->count;
}

uint64_t
bus_link_sent (bus_link_t *self)
{
    assert (self);
    return self->sent;
}

uint64_t
bus_link_resent (bus_link_t *self)
{
    assert (self);
    return self->resent;
}

void
bus_link_set_ack_handler (bus_link_t *self, bus_ack_fn *fn, void *arg)
{
    assert (self);
    self->ack_fn = fn;
    self->ack_arg = arg;
}

uint64_t
bus_link_acked (bus_link_t *self)
{
    assert (self);
    return self->acked;
}

void
bus_link_set_peer_handler (bus_link_t *self, bus_peer_fn *fn, void *arg)
{
    assert (self);
    self->peer_fn = fn;
    self->peer_arg = arg;
}

void
bus_link_set_reject_handler (bus_link_t *self, bus_reject_fn *fn, void *arg)
{
    assert (self);
    self->reject_fn = fn;
    self->reject_arg = arg;
}

zsock_t *
bus_link_sock (bus_link_t *self)
{
    assert (self);
    return self->sock;
}

//  ===========================================================================
//  Receiver (ROUTER)
//
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
    int64_t last_sent;
    bool alive;
    bool in_batch; //  listed in self->touched
    bool dirty;    //  position changed in this batch: write it
    bool reack;    //  sent a duplicate in this batch: ack again
} s_peer_t;

typedef enum { ITEM_ACCEPTED, ITEM_REJECTED, ITEM_DUPLICATE } s_item_result_t;

typedef struct {
    s_peer_t *peer;
    proto_envelope_t *envelope; //  NULL when it did not decode
    s_item_result_t result;
    bus_command_t info; //  reject_code / reject_message say why
} s_item_t;

#define S_MEMORY_SEEN       100000 //  ids remembered without a store
#define S_PRUNE_MAX         1000   //  processed ids deleted per tick
#define S_PRUNE_VISIT       1000   //  ids looked at per tick, at least
#define S_PRUNE_INTERVAL_MS 1000
#define S_LOG_EVERY         1000 //  after the first few, log 1 drop in this many

struct _bus_inbox_t {
    zsock_t *sock;
    void *handle;
    uint64_t instance; //  random, new at each start: in every HB
    char *name;
    char *endpoint;
    bus_link_config_t config;
    zhashx_t *peers; //  name -> s_peer_t
    s_item_t *items; //  the batch (config.batch_max)
    size_t nitems;
    s_peer_t **touched; //  peers that sent something in the batch
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

    zhashx_t *memory_seen; //  without a store: the last S_MEMORY_SEEN ids
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
    bool curve; //  the endpoint is CURVE: its messages carry a User-Id
    uint64_t send_failures;
};

int
bus_command_reject (bus_command_t *command, const char *code, const char *format, ...)
{
    assert (command);
    snprintf (command->reject_code, sizeof command->reject_code, "%s",
              code && *code ? code : "rejected");
    va_list args;
    va_start (args, format);
    vsnprintf (command->reject_message, sizeof command->reject_message, format, args);
    va_end (args);
    return -1;
}

static void
s_peer_destroy (s_peer_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->name);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_peer_destructor (void **item)
{
    s_peer_destroy ((s_peer_t **)item);
}

//  Printable name of a routing id: the id itself when it is text, else
//  "0x" and its bytes in hex (ids ZeroMQ generates start with a zero byte).
static void
s_rid_name (const uint8_t *rid, size_t size, char *name, size_t name_size)
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

static s_peer_t *
s_peer_new (bus_inbox_t *self, const char *name)
{
    s_peer_t *peer = (s_peer_t *)zmalloc (sizeof (s_peer_t));
    assert (peer);
    peer->name = strdup (name);
    assert (peer->name);
    zhashx_insert (self->peers, name, peer);
    return peer;
}

static void
s_peer_down (bus_inbox_t *self, s_peer_t *peer)
{
    if (peer->alive) {
        peer->alive = false;
        if (self->peer_fn)
            (self->peer_fn) (self->peer_arg, peer->name, BUS_PEER_DOWN);
    }
}

//  Send a reply: the peer's routing id, then `nparts` parts. A peer that
//  cannot take it (gone: EHOSTUNREACH; not reading: EAGAIN) is marked down;
//  whatever it misses it asks for again (a sender resends until acked).
static int
s_send_reply (bus_inbox_t *self, s_peer_t *peer, const void **data, const size_t *size,
              size_t nparts)
{
    if (peer->rid_size == 0)
        return -1;
    if (zmq_send (self->handle, peer->rid, peer->rid_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) ==
        -1) {
        int error = errno;
        self->send_failures++;
        if (peer->alive)
            zsys_warning ("bus_inbox %s: cannot reply to %s (%s): marking it down",
                          self->name, peer->name, zmq_strerror (error));
        s_peer_down (self, peer);
        return -1;
    }
    for (size_t i = 0; i < nparts; i++)
        if (zmq_send (self->handle, data[i], size[i],
                      (i + 1 < nparts ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) == -1) {
            self->send_failures++;
            zsys_error ("bus_inbox %s: reply to %s failed mid-message: %s", self->name,
                        peer->name, zmq_strerror (errno));
            return -1;
        }
    peer->last_sent = zclock_mono ();
    return 0;
}

static void
s_send_heartbeat (bus_inbox_t *self, s_peer_t *peer)
{
    uint8_t instance[8];
    s_put_u64 (instance, self->instance);
    const void *data[2] = {"HB", instance};
    size_t size[2] = {2, 8};
    s_send_reply (self, peer, data, size, 2);
}

static void
s_send_ack (bus_inbox_t *self, s_peer_t *peer)
{
    uint8_t epoch[8], seq[8];
    s_put_u64 (epoch, peer->epoch);
    s_put_u64 (seq, peer->last);
    const void *data[3] = {"ACK", epoch, seq};
    size_t size[3] = {3, 8, 8};
    s_send_reply (self, peer, data, size, 3);
}

static void
s_send_error (bus_inbox_t *self, s_item_t *item)
{
    uint8_t epoch[8], seq[8];
    s_put_u64 (epoch, item->info.epoch);
    s_put_u64 (seq, item->info.seq);
    const void *data[5] = {"ERR", epoch, seq, item->info.reject_code,
                           item->info.reject_message};
    size_t size[5] = {3, 8, 8, strlen (item->info.reject_code),
                      strlen (item->info.reject_message)};
    s_send_reply (self, item->peer, data, size, 5);
}

static void
s_touch (bus_inbox_t *self, s_peer_t *peer)
{
    if (!peer->in_batch) {
        assert (self->ntouched < self->config.batch_max);
        peer->in_batch = true;
        self->touched[self->ntouched++] = peer;
    }
}

static void
s_drop (bus_inbox_t *self, s_peer_t *peer, uint64_t *counter, const char *what)
{
    (*counter)++;
    if (*counter <= 10 || *counter % S_LOG_EVERY == 0)
        zsys_warning ("bus_inbox %s: dropped %s from %s (%" PRIu64 " so far)", self->name,
                      what, peer ? peer->name : "?", *counter);
}

//  One CMD: decide from the header whether it is the next one expected, and
//  if so decode it into the batch.
static void
s_handle_command (bus_inbox_t *self, s_peer_t *peer, zmq_msg_t *header_part,
                  zmq_msg_t *envelope_part)
{
    const uint8_t *header = (const uint8_t *)zmq_msg_data (header_part);
    uint64_t epoch = s_get_u64 (header);
    uint64_t seq = s_get_u64 (header + 8);
    uint64_t base = s_get_u64 (header + 16);
    if (epoch == 0 || seq == 0) {
        s_drop (self, peer, &self->malformed, "a command with epoch or seq 0");
        return;
    }
    if (epoch < peer->pending_epoch) {
        s_drop (self, peer, &self->stale, "a command from an older epoch");
        return;
    }
    if (epoch > peer->pending_epoch) {
        //  The sender restarted: its numbering starts again
        peer->pending_epoch = epoch;
        peer->pending_last = 0;
        peer->dirty = true;
        s_touch (self, peer);
    }
    uint64_t expected = peer->pending_last + 1 > base ? peer->pending_last + 1 : base;
    if (seq < expected) {
        self->duplicates++;
        peer->reack = true;
        s_touch (self, peer);
        return;
    }
    if (seq > expected) {
        self->out_of_order++; //  go-back-N: it comes again after the missing one
        return;
    }
    s_item_t *item = &self->items[self->nitems++];
    memset (item, 0, sizeof *item);
    item->peer = peer;
    item->info.peer = peer->name;
    item->info.epoch = epoch;
    item->info.seq = seq;
    proto_error_t error;
    item->envelope = proto_envelope_decode (zmq_msg_data (envelope_part),
                                            zmq_msg_size (envelope_part), NULL, &error);
    if (!item->envelope) {
        snprintf (item->info.reject_code, sizeof item->info.reject_code, "%s",
                  proto_code_name (error.code));
        snprintf (item->info.reject_message, sizeof item->info.reject_message, "%s",
                  error.message);
        zsys_warning ("bus_inbox %s: command %" PRIu64 " from %s does not decode: %s: %s",
                      self->name, seq, peer->name, item->info.reject_code,
                      item->info.reject_message);
    }
    peer->pending_last = seq;
    peer->dirty = true;
    s_touch (self, peer);
}

//  Receive and sort out one message. Returns false when nothing was waiting.
static bool
s_recv_one (bus_inbox_t *self)
{
    zmq_msg_t parts[4];
    size_t kept;
    size_t nparts = s_recv_parts (self->handle, parts, 4, &kept);
    if (nparts == 0)
        return false;
    if (nparts < 2) {
        s_drop (self, NULL, &self->malformed, "a message without a body");
        s_close_parts (parts, kept);
        return true;
    }
    //  Who sent it: the connection's properties (User-Id, role) are on the
    //  frames that came over the wire, not on the routing id the ROUTER
    //  makes up (zmq_msg_gets on parts[0] finds none)
    if (bus_security_user (&parts[1])) {
        //  A person's key: commands come from attune processes only
        s_drop (self, NULL, &self->refused,
                "a message from a user key (a cert with a role)");
        s_close_parts (parts, kept);
        return true;
    }
    if (self->config.executor_only && self->curve &&
        !bus_security_from_executor (&parts[1])) {
        //  Second line of defence: the handshake admits the executor only
        const char *user_id = zmq_msg_gets (&parts[1], "User-Id");
        char what[128];
        snprintf (what, sizeof what, "a message from key %.40s: not the executor's",
                  user_id ? user_id : "(none)");
        s_drop (self, NULL, &self->refused, what);
        s_close_parts (parts, kept);
        return true;
    }
    char name[2 * 256 + 3];
    size_t rid_size = zmq_msg_size (&parts[0]);
    if (rid_size > 255)
        rid_size = 255;
    s_rid_name ((const uint8_t *)zmq_msg_data (&parts[0]), rid_size, name, sizeof name);
    s_peer_t *peer = (s_peer_t *)zhashx_lookup (self->peers, name);
    if (!peer)
        peer = s_peer_new (self, name);
    memcpy (peer->rid, zmq_msg_data (&parts[0]), rid_size);
    peer->rid_size = rid_size;
    peer->last_heard = zclock_mono ();
    if (!peer->alive) {
        peer->alive = true;
        if (self->peer_fn)
            (self->peer_fn) (self->peer_arg, peer->name, BUS_PEER_UP);
        s_send_heartbeat (self, peer); //  tell it at once we are here
    }
    if (s_verb_is (&parts[1], "CMD")) {
        if (nparts == 4 && zmq_msg_size (&parts[2]) == BUS_LINK_HDR_SIZE)
            s_handle_command (self, peer, &parts[2], &parts[3]);
        else
            s_drop (self, peer, &self->malformed,
                    "a CMD with a bad header or frame count");
    } else if (!(s_verb_is (&parts[1], "HB") && nparts == 2))
        s_drop (self, peer, &self->malformed, "a message with an unknown verb");
    s_close_parts (parts, kept);
    return true;
}

static bool
s_memory_seen (bus_inbox_t *self, const uint8_t *id)
{
    return zhashx_lookup (self->memory_seen, id) != NULL;
}

static void
s_memory_remember (bus_inbox_t *self, const uint8_t *id)
{
    uint8_t *slot = self->memory_ring[self->memory_next];
    if (zhashx_size (self->memory_seen) >= S_MEMORY_SEEN)
        zhashx_delete (self->memory_seen, slot); //  forget the oldest
    memcpy (slot, id, PROTO_UUID_SIZE);
    zhashx_insert (self->memory_seen, slot, slot);
    self->memory_next = (self->memory_next + 1) % S_MEMORY_SEEN;
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

//  Peers table record: msgpack [epoch, last] as two uint64.
#define S_PEER_RECORD_SIZE 19

static void
s_peer_record (uint64_t epoch, uint64_t last, uint8_t *record)
{
    record[0] = 0x92;
    record[1] = 0xcf;
    s_put_u64 (record + 2, epoch);
    record[10] = 0xcf;
    s_put_u64 (record + 11, last);
}

//  Whether the handler drops redeliveries of this command itself
static bool
s_handler_dedups (bus_inbox_t *self, proto_envelope_t *envelope)
{
    const char *type = proto_envelope_type (envelope);
    for (size_t i = 0; i < self->ndedup_types; i++)
        if (strcmp (type, self->dedup_types[i]) == 0)
            return true;
    return false;
}

//  The batch's write transaction (txn NULL without a store). Runs again from
//  the start if the store grows its map, so it changes nothing outside the
//  transaction except the items' results, which it sets afresh.
static int
s_write (store_txn_t *txn, void *arg)
{
    bus_inbox_t *self = (bus_inbox_t *)arg;
    uint8_t ts_record[9];
    ts_record[0] = 0xcf;
    s_put_u64 (ts_record + 1, (uint64_t)self->batch_ts);
    for (size_t i = 0; i < self->nitems; i++) {
        s_item_t *item = &self->items[i];
        if (!item->envelope) {
            item->result = ITEM_REJECTED; //  did not decode: processed, and refused
            continue;
        }
        const uint8_t *id = proto_envelope_id (item->envelope);
        bool seen_table = txn && !s_handler_dedups (self, item->envelope);
        if (seen_table) {
            const void *data;
            size_t size;
            store_code_t code =
                store_get (txn, self->seen_table, id, PROTO_UUID_SIZE, &data, &size);
            if (code == STORE_OK) {
                item->result = ITEM_DUPLICATE;
                continue;
            }
            if (code != STORE_NOTFOUND)
                return -1;
        } else if (!txn && s_memory_seen (self, id)) {
            item->result = ITEM_DUPLICATE;
            continue;
        }
        item->info.reject_code[0] = 0;
        item->info.reject_message[0] = 0;
        if ((self->fn) (self->fn_arg, txn, item->envelope, &item->info) == 0)
            item->result = ITEM_ACCEPTED;
        else {
            item->result = ITEM_REJECTED;
            if (!item->info.reject_code[0])
                snprintf (item->info.reject_code, sizeof item->info.reject_code,
                          "rejected");
        }
        if (seen_table) {
            if (store_put (txn, self->seen_table, id, PROTO_UUID_SIZE, ts_record,
                           sizeof ts_record) != STORE_OK)
                return -1;
            self->processed++; //  a retried batch counts twice: only a pace
        } else if (!txn)
            s_memory_remember (self, id);
    }
    if (txn && self->batch_end && (self->batch_end) (self->batch_end_arg, txn) != 0)
        return -1;
    if (txn)
        for (size_t i = 0; i < self->ntouched; i++) {
            s_peer_t *peer = self->touched[i];
            if (!peer->dirty)
                continue;
            uint8_t record[S_PEER_RECORD_SIZE];
            s_peer_record (peer->pending_epoch, peer->pending_last, record);
            if (store_put (txn, self->peers_table, peer->name, strlen (peer->name),
                           record, sizeof record) != STORE_OK)
                return -1;
        }
    return 0;
}

//  Forget the batch: its envelopes and the peers' batch flags.
static void
s_batch_clear (bus_inbox_t *self)
{
    for (size_t i = 0; i < self->nitems; i++)
        proto_envelope_destroy (&self->items[i].envelope);
    self->nitems = 0;
    for (size_t i = 0; i < self->ntouched; i++) {
        s_peer_t *peer = self->touched[i];
        peer->in_batch = peer->dirty = peer->reack = false;
    }
    self->ntouched = 0;
}

static int
s_load_peers (bus_inbox_t *self)
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
        if (key_size == 0 || key_size > 2 * 256 + 2 || size != S_PEER_RECORD_SIZE ||
            data[0] != 0x92 || data[1] != 0xcf || data[10] != 0xcf)
            zsys_warning ("bus_inbox %s: skipping a bad record in inbox.%s.peers",
                          self->name, self->name);
        else {
            char name[2 * 256 + 3];
            memcpy (name, key, key_size);
            name[key_size] = 0;
            s_peer_t *peer = (s_peer_t *)zhashx_lookup (self->peers, name);
            if (!peer)
                peer = s_peer_new (self, name);
            peer->epoch = peer->pending_epoch = s_get_u64 (data + 2);
            peer->last = peer->pending_last = s_get_u64 (data + 11);
        }
        code = store_cursor_next (cursor);
    }
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    return code == STORE_NOTFOUND ? 0 : -1;
}

bus_inbox_t *
bus_inbox_new (const char *endpoint, const char *name, store_t *store,
               const bus_link_config_t *config)
{
    assert (endpoint);
    assert (name);
    if (!*name) {
        zsys_error ("bus_inbox: empty name");
        return NULL;
    }
    bus_inbox_t *self = (bus_inbox_t *)zmalloc (sizeof (bus_inbox_t));
    assert (self);
    s_config_resolve (&self->config, config);
    self->name = strdup (name);
    self->store = store;
    //  Tells senders apart a restart of ours, however quick
    uint8_t uuid[PROTO_UUID_SIZE];
    proto_uuid_generate (uuid);
    memcpy (&self->instance, uuid + 8, sizeof self->instance); //  the random half
    if (self->instance == 0)
        self->instance = 1;
    self->peers = zhashx_new ();
    self->items = (s_item_t *)calloc (self->config.batch_max, sizeof (s_item_t));
    self->touched = (s_peer_t **)calloc (self->config.batch_max, sizeof (s_peer_t *));
    if (!self->name || !self->peers || !self->items || !self->touched) {
        zsys_error ("bus_inbox %s: out of memory", name);
        bus_inbox_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->peers, s_peer_destructor);
    if (store) {
        char table[300];
        snprintf (table, sizeof table, "inbox.%s.peers", name);
        self->peers_table = store_table (store, table, false);
        snprintf (table, sizeof table, "inbox.%s.seen", name);
        self->seen_table = store_table (store, table, false);
        snprintf (table, sizeof table, "inbox.%s.seen_ts", name);
        self->seen_ts_table = store_table (store, table, false);
        self->prune_keys = calloc (S_PRUNE_MAX, sizeof *self->prune_keys);
        if (!self->peers_table || !self->seen_table || !self->seen_ts_table ||
            !self->prune_keys || s_load_peers (self) != 0) {
            zsys_error ("bus_inbox %s: cannot open its tables: %s", name,
                        store_last_error (store));
            bus_inbox_destroy (&self);
            return NULL;
        }
    } else {
        self->memory_seen = zhashx_new ();
        self->memory_ring = calloc (S_MEMORY_SEEN, sizeof *self->memory_ring);
        if (!self->memory_seen || !self->memory_ring) {
            zsys_error ("bus_inbox %s: out of memory", name);
            bus_inbox_destroy (&self);
            return NULL;
        }
        zhashx_set_key_hasher (self->memory_seen, s_id_hash);
        zhashx_set_key_comparator (self->memory_seen, s_id_compare);
        zhashx_set_key_duplicator (self->memory_seen, NULL);
        zhashx_set_key_destructor (self->memory_seen, NULL);
    }
    self->sock = zsock_new (ZMQ_ROUTER);
    if (!self->sock) {
        zsys_error ("bus_inbox %s: cannot create the socket", name);
        bus_inbox_destroy (&self);
        return NULL;
    }
    self->handle = zsock_resolve (self->sock);
    int on = 1;
    int linger = 0;
    int64_t max_msg_size = (int64_t)self->config.max_msg_size;
    if (zmq_setsockopt (self->handle, ZMQ_ROUTER_MANDATORY, &on, sizeof on) != 0 ||
        zmq_setsockopt (self->handle, ZMQ_ROUTER_HANDOVER, &on, sizeof on) != 0 ||
        zmq_setsockopt (self->handle, ZMQ_MAXMSGSIZE, &max_msg_size,
                        sizeof max_msg_size) != 0 ||
        zmq_setsockopt (self->handle, ZMQ_LINGER, &linger, sizeof linger) != 0) {
        zsys_error ("bus_inbox %s: cannot set socket options: %s", name,
                    zmq_strerror (errno));
        bus_inbox_destroy (&self);
        return NULL;
    }
    int secured = self->config.executor_only
                      ? bus_security_apply_executor (self->sock, endpoint)
                      : bus_security_apply (self->sock, endpoint, true, NULL);
    self->curve = zsock_mechanism (self->sock) == ZMQ_CURVE;
    if (secured != 0) {
        zsys_error ("bus_inbox %s: not binding %s without CURVE", name, endpoint);
        bus_inbox_destroy (&self);
        return NULL;
    }
    if (bus_topology_bind_socket (self->sock, endpoint) == -1) {
        zsys_error ("bus_inbox %s: cannot bind to %s: %s", name, endpoint,
                    zmq_strerror (errno));
        bus_inbox_destroy (&self);
        return NULL;
    }
    self->endpoint = zsock_last_endpoint (self->sock);
    if (!self->endpoint)
        self->endpoint = strdup (endpoint);
    self->next_prune = zclock_mono () + S_PRUNE_INTERVAL_MS;
    return self;
}

void
bus_inbox_destroy (bus_inbox_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        bus_inbox_t *self = *self_p;
        if (self->sock) {
            zsock_set_linger (self->sock, 0);
            zsock_destroy (&self->sock);
        }
        if (self->items) {
            for (size_t i = 0; i < self->nitems; i++)
                proto_envelope_destroy (&self->items[i].envelope);
            free (self->items);
        }
        free (self->touched);
        zhashx_destroy (&self->peers);
        zhashx_destroy (&self->memory_seen);
        free (self->memory_ring);
        free (self->prune_keys);
        free (self->endpoint);
        free (self->name);
        free (self);
        *self_p = NULL;
    }
}

int
bus_inbox_process (bus_inbox_t *self, bus_inbox_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    for (size_t received = 0; received < self->config.batch_max; received++)
        if (!s_recv_one (self))
            break;
    if (self->ntouched == 0)
        return 0;

    if (self->nitems > 0 || !self->store) {
        self->fn = fn;
        self->fn_arg = arg;
        self->batch_ts = proto_now_usec ();
        store_code_t code = STORE_OK;
        if (self->store)
            code = store_write (self->store, s_write, self);
        else if (s_write (NULL, self) != 0)
            code = STORE_INTERNAL;
        if (code != STORE_OK) {
            if (code != STORE_IO) //  a full or failing disk is said once by the store
                zsys_error ("bus_inbox %s: cannot commit %zu commands (%s: %s); not "
                            "acked, senders will resend",
                            self->name, self->nitems, store_strerror (code),
                            self->store ? store_last_error (self->store) : "");
            for (size_t i = 0; i < self->ntouched; i++) {
                s_peer_t *peer = self->touched[i];
                peer->pending_epoch = peer->epoch;
                peer->pending_last = peer->last;
            }
            s_batch_clear (self);
            return -1;
        }
    }
    //  Durable: account, then tell the senders (errors before the acks that
    //  cover them, so a sender still holds the command it is told about)
    int delivered = 0;
    for (size_t i = 0; i < self->nitems; i++) {
        s_item_t *item = &self->items[i];
        if (item->result == ITEM_ACCEPTED)
            delivered++;
        else if (item->result == ITEM_DUPLICATE)
            self->duplicates++;
        else {
            self->rejected++;
            s_send_error (self, item);
        }
    }
    self->delivered += (uint64_t)delivered;
    for (size_t i = 0; i < self->ntouched; i++) {
        s_peer_t *peer = self->touched[i];
        peer->epoch = peer->pending_epoch;
        peer->last = peer->pending_last;
        if (peer->last > 0)
            s_send_ack (self, peer);
    }
    s_batch_clear (self);
    return delivered;
}

//  Pruning: the seen table (id -> the ts it was processed at) is walked a
//  slice at a time from where the last slice stopped, wrapping at the end;
//  the ids of a slice that are past the retention time are deleted in a
//  write of their own, only when there are some. A full pass visits every
//  id, so none is kept much longer than retention plus one pass; with
//  time-ordered ids (UUIDv7) the expired ones are at the front anyway.
//  Stores of earlier versions also have a seen_ts table (ts + id -> nil);
//  it is no longer written, and emptied S_PRUNE_MAX entries per tick.

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
    size_t visit = S_PRUNE_VISIT + 4 * (size_t)(self->processed - self->processed_scan);
    self->processed_scan = self->processed;
    size_t visited = 0;
    while (code == STORE_OK && self->nprune < S_PRUNE_MAX && visited < visit) {
        size_t key_size, size;
        const uint8_t *key = (const uint8_t *)store_cursor_key (cursor, &key_size);
        const uint8_t *data = (const uint8_t *)store_cursor_data (cursor, &size);
        visited++;
        //  A record that is not a processed ts cannot be trusted: pruned
        bool expired = size != 9 || data[0] != 0xcf ||
                       (int64_t)s_get_u64 (data + 1) < self->prune_cutoff;
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
        for (size_t i = 0; code == STORE_OK && i < S_PRUNE_MAX; i++) {
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
bus_inbox_tick (bus_inbox_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    int64_t silence = (int64_t)self->config.liveness * self->config.heartbeat_ms;
    zlistx_t *forget = NULL;
    for (s_peer_t *peer = (s_peer_t *)zhashx_first (self->peers); peer;
         peer = (s_peer_t *)zhashx_next (self->peers)) {
        if (peer->alive && now - peer->last_heard >= silence)
            s_peer_down (self, peer);
        else if (peer->alive && now - peer->last_sent >= self->config.heartbeat_ms)
            s_send_heartbeat (self, peer);
        //  A dead peer that never sent a command has nothing to remember
        if (!peer->alive && peer->pending_epoch == 0 && !peer->in_batch) {
            if (!forget)
                forget = zlistx_new ();
            zlistx_add_end (forget, peer->name);
        }
    }
    if (forget) {
        for (char *name = (char *)zlistx_first (forget); name;
             name = (char *)zlistx_next (forget))
            zhashx_delete (self->peers, name);
        zlistx_destroy (&forget);
    }
    if (self->store && now >= self->next_prune) {
        self->next_prune = now + S_PRUNE_INTERVAL_MS;
        self->prune_cutoff = proto_now_usec () - self->config.dedup_retention_s * 1000000;
        if (s_prune_scan (self) != 0)
            zsys_error ("bus_inbox %s: cannot read processed ids (%s)", self->name,
                        store_last_error (self->store));
        else if (self->nprune > 0 || self->legacy_left) {
            bool legacy = self->legacy_left;
            store_code_t code = store_write (self->store, s_prune, self);
            if (code != STORE_OK) {
                zsys_error ("bus_inbox %s: cannot prune processed ids (%s: %s)",
                            self->name, store_strerror (code),
                            store_last_error (self->store));
                self->prune_from_set = false; //  the next pass finds them again
            } else if (legacy)
                self->legacy_checked = false; //  look again after this slice
        }
        if (self->nprune == S_PRUNE_MAX || self->legacy_left)
            self->next_prune = now; //  more to delete: next tick
    }
}

int
bus_inbox_timeout (bus_inbox_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    int64_t silence = (int64_t)self->config.liveness * self->config.heartbeat_ms;
    int64_t next = now + self->config.heartbeat_ms;
    for (s_peer_t *peer = (s_peer_t *)zhashx_first (self->peers); peer;
         peer = (s_peer_t *)zhashx_next (self->peers)) {
        if (!peer->alive)
            continue;
        if (peer->last_sent + self->config.heartbeat_ms < next)
            next = peer->last_sent + self->config.heartbeat_ms;
        if (peer->last_heard + silence < next)
            next = peer->last_heard + silence;
    }
    if (self->store && self->next_prune < next)
        next = self->next_prune;
    int64_t timeout = next - now;
    if (timeout < 0)
        timeout = 0;
    return timeout > INT_MAX ? INT_MAX : (int)timeout;
}

const char *
bus_inbox_endpoint (bus_inbox_t *self)
{
    assert (self);
    return self->endpoint;
}

int
bus_inbox_set_handler_dedups (bus_inbox_t *self, const char *type)
{
    assert (self);
    assert (type);
    if (self->ndedup_types == 4 || strlen (type) >= sizeof self->dedup_types[0])
        return -1;
    strcpy (self->dedup_types[self->ndedup_types++], type);
    return 0;
}

void
bus_inbox_set_batch_end (bus_inbox_t *self, bus_batch_fn *fn, void *arg)
{
    assert (self);
    self->batch_end = fn;
    self->batch_end_arg = arg;
}

void
bus_inbox_set_peer_handler (bus_inbox_t *self, bus_peer_fn *fn, void *arg)
{
    assert (self);
    self->peer_fn = fn;
    self->peer_arg = arg;
}

bool
bus_inbox_peer_alive (bus_inbox_t *self, const char *peer)
{
    assert (self);
    assert (peer);
    s_peer_t *found = (s_peer_t *)zhashx_lookup (self->peers, peer);
    return found && found->alive;
}

uint64_t
bus_inbox_delivered (bus_inbox_t *self)
{
    assert (self);
    return self->delivered;
}

uint64_t
bus_inbox_duplicates (bus_inbox_t *self)
{
    assert (self);
    return self->duplicates;
}

uint64_t
bus_inbox_out_of_order (bus_inbox_t *self)
{
    assert (self);
    return self->out_of_order;
}

uint64_t
bus_inbox_rejected (bus_inbox_t *self)
{
    assert (self);
    return self->rejected;
}

uint64_t
bus_inbox_refused (bus_inbox_t *self)
{
    assert (self);
    return self->refused;
}

uint64_t
bus_inbox_malformed (bus_inbox_t *self)
{
    assert (self);
    return self->malformed;
}

zsock_t *
bus_inbox_sock (bus_inbox_t *self)
{
    assert (self);
    return self->sock;
}
