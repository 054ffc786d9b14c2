/*  test_cli: the `attune` command line client.

    Suite cli_usage runs it without a daemon: --help everywhere, usage
    errors (exit 2, nothing sent), an api that is not there (exit 1 within
    the timeout), and a fake api in this process that checks the resend with
    the same id and that stray replies are ignored.

    Suite cli runs every command against a live attuned (tests/testing_daemon.h)
    with a test pack: a trigger test.hook, a noop action test.count with an
    integer parameter n, shell actions that print, fail and sleep, and a rule
    test.count: test.hook -> test.count with n from the payload.
*/
#include "tests/testing_api.h"
#include <jansson.h>

#include "proto/proto_envelope.h"

#define S_ATTUNE ATTUNE_HELPER_DIR "/attune"
#define S_RUN_MS 30000 //  bound of one CLI run in these tests

static testing_daemon_t s_daemon;

//  ---------------------------------------------------------------------------
//  Running the CLI

//  Run attune with the arguments (NULL-terminated) and `input` on stdin;
//  returns the exit code, output in *out_p / *err_p (caller frees).
static int
s_run_argv (const char *input, char **out_p, char **err_p, const char *const *args)
{
    const char *argv[64] = {S_ATTUNE};
    int argc = 1;
    for (int i = 0; args[i]; i++) {
        cr_assert_lt (argc, 62);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    char *out = NULL, *err = NULL;
    int rc = testing_run (argv, input, &out, &err, S_RUN_MS);
    if (out_p)
        *out_p = out;
    else
        free (out);
    if (err_p)
        *err_p = err;
    else
        free (err);
    return rc;
}

//  attune --api <daemon> ARGS...: s_attune (NULL, &out, &err, "status", NULL)
#define s_attune(input, out_p, err_p, ...)                                               \
    s_run_argv (input, out_p, err_p,                                                     \
                (const char *const[]){"--api", s_daemon.api, __VA_ARGS__})
//  attune ARGS... (no --api)
#define s_attune_raw(input, out_p, err_p, ...)                                           \
    s_run_argv (input, out_p, err_p, (const char *const[]){__VA_ARGS__})

//  attune --api <daemon> --json ARGS...: asserts exit 0 and returns the
//  parsed output (caller decrefs).
static json_t *
s_json_argv (const char *const *args)
{
    const char *argv[64] = {"--api", s_daemon.api, "--json"};
    int argc = 3;
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    char *out = NULL, *err = NULL;
    int rc = s_run_argv (NULL, &out, &err, argv);
    cr_assert_eq (rc, 0, "attune %s %s: exit %d\nstdout: %s\nstderr: %s", args[0],
                  args[1] ? args[1] : "", rc, out, err);
    json_error_t error;
    json_t *value = json_loads (out, JSON_DECODE_ANY, &error);
    cr_assert_not_null (value, "attune --json %s: not one JSON document (%s):\n%s",
                        args[0], error.text, out);
    free (out);
    free (err);
    return value;
}
#define s_json(...) s_json_argv ((const char *const[]){__VA_ARGS__})

static void
s_assert_has (const char *text, const char *needle, const char *what)
{
    cr_assert_not_null (strstr (text, needle), "%s: no '%s' in:\n%s", what, needle, text);
}

static void
s_assert_lacks (const char *text, const char *needle, const char *what)
{
    cr_assert_null (strstr (text, needle), "%s: unexpected '%s' in:\n%s", what, needle,
                    text);
}

static int
s_count (const char *text, const char *needle)
{
    int count = 0;
    for (const char *p = strstr (text, needle); p; p = strstr (p + 1, needle))
        count++;
    return count;
}

//  The execution id printed by `run` (one UUID and a newline).
static void
s_take_id (const char *out, char id[PROTO_UUID_STR_SIZE])
{
    uint8_t raw[PROTO_UUID_SIZE];
    cr_assert_eq (strlen (out), 37, "expected one id and a newline, got '%s'", out);
    memcpy (id, out, 36);
    id[36] = 0;
    cr_assert_eq (proto_uuid_parse (id, raw), 0, "'%s' is not a UUID", id);
}

//  Poll `execution get ID --json` until its status is `status` (asserts
//  within timeout_ms); returns the execution.
static json_t *
s_wait_status (const char *id, const char *status, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    char last[64] = "?";
    while (zclock_mono () < deadline) {
        json_t *execution = s_json ("execution", "get", id, NULL);
        const char *now = json_string_value (json_object_get (execution, "status"));
        snprintf (last, sizeof last, "%s", now ? now : "(none)");
        if (now && streq (now, status))
            return execution;
        json_decref (execution);
        zclock_sleep (100);
    }
    cr_assert_fail ("execution %s is %s, not %s after %d ms", id, last, status,
                    timeout_ms);
    return NULL;
}

//  Run ACTION with the arguments, without waiting; returns the id.
static void
s_start (char id[PROTO_UUID_STR_SIZE], const char *const *args)
{
    const char *argv[32] = {"--api", s_daemon.api, "run"};
    int argc = 3;
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    char *out = NULL, *err = NULL;
    int rc = s_run_argv (NULL, &out, &err, argv);
    cr_assert_eq (rc, 0, "run %s: exit %d: %s", args[0], rc, err);
    s_take_id (out, id);
    free (out);
    free (err);
}
#define s_start_run(id, ...) s_start (id, (const char *const[]){__VA_ARGS__})

static bool
s_items_have (const json_t *list, const char *key, const char *value)
{
    size_t i;
    const json_t *item;
    json_array_foreach (json_object_get (list, "items"), i, item)
    {
        const char *got = json_string_value (json_object_get (item, key));
        if (got && streq (got, value))
            return true;
    }
    return false;
}

//  ---------------------------------------------------------------------------
//  Without a daemon

TestSuite (cli_usage, .timeout = 90);

Test (cli_usage, help_of_every_command)
{
    const char *paths[][3] = {
        {NULL},
        {"run", NULL},
        {"execution", NULL},
        {"execution", "list"},
        {"execution", "get"},
        {"execution", "tail"},
        {"execution", "cancel"},
        {"execution", "rerun"},
        {"rule", NULL},
        {"rule", "list"},
        {"rule", "get"},
        {"rule", "create"},
        {"rule", "enable"},
        {"rule", "disable"},
        {"rule", "delete"},
        {"action", NULL},
        {"action", "list"},
        {"action", "get"},
        {"event", NULL},
        {"event", "publish"},
        {"event", "list"},
        {"worker", NULL},
        {"worker", "list"},
        {"status", NULL},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const char *args[4] = {0};
        int n = 0;
        char expect[64] = "usage: attune";
        for (int k = 0; k < 2 && paths[i][k]; k++) {
            args[n++] = paths[i][k];
            size_t len = strlen (expect);
            snprintf (expect + len, sizeof expect - len, " %s", paths[i][k]);
        }
        args[n++] = i % 2 ? "-h" : "--help";
        char *out = NULL, *err = NULL;
        int rc = s_run_argv (NULL, &out, &err, args);
        cr_assert_eq (rc, 0, "%s --help: exit %d: %s", expect, rc, err);
        cr_assert_eq (strncmp (out, expect, strlen (expect)), 0,
                      "--help of '%s' starts with:\n%s", expect, out);
        cr_assert_eq (strlen (err), 0, "--help wrote to stderr: %s", err);
        free (out);
        free (err);
    }
    //  The options of a command are described in its help
    char *out = NULL;
    cr_assert_eq (s_attune_raw (NULL, &out, NULL, "execution", "list", "--help", NULL),
                  0);
    const char *options[] = {"--status", "--action", "--rule",  "--since",
                             "--until",  "--limit",  "--before"};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        s_assert_has (out, options[i], "execution list --help");
    free (out);
}

Test (cli_usage, usage_errors_exit_2_without_a_request)
{
    //  An api that never answers: a command that sent a request would exit 1
    //  after the timeout instead of 2 at once.
    struct {
        const char *args[8];
        const char *expect;
    } cases[] = {
        {{NULL}, "missing command"},
        {{"bogus"}, "unknown command 'bogus'"},
        {{"--bogus", "status"}, "unknown option '--bogus'"},
        {{"--timeout", "abc", "status"}, "--timeout"},
        {{"--timeout", "0", "status"}, "--timeout"},
        {{"--timeout"}, "--timeout needs a value"},
        {{"--api", "nothing", "status"}, "not tcp://"},
        {{"run"}, "missing argument"},
        {{"run", "test.count", "n"}, "'n' is not key=value"},
        {{"run", "test.count", "=3"}, "is not key=value"},
        {{"run", "test.count", "n=1", "n=2"}, "parameter 'n' is given twice"},
        {{"run", "test.count", "--timeout", "5"}, "--timeout is for --wait"},
        {{"run", "test.count", "--wait", "--timeout", "-1"}, "not a number of seconds"},
        {{"run", "test.count", "--wait", "--timeout"}, "--timeout needs a value"},
        {{"run", "test.count", "--wait=yes"}, "--wait takes no value"},
        {{"run", ""}, "'' is empty"},
        {{"run", "test.count", "n=\xff"}, "parameter 'n' is not valid UTF-8"},
        {{"rule", "get", "\xff\xfe"}, "not valid UTF-8"},
        {{"rule", "enable", ""}, "is empty"},
        {{"action", "get", "\xc3"}, "not valid UTF-8"},
        {{"event", "publish", "", "{}"}, "is empty"},
        {{"execution"}, "missing subcommand"},
        {{"execution", "bogus"}, "unknown subcommand 'bogus'"},
        {{"execution", "list", "extra"}, "unexpected argument 'extra'"},
        {{"execution", "list", "--limit", "0"}, "--limit: '0'"},
        {{"execution", "list", "--limit", "1000001"}, "--limit: '1000001'"},
        {{"execution", "list", "--limit", "12abc"}, "--limit: '12abc'"},
        {{"execution", "list", "--limit", "99999999999999999999999"}, "--limit"},
        {{"execution", "list", "--before", "xyz"}, "--before: 'xyz' is not an id"},
        {{"execution", "list", "--since", "yesterday"}, "--since: 'yesterday'"},
        {{"execution", "list", "--until", "2024-13-01"}, "--until: '2024-13-01'"},
        {{"execution", "list", "--status="}, "--status: empty"},
        {{"execution", "list", "--verbose"}, "unknown option '--verbose'"},
        {{"execution", "get"}, "missing argument"},
        {{"execution", "get", "not-an-id"}, "'not-an-id' is not an id"},
        {{"execution", "get", "a", "b"}, "unexpected argument 'b'"},
        {{"execution", "tail", "123"}, "'123' is not an id"},
        {{"execution", "cancel"}, "missing argument"},
        {{"execution", "rerun", "zz", "n=1"}, "'zz' is not an id"},
        {{"rule", "list", "--enabled", "--disabled"}, "exclude each other"},
        {{"rule", "create"}, "missing argument"},
        {{"rule", "get"}, "missing argument"},
        {{"action", "get", "a", "b"}, "unexpected argument"},
        {{"event", "publish", "test.hook"}, "missing argument"},
        {{"event", "publish", "test.hook", "{not json"}, "must be a JSON object"},
        {{"event", "publish", "test.hook", "[1, 2]"}, "must be a JSON object"},
        {{"event", "list", "--limit", "-5"}, "--limit: '-5'"},
        {{"worker", "list", "extra"}, "unexpected argument"},
        {{"status", "extra"}, "unexpected argument"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[16] = {"--api", "tcp://127.0.0.1:9", "--timeout", "3000"};
        int n = 4;
        for (int k = 0; cases[i].args[k]; k++)
            args[n++] = cases[i].args[k];
        args[n] = NULL;
        char *out = NULL, *err = NULL;
        int64_t start = zclock_mono ();
        int rc = s_run_argv (NULL, &out, &err, args);
        cr_assert_eq (rc, 2, "case %zu (%s ...): exit %d, not 2\nstderr: %s", i,
                      cases[i].args[0] ? cases[i].args[0] : "", rc, err);
        cr_assert_lt (zclock_mono () - start, 2000, "case %zu waited for a reply", i);
        s_assert_has (err, cases[i].expect, "stderr");
        s_assert_has (err, "attune", "stderr");
        cr_assert_eq (strlen (out), 0, "case %zu wrote to stdout: %s", i, out);
        free (out);
        free (err);
    }
}

Test (cli_usage, oversized_request_is_refused_before_sending)
{
    //  12 parameters of 100 KB: a request over the 1 MiB frame limit
    static char values[12][100 * 1024];
    const char *args[20] = {"--api", "tcp://127.0.0.1:9", "--timeout", "3000",
                            "run",   "test.count"};
    for (int i = 0; i < 12; i++) {
        int n = snprintf (values[i], sizeof values[i], "p%d=", i);
        memset (values[i] + n, 'x', sizeof values[i] - (size_t)n - 1);
        args[6 + i] = values[i];
    }
    char *out = NULL, *err = NULL;
    int64_t start = zclock_mono ();
    int rc = s_run_argv (NULL, &out, &err, args);
    cr_assert_eq (rc, 1, "exit %d: %s", rc, err);
    cr_assert_lt (zclock_mono () - start, 2000, "it waited for a reply");
    s_assert_has (err, "attune: too_large: ", "stderr");
    free (out);
    free (err);
}

Test (cli_usage, unreachable_api_fails_within_the_timeout)
{
    //  Nothing listens on the port: the request is sent twice, then
    //  `unavailable` naming the endpoint, after the timeout and not much more.
    char *out = NULL, *err = NULL;
    int64_t start = zclock_mono ();
    int rc = s_attune_raw (NULL, &out, &err, "--api", "tcp://127.0.0.1:9", "--timeout",
                           "1000", "execution", "list", NULL);
    int64_t elapsed = zclock_mono () - start;
    cr_assert_eq (rc, 1, "exit %d: %s", rc, err);
    s_assert_has (err, "attune: unavailable:", "stderr");
    s_assert_has (err, "tcp://127.0.0.1:9", "stderr");
    cr_assert (elapsed >= 900 && elapsed < 4000, "gave up after %lld ms",
               (long long)elapsed);
    free (out);
    free (err);

    //  The endpoint comes from $ATTUNE_API when there is no --api
    setenv ("ATTUNE_API", "tcp://127.0.0.1:7", 1);
    rc = s_attune_raw (NULL, &out, &err, "--timeout", "300", "status", NULL);
    cr_assert_eq (rc, 1);
    s_assert_has (err, "tcp://127.0.0.1:7", "stderr with $ATTUNE_API");
    free (out);
    free (err);
    rc = s_attune_raw (NULL, &out, &err, "--api=tcp://127.0.0.1:9", "--timeout=300",
                       "status", NULL);
    cr_assert_eq (rc, 1);
    s_assert_has (err, "tcp://127.0.0.1:9", "--api over $ATTUNE_API");
    free (out);
    free (err);
    unsetenv ("ATTUNE_API");
}

//  A fake api: answers each request only when it is the resent copy
//  (retry 1), after a garbage frame and a reply to another id. Records the
//  ids and retry counts of the copies it received.
typedef struct {
    int count;
    uint8_t ids[4][PROTO_UUID_SIZE];
    uint64_t retry[4];
    char type[64];
} s_fake_log_t;

static void
s_fake_api (zsock_t *pipe, void *args)
{
    s_fake_log_t *log = (s_fake_log_t *)args;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zstr_sendf (pipe, "%d", port);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break;
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *routing = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        proto_envelope_t *request =
            proto_envelope_decode (zframe_data (body), zframe_size (body), NULL, NULL);
        if (request && log->count < 4) {
            memcpy (log->ids[log->count], proto_envelope_id (request), PROTO_UUID_SIZE);
            log->retry[log->count] = proto_envelope_retry (request);
            snprintf (log->type, sizeof log->type, "%s", proto_envelope_type (request));
            log->count++;
        }
        if (request && proto_envelope_retry (request) == 1) {
            //  Garbage, then a reply to some other request, then the reply
            zframe_send (&routing, router, ZFRAME_MORE | ZFRAME_REUSE);
            zstr_send (router, "garbage");
            uint8_t other[PROTO_UUID_SIZE];
            proto_uuid_generate (other);
            for (int k = 0; k < 2; k++) {
                proto_envelope_t *reply = proto_envelope_new ("api.reply", "fake@test");
                proto_envelope_set_corr (reply, k ? proto_envelope_id (request) : other);
                json_t *payload =
                    json_pack ("{s:{s:{s:{s:b}},s:{s:i}}}", "result", "actors",
                               "registry", "up", 1, "api", "requests", k ? 42 : 666);
                proto_envelope_set_payload_json (reply, payload, NULL);
                json_decref (payload);
                msgpack_sbuffer_clear (&buffer);
                proto_envelope_encode (reply, &buffer);
                zframe_send (&routing, router, ZFRAME_MORE | ZFRAME_REUSE);
                zmq_send (zsock_resolve (router), buffer.data, buffer.size, 0);
                proto_envelope_destroy (&reply);
            }
        }
        proto_envelope_destroy (&request);
        zframe_destroy (&routing);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
    msgpack_sbuffer_destroy (&buffer);
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

Test (cli_usage, resends_once_with_the_same_id_and_ignores_stray_replies)
{
    s_fake_log_t log = {0};
    zactor_t *fake = zactor_new (s_fake_api, &log);
    char *port = zstr_recv (fake);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%s", port);
    zstr_free (&port);
    char *out = NULL, *err = NULL;
    int rc = s_attune_raw (NULL, &out, &err, "--api", endpoint, "--timeout", "2000",
                           "--json", "status", NULL);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, err);
    json_t *status = json_loads (out, 0, NULL);
    cr_assert_not_null (status, "%s", out);
    cr_assert_eq (json_integer_value (
                      json_object_get (json_object_get (status, "api"), "requests")),
                  42, "took the wrong reply: %s", out);
    json_decref (status);
    free (out);
    free (err);
    zactor_destroy (&fake);
    cr_assert_eq (log.count, 2, "the api got %d copies of the request", log.count);
    cr_assert_eq (memcmp (log.ids[0], log.ids[1], PROTO_UUID_SIZE), 0,
                  "the resent request has another id");
    cr_assert_eq (log.retry[0], 0);
    cr_assert_eq (log.retry[1], 1);
    cr_assert_str_eq (log.type, "api.status");
}

//  ---------------------------------------------------------------------------
//  Against a live attuned

static void
s_setup (void)
{
    testing_daemon_init (&s_daemon, "test_cli");
    testing_daemon_write (&s_daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (&s_daemon, "test/triggers/hook.yaml",
                          "name: hook\npack: test\n");
    testing_daemon_write (&s_daemon, "test/actions/count.yaml",
                          "name: count\nrunner_type: noop\ndescription: Count to n.\n"
                          "parameters:\n  n:\n    type: integer\n    required: true\n"
                          "    description: How far.\n"
                          "  extra:\n    description: Untyped, shows what was sent.\n");
    testing_daemon_write (&s_daemon, "test/actions/show.yaml",
                          "name: show\nrunner_type: local-shell-cmd\nparameters:\n"
                          "  cmd:\n    type: string\n    immutable: true\n"
                          "    default: printf 'hello %s' \"$ATTUNE_PARAM_WHO\"\n"
                          "  who:\n    type: string\n    required: true\n");
    testing_daemon_write (&s_daemon, "test/actions/fail.yaml",
                          "name: fail\nrunner_type: local-shell-cmd\nparameters:\n"
                          "  cmd:\n    type: string\n    immutable: true\n"
                          "    default: echo oops >&2; exit 3\n");
    testing_daemon_write (&s_daemon, "test/actions/doze.yaml",
                          "name: doze\nrunner_type: local-shell-cmd\nparameters:\n"
                          "  cmd:\n    type: string\n    immutable: true\n"
                          "    default: sleep 1; echo awake\n");
    testing_daemon_write (&s_daemon, "test/actions/nap.yaml",
                          "name: nap\nrunner_type: local-shell-cmd\nparameters:\n"
                          "  cmd:\n    type: string\n    default: sleep 30\n");
    testing_daemon_write (&s_daemon, "test/rules/count.yaml",
                          "name: count\npack: test\ntrigger:\n  type: test.hook\n"
                          "action:\n  ref: test.count\n  parameters:\n"
                          "    n: \"{{ trigger.payload.n }}\"\n");
    testing_daemon_start (&s_daemon, NULL);
}

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (cli, .init = s_setup, .fini = s_teardown, .timeout = 120);

Test (cli, run_prints_the_id_and_json_values_are_json)
{
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "run", "test.count", "n=3", NULL);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, err);
    char id[PROTO_UUID_STR_SIZE];
    s_take_id (out, id);
    free (out);
    free (err);
    json_t *execution = s_wait_status (id, "completed", 15000);
    //  n=3 went as the integer 3 (a string would not fit the schema)
    json_t *n = json_object_get (json_object_get (execution, "parameters"), "n");
    cr_assert (json_is_integer (n) && json_integer_value (n) == 3);
    cr_assert_str_eq (json_string_value (json_object_get (execution, "id")), id);
    json_decref (execution);

    //  --json: the result document
    json_t *result = s_json ("run", "test.count", "n=4", NULL);
    cr_assert (json_is_string (json_object_get (result, "execution")));
    json_decref (result);

    //  An untyped parameter keeps what the CLI made of the text
    const char *values[][2] = {{"extra={\"a\": [1, true]}", "{\"a\": [1, true]}"},
                               {"extra=true", "true"},
                               {"extra=2.5", "2.5"},
                               {"extra=null", "null"},
                               {"extra=hello world", "\"hello world\""},
                               {"extra=\"7\"", "\"7\""},
                               {"extra=", "\"\""},
                               {"extra={broken", "\"{broken\""}};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        json_t *run = s_json ("run", "test.count", "n=1", values[i][0], "--wait", NULL);
        json_t *got = json_object_get (json_object_get (run, "parameters"), "extra");
        json_t *want = json_loads (values[i][1], JSON_DECODE_ANY, NULL);
        cr_assert (want);
        cr_assert (json_equal (got, want) || (json_is_null (want) && !got),
                   "%s arrived as %s", values[i][0],
                   got ? json_dumps (got, JSON_ENCODE_ANY) : "(nothing)");
        json_decref (want);
        json_decref (run);
    }
}

