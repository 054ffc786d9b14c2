/*  attune-kv-bench: the datastore's keys set and got per second through the
    api (the datastore and api actors in this process, the api on inproc, a
    client keeping a window of requests in flight), against raw LMDB doing
    the same in the same run: a durable put per committed transaction, and
    a get per read transaction.

    attune-kv-bench [-n KEYS] [-w WINDOW] [--dir DIR] [--no-fsync]
*/
#include <getopt.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/api/api.h"
#include "actors/datastore/datastore.h"
#include "actors/rules/rules_kv.h"
#include "actors/rules/rules_template.h"
#include "proto/proto_envelope.h"

static double
s_now (void)
{
    return (double)zclock_usecs () / 1e6;
}

static void
s_row (const char *what, double ours, double raw)
{
    printf ("  %-40s %10.0f keys/s   raw LMDB %10.0f   ratio %5.2f\n", what, ours, raw,
            raw > 0 ? ours / raw : 0);
    fflush (stdout);
}

//  Send `count` requests of `type` (name k<i>, value when setting), at most
//  `window` in flight; keys per second, or -1 on an error reply
static double
s_run (zsock_t *sock, const char *type, int count, int window, bool secret)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    int sent = 0, answered = 0, errors = 0;
    double start = s_now ();
    while (answered < count) {
        while (sent < count && sent - answered < window) {
            char name[32];
            snprintf (name, sizeof name, "bench.k%07d", sent);
            json_t *payload =
                streq (type, "api.key.set")
                    ? json_pack ("{s:s, s:s, s:b}", "name", name, "value",
                                 "a value of some thirty bytes..", "secret", secret)
                    : json_pack ("{s:s, s:b}", "name", name, "decrypt", secret);
            proto_envelope_t *request = proto_envelope_new (type, "bench");
            proto_envelope_set_payload_json (request, payload, NULL);
            json_decref (payload);
            msgpack_sbuffer_clear (&buffer);
            proto_envelope_encode (request, &buffer);
            proto_envelope_destroy (&request);
            zmq_send (zsock_resolve (sock), buffer.data, buffer.size, 0);
            sent++;
        }
        zmsg_t *reply = zmsg_recv (sock);
        if (!reply)
            break;
        zframe_t *frame = zmsg_first (reply);
        proto_envelope_t *envelope =
            proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
        if (!envelope || !streq (proto_envelope_type (envelope), "api.reply")) {
            if (errors++ == 0 && envelope) {
                json_t *body = proto_envelope_payload_json (envelope, NULL);
                char *text = json_dumps (body, JSON_COMPACT);
                fprintf (stderr, "attune-kv-bench: %s: %s\n", type, text);
                free (text);
                json_decref (body);
            }
        }
        proto_envelope_destroy (&envelope);
        zmsg_destroy (&reply);
        answered++;
    }
    double took = s_now () - start;
    msgpack_sbuffer_destroy (&buffer);
    return errors ? -1 : count / took;
}

//  Raw LMDB: `count` puts, each its own durable transaction; then gets
static void
s_raw (const char *dir, int count, bool nosync, double *puts, double *gets)
{
    MDB_env *env;
    mdb_env_create (&env);
    mdb_env_set_mapsize (env, 256UL << 20);
    mkdir (dir, 0750);
    mdb_env_open (env, dir, nosync ? MDB_NOSYNC : 0, 0640);
    MDB_dbi dbi;
    MDB_txn *txn;
    mdb_txn_begin (env, NULL, 0, &txn);
    mdb_dbi_open (txn, NULL, 0, &dbi);
    mdb_txn_commit (txn);
    char name[32], value[] = "{\"value\":\"a value of some thirty bytes..\"}";
    double start = s_now ();
    for (int i = 0; i < count; i++) {
        snprintf (name, sizeof name, "system%cbench.k%07d", 0, i);
        MDB_val key = {strlen (name + 7) + 7, name}, data = {sizeof value, value};
        mdb_txn_begin (env, NULL, 0, &txn);
        mdb_put (txn, dbi, &key, &data, 0);
        mdb_txn_commit (txn);
    }
    *puts = count / (s_now () - start);
    start = s_now ();
    for (int i = 0; i < count; i++) {
        snprintf (name, sizeof name, "system%cbench.k%07d", 0, i);
        MDB_val key = {strlen (name + 7) + 7, name}, data;
        mdb_txn_begin (env, NULL, MDB_RDONLY, &txn);
        mdb_get (txn, dbi, &key, &data);
        mdb_txn_abort (txn);
    }
    *gets = count / (s_now () - start);
    mdb_env_close (env);
}

