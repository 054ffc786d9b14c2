/*  worker_guard: a worker's guard process ends the action process groups a
    worker that died left (its shells die with it, by the parent-death
    signal; what they forked is the guard's to end), and nothing else: not
    after a clean stop ("all done"), not a group the worker said ended, not
    a group that only shares a registered group's number (a reused pid).

    A worker that dies is played by a forked child of the test: it starts
    the guard and the actions, registers them, and _exits. */
#include "tests/testing.h"
#include "actors/worker/worker_groups.h"
#include "actors/worker/worker_guard.h"
#include "actors/worker/worker_process.h"
#include <signal.h>
#include <sys/wait.h>

#define S_GUARD ATTUNE_HELPER_DIR "/attune-guard"

TestSuite (worker_guard, .timeout = 60);

//  An action as the worker starts one: a shell, in its own group, whose
//  `sleep` is a grandchild the parent-death signal does not reach.
static worker_process_t *
s_action (const char *id, const char *script)
{
    char env[128];
    snprintf (env, sizeof env, "ATTUNE_EXECUTION_ID=%s", id);
    char *envp[] = {"PATH=/usr/bin:/bin", env, NULL};
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    worker_process_spec_t spec = {.argv = argv, .envp = envp};
    char message[256] = "";
    worker_process_t *process = worker_process_start (&spec, message, sizeof message);
    cr_assert_not_null (process, "%s", message);
    return process;
}

static long long
s_start_of (pid_t pid)
{
    long long start = worker_groups_start (pid, NULL, NULL);
    cr_assert_geq (start, 0);
    return start;
}

//  Until the group has `alive` processes (at least one if -1), 3 s at most.
static bool
s_wait_group (pid_t pgid, int alive)
{
    int64_t deadline = zclock_mono () + 3000;
    while (zclock_mono () < deadline) {
        int n = testing_group_alive ((int)pgid);
        if (alive < 0 ? n > 0 : n == alive)
            return true;
        zclock_sleep (10);
    }
    return false;
}

static bool
s_wait_exit (pid_t pid)
{
    int64_t deadline = zclock_mono () + 5000;
    while (kill (pid, 0) == 0 || errno != ESRCH) {
        if (zclock_mono () >= deadline)
            return false;
        zclock_sleep (10);
    }
    return true;
}

//  A guard whose worker dies (the child _exits, nothing said): it ends
//  every registered group, what the shells forked as well.
Test (worker_guard, a_dead_worker_s_groups_all_die)
{
    int report[2];
    cr_assert_eq (pipe (report), 0);
    pid_t worker = fork ();
    cr_assert_geq (worker, 0);
    if (worker == 0) {
        char message[256] = "";
        worker_guard_t *guard = worker_guard_new (S_GUARD, "w", message, sizeof message);
        if (!guard)
            _exit (2);
        pid_t pids[4] = {worker_guard_pid (guard)};
        for (int i = 1; i < 4; i++) {
            char id[16];
            snprintf (id, sizeof id, "exec-%d", i);
            worker_process_t *p = s_action (id, "sleep 60 & wait");
            pids[i] = worker_process_pid (p);
            while (testing_group_alive ((int)pids[i]) < 2)
                zclock_sleep (5); //  the sleep forked
            if (worker_guard_started (guard, pids[i], s_start_of (pids[i]), id) != 0)
                _exit (3);
        }
        if (write (report[1], pids, sizeof pids) != sizeof pids)
            _exit (4);
        _exit (0); //  a death: no "all done", the guard sees EOF
    }
    close (report[1]);
    pid_t pids[4] = {0};
    cr_assert_eq (read (report[0], pids, sizeof pids), (ssize_t)sizeof pids);
    close (report[0]);
    int status;
    waitpid (worker, &status, 0);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "worker: %d", status);
    for (int i = 1; i < 4; i++)
        cr_assert (s_wait_group (pids[i], 0), "group %d lives on", (int)pids[i]);
    cr_assert (s_wait_exit (pids[0]), "the guard did not exit");
}

