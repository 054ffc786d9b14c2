/*  attune-scale-bench: attune split over processes on this machine, as the
    deploy/ topologies run it (issue 7, item 6): a core attuned (registry,
    rules, executor, api; durable stores) and worker attuned processes that
    register with it over loopback tcp, driven through the core's api.

        attune-scale-bench [--shell N] [--workers LIST] [--slots S]
                           [--fleet W] [--noop N] [--dir DIR]
                           [--attuned PATH] [--quick]

    Each measurement is made two ways in, pipelined over one DEALER (at most
    500 requests outstanding) and timed from the first request to the N-th
    terminal execution fact on the api's fact endpoint:
      run    api.execution.run {action}: one execution per request;
      event  api.event.publish of a trigger whose rule runs the same action.

    1. shell throughput: for each worker count in LIST (1,2,4), a fresh core
       and that many workers (--slots S each, 4 by default; runtime
       local-shell-cmd); N executions (2,000; --quick 300) of an action
       running `echo hello`. Against it, in the same run, a raw posix_spawn
       + waitpid loop of `/bin/sh -c 'echo hello'` with workers x S
       processes in flight (stdout read through a pipe, as the worker does).
    2. dispatch rate: a core and W worker processes (--fleet, 50), 4 slots
       each, runtime noop; M core.noop executions (20,000; --quick 3,000);
       executions/s, and how they spread over the workers (the `worker`
       field of each execution.completed fact). Compared with the same M on
       one worker process with W x 4 slots.

    The CPU of each timed interval comes from /proc: the core (and its
    busiest thread), the worker processes, the shells they ran (their
    reaped children), this bench, every other process on the machine, and
    the idle time; with the load average and the time of one 4 KiB write +
    fdatasync under --dir, since the machine's other work and its disk move
    every number here.

    Every process is an attuned binary (by default the one next to this
    bench) started with `-c TOPOLOGY --quiet` (no log line per execution;
    heartbeats at their default), workers with `--drain 1000`. All of it
    lives in a temporary directory under /var/tmp (--dir) that is removed at
    the end; every process started is stopped (SIGTERM, then SIGKILL), also
    on failure or interrupt, and dies with the bench (PR_SET_PDEATHSIG). A
    run that makes no progress for 30 s is reported as a timeout.
*/
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "proto/proto_envelope.h"
#include "proto/proto_json.h"
#include "bus/bus_client.h"
#include "bus/bus_facts.h"

#ifndef ATTUNE_SOURCE_DIR
#define ATTUNE_SOURCE_DIR "."
#endif

#define S_WINDOW     500   //  api requests outstanding at most
#define S_STALL_MS   30000 //  no progress for this long: a timeout
#define S_FLEET_SLOT 4     //  slots of each worker of the fleet (part 2)
#define S_MAX_NAMES  256

extern char **environ;

static char s_root[4096];
static char s_attuned[4200];
static volatile sig_atomic_t s_interrupted = 0;
static long s_ticks = 100; //  clock ticks per second (/proc times)

//  ---------------------------------------------------------------------------
//  Processes

typedef struct {
    pid_t pid;
    char name[32];
    char log[4300];
    bool up;
} s_proc_t;

typedef struct {
    char dir[4200];    //  this deployment's directory
    char api[64];      //  api.requests
    char facts[64];    //  api.facts
    int executor_port; //  executor.commands
    s_proc_t *procs;   //  [0] the core, then the workers
    size_t count, cap;
} s_deploy_t;

static s_deploy_t *s_current; //  what cleanup must stop

static void
s_on_signal (int sig)
{
    (void)sig;
    s_interrupted = 1;
}

//  `count` distinct free loopback ports (sockets held open until all are
//  chosen, so none is handed out twice). 0 or -1.
static int
s_free_ports (int *ports, int count)
{
    int fds[16], rc = 0;
    for (int i = 0; i < count; i++) {
        fds[i] = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET};
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        ports[i] = -1;
        if (fds[i] >= 0 && bind (fds[i], (struct sockaddr *)&addr, sizeof addr) == 0 &&
            getsockname (fds[i], (struct sockaddr *)&addr, &len) == 0)
            ports[i] = ntohs (addr.sin_port);
        if (ports[i] < 0)
            rc = -1;
    }
    for (int i = 0; i < count; i++)
        if (fds[i] >= 0)
            close (fds[i]);
    return rc;
}

static int
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    if (!file) {
        fprintf (stderr, "scale-bench: cannot write %s: %s\n", path, strerror (errno));
        return -1;
    }
    fputs (text, file);
    fclose (file);
    return 0;
}

static int
s_mkdir (const char *path)
{
    if (mkdir (path, 0750) != 0 && errno != EEXIST) {
        fprintf (stderr, "scale-bench: cannot create %s: %s\n", path, strerror (errno));
        return -1;
    }
    return 0;
}

static int
s_rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove (path);
    return 0;
}

