/*  attune-soak: retention measured (issue 21), the pipeline in one process
    (registry, rules, executor, worker actors over inproc://, LMDB stores
    durable unless --no-fsync), events of bench.event mapped to core.noop.

        attune-soak soak  [--rate R] [--seconds S] [--ttl S] [--interval S]
                          [--every S] [--no-retention] [--dir DIR] [--no-fsync]
        attune-soak purge [--fill N] [--events M] [--dir DIR] [--no-fsync]

    soak: R events a second (default 500) for S seconds (default 120), with
    every TTL at --ttl (default 20 s) and a sweep every --interval (default
    2 s); every --every seconds (default 5) a line with the executions
    completed and the file size and used bytes of the executor's and the
    rules actor's data.mdb. --no-retention: the same without TTLs.
    Retention on, the files grow until the first TTL and then stay flat
    (LMDB reuses the pages freed).

    purge: N executions made (default 100,000), then M events (default
    20,000) as fast as the pipeline goes, twice: alone, and while an
    api.purge of every ended execution runs; the rates, their ratio, and
    how long the purge took and removed.
*/
#include <czmq.h>
#include <getopt.h>
#include <sys/stat.h>

#include "actors/actor.h"
#include "actors/executor/executor.h"
#include "actors/registry/registry.h"
#include "actors/rules/rules.h"
#include "actors/worker/worker.h"
#include "bus/bus_client.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"
#include "proto/proto_json.h"

#ifndef ATTUNE_SOURCE_DIR
#define ATTUNE_SOURCE_DIR "."
#endif

static char s_root[4096];

typedef struct {
    zactor_t *actors[4];
    bus_topology_t *topology;
    bus_link_t *link;
    bus_sub_t *sub;
    size_t completed;
} s_system_t;

static void
s_write (const char *path, const char *text)
{
    char full[8192], command[8300];
    snprintf (full, sizeof full, "%s/%s", s_root, path);
    char *slash = strrchr (full, '/');
    *slash = 0;
    snprintf (command, sizeof command, "mkdir -p '%s'", full);
    if (system (command) != 0)
        exit (1);
    *slash = '/';
    FILE *file = fopen (full, "w");
    if (!file)
        exit (1);
    fputs (text, file);
    fclose (file);
}

static void
s_packs (void)
{
    s_write ("packs/bench/pack.yaml", "ref: bench\nname: bench\nversion: 1.0.0\n");
    s_write ("packs/bench/triggers/event.yaml", "name: event\npack: bench\n");
    s_write ("packs/bench/rules/noop.yaml",
             "name: noop\npack: bench\nenabled: true\ntrigger:\n  type: bench.event\n"
             "action:\n  ref: core.noop\n");
    char link[4200];
    snprintf (link, sizeof link, "%s/packs/core", s_root);
    if (symlink (ATTUNE_SOURCE_DIR "/packs/core", link) != 0) {
        fprintf (stderr, "soak: cannot link the core pack\n");
        exit (1);
    }
}

static void
s_start (s_system_t *sys, const actor_config_t *base)
{
    sys->topology = bus_topology_new ("soak");
    char packs[4200], data[4200];
    snprintf (packs, sizeof packs, "%s/packs", s_root);
    snprintf (data, sizeof data, "%s/data", s_root);
    actor_config_t config = *base;
    config.topology = sys->topology;
    config.data_dir = strdup (data);
    config.packs_dir = strdup (packs);
    config.host = "soak";
    config.worker_slots = 256;
    sys->sub = bus_sub_new (1000000);
    bus_sub_connect (sys->sub, bus_topology_connect (sys->topology, "executor.facts"));
    bus_sub_subscribe (sys->sub, "execution.completed");
    zactor_fn *fns[4] = {registry_actor, executor_actor, rules_actor, worker_actor};
    static actor_config_t kept; //  the actors read it while they run
    kept = config;
    for (int i = 0; i < 4; i++)
        if (!(sys->actors[i] = zactor_new (fns[i], &kept))) {
            fprintf (stderr, "soak: an actor failed to start\n");
            exit (1);
        }
    bus_link_config_t link_config;
    bus_link_config_defaults (&link_config);
    link_config.window = 4096;
    sys->link = bus_link_new (bus_topology_connect (sys->topology, "rules.commands"),
                              "soak@soak", &link_config);
}

