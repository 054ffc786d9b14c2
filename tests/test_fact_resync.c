/*  test_fact_resync: catching up with the executor's facts after a gap
    (api.execution.changes, proto/PROTOCOL.md "Resynchronising after a gap").

    The ring of recent facts on its own (eviction, dedupe, paging, the
    key read from packed payloads); then against a live attuned: changes
    since 0 and since a sequence number, exactly what was touched, once
    each, in its current state; an unknown publisher and a `since` past the
    publisher's answered with a reset (the non-terminal executions, paged);
    a subscriber that loses facts to a high-water mark and, after the
    changes, knows the end of every one of 2000 executions; a restart (a new
    publisher id) answered with a reset; bad input refused while the
    daemon keeps serving.
*/
#include "tests/testing_api.h"
#include "actors/executor/executor_changes.h"
#include "bus/bus_facts.h"

static testing_daemon_t s_daemon;

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (fact_resync, .fini = s_teardown, .timeout = 180);

static void
s_start (const char *extra[])
{
    testing_daemon_init (&s_daemon, "test_fact_resync");
    testing_daemon_write (&s_daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (&s_daemon, "test/actions/step.yaml",
                          "name: step\nrunner_type: noop\nparameters:\n"
                          "  n:\n    type: integer\n");
    testing_daemon_write (&s_daemon, "test/actions/wait.yaml",
                          "name: wait\nrunner_type: local-shell-cmd\n"
                          "entry_point: \"sleep 30\"\n");
    testing_daemon_start (&s_daemon, extra);
}

//  ---------------------------------------------------------------------------
//  The ring alone, with a source that makes {id: key} records

static int s_fetches;

static json_t *
s_fake_record (void *arg, executor_change_kind_t kind, const char *key)
{
    s_fetches++;
    if (streq (key, "gone"))
        return NULL;
    return json_pack ("{s:s, s:i}", kind == EXECUTOR_CHANGE_WORKER ? "worker" : "id", key,
                      "kind", (int)kind);
}

static json_t *
s_fake_active (void *arg)
{
    return json_pack ("[s, s, s, s]", "c", "a", "b", "a"); //  a twice: once out
}

static json_t *
s_fake_workers (void *arg)
{
    return json_pack ("[{s:s}]", "worker", "w1");
}

static const executor_changes_source_t s_fake = {s_fake_record, s_fake_active,
                                                 s_fake_workers, NULL};

static json_t *
s_fake_query (executor_changes_t *ring, uint64_t publisher, uint64_t seq, json_t *payload)
{
    actor_answer_t answer = {0};
    executor_changes_query (ring, publisher, seq, payload, &s_fake, &answer);
    json_decref (payload);
    cr_assert_eq (answer.code[0], 0, "%s: %s", answer.code, answer.message);
    return answer.result;
}

//  The ids (or worker names) of one list of an answer, joined by commas.
static void
s_keys (json_t *result, const char *list, char *out, size_t size)
{
    out[0] = 0;
    size_t i;
    json_t *item;
    json_array_foreach (json_object_get (result, list), i, item)
    {
        const char *key = json_string_value (json_object_get (item, "id"));
        if (!key)
            key = json_string_value (json_object_get (item, "worker"));
        snprintf (out + strlen (out), size - strlen (out), "%s%s", i ? "," : "",
                  key ? key : "?");
    }
}

//  Records of `size` KiB when the key says so ("k200-1": 200 KiB)
static json_t *
s_big_record (void *arg, executor_change_kind_t kind, const char *key)
{
    int kib = atoi (key + 1);
    char *pad = (char *)malloc ((size_t)kib * 1024 + 1);
    memset (pad, 'x', (size_t)kib * 1024);
    pad[kib * 1024] = 0;
    json_t *record =
        json_pack ("{s:s, s:s, s:s}", "id", key, "status", "completed", "pad", pad);
    free (pad);
    return record;
}

Test (fact_resync, answers_stay_inside_a_frame)
{
    //  Pages are filled while under 512 KiB and a record over 256 KiB is a
    //  stub: every answer fits a frame (1 MiB), and paging still ends
    executor_changes_t *ring = executor_changes_new (64);
    const char *keys[] = {"k200-1", "k200-2", "k200-3", "k300-4", "k200-5", "k200-6"};
    for (int i = 0; i < 6; i++)
        executor_changes_note (ring, (uint64_t)i + 1, EXECUTOR_CHANGE_EXECUTION, keys[i]);
    executor_changes_source_t big = {s_big_record, s_fake_active, s_fake_workers, NULL};
    uint64_t since = 0;
    int pages = 0, records = 0, stubs = 0;
    while (pages < 10) {
        actor_answer_t answer = {0};
        json_t *payload =
            json_pack ("{s:i, s:I}", "publisher", 7, "since", (json_int_t)since);
        executor_changes_query (ring, 7, 6, payload, &big, &answer);
        json_decref (payload);
        cr_assert_not_null (answer.result);
        size_t bytes = json_dumpb (answer.result, NULL, 0, JSON_COMPACT);
        cr_assert_lt (bytes, 800 * 1024, "page %d is %zu bytes", pages, bytes);
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (answer.result, "executions"), i, item)
        {
            records++;
            stubs += json_is_true (json_object_get (item, "too_large"));
        }
        pages++;
        json_t *next = json_object_get (answer.result, "next");
        bool done = json_is_null (next);
        if (!done)
            since = (uint64_t)json_integer_value (json_object_get (next, "since"));
        json_decref (answer.result);
        if (done)
            break;
    }
    cr_assert_eq (records, 6, "every record once");
    cr_assert_eq (stubs, 1, "the 300 KiB one is a stub");
    cr_assert_geq (pages, 2);
    executor_changes_destroy (&ring);
}

