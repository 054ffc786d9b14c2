/*  worker_groups: the process groups of action processes, from /proc. See
    worker_groups.h. */
#include "actors/worker/worker_groups.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_ID_MAX 64

long long
worker_groups_start (pid_t pid, pid_t *pgrp, bool *zombie)
{
    char path[64], text[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read (fd, text, sizeof text - 1);
    close (fd);
    if (n <= 0)
        return -1;
    text[n] = 0;
    //  The command name (field 2) may hold anything: fields 3.. follow the
    //  last ')'
    char *p = strrchr (text, ')');
    if (!p || p[1] != ' ')
        return -1;
    char state = p[2];
    p += 3; //  past the state (field 3): fields 4 .. are numbers
    long long start = -1;
    for (int field = 4; field <= 22; field++) {
        char *end;
        long long value = strtoll (p, &end, 10);
        if (end == p)
            return -1;
        p = end;
        if (field == 5 && pgrp)
            *pgrp = (pid_t)value;
        if (field == 22)
            start = value;
    }
    if (zombie)
        *zombie = state == 'Z' || state == 'X';
    return start;
}

//  Whether process `pid` has ATTUNE_EXECUTION_ID=<id> in its environment.
static bool
s_has_id (pid_t pid, const char *id)
{
    if (!id || !*id || strlen (id) > S_ID_MAX)
        return false;
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    //  Set fourth by the worker (worker.c, s_environment): near the start
    char text[8192];
    ssize_t n = read (fd, text, sizeof text - 1);
    close (fd);
    if (n <= 0)
        return false;
    text[n] = 0;
    char want[S_ID_MAX + 32];
    int len = snprintf (want, sizeof want, "ATTUNE_EXECUTION_ID=%s", id);
    for (char *p = text; p < text + n; p += strlen (p) + 1)
        if (strncmp (p, want, (size_t)len) == 0 && p[len] == 0)
            return true;
    return false;
}

static bool
s_belongs (pid_t pid, pid_t pgrp, long long start, const worker_group_t *group)
{
    if (group->pgid > 0) {
        if (pgrp != group->pgid || start < group->start)
            return false;
        return (pid == group->pgid && start == group->start) || s_has_id (pid, group->id);
    }
    return s_has_id (pid, group->id); //  leader not known
}

//  A live process of our user, not this one: its start time, else -1.
static long long
s_candidate (const char *name, pid_t *pid, pid_t *pgrp)
{
    *pid = (pid_t)atoi (name);
    bool zombie = false;
    struct stat info;
    char path[64];
    snprintf (path, sizeof path, "/proc/%d", (int)*pid);
    if (*pid <= 1 || *pid == getpid () || stat (path, &info) != 0 ||
        info.st_uid != getuid ())
        return -1;
    long long start = worker_groups_start (*pid, pgrp, &zombie);
    return zombie ? -1 : start;
}

size_t
worker_groups_kill_pass (const worker_group_t *groups, size_t count,
                         worker_groups_fn *killed, void *arg)
{
    DIR *proc = count ? opendir ("/proc") : NULL;
    if (!proc)
        return 0;
    size_t found = 0;
    struct dirent *item;
    while ((item = readdir (proc))) {
        pid_t pid = 0, pgrp = 0;
        long long start = s_candidate (item->d_name, &pid, &pgrp);
        if (start < 0)
            continue;
        for (size_t i = 0; i < count; i++)
            if (s_belongs (pid, pgrp, start, &groups[i])) {
                if (killed)
                    killed (arg, pid, pgrp, groups[i].id);
                if (pgrp > 1 && pgrp != getpgrp ())
                    kill (-pgrp, SIGKILL);
                kill (pid, SIGKILL);
                found++;
                break;
            }
    }
    closedir (proc);
    return found;
}

static long long
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t
worker_groups_kill (const worker_group_t *groups, size_t count, int wait_ms,
                    worker_groups_fn *killed, void *arg)
{
    long long deadline = s_now_ms () + wait_ms;
    size_t found = 0;
    while ((found = worker_groups_kill_pass (groups, count, killed, arg)) > 0 &&
           s_now_ms () < deadline) {
        struct timespec pause = {0, 10 * 1000000};
        nanosleep (&pause, NULL);
    }
    return found;
}