static void
s_stop (s_system_t *sys)
{
    bus_link_destroy (&sys->link);
    for (int i = 3; i >= 0; i--)
        zactor_destroy (&sys->actors[i]);
    bus_sub_destroy (&sys->sub);
    bus_topology_destroy (&sys->topology);
}

//  Completions seen, waiting up to timeout_ms for the first.
static void
s_drain (s_system_t *sys, int timeout_ms)
{
    proto_envelope_t *fact;
    bool first = true;
    while ((fact = bus_sub_recv (sys->sub, NULL, first ? timeout_ms : 0))) {
        first = false;
        sys->completed++;
        proto_envelope_destroy (&fact);
    }
    bus_link_handle (sys->link);
    bus_link_tick (sys->link);
}

static void
s_send (s_system_t *sys, int64_t n)
{
    json_t *payload = json_pack ("{s:s, s:{}, s:{s:I}}", "trigger", "bench.event",
                                 "trigger_parameters", "payload", "n", (json_int_t)n);
    proto_envelope_t *event = proto_envelope_new ("event.create", "soak@soak");
    proto_envelope_set_payload_json (event, payload, NULL);
    json_decref (payload);
    while (bus_link_send (sys->link, &event) != 0)
        bus_link_handle (sys->link);
}

//  Send `count` events as fast as they go; wait for their completions.
//  Executions a second.
static double
s_burst (s_system_t *sys, size_t count, void (*during) (void *), void *arg)
{
    size_t target = sys->completed + count;
    int64_t t0 = zclock_usecs ();
    for (size_t i = 0; i < count; i++) {
        s_send (sys, (int64_t)i);
        if ((i & 255) == 0) {
            s_drain (sys, 0);
            if (during)
                during (arg);
        }
    }
    int64_t deadline = zclock_mono () + 600000;
    while (sys->completed < target && zclock_mono () < deadline) {
        s_drain (sys, 20);
        if (during)
            during (arg);
    }
    return (double)count / ((double)(zclock_usecs () - t0) / 1e6);
}

static void
s_sizes (const char *actor, char *out, size_t size)
{
    char path[4400];
    snprintf (path, sizeof path, "%s/data/%s/data.mdb", s_root, actor);
    struct stat st;
    snprintf (out, size, "%8.1f MiB",
              stat (path, &st) == 0 ? (double)st.st_size / 1048576.0 : 0.0);
}

static int
s_soak (actor_config_t *config, double rate, int seconds, int every)
{
    s_system_t sys = {0};
    s_start (&sys, config);
    printf ("soak: %.0f events/s for %d s, TTLs %lld s (sweep every %lld s)\n", rate,
            seconds, (long long)config->retention.executions,
            (long long)config->retention.interval);
    printf ("%6s %10s %10s %14s %14s\n", "t (s)", "sent", "completed", "executor",
            "rules");
    int64_t t0 = zclock_mono ();
    int64_t next_line = t0;
    size_t sent = 0;
    while (zclock_mono () - t0 < (int64_t)seconds * 1000) {
        int64_t now = zclock_mono ();
        size_t due = (size_t)((double)(now - t0) * rate / 1000.0);
        while (sent < due)
            s_send (&sys, (int64_t)sent++);
        if (now >= next_line) {
            char executor[32], rules[32];
            s_sizes ("executor", executor, sizeof executor);
            s_sizes ("rules", rules, sizeof rules);
            printf ("%6lld %10zu %10zu %14s %14s\n", (long long)((now - t0) / 1000), sent,
                    sys.completed, executor, rules);
            fflush (stdout);
            next_line += every * 1000;
        }
        s_drain (&sys, 1);
    }
    s_stop (&sys);
    return 0;
}

typedef struct {
    bus_client_t *client;
    bool sent, answered;
    int64_t t0;
    json_t *result;
    double took_s;
} s_purge_t;

//  While the second burst runs: the purge's answer, when it comes.
static void
s_purge_poll (void *arg)
{
    s_purge_t *purge = (s_purge_t *)arg;
    proto_envelope_t *reply = purge->answered ? NULL : bus_client_recv (purge->client);
    if (reply) {
        purge->answered = true;
        purge->took_s = (double)(zclock_usecs () - purge->t0) / 1e6;
        purge->result = bus_client_result (purge->client, reply);
        proto_envelope_destroy (&reply);
    }
}

