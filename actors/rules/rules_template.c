/*  rules_template: sandboxed parameter templates. See rules_template.h. */
#include "actors/rules/rules_template.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXPRESSION 1024
#define MAX_RESULT     (1024 * 1024)
#define MAX_DEPTH      32

typedef struct {
    char *message;
    size_t message_size;
    const char *where;
} ctx_t;

static void
s_fail (ctx_t *c, const char *format, ...)
{
    char reason[512];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    if (c->message && c->message_size)
        snprintf (c->message, c->message_size, "%s: %s", c->where, reason);
}

//  ---------------------------------------------------------------------------
//  Paths

//  Walk `path` from `node`. Returns a borrowed value or NULL. Sets *syntax
//  when the path is malformed.
static const json_t *
s_walk (const json_t *node, const char *path, bool *syntax)
{
    const char *p = path;
    bool first = true;
    while (*p) {
        if (*p == '[') {
            p++;
            if (*p == '"' || *p == '\'') {
                char quote = *p++;
                const char *start = p;
                while (*p && *p != quote)
                    p++;
                if (*p != quote || p[1] != ']') {
                    *syntax = true;
                    return NULL;
                }
                char key[256];
                size_t len = (size_t)(p - start);
                if (len >= sizeof key) {
                    *syntax = true;
                    return NULL;
                }
                memcpy (key, start, len);
                key[len] = 0;
                node = json_is_object (node) ? json_object_get (node, key) : NULL;
                p += 2;
            } else {
                char *end;
                errno = 0;
                long index = strtol (p, &end, 10);
                if (end == p || *end != ']' || errno) {
                    *syntax = true;
                    return NULL;
                }
                if (!json_is_array (node) || index < 0 ||
                    (size_t)index >= json_array_size (node))
                    node = NULL;
                else
                    node = json_array_get (node, (size_t)index);
                p = end + 1;
            }
        } else {
            if (!first) {
                if (*p != '.') {
                    *syntax = true;
                    return NULL;
                }
                p++;
            }
            const char *start = p;
            while (*p && (isalnum ((unsigned char)*p) || *p == '_' || *p == '-'))
                p++;
            size_t len = (size_t)(p - start);
            if (len == 0 || len >= 256) {
                *syntax = true;
                return NULL;
            }
            char key[256];
            memcpy (key, start, len);
            key[len] = 0;
            node = json_is_object (node) ? json_object_get (node, key) : NULL;
        }
        first = false; //  a missing node stays NULL; keep parsing for syntax
    }
    return node;
}

const json_t *
rules_template_lookup (const json_t *context, const char *path)
{
    bool syntax = false;
    const json_t *value = s_walk (context, path, &syntax);
    if (!value && !syntax && strncmp (path, "trigger.", 8) == 0 &&
        strncmp (path, "trigger.payload", 15) != 0) {
        //  StackStorm spells trigger.payload.X as trigger.X
        const json_t *trigger = json_object_get (context, "trigger");
        const json_t *payload = trigger ? json_object_get (trigger, "payload") : NULL;
        if (payload)
            value = s_walk (payload, path + 8, &syntax);
    }
    return syntax ? NULL : value;
}

//  ---------------------------------------------------------------------------
//  Expressions

