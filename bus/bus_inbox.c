/*  bus_inbox: the receiver of the reliable command link (ROUTER); the
    sender is bus_link (DEALER). Wire format and guarantees: bus_link.h,
    bus_inbox.h and proto/PROTOCOL.md.
*/
#include "bus/bus_inbox.h"
#include "bus/bus_inbox_internal.h"
#include "bus/bus_link_internal.h"
#include "bus/bus_topology.h"
#include "bus/bus_security.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define S_LOG_EVERY 1000 //  after the first few, log 1 drop in this many

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

//  Send a reply: the peer's routing id, then `nparts` parts. A peer that
//  cannot take it (gone: EHOSTUNREACH; not reading: EAGAIN) is marked down;
//  whatever it misses it asks for again (a sender resends until acked).
static int
s_send_reply (bus_inbox_t *self, bus_inbox_peer_t *peer, const void **data,
              const size_t *size, size_t nparts)
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
        bus_inbox_peer_down (self, peer);
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
s_send_heartbeat (bus_inbox_t *self, bus_inbox_peer_t *peer)
{
    uint8_t instance[8];
    bus_link_put_u64 (instance, self->instance);
    const void *data[2] = {"HB", instance};
    size_t size[2] = {2, 8};
    s_send_reply (self, peer, data, size, 2);
}

static void
s_send_ack (bus_inbox_t *self, bus_inbox_peer_t *peer)
{
    uint8_t epoch[8], seq[8];
    bus_link_put_u64 (epoch, peer->epoch);
    bus_link_put_u64 (seq, peer->last);
    const void *data[3] = {"ACK", epoch, seq};
    size_t size[3] = {3, 8, 8};
    s_send_reply (self, peer, data, size, 3);
}

static void
s_send_error (bus_inbox_t *self, bus_inbox_item_t *item)
{
    uint8_t epoch[8], seq[8];
    bus_link_put_u64 (epoch, item->info.epoch);
    bus_link_put_u64 (seq, item->info.seq);
    const void *data[5] = {"ERR", epoch, seq, item->info.reject_code,
                           item->info.reject_message};
    size_t size[5] = {3, 8, 8, strlen (item->info.reject_code),
                      strlen (item->info.reject_message)};
    s_send_reply (self, item->peer, data, size, 5);
}

static void
s_touch (bus_inbox_t *self, bus_inbox_peer_t *peer)
{
    if (!peer->in_batch) {
        assert (self->ntouched < self->config.batch_max);
        peer->in_batch = true;
        self->touched[self->ntouched++] = peer;
    }
}

static void
s_drop (bus_inbox_t *self, bus_inbox_peer_t *peer, uint64_t *counter, const char *what)
{
    (*counter)++;
    if (*counter <= 10 || *counter % S_LOG_EVERY == 0)
        zsys_warning ("bus_inbox %s: dropped %s from %s (%" PRIu64 " so far)", self->name,
                      what, peer ? peer->name : "?", *counter);
}

