/*  attune-workflow-bench: the workflow engine's rates and added latency
    against plain executions, measured in the same run, in one process
    (registry, rules, executor, worker and workflow engine actors over
    inproc://, durable LMDB stores unless --no-fsync).

        attune-workflow-bench [--tasks N] [--items N] [--concurrency C]
                              [--plain N] [--dir DIR] [--no-fsync]

    1. plain: N events to core.noop as fast as the link takes them (the
       plain pipeline's execution rate), then --tasks core.noop executions
       one at a time (each started once the one before completed: a plain
       execution's latency end to end).
    2. a sequential Orquesta workflow of --tasks (100) core.noop tasks:
       tasks (transitions) per second, and the time per task, whose excess
       over one plain execution is the engine's added latency per task.
    3. a with items task of --items (10,000) core.noop items at concurrency
       --concurrency (50): items (transitions) per second.
    A transition is a task instance that started and ended (its child
    execution created, completed, committed by the engine). The goal: the
    transitions of run 3 at >= 0.3 of run 1's rate.
*/
#include <czmq.h>
#include <getopt.h>

#include "actors/actor.h"
#include "actors/executor/executor.h"
#include "actors/registry/registry.h"
#include "actors/rules/rules.h"
#include "actors/worker/worker.h"
#include "actors/workflow/workflow_engine.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"

#ifndef ATTUNE_SOURCE_DIR
#define ATTUNE_SOURCE_DIR "."
#endif

#define S_ACTORS 5

static char s_root[4096];

typedef struct {
    size_t tasks, items, concurrency, plain;
    const char *dir;
    bool nosync;
} s_options_t;

typedef struct {
    zactor_t *actors[S_ACTORS];
    bus_topology_t *topology;
    bus_link_t *link;
    bus_sub_t *sub;
} s_system_t;

static void
s_write (const char *path, const char *text)
{
    char full[8192];
    snprintf (full, sizeof full, "%s/%s", s_root, path);
    char *slash = strrchr (full, '/');
    *slash = 0;
    if (zsys_dir_create ("%s", full) != 0) {
        fprintf (stderr, "bench: cannot create %s\n", full);
        exit (1);
    }
    *slash = '/';
    FILE *file = fopen (full, "w");
    if (!file || fputs (text, file) < 0) {
        fprintf (stderr, "bench: cannot write %s\n", full);
        exit (1);
    }
    fclose (file);
}

