/*  test_distributed: attune spread over processes on loopback tcp, as the
    deploy/ topologies run it: a core (registry, rules, executor, api) and
    worker processes that register with it. Each test writes the topology
    files with free ports and drives the core's api; the workers are real
    attuned processes, killed, stopped and restarted as hosts fail.

    What is checked is what issue 7 asks: executions spread over the
    workers; a worker killed mid-execution has its executions settled
    within 5 s (abandoned, or run again when the action is idempotent);
    a draining worker (SIGTERM) takes nothing new, gives back what it had
    not started and finishes what it runs; a worker that goes silent and
    comes back is told to drop what was settled without it, and its late
    result is recorded, changing nothing; the executor killed and restarted
    reconciles with the workers: what they run continues, nothing runs
    twice. Every action records each start in a file (its execution id),
    so "runs twice" is counted, not guessed.

    (Network namespaces with a link really cut are in test_netns.)
*/
#include "tests/testing_api.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define S_HEARTBEAT "200" //  ms: a lost worker is declared dead after 3 of these

static char s_root[PATH_MAX - 256];
static char s_starts[PATH_MAX]; //  one line per start of an action: its execution id

typedef struct {
    pid_t pid;
    char name[32];
    char cfg[PATH_MAX];
    char log[PATH_MAX];
    char data[PATH_MAX];
} s_proc_t;

static s_proc_t s_core, s_workers[3];

//  hold, hold_again (idempotent): record "<id> start <pgid>" and sleep in a
//  child of the shell, which the parent-death signal does not reach (the
//  worker's guard does, and its ledger when it starts again); a copy that starts while another still holds
//  the execution's lock file records "<id> DOUBLE".
#define S_HOLD                                                                           \
    "runner_type: local-shell-cmd\n"                                                     \
    "entry_point: 'exec 9>>\"$ATTUNE_PARAM_LOG.$ATTUNE_EXECUTION_ID\";"                  \
    " flock -n 9 || echo \"$ATTUNE_EXECUTION_ID DOUBLE\" >> \"$ATTUNE_PARAM_LOG\";"      \
    " echo \"$ATTUNE_EXECUTION_ID start $$\" >> \"$ATTUNE_PARAM_LOG\";"                  \
    " sleep \"$ATTUNE_PARAM_SECONDS\" & wait'\n"                                         \
    "parameters:\n  seconds:\n    type: number\n    default: 0\n"                        \
    "  log:\n    type: string\n    required: true\n"

static void
s_write_hold (const char *packs, const char *pack)
{
    char path[256];
    snprintf (path, sizeof path, "%s/actions/hold.yaml", pack);
    testing_write (packs, path, "name: hold\n" S_HOLD);
    snprintf (path, sizeof path, "%s/actions/hold_again.yaml", pack);
    testing_write (packs, path, "name: hold_again\nidempotent: true\n" S_HOLD);
}
static char s_api[64];

static void
s_kill_all (void)
{
    s_proc_t *all[] = {&s_core, &s_workers[0], &s_workers[1], &s_workers[2]};
    for (size_t i = 0; i < 4; i++)
        if (all[i]->pid > 0) {
            kill (all[i]->pid, SIGCONT);
            kill (all[i]->pid, SIGKILL);
            waitpid (all[i]->pid, NULL, 0);
            all[i]->pid = 0;
        }
    testing_rmtree (s_root);
    testing_daemon_stop_all ();
}

TestSuite (distributed, .fini = s_kill_all, .timeout = 90);

static void
s_spawn (s_proc_t *proc, const char *extra)
{
    truncate (proc->log, 0);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        int fd = open (proc->log, O_WRONLY | O_CREAT | O_APPEND, 0640);
        dup2 (fd, 1);
        dup2 (fd, 2);
        const char *argv[12] = {ATTUNE_HELPER_DIR "/attuned",
                                "-c",
                                proc->cfg,
                                "--heartbeat",
                                S_HEARTBEAT,
                                "--quiet"};
        int argc = 6;
        if (extra) {
            argv[argc++] = "--drain";
            argv[argc++] = extra;
        }
        argv[argc] = NULL;
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    proc->pid = pid;
    int64_t deadline = zclock_mono () + 20000;
    while (zclock_mono () < deadline) {
        char *log = testing_read (proc->log);
        bool up = strstr (log, "attuned: running") != NULL;
        free (log);
        if (up)
            return;
        if (waitpid (pid, NULL, WNOHANG) == pid) {
            proc->pid = 0;
            cr_assert_fail ("%s died:\n%s", proc->name, testing_read (proc->log));
        }
        zclock_sleep (20);
    }
    char *log = testing_read (proc->log);
    cr_assert_fail ("%s did not start:\n%s", proc->name, log);
}

