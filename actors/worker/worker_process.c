/*  worker_process: spawn, feed, capture, time out. See worker_process.h. */
#include "actors/worker/worker_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINGER_MS 500 //  read output this long after the leader exits

typedef struct {
    int fd;
    char *data;
    size_t size;
    size_t cap;
    bool truncated;
    int index; //  1 stdout, 2 stderr
} stream_t;

struct _worker_process_t {
    pid_t pid;
    int stdin_fd;
    const uint8_t *input;
    size_t input_size;
    size_t input_sent;
    stream_t out;
    stream_t err;
    int64_t started;
    int64_t deadline; //  0 = none
    int64_t grace_ms;
    int64_t term_sent; //  when SIGTERM went out (0 = not yet)
    bool kill_sent;
    bool reaped;
    int64_t reaped_at;
    worker_result_t result;
    void (*on_output) (void *arg, int stream, const char *data, size_t size);
    void *output_arg;
};

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
s_close (int *fd)
{
    if (*fd >= 0) {
        close (*fd);
        *fd = -1;
    }
}

static int
s_nonblocking (int fd)
{
    int flags = fcntl (fd, F_GETFL);
    return flags < 0 ? -1 : fcntl (fd, F_SETFL, flags | O_NONBLOCK);
}

//  ---------------------------------------------------------------------------
//  Spawning: clone (CLONE_VM | CLONE_VFORK) as glibc's posix_spawn does, but
//  with what posix_spawn cannot set: the parent-death signal. The child runs
//  on a stack of its own in our memory until it execs; it calls only
//  async-signal-safe functions and reports a failure in `error` (shared
//  memory: the parent resumes only once the child has exec'd or exited).

#define S_CHILD_STACK (256 * 1024) //  execvpe builds paths and argv copies on it

typedef struct {
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int fds[3];         //  become 0, 1, 2
    pid_t parent;       //  our pid: a child whose parent is already gone stops
    volatile int error; //  errno of the step that failed, 0 = exec'd
} s_child_t;

static int
s_child (void *arg)
{
    s_child_t *child = (s_child_t *)arg;
    //  Its own group (a timeout, a cancel or a restarted worker reaches all
    //  it started), and SIGKILL when the thread that spawned it ends
    if (setpgid (0, 0) != 0 || prctl (PR_SET_PDEATHSIG, SIGKILL) != 0)
        goto failed;
    if (getppid () != child->parent) {
        child->error = ESRCH; //  the worker died before the signal was set
        _exit (127);
    }
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction (sig, &dfl, NULL); //  fails for glibc's internal ones: fine
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    for (int i = 0; i < 3; i++)
        if ((child->fds[i] == i ? fcntl (i, F_SETFD, 0) : dup2 (child->fds[i], i)) < 0)
            goto failed;
    closefrom (3);
    if (child->cwd && chdir (child->cwd) != 0)
        goto failed;
    if (strchr (child->argv[0], '/'))
        execve (child->argv[0], child->argv, child->envp);
    else
        execvpe (child->argv[0], child->argv, child->envp);
failed:
    child->error = errno ? errno : EINVAL;
    _exit (127);
}

//  Start the child; its pid, or -1 with child->error set.
static pid_t
s_spawn (s_child_t *child)
{
    void *stack = mmap (NULL, S_CHILD_STACK, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        child->error = errno;
        return -1;
    }
    //  No handler of ours may run in the child (it shares our memory) before
    //  it has reset them: every signal blocked across the clone
    sigset_t all, saved;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &saved);
    child->error = 0;
    pid_t pid = clone (s_child, (char *)stack + S_CHILD_STACK,
                       CLONE_VM | CLONE_VFORK | SIGCHLD, child);
    int clone_errno = errno;
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    munmap (stack, S_CHILD_STACK);
    if (pid < 0) {
        child->error = clone_errno;
        return -1;
    }
    if (child->error) {
        waitpid (pid, NULL, 0);
        return -1;
    }
    return pid;
}

