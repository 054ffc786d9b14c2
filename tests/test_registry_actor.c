/*  test_registry_actor: the registry actor and its replicated clients.

    A real registry actor (packs from a temporary directory, store in a
    temporary data directory) and registry_client copies over inproc.
*/
#include "tests/testing.h"
#include <limits.h>
#include <sys/stat.h>

#include "actors/registry/registry.h"
#include "actors/registry/registry_client.h"
#include "bus/bus_link.h"

static char s_root[PATH_MAX - 256];
static char s_packs[PATH_MAX];
static char s_data[PATH_MAX];
static bus_topology_t *s_topology;
static int s_counter;

static void
s_write (const char *path, const char *text)
{
    testing_write (s_packs, path, text);
}

static void
s_setup (void)
{
    testing_tmpdir (s_root, sizeof s_root, "test_registry");
    snprintf (s_packs, sizeof s_packs, "%s/packs", s_root);
    snprintf (s_data, sizeof s_data, "%s/data", s_root);
    char ns[64];
    snprintf (ns, sizeof ns, "reg-%d-%d", getpid (), ++s_counter);
    s_topology = bus_topology_new (ns);
    s_write ("demo/pack.yaml", "ref: demo\nname: demo\nversion: 1.0.0\n");
    s_write ("demo/actions/say.yaml", "name: say\nrunner_type: noop\nparameters:\n"
                                      "  text:\n    type: string\n");
    s_write ("demo/rules/on_tick.yaml",
             "name: on_tick\npack: demo\nenabled: true\ntrigger:\n"
             "  type: core.st2.IntervalTimer\n  parameters:\n    unit: seconds\n"
             "    delta: 5\naction:\n  ref: demo.say\n  parameters:\n    text: hi\n");
    s_write ("demo/rules/broken.yaml",
             "name: broken\npack: demo\ntrigger:\n"
             "  type: core.st2.IntervalTimer\naction: [1, 2]\n");
}

static void
s_teardown (void)
{
    bus_topology_destroy (&s_topology);
    testing_rmtree (s_root);
}

TestSuite (registry_actor, .init = s_setup, .fini = s_teardown, .timeout = 60);

static zactor_t *
s_start (void)
{
    actor_config_t config = {.topology = s_topology,
                             .data_dir = s_data,
                             .packs_dir = s_packs,
                             .host = "test",
                             .heartbeat_ms = 100,
                             .nosync = true};
    zactor_t *actor = zactor_new (registry_actor, &config);
    cr_assert_not_null (actor, "registry failed to start");
    return actor;
}

static json_t *
s_status (zactor_t *actor, const char *what)
{
    zstr_send (actor, what);
    char *text = zstr_recv (actor);
    cr_assert_not_null (text);
    json_t *value = json_loads (text, 0, NULL);
    zstr_free (&text);
    cr_assert_not_null (value);
    return value;
}

//  Service the client until `done` holds, at most timeout_ms.
#define S_WAIT_UNTIL(client, cond, timeout_ms)                                           \
    do {                                                                                 \
        zpoller_t *poller_ = zpoller_new (registry_client_sub_sock (client),             \
                                          registry_client_snapshot_sock (client), NULL); \
        int64_t deadline_ = zclock_mono () + (timeout_ms);                               \
        while (!(cond) && zclock_mono () < deadline_) {                                  \
            zsock_t *which_ = (zsock_t *)zpoller_wait (poller_, 50);                     \
            if (which_)                                                                  \
                registry_client_handle (client, which_);                                 \
            registry_client_tick (client);                                               \
        }                                                                                \
        zpoller_destroy (&poller_);                                                      \
    } while (0)

static int s_changes;
static void
s_on_change (void *arg, const char *kind, const char *ref, const json_t *definition)
{
    s_changes++;
}

static void
s_command (const char *type, json_t *payload, bool expect_reject)
{
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    config.heartbeat_ms = 100;
    bus_link_t *link = bus_link_new (
        bus_topology_connect (s_topology, "registry.commands"), "test@t", &config);
    cr_assert_not_null (link);
    proto_envelope_t *envelope = proto_envelope_new (type, "test@t");
    cr_assert_eq (proto_envelope_set_payload_json (envelope, payload, NULL), PROTO_OK);
    json_decref (payload);
    cr_assert_eq (bus_link_send (link, &envelope), 0);
    cr_assert_eq (bus_link_flush (link, 5000), 0, "command %s not acked", type);
    bus_link_destroy (&link);
}

