/*  worker_process: spawning, stdin, capture caps, timeouts, process groups,
    and parameters that stay data. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "actors/worker/worker_process.h"

extern char **environ;

static worker_process_t *
s_run (char *const argv[], char *const envp[], const char *input, int64_t timeout_ms,
       int64_t grace_ms, size_t cap)
{
    worker_process_spec_t spec = {.argv = argv,
                                  .envp = envp ? envp : environ,
                                  .input = input,
                                  .input_size = input ? strlen (input) : 0,
                                  .timeout_ms = timeout_ms,
                                  .kill_grace_ms = grace_ms,
                                  .output_cap = cap};
    char message[256] = "";
    worker_process_t *process = worker_process_run (&spec, message, sizeof message);
    cr_assert_not_null (process, "%s", message);
    return process;
}

Test (worker_process, echo_and_exit_code)
{
    char *argv[] = {"/bin/sh", "-c", "echo hello; echo oops >&2; exit 3", NULL};
    worker_process_t *p = s_run (argv, NULL, NULL, 0, 0, 0);
    const worker_result_t *r = worker_process_result (p);
    cr_expect (r->exited);
    cr_expect_eq (r->exit_code, 3);
    cr_expect_str_eq (r->out, "hello\n");
    cr_expect_str_eq (r->err, "oops\n");
    cr_expect_not (r->timed_out);
    worker_process_destroy (&p);
    cr_expect_null (p);
}

Test (worker_process, parameters_on_stdin_and_in_environment)
{
    char *argv[] = {"/bin/sh", "-c", "cat; printf '|%s' \"$ATTUNE_PARAM_NAME\"", NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", "ATTUNE_PARAM_NAME=web 1", NULL};
    worker_process_t *p = s_run (argv, envp, "{\"name\": \"web 1\"}", 0, 0, 0);
    cr_expect_str_eq (worker_process_result (p)->out, "{\"name\": \"web 1\"}|web 1");
    worker_process_destroy (&p);
}

Test (worker_process, hostile_parameter_is_only_data)
{
    char dir[] = "/tmp/attune-inject-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char file[64], value[512], env[600];
    snprintf (file, sizeof file, "%s/PWNED", dir);
    snprintf (value, sizeof value,
              "$(touch %s) `touch %s`; touch %s\ntouch %s | touch %s && x", file, file,
              file, file, file);
    snprintf (env, sizeof env, "ATTUNE_PARAM_MESSAGE=%s", value);
    //  The action author's command uses the parameter, quoted, as data
    char *argv[] = {"/bin/sh", "-c", "printf '%s' \"$ATTUNE_PARAM_MESSAGE\"", NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", env, NULL};
    worker_process_t *p = s_run (argv, envp, value, 0, 0, 0);
    cr_expect_str_eq (worker_process_result (p)->out, value);
    struct stat st;
    cr_expect_neq (stat (file, &st), 0, "the parameter was executed: %s exists", file);
    worker_process_destroy (&p);
    rmdir (dir);
}

Test (worker_process, timeout_terminates_the_whole_group)
{
    //  A background grandchild in the same group must die too.
    char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo $!; sleep 30", NULL};
    worker_process_t *p = s_run (argv, NULL, NULL, 300, 500, 0);
    const worker_result_t *r = worker_process_result (p);
    cr_expect (r->timed_out);
    cr_expect_not (r->exited);
    cr_expect_eq (r->signal, SIGTERM);
    cr_expect_lt (r->duration_us, 2000000);
    pid_t child = (pid_t)atoi (r->out);
    cr_assert_gt (child, 0, "no background pid in '%s'", r->out);
    //  Give the kernel a moment to deliver; poll rather than sleep blindly
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        char path[64];
        snprintf (path, sizeof path, "/proc/%d/stat", child);
        FILE *f = fopen (path, "r");
        if (!f)
            gone = true;
        else {
            char state = 0;
            int ignored = fscanf (f, "%*d %*s %c", &state);
            (void)ignored;
            fclose (f);
            gone = state == 'Z' || state == 'X';
            if (!gone)
                usleep (10000);
        }
    }
    cr_expect (gone, "background process %d survived the timeout", child);
    worker_process_destroy (&p);
}

Test (worker_process, sigterm_ignored_gets_sigkill)
{
    char *argv[] = {"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.05; done", NULL};
    worker_process_t *p = s_run (argv, NULL, NULL, 200, 200, 0);
    const worker_result_t *r = worker_process_result (p);
    cr_expect (r->timed_out);
    cr_expect_eq (r->signal, SIGKILL);
    cr_expect_lt (r->duration_us, 3000000);
    worker_process_destroy (&p);
}

Test (worker_process, output_capped_and_flagged)
{
    char *argv[] = {"/bin/sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x", NULL};
    worker_process_t *p = s_run (argv, NULL, NULL, 0, 0, 1000);
    const worker_result_t *r = worker_process_result (p);
    cr_expect_eq (r->out_size, 1000);
    cr_expect (r->out_truncated);
    cr_expect_eq (r->exit_code, 0);
    cr_expect_eq (strlen (r->out), 1000);
    worker_process_destroy (&p);
}

Test (worker_process, unread_large_input_does_not_hang)
{
    char *input = (char *)malloc (4 * 1024 * 1024 + 1);
    memset (input, 'a', 4 * 1024 * 1024);
    input[4 * 1024 * 1024] = 0;
    char *argv[] = {"/bin/true", NULL};
    worker_process_t *p = s_run (argv, NULL, input, 5000, 0, 0);
    cr_expect (worker_process_result (p)->exited);
    cr_expect_eq (worker_process_result (p)->exit_code, 0);
    worker_process_destroy (&p);
    free (input);
}

Test (worker_process, inherited_descriptors_are_closed)
{
    int fd = open ("/dev/null", O_RDONLY); //  not close-on-exec
    cr_assert (fd >= 0);
    cr_assert_eq (dup2 (fd, 42), 42);
    char *argv[] = {"/bin/sh", "-c",
                    "test -e /proc/self/fd/42 && echo open || echo closed", NULL};
    worker_process_t *p = s_run (argv, NULL, NULL, 0, 0, 0);
    cr_expect_str_eq (worker_process_result (p)->out, "closed\n");
    worker_process_destroy (&p);
    close (42);
    close (fd);
}

Test (worker_process, cancel_and_missing_program)
{
    char *argv[] = {"/bin/sleep", "30", NULL};
    worker_process_spec_t spec = {.argv = argv, .envp = environ};
    char message[256] = "";
    worker_process_t *p = worker_process_start (&spec, message, sizeof message);
    cr_assert_not_null (p, "%s", message);
    cr_expect_gt (worker_process_pid (p), 0);
    worker_process_cancel (p);
    while (!worker_process_poll (p))
        usleep (5000);
    cr_expect (worker_process_result (p)->cancelled);
    cr_expect_not (worker_process_result (p)->timed_out);
    worker_process_destroy (&p);

    char *missing[] = {"/nonexistent/program", NULL};
    spec.argv = missing;
    cr_expect_null (worker_process_start (&spec, message, sizeof message));
    cr_expect (strstr (message, "/nonexistent/program") != NULL, "%s", message);
    char *unknown[] = {"no-such-command-attune", NULL};
    spec.argv = unknown;
    cr_expect_null (worker_process_start (&spec, message, sizeof message));
}

//  Whether `pid` runs (exists and is not a zombie waiting for init).
static bool
s_alive (pid_t pid)
{
    char path[64], text[512];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    size_t n = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text[n] = 0;
    const char *paren = strrchr (text, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

//  A process started by a process that is then SIGKILLed dies with it
//  (the parent-death signal), and it led a group of its own.
Test (worker_process, dies_with_its_parent)
{
    int fds[2];
    cr_assert_eq (pipe (fds), 0);
    pid_t helper = fork ();
    cr_assert_geq (helper, 0);
    if (helper == 0) {
        char *argv[] = {"/bin/sleep", "60", NULL};
        worker_process_spec_t spec = {.argv = argv, .envp = environ};
        char message[256] = "";
        worker_process_t *p = worker_process_start (&spec, message, sizeof message);
        pid_t pid = p ? worker_process_pid (p) : -1;
        if (write (fds[1], &pid, sizeof pid) != sizeof pid)
            _exit (1);
        pause ();
        _exit (0);
    }
    pid_t pid = 0;
    cr_assert_eq (read (fds[0], &pid, sizeof pid), (ssize_t)sizeof pid);
    close (fds[0]);
    close (fds[1]);
    cr_assert_gt (pid, 0);
    cr_expect (s_alive (pid));
    cr_expect_eq (getpgid (pid), pid, "the action leads its own process group");
    kill (helper, SIGKILL);
    waitpid (helper, NULL, 0);
    bool gone = false;
    for (int i = 0; i < 500 && !gone; i++) {
        gone = !s_alive (pid);
        if (!gone)
            usleep (10000);
    }
    if (!gone)
        kill (pid, SIGKILL);
    cr_expect (gone, "the action process %d outlived its parent by 5 s", (int)pid);
}

//  The child's own failures (a working directory that is not there) come
//  back as a message, as exec failures do.
Test (worker_process, missing_cwd_is_an_error)
{
    char *argv[] = {"/bin/true", NULL};
    worker_process_spec_t spec = {
        .argv = argv, .envp = environ, .cwd = "/nonexistent/attune-dir"};
    char message[256] = "";
    worker_process_t *p = worker_process_start (&spec, message, sizeof message);
    cr_expect_null (p);
    cr_expect (strstr (message, "No such file") != NULL, "%s", message);
    worker_process_destroy (&p);
}
