/*  attune-pipeline-bench: events in, completed executions out, the whole
    pipeline in one process (registry, rules, executor, worker actors over
    inproc://, durable LMDB stores unless --no-fsync).

        attune-pipeline-bench [--events N] [--rate R] [--rate-events N]
                              [--shell N] [--python N]
                              [--actiontrigger N [--pairs K]] [--dir DIR]
                              [--no-fsync] [--quick] [--stages]
                              [--trace FILE]

    1. throughput: N events of trigger bench.event sent as fast as the
       reliable link allows; a rule maps each to core.noop; the run ends when
       N execution.completed facts have been seen. Latency is measured per
       event from its event.create envelope's ts (set just before sending) to
       the arrival of its execution.completed fact.
    2. latency at a fixed rate (default 1,000 events/s): p50/p99/max.
       --stages splits each run's latency at the executor's `requested`
       and `ended` times (from the execution.completed fact); --trace FILE
       writes each event of this run as a CSV row (i, sent, requested,
       ended, done; wall-clock us), to find what a tail event waited for.
    3. shell actions: N executions of a local-shell-cmd action running
       `echo hello`, against a raw posix_spawn + waitpid loop of
       `/bin/sh -c 'echo hello'` (sequential, and as many at a time as the
       worker has slots) measured in the same run.
    --python N instead runs only python-script actions: N executions of a
       StackStorm Action whose run() returns None (through attune's wrapper,
       python/attune_st2/wrapper.py), against a raw posix_spawn loop of
       `python3 -c pass` with as many at a time as the worker has slots.
    --actiontrigger N instead runs only the full rate of N events to
       core.noop without and with an enabled rule on
       core.st2.generic.actiontrigger (criteria status = failed, so it runs
       nothing: what it costs is an event per execution end, stored by the
       executor's outbox and the rules actor), in --pairs pairs (default
       5; each run on a fresh system after 2,000 events of warm-up, the
       order alternated): each pair's ratio with/without, their median
       (issue 19's target: >= 0.8), and each actor thread's CPU per
       execution.
    4. the raw library underneath, in the same run and data directory, so
       the figures above read as ratios: fdatasync of a file after writing
       1 and 16 scattered 4 KiB pages, and a "raw LMDB chain": three LMDB
       environments (default flags, so durable), one small put per
       transaction in each, in series (as the pipeline's three serial
       commits: rules, executor create + dispatch, executor completion), at
       the same rate as run 2: p50/p99 of the chain.
    The core.noop runs use a worker with --slots (256: in-process actions
    hold no resources), the shell run a separate daemon whose worker has
    --shell-slots (4).
*/
#include <czmq.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <lmdb.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "actors/actor.h"
#include "actors/executor/executor.h"
#include "actors/registry/registry.h"
#include "actors/rules/rules.h"
#include "actors/worker/worker.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"
#include "tools/attune_pipeline_bench_raw.h"

#ifndef ATTUNE_SOURCE_DIR
#define ATTUNE_SOURCE_DIR "."
#endif

extern char **environ;

static char s_root[4096];
static int s_slots = 256;     //  worker slots for the core.noop runs
static int s_shell_slots = 4; //  worker slots for the shell run
static bool s_stages;         //  print the per-stage latency of each run
static const char *s_trace;   //  --trace FILE: per-event times of the paced run

static void
s_write (const char *path, const char *text)
{
    char full[8192];
    snprintf (full, sizeof full, "%s/%s", s_root, path);
    char *slash = strrchr (full, '/');
    *slash = 0;
    char command[8300];
    snprintf (command, sizeof command, "mkdir -p '%s'", full);
    if (system (command) != 0)
        exit (1);
    *slash = '/';
    FILE *file = fopen (full, "w");
    if (!file) {
        fprintf (stderr, "bench: cannot write %s\n", full);
        exit (1);
    }
    fputs (text, file);
    fclose (file);
}

typedef struct {
    zactor_t *actors[4];
    bus_topology_t *topology;
    bus_link_t *link;
    bus_sub_t *sub;
    char ns[64];
} s_system_t;

