/*  test_event_outbox: events durable from the transaction that raised them
    until acked (actors/event_outbox.h), over a real link to an inbox.

    What is stored is sent as stored (alone, or several in one
    event.create.batch), once acked its row goes with the actor's next
    transaction (event_outbox_flush) and comes back when that transaction
    fails, an unacked event is sent again after a restart, a receiver that
    refuses batches gets every event alone, and a payload that would be too
    deep is refused in the transaction.
*/
#include "tests/testing.h"
#include <limits.h>

#include "actors/event_outbox.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"

static char s_root[PATH_MAX - 256];
static int s_counter;

static void
s_setup (void)
{
    testing_tmpdir (s_root, sizeof s_root, "test_event_outbox");
}

static void
s_teardown (void)
{
    testing_rmtree (s_root);
}

TestSuite (event_outbox, .init = s_setup, .fini = s_teardown, .timeout = 60);

typedef struct {
    store_t *store;
    bus_inbox_t *inbox;
    bus_link_t *link;
    event_outbox_t *outbox;
    int seen[600]; //  how many times each n arrived
    int total;
    int batches;         //  event.create.batch commands taken
    bool refuse_batches; //  as a rules actor of an older version
    zhashx_t *ids;       //  the events taken, by id
} s_rig_t;

static void
s_rig_open (s_rig_t *rig, const char *endpoint, bool with_inbox)
{
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s/store", s_root);
    store_code_t code;
    rig->store = store_open (dir, NULL, &code, NULL, 0);
    if (!rig->ids)
        rig->ids = zhashx_new ();
    cr_assert_not_null (rig->store);
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    config.resend_ms = 200;
    config.send_timeout_ms = 0;
    if (with_inbox)
        rig->inbox = bus_inbox_new (endpoint, "rules", NULL, &config);
    rig->link = bus_link_new (endpoint, "sender@test", &config);
    rig->outbox = event_outbox_new (rig->store, "outbox", rig->link, "sender@test");
    cr_assert_not_null (rig->outbox);
}

static void
s_rig_close (s_rig_t *rig)
{
    event_outbox_destroy (&rig->outbox);
    bus_link_destroy (&rig->link);
    bus_inbox_destroy (&rig->inbox);
    store_close (&rig->store);
    zhashx_destroy (&rig->ids);
}

//  Count one event.create by its payload's n, once per id: a redelivered
//  event (a batch sent again under a new id after a restart) is dropped by
//  its own id, as the rules actor does
static void
s_count (s_rig_t *rig, proto_envelope_t *command)
{
    char id[PROTO_UUID_STR_SIZE];
    proto_uuid_format (proto_envelope_id (command), id);
    if (zhashx_lookup (rig->ids, id))
        return;
    zhashx_insert (rig->ids, id, (void *)1);
    json_t *body = proto_envelope_payload_json (command, NULL);
    cr_expect_str_eq (proto_envelope_type (command), "event.create");
    cr_expect_str_eq (json_string_value (json_object_get (body, "trigger")), "test.t");
    json_int_t n =
        json_integer_value (json_object_get (json_object_get (body, "payload"), "n"));
    json_decref (body);
    if (n >= 0 && n < 600)
        rig->seen[n]++;
    rig->total++;
}

//  The inbox: each event.create, alone or in a batch (each of its events
//  the bytes of one event.create envelope)
static int
s_handler (void *arg, store_txn_t *txn, proto_envelope_t *command, bus_command_t *info)
{
    s_rig_t *rig = (s_rig_t *)arg;
    if (!streq (proto_envelope_type (command), "event.create.batch")) {
        s_count (rig, command);
        return 0;
    }
    if (rig->refuse_batches)
        return bus_command_reject (info, "bad_request",
                                   "rules.commands takes event.create, not %s",
                                   proto_envelope_type (command));
    rig->batches++;
    const msgpack_object *events =
        proto_map_get (proto_envelope_payload_object (command), "events");
    cr_assert (events && events->type == MSGPACK_OBJECT_ARRAY);
    cr_expect_leq (events->via.array.size, 256);
    for (uint32_t i = 0; i < events->via.array.size; i++) {
        const msgpack_object *item = &events->via.array.ptr[i];
        cr_assert_eq (item->type, MSGPACK_OBJECT_BIN);
        proto_envelope_t *event =
            proto_envelope_decode (item->via.bin.ptr, item->via.bin.size, NULL, NULL);
        cr_assert_not_null (event);
        s_count (rig, event);
        proto_envelope_destroy (&event);
    }
    return 0;
}

