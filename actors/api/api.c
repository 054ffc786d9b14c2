/*  api: client requests forwarded to the actors that own the answers (api.h).

    Every request in flight is one api_pending_t, keyed by the id of the message
    the api sent on (hex): for reads, a fresh id per forward (two clients may
    use the same request id); for commands, the client's own request id, so
    that a request sent again is the same command to the owner's inbox, which
    drops it as a duplicate (idempotent by request id).

    Roles (api_roles.h) apply when api.requests is a CURVE endpoint. Every
    request is checked against the message table (proto/proto_messages.c)
    before it is handled here or forwarded. A definition change (rule or
    trigger type) is answered once the registry acked it and the rules actor
    applied it (rules.sync: read-your-writes, PROTOCOL.md).
*/
#include "actors/api/api.h"
#include "actors/api/api_internal.h"
#include "actors/actor_query.h"
#include "bus/bus_link.h"
#include "bus/bus_security.h"
#include "proto/proto_json.h"

#include <inttypes.h>
#include <stdarg.h>

#define S_BATCH       256   //  requests read per wake-up
#define S_PENDING_MAX 10000 //  requests in flight; more are answered unavailable
#define S_EXPIRE_MS   50    //  deadlines are looked at this often (a scan)

const char *api_owner_names[API_QUERY_ENDPOINTS] = {"registry",  "rules",  "executor",
                                                    "datastore", "sensor", "workflow"};

//  ---------------------------------------------------------------------------
//  Replies

