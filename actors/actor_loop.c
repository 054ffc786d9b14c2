/*  actor_loop: the one shell every attune actor runs in (actor_loop.h).
*/
#include "actors/actor_loop.h"

#include <pthread.h>

typedef struct {
    zsock_t *sock; //  NULL for a raw descriptor
    int fd;
    short events;
    int rank;
    bool paused;
    bool removed;
    bool registry; //  a registry client's socket: handled by the loop
    actor_loop_fn *fn;
    actor_loop_fd_fn *fd_fn;
    void *arg;
} s_reader_t;

typedef struct {
    int interval_ms;
    int64_t due; //  monotonic ms
    actor_loop_fn *fn;
    void *arg;
} s_timer_t;

struct _actor_loop_t {
    zsock_t *pipe;
    char name[64];
    void *self; //  the actor's state
    actor_loop_status_fn *status;
    actor_loop_command_fn *command;
    actor_loop_timeout_fn *timeout;
    actor_loop_turn_fn *before;
    actor_loop_turn_fn *after;
    s_reader_t *readers;
    size_t nreaders, readers_capacity;
    s_timer_t *timers;
    size_t ntimers;
    zmq_pollitem_t *items; //  items[0] is the pipe; items[i] reads readers[map[i]]
    size_t *map;
    size_t nitems, items_capacity;
    bool dirty;
    bool stopped;
    registry_client_t *registry;
    zsock_t *gated;
    actor_loop_fn *on_synced;
    bool synced, warned;
    int64_t started;
    uint64_t turns, builds;
};

actor_loop_t *
actor_loop_new (zsock_t *pipe, const char *name, void *self)
{
    assert (pipe && name);
    actor_loop_t *loop = (actor_loop_t *)calloc (1, sizeof (actor_loop_t));
    if (!loop)
        return NULL;
    loop->pipe = pipe;
    snprintf (loop->name, sizeof loop->name, "%s", name);
    //  The thread's name (top -H, perf, gdb): "a-" + the actor's,
    //  within the kernel's 15 characters
    char thread[16];
    snprintf (thread, sizeof thread, "a-%s", name);
    pthread_setname_np (pthread_self (), thread);
    loop->self = self;
    loop->dirty = true;
    return loop;
}

void
actor_loop_destroy (actor_loop_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        actor_loop_t *self = *self_p;
        free (self->readers);
        free (self->timers);
        free (self->items);
        free (self->map);
        free (self);
        *self_p = NULL;
    }
}

void
actor_loop_set_status (actor_loop_t *self, actor_loop_status_fn *fn)
{
    self->status = fn;
}

void
actor_loop_set_command (actor_loop_t *self, actor_loop_command_fn *fn)
{
    self->command = fn;
}

void
actor_loop_set_timeout (actor_loop_t *self, actor_loop_timeout_fn *fn)
{
    self->timeout = fn;
}

void
actor_loop_set_before (actor_loop_t *self, actor_loop_turn_fn *fn)
{
    self->before = fn;
}

void
actor_loop_set_after (actor_loop_t *self, actor_loop_turn_fn *fn)
{
    self->after = fn;
}

static int
s_add (actor_loop_t *self, s_reader_t *reader)
{
    if (self->nreaders == self->readers_capacity) {
        size_t capacity = self->readers_capacity ? self->readers_capacity * 2 : 16;
        s_reader_t *readers =
            (s_reader_t *)realloc (self->readers, capacity * sizeof (s_reader_t));
        if (!readers)
            return -1;
        self->readers = readers;
        self->readers_capacity = capacity;
    }
    //  The registry's gated socket waits for the first snapshot, whenever added
    if (reader->sock && reader->sock == self->gated && !self->synced)
        reader->paused = true;
    self->readers[self->nreaders++] = *reader;
    self->dirty = true;
    return 0;
}

int
actor_loop_reader (actor_loop_t *self, zsock_t *sock, int rank, actor_loop_fn *fn,
                   void *arg)
{
    assert (self && sock && fn);
    s_reader_t reader = {
        .sock = sock, .events = ZMQ_POLLIN, .rank = rank, .fn = fn, .arg = arg};
    return s_add (self, &reader);
}

int
actor_loop_reader_fd (actor_loop_t *self, int fd, short events, int rank,
                      actor_loop_fd_fn *fn, void *arg)
{
    assert (self && fd >= 0 && fn);
    s_reader_t reader = {
        .fd = fd, .events = events, .rank = rank, .fd_fn = fn, .arg = arg};
    return s_add (self, &reader);
}

void
actor_loop_remove_rank (actor_loop_t *self, int rank)
{
    assert (self);
    for (size_t i = 0; i < self->nreaders; i++)
        if (self->readers[i].rank == rank && !self->readers[i].removed) {
            self->readers[i].removed = true;
            self->dirty = true;
        }
}