//  One CMD: decide from the header whether it is the next one expected, and
//  if so decode it into the batch.
static void
s_handle_command (bus_inbox_t *self, bus_inbox_peer_t *peer, zmq_msg_t *header_part,
                  zmq_msg_t *envelope_part)
{
    const uint8_t *header = (const uint8_t *)zmq_msg_data (header_part);
    uint64_t epoch = bus_link_get_u64 (header);
    uint64_t seq = bus_link_get_u64 (header + 8);
    uint64_t base = bus_link_get_u64 (header + 16);
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
    bus_inbox_item_t *item = &self->items[self->nitems++];
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
    size_t nparts = bus_link_recv_parts (self->handle, parts, 4, &kept);
    if (nparts == 0)
        return false;
    if (nparts < 2) {
        s_drop (self, NULL, &self->malformed, "a message without a body");
        bus_link_close_parts (parts, kept);
        return true;
    }
    //  Who sent it: the connection's properties (User-Id, role) are on the
    //  frames that came over the wire, not on the routing id the ROUTER
    //  makes up (zmq_msg_gets on parts[0] finds none)
    if (bus_security_user (&parts[1])) {
        //  A person's key: commands come from attune processes only
        s_drop (self, NULL, &self->refused,
                "a message from a user key (a cert with a role)");
        bus_link_close_parts (parts, kept);
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
        bus_link_close_parts (parts, kept);
        return true;
    }
    char name[2 * 256 + 3];
    size_t rid_size = zmq_msg_size (&parts[0]);
    if (rid_size > 255)
        rid_size = 255;
    bus_inbox_rid_name ((const uint8_t *)zmq_msg_data (&parts[0]), rid_size, name,
                        sizeof name);
    bus_inbox_peer_t *peer = (bus_inbox_peer_t *)zhashx_lookup (self->peers, name);
    if (!peer)
        peer = bus_inbox_peer_new (self, name);
    memcpy (peer->rid, zmq_msg_data (&parts[0]), rid_size);
    peer->rid_size = rid_size;
    peer->last_heard = zclock_mono ();
    if (!peer->alive) {
        peer->alive = true;
        if (self->peer_fn)
            (self->peer_fn) (self->peer_arg, peer->name, BUS_PEER_UP);
        s_send_heartbeat (self, peer); //  tell it at once we are here
    }
    if (bus_link_verb_is (&parts[1], "CMD")) {
        if (nparts == 4 && zmq_msg_size (&parts[2]) == BUS_LINK_HDR_SIZE)
            s_handle_command (self, peer, &parts[2], &parts[3]);
        else
            s_drop (self, peer, &self->malformed,
                    "a CMD with a bad header or frame count");
    } else if (!(bus_link_verb_is (&parts[1], "HB") && nparts == 2))
        s_drop (self, peer, &self->malformed, "a message with an unknown verb");
    bus_link_close_parts (parts, kept);
    return true;
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
    bus_link_put_u64 (ts_record + 1, (uint64_t)self->batch_ts);
    for (size_t i = 0; i < self->nitems; i++) {
        bus_inbox_item_t *item = &self->items[i];
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
        } else if (!txn && bus_inbox_seen_memory_has (self, id)) {
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
            bus_inbox_seen_memory_add (self, id);
    }
    if (txn && self->batch_end && (self->batch_end) (self->batch_end_arg, txn) != 0)
        return -1;
    if (txn)
        for (size_t i = 0; i < self->ntouched; i++) {
            bus_inbox_peer_t *peer = self->touched[i];
            if (!peer->dirty)
                continue;
            uint8_t record[BUS_INBOX_PEER_RECORD_SIZE];
            bus_inbox_peer_record (peer->pending_epoch, peer->pending_last, record);
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
        bus_inbox_peer_t *peer = self->touched[i];
        peer->in_batch = peer->dirty = peer->reack = false;
    }
    self->ntouched = 0;
}

//  The inbox's config, name and batch arrays. 0, or -1 (out of memory, said).
static int
s_init (bus_inbox_t *self, const char *name, store_t *store,
        const bus_link_config_t *config)
{
    bus_link_config_resolve (&self->config, config);
    self->name = strdup (name);
    self->store = store;
    //  Tells senders apart a restart of ours, however quick
    uint8_t uuid[PROTO_UUID_SIZE];
    proto_uuid_generate (uuid);
    memcpy (&self->instance, uuid + 8, sizeof self->instance); //  the random half
    if (self->instance == 0)
        self->instance = 1;
    self->peers = zhashx_new ();
    self->items =
        (bus_inbox_item_t *)calloc (self->config.batch_max, sizeof (bus_inbox_item_t));
    self->touched =
        (bus_inbox_peer_t **)calloc (self->config.batch_max, sizeof (bus_inbox_peer_t *));
    if (!self->name || !self->peers || !self->items || !self->touched) {
        zsys_error ("bus_inbox %s: out of memory", name);
        return -1;
    }
    zhashx_set_destructor (self->peers, bus_inbox_peer_destructor);
    return 0;
}

