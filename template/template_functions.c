/*  template_functions: the functions both languages have built in.

    Orquesta's own: json(s), zip(a, b, ..., pad=x). YAQL's standard ones
    that workflows use: len(x), str(x), int(x), float(x), bool(x),
    concat(s, ...), dict(pairs), random() / random(a, b), contains(c, v),
    containsKey(d, k), containsValue(d, v), keys(d), values(d), items(d),
    get(d, k[, default]), join(list, sep) (or join(sep, list)), and the
    two that take an expression evaluated per item with $ bound to it:
    select(list, expr) and where(list, expr). In YAQL each is a method
    too: `$.xs.len()`, `ctx().xs.select($.name)`. Any other name goes to
    the caller's hook (template_hooks_t.call). */
#include "template/template_ast.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

typedef json_t *(*function_fn) (render_t *r, const node_t *at, const targs_t *args);

typedef struct {
    const char *name;
    function_fn fn;
    size_t min, max;     //  positional arguments
    const char *keyword; //  the one keyword argument it takes, or NULL
} function_t;

//  YAQL's str(): null, true, false in its spelling; the rest as Python's.
static char *
s_str (const json_t *value)
{
    if (json_is_null (value))
        return strdup ("null");
    if (json_is_boolean (value))
        return strdup (json_is_true (value) ? "true" : "false");
    return template_str (value);
}

static json_t *
s_json (render_t *r, const node_t *at, const targs_t *args)
{
    json_t *s = args->values[0];
    if (json_is_object (s))
        return json_incref (s);
    if (!json_is_string (s))
        return template_fail (r, at, "json() takes a string, not %s",
                              template_type_name (s));
    json_error_t error;
    json_t *value = json_loadb (json_string_value (s), json_string_length (s),
                                JSON_DECODE_ANY, &error);
    if (!value)
        template_fail (r, at, "json(): not JSON (column %d: %s)", error.column,
                       error.text);
    return value;
}

static json_t *
s_zip (render_t *r, const node_t *at, const targs_t *args)
{
    json_t *pad = NULL, *first = NULL;
    size_t lists = 0, longest = 0;
    for (size_t i = 0; i < args->count; i++)
        if (args->keys[i])
            pad = args->values[i];
        else if (lists++ == 0)
            first = args->values[i];
    for (size_t i = 0; i < args->count; i++) {
        if (args->keys[i] || json_is_null (args->values[i]))
            continue;
        if (!json_is_array (args->values[i]))
            return template_fail (r, at, "zip() takes lists, not %s",
                                  template_type_name (args->values[i]));
        size_t n = json_array_size (args->values[i]);
        longest = n > longest ? n : longest;
    }
    if (lists == 1) //  one list: itself, as Orquesta's
        return json_is_null (first) ? json_array () : json_incref (first);
    json_t *out = json_array ();
    for (size_t k = 0; out && k < longest; k++) {
        if (++r->iterations > TEMPLATE_MAX_ITERATIONS) {
            json_decref (out);
            return template_fail (r, at, "more than %d loop iterations or items",
                                  TEMPLATE_MAX_ITERATIONS);
        }
        json_t *tuple = json_array ();
        for (size_t i = 0; i < args->count; i++) {
            if (args->keys[i])
                continue;
            json_t *item = json_array_get (args->values[i], k);
            json_array_append (tuple, item ? item : pad ? pad : json_null ());
        }
        json_array_append_new (out, tuple);
    }
    return out;
}

