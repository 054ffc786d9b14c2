/*  attune: the command line client of attune's api, as st2 is for StackStorm.

        attune [--api ENDPOINT] [--json] [--timeout MS] [--as NAME]
               [--cert FILE --server-cert FILE] COMMAND ...
        attune keygen NAME [--identity ID] [--role admin|operator|viewer] [--dir DIR]

    With --cert (a secret cert, default $ATTUNE_CERT) and --server-cert (the
    api's public cert, default $ATTUNE_SERVER_CERT) the DEALER to the api and
    the SUB to its facts use CURVE (bus/bus_security.h); without them a tcp
    api that is not on loopback is refused, never reached in plaintext.
    `keygen` makes a cert pair with zcert (no socket involved).

    Every command is one or a few request/reply exchanges with the api
    (proto/PROTOCOL.md, "API (issue 4)") over a DEALER socket: one frame out,
    an envelope whose type is the operation, one frame back, `api.reply` or
    `api.error` with corr = the request's id. A request with no reply within
    half the timeout is sent once more with the same id (the api is
    idempotent by request id); without a reply by the timeout the command
    fails with `unavailable`. `run --wait` and `execution tail` also
    subscribe to the api's fact endpoint for `execution.` facts and poll
    `api.execution.get`, so a lost fact only delays a status line.

    Output is an aligned table or a property list for people; with --json it
    is the operation's result as one JSON document, for scripts.

    Exit codes: 0 success, 1 an api error, a timeout or an execution that did
    not complete, 2 a usage error. Errors go to stderr as "attune: CODE:
    MESSAGE".
*/
#include <czmq.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "proto/proto_envelope.h"
#include "proto/proto_json.h"
#include "actors/registry/registry_yaml.h"
#include "bus/bus_client.h"
#include "bus/bus_security.h"
#include "tools/attune_cli_pages.h"

#include <sys/stat.h>

#define S_EXIT_OK     0
#define S_EXIT_FAILED 1
#define S_EXIT_USAGE  2
#define S_DEFAULT_API "tcp://127.0.0.1:5570"
#define S_DEFAULT_MS  10000
#define S_POLL_MS     500           //  api.execution.get while following
#define S_PROGRESS_MS 100           //  redraw of the progress line on a tty
#define S_LAG_MS      3000          //  terminal fact seen, store not yet: wait this long
#define S_CELL_MAX    64            //  longest table cell, in characters
#define S_FILE_MAX    (1024 * 1024) //  largest rule file
#define S_MAX_OPTIONS 12
#define S_LIMIT       100     //  items a newest-first list shows unless --limit
#define S_LIMIT_MAX   1000000 //  --limit, at most (fetched in pages)

//  ---------------------------------------------------------------------------
//  The client: one DEALER to the api, the last error

typedef struct {
    const char *endpoint;
    const char *identity; //  who responds to inquiries (--as, $ATTUNE_IDENTITY)
    bool json;
    int timeout_ms;
    bus_client_t *api; //  the api, connected on first use
    char source[PROTO_MAX_SOURCE + 1];
    char code[64];    //  last error: stable code ...
    char *message;    //  ... and what, where, why
    const char *cert; //  secret cert (--cert, $ATTUNE_CERT)
    const char
        *server_cert; //  the api's public cert (--server-cert, $ATTUNE_SERVER_CERT)
} s_client_t;

static void
s_fail (s_client_t *self, const char *code, const char *format, ...)
{
    snprintf (self->code, sizeof self->code, "%s", code);
    free (self->message);
    va_list args;
    va_start (args, format);
    self->message = zsys_vprintf (format, args);
    va_end (args);
}

//  Print the last error; returns the exit code for it.
static int
s_report (s_client_t *self)
{
    fprintf (stderr, "attune: %s: %s\n", self->code[0] ? self->code : "error",
             self->message ? self->message : "failed");
    return S_EXIT_FAILED;
}

//  0 when `endpoint` can be reached: -1, said in the client's words, when
//  it needs CURVE and no keys were given.
static int
s_client_keys (s_client_t *self, const char *endpoint)
{
    if (bus_security_needs (endpoint) && !bus_security_public_key ()) {
        s_fail (self, "unavailable",
                "%s is not loopback: it is reached only with CURVE (give --cert FILE "
                "and --server-cert FILE, or $ATTUNE_CERT and $ATTUNE_SERVER_CERT)",
                endpoint);
        return -1;
    }
    return 0;
}

//  CURVE for a socket to `endpoint` (bus_security_apply as a client). 0 or -1.
static int
s_client_secure (s_client_t *self, zsock_t *sock, const char *endpoint)
{
    if (s_client_keys (self, endpoint) != 0)
        return -1;
    if (bus_security_apply (sock, endpoint, false, NULL) != 0) {
        s_fail (self, "unavailable", "cannot set up CURVE for %s", endpoint);
        return -1;
    }
    return 0;
}

//  The api client (bus/bus_client.h), connected on first use: a request
//  with no reply by half the timeout is sent once more with the same id.
static bus_client_t *
s_client_api (s_client_t *self)
{
    if (self->api)
        return self->api;
    if (s_client_keys (self, self->endpoint) != 0)
        return NULL;
    bus_client_t *api = bus_client_new (self->source);
    if (!api) {
        s_fail (self, "nomem", "cannot make the api client");
        return NULL;
    }
    bus_client_set_timeout (api, self->timeout_ms);
    bus_client_set_resend (api, true);
    if (bus_client_connect (api, self->endpoint) != 0) {
        s_fail (self, bus_client_code (api), "%s", bus_client_message (api));
        bus_client_destroy (&api);
        return NULL;
    }
    self->api = api;
    return api;
}

//  Send one request and wait for its reply. Takes ownership of `payload`
//  (NULL = {}). Returns the result (caller owns it), or NULL with the
//  client's error set (the api's code and message for api.error).
static json_t *
s_request (s_client_t *self, const char *type, json_t *payload)
{
    self->code[0] = 0;
    bus_client_t *api = s_client_api (self);
    json_t *result = api ? bus_client_request (api, type, &payload) : NULL;
    if (api && !result)
        s_fail (self, bus_client_code (api), "%s", bus_client_message (api));
    json_decref (payload);
    return result;
}

//  ---------------------------------------------------------------------------
//  Text helpers

//  A copy of `text` fit for a terminal: control characters become spaces,
//  and at most `max` characters (UTF-8 code points) are kept (0 = all).
static char *
s_clean (const char *text, size_t max)
{
    size_t len = strlen (text);
    char *out = (char *)malloc (len + 4);
    if (!out)
        abort ();
    size_t o = 0, chars = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c & 0xc0) != 0x80 && max && chars++ == max) {
            memcpy (out + o, "...", 3);
            o += 3;
            break;
        }
        out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[o] = 0;
    return out;
}

static size_t
s_width (const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        if (((unsigned char)*text & 0xc0) != 0x80)
            n++;
    return n;
}

//  A JSON value as text: strings as they are, null as "-", others as JSON.
static char *
s_json_text (const json_t *value)
{
    if (!value || json_is_null (value))
        return strdup ("-");
    if (json_is_string (value))
        return strdup (json_string_value (value));
    char *text =
        json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION (15));
    return text ? text : strdup ("?");
}

static void
s_format_time (int64_t usec, bool with_ms, char *out, size_t size)
{
    if (usec <= 0) {
        snprintf (out, size, "-");
        return;
    }
    time_t seconds = (time_t)(usec / 1000000);
    struct tm tm;
    if (!localtime_r (&seconds, &tm) || !strftime (out, size, "%Y-%m-%d %H:%M:%S", &tm)) {
        snprintf (out, size, "%lld", (long long)usec);
        return;
    }
    if (with_ms) {
        size_t n = strlen (out);
        snprintf (out + n, size - n, ".%03d", (int)(usec % 1000000 / 1000));
    }
}

static void
s_format_duration (double seconds, char *out, size_t size)
{
    if (seconds < 0)
        snprintf (out, size, "-");
    else if (seconds < 10)
        snprintf (out, size, "%.2f s", seconds);
    else if (seconds < 60)
        snprintf (out, size, "%.1f s", seconds);
    else if (seconds < 3600)
        snprintf (out, size, "%dm%02ds", (int)seconds / 60, (int)seconds % 60);
    else
        snprintf (out, size, "%dh%02dm", (int)(seconds / 3600), (int)seconds % 3600 / 60);
}

static int64_t
s_int (const json_t *object, const char *key)
{
    const json_t *value = json_object_get (object, key);
    if (json_is_integer (value))
        return (int64_t)json_integer_value (value);
    if (json_is_real (value))
        return (int64_t)json_real_value (value);
    return 0;
}

