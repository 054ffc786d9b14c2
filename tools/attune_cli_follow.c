/*  attune_cli_follow: following an execution until it ends (run --wait, execution
    tail): the fact stream for speed, api.execution.get polls for certainty.
*/
#include "tools/attune_cli.h"

#include <time.h>
#include <unistd.h>
#include "bus/bus_security.h"

typedef struct {
    cli_t *client;
    const char *id;
    bool tail;          //  status lines on stdout (tail) or stderr (run --wait)
    bool tty;           //  run --wait on a terminal: one redrawn progress line
    char *shown;        //  last status reported
    int64_t requested;  //  µs, from the execution
    int64_t start_mono; //  when we began, for a missing `requested`

    cli_output_t *output; //  its live output printed (tail), or NULL
} s_follow_t;

static int
s_status_rank (const char *status)
{
    if (!status)
        return -1;
    if (streq (status, "requested") || streq (status, "delayed"))
        return 0;
    if (streq (status, "scheduled"))
        return 1;
    if (streq (status, "running"))
        return 2;
    if (streq (status, "canceling"))
        return 3;
    if (streq (status, "completed") || streq (status, "failed") ||
        streq (status, "timeout") || streq (status, "cancelled") ||
        streq (status, "abandoned"))
        return 4;
    return 2; //  a status this client does not know: between the others
}

static double
s_follow_elapsed (s_follow_t *self)
{
    if (self->requested > 0)
        return (double)(proto_now_usec () - self->requested) / 1e6;
    return (double)(zclock_mono () - self->start_mono) / 1000.0;
}

static void
s_follow_progress (s_follow_t *self)
{
    if (self->tty && self->shown)
        fprintf (stderr, "\r  %-10s %6.1f s\033[K", self->shown, s_follow_elapsed (self));
}

//  A workflow's pausing, paused, resuming (and running after them) come
//  and go: shown whenever they change.
static bool
s_pause_status (const char *status)
{
    return status && (streq (status, "pausing") || streq (status, "paused") ||
                      streq (status, "resuming"));
}

//  A status seen (from a fact or a get): report it when it moves forward.
static void
s_follow_status (s_follow_t *self, const char *status)
{
    bool pause = s_pause_status (status) || (self->shown && s_pause_status (self->shown));
    if (!status || (self->shown &&
                    (streq (status, self->shown) ||
                     (!pause && s_status_rank (status) <= s_status_rank (self->shown)) ||
                     (pause && s_status_rank (status) < s_status_rank (self->shown)))))
        return;
    free (self->shown);
    self->shown = strdup (status);
    if (self->client->json)
        return;
    char *clean = cli_clean (cli_st2_status_name (status), CLI_CELL_MAX);
    if (self->tail) {
        char when[64];
        cli_format_time (proto_now_usec (), true, when, sizeof when);
        printf ("%s  %s\n", when, clean);
        fflush (stdout);
    } else if (self->tty)
        s_follow_progress (self);
    else
        fprintf (stderr, "  %-10s %6.1f s\n", clean, s_follow_elapsed (self));
    free (clean);
}

//  The fact endpoint, with a wildcard host (0.0.0.0, *) replaced by the
//  api's host. Caller frees.
static char *
s_facts_endpoint (const char *api, const char *facts)
{
    if (strncmp (facts, "tcp://", 6) == 0 && strncmp (api, "tcp://", 6) == 0) {
        const char *host = facts + 6, *colon = strrchr (host, ':');
        const char *api_host = api + 6, *api_colon = strrchr (api_host, ':');
        size_t n = colon ? (size_t)(colon - host) : 0;
        bool wildcard = (n == 7 && strncmp (host, "0.0.0.0", 7) == 0) ||
                        (n == 1 && *host == '*') ||
                        (n == 4 && strncmp (host, "[::]", 4) == 0);
        if (wildcard && api_colon)
            return zsys_sprintf ("tcp://%.*s%s", (int)(api_colon - api_host), api_host,
                                 colon);
    }
    return strdup (facts);
}

//  A SUB socket on the api's fact endpoint, subscribed to the executor's
//  facts (all of them: their sequence numbers show a gap only in the whole
//  stream); NULL (with a warning) when there is none: following then only
//  polls.
static zsock_t *
s_follow_subscribe (cli_t *client)
{
    json_t *hello = cli_request (client, "api.hello", NULL);
    const char *facts = json_string_value (json_object_get (hello, "facts"));
    if (!facts) {
        if (hello)
            cli_fail (client, "bad_reply", "api.hello has no 'facts' endpoint");
        fprintf (stderr, "attune: warning: no fact stream (%s: %s); polling only\n",
                 client->code, client->message ? client->message : "");
        json_decref (hello);
        return NULL;
    }
    char *endpoint = s_facts_endpoint (client->endpoint, facts);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (sub) {
        zsock_set_linger (sub, 0);
        zsock_set_maxmsgsize (sub, PROTO_MAX_SOCKET_MSG);
        zsock_set_subscribe (sub, "execution.");
        zsock_set_subscribe (sub, "inquiry.");
        zsock_set_subscribe (sub, "worker.");
        zsock_set_subscribe (sub, "executor."); //  its heartbeat: losses at a burst's end
        if (cli_secure (client, sub, endpoint) != 0 ||
            zsock_connect (sub, "%s", endpoint) != 0) {
            fprintf (stderr,
                     "attune: warning: cannot connect to the fact stream %s; "
                     "polling only\n",
                     endpoint);
            zsock_destroy (&sub);
        }
    }
    free (endpoint);
    json_decref (hello);
    return sub;
}

