/*  rules: the actor that turns events into enforcements.

    Endpoints (proto/PROTOCOL.md, "Pipeline messages"):
        rules.commands      ROUTER  (bus_inbox, store <data_dir>/rules)
                                    event.create
        rules.facts         PUB     event.created, enforcement.created,
                                    rules.heartbeat (every heartbeat interval)
        executor.commands   DEALER  (bus_link "rules@<host>")
                                    enforcement.create
    It keeps the rule definitions through a registry_client and does not
    take commands before its first registry snapshot (events wait, unacked,
    in the senders' links, instead of being judged against no rules).

    For each event.create (envelope id E):
      - the event id is E as a canonical UUID; an event already stored is a
        redelivery and changes nothing;
      - the event is stored, then every enabled rule whose trigger.type is
        the event's trigger, whose trigger.parameters equal the event's
        trigger_parameters (when the event carries any) and whose criteria
        hold gets one enforcement (natural key (event, rule)) with its action
        parameters rendered (rules_template; the string `cmd` of a shell
        action, or of an action it does not know, as a shell command: each
        inserted value quoted as one word), status "created"; a render
        failure stores status "failed" with the reason, and sends nothing;
      - each created enforcement puts an enforcement.create command into a
        durable outbox in the same transaction; after the commit the facts
        go out and the outbox commands are sent over the link. An ACK of a
        command deletes it from the outbox (batched into the next write). At
        start the outbox is sent again (the executor drops duplicates).
    Envelopes it makes carry corr = the event command's id and the command's
    trace (or, when it has none, the event id).

    Evaluation and template context:
        {"trigger": {"type", "payload"},
         "event": {"id", "ts"}, "rule": {"ref"}}

    Tables (records are msgpack maps):
        events           event uuid (16 bytes) -> the event.created payload
                         {event, trigger, trigger_parameters, payload, ts}
        enforcements     enforcement uuid (16) -> {enforcement, rule, event,
                         action, status, reason?, parameters?, ts}
        enforcements.key (earlier versions: event uuid + rule ref ->
                         enforcement uuid; no longer written, the event's
                         own record keeps (event, rule) unique)
        outbox           8-byte id (creation order) -> encoded envelope
        counters         "failed" -> uint
    plus the inbox's own tables (inbox.rules.*; its processed-id table is
    not written: the events table, keyed by the command id, drops
    redeliveries).

    Pipe commands: "$TERM"; "STATUS" -> JSON {events, enforcements, failed,
    outbox, rules, synced, queued, inflight, duplicates, rejected, sent};
    anything else -> the unknown reply (actor.h). The loop is actor_loop's.
*/
#ifndef RULES_H_INCLUDED
#define RULES_H_INCLUDED

#include "actors/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

//  zactor body: zactor_new (rules_actor, &config) with an actor_config_t.
void rules_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