static const char *
s_str (const json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

//  Duration of an execution: ended - started, or now - started while it runs.
static void
s_execution_duration (const json_t *execution, char *out, size_t size)
{
    int64_t started = s_int (execution, "started");
    int64_t ended = s_int (execution, "ended");
    if (started <= 0)
        snprintf (out, size, "-");
    else
        s_format_duration (
            (double)((ended > 0 ? ended : proto_now_usec ()) - started) / 1e6, out, size);
}

//  ---------------------------------------------------------------------------
//  Tables: a header row, then rows of cells, printed with aligned columns

typedef struct {
    size_t ncols, ncells, cap;
    char **cells;
} s_table_t;

static void
s_table_push (s_table_t *self, const char *text, size_t max)
{
    if (self->ncells == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 64;
        self->cells = (char **)realloc (self->cells, self->cap * sizeof (char *));
        if (!self->cells)
            abort ();
    }
    self->cells[self->ncells++] = s_clean (text && *text ? text : "-", max);
}

//  A cell, clipped to S_CELL_MAX characters.
static void
s_table_add (s_table_t *self, const char *text)
{
    s_table_push (self, text, S_CELL_MAX);
}

//  A cell shown whole (the last column).
static void
s_table_add_whole (s_table_t *self, const char *text)
{
    s_table_push (self, text, 0);
}

static void
s_table_add_json (s_table_t *self, const json_t *value)
{
    char *text = s_json_text (value);
    s_table_add (self, text);
    free (text);
}

static void
s_table_add_time (s_table_t *self, int64_t usec)
{
    char text[64];
    s_format_time (usec, false, text, sizeof text);
    s_table_add (self, text);
}

static s_table_t *
s_table_new (const char *headers)
{
    s_table_t *self = (s_table_t *)calloc (1, sizeof *self);
    if (!self)
        abort ();
    char *copy = strdup (headers);
    for (char *save = NULL, *h = strtok_r (copy, " ", &save); h;
         h = strtok_r (NULL, " ", &save)) {
        s_table_add (self, h);
        self->ncols++;
    }
    free (copy);
    return self;
}

static void
s_table_print (s_table_t *self, FILE *out)
{
    size_t *widths = (size_t *)calloc (self->ncols, sizeof (size_t));
    if (!widths)
        abort ();
    for (size_t i = 0; i < self->ncells; i++) {
        size_t w = s_width (self->cells[i]);
        if (w > widths[i % self->ncols])
            widths[i % self->ncols] = w;
    }
    for (size_t i = 0; i < self->ncells; i++) {
        size_t col = i % self->ncols;
        fputs (self->cells[i], out);
        if (col + 1 == self->ncols || i + 1 == self->ncells)
            fputc ('\n', out);
        else
            fprintf (out, "%*s", (int)(widths[col] - s_width (self->cells[i]) + 2), "");
    }
    free (widths);
}

static void
s_table_destroy (s_table_t **self_p)
{
    if (*self_p) {
        s_table_t *self = *self_p;
        for (size_t i = 0; i < self->ncells; i++)
            free (self->cells[i]);
        free (self->cells);
        free (self);
        *self_p = NULL;
    }
}

//  Print and destroy a table.
static void
s_table_done (s_table_t **self_p)
{
    s_table_print (*self_p, stdout);
    s_table_destroy (self_p);
}

//  A "key: value" line of a property list; a value of several lines has
//  them indented under the key.
static void
s_prop (const char *key, const char *value)
{
    size_t pad = strlen (key) < 12 ? 12 - strlen (key) : 1;
    printf ("%s:%*s", key, (int)pad, "");
    if (!value || !*value)
        value = "-";
    for (const char *p = value; *p;) {
        size_t n = strcspn (p, "\n");
        char *line = strndup (p, n);
        char *clean = s_clean (line ? line : "", 0);
        printf ("%*s%s\n", p == value ? 0 : 13, "", clean);
        free (clean);
        free (line);
        p += n + (p[n] == '\n');
    }
}

static void
s_prop_json (const char *key, const json_t *value)
{
    char *text = s_json_text (value);
    s_prop (key, text);
    free (text);
}

static void
s_prop_time (const char *key, int64_t usec)
{
    char text[64];
    s_format_time (usec, true, text, sizeof text);
    s_prop (key, text);
}

//  The result document as JSON on stdout (--json).
static int
s_print_json (const json_t *value)
{
    char *text = json_dumps (value, JSON_INDENT (2) | JSON_ENCODE_ANY);
    if (!text)
        return S_EXIT_FAILED;
    puts (text);
    free (text);
    return S_EXIT_OK;
}

//  A text block under a property, YAML style: "  stdout: |" then the lines.
static void
s_print_text (const char *indent, const char *key, const char *text)
{
    size_t len = strlen (text);
    while (len && text[len - 1] == '\n')
        len--;
    if (len == 0) {
        printf ("%s%s: ''\n", indent, key);
        return;
    }
    if (!memchr (text, '\n', len)) {
        printf ("%s%s: %.*s\n", indent, key, (int)len, text);
        return;
    }
    printf ("%s%s: |\n", indent, key);
    for (size_t i = 0; i < len;) {
        size_t n = strcspn (text + i, "\n");
        if (n > len - i)
            n = len - i;
        printf ("%s  %.*s\n", indent, (int)n, text + i);
        i += n + 1;
    }
}

//  An execution's result: stdout/stderr/return_code for shell and python
//  actions (and the error attune detected), the JSON result otherwise.
static void
s_print_result (const json_t *result)
{
    bool shell =
        json_is_object (result) &&
        (json_object_get (result, "stdout") || json_object_get (result, "stderr") ||
         json_object_get (result, "return_code") || json_object_get (result, "error"));
    if (!shell) {
        char *text = result ? json_dumps (result, JSON_INDENT (2) | JSON_ENCODE_ANY)
                            : strdup ("null");
        if (text && !strchr (text, '\n'))
            printf ("result:      %s\n", text);
        else if (text) {
            printf ("result:\n");
            for (char *save = NULL, *line = strtok_r (text, "\n", &save); line;
                 line = strtok_r (NULL, "\n", &save))
                printf ("  %s\n", line);
        }
        free (text);
        return;
    }
    printf ("result:\n");
    const json_t *code = json_object_get (result, "return_code");
    if (code) {
        char *text = s_json_text (code);
        printf ("  return_code: %s\n", text);
        free (text);
    }
    const char *keys[] = {"stdout", "stderr", "error"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const json_t *value = json_object_get (result, keys[i]);
        if (json_is_string (value))
            s_print_text ("  ", keys[i], json_string_value (value));
        else if (value) {
            char *text = s_json_text (value);
            printf ("  %s: %s\n", keys[i], text);
            free (text);
        }
    }
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)result, key, value)
    {
        if (streq (key, "stdout") || streq (key, "stderr") || streq (key, "error") ||
            streq (key, "return_code") || streq (key, "result") ||
            streq (key, "succeeded"))
            continue;
        char *text = s_json_text (value);
        char *clean = s_clean (text, 0);
        printf ("  %s: %s\n", key, clean);
        free (clean);
        free (text);
    }
}

static void
s_print_execution (const json_t *execution)
{
    s_prop_json ("id", json_object_get (execution, "id"));
    s_prop_json ("action", json_object_get (execution, "action"));
    char duration[64];
    s_execution_duration (execution, duration, sizeof duration);
    const char *status = s_str (execution, "status");
    char *line = zsys_sprintf ("%s%s%s%s", status ? status : "?",
                               s_int (execution, "started") > 0 ? " (" : "",
                               s_int (execution, "started") > 0 ? duration : "",
                               s_int (execution, "started") > 0 ? ")" : "");
    s_prop ("status", line);
    zstr_free (&line);
    if (json_object_get (execution, "runner"))
        s_prop_json ("runner", json_object_get (execution, "runner"));
    s_prop_json ("parameters", json_object_get (execution, "parameters"));
    const char *optional[] = {"worker", "rule", "event", "enforcement", "parent"};
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++) {
        const json_t *value = json_object_get (execution, optional[i]);
        if (value && !json_is_null (value))
            s_prop_json (optional[i], value);
    }
    s_prop_time ("requested", s_int (execution, "requested"));
    if (s_int (execution, "started") > 0)
        s_prop_time ("started", s_int (execution, "started"));
    if (s_int (execution, "ended") > 0)
        s_prop_time ("ended", s_int (execution, "ended"));
    const json_t *log = json_object_get (execution, "log");
    if (json_is_array (log) && json_array_size (log)) {
        printf ("log:\n");
        size_t i;
        const json_t *entry;
        json_array_foreach (log, i, entry)
        {
            char when[64];
            s_format_time (s_int (entry, "ts"), true, when, sizeof when);
            char *clean = s_clean (
                s_str (entry, "status") ? s_str (entry, "status") : "?", S_CELL_MAX);
            printf ("  %s  %s\n", when, clean);
            free (clean);
        }
    }
    s_print_result (json_object_get (execution, "result"));
    if (status && streq (status, "pending"))
        printf ("(waiting for a person: attune inquiry get %s)\n",
                s_str (execution, "id"));
}

//  ---------------------------------------------------------------------------
//  Commands: specification, argument parsing, usage

typedef struct {
    const char *name;    //  "--status"
    const char *metavar; //  "S", or NULL for a flag
    const char *help;
} s_option_t;

typedef struct _s_args_t s_args_t;
typedef int (s_handler_fn) (s_client_t *client, s_args_t *args);

typedef struct {
    const char *group; //  "execution"
    const char *name;  //  "list", or NULL for a command without subcommands
    const char *synopsis;
    const char *summary;
    const s_option_t *options; //  ends with {NULL}
    int min_pos, max_pos;      //  positional arguments (-1 = no limit)
    s_handler_fn *fn;
} s_command_t;

struct _s_args_t {
    const s_command_t *command;
    int npos;
    char **pos;
    const char *value[S_MAX_OPTIONS]; //  by option index; "" for a flag given
};

static void
s_command_path (const s_command_t *command, char *out, size_t size)
{
    snprintf (out, size, "%s%s%s", command->group, command->name ? " " : "",
              command->name ? command->name : "");
}

static void
s_command_usage (const s_command_t *command, FILE *out)
{
    char path[64];
    s_command_path (command, path, sizeof path);
    fprintf (out, "usage: attune %s %s\n\n%s\n\noptions:\n", path, command->synopsis,
             command->summary);
    for (const s_option_t *o = command->options; o && o->name; o++) {
        char left[64];
        snprintf (left, sizeof left, "%s%s%s", o->name, o->metavar ? " " : "",
                  o->metavar ? o->metavar : "");
        fprintf (out, "  %-18s %s\n", left, o->help);
    }
    fprintf (out, "  %-18s %s\n  %-18s %s\n", "--json", "print the result as JSON",
             "-h, --help", "this text");
}

static int
s_usage_error (const s_command_t *command, const char *format, ...)
{
    char path[64];
    s_command_path (command, path, sizeof path);
    va_list args;
    va_start (args, format);
    char *message = zsys_vprintf (format, args);
    va_end (args);
    fprintf (stderr, "attune: %s: %s\nusage: attune %s %s\n(see attune %s --help)\n",
             path, message ? message : "bad arguments", path, command->synopsis, path);
    zstr_free (&message);
    return S_EXIT_USAGE;
}

//  The value of an option, NULL when not given.
static const char *
s_opt (const s_args_t *args, const char *name)
{
    for (int i = 0; args->command->options && args->command->options[i].name; i++)
        if (streq (args->command->options[i].name, name))
            return args->value[i];
    assert (false); //  a handler asked for an option it does not declare
    return NULL;
}

//  Parse a command's arguments. Returns -1 to go on, or the exit code
//  (0 after --help, 2 after a usage error).
static int
s_args_parse (s_client_t *client, const s_command_t *command, int argc, char **argv,
              s_args_t *args)
{
    memset (args, 0, sizeof *args);
    args->command = command;
    args->pos = (char **)calloc ((size_t)argc + 1, sizeof (char *));
    if (!args->pos)
        abort ();
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (options_done || arg[0] != '-' || arg[1] == 0) {
            args->pos[args->npos++] = arg;
            continue;
        }
        if (streq (arg, "--")) {
            options_done = true;
            continue;
        }
        if (streq (arg, "--help") || streq (arg, "-h")) {
            s_command_usage (command, stdout);
            return S_EXIT_OK;
        }
        if (streq (arg, "--json")) {
            client->json = true;
            continue;
        }
        size_t name_len = strcspn (arg, "=");
        int found = -1;
        for (int o = 0; command->options && command->options[o].name; o++)
            if (strlen (command->options[o].name) == name_len &&
                strncmp (command->options[o].name, arg, name_len) == 0)
                found = o;
        if (found < 0)
            return s_usage_error (command, "unknown option '%.*s'", (int)name_len, arg);
        const s_option_t *option = &command->options[found];
        if (!option->metavar) {
            if (arg[name_len] == '=')
                return s_usage_error (command, "%s takes no value", option->name);
            args->value[found] = "";
        } else if (arg[name_len] == '=')
            args->value[found] = arg + name_len + 1;
        else if (i + 1 < argc)
            args->value[found] = argv[++i];
        else
            return s_usage_error (command, "%s needs a value (%s)", option->name,
                                  option->metavar);
    }
    if (args->npos < command->min_pos)
        return s_usage_error (command, "missing argument");
    if (command->max_pos >= 0 && args->npos > command->max_pos)
        return s_usage_error (command, "unexpected argument '%s'",
                              args->pos[command->max_pos]);
    return -1;
}

