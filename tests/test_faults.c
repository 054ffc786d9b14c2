/*  test_faults: the fault campaign of issue 14, as a suite CI runs.

    sigkill_loop: a live attuned under a steady load of api runs (a shell
    action that records each start, a noop action) and published events
    (two rules: the same two actions) is SIGKILLed at varied moments, at
    least 20 times, and restarted each time. After it settles: every
    acknowledged run has its execution and every acknowledged event one per
    rule (lost = 0); no execution started twice and no enforcement or event
    has a second execution of a rule (doubled = 0); nothing is left
    requested, scheduled, running or in any other unended status (stuck =
    0); and every completed shell execution did start.

    worker_kill_settle_time: a core and two worker processes on loopback
    tcp, with the deployment's default heartbeat; long shell actions
    running and queued on a worker; the worker is SIGKILLed, and the time
    until the executor has settled every one of its executions (ended, or
    off it: waiting again, or given to the other worker) is measured: at
    most 5 s, for each of the two workers in turn.

    seeded_api_fuzz: hostile frames at the api endpoint, 400,000 (100,000
    under sanitizers; ATTUNE_FAULTS_FRAMES asks for more): random bytes;
    valid requests of proto/PROTOCOL.md with bytes flipped, cut, spliced or
    appended; lengths declared huge; nesting too deep; fields of the wrong
    type; ext and reserved bytes; multi-frame messages. Every message is
    answered and every refusal of the envelope decoder is reached;
    afterwards the daemon answers a ping, its actors are up, its RSS stayed
    within 64 MiB of the baseline, and it stops cleanly (under ASan,
    LeakSanitizer checks that stop: a leak of any size fails it).

    Seeds are printed; ATTUNE_FAULTS_SEED replaces them (the fuzz's bytes
    depend on its seed alone). Under sanitizers the load is lighter; the
    issue's minimums hold. About 40 s plain, as long under ASan.
*/
#include "tests/testing_api.h"
#include <msgpack.h>

#if defined(__SANITIZE_ADDRESS__)
#define S_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_SANITIZED 1
#endif
#endif
#ifndef S_SANITIZED
#define S_SANITIZED 0
#endif

static void s_teardown (void);

TestSuite (faults, .fini = s_teardown, .timeout = 120);

//  ---------------------------------------------------------------------------
//  What the three tests share

//  The seed of a test: ATTUNE_FAULTS_SEED when set, else the fixed one.
static uint64_t
s_seed (const char *test, uint64_t fixed)
{
    const char *text = getenv ("ATTUNE_FAULTS_SEED");
    uint64_t seed = text && *text ? strtoull (text, NULL, 0) : fixed;
    cr_log_info ("%s: seed %" PRIu64 " (ATTUNE_FAULTS_SEED replaces it)", test, seed);
    fprintf (stderr, "faults::%s: seed %" PRIu64 "\n", test, seed);
    return seed;
}

