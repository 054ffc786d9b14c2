/*  api: the actor people and programs talk to (proto/PROTOCOL.md, "API").

    Endpoints:
        api.requests        ROUTER  client requests (one frame: an envelope
                                    whose type is the operation), answered with
                                    api.reply / api.error, corr = request id
        api.facts           XPUB    every actor's facts, forwarded unchanged
        registry.query, rules.query, executor.query
                            DEALER  reads (and the executor's run / cancel /
                                    re-run), forwarded; replies re-addressed
        registry.commands, rules.commands
                            DEALER  (bus_link "api@<host>") rule changes and
                                    published events, answered once acked
        registry.facts, rules.facts, executor.facts
                            XSUB    the streams api.facts forwards

    It holds no state beyond the requests in flight (answered `unavailable`
    after 5 s). A frame that does not decode is answered with the decoder's
    code; one the api cannot address is counted and dropped; nothing a client
    sends stops it serving the next.

    Pipe: "$TERM"; "STATUS" -> JSON {requests, replies, errors, malformed,
    pending}; "ENDPOINTS" -> two strings: the api and facts addresses as
    bound (ephemeral ports resolved); anything else -> the unknown reply
    (actor.h). The loop is actor_loop's.
*/
#ifndef API_H_INCLUDED
#define API_H_INCLUDED

#include "actors/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

//  zactor body: zactor_new (api_actor, &config) with an actor_config_t.
void api_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
