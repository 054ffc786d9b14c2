/*  http_stream: GET /api/v1/stream, StackStorm's event stream as
    Server-Sent Events (http_internal.h).

    The connection's thread subscribes one SUB socket to api.facts and turns
    facts into StackStorm's events:

        execution.requested         st2.execution__create, st2.liveaction__create
        execution.<other status>    st2.execution__update, st2.liveaction__update
        execution.output            st2.execution.output__create {execution_id,
                                    output_type, data, seq, offset}
        inquiry.created             st2.inquiry__create
        inquiry.<other>             st2.inquiry__update
        event.created               st2.trigger_instance__create
        event.created of trigger    st2.announcement__ROUTE, its payload
          core.st2.announcement     (the core.announcement action's event;
                                    ROUTE its route, else general)

    `?events=a,b` keeps those names only. The data is the execution in
    st2api's shape as far as the fact tells it (id, action, status, times,
    result when the fact has it). Executor facts carry `id: PUBLISHER-SEQ`
    (the executor's publisher id and the fact's sequence number). A client
    that reconnects with Last-Event-ID (header, or ?last_event_id=) first
    gets what it missed, from api.execution.changes: every execution the
    missed facts touched, as st2.execution__update; when the executor no
    longer knows (it restarted, or the gap is older than it remembers) an
    `st2.stream__reset` event comes first, then every execution that has
    not ended. Live facts already covered by that catch-up are skipped.
    Facts lost on the way (a gap in a publisher's sequence) end the stream
    after an `st2.stream__gap` event, before anything past the gap is sent:
    the client reconnects with its last id and catches up as above.
    A comment line (": keepalive") every HTTP_STREAM_KEEPALIVE_MS tells a
    gone client from a quiet stream.
*/
#include "actors/http/http_internal.h"
#include "bus/bus_facts.h"

#define HTTP_MAX_STREAMS          64
#define HTTP_STREAM_KEEPALIVE_MS  10000
#define HTTP_STREAM_CATCHUP_PAGES 100 //  at most 100 x 200 executions caught up

typedef struct {
    http_server_t *server;
    bus_sub_t *sub;
    char *filter; //  ",a,b," or NULL for every event
    char *pending;
    size_t pending_size, pending_off;
    uint64_t publisher; //  the executor's (top bit cleared), 0 unknown
    uint64_t seq;       //  its last fact sent or covered
    int64_t quiet_since;
    bool gap;    //  facts were lost: the stream ends, the client resumes
    bool ending; //  END_OF_STREAM once what is pending went out
} s_stream_t;

static bool
s_wanted (s_stream_t *self, const char *event)
{
    if (!self->filter)
        return true;
    char needle[128];
    snprintf (needle, sizeof needle, ",%s,", event);
    return strstr (self->filter, needle) != NULL;
}

//  Queue one SSE event (data taken)
static void
s_emit (s_stream_t *self, const char *event, json_t *data, const char *id)
{
    char *text = json_dumps (data, JSON_COMPACT);
    json_decref (data);
    if (!text || !s_wanted (self, event)) {
        free (text);
        return;
    }
    char *frame = zsys_sprintf ("%s%s%sevent: %s\ndata: %s\n\n", id ? "id: " : "",
                                id ? id : "", id ? "\n" : "", event, text);
    free (text);
    size_t size = strlen (frame);
    char *grown = (char *)realloc (self->pending, self->pending_size + size);
    if (grown) {
        memcpy (grown + self->pending_size, frame, size);
        self->pending = grown;
        self->pending_size += size;
    }
    zstr_free (&frame);
}

static void
s_emit_execution (s_stream_t *self, json_t *execution, bool created, const char *id)
{
    json_t *shaped = http_shape_execution (execution);
    s_emit (self, created ? "st2.liveaction__create" : "st2.liveaction__update",
            json_incref (shaped), id);
    s_emit (self, created ? "st2.execution__create" : "st2.execution__update", shaped,
            id);
}