Test (fact_resync, ring_dedupes_pages_and_forgets)
{
    executor_changes_t *ring = executor_changes_new (4);
    cr_assert_not_null (ring);
    //  seq: 1 x, 2 y, 3 x, 4 worker w1, 5 z, 6 x (inquiry), 7 gone
    executor_changes_note (ring, 1, EXECUTOR_CHANGE_EXECUTION, "x");
    executor_changes_note (ring, 2, EXECUTOR_CHANGE_EXECUTION, "y");
    executor_changes_note (ring, 3, EXECUTOR_CHANGE_EXECUTION, "x");
    executor_changes_note (ring, 4, EXECUTOR_CHANGE_WORKER, "w1");
    executor_changes_note (ring, 0, EXECUTOR_CHANGE_EXECUTION, "never sent");
    executor_changes_note (ring, 3, EXECUTOR_CHANGE_EXECUTION, "out of order");
    cr_assert_eq (executor_changes_floor (ring), 0);
    json_t *result =
        s_fake_query (ring, 7, 4, json_pack ("{s:i, s:i}", "publisher", 7, "since", 0));
    char keys[256];
    cr_assert (json_is_false (json_object_get (result, "reset")));
    cr_assert_eq (json_integer_value (json_object_get (result, "seq")), 4);
    s_keys (result, "executions", keys, sizeof keys);
    cr_assert_str_eq (keys, "x,y", "each once, in the order first touched");
    s_keys (result, "workers", keys, sizeof keys);
    cr_assert_str_eq (keys, "w1");
    cr_assert (json_is_null (json_object_get (result, "next")));
    json_decref (result);

    //  Since 2: x (seq 3) and the worker only
    result =
        s_fake_query (ring, 7, 4, json_pack ("{s:i, s:i}", "publisher", 7, "since", 2));
    s_keys (result, "executions", keys, sizeof keys);
    cr_assert_str_eq (keys, "x");
    json_decref (result);

    //  Full: the oldest are forgotten, and the floor says up to where
    executor_changes_note (ring, 5, EXECUTOR_CHANGE_EXECUTION, "z");
    executor_changes_note (ring, 6, EXECUTOR_CHANGE_INQUIRY, "x");
    executor_changes_note (ring, 7, EXECUTOR_CHANGE_EXECUTION, "gone");
    executor_changes_note (ring, 8, EXECUTOR_CHANGE_EXECUTION, "y");
    cr_assert_eq (executor_changes_floor (ring), 3, "1, 2 and 3 forgotten");
    result =
        s_fake_query (ring, 7, 8, json_pack ("{s:i, s:i}", "publisher", 7, "since", 2));
    cr_assert (json_is_true (json_object_get (result, "reset")), "since 2 < floor 3");
    s_keys (result, "executions", keys, sizeof keys);
    cr_assert_str_eq (keys, "a,b,c", "the active ones, sorted, once each");
    s_keys (result, "workers", keys, sizeof keys);
    cr_assert_str_eq (keys, "w1");
    cr_assert (json_is_null (json_object_get (result, "next")), "nothing since");
    json_decref (result);

    result =
        s_fake_query (ring, 7, 8, json_pack ("{s:i, s:i}", "publisher", 7, "since", 3));
    cr_assert (json_is_false (json_object_get (result, "reset")));
    s_keys (result, "executions", keys, sizeof keys);
    cr_assert_str_eq (keys, "z,y", "gone has no record");
    s_keys (result, "inquiries", keys, sizeof keys);
    cr_assert_str_eq (keys, "x", "an inquiry is not its execution");
    json_decref (result);

    //  Paging: one record a page, `next` carries on where it stopped
    uint64_t since = 3;
    char all[1024] = "";
    for (int page = 0; page < 10; page++) {
        result = s_fake_query (ring, 7, 8,
                               json_pack ("{s:i, s:I, s:i}", "publisher", 7, "since",
                                          (json_int_t)since, "limit", 1));
        cr_assert (json_is_false (json_object_get (result, "reset")));
        size_t n = json_array_size (json_object_get (result, "executions")) +
                   json_array_size (json_object_get (result, "inquiries")) +
                   json_array_size (json_object_get (result, "workers"));
        cr_assert_leq (n, 1);
        for (const char **list = (const char *[]){"executions", "inquiries", NULL}; *list;
             list++) {
            s_keys (result, *list, keys, sizeof keys);
            if (keys[0])
                snprintf (all + strlen (all), sizeof all - strlen (all), "%s%s:%s",
                          all[0] ? " " : "", (*list)[0] == 'e' ? "e" : "i", keys);
        }
        json_t *next = json_object_get (result, "next");
        if (json_is_null (next)) {
            json_decref (result);
            break;
        }
        since = (uint64_t)json_integer_value (json_object_get (next, "since"));
        json_decref (result);
    }
    cr_assert_str_eq (all, "e:z i:x e:y");

    //  Reset pages: `after` then back to changes since the listing began
    result =
        s_fake_query (ring, 7, 8, json_pack ("{s:i, s:i}", "publisher", 99, "limit", 2));
    s_keys (result, "executions", keys, sizeof keys);
    cr_assert_str_eq (keys, "a,b");
    json_t *next = json_object_get (result, "next");
    cr_assert_str_eq (json_string_value (json_object_get (next, "after")), "b");
    cr_assert_eq (json_integer_value (json_object_get (next, "since")), 8);
    json_decref (result);
    result = s_fake_query (ring, 7, 9,
                           json_pack ("{s:i, s:i, s:s, s:i}", "publisher", 7, "since", 8,
                                      "after", "b", "limit", 2));
    cr_assert (json_is_true (json_object_get (result, "reset")));
    s_keys (result, "executions", keys, sizeof keys);
    cr_assert_str_eq (keys, "c");
    next = json_object_get (result, "next");
    cr_assert_eq (json_integer_value (json_object_get (next, "since")), 8,
                  "seq moved on during the listing: the changes since it began next");
    cr_assert_null (json_object_get (next, "after"));
    json_decref (result);

    //  A publisher that never got that far: reset
    result =
        s_fake_query (ring, 7, 8, json_pack ("{s:i, s:i}", "publisher", 7, "since", 50));
    cr_assert (json_is_true (json_object_get (result, "reset")));
    json_decref (result);
    executor_changes_destroy (&ring);
    executor_changes_destroy (&ring);
    cr_assert_null (ring);
}

