/*  worker: runs executions (worker.h).

    One thread, one loop (actor_loop) over the pipe, the inbox, the link to
    the executor and the pipes of every running process. Jobs beyond the free
    slots wait in a FIFO; status reports wait in a FIFO while the link's
    window is full, so the loop never blocks.
*/
#include "actors/worker/worker_internal.h"
#include "actors/actor_loop.h"

#define S_RANK_LINK      0 //  the order the loop reads in: the executor's link,
#define S_RANK_INBOX     1 //  its commands,
#define S_RANK_PROCESSES 2 //  then what the processes say,
#define S_RANK_TASKS     3 //  and the tasks (worker_task.h)

//  The actor's own names for the shared types (worker_internal.h)
typedef worker_t s_worker_t;
typedef worker_job_t s_job_t;

static void
s_on_peer (void *arg, const char *peer, bus_peer_event_t event)
{
    s_worker_t *self = (s_worker_t *)arg;
    if (event == BUS_PEER_UP) {
        self->connected = true;
        worker_report_register (self); //  the executor (re)appeared: tell it who we are
    }
}

//  ---------------------------------------------------------------------------
//  Timers: processes and builtin sleeps

static int
s_jobs_timeout (s_worker_t *self)
{
    int timeout = -1;
    if (self->busy == 0)
        return timeout; //  no process, no sleep, no claim: those take a slot
    int64_t now = zclock_mono ();
    for (s_job_t *job = (s_job_t *)zhashx_first (self->jobs); job;
         job = (s_job_t *)zhashx_next (self->jobs)) {
        int t = -1;
        if (job->process) {
            t = worker_process_timeout (job->process);
            int o = job->output ? worker_output_timeout (job->output, now) : -1;
            if (o >= 0 && (t < 0 || o < t))
                t = o;
        } else if (job->task)
            t = worker_task_output_timeout (job->task, now);
        else if (job->claiming) {
            //  Claimed again at the lease's end, when the executor can hear
            //  us (until then the link's own timers wake the loop)
            if (self->suspect || !bus_link_peer_alive (self->wl.link))
                continue;
            int64_t left = worker_run_claim_lease_ms (self) -
                           (zclock_usecs () - job->claim_ts) / 1000;
            t = left > 0 ? (int)left : 0;
        } else if (job->running && job->due)
            t = job->due > now ? (int)(job->due - now) : 0;
        if (t >= 0 && (timeout < 0 || t < timeout))
            timeout = t;
    }
    return timeout;
}

static void
s_jobs_tick (s_worker_t *self)
{
    if (self->busy == 0)
        return; //  no process, no sleep, no claim: those take a slot
    int64_t now = zclock_mono ();
    zlist_t *done = zlist_new ();
    int64_t lease_us = worker_run_claim_lease_ms (self) * 1000, now_us = zclock_usecs ();
    bool heard = !self->suspect && bus_link_peer_alive (self->wl.link);
    for (s_job_t *job = (s_job_t *)zhashx_first (self->jobs); job;
         job = (s_job_t *)zhashx_next (self->jobs)) {
        //  A claim unanswered for its lease (the executor restarted after
        //  recording it, or the start was lost): claim again
        if (job->claiming && heard && now_us - job->claim_ts >= lease_us)
            worker_run_claim (self, job);
        if (job->process || job->task)
            worker_report_output (self, job, false);
        if ((job->process && worker_process_poll (job->process)) ||
            (!job->process && job->running && job->due && job->due <= now))
            zlist_append (done, job);
    }
    for (s_job_t *job = (s_job_t *)zlist_first (done); job;
         job = (s_job_t *)zlist_next (done)) {
        if (job->process)
            worker_run_ended (self, job);
        else if (json_object_get (job->parameters, "__timed_out"))
            worker_report_finish (self, job, "timeout",
                                  json_pack ("{s:s}", "error", "timed out"), -1);
        else
            worker_report_finish (self, job, "completed", json_object (), 0);
    }
    zlist_destroy (&done);
}

//  ---------------------------------------------------------------------------
//  Actor

static json_t *
s_pipe_status (void *arg)
{
    s_worker_t *self = (s_worker_t *)arg;
    json_t *status = json_pack (
        "{s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", self->name, "slots",
        self->slots, "busy", self->busy, "queued", (json_int_t)zlist_size (self->queue),
        "ran", (json_int_t)self->ran, "completed", (json_int_t)self->completed, "failed",
        (json_int_t)self->failed, "timeouts", (json_int_t)self->timeouts, "cancelled",
        (json_int_t)self->cancelled, "duplicates", (json_int_t)self->duplicates);
    json_object_set_new (status, "draining", json_boolean (self->draining));
    json_object_set_new (status, "claims", json_integer ((json_int_t)self->claims));
    json_object_set_new (status, "refused", json_integer ((json_int_t)self->refused));
    json_object_set_new (status, "resent", json_integer ((json_int_t)self->resent));
    json_object_set_new (status, "output_chunks",
                         json_integer ((json_int_t)self->output_chunks));
    json_object_set_new (status, "stale_starts",
                         json_integer ((json_int_t)self->stale_starts));
    json_object_set_new (status, "returned", json_integer ((json_int_t)self->returned));
    return status;
}

