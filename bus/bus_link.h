/*  bus_link: reliable commands, DEALER (bus_link) -> ROUTER (bus_inbox).
    This header is the sender's API and the config both sides take; the
    receiver's is bus/bus_inbox.h.

    Wire (proto/PROTOCOL.md, "Commands"). DEALER -> ROUTER:

        ["CMD"][hdr][envelope]   hdr = 24 bytes, three uint64 big-endian:
                                 epoch (sender start time, usec), seq (1, 2 ..
                                 within the epoch), base (lowest unacked seq)
        ["HB"]                   heartbeat

    ROUTER -> DEALER:

        ["ACK"][epoch 8][seq 8]              every command of that epoch with a
                                             sequence number <= seq is durable
        ["ERR"][epoch 8][seq 8][code][text]  that command was rejected for good
                                             (it is also covered by ACKs)
        ["HB"]

    The sender's routing id is its name (unique per sender); the inbox turns
    on ZMQ_ROUTER_HANDOVER (a reconnecting sender takes its name back) and
    ZMQ_ROUTER_MANDATORY (an unroutable reply is an error, not a silent
    drop); both sides set ZMQ_MAXMSGSIZE.

    Guarantees: the sender keeps every unacked command and resends it, same
    id and sequence number, after `resend_ms` or as soon as the receiver is
    heard again after being declared dead. The receiver accepts, per sender,
    only the next expected sequence number (max (last + 1, base)): later ones
    are dropped until the missing one is resent (go-back-N), earlier ones are
    duplicates (acked again, not delivered). It also drops any command whose
    envelope id it has already processed (across sender restarts). With a
    store, the per-sender position and the processed ids are written in the
    same transaction as the handler's changes, and acks go out only after the
    commit: every command reaches the handler exactly once, in per-sender
    order, across receiver crashes.

    At most `window` commands are unacked at a time: bus_link_send blocks
    (servicing acks and heartbeats) rather than dropping.

    On a tcp endpoint that needs CURVE (bus_security.h) the inbox is a CURVE
    server and the link a CURVE client; either refuses to start (NULL)
    rather than go plaintext. The inbox drops, counts and logs messages from
    user keys (certs with a `role`): commands come from attune processes.
    A worker's inbox (config executor_only) admits the executor's key only,
    at the handshake and again on every message.

    Both sides heartbeat every `heartbeat_ms` when otherwise silent and
    declare the other dead after `liveness` silent intervals.
*/
#ifndef BUS_LINK_H_INCLUDED
#define BUS_LINK_H_INCLUDED

#include <stdbool.h>
#include <czmq.h>
#include "proto/proto_envelope.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BUS_LINK_HDR_SIZE 24

typedef struct {
    int heartbeat_ms; //  default 1000
    int liveness;     //  default 3
    int resend_ms;    //  default 1000
    size_t window;    //  default 1024 unacked commands
    int send_timeout_ms; //  bus_link_send wait when the window is full; -1 (default) = no limit
    size_t max_msg_size;       //  ZMQ_MAXMSGSIZE; default PROTO_MAX_SOCKET_MSG
    size_t batch_max;          //  inbox: commands per store transaction; default 256
    int64_t dedup_retention_s; //  inbox: keep processed ids this long; default 86400
    //  link: the receiver's CURVE public key (z85) when its endpoint needs
    //  CURVE (bus_security.h); "" (default) = the process's configured server
    //  key. The executor sets it to each worker's registered key.
    char curve_server_key[41];
    //  inbox: commands from the executor only (a worker's endpoint). On a
    //  CURVE endpoint the handshake admits the executor's key alone
    //  (bus_security_apply_executor: attuned --executor-cert) and every
    //  message must carry it as its User-Id (bus_security_from_executor);
    //  any other is dropped, counted (bus_inbox_refused) and logged. No
    //  effect where the endpoint is not CURVE. Default false: peer keys.
    bool executor_only;
} bus_link_config_t;

