/*  attune_scale_bench_client: the api client (bus/bus_client.h) and pipelined batches of
    runs timed to their last terminal fact.
*/
#include "tools/attune_scale_bench.h"

//  One request, its result (caller owns it), or NULL (printed why).
static json_t *
s_call (scale_client_t *c, const char *type, json_t *payload)
{
    json_t *result = bus_client_request (c->api, type, &payload);
    if (!result)
        fprintf (stderr, "scale-bench: %s: %s: %s\n", type, bus_client_code (c->api),
                 bus_client_message (c->api));
    return result;
}

int
scale_client_open (scale_client_t *c, scale_deploy_t *d)
{
    *c = (scale_client_t){0};
    c->api = bus_client_new ("scale-bench@api");
    c->sub = bus_sub_new (2000000);
    if (!c->api || !c->sub)
        return -1;
    bus_client_set_timeout (c->api, 8000);
    bus_client_set_unbounded (c->api);
    if (bus_client_connect (c->api, d->api) != 0)
        return -1;
    json_t *hello = s_call (c, "api.hello", NULL);
    if (!hello)
        return -1;
    //  The facts endpoint as the api bound it (the one configured)
    const char *facts = json_string_value (json_object_get (hello, "facts"));
    if (facts && strncmp (facts, "tcp://127.0.0.1:", 16) == 0)
        snprintf (d->facts, sizeof d->facts, "%s", facts);
    json_decref (hello);
    const char *terminal[] = {"execution.completed", "execution.failed",
                              "execution.timeout", "execution.cancelled",
                              "execution.abandoned"};
    if (bus_sub_connect (c->sub, d->facts) != 0)
        return -1;
    for (size_t i = 0; i < sizeof terminal / sizeof terminal[0]; i++)
        bus_sub_subscribe (c->sub, terminal[i]);
    return 0;
}

void
scale_client_close (scale_client_t *c)
{
    bus_client_destroy (&c->api);
    bus_sub_destroy (&c->sub);
}

//  Wait (bounded) until api.worker.list shows `count` live workers.
int
scale_wait_workers (scale_client_t *c, size_t count)
{
    int64_t deadline = zclock_mono () + SCALE_STALL_MS;
    size_t alive = 0;
    while (zclock_mono () < deadline && !scale_interrupted) {
        json_t *list = s_call (c, "api.worker.list", NULL);
        alive = 0;
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (list, "items"), i, item)
        {
            alive += json_is_true (json_object_get (item, "alive"));
        }
        json_decref (list);
        if (alive == count)
            return 0;
        zclock_sleep (100);
    }
    fprintf (stderr, "scale-bench: timeout: %zu of %zu workers alive after %d s\n", alive,
             count, SCALE_STALL_MS / 1000);
    return -1;
}

static void
s_count_worker (scale_batch_t *b, proto_envelope_t *fact)
{
    const msgpack_object *payload = proto_envelope_payload_object (fact);
    const msgpack_object *worker = payload ? proto_map_get (payload, "worker") : NULL;
    if (!worker || worker->type != MSGPACK_OBJECT_STR)
        return;
    size_t len = worker->via.str.size < 31 ? worker->via.str.size : 31;
    for (size_t i = 0; i < b->workers; i++)
        if (strlen (b->names[i]) == len &&
            memcmp (b->names[i], worker->via.str.ptr, len) == 0) {
            b->per[i]++;
            return;
        }
    if (b->workers < SCALE_MAX_NAMES) {
        memcpy (b->names[b->workers], worker->via.str.ptr, len);
        b->names[b->workers][len] = 0;
        b->per[b->workers++] = 1;
    }
}

//  A batch under way
typedef struct {
    scale_client_t *c;
    scale_batch_t *b;
    const char *type;
    const msgpack_sbuffer *payload;
    uint8_t (*ids)[PROTO_UUID_SIZE]; //  request ids, the index in the last 4 bytes
    size_t *resend;                  //  indexes to send again
    size_t resend_n;
    size_t sent, replied, expected;
    int64_t t0, t_last, t_reply;
} s_run_t;

//  Fill the window: resends first, then new runs.
static void
s_batch_fill (s_run_t *r)
{
    while (r->sent - r->replied < SCALE_WINDOW &&
           (r->resend_n || r->sent < r->b->count)) {
        size_t index;
        proto_envelope_t *request = proto_envelope_new (r->type, "scale-bench@api");
        if (r->resend_n) {
            index = r->resend[--r->resend_n];
            r->replied--; //  counted again when its reply comes
        } else {
            index = r->sent++;
            //  The index in the last 4 bytes of the (random) id
            memcpy (r->ids[index], proto_envelope_id (request), PROTO_UUID_SIZE);
            uint32_t tag = htonl ((uint32_t)index);
            memcpy (r->ids[index] + 12, &tag, 4);
        }
        proto_envelope_set_id (request, r->ids[index]);
        proto_envelope_set_payload_packed (request, r->payload->data, r->payload->size);
        bus_client_send (r->c->api, &request);
        proto_envelope_destroy (&request);
    }
}

