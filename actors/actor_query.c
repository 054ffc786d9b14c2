/*  actor_query: request/reply endpoint of an actor (actor_query.h). */
#include "actors/actor_query.h"
#include "actors/actor_metrics.h"
#include "proto/proto_messages.h"
#include "bus/bus_topology.h"
#include "bus/bus_security.h"
#include "proto/proto_json.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <unistd.h>

struct _actor_query_t {
    zsock_t *router;
    char source[300];
    char endpoint[512];
    msgpack_sbuffer buffer;
    uint64_t requests, malformed;
    uint64_t refused; //  requests from user keys, dropped
    zlistx_t *parked; //  deferred requests (s_parked_t), oldest first
    uint64_t tickets; //  the last ticket given
    //  The request a handler is answering (for actor_query_defer)
    zframe_t *current_identity;
    zframe_t *current_body; //  its frame: the connection's properties
    bool current_delimiter;
    const uint8_t *current_id;
    store_t *store; //  store.backup copies it (actor_query_set_store)
    char store_name[64];
    char *backup_file; //  copied beside the store (actor_query_backup_file)
    //  metrics.get (actor_query_set_metrics)
    char actor[64];
    actor_metrics_fn *metrics_fn;
    void *metrics_arg;
    bus_inbox_t *inbox;
    zlistx_t *links; //  s_link_t
};

typedef struct {
    char peer[128];
    bus_link_t *link;
} s_link_t;

//  A request answered later (actor_query_defer)
typedef struct {
    uint64_t ticket;
    zframe_t *identity;
    bool delimiter;
    uint8_t id[PROTO_UUID_SIZE];
    int64_t deadline; //  monotonic ms: forgotten after it
} s_parked_t;

static void
s_parked_destroy (void **item_p)
{
    s_parked_t *parked = (s_parked_t *)*item_p;
    if (parked) {
        zframe_destroy (&parked->identity);
        free (parked);
        *item_p = NULL;
    }
}

void
actor_query_fail (actor_answer_t *answer, const char *code, const char *format, ...)
{
    snprintf (answer->code, sizeof answer->code, "%s", code);
    va_list args;
    va_start (args, format);
    vsnprintf (answer->message, sizeof answer->message, format, args);
    va_end (args);
    json_decref (answer->result);
    answer->result = NULL;
}

