/*  test_output: live output (issue 21; proto/PROTOCOL.md, "Live output").

    Suite output runs one attuned (tests/testing_daemon.h) with a test pack:
    test.lines prints five lines on stdout and on stderr with sleeps between
    them; test.fails prints and exits 3; test.chatty writes 50 MB at once;
    test.flood writes for three seconds; test.quick echoes. It checks the
    `execution.output` facts (before the end, in order, no gap, no
    duplicate, streams apart), api.execution.output by offset and stream,
    `attune execution tail` on a running and on an ended execution, and the
    bounds (chunks and bytes streamed, the result still capped, the worker
    still answering).

    Suite output_chunks drives worker_output (the worker's side) alone:
    delays, 64 KiB chunks, characters cut by a read, invalid bytes, the cap.

    Suite output_split runs a core and a worker process: the worker is
    killed while `tail` follows one of its executions, and the tail ends
    (the execution abandoned) within a bound.
*/
#include "tests/testing_api.h"
#include "actors/worker/worker_output.h"
#include <jansson.h>

#define S_ATTUNE ATTUNE_HELPER_DIR "/attune"

static testing_daemon_t s_daemon;

static void
s_pack (const char *packs)
{
    testing_write (packs, "test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    testing_write (packs, "test/actions/lines.yaml",
                   "name: lines\nrunner_type: local-shell-cmd\n"
                   "entry_point: 'for i in 1 2 3 4 5; do echo \"L$i alpha\"; "
                   "echo \"E$i beta\" >&2; sleep 0.3; done'\n");
    testing_write (
        packs, "test/actions/fails.yaml",
        "name: fails\nrunner_type: local-shell-cmd\n"
        "entry_point: 'echo before-fail; sleep 0.2; echo after-fail; exit 3'\n");
    testing_write (packs, "test/actions/chatty.yaml",
                   "name: chatty\nrunner_type: local-shell-cmd\n"
                   "entry_point: 'yes | head -c 50000000'\n");
    testing_write (packs, "test/actions/flood.yaml",
                   "name: flood\nrunner_type: local-shell-cmd\n"
                   "entry_point: 'timeout 3 yes; true'\n");
    testing_write (packs, "test/actions/quick.yaml",
                   "name: quick\nrunner_type: local-shell-cmd\n"
                   "entry_point: 'echo quick'\n");
    testing_write (packs, "test/actions/py.yaml",
                   "name: py\nrunner_type: python-script\nentry_point: py.py\n");
    testing_write (packs, "test/actions/py.py",
                   "import sys, time\n"
                   "from st2common.runners.base_action import Action\n\n"
                   "class Py(Action):\n"
                   "    def run(self):\n"
                   "        print('from python 1')\n"
                   "        time.sleep(0.3)\n"
                   "        print('from python 2')\n"
                   "        return 42\n");
    testing_write (packs, "test/actions/slow.yaml",
                   "name: slow\nrunner_type: local-shell-cmd\n"
                   "entry_point: 'echo started-slow; exec sleep 60'\n");
}

static void
s_setup (void)
{
    testing_daemon_init (&s_daemon, "test_output");
    s_pack (s_daemon.packs);
    testing_daemon_start (&s_daemon, NULL);
}

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (output, .init = s_setup, .fini = s_teardown, .timeout = 120);

//  ---------------------------------------------------------------------------
//  Helpers

static void
s_run (zsock_t *api, const char *action, char id[64])
{
    json_t *run =
        testing_api_ok (api, "api.execution.run", json_pack ("{s:s}", "action", action));
    snprintf (id, 64, "%s", json_string_value (json_object_get (run, "execution")));
    json_decref (run);
    cr_assert_eq (strlen (id), 36, "no execution id");
}

static zsock_t *
s_subscribe (const char *facts)
{
    zsock_t *sub = zsock_new_sub (facts, "execution.");
    cr_assert_not_null (sub);
    zsock_set_rcvtimeo (sub, 200);
    zclock_sleep (200); //  the slow joiner: a SUB needs a moment before facts reach it
    return sub;
}