//  The core and `workers` worker processes (w0, w1 ...) with `slots` each,
//  on free loopback ports; the test pack; all started.
static void
s_start (int workers, int slots)
{
    testing_tmpdir (s_root, sizeof s_root, "test_distributed");
    snprintf (s_starts, sizeof s_starts, "%s/starts", s_root);
    char packs[PATH_MAX];
    snprintf (packs, sizeof packs, "%s/packs", s_root);
    mkdir (packs, 0750);
    char core_pack[PATH_MAX + 16];
    snprintf (core_pack, sizeof core_pack, "%s/core", packs);
    cr_assert_eq (symlink (ATTUNE_SOURCE_DIR "/packs/core", core_pack), 0);
    testing_write (packs, "test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    //  work: records its start, sleeps; again: the same, idempotent
    const char *work =
        "runner_type: local-shell-cmd\n"
        "entry_point: 'echo \"$ATTUNE_EXECUTION_ID\" >> \"$ATTUNE_PARAM_LOG\";"
        " sleep \"$ATTUNE_PARAM_SECONDS\"'\n"
        "parameters:\n  seconds:\n    type: number\n    default: 0\n"
        "  log:\n    type: string\n    required: true\n";
    char text[1024];
    snprintf (text, sizeof text, "name: work\n%s", work);
    testing_write (packs, "test/actions/work.yaml", text);
    snprintf (text, sizeof text, "name: again\nidempotent: true\n%s", work);
    testing_write (packs, "test/actions/again.yaml", text);
    s_write_hold (packs, "test");

    int ports[9];
    for (int i = 0; i < 9; i++)
        ports[i] = testing_free_port ();
    const char *names[] = {"registry.facts", "registry.snapshot", "registry.commands",
                           "rules.commands", "rules.facts",       "executor.commands",
                           "executor.facts", "api.requests",      "api.facts"};
    char endpoints[2048] = "";
    for (int i = 0; i < 9; i++) {
        char line[128];
        snprintf (line, sizeof line, "    %s = tcp://127.0.0.1:%d\n", names[i], ports[i]);
        strcat (endpoints, line);
    }
    snprintf (s_api, sizeof s_api, "tcp://127.0.0.1:%d", ports[7]);
    s_core = (s_proc_t){0};
    snprintf (s_core.name, sizeof s_core.name, "core");
    snprintf (s_core.cfg, sizeof s_core.cfg, "%s/core.cfg", s_root);
    snprintf (s_core.log, sizeof s_core.log, "%s/core.log", s_root);
    snprintf (s_core.data, sizeof s_core.data, "%s/core", s_root);
    char cfg[3 * PATH_MAX + 2048];
    snprintf (cfg, sizeof cfg,
              "daemon\n    actors = registry,executor,rules,api\n    data = %s\n"
              "    packs = %s\nbus\n    namespace = core\nendpoints\n%s",
              s_core.data, packs, endpoints);
    testing_write (s_root, "core.cfg", cfg);
    s_spawn (&s_core, NULL);
    //  Each worker on a port of its own, picked at random: with `*` (CZMQ
    //  takes the first free one from 49152) the suites and tests running at
    //  the same time reuse each other's ports as their workers die, and an
    //  executor still reconnecting to a dead worker of another test reaches
    //  this test's worker under the same name
    for (int w = 0; w < workers; w++) {
        s_proc_t *proc = &s_workers[w];
        *proc = (s_proc_t){0};
        snprintf (proc->name, sizeof proc->name, "w%d", w);
        snprintf (proc->cfg, sizeof proc->cfg, "%s/w%d.cfg", s_root, w);
        snprintf (proc->log, sizeof proc->log, "%s/w%d.log", s_root, w);
        snprintf (proc->data, sizeof proc->data, "%s/w%d", s_root, w);
        snprintf (cfg, sizeof cfg,
                  "daemon\n    actors = worker\n    data = %s\n    worker\n"
                  "        name = %s\n        slots = %d\nbus\n    namespace = %s\n"
                  "endpoints\n    executor.commands = tcp://127.0.0.1:%d\n"
                  "    worker = tcp://127.0.0.1:%d\n",
                  proc->data, proc->name, slots, proc->name, ports[5],
                  testing_free_port ());
        char file[64];
        snprintf (file, sizeof file, "%s.cfg", proc->name);
        testing_write (s_root, file, cfg);
        s_spawn (proc, "5000");
    }
}

static zsock_t *
s_client (void)
{
    zsock_t *sock = zsock_new_dealer (s_api);
    cr_assert_not_null (sock);
    zsock_set_rcvtimeo (sock, 8000);
    return sock;
}

//  Wait until the executor lists `count` live workers.
static void
s_wait_workers (zsock_t *sock, size_t count)
{
    int64_t deadline = zclock_mono () + 10000;
    while (true) {
        json_t *list = testing_api_ok (sock, "api.worker.list", NULL);
        size_t alive = 0, i;
        json_t *item;
        json_array_foreach (json_object_get (list, "items"), i, item)
        {
            alive += json_is_true (json_object_get (item, "alive"));
        }
        json_decref (list);
        if (alive == count)
            return;
        if (zclock_mono () >= deadline) {
            char *core = testing_read (s_core.log);
            char *w0 = testing_read (s_workers[0].log);
            char *w1 = testing_read (s_workers[1].log);
            cr_assert_fail ("%zu workers alive, not %zu\ncore:\n%s\nw0:\n%s\nw1:\n%s",
                            alive, count, core, w0, w1);
        }
        zclock_sleep (50);
    }
}

static char *
s_run (zsock_t *sock, const char *action, double seconds)
{
    json_t *result =
        testing_api_ok (sock, "api.execution.run",
                        json_pack ("{s:s, s:{s:f, s:s}}", "action", action, "parameters",
                                   "seconds", seconds, "log", s_starts));
    char *id = strdup (json_string_value (json_object_get (result, "execution")));
    json_decref (result);
    return id;
}

static json_t *
s_get (zsock_t *sock, const char *id)
{
    return testing_api_ok (sock, "api.execution.get", json_pack ("{s:s}", "id", id));
}

static const char *
s_status (const json_t *record)
{
    return json_string_value (json_object_get (record, "status"));
}

//  Wait until every execution has ended; returns their records (a JSON
//  array in the order of `ids`).
static json_t *
s_wait_all (zsock_t *sock, char **ids, size_t count, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        json_t *records = json_array ();
        size_t ended = 0;
        for (size_t i = 0; i < count; i++) {
            json_t *record = s_get (sock, ids[i]);
            ended += testing_status_terminal (s_status (record));
            json_array_append_new (records, record);
        }
        if (ended == count)
            return records;
        json_decref (records);
        cr_assert_lt (zclock_mono (), deadline, "%zu of %zu ended", ended, count);
        zclock_sleep (100);
    }
}

