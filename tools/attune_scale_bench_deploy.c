/*  attune_scale_bench_deploy: processes and files: free ports, a core and worker
    attuneds spawned and waited for, stopped, the packs, cleanup.
*/
#include "tools/attune_scale_bench.h"

char scale_root[4096];
char scale_attuned[4200];
volatile sig_atomic_t scale_interrupted = 0;
long scale_ticks = 100;

static scale_deploy_t *s_current; //  what cleanup must stop

void
scale_on_signal (int sig)
{
    (void)sig;
    scale_interrupted = 1;
}

//  `count` distinct free loopback ports (sockets held open until all are
//  chosen, so none is handed out twice). 0 or -1.
static int
s_free_ports (int *ports, int count)
{
    int fds[16], rc = 0;
    for (int i = 0; i < count; i++) {
        fds[i] = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET};
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        ports[i] = -1;
        if (fds[i] >= 0 && bind (fds[i], (struct sockaddr *)&addr, sizeof addr) == 0 &&
            getsockname (fds[i], (struct sockaddr *)&addr, &len) == 0)
            ports[i] = ntohs (addr.sin_port);
        if (ports[i] < 0)
            rc = -1;
    }
    for (int i = 0; i < count; i++)
        if (fds[i] >= 0)
            close (fds[i]);
    return rc;
}

static int
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    if (!file) {
        fprintf (stderr, "scale-bench: cannot write %s: %s\n", path, strerror (errno));
        return -1;
    }
    fputs (text, file);
    fclose (file);
    return 0;
}

static int
s_mkdir (const char *path)
{
    if (mkdir (path, 0750) != 0 && errno != EEXIST) {
        fprintf (stderr, "scale-bench: cannot create %s: %s\n", path, strerror (errno));
        return -1;
    }
    return 0;
}

static int
s_rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove (path);
    return 0;
}