static void
s_rmtree (const char *path)
{
    if (*path)
        nftw (path, s_rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

//  Does the log say "attuned: running"?
static bool
s_log_says_running (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    char line[2048];
    bool up = false;
    while (!up && fgets (line, sizeof line, file))
        up = strstr (line, "attuned: running") != NULL;
    fclose (file);
    return up;
}

static void
s_log_tail (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    char line[2048];
    int n = 0;
    while (fgets (line, sizeof line, file) && n++ < 20)
        fprintf (stderr, "    | %s", line);
    fclose (file);
}

//  Start `attuned -c cfg` with extra arguments (NULL-terminated), its
//  output into DIR/NAME.log. Returns the process, or NULL.
static s_proc_t *
s_spawn (s_deploy_t *d, const char *name, const char *cfg, const char **extra)
{
    if (d->count == d->cap)
        return NULL;
    s_proc_t *proc = &d->procs[d->count];
    *proc = (s_proc_t){0};
    snprintf (proc->name, sizeof proc->name, "%s", name);
    snprintf (proc->log, sizeof proc->log, "%s/%s.log", d->dir, name);
    const char *argv[32] = {s_attuned, "-c", cfg, "--quiet"};
    int argc = 4;
    for (int i = 0; extra && extra[i] && argc < 31; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        fprintf (stderr, "scale-bench: fork: %s\n", strerror (errno));
        return NULL;
    }
    if (pid == 0) {
        //  Dies with the bench, whatever happens to it
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        int fd = open (proc->log, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
            close (fd);
        }
        signal (SIGINT, SIG_DFL);
        signal (SIGTERM, SIG_DFL);
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    proc->pid = pid;
    d->count++;
    return proc;
}

//  Wait (bounded) until every process of `d` logged "attuned: running".
static int
s_wait_up (s_deploy_t *d, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        size_t up = 0;
        for (size_t i = 0; i < d->count; i++) {
            s_proc_t *proc = &d->procs[i];
            if (!proc->up && proc->pid > 0) {
                int status;
                if (waitpid (proc->pid, &status, WNOHANG) == proc->pid) {
                    proc->pid = 0;
                    fprintf (stderr, "scale-bench: %s exited at start (status %d):\n",
                             proc->name, status);
                    s_log_tail (proc->log);
                    return -1;
                }
                proc->up = s_log_says_running (proc->log);
            }
            up += proc->up;
        }
        if (up == d->count)
            return 0;
        if (zclock_mono () > deadline || s_interrupted) {
            fprintf (stderr,
                     "scale-bench: timeout: %zu of %zu processes running after %d "
                     "ms\n",
                     up, d->count, timeout_ms);
            for (size_t i = 0; i < d->count; i++)
                if (!d->procs[i].up) {
                    fprintf (stderr, "  %s:\n", d->procs[i].name);
                    s_log_tail (d->procs[i].log);
                    break;
                }
            return -1;
        }
        zclock_sleep (20);
    }
}

//  SIGTERM (workers first), then SIGKILL whatever is left after 5 s.
static void
s_deploy_stop (s_deploy_t *d)
{
    if (!d || !d->procs)
        return;
    for (int pass = 0; pass < 2; pass++) {
        //  pass 0: the workers, pass 1: the core
        size_t from = pass == 0 ? 1 : 0, to = pass == 0 ? d->count : 1;
        for (size_t i = from; i < to && i < d->count; i++)
            if (d->procs[i].pid > 0)
                kill (d->procs[i].pid, SIGTERM);
        int64_t deadline = zclock_mono () + 5000;
        while (true) {
            bool left = false;
            for (size_t i = from; i < to && i < d->count; i++)
                if (d->procs[i].pid > 0) {
                    if (waitpid (d->procs[i].pid, NULL, WNOHANG) == d->procs[i].pid)
                        d->procs[i].pid = 0;
                    else
                        left = true;
                }
            if (!left)
                break;
            if (zclock_mono () > deadline) {
                for (size_t i = from; i < to && i < d->count; i++)
                    if (d->procs[i].pid > 0) {
                        fprintf (stderr, "scale-bench: %s did not stop: SIGKILL\n",
                                 d->procs[i].name);
                        kill (d->procs[i].pid, SIGKILL);
                        waitpid (d->procs[i].pid, NULL, 0);
                        d->procs[i].pid = 0;
                    }
                break;
            }
            zclock_sleep (10);
        }
    }
    free (d->procs);
    d->procs = NULL;
    d->count = d->cap = 0;
    if (s_current == d)
        s_current = NULL;
}

static void
s_cleanup (void)
{
    s_deploy_stop (s_current);
    s_rmtree (s_root);
    s_root[0] = 0;
}

//  A core and `workers` worker processes of `slots` slots offering
//  `runtimes`, on free loopback ports, all running. 0 or -1 (stopped).
static int
s_deploy_start (s_deploy_t *d, const char *tag, int workers, int slots,
                const char *runtimes)
{
    *d = (s_deploy_t){0};
    snprintf (d->dir, sizeof d->dir, "%s/%s", s_root, tag);
    if (s_mkdir (d->dir) != 0)
        return -1;
    d->cap = (size_t)workers + 1;
    d->procs = (s_proc_t *)calloc (d->cap, sizeof (s_proc_t));
    if (!d->procs)
        return -1;
    s_current = d;
    const char *names[] = {"registry.facts", "registry.snapshot", "registry.commands",
                           "rules.commands", "rules.facts",       "executor.commands",
                           "executor.facts", "api.requests",      "api.facts"};
    char endpoints[2048] = "";
    int ports[9];
    if (s_free_ports (ports, 9) != 0) {
        fprintf (stderr, "scale-bench: no free loopback port\n");
        return -1;
    }
    for (int i = 0; i < 9; i++) {
        char line[128];
        snprintf (line, sizeof line, "    %s = tcp://127.0.0.1:%d\n", names[i], ports[i]);
        strcat (endpoints, line);
    }
    d->executor_port = ports[5];
    snprintf (d->api, sizeof d->api, "tcp://127.0.0.1:%d", ports[7]);
    snprintf (d->facts, sizeof d->facts, "tcp://127.0.0.1:%d", ports[8]);

    char path[4400], cfg[12000];
    snprintf (cfg, sizeof cfg,
              "daemon\n    actors = registry,executor,rules,api\n    data = %s/core\n"
              "    packs = %s/packs\nbus\n    namespace = core\nendpoints\n%s",
              d->dir, s_root, endpoints);
    snprintf (path, sizeof path, "%s/core.cfg", d->dir);
    if (s_write (path, cfg) != 0 || !s_spawn (d, "core", path, NULL))
        return -1;
    //  The core first: the workers register as soon as they start
    if (s_wait_up (d, S_STALL_MS) != 0)
        return -1;
    //  One topology for every worker; name, data and slots as flags
    snprintf (cfg, sizeof cfg,
              "daemon\n    actors = worker\n    worker\n        runtimes = %s\n"
              "bus\n    namespace = worker\nendpoints\n"
              "    executor.commands = tcp://127.0.0.1:%d\n"
              "    worker = tcp://127.0.0.1:*\n",
              runtimes, d->executor_port);
    snprintf (path, sizeof path, "%s/worker.cfg", d->dir);
    if (s_write (path, cfg) != 0)
        return -1;
    for (int w = 0; w < workers; w++) {
        char name[32], data[4300], slot_text[16];
        snprintf (name, sizeof name, "w%d", w);
        snprintf (data, sizeof data, "%s/%s", d->dir, name);
        snprintf (slot_text, sizeof slot_text, "%d", slots);
        const char *extra[] = {"--worker-name", name,     "--worker-slots",
                               slot_text,       "--data", data,
                               "--drain",       "1000",   NULL};
        if (!s_spawn (d, name, path, extra))
            return -1;
    }
    return s_wait_up (d, S_STALL_MS);
}

//  ---------------------------------------------------------------------------
//  CPU from /proc

typedef struct {
    int64_t self;     //  utime + stime of the process (ticks)
    int64_t children; //  cutime + cstime: its reaped children
} s_cpu_t;

static bool
s_stat_read (const char *path, s_cpu_t *cpu)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    char text[1024];
    size_t n = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text[n] = 0;
    //  Fields after the command (which may hold spaces): state is field 3
    char *p = strrchr (text, ')');
    if (!p)
        return false;
    long long v[15] = {0};
    //  fields 3..17: state ppid pgrp session tty tpgid flags minflt cminflt
    //  majflt cmajflt utime stime cutime cstime
    char state;
    if (sscanf (
            p + 2,
            "%c %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
            &state, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
            &v[10], &v[11], &v[12], &v[13]) != 15)
        return false;
    cpu->self = v[10] + v[11];
    cpu->children = v[12] + v[13];
    return true;
}

static s_cpu_t
s_cpu_of (pid_t pid)
{
    s_cpu_t cpu = {0, 0};
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    s_stat_read (path, &cpu);
    return cpu;
}

//  CPU ticks of each thread of `pid`, into tids/ticks (at most cap).
static size_t
s_threads_of (pid_t pid, int *tids, int64_t *ticks, size_t cap)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir (path);
    if (!dir)
        return 0;
    size_t n = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)) && n < cap) {
        if (entry->d_name[0] == '.')
            continue;
        char stat[300];
        snprintf (stat, sizeof stat, "/proc/%d/task/%s/stat", (int)pid, entry->d_name);
        s_cpu_t cpu;
        if (s_stat_read (stat, &cpu)) {
            tids[n] = atoi (entry->d_name);
            ticks[n] = cpu.self;
            n++;
        }
    }
    closedir (dir);
    return n;
}