//  DRAIN grace_ms: answered DRAINED once nothing runs or the grace is over
//  (what still runs then is left to the executor to settle).
static int
s_pipe_command (void *arg, const char *command, zmsg_t *msg)
{
    if (!streq (command, "DRAIN"))
        return -1;
    char *grace = zmsg_popstr (msg);
    worker_report_drain ((s_worker_t *)arg, grace ? atoi (grace) : 10000);
    zstr_free (&grace);
    return 0;
}

static void
s_job_destructor (void **item_p)
{
    worker_job_destroy ((s_job_t **)item_p);
}

static void
s_worker_destroy (s_worker_t **self_p)
{
    s_worker_t *self = *self_p;
    if (!self)
        return;
    actor_loop_destroy (&self->loop);
    free (self->watched);
    zhashx_destroy (&self->jobs);        //  kills what still runs
    worker_guard_destroy (&self->guard); //  then: all done
    if (self->queue) {
        char *id;
        while ((id = (char *)zlist_pop (self->queue)))
            free (id);
        zlist_destroy (&self->queue);
    }
    if (self->outbox) {
        proto_envelope_t *envelope;
        while ((envelope = (proto_envelope_t *)zlist_pop (self->outbox)))
            proto_envelope_destroy (&envelope);
        zlist_destroy (&self->outbox);
    }
    zhashx_destroy (&self->finished);
    zlist_destroy (&self->kept_order); //  borrowed from finished
    if (self->finished_order) {
        char *id;
        while ((id = (char *)zlist_pop (self->finished_order)))
            free (id);
        zlist_destroy (&self->finished_order);
    }
    zsock_destroy (&self->tasks); //  after the jobs: their tasks were aborted
    worker_link_close (&self->wl);
    worker_ledger_destroy (&self->ledger);
    worker_secrets_destroy (&self->secrets);
    msgpack_sbuffer_destroy (&self->report);
    msgpack_sbuffer_destroy (&self->last);
    free (self);
    *self_p = NULL;
}

static void
s_on_ack (void *arg, const uint8_t id[PROTO_UUID_SIZE])
{
    worker_ledger_acked (((s_worker_t *)arg)->ledger, id);
}

