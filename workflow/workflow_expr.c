/*  workflow_expr: the one place a workflow field is evaluated (text ->
    value), and the functions expressions call: ctx(), ctx(name), result(),
    item(), item(name), succeeded(), failed(), completed(),
    task_status(name), task(name), zip(), list(), len(), json().

    {{ }} and {% %} are the template engine's Jinja. <% %> (YAQL) is, for
    the subset workflows use, rewritten into the same engine's expressions:
    `=` is `==`, `$.x` is `ctx().x`, `null` is `none`, and a bare name given
    to a function (`ctx(a)`, `item(member)`) is that name as a string. */
#include "workflow/workflow_internal.h"
#include "template/template.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

bool
wf_truthy (const json_t *value)
{
    switch (json_typeof (value)) {
        case JSON_NULL:
        case JSON_FALSE:
            return false;
        case JSON_TRUE:
            return true;
        case JSON_INTEGER:
            return json_integer_value (value) != 0;
        case JSON_REAL:
            return json_real_value (value) != 0;
        case JSON_STRING:
            return json_string_length (value) > 0;
        case JSON_ARRAY:
            return json_array_size (value) > 0;
        case JSON_OBJECT:
            return json_object_size (value) > 0;
    }
    return false;
}

//  --------------------------------------------------------------------------
//  YAQL into the template engine's expressions

typedef struct {
    char *data;
    size_t used, cap;
} buf_t;

static void
s_put (buf_t *b, const char *text, size_t n)
{
    if (b->used + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 128;
        while (cap < b->used + n + 1)
            cap *= 2;
        b->data = (char *)realloc (b->data, cap);
        b->cap = cap;
    }
    memcpy (b->data + b->used, text, n);
    b->used += n;
    b->data[b->used] = 0;
}

static bool
s_word_char (char c)
{
    return isalnum ((unsigned char)c) || c == '_';
}

static bool
s_keyword (const char *w, size_t n)
{
    static const char *const words[] = {"true", "false", "null", "none", "True", "False",
                                        "None", "not",   "and",  "or",   "in",   NULL};
    for (size_t i = 0; words[i]; i++)
        if (strlen (words[i]) == n && !strncmp (words[i], w, n))
            return true;
    return false;
}

//  True when the word at [w, w+n) stands alone as an argument: after `(`
//  or `,` and before `)` or `,`.
static bool
s_bare_argument (const char *text, const char *w, size_t n, int call_depth)
{
    if (!call_depth)
        return false;
    const char *before = w;
    while (before > text && isspace ((unsigned char)before[-1]))
        before--;
    if (before == text || (before[-1] != '(' && before[-1] != ','))
        return false;
    const char *after = w + n;
    while (isspace ((unsigned char)*after))
        after++;
    return *after == ')' || *after == ',';
}

static char *
s_yaql_to_jinja (const char *text)
{
    buf_t b = {NULL, 0, 0};
    s_put (&b, "", 0);
    bool calls[64] = {false}; //  is the open paren at this depth a call
    int depth = 0, call_depth = 0;
    for (const char *p = text; *p;) {
        if (*p == '\'' || *p == '"') {
            const char *end = p + 1;
            while (*end && *end != *p)
                end += end[0] == '\\' && end[1] ? 2 : 1;
            if (*end)
                end++;
            s_put (&b, p, (size_t)(end - p));
            p = end;
        } else if (*p == '$') {
            s_put (&b, p[1] == '.' ? "ctx()" : "ctx()", 5);
            p++;
        } else if (s_word_char (*p) && !isdigit ((unsigned char)*p)) {
            const char *w = p;
            while (s_word_char (*p))
                p++;
            size_t n = (size_t)(p - w);
            bool after_dot = w > text && w[-1] == '.';
            if (n == 4 && !strncmp (w, "null", 4))
                s_put (&b, "none", 4);
            else if (!after_dot && !s_keyword (w, n) && *p != '(' &&
                     s_bare_argument (text, w, n, call_depth)) {
                s_put (&b, "'", 1);
                s_put (&b, w, n);
                s_put (&b, "'", 1);
            } else
                s_put (&b, w, n);
        } else if (*p == '(') {
            const char *q = p;
            while (q > text && isspace ((unsigned char)q[-1]))
                q--;
            bool call = q > text && (s_word_char (q[-1]) || q[-1] == ')');
            if (depth < 63)
                calls[++depth] = call;
            if (call)
                call_depth++;
            s_put (&b, p++, 1);
        } else if (*p == ')') {
            if (depth > 0) {
                if (calls[depth])
                    call_depth--;
                depth--;
            }
            s_put (&b, p++, 1);
        } else if (*p == '=' && p[1] != '=' && (p == text || !strchr ("=!<>", p[-1]))) {
            s_put (&b, "==", 2);
            p++;
        } else
            s_put (&b, p++, 1);
    }
    return b.data;
}

