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
#include "tools/attune_scale_bench.h"
static const char *s_via_names[SCALE_VIAS] = {"run", "event"};

typedef struct {
    bool ok;
    scale_batch_t batch;
    scale_cpu_use_t cpu;
} s_result_t;

//  One deployment; for each way in, a warm-up and one timed batch of
//  `count`. Fills out[SCALE_VIAS]; returns 0, or -1 (something failed).
static int
s_measure (const char *tag, int workers, int slots, const char *runtimes,
           const char *action, const char *trigger, size_t count, size_t warmup,
           s_result_t *out)
{
    scale_deploy_t deploy;
    scale_client_t client = {0};
    int rc = -1;
    msgpack_sbuffer payloads[SCALE_VIAS];
    for (int v = 0; v < SCALE_VIAS; v++) {
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
    const char *types[SCALE_VIAS] = {"api.execution.run", "api.event.publish"};
    printf ("  [%s] a core and %d worker process%s (%d slots, %s)\n", tag, workers,
            workers == 1 ? "" : "es", slots, runtimes);
    fflush (stdout);
    if (scale_deploy_start (&deploy, tag, workers, slots, runtimes) != 0 ||
        scale_client_open (&client, &deploy) != 0 ||
        scale_wait_workers (&client, (size_t)workers) != 0)
        goto out;
    rc = 0;
    for (int v = 0; v < SCALE_VIAS && !scale_interrupted; v++) {
        //  Warm-up: also makes sure the fact subscription is in place
        scale_batch_t warm;
        scale_batch (&client, types[v], &payloads[v], warmup, &warm);
        if (warm.timed_out || warm.completed + warm.other < warmup) {
            scale_batch_report ("warm-up", &warm);
            rc = -1;
            continue;
        }
        scale_cpu_snap_t snap;
        scale_snap (&deploy, &snap);
        scale_batch_t *batch = &out[v].batch;
        scale_batch (&client, types[v], &payloads[v], count, batch);
        out[v].cpu = scale_cpu_use (&deploy, &snap);
        out[v].ok = !batch->timed_out && !scale_interrupted;
        char label[64];
        snprintf (label, sizeof label, "%s %s", tag, s_via_names[v]);
        scale_batch_report (label, batch);
        printf ("  [%s] %-5s %zu executions in %.2f s (%.0f/s); requests accepted at "
                "%.0f/s\n",
                tag, s_via_names[v], batch->completed + batch->other, batch->seconds,
                scale_rate (batch),
                batch->submit_s > 0 ? (double)batch->accepted / batch->submit_s : 0);
        fflush (stdout);
        if (!out[v].ok)
            rc = -1;
    }
out:
    for (int v = 0; v < SCALE_VIAS; v++)
        msgpack_sbuffer_destroy (&payloads[v]);
    scale_client_close (&client);
    scale_deploy_stop (&deploy);
    return rc;
}

static void
s_cpu_columns (char *out, size_t size, const scale_cpu_use_t *cpu, bool shells)
{
    char core[32], sh[16] = "";
    snprintf (core, sizeof core, "%.0f%% [%.0f%%]", cpu->core, cpu->core_thread);
    if (shells)
        snprintf (sh, sizeof sh, " %5.0f%%", cpu->shells);
    snprintf (out, size, "%-14s %7.0f%%%s %5.0f%% %5.0f%% %5.0f%%", core, cpu->workers,
              sh, cpu->bench, cpu->other, cpu->idle);
}

//  ---------------------------------------------------------------------------
//  main, in steps

typedef struct {
    size_t shell, noop; //  executions of each part
    int slots, fleet;
    int counts[16], ncounts; //  worker processes of part 1
    const char *dir, *attuned;
    bool quick, shell_set, noop_set;
} s_options_t;

typedef struct {
    long nproc;
    char model[256];
    double fsync_ms;
    char load_start[64];
} s_machine_t;

typedef struct {
    s_result_t shell[16][SCALE_VIAS];
    double raws[16], raw_cpu[16];
    s_result_t noop[2][SCALE_VIAS];
    char labels[2][64];
} s_results_t;

//  One option. -1 to go on, or the exit code.
static int
s_option (s_options_t *o, int option, const char *arg)
{
    switch (option) {
        case 's':
            o->shell = strtoul (arg, NULL, 10);
            o->shell_set = true;
            break;
        case 'w': {
            o->ncounts = 0;
            char *copy = strdup (arg), *save = NULL;
            for (char *item = strtok_r (copy, ",", &save); item && o->ncounts < 16;
                 item = strtok_r (NULL, ",", &save))
                o->counts[o->ncounts++] = atoi (item);
            free (copy);
            break;
        }
        case 'S':
            o->slots = atoi (arg);
            break;
        case 'f':
            o->fleet = atoi (arg);
            break;
        case 'n':
            o->noop = strtoul (arg, NULL, 10);
            o->noop_set = true;
            break;
        case 'd':
            o->dir = arg;
            break;
        case 'a':
            o->attuned = arg;
            break;
        case 'q':
            o->quick = true;
            break;
        default:
            printf ("usage: attune-scale-bench [--shell N] [--workers LIST] [--slots S] "
                    "[--fleet W] [--noop N] [--dir DIR] [--attuned PATH] [--quick]\n");
            return option == 'h' ? 0 : 2;
    }
    return -1;
}

static int
s_parse (s_options_t *o, int argc, char *argv[])
{
    static struct option options[] = {
        {"shell", required_argument, 0, 's'},   {"workers", required_argument, 0, 'w'},
        {"slots", required_argument, 0, 'S'},   {"fleet", required_argument, 0, 'f'},
        {"noop", required_argument, 0, 'n'},    {"dir", required_argument, 0, 'd'},
        {"attuned", required_argument, 0, 'a'}, {"quick", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int option, rc = -1;
    while (rc < 0 &&
           (option = getopt_long (argc, argv, "s:w:S:f:n:d:a:qh", options, NULL)) != -1)
        rc = s_option (o, option, optarg);
    if (rc >= 0)
        return rc;
    if (o->quick) {
        o->shell = o->shell_set ? o->shell : 300;
        o->noop = o->noop_set ? o->noop : 3000;
    }
    bool bad = o->shell == 0 || o->noop == 0 || o->slots < 1 || o->fleet < 1 ||
               o->fleet > 200 || o->ncounts == 0;
    for (int i = 0; i < o->ncounts; i++)
        bad = bad || o->counts[i] < 1 || o->counts[i] > 64;
    if (bad) {
        fprintf (stderr, "attune-scale-bench: --shell, --noop, --slots must be > 0, "
                         "--fleet 1..200, --workers a list of 1..64\n");
        return 2;
    }
    return -1;
}

//  The attuned to run: --attuned, else the one next to this binary. -1 to
//  go on, or the exit code.
static int
s_find_attuned (const char *given, const char *argv0)
{
    if (given)
        snprintf (scale_attuned, sizeof scale_attuned, "%s", given);
    else {
        char self[4096];
        const char *slash = strrchr (argv0, '/');
        if (slash)
            snprintf (self, sizeof self, "%.*s", (int)(slash - argv0), argv0);
        else {
            ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
            self[n > 0 ? n : 0] = 0;
            char *end = strrchr (self, '/');
            if (end)
                *end = 0;
        }
        snprintf (scale_attuned, sizeof scale_attuned, "%s/attuned", *self ? self : ".");
    }
    char resolved[4096];
    if (!realpath (scale_attuned, resolved) || access (resolved, X_OK) != 0) {
        fprintf (stderr, "attune-scale-bench: no attuned at %s (--attuned PATH)\n",
                 scale_attuned);
        return 1;
    }
    snprintf (scale_attuned, sizeof scale_attuned, "%s", resolved);
    return -1;
}

//  Signals, the run's directory under `dir` (removed at exit), its packs.
//  -1 to go on, or the exit code.
static int
s_setup (const char *dir)
{
    scale_ticks = sysconf (_SC_CLK_TCK);
    zsys_init ();
    zsys_set_logstream (NULL);
    zsys_handler_set (NULL);
    struct sigaction action = {0};
    action.sa_handler = scale_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGHUP, &action, NULL);
    snprintf (scale_root, sizeof scale_root, "%s/attune-scale-XXXXXX", dir);
    if (!mkdtemp (scale_root)) {
        fprintf (stderr, "attune-scale-bench: cannot create a directory under %s\n", dir);
        return 1;
    }
    atexit (scale_cleanup);
    return scale_write_packs () != 0 ? 1 : -1;
}

//  The machine, said in the first line.
static void
s_machine (s_machine_t *m, const char *dir)
{
    struct utsname un;
    uname (&un);
    snprintf (m->model, sizeof m->model, "?");
    FILE *cpuinfo = fopen ("/proc/cpuinfo", "r");
    char line[512];
    while (cpuinfo && fgets (line, sizeof line, cpuinfo))
        if (strncmp (line, "model name", 10) == 0) {
            char *colon = strchr (line, ':');
            snprintf (m->model, sizeof m->model, "%.200s", colon ? colon + 2 : line);
            m->model[strcspn (m->model, "\n")] = 0;
            break;
        }
    if (cpuinfo)
        fclose (cpuinfo);
    m->nproc = sysconf (_SC_NPROCESSORS_ONLN);
    m->fsync_ms = scale_fsync_ms (scale_root);
    scale_loadavg (m->load_start, sizeof m->load_start);
    printf ("attune-scale-bench: %ld cpus (%s), %s %s; 4 KiB write + fdatasync %.2f ms; "
            "attuned %s; durable stores; data in %s\n",
            m->nproc, m->model, un.sysname, un.release, m->fsync_ms, scale_attuned,
            scale_root);
    if (m->fsync_ms < 0.05)
        printf ("  (fdatasync under %s does not wait for a disk: tmpfs? the stores are "
                "durable in name only)\n",
                dir);
}

//  Part 1: shell actions over 1, 2, 4 worker processes, and the raw spawn
//  rate with as many in flight.
static void
s_part_shell (const s_options_t *o, s_results_t *r)
{
    printf ("\n1. shell 'echo hello': %zu executions, %d slots per worker\n", o->shell,
            o->slots);
    for (int i = 0; i < o->ncounts && !scale_interrupted; i++) {
        char tag[32];
        snprintf (tag, sizeof tag, "shell-%dw", o->counts[i]);
        s_measure (tag, o->counts[i], o->slots, "local-shell-cmd", "bench.hello",
                   "bench.shell", o->shell, 20, r->shell[i]);
        if (!scale_interrupted) {
            int parallel = o->counts[i] * o->slots;
            r->raws[i] = scale_raw_spawn (o->shell, parallel, &r->raw_cpu[i]);
            printf ("  [%s] raw posix_spawn, %d in flight: %.0f/s (CPU %.0f%%)\n", tag,
                    parallel, r->raws[i], r->raw_cpu[i]);
        }
    }
}

//  Part 2: the executor's dispatch rate with a fleet of workers, and with
//  one worker of as many slots.
static void
s_part_noop (const s_options_t *o, s_results_t *r)
{
    printf ("\n2. core.noop: %zu executions\n", o->noop);
    snprintf (r->labels[0], sizeof r->labels[0], "%d workers x %d slots", o->fleet,
              SCALE_FLEET_SLOT);
    snprintf (r->labels[1], sizeof r->labels[1], "1 worker x %d slots",
              o->fleet * SCALE_FLEET_SLOT);
    for (int i = 0; i < 2 && !scale_interrupted; i++)
        s_measure (i == 0 ? "noop-fleet" : "noop-one", i == 0 ? o->fleet : 1,
                   i == 0 ? SCALE_FLEET_SLOT : o->fleet * SCALE_FLEET_SLOT, "noop",
                   "core.noop", "bench.noop", o->noop, 200, r->noop[i]);
}

static void
s_report_legend (const s_machine_t *m)
{
    char load_end[64];
    scale_loadavg (load_end, sizeof load_end);
    printf ("\nresults: %ld cpus (%s); 4 KiB fdatasync %.2f ms; durable stores; load "
            "average at start %s, at end %s\n",
            m->nproc, m->model, m->fsync_ms, m->load_start, load_end);
    printf ("  via: run = api.execution.run {action}; event = api.event.publish of a "
            "trigger whose rule runs the action\n");
    printf (
        "  CPU: %% of one cpu over the timed interval: core = the core attuned "
        "[its busiest thread], workers = the worker attuneds,\n       sh = the shells "
        "they ran, bench = this process,\n       other = every other process on the "
        "machine, idle = idle cpu time (of %ld00%%)\n",
        m->nproc);
}

//  Part 1's table; false when a batch failed.
static bool
s_report_shell (const s_options_t *o, s_results_t *r)
{
    printf ("\n  shell 'echo hello', %zu executions\n", o->shell);
    printf ("  %-8s %5s %-5s %9s %12s %6s   %-14s %8s %6s %6s %6s %6s\n", "workers",
            "slots", "via", "exec/s", "raw spawn/s", "ratio", "core [thread]", "workers",
            "sh", "bench", "other", "idle");
    bool all_ok = true;
    for (int i = 0; i < o->ncounts; i++)
        for (int v = 0; v < SCALE_VIAS; v++) {
            s_result_t *result = &r->shell[i][v];
            int parallel = o->counts[i] * o->slots;
            all_ok = all_ok && result->ok;
            if (result->batch.completed + result->batch.other == 0) {
                printf ("  %-8d %5d %-5s %9s\n", o->counts[i], parallel, s_via_names[v],
                        scale_interrupted ? "interrupted" : "FAILED");
                continue;
            }
            char cpu[96];
            s_cpu_columns (cpu, sizeof cpu, &result->cpu, true);
            double rate = scale_rate (&result->batch);
            printf ("  %-8d %5d %-5s %9.0f %12.0f %6.2f   %s%s\n", o->counts[i], parallel,
                    s_via_names[v], rate, r->raws[i],
                    r->raws[i] > 0 ? rate / r->raws[i] : 0, cpu,
                    result->ok ? "" : "  (timeout: partial)");
        }
    printf ("  raw spawn/s: posix_spawn + read + waitpid of /bin/sh -c 'echo hello', "
            "workers x slots in flight, in this process; its CPU (loop + shells):");
    for (int i = 0; i < o->ncounts; i++)
        printf (" %d in flight %.0f%%%s", o->counts[i] * o->slots, r->raw_cpu[i],
                i + 1 < o->ncounts ? "," : "\n");
    return all_ok;
}

//  "min..max (used/registered)" executions per worker.
static void
s_spread (const scale_batch_t *batch, size_t registered, char *out, size_t size)
{
    size_t min = (size_t)-1, max = 0, used = batch->workers;
    for (size_t w = 0; w < used; w++) {
        min = batch->per[w] < min ? batch->per[w] : min;
        max = batch->per[w] > max ? batch->per[w] : max;
    }
    if (used < registered || min == (size_t)-1)
        min = 0; //  some worker got none
    if (registered > 1)
        snprintf (out, size, "%zu..%zu (%zu/%zu)", min, max, used, registered);
    else
        snprintf (out, size, "%zu", max);
}

//  Part 2's table and the fleet's scaling; false when a batch failed.
static bool
s_report_noop (const s_options_t *o, s_results_t *r)
{
    printf ("\n  core.noop, %zu executions\n", o->noop);
    printf ("  %-22s %-5s %9s %18s   %-14s %8s %6s %6s %6s\n", "workers", "via", "exec/s",
            "per worker", "core [thread]", "workers", "bench", "other", "idle");
    bool all_ok = true;
    for (int i = 0; i < 2; i++)
        for (int v = 0; v < SCALE_VIAS; v++) {
            s_result_t *result = &r->noop[i][v];
            all_ok = all_ok && result->ok;
            if (result->batch.completed + result->batch.other == 0) {
                printf ("  %-22s %-5s %9s\n", r->labels[i], s_via_names[v],
                        scale_interrupted ? "interrupted" : "FAILED");
                continue;
            }
            char spread[96], cpu[96];
            s_spread (&result->batch, i == 0 ? (size_t)o->fleet : 1, spread,
                      sizeof spread);
            s_cpu_columns (cpu, sizeof cpu, &result->cpu, false);
            printf ("  %-22s %-5s %9.0f %18s   %s%s\n", r->labels[i], s_via_names[v],
                    scale_rate (&result->batch), spread, cpu,
                    result->ok ? "" : "  (timeout: partial)");
        }
    printf ("  per worker: executions each worker completed, min..max (workers that got "
            "any / registered)\n");
    for (int v = 0; v < SCALE_VIAS; v++)
        if (r->noop[0][v].ok && r->noop[1][v].ok && scale_rate (&r->noop[1][v].batch) > 0)
            printf ("  %-5s: %d workers run %.2fx the rate of 1 worker\n", s_via_names[v],
                    o->fleet,
                    scale_rate (&r->noop[0][v].batch) /
                        scale_rate (&r->noop[1][v].batch));
    return all_ok;
}

int
main (int argc, char *argv[])
{
    s_options_t o = {.shell = 2000,
                     .noop = 20000,
                     .slots = 4,
                     .fleet = 50,
                     .counts = {1, 2, 4},
                     .ncounts = 3,
                     .dir = "/var/tmp"};
    int rc = s_parse (&o, argc, argv);
    if (rc < 0)
        rc = s_find_attuned (o.attuned, argv[0]);
    if (rc < 0)
        rc = s_setup (o.dir);
    if (rc >= 0)
        return rc;
    s_machine_t machine;
    s_machine (&machine, o.dir);
    s_results_t *results = (s_results_t *)calloc (1, sizeof (s_results_t));
    if (!results)
        return 1;
    s_part_shell (&o, results);
    s_part_noop (&o, results);
    s_report_legend (&machine);
    bool shell_ok = s_report_shell (&o, results);
    bool noop_ok = s_report_noop (&o, results);
    fflush (stdout);
    free (results);
    return scale_interrupted ? 130 : shell_ok && noop_ok ? 0 : 1;
}
