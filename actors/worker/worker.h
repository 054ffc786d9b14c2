/*  worker: the actor that runs executions.

    It binds `worker.<name>` (a bus_inbox without a store: the only thing a
    worker keeps on disk is its ledger of what may run, worker_ledger.h,
    in <data_dir>/worker when it has a data dir), registers with the executor over a bus_link to
    `executor.commands` (worker.register, again each time the executor comes
    back), and for every execution.dispatch reports `running`, runs the
    action, and reports the final status with its result (execution.status).

    Runners:
        noop                 nothing; result {}
        builtin              in the actor: echo {message} -> stdout = message,
                             sleep {seconds} (a timer, never blocking)
        local-shell-cmd      /bin/sh -c CMD, CMD being the action's `cmd`
                             parameter (the action author's command, as in
                             StackStorm's core.local)
        local-shell-script   <pack_dir>/actions/<entry_point> (or the
                             `script` parameter), executed directly
        python-script        python3 <pack_dir>/actions/<entry_point>
        http-request         libcurl, in a helper thread (worker_http.h)
        remote-shell-cmd     over SSH with libssh on each host, in helper
        remote-shell-script  threads (worker_ssh.h); results as StackStorm's
    Every parameter reaches a process as data only: one JSON object on stdin
    and ATTUNE_PARAM_<NAME> environment variables; never on a command line.
    The result of a process is {stdout, stderr, return_code, succeeded,
    result (stdout parsed as JSON, when it is JSON), stdout_truncated,
    stderr_truncated}; exit 0 -> completed, else failed; past the timeout
    (parameter `timeout`, else the action's, else 600 s) -> timeout.

    Pipe: "$TERM"; "STATUS" -> JSON {name, slots, busy, queued, ran,
    completed, failed, timeouts, cancelled}; "DRAIN" grace_ms (a second
    frame) -> takes nothing new, says "DRAINED <still running>" once
    nothing runs or the grace is over; anything else -> the unknown reply
    (actor.h). The loop is actor_loop's.
*/
#ifndef WORKER_H_INCLUDED
#define WORKER_H_INCLUDED

#include "actors/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

void worker_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