Test (registry_actor, loads_packs_and_reports_errors)
{
    zactor_t *registry = s_start ();
    json_t *status = s_status (registry, "STATUS");
    cr_assert_geq (json_integer_value (json_object_get (status, "actions")), 1);
    cr_assert_eq (json_integer_value (json_object_get (status, "rules")), 1,
                  "the broken rule is skipped, the good one loads");
    cr_assert_geq (json_integer_value (json_object_get (status, "triggers")), 3,
                   "built-in timer triggers");
    json_decref (status);
    json_t *errors = s_status (registry, "ERRORS");
    cr_assert_eq (json_array_size (errors), 1);
    const char *error = json_string_value (json_array_get (errors, 0));
    cr_assert (strstr (error, "broken.yaml:"), "error names the file: %s", error);
    cr_assert (strstr (error, "action"), "error names the field: %s", error);
    json_decref (errors);
    zactor_destroy (&registry);
}

//  The pipe protocol is actor_loop's: an unknown command gets the one reply
//  (actor.h), and the actor goes on answering its own.
Test (registry_actor, unknown_pipe_command_gets_the_one_reply)
{
    zactor_t *registry = s_start ();
    json_t *reply = s_status (registry, "NOPE");
    cr_assert_str_eq (json_string_value (json_object_get (reply, "error")),
                      ACTOR_UNKNOWN_REPLY);
    cr_assert_str_eq (json_string_value (json_object_get (reply, "command")), "NOPE");
    json_decref (reply);
    json_t *errors = s_status (registry, "ERRORS");
    cr_assert (json_is_array (errors));
    json_decref (errors);
    json_t *status = s_status (registry, "STATUS");
    cr_assert (json_is_integer (json_object_get (status, "packs")));
    json_decref (status);
    zactor_destroy (&registry);
}

Test (registry_actor, client_snapshot_and_updates)
{
    zactor_t *registry = s_start ();
    registry_client_t *client = registry_client_new (s_topology, "client@t");
    cr_assert_not_null (client);
    registry_client_set_change_handler (client, s_on_change, NULL);
    cr_assert_eq (registry_client_wait_synced (client, 5000), 0);
    cr_assert_not_null (registry_client_get (client, "action", "demo.say"));
    cr_assert_not_null (registry_client_get (client, "rule", "demo.on_tick"));
    cr_assert_not_null (registry_client_get (client, "trigger", "core.st2.CronTimer"));
    cr_assert_not_null (registry_client_get (client, "pack", "demo"));
    cr_assert_null (registry_client_get (client, "rule", "demo.broken"));
    int initial = s_changes;
    cr_assert_gt (initial, 3, "the first snapshot reports every definition");

    //  Disable: the client sees enabled=false
    s_command ("registry.rule.disable", json_pack ("{s:s}", "ref", "demo.on_tick"),
               false);
    S_WAIT_UNTIL (client,
                  json_is_false (json_object_get (
                      registry_client_get (client, "rule", "demo.on_tick"), "enabled")),
                  5000);
    cr_assert (json_is_false (json_object_get (
        registry_client_get (client, "rule", "demo.on_tick"), "enabled")));

    //  Put a new rule
    json_t *rule =
        json_pack ("{s:s, s:s, s:b, s:{s:s, s:{s:s, s:i}}, s:{s:s, s:{s:s}}}", "name",
                   "made", "pack", "demo", "enabled", 1, "trigger", "type",
                   "core.st2.IntervalTimer", "parameters", "unit", "seconds", "delta", 2,
                   "action", "ref", "demo.say", "parameters", "text", "x");
    s_command ("registry.rule.put", json_pack ("{s:o}", "definition", rule), false);
    S_WAIT_UNTIL (client, registry_client_get (client, "rule", "demo.made"), 5000);
    cr_assert_not_null (registry_client_get (client, "rule", "demo.made"));

    //  Delete it
    s_command ("registry.rule.delete", json_pack ("{s:s}", "ref", "demo.made"), false);
    S_WAIT_UNTIL (client, !registry_client_get (client, "rule", "demo.made"), 5000);
    cr_assert_null (registry_client_get (client, "rule", "demo.made"));
    cr_assert_geq (registry_client_snapshots (client), 1);

    registry_client_destroy (&client);
    zactor_destroy (&registry);
}