worker_process_t *
worker_process_start (const worker_process_spec_t *spec, char *message,
                      size_t message_size)
{
    if (!spec || !spec->argv || !spec->argv[0]) {
        snprintf (message, message_size, "no program to run");
        return NULL;
    }
    //  A child that exits early must not kill us with SIGPIPE when we write
    //  its stdin: writes fail with EPIPE instead.
    signal (SIGPIPE, SIG_IGN);

    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2 (in, O_CLOEXEC) || pipe2 (out, O_CLOEXEC) || pipe2 (err, O_CLOEXEC)) {
        snprintf (message, message_size, "cannot create pipes: %s", strerror (errno));
        for (int i = 0; i < 2; i++) {
            s_close (&in[i]);
            s_close (&out[i]);
            s_close (&err[i]);
        }
        return NULL;
    }
    s_child_t child = {.argv = spec->argv,
                       .envp = spec->envp,
                       .cwd = spec->cwd,
                       .fds = {in[0], out[1], err[1]},
                       .parent = getpid ()};
    pid_t pid = s_spawn (&child);
    s_close (&in[0]);
    s_close (&out[1]);
    s_close (&err[1]);
    if (pid < 0) {
        snprintf (message, message_size, "cannot run %s: %s", spec->argv[0],
                  strerror (child.error));
        s_close (&in[1]);
        s_close (&out[0]);
        s_close (&err[0]);
        return NULL;
    }
    worker_process_t *self = (worker_process_t *)calloc (1, sizeof (worker_process_t));
    if (!self) {
        kill (-pid, SIGKILL);
        waitpid (pid, NULL, 0);
        s_close (&in[1]);
        s_close (&out[0]);
        s_close (&err[0]);
        snprintf (message, message_size, "out of memory");
        return NULL;
    }
    self->pid = pid;
    self->stdin_fd = in[1];
    self->out.fd = out[0];
    self->err.fd = err[0];
    s_nonblocking (self->stdin_fd);
    s_nonblocking (self->out.fd);
    s_nonblocking (self->err.fd);
    size_t cap = spec->output_cap ? spec->output_cap : WORKER_OUTPUT_CAP;
    self->out.cap = self->err.cap = cap;
    self->out.index = 1;
    self->err.index = 2;
    self->on_output = spec->on_output;
    self->output_arg = spec->output_arg;
    if (spec->input_size) {
        self->input = (uint8_t *)malloc (spec->input_size);
        if (self->input)
            memcpy ((void *)self->input, spec->input, spec->input_size);
        self->input_size = self->input ? spec->input_size : 0;
    }
    if (!self->input_size)
        s_close (&self->stdin_fd);
    self->started = s_now_ms ();
    self->result.duration_us = -s_now_us ();
    self->deadline = spec->timeout_ms > 0 ? self->started + spec->timeout_ms : 0;
    self->grace_ms = spec->kill_grace_ms > 0 ? spec->kill_grace_ms : 2000;
    return self;
}

//  Bytes read from one stream per call, at most: a process that writes
//  without pause (yes) must not keep the owner's loop from its other work
//  (heartbeats, commands); the descriptor stays ready and is read again.
#define S_READ_TURN (256 * 1024)

static void
s_read (worker_process_t *self, stream_t *stream)
{
    char scratch[16384];
    size_t turn = 0;
    while (stream->fd >= 0 && turn < S_READ_TURN) {
        char *into = scratch;
        size_t room = sizeof scratch;
        if (stream->size < stream->cap) {
            if (!stream->data) {
                stream->data = (char *)malloc (stream->cap + 1);
                if (!stream->data)
                    stream->cap = 0;
            }
            if (stream->data) {
                into = stream->data + stream->size;
                room = stream->cap - stream->size;
            }
        }
        ssize_t n = read (stream->fd, into, room);
        if (n > 0) {
            turn += (size_t)n;
            if (self->on_output)
                self->on_output (self->output_arg, stream->index, into, (size_t)n);
            if (into == scratch)
                stream->truncated = true;
            else
                stream->size += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        s_close (&stream->fd); //  EOF or error
    }
}

static void
s_write (worker_process_t *self)
{
    while (self->stdin_fd >= 0 && self->input_sent < self->input_size) {
        ssize_t n = write (self->stdin_fd, self->input + self->input_sent,
                           self->input_size - self->input_sent);
        if (n > 0)
            self->input_sent += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN)
            return;
        else
            break; //  EPIPE: the process does not read its input
    }
    s_close (&self->stdin_fd);
}

int
worker_process_fds (worker_process_t *self, int fds[3])
{
    fds[0] = self->stdin_fd;
    fds[1] = self->out.fd;
    fds[2] = self->err.fd;
    return (fds[0] >= 0) + (fds[1] >= 0) + (fds[2] >= 0);
}

void
worker_process_handle (worker_process_t *self, int fd)
{
    if (fd == -1 || fd == self->stdin_fd)
        s_write (self);
    if (fd == -1 || fd == self->out.fd)
        s_read (self, &self->out);
    if (fd == -1 || fd == self->err.fd)
        s_read (self, &self->err);
}