//  The next fact (type in `type`) of execution `id`, or NULL at `deadline`.
static json_t *
s_next_fact (zsock_t *sub, const char *id, char *type, size_t size, int64_t deadline)
{
    while (zclock_mono () < deadline) {
        zmsg_t *msg = zmsg_recv (sub);
        if (!msg)
            continue;
        zframe_t *frame = zmsg_last (msg);
        proto_envelope_t *fact =
            proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
        json_t *payload = fact ? proto_envelope_payload_json (fact, NULL) : NULL;
        if (fact)
            snprintf (type, size, "%s", proto_envelope_type (fact));
        proto_envelope_destroy (&fact);
        zmsg_destroy (&msg);
        const char *execution =
            json_string_value (json_object_get (payload, "execution"));
        if (execution && streq (execution, id))
            return payload;
        json_decref (payload);
    }
    return NULL;
}

static bool
s_terminal (const char *type)
{
    const char *ends[] = {"execution.completed", "execution.failed", "execution.timeout",
                          "execution.cancelled", "execution.abandoned"};
    for (size_t i = 0; i < 5; i++)
        if (streq (type, ends[i]))
            return true;
    return false;
}

//  Every stored chunk of `id` (all pages), as an array.
static json_t *
s_stored (zsock_t *api, const char *id)
{
    json_t *all = json_array ();
    json_int_t offset = 0;
    for (int page = 0; page < 1000; page++) {
        json_t *answer =
            testing_api_ok (api, "api.execution.output",
                            json_pack ("{s:s, s:I}", "id", id, "offset", offset));
        json_t *chunks = json_object_get (answer, "chunks");
        json_array_extend (all, chunks);
        json_int_t next = json_integer_value (json_object_get (answer, "next"));
        bool more = json_array_size (chunks) > 0 && next > offset;
        offset = next;
        json_decref (answer);
        if (!more)
            break;
    }
    return all;
}

//  The text of one stream in `chunks`, asserting seq 0, 1, 2 ... in order.
static char *
s_text (const json_t *chunks, const char *stream)
{
    size_t i;
    json_t *chunk;
    char *text = zmalloc (1);
    size_t size = 0;
    json_array_foreach (chunks, i, chunk)
    {
        cr_assert_eq (json_integer_value (json_object_get (chunk, "seq")), (json_int_t)i,
                      "chunk %zu has seq %lld", i,
                      (long long)json_integer_value (json_object_get (chunk, "seq")));
        if (!streq (json_string_value (json_object_get (chunk, "stream")), stream))
            continue;
        json_t *data = json_object_get (chunk, "data");
        text = realloc (text, size + json_string_length (data) + 1);
        memcpy (text + size, json_string_value (data), json_string_length (data));
        size += json_string_length (data);
        text[size] = 0;
    }
    return text;
}

static int
s_tail (const char *id, char **out, char **err)
{
    const char *argv[] = {S_ATTUNE, "--api", s_daemon.api, "execution", "tail", id, NULL};
    return testing_run (argv, NULL, out, err, 60000);
}

//  ---------------------------------------------------------------------------
//  Facts: before the end, in order, no gap, no duplicate, streams apart

