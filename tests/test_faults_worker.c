/*  test_faults_worker: the worker kill of issue 14's fault campaign
    (tests/testing_faults.h holds what its suites share).

    worker_kill_settle_time: a core and two worker processes on loopback
    tcp, with the deployment's default heartbeat; long shell actions
    running and queued on a worker; the worker is SIGKILLed, and the time
    until the executor has settled every one of its executions (ended, or
    off it: waiting again, or given to the other worker) is measured: at
    most 5 s, for each of the two workers in turn.
*/
#include "tests/testing_faults.h"

static void s_teardown (void);

TestSuite (faults, .fini = s_teardown, .timeout = 120);

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
    testing_tmpdir (self->root, sizeof self->root, "test_faults_worker");
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
            const char *status = testing_faults_status (record);
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
            !testing_status_terminal (testing_faults_status (record)))
            settled = false;
        snprintf (states + strlen (states), size - strlen (states), " %.8s:%s@%s",
                  ids[i] + 28, testing_faults_status (record), worker ? worker : "-");
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
        if (!worker || !streq (worker, victim) ||
            !streq (testing_faults_status (record), "running"))
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

static void
s_teardown (void)
{
    s_cluster_kill (&s_cluster);
}