//  ---------------------------------------------------------------------------
//  Argument values

static bool
s_parse_long (const char *text, long long min, long long max, long long *out)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end = NULL;
    long long value = strtoll (text, &end, 10);
    if (errno || *end || value < min || value > max)
        return false;
    *out = value;
    return true;
}

//  Seconds, positive, up to a year: "30", "2.5".
static bool
s_parse_seconds (const char *text, double *out)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end = NULL;
    double value = strtod (text, &end);
    if (errno || *end || !(value > 0) || value > 366 * 86400.0)
        return false;
    *out = value;
    return true;
}

//  A time for --since/--until: µs since the epoch (digits), "now", an age
//  ("90s", "10m", "2h", "1d": that long ago), or a date "YYYY-MM-DD",
//  "YYYY-MM-DD HH:MM[:SS]" or with a "T" (local time; UTC with a final "Z").
static bool
s_parse_time (const char *text, int64_t *out)
{
    long long number;
    if (s_parse_long (text, 0, INT64_MAX, &number)) {
        *out = number;
        return true;
    }
    if (streq (text, "now")) {
        *out = proto_now_usec ();
        return true;
    }
    size_t len = strlen (text);
    if (len >= 2 && len < 16 && strchr ("smhd", text[len - 1])) {
        char digits[16];
        memcpy (digits, text, len - 1);
        digits[len - 1] = 0;
        long long count;
        long long unit = text[len - 1] == 's'   ? 1
                         : text[len - 1] == 'm' ? 60
                         : text[len - 1] == 'h' ? 3600
                                                : 86400;
        if (s_parse_long (digits, 0, 100LL * 366 * 86400 / unit, &count)) {
            *out = proto_now_usec () - count * unit * 1000000LL;
            return true;
        }
        return false;
    }
    struct tm tm = {0};
    int year, month, day, hour = 0, minute = 0, second = 0, used = 0;
    char sep = 0;
    if (sscanf (text, "%4d-%2d-%2d%n", &year, &month, &day, &used) != 3)
        return false;
    const char *rest = text + used;
    if (*rest == 'T' || *rest == ' ') {
        sep = *rest;
        int more = 0;
        if (sscanf (rest + 1, "%2d:%2d%n", &hour, &minute, &more) != 2)
            return false;
        rest += 1 + more;
        if (*rest == ':') {
            if (sscanf (rest + 1, "%2d%n", &second, &more) != 1)
                return false;
            rest += 1 + more;
        }
    }
    (void)sep;
    bool utc = *rest == 'Z';
    if (utc)
        rest++;
    if (*rest || year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 ||
        hour > 23 || minute > 59 || second > 60 || hour < 0 || minute < 0 || second < 0)
        return false;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    tm.tm_isdst = -1;
    time_t seconds = utc ? timegm (&tm) : mktime (&tm);
    if (seconds == (time_t)-1)
        return false;
    *out = (int64_t)seconds * 1000000;
    return true;
}

//  An execution id: a UUID, made canonical (lowercase, with dashes).
static bool
s_parse_id (const char *text, char out[PROTO_UUID_STR_SIZE])
{
    uint8_t id[PROTO_UUID_SIZE];
    if (!text || proto_uuid_parse (text, id) != 0)
        return false;
    proto_uuid_format (id, out);
    return true;
}

