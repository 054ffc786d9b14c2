/*  rules_internal: the rules actor's state, shared by its classes: rules.c
    (the actor: loop, pipe, outbox, attempts) and rules_enforce.c (events
    in, enforcements out). Not a public header.
*/
#ifndef RULES_INTERNAL_H_INCLUDED
#define RULES_INTERNAL_H_INCLUDED

#include "actors/rules/rules.h"
#include "actors/actor_effects.h"
#include "actors/actor_loop.h"
#include "actors/registry/registry_client.h"
#include "actors/rules/rules_kv.h"
#include "actors/rules/rules_query.h"
#include "actors/rules/rules_retention.h"
#include "actors/rules/rules_sync.h"
#include "proto/proto_messages.h"
#include "actors/rules/rules_set.h"
#include "actors/rules/rules_template.h"
#include "bus/bus_facts.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"
#include "proto/proto_json.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <unistd.h>

#define S_ACK_FLUSH_MS  50   //  acked outbox entries wait at most this long
#define S_ACK_FLUSH_MAX 4096 //  ... or until this many are waiting
#define S_MAX_TRIGGER   256  //  longest trigger type ref

//  ---------------------------------------------------------------------------
//  Outgoing commands: a growable ring

typedef struct {
    uint64_t oid;                //  outbox id
    uint8_t id[PROTO_UUID_SIZE]; //  envelope id
    uint8_t *data;               //  the encoded envelope, as stored in the
    size_t size;                 //  outbox; queued: owned; inflight: NULL
} rules_out_t;

typedef struct {
    rules_out_t *items;
    size_t head;
    size_t count;
    size_t capacity;
} rules_fifo_t;
//  ---------------------------------------------------------------------------
//  Actor state

typedef struct {
    zsock_t *pipe;
    actor_loop_t *loop;
    char source[300];
    store_t *store;
    store_table_t *events;
    store_table_t *enforcements;
    store_table_t *outbox;
    store_table_t *counters;
    bus_inbox_t *inbox;
    actor_query_t *query;         //  rules.query: api reads
    rules_retention_t *retention; //  purges: TTL sweeps and api.purge
    bus_pub_t *pub;
    bus_link_t *link;
    registry_client_t *registry;
    rules_kv_t *kv;       //  st2kv keys in templates (rules_kv.h)
    char packs_dir[1024]; //  config_context in templates (rules_config.h)
    rules_sync_t *sync;   //  rules.sync requests waiting for a registry change
    rules_set_t *rules;
    msgpack_sbuffer record;  //  a stored record
    msgpack_sbuffer params;  //  rendered parameters, packed once
    msgpack_sbuffer payload; //  a fact or command payload
    msgpack_sbuffer encoded; //  an encoded envelope (outbox)
    json_t *context_cache;   //  the last event's evaluation context (rules_enforce)

    //  The current write attempt: its effects (facts, commands) and counts
    actor_effects_t *effects;
    size_t attempt_acked; //  acked[0 .. attempt_acked) deleted in it
    uint64_t attempt_duplicates;
    uint64_t attempt_refused;

    //  Outbox in memory
    rules_fifo_t queue;
    rules_fifo_t inflight;
    uint64_t outbox_last;    //  last outbox id of a committed write
    uint64_t outbox_pending; //  ... and of the running attempt
    uint64_t *acked;         //  outbox ids acked, not yet deleted
    size_t nacked;
    size_t acked_capacity;
    int64_t ack_flush_at; //  monotonic ms

    uint64_t duplicates; //  event.create of an event already stored
    uint64_t refused;    //  events of a batch refused (the inbox counts the rest)
    uint64_t sent;       //  commands handed to the link (resends at start included)
    uint64_t acks;       //  commands acked
    bool synced;
    bool processed;   //  the inbox was read this turn
    int heartbeat_ms; //  rules.heartbeat every interval
} rules_t;

//  The inbox handler of rules.commands (`arg` is the actor): event.create
//  (or each event of an event.create.batch) checked against proto_messages,
//  the event stored, its rules evaluated, their enforcements stored with
//  their outbox commands. 0, or a reject, or
//  -1 when the store failed.
int rules_enforce_command (void *arg, store_txn_t *txn, proto_envelope_t *command,
                           bus_command_t *info);

//  The rule tester (api.rule.test): whether `rule` matches `event` ({event,
//  trigger, payload, ts}), each criterion's outcome and, when it matches,
//  the action parameters as they would be rendered (or the error). Nothing
//  is stored or sent. New reference; NULL when out of memory.
json_t *rules_enforce_test (rules_t *self, const rules_rule_t *rule, const json_t *event);

//  First handler call of a write attempt: delete the acked outbox entries
//  and tie the attempt's effects to the commit. 0 or -1 (store failure).
int rules_attempt_begin (rules_t *self, store_txn_t *txn);

//  A fact to publish after the attempt commits (takes the envelope; dropped
//  if it does not commit).
void rules_effect_fact (rules_t *self, proto_envelope_t *fact);

//  A command to send after the attempt commits: the bytes just stored in the
//  outbox under `oid` (copied), sent as they are. 0, or -1 out of memory.
int rules_effect_command (rules_t *self, uint64_t oid, const uint8_t id[PROTO_UUID_SIZE],
                          const msgpack_sbuffer *encoded);

#endif