static int64_t s_rusage_usec (int who);

typedef struct {
    s_cpu_t *procs;
    int tids[64];
    int64_t ticks[64];
    size_t threads;
    int64_t bench_usec;
    int64_t busy, idle; //  the whole machine (/proc/stat, ticks)
    int64_t wall_usec;
} s_cpu_snap_t;

//  Busy and idle (+ iowait) ticks of all cpus together.
static void
s_machine_ticks (int64_t *busy, int64_t *idle)
{
    *busy = *idle = 0;
    FILE *file = fopen ("/proc/stat", "r");
    if (!file)
        return;
    long long v[8] = {0};
    //  cpu user nice system idle iowait irq softirq steal
    if (fscanf (file, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2],
                &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
        *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        *idle = v[3] + v[4];
    }
    fclose (file);
}

static void
s_snap (s_deploy_t *d, s_cpu_snap_t *snap)
{
    snap->procs = (s_cpu_t *)calloc (d->count, sizeof (s_cpu_t));
    for (size_t i = 0; snap->procs && i < d->count; i++)
        snap->procs[i] = s_cpu_of (d->procs[i].pid);
    snap->threads = s_threads_of (d->procs[0].pid, snap->tids, snap->ticks, 64);
    snap->bench_usec = s_rusage_usec (RUSAGE_SELF);
    s_machine_ticks (&snap->busy, &snap->idle);
    snap->wall_usec = proto_now_usec ();
}

typedef struct {
    double core, core_thread, workers, shells, bench; //  % of one cpu
    double other, idle; //  the rest of the machine's busy time; its idle time
} s_cpu_use_t;

static s_cpu_use_t
s_cpu_use (s_deploy_t *d, s_cpu_snap_t *before)
{
    s_cpu_snap_t after;
    s_snap (d, &after);
    double seconds = (double)(after.wall_usec - before->wall_usec) / 1e6;
    s_cpu_use_t use = {0};
    double scale = seconds > 0 ? 100.0 / ((double)s_ticks * seconds) : 0;
    if (before->procs && after.procs) {
        use.core = (double)(after.procs[0].self - before->procs[0].self) * scale;
        for (size_t i = 1; i < d->count; i++) {
            use.workers += (double)(after.procs[i].self - before->procs[i].self) * scale;
            use.shells +=
                (double)(after.procs[i].children - before->procs[i].children) * scale;
        }
    }
    for (size_t i = 0; i < after.threads; i++)
        for (size_t j = 0; j < before->threads; j++)
            if (after.tids[i] == before->tids[j]) {
                double t = (double)(after.ticks[i] - before->ticks[j]) * scale;
                if (t > use.core_thread)
                    use.core_thread = t;
            }
    use.bench =
        seconds > 0 ? (double)(after.bench_usec - before->bench_usec) / 1e4 / seconds : 0;
    double busy = (double)(after.busy - before->busy) * scale;
    use.idle = (double)(after.idle - before->idle) * scale;
    use.other = busy - use.core - use.workers - use.shells - use.bench;
    if (use.other < 0)
        use.other = 0;
    free (before->procs);
    free (after.procs);
    before->procs = NULL;
    return use;
}

//  ---------------------------------------------------------------------------
//  The api client

typedef struct {
    bus_client_t *api; //  bus/bus_client.h
    bus_sub_t *sub;
} s_client_t;

//  One request, its result (caller owns it), or NULL (printed why).
static json_t *
s_call (s_client_t *c, const char *type, json_t *payload)
{
    json_t *result = bus_client_request (c->api, type, &payload);
    if (!result)
        fprintf (stderr, "scale-bench: %s: %s: %s\n", type, bus_client_code (c->api),
                 bus_client_message (c->api));
    return result;
}