//  key=value arguments as a JSON object: a value that parses as JSON is
//  that JSON (n=3, flag=true, x={"a":1}), any other is a string. Returns
//  NULL after a usage error was printed.
static json_t *
s_parse_parameters (const s_command_t *command, char **args, int count)
{
    json_t *parameters = json_object ();
    for (int i = 0; i < count; i++) {
        const char *eq = strchr (args[i], '=');
        if (!eq || eq == args[i]) {
            s_usage_error (command, "'%s' is not key=value", args[i]);
            json_decref (parameters);
            return NULL;
        }
        char *key = strndup (args[i], (size_t)(eq - args[i]));
        json_t *value =
            json_loads (eq + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        if (!value)
            value = json_string (eq + 1);
        const char *problem = !value                              ? "is not valid UTF-8"
                              : json_object_get (parameters, key) ? "is given twice"
                                                                  : NULL;
        if (!problem && json_object_set_new (parameters, key, value) != 0) {
            value = NULL; //  set_new took it
            problem = "is not a valid UTF-8 name";
        } else if (!problem)
            value = NULL;
        json_decref (value);
        if (problem) {
            char *clean = s_clean (key, S_CELL_MAX);
            s_usage_error (command, "parameter '%s' %s", clean, problem);
            free (clean);
            free (key);
            json_decref (parameters);
            return NULL;
        }
        free (key);
    }
    return parameters;
}

//  ---------------------------------------------------------------------------
//  Following an execution until it ends (run --wait, execution tail)

typedef struct {
    s_client_t *client;
    const char *id;
    bool tail;          //  status lines on stdout (tail) or stderr (run --wait)
    bool tty;           //  run --wait on a terminal: one redrawn progress line
    char *shown;        //  last status reported
    int64_t requested;  //  µs, from the execution
    int64_t start_mono; //  when we began, for a missing `requested`
} s_follow_t;

static int
s_status_rank (const char *status)
{
    if (!status)
        return -1;
    if (streq (status, "requested") || streq (status, "delayed"))
        return 0;
    if (streq (status, "scheduled"))
        return 1;
    if (streq (status, "running"))
        return 2;
    if (streq (status, "canceling"))
        return 3;
    if (streq (status, "completed") || streq (status, "failed") ||
        streq (status, "timeout") || streq (status, "cancelled") ||
        streq (status, "abandoned"))
        return 4;
    return 2; //  a status this client does not know: between the others
}

static double
s_follow_elapsed (s_follow_t *self)
{
    if (self->requested > 0)
        return (double)(proto_now_usec () - self->requested) / 1e6;
    return (double)(zclock_mono () - self->start_mono) / 1000.0;
}

static void
s_follow_progress (s_follow_t *self)
{
    if (self->tty && self->shown)
        fprintf (stderr, "\r  %-10s %6.1f s\033[K", self->shown, s_follow_elapsed (self));
}

//  A status seen (from a fact or a get): report it when it moves forward.
static void
s_follow_status (s_follow_t *self, const char *status)
{
    if (!status ||
        (self->shown && (streq (status, self->shown) ||
                         s_status_rank (status) <= s_status_rank (self->shown))))
        return;
    free (self->shown);
    self->shown = strdup (status);
    if (self->client->json)
        return;
    char *clean = s_clean (status, S_CELL_MAX);
    if (self->tail) {
        char when[64];
        s_format_time (proto_now_usec (), true, when, sizeof when);
        printf ("%s  %s\n", when, clean);
        fflush (stdout);
    } else if (self->tty)
        s_follow_progress (self);
    else
        fprintf (stderr, "  %-10s %6.1f s\n", clean, s_follow_elapsed (self));
    free (clean);
}

//  The fact endpoint, with a wildcard host (0.0.0.0, *) replaced by the
//  api's host. Caller frees.
static char *
s_facts_endpoint (const char *api, const char *facts)
{
    if (strncmp (facts, "tcp://", 6) == 0 && strncmp (api, "tcp://", 6) == 0) {
        const char *host = facts + 6, *colon = strrchr (host, ':');
        const char *api_host = api + 6, *api_colon = strrchr (api_host, ':');
        size_t n = colon ? (size_t)(colon - host) : 0;
        bool wildcard = (n == 7 && strncmp (host, "0.0.0.0", 7) == 0) ||
                        (n == 1 && *host == '*') ||
                        (n == 4 && strncmp (host, "[::]", 4) == 0);
        if (wildcard && api_colon)
            return zsys_sprintf ("tcp://%.*s%s", (int)(api_colon - api_host), api_host,
                                 colon);
    }
    return strdup (facts);
}

//  A SUB socket on the api's fact endpoint, subscribed to the executor's
//  facts (all of them: their sequence numbers show a gap only in the whole
//  stream); NULL (with a warning) when there is none: following then only
//  polls.
static zsock_t *
s_follow_subscribe (s_client_t *client)
{
    json_t *hello = s_request (client, "api.hello", NULL);
    const char *facts = json_string_value (json_object_get (hello, "facts"));
    if (!facts) {
        if (hello)
            s_fail (client, "bad_reply", "api.hello has no 'facts' endpoint");
        fprintf (stderr, "attune: warning: no fact stream (%s: %s); polling only\n",
                 client->code, client->message ? client->message : "");
        json_decref (hello);
        return NULL;
    }
    char *endpoint = s_facts_endpoint (client->endpoint, facts);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (sub) {
        zsock_set_linger (sub, 0);
        zsock_set_maxmsgsize (sub, PROTO_MAX_FRAME + 4096);
        zsock_set_subscribe (sub, "execution.");
        zsock_set_subscribe (sub, "inquiry.");
        zsock_set_subscribe (sub, "worker.");
        zsock_set_subscribe (sub, "executor."); //  its heartbeat: losses at a burst's end
        if (s_client_secure (client, sub, endpoint) != 0 ||
            zsock_connect (sub, "%s", endpoint) != 0) {
            fprintf (stderr,
                     "attune: warning: cannot connect to the fact stream %s; "
                     "polling only\n",
                     endpoint);
            zsock_destroy (&sub);
        }
    }
    free (endpoint);
    json_decref (hello);
    return sub;
}

#define S_RESYNC_MS 100 //  a gap reads the record at once, at most this often

//  The executor's fact stream as this follower has seen it
//  (proto/PROTOCOL.md, "Resynchronising after a gap").
typedef struct {
    uint64_t publisher; //  publisher id of the stream (0: no fact yet)
    uint64_t last;      //  its last sequence number
    uint64_t gaps;      //  gaps and restarts seen
} s_stream_t;

static uint64_t
s_be64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

//  Track a fact's meta frame: 0 in order, 1 when facts were missed (a gap,
//  or a publisher not seen before: the first fact, or the executor
//  restarted), -1 for a duplicate or a malformed frame (drop the fact).
static int
s_follow_track (s_stream_t *stream, zframe_t *meta)
{
    if (zframe_size (meta) != 16)
        return -1;
    uint64_t seq = s_be64 (zframe_data (meta));
    uint64_t publisher = s_be64 (zframe_data (meta) + 8);
    if (publisher == stream->publisher && seq <= stream->last)
        return -1;
    bool missed = publisher != stream->publisher || seq != stream->last + 1;
    stream->gaps += missed;
    stream->publisher = publisher;
    stream->last = seq;
    return missed ? 1 : 0;
}

//  The payload of one execution fact for our id, or NULL. Sets *missed when
//  facts were lost before this one.
static json_t *
s_follow_fact (zsock_t *sub, const char *id, s_stream_t *stream, bool *missed)
{
    zmsg_t *msg = zmsg_recv (sub);
    if (!msg)
        return NULL;
    json_t *payload = NULL;
    zframe_t *topic = zmsg_first (msg);
    int tracked = zmsg_size (msg) == 3 ? s_follow_track (stream, zmsg_next (msg)) : -1;
    if (tracked == 1)
        *missed = true;
    if (tracked >= 0 && zframe_size (topic) > 10 &&
        memcmp (zframe_data (topic), "execution.", 10) == 0) {
        zframe_t *frame = zmsg_last (msg);
        proto_envelope_t *fact =
            proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
        payload = fact ? proto_envelope_payload_json (fact, NULL) : NULL;
        proto_envelope_destroy (&fact);
        const char *execution = s_str (payload, "execution");
        if (!execution || strcasecmp (execution, id) != 0)
            json_decref (payload), payload = NULL;
    }
    zmsg_destroy (&msg);
    return payload;
}

//  An execution record as the api shows it, made from a terminal fact (when
//  the store lags behind the facts).
static json_t *
s_execution_from_fact (json_t *execution, json_t *fact)
{
    json_t *copy = json_deep_copy (execution);
    const char *key;
    json_t *value;
    json_object_foreach (fact, key, value)
    {
        if (!streq (key, "execution"))
            json_object_set (copy, key, value);
    }
    return copy;
}

//  Follow an execution until it ends or `wait_ms` (0 = no limit) passes.
//  Returns the final execution (caller owns it), or NULL with the error set.
static json_t *
s_follow (s_client_t *client, const char *id, bool tail, int64_t wait_ms)
{
    s_follow_t self = {
        client, id, tail,          !tail && !client->json && isatty (STDERR_FILENO),
        NULL,   0,  zclock_mono ()};
    //  Subscribe first, then read the state: no change falls in between
    zsock_t *sub = s_follow_subscribe (client);
    if (!sub && streq (client->code, "unavailable"))
        return NULL;
    json_t *execution =
        s_request (client, "api.execution.get", json_pack ("{s:s}", "id", id));
    json_t *terminal_fact = NULL;
    int64_t terminal_seen = 0;
    int64_t next_poll = zclock_mono () + S_POLL_MS;
    s_stream_t stream = {0};
    int64_t polled = zclock_mono (); //  when the record was last read
    while (execution) {
        self.requested = s_int (execution, "requested");
        const char *status = s_str (execution, "status");
        s_follow_status (&self, status);
        if (s_status_rank (status) == 4)
            break;
        int64_t now = zclock_mono ();
        if (terminal_fact && now - terminal_seen >= S_LAG_MS) {
            json_t *final = s_execution_from_fact (execution, terminal_fact);
            json_decref (execution);
            execution = final;
            continue;
        }
        if (wait_ms > 0 && now - self.start_mono >= wait_ms) {
            s_fail (client, "timeout", "execution %s is still %s after %.1f s", id,
                    status ? status : "?", wait_ms / 1000.0);
            json_decref (execution);
            execution = NULL;
            break;
        }
        int64_t wake = next_poll;
        if (self.tty && wake > now + S_PROGRESS_MS)
            wake = now + S_PROGRESS_MS;
        if (wait_ms > 0 && wake > self.start_mono + wait_ms)
            wake = self.start_mono + wait_ms;
        zmq_pollitem_t item = {sub ? zsock_resolve (sub) : NULL, 0, ZMQ_POLLIN, 0};
        long timeout = wake > now ? (long)(wake - now) : 0;
        if (sub ? zmq_poll (&item, 1, timeout) > 0
                : (zclock_sleep ((int)timeout), false)) {
            bool missed = false;
            json_t *fact = s_follow_fact (sub, id, &stream, &missed);
            if (missed && next_poll > polled + S_RESYNC_MS)
                next_poll = polled + S_RESYNC_MS; //  resynchronise: read the record now
            if (fact) {
                s_follow_status (&self, s_str (fact, "status"));
                if (s_status_rank (s_str (fact, "status")) == 4 && !terminal_fact) {
                    terminal_fact = json_incref (fact);
                    terminal_seen = zclock_mono ();
                    next_poll = terminal_seen; //  read the full record now
                }
                json_decref (fact);
            }
        }
        s_follow_progress (&self);
        if (zclock_mono () >= next_poll) {
            json_t *fresh =
                s_request (client, "api.execution.get", json_pack ("{s:s}", "id", id));
            json_decref (execution);
            execution = fresh; //  NULL on error: the loop ends
            polled = zclock_mono ();
            next_poll = zclock_mono () + (terminal_fact ? S_PROGRESS_MS : S_POLL_MS);
        }
    }
    if (self.tty && self.shown)
        fprintf (stderr, "\r\033[K");
    json_decref (terminal_fact);
    zsock_destroy (&sub);
    free (self.shown);
    return execution;
}

//  Show the end of an execution; exit 0 only when it completed.
static int
s_follow_done (s_client_t *client, json_t *execution)
{
    if (!execution)
        return s_report (client);
    if (client->json)
        s_print_json (execution);
    else
        s_print_execution (execution);
    const char *status = s_str (execution, "status");
    int rc = status && streq (status, "completed") ? S_EXIT_OK : S_EXIT_FAILED;
    json_decref (execution);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Command handlers

//  A request whose result is shown as JSON with --json, or by `show`.
static int
s_simple (s_client_t *client, const char *type, json_t *payload,
          void (*show) (const json_t *result))
{
    json_t *result = s_request (client, type, payload);
    if (!result)
        return s_report (client);
    if (client->json)
        s_print_json (result);
    else
        show (result);
    json_decref (result);
    return S_EXIT_OK;
}

static json_t *
s_request_fn (void *client, const char *type, json_t *payload)
{
    return s_request ((s_client_t *)client, type, payload);
}

//  A list followed through its pages up to `total` items (0: all), shown as
//  one; `cursor` is where a page's `next` goes in the next request.
static int
s_list (s_client_t *client, const char *type, json_t *payload, const char *cursor,
        size_t total, void (*show) (const json_t *result))
{
    json_t *result =
        attune_cli_pages_fetch (s_request_fn, client, type, payload, cursor, total);
    if (!result)
        return s_report (client);
    if (client->json)
        s_print_json (result);
    else {
        show (result);
        if (s_str (result, "next"))
            fprintf (stderr, "(more: --%s %s)\n", cursor, s_str (result, "next"));
    }
    json_decref (result);
    return S_EXIT_OK;
}

static void
s_show_execution_id (const json_t *result)
{
    const char *id = s_str (result, "execution");
    printf ("%s\n", id ? id : "?");
}

//  run ACTION [key=value ...] and rerun ID [key=value ...]
static int
s_start_execution (s_client_t *client, s_args_t *args, const char *type, json_t *payload)
{
    bool wait = s_opt (args, "--wait") != NULL;
    double wait_s = 0;
    const char *timeout = s_opt (args, "--timeout");
    if (timeout && !s_parse_seconds (timeout, &wait_s)) {
        json_decref (payload);
        return s_usage_error (args->command, "--timeout: '%s' is not a number of seconds",
                              timeout);
    }
    if (timeout && !wait) {
        json_decref (payload);
        return s_usage_error (args->command, "--timeout is for --wait");
    }
    json_t *parameters =
        s_parse_parameters (args->command, args->pos + 1, args->npos - 1);
    if (!parameters) {
        json_decref (payload);
        return S_EXIT_USAGE;
    }
    if (json_object_size (parameters) || streq (type, "api.execution.run"))
        json_object_set_new (payload, "parameters", parameters);
    else
        json_decref (parameters);
    json_t *result = s_request (client, type, payload);
    if (!result)
        return s_report (client);
    const char *id = s_str (result, "execution");
    char canonical[PROTO_UUID_STR_SIZE];
    if (!s_parse_id (id, canonical)) {
        json_decref (result);
        s_fail (client, "bad_reply", "%s gave no execution id", type);
        return s_report (client);
    }
    if (!wait) {
        if (client->json)
            s_print_json (result);
        else
            s_show_execution_id (result);
        json_decref (result);
        return S_EXIT_OK;
    }
    json_decref (result);
    return s_follow_done (client,
                          s_follow (client, canonical, false, (int64_t)(wait_s * 1000)));
}

//  Check an id argument; NULL after a usage error.
static const char *
s_id_arg (s_args_t *args, int index, char out[PROTO_UUID_STR_SIZE])
{
    if (!s_parse_id (args->pos[index], out)) {
        char *clean = s_clean (args->pos[index], S_CELL_MAX);
        s_usage_error (args->command, "'%s' is not an id (a UUID)", clean);
        free (clean);
        return NULL;
    }
    return out;
}

//  {key: the positional argument}, checked to be non-empty UTF-8; NULL
//  after a usage error.
static json_t *
s_name_payload (s_args_t *args, int index, const char *key)
{
    const char *text = args->pos[index];
    json_t *value = *text ? json_string (text) : NULL;
    if (!value) {
        char *clean = s_clean (text, S_CELL_MAX);
        s_usage_error (args->command, "'%s' is empty or not valid UTF-8", clean);
        free (clean);
        return NULL;
    }
    json_t *payload = json_object ();
    json_object_set_new (payload, key, value);
    return payload;
}

static int
s_cmd_run (s_client_t *client, s_args_t *args)
{
    json_t *payload = s_name_payload (args, 0, "action");
    return payload ? s_start_execution (client, args, "api.execution.run", payload)
                   : S_EXIT_USAGE;
}

static int
s_cmd_execution_rerun (s_client_t *client, s_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!s_id_arg (args, 0, id))
        return S_EXIT_USAGE;
    return s_start_execution (client, args, "api.execution.rerun",
                              json_pack ("{s:s}", "id", id));
}

static void
s_show_execution_list (const json_t *result)
{
    s_table_t *table = s_table_new ("ID ACTION STATUS REQUESTED DURATION");
    size_t i;
    const json_t *item;
    json_array_foreach (json_object_get (result, "items"), i, item)
    {
        s_table_add_json (table, json_object_get (item, "id"));
        s_table_add_json (table, json_object_get (item, "action"));
        s_table_add_json (table, json_object_get (item, "status"));
        s_table_add_time (table, s_int (item, "requested"));
        char duration[64];
        s_execution_duration (item, duration, sizeof duration);
        s_table_add (table, duration);
    }
    s_table_done (&table);
}

//  --limit N (into *total: items over all pages) and --before ID (into the
//  request). 0 or the exit code.
static int
s_paging (s_args_t *args, json_t *payload, size_t *total)
{
    const char *limit = s_opt (args, "--limit");
    long long n = S_LIMIT;
    if (limit && !s_parse_long (limit, 1, S_LIMIT_MAX, &n))
        return s_usage_error (args->command, "--limit: '%s' is not a number 1..%d", limit,
                              S_LIMIT_MAX);
    *total = (size_t)n;
    const char *before = s_opt (args, "--before");
    char id[PROTO_UUID_STR_SIZE];
    if (before) {
        if (!s_parse_id (before, id))
            return s_usage_error (args->command, "--before: '%s' is not an id (a UUID)",
                                  before);
        json_object_set_new (payload, "before", json_string (id));
    }
    return 0;
}

//  A string option into the payload; 0, or 2 when it is not valid UTF-8.
static int
s_string_opt (s_args_t *args, const char *option, json_t *payload, const char *key)
{
    const char *value = s_opt (args, option);
    if (!value)
        return 0;
    json_t *string = json_string (value);
    if (!string || !*value) {
        json_decref (string);
        return s_usage_error (args->command, "%s: empty or not valid UTF-8", option);
    }
    json_object_set_new (payload, key, string);
    return 0;
}

static int
s_cmd_execution_list (s_client_t *client, s_args_t *args)
{
    json_t *payload = json_object ();
    size_t total;
    int rc = s_paging (args, payload, &total);
    if (!rc)
        rc = s_string_opt (args, "--status", payload, "status");
    if (!rc)
        rc = s_string_opt (args, "--action", payload, "action");
    if (!rc)
        rc = s_string_opt (args, "--rule", payload, "rule");
    const char *times[] = {"--since", "--until"};
    for (size_t i = 0; !rc && i < 2; i++) {
        const char *text = s_opt (args, times[i]);
        int64_t usec;
        if (text && !s_parse_time (text, &usec))
            rc = s_usage_error (args->command,
                                "%s: '%s' is not a time (YYYY-MM-DD[ HH:MM[:SS]][Z], "
                                "10m, 2h, 1d, now, or µs since the epoch)",
                                times[i], text);
        else if (text)
            json_object_set_new (payload, times[i] + 2, json_integer (usec));
    }
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return s_list (client, "api.execution.list", payload, "before", total,
                   s_show_execution_list);
}

static void
s_show_execution (const json_t *result)
{
    s_print_execution (result);
}

static int
s_cmd_execution_get (s_client_t *client, s_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!s_id_arg (args, 0, id))
        return S_EXIT_USAGE;
    return s_simple (client, "api.execution.get", json_pack ("{s:s}", "id", id),
                     s_show_execution);
}

