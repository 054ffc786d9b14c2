/*  attune_cli_args: a command's options and positional arguments, parsed and checked:
    numbers, seconds, times, ids, key=value parameters, paging options.
*/
#include "tools/attune_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <time.h>
#include "proto/proto_json.h"

const cli_option_t cli_no_options[] = {{NULL}};

void
cli_command_path (const cli_command_t *command, char *out, size_t size)
{
    snprintf (out, size, "%s%s%s", command->group, command->name ? " " : "",
              command->name ? command->name : "");
}

void
cli_command_usage (const cli_command_t *command, FILE *out)
{
    char path[64];
    cli_command_path (command, path, sizeof path);
    fprintf (out, "usage: attune %s %s\n\n%s\n\noptions:\n", path, command->synopsis,
             command->summary);
    for (const cli_option_t *o = command->options; o && o->name; o++) {
        char left[64];
        snprintf (left, sizeof left, "%s%s%s", o->name, o->metavar ? " " : "",
                  o->metavar ? o->metavar : "");
        fprintf (out, "  %-18s %s\n", left, o->help);
    }
    fprintf (out, "  %-18s %s\n  %-18s %s\n", "--json", "print the result as JSON",
             "-h, --help", "this text");
}

int
cli_usage_error (const cli_command_t *command, const char *format, ...)
{
    char path[64];
    cli_command_path (command, path, sizeof path);
    va_list args;
    va_start (args, format);
    char *message = zsys_vprintf (format, args);
    va_end (args);
    fprintf (stderr, "attune: %s: %s\nusage: attune %s %s\n(see attune %s --help)\n",
             path, message ? message : "bad arguments", path, command->synopsis, path);
    zstr_free (&message);
    return CLI_EXIT_USAGE;
}

//  The value of an option, NULL when not given.
const char *
cli_opt (const cli_args_t *args, const char *name)
{
    for (int i = 0; args->command->options && args->command->options[i].name; i++)
        if (streq (args->command->options[i].name, name))
            return args->value[i];
    assert (false); //  a handler asked for an option it does not declare
    return NULL;
}

//  Parse a command's arguments. Returns -1 to go on, or the exit code
//  (0 after --help, 2 after a usage error).
int
cli_args_parse (cli_t *client, const cli_command_t *command, int argc, char **argv,
                cli_args_t *args)
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
            cli_command_usage (command, stdout);
            return CLI_EXIT_OK;
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
            return cli_usage_error (command, "unknown option '%.*s'", (int)name_len, arg);
        const cli_option_t *option = &command->options[found];
        if (!option->metavar) {
            if (arg[name_len] == '=')
                return cli_usage_error (command, "%s takes no value", option->name);
            args->value[found] = "";
        } else if (arg[name_len] == '=')
            args->value[found] = arg + name_len + 1;
        else if (i + 1 < argc)
            args->value[found] = argv[++i];
        else
            return cli_usage_error (command, "%s needs a value (%s)", option->name,
                                    option->metavar);
    }
    if (args->npos < command->min_pos)
        return cli_usage_error (command, "missing argument");
    if (command->max_pos >= 0 && args->npos > command->max_pos)
        return cli_usage_error (command, "unexpected argument '%s'",
                                args->pos[command->max_pos]);
    return -1;
}

//  ---------------------------------------------------------------------------
//  Argument values

