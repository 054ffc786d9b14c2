/*  template_value: Python's meaning of JSON values (truth, str, repr,
    ==, ordering, arithmetic, in, iteration). */
#include "template/template_ast.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
template_type_name (const json_t *value)
{
    switch (json_typeof (value)) {
        case JSON_OBJECT:
            return "dict";
        case JSON_ARRAY:
            return "list";
        case JSON_STRING:
            return "str";
        case JSON_INTEGER:
            return "int";
        case JSON_REAL:
            return "float";
        case JSON_TRUE:
        case JSON_FALSE:
            return "bool";
        default:
            return "NoneType";
    }
}

bool
template_truthy (const json_t *value)
{
    switch (json_typeof (value)) {
        case JSON_OBJECT:
            return json_object_size (value) > 0;
        case JSON_ARRAY:
            return json_array_size (value) > 0;
        case JSON_STRING:
            return json_string_length (value) > 0;
        case JSON_INTEGER:
            return json_integer_value (value) != 0;
        case JSON_REAL:
            return json_real_value (value) != 0;
        case JSON_TRUE:
            return true;
        default:
            return false;
    }
}

void
template_format_real (double d, char *buf, size_t size)
{
    if (isnan (d) || isinf (d)) {
        snprintf (buf, size, "%s", isnan (d) ? "nan" : d < 0 ? "-inf" : "inf");
        return;
    }
    char sci[64];
    int precision = 1;
    for (; precision < 17; precision++) {
        snprintf (sci, sizeof sci, "%.*e", precision - 1, d);
        if (strtod (sci, NULL) == d)
            break;
    }
    snprintf (sci, sizeof sci, "%.*e", precision - 1, d);
    int exponent = atoi (strchr (sci, 'e') + 1);
    if (exponent >= -4 && exponent < 16) {
        int decimals = precision - 1 - exponent;
        snprintf (buf, size, "%.*f", decimals > 0 ? decimals : 0, d);
        if (!strchr (buf, '.'))
            strncat (buf, ".0", size - strlen (buf) - 1);
        return;
    }
    char *e = strchr (sci, 'e');
    *e = 0;
    if (strchr (sci, '.')) { //  1.50 -> 1.5, 1.0 -> 1
        char *end = e - 1;
        while (*end == '0')
            *end-- = 0;
        if (*end == '.')
            *end = 0;
    }
    snprintf (buf, size, "%se%c%02d", sci, exponent < 0 ? '-' : '+', abs (exponent));
}

typedef struct {
    char *data;
    size_t used, cap;
    bool failed;
} sbuf_t;

