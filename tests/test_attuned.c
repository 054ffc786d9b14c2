/*  test_attuned: the daemon as a process.

    Runs build/attuned with a temporary data directory, a packs directory
    holding the core pack and a test pack, and a topology that puts every
    endpoint on ipc:// in the temporary directory, so the test can reach the
    actors from outside the process. Covers start, the hello-world style
    timer rule, clean shutdown on SIGTERM and SIGINT, argument and topology
    errors, and a SIGKILL in the middle of a stream of events.
*/
#include "tests/testing.h"
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "actors/executor/executor.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"
#include "bus/bus_topology.h"

static char s_root[PATH_MAX - 256];
static char s_packs[PATH_MAX];
static char s_data[PATH_MAX];
static char s_config[PATH_MAX];
static char s_log[PATH_MAX];
static bus_topology_t *s_topology;
static pid_t s_children[16]; //  every attuned started, killed at teardown
static int s_nchildren;

static void
s_write (const char *path, const char *text)
{
    testing_write (s_packs, path, text);
}

static void
s_setup (void)
{
    testing_tmpdir (s_root, sizeof s_root, "test_attuned");
    snprintf (s_packs, sizeof s_packs, "%s/packs", s_root);
    snprintf (s_data, sizeof s_data, "%s/data", s_root);
    snprintf (s_config, sizeof s_config, "%s/attune.cfg", s_root);
    snprintf (s_log, sizeof s_log, "%s/attuned.log", s_root);
    mkdir (s_packs, 0750);
    char core[PATH_MAX + 32];
    snprintf (core, sizeof core, "%s/core", s_packs);
    cr_assert_eq (symlink (ATTUNE_SOURCE_DIR "/packs/core", core), 0);
    s_write ("test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    s_write ("test/triggers/hook.yaml", "name: hook\npack: test\n");
    s_write ("test/actions/step.yaml", "name: step\nrunner_type: noop\nparameters:\n"
                                       "  n:\n    type: integer\n    required: true\n");
    s_write ("test/rules/step.yaml",
             "name: step\npack: test\ntrigger:\n  type: test.hook\n"
             "action:\n  ref: test.step\n  parameters:\n"
             "    n: \"{{ trigger.payload.n }}\"\n");
    char text[PATH_MAX + 128];
    snprintf (text, sizeof text, "bus\n    transport = ipc\n    ipc_dir = %s\n", s_root);
    testing_write (s_root, "attune.cfg", text);
    char message[256];
    s_topology = bus_topology_load (s_config, message, sizeof message);
    cr_assert_not_null (s_topology, "%s", message);
}

static void
s_teardown (void)
{
    //  A failed assertion leaves daemons running: never leak them
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0 && kill (s_children[i], SIGKILL) == 0)
            waitpid (s_children[i], NULL, 0);
    s_nchildren = 0;
    bus_topology_destroy (&s_topology);
    testing_rmtree (s_root);
}

TestSuite (attuned, .init = s_setup, .fini = s_teardown, .timeout = 90);

//  Start attuned with extra arguments (NULL-terminated), output to s_log.
static pid_t
s_spawn (const char *extra[])
{
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        int fd = open (s_log, O_WRONLY | O_CREAT | O_APPEND, 0640);
        dup2 (fd, 1);
        dup2 (fd, 2);
        const char *argv[32] = {ATTUNE_HELPER_DIR "/attuned",
                                "-c",
                                s_config,
                                "--data",
                                s_data,
                                "--packs",
                                s_packs,
                                "--heartbeat",
                                "200"};
        int argc = 9;
        for (int i = 0; extra && extra[i] && argc < 30; i++)
            argv[argc++] = extra[i];
        argv[argc] = NULL;
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    return pid;
}

//  Wait for `pid` to exit, at most timeout_ms. Returns the wait status, or
//  -1 on timeout (the process is then killed).
//  The process is gone: teardown must not signal its (reusable) pid
static void
s_forget (pid_t pid)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] == pid)
            s_children[i] = 0;
}

static int
s_reap (pid_t pid, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    int status;
    while (zclock_mono () < deadline) {
        if (waitpid (pid, &status, WNOHANG) == pid) {
            s_forget (pid);
            return status;
        }
        zclock_sleep (20);
    }
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    s_forget (pid);
    return -1;
}

static char *
s_read_log (void)
{
    FILE *file = fopen (s_log, "r");
    if (!file)
        return strdup ("");
    char *text = (char *)calloc (1, 1 << 20);
    size_t n = fread (text, 1, (1 << 20) - 1, file);
    text[n] = 0;
    fclose (file);
    return text;
}