//  splitmix64: the same stream for the same seed on every platform
static uint64_t
s_rand (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int
s_between (uint64_t *state, int low, int high)
{
    return low + (int)(s_rand (state) % (uint64_t)(high - low + 1));
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
//  "VmRSS" or "RssAnon". 0 when it cannot be read.
static long s_rss_kb (pid_t pid, const char *field) __attribute__ ((unused));
static long
s_rss_kb (pid_t pid, const char *field)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line[256];
    long kb = 0;
    size_t length = strlen (field);
    while (fgets (line, sizeof line, file))
        if (strncmp (line, field, length) == 0 && line[length] == ':')
            kb = strtol (line + length + 1, NULL, 10);
    fclose (file);
    return kb;
}

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

static const char *
s_status (const json_t *record)
{
    return json_string_value (json_object_get (record, "status"));
}

//  How many executions are not ended (stuck, once things had time to settle).
static size_t
s_unended (zhashx_t *all)
{
    size_t n = 0;
    for (json_t *record = (json_t *)zhashx_first (all); record;
         record = (json_t *)zhashx_next (all))
        n += !testing_status_terminal (s_status (record));
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
    int n = (int)(s_rand (rng) % 1000);
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
        const char *status = s_status (record);
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
    int scale = S_SANITIZED ? 2 : 1;
    if (s_rand (rng) % 4 == 0)
        return s_between (rng, 0, 300);
    return s_between (rng, 500, 2500 / scale);
}

Test (faults, sigkill_loop)
{
    uint64_t rng = s_seed ("sigkill_loop", 14001);
    s_loop_t *self = &s_loop;
    testing_daemon_init (&self->daemon, "test_faults");
    snprintf (self->starts, sizeof self->starts, "%.3500s/starts", self->daemon.root);
    s_loop_pack (self);
    self->pending = zhashx_new ();
    self->runs = zhashx_new ();
    self->events = zhashx_new ();
    int64_t began = zclock_mono ();
    for (int kill = 0; kill < S_KILLS; kill++) {
        s_loop_start (self);
        s_loop_life (self, &rng, s_loop_life_ms (&rng), S_SANITIZED ? 30 : 15);
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

//  ---------------------------------------------------------------------------
//  Worker kill: its executions settled within 5 s

typedef struct {
    pid_t pid;
    char name[16];
    char cfg[PATH_MAX];
    char log[PATH_MAX];
} s_proc_t;

typedef struct {
    char root[PATH_MAX - 512];
    char starts[PATH_MAX]; //  "ID PID" per start of an action
    char api[64];
    s_proc_t core, workers[2];
} s_cluster_t;

static s_cluster_t s_cluster;

//  Kill what is left of the cluster, and the action processes it left
//  behind (orphans of killed workers: their pids are in the starts file).
static void
s_cluster_kill (s_cluster_t *self)
{
    s_proc_t *all[] = {&self->core, &self->workers[0], &self->workers[1]};
    for (size_t i = 0; i < 3; i++)
        if (all[i]->pid > 0) {
            kill (all[i]->pid, SIGKILL);
            waitpid (all[i]->pid, NULL, 0);
            all[i]->pid = 0;
        }
    char *text = testing_read (self->starts);
    for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
        const char *pid = strchr (line, ' ');
        char path[64], comm[64] = "";
        snprintf (path, sizeof path, "/proc/%d/comm", pid ? atoi (pid + 1) : 0);
        FILE *file = pid ? fopen (path, "r") : NULL;
        if (file && fgets (comm, sizeof comm, file) && strncmp (comm, "sleep", 5) == 0)
            kill (atoi (pid + 1), SIGKILL);
        if (file)
            fclose (file);
    }
    free (text);
    testing_rmtree (self->root);
}

static void
s_proc_spawn (s_proc_t *proc)
{
    truncate (proc->log, 0);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        int fd = open (proc->log, O_WRONLY | O_CREAT | O_APPEND, 0640);
        dup2 (fd, 1);
        dup2 (fd, 2);
        //  The deployment's heartbeat (attuned's default): the 5 s is its promise
        execl (ATTUNE_HELPER_DIR "/attuned", ATTUNE_HELPER_DIR "/attuned", "-c",
               proc->cfg, "--quiet", (char *)NULL);
        _exit (127);
    }
    proc->pid = pid;
    int64_t deadline = zclock_mono () + 20000;
    while (true) {
        char *log = testing_read (proc->log);
        bool up = strstr (log, "attuned: running") != NULL;
        if (up || zclock_mono () > deadline || waitpid (pid, NULL, WNOHANG) == pid)
            cr_assert (up, "%s did not start:\n%s", proc->name, log);
        free (log);
        if (up)
            return;
        zclock_sleep (20);
    }
}

static void
s_proc_init (s_proc_t *proc, const char *root, const char *name, const char *cfg)
{
    *proc = (s_proc_t){0};
    snprintf (proc->name, sizeof proc->name, "%s", name);
    snprintf (proc->cfg, sizeof proc->cfg, "%.3500s/%s.cfg", root, name);
    snprintf (proc->log, sizeof proc->log, "%.3500s/%s.log", root, name);
    char file[32];
    snprintf (file, sizeof file, "%s.cfg", name);
    testing_write (root, file, cfg);
}

//  The test pack: hold records its start and sleeps; again is the same,
//  idempotent (run again elsewhere when its worker is lost).
static void
s_cluster_pack (s_cluster_t *self, const char *packs)
{
    char core_pack[PATH_MAX + 16];
    snprintf (core_pack, sizeof core_pack, "%s/core", packs);
    cr_assert_eq (symlink (ATTUNE_SOURCE_DIR "/packs/core", core_pack), 0);
    testing_write (packs, "test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    char text[PATH_MAX + 512];
    const char *names[] = {"hold", "again"};
    for (int i = 0; i < 2; i++) {
        snprintf (
            text, sizeof text,
            "name: %s\n%srunner_type: local-shell-cmd\n"
            "entry_point: 'echo \"$ATTUNE_EXECUTION_ID $$\" >> %s; exec sleep 60'\n",
            names[i], i ? "idempotent: true\n" : "", self->starts);
        char path[64];
        snprintf (path, sizeof path, "test/actions/%s.yaml", names[i]);
        testing_write (packs, path, text);
    }
}

//  A core (registry, rules, executor, api) and two worker processes with
//  `slots` each, on loopback ports of their own, as deploy/ spreads them.
static void
s_cluster_start (s_cluster_t *self, int slots)
{
    testing_tmpdir (self->root, sizeof self->root, "test_faults");
    snprintf (self->starts, sizeof self->starts, "%.3500s/starts", self->root);
    char packs[PATH_MAX];
    snprintf (packs, sizeof packs, "%.3500s/packs", self->root);
    mkdir (packs, 0750);
    s_cluster_pack (self, packs);
    const char *names[] = {"registry.facts", "registry.snapshot", "registry.commands",
                           "rules.commands", "rules.facts",       "executor.commands",
                           "executor.facts", "api.requests",      "api.facts"};
    int ports[9];
    char endpoints[1024] = "";
    for (int i = 0; i < 9; i++) {
        ports[i] = testing_free_port ();
        snprintf (endpoints + strlen (endpoints), sizeof endpoints - strlen (endpoints),
                  "    %s = tcp://127.0.0.1:%d\n", names[i], ports[i]);
    }
    snprintf (self->api, sizeof self->api, "tcp://127.0.0.1:%d", ports[7]);
    char cfg[3 * PATH_MAX];
    snprintf (
        cfg, sizeof cfg,
        "daemon\n    actors = registry,executor,rules,api\n    data = %.3500s/core\n"
        "    packs = %s\nbus\n    namespace = core\nendpoints\n%s",
        self->root, packs, endpoints);
    s_proc_init (&self->core, self->root, "core", cfg);
    s_proc_spawn (&self->core);
    for (int w = 0; w < 2; w++) {
        char name[8];
        snprintf (name, sizeof name, "w%d", w);
        snprintf (cfg, sizeof cfg,
                  "daemon\n    actors = worker\n    data = %.3500s/%s\n    worker\n"
                  "        name = %s\n        slots = %d\nbus\n    namespace = %s\n"
                  "endpoints\n    executor.commands = tcp://127.0.0.1:%d\n"
                  "    worker = tcp://127.0.0.1:%d\n",
                  self->root, name, name, slots, name, ports[5], testing_free_port ());
        s_proc_init (&self->workers[w], self->root, name, cfg);
        s_proc_spawn (&self->workers[w]);
    }
}

//  Wait (bounded) until the executor lists `count` live workers.
static void
s_cluster_wait_workers (zsock_t *sock, size_t count)
{
    int64_t deadline = zclock_mono () + 15000;
    size_t alive = 0;
    while (alive != count && zclock_mono () < deadline) {
        json_t *list = testing_api_ok (sock, "api.worker.list", NULL);
        size_t i;
        json_t *item;
        alive = 0;
        json_array_foreach (json_object_get (list, "items"), i, item)
        {
            alive += json_is_true (json_object_get (item, "alive"));
        }
        json_decref (list);
        if (alive != count)
            zclock_sleep (50);
    }
    cr_assert_eq (alive, count, "%zu workers alive, not %zu", alive, count);
}

static const char *
s_worker_of (const json_t *record)
{
    return json_string_value (json_object_get (record, "worker"));
}

//  The records of `ids`, once none of them waits for a worker (bounded).
static json_t *
s_cluster_placed (zsock_t *sock, char **ids, size_t count)
{
    int64_t deadline = zclock_mono () + 15000;
    while (true) {
        json_t *records = json_array ();
        size_t placed = 0;
        for (size_t i = 0; i < count; i++) {
            json_t *record = testing_api_ok (sock, "api.execution.get",
                                             json_pack ("{s:s}", "id", ids[i]));
            const char *status = s_status (record);
            placed += testing_status_terminal (status) ||
                      ((streq (status, "running") || streq (status, "scheduled")) &&
                       s_worker_of (record));
            json_array_append_new (records, record);
        }
        if (placed == count)
            return records;
        json_decref (records);
        cr_assert_lt (zclock_mono (), deadline, "%zu of %zu placed", placed, count);
        zclock_sleep (50);
    }
}

//  Whether every one of `ids` that was on `victim` is settled: ended, or
//  off it (waiting again, or given to another worker).
static bool
s_cluster_settled (zsock_t *sock, char **ids, size_t count, const char *victim,
                   char *states, size_t size)
{
    bool settled = true;
    *states = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *record =
            testing_api_ok (sock, "api.execution.get", json_pack ("{s:s}", "id", ids[i]));
        const char *worker = s_worker_of (record);
        if (worker && streq (worker, victim) &&
            !testing_status_terminal (s_status (record)))
            settled = false;
        snprintf (states + strlen (states), size - strlen (states), " %.8s:%s@%s",
                  ids[i] + 28, s_status (record), worker ? worker : "-");
        json_decref (record);
    }
    return settled;
}

//  Action processes of `victim`'s executions (in `records`) still alive.
static int
s_cluster_orphans (s_cluster_t *self, json_t *records, const char *victim)
{
    char *text = testing_read (self->starts);
    int orphans = 0;
    size_t i;
    json_t *record;
    json_array_foreach (records, i, record)
    {
        const char *id = json_string_value (json_object_get (record, "id"));
        const char *worker = s_worker_of (record);
        if (!worker || !streq (worker, victim) || !streq (s_status (record), "running"))
            continue;
        for (char *line = strstr (text, id); line; line = strstr (line + 1, id)) {
            int pid = atoi (line + strlen (id));
            orphans += pid > 0 && kill (pid, 0) == 0;
        }
    }
    free (text);
    return orphans;
}

//  SIGKILL worker `victim` (its executions among `ids`, whose records are
//  `records`); returns the ms until the executor had settled them (at most
//  15 s waited).
static int
s_cluster_kill_worker (s_cluster_t *self, zsock_t *sock, char **ids, size_t count,
                       json_t *records, const char *victim)
{
    s_proc_t *proc = streq (victim, "w0") ? &self->workers[0] : &self->workers[1];
    kill (proc->pid, SIGKILL);
    waitpid (proc->pid, NULL, 0);
    proc->pid = 0;
    int64_t killed = zclock_mono ();
    char states[1024];
    while (!s_cluster_settled (sock, ids, count, victim, states, sizeof states) &&
           zclock_mono () - killed < 15000)
        zclock_sleep (20);
    int took = (int)(zclock_mono () - killed);
    zclock_sleep (500); //  an orphan outlives the kill, or it does not
    fprintf (stderr,
             "faults::worker_kill_settle_time: %s settled %d ms after its SIGKILL;"
             " %d of its action processes still running;%s\n",
             victim, took, s_cluster_orphans (self, records, victim), states);
    return took;
}

Test (faults, worker_kill_settle_time)
{
    s_cluster_t *self = &s_cluster;
    s_cluster_start (self, 2);
    zsock_t *sock = zsock_new_dealer (self->api);
    zsock_set_rcvtimeo (sock, 8000);
    s_cluster_wait_workers (sock, 2);
    //  2 running and 2 queued on each worker (it holds twice its slots),
    //  plain and idempotent alike
    char *ids[8];
    for (int i = 0; i < 8; i++) {
        json_t *result = testing_api_ok (
            sock, "api.execution.run",
            json_pack ("{s:s}", "action", i % 2 ? "test.again" : "test.hold"));
        ids[i] = strdup (json_string_value (json_object_get (result, "execution")));
        json_decref (result);
    }
    int took[2];
    for (int round = 0; round < 2; round++) {
        json_t *records = s_cluster_placed (sock, ids, 8);
        const char *victim = round == 0 ? "w0" : "w1";
        took[round] = s_cluster_kill_worker (self, sock, ids, 8, records, victim);
        json_decref (records);
        //  Back, it takes what waits again
        s_proc_spawn (&self->workers[round]);
        s_cluster_wait_workers (sock, 2);
    }
    cr_assert_leq (took[0], 5000, "w0's executions settled after %d ms", took[0]);
    cr_assert_leq (took[1], 5000, "w1's executions settled after %d ms", took[1]);
    for (int i = 0; i < 8; i++)
        free (ids[i]);
    zsock_destroy (&sock);
    s_cluster_kill (self);
}

//  ---------------------------------------------------------------------------
//  Seeded api fuzz: 100,000 frames, every message answered, RSS bounded

#define S_FUZZ_FRAMES 100000 //  the minimum; 4 times that without sanitizers
#define S_FUZZ_MAX    8192   //  bytes per frame: far below the 1 MiB limit
#define S_FUZZ_WINDOW 500    //  messages sent and not answered yet, at most
//  The bound on RSS growth. The api keeps nothing but requests in flight
//  (this client leaves at most S_FUZZ_WINDOW unanswered, the api takes
//  10,000 at most) and each frame is at most 8 KiB: what it may hold at once
//  is a few MiB, whatever the number of frames. Plain builds grow by 1-2
//  MiB here, ASan's by about 12 (its quarantine, cut to 16 MiB below);
//  64 MiB is the bound, and a leak of 170 bytes a frame crosses it
//  over 400,000 frames (smaller ones are LeakSanitizer's to find).
#define S_FUZZ_RSS_MB 64

//  Valid requests of proto/PROTOCOL.md's api section, the seeds of the
//  mutations. None changes anything when it arrives intact (no such
//  action, trigger or id), so 100,000 of them leave the stores as they are.
static const char *const s_requests[][2] = {
    {"api.ping", "{}"},
    {"api.hello", "{}"},
    {"api.status", "{}"},
    {"api.pack.list", "{}"},
    {"api.pack.get", "{\"ref\": \"test\"}"},
    {"api.action.list", "{\"pack\": \"test\"}"},
    {"api.action.get", "{\"ref\": \"test.step\"}"},
    {"api.action.queue_stats", "{\"ref\": \"test.step\"}"},
    {"api.trigger.get", "{\"ref\": \"test.hook\"}"},
    {"api.policy.list", "{}"},
    {"api.rule.list", "{\"pack\": \"test\", \"enabled\": true}"},
    {"api.rule.get", "{\"ref\": \"test.step\"}"},
    {"api.event.list", "{\"trigger\": \"test.hook\", \"limit\": 5}"},
    {"api.enforcement.list", "{\"rule\": \"test.step\", \"limit\": 5}"},
    {"api.execution.list", "{\"status\": \"completed\", \"limit\": 5}"},
    {"api.execution.get", "{\"id\": \"01900000-0000-7000-8000-000000000000\"}"},
    {"api.execution.changes", "{\"since\": 0, \"limit\": 5}"},
    {"api.execution.run", "{\"action\": \"test.nope\", \"parameters\": {\"n\": 1}}"},
    {"api.execution.cancel", "{\"id\": \"01900000-0000-7000-8000-000000000001\"}"},
    {"api.execution.rerun", "{\"id\": \"01900000-0000-7000-8000-000000000002\"}"},
    {"api.inquiry.list", "{\"status\": \"pending\", \"limit\": 5}"},
    {"api.inquiry.respond",
     "{\"id\": \"01900000-0000-7000-8000-000000000003\", \"response\": {\"ok\": true}}"},
    {"api.event.publish", "{\"trigger\": \"test.nope\", \"payload\": {\"n\": 1}}"},
    {"api.worker.list", "{}"}};

#define S_TEMPLATES (sizeof s_requests / sizeof s_requests[0])

typedef struct {
    uint64_t rng;
    msgpack_sbuffer templates[S_TEMPLATES];
    msgpack_sbuffer work; //  what the packer writes
    uint8_t frame[S_FUZZ_MAX];
    size_t size;
} s_fuzz_t;

static void
s_fuzz_init (s_fuzz_t *self, uint64_t seed)
{
    memset (self, 0, sizeof *self);
    self->rng = seed;
    json_object_seed (1); //  payload keys in the same order each run
    msgpack_sbuffer_init (&self->work);
    for (size_t i = 0; i < S_TEMPLATES; i++) {
        msgpack_sbuffer_init (&self->templates[i]);
        json_t *payload = json_loads (s_requests[i][1], 0, NULL);
        cr_assert_not_null (payload, "%s", s_requests[i][1]);
        proto_envelope_t *request = proto_envelope_new (s_requests[i][0], "faults@test");
        cr_assert_eq (proto_envelope_set_payload_json (request, payload, NULL), PROTO_OK);
        json_decref (payload);
        //  The same bytes each run (a frame sent gets an id of its own)
        uint8_t id[PROTO_UUID_SIZE] = {0x01, 0x90, [15] = (uint8_t)i};
        proto_envelope_set_id (request, id);
        proto_envelope_set_ts (request, 1795363200000000);
        proto_envelope_encode (request, &self->templates[i]);
        proto_envelope_destroy (&request);
    }
}

static void
s_fuzz_destroy (s_fuzz_t *self)
{
    for (size_t i = 0; i < S_TEMPLATES; i++)
        msgpack_sbuffer_destroy (&self->templates[i]);
    msgpack_sbuffer_destroy (&self->work);
}

static uint64_t
s_fuzz_rand (s_fuzz_t *self, uint64_t range)
{
    return s_rand (&self->rng) % range;
}

//  The frame: `size` bytes of `data` (cut at S_FUZZ_MAX).
static void
s_fuzz_set (s_fuzz_t *self, const void *data, size_t size)
{
    self->size = size < S_FUZZ_MAX ? size : S_FUZZ_MAX;
    memcpy (self->frame, data, self->size);
}

//  The frame: template `which` intact, with an id of its own (requests in
//  flight with the same id are one request: the api answers it once)
static void
s_fuzz_template_of (s_fuzz_t *self, size_t which)
{
    const msgpack_sbuffer *valid = &self->templates[which];
    s_fuzz_set (self, valid->data, valid->size);
    static const uint8_t head[] = {0xa2, 'i', 'd', 0xc4, 0x10};
    uint8_t *at = (uint8_t *)memmem (self->frame, self->size, head, sizeof head);
    cr_assert_not_null (at, "the id field of an encoded %s", s_requests[which][0]);
    //  From the seeded stream: the same seed makes the same bytes
    uint64_t halves[2] = {s_rand (&self->rng), s_rand (&self->rng)};
    memcpy (at + sizeof head, halves, sizeof halves);
}

static void
s_fuzz_template (s_fuzz_t *self)
{
    s_fuzz_template_of (self, s_fuzz_rand (self, S_TEMPLATES));
}

//  Random bytes: mostly short, now and then up to S_FUZZ_MAX
static void
s_fuzz_random (s_fuzz_t *self)
{
    self->size = 1 + s_fuzz_rand (self, s_fuzz_rand (self, 16) ? 256 : S_FUZZ_MAX);
    for (size_t i = 0; i < self->size; i++)
        self->frame[i] = (uint8_t)s_rand (&self->rng);
}

//  A template with 1-8 bytes replaced at random
static void
s_fuzz_flip (s_fuzz_t *self)
{
    s_fuzz_template (self);
    int flips = 1 + (int)s_fuzz_rand (self, 8);
    for (int i = 0; i < flips; i++)
        self->frame[s_fuzz_rand (self, self->size)] = (uint8_t)s_rand (&self->rng);
}

//  A template cut short, or with bytes after its end
static void
s_fuzz_cut_or_append (s_fuzz_t *self)
{
    s_fuzz_template (self);
    if (s_fuzz_rand (self, 2))
        self->size = 1 + s_fuzz_rand (self, self->size - 1);
    else {
        size_t more = 1 + s_fuzz_rand (self, 64);
        for (size_t i = 0; i < more && self->size < S_FUZZ_MAX; i++)
            self->frame[self->size++] = (uint8_t)s_rand (&self->rng);
    }
}

//  A template with a length declared huge: a str/bin/array/map header of
//  up to 2^32-1 written over its bytes at random (often where a header was)
static void
s_fuzz_huge (s_fuzz_t *self)
{
    static const uint8_t heads[] = {0xd9, 0xda, 0xdb, 0xc4, 0xc5,
                                    0xc6, 0xdc, 0xdd, 0xde, 0xdf};
    s_fuzz_template (self);
    size_t at = s_fuzz_rand (self, self->size);
    for (size_t tries = 0; tries < 8; tries++) {
        uint8_t byte = self->frame[at];
        if ((byte & 0xe0) == 0xa0 || (byte & 0xf0) == 0x80 || (byte & 0xf0) == 0x90)
            break; //  a fixstr, fixmap or fixarray header
        at = s_fuzz_rand (self, self->size);
    }
    uint8_t head = heads[s_fuzz_rand (self, sizeof heads)];
    uint32_t length = s_fuzz_rand (self, 2) ? 0xffffffffu : (uint32_t)s_rand (&self->rng);
    uint8_t bytes[5] = {head, (uint8_t)(length >> 24), (uint8_t)(length >> 16),
                        (uint8_t)(length >> 8), (uint8_t)length};
    for (size_t i = 0; i < 5 && at + i < S_FUZZ_MAX; i++)
        self->frame[at + i] = bytes[i];
    if (at + 5 > self->size)
        self->size = at + 5 < S_FUZZ_MAX ? at + 5 : S_FUZZ_MAX;
}

//  A template with bytes msgpack reserves or attune refuses (ext,
//  fixext, timestamp, 0xc1) put in at random
static void
s_fuzz_forbidden (s_fuzz_t *self)
{
    static const uint8_t bytes[] = {0xc1, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8};
    s_fuzz_template (self);
    size_t at = s_fuzz_rand (self, self->size);
    self->frame[at] = bytes[s_fuzz_rand (self, sizeof bytes)];
    if (at + 1 < self->size)
        self->frame[at + 1] = (uint8_t)(s_fuzz_rand (self, 2) ? 0xff : 0x01);
}

//  The head of one template and the tail of another
static void
s_fuzz_splice (s_fuzz_t *self)
{
    const msgpack_sbuffer *a = &self->templates[s_fuzz_rand (self, S_TEMPLATES)];
    const msgpack_sbuffer *b = &self->templates[s_fuzz_rand (self, S_TEMPLATES)];
    size_t head = s_fuzz_rand (self, a->size);
    size_t from = s_fuzz_rand (self, b->size);
    s_fuzz_set (self, a->data, head);
    size_t tail = b->size - from;
    if (self->size + tail > S_FUZZ_MAX)
        tail = S_FUZZ_MAX - self->size;
    memcpy (self->frame + self->size, b->data + from, tail);
    self->size += tail;
    if (self->size == 0)
        s_fuzz_template (self);
}

//  Strings a request is made of (none names anything that exists: no
//  request built from them changes anything)
static const char *const s_words[] = {
    "id",        "ref",       "action",    "parameters",
    "trigger",   "payload",   "limit",     "before",
    "status",    "since",     "publisher", "after",
    "pack",      "enabled",   "v",         "type",
    "test.nope", "completed", "",          "01900000-0000-7000-8000-000000000000"};

static void
s_fuzz_word (s_fuzz_t *self, msgpack_packer *pk)
{
    const char *word = s_words[s_fuzz_rand (self, sizeof s_words / sizeof s_words[0])];
    msgpack_pack_str_with_body (pk, word, strlen (word));
}

static void s_fuzz_value (s_fuzz_t *self, msgpack_packer *pk, int depth);

//  A container of 0-4 items, map keys mostly words, now and then another
//  value or the same key twice
static void
s_fuzz_container (s_fuzz_t *self, msgpack_packer *pk, int depth)
{
    size_t count = s_fuzz_rand (self, 5);
    bool map = s_fuzz_rand (self, 2);
    map ? msgpack_pack_map (pk, count) : msgpack_pack_array (pk, count);
    for (size_t i = 0; i < count; i++) {
        if (map && s_fuzz_rand (self, 8) == 0)
            s_fuzz_value (self, pk, 0);
        else if (map)
            s_fuzz_word (self, pk);
        s_fuzz_value (self, pk, depth - 1);
    }
}

//  A random msgpack value of any type but ext, nested `depth` at most
static void
s_fuzz_value (s_fuzz_t *self, msgpack_packer *pk, int depth)
{
    uint64_t bits = s_rand (&self->rng);
    double real;
    memcpy (&real, &bits, sizeof real);
    uint8_t bytes[300];
    size_t size = s_fuzz_rand (self, s_fuzz_rand (self, 8) ? 24 : sizeof bytes);
    for (size_t i = 0; i < size; i++)
        bytes[i] = (uint8_t)s_rand (&self->rng);
    switch (s_fuzz_rand (self, depth > 0 ? 10 : 8)) {
        case 0:
            msgpack_pack_nil (pk);
            break;
        case 1:
            bits & 1 ? msgpack_pack_true (pk) : msgpack_pack_false (pk);
            break;
        case 2:
            msgpack_pack_uint64 (pk, bits >> s_fuzz_rand (self, 64));
            break;
        case 3:
            msgpack_pack_int64 (pk, -(int64_t)(bits >> (1 + s_fuzz_rand (self, 63))));
            break;
        case 4:
            bits & 1 ? msgpack_pack_float (pk, (float)real)
                     : msgpack_pack_double (pk, real);
            break;
        case 5:
            msgpack_pack_str_with_body (pk, bytes, size);
            break;
        case 6:
            msgpack_pack_bin_with_body (pk, bytes, size);
            break;
        case 7:
            s_fuzz_word (self, pk);
            break;
        default:
            s_fuzz_container (self, pk, depth);
    }
}

//  Arrays and maps `depth` deep around a nil (the limit is 16 in all)
static void
s_fuzz_nest (s_fuzz_t *self, msgpack_packer *pk, int depth)
{
    for (int i = 0; i < depth; i++)
        if (s_fuzz_rand (self, 2)) {
            msgpack_pack_map (pk, 1);
            msgpack_pack_str_with_body (pk, "a", 1);
        } else
            msgpack_pack_array (pk, 1);
    msgpack_pack_nil (pk);
}

enum {
    S_WRONG_MISSING = 9, //  0-8: that field of a random type
    S_WRONG_DUPLICATE,
    S_WRONG_UNKNOWN,
    S_WRONG_VERSION,
    S_WRONG_ID_SIZE,
    S_WRONG_TYPE_TEXT,
    S_WRONG_KEY_TYPE,
    S_WRONG_NONE, //  a well-formed envelope, its payload at random
    S_WRONG_KINDS
};

//  A field's value as attune writes it, or bent by `wrong`
static void
s_fuzz_field (s_fuzz_t *self, msgpack_packer *pk, int field, int wrong, int deep)
{
    static const char *const types[] = {"", "api.", "api.ping\0x", "x"};
    uint8_t id[17];
    for (size_t i = 0; i < sizeof id; i++)
        id[i] = (uint8_t)s_rand (&self->rng);
    const char *type = s_requests[s_fuzz_rand (self, S_TEMPLATES)][0];
    if (field == wrong)
        s_fuzz_value (self, pk, 2);
    else if (field == 0)
        msgpack_pack_uint64 (pk,
                             wrong == S_WRONG_VERSION ? 2 + s_fuzz_rand (self, 9) : 1);
    else if (field == 1)
        msgpack_pack_bin_with_body (
            pk, id, wrong == S_WRONG_ID_SIZE ? 15 + 2 * s_fuzz_rand (self, 2) : 16);
    else if (field == 2 && wrong == S_WRONG_TYPE_TEXT) {
        size_t which = s_fuzz_rand (self, 5);
        if (which == 4) {
            char longer[200];
            memset (longer, 'a', sizeof longer);
            msgpack_pack_str_with_body (pk, longer, sizeof longer);
        } else
            msgpack_pack_str_with_body (pk, types[which],
                                        which == 2 ? 10 : strlen (types[which]));
    } else if (field == 2)
        msgpack_pack_str_with_body (pk, type, strlen (type));
    else if (field == 3)
        msgpack_pack_str_with_body (pk, "faults@test", 11);
    else if (field == 4)
        msgpack_pack_int64 (pk, 1795363200000000 + (int64_t)s_fuzz_rand (self, 1u << 30));
    else if (field == 5 || field == 6)
        msgpack_pack_nil (pk);
    else if (field == 7)
        msgpack_pack_uint64 (pk, 0);
    else if (deep)
        s_fuzz_nest (self, pk, deep);
    else
        s_fuzz_container (self, pk, 3);
}

//  An envelope built field by field, one thing wrong in it (or none), its
//  payload random or nested `deep` levels
static void
s_fuzz_envelope (s_fuzz_t *self, int wrong, int deep)
{
    static const char *const fields[] = {"v",    "id",    "type",  "source", "ts",
                                         "corr", "trace", "retry", "payload"};
    msgpack_sbuffer_clear (&self->work);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->work, msgpack_sbuffer_write);
    int missing = wrong == S_WRONG_MISSING ? (int)s_fuzz_rand (self, 9) : -1;
    int extra = wrong == S_WRONG_DUPLICATE || wrong == S_WRONG_UNKNOWN;
    msgpack_pack_map (&pk, (size_t)(9 - (missing >= 0) + extra));
    int bad_key = wrong == S_WRONG_KEY_TYPE ? (int)s_fuzz_rand (self, 9) : -1;
    for (int field = 0; field < 9; field++) {
        if (field == missing)
            continue;
        if (field == bad_key)
            msgpack_pack_uint64 (&pk, (uint64_t)field);
        else
            msgpack_pack_str_with_body (&pk, fields[field], strlen (fields[field]));
        s_fuzz_field (self, &pk, field, wrong, deep);
    }
    if (extra) {
        const char *key =
            wrong == S_WRONG_DUPLICATE ? fields[s_fuzz_rand (self, 9)] : "x";
        msgpack_pack_str_with_body (&pk, key, strlen (key));
        msgpack_pack_nil (&pk);
    }
    s_fuzz_set (self, self->work.data, self->work.size);
}

