/*  test_retention: TTLs and `attune purge` (issue 21, retention) against a
    live attuned.

    Ended executions, events and enforcements go after their TTL while
    running ones stay; api.purge with a status filter; a purge while
    executions are still being created; a SIGKILL in the middle of a purge
    leaves a store whose listings hold no dangling entry; bad durations are
    refused with a message that names them (daemon flags, topology file,
    CLI).
*/
#include "tests/testing_api.h"
#include "proto/proto_envelope.h"
#include "store/store.h"

#define S_ATTUNE ATTUNE_HELPER_DIR "/attune"

static testing_daemon_t s_daemon;

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (retention, .fini = s_teardown, .timeout = 240);

static void
s_start (const char *extra[])
{
    testing_daemon_init (&s_daemon, "test_retention");
    testing_daemon_t *d = &s_daemon;
    testing_daemon_write (d, "test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (d, "test/triggers/hook.yaml", "name: hook\npack: test\n");
    testing_daemon_write (d, "test/actions/step.yaml",
                          "name: step\nrunner_type: noop\nparameters:\n"
                          "  n:\n    type: integer\n");
    testing_daemon_write (d, "test/actions/fail.yaml",
                          "name: fail\nrunner_type: local-shell-cmd\n"
                          "entry_point: \"exit 3\"\n");
    testing_daemon_write (d, "test/actions/wait.yaml",
                          "name: wait\nrunner_type: local-shell-cmd\n"
                          "entry_point: \"sleep 60\"\n");
    testing_daemon_write (d, "test/actions/talk.yaml",
                          "name: talk\nrunner_type: local-shell-cmd\n"
                          "entry_point: \"echo one; echo two >&2\"\n");
    testing_daemon_write (d, "test/rules/step.yaml",
                          "name: step\npack: test\ntrigger:\n  type: test.hook\n"
                          "action:\n  ref: test.step\n  parameters:\n"
                          "    n: \"{{ trigger.payload.n }}\"\n");
    testing_daemon_start (d, extra);
}

//  Run `action`: its execution id (caller frees).
static char *
s_run (zsock_t *sock, const char *action)
{
    json_t *run =
        testing_api_ok (sock, "api.execution.run",
                        json_pack ("{s:s, s:{}}", "action", action, "parameters"));
    char *id = strdup (json_string_value (json_object_get (run, "execution")));
    json_decref (run);
    return id;
}

//  Every execution the list shows (newest first, all pages); each one
//  readable by id (no dangling entry).
static json_t *
s_list_all (zsock_t *sock, json_t *filter)
{
    json_t *all = json_array ();
    json_t *payload = filter ? filter : json_object ();
    json_object_set_new (payload, "limit", json_integer (1000));
    while (true) {
        json_t *page =
            testing_api_ok (sock, "api.execution.list", json_deep_copy (payload));
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (page, "items"), i, item)
        {
            const char *id = json_string_value (json_object_get (item, "id"));
            json_t *got =
                testing_api_ok (sock, "api.execution.get", json_pack ("{s:s}", "id", id));
            json_decref (got);
            json_array_append (all, item);
        }
        json_t *next = json_object_get (page, "next");
        if (!json_is_string (next)) {
            json_decref (page);
            break;
        }
        json_object_set (payload, "before", next);
        json_decref (page);
    }
    json_decref (payload);
    return all;
}

//  Executions listed not completed (all pages, statuses only).
static size_t
s_not_completed (zsock_t *sock)
{
    size_t count = 0;
    json_t *payload = json_pack ("{s:i}", "limit", 1000);
    while (true) {
        json_t *page =
            testing_api_ok (sock, "api.execution.list", json_deep_copy (payload));
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (page, "items"), i, item)
        {
            const char *status = json_string_value (json_object_get (item, "status"));
            count += !status || !streq (status, "completed");
        }
        json_t *next = json_object_get (page, "next");
        if (json_is_string (next))
            json_object_set (payload, "before", next);
        json_decref (page);
        if (!json_is_string (next))
            break;
    }
    json_decref (payload);
    return count;
}

