/*  test_bus_link: the reliable command link (bus_link -> bus_inbox).

    Delivery order, duplicates, rejections, backpressure, heartbeats and a
    receiver SIGKILLed and restarted mid-stream (tests/helper_bus_receiver).
*/
#include "tests/testing.h"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bus/bus_inbox.h"
#include "bus/bus_link.h"

static char s_root[PATH_MAX - 256];
static int s_counter;
static pid_t s_receiver; //  the helper process, killed at teardown if still up

static void
s_setup (void)
{
    testing_tmpdir (s_root, sizeof s_root, "test_bus_link");
}

static void
s_teardown (void)
{
    if (s_receiver > 0 && kill (s_receiver, SIGKILL) == 0)
        waitpid (s_receiver, NULL, 0);
    s_receiver = 0;
    testing_rmtree (s_root);
}

TestSuite (bus_link, .init = s_setup, .fini = s_teardown, .timeout = 90);

static bus_link_config_t
s_config (int heartbeat_ms)
{
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    config.heartbeat_ms = heartbeat_ms;
    config.resend_ms = 200;
    return config;
}

static const char *
s_inproc (void)
{
    static char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "inproc://link-%d-%d", getpid (), ++s_counter);
    return endpoint;
}

static proto_envelope_t *
s_command (const char *source, int n)
{
    proto_envelope_t *envelope = proto_envelope_new ("test.command", source);
    json_t *payload = json_pack ("{s:i}", "n", n);
    cr_assert_eq (proto_envelope_set_payload_json (envelope, payload, NULL), PROTO_OK);
    json_decref (payload);
    return envelope;
}

//  What the handler saw
typedef struct {
    int count;
    int n[20000];
    char peer[20000][32];
    int reject_n; //  reject this n (-1: none)
} s_seen_t;

static int
s_handler (void *arg, store_txn_t *txn, proto_envelope_t *command, bus_command_t *info)
{
    s_seen_t *seen = (s_seen_t *)arg;
    json_t *payload = proto_envelope_payload_json (command, NULL);
    int n = (int)json_integer_value (json_object_get (payload, "n"));
    json_decref (payload);
    if (n == seen->reject_n)
        return bus_command_reject (info, "test_reject", "n %d is not welcome", n);
    if (seen->count < 20000) {
        seen->n[seen->count] = n;
        snprintf (seen->peer[seen->count], 32, "%s", info->peer);
        seen->count++;
    }
    return 0;
}

//  Service links and an inbox for `ms` milliseconds, or until `until`
//  (if given) returns true.
typedef bool (s_until_fn) (void *arg);

static void
s_pump (bus_link_t **links, int nlinks, bus_inbox_t *inbox, s_seen_t *seen, int ms,
        s_until_fn *until, void *arg)
{
    zpoller_t *poller = zpoller_new (NULL);
    for (int i = 0; i < nlinks; i++)
        zpoller_add (poller, bus_link_sock (links[i]));
    if (inbox)
        zpoller_add (poller, bus_inbox_sock (inbox));
    int64_t deadline = zclock_mono () + ms;
    while (zclock_mono () < deadline && !(until && until (arg))) {
        void *which = zpoller_wait (poller, 10);
        if (inbox && which == bus_inbox_sock (inbox))
            bus_inbox_process (inbox, s_handler, seen);
        for (int i = 0; i < nlinks; i++) {
            if (which == bus_link_sock (links[i]))
                bus_link_handle (links[i]);
            bus_link_tick (links[i]);
        }
        if (inbox)
            bus_inbox_tick (inbox);
    }
    zpoller_destroy (&poller);
}

static bool
s_all_acked (void *arg)
{
    bus_link_t **links = (bus_link_t **)arg;
    for (int i = 0; links[i]; i++)
        if (bus_link_unacked (links[i]))
            return false;
    return true;
}