//  Times execution `id` was started, by any worker.
static int
s_starts_of (const char *id)
{
    return testing_count_in_file (s_starts, id);
}

//  Terminal statuses in an execution's log: exactly one, always.
static int
s_endings (const json_t *record)
{
    int n = 0;
    size_t i;
    json_t *entry;
    json_array_foreach (json_object_get (record, "log"), i, entry)
    {
        n += testing_status_terminal (
            json_string_value (json_object_get (entry, "status")));
    }
    return n;
}

Test (distributed, executions_spread_over_worker_processes)
{
    s_start (2, 2);
    zsock_t *sock = s_client ();
    s_wait_workers (sock, 2);
    char *ids[8];
    for (int i = 0; i < 8; i++)
        ids[i] = s_run (sock, "test.work", 0.3);
    json_t *records = s_wait_all (sock, ids, 8, 20000);
    int on[2] = {0, 0};
    for (int i = 0; i < 8; i++) {
        json_t *record = json_array_get (records, (size_t)i);
        cr_assert_str_eq (s_status (record), "completed");
        const char *worker = json_string_value (json_object_get (record, "worker"));
        cr_assert_not_null (worker);
        on[streq (worker, "w1")]++;
        cr_assert_eq (s_starts_of (ids[i]), 1);
        free (ids[i]);
    }
    cr_assert (on[0] >= 2 && on[1] >= 2, "w0 ran %d, w1 %d: not spread", on[0], on[1]);
    json_decref (records);
    zsock_destroy (&sock);
}