static json_int_t
s_purge (zsock_t *sock, json_t *payload)
{
    json_t *result = testing_api_ok (sock, "api.purge", payload);
    json_int_t removed = json_integer_value (json_object_get (result, "removed"));
    json_decref (result);
    return removed;
}

static size_t
s_events (zsock_t *sock, const char *type)
{
    json_t *list = testing_api_ok (sock, type, json_pack ("{s:i}", "limit", 1000));
    size_t count = json_array_size (json_object_get (list, "items"));
    json_decref (list);
    return count;
}

Test (retention, ttl_removes_ended_keeps_active)
{
    const char *extra[] = {"--retention-executions",
                           "2s",
                           "--retention-events",
                           "2s",
                           "--retention-interval",
                           "1s",
                           NULL};
    s_start (extra);
    zsock_t *sock = testing_api_client (&s_daemon);
    char *running = s_run (sock, "test.wait");
    json_decref (testing_api_wait_status (sock, running, "running", 10000));
    char *done[4];
    for (int i = 0; i < 4; i++) {
        done[i] = s_run (sock, "test.step");
        json_decref (testing_api_wait_status (sock, done[i], "completed", 10000));
        if (i > 0)
            continue;
        //  A re-run is a child of the original: the children index goes
        //  with it. Asked for at once: on a busy machine the next runs can
        //  take longer than the original's TTL
        json_t *rerun =
            testing_api_ok (sock, "api.execution.rerun",
                            json_pack ("{s:s, s:s}", "id", done[0], "request",
                                       "00000000-0000-4000-8000-00000000beef"));
        const char *child = json_string_value (json_object_get (rerun, "execution"));
        json_decref (testing_api_wait_status (sock, child, "completed", 10000));
        json_decref (rerun);
    }
    json_decref (testing_api_ok (
        sock, "api.event.publish",
        json_pack ("{s:s, s:{s:i}}", "trigger", "test.hook", "payload", "n", 1)));
    cr_assert_geq (s_events (sock, "api.event.list"), 1);

    //  Within a few sweeps only the running one is left
    int64_t deadline = zclock_mono () + 20000;
    json_t *all = NULL;
    while (true) {
        json_decref (all);
        all = s_list_all (sock, NULL);
        if ((json_array_size (all) == 1 && s_events (sock, "api.event.list") == 0 &&
             s_events (sock, "api.enforcement.list") == 0) ||
            zclock_mono () > deadline)
            break;
        zclock_sleep (250);
    }
    cr_assert_eq (json_array_size (all), 1, "%zu executions left", json_array_size (all));
    cr_assert_str_eq (json_string_value (json_object_get (json_array_get (all, 0), "id")),
                      running);
    json_decref (all);
    cr_assert_eq (s_events (sock, "api.event.list"), 0);
    cr_assert_eq (s_events (sock, "api.enforcement.list"), 0);
    testing_api_fails (sock, "api.execution.get", json_pack ("{s:s}", "id", done[1]),
                       "not_found");
    all = s_list_all (sock, json_pack ("{s:s}", "parent", done[0]));
    cr_assert_eq (json_array_size (all), 0, "no child entry of a purged parent");
    json_decref (all);
    //  api.status counts what went
    json_t *status = testing_api_ok (sock, "api.status", NULL);
    json_t *actors = json_object_get (status, "actors");
    json_t *purged = json_object_get (json_object_get (actors, "executor"), "purged");
    cr_assert_geq (json_integer_value (json_object_get (purged, "executions")), 6);
    purged = json_object_get (json_object_get (actors, "rules"), "purged");
    cr_assert_geq (json_integer_value (json_object_get (purged, "events")), 1);
    cr_assert_geq (json_integer_value (json_object_get (purged, "enforcements")), 1);
    json_decref (status);
    //  The running one is still running, and ends as it would have
    json_t *record =
        testing_api_ok (sock, "api.execution.get", json_pack ("{s:s}", "id", running));
    cr_assert_str_eq (json_string_value (json_object_get (record, "status")), "running");
    json_decref (record);
    for (int i = 0; i < 4; i++)
        free (done[i]);
    free (running);
    zsock_destroy (&sock);
}