Test (fact_resync, ring_reads_keys_from_envelopes)
{
    executor_changes_t *ring = executor_changes_new (16);
    //  The executor's own layout (the key first) and any other
    proto_envelope_t *first = proto_envelope_new ("execution.completed", "test@here");
    msgpack_sbuffer packed;
    msgpack_sbuffer_init (&packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &packed, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    const char *strings[] = {"execution", "exec-1", "status", "done"};
    for (int i = 0; i < 4; i++) {
        msgpack_pack_str (&pk, strlen (strings[i]));
        msgpack_pack_str_body (&pk, strings[i], strlen (strings[i]));
    }
    cr_assert_eq (proto_envelope_set_payload_packed (first, packed.data, packed.size), 0);
    msgpack_sbuffer_destroy (&packed);
    proto_envelope_t *other = proto_envelope_new ("inquiry.created", "test@here");
    json_t *payload =
        json_pack ("{s:s, s:s, s:s}", "a", "b", "status", "pending", "inquiry", "inq-1");
    proto_envelope_set_payload_json (other, payload, NULL);
    json_decref (payload);
    proto_envelope_t *ignored = proto_envelope_new ("event.created", "test@here");
    executor_changes_note_envelope (ring, 1, first);
    executor_changes_note_envelope (ring, 2, other);
    executor_changes_note_envelope (ring, 3, ignored);
    payload = json_pack ("{s:s}", "worker", "w@h");
    executor_changes_note_json (ring, 4, "worker.up", payload);
    executor_changes_note_json (ring, 5, "worker.up", NULL);
    json_decref (payload);
    cr_assert_eq (executor_changes_size (ring), 3);
    json_t *result = s_fake_query (ring, 1, 5, json_pack ("{s:i}", "publisher", 1));
    char keys[256];
    s_keys (result, "executions", keys, sizeof keys);
    cr_assert_str_eq (keys, "exec-1");
    s_keys (result, "inquiries", keys, sizeof keys);
    cr_assert_str_eq (keys, "inq-1");
    s_keys (result, "workers", keys, sizeof keys);
    cr_assert_str_eq (keys, "w@h");
    json_decref (result);
    proto_envelope_destroy (&first);
    proto_envelope_destroy (&other);
    proto_envelope_destroy (&ignored);
    executor_changes_destroy (&ring);
}

//  ---------------------------------------------------------------------------
//  Against a live daemon

static json_t *
s_changes (zsock_t *sock, json_t *payload)
{
    return testing_api_ok (sock, "api.execution.changes", payload);
}

static void
s_run (zsock_t *sock, const char *action, json_t *parameters, char id[64])
{
    json_t *run = testing_api_ok (sock, "api.execution.run",
                                  json_pack ("{s:s, s:o}", "action", action, "parameters",
                                             parameters ? parameters : json_object ()));
    snprintf (id, 64, "%s", json_string_value (json_object_get (run, "execution")));
    cr_assert (id[0]);
    json_decref (run);
}

//  The executor's publisher id and sequence number now (from a reset).
static void
s_publisher (zsock_t *sock, uint64_t *publisher, uint64_t *seq)
{
    json_t *result = s_changes (sock, json_pack ("{s:i}", "limit", 1));
    cr_assert (json_is_true (json_object_get (result, "reset")));
    *publisher = (uint64_t)json_integer_value (json_object_get (result, "publisher"));
    *seq = (uint64_t)json_integer_value (json_object_get (result, "seq"));
    cr_assert_gt (*publisher, 0);
    json_decref (result);
}

//  Follow `next` from a first request to the end; returns {id: status} of
//  every execution listed, and sets *reset when a page was a reset, *seq
//  to the sequence number of the last page.
static json_t *
s_changes_all (zsock_t *sock, uint64_t publisher, uint64_t since, int limit, bool *reset,
               uint64_t *seq, int *pages)
{
    json_t *seen = json_object ();
    json_t *request = json_pack ("{s:I, s:I, s:i}", "publisher", (json_int_t)publisher,
                                 "since", (json_int_t)since, "limit", limit);
    *reset = false;
    *pages = 0;
    for (int page = 0; page < 1000; page++) {
        json_t *result = s_changes (sock, request);
        (*pages)++;
        if (json_is_true (json_object_get (result, "reset")))
            *reset = true;
        publisher = (uint64_t)json_integer_value (json_object_get (result, "publisher"));
        *seq = (uint64_t)json_integer_value (json_object_get (result, "seq"));
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (result, "executions"), i, item)
        {
            cr_assert_null (json_object_get (item, "result"), "the brief form");
            json_object_set (seen, json_string_value (json_object_get (item, "id")),
                             json_object_get (item, "status"));
        }
        json_t *next = json_object_get (result, "next");
        if (json_is_null (next)) {
            json_decref (result);
            return seen;
        }
        request = json_deep_copy (next);
        json_object_set_new (request, "publisher", json_integer ((json_int_t)publisher));
        json_object_set_new (request, "limit", json_integer (limit));
        json_decref (result);
    }
    cr_assert_fail ("api.execution.changes never ended");
    return NULL;
}