Test (cli, run_wait_shows_the_result)
{
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "run", "test.show", "who=world", "--wait", NULL);
    cr_assert_eq (rc, 0, "exit %d\n%s\n%s", rc, out, err);
    s_assert_has (out, "completed", "run --wait");
    s_assert_has (out, "test.show", "run --wait");
    s_assert_has (out, "stdout: hello world", "run --wait");
    s_assert_has (out, "return_code: 0", "run --wait");
    //  stderr is not a terminal: one line per status change, no \r
    s_assert_has (err, "completed", "progress on stderr");
    s_assert_lacks (err, "\r", "progress on stderr");
    free (out);
    free (err);

    //  A noop action's result is JSON; --json gives the whole execution
    json_t *execution = s_json ("run", "test.count", "n=5", "--wait", NULL);
    cr_assert_str_eq (json_string_value (json_object_get (execution, "status")),
                      "completed");
    cr_assert_eq (json_integer_value (
                      json_object_get (json_object_get (execution, "parameters"), "n")),
                  5);
    cr_assert (json_object_get (execution, "result"));
    json_decref (execution);
}

Test (cli, st2_status_names_on_request)
{
    //  attune's `completed` is StackStorm's `succeeded` with --st2-status
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "--st2-status", "run", "test.show", "who=st2",
                       "--wait", NULL);
    cr_assert_eq (rc, 0, "exit %d\n%s\n%s", rc, out, err);
    s_assert_has (out, "succeeded", "run --wait --st2-status");
    s_assert_lacks (out, "completed", "run --wait --st2-status");
    free (out);
    free (err);
    json_t *execution =
        s_json ("--st2-status", "run", "test.count", "n=5", "--wait", NULL);
    cr_assert_str_eq (json_string_value (json_object_get (execution, "status")),
                      "succeeded");
    json_decref (execution);
}