Test (registry_actor, changes_survive_restart_and_client_resyncs)
{
    //  inproc connections do not come back when the binding side restarts
    //  (in one process the whole process restarts); over ipc and tcp they do.
    const char *names[] = {"registry.facts", "registry.snapshot", "registry.commands"};
    for (int i = 0; i < 3; i++) {
        char address[PATH_MAX + 64];
        snprintf (address, sizeof address, "ipc://%s/%s.sock", s_root, names[i]);
        cr_assert_eq (bus_topology_set (s_topology, names[i], address, NULL), 0);
    }
    zactor_t *registry = s_start ();
    registry_client_t *client = registry_client_new (s_topology, "client@t");
    cr_assert_eq (registry_client_wait_synced (client, 5000), 0);
    s_command ("registry.rule.delete", json_pack ("{s:s}", "ref", "demo.on_tick"), false);
    S_WAIT_UNTIL (client, !registry_client_get (client, "rule", "demo.on_tick"), 5000);
    zactor_destroy (&registry);

    //  The YAML file is still there, but the deletion was durable
    registry = s_start ();
    json_t *status = s_status (registry, "STATUS");
    cr_assert_eq (json_integer_value (json_object_get (status, "rules")), 0);
    json_decref (status);

    //  The restarted registry has a new publisher id: the client takes a new
    //  snapshot when it sees the next fact.
    json_t *rule =
        json_pack ("{s:s, s:s, s:{s:s, s:{s:s, s:i}}, s:{s:s}}", "name", "again", "pack",
                   "demo", "trigger", "type", "core.st2.IntervalTimer", "parameters",
                   "unit", "seconds", "delta", 3, "action", "ref", "demo.say");
    s_command ("registry.rule.put", json_pack ("{s:o}", "definition", rule), false);
    S_WAIT_UNTIL (client, registry_client_get (client, "rule", "demo.again"), 5000);
    cr_assert_not_null (registry_client_get (client, "rule", "demo.again"));
    cr_assert_geq (registry_client_snapshots (client), 2,
                   "resynchronised after the restart");
    registry_client_destroy (&client);
    zactor_destroy (&registry);
}

static int s_rejected;
static void
s_on_reject (void *arg, const proto_envelope_t *command, const char *code,
             const char *message)
{
    s_rejected++;
    cr_log_info ("rejected %s: %s: %s", proto_envelope_type (command), code, message);
}

