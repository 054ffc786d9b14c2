/*  test_worker_actor: the worker actor over its wire protocol.

    The test plays the executor's side of the protocol: a bus_inbox on
    `executor.commands` that records worker.register and execution.status,
    and a bus_link to the worker's endpoint that sends execution.dispatch
    and execution.cancel. Like the executor, it answers a process's claim
    (`running` with `claim`) with execution.start, unless a test turns that
    off to answer by hand.
*/
#include <criterion/criterion.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "actors/rules/rules_template.h"
#include "actors/worker/worker.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"

static bus_topology_t *s_topology;
static bus_inbox_t *s_inbox;
static bus_link_t *s_link;
static zactor_t *s_worker;
static json_t *s_seen; //  array of payloads, in arrival order
static int s_counter;
static bool s_auto_start; //  answer claims with execution.start
static int s_rejected;    //  commands the worker rejected
static char s_reject_codes[8][32];
static char s_reject_messages[8][256];

static void
s_on_reject (void *arg, const proto_envelope_t *command, const char *code,
             const char *message)
{
    if (s_rejected < 8) {
        snprintf (s_reject_codes[s_rejected], 32, "%s", code);
        snprintf (s_reject_messages[s_rejected], 256, "%s", message ? message : "");
    }
    s_rejected++;
}

//  Send the worker a command (execution.start, .refused, .cancel ...).
static void
s_command (const char *type, json_t *payload)
{
    proto_envelope_t *command = proto_envelope_new (type, "executor@test");
    cr_assert_eq (proto_envelope_set_payload_json (command, payload, NULL), PROTO_OK);
    json_decref (payload);
    cr_assert_eq (bus_link_send (s_link, &command), 0);
}