Test (cli, run_wait_of_a_failing_action_exits_1)
{
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "run", "test.fail", "--wait", NULL);
    cr_assert_eq (rc, 1, "exit %d\n%s\n%s", rc, out, err);
    s_assert_has (out, "failed", "run --wait");
    s_assert_has (out, "return_code: 3", "run --wait");
    s_assert_has (out, "stderr: oops", "run --wait");
    free (out);
    free (err);
}

Test (cli, run_errors)
{
    char *out = NULL, *err = NULL;
    //  A string where the schema wants an integer: the api's reason
    int rc = s_attune (NULL, &out, &err, "run", "test.count", "n=abc", NULL);
    cr_assert_eq (rc, 1, "exit %d: %s", rc, out);
    s_assert_has (err, "attune: invalid: ", "n=abc");
    s_assert_has (err, "n", "n=abc");
    cr_assert_eq (strlen (out), 0);
    free (out);
    free (err);
    //  A required parameter missing
    rc = s_attune (NULL, &out, &err, "run", "test.count", NULL);
    cr_assert_eq (rc, 1);
    s_assert_has (err, "attune: invalid: ", "no n");
    free (out);
    free (err);
    //  No such action
    rc = s_attune (NULL, &out, &err, "run", "test.nothing", "--wait", NULL);
    cr_assert_eq (rc, 1);
    s_assert_has (err, "attune: not_found: ", "unknown action");
    s_assert_has (err, "test.nothing", "unknown action");
    free (out);
    free (err);
    //  --wait with a deadline shorter than the action
    int64_t start = zclock_mono ();
    rc = s_attune (NULL, &out, &err, "run", "test.nap", "--wait", "--timeout", "1", NULL);
    cr_assert_eq (rc, 1);
    cr_assert_lt (zclock_mono () - start, 8000);
    s_assert_has (err, "attune: timeout: ", "run --wait --timeout 1");
    free (out);
    free (err);
}