static int
s_client_open (s_client_t *c, s_deploy_t *d)
{
    *c = (s_client_t){0};
    c->api = bus_client_new ("scale-bench@api");
    c->sub = bus_sub_new (2000000);
    if (!c->api || !c->sub)
        return -1;
    bus_client_set_timeout (c->api, 8000);
    bus_client_set_unbounded (c->api);
    if (bus_client_connect (c->api, d->api) != 0)
        return -1;
    json_t *hello = s_call (c, "api.hello", NULL);
    if (!hello)
        return -1;
    //  The facts endpoint as the api bound it (the one configured)
    const char *facts = json_string_value (json_object_get (hello, "facts"));
    if (facts && strncmp (facts, "tcp://127.0.0.1:", 16) == 0)
        snprintf (d->facts, sizeof d->facts, "%s", facts);
    json_decref (hello);
    const char *terminal[] = {"execution.completed", "execution.failed",
                              "execution.timeout", "execution.cancelled",
                              "execution.abandoned"};
    if (bus_sub_connect (c->sub, d->facts) != 0)
        return -1;
    for (size_t i = 0; i < sizeof terminal / sizeof terminal[0]; i++)
        bus_sub_subscribe (c->sub, terminal[i]);
    return 0;
}

static void
s_client_close (s_client_t *c)
{
    bus_client_destroy (&c->api);
    bus_sub_destroy (&c->sub);
}

//  Wait (bounded) until api.worker.list shows `count` live workers.
static int
s_wait_workers (s_client_t *c, size_t count)
{
    int64_t deadline = zclock_mono () + S_STALL_MS;
    size_t alive = 0;
    while (zclock_mono () < deadline && !s_interrupted) {
        json_t *list = s_call (c, "api.worker.list", NULL);
        alive = 0;
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (list, "items"), i, item)
        {
            alive += json_is_true (json_object_get (item, "alive"));
        }
        json_decref (list);
        if (alive == count)
            return 0;
        zclock_sleep (100);
    }
    fprintf (stderr, "scale-bench: timeout: %zu of %zu workers alive after %d s\n", alive,
             count, S_STALL_MS / 1000);
    return -1;
}

//  ---------------------------------------------------------------------------
//  A pipelined batch of runs

typedef struct {
    size_t count;     //  runs asked for
    size_t accepted;  //  api.reply
    size_t rejected;  //  api.error other than unavailable (no execution)
    size_t resent;    //  unavailable: sent again with the same id
    size_t completed; //  execution.completed facts
    size_t other;     //  other terminal facts (failed, timeout, ...)
    double seconds;   //  first request to the last terminal fact
    double submit_s;  //  first request to the last reply
    bool timed_out;
    char names[S_MAX_NAMES][32]; //  worker -> executions it completed
    size_t per[S_MAX_NAMES];
    size_t workers;
} s_batch_t;

static void
s_count_worker (s_batch_t *b, proto_envelope_t *fact)
{
    const msgpack_object *payload = proto_envelope_payload_object (fact);
    const msgpack_object *worker = payload ? proto_map_get (payload, "worker") : NULL;
    if (!worker || worker->type != MSGPACK_OBJECT_STR)
        return;
    size_t len = worker->via.str.size < 31 ? worker->via.str.size : 31;
    for (size_t i = 0; i < b->workers; i++)
        if (strlen (b->names[i]) == len &&
            memcmp (b->names[i], worker->via.str.ptr, len) == 0) {
            b->per[i]++;
            return;
        }
    if (b->workers < S_MAX_NAMES) {
        memcpy (b->names[b->workers], worker->via.str.ptr, len);
        b->names[b->workers][len] = 0;
        b->per[b->workers++] = 1;
    }
}

//  A batch under way
typedef struct {
    s_client_t *c;
    s_batch_t *b;
    const char *type;
    const msgpack_sbuffer *payload;
    uint8_t (*ids)[PROTO_UUID_SIZE]; //  request ids, the index in the last 4 bytes
    size_t *resend;                  //  indexes to send again
    size_t resend_n;
    size_t sent, replied, expected;
    int64_t t0, t_last, t_reply;
} s_run_t;

//  Fill the window: resends first, then new runs.
static void
s_batch_fill (s_run_t *r)
{
    while (r->sent - r->replied < S_WINDOW && (r->resend_n || r->sent < r->b->count)) {
        size_t index;
        proto_envelope_t *request = proto_envelope_new (r->type, "scale-bench@api");
        if (r->resend_n) {
            index = r->resend[--r->resend_n];
            r->replied--; //  counted again when its reply comes
        } else {
            index = r->sent++;
            //  The index in the last 4 bytes of the (random) id
            memcpy (r->ids[index], proto_envelope_id (request), PROTO_UUID_SIZE);
            uint32_t tag = htonl ((uint32_t)index);
            memcpy (r->ids[index] + 12, &tag, 4);
        }
        proto_envelope_set_id (request, r->ids[index]);
        proto_envelope_set_payload_packed (request, r->payload->data, r->payload->size);
        bus_client_send (r->c->api, &request);
        proto_envelope_destroy (&request);
    }
}

//  A reply to run `index`: accepted, rejected, or to send again.
static void
s_batch_reply (s_run_t *r, size_t index, proto_envelope_t *reply)
{
    s_batch_t *b = r->b;
    r->replied++;
    r->t_reply = proto_now_usec ();
    if (streq (proto_envelope_type (reply), "api.reply")) {
        b->accepted++;
        return;
    }
    json_t *body = proto_envelope_payload_json (reply, NULL);
    const char *code = json_string_value (json_object_get (body, "code"));
    if (code && streq (code, "unavailable")) {
        r->resend[r->resend_n++] = index;
        b->resent++;
    } else {
        if (b->rejected++ == 0) {
            char *text = json_dumps (body, JSON_COMPACT);
            fprintf (stderr, "scale-bench: run rejected: %s\n", text ? text : "?");
            free (text);
        }
        r->expected--;
    }
    json_decref (body);
}

//  Replies and facts waiting; true when anything came.
static bool
s_batch_drain (s_run_t *r)
{
    bool moved = false;
    proto_envelope_t *reply;
    while ((reply = bus_client_recv (r->c->api))) {
        const uint8_t *corr = proto_envelope_corr (reply);
        uint32_t tag;
        memcpy (&tag, corr + 12, 4);
        size_t index = ntohl (tag);
        bus_client_forget (r->c->api, corr);
        if (index < r->sent && memcmp (r->ids[index], corr, PROTO_UUID_SIZE) == 0) {
            moved = true;
            s_batch_reply (r, index, reply);
        }
        proto_envelope_destroy (&reply);
    }
    proto_envelope_t *fact;
    while ((fact = bus_sub_recv (r->c->sub, NULL, 0))) {
        moved = true;
        if (streq (proto_envelope_type (fact), "execution.completed"))
            r->b->completed++;
        else
            r->b->other++;
        s_count_worker (r->b, fact);
        r->t_last = proto_now_usec ();
        proto_envelope_destroy (&fact);
    }
    return moved;
}