static void
s_rmtree (const char *path)
{
    if (*path)
        nftw (path, s_rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

//  Does the log say "attuned: running"?
static bool
s_log_says_running (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    char line[2048];
    bool up = false;
    while (!up && fgets (line, sizeof line, file))
        up = strstr (line, "attuned: running") != NULL;
    fclose (file);
    return up;
}

static void
s_log_tail (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    char line[2048];
    int n = 0;
    while (fgets (line, sizeof line, file) && n++ < 20)
        fprintf (stderr, "    | %s", line);
    fclose (file);
}

//  Start `attuned -c cfg` with extra arguments (NULL-terminated), its
//  output into DIR/NAME.log. Returns the process, or NULL.
static scale_proc_t *
s_spawn (scale_deploy_t *d, const char *name, const char *cfg, const char **extra)
{
    if (d->count == d->cap)
        return NULL;
    scale_proc_t *proc = &d->procs[d->count];
    *proc = (scale_proc_t){0};
    snprintf (proc->name, sizeof proc->name, "%s", name);
    snprintf (proc->log, sizeof proc->log, "%s/%s.log", d->dir, name);
    const char *argv[32] = {scale_attuned, "-c", cfg, "--quiet"};
    int argc = 4;
    for (int i = 0; extra && extra[i] && argc < 31; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        fprintf (stderr, "scale-bench: fork: %s\n", strerror (errno));
        return NULL;
    }
    if (pid == 0) {
        //  Dies with the bench, whatever happens to it
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        int fd = open (proc->log, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
            close (fd);
        }
        signal (SIGINT, SIG_DFL);
        signal (SIGTERM, SIG_DFL);
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    proc->pid = pid;
    d->count++;
    return proc;
}

//  Wait (bounded) until every process of `d` logged "attuned: running".
static int
s_wait_up (scale_deploy_t *d, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        size_t up = 0;
        for (size_t i = 0; i < d->count; i++) {
            scale_proc_t *proc = &d->procs[i];
            if (!proc->up && proc->pid > 0) {
                int status;
                if (waitpid (proc->pid, &status, WNOHANG) == proc->pid) {
                    proc->pid = 0;
                    fprintf (stderr, "scale-bench: %s exited at start (status %d):\n",
                             proc->name, status);
                    s_log_tail (proc->log);
                    return -1;
                }
                proc->up = s_log_says_running (proc->log);
            }
            up += proc->up;
        }
        if (up == d->count)
            return 0;
        if (zclock_mono () > deadline || scale_interrupted) {
            fprintf (stderr,
                     "scale-bench: timeout: %zu of %zu processes running after %d "
                     "ms\n",
                     up, d->count, timeout_ms);
            for (size_t i = 0; i < d->count; i++)
                if (!d->procs[i].up) {
                    fprintf (stderr, "  %s:\n", d->procs[i].name);
                    s_log_tail (d->procs[i].log);
                    break;
                }
            return -1;
        }
        zclock_sleep (20);
    }
}

//  SIGTERM (workers first), then SIGKILL whatever is left after 5 s.
void
scale_deploy_stop (scale_deploy_t *d)
{
    if (!d || !d->procs)
        return;
    for (int pass = 0; pass < 2; pass++) {
        //  pass 0: the workers, pass 1: the core
        size_t from = pass == 0 ? 1 : 0, to = pass == 0 ? d->count : 1;
        for (size_t i = from; i < to && i < d->count; i++)
            if (d->procs[i].pid > 0)
                kill (d->procs[i].pid, SIGTERM);
        int64_t deadline = zclock_mono () + 5000;
        while (true) {
            bool left = false;
            for (size_t i = from; i < to && i < d->count; i++)
                if (d->procs[i].pid > 0) {
                    if (waitpid (d->procs[i].pid, NULL, WNOHANG) == d->procs[i].pid)
                        d->procs[i].pid = 0;
                    else
                        left = true;
                }
            if (!left)
                break;
            if (zclock_mono () > deadline) {
                for (size_t i = from; i < to && i < d->count; i++)
                    if (d->procs[i].pid > 0) {
                        fprintf (stderr, "scale-bench: %s did not stop: SIGKILL\n",
                                 d->procs[i].name);
                        kill (d->procs[i].pid, SIGKILL);
                        waitpid (d->procs[i].pid, NULL, 0);
                        d->procs[i].pid = 0;
                    }
                break;
            }
            zclock_sleep (10);
        }
    }
    free (d->procs);
    d->procs = NULL;
    d->count = d->cap = 0;
    if (s_current == d)
        s_current = NULL;
}

void
scale_cleanup (void)
{
    scale_deploy_stop (s_current);
    s_rmtree (scale_root);
    scale_root[0] = 0;
}

//  A core and `workers` worker processes of `slots` slots offering
//  `runtimes`, on free loopback ports, all running. 0 or -1 (stopped).
int
scale_deploy_start (scale_deploy_t *d, const char *tag, int workers, int slots,
                    const char *runtimes)
{
    *d = (scale_deploy_t){0};
    snprintf (d->dir, sizeof d->dir, "%s/%s", scale_root, tag);
    if (s_mkdir (d->dir) != 0)
        return -1;
    d->cap = (size_t)workers + 1;
    d->procs = (scale_proc_t *)calloc (d->cap, sizeof (scale_proc_t));
    if (!d->procs)
        return -1;
    s_current = d;
    const char *names[] = {"registry.facts", "registry.snapshot", "registry.commands",
                           "rules.commands", "rules.facts",       "executor.commands",
                           "executor.facts", "api.requests",      "api.facts"};
    char endpoints[2048] = "";
    int ports[9];
    if (s_free_ports (ports, 9) != 0) {
        fprintf (stderr, "scale-bench: no free loopback port\n");
        return -1;
    }
    for (int i = 0; i < 9; i++) {
        char line[128];
        snprintf (line, sizeof line, "    %s = tcp://127.0.0.1:%d\n", names[i], ports[i]);
        strcat (endpoints, line);
    }
    d->executor_port = ports[5];
    snprintf (d->api, sizeof d->api, "tcp://127.0.0.1:%d", ports[7]);
    snprintf (d->facts, sizeof d->facts, "tcp://127.0.0.1:%d", ports[8]);

    char path[4400], cfg[12000];
    snprintf (cfg, sizeof cfg,
              "daemon\n    actors = registry,executor,rules,api\n    data = %s/core\n"
              "    packs = %s/packs\nbus\n    namespace = core\nendpoints\n%s",
              d->dir, scale_root, endpoints);
    snprintf (path, sizeof path, "%s/core.cfg", d->dir);
    if (s_write (path, cfg) != 0 || !s_spawn (d, "core", path, NULL))
        return -1;
    //  The core first: the workers register as soon as they start
    if (s_wait_up (d, SCALE_STALL_MS) != 0)
        return -1;
    //  One topology for every worker; name, data and slots as flags
    snprintf (cfg, sizeof cfg,
              "daemon\n    actors = worker\n    worker\n        runtimes = %s\n"
              "bus\n    namespace = worker\nendpoints\n"
              "    executor.commands = tcp://127.0.0.1:%d\n"
              "    worker = tcp://127.0.0.1:*\n",
              runtimes, d->executor_port);
    snprintf (path, sizeof path, "%s/worker.cfg", d->dir);
    if (s_write (path, cfg) != 0)
        return -1;
    for (int w = 0; w < workers; w++) {
        char name[32], data[4300], slot_text[16];
        snprintf (name, sizeof name, "w%d", w);
        snprintf (data, sizeof data, "%s/%s", d->dir, name);
        snprintf (slot_text, sizeof slot_text, "%d", slots);
        const char *extra[] = {"--worker-name", name,     "--worker-slots",
                               slot_text,       "--data", data,
                               "--drain",       "1000",   NULL};
        if (!s_spawn (d, name, path, extra))
            return -1;
    }
    return s_wait_up (d, SCALE_STALL_MS);
}

//  ---------------------------------------------------------------------------
//  The packs: core (linked), and bench with a shell action, two triggers and
//  their rules

int
scale_write_packs (void)
{
    char path[4400], target[4200];
    snprintf (path, sizeof path, "%s/packs", scale_root);
    if (s_mkdir (path) != 0)
        return -1;
    snprintf (target, sizeof target, "%s/packs/core", ATTUNE_SOURCE_DIR);
    snprintf (path, sizeof path, "%s/packs/core", scale_root);
    if (symlink (target, path) != 0) {
        fprintf (stderr, "scale-bench: cannot link %s: %s\n", target, strerror (errno));
        return -1;
    }
    const char *dirs[] = {"packs/bench", "packs/bench/actions", "packs/bench/triggers",
                          "packs/bench/rules"};
    for (int i = 0; i < 4; i++) {
        snprintf (path, sizeof path, "%s/%s", scale_root, dirs[i]);
        if (s_mkdir (path) != 0)
            return -1;
    }
    const char *files[][2] = {
        {"pack.yaml", "ref: bench\nname: bench\nversion: 1.0.0\n"},
        {"actions/hello.yaml",
         "name: hello\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n"
         "    type: string\n    default: echo hello\n    immutable: true\n"},
        {"triggers/shell.yaml", "name: shell\npack: bench\n"},
        {"triggers/noop.yaml", "name: noop\npack: bench\n"},
        {"rules/shell.yaml", "name: shell\npack: bench\nenabled: true\ntrigger:\n"
                             "  type: bench.shell\naction:\n  ref: bench.hello\n"},
        {"rules/noop.yaml", "name: noop\npack: bench\nenabled: true\ntrigger:\n"
                            "  type: bench.noop\naction:\n  ref: core.noop\n"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf (path, sizeof path, "%s/packs/bench/%s", scale_root, files[i][0]);
        if (s_write (path, files[i][1]) != 0)
            return -1;
    }
    return 0;
}