Test (cli, execution_list_and_filters)
{
    json_t *first = s_json ("run", "test.count", "n=1", "--wait", NULL);
    json_t *second = s_json ("run", "test.show", "who=you", "--wait", NULL);
    const char *id1 = json_string_value (json_object_get (first, "id"));
    const char *id2 = json_string_value (json_object_get (second, "id"));
    cr_assert (id1 && id2);

    //  The table: a header and both, the newest first
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "execution", "list", NULL);
    cr_assert_eq (rc, 0, "%s", err);
    cr_assert_eq (strncmp (out, "ID", 2), 0, "%s", out);
    s_assert_has (out, "ACTION", "header");
    s_assert_has (out, "DURATION", "header");
    char *p1 = strstr (out, id1), *p2 = strstr (out, id2);
    cr_assert (p1 && p2 && p2 < p1, "not both, newest first:\n%s", out);
    s_assert_has (out, "test.count", "list");
    s_assert_has (out, "completed", "list");
    free (out);
    free (err);

    json_t *list = s_json ("execution", "list", "--action", "test.count", NULL);
    cr_assert (json_is_array (json_object_get (list, "items")));
    cr_assert (s_items_have (list, "id", id1));
    cr_assert (!s_items_have (list, "id", id2));
    cr_assert (!s_items_have (list, "action", "test.show"));
    json_decref (list);

    list = s_json ("execution", "list", "--status", "completed", "--since", "1h", NULL);
    cr_assert (s_items_have (list, "id", id1) && s_items_have (list, "id", id2));
    cr_assert (!s_items_have (list, "status", "failed"));
    json_decref (list);
    list = s_json ("execution", "list", "--status", "failed", NULL);
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 0);
    json_decref (list);
    list = s_json ("execution", "list", "--since", "2999-01-01", NULL);
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 0);
    json_decref (list);
    list = s_json ("execution", "list", "--until", "1971-01-01 00:00Z", NULL);
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 0);
    json_decref (list);
    list = s_json ("execution", "list", "--rule", "test.count", NULL);
    cr_assert (!s_items_have (list, "id", id1), "a manual run listed under a rule");
    json_decref (list);

    //  Pages: --limit 1 gives the newest and a `next` that --before follows
    json_t *third = s_json ("run", "test.count", "n=2", "--wait", NULL);
    const char *id3 = json_string_value (json_object_get (third, "id"));
    list = s_json ("execution", "list", "--action", "test.count", "--limit", "1", NULL);
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 1);
    cr_assert (s_items_have (list, "id", id3));
    const char *next = json_string_value (json_object_get (list, "next"));
    cr_assert_not_null (next, "no next page");
    json_t *page = s_json ("execution", "list", "--action", "test.count", "--limit", "1",
                           "--before", next, NULL);
    cr_assert (s_items_have (page, "id", id1), "the second page lacks the older run");
    cr_assert (!s_items_have (page, "id", id3), "the second page repeats the first");
    json_decref (page);
    json_decref (list);
    json_decref (third);
    json_decref (first);
    json_decref (second);
}