static void
s_system_start (s_system_t *sys, bool nosync)
{
    sys->topology = bus_topology_new ("wf-bench");
    char packs[4200], data[4200];
    snprintf (packs, sizeof packs, "%s/packs", s_root);
    snprintf (data, sizeof data, "%s/data", s_root);
    actor_config_t config = {.topology = sys->topology,
                             .data_dir = data,
                             .packs_dir = packs,
                             .host = "bench",
                             .worker_slots = 256,
                             .nosync = nosync};
    sys->sub = bus_sub_new (1000000);
    bus_sub_connect (sys->sub, bus_topology_connect (sys->topology, "executor.facts"));
    bus_sub_subscribe (sys->sub, "execution.completed");
    bus_sub_subscribe (sys->sub, "execution.failed");
    zactor_fn *fns[S_ACTORS] = {registry_actor, executor_actor, rules_actor, worker_actor,
                                workflow_engine_actor};
    for (int i = 0; i < S_ACTORS; i++)
        if (!(sys->actors[i] = zactor_new (fns[i], &config))) {
            fprintf (stderr, "bench: an actor failed to start\n");
            exit (1);
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
    for (int i = S_ACTORS - 1; i >= 0; i--)
        zactor_destroy (&sys->actors[i]);
    bus_sub_destroy (&sys->sub);
    bus_topology_destroy (&sys->topology);
}

//  An event of `trigger` with `payload` (JSON, taken) through rules.
static void
s_send_event (s_system_t *sys, const char *trigger, json_t *payload)
{
    json_t *body = json_pack ("{s:s, s:{}, s:o}", "trigger", trigger,
                              "trigger_parameters", "payload", payload);
    proto_envelope_t *event = proto_envelope_new ("event.create", "bench@bench");
    if (!body || !event || proto_envelope_set_payload_json (event, body, NULL) != 0) {
        fprintf (stderr, "bench: cannot build an event\n");
        exit (1);
    }
    json_decref (body);
    while (bus_link_send (sys->link, &event) != 0)
        bus_link_handle (sys->link);
}

//  Completion facts until `count` of `action` (NULL: any) arrived, or 10
//  minutes. The number seen.
static size_t
s_wait (s_system_t *sys, const char *action, size_t count)
{
    size_t seen = 0;
    int64_t deadline = zclock_mono () + 600000;
    while (seen < count && zclock_mono () < deadline) {
        bus_link_handle (sys->link);
        bus_link_tick (sys->link);
        proto_envelope_t *fact = bus_sub_recv (sys->sub, NULL, 20);
        if (!fact)
            continue;
        const msgpack_object *payload = proto_envelope_payload_object (fact);
        const msgpack_object *its = payload ? proto_map_get (payload, "action") : NULL;
        size_t size = action ? strlen (action) : 0;
        if (!action ||
            (its && its->type == MSGPACK_OBJECT_STR && its->via.str.size == size &&
             memcmp (its->via.str.ptr, action, size) == 0)) {
            seen++;
            if (!strcmp (proto_envelope_type (fact), "execution.failed"))
                fprintf (stderr, "bench: an execution of %s failed\n",
                         action ? action : "?");
        }
        proto_envelope_destroy (&fact);
    }
    return seen;
}

static double
s_seconds_since (int64_t t0)
{
    return (double)(proto_now_usec () - t0) / 1e6;
}

//  The pack: core linked, the two workflows, a rule per trigger.
static void
s_setup (const s_options_t *o)
{
    char link_target[4200], link_path[4200];
    s_write ("packs/bench/pack.yaml", "ref: bench\nname: bench\nversion: 1.0.0\n");
    snprintf (link_target, sizeof link_target, "%s/packs/core", ATTUNE_SOURCE_DIR);
    snprintf (link_path, sizeof link_path, "%s/packs/core", s_root);
    if (symlink (link_target, link_path) != 0) {
        fprintf (stderr, "bench: cannot link %s\n", link_target);
        exit (1);
    }
    const char *rules[][3] = {{"noop", "core.noop", ""},
                              {"seq", "bench.seq", ""},
                              {"items", "bench.items",
                               "  parameters:\n    xs: \"{{ trigger.payload.xs }}\"\n"}};
    for (size_t i = 0; i < 3; i++) {
        char path[256], text[1024];
        snprintf (path, sizeof path, "packs/bench/triggers/%s.yaml", rules[i][0]);
        snprintf (text, sizeof text, "name: %s\npack: bench\n", rules[i][0]);
        s_write (path, text);
        snprintf (path, sizeof path, "packs/bench/rules/%s.yaml", rules[i][0]);
        snprintf (text, sizeof text,
                  "name: %s\npack: bench\nenabled: true\ntrigger:\n  type: bench.%s\n"
                  "action:\n  ref: %s\n%s",
                  rules[i][0], rules[i][0], rules[i][1], rules[i][2]);
        s_write (path, text);
    }
    s_write ("packs/bench/actions/seq.yaml",
             "name: seq\nrunner_type: orquesta\nentry_point: workflows/seq.yaml\n");
    s_write ("packs/bench/actions/items.yaml",
             "name: items\nrunner_type: orquesta\nentry_point: workflows/items.yaml\n"
             "parameters:\n  xs:\n    type: array\n    required: true\n");
    zchunk_t *yaml = zchunk_new (NULL, 0);
    const char *head = "version: 1.0\ntasks:\n";
    zchunk_extend (yaml, head, strlen (head));
    for (size_t i = 1; i <= o->tasks; i++) {
        char task[160];
        int size = snprintf (task, sizeof task, "  t%zu:\n    action: core.noop\n", i);
        if (i < o->tasks)
            size += snprintf (task + size, sizeof task - (size_t)size,
                              "    next:\n      - do: t%zu\n", i + 1);
        zchunk_extend (yaml, task, (size_t)size);
    }
    zchunk_extend (yaml, "", 1);
    s_write ("packs/bench/actions/workflows/seq.yaml", (char *)zchunk_data (yaml));
    zchunk_destroy (&yaml);
    //  The items: the list the event gives
    char items[512];
    snprintf (items, sizeof items,
              "version: 1.0\ninput:\n  - xs\ntasks:\n  each:\n"
              "    with:\n      items: <%% ctx().xs %%>\n"
              "      concurrency: %zu\n    action: core.noop\n",
              o->concurrency);
    s_write ("packs/bench/actions/workflows/items.yaml", items);
}

//  [0, 1, ... n-1]
static json_t *
s_list (size_t n)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < n; i++)
        json_array_append_new (list, json_integer ((json_int_t)i));
    return list;
}