int
actor_loop_set_fds (actor_loop_t *self, int rank, const actor_loop_fd_t *fds,
                    size_t count, actor_loop_fd_fn *fn)
{
    assert (self && (fds || count == 0) && fn);
    size_t n = 0;
    bool same = true;
    for (size_t i = 0; i < self->nreaders && same; i++) {
        s_reader_t *reader = &self->readers[i];
        if (reader->rank != rank || reader->removed)
            continue;
        same = n < count && !reader->sock && reader->fd == fds[n].fd &&
               reader->events == fds[n].events && reader->arg == fds[n].arg &&
               reader->fd_fn == fn;
        n++;
    }
    if (same && n == count)
        return 0;
    actor_loop_remove_rank (self, rank);
    for (size_t i = 0; i < count; i++)
        if (actor_loop_reader_fd (self, fds[i].fd, fds[i].events, rank, fn, fds[i].arg) !=
            0)
            return -1;
    return 0;
}

void
actor_loop_pause (actor_loop_t *self, zsock_t *sock, bool paused)
{
    assert (self && sock);
    for (size_t i = 0; i < self->nreaders; i++)
        if (self->readers[i].sock == sock)
            self->readers[i].paused = paused;
    if (self->dirty)
        return; //  the build takes it
    for (size_t i = 1; i < self->nitems; i++)
        if (self->readers[self->map[i]].sock == sock)
            self->items[i].events = paused ? 0 : self->readers[self->map[i]].events;
}

int
actor_loop_timer (actor_loop_t *self, int interval_ms, actor_loop_fn *fn, void *arg)
{
    assert (self && interval_ms > 0 && fn);
    s_timer_t *timers =
        (s_timer_t *)realloc (self->timers, (self->ntimers + 1) * sizeof (s_timer_t));
    if (!timers)
        return -1;
    self->timers = timers;
    self->timers[self->ntimers++] = (s_timer_t){interval_ms, 0, fn, arg};
    return 0;
}

static void
s_registry_read (void *self, void *arg)
{
    actor_loop_t *loop = (actor_loop_t *)self;
    registry_client_handle (loop->registry, (zsock_t *)arg);
}

int
actor_loop_registry (actor_loop_t *self, registry_client_t *registry, zsock_t *gated,
                     actor_loop_fn *on_synced)
{
    assert (self && registry && !self->registry);
    self->registry = registry;
    self->gated = gated;
    self->on_synced = on_synced;
    zsock_t *socks[2] = {registry_client_sub_sock (registry),
                         registry_client_snapshot_sock (registry)};
    for (int i = 0; i < 2; i++) {
        s_reader_t reader = {.sock = socks[i],
                             .events = ZMQ_POLLIN,
                             .rank = INT32_MIN,
                             .registry = true,
                             .fn = s_registry_read,
                             .arg = socks[i]};
        if (s_add (self, &reader) != 0)
            return -1;
    }
    if (gated)
        actor_loop_pause (self, gated, true);
    return 0;
}

//  Compact the readers (removed ones go) and build the poll set: the pipe,
//  then the readers by rank.
static void
s_build (actor_loop_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->nreaders; i++)
        if (!self->readers[i].removed)
            self->readers[kept++] = self->readers[i];
    self->nreaders = kept;
    if (kept + 1 > self->items_capacity) {
        self->items_capacity = (kept + 1) * 2;
        self->items = (zmq_pollitem_t *)realloc (
            self->items, self->items_capacity * sizeof (zmq_pollitem_t));
        self->map = (size_t *)realloc (self->map, self->items_capacity * sizeof (size_t));
        assert (self->items && self->map);
    }
    self->items[0] = (zmq_pollitem_t){zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0};
    size_t n = 1;
    //  Stable by rank: a few readers, a build now and then
    for (size_t done = 0; done < kept;) {
        int rank = 0;
        bool found = false;
        for (size_t i = 0; i < kept; i++)
            if (!self->readers[i].removed && (!found || self->readers[i].rank < rank)) {
                rank = self->readers[i].rank;
                found = true;
            }
        for (size_t i = 0; i < kept; i++) {
            s_reader_t *reader = &self->readers[i];
            if (reader->rank != rank || reader->removed)
                continue;
            self->map[n] = i;
            self->items[n++] = (zmq_pollitem_t){
                reader->sock ? zsock_resolve (reader->sock) : NULL,
                reader->sock ? 0 : reader->fd, reader->paused ? 0 : reader->events, 0};
            reader->removed = true; //  placed (restored below)
            done++;
        }
    }
    for (size_t i = 0; i < kept; i++)
        self->readers[i].removed = false;
    self->nitems = n;
    self->dirty = false;
    self->builds++;
}

static int
s_sooner (int timeout, int t)
{
    return t >= 0 && (timeout < 0 || t < timeout) ? t : timeout;
}

//  Fire the timers that are due; the wait until the next one (ms, -1 none).
static int
s_timers (actor_loop_t *self)
{
    int timeout = -1;
    for (size_t i = 0; i < self->ntimers && !self->stopped; i++) {
        s_timer_t *timer = &self->timers[i];
        if (zclock_mono () >= timer->due) {
            timer->fn (self->self, timer->arg);
            timer->due = zclock_mono () + timer->interval_ms;
        }
        int64_t left = timer->due - zclock_mono ();
        timeout = s_sooner (timeout, left < 0 ? 0 : (int)left);
    }
    return timeout;
}

