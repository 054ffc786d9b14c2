/*  attune_probe_req: req and ping: one-frame requests through bus_client (bus/bus_client.h).
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
#include "bus/bus_client.h"
#include "proto/proto_json.h"

static void
s_help_req (FILE *out)
{
    fprintf (out,
             "usage: attune-probe req ENDPOINT TYPE [JSON] [--timeout MS] [--raw]\n"
             "Send one request envelope (type TYPE, payload the JSON object, a fresh "
             "id)\n"
             "from a DEALER to a ROUTER service (the api, default "
             "tcp://127.0.0.1:5570,\n"
             "or an actor's query endpoint), wait for the envelope whose corr is that "
             "id\n"
             "and print it as one JSON line:\n"
             "  {\"type\",\"source\",\"id\",\"corr\",\"ts\",\"trace\",\"payload\"}\n"
             "Exit 0 for api.reply; 1 for api.error, another reply type, or no reply.\n"
             "  --timeout MS    wait at most MS ms for the reply (default 5000)\n"
             "  --raw           print only the reply's payload\n");
}

static void
s_help_ping (FILE *out)
{
    fprintf (out,
             "usage: attune-probe ping ENDPOINT [--count N] [--interval MS] [--timeout "
             "MS]\n"
             "Send N api.ping requests one after the other to a ROUTER (the api or a\n"
             "query endpoint), print each round trip, then\n"
             "  'N sent, M answered, rtt min/avg/p50/p99/max = a/b/c/d/e ms'.\n"
             "Exit 1 if any ping went unanswered (or was answered with an error).\n"
             "  --count N       pings to send (default 5)\n"
             "  --interval MS   pause between pings (default 200)\n"
             "  --timeout MS    wait at most MS ms for each reply (default 2000)\n");
}

//  ---------------------------------------------------------------------------
//  req and ping: one-frame requests from a DEALER

static void
s_on_skip (void *arg, bus_client_skip_t why, const char *text)
{
    if (!*(bool *)arg)
        fprintf (stderr, "%s: %s\n", probe_command, text);
}

//  An api client to `endpoint` (bus/bus_client.h) that waits `timeout_ms`
//  for a reply and tells skipped messages on stderr unless `*quiet`.
static bus_client_t *
s_client_new (const char *endpoint, int timeout_ms, bool *quiet)
{
    bus_client_t *client = bus_client_new (probe_source);
    if (!client) {
        probe_fail ("out of memory");
        return NULL;
    }
    bus_client_set_timeout (client, timeout_ms);
    bus_client_set_send_timeout (client, 1000);
    bus_client_set_skip_handler (client, s_on_skip, quiet);
    if (bus_client_connect (client, endpoint) != 0) {
        if (bus_security_needs (endpoint))
            probe_fail ("%s needs CURVE: give --cert and --server-cert", endpoint);
        else
            probe_fail ("%s", bus_client_message (client));
        bus_client_destroy (&client);
    }
    return client;
}

//  The reply payload's `key` as a string, or NULL.
static const char *
s_payload_string (json_t *payload, const char *key)
{
    return json_string_value (json_object_get (payload, key));
}

//  Print `reply` (its envelope, or with `raw` its payload); the exit code.
static int
s_req_show (proto_envelope_t *reply, bool raw)
{
    int rc;
    proto_error_t error;
    json_t *payload = proto_envelope_payload_json (reply, &error);
    json_t *line = payload ? probe_envelope_json (reply, NULL, &error) : NULL;
    const char *type = proto_envelope_type (reply);
    if (!line)
        rc = probe_fail ("the %s reply cannot be shown as JSON: %s", type, error.message);
    else {
        if (raw) {
            json_decref (line);
            probe_print_json (json_incref (payload));
        } else
            probe_print_json (line);
        if (strcmp (type, "api.reply") == 0)
            rc = PROBE_EXIT_OK;
        else if (strcmp (type, "api.error") == 0) {
            const char *code = s_payload_string (payload, "code");
            const char *message = s_payload_string (payload, "message");
            rc = probe_fail ("%s: %s: %s", type, code ? code : "(no code)",
                             message ? message : "(no message)");
        } else
            rc = probe_fail ("the reply is a %s, neither api.reply nor api.error", type);
    }
    json_decref (payload);
    return rc;
}

int
probe_req_main (int argc, char *argv[])
{
    long long timeout = 5000;
    bool raw = false, quiet = false;
    probe_strings_t args = {0};
    probe_opt_t options[] = {{"timeout", PROBE_OPT_NUMBER, 1, PROBE_MAX_MS, &timeout},
                             {"raw", PROBE_OPT_FLAG, 0, 0, &raw},
                             {NULL, 0, 0, 0, NULL}};
    const char *names[] = {"ENDPOINT", "TYPE", "JSON"};
    int rc = probe_parse (argc, argv, options, &args, names, 2, 3, s_help_req);
    if (rc == PROBE_CONTINUE && (probe_check_endpoint (args.items[0], false) != 0 ||
                                 probe_check_type ("TYPE", args.items[1], false) != 0))
        rc = PROBE_EXIT_USAGE;
    proto_envelope_t *request = NULL;
    if (rc == PROBE_CONTINUE) {
        request = probe_envelope_from_args (args.items[1],
                                            args.count > 2 ? args.items[2] : NULL);
        if (!request)
            rc = PROBE_EXIT_USAGE;
    }
    bus_client_t *client = NULL;
    if (rc == PROBE_CONTINUE) {
        client = s_client_new (args.items[0], (int)timeout, &quiet);
        if (!client)
            rc = PROBE_EXIT_FAIL;
    }
    if (rc == PROBE_CONTINUE) {
        proto_envelope_t *reply = bus_client_call (client, &request);
        if (!bus_client_sent (client))
            rc = probe_fail ("%s", bus_client_message (client));
        else if (!reply)
            rc = probe_fail ("no reply from %s within %lld ms%s", args.items[0], timeout,
                             zsys_interrupted ? " (interrupted)"
                                              : " (is the service running there?)");
        else
            rc = s_req_show (reply, raw);
        proto_envelope_destroy (&reply);
    }
    proto_envelope_destroy (&request);
    bus_client_destroy (&client);
    probe_strings_free (&args);
    return rc;
}

static int
s_compare_double (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

//  Nearest-rank percentile of `n` sorted values.
static double
s_percentile (const double *sorted, size_t n, double p)
{
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

//  The line for reply `seq` (a pong, or an error reply); true for a pong.
static bool
s_ping_line (proto_envelope_t *reply, long long seq, double ms, char *line, size_t size)
{
    json_t *payload = proto_envelope_payload_json (reply, NULL);
    const char *type = proto_envelope_type (reply);
    bool pong = strcmp (type, "api.reply") == 0;
    if (pong) {
        const char *source =
            s_payload_string (json_object_get (payload, "result"), "source");
        snprintf (line, size, "pong from %.200s: seq=%lld time=%.3f ms",
                  source ? source : proto_envelope_source (reply), seq, ms);
    } else {
        const char *code = s_payload_string (payload, "code");
        const char *message = s_payload_string (payload, "message");
        snprintf (line, size, "%.64s from %.200s: seq=%lld %.64s: %.200s", type,
                  proto_envelope_source (reply), seq, code ? code : "-",
                  message ? message : "-");
    }
    json_decref (payload);
    return pong;
}

//  "N sent, M answered, rtt min/avg/p50/p99/max = ..." (sorts `rtts`).
static void
s_ping_summary (double *rtts, long long sent, size_t answered)
{
    char summary[256];
    int n = snprintf (summary, sizeof summary, "%lld sent, %zu answered", sent, answered);
    if (answered > 0) {
        double sum = 0;
        for (size_t i = 0; i < answered; i++)
            sum += rtts[i];
        qsort (rtts, answered, sizeof (double), s_compare_double);
        snprintf (summary + n, sizeof summary - (size_t)n,
                  ", rtt min/avg/p50/p99/max = %.3f/%.3f/%.3f/%.3f/%.3f ms", rtts[0],
                  sum / (double)answered, s_percentile (rtts, answered, 50),
                  s_percentile (rtts, answered, 99), rtts[answered - 1]);
    } else
        snprintf (summary + n, sizeof summary - (size_t)n,
                  ", rtt min/avg/p50/p99/max = -/-/-/-/- ms");
    probe_print_line (summary);
}

int
probe_ping_main (int argc, char *argv[])
{
    long long count = 5, interval = 200, timeout = 2000;
    probe_strings_t args = {0};
    probe_opt_t options[] = {{"count", PROBE_OPT_NUMBER, 1, 1000000, &count},
                             {"interval", PROBE_OPT_NUMBER, 0, PROBE_MAX_MS, &interval},
                             {"timeout", PROBE_OPT_NUMBER, 1, PROBE_MAX_MS, &timeout},
                             {NULL, 0, 0, 0, NULL}};
    const char *names[] = {"ENDPOINT"};
    int rc = probe_parse (argc, argv, options, &args, names, 1, 1, s_help_ping);
    if (rc == PROBE_CONTINUE && probe_check_endpoint (args.items[0], false) != 0)
        rc = PROBE_EXIT_USAGE;
    const char *endpoint = rc == PROBE_CONTINUE ? args.items[0] : NULL;
    bool quiet = true;
    bus_client_t *client =
        rc == PROBE_CONTINUE ? s_client_new (endpoint, (int)timeout, &quiet) : NULL;
    if (rc == PROBE_CONTINUE && !client)
        rc = PROBE_EXIT_FAIL;
    double *rtts =
        rc == PROBE_CONTINUE ? (double *)calloc ((size_t)count, sizeof (double)) : NULL;
    if (rc == PROBE_CONTINUE && !rtts)
        rc = probe_fail ("out of memory");
    if (rc != PROBE_CONTINUE) {
        bus_client_destroy (&client);
        probe_strings_free (&args);
        return rc;
    }
    long long sent = 0;
    size_t answered = 0;
    for (long long i = 1; i <= count && !zsys_interrupted && probe_stdout_ok; i++) {
        if (i > 1)
            probe_sleep_ms (interval);
        if (zsys_interrupted)
            break;
        proto_envelope_t *ping = proto_envelope_new ("api.ping", probe_source);
        if (!ping) {
            rc = probe_fail ("out of memory");
            break;
        }
        int64_t t0 = probe_mono_ns ();
        proto_envelope_t *reply = bus_client_call (client, &ping);
        double ms = (double)(probe_mono_ns () - t0) / 1e6;
        if (!bus_client_sent (client)) {
            rc = probe_fail ("%s", bus_client_message (client));
            break;
        }
        if (!reply && zsys_interrupted)
            break; //  stopped while waiting: that one does not count
        sent++;
        char line[1024];
        if (!reply) {
            snprintf (line, sizeof line, "no reply from %s: seq=%lld within %lld ms",
                      endpoint, i, timeout);
            probe_print_line (line);
            continue;
        }
        if (s_ping_line (reply, i, ms, line, sizeof line))
            rtts[answered++] = ms;
        probe_print_line (line);
        proto_envelope_destroy (&reply);
    }
    s_ping_summary (rtts, sent, answered);
    if (rc == PROBE_CONTINUE)
        rc = answered == (size_t)sent && sent > 0 ? PROBE_EXIT_OK : PROBE_EXIT_FAIL;
    free (rtts);
    bus_client_destroy (&client);
    probe_strings_free (&args);
    return rc;
}
