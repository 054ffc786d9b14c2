/*  attune-probe: the bus probe (in the spirit of `nats sub` and
    `mosquitto_sub`): watch fact streams, publish facts, send requests and
    reliable commands, and time the api, from any host that can reach the
    endpoints (tcp:// or ipc://, never inproc://).

        attune-probe sub ENDPOINT... [--type PREFIX]... [--count N] [--timeout MS]
                                     [--stats] [--quiet-gaps]
        attune-probe pub ENDPOINT TYPE [JSON] [--connect] [--count N] [--wait MS]
        attune-probe req ENDPOINT TYPE [JSON] [--timeout MS] [--raw]
        attune-probe cmd ENDPOINT TYPE [JSON] [--name NAME] [--timeout MS]
        attune-probe ping ENDPOINT [--count N] [--interval MS] [--timeout MS]

    Every command also takes --cert FILE (a secret cert, default
    $ATTUNE_CERT) and --server-cert FILE (the endpoint's public cert, default
    $ATTUNE_SERVER_CERT); with them every tcp connect is CURVE
    (bus/bus_security.h), and `pub` binding tcp also takes --allow DIR.
    Without them a tcp endpoint that is not loopback is refused. The probe
    talks to internal endpoints: give it an attune process's key (one
    without a role); user keys are dropped there (proto/PROTOCOL.md).

    Results go to stdout, one line each (facts and replies as JSON lines,
    flushed per line); diagnostics (gaps, malformed facts, errors, the
    summary) go to stderr. Exit status: 0 success, 1 failure or an error
    reply, 2 bad usage. The wire formats are proto/PROTOCOL.md's.
*/
#include <czmq.h>
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

#include "bus/bus_client.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"
#include "bus/bus_security.h"
#include "proto/proto_envelope.h"
#include "proto/proto_json.h"

#define S_EXIT_OK      0
#define S_EXIT_FAIL    1
#define S_EXIT_USAGE   2
#define S_CONTINUE     -1         //  from s_parse: arguments fine, go on
#define S_MAX_COUNT    1000000000 //  --count
#define S_MAX_MS       86400000   //  --timeout, --wait, --interval: one day
#define S_MAX_NAME     255        //  a link's routing id (PROTOCOL.md)
#define S_MAX_IPC_PATH 107        //  sockaddr_un.sun_path less the NUL
#define S_MAX_TYPES    256        //  distinct types counted per --stats interval

//  "attune-probe sub" while a command runs: the prefix of every message.
static char s_command[64] = "attune-probe";
//  The envelopes' source: attune-probe@HOST.
static char s_source[PROTO_MAX_SOURCE + 1] = "attune-probe@localhost";
//  False once stdout cannot be written (a closed pipe): stop quietly.
static bool s_stdout_ok = true;

//  ---------------------------------------------------------------------------
//  Help

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: attune-probe COMMAND [ARGS] [OPTIONS]   (COMMAND --help for more)\n"
             "  sub ENDPOINT...          print the facts of one or more fact streams\n"
             "  pub ENDPOINT TYPE [JSON] publish facts\n"
             "  req ENDPOINT TYPE [JSON] send one request to a ROUTER (api, query) and\n"
             "                           print the reply\n"
             "  cmd ENDPOINT TYPE [JSON] send one reliable command to a *.commands "
             "ROUTER\n"
             "  ping ENDPOINT            time api.ping round trips\n"
             "ENDPOINT is tcp://HOST:PORT or ipc://PATH; JSON is an object (default "
             "{}).\n"
             "Every command takes --cert FILE and --server-cert FILE (default\n"
             "$ATTUNE_CERT, $ATTUNE_SERVER_CERT): CURVE on every tcp endpoint; pub\n"
             "binding tcp also needs --allow DIR (the client certs let in).\n"
             "Exit status: 0 success, 1 failure or error reply, 2 bad usage.\n");
}

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
s_help_cmd (FILE *out)
{
    fprintf (out,
             "usage: attune-probe cmd ENDPOINT TYPE [JSON] [--name NAME] [--timeout MS]\n"
             "Send one command (type TYPE, payload the JSON object) over the reliable\n"
             "link (DEALER, CMD framing, resent until acknowledged) to a *.commands\n"
             "ROUTER and wait: prints 'acked' and exits 0 once it is durable, or prints\n"
             "'rejected CODE: MESSAGE' and exits 1 when the receiver refuses it.\n"
             "  --name NAME     the link's routing id, unique per sender (default\n"
             "                  attune-probe@HOST; give each concurrent probe its own)\n"
             "  --timeout MS    wait at most MS ms for the ACK (default 5000)\n");
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
//  Arguments

//  A message about the command line, then a hint; returns S_EXIT_USAGE.
static int s_usage_error (const char *format, ...)
    __attribute__ ((format (printf, 1, 2)));

static int
s_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "%s: ", s_command);
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n(see '%s --help')\n", s_command);
    va_end (args);
    return S_EXIT_USAGE;
}

