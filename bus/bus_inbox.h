/*  bus_inbox: the receiver (ROUTER) of reliable commands sent by bus_link
    (DEALER). Wire format and guarantees: bus_link.h and proto/PROTOCOL.md.

    Per sender name the inbox accepts only the next expected sequence
    number, acks every command once it is durable and drops any command
    whose envelope id it has already processed. With a store, the per-sender
    position and the processed ids are written in the same transaction as
    the handler's changes, and acks go out only after the commit: every
    command reaches the handler exactly once, in per-sender order, across
    receiver crashes. On a CURVE endpoint (bus_security.h) it is a CURVE
    server and drops, counts and logs messages from user keys.
*/
#ifndef BUS_INBOX_H_INCLUDED
#define BUS_INBOX_H_INCLUDED

#include <stdbool.h>
#include <czmq.h>
#include "bus/bus_link.h"
#include "proto/proto_envelope.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _bus_inbox_t bus_inbox_t;

//  One delivered command, as the handler sees it.
typedef struct {
    const char *peer; //  sender name
    uint64_t epoch;
    uint64_t seq;
    char reject_code[32]; //  set by bus_command_reject
    char reject_message[256];
} bus_command_t;

//  Mark the command rejected for good (sent back as ERR). Return the result
//  of this from the handler. Always returns -1.
int bus_command_reject (bus_command_t *command, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Handle one command inside the batch's write transaction (`txn` is NULL
//  for an inbox without a store). Return 0 when accepted (its changes are in
//  txn), or bus_command_reject (...) without having written anything. May be
//  called again for the same batch if the store grows its map: keep effects
//  outside the transaction in store_txn_on_commit callbacks.
typedef int (bus_inbox_fn) (void *arg, store_txn_t *txn, proto_envelope_t *command,
                            bus_command_t *info);

//  New inbox bound to `endpoint`. `name` names its state tables in `store`
//  ("executor" -> tables "inbox.executor.peers" / ".seen"; ".seen_ts" only
//  drained, from stores of earlier versions).
//  `store` NULL keeps the state in memory only. NULL on failure.
bus_inbox_t *bus_inbox_new (const char *endpoint, const char *name, store_t *store,
                            const bus_link_config_t *config);
void bus_inbox_destroy (bus_inbox_t **self_p);

//  Say that the handler itself drops a redelivered command of `type`: what
//  it applies is keyed by the command's id or by a natural key of its
//  payload, looked up in the same transaction (rules: an event is stored
//  under its event.create id; executor: one execution per enforcement), so
//  a second copy cannot apply twice. The inbox then neither reads nor writes
//  its processed-id (seen) table for commands of that type: one table fewer
//  dirtied per commit. Ordering (epoch, seq) is kept as before. A rejected
//  command is not remembered: a redelivered one is rejected again, so the
//  handler must reject such commands from their payload alone. Up to 4
//  types; call before the first bus_inbox_process. 0, or -1 (too many).
int bus_inbox_set_handler_dedups (bus_inbox_t *self, const char *type);

//  Drain up to batch_max waiting messages, deliver the new in-order commands
//  to `fn` in one store transaction, commit, then ack. Call when the socket is
//  readable. Returns the number of commands delivered, or -1 when the store
//  failed (nothing acked: senders will resend).
int bus_inbox_process (bus_inbox_t *self, bus_inbox_fn *fn, void *arg);

//  Timers: heartbeats to live peers, liveness, pruning old processed ids.
void bus_inbox_tick (bus_inbox_t *self);
int bus_inbox_timeout (bus_inbox_t *self);

//  Endpoint actually bound (port resolved). Owned by self.
const char *bus_inbox_endpoint (bus_inbox_t *self);
void bus_inbox_set_peer_handler (bus_inbox_t *self, bus_peer_fn *fn, void *arg);

//  With a store: `fn` runs last in every batch's transaction, after the
//  handler has seen each command (a retried batch runs it again), so an
//  owner can fold work of its own into the batch's one commit. Nonzero
//  fails the batch (nothing acked: the senders resend).
typedef int (bus_batch_fn) (void *arg, store_txn_t *txn);
void bus_inbox_set_batch_end (bus_inbox_t *self, bus_batch_fn *fn, void *arg);
bool bus_inbox_peer_alive (bus_inbox_t *self, const char *peer);
uint64_t bus_inbox_delivered (bus_inbox_t *self);
uint64_t bus_inbox_duplicates (bus_inbox_t *self);   //  by seq or by id
uint64_t bus_inbox_out_of_order (bus_inbox_t *self); //  dropped, awaiting resend
uint64_t bus_inbox_rejected (bus_inbox_t *self);     //  ERR sent (handler or decode)
uint64_t bus_inbox_malformed (bus_inbox_t *self);    //  unparseable frames dropped
//  Heartbeats missed by live senders (bus_link_heartbeats_missed's rule).
uint64_t bus_inbox_heartbeats_missed (bus_inbox_t *self);
//  Dropped: from user keys (bus_security_user), or, executor_only, from any
//  key but the executor's.
uint64_t bus_inbox_refused (bus_inbox_t *self);
zsock_t *bus_inbox_sock (bus_inbox_t *self);

#ifdef __cplusplus
}
#endif

#endif