static const char *
s_skip (const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

//  Parse a literal (JSON scalar or quoted string) at *pp. New reference.
static json_t *
s_literal (const char **pp)
{
    const char *p = s_skip (*pp);
    if (*p == '\'' || *p == '"') {
        char quote = *p++;
        char buffer[MAX_EXPRESSION];
        size_t len = 0;
        while (*p && *p != quote && len < sizeof buffer - 1) {
            if (*p == '\\' && (p[1] == quote || p[1] == '\\'))
                p++;
            buffer[len++] = *p++;
        }
        if (*p != quote)
            return NULL;
        *pp = p + 1;
        return json_stringn (buffer, len);
    }
    const char *start = p;
    while (*p && *p != ')' && *p != ' ')
        p++;
    size_t len = (size_t)(p - start);
    if (len == 0 || len >= 64)
        return NULL;
    char text[64];
    memcpy (text, start, len);
    text[len] = 0;
    json_error_t error;
    json_t *value = json_loads (text, JSON_DECODE_ANY, &error);
    if (!value || json_is_object (value) || json_is_array (value)) {
        json_decref (value);
        return NULL;
    }
    *pp = p;
    return value;
}

static json_t *
s_to_number (json_t *value, bool integer)
{
    double d = 0;
    if (json_is_number (value))
        d = json_number_value (value);
    else if (json_is_boolean (value))
        d = json_is_true (value) ? 1 : 0;
    else if (json_is_string (value)) {
        char *end;
        errno = 0;
        d = strtod (json_string_value (value), &end);
        if (end == json_string_value (value) || *s_skip (end) || errno || !isfinite (d))
            return NULL;
    } else
        return NULL;
    if (integer) {
        if (d >= 9.2e18 || d <= -9.2e18)
            return NULL;
        return json_integer ((json_int_t)d);
    }
    return json_real (d);
}

//  Stringify for interpolation: strings as they are, others compact JSON.
static char *
s_text (const json_t *value)
{
    if (json_is_string (value))
        return strdup (json_string_value (value));
    return json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
}

//  Evaluate one expression (the text between the braces). New reference,
//  or NULL with the error set. With context NULL only checks syntax.
static json_t *
s_evaluate (ctx_t *c, const char *expression, const json_t *context)
{
    const char *p = s_skip (expression);
    const char *start = p;
    while (*p && *p != '|' && *p != ' ' && *p != '\t')
        p++;
    size_t len = (size_t)(p - start);
    if (len == 0 || len >= MAX_EXPRESSION) {
        s_fail (c, "{{%s}}: expected a path such as trigger.payload.x", expression);
        return NULL;
    }
    char path[MAX_EXPRESSION];
    memcpy (path, start, len);
    path[len] = 0;
    bool syntax = false;
    const json_t *found = NULL;
    if (context) {
        found = rules_template_lookup (context, path);
        s_walk (context, path, &syntax);
    } else {
        json_t *empty = json_object ();
        s_walk (empty, path, &syntax);
        json_decref (empty);
    }
    if (syntax) {
        s_fail (c, "{{%s}}: malformed path '%s'", expression, path);
        return NULL;
    }
    json_t *value = found ? json_deep_copy (found) : NULL;
    bool missing = context && !found;

    p = s_skip (p);
    while (*p == '|') {
        p = s_skip (p + 1);
        const char *fstart = p;
        while (isalpha ((unsigned char)*p) || *p == '_')
            p++;
        size_t flen = (size_t)(p - fstart);
        char filter[32];
        if (flen == 0 || flen >= sizeof filter) {
            s_fail (c, "{{%s}}: expected a filter name after '|'", expression);
            json_decref (value);
            return NULL;
        }
        memcpy (filter, fstart, flen);
        filter[flen] = 0;
        p = s_skip (p);
        if (strcmp (filter, "default") == 0) {
            if (*p != '(') {
                s_fail (c, "{{%s}}: default needs a value: default(...)", expression);
                json_decref (value);
                return NULL;
            }
            p++;
            json_t *fallback = s_literal (&p);
            p = s_skip (p);
            if (!fallback || *p != ')') {
                s_fail (c,
                        "{{%s}}: default(...) takes one literal: a number, true, false, "
                        "null or a quoted string",
                        expression);
                json_decref (fallback);
                json_decref (value);
                return NULL;
            }
            p = s_skip (p + 1);
            if (missing || (value && json_is_null (value))) {
                json_decref (value);
                value = fallback;
                missing = false;
            } else
                json_decref (fallback);
            continue;
        }
        static const char *const known[] = {"string",     "int",   "float", "bool",
                                            "lower",      "upper", "trim",  "json",
                                            "decrypt_kv", NULL};
        bool ok = false;
        for (const char *const *k = known; *k; k++)
            if (strcmp (filter, *k) == 0)
                ok = true;
        if (!ok) {
            s_fail (c,
                    "{{%s}}: unknown filter '%s' (default, string, int, float, bool, "
                    "lower, upper, trim, json, decrypt_kv)",
                    expression, filter);
            json_decref (value);
            return NULL;
        }
        if (!context || missing || strcmp (filter, "decrypt_kv") == 0)
            continue; //  syntax check only, reported below, or done (rules_kv.h)
        json_t *result = NULL;
        if (strcmp (filter, "string") == 0 || strcmp (filter, "json") == 0) {
            char *text = strcmp (filter, "json") == 0
                             ? json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY)
                             : s_text (value);
            result = text ? json_string (text) : NULL;
            free (text);
        } else if (strcmp (filter, "int") == 0 || strcmp (filter, "float") == 0)
            result = s_to_number (value, filter[0] == 'i');
        else if (strcmp (filter, "bool") == 0) {
            if (json_is_boolean (value))
                result = json_incref (value);
            else if (json_is_string (value)) {
                const char *s = json_string_value (value);
                if (!strcasecmp (s, "true") || !strcasecmp (s, "yes") || !strcmp (s, "1"))
                    result = json_true ();
                else if (!strcasecmp (s, "false") || !strcasecmp (s, "no") ||
                         !strcmp (s, "0") || !*s)
                    result = json_false ();
            } else if (json_is_number (value))
                result = json_boolean (json_number_value (value) != 0);
            else if (json_is_null (value))
                result = json_false ();
        } else if (json_is_string (value)) {
            char *text = strdup (json_string_value (value));
            if (text) {
                if (strcmp (filter, "lower") == 0)
                    for (char *t = text; *t; t++)
                        *t = (char)tolower ((unsigned char)*t);
                else if (strcmp (filter, "upper") == 0)
                    for (char *t = text; *t; t++)
                        *t = (char)toupper ((unsigned char)*t);
                char *from = text;
                if (strcmp (filter, "trim") == 0) {
                    while (isspace ((unsigned char)*from))
                        from++;
                    size_t n = strlen (from);
                    while (n > 0 && isspace ((unsigned char)from[n - 1]))
                        from[--n] = 0;
                }
                result = json_string (from);
                free (text);
            }
        }
        if (!result) {
            char *shown = s_text (value);
            s_fail (c, "{{%s}}: filter '%s' cannot convert %.80s", expression, filter,
                    shown ? shown : "the value");
            free (shown);
            json_decref (value);
            return NULL;
        }
        json_decref (value);
        value = result;
    }
    if (*p) {
        s_fail (c, "{{%s}}: unexpected '%s'", expression, p);
        json_decref (value);
        return NULL;
    }
    if (!context)
        return json_null (); //  syntax is fine
    if (missing) {
        s_fail (c, "{{%s}}: %s is not defined (add | default(...) to allow that)",
                expression, path);
        return NULL;
    }
    return value;
}