//  One frame, of one kind at random
static void
s_fuzz_one (s_fuzz_t *self)
{
    switch (s_fuzz_rand (self, 12)) {
        case 0:
        case 1:
            s_fuzz_random (self);
            break;
        case 2:
        case 3:
            s_fuzz_flip (self);
            break;
        case 4:
            s_fuzz_cut_or_append (self);
            break;
        case 5:
            s_fuzz_huge (self);
            break;
        case 6:
            s_fuzz_forbidden (self);
            break;
        case 7:
            s_fuzz_splice (self);
            break;
        case 8:
        case 9:
            s_fuzz_envelope (self, (int)s_fuzz_rand (self, S_WRONG_KINDS), 0);
            break;
        case 10:
            s_fuzz_envelope (self, S_WRONG_NONE, 1 + (int)s_fuzz_rand (self, 40));
            break;
        default:
            if (s_fuzz_rand (self, 8) == 0)
                self->size = 0; //  empty
            else
                s_fuzz_template (self); //  intact: the real paths too
    }
}

//  One message: mostly one frame, one in ten 2-4 (the first now and then
//  empty, as a REQ socket's delimiter). Returns the number of frames.
static int
s_fuzz_send (s_fuzz_t *self, zsock_t *sock)
{
    int frames = s_fuzz_rand (self, 10) == 0 ? 2 + (int)s_fuzz_rand (self, 3) : 1;
    for (int i = 0; i < frames; i++) {
        if (i == 0 && frames > 1 && s_fuzz_rand (self, 4) == 0)
            self->size = 0;
        else
            s_fuzz_one (self);
        int more = i + 1 < frames ? ZMQ_SNDMORE : 0;
        cr_assert_eq (zmq_send (zsock_resolve (sock), self->frame, self->size, more),
                      (int)self->size);
    }
    return frames;
}

