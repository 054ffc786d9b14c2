/*  test_log: attuned's log (tools/attuned_log.h): `--log-format json`, one
    object a line; `--log-level` per actor; one line per execution end;
    no secret in any line.
*/
#include "tests/testing_api.h"

#define S_SECRET "Log-S3cr3t-7f2a"

static testing_daemon_t s_daemon;

static void
s_fini (void)
{
    testing_daemon_stop_all ();
}

TestSuite (log, .fini = s_fini, .timeout = 90);

//  Run `action` with `parameters` (taken) and wait until it ended.
static json_t *
s_run (zsock_t *sock, const char *action, json_t *parameters, const char *status)
{
    json_t *run = testing_api_ok (
        sock, "api.execution.run",
        json_pack ("{s:s, s:o}", "action", action, "parameters", parameters));
    const char *id = json_string_value (json_object_get (run, "execution"));
    if (!id)
        id = json_string_value (json_object_get (run, "id"));
    cr_assert_not_null (id);
    json_t *record = testing_api_wait_status (sock, id, status, 20000);
    json_decref (run);
    return record;
}

//  Every line of the log that is a log line, as JSON (asserted well formed)
static json_t *
s_lines (void)
{
    char *log = testing_daemon_read_log (&s_daemon);
    json_t *lines = json_array ();
    for (char *line = strtok (log, "\n"); line; line = strtok (NULL, "\n")) {
        if (line[0] != '{')
            continue; //  not attuned's log (an action's stderr ...)
        json_error_t error;
        json_t *object = json_loads (line, 0, &error);
        cr_assert_not_null (object, "not JSON: %s (%s)", line, error.text);
        const char *ts = json_string_value (json_object_get (object, "ts"));
        const char *level = json_string_value (json_object_get (object, "level"));
        cr_assert (ts && strlen (ts) == 24 && ts[23] == 'Z', "ts: %s", line);
        cr_assert (level && strstr ("debug info notice warning error", level), "%s",
                   line);
        cr_assert (json_is_string (json_object_get (object, "actor")), "%s", line);
        cr_assert (json_is_string (json_object_get (object, "message")), "%s", line);
        cr_assert_eq (json_object_size (object), 4, "%s", line);
        json_array_append_new (lines, object);
    }
    free (log);
    return lines;
}

//  The first line whose message holds `needle`, or NULL
static json_t *
s_find (json_t *lines, const char *needle)
{
    size_t i;
    json_t *line;
    json_array_foreach (lines, i, line)
    {
        if (strstr (json_string_value (json_object_get (line, "message")), needle))
            return line;
    }
    return NULL;
}

Test (log, json_lines_with_a_level_per_actor)
{
    testing_daemon_init (&s_daemon, "test_log");
    const char *extra[] = {"--log-format", "json", "--log-level",
                           "debug,registry=warning", NULL};
    testing_daemon_start (&s_daemon, extra);
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *record = s_run (sock, "core.local",
                            json_pack ("{s:s}", "cmd", "echo log-7e1"), "completed");
    const char *id = json_string_value (json_object_get (record, "id"));
    cr_assert (testing_daemon_wait_log (&s_daemon, "log-7e1", 10000));
    json_t *lines = s_lines ();
    //  One line for the end, the executor's, at info
    json_t *end = s_find (lines, id);
    cr_assert_not_null (end);
    cr_assert_str_eq (json_string_value (json_object_get (end, "actor")), "executor");
    cr_assert_str_eq (json_string_value (json_object_get (end, "level")), "info");
    //  attuned's own lines are there; the registry's below warning are not
    json_t *running = s_find (lines, "attuned: running");
    cr_assert_not_null (running);
    cr_assert_str_eq (json_string_value (json_object_get (running, "actor")), "attuned");
    size_t i;
    json_t *line;
    json_array_foreach (lines, i, line)
    {
        if (streq (json_string_value (json_object_get (line, "actor")), "registry"))
            cr_assert (
                !streq (json_string_value (json_object_get (line, "level")), "info"),
                "a registry info line: %s",
                json_string_value (json_object_get (line, "message")));
    }
    json_decref (lines);
    json_decref (record);
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
}

Test (log, execution_ends_hidden_by_the_executors_level_and_bad_levels_refused)
{
    testing_daemon_init (&s_daemon, "test_log");
    const char *extra[] = {"--log-format", "json", "--log-level", "executor=warning",
                           NULL};
    testing_daemon_start (&s_daemon, extra);
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *record = s_run (sock, "core.local",
                            json_pack ("{s:s}", "cmd", "echo log-9c3"), "completed");
    zclock_sleep (500);
    json_t *lines = s_lines ();
    cr_assert_null (s_find (lines, "log-9c3"));
    cr_assert_not_null (s_find (lines, "attuned: running"));
    json_decref (lines);
    json_decref (record);
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);

    const char *bad[][3] = {{"--log-level", "executor=loud", NULL},
                            {"--log-level", "nobody=info", NULL},
                            {"--log-format", "xml", NULL}};
    for (size_t b = 0; b < 3; b++) {
        char command[PATH_MAX * 2];
        snprintf (command, sizeof command, "%s/attuned -d %s %s %s 2>&1",
                  ATTUNE_HELPER_DIR, s_daemon.data, bad[b][0], bad[b][1]);
        FILE *pipe = popen (command, "r");
        char text[1024] = "";
        size_t n = fread (text, 1, sizeof text - 1, pipe);
        text[n] = 0;
        int status = pclose (pipe);
        cr_assert_eq (WEXITSTATUS (status), 2, "%s: %s", bad[b][1], text);
        cr_assert_not_null (strstr (text, bad[b][1]), "%s", text);
    }
}

Test (log, no_secret_in_any_line)
{
    testing_daemon_init (&s_daemon, "test_log");
    testing_daemon_write (&s_daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    //  It fails, with its secret parameter named in its error output
    testing_daemon_write (
        &s_daemon, "test/actions/secretive.yaml",
        "name: secretive\npack: test\nrunner_type: local-shell-cmd\n"
        "entry_point: echo \"denied for $ATTUNE_PARAM_PASSWORD\" >&2; exit 3\n"
        "parameters:\n  password:\n    type: string\n    secret: true\n"
        "    required: true\n");
    const char *extra[] = {"--log-format", "json", "--log-level", "debug", NULL};
    testing_daemon_start (&s_daemon, extra);
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *record = s_run (sock, "test.secretive",
                            json_pack ("{s:s}", "password", S_SECRET), "failed");
    const char *id = json_string_value (json_object_get (record, "id"));
    cr_assert (testing_daemon_wait_log (&s_daemon, id, 10000));
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
    char *log = testing_daemon_read_log (&s_daemon);
    cr_assert_null (strstr (log, S_SECRET), "the secret is in the log:\n%s", log);
    free (log);
    json_decref (record);
}
