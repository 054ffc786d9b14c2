/*  actor_loop and actor_effects: the shell every actor runs in ($TERM,
    STATUS, the unknown reply, readers in rank order, descriptors, timers,
    pausing, removing), and the post-commit effects (run after a commit,
    dropped when it fails).
*/
#include <criterion/criterion.h>
#include <ftw.h>
#include <unistd.h>
#include "actors/actor_effects.h"
#include "actors/actor_loop.h"

//  ---------------------------------------------------------------------------
//  A small actor in the shell

typedef struct {
    zsock_t *pipe;
    actor_loop_t *loop;
    zsock_t *a, *b; //  PAIRs the test writes to
    int fd;         //  read end of a pipe(2) the test writes to
    int fd2;        //  another, set with actor_loop_set_fds (SETFD)
    char order[256];
    int reads_a, reads_b, reads_fd, timers, deadline_calls;
    bool fast; //  the next-deadline callback says "now"
} s_test_t;

typedef struct {
    const char *a, *b; //  endpoints to bind
    int fd, fd2;
} s_args_t;

static void
s_note (s_test_t *self, const char *what)
{
    size_t len = strlen (self->order);
    snprintf (self->order + len, sizeof self->order - len, "%s", what);
}

static void
s_on_a (void *arg, void *unused)
{
    s_test_t *self = (s_test_t *)arg;
    char *text = zstr_recv (self->a);
    zstr_free (&text);
    self->reads_a++;
    s_note (self, "a");
}

static void
s_on_b (void *arg, void *unused)
{
    s_test_t *self = (s_test_t *)arg;
    char *text = zstr_recv (self->b);
    zstr_free (&text);
    self->reads_b++;
    s_note (self, "b");
}

static void
s_on_fd (void *arg, void *unused, int fd, short revents)
{
    s_test_t *self = (s_test_t *)arg;
    char buffer[64];
    if (read (fd, buffer, sizeof buffer) > 0)
        self->reads_fd++;
}

static void
s_on_timer (void *arg, void *unused)
{
    ((s_test_t *)arg)->timers++;
}

static int
s_deadline (void *arg)
{
    s_test_t *self = (s_test_t *)arg;
    self->deadline_calls++;
    return self->fast ? 0 : -1;
}

static json_t *
s_status (void *arg)
{
    s_test_t *self = (s_test_t *)arg;
    return json_pack (
        "{s:i, s:i, s:i, s:i, s:s, s:I, s:I, s:i}", "a", self->reads_a, "b",
        self->reads_b, "fd", self->reads_fd, "timers", self->timers, "order", self->order,
        "turns", (json_int_t)actor_loop_turns (self->loop), "builds",
        (json_int_t)actor_loop_builds (self->loop), "deadline", self->deadline_calls);
}

//  The actor's own commands: ECHO x, PAUSE, RESUME, REMOVE, SLEEP (until a
//  and b both have a message), FAST.
static int
s_command (void *arg, const char *command, zmsg_t *msg)
{
    s_test_t *self = (s_test_t *)arg;
    if (streq (command, "ECHO")) {
        char *word = zmsg_popstr (msg);
        zstr_sendf (self->pipe, "ECHO %s", word ? word : "");
        zstr_free (&word);
    } else if (streq (command, "PAUSE") || streq (command, "RESUME")) {
        actor_loop_pause (self->loop, self->a, streq (command, "PAUSE"));
        zstr_send (self->pipe, "OK");
    } else if (streq (command, "REMOVE")) {
        actor_loop_remove_rank (self->loop, 2); //  b
        zstr_send (self->pipe, "OK");
    } else if (streq (command, "SETFD")) {
        actor_loop_fd_t fd = {self->fd2, ZMQ_POLLIN, NULL};
        actor_loop_set_fds (self->loop, 4, &fd, 1, s_on_fd);
        zstr_send (self->pipe, "OK");
    } else if (streq (command, "SLEEP")) {
        //  Says it is asleep, then waits until both readers have a message
        //  (5 s at most): the next poll sees them ready together, however
        //  slow the machine. The test sends them only once told, so neither
        //  can be ready already in the poll that brought SLEEP (whose
        //  readers run after the command, in that same turn).
        zstr_send (self->pipe, "ASLEEP");
        int64_t until = zclock_mono () + 5000;
        while (zclock_mono () < until && !((zsock_events (self->a) & ZMQ_POLLIN) &&
                                           (zsock_events (self->b) & ZMQ_POLLIN)))
            zclock_sleep (1);
        zstr_send (self->pipe, "OK");
    } else if (streq (command, "FAST")) {
        self->fast = true;
        zstr_send (self->pipe, "OK");
    } else
        return -1;
    return 0;
}

