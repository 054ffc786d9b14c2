/*  attuned_watch: attuned's log of finished executions (attuned_watch.h).
*/
#include "tools/attuned_watch.h"
#include "bus/bus_client.h"

#include <inttypes.h>

//  One line per finished execution, from its fact or (recovered after a
//  gap) its record as api.execution.changes lists it; `note` is appended.
static void
s_log_execution (const json_t *payload, const char *note)
{
    const char *status = json_string_value (json_object_get (payload, "status"));
    const char *action = json_string_value (json_object_get (payload, "action"));
    const char *id = json_string_value (json_object_get (payload, "execution"));
    if (!id)
        id = json_string_value (json_object_get (payload, "id"));
    json_int_t started = json_integer_value (json_object_get (payload, "started"));
    json_int_t ended = json_integer_value (json_object_get (payload, "ended"));
    json_t *result = json_object_get (payload, "result");
    //  The first line of what the action said, when it said something
    const char *text = NULL;
    char *dumped = NULL;
    if (json_is_object (result)) {
        json_t *out = json_object_get (result, "stdout");
        if (!json_is_string (out) || !*json_string_value (out))
            out = json_object_get (result, "error");
        if (!json_is_string (out) || !*json_string_value (out))
            out = json_object_get (result, "stderr");
        if (json_is_string (out))
            text = json_string_value (out);
        else if (json_object_size (result))
            text = dumped = json_dumps (result, JSON_COMPACT);
    } else if (json_is_string (result))
        text = json_string_value (result);
    double ms = started && ended >= started ? (double)(ended - started) / 1000.0 : 0;
    int len = text ? (int)strcspn (text, "\n") : 0;
    if (len > 200)
        len = 200;
    zsys_info ("execution %s %s %s in %.1f ms%s%.*s%s", action ? action : "?",
               id ? id : "?", status ? status : "?", ms, text ? ": " : "", len,
               text ? text : "", note ? note : "");
    free (dumped);
}

#define S_LOGGED_MAX  65536 //  ids logged lately, to log each once
#define S_RECOVER_MS  1000  //  at most one catch-up a second
#define S_QUERY_MS    5000  //  an executor.query answer, at most
#define S_DRAIN_BATCH 10000 //  facts handled before looking at anything else

struct _attuned_watch_t {
    bus_sub_t *sub;
    const char *query_endpoint;
    bus_client_t *query; //  executor.query, connected on the first gap
    zhashx_t *logged;
    char (*order)[40]; //  the ids of `logged`, oldest first (a ring)
    size_t head, count;
    bool gap; //  a catch-up is due
    uint64_t gap_publisher, gap_since;
    uint64_t gap_lost;
    int64_t recovered_at; //  monotonic ms
};

static bool
s_terminal (const char *status)
{
    const char *ends[] = {"completed", "failed", "timeout", "cancelled", "abandoned"};
    for (size_t i = 0; status && i < sizeof ends / sizeof ends[0]; i++)
        if (streq (status, ends[i]))
            return true;
    return false;
}

//  Whether `id` was logged lately; remember it if not.
static bool
s_watch_seen (attuned_watch_t *self, const char *id)
{
    if (!id || strlen (id) >= 40)
        return false;
    if (zhashx_lookup (self->logged, id))
        return true;
    if (self->count == S_LOGGED_MAX) {
        zhashx_delete (self->logged, self->order[self->head]);
        self->head = (self->head + 1) % S_LOGGED_MAX;
        self->count--;
    }
    char *slot = self->order[(self->head + self->count++) % S_LOGGED_MAX];
    snprintf (slot, 40, "%s", id);
    zhashx_insert (self->logged, slot, (void *)1);
    return false;
}

static void
s_on_gap (void *arg, uint64_t publisher, uint64_t expected, uint64_t received)
{
    attuned_watch_t *self = (attuned_watch_t *)arg;
    if (expected == 0 && received <= 1)
        return; //  the executor's first fact: nothing before it
    uint64_t since = expected ? expected - 1 : 0;
    //  Gaps that wait for the next catch-up: from the earliest
    if (!self->gap || publisher != self->gap_publisher || since < self->gap_since)
        self->gap_since = since;
    self->gap_publisher = publisher;
    self->gap_lost += received - (expected ? expected : 1);
    self->gap = true;
}

attuned_watch_t *
attuned_watch_new (bus_topology_t *topology)
{
    attuned_watch_t *self = (attuned_watch_t *)zmalloc (sizeof (attuned_watch_t));
    self->sub = bus_sub_new (0);
    self->logged = zhashx_new ();
    self->order = calloc (S_LOGGED_MAX, 40);
    self->query_endpoint = bus_topology_connect (topology, "executor.query");
    if (!self->sub || !self->logged || !self->order || !self->query_endpoint) {
        bus_sub_destroy (&self->sub);
        zhashx_destroy (&self->logged);
        free (self->order);
        free (self);
        return NULL;
    }
    //  Keys point into `order`: not copied, not freed by the hash
    zhashx_set_key_duplicator (self->logged, NULL);
    zhashx_set_key_destructor (self->logged, NULL);
    bus_sub_set_gap_handler (self->sub, s_on_gap, self);
    //  Every executor fact, not only the terminal ones: the sequence numbers
    //  count them all, and only the whole stream shows a gap exactly
    bus_sub_connect (self->sub, bus_topology_connect (topology, "executor.facts"));
    bus_sub_subscribe (self->sub, "");
    return self;
}

