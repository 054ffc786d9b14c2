/*  worker_ssh_exec: one command over a connected SSH session, on a channel
    of its own: `input` on its stdin, its stdout and stderr read (kept up to
    a cap per stream, and given to the task as live output) until it ends,
    a deadline, or the task is aborted; then, if it still runs, killed. The
    remote-shell runners (worker_ssh.h) run each host's steps with it.

    A `tracked` command first prints its shell's pid, taken off its stdout
    (neither kept nor live output): when the command is to be killed, its
    process group is killed over another channel, as the signal request
    alone is not honoured for every user (root), and closing the channel
    leaves a silent command running.
*/
#ifndef WORKER_SSH_EXEC_H_INCLUDED
#define WORKER_SSH_EXEC_H_INCLUDED

#include "actors/worker/worker_task.h"

#include <libssh/libssh.h>

//  What a stream printed, up to the cap
typedef struct {
    char *data; //  NUL-terminated; NULL when nothing came
    size_t size;
    bool truncated; //  more came than the cap
} worker_ssh_output_t;

//  One command's run. The caller sets `task` and `cap`, the rest is zero.
typedef struct {
    worker_task_t *task; //  live output and abort; NULL for neither
    size_t cap;          //  bytes kept per stream
    worker_ssh_output_t out, err;
    int code;       //  exit status; -9 when killed
    bool timed_out; //  the deadline came first
    bool aborted;   //  the task was aborted first
    bool pid_line;  //  stdout still starts with the tracked pid line
} worker_ssh_exec_t;

//  Run `command` in the remote user's shell with `input` (`input_size`
//  bytes, none when 0) until it ends, `deadline` (zclock_mono ms) or the
//  task is aborted, and fill `x`. 0, or -1 with `message` when the command
//  could not be started.
int worker_ssh_exec (ssh_session session, worker_ssh_exec_t *x, const char *command,
                     const char *input, size_t input_size, bool tracked, int64_t deadline,
                     char *message, size_t size);

//  A host's result as StackStorm gives it: {failed, succeeded, return_code,
//  stdout (parsed as JSON when it is JSON), stderr}, with `timeout` and
//  `error` when it timed out (after `timeout_ms`) or was cancelled, and
//  *_truncated for a stream cut at the cap. Caller owns it.
json_t *worker_ssh_exec_result (worker_ssh_exec_t *x, int64_t timeout_ms);

//  Free what `x` kept and clear it for another command (task and cap kept).
void worker_ssh_exec_reset (worker_ssh_exec_t *x);

#endif
