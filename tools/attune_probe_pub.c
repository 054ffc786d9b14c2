/*  attune_probe_pub: pub: publish facts (bind, or --connect).
*/
#include "tools/attune_probe.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus_security.h"
#include "proto/proto_json.h"

static void
s_help_pub (FILE *out)
{
    fprintf (out,
             "usage: attune-probe pub ENDPOINT TYPE [JSON] [--connect] [--count N]\n"
             "                        [--wait MS]\n"
             "Bind (or with --connect, connect) a fact publisher at ENDPOINT, wait for\n"
             "subscribers to join, and publish N facts of TYPE with the JSON object as\n"
             "payload (default {}), numbered 1..N under a new publisher id. The "
             "address\n"
             "bound goes to stderr ('pub: bound ADDRESS (publisher P)'); each fact sent\n"
             "is printed as a JSON line, as sub prints it.\n"
             "  --connect       connect to ENDPOINT (a SUB or XSUB that binds)\n"
             "  --count N       facts to publish (default 1)\n"
             "  --wait MS       wait before publishing, for subscribers to connect and\n"
             "                  subscribe (default 300; PUB/SUB drops what comes "
             "before)\n");
}

//  ---------------------------------------------------------------------------
//  pub

//  A PUB connected out to `endpoint` (bus_pub binds: a private inproc
//  address first). PROBE_EXIT_OK, or the failure said.
static int
s_pub_connect (const char *endpoint, int hwm, bus_pub_t **pub_p)
{
    char local[96];
    snprintf (local, sizeof local, "inproc://attune-probe-pub-%d-%08x", (int)getpid (),
              (unsigned)randof (0x7fffffff));
    bus_pub_t *pub = *pub_p = bus_pub_new (local, hwm);
    if (!pub)
        return probe_fail ("cannot make a PUB socket: %s", zmq_strerror (zmq_errno ()));
    if (bus_security_apply (bus_pub_sock (pub), endpoint, false, NULL) != 0)
        return probe_fail ("%s needs CURVE: give --cert and --server-cert", endpoint);
    if (zsock_connect (bus_pub_sock (pub), "%s", endpoint) != 0)
        return probe_fail ("cannot connect to %s: %s", endpoint,
                           zmq_strerror (zmq_errno ()));
    fprintf (stderr, "pub: connected to %s (publisher %016" PRIx64 ")\n", endpoint,
             bus_pub_id (pub));
    return PROBE_EXIT_OK;
}

//  A PUB bound to `endpoint`. PROBE_EXIT_OK, or the failure said.
static int
s_pub_bind (const char *endpoint, int hwm, bus_pub_t **pub_p)
{
    bus_pub_t *pub = *pub_p = bus_pub_new (endpoint, hwm);
    if (!pub)
        return probe_fail ("cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
    fprintf (stderr, "pub: bound %s (publisher %016" PRIx64 ")\n", bus_pub_endpoint (pub),
             bus_pub_id (pub));
    return PROBE_EXIT_OK;
}

int
probe_pub_main (int argc, char *argv[])
{
    long long count = 1, wait = 300;
    bool connect = false;
    probe_strings_t args = {0};
    probe_opt_t options[] = {{"connect", PROBE_OPT_FLAG, 0, 0, &connect},
                             {"count", PROBE_OPT_NUMBER, 1, PROBE_MAX_COUNT, &count},
                             {"wait", PROBE_OPT_NUMBER, 0, PROBE_MAX_MS, &wait},
                             {NULL, 0, 0, 0, NULL}};
    const char *names[] = {"ENDPOINT", "TYPE", "JSON"};
    int rc = probe_parse (argc, argv, options, &args, names, 2, 3, s_help_pub);
    if (rc == PROBE_CONTINUE && (probe_check_endpoint (args.items[0], !connect) != 0 ||
                                 probe_check_type ("TYPE", args.items[1], false) != 0))
        rc = PROBE_EXIT_USAGE;
    proto_envelope_t *envelope = NULL;
    if (rc == PROBE_CONTINUE) {
        envelope = probe_envelope_from_args (args.items[1],
                                             args.count > 2 ? args.items[2] : NULL);
        if (!envelope)
            rc = PROBE_EXIT_USAGE;
    }
    if (rc != PROBE_CONTINUE) {
        probe_strings_free (&args);
        return rc;
    }
    const char *endpoint = args.items[0];
    //  Queue every fact rather than drop at the high-water mark
    int hwm = count < 1000 ? 1000 : count > 1000000 ? 1000000 : (int)count;
    bus_pub_t *pub = NULL;
    rc = connect ? s_pub_connect (endpoint, hwm, &pub) : s_pub_bind (endpoint, hwm, &pub);
    fflush (stderr);
    if (rc == PROBE_EXIT_OK)
        probe_sleep_ms (wait); //  PUB/SUB: subscribers must join before we publish
    long long sent = 0;
    while (rc == PROBE_EXIT_OK && sent < count && !zsys_interrupted) {
        uint8_t id[PROTO_UUID_SIZE];
        proto_uuid_generate (id);
        proto_envelope_set_id (envelope, id);
        proto_envelope_set_ts (envelope, proto_now_usec ());
        uint64_t seq = bus_pub_send (pub, envelope);
        if (seq == 0) {
            rc = probe_fail ("publishing fact %lld on %s failed: %s", sent + 1, endpoint,
                             zmq_strerror (zmq_errno ()));
            break;
        }
        sent++;
        bus_fact_info_t info = {.publisher = bus_pub_id (pub), .seq = seq};
        proto_error_t error;
        json_t *line = probe_envelope_json (envelope, &info, &error);
        if (line)
            probe_print_json (line);
    }
    if (rc == PROBE_EXIT_OK && sent < count)
        rc = probe_fail ("interrupted after %lld of %lld facts", sent, count);
    if (pub) {
        //  Let what is queued reach the subscribers (bounded) before leaving
        zsock_set_linger (bus_pub_sock (pub), 2000);
        bus_pub_destroy (&pub);
    }
    proto_envelope_destroy (&envelope);
    probe_strings_free (&args);
    return rc;
}
