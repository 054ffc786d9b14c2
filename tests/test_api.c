/*  test_api: the api actor as clients see it, against a live attuned.

    Every operation family over a DEALER (and a REQ) socket; idempotency by
    request id; paging and filters of the execution list; the fact proxy;
    hostile frames (garbage, truncated and oversized envelopes, wrong types,
    unknown operations, extra frames), after each of which the daemon keeps
    serving; an owner that is not running answered `unavailable`; state that
    outlives a restart.
*/
#include "tests/testing_api.h"
#include "bus/bus_facts.h"
#include "proto/proto_envelope.h"
#include "proto/proto_json.h"

static testing_daemon_t s_daemon;

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

static void
s_pack (testing_daemon_t *d)
{
    testing_daemon_write (d, "test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (d, "test/triggers/hook.yaml", "name: hook\npack: test\n");
    testing_daemon_write (d, "test/actions/step.yaml",
                          "name: step\nrunner_type: noop\nparameters:\n"
                          "  n:\n    type: integer\n    required: true\n"
                          "  token:\n    type: string\n    secret: true\n");
    testing_daemon_write (d, "test/actions/wait.yaml",
                          "name: wait\nrunner_type: local-shell-cmd\n"
                          "entry_point: \"sleep 30\"\n");
    testing_daemon_write (d, "test/rules/step.yaml",
                          "name: step\npack: test\ntrigger:\n  type: test.hook\n"
                          "action:\n  ref: test.step\n  parameters:\n"
                          "    n: \"{{ trigger.payload.n }}\"\n");
}

static void
s_start (const char *extra[])
{
    testing_daemon_init (&s_daemon, "test_api");
    s_pack (&s_daemon);
    testing_daemon_start (&s_daemon, extra);
}

TestSuite (api, .fini = s_teardown, .timeout = 90);

//  The api client of tests/testing_api.h, on this suite's daemon
static zsock_t *
s_client (void)
{
    return testing_api_client (&s_daemon);
}

#define s_call_id     testing_api_call_id
#define s_call        testing_api_call
#define s_ok          testing_api_ok
#define s_fails       testing_api_fails
#define s_wait_status testing_api_wait_status

static void
s_ping (void)
{
    zsock_t *sock = s_client ();
    json_t *pong = s_ok (sock, "api.ping", NULL);
    cr_assert (json_is_integer (json_object_get (pong, "pong")));
    json_decref (pong);
    zsock_destroy (&sock);
}

//  ---------------------------------------------------------------------------

Test (api, hello_status_ping_and_definitions)
{
    s_start (NULL);
    zsock_t *sock = s_client ();
    json_t *hello = s_ok (sock, "api.hello", NULL);
    cr_assert_str_eq (json_string_value (json_object_get (hello, "facts")),
                      s_daemon.facts);
    json_decref (hello);
    json_t *status = s_ok (sock, "api.status", NULL);
    const char *actors[] = {"registry", "rules", "executor"};
    for (int i = 0; i < 3; i++)
        cr_assert (
            json_is_true (json_object_get (
                json_object_get (json_object_get (status, "actors"), actors[i]), "up")),
            "%s is up", actors[i]);
    json_decref (status);

    json_t *packs = s_ok (sock, "api.pack.list", NULL);
    cr_assert_eq (json_array_size (json_object_get (packs, "items")), 2);
    json_decref (packs);
    json_t *actions = s_ok (sock, "api.action.list", json_pack ("{s:s}", "pack", "test"));
    cr_assert_eq (json_array_size (json_object_get (actions, "items")), 2);
    json_decref (actions);
    json_t *action =
        s_ok (sock, "api.action.get", json_pack ("{s:s}", "ref", "test.step"));
    cr_assert_str_eq (json_string_value (json_object_get (action, "runner_type")),
                      "noop");
    json_decref (action);
    json_t *trigger =
        s_ok (sock, "api.trigger.get", json_pack ("{s:s}", "ref", "test.hook"));
    json_decref (trigger);
    json_t *rules = s_ok (sock, "api.rule.list", json_pack ("{s:b}", "enabled", 1));
    cr_assert_geq (json_array_size (json_object_get (rules, "items")), 2);
    json_decref (rules);
    s_fails (sock, "api.action.get", json_pack ("{s:s}", "ref", "test.nope"),
             "not_found");
    s_fails (sock, "api.action.get", json_pack ("{s:i}", "ref", 3), "bad_request");
    s_fails (sock, "api.rule.get", NULL, "bad_request");
    s_fails (sock, "api.nothing", NULL, "unknown_type");
    s_fails (sock, "api.execution.frobnicate", json_pack ("{s:s}", "id", "x"),
             "unknown_type");
    zsock_destroy (&sock);
}

Test (api, run_get_cancel_rerun)
{
    s_start (NULL);
    zsock_t *sock = s_client ();
    json_t *run = s_ok (sock, "api.execution.run",
                        json_pack ("{s:s, s:{s:i, s:s}}", "action", "test.step",
                                   "parameters", "n", 4, "token", "hunter2"));
    const char *id = json_string_value (json_object_get (run, "execution"));
    cr_assert_not_null (id);
    json_t *record = s_wait_status (sock, id, "completed", 10000);
    json_t *parameters = json_object_get (record, "parameters");
    cr_assert_eq (json_integer_value (json_object_get (parameters, "n")), 4);
    cr_assert_str_eq (json_string_value (json_object_get (parameters, "token")),
                      "********", "secrets never leave the executor");
    cr_assert (json_is_null (json_object_get (record, "enforcement")));
    cr_assert_geq (json_array_size (json_object_get (record, "log")), 2);
    json_decref (record);

    //  Invalid parameters and unknown actions create nothing
    s_fails (
        sock, "api.execution.run",
        json_pack ("{s:s, s:{s:s}}", "action", "test.step", "parameters", "n", "four"),
        "invalid");
    s_fails (sock, "api.execution.run", json_pack ("{s:s}", "action", "test.step"),
             "invalid");
    s_fails (sock, "api.execution.run", json_pack ("{s:s}", "action", "test.nope"),
             "not_found");
    s_fails (sock, "api.execution.run",
             json_pack ("{s:s, s:i}", "action", "test.step", "parameters", 3),
             "bad_request");
    s_fails (sock, "api.execution.get", json_pack ("{s:s}", "id", "nope"), "not_found");

    //  Re-run: a new execution, parameters merged, parent set
    json_t *again = s_ok (sock, "api.execution.rerun",
                          json_pack ("{s:s, s:{s:i}}", "id", id, "parameters", "n", 9));
    const char *second = json_string_value (json_object_get (again, "execution"));
    cr_assert_str_neq (second, id);
    record = s_wait_status (sock, second, "completed", 10000);
    cr_assert_str_eq (json_string_value (json_object_get (record, "parent")), id);
    cr_assert_eq (json_integer_value (
                      json_object_get (json_object_get (record, "parameters"), "n")),
                  9);
    json_decref (record);

    //  Cancel: a running shell action ends cancelled; an ended one conflicts
    json_t *wait =
        s_ok (sock, "api.execution.run", json_pack ("{s:s}", "action", "test.wait"));
    const char *waiting = json_string_value (json_object_get (wait, "execution"));
    json_decref (s_wait_status (sock, waiting, "running", 10000));
    json_t *cancel =
        s_ok (sock, "api.execution.cancel", json_pack ("{s:s}", "id", waiting));
    cr_assert_str_eq (json_string_value (json_object_get (cancel, "status")),
                      "canceling");
    json_decref (cancel);
    record = s_wait_status (sock, waiting, "cancelled", 10000);
    json_decref (record);
    s_fails (sock, "api.execution.cancel", json_pack ("{s:s}", "id", waiting),
             "conflict");
    s_fails (sock, "api.execution.cancel", json_pack ("{s:s}", "id", id), "conflict");
    s_fails (sock, "api.execution.cancel", json_pack ("{s:s}", "id", "nope"),
             "not_found");
    json_decref (wait);
    json_decref (again);
    json_decref (run);

    json_t *workers = s_ok (sock, "api.worker.list", NULL);
    json_t *first = json_array_get (json_object_get (workers, "items"), 0);
    cr_assert (json_is_true (json_object_get (first, "alive")));
    cr_assert_gt (json_integer_value (json_object_get (first, "slots")), 0);
    cr_assert_gt (json_integer_value (json_object_get (first, "last_heartbeat")), 0);
    json_decref (workers);
    zsock_destroy (&sock);
}

Test (api, cancel_waiting_execution)
{
    //  No worker: an execution waits (requested) and is cancelled at once
    const char *extra[] = {"--actors", "registry,executor,rules,api", NULL};
    s_start (extra);
    zsock_t *sock = s_client ();
    json_t *run =
        s_ok (sock, "api.execution.run",
              json_pack ("{s:s, s:{s:i}}", "action", "test.step", "parameters", "n", 1));
    const char *id = json_string_value (json_object_get (run, "execution"));
    json_decref (s_wait_status (sock, id, "requested", 5000));
    json_t *cancel = s_ok (sock, "api.execution.cancel", json_pack ("{s:s}", "id", id));
    cr_assert_str_eq (json_string_value (json_object_get (cancel, "status")),
                      "cancelled");
    json_decref (cancel);
    json_t *status = s_ok (sock, "api.status", NULL);
    cr_assert_eq (
        json_integer_value (json_object_get (
            json_object_get (json_object_get (status, "actors"), "executor"), "waiting")),
        0, "no longer waiting for a worker");
    json_decref (status);
    json_decref (run);
    zsock_destroy (&sock);
}

Test (api, idempotent_by_request_id)
{
    s_start (NULL);
    zsock_t *sock = s_client ();
    uint8_t id[PROTO_UUID_SIZE];
    proto_uuid_generate (id);
    char ids[2][64];
    for (int i = 0; i < 2; i++) {
        json_t *reply = s_call_id (
            sock, "api.execution.run",
            json_pack ("{s:s, s:{s:i}}", "action", "test.step", "parameters", "n", 1),
            id);
        snprintf (ids[i], sizeof ids[i], "%s",
                  json_string_value (json_object_get (
                      json_object_get (json_object_get (reply, "payload"), "result"),
                      "execution")));
        json_decref (reply);
    }
    cr_assert_str_eq (ids[0], ids[1], "one execution per request id");

    //  The same event twice is one event, one enforcement, one execution
    proto_uuid_generate (id);
    char event[PROTO_UUID_STR_SIZE];
    proto_uuid_format (id, event);
    for (int i = 0; i < 2; i++) {
        json_t *reply = s_call_id (
            sock, "api.event.publish",
            json_pack ("{s:s, s:{s:i}}", "trigger", "test.hook", "payload", "n", 5), id);
        cr_assert_str_eq (
            json_string_value (json_object_get (
                json_object_get (json_object_get (reply, "payload"), "result"), "event")),
            event);
        json_decref (reply);
    }
    json_t *got = s_ok (sock, "api.event.get", json_pack ("{s:s}", "id", event));
    cr_assert_eq (
        json_integer_value (json_object_get (json_object_get (got, "payload"), "n")), 5);
    json_decref (got);
    int64_t deadline = zclock_mono () + 10000;
    size_t completed = 0;
    while (zclock_mono () < deadline) {
        json_t *list =
            s_ok (sock, "api.execution.list",
                  json_pack ("{s:s, s:s}", "rule", "test.step", "status", "completed"));
        completed = json_array_size (json_object_get (list, "items"));
        json_decref (list);
        if (completed >= 1)
            break;
        zclock_sleep (50);
    }
    zclock_sleep (300); //  a second execution would have had time to appear
    json_t *list =
        s_ok (sock, "api.execution.list", json_pack ("{s:s}", "rule", "test.step"));
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 1);
    json_t *first = json_array_get (json_object_get (list, "items"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (first, "event")), event);
    json_decref (list);
    json_t *enforcements =
        s_ok (sock, "api.enforcement.list", json_pack ("{s:s}", "event", event));
    cr_assert_eq (json_array_size (json_object_get (enforcements, "items")), 1);
    const char *enforcement = json_string_value (json_object_get (
        json_array_get (json_object_get (enforcements, "items"), 0), "enforcement"));
    json_t *one =
        s_ok (sock, "api.enforcement.get", json_pack ("{s:s}", "id", enforcement));
    cr_assert_str_eq (json_string_value (json_object_get (one, "rule")), "test.step");
    json_decref (one);
    json_decref (enforcements);
    s_fails (sock, "api.event.publish", json_pack ("{s:i}", "trigger", 1), "bad_request");
    s_fails (sock, "api.event.publish",
             json_pack ("{s:s, s:i}", "trigger", "t", "payload", 1), "bad_request");
    s_fails (sock, "api.event.get", json_pack ("{s:s}", "id", "nope"), "bad_request");
    zsock_destroy (&sock);
}

