/*  test_faults_kill: the SIGKILL loop of issue 14's fault campaign
    (tests/testing_faults.h holds what its suites share).

    sigkill_loop: a live attuned under a steady load of api runs (a shell
    action that records each start, a noop action) and published events
    (two rules: the same two actions) is SIGKILLed at varied moments, at
    least 20 times, and restarted each time. After it settles: every
    acknowledged run has its execution and every acknowledged event one per
    rule (lost = 0); no execution started twice and no enforcement or event
    has a second execution of a rule (doubled = 0); nothing is left
    requested, scheduled, running or in any other unended status (stuck =
    0); and every completed shell execution did start.

    The seed is printed; ATTUNE_FAULTS_SEED replaces it. Under sanitizers
    the load is lighter; the minimums hold.
*/
#include "tests/testing_faults.h"
#include <msgpack.h>

TestSuite (faults, .fini = testing_daemon_stop_all, .timeout = 120);

//  ---------------------------------------------------------------------------
//  The load's helpers

static int
s_between (uint64_t *state, int low, int high)
{
    return low + (int)(testing_faults_rand (state) % (uint64_t)(high - low + 1));
}

//  Encode a request envelope of `type` with the JSON `payload` (taken) into
//  `buffer` (cleared first); `id` gets its id when not NULL.
static void
s_encode (msgpack_sbuffer *buffer, const char *type, json_t *payload, uint8_t *id)
{
    proto_envelope_t *request = proto_envelope_new (type, "faults@test");
    cr_assert_eq (proto_envelope_set_payload_json (request, payload, NULL), PROTO_OK);
    json_decref (payload);
    if (id)
        memcpy (id, proto_envelope_id (request), PROTO_UUID_SIZE);
    msgpack_sbuffer_clear (buffer);
    proto_envelope_encode (request, buffer);
    proto_envelope_destroy (&request);
}

//  A process's resident set (kB), from /proc/PID/status: `field` is

static void
s_json_destroy (void **item)
{
    json_decref ((json_t *)*item);
    *item = NULL;
}

//  Every execution the executor holds, by id (api.execution.list, paged).
static zhashx_t *
s_all_executions (zsock_t *sock)
{
    zhashx_t *all = zhashx_new ();
    zhashx_set_destructor (all, s_json_destroy);
    char before[64] = "";
    do {
        json_t *payload = json_pack ("{s:i}", "limit", 500);
        if (*before)
            json_object_set_new (payload, "before", json_string (before));
        json_t *page = testing_api_ok (sock, "api.execution.list", payload);
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (page, "items"), i, item)
        {
            const char *id = json_string_value (json_object_get (item, "id"));
            cr_assert_not_null (id);
            zhashx_update (all, id, json_incref (item));
        }
        const char *next = json_string_value (json_object_get (page, "next"));
        snprintf (before, sizeof before, "%s", next ? next : "");
        json_decref (page);
    } while (*before);
    return all;
}

static size_t
s_unended (zhashx_t *all)
{
    size_t n = 0;
    for (json_t *record = (json_t *)zhashx_first (all); record;
         record = (json_t *)zhashx_next (all))
        n += !testing_status_terminal (testing_faults_status (record));
    return n;
}

//  Each id in a file of "ID PID" lines (an action's starts): how many times.
static zhashx_t *
s_starts_read (const char *path)
{
    zhashx_t *starts = zhashx_new ();
    char *text = testing_read (path);
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line;
         line = strtok_r (NULL, "\n", &save)) {
        line[strcspn (line, " ")] = 0;
        uintptr_t n = (uintptr_t)zhashx_lookup (starts, line);
        zhashx_update (starts, line, (void *)(n + 1));
    }
    free (text);
    return starts;
}

static int
s_starts_of (zhashx_t *starts, const char *id)
{
    return (int)(uintptr_t)zhashx_lookup (starts, id);
}

//  ---------------------------------------------------------------------------
//  SIGKILL loop: nothing lost, nothing doubled, nothing stuck

#define S_KILLS 20 //  the minimum

typedef enum { S_RUN_MARK = 1, S_RUN_STEP, S_EVENT } s_kind_t;

typedef struct {
    testing_daemon_t daemon;
    char starts[PATH_MAX]; //  test.mark's starts: "ID PID" per line
    zsock_t *sock;         //  this life's client, made after each start
    zhashx_t *pending;     //  request id -> kind, until answered
    zhashx_t *runs;        //  execution ids of acknowledged runs
    zhashx_t *events;      //  event ids of acknowledged publishes
    int sent, refused;
} s_loop_t;

