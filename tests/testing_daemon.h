/*  testing_daemon: a live attuned for the suites that use it as a client
    would (CLI, probe, Python client, bad input on the api).

    testing_daemon_start spawns build/attuned with a temporary data
    directory, the packs given (the core pack is always linked in), the api
    and its fact proxy on ephemeral loopback ports, and waits for its start
    line, from which it reads the resolved api and facts addresses. Every
    daemon started is killed at testing_daemon_stop_all (call it from the
    suite's .fini) even when an assertion failed mid-test.
*/
#ifndef TESTING_DAEMON_H_INCLUDED
#define TESTING_DAEMON_H_INCLUDED

#include "tests/testing.h"
#include <czmq.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    char root[PATH_MAX - 512]; //  temporary directory of this daemon
    char data[PATH_MAX];       //  <root>/data
    char packs[PATH_MAX];      //  <root>/packs (core linked, plus what tests write)
    char log[PATH_MAX];        //  <root>/attuned.log: its stdout and stderr
    char api[256];             //  e.g. tcp://127.0.0.1:40123
    char facts[256];
    int api_port, facts_port; //  picked at the first start, kept across restarts
} testing_daemon_t;

#define TESTING_DAEMON_MAX 8
static testing_daemon_t *s_testing_daemons[TESTING_DAEMON_MAX];

//  A daemon's directories: call before writing packs, then start it.
static inline void
testing_daemon_init (testing_daemon_t *self, const char *prefix)
{
    memset (self, 0, sizeof *self);
    testing_tmpdir (self->root, sizeof self->root, prefix);
    snprintf (self->data, sizeof self->data, "%s/data", self->root);
    snprintf (self->packs, sizeof self->packs, "%s/packs", self->root);
    snprintf (self->log, sizeof self->log, "%s/attuned.log", self->root);
    mkdir (self->packs, 0750);
    char core[PATH_MAX + 32];
    snprintf (core, sizeof core, "%s/core", self->packs);
    cr_assert_eq (symlink (ATTUNE_SOURCE_DIR "/packs/core", core), 0);
}

//  Write a pack file: testing_daemon_write (d, "test/pack.yaml", "...").
static inline void
testing_daemon_write (testing_daemon_t *self, const char *path, const char *text)
{
    testing_write (self->packs, path, text);
}

static inline char *
testing_daemon_read_log (testing_daemon_t *self)
{
    return testing_read (self->log);
}

//  Wait until the log holds `needle`. True when it does.
static inline bool
testing_daemon_wait_log (testing_daemon_t *self, const char *needle, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        char *log = testing_daemon_read_log (self);
        bool found = strstr (log, needle) != NULL;
        free (log);
        if (found)
            return true;
        if (self->pid > 0 && waitpid (self->pid, NULL, WNOHANG) == self->pid) {
            self->pid = 0;
            return false; //  it died
        }
        zclock_sleep (20);
    }
    return false;
}

//  Copy the address after `key` ("api " / "facts ") in the start line.
static inline void
s_testing_daemon_address (const char *line, const char *key, char *out, size_t size)
{
    const char *p = strstr (line, key);
    cr_assert_not_null (p, "no '%s' in the start line: %.200s", key, line);
    p += strlen (key);
    size_t n = strcspn (p, ",) \n");
    cr_assert_lt (n, size);
    memcpy (out, p, n);
    out[n] = 0;
}

//  Start attuned on this daemon's directories with extra arguments
//  (NULL-terminated, may be NULL) and wait until it runs (asserts).
static inline void
testing_daemon_start (testing_daemon_t *self, const char *extra[])
{
    truncate (self->log, 0);
    //  Ports of this daemon's own, at random below the ephemeral range (not
    //  `*`, where CZMQ takes the first free one from 49152: a client of
    //  another test's daemon that stopped would reach this one there)
    if (!self->api_port)
        self->api_port = testing_free_port ();
    while (!self->facts_port || self->facts_port == self->api_port)
        self->facts_port = testing_free_port ();
    char api[64], facts[64];
    snprintf (api, sizeof api, "tcp://127.0.0.1:%d", self->api_port);
    snprintf (facts, sizeof facts, "tcp://127.0.0.1:%d", self->facts_port);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        int fd = open (self->log, O_WRONLY | O_CREAT | O_APPEND, 0640);
        dup2 (fd, 1);
        dup2 (fd, 2);
        const char *argv[40] = {ATTUNE_HELPER_DIR "/attuned",
                                "--data",
                                self->data,
                                "--packs",
                                self->packs,
                                "--api",
                                api,
                                "--api-facts",
                                facts,
                                "--heartbeat",
                                "200"};
        int argc = 11;
        for (int i = 0; extra && extra[i] && argc < 38; i++)
            argv[argc++] = extra[i];
        argv[argc] = NULL;
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    self->pid = pid;
    bool registered = false;
    for (int i = 0; i < TESTING_DAEMON_MAX && !registered; i++)
        if (!s_testing_daemons[i] || s_testing_daemons[i] == self) {
            s_testing_daemons[i] = self;
            registered = true;
        }
    cr_assert (registered, "more than %d daemons", TESTING_DAEMON_MAX);
    bool up = testing_daemon_wait_log (self, "attuned: running", 20000);
    char *log = testing_daemon_read_log (self);
    cr_assert (up, "attuned did not start:\n%s", log);
    const char *line = strstr (log, "attuned: running");
    s_testing_daemon_address (line, "api ", self->api, sizeof self->api);
    s_testing_daemon_address (line, "facts ", self->facts, sizeof self->facts);
    free (log);
}

