/*  executor_workers: worker registry and choice. See executor_workers.h. */
#include "actors/executor/executor_workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORKERS 4096

struct _executor_workers_t {
    executor_worker_t *workers;
    size_t count;
    size_t cap;
    uint64_t picks;
};

executor_workers_t *
executor_workers_new (void)
{
    return (executor_workers_t *)calloc (1, sizeof (executor_workers_t));
}

void
executor_workers_destroy (executor_workers_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->workers);
        free (*self_p);
        *self_p = NULL;
    }
}

executor_worker_t *
executor_workers_find (executor_workers_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->workers[i].name, name) == 0)
            return &self->workers[i];
    return NULL;
}

executor_worker_t *
executor_workers_upsert (executor_workers_t *self, const char *name, const char *endpoint,
                         const char *runtimes, int slots, int64_t now_usec)
{
    if (!name || !*name || strlen (name) >= sizeof ((executor_worker_t *)0)->name)
        return NULL;
    executor_worker_t *worker = executor_workers_find (self, name);
    if (!worker) {
        if (self->count >= MAX_WORKERS)
            return NULL;
        if (self->count == self->cap) {
            size_t cap = self->cap ? self->cap * 2 : 8;
            executor_worker_t *grown =
                (executor_worker_t *)realloc (self->workers, cap * sizeof *grown);
            if (!grown)
                return NULL;
            self->workers = grown;
            self->cap = cap;
        }
        worker = &self->workers[self->count++];
        memset (worker, 0, sizeof *worker);
        snprintf (worker->name, sizeof worker->name, "%s", name);
    }
    if (endpoint)
        snprintf (worker->endpoint, sizeof worker->endpoint, "%s", endpoint);
    if (runtimes) {
        worker->runtime_count = 0;
        const char *p = runtimes;
        while (*p && worker->runtime_count < EXECUTOR_MAX_RUNTIMES) {
            const char *end = strchr (p, ',');
            size_t len = end ? (size_t)(end - p) : strlen (p);
            while (len && *p == ' ') {
                p++;
                len--;
            }
            if (len && len < sizeof worker->runtimes[0]) {
                memcpy (worker->runtimes[worker->runtime_count], p, len);
                worker->runtimes[worker->runtime_count][len] = 0;
                worker->runtime_count++;
            }
            if (!end)
                break;
            p = end + 1;
        }
    }
    if (slots > 0)
        worker->slots = slots;
    worker->alive = true;
    worker->draining = false;
    worker->last_seen_usec = now_usec;
    return worker;
}

void
executor_workers_remove (executor_workers_t *self, const char *name)
{
    executor_worker_t *worker = executor_workers_find (self, name);
    if (worker) {
        size_t index = (size_t)(worker - self->workers);
        memmove (worker, worker + 1, (self->count - index - 1) * sizeof *worker);
        self->count--;
    }
}

bool
executor_worker_offers (const executor_worker_t *worker, const char *runner)
{
    for (int i = 0; i < worker->runtime_count; i++)
        if (strcmp (worker->runtimes[i], runner) == 0)
            return true;
    return false;
}

executor_worker_t *
executor_workers_pick (executor_workers_t *self, const char *runner)
{
    executor_worker_t *best = NULL;
    for (size_t i = 0; i < self->count; i++) {
        executor_worker_t *w = &self->workers[i];
        if (!w->alive || w->draining || w->busy >= w->slots ||
            !executor_worker_offers (w, runner))
            continue;
        if (!best)
            best = w;
        else {
            //  least loaded by fraction of slots in use, then least recently picked
            double load_w = (double)w->busy / w->slots;
            double load_b = (double)best->busy / best->slots;
            if (load_w < load_b || (load_w == load_b && w->picked < best->picked))
                best = w;
        }
    }
    return best;
}

int
executor_workers_free (executor_workers_t *self)
{
    int free_slots = 0;
    for (size_t i = 0; i < self->count; i++) {
        executor_worker_t *w = &self->workers[i];
        if (w->alive && !w->draining && w->busy < w->slots)
            free_slots += w->slots - w->busy;
    }
    return free_slots;
}

void
executor_workers_acquire (executor_workers_t *self, executor_worker_t *worker)
{
    worker->busy++;
    worker->picked = ++self->picks;
}

void
executor_workers_release (executor_workers_t *self, const char *name)
{
    executor_worker_t *worker = executor_workers_find (self, name);
    if (worker && worker->busy > 0)
        worker->busy--;
}

size_t
executor_workers_count (executor_workers_t *self)
{
    return self->count;
}

executor_worker_t *
executor_workers_at (executor_workers_t *self, size_t index)
{
    return index < self->count ? &self->workers[index] : NULL;
}
