/*  test_client_python: deploy/examples/client.py, the Python client that
    uses nothing but Debian's python3-zmq and python3-msgpack, against a live
    attuned: it publishes an event of test.hook, and the rule test.count runs
    test.count with n from the payload; the client waits for the execution's
    completion fact.

    The interpreter is $ATTUNE_PYTHON, else /usr/bin/python3 (Debian's, where
    deploy/setup.sh installs the two packages). A missing module fails the
    suite: it does not skip.
*/
#include "tests/testing_daemon.h"

#define S_CLIENT ATTUNE_SOURCE_DIR "/deploy/examples/client.py"

static testing_daemon_t s_daemon;

static const char *
s_python (void)
{
    const char *python = getenv ("ATTUNE_PYTHON");
    return python && *python ? python : "/usr/bin/python3";
}

//  The interpreter runs and has both modules (asserts, with what to do).
static void
s_check_python (void)
{
    const char *argv[] = {s_python (), "-c", "import zmq, msgpack", NULL};
    char *err = NULL;
    int rc = testing_run (argv, NULL, NULL, &err, 20000);
    cr_assert_eq (rc, 0,
                  "%s cannot import zmq and msgpack (exit %d): %s\n"
                  "install python3-zmq and python3-msgpack (deploy/setup.sh deps)",
                  s_python (), rc, err);
    free (err);
}

static void
s_setup (void)
{
    testing_daemon_init (&s_daemon, "test_client_python");
    testing_daemon_write (&s_daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (&s_daemon, "test/triggers/hook.yaml",
                          "name: hook\npack: test\n");
    testing_daemon_write (&s_daemon, "test/triggers/quiet.yaml",
                          "name: quiet\npack: test\n");
    testing_daemon_write (&s_daemon, "test/actions/count.yaml",
                          "name: count\nrunner_type: noop\nparameters:\n"
                          "  n:\n    type: integer\n    required: true\n");
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

//  Run client.py with the arguments after the script (NULL-terminated).
static int
s_client (char **out_p, char **err_p, const char *const *args)
{
    const char *argv[16] = {s_python (), S_CLIENT};
    int argc = 2;
    for (int i = 0; args[i] && argc < 15; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    return testing_run (argv, NULL, out_p, err_p, 60000);
}
#define s_run_client(out_p, err_p, ...)                                                  \
    s_client (out_p, err_p, (const char *const[]){__VA_ARGS__})

TestSuite (client_python, .init = s_setup, .fini = s_teardown, .timeout = 120);

Test (client_python, event_to_completion)
{
    s_check_python ();
    char *out = NULL, *err = NULL;
    int rc =
        s_run_client (&out, &err, "--api", s_daemon.api, "test.hook", "{\"n\": 7}", NULL);
    cr_assert_eq (rc, 0, "client.py exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    cr_assert_not_null (strstr (out, "published"), "%s", out);
    //  "execution <id> (test.count) completed", then the result
    cr_assert_not_null (strstr (out, "(test.count) completed"), "no completion in:\n%s",
                        out);
    //  The execution it waited for had n = 7 from the payload
    char *line = strstr (out, "(test.count) completed");
    while (line > out && line[-1] != '\n')
        line--;
    cr_assert_eq (strncmp (line, "execution ", 10), 0, "%s", out);
    char id[37] = "";
    memcpy (id, line + 10, 36);
    const char *argv[] = {ATTUNE_HELPER_DIR "/attune",
                          "--api",
                          s_daemon.api,
                          "--json",
                          "execution",
                          "get",
                          id,
                          NULL};
    char *cli = NULL;
    cr_assert_eq (testing_run (argv, NULL, &cli, NULL, 20000), 0, "no execution %s", id);
    cr_assert_not_null (strstr (cli, "\"n\": 7"), "%s", cli);
    free (cli);
    free (out);
    free (err);
}

Test (client_python, failures_are_bounded_and_reported)
{
    s_check_python ();
    char *out = NULL, *err = NULL;
    //  An event no rule takes: no execution, the client gives up in time
    int64_t start = zclock_mono ();
    int rc = s_run_client (&out, &err, "--api", s_daemon.api, "--timeout", "2",
                           "test.quiet", "{}", NULL);
    cr_assert_eq (rc, 1, "exit %d\n%s\n%s", rc, out, err);
    cr_assert_lt (zclock_mono () - start, 15000);
    cr_assert_not_null (strstr (err, "no execution"), "%s", err);
    free (out);
    free (err);
    //  No api there
    rc = s_run_client (&out, &err, "--api", "tcp://127.0.0.1:9", "--timeout", "2",
                       "test.hook", "{}", NULL);
    cr_assert_eq (rc, 1, "exit %d\n%s", rc, err);
    cr_assert_not_null (strstr (err, "unavailable"), "%s", err);
    free (out);
    free (err);
    //  Bad arguments
    rc = s_run_client (&out, &err, "--api", s_daemon.api, "test.hook", "[1]", NULL);
    cr_assert_eq (rc, 2, "exit %d\n%s", rc, err);
    cr_assert_not_null (strstr (err, "object"), "%s", err);
    free (out);
    free (err);
}

Test (client_python, lost_facts_are_caught_up_from_the_executor)
{
    //  The client drops every execution fact it receives: only the
    //  heartbeat's sequence number shows the loss, and api.execution.changes
    //  (PROTOCOL.md, "Resynchronising after a gap") gives the outcome
    s_check_python ();
    char *out = NULL, *err = NULL;
    int rc = s_run_client (&out, &err, "--api", s_daemon.api, "--lose-facts", "test.hook",
                           "{\"n\": 9}", NULL);
    cr_assert_eq (rc, 0, "client.py exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    cr_assert_not_null (strstr (err, "lost: catching up"), "no gap seen:\n%s", err);
    cr_assert_not_null (strstr (out, "(test.count) completed"), "%s", out);
    free (out);
    free (err);
}