Test (distributed, a_killed_worker_is_settled_within_5_s)
{
    s_start (2, 2);
    zsock_t *sock = s_client ();
    s_wait_workers (sock, 2);
    //  Least loaded first, round-robin among equals: each worker gets one
    //  plain and one idempotent execution
    char *ids[4] = {s_run (sock, "test.work", 30), s_run (sock, "test.work", 30),
                    s_run (sock, "test.again", 6), s_run (sock, "test.again", 6)};
    char where[4][8];
    for (int i = 0; i < 4; i++) {
        json_t *record = testing_api_wait_status (sock, ids[i], "running", 10000);
        snprintf (where[i], sizeof where[i], "%s",
                  json_string_value (json_object_get (record, "worker")));
        json_decref (record);
    }
    //  `running` is the worker's claim: the shell may not have written its
    //  start line yet, and the kill must come after it (else the idempotent
    //  one starts once only, on the survivor)
    int64_t started_by = zclock_mono () + 10000;
    for (int i = 0; i < 4; i++)
        while (s_starts_of (ids[i]) < 1) {
            cr_assert_lt (zclock_mono (), started_by, "%s never started", ids[i]);
            zclock_sleep (10);
        }
    const char *victim = where[0];
    s_proc_t *proc = streq (victim, "w0") ? &s_workers[0] : &s_workers[1];
    cr_assert (streq (where[2], victim) != streq (where[3], victim),
               "the idempotent ones are not one on each worker: %s %s", where[2],
               where[3]);
    kill (proc->pid, SIGKILL);
    waitpid (proc->pid, NULL, 0);
    proc->pid = 0;
    int64_t killed = zclock_mono ();
    //  Within 5 s each of its executions is settled: the plain one
    //  abandoned, the idempotent one given to the other worker
    int64_t deadline = killed + 5000;
    bool settled = false;
    while (!settled) {
        settled = true;
        char states[512] = "";
        for (int i = 0; i < 4; i++) {
            json_t *record = s_get (sock, ids[i]);
            const char *worker = json_string_value (json_object_get (record, "worker"));
            if (worker && streq (worker, victim) &&
                !testing_status_terminal (s_status (record)))
                settled = false;
            snprintf (states + strlen (states), sizeof states - strlen (states),
                      " %s:%s@%s", ids[i], s_status (record), worker ? worker : "-");
            json_decref (record);
        }
        cr_assert_lt (zclock_mono (), deadline,
                      "not settled 5 s after the kill of %s:%s\ncore log:\n%s", victim,
                      states, testing_read (s_core.log));
        if (!settled)
            zclock_sleep (50);
    }
    cr_log_info ("settled %d ms after SIGKILL", (int)(zclock_mono () - killed));
    //  The survivor's long one is cancelled; then everything has ended:
    //  nothing lost, nothing ended twice
    int survivor = streq (where[0], victim) ? 1 : 0;
    json_decref (testing_api_ok (sock, "api.execution.cancel",
                                 json_pack ("{s:s}", "id", ids[survivor])));
    json_t *records = s_wait_all (sock, ids, 4, 20000);
    for (int i = 0; i < 4; i++) {
        json_t *record = json_array_get (records, (size_t)i);
        cr_assert_eq (s_endings (record), 1, "%s ended more than once", ids[i]);
        bool on_victim = streq (where[i], victim);
        const char *expected =
            i < 2 ? (on_victim ? "abandoned" : "cancelled") : "completed";
        cr_assert_str_eq (s_status (record), expected, "%s (%s on %s)", ids[i],
                          i < 2 ? "plain" : "idempotent", where[i]);
        if (i >= 2 && on_victim) {
            //  Run again, elsewhere: it started twice, as its action allows
            cr_assert_str_neq (json_string_value (json_object_get (record, "worker")),
                               victim);
            cr_assert_eq (json_integer_value (json_object_get (record, "redispatched")),
                          1);
            cr_assert_eq (s_starts_of (ids[i]), 2);
        } else
            cr_assert_eq (s_starts_of (ids[i]), 1);
    }
    for (int i = 0; i < 4; i++)
        free (ids[i]);
    json_decref (records);
    zsock_destroy (&sock);
}