#define S_RESYNC_MS 100 //  a gap reads the record at once, at most this often

//  The executor's fact stream as this follower has seen it
//  (proto/PROTOCOL.md, "Resynchronising after a gap").
typedef struct {
    uint64_t publisher; //  publisher id of the stream (0: no fact yet)
    uint64_t last;      //  its last sequence number
    uint64_t gaps;      //  gaps and restarts seen
} s_stream_t;

static uint64_t
s_be64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

//  Track a fact's meta frame: 0 in order, 1 when facts were missed (a gap,
//  or a publisher not seen before: the first fact, or the executor
//  restarted), -1 for a duplicate or a malformed frame (drop the fact).
static int
s_follow_track (s_stream_t *stream, zframe_t *meta)
{
    if (zframe_size (meta) != 16)
        return -1;
    uint64_t seq = s_be64 (zframe_data (meta));
    uint64_t publisher = s_be64 (zframe_data (meta) + 8);
    if (publisher == stream->publisher && seq <= stream->last)
        return -1;
    bool missed = publisher != stream->publisher || seq != stream->last + 1;
    stream->gaps += missed;
    stream->publisher = publisher;
    stream->last = seq;
    return missed ? 1 : 0;
}

//  A fact of a child of the execution followed (a workflow's task): one
//  line when it starts, waits on a person, and ends.
static void
s_follow_task (s_follow_t *self, const json_t *fact)
{
    const char *status = cli_str (fact, "status");
    if (self->client->json || !status ||
        !(streq (status, "running") || streq (status, "pending") ||
          s_status_rank (status) == 4))
        return;
    const char *task = cli_str (fact, "task");
    char *clean_task = cli_clean (task && *task ? task : "-", CLI_CELL_MAX);
    char *clean_action = cli_clean (
        cli_str (fact, "action") ? cli_str (fact, "action") : "?", CLI_CELL_MAX);
    char *clean_status = cli_clean (cli_st2_status_name (status), CLI_CELL_MAX);
    if (self->tty)
        fprintf (stderr, "\r\033[K");
    fprintf (self->tail ? stdout : stderr, "  task %s (%s) %s\n", clean_task,
             clean_action, clean_status);
    fflush (self->tail ? stdout : stderr);
    free (clean_task);
    free (clean_action);
    free (clean_status);
}

//  The payload of one execution fact for our id, or NULL (a child's fact
//  is shown as a task line). Sets *missed when facts were lost before this
//  one.
static json_t *
s_follow_fact (s_follow_t *self, zsock_t *sub, const char *id, s_stream_t *stream,
               bool *missed)
{
    zmsg_t *msg = zmsg_recv (sub);
    if (!msg)
        return NULL;
    json_t *payload = NULL;
    zframe_t *topic = zmsg_first (msg);
    int tracked = zmsg_size (msg) == 3 ? s_follow_track (stream, zmsg_next (msg)) : -1;
    if (tracked == 1)
        *missed = true;
    if (tracked >= 0 && zframe_size (topic) > 10 &&
        memcmp (zframe_data (topic), "execution.", 10) == 0) {
        zframe_t *frame = zmsg_last (msg);
        proto_envelope_t *fact =
            proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
        payload = fact ? proto_envelope_payload_json (fact, NULL) : NULL;
        proto_envelope_destroy (&fact);
        const char *execution = cli_str (payload, "execution");
        const char *parent = cli_str (payload, "parent");
        bool output = zframe_streq (topic, "execution.output");
        if (parent && strcasecmp (parent, id) == 0 && !output)
            s_follow_task (self, payload);
        if (output && self->output && execution && strcasecmp (execution, id) == 0)
            cli_output_fact (self->output, payload);
        if (output || !execution || strcasecmp (execution, id) != 0)
            json_decref (payload), payload = NULL;
    }
    zmsg_destroy (&msg);
    return payload;
}

//  An execution record as the api shows it, made from a terminal fact (when
//  the store lags behind the facts).
static json_t *
s_execution_from_fact (json_t *execution, json_t *fact)
{
    json_t *copy = json_deep_copy (execution);
    const char *key;
    json_t *value;
    json_object_foreach (fact, key, value)
    {
        if (!streq (key, "execution"))
            json_object_set (copy, key, value);
    }
    return copy;
}

