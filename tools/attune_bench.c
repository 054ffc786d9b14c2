/*  attune-bench: layer benchmarks, each against the raw library in the same run.

    attune-bench [--quick] [--only NAME] [--dir DIR]

    NAME is one of: envelope, facts, link, store. Figures drift between
    machines; the ratios are what to compare (shared/BASELINES.md).
*/
#include <errno.h>
#include <getopt.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>
#include "bus/bus_facts.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"
#include "proto/proto_envelope.h"
#include "store/store.h"

static bool s_quick = false;
static char s_dir[4096] = "";

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
s_row (const char *what, double ours, double raw, const char *unit, double target)
{
    if (raw > 0) {
        double ratio = ours / raw;
        printf ("  %-44s %12.0f %-9s raw %12.0f   ratio %5.2f", what, ours, unit, raw,
                ratio);
        if (target > 0)
            printf ("  (target >= %.2f%s)", target, ratio >= target ? "" : "  MISSED");
        printf ("\n");
    } else
        printf ("  %-44s %12.0f %-9s\n", what, ours, unit);
    fflush (stdout);
}

//  A representative envelope: 6 header fields plus a 2-field payload.
static proto_envelope_t *
s_sample_envelope (void)
{
    proto_envelope_t *env = proto_envelope_new ("execution.completed", "executor@bench");
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "execution", 9);
    msgpack_pack_uint64 (&pk, 123456);
    msgpack_pack_str_with_body (&pk, "status", 6);
    msgpack_pack_str_with_body (&pk, "completed", 9);
    proto_envelope_set_payload (env, buf.data, buf.size, NULL);
    msgpack_sbuffer_destroy (&buf);
    return env;
}

//  ---------------------------------------------------------------------------
//  Envelope codec vs raw msgpack-c on the same map

static void
bench_envelope (void)
{
    printf ("envelope codec\n");
    size_t n = s_quick ? 200000 : 2000000;
    proto_envelope_t *env = s_sample_envelope ();
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);

    double t0 = s_now ();
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        msgpack_sbuffer_clear (&buf);
        proto_envelope_encode (env, &buf);
        proto_envelope_t *copy = proto_envelope_decode (buf.data, buf.size, NULL, NULL);
        if (!copy) {
            fprintf (stderr, "bench: decode failed\n");
            exit (1);
        }
        bytes = buf.size;
        proto_envelope_destroy (&copy);
    }
    double ours = (double)n / (s_now () - t0);

    //  Raw: msgpack_pack_* of the same map into a reused sbuffer and
    //  msgpack_unpack into a reused zone (what BASELINES.md measures).
    msgpack_zone zone;
    msgpack_zone_init (&zone, 2048);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    const uint8_t *id = proto_envelope_id (env);
    t0 = s_now ();
    for (size_t i = 0; i < n; i++) {
        msgpack_sbuffer_clear (&buf);
        msgpack_pack_map (&pk, 9);
        msgpack_pack_str_with_body (&pk, "v", 1);
        msgpack_pack_uint8 (&pk, 1);
        msgpack_pack_str_with_body (&pk, "id", 2);
        msgpack_pack_bin_with_body (&pk, id, 16);
        msgpack_pack_str_with_body (&pk, "type", 4);
        msgpack_pack_str_with_body (&pk, "execution.completed", 19);
        msgpack_pack_str_with_body (&pk, "source", 6);
        msgpack_pack_str_with_body (&pk, "executor@bench", 14);
        msgpack_pack_str_with_body (&pk, "ts", 2);
        msgpack_pack_int64 (&pk, 1700000000000000LL + (int64_t)i);
        msgpack_pack_str_with_body (&pk, "corr", 4);
        msgpack_pack_nil (&pk);
        msgpack_pack_str_with_body (&pk, "trace", 5);
        msgpack_pack_nil (&pk);
        msgpack_pack_str_with_body (&pk, "retry", 5);
        msgpack_pack_uint8 (&pk, 0);
        msgpack_pack_str_with_body (&pk, "payload", 7);
        msgpack_pack_map (&pk, 2);
        msgpack_pack_str_with_body (&pk, "execution", 9);
        msgpack_pack_uint64 (&pk, 123456);
        msgpack_pack_str_with_body (&pk, "status", 6);
        msgpack_pack_str_with_body (&pk, "completed", 9);
        msgpack_object obj;
        size_t off = 0;
        msgpack_zone_clear (&zone);
        if (msgpack_unpack (buf.data, buf.size, &off, &zone, &obj) !=
            MSGPACK_UNPACK_SUCCESS)
            exit (1);
    }
    double raw = (double)n / (s_now () - t0);
    char what[80];
    snprintf (what, sizeof what, "encode+decode (%zu-byte envelope)", bytes);
    s_row (what, ours, raw, "msg/s", 0);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&buf);
    proto_envelope_destroy (&env);
}