Test (bus_link, delivers_every_command_once_in_order)
{
    const char *endpoint = s_inproc ();
    bus_link_config_t config = s_config (200);
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "in", NULL, &config);
    bus_link_t *link = bus_link_new (endpoint, "sender@test", &config);
    cr_assert (inbox && link);
    s_seen_t *seen = (s_seen_t *)calloc (1, sizeof (s_seen_t));
    seen->reject_n = -1;
    for (int i = 0; i < 3000; i++) {
        proto_envelope_t *command = s_command ("sender@test", i);
        while (!bus_link_can_send (link))
            s_pump (&link, 1, inbox, seen, 5, NULL, NULL);
        cr_assert_eq (bus_link_send (link, &command), 0);
        cr_assert_null (command, "send takes the envelope");
    }
    bus_link_t *links[] = {link, NULL};
    s_pump (links, 1, inbox, seen, 10000, s_all_acked, links);
    cr_assert_eq (bus_link_unacked (link), 0);
    cr_assert_eq (seen->count, 3000);
    for (int i = 0; i < 3000; i++)
        cr_assert_eq (seen->n[i], i, "command %d in order", i);
    cr_assert_eq (bus_inbox_delivered (inbox), 3000);
    cr_assert_eq (bus_link_acked (link), 3000);
    free (seen);
    bus_link_destroy (&link);
    cr_assert_null (link);
    bus_inbox_destroy (&inbox);
}

//  Encoded once by the sender (as rules sends its stored outbox bytes):
//  delivered and acked like any envelope, interleaved in order with plain
//  sends; bytes over the frame limit never enter the ring
Test (bus_link, sends_encoded_bytes_as_they_are)
{
    const char *endpoint = s_inproc ();
    bus_link_config_t config = s_config (200);
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "in", NULL, &config);
    bus_link_t *link = bus_link_new (endpoint, "sender@test", &config);
    cr_assert (inbox && link);
    s_seen_t *seen = (s_seen_t *)calloc (1, sizeof (s_seen_t));
    seen->reject_n = -1;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    for (int i = 0; i < 100; i++) {
        proto_envelope_t *command = s_command ("sender@test", i);
        if (i % 2) {
            cr_assert_eq (bus_link_send (link, &command), 0);
            continue;
        }
        msgpack_sbuffer_clear (&buffer);
        cr_assert_eq (proto_envelope_encode (command, &buffer), 0);
        uint8_t *data = (uint8_t *)malloc (buffer.size);
        memcpy (data, buffer.data, buffer.size);
        cr_assert_eq (
            bus_link_send_encoded (link, proto_envelope_id (command), &data, buffer.size),
            0);
        cr_assert_null (data, "the link takes the bytes");
        proto_envelope_destroy (&command);
    }
    msgpack_sbuffer_destroy (&buffer);
    uint8_t id[PROTO_UUID_SIZE] = {1};
    uint8_t *huge = (uint8_t *)calloc (1, PROTO_MAX_FRAME + 1);
    cr_assert_eq (bus_link_send_encoded (link, id, &huge, PROTO_MAX_FRAME + 1), -1);
    cr_assert_eq (errno, EMSGSIZE);
    cr_assert_not_null (huge, "refused bytes stay with the caller");
    free (huge);
    bus_link_t *links[] = {link, NULL};
    s_pump (links, 1, inbox, seen, 10000, s_all_acked, links);
    cr_assert_eq (bus_link_unacked (link), 0);
    cr_assert_eq (seen->count, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq (seen->n[i], i, "command %d in order", i);
    free (seen);
    bus_link_destroy (&link);
    bus_inbox_destroy (&inbox);
}