Test (fact_resync, changes_since_a_seq_are_what_was_touched)
{
    s_start (NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    char a[64], b[64], c[64], ask[64];
    s_run (sock, "test.step", NULL, a);
    json_decref (testing_api_wait_status (sock, a, "completed", 10000));
    uint64_t publisher, seq;
    s_publisher (sock, &publisher, &seq);

    //  Since 0: everything this publisher said, the worker included
    json_t *result = s_changes (
        sock, json_pack ("{s:I, s:i}", "publisher", (json_int_t)publisher, "since", 0));
    cr_assert (json_is_false (json_object_get (result, "reset")));
    cr_assert_eq (json_integer_value (json_object_get (result, "floor")), 0);
    cr_assert_geq ((uint64_t)json_integer_value (json_object_get (result, "seq")), seq);
    json_t *executions = json_object_get (result, "executions");
    cr_assert_eq (json_array_size (executions), 1, "a, once (three facts)");
    json_t *record = json_array_get (executions, 0);
    cr_assert_str_eq (json_string_value (json_object_get (record, "id")), a);
    cr_assert_str_eq (json_string_value (json_object_get (record, "status")),
                      "completed");
    cr_assert_str_eq (json_string_value (json_object_get (record, "action")),
                      "test.step");
    cr_assert_geq (json_array_size (json_object_get (result, "workers")), 1,
                   "worker.up was a fact too");
    cr_assert (json_is_null (json_object_get (result, "next")));
    uint64_t after_a = (uint64_t)json_integer_value (json_object_get (result, "seq"));
    json_decref (result);

    //  Since a seq: b and c, not a; each once, in its current status
    s_run (sock, "test.step", json_pack ("{s:i}", "n", 1), b);
    s_run (sock, "test.step", json_pack ("{s:i}", "n", 2), c);
    json_decref (testing_api_wait_status (sock, b, "completed", 10000));
    json_decref (testing_api_wait_status (sock, c, "completed", 10000));
    bool reset;
    int pages;
    json_t *seen = s_changes_all (sock, publisher, after_a, 200, &reset, &seq, &pages);
    cr_assert_not (reset);
    cr_assert_eq (pages, 1);
    cr_assert_eq (json_object_size (seen), 2, "b and c only");
    cr_assert_str_eq (json_string_value (json_object_get (seen, b)), "completed");
    cr_assert_str_eq (json_string_value (json_object_get (seen, c)), "completed");
    json_decref (seen);
    //  The same one record a page
    seen = s_changes_all (sock, publisher, after_a, 1, &reset, &seq, &pages);
    cr_assert_not (reset);
    cr_assert_eq (json_object_size (seen), 2);
    cr_assert_geq (pages, 2);
    json_decref (seen);
    uint64_t after_c = seq;
    //  Since the last answer's seq: nothing
    result = s_changes (sock, json_pack ("{s:I, s:I}", "publisher", (json_int_t)publisher,
                                         "since", (json_int_t)after_c));
    cr_assert_eq (json_array_size (json_object_get (result, "executions")), 0);
    json_decref (result);

    //  An inquiry: its execution (pending) and the inquiry itself
    s_run (sock, "core.ask", NULL, ask);
    json_decref (testing_api_wait_status (sock, ask, "pending", 10000));
    int64_t deadline = zclock_mono () + 5000;
    while (true) { //  inquiry.created follows execution.pending at once
        result =
            s_changes (sock, json_pack ("{s:I, s:I}", "publisher", (json_int_t)publisher,
                                        "since", (json_int_t)after_c));
        if (json_array_size (json_object_get (result, "inquiries")) == 1 ||
            zclock_mono () > deadline)
            break;
        json_decref (result);
        zclock_sleep (20);
    }
    executions = json_object_get (result, "executions");
    cr_assert_eq (json_array_size (executions), 1);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_array_get (executions, 0), "status")),
        "pending");
    json_t *inquiry = json_array_get (json_object_get (result, "inquiries"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (inquiry, "id")), ask);
    cr_assert_str_eq (json_string_value (json_object_get (inquiry, "status")), "pending");
    json_decref (result);
    zsock_destroy (&sock);
}