Test (output, chunks_arrive_before_the_end_in_order)
{
    zsock_t *api = testing_api_client (&s_daemon);
    zsock_t *sub = s_subscribe (s_daemon.facts);
    char id[64], type[64];
    s_run (api, "test.lines", id);
    json_t *chunks = json_array ();
    bool ended = false;
    int64_t deadline = zclock_mono () + 30000;
    while (!ended) {
        json_t *fact = s_next_fact (sub, id, type, sizeof type, deadline);
        cr_assert_not_null (fact, "execution %s did not end", id);
        if (streq (type, "execution.output")) {
            cr_assert (!ended, "output after the end");
            json_object_del (fact, "execution");
            json_array_append (chunks, fact);
        }
        ended = s_terminal (type);
        if (ended)
            cr_assert_str_eq (type, "execution.completed");
        json_decref (fact);
    }
    //  Each line was its own chunk (0.3 s apart, more than the 100 ms delay)
    cr_assert_geq (json_array_size (chunks), 6, "%zu chunks", json_array_size (chunks));
    char *out = s_text (chunks, "stdout");
    char *err = s_text (chunks, "stderr");
    cr_assert_str_eq (out, "L1 alpha\nL2 alpha\nL3 alpha\nL4 alpha\nL5 alpha\n");
    cr_assert_str_eq (err, "E1 beta\nE2 beta\nE3 beta\nE4 beta\nE5 beta\n");
    free (out);
    free (err);
    //  The stored chunks are the published ones
    json_t *stored = s_stored (api, id);
    cr_assert (json_equal (stored, chunks), "stored and published chunks differ");
    json_decref (stored);
    json_decref (chunks);
    zsock_destroy (&sub);
    zsock_destroy (&api);
}

//  ---------------------------------------------------------------------------
//  api.execution.output: by offset, by stream, while running and after

Test (output, served_by_offset_and_stream)
{
    zsock_t *api = testing_api_client (&s_daemon);
    char id[64];
    s_run (api, "test.lines", id);
    //  While it runs: what it printed so far, and not ended
    int64_t deadline = zclock_mono () + 20000;
    json_t *answer = NULL;
    while (true) {
        answer =
            testing_api_ok (api, "api.execution.output", json_pack ("{s:s}", "id", id));
        if (json_array_size (json_object_get (answer, "chunks")) > 0)
            break;
        json_decref (answer);
        cr_assert_lt (zclock_mono (), deadline, "no output while it runs");
        zclock_sleep (20);
    }
    cr_assert (json_is_false (json_object_get (answer, "ended")), "ended too soon");
    json_decref (answer);
    json_decref (testing_api_wait_status (api, id, "completed", 20000));
    json_t *all = s_stored (api, id);
    size_t count = json_array_size (all);
    cr_assert_geq (count, 6);
    //  From an offset: that seq on
    answer = testing_api_ok (api, "api.execution.output",
                             json_pack ("{s:s, s:i}", "id", id, "offset", 3));
    json_t *chunks = json_object_get (answer, "chunks");
    cr_assert_eq (json_array_size (chunks), count - 3);
    cr_assert_eq (
        json_integer_value (json_object_get (json_array_get (chunks, 0), "seq")), 3);
    cr_assert_eq (json_integer_value (json_object_get (answer, "next")),
                  (json_int_t)count);
    cr_assert (json_is_true (json_object_get (answer, "ended")));
    cr_assert_str_eq (json_string_value (json_object_get (answer, "status")),
                      "completed");
    json_decref (answer);
    //  Past the end: nothing, next unchanged
    answer =
        testing_api_ok (api, "api.execution.output",
                        json_pack ("{s:s, s:I}", "id", id, "offset", (json_int_t)count));
    cr_assert_eq (json_array_size (json_object_get (answer, "chunks")), 0);
    cr_assert_eq (json_integer_value (json_object_get (answer, "next")),
                  (json_int_t)count);
    json_decref (answer);
    //  One stream
    answer = testing_api_ok (api, "api.execution.output",
                             json_pack ("{s:s, s:s}", "id", id, "stream", "stderr"));
    size_t i;
    json_t *chunk;
    json_array_foreach (json_object_get (answer, "chunks"), i, chunk)
    {
        cr_assert_str_eq (json_string_value (json_object_get (chunk, "stream")),
                          "stderr");
    }
    cr_assert_gt (json_array_size (json_object_get (answer, "chunks")), 0);
    json_decref (answer);
    //  The result keeps its own capture
    json_t *record =
        testing_api_ok (api, "api.execution.get", json_pack ("{s:s}", "id", id));
    cr_assert_str_eq (json_string_value (
                          json_object_get (json_object_get (record, "result"), "stdout")),
                      "L1 alpha\nL2 alpha\nL3 alpha\nL4 alpha\nL5 alpha");
    json_decref (record);
    //  Bad input
    testing_api_fails (api, "api.execution.output",
                       json_pack ("{s:s, s:s}", "id", id, "stream", "stdin"),
                       "bad_request");
    testing_api_fails (api, "api.execution.output",
                       json_pack ("{s:s}", "id", "00000000-0000-4000-8000-000000000000"),
                       "not_found");
    testing_api_fails (api, "api.execution.output", json_pack ("{s:i}", "id", 7),
                       "bad_request");
    json_decref (all);
    zsock_destroy (&api);
}