Test (api, list_paging_and_filters)
{
    s_start (NULL);
    zsock_t *sock = s_client ();
    char ids[7][64];
    for (int i = 0; i < 7; i++) {
        json_t *run = s_ok (
            sock, "api.execution.run",
            json_pack ("{s:s, s:{s:i}}", "action", "test.step", "parameters", "n", i));
        snprintf (ids[i], sizeof ids[i], "%s",
                  json_string_value (json_object_get (run, "execution")));
        json_decref (run);
    }
    for (int i = 0; i < 7; i++)
        json_decref (s_wait_status (sock, ids[i], "completed", 10000));
    //  Newest first, three at a time, each page continuing the last
    const char *before = NULL;
    char cursor[64] = "";
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        json_t *args = json_pack ("{s:s, s:i}", "action", "test.step", "limit", 3);
        if (before)
            json_object_set_new (args, "before", json_string (before));
        json_t *list = s_ok (sock, "api.execution.list", args);
        json_t *items = json_object_get (list, "items");
        for (size_t i = 0; i < json_array_size (items); i++, seen++) {
            cr_assert_str_eq (
                json_string_value (json_object_get (json_array_get (items, i), "id")),
                ids[6 - seen], "item %d in newest-first order", seen);
            cr_assert_null (json_object_get (json_array_get (items, i), "result"),
                            "lists leave out results");
        }
        json_t *next = json_object_get (list, "next");
        if (page < 2) {
            cr_assert (json_is_string (next));
            snprintf (cursor, sizeof cursor, "%s", json_string_value (next));
            before = cursor;
        }
        json_decref (list);
    }
    cr_assert_eq (seen, 7);
    json_t *none =
        s_ok (sock, "api.execution.list", json_pack ("{s:s}", "status", "failed"));
    cr_assert_eq (json_array_size (json_object_get (none, "items")), 0);
    json_decref (none);
    json_t *recent = s_ok (sock, "api.execution.list",
                           json_pack ("{s:I}", "since", (json_int_t)proto_now_usec ()));
    cr_assert_eq (json_array_size (json_object_get (recent, "items")), 0);
    json_decref (recent);
    s_fails (sock, "api.execution.list", json_pack ("{s:s}", "status", "sleepy"),
             "bad_request");
    s_fails (sock, "api.execution.list", json_pack ("{s:i}", "limit", 0), "bad_request");
    s_fails (sock, "api.execution.list", json_pack ("{s:i}", "limit", 100000),
             "bad_request");
    s_fails (sock, "api.execution.list", json_pack ("{s:s}", "since", "yesterday"),
             "bad_request");
    zsock_destroy (&sock);
}

