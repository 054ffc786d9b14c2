/*  worker_guard: the worker's side of its guard process. See
    worker_guard.h; the guard itself is tools/attune_guard.c. */
#include "actors/worker/worker_guard.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_GUARD_FD  3    //  the pipe's read end, in the guard
#define S_REAP_MS   1000 //  for the guard to exit after "all done"
#define S_PIPE_SIZE (256 * 1024)

_Static_assert(sizeof (worker_guard_record_t) <= PIPE_BUF, "one atomic write a record");

extern char **environ;

struct _worker_guard_t {
    pid_t pid;
    int fd; //  the pipe's write end, non-blocking
    bool lost;
    char name[256];
};

//  ATTUNE_GUARD, else attune-guard next to the running program.
static int
s_locate (char *path, size_t size)
{
    const char *given = getenv ("ATTUNE_GUARD");
    if (given && *given) {
        snprintf (path, size, "%s", given);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    char *slash = strrchr (exe, '/');
    if (!slash)
        return -1;
    slash[1] = 0;
    if (strlen (exe) + sizeof "attune-guard" > size)
        return -1;
    strcpy (path, exe);
    strcat (path, "attune-guard");
    return 0;
}

//  posix_spawn the guard in a session of its own, the pipe's read end as
//  its fd 3, stdin and stdout /dev/null, signals at their defaults.
static int
s_spawn (worker_guard_t *self, const char *program, int reader)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init (&actions);
    posix_spawnattr_init (&attr);
    posix_spawn_file_actions_adddup2 (&actions, reader, S_GUARD_FD); //  clears CLOEXEC
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen (&actions, 1, "/dev/null", O_WRONLY, 0);
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    posix_spawnattr_setsigmask (&attr, &none);
    posix_spawnattr_setsigdefault (&attr, &all);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                         POSIX_SPAWN_SETSIGDEF);
    char fd_text[16];
    snprintf (fd_text, sizeof fd_text, "%d", S_GUARD_FD);
    char *const argv[] = {(char *)program, fd_text, self->name, NULL};
    int rc = posix_spawn (&self->pid, program, &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy (&actions);
    posix_spawnattr_destroy (&attr);
    return rc;
}

worker_guard_t *
worker_guard_new (const char *program, const char *name, char *message, size_t size)
{
    char path[PATH_MAX];
    if (!program) {
        if (s_locate (path, sizeof path) != 0) {
            snprintf (message, size, "cannot tell where attune-guard is");
            return NULL;
        }
        program = path;
    }
    if (access (program, X_OK) != 0) {
        snprintf (message, size, "%s: %s", program, strerror (errno));
        return NULL;
    }
    //  A guard that is gone makes writes fail with EPIPE, not kill us
    signal (SIGPIPE, SIG_IGN);
    int fds[2];
    if (pipe2 (fds, O_CLOEXEC) != 0) {
        snprintf (message, size, "cannot create a pipe: %s", strerror (errno));
        return NULL;
    }
    worker_guard_t *self = (worker_guard_t *)calloc (1, sizeof (worker_guard_t));
    if (!self) {
        close (fds[0]);
        close (fds[1]);
        snprintf (message, size, "out of memory");
        return NULL;
    }
    self->fd = fds[1];
    snprintf (self->name, sizeof self->name, "%s", name);
    //  dup2 onto 3 clears close-on-exec only from another descriptor
    int reader = fcntl (fds[0], F_DUPFD_CLOEXEC, 10);
    int rc = reader < 0 ? errno : s_spawn (self, program, reader);
    close (fds[0]);
    if (reader >= 0)
        close (reader);
    if (rc != 0) {
        snprintf (message, size, "cannot start %s: %s", program, strerror (rc));
        close (self->fd);
        free (self);
        return NULL;
    }
    fcntl (self->fd, F_SETPIPE_SZ, S_PIPE_SIZE); //  best effort: 64 KiB is enough
    fcntl (self->fd, F_SETFL, O_NONBLOCK);
    return self;
}

static int
s_send (worker_guard_t *self, char op, pid_t pgid, long long start, const char *id)
{
    if (!self || self->lost)
        return -1;
    worker_guard_record_t record = {.start = start, .pgid = pgid, .op = op};
    if (id)
        snprintf (record.id, sizeof record.id, "%s", id);
    ssize_t n;
    do
        n = write (self->fd, &record, sizeof record);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof record)
        return 0;
    //  Full (the guard is not reading) or broken (it is gone): never wait,
    //  and say nothing more, so it is never told of an end without its start
    self->lost = true;
    zsys_warning ("%s: guard %d: cannot be told (%s): what actions fork outlives a "
                  "killed worker until a worker of this name starts again",
                  self->name, (int)self->pid,
                  n < 0 && errno == EAGAIN ? "its pipe is full" : strerror (errno));
    return -1;
}

int
worker_guard_started (worker_guard_t *self, pid_t pgid, long long start, const char *id)
{
    if (!id || strlen (id) > WORKER_GUARD_ID_MAX || pgid <= 1 || start < 0)
        return -1;
    return s_send (self, WORKER_GUARD_STARTED, pgid, start, id);
}

int
worker_guard_ended (worker_guard_t *self, pid_t pgid, long long start)
{
    return s_send (self, WORKER_GUARD_ENDED, pgid, start, NULL);
}

pid_t
worker_guard_pid (worker_guard_t *self)
{
    return self ? self->pid : 0;
}

void
worker_guard_destroy (worker_guard_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    worker_guard_t *self = *self_p;
    //  "All done" is worth a try even after a failed write: never blocks
    worker_guard_record_t done = {.op = WORKER_GUARD_DONE};
    ssize_t n = write (self->fd, &done, sizeof done);
    (void)n;
    close (self->fd);
    int64_t deadline = zclock_mono () + S_REAP_MS;
    while (self->pid > 0 && waitpid (self->pid, NULL, WNOHANG) == 0) {
        if (zclock_mono () >= deadline) {
            zsys_warning ("%s: guard %d has not exited: left to finish", self->name,
                          (int)self->pid);
            break;
        }
        zclock_sleep (2);
    }
    free (self);
    *self_p = NULL;
}
