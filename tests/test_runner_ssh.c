/*  test_runner_ssh: remote-shell-cmd and remote-shell-script
    (worker_ssh.h) against a real sshd started here on a loopback port with
    a temporary host key, a temporary client key and its own known_hosts.
    sshd runs only as root: as another user, or without
    /usr/sbin/sshd (Debian's openssh-server), every test is skipped.
*/
#include <criterion/criterion.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "actors/worker/worker_ssh.h"
#include "actors/worker/worker_task.h"
#include "testing.h"
#include "testing_sshd.h"

#define S_SSHD TESTING_SSHD

static testing_sshd_t s_server; //  port, dir, key (the client's), known (hosts)
static bool s_skip;

//  The first line of a file (a public key), without its newline.
static void
s_read_line (const char *path, char *out, size_t size)
{
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "%s", path);
    cr_assert_not_null (fgets (out, (int)size, file));
    fclose (file);
    out[strcspn (out, "\n")] = 0;
}

static void
s_run_command (const char *command)
{
    cr_assert_eq (system (command), 0, "%s", command);
}

static void
s_setup (void)
{
    s_skip = testing_sshd_start (&s_server) != 0;
    if (s_skip)
        return;
    char command[128];
    snprintf (command, sizeof command, "mkdir -p %s/remote", s_server.dir);
    s_run_command (command);
}

static void
s_teardown (void)
{
    testing_sshd_stop (&s_server);
}

TestSuite (runner_ssh, .init = s_setup, .fini = s_teardown, .timeout = 60);

#define S_NEED_SSHD                                                                      \
    if (s_skip)                                                                          \
    cr_skip_test ("needs root and %s (openssh-server) to start a test sshd", S_SSHD)

//  The runner on `parameters` (taken; hosts, port, username, private_key and
//  known_hosts added when missing) with `action` (taken, may be NULL).
static json_t *
s_run (const char *runner, json_t *parameters, json_t *action, const char **status)
{
    if (!json_object_get (parameters, "hosts"))
        json_object_set_new (parameters, "hosts", json_string ("127.0.0.1"));
    if (!json_object_get (parameters, "port"))
        json_object_set_new (parameters, "port", json_integer (s_server.port));
    json_object_set_new (parameters, "username", json_string ("root"));
    if (!json_object_get (parameters, "private_key"))
        json_object_set_new (parameters, "private_key", json_string (s_server.key));
    if (!json_object_get (parameters, "known_hosts"))
        json_object_set_new (parameters, "known_hosts", json_string (s_server.known));
    if (!action)
        action = json_object ();
    json_object_set_new (action, "runner_type", json_string (runner));
    json_t *result = worker_ssh_run (NULL, parameters, action, status);
    json_decref (parameters);
    json_decref (action);
    cr_assert_not_null (result);
    return result;
}

static const char *
s_field (json_t *result, const char *host, const char *field)
{
    return json_string_value (json_object_get (json_object_get (result, host), field));
}

Test (runner_ssh, a_command_runs_on_every_host_with_stdout_stderr_and_code)
{
    S_NEED_SSHD;
    const char *status;
    json_t *result =
        s_run ("remote-shell-cmd",
               json_pack ("{s:s, s:s}", "hosts", "127.0.0.1, localhost", "cmd",
                          "echo out; echo err >&2; echo \"$SSH_CONNECTION\" | wc -l"),
               NULL, &status);
    cr_assert_str_eq (status, "completed", "%s", json_dumps (result, 0));
    cr_assert_eq (json_object_size (result), 2);
    const char *hosts[] = {"127.0.0.1", "localhost"};
    for (int i = 0; i < 2; i++) {
        json_t *host = json_object_get (result, hosts[i]);
        cr_assert (json_is_true (json_object_get (host, "succeeded")), "%s", hosts[i]);
        cr_assert (json_is_false (json_object_get (host, "failed")));
        cr_assert_eq (json_integer_value (json_object_get (host, "return_code")), 0);
        cr_assert_str_eq (s_field (result, hosts[i], "stdout"), "out\n1");
        cr_assert_str_eq (s_field (result, hosts[i], "stderr"), "err");
    }
    json_decref (result);
}

