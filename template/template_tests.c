/*  template_tests: Jinja's tests (x is defined, x is divisibleby 3, ...). */
#include "template/template_ast.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

typedef int (*test_fn) (render_t *r, const node_t *at, json_t *v, json_t *arg);

typedef struct {
    const char *name;
    test_fn fn;
    int arity;         //  arguments it takes (0 or 1)
    bool undefined_ok; //  defined/undefined take an undefined value
} test_t;

static int
t_defined (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return v != r->undefined;
}

static int
t_undefined (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return v == r->undefined;
}

static int
t_none (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_null (v);
}

static int
t_boolean (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_boolean (v);
}

static int
t_true (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_true (v);
}

static int
t_false (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_false (v);
}

static int
t_number (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_number (v) || json_is_boolean (v);
}

static int
t_integer (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_integer (v);
}

static int
t_float (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_real (v);
}

static int
t_string (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_string (v);
}

static int
t_mapping (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_object (v);
}

static int
t_iterable (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_object (v) || json_is_array (v) || json_is_string (v);
}

static int
t_sequence (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_object (v) || json_is_array (v) || json_is_string (v);
}

//  A number for even/odd/divisibleby; -1 (error set) when not an integer.
static int
s_integer (render_t *r, const node_t *at, json_t *v, long long *out)
{
    if (json_is_integer (v))
        *out = json_integer_value (v);
    else if (json_is_real (v) && floor (json_real_value (v)) == json_real_value (v))
        *out = (long long)json_real_value (v);
    else {
        template_fail (r, at, "test '%s' expects an integer, got '%s'", at->name,
                       template_type_name (v));
        return -1;
    }
    return 0;
}

static int
t_even (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    long long i;
    return s_integer (r, at, v, &i) ? -1 : i % 2 == 0;
}

static int
t_odd (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    long long i;
    return s_integer (r, at, v, &i) ? -1 : i % 2 != 0;
}

static int
t_divisibleby (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    long long i, d;
    if (s_integer (r, at, v, &i) || s_integer (r, at, arg, &d))
        return -1;
    if (d == 0) {
        template_fail (r, at, "divisibleby 0");
        return -1;
    }
    return d == -1 || i % d == 0;
}

static int
t_eq (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return template_equal (v, arg);
}

static int
t_ne (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return !template_equal (v, arg);
}

static int
s_order (render_t *r, const node_t *at, json_t *v, json_t *arg, int *order)
{
    if (template_compare (v, arg, order) == 0)
        return 0;
    template_fail (r, at, "test '%s': cannot order '%s' and '%s'", at->name,
                   template_type_name (v), template_type_name (arg));
    return -1;
}

static int
t_lt (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    int o;
    return s_order (r, at, v, arg, &o) ? -1 : o < 0;
}

static int
t_le (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    int o;
    return s_order (r, at, v, arg, &o) ? -1 : o <= 0;
}

static int
t_gt (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    int o;
    return s_order (r, at, v, arg, &o) ? -1 : o > 0;
}

static int
t_ge (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    int o;
    return s_order (r, at, v, arg, &o) ? -1 : o >= 0;
}

//  sameas: identity; for JSON data, the same scalar of the same type
static int
t_sameas (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    if (v == arg)
        return 1;
    if (json_typeof (v) != json_typeof (arg) || json_is_array (v) || json_is_object (v))
        return 0;
    return json_equal (v, arg);
}

static int
t_in (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return template_contains (r, at, arg, v);
}

static int
s_case (json_t *v, bool upper)
{
    if (!json_is_string (v))
        return 0;
    bool cased = false;
    for (const char *p = json_string_value (v); *p; p++)
        if (isalpha ((unsigned char)*p)) {
            if (upper ? islower ((unsigned char)*p) : isupper ((unsigned char)*p))
                return 0;
            cased = true;
        }
    return cased;
}

static int
t_lower (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return s_case (v, false);
}

static int
t_upper (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return s_case (v, true);
}

static int
t_filter (render_t *r, const node_t *at, json_t *v, json_t *arg)
{
    return json_is_string (v) && template_filter_known (json_string_value (v));
}

static const test_t s_tests[] = {{"defined", t_defined, 0, true},
                                 {"undefined", t_undefined, 0, true},
                                 {"none", t_none, 0},
                                 {"boolean", t_boolean, 0},
                                 {"true", t_true, 0},
                                 {"false", t_false, 0},
                                 {"number", t_number, 0},
                                 {"integer", t_integer, 0},
                                 {"float", t_float, 0},
                                 {"string", t_string, 0},
                                 {"mapping", t_mapping, 0},
                                 {"iterable", t_iterable, 0},
                                 {"sequence", t_sequence, 0},
                                 {"even", t_even, 0},
                                 {"odd", t_odd, 0},
                                 {"divisibleby", t_divisibleby, 1},
                                 {"equalto", t_eq, 1},
                                 {"eq", t_eq, 1},
                                 {"==", t_eq, 1},
                                 {"ne", t_ne, 1},
                                 {"!=", t_ne, 1},
                                 {"lt", t_lt, 1},
                                 {"lessthan", t_lt, 1},
                                 {"<", t_lt, 1},
                                 {"le", t_le, 1},
                                 {"<=", t_le, 1},
                                 {"gt", t_gt, 1},
                                 {"greaterthan", t_gt, 1},
                                 {">", t_gt, 1},
                                 {"ge", t_ge, 1},
                                 {">=", t_ge, 1},
                                 {"sameas", t_sameas, 1},
                                 {"in", t_in, 1},
                                 {"lower", t_lower, 0},
                                 {"upper", t_upper, 0},
                                 {"filter", t_filter, 0},
                                 {NULL, NULL, 0}};

static const test_t *
s_find (const char *name)
{
    for (const test_t *t = s_tests; t->name; t++)
        if (strcmp (t->name, name) == 0)
            return t;
    return NULL;
}

bool
template_test_known (const char *name)
{
    return s_find (name) != NULL;
}

int
template_test (render_t *r, const node_t *at, const char *name, json_t *value,
               const targs_t *args)
{
    const test_t *t = s_find (name);
    if (!t) {
        template_fail (r, at, "unknown test '%s'", name);
        return -1;
    }
    if (args->count != (size_t)t->arity) {
        template_fail (r, at, "test '%s' takes %d argument%s", name, t->arity,
                       t->arity == 1 ? "" : "s");
        return -1;
    }
    if (value == r->undefined && !t->undefined_ok) {
        template_fail_undefined (r, at->kids[0]);
        return -1;
    }
    return t->fn (r, at, value, t->arity ? args->values[0] : NULL);
}