static void
s_test_actor (zsock_t *pipe, void *args)
{
    s_args_t *a = (s_args_t *)args;
    s_test_t *self = (s_test_t *)zmalloc (sizeof (s_test_t));
    self->pipe = pipe;
    self->a = zsock_new_pair (a->a);
    self->b = zsock_new_pair (a->b);
    self->fd = a->fd;
    self->fd2 = a->fd2;
    self->loop = actor_loop_new (pipe, "test", self);
    //  b is registered first but ranks after a: a is handled first
    bool ok =
        self->a && self->b && self->loop &&
        actor_loop_reader (self->loop, self->b, 2, s_on_b, NULL) == 0 &&
        actor_loop_reader (self->loop, self->a, 1, s_on_a, NULL) == 0 &&
        actor_loop_reader_fd (self->loop, self->fd, ZMQ_POLLIN, 3, s_on_fd, NULL) == 0 &&
        actor_loop_timer (self->loop, 20, s_on_timer, NULL) == 0;
    actor_loop_set_status (self->loop, s_status);
    actor_loop_set_command (self->loop, s_command);
    actor_loop_set_timeout (self->loop, s_deadline);
    zsock_signal (pipe, ok ? 0 : 1);
    if (ok)
        actor_loop_run (self->loop);
    actor_loop_destroy (&self->loop);
    zsock_destroy (&self->a);
    zsock_destroy (&self->b);
    free (self);
}

static zactor_t *s_actor;
static zsock_t *s_a, *s_b;
static int s_fds[2] = {-1, -1}, s_fds2[2] = {-1, -1};

static void
s_setup (void)
{
    static int instance;
    char a[64], b[64];
    snprintf (a, sizeof a, "inproc://loop-a-%d", instance);
    snprintf (b, sizeof b, "inproc://loop-b-%d", instance++);
    cr_assert_eq (pipe (s_fds), 0);
    cr_assert_eq (pipe (s_fds2), 0);
    char bind_a[80], bind_b[80];
    snprintf (bind_a, sizeof bind_a, "@%s", a);
    snprintf (bind_b, sizeof bind_b, "@%s", b);
    s_args_t args = {bind_a, bind_b, s_fds[0], s_fds2[0]};
    s_actor = zactor_new (s_test_actor, &args);
    cr_assert_not_null (s_actor);
    s_a = zsock_new_pair (a);
    s_b = zsock_new_pair (b);
    cr_assert (s_a && s_b);
}

static void
s_teardown (void)
{
    zactor_destroy (&s_actor);
    zsock_destroy (&s_a);
    zsock_destroy (&s_b);
    close (s_fds[0]);
    close (s_fds[1]);
    close (s_fds2[0]);
    close (s_fds2[1]);
}

TestSuite (actor_loop, .init = s_setup, .fini = s_teardown, .timeout = 30);

static json_t *
s_get_status (void)
{
    zstr_send (s_actor, "STATUS");
    char *text = zstr_recv (s_actor);
    cr_assert_not_null (text);
    json_t *status = json_loads (text, 0, NULL);
    cr_assert_not_null (status, "STATUS is not JSON: %s", text);
    zstr_free (&text);
    return status;
}

static int64_t
s_int (const char *field)
{
    json_t *status = s_get_status ();
    int64_t value = json_integer_value (json_object_get (status, field));
    json_decref (status);
    return value;
}

