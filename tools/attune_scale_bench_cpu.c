/*  attune_scale_bench_cpu: CPU accounting from /proc (per process and thread, the machine),
    and the raw baselines: posix_spawn of a shell, fdatasync, load average.
*/
#include "tools/attune_scale_bench.h"

static int64_t s_rusage_usec (int who);

static bool
s_stat_read (const char *path, scale_cpu_t *cpu)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    char text[1024];
    size_t n = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text[n] = 0;
    //  Fields after the command (which may hold spaces): state is field 3
    char *p = strrchr (text, ')');
    if (!p)
        return false;
    long long v[15] = {0};
    //  fields 3..17: state ppid pgrp session tty tpgid flags minflt cminflt
    //  majflt cmajflt utime stime cutime cstime
    char state;
    if (sscanf (
            p + 2,
            "%c %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
            &state, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
            &v[10], &v[11], &v[12], &v[13]) != 15)
        return false;
    cpu->self = v[10] + v[11];
    cpu->children = v[12] + v[13];
    return true;
}

static scale_cpu_t
s_cpu_of (pid_t pid)
{
    scale_cpu_t cpu = {0, 0};
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    s_stat_read (path, &cpu);
    return cpu;
}

//  CPU ticks of each thread of `pid`, into tids/ticks (at most cap).
static size_t
s_threads_of (pid_t pid, int *tids, int64_t *ticks, size_t cap)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir (path);
    if (!dir)
        return 0;
    size_t n = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)) && n < cap) {
        if (entry->d_name[0] == '.')
            continue;
        char stat[300];
        snprintf (stat, sizeof stat, "/proc/%d/task/%s/stat", (int)pid, entry->d_name);
        scale_cpu_t cpu;
        if (s_stat_read (stat, &cpu)) {
            tids[n] = atoi (entry->d_name);
            ticks[n] = cpu.self;
            n++;
        }
    }
    closedir (dir);
    return n;
}

//  Busy and idle (+ iowait) ticks of all cpus together.
static void
s_machine_ticks (int64_t *busy, int64_t *idle)
{
    *busy = *idle = 0;
    FILE *file = fopen ("/proc/stat", "r");
    if (!file)
        return;
    long long v[8] = {0};
    //  cpu user nice system idle iowait irq softirq steal
    if (fscanf (file, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2],
                &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
        *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        *idle = v[3] + v[4];
    }
    fclose (file);
}

void
scale_snap (scale_deploy_t *d, scale_cpu_snap_t *snap)
{
    snap->procs = (scale_cpu_t *)calloc (d->count, sizeof (scale_cpu_t));
    for (size_t i = 0; snap->procs && i < d->count; i++)
        snap->procs[i] = s_cpu_of (d->procs[i].pid);
    snap->threads = s_threads_of (d->procs[0].pid, snap->tids, snap->ticks, 64);
    snap->bench_usec = s_rusage_usec (RUSAGE_SELF);
    s_machine_ticks (&snap->busy, &snap->idle);
    snap->wall_usec = proto_now_usec ();
}

scale_cpu_use_t
scale_cpu_use (scale_deploy_t *d, scale_cpu_snap_t *before)
{
    scale_cpu_snap_t after;
    scale_snap (d, &after);
    double seconds = (double)(after.wall_usec - before->wall_usec) / 1e6;
    scale_cpu_use_t use = {0};
    double scale = seconds > 0 ? 100.0 / ((double)scale_ticks * seconds) : 0;
    if (before->procs && after.procs) {
        use.core = (double)(after.procs[0].self - before->procs[0].self) * scale;
        for (size_t i = 1; i < d->count; i++) {
            use.workers += (double)(after.procs[i].self - before->procs[i].self) * scale;
            use.shells +=
                (double)(after.procs[i].children - before->procs[i].children) * scale;
        }
    }
    for (size_t i = 0; i < after.threads; i++)
        for (size_t j = 0; j < before->threads; j++)
            if (after.tids[i] == before->tids[j]) {
                double t = (double)(after.ticks[i] - before->ticks[j]) * scale;
                if (t > use.core_thread)
                    use.core_thread = t;
            }
    use.bench =
        seconds > 0 ? (double)(after.bench_usec - before->bench_usec) / 1e4 / seconds : 0;
    double busy = (double)(after.busy - before->busy) * scale;
    use.idle = (double)(after.idle - before->idle) * scale;
    use.other = busy - use.core - use.workers - use.shells - use.bench;
    if (use.other < 0)
        use.other = 0;
    free (before->procs);
    free (after.procs);
    before->procs = NULL;
    return use;
}