static json_t *
s_len (render_t *r, const node_t *at, const targs_t *args)
{
    json_t *x = args->values[0];
    if (json_is_array (x))
        return json_integer ((json_int_t)json_array_size (x));
    if (json_is_object (x))
        return json_integer ((json_int_t)json_object_size (x));
    if (!json_is_string (x))
        return template_fail (r, at, "len() of %s", template_type_name (x));
    json_int_t n = 0;
    for (const char *s = json_string_value (x); *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return json_integer (n);
}

static json_t *
s_to_str (render_t *r, const node_t *at, const targs_t *args)
{
    return template_string_result (r, at, s_str (args->values[0]));
}

//  int(x) and float(x): null is 0, as YAQL's.
static json_t *
s_number (render_t *r, const node_t *at, json_t *x, bool real)
{
    double d = 0;
    if (json_is_null (x) || json_is_boolean (x))
        d = json_is_true (x);
    else if (json_is_integer (x) && !real)
        return json_incref (x);
    else if (json_is_number (x))
        d = json_number_value (x);
    else if (json_is_string (x)) {
        const char *s = json_string_value (x);
        char *end = NULL;
        long long i = real ? 0 : strtoll (s, &end, 10);
        if (!real && end != s && *end == 0)
            return json_integer (i);
        d = strtod (s, &end);
        if (end == s || *end || !real)
            return template_fail (r, at, "%s(): not a number: '%.60s'",
                                  real ? "float" : "int", s);
    } else
        return template_fail (r, at, "%s() of %s", real ? "float" : "int",
                              template_type_name (x));
    if (real)
        return json_real (d);
    if (!isfinite (d) || d >= 9.2e18 || d <= -9.2e18)
        return template_fail (r, at, "int(): out of range");
    return json_integer ((json_int_t)d);
}

static json_t *
s_int (render_t *r, const node_t *at, const targs_t *args)
{
    return s_number (r, at, args->values[0], false);
}

static json_t *
s_float (render_t *r, const node_t *at, const targs_t *args)
{
    return s_number (r, at, args->values[0], true);
}

static json_t *
s_bool (render_t *r, const node_t *at, const targs_t *args)
{
    (void)r, (void)at;
    return json_boolean (template_truthy (args->values[0]));
}

//  Strings end to end, at most TEMPLATE_MAX_OUTPUT bytes. `sep` between.
static json_t *
s_joined (render_t *r, const node_t *at, json_t *const *items, size_t count,
          const char *sep)
{
    tbuf_t b = {NULL, 0, 0};
    int rc = template_buf_add (r, at, &b, "", 0);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        char *text = s_str (items[i]);
        rc = text ? 0 : -1;
        if (rc == 0 && i && sep)
            rc = template_buf_add (r, at, &b, sep, strlen (sep));
        if (rc == 0)
            rc = template_buf_add (r, at, &b, text, strlen (text));
        free (text);
    }
    json_t *out = rc == 0 ? json_stringn (b.data, b.used) : NULL;
    free (b.data);
    return out ? out : template_fail (r, at, "out of memory");
}

static json_t *
s_concat (render_t *r, const node_t *at, const targs_t *args)
{
    for (size_t i = 0; i < args->count; i++)
        if (!json_is_string (args->values[i]))
            return template_fail (r, at, "concat() takes strings, not %s",
                                  template_type_name (args->values[i]));
    return s_joined (r, at, args->values, args->count, NULL);
}

static json_t *
s_join (render_t *r, const node_t *at, const targs_t *args)
{
    json_t *list = args->values[0], *sep = args->values[1];
    if (json_is_string (list) && json_is_array (sep)) { //  join(sep, list)
        json_t *swap = list;
        list = sep;
        sep = swap;
    }
    if (!json_is_array (list) || !json_is_string (sep))
        return template_fail (r, at, "join() takes a list and a separator");
    json_t **items = (json_t **)calloc (json_array_size (list) + 1, sizeof *items);
    if (!items)
        return template_fail (r, at, "out of memory");
    for (size_t i = 0; i < json_array_size (list); i++)
        items[i] = json_array_get (list, i);
    json_t *out =
        s_joined (r, at, items, json_array_size (list), json_string_value (sep));
    free (items);
    return out;
}