static void
s_signal (worker_process_t *self, int sig)
{
    if (!self->reaped || sig == SIGKILL)
        kill (-self->pid, sig); //  the whole group
}

bool
worker_process_poll (worker_process_t *self)
{
    int64_t now = s_now_ms ();
    if (!self->reaped) {
        int status;
        pid_t r = waitpid (self->pid, &status, WNOHANG);
        if (r == self->pid) {
            self->reaped = true;
            self->reaped_at = now;
            self->result.duration_us += s_now_us ();
            if (WIFEXITED (status)) {
                self->result.exited = true;
                self->result.exit_code = WEXITSTATUS (status);
            } else if (WIFSIGNALED (status))
                self->result.signal = WTERMSIG (status);
        } else if (r < 0 && errno == ECHILD) {
            self->reaped = true; //  someone else reaped it
            self->reaped_at = now;
            self->result.duration_us += s_now_us ();
        }
    }
    if (!self->reaped) {
        if (self->deadline && now >= self->deadline && !self->term_sent) {
            self->result.timed_out = !self->result.cancelled;
            self->term_sent = now;
            s_signal (self, SIGTERM);
        }
        if (self->term_sent && !self->kill_sent &&
            now >= self->term_sent + self->grace_ms) {
            self->kill_sent = true;
            s_signal (self, SIGKILL);
        }
        return false;
    }
    //  Leader gone: read what is left, but do not wait for ever on pipes that
    //  a background grandchild keeps open.
    worker_process_handle (self, -1);
    if ((self->out.fd >= 0 || self->err.fd >= 0) && now < self->reaped_at + LINGER_MS)
        return false;
    s_close (&self->out.fd);
    s_close (&self->err.fd);
    s_close (&self->stdin_fd);
    self->result.out = self->out.data ? self->out.data : (char *)"";
    self->result.out_size = self->out.size;
    self->result.out_truncated = self->out.truncated;
    self->result.err = self->err.data ? self->err.data : (char *)"";
    self->result.err_size = self->err.size;
    self->result.err_truncated = self->err.truncated;
    if (self->out.data)
        self->out.data[self->out.size] = 0;
    if (self->err.data)
        self->err.data[self->err.size] = 0;
    return true;
}

int
worker_process_timeout (worker_process_t *self)
{
    int64_t now = s_now_ms ();
    int64_t wait = 50; //  check the leader at least this often
    if (self->deadline && !self->term_sent && self->deadline - now < wait)
        wait = self->deadline - now;
    if (self->term_sent && !self->kill_sent &&
        self->term_sent + self->grace_ms - now < wait)
        wait = self->term_sent + self->grace_ms - now;
    if (self->reaped && self->reaped_at + LINGER_MS - now < wait)
        wait = self->reaped_at + LINGER_MS - now;
    return wait < 0 ? 0 : (int)wait;
}

void
worker_process_cancel (worker_process_t *self)
{
    if (self->reaped || self->term_sent)
        return;
    self->result.cancelled = true;
    self->term_sent = s_now_ms ();
    s_signal (self, SIGTERM);
}

pid_t
worker_process_pid (worker_process_t *self)
{
    return self->pid;
}

const worker_result_t *
worker_process_result (worker_process_t *self)
{
    return &self->result;
}

void
worker_process_destroy (worker_process_t **self_p)
{
    if (self_p && *self_p) {
        worker_process_t *self = *self_p;
        if (!self->reaped) {
            kill (-self->pid, SIGKILL);
            waitpid (self->pid, NULL, 0);
        }
        s_close (&self->stdin_fd);
        s_close (&self->out.fd);
        s_close (&self->err.fd);
        free (self->out.data);
        free (self->err.data);
        free ((void *)self->input);
        free (self);
        *self_p = NULL;
    }
}

worker_process_t *
worker_process_run (const worker_process_spec_t *spec, char *message, size_t message_size)
{
    worker_process_t *self = worker_process_start (spec, message, message_size);
    if (!self)
        return NULL;
    while (!worker_process_poll (self)) {
        int fds[3];
        worker_process_fds (self, fds);
        struct pollfd items[3];
        nfds_t n = 0;
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0) {
                items[n].fd = fds[i];
                items[n].events = i == 0 ? POLLOUT : POLLIN;
                items[n].revents = 0;
                n++;
            }
        int rc = poll (items, n, worker_process_timeout (self));
        if (rc > 0)
            for (nfds_t i = 0; i < n; i++)
                if (items[i].revents)
                    worker_process_handle (self, items[i].fd);
    }
    return self;
}