//  A reply to run `index`: accepted, rejected, or to send again.
static void
s_batch_reply (s_run_t *r, size_t index, proto_envelope_t *reply)
{
    scale_batch_t *b = r->b;
    r->replied++;
    r->t_reply = proto_now_usec ();
    if (streq (proto_envelope_type (reply), "api.reply")) {
        b->accepted++;
        return;
    }
    json_t *body = proto_envelope_payload_json (reply, NULL);
    const char *code = json_string_value (json_object_get (body, "code"));
    if (code && streq (code, "unavailable")) {
        r->resend[r->resend_n++] = index;
        b->resent++;
    } else {
        if (b->rejected++ == 0) {
            char *text = json_dumps (body, JSON_COMPACT);
            fprintf (stderr, "scale-bench: run rejected: %s\n", text ? text : "?");
            free (text);
        }
        r->expected--;
    }
    json_decref (body);
}

//  Replies and facts waiting; true when anything came.
static bool
s_batch_drain (s_run_t *r)
{
    bool moved = false;
    proto_envelope_t *reply;
    while ((reply = bus_client_recv (r->c->api))) {
        const uint8_t *corr = proto_envelope_corr (reply);
        uint32_t tag;
        memcpy (&tag, corr + 12, 4);
        size_t index = ntohl (tag);
        bus_client_forget (r->c->api, corr);
        if (index < r->sent && memcmp (r->ids[index], corr, PROTO_UUID_SIZE) == 0) {
            moved = true;
            s_batch_reply (r, index, reply);
        }
        proto_envelope_destroy (&reply);
    }
    proto_envelope_t *fact;
    while ((fact = bus_sub_recv (r->c->sub, NULL, 0))) {
        moved = true;
        if (streq (proto_envelope_type (fact), "execution.completed"))
            r->b->completed++;
        else
            r->b->other++;
        s_count_worker (r->b, fact);
        r->t_last = proto_now_usec ();
        proto_envelope_destroy (&fact);
    }
    return moved;
}

//  `count` requests of `type` with `payload` (packed msgpack map), each
//  making one execution; at most SCALE_WINDOW requests in flight. Timed from the
//  first request to the last terminal execution fact.
void
scale_batch (scale_client_t *c, const char *type, const msgpack_sbuffer *payload,
             size_t count, scale_batch_t *b)
{
    memset (b, 0, sizeof *b);
    b->count = count;
    s_run_t r = {.c = c, .b = b, .type = type, .payload = payload, .expected = count};
    r.ids = calloc (count ? count : 1, PROTO_UUID_SIZE);
    r.resend = (size_t *)calloc (count ? count : 1, sizeof (size_t));
    r.t0 = r.t_last = r.t_reply = proto_now_usec ();
    int64_t progress = zclock_mono ();
    while (b->completed + b->other < r.expected && !scale_interrupted) {
        s_batch_fill (&r);
        zmq_pollitem_t items[2] = {
            {zsock_resolve (bus_client_sock (c->api)), 0, ZMQ_POLLIN, 0},
            {zsock_resolve (bus_sub_sock (c->sub)), 0, ZMQ_POLLIN, 0}};
        zmq_poll (items, 2, 100);
        if (s_batch_drain (&r))
            progress = zclock_mono ();
        else if (zclock_mono () - progress > SCALE_STALL_MS) {
            b->timed_out = true;
            break;
        }
    }
    bus_client_forget (c->api, NULL);
    b->seconds = (double)(r.t_last - r.t0) / 1e6;
    b->submit_s = (double)(r.t_reply - r.t0) / 1e6;
    free (r.ids);
    free (r.resend);
}

double
scale_rate (const scale_batch_t *b)
{
    size_t n = b->completed + b->other;
    return b->seconds > 0 ? (double)n / b->seconds : 0;
}

void
scale_batch_report (const char *label, const scale_batch_t *b)
{
    if (b->timed_out)
        printf ("  %s: TIMEOUT: no progress for %d s; %zu of %zu ended, %zu accepted\n",
                label, SCALE_STALL_MS / 1000, b->completed + b->other, b->count,
                b->accepted);
    if (scale_interrupted)
        printf ("  %s: interrupted\n", label);
    if (b->other || b->rejected || b->resent)
        printf ("  %s: %zu completed, %zu other terminal (failed...), %zu rejected, "
                "%zu resent (unavailable)\n",
                label, b->completed, b->other, b->rejected, b->resent);
}