static void
s_system_start (s_system_t *sys, const char *data, bool nosync)
{
    static int runs = 0;
    snprintf (sys->ns, sizeof sys->ns, "bench-%d", ++runs);
    sys->topology = bus_topology_new (sys->ns);
    char packs[4200];
    snprintf (packs, sizeof packs, "%s/packs", s_root);
    actor_config_t config = {.topology = sys->topology,
                             .data_dir = data,
                             .packs_dir = packs,
                             .host = "bench",
                             .worker_slots = s_slots,
                             .nosync = nosync};
    sys->sub = bus_sub_new (1000000);
    bus_sub_connect (sys->sub, bus_topology_connect (sys->topology, "executor.facts"));
    bus_sub_subscribe (sys->sub, "execution.completed");
    bus_sub_subscribe (sys->sub, "execution.failed");
    zactor_fn *fns[4] = {registry_actor, executor_actor, rules_actor, worker_actor};
    for (int i = 0; i < 4; i++) {
        sys->actors[i] = zactor_new (fns[i], &config);
        if (!sys->actors[i]) {
            fprintf (stderr, "bench: an actor failed to start\n");
            exit (1);
        }
    }
    bus_link_config_t link_config;
    bus_link_config_defaults (&link_config);
    link_config.window = 4096;
    sys->link = bus_link_new (bus_topology_connect (sys->topology, "rules.commands"),
                              "bench@bench", &link_config);
}

static void
s_system_stop (s_system_t *sys)
{
    bus_link_destroy (&sys->link);
    for (int i = 3; i >= 0; i--)
        zactor_destroy (&sys->actors[i]);
    bus_sub_destroy (&sys->sub);
    bus_topology_destroy (&sys->topology);
}

static void
s_send_event (s_system_t *sys, const char *trigger, int64_t n)
{
    //  {"trigger": trigger, "trigger_parameters": {}, "payload": {"n": n}},
    //  packed directly (the sender's cost is not the pipeline's)
    static msgpack_sbuffer buffer;
    msgpack_sbuffer_clear (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    size_t size = strlen (trigger);
    msgpack_pack_map (&pk, 3);
    msgpack_pack_str_with_body (&pk, "trigger", 7);
    msgpack_pack_str_with_body (&pk, trigger, size);
    msgpack_pack_str_with_body (&pk, "trigger_parameters", 18);
    msgpack_pack_map (&pk, 0);
    msgpack_pack_str_with_body (&pk, "payload", 7);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "n", 1);
    msgpack_pack_int64 (&pk, n);
    proto_envelope_t *event = proto_envelope_new ("event.create", "bench@bench");
    if (!event ||
        proto_envelope_set_payload (event, buffer.data, buffer.size, NULL) != PROTO_OK) {
        fprintf (stderr, "bench: cannot build an event\n");
        exit (1);
    }
    proto_envelope_set_ts (event, proto_now_usec ());
    while (bus_link_send (sys->link, &event) != 0)
        bus_link_handle (sys->link);
}

//  Times of one execution: the fact's arrival, and from its payload the
//  executor's `requested` (creation handled) and `ended` (completion handled)
typedef struct {
    int64_t done, requested, ended;
} s_times_t;

static int64_t
s_fact_int (proto_envelope_t *fact, const char *key)
{
    const msgpack_object *payload = proto_envelope_payload_object (fact);
    const msgpack_object *value = payload ? proto_map_get (payload, key) : NULL;
    if (value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)value->via.u64;
    return 0;
}

//  Read completion facts; record the times of each. Returns facts seen.
static size_t
s_drain (s_system_t *sys, s_times_t *times, size_t cap, size_t *seen, int timeout_ms)
{
    size_t got = 0;
    proto_envelope_t *fact;
    while ((fact = bus_sub_recv (sys->sub, NULL, got ? 0 : timeout_ms))) {
        //  Completion k is matched with send k (see s_run)
        if (*seen < cap) {
            times[*seen].done = proto_now_usec ();
            times[*seen].requested = s_fact_int (fact, "requested");
            times[*seen].ended = s_fact_int (fact, "ended");
        }
        (*seen)++;
        got++;
        proto_envelope_destroy (&fact);
    }
    return got;
}