//  Frames to send: ATTUNE_FAULTS_FRAMES (a longer campaign), else 400,000
//  (under sanitizers 100,000), never fewer than 100,000
static int
s_fuzz_frames (void)
{
    const char *text = getenv ("ATTUNE_FAULTS_FRAMES");
    int frames = text && *text ? atoi (text) : S_FUZZ_FRAMES * (S_SANITIZED ? 1 : 4);
    return frames > S_FUZZ_FRAMES ? frames : S_FUZZ_FRAMES;
}

typedef struct {
    zsock_t *sock;
    pid_t pid;
    int messages, frames, replies;
    int64_t answered; //  when the last reply came
    long baseline_kb, peak_kb;
    zhashx_t *codes; //  how many replies of each kind: an error code, or "reply"
} s_fuzz_run_t;

//  Count a reply by its kind: `reply`, or the error's code.
static void
s_fuzz_tally (s_fuzz_run_t *run, zmsg_t *msg)
{
    zframe_t *body = zmsg_last (msg);
    proto_envelope_t *reply =
        proto_envelope_decode (zframe_data (body), zframe_size (body), NULL, NULL);
    cr_assert_not_null (reply, "the api answers with an envelope");
    const char *kind = "reply";
    char code[32];
    if (streq (proto_envelope_type (reply), "api.error")) {
        const msgpack_object *value =
            proto_map_get (proto_envelope_payload_object (reply), "code");
        cr_assert (value && value->type == MSGPACK_OBJECT_STR, "an error has a code");
        snprintf (code, sizeof code, "%.*s", (int)value->via.str.size,
                  value->via.str.ptr);
        kind = code;
    }
    uintptr_t n = (uintptr_t)zhashx_lookup (run->codes, kind);
    zhashx_update (run->codes, kind, (void *)(n + 1));
    proto_envelope_destroy (&reply);
}

