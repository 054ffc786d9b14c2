/*  pack_venv: programs for pack management, and a pack's virtualenv. See
    pack_venv.h.
*/
#include "actors/pack/pack_venv.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

//  Keep the tail of the output: append `data`, dropping the oldest bytes.
static void
s_keep (char *output, size_t size, size_t *used, const char *data, size_t n)
{
    if (!output || size < 2)
        return;
    size_t room = size - 1;
    if (n >= room) {
        memcpy (output, data + n - room, room);
        *used = room;
    } else {
        if (*used + n > room) {
            size_t drop = *used + n - room;
            memmove (output, output + drop, *used - drop);
            *used -= drop;
        }
        memcpy (output + *used, data, n);
        *used += n;
    }
    output[*used] = 0;
}

//  The child's environment: ours, with git never asking for a password.
static char **
s_environment (void)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = (char **)calloc (n + 2, sizeof (char *));
    if (!env)
        return NULL;
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp (environ[i], "GIT_TERMINAL_PROMPT=", 20) != 0)
            env[w++] = environ[i];
    env[w++] = (char *)"GIT_TERMINAL_PROMPT=0";
    env[w] = NULL;
    return env;
}

//  Read the child's output until it closes or the deadline passes. True
//  when it ran out of time.
static bool
s_drain (int fd, int64_t deadline, char *output, size_t output_size)
{
    size_t used = 0;
    if (output && output_size)
        output[0] = 0;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return true;
        struct pollfd item = {fd, POLLIN, 0};
        int rc = poll (&item, 1, (int)(left > 1000 ? 1000 : left));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            continue;
        char buffer[4096];
        ssize_t got = read (fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        s_keep (output, output_size, &used, buffer, (size_t)got);
    }
}

int
pack_spawn (const char *const argv[], const char *cwd, int timeout_ms, char *output,
            size_t output_size)
{
    int pipes[2];
    if (pipe2 (pipes, O_CLOEXEC) != 0)
        return -1;
    char **env = s_environment ();
    fflush (stdout);
    fflush (stderr);
    pid_t pid = env ? fork () : -1;
    if (pid < 0) {
        free (env);
        close (pipes[0]);
        close (pipes[1]);
        return -1;
    }
    if (pid == 0) {
        //  Only async-signal-safe calls from here
        setpgid (0, 0);
        int null = open ("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2 (null, 0);
        dup2 (pipes[1], 1);
        dup2 (pipes[1], 2);
        if (cwd && chdir (cwd) != 0)
            _exit (126);
        execvpe (argv[0], (char *const *)argv, env);
        _exit (127);
    }
    free (env);
    close (pipes[1]);
    bool late = s_drain (pipes[0], zclock_mono () + timeout_ms, output, output_size);
    close (pipes[0]);
    if (late)
        kill (-pid, SIGKILL);
    int status = 0;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (late)
        return 124;
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

//  The last line of a program's output, for an error message.
static const char *
s_last_line (char *output)
{
    size_t n = strlen (output);
    while (n && (output[n - 1] == '\n' || output[n - 1] == '\r'))
        output[--n] = 0;
    char *line = strrchr (output, '\n');
    return line ? line + 1 : output;
}

#define S_VENV_TIMEOUT_MS 120000

int
pack_venv_setup (const char *pack_dir, const char *pack, const char *data_dir,
                 const char *python, char *venv, size_t venv_size, bool *requirements,
                 char *message, size_t message_size)
{
    if (!python)
        python = getenv ("ATTUNE_PYTHON") ? getenv ("ATTUNE_PYTHON") : "/usr/bin/python3";
    char venvs[PATH_MAX], path[PATH_MAX + 300], output[1024];
    snprintf (venvs, sizeof venvs, "%s/virtualenvs", data_dir);
    snprintf (venv, venv_size, "%s/%s", venvs, pack);
    *requirements = false;
    mkdir (data_dir, 0750);
    if (mkdir (venvs, 0750) != 0 && errno != EEXIST) {
        snprintf (message, message_size, "cannot create %s: %s", venvs, strerror (errno));
        return -1;
    }
    //  Without its own pip: the system's (python3-pip), seen through the
    //  system site-packages, installs into the venv, and the venv is made
    //  in a second rather than a dozen
    const char *make[] = {python,          "-m", "venv", "--system-site-packages",
                          "--without-pip", venv, NULL};
    int rc = pack_spawn (make, NULL, S_VENV_TIMEOUT_MS, output, sizeof output);
    if (rc != 0) {
        snprintf (message, message_size,
                  "%s -m venv %s: exit %d (is python3-venv installed?): %s", python, venv,
                  rc, s_last_line (output));
        return -1;
    }
    snprintf (path, sizeof path, "%s/requirements.txt", pack_dir);
    if (!s_exists (path))
        return 0;
    char venv_python[PATH_MAX + 300];
    snprintf (venv_python, sizeof venv_python, "%s/bin/python3", venv);
    const char *install[16] = {venv_python,  "-m",
                               "pip",        "install",
                               "--no-index", "--no-build-isolation",
                               "--no-input", "--disable-pip-version-check",
                               "-r",         "requirements.txt"};
    int n = 10;
    snprintf (path, sizeof path, "%s/wheels", pack_dir);
    if (s_exists (path)) {
        install[n++] = "--find-links";
        install[n++] = "wheels";
    }
    install[n] = NULL;
    rc = pack_spawn (install, pack_dir, S_VENV_TIMEOUT_MS, output, sizeof output);
    if (rc != 0) {
        snprintf (
            message, message_size,
            "pip install -r %s/requirements.txt: exit %d (local paths only: is "
            "python3-pip installed, is every requirement a path or in wheels/?): %s",
            pack_dir, rc, s_last_line (output));
        return -1;
    }
    *requirements = true;
    return 0;
}