Test (fact_resync, unknown_publisher_gets_the_active_executions)
{
    s_start (NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    char done[64], wait[64], ask[64];
    s_run (sock, "test.step", NULL, done);
    s_run (sock, "test.wait", NULL, wait);
    s_run (sock, "core.ask", NULL, ask);
    json_decref (testing_api_wait_status (sock, done, "completed", 10000));
    json_decref (testing_api_wait_status (sock, wait, "running", 10000));
    json_decref (testing_api_wait_status (sock, ask, "pending", 10000));
    uint64_t publisher, seq;
    s_publisher (sock, &publisher, &seq);

    //  A publisher id it never had, none, and a `since` it never reached
    json_t *requests[] = {json_pack ("{s:I, s:i}", "publisher",
                                     (json_int_t)(publisher ^ 0x5a5a), "since", 3),
                          json_pack ("{}"),
                          json_pack ("{s:I, s:I}", "publisher", (json_int_t)publisher,
                                     "since", (json_int_t)seq + 1000)};
    for (int r = 0; r < 3; r++) {
        json_t *result = s_changes (sock, requests[r]);
        cr_assert (json_is_true (json_object_get (result, "reset")), "request %d", r);
        cr_assert_eq (
            (uint64_t)json_integer_value (json_object_get (result, "publisher")),
            publisher);
        json_t *executions = json_object_get (result, "executions");
        cr_assert_eq (json_array_size (executions), 2, "wait and ask, not done");
        size_t i;
        json_t *item;
        bool saw_wait = false, saw_ask = false;
        json_array_foreach (executions, i, item)
        {
            const char *id = json_string_value (json_object_get (item, "id"));
            const char *status = json_string_value (json_object_get (item, "status"));
            cr_assert_not (testing_status_terminal (status), "%s is %s", id, status);
            saw_wait = saw_wait || streq (id, wait);
            saw_ask = saw_ask || streq (id, ask);
        }
        cr_assert (saw_wait && saw_ask);
        cr_assert_geq (json_array_size (json_object_get (result, "workers")), 1);
        json_decref (result);
    }
    //  Paged one a page, the listing ends with the changes since it began
    bool reset;
    int pages;
    json_t *seen = s_changes_all (sock, 0, 0, 1, &reset, &seq, &pages);
    cr_assert (reset);
    cr_assert_geq (pages, 2);
    cr_assert_eq (json_object_size (seen), 2);
    cr_assert_str_eq (json_string_value (json_object_get (seen, wait)), "running");
    cr_assert_str_eq (json_string_value (json_object_get (seen, ask)), "pending");
    json_decref (seen);
    json_decref (
        testing_api_ok (sock, "api.execution.cancel", json_pack ("{s:s}", "id", wait)));
    zsock_destroy (&sock);
}

//  A relay of the executor's facts with a small queue, like any hop between
//  a publisher and a slow subscriber: what does not fit is dropped. (The
//  api's fact proxy queues 100,000 facts per subscriber; 2000 executions
//  would fit.)
static void
s_relay (zsock_t *pipe, void *args)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zsock_t *pub = zsock_new (ZMQ_PUB);
    zsock_set_sndhwm (pub, 10);
    zsock_set_rcvhwm (sub, 0);
    zsock_set_subscribe (sub, "execution.");
    zsock_set_subscribe (sub, "inquiry.");
    zsock_set_subscribe (sub, "worker.");
    int rc = zsock_bind (pub, "inproc://test-fact-resync-relay");
    rc |= zsock_connect (sub, "%s", (const char *)args);
    zsock_signal (pipe, rc == 0 ? 0 : 1);
    zpoller_t *poller = zpoller_new (pipe, sub, NULL);
    while (rc == 0) {
        void *which = zpoller_wait (poller, -1);
        if (which != sub)
            break; //  $TERM, or interrupted
        zmsg_t *msg = zmsg_recv (sub);
        if (msg)
            zmsg_send (&msg, pub); //  PUB: dropped when the queue is full
    }
    zpoller_destroy (&poller);
    zsock_destroy (&sub);
    zsock_destroy (&pub);
}

