/*  http: the HTTP gateway (issue 20). StackStorm's REST API (/api/v1/...),
    webhooks and its event stream, served by libmicrohttpd and forwarded to
    the api like any other client.

    Design. MHD runs its own threads, one per connection
    (MHD_USE_THREAD_PER_CONNECTION), at most HTTP_MAX_CONNECTIONS of them
    and HTTP_MAX_PER_IP from one address (a slow client from one host cannot
    take every slot), each with a small stack, an idle timeout, a deadline
    for each whole request (HTTP_REQUEST_DEADLINE_S, however slowly it
    trickles; near the limit the connections waiting longest for their
    requests are closed first: http_conns.c) and a bound on its request
    line and headers (HTTP_MAX_HEADERS). A body over
    HTTP_MAX_BODY is refused with 413 (before it is read when its
    Content-Length says so); a JSON body is parsed with jansson's bounds
    (depth 2048) and duplicate keys refused. A connection's thread makes
    its own bus_client (the one api client class) the first time it needs
    the api, keeps it for the connection's life and destroys it when the
    connection closes: no second request loop, no inproc hand-off to this
    actor's thread, and every resource is bounded by the connection limit
    (one thread, one DEALER, one body buffer of at most the body limit each).
    A blocking api call blocks only its own connection; the api answers
    within 5 s (unavailable) so a thread never waits longer than that.
    The event stream (GET /api/v1/stream) holds its connection's thread and
    one SUB socket to api.facts for as long as the client listens.

    GET / is a page for operators (http_page.html, built in): plain HTML and
    JavaScript that use the REST API and the stream with the key the person
    gives once (kept in sessionStorage).

    The actor's own thread runs actor_loop: the pipe ("$TERM", "STATUS",
    "ADDRESS" -> one string, "http://HOST:PORT" as bound) and nothing else.

    Where: the `http` actor of attuned (default 127.0.0.1:9101, StackStorm's
    st2api port; --http ADDR:PORT). It reaches the api through the
    topology's api.requests connect address, so it runs on any host of a
    split deployment. Plain HTTP only on loopback unless --http-insecure;
    HTTPS with --http-cert and --http-key.

    Authentication: API keys (http_keys.h), St2-Api-Key header or
    ?st2-api-key=. The gateway does not decide what a key may do: it sends
    every request inside api.delegate with the key's name and role, and the
    api enforces the role (proto/PROTOCOL.md, "Delegation").
*/
#ifndef HTTP_H_INCLUDED
#define HTTP_H_INCLUDED

#include "actors/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTTP_DEFAULT_ADDRESS "127.0.0.1:9101"
#define HTTP_MAX_CONNECTIONS 256 //  threads, one per connection
#define HTTP_MAX_PER_IP      64  //  connections from one address
//  Request line and headers, bytes: the connection's memory pool.  At most
//  32 KiB so libmicrohttpd takes the pool from malloc, not mmap: an mmap can
//  reuse an exited connection thread's stack, whose stale sanitizer shadow
//  then reports a false stack-buffer-underflow under AddressSanitizer.
#define HTTP_MAX_HEADERS    (32 * 1024)
#define HTTP_MAX_BODY       (1024 * 1024) //  request body limit, bytes
#define HTTP_IDLE_TIMEOUT_S 30            //  a connection silent this long is closed
//  A whole request (line, headers, body) within this, however it trickles
#define HTTP_REQUEST_DEADLINE_S 10
//  Free slots kept: past HTTP_MAX_CONNECTIONS - this, a new connection
//  shuts the oldest still sending its request (if older than
//  HTTP_EVICT_AFTER_MS)
#define HTTP_HEADROOM       32
#define HTTP_EVICT_AFTER_MS 100
#define HTTP_WATCH_MS       100 //  how often the deadline and headroom are checked
#define HTTP_THREAD_STACK   (256 * 1024) //  per connection thread

//  zactor body: zactor_new (http_actor, &config) with an actor_config_t
//  (http, http_insecure, http_cert, http_key; data_dir for the API keys).
void http_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