//  Take the replies waiting, after waiting up to `wait_ms` for one.
static void
s_fuzz_receive (s_fuzz_run_t *run, int wait_ms)
{
    zmq_pollitem_t item = {zsock_resolve (run->sock), 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, wait_ms) <= 0)
        return;
    zmsg_t *msg;
    while ((msg = zmsg_recv_nowait (run->sock))) {
        run->replies++;
        s_fuzz_tally (run, msg);
        zmsg_destroy (&msg);
    }
    run->answered = zclock_mono ();
}

static void
s_fuzz_sample (s_fuzz_run_t *run)
{
    long kb = s_rss_kb (run->pid, "VmRSS");
    if (kb > run->peak_kb)
        run->peak_kb = kb;
    fprintf (stderr,
             "faults::seeded_api_fuzz: %d frames (%d messages, %d answered): VmRSS %ld "
             "kB, RssAnon %ld kB\n",
             run->frames, run->messages, run->replies, kb,
             s_rss_kb (run->pid, "RssAnon"));
}

//  Send `frames` frames, at most S_FUZZ_WINDOW messages unanswered: as fast
//  as the api answers. A reply that takes over 8 s (the api answers within
//  5 s) fails it.
static void
s_fuzz_stream (s_fuzz_t *self, s_fuzz_run_t *run, int frames)
{
    run->answered = zclock_mono ();
    int sample = run->frames + frames / 10;
    while (run->frames < frames) {
        while (run->messages - run->replies >= S_FUZZ_WINDOW) {
            s_fuzz_receive (run, 100);
            cr_assert_lt (zclock_mono () - run->answered, 8000,
                          "no reply for 8 s: %d of %d messages answered (seed %" PRIu64
                          ")",
                          run->replies, run->messages, self->rng);
        }
        run->frames += s_fuzz_send (self, run->sock);
        run->messages++;
        s_fuzz_receive (run, 0);
        if (run->frames >= sample) {
            s_fuzz_sample (run);
            sample += frames / 10;
        }
    }
    while (run->replies < run->messages && zclock_mono () - run->answered < 8000)
        s_fuzz_receive (run, 100);
    cr_assert_eq (run->replies, run->messages, "every message answered (%d of %d)",
                  run->replies, run->messages);
}