//  An announcement (the announcement runner's event, actors/worker/
//  worker_st2.c: trigger core.st2.announcement, {route, payload,
//  execution}): its payload as st2.announcement__ROUTE (StackStorm's
//  default route: general)
static void
s_announce (s_stream_t *self, const json_t *event)
{
    const char *trigger = json_string_value (json_object_get (event, "trigger"));
    json_t *body = json_object_get (event, "payload");
    if (!trigger || !streq (trigger, "core.st2.announcement") || !json_is_object (body))
        return;
    const char *route = json_string_value (json_object_get (body, "route"));
    char name[160];
    snprintf (name, sizeof name, "st2.announcement__%s",
              route && *route ? route : "general");
    json_t *message = json_object_get (body, "payload");
    s_emit (self, name, message ? json_incref (message) : json_object (), NULL);
}

//  One fact into events
static void
s_fact (s_stream_t *self, proto_envelope_t *fact, bus_fact_info_t *info)
{
    const char *type = proto_envelope_type (fact);
    uint64_t publisher = info->publisher & 0x7fffffffffffffffULL;
    bool executor =
        strncmp (type, "execution.", 10) == 0 || strncmp (type, "inquiry.", 8) == 0;
    if (executor && publisher == self->publisher && info->seq <= self->seq)
        return; //  covered by the catch-up
    char id[64] = "";
    if (executor) {
        self->publisher = publisher;
        self->seq = info->seq;
        snprintf (id, sizeof id, "%" PRIu64 "-%" PRIu64, publisher, info->seq);
    }
    json_t *payload = proto_envelope_payload_json (fact, NULL);
    if (!payload)
        return;
    if (streq (type, "execution.output")) //  StackStorm's execution output event
        s_emit (self, "st2.execution.output__create",
                json_pack ("{s:O?, s:O?, s:O?, s:O?, s:O?}", "execution_id",
                           json_object_get (payload, "execution"), "output_type",
                           json_object_get (payload, "stream"), "data",
                           json_object_get (payload, "data"), "seq",
                           json_object_get (payload, "seq"), "offset",
                           json_object_get (payload, "offset")),
                id);
    else if (strncmp (type, "execution.", 10) == 0)
        s_emit_execution (self, payload, streq (type, "execution.requested"), id);
    else if (strncmp (type, "inquiry.", 8) == 0)
        s_emit (self,
                streq (type, "inquiry.created") ? "st2.inquiry__create"
                                                : "st2.inquiry__update",
                json_incref (payload), id);
    else if (streq (type, "event.created")) {
        s_emit (self, "st2.trigger_instance__create", json_incref (payload), NULL);
        s_announce (self, payload);
    }
    json_decref (payload);
}

//  A gap in a publisher's sequence (expected 0: a new publisher, no gap)
static void
s_gap (void *arg, uint64_t publisher, uint64_t expected, uint64_t received)
{
    //  Only the executor's stream is resumable, and only it is whole here
    //  (subscribed to all its prefixes)
    s_stream_t *self = (s_stream_t *)arg;
    if (expected && self->publisher &&
        (publisher & 0x7fffffffffffffffULL) == self->publisher)
        self->gap = true;
}