void
attuned_watch_destroy (attuned_watch_t **self_p)
{
    if (*self_p) {
        attuned_watch_t *self = *self_p;
        bus_sub_destroy (&self->sub);
        bus_client_destroy (&self->query);
        zhashx_destroy (&self->logged);
        free (self->order);
        free (self);
        *self_p = NULL;
    }
}

//  One request to executor.query; the result (caller owns it) or NULL with
//  `why` filled.
static json_t *
s_watch_ask (attuned_watch_t *self, const char *type, json_t *payload, char *why,
             size_t size)
{
    if (!self->query) {
        self->query = bus_client_new ("attuned");
        if (self->query) {
            bus_client_set_timeout (self->query, S_QUERY_MS);
            bus_client_set_send_timeout (self->query, 0);
        }
        if (!self->query || bus_client_connect (self->query, self->query_endpoint) != 0) {
            snprintf (why, size, "cannot connect to %s", self->query_endpoint);
            bus_client_destroy (&self->query);
            return NULL;
        }
    }
    json_t *request = json_incref (payload);
    json_t *result = bus_client_request (self->query, type, &request);
    if (!result)
        snprintf (why, size, "%s: %s", bus_client_code (self->query),
                  bus_client_message (self->query));
    return result;
}

//  Catch up after a gap: log the executions that ended in it, once each.
static void
s_watch_recover (attuned_watch_t *self)
{
    self->gap = false;
    self->recovered_at = zclock_mono ();
    uint64_t publisher = self->gap_publisher & INT64_MAX;
    json_t *request = json_pack ("{s:I, s:I, s:i}", "publisher", (json_int_t)publisher,
                                 "since", (json_int_t)self->gap_since, "limit", 1000);
    int recovered = 0;
    bool reset = false;
    char why[600] = "";
    for (int page = 0; request && page < 1000; page++) {
        json_t *result =
            s_watch_ask (self, "api.execution.changes", request, why, sizeof why);
        json_decref (request);
        request = NULL;
        if (!result) {
            zsys_warning ("attuned: %" PRIu64 " executor facts were lost and the "
                          "executor could not say what changed (%s): executions that "
                          "ended meanwhile may not be logged",
                          self->gap_lost, why);
            break;
        }
        reset = reset || json_is_true (json_object_get (result, "reset"));
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (result, "executions"), i, item)
        {
            const char *status = json_string_value (json_object_get (item, "status"));
            if (s_terminal (status) &&
                !s_watch_seen (self, json_string_value (json_object_get (item, "id")))) {
                s_log_execution (item, " (recovered after a gap)");
                recovered++;
            }
        }
        json_t *next = json_object_get (result, "next");
        if (json_is_object (next)) {
            request = json_deep_copy (next);
            json_object_set (request, "publisher", json_object_get (result, "publisher"));
            json_object_set_new (request, "limit", json_integer (1000));
        }
        json_decref (result);
    }
    json_decref (request);
    if (reset)
        zsys_warning ("attuned: %" PRIu64 " executor facts were lost, beyond what the "
                      "executor remembers: executions that ended meanwhile are not "
                      "logged (attune execution list shows them)",
                      self->gap_lost);
    else if (!why[0] || recovered)
        zsys_info ("attuned: %" PRIu64 " executor facts were lost; %d finished "
                   "executions recovered from the executor",
                   self->gap_lost, recovered);
    self->gap_lost = 0;
}

//  Log what arrived; catch up when a gap is due.
void
attuned_watch_handle (attuned_watch_t *self)
{
    proto_envelope_t *fact;
    for (int n = 0; n < S_DRAIN_BATCH && (fact = bus_sub_recv (self->sub, NULL, 0));
         n++) {
        const char *type = proto_envelope_type (fact);
        if (strncmp (type, "execution.", 10) == 0 && s_terminal (type + 10)) {
            json_t *payload = proto_envelope_payload_json (fact, NULL);
            if (payload && !s_watch_seen (self, json_string_value (json_object_get (
                                                    payload, "execution"))))
                s_log_execution (payload, NULL);
            json_decref (payload);
        }
        proto_envelope_destroy (&fact);
    }
    if (self->gap && zclock_mono () - self->recovered_at >= S_RECOVER_MS)
        s_watch_recover (self);
}

zsock_t *
attuned_watch_sock (attuned_watch_t *self)
{
    assert (self);
    return bus_sub_sock (self->sub);
}

bool
attuned_watch_due (attuned_watch_t *self)
{
    assert (self);
    return self->gap;
}
