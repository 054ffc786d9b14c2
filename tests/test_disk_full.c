/*  A full disk under a live attuned (issue 14): the data directory is a
    small tmpfs the test mounts (as root; skipped with a message otherwise),
    filled by api runs of a shell action with large parameters until the api
    answers `store`. Commits then fail while claims, reports and resends keep
    coming. Checked:
    - nothing runs twice: every action process appends its execution id to
      a file outside the tmpfs, no id appears there twice, whether space
      comes back under the running daemon or after a SIGKILL and a restart
      (a start is confirmed only from committed state);
    - without a restart, every accepted execution reaches an end once space
      is back (the stores retry by themselves).
*/
#include "tests/testing_api.h"
#include <sys/mount.h>

#define S_FILL_MAX  400          //  runs tried before giving up on filling
#define S_PAD_BYTES (100 * 1024) //  parameters of each run
#define S_SMALL     "size=6m"    //  the full disk
#define S_LARGE     "size=256m"  //  space back

#define S_REPEAT (TESTING_SANITIZED ? 5 : 20) //  the sanitizer build is slower

static testing_daemon_t s_daemon;
static char s_ran[PATH_MAX]; //  where each process writes its id
static bool s_mounted;

static void
s_unmount (void)
{
    if (s_mounted && umount2 (s_daemon.data, MNT_DETACH) == 0)
        s_mounted = false;
}

static void
s_fini (void)
{
    if (s_daemon.pid > 0)
        testing_daemon_signal (&s_daemon, SIGKILL, 5000);
    s_unmount ();
    testing_daemon_stop_all ();
}

//  A daemon whose data directory is a tmpfs of S_SMALL. False (with the
//  reason in `why`) when this machine cannot mount one.
static bool
s_setup (char *why, size_t size)
{
    testing_daemon_init (&s_daemon, "diskfull");
    snprintf (s_ran, sizeof s_ran, "%s/ran.txt", s_daemon.root);
    testing_daemon_write (&s_daemon, "t/pack.yaml", "ref: t\nname: t\nversion: 1.0.0\n");
    char action[PATH_MAX + 512];
    snprintf (action, sizeof action,
              "name: app\nrunner_type: local-shell-cmd\nenabled: true\n"
              "entry_point: 'echo \"$ATTUNE_EXECUTION_ID\" >> %s; sleep 0.05'\n"
              "parameters:\n  pad: {type: string}\n",
              s_ran);
    testing_daemon_write (&s_daemon, "t/actions/app.yaml", action);
    mkdir (s_daemon.data, 0750);
    if (geteuid () != 0) {
        snprintf (why, size, "needs root to mount a tmpfs for the data directory");
        return false;
    }
    if (mount ("attune-test", s_daemon.data, "tmpfs", 0, S_SMALL) != 0) {
        snprintf (why, size, "cannot mount a tmpfs: %s", strerror (errno));
        return false;
    }
    s_mounted = true;
    return true;
}

static void
s_resize (const char *options)
{
    cr_assert_eq (mount ("attune-test", s_daemon.data, "tmpfs", MS_REMOUNT, options), 0,
                  "remount %s: %s", options, strerror (errno));
}

//  Run the action until the api answers `store`; the accepted ids go into
//  `accepted`. Asserts the disk did fill.
static void
s_fill (zsock_t *api, zlistx_t *accepted)
{
    char *pad = (char *)malloc (S_PAD_BYTES + 1);
    memset (pad, 'x', S_PAD_BYTES);
    pad[S_PAD_BYTES] = 0;
    bool full = false;
    for (int i = 0; i < S_FILL_MAX && !full; i++) {
        json_t *reply = testing_api_call (
            api, "api.execution.run",
            json_pack ("{s:s, s:{s:s}}", "action", "t.app", "parameters", "pad", pad));
        json_t *payload = json_object_get (reply, "payload");
        const char *type = json_string_value (json_object_get (reply, "type"));
        if (type && streq (type, "api.reply")) {
            const char *id = json_string_value (
                json_object_get (json_object_get (payload, "result"), "execution"));
            cr_assert_not_null (id);
            zlistx_add_end (accepted, (void *)id);
        } else {
            const char *code = json_string_value (json_object_get (payload, "code"));
            cr_assert (code && streq (code, "store"), "run %d: %s", i,
                       code ? code : "no code");
            full = true;
        }
        json_decref (reply);
    }
    free (pad);
    cr_assert (full, "the disk did not fill in %d runs", S_FILL_MAX);
    cr_assert_gt (zlistx_size (accepted), 0);
}

