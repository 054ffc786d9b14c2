/*  rules_template: sandboxed parameter templates. See rules_template.h. */
#include "actors/rules/rules_template.h"

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
        static const char *const known[] = {"string", "int",  "float", "bool", "lower",
                                            "upper",  "trim", "json",  NULL};
        bool ok = false;
        for (const char *const *k = known; *k; k++)
            if (strcmp (filter, *k) == 0)
                ok = true;
        if (!ok) {
            s_fail (c,
                    "{{%s}}: unknown filter '%s' (default, string, int, float, bool, "
                    "lower, upper, trim, json)",
                    expression, filter);
            json_decref (value);
            return NULL;
        }
        if (!context || missing)
            continue; //  syntax check only, or reported below
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

//  Render one string. New reference or NULL.
static json_t *
s_render_string (ctx_t *c, const char *text, const json_t *context)
{
    const char *open = strstr (text, "{{");
    if (!open)
        return json_string (text);
    //  Exactly one expression: keep its type.
    const char *close = strstr (open + 2, "}}");
    const char *lead = s_skip (text);
    if (close && lead == open) {
        const char *tail = s_skip (close + 2);
        while (*tail == '\n' || *tail == '\r')
            tail++;
        if (!*tail && !strstr (open + 2, "{{")) {
            size_t len = (size_t)(close - open - 2);
            if (len >= MAX_EXPRESSION) {
                s_fail (c, "expression longer than %d bytes", MAX_EXPRESSION);
                return NULL;
            }
            char expression[MAX_EXPRESSION];
            memcpy (expression, open + 2, len);
            expression[len] = 0;
            return s_evaluate (c, expression, context);
        }
    }
    //  Interpolation
    size_t cap = strlen (text) + 64, used = 0;
    char *out = (char *)malloc (cap);
    if (!out)
        return NULL;
    const char *p = text;
    while (*p) {
        const char *o = strstr (p, "{{");
        const char *chunk_end = o ? o : p + strlen (p);
        size_t chunk = (size_t)(chunk_end - p);
        const char *piece = p;
        char *rendered = NULL;
        if (!o) {
            p = chunk_end;
        } else {
            const char *e = strstr (o + 2, "}}");
            if (!e) {
                s_fail (c, "'{{' without a closing '}}'");
                free (out);
                return NULL;
            }
            size_t len = (size_t)(e - o - 2);
            if (len >= MAX_EXPRESSION) {
                s_fail (c, "expression longer than %d bytes", MAX_EXPRESSION);
                free (out);
                return NULL;
            }
            char expression[MAX_EXPRESSION];
            memcpy (expression, o + 2, len);
            expression[len] = 0;
            json_t *value = s_evaluate (c, expression, context);
            if (!value) {
                free (out);
                return NULL;
            }
            rendered = s_text (value);
            json_decref (value);
            p = e + 2;
        }
        size_t add = chunk + (rendered ? strlen (rendered) : 0);
        if (used + add + 1 > MAX_RESULT) {
            s_fail (c, "rendered text longer than %d bytes", MAX_RESULT);
            free (rendered);
            free (out);
            return NULL;
        }
        if (used + add + 1 > cap) {
            while (used + add + 1 > cap)
                cap *= 2;
            char *grown = (char *)realloc (out, cap);
            if (!grown) {
                free (rendered);
                free (out);
                return NULL;
            }
            out = grown;
        }
        memcpy (out + used, piece, chunk);
        used += chunk;
        if (rendered) {
            memcpy (out + used, rendered, strlen (rendered));
            used += strlen (rendered);
            free (rendered);
        }
    }
    out[used] = 0;
    json_t *result = json_stringn (out, used);
    free (out);
    if (!result)
        s_fail (c, "rendered text is not valid UTF-8");
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
        return s_render_string (c, json_string_value (value), context);
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
