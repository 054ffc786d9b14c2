/*  st2_memory: the memory the registry's catalog keeps per loaded action,
    measured on a generated pack of 3,600 StackStorm-shaped actions (a
    description, a runner with its inherited parameters, three parameters
    of its own): at most 8 KB each (issue 17). And the definitions the
    whole daemon keeps: the registry actor and the replicas the rules,
    executor and sensor actors keep (registry_client, each keeping only
    what its actor reads): at most 8 KB per action too, all together. */
#include <criterion/criterion.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "actors/registry/registry.h"
#include "actors/registry/registry_catalog.h"
#include "actors/registry/registry_client.h"
#include "actors/registry/registry_runners.h"
#include "tests/testing.h"

#define S_ACTIONS 3600

static char s_root[256];

static void
s_setup (void)
{
    const char *base = getenv ("ATTUNE_TEST_TMP");
    if (base)
        mkdir (base, 0755);
    snprintf (s_root, sizeof s_root, "%s/st2-memory-XXXXXX", base ? base : "/tmp");
    cr_assert_not_null (mkdtemp (s_root));
}

static void
s_teardown (void)
{
    char command[512];
    snprintf (command, sizeof command, "rm -rf '%s'", s_root);
    cr_expect_eq (system (command), 0);
}

TestSuite (st2_memory, .init = s_setup, .fini = s_teardown);

static void
s_generate (void)
{
    char path[512];
    snprintf (path, sizeof path, "%s/packs", s_root);
    mkdir (path, 0755);
    snprintf (path, sizeof path, "%s/packs/big", s_root);
    mkdir (path, 0755);
    snprintf (path, sizeof path, "%s/packs/big/actions", s_root);
    mkdir (path, 0755);
    snprintf (path, sizeof path, "%s/packs/big/pack.yaml", s_root);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs ("ref: big\nname: big\nversion: 1.0.0\n", file);
    fclose (file);
    const char *runners[] = {"local-shell-cmd", "python-script", "http-request",
                             "local-shell-script"};
    for (int i = 0; i < S_ACTIONS; i++) {
        snprintf (path, sizeof path, "%s/packs/big/actions/a%d.yaml", s_root, i);
        file = fopen (path, "w");
        cr_assert_not_null (file);
        const char *runner = runners[i % 4];
        fprintf (file,
                 "name: object.method%d\nrunner_type: %s\nentry_point: run.py\n"
                 "description: Call the method number %d of the service's API and "
                 "return what it answers.\nparameters:\n"
                 "  id:\n    type: string\n    description: The object's id.\n"
                 "    required: true\n"
                 "  limit:\n    type: integer\n    description: At most this many.\n"
                 "    default: 100\n"
                 "  verbose:\n    type: boolean\n    default: false\n",
                 i, runner, i);
        if (i % 4 == 2)
            fputs ("  url:\n    default: https://api.example.com/v1\n", file);
        fclose (file);
    }
}

Test (st2_memory, at_most_8_kb_per_loaded_action, .timeout = 120)
{
    s_generate ();
    malloc_trim (0);
    struct mallinfo2 before = mallinfo2 ();
    registry_catalog_t *catalog = registry_catalog_new ();
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    char packs[600];
    snprintf (packs, sizeof packs, "%s/packs", s_root);
    registry_catalog_load_dir (catalog, packs, errors);
    cr_assert_eq (zlist_size (errors), 0, "%s",
                  zlist_size (errors) ? (char *)zlist_first (errors) : "");
    zlist_destroy (&errors);
    //  Counted packed: registry_catalog_actions would decode them all
    size_t actions = registry_packed_size (registry_catalog_packed_actions (catalog));
    cr_assert_eq (actions, S_ACTIONS);
    malloc_trim (0);
    struct mallinfo2 after = mallinfo2 ();
    double per = (double)(after.uordblks - before.uordblks) / (double)actions;
    fprintf (stderr, "st2 memory: %zu actions, %.0f bytes of heap per action\n", actions,
             per);
    cr_expect_leq (per, 8192.0, "%.0f bytes per action", per);
    registry_catalog_destroy (&catalog);
}

static double
s_heap_per (size_t before, size_t count)
{
    malloc_trim (0);
    struct mallinfo2 now = mallinfo2 ();
    return ((double)now.uordblks - (double)before) / (double)count;
}

//  A replica as `keep` asks (NULL: everything), synced; its heap per action
//  in *per.
static registry_client_t *
s_replica (bus_topology_t *topology, const char *name, const char *keep, double *per)
{
    malloc_trim (0);
    size_t before = mallinfo2 ().uordblks;
    registry_client_t *client = registry_client_new_keeping (topology, name, keep);
    cr_assert_not_null (client);
    cr_assert_eq (registry_client_wait_synced (client, 60000), 0, "%s not synced", name);
    *per = s_heap_per (before, S_ACTIONS);
    fprintf (stderr, "st2 memory: replica %-9s (%s): %.0f bytes per action\n", name,
             keep ? keep : "everything", *per);
    return client;
}

