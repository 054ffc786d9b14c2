/*  attune_cli_print: output for people: text made safe for a terminal, times and
    durations, tables rendered from column specs, property lists, results.
*/
#include "tools/attune_cli.h"

#include <time.h>

//  ---------------------------------------------------------------------------
//  Text helpers

//  A copy of `text` fit for a terminal: control characters become spaces,
//  and at most `max` characters (UTF-8 code points) are kept (0 = all).
char *
cli_clean (const char *text, size_t max)
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

//  A JSON value as text: strings as they are, null as "-", others as JSON.
char *
cli_json_text (const json_t *value)
{
    if (!value || json_is_null (value))
        return strdup ("-");
    if (json_is_string (value))
        return strdup (json_string_value (value));
    char *text =
        json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION (15));
    return text ? text : strdup ("?");
}

void
cli_format_time (int64_t usec, bool with_ms, char *out, size_t size)
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

void
cli_format_duration (double seconds, char *out, size_t size)
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

int64_t
cli_int (const json_t *object, const char *key)
{
    const json_t *value = json_object_get (object, key);
    if (json_is_integer (value))
        return (int64_t)json_integer_value (value);
    if (json_is_real (value))
        return (int64_t)json_real_value (value);
    return 0;
}

const char *
cli_str (const json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

//  Duration of an execution: ended - started, or now - started while it runs.
void
cli_execution_duration (const json_t *execution, char *out, size_t size)
{
    int64_t started = cli_int (execution, "started");
    int64_t ended = cli_int (execution, "ended");
    if (started <= 0)
        snprintf (out, size, "-");
    else
        cli_format_duration (
            (double)((ended > 0 ? ended : proto_now_usec ()) - started) / 1e6, out, size);
}

//  ---------------------------------------------------------------------------
//  Tables: a header row, then rows of cells, printed with aligned columns

typedef struct {
    size_t ncols, ncells, cap;
    char **cells;
} s_table_t;

static size_t
s_width (const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        if (((unsigned char)*text & 0xc0) != 0x80)
            n++;
    return n;
}

//  A cell, clipped to `max` characters (0: whole); takes `text`.
static void
s_table_push (s_table_t *self, char *text, size_t max)
{
    if (self->ncells == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 64;
        self->cells = (char **)realloc (self->cells, self->cap * sizeof (char *));
        if (!self->cells)
            abort ();
    }
    self->cells[self->ncells++] = cli_clean (text && *text ? text : "-", max);
    free (text);
}

//  The member at a dotted `path` of `item` ("" for the row's key).
static const json_t *
s_table_value (const json_t *item, const char *path)
{
    char part[64];
    while (item && *path) {
        size_t n = strcspn (path, ".");
        snprintf (part, sizeof part, "%.*s", (int)n, path);
        item = json_object_get (item, part);
        path += n + (path[n] == '.');
    }
    return item;
}

static char *
s_table_cell (const cli_column_t *column, const char *key, const json_t *item)
{
    if (column->cell)
        return column->cell (key, item);
    if (!*column->path)
        return strdup (key ? key : "-");
    const json_t *value = s_table_value (item, column->path);
    if (column->kind == CLI_CELL_TIME) {
        char text[64];
        cli_format_time (json_integer_value (value), false, text, sizeof text);
        return strdup (text);
    }
    if (column->kind == CLI_CELL_YES_NO)
        return strdup (json_is_false (value) ? "no" : "yes");
    if (!strcmp (column->path, "status") && json_is_string (value))
        return strdup (cli_st2_status_name (json_string_value (value)));
    return cli_json_text (value);
}

static void
s_table_row (s_table_t *self, const cli_column_t *columns, const char *key,
             const json_t *item)
{
    for (const cli_column_t *c = columns; c->header; c++)
        s_table_push (self, s_table_cell (c, key, item),
                      c->kind == CLI_CELL_WHOLE ? 0 : CLI_CELL_MAX);
}

static void
s_table_write (s_table_t *self, const char *indent, FILE *out)
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
        fprintf (out, "%s%s", col == 0 ? indent : "", self->cells[i]);
        if (col + 1 == self->ncols || i + 1 == self->ncells)
            fputc ('\n', out);
        else
            fprintf (out, "%*s", (int)(widths[col] - s_width (self->cells[i]) + 2), "");
    }
    free (widths);
}

void
cli_table_print (const json_t *rows, const cli_column_t *columns, const char *indent)
{
    s_table_t table = {0};
    for (const cli_column_t *c = columns; c->header; c++) {
        s_table_push (&table, strdup (c->header), CLI_CELL_MAX);
        table.ncols++;
    }
    size_t i;
    const char *key;
    const json_t *item;
    json_array_foreach (rows, i, item)
    {
        s_table_row (&table, columns, NULL, item);
    }
    json_object_foreach ((json_t *)rows, key, item)
    {
        s_table_row (&table, columns, key, item);
    }
    s_table_write (&table, indent ? indent : "", stdout);
    for (i = 0; i < table.ncells; i++)
        free (table.cells[i]);
    free (table.cells);
}