//  Under ASan, freed memory waits in a quarantine of 256 MiB before reuse:
//  a daemon's RSS would grow by that much with no leak. A small one keeps
//  the bound meaningful (LeakSanitizer checks leaks at the clean stop).
static void
s_fuzz_quarantine (void)
{
#if S_SANITIZED
    const char *options = getenv ("ASAN_OPTIONS");
    char text[1024];
    snprintf (text, sizeof text, "%s%squarantine_size_mb=16", options ? options : "",
              options && *options ? ":" : "");
    setenv ("ASAN_OPTIONS", text, 1);
#endif
}

//  Every refusal of the envelope decoder (but too_large: no frame is that
//  large here) and of the api's framing was reached: the fuzz goes deep
static void
s_fuzz_reached (s_fuzz_run_t *run)
{
    static const char *const codes[] = {
        "empty",         "truncated", "length",    "too_deep", "reserved", "ext",
        "key_type",      "dup_key",   "not_map",   "trailing", "missing",  "field_type",
        "unknown_field", "version",   "bad_frame", "reply"};
    char text[1024] = "";
    for (void *n = zhashx_first (run->codes); n; n = zhashx_next (run->codes))
        snprintf (text + strlen (text), sizeof text - strlen (text), " %s %d",
                  (const char *)zhashx_cursor (run->codes), (int)(uintptr_t)n);
    fprintf (stderr, "faults::seeded_api_fuzz: answers:%s\n", text);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        cr_assert_not_null (zhashx_lookup (run->codes, codes[i]),
                            "no frame was refused as %s:%s", codes[i], text);
}