Test (bus_link, keeps_per_sender_order_with_two_senders)
{
    const char *endpoint = s_inproc ();
    bus_link_config_t config = s_config (200);
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "in", NULL, &config);
    bus_link_t *links[3] = {bus_link_new (endpoint, "a@test", &config),
                            bus_link_new (endpoint, "b@test", &config), NULL};
    s_seen_t *seen = (s_seen_t *)calloc (1, sizeof (s_seen_t));
    seen->reject_n = -1;
    for (int i = 0; i < 500; i++)
        for (int l = 0; l < 2; l++) {
            proto_envelope_t *command = s_command (l ? "b@test" : "a@test", i);
            cr_assert_eq (bus_link_send (links[l], &command), 0);
        }
    s_pump (links, 2, inbox, seen, 10000, s_all_acked, links);
    cr_assert_eq (seen->count, 1000);
    int next_a = 0, next_b = 0;
    for (int i = 0; i < seen->count; i++) {
        int *next = streq (seen->peer[i], "a@test") ? &next_a : &next_b;
        cr_assert_eq (seen->n[i], *next, "per-sender order (%s)", seen->peer[i]);
        (*next)++;
    }
    cr_assert_eq (next_a, 500);
    cr_assert_eq (next_b, 500);
    free (seen);
    bus_link_destroy (&links[0]);
    bus_link_destroy (&links[1]);
    bus_inbox_destroy (&inbox);
}

static int s_rejects;
static char s_reject_code[64];
static void
s_on_reject (void *arg, const proto_envelope_t *command, const char *code,
             const char *message)
{
    s_rejects++;
    snprintf (s_reject_code, sizeof s_reject_code, "%s", code);
}

Test (bus_link, rejected_command_is_reported_not_resent)
{
    const char *endpoint = s_inproc ();
    bus_link_config_t config = s_config (200);
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "in", NULL, &config);
    bus_link_t *links[2] = {bus_link_new (endpoint, "r@test", &config), NULL};
    bus_link_set_reject_handler (links[0], s_on_reject, NULL);
    s_rejects = 0;
    s_seen_t *seen = (s_seen_t *)calloc (1, sizeof (s_seen_t));
    seen->reject_n = 5;
    for (int i = 0; i < 10; i++) {
        proto_envelope_t *command = s_command ("r@test", i);
        cr_assert_eq (bus_link_send (links[0], &command), 0);
    }
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    s_pump (links, 1, inbox, seen, 600, NULL, NULL); //  past a resend interval
    cr_assert_eq (s_rejects, 1);
    cr_assert_str_eq (s_reject_code, "test_reject");
    cr_assert_eq (seen->count, 9, "the others are delivered");
    cr_assert_eq (bus_inbox_rejected (inbox), 1);
    cr_assert_eq (bus_link_resent (links[0]), 0, "a rejected command is not resent");
    free (seen);
    bus_link_destroy (&links[0]);
    bus_inbox_destroy (&inbox);
}

Test (bus_link, same_envelope_id_from_a_restarted_sender_is_dropped)
{
    const char *endpoint = s_inproc ();
    char dir[PATH_MAX + 16];
    snprintf (dir, sizeof dir, "%s/store", s_root);
    store_code_t code;
    store_t *store = store_open (dir, NULL, &code, NULL, 0);
    cr_assert_not_null (store);
    bus_link_config_t config = s_config (200);
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "in", store, &config);
    s_seen_t *seen = (s_seen_t *)calloc (1, sizeof (s_seen_t));
    seen->reject_n = -1;
    proto_envelope_t *original = s_command ("d@test", 7);
    proto_envelope_t *copy = proto_envelope_dup (original);
    bus_link_t *links[2] = {bus_link_new (endpoint, "d@test", &config), NULL};
    cr_assert_eq (bus_link_send (links[0], &original), 0);
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    bus_link_destroy (&links[0]);
    //  The sender restarts (new epoch) and resends the same envelope
    zclock_sleep (2); //  a new epoch (start time in usec) is guaranteed to differ
    links[0] = bus_link_new (endpoint, "d@test", &config);
    cr_assert_eq (bus_link_send (links[0], &copy), 0);
    proto_envelope_t *next = s_command ("d@test", 8);
    cr_assert_eq (bus_link_send (links[0], &next), 0);
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    cr_assert_eq (seen->count, 2, "7 once, then 8");
    cr_assert_eq (seen->n[0], 7);
    cr_assert_eq (seen->n[1], 8);
    cr_assert_geq (bus_inbox_duplicates (inbox), 1);
    free (seen);
    bus_link_destroy (&links[0]);
    bus_inbox_destroy (&inbox);
    store_close (&store);
}

