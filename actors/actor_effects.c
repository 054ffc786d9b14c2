/*  actor_effects: what a write transaction leaves to do after its commit
    (actor_effects.h).
*/
#include "actors/actor_effects.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    actor_effect_fn *run;
    actor_effect_fn *drop;
    void *arg;
} s_effect_t;

struct _actor_effects_t {
    void *ctx;
    s_effect_t *items; //  items[head .. count) are queued
    size_t head;
    size_t count;
    size_t capacity;
    bool attached; //  tied to a write attempt (actor_effects_attach)
    uint64_t commits, growths;
};

actor_effects_t *
actor_effects_new (void *ctx)
{
    actor_effects_t *self = (actor_effects_t *)calloc (1, sizeof (actor_effects_t));
    if (self)
        self->ctx = ctx;
    return self;
}

void
actor_effects_destroy (actor_effects_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        actor_effects_t *self = *self_p;
        actor_effects_drop (self);
        free (self->items);
        free (self);
        *self_p = NULL;
    }
}

int
actor_effects_add (actor_effects_t *self, actor_effect_fn *run, actor_effect_fn *drop,
                   void *arg)
{
    assert (self);
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 64;
        s_effect_t *items = (s_effect_t *)realloc (self->items, capacity * sizeof *items);
        if (!items)
            return -1;
        self->items = items;
        self->capacity = capacity;
    }
    self->items[self->count++] = (s_effect_t){run, drop, arg};
    return 0;
}

//  Run (or drop) every queued effect, those queued meanwhile included.
static void
s_end (actor_effects_t *self, bool committed)
{
    self->attached = false;
    //  A run may queue more (or end a nested list): take them from the head
    while (self->head < self->count) {
        s_effect_t effect = self->items[self->head++];
        actor_effect_fn *fn = committed ? effect.run : effect.drop;
        if (fn)
            fn (self->ctx, effect.arg);
    }
    self->head = self->count = 0;
}

void
actor_effects_run (actor_effects_t *self)
{
    assert (self);
    s_end (self, true);
}

void
actor_effects_drop (actor_effects_t *self)
{
    assert (self);
    s_end (self, false);
}

void
actor_effects_move (actor_effects_t *self, actor_effects_t *from)
{
    assert (self && from);
    while (from->head < from->count) {
        s_effect_t effect = from->items[from->head++];
        if (actor_effects_add (self, effect.run, effect.drop, effect.arg) != 0) {
            if (effect.drop) //  out of memory: never lost silently
                effect.drop (from->ctx, effect.arg);
        }
    }
    from->head = from->count = 0;
}

size_t
actor_effects_size (actor_effects_t *self)
{
    assert (self);
    return self->count - self->head;
}

static void
s_committed (void *arg)
{
    actor_effects_run ((actor_effects_t *)arg);
}

int
actor_effects_attach (actor_effects_t *self, store_t *store, store_txn_t *txn)
{
    assert (self && store && txn);
    uint64_t commits = store_commits (store);
    uint64_t growths = store_growths (store);
    if (self->attached && commits == self->commits && growths == self->growths)
        return 0;
    actor_effects_drop (self); //  an earlier attempt that did not commit
    self->attached = true;
    self->commits = commits;
    self->growths = growths;
    if (store_txn_on_commit (txn, s_committed, self) != 0) {
        self->attached = false;
        return -1;
    }
    return 1;
}

bool
actor_effects_attached (actor_effects_t *self)
{
    assert (self);
    return self->attached;
}