//  dict([[k, v], ...]) and dict(k=v, ...) (YAQL's dict(k => v) is a literal).
static json_t *
s_dict (render_t *r, const node_t *at, const targs_t *args)
{
    json_t *out = json_object ();
    for (size_t i = 0; out && i < args->count; i++) {
        json_t *v = args->values[i];
        if (args->keys[i]) {
            json_object_set (out, args->keys[i], v);
            continue;
        }
        for (size_t k = 0; json_is_array (v) && k < json_array_size (v); k++) {
            json_t *pair = json_array_get (v, k);
            json_t *key = json_array_get (pair, 0);
            if (!json_is_array (pair) || json_array_size (pair) != 2 ||
                !json_is_string (key)) {
                json_decref (out);
                return template_fail (r, at, "dict() takes [key, value] pairs");
            }
            json_object_set (out, json_string_value (key), json_array_get (pair, 1));
        }
        if (!json_is_array (v)) {
            json_decref (out);
            return template_fail (r, at, "dict() takes a list of pairs, not %s",
                                  template_type_name (v));
        }
    }
    return out;
}

static json_t *
s_random (render_t *r, const node_t *at, const targs_t *args)
{
    uint64_t bits = 0;
    if (getrandom (&bits, sizeof bits, 0) != (ssize_t)sizeof bits)
        return template_fail (r, at, "random(): no random source");
    if (args->count == 0)
        return json_real ((double)(bits >> 11) / 9007199254740992.0);
    json_t *a = args->values[0], *b = args->count > 1 ? args->values[1] : NULL;
    if (!b || !json_is_integer (a) || !json_is_integer (b) ||
        json_integer_value (a) > json_integer_value (b))
        return template_fail (r, at, "random() takes no argument, or integers from, to");
    uint64_t span =
        (uint64_t)json_integer_value (b) - (uint64_t)json_integer_value (a) + 1;
    return json_integer (
        (json_int_t)((uint64_t)json_integer_value (a) + (span ? bits % span : bits)));
}

//  contains(collection, value), containsKey(dict, key), containsValue(dict, value)
static json_t *
s_contains (render_t *r, const node_t *at, const targs_t *args)
{
    const char *name = at->kids[0]->name;
    json_t *c = args->values[0], *v = args->values[1];
    if (strcmp (name, "contains") && !json_is_object (c))
        return template_fail (r, at, "%s() takes a dict, not %s", name,
                              template_type_name (c));
    if (!strcmp (name, "containsValue")) {
        const char *key;
        json_t *item;
        json_object_foreach (c, key, item)
        {
            if (template_equal (item, v))
                return json_true ();
        }
        return json_false ();
    }
    int rc = template_contains (r, at, c, v);
    return rc < 0 ? NULL : json_boolean (rc);
}

//  keys(d), values(d), items(d)
static json_t *
s_dict_view (render_t *r, const node_t *at, const targs_t *args)
{
    const char *name = at->kids[0]->name;
    json_t *d = args->values[0];
    if (!json_is_object (d))
        return template_fail (r, at, "%s() takes a dict, not %s", name,
                              template_type_name (d));
    json_t *list = json_array ();
    const char *key;
    json_t *item;
    json_object_foreach (d, key, item)
    {
        if (!strcmp (name, "keys"))
            json_array_append_new (list, json_string (key));
        else if (!strcmp (name, "values"))
            json_array_append (list, item);
        else
            json_array_append_new (list, json_pack ("[sO]", key, item));
    }
    return list;
}

static json_t *
s_get (render_t *r, const node_t *at, const targs_t *args)
{
    json_t *d = args->values[0], *key = args->values[1];
    json_t *fallback = template_arg (args, 2, "default");
    if (!json_is_object (d))
        return template_fail (r, at, "get() takes a dict, not %s",
                              template_type_name (d));
    json_t *found =
        json_is_string (key) ? json_object_get (d, json_string_value (key)) : NULL;
    return json_incref (found ? found : fallback ? fallback : json_null ());
}

