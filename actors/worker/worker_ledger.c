/*  worker_ledger: the durable record of what a worker started. See
    worker_ledger.h. */
#include "actors/worker/worker_ledger.h"
#include "actors/worker/worker_groups.h"

#include <czmq.h>
#include "proto/proto_envelope.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_ID_MAX      64
#define S_COMPACT_MIN (64 * 1024) //  bytes appended before a rewrite is considered

typedef struct {
    char state; //  'C' claimed, 'I' intent, 'P' started
    pid_t pid;
    long long start;
} s_entry_t;

struct _worker_ledger_t {
    char path[1024];
    char boot[64];
    int fd;
    zhashx_t *live;     //  id -> s_entry_t of this instance
    zhashx_t *previous; //  id -> s_entry_t the previous instance left
    zhashx_t *acks;     //  envelope id -> execution id: ends when acked
    json_t *never_started;
    json_t *stopped;
    size_t survivors;
    size_t appended; //  bytes since the last rewrite
};

static void
s_boot_id (char *boot, size_t size)
{
    snprintf (boot, size, "unknown");
    FILE *file = fopen ("/proc/sys/kernel/random/boot_id", "r");
    if (file) {
        if (fgets (boot, (int)size, file))
            boot[strcspn (boot, "\n")] = 0;
        fclose (file);
    }
}

static void
s_entry_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  ---------------------------------------------------------------------------
//  The file

