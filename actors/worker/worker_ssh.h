/*  worker_ssh: the remote-shell-cmd and remote-shell-script runners
    (StackStorm's remote runners) over SSH with libssh, run in a
    worker_task thread; each host in a thread of its own when `parallel`
    (at most WORKER_SSH_PARALLEL at once), else one after the other.

    Parameters (StackStorm's names): hosts ("a,b" or a list; "host:port"),
    username (else the worker's user), password, private_key (a path, or
    the key itself), passphrase, port (22), parallel (true), cwd, env
    {NAME: value}, timeout (seconds, 60, per host), sudo, kwarg_op ("--"),
    dir (where a script is copied, /tmp), cmd (remote-shell-cmd, else the
    entry point), known_hosts (the file of host keys, else
    $ATTUNE_SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts), bastion_host
    ("host[:port]", 22: each host is reached through a direct-tcpip
    channel from it, worker_ssh_tunnel.h; the bastion is connected with
    the same username, credentials and known_hosts, as StackStorm's).
    On each host the commands (the script's copy, the command, the clean
    up) run with worker_ssh_exec.h.

    Host keys fail closed: a host whose key is not in known_hosts, or
    differs from it, is not connected to (its result says why).

    The command is the action author's text and runs in the remote user's
    shell, as StackStorm runs it; what attune adds (cwd, env values, a
    script's arguments) is shell-quoted, one word each, so parameter values
    never become shell syntax. remote-shell-script copies the script over
    the session (cat into a private temporary directory under `dir`), runs
    it with the action's parameters as arguments (those with a `position`
    in the action's parameter schema in order, the rest as
    <kwarg_op>name=value), and removes the directory.

    Result {host: {failed, succeeded, return_code, stdout, stderr}} (stdout
    parsed as JSON when it is JSON, trailing newlines stripped, as
    StackStorm does; `timeout` true and `error` when a host timed out or
    could not be reached); completed when every host succeeded, timeout
    when one timed out, else failed. Passwords never appear in results.
*/
#ifndef WORKER_SSH_H_INCLUDED
#define WORKER_SSH_H_INCLUDED

#include "actors/worker/worker_task.h"

#define WORKER_SSH_PARALLEL  16
#define WORKER_SSH_TIMEOUT_S 60
#define WORKER_SSH_OUTPUT    (256 * 1024) //  per stream, divided among the hosts
#define WORKER_SSH_MAX_HOSTS 256

//  The runner (a worker_task_fn); `action` says which (runner_type).
json_t *worker_ssh_run (worker_task_t *task, const json_t *parameters,
                        const json_t *action, const char **status);

//  `text` as one shell word ('...' with ' as '\''). Caller frees.
char *worker_ssh_quote (const char *text);

#endif