//  Wait until every accepted execution has ended; returns how many
//  completed or failed only because the worker could not write its ledger
//  on the full disk (not started: an end with a reason). Fails naming the
//  first one still in progress.
static size_t
s_settle (zsock_t *api, zlistx_t *accepted, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    const char *busy = NULL;
    char status[32] = "";
    size_t ended_well = 0;
    do {
        busy = NULL;
        ended_well = 0;
        for (const char *id = (const char *)zlistx_first (accepted); id && !busy;
             id = (const char *)zlistx_next (accepted)) {
            json_t *record =
                testing_api_ok (api, "api.execution.get", json_pack ("{s:s}", "id", id));
            snprintf (status, sizeof status, "%s",
                      json_string_value (json_object_get (record, "status")) ?: "?");
            const char *error = json_string_value (
                json_object_get (json_object_get (record, "result"), "error"));
            if (!testing_status_terminal (status))
                busy = id;
            else if (streq (status, "completed") ||
                     (streq (status, "failed") && error && strstr (error, "ledger")))
                ended_well++;
            json_decref (record);
        }
        if (busy)
            zclock_sleep (100);
    } while (busy && zclock_mono () < deadline);
    char *log = busy ? testing_daemon_read_log (&s_daemon) : NULL;
    cr_assert_null (busy, "execution %s still %s after %d ms with space back:\n%s", busy,
                    status, timeout_ms, log ? log : "");
    return ended_well;
}

//  No id in the file twice; returns how many lines it has.
static int
s_runs_once (zlistx_t *accepted)
{
    int lines = testing_count_in_file (s_ran, "\n");
    for (const char *id = (const char *)zlistx_first (accepted); id;
         id = (const char *)zlistx_next (accepted))
        cr_assert_leq (testing_count_in_file (s_ran, id), 1,
                       "execution %s ran more than once", id);
    return lines;
}

static zlistx_t *
s_accepted_new (void)
{
    zlistx_t *accepted = zlistx_new ();
    zlistx_set_duplicator (accepted, (czmq_duplicator *)strdup);
    zlistx_set_destructor (accepted, (czmq_destructor *)zstr_free);
    return accepted;
}

TestSuite (disk_full, .fini = s_fini, .timeout = 400);

Test (disk_full, resumes_by_itself_when_space_returns)
{
    char why[256];
    if (!s_setup (why, sizeof why))
        cr_skip_test ("%s", why);
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *api = testing_api_client (&s_daemon);
    zlistx_t *accepted = s_accepted_new ();
    s_fill (api, accepted);
    zclock_sleep (2500); //  past a claim's lease: workers claim again meanwhile
    s_resize (S_LARGE);
    size_t completed = s_settle (api, accepted, 30000);
    cr_assert_eq (completed, zlistx_size (accepted),
                  "%zu of %zu completed (or were refused by a full ledger)", completed,
                  zlistx_size (accepted));
    s_runs_once (accepted);
    char *log = testing_daemon_read_log (&s_daemon);
    cr_assert (strstr (log, "writes succeed again"), "the store never said so:\n%s", log);
    free (log);
    zlistx_destroy (&accepted);
    zsock_destroy (&api);
    testing_daemon_stop (&s_daemon);
}

Test (disk_full, nothing_runs_twice_after_a_kill)
{
    char why[256];
    if (!s_setup (why, sizeof why))
        cr_skip_test ("%s", why);
    for (int round = 0; round < S_REPEAT; round++) {
        if (round)
            s_resize (S_SMALL); //  only what the earlier rounds left
        truncate (s_ran, 0);
        testing_daemon_start (&s_daemon, NULL);
        zsock_t *api = testing_api_client (&s_daemon);
        zlistx_t *accepted = s_accepted_new ();
        s_fill (api, accepted);
        zclock_sleep (2000); //  claims made again while commits fail
        zsock_destroy (&api);
        testing_daemon_signal (&s_daemon, SIGKILL, 5000);
        s_resize (S_LARGE);
        testing_daemon_start (&s_daemon, NULL);
        api = testing_api_client (&s_daemon);
        s_settle (api, accepted, 30000);
        s_runs_once (accepted);
        zlistx_destroy (&accepted);
        zsock_destroy (&api);
        testing_daemon_stop (&s_daemon);
        //  Start the next round on an empty, small disk
        s_unmount ();
        cr_assert_eq (mount ("attune-test", s_daemon.data, "tmpfs", 0, S_SMALL), 0);
        s_mounted = true;
    }
}