Test (bus_link, a_type_whose_handler_dedups_is_not_kept_in_the_seen_table)
{
    const char *endpoint = s_inproc ();
    char dir[PATH_MAX + 16];
    snprintf (dir, sizeof dir, "%s/store", s_root);
    store_code_t code;
    store_t *store = store_open (dir, NULL, &code, NULL, 0);
    cr_assert_not_null (store);
    bus_link_config_t config = s_config (200);
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "in", store, &config);
    cr_assert_eq (bus_inbox_set_handler_dedups (inbox, "test.command"), 0);
    s_seen_t *seen = (s_seen_t *)calloc (1, sizeof (s_seen_t));
    seen->reject_n = -1;
    proto_envelope_t *original = s_command ("d@test", 7);
    proto_envelope_t *copy = proto_envelope_dup (original);
    proto_envelope_t *other = proto_envelope_new ("test.other", "d@test");
    proto_envelope_t *other_copy = proto_envelope_dup (other);
    bus_link_t *links[2] = {bus_link_new (endpoint, "d@test", &config), NULL};
    cr_assert_eq (bus_link_send (links[0], &original), 0);
    cr_assert_eq (bus_link_send (links[0], &other), 0);
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    bus_link_destroy (&links[0]);
    //  The sender restarts (new epoch) and resends both envelopes: the
    //  inbox drops the other type by id, and hands test.command to the
    //  handler again (dropping it is the handler's job now)
    zclock_sleep (2);
    links[0] = bus_link_new (endpoint, "d@test", &config);
    cr_assert_eq (bus_link_send (links[0], &copy), 0);
    cr_assert_eq (bus_link_send (links[0], &other_copy), 0);
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    cr_assert_eq (seen->count, 3, "7, other, then 7 again (other dropped by id)");
    cr_assert_eq (seen->n[0], 7);
    cr_assert_eq (seen->n[2], 7);
    cr_assert_eq (bus_inbox_duplicates (inbox), 1);
    //  Only the other type's id is in the seen table
    store_table_t *table = store_table (store, "inbox.in.seen", false);
    cr_assert_not_null (table);
    store_txn_t *txn = store_read_begin (store);
    cr_assert_eq (store_count (txn, table), 1);
    store_read_end (&txn);
    //  At most four types
    cr_assert_eq (bus_inbox_set_handler_dedups (inbox, "a"), 0);
    cr_assert_eq (bus_inbox_set_handler_dedups (inbox, "b"), 0);
    cr_assert_eq (bus_inbox_set_handler_dedups (inbox, "c"), 0);
    cr_assert_eq (bus_inbox_set_handler_dedups (inbox, "d"), -1);
    free (seen);
    bus_link_destroy (&links[0]);
    bus_inbox_destroy (&inbox);
    store_close (&store);
}

static int
s_fill_legacy (store_txn_t *txn, void *arg)
{
    store_table_t *table = (store_table_t *)arg;
    for (uint64_t i = 1; i <= 2500; i++) {
        uint8_t key[8 + PROTO_UUID_SIZE] = {0};
        store_id_key (i, key);
        if (store_put (txn, table, key, sizeof key, "\xc0", 1) != STORE_OK)
            return -1;
    }
    return 0;
}