//  ---------------------------------------------------------------------------
//  Facts over the bus vs raw PUSH/PULL with the same bytes

typedef struct {
    const char *endpoint;
    size_t count;
    int raw;    //  1: raw PULL socket; 0: bus subscriber
    int decode; //  bus: 1 decode envelopes, 0 recv_raw
    size_t got;
    uint64_t missed;
    zsock_t *ready_pipe;
} sink_args_t;

static void *
s_sink (void *argp)
{
    sink_args_t *args = (sink_args_t *)argp;
    if (args->raw) {
        void *ctx = zsys_init ();
        void *pull = zmq_socket (ctx, ZMQ_PULL);
        int hwm = 0;
        zmq_setsockopt (pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_connect (pull, args->endpoint);
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        for (size_t i = 0; i < args->count; i++) {
            if (zmq_msg_recv (&msg, pull, 0) < 0)
                break;
            args->got++;
        }
        zmq_msg_close (&msg);
        zmq_close (pull);
        return NULL;
    }
    bus_sub_t *sub = bus_sub_new (1000000);
    bus_sub_connect (sub, args->endpoint);
    bus_sub_subscribe (sub, "");
    //  Slow joiner: the publisher sends probes until we confirm one.
    zstr_send (args->ready_pipe, "connected");
    bool signalled = false;
    while (true) {
        bus_fact_info_t info;
        proto_envelope_t *env = bus_sub_recv (sub, &info, 5000);
        if (!env)
            goto done;
        bool probe = streq (proto_envelope_type (env), "bench.probe");
        proto_envelope_destroy (&env);
        if (!probe)
            break;
        if (!signalled) { //  the first probe arrived: the publisher may start
            zstr_send (args->ready_pipe, "ready");
            signalled = true;
        }
    }
    args->got = 1;
    while (args->got < args->count) {
        bus_fact_info_t info;
        if (args->decode) {
            proto_envelope_t *env = bus_sub_recv (sub, &info, 5000);
            if (!env)
                break;
            proto_envelope_destroy (&env);
        } else {
            zframe_t *frame = bus_sub_recv_raw (sub, &info, 5000);
            if (!frame)
                break;
            zframe_destroy (&frame);
        }
        args->got++;
        if (info.seq >= args->count + 1000000) //  keep the compiler honest
            break;
    }
done:
    args->missed = bus_sub_missed (sub);
    bus_sub_destroy (&sub);
    return NULL;
}

static double
s_facts_raw (const char *endpoint, const void *bytes, size_t size, size_t n)
{
    void *ctx = zsys_init ();
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    int hwm = 0;
    zmq_setsockopt (push, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (zmq_bind (push, endpoint) != 0) {
        fprintf (stderr, "bench: bind %s: %s\n", endpoint, zmq_strerror (errno));
        exit (1);
    }
    char resolved[256];
    size_t rlen = sizeof resolved;
    zmq_getsockopt (push, ZMQ_LAST_ENDPOINT, resolved, &rlen);
    sink_args_t args = {.endpoint = resolved, .count = n, .raw = 1};
    pthread_t thread;
    pthread_create (&thread, NULL, s_sink, &args);
    double t0 = s_now ();
    for (size_t i = 0; i < n; i++)
        zmq_send (push, bytes, size, 0);
    pthread_join (thread, NULL);
    double rate = (double)args.got / (s_now () - t0);
    zmq_close (push);
    return rate;
}

static double
s_facts_bus (const char *endpoint, proto_envelope_t *env, size_t n, int decode,
             uint64_t *missed)
{
    //  inproc names are released asynchronously: a fresh one per run
    static int run = 0;
    char unique[128];
    if (strncmp (endpoint, "inproc://", 9) == 0) {
        snprintf (unique, sizeof unique, "%s-%d", endpoint, ++run);
        endpoint = unique;
    }
    bus_pub_t *pub = bus_pub_new (endpoint, 1000000);
    if (!pub) {
        fprintf (stderr, "bench: cannot bind publisher on %s\n", endpoint);
        exit (1);
    }
    char ready[64];
    snprintf (ready, sizeof ready, "inproc://bench-ready-%d", ++run);
    zsock_t *pipe_pub = zsock_new (ZMQ_PAIR);
    zsock_bind (pipe_pub, "%s", ready);
    zsock_t *pipe_sub = zsock_new (ZMQ_PAIR);
    zsock_connect (pipe_sub, "%s", ready);
    sink_args_t args = {.endpoint = bus_pub_endpoint (pub),
                        .count = n,
                        .raw = 0,
                        .decode = decode,
                        .ready_pipe = pipe_sub};
    pthread_t thread;
    pthread_create (&thread, NULL, s_sink, &args);
    char *msg = zstr_recv (pipe_pub);
    zstr_free (&msg);
    proto_envelope_t *probe = proto_envelope_new ("bench.probe", "bench");
    zpoller_t *poller = zpoller_new (pipe_pub, NULL);
    while (!zpoller_wait (poller, 10)) //  until the subscriber sees one
        bus_pub_send (pub, probe);
    msg = zstr_recv (pipe_pub);
    zstr_free (&msg);
    zpoller_destroy (&poller);
    proto_envelope_destroy (&probe);

    double t0 = s_now ();
    bus_pub_send (pub, env); //  the first real one ends the probe phase
    if (decode)
        for (size_t i = 1; i < n; i++)
            bus_pub_send (pub, env);
    else {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        proto_envelope_encode (env, &buf);
        for (size_t i = 1; i < n; i++)
            bus_pub_send_raw (pub, proto_envelope_type (env), buf.data, buf.size);
        msgpack_sbuffer_destroy (&buf);
    }
    pthread_join (thread, NULL);
    double rate = (double)args.got / (s_now () - t0);
    *missed = args.missed;
    zsock_destroy (&pipe_pub);
    zsock_destroy (&pipe_sub);
    bus_pub_destroy (&pub);
    return rate;
}

static void
bench_facts (void)
{
    printf ("facts: bus PUB/SUB vs raw libzmq PUSH/PULL, same envelope bytes\n");
    size_t n = s_quick ? 200000 : 1000000;
    proto_envelope_t *env = s_sample_envelope ();
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    proto_envelope_encode (env, &buf);

    const char *transports[2][2] = {{"inproc", "inproc://bench-facts"},
                                    {"tcp", "tcp://127.0.0.1:*"}};
    for (int t = 0; t < 2; t++) {
        double raw = s_facts_raw (t == 0 ? "inproc://bench-raw" : transports[t][1],
                                  buf.data, buf.size, n);
        uint64_t missed = 0;
        char what[96];
        double ours = s_facts_bus (transports[t][1], env, n, 1, &missed);
        snprintf (what, sizeof what, "%s: publish+decode, %zu-byte envelope",
                  transports[t][0], buf.size);
        s_row (what, ours, raw, "msg/s", 0.5);
        if (missed)
            printf ("    (subscriber reported %llu missed)\n",
                    (unsigned long long)missed);
        ours = s_facts_bus (transports[t][1], env, n, 0, &missed);
        snprintf (what, sizeof what, "%s: transport only (pre-encoded)",
                  transports[t][0]);
        s_row (what, ours, raw, "msg/s", 0.5);
        if (missed)
            printf ("    (subscriber reported %llu missed)\n",
                    (unsigned long long)missed);
    }
    msgpack_sbuffer_destroy (&buf);
    proto_envelope_destroy (&env);
}

//  ---------------------------------------------------------------------------
//  Reliable link: commands/s with acks, durable (store) and in memory

typedef struct {
    bus_inbox_t *inbox;
    volatile int stop;
    size_t delivered;
} inbox_args_t;

static int
s_inbox_handler (void *arg, store_txn_t *txn, proto_envelope_t *command,
                 bus_command_t *info)
{
    return 0;
}

static void *
s_inbox_thread (void *argp)
{
    inbox_args_t *args = (inbox_args_t *)argp;
    zmq_pollitem_t item = {zsock_resolve (bus_inbox_sock (args->inbox)), 0, ZMQ_POLLIN,
                           0};
    while (!args->stop) {
        int timeout = bus_inbox_timeout (args->inbox);
        if (timeout > 50)
            timeout = 50;
        if (zmq_poll (&item, 1, timeout) > 0)
            bus_inbox_process (args->inbox, s_inbox_handler, NULL);
        bus_inbox_tick (args->inbox);
    }
    return NULL;
}

static void
s_link_run (const char *label, const char *endpoint, store_t *store, size_t n)
{
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    bus_inbox_t *inbox = bus_inbox_new (endpoint, "bench", store, &config);
    if (!inbox) {
        fprintf (stderr, "bench: inbox on %s failed\n", endpoint);
        exit (1);
    }
    inbox_args_t args = {.inbox = inbox};
    pthread_t thread;
    pthread_create (&thread, NULL, s_inbox_thread, &args);
    bus_link_t *link = bus_link_new (bus_inbox_endpoint (inbox), "bench-sender", &config);
    double t0 = s_now ();
    for (size_t i = 0; i < n; i++) {
        proto_envelope_t *env = proto_envelope_new ("bench.command", "bench");
        if (bus_link_send (link, &env) != 0) {
            fprintf (stderr, "bench: link send failed\n");
            exit (1);
        }
        zmq_pollitem_t item = {zsock_resolve (bus_link_sock (link)), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 0) > 0)
            bus_link_handle (link);
    }
    if (bus_link_flush (link, 30000) != 0)
        fprintf (stderr, "bench: link flush timed out (%zu unacked)\n",
                 bus_link_unacked (link));
    double rate = (double)n / (s_now () - t0);
    s_row (label, rate, 0, "cmd/s", 0);
    args.stop = 1;
    pthread_join (thread, NULL);
    bus_link_destroy (&link);
    bus_inbox_destroy (&inbox);
}

static void
s_mkdir_fresh (char *out, size_t size, const char *name)
{
    snprintf (out, size, "%s/%s", s_dir, name);
    char cmd[8300];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", out);
    if (system (cmd) != 0)
        exit (1);
    mkdir (out, 0750);
}

static void
bench_link (void)
{
    printf ("reliable link: commands with acks (window 1024)\n");
    size_t n = s_quick ? 50000 : 200000;
    char dir[4200];
    s_mkdir_fresh (dir, sizeof dir, "link");
    store_t *store = store_open (dir, NULL, NULL, NULL, 0);
    if (!store) {
        fprintf (stderr, "bench: store_open %s failed\n", dir);
        exit (1);
    }
    s_link_run ("inproc, durable inbox (LMDB, fsync)", "inproc://bench-link-1", store, n);
    store_close (&store);
    s_link_run ("inproc, in-memory inbox", "inproc://bench-link-2", NULL, n);
    s_mkdir_fresh (dir, sizeof dir, "link-tcp");
    store = store_open (dir, NULL, NULL, NULL, 0);
    s_link_run ("tcp, durable inbox (LMDB, fsync)", "tcp://127.0.0.1:*", store, n);
    store_close (&store);
}

//  ---------------------------------------------------------------------------
//  Store group commit vs raw LMDB, same pattern

typedef struct {
    store_table_t *table;
    size_t puts;
    const uint8_t *value;
    size_t value_size;
} write_args_t;

static int
s_write_batch (store_txn_t *txn, void *argp)
{
    write_args_t *args = (write_args_t *)argp;
    for (size_t i = 0; i < args->puts; i++) {
        uint64_t id;
        if (store_insert (txn, args->table, args->value, args->value_size, &id) !=
            STORE_OK)
            return -1;
    }
    return 0;
}

static double
s_store_ours (const char *name, size_t txns, size_t puts, const uint8_t *value,
              size_t value_size)
{
    char dir[4200];
    s_mkdir_fresh (dir, sizeof dir, name);
    store_config_t config = {.map_size = 1024UL * 1024 * 1024};
    store_t *store = store_open (dir, &config, NULL, NULL, 0);
    if (!store) {
        fprintf (stderr, "bench: store_open %s failed\n", dir);
        exit (1);
    }
    write_args_t args = {store_table (store, "bench", false), puts, value, value_size};
    double t0 = s_now ();
    for (size_t t = 0; t < txns; t++)
        if (store_write (store, s_write_batch, &args) != STORE_OK) {
            fprintf (stderr, "bench: store_write: %s\n", store_last_error (store));
            exit (1);
        }
    double rate = (double)(txns * puts) / (s_now () - t0);
    store_close (&store);
    return rate;
}

static double
s_store_raw (const char *name, size_t txns, size_t puts, const uint8_t *value,
             size_t value_size)
{
    char dir[4200];
    s_mkdir_fresh (dir, sizeof dir, name);
    MDB_env *env;
    MDB_dbi dbi;
    mdb_env_create (&env);
    mdb_env_set_mapsize (env, 1024UL * 1024 * 1024);
    mdb_env_set_maxdbs (env, 4);
    if (mdb_env_open (env, dir, MDB_NOTLS, 0640) != 0)
        exit (1);
    MDB_txn *txn;
    mdb_txn_begin (env, NULL, 0, &txn);
    mdb_dbi_open (txn, "bench", MDB_CREATE, &dbi);
    mdb_txn_commit (txn);
    uint64_t next = 1;
    double t0 = s_now ();
    for (size_t t = 0; t < txns; t++) {
        mdb_txn_begin (env, NULL, 0, &txn);
        for (size_t i = 0; i < puts; i++) {
            uint8_t key[8];
            store_id_key (next++, key);
            MDB_val k = {8, key}, v = {value_size, (void *)value};
            if (mdb_put (txn, dbi, &k, &v, MDB_APPEND) != 0)
                exit (1);
        }
        if (mdb_txn_commit (txn) != 0)
            exit (1);
    }
    double rate = (double)(txns * puts) / (s_now () - t0);
    mdb_env_close (env);
    return rate;
}

static void
bench_store (void)
{
    printf ("store: durable LMDB commits (fsync), 200-byte records\n");
    uint8_t value[200];
    memset (value, 0xa5, sizeof value);
    size_t txns = s_quick ? 200 : 1000;
    double raw = s_store_raw ("raw-100", txns, 100, value, sizeof value);
    double ours = s_store_ours ("ours-100", txns, 100, value, sizeof value);
    s_row ("group commit, 100 puts per commit", ours, raw, "puts/s", 0.8);
    txns = s_quick ? 500 : 3000;
    raw = s_store_raw ("raw-1", txns, 1, value, sizeof value);
    ours = s_store_ours ("ours-1", txns, 1, value, sizeof value);
    s_row ("one put per commit", ours, raw, "commits/s", 0);
}

int
main (int argc, char *argv[])
{
    const char *only = NULL;
    static struct option options[] = {{"quick", no_argument, 0, 'q'},
                                      {"only", required_argument, 0, 'o'},
                                      {"dir", required_argument, 0, 'd'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long (argc, argv, "qo:d:h", options, NULL)) != -1) {
        switch (opt) {
            case 'q':
                s_quick = true;
                break;
            case 'o':
                only = optarg;
                break;
            case 'd':
                snprintf (s_dir, sizeof s_dir, "%s", optarg);
                break;
            case 'h':
                printf (
                    "usage: attune-bench [--quick] [--only envelope|facts|link|store] "
                    "[--dir DIR]\n");
                return 0;
            default:
                fprintf (stderr, "attune-bench: try --help\n");
                return 2;
        }
    }
    if (only && !streq (only, "envelope") && !streq (only, "facts") &&
        !streq (only, "link") && !streq (only, "store")) {
        fprintf (stderr,
                 "attune-bench: unknown benchmark '%s' (envelope, facts, link, store)\n",
                 only);
        return 2;
    }
    bool own_dir = false;
    if (!*s_dir) {
        snprintf (s_dir, sizeof s_dir, "/var/tmp/attune-bench-XXXXXX");
        if (!mkdtemp (s_dir)) {
            fprintf (stderr, "attune-bench: mkdtemp: %s\n", strerror (errno));
            return 1;
        }
        own_dir = true;
    }
    zsys_init ();
    zsys_set_logstream (stderr);
    printf ("attune-bench (%s run; data in %s)\n", s_quick ? "quick" : "full", s_dir);
    if (!only || streq (only, "envelope"))
        bench_envelope ();
    if (!only || streq (only, "facts"))
        bench_facts ();
    if (!only || streq (only, "link"))
        bench_link ();
    if (!only || streq (only, "store"))
        bench_store ();
    if (own_dir) {
        char cmd[4200];
        snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
        if (system (cmd) != 0)
            fprintf (stderr, "attune-bench: could not remove %s\n", s_dir);
    }
    return 0;
}