typedef enum { BUS_PEER_UP = 1, BUS_PEER_DOWN = 2 } bus_peer_event_t;

//  A peer came up or went down (after `liveness` silent intervals).
typedef void (bus_peer_fn) (void *arg, const char *peer, bus_peer_event_t event);

//  Fill a config with the defaults.
void bus_link_config_defaults (bus_link_config_t *config);

typedef struct _bus_link_t bus_link_t;

//  Called when the receiver rejects a command for good (ERR).
typedef void (bus_reject_fn) (void *arg, const proto_envelope_t *command,
                              const char *code, const char *message);

//  New link connecting to `endpoint`, routing id `name` (unique per sender,
//  1..255 bytes, e.g. "rules@host1"). `config` may be NULL. NULL on failure.
bus_link_t *bus_link_new (const char *endpoint, const char *name,
                          const bus_link_config_t *config);
void bus_link_destroy (bus_link_t **self_p);

//  Send a command, taking ownership of the envelope (cleared on success).
//  Blocks while the window is full, servicing the socket, up to
//  send_timeout_ms. Returns 0, or -1 on timeout/interrupt, or with errno
//  EMSGSIZE when the encoded envelope exceeds PROTO_MAX_FRAME (the envelope
//  stays with the caller).
int bus_link_send (bus_link_t *self, proto_envelope_t **envelope_p);

//  Send a command already encoded (an envelope's bytes, as a sender that
//  stores its commands before sending keeps them: encoded once), taking
//  ownership of the malloc'd `*data_p` (cleared on success). `id` is the
//  envelope's id, which acks and rejects name. Same blocking and errors as
//  bus_link_send.
int bus_link_send_encoded (bus_link_t *self, const uint8_t id[PROTO_UUID_SIZE],
                           uint8_t **data_p, size_t size);

//  True when a send would not block.
bool bus_link_can_send (bus_link_t *self);

//  Handle everything waiting on the socket (acks, errors, heartbeats),
//  without blocking. Call when the socket is readable. Returns 0.
int bus_link_handle (bus_link_t *self);

//  Run timers: heartbeats, liveness, resends. Call at least every
//  bus_link_timeout () ms.
void bus_link_tick (bus_link_t *self);

//  Milliseconds until the next tick is due (for zpoller_wait).
int bus_link_timeout (bus_link_t *self);

//  Wait until every command is acked, up to `timeout_ms`. 0 or -1.
int bus_link_flush (bus_link_t *self, int timeout_ms);

bool bus_link_peer_alive (bus_link_t *self);
//  When the peer was last heard from (wall clock, µs since the epoch).
int64_t bus_link_last_heard_usec (bus_link_t *self);
size_t bus_link_unacked (bus_link_t *self);
uint64_t bus_link_sent (bus_link_t *self);   //  commands sent (first time)
uint64_t bus_link_resent (bus_link_t *self); //  resends
uint64_t bus_link_acked (bus_link_t *self);  //  commands acked
//  Heartbeat intervals the receiver was silent for, past the first of each
//  silence (at most `liveness` per silence): heartbeats missed.
uint64_t bus_link_heartbeats_missed (bus_link_t *self);
void bus_link_set_peer_handler (bus_link_t *self, bus_peer_fn *fn, void *arg);
void bus_link_set_reject_handler (bus_link_t *self, bus_reject_fn *fn, void *arg);

//  Called once per command when an ACK covers it (rejected commands too, after
//  the reject handler), with the envelope id: a sender with a durable outbox
//  deletes the command here. Runs inside bus_link_handle / send / flush.
typedef void (bus_ack_fn) (void *arg, const uint8_t id[PROTO_UUID_SIZE]);
void bus_link_set_ack_handler (bus_link_t *self, bus_ack_fn *fn, void *arg);
zsock_t *bus_link_sock (bus_link_t *self);

#ifdef __cplusplus
}
#endif

#endif
