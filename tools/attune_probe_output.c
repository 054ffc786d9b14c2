/*  attune_probe_output: results on stdout as JSON lines, envelopes as JSON, clocks.
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

//  ---------------------------------------------------------------------------
//  Output

//  Print one line on stdout and flush it. -1 when stdout is gone.
int
probe_print_line (const char *text)
{
    if (!probe_stdout_ok)
        return -1;
    if (fputs (text, stdout) == EOF || fputc ('\n', stdout) == EOF ||
        fflush (stdout) == EOF) {
        probe_stdout_ok = false;
        if (errno != EPIPE)
            fprintf (stderr, "%s: cannot write to stdout: %s\n", probe_command,
                     strerror (errno));
        return -1;
    }
    return 0;
}

//  Print a JSON value as one compact line; takes the reference.
int
probe_print_json (json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT);
    json_decref (value);
    if (!text) {
        fprintf (stderr, "%s: cannot format JSON (out of memory)\n", probe_command);
        return -1;
    }
    int rc = probe_print_line (text);
    free (text);
    return rc;
}

//  Set `key` to a JSON string, or null when `text` is NULL. -1 when `text`
//  is not valid UTF-8 (it cannot be shown as JSON), saying so in `error`.
static int
s_set_string (json_t *object, const char *key, const char *text, proto_error_t *error)
{
    json_t *value = text ? json_string (text) : json_null ();
    if (!value) {
        error->code = PROTO_ERR_JSON;
        snprintf (error->message, sizeof error->message, "%s: not valid UTF-8", key);
        return -1;
    }
    return json_object_set_new (object, key, value);
}

static json_t *
s_uuid_json (const uint8_t *id)
{
    if (!id)
        return json_null ();
    char text[PROTO_UUID_STR_SIZE];
    proto_uuid_format (id, text);
    return json_string (text);
}

//  An envelope as the JSON object the probe prints: type, source, then (for
//  facts) seq and publisher, then id, corr, ts, trace, payload. NULL with
//  `error` filled when part of it has no JSON form.
json_t *
probe_envelope_json (proto_envelope_t *envelope, const bus_fact_info_t *fact,
                     proto_error_t *error)
{
    memset (error, 0, sizeof *error);
    if (fact && fact->seq > (uint64_t)INT64_MAX) {
        error->code = PROTO_ERR_JSON;
        snprintf (error->message, sizeof error->message,
                  "seq %" PRIu64 " is beyond the JSON integer range", fact->seq);
        return NULL;
    }
    json_t *payload = proto_envelope_payload_json (envelope, error);
    if (!payload)
        return NULL;
    json_t *object = json_object ();
    int rc = object ? 0 : -1;
    if (rc == 0)
        rc = s_set_string (object, "type", proto_envelope_type (envelope), error);
    if (rc == 0)
        rc = s_set_string (object, "source", proto_envelope_source (envelope), error);
    if (rc == 0 && fact) {
        char publisher[17];
        snprintf (publisher, sizeof publisher, "%016" PRIx64, fact->publisher);
        json_object_set_new (object, "seq", json_integer ((json_int_t)fact->seq));
        json_object_set_new (object, "publisher", json_string (publisher));
    }
    if (rc == 0) {
        json_object_set_new (object, "id", s_uuid_json (proto_envelope_id (envelope)));
        json_object_set_new (object, "corr",
                             s_uuid_json (proto_envelope_corr (envelope)));
        json_object_set_new (object, "ts", json_integer (proto_envelope_ts (envelope)));
        rc = s_set_string (object, "trace", proto_envelope_trace (envelope), error);
    }
    if (rc == 0)
        rc = json_object_set (object, "payload", payload);
    json_decref (payload);
    if (rc != 0) {
        if (!error->message[0])
            snprintf (error->message, sizeof error->message, "out of memory");
        json_decref (object);
        return NULL;
    }
    return object;
}

//  Sleep up to `ms`, returning early on SIGINT/SIGTERM.
void
probe_sleep_ms (int64_t ms)
{
    int64_t deadline = zclock_mono () + ms;
    int64_t left;
    while (!zsys_interrupted && (left = deadline - zclock_mono ()) > 0)
        zclock_sleep ((int)(left < 50 ? left : 50));
}

int64_t
probe_mono_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}