//  Pump until `acked` events wait for their rows to go (or 5 s)
static void
s_pump (s_rig_t *rig, size_t acked)
{
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline && event_outbox_acked (rig->outbox) < acked) {
        event_outbox_pump (rig->outbox);
        if (zsock_events (bus_inbox_sock (rig->inbox)) & ZMQ_POLLIN)
            bus_inbox_process (rig->inbox, s_handler, rig);
        while (zsock_events (bus_link_sock (rig->link)) & ZMQ_POLLIN)
            bus_link_handle (rig->link);
        bus_link_tick (rig->link);
        zclock_sleep (1);
    }
}

typedef struct {
    s_rig_t *rig;
    int from, to; //  events n in [from, to)
    bool flush;
    bool fail; //  the transaction fails after its work
} s_job_t;

static int
s_write_fn (store_txn_t *txn, void *arg)
{
    s_job_t *job = (s_job_t *)arg;
    event_outbox_attempt (job->rig->outbox);
    for (int n = job->from; n < job->to; n++)
        if (event_outbox_add (job->rig->outbox, txn, "test.t",
                              json_pack ("{s:i}", "n", n)))
            return -1;
    if (job->flush && event_outbox_flush (job->rig->outbox, txn) < 0)
        return -1;
    return job->fail ? -1 : 0;
}

static store_code_t
s_write (s_rig_t *rig, int from, int to, bool flush, bool fail)
{
    s_job_t job = {rig, from, to, flush, fail};
    store_code_t code = store_write (rig->store, s_write_fn, &job);
    if (code == STORE_OK)
        event_outbox_committed (rig->outbox);
    else
        event_outbox_attempt (rig->outbox);
    return code;
}

static size_t
s_rows (s_rig_t *rig)
{
    store_txn_t *txn = store_read_begin (rig->store);
    store_cursor_t *cursor =
        store_cursor_new (txn, store_table (rig->store, "outbox", false));
    size_t rows = 0;
    for (store_code_t code = store_cursor_first (cursor); code == STORE_OK;
         code = store_cursor_next (cursor))
        rows++;
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    return rows;
}

static const char *
s_inproc (void)
{
    static char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "inproc://outbox-%d-%d", getpid (), ++s_counter);
    return endpoint;
}

Test (event_outbox, acked_rows_go_with_the_next_transaction_and_only_when_it_commits)
{
    s_rig_t rig = {0};
    s_rig_open (&rig, s_inproc (), true);
    //  A failed transaction leaves neither rows nor events
    cr_assert_neq (s_write (&rig, 0, 2, false, true), STORE_OK);
    cr_assert_eq (s_rows (&rig), 0);
    cr_assert_eq (event_outbox_size (rig.outbox), 0);
    cr_assert_eq (s_write (&rig, 0, 3, false, false), STORE_OK);
    cr_assert_eq (s_rows (&rig), 3, "durable from the commit");
    s_pump (&rig, 3);
    cr_assert_eq (event_outbox_acked (rig.outbox), 3);
    cr_expect (rig.seen[0] == 1 && rig.seen[1] == 1 && rig.seen[2] == 1 && rig.total == 3,
               "each event once (%d in all)", rig.total);
    //  Deleted by a transaction that fails: the rows stay, acked again,
    //  and a transaction without a flush commits them to nothing
    cr_assert_neq (s_write (&rig, 0, 0, true, true), STORE_OK);
    cr_assert_eq (s_write (&rig, 3, 4, false, false), STORE_OK);
    cr_assert_eq (event_outbox_acked (rig.outbox), 3);
    cr_assert_eq (s_rows (&rig), 4);
    //  The next one that flushes and commits takes them
    cr_assert_eq (s_write (&rig, 0, 0, true, false), STORE_OK);
    cr_assert_eq (event_outbox_acked (rig.outbox), 0);
    cr_assert_eq (s_rows (&rig), 1, "only the new event's row is left");
    //  No flush: the outbox's own write takes it 50 ms after its ack
    s_pump (&rig, 1);
    int64_t deadline = zclock_mono () + 5000;
    while (s_rows (&rig) && zclock_mono () < deadline) {
        event_outbox_pump (rig.outbox);
        zclock_sleep (5);
    }
    cr_expect_eq (s_rows (&rig), 0);
    cr_expect_eq (rig.seen[3], 1);
    s_rig_close (&rig);
}

