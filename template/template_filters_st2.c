/*  template_filters_st2: StackStorm's filters (st2common's expressions:
    data, regex, path, crypto, use_none) and Jinja's tojson. */
#include "template/template_ast.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;
    size_t used, cap;
    bool failed;
} jbuf_t;

static void
s_add (jbuf_t *b, const char *text, size_t n)
{
    if (b->failed || b->used + n + 1 > TEMPLATE_MAX_OUTPUT) {
        b->failed = true;
        return;
    }
    if (b->used + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->used + n + 1)
            cap *= 2;
        char *grown = (char *)realloc (b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy (b->data + b->used, text, n);
    b->used += n;
    b->data[b->used] = 0;
}

static void
s_adds (jbuf_t *b, const char *text)
{
    s_add (b, text, strlen (text));
}

typedef struct {
    int indent; //  -1: one line
    bool sort_keys;
    const char *item_sep, *key_sep;
    bool html; //  tojson's \u003c \u003e \u0026 \u0027
} json_style_t;

static void
s_json_string (jbuf_t *b, const char *s, bool html)
{
    json_t *str = json_string (s);
    char *text = str ? json_dumps (str, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
    for (const char *p = text; p && *p; p++) {
        const char *rep = !html        ? NULL
                          : *p == '<'  ? "\\u003c"
                          : *p == '>'  ? "\\u003e"
                          : *p == '&'  ? "\\u0026"
                          : *p == '\'' ? "\\u0027"
                                       : NULL;
        if (rep)
            s_adds (b, rep);
        else
            s_add (b, p, 1);
    }
    b->failed |= text == NULL;
    free (text);
    json_decref (str);
}

static void
s_newline (jbuf_t *b, const json_style_t *st, int level)
{
    if (st->indent < 0)
        return;
    s_adds (b, "\n");
    for (int i = 0; i < level * st->indent; i++)
        s_adds (b, " ");
}

//  Python's json.dumps with `st`.
static void
s_json (jbuf_t *b, const json_t *v, const json_style_t *st, int level)
{
    if (level > TEMPLATE_MAX_DEPTH) {
        b->failed = true;
        return;
    }
    if (json_is_string (v))
        s_json_string (b, json_string_value (v), st->html);
    else if (json_is_array (v) || json_is_object (v)) {
        bool list = json_is_array (v);
        json_t *keys = list ? json_incref ((json_t *)v) : json_array ();
        const char *key;
        json_t *item;
        if (!list)
            json_object_foreach ((json_t *)v, key, item)
                json_array_append_new (keys, json_string (key));
        size_t n = json_array_size (keys);
        for (size_t i = 1; st->sort_keys && !list && i < n; i++) //  insertion sort by key
            for (size_t j = i;
                 j > 0 && strcmp (json_string_value (json_array_get (keys, j - 1)),
                                  json_string_value (json_array_get (keys, j))) > 0;
                 j--) {
                json_t *t = json_incref (json_array_get (keys, j));
                json_array_set (keys, j, json_array_get (keys, j - 1));
                json_array_set_new (keys, j - 1, t);
            }
        s_adds (b, list ? "[" : "{");
        for (size_t i = 0; i < n; i++) {
            if (i)
                s_adds (b, st->indent >= 0 ? "," : st->item_sep);
            s_newline (b, st, level + 1);
            json_t *k = json_array_get (keys, i);
            if (!list) {
                s_json_string (b, json_string_value (k), st->html);
                s_adds (b, st->key_sep);
            }
            s_json (b, list ? k : json_object_get (v, json_string_value (k)), st,
                    level + 1);
        }
        if (n)
            s_newline (b, st, level);
        s_adds (b, list ? "]" : "}");
        json_decref (keys);
    } else {
        char number[64];
        if (json_is_real (v))
            template_format_real (json_real_value (v), number, sizeof number);
        else if (json_is_integer (v))
            snprintf (number, sizeof number, "%" JSON_INTEGER_FORMAT,
                      json_integer_value (v));
        else
            snprintf (number, sizeof number, "%s",
                      json_is_true (v)    ? "true"
                      : json_is_false (v) ? "false"
                                          : "null");
        s_adds (b, number);
    }
}

static json_t *
s_dump (render_t *r, const node_t *at, json_t *v, const json_style_t *st)
{
    jbuf_t b = {NULL, 0, 0, false};
    s_add (&b, "", 0);
    s_json (&b, v, st, 0);
    if (b.failed) {
        free (b.data);
        return template_fail (r, at,
                              "JSON text longer than %d bytes or nested too deeply",
                              TEMPLATE_MAX_OUTPUT);
    }
    return template_string_result (r, at, b.data);
}

static int
s_indent (const targs_t *a)
{
    json_t *indent = template_arg (a, 0, "indent");
    return json_is_integer (indent) ? (int)json_integer_value (indent) : -1;
}

//  to_json_string(indent=None, sort_keys=False, separators=(',', ': '))
static json_t *
f_to_json_string (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    json_t *sort = template_arg (a, 1, "sort_keys");
    json_style_t st = {s_indent (a), sort && template_truthy (sort), ",", ": ", false};
    return s_dump (r, at, v, &st);
}

//  tojson(indent=None): Jinja's, keys sorted, HTML-safe
static json_t *
f_tojson (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    json_style_t st = {s_indent (a), true, ", ", ": ", true};
    return s_dump (r, at, v, &st);
}

//  to_complex: StackStorm's json.dumps(value)
static json_t *
f_to_complex (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    json_style_t st = {-1, false, ", ", ": ", false};
    return s_dump (r, at, v, &st);
}

//  json (attune's): compact JSON
static json_t *
f_json (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    json_style_t st = {-1, false, ",", ":", false};
    return s_dump (r, at, v, &st);
}

//  json_escape: json.dumps(value).strip('"')
static json_t *
f_json_escape (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    json_style_t st = {-1, false, ", ", ": ", false};
    json_t *text = s_dump (r, at, v, &st);
    if (!text)
        return NULL;
    const char *s = json_string_value (text);
    size_t n = json_string_length (text);
    while (n && s[n - 1] == '"')
        n--;
    while (n && *s == '"')
        s++, n--;
    json_t *out = json_stringn (s, n);
    json_decref (text);
    return out;
}

static json_t *
f_from_json_string (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    char *text = template_str (v);
    json_error_t error;
    json_t *out = text ? json_loads (text, JSON_DECODE_ANY, &error) : NULL;
    free (text);
    if (!out)
        return template_fail (r, at, "from_json_string: %s (line %d column %d)",
                              text ? error.text : "out of memory", error.line,
                              error.column);
    return out;
}

//  A YAML scalar that PyYAML would leave plain (no quotes needed).
static bool
s_yaml_plain (const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no", "on", "off",
                                        "null", "y",     "n",   "~",  NULL};
    if (!*s || isspace ((unsigned char)*s) ||
        isspace ((unsigned char)s[strlen (s) - 1]) || strchr ("-?:,[]{}#&*!|>'\"%@`", *s))
        return false;
    for (const char *const *w = words; *w; w++)
        if (!strcasecmp (s, *w))
            return false;
    char *end;
    strtod (s, &end);
    if (end != s && !*end)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || (*p == ':' && (p[1] == ' ' || !p[1])) ||
            (*p == '#' && p[-1] == ' '))
            return false;
    return true;
}