//  A failure at run time; returns S_EXIT_FAIL.
static int s_fail (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static int
s_fail (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "%s: ", s_command);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
    return S_EXIT_FAIL;
}

//  A growable list of strings that point into argv.
typedef struct {
    const char **items;
    size_t count;
} s_strings_t;

static int
s_strings_add (s_strings_t *self, const char *text)
{
    const char **items =
        (const char **)realloc (self->items, (self->count + 1) * sizeof (char *));
    if (!items)
        return -1;
    items[self->count++] = text;
    self->items = items;
    return 0;
}

static void
s_strings_free (s_strings_t *self)
{
    free (self->items);
    self->items = NULL;
    self->count = 0;
}

typedef enum { S_OPT_FLAG, S_OPT_NUMBER, S_OPT_STRING, S_OPT_LIST } s_opt_kind_t;

//  One option of a command: --name, its kind, its range, where it goes
//  (bool *, long long *, const char **, s_strings_t *).
typedef struct {
    const char *name;
    s_opt_kind_t kind;
    long long min, max;
    void *value;
} s_opt_t;

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
        s_usage_error ("%s: '%s' is not a number %lld..%lld", what, text, min, max);
        return -1;
    }
    *value = number;
    return 0;
}

//  Parse argv (argv[0] is the command) against `options`; positional
//  arguments go to `args`, which must end up with `names_min`..`names_max`
//  of them (`names` says what each is, for the messages; the last name
//  repeats when names_max is SIZE_MAX). Returns S_CONTINUE, or the exit
//  status: 0 after --help, S_EXIT_USAGE after a message.
static int
s_parse (int argc, char *argv[], s_opt_t *options, s_strings_t *args,
         const char *const names[], size_t names_min, size_t names_max,
         void (*help) (FILE *))
{
    size_t count = 0;
    while (options[count].name)
        count++;
    struct option *longopts = (struct option *)calloc (count + 2, sizeof *longopts);
    if (!longopts)
        return s_fail ("out of memory");
    for (size_t i = 0; i < count; i++) {
        longopts[i].name = options[i].name;
        longopts[i].has_arg =
            options[i].kind == S_OPT_FLAG ? no_argument : required_argument;
        longopts[i].val = 1000 + (int)i;
    }
    longopts[count].name = "help";
    longopts[count].val = 'h';
    int rc = S_CONTINUE;
    opterr = 0;
    optind = 1;
    int option;
    while (rc == S_CONTINUE &&
           (option = getopt_long (argc, argv, ":h", longopts, NULL)) != -1) {
        if (option == 'h') {
            help (stdout);
            rc = S_EXIT_OK;
        } else if (option == '?') {
            if (optopt && optopt < 1000)
                rc = s_usage_error ("unknown option '-%c'", optopt);
            else if (optopt >= 1000)
                rc = s_usage_error ("option '--%s' takes no value",
                                    options[optopt - 1000].name);
            else
                rc = s_usage_error ("unknown option '%s'", argv[optind - 1]);
        } else if (option == ':') {
            rc = s_usage_error ("option '%s' needs a value", argv[optind - 1]);
        } else {
            s_opt_t *opt = &options[option - 1000];
            char what[64];
            snprintf (what, sizeof what, "--%s", opt->name);
            if (opt->kind == S_OPT_FLAG)
                *(bool *)opt->value = true;
            else if (opt->kind == S_OPT_NUMBER) {
                if (s_parse_number (what, optarg, opt->min, opt->max,
                                    (long long *)opt->value) != 0)
                    rc = S_EXIT_USAGE;
            } else if (opt->kind == S_OPT_STRING)
                *(const char **)opt->value = optarg;
            else if (s_strings_add ((s_strings_t *)opt->value, optarg) != 0)
                rc = s_fail ("out of memory");
        }
    }
    free (longopts);
    for (int i = optind; rc == S_CONTINUE && i < argc; i++) {
        if (args->count >= names_max)
            rc = s_usage_error ("unexpected argument '%s'", argv[i]);
        else if (s_strings_add (args, argv[i]) != 0)
            rc = s_fail ("out of memory");
    }
    if (rc == S_CONTINUE && args->count < names_min)
        rc = s_usage_error ("missing %s", names[args->count]);
    return rc;
}

//  Check a ZeroMQ endpoint: tcp://HOST:PORT (HOST and PORT may be * to
//  bind) or ipc://PATH. 0, or -1 after saying what is wrong with it.
static int
s_check_endpoint (const char *endpoint, bool bind)
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
        else if (len > S_MAX_IPC_PATH)
            why = "an ipc path holds at most 107 bytes";
    } else if (strncmp (endpoint, "inproc://", 9) == 0)
        why = "inproc:// reaches only sockets inside one process: use tcp:// or ipc://";
    else
        why = "not a ZeroMQ endpoint (tcp://HOST:PORT or ipc://PATH)";
    if (why) {
        s_usage_error ("endpoint '%s': %s", endpoint, why);
        return -1;
    }
    return 0;
}

