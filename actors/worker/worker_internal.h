/*  worker_internal: the worker actor's state and jobs, shared by its
    classes: worker.c (the actor: loop, pipe, timers), worker_job.c
    (commands from the executor), worker_run.c (running a job: builtins,
    processes, claims) and worker_report.c (status reports, registration,
    what ended here). Not a public header.
*/
#ifndef WORKER_INTERNAL_H_INCLUDED
#define WORKER_INTERNAL_H_INCLUDED

#include "actors/worker/worker.h"
#include "actors/actor_loop.h"
#include "actors/worker/worker_groups.h"
#include "actors/worker/worker_guard.h"
#include "actors/worker/worker_ledger.h"
#include "actors/worker/worker_link.h"
#include "actors/worker/worker_output.h"
#include "actors/worker/worker_process.h"
#include "actors/worker/worker_task.h"
#include "actors/worker/worker_secrets.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"
#include "bus/bus_security.h"
#include "proto/proto_json.h"

#include <ctype.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <unistd.h>

#define S_DEFAULT_TIMEOUT_S 600
#define S_MAX_ENV           256
#define S_OUTPUT_CAP        (256 * 1024) //  per stream: a report stays far below the frame limit
#define S_MAX_REPORT        WORKER_LINK_MAX_REPORT //  payload bytes of a status report
#define S_FINISHED_KEEP     16384      //  a re-dispatch of these gets the outcome again
#define S_FINISHED_REPORTS  (16 << 20) //  bytes of their final reports kept
#define S_LEDGER_WAIT_MS    5000       //  for what a previous instance left to end
#define S_RUNTIMES          PROTO_RUNNERS

typedef struct {
    char id[PROTO_UUID_STR_SIZE + 8];
    char runner[32];
    json_t *action; //  ref, runner_type, entry_point, pack_dir, timeout
    json_t *parameters;
    json_t *secret; //  names never to print
    worker_process_t *process;
    worker_task_t *task;   //  http-request, remote-shell-*: a helper thread
    long long start;       //  its start time (worker_groups_start)
    worker_guard_t *guard; //  told when it started (borrowed), NULL if not
    int64_t due;           //  builtin sleep: monotonic ms when it ends
    bool running;
    bool cancelled;
    bool reported_running;
    bool confirm;  //  a process with effects: start only on execution.start
    bool claiming; //  `running` reported as a claim, waiting for the start

    int64_t started_usec; //  wall clock µs its process started (reported at the end)
    int64_t claim_ts;     //  monotonic µs the claim was sent (echoed by the start)
    char *tmpdir;         //  working directory made for the process
    bool dropped;         //  the executor settled it without us (reconciled)
    bool ledgered;        //  in the ledger: claimed or started here
    struct _worker_python_t *python; //  python-script: wrapper, config (worker_python.h)
    worker_output_t *output;         //  its live output (NULL: not streamed)
} worker_job_t;

//  An execution that ended here: its final report, sent again when the
//  executor dispatches it again (it took the first for a late one, or has
//  not seen it yet), so the outcome is never lost and the action never runs
//  twice. The report's bytes go once S_FINISHED_REPORTS is exceeded, oldest
//  first; then only the status is said again.
typedef struct {
    char status[16];
    int exit_code;
    uint8_t *report; //  packed execution.status payload, NULL once evicted
    size_t size;
} worker_done_t;