static void
s_yaml_scalar (jbuf_t *b, const json_t *v)
{
    if (!json_is_string (v)) {
        json_style_t st = {-1, false, ", ", ": ", false};
        s_json (b, v, &st, 0);
        return;
    }
    const char *s = json_string_value (v);
    if (s_yaml_plain (s))
        s_adds (b, s);
    else if (strpbrk (s, "\n\r\t\\") || strchr (s, '\''))
        s_json_string (b, s, false); //  a double-quoted YAML scalar
    else {
        s_adds (b, "'");
        s_adds (b, s);
        s_adds (b, "'");
    }
}

static void
s_yaml (jbuf_t *b, const json_t *v, int level, bool inline_first)
{
    bool empty = json_is_array (v)    ? !json_array_size (v)
                 : json_is_object (v) ? !json_object_size (v)
                                      : false;
    if ((!json_is_array (v) && !json_is_object (v)) || empty ||
        level > TEMPLATE_MAX_DEPTH) {
        if (empty)
            s_adds (b, json_is_array (v) ? "[]" : "{}");
        else
            s_yaml_scalar (b, v);
        s_adds (b, "\n");
        return;
    }
    json_t *keys = json_array ();
    const char *key;
    json_t *item;
    if (json_is_object (v))
        json_object_foreach ((json_t *)v, key, item)
            json_array_append_new (keys, json_string (key));
    size_t n = json_is_array (v) ? json_array_size (v) : json_array_size (keys);
    for (size_t i = 1; json_is_object (v) && i < n; i++) //  PyYAML sorts keys
        for (size_t j = i;
             j > 0 && strcmp (json_string_value (json_array_get (keys, j - 1)),
                              json_string_value (json_array_get (keys, j))) > 0;
             j--) {
            json_t *t = json_incref (json_array_get (keys, j));
            json_array_set (keys, j, json_array_get (keys, j - 1));
            json_array_set_new (keys, j - 1, t);
        }
    for (size_t i = 0; i < n; i++) {
        if (i || !inline_first)
            for (int k = 0; k < level * 2; k++)
                s_adds (b, " ");
        if (json_is_array (v)) {
            s_adds (b, "- ");
            item = json_array_get (v, i);
            bool nested = (json_is_object (item) && json_object_size (item)) ||
                          (json_is_array (item) && json_array_size (item));
            s_yaml (b, item, level + 1, nested);
            continue;
        }
        json_t *k = json_array_get (keys, i);
        item = json_object_get (v, json_string_value (k));
        s_yaml_scalar (b, k);
        bool block = (json_is_object (item) && json_object_size (item)) ||
                     (json_is_array (item) && json_array_size (item));
        s_adds (b, block ? ":\n" : ": ");
        s_yaml (b, item, json_is_array (item) ? level : level + 1, false);
    }
    json_decref (keys);
}