//  Check a message type (1..128 bytes) or, with `prefix`, a type prefix
//  (0..128 bytes). 0, or -1 after a message.
static int
s_check_type (const char *what, const char *type, bool prefix)
{
    size_t len = strlen (type);
    if ((!prefix && len == 0) || len > PROTO_MAX_TYPE) {
        s_usage_error ("%s '%.40s%s': a message type has %d..%d bytes", what, type,
                       len > 40 ? "..." : "", prefix ? 0 : 1, PROTO_MAX_TYPE);
        return -1;
    }
    for (const char *p = type; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            s_usage_error ("%s '%s': holds a control character", what, type);
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
static proto_envelope_t *
s_envelope_from_args (const char *type, const char *text)
{
    json_error_t jerror;
    json_t *payload = json_loads (text ? text : "{}",
                                  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerror);
    if (!payload) {
        s_usage_error ("JSON payload: %s (line %d, column %d)", jerror.text, jerror.line,
                       jerror.column);
        return NULL;
    }
    if (!json_is_object (payload)) {
        s_usage_error ("JSON payload: must be an object {...}, not %s",
                       s_json_kind (payload));
        json_decref (payload);
        return NULL;
    }
    proto_envelope_t *envelope = proto_envelope_new (type, s_source);
    if (!envelope) {
        json_decref (payload);
        s_fail ("cannot make a %s envelope (out of memory?)", type);
        return NULL;
    }
    proto_error_t error;
    proto_code_t code = proto_envelope_set_payload_json (envelope, payload, &error);
    json_decref (payload);
    if (code != PROTO_OK) {
        s_usage_error ("JSON payload: %s", error.message);
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
            s_fail ("cannot encode the envelope (out of memory)");
        else
            s_usage_error ("JSON payload: the envelope would be %zu bytes, over the "
                           "%d-byte frame limit",
                           size, PROTO_MAX_FRAME);
        proto_envelope_destroy (&envelope);
        return NULL;
    }
    return envelope;
}

//  ---------------------------------------------------------------------------
//  Output

//  Print one line on stdout and flush it. -1 when stdout is gone.
static int
s_print_line (const char *text)
{
    if (!s_stdout_ok)
        return -1;
    if (fputs (text, stdout) == EOF || fputc ('\n', stdout) == EOF ||
        fflush (stdout) == EOF) {
        s_stdout_ok = false;
        if (errno != EPIPE)
            fprintf (stderr, "%s: cannot write to stdout: %s\n", s_command,
                     strerror (errno));
        return -1;
    }
    return 0;
}

//  Print a JSON value as one compact line; takes the reference.
static int
s_print_json (json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT);
    json_decref (value);
    if (!text) {
        fprintf (stderr, "%s: cannot format JSON (out of memory)\n", s_command);
        return -1;
    }
    int rc = s_print_line (text);
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
static json_t *
s_envelope_json (proto_envelope_t *envelope, const bus_fact_info_t *fact,
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
static void
s_sleep_ms (int64_t ms)
{
    int64_t deadline = zclock_mono () + ms;
    int64_t left;
    while (!zsys_interrupted && (left = deadline - zclock_mono ()) > 0)
        zclock_sleep ((int)(left < 50 ? left : 50));
}

static int64_t
s_mono_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
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
    uint64_t publishers;             //  streams seen (new publisher ids)
    uint64_t facts;                  //  facts shown (or counted, with --stats)
    uint64_t malformed;              //  facts dropped as undecodable or unprintable
    uint64_t framing;                //  of those, counted by bus_sub (bad framing)
    s_rate_t rates[S_MAX_TYPES + 1]; //  this interval; the last is "(other)"
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
    if (self->nrates < S_MAX_TYPES) {
        char *copy = strdup (type);
        if (copy) {
            self->rates[self->nrates].type = copy;
            self->rates[self->nrates++].count = 1;
            return;
        }
    }
    self->rates[S_MAX_TYPES].count++; //  too many distinct types: "(other)"
}

static void
s_sub_reset_rates (s_sub_t *self)
{
    for (size_t i = 0; i < self->nrates; i++)
        free (self->rates[i].type);
    self->nrates = 0;
    self->rates[S_MAX_TYPES].count = 0;
}

static void
s_sub_print_stats (s_sub_t *self, bus_sub_t *sub)
{
    json_t *rates = json_object ();
    for (size_t i = 0; rates && i < self->nrates; i++) {
        json_t *value = json_integer ((json_int_t)self->rates[i].count);
        //  A type that is not UTF-8 cannot be a JSON key: fold it in "(other)"
        if (json_object_set_new (rates, self->rates[i].type, value) != 0)
            self->rates[S_MAX_TYPES].count += self->rates[i].count;
    }
    if (rates && self->rates[S_MAX_TYPES].count)
        json_object_set_new (rates, "(other)",
                             json_integer ((json_int_t)self->rates[S_MAX_TYPES].count));
    json_t *line = json_object ();
    if (line && rates) {
        json_object_set_new (line, "interval_s", json_integer (1));
        json_object_set_new (line, "rates", rates);
        json_object_set_new (line, "total", json_integer ((json_int_t)self->facts));
        json_object_set_new (line, "gaps",
                             self->track_gaps
                                 ? json_integer ((json_int_t)bus_sub_gaps (sub))
                                 : json_null ());
        s_print_json (line);
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
        line = s_envelope_json (envelope, info, &error);
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
        rc = s_print_json (line);
    if (rc == 0)
        self->facts++; //  shown, not merely received
    proto_envelope_destroy (&envelope);
    return rc;
}

static int
s_sub_main (int argc, char *argv[])
{
    long long count = 0, timeout = 0;
    bool stats = false, quiet_gaps = false;
    s_strings_t types = {0}, endpoints = {0};
    s_opt_t options[] = {{"type", S_OPT_LIST, 0, 0, &types},
                         {"count", S_OPT_NUMBER, 1, S_MAX_COUNT, &count},
                         {"timeout", S_OPT_NUMBER, 1, S_MAX_MS, &timeout},
                         {"stats", S_OPT_FLAG, 0, 0, &stats},
                         {"quiet-gaps", S_OPT_FLAG, 0, 0, &quiet_gaps},
                         {NULL, 0, 0, 0, NULL}};
    const char *names[] = {"ENDPOINT"};
    int rc = s_parse (argc, argv, options, &endpoints, names, 1, SIZE_MAX, s_help_sub);
    for (size_t i = 0; rc == S_CONTINUE && i < endpoints.count; i++)
        if (s_check_endpoint (endpoints.items[i], false) != 0)
            rc = S_EXIT_USAGE;
    for (size_t i = 0; rc == S_CONTINUE && i < types.count; i++)
        if (s_check_type ("--type", types.items[i], true) != 0)
            rc = S_EXIT_USAGE;
    if (rc != S_CONTINUE) {
        s_strings_free (&types);
        s_strings_free (&endpoints);
        return rc;
    }

    s_sub_t *self = (s_sub_t *)calloc (1, sizeof (s_sub_t));
    bus_sub_t *sub = self ? bus_sub_new (0) : NULL;
    if (!sub) {
        free (self);
        s_strings_free (&types);
        s_strings_free (&endpoints);
        return s_fail ("cannot make a SUB socket: %s", zmq_strerror (zmq_errno ()));
    }
    self->quiet_gaps = quiet_gaps;
    self->track_gaps = types.count == 0;
    for (size_t i = 0; i < types.count; i++)
        if (!*types.items[i])
            self->track_gaps = true; //  "" is every type
    bus_sub_set_gap_handler (sub, s_sub_on_gap, self);
    rc = S_EXIT_OK;
    for (size_t i = 0; rc == S_EXIT_OK && i < endpoints.count; i++)
        if (bus_sub_connect (sub, endpoints.items[i]) != 0)
            rc = s_fail ("cannot connect to %s: %s", endpoints.items[i],
                         zmq_strerror (zmq_errno ()));
    if (types.count == 0 && rc == S_EXIT_OK && bus_sub_subscribe (sub, "") != 0)
        rc = s_fail ("cannot subscribe: %s", zmq_strerror (zmq_errno ()));
    for (size_t i = 0; rc == S_EXIT_OK && i < types.count; i++)
        if (bus_sub_subscribe (sub, types.items[i]) != 0)
            rc = s_fail ("cannot subscribe to '%s': %s", types.items[i],
                         zmq_strerror (zmq_errno ()));

    int64_t start = zclock_mono ();
    int64_t deadline = timeout ? start + timeout : -1;
    int64_t next_stats = start + 1000;
    bool timed_out = false;
    while (rc == S_EXIT_OK && !zsys_interrupted && s_stdout_ok &&
           (count == 0 || self->facts < (uint64_t)count)) {
        int64_t now = zclock_mono ();
        if (deadline >= 0 && now >= deadline) {
            timed_out = true;
            break;
        }
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
        if (frame) {
            int handled = s_sub_handle (self, frame, &info, stats);
            zframe_destroy (&frame);
            if (handled != 0)
                break;
        }
    }
    if (rc == S_EXIT_OK) {
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
            rc = s_fail ("%" PRIu64 " of %lld facts %s", self->facts, count,
                         timed_out ? "before the timeout" : "before the interrupt");
    }
    s_sub_reset_rates (self);
    bus_sub_destroy (&sub);
    free (self);
    s_strings_free (&types);
    s_strings_free (&endpoints);
    return rc;
}

//  ---------------------------------------------------------------------------
//  pub

static int
s_pub_main (int argc, char *argv[])
{
    long long count = 1, wait = 300;
    bool connect = false;
    s_strings_t args = {0};
    s_opt_t options[] = {{"connect", S_OPT_FLAG, 0, 0, &connect},
                         {"count", S_OPT_NUMBER, 1, S_MAX_COUNT, &count},
                         {"wait", S_OPT_NUMBER, 0, S_MAX_MS, &wait},
                         {NULL, 0, 0, 0, NULL}};
    const char *names[] = {"ENDPOINT", "TYPE", "JSON"};
    int rc = s_parse (argc, argv, options, &args, names, 2, 3, s_help_pub);
    if (rc == S_CONTINUE && (s_check_endpoint (args.items[0], !connect) != 0 ||
                             s_check_type ("TYPE", args.items[1], false) != 0))
        rc = S_EXIT_USAGE;
    proto_envelope_t *envelope = NULL;
    if (rc == S_CONTINUE) {
        envelope =
            s_envelope_from_args (args.items[1], args.count > 2 ? args.items[2] : NULL);
        if (!envelope)
            rc = S_EXIT_USAGE;
    }
    if (rc != S_CONTINUE) {
        s_strings_free (&args);
        return rc;
    }
    const char *endpoint = args.items[0];
    //  Queue every fact rather than drop at the high-water mark
    int hwm = count < 1000 ? 1000 : count > 1000000 ? 1000000 : (int)count;
    bus_pub_t *pub = NULL;
    rc = S_EXIT_OK;
    if (connect) {
        //  bus_pub binds; a private inproc address, then connect it out
        char local[96];
        snprintf (local, sizeof local, "inproc://attune-probe-pub-%d-%08x",
                  (int)getpid (), (unsigned)randof (0x7fffffff));
        pub = bus_pub_new (local, hwm);
        if (!pub)
            rc = s_fail ("cannot make a PUB socket: %s", zmq_strerror (zmq_errno ()));
        else if (bus_security_apply (bus_pub_sock (pub), endpoint, false, NULL) != 0)
            rc = s_fail ("%s needs CURVE: give --cert and --server-cert", endpoint);
        else if (zsock_connect (bus_pub_sock (pub), "%s", endpoint) != 0)
            rc = s_fail ("cannot connect to %s: %s", endpoint,
                         zmq_strerror (zmq_errno ()));
        else
            fprintf (stderr, "pub: connected to %s (publisher %016" PRIx64 ")\n",
                     endpoint, bus_pub_id (pub));
    } else {
        pub = bus_pub_new (endpoint, hwm);
        if (!pub)
            rc = s_fail ("cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        else
            fprintf (stderr, "pub: bound %s (publisher %016" PRIx64 ")\n",
                     bus_pub_endpoint (pub), bus_pub_id (pub));
    }
    fflush (stderr);
    if (rc == S_EXIT_OK)
        s_sleep_ms (wait); //  PUB/SUB: subscribers must join before we publish
    long long sent = 0;
    while (rc == S_EXIT_OK && sent < count && !zsys_interrupted) {
        uint8_t id[PROTO_UUID_SIZE];
        proto_uuid_generate (id);
        proto_envelope_set_id (envelope, id);
        proto_envelope_set_ts (envelope, proto_now_usec ());
        uint64_t seq = bus_pub_send (pub, envelope);
        if (seq == 0) {
            rc = s_fail ("publishing fact %lld on %s failed: %s", sent + 1, endpoint,
                         zmq_strerror (zmq_errno ()));
            break;
        }
        sent++;
        bus_fact_info_t info = {.publisher = bus_pub_id (pub), .seq = seq};
        proto_error_t error;
        json_t *line = s_envelope_json (envelope, &info, &error);
        if (line)
            s_print_json (line);
    }
    if (rc == S_EXIT_OK && sent < count)
        rc = s_fail ("interrupted after %lld of %lld facts", sent, count);
    if (pub) {
        //  Let what is queued reach the subscribers (bounded) before leaving
        zsock_set_linger (bus_pub_sock (pub), 2000);
        bus_pub_destroy (&pub);
    }
    proto_envelope_destroy (&envelope);
    s_strings_free (&args);
    return rc;
}

//  ---------------------------------------------------------------------------
//  req and ping: one-frame requests from a DEALER

static void
s_on_skip (void *arg, bus_client_skip_t why, const char *text)
{
    if (!*(bool *)arg)
        fprintf (stderr, "%s: %s\n", s_command, text);
}

//  An api client to `endpoint` (bus/bus_client.h) that waits `timeout_ms`
//  for a reply and tells skipped messages on stderr unless `*quiet`.
static bus_client_t *
s_client_new (const char *endpoint, int timeout_ms, bool *quiet)
{
    bus_client_t *client = bus_client_new (s_source);
    if (!client) {
        s_fail ("out of memory");
        return NULL;
    }
    bus_client_set_timeout (client, timeout_ms);
    bus_client_set_send_timeout (client, 1000);
    bus_client_set_skip_handler (client, s_on_skip, quiet);
    if (bus_client_connect (client, endpoint) != 0) {
        if (bus_security_needs (endpoint))
            s_fail ("%s needs CURVE: give --cert and --server-cert", endpoint);
        else
            s_fail ("%s", bus_client_message (client));
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
    json_t *line = payload ? s_envelope_json (reply, NULL, &error) : NULL;
    const char *type = proto_envelope_type (reply);
    if (!line)
        rc = s_fail ("the %s reply cannot be shown as JSON: %s", type, error.message);
    else {
        if (raw) {
            json_decref (line);
            s_print_json (json_incref (payload));
        } else
            s_print_json (line);
        if (strcmp (type, "api.reply") == 0)
            rc = S_EXIT_OK;
        else if (strcmp (type, "api.error") == 0) {
            const char *code = s_payload_string (payload, "code");
            const char *message = s_payload_string (payload, "message");
            rc = s_fail ("%s: %s: %s", type, code ? code : "(no code)",
                         message ? message : "(no message)");
        } else
            rc = s_fail ("the reply is a %s, neither api.reply nor api.error", type);
    }
    json_decref (payload);
    return rc;
}

static int
s_req_main (int argc, char *argv[])
{
    long long timeout = 5000;
    bool raw = false, quiet = false;
    s_strings_t args = {0};
    s_opt_t options[] = {{"timeout", S_OPT_NUMBER, 1, S_MAX_MS, &timeout},
                         {"raw", S_OPT_FLAG, 0, 0, &raw},
                         {NULL, 0, 0, 0, NULL}};
    const char *names[] = {"ENDPOINT", "TYPE", "JSON"};
    int rc = s_parse (argc, argv, options, &args, names, 2, 3, s_help_req);
    if (rc == S_CONTINUE && (s_check_endpoint (args.items[0], false) != 0 ||
                             s_check_type ("TYPE", args.items[1], false) != 0))
        rc = S_EXIT_USAGE;
    proto_envelope_t *request = NULL;
    if (rc == S_CONTINUE) {
        request =
            s_envelope_from_args (args.items[1], args.count > 2 ? args.items[2] : NULL);
        if (!request)
            rc = S_EXIT_USAGE;
    }
    bus_client_t *client = NULL;
    if (rc == S_CONTINUE) {
        client = s_client_new (args.items[0], (int)timeout, &quiet);
        if (!client)
            rc = S_EXIT_FAIL;
    }
    if (rc == S_CONTINUE) {
        proto_envelope_t *reply = bus_client_call (client, &request);
        if (!bus_client_sent (client))
            rc = s_fail ("%s", bus_client_message (client));
        else if (!reply)
            rc = s_fail ("no reply from %s within %lld ms%s", args.items[0], timeout,
                         zsys_interrupted ? " (interrupted)"
                                          : " (is the service running there?)");
        else
            rc = s_req_show (reply, raw);
        proto_envelope_destroy (&reply);
    }
    proto_envelope_destroy (&request);
    bus_client_destroy (&client);
    s_strings_free (&args);
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

static int
s_ping_main (int argc, char *argv[])
{
    long long count = 5, interval = 200, timeout = 2000;
    s_strings_t args = {0};
    s_opt_t options[] = {{"count", S_OPT_NUMBER, 1, 1000000, &count},
                         {"interval", S_OPT_NUMBER, 0, S_MAX_MS, &interval},
                         {"timeout", S_OPT_NUMBER, 1, S_MAX_MS, &timeout},
                         {NULL, 0, 0, 0, NULL}};
    const char *names[] = {"ENDPOINT"};
    int rc = s_parse (argc, argv, options, &args, names, 1, 1, s_help_ping);
    if (rc == S_CONTINUE && s_check_endpoint (args.items[0], false) != 0)
        rc = S_EXIT_USAGE;
    const char *endpoint = rc == S_CONTINUE ? args.items[0] : NULL;
    bool quiet = true;
    bus_client_t *client =
        rc == S_CONTINUE ? s_client_new (endpoint, (int)timeout, &quiet) : NULL;
    if (rc == S_CONTINUE && !client)
        rc = S_EXIT_FAIL;
    double *rtts =
        rc == S_CONTINUE ? (double *)calloc ((size_t)count, sizeof (double)) : NULL;
    if (rc == S_CONTINUE && !rtts)
        rc = s_fail ("out of memory");
    if (rc != S_CONTINUE) {
        bus_client_destroy (&client);
        s_strings_free (&args);
        return rc;
    }
    long long sent = 0;
    size_t answered = 0;
    for (long long i = 1; i <= count && !zsys_interrupted && s_stdout_ok; i++) {
        if (i > 1)
            s_sleep_ms (interval);
        if (zsys_interrupted)
            break;
        proto_envelope_t *ping = proto_envelope_new ("api.ping", s_source);
        if (!ping) {
            rc = s_fail ("out of memory");
            break;
        }
        int64_t t0 = s_mono_ns ();
        proto_envelope_t *reply = bus_client_call (client, &ping);
        double ms = (double)(s_mono_ns () - t0) / 1e6;
        if (!bus_client_sent (client)) {
            rc = s_fail ("%s", bus_client_message (client));
            break;
        }
        if (!reply && zsys_interrupted)
            break; //  stopped while waiting: that one does not count
        sent++;
        char line[1024];
        if (!reply) {
            snprintf (line, sizeof line, "no reply from %s: seq=%lld within %lld ms",
                      endpoint, i, timeout);
            s_print_line (line);
            continue;
        }
        json_t *payload = proto_envelope_payload_json (reply, NULL);
        const char *type = proto_envelope_type (reply);
        if (strcmp (type, "api.reply") == 0) {
            const char *source =
                s_payload_string (json_object_get (payload, "result"), "source");
            snprintf (line, sizeof line, "pong from %.200s: seq=%lld time=%.3f ms",
                      source ? source : proto_envelope_source (reply), i, ms);
            rtts[answered++] = ms;
        } else {
            const char *code = s_payload_string (payload, "code");
            const char *message = s_payload_string (payload, "message");
            snprintf (line, sizeof line, "%.64s from %.200s: seq=%lld %.64s: %.200s",
                      type, proto_envelope_source (reply), i, code ? code : "-",
                      message ? message : "-");
        }
        s_print_line (line);
        json_decref (payload);
        proto_envelope_destroy (&reply);
    }
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
    s_print_line (summary);
    if (rc == S_CONTINUE)
        rc = answered == (size_t)sent && sent > 0 ? S_EXIT_OK : S_EXIT_FAIL;
    free (rtts);
    bus_client_destroy (&client);
    s_strings_free (&args);
    return rc;
}

//  ---------------------------------------------------------------------------
//  cmd

typedef struct {
    bool acked;
    bool rejected;
    char code[64];
    char message[512];
} s_cmd_t;

static void
s_cmd_on_reject (void *arg, const proto_envelope_t *command, const char *code,
                 const char *message)
{
    s_cmd_t *self = (s_cmd_t *)arg;
    self->rejected = true;
    snprintf (self->code, sizeof self->code, "%s", code);
    snprintf (self->message, sizeof self->message, "%s", message);
}

static void
s_cmd_on_ack (void *arg, const uint8_t id[PROTO_UUID_SIZE])
{
    ((s_cmd_t *)arg)->acked = true;
}

static int
s_cmd_main (int argc, char *argv[])
{
    long long timeout = 5000;
    const char *name = NULL;
    s_strings_t args = {0};
    s_opt_t options[] = {{"name", S_OPT_STRING, 0, 0, &name},
                         {"timeout", S_OPT_NUMBER, 1, S_MAX_MS, &timeout},
                         {NULL, 0, 0, 0, NULL}};
    const char *names[] = {"ENDPOINT", "TYPE", "JSON"};
    int rc = s_parse (argc, argv, options, &args, names, 2, 3, s_help_cmd);
    if (rc == S_CONTINUE && (s_check_endpoint (args.items[0], false) != 0 ||
                             s_check_type ("TYPE", args.items[1], false) != 0))
        rc = S_EXIT_USAGE;
    if (rc == S_CONTINUE && name && (!*name || strlen (name) > S_MAX_NAME))
        rc = s_usage_error ("--name: '%.40s%s' must have 1..%d bytes", name,
                            strlen (name) > 40 ? "..." : "", S_MAX_NAME);
    proto_envelope_t *command = NULL;
    if (rc == S_CONTINUE) {
        command =
            s_envelope_from_args (args.items[1], args.count > 2 ? args.items[2] : NULL);
        if (!command)
            rc = S_EXIT_USAGE;
    }
    if (rc != S_CONTINUE) {
        s_strings_free (&args);
        return rc;
    }
    const char *endpoint = args.items[0];
    if (name)
        proto_envelope_set_source (command, name);
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    bus_link_t *link = bus_link_new (endpoint, name ? name : s_source, &config);
    s_cmd_t state = {0};
    rc = S_EXIT_OK;
    if (!link)
        rc = s_fail ("cannot open a link to %s: %s", endpoint,
                     zmq_strerror (zmq_errno ()));
    else {
        bus_link_set_reject_handler (link, s_cmd_on_reject, &state);
        bus_link_set_ack_handler (link, s_cmd_on_ack, &state);
        if (bus_link_send (link, &command) != 0)
            rc = s_fail ("cannot send the command to %s: %s", endpoint,
                         errno == EMSGSIZE ? "larger than the frame limit"
                                           : zmq_strerror (zmq_errno ()));
        else {
            bus_link_flush (link, (int)timeout);
            if (state.rejected) {
                char line[640];
                snprintf (line, sizeof line, "rejected %s: %s", state.code,
                          state.message);
                s_print_line (line);
                rc = S_EXIT_FAIL;
            } else if (state.acked)
                s_print_line ("acked");
            else
                rc = s_fail (
                    "no acknowledgement from %s within %lld ms%s", endpoint, timeout,
                    zsys_interrupted ? " (interrupted)"
                                     : " (is a *.commands ROUTER there? the command may "
                                       "still arrive: resending it is safe)");
        }
    }
    bus_link_destroy (&link);
    proto_envelope_destroy (&command);
    s_strings_free (&args);
    return rc;
}

//  ---------------------------------------------------------------------------

int
main (int argc, char *argv[])
{
    if (argc < 2) {
        s_usage (stderr);
        return S_EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp (command, "--help") == 0 || strcmp (command, "-h") == 0 ||
        strcmp (command, "help") == 0) {
        s_usage (stdout);
        return S_EXIT_OK;
    }
    int (*run) (int, char **) = NULL;
    if (strcmp (command, "sub") == 0)
        run = s_sub_main;
    else if (strcmp (command, "pub") == 0)
        run = s_pub_main;
    else if (strcmp (command, "req") == 0)
        run = s_req_main;
    else if (strcmp (command, "cmd") == 0)
        run = s_cmd_main;
    else if (strcmp (command, "ping") == 0)
        run = s_ping_main;
    if (!run) {
        fprintf (stderr,
                 "attune-probe: unknown command '%.64s' (sub, pub, req, cmd, "
                 "ping)\n",
                 command);
        s_usage (stderr);
        return S_EXIT_USAGE;
    }
    snprintf (s_command, sizeof s_command, "attune-probe %s", command);

    //  --cert, --server-cert, --allow anywhere: taken out before the command
    //  parses the rest
    bus_security_config_t security = {0};
    security.cert = getenv ("ATTUNE_CERT");
    security.server = getenv ("ATTUNE_SERVER_CERT");
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        const char *names[] = {"--cert", "--server-cert", "--allow"};
        const char **targets[] = {&security.cert, &security.server, &security.allow};
        int found = -1;
        const char *value = NULL;
        for (int n = 0; n < 3 && found < 0; n++) {
            size_t len = strlen (names[n]);
            if (strncmp (argv[i], names[n], len) == 0 &&
                (argv[i][len] == 0 || argv[i][len] == '=')) {
                found = n;
                value = argv[i][len] == '=' ? argv[i] + len + 1
                        : i + 1 < argc      ? argv[++i]
                                            : NULL;
            }
        }
        if (found < 0) {
            argv[kept++] = argv[i];
            continue;
        }
        if (!value || !*value) {
            fprintf (stderr, "%s: %s needs a value\n", s_command, names[found]);
            return S_EXIT_USAGE;
        }
        *targets[found] = value;
    }
    argc = kept;
    argv[argc] = NULL;
    if (security.cert && !*security.cert)
        security.cert = NULL;
    if (security.server && !*security.server)
        security.server = NULL;
    if (security.cert || security.server || security.allow) {
        security.mode = BUS_SECURITY_ALWAYS; //  asked for: every tcp endpoint
        char message[512];
        if (!security.cert) {
            fprintf (stderr, "%s: CURVE needs --cert (a secret cert)\n", s_command);
            return S_EXIT_USAGE;
        }
        if (bus_security_configure (&security, message, sizeof message) != 0) {
            fprintf (stderr, "%s: %s\n", s_command, message);
            return S_EXIT_USAGE;
        }
    }

    char host[256] = "localhost";
    if (gethostname (host, sizeof host - 1) != 0 || !*host)
        snprintf (host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    snprintf (s_source, sizeof s_source, "attune-probe@%.200s", host);

    //  CZMQ logs to stdout by default: stdout is for results only. Its
    //  SIGINT/SIGTERM handler sets zsys_interrupted, which every loop
    //  checks; a closed stdout pipe is an error return, not a signal.
    zsys_init ();
    zsys_set_logstream (stderr);
    zsys_set_logident ("attune-probe");
    signal (SIGPIPE, SIG_IGN);
    int rc = run (argc - 1, argv + 1);
    bus_security_shutdown ();
    return rc;
}