static char *
s_run_hold (zsock_t *sock, const char *action, double seconds, const char *log)
{
    json_t *result =
        testing_api_ok (sock, "api.execution.run",
                        json_pack ("{s:s, s:{s:f, s:s}}", "action", action, "parameters",
                                   "seconds", seconds, "log", log));
    char *id = strdup (json_string_value (json_object_get (result, "execution")));
    json_decref (result);
    return id;
}

//  Wait until `count` holds have recorded their start in `log`.
static void
s_wait_starts (const char *log, int count)
{
    int64_t deadline = zclock_mono () + 15000;
    while (testing_count_in_file (log, " start ") < count) {
        cr_assert_lt (zclock_mono (), deadline, "%d of %d started:\n%s",
                      testing_count_in_file (log, " start "), count, testing_read (log));
        zclock_sleep (50);
    }
}

//  For each line "<id> start <pgid>" of `path`: until its group holds its
//  `sleep` as well as the shell (5 s at most).
static void
s_wait_forked (const char *path)
{
    char *text = testing_read (path);
    int64_t deadline = zclock_mono () + 5000;
    for (char *line = strstr (text, " start "); line; line = strstr (line + 1, " start "))
        while (testing_group_alive (atoi (line + 7)) < 2) {
            cr_assert_lt (zclock_mono (), deadline, "group %d forked nothing",
                          atoi (line + 7));
            zclock_sleep (10);
        }
    free (text);
}

//  The holds started before a kill, copied to <log>.killed, once each
//  shell has forked its `sleep`: the parent-death signal does not reach
//  those (else this test cannot fail).
static void
s_before_kill (const char *log, char *killed, size_t size)
{
    snprintf (killed, size, "%s.killed", log);
    char *text = testing_read (log);
    FILE *file = fopen (killed, "w");
    cr_assert_not_null (file);
    fputs (text, file);
    fclose (file);
    free (text);
    s_wait_forked (killed);
}

//  After a kill, with nothing restarted: every process of the holds in
//  `killed` is gone within 3 s (the worker's guard, worker_guard.h).
static void
s_wait_gone (const char *killed)
{
    int64_t deadline = zclock_mono () + 3000;
    while (testing_groups_alive (killed) > 0) {
        cr_assert_lt (zclock_mono (), deadline,
                      "%d groups of action processes outlive their worker by 3 s:\n%s",
                      testing_groups_alive (killed), testing_read (killed));
        zclock_sleep (20);
    }
}

//  After a kill and a restart: no process of a run before the kill is left
//  (checked at once: the worker ends them before it registers), none ran
//  twice at once; the plain ones are abandoned (they started once), the
//  idempotent ones ran again and completed.
static void
s_check_holds (zsock_t *sock, const char *log, const char *killed, char **ids,
               size_t count, size_t plain)
{
    cr_assert_eq (testing_groups_alive (killed), 0,
                  "action processes survived the restart:\n%s", testing_read (killed));
    int64_t deadline = zclock_mono () + 30000;
    for (size_t i = 0; i < count; i++) {
        json_t *record = NULL;
        while (!testing_status_terminal (s_status (record = s_get (sock, ids[i])))) {
            json_decref (record);
            cr_assert_lt (zclock_mono (), deadline, "%s did not end", ids[i]);
            zclock_sleep (100);
        }
        char starts[128];
        snprintf (starts, sizeof starts, "%s start ", ids[i]);
        cr_assert_str_eq (s_status (record), i < plain ? "abandoned" : "completed", "%s",
                          ids[i]);
        cr_assert_eq (testing_count_in_file (log, starts), i < plain ? 1 : 2, "%s",
                      ids[i]);
        json_decref (record);
    }
    cr_assert_eq (testing_count_in_file (log, "DOUBLE"), 0, "two copies ran:\n%s",
                  testing_read (log));
    cr_assert_eq (testing_groups_alive (killed), 0);
}