//  Run `count` events of `trigger` at `rate` per second (0 = as fast as
//  possible). Latency is per event: send time of the k-th event to arrival of
//  the k-th completion (the pipeline is FIFO end to end for one sender and
//  one rule, and any reordering only moves values between events).
typedef struct {
    double rate, p50, p99; //  exec/s, ms
} s_result_t;

//  Send `count` events of `trigger`, paced at `rate` (0: as fast as it
//  goes), their send times into sent[]; completions drained meanwhile.
static void
s_run_send (s_system_t *sys, const char *trigger, size_t count, double rate,
            int64_t *sent, s_times_t *done, size_t *seen)
{
    int64_t t0 = proto_now_usec ();
    for (size_t i = 0; i < count; i++) {
        if (rate > 0) {
            int64_t due = t0 + (int64_t)((double)i * 1e6 / rate);
            while (proto_now_usec () < due) {
                //  Wait on the fact socket, so a completion is timestamped
                //  when it arrives, not when a sleep ends
                zmq_pollitem_t items[2] = {
                    {zsock_resolve (bus_sub_sock (sys->sub)), 0, ZMQ_POLLIN, 0},
                    {zsock_resolve (bus_link_sock (sys->link)), 0, ZMQ_POLLIN, 0}};
                //  Rounded up: a zero timeout would spin and take a core
                //  from the actors (an event goes out at most 1 ms late;
                //  its latency counts from when it actually went out)
                int64_t wait_ms = (due - proto_now_usec () + 999) / 1000;
                zmq_poll (items, 2, (long)(wait_ms > 0 ? wait_ms : 0));
                s_drain (sys, done, count, seen, 0);
                bus_link_handle (sys->link);
                bus_link_tick (sys->link);
            }
        }
        sent[i] = proto_now_usec ();
        s_send_event (sys, trigger, (int64_t)i);
        if ((i & 63) == 0) {
            bus_link_handle (sys->link);
            s_drain (sys, done, count, seen, 0);
        }
    }
}

//  --stages: p50/p99 of each stage of the `n` executions.
static void
s_run_stages (const int64_t *sent, const s_times_t *done, size_t n, int64_t *lat)
{
    //  sent -> requested: rules (commit included) and the executor's
    //  inbox; requested -> ended: the executor's create commit, dispatch,
    //  worker, report; ended -> fact: the completion commit and publish
    const char *names[3] = {"sent->requested", "requested->ended", "ended->fact"};
    printf ("  %-38s", "  stages p50/p99 (ms):");
    for (int stage = 0; stage < 3; stage++) {
        for (size_t i = 0; i < n; i++)
            lat[i] = stage == 0   ? done[i].requested - sent[i]
                     : stage == 1 ? done[i].ended - done[i].requested
                                  : done[i].done - done[i].ended;
        qsort (lat, n, sizeof (int64_t), bench_compare_i64);
        printf (" %s %.2f/%.2f", names[stage], bench_percentile (lat, n, 0.50) / 1000.0,
                bench_percentile (lat, n, 0.99) / 1000.0);
    }
    printf ("\n");
}

//  --trace FILE: every execution's times as CSV.
static void
s_run_trace (const int64_t *sent, const s_times_t *done, size_t n)
{
    FILE *file = fopen (s_trace, "w");
    if (!file) {
        fprintf (stderr, "bench: cannot write %s\n", s_trace);
        return;
    }
    fprintf (file, "i,sent,requested,ended,done\n");
    for (size_t i = 0; i < n; i++)
        fprintf (file, "%zu,%lld,%lld,%lld,%lld\n", i, (long long)sent[i],
                 (long long)done[i].requested, (long long)done[i].ended,
                 (long long)done[i].done);
    fclose (file);
}