static void
s_add (sbuf_t *b, const char *text, size_t n)
{
    if (b->failed)
        return;
    if (b->used + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        while (cap < b->used + n + 1)
            cap *= 2;
        char *grown =
            cap <= 4 * TEMPLATE_MAX_OUTPUT ? (char *)realloc (b->data, cap) : NULL;
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
s_adds (sbuf_t *b, const char *text)
{
    s_add (b, text, strlen (text));
}

//  Python's repr of a str: '...' (or "..." when it holds ' and no ").
static void
s_repr_string (sbuf_t *b, const char *s)
{
    char quote = strchr (s, '\'') && !strchr (s, '"') ? '"' : '\'';
    s_add (b, &quote, 1);
    for (; *s; s++) {
        char esc[8] = "";
        if (*s == quote || *s == '\\')
            snprintf (esc, sizeof esc, "\\%c", *s);
        else if (*s == '\n' || *s == '\t' || *s == '\r')
            snprintf (esc, sizeof esc, "\\%c", *s == '\n' ? 'n' : *s == '\t' ? 't' : 'r');
        else if ((unsigned char)*s < 0x20 || *s == 0x7f)
            snprintf (esc, sizeof esc, "\\x%02x", (unsigned char)*s);
        if (*esc)
            s_adds (b, esc);
        else
            s_add (b, s, 1);
    }
    s_add (b, &quote, 1);
}

static void
s_repr (sbuf_t *b, const json_t *value, bool top, int depth)
{
    char number[64];
    if (depth > TEMPLATE_MAX_DEPTH) {
        s_adds (b, "...");
        return;
    }
    switch (json_typeof (value)) {
        case JSON_STRING:
            if (top)
                s_add (b, json_string_value (value), json_string_length (value));
            else
                s_repr_string (b, json_string_value (value));
            break;
        case JSON_INTEGER:
            snprintf (number, sizeof number, "%" JSON_INTEGER_FORMAT,
                      json_integer_value (value));
            s_adds (b, number);
            break;
        case JSON_REAL:
            template_format_real (json_real_value (value), number, sizeof number);
            s_adds (b, number);
            break;
        case JSON_TRUE:
            s_adds (b, "True");
            break;
        case JSON_FALSE:
            s_adds (b, "False");
            break;
        case JSON_NULL:
            s_adds (b, "None");
            break;
        case JSON_ARRAY: {
            s_adds (b, "[");
            for (size_t i = 0; i < json_array_size (value); i++) {
                s_adds (b, i ? ", " : "");
                s_repr (b, json_array_get (value, i), false, depth + 1);
            }
            s_adds (b, "]");
            break;
        }
        case JSON_OBJECT: {
            const char *key;
            json_t *item;
            bool first = true;
            s_adds (b, "{");
            json_object_foreach ((json_t *)value, key, item)
            {
                s_adds (b, first ? "" : ", ");
                s_repr_string (b, key);
                s_adds (b, ": ");
                s_repr (b, item, false, depth + 1);
                first = false;
            }
            s_adds (b, "}");
            break;
        }
    }
}

char *
template_str (const json_t *value)
{
    sbuf_t b = {NULL, 0, 0, false};
    s_add (&b, "", 0);
    s_repr (&b, value, true, 0);
    if (b.failed) {
        free (b.data);
        return NULL;
    }
    return b.data;
}

char *
template_repr (const json_t *value)
{
    sbuf_t b = {NULL, 0, 0, false};
    s_add (&b, "", 0);
    s_repr (&b, value, false, 0);
    if (b.failed) {
        free (b.data);
        return NULL;
    }
    return b.data;
}

static bool
s_numeric (const json_t *v)
{
    return json_is_number (v) || json_is_boolean (v);
}

static double
s_number (const json_t *v)
{
    return json_is_boolean (v) ? (json_is_true (v) ? 1 : 0) : json_number_value (v);
}

static json_int_t
s_integer (const json_t *v)
{
    return json_is_boolean (v) ? (json_is_true (v) ? 1 : 0) : json_integer_value (v);
}

bool
template_equal (const json_t *a, const json_t *b)
{
    if (s_numeric (a) && s_numeric (b)) {
        if (json_is_integer (a) && json_is_integer (b))
            return json_integer_value (a) == json_integer_value (b);
        return s_number (a) == s_number (b);
    }
    if (json_typeof (a) != json_typeof (b))
        return false;
    if (json_is_array (a)) {
        if (json_array_size (a) != json_array_size (b))
            return false;
        for (size_t i = 0; i < json_array_size (a); i++)
            if (!template_equal (json_array_get (a, i), json_array_get (b, i)))
                return false;
        return true;
    }
    if (json_is_object (a)) {
        const char *key;
        json_t *item;
        if (json_object_size (a) != json_object_size (b))
            return false;
        json_object_foreach ((json_t *)a, key, item)
        {
            json_t *other = json_object_get (b, key);
            if (!other || !template_equal (item, other))
                return false;
        }
        return true;
    }
    return json_equal ((json_t *)a, (json_t *)b);
}

int
template_compare (const json_t *a, const json_t *b, int *order)
{
    if (s_numeric (a) && s_numeric (b)) {
        if (json_is_integer (a) && json_is_integer (b)) {
            json_int_t x = json_integer_value (a), y = json_integer_value (b);
            *order = x < y ? -1 : x > y;
        } else {
            double x = s_number (a), y = s_number (b);
            *order = x < y ? -1 : x > y;
        }
        return 0;
    }
    if (json_is_string (a) && json_is_string (b)) {
        int c = strcmp (json_string_value (a), json_string_value (b));
        *order = c < 0 ? -1 : c > 0;
        return 0;
    }
    if (json_is_array (a) && json_is_array (b)) {
        size_t n = json_array_size (a), m = json_array_size (b);
        for (size_t i = 0; i < n && i < m; i++) {
            json_t *x = json_array_get (a, i), *y = json_array_get (b, i);
            if (!template_equal (x, y))
                return template_compare (x, y, order);
        }
        *order = n < m ? -1 : n > m;
        return 0;
    }
    return -1;
}

//  A new string of a + b, bounded.
static json_t *
s_concat (render_t *r, const node_t *at, const char *a, size_t n, const char *b, size_t m)
{
    if (n + m > TEMPLATE_MAX_OUTPUT)
        return template_fail (r, at, "string longer than %d bytes", TEMPLATE_MAX_OUTPUT);
    char *text = (char *)malloc (n + m + 1);
    if (!text)
        return template_fail (r, at, "out of memory");
    memcpy (text, a, n);
    memcpy (text + n, b, m);
    json_t *result = json_stringn (text, n + m);
    free (text);
    return result;
}

//  Sequences: + (concatenation) and * (repetition).
static json_t *
s_sequence_arith (render_t *r, const node_t *at, const char *op, const json_t *a,
                  const json_t *b)
{
    if (*op == '+' && json_is_string (a) && json_is_string (b))
        return s_concat (r, at, json_string_value (a), json_string_length (a),
                         json_string_value (b), json_string_length (b));
    if (*op == '+' && json_is_array (a) && json_is_array (b)) {
        if (json_array_size (a) + json_array_size (b) > TEMPLATE_MAX_ITERATIONS)
            return template_fail (r, at, "list longer than %d items",
                                  TEMPLATE_MAX_ITERATIONS);
        json_t *list = json_copy ((json_t *)a);
        json_array_extend (list, (json_t *)b);
        return list;
    }
    if (*op == '*' && json_is_integer (b) && (json_is_string (a) || json_is_array (a))) {
        json_int_t times = json_integer_value (b) > 0 ? json_integer_value (b) : 0;
        size_t unit = json_is_string (a) ? json_string_length (a) : json_array_size (a);
        size_t limit = json_is_string (a) ? TEMPLATE_MAX_OUTPUT : TEMPLATE_MAX_ITERATIONS;
        if (unit && (size_t)times > limit / unit)
            return template_fail (r, at, "repetition longer than %zu", limit);
        if (json_is_array (a)) {
            json_t *result = json_array ();
            for (json_int_t i = 0; result && i < times; i++)
                json_array_extend (result, (json_t *)a);
            return result;
        }
        char *text = (char *)malloc (unit * (size_t)times + 1);
        if (!text)
            return template_fail (r, at, "out of memory");
        for (json_int_t i = 0; i < times; i++)
            memcpy (text + unit * (size_t)i, json_string_value (a), unit);
        json_t *result = json_stringn (text, unit * (size_t)times);
        free (text);
        return result;
    }
    return NULL;
}

static json_t *
s_integer_arith (render_t *r, const node_t *at, char op, json_int_t x, json_int_t y,
                 bool floor_div)
{
    long long result = 0;
    bool overflow = false;
    if (op == '+')
        overflow = __builtin_add_overflow (x, y, &result);
    else if (op == '-')
        overflow = __builtin_sub_overflow (x, y, &result);
    else if (op == '*')
        overflow = __builtin_mul_overflow (x, y, &result);
    else if (op == '/' && floor_div) {
        if (y == 0)
            return template_fail (r, at, "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1)
            overflow = true;
        else
            result = x / y - ((x % y != 0) && ((x < 0) != (y < 0)));
    } else if (op == '%') {
        if (y == 0)
            return template_fail (r, at, "integer division or modulo by zero");
        result = y == -1 ? 0 : x % y;
        if (result != 0 && ((result < 0) != (y < 0)))
            result += y;
    } else if (op == 'p') { //  **
        if (y < 0)
            return json_real (pow ((double)x, (double)y));
        long long base = x;
        result = 1;
        for (json_int_t e = y; e > 0 && !overflow; e >>= 1) { //  by squaring
            if (e & 1)
                overflow = __builtin_mul_overflow (result, base, &result);
            if (e > 1 && !overflow)
                overflow = __builtin_mul_overflow (base, base, &base);
        }
    }
    if (overflow)
        return template_fail (r, at, "integer overflow");
    return json_integer (result);
}

json_t *
template_arith (render_t *r, const node_t *at, const char *op, const json_t *a,
                const json_t *b)
{
    if (!s_numeric (a) || !s_numeric (b)) {
        json_t *result = s_sequence_arith (r, at, op, a, b);
        if (result || r->error)
            return result;
        return template_fail (r, at, "unsupported operand types for %s: '%s' and '%s'",
                              op, template_type_name (a), template_type_name (b));
    }
    char code = strcmp (op, "**") == 0 ? 'p' : *op;
    bool integers = !json_is_real (a) && !json_is_real (b);
    if (integers && strcmp (op, "/") != 0)
        return s_integer_arith (r, at, code, s_integer (a), s_integer (b),
                                strcmp (op, "//") == 0);
    double x = s_number (a), y = s_number (b), result = 0;
    if (y == 0 && (code == '/' || code == '%'))
        return template_fail (r, at, "division by zero");
    switch (code) {
        case '+':
            result = x + y;
            break;
        case '-':
            result = x - y;
            break;
        case '*':
            result = x * y;
            break;
        case '/':
            result = strcmp (op, "//") == 0 ? floor (x / y) : x / y;
            break;
        case '%':
            result = fmod (x, y);
            if (result != 0 && ((result < 0) != (y < 0)))
                result += y;
            break;
        default:
            result = pow (x, y);
    }
    if (!isfinite (result))
        return template_fail (r, at, "numeric result out of range");
    return json_real (result);
}

int
template_contains (render_t *r, const node_t *at, const json_t *haystack,
                   const json_t *needle)
{
    if (json_is_string (haystack)) {
        if (!json_is_string (needle)) {
            template_fail (r, at, "'in <string>' requires string as left operand, not %s",
                           template_type_name (needle));
            return -1;
        }
        return memmem (json_string_value (haystack), json_string_length (haystack),
                       json_string_value (needle), json_string_length (needle)) != NULL;
    }
    if (json_is_array (haystack)) {
        for (size_t i = 0; i < json_array_size (haystack); i++)
            if (template_equal (json_array_get (haystack, i), needle))
                return 1;
        return 0;
    }
    if (json_is_object (haystack))
        return json_is_string (needle) &&
               json_object_get (haystack, json_string_value (needle)) != NULL;
    template_fail (r, at, "argument of type '%s' is not iterable",
                   template_type_name (haystack));
    return -1;
}

//  Length in bytes of the UTF-8 character at `s`.
static size_t
s_char_length (const char *s, size_t left)
{
    size_t n = 1;
    while (n < left && ((unsigned char)s[n] & 0xC0) == 0x80)
        n++;
    return n;
}

json_t *
template_items (render_t *r, const node_t *at, const json_t *value)
{
    if (json_is_array (value))
        return json_incref ((json_t *)value);
    json_t *list = json_array ();
    if (json_is_object (value)) {
        const char *key;
        json_t *item;
        json_object_foreach ((json_t *)value, key, item)
            json_array_append_new (list, json_string (key));
        return list;
    }
    if (json_is_string (value)) {
        const char *s = json_string_value (value);
        size_t n = json_string_length (value);
        for (size_t i = 0; i < n;) {
            size_t len = s_char_length (s + i, n - i);
            json_array_append_new (list, json_stringn (s + i, len));
            i += len;
        }
        return list;
    }
    json_decref (list);
    return template_fail (r, at, "'%s' object is not iterable",
                          template_type_name (value));
}