Test (st2_memory, whole_daemon_definitions_per_action, .timeout = 300)
{
    s_generate ();
    char data[600], packs[600], ns[64];
    snprintf (data, sizeof data, "%s/data", s_root);
    snprintf (packs, sizeof packs, "%s/packs", s_root);
    snprintf (ns, sizeof ns, "st2mem-%d", getpid ());
    bus_topology_t *topology = bus_topology_new (ns);
    actor_config_t config = {.topology = topology,
                             .data_dir = data,
                             .packs_dir = packs,
                             .host = "test",
                             .heartbeat_ms = 100,
                             .nosync = true};
    malloc_trim (0);
    size_t before = mallinfo2 ().uordblks;
    zactor_t *registry = zactor_new (registry_actor, &config);
    cr_assert_not_null (registry);
    double full, per[3];
    //  The first replica's sync also waits for the registry to have loaded
    registry_client_t *everything = s_replica (topology, "full", NULL, &full);
    cr_assert_eq (json_object_size (registry_client_all (everything, "action")),
                  S_ACTIONS);
    registry_client_destroy (&everything);
    double registry_per = s_heap_per (before, S_ACTIONS);
    fprintf (stderr, "st2 memory: registry actor: %.0f bytes per action\n", registry_per);
    registry_client_t *rules =
        s_replica (topology, "rules", REGISTRY_KEEP_RULES, &per[0]);
    registry_client_t *executor =
        s_replica (topology, "executor", REGISTRY_KEEP_EXECUTOR, &per[1]);
    registry_client_t *sensor =
        s_replica (topology, "sensor", REGISTRY_KEEP_SENSOR, &per[2]);
    double total = registry_per + per[0] + per[1] + per[2];
    fprintf (stderr,
             "st2 memory: whole daemon's definitions: %.0f bytes (%.1f KiB) per action "
             "(a full replica: %.0f)\n",
             total, total / 1024, full);

    //  What each replica holds: the sensor none of the actions, the rules
    //  their runner only, the executor no descriptions
    cr_assert_eq (json_object_size (registry_client_all (sensor, "action")), 0);
    cr_assert_eq (json_object_size (registry_client_all (rules, "action")), S_ACTIONS);
    cr_assert_eq (json_object_size (registry_client_all (executor, "action")), S_ACTIONS);
    const json_t *brief = registry_client_get (rules, "action", "big.object.method1");
    cr_assert_str_eq (json_string_value (json_object_get (brief, "runner_type")),
                      "python-script");
    cr_assert_null (json_object_get (brief, "parameters"));
    const json_t *action = registry_client_get (executor, "action", "big.object.method1");
    cr_assert_null (json_object_get (action, "description"));
    cr_assert_null (json_object_get (
        json_object_get (json_object_get (action, "parameters"), "id"), "description"));
    cr_assert (json_is_true (json_object_get (
        json_object_get (json_object_get (action, "parameters"), "id"), "required")));
    cr_assert_str_eq (json_string_value (json_object_get (action, "entry_point")),
                      "run.py");
    //  The runner's parameters, which the registry keeps packed as nil,
    //  arrive whole: the runner table's own specs again
    const json_t *shell = registry_client_get (executor, "action", "big.object.method0");
    const json_t *runner = registry_runners_parameters ("local-shell-cmd");
    cr_assert_not_null (json_object_get (runner, "cmd"));
    cr_assert_eq (json_object_get (json_object_get (shell, "parameters"), "cmd"),
                  json_object_get (runner, "cmd"));
    //  Heap, not time: the sensor's replica holds nothing per action, the
    //  three together less than two replicas of everything (three before)
    //  (glibc's heap counters; a sanitizer's allocator leaves them at 0)
    if (!TESTING_SANITIZED) {
        cr_expect_leq (total, 8192.0, "whole daemon: %.0f bytes per action", total);
        cr_expect_lt (per[2], 256.0, "sensor replica: %.0f bytes per action", per[2]);
        cr_expect_lt (per[0] + per[1] + per[2], 2 * full,
                      "%.0f + %.0f + %.0f bytes >= 2 x %.0f", per[0], per[1], per[2],
                      full);
    }

    registry_client_destroy (&sensor);
    registry_client_destroy (&executor);
    registry_client_destroy (&rules);
    zactor_destroy (&registry);
    bus_topology_destroy (&topology);
}