//  Wait until the log holds `needle` (the daemon says where it is: there is
//  no other signal to wait on from outside the process). True when it does.
static bool
s_wait_log (const char *needle, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        char *log = s_read_log ();
        bool found = strstr (log, needle) != NULL;
        free (log);
        if (found)
            return true;
        zclock_sleep (20);
    }
    return false;
}

//  Run a command-line case: exit code and a substring of the output.
static void
s_expect_exit (const char *extra[], int code, const char *needle)
{
    unlink (s_log);
    pid_t pid = s_spawn (extra);
    int status = s_reap (pid, 10000);
    cr_assert_neq (status, -1, "attuned did not exit");
    cr_assert (WIFEXITED (status), "attuned exited normally");
    char *log = s_read_log ();
    cr_assert_eq (WEXITSTATUS (status), code, "exit code %d, expected %d; output:\n%s",
                  WEXITSTATUS (status), code, log);
    cr_assert (strstr (log, needle), "output mentions '%s':\n%s", needle, log);
    free (log);
}

Test (attuned, bad_arguments_and_configuration)
{
    s_expect_exit ((const char *[]){"--worker-slots", "lots", NULL}, 2, "--worker-slots");
    s_expect_exit ((const char *[]){"--actors", "registry,bogus", NULL}, 2, "bogus");
    s_expect_exit ((const char *[]){"--nope", NULL}, 2, "usage");
    s_expect_exit ((const char *[]){"--help", NULL}, 0, "usage");
    char bad[PATH_MAX + 32];
    snprintf (bad, sizeof bad, "%s/bad.cfg", s_root);
    testing_write (s_root, "bad.cfg", "endpoints\n    rules.commands = tpc://nowhere\n");
    s_expect_exit ((const char *[]){"-c", bad, NULL}, 1, "tpc://nowhere");
}

Test (attuned, runs_a_timer_rule_and_stops_cleanly)
{
    s_write ("test/rules/tick.yaml",
             "name: tick\npack: test\ntrigger:\n  type: core.st2.IntervalTimer\n"
             "  parameters:\n    unit: seconds\n    delta: 1\n"
             "action:\n  ref: core.echo\n  parameters:\n    message: hello, world\n");
    pid_t pid = s_spawn (NULL);
    //  The log line of a completed core.echo execution, with its output
    int64_t deadline = zclock_mono () + 15000;
    bool seen = false;
    while (!seen && zclock_mono () < deadline) {
        char *log = s_read_log ();
        seen = strstr (log, "core.echo") && strstr (log, "completed") &&
               strstr (log, "hello, world");
        free (log);
        if (!seen)
            zclock_sleep (100); //  polling a log file: there is no signal to wait on
    }
    cr_assert (seen, "a completed core.echo line in the log");
    kill (pid, SIGTERM);
    int status = s_reap (pid, 10000);
    cr_assert_neq (status, -1, "SIGTERM stops attuned within 10 s");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "clean exit");

    //  SIGINT too, and the data directory can be opened again at once
    unlink (s_log);
    pid = s_spawn (NULL);
    cr_assert (s_wait_log ("attuned: running", 10000));
    kill (pid, SIGINT);
    status = s_reap (pid, 10000);
    cr_assert (status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

Test (attuned, second_instance_on_the_same_data_is_refused)
{
    pid_t first = s_spawn (NULL);
    cr_assert (s_wait_log ("attuned: running", 10000), "the first instance is up");
    const char *other[] = {"--actors", "registry", NULL};
    //  Another topology namespace is not needed: the store lock refuses it
    pid_t second = s_spawn (other);
    int status = s_reap (second, 10000);
    cr_assert_neq (status, -1);
    char *log = s_read_log ();
    if (!WIFEXITED (status) || WEXITSTATUS (status) == 0)
        cr_log_error ("attuned output:\n%s", log);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) != 0,
               "a second attuned on the same data directory fails (status %d)", status);
    bool in_use = strstr (log, "in use") != NULL;
    free (log);
    cr_assert (in_use, "the log says the directory is in use");
    kill (first, SIGTERM);
    s_reap (first, 10000);
}

//  ---------------------------------------------------------------------------
//  SIGKILL in the middle of a stream: nothing lost, nothing run twice

typedef struct {
    int count;
    int *completed; //  per n: completed executions
    int other;      //  executions in any other status
    int duplicates; //  enforcements with more than one execution
    zhashx_t *enforcements;
} s_scan_t;