Test (runner_ssh, env_and_cwd_are_data_not_shell_and_json_stdout_is_parsed)
{
    S_NEED_SSHD;
    const char *status;
    char marker[160], cwd[160];
    snprintf (marker, sizeof marker, "%s/pwned", s_server.dir);
    snprintf (cwd, sizeof cwd, "%s/remote", s_server.dir);
    char *value =
        zsys_sprintf ("a 'b' $(touch %s) `touch %s`; touch %s", marker, marker, marker);
    json_t *result = s_run ("remote-shell-cmd",
                            json_pack ("{s:s, s:{s:s}, s:s, s:b}", "cmd",
                                       "printf '%s\\n' \"$GREETING\"; pwd", "env",
                                       "GREETING", value, "cwd", cwd, "parallel", 0),
                            NULL, &status);
    cr_assert_str_eq (status, "completed", "%s", json_dumps (result, 0));
    char *expected = zsys_sprintf ("%s\n%s", value, cwd);
    cr_assert_str_eq (s_field (result, "127.0.0.1", "stdout"), expected);
    cr_assert_neq (access (marker, F_OK), 0, "nothing in the value ran");
    free (expected);
    free (value);
    json_decref (result);

    //  A cwd that does not exist: nothing runs
    result = s_run ("remote-shell-cmd",
                    json_pack ("{s:s, s:s}", "cmd", "touch ran", "cwd", "/nonexistent"),
                    NULL, &status);
    cr_assert_str_eq (status, "failed");
    cr_assert_eq (json_integer_value (json_object_get (
                      json_object_get (result, "127.0.0.1"), "return_code")),
                  1);
    json_decref (result);

    result = s_run ("remote-shell-cmd",
                    json_pack ("{s:s}", "cmd", "echo '{\"k\": [1, 2]}'"), NULL, &status);
    cr_assert_str_eq (status, "completed");
    json_t *out = json_object_get (json_object_get (result, "127.0.0.1"), "stdout");
    cr_assert_eq (json_array_size (json_object_get (out, "k")), 2);
    json_decref (result);
}

Test (runner_ssh, a_failing_host_fails_the_action)
{
    S_NEED_SSHD;
    const char *status;
    json_t *result =
        s_run ("remote-shell-cmd",
               json_pack ("{s:s, s:s}", "hosts", "127.0.0.1,localhost", "cmd",
                          "[ \"$(hostname)\" ] && echo no >&2 && exit 3"),
               NULL, &status);
    cr_assert_str_eq (status, "failed");
    json_t *host = json_object_get (result, "localhost");
    cr_assert_eq (json_integer_value (json_object_get (host, "return_code")), 3);
    cr_assert (json_is_true (json_object_get (host, "failed")));
    cr_assert (json_is_false (json_object_get (host, "succeeded")));
    cr_assert_str_eq (s_field (result, "localhost", "stderr"), "no");
    json_decref (result);

    result = s_run ("remote-shell-cmd",
                    json_pack ("{s:s, s:s}", "cmd", "true", "bastion_host", "jump"), NULL,
                    &status);
    cr_assert_str_eq (status, "failed");
    const char *error = s_field (result, "127.0.0.1", "error");
    cr_assert (error && strstr (error, "bastion_host jump"), "%s", error);
    json_decref (result);
}

Test (runner_ssh, past_its_timeout_a_host_is_stopped)
{
    S_NEED_SSHD;
    const char *status;
    int64_t start = zclock_mono ();
    json_t *result =
        s_run ("remote-shell-cmd",
               json_pack ("{s:s, s:i}", "cmd", "echo started; sleep 20", "timeout", 5),
               NULL, &status);
    cr_assert_str_eq (status, "timeout", "%s", json_dumps (result, 0));
    cr_assert_lt (zclock_mono () - start, 20000);
    json_t *host = json_object_get (result, "127.0.0.1");
    cr_assert (json_is_true (json_object_get (host, "timeout")));
    cr_assert (json_is_true (json_object_get (host, "failed")));
    cr_assert_str_eq (s_field (result, "127.0.0.1", "stdout"), "started");
    json_decref (result);
}