//  The daemon answers, its actors are up; what the api counted.
static void
s_fuzz_still_serving (testing_daemon_t *daemon)
{
    zsock_t *sock = testing_api_client (daemon);
    json_decref (testing_api_ok (sock, "api.ping", NULL));
    json_t *status = testing_api_ok (sock, "api.status", NULL);
    const char *actors[] = {"registry", "rules", "executor"};
    for (int i = 0; i < 3; i++)
        cr_assert (
            json_is_true (json_object_get (
                json_object_get (json_object_get (status, "actors"), actors[i]), "up")),
            "%s is still up", actors[i]);
    char *api = json_dumps (json_object_get (status, "api"), JSON_COMPACT);
    fprintf (stderr, "faults::seeded_api_fuzz: api counters %s\n", api);
    free (api);
    json_decref (status);
    zsock_destroy (&sock);
}

Test (faults, seeded_api_fuzz)
{
    uint64_t seed = s_seed ("seeded_api_fuzz", 20260114);
    testing_daemon_t *daemon = &s_loop.daemon;
    testing_daemon_init (daemon, "test_faults");
    testing_daemon_write (daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (daemon, "test/triggers/hook.yaml", "name: hook\npack: test\n");
    testing_daemon_write (daemon, "test/actions/step.yaml",
                          "name: step\nrunner_type: noop\n");
    testing_daemon_write (daemon, "test/rules/step.yaml",
                          "name: step\npack: test\ntrigger:\n  type: test.hook\n"
                          "action:\n  ref: test.step\n");
    s_fuzz_quarantine ();
    testing_daemon_start (daemon, NULL);
    s_fuzz_t *self = (s_fuzz_t *)zmalloc (sizeof (s_fuzz_t));
    s_fuzz_init (self, seed);
    s_fuzz_run_t run = {
        .sock = testing_api_client (daemon), .pid = daemon->pid, .codes = zhashx_new ()};
    //  The baseline: after every request has been served intact 50 times
    run.answered = zclock_mono ();
    for (int i = 0; i < 50 * (int)S_TEMPLATES; i++) {
        s_fuzz_template_of (self, (size_t)i % S_TEMPLATES);
        zmq_send (zsock_resolve (run.sock), self->frame, self->size, 0);
        run.messages++;
        s_fuzz_receive (&run, 0);
    }
    while (run.replies < run.messages && zclock_mono () - run.answered < 8000)
        s_fuzz_receive (&run, 100);
    cr_assert_eq (run.replies, run.messages, "the intact requests answered: %d of %d\n%s",
                  run.replies, run.messages, testing_daemon_read_log (daemon));
    run.baseline_kb = s_rss_kb (daemon->pid, "VmRSS");
    s_fuzz_sample (&run);
    int64_t began = zclock_mono ();
    run.frames = run.messages = run.replies = 0;
    s_fuzz_stream (self, &run, s_fuzz_frames ());
    int took = (int)(zclock_mono () - began);
    s_fuzz_sample (&run);
    fprintf (stderr,
             "faults::seeded_api_fuzz: %d frames in %d messages in %d ms; VmRSS "
             "baseline %ld kB, peak %ld kB (+%ld kB, bound +%d MiB)\n",
             run.frames, run.messages, took, run.baseline_kb, run.peak_kb,
             run.peak_kb - run.baseline_kb, S_FUZZ_RSS_MB);
    cr_assert_geq (run.frames, s_fuzz_frames ());
    cr_assert_lt (run.peak_kb - run.baseline_kb, S_FUZZ_RSS_MB * 1024L,
                  "VmRSS grew by %ld kB", run.peak_kb - run.baseline_kb);
    s_fuzz_reached (&run);
    s_fuzz_still_serving (daemon);
    zhashx_destroy (&run.codes);
    zsock_destroy (&run.sock);
    s_fuzz_destroy (self);
    free (self);
    //  A clean stop (and under ASan, no leak)
    testing_daemon_stop (daemon);
}

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
    s_cluster_kill (&s_cluster);
}