//  A replica keeps the kinds and fields it is told to, from the snapshot
//  and from facts alike; a malformed spec is refused.
Test (registry_actor, replica_keeps_what_it_is_told)
{
    s_write ("demo/actions/tell.yaml",
             "name: tell\nrunner_type: local-shell-cmd\ndescription: Tell it.\n"
             "parameters:\n  whom:\n    type: string\n    description: To whom.\n"
             "    required: true\n");
    zactor_t *registry = s_start ();
    const char *bad[] = {"", "nosuch", "rule:", "rule:-", "rule:a,,b", "action:,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_null (registry_client_new_keeping (s_topology, "bad@t", bad[i]), "%s",
                        bad[i]);
    registry_client_t *client = registry_client_new_keeping (
        s_topology, "keep@t", "rule:enabled action:-description,-notify");
    cr_assert_not_null (client);
    cr_assert_eq (registry_client_wait_synced (client, 5000), 0);
    const json_t *rule = registry_client_get (client, "rule", "demo.on_tick");
    cr_assert (json_is_true (json_object_get (rule, "enabled")));
    cr_assert_str_eq (json_string_value (json_object_get (rule, "ref")), "demo.on_tick");
    cr_assert_null (json_object_get (rule, "trigger"));
    cr_assert_null (json_object_get (rule, "action"));
    const json_t *action = registry_client_get (client, "action", "demo.tell");
    cr_assert_str_eq (json_string_value (json_object_get (action, "runner_type")),
                      "local-shell-cmd");
    cr_assert_null (json_object_get (action, "description"));
    const json_t *whom = json_object_get (json_object_get (action, "parameters"), "whom");
    cr_assert (json_is_true (json_object_get (whom, "required")));
    cr_assert_null (json_object_get (whom, "description"));
    //  The runner's own parameters are shared, not cut
    cr_assert_not_null (json_object_get (json_object_get (action, "parameters"), "cmd"));
    cr_assert_eq (json_object_size (registry_client_all (client, "trigger")), 0);
    cr_assert_eq (json_object_size (registry_client_all (client, "pack")), 0);

    //  A fact: the new rule is kept as the snapshot's are
    json_t *made = json_pack ("{s:s, s:s, s:b, s:{s:s, s:{s:s, s:i}}, s:{s:s}}", "name",
                              "made", "pack", "demo", "enabled", 0, "trigger", "type",
                              "core.st2.IntervalTimer", "parameters", "unit", "seconds",
                              "delta", 2, "action", "ref", "demo.say");
    s_command ("registry.rule.put", json_pack ("{s:o}", "definition", made), false);
    S_WAIT_UNTIL (client, registry_client_get (client, "rule", "demo.made"), 5000);
    rule = registry_client_get (client, "rule", "demo.made");
    cr_assert (json_is_false (json_object_get (rule, "enabled")));
    cr_assert_null (json_object_get (rule, "trigger"));
    cr_assert_eq (json_object_size (registry_client_all (client, "trigger")), 0);
    registry_client_destroy (&client);
    zactor_destroy (&registry);
}

Test (registry_actor, bad_commands_rejected)
{
    zactor_t *registry = s_start ();
    bus_link_t *link = bus_link_new (
        bus_topology_connect (s_topology, "registry.commands"), "bad@t", NULL);
    s_rejected = 0;
    bus_link_set_reject_handler (link, s_on_reject, NULL);
    const char *types[] = {"registry.rule.enable", "registry.rule.put", "registry.nope"};
    json_t *payloads[] = {json_pack ("{s:s}", "ref", "demo.missing"),
                          json_pack ("{s:{s:s}}", "definition", "name", "x"),
                          json_object ()};
    for (int i = 0; i < 3; i++) {
        proto_envelope_t *envelope = proto_envelope_new (types[i], "bad@t");
        proto_envelope_set_payload_json (envelope, payloads[i], NULL);
        json_decref (payloads[i]);
        cr_assert_eq (bus_link_send (link, &envelope), 0);
    }
    cr_assert_eq (bus_link_flush (link, 5000), 0);
    cr_assert_eq (s_rejected, 3);
    json_t *status = s_status (registry, "STATUS");
    cr_assert_eq (json_integer_value (json_object_get (status, "rules")), 1,
                  "nothing changed");
    json_decref (status);
    bus_link_destroy (&link);
    zactor_destroy (&registry);
}

Test (registry_actor, cron_fields_written_as_numbers_load)
{
    s_write ("demo/rules/nightly.yaml",
             "name: nightly\npack: demo\ntrigger:\n  type: core.st2.CronTimer\n"
             "  parameters:\n    minute: 0\n    hour: 3\n    day_of_week: mon-fri\n"
             "action:\n  ref: demo.say\n");
    zactor_t *registry = s_start ();
    registry_client_t *client = registry_client_new (s_topology, "client@t");
    cr_assert_eq (registry_client_wait_synced (client, 5000), 0);
    const json_t *rule = registry_client_get (client, "rule", "demo.nightly");
    cr_assert_not_null (rule, "a StackStorm-style cron rule with numbers loads");
    json_t *parameters =
        json_object_get (json_object_get (rule, "trigger"), "parameters");
    cr_assert_str_eq (json_string_value (json_object_get (parameters, "minute")), "0");
    cr_assert_str_eq (json_string_value (json_object_get (parameters, "hour")), "3");
    cr_assert_str_eq (json_string_value (json_object_get (parameters, "month")), "*",
                      "defaults applied");
    registry_client_destroy (&client);
    zactor_destroy (&registry);
}