Test (bus_link, processed_ids_are_forgotten_after_the_retention)
{
    const char *endpoint = s_inproc ();
    char dir[PATH_MAX + 16];
    snprintf (dir, sizeof dir, "%s/store", s_root);
    store_code_t code;
    store_t *store = store_open (dir, NULL, &code, NULL, 0);
    cr_assert_not_null (store);
    //  The dedup table of an earlier version, left over: emptied
    store_table_t *legacy = store_table (store, "inbox.in.seen_ts", false);
    cr_assert_not_null (legacy);
    cr_assert_eq (store_write (store, s_fill_legacy, legacy), STORE_OK);
    bus_link_config_t config = s_config (200);
    config.dedup_retention_s = 1;
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "in", store, &config);
    s_seen_t *seen = (s_seen_t *)calloc (1, sizeof (s_seen_t));
    seen->reject_n = -1;
    proto_envelope_t *original = s_command ("r@test", 7);
    proto_envelope_t *copy = proto_envelope_dup (original);
    proto_envelope_t *late = proto_envelope_dup (original);
    bus_link_t *links[2] = {bus_link_new (endpoint, "r@test", &config), NULL};
    cr_assert_eq (bus_link_send (links[0], &original), 0);
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    bus_link_destroy (&links[0]);
    //  Within the retention: a restarted sender's copy is a duplicate
    zclock_sleep (2);
    links[0] = bus_link_new (endpoint, "r@test", &config);
    cr_assert_eq (bus_link_send (links[0], &copy), 0);
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    cr_assert_eq (seen->count, 1);
    cr_assert_eq (bus_inbox_duplicates (inbox), 1);
    //  Past it (and a prune tick later), the id is forgotten: processed again
    s_pump (links, 1, inbox, seen, 2600, NULL, NULL);
    bus_link_destroy (&links[0]);
    zclock_sleep (2);
    links[0] = bus_link_new (endpoint, "r@test", &config);
    cr_assert_eq (bus_link_send (links[0], &late), 0);
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    cr_assert_eq (seen->count, 2, "forgotten after the retention");
    cr_assert_eq (seen->n[1], 7);
    store_txn_t *txn = store_read_begin (store);
    cr_assert_eq (store_count (txn, legacy), 0, "the legacy table is emptied");
    store_read_end (&txn);
    free (seen);
    bus_link_destroy (&links[0]);
    bus_inbox_destroy (&inbox);
    store_close (&store);
}

Test (bus_link, backpressure_blocks_never_drops)
{
    const char *endpoint = s_inproc ();
    bus_link_config_t config = s_config (200);
    config.window = 8;
    config.send_timeout_ms = 100;
    bus_link_t *links[2] = {bus_link_new (endpoint, "bp@test", &config), NULL};
    for (int i = 0; i < 8; i++) {
        proto_envelope_t *command = s_command ("bp@test", i);
        cr_assert_eq (bus_link_send (links[0], &command), 0);
    }
    cr_assert_not (bus_link_can_send (links[0]));
    proto_envelope_t *ninth = s_command ("bp@test", 8);
    int64_t start = zclock_mono ();
    cr_assert_eq (bus_link_send (links[0], &ninth), -1, "the window is full");
    cr_assert_geq (zclock_mono () - start, 90, "it waited for the window");
    cr_assert_not_null (ninth, "the caller keeps the envelope");
    cr_assert_eq (bus_link_unacked (links[0]), 8);
    //  The receiver appears: everything arrives, then the ninth fits
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "in", NULL, &config);
    s_seen_t *seen = (s_seen_t *)calloc (1, sizeof (s_seen_t));
    seen->reject_n = -1;
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    cr_assert_eq (bus_link_send (links[0], &ninth), 0);
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    cr_assert_eq (seen->count, 9);
    for (int i = 0; i < 9; i++)
        cr_assert_eq (seen->n[i], i);
    free (seen);
    bus_link_destroy (&links[0]);
    bus_inbox_destroy (&inbox);
}

//  Peer events
typedef struct {
    int up, down;
    int64_t down_at;
} s_peer_t;