Test (cli, execution_get)
{
    json_t *run = s_json ("run", "test.show", "who=get", "--wait", NULL);
    const char *id = json_string_value (json_object_get (run, "id"));
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "execution", "get", id, NULL);
    cr_assert_eq (rc, 0, "%s", err);
    s_assert_has (out, id, "get");
    s_assert_has (out, "status:", "get");
    s_assert_has (out, "completed", "get");
    s_assert_has (out, "test.show", "get");
    s_assert_has (out, "hello get", "get");
    s_assert_has (out, "requested:", "get");
    free (out);
    free (err);
    json_t *execution = s_json ("execution", "get", id, NULL);
    cr_assert_str_eq (json_string_value (json_object_get (execution, "id")), id);
    cr_assert (json_is_array (json_object_get (execution, "log")));
    json_decref (execution);
    json_decref (run);

    //  Unknown id: the api's not_found, exit 1; uppercase ids are accepted
    char missing[PROTO_UUID_STR_SIZE];
    uint8_t raw[PROTO_UUID_SIZE];
    proto_uuid_generate (raw);
    proto_uuid_format (raw, missing);
    rc = s_attune (NULL, &out, &err, "execution", "get", missing, NULL);
    cr_assert_eq (rc, 1);
    s_assert_has (err, "attune: not_found: ", "unknown id");
    cr_assert_eq (strlen (out), 0);
    free (out);
    free (err);
}

Test (cli, execution_tail_ends_with_the_execution)
{
    char id[PROTO_UUID_STR_SIZE];
    s_start_run (id, "test.doze", NULL);
    char *out = NULL, *err = NULL;
    int64_t start = zclock_mono ();
    int rc = s_attune (NULL, &out, &err, "execution", "tail", id, NULL);
    int64_t elapsed = zclock_mono () - start;
    cr_assert_eq (rc, 0, "exit %d\n%s\n%s", rc, out, err);
    cr_assert_lt (elapsed, 15000);
    s_assert_has (out, "running", "tail");
    s_assert_has (out, "completed", "tail");
    s_assert_has (out, "awake", "tail shows the output");
    //  One line per change, before the execution is shown: "completed" once
    char *shown = strstr (out, "\nid:");
    cr_assert_not_null (shown, "%s", out);
    *shown = 0;
    cr_assert_eq (s_count (out, "  completed"), 1, "not one completed line:\n%s", out);
    cr_assert_eq (s_count (out, "  running"), 1, "not one running line:\n%s", out);
    free (out);
    free (err);
    //  It had ended when tail returned
    json_t *execution = s_json ("execution", "get", id, NULL);
    cr_assert_str_eq (json_string_value (json_object_get (execution, "status")),
                      "completed");
    json_decref (execution);
    //  Tail of an ended execution returns at once
    start = zclock_mono ();
    rc = s_attune (NULL, &out, &err, "execution", "tail", id, NULL);
    cr_assert_eq (rc, 0);
    cr_assert_lt (zclock_mono () - start, 3000);
    s_assert_has (out, "completed", "tail of an ended one");
    free (out);
    free (err);
}

