/*  attune_probe_sub: sub: watch fact streams, with gaps, malformed facts and --stats.
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
s_help_sub (FILE *out)
{
    fprintf (
        out,
        "usage: attune-probe sub ENDPOINT... [--type PREFIX]... [--count N]\n"
        "                        [--timeout MS] [--stats] [--quiet-gaps]\n"
        "Connect a SUB to every ENDPOINT (a fact PUB, or the api's facts proxy) and\n"
        "print each fact as one JSON line:\n"
        "  {\"type\",\"source\",\"seq\",\"publisher\",\"id\",\"corr\",\"ts\",\"trace\","
        "\"payload\"}\n"
        "(publisher as 16 hex digits, ids as UUIDs, bin values as {\"$bin\": "
        "base64}).\n"
        "Sequence gaps go to stderr as 'gap: publisher P expected S got T (N lost)';\n"
        "a publisher not seen before is a new stream, not a gap. With --type the\n"
        "numbering also skips the facts of other types, so gaps are not tracked\n"
        "(PROTOCOL.md, Facts). Malformed facts are counted, reported and skipped.\n"
        "  --type PREFIX   only facts whose type starts with PREFIX (repeatable;\n"
        "                  default all)\n"
        "  --count N       exit 0 after N facts\n"
        "  --timeout MS    exit after MS ms: 1 if fewer than --count facts came, else "
        "0\n"
        "  --stats         print, every second, instead of the facts:\n"
        "                  {\"interval_s\":1,\"rates\":{TYPE: msgs/s},\"total\":N,"
        "\"gaps\":G}\n"
        "  --quiet-gaps    count gaps without printing each\n"
        "A summary line goes to stderr at exit (also on SIGINT).\n");
}

//  ---------------------------------------------------------------------------
//  sub

typedef struct {
    char *type;
    uint64_t count;
} s_rate_t;

typedef struct {
    bool track_gaps; //  false when filtering by type: the numbering skips
    bool quiet_gaps;
    uint64_t publishers;                 //  streams seen (new publisher ids)
    uint64_t facts;                      //  facts shown (or counted, with --stats)
    uint64_t malformed;                  //  facts dropped as undecodable or unprintable
    uint64_t framing;                    //  of those, counted by bus_sub (bad framing)
    s_rate_t rates[PROBE_MAX_TYPES + 1]; //  this interval; the last is "(other)"
    size_t nrates;
} s_sub_t;

static void
s_sub_on_gap (void *arg, uint64_t publisher, uint64_t expected, uint64_t received)
{
    s_sub_t *self = (s_sub_t *)arg;
    if (expected == 0)
        self->publishers++; //  a new stream: a late join or a restart
    else if (self->track_gaps && !self->quiet_gaps)
        fprintf (stderr,
                 "gap: publisher %016" PRIx64 " expected %" PRIu64 " got %" PRIu64
                 " (%" PRIu64 " lost)\n",
                 publisher, expected, received, received - expected);
}

static void
s_sub_count_type (s_sub_t *self, const char *type)
{
    for (size_t i = 0; i < self->nrates; i++)
        if (strcmp (self->rates[i].type, type) == 0) {
            self->rates[i].count++;
            return;
        }
    if (self->nrates < PROBE_MAX_TYPES) {
        char *copy = strdup (type);
        if (copy) {
            self->rates[self->nrates].type = copy;
            self->rates[self->nrates++].count = 1;
            return;
        }
    }
    self->rates[PROBE_MAX_TYPES].count++; //  too many distinct types: "(other)"
}

static void
s_sub_reset_rates (s_sub_t *self)
{
    for (size_t i = 0; i < self->nrates; i++)
        free (self->rates[i].type);
    self->nrates = 0;
    self->rates[PROBE_MAX_TYPES].count = 0;
}

static void
s_sub_print_stats (s_sub_t *self, bus_sub_t *sub)
{
    json_t *rates = json_object ();
    for (size_t i = 0; rates && i < self->nrates; i++) {
        json_t *value = json_integer ((json_int_t)self->rates[i].count);
        //  A type that is not UTF-8 cannot be a JSON key: fold it in "(other)"
        if (json_object_set_new (rates, self->rates[i].type, value) != 0)
            self->rates[PROBE_MAX_TYPES].count += self->rates[i].count;
    }
    if (rates && self->rates[PROBE_MAX_TYPES].count)
        json_object_set_new (
            rates, "(other)",
            json_integer ((json_int_t)self->rates[PROBE_MAX_TYPES].count));
    json_t *line = json_object ();
    if (line && rates) {
        json_object_set_new (line, "interval_s", json_integer (1));
        json_object_set_new (line, "rates", rates);
        json_object_set_new (line, "total", json_integer ((json_int_t)self->facts));
        json_object_set_new (line, "gaps",
                             self->track_gaps
                                 ? json_integer ((json_int_t)bus_sub_gaps (sub))
                                 : json_null ());
        probe_print_json (line);
    } else {
        json_decref (rates);
        json_decref (line);
    }
    s_sub_reset_rates (self);
}

//  One fact received: print it (or count it). Returns 0, or -1 when stdout
//  is gone.
static int
s_sub_handle (s_sub_t *self, zframe_t *frame, const bus_fact_info_t *info, bool stats)
{
    proto_error_t error;
    proto_envelope_t *envelope =
        proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, &error);
    json_t *line = NULL;
    if (envelope && !stats)
        line = probe_envelope_json (envelope, info, &error);
    if (!envelope || (!stats && !line)) {
        self->malformed++;
        fprintf (stderr,
                 "malformed: publisher %016" PRIx64 " seq %" PRIu64
                 ": %s: %s (dropped; %" PRIu64 " malformed so far)\n",
                 info->publisher, info->seq, proto_code_name (error.code), error.message,
                 self->malformed);
        proto_envelope_destroy (&envelope);
        return 0;
    }
    int rc = 0;
    if (stats)
        s_sub_count_type (self, proto_envelope_type (envelope));
    else
        rc = probe_print_json (line);
    if (rc == 0)
        self->facts++; //  shown, not merely received
    proto_envelope_destroy (&envelope);
    return rc;
}

//  Connect to every endpoint and subscribe to every type (all without
//  --type). PROBE_EXIT_OK, or the failure said.
static int
s_sub_connect (bus_sub_t *sub, probe_strings_t *endpoints, probe_strings_t *types)
{
    int rc = PROBE_EXIT_OK;
    for (size_t i = 0; rc == PROBE_EXIT_OK && i < endpoints->count; i++)
        if (bus_sub_connect (sub, endpoints->items[i]) != 0)
            rc = probe_fail ("cannot connect to %s: %s", endpoints->items[i],
                             zmq_strerror (zmq_errno ()));
    if (types->count == 0 && rc == PROBE_EXIT_OK && bus_sub_subscribe (sub, "") != 0)
        rc = probe_fail ("cannot subscribe: %s", zmq_strerror (zmq_errno ()));
    for (size_t i = 0; rc == PROBE_EXIT_OK && i < types->count; i++)
        if (bus_sub_subscribe (sub, types->items[i]) != 0)
            rc = probe_fail ("cannot subscribe to '%s': %s", types->items[i],
                             zmq_strerror (zmq_errno ()));
    return rc;
}

//  Messages that were not facts, said when their count grows.
static void
s_sub_check_framing (s_sub_t *self, bus_sub_t *sub)
{
    uint64_t framing = bus_sub_errors (sub);
    if (framing > self->framing) {
        self->malformed += framing - self->framing;
        self->framing = framing;
        fprintf (stderr,
                 "malformed: a message that is not a fact (three frames: type, "
                 "16-byte seq and publisher, envelope) (dropped; %" PRIu64
                 " malformed so far)\n",
                 self->malformed);
    }
}

//  Print facts until `count` (0: no limit), the timeout (0: none), an
//  interrupt or a closed stdout; with `stats` a line a second. True when
//  the timeout ended it.
static bool
s_sub_loop (s_sub_t *self, bus_sub_t *sub, long long count, long long timeout, bool stats)
{
    int64_t start = zclock_mono ();
    int64_t deadline = timeout ? start + timeout : -1;
    int64_t next_stats = start + 1000;
    while (!zsys_interrupted && probe_stdout_ok &&
           (count == 0 || self->facts < (uint64_t)count)) {
        int64_t now = zclock_mono ();
        if (deadline >= 0 && now >= deadline)
            return true;
        if (stats && now >= next_stats) {
            s_sub_print_stats (self, sub);
            next_stats += 1000;
            if (next_stats <= now) //  fell behind: start counting afresh
                next_stats = now + 1000;
            continue;
        }
        int64_t wait = -1;
        if (deadline >= 0)
            wait = deadline - now;
        if (stats && (wait < 0 || next_stats - now < wait))
            wait = next_stats - now;
        bus_fact_info_t info;
        zframe_t *frame = bus_sub_recv_raw (sub, &info, (int)wait);
        s_sub_check_framing (self, sub);
        if (frame) {
            int handled = s_sub_handle (self, frame, &info, stats);
            zframe_destroy (&frame);
            if (handled != 0)
                break;
        }
    }
    return false;
}

//  The summary line on stderr; PROBE_EXIT_OK, or a failure when fewer than
//  `count` facts came.
static int
s_sub_summary (s_sub_t *self, bus_sub_t *sub, long long count, bool timed_out)
{
    char gaps[96];
    if (self->track_gaps)
        snprintf (gaps, sizeof gaps, "%" PRIu64 " gaps (%" PRIu64 " lost)",
                  bus_sub_gaps (sub), bus_sub_missed (sub));
    else
        snprintf (gaps, sizeof gaps, "gaps not tracked (filtered by --type)");
    fprintf (stderr,
             "summary: %" PRIu64 " facts, %s, %" PRIu64 " malformed, %" PRIu64
             " publishers%s\n",
             self->facts, gaps, self->malformed, self->publishers,
             zsys_interrupted ? " (interrupted)"
             : timed_out      ? " (timeout)"
                              : "");
    if (count && self->facts < (uint64_t)count)
        return probe_fail ("%" PRIu64 " of %lld facts %s", self->facts, count,
                           timed_out ? "before the timeout" : "before the interrupt");
    return PROBE_EXIT_OK;
}

int
probe_sub_main (int argc, char *argv[])
{
    long long count = 0, timeout = 0;
    bool stats = false, quiet_gaps = false;
    probe_strings_t types = {0}, endpoints = {0};
    probe_opt_t options[] = {{"type", PROBE_OPT_LIST, 0, 0, &types},
                             {"count", PROBE_OPT_NUMBER, 1, PROBE_MAX_COUNT, &count},
                             {"timeout", PROBE_OPT_NUMBER, 1, PROBE_MAX_MS, &timeout},
                             {"stats", PROBE_OPT_FLAG, 0, 0, &stats},
                             {"quiet-gaps", PROBE_OPT_FLAG, 0, 0, &quiet_gaps},
                             {NULL, 0, 0, 0, NULL}};
    const char *names[] = {"ENDPOINT"};
    int rc =
        probe_parse (argc, argv, options, &endpoints, names, 1, SIZE_MAX, s_help_sub);
    for (size_t i = 0; rc == PROBE_CONTINUE && i < endpoints.count; i++)
        if (probe_check_endpoint (endpoints.items[i], false) != 0)
            rc = PROBE_EXIT_USAGE;
    for (size_t i = 0; rc == PROBE_CONTINUE && i < types.count; i++)
        if (probe_check_type ("--type", types.items[i], true) != 0)
            rc = PROBE_EXIT_USAGE;
    if (rc != PROBE_CONTINUE) {
        probe_strings_free (&types);
        probe_strings_free (&endpoints);
        return rc;
    }

    s_sub_t *self = (s_sub_t *)calloc (1, sizeof (s_sub_t));
    bus_sub_t *sub = self ? bus_sub_new (0) : NULL;
    if (!sub) {
        free (self);
        probe_strings_free (&types);
        probe_strings_free (&endpoints);
        return probe_fail ("cannot make a SUB socket: %s", zmq_strerror (zmq_errno ()));
    }
    self->quiet_gaps = quiet_gaps;
    self->track_gaps = types.count == 0;
    for (size_t i = 0; i < types.count; i++)
        if (!*types.items[i])
            self->track_gaps = true; //  "" is every type
    bus_sub_set_gap_handler (sub, s_sub_on_gap, self);
    rc = s_sub_connect (sub, &endpoints, &types);
    bool timed_out = false;
    if (rc == PROBE_EXIT_OK)
        timed_out = s_sub_loop (self, sub, count, timeout, stats);
    if (rc == PROBE_EXIT_OK)
        rc = s_sub_summary (self, sub, count, timed_out);
    s_sub_reset_rates (self);
    bus_sub_destroy (&sub);
    free (self);
    probe_strings_free (&types);
    probe_strings_free (&endpoints);
    return rc;
}