static void
s_on_peer (void *arg, const char *peer, bus_peer_event_t event)
{
    s_peer_t *peer_state = (s_peer_t *)arg;
    if (event == BUS_PEER_UP)
        peer_state->up++;
    else {
        peer_state->down++;
        peer_state->down_at = zclock_mono ();
    }
}

static bool
s_is_down (void *arg)
{
    return ((s_peer_t *)arg)->down > 0;
}

static bool
s_is_up_again (void *arg)
{
    return ((s_peer_t *)arg)->up > 1;
}

Test (bus_link, silent_peer_detected_and_back)
{
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", testing_free_port ());
    bus_link_config_t config = s_config (100); //  liveness 3: 300 ms
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "in", NULL, &config);
    cr_assert_not_null (inbox);
    bus_link_t *links[2] = {bus_link_new (endpoint, "hb@test", &config), NULL};
    s_peer_t link_peer = {0}, inbox_peer = {0};
    bus_link_set_peer_handler (links[0], s_on_peer, &link_peer);
    bus_inbox_set_peer_handler (inbox, s_on_peer, &inbox_peer);
    s_seen_t *seen = (s_seen_t *)calloc (1, sizeof (s_seen_t));
    seen->reject_n = -1;
    proto_envelope_t *command = s_command ("hb@test", 1);
    bus_link_send (links[0], &command);
    s_pump (links, 1, inbox, seen, 3000, s_all_acked, links);
    cr_assert (bus_link_peer_alive (links[0]));
    cr_assert (bus_inbox_peer_alive (inbox, "hb@test"));
    //  Quiet but alive: heartbeats keep both sides up
    s_pump (links, 1, inbox, seen, 800, NULL, NULL);
    cr_assert_eq (link_peer.down, 0, "heartbeats keep an idle link alive");
    cr_assert (bus_inbox_peer_alive (inbox, "hb@test"));

    //  The receiver goes away: declared dead within interval x liveness
    bus_inbox_destroy (&inbox);
    int64_t gone = zclock_mono ();
    s_pump (links, 1, NULL, seen, 3000, s_is_down, &link_peer);
    cr_assert_eq (link_peer.down, 1);
    cr_assert_leq (link_peer.down_at - gone, 300 + 700, "detected in %d ms",
                   (int)(link_peer.down_at - gone));
    cr_assert_not (bus_link_peer_alive (links[0]));
    //  Commands sent meanwhile are kept, and go out when it is back
    command = s_command ("hb@test", 2);
    cr_assert_eq (bus_link_send (links[0], &command), 0);
    //  (the old socket releases its port asynchronously: retry the bind)
    for (int attempt = 0; !inbox && attempt < 50; attempt++) {
        inbox = bus_inbox_new (endpoint, "in", NULL, &config);
        if (!inbox)
            s_pump (links, 1, NULL, seen, 100, NULL, NULL);
    }
    cr_assert_not_null (inbox);
    s_pump (links, 1, inbox, seen, 5000, s_is_up_again, &link_peer);
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    cr_assert_gt (link_peer.up, 1, "the peer is back");
    cr_assert_eq (seen->count, 2);
    cr_assert_eq (seen->n[1], 2);

    //  And the receiver sees a silent sender
    s_peer_t second = {0};
    bus_inbox_set_peer_handler (inbox, s_on_peer, &second);
    bus_link_destroy (&links[0]);
    s_pump (links, 0, inbox, seen, 3000, s_is_down, &second);
    cr_assert_eq (second.down, 1, "the inbox declared the sender gone");
    cr_assert_not (bus_inbox_peer_alive (inbox, "hb@test"));
    free (seen);
    bus_inbox_destroy (&inbox);
}

