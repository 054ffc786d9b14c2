/*  attune_cli_pack: pack setup-venv, a pack's Python virtualenv.

    attune pack setup-venv PACK [--packs DIR] [--data DIR]

    makes <data>/virtualenvs/PACK with `python3 -m venv
    --system-site-packages` (so Debian's python3-zmq, -msgpack, -yaml stay
    importable) and installs the pack's requirements.txt with pip from local
    paths only (--no-index: no network; a requirement is a path, relative to
    the pack, or a wheel in the pack's wheels/). The worker then runs the
    pack's python-script actions with that venv's interpreter
    (actors/worker/worker_python.h). Local: it needs no daemon.
*/
#include "tools/attune_cli.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

//  Run argv in `cwd` (NULL: here), its output on our stderr. The exit code.
static int
s_spawn (const char *const argv[], const char *cwd)
{
    fflush (stdout);
    fflush (stderr);
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2 (2, 1);
        if (cwd && chdir (cwd) != 0)
            _exit (126);
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    int status = 0;
    while (waitpid (pid, &status, 0) < 0)
        ;
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

static int
s_cmd_setup_venv (cli_t *client, cli_args_t *args)
{
    const char *pack = args->pos[0];
    const char *packs = cli_opt (args, "--packs") ?: getenv ("ATTUNE_PACKS") ?: "./packs";
    const char *data = cli_opt (args, "--data") ?: getenv ("ATTUNE_DATA") ?: "./var/attune";
    const char *python = getenv ("ATTUNE_PYTHON") ?: "/usr/bin/python3";
    if (!*pack || strchr (pack, '/') || strstr (pack, "..")) {
        cli_fail (client, "bad_request", "'%s' is not a pack name", pack);
        return cli_report (client);
    }
    char pack_dir[PATH_MAX], venvs[PATH_MAX], venv[PATH_MAX + 256];
    char requirements[PATH_MAX + 32], venv_python[PATH_MAX + 300];
    snprintf (pack_dir, sizeof pack_dir, "%s/%s", packs, pack);
    snprintf (venvs, sizeof venvs, "%s/virtualenvs", data);
    snprintf (venv, sizeof venv, "%s/%s", venvs, pack);
    snprintf (requirements, sizeof requirements, "%s/requirements.txt", pack_dir);
    snprintf (venv_python, sizeof venv_python, "%s/bin/python3", venv);
    if (!s_exists (pack_dir)) {
        cli_fail (client, "not_found", "no pack %s in %s", pack, packs);
        return cli_report (client);
    }
    mkdir (data, 0750);
    if (mkdir (venvs, 0750) != 0 && errno != EEXIST) {
        cli_fail (client, "io", "cannot create %s: %s", venvs, strerror (errno));
        return cli_report (client);
    }
    //  Without its own pip: the system's (python3-pip), seen through the
    //  system site-packages, installs into the venv, and the venv is made
    //  in a second rather than a dozen
    const char *make[] = {python,          "-m", "venv", "--system-site-packages",
                          "--without-pip", venv, NULL};
    int rc = s_spawn (make, NULL);
    if (rc != 0) {
        cli_fail (client, "failed", "%s -m venv %s: exit %d (is python3-venv installed?)",
                  python, venv, rc);
        return cli_report (client);
    }
    if (s_exists (requirements)) {
        char wheels[PATH_MAX + 32];
        snprintf (wheels, sizeof wheels, "%s/wheels", pack_dir);
        const char *install[16] = {venv_python,  "-m",
                                   "pip",        "install",
                                   "--no-index", "--no-build-isolation",
                                   "--no-input", "--disable-pip-version-check",
                                   "-r",         "requirements.txt"};
        int n = 10;
        if (s_exists (wheels)) {
            install[n++] = "--find-links";
            install[n++] = "wheels";
        }
        install[n] = NULL;
        rc = s_spawn (install, pack_dir);
        if (rc != 0) {
            cli_fail (client, "failed",
                      "pip install -r %s: exit %d (local paths only: is python3-pip "
                      "installed, is every requirement a path or in wheels/?)",
                      requirements, rc);
            return cli_report (client);
        }
    }
    if (client->json)
        printf ("{\"pack\": \"%s\", \"virtualenv\": \"%s\", \"requirements\": %s}\n",
                pack, venv, s_exists (requirements) ? "true" : "false");
    else
        printf ("%s: virtualenv %s ready%s\n", pack, venv,
                s_exists (requirements) ? " (requirements.txt installed)" : "");
    return 0;
}

static const cli_option_t s_venv_options[] = {
    {"--packs", "DIR", "the packs directory (default $ATTUNE_PACKS or ./packs)"},
    {"--data", "DIR", "attuned's data directory (default $ATTUNE_DATA or ./var/attune)"},
    {NULL}};

const cli_command_t cli_pack_commands[] = {
    {"pack", "setup-venv", "PACK [--packs DIR] [--data DIR]",
     "Make the pack's Python virtualenv, DATA/virtualenvs/PACK (with the\n"
     "system's site-packages), and install its requirements.txt from local\n"
     "paths only (no network). The worker runs the pack's python-script\n"
     "actions with it.",
     s_venv_options, 1, 1, s_cmd_setup_venv},
    {NULL}};