Test (cli, execution_cancel_of_a_running_sleep)
{
    char id[PROTO_UUID_STR_SIZE];
    s_start_run (id, "test.nap", NULL);
    json_decref (s_wait_status (id, "running", 15000));
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "execution", "cancel", id, NULL);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, err);
    s_assert_has (out, id, "cancel");
    free (out);
    free (err);
    json_t *execution = s_wait_status (id, "cancelled", 15000);
    json_decref (execution);
    //  Cancelling it again: conflict
    rc = s_attune (NULL, &out, &err, "execution", "cancel", id, NULL);
    cr_assert_eq (rc, 1);
    s_assert_has (err, "attune: conflict: ", "second cancel");
    free (out);
    free (err);
    //  And tail shows how it ended (exit 1: not completed)
    rc = s_attune (NULL, &out, &err, "execution", "tail", id, NULL);
    cr_assert_eq (rc, 1);
    s_assert_has (out, "cancelled", "tail of a cancelled one");
    free (out);
    free (err);
}

Test (cli, execution_rerun_makes_a_new_execution)
{
    json_t *first = s_json ("run", "test.count", "n=1", "--wait", NULL);
    const char *id1 = json_string_value (json_object_get (first, "id"));
    json_t *again = s_json ("execution", "rerun", id1, "n=2", "--wait", NULL);
    const char *id2 = json_string_value (json_object_get (again, "id"));
    cr_assert (id2 && strcmp (id1, id2) != 0, "rerun gave the same id");
    cr_assert_str_eq (json_string_value (json_object_get (again, "status")), "completed");
    cr_assert_eq (
        json_integer_value (json_object_get (json_object_get (again, "parameters"), "n")),
        2);
    cr_assert_str_eq (json_string_value (json_object_get (again, "parent")), id1);
    //  Without parameters: the original's, and the new id on stdout
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "execution", "rerun", id1, NULL);
    cr_assert_eq (rc, 0, "%s", err);
    char id3[PROTO_UUID_STR_SIZE];
    s_take_id (out, id3);
    cr_assert (strcmp (id3, id1) && strcmp (id3, id2));
    json_t *third = s_wait_status (id3, "completed", 15000);
    cr_assert_eq (
        json_integer_value (json_object_get (json_object_get (third, "parameters"), "n")),
        1);
    json_decref (third);
    free (out);
    free (err);
    json_decref (again);
    json_decref (first);
}

Test (cli, rules_create_enable_disable_delete)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/extra.yaml", s_daemon.root);
    testing_write (s_daemon.root, "extra.yaml",
                   "name: extra\npack: test\ndescription: An extra rule.\n"
                   "trigger:\n  type: test.hook\ncriteria:\n"
                   "  trigger.payload.kind: {type: equals, pattern: extra}\n"
                   "action:\n  ref: test.count\n  parameters:\n    n: 9\n");
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "rule", "create", path, NULL);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, err);
    s_assert_has (out, "test.extra", "create");
    free (out);
    free (err);

    rc = s_attune (NULL, &out, &err, "rule", "list", NULL);
    cr_assert_eq (rc, 0);
    cr_assert_eq (strncmp (out, "REF", 3), 0, "%s", out);
    s_assert_has (out, "test.extra", "rule list");
    s_assert_has (out, "test.count", "rule list");
    s_assert_has (out, "test.hook", "rule list");
    free (out);
    free (err);
    json_t *list = s_json ("rule", "list", "--pack", "core", NULL);
    cr_assert (!s_items_have (list, "ref", "test.extra"));
    json_decref (list);
    list = s_json ("rule", "list", "--pack", "test", NULL);
    cr_assert (s_items_have (list, "ref", "test.extra"));
    json_decref (list);

    rc = s_attune (NULL, &out, &err, "rule", "get", "test.extra", NULL);
    cr_assert_eq (rc, 0, "%s", err);
    s_assert_has (out, "test.extra", "rule get");
    s_assert_has (out, "test.hook", "rule get");
    s_assert_has (out, "test.count", "rule get");
    s_assert_has (out, "An extra rule.", "rule get");
    free (out);
    free (err);

    rc = s_attune (NULL, &out, &err, "rule", "disable", "test.extra", NULL);
    cr_assert_eq (rc, 0, "%s", err);
    s_assert_has (out, "test.extra disabled", "disable");
    free (out);
    free (err);
    json_t *rule = s_json ("rule", "get", "test.extra", NULL);
    cr_assert (json_is_false (json_object_get (rule, "enabled")));
    json_decref (rule);
    list = s_json ("rule", "list", "--disabled", NULL);
    cr_assert (s_items_have (list, "ref", "test.extra"));
    cr_assert (!s_items_have (list, "ref", "test.count"));
    json_decref (list);
    list = s_json ("rule", "list", "--enabled", NULL);
    cr_assert (!s_items_have (list, "ref", "test.extra"));
    cr_assert (s_items_have (list, "ref", "test.count"));
    json_decref (list);

    rc = s_attune (NULL, &out, &err, "rule", "enable", "test.extra", NULL);
    cr_assert_eq (rc, 0, "%s", err);
    free (out);
    free (err);
    rule = s_json ("rule", "get", "test.extra", NULL);
    cr_assert (json_is_true (json_object_get (rule, "enabled")));
    json_decref (rule);

    rc = s_attune (NULL, &out, &err, "rule", "delete", "test.extra", NULL);
    cr_assert_eq (rc, 0, "%s", err);
    s_assert_has (out, "test.extra deleted", "delete");
    free (out);
    free (err);
    const char *gone[][3] = {{"get"}, {"delete"}, {"enable"}, {"disable"}};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        rc = s_attune (NULL, &out, &err, "rule", gone[i][0], "test.extra", NULL);
        cr_assert_eq (rc, 1, "rule %s after delete: exit %d", gone[i][0], rc);
        s_assert_has (err, "attune: not_found: ", gone[i][0]);
        free (out);
        free (err);
    }
    list = s_json ("rule", "list", NULL);
    cr_assert (!s_items_have (list, "ref", "test.extra"));
    json_decref (list);
}