static int
s_cmd_execution_tail (s_client_t *client, s_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!s_id_arg (args, 0, id))
        return S_EXIT_USAGE;
    return s_follow_done (client, s_follow (client, id, true, 0));
}

static int
s_cmd_execution_cancel (s_client_t *client, s_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!s_id_arg (args, 0, id))
        return S_EXIT_USAGE;
    json_t *result =
        s_request (client, "api.execution.cancel", json_pack ("{s:s}", "id", id));
    if (!result)
        return s_report (client);
    if (client->json)
        s_print_json (result);
    else
        printf ("%s: cancel requested\n", id);
    json_decref (result);
    return S_EXIT_OK;
}

static void
s_show_rule_list (const json_t *result)
{
    s_table_t *table = s_table_new ("REF TRIGGER ACTION ENABLED");
    size_t i;
    const json_t *item;
    json_array_foreach (json_object_get (result, "items"), i, item)
    {
        s_table_add_json (table, json_object_get (item, "ref"));
        s_table_add_json (table,
                          json_object_get (json_object_get (item, "trigger"), "type"));
        s_table_add_json (table,
                          json_object_get (json_object_get (item, "action"), "ref"));
        s_table_add_json (table, json_object_get (item, "enabled"));
    }
    s_table_done (&table);
}

static int
s_cmd_rule_list (s_client_t *client, s_args_t *args)
{
    json_t *payload = json_object ();
    int rc = s_string_opt (args, "--pack", payload, "pack");
    bool enabled = s_opt (args, "--enabled"), disabled = s_opt (args, "--disabled");
    if (!rc && enabled && disabled)
        rc = s_usage_error (args->command, "--enabled and --disabled exclude each other");
    if (rc) {
        json_decref (payload);
        return rc;
    }
    if (enabled || disabled)
        json_object_set_new (payload, "enabled", json_boolean (enabled));
    return s_list (client, "api.rule.list", payload, "after", 0, s_show_rule_list);
}

//  The properties of a definition, `first` in that order, then the rest.
static void
s_show_definition (const json_t *definition, const char *const *first)
{
    for (size_t i = 0; first[i]; i++)
        if (json_object_get (definition, first[i]))
            s_prop_json (first[i], json_object_get (definition, first[i]));
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)definition, key, value)
    {
        bool shown = false;
        for (size_t i = 0; first[i]; i++)
            shown = shown || streq (first[i], key);
        if (!shown && !streq (key, "parameters"))
            s_prop_json (key, value);
    }
}

static void
s_show_rule (const json_t *result)
{
    static const char *const first[] = {"ref",      "pack",        "name",
                                        "enabled",  "description", "trigger",
                                        "criteria", "action",      NULL};
    s_show_definition (result, first);
}

static int
s_cmd_rule_get (s_client_t *client, s_args_t *args)
{
    json_t *payload = s_name_payload (args, 0, "ref");
    return payload ? s_simple (client, "api.rule.get", payload, s_show_rule)
                   : S_EXIT_USAGE;
}

//  The text of FILE, or stdin for "-"; NULL with the error set.
static char *
s_read_file (s_client_t *client, const char *path, size_t *size)
{
    FILE *file = streq (path, "-") ? stdin : fopen (path, "rb");
    if (!file) {
        s_fail (client, "io", "%s: %s", path, strerror (errno));
        return NULL;
    }
    char *text = (char *)malloc (S_FILE_MAX + 2);
    if (!text)
        abort ();
    size_t n = fread (text, 1, S_FILE_MAX + 1, file);
    bool failed = ferror (file);
    if (file != stdin)
        fclose (file);
    if (failed || n > S_FILE_MAX) {
        s_fail (client, "io", "%s: %s", path,
                failed ? "read error" : "larger than 1 MiB");
        free (text);
        return NULL;
    }
    text[n] = 0;
    *size = n;
    return text;
}

static int
s_cmd_rule_create (s_client_t *client, s_args_t *args)
{
    const char *path = args->pos[0];
    const char *origin = streq (path, "-") ? "<stdin>" : path;
    size_t size = 0;
    char *text = s_read_file (client, path, &size);
    if (!text)
        return s_report (client);
    if (strlen (text) != size) {
        free (text);
        s_fail (client, "invalid", "%s: holds a NUL byte", origin);
        return s_report (client);
    }
    //  Check it here, to name the file and line in syntax errors; JSON goes
    //  as the definition, YAML as its text (the api's loader names lines).
    json_t *payload = NULL;
    char message[512];
    const char *start = text + strspn (text, " \t\r\n");
    if (*start == '{') {
        json_error_t error;
        json_t *definition = json_loads (text, JSON_REJECT_DUPLICATES, &error);
        if (!definition)
            s_fail (client, "invalid", "%s:%d:%d: %s", origin, error.line, error.column,
                    error.text);
        else
            payload = json_pack ("{s:o}", "definition", definition);
    } else {
        registry_yaml_t *yaml =
            registry_yaml_parse (text, size, origin, message, sizeof message);
        if (!yaml)
            s_fail (client, "invalid", "%s", message);
        else if (!json_is_object (registry_yaml_root (yaml)))
            s_fail (client, "invalid",
                    "%s: a rule is a mapping (name, pack, trigger, ...)", origin);
        else
            payload = json_pack ("{s:s%}", "yaml", text, size);
        registry_yaml_destroy (&yaml);
    }
    free (text);
    if (!payload)
        return s_report (client);
    json_t *result = s_request (client, "api.rule.create", payload);
    if (!result)
        return s_report (client);
    if (client->json)
        s_print_json (result);
    else
        printf ("%s created\n", s_str (result, "ref") ? s_str (result, "ref") : "?");
    json_decref (result);
    return S_EXIT_OK;
}

static int
s_rule_change (s_client_t *client, s_args_t *args, const char *type, const char *done)
{
    json_t *payload = s_name_payload (args, 0, "ref");
    if (!payload)
        return S_EXIT_USAGE;
    json_t *result = s_request (client, type, payload);
    if (!result)
        return s_report (client);
    if (client->json)
        s_print_json (result);
    else {
        char *clean = s_clean (s_str (result, "ref") ? s_str (result, "ref") : "?", 0);
        printf ("%s %s\n", clean, done);
        free (clean);
    }
    json_decref (result);
    return S_EXIT_OK;
}

static int
s_cmd_rule_enable (s_client_t *client, s_args_t *args)
{
    return s_rule_change (client, args, "api.rule.enable", "enabled");
}

static int
s_cmd_rule_disable (s_client_t *client, s_args_t *args)
{
    return s_rule_change (client, args, "api.rule.disable", "disabled");
}

static int
s_cmd_rule_delete (s_client_t *client, s_args_t *args)
{
    return s_rule_change (client, args, "api.rule.delete", "deleted");
}

static void
s_show_action_list (const json_t *result)
{
    s_table_t *table = s_table_new ("REF RUNNER DESCRIPTION");
    size_t i;
    const json_t *item;
    json_array_foreach (json_object_get (result, "items"), i, item)
    {
        s_table_add_json (table, json_object_get (item, "ref"));
        s_table_add_json (table, json_object_get (item, "runner_type"));
        s_table_add_json (table, json_object_get (item, "description"));
    }
    s_table_done (&table);
}

static int
s_cmd_action_list (s_client_t *client, s_args_t *args)
{
    json_t *payload = json_object ();
    int rc = s_string_opt (args, "--pack", payload, "pack");
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return s_list (client, "api.action.list", payload, "after", 0, s_show_action_list);
}

static void
s_show_action (const json_t *result)
{
    static const char *const first[] = {"ref",         "pack",        "name",
                                        "runner_type", "entry_point", "timeout",
                                        "enabled",     "description", NULL};
    s_show_definition (result, first);
    const json_t *parameters = json_object_get (result, "parameters");
    if (!json_is_object (parameters) || !json_object_size (parameters)) {
        s_prop ("parameters", "(none)");
        return;
    }
    printf ("parameters:\n");
    s_table_t *table = s_table_new ("NAME TYPE REQUIRED DEFAULT DESCRIPTION");
    const char *name;
    json_t *schema;
    json_object_foreach ((json_t *)parameters, name, schema)
    {
        s_table_add (table, name);
        s_table_add_json (table, json_object_get (schema, "type"));
        s_table_add (table,
                     json_is_true (json_object_get (schema, "required")) ? "yes" : "no");
        json_t *secret = json_object_get (schema, "secret");
        if (json_is_true (secret) && json_object_get (schema, "default"))
            s_table_add (table, "********");
        else
            s_table_add_json (table, json_object_get (schema, "default"));
        s_table_add_json (table, json_object_get (schema, "description"));
    }
    //  Indent the table under "parameters:"
    for (size_t i = 0; i < table->ncells; i += table->ncols) {
        char *indented = zsys_sprintf ("  %s", table->cells[i]);
        free (table->cells[i]);
        table->cells[i] = indented;
    }
    s_table_done (&table);
}