//  ---------------------------------------------------------------------------
//  Output text

typedef struct {
    char *data;
    size_t used, cap;
} s_buf_t;

//  Append `n` bytes. 0, or -1 (error set) past MAX_RESULT or out of memory.
static int
s_buf_add (ctx_t *c, s_buf_t *b, const char *text, size_t n)
{
    if (b->used + n + 1 > MAX_RESULT) {
        s_fail (c, "rendered text longer than %d bytes", MAX_RESULT);
        return -1;
    }
    if (b->used + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->used + n + 1 > cap)
            cap *= 2;
        char *grown = (char *)realloc (b->data, cap);
        if (!grown) {
            s_fail (c, "out of memory");
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy (b->data + b->used, text, n);
    b->used += n;
    b->data[b->used] = 0;
    return 0;
}

//  Append `text` with every ' written '\'' (the body of a '...' word).
static int
s_buf_add_quoted (ctx_t *c, s_buf_t *b, const char *text)
{
    const char *p = text;
    const char *quote;
    while ((quote = strchr (p, '\''))) {
        if (s_buf_add (c, b, p, (size_t)(quote - p)) || s_buf_add (c, b, "'\\''", 4))
            return -1;
        p = quote + 1;
    }
    return s_buf_add (c, b, p, strlen (p));
}

char *
rules_template_shell_quote (const char *value)
{
    assert (value);
    ctx_t c = {NULL, 0, ""};
    s_buf_t b = {NULL, 0, 0};
    if (s_buf_add (&c, &b, "'", 1) || s_buf_add_quoted (&c, &b, value) ||
        s_buf_add (&c, &b, "'", 1)) {
        free (b.data);
        return NULL;
    }
    return b.data;
}

//  ---------------------------------------------------------------------------
//  Shell commands: where in the author's shell text an expression stands

typedef enum {
    S_SH_PLAIN,   //  outside quotes
    S_SH_SINGLE,  //  inside '...'
    S_SH_DOUBLE,  //  inside "..."
    S_SH_COMMENT, //  after a # that starts a word, up to the line's end
    S_SH_UNSAFE   //  after a construct this scanner does not follow
} s_sh_state_t;

typedef struct {
    s_sh_state_t state;
    bool escaped;    //  a backslash waits for its character
    bool dollar;     //  the last character was an unquoted '$'
    char prev;       //  the last character written (0 at the start)
    const char *why; //  for S_SH_UNSAFE
} s_shell_t;

//  `p` (after a '$') starts ${NAME}: a plain parameter, safe to pass over.
static size_t
s_simple_brace (const char *p, size_t n)
{
    size_t i = 1;
    while (i < n && (isalnum ((unsigned char)p[i]) || p[i] == '_'))
        i++;
    return p[0] == '{' && i > 1 && i < n && p[i] == '}' ? i : 0;
}

//  What follows an unquoted or double-quoted '$': 0, or the number of
//  characters to pass over; sets S_SH_UNSAFE for an expansion that opens a
//  context of its own.
static size_t
s_shell_dollar (s_shell_t *sh, const char *p, size_t n)
{
    size_t skip = n ? s_simple_brace (p, n) : 0;
    if (skip)
        return skip;
    bool plain = sh->state == S_SH_PLAIN;
    if (n && (p[0] == '{' || p[0] == '[' ||
              (p[0] == '(' && (!plain || (n > 1 && p[1] == '('))) ||
              (plain && (p[0] == '\'' || p[0] == '"')))) {
        sh->state = S_SH_UNSAFE;
        sh->why = "after ${...}, $((, $[, $'...', $\"...\" or $( inside \"...\"";
    }
    return 0;
}

//  Follow the author's text `p` (n bytes) through the shell's quoting.
static void
s_shell_scan (s_shell_t *sh, const char *p, size_t n)
{
    for (size_t i = 0; i < n && sh->state != S_SH_UNSAFE; i++) {
        char ch = p[i];
        sh->dollar = false;
        if (sh->escaped)
            sh->escaped = false;
        else if (sh->state == S_SH_SINGLE)
            sh->state = ch == '\'' ? S_SH_PLAIN : S_SH_SINGLE;
        else if (sh->state == S_SH_COMMENT)
            sh->state = ch == '\n' ? S_SH_PLAIN : S_SH_COMMENT;
        else if (ch == '\\')
            sh->escaped = true;
        else if (ch == '`') {
            sh->state = S_SH_UNSAFE;
            sh->why = "after a backquote";
        } else if (ch == '$') {
            size_t skip = s_shell_dollar (sh, p + i + 1, n - i - 1);
            sh->dollar = skip == 0;
            i += skip;
        } else if (sh->state == S_SH_DOUBLE)
            sh->state = ch == '"' ? S_SH_PLAIN : S_SH_DOUBLE;
        else if (ch == '\'' || ch == '"')
            sh->state = ch == '\'' ? S_SH_SINGLE : S_SH_DOUBLE;
        else if (ch == '#' && (!sh->prev || strchr (" \t\n;&|()<>", sh->prev)))
            sh->state = S_SH_COMMENT;
        else if (ch == '<' && sh->prev == '<') {
            sh->state = S_SH_UNSAFE;
            sh->why = "after a here-document (<<)";
        } else if ((ch == '(' || ch == '[') && sh->prev == ch) {
            sh->state = S_SH_UNSAFE; //  bash evaluates a word there as arithmetic
            sh->why = "after (( or [[";
        }
        sh->prev = ch;
    }
}

//  Append `value` where the author's text left the shell (`sh`): as one
//  word with the same bytes for /bin/sh and for the worker's splitter.
//  0, or -1 with the error set when no quoting can promise that.
static int
s_shell_insert (ctx_t *c, s_shell_t *sh, s_buf_t *b, const char *expression,
                const char *value)
{
    const char *why = sh->state == S_SH_UNSAFE    ? sh->why
                      : sh->state == S_SH_COMMENT ? "inside a # comment"
                      : sh->state == S_SH_SINGLE  ? NULL
                      : sh->escaped               ? "right after a backslash"
                      : sh->dollar                ? "right after a '$'"
                                                  : NULL;
    if (why) {
        s_fail (c,
                "{{%s}}: a value cannot be inserted into a shell command %s "
                "(write the expression outside such a construct)",
                expression, why);
        return -1;
    }
    int rc = 0;
    if (sh->state == S_SH_SINGLE) //  '...{{ x }}...': stays inside the quotes
        rc = s_buf_add_quoted (c, b, value);
    else {
        //  "...{{ x }}...": close the author's quotes, one '...', reopen
        const char *around = sh->state == S_SH_DOUBLE ? "\"" : "";
        rc = s_buf_add (c, b, around, strlen (around)) || s_buf_add (c, b, "'", 1) ||
             s_buf_add_quoted (c, b, value) || s_buf_add (c, b, "'", 1) ||
             s_buf_add (c, b, around, strlen (around));
    }
    sh->prev = '\'';
    return rc ? -1 : 0;
}

//  ---------------------------------------------------------------------------
//  Strings

//  The expression of the "{{" at `open` copied into `expression`; returns the
//  "}}" that closes it, or NULL with the error set.
static const char *
s_expression (ctx_t *c, const char *open, char expression[MAX_EXPRESSION])
{
    const char *close = strstr (open + 2, "}}");
    if (!close) {
        s_fail (c, "'{{' without a closing '}}'");
        return NULL;
    }
    size_t len = (size_t)(close - open - 2);
    if (len >= MAX_EXPRESSION) {
        s_fail (c, "expression longer than %d bytes", MAX_EXPRESSION);
        return NULL;
    }
    memcpy (expression, open + 2, len);
    expression[len] = 0;
    return close;
}

//  The text is exactly one expression (blanks around it allowed): its
//  "{{", else NULL.
static const char *
s_lone_expression (const char *text)
{
    const char *open = strstr (text, "{{");
    const char *close = open ? strstr (open + 2, "}}") : NULL;
    if (!close || s_skip (text) != open)
        return NULL;
    const char *tail = s_skip (close + 2);
    while (*tail == '\n' || *tail == '\r')
        tail++;
    return !*tail && !strstr (open + 2, "{{") ? open : NULL;
}

//  Render one string; with `shell`, as a shell command (see
//  rules_template_render_shell). New reference or NULL.
static json_t *
s_render_string (ctx_t *c, const char *text, const json_t *context, bool shell)
{
    char expression[MAX_EXPRESSION];
    const char *lone = shell ? NULL : s_lone_expression (text);
    if (lone) //  exactly one expression: keep its type
        return s_expression (c, lone, expression) ? s_evaluate (c, expression, context)
                                                  : NULL;
    if (!strstr (text, "{{"))
        return json_string (text);
    s_buf_t b = {NULL, 0, 0};
    s_shell_t sh = {S_SH_PLAIN, false, false, 0, NULL};
    const char *p = text;
    int rc = s_buf_add (c, &b, "", 0);
    while (rc == 0 && *p) {
        const char *open = strstr (p, "{{");
        size_t chunk = open ? (size_t)(open - p) : strlen (p);
        rc = s_buf_add (c, &b, p, chunk);
        if (shell)
            s_shell_scan (&sh, p, chunk);
        p += chunk;
        if (rc || !open)
            break;
        const char *close = s_expression (c, open, expression);
        json_t *value = close ? s_evaluate (c, expression, context) : NULL;
        char *rendered = value ? s_text (value) : NULL;
        if (!rendered)
            rc = -1;
        else if (shell)
            rc = s_shell_insert (c, &sh, &b, expression, rendered);
        else
            rc = s_buf_add (c, &b, rendered, strlen (rendered));
        free (rendered);
        json_decref (value);
        p = close ? close + 2 : p;
    }
    json_t *result = rc == 0 ? json_stringn (b.data, b.used) : NULL;
    if (rc == 0 && !result)
        s_fail (c, "rendered text is not valid UTF-8");
    free (b.data);
    return result;
}

static json_t *
s_render (ctx_t *c, const json_t *value, const json_t *context, const char *where,
          int depth)
{
    if (depth > MAX_DEPTH) {
        c->where = where;
        s_fail (c, "nested deeper than %d levels", MAX_DEPTH);
        return NULL;
    }
    if (json_is_string (value)) {
        c->where = where;
        return s_render_string (c, json_string_value (value), context, false);
    }
    if (json_is_object (value)) {
        json_t *out = json_object ();
        const char *key;
        json_t *item;
        json_object_foreach ((json_t *)value, key, item)
        {
            char path[512];
            snprintf (path, sizeof path, "%s.%s", where, key);
            json_t *rendered = s_render (c, item, context, path, depth + 1);
            if (!rendered) {
                json_decref (out);
                return NULL;
            }
            json_object_set_new (out, key, rendered);
        }
        return out;
    }
    if (json_is_array (value)) {
        json_t *out = json_array ();
        size_t i;
        json_t *item;
        json_array_foreach (value, i, item)
        {
            char path[512];
            snprintf (path, sizeof path, "%s[%zu]", where, i);
            json_t *rendered = s_render (c, item, context, path, depth + 1);
            if (!rendered) {
                json_decref (out);
                return NULL;
            }
            json_array_append_new (out, rendered);
        }
        return out;
    }
    return json_deep_copy (value);
}

json_t *
rules_template_render (const json_t *value, const json_t *context, const char *where,
                       char *message, size_t message_size)
{
    ctx_t c = {message, message_size, where ? where : "value"};
    json_t *empty = context ? NULL : json_object ();
    json_t *result = s_render (&c, value, context ? context : empty, c.where, 0);
    json_decref (empty);
    return result;
}

json_t *
rules_template_render_shell (const char *text, const json_t *context, const char *where,
                             char *message, size_t message_size)
{
    assert (text);
    ctx_t c = {message, message_size, where ? where : "value"};
    json_t *empty = context ? NULL : json_object ();
    json_t *result = s_render_string (&c, text, context ? context : empty, true);
    json_decref (empty);
    return result;
}

//  Syntax-only walk.
static int
s_check (ctx_t *c, const json_t *value, const char *where, int depth)
{
    if (depth > MAX_DEPTH)
        return -1;
    c->where = where;
    if (json_is_string (value)) {
        const char *p = json_string_value (value);
        while ((p = strstr (p, "{{"))) {
            const char *e = strstr (p + 2, "}}");
            if (!e) {
                s_fail (c, "'{{' without a closing '}}'");
                return -1;
            }
            size_t len = (size_t)(e - p - 2);
            if (len >= MAX_EXPRESSION) {
                s_fail (c, "expression longer than %d bytes", MAX_EXPRESSION);
                return -1;
            }
            char expression[MAX_EXPRESSION];
            memcpy (expression, p + 2, len);
            expression[len] = 0;
            json_t *ok = s_evaluate (c, expression, NULL);
            if (!ok)
                return -1;
            json_decref (ok);
            p = e + 2;
        }
        return 0;
    }
    if (json_is_object (value)) {
        const char *key;
        json_t *item;
        json_object_foreach ((json_t *)value, key, item)
        {
            char path[512];
            snprintf (path, sizeof path, "%s.%s", where, key);
            if (s_check (c, item, path, depth + 1))
                return -1;
        }
    } else if (json_is_array (value)) {
        size_t i;
        json_t *item;
        json_array_foreach (value, i, item)
        {
            char path[512];
            snprintf (path, sizeof path, "%s[%zu]", where, i);
            if (s_check (c, item, path, depth + 1))
                return -1;
        }
    }
    return 0;
}

int
rules_template_check (const json_t *value, const char *where, char *message,
                      size_t message_size)
{
    ctx_t c = {message, message_size, where ? where : "value"};
    return s_check (&c, value, c.where, 0);
}