//  `count` requests of `type` with `payload` (packed msgpack map), each
//  making one execution; at most S_WINDOW requests in flight. Timed from the
//  first request to the last terminal execution fact.
static void
s_batch (s_client_t *c, const char *type, const msgpack_sbuffer *payload, size_t count,
         s_batch_t *b)
{
    memset (b, 0, sizeof *b);
    b->count = count;
    s_run_t r = {.c = c, .b = b, .type = type, .payload = payload, .expected = count};
    r.ids = calloc (count ? count : 1, PROTO_UUID_SIZE);
    r.resend = (size_t *)calloc (count ? count : 1, sizeof (size_t));
    r.t0 = r.t_last = r.t_reply = proto_now_usec ();
    int64_t progress = zclock_mono ();
    while (b->completed + b->other < r.expected && !s_interrupted) {
        s_batch_fill (&r);
        zmq_pollitem_t items[2] = {
            {zsock_resolve (bus_client_sock (c->api)), 0, ZMQ_POLLIN, 0},
            {zsock_resolve (bus_sub_sock (c->sub)), 0, ZMQ_POLLIN, 0}};
        zmq_poll (items, 2, 100);
        if (s_batch_drain (&r))
            progress = zclock_mono ();
        else if (zclock_mono () - progress > S_STALL_MS) {
            b->timed_out = true;
            break;
        }
    }
    bus_client_forget (c->api, NULL);
    b->seconds = (double)(r.t_last - r.t0) / 1e6;
    b->submit_s = (double)(r.t_reply - r.t0) / 1e6;
    free (r.ids);
    free (r.resend);
}

static double
s_rate (const s_batch_t *b)
{
    size_t n = b->completed + b->other;
    return b->seconds > 0 ? (double)n / b->seconds : 0;
}

static void
s_batch_report (const char *label, const s_batch_t *b)
{
    if (b->timed_out)
        printf ("  %s: TIMEOUT: no progress for %d s; %zu of %zu ended, %zu accepted\n",
                label, S_STALL_MS / 1000, b->completed + b->other, b->count, b->accepted);
    if (s_interrupted)
        printf ("  %s: interrupted\n", label);
    if (b->other || b->rejected || b->resent)
        printf ("  %s: %zu completed, %zu other terminal (failed...), %zu rejected, "
                "%zu resent (unavailable)\n",
                label, b->completed, b->other, b->rejected, b->resent);
}

//  ---------------------------------------------------------------------------
//  Raw baseline: `count` runs of /bin/sh -c 'echo hello', `parallel` in
//  flight; each one's stdout read through a pipe until EOF (polled), then it
//  is reaped with waitpid, as the worker does.

static int64_t
s_rusage_usec (int who)
{
    struct rusage usage;
    getrusage (who, &usage);
    return (int64_t)usage.ru_utime.tv_sec * 1000000 + usage.ru_utime.tv_usec +
           (int64_t)usage.ru_stime.tv_sec * 1000000 + usage.ru_stime.tv_usec;
}

//  Returns runs/s; `cpu` gets the CPU it used (this process and the shells,
//  % of one cpu).
static double
s_raw_spawn (size_t count, int parallel, double *cpu)
{
    int64_t cpu0 = s_rusage_usec (RUSAGE_SELF) + s_rusage_usec (RUSAGE_CHILDREN);
    char *argv[] = {"/bin/sh", "-c", "echo hello", NULL};
    struct pollfd *fds = (struct pollfd *)calloc ((size_t)parallel, sizeof *fds);
    pid_t *pids = (pid_t *)calloc ((size_t)parallel, sizeof *pids);
    for (int i = 0; i < parallel; i++)
        fds[i].fd = -1;
    int64_t t0 = proto_now_usec ();
    size_t started = 0, finished = 0;
    int running = 0;
    while (finished < count && !s_interrupted) {
        for (int i = 0; i < parallel && started < count; i++) {
            if (fds[i].fd >= 0)
                continue;
            int pipe_fds[2];
            if (pipe2 (pipe_fds, O_CLOEXEC) != 0)
                goto done;
            posix_spawn_file_actions_t actions;
            posix_spawn_file_actions_init (&actions);
            posix_spawn_file_actions_adddup2 (&actions, pipe_fds[1], 1);
            int rc = posix_spawn (&pids[i], argv[0], &actions, NULL, argv, environ);
            posix_spawn_file_actions_destroy (&actions);
            close (pipe_fds[1]);
            if (rc != 0) {
                close (pipe_fds[0]);
                goto done;
            }
            fds[i].fd = pipe_fds[0];
            fds[i].events = POLLIN;
            started++;
            running++;
        }
        if (poll (fds, (nfds_t)parallel, 1000) <= 0)
            continue;
        for (int i = 0; i < parallel; i++)
            if (fds[i].fd >= 0 && fds[i].revents) {
                char buffer[256];
                if (read (fds[i].fd, buffer, sizeof buffer) <= 0) {
                    //  EOF: the shell is exiting
                    close (fds[i].fd);
                    fds[i].fd = -1;
                    waitpid (pids[i], NULL, 0);
                    running--;
                    finished++;
                }
            }
    }
done:
    for (int i = 0; i < parallel; i++)
        if (fds[i].fd >= 0) {
            close (fds[i].fd);
            waitpid (pids[i], NULL, 0);
        }
    free (fds);
    free (pids);
    double seconds = (double)(proto_now_usec () - t0) / 1e6;
    int64_t used = s_rusage_usec (RUSAGE_SELF) + s_rusage_usec (RUSAGE_CHILDREN) - cpu0;
    *cpu = seconds > 0 ? (double)used / 1e4 / seconds : 0;
    return seconds > 0 ? (double)finished / seconds : 0;
}