static int
s_cmd_action_get (s_client_t *client, s_args_t *args)
{
    json_t *payload = s_name_payload (args, 0, "ref");
    return payload ? s_simple (client, "api.action.get", payload, s_show_action)
                   : S_EXIT_USAGE;
}

//  attune policy list / get: the policies the registry loaded from packs
static void
s_show_policy_list (const json_t *result)
{
    s_table_t *table = s_table_new ("REF TYPE ACTION ENABLED PARAMETERS");
    size_t i;
    const json_t *item;
    json_array_foreach (json_object_get (result, "items"), i, item)
    {
        s_table_add_json (table, json_object_get (item, "ref"));
        s_table_add_json (table, json_object_get (item, "policy_type"));
        s_table_add_json (table, json_object_get (item, "resource_ref"));
        s_table_add (table,
                     json_is_false (json_object_get (item, "enabled")) ? "no" : "yes");
        s_table_add_json (table, json_object_get (item, "parameters"));
    }
    s_table_done (&table);
}

static int
s_cmd_policy_list (s_client_t *client, s_args_t *args)
{
    json_t *payload = json_object ();
    int rc = s_string_opt (args, "--pack", payload, "pack");
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return s_list (client, "api.policy.list", payload, "after", 0, s_show_policy_list);
}

static void
s_show_policy (const json_t *result)
{
    static const char *const first[] = {
        "ref",          "pack",    "name",        "policy_type",
        "resource_ref", "enabled", "description", NULL};
    s_show_definition (result, first);
    s_prop_json ("parameters", json_object_get (result, "parameters"));
}

static int
s_cmd_policy_get (s_client_t *client, s_args_t *args)
{
    json_t *payload = s_name_payload (args, 0, "ref");
    return payload ? s_simple (client, "api.policy.get", payload, s_show_policy)
                   : S_EXIT_USAGE;
}

//  attune action queue-stats REF: the executor's policy queue for an action
static void
s_show_queue_stats (const json_t *result)
{
    s_prop_json ("action", json_object_get (result, "action"));
    s_prop_json ("running", json_object_get (result, "running"));
    s_prop_json ("queued", json_object_get (result, "queued"));
    char wait[64];
    snprintf (wait, sizeof wait, "%.1f s",
              json_number_value (json_object_get (result, "oldest_wait")));
    s_prop ("oldest wait", wait);
    s_prop_json ("total admitted", json_object_get (result, "admitted"));
    s_prop_json ("total completed", json_object_get (result, "completed"));
    const json_t *policies = json_object_get (result, "policies");
    char *text = json_array_size (policies) ? json_dumps (policies, JSON_COMPACT) : NULL;
    s_prop ("policies", text ? text : "(none)");
    free (text);
}

static int
s_cmd_action_queue_stats (s_client_t *client, s_args_t *args)
{
    json_t *payload = s_name_payload (args, 0, "ref");
    return payload
               ? s_simple (client, "api.action.queue_stats", payload, s_show_queue_stats)
               : S_EXIT_USAGE;
}

static void
s_show_event (const json_t *result)
{
    const char *event = s_str (result, "event");
    printf ("%s\n", event ? event : "?");
}

static int
s_cmd_event_publish (s_client_t *client, s_args_t *args)
{
    json_error_t error;
    json_t *body = json_loads (args->pos[1], JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object (body)) {
        json_decref (body);
        return s_usage_error (args->command, "the payload must be a JSON object%s%s",
                              body ? "" : ": ", body ? "" : error.text);
    }
    json_t *payload = s_name_payload (args, 0, "trigger");
    if (!payload) {
        json_decref (body);
        return S_EXIT_USAGE;
    }
    json_object_set_new (payload, "payload", body);
    return s_simple (client, "api.event.publish", payload, s_show_event);
}

static void
s_show_event_list (const json_t *result)
{
    s_table_t *table = s_table_new ("ID TRIGGER TIME PAYLOAD");
    size_t i;
    const json_t *item;
    json_array_foreach (json_object_get (result, "items"), i, item)
    {
        s_table_add_json (table, json_object_get (item, "event"));
        s_table_add_json (table, json_object_get (item, "trigger"));
        s_table_add_time (table, s_int (item, "ts"));
        s_table_add_json (table, json_object_get (item, "payload"));
    }
    s_table_done (&table);
}

static int
s_cmd_event_list (s_client_t *client, s_args_t *args)
{
    json_t *payload = json_object ();
    size_t total;
    int rc = s_paging (args, payload, &total);
    if (!rc)
        rc = s_string_opt (args, "--trigger", payload, "trigger");
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return s_list (client, "api.event.list", payload, "before", total, s_show_event_list);
}

static void
s_show_worker_list (const json_t *result)
{
    s_table_t *table = s_table_new ("WORKER RUNTIMES SLOTS BUSY ALIVE LAST-HEARTBEAT");
    size_t i;
    const json_t *item;
    json_array_foreach (json_object_get (result, "items"), i, item)
    {
        s_table_add_json (table, json_object_get (item, "worker"));
        char *runtimes = NULL;
        size_t r;
        const json_t *runtime;
        json_array_foreach (json_object_get (item, "runtimes"), r, runtime)
        {
            char *more = zsys_sprintf (
                "%s%s%s", runtimes ? runtimes : "", runtimes ? "," : "",
                json_string_value (runtime) ? json_string_value (runtime) : "?");
            zstr_free (&runtimes);
            runtimes = more;
        }
        s_table_add (table, runtimes ? runtimes : "-");
        zstr_free (&runtimes);
        s_table_add_json (table, json_object_get (item, "slots"));
        s_table_add_json (table, json_object_get (item, "busy"));
        const json_t *alive = json_object_get (item, "alive");
        bool draining = json_is_true (json_object_get (item, "draining"));
        s_table_add (table, !json_is_boolean (alive) ? "-"
                            : !json_is_true (alive)  ? "no"
                            : draining               ? "draining"
                                                     : "yes");
        s_table_add_time (table, s_int (item, "last_heartbeat"));
    }
    s_table_done (&table);
}

static int
s_cmd_worker_list (s_client_t *client, s_args_t *args)
{
    return s_list (client, "api.worker.list", json_object (), "after", 0,
                   s_show_worker_list);
}

//  "key=value key=value" of an object's members, without `skip`.
static char *
s_counters (const json_t *object, const char *skip)
{
    char *text = NULL;
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)object, key, value)
    {
        if (skip && streq (key, skip))
            continue;
        char *shown = s_json_text (value);
        char *more =
            zsys_sprintf ("%s%s%s=%s", text ? text : "", text ? " " : "", key, shown);
        free (shown);
        zstr_free (&text);
        text = more;
    }
    return text ? text : strdup ("");
}

static void
s_show_status (const json_t *result)
{
    const json_t *api = json_object_get (result, "api");
    char *counters = s_counters (api, NULL);
    char *line = s_clean (counters, 0);
    printf ("api:  %s\n", line);
    free (line);
    zstr_free (&counters);
    printf ("\n");
    s_table_t *table = s_table_new ("ACTOR UP DETAILS");
    const char *name;
    json_t *actor;
    json_object_foreach (json_object_get (result, "actors"), name, actor)
    {
        s_table_add (table, name);
        const json_t *up = json_object_get (actor, "up");
        s_table_add (table,
                     json_is_boolean (up) ? (json_is_true (up) ? "yes" : "no") : "-");
        counters = s_counters (actor, "up"); //  may be long: not clipped
        s_table_add_whole (table, counters);
        zstr_free (&counters);
    }
    s_table_done (&table);
}

static int
s_cmd_status (s_client_t *client, s_args_t *args)
{
    return s_simple (client, "api.status", NULL, s_show_status);
}

//  ---------------------------------------------------------------------------
//  Inquiries

static void
s_show_inquiry_list (const json_t *result)
{
    s_table_t *table = s_table_new ("ID ACTION STATUS ASSIGNED DEADLINE PROMPT");
    size_t i;
    const json_t *item;
    json_array_foreach (json_object_get (result, "items"), i, item)
    {
        s_table_add_json (table, json_object_get (item, "id"));
        s_table_add_json (table, json_object_get (item, "action"));
        s_table_add_json (table, json_object_get (item, "status"));
        const json_t *assigned = json_object_get (item, "assigned_to");
        if (json_array_size (assigned))
            s_table_add_json (table, assigned);
        else
            s_table_add (table, "anyone");
        s_table_add_time (table, s_int (item, "deadline"));
        s_table_add_json (table, json_object_get (item, "prompt"));
    }
    s_table_done (&table);
}

static void
s_show_inquiry (const json_t *inquiry)
{
    s_prop_json ("id", json_object_get (inquiry, "id"));
    s_prop_json ("execution", json_object_get (inquiry, "execution"));
    s_prop_json ("action", json_object_get (inquiry, "action"));
    const char *status = s_str (inquiry, "status");
    s_prop ("status", status ? status : "?");
    s_prop_json ("prompt", json_object_get (inquiry, "prompt"));
    const json_t *assigned = json_object_get (inquiry, "assigned_to");
    if (json_array_size (assigned))
        s_prop_json ("assigned_to", assigned);
    else
        s_prop ("assigned_to", "anyone");
    s_prop_json ("response_schema", json_object_get (inquiry, "schema"));
    s_prop_time ("created", s_int (inquiry, "created"));
    int64_t deadline = s_int (inquiry, "deadline");
    if (status && streq (status, "pending")) {
        char left[64], when[64];
        s_format_duration ((double)(deadline - zclock_time () * 1000) / 1e6, left,
                           sizeof left);
        s_format_time (deadline, true, when, sizeof when);
        char *line = zsys_sprintf ("%s (in %s)", when, left);
        s_prop ("deadline", line);
        zstr_free (&line);
    } else
        s_prop_time ("deadline", deadline);
    const json_t *response = json_object_get (inquiry, "response");
    if (response && !json_is_null (response)) {
        s_prop_json ("response", response);
        const json_t *responder = json_object_get (inquiry, "responder");
        if (responder && !json_is_null (responder))
            s_prop_json ("responder", responder);
        s_prop_time ("responded", s_int (inquiry, "responded"));
    } else if (s_int (inquiry, "ended") > 0)
        s_prop_time ("ended", s_int (inquiry, "ended"));
}