Test (cli, rule_create_from_stdin_json_and_errors)
{
    const char *json = "{\"name\": \"piped\", \"pack\": \"test\", \"trigger\": "
                       "{\"type\": \"test.hook\"}, \"action\": {\"ref\": \"test.count\", "
                       "\"parameters\": {\"n\": 1}}}";
    char *out = NULL, *err = NULL;
    int rc = s_attune (json, &out, &err, "rule", "create", "-", NULL);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, err);
    s_assert_has (out, "test.piped", "create -");
    free (out);
    free (err);
    json_t *rule = s_json ("rule", "get", "test.piped", NULL);
    cr_assert_str_eq (json_string_value (json_object_get (rule, "ref")), "test.piped");
    json_decref (rule);

    //  A YAML syntax error names the file and line, before any request
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/broken.yaml", s_daemon.root);
    testing_write (s_daemon.root, "broken.yaml", "name: broken\npack: [test\n");
    rc = s_attune (NULL, &out, &err, "rule", "create", path, NULL);
    cr_assert_eq (rc, 1);
    s_assert_has (err, "attune: invalid: ", "broken YAML");
    s_assert_has (err, "broken.yaml:", "broken YAML");
    free (out);
    free (err);
    //  A rule that does not load: the api's reason
    testing_write (s_daemon.root, "broken.yaml",
                   "name: nowhere\npack: test\ntrigger:\n  type: test.hook\n"
                   "criteria:\n  trigger.payload.n: {type: equal, pattern: 1}\n"
                   "action:\n  ref: test.count\n");
    rc = s_attune (NULL, &out, &err, "rule", "create", path, NULL);
    cr_assert_eq (rc, 1, "a rule with an unknown operator loaded");
    s_assert_has (err, "attune: invalid: ", "bad rule");
    s_assert_has (err, "equal", "bad rule");
    free (out);
    free (err);
    //  Not a mapping; a missing file
    rc = s_attune ("[1, 2]\n", &out, &err, "rule", "create", "-", NULL);
    cr_assert_eq (rc, 1);
    s_assert_has (err, "mapping", "a list");
    free (out);
    free (err);
    rc = s_attune (NULL, &out, &err, "rule", "create", "/nonexistent/rule.yaml", NULL);
    cr_assert_eq (rc, 1);
    s_assert_has (err, "/nonexistent/rule.yaml", "missing file");
    free (out);
    free (err);
}

Test (cli, actions_list_and_get)
{
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "action", "list", NULL);
    cr_assert_eq (rc, 0, "%s", err);
    cr_assert_eq (strncmp (out, "REF", 3), 0, "%s", out);
    s_assert_has (out, "test.count", "action list");
    s_assert_has (out, "core.local", "action list");
    s_assert_has (out, "local-shell-cmd", "action list");
    free (out);
    free (err);
    json_t *list = s_json ("action", "list", "--pack", "test", NULL);
    cr_assert (s_items_have (list, "ref", "test.count"));
    cr_assert (!s_items_have (list, "ref", "core.local"));
    json_decref (list);

    rc = s_attune (NULL, &out, &err, "action", "get", "test.count", NULL);
    cr_assert_eq (rc, 0, "%s", err);
    s_assert_has (out, "test.count", "action get");
    s_assert_has (out, "noop", "action get");
    s_assert_has (out, "parameters:", "action get");
    s_assert_has (out, "NAME", "parameter table");
    //  The parameter's row: name, type, required
    char *row = strstr (out, "  n ");
    cr_assert_not_null (row, "no row for n:\n%s", out);
    char *end = strchr (row, '\n');
    *end = 0;
    s_assert_has (row, "integer", "row of n");
    s_assert_has (row, "yes", "row of n");
    s_assert_has (row, "How far.", "row of n");
    free (out);
    free (err);
    json_t *action = s_json ("action", "get", "core.local", NULL);
    cr_assert_str_eq (json_string_value (json_object_get (action, "ref")), "core.local");
    cr_assert (json_is_object (json_object_get (action, "parameters")));
    json_decref (action);

    rc = s_attune (NULL, &out, &err, "action", "get", "test.nothing", NULL);
    cr_assert_eq (rc, 1);
    s_assert_has (err, "attune: not_found: ", "unknown action");
    free (out);
    free (err);
}

Test (cli, execution_list_follows_pages_cut_by_bytes)
{
    //  60 executions with 30 KB parameters: 1.8 MB, several frames
    zsock_t *sock = testing_api_client (&s_daemon);
    char *text = (char *)malloc (30001);
    memset (text, 'p', 30000);
    text[30000] = 0;
    char ids[60][64];
    for (int i = 0; i < 60; i++) {
        json_t *run =
            testing_api_ok (sock, "api.execution.run",
                            json_pack ("{s:s, s:{s:i, s:s}}", "action", "test.count",
                                       "parameters", "n", i, "extra", text));
        snprintf (ids[i], sizeof ids[i], "%s",
                  json_string_value (json_object_get (run, "execution")));
        json_decref (run);
    }
    free (text);
    for (int i = 0; i < 60; i++)
        json_decref (testing_api_wait_status (sock, ids[i], "completed", 10000));
    zsock_destroy (&sock);

    //  The default limit lists them all, newest first, each once
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "execution", "list", NULL);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, err);
    const char *last = out;
    for (int i = 59; i >= 0; i--) {
        cr_assert_eq (s_count (out, ids[i]), 1, "execution %d listed once", i);
        cr_assert (strstr (out, ids[i]) > last, "execution %d in newest-first order", i);
        last = strstr (out, ids[i]);
    }
    s_assert_lacks (err, "more:", "a complete list");
    free (out);
    free (err);
    //  --limit across pages: exactly that many, and where the rest starts
    rc = s_attune (NULL, &out, &err, "execution", "list", "--limit", "45", NULL);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, err);
    cr_assert_eq (s_count (out, "test.count"), 45, "%s", out);
    s_assert_has (err, "(more: --before ", "more after the limit");
    s_assert_has (err, ids[15], "the next page starts below the 45th listed");
    free (out);
    free (err);
}