//  to_yaml_string: PyYAML's safe_dump, block style, keys sorted
static json_t *
f_to_yaml_string (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    jbuf_t b = {NULL, 0, 0, false};
    s_add (&b, "", 0);
    s_yaml (&b, v, 0, false);
    if (!json_is_array (v) && !json_is_object (v))
        s_adds (&b, "...\n");
    if (b.failed) {
        free (b.data);
        return template_fail (r, at, "YAML text longer than %d bytes",
                              TEMPLATE_MAX_OUTPUT);
    }
    return template_string_result (r, at, b.data);
}

//  The compiled pattern argument `index` (ignorecase from its argument).
static template_regex_t *
s_regex (render_t *r, const node_t *at, const targs_t *a, size_t index, size_t flag_index)
{
    json_t *pattern = template_arg (a, index, "pattern");
    json_t *ignorecase = template_arg (a, flag_index, "ignorecase");
    if (!json_is_string (pattern))
        return template_fail (r, at, "the regular expression must be a string");
    char *error = NULL;
    template_regex_t *regex = template_regex_cache_get (
        r->regex, json_string_value (pattern),
        ignorecase && template_truthy (ignorecase) ? TEMPLATE_REGEX_IGNORECASE : 0,
        &error);
    if (!regex)
        template_fail (r, at, "%s", error ? error : "out of memory");
    free (error);
    return regex;
}

static json_t *
s_regex_find (render_t *r, const node_t *at, json_t *v, const targs_t *a,
              template_regex_mode_t mode)
{
    template_regex_t *regex = s_regex (r, at, a, 0, 1);
    char *text = regex ? template_str (v) : NULL;
    char *error = NULL;
    int rc = text ? template_regex_find (regex, text, mode, NULL, &error) : -1;
    if (rc < 0 && regex)
        template_fail (r, at, "%s", error ? error : "out of memory");
    free (error);
    free (text);
    return rc < 0 ? NULL : json_boolean (rc);
}