//  Page after page of api.execution.list (action `action`, `limit` a page),
//  following `next`: every id, newest first, into `ids`. Returns the count;
//  *first_page the size of the first page, *first_next whether it had a next.
static size_t
s_list_all (zsock_t *sock, const char *action, int limit, char (*ids)[64], size_t max,
            size_t *first_page, bool *first_next)
{
    size_t count = 0;
    char before[64] = "";
    for (int page = 0; page < 100; page++) {
        json_t *args = json_pack ("{s:s, s:i}", "action", action, "limit", limit);
        if (before[0])
            json_object_set_new (args, "before", json_string (before));
        json_t *list = s_ok (sock, "api.execution.list", args);
        json_t *items = json_object_get (list, "items"), *next;
        if (page == 0) {
            *first_page = json_array_size (items);
            *first_next = json_is_string (json_object_get (list, "next"));
        }
        for (size_t i = 0; i < json_array_size (items) && count < max; i++)
            snprintf (
                ids[count++], 64, "%s",
                json_string_value (json_object_get (json_array_get (items, i), "id")));
        next = json_object_get (list, "next");
        bool more = json_is_string (next);
        if (more)
            snprintf (before, sizeof before, "%s", json_string_value (next));
        json_decref (list);
        if (!more)
            break;
    }
    return count;
}