//  A worker process SIGKILLed with long shell actions running: its shells
//  die with it (parent-death signal), what they forked is killed by its
//  guard within moments, without a restart; when it starts again nothing
//  of them is left and the idempotent ones never ran twice at once.
Test (distributed, a_killed_worker_leaves_no_action_process)
{
    s_start (1, 4);
    zsock_t *sock = s_client ();
    s_wait_workers (sock, 1);
    char log[PATH_MAX + 8];
    snprintf (log, sizeof log, "%s/holds", s_root);
    char *ids[4] = {s_run_hold (sock, "test.hold", 60, log),
                    s_run_hold (sock, "test.hold", 60, log),
                    s_run_hold (sock, "test.hold_again", 2, log),
                    s_run_hold (sock, "test.hold_again", 2, log)};
    s_wait_starts (log, 4);
    char killed[PATH_MAX + 16];
    s_before_kill (log, killed, sizeof killed);
    kill (s_workers[0].pid, SIGKILL);
    waitpid (s_workers[0].pid, NULL, 0);
    s_workers[0].pid = 0;
    s_wait_gone (killed);
    s_spawn (&s_workers[0], "5000");
    s_check_holds (sock, log, killed, ids, 4, 2);
    for (int i = 0; i < 4; i++)
        free (ids[i]);
    zsock_destroy (&sock);
}

//  The same with the single attuned: every actor and the shells killed at
//  once, what the shells forked by the guard (which is not in attuned's
//  process group); after the restart nothing ran twice.
Test (distributed, a_killed_attuned_leaves_no_action_process)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "test_distributed_attuned");
    testing_daemon_write (&daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    s_write_hold (daemon.packs, "test");
    const char *extra[] = {"--worker-slots", "4", "--quiet", NULL};
    testing_daemon_start (&daemon, extra);
    zsock_t *sock = testing_api_client (&daemon);
    char log[PATH_MAX + 8];
    snprintf (log, sizeof log, "%s/holds", daemon.root);
    char *ids[4] = {s_run_hold (sock, "test.hold", 60, log),
                    s_run_hold (sock, "test.hold", 60, log),
                    s_run_hold (sock, "test.hold_again", 2, log),
                    s_run_hold (sock, "test.hold_again", 2, log)};
    s_wait_starts (log, 4);
    zsock_destroy (&sock);
    char killed[PATH_MAX + 16];
    s_before_kill (log, killed, sizeof killed);
    testing_daemon_signal (&daemon, SIGKILL, 5000);
    s_wait_gone (killed);
    testing_daemon_start (&daemon, extra);
    sock = testing_api_client (&daemon);
    s_check_holds (sock, log, killed, ids, 4, 2);
    for (int i = 0; i < 4; i++)
        free (ids[i]);
    zsock_destroy (&sock);
    testing_daemon_stop (&daemon);
    testing_daemon_stop_all ();
}

//  The group of execution `id`'s first start in a holds log.
static int
s_pgid_of (const char *log, const char *id)
{
    char *text = testing_read (log);
    char want[128];
    snprintf (want, sizeof want, "%s start ", id);
    char *line = strstr (text, want);
    int pgid = line ? atoi (line + strlen (want)) : 0;
    free (text);
    cr_assert_gt (pgid, 0, "%s did not start", id);
    return pgid;
}