//  Send `signal` and wait for the exit, at most timeout_ms (then SIGKILL).
//  Returns the wait status, or -1 when it had to be killed.
static inline int
testing_daemon_signal (testing_daemon_t *self, int signal, int timeout_ms)
{
    if (self->pid <= 0)
        return -1;
    kill (self->pid, signal);
    int64_t deadline = zclock_mono () + timeout_ms;
    int status = -1;
    while (zclock_mono () < deadline) {
        if (waitpid (self->pid, &status, WNOHANG) == self->pid) {
            self->pid = 0;
            return status;
        }
        zclock_sleep (10);
    }
    kill (self->pid, SIGKILL);
    waitpid (self->pid, &status, 0);
    self->pid = 0;
    return -1;
}

//  SIGTERM (clean stop, asserted) and keep the directories for a restart.
static inline void
testing_daemon_stop (testing_daemon_t *self)
{
    int status = testing_daemon_signal (self, SIGTERM, 15000);
    if (!(status >= 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0)) {
        char *log = testing_daemon_read_log (self);
        cr_assert_fail ("attuned did not stop cleanly (status %d):\n%s", status, log);
    }
}

//  Kill every daemon still running and remove their directories: the
//  suite's .fini.
static inline void
testing_daemon_stop_all (void)
{
    for (int i = 0; i < TESTING_DAEMON_MAX; i++) {
        testing_daemon_t *self = s_testing_daemons[i];
        if (!self)
            continue;
        if (self->pid > 0) {
            kill (self->pid, SIGKILL);
            waitpid (self->pid, NULL, 0);
            self->pid = 0;
        }
        testing_rmtree (self->root);
        s_testing_daemons[i] = NULL;
    }
}

//  Run a program (argv NULL-terminated) with `input` on stdin (may be NULL),
//  capture stdout and stderr (each at most 1 MiB) and return the exit code
//  (or -1 if it did not end within timeout_ms: it is killed). *out_p and
//  *err_p are the caller's to free (may be NULL to discard).
static inline int
testing_run (const char *const argv[], const char *input, char **out_p, char **err_p,
             int timeout_ms)
{
    int in[2], out[2], err[2];
    cr_assert_eq (pipe (in), 0);
    cr_assert_eq (pipe (out), 0);
    cr_assert_eq (pipe (err), 0);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        dup2 (in[0], 0);
        dup2 (out[1], 1);
        dup2 (err[1], 2);
        close (in[1]);
        close (out[0]);
        close (err[0]);
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    close (in[0]);
    close (out[1]);
    close (err[1]);
    if (input) {
        size_t left = strlen (input);
        const char *p = input;
        while (left > 0) {
            ssize_t n = write (in[1], p, left);
            if (n <= 0)
                break;
            p += n;
            left -= (size_t)n;
        }
    }
    close (in[1]);
    size_t cap = 1 << 20;
    char *bufs[2] = {(char *)calloc (1, cap + 1), (char *)calloc (1, cap + 1)};
    size_t lens[2] = {0, 0};
    int fds[2] = {out[0], err[0]};
    bool open_[2] = {true, true};
    int64_t deadline = zclock_mono () + timeout_ms;
    while ((open_[0] || open_[1]) && zclock_mono () < deadline) {
        zmq_pollitem_t items[2] = {{NULL, fds[0], ZMQ_POLLIN, 0},
                                   {NULL, fds[1], ZMQ_POLLIN, 0}};
        zmq_poll (items, 2, 50);
        for (int i = 0; i < 2; i++) {
            if (!open_[i] || !(items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
                continue;
            char chunk[4096];
            ssize_t n = read (fds[i], chunk, sizeof chunk);
            if (n <= 0)
                open_[i] = false;
            else {
                size_t take = lens[i] + (size_t)n > cap ? cap - lens[i] : (size_t)n;
                memcpy (bufs[i] + lens[i], chunk, take);
                lens[i] += take;
            }
        }
    }
    close (out[0]);
    close (err[0]);
    int status = 0, code = -1;
    int64_t until = deadline;
    while (zclock_mono () < until + 1000) {
        if (waitpid (pid, &status, WNOHANG) == pid) {
            code = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
            break;
        }
        zclock_sleep (5);
    }
    if (code == -1 && waitpid (pid, &status, WNOHANG) != pid) {
        kill (pid, SIGKILL);
        waitpid (pid, &status, 0);
    }
    if (out_p)
        *out_p = bufs[0];
    else
        free (bufs[0]);
    if (err_p)
        *err_p = bufs[1];
    else
        free (bufs[1]);
    return code;
}

#endif
