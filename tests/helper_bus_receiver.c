/*  helper_bus_receiver: a bus_inbox with a store, for test_bus_link to
    SIGKILL and restart.

        helper_bus_receiver ENDPOINT STORE_DIR HEARTBEAT_MS

    Every command's payload {n: int} is appended, in the same transaction
    as the inbox's own state, to table "log" as "<sender> <n>" under a new
    id, so the test can check after the fact that each command reached the
    handler exactly once and in order. Runs until SIGTERM or SIGKILL.
*/
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"
#include "store/store.h"

static store_table_t *s_log;

static int
s_handler (void *arg, store_txn_t *txn, proto_envelope_t *command, bus_command_t *info)
{
    json_t *payload = proto_envelope_payload_json (command, NULL);
    json_int_t n = json_integer_value (json_object_get (payload, "n"));
    json_decref (payload);
    char record[300];
    int size =
        snprintf (record, sizeof record, "%s %" JSON_INTEGER_FORMAT, info->peer, n);
    uint64_t id;
    return store_insert (txn, s_log, record, (size_t)size, &id) == STORE_OK ? 0 : -1;
}

int
main (int argc, char *argv[])
{
    if (argc != 4) {
        fprintf (stderr, "usage: helper_bus_receiver ENDPOINT STORE_DIR HEARTBEAT_MS\n");
        return 2;
    }
    zsys_init ();
    store_code_t code;
    char message[256];
    store_t *store = store_open (argv[2], NULL, &code, message, sizeof message);
    if (!store) {
        fprintf (stderr, "helper_bus_receiver: %s\n", message);
        return 1;
    }
    s_log = store_table (store, "log", false);
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    config.heartbeat_ms = atoi (argv[3]);
    config.batch_max = 64; //  many small batches: more places to be killed
    bus_inbox_t *inbox = bus_inbox_new (argv[1], "receiver", store, &config);
    if (!s_log || !inbox) {
        fprintf (stderr, "helper_bus_receiver: cannot start on %s\n", argv[1]);
        return 1;
    }
    printf ("ready\n");
    fflush (stdout);
    zpoller_t *poller = zpoller_new (bus_inbox_sock (inbox), NULL);
    while (!zsys_interrupted) {
        void *which = zpoller_wait (poller, bus_inbox_timeout (inbox));
        if (which)
            bus_inbox_process (inbox, s_handler, NULL);
        else if (zpoller_terminated (poller))
            break;
        bus_inbox_tick (inbox);
    }
    zpoller_destroy (&poller);
    bus_inbox_destroy (&inbox);
    store_close (&store);
    return 0;
}