//  The text of a field as a Jinja template: each <% e %> as {{ e' }}.
static char *
s_as_template (const char *text)
{
    if (!strstr (text, "<%"))
        return strdup (text);
    buf_t b = {NULL, 0, 0};
    s_put (&b, "", 0);
    const char *p = text;
    const char *open;
    while ((open = strstr (p, "<%"))) {
        const char *close = strstr (open + 2, "%>");
        if (!close)
            break;
        s_put (&b, p, (size_t)(open - p));
        char *inner = strndup (open + 2, (size_t)(close - open - 2));
        char *jinja = s_yaql_to_jinja (inner);
        s_put (&b, "{{", 2);
        s_put (&b, jinja, strlen (jinja));
        s_put (&b, "}}", 2);
        free (inner);
        free (jinja);
        p = close + 2;
    }
    s_put (&b, p, strlen (p));
    return b.data;
}

static bool
s_has_expression (const char *text)
{
    return strstr (text, "<%") || strstr (text, "{{") || strstr (text, "{%");
}

//  --------------------------------------------------------------------------
//  The functions

static json_t *
s_latest_entry (const wf_scope_t *scope, const char *name)
{
    json_t *sequence = json_object_get (scope->state, "sequence");
    json_t *any = NULL;
    for (size_t i = json_array_size (sequence); i-- > 0;) {
        json_t *entry = json_array_get (sequence, i);
        if (!streq (json_string_value (json_object_get (entry, "task")), name))
            continue;
        if (json_integer_value (json_object_get (entry, "route")) == scope->route)
            return entry;
        if (!any)
            any = entry;
    }
    return any;
}

static json_t *
s_call_status (const wf_scope_t *scope, const char *function, json_t *const *args,
               size_t count, char **error)
{
    if (streq (function, "task_status") || streq (function, "task")) {
        if (count != 1 || !json_is_string (args[0])) {
            *error = wf_format ("%s(name): one task name expected", function);
            return NULL;
        }
        json_t *entry = s_latest_entry (scope, json_string_value (args[0]));
        if (streq (function, "task_status"))
            return json_string (
                entry ? json_string_value (json_object_get (entry, "status")) : "unset");
        if (!entry) {
            *error =
                wf_format ("task(%s): the task has not run", json_string_value (args[0]));
            return NULL;
        }
        json_t *result = json_object_get (entry, "result");
        return json_pack (
            "{s:O, s:O, s:O, s:O}", "task_id", json_object_get (entry, "task"), "route",
            json_object_get (entry, "route"), "status", json_object_get (entry, "status"),
            "result", result ? result : json_null ());
    }
    const char *status = scope->status ? scope->status : "";
    bool truth = streq (function, "succeeded") ? streq (status, "succeeded")
                 : streq (function, "failed")
                     ? streq (status, "failed")
                     : (streq (status, "succeeded") || streq (status, "failed") ||
                        streq (status, "canceled"));
    return json_boolean (truth);
}

static json_t *
s_call_zip (json_t *const *args, size_t count, char **error)
{
    size_t shortest = (size_t)-1;
    for (size_t i = 0; i < count; i++) {
        if (!json_is_array (args[i])) {
            *error = wf_format ("zip(): argument %zu is not a list", i + 1);
            return NULL;
        }
        if (json_array_size (args[i]) < shortest)
            shortest = json_array_size (args[i]);
    }
    json_t *out = json_array ();
    for (size_t j = 0; count && j < shortest; j++) {
        json_t *tuple = json_array ();
        for (size_t i = 0; i < count; i++)
            json_array_append (tuple, json_array_get (args[i], j));
        json_array_append_new (out, tuple);
    }
    return out;
}

static json_t *
s_call_value (const char *function, json_t *const *args, size_t count, char **error)
{
    if (streq (function, "zip"))
        return s_call_zip (args, count, error);
    if (streq (function, "list")) {
        json_t *out = json_array ();
        for (size_t i = 0; i < count; i++)
            json_array_append (out, args[i]);
        return out;
    }
    if (streq (function, "len") && count == 1) {
        json_t *v = args[0];
        if (json_is_string (v))
            return json_integer ((json_int_t)json_string_length (v));
        if (json_is_array (v))
            return json_integer ((json_int_t)json_array_size (v));
        if (json_is_object (v))
            return json_integer ((json_int_t)json_object_size (v));
        *error = wf_format ("len(): no length for that value");
        return NULL;
    }
    if (streq (function, "str") && count == 1) {
        if (json_is_string (args[0]))
            return json_incref (args[0]);
        char *text = template_text (args[0]);
        json_t *v = text ? json_string (text) : NULL;
        free (text);
        return v;
    }
    if (streq (function, "random") && count == 2 && json_is_integer (args[0]) &&
        json_is_integer (args[1]) &&
        json_integer_value (args[1]) >= json_integer_value (args[0])) {
        //  YAQL's random(from, to): rendered once, when the run starts
        json_int_t lo = json_integer_value (args[0]), hi = json_integer_value (args[1]);
        return json_integer (lo + (json_int_t)(random () % (long)(hi - lo + 1)));
    }
    if (streq (function, "json") && count == 1 && json_is_string (args[0])) {
        json_t *v = json_loads (json_string_value (args[0]), JSON_DECODE_ANY, NULL);
        if (!v)
            *error = wf_format ("json(): the text is not JSON");
        return v;
    }
    *error = wf_format ("unknown function %s()", function);
    return NULL;
}