Test (api, list_pages_are_cut_by_bytes_and_a_record_over_a_frame_is_too_large)
{
    testing_daemon_init (&s_daemon, "test_api");
    s_pack (&s_daemon);
    testing_daemon_write (&s_daemon, "test/actions/blob.yaml",
                          "name: blob\nrunner_type: noop\nparameters:\n"
                          "  text:\n    type: string\n");
    //  An action whose definition alone is over a frame (1,040,000 bytes of
    //  description, in a YAML file under the registry's 1 MiB)
    size_t huge_size = 1040000;
    char *huge = (char *)malloc (huge_size + 128);
    int n = snprintf (huge, 128, "name: huge\nrunner_type: noop\ndescription: ");
    memset (huge + n, 'h', huge_size);
    strcpy (huge + n + huge_size, "\n");
    testing_daemon_write (&s_daemon, "test/actions/huge.yaml", huge);
    free (huge);
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *sock = s_client ();

    //  40 executions of 30 KB parameters: 1.2 MB, more than one frame
    char *text = (char *)malloc (30001);
    memset (text, 't', 30000);
    text[30000] = 0;
    char ids[40][64];
    for (int i = 0; i < 40; i++) {
        json_t *run = s_ok (sock, "api.execution.run",
                            json_pack ("{s:s, s:{s:s}}", "action", "test.blob",
                                       "parameters", "text", text));
        snprintf (ids[i], sizeof ids[i], "%s",
                  json_string_value (json_object_get (run, "execution")));
        json_decref (run);
    }
    free (text);
    for (int i = 0; i < 40; i++)
        json_decref (s_wait_status (sock, ids[i], "completed", 10000));
    char listed[64][64];
    size_t first_page = 0;
    bool first_next = false;
    size_t count =
        s_list_all (sock, "test.blob", 50, listed, 64, &first_page, &first_next);
    cr_assert (first_page > 0 && first_page < 40,
               "the first page (limit 50) is cut by bytes: %zu items", first_page);
    cr_assert (first_next, "a page cut by bytes says a next page exists");
    cr_assert_eq (count, 40, "every execution listed once over the pages");
    for (int i = 0; i < 40; i++)
        cr_assert_str_eq (listed[i], ids[39 - i], "item %d newest first", i);

    //  A record over a frame: too_large, with its size
    json_t *reply =
        s_call (sock, "api.action.get", json_pack ("{s:s}", "ref", "test.huge"));
    json_t *payload = json_object_get (reply, "payload");
    cr_assert_str_eq (json_string_value (json_object_get (reply, "type")), "api.error");
    cr_assert_str_eq (json_string_value (json_object_get (payload, "code")), "too_large");
    const char *message = json_string_value (json_object_get (payload, "message"));
    cr_assert (message && strstr (message, "test.huge") && strstr (message, "1040"),
               "the message names the record and its size: %s", message);
    json_decref (reply);
    //  In a list it is a stub with its size, and the list goes on
    json_t *actions = s_ok (sock, "api.action.list", json_pack ("{s:s}", "pack", "test"));
    json_t *items = json_object_get (actions, "items");
    cr_assert_eq (json_array_size (items), 4, "blob, huge, step, wait");
    json_t *stub = json_array_get (items, 1);
    cr_assert_str_eq (json_string_value (json_object_get (stub, "ref")), "test.huge");
    cr_assert (json_is_true (json_object_get (stub, "too_large")));
    cr_assert_gt (json_integer_value (json_object_get (stub, "size")), 1040000);
    cr_assert_null (json_object_get (stub, "description"));
    cr_assert (json_is_null (json_object_get (actions, "next")));
    json_decref (actions);
    //  The daemon still answers
    s_ping ();
    zsock_destroy (&sock);
}