static ssize_t
s_read (void *cls, uint64_t pos, char *buf, size_t max)
{
    s_stream_t *self = (s_stream_t *)cls;
    while (self->pending_off == self->pending_size) {
        if (self->ending || atomic_load (&self->server->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        free (self->pending);
        self->pending = NULL;
        self->pending_size = self->pending_off = 0;
        bus_fact_info_t info;
        proto_envelope_t *fact = bus_sub_recv (self->sub, &info, 500);
        if (fact && self->gap) {
            //  Not sent: the client's last id stays before the gap, and its
            //  reconnection (EventSource does it by itself) catches up
            s_emit (self, "st2.stream__gap",
                    json_pack ("{s:s}", "reason",
                               "facts were lost: reconnect with Last-Event-ID"),
                    NULL);
            self->ending = true;
        } else if (fact)
            s_fact (self, fact, &info);
        else if (zclock_mono () - self->quiet_since > HTTP_STREAM_KEEPALIVE_MS) {
            self->pending = strdup (": keepalive\n\n");
            self->pending_size = strlen (self->pending);
        }
        proto_envelope_destroy (&fact);
    }
    size_t n = self->pending_size - self->pending_off;
    if (n > max)
        n = max;
    memcpy (buf, self->pending + self->pending_off, n);
    self->pending_off += n;
    self->quiet_since = zclock_mono ();
    return (ssize_t)n;
}

static void
s_free (void *cls)
{
    s_stream_t *self = (s_stream_t *)cls;
    atomic_fetch_sub (&self->server->streams, 1);
    bus_sub_destroy (&self->sub);
    free (self->filter);
    free (self->pending);
    free (self);
}

//  What the client missed since Last-Event-ID "PUBLISHER-SEQ". False after
//  answering an error.
static bool
s_catch_up (s_stream_t *self, http_req_t *req, const char *last)
{
    unsigned long long publisher = 0, since = 0;
    if (sscanf (last, "%llu-%llu", &publisher, &since) != 2) {
        http_fault (req, 400, "Last-Event-ID: '%s' is not PUBLISHER-SEQ", last);
        return false;
    }
    json_t *args = json_pack ("{s:I, s:I}", "publisher", (json_int_t)publisher, "since",
                              (json_int_t)since);
    for (int page = 0; args && page < HTTP_STREAM_CATCHUP_PAGES; page++) {
        json_t *answer = http_api (req, "api.execution.changes", args);
        if (!answer)
            return false;
        if (page == 0 && json_is_true (json_object_get (answer, "reset")))
            s_emit (self, "st2.stream__reset",
                    json_pack ("{s:s}", "reason",
                               "the events since Last-Event-ID are not known: every "
                               "execution not ended follows"),
                    NULL);
        self->publisher =
            (uint64_t)json_integer_value (json_object_get (answer, "publisher"));
        self->seq = (uint64_t)json_integer_value (json_object_get (answer, "seq"));
        char id[64];
        snprintf (id, sizeof id, "%" PRIu64 "-%" PRIu64, self->publisher, self->seq);
        size_t i;
        json_t *execution;
        json_array_foreach (json_object_get (answer, "executions"), i, execution)
            s_emit_execution (self, execution, false, id);
        json_t *next = json_object_get (answer, "next");
        args = json_is_object (next) ? json_deep_copy (next) : NULL;
        if (args)
            json_object_set (args, "publisher", json_object_get (answer, "publisher"));
        json_decref (answer);
    }
    json_decref (args);
    return true;
}

void
http_stream (http_req_t *req)
{
    if (atomic_fetch_add (&req->server->streams, 1) >= HTTP_MAX_STREAMS) {
        atomic_fetch_sub (&req->server->streams, 1);
        http_fault (req, 503, "%d event streams are open already", HTTP_MAX_STREAMS);
        return;
    }
    s_stream_t *self = (s_stream_t *)zmalloc (sizeof (s_stream_t));
    self->server = req->server;
    self->quiet_since = zclock_mono ();
    const char *events = http_query (req, "events");
    if (events)
        self->filter = zsys_sprintf (",%s,", events);
    self->sub = bus_sub_new (0);
    if (self->sub)
        bus_sub_set_gap_handler (self->sub, s_gap, self);
    //  Every prefix the executor publishes (a whole sequence: a jump is a
    //  real gap), and the rules actor's events
    const char *prefixes[] = {"execution.", "inquiry.",      "worker.",
                              "executor.",  "event.created", NULL};
    bool ok = self->sub && bus_sub_connect (self->sub, req->server->facts) == 0;
    for (int i = 0; ok && prefixes[i]; i++)
        ok = bus_sub_subscribe (self->sub, prefixes[i]) == 0;
    if (!ok)
        http_fault (req, 503, "the fact stream %s cannot be reached", req->server->facts);
    const char *last =
        MHD_lookup_connection_value (req->connection, MHD_HEADER_KIND, "Last-Event-ID");
    if (!last)
        last = http_query (req, "last_event_id");
    //  Something goes out at once: the client knows the stream is open
    if (ok)
        s_emit (self, "st2.stream__open", json_pack ("{s:b}", "resumed", last != NULL),
                NULL);
    if (ok && last)
        ok = s_catch_up (self, req, last);
    if (!ok) {
        s_free (self);
        return;
    }
    req->response = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 16 * 1024,
                                                       s_read, self, s_free);
    MHD_add_response_header (req->response, "Content-Type", "text/event-stream");
    MHD_add_response_header (req->response, "Cache-Control", "no-cache");
    req->status = 200;
}
