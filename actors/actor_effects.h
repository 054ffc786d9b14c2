/*  actor_effects: what a write transaction leaves to do after its commit.

    The one post-commit mechanism of every actor. While a transaction is
    open, an actor queues effects (a closure: run, drop, arg); nothing of
    them happens yet. When the commit succeeded they run, in the order they
    were queued; when it failed (or the transaction is tried again) they are
    dropped, and nothing of them is seen outside. Facts, sends and memory
    mirrors therefore never get ahead of the disk.

    Two ways to end a transaction's effects, for the two ways actors write:
    - the actor commits itself (or knows the result, as from
      bus_inbox_process): actor_effects_run after a commit,
      actor_effects_drop after a failure;
    - the commit happens inside a handler's caller (bus_inbox): call
      actor_effects_attach from the handler; the store's commit callback
      runs the effects, a retry of the transaction (map growth) drops what
      the earlier attempt queued, and actor_effects_drop after the batch
      (bus_inbox_process returned) drops an attempt that never committed.
      That drop is required after a write that aborted: an abort changes
      none of the counters an attempt is recognised by.
*/
#ifndef ACTOR_EFFECTS_H_INCLUDED
#define ACTOR_EFFECTS_H_INCLUDED

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _actor_effects_t actor_effects_t;

//  An effect: `ctx` is the list's context (the actor), `arg` the effect's.
//  run is called once after the commit; drop once when it failed. Each
//  owns `arg` from then on (frees it). Either may be NULL.
typedef void (actor_effect_fn) (void *ctx, void *arg);

//  A new, empty list whose effects get `ctx`. NULL when out of memory.
actor_effects_t *actor_effects_new (void *ctx);

//  Drop what is still queued (drop callbacks), free the list, clear *self_p.
void actor_effects_destroy (actor_effects_t **self_p);

//  Queue an effect. 0, or -1 out of memory (then nothing was queued and
//  the caller still owns arg).
int actor_effects_add (actor_effects_t *self, actor_effect_fn *run, actor_effect_fn *drop,
                       void *arg);

//  The commit succeeded: run every queued effect in order, then empty the
//  list. Effects queued while running run too, after the others.
void actor_effects_run (actor_effects_t *self);

//  The commit failed: drop every queued effect, then empty the list.
void actor_effects_drop (actor_effects_t *self);

//  Move every effect of `from` to the end of `self` (same order).
void actor_effects_move (actor_effects_t *self, actor_effects_t *from);

//  Effects queued and not yet run or dropped.
size_t actor_effects_size (actor_effects_t *self);

//  From a handler running inside write transaction `txn` of `store`: tie
//  the list to this write attempt. The first call of an attempt drops what
//  an earlier attempt queued (it did not commit) and registers the run with
//  store_txn_on_commit. An attempt is recognised by the store's (commits,
//  growths) counters. Returns 1 at a new attempt, 0 within the same one,
//  -1 when the commit callback cannot be registered (no memory).
int actor_effects_attach (actor_effects_t *self, store_t *store, store_txn_t *txn);

//  True between actor_effects_attach and the attempt's commit or drop.
bool actor_effects_attached (actor_effects_t *self);

#ifdef __cplusplus
}
#endif

#endif