static void
s_hex (const uint8_t id[PROTO_UUID_SIZE], char out[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < PROTO_UUID_SIZE; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[32] = 0;
}

//  Send an encoded envelope to a client.
static void
s_send_to (api_t *self, zframe_t *identity, bool delimiter, proto_envelope_t *reply)
{
    msgpack_sbuffer_clear (&self->buffer);
    if (!reply || proto_envelope_encode (reply, &self->buffer) != 0)
        return;
    void *front = zsock_resolve (self->front);
    if (zmq_send (front, zframe_data (identity), zframe_size (identity),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        //  The client is gone (ROUTER_MANDATORY), or has left 100,000
        //  replies unread: counted, never waited for
        self->dropped++;
        return;
    }
    if (delimiter)
        zmq_send (front, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (front, self->buffer.data, self->buffer.size, ZMQ_DONTWAIT);
    if (streq (proto_envelope_type (reply), "api.error"))
        self->errors++;
    else
        self->replies++;
}

//  Answer a client: result (taken) or, when `code` is set, an error.
void
api_answer (api_t *self, zframe_t *identity, bool delimiter, const uint8_t *corr,
            json_t *result, const char *code, const char *format, ...)
{
    char message[1024] = "";
    if (format) {
        va_list args;
        va_start (args, format);
        vsnprintf (message, sizeof message, format, args);
        va_end (args);
    }
    proto_envelope_t *reply =
        actor_reply_envelope (self->source, corr, result, code, message);
    s_send_to (self, identity, delimiter, reply);
    proto_envelope_destroy (&reply);
}

static void
s_pending_destroy (void **item_p)
{
    api_pending_t *pending = (api_pending_t *)*item_p;
    if (pending) {
        zframe_destroy (&pending->identity);
        json_decref (pending->on_ack);
        json_decref (pending->sync);
        free (pending);
        *item_p = NULL;
    }
}

api_pending_t *
api_pending_new (api_t *self, const uint8_t key[PROTO_UUID_SIZE], zframe_t *identity,
                 bool delimiter, const uint8_t request[PROTO_UUID_SIZE], int timeout_ms)
{
    api_pending_t *pending = (api_pending_t *)zmalloc (sizeof (api_pending_t));
    pending->identity = identity ? zframe_dup (identity) : NULL;
    pending->delimiter = delimiter;
    memcpy (pending->request, request, PROTO_UUID_SIZE);
    pending->deadline = zclock_mono () + timeout_ms;
    pending->owner = -1;
    char hex[33];
    s_hex (key, hex);
    zhashx_update (self->pending, hex, pending); //  a resent request replaces the first
    return pending;
}

//  ---------------------------------------------------------------------------
//  api.status: every owner asked, answered when all replied or after 1 s

void
api_status_part_done (api_t *self, api_status_t *status, int owner, json_t *result)
{
    json_object_set_new (status->actors, api_owner_names[owner],
                         result ? result : json_pack ("{s:b}", "up", 0));
    if (--status->remaining > 0)
        return;
    if (status->metrics) {
        api_metrics_finish (self, status);
        return;
    }
    json_t *value = json_pack (
        "{s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "actors", status->actors, "api",
        "requests", (json_int_t)self->requests, "replies", (json_int_t)self->replies,
        "errors", (json_int_t)self->errors, "malformed", (json_int_t)self->malformed,
        "pending", (json_int_t)zhashx_size (self->pending), "facts_forwarded",
        (json_int_t)self->forwarded_facts, "dropped", (json_int_t)self->dropped);
    api_answer (self, status->identity, status->delimiter, status->request, value, NULL,
                NULL);
    zframe_destroy (&status->identity);
    free (status);
}

//  ---------------------------------------------------------------------------
//  Forwarding

//  Send `request` (a copy, with a fresh id) to an owner's query endpoint.
api_pending_t *
api_forward_query (api_t *self, int owner, proto_envelope_t *request, zframe_t *identity,
                   bool delimiter, json_t *payload_override)
{
    proto_envelope_t *copy = proto_envelope_dup (request);
    uint8_t id[PROTO_UUID_SIZE];
    proto_uuid_generate (id);
    const uint8_t *client_id = proto_envelope_id (request);
    if (copy)
        proto_envelope_set_id (copy, id);
    if (copy && payload_override &&
        proto_envelope_set_payload_json (copy, payload_override, NULL) != PROTO_OK)
        proto_envelope_destroy (&copy);
    msgpack_sbuffer_clear (&self->buffer);
    if (!copy || proto_envelope_encode (copy, &self->buffer) != 0) {
        api_answer (self, identity, delimiter, client_id, NULL, "internal",
                    "cannot forward the request (out of memory)");
        proto_envelope_destroy (&copy);
        return NULL;
    }
    proto_envelope_destroy (&copy);
    if (zmq_send (zsock_resolve (self->owners[owner]), self->buffer.data,
                  self->buffer.size, ZMQ_DONTWAIT) == -1) {
        api_answer (self, identity, delimiter, client_id, NULL, "unavailable",
                    "the %s actor is not reachable: %s", api_owner_names[owner],
                    zmq_strerror (zmq_errno ()));
        return NULL;
    }
    return api_pending_new (self, id, identity, delimiter, client_id, API_TIMEOUT_MS);
}

//  Send a command over a link, answered with `on_ack` (taken) once acked;
//  with `sync` (taken, may be NULL), only once the rules actor has also
//  applied the change (rules.sync {sync} on rules.query).
void
api_forward_command (api_t *self, bus_link_t *link, const char *owner, const char *type,
                     json_t *payload, proto_envelope_t *request, zframe_t *identity,
                     bool delimiter, json_t *on_ack, json_t *sync)
{
    const uint8_t *client_id = proto_envelope_id (request);
    if (!bus_link_can_send (link)) {
        api_answer (self, identity, delimiter, client_id, NULL, "unavailable",
                    "the %s actor is not taking commands (%zu waiting unacknowledged)",
                    owner, bus_link_unacked (link));
        json_decref (on_ack);
        json_decref (sync);
        return;
    }
    proto_envelope_t *command = proto_envelope_new (type, self->source);
    proto_error_t error = {0};
    if (!command ||
        proto_envelope_set_payload_json (command, payload, &error) != PROTO_OK) {
        api_answer (self, identity, delimiter, client_id, NULL, "bad_request",
                    "payload: %s", command ? error.message : "out of memory");
        proto_envelope_destroy (&command);
        json_decref (on_ack);
        json_decref (sync);
        return;
    }
    //  The client's id: a resent request is a duplicate the owner drops
    proto_envelope_set_id (command, client_id);
    proto_envelope_set_trace (command, proto_envelope_trace (request));
    api_pending_t *pending =
        api_pending_new (self, client_id, identity, delimiter, client_id, API_TIMEOUT_MS);
    pending->on_ack = on_ack;
    pending->sync = sync;
    if (bus_link_send (link, &command) != 0) {
        char hex[33];
        s_hex (client_id, hex);
        zhashx_delete (self->pending, hex);
        api_answer (self, identity, delimiter, client_id, NULL,
                    errno == EMSGSIZE ? "too_large" : "unavailable",
                    "cannot send the command to the %s actor", owner);
        proto_envelope_destroy (&command);
    }
}

//  Read-your-writes: the registry has the change (acked); ask the rules
//  actor to answer once it has applied it too. The client's reply is the
//  rules actor's ({ref}), within what is left of the request's time.
static void
s_sync (api_t *self, api_pending_t *pending)
{
    proto_envelope_t *ask = proto_envelope_new ("rules.sync", self->source);
    uint8_t id[PROTO_UUID_SIZE];
    msgpack_sbuffer_clear (&self->buffer);
    bool ready = ask &&
                 proto_envelope_set_payload_json (ask, pending->sync, NULL) == PROTO_OK &&
                 proto_envelope_encode (ask, &self->buffer) == 0;
    if (ask)
        memcpy (id, proto_envelope_id (ask), sizeof id);
    proto_envelope_destroy (&ask);
    if (!ready || zmq_send (zsock_resolve (self->owners[API_RULES]), self->buffer.data,
                            self->buffer.size, ZMQ_DONTWAIT) == -1) {
        api_answer (
            self, pending->identity, pending->delimiter, pending->request, NULL,
            "unavailable",
            "the change is stored, but the rules actor cannot be asked whether it "
            "applied it");
        return;
    }
    int64_t left = pending->deadline - zclock_mono ();
    api_pending_new (self, id, pending->identity, pending->delimiter, pending->request,
                     left > 0 ? (int)left : 0);
}

static void
s_on_ack (void *arg, const uint8_t id[PROTO_UUID_SIZE])
{
    api_t *self = (api_t *)arg;
    char hex[33];
    s_hex (id, hex);
    api_pending_t *pending = (api_pending_t *)zhashx_lookup (self->pending, hex);
    if (!pending)
        return; //  answered already (rejected, timed out, or a duplicate)
    if (pending->sync)
        s_sync (self, pending);
    else
        api_answer (self, pending->identity, pending->delimiter, pending->request,
                    json_incref (pending->on_ack), NULL, NULL);
    zhashx_delete (self->pending, hex);
}

static void
s_on_reject (void *arg, const proto_envelope_t *command, const char *code,
             const char *message)
{
    api_t *self = (api_t *)arg;
    char hex[33];
    s_hex (proto_envelope_id (command), hex);
    api_pending_t *pending = (api_pending_t *)zhashx_lookup (self->pending, hex);
    if (!pending)
        return;
    api_answer (self, pending->identity, pending->delimiter, pending->request, NULL, code,
                "%s", message);
    zhashx_delete (self->pending, hex);
}

//  A reply from an owner's query endpoint: back to the client it was for.
static void
s_handle_owner (api_t *self, int owner)
{
    for (int n = 0; n < S_BATCH; n++) {
        zmsg_t *msg = zmsg_recv_nowait (self->owners[owner]);
        if (!msg)
            break;
        zframe_t *body = zmsg_first (msg);
        proto_envelope_t *reply =
            zmsg_size (msg) == 1 ? proto_envelope_decode (zframe_data (body),
                                                          zframe_size (body), NULL, NULL)
                                 : NULL;
        const uint8_t *corr = reply ? proto_envelope_corr (reply) : NULL;
        api_pending_t *pending = NULL;
        char hex[33] = "";
        if (corr) {
            s_hex (corr, hex);
            pending = (api_pending_t *)zhashx_lookup (self->pending, hex);
        }
        if (!reply)
            zsys_warning ("api: dropped an undecodable reply from the %s actor",
                          api_owner_names[owner]);
        else if (pending && pending->status) {
            json_t *payload = proto_envelope_payload_json (reply, NULL);
            json_t *result = json_incref (json_object_get (payload, "result"));
            json_decref (payload);
            api_status_t *status = pending->status;
            int which = pending->owner;
            zhashx_delete (self->pending, hex);
            api_status_part_done (self, status, which, result);
        } else if (pending && pending->backup) {
            json_t *payload = proto_envelope_payload_json (reply, NULL);
            api_backup_t *backup = pending->backup;
            bool error = streq (proto_envelope_type (reply), "api.error");
            zhashx_delete (self->pending, hex);
            api_backup_part_done (self, backup, payload, error);
            json_decref (payload);
        } else if (pending) {
            proto_envelope_set_corr (reply, pending->request);
            s_send_to (self, pending->identity, pending->delimiter, reply);
            zhashx_delete (self->pending, hex);
        } //  else: answered already (timed out)
        proto_envelope_destroy (&reply);
        zmsg_destroy (&msg);
    }
}

static void
s_handle_front (api_t *self)
{
    for (int n = 0; n < S_BATCH; n++) {
        zmsg_t *msg = zmsg_recv_nowait (self->front);
        if (!msg)
            break;
        zframe_t *identity, *body;
        bool delimiter;
        actor_request_split (msg, &identity, &body, &delimiter);
        if (!identity || !body)
            self->malformed++; //  nothing to answer: counted and dropped
        else if (zmsg_size (msg) > 0) {
            //  corr: the request's id when its first frame is an envelope
            self->malformed++;
            proto_envelope_t *first = proto_envelope_decode (
                zframe_data (body), zframe_size (body), NULL, NULL);
            api_answer (self, identity, delimiter,
                        first ? proto_envelope_id (first) : NULL, NULL, "bad_frame",
                        "a request is one frame (one envelope); got %zu more",
                        zmsg_size (msg));
            proto_envelope_destroy (&first);
        } else {
            proto_error_t error = {0};
            proto_envelope_t *request = proto_envelope_decode (
                zframe_data (body), zframe_size (body), NULL, &error);
            if (!request) {
                self->malformed++;
                api_answer (self, identity, delimiter, NULL, NULL,
                            proto_code_name (error.code), "%s", error.message);
            } else if (zhashx_size (self->pending) >= S_PENDING_MAX &&
                       !streq (proto_envelope_type (request), "api.ping") &&
                       !streq (proto_envelope_type (request), "api.hello")) {
                //  Bounded memory: a flood waits for nothing, it is told
                self->requests++;
                api_answer (self, identity, delimiter, proto_envelope_id (request), NULL,
                            "unavailable", "%d requests already in flight: try again",
                            S_PENDING_MAX);
                proto_envelope_destroy (&request);
            } else {
                self->requests++;
                //  On a CURVE front the request frame carries the client's key
                //  (the routing id frame the ROUTER adds may not: read the body's)
                const char *key = self->curve ? zframe_meta (body, "User-Id") : NULL;
                const api_caller_t *caller = key && bus_security_key_valid (key)
                                                 ? api_roles_caller (self->roles, key)
                                                 : NULL;
                api_request (self, request, identity, delimiter, caller);
                proto_envelope_destroy (&request);
            }
        }
        zframe_destroy (&identity);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
}

//  Requests past their deadline: unavailable (status parts: the actor is down).
static void
s_expire (api_t *self)
{
    int64_t now = zclock_mono ();
    if (now < self->expire_at)
        return; //  one scan per interval, however busy
    self->expire_at = now + S_EXPIRE_MS;
    zlist_t *expired = zlist_new ();
    zlist_autofree (expired);
    for (api_pending_t *pending = (api_pending_t *)zhashx_first (self->pending); pending;
         pending = (api_pending_t *)zhashx_next (self->pending))
        if (pending->deadline <= now)
            zlist_append (expired, (void *)zhashx_cursor (self->pending));
    for (char *hex = (char *)zlist_first (expired); hex;
         hex = (char *)zlist_next (expired)) {
        api_pending_t *pending = (api_pending_t *)zhashx_lookup (self->pending, hex);
        if (pending->status) {
            api_status_t *status = pending->status;
            int owner = pending->owner;
            zhashx_delete (self->pending, hex);
            api_status_part_done (self, status, owner, NULL);
        } else if (pending->backup) {
            api_backup_t *backup = pending->backup;
            zhashx_delete (self->pending, hex);
            api_backup_part_done (self, backup, NULL, false);
        } else {
            api_answer (self, pending->identity, pending->delimiter, pending->request,
                        NULL, "unavailable",
                        "no answer within %d ms (sending the same request "
                        "again, with the same id, is safe)",
                        API_TIMEOUT_MS);
            zhashx_delete (self->pending, hex);
        }
    }
    zlist_destroy (&expired);
}

static int
s_next_deadline (api_t *self)
{
    if (zhashx_size (self->pending) > 64) {
        //  Many in flight: the next scan, not an exact deadline
        int64_t left = self->expire_at - zclock_mono ();
        return left < 0 ? 0 : (int)left;
    }
    int64_t now = zclock_mono (), next = -1;
    for (api_pending_t *pending = (api_pending_t *)zhashx_first (self->pending); pending;
         pending = (api_pending_t *)zhashx_next (self->pending))
        if (next < 0 || pending->deadline < next)
            next = pending->deadline;
    if (next < 0)
        return -1;
    if (next < self->expire_at)
        next = self->expire_at; //  s_expire would not look before then
    return next <= now ? 0 : (int)(next - now);
}

//  ---------------------------------------------------------------------------
//  Facts: XSUB (every actor's stream) -> XPUB, and subscriptions back

static void
s_forward (void *from, void *to, uint64_t *count)
{
    for (int n = 0; n < S_BATCH; n++) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, from, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&part);
            return;
        }
        while (true) {
            bool more = zmq_msg_more (&part);
            zmq_msg_send (&part, to, more ? ZMQ_SNDMORE : 0);
            zmq_msg_close (&part);
            if (!more)
                break;
            zmq_msg_init (&part);
            if (zmq_msg_recv (&part, from, 0) == -1) {
                zmq_msg_close (&part);
                return;
            }
        }
        if (count)
            (*count)++;
    }
}

//  ---------------------------------------------------------------------------
//  Actor

static void
s_api_destroy (api_t **self_p)
{
    api_t *self = *self_p;
    if (!self)
        return;
    actor_loop_destroy (&self->loop);
    zhashx_destroy (&self->pending);
    api_backup_destroy (self);
    api_roles_destroy (&self->roles);
    bus_link_destroy (&self->registry_link);
    bus_link_destroy (&self->rules_link);
    for (int owner = 0; owner < API_QUERY_ENDPOINTS; owner++)
        zsock_destroy (&self->owners[owner]);
    zsock_destroy (&self->xsub);
    zsock_destroy (&self->xpub);
    zsock_destroy (&self->front);
    msgpack_sbuffer_destroy (&self->buffer);
    free (self);
    *self_p = NULL;
}

static int
s_bind (zsock_t *sock, const char *endpoint, char *out, size_t size)
{
    //  ZAP domain attune.api: user keys may connect here (and nowhere else)
    if (endpoint && bus_security_apply_api (sock, endpoint) != 0) {
        zsys_error ("api: not binding %s without CURVE", endpoint);
        return -1;
    }
    if (!endpoint || bus_topology_bind_socket (sock, endpoint) == -1) {
        zsys_error ("api: cannot bind %s: %s", endpoint ? endpoint : "(none)",
                    zmq_strerror (zmq_errno ()));
        return -1;
    }
    char *last = zsock_last_endpoint (sock);
    snprintf (out, size, "%s", last ? last : endpoint);
    zstr_free (&last);
    return 0;
}

//  A DEALER to an owner's query endpoint (<owner>.query). 0 or -1.
static int
s_connect_owner (api_t *self, bus_topology_t *topology, int owner)
{
    char name[64];
    snprintf (name, sizeof name, "%s.query", api_owner_names[owner]);
    self->owners[owner] = zsock_new (ZMQ_DEALER);
    if (!self->owners[owner])
        return -1;
    int64_t max = PROTO_MAX_SOCKET_MSG;
    zsock_set_linger (self->owners[owner], 0);
    zsock_set_sndhwm (self->owners[owner], 10000);
    zmq_setsockopt (zsock_resolve (self->owners[owner]), ZMQ_MAXMSGSIZE, &max,
                    sizeof max);
    const char *endpoint = bus_topology_connect (topology, name);
    if (owner == API_SENSOR) //  on a sensor host of its own: not backed up here
        self->sensor_here = endpoint && strncmp (endpoint, "inproc://", 9) == 0;
    if (bus_security_apply (self->owners[owner], endpoint, false, NULL) != 0 ||
        zsock_connect (self->owners[owner], "%s", endpoint) == -1) {
        zsys_error ("api: cannot connect to %s (%s)", name, endpoint);
        return -1;
    }
    return 0;
}

static int
s_start (api_t *self, const actor_config_t *config)
{
    char host[256];
    actor_host (config, host, sizeof host);
    snprintf (self->source, sizeof self->source, "api@%s", host);
    msgpack_sbuffer_init (&self->buffer);
    snprintf (self->data_dir, sizeof self->data_dir, "%s",
              config->data_dir ? config->data_dir : ".");
    bus_topology_t *topology = config->topology;
    if (!topology)
        return -1;
    self->pending = zhashx_new ();
    if (!self->pending)
        return -1;
    zhashx_set_destructor (self->pending, s_pending_destroy);
    int64_t max = PROTO_MAX_SOCKET_MSG;
    self->front = zsock_new (ZMQ_ROUTER);
    if (!self->front)
        return -1;
    zsock_set_linger (self->front, 0);
    zsock_set_router_mandatory (self->front, 1);
    zsock_set_sndhwm (self->front,
                      100000); //  replies a pipelining client has not read yet
    zmq_setsockopt (zsock_resolve (self->front), ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (s_bind (self->front, bus_topology_bind (topology, "api.requests"), self->endpoint,
                sizeof self->endpoint) != 0)
        return -1;
    self->curve = zsock_mechanism (self->front) == ZMQ_CURVE;
    if (self->curve) {
        //  bus_security_apply bound it only with an allow dir
        self->roles = api_roles_new (bus_security_allow_dir ());
        if (!self->roles)
            return -1;
    }
    self->xpub = zsock_new (ZMQ_XPUB);
    self->xsub = zsock_new (ZMQ_XSUB);
    if (!self->xpub || !self->xsub)
        return -1;
    zsock_set_linger (self->xpub, 0);
    zsock_set_linger (self->xsub, 0);
    zsock_set_sndhwm (self->xpub, 100000);
    zsock_set_rcvhwm (self->xsub, 100000);
    if (s_bind (self->xpub, bus_topology_bind (topology, "api.facts"),
                self->facts_endpoint, sizeof self->facts_endpoint) != 0)
        return -1;
    const char *streams[] = {"registry.facts", "rules.facts", "executor.facts",
                             "datastore.facts"};
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++)
        if (bus_security_apply (self->xsub, bus_topology_connect (topology, streams[i]),
                                false, NULL) != 0 ||
            zsock_connect (self->xsub, "%s",
                           bus_topology_connect (topology, streams[i])) == -1) {
            zsys_error ("api: cannot connect to %s (%s)", streams[i],
                        bus_topology_connect (topology, streams[i]));
            return -1;
        }
    for (int owner = 0; owner < API_QUERY_ENDPOINTS; owner++)
        if (s_connect_owner (self, topology, owner) != 0)
            return -1;

    bus_link_config_t link_config;
    actor_link_config (config, &link_config);
    link_config.send_timeout_ms = 0; //  never block the api: a full link is unavailable
    self->registry_link = bus_link_new (
        bus_topology_connect (topology, "registry.commands"), self->source, &link_config);
    self->rules_link = bus_link_new (bus_topology_connect (topology, "rules.commands"),
                                     self->source, &link_config);
    if (!self->registry_link || !self->rules_link) {
        zsys_error ("api: cannot connect to registry.commands / rules.commands");
        return -1;
    }
    bus_link_set_ack_handler (self->registry_link, s_on_ack, self);
    bus_link_set_ack_handler (self->rules_link, s_on_ack, self);
    bus_link_set_reject_handler (self->registry_link, s_on_reject, self);
    bus_link_set_reject_handler (self->rules_link, s_on_reject, self);
    zsys_info ("api: requests on %s%s, facts on %s", self->endpoint,
               self->curve ? " (CURVE, roles from the allow dir)" : "",
               self->facts_endpoint);
    return 0;
}

static json_t *
s_pipe_status (void *arg)
{
    api_t *self = (api_t *)arg;
    return json_pack (
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests", (json_int_t)self->requests,
        "replies", (json_int_t)self->replies, "errors", (json_int_t)self->errors,
        "malformed", (json_int_t)self->malformed, "pending",
        (json_int_t)zhashx_size (self->pending), "facts_forwarded",
        (json_int_t)self->forwarded_facts, "dropped", (json_int_t)self->dropped);
}

//  ENDPOINTS: two frames, the request endpoint and the facts endpoint.
static int
s_pipe_command (void *arg, const char *command, zmsg_t *msg)
{
    api_t *self = (api_t *)arg;
    if (!streq (command, "ENDPOINTS"))
        return -1;
    zstr_sendx (self->pipe, self->endpoint, self->facts_endpoint, NULL);
    return 0;
}

static void
s_on_facts (void *arg, void *unused)
{
    api_t *self = (api_t *)arg;
    s_forward (zsock_resolve (self->xsub), zsock_resolve (self->xpub),
               &self->forwarded_facts);
}

static void
s_on_subscription (void *arg, void *unused)
{
    api_t *self = (api_t *)arg;
    s_forward (zsock_resolve (self->xpub), zsock_resolve (self->xsub), NULL);
}

static void
s_on_link (void *self, void *link)
{
    bus_link_handle ((bus_link_t *)link);
}

static void
s_on_owner (void *self, void *owner)
{
    s_handle_owner ((api_t *)self, (int)(intptr_t)owner);
}

static void
s_on_front (void *self, void *unused)
{
    s_handle_front ((api_t *)self);
}

static int
s_timeout (void *arg)
{
    api_t *self = (api_t *)arg;
    int timeout = bus_link_timeout (self->registry_link);
    int t = bus_link_timeout (self->rules_link);
    if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    t = s_next_deadline (self);
    if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    return timeout;
}

static void
s_after (void *arg)
{
    api_t *self = (api_t *)arg;
    s_expire (self);
    bus_link_tick (self->registry_link);
    bus_link_tick (self->rules_link);
}

//  Readers in the order they are handled: facts, the owners' links and
//  answers, then new requests. 0 or -1.
static int
s_readers (api_t *self)
{
    actor_loop_t *loop = self->loop;
    int rc = actor_loop_reader (loop, self->xsub, 0, s_on_facts, NULL);
    rc |= actor_loop_reader (loop, self->xpub, 1, s_on_subscription, NULL);
    rc |= actor_loop_reader (loop, bus_link_sock (self->registry_link), 2, s_on_link,
                             self->registry_link);
    rc |= actor_loop_reader (loop, bus_link_sock (self->rules_link), 2, s_on_link,
                             self->rules_link);
    for (int owner = 0; owner < API_QUERY_ENDPOINTS; owner++)
        rc |= actor_loop_reader (loop, self->owners[owner], 3, s_on_owner,
                                 (void *)(intptr_t)owner);
    rc |= actor_loop_reader (loop, self->front, 4, s_on_front, NULL);
    actor_loop_set_status (loop, s_pipe_status);
    actor_loop_set_command (loop, s_pipe_command);
    actor_loop_set_timeout (loop, s_timeout);
    actor_loop_set_after (loop, s_after);
    return rc ? -1 : 0;
}

//  The state, its sockets and its loop; NULL on failure (logged).
static api_t *
s_api_new (zsock_t *pipe, const actor_config_t *config)
{
    api_t *self = (api_t *)zmalloc (sizeof (api_t));
    self->pipe = pipe;
    self->loop = actor_loop_new (pipe, "api", self);
    if (!self->loop || !config || s_start (self, config) != 0 || s_readers (self) != 0)
        s_api_destroy (&self);
    return self;
}

void
api_actor (zsock_t *pipe, void *args)
{
    api_t *self = s_api_new (pipe, (const actor_config_t *)args);
    zsock_signal (pipe, self ? 0 : 1);
    if (self)
        actor_loop_run (self->loop);
    s_api_destroy (&self);
}
