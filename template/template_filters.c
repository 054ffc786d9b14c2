/*  template_filters: Jinja's common filters and StackStorm's own. The
    table at the end lists them; each takes the value (possibly the
    undefined sentinel for those that accept it) and evaluated arguments. */
#include "template/template_ast.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The argument as a bool (absent: `fallback`).
static bool
s_flag (const targs_t *a, size_t index, const char *key, bool fallback)
{
    json_t *v = template_arg (a, index, key);
    return v ? template_truthy (v) : fallback;
}

//  The argument as a string (absent or not a string: NULL).
static const char *
s_string_arg (const targs_t *a, size_t index, const char *key)
{
    json_t *v = template_arg (a, index, key);
    return json_is_string (v) ? json_string_value (v) : NULL;
}

json_t *
template_string_result (render_t *r, const node_t *at, char *text)
{
    if (!text)
        return template_fail (r, at, "out of memory");
    if (strlen (text) > TEMPLATE_MAX_OUTPUT) {
        free (text);
        return template_fail (r, at, "string longer than %d bytes", TEMPLATE_MAX_OUTPUT);
    }
    json_t *result = json_string (text);
    free (text);
    return result ? result : template_fail (r, at, "result is not valid UTF-8");
}

//  A value's text for the string filters.
static char *
s_text (const json_t *v)
{
    return template_str (v);
}