Test (runner_ssh, an_unknown_or_changed_host_key_is_refused)
{
    S_NEED_SSHD;
    const char *status;
    char path[160];
    snprintf (path, sizeof path, "%s/empty_known_hosts", s_server.dir);
    testing_sshd_write (path, "");
    json_t *result = s_run (
        "remote-shell-cmd",
        json_pack ("{s:s, s:s}", "cmd", "touch /tmp/should-not-run", "known_hosts", path),
        NULL, &status);
    cr_assert_str_eq (status, "failed");
    const char *error = s_field (result, "127.0.0.1", "error");
    cr_assert (error && strstr (error, "not in") && strstr (error, "refusing"), "%s",
               error);
    json_decref (result);

    //  Another key under the server's name
    char line[600], key[512], command[300];
    snprintf (command, sizeof command, "ssh-keygen -q -t ed25519 -N '' -f %s/other_key",
              s_server.dir);
    s_run_command (command);
    snprintf (path, sizeof path, "%s/other_key.pub", s_server.dir);
    s_read_line (path, key, sizeof key);
    snprintf (line, sizeof line, "[127.0.0.1]:%d %s\n", s_server.port, key);
    snprintf (path, sizeof path, "%s/wrong_known_hosts", s_server.dir);
    testing_sshd_write (path, line);
    result = s_run ("remote-shell-cmd",
                    json_pack ("{s:s, s:s}", "cmd", "true", "known_hosts", path), NULL,
                    &status);
    cr_assert_str_eq (status, "failed");
    error = s_field (result, "127.0.0.1", "error");
    cr_assert (error && strstr (error, "differs"), "%s", error);
    json_decref (result);
}

Test (runner_ssh, a_key_given_as_text_authenticates_and_a_wrong_one_does_not)
{
    S_NEED_SSHD;
    char *text = NULL;
    size_t size = 0;
    FILE *file = fopen (s_server.key, "r");
    cr_assert_eq (getdelim (&text, &size, 0, file) > 0, true);
    fclose (file);
    const char *status;
    json_t *result = s_run (
        "remote-shell-cmd",
        json_pack ("{s:s, s:s}", "cmd", "echo hi", "private_key", text), NULL, &status);
    cr_assert_str_eq (status, "completed", "%s", json_dumps (result, 0));
    json_decref (result);
    free (text);
    char other[160];
    snprintf (other, sizeof other, "%s/host_key", s_server.dir); //  not authorized
    result = s_run ("remote-shell-cmd",
                    json_pack ("{s:s, s:s}", "cmd", "echo hi", "private_key", other),
                    NULL, &status);
    cr_assert_str_eq (status, "failed");
    cr_assert (strstr (s_field (result, "127.0.0.1", "error"), "authentication failed"));
    json_decref (result);
}

Test (runner_ssh, a_script_is_copied_run_with_its_arguments_and_removed)
{
    S_NEED_SSHD;
    char path[200], remote[160], command[300];
    snprintf (command, sizeof command, "mkdir -p %s/pack/actions", s_server.dir);
    s_run_command (command);
    snprintf (path, sizeof path, "%s/pack/actions/show.sh", s_server.dir);
    testing_sshd_write (path, "#!/bin/sh\nprintf '%s|' \"$@\"\necho\nbasename \"$0\"\n");
    snprintf (path, sizeof path, "%s/pack", s_server.dir);
    snprintf (remote, sizeof remote, "%s/remote", s_server.dir);
    json_t *action = json_pack ("{s:s, s:s, s:{s:{s:i}, s:{s:i}}}", "entry_point",
                                "show.sh", "pack_dir", path, "parameters", "second",
                                "position", 1, "first", "position", 0);
    const char *status;
    json_t *result =
        s_run ("remote-shell-script",
               json_pack ("{s:s, s:s, s:s, s:s, s:s}", "second", "c'd $(x)", "first",
                          "a b", "named", "x; y", "dir", remote, "cwd", "/"),
               action, &status);
    cr_assert_str_eq (status, "completed", "%s", json_dumps (result, 0));
    cr_assert_str_eq (s_field (result, "127.0.0.1", "stdout"),
                      "--named=x; y|a b|c'd $(x)|\nshow.sh"); //  StackStorm's order
    //  Its temporary directory is gone
    snprintf (command, sizeof command, "[ -z \"$(ls -A %s)\" ]", remote);
    s_run_command (command);
    json_decref (result);

    action = json_pack ("{s:s, s:s}", "entry_point", "missing.sh", "pack_dir", path);
    result = s_run ("remote-shell-script", json_object (), action, &status);
    cr_assert_str_eq (status, "failed");
    cr_assert (
        strstr (json_string_value (json_object_get (result, "error")), "missing.sh"));
    json_decref (result);
}