//  A python action streams what it prints, not the wrapper's result line
Test (output, python_action_streams_its_prints_only)
{
    zsock_t *api = testing_api_client (&s_daemon);
    char id[64];
    s_run (api, "test.py", id);
    json_t *record = testing_api_wait_status (api, id, "completed", 30000);
    cr_assert_eq (json_integer_value (
                      json_object_get (json_object_get (record, "result"), "result")),
                  42);
    json_decref (record);
    json_t *chunks = s_stored (api, id);
    char *out = s_text (chunks, "stdout");
    cr_assert_str_eq (out, "from python 1\nfrom python 2\n");
    cr_assert_geq (json_array_size (chunks), 2, "two prints 0.3 s apart: two chunks");
    free (out);
    json_decref (chunks);
    zsock_destroy (&api);
}

//  ---------------------------------------------------------------------------
//  attune execution tail

Test (output, tail_of_a_running_then_an_ended_execution)
{
    zsock_t *api = testing_api_client (&s_daemon);
    char id[64];
    s_run (api, "test.lines", id);
    const char *lines = "L1 alpha\nL2 alpha\nL3 alpha\nL4 alpha\nL5 alpha\n";
    const char *errors = "E1 beta\nE2 beta\nE3 beta\nE4 beta\nE5 beta\n";
    for (int pass = 0; pass < 2; pass++) {
        char *out = NULL, *err = NULL;
        int rc = s_tail (id, &out, &err);
        cr_assert_eq (rc, 0, "tail (pass %d): exit %d\n%s\n%s", pass, rc, out, err);
        //  Each line once, in order, the streams apart; then the result
        const char *at = strstr (out, lines);
        if (!at)
            fprintf (stderr, "tail stdout (%zu bytes):\n%s\n", strlen (out), out);
        cr_assert_not_null (at, "pass %d: no output in order", pass);
        cr_assert_null (strstr (at + 1, lines), "pass %d: printed twice:\n%s", pass, out);
        cr_assert_not_null (strstr (err, errors), "pass %d: stderr:\n%s", pass, err);
        //  (the result shows stderr too, indented)
        cr_assert_null (strstr (out, "\nE1 beta\n"), "stderr on stdout:\n%s", out);
        cr_assert_not_null (strstr (at, "completed"), "pass %d: no status after:\n%s",
                            pass, out);
        free (out);
        free (err);
    }
    //  A failure: its output, then a non-zero exit
    s_run (api, "test.fails", id);
    char *out = NULL;
    int rc = s_tail (id, &out, NULL);
    cr_assert_neq (rc, 0, "tail of a failed execution exits non-zero");
    cr_assert_not_null (strstr (out, "before-fail\nafter-fail\n"), "%s", out);
    cr_assert_not_null (strstr (out, "failed"), "%s", out);
    free (out);
    zsock_destroy (&api);
}