//  An item's attribute by a dotted path ("a.b", "0"): borrowed or NULL.
json_t *
template_attribute (json_t *item, const char *path)
{
    char key[256];
    while (item && *path) {
        size_t n = strcspn (path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy (key, path, n);
        key[n] = 0;
        if (json_is_object (item))
            item = json_object_get (item, key);
        else if (json_is_array (item) && isdigit ((unsigned char)key[0]))
            item = json_array_get (item, (size_t)atoll (key));
        else
            item = NULL;
        path += n + (path[n] == '.');
    }
    return item;
}

//  default(value='', boolean=false)
static json_t *
f_default (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    json_t *fallback = template_arg (a, 0, "default_value");
    bool boolean = s_flag (a, 1, "boolean", false);
    if (v == r->undefined || (boolean && !template_truthy (v)))
        return fallback ? json_incref (fallback) : json_string ("");
    return json_incref (v);
}

static json_t *
f_length (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    if (json_is_object (v))
        return json_integer ((json_int_t)json_object_size (v));
    json_t *items = template_items (r, at, v);
    json_t *n = items ? json_integer ((json_int_t)json_array_size (items)) : NULL;
    json_decref (items);
    return n;
}

//  lower, upper, capitalize, title (ASCII letters; others kept)
static json_t *
s_case (render_t *r, const node_t *at, json_t *v, char how)
{
    char *text = s_text (v);
    bool start = true;
    for (char *p = text; p && *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool up = how == 'U' || (how == 'C' && p == text) || (how == 'T' && start);
        *p = (char)(up ? toupper (c) : tolower (c));
        start = !isalnum (c) && c < 0x80;
    }
    return template_string_result (r, at, text);
}

static json_t *
f_lower (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_case (r, at, v, 'L');
}

static json_t *
f_upper (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_case (r, at, v, 'U');
}

static json_t *
f_capitalize (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_case (r, at, v, 'C');
}

static json_t *
f_title (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_case (r, at, v, 'T');
}

//  trim(chars=whitespace)
static json_t *
f_trim (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    const char *chars = s_string_arg (a, 0, "chars");
    char *text = s_text (v);
    if (!text)
        return template_fail (r, at, "out of memory");
    char *from = text;
    size_t n = strlen (text);
    while (*from &&
           (chars ? strchr (chars, *from) != NULL : isspace ((unsigned char)*from)))
        from++, n--;
    while (n && (chars ? strchr (chars, from[n - 1]) != NULL
                       : isspace ((unsigned char)from[n - 1])))
        n--;
    from[n] = 0;
    json_t *result = json_string (from);
    free (text);
    return result;
}

//  replace(old, new, count=None)
static json_t *
f_replace (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    const char *old = s_string_arg (a, 0, "old"), *new = s_string_arg (a, 1, "new");
    json_t *count_arg = template_arg (a, 2, "count");
    if (!old || !new)
        return template_fail (r, at, "replace(old, new[, count]) takes strings");
    long long count = json_is_integer (count_arg) ? json_integer_value (count_arg) : -1;
    char *text = s_text (v);
    size_t n = text ? strlen (text) : 0, on = strlen (old), nn = strlen (new);
    size_t cap = n + 1, used = 0;
    char *out = text ? (char *)malloc (cap) : NULL;
    const char *p = text;
    while (out && *p) {
        bool hit = count != 0 && (on ? strncmp (p, old, on) == 0 : true);
        const char *piece = hit ? new : p;
        size_t len = hit ? nn : 1;
        if (used + len + 2 > cap) {
            cap = (used + len + 2) * 2;
            char *grown =
                cap <= 2 * TEMPLATE_MAX_OUTPUT ? (char *)realloc (out, cap) : NULL;
            if (!grown) {
                free (out);
                out = NULL;
                break;
            }
            out = grown;
        }
        memcpy (out + used, piece, len);
        used += len;
        if (hit && count > 0)
            count--;
        if (hit && on)
            p += on;
        else if (hit) //  '' matches before every character
            out[used++] = *p++;
        else
            p++;
    }
    if (out)
        out[used] = 0;
    free (text);
    return out ? template_string_result (r, at, out)
               : template_fail (r, at, "replace: result longer than %d bytes",
                                TEMPLATE_MAX_OUTPUT);
}

//  join(d='', attribute=None)
static json_t *
f_join (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    const char *sep = s_string_arg (a, 0, "d");
    const char *attribute = s_string_arg (a, 1, "attribute");
    json_t *items = template_items (r, at, v);
    sep = sep ? sep : "";
    size_t used = 0, seplen = strlen (sep);
    char *out = items ? strdup ("") : NULL;
    for (size_t i = 0; out && i < json_array_size (items); i++) {
        json_t *item = json_array_get (items, i);
        item = attribute ? template_attribute (item, attribute) : item;
        char *text = item ? s_text (item) : strdup ("");
        size_t n = text ? strlen (text) : 0;
        char *grown = text && used + n + seplen < TEMPLATE_MAX_OUTPUT
                          ? (char *)realloc (out, used + n + seplen + 1)
                          : NULL;
        if (!grown) {
            free (out);
            out = NULL;
        } else {
            out = grown;
            memcpy (out + used, i ? sep : "", i ? seplen : 0);
            used += i ? seplen : 0;
            memcpy (out + used, text, n + 1);
            used += n;
        }
        free (text);
    }
    json_decref (items);
    if (!out && !r->error)
        return template_fail (r, at, "join: result longer than %d bytes",
                              TEMPLATE_MAX_OUTPUT);
    return out ? template_string_result (r, at, out) : NULL;
}

static json_t *
s_end (render_t *r, const node_t *at, json_t *v, bool last)
{
    json_t *items = template_items (r, at, v);
    size_t n = items ? json_array_size (items) : 0;
    json_t *item = n ? json_incref (json_array_get (items, last ? n - 1 : 0)) : NULL;
    json_decref (items);
    if (!items)
        return NULL;
    return item ? item : json_incref (r->undefined);
}

static json_t *
f_first (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_end (r, at, v, false);
}

static json_t *
f_last (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_end (r, at, v, true);
}

static json_t *
f_list (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    json_t *items = template_items (r, at, v);
    json_t *copy = items ? json_copy (items) : NULL;
    json_decref (items);
    return copy;
}

static json_t *
f_reverse (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    json_t *items = template_items (r, at, v);
    if (!items)
        return NULL;
    json_t *out = json_array ();
    for (size_t i = json_array_size (items); i > 0; i--)
        json_array_append (out, json_array_get (items, i - 1));
    json_decref (items);
    if (!json_is_string (v))
        return out;
    char *text = strdup ("");
    for (size_t i = 0; text && i < json_array_size (out); i++) {
        const char *c = json_string_value (json_array_get (out, i));
        size_t n = strlen (text);
        char *grown = (char *)realloc (text, n + strlen (c) + 1);
        if (grown)
            strcpy (grown + n, c);
        else
            free (text);
        text = grown;
    }
    json_decref (out);
    return template_string_result (r, at, text);
}

typedef struct {
    const char *attribute;
    bool case_sensitive;
    bool failed;
    const char *left, *right; //  the types that could not be ordered
} order_t;

static json_t *
s_key (const order_t *o, json_t *item)
{
    return o->attribute ? template_attribute (item, o->attribute) : item;
}

//  Order two items as sort(), min() and max() do. Sets o->failed.
static int
s_order (order_t *o, json_t *x, json_t *y)
{
    x = s_key (o, x);
    y = s_key (o, y);
    int order = 0;
    if (!x || !y)
        o->failed = true;
    else if (!o->case_sensitive && json_is_string (x) && json_is_string (y)) {
        int c = strcasecmp (json_string_value (x), json_string_value (y));
        order = c < 0 ? -1 : c > 0;
    } else if (template_compare (x, y, &order)) {
        o->failed = true;
        o->left = template_type_name (x);
        o->right = template_type_name (y);
    }
    return order;
}

//  Stable merge sort of items[0..n) using tmp.
static void
s_merge_sort (order_t *o, json_t **items, json_t **tmp, size_t n)
{
    if (n < 2 || o->failed)
        return;
    size_t half = n / 2;
    s_merge_sort (o, items, tmp, half);
    s_merge_sort (o, items + half, tmp, n - half);
    size_t i = 0, j = half, k = 0;
    while (i < half && j < n)
        tmp[k++] = s_order (o, items[j], items[i]) < 0 ? items[j++] : items[i++];
    while (i < half)
        tmp[k++] = items[i++];
    while (j < n)
        tmp[k++] = items[j++];
    memcpy (items, tmp, n * sizeof *items);
}

//  The items of `v` sorted (new list), or NULL with error.
static json_t *
s_sorted (render_t *r, const node_t *at, json_t *v, order_t *o, bool reverse)
{
    json_t *items = template_items (r, at, v);
    size_t n = items ? json_array_size (items) : 0;
    json_t **all = (json_t **)calloc (n + 1, sizeof *all);
    json_t **tmp = (json_t **)calloc (n + 1, sizeof *tmp);
    json_t *out = items && all && tmp ? json_array () : NULL;
    for (size_t i = 0; out && i < n; i++)
        all[i] = json_array_get (items, i);
    if (out)
        s_merge_sort (o, all, tmp, n);
    for (size_t i = 0; out && i < n; i++)
        json_array_append (out, all[reverse ? n - 1 - i : i]);
    free (all);
    free (tmp);
    json_decref (items);
    if (out && o->failed) {
        json_decref (out);
        return o->left ? template_fail (r, at, "cannot order '%s' and '%s'", o->left,
                                        o->right)
                       : template_fail (r, at, "an item lacks attribute '%s'",
                                        o->attribute ? o->attribute : "");
    }
    return out;
}

static json_t *
f_sort (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    order_t o = {s_string_arg (a, 2, "attribute"),
                 s_flag (a, 1, "case_sensitive", false)};
    return s_sorted (r, at, v, &o, s_flag (a, 0, "reverse", false));
}

static json_t *
s_extreme (render_t *r, const node_t *at, json_t *v, const targs_t *a, bool max)
{
    order_t o = {s_string_arg (a, 1, "attribute"),
                 s_flag (a, 0, "case_sensitive", false)};
    json_t *sorted = s_sorted (r, at, v, &o, false);
    size_t n = sorted ? json_array_size (sorted) : 0;
    json_t *item = n ? json_incref (json_array_get (sorted, max ? n - 1 : 0)) : NULL;
    json_decref (sorted);
    if (sorted && !item)
        return json_incref (r->undefined);
    return item;
}

static json_t *
f_min (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_extreme (r, at, v, a, false);
}

static json_t *
f_max (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_extreme (r, at, v, a, true);
}

//  unique(case_sensitive=false, attribute=None): first occurrences kept.
static json_t *
f_unique (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    order_t o = {s_string_arg (a, 1, "attribute"),
                 s_flag (a, 0, "case_sensitive", false)};
    json_t *items = template_items (r, at, v);
    json_t *out = items ? json_array () : NULL;
    for (size_t i = 0; out && i < json_array_size (items); i++) {
        json_t *item = json_array_get (items, i);
        bool seen = false;
        for (size_t j = 0; !seen && j < json_array_size (out); j++) {
            json_t *x = s_key (&o, item), *y = s_key (&o, json_array_get (out, j));
            seen = x && y &&
                   (!o.case_sensitive && json_is_string (x) && json_is_string (y)
                        ? strcasecmp (json_string_value (x), json_string_value (y)) == 0
                        : template_equal (x, y));
        }
        if (!seen)
            json_array_append (out, item);
        if (s_key (&o, item) && ++r->iterations > TEMPLATE_MAX_ITERATIONS)
            break;
    }
    json_decref (items);
    return out;
}

//  sum(attribute=None, start=0)
static json_t *
f_sum (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    const char *attribute = s_string_arg (a, 0, "attribute");
    json_t *start = template_arg (a, 1, "start");
    json_t *total = start ? json_incref (start) : json_integer (0);
    json_t *items = template_items (r, at, v);
    for (size_t i = 0; items && total && i < json_array_size (items); i++) {
        json_t *item = json_array_get (items, i);
        item = attribute ? template_attribute (item, attribute) : item;
        json_t *next = item ? template_arith (r, at, "+", total, item)
                            : template_fail (r, at, "an item lacks '%s'", attribute);
        json_decref (total);
        total = next;
    }
    if (!items) {
        json_decref (total);
        return NULL;
    }
    json_decref (items);
    return total;
}

static json_t *
f_abs (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    if (json_is_integer (v))
        return json_integer (llabs (json_integer_value (v)));
    if (json_is_real (v))
        return json_real (fabs (json_real_value (v)));
    return template_fail (r, at, "bad operand type for abs(): '%s'",
                          template_type_name (v));
}

//  round(precision=0, method='common'|'ceil'|'floor'): a float
static json_t *
f_round (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    json_t *precision = template_arg (a, 0, "precision");
    const char *method = s_string_arg (a, 1, "method");
    if (!json_is_number (v))
        return template_fail (r, at, "round expects a number, got '%s'",
                              template_type_name (v));
    double scale =
        pow (10, json_is_integer (precision) ? json_integer_value (precision) : 0);
    double x = json_number_value (v) * scale;
    x = !method || !strcmp (method, "common") ? round (x)
        : !strcmp (method, "ceil")            ? ceil (x)
        : !strcmp (method, "floor")           ? floor (x)
                                              : NAN;
    if (isnan (x))
        return template_fail (r, at, "round: method must be common, ceil or floor");
    return json_real (x / scale);
}

//  A number from a string as Python's int()/float() read it. false if not.
static bool
s_parse_number (const char *s, int base, bool integer, double *d, long long *i)
{
    char *end;
    errno = 0;
    if (integer) {
        *i = strtoll (s, &end, base);
        if (end != s && !errno) {
            while (isspace ((unsigned char)*end))
                end++;
            if (!*end)
                return true;
        }
    }
    errno = 0;
    *d = strtod (s, &end);
    while (end != s && isspace ((unsigned char)*end))
        end++;
    if (end == s || *end || errno || !isfinite (*d))
        return false;
    *i = (*d >= 9.2e18 || *d <= -9.2e18) ? 0 : (long long)*d;
    return !integer || (*d < 9.2e18 && *d > -9.2e18);
}

//  int(default=0, base=10), float(default=0.0): the default when not a number
static json_t *
s_number (render_t *r, const node_t *at, json_t *v, const targs_t *a, bool integer)
{
    json_t *fallback = template_arg (a, 0, "default");
    json_t *base = template_arg (a, 1, "base");
    double d = 0;
    long long i = 0;
    bool ok = true;
    if (json_is_number (v) || json_is_boolean (v)) {
        d = json_is_boolean (v) ? json_is_true (v) : json_number_value (v);
        i = json_is_integer (v) ? json_integer_value (v) : (long long)d;
    } else if (json_is_string (v))
        ok = s_parse_number (json_string_value (v),
                             json_is_integer (base) ? (int)json_integer_value (base) : 10,
                             integer, &d, &i);
    else
        ok = false;
    if (!ok)
        return fallback  ? json_incref (fallback)
               : integer ? json_integer (0)
                         : json_real (0.0);
    if (integer)
        return json_integer (json_is_string (v) || json_is_integer (v) ? i
                                                                       : (long long)d);
    return json_real (json_is_integer (v) ? (double)json_integer_value (v) : d);
}

static json_t *
f_int (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_number (r, at, v, a, true);
}

static json_t *
f_float (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_number (r, at, v, a, false);
}

static json_t *
f_string (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return template_string_result (r, at, s_text (v));
}

//  bool (attune's): true/yes/on/1 and false/no/off/0/'' as well as truth
static json_t *
f_bool (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    if (!json_is_string (v))
        return json_boolean (template_truthy (v));
    const char *s = json_string_value (v);
    const char *yes[] = {"true", "yes", "on", "1", "y", NULL};
    for (const char **y = yes; *y; y++)
        if (!strcasecmp (s, *y))
            return json_true ();
    return json_false ();
}

//  map(attribute='x', default=None) or map('filter', args...)
static json_t *
f_map (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    const char *attribute = s_string_arg (a, SIZE_MAX, "attribute");
    const char *filter = attribute ? NULL : s_string_arg (a, 0, NULL);
    json_t *fallback = template_arg (a, SIZE_MAX, "default");
    if (!attribute && !filter)
        return template_fail (r, at, "map needs attribute='...' or a filter name");
    targs_t rest = {a->values + 1, a->keys + 1, a->count ? a->count - 1 : 0};
    json_t *items = template_items (r, at, v);
    json_t *out = items ? json_array () : NULL;
    for (size_t i = 0; out && i < json_array_size (items); i++) {
        json_t *item = json_array_get (items, i), *mapped = NULL;
        if (attribute) {
            json_t *found = template_attribute (item, attribute);
            mapped = json_incref (found ? found : fallback ? fallback : r->undefined);
        } else
            mapped = template_filter (r, at, filter, item, &rest);
        if (!mapped) {
            json_decref (out);
            out = NULL;
        } else
            json_array_append_new (out, mapped);
    }
    json_decref (items);
    return out;
}

//  select/reject(test, args...), selectattr/rejectattr(attr, test, args...)
static json_t *
s_select (render_t *r, const node_t *at, json_t *v, const targs_t *a, bool keep,
          bool attr)
{
    const char *attribute = attr ? s_string_arg (a, 0, NULL) : NULL;
    const char *test = s_string_arg (a, attr ? 1 : 0, NULL);
    size_t skip = (attr ? 1 : 0) + (test ? 1 : 0);
    if (attr && !attribute)
        return template_fail (r, at, "selectattr/rejectattr need an attribute name");
    targs_t rest = {a->values + skip, a->keys + skip,
                    a->count > skip ? a->count - skip : 0};
    json_t *items = template_items (r, at, v);
    json_t *out = items ? json_array () : NULL;
    for (size_t i = 0; out && i < json_array_size (items); i++) {
        json_t *item = json_array_get (items, i);
        json_t *subject = attribute ? template_attribute (item, attribute) : item;
        int rc = !subject ? (test ? template_test (r, at, test, r->undefined, &rest) : 0)
                 : test   ? template_test (r, at, test, subject, &rest)
                          : template_truthy (subject);
        if (rc < 0) {
            json_decref (out);
            out = NULL;
        } else if ((rc == 1) == keep)
            json_array_append (out, item);
    }
    json_decref (items);
    return out;
}

static json_t *
f_select (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_select (r, at, v, a, true, false);
}

static json_t *
f_reject (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_select (r, at, v, a, false, false);
}

static json_t *
f_selectattr (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_select (r, at, v, a, true, true);
}

static json_t *
f_rejectattr (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_select (r, at, v, a, false, true);
}

//  dict2items (key_name='key', value_name='value'); items: [[k, v], ...]
static json_t *
s_pairs (render_t *r, const node_t *at, json_t *v, const targs_t *a, bool dicts)
{
    if (!json_is_object (v))
        return template_fail (r, at, "expects a dict, got '%s'", template_type_name (v));
    const char *kn = s_string_arg (a, 0, "key_name"),
               *vn = s_string_arg (a, 1, "value_name");
    json_t *out = json_array ();
    const char *key;
    json_t *item;
    json_object_foreach (v, key, item)
    {
        json_array_append_new (out,
                               dicts ? json_pack ("{ssso}", kn ? kn : "key", key,
                                                  vn ? vn : "value", json_incref (item))
                                     : json_pack ("[sO]", key, item));
    }
    return out;
}

static json_t *
f_dict2items (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_pairs (r, at, v, a, true);
}

static json_t *
f_items (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_pairs (r, at, v, a, false);
}

//  escape/e: HTML's & < > " '
static json_t *
f_escape (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    char *text = s_text (v);
    size_t n = text ? strlen (text) : 0;
    char *out = text ? (char *)malloc (n * 5 + 1) : NULL;
    size_t used = 0;
    for (size_t i = 0; out && i < n; i++) {
        const char *rep = text[i] == '&'    ? "&amp;"
                          : text[i] == '<'  ? "&lt;"
                          : text[i] == '>'  ? "&gt;"
                          : text[i] == '"'  ? "&#34;"
                          : text[i] == '\'' ? "&#39;"
                                            : NULL;
        if (rep) {
            memcpy (out + used, rep, strlen (rep));
            used += strlen (rep);
        } else
            out[used++] = text[i];
    }
    if (out)
        out[used] = 0;
    free (text);
    return template_string_result (r, at, out);
}

static const template_filter_entry_t s_filters[] = {{"default", f_default, true},
                                                    {"d", f_default, true},
                                                    {"length", f_length},
                                                    {"count", f_length},
                                                    {"lower", f_lower},
                                                    {"upper", f_upper},
                                                    {"capitalize", f_capitalize},
                                                    {"title", f_title},
                                                    {"trim", f_trim},
                                                    {"replace", f_replace},
                                                    {"join", f_join},
                                                    {"first", f_first},
                                                    {"last", f_last},
                                                    {"list", f_list},
                                                    {"reverse", f_reverse},
                                                    {"sort", f_sort},
                                                    {"unique", f_unique},
                                                    {"min", f_min},
                                                    {"max", f_max},
                                                    {"sum", f_sum},
                                                    {"abs", f_abs},
                                                    {"round", f_round},
                                                    {"int", f_int},
                                                    {"float", f_float},
                                                    {"string", f_string},
                                                    {"bool", f_bool},
                                                    {"map", f_map},
                                                    {"select", f_select},
                                                    {"reject", f_reject},
                                                    {"selectattr", f_selectattr},
                                                    {"rejectattr", f_rejectattr},
                                                    {"dict2items", f_dict2items},
                                                    {"items", f_items},
                                                    {"escape", f_escape},
                                                    {"e", f_escape},
                                                    {NULL, NULL}};

static const template_filter_entry_t *
s_find (const char *name)
{
    for (const template_filter_entry_t *f = s_filters; f->name; f++)
        if (strcmp (f->name, name) == 0)
            return f;
    for (const template_filter_entry_t *f = template_st2_filters; f->name; f++)
        if (strcmp (f->name, name) == 0)
            return f;
    for (const template_filter_entry_t *f = template_version_filters; f->name; f++)
        if (strcmp (f->name, name) == 0)
            return f;
    return NULL;
}

bool
template_filter_known (const char *name)
{
    return s_find (name) != NULL;
}

json_t *
template_filter (render_t *r, const node_t *at, const char *name, json_t *value,
                 const targs_t *args)
{
    const template_filter_entry_t *f = s_find (name);
    if (!f)
        return template_fail (r, at, "unknown filter '%s'", name);
    if (value == r->undefined && !f->undefined_ok)
        return template_fail_undefined (r, at->kids[0]);
    json_t *result = f->fn (r, at, value, args);
    if (!result && !r->error)
        template_fail (r, at, "filter '%s' failed (out of memory)", name);
    return result;
}