//  A worker that stops cleanly ends its own processes and says "all done":
//  the guard kills nothing, and exits at once.
Test (worker_guard, all_done_kills_nothing)
{
    char message[256] = "";
    worker_guard_t *guard = worker_guard_new (S_GUARD, "w", message, sizeof message);
    cr_assert_not_null (guard, "%s", message);
    pid_t guard_pid = worker_guard_pid (guard);
    worker_process_t *p = s_action ("exec-1", "sleep 60 & wait");
    pid_t pgid = worker_process_pid (p);
    cr_assert (s_wait_group (pgid, 2));
    cr_assert_eq (worker_guard_started (guard, pgid, s_start_of (pgid), "exec-1"), 0);
    worker_guard_destroy (&guard);
    cr_assert_null (guard);
    //  Reaped by destroy: it has done all it will do
    cr_assert_eq (waitpid (guard_pid, NULL, WNOHANG), -1);
    cr_assert_eq (testing_group_alive ((int)pgid), 2, "the guard killed a live action");
    worker_process_destroy (&p); //  kills the group
    cr_assert (s_wait_group (pgid, 0));
}

//  What a dying worker's guard must not touch: a group the worker said
//  ended (its leader reaped; what it forked is no longer the worker's), and
//  a live group that has the number of a registered one but is not it (an
//  older start time and another execution id: a pid used again).
Test (worker_guard, ended_and_reused_groups_are_not_touched)
{
    worker_process_t *other = s_action ("someone-else", "sleep 60 & wait");
    pid_t other_pgid = worker_process_pid (other);
    cr_assert (s_wait_group (other_pgid, 2));
    long long other_start = s_start_of (other_pgid);
    int report[2];
    cr_assert_eq (pipe (report), 0);
    pid_t worker = fork ();
    cr_assert_geq (worker, 0);
    if (worker == 0) {
        char message[256] = "";
        worker_guard_t *guard = worker_guard_new (S_GUARD, "w", message, sizeof message);
        if (!guard)
            _exit (2);
        //  Ended: its shell exits, its sleep lives on in the group
        worker_process_t *ended = s_action ("exec-ended", "sleep 60 >/dev/null 2>&1 &");
        pid_t pids[3] = {worker_guard_pid (guard), worker_process_pid (ended)};
        long long start = s_start_of (pids[1]);
        worker_guard_started (guard, pids[1], start, "exec-ended");
        while (!worker_process_poll (ended))
            zclock_sleep (5);
        worker_guard_ended (guard, pids[1], start);
        //  Still registered: dies
        worker_process_t *live = s_action ("exec-live", "sleep 60 & wait");
        pids[2] = worker_process_pid (live);
        while (testing_group_alive ((int)pids[2]) < 2)
            zclock_sleep (5);
        worker_guard_started (guard, pids[2], s_start_of (pids[2]), "exec-live");
        //  An older group of the same number as `other`
        if (worker_guard_started (guard, other_pgid, other_start - 100, "exec-old") != 0)
            _exit (3);
        if (write (report[1], pids, sizeof pids) != sizeof pids)
            _exit (4);
        _exit (0);
    }
    close (report[1]);
    pid_t pids[3] = {0};
    cr_assert_eq (read (report[0], pids, sizeof pids), (ssize_t)sizeof pids);
    close (report[0]);
    waitpid (worker, NULL, 0);
    cr_assert (s_wait_group (pids[2], 0), "a registered group lives on");
    cr_assert (s_wait_exit (pids[0]), "the guard did not exit");
    cr_assert_eq (testing_group_alive ((int)pids[1]), 1, "an ended group was killed");
    cr_assert_eq (testing_group_alive ((int)other_pgid), 2, "a reused number was killed");
    kill (-pids[1], SIGKILL);
    worker_process_destroy (&other);
}

//  No guard program: the worker is told, and goes on without one.
Test (worker_guard, a_missing_program_is_an_error)
{
    char message[256] = "";
    worker_guard_t *guard =
        worker_guard_new ("/nonexistent/attune-guard", "w", message, sizeof message);
    cr_assert_null (guard);
    cr_assert (strstr (message, "/nonexistent/attune-guard"), "%s", message);
    cr_assert_eq (worker_guard_started (NULL, 1234, 1, "x"), -1);
    worker_guard_destroy (&guard);
}