static int
s_cmd_inquiry_list (s_client_t *client, s_args_t *args)
{
    json_t *payload = json_object ();
    size_t total;
    int rc = s_paging (args, payload, &total);
    if (!rc)
        rc = s_string_opt (args, "--status", payload, "status");
    if (rc) {
        json_decref (payload);
        return rc;
    }
    return s_list (client, "api.inquiry.list", payload, "before", total,
                   s_show_inquiry_list);
}

static int
s_cmd_inquiry_get (s_client_t *client, s_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!s_id_arg (args, 0, id))
        return S_EXIT_USAGE;
    return s_simple (client, "api.inquiry.get", json_pack ("{s:s}", "id", id),
                     s_show_inquiry);
}

static int
s_cmd_inquiry_respond (s_client_t *client, s_args_t *args)
{
    char id[PROTO_UUID_STR_SIZE];
    if (!s_id_arg (args, 0, id))
        return S_EXIT_USAGE;
    json_error_t error;
    json_t *response =
        json_loads (args->pos[1], JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (!response)
        return s_usage_error (args->command, "the response is not JSON: %s (column %d)",
                              error.text, error.column);
    json_t *payload = json_pack ("{s:s, s:o}", "id", id, "response", response);
    if (client->identity)
        json_object_set_new (payload, "identity", json_string (client->identity));
    json_t *result = s_request (client, "api.inquiry.respond", payload);
    if (!result)
        return s_report (client);
    if (client->json)
        s_print_json (result);
    else {
        //  As the api recorded it (with CURVE, the identity of the key)
        const char *who = json_string_value (json_object_get (result, "responder"));
        printf ("%s: responded%s%s\n", id, who ? " as " : "", who ? who : "");
    }
    json_decref (result);
    return S_EXIT_OK;
}

//  ---------------------------------------------------------------------------
//  keygen: a CURVE cert pair with zcert, for attuned and for clients

static const s_option_t s_keygen_options[] = {
    {"--identity", "ID", "who the key is, for the api and inquiries (default NAME)"},
    {"--role", "ROLE",
     "admin, operator or viewer (a person or program using the api);\n"
     "none for an attune process (core, worker, sensor)"},
    {"--dir", "DIR", "where to write the two files (default .)"},
    {NULL}};

static bool
s_keygen_text_ok (const char *text, size_t max)
{
    //  What a ZPL value holds safely, quoted: printable, no quote
    if (!*text || strlen (text) > max || !proto_utf8_valid (text, strlen (text)))
        return false;
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == 0x7f)
            return false;
    return true;
}

static int
s_cmd_keygen (s_client_t *client, s_args_t *args)
{
    const char *name = args->pos[0];
    const char *identity = s_opt (args, "--identity");
    const char *role = s_opt (args, "--role");
    const char *dir = s_opt (args, "--dir");
    if (!dir || !*dir)
        dir = ".";
    if (!identity)
        identity = name;
    bool name_ok = *name && strlen (name) <= 128 && name[0] != '.';
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char)*p) && !strchr ("._@-", *p))
            name_ok = false;
    if (!name_ok) {
        fprintf (stderr,
                 "attune: keygen: NAME '%s' must be 1..128 of [A-Za-z0-9._@-] "
                 "(it names the files)\n",
                 name);
        return S_EXIT_USAGE;
    }
    if (!s_keygen_text_ok (identity, 256)) {
        fprintf (stderr, "attune: keygen: --identity: 1 to 256 bytes of printable "
                         "UTF-8, without '\"'\n");
        return S_EXIT_USAGE;
    }
    if (role && !streq (role, "admin") && !streq (role, "operator") &&
        !streq (role, "viewer")) {
        fprintf (stderr,
                 "attune: keygen: --role '%s': expected admin, operator or "
                 "viewer\n",
                 role);
        return S_EXIT_USAGE;
    }
    struct stat info;
    if (stat (dir, &info) != 0 || !S_ISDIR (info.st_mode)) {
        fprintf (stderr, "attune: keygen: %s: not a directory\n", dir);
        return S_EXIT_FAILED;
    }
    char public_path[4096], secret_path[4200];
    snprintf (public_path, sizeof public_path, "%s/%s.cert", dir, name);
    snprintf (secret_path, sizeof secret_path, "%s_secret", public_path);
    //  Never replace a key: whoever holds the old one would be locked out
    if (access (public_path, F_OK) == 0 || access (secret_path, F_OK) == 0) {
        fprintf (stderr,
                 "attune: keygen: %s exists already: remove it (and its "
                 "_secret) first\n",
                 access (public_path, F_OK) == 0 ? public_path : secret_path);
        return S_EXIT_FAILED;
    }
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "attune: keygen: cannot make a key pair\n");
        return S_EXIT_FAILED;
    }
    zcert_set_meta (cert, "name", "%s", name);
    zcert_set_meta (cert, "identity", "%s", identity);
    if (role)
        zcert_set_meta (cert, "role", "%s", role);
    int rc = zcert_save_public (cert, public_path);
    //  The secret is created private (umask), not made private afterwards
    mode_t mask = umask (077);
    if (rc == 0)
        rc = zcert_save_secret (cert, secret_path);
    umask (mask);
    if (rc == 0)
        rc = chmod (secret_path, 0600);
    if (rc != 0) {
        fprintf (stderr, "attune: keygen: cannot write %s: %s\n", public_path,
                 strerror (errno));
        zcert_destroy (&cert);
        return S_EXIT_FAILED;
    }
    if (client->json) {
        json_t *out = json_pack ("{s:s, s:s, s:s, s:s, s:s?}", "public", public_path,
                                 "secret", secret_path, "key", zcert_public_txt (cert),
                                 "identity", identity, "role", role);
        s_print_json (out);
        json_decref (out);
    } else
        printf ("wrote %s (public: copy it into the allow directory of each attuned\n"
                "      this key connects to)\n"
                "      %s (secret, mode 0600: keep it where it is used)\n"
                "key   %s\nidentity %s, role %s\n",
                public_path, secret_path, zcert_public_txt (cert), identity,
                role ? role : "none (an attune process)");
    zcert_destroy (&cert);
    return S_EXIT_OK;
}

//  ---------------------------------------------------------------------------
//  The command table

static const s_option_t s_run_options[] = {
    {"--wait", NULL, "follow the execution until it ends, then show its result"},
    {"--timeout", "S", "with --wait: give up after S seconds (exit 1)"},
    {NULL}};
static const s_option_t s_execution_list_options[] = {
    {"--status", "S", "only executions in status S (running, completed, ...)"},
    {"--action", "A", "only executions of action A"},
    {"--rule", "R", "only executions enforced by rule R"},
    {"--since", "T", "requested at or after T (YYYY-MM-DD[ HH:MM[:SS]][Z], 10m, 2h, 1d)"},
    {"--until", "T", "requested before T"},
    {"--limit", "N", "at most N executions, over as many pages as needed (default 100)"},
    {"--before", "ID", "the page after execution ID (the 'next' of a previous page)"},
    {NULL}};
static const s_option_t s_rule_list_options[] = {
    {"--pack", "P", "only rules of pack P"},
    {"--enabled", NULL, "only enabled rules"},
    {"--disabled", NULL, "only disabled rules"},
    {NULL}};
static const s_option_t s_action_list_options[] = {
    {"--pack", "P", "only actions of pack P"}, {NULL}};
static const s_option_t s_policy_list_options[] = {
    {"--pack", "P", "only policies of pack P"}, {NULL}};
static const s_option_t s_event_list_options[] = {
    {"--trigger", "T", "only events of trigger T"},
    {"--limit", "N", "at most N events, over as many pages as needed (default 100)"},
    {"--before", "ID", "the page after event ID"},
    {NULL}};
static const s_option_t s_inquiry_list_options[] = {
    {"--status", "S",
     "only inquiries in status S (pending, responded, timeout, cancelled)"},
    {"--limit", "N", "at most N inquiries, over as many pages as needed (default 100)"},
    {"--before", "ID", "the page after inquiry ID"},
    {NULL}};
static const s_option_t s_no_options[] = {{NULL}};

static const s_command_t s_commands[] = {
    {"run", NULL, "ACTION [key=value ...] [--wait [--timeout S]]",
     "Run an action. Values that parse as JSON are JSON (n=3, flag=true,\n"
     "x='{\"a\":1}'), others are strings. Prints the execution id; with --wait,\n"
     "follows it and shows its result (exit 0 only if it completed).",
     s_run_options, 1, -1, s_cmd_run},
    {"execution", "list",
     "[--status S] [--action A] [--rule R] [--since T] [--until T] "
     "[--limit N] [--before ID]",
     "List executions, newest first.", s_execution_list_options, 0, 0,
     s_cmd_execution_list},
    {"execution", "get", "ID", "Show an execution: status, parameters, times, result.",
     s_no_options, 1, 1, s_cmd_execution_get},
    {"execution", "tail", "ID",
     "Follow an execution: one line per status change, then its result\n"
     "(exit 0 only if it completed).",
     s_no_options, 1, 1, s_cmd_execution_tail},
    {"execution", "cancel", "ID",
     "Cancel an execution: at once when it waits, else its process is terminated.",
     s_no_options, 1, 1, s_cmd_execution_cancel},
    {"execution", "rerun", "ID [key=value ...] [--wait [--timeout S]]",
     "Run an execution's action again, with its parameters and these over them.",
     s_run_options, 1, -1, s_cmd_execution_rerun},
    {"rule", "list", "[--pack P] [--enabled|--disabled]", "List rules.",
     s_rule_list_options, 0, 0, s_cmd_rule_list},
    {"rule", "get", "REF", "Show a rule.", s_no_options, 1, 1, s_cmd_rule_get},
    {"rule", "create", "FILE",
     "Create (or replace) a rule from a YAML or JSON file, '-' for stdin.", s_no_options,
     1, 1, s_cmd_rule_create},
    {"rule", "enable", "REF", "Enable a rule.", s_no_options, 1, 1, s_cmd_rule_enable},
    {"rule", "disable", "REF", "Disable a rule.", s_no_options, 1, 1, s_cmd_rule_disable},
    {"rule", "delete", "REF", "Delete a rule.", s_no_options, 1, 1, s_cmd_rule_delete},
    {"action", "list", "[--pack P]", "List actions.", s_action_list_options, 0, 0,
     s_cmd_action_list},
    {"action", "get", "REF", "Show an action and its parameters.", s_no_options, 1, 1,
     s_cmd_action_get},
    {"policy", "list", "[--pack P]",
     "List the policies (concurrency, rate, retry, timeout).", s_policy_list_options, 0,
     0, s_cmd_policy_list},
    {"policy", "get", "REF", "Show a policy.", s_no_options, 1, 1, s_cmd_policy_get},
    {"action", "queue-stats", "REF",
     "Show the policy queue of an action: running, queued, oldest wait, totals.",
     s_no_options, 1, 1, s_cmd_action_queue_stats},
    {"event", "publish", "TRIGGER JSON",
     "Publish an event of TRIGGER with the JSON object as its payload; prints its id.",
     s_no_options, 2, 2, s_cmd_event_publish},
    {"event", "list", "[--trigger T] [--limit N] [--before ID]",
     "List events, newest first.", s_event_list_options, 0, 0, s_cmd_event_list},
    {"inquiry", "list", "[--status S] [--limit N] [--before ID]",
     "List inquiries (questions executions wait on), newest first.",
     s_inquiry_list_options, 0, 0, s_cmd_inquiry_list},
    {"inquiry", "get", "ID",
     "Show an inquiry: prompt, assignee, schema, deadline, response.", s_no_options, 1, 1,
     s_cmd_inquiry_get},
    {"inquiry", "respond", "ID JSON",
     "Answer a pending inquiry with a JSON value that fits its response schema\n"
     "(attune --as NAME, or $ATTUNE_IDENTITY, says who you are; default: your\n"
     "login name). Its execution completes with the response in its result.",
     s_no_options, 2, 2, s_cmd_inquiry_respond},
    {"worker", "list", "", "List the workers the executor knows.", s_no_options, 0, 0,
     s_cmd_worker_list},
    {"status", NULL, "", "Show whether the actors are up, and the api's counters.",
     s_no_options, 0, 0, s_cmd_status},
    {"keygen", NULL, "NAME [--identity ID] [--role admin|operator|viewer] [--dir DIR]",
     "Make a CURVE key pair: DIR/NAME.cert (public, with the identity and role)\n"
     "and DIR/NAME.cert_secret (secret, mode 0600). A server lets the key in when\n"
     "NAME.cert is in its allow directory; the api gives it that role.",
     s_keygen_options, 1, 1, s_cmd_keygen},
};
#define S_COMMAND_COUNT (sizeof s_commands / sizeof s_commands[0])

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: attune [--api ENDPOINT] [--json] [--timeout MS] [--as NAME]\n"
             "              [--cert FILE --server-cert FILE] COMMAND ...\n\n"
             "options:\n"
             "  --api ENDPOINT   the api (default $ATTUNE_API, else " S_DEFAULT_API ")\n"
             "  --json           print results as JSON, for scripts\n"
             "  --as NAME        who you are, for inquiries (default $ATTUNE_IDENTITY,\n"
             "                   else your login name)\n"
             "  --timeout MS     wait at most MS for each reply (default 10000; the\n"
             "                   request is sent again once, half way)\n"
             "  --cert FILE      your secret CURVE cert (default $ATTUNE_CERT)\n"
             "  --server-cert F  the api's public cert (default $ATTUNE_SERVER_CERT);\n"
             "                   with both, the api is reached over CURVE\n"
             "  -h, --help       this text\n\n"
             "commands:\n");
    for (size_t i = 0; i < S_COMMAND_COUNT; i++) {
        char path[64];
        s_command_path (&s_commands[i], path, sizeof path);
        if (*s_commands[i].synopsis)
            fprintf (out, "  %-18s %s\n", path, s_commands[i].synopsis);
        else
            fprintf (out, "  %s\n", path);
    }
    fprintf (out, "\n'attune COMMAND --help' describes a command.\n");
}