//  A copy of `text` that is valid UTF-8 (messages quote what clients sent):
//  when it is not, every byte outside ASCII becomes '?'.
static char *
s_utf8_clean (const char *text)
{
    char *copy = strdup (text);
    if (copy && !proto_utf8_valid (copy, strlen (copy)))
        for (char *p = copy; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
    return copy;
}

proto_envelope_t *
actor_reply_envelope (const char *source, const uint8_t *corr, json_t *result,
                      const char *code, const char *message)
{
    proto_envelope_t *reply =
        proto_envelope_new (code && *code ? "api.error" : "api.reply", source);
    //  Messages quote what clients sent, which may not be UTF-8
    char *clean = code && *code ? s_utf8_clean (message ? message : "") : NULL;
    json_t *payload = code && *code
                          ? json_pack ("{s:s, s:s}", "code", code, "message",
                                       clean ? clean : "(out of memory)")
                          : json_pack ("{s:o}", "result", result ? result : json_null ());
    free (clean);
    if (code && *code)
        json_decref (result);
    if (!reply || !payload) {
        proto_envelope_destroy (&reply);
        json_decref (payload);
        return NULL;
    }
    proto_envelope_set_corr (reply, corr);
    proto_error_t error;
    if (proto_envelope_set_payload_json (reply, payload, &error) != PROTO_OK) {
        //  A result that cannot travel (too large, bad value) says why
        json_decref (payload);
        payload = json_pack ("{s:s, s:s}", "code", "too_large", "message", error.message);
        proto_envelope_set_type (reply, "api.error");
        if (!payload ||
            proto_envelope_set_payload_json (reply, payload, NULL) != PROTO_OK)
            proto_envelope_destroy (&reply);
    }
    json_decref (payload);
    return reply;
}

actor_query_t *
actor_query_new (const char *endpoint, const char *source)
{
    actor_query_t *self = (actor_query_t *)zmalloc (sizeof (actor_query_t));
    snprintf (self->source, sizeof self->source, "%s", source);
    msgpack_sbuffer_init (&self->buffer);
    self->parked = zlistx_new ();
    if (self->parked)
        zlistx_set_destructor (self->parked, s_parked_destroy);
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router || !self->parked) {
        actor_query_destroy (&self);
        return NULL;
    }
    zsock_set_linger (self->router, 0);
    zsock_set_sndhwm (self->router, 0);
    int64_t max = PROTO_MAX_SOCKET_MSG;
    zmq_setsockopt (zsock_resolve (self->router), ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (endpoint && bus_security_apply (self->router, endpoint, true, NULL) != 0) {
        zsys_error ("%s: not binding %s without CURVE", source, endpoint);
        actor_query_destroy (&self);
        return NULL;
    }
    if (!endpoint || bus_topology_bind_socket (self->router, endpoint) == -1) {
        zsys_error ("%s: cannot bind %s: %s", source, endpoint ? endpoint : "(none)",
                    zmq_strerror (zmq_errno ()));
        actor_query_destroy (&self);
        return NULL;
    }
    char *last = zsock_last_endpoint (self->router);
    snprintf (self->endpoint, sizeof self->endpoint, "%s", last ? last : endpoint);
    zstr_free (&last);
    return self;
}

void
actor_query_destroy (actor_query_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        actor_query_t *self = *self_p;
        zsock_destroy (&self->router);
        zlistx_destroy (&self->parked);
        zlistx_destroy (&self->links);
        msgpack_sbuffer_destroy (&self->buffer);
        free (self->backup_file);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
actor_query_sock (actor_query_t *self)
{
    return self->router;
}

const char *
actor_query_endpoint (actor_query_t *self)
{
    return self->endpoint;
}

uint64_t
actor_query_requests (actor_query_t *self)
{
    return self->requests;
}

uint64_t
actor_query_malformed (actor_query_t *self)
{
    return self->malformed;
}

//  Send `reply` (taken) to the client: [identity]([empty])[reply].
static void
s_send (actor_query_t *self, zframe_t *identity, bool delimiter,
        proto_envelope_t **reply_p)
{
    proto_envelope_t *reply = *reply_p;
    if (!reply)
        return;
    msgpack_sbuffer_clear (&self->buffer);
    if (proto_envelope_encode (reply, &self->buffer) == 0) {
        zmq_send (zsock_resolve (self->router), zframe_data (identity),
                  zframe_size (identity), ZMQ_SNDMORE | ZMQ_DONTWAIT);
        if (delimiter)
            zmq_send (zsock_resolve (self->router), "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send (zsock_resolve (self->router), self->buffer.data, self->buffer.size,
                  ZMQ_DONTWAIT);
    }
    proto_envelope_destroy (reply_p);
}

//  A result too large for a frame becomes `too_large`, saying its size (a
//  reply the client could not decode would leave it waiting).
static void
s_answer_bound (actor_answer_t *answer, const char *type, json_t *payload)
{
    if (!answer->result)
        return;
    size_t size = actor_packed_size (answer->result);
    if (size <= ACTOR_REPLY_MAX)
        return;
    const char *which = json_string_value (json_object_get (payload, "id"));
    if (!which)
        which = json_string_value (json_object_get (payload, "ref"));
    actor_query_fail (answer, "too_large",
                      "%s%s%.200s: the record is %zu bytes, more than a reply holds "
                      "(%d of the %d-byte frame limit)",
                      type, which ? " " : "", which ? which : "", size, ACTOR_REPLY_MAX,
                      PROTO_MAX_FRAME);
}

void
actor_request_split (zmsg_t *msg, zframe_t **identity, zframe_t **body, bool *delimiter)
{
    *identity = zmsg_pop (msg);
    *body = zmsg_pop (msg);
    *delimiter = false;
    if (*body && zframe_size (*body) == 0 && zmsg_size (msg) > 0) {
        *delimiter = true; //  a REQ client
        zframe_destroy (body);
        *body = zmsg_pop (msg);
    }
}

//  The id of `body` when it decodes as an envelope, for the corr of an
//  error reply (bad_frame); NULL when it does not.
static const uint8_t *
s_body_id (zframe_t *body, uint8_t id[PROTO_UUID_SIZE])
{
    proto_envelope_t *envelope =
        proto_envelope_decode (zframe_data (body), zframe_size (body), NULL, NULL);
    if (!envelope)
        return NULL;
    memcpy (id, proto_envelope_id (envelope), PROTO_UUID_SIZE);
    proto_envelope_destroy (&envelope);
    return id;
}

void
actor_query_set_store (actor_query_t *self, store_t *store, const char *name)
{
    assert (self && store && name);
    self->store = store;
    snprintf (self->store_name, sizeof self->store_name, "%s", name);
}

void
actor_query_backup_file (actor_query_t *self, const char *path)
{
    assert (self && path);
    free (self->backup_file);
    self->backup_file = strdup (path);
}

//  Copy the file `from` to `to` (0600, written whole, fsynced). 0 or -1
//  with `error` set.
static int
s_copy_file (const char *from, const char *to, char *error, size_t size)
{
    zchunk_t *chunk = NULL;
    FILE *in = fopen (from, "rb");
    if (in) {
        chunk = zchunk_read (in, 1 << 20);
        fclose (in);
    }
    int fd = chunk ? open (to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    bool ok = fd >= 0 &&
              write (fd, zchunk_data (chunk), zchunk_size (chunk)) ==
                  (ssize_t)zchunk_size (chunk) &&
              fsync (fd) == 0;
    if (!ok)
        snprintf (error, size, "cannot copy %s to %s (%s)", from, to, strerror (errno));
    if (fd >= 0)
        close (fd);
    zchunk_destroy (&chunk);
    return ok ? 0 : -1;
}

//  store.backup {dir}: a hot copy of the actor's store to dir/<name>, made
//  here, in the thread that owns the store (PROTOCOL.md, "Backup"). Only
//  for this process's own actors (the api): a file written on this host.
static void
s_backup (actor_query_t *self, json_t *payload, actor_answer_t *answer)
{
    const char *dir = json_string_value (json_object_get (payload, "dir"));
    if (!actor_query_from_self (self)) {
        actor_query_fail (answer, "forbidden",
                          "store.backup: only this process's api may ask for it");
        return;
    }
    if (!dir || dir[0] != '/') {
        actor_query_fail (answer, "bad_request", "dir: expected an absolute path");
        return;
    }
    char path[4096];
    if (snprintf (path, sizeof path, "%s/%s", dir, self->store_name) >=
        (int)sizeof path) {
        actor_query_fail (answer, "bad_request", "dir: path too long");
        return;
    }
    int64_t started = zclock_mono ();
    uint64_t size = 0;
    store_code_t code = store_backup (self->store, path, &size);
    if (code != STORE_OK) {
        zsys_error ("%s: backup failed: %s", self->store_name,
                    store_last_error (self->store));
        actor_query_fail (answer, code == STORE_EXISTS ? "conflict" : "internal", "%s",
                          store_last_error (self->store));
        return;
    }
    char file[4200] = "", error[8300] = "";
    if (self->backup_file) {
        //  In this turn of the actor's loop: nothing changed it since the copy
        const char *base = strrchr (self->backup_file, '/');
        snprintf (file, sizeof file, "%s/%s", path, base ? base + 1 : self->backup_file);
        if (s_copy_file (self->backup_file, file, error, sizeof error) != 0) {
            zsys_error ("%s: backup failed: %s", self->store_name, error);
            actor_query_fail (answer, "internal", "%s", error);
            return;
        }
    }
    zsys_info ("%s: store copied to %s (%" PRIu64 " bytes)", self->store_name, path,
               size);
    answer->result = json_pack (
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:s?}", "store", self->store_name, "path", path,
        "format", (json_int_t)store_format_version (self->store), "size",
        (json_int_t)size, "copied_at", (json_int_t)proto_now_usec (), "took_ms",
        (json_int_t)(zclock_mono () - started), "file", file[0] ? file : NULL);
}

void
actor_query_set_metrics (actor_query_t *self, const char *actor, actor_metrics_fn *fn,
                         void *arg)
{
    assert (self && actor);
    snprintf (self->actor, sizeof self->actor, "%s", actor);
    self->metrics_fn = fn;
    self->metrics_arg = arg;
}

void
actor_query_metrics_link (actor_query_t *self, const char *peer, bus_link_t *link)
{
    assert (self && peer);
    if (!link)
        return;
    if (!self->links) {
        self->links = zlistx_new ();
        zlistx_set_destructor (self->links, (zlistx_destructor_fn *)zstr_free);
    }
    s_link_t *entry = (s_link_t *)zmalloc (sizeof (s_link_t));
    snprintf (entry->peer, sizeof entry->peer, "%s", peer);
    entry->link = link;
    zlistx_add_end (self->links, entry);
}

void
actor_query_metrics_inbox (actor_query_t *self, bus_inbox_t *inbox)
{
    assert (self);
    self->inbox = inbox;
}

//  metrics.get: the actor's families (actor_metrics.h), answered here
static void
s_metrics (actor_query_t *self, actor_answer_t *answer)
{
    json_t *families = json_object ();
    const char *actor = self->actor[0] ? self->actor : self->store_name;
    if (self->store)
        actor_metrics_store (families, self->store, self->store_name);
    for (s_link_t *entry = self->links ? (s_link_t *)zlistx_first (self->links) : NULL;
         entry; entry = (s_link_t *)zlistx_next (self->links))
        actor_metrics_link (families, actor, entry->peer, entry->link);
    if (self->inbox)
        actor_metrics_inbox (families, actor, self->inbox);
    actor_metrics_add (families, "attune_query_requests_total", "counter",
                       "Requests an actor's query endpoint answered.",
                       (double)self->requests, "actor", actor, NULL);
    if (self->metrics_fn)
        self->metrics_fn (self->metrics_arg, families);
    answer->result = json_pack ("{s:o}", "families", families);
}

//  One decoded request: the handler's answer, or NULL when it deferred it.
static proto_envelope_t *
s_dispatch (actor_query_t *self, proto_envelope_t *request, zframe_t *identity,
            bool delimiter, actor_query_fn *fn, void *arg)
{
    self->requests++;
    proto_error_t error;
    const char *type = proto_envelope_type (request);
    json_t *payload = proto_envelope_payload_json (request, &error);
    actor_answer_t answer = {0};
    //  A request the message table knows is checked against it first
    const proto_message_t *message = proto_message_lookup (type, PROTO_MESSAGE_REQUEST);
    if (!payload)
        actor_query_fail (&answer, "bad_request", "payload: %s", error.message);
    else if (message &&
             proto_message_validate (message, proto_envelope_payload_object (request),
                                     &error) != PROTO_OK)
        actor_query_fail (&answer, "bad_request", "%s", error.message);
    else if (streq (type, "api.ping"))
        answer.result = json_pack ("{s:I, s:s}", "pong", (json_int_t)proto_now_usec (),
                                   "source", self->source);
    else {
        self->current_identity = identity;
        self->current_delimiter = delimiter;
        self->current_id = proto_envelope_id (request);
        if (streq (type, "store.backup") && self->store)
            s_backup (self, payload, &answer);
        else if (streq (type, "metrics.get"))
            s_metrics (self, &answer);
        else
            fn (arg, type, payload, &answer);
        self->current_identity = NULL;
        self->current_id = NULL;
        s_answer_bound (&answer, type, payload);
    }
    json_decref (payload);
    if (answer.deferred) {
        json_decref (answer.result);
        return NULL;
    }
    return actor_reply_envelope (self->source, proto_envelope_id (request), answer.result,
                                 answer.code, answer.message);
}

void
actor_query_handle (actor_query_t *self, actor_query_fn *fn, void *arg)
{
    for (int n = 0; n < 64; n++) {
        zmsg_t *msg = zmsg_recv_nowait (self->router);
        if (!msg)
            break;
        zframe_t *identity, *body;
        bool delimiter;
        actor_request_split (msg, &identity, &body, &delimiter);
        proto_envelope_t *reply = NULL;
        if (!identity || !body) {
            self->malformed++; //  nothing to answer
        } else if (bus_security_user_frame (body)) {
            //  A person's key: people go through the api, where roles apply;
            //  no answer, so nothing is learnt here
            if (++self->refused <= 10 || self->refused % 1000 == 0)
                zsys_warning ("%s: dropped a request from a user key (%" PRIu64
                              " so far): users go through the api",
                              self->source, self->refused);
        } else if (zmsg_size (msg) > 0) {
            self->malformed++;
            uint8_t id[PROTO_UUID_SIZE];
            reply = actor_reply_envelope (self->source, s_body_id (body, id), NULL,
                                          "bad_frame",
                                          "a request is one frame: one envelope");
        } else {
            proto_error_t error;
            proto_envelope_t *request = proto_envelope_decode (
                zframe_data (body), zframe_size (body), NULL, &error);
            if (!request) {
                self->malformed++;
                reply =
                    actor_reply_envelope (self->source, NULL, NULL,
                                          proto_code_name (error.code), error.message);
            } else {
                self->current_body = body;
                reply = s_dispatch (self, request, identity, delimiter, fn, arg);
                self->current_body = NULL;
                proto_envelope_destroy (&request);
            }
        }
        if (identity)
            s_send (self, identity, delimiter, &reply);
        proto_envelope_destroy (&reply);
        zframe_destroy (&identity);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
}

uint64_t
actor_query_defer (actor_query_t *self, actor_answer_t *answer, int timeout_ms)
{
    assert (self && answer && self->current_identity);
    int64_t now = zclock_mono ();
    //  Forget the parked requests past their deadline (their client gave up)
    s_parked_t *oldest = (s_parked_t *)zlistx_first (self->parked);
    while (oldest && (oldest->deadline <= now || zlistx_size (self->parked) >= 100000)) {
        zlistx_delete (self->parked, zlistx_cursor (self->parked));
        oldest = (s_parked_t *)zlistx_first (self->parked);
    }
    s_parked_t *parked = (s_parked_t *)zmalloc (sizeof (s_parked_t));
    parked->ticket = ++self->tickets;
    parked->identity = zframe_dup (self->current_identity);
    parked->delimiter = self->current_delimiter;
    memcpy (parked->id, self->current_id, PROTO_UUID_SIZE);
    parked->deadline = now + timeout_ms;
    zlistx_add_end (self->parked, parked);
    answer->deferred = parked->ticket;
    return parked->ticket;
}

int
actor_query_reply (actor_query_t *self, uint64_t ticket, json_t *result, const char *code,
                   const char *message)
{
    assert (self);
    s_parked_t *parked = (s_parked_t *)zlistx_first (self->parked);
    while (parked && parked->ticket != ticket)
        parked = (s_parked_t *)zlistx_next (self->parked);
    if (!parked) {
        json_decref (result);
        return -1;
    }
    proto_envelope_t *reply =
        actor_reply_envelope (self->source, parked->id, result, code, message);
    s_send (self, parked->identity, parked->delimiter, &reply);
    zlistx_delete (self->parked, zlistx_cursor (self->parked));
    return 0;
}

const char *
actor_query_peer_key (actor_query_t *self)
{
    assert (self);
    const char *key =
        self->current_body ? zframe_meta (self->current_body, "User-Id") : NULL;
    return key && *key ? key : NULL;
}

bool
actor_query_from_self (actor_query_t *self)
{
    const char *key = actor_query_peer_key (self);
    const char *own = bus_security_public_key ();
    if (!key) //  a CURVE endpoint always has one: fail closed if not
        return !bus_security_needs (self->endpoint);
    return own && streq (key, own);
}

size_t
actor_query_parked (actor_query_t *self)
{
    assert (self);
    return zlistx_size (self->parked);
}

//  ---------------------------------------------------------------------------
//  Sizes and pages

static int
s_count_write (void *data, const char *buf, size_t len)
{
    (void)buf;
    *(size_t *)data += len;
    return 0;
}

size_t
actor_packed_size (const json_t *value)
{
    size_t size = 0;
    msgpack_packer packer;
    msgpack_packer_init (&packer, &size, s_count_write);
    return proto_json_to_msgpack (value, &packer, NULL) == PROTO_OK ? size : SIZE_MAX;
}

void
actor_page_init (actor_page_t *page, size_t limit)
{
    assert (page);
    page->items = json_array ();
    page->limit = limit ? limit : SIZE_MAX;
    page->bytes = 0;
    page->more = false;
}

bool
actor_page_full (const actor_page_t *page)
{
    return page->more || json_array_size (page->items) >= page->limit;
}

json_t *
actor_page_summary (const json_t *record, size_t size)
{
    json_t *summary = json_pack ("{s:b, s:I}", "too_large", 1, "size", (json_int_t)size);
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)record, key, value)
    {
        //  What says which record it is: short strings and numbers
        bool short_string = json_is_string (value) && json_string_length (value) <= 256;
        if (summary && json_object_size (summary) < 32 && strlen (key) <= 64 &&
            (short_string || json_is_integer (value) || json_is_boolean (value)) &&
            !json_object_get (summary, key))
            json_object_set (summary, key, value);
    }
    return summary;
}

bool
actor_page_add (actor_page_t *page, json_t *item)
{
    assert (page);
    if (!item)
        return true; //  nothing to list
    if (actor_page_full (page) || !page->items) {
        page->more = true;
        json_decref (item);
        return false;
    }
    size_t size = actor_packed_size (item);
    if (size > ACTOR_PAGE_BYTES) {
        json_t *summary = actor_page_summary (item, size);
        json_decref (item);
        item = summary;
        size = actor_packed_size (item);
    }
    if (!item || page->bytes + size > ACTOR_PAGE_BYTES) {
        page->more = true;
        json_decref (item);
        return false;
    }
    json_array_append_new (page->items, item);
    page->bytes += size;
    return true;
}

static int
s_compare_key (const void *a, const void *b)
{
    return strcmp (((const char *const *)a)[0], ((const char *const *)b)[0]);
}

json_t *
actor_page_list (const json_t *all, const char *key, const char *after, size_t limit,
                 json_t *(*copy) (const json_t *))
{
    size_t count = json_array_size (all), n = 0;
    //  Pairs (key, element), sorted by key
    const void **pairs = (const void **)calloc (count ? 2 * count : 1, sizeof (void *));
    for (size_t i = 0; pairs && i < count; i++) {
        const json_t *element = json_array_get (all, i);
        const char *its = json_string_value (json_object_get (element, key));
        if (its && (!after || strcmp (its, after) > 0)) {
            pairs[2 * n] = its;
            pairs[2 * n + 1] = element;
            n++;
        }
    }
    qsort (pairs, n, 2 * sizeof (void *), s_compare_key);
    actor_page_t page;
    actor_page_init (&page, limit);
    const char *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *element = (const json_t *)pairs[2 * i + 1];
        if (!actor_page_add (&page,
                             copy ? copy (element) : json_incref ((json_t *)element)))
            break;
        last = (const char *)pairs[2 * i];
    }
    json_t *next = page.more && last ? json_string (last) : json_null ();
    if (!pairs) {
        json_decref (page.items);
        json_decref (next);
        return NULL;
    }
    free (pairs);
    return json_pack ("{s:o, s:o}", "items", page.items, "next", next);
}

int64_t
actor_arg_int (json_t *payload, const char *key, int64_t default_, int64_t min,
               int64_t max, actor_answer_t *answer)
{
    json_t *value = json_object_get (payload, key);
    if (!value || json_is_null (value))
        return default_;
    if (!json_is_integer (value) || json_integer_value (value) < min ||
        json_integer_value (value) > max) {
        actor_query_fail (answer, "bad_request",
                          "%s: expected an integer from %" PRId64 " to %" PRId64, key,
                          min, max);
        return default_;
    }
    return (int64_t)json_integer_value (value);
}

const char *
actor_arg_str (json_t *payload, const char *key, actor_answer_t *answer)
{
    json_t *value = json_object_get (payload, key);
    if (!value || json_is_null (value))
        return NULL;
    if (!json_is_string (value)) {
        actor_query_fail (answer, "bad_request", "%s: expected a string", key);
        return NULL;
    }
    return json_string_value (value);
}