typedef struct {
    zsock_t *pipe;
    actor_loop_t *loop;
    zsock_t *tasks; //  PULL: ids of the tasks that are done
    char tasks_endpoint[64];
    actor_loop_fd_t *watched; //  the running processes' descriptors (s_before)
    size_t watch_capacity;
    char name[256];
    char source[300];
    uint64_t instance;
    int slots;
    char runtimes[256];
    worker_link_t wl;        //  the executor link: inbox, link, endpoint (worker_link.h)
    worker_ledger_t *ledger; //  what may run here, durable (NULL: no data dir)
    worker_guard_t *guard;   //  ends our processes if we die (NULL: none)
    worker_secrets_t *secrets;          //  resolves secret references at start
    bus_topology_t *topology;           //  borrowed: announcements (worker_st2.h)
    uint8_t report_id[PROTO_UUID_SIZE]; //  the last execution.status queued
    bool report_queued;                 //  ... since report_queued was cleared
    zhashx_t *jobs;                     //  id -> worker_job_t (queued and running)
    zlist_t *queue;                     //  ids waiting for a slot, FIFO (strings, owned)
    zlist_t *outbox;                    //  proto_envelope_t waiting for link window
    msgpack_sbuffer report;             //  a status report being packed
    msgpack_sbuffer last;               //  the last status report sent (its payload)
    zhashx_t *finished; //  id -> worker_done_t of the last S_FINISHED_KEEP ended here
    zlist_t *finished_order; //  the same ids, oldest first
    zlist_t
        *kept_order; //  the worker_done_t (in finished) still with a report, oldest first
    size_t kept_bytes; //  their reports' bytes
    int busy;
    uint64_t ran, completed, failed, timeouts, cancelled, duplicates, returned, resent;
    uint64_t claims, refused, stale_starts;
    bool draining;         //  stopping: takes nothing new
    int64_t drain_until;   //  monotonic ms: the grace for what runs ends
    bool drained_reported; //  DRAINED said on the pipe
    bool connected;        //  the executor has been heard at least once
    bool suspect;          //  it may have given up on us: start nothing until it
                           //  answers our registration (worker.reconciled)

    size_t output_cap;      //  live output streamed per execution (0: none)
    uint64_t output_chunks; //  execution.output sent
} worker_t;

//  Free a job (its process killed if it still runs); clears the pointer.
void worker_job_destroy (worker_job_t **job_p);

//  A command from the executor (bus_inbox handler; `arg` is the worker):
//  its payload checked against proto_messages, then acted on. 0, or a reject.
int worker_job_command (void *arg, store_txn_t *txn, proto_envelope_t *command,
                        bus_command_t *info);

//  A process ended: build the result and report.
void worker_run_ended (worker_t *self, worker_job_t *job);

//  A task said it is done (its id on self->tasks): report its result.
void worker_run_task_done (worker_t *self, worker_job_t *job);

//  How long after its claim a start may still be acted on: short of the
//  executor's heartbeat x liveness by one and a half heartbeats (its
//  silence clock may have started up to a heartbeat before our claim), so a
//  start that waited out a partition is claimed again rather than taken for
//  a fresh one after the executor may have given up on us.
int64_t worker_run_claim_lease_ms (worker_t *self);

//  Report `running` as a claim (with the time, which the start echoes).
void worker_run_claim (worker_t *self, worker_job_t *job);

//  Start the job in a free slot: builtins finish here; processes start, or
//  are claimed first.
void worker_run_start_job (worker_t *self, worker_job_t *job);

//  The executor's answer to a claim: start the process, unless the answer
//  is for another claim than the one we hold (it came after we claimed
//  again) or came too late (see worker_run_claim_lease_ms).
void worker_run_confirmed (worker_t *self, worker_job_t *job, int64_t claim_ts);

//  The executor refused a claim (the execution was settled or given to
//  another worker meanwhile): free the slot and forget the job, nothing ran.
void worker_run_refused (worker_t *self, worker_job_t *job, const char *reason);

//  Start what waits in the queue while slots are free.
void worker_run_start_ready (worker_t *self);

//  Send what the outbox holds while the link has window.
void worker_report_flush (worker_t *self);

//  worker.register: who we are, what we hold, what a previous instance left.
void worker_report_register (worker_t *self);

//  Give back executions not started (ids in `returned`, taken): the
//  executor sends them to another worker.
void worker_report_return (worker_t *self, json_t *returned);

//  Stop taking work: what waits for a slot goes back to the executor; what
//  runs may finish within `grace_ms`.
void worker_report_drain (worker_t *self, int grace_ms);

//  execution.status for `job` (takes `result`); kept in self->last.
void worker_report_status (worker_t *self, worker_job_t *job, const char *status,
                           json_t *result, int exit_code);

//  The values of the job's secret parameters (the dispatch's `secret`),
//  never to print: an array of strings (caller owns it).
json_t *worker_report_secret_values (worker_job_t *job);

//  Send the chunks of `job`'s live output that are due (with `final`, all
//  of them: its process ended).
void worker_report_output (worker_t *self, worker_job_t *job, bool final);

//  zhashx destructor of a worker_done_t.
void worker_report_done_destroy (void **item_p);

//  A dispatch of what ended here: say again how it ended.
void worker_report_resend (worker_t *self, const char *id, worker_done_t *done);

//  The job is over: report, free the slot.
void worker_report_finish (worker_t *self, worker_job_t *job, const char *status,
                           json_t *result, int exit_code);

#endif