typedef struct {
    uint64_t publisher;
    uint64_t expected; //  first gap: the sequence number that should have come
    int gaps;
} s_gap_t;

static void
s_on_gap (void *arg, uint64_t publisher, uint64_t expected, uint64_t received)
{
    s_gap_t *gap = (s_gap_t *)arg;
    if (expected == 0)
        return; //  the stream's first fact
    if (gap->gaps++ == 0) {
        gap->publisher = publisher;
        gap->expected = expected;
    }
}

//  Apply the facts waiting on `sub` to `state` ({id: status}) until it has
//  been quiet for `quiet_ms`. Returns how many were applied.
static int
s_drain (bus_sub_t *sub, json_t *state, int quiet_ms)
{
    int count = 0;
    proto_envelope_t *fact;
    while ((fact = bus_sub_recv (sub, NULL, quiet_ms))) {
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        const char *id = json_string_value (json_object_get (payload, "execution"));
        if (id && strncmp (proto_envelope_type (fact), "execution.", 10) == 0)
            json_object_set (state, id, json_object_get (payload, "status"));
        json_decref (payload);
        proto_envelope_destroy (&fact);
        count++;
    }
    return count;
}

#define S_BURST 2000

Test (fact_resync, subscriber_behind_a_full_queue_catches_up)
{
    const char *extra[] = {"--no-fsync", NULL};
    s_start (extra);
    zsock_t *sock = testing_api_client (&s_daemon);
    zactor_t *relay = zactor_new (s_relay, s_daemon.facts);
    cr_assert_not_null (relay);
    bus_sub_t *sub = bus_sub_new (10);
    s_gap_t gap = {0};
    bus_sub_set_gap_handler (sub, s_on_gap, &gap);
    cr_assert_eq (bus_sub_connect (sub, "inproc://test-fact-resync-relay"), 0);
    cr_assert_eq (bus_sub_subscribe (sub, ""), 0);
    json_t *state = json_object ();

    //  Until facts flow through the proxy and the relay
    char id[64];
    int runs = 0;
    int64_t deadline = zclock_mono () + 15000;
    do {
        cr_assert_lt (zclock_mono (), deadline, "no facts through the relay");
        s_run (sock, "test.step", NULL, id);
        runs++;
        s_drain (sub, state, 300);
    } while (!json_object_get (state, id));
    json_decref (testing_api_wait_status (sock, id, "completed", 10000));
    s_drain (sub, state, 300);
    //  A gap while the stream settled (the relay joined during the warm-up
    //  runs, its queue of 10 full for a moment) is not the one under test
    gap = (s_gap_t){0};

    //  The subscriber looks away while 2000 executions run and end
    char (*ids)[64] = calloc (S_BURST, 64);
    zsock_t *burst = testing_api_client (&s_daemon);
    zsock_set_sndhwm (burst, 0);
    zsock_set_rcvhwm (burst, 0);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    for (int i = 0; i < S_BURST; i++) {
        proto_envelope_t *request =
            proto_envelope_new ("api.execution.run", "test@burst");
        json_t *payload =
            json_pack ("{s:s, s:{s:i}}", "action", "test.step", "parameters", "n", i);
        proto_envelope_set_payload_json (request, payload, NULL);
        json_decref (payload);
        msgpack_sbuffer_clear (&buffer);
        proto_envelope_encode (request, &buffer);
        proto_envelope_destroy (&request);
        zframe_t *frame = zframe_new (buffer.data, buffer.size);
        cr_assert_eq (zframe_send (&frame, burst, 0), 0);
    }
    msgpack_sbuffer_destroy (&buffer);
    for (int i = 0; i < S_BURST; i++) {
        zframe_t *frame = zframe_recv (burst);
        cr_assert_not_null (frame, "run reply %d", i);
        proto_envelope_t *reply =
            proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
        zframe_destroy (&frame);
        json_t *body = reply ? proto_envelope_payload_json (reply, NULL) : NULL;
        const char *execution = json_string_value (
            json_object_get (json_object_get (body, "result"), "execution"));
        cr_assert_not_null (execution, "run %d answered %s", i,
                            reply ? proto_envelope_type (reply) : "garbage");
        snprintf (ids[i], 64, "%s", execution);
        json_decref (body);
        proto_envelope_destroy (&reply);
    }
    zsock_destroy (&burst);
    //  Every one has ended (the executor's own count)
    deadline = zclock_mono () + 60000;
    while (true) {
        json_t *status = testing_api_ok (sock, "api.status", NULL);
        json_int_t completed = json_integer_value (json_object_get (
            json_object_get (
                json_object_get (json_object_get (status, "actors"), "executor"),
                "by_status"),
            "completed"));
        json_decref (status);
        if (completed >= S_BURST + runs)
            break;
        cr_assert_lt (zclock_mono (), deadline, "%d of %d completed", (int)completed,
                      S_BURST + runs);
        zclock_sleep (50);
    }

    //  Back: a few facts were queued, the rest lost; the next fact after
    //  them (a later execution: the executor has no heartbeat) shows the gap
    int applied = s_drain (sub, state, 500);
    s_run (sock, "test.step", NULL, id);
    json_decref (testing_api_wait_status (sock, id, "completed", 10000));
    applied += s_drain (sub, state, 500);
    cr_assert_lt (applied, S_BURST * 3, "facts were lost (%d arrived)", applied);
    cr_assert_geq (gap.gaps, 1, "a gap was seen");
    cr_assert_gt (bus_sub_missed (sub), 0);
    int missing = 0;
    for (int i = 0; i < S_BURST; i++) {
        const char *status = json_string_value (json_object_get (state, ids[i]));
        if (!status || !streq (status, "completed"))
            missing++;
    }
    cr_assert_gt (missing, 0, "the subscriber alone does not know them all");

    //  Catch up: the changes since the last fact before the gap
    bool reset;
    int pages;
    uint64_t seq;
    json_t *seen = s_changes_all (sock, gap.publisher & INT64_MAX, gap.expected - 1, 1000,
                                  &reset, &seq, &pages);
    cr_assert_not (reset, "6000 facts fit in the ring");
    cr_assert_geq (pages, 2, "2000 records take more than one page of 1000");
    json_object_update (state, seen);
    json_decref (seen);
    //  Facts after the answer's seq apply on top; earlier ones are duplicates
    s_drain (sub, state, 200);
    for (int i = 0; i < S_BURST; i++) {
        const char *status = json_string_value (json_object_get (state, ids[i]));
        cr_assert_not_null (status, "execution %d (%s) missing", i, ids[i]);
        cr_assert_str_eq (status, "completed", "execution %d (%s)", i, ids[i]);
    }
    free (ids);
    json_decref (state);
    bus_sub_destroy (&sub);
    zactor_destroy (&relay);
    zsock_destroy (&sock);
}

