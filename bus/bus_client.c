/*  bus_client: attune's api client class (bus_client.h).
*/
#include "bus/bus_client.h"
#include "bus/bus_security.h"

#include <errno.h>
#include <stdarg.h>

struct _bus_client_t {
    char *source;
    char *endpoint;
    char *identity;
    char *server_key;
    zsock_t *dealer;
    bool attached; //  the caller owns `dealer`
    int timeout_ms;
    int send_timeout_ms; //  < 0: the timeout
    bool resend;
    bool unbounded;
    int64_t max_recv;
    bus_client_skip_fn *skip_fn;
    void *skip_arg;
    zhashx_t *pending; //  requests in flight: hex id -> (void *) 1
    msgpack_sbuffer buffer;
    char code[64];
    char *message;
    uint64_t skipped;
    uint64_t resent;
    bool sent; //  the last call's request went out
};

static void
s_fail (bus_client_t *self, const char *code, const char *format, ...)
{
    snprintf (self->code, sizeof self->code, "%s", code);
    free (self->message);
    va_list args;
    va_start (args, format);
    self->message = zsys_vprintf (format, args);
    va_end (args);
}

static void
s_clear_error (bus_client_t *self)
{
    self->code[0] = 0;
    free (self->message);
    self->message = NULL;
}

static const char *
s_where (bus_client_t *self)
{
    return self->endpoint ? self->endpoint : "the server";
}

static bus_client_t *
s_new (const char *source)
{
    bus_client_t *self = (bus_client_t *)zmalloc (sizeof (bus_client_t));
    self->source = strdup (source ? source : "client");
    self->pending = zhashx_new ();
    if (!self->source || !self->pending) {
        bus_client_destroy (&self);
        return NULL;
    }
    msgpack_sbuffer_init (&self->buffer);
    self->timeout_ms = BUS_CLIENT_TIMEOUT_MS;
    self->send_timeout_ms = -1;
    self->max_recv = BUS_CLIENT_MAX_RECV;
    return self;
}

bus_client_t *
bus_client_new (const char *source)
{
    return s_new (source);
}

bus_client_t *
bus_client_attach (zsock_t *dealer, const char *source)
{
    assert (dealer);
    bus_client_t *self = s_new (source);
    if (self) {
        self->dealer = dealer;
        self->attached = true;
    }
    return self;
}

void
bus_client_destroy (bus_client_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        bus_client_t *self = *self_p;
        if (!self->attached)
            zsock_destroy (&self->dealer);
        zhashx_destroy (&self->pending);
        msgpack_sbuffer_destroy (&self->buffer);
        free (self->source);
        free (self->endpoint);
        free (self->identity);
        free (self->server_key);
        free (self->message);
        free (self);
        *self_p = NULL;
    }
}