Test (bus_link, hostile_frames_do_not_stop_the_inbox)
{
    const char *endpoint = s_inproc ();
    bus_link_config_t config = s_config (200);
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "in", NULL, &config);
    zsock_t *raw = zsock_new (ZMQ_DEALER);
    zsock_set_identity (raw, "evil@test");
    cr_assert_eq (zsock_connect (raw, "%s", endpoint), 0);
    uint8_t header[24] = {0};
    header[7] = 1;  //  epoch 1
    header[15] = 1; //  seq 1
    header[23] = 1; //  base 1
    zmsg_t *msg;
    //  Garbage in every shape
    zstr_send (raw, "");
    zstr_send (raw, "XYZ");
    zstr_send (raw, "CMD");
    zsock_send (raw, "sb", "CMD", header, (size_t)5);
    zsock_send (raw, "sbb", "CMD", header, (size_t)24, "\xc1\xc1\xc1", (size_t)3);
    s_seen_t *seen = (s_seen_t *)calloc (1, sizeof (s_seen_t));
    seen->reject_n = -1;
    s_pump (NULL, 0, inbox, seen, 500, NULL, NULL);
    cr_assert_eq (seen->count, 0);
    cr_assert_geq (bus_inbox_malformed (inbox) + bus_inbox_rejected (inbox), 4);
    //  The undecodable envelope in a well-formed CMD gets an ERR back
    bool err = false;
    while ((msg = zmsg_recv_nowait (raw))) {
        char *kind = zmsg_popstr (msg);
        if (kind && streq (kind, "ERR"))
            err = true;
        zstr_free (&kind);
        zmsg_destroy (&msg);
    }
    cr_assert (err, "an ERR reply for the bad envelope");
    //  The inbox still serves a proper sender
    bus_link_t *links[2] = {bus_link_new (endpoint, "good@test", &config), NULL};
    proto_envelope_t *command = s_command ("good@test", 42);
    bus_link_send (links[0], &command);
    s_pump (links, 1, inbox, seen, 5000, s_all_acked, links);
    cr_assert_eq (seen->count, 1);
    cr_assert_eq (seen->n[0], 42);
    free (seen);
    zsock_destroy (&raw);
    bus_link_destroy (&links[0]);
    bus_inbox_destroy (&inbox);
}

//  ---------------------------------------------------------------------------
//  A receiver killed mid-stream and restarted: every command exactly once

static pid_t
s_spawn_receiver (const char *endpoint, const char *dir)
{
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        execl (ATTUNE_HELPER_DIR "/helper_bus_receiver", "helper_bus_receiver", endpoint,
               dir, "100", (char *)NULL);
        _exit (127);
    }
    return pid;
}

Test (bus_link, receiver_killed_mid_stream_gets_everything_exactly_once)
{
    char endpoint[64], dir[PATH_MAX + 16];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", testing_free_port ());
    snprintf (dir, sizeof dir, "%s/receiver", s_root);
    pid_t receiver = s_spawn_receiver (endpoint, dir);
    bus_link_config_t config = s_config (100);
    config.window = 256;
    bus_link_t *links[2] = {bus_link_new (endpoint, "stream@test", &config), NULL};
    const int total = 5000;
    int kills = 0;
    for (int i = 0; i < total; i++) {
        proto_envelope_t *command = s_command ("stream@test", i);
        while (!bus_link_can_send (links[0]))
            s_pump (links, 1, NULL, NULL, 5, NULL, NULL);
        cr_assert_eq (bus_link_send (links[0], &command), 0);
        //  Kill it twice along the way, with commands in flight
        if ((i == total / 3 || i == 2 * total / 3) && bus_link_acked (links[0]) > 0) {
            kill (receiver, SIGKILL);
            waitpid (receiver, NULL, 0);
            kills++;
            receiver = s_spawn_receiver (endpoint, dir);
        }
    }
    s_pump (links, 1, NULL, NULL, 30000, s_all_acked, links);
    cr_assert_eq (bus_link_unacked (links[0]), 0, "all acknowledged");
    cr_assert_eq (kills, 2);
    bus_link_destroy (&links[0]);
    kill (receiver, SIGTERM);
    waitpid (receiver, NULL, 0);
    s_receiver = 0;

    store_code_t code;
    store_t *store = store_open (dir, NULL, &code, NULL, 0);
    cr_assert_not_null (store);
    store_table_t *log = store_table (store, "log", false);
    store_txn_t *txn = store_read_begin (store);
    store_cursor_t *cursor = store_cursor_new (txn, log);
    int expect = 0;
    while (store_cursor_next (cursor) == STORE_OK) {
        size_t size;
        const char *data = (const char *)store_cursor_data (cursor, &size);
        char text[64];
        snprintf (text, sizeof text, "%.*s", (int)size, data);
        char expected[64];
        snprintf (expected, sizeof expected, "stream@test %d", expect);
        cr_assert_str_eq (text, expected, "exactly once, in order");
        expect++;
    }
    cr_assert_eq (expect, total, "%d of %d commands reached the handler", expect, total);
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    store_close (&store);
}