Test (event_outbox, what_was_not_acked_is_sent_after_a_restart)
{
    const char *endpoint = s_inproc ();
    s_rig_t rig = {0};
    s_rig_open (&rig, endpoint, false); //  the receiver is away
    cr_assert_eq (s_write (&rig, 0, 2, false, false), STORE_OK);
    event_outbox_pump (rig.outbox);
    s_rig_close (&rig);
    s_rig_open (&rig, endpoint, true);
    cr_assert_eq (event_outbox_size (rig.outbox), 2, "both queued again");
    s_pump (&rig, 2);
    cr_expect (rig.seen[0] == 1 && rig.seen[1] == 1);
    cr_assert_eq (s_write (&rig, 0, 0, true, false), STORE_OK);
    cr_expect_eq (s_rows (&rig), 0);
    s_rig_close (&rig);
}

Test (event_outbox, many_events_go_in_batches_each_delivered_once)
{
    s_rig_t rig = {0};
    s_rig_open (&rig, s_inproc (), true);
    cr_assert_eq (s_write (&rig, 0, 520, false, false), STORE_OK);
    s_pump (&rig, 520);
    cr_assert_eq (event_outbox_acked (rig.outbox), 520);
    int once = 0;
    for (int n = 0; n < 520; n++)
        once += rig.seen[n] == 1;
    cr_expect_eq (once, 520, "each event once");
    cr_expect_eq (rig.total, 520);
    //  At most 256 a batch, and far fewer commands than events
    cr_expect (rig.batches >= 3 && rig.batches <= 20, "%d batches", rig.batches);
    cr_assert_eq (s_write (&rig, 0, 0, true, false), STORE_OK);
    cr_expect_eq (s_rows (&rig), 0);
    s_rig_close (&rig);
}

Test (event_outbox, a_receiver_that_refuses_batches_gets_every_event_alone)
{
    //  A rules actor older than event.create.batch refuses it: the events
    //  it held are sent again one by one, and so is everything after
    s_rig_t rig = {0};
    rig.refuse_batches = true;
    s_rig_open (&rig, s_inproc (), true);
    cr_assert_eq (s_write (&rig, 0, 40, false, false), STORE_OK);
    s_pump (&rig, 40);
    cr_assert_eq (s_write (&rig, 40, 45, false, false), STORE_OK);
    s_pump (&rig, 45);
    cr_assert_eq (event_outbox_acked (rig.outbox), 45);
    int once = 0;
    for (int n = 0; n < 45; n++)
        once += rig.seen[n] == 1;
    cr_expect_eq (once, 45, "each event once, none lost with the refused batch");
    cr_expect_eq (rig.total, 45);
    cr_expect_eq (rig.batches, 0);
    cr_expect_eq (event_outbox_size (rig.outbox), 0);
    cr_assert_eq (s_write (&rig, 0, 0, true, false), STORE_OK);
    cr_expect_eq (s_rows (&rig), 0);
    s_rig_close (&rig);
}

typedef struct {
    s_rig_t *rig;
    const uint8_t *packed;
    size_t size;
    int rc;
} s_packed_t;

static int
s_packed_fn (store_txn_t *txn, void *arg)
{
    s_packed_t *job = (s_packed_t *)arg;
    event_outbox_attempt (job->rig->outbox);
    job->rc =
        event_outbox_add_packed (job->rig->outbox, txn, "test.t", job->packed, job->size);
    return job->rc;
}

//  {"n": [[...[1]...]]} with `arrays` arrays, packed into `out`
static size_t
s_nested (uint8_t *out, int arrays)
{
    size_t size = 0;
    out[size++] = 0x81;
    out[size++] = 0xa1;
    out[size++] = 'n';
    for (int i = 0; i < arrays; i++)
        out[size++] = 0x91;
    out[size++] = 0x01;
    return size;
}

Test (event_outbox, a_payload_too_deep_for_the_envelope_is_refused)
{
    s_rig_t rig = {0};
    s_rig_open (&rig, s_inproc (), false);
    //  As deep as a payload may be, so one level too deep as event.create's
    //  payload.payload
    uint8_t packed[64];
    size_t size = s_nested (packed, PROTO_MAX_DEPTH - 2);
    cr_assert_eq (
        proto_msgpack_validate (packed, size, PROTO_MAX_DEPTH - 1, "payload", NULL),
        PROTO_OK, "deep enough alone");
    s_packed_t job = {&rig, packed, size, 0};
    cr_expect_neq (store_write (rig.store, s_packed_fn, &job), STORE_OK);
    cr_expect_eq (job.rc, -1);
    event_outbox_attempt (rig.outbox);
    cr_expect_eq (event_outbox_size (rig.outbox), 0);
    //  One level less is stored
    job.size = s_nested (packed, PROTO_MAX_DEPTH - 3);
    cr_expect_eq (store_write (rig.store, s_packed_fn, &job), STORE_OK);
    event_outbox_committed (rig.outbox);
    cr_expect_eq (event_outbox_size (rig.outbox), 1);
    s_rig_close (&rig);
}