static s_loop_t s_loop;

//  The pack: test.mark records its start and sleeps a little (so kills
//  find it running), test.step does nothing; an event of test.hook
//  requests both (two rules).
static void
s_loop_pack (s_loop_t *self)
{
    testing_daemon_t *d = &self->daemon;
    testing_daemon_write (d, "test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (d, "test/triggers/hook.yaml", "name: hook\npack: test\n");
    char text[PATH_MAX + 512];
    snprintf (text, sizeof text,
              "name: mark\nrunner_type: local-shell-cmd\n"
              "entry_point: 'echo \"$ATTUNE_EXECUTION_ID $$\" >> %s; exec sleep 0.1'\n"
              "parameters:\n  n:\n    type: integer\n    default: 0\n",
              self->starts);
    testing_daemon_write (d, "test/actions/mark.yaml", text);
    testing_daemon_write (d, "test/actions/step.yaml",
                          "name: step\nrunner_type: noop\nparameters:\n"
                          "  n:\n    type: integer\n    default: 0\n");
    const char *rules[] = {"mark", "step"};
    for (int i = 0; i < 2; i++) {
        snprintf (text, sizeof text,
                  "name: %s\npack: test\ntrigger:\n  type: test.hook\n"
                  "action:\n  ref: test.%s\n  parameters:\n"
                  "    n: \"{{ trigger.payload.n }}\"\n",
                  rules[i], rules[i]);
        char path[64];
        snprintf (path, sizeof path, "test/rules/%s.yaml", rules[i]);
        testing_daemon_write (d, path, text);
    }
}

static void
s_loop_start (s_loop_t *self)
{
    const char *extra[] = {"--worker-slots", "8", NULL};
    testing_daemon_start (&self->daemon, extra);
    self->sock = testing_api_client (&self->daemon);
    zsock_set_linger (self->sock, 0);
}

//  One request of the load: a run of either action, or an event.
static void
s_loop_send (s_loop_t *self, uint64_t *rng)
{
    static msgpack_sbuffer buffer;
    if (!buffer.data)
        msgpack_sbuffer_init (&buffer);
    int n = (int)(testing_faults_rand (rng) % 1000);
    s_kind_t kind = (s_kind_t)s_between (rng, S_RUN_MARK, S_EVENT);
    uint8_t id[PROTO_UUID_SIZE];
    if (kind == S_EVENT)
        s_encode (&buffer, "api.event.publish",
                  json_pack ("{s:s, s:{s:i}}", "trigger", "test.hook", "payload", "n", n),
                  id);
    else
        s_encode (&buffer, "api.execution.run",
                  json_pack ("{s:s, s:{s:i}}", "action",
                             kind == S_RUN_MARK ? "test.mark" : "test.step", "parameters",
                             "n", n),
                  id);
    if (zmq_send (zsock_resolve (self->sock), buffer.data, buffer.size, ZMQ_DONTWAIT) !=
        (int)buffer.size)
        return;
    char key[PROTO_UUID_STR_SIZE];
    proto_uuid_format (id, key);
    zhashx_insert (self->pending, key, (void *)(uintptr_t)kind);
    self->sent++;
}

//  Take the answers waiting: an acknowledged run or event is accepted.
static void
s_loop_drain (s_loop_t *self)
{
    zframe_t *frame;
    while ((frame = zframe_recv_nowait (self->sock))) {
        proto_envelope_t *reply =
            proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
        zframe_destroy (&frame);
        cr_assert_not_null (reply, "the api answers with an envelope");
        char key[PROTO_UUID_STR_SIZE] = "";
        if (proto_envelope_corr (reply))
            proto_uuid_format (proto_envelope_corr (reply), key);
        s_kind_t kind = (s_kind_t)(uintptr_t)zhashx_lookup (self->pending, key);
        json_t *json = proto_envelope_to_json (reply, NULL);
        json_t *result = json_object_get (json_object_get (json, "payload"), "result");
        const char *made = json_string_value (
            json_object_get (result, kind == S_EVENT ? "event" : "execution"));
        if (kind && streq (proto_envelope_type (reply), "api.reply")) {
            cr_assert_not_null (made, "an acknowledgement names what it made");
            zhashx_update (kind == S_EVENT ? self->events : self->runs, made, (void *)1);
        } else if (kind && ++self->refused <= 5) {
            char *text = json_dumps (json, JSON_COMPACT);
            fprintf (stderr, "faults::sigkill_loop: refused: %s\n", text);
            free (text);
        }
        zhashx_delete (self->pending, key);
        json_decref (json);
        proto_envelope_destroy (&reply);
    }
}

//  Load the daemon for `life_ms`, one request each `interval_ms` (at most
//  32 unanswered), then SIGKILL it. What was not answered is not counted.
static void
s_loop_life (s_loop_t *self, uint64_t *rng, int life_ms, int interval_ms)
{
    int64_t now = zclock_mono ();
    int64_t kill_at = now + life_ms, next = now;
    while ((now = zclock_mono ()) < kill_at) {
        if (now >= next) {
            if (zhashx_size (self->pending) < 32)
                s_loop_send (self, rng);
            next += interval_ms;
        }
        s_loop_drain (self);
        int64_t until = next < kill_at ? next : kill_at;
        zmq_pollitem_t item = {zsock_resolve (self->sock), 0, ZMQ_POLLIN, 0};
        if (until > zclock_mono ())
            zmq_poll (&item, 1, (long)(until - zclock_mono ()));
    }
    cr_assert_eq (waitpid (self->daemon.pid, NULL, WNOHANG), 0,
                  "attuned died before its kill:\n%s",
                  testing_daemon_read_log (&self->daemon));
    kill (self->daemon.pid, SIGKILL);
    waitpid (self->daemon.pid, NULL, 0);
    self->daemon.pid = 0;
    zhashx_purge (self->pending);
    zsock_destroy (&self->sock);
}

typedef struct {
    int executions, lost, doubled, stuck;
    int completed, abandoned, abandoned_unstarted, unrun, starts;
} s_counts_t;

//  Per execution: stuck, abandoned, test.mark's starts; enforcements and
//  events with more than one execution per rule (doubled).
static void
s_loop_count_executions (zhashx_t *all, zhashx_t *starts, zhashx_t *per_event,
                         s_counts_t *counts)
{
    zhashx_t *enforcements = zhashx_new ();
    for (json_t *record = (json_t *)zhashx_first (all); record;
         record = (json_t *)zhashx_next (all)) {
        const char *id = (const char *)zhashx_cursor (all);
        const char *status = testing_faults_status (record);
        const char *action = json_string_value (json_object_get (record, "action"));
        const char *event = json_string_value (json_object_get (record, "event"));
        const char *enforcement =
            json_string_value (json_object_get (record, "enforcement"));
        bool mark = action && streq (action, "test.mark");
        int started = mark ? s_starts_of (starts, id) : 0;
        counts->executions++;
        counts->stuck += !testing_status_terminal (status);
        counts->completed += status && streq (status, "completed");
        if (status && streq (status, "abandoned")) {
            counts->abandoned++;
            counts->abandoned_unstarted += mark && started == 0;
        }
        //  A completed shell action ran: its start is in the file
        counts->unrun += mark && started == 0 && status && streq (status, "completed");
        if (enforcement) {
            counts->doubled += zhashx_lookup (enforcements, enforcement) != NULL;
            zhashx_update (enforcements, enforcement, (void *)1);
        }
        if (event) {
            uintptr_t n = (uintptr_t)zhashx_lookup (per_event, event);
            zhashx_update (per_event, event, (void *)(n + 1));
        }
    }
    zhashx_destroy (&enforcements);
}

//  The counts over every execution after the loop (`all`).
static s_counts_t
s_loop_count (s_loop_t *self, zhashx_t *all)
{
    s_counts_t counts = {0};
    zhashx_t *starts = s_starts_read (self->starts);
    zhashx_t *per_event = zhashx_new ();
    s_loop_count_executions (all, starts, per_event, &counts);
    //  An execution started twice: its id twice in the file
    for (void *n = zhashx_first (starts); n; n = zhashx_next (starts)) {
        counts.starts += (int)(uintptr_t)n;
        if ((uintptr_t)n > 1) {
            counts.doubled++;
            fprintf (stderr, "faults::sigkill_loop: %s started %d times\n",
                     (const char *)zhashx_cursor (starts), (int)(uintptr_t)n);
        }
    }
    //  Accepted runs have an execution; accepted events one per rule (two)
    for (void *p = zhashx_first (self->runs); p; p = zhashx_next (self->runs))
        counts.lost += zhashx_lookup (all, zhashx_cursor (self->runs)) == NULL;
    for (void *p = zhashx_first (self->events); p; p = zhashx_next (self->events)) {
        int n = (int)(uintptr_t)zhashx_lookup (per_event, zhashx_cursor (self->events));
        counts.lost += n < 2 ? 2 - n : 0;
        counts.doubled += n > 2 ? n - 2 : 0;
    }
    zhashx_destroy (&per_event);
    zhashx_destroy (&starts);
    return counts;
}

//  Restart and wait until nothing is left to end: while the backlog
//  shrinks, up to `timeout_ms`; an execution that has not moved for
//  `quiet_ms` will not. Returns every execution as it stands then.
static zhashx_t *
s_loop_settle (s_loop_t *self, int quiet_ms, int timeout_ms)
{
    s_loop_start (self);
    int64_t started = zclock_mono ();
    int64_t moved = started;
    zhashx_t *all = s_all_executions (self->sock);
    size_t unended = s_unended (all);
    fprintf (stderr, "faults::sigkill_loop: %zu to end after the last start\n", unended);
    while (unended > 0 && zclock_mono () - moved < quiet_ms &&
           zclock_mono () - started < timeout_ms) {
        zclock_sleep (500);
        zhashx_destroy (&all);
        all = s_all_executions (self->sock);
        size_t now = s_unended (all);
        if (now < unended)
            moved = zclock_mono ();
        unended = now;
    }
    fprintf (stderr, "faults::sigkill_loop: %zu unended %d ms after the last start\n",
             unended, (int)(zclock_mono () - started));
    return all;
}

//  Each life: now and then killed while it recovers (within 300 ms of its
//  start), otherwise after 0.5-2.5 s of load.
static int
s_loop_life_ms (uint64_t *rng)
{
    int scale = TESTING_SANITIZED ? 2 : 1;
    if (testing_faults_rand (rng) % 4 == 0)
        return s_between (rng, 0, 300);
    return s_between (rng, 500, 2500 / scale);
}

Test (faults, sigkill_loop)
{
    uint64_t rng = testing_faults_seed ("sigkill_loop", 14001);
    s_loop_t *self = &s_loop;
    testing_daemon_init (&self->daemon, "test_faults_kill");
    snprintf (self->starts, sizeof self->starts, "%.3500s/starts", self->daemon.root);
    s_loop_pack (self);
    self->pending = zhashx_new ();
    self->runs = zhashx_new ();
    self->events = zhashx_new ();
    int64_t began = zclock_mono ();
    for (int kill = 0; kill < S_KILLS; kill++) {
        s_loop_start (self);
        s_loop_life (self, &rng, s_loop_life_ms (&rng), TESTING_SANITIZED ? 30 : 15);
    }
    int64_t loop_ms = zclock_mono () - began;
    zhashx_t *all = s_loop_settle (self, 10000, 60000);
    s_counts_t counts = s_loop_count (self, all);
    fprintf (stderr,
             "faults::sigkill_loop: %d kills in %d ms; %d requests sent, %zu runs and "
             "%zu events accepted, %d refused; %d executions: %d completed, %d "
             "abandoned (%d of them never started), %d starts of test.mark; "
             "lost %d, doubled %d, stuck %d, completed unrun %d\n",
             S_KILLS, (int)loop_ms, self->sent, zhashx_size (self->runs),
             zhashx_size (self->events), self->refused, counts.executions,
             counts.completed, counts.abandoned, counts.abandoned_unstarted,
             counts.starts, counts.lost, counts.doubled, counts.stuck, counts.unrun);
    cr_assert_gt (zhashx_size (self->runs) + zhashx_size (self->events), 100,
                  "the load was a load");
    cr_assert_eq (counts.lost, 0, "lost %d", counts.lost);
    cr_assert_eq (counts.doubled, 0, "doubled %d", counts.doubled);
    cr_assert_eq (counts.stuck, 0, "stuck %d", counts.stuck);
    cr_assert_eq (counts.unrun, 0, "%d test.mark completed without a start",
                  counts.unrun);
    zhashx_destroy (&all);
    zhashx_destroy (&self->pending);
    zhashx_destroy (&self->runs);
    zhashx_destroy (&self->events);
    zsock_destroy (&self->sock);
}