static const function_t s_functions[] = {{"json", s_json, 1, 1, NULL},
                                         {"zip", s_zip, 0, 64, "pad"},
                                         {"len", s_len, 1, 1, NULL},
                                         {"str", s_to_str, 1, 1, NULL},
                                         {"int", s_int, 1, 1, NULL},
                                         {"float", s_float, 1, 1, NULL},
                                         {"bool", s_bool, 1, 1, NULL},
                                         {"concat", s_concat, 0, 64, NULL},
                                         {"join", s_join, 2, 2, NULL},
                                         {"dict", s_dict, 0, 64, "*"},
                                         {"random", s_random, 0, 2, NULL},
                                         {"contains", s_contains, 2, 2, NULL},
                                         {"containsKey", s_contains, 2, 2, NULL},
                                         {"containsValue", s_contains, 2, 2, NULL},
                                         {"keys", s_dict_view, 1, 1, NULL},
                                         {"values", s_dict_view, 1, 1, NULL},
                                         {"items", s_dict_view, 1, 1, NULL},
                                         {"get", s_get, 2, 3, "default"},
                                         {NULL, NULL, 0, 0, NULL}};

//  select(list, expr) / where(list, expr): expr per item, $ the item.
static json_t *
s_query (render_t *r, const node_t *node, bool select)
{
    const char *name = select ? "select" : "where";
    if (node->count != 3 || node->keys[1] || node->keys[2])
        return template_fail (r, node, "%s() takes a list and an expression", name);
    json_t *list = template_eval (r, node->kids[1]);
    if (list == r->undefined) {
        json_decref (list);
        return template_fail_undefined (r, node->kids[1]);
    }
    json_t *items = list ? template_items (r, node->kids[1], list) : NULL;
    json_decref (list);
    json_t *out = items ? json_array () : NULL;
    for (size_t i = 0; out && i < json_array_size (items) && !r->error; i++) {
        json_t *item = json_array_get (items, i);
        if (++r->iterations > TEMPLATE_MAX_ITERATIONS ||
            r->scope_count >= TEMPLATE_SCOPES) {
            template_fail (r, node, "%s(): more than %d items, or nested too deeply",
                           name, TEMPLATE_MAX_ITERATIONS);
            break;
        }
        r->scopes[r->scope_count++] = json_pack ("{sO}", "$", item);
        json_t *v = template_eval (r, node->kids[2]);
        json_decref (r->scopes[--r->scope_count]);
        if (v == r->undefined)
            template_fail_undefined (r, node->kids[2]);
        else if (v && select)
            json_array_append (out, v);
        else if (v && template_truthy (v))
            json_array_append (out, item);
        json_decref (v);
    }
    json_decref (items);
    if (r->error)
        json_decref (out);
    return r->error ? NULL : out;
}

//  The arguments fit `f`: counts, keywords, none undefined. 0 or -1.
static int
s_check (render_t *r, const node_t *node, const function_t *f, const targs_t *args)
{
    size_t positional = 0;
    for (size_t i = 0; i < args->count; i++) {
        if (args->values[i] == r->undefined) {
            template_fail_undefined (r, node->kids[i + 1]);
            return -1;
        }
        if (!args->keys[i])
            positional++;
        else if (!f->keyword ||
                 (strcmp (f->keyword, "*") && strcmp (f->keyword, args->keys[i]))) {
            template_fail (r, node, "%s() takes no keyword argument '%s'", f->name,
                           args->keys[i]);
            return -1;
        }
    }
    if (positional < f->min || positional > f->max) {
        if (f->min == f->max)
            template_fail (r, node, "%s() takes %zu argument%s, not %zu", f->name, f->min,
                           f->min == 1 ? "" : "s", positional);
        else
            template_fail (r, node, "%s() takes %zu to %zu arguments, not %zu", f->name,
                           f->min, f->max, positional);
        return -1;
    }
    return 0;
}

json_t *
template_function (render_t *r, const node_t *node, const char *name, bool *known)
{
    *known = true;
    if (!strcmp (name, "select") || !strcmp (name, "where"))
        return s_query (r, node, name[0] == 's');
    const function_t *f = s_functions;
    while (f->name && strcmp (f->name, name))
        f++;
    if (!f->name) {
        *known = false;
        return NULL;
    }
    targs_t args = {NULL, NULL, 0};
    json_t *result = NULL;
    if (template_arguments (r, node, 1, &args) == 0 && s_check (r, node, f, &args) == 0)
        result = f->fn (r, node, &args);
    template_arguments_free (&args);
    return result;
}