static s_result_t
s_run (s_system_t *sys, const char *trigger, size_t count, double rate, const char *label)
{
    int64_t *sent = (int64_t *)calloc (count, sizeof (int64_t));
    s_times_t *done = (s_times_t *)calloc (count, sizeof (s_times_t));
    size_t seen = 0;
    int64_t t0 = proto_now_usec ();
    s_run_send (sys, trigger, count, rate, sent, done, &seen);
    int64_t deadline = zclock_mono () + 120000;
    while (seen < count && zclock_mono () < deadline) {
        bus_link_handle (sys->link);
        bus_link_tick (sys->link);
        s_drain (sys, done, count, &seen, 20);
    }
    int64_t t1 = proto_now_usec ();
    if (seen < count)
        printf ("  %s: only %zu of %zu executions completed in time\n", label, seen,
                count);
    size_t n = seen < count ? seen : count;
    int64_t *lat = (int64_t *)calloc (n ? n : 1, sizeof (int64_t));
    for (size_t i = 0; i < n; i++)
        lat[i] = done[i].done - sent[i];
    qsort (lat, n, sizeof (int64_t), bench_compare_i64);
    s_result_t result = {(double)n / ((double)(t1 - t0) / 1e6),
                         bench_percentile (lat, n, 0.50) / 1000.0,
                         bench_percentile (lat, n, 0.99) / 1000.0};
    printf (
        "  %-38s %9.0f exec/s   p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms\n", label,
        (double)n / ((double)(t1 - t0) / 1e6), bench_percentile (lat, n, 0.50) / 1000.0,
        bench_percentile (lat, n, 0.99) / 1000.0, n ? (double)lat[n - 1] / 1000.0 : 0);
    if (s_stages)
        s_run_stages (sent, done, n, lat);
    if (s_trace && rate > 0)
        s_run_trace (sent, done, n);
    free (lat);
    free (sent);
    free (done);
    return result;
}

//  ---------------------------------------------------------------------------
//  main, in steps

typedef struct {
    size_t events, shell, python, actiontrigger, pairs;
    double rate;
    size_t rate_events;
    bool nosync;
    const char *dir;
} s_options_t;

//  One option. -1 to go on, or the exit code.
static int
s_option (s_options_t *o, int option, const char *arg)
{
    switch (option) {
        case 'n':
            o->events = strtoul (arg, NULL, 10);
            break;
        case 'r':
            o->rate = atof (arg);
            break;
        case 'R':
            o->rate_events = strtoul (arg, NULL, 10);
            break;
        case 's':
            o->shell = strtoul (arg, NULL, 10);
            break;
        case 'd':
            o->dir = arg;
            break;
        case 'w':
            s_slots = atoi (arg);
            break;
        case 'S':
            s_shell_slots = atoi (arg);
            break;
        case 'p':
            o->python = strtoul (arg, NULL, 10);
            break;
        case 'a':
            o->actiontrigger = strtoul (arg, NULL, 10);
            break;
        case 'P':
            o->pairs = strtoul (arg, NULL, 10);
            break;
        case 'f':
            o->nosync = true;
            break;
        case 'g':
            s_stages = true;
            break;
        case 't':
            s_trace = arg;
            break;
        case 'q':
            o->events = 20000;
            o->shell = 500;
            o->rate_events = 2000;
            break;
        default:
            printf ("usage: attune-pipeline-bench [--events N] [--rate R] "
                    "[--rate-events N] [--shell N] [--python N] [--actiontrigger N] "
                    "[--pairs N] [--slots N] "
                    "[--shell-slots N] "
                    "[--dir DIR] [--no-fsync] [--quick] [--stages] [--trace FILE]\n");
            return option == 'h' ? 0 : 2;
    }
    return -1;
}