//  Median time of a 4 KiB write + fdatasync in `dir` (ms): what one durable
//  commit costs at least on this disk.
static double
s_fsync_ms (const char *dir)
{
    char path[4200];
    snprintf (path, sizeof path, "%s/fsync-probe", dir);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0)
        return 0;
    char block[4096];
    memset (block, 'x', sizeof block);
    int64_t times[50];
    int n = 0;
    for (int i = 0; i < 50; i++) {
        int64_t t0 = proto_now_usec ();
        if (pwrite (fd, block, sizeof block, (off_t)i * 4096) != (ssize_t)sizeof block ||
            fdatasync (fd) != 0)
            break;
        times[n++] = proto_now_usec () - t0;
    }
    close (fd);
    unlink (path);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && times[j] < times[j - 1]; j--) {
            int64_t t = times[j];
            times[j] = times[j - 1];
            times[j - 1] = t;
        }
    return n ? (double)times[n / 2] / 1000.0 : 0;
}

//  The 1, 5 and 15 minute load averages (other work on the machine skews
//  every number here).
static void
s_loadavg (char *out, size_t size)
{
    snprintf (out, size, "?");
    FILE *file = fopen ("/proc/loadavg", "r");
    if (!file)
        return;
    double a, b, c;
    if (fscanf (file, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf (out, size, "%.2f %.2f %.2f", a, b, c);
    fclose (file);
}

//  ---------------------------------------------------------------------------

static int
s_write_packs (void)
{
    char path[4400], target[4200];
    snprintf (path, sizeof path, "%s/packs", s_root);
    if (s_mkdir (path) != 0)
        return -1;
    snprintf (target, sizeof target, "%s/packs/core", ATTUNE_SOURCE_DIR);
    snprintf (path, sizeof path, "%s/packs/core", s_root);
    if (symlink (target, path) != 0) {
        fprintf (stderr, "scale-bench: cannot link %s: %s\n", target, strerror (errno));
        return -1;
    }
    const char *dirs[] = {"packs/bench", "packs/bench/actions", "packs/bench/triggers",
                          "packs/bench/rules"};
    for (int i = 0; i < 4; i++) {
        snprintf (path, sizeof path, "%s/%s", s_root, dirs[i]);
        if (s_mkdir (path) != 0)
            return -1;
    }
    const char *files[][2] = {
        {"pack.yaml", "ref: bench\nname: bench\nversion: 1.0.0\n"},
        {"actions/hello.yaml",
         "name: hello\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n"
         "    type: string\n    default: echo hello\n    immutable: true\n"},
        {"triggers/shell.yaml", "name: shell\npack: bench\n"},
        {"triggers/noop.yaml", "name: noop\npack: bench\n"},
        {"rules/shell.yaml", "name: shell\npack: bench\nenabled: true\ntrigger:\n"
                             "  type: bench.shell\naction:\n  ref: bench.hello\n"},
        {"rules/noop.yaml", "name: noop\npack: bench\nenabled: true\ntrigger:\n"
                            "  type: bench.noop\naction:\n  ref: core.noop\n"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf (path, sizeof path, "%s/packs/bench/%s", s_root, files[i][0]);
        if (s_write (path, files[i][1]) != 0)
            return -1;
    }
    return 0;
}

//  The two ways in: api.execution.run {action}, or api.event.publish
//  {trigger, payload} of a trigger whose rule runs the same action.
#define S_VIAS 2
static const char *s_via_names[S_VIAS] = {"run", "event"};

typedef struct {
    bool ok;
    s_batch_t batch;
    s_cpu_use_t cpu;
} s_result_t;

//  One deployment; for each way in, a warm-up and one timed batch of
//  `count`. Fills out[S_VIAS]; returns 0, or -1 (something failed).
static int
s_measure (const char *tag, int workers, int slots, const char *runtimes,
           const char *action, const char *trigger, size_t count, size_t warmup,
           s_result_t *out)
{
    s_deploy_t deploy;
    s_client_t client = {0};
    int rc = -1;
    msgpack_sbuffer payloads[S_VIAS];
    for (int v = 0; v < S_VIAS; v++) {
        msgpack_sbuffer_init (&payloads[v]);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &payloads[v], msgpack_sbuffer_write);
        msgpack_pack_map (&pk, v == 0 ? 1 : 2);
        proto_pack_str (&pk, v == 0 ? "action" : "trigger");
        proto_pack_str (&pk, v == 0 ? action : trigger);
        if (v == 1) {
            proto_pack_str (&pk, "payload");
            msgpack_pack_map (&pk, 0);
        }
    }
    const char *types[S_VIAS] = {"api.execution.run", "api.event.publish"};
    printf ("  [%s] a core and %d worker process%s (%d slots, %s)\n", tag, workers,
            workers == 1 ? "" : "es", slots, runtimes);
    fflush (stdout);
    if (s_deploy_start (&deploy, tag, workers, slots, runtimes) != 0 ||
        s_client_open (&client, &deploy) != 0 ||
        s_wait_workers (&client, (size_t)workers) != 0)
        goto out;
    rc = 0;
    for (int v = 0; v < S_VIAS && !s_interrupted; v++) {
        //  Warm-up: also makes sure the fact subscription is in place
        s_batch_t warm;
        s_batch (&client, types[v], &payloads[v], warmup, &warm);
        if (warm.timed_out || warm.completed + warm.other < warmup) {
            s_batch_report ("warm-up", &warm);
            rc = -1;
            continue;
        }
        s_cpu_snap_t snap;
        s_snap (&deploy, &snap);
        s_batch_t *batch = &out[v].batch;
        s_batch (&client, types[v], &payloads[v], count, batch);
        out[v].cpu = s_cpu_use (&deploy, &snap);
        out[v].ok = !batch->timed_out && !s_interrupted;
        char label[64];
        snprintf (label, sizeof label, "%s %s", tag, s_via_names[v]);
        s_batch_report (label, batch);
        printf ("  [%s] %-5s %zu executions in %.2f s (%.0f/s); requests accepted at "
                "%.0f/s\n",
                tag, s_via_names[v], batch->completed + batch->other, batch->seconds,
                s_rate (batch),
                batch->submit_s > 0 ? (double)batch->accepted / batch->submit_s : 0);
        fflush (stdout);
        if (!out[v].ok)
            rc = -1;
    }
out:
    for (int v = 0; v < S_VIAS; v++)
        msgpack_sbuffer_destroy (&payloads[v]);
    s_client_close (&client);
    s_deploy_stop (&deploy);
    return rc;
}

static void
s_cpu_columns (char *out, size_t size, const s_cpu_use_t *cpu, bool shells)
{
    char core[32], sh[16] = "";
    snprintf (core, sizeof core, "%.0f%% [%.0f%%]", cpu->core, cpu->core_thread);
    if (shells)
        snprintf (sh, sizeof sh, " %5.0f%%", cpu->shells);
    snprintf (out, size, "%-14s %7.0f%%%s %5.0f%% %5.0f%% %5.0f%%", core, cpu->workers,
              sh, cpu->bench, cpu->other, cpu->idle);
}

int
main (int argc, char *argv[])
{
    size_t shell = 2000, noop = 20000;
    int slots = 4, fleet = 50;
    int counts[16] = {1, 2, 4}, ncounts = 3;
    bool quick = false, shell_set = false, noop_set = false;
    const char *dir = "/var/tmp", *attuned = NULL;
    static struct option options[] = {
        {"shell", required_argument, 0, 's'},   {"workers", required_argument, 0, 'w'},
        {"slots", required_argument, 0, 'S'},   {"fleet", required_argument, 0, 'f'},
        {"noop", required_argument, 0, 'n'},    {"dir", required_argument, 0, 'd'},
        {"attuned", required_argument, 0, 'a'}, {"quick", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int option;
    while ((option = getopt_long (argc, argv, "s:w:S:f:n:d:a:qh", options, NULL)) != -1) {
        switch (option) {
            case 's':
                shell = strtoul (optarg, NULL, 10);
                shell_set = true;
                break;
            case 'w': {
                ncounts = 0;
                char *copy = strdup (optarg), *save = NULL;
                for (char *item = strtok_r (copy, ",", &save); item && ncounts < 16;
                     item = strtok_r (NULL, ",", &save))
                    counts[ncounts++] = atoi (item);
                free (copy);
                break;
            }
            case 'S':
                slots = atoi (optarg);
                break;
            case 'f':
                fleet = atoi (optarg);
                break;
            case 'n':
                noop = strtoul (optarg, NULL, 10);
                noop_set = true;
                break;
            case 'd':
                dir = optarg;
                break;
            case 'a':
                attuned = optarg;
                break;
            case 'q':
                quick = true;
                break;
            default:
                printf (
                    "usage: attune-scale-bench [--shell N] [--workers LIST] [--slots S] "
                    "[--fleet W] [--noop N] [--dir DIR] [--attuned PATH] [--quick]\n");
                return option == 'h' ? 0 : 2;
        }
    }
    if (quick) {
        shell = shell_set ? shell : 300;
        noop = noop_set ? noop : 3000;
    }
    bool bad =
        shell == 0 || noop == 0 || slots < 1 || fleet < 1 || fleet > 200 || ncounts == 0;
    for (int i = 0; i < ncounts; i++)
        bad = bad || counts[i] < 1 || counts[i] > 64;
    if (bad) {
        fprintf (stderr, "attune-scale-bench: --shell, --noop, --slots must be > 0, "
                         "--fleet 1..200, --workers a list of 1..64\n");
        return 2;
    }
    if (attuned)
        snprintf (s_attuned, sizeof s_attuned, "%s", attuned);
    else {
        //  The attuned next to this binary
        char self[4096];
        const char *slash = strrchr (argv[0], '/');
        if (slash)
            snprintf (self, sizeof self, "%.*s", (int)(slash - argv[0]), argv[0]);
        else {
            ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
            self[n > 0 ? n : 0] = 0;
            char *end = strrchr (self, '/');
            if (end)
                *end = 0;
        }
        snprintf (s_attuned, sizeof s_attuned, "%s/attuned", *self ? self : ".");
    }
    char resolved[4096];
    if (!realpath (s_attuned, resolved) || access (resolved, X_OK) != 0) {
        fprintf (stderr, "attune-scale-bench: no attuned at %s (--attuned PATH)\n",
                 s_attuned);
        return 1;
    }
    snprintf (s_attuned, sizeof s_attuned, "%s", resolved);
    s_ticks = sysconf (_SC_CLK_TCK);

    zsys_init ();
    zsys_set_logstream (NULL);
    zsys_handler_set (NULL);
    struct sigaction action = {0};
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGHUP, &action, NULL);
    snprintf (s_root, sizeof s_root, "%s/attune-scale-XXXXXX", dir);
    if (!mkdtemp (s_root)) {
        fprintf (stderr, "attune-scale-bench: cannot create a directory under %s\n", dir);
        return 1;
    }
    atexit (s_cleanup);
    if (s_write_packs () != 0)
        return 1;

    struct utsname un;
    uname (&un);
    char model[256] = "?";
    FILE *cpuinfo = fopen ("/proc/cpuinfo", "r");
    char line[512];
    while (cpuinfo && fgets (line, sizeof line, cpuinfo))
        if (strncmp (line, "model name", 10) == 0) {
            char *colon = strchr (line, ':');
            snprintf (model, sizeof model, "%.200s", colon ? colon + 2 : line);
            model[strcspn (model, "\n")] = 0;
            break;
        }
    if (cpuinfo)
        fclose (cpuinfo);
    long nproc = sysconf (_SC_NPROCESSORS_ONLN);
    double fsync_ms = s_fsync_ms (s_root);
    char load_start[64];
    s_loadavg (load_start, sizeof load_start);
    printf ("attune-scale-bench: %ld cpus (%s), %s %s; 4 KiB write + fdatasync %.2f ms; "
            "attuned %s; durable stores; data in %s\n",
            nproc, model, un.sysname, un.release, fsync_ms, s_attuned, s_root);
    if (fsync_ms < 0.05)
        printf ("  (fdatasync under %s does not wait for a disk: tmpfs? the stores are "
                "durable in name only)\n",
                dir);

    //  Part 1: shell actions over 1, 2, 4 worker processes
    printf ("\n1. shell 'echo hello': %zu executions, %d slots per worker\n", shell,
            slots);
    s_result_t shell_results[16][S_VIAS];
    double raws[16], raw_cpu[16];
    memset (shell_results, 0, sizeof shell_results);
    memset (raws, 0, sizeof raws);
    memset (raw_cpu, 0, sizeof raw_cpu);
    for (int i = 0; i < ncounts && !s_interrupted; i++) {
        char tag[32];
        snprintf (tag, sizeof tag, "shell-%dw", counts[i]);
        s_measure (tag, counts[i], slots, "local-shell-cmd", "bench.hello", "bench.shell",
                   shell, 20, shell_results[i]);
        if (!s_interrupted) {
            raws[i] = s_raw_spawn (shell, counts[i] * slots, &raw_cpu[i]);
            printf ("  [%s] raw posix_spawn, %d in flight: %.0f/s (CPU %.0f%%)\n", tag,
                    counts[i] * slots, raws[i], raw_cpu[i]);
        }
    }

    //  Part 2: the executor's dispatch rate with a fleet of workers
    printf ("\n2. core.noop: %zu executions\n", noop);
    s_result_t noop_results[2][S_VIAS];
    memset (noop_results, 0, sizeof noop_results);
    char labels[2][64];
    snprintf (labels[0], sizeof labels[0], "%d workers x %d slots", fleet, S_FLEET_SLOT);
    snprintf (labels[1], sizeof labels[1], "1 worker x %d slots", fleet * S_FLEET_SLOT);
    for (int i = 0; i < 2 && !s_interrupted; i++)
        s_measure (i == 0 ? "noop-fleet" : "noop-one", i == 0 ? fleet : 1,
                   i == 0 ? S_FLEET_SLOT : fleet * S_FLEET_SLOT, "noop", "core.noop",
                   "bench.noop", noop, 200, noop_results[i]);

    //  Results
    char load_end[64];
    s_loadavg (load_end, sizeof load_end);
    printf ("\nresults: %ld cpus (%s); 4 KiB fdatasync %.2f ms; durable stores; load "
            "average at start %s, at end %s\n",
            nproc, model, fsync_ms, load_start, load_end);
    printf ("  via: run = api.execution.run {action}; event = api.event.publish of a "
            "trigger whose rule runs the action\n");
    printf (
        "  CPU: %% of one cpu over the timed interval: core = the core attuned "
        "[its busiest thread], workers = the worker attuneds,\n       sh = the shells "
        "they ran, bench = this process,\n       other = every other process on the "
        "machine, idle = idle cpu time (of %ld00%%)\n",
        nproc);
    printf ("\n  shell 'echo hello', %zu executions\n", shell);
    printf ("  %-8s %5s %-5s %9s %12s %6s   %-14s %8s %6s %6s %6s %6s\n", "workers",
            "slots", "via", "exec/s", "raw spawn/s", "ratio", "core [thread]", "workers",
            "sh", "bench", "other", "idle");
    bool all_ok = true;
    for (int i = 0; i < ncounts; i++)
        for (int v = 0; v < S_VIAS; v++) {
            s_result_t *r = &shell_results[i][v];
            all_ok = all_ok && r->ok;
            if (r->batch.completed + r->batch.other == 0) {
                printf ("  %-8d %5d %-5s %9s\n", counts[i], counts[i] * slots,
                        s_via_names[v], s_interrupted ? "interrupted" : "FAILED");
                continue;
            }
            char cpu[96];
            s_cpu_columns (cpu, sizeof cpu, &r->cpu, true);
            double rate = s_rate (&r->batch);
            printf ("  %-8d %5d %-5s %9.0f %12.0f %6.2f   %s%s\n", counts[i],
                    counts[i] * slots, s_via_names[v], rate, raws[i],
                    raws[i] > 0 ? rate / raws[i] : 0, cpu,
                    r->ok ? "" : "  (timeout: partial)");
        }
    printf ("  raw spawn/s: posix_spawn + read + waitpid of /bin/sh -c 'echo hello', "
            "workers x slots in flight, in this process; its CPU (loop + shells):");
    for (int i = 0; i < ncounts; i++)
        printf (" %d in flight %.0f%%%s", counts[i] * slots, raw_cpu[i],
                i + 1 < ncounts ? "," : "\n");
    printf ("\n  core.noop, %zu executions\n", noop);
    printf ("  %-22s %-5s %9s %18s   %-14s %8s %6s %6s %6s\n", "workers", "via", "exec/s",
            "per worker", "core [thread]", "workers", "bench", "other", "idle");
    for (int i = 0; i < 2; i++)
        for (int v = 0; v < S_VIAS; v++) {
            s_result_t *r = &noop_results[i][v];
            all_ok = all_ok && r->ok;
            if (r->batch.completed + r->batch.other == 0) {
                printf ("  %-22s %-5s %9s\n", labels[i], s_via_names[v],
                        s_interrupted ? "interrupted" : "FAILED");
                continue;
            }
            size_t min = (size_t)-1, max = 0, used = r->batch.workers;
            for (size_t w = 0; w < used; w++) {
                min = r->batch.per[w] < min ? r->batch.per[w] : min;
                max = r->batch.per[w] > max ? r->batch.per[w] : max;
            }
            size_t registered = i == 0 ? (size_t)fleet : 1;
            if (used < registered || min == (size_t)-1)
                min = 0; //  some worker got none
            char spread[96], cpu[96];
            if (registered > 1)
                snprintf (spread, sizeof spread, "%zu..%zu (%zu/%zu)", min, max, used,
                          registered);
            else
                snprintf (spread, sizeof spread, "%zu", max);
            s_cpu_columns (cpu, sizeof cpu, &r->cpu, false);
            printf ("  %-22s %-5s %9.0f %18s   %s%s\n", labels[i], s_via_names[v],
                    s_rate (&r->batch), spread, cpu, r->ok ? "" : "  (timeout: partial)");
        }
    printf ("  per worker: executions each worker completed, min..max (workers that got "
            "any / registered)\n");
    for (int v = 0; v < S_VIAS; v++)
        if (noop_results[0][v].ok && noop_results[1][v].ok &&
            s_rate (&noop_results[1][v].batch) > 0)
            printf ("  %-5s: %d workers run %.2fx the rate of 1 worker\n", s_via_names[v],
                    fleet,
                    s_rate (&noop_results[0][v].batch) /
                        s_rate (&noop_results[1][v].batch));
    fflush (stdout);
    return s_interrupted ? 130 : all_ok ? 0 : 1;
}