//  The first snapshot: open the gate; warn once when it is long in coming.
static void
s_registry_check (actor_loop_t *self)
{
    if (!self->registry || self->synced)
        return;
    if (registry_client_synced (self->registry)) {
        self->synced = true;
        if (self->gated)
            actor_loop_pause (self, self->gated, false);
        if (self->on_synced)
            self->on_synced (self->self, self->registry);
    } else if (!self->warned &&
               zclock_mono () - self->started >= ACTOR_REGISTRY_WAIT_MS) {
        self->warned = true;
        zsys_warning ("%s: no registry snapshot after %d ms; %s", self->name,
                      ACTOR_REGISTRY_WAIT_MS,
                      self->gated ? "commands wait for it" : "waiting on");
    }
}

//  One pipe command: $TERM, STATUS, the actor's own, or the unknown reply.
static void
s_pipe (actor_loop_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    char *command = msg ? zmsg_popstr (msg) : NULL;
    if (!command || streq (command, "$TERM"))
        self->stopped = true;
    else if (streq (command, "STATUS")) {
        json_t *status = self->status ? self->status (self->self) : json_object ();
        actor_reply_json (self->pipe, &status);
    } else if (!self->command || self->command (self->self, command, msg) != 0)
        actor_reply_unknown (self->pipe, self->name, command);
    free (command);
    zmsg_destroy (&msg);
}

//  What the poll found ready, in the order of the poll set.
static void
s_dispatch (actor_loop_t *self)
{
    if (self->items[0].revents & ZMQ_POLLIN)
        s_pipe (self);
    size_t count = self->nitems;
    for (size_t i = 1; i < count && !self->stopped; i++) {
        short revents = self->items[i].revents;
        s_reader_t *reader = &self->readers[self->map[i]];
        if (!revents || reader->removed) //  removed by an earlier handler
            continue;
        if (reader->sock && (revents & ZMQ_POLLIN))
            reader->fn (reader->registry ? (void *)self : self->self, reader->arg);
        else if (!reader->sock)
            reader->fd_fn (self->self, reader->arg, self->items[i].fd, revents);
    }
}

//  Until the registry's first snapshot (or the wait's end): the pipe and
//  the registry only. The poll set starts with them. 0 when no longer.
static int
s_registry_wait (actor_loop_t *self)
{
    s_registry_check (self);
    if (!self->registry || self->synced || self->warned)
        return 0;
    if (self->dirty)
        s_build (self);
    int64_t left = self->started + ACTOR_REGISTRY_WAIT_MS - zclock_mono ();
    int timeout =
        s_sooner (left < 0 ? 0 : (int)left, registry_client_timeout (self->registry));
    if (zmq_poll (self->items, 3, timeout > 1000 ? 1000 : timeout) == -1 &&
        zmq_errno () == ETERM)
        return -1;
    self->turns++;
    if (self->items[0].revents & ZMQ_POLLIN)
        s_pipe (self);
    for (size_t i = 1; i < 3 && !self->stopped; i++)
        if (self->items[i].revents & ZMQ_POLLIN)
            s_registry_read (self, self->readers[self->map[i]].arg);
    registry_client_tick (self->registry);
    return 1;
}

int
actor_loop_run (actor_loop_t *self)
{
    assert (self);
    self->started = zclock_mono ();
    while (!self->stopped) {
        int waiting = s_registry_wait (self);
        if (waiting < 0)
            return -1;
        if (waiting || self->stopped)
            continue;
        int timeout = s_timers (self);
        if (self->stopped)
            break;
        if (self->before)
            self->before (self->self);
        s_registry_check (self);
        if (self->dirty)
            s_build (self);
        if (self->timeout)
            timeout = s_sooner (timeout, self->timeout (self->self));
        if (self->registry)
            timeout = s_sooner (timeout, registry_client_timeout (self->registry));
        int rc = zmq_poll (self->items, (int)self->nitems,
                           timeout < 0 || timeout > 1000 ? 1000 : timeout);
        self->turns++;
        if (rc == -1 && zmq_errno () == ETERM)
            return -1;
        if (rc > 0)
            s_dispatch (self);
        if (self->stopped)
            break;
        if (self->after)
            self->after (self->self);
        if (self->registry)
            registry_client_tick (self->registry);
    }
    return 0;
}

void
actor_loop_stop (actor_loop_t *self)
{
    assert (self);
    self->stopped = true;
}

zsock_t *
actor_loop_pipe (actor_loop_t *self)
{
    assert (self);
    return self->pipe;
}

uint64_t
actor_loop_turns (actor_loop_t *self)
{
    return self->turns;
}

uint64_t
actor_loop_builds (actor_loop_t *self)
{
    return self->builds;
}