//  tail started late: what was stored, then the rest as it comes, each once
Test (output, tail_started_while_it_prints)
{
    zsock_t *api = testing_api_client (&s_daemon);
    char id[64];
    s_run (api, "test.lines", id);
    int64_t deadline = zclock_mono () + 20000;
    while (true) {
        json_t *answer =
            testing_api_ok (api, "api.execution.output", json_pack ("{s:s}", "id", id));
        size_t have = json_array_size (json_object_get (answer, "chunks"));
        bool ended = json_is_true (json_object_get (answer, "ended"));
        json_decref (answer);
        cr_assert (!ended, "it ended before tail could start");
        if (have >= 3)
            break;
        cr_assert_lt (zclock_mono (), deadline, "no output");
        zclock_sleep (20);
    }
    char *out = NULL, *err = NULL;
    int rc = s_tail (id, &out, &err);
    cr_assert_eq (rc, 0, "tail: exit %d\n%s\n%s", rc, out, err);
    const char *lines = "L1 alpha\nL2 alpha\nL3 alpha\nL4 alpha\nL5 alpha\n";
    const char *at = strstr (out, lines);
    cr_assert_not_null (at, "no output in order:\n%s", out);
    cr_assert_null (strstr (at + 1, lines), "printed twice:\n%s", out);
    cr_assert_not_null (strstr (err, "E1 beta\nE2 beta\nE3 beta\nE4 beta\nE5 beta\n"),
                        "stderr:\n%s", err);
    free (out);
    free (err);
    zsock_destroy (&api);
}

//  ---------------------------------------------------------------------------
//  Bounds: a chatty action

Test (output, chatty_action_is_bounded)
{
    zsock_t *api = testing_api_client (&s_daemon);
    char id[64];
    s_run (api, "test.chatty", id);
    json_decref (testing_api_wait_status (api, id, "completed", 60000));
    json_t *chunks = s_stored (api, id);
    size_t count = json_array_size (chunks), bytes = 0, i;
    json_t *chunk;
    json_array_foreach (chunks, i, chunk)
    {
        cr_assert_eq (json_integer_value (json_object_get (chunk, "seq")), (json_int_t)i);
        cr_assert_leq (json_string_length (json_object_get (chunk, "data")), 65536);
        bytes += json_string_length (json_object_get (chunk, "data"));
    }
    //  4 MiB streamed (the default cap), then one truncated marker
    cr_assert_eq (bytes, 4 * 1024 * 1024, "%zu bytes streamed", bytes);
    cr_assert_leq (count, 4 * 16 + 8, "%zu chunks", count);
    cr_assert (
        json_is_true (json_object_get (json_array_get (chunks, count - 1), "truncated")));
    json_decref (chunks);
    //  The result's capture stays capped as before
    json_t *record =
        testing_api_ok (api, "api.execution.get", json_pack ("{s:s}", "id", id));
    json_t *result = json_object_get (record, "result");
    cr_assert_leq (json_string_length (json_object_get (result, "stdout")), 256 * 1024);
    json_decref (record);
    zsock_destroy (&api);
}

Test (output, worker_answers_while_an_action_floods)
{
    zsock_t *api = testing_api_client (&s_daemon);
    char flood[64], quick[64];
    s_run (api, "test.flood", flood);
    json_decref (testing_api_wait_status (api, flood, "running", 20000));
    s_run (api, "test.quick", quick);
    json_t *record = testing_api_wait_status (api, quick, "completed", 20000);
    json_decref (record);
    //  The flood was still running: the quick one did not wait for it
    record = testing_api_ok (api, "api.execution.get", json_pack ("{s:s}", "id", flood));
    cr_assert_str_eq (json_string_value (json_object_get (record, "status")), "running");
    json_decref (record);
    json_decref (testing_api_wait_status (api, flood, "completed", 30000));
    json_t *chunks = s_stored (api, flood);
    size_t count = json_array_size (chunks);
    cr_assert_leq (count, 4 * 16 + 8 + 60, "%zu chunks in 3 s", count);
    json_decref (chunks);
    zsock_destroy (&api);
}

//  ---------------------------------------------------------------------------
//  worker_output: chunks, delays, UTF-8, the cap (no daemon)

static json_t *
s_take (worker_output_t *output, int64_t now, bool final)
{
    return worker_output_take (output, now, final);
}

static const char *
s_data (const json_t *chunk)
{
    return json_string_value (json_object_get (chunk, "data"));
}

static json_int_t
s_int (const json_t *chunk, const char *key)
{
    return json_integer_value (json_object_get (chunk, key));
}