Test (cli, action_list_of_a_pack_of_3600_actions)
{
    testing_daemon_stop (&s_daemon);
    testing_daemon_write (&s_daemon, "big/pack.yaml",
                          "ref: big\nname: big\nversion: 1.0.0\n");
    char description[401];
    memset (description, 'd', 400);
    description[400] = 0;
    testing_daemon_write (&s_daemon, "big/actions/README", "3,600 actions\n");
    for (int i = 0; i < 3600; i++) {
        //  Written here: testing_daemon_write runs mkdir -p for each file
        char path[PATH_MAX + 64];
        snprintf (path, sizeof path, "%s/big/actions/a%04d.yaml", s_daemon.packs, i);
        FILE *file = fopen (path, "w");
        cr_assert_not_null (file, "cannot write %s", path);
        fprintf (file,
                 "name: a%04d\nrunner_type: noop\ndescription: %s\n"
                 "parameters:\n  n:\n    type: integer\n",
                 i, description);
        fclose (file);
    }
    testing_daemon_start (&s_daemon, NULL);
    char *out = NULL, *err = NULL;
    int rc = s_attune (NULL, &out, &err, "action", "list", "--pack", "big", NULL);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, err);
    cr_assert_eq (s_count (out, "big.a"), 3600, "every action listed once");
    cr_assert_eq (s_count (out, "big.a0000 "), 1);
    cr_assert_eq (s_count (out, "big.a3599 "), 1);
    free (out);
    free (err);
    //  Every pack: the big one, core and test
    rc = s_attune (NULL, &out, &err, "action", "list", NULL);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, err);
    cr_assert_eq (s_count (out, "big.a"), 3600);
    s_assert_has (out, "core.local", "action list");
    s_assert_has (out, "test.count", "action list");
    free (out);
    free (err);
}

Test (cli, event_publish_runs_the_rule_and_event_list)
{
    char *out = NULL, *err = NULL;
    int rc =
        s_attune (NULL, &out, &err, "event", "publish", "test.hook", "{\"n\": 5}", NULL);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, err);
    char event[PROTO_UUID_STR_SIZE];
    s_take_id (out, event);
    free (out);
    free (err);

    //  An execution of the rule, for this event, appears and completes
    int64_t deadline = zclock_mono () + 15000;
    json_t *found = NULL;
    while (!found && zclock_mono () < deadline) {
        json_t *list = s_json ("execution", "list", "--rule", "test.count", NULL);
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (list, "items"), i, item)
        {
            const char *of = json_string_value (json_object_get (item, "event"));
            const char *status = json_string_value (json_object_get (item, "status"));
            if (of && streq (of, event) && status && streq (status, "completed"))
                found = json_incref (item);
        }
        json_decref (list);
        if (!found)
            zclock_sleep (100);
    }
    cr_assert_not_null (found, "no completed execution of event %s", event);
    cr_assert_str_eq (json_string_value (json_object_get (found, "action")),
                      "test.count");
    json_t *execution = s_json ("execution", "get",
                                json_string_value (json_object_get (found, "id")), NULL);
    cr_assert_eq (json_integer_value (
                      json_object_get (json_object_get (execution, "parameters"), "n")),
                  5);
    cr_assert_str_eq (json_string_value (json_object_get (execution, "rule")),
                      "test.count");
    json_decref (execution);
    json_decref (found);

    rc = s_attune (NULL, &out, &err, "event", "list", NULL);
    cr_assert_eq (rc, 0, "%s", err);
    cr_assert_eq (strncmp (out, "ID", 2), 0, "%s", out);
    s_assert_has (out, event, "event list");
    s_assert_has (out, "test.hook", "event list");
    free (out);
    free (err);
    json_t *list =
        s_json ("event", "list", "--trigger", "test.hook", "--limit", "5", NULL);
    cr_assert (s_items_have (list, "event", event));
    json_decref (list);
    list = s_json ("event", "list", "--trigger", "core.st2.CronTimer", NULL);
    cr_assert (!s_items_have (list, "event", event));
    json_decref (list);
}

Test (cli, workers_and_status)
{
    char *out = NULL, *err = NULL;
    //  The worker registers shortly after start
    int64_t deadline = zclock_mono () + 10000;
    json_t *list = NULL;
    while (zclock_mono () < deadline) {
        list = s_json ("worker", "list", NULL);
        json_t *first = json_array_get (json_object_get (list, "items"), 0);
        if (json_is_true (json_object_get (first, "alive")))
            break;
        json_decref (list);
        list = NULL;
        zclock_sleep (100);
    }
    cr_assert_not_null (list, "no worker listed alive");
    json_t *worker = json_array_get (json_object_get (list, "items"), 0);
    cr_assert (json_is_true (json_object_get (worker, "alive")));
    const char *name = json_string_value (json_object_get (worker, "worker"));
    cr_assert_not_null (name);
    int rc = s_attune (NULL, &out, &err, "worker", "list", NULL);
    cr_assert_eq (rc, 0, "%s", err);
    cr_assert_eq (strncmp (out, "WORKER", 6), 0, "%s", out);
    s_assert_has (out, name, "worker list");
    s_assert_has (out, "yes", "worker list");
    s_assert_has (out, "local-shell-cmd", "worker list");
    free (out);
    free (err);
    json_decref (list);

    rc = s_attune (NULL, &out, &err, "status", NULL);
    cr_assert_eq (rc, 0, "%s", err);
    s_assert_has (out, "registry", "status");
    s_assert_has (out, "rules", "status");
    s_assert_has (out, "executor", "status");
    s_assert_has (out, "requests=", "status");
    s_assert_lacks (out, "  no  ", "status: an actor down");
    free (out);
    free (err);
    json_t *status = s_json ("status", NULL);
    json_t *actors = json_object_get (status, "actors");
    const char *names[] = {"registry", "rules", "executor"};
    for (size_t i = 0; i < 3; i++)
        cr_assert (
            json_is_true (json_object_get (json_object_get (actors, names[i]), "up")),
            "%s is not up", names[i]);
    json_decref (status);
}