Test (fact_resync, restart_is_a_new_publisher_and_a_reset)
{
    s_start (NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    char ask[64], done[64];
    s_run (sock, "core.ask", NULL, ask);
    s_run (sock, "test.step", NULL, done);
    json_decref (testing_api_wait_status (sock, ask, "pending", 10000));
    json_decref (testing_api_wait_status (sock, done, "completed", 10000));
    uint64_t before, seq;
    s_publisher (sock, &before, &seq);
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
    testing_daemon_start (&s_daemon, NULL);
    sock = testing_api_client (&s_daemon);
    json_t *result =
        s_changes (sock, json_pack ("{s:I, s:I}", "publisher", (json_int_t)before,
                                    "since", (json_int_t)seq));
    cr_assert (json_is_true (json_object_get (result, "reset")));
    uint64_t after = (uint64_t)json_integer_value (json_object_get (result, "publisher"));
    cr_assert_neq (after, before, "a new publisher id at each start");
    json_t *executions = json_object_get (result, "executions");
    cr_assert_eq (json_array_size (executions), 1, "the pending one, not the ended one");
    json_t *record = json_array_get (executions, 0);
    cr_assert_str_eq (json_string_value (json_object_get (record, "id")), ask);
    cr_assert_str_eq (json_string_value (json_object_get (record, "status")), "pending");
    uint64_t now = (uint64_t)json_integer_value (json_object_get (result, "seq"));
    json_decref (result);
    //  From the new publisher, changes work again
    result = s_changes (sock, json_pack ("{s:I, s:I}", "publisher", (json_int_t)after,
                                         "since", (json_int_t)now));
    cr_assert (json_is_false (json_object_get (result, "reset")));
    json_decref (result);
    zsock_destroy (&sock);
}

Test (fact_resync, bad_input_is_refused_and_the_daemon_serves_on)
{
    s_start (NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *bad[] = {
        json_pack ("{s:s}", "since", "12"),
        json_pack ("{s:f}", "since", 1.5),
        json_pack ("{s:i}", "since", -1),
        json_pack ("{s:s}", "publisher", "abc"),
        json_pack ("{s:[i]}", "publisher", 1),
        json_pack ("{s:i}", "publisher", -5),
        json_pack ("{s:b}", "publisher", 1),
        json_pack ("{s:i}", "limit", 0),
        json_pack ("{s:i}", "limit", 1001),
        json_pack ("{s:i, s:i}", "since", 0, "after", 3),
        json_pack ("{s:i, s:s}", "since", 0, "after", ""),
        json_pack ("{s:i, s:s}", "since", 0, "after",
                   "0123456789012345678901234567890123456789"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        testing_api_fails (sock, "api.execution.changes", bad[i], "bad_request");
    //  Still serving, and answering the same operation properly
    json_decref (testing_api_ok (sock, "api.ping", NULL));
    json_t *result = s_changes (sock, NULL);
    cr_assert (json_is_true (json_object_get (result, "reset")));
    json_decref (result);
    zsock_destroy (&sock);
}