//  A "key: value" line of a property list; a value of several lines has
//  them indented under the key.
void
cli_prop (const char *key, const char *value)
{
    size_t pad = strlen (key) < 12 ? 12 - strlen (key) : 1;
    printf ("%s:%*s", key, (int)pad, "");
    if (!value || !*value)
        value = "-";
    for (const char *p = value; *p;) {
        size_t n = strcspn (p, "\n");
        char *line = strndup (p, n);
        char *clean = cli_clean (line ? line : "", 0);
        printf ("%*s%s\n", p == value ? 0 : 13, "", clean);
        free (clean);
        free (line);
        p += n + (p[n] == '\n');
    }
}

void
cli_prop_json (const char *key, const json_t *value)
{
    char *text = cli_json_text (value);
    cli_prop (key, text);
    free (text);
}

void
cli_prop_time (const char *key, int64_t usec)
{
    char text[64];
    cli_format_time (usec, true, text, sizeof text);
    cli_prop (key, text);
}

//  The result document as JSON on stdout (--json).
int
cli_print_json (const json_t *value)
{
    json_t *shown = json_deep_copy (value);
    if (shown && strcmp (cli_st2_status_name ("completed"), "completed"))
        cli_st2_status (shown); //  --st2-status
    char *text = json_dumps (shown ? shown : value, JSON_INDENT (2) | JSON_ENCODE_ANY);
    json_decref (shown);
    if (!text)
        return CLI_EXIT_FAILED;
    puts (text);
    free (text);
    return CLI_EXIT_OK;
}

//  A text block under a property, YAML style: "  stdout: |" then the lines.
void
cli_print_text (const char *indent, const char *key, const char *text)
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
void
cli_print_result (const json_t *result)
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
        char *text = cli_json_text (code);
        printf ("  return_code: %s\n", text);
        free (text);
    }
    const char *keys[] = {"stdout", "stderr", "error"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const json_t *value = json_object_get (result, keys[i]);
        if (json_is_string (value))
            cli_print_text ("  ", keys[i], json_string_value (value));
        else if (value) {
            char *text = cli_json_text (value);
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
        char *text = cli_json_text (value);
        char *clean = cli_clean (text, 0);
        printf ("  %s: %s\n", key, clean);
        free (clean);
        free (text);
    }
}

void
cli_print_execution (const json_t *execution)
{
    cli_prop_json ("id", json_object_get (execution, "id"));
    cli_prop_json ("action", json_object_get (execution, "action"));
    char duration[64];
    cli_execution_duration (execution, duration, sizeof duration);
    const char *status = cli_str (execution, "status");
    const char *shown = cli_st2_status_name (status);
    char *line = zsys_sprintf ("%s%s%s%s", shown ? shown : "?",
                               cli_int (execution, "started") > 0 ? " (" : "",
                               cli_int (execution, "started") > 0 ? duration : "",
                               cli_int (execution, "started") > 0 ? ")" : "");
    cli_prop ("status", line);
    zstr_free (&line);
    if (json_object_get (execution, "runner"))
        cli_prop_json ("runner", json_object_get (execution, "runner"));
    cli_prop_json ("parameters", json_object_get (execution, "parameters"));
    const char *optional[] = {"worker", "rule", "event", "enforcement", "parent"};
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++) {
        const json_t *value = json_object_get (execution, optional[i]);
        if (value && !json_is_null (value))
            cli_prop_json (optional[i], value);
    }
    cli_prop_time ("requested", cli_int (execution, "requested"));
    if (cli_int (execution, "started") > 0)
        cli_prop_time ("started", cli_int (execution, "started"));
    if (cli_int (execution, "ended") > 0)
        cli_prop_time ("ended", cli_int (execution, "ended"));
    const json_t *log = json_object_get (execution, "log");
    if (json_is_array (log) && json_array_size (log)) {
        printf ("log:\n");
        size_t i;
        const json_t *entry;
        json_array_foreach (log, i, entry)
        {
            char when[64];
            cli_format_time (cli_int (entry, "ts"), true, when, sizeof when);
            const char *was = cli_st2_status_name (cli_str (entry, "status"));
            char *clean = cli_clean (was ? was : "?", CLI_CELL_MAX);
            printf ("  %s  %s\n", when, clean);
            free (clean);
        }
    }
    cli_print_result (json_object_get (execution, "result"));
    if (status && streq (status, "pending"))
        printf ("(waiting for a person: attune inquiry get %s)\n",
                cli_str (execution, "id"));
}

//  The properties of a definition, `first` in that order, then the rest.
void
cli_show_definition (const json_t *definition, const char *const *first)
{
    for (size_t i = 0; first[i]; i++)
        if (json_object_get (definition, first[i]))
            cli_prop_json (first[i], json_object_get (definition, first[i]));
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)definition, key, value)
    {
        bool shown = false;
        for (size_t i = 0; first[i]; i++)
            shown = shown || streq (first[i], key);
        if (!shown && !streq (key, "parameters"))
            cli_prop_json (key, value);
    }
}