Test (runner_ssh, a_refused_password_fails_and_never_appears_in_the_result)
{
    S_NEED_SSHD;
    const char *status;
    json_t *parameters =
        json_pack ("{s:s, s:s}", "cmd", "true", "password", "hunter2-secret");
    json_object_set_new (parameters, "private_key", json_string (""));
    json_t *result = s_run ("remote-shell-cmd", parameters, NULL, &status);
    cr_assert_str_eq (status, "failed");
    char *text = json_dumps (result, 0);
    cr_assert (strstr (text, "authentication failed"), "%s", text);
    cr_assert_null (strstr (text, "hunter2"), "%s", text);
    free (text);
    json_decref (result);
}

//  Whether a process whose command line matches `pattern` runs here (the
//  test's sshd is on this host; a pattern such as "x[y]" does not match
//  the shell that runs pgrep)
static bool
s_running (const char *pattern)
{
    char command[256];
    snprintf (command, sizeof command, "pgrep -f '%s' > /dev/null", pattern);
    return system (command) == 0;
}

Test (runner_ssh, a_silent_command_is_stopped_and_killed_at_its_timeout)
{
    S_NEED_SSHD;
    const char *status;
    int64_t start = zclock_mono ();
    json_t *result =
        s_run ("remote-shell-cmd",
               json_pack ("{s:s, s:i}", "cmd", "sleep 31337; echo never", "timeout", 2),
               NULL, &status);
    cr_assert_str_eq (status, "timeout", "%s", json_dumps (result, 0));
    cr_assert_lt (zclock_mono () - start, 10000);
    json_t *host = json_object_get (result, "127.0.0.1");
    cr_assert (json_is_true (json_object_get (host, "timeout")));
    cr_assert_eq (json_integer_value (json_object_get (host, "return_code")), -9);
    //  the remote command is gone too, not left running
    bool gone = false;
    for (int i = 0; i < 100 && !(gone = !s_running ("sleep 3133[7]")); i++)
        usleep (50000);
    cr_assert (gone, "the remote command still runs after the timeout");
    json_decref (result);
}

//  A second sshd on another port, with the same keys, whose config adds
//  `extra` lines; its host key added to known_hosts. Its pid.
static pid_t
s_second_sshd (int port, const char *extra)
{
    char path[160], config[1024];
    snprintf (config, sizeof config,
              "Port %d\nListenAddress 127.0.0.1\nHostKey %s/host_key\n"
              "AuthorizedKeysFile %s/authorized_keys\nStrictModes no\nUsePAM no\n"
              "PermitRootLogin yes\nPasswordAuthentication no\nPidFile %s/sshd2.pid\n"
              "LogLevel FATAL\n%s",
              port, s_server.dir, s_server.dir, s_server.dir, extra);
    snprintf (path, sizeof path, "%s/sshd2_config", s_server.dir);
    testing_sshd_write (path, config);
    char command[512];
    snprintf (command, sizeof command,
              "printf '[127.0.0.1]:%d %%s\\n' \"$(cat %s/host_key.pub)\" >> %s", port,
              s_server.dir, s_server.known);
    s_run_command (command);
    pid_t pid = fork ();
    if (pid == 0) {
        execl (S_SSHD, S_SSHD, "-D", "-e", "-f", path, (char *)NULL);
        _exit (127);
    }
    bool up = false;
    for (int i = 0; i < 200 && !(up = testing_sshd_listening (port)); i++)
        usleep (25000);
    cr_assert (up, "the second sshd listens on %d", port);
    return pid;
}