//  Renders per second of one rule's parameters, as the rules actor renders
//  them (rules_kv_context, then the template), `count` events
static double
s_render (rules_kv_t *kv, const char *template_, int count)
{
    json_t *rule = json_pack ("{s:s}", "ref", "bench.rule");
    json_t *params = json_pack ("{s:s}", "message", template_);
    char reason[512];
    double start = s_now ();
    for (int i = 0; i < count; i++) {
        if (i % 256 == 0)
            rules_kv_drain (kv); //  as the rules actor: once per batch of events
        json_t *context = json_pack ("{s:{s:{s:i, s:s}}, s:{s:s}}", "trigger", "payload",
                                     "n", i, "g", "hello", "rule", "ref", "bench.rule");
        json_t *with =
            rules_kv_context (kv, rule, params, context, reason, sizeof reason);
        json_t *out = with ? rules_template_render (params, with, "action.parameters",
                                                    reason, sizeof reason)
                           : NULL;
        if (!out) {
            fprintf (stderr, "attune-kv-bench: render: %s\n", reason);
            count = i;
        }
        json_decref (out);
        rules_kv_done (&with);
        json_decref (context);
    }
    double rate = count / (s_now () - start);
    json_decref (params);
    json_decref (rule);
    return rate;
}

//  A rule's parameters with and without st2kv (the cache warm, kept
//  current by the facts): the cost st2kv adds to each enforcement
static void
s_render_line (bus_topology_t *topology, zsock_t *sock)
{
    proto_envelope_t *set = proto_envelope_new ("api.key.set", "bench");
    json_t *payload = json_pack ("{s:s, s:s}", "name", "greeting", "value", "hello");
    proto_envelope_set_payload_json (set, payload, NULL);
    json_decref (payload);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    proto_envelope_encode (set, &buffer);
    zmq_send (zsock_resolve (sock), buffer.data, buffer.size, 0);
    zmsg_t *ack = zmsg_recv (sock);
    zmsg_destroy (&ack);
    msgpack_sbuffer_destroy (&buffer);
    proto_envelope_destroy (&set);
    rules_kv_t *kv = rules_kv_new (topology, "rules@bench");
    int renders = 300000;
    s_render (kv, "{{ st2kv.system.greeting }} {{ trigger.payload.n }}", 100); //  warm
    //  The same rule with the value from the event instead of the datastore
    double plain =
        s_render (kv, "{{ trigger.payload.g }} {{ trigger.payload.n }}", renders);
    double with =
        s_render (kv, "{{ st2kv.system.greeting }} {{ trigger.payload.n }}", renders);
    printf ("  %-40s %10.0f renders/s without %10.0f   ratio %5.2f  (target >= 0.90%s)\n",
            "rule parameters with st2kv", with, plain, with / plain,
            with / plain >= 0.9 ? "" : "  MISSED");
    rules_kv_destroy (&kv);
}

int
main (int argc, char *argv[])
{
    int count = 5000, window = 64;
    bool nosync = false;
    char dir[3000] = "";
    static struct option options[] = {{"keys", required_argument, 0, 'n'},
                                      {"window", required_argument, 0, 'w'},
                                      {"dir", required_argument, 0, 'd'},
                                      {"no-fsync", no_argument, 0, 'f'},
                                      {0, 0, 0, 0}};
    int option;
    while ((option = getopt_long (argc, argv, "n:w:d:f", options, NULL)) != -1) {
        if (option == 'n')
            count = atoi (optarg);
        else if (option == 'w')
            window = atoi (optarg);
        else if (option == 'd')
            snprintf (dir, sizeof dir, "%s", optarg);
        else if (option == 'f')
            nosync = true;
        else {
            fprintf (stderr, "usage: attune-kv-bench [-n KEYS] [-w WINDOW] [--dir DIR] "
                             "[--no-fsync]\n");
            return 2;
        }
    }
    if (!dir[0])
        snprintf (dir, sizeof dir, "/tmp/attune-kv-bench-%d", getpid ());
    mkdir (dir, 0750);
    zsys_set_logstream (NULL);
    bus_topology_t *topology = bus_topology_new ("kvbench");
    actor_config_t config = {
        .topology = topology, .data_dir = dir, .host = "bench", .nosync = nosync};
    zactor_t *datastore = zactor_new (datastore_actor, &config);
    zactor_t *api = zactor_new (api_actor, &config);
    zsock_t *sock = zsock_new_dealer (bus_topology_connect (topology, "api.requests"));
    printf ("attune-kv-bench: %d keys, window %d, %s, through the api (inproc)\n", count,
            window, nosync ? "no fsync" : "durable");
    double raw_puts, raw_gets;
    char raw_dir[3100];
    snprintf (raw_dir, sizeof raw_dir, "%s/raw", dir);
    s_raw (raw_dir, count, nosync, &raw_puts, &raw_gets);
    s_row ("set (one commit per key for raw)",
           s_run (sock, "api.key.set", count, window, false), raw_puts);
    s_row ("get", s_run (sock, "api.key.get", count, window, false), raw_gets);
    s_row ("set secret (sealed)", s_run (sock, "api.key.set", count, window, true),
           raw_puts);
    s_row ("get secret --decrypt", s_run (sock, "api.key.get", count, window, true),
           raw_gets);
    s_render_line (topology, sock);
    zsock_destroy (&sock);
    zactor_destroy (&api);
    zactor_destroy (&datastore);
    bus_topology_destroy (&topology);
    char command[3200];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    if (system (command) != 0)
        fprintf (stderr, "attune-kv-bench: could not remove %s\n", dir);
    return 0;
}
