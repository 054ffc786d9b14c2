/*  bus_link: the sender of the reliable command link (DEALER); the
    receiver is bus_inbox (ROUTER), and the wire helpers both use are in
    bus_link_internal.h.

    Unacked commands live in a ring ordered by sequence number, each with the
    bytes it was first encoded to: a resend sends the very same bytes. The
    ring holds at most `window` entries; the last `unsent` of them have not
    gone out yet (the socket's queue was full) and go out in order as soon as
    it drains. Wire format and guarantees: bus_link.h and proto/PROTOCOL.md.
*/
#include "bus/bus_link.h"
#include "bus/bus_link_internal.h"
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
    uint64_t missed;        //  heartbeat intervals the receiver was silent for
    int64_t missed_heard;   //  ... the silence being counted (its last_heard)
    int64_t missed_counted; //  ... and how much of it is counted
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

void
bus_link_config_resolve (bus_link_config_t *out, const bus_link_config_t *config)
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
    bus_link_config_resolve (&self->config, config);
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
    bus_link_put_u64 (header, self->epoch);
    bus_link_put_u64 (header + 8, entry->seq);
    bus_link_put_u64 (header + 16, s_entry_at (self, 0)->seq);
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

int
bus_link_handle (bus_link_t *self)
{
    assert (self);
    while (true) {
        zmq_msg_t parts[5];
        size_t kept;
        size_t nparts = bus_link_recv_parts (self->handle, parts, 5, &kept);
        if (nparts == 0)
            break;
        s_peer_heard (self);
        if (bus_link_verb_is (&parts[0], "ACK") && nparts == 3 &&
            zmq_msg_size (&parts[1]) == 8 && zmq_msg_size (&parts[2]) == 8) {
            uint64_t epoch = bus_link_get_u64 ((uint8_t *)zmq_msg_data (&parts[1]));
            uint64_t seq = bus_link_get_u64 ((uint8_t *)zmq_msg_data (&parts[2]));
            if (epoch == self->epoch)
                s_ack (self, seq);
        } else if (bus_link_verb_is (&parts[0], "ERR") && nparts == 5 &&
                   zmq_msg_size (&parts[1]) == 8 && zmq_msg_size (&parts[2]) == 8) {
            uint64_t epoch = bus_link_get_u64 ((uint8_t *)zmq_msg_data (&parts[1]));
            uint64_t seq = bus_link_get_u64 ((uint8_t *)zmq_msg_data (&parts[2]));
            if (epoch == self->epoch)
                s_reject (self, seq, &parts[3], &parts[4]);
        } else if (bus_link_verb_is (&parts[0], "HB") && nparts == 2 &&
                   zmq_msg_size (&parts[1]) == 8) {
            //  A receiver that restarted faster than the liveness window
            //  is a new peer all the same: say so (its owner registers
            //  again, say) and send it what is unacked
            uint64_t instance = bus_link_get_u64 ((uint8_t *)zmq_msg_data (&parts[1]));
            bool restarted = self->peer_instance && instance != self->peer_instance;
            self->peer_instance = instance;
            if (restarted) {
                if (self->peer_fn)
                    (self->peer_fn) (self->peer_arg, self->name, BUS_PEER_UP);
                s_resend_all (self);
            }
        } else if (!(bus_link_verb_is (&parts[0], "HB") && nparts == 1)) {
            if (self->ignored++ == 0)
                zsys_warning ("bus_link %s: ignoring a reply it does not understand "
                              "(%zu frames)",
                              self->name, nparts);
        }
        bus_link_close_parts (parts, kept);
    }
    return 0;
}

void
bus_link_tick (bus_link_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    int64_t silence = (int64_t)self->config.liveness * self->config.heartbeat_ms;
    bus_link_count_missed (now, self->last_heard, self->config.heartbeat_ms,
                           self->config.liveness, &self->missed_heard,
                           &self->missed_counted, &self->missed);
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
bus_link_heartbeats_missed (bus_link_t *self)
{
    assert (self);
    return self->missed;
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