static json_t *
s_call (void *arg, const char *function, json_t *const *args, size_t count, char **error)
{
    const wf_scope_t *scope = (const wf_scope_t *)arg;
    if (streq (function, "ctx")) {
        if (count == 0)
            return json_deep_copy (scope->vars ? scope->vars : json_object ());
        json_t *v = json_is_string (args[0])
                        ? json_object_get (scope->vars, json_string_value (args[0]))
                        : NULL;
        if (!v)
            *error =
                wf_format ("ctx(%s): the variable is referenced before assignment",
                           json_is_string (args[0]) ? json_string_value (args[0]) : "?");
        return json_incref (v);
    }
    if (streq (function, "result"))
        return json_incref (scope->result ? (json_t *)scope->result : json_null ());
    if (streq (function, "item")) {
        if (!scope->item) {
            *error = wf_format ("item(): not in a with items task");
            return NULL;
        }
        if (count == 0)
            return json_incref ((json_t *)scope->item);
        json_t *v = json_is_string (args[0])
                        ? json_object_get (scope->item, json_string_value (args[0]))
                        : NULL;
        if (!v)
            *error =
                wf_format ("item(%s): the item has no such key",
                           json_is_string (args[0]) ? json_string_value (args[0]) : "?");
        return json_incref (v);
    }
    if (streq (function, "succeeded") || streq (function, "failed") ||
        streq (function, "completed") || streq (function, "task_status") ||
        streq (function, "task"))
        return s_call_status (scope, function, args, count, error);
    return s_call_value (function, args, count, error);
}

//  --------------------------------------------------------------------------

static json_t *
s_eval_text (const wf_scope_t *scope, const char *text, const char *field, char **error)
{
    if (!s_has_expression (text))
        return json_string (text);
    char *source = s_as_template (text);
    char *reason = NULL;
    template_t *template = template_compile (field, source, &reason);
    json_t *value = NULL;
    if (template) {
        template_hooks_t hooks = {NULL, NULL, s_call};
        hooks.arg = (void *)scope;
        json_t *context = scope->vars ? (json_t *)scope->vars : NULL;
        if (scope->spec && !scope->spec->chain)
            context = NULL;
        value = template_render (template, context, &hooks, &reason);
        template_destroy (&template);
    }
    free (source);
    if (!value) {
        *error = wf_format ("%s: %s: %s", field, text, reason ? reason : "out of memory");
        free (reason);
    }
    return value;
}

json_t *
wf_eval (const wf_scope_t *scope, const json_t *value, const char *field, char **error)
{
    if (json_is_string (value))
        return s_eval_text (scope, json_string_value (value), field, error);
    if (json_is_array (value)) {
        json_t *out = json_array ();
        size_t i;
        json_t *v;
        json_array_foreach (value, i, v)
        {
            json_t *r = wf_eval (scope, v, field, error);
            if (!r) {
                json_decref (out);
                return NULL;
            }
            json_array_append_new (out, r);
        }
        return out;
    }
    if (json_is_object (value)) {
        json_t *out = json_object ();
        const char *key;
        json_t *v;
        json_object_foreach ((json_t *)value, key, v)
        {
            json_t *r = wf_eval (scope, v, field, error);
            if (!r) {
                json_decref (out);
                return NULL;
            }
            json_object_set_new (out, key, r);
        }
        return out;
    }
    return json_incref ((json_t *)value);
}

int
wf_eval_bool (const wf_scope_t *scope, const char *text, const char *field, bool *truth,
              char **error)
{
    json_t *text_value = json_string (text);
    json_t *value = wf_eval (scope, text_value, field, error);
    json_decref (text_value);
    if (!value)
        return -1;
    *truth = wf_truthy (value);
    json_decref (value);
    return 0;
}

void
wf_expr_check (const workflow_spec_t *spec, const json_t *value, int line,
               const char *field, wf_errors_t *errors)
{
    if (json_is_array (value) || json_is_object (value)) {
        size_t i;
        json_t *v;
        const char *key;
        if (json_is_array (value))
            json_array_foreach (value, i, v) wf_expr_check (spec, v, line, field, errors);
        else
            json_object_foreach ((json_t *)value, key, v)
                wf_expr_check (spec, v, line, field, errors);
        return;
    }
    if (!json_is_string (value) || !s_has_expression (json_string_value (value)))
        return;
    const char *text = json_string_value (value);
    const char *open = strstr (text, "<%");
    if (open && !strstr (open, "%>")) {
        wf_errors_add (errors, spec->name, line, field, "%s: '<%%' is not closed", text);
        return;
    }
    char *source = s_as_template (text);
    char *reason = NULL;
    template_t *template = template_compile (field, source, &reason);
    if (!template)
        wf_errors_add (errors, spec->name, line, field, "%s: %s", text,
                       reason ? reason : "does not parse");
    template_destroy (&template);
    free (reason);
    free (source);
}