//  Without a restart: a worker SIGKILLed while it runs idempotent holds;
//  the executor gives them to the other worker once it has declared the
//  first lost, and by then the guard has ended every process of the old
//  copies: no copy starts while an old one holds the execution's lock.
Test (distributed, an_idempotent_rerun_never_overlaps_the_killed_copy)
{
    s_start (2, 4); //  free slots: a re-run starts as soon as it is given
    zsock_t *sock = s_client ();
    s_wait_workers (sock, 2);
    char log[PATH_MAX + 8];
    snprintf (log, sizeof log, "%s/holds", s_root);
    char *ids[4];
    char where[4][8];
    for (int i = 0; i < 4; i++)
        ids[i] = s_run_hold (sock, "test.hold_again", 4, log);
    for (int i = 0; i < 4; i++) {
        json_t *record = testing_api_wait_status (sock, ids[i], "running", 10000);
        snprintf (where[i], sizeof where[i], "%s",
                  json_string_value (json_object_get (record, "worker")));
        json_decref (record);
    }
    s_wait_starts (log, 4);
    s_proc_t *victim = streq (where[0], "w0") ? &s_workers[0] : &s_workers[1];
    //  Only the victim's holds are awaited: the survivor's run to their end
    char victims[PATH_MAX + 16];
    snprintf (victims, sizeof victims, "%s.victim", log);
    FILE *file = fopen (victims, "w");
    cr_assert_not_null (file);
    for (int i = 0; i < 4; i++)
        if (streq (where[i], victim->name)) {
            fprintf (file, "%s start %d\n", ids[i], s_pgid_of (log, ids[i]));
        }
    fclose (file);
    char killed[PATH_MAX + 16];
    s_before_kill (victims, killed, sizeof killed);
    kill (victim->pid, SIGKILL);
    waitpid (victim->pid, NULL, 0);
    victim->pid = 0;
    int64_t gone = zclock_mono ();
    s_wait_gone (killed);
    cr_log_info ("gone %d ms after SIGKILL", (int)(zclock_mono () - gone));
    json_t *records = s_wait_all (sock, ids, 4, 20000);
    int rerun = 0;
    for (int i = 0; i < 4; i++) {
        json_t *record = json_array_get (records, (size_t)i);
        cr_assert_str_eq (s_status (record), "completed", "%s", ids[i]);
        char starts[128];
        snprintf (starts, sizeof starts, "%s start ", ids[i]);
        bool on_victim = streq (where[i], victim->name);
        rerun += on_victim;
        cr_assert_eq (testing_count_in_file (log, starts), on_victim ? 2 : 1, "%s",
                      ids[i]);
    }
    cr_assert_gt (rerun, 0);
    cr_assert_eq (testing_count_in_file (log, "DOUBLE"), 0, "two copies ran:\n%s",
                  testing_read (log));
    json_decref (records);
    for (int i = 0; i < 4; i++)
        free (ids[i]);
    zsock_destroy (&sock);
}

Test (distributed, a_draining_worker_finishes_and_gives_back)
{
    s_start (2, 1);
    zsock_t *sock = s_client ();
    s_wait_workers (sock, 2);
    //  1 slot each, 2 dispatched to each (one runs, one waits there)
    char *ids[4];
    for (int i = 0; i < 4; i++)
        ids[i] = s_run (sock, "test.work", 1.5);
    zclock_sleep (400);
    json_t *first = s_get (sock, ids[0]);
    const char *name = json_string_value (json_object_get (first, "worker"));
    s_proc_t *proc = streq (name, "w0") ? &s_workers[0] : &s_workers[1];
    json_decref (first);
    kill (proc->pid, SIGTERM);
    //  The executor stops giving it work at once
    int64_t deadline = zclock_mono () + 3000;
    bool draining = false;
    while (!draining && zclock_mono () < deadline) {
        json_t *list = testing_api_ok (sock, "api.worker.list", NULL);
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (list, "items"), i, item)
        {
            if (streq (json_string_value (json_object_get (item, "worker")), proc->name))
                draining = json_is_true (json_object_get (item, "draining"));
        }
        json_decref (list);
        zclock_sleep (20);
    }
    cr_assert (draining, "%s is not shown draining", proc->name);
    char *late = s_run (sock, "test.work", 0);
    //  It ends cleanly after what it ran finished
    int status = -1;
    deadline = zclock_mono () + 10000;
    while (zclock_mono () < deadline &&
           waitpid (proc->pid, &status, WNOHANG) != proc->pid)
        zclock_sleep (20);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "exit status %d", status);
    proc->pid = 0;
    char *all[5] = {ids[0], ids[1], ids[2], ids[3], late};
    json_t *records = s_wait_all (sock, all, 5, 20000);
    for (int i = 0; i < 5; i++) {
        json_t *record = json_array_get (records, (size_t)i);
        cr_assert_str_eq (s_status (record), "completed", "%s: %s", all[i],
                          s_status (record));
        cr_assert_eq (s_starts_of (all[i]), 1, "%s started %d times", all[i],
                      s_starts_of (all[i]));
    }
    //  What was sent after the drain went to the other worker
    cr_assert_str_neq (
        json_string_value (json_object_get (json_array_get (records, 4), "worker")),
        proc->name);
    char *log = testing_read (proc->log);
    cr_assert (strstr (log, "draining: 1 returned"), "%s", log);
    free (log);
    for (int i = 0; i < 5; i++)
        free (all[i]);
    json_decref (records);
    zsock_destroy (&sock);
}

