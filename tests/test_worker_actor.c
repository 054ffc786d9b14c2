/*  test_worker_actor: the worker actor over its wire protocol.

    The test plays the executor's side of the protocol: a bus_inbox on
    `executor.commands` that records worker.register and execution.status,
    and a bus_link to the worker's endpoint that sends execution.dispatch
    and execution.cancel.
*/
#include <criterion/criterion.h>
#include <limits.h>
#include <sys/stat.h>

#include "actors/worker/worker.h"
#include "bus/bus_link.h"

static bus_topology_t *s_topology;
static bus_inbox_t *s_inbox;
static bus_link_t *s_link;
static zactor_t *s_worker;
static json_t *s_seen; //  array of payloads, in arrival order
static int s_counter;

static int
s_record (void *arg, store_txn_t *txn, proto_envelope_t *command, bus_command_t *info)
{
    json_t *payload = proto_envelope_payload_json (command, NULL);
    json_object_set_new (payload, "type", json_string (proto_envelope_type (command)));
    json_array_append_new (s_seen, payload);
    return 0;
}

static void
s_pump (int ms)
{
    zpoller_t *poller = zpoller_new (bus_inbox_sock (s_inbox), NULL);
    if (s_link)
        zpoller_add (poller, bus_link_sock (s_link));
    int64_t deadline = zclock_mono () + ms;
    while (zclock_mono () < deadline) {
        void *which = zpoller_wait (poller, 10);
        if (which == bus_inbox_sock (s_inbox))
            bus_inbox_process (s_inbox, s_record, NULL);
        else if (s_link && which == bus_link_sock (s_link))
            bus_link_handle (s_link);
        bus_inbox_tick (s_inbox);
        if (s_link)
            bus_link_tick (s_link);
    }
    zpoller_destroy (&poller);
}

//  Pump until `count` statuses of `status` for `execution` arrived (or ms).
static int
s_wait_status (const char *execution, const char *status, int count, int ms)
{
    int64_t deadline = zclock_mono () + ms;
    int seen = 0;
    while (zclock_mono () < deadline) {
        s_pump (20);
        seen = 0;
        size_t i;
        json_t *item;
        json_array_foreach (s_seen, i, item)
        {
            const char *e = json_string_value (json_object_get (item, "execution"));
            const char *st = json_string_value (json_object_get (item, "status"));
            if (e && st && streq (e, execution) && streq (st, status))
                seen++;
        }
        if (seen >= count)
            break;
    }
    return seen;
}

static const json_t *
s_find (const char *execution, const char *status)
{
    size_t i;
    json_t *item;
    json_array_foreach (s_seen, i, item)
    {
        const char *e = json_string_value (json_object_get (item, "execution"));
        const char *st = json_string_value (json_object_get (item, "status"));
        if (e && st && streq (e, execution) && streq (st, status))
            return item;
    }
    return NULL;
}

static void
s_setup (void)
{
    char ns[64];
    snprintf (ns, sizeof ns, "worker-%d-%d", getpid (), ++s_counter);
    s_topology = bus_topology_new (ns);
    s_seen = json_array ();
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    config.heartbeat_ms = 100;
    s_inbox = bus_inbox_new (bus_topology_bind (s_topology, "executor.commands"),
                             "executor", NULL, &config);
    cr_assert_not_null (s_inbox);
    actor_config_t actor = {.topology = s_topology,
                            .data_dir = "/nonexistent", //  a worker keeps nothing
                            .host = "test",
                            .worker_name = "w1@test",
                            .worker_slots = 2,
                            .heartbeat_ms = 100};
    s_worker = zactor_new (worker_actor, &actor);
    cr_assert_not_null (s_worker);
    //  The registration says where to reach it
    int64_t deadline = zclock_mono () + 5000;
    const char *endpoint = NULL;
    while (!endpoint && zclock_mono () < deadline) {
        s_pump (20);
        json_t *first = json_array_get (s_seen, 0);
        endpoint = json_string_value (json_object_get (first, "endpoint"));
    }
    cr_assert_not_null (endpoint, "worker.register arrived");
    s_link = bus_link_new (endpoint, "executor@test", &config);
}