void
bus_client_set_timeout (bus_client_t *self, int timeout_ms)
{
    assert (self);
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

void
bus_client_set_send_timeout (bus_client_t *self, int timeout_ms)
{
    assert (self);
    self->send_timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

void
bus_client_set_resend (bus_client_t *self, bool resend)
{
    assert (self);
    self->resend = resend;
}

void
bus_client_set_max_recv (bus_client_t *self, int64_t bytes)
{
    assert (self);
    self->max_recv = bytes;
}

void
bus_client_set_identity (bus_client_t *self, const char *identity)
{
    assert (self);
    free (self->identity);
    self->identity = identity ? strdup (identity) : NULL;
}

void
bus_client_set_unbounded (bus_client_t *self)
{
    assert (self);
    self->unbounded = true;
}

void
bus_client_set_server_key (bus_client_t *self, const char *server_key_z85)
{
    assert (self);
    free (self->server_key);
    self->server_key = server_key_z85 ? strdup (server_key_z85) : NULL;
}

void
bus_client_set_skip_handler (bus_client_t *self, bus_client_skip_fn *fn, void *arg)
{
    assert (self);
    self->skip_fn = fn;
    self->skip_arg = arg;
}

//  ---------------------------------------------------------------------------
//  Connecting

static void
s_configure_socket (bus_client_t *self, zsock_t *dealer)
{
    zsock_set_linger (dealer, 0);
    //  Until a connection is up (CURVE refused, nothing listening) a DEALER
    //  would block on send: give up after the send timeout instead
    zsock_set_sndtimeo (dealer, self->send_timeout_ms >= 0 ? self->send_timeout_ms
                                                           : self->timeout_ms);
    zmq_setsockopt (zsock_resolve (dealer), ZMQ_MAXMSGSIZE, &self->max_recv,
                    sizeof self->max_recv);
    if (self->identity)
        zsock_set_identity (dealer, self->identity);
    if (self->unbounded) {
        zsock_set_sndhwm (dealer, 0);
        zsock_set_rcvhwm (dealer, 0);
    }
}

int
bus_client_connect (bus_client_t *self, const char *endpoint)
{
    assert (self);
    assert (endpoint);
    assert (!self->dealer);
    s_clear_error (self);
    free (self->endpoint);
    self->endpoint = strdup (endpoint);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer || !self->endpoint) {
        s_fail (self, "unavailable", "cannot create a socket: %s",
                zmq_strerror (zmq_errno ()));
        zsock_destroy (&dealer);
        return -1;
    }
    s_configure_socket (self, dealer);
    if (bus_security_apply (dealer, endpoint, false, self->server_key) != 0) {
        s_fail (self, "unavailable", "cannot set up CURVE for %s", endpoint);
        zsock_destroy (&dealer);
        return -1;
    }
    if (zsock_connect (dealer, "%s", endpoint) != 0) {
        s_fail (self, "unavailable", "cannot connect to %s: %s", endpoint,
                zmq_strerror (zmq_errno ()));
        zsock_destroy (&dealer);
        return -1;
    }
    self->dealer = dealer;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Sending and receiving one message

static int
s_send_request (bus_client_t *self, proto_envelope_t *request)
{
    if (!self->dealer) {
        s_fail (self, "unavailable", "not connected");
        return -1;
    }
    msgpack_sbuffer_clear (&self->buffer);
    if (proto_envelope_encode (request, &self->buffer) != 0) {
        s_fail (self, "nomem", "cannot encode the request");
        return -1;
    }
    if (self->buffer.size > PROTO_MAX_FRAME) {
        s_fail (self, "too_large", "the request is %zu bytes, over the 1 MiB limit",
                self->buffer.size);
        return -1;
    }
    if (zmq_send (zsock_resolve (self->dealer), self->buffer.data, self->buffer.size,
                  0) >= 0)
        return 0;
    if (zmq_errno () == EAGAIN)
        s_fail (self, "unavailable",
                "no connection to %s within %d ms (not running, unreachable, or it "
                "does not allow this key)",
                s_where (self),
                self->send_timeout_ms >= 0 ? self->send_timeout_ms : self->timeout_ms);
    else
        s_fail (self, "unavailable", "cannot send to %s: %s", s_where (self),
                zmq_strerror (zmq_errno ()));
    return -1;
}

static void
s_skip (bus_client_t *self, bus_client_skip_t why, const char *format, ...)
{
    self->skipped++;
    if (!self->skip_fn)
        return;
    va_list args;
    va_start (args, format);
    char *text = zsys_vprintf (format, args);
    va_end (args);
    (self->skip_fn) (self->skip_arg, why, text ? text : "skipped a message");
    free (text);
}

//  The envelope in one message of `count` frames (two kept), or NULL when it
//  is skipped.
static proto_envelope_t *
s_decode (bus_client_t *self, zmq_msg_t *frames, size_t count)
{
    zmq_msg_t *frame = &frames[0];
    //  A ROUTER answering as to a REQ puts an empty delimiter first
    if (count == 2 && zmq_msg_size (&frames[0]) == 0)
        frame = &frames[1];
    else if (count != 1) {
        s_skip (self, BUS_CLIENT_SKIP_FRAMES, "skipped a reply of %zu frames (want one)",
                count);
        return NULL;
    }
    proto_error_t error;
    proto_envelope_t *envelope =
        proto_envelope_decode (zmq_msg_data (frame), zmq_msg_size (frame), NULL, &error);
    if (!envelope)
        s_skip (self, BUS_CLIENT_SKIP_DECODE,
                "skipped a reply that does not decode: %s: %s",
                proto_code_name (error.code), error.message);
    return envelope;
}

//  Read one message without waiting. Returns false when none is waiting;
//  else true, with *envelope_p the envelope or NULL (skipped).
static bool
s_read (bus_client_t *self, proto_envelope_t **envelope_p)
{
    *envelope_p = NULL;
    void *sock = zsock_resolve (self->dealer);
    zmq_msg_t frames[2];
    size_t count = 0;
    while (true) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            break;
        }
        bool more = zmq_msg_more (&part);
        if (count < 2)
            frames[count] = part; //  moved: closed below
        else
            zmq_msg_close (&part);
        count++;
        if (!more)
            break;
    }
    if (count == 0)
        return false;
    *envelope_p = s_decode (self, frames, count);
    for (size_t i = 0; i < count && i < 2; i++)
        zmq_msg_close (&frames[i]);
    return true;
}

