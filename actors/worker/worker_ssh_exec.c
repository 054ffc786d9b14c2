/*  worker_ssh_exec: one command over an SSH session (worker_ssh_exec.h). */
#include "actors/worker/worker_ssh_exec.h"

static void
s_append (worker_ssh_output_t *b, const char *data, size_t n, size_t cap)
{
    if (b->size + n > cap) {
        b->truncated = true;
        n = cap - b->size;
    }
    if (n == 0)
        return;
    char *grown = (char *)realloc (b->data, b->size + n + 1);
    if (!grown) {
        b->truncated = true;
        return;
    }
    b->data = grown;
    memcpy (b->data + b->size, data, n);
    b->size += n;
    b->data[b->size] = 0;
}

//  Output as StackStorm gives it: the trailing newline stripped, JSON parsed
//  when it is JSON (stdout), text otherwise.
static json_t *
s_output (worker_ssh_output_t *b, bool parse)
{
    size_t n = b->size;
    if (n && b->data[n - 1] == '\n')
        n--;
    if (n && b->data[n - 1] == '\r')
        n--;
    json_t *value = parse && n ? json_loadb (b->data, n, JSON_DECODE_ANY, NULL) : NULL;
    if (!value)
        value = json_stringn (b->data ? b->data : "", n);
    if (!value)
        value = json_sprintf ("<%zu bytes, not UTF-8>", n);
    return value;
}

//  What the command printed, kept (capped) and as live output
//  (worker_task_output), less the pid line of a tracked command.
static void
s_took (worker_ssh_exec_t *x, int stream, const char *data, size_t n)
{
    s_append (stream == 1 ? &x->out : &x->err, data, n, x->cap);
    if (stream == 1 && x->pid_line) {
        const char *end = (const char *)memchr (data, '\n', n);
        size_t skip = end ? (size_t)(end - data) + 1 : n;
        x->pid_line = !end;
        data += skip;
        n -= skip;
    }
    if (n)
        worker_task_output (x->task, stream, data, n);
}

//  The line "PID\n" a tracked command prints first, taken off the front of
//  `out`: the pid, or 0 when it is not there.
static long
s_take_pid (worker_ssh_output_t *out)
{
    char *newline = out->data ? (char *)memchr (out->data, '\n', out->size) : NULL;
    char *end = NULL;
    long pid = newline ? strtol (out->data, &end, 10) : 0;
    if (!newline || end != newline || pid <= 1)
        return 0;
    size_t skip = (size_t)(newline - out->data) + 1;
    memmove (out->data, out->data + skip, out->size - skip + 1);
    out->size -= skip;
    return pid;
}

//  Kill the remote command's process group (sshd makes the user's shell a
//  session and group leader) over a channel of its own: the signal request
//  alone is not honoured for every user (root), and closing the channel
//  leaves a silent command running.
static void
s_kill_remote (ssh_session session, const worker_ssh_exec_t *x, long pid)
{
    //  No task: runs even when the task is being cancelled
    worker_ssh_exec_t gone = {.task = NULL, .cap = x->cap};
    char command[128], message[256];
    snprintf (command, sizeof command, "kill -KILL -- -%ld %ld 2>/dev/null; true", pid,
              pid);
    worker_ssh_exec (session, &gone, command, NULL, 0, false, zclock_mono () + 5000,
                     message, sizeof message);
    worker_ssh_exec_reset (&gone);
}

//  Read stdout and stderr until the command ends, the deadline, or the
//  task is aborted.
static void
s_read (ssh_channel channel, int64_t deadline, worker_ssh_exec_t *x)
{
    char buffer[16384];
    while (!ssh_channel_is_eof (channel)) {
        if (x->task && worker_task_aborted (x->task))
            x->aborted = true;
        if (zclock_mono () >= deadline)
            x->timed_out = true;
        if (x->aborted || x->timed_out)
            break;
        int n = ssh_channel_read_timeout (channel, buffer, sizeof buffer, 0, 100);
        if (n == SSH_ERROR)
            break;
        s_took (x, 1, buffer, (size_t)(n > 0 ? n : 0));
        while ((n = ssh_channel_read_nonblocking (channel, buffer, sizeof buffer, 1)) > 0)
            s_took (x, 2, buffer, (size_t)n);
    }
    if (x->aborted || x->timed_out) {
        //  What came before the end is kept
        int n;
        while ((n = ssh_channel_read_nonblocking (channel, buffer, sizeof buffer, 0)) > 0)
            s_took (x, 1, buffer, (size_t)n);
        while ((n = ssh_channel_read_nonblocking (channel, buffer, sizeof buffer, 1)) > 0)
            s_took (x, 2, buffer, (size_t)n);
    }
}

int
worker_ssh_exec (ssh_session session, worker_ssh_exec_t *x, const char *command,
                 const char *input, size_t input_size, bool tracked, int64_t deadline,
                 char *message, size_t size)
{
    char *line = tracked ? zsys_sprintf ("echo $$; %s", command) : NULL;
    ssh_channel channel = ssh_channel_new (session);
    if (!channel || (tracked && !line) || ssh_channel_open_session (channel) != SSH_OK ||
        ssh_channel_request_exec (channel, line ? line : command) != SSH_OK ||
        (input_size &&
         ssh_channel_write (channel, input, (uint32_t)input_size) != (int)input_size) ||
        ssh_channel_send_eof (channel) != SSH_OK) {
        snprintf (message, size, "cannot run the command: %s", ssh_get_error (session));
        if (channel)
            ssh_channel_free (channel);
        zstr_free (&line);
        return -1;
    }
    zstr_free (&line);
    x->pid_line = tracked;
    s_read (channel, deadline, x);
    long pid = tracked ? s_take_pid (&x->out) : 0;
    if (x->aborted || x->timed_out) {
        ssh_channel_request_send_signal (channel, "KILL");
        if (pid)
            s_kill_remote (session, x, pid);
        x->code = -9;
    } else
        x->code = ssh_channel_get_exit_status (channel);
    ssh_channel_close (channel);
    ssh_channel_free (channel);
    return 0;
}

json_t *
worker_ssh_exec_result (worker_ssh_exec_t *x, int64_t timeout_ms)
{
    bool ok = !x->timed_out && !x->aborted && x->code == 0;
    json_t *result = json_pack (
        "{s:b, s:b, s:i, s:o, s:o}", "failed", !ok, "succeeded", ok, "return_code",
        x->code, "stdout", s_output (&x->out, true), "stderr", s_output (&x->err, false));
    if (x->timed_out) {
        json_object_set_new (result, "timeout", json_true ());
        json_object_set_new (
            result, "error",
            json_sprintf ("timed out after %.1f s", timeout_ms / 1000.0));
    }
    if (x->aborted)
        json_object_set_new (result, "error", json_string ("cancelled"));
    if (x->out.truncated)
        json_object_set_new (result, "stdout_truncated", json_true ());
    if (x->err.truncated)
        json_object_set_new (result, "stderr_truncated", json_true ());
    return result;
}

void
worker_ssh_exec_reset (worker_ssh_exec_t *x)
{
    free (x->out.data);
    free (x->err.data);
    *x = (worker_ssh_exec_t){.task = x->task, .cap = x->cap};
}