Test (output_chunks, delay_utf8_and_order)
{
    worker_output_t *output = worker_output_new ("e1", "w", 1 << 20);
    cr_assert_eq (worker_output_timeout (output, 0), -1);
    //  A character cut by a read waits for its end
    worker_output_feed (output, 1, "h\xc3", 2, 1000);
    cr_assert_null (s_take (output, 1050, false), "due before its delay");
    cr_assert_eq (worker_output_timeout (output, 1050), 50);
    json_t *chunk = s_take (output, 1100, false);
    cr_assert_str_eq (s_data (chunk), "h");
    cr_assert_eq (s_int (chunk, "seq"), 0);
    cr_assert_eq (s_int (chunk, "offset"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (chunk, "stream")), "stdout");
    cr_assert_str_eq (json_string_value (json_object_get (chunk, "execution")), "e1");
    json_decref (chunk);
    worker_output_feed (output, 1, "\xa9llo\n", 5, 1110);
    worker_output_feed (output, 2, "oops \xff\n", 7, 1120);
    //  The stream that waited longer first, then the other; final: all
    chunk = s_take (output, 1120, true);
    cr_assert_str_eq (s_data (chunk), "\xc3\xa9llo\n");
    cr_assert_eq (s_int (chunk, "seq"), 1);
    cr_assert_eq (s_int (chunk, "offset"), 1);
    json_decref (chunk);
    chunk = s_take (output, 1120, true);
    cr_assert_str_eq (s_data (chunk), "oops \xef\xbf\xbd\n", "an invalid byte: U+FFFD");
    cr_assert_str_eq (json_string_value (json_object_get (chunk, "stream")), "stderr");
    cr_assert_eq (s_int (chunk, "seq"), 2);
    json_decref (chunk);
    cr_assert_null (s_take (output, 1120, true));
    cr_assert_eq (worker_output_chunks (output), 3);
    worker_output_destroy (&output);
    worker_output_destroy (&output);
}

Test (output_chunks, full_chunks_at_once_and_the_cap)
{
    size_t size = 200 * 1024;
    char *bytes = malloc (size);
    memset (bytes, 'y', size);
    worker_output_t *output = worker_output_new ("e2", "w", 1 << 20);
    worker_output_feed (output, 1, bytes, size, 0);
    //  64 KiB chunks are due at once; the rest waits its delay
    for (int i = 0; i < 3; i++) {
        json_t *chunk = s_take (output, 0, false);
        cr_assert_eq (strlen (s_data (chunk)), WORKER_OUTPUT_CHUNK);
        cr_assert_eq (s_int (chunk, "offset"), (json_int_t)i * WORKER_OUTPUT_CHUNK);
        json_decref (chunk);
    }
    cr_assert_null (s_take (output, 0, false));
    json_t *chunk = s_take (output, 100, false);
    cr_assert_eq (strlen (s_data (chunk)), size - 3 * WORKER_OUTPUT_CHUNK);
    json_decref (chunk);
    worker_output_destroy (&output);
    //  The cap: what fits, then one truncated chunk, then nothing
    output = worker_output_new ("e3", "w", 1000);
    worker_output_feed (output, 2, bytes, 1500, 0);
    worker_output_feed (output, 1, bytes, 10, 0);
    chunk = s_take (output, 0, true);
    cr_assert_eq (strlen (s_data (chunk)), 1000);
    json_decref (chunk);
    chunk = s_take (output, 0, true);
    cr_assert (json_is_true (json_object_get (chunk, "truncated")));
    cr_assert_str_eq (s_data (chunk), "");
    cr_assert_eq (s_int (chunk, "seq"), 1);
    json_decref (chunk);
    cr_assert_null (s_take (output, 0, true));
    cr_assert_eq (worker_output_timeout (output, 0), -1);
    worker_output_destroy (&output);
    free (bytes);
}