static void
s_measure (const s_options_t *o)
{
    s_system_t sys = {0};
    s_system_start (&sys, o->nosync);
    //  Warm-up: the definitions load, the engine registers
    s_send_event (&sys, "bench.noop", json_object ());
    s_send_event (&sys, "bench.items", json_pack ("{s:o}", "xs", s_list (10)));
    s_wait (&sys, "bench.items", 1);
    //  1. plain, full rate, then one at a time
    int64_t t0 = proto_now_usec ();
    for (size_t i = 0; i < o->plain; i++)
        s_send_event (&sys, "bench.noop", json_object ());
    size_t done = s_wait (&sys, "core.noop", o->plain);
    double plain_rate = (double)done / s_seconds_since (t0);
    t0 = proto_now_usec ();
    for (size_t i = 0; i < o->tasks; i++) {
        s_send_event (&sys, "bench.noop", json_object ());
        s_wait (&sys, "core.noop", 1);
    }
    double plain_ms = s_seconds_since (t0) * 1000.0 / (double)o->tasks;
    printf ("  plain: %zu core.noop executions, full rate      %9.0f exec/s\n", done,
            plain_rate);
    printf ("  plain: %zu core.noop one at a time              %9.2f ms each\n", o->tasks,
            plain_ms);
    //  2. sequential workflow
    t0 = proto_now_usec ();
    s_send_event (&sys, "bench.seq", json_object ());
    size_t ended = s_wait (&sys, "bench.seq", 1);
    double seq_s = s_seconds_since (t0);
    double per_task = seq_s * 1000.0 / (double)o->tasks;
    printf ("  workflow: %zu sequential core.noop tasks     %9.0f tasks/s   %.2f ms per "
            "task, engine adds %.2f ms per task%s\n",
            o->tasks, (double)o->tasks / seq_s, per_task, per_task - plain_ms,
            ended ? "" : " (did not end in time)");
    //  3. with items
    t0 = proto_now_usec ();
    s_send_event (&sys, "bench.items", json_pack ("{s:o}", "xs", s_list (o->items)));
    ended = s_wait (&sys, "bench.items", 1);
    double items_s = s_seconds_since (t0);
    double items_rate = (double)o->items / items_s;
    printf ("  workflow: with items of %zu at concurrency %zu %9.0f items/s   %.1f s%s\n",
            o->items, o->concurrency, items_rate, items_s,
            ended ? "" : " (did not end in time)");
    printf ("  transitions vs plain executions: %.2f (with items), %.2f (sequential, "
            "latency-bound); goal >= 0.30\n",
            items_rate / plain_rate, (double)o->tasks / seq_s / plain_rate);
    s_system_stop (&sys);
}

int
main (int argc, char *argv[])
{
    s_options_t o = {.tasks = 100, .items = 10000, .concurrency = 50, .plain = 10000};
    static struct option options[] = {{"tasks", required_argument, 0, 't'},
                                      {"items", required_argument, 0, 'i'},
                                      {"concurrency", required_argument, 0, 'c'},
                                      {"plain", required_argument, 0, 'p'},
                                      {"dir", required_argument, 0, 'd'},
                                      {"no-fsync", no_argument, 0, 'n'},
                                      {0, 0, 0, 0}};
    int option;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        long value = optarg ? atol (optarg) : 0;
        if (option == 'd')
            o.dir = optarg;
        else if (option == 'n')
            o.nosync = true;
        else if (option == '?' || value < 1 || value > 100000) {
            fprintf (stderr, "usage: attune-workflow-bench [--tasks N] [--items N] "
                             "[--concurrency C] [--plain N] [--dir DIR] [--no-fsync]\n"
                             "  (N, C: 1 to 100000)\n");
            return 2;
        } else
            *(option == 't'   ? &o.tasks
              : option == 'i' ? &o.items
              : option == 'c' ? &o.concurrency
                              : &o.plain) = (size_t)value;
    }
    zsys_init ();
    zsys_set_logstream (NULL);
    snprintf (s_root, sizeof s_root, "%s/attune-wf-bench-XXXXXX",
              o.dir ? o.dir : "/var/tmp");
    if (!mkdtemp (s_root)) {
        fprintf (stderr, "bench: cannot create a directory in %s\n", s_root);
        return 1;
    }
    s_setup (&o);
    printf ("attune-workflow-bench: %s stores, data in %s\n",
            o.nosync ? "NOT durable (--no-fsync)" : "durable (fsync)", s_root);
    s_measure (&o);
    char command[4200];
    snprintf (command, sizeof command, "rm -rf '%s'", s_root);
    if (system (command) != 0)
        fprintf (stderr, "bench: could not remove %s\n", s_root);
    return 0;
}