static void
s_teardown (void)
{
    bus_link_destroy (&s_link);
    zactor_destroy (&s_worker);
    bus_inbox_destroy (&s_inbox);
    json_decref (s_seen);
    bus_topology_destroy (&s_topology);
}

TestSuite (worker_actor, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  Dispatch an execution whose shell command (the action author's text, its
//  entry point) is `cmd`.
static void
s_dispatch (const char *execution, const char *runner, const char *cmd, json_t *extra)
{
    json_t *parameters = extra ? extra : json_object ();
    json_t *payload = json_pack (
        "{s:s, s:{s:s, s:s, s:s, s:s, s:i}, s:o, s:[]}", "execution", execution, "action",
        "ref", "test.a", "runner_type", runner, "entry_point", cmd ? cmd : "", "pack_dir",
        "/tmp", "timeout", 30, "parameters", parameters, "secret");
    proto_envelope_t *command =
        proto_envelope_new ("execution.dispatch", "executor@test");
    cr_assert_eq (proto_envelope_set_payload_json (command, payload, NULL), PROTO_OK);
    json_decref (payload);
    cr_assert_eq (bus_link_send (s_link, &command), 0);
}

Test (worker_actor, registers_its_runtimes_and_slots)
{
    json_t *first = json_array_get (s_seen, 0);
    cr_assert_str_eq (json_string_value (json_object_get (first, "type")),
                      "worker.register");
    cr_assert_str_eq (json_string_value (json_object_get (first, "worker")), "w1@test");
    cr_assert_eq (json_integer_value (json_object_get (first, "slots")), 2);
    cr_assert_geq (json_array_size (json_object_get (first, "runtimes")), 5);
    cr_assert_gt (json_integer_value (json_object_get (first, "instance")), 0);
}

Test (worker_actor, duplicate_dispatch_runs_once_even_after_it_finished)
{
    char marker[128];
    snprintf (marker, sizeof marker, "/tmp/attune-worker-test-%d", getpid ());
    unlink (marker);
    char cmd[256];
    snprintf (cmd, sizeof cmd, "echo x >> %s", marker);
    s_dispatch ("dup-1", "local-shell-cmd", cmd, NULL);
    s_dispatch ("dup-1", "local-shell-cmd", cmd, NULL);
    cr_assert_eq (s_wait_status ("dup-1", "completed", 1, 5000), 1);
    s_dispatch ("dup-1", "local-shell-cmd", cmd, NULL); //  after it ended
    s_pump (500);
    cr_assert_eq (s_wait_status ("dup-1", "completed", 2, 300), 1, "ran once");
    FILE *file = fopen (marker, "r");
    cr_assert_not_null (file);
    char line[16];
    int lines = 0;
    while (fgets (line, sizeof line, file))
        lines++;
    fclose (file);
    unlink (marker);
    cr_assert_eq (lines, 1, "the command ran exactly once");
}

Test (worker_actor, failure_cancel_and_output_cap)
{
    s_dispatch ("fail-1", "local-shell-cmd", "echo oops >&2; exit 3", NULL);
    cr_assert_eq (s_wait_status ("fail-1", "failed", 1, 5000), 1);
    const json_t *failed = s_find ("fail-1", "failed");
    json_t *result = json_object_get (failed, "result");
    cr_assert_eq (json_integer_value (json_object_get (result, "return_code")), 3);
    cr_assert_str_eq (json_string_value (json_object_get (result, "stderr")), "oops\n");

    s_dispatch ("cancel-1", "local-shell-cmd", "sleep 30", NULL);
    cr_assert_eq (s_wait_status ("cancel-1", "running", 1, 5000), 1);
    proto_envelope_t *cancel = proto_envelope_new ("execution.cancel", "executor@test");
    json_t *payload = json_pack ("{s:s}", "execution", "cancel-1");
    proto_envelope_set_payload_json (cancel, payload, NULL);
    json_decref (payload);
    bus_link_send (s_link, &cancel);
    int64_t start = zclock_mono ();
    cr_assert_eq (s_wait_status ("cancel-1", "cancelled", 1, 5000), 1);
    cr_assert_lt (zclock_mono () - start, 4000, "cancelled promptly");

    //  2 MiB of output: captured up to the cap, flagged
    s_dispatch ("big-1", "local-shell-cmd", "head -c 2097152 /dev/zero | tr '\\0' a",
                NULL);
    cr_assert_eq (s_wait_status ("big-1", "completed", 1, 10000), 1);
    result = json_object_get (s_find ("big-1", "completed"), "result");
    cr_assert (json_is_true (json_object_get (result, "stdout_truncated")));
    cr_assert_leq (strlen (json_string_value (json_object_get (result, "stdout"))),
                   256 * 1024);
}

static void
s_dispatch_sleep (const char *execution, double seconds)
{
    json_t *payload = json_pack (
        "{s:s, s:{s:s, s:s, s:s, s:s, s:i}, s:{s:f}, s:[]}", "execution", execution,
        "action", "ref", "core.sleep", "runner_type", "builtin", "entry_point", "sleep",
        "pack_dir", "/tmp", "timeout", 30, "parameters", "seconds", seconds, "secret");
    proto_envelope_t *command =
        proto_envelope_new ("execution.dispatch", "executor@test");
    cr_assert_eq (proto_envelope_set_payload_json (command, payload, NULL), PROTO_OK);
    json_decref (payload);
    cr_assert_eq (bus_link_send (s_link, &command), 0);
}

Test (worker_actor, slots_bound_concurrency_without_blocking_the_loop)
{
    //  Two slots, three 0.5 s sleeps: two run side by side, the third waits
    //  for a slot; meanwhile the actor keeps serving (a noop completes at once)
    s_dispatch_sleep ("s-1", 0.5);
    s_dispatch_sleep ("s-2", 0.5);
    s_dispatch_sleep ("s-3", 0.5);
    cr_assert_eq (s_wait_status ("s-1", "completed", 1, 5000), 1);
    int64_t first = zclock_mono ();
    cr_assert_eq (s_wait_status ("s-2", "completed", 1, 5000), 1);
    int64_t second = zclock_mono ();
    cr_assert_eq (s_wait_status ("s-3", "completed", 1, 5000), 1);
    int64_t third = zclock_mono ();
    //  Side by side: the second ends with the first; serial would be 0.5 s
    //  later. The third needs a free slot: it ends about 0.5 s after them.
    cr_assert_lt (second - first, 300, "the first two ran side by side (%d ms apart)",
                  (int)(second - first));
    cr_assert_geq (third - second, 350, "the third waited for a slot (%d ms later)",
                   (int)(third - second));
}

Test (worker_actor, a_cmd_parameter_runs_as_words_without_a_shell)
{
    char marker[128];
    snprintf (marker, sizeof marker, "/tmp/attune-worker-words-%d", getpid ());
    unlink (marker);
    char cmd[512];
    snprintf (cmd, sizeof cmd, "printf %%s| \"a b\" 'c;d' $(touch %s) ; touch %s", marker,
              marker);
    s_dispatch ("words-1", "local-shell-cmd", NULL, json_pack ("{s:s}", "cmd", cmd));
    cr_assert_eq (s_wait_status ("words-1", "completed", 1, 5000), 1);
    const char *out = json_string_value (json_object_get (
        json_object_get (s_find ("words-1", "completed"), "result"), "stdout"));
    char expect[512];
    snprintf (expect, sizeof expect, "a b|c;d|$(touch|%s)|;|touch|%s|", marker, marker);
    cr_assert_str_eq (out, expect, "each word is an argument, nothing is expanded");
    struct stat st;
    cr_assert_neq (stat (marker, &st), 0, "nothing ran but printf");
    //  A word list that cannot be split says why
    s_dispatch ("words-2", "local-shell-cmd", NULL,
                json_pack ("{s:s}", "cmd", "echo 'open"));
    cr_assert_eq (s_wait_status ("words-2", "failed", 1, 5000), 1);
    const char *error = json_string_value (json_object_get (
        json_object_get (s_find ("words-2", "failed"), "result"), "error"));
    cr_assert_not_null (strstr (error, "unterminated"), "%s", error);
}