static json_t *
f_regex_match (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_regex_find (r, at, v, a, TEMPLATE_REGEX_MATCH);
}

static json_t *
f_regex_search (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_regex_find (r, at, v, a, TEMPLATE_REGEX_SEARCH);
}

//  regex_replace(pattern, replacement, ignorecase=False)
static json_t *
f_regex_replace (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    json_t *replacement = template_arg (a, 1, "replacement");
    if (!json_is_string (replacement))
        return template_fail (r, at, "regex_replace(pattern, replacement): strings");
    template_regex_t *regex = s_regex (r, at, a, 0, 2);
    char *text = regex ? template_str (v) : NULL, *error = NULL;
    char *out = text ? template_regex_sub (regex, text, json_string_value (replacement),
                                           0, &error)
                     : NULL;
    if (!out && regex)
        template_fail (r, at, "%s", error ? error : "out of memory");
    free (error);
    free (text);
    return out ? template_string_result (r, at, out) : NULL;
}

//  regex_substring(pattern, result_index=0, ignorecase=False): findall's item
static json_t *
f_regex_substring (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    json_t *index = template_arg (a, 1, "result_index");
    template_regex_t *regex = s_regex (r, at, a, 0, 2);
    char *text = regex ? template_str (v) : NULL, *error = NULL;
    json_t *all = text ? template_regex_findall (regex, text, &error) : NULL;
    if (!all && regex)
        template_fail (r, at, "%s", error ? error : "out of memory");
    free (error);
    free (text);
    long long i = json_is_integer (index) ? json_integer_value (index) : 0;
    if (i < 0)
        i += (long long)json_array_size (all);
    json_t *item = all && i >= 0 ? json_array_get (all, (size_t)i) : NULL;
    if (all && !item)
        template_fail (r, at, "regex_substring: no match %lld for the pattern", i);
    json_incref (item);
    json_decref (all);
    return item;
}

//  use_none: StackStorm's way to pass None through a template
static json_t *
f_use_none (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return json_incref (v);
}

static json_t *
f_decrypt_kv (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    if (!r->hooks || !r->hooks->decrypt_kv)
        return template_fail (r, at, "decrypt_kv is not available here");
    char *error = NULL;
    json_t *out = r->hooks->decrypt_kv (r->hooks->arg, v, &error);
    if (!out)
        template_fail (r, at, "decrypt_kv: %s", error ? error : "failed");
    free (error);
    return out;
}

//  basename, dirname: Python's os.path
static json_t *
s_path (render_t *r, const node_t *at, json_t *v, bool base)
{
    char *text = template_str (v);
    if (!text)
        return template_fail (r, at, "out of memory");
    char *slash = strrchr (text, '/');
    json_t *out;
    if (base)
        out = json_string (slash ? slash + 1 : text);
    else if (!slash)
        out = json_string ("");
    else {
        char *end = slash;
        while (end > text && end[-1] == '/')
            end--;
        out = json_stringn (text, end > text ? (size_t)(end - text)
                                             : (size_t)(slash - text + 1));
    }
    free (text);
    return out;
}

static json_t *
f_basename (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_path (r, at, v, true);
}

static json_t *
f_dirname (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_path (r, at, v, false);
}

const template_filter_entry_t template_st2_filters[] = {
    {"to_json_string", f_to_json_string},
    {"tojson", f_tojson},
    {"json", f_json},
    {"to_complex", f_to_complex},
    {"json_escape", f_json_escape},
    {"from_json_string", f_from_json_string},
    {"to_yaml_string", f_to_yaml_string},
    {"regex_match", f_regex_match},
    {"regex_search", f_regex_search},
    {"regex_replace", f_regex_replace},
    {"regex_substring", f_regex_substring},
    {"use_none", f_use_none},
    {"decrypt_kv", f_decrypt_kv},
    {"basename", f_basename},
    {"dirname", f_dirname},
    {NULL, NULL}};