Test (runner_ssh, bastion_host_reaches_the_hosts_through_a_tunnel)
{
    S_NEED_SSHD;
    //  the bastion lets its tunnels reach the test sshd as 127.0.0.1 only:
    //  "localhost" (which the worker itself can reach) fails through it
    int port = testing_free_port ();
    char extra[128], bastion[64];
    snprintf (extra, sizeof extra, "AllowTcpForwarding yes\nPermitOpen 127.0.0.1:%d\n",
              s_server.port);
    pid_t pid = s_second_sshd (port, extra);
    snprintf (bastion, sizeof bastion, "127.0.0.1:%d", port);
    const char *status;
    json_t *result =
        s_run ("remote-shell-cmd",
               json_pack ("{s:s, s:s, s:s}", "cmd", "echo through; echo err >&2",
                          "bastion_host", bastion, "hosts", "127.0.0.1"),
               NULL, &status);
    cr_assert_str_eq (status, "completed", "%s", json_dumps (result, 0));
    cr_assert_str_eq (s_field (result, "127.0.0.1", "stdout"), "through");
    cr_assert_str_eq (s_field (result, "127.0.0.1", "stderr"), "err");
    json_decref (result);
    result = s_run ("remote-shell-cmd",
                    json_pack ("{s:s, s:s, s:s}", "cmd", "echo direct", "bastion_host",
                               bastion, "hosts", "localhost"),
                    NULL, &status);
    cr_assert_str_eq (status, "failed", "%s", json_dumps (result, 0));
    const char *error = s_field (result, "localhost", "error");
    cr_assert (error && strstr (error, "bastion_host"), "%s", error);
    json_decref (result);
    //  an unreachable bastion fails the host, naming the bastion
    snprintf (bastion, sizeof bastion, "127.0.0.1:%d", testing_free_port ());
    result = s_run ("remote-shell-cmd",
                    json_pack ("{s:s, s:s}", "cmd", "echo x", "bastion_host", bastion),
                    NULL, &status);
    cr_assert_str_eq (status, "failed");
    error = s_field (result, "127.0.0.1", "error");
    cr_assert (error && strstr (error, "bastion_host 127.0.0.1"), "%s", error);
    json_decref (result);
    kill (pid, SIGTERM);
    waitpid (pid, NULL, 0);
}

//  Live output (issue 21): a remote command run as a worker task streams
//  what it prints while it runs, without the pid line of its tracking.
Test (runner_ssh, a_task_streams_its_output_as_it_runs)
{
    S_NEED_SSHD;
    zsock_t *done = zsock_new_pull ("inproc://test_runner_ssh_done");
    cr_assert_not_null (done);
    json_t *parameters = json_pack (
        "{s:s, s:i, s:s, s:s, s:s, s:s}", "hosts", "127.0.0.1", "port", s_server.port,
        "username", "root", "private_key", s_server.key, "known_hosts", s_server.known,
        "cmd", "echo first; sleep 0.5; echo second >&2; sleep 0.5; echo third");
    json_t *action = json_pack ("{s:s}", "runner_type", "remote-shell-cmd");
    worker_output_t *output = worker_output_new ("e1", "w", 1 << 20);
    worker_task_t *task =
        worker_task_start (worker_ssh_run, &parameters, &action,
                           "inproc://test_runner_ssh_done", "e1", &output);
    cr_assert_not_null (task);
    cr_assert_null (output, "the task took the output");
    //  Chunks as they come: "first" before the command ended
    char out[256] = "", err[256] = "";
    bool before_end = false;
    zpoller_t *poller = zpoller_new (done, NULL);
    int64_t deadline = zclock_mono () + 20000;
    bool ended = false;
    while (!ended && zclock_mono () < deadline) {
        ended = zpoller_wait (poller, 20) != NULL;
        json_t *chunk;
        while ((chunk = worker_task_output_take (task, zclock_mono (), ended))) {
            const char *data = json_string_value (json_object_get (chunk, "data"));
            const char *stream = json_string_value (json_object_get (chunk, "stream"));
            strncat (streq (stream, "stdout") ? out : err, data, 100);
            before_end = before_end || (!ended && strstr (out, "first"));
            json_decref (chunk);
        }
    }
    cr_assert (ended, "the task did not end");
    char *id = zstr_recv (done);
    zstr_free (&id);
    cr_assert_str_eq (out, "first\nthird\n");
    cr_assert_str_eq (err, "second\n");
    cr_assert (before_end, "no output before the end");
    const char *status = NULL;
    json_t *result = worker_task_take (task, &status);
    cr_assert_str_eq (status, "completed");
    cr_assert_str_eq (s_field (result, "127.0.0.1", "stdout"), "first\nthird");
    json_decref (result);
    worker_task_destroy (&task);
    zpoller_destroy (&poller);
    zsock_destroy (&done);
}