Test (api, rules_lifecycle)
{
    s_start (NULL);
    zsock_t *sock = s_client ();
    const char *yaml = "name: extra\npack: test\ntrigger:\n  type: test.hook\n"
                       "action:\n  ref: test.step\n  parameters:\n    n: 1\n";
    json_t *created = s_ok (sock, "api.rule.create", json_pack ("{s:s}", "yaml", yaml));
    cr_assert_str_eq (json_string_value (json_object_get (created, "ref")), "test.extra");
    json_decref (created);
    json_t *rule = s_ok (sock, "api.rule.get", json_pack ("{s:s}", "ref", "test.extra"));
    cr_assert (json_is_true (json_object_get (rule, "enabled")));
    json_decref (rule);
    json_decref (
        s_ok (sock, "api.rule.disable", json_pack ("{s:s}", "ref", "test.extra")));
    rule = s_ok (sock, "api.rule.get", json_pack ("{s:s}", "ref", "test.extra"));
    cr_assert (json_is_false (json_object_get (rule, "enabled")));
    json_decref (rule);
    json_t *disabled = s_ok (sock, "api.rule.list", json_pack ("{s:b}", "enabled", 0));
    cr_assert_eq (json_array_size (json_object_get (disabled, "items")), 1);
    json_decref (disabled);
    json_decref (
        s_ok (sock, "api.rule.enable", json_pack ("{s:s}", "ref", "test.extra")));
    json_decref (
        s_ok (sock, "api.rule.delete", json_pack ("{s:s}", "ref", "test.extra")));
    s_fails (sock, "api.rule.get", json_pack ("{s:s}", "ref", "test.extra"), "not_found");
    s_fails (sock, "api.rule.delete", json_pack ("{s:s}", "ref", "test.extra"),
             "not_found");
    s_fails (sock, "api.rule.enable", NULL, "bad_request");
    //  Definitions that do not load say where and why
    s_fails (sock, "api.rule.create",
             json_pack ("{s:s}", "yaml",
                        "name: bad\npack: test\ntrigger:\n  type: test.nope\n"
                        "action:\n  ref: test.step\n"),
             "invalid");
    s_fails (sock, "api.rule.create", json_pack ("{s:s}", "yaml", "name: [unclosed\n"),
             "invalid");
    s_fails (sock, "api.rule.create", json_pack ("{s:i}", "definition", 3),
             "bad_request");
    zsock_destroy (&sock);
}

