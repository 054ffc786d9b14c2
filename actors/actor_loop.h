/*  actor_loop: the one shell every attune actor runs in.

    An actor keeps its state on the heap (s_<actor>_new (config) /
    s_<actor>_destroy (&self)), registers what it reads, and hands the
    thread to actor_loop_run. The loop owns the shape every actor shares:

    - one poll set, built when readers are added or removed (never every
      turn): zsocks and raw file descriptors, each with a handler. Handlers
      run in rank order (lower first), registration order within a rank;
    - timers: repeating ones (heartbeats) and the actor's next-deadline
      callback; the poll waits for the nearest (1 s at most);
    - the pipe protocol (actor.h): "$TERM" stops the loop; "STATUS" is
      answered with the JSON of the status callback; other commands go to
      the command callback; anything nobody knows gets the one reply
      ACTOR_UNKNOWN_REPLY describes;
    - the registry wait (actor_loop_registry): one timeout, one behaviour.

    The loop stops on "$TERM", on actor_loop_stop, or when the context
    terminates; not on SIGINT (attuned drains, then sends $TERM).
*/
#ifndef ACTOR_LOOP_H_INCLUDED
#define ACTOR_LOOP_H_INCLUDED

#include "actors/actor.h"
#include "actors/registry/registry_client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _actor_loop_t actor_loop_t;

//  A socket ready to read, or a timer due: `self` is the actor's state
//  given to actor_loop_new, `arg` the one given with the reader or timer.
typedef void (actor_loop_fn) (void *self, void *arg);
//  A raw descriptor with `revents` (any poll event, errors included).
typedef void (actor_loop_fd_fn) (void *self, void *arg, int fd, short revents);
//  Milliseconds until the actor's next deadline; -1 for none.
typedef int (actor_loop_timeout_fn) (void *self);
//  Once a turn (before the poll, or after the handlers).
typedef void (actor_loop_turn_fn) (void *self);
//  The STATUS answer: a JSON value the loop sends and frees.
typedef json_t *(actor_loop_status_fn)(void *self);
//  An actor's own pipe command (`msg` holds the frames after the command,
//  the callback may take them). 0 if it knew the command (and answered as
//  its protocol says), -1 if not: the loop sends the unknown reply.
typedef int (actor_loop_command_fn) (void *self, const char *command, zmsg_t *msg);

//  Waiting for the registry's first snapshot (actor_loop_registry): the
//  gated socket is not read until then; a warning once after this long.
#define ACTOR_REGISTRY_WAIT_MS 30000

//  A loop over `pipe` for the actor `name` ("executor") with state `self`.
//  NULL when out of memory.
actor_loop_t *actor_loop_new (zsock_t *pipe, const char *name, void *self);

//  Free the loop (not the sockets it read); clears *self_p.
void actor_loop_destroy (actor_loop_t **self_p);

//  Callbacks; each may be NULL (STATUS then answers {}).
void actor_loop_set_status (actor_loop_t *self, actor_loop_status_fn *fn);
void actor_loop_set_command (actor_loop_t *self, actor_loop_command_fn *fn);
void actor_loop_set_timeout (actor_loop_t *self, actor_loop_timeout_fn *fn);
void actor_loop_set_before (actor_loop_t *self, actor_loop_turn_fn *fn);
void actor_loop_set_after (actor_loop_t *self, actor_loop_turn_fn *fn);

//  Read `sock`: `fn (self, arg)` when it has input. 0 or -1 (no memory).
int actor_loop_reader (actor_loop_t *self, zsock_t *sock, int rank, actor_loop_fn *fn,
                       void *arg);

//  Poll descriptor `fd` for `events` (ZMQ_POLLIN, ZMQ_POLLOUT): `fn (self,
//  arg, fd, revents)` on any event. 0 or -1 (no memory).
int actor_loop_reader_fd (actor_loop_t *self, int fd, short events, int rank,
                          actor_loop_fd_fn *fn, void *arg);

//  A descriptor for actor_loop_set_fds.
typedef struct {
    int fd;
    short events;
    void *arg;
} actor_loop_fd_t;

//  Make the readers of `rank` exactly the `count` descriptors of `fds`,
//  each read by `fn`: the poll set is rebuilt only when they differ from
//  the ones registered (for descriptors that come and go, as a worker's
//  processes' pipes). 0 or -1 (no memory).
int actor_loop_set_fds (actor_loop_t *self, int rank, const actor_loop_fd_t *fds,
                        size_t count, actor_loop_fd_fn *fn);

//  Forget every reader of `rank`. Safe from a handler: none of them is
//  called again, not even in the current turn.
void actor_loop_remove_rank (actor_loop_t *self, int rank);

//  Stop (or resume) reading `sock` without rebuilding the poll set.
void actor_loop_pause (actor_loop_t *self, zsock_t *sock, bool paused);

//  Call `fn (self, arg)` every `interval_ms`, the first time on the first
//  turn. 0 or -1.
int actor_loop_timer (actor_loop_t *self, int interval_ms, actor_loop_fn *fn, void *arg);

//  Follow the registry: read its updates and snapshots (before every other
//  reader) and tick it. The actor needs its definitions: until the first
//  snapshot is in the loop reads only the pipe and the registry (no other
//  reader, timer or turn callback runs); then `on_synced (self, registry)`
//  once (may be NULL). Not synced after ACTOR_REGISTRY_WAIT_MS: one
//  warning, and the actor runs, all but `gated` (NULL: none), which stays
//  paused until the snapshot is in (what it would take waits in its
//  senders' links).
int actor_loop_registry (actor_loop_t *self, registry_client_t *registry, zsock_t *gated,
                         actor_loop_fn *on_synced);

//  Run until stopped. Returns 0 after $TERM or actor_loop_stop, -1 when
//  the context terminated.
int actor_loop_run (actor_loop_t *self);

//  Stop after the handler now running.
void actor_loop_stop (actor_loop_t *self);

//  The pipe (for actors that tell their parent something unasked).
zsock_t *actor_loop_pipe (actor_loop_t *self);

//  Turns the loop has made (tests).
uint64_t actor_loop_turns (actor_loop_t *self);

//  How many times the poll set was built (tests: not every turn).
uint64_t actor_loop_builds (actor_loop_t *self);

#ifdef __cplusplus
}
#endif

#endif
