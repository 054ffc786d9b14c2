/*  attune-guard: ends a worker's action processes once the worker is gone.

        attune-guard FD [NAME]

    Started by a worker actor (actors/worker/worker_guard.h, which says why
    and how), never by hand. Reads fixed-size records from descriptor FD:
    a group started (register it), a group reaped (forget it), all done
    (forget all). At EOF (the worker's process died, or stopped) it
    SIGKILLs every group still registered (actors/worker/worker_groups.h),
    waits until they are gone, up to 5 s, and exits: 0, or 1 if some did not
    end. Plain libc: it links nothing of attune but worker_groups.c.
*/
#include "actors/worker/worker_groups.h"
#include "actors/worker/worker_guard.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_WAIT_MS 5000

typedef struct {
    worker_group_t *groups; //  ids point into records
    worker_guard_record_t *records;
    size_t count;
    size_t capacity;
    const char *name;
} s_table_t;

static void
s_log (const char *level, const char *name, const char *format, ...)
{
    char when[32];
    time_t now = time (NULL);
    struct tm tm;
    strftime (when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r (&now, &tm));
    char text[512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    fprintf (stderr, "%s: %s attune-guard %d (%s): %s\n", level, when, (int)getpid (),
             name, text);
}

static int
s_add (s_table_t *table, const worker_guard_record_t *record)
{
    if (table->count == table->capacity) {
        size_t capacity = table->capacity ? table->capacity * 2 : 64;
        worker_guard_record_t *records =
            (worker_guard_record_t *)realloc (table->records, capacity * sizeof *records);
        if (!records)
            return -1;
        table->records = records;
        table->capacity = capacity;
    }
    table->records[table->count] = *record;
    table->records[table->count].id[WORKER_GUARD_ID_MAX] = 0;
    table->count++;
    return 0;
}

static void
s_remove (s_table_t *table, const worker_guard_record_t *record)
{
    for (size_t i = 0; i < table->count; i++)
        if (table->records[i].pgid == record->pgid &&
            table->records[i].start == record->start) {
            table->records[i] = table->records[--table->count];
            return;
        }
}

static void
s_apply (s_table_t *table, const worker_guard_record_t *record)
{
    if (record->op == WORKER_GUARD_STARTED) {
        if (s_add (table, record) != 0)
            s_log ("E", table->name, "out of memory: group %d not guarded",
                   (int)record->pgid);
    } else if (record->op == WORKER_GUARD_ENDED)
        s_remove (table, record);
    else if (record->op == WORKER_GUARD_DONE)
        table->count = 0;
}

static void
s_killed (void *arg, pid_t pid, pid_t pgrp, const char *id)
{
    s_log ("W", (const char *)arg, "killing %d (group %d), left running for %s", (int)pid,
           (int)pgrp, id);
}

//  The worker is gone: end what it left. Returns how many did not end.
static size_t
s_end_all (s_table_t *table)
{
    if (table->count == 0)
        return 0;
    table->groups = (worker_group_t *)calloc (table->count, sizeof *table->groups);
    if (!table->groups)
        return table->count;
    for (size_t i = 0; i < table->count; i++)
        table->groups[i] = (worker_group_t){
            table->records[i].pgid, table->records[i].start, table->records[i].id};
    s_log ("I", table->name, "the worker is gone: ending %zu action process groups",
           table->count);
    size_t left = worker_groups_kill (table->groups, table->count, S_WAIT_MS, s_killed,
                                      (void *)table->name);
    if (left)
        s_log ("E", table->name, "%zu processes did not end within %d ms", left,
               S_WAIT_MS);
    return left;
}

//  Read records until EOF. A record may arrive in pieces: kept until whole.
static void
s_read (int fd, s_table_t *table)
{
    worker_guard_record_t records[64];
    size_t held = 0;
    while (true) {
        ssize_t n = read (fd, (char *)records + held, sizeof records - held);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; //  EOF, or an error: either way the worker is gone
        held += (size_t)n;
        size_t whole = held / sizeof records[0];
        for (size_t i = 0; i < whole; i++)
            s_apply (table, &records[i]);
        held -= whole * sizeof records[0];
        memmove (records, (char *)records + whole * sizeof records[0], held);
    }
}

int
main (int argc, char *argv[])
{
    if (argc < 2 || atoi (argv[1]) < 3) {
        fprintf (stderr, "usage: attune-guard FD [NAME] (started by a worker)\n");
        return 2;
    }
    int fd = atoi (argv[1]);
    s_table_t table = {.name = argc > 2 ? argv[2] : "worker"};
    //  Nothing of the worker but the pipe: its sockets, files, pipes
    close_range (3, (unsigned)fd - 1, 0);
    close_range ((unsigned)fd + 1, ~0U, 0);
    //  Signals meant for attuned's process or cgroup: it finishes its work
    signal (SIGTERM, SIG_IGN);
    signal (SIGINT, SIG_IGN);
    signal (SIGHUP, SIG_IGN);
    signal (SIGPIPE, SIG_IGN);
    s_read (fd, &table);
    close (fd);
    size_t left = s_end_all (&table);
    free (table.groups);
    free (table.records);
    return left ? 1 : 0;
}