//  A secret value is masked, even when reads cut it; the python wrapper's
//  result line is not streamed
Test (output_chunks, secrets_masked_and_the_result_line_not_streamed)
{
    worker_output_t *output = worker_output_new ("e5", "w", 1 << 20);
    json_t *secrets = json_pack ("[s, s]", "s3cr3t-token", "ab");
    worker_output_set_secrets (output, secrets);
    json_decref (secrets);
    worker_output_set_end (output, "\n%%marker%%");
    char out[512] = "";
    int64_t now = 0;
    const char *reads[] = {"key is s3c",   "r3t-token ok ab\n", "then s3cr3t-t",
                           "oken again\n", "\n%%mar",           "ker%%{\"result\": 1}\n"};
    for (int i = 0; i < 6; i++) {
        worker_output_feed (output, 1, reads[i], strlen (reads[i]), now);
        now += 1000; //  each read waits past the delay
        json_t *chunk;
        while ((chunk = s_take (output, now, false))) {
            cr_assert_null (strstr (s_data (chunk), "s3cr3t"), "%s", s_data (chunk));
            strcat (out, s_data (chunk));
            json_decref (chunk);
        }
    }
    json_t *chunk;
    while ((chunk = s_take (output, now, true))) {
        strcat (out, s_data (chunk));
        json_decref (chunk);
    }
    //  "ab" is shorter than the masking minimum: kept, as in results
    cr_assert_str_eq (out, "key is ******** ok ab\nthen ******** again\n");
    worker_output_destroy (&output);
}

Test (output_chunks, a_trickle_ends_at_the_chunk_bound)
{
    worker_output_t *output = worker_output_new ("e4", "w", 1 << 30);
    int64_t now = 0;
    json_t *chunk = NULL;
    for (int i = 0; i < WORKER_OUTPUT_CHUNKS_MAX + 10; i++) {
        worker_output_feed (output, 1, "x", 1, now);
        now += WORKER_OUTPUT_DELAY_MS;
        json_t *next = s_take (output, now, false);
        if (next) {
            json_decref (chunk);
            chunk = next;
        }
    }
    cr_assert_eq (worker_output_chunks (output), WORKER_OUTPUT_CHUNKS_MAX);
    cr_assert_eq (s_int (chunk, "seq"), WORKER_OUTPUT_CHUNKS_MAX - 1);
    cr_assert (json_is_true (json_object_get (chunk, "truncated")));
    json_decref (chunk);
    worker_output_destroy (&output);
}

//  ---------------------------------------------------------------------------
//  A worker killed while tail follows

typedef struct {
    pid_t pid;
    char cfg[PATH_MAX];
    char log[PATH_MAX];
} s_proc_t;

static char s_root[PATH_MAX - 512];
static s_proc_t s_core, s_worker;

static void
s_split_teardown (void)
{
    s_proc_t *all[] = {&s_core, &s_worker};
    for (int i = 0; i < 2; i++)
        if (all[i]->pid > 0) {
            kill (all[i]->pid, SIGKILL);
            waitpid (all[i]->pid, NULL, 0);
        }
    testing_rmtree (s_root);
}

static void
s_spawn (s_proc_t *proc, const char *name, const char *cfg)
{
    snprintf (proc->cfg, sizeof proc->cfg, "%s/%s.cfg", s_root, name);
    snprintf (proc->log, sizeof proc->log, "%s/%s.log", s_root, name);
    char file[32];
    snprintf (file, sizeof file, "%s.cfg", name);
    testing_write (s_root, file, cfg);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        int fd = open (proc->log, O_WRONLY | O_CREAT | O_APPEND, 0640);
        dup2 (fd, 1);
        dup2 (fd, 2);
        execl (ATTUNE_HELPER_DIR "/attuned", ATTUNE_HELPER_DIR "/attuned", "-c",
               proc->cfg, "--heartbeat", "200", "--quiet", (char *)NULL);
        _exit (127);
    }
    proc->pid = pid;
    int64_t deadline = zclock_mono () + 20000;
    while (true) {
        char *log = testing_read (proc->log);
        bool up = strstr (log, "attuned: running") != NULL;
        if (up || zclock_mono () > deadline || waitpid (pid, NULL, WNOHANG) == pid)
            cr_assert (up, "%s did not start:\n%s", name, log);
        free (log);
        if (up)
            return;
        zclock_sleep (20);
    }
}