Test (bus_link, oversized_command_is_refused_not_queued)
{
    const char *endpoint = s_inproc ();
    bus_link_config_t config = s_config (200);
    bus_link_t *link = bus_link_new (endpoint, "big@test", &config);
    proto_envelope_t *command = proto_envelope_new ("test.big", "big@test");
    //  A payload just under the frame limit: with the envelope around it the
    //  frame is over, and the receiver would refuse it
    size_t size = PROTO_MAX_FRAME - 16;
    char *text = (char *)malloc (size + 1);
    memset (text, 'a', size);
    text[size] = 0;
    json_t *payload = json_pack ("{s:s}", "text", text);
    free (text);
    proto_code_t code = proto_envelope_set_payload_json (command, payload, NULL);
    json_decref (payload);
    cr_assert_eq (code, PROTO_OK, "the payload alone fits");
    errno = 0;
    cr_assert_eq (bus_link_send (link, &command), -1);
    cr_assert_eq (errno, EMSGSIZE);
    cr_assert_not_null (command, "the caller keeps it");
    cr_assert_eq (bus_link_unacked (link), 0, "nothing entered the ring");
    proto_envelope_destroy (&command);
    bus_link_destroy (&link);
}

//  Heartbeats missed (metrics): none while both sides talk; a silent
//  receiver costs the link at most `liveness` per silence, a silent sender
//  the inbox as many
Test (bus_link, counts_heartbeats_missed)
{
    bus_link_config_t config = s_config (100);
    const char *endpoint = s_inproc ();
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "receiver", NULL, &config);
    bus_link_t *link = bus_link_new (endpoint, "sender", &config);
    cr_assert (inbox && link);
    s_seen_t *seen = (s_seen_t *)calloc (1, sizeof (s_seen_t));
    seen->reject_n = -1;
    s_pump (&link, 1, inbox, seen, 500, NULL, NULL);
    cr_assert (bus_link_peer_alive (link));
    cr_assert_eq (bus_link_heartbeats_missed (link), 0);
    cr_assert_eq (bus_inbox_heartbeats_missed (inbox), 0);
    //  The sender goes quiet: the inbox misses its heartbeats, then drops it
    s_pump (NULL, 0, inbox, seen, 800, NULL, NULL);
    uint64_t inbox_missed = bus_inbox_heartbeats_missed (inbox);
    cr_assert (inbox_missed >= 1 && inbox_missed <= (uint64_t)config.liveness,
               "the inbox counted %" PRIu64, inbox_missed);
    //  The receiver is gone: liveness missed, then no more for that silence
    bus_inbox_destroy (&inbox);
    s_pump (&link, 1, NULL, seen, 1200, NULL, NULL);
    cr_assert (!bus_link_peer_alive (link));
    cr_assert_eq (bus_link_heartbeats_missed (link), (uint64_t)config.liveness);
    bus_link_destroy (&link);
    free (seen);
}
