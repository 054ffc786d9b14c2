/*  attune_probe_args: options and positional arguments (getopt_long), endpoints,
    message types, and envelopes made from them.
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

int
probe_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "%s: ", probe_command);
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n(see '%s --help')\n", probe_command);
    va_end (args);
    return PROBE_EXIT_USAGE;
}

int
probe_fail (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "%s: ", probe_command);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
    return PROBE_EXIT_FAIL;
}

static int
s_strings_add (probe_strings_t *self, const char *text)
{
    const char **items =
        (const char **)realloc (self->items, (self->count + 1) * sizeof (char *));
    if (!items)
        return -1;
    items[self->count++] = text;
    self->items = items;
    return 0;
}

void
probe_strings_free (probe_strings_t *self)
{
    free (self->items);
    self->items = NULL;
    self->count = 0;
}

//  Parse a decimal number within [min, max]. 0, or -1 after saying why.
static int
s_parse_number (const char *what, const char *text, long long min, long long max,
                long long *value)
{
    char *end = NULL;
    errno = 0;
    long long number = 0;
    bool digits = *text >= '0' && *text <= '9';
    if (digits)
        number = strtoll (text, &end, 10);
    if (!digits || errno || *end || number < min || number > max) {
        probe_usage_error ("%s: '%s' is not a number %lld..%lld", what, text, min, max);
        return -1;
    }
    *value = number;
    return 0;
}

//  Parse argv (argv[0] is the command) against `options`; positional
//  arguments go to `args`, which must end up with `names_min`..`names_max`
//  of them (`names` says what each is, for the messages; the last name
//  repeats when names_max is SIZE_MAX). Returns PROBE_CONTINUE, or the exit
//  status: 0 after --help, PROBE_EXIT_USAGE after a message.
int
probe_parse (int argc, char *argv[], probe_opt_t *options, probe_strings_t *args,
             const char *const names[], size_t names_min, size_t names_max,
             void (*help) (FILE *))
{
    size_t count = 0;
    while (options[count].name)
        count++;
    struct option *longopts = (struct option *)calloc (count + 2, sizeof *longopts);
    if (!longopts)
        return probe_fail ("out of memory");
    for (size_t i = 0; i < count; i++) {
        longopts[i].name = options[i].name;
        longopts[i].has_arg =
            options[i].kind == PROBE_OPT_FLAG ? no_argument : required_argument;
        longopts[i].val = 1000 + (int)i;
    }
    longopts[count].name = "help";
    longopts[count].val = 'h';
    int rc = PROBE_CONTINUE;
    opterr = 0;
    optind = 1;
    int option;
    while (rc == PROBE_CONTINUE &&
           (option = getopt_long (argc, argv, ":h", longopts, NULL)) != -1) {
        if (option == 'h') {
            help (stdout);
            rc = PROBE_EXIT_OK;
        } else if (option == '?') {
            if (optopt && optopt < 1000)
                rc = probe_usage_error ("unknown option '-%c'", optopt);
            else if (optopt >= 1000)
                rc = probe_usage_error ("option '--%s' takes no value",
                                        options[optopt - 1000].name);
            else
                rc = probe_usage_error ("unknown option '%s'", argv[optind - 1]);
        } else if (option == ':') {
            rc = probe_usage_error ("option '%s' needs a value", argv[optind - 1]);
        } else {
            probe_opt_t *opt = &options[option - 1000];
            char what[64];
            snprintf (what, sizeof what, "--%s", opt->name);
            if (opt->kind == PROBE_OPT_FLAG)
                *(bool *)opt->value = true;
            else if (opt->kind == PROBE_OPT_NUMBER) {
                if (s_parse_number (what, optarg, opt->min, opt->max,
                                    (long long *)opt->value) != 0)
                    rc = PROBE_EXIT_USAGE;
            } else if (opt->kind == PROBE_OPT_STRING)
                *(const char **)opt->value = optarg;
            else if (s_strings_add ((probe_strings_t *)opt->value, optarg) != 0)
                rc = probe_fail ("out of memory");
        }
    }
    free (longopts);
    for (int i = optind; rc == PROBE_CONTINUE && i < argc; i++) {
        if (args->count >= names_max)
            rc = probe_usage_error ("unexpected argument '%s'", argv[i]);
        else if (s_strings_add (args, argv[i]) != 0)
            rc = probe_fail ("out of memory");
    }
    if (rc == PROBE_CONTINUE && args->count < names_min)
        rc = probe_usage_error ("missing %s", names[args->count]);
    return rc;
}

//  Check a ZeroMQ endpoint: tcp://HOST:PORT (HOST and PORT may be * to
//  bind) or ipc://PATH. 0, or -1 after saying what is wrong with it.
int
probe_check_endpoint (const char *endpoint, bool bind)
{
    const char *why = NULL;
    if (strncmp (endpoint, "tcp://", 6) == 0) {
        const char *address = endpoint + 6;
        const char *colon = strrchr (address, ':');
        if (!colon || colon == address)
            why = "a tcp endpoint is tcp://HOST:PORT";
        else {
            const char *port = colon + 1;
            size_t host_len = (size_t)(colon - address);
            if (!bind && host_len == 1 && *address == '*')
                why = "connecting needs a host, not '*'";
            else if (*address == '[' && address[host_len - 1] != ']')
                why = "an IPv6 host is written in brackets: tcp://[::1]:PORT";
            else if (bind && strcmp (port, "*") == 0)
                why = NULL;
            else {
                char *end = NULL;
                errno = 0;
                long number = *port >= '0' && *port <= '9' ? strtol (port, &end, 10) : 0;
                if (!(*port >= '0' && *port <= '9') || errno || *end || number < 1 ||
                    number > 65535)
                    why = bind ? "the port must be a number 1..65535 or *"
                               : "the port must be a number 1..65535";
            }
        }
    } else if (strncmp (endpoint, "ipc://", 6) == 0) {
        size_t len = strlen (endpoint + 6);
        if (len == 0)
            why = "an ipc endpoint is ipc://PATH";
        else if (len > PROBE_MAX_IPC_PATH)
            why = "an ipc path holds at most 107 bytes";
    } else if (strncmp (endpoint, "inproc://", 9) == 0)
        why = "inproc:// reaches only sockets inside one process: use tcp:// or ipc://";
    else
        why = "not a ZeroMQ endpoint (tcp://HOST:PORT or ipc://PATH)";
    if (why) {
        probe_usage_error ("endpoint '%s': %s", endpoint, why);
        return -1;
    }
    return 0;
}

//  Check a message type (1..128 bytes) or, with `prefix`, a type prefix
//  (0..128 bytes). 0, or -1 after a message.
int
probe_check_type (const char *what, const char *type, bool prefix)
{
    size_t len = strlen (type);
    if ((!prefix && len == 0) || len > PROTO_MAX_TYPE) {
        probe_usage_error ("%s '%.40s%s': a message type has %d..%d bytes", what, type,
                           len > 40 ? "..." : "", prefix ? 0 : 1, PROTO_MAX_TYPE);
        return -1;
    }
    for (const char *p = type; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            probe_usage_error ("%s '%s': holds a control character", what, type);
            return -1;
        }
    return 0;
}

static const char *
s_json_kind (const json_t *value)
{
    switch (json_typeof (value)) {
        case JSON_OBJECT:
            return "an object";
        case JSON_ARRAY:
            return "an array";
        case JSON_STRING:
            return "a string";
        case JSON_INTEGER:
        case JSON_REAL:
            return "a number";
        case JSON_TRUE:
        case JSON_FALSE:
            return "a boolean";
        default:
            return "null";
    }
}

//  A new envelope of `type` whose payload is the JSON object in `text`
//  (NULL for {}). Caller owns it. NULL after a usage message.
proto_envelope_t *
probe_envelope_from_args (const char *type, const char *text)
{
    json_error_t jerror;
    json_t *payload = json_loads (text ? text : "{}",
                                  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerror);
    if (!payload) {
        probe_usage_error ("JSON payload: %s (line %d, column %d)", jerror.text,
                           jerror.line, jerror.column);
        return NULL;
    }
    if (!json_is_object (payload)) {
        probe_usage_error ("JSON payload: must be an object {...}, not %s",
                           s_json_kind (payload));
        json_decref (payload);
        return NULL;
    }
    proto_envelope_t *envelope = proto_envelope_new (type, probe_source);
    if (!envelope) {
        json_decref (payload);
        probe_fail ("cannot make a %s envelope (out of memory?)", type);
        return NULL;
    }
    proto_error_t error;
    proto_code_t code = proto_envelope_set_payload_json (envelope, payload, &error);
    json_decref (payload);
    if (code != PROTO_OK) {
        probe_usage_error ("JSON payload: %s", error.message);
        proto_envelope_destroy (&envelope);
        return NULL;
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    int rc = proto_envelope_encode (envelope, &buffer);
    size_t size = buffer.size;
    msgpack_sbuffer_destroy (&buffer);
    if (rc != 0 || size > PROTO_MAX_FRAME) {
        if (rc != 0)
            probe_fail ("cannot encode the envelope (out of memory)");
        else
            probe_usage_error ("JSON payload: the envelope would be %zu bytes, over the "
                               "%d-byte frame limit",
                               size, PROTO_MAX_FRAME);
        proto_envelope_destroy (&envelope);
        return NULL;
    }
    return envelope;
}