//  The loop's state between turns
typedef struct {
    json_t *terminal_fact; //  the fact that it ended, when one came
    int64_t terminal_seen; //  when
    int64_t next_poll;     //  when the record is read next
    int64_t polled;        //  when the record was last read
    s_stream_t stream;     //  the fact stream's sequence numbers
} s_loop_t;

//  Wait for a fact until the next poll, progress line or deadline, and take
//  it: a status shown, an end noted (the record is read at once), a gap
//  (the record is read soon).
static void
s_follow_listen (s_follow_t *self, zsock_t *sub, s_loop_t *loop, int64_t wait_ms,
                 int64_t now)
{
    int64_t wake = loop->next_poll;
    if (self->tty && wake > now + CLI_PROGRESS_MS)
        wake = now + CLI_PROGRESS_MS;
    if (wait_ms > 0 && wake > self->start_mono + wait_ms)
        wake = self->start_mono + wait_ms;
    zmq_pollitem_t item = {sub ? zsock_resolve (sub) : NULL, 0, ZMQ_POLLIN, 0};
    long timeout = wake > now ? (long)(wake - now) : 0;
    if (!(sub ? zmq_poll (&item, 1, timeout) > 0 : (zclock_sleep ((int)timeout), false)))
        return;
    bool missed = false;
    json_t *fact = s_follow_fact (self, sub, self->id, &loop->stream, &missed);
    if (missed && loop->next_poll > loop->polled + S_RESYNC_MS)
        loop->next_poll = loop->polled + S_RESYNC_MS; //  resynchronise: read it now
    if (fact) {
        s_follow_status (self, cli_str (fact, "status"));
        if (s_status_rank (cli_str (fact, "status")) == 4 && !loop->terminal_fact) {
            loop->terminal_fact = json_incref (fact);
            loop->terminal_seen = zclock_mono ();
            loop->next_poll = loop->terminal_seen; //  read the full record now
        }
        json_decref (fact);
    }
}

//  Follow an execution until it ends or `wait_ms` (0 = no limit) passes.
//  Returns the final execution (caller owns it), or NULL with the error set.
json_t *
cli_follow (cli_t *client, const char *id, bool tail, int64_t wait_ms,
            cli_output_t *output)
{
    s_follow_t self = {
        client, id, tail,           !tail && !client->json && isatty (STDERR_FILENO),
        NULL,   0,  zclock_mono (), output};
    //  Subscribe first, then read the state: no change falls in between
    zsock_t *sub = s_follow_subscribe (client);
    if (!sub && streq (client->code, "unavailable"))
        return NULL;
    json_t *execution =
        cli_request (client, "api.execution.get", json_pack ("{s:s}", "id", id));
    if (execution && output) {
        s_follow_status (&self, cli_str (execution, "status")); //  before its output
        if (cli_output_fetch (output) != 0)
            json_decref (execution), execution = NULL; //  what it printed so far
    }
    s_loop_t loop = {.next_poll = zclock_mono () + CLI_POLL_MS, .polled = zclock_mono ()};
    while (execution) {
        self.requested = cli_int (execution, "requested");
        const char *status = cli_str (execution, "status");
        s_follow_status (&self, status);
        if (s_status_rank (status) == 4)
            break;
        int64_t now = zclock_mono ();
        if (loop.terminal_fact && now - loop.terminal_seen >= CLI_LAG_MS) {
            json_t *final = s_execution_from_fact (execution, loop.terminal_fact);
            json_decref (execution);
            execution = final;
            continue;
        }
        if (wait_ms > 0 && now - self.start_mono >= wait_ms) {
            cli_fail (client, "timeout", "execution %s is still %s after %.1f s", id,
                      status ? status : "?", wait_ms / 1000.0);
            json_decref (execution);
            execution = NULL;
            break;
        }
        s_follow_listen (&self, sub, &loop, wait_ms, now);
        s_follow_progress (&self);
        if (zclock_mono () >= loop.next_poll) {
            json_t *fresh =
                cli_request (client, "api.execution.get", json_pack ("{s:s}", "id", id));
            json_decref (execution);
            execution = fresh; //  NULL on error: the loop ends
            loop.polled = zclock_mono ();
            loop.next_poll =
                zclock_mono () + (loop.terminal_fact ? CLI_PROGRESS_MS : CLI_POLL_MS);
        }
    }
    if (self.tty && self.shown)
        fprintf (stderr, "\r\033[K");
    if (execution && output && cli_output_fetch (output) != 0)
        json_decref (execution), execution = NULL; //  what is left, once it ended
    json_decref (loop.terminal_fact);
    zsock_destroy (&sub);
    free (self.shown);
    return execution;
}

//  Show the end of an execution; exit 0 only when it completed.
int
cli_follow_done (cli_t *client, json_t *execution)
{
    if (!execution)
        return cli_report (client);
    if (client->json)
        cli_print_json (execution);
    else
        cli_print_execution (execution);
    const char *status = cli_str (execution, "status");
    int rc = status && streq (status, "completed") ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    json_decref (execution);
    return rc;
}