Test (retention, purge_status_filter)
{
    s_start (NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    char *ids[4];
    for (int i = 0; i < 4; i++) {
        ids[i] = s_run (sock, i == 0 ? "test.fail" : "test.step");
        json_decref (testing_api_wait_status (sock, ids[i],
                                              i == 0 ? "failed" : "completed", 10000));
    }
    char *running = s_run (sock, "test.wait");
    json_decref (testing_api_wait_status (sock, running, "running", 10000));
    //  Nothing that young with a day's age; bad requests refused
    cr_assert_eq (s_purge (sock, json_pack ("{s:s, s:i}", "kind", "executions",
                                            "older_than", 86400)),
                  0);
    testing_api_fails (sock, "api.purge",
                       json_pack ("{s:s, s:i, s:[s]}", "kind", "executions", "older_than",
                                  0, "status", "running"),
                       "bad_request");
    testing_api_fails (sock, "api.purge",
                       json_pack ("{s:s, s:i}", "kind", "rules", "older_than", 0),
                       "bad_request");
    testing_api_fails (sock, "api.purge", json_pack ("{s:s}", "kind", "executions"),
                       "bad_request");
    //  Admins only: an operator's delegation is refused
    testing_api_fails (sock, "api.delegate",
                       json_pack ("{s:s, s:{s:s, s:i}, s:s, s:s}", "type", "api.purge",
                                  "payload", "kind", "executions", "older_than", 0,
                                  "identity", "bob", "role", "operator"),
                       "forbidden");
    //  Only the failed one
    cr_assert_eq (s_purge (sock, json_pack ("{s:s, s:i, s:[s]}", "kind", "executions",
                                            "older_than", 0, "status", "failed")),
                  1);
    testing_api_fails (sock, "api.execution.get", json_pack ("{s:s}", "id", ids[0]),
                       "not_found");
    json_t *all = s_list_all (sock, NULL);
    cr_assert_eq (json_array_size (all), 4);
    json_decref (all);
    //  By action, then every ended one; the running one stays
    cr_assert_eq (s_purge (sock, json_pack ("{s:s, s:i, s:s}", "kind", "executions",
                                            "older_than", 0, "action", "test.fail")),
                  0);
    cr_assert_eq (
        s_purge (sock, json_pack ("{s:s, s:i}", "kind", "executions", "older_than", 0)),
        3);
    all = s_list_all (sock, NULL);
    cr_assert_eq (json_array_size (all), 1);
    json_decref (all);
    for (int i = 0; i < 4; i++)
        free (ids[i]);
    free (running);
    zsock_destroy (&sock);
}

//  Executions created by events while purges run: each purge answers, and
//  once everything ended a last one leaves nothing.
Test (retention, purge_while_creating)
{
    s_start (NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    zsock_t *purger = testing_api_client (&s_daemon);
    json_int_t removed = 0;
    for (int i = 0; i < 600; i++) {
        json_decref (testing_api_ok (
            sock, "api.event.publish",
            json_pack ("{s:s, s:{s:i}}", "trigger", "test.hook", "payload", "n", i)));
        if (i % 100 == 50)
            removed += s_purge (
                purger, json_pack ("{s:s, s:i}", "kind", "executions", "older_than", 0));
    }
    //  Everything ends; the last purges take the rest
    int64_t deadline = zclock_mono () + 60000;
    json_t *all = NULL;
    while (true) {
        removed += s_purge (
            purger, json_pack ("{s:s, s:i}", "kind", "executions", "older_than", 0));
        json_decref (all);
        all = s_list_all (sock, NULL);
        if (json_array_size (all) == 0 || zclock_mono () > deadline)
            break;
        zclock_sleep (200);
    }
    cr_assert_eq (json_array_size (all), 0);
    json_decref (all);
    cr_assert_eq (removed, 600, "every execution purged once (%lld)", (long long)removed);
    json_t *events = testing_api_ok (
        purger, "api.purge", json_pack ("{s:s, s:i}", "kind", "events", "older_than", 0));
    cr_assert_eq (json_integer_value (json_object_get (events, "events")), 600);
    cr_assert_eq (json_integer_value (json_object_get (events, "enforcements")), 600);
    json_decref (events);
    zsock_destroy (&purger);
    zsock_destroy (&sock);
}

//  SIGKILL while a purge of thousands runs: after the restart every listed
//  execution reads, and a purge takes what is left.
Test (retention, sigkill_mid_purge)
{
    s_start (NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    const int total = 3000;
    for (int i = 0; i < total; i++)
        json_decref (testing_api_ok (
            sock, "api.event.publish",
            json_pack ("{s:s, s:{s:i}}", "trigger", "test.hook", "payload", "n", i)));
    int64_t deadline = zclock_mono () + 60000;
    while (s_not_completed (sock) > 0 && zclock_mono () < deadline)
        zclock_sleep (100); //  all ended
    //  The purge starts; the daemon dies in the middle of it
    zsock_t *raw = testing_api_client (&s_daemon);
    proto_envelope_t *request = proto_envelope_new ("api.purge", "test@api");
    json_t *payload = json_pack ("{s:s, s:i}", "kind", "executions", "older_than", 0);
    cr_assert_eq (proto_envelope_set_payload_json (request, payload, NULL), PROTO_OK);
    json_decref (payload);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (proto_envelope_encode (request, &buffer), 0);
    zframe_t *frame = zframe_new (buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    proto_envelope_destroy (&request);
    zframe_send (&frame, raw, 0);
    zclock_sleep (30);
    testing_daemon_signal (&s_daemon, SIGKILL, 5000);
    zsock_destroy (&raw);
    zsock_destroy (&sock);
    testing_daemon_start (&s_daemon, NULL);
    sock = testing_api_client (&s_daemon);
    json_t *all = s_list_all (sock, NULL); //  every one listed reads
    size_t left = json_array_size (all);
    fprintf (stderr, "sigkill_mid_purge: %zu of %d left after the kill\n", left, total);
    json_decref (all);
    cr_assert_leq (left, (size_t)total);
    json_int_t removed =
        s_purge (sock, json_pack ("{s:s, s:i}", "kind", "executions", "older_than", 0));
    cr_assert_eq ((size_t)removed, left, "the rest purged once (%lld of %zu)",
                  (long long)removed, left);
    all = s_list_all (sock, NULL);
    cr_assert_eq (json_array_size (all), 0);
    json_decref (all);
    zsock_destroy (&sock);
}

Test (retention, bad_durations_refused)
{
    char *out = NULL, *err = NULL;
    const char *flag[] = {ATTUNE_HELPER_DIR "/attuned", "--retention-executions", "3x",
                          NULL};
    cr_assert_eq (testing_run (flag, NULL, &out, &err, 10000), 2);
    cr_assert_not_null (strstr (err, "--retention-executions"), "%s", err);
    cr_assert_not_null (strstr (err, "'3x': not a duration"), "%s", err);
    free (out);
    free (err);

    char root[PATH_MAX - 64], path[PATH_MAX];
    testing_tmpdir (root, sizeof root, "test_retention_cfg");
    snprintf (path, sizeof path, "%s/topology.cfg", root);
    FILE *file = fopen (path, "w");
    fprintf (file, "daemon\n    retention\n        events = \"ten days\"\n");
    fclose (file);
    const char *config[] = {ATTUNE_HELPER_DIR "/attuned", "--config", path, NULL};
    cr_assert_eq (testing_run (config, NULL, &out, &err, 10000), 2);
    cr_assert_not_null (strstr (err, "daemon/retention/events"), "%s", err);
    cr_assert_not_null (strstr (err, "'ten days': not a duration"), "%s", err);
    free (out);
    free (err);
    file = fopen (path, "w");
    fprintf (file, "daemon\n    retention\n        forever = 1\n");
    fclose (file);
    cr_assert_eq (testing_run (config, NULL, &out, &err, 10000), 2);
    cr_assert_not_null (strstr (err, "daemon/retention/forever: unknown setting"), "%s",
                        err);
    free (out);
    free (err);

    const char *cli[] = {S_ATTUNE, "--api",      "tcp://127.0.0.1:1",
                         "purge",  "executions", "--older-than",
                         "5q",     NULL};
    cr_assert_eq (testing_run (cli, NULL, &out, &err, 10000), 2);
    cr_assert_not_null (strstr (err, "--older-than: '5q': not a duration"), "%s", err);
    free (out);
    free (err);
    const char *missing[] = {S_ATTUNE, "--api",  "tcp://127.0.0.1:1",
                             "purge",  "events", NULL};
    cr_assert_eq (testing_run (missing, NULL, &out, &err, 10000), 2);
    cr_assert_not_null (strstr (err, "--older-than: required"), "%s", err);
    free (out);
    free (err);
}

//  The CLI against the daemon: counts, and StackStorm's status names
Test (retention, cli_purge)
{
    s_start (NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    for (int i = 0; i < 3; i++) {
        char *id = s_run (sock, "test.step");
        json_decref (testing_api_wait_status (sock, id, "completed", 10000));
        free (id);
    }
    char *out = NULL, *err = NULL;
    const char *argv[] = {
        S_ATTUNE, "--api",    s_daemon.api,       "purge", "executions", "--older-than",
        "0",      "--status", "succeeded,failed", NULL};
    cr_assert_eq (testing_run (argv, NULL, &out, &err, 30000), 0, "%s", err);
    cr_assert_not_null (strstr (out, "3 executions purged"), "%s", out);
    free (out);
    free (err);
    zsock_destroy (&sock);
}

//  A child that ended under a parent still running stays (the parent's
//  engine or its list follows it); both go once the parent ended.
Test (retention, child_of_running_parent_kept)
{
    s_start (NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *run = testing_api_ok (sock, "api.execution.run",
                                  json_pack ("{s:s, s:{s:s}}", "action", "core.local",
                                             "parameters", "cmd", "sleep 60"));
    char *parent = strdup (json_string_value (json_object_get (run, "execution")));
    json_decref (run);
    json_decref (testing_api_wait_status (sock, parent, "running", 10000));
    json_t *rerun = testing_api_ok (
        sock, "api.execution.rerun",
        json_pack ("{s:s, s:s, s:{s:s}}", "id", parent, "request",
                   "00000000-0000-4000-8000-00000000cafe", "parameters", "cmd", "true"));
    char *child = strdup (json_string_value (json_object_get (rerun, "execution")));
    json_decref (rerun);
    json_decref (testing_api_wait_status (sock, child, "completed", 10000));
    cr_assert_eq (
        s_purge (sock, json_pack ("{s:s, s:i}", "kind", "executions", "older_than", 0)),
        0, "the child of a running parent stays");
    json_t *children = s_list_all (sock, json_pack ("{s:s}", "parent", parent));
    cr_assert_eq (json_array_size (children), 1);
    json_decref (children);
    json_decref (
        testing_api_ok (sock, "api.execution.cancel", json_pack ("{s:s}", "id", parent)));
    json_decref (testing_api_wait_status (sock, parent, "cancelled", 10000));
    cr_assert_eq (
        s_purge (sock, json_pack ("{s:s, s:i}", "kind", "executions", "older_than", 0)),
        2);
    json_t *all = s_list_all (sock, NULL);
    cr_assert_eq (json_array_size (all), 0);
    json_decref (all);
    free (parent);
    free (child);
    zsock_destroy (&sock);
}

//  A pending inquiry stays; once answered it goes with --inquiries, and its
//  execution stays until executions are purged.
Test (retention, inquiries)
{
    s_start (NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    char *asked[2];
    for (int i = 0; i < 2; i++) {
        asked[i] = s_run (sock, "core.ask");
        json_decref (testing_api_wait_status (sock, asked[i], "pending", 10000));
    }
    json_decref (testing_api_ok (
        sock, "api.inquiry.respond",
        json_pack ("{s:s, s:{s:b}}", "id", asked[0], "response", "continue", true)));
    json_decref (testing_api_wait_status (sock, asked[0], "completed", 10000));
    cr_assert_eq (
        s_purge (sock, json_pack ("{s:s, s:i}", "kind", "inquiries", "older_than", 0)),
        1);
    json_t *list = testing_api_ok (sock, "api.inquiry.list", NULL);
    json_t *items = json_object_get (list, "items");
    cr_assert_eq (json_array_size (items), 1, "the pending one stays");
    cr_assert_str_eq (
        json_string_value (json_object_get (json_array_get (items, 0), "id")), asked[1]);
    json_decref (list);
    testing_api_fails (sock, "api.inquiry.get", json_pack ("{s:s}", "id", asked[0]),
                       "not_found");
    json_decref (
        testing_api_ok (sock, "api.execution.get", json_pack ("{s:s}", "id", asked[0])));
    //  Executions: the answered one goes, the pending one stays with its inquiry
    cr_assert_eq (
        s_purge (sock, json_pack ("{s:s, s:i}", "kind", "executions", "older_than", 0)),
        1);
    json_decref (
        testing_api_ok (sock, "api.inquiry.get", json_pack ("{s:s}", "id", asked[1])));
    json_t *all = s_list_all (sock, NULL);
    cr_assert_eq (json_array_size (all), 1);
    json_decref (all);
    testing_api_fails (sock, "api.purge",
                       json_pack ("{s:s, s:i, s:s}", "kind", "inquiries", "older_than", 0,
                                  "action", "core.ask"),
                       "bad_request");
    free (asked[0]);
    free (asked[1]);
    zsock_destroy (&sock);
}

//  A purged execution's live output goes with it: none left by its id, the
//  output of one kept stays
Test (retention, purge_takes_the_live_output)
{
    s_start (NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    char *gone = s_run (sock, "test.talk");
    json_decref (testing_api_wait_status (sock, gone, "completed", 10000));
    json_t *output =
        testing_api_ok (sock, "api.execution.output", json_pack ("{s:s}", "id", gone));
    cr_assert_gt (json_array_size (json_object_get (output, "chunks")), 0);
    json_decref (output);
    zclock_sleep (1100);
    char *kept = s_run (sock, "test.talk");
    json_decref (testing_api_wait_status (sock, kept, "completed", 10000));
    cr_assert_eq (
        s_purge (sock, json_pack ("{s:s, s:i}", "kind", "executions", "older_than", 1)),
        1);
    testing_api_fails (sock, "api.execution.output", json_pack ("{s:s}", "id", gone),
                       "not_found");
    output =
        testing_api_ok (sock, "api.execution.output", json_pack ("{s:s}", "id", kept));
    size_t chunks = json_array_size (json_object_get (output, "chunks"));
    cr_assert_gt (chunks, 0);
    json_decref (output);
    free (gone);
    free (kept);
    zsock_destroy (&sock);
    //  The store holds the kept one's chunks and nothing else
    testing_daemon_stop (&s_daemon);
    char dir[PATH_MAX + 16], message[256];
    snprintf (dir, sizeof dir, "%s/executor", s_daemon.data);
    store_code_t code;
    store_t *store = store_open (dir, NULL, &code, message, sizeof message);
    cr_assert_not_null (store, "%s", message);
    store_table_t *table = store_table (store, "output", false);
    store_txn_t *txn = table ? store_read_begin (store) : NULL;
    cr_assert_not_null (txn);
    store_cursor_t *cursor = store_cursor_new (txn, table);
    size_t stored = 0;
    while (cursor && store_cursor_next (cursor) == STORE_OK)
        stored++;
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    store_close (&store);
    cr_assert_eq (stored, chunks, "%zu chunks stored, %zu kept", stored, chunks);
}