static bool
s_answers (proto_envelope_t *reply, const uint8_t *id)
{
    const uint8_t *corr = proto_envelope_corr (reply);
    return corr && memcmp (corr, id, PROTO_UUID_SIZE) == 0;
}

static void
s_skip_stale (bus_client_t *self, proto_envelope_t **reply_p)
{
    s_skip (self, BUS_CLIENT_SKIP_STALE, "skipped a %s that answers another request",
            proto_envelope_type (*reply_p));
    proto_envelope_destroy (reply_p);
}

//  ---------------------------------------------------------------------------
//  Synchronous use

//  Everything waiting on the socket: the reply to `id`, or NULL when it is
//  not there (yet).
static proto_envelope_t *
s_drain_for (bus_client_t *self, const uint8_t *id)
{
    proto_envelope_t *reply;
    while (s_read (self, &reply)) {
        if (reply && s_answers (reply, id))
            return reply;
        if (reply)
            s_skip_stale (self, &reply);
    }
    return NULL;
}

static void
s_fail_no_reply (bus_client_t *self, bool resent)
{
    s_fail (self, "unavailable", "no reply from %s within %.1f s (request sent %s)",
            s_where (self), self->timeout_ms / 1000.0, resent ? "twice" : "once");
}

//  Wait for the reply to `request` (sent once already), resending it once
//  half way when resend is on.
static proto_envelope_t *
s_wait (bus_client_t *self, proto_envelope_t *request)
{
    const uint8_t *id = proto_envelope_id (request);
    int64_t start = zclock_mono ();
    int64_t deadline = start + self->timeout_ms;
    int64_t resend_at = start + self->timeout_ms / 2;
    bool resent = false;
    while (true) {
        if (zsys_interrupted) {
            s_fail (self, "interrupted", "interrupted while waiting for %s",
                    s_where (self));
            return NULL;
        }
        int64_t now = zclock_mono ();
        if (now >= deadline) {
            s_fail_no_reply (self, resent);
            return NULL;
        }
        bool resend_due = self->resend && !resent;
        if (resend_due && now >= resend_at) {
            //  Same id: the api answers a resent request once
            proto_envelope_set_retry (request, 1);
            if (s_send_request (self, request) != 0)
                return NULL;
            resent = true;
            resend_due = false;
            self->resent++;
        }
        zmq_pollitem_t item = {zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0};
        long wait = (long)((resend_due ? resend_at : deadline) - now);
        int rc = zmq_poll (&item, 1, wait > 0 ? wait : 0);
        if (rc < 0 && zmq_errno () != EINTR) {
            s_fail (self, "unavailable", "poll: %s", zmq_strerror (zmq_errno ()));
            return NULL;
        }
        proto_envelope_t *reply = rc > 0 ? s_drain_for (self, id) : NULL;
        if (reply)
            return reply;
    }
}

proto_envelope_t *
bus_client_call (bus_client_t *self, proto_envelope_t **request_p)
{
    assert (self);
    assert (request_p && *request_p);
    proto_envelope_t *request = *request_p;
    *request_p = NULL;
    s_clear_error (self);
    proto_envelope_t *reply = NULL;
    self->sent = s_send_request (self, request) == 0;
    if (self->sent)
        reply = s_wait (self, request);
    proto_envelope_destroy (&request);
    return reply;
}