TestSuite (output_split, .fini = s_split_teardown, .timeout = 120);

Test (output_split, tail_ends_when_the_worker_is_killed)
{
    testing_tmpdir (s_root, sizeof s_root, "test_output_split");
    char packs[PATH_MAX], core[PATH_MAX + 16];
    snprintf (packs, sizeof packs, "%s/packs", s_root);
    mkdir (packs, 0750);
    snprintf (core, sizeof core, "%s/core", packs);
    cr_assert_eq (symlink (ATTUNE_SOURCE_DIR "/packs/core", core), 0);
    s_pack (packs);
    int commands = testing_free_port (), api_port = testing_free_port ();
    int facts = testing_free_port (), worker = testing_free_port ();
    char cfg[3 * PATH_MAX];
    snprintf (
        cfg, sizeof cfg,
        "daemon\n    actors = registry,executor,rules,api\n    data = %s/core\n"
        "    packs = %s\nbus\n    namespace = core\nendpoints\n"
        "    executor.commands = tcp://127.0.0.1:%d\n"
        "    api.requests = tcp://127.0.0.1:%d\n    api.facts = tcp://127.0.0.1:%d\n",
        s_root, packs, commands, api_port, facts);
    s_spawn (&s_core, "core", cfg);
    snprintf (cfg, sizeof cfg,
              "daemon\n    actors = worker\n    data = %s/w\n    worker\n"
              "        name = w\n        slots = 2\nbus\n    namespace = w\n"
              "endpoints\n    executor.commands = tcp://127.0.0.1:%d\n"
              "    worker = tcp://127.0.0.1:%d\n",
              s_root, commands, worker);
    s_spawn (&s_worker, "w", cfg);
    char api[64], id[64];
    snprintf (api, sizeof api, "tcp://127.0.0.1:%d", api_port);
    zsock_t *sock = zsock_new_dealer (api);
    zsock_set_rcvtimeo (sock, 8000);
    //  The worker may take a moment to register: run until it is running
    s_run (sock, "test.slow", id);
    json_decref (testing_api_wait_status (sock, id, "running", 20000));
    //  tail in the background, its stdout in a file
    char out_path[PATH_MAX];
    snprintf (out_path, sizeof out_path, "%s/tail.out", s_root);
    pid_t tail = fork ();
    cr_assert_geq (tail, 0);
    if (tail == 0) {
        int fd = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        dup2 (fd, 1);
        dup2 (fd, 2);
        execl (S_ATTUNE, S_ATTUNE, "--api", api, "execution", "tail", id, (char *)NULL);
        _exit (127);
    }
    int64_t deadline = zclock_mono () + 20000;
    char *text = NULL;
    while (true) {
        text = testing_read (out_path);
        if (strstr (text, "started-slow\n") || zclock_mono () > deadline)
            break;
        free (text);
        zclock_sleep (20);
    }
    cr_assert_not_null (strstr (text, "started-slow\n"), "tail printed:\n%s", text);
    free (text);
    kill (s_worker.pid, SIGKILL);
    waitpid (s_worker.pid, NULL, 0);
    s_worker.pid = 0;
    //  The executor gives up on the worker, the execution ends, tail exits
    int status = 0;
    deadline = zclock_mono () + 30000;
    while (waitpid (tail, &status, WNOHANG) != tail) {
        if (zclock_mono () > deadline) {
            kill (tail, SIGKILL);
            waitpid (tail, NULL, 0);
            text = testing_read (out_path);
            cr_assert_fail ("tail still runs 30 s after the worker died:\n%s", text);
        }
        zclock_sleep (50);
    }
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) != 0, "tail: status %d",
               status);
    text = testing_read (out_path);
    cr_assert_not_null (strstr (text, "abandoned"), "tail printed:\n%s", text);
    free (text);
    //  Leftover `sleep 60` of the killed worker: its guard kills it
    zsock_destroy (&sock);
}