Test (api, facts_proxy_carries_an_execution)
{
    s_start (NULL);
    bus_sub_t *sub = bus_sub_new (0);
    bus_sub_connect (sub, s_daemon.facts);
    //  The executor's whole stream: its numbering then has no holes
    const char *prefixes[] = {"execution.", "inquiry.", "worker.", "executor."};
    for (size_t i = 0; i < 4; i++)
        bus_sub_subscribe (sub, prefixes[i]);
    zsock_t *sock = s_client ();
    //  The subscription travels through the proxy: wait until facts flow
    char id[64] = "";
    const char *seen[8];
    int count = 0;
    int64_t deadline = zclock_mono () + 15000, run_at = 0;
    while (count < 3 && zclock_mono () < deadline) {
        if (count == 0 && id[0] && zclock_mono () - run_at > 1000)
            id[0] = 0; //  subscribed too late for that one: run another
        if (!id[0]) {
            run_at = zclock_mono ();
            json_t *run = s_ok (sock, "api.execution.run",
                                json_pack ("{s:s, s:{s:i}}", "action", "test.step",
                                           "parameters", "n", 2));
            snprintf (id, sizeof id, "%s",
                      json_string_value (json_object_get (run, "execution")));
            json_decref (run);
        }
        zmq_pollitem_t item = {zsock_resolve (bus_sub_sock (sub)), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 500) <= 0)
            continue;
        proto_envelope_t *fact;
        while ((fact = bus_sub_recv (sub, NULL, 0))) {
            json_t *payload = proto_envelope_payload_json (fact, NULL);
            const char *its = json_string_value (json_object_get (payload, "execution"));
            if (its && streq (its, id) && count < 8) {
                const char *type = proto_envelope_type (fact);
                seen[count++] = streq (type, "execution.requested")   ? "requested"
                                : streq (type, "execution.scheduled") ? "scheduled"
                                : streq (type, "execution.completed") ? "completed"
                                                                      : "other";
            }
            json_decref (payload);
            proto_envelope_destroy (&fact);
        }
    }
    cr_assert_eq (count, 3, "requested, scheduled, completed through api.facts");
    cr_assert_str_eq (seen[0], "requested");
    cr_assert_str_eq (seen[1], "scheduled");
    cr_assert_str_eq (seen[2], "completed");
    cr_assert_eq (bus_sub_gaps (sub), 0, "sequence numbers pass the proxy unchanged");
    bus_sub_destroy (&sub);
    zsock_destroy (&sock);
}

//  Send raw frames and expect one api.error with `code` (or nothing).
static void
s_raw (zsock_t *sock, zmsg_t *msg, const char *code)
{
    cr_assert_eq (zmsg_send (&msg, sock), 0);
    if (!code)
        return;
    zframe_t *frame = zframe_recv (sock);
    cr_assert_not_null (frame, "an error reply (%s)", code);
    proto_envelope_t *reply =
        proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
    zframe_destroy (&frame);
    cr_assert_not_null (reply);
    cr_assert_str_eq (proto_envelope_type (reply), "api.error");
    json_t *payload = proto_envelope_payload_json (reply, NULL);
    //  `code` may list the acceptable codes: "length|truncated"
    const char *got = json_string_value (json_object_get (payload, "code"));
    cr_assert_not_null (got);
    char wanted[128];
    snprintf (wanted, sizeof wanted, "|%s|", code);
    char needle[64];
    snprintf (needle, sizeof needle, "|%s|", got);
    cr_assert_not_null (strstr (wanted, needle), "error code %s, expected %s", got, code);
    json_decref (payload);
    proto_envelope_destroy (&reply);
}

Test (api, hostile_frames_never_stop_it)
{
    s_start (NULL);
    zsock_t *sock = s_client ();
    //  Garbage
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "not msgpack at all");
    s_raw (sock, msg, "trailing");
    //  A valid envelope, truncated
    proto_envelope_t *request = proto_envelope_new ("api.ping", "test@api");
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    proto_envelope_encode (request, &buffer);
    proto_envelope_destroy (&request);
    msg = zmsg_new ();
    zmsg_addmem (msg, buffer.data, buffer.size / 2);
    s_raw (sock, msg, "length|truncated");
    //  Two frames
    msg = zmsg_new ();
    zmsg_addmem (msg, buffer.data, buffer.size);
    zmsg_addstr (msg, "extra");
    s_raw (sock, msg, "bad_frame");
    //  An array32 declaring 2^32-1 elements in a few bytes
    msg = zmsg_new ();
    const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x00};
    zmsg_addmem (msg, bomb, sizeof bomb);
    s_raw (sock, msg, "length");
    //  A map that is not an envelope
    msg = zmsg_new ();
    const uint8_t map[] = {0x81, 0xa1, 'a', 0x01};
    zmsg_addmem (msg, map, sizeof map);
    s_raw (sock, msg, "missing");
    //  The last byte missing
    msg = zmsg_new ();
    zmsg_addmem (msg, buffer.data, buffer.size - 1);
    s_raw (sock, msg, "truncated|length");
    //  An empty frame
    msg = zmsg_new ();
    zmsg_addmem (msg, "", 0);
    s_raw (sock, msg, "empty");
    //  A payload of the wrong type for the operation
    s_fails (sock, "api.execution.get", json_pack ("{s:[]}", "id"), "bad_request");
    msgpack_sbuffer_destroy (&buffer);
    //  Still serving this client, and a REQ client too
    json_decref (s_ok (sock, "api.ping", NULL));
    zsock_destroy (&sock);
    zsock_t *req = zsock_new_req (s_daemon.api);
    zsock_set_rcvtimeo (req, 5000);
    request = proto_envelope_new ("api.ping", "test@req");
    msgpack_sbuffer_init (&buffer);
    proto_envelope_encode (request, &buffer);
    proto_envelope_destroy (&request);
    zframe_t *frame = zframe_new (buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    zframe_send (&frame, req, 0);
    frame = zframe_recv (req);
    cr_assert_not_null (frame, "a REQ client is answered");
    proto_envelope_t *reply =
        proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
    cr_assert_str_eq (proto_envelope_type (reply), "api.reply");
    proto_envelope_destroy (&reply);
    zframe_destroy (&frame);
    zsock_destroy (&req);
    //  An oversized frame: libzmq drops that connection; others go on
    zsock_t *big = s_client ();
    size_t size = 3 * 1024 * 1024;
    char *blob = (char *)calloc (1, size);
    msg = zmsg_new ();
    zmsg_addmem (msg, blob, size);
    free (blob);
    s_raw (big, msg, NULL);
    zsock_destroy (&big);
    for (int i = 0; i < 50; i++) {
        //  Many clients coming and going, some vanishing before their reply
        zsock_t *gone = s_client ();
        proto_envelope_t *ping = proto_envelope_new ("api.status", "test@gone");
        msgpack_sbuffer_init (&buffer);
        proto_envelope_encode (ping, &buffer);
        proto_envelope_destroy (&ping);
        zsock_send (gone, "b", buffer.data, buffer.size);
        msgpack_sbuffer_destroy (&buffer);
        zsock_destroy (&gone);
    }
    s_ping ();
    cr_assert_eq (waitpid (s_daemon.pid, NULL, WNOHANG), 0, "attuned is still running");
}