Test (distributed, a_silent_worker_that_comes_back_drops_what_was_settled)
{
    s_start (2, 1);
    zsock_t *sock = s_client ();
    s_wait_workers (sock, 2);
    char *ids[4];
    for (int i = 0; i < 4; i++)
        ids[i] = s_run (sock, "test.work", 1.0);
    zclock_sleep (300);
    json_t *first = s_get (sock, ids[0]);
    const char *name = json_string_value (json_object_get (first, "worker"));
    s_proc_t *proc = streq (name, "w0") ? &s_workers[0] : &s_workers[1];
    char stopped[8];
    snprintf (stopped, sizeof stopped, "%s", name);
    json_decref (first);
    //  Silent for 3 s (15 heartbeats): declared dead; its running execution
    //  is abandoned, the one waiting there runs on the other worker
    kill (proc->pid, SIGSTOP);
    zclock_sleep (3000);
    kill (proc->pid, SIGCONT);
    json_t *records = s_wait_all (sock, ids, 4, 20000);
    int abandoned = 0;
    for (int i = 0; i < 4; i++) {
        json_t *record = json_array_get (records, (size_t)i);
        cr_assert_eq (s_endings (record), 1);
        if (streq (s_status (record), "abandoned"))
            abandoned++;
        else
            cr_assert_str_eq (s_status (record), "completed");
        //  Nothing started twice: the stopped worker started nothing new
        //  while the executor could not hear it
        cr_assert_eq (s_starts_of (ids[i]), 1, "%s started %d times", ids[i],
                      s_starts_of (ids[i]));
    }
    if (abandoned != 1) {
        char *text = json_dumps (records, JSON_COMPACT);
        char *log = testing_read (s_core.log);
        cr_assert_fail ("%d abandoned, not 1 (%s stopped): %s\ncore:\n%s", abandoned,
                        stopped, text, log);
    }
    //  Back, it registers with what it holds and is told to drop what was
    //  settled without it; its late report is kept and changes nothing
    int64_t deadline = zclock_mono () + 8000;
    json_t *late = NULL;
    while (!late) {
        for (int i = 0; i < 4 && !late; i++) {
            json_t *record = s_get (sock, ids[i]);
            if (json_array_size (json_object_get (record, "late")))
                late = record;
            else
                json_decref (record);
        }
        cr_assert_lt (zclock_mono (), deadline, "no late report recorded");
        if (!late)
            zclock_sleep (100);
    }
    json_t *report = json_array_get (json_object_get (late, "late"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (report, "worker")), stopped);
    cr_assert (testing_status_terminal (s_status (late)));
    json_decref (late);
    s_wait_workers (sock, 2);
    for (int i = 0; i < 4; i++)
        free (ids[i]);
    json_decref (records);
    zsock_destroy (&sock);
}

Test (distributed, the_executor_restarting_reconciles_with_its_workers)
{
    s_start (2, 2);
    zsock_t *sock = s_client ();
    s_wait_workers (sock, 2);
    char *ids[10];
    for (int i = 0; i < 10; i++)
        ids[i] = s_run (sock, "test.work", 1.0);
    zclock_sleep (300);
    zsock_destroy (&sock);
    kill (s_core.pid, SIGKILL);
    waitpid (s_core.pid, NULL, 0);
    s_core.pid = 0;
    s_spawn (&s_core, NULL);
    sock = s_client ();
    json_t *records = s_wait_all (sock, ids, 10, 30000);
    for (int i = 0; i < 10; i++) {
        json_t *record = json_array_get (records, (size_t)i);
        cr_assert_str_eq (s_status (record), "completed", "%s: %s", ids[i],
                          s_status (record));
        cr_assert_eq (s_endings (record), 1);
        cr_assert_eq (s_starts_of (ids[i]), 1, "%s started %d times", ids[i],
                      s_starts_of (ids[i]));
        free (ids[i]);
    }
    json_decref (records);
    zsock_destroy (&sock);
}