#define WAIT_FOR(cond)                                                                   \
    do {                                                                                 \
        int64_t until_ = zclock_mono () + 5000;                                          \
        while (!(cond) && zclock_mono () < until_)                                       \
            zclock_sleep (5);                                                            \
        cr_assert (cond, "timed out waiting for: %s", #cond);                            \
    } while (0)

static char *
s_ask (const char *command)
{
    zstr_send (s_actor, command);
    char *reply = zstr_recv (s_actor);
    cr_assert_not_null (reply);
    return reply;
}

Test (actor_loop, status_answers_with_the_callbacks_json)
{
    json_t *status = s_get_status ();
    cr_assert (json_is_integer (json_object_get (status, "a")));
    cr_assert_str_eq (json_string_value (json_object_get (status, "order")), "");
    json_decref (status);
}

Test (actor_loop, term_stops_the_loop_promptly)
{
    int64_t start = zclock_mono ();
    zactor_destroy (&s_actor); //  sends $TERM and waits for the thread
    cr_assert_lt (zclock_mono () - start, 500);
}

Test (actor_loop, unknown_command_gets_the_one_reply)
{
    char *reply = s_ask ("BOGUS");
    json_t *value = json_loads (reply, 0, NULL);
    cr_assert_not_null (value, "not JSON: %s", reply);
    cr_assert_str_eq (json_string_value (json_object_get (value, "error")),
                      ACTOR_UNKNOWN_REPLY);
    cr_assert_str_eq (json_string_value (json_object_get (value, "command")), "BOGUS");
    cr_assert_eq (json_object_size (value), 2);
    json_decref (value);
    zstr_free (&reply);
    //  The actor's own command, with its argument frame
    zstr_sendx (s_actor, "ECHO", "hello", NULL);
    reply = zstr_recv (s_actor);
    cr_assert_str_eq (reply, "ECHO hello");
    zstr_free (&reply);
    //  Still serving
    cr_assert_eq (s_int ("a"), 0);
}

Test (actor_loop, readers_are_dispatched_in_rank_order)
{
    //  Both ready when the actor polls (it sleeps meanwhile): a (rank 1)
    //  before b (rank 2, registered first), every time
    for (int i = 0; i < 5; i++) {
        zstr_send (s_actor, "SLEEP");
        char *asleep = zstr_recv (s_actor);
        cr_assert_str_eq (asleep, "ASLEEP");
        zstr_free (&asleep);
        zstr_send (s_b, "x");
        zstr_send (s_a, "x");
        char *ok = zstr_recv (s_actor);
        zstr_free (&ok);
        WAIT_FOR (s_int ("a") == i + 1 && s_int ("b") == i + 1);
    }
    json_t *status = s_get_status ();
    cr_assert_str_eq (json_string_value (json_object_get (status, "order")),
                      "ababababab");
    json_decref (status);
}

Test (actor_loop, a_paused_reader_waits)
{
    char *ok = s_ask ("PAUSE");
    zstr_free (&ok);
    zstr_send (s_a, "x");
    zstr_send (s_b, "x");
    WAIT_FOR (s_int ("b") == 1);
    zclock_sleep (50);
    cr_assert_eq (s_int ("a"), 0);
    ok = s_ask ("RESUME");
    zstr_free (&ok);
    WAIT_FOR (s_int ("a") == 1);
}

Test (actor_loop, descriptors_and_removed_readers)
{
    cr_assert_eq (write (s_fds[1], "x", 1), 1);
    WAIT_FOR (s_int ("fd") == 1);
    char *ok = s_ask ("REMOVE");
    zstr_free (&ok);
    zstr_send (s_b, "x");
    zstr_send (s_a, "x");
    WAIT_FOR (s_int ("a") == 1);
    zclock_sleep (50);
    cr_assert_eq (s_int ("b"), 0, "a removed reader is not read");
    cr_assert_eq (write (s_fds[1], "y", 1), 1);
    WAIT_FOR (s_int ("fd") == 2);
}

Test (actor_loop, timers_fire_and_the_poll_set_is_not_rebuilt_every_turn)
{
    WAIT_FOR (s_int ("timers") >= 5);
    json_t *status = s_get_status ();
    int64_t turns = json_integer_value (json_object_get (status, "turns"));
    int64_t builds = json_integer_value (json_object_get (status, "builds"));
    json_decref (status);
    cr_assert_geq (turns, 5);
    cr_assert_eq (builds, 1, "built once (%" PRId64 " turns)", turns);
    //  The next-deadline callback: asked every turn; 0 means turn again now
    char *ok = s_ask ("FAST");
    zstr_free (&ok);
    int64_t before = s_int ("deadline");
    zclock_sleep (50);
    cr_assert_gt (s_int ("deadline") - before, 100, "a deadline of 0 wakes the loop");
}

Test (actor_loop, set_fds_rebuilds_only_when_they_change)
{
    WAIT_FOR (s_int ("builds") == 1);
    char *ok = s_ask ("SETFD");
    zstr_free (&ok);
    cr_assert_eq (write (s_fds2[1], "x", 1), 1);
    WAIT_FOR (s_int ("fd") == 1);
    cr_assert_eq (s_int ("builds"), 2);
    for (int i = 0; i < 3; i++) {
        ok = s_ask ("SETFD"); //  the same set: nothing to rebuild
        zstr_free (&ok);
    }
    cr_assert_eq (write (s_fds2[1], "y", 1), 1);
    WAIT_FOR (s_int ("fd") == 2);
    cr_assert_eq (s_int ("builds"), 2);
}

//  ---------------------------------------------------------------------------
//  actor_effects

typedef struct {
    char log[256];
    actor_effects_t *effects;
    store_t *store;
    bool fail;
} s_ctx_t;

static void
s_run (void *ctx, void *arg)
{
    s_ctx_t *c = (s_ctx_t *)ctx;
    strcat (c->log, "run:");
    strcat (c->log, (const char *)arg);
    strcat (c->log, " ");
}

static void
s_drop (void *ctx, void *arg)
{
    s_ctx_t *c = (s_ctx_t *)ctx;
    strcat (c->log, "drop:");
    strcat (c->log, (const char *)arg);
    strcat (c->log, " ");
}

Test (actor_effects, run_in_order_or_dropped)
{
    s_ctx_t ctx = {""};
    actor_effects_t *effects = actor_effects_new (&ctx);
    cr_assert_not_null (effects);
    actor_effects_add (effects, s_run, s_drop, "1");
    actor_effects_add (effects, s_run, s_drop, "2");
    cr_assert_eq (actor_effects_size (effects), 2);
    actor_effects_run (effects);
    cr_assert_str_eq (ctx.log, "run:1 run:2 ");
    cr_assert_eq (actor_effects_size (effects), 0);
    ctx.log[0] = 0;
    actor_effects_add (effects, s_run, s_drop, "3");
    actor_effects_drop (effects);
    cr_assert_str_eq (ctx.log, "drop:3 ");
    //  Moved, in order; and dropped when the list goes
    actor_effects_t *other = actor_effects_new (&ctx);
    actor_effects_add (other, s_run, s_drop, "4");
    actor_effects_add (effects, s_run, s_drop, "5");
    actor_effects_move (effects, other);
    cr_assert_eq (actor_effects_size (other), 0);
    ctx.log[0] = 0;
    actor_effects_destroy (&effects);
    cr_assert_null (effects);
    cr_assert_str_eq (ctx.log, "drop:5 drop:4 ");
    actor_effects_destroy (&other);
}

static int
s_write (store_txn_t *txn, void *arg)
{
    s_ctx_t *c = (s_ctx_t *)arg;
    if (actor_effects_attach (c->effects, c->store, txn) < 0)
        return -1;
    actor_effects_add (c->effects, s_run, s_drop, c->fail ? "lost" : "kept");
    cr_assert (actor_effects_attached (c->effects));
    return c->fail ? -1 : 0;
}

static int
s_write_twice (store_txn_t *txn, void *arg)
{
    s_ctx_t *c = (s_ctx_t *)arg;
    if (s_write (txn, arg) != 0 || actor_effects_attach (c->effects, c->store, txn) != 0)
        return -1; //  the second call is the same attempt: 0
    actor_effects_add (c->effects, s_run, s_drop, "again");
    return 0;
}

static int
s_remove_entry (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove (path);
}

Test (actor_effects, after_the_commit_only)
{
    char dir[] = "/tmp/test_actor_loop_XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    s_ctx_t ctx = {""};
    ctx.effects = actor_effects_new (&ctx);
    char message[256];
    store_code_t code;
    store_config_t config = {.nosync = true};
    ctx.store = store_open (dir, &config, &code, message, sizeof message);
    cr_assert_not_null (ctx.store, "%s", message);

    //  A commit that fails: nothing runs; what it queued is dropped at the
    //  end of the batch (or by the next attempt)
    ctx.fail = true;
    cr_assert_neq (store_write (ctx.store, s_write, &ctx), STORE_OK);
    cr_assert_str_eq (ctx.log, "");
    actor_effects_drop (ctx.effects);
    cr_assert_str_eq (ctx.log, "drop:lost ");
    cr_assert_not (actor_effects_attached (ctx.effects));

    //  One that commits: run by the commit, once
    ctx.log[0] = 0;
    ctx.fail = false;
    cr_assert_eq (store_write (ctx.store, s_write, &ctx), STORE_OK);
    cr_assert_str_eq (ctx.log, "run:kept ");
    actor_effects_drop (ctx.effects); //  nothing left to drop
    cr_assert_str_eq (ctx.log, "run:kept ");

    //  Within one attempt, one commit callback for every effect queued
    ctx.log[0] = 0;
    cr_assert_eq (store_write (ctx.store, s_write_twice, &ctx), STORE_OK);
    cr_assert_str_eq (ctx.log, "run:kept run:again ");

    actor_effects_destroy (&ctx.effects);
    store_close (&ctx.store);
    nftw (dir, s_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}