//  Where the inbox keeps its state: its tables in the store (peers loaded),
//  or, without a store, the last BUS_INBOX_MEMORY_SEEN ids in memory. 0, or -1 (said).
static int
s_state_open (bus_inbox_t *self, const char *name, store_t *store)
{
    if (store) {
        char table[300];
        snprintf (table, sizeof table, "inbox.%s.peers", name);
        self->peers_table = store_table (store, table, false);
        snprintf (table, sizeof table, "inbox.%s.seen", name);
        self->seen_table = store_table (store, table, false);
        snprintf (table, sizeof table, "inbox.%s.seen_ts", name);
        self->seen_ts_table = store_table (store, table, false);
        self->prune_keys = calloc (BUS_INBOX_PRUNE_MAX, sizeof *self->prune_keys);
        if (!self->peers_table || !self->seen_table || !self->seen_ts_table ||
            !self->prune_keys || bus_inbox_peers_load (self) != 0) {
            zsys_error ("bus_inbox %s: cannot open its tables: %s", name,
                        store_last_error (store));
            return -1;
        }
    } else {
        if (bus_inbox_seen_memory_open (self) != 0) {
            zsys_error ("bus_inbox %s: out of memory", name);
            return -1;
        }
    }
    return 0;
}

//  The ROUTER socket: options, CURVE where the endpoint needs it, bound to
//  `endpoint`. 0, or -1 (said).
static int
s_sock_open (bus_inbox_t *self, const char *endpoint, const char *name)
{
    self->sock = zsock_new (ZMQ_ROUTER);
    if (!self->sock) {
        zsys_error ("bus_inbox %s: cannot create the socket", name);
        return -1;
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
        return -1;
    }
    int secured = self->config.executor_only
                      ? bus_security_apply_executor (self->sock, endpoint)
                      : bus_security_apply (self->sock, endpoint, true, NULL);
    self->curve = zsock_mechanism (self->sock) == ZMQ_CURVE;
    if (secured != 0) {
        zsys_error ("bus_inbox %s: not binding %s without CURVE", name, endpoint);
        return -1;
    }
    if (bus_topology_bind_socket (self->sock, endpoint) == -1) {
        zsys_error ("bus_inbox %s: cannot bind to %s: %s", name, endpoint,
                    zmq_strerror (errno));
        return -1;
    }
    self->endpoint = zsock_last_endpoint (self->sock);
    if (!self->endpoint)
        self->endpoint = strdup (endpoint);
    return 0;
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
    if (s_init (self, name, store, config) != 0 ||
        s_state_open (self, name, store) != 0 ||
        s_sock_open (self, endpoint, name) != 0) {
        bus_inbox_destroy (&self);
        return NULL;
    }
    self->next_prune = zclock_mono () + BUS_INBOX_PRUNE_INTERVAL_MS;
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
                bus_inbox_peer_t *peer = self->touched[i];
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
        bus_inbox_item_t *item = &self->items[i];
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
        bus_inbox_peer_t *peer = self->touched[i];
        peer->epoch = peer->pending_epoch;
        peer->last = peer->pending_last;
        if (peer->last > 0)
            s_send_ack (self, peer);
    }
    s_batch_clear (self);
    return delivered;
}

void
bus_inbox_tick (bus_inbox_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    int64_t silence = (int64_t)self->config.liveness * self->config.heartbeat_ms;
    zlistx_t *forget = NULL;
    for (bus_inbox_peer_t *peer = (bus_inbox_peer_t *)zhashx_first (self->peers); peer;
         peer = (bus_inbox_peer_t *)zhashx_next (self->peers)) {
        if (peer->alive)
            bus_link_count_missed (now, peer->last_heard, self->config.heartbeat_ms,
                                   self->config.liveness, &peer->missed_heard,
                                   &peer->missed_counted, &self->missed);
        if (peer->alive && now - peer->last_heard >= silence)
            bus_inbox_peer_down (self, peer);
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
    if (self->store && now >= self->next_prune)
        bus_inbox_seen_prune (self, now);
}

int
bus_inbox_timeout (bus_inbox_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    int64_t silence = (int64_t)self->config.liveness * self->config.heartbeat_ms;
    int64_t next = now + self->config.heartbeat_ms;
    for (bus_inbox_peer_t *peer = (bus_inbox_peer_t *)zhashx_first (self->peers); peer;
         peer = (bus_inbox_peer_t *)zhashx_next (self->peers)) {
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
    bus_inbox_peer_t *found = (bus_inbox_peer_t *)zhashx_lookup (self->peers, peer);
    return found && found->alive;
}

uint64_t
bus_inbox_heartbeats_missed (bus_inbox_t *self)
{
    assert (self);
    return self->missed;
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