static void
s_scan_record (void *arg, const json_t *execution)
{
    s_scan_t *scan = (s_scan_t *)arg;
    const char *status = json_string_value (json_object_get (execution, "status"));
    json_int_t n = json_integer_value (
        json_object_get (json_object_get (execution, "parameters"), "n"));
    const char *enforcement =
        json_string_value (json_object_get (execution, "enforcement"));
    if (enforcement) {
        if (zhashx_lookup (scan->enforcements, enforcement))
            scan->duplicates++;
        else
            zhashx_insert (scan->enforcements, enforcement, (void *)1);
    }
    if (status && streq (status, "completed") && n >= 0 && n < scan->count)
        scan->completed[n]++;
    else
        scan->other++;
}

//  Read execution facts until none arrived for `quiet_ms`, at most
//  `timeout_ms`; returns how many were read.
static int
s_drain_facts (bus_sub_t *sub, bus_link_t *link, int quiet_ms, int timeout_ms,
               int stop_at)
{
    int seen = 0;
    int64_t deadline = zclock_mono () + timeout_ms;
    int64_t last = zclock_mono ();
    while (zclock_mono () < deadline && zclock_mono () - last < quiet_ms &&
           (stop_at <= 0 || seen < stop_at)) {
        bus_link_handle (link);
        bus_link_tick (link);
        proto_envelope_t *fact = bus_sub_recv (sub, NULL, 20);
        if (fact && streq (proto_envelope_type (fact), "execution.completed")) {
            seen++;
            last = zclock_mono ();
        }
        proto_envelope_destroy (&fact);
    }
    return seen;
}

Test (attuned, sigkill_mid_stream_loses_nothing_and_runs_nothing_twice)
{
    const int count = 400;
    pid_t pid = s_spawn (NULL);
    bus_sub_t *sub = bus_sub_new (0);
    bus_sub_connect (sub, bus_topology_connect (s_topology, "executor.facts"));
    bus_sub_subscribe (sub, "execution.completed");
    bus_sub_subscribe (sub, "executor.heartbeat");
    //  Joined once the executor's heartbeat arrives: no completion before
    //  the kill is missed by a subscription still on its way
    int64_t joined_by = zclock_mono () + 15000;
    bool joined = false;
    while (!joined && zclock_mono () < joined_by) {
        proto_envelope_t *fact = bus_sub_recv (sub, NULL, 100);
        joined = fact != NULL;
        proto_envelope_destroy (&fact);
    }
    cr_assert (joined, "the executor's facts reach the test");
    bus_link_t *link = bus_link_new (bus_topology_connect (s_topology, "rules.commands"),
                                     "stream@test", NULL);
    cr_assert_not_null (link);
    for (int i = 0; i < count; i++) {
        proto_envelope_t *event = proto_envelope_new ("event.create", "stream@test");
        json_t *body = json_pack ("{s:s, s:{}, s:{s:i}}", "trigger", "test.hook",
                                  "trigger_parameters", "payload", "n", i);
        proto_envelope_set_payload_json (event, body, NULL);
        json_decref (body);
        cr_assert_eq (bus_link_send (link, &event), 0);
    }
    //  Kill once some, not all, have completed
    int seen = s_drain_facts (sub, link, 10000, 20000, count / 4);
    cr_assert_gt (seen, 0, "executions completed before the kill");
    cr_assert_lt (seen, count, "the kill comes mid-stream");
    cr_log_info ("SIGKILL after %d of %d completions", seen, count);
    cr_assert_eq (kill (pid, SIGKILL), 0);
    int status;
    waitpid (pid, &status, 0);
    s_forget (pid);

    //  Restart: the link in this process resends what was not acked; the
    //  daemon continues what was requested or scheduled
    pid = s_spawn (NULL);
    s_drain_facts (sub, link, 3000, 60000, 0);
    cr_assert_eq (bus_link_flush (link, 10000), 0, "every event acknowledged");
    s_drain_facts (sub, link, 2000, 30000, 0);
    kill (pid, SIGTERM);
    cr_assert_neq (s_reap (pid, 10000), -1);
    bus_link_destroy (&link);
    bus_sub_destroy (&sub);

    s_scan_t scan = {.count = count};
    scan.completed = (int *)calloc ((size_t)count, sizeof (int));
    scan.enforcements = zhashx_new ();
    int records = executor_store_scan (s_data, s_scan_record, &scan);
    cr_assert_geq (records, count, "%d execution records", records);
    int missing = 0, twice = 0;
    for (int i = 0; i < count; i++) {
        missing += scan.completed[i] == 0;
        twice += scan.completed[i] > 1;
    }
    cr_assert_eq (missing, 0, "%d events have no completed execution", missing);
    cr_assert_eq (twice, 0, "%d events completed more than once", twice);
    cr_assert_eq (scan.duplicates, 0, "one execution per enforcement");
    cr_assert_eq (scan.other, 0, "%d executions not completed", scan.other);
    free (scan.completed);
    zhashx_destroy (&scan.enforcements);
}