static int
s_write_all (int fd, const char *text, size_t size)
{
    while (size) {
        ssize_t n = write (fd, text, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        text += n;
        size -= (size_t)n;
    }
    return 0;
}

static int
s_line (char *line, size_t size, const char *id, const s_entry_t *entry)
{
    if (entry->state == 'P')
        return snprintf (line, size, "P %s %d %lld\n", id, (int)entry->pid, entry->start);
    return snprintf (line, size, "%c %s\n", entry->state, id);
}

static int
s_write_table (int fd, zhashx_t *table)
{
    char line[S_ID_MAX + 64];
    for (s_entry_t *entry = (s_entry_t *)zhashx_first (table); entry;
         entry = (s_entry_t *)zhashx_next (table)) {
        int n = s_line (line, sizeof line, (const char *)zhashx_cursor (table), entry);
        if (s_write_all (fd, line, (size_t)n) != 0)
            return -1;
    }
    return 0;
}

//  Rewrite the file with what is held (temp file, rename) and append to it
//  from now on. The lock moves to the new file; the old one is unlinked by
//  the rename.
static int
s_rewrite (worker_ledger_t *self)
{
    char temp[1100];
    snprintf (temp, sizeof temp, "%s.tmp", self->path);
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char header[100];
    int n = snprintf (header, sizeof header, "B %s\n", self->boot);
    if (flock (fd, LOCK_EX | LOCK_NB) != 0 || s_write_all (fd, header, (size_t)n) != 0 ||
        s_write_table (fd, self->previous) != 0 || s_write_table (fd, self->live) != 0 ||
        rename (temp, self->path) != 0) {
        close (fd);
        unlink (temp);
        return -1;
    }
    if (self->fd >= 0)
        close (self->fd);
    self->fd = fd;
    self->appended = 0;
    return 0;
}

static int
s_append (worker_ledger_t *self, const char *id, const s_entry_t *entry)
{
    if (!self || self->fd < 0)
        return -1;
    char line[S_ID_MAX + 64];
    int n = s_line (line, sizeof line, id, entry);
    if (s_write_all (self->fd, line, (size_t)n) != 0) {
        zsys_error ("worker ledger %s: cannot write: %s", self->path, strerror (errno));
        return -1;
    }
    self->appended += (size_t)n;
    size_t held = zhashx_size (self->live) + zhashx_size (self->previous);
    if (self->appended > S_COMPACT_MIN && self->appended > held * 64 * 16 &&
        s_rewrite (self) != 0)
        zsys_warning ("worker ledger %s: cannot compact: %s", self->path,
                      strerror (errno));
    return 0;
}

//  Read what a previous instance left into self->previous, if it was
//  written in this boot.
static void
s_load (worker_ledger_t *self, FILE *file)
{
    char line[256];
    if (!fgets (line, sizeof line, file) || strncmp (line, "B ", 2) != 0)
        return;
    line[strcspn (line, "\n")] = 0;
    if (!streq (line + 2, self->boot)) {
        zsys_info ("worker ledger %s: written before a reboot: nothing of it runs",
                   self->path);
        return;
    }
    while (fgets (line, sizeof line, file)) {
        char state, id[S_ID_MAX + 1];
        int pid = 0;
        long long start = 0;
        int fields = sscanf (line, "%c %64s %d %lld", &state, id, &pid, &start);
        if (fields < 2 || !strchr ("CIPE", state))
            continue; //  a torn last line
        if (state == 'E') {
            zhashx_delete (self->previous, id);
            continue;
        }
        s_entry_t *entry = (s_entry_t *)zhashx_lookup (self->previous, id);
        if (!entry) {
            entry = (s_entry_t *)calloc (1, sizeof (s_entry_t));
            if (!entry)
                return;
            zhashx_update (self->previous, id, entry);
        }
        if (state == 'P' && fields == 4) {
            entry->pid = pid;
            entry->start = start;
        }
        if (state != 'C' || !entry->state)
            entry->state = state;
    }
}

//  ---------------------------------------------------------------------------
//  Recovery: end what the previous instance left running

static void
s_killed (void *arg, pid_t pid, pid_t pgrp, const char *id)
{
    zsys_warning ("worker ledger: killing %d (group %d), left running for %s", (int)pid,
                  (int)pgrp, id);
}

//  SIGKILL what the previous instance started (worker_groups.h), until it
//  is gone or `wait_ms` is over. Returns how many were still found.
static size_t
s_kill (worker_ledger_t *self, int wait_ms)
{
    size_t count = 0, size = zhashx_size (self->previous);
    worker_group_t *groups = (worker_group_t *)calloc (size ? size : 1, sizeof *groups);
    if (!groups)
        return 0;
    for (s_entry_t *entry = (s_entry_t *)zhashx_first (self->previous); entry;
         entry = (s_entry_t *)zhashx_next (self->previous))
        if (entry->state != 'C') //  a claim never started
            groups[count++] = (worker_group_t){
                entry->pid, entry->start, (const char *)zhashx_cursor (self->previous)};
    size_t found = worker_groups_kill (groups, count, wait_ms, s_killed, NULL);
    free (groups);
    return found;
}

static void
s_recover (worker_ledger_t *self, int wait_ms)
{
    size_t found = s_kill (self, wait_ms);
    if (found)
        zsys_error ("worker ledger %s: %zu processes of a previous instance did not end "
                    "within %d ms",
                    self->path, found, wait_ms);
    self->survivors = found;
    self->never_started = json_array ();
    self->stopped = json_array ();
    for (s_entry_t *entry = (s_entry_t *)zhashx_first (self->previous); entry;
         entry = (s_entry_t *)zhashx_next (self->previous)) {
        const char *id = (const char *)zhashx_cursor (self->previous);
        json_array_append_new (entry->state == 'C' ? self->never_started : self->stopped,
                               json_string (id));
        entry->pid = 0; //  gone: rewritten without it
        entry->start = 0;
    }
}

//  ---------------------------------------------------------------------------

worker_ledger_t *
worker_ledger_new (const char *dir, const char *name, int wait_ms, char *message,
                   size_t size)
{
    worker_ledger_t *self = (worker_ledger_t *)zmalloc (sizeof (worker_ledger_t));
    self->fd = -1;
    self->live = zhashx_new ();
    self->previous = zhashx_new ();
    zhashx_set_destructor (self->live, s_entry_destroy);
    zhashx_set_destructor (self->previous, s_entry_destroy);
    self->acks = zhashx_new ();
    zhashx_set_destructor (self->acks, s_entry_destroy);
    s_boot_id (self->boot, sizeof self->boot);
    snprintf (self->path, sizeof self->path, "%s/%s.ledger", dir, name);
    if (zsys_dir_create ("%s", dir) != 0) {
        snprintf (message, size, "%s: cannot create: %s", dir, strerror (errno));
        worker_ledger_destroy (&self);
        return NULL;
    }
    //  The lock tells a live worker of the same name from a dead one
    int fd = open (self->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf (message, size, "%s: %s", self->path,
                  fd < 0 ? strerror (errno)
                         : "in use by another live worker of this name");
        if (fd >= 0)
            close (fd);
        worker_ledger_destroy (&self);
        return NULL;
    }
    self->fd = fd;
    FILE *file = fdopen (dup (fd), "r");
    if (file) {
        s_load (self, file);
        fclose (file);
    }
    s_recover (self, wait_ms);
    if (s_rewrite (self) != 0) {
        snprintf (message, size, "%s: cannot write: %s", self->path, strerror (errno));
        worker_ledger_destroy (&self);
        return NULL;
    }
    return self;
}

void
worker_ledger_destroy (worker_ledger_t **self_p)
{
    if (self_p && *self_p) {
        worker_ledger_t *self = *self_p;
        if (self->fd >= 0)
            close (self->fd);
        zhashx_destroy (&self->live);
        zhashx_destroy (&self->previous);
        zhashx_destroy (&self->acks);
        json_decref (self->never_started);
        json_decref (self->stopped);
        free (self);
        *self_p = NULL;
    }
}

static int
s_record (worker_ledger_t *self, const char *id, char state, pid_t pid, long long start)
{
    if (!self || strlen (id) > S_ID_MAX)
        return -1;
    s_entry_t *entry = (s_entry_t *)zhashx_lookup (self->live, id);
    if (!entry) {
        entry = (s_entry_t *)calloc (1, sizeof (s_entry_t));
        if (!entry)
            return -1;
        zhashx_update (self->live, id, entry);
    }
    entry->state = state;
    if (state == 'P') {
        entry->pid = pid;
        entry->start = start;
    }
    return s_append (self, id, entry);
}

int
worker_ledger_claim (worker_ledger_t *self, const char *id)
{
    return s_record (self, id, 'C', 0, 0);
}

int
worker_ledger_intent (worker_ledger_t *self, const char *id)
{
    return s_record (self, id, 'I', 0, 0);
}

int
worker_ledger_started (worker_ledger_t *self, const char *id, pid_t pid, long long start)
{
    return s_record (self, id, 'P', pid, start);
}

int
worker_ledger_end (worker_ledger_t *self, const char *id)
{
    if (!self || !zhashx_lookup (self->live, id))
        return 0; //  never recorded (a builtin, or no ledger)
    zhashx_delete (self->live, id);
    s_entry_t end = {.state = 'E'};
    return s_append (self, id, &end);
}

json_t *
worker_ledger_never_started (worker_ledger_t *self)
{
    return self ? self->never_started : NULL;
}

json_t *
worker_ledger_stopped (worker_ledger_t *self)
{
    return self ? self->stopped : NULL;
}

size_t
worker_ledger_survivors (worker_ledger_t *self)
{
    return self ? self->survivors : 0;
}

void
worker_ledger_settled (worker_ledger_t *self)
{
    if (!self || !self->stopped)
        return;
    for (const char *id = (const char *)zhashx_first (self->previous); id;
         id = (const char *)zhashx_next (self->previous)) {
        s_entry_t end = {.state = 'E'};
        s_append (self, (const char *)zhashx_cursor (self->previous), &end);
    }
    zhashx_purge (self->previous);
    json_decref (self->never_started);
    json_decref (self->stopped);
    self->never_started = self->stopped = NULL;
}

//  ---------------------------------------------------------------------------
//  Ends that wait for the executor's ack of the final report

void
worker_ledger_end_after (worker_ledger_t *self, const char *id,
                         const uint8_t envelope[PROTO_UUID_SIZE])
{
    if (!self || !zhashx_lookup (self->live, id))
        return;
    char key[PROTO_UUID_STR_SIZE];
    proto_uuid_format (envelope, key);
    zhashx_update (self->acks, key, strdup (id));
}

void
worker_ledger_acked (worker_ledger_t *self, const uint8_t envelope[PROTO_UUID_SIZE])
{
    if (!self || zhashx_size (self->acks) == 0)
        return;
    char key[PROTO_UUID_STR_SIZE];
    proto_uuid_format (envelope, key);
    char *id = (char *)zhashx_lookup (self->acks, key);
    if (id) {
        worker_ledger_end (self, id);
        zhashx_delete (self->acks, key);
    }
}