//  The ledger, <data_dir>/worker/<name>.ledger: before anything runs here,
//  what a previous instance left running is ended (worker_ledger.h). A
//  worker without a data directory keeps none (then the executor settles a
//  restart as lost); one whose ledger cannot be written does not start.
static int
s_open_ledger (s_worker_t *self, const actor_config_t *config)
{
    if (!config->data_dir)
        return 0;
    char dir[1024], name[256], message[1200];
    snprintf (dir, sizeof dir, "%s/worker", config->data_dir);
    snprintf (name, sizeof name, "%s", self->name); //  a file name: [A-Za-z0-9_.-]
    for (char *p = name; *p; p++)
        if (!isalnum ((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            *p = '_';
    self->ledger =
        worker_ledger_new (dir, name, S_LEDGER_WAIT_MS, message, sizeof message);
    if (!self->ledger) {
        zsys_error ("%s: ledger %s", self->name, message);
        return -1;
    }
    size_t never = json_array_size (worker_ledger_never_started (self->ledger));
    size_t stopped = json_array_size (worker_ledger_stopped (self->ledger));
    if (never || stopped)
        zsys_warning ("%s: the previous instance left %zu claimed, never started, and "
                      "%zu started (their processes are gone%s)",
                      self->name, never, stopped,
                      worker_ledger_survivors (self->ledger) ? ", but not all" : "");
    return 0;
}

//  The guard (worker_guard.h) ends what our actions forked as soon as this
//  process dies: a worker that runs processes starts one.
static void
s_open_guard (s_worker_t *self)
{
    if (!strstr (self->runtimes, "shell") && !strstr (self->runtimes, "python"))
        return;
    char message[1200];
    self->guard = worker_guard_new (NULL, self->name, message, sizeof message);
    if (!self->guard)
        zsys_warning ("%s: no guard (%s): what actions fork outlives a killed worker "
                      "until a worker of this name starts again",
                      self->name, message);
}

static int
s_start (s_worker_t *self, const actor_config_t *config)
{
    msgpack_sbuffer_init (&self->report);
    msgpack_sbuffer_init (&self->last);
    char host[240];
    actor_host (config, host, sizeof host);
    if (config->worker_name && *config->worker_name)
        snprintf (self->name, sizeof self->name, "%s", config->worker_name);
    else
        snprintf (self->name, sizeof self->name, "worker@%s", host);
    snprintf (self->source, sizeof self->source, "%s", self->name);
    snprintf (self->runtimes, sizeof self->runtimes, "%s",
              config->runtimes && *config->runtimes ? config->runtimes : S_RUNTIMES);
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    self->slots = config->worker_slots > 0 ? config->worker_slots
                                           : (int)(cores > 0 ? cores * 2 : 2);
    self->output_cap = config->worker_output_kib < 0 ? 0
                       : config->worker_output_kib == 0
                           ? WORKER_OUTPUT_STREAM_CAP
                           : (size_t)config->worker_output_kib * 1024;
    self->instance = ((uint64_t)randof (0x7fffffff) << 32) ^ (uint64_t)zclock_usecs ();
    self->jobs = zhashx_new ();
    self->queue = zlist_new ();
    self->outbox = zlist_new ();
    self->finished = zhashx_new ();
    self->finished_order = zlist_new ();
    self->kept_order = zlist_new ();
    if (!self->jobs || !self->queue || !self->outbox || !self->finished ||
        !self->finished_order || !self->kept_order)
        return -1;
    zhashx_set_destructor (self->finished, worker_report_done_destroy);
    zhashx_set_destructor (self->jobs, s_job_destructor);

    if (worker_link_open (config, self->name, self->name, &self->wl) != 0)
        return -1;
    bus_link_set_peer_handler (self->wl.link, s_on_peer, self);
    bus_link_set_ack_handler (self->wl.link, s_on_ack, self);
    //  Where tasks say they are done (worker_task.h)
    snprintf (self->tasks_endpoint, sizeof self->tasks_endpoint,
              "inproc://attune-worker-tasks-%p", (void *)self);
    self->tasks = zsock_new (ZMQ_PULL);
    if (!self->tasks || zsock_bind (self->tasks, "%s", self->tasks_endpoint) != 0)
        return -1;
    self->secrets = worker_secrets_new (config->topology, self->source);
    self->topology = config->topology;
    if (!self->secrets || s_open_ledger (self, config) != 0)
        return -1;
    s_open_guard (self);
    worker_report_register (self);
    zsys_info ("%s: %d slots, runtimes %s, endpoint %s", self->name, self->slots,
               self->runtimes, self->wl.endpoint);
    return 0;
}

//  Silent longer than the executor waits (a partition, or this process
//  stopped): it may have given our work to others. Checked before reading
//  what waits on the link, which would look fresh, and every turn.
static void
s_check_silence (s_worker_t *self)
{
    if (self->connected && !self->suspect &&
        proto_now_usec () - bus_link_last_heard_usec (self->wl.link) >
            self->wl.silence_ms * 1000) {
        self->suspect = true;
        zsys_warning ("%s: the executor was silent for %d ms: starting nothing until "
                      "it has our registration",
                      self->name, (int)self->wl.silence_ms);
        worker_report_register (self);
    }
}

static void
s_on_link (void *arg, void *unused)
{
    s_worker_t *self = (s_worker_t *)arg;
    s_check_silence (self);
    bus_link_handle (self->wl.link);
}

static void
s_on_inbox (void *arg, void *unused)
{
    s_worker_t *self = (s_worker_t *)arg;
    bus_inbox_process (self->wl.inbox, worker_job_command, self);
}

//  A task is done: its id, then its result is ours to report.
static void
s_on_task (void *arg, void *unused)
{
    s_worker_t *self = (s_worker_t *)arg;
    char *id = zstr_recv (self->tasks);
    s_job_t *job = id ? (s_job_t *)zhashx_lookup (self->jobs, id) : NULL;
    if (job && job->task)
        worker_run_task_done (self, job);
    zstr_free (&id);
}

static void
s_on_process (void *self, void *job, int fd, short revents)
{
    worker_process_handle (((s_job_t *)job)->process, fd);
}

//  Before each poll: the running processes' descriptors (three each at
//  most); the loop registers them again only when they changed. Only
//  running jobs have processes (busy counts them): a zhashx walk visits
//  every bucket.
static void
s_before (void *arg)
{
    s_worker_t *self = (s_worker_t *)arg;
    size_t n = 0;
    for (s_job_t *job = self->busy ? (s_job_t *)zhashx_first (self->jobs) : NULL; job;
         job = (s_job_t *)zhashx_next (self->jobs)) {
        if (!job->process)
            continue;
        int fds[3];
        worker_process_fds (job->process, fds);
        for (int i = 0; i < 3; i++) {
            if (fds[i] < 0)
                continue;
            if (n == self->watch_capacity) {
                self->watch_capacity =
                    self->watch_capacity ? self->watch_capacity * 2 : 48;
                self->watched = (actor_loop_fd_t *)realloc (
                    self->watched, self->watch_capacity * sizeof (actor_loop_fd_t));
                assert (self->watched);
            }
            self->watched[n++] = (actor_loop_fd_t){
                fds[i], (short)(i == 0 ? ZMQ_POLLOUT : ZMQ_POLLIN), job};
        }
    }
    int rc =
        actor_loop_set_fds (self->loop, S_RANK_PROCESSES, self->watched, n, s_on_process);
    assert (rc == 0);
    (void)rc;
}

static int
s_timeout (void *arg)
{
    s_worker_t *self = (s_worker_t *)arg;
    int timeout = bus_link_timeout (self->wl.link);
    int t = bus_inbox_timeout (self->wl.inbox);
    if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    t = s_jobs_timeout (self);
    if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    if (self->draining && !self->drained_reported && (timeout < 0 || timeout > 50))
        timeout = 50; //  the grace, and the last acks
    if (zlist_size (self->outbox) && (timeout < 0 || timeout > 10))
        timeout = 10; //  waiting for window: look again soon
    return timeout;
}

static void
s_after (void *arg)
{
    s_worker_t *self = (s_worker_t *)arg;
    s_check_silence (self);
    s_jobs_tick (self);
    //  Nothing new starts while draining, or while the executor cannot
    //  hear us: after heartbeat x liveness it gives what waits here to
    //  another worker, and tells us to drop it when we are back
    //  (and not when it has been quiet for two heartbeats: the executor
    //  gives up at heartbeat x liveness, and a job started at that edge
    //  could be given to another worker as well)
    bool quiet = proto_now_usec () - bus_link_last_heard_usec (self->wl.link) >
                 self->wl.heartbeat_ms * 2000;
    if (!self->draining && !self->suspect && !quiet &&
        bus_link_peer_alive (self->wl.link))
        worker_run_start_ready (self);
    bus_link_tick (self->wl.link);
    bus_inbox_tick (self->wl.inbox);
    worker_report_flush (self);
    if (self->draining && !self->drained_reported &&
        ((self->busy == 0 && zlist_size (self->outbox) == 0 &&
          bus_link_unacked (self->wl.link) == 0) ||
         zclock_mono () >= self->drain_until)) {
        self->drained_reported = true;
        zstr_sendf (self->pipe, "DRAINED %d", self->busy);
    }
}

//  The state, its sockets, ledger and loop; NULL on failure (logged).
static s_worker_t *
s_worker_new (zsock_t *pipe, const actor_config_t *config)
{
    s_worker_t *self = (s_worker_t *)zmalloc (sizeof (s_worker_t));
    self->pipe = pipe;
    self->loop = actor_loop_new (pipe, "worker", self);
    if (!self->loop || !config || s_start (self, config) != 0 ||
        actor_loop_reader (self->loop, bus_link_sock (self->wl.link), S_RANK_LINK,
                           s_on_link, NULL) != 0 ||
        actor_loop_reader (self->loop, bus_inbox_sock (self->wl.inbox), S_RANK_INBOX,
                           s_on_inbox, NULL) != 0 ||
        actor_loop_reader (self->loop, self->tasks, S_RANK_TASKS, s_on_task, NULL) != 0) {
        s_worker_destroy (&self);
        return NULL;
    }
    actor_loop_set_status (self->loop, s_pipe_status);
    actor_loop_set_command (self->loop, s_pipe_command);
    actor_loop_set_timeout (self->loop, s_timeout);
    actor_loop_set_before (self->loop, s_before);
    actor_loop_set_after (self->loop, s_after);
    return self;
}

//  Not stopped by SIGINT (actor_loop): attuned asks for a drain (DRAIN),
//  then sends $TERM.
void
worker_actor (zsock_t *pipe, void *args)
{
    s_worker_t *self = s_worker_new (pipe, (const actor_config_t *)args);
    zsock_signal (pipe, self ? 0 : 1);
    if (self) {
        actor_loop_run (self->loop);
        //  Let the last reports out before leaving
        worker_report_flush (self);
        bus_link_flush (self->wl.link, 200);
    }
    s_worker_destroy (&self);
}