static void
s_group_usage (const char *group, FILE *out)
{
    fprintf (out, "usage: attune %s SUBCOMMAND ...\n\nsubcommands:\n", group);
    for (size_t i = 0; i < S_COMMAND_COUNT; i++)
        if (streq (s_commands[i].group, group))
            fprintf (out, "  %s%*s%s\n", s_commands[i].name,
                     *s_commands[i].synopsis ? (int)(9 - strlen (s_commands[i].name)) : 0,
                     "", s_commands[i].synopsis);
    fprintf (out, "\n'attune %s SUBCOMMAND --help' describes one.\n", group);
}

//  Find and run the command in argv; returns the exit code.
static int
s_dispatch (s_client_t *client, int argc, char **argv)
{
    if (argc < 1) {
        fprintf (stderr, "attune: missing command\n");
        s_usage (stderr);
        return S_EXIT_USAGE;
    }
    const char *group = argv[0];
    bool known = false, grouped = false;
    for (size_t i = 0; i < S_COMMAND_COUNT; i++)
        if (streq (s_commands[i].group, group)) {
            known = true;
            grouped = s_commands[i].name != NULL;
        }
    if (!known) {
        char *clean = s_clean (group, S_CELL_MAX);
        fprintf (stderr, "attune: unknown command '%s'\n(see attune --help)\n", clean);
        free (clean);
        return S_EXIT_USAGE;
    }
    const s_command_t *command = NULL;
    int skip = 1;
    if (grouped) {
        if (argc < 2 || streq (argv[1], "--help") || streq (argv[1], "-h")) {
            if (argc < 2)
                fprintf (stderr, "attune: %s: missing subcommand\n", group);
            s_group_usage (group, argc < 2 ? stderr : stdout);
            return argc < 2 ? S_EXIT_USAGE : S_EXIT_OK;
        }
        for (size_t i = 0; i < S_COMMAND_COUNT; i++)
            if (streq (s_commands[i].group, group) && streq (s_commands[i].name, argv[1]))
                command = &s_commands[i];
        if (!command) {
            char *clean = s_clean (argv[1], S_CELL_MAX);
            fprintf (stderr, "attune: %s: unknown subcommand '%s'\n", group, clean);
            free (clean);
            s_group_usage (group, stderr);
            return S_EXIT_USAGE;
        }
        skip = 2;
    } else
        for (size_t i = 0; i < S_COMMAND_COUNT; i++)
            if (streq (s_commands[i].group, group))
                command = &s_commands[i];
    s_args_t args;
    int rc = s_args_parse (client, command, argc - skip, argv + skip, &args);
    if (rc < 0)
        rc = command->fn (client, &args);
    free (args.pos);
    return rc;
}

int
main (int argc, char *argv[])
{
    s_client_t client = {0};
    client.endpoint = getenv ("ATTUNE_API");
    if (!client.endpoint || !*client.endpoint)
        client.endpoint = S_DEFAULT_API;
    client.timeout_ms = S_DEFAULT_MS;
    client.identity = getenv ("ATTUNE_IDENTITY");
    if (!client.identity || !*client.identity) {
        struct passwd *pw = getpwuid (getuid ());
        client.identity = pw && pw->pw_name && *pw->pw_name ? pw->pw_name : NULL;
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *arg = argv[i];
        size_t name_len = strcspn (arg, "=");
        const char *value = arg[name_len] == '=' ? arg + name_len + 1 : NULL;
        bool api = name_len == 5 && strncmp (arg, "--api", 5) == 0;
        bool timeout = name_len == 9 && strncmp (arg, "--timeout", 9) == 0;
        bool as = name_len == 4 && strncmp (arg, "--as", 4) == 0;
        bool cert = name_len == 6 && strncmp (arg, "--cert", 6) == 0;
        bool server_cert = name_len == 13 && strncmp (arg, "--server-cert", 13) == 0;
        if (streq (arg, "--help") || streq (arg, "-h")) {
            s_usage (stdout);
            return S_EXIT_OK;
        } else if (streq (arg, "--json"))
            client.json = true;
        else if (cert || server_cert) {
            if (!value && i + 1 < argc)
                value = argv[++i];
            if (!value || !*value) {
                fprintf (stderr, "attune: %s needs a file\n",
                         cert ? "--cert" : "--server-cert");
                return S_EXIT_USAGE;
            }
            if (cert)
                client.cert = value;
            else
                client.server_cert = value;
        } else if (api || timeout || as) {
            if (!value && i + 1 < argc)
                value = argv[++i];
            if (!value) {
                fprintf (stderr, "attune: %s needs a value\n",
                         api       ? "--api"
                         : timeout ? "--timeout"
                                   : "--as");
                return S_EXIT_USAGE;
            }
            long long ms;
            if (as) {
                if (!*value || strlen (value) > 256 ||
                    !proto_utf8_valid (value, strlen (value))) {
                    fprintf (stderr,
                             "attune: --as: an identity of 1 to 256 bytes of UTF-8\n");
                    return S_EXIT_USAGE;
                }
                client.identity = value;
            } else if (api)
                client.endpoint = value;
            else if (s_parse_long (value, 1, 3600000, &ms))
                client.timeout_ms = (int)ms;
            else {
                fprintf (stderr,
                         "attune: --timeout: '%s' is not a number of milliseconds "
                         "(1..3600000)\n",
                         value);
                return S_EXIT_USAGE;
            }
        } else {
            char *clean = s_clean (arg, S_CELL_MAX);
            fprintf (stderr, "attune: unknown option '%s'\n(see attune --help)\n", clean);
            free (clean);
            return S_EXIT_USAGE;
        }
    }
    if ((strncmp (client.endpoint, "tcp://", 6) != 0 &&
         strncmp (client.endpoint, "ipc://", 6) != 0) ||
        strlen (client.endpoint) < 8 || strlen (client.endpoint) > 1024) {
        char *clean = s_clean (client.endpoint, S_CELL_MAX);
        fprintf (stderr,
                 "attune: the api endpoint '%s' is not tcp://HOST:PORT or ipc://PATH\n",
                 clean);
        free (clean);
        return S_EXIT_USAGE;
    }
    //  CURVE to the api: both keys, or neither
    if (!client.cert)
        client.cert = getenv ("ATTUNE_CERT");
    if (!client.server_cert)
        client.server_cert = getenv ("ATTUNE_SERVER_CERT");
    if (client.cert && !*client.cert)
        client.cert = NULL;
    if (client.server_cert && !*client.server_cert)
        client.server_cert = NULL;
    bool keygen = i < argc && streq (argv[i], "keygen");
    if (!keygen && (client.cert || client.server_cert)) {
        if (!client.cert || !client.server_cert) {
            fprintf (stderr,
                     "attune: %s: CURVE needs both your secret cert (--cert, "
                     "$ATTUNE_CERT) and the api's public cert (--server-cert, "
                     "$ATTUNE_SERVER_CERT)\n",
                     client.cert ? "--server-cert missing" : "--cert missing");
            return S_EXIT_USAGE;
        }
        char message[512];
        bus_security_config_t security = {.cert = client.cert,
                                          .server = client.server_cert,
                                          .mode = BUS_SECURITY_ALWAYS};
        if (bus_security_configure (&security, message, sizeof message) != 0) {
            fprintf (stderr, "attune: %s\n", message);
            return S_EXIT_USAGE;
        }
    }
    //  Ctrl-C ends the program at once (no CZMQ handler), and a source name
    //  for the envelopes: attune@HOST
    zsys_handler_set (NULL);
    char host[128] = "";
    if (gethostname (host, sizeof host - 1) != 0 || !*host)
        snprintf (host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    for (char *p = host; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            *p = '_';
    snprintf (client.source, sizeof client.source, "attune@%s", host);

    int rc = s_dispatch (&client, argc - i, argv + i);

    fflush (stdout);
    bus_client_destroy (&client.api);
    bus_security_shutdown ();
    free (client.message);
    return rc;
}