static int
s_purge_bench (actor_config_t *config, size_t fill, size_t events)
{
    s_system_t sys = {0};
    s_start (&sys, config);
    int64_t t0 = zclock_usecs ();
    double fill_rate = s_burst (&sys, fill, NULL, NULL);
    printf ("purge: %zu executions made in %.1f s (%.0f exec/s)\n", fill,
            (double)(zclock_usecs () - t0) / 1e6, fill_rate);
    double alone = s_burst (&sys, events, NULL, NULL);
    printf ("  %zu events alone:            %9.0f exec/s\n", events, alone);
    s_purge_t purge = {.client = bus_client_new ("soak@soak")};
    bus_client_set_timeout (purge.client, 3600000);
    if (bus_client_connect (purge.client,
                            bus_topology_connect (sys.topology, "executor.query")) != 0)
        return 1;
    json_t *payload = json_pack ("{s:s, s:i}", "kind", "executions", "older_than", 0);
    proto_envelope_t *request = proto_envelope_new ("api.purge", "soak@soak");
    proto_envelope_set_payload_json (request, payload, NULL);
    json_decref (payload);
    purge.t0 = zclock_usecs ();
    bus_client_send (purge.client, &request);
    double during = s_burst (&sys, events, s_purge_poll, &purge);
    double burst_s = (double)(zclock_usecs () - purge.t0) / 1e6;
    printf ("  %zu events while purging:    %9.0f exec/s   ratio %.2f\n", events, during,
            during / alone);
    while (!purge.answered) {
        s_purge_poll (&purge);
        s_drain (&sys, 10);
    }
    printf ("  purge: %lld removed in %.1f s (the burst took %.1f s%s)\n",
            (long long)json_integer_value (json_object_get (purge.result, "removed")),
            purge.took_s, burst_s,
            purge.took_s < burst_s ? ": the purge ended before it" : "");
    json_decref (purge.result);
    bus_client_destroy (&purge.client);
    s_stop (&sys);
    return 0;
}

int
main (int argc, char *argv[])
{
    static struct option options[] = {{"rate", required_argument, 0, 'r'},
                                      {"seconds", required_argument, 0, 's'},
                                      {"ttl", required_argument, 0, 't'},
                                      {"interval", required_argument, 0, 'i'},
                                      {"every", required_argument, 0, 'e'},
                                      {"no-retention", no_argument, 0, 'n'},
                                      {"dir", required_argument, 0, 'd'},
                                      {"no-fsync", no_argument, 0, 'f'},
                                      {"fill", required_argument, 0, 'F'},
                                      {"events", required_argument, 0, 'E'},
                                      {0, 0, 0, 0}};
    double rate = 500;
    int seconds = 120, ttl = 20, interval = 2, every = 5, option;
    size_t fill = 100000, events = 20000;
    bool retention = true;
    const char *dir = NULL;
    actor_config_t config = {0};
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (option) {
            case 'r':
                rate = atof (optarg);
                break;
            case 's':
                seconds = atoi (optarg);
                break;
            case 't':
                ttl = atoi (optarg);
                break;
            case 'i':
                interval = atoi (optarg);
                break;
            case 'e':
                every = atoi (optarg);
                break;
            case 'n':
                retention = false;
                break;
            case 'd':
                dir = optarg;
                break;
            case 'f':
                config.nosync = true;
                break;
            case 'F':
                fill = (size_t)atoll (optarg);
                break;
            case 'E':
                events = (size_t)atoll (optarg);
                break;
            default:
                fprintf (stderr, "usage: see tools/attune_soak.c\n");
                return 2;
        }
    }
    const char *mode = optind < argc ? argv[optind] : "soak";
    zsys_init ();
    zsys_set_logstream (NULL);
    if (dir)
        snprintf (s_root, sizeof s_root, "%s", dir);
    else
        snprintf (s_root, sizeof s_root, "/tmp/attune-soak-%d", getpid ());
    s_packs ();
    if (retention && streq (mode, "soak")) {
        config.retention.executions = config.retention.events = ttl;
        config.retention.inquiries = ttl;
        config.retention.interval = interval;
    }
    int rc = streq (mode, "purge")
                 ? s_purge_bench (&config, fill, events)
                 : s_soak (&config, rate, seconds, every > 0 ? every : 5);
    if (!dir) {
        char command[4200];
        snprintf (command, sizeof command, "rm -rf '%s'", s_root);
        if (system (command) != 0)
            rc = 1;
    }
    return rc;
}