Test (api, random_and_mutated_frames_never_stop_it)
{
    //  A seeded stream of hostile frames: random bytes, and valid requests
    //  with bytes flipped, cut or appended. Every one that can be answered
    //  is (DEALER replies are counted), none stops the api or an owner.
    s_start (NULL);
    zsock_t *sock = s_client ();
    zsock_set_rcvtimeo (sock, 0);
    zsock_set_rcvhwm (sock, 0);
    unsigned seed = 20261201;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    const char *ops[] = {"api.execution.list", "api.execution.run", "api.rule.create",
                         "api.event.publish",  "api.status",        "api.action.get"};
    int sent = 0, replies = 0;
    for (int i = 0; i < 3000; i++) {
        uint8_t frame[512];
        size_t size;
        if (i % 3 == 0) {
            size = 1 + rand_r (&seed) % sizeof frame;
            for (size_t k = 0; k < size; k++)
                frame[k] = (uint8_t)rand_r (&seed);
        } else {
            proto_envelope_t *request =
                proto_envelope_new (ops[rand_r (&seed) % 6], "test@fuzz");
            json_t *payload =
                json_pack ("{s:s, s:i, s:{s:s}}", "action", "test.step", "n",
                           (int)(rand_r (&seed) % 100), "parameters", "x", "y");
            proto_envelope_set_payload_json (request, payload, NULL);
            json_decref (payload);
            msgpack_sbuffer_clear (&buffer);
            proto_envelope_encode (request, &buffer);
            proto_envelope_destroy (&request);
            size = buffer.size < sizeof frame ? buffer.size : sizeof frame;
            memcpy (frame, buffer.data, size);
            int flips = 1 + rand_r (&seed) % 4;
            for (int f = 0; f < flips; f++)
                frame[rand_r (&seed) % size] = (uint8_t)rand_r (&seed);
            if (rand_r (&seed) % 4 == 0)
                size = 1 + rand_r (&seed) % size; //  cut short
        }
        zmsg_t *msg = zmsg_new ();
        zmsg_addmem (msg, frame, size);
        if (zmsg_send (&msg, sock) == 0)
            sent++;
        zframe_t *reply;
        while ((reply = zframe_recv_nowait (sock))) {
            replies++;
            zframe_destroy (&reply);
        }
    }
    msgpack_sbuffer_destroy (&buffer);
    //  Collect the rest: each frame gets one reply (or was a flipped request
    //  that the api took as a valid one and answered the same way)
    zsock_set_rcvtimeo (sock, 500);
    int64_t deadline = zclock_mono () + 20000;
    while (replies < sent && zclock_mono () < deadline) {
        zframe_t *reply = zframe_recv (sock);
        if (!reply)
            continue;
        replies++;
        zframe_destroy (&reply);
    }
    cr_assert_eq (replies, sent, "every frame answered (%d of %d)", replies, sent);
    zsock_destroy (&sock);
    s_ping ();
    sock = s_client ();
    json_t *status = s_ok (sock, "api.status", NULL);
    const char *actors[] = {"registry", "rules", "executor"};
    for (int i = 0; i < 3; i++)
        cr_assert (
            json_is_true (json_object_get (
                json_object_get (json_object_get (status, "actors"), actors[i]), "up")),
            "%s is still up", actors[i]);
    json_decref (status);
    zsock_destroy (&sock);
    cr_assert_eq (waitpid (s_daemon.pid, NULL, WNOHANG), 0, "attuned is still running");
}