//  ---------------------------------------------------------------------------
//  Raw baseline: `count` runs of /bin/sh -c 'echo hello', `parallel` in
//  flight; each one's stdout read through a pipe until EOF (polled), then it
//  is reaped with waitpid, as the worker does.

static int64_t
s_rusage_usec (int who)
{
    struct rusage usage;
    getrusage (who, &usage);
    return (int64_t)usage.ru_utime.tv_sec * 1000000 + usage.ru_utime.tv_usec +
           (int64_t)usage.ru_stime.tv_sec * 1000000 + usage.ru_stime.tv_usec;
}

//  Returns runs/s; `cpu` gets the CPU it used (this process and the shells,
//  % of one cpu).
double
scale_raw_spawn (size_t count, int parallel, double *cpu)
{
    int64_t cpu0 = s_rusage_usec (RUSAGE_SELF) + s_rusage_usec (RUSAGE_CHILDREN);
    char *argv[] = {"/bin/sh", "-c", "echo hello", NULL};
    struct pollfd *fds = (struct pollfd *)calloc ((size_t)parallel, sizeof *fds);
    pid_t *pids = (pid_t *)calloc ((size_t)parallel, sizeof *pids);
    for (int i = 0; i < parallel; i++)
        fds[i].fd = -1;
    int64_t t0 = proto_now_usec ();
    size_t started = 0, finished = 0;
    int running = 0;
    while (finished < count && !scale_interrupted) {
        for (int i = 0; i < parallel && started < count; i++) {
            if (fds[i].fd >= 0)
                continue;
            int pipe_fds[2];
            if (pipe2 (pipe_fds, O_CLOEXEC) != 0)
                goto done;
            posix_spawn_file_actions_t actions;
            posix_spawn_file_actions_init (&actions);
            posix_spawn_file_actions_adddup2 (&actions, pipe_fds[1], 1);
            int rc = posix_spawn (&pids[i], argv[0], &actions, NULL, argv, environ);
            posix_spawn_file_actions_destroy (&actions);
            close (pipe_fds[1]);
            if (rc != 0) {
                close (pipe_fds[0]);
                goto done;
            }
            fds[i].fd = pipe_fds[0];
            fds[i].events = POLLIN;
            started++;
            running++;
        }
        if (poll (fds, (nfds_t)parallel, 1000) <= 0)
            continue;
        for (int i = 0; i < parallel; i++)
            if (fds[i].fd >= 0 && fds[i].revents) {
                char buffer[256];
                if (read (fds[i].fd, buffer, sizeof buffer) <= 0) {
                    //  EOF: the shell is exiting
                    close (fds[i].fd);
                    fds[i].fd = -1;
                    waitpid (pids[i], NULL, 0);
                    running--;
                    finished++;
                }
            }
    }
done:
    for (int i = 0; i < parallel; i++)
        if (fds[i].fd >= 0) {
            close (fds[i].fd);
            waitpid (pids[i], NULL, 0);
        }
    free (fds);
    free (pids);
    double seconds = (double)(proto_now_usec () - t0) / 1e6;
    int64_t used = s_rusage_usec (RUSAGE_SELF) + s_rusage_usec (RUSAGE_CHILDREN) - cpu0;
    *cpu = seconds > 0 ? (double)used / 1e4 / seconds : 0;
    return seconds > 0 ? (double)finished / seconds : 0;
}

//  Median time of a 4 KiB write + fdatasync in `dir` (ms): what one durable
//  commit costs at least on this disk.
double
scale_fsync_ms (const char *dir)
{
    char path[4200];
    snprintf (path, sizeof path, "%s/fsync-probe", dir);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0)
        return 0;
    char block[4096];
    memset (block, 'x', sizeof block);
    int64_t times[50];
    int n = 0;
    for (int i = 0; i < 50; i++) {
        int64_t t0 = proto_now_usec ();
        if (pwrite (fd, block, sizeof block, (off_t)i * 4096) != (ssize_t)sizeof block ||
            fdatasync (fd) != 0)
            break;
        times[n++] = proto_now_usec () - t0;
    }
    close (fd);
    unlink (path);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && times[j] < times[j - 1]; j--) {
            int64_t t = times[j];
            times[j] = times[j - 1];
            times[j - 1] = t;
        }
    return n ? (double)times[n / 2] / 1000.0 : 0;
}

//  The 1, 5 and 15 minute load averages (other work on the machine skews
//  every number here).
void
scale_loadavg (char *out, size_t size)
{
    snprintf (out, size, "?");
    FILE *file = fopen ("/proc/loadavg", "r");
    if (!file)
        return;
    double a, b, c;
    if (fscanf (file, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf (out, size, "%.2f %.2f %.2f", a, b, c);
    fclose (file);
}