static int
s_record (void *arg, store_txn_t *txn, proto_envelope_t *command, bus_command_t *info)
{
    json_t *payload = proto_envelope_payload_json (command, NULL);
    json_object_set_new (payload, "type", json_string (proto_envelope_type (command)));
    json_array_append_new (s_seen, payload);
    json_t *claim = json_object_get (payload, "claim");
    if (s_auto_start && s_link && claim)
        s_command ("execution.start",
                   json_pack ("{s:O, s:O}", "execution",
                              json_object_get (payload, "execution"), "claim", claim));
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
    s_auto_start = true;
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    config.heartbeat_ms = 100;
    s_inbox = bus_inbox_new (bus_topology_bind (s_topology, "executor.commands"),
                             "executor", NULL, &config);
    cr_assert_not_null (s_inbox);
    actor_config_t actor = {.topology = s_topology,
                            .data_dir = NULL, //  no ledger (test_distributed has one)
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

Test (worker_actor,
      duplicate_dispatch_runs_once_even_after_it_finished_and_gets_its_outcome)
{
    char marker[128];
    snprintf (marker, sizeof marker, "/tmp/attune-worker-test-%d", getpid ());
    unlink (marker);
    char cmd[256];
    snprintf (cmd, sizeof cmd, "echo x >> %s", marker);
    s_dispatch ("dup-1", "local-shell-cmd", cmd, NULL);
    s_dispatch ("dup-1", "local-shell-cmd", cmd, NULL);
    cr_assert_eq (s_wait_status ("dup-1", "completed", 1, 5000), 1);
    //  After it ended: not run again, but its outcome is said again (the
    //  executor may have taken the first report for a late one)
    s_dispatch ("dup-1", "local-shell-cmd", cmd, NULL);
    cr_assert_eq (s_wait_status ("dup-1", "completed", 2, 3000), 2,
                  "the outcome is reported again");
    s_pump (500);
    cr_assert_eq (s_wait_status ("dup-1", "completed", 3, 300), 2, "and only once");
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

//  The stdout of a finished execution (borrowed from s_seen).
static const char *
s_stdout (const char *execution)
{
    cr_assert_eq (s_wait_status (execution, "completed", 1, 5000), 1, "%s", execution);
    return json_string_value (json_object_get (
        json_object_get (s_find (execution, "completed"), "result"), "stdout"));
}

Test (worker_actor, a_rendered_command_is_the_same_words_with_or_without_a_shell)
{
    //  The quoting of a rule's templates ('...' with ' as '\'') is one word
    //  to the splitter
    s_dispatch ("concat-1", "local-shell-cmd", NULL,
                json_pack ("{s:s}", "cmd", "printf %s| 'abc'\\''def' '' \"\"'x'\"\""));
    cr_assert_str_eq (s_stdout ("concat-1"), "abc'def||x|");

    //  A cmd rendered from event values meant to add arguments or code: as
    //  words (a cmd parameter) and under /bin/sh -c (the entry point, as a
    //  shell cmd will run) it gives the same argv, one word per value
    char marker[128];
    snprintf (marker, sizeof marker, "/tmp/attune-worker-quote-%d", getpid ());
    unlink (marker);
    char a[256], b[512];
    snprintf (a, sizeof a, "x -o -exec touch %s ;", marker);
    snprintf (b, sizeof b, "it's \"q\" $(touch %s) `touch %s` ;touch %s", marker, marker,
              marker);
    const char *c = "line\nnext \\ \\' '\\'' ;";
    json_t *context = json_pack ("{s:{s:{s:s, s:s, s:s, s:s}}}", "trigger", "payload",
                                 "a", a, "b", b, "c", c, "e", "");
    char message[512] = "";
    json_t *line = rules_template_render_shell (
        "printf '%s|' {{ trigger.a }} \"<{{ trigger.b }}>\" '<{{ trigger.c }}>' "
        "{{ trigger.e }} x{{ trigger.b }}y",
        context, "cmd", message, sizeof message);
    json_decref (context);
    cr_assert_not_null (line, "%s", message);
    const char *cmd = json_string_value (line);
    s_dispatch ("quoted-words", "local-shell-cmd", NULL, json_pack ("{s:s}", "cmd", cmd));
    s_dispatch ("quoted-shell", "local-shell-cmd", cmd, NULL);
    char expect[2048];
    snprintf (expect, sizeof expect, "%s|<%s>|<%s>||x%sy|", a, b, c, b);
    cr_expect_str_eq (s_stdout ("quoted-words"), expect, "split: %s", cmd);
    cr_expect_str_eq (s_stdout ("quoted-shell"), expect, "sh -c: %s", cmd);
    json_decref (line);
    struct stat st;
    cr_assert_neq (stat (marker, &st), 0, "nothing ran but printf");
}

//  The claims (running reports with `claim`) for `execution`, in order.
static size_t
s_claims (const char *execution, json_t **last)
{
    size_t n = 0;
    size_t i;
    json_t *item;
    json_array_foreach (s_seen, i, item)
    {
        const char *e = json_string_value (json_object_get (item, "execution"));
        if (e && streq (e, execution) && json_object_get (item, "claim")) {
            n++;
            if (last)
                *last = json_object_get (item, "claim");
        }
    }
    return n;
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

//  Answer the claim on `execution` by hand until it ends `status`: a start
//  that comes after the claim's lease (a slow machine) is not taken and the
//  worker claims again, so each new claim gets its own answer.
static int
s_start_by_hand (const char *execution, const char *status, int ms)
{
    int64_t deadline = zclock_mono () + ms;
    json_int_t answered = -1;
    while (zclock_mono () < deadline) {
        json_t *claim = NULL;
        s_claims (execution, &claim);
        if (claim && json_integer_value (claim) != answered) {
            answered = json_integer_value (claim);
            s_command ("execution.start", json_pack ("{s:s, s:I}", "execution", execution,
                                                     "claim", answered));
        }
        if (s_wait_status (execution, status, 1, 20) == 1)
            return 1;
    }
    return 0;
}

Test (worker_actor, a_process_starts_only_when_the_executor_confirms_its_claim)
{
    s_auto_start = false;
    char marker[128], cmd[256];
    snprintf (marker, sizeof marker, "/tmp/attune-worker-claim-%d", getpid ());
    unlink (marker);
    snprintf (cmd, sizeof cmd, "touch %s", marker);
    s_dispatch ("claim-1", "local-shell-cmd", cmd, NULL);
    cr_assert_eq (s_wait_status ("claim-1", "running", 1, 5000), 1);
    json_t *claim = NULL;
    cr_assert_eq (s_claims ("claim-1", &claim), 1, "its running report is a claim");
    json_int_t ts = json_integer_value (claim);
    s_pump (150);
    cr_assert_not (s_exists (marker), "nothing runs before the executor confirms");
    //  A start for another claim than the one held is not acted on
    s_command ("execution.start",
               json_pack ("{s:s, s:I}", "execution", "claim-1", "claim", ts + 1));
    s_pump (100);
    cr_assert_not (s_exists (marker), "a start for another claim starts nothing");
    cr_assert_eq (s_start_by_hand ("claim-1", "completed", 5000), 1);
    cr_assert (s_exists (marker), "started once confirmed");
    unlink (marker);
    //  Builtins do not claim: they start at once
    s_dispatch ("claim-echo", "builtin", "echo", json_pack ("{s:s}", "message", "hi"));
    cr_assert_eq (s_wait_status ("claim-echo", "completed", 1, 5000), 1);
    cr_assert_eq (s_claims ("claim-echo", NULL), 0);
    //  An idempotent process claims too: a dispatch alone runs nothing
    snprintf (cmd, sizeof cmd, "touch %s", marker);
    json_t *payload = json_pack (
        "{s:s, s:{s:s, s:s, s:s, s:s, s:b, s:i}, s:{}, s:[]}", "execution", "claim-idem",
        "action", "ref", "test.idem", "runner_type", "local-shell-cmd", "entry_point",
        cmd, "pack_dir", "/tmp", "idempotent", 1, "timeout", 30, "parameters", "secret");
    s_command ("execution.dispatch", payload);
    cr_assert_eq (s_wait_status ("claim-idem", "running", 1, 5000), 1);
    cr_assert_eq (s_claims ("claim-idem", NULL), 1, "its running report is a claim");
    s_pump (150);
    cr_assert_not (s_exists (marker), "an idempotent process waits for its start too");
    cr_assert_eq (s_start_by_hand ("claim-idem", "completed", 5000), 1);
    cr_assert (s_exists (marker), "started once confirmed");
    unlink (marker);
}

Test (worker_actor, a_refused_claim_never_starts_and_frees_its_slot)
{
    s_auto_start = false;
    char markers[3][128];
    const char *ids[3] = {"ref-1", "ref-2", "ref-3"};
    for (int i = 0; i < 3; i++) {
        snprintf (markers[i], sizeof markers[i], "/tmp/attune-worker-refused-%d-%d",
                  getpid (), i);
        unlink (markers[i]);
        char cmd[512];
        snprintf (cmd, sizeof cmd, "touch %s", markers[i]);
        s_dispatch (ids[i], "local-shell-cmd", cmd, NULL);
    }
    //  Two slots: two claims, the third waits for a slot
    cr_assert_eq (s_wait_status ("ref-1", "running", 1, 5000), 1);
    cr_assert_eq (s_wait_status ("ref-2", "running", 1, 5000), 1);
    s_pump (100);
    cr_assert_eq (s_claims ("ref-3", NULL), 0, "no slot for the third yet");
    s_command ("execution.refused", json_pack ("{s:s, s:s}", "execution", "ref-1",
                                               "reason", "given to another worker"));
    cr_assert_eq (s_wait_status ("ref-3", "running", 1, 5000), 1,
                  "the refused claim's slot went to the next");
    for (int i = 1; i < 3; i++)
        cr_assert_eq (s_start_by_hand (ids[i], "completed", 5000), 1);
    json_t *claim = NULL;
    s_claims ("ref-1", &claim);
    s_pump (200);
    cr_assert_not (s_exists (markers[0]), "the refused one never ran");
    cr_assert_null (s_find ("ref-1", "completed"));
    cr_assert_null (s_find ("ref-1", "cancelled"), "nothing ran: nothing to report");
    cr_assert (s_exists (markers[1]) && s_exists (markers[2]));
    for (int i = 0; i < 3; i++)
        unlink (markers[i]);
    //  A start for a refused (forgotten) claim starts nothing
    s_command ("execution.start",
               json_pack ("{s:s, s:O}", "execution", "ref-1", "claim", claim));
    s_pump (200);
    cr_assert_not (s_exists (markers[0]));
}

Test (worker_actor,
      an_unanswered_claim_is_made_again_and_a_start_after_its_lease_is_not_taken)
{
    //  Heartbeat 100 ms, liveness 3: the executor gives up after 300 ms of
    //  silence, so a claim's start counts for 150 ms
    s_auto_start = false;
    char marker[128], cmd[256];
    snprintf (marker, sizeof marker, "/tmp/attune-worker-lease-%d", getpid ());
    unlink (marker);
    snprintf (cmd, sizeof cmd, "touch %s", marker);
    s_dispatch ("lease-1", "local-shell-cmd", cmd, NULL);
    cr_assert_eq (s_wait_status ("lease-1", "running", 1, 5000), 1);
    json_t *first = NULL;
    s_claims ("lease-1", &first);
    json_int_t first_ts = json_integer_value (first);
    //  Unanswered: claimed again, with a new time
    cr_assert_geq (s_wait_status ("lease-1", "running", 2, 5000), 2);
    json_t *again = NULL;
    s_claims ("lease-1", &again);
    cr_assert_gt (json_integer_value (again), first_ts);
    //  The start for the first claim comes now, too late: not taken
    s_command ("execution.start",
               json_pack ("{s:s, s:I}", "execution", "lease-1", "claim", first_ts));
    s_pump (150);
    cr_assert_not (s_exists (marker), "a start older than the claim held is ignored");
    //  An answer to the claim held, at once: it starts
    s_auto_start = true;
    cr_assert_eq (s_wait_status ("lease-1", "completed", 1, 5000), 1);
    cr_assert (s_exists (marker));
    unlink (marker);
}

Test (worker_actor, a_claim_holds_a_slot_and_the_end_says_when_it_started)
{
    //  Two slots, three confirmed 0.3 s processes: the third is claimed only
    //  once a slot is free, and no more processes run than slots
    const char *ids[3] = {"slot-1", "slot-2", "slot-3"};
    for (int i = 0; i < 3; i++)
        s_dispatch (ids[i], "local-shell-cmd", "sleep 0.3", NULL);
    for (int i = 0; i < 3; i++)
        cr_assert_eq (s_wait_status (ids[i], "completed", 1, 5000), 1);
    int running = 0, max = 0;
    size_t i;
    json_t *item;
    json_array_foreach (s_seen, i, item)
    {
        const char *status = json_string_value (json_object_get (item, "status"));
        if (!status)
            continue;
        running += streq (status, "running");
        running -= streq (status, "completed");
        max = running > max ? running : max;
    }
    cr_assert_eq (max, 2, "never more claimed or running than slots (%d)", max);
    for (int k = 0; k < 3; k++)
        cr_assert_eq (s_claims (ids[k], NULL), 1, "%s claimed once", ids[k]);
    //  The end reports when the process really started (after its claim)
    const json_t *claim = NULL, *done = s_find ("slot-3", "completed");
    json_array_foreach (s_seen, i, item)
    {
        const char *e = json_string_value (json_object_get (item, "execution"));
        if (e && streq (e, "slot-3") && json_object_get (item, "claim"))
            claim = item;
    }
    cr_assert (claim && done);
    cr_assert_geq (json_integer_value (json_object_get (done, "started")),
                   json_integer_value (json_object_get (claim, "ts")));
}

Test (worker_actor, a_claim_dropped_on_reconciling_is_forgotten_not_reported)
{
    //  The executor settled or re-queued what we only claimed: dropped
    //  without a report (nothing ran), the slot freed, and the same id may
    //  be given to us again
    s_auto_start = false;
    s_dispatch ("drop-1", "local-shell-cmd", "true", NULL);
    cr_assert_eq (s_wait_status ("drop-1", "running", 1, 5000), 1);
    s_command ("worker.reconciled",
               json_pack ("{s:s, s:[s]}", "worker", "w1@test", "drop", "drop-1"));
    s_pump (200);
    cr_assert_null (s_find ("drop-1", "cancelled"), "nothing ran: nothing reported");
    size_t claims = s_claims ("drop-1", NULL);
    s_auto_start = true;
    s_dispatch ("drop-1", "local-shell-cmd", "true", NULL);
    cr_assert_eq (s_wait_status ("drop-1", "completed", 1, 5000), 1,
                  "given again, it runs: it was not taken for finished");
    cr_assert_gt (s_claims ("drop-1", NULL), claims);
}

Test (worker_actor, a_running_job_dropped_on_reconciling_runs_again_when_given_again)
{
    //  The executor took back what it thought lost with us and told us to
    //  drop it: the job is cancelled here, and it is not ours any more, so
    //  when it comes back to us it runs (not answered as "already done")
    s_dispatch_sleep ("drop-2", 30);
    cr_assert_eq (s_wait_status ("drop-2", "running", 1, 5000), 1);
    s_command ("worker.reconciled",
               json_pack ("{s:s, s:[s]}", "worker", "w1@test", "drop", "drop-2"));
    cr_assert_eq (s_wait_status ("drop-2", "cancelled", 1, 5000), 1);
    s_dispatch_sleep ("drop-2", 0.05);
    cr_assert_eq (s_wait_status ("drop-2", "completed", 1, 5000), 1,
                  "given again, it runs again");
    cr_assert_eq (s_wait_status ("drop-2", "running", 2, 100), 2);
    cr_assert_eq (s_wait_status ("drop-2", "cancelled", 2, 100), 1,
                  "the cancellation is not said again");
}

//  Commands to a worker are checked against the message table
//  (proto_messages.c): a body of the wrong shape is answered bad_request
//  naming the field (nothing runs), and the worker keeps serving.
Test (worker_actor, bad_command_bodies_are_rejected_naming_the_field)
{
    s_rejected = 0;
    bus_link_set_reject_handler (s_link, s_on_reject, NULL);
    s_command ("execution.dispatch",
               json_pack ("{s:s, s:{s:s, s:i}, s:{}}", "execution", "bad-1", "action",
                          "ref", "test.a", "runner_type", 7, "parameters"));
    s_command ("execution.dispatch",
               json_pack ("{s:s, s:{s:s, s:s}}", "execution", "bad-2", "action", "ref",
                          "test.a", "runner_type", "noop"));
    s_command ("execution.start",
               json_pack ("{s:s, s:s}", "execution", "bad-3", "claim", "now"));
    s_command ("execution.cancel", json_pack ("{s:i}", "execution", 4));
    s_command ("execution.launch", json_pack ("{s:s}", "execution", "bad-5"));
    s_dispatch ("good-1", "local-shell-cmd", "true", NULL);
    cr_assert_eq (s_wait_status ("good-1", "completed", 1, 5000), 1, "still serving");
    s_pump (200);
    cr_assert_eq (s_rejected, 5, "each malformed command rejected");
    const char *expected[] = {
        "execution.dispatch: action.runner_type: expected str, got int",
        "execution.dispatch: parameters: required (map)",
        "execution.start: claim: expected int, got str",
        "execution.cancel: execution: expected str, got int",
        "a worker does not take 'execution.launch'"};
    for (int i = 0; i < 5; i++) {
        cr_expect_str_eq (s_reject_codes[i], i == 4 ? "unknown_type" : "bad_request");
        cr_expect_str_eq (s_reject_messages[i], expected[i]);
    }
    for (int i = 1; i <= 2; i++) {
        char id[16];
        snprintf (id, sizeof id, "bad-%d", i);
        cr_expect_eq (s_wait_status (id, "completed", 1, 10), 0, "%s never ran", id);
    }
}

//  http-request and remote-shell-* run in helper threads (worker_task.h):
//  the loop goes on meanwhile, their results come back through it, and a
//  cancel stops them promptly.
Test (worker_actor, helper_thread_runners_report_through_the_loop_and_cancel)
{
    //  A server that accepts (the kernel's backlog) and never answers
    int listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    socklen_t length = sizeof addr;
    cr_assert_eq (bind (listener, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq (listen (listener, 8), 0);
    getsockname (listener, (struct sockaddr *)&addr, &length);
    char url[64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/", ntohs (addr.sin_port));

    s_dispatch ("http-hang", "http-request", "", json_pack ("{s:s}", "url", url));
    cr_assert_eq (s_wait_status ("http-hang", "running", 1, 5000), 1);
    //  The loop is free: another job runs and ends meanwhile
    s_dispatch ("http-refused", "http-request", "",
                json_pack ("{s:s}", "url", "http://127.0.0.1:1/"));
    cr_assert_eq (s_wait_status ("http-refused", "failed", 1, 5000), 1);
    const json_t *result = json_object_get (s_find ("http-refused", "failed"), "result");
    cr_assert_not_null (json_object_get (result, "error"));

    s_command ("execution.cancel", json_pack ("{s:s}", "execution", "http-hang"));
    int64_t start = zclock_mono ();
    cr_assert_eq (s_wait_status ("http-hang", "cancelled", 1, 5000), 1);
    cr_assert_lt (zclock_mono () - start, 3000, "cancelled promptly");

    //  A remote job that cannot connect fails, per host, with why
    s_dispatch ("ssh-refused", "remote-shell-cmd", "",
                json_pack ("{s:s, s:s, s:i, s:s}", "hosts", "127.0.0.1", "cmd", "true",
                           "port", 1, "known_hosts", "/dev/null"));
    cr_assert_eq (s_wait_status ("ssh-refused", "failed", 1, 10000), 1);
    result = json_object_get (s_find ("ssh-refused", "failed"), "result");
    json_t *host = json_object_get (result, "127.0.0.1");
    cr_assert (json_is_true (json_object_get (host, "failed")));
    cr_assert (
        strstr (json_string_value (json_object_get (host, "error")), "cannot connect"));
    close (listener);
}