bool
cli_parse_long (const char *text, long long min, long long max, long long *out)
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
bool
cli_parse_seconds (const char *text, double *out)
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
bool
cli_parse_time (const char *text, int64_t *out)
{
    long long number;
    if (cli_parse_long (text, 0, INT64_MAX, &number)) {
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
        if (cli_parse_long (digits, 0, 100LL * 366 * 86400 / unit, &count)) {
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
bool
cli_parse_id (const char *text, char out[PROTO_UUID_STR_SIZE])
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
json_t *
cli_parse_parameters (const cli_command_t *command, char **args, int count)
{
    json_t *parameters = json_object ();
    for (int i = 0; i < count; i++) {
        const char *eq = strchr (args[i], '=');
        if (!eq || eq == args[i]) {
            cli_usage_error (command, "'%s' is not key=value", args[i]);
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
            char *clean = cli_clean (key, CLI_CELL_MAX);
            cli_usage_error (command, "parameter '%s' %s", clean, problem);
            free (clean);
            free (key);
            json_decref (parameters);
            return NULL;
        }
        free (key);
    }
    return parameters;
}

//  Check an id argument; NULL after a usage error.
const char *
cli_id_arg (cli_args_t *args, int index, char out[PROTO_UUID_STR_SIZE])
{
    if (!cli_parse_id (args->pos[index], out)) {
        char *clean = cli_clean (args->pos[index], CLI_CELL_MAX);
        cli_usage_error (args->command, "'%s' is not an id (a UUID)", clean);
        free (clean);
        return NULL;
    }
    return out;
}

//  {key: the positional argument}, checked to be non-empty UTF-8; NULL
//  after a usage error.
json_t *
cli_name_payload (cli_args_t *args, int index, const char *key)
{
    const char *text = args->pos[index];
    json_t *value = *text ? json_string (text) : NULL;
    if (!value) {
        char *clean = cli_clean (text, CLI_CELL_MAX);
        cli_usage_error (args->command, "'%s' is empty or not valid UTF-8", clean);
        free (clean);
        return NULL;
    }
    json_t *payload = json_object ();
    json_object_set_new (payload, key, value);
    return payload;
}

//  --limit N (into *total: items over all pages) and --before ID (into the
//  request). 0 or the exit code.
int
cli_paging (cli_args_t *args, json_t *payload, size_t *total)
{
    const char *limit = cli_opt (args, "--limit");
    long long n = CLI_LIMIT;
    if (limit && !cli_parse_long (limit, 1, CLI_LIMIT_MAX, &n))
        return cli_usage_error (args->command, "--limit: '%s' is not a number 1..%d",
                                limit, CLI_LIMIT_MAX);
    *total = (size_t)n;
    const char *before = cli_opt (args, "--before");
    char id[PROTO_UUID_STR_SIZE];
    if (before) {
        if (!cli_parse_id (before, id))
            return cli_usage_error (args->command, "--before: '%s' is not an id (a UUID)",
                                    before);
        json_object_set_new (payload, "before", json_string (id));
    }
    return 0;
}

//  A string option into the payload; 0, or 2 when it is not valid UTF-8.
int
cli_string_opt (cli_args_t *args, const char *option, json_t *payload, const char *key)
{
    const char *value = cli_opt (args, option);
    if (!value)
        return 0;
    json_t *string = json_string (value);
    if (!string || !*value) {
        json_decref (string);
        return cli_usage_error (args->command, "%s: empty or not valid UTF-8", option);
    }
    json_object_set_new (payload, key, string);
    return 0;
}

char *
cli_read_file (cli_t *client, const char *path, size_t *size)
{
    FILE *file = streq (path, "-") ? stdin : fopen (path, "rb");
    if (!file) {
        cli_fail (client, "io", "%s: %s", path, strerror (errno));
        return NULL;
    }
    char *text = (char *)malloc (CLI_FILE_MAX + 2);
    if (!text)
        abort ();
    size_t n = fread (text, 1, CLI_FILE_MAX + 1, file);
    bool failed = ferror (file);
    if (file != stdin)
        fclose (file);
    if (failed || n > CLI_FILE_MAX || memchr (text, 0, n)) {
        cli_fail (client, "io", "%s: %s", path,
                  failed             ? "read error"
                  : n > CLI_FILE_MAX ? "larger than 1 MiB"
                                     : "holds a NUL byte");
        free (text);
        return NULL;
    }
    text[n] = 0;
    *size = n;
    return text;
}
