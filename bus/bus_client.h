/*  bus_client: attune's api client class, written once (as Malamute's
    mlm_client is): one DEALER to a ROUTER that answers one-frame requests
    with one-frame replies whose `corr` is the request's id (proto/PROTOCOL.md,
    "API (issue 4)"): the api, an actor's query endpoint, the registry's
    snapshot endpoint. The CLI, the probe, attuned, the benchmarks,
    registry_client and the tests are its users.

    What it does for them:
        CURVE           bus_security_apply as a client on connect: the
                        process's cert (bus_security_configure: --cert) and
                        the configured server cert, or a server key given
        ids             requests made with bus_client_request get a fresh
                        UUIDv7 id (proto_envelope_new); a caller's own id is
                        kept
        correlation     a reply is matched by its `corr`; anything else (a
                        late reply to an earlier request, a frame that does
                        not decode, a message of several frames) is skipped,
                        counted and given to the skip handler
        timeout         a call waits at most the timeout (default 5000 ms),
                        and stops early on an interrupt (zsys_interrupted)
        resend          with resend on, a call with no reply by half the
                        timeout sends the request once more, same id, retry
                        1 (the api is idempotent by request id)
        frame size      requests over PROTO_MAX_FRAME are refused
                        (`too_large`); a reply over the max frame size
                        (ZMQ_MAXMSGSIZE, default PROTO_MAX_SOCKET_MSG)
                        makes libzmq drop the connection: the call times out
        errors          { code, message }: the api's own for api.error, else
                        `unavailable` (no connection, no reply), `too_large`,
                        `invalid`, `nomem`, `bad_reply`, `interrupted`

    Synchronous use: bus_client_call (an envelope in, its reply out) or
    bus_client_request (a type and a JSON payload in, the api.reply's result
    out). Asynchronous use: bus_client_send any number of requests, add
    bus_client_sock to a poller, and bus_client_recv the replies to those in
    flight until bus_client_forget. Do not mix the two on one client while
    requests are in flight: a call skips replies that are not its own.

    Single-threaded, like the socket it holds.
*/
#ifndef BUS_CLIENT_H_INCLUDED
#define BUS_CLIENT_H_INCLUDED

#include <stdbool.h>
#include <czmq.h>
#include <jansson.h>
#include "proto/proto_envelope.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BUS_CLIENT_TIMEOUT_MS 5000 //  default reply wait
//  Default ZMQ_MAXMSGSIZE: a full frame and room for the envelope around it
#define BUS_CLIENT_MAX_RECV PROTO_MAX_SOCKET_MSG

typedef struct _bus_client_t bus_client_t;

//  Why a received message was skipped.
typedef enum {
    BUS_CLIENT_SKIP_FRAMES = 1, //  not one frame (nor a delimiter and one)
    BUS_CLIENT_SKIP_DECODE,     //  the frame is not an envelope
    BUS_CLIENT_SKIP_STALE       //  it answers no request waited for
} bus_client_skip_t;

//  Told about every skipped message: why, and a line saying what was skipped.
typedef void (bus_client_skip_fn) (void *arg, bus_client_skip_t why, const char *text);

//  A new client, not connected yet; `source` goes in the envelopes that
//  bus_client_request makes ("attune@host"). NULL on failure.
bus_client_t *bus_client_new (const char *source);

//  A client over a DEALER the caller made, connected and keeps owning (it is
//  not closed with the client): for tests that also send raw frames on it.
bus_client_t *bus_client_attach (zsock_t *dealer, const char *source);

//  Close the socket (unless attached) and free the client. Safe twice.
void bus_client_destroy (bus_client_t **self_p);

//  Options; those about the socket take effect at bus_client_connect.
//  The reply wait of a call, ms (default BUS_CLIENT_TIMEOUT_MS).
void bus_client_set_timeout (bus_client_t *self, int timeout_ms);
//  How long a send may wait for a connection, ms (default: the timeout;
//  0: never wait).
void bus_client_set_send_timeout (bus_client_t *self, int timeout_ms);
//  Send a call's request once more, same id, at half the timeout (default
//  off).
void bus_client_set_resend (bus_client_t *self, bool resend);
//  ZMQ_MAXMSGSIZE for replies, bytes (default BUS_CLIENT_MAX_RECV).
void bus_client_set_max_recv (bus_client_t *self, int64_t bytes);
//  The DEALER's routing id (default: libzmq's random one).
void bus_client_set_identity (bus_client_t *self, const char *identity);
//  No high-water marks (a snapshot or a pipelined batch arrives whole).
void bus_client_set_unbounded (bus_client_t *self);
//  The server's public key (z85) for CURVE, instead of the configured
//  server cert. Copied.
void bus_client_set_server_key (bus_client_t *self, const char *server_key_z85);
void bus_client_set_skip_handler (bus_client_t *self, bus_client_skip_fn *fn, void *arg);

//  Create the DEALER, set it up (CURVE when the endpoint needs it) and
//  connect to `endpoint`. 0, or -1 with the error set (`unavailable`).
int bus_client_connect (bus_client_t *self, const char *endpoint);

//  Send `*request_p` (taken, cleared) and wait for the reply whose corr is
//  its id. Returns the reply, any type (caller owns it), or NULL with the
//  error set: `unavailable` (no connection, no reply in time), `too_large`,
//  `interrupted`.
proto_envelope_t *bus_client_call (bus_client_t *self, proto_envelope_t **request_p);

//  One api request of `type` with `*payload_p` (taken, cleared; NULL = {}),
//  a fresh id. Returns the api.reply's result (caller owns it; JSON null
//  when it has none), or NULL with the error set: an api.error's code and
//  message, `bad_reply` for anything else, or those of bus_client_call.
json_t *bus_client_request (bus_client_t *self, const char *type, json_t **payload_p);

//  A reply as a result: api.reply's result (caller owns it), or NULL with
//  the error set from api.error (or `bad_reply`). The reply stays the
//  caller's.
json_t *bus_client_result (bus_client_t *self, proto_envelope_t *reply);

//  Asynchronous: send `*request_p` (taken, cleared) and keep its id in
//  flight. 0, or -1 with the error set.
int bus_client_send (bus_client_t *self, proto_envelope_t **request_p);
//  The next reply (caller owns it) to a request in flight, without waiting;
//  NULL when none is waiting. Other messages are skipped. A request stays
//  in flight (a stream may answer several times) until forgotten.
proto_envelope_t *bus_client_recv (bus_client_t *self);
//  Forget request `id` in flight (NULL: all of them).
void bus_client_forget (bus_client_t *self, const uint8_t *id);
//  Requests in flight.
size_t bus_client_pending (bus_client_t *self);

//  The socket, for a poller (NULL before bus_client_connect).
zsock_t *bus_client_sock (bus_client_t *self);
//  The endpoint connected to, or NULL.
const char *bus_client_endpoint (bus_client_t *self);

//  The last error: a stable code ("" when the last call succeeded) and what,
//  where, why. Owned by the client.
const char *bus_client_code (bus_client_t *self);
const char *bus_client_message (bus_client_t *self);

//  Messages skipped so far (see bus_client_skip_t).
uint64_t bus_client_skipped (bus_client_t *self);
//  Whether the last call's request went out: a NULL from the call is then
//  a reply that did not come (or an interrupt), not a failed send.
bool bus_client_sent (bus_client_t *self);
//  Requests sent a second time by a call (resend).
uint64_t bus_client_resent (bus_client_t *self);

#ifdef __cplusplus
}
#endif

#endif