Test (api, owner_not_running_is_unavailable)
{
    const char *extra[] = {"--actors", "registry,api", NULL};
    s_start (extra);
    zsock_t *sock = s_client ();
    int64_t start = zclock_mono ();
    s_fails (sock, "api.execution.list", NULL, "unavailable");
    int64_t took = zclock_mono () - start;
    cr_assert (took >= 4000 && took < 8000, "answered after the 5 s timeout (%d ms)",
               (int)took);
    json_t *status = s_ok (sock, "api.status", NULL);
    json_t *actors = json_object_get (status, "actors");
    cr_assert (
        json_is_true (json_object_get (json_object_get (actors, "registry"), "up")));
    cr_assert (
        json_is_false (json_object_get (json_object_get (actors, "executor"), "up")));
    json_decref (status);
    //  Reads the registry owns still work
    json_decref (s_ok (sock, "api.pack.list", NULL));
    zsock_destroy (&sock);
}

Test (api, requests_in_flight_are_bounded)
{
    //  An executor that takes requests and never answers: the test's own
    //  ROUTER, where the topology puts executor.query
    zsock_t *silent = zsock_new (ZMQ_ROUTER);
    zsock_set_rcvhwm (silent, 0);
    int port = zsock_bind (silent, "tcp://127.0.0.1:*");
    cr_assert_gt (port, 0);
    testing_daemon_init (&s_daemon, "test_api");
    s_pack (&s_daemon);
    char topology[256], path[PATH_MAX + 32];
    snprintf (topology, sizeof topology,
              "endpoints\n    executor.query = tcp://127.0.0.1:%d\n", port);
    testing_write (s_daemon.root, "topology.cfg", topology);
    snprintf (path, sizeof path, "%s/topology.cfg", s_daemon.root);
    const char *extra[] = {"-c", path, "--actors", "registry,api", NULL};
    testing_daemon_start (&s_daemon, extra);
    zsock_t *sock = s_client ();
    zsock_t *flood = s_client ();
    zsock_set_sndhwm (flood, 0);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    for (int i = 0; i < 10000; i++) {
        proto_envelope_t *request =
            proto_envelope_new ("api.execution.list", "test@flood");
        msgpack_sbuffer_clear (&buffer);
        proto_envelope_encode (request, &buffer);
        proto_envelope_destroy (&request);
        zsock_send (flood, "b", buffer.data, buffer.size);
    }
    msgpack_sbuffer_destroy (&buffer);
    //  Once all are in flight (the silent executor has them), the next is
    //  refused at once instead of joining them
    int64_t deadline = zclock_mono () + 4000;
    int received = 0;
    while (received < 10000 && zclock_mono () < deadline) {
        zmsg_t *msg = zmsg_recv_nowait (silent);
        if (msg) {
            received++;
            zmsg_destroy (&msg);
        } else
            zclock_sleep (1);
    }
    cr_assert_eq (received, 10000, "the executor got them all (%d)", received);
    int64_t start = zclock_mono ();
    json_t *reply = s_call (sock, "api.execution.get", json_pack ("{s:s}", "id", "x"));
    const char *message = json_string_value (
        json_object_get (json_object_get (reply, "payload"), "message"));
    cr_assert_not_null (strstr (message ? message : "", "in flight"), "%s", message);
    cr_assert_lt (zclock_mono () - start, 1000, "refused at once");
    json_decref (reply);
    //  Reads of an owner that answers are not held up by it
    json_decref (s_ok (sock, "api.ping", NULL));
    zsock_destroy (&flood);
    zsock_destroy (&sock);
    zsock_destroy (&silent);
}

Test (api, executions_outlive_a_restart)
{
    s_start (NULL);
    zsock_t *sock = s_client ();
    json_t *run =
        s_ok (sock, "api.execution.run",
              json_pack ("{s:s, s:{s:i}}", "action", "test.step", "parameters", "n", 3));
    char id[64];
    snprintf (id, sizeof id, "%s",
              json_string_value (json_object_get (run, "execution")));
    json_decref (run);
    json_decref (s_wait_status (sock, id, "completed", 10000));
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
    testing_daemon_start (&s_daemon, NULL);
    sock = s_client ();
    json_t *record = s_ok (sock, "api.execution.get", json_pack ("{s:s}", "id", id));
    cr_assert_str_eq (json_string_value (json_object_get (record, "status")),
                      "completed");
    json_decref (record);
    zsock_destroy (&sock);
}