json_t *
bus_client_result (bus_client_t *self, proto_envelope_t *reply)
{
    assert (self);
    assert (reply);
    proto_error_t error;
    json_t *body = proto_envelope_payload_json (reply, &error);
    const char *type = proto_envelope_type (reply);
    json_t *result = NULL;
    if (!body)
        s_fail (self, "bad_reply", "reply payload: %s", error.message);
    else if (streq (type, "api.reply")) {
        result = json_object_get (body, "result");
        result = result ? json_incref (result) : json_null ();
    } else if (streq (type, "api.error")) {
        const char *code = json_string_value (json_object_get (body, "code"));
        const char *text = json_string_value (json_object_get (body, "message"));
        s_fail (self, code ? code : "error", "%s", text ? text : "(no message)");
    } else
        s_fail (self, "bad_reply", "unexpected reply type %s", type);
    json_decref (body);
    return result;
}

json_t *
bus_client_request (bus_client_t *self, const char *type, json_t **payload_p)
{
    assert (self);
    assert (type);
    s_clear_error (self);
    json_t *payload = payload_p ? *payload_p : NULL;
    if (payload_p)
        *payload_p = NULL;
    if (!payload)
        payload = json_object ();
    proto_envelope_t *request = proto_envelope_new (type, self->source);
    proto_error_t error;
    json_t *result = NULL;
    if (!request || !payload)
        s_fail (self, "nomem", "cannot build the request");
    else if (proto_envelope_set_payload_json (request, payload, &error) != PROTO_OK)
        s_fail (self, "invalid", "request: %s", error.message);
    else {
        proto_envelope_t *reply = bus_client_call (self, &request);
        if (reply)
            result = bus_client_result (self, reply);
        proto_envelope_destroy (&reply);
    }
    json_decref (payload);
    proto_envelope_destroy (&request);
    return result;
}

//  ---------------------------------------------------------------------------
//  Asynchronous use

static void
s_key (const uint8_t *id, char key[PROTO_UUID_SIZE * 2 + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < PROTO_UUID_SIZE; i++) {
        key[2 * i] = hex[id[i] >> 4];
        key[2 * i + 1] = hex[id[i] & 15];
    }
    key[PROTO_UUID_SIZE * 2] = 0;
}

int
bus_client_send (bus_client_t *self, proto_envelope_t **request_p)
{
    assert (self);
    assert (request_p && *request_p);
    proto_envelope_t *request = *request_p;
    *request_p = NULL;
    s_clear_error (self);
    int rc = s_send_request (self, request);
    if (rc == 0) {
        char key[PROTO_UUID_SIZE * 2 + 1];
        s_key (proto_envelope_id (request), key);
        zhashx_update (self->pending, key, (void *)1);
    }
    proto_envelope_destroy (&request);
    return rc;
}

proto_envelope_t *
bus_client_recv (bus_client_t *self)
{
    assert (self);
    if (!self->dealer)
        return NULL;
    proto_envelope_t *reply;
    while (s_read (self, &reply)) {
        if (!reply)
            continue;
        const uint8_t *corr = proto_envelope_corr (reply);
        char key[PROTO_UUID_SIZE * 2 + 1];
        if (corr)
            s_key (corr, key);
        if (corr && zhashx_lookup (self->pending, key))
            return reply;
        s_skip_stale (self, &reply);
    }
    return NULL;
}

void
bus_client_forget (bus_client_t *self, const uint8_t *id)
{
    assert (self);
    if (!id) {
        zhashx_purge (self->pending);
        return;
    }
    char key[PROTO_UUID_SIZE * 2 + 1];
    s_key (id, key);
    zhashx_delete (self->pending, key);
}

size_t
bus_client_pending (bus_client_t *self)
{
    assert (self);
    return zhashx_size (self->pending);
}

//  ---------------------------------------------------------------------------
//  Accessors

zsock_t *
bus_client_sock (bus_client_t *self)
{
    assert (self);
    return self->dealer;
}

const char *
bus_client_endpoint (bus_client_t *self)
{
    assert (self);
    return self->endpoint;
}

const char *
bus_client_code (bus_client_t *self)
{
    assert (self);
    return self->code;
}

const char *
bus_client_message (bus_client_t *self)
{
    assert (self);
    return self->message ? self->message : "";
}

uint64_t
bus_client_skipped (bus_client_t *self)
{
    assert (self);
    return self->skipped;
}

bool
bus_client_sent (bus_client_t *self)
{
    assert (self);
    return self->sent;
}

uint64_t
bus_client_resent (bus_client_t *self)
{
    assert (self);
    return self->resent;
}