static int
s_parse (s_options_t *o, int argc, char *argv[])
{
    static struct option options[] = {{"events", required_argument, 0, 'n'},
                                      {"rate", required_argument, 0, 'r'},
                                      {"rate-events", required_argument, 0, 'R'},
                                      {"shell", required_argument, 0, 's'},
                                      {"dir", required_argument, 0, 'd'},
                                      {"slots", required_argument, 0, 'w'},
                                      {"shell-slots", required_argument, 0, 'S'},
                                      {"python", required_argument, 0, 'p'},
                                      {"actiontrigger", required_argument, 0, 'a'},
                                      {"pairs", required_argument, 0, 'P'},
                                      {"no-fsync", no_argument, 0, 'f'},
                                      {"quick", no_argument, 0, 'q'},
                                      {"stages", no_argument, 0, 'g'},
                                      {"trace", required_argument, 0, 't'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    int option, rc = -1;
    while (rc < 0 && (option = getopt_long (argc, argv, "n:r:R:s:d:w:S:t:p:a:P:fqgh",
                                            options, NULL)) != -1)
        rc = s_option (o, option, optarg);
    if (rc >= 0)
        return rc;
    if (o->events == 0 || o->rate <= 0 || o->rate_events == 0 || s_slots < 1 ||
        s_shell_slots < 1 || o->shell == 0 || o->pairs == 0 || o->pairs > 50) {
        fprintf (
            stderr,
            "attune-pipeline-bench: --events, --rate, --rate-events, --shell and the "
            "slots must be > 0, --pairs 1 to 50\n");
        return 2;
    }
    return -1;
}

//  The run's directory and its packs. -1 to go on, or the exit code.
static int
s_setup (const char *dir)
{
    snprintf (s_root, sizeof s_root, "%s/attune-pipeline-XXXXXX", dir ? dir : "/var/tmp");
    if (!mkdtemp (s_root)) {
        fprintf (stderr, "bench: cannot create a directory under %s\n",
                 dir ? dir : "/var/tmp");
        return 1;
    }
    char link_target[4200], link_path[4200];
    snprintf (link_target, sizeof link_target, "%s/packs/core", ATTUNE_SOURCE_DIR);
    s_write ("packs/bench/pack.yaml", "ref: bench\nname: bench\nversion: 1.0.0\n");
    snprintf (link_path, sizeof link_path, "%s/packs/core", s_root);
    if (symlink (link_target, link_path) != 0) {
        fprintf (stderr, "bench: cannot link %s\n", link_target);
        return 1;
    }
    s_write ("packs/bench/triggers/event.yaml", "name: event\npack: bench\n");
    s_write ("packs/bench/triggers/shell.yaml", "name: shell\npack: bench\n");
    s_write ("packs/bench/actions/hello.yaml",
             "name: hello\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n"
             "    type: string\n    default: echo hello\n    immutable: true\n");
    s_write ("packs/bench/rules/noop.yaml",
             "name: noop\npack: bench\nenabled: true\ntrigger:\n  type: bench.event\n"
             "action:\n  ref: core.noop\n");
    s_write ("packs/bench/rules/shell.yaml",
             "name: shell\npack: bench\nenabled: true\ntrigger:\n  type: bench.shell\n"
             "action:\n  ref: bench.hello\n");
    s_write ("packs/bench/triggers/python.yaml", "name: python\npack: bench\n");
    s_write ("packs/bench/actions/pynoop.yaml",
             "name: pynoop\nrunner_type: python-script\nentry_point: pynoop.py\n");
    s_write ("packs/bench/actions/pynoop.py",
             "from st2common.runners.base_action import Action\n\n"
             "class Noop(Action):\n    def run(self):\n        return None\n");
    s_write ("packs/bench/rules/python.yaml",
             "name: python\npack: bench\nenabled: true\ntrigger:\n  type: bench.python\n"
             "action:\n  ref: bench.pynoop\n");
    return -1;
}

//  Events to core.noop: full rate, then paced; against the raw library in
//  the same run on the same disk.
static void
s_part_events (const s_options_t *o)
{
    char data[4200];
    snprintf (data, sizeof data, "%s/data", s_root);
    s_system_t sys = {0};
    s_system_start (&sys, data, o->nosync);
    s_run (&sys, "bench.event", 200, 0, "warm-up (200 events)");
    char label[96];
    snprintf (label, sizeof label, "events -> core.noop, full rate (%zu)", o->events);
    s_result_t full = s_run (&sys, "bench.event", o->events, 0, label);
    snprintf (label, sizeof label, "events -> core.noop at %.0f/s (%zu)", o->rate,
              o->rate_events);
    s_result_t paced = s_run (&sys, "bench.event", o->rate_events, o->rate, label);
    s_system_stop (&sys);
    if (o->nosync)
        return;
    double p50_1, p99_1, p50_16, p99_16;
    bench_raw_fdatasync (s_root, o->rate_events / 2, 1, &p50_1, &p99_1);
    bench_raw_fdatasync (s_root, o->rate_events / 2, 16, &p50_16, &p99_16);
    printf ("  raw fdatasync after 1 page: p50 %.2f ms p99 %.2f ms; after 16 "
            "scattered pages: p50 %.2f ms p99 %.2f ms\n",
            p50_1, p99_1, p50_16, p99_16);
    s_result_t raw = {0, 0, 0};
    bench_raw_lmdb_chain (s_root, o->rate_events, o->rate, &raw.p50, &raw.p99);
    printf ("  pipeline at %.0f/s vs the raw LMDB chain: p50 %.2fx, p99 %.2fx; full "
            "rate %.0f exec/s (target >= 20000), p99 %.2f ms (target <= 5)\n",
            o->rate, raw.p50 > 0 ? paced.p50 / raw.p50 : 0,
            raw.p99 > 0 ? paced.p99 / raw.p99 : 0, full.rate, paced.p99);
}

//  Shell actions on a worker with few slots, as for real processes
static void
s_part_shell (const s_options_t *o)
{
    s_slots = s_shell_slots;
    char data[4200], label[96];
    snprintf (data, sizeof data, "%s/data-shell", s_root);
    s_system_t sys = {0};
    s_system_start (&sys, data, o->nosync);
    s_run (&sys, "bench.shell", 20, 0, "warm-up (20 shell)");
    int64_t t0 = proto_now_usec ();
    snprintf (label, sizeof label, "events -> shell 'echo hello' (%zu)", o->shell);
    s_run (&sys, "bench.shell", o->shell, 0, label);
    double ours = (double)o->shell / ((double)(proto_now_usec () - t0) / 1e6);
    s_system_stop (&sys);
    double raw1 = bench_raw_spawn (o->shell, 1);
    double rawn = bench_raw_spawn (o->shell, s_slots);
    printf ("  shell executions: %.0f/s; raw posix_spawn sh -c 'echo hello': %.0f/s "
            "sequential, %.0f/s %d at a time; ratio %.2f vs the parallel loop (target >= "
            "0.70)\n",
            ours, raw1, rawn, s_slots, ours / rawn);
}

//  python-script actions through the wrapper, against python3 -c pass
static void
s_part_python (const s_options_t *o)
{
    s_slots = s_shell_slots;
    char data[4200], label[96];
    snprintf (data, sizeof data, "%s/data-python", s_root);
    s_system_t sys = {0};
    s_system_start (&sys, data, o->nosync);
    s_run (&sys, "bench.python", 10, 0, "warm-up (10 python)");
    int64_t t0 = proto_now_usec ();
    snprintf (label, sizeof label, "events -> python-script Action.run (%zu)", o->python);
    s_run (&sys, "bench.python", o->python, 0, label);
    double ours = (double)o->python / ((double)(proto_now_usec () - t0) / 1e6);
    s_system_stop (&sys);
    char *argv[] = {"/usr/bin/python3", "-c", "pass", NULL};
    double raw1 = bench_raw_spawn_argv (o->python, 1, argv);
    double rawn = bench_raw_spawn_argv (o->python, s_slots, argv);
    printf ("  python-script executions: %.1f/s; raw posix_spawn python3 -c pass: "
            "%.1f/s sequential, %.1f/s %d at a time; ratio %.2f vs the parallel loop "
            "(target >= 0.70)\n",
            ours, raw1, rawn, s_slots, ours / rawn);
}

//  CPU time of this process (every actor's thread), microseconds
static int64_t
s_cpu_usec (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return (int64_t)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
           usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

static int
s_compare_double (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

//  CPU time by thread name (actor threads are named a-<actor>), in
//  microseconds, read from /proc/self/task: the figure that says which
//  actor a change costs or saves.
#define S_THREADS 12
typedef struct {
    char name[S_THREADS][20];
    double usec[S_THREADS]; //  user and system
    double sys[S_THREADS];  //  system (the kernel: writes, fsync, wakeups)
    size_t count;
} s_threads_t;

static void
s_threads_add (s_threads_t *t, const char *name, double usec, double sys)
{
    size_t i = 0;
    while (i < t->count && strcmp (t->name[i], name) != 0)
        i++;
    if (i == t->count) {
        if (t->count == S_THREADS)
            return;
        snprintf (t->name[t->count++], sizeof t->name[0], "%s", name);
    }
    t->usec[i] += usec;
    t->sys[i] += sys;
}

static void
s_threads_read (s_threads_t *t)
{
    memset (t, 0, sizeof *t);
    DIR *dir = opendir ("/proc/self/task");
    struct dirent *entry;
    double tick_usec = 1e6 / (double)sysconf (_SC_CLK_TCK);
    while (dir && (entry = readdir (dir))) {
        char path[300], line[1024], name[20] = "";
        snprintf (path, sizeof path, "/proc/self/task/%s/stat", entry->d_name);
        FILE *file = fopen (path, "r");
        size_t size = file ? fread (line, 1, sizeof line - 1, file) : 0;
        if (file)
            fclose (file);
        line[size] = 0;
        char *open = strchr (line, '('), *close = strrchr (line, ')');
        unsigned long utime, stime;
        if (!open || !close || close - open > 19 ||
            sscanf (close + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %lu",
                    &utime, &stime) != 2)
            continue;
        memcpy (name, open + 1, (size_t)(close - open - 1));
        name[close - open - 1] = 0;
        s_threads_add (t, name, (double)(utime + stime) * tick_usec,
                       (double)stime * tick_usec);
    }
    if (dir)
        closedir (dir);
}

//  One run of the actiontrigger part: a system with or without the rule, a
//  warm-up, then N events at full rate. Its rate; *cpu: us per execution,
//  and each thread's CPU added to `threads`.
static double
s_actiontrigger_run (const s_options_t *o, int run, bool with, double *cpu,
                     s_threads_t *threads)
{
    char data[4200], rule[4300], label[96];
    snprintf (data, sizeof data, "%s/data-at%d", s_root, run);
    snprintf (rule, sizeof rule, "%s/packs/bench/rules/after.yaml", s_root);
    if (with)
        s_write ("packs/bench/rules/after.yaml",
                 "name: after\npack: bench\n"
                 "trigger: {type: core.st2.generic.actiontrigger}\n"
                 "criteria:\n  trigger.status: {type: equals, pattern: failed}\n"
                 "action: {ref: core.noop}\n");
    else
        unlink (rule);
    s_system_t sys = {0};
    s_system_start (&sys, data, o->nosync);
    s_run (&sys, "bench.event", 2000, 0, "warm-up (2000 events)");
    snprintf (label, sizeof label, "full rate (%zu), %s actiontrigger rule",
              o->actiontrigger, with ? "with an" : "no");
    s_threads_t before, after;
    s_threads_read (&before);
    int64_t cpu0 = s_cpu_usec ();
    double rate = s_run (&sys, "bench.event", o->actiontrigger, 0, label).rate;
    *cpu = (double)(s_cpu_usec () - cpu0) / (double)o->actiontrigger;
    s_threads_read (&after);
    for (size_t i = 0; i < before.count; i++)
        s_threads_add (&after, before.name[i], -before.usec[i], -before.sys[i]);
    printf ("    CPU per execution by actor thread:");
    for (size_t i = 0; i < after.count; i++)
        if (strncmp (after.name[i], "a-", 2) == 0 && after.usec[i] > 0) {
            s_threads_add (threads, after.name[i], after.usec[i], after.sys[i]);
            printf (" %s %.1f us (sys %.1f)", after.name[i],
                    after.usec[i] / (double)o->actiontrigger,
                    after.sys[i] / (double)o->actiontrigger);
        }
    printf ("\n");
    s_system_stop (&sys);
    return rate;
}

static double
s_median (double *values, size_t count)
{
    qsort (values, count, sizeof (double), s_compare_double);
    size_t mid = count / 2;
    return count % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

//  The full rate without and with a rule on actiontrigger, in --pairs
//  pairs (each run on a fresh system; without first in odd pairs, with
//  first in even ones): each pair's ratio,
//  and their median, the figure that a run or two of a shared disk's slow
//  fsyncs do not move; the CPU time per execution (steadier than rates),
//  and by thread
static void
s_part_actiontrigger (const s_options_t *o)
{
    double ratios[50], cpu_ratios[50], sums[2] = {0, 0};
    s_threads_t threads[2] = {{{{0}}}};
    for (size_t pair = 0; pair < o->pairs; pair++) {
        double rate[2], cpu[2];
        //  ABBA: a pair's second run never always has the rule (what the
        //  first one left behind, the disk's writeback, falls on both)
        for (int run = 0; run < 2; run++) {
            int with = (int)(pair % 2) ^ run;
            rate[with] = s_actiontrigger_run (o, (int)pair * 2 + run, with, &cpu[with],
                                              &threads[with]);
            sums[with] += rate[with];
        }
        ratios[pair] = rate[0] > 0 ? rate[1] / rate[0] : 0;
        cpu_ratios[pair] = cpu[1] > 0 ? cpu[0] / cpu[1] : 0;
        printf ("  pair %zu: %.0f / %.0f exec/s = %.2f; CPU per execution %.1f / %.1f us "
                "= %.2f\n",
                pair + 1, rate[1], rate[0], ratios[pair], cpu[1], cpu[0],
                cpu_ratios[pair]);
    }
    double runs = (double)(o->pairs * o->actiontrigger);
    printf ("  CPU per execution by thread, with / without the rule:");
    for (size_t i = 0; i < threads[1].count; i++) {
        size_t j = 0;
        while (j < threads[0].count && strcmp (threads[0].name[j], threads[1].name[i]))
            j++;
        bool both = j < threads[0].count;
        printf (" %s %.1f / %.1f us (sys %.1f / %.1f);", threads[1].name[i],
                threads[1].usec[i] / runs, both ? threads[0].usec[j] / runs : 0,
                threads[1].sys[i] / runs, both ? threads[0].sys[j] / runs : 0);
    }
    double median = s_median (ratios, o->pairs);
    printf ("\n  full rate with an actiontrigger rule / without: %.0f / %.0f exec/s; "
            "median of %zu pairs %.2f (lowest %.2f, highest %.2f; target >= 0.8); "
            "CPU per execution, median ratio %.2f\n",
            sums[1] / (double)o->pairs, sums[0] / (double)o->pairs, o->pairs, median,
            ratios[0], ratios[o->pairs - 1], s_median (cpu_ratios, o->pairs));
}

int
main (int argc, char *argv[])
{
    s_options_t o = {
        .events = 100000, .shell = 2000, .rate = 1000, .rate_events = 5000, .pairs = 5};
    int rc = s_parse (&o, argc, argv);
    if (rc >= 0)
        return rc;
    zsys_init ();
    zsys_set_logstream (NULL);
    rc = s_setup (o.dir);
    if (rc >= 0)
        return rc;
    printf ("attune-pipeline-bench: %s stores, data in %s, worker slots %d (noop), %d "
            "(shell)\n",
            o.nosync ? "NOT durable (--no-fsync)" : "durable (fsync)", s_root, s_slots,
            s_shell_slots);
    if (o.python)
        s_part_python (&o);
    else if (o.actiontrigger)
        s_part_actiontrigger (&o);
    else {
        s_part_events (&o);
        s_part_shell (&o);
    }
    char command[4200];
    snprintf (command, sizeof command, "rm -rf '%s'", s_root);
    if (system (command) != 0)
        fprintf (stderr, "bench: could not remove %s\n", s_root);
    return 0;
}
