/*  template_eval: evaluating expressions and running statements. */
#include "template/template_ast.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
s_error (const char *name, int line, int col, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *message = template_error (name, line, col, format, args);
    va_end (args);
    return message;
}

void *
template_fail (render_t *r, const node_t *at, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    if (!r->error && at->yaql) {
        char what[512];
        vsnprintf (what, sizeof what, format, args);
        r->error = s_error (r->name, at->line, at->col, "yaql: %s", what);
    } else if (!r->error)
        r->error = template_error (r->name, at->line, at->col, format, args);
    va_end (args);
    return NULL;
}

void *
template_fail_undefined (render_t *r, const node_t *at)
{
    const node_t *missing = r->missing ? r->missing : at;
    int n = (int)(missing->end - missing->start);
    return template_fail (r, missing, "%.*s is not defined", n > 200 ? 200 : n,
                          r->text + missing->start);
}

static json_t *
s_undefined (render_t *r, const node_t *at)
{
    r->missing = at;
    return json_incref (r->undefined);
}

//  A name: innermost scope first, then the context.
static json_t *
s_name (render_t *r, const node_t *node)
{
    for (size_t i = r->scope_count; i > 0; i--) {
        json_t *value = json_object_get (r->scopes[i - 1], node->name);
        if (value)
            return json_incref (value);
    }
    json_t *value = json_object_get (r->context, node->name);
    if (!value && strcmp (node->name, "__context") == 0) //  StackStorm's whole context
        value = (json_t *)r->context;
    if (!value && node->yaql && strcmp (node->name, "$") == 0) //  YAQL's data
        value = (json_t *)r->context;
    return value ? json_incref (value) : s_undefined (r, node);
}

//  Index `i` of a sequence of `n` (negative from the end): -1 when out.
static long long
s_index (long long i, size_t n)
{
    if (i < 0)
        i += (long long)n;
    return i >= 0 && (size_t)i < n ? i : -1;
}

//  obj[key] / obj.key over data only.
static json_t *
s_lookup (render_t *r, const node_t *at, json_t *object, const json_t *key)
{
    json_t *found = NULL;
    if (json_is_object (object) && json_is_string (key))
        found = json_object_get (object, json_string_value (key));
    else if (json_is_array (object) && json_is_integer (key)) {
        long long i = s_index (json_integer_value (key), json_array_size (object));
        found = i >= 0 ? json_array_get (object, (size_t)i) : NULL;
    } else if (json_is_string (object) && json_is_integer (key)) {
        json_t *chars = template_items (r, at, object);
        long long i =
            chars ? s_index (json_integer_value (key), json_array_size (chars)) : -1;
        json_t *ch = i >= 0 ? json_incref (json_array_get (chars, (size_t)i)) : NULL;
        json_decref (chars);
        return ch ? ch : s_undefined (r, at);
    }
    return found ? json_incref (found) : s_undefined (r, at);
}

//  YAQL's list.name: the name of each item, as a list.
static json_t *
s_attr_each (render_t *r, const node_t *node, json_t *list)
{
    json_t *out = json_array ();
    json_t *key = json_string (node->name);
    for (size_t i = 0; out && key && i < json_array_size (list); i++) {
        json_t *item = json_array_get (list, i);
        json_t *value =
            json_is_object (item) ? s_lookup (r, node, item, key) : s_undefined (r, node);
        if (value == r->undefined) {
            json_decref (value);
            template_fail (r, node, "item %zu of the list has no key '%s'", i,
                           node->name);
        }
        if (r->error) {
            json_decref (value);
            break;
        }
        json_array_append_new (out, value);
    }
    json_decref (key);
    if (r->error)
        json_decref (out);
    return r->error ? NULL : out;
}

static json_t *
s_attr (render_t *r, const node_t *node)
{
    json_t *object = template_eval (r, node->kids[0]);
    if (!object || object == r->undefined)
        return object; //  an undefined's attribute stays undefined
    bool number = node->name[0] >= '0' && node->name[0] <= '9';
    if (node->yaql && json_is_array (object) && !number) {
        json_t *each = s_attr_each (r, node, object);
        json_decref (object);
        return each;
    }
    json_t *key = json_is_array (object) ? json_integer (atoll (node->name))
                                         : json_string (node->name);
    json_t *value = json_is_array (object) && !number ? s_undefined (r, node)
                                                      : s_lookup (r, node, object, key);
    json_decref (key);
    json_decref (object);
    return value;
}

static json_t *
s_item (render_t *r, const node_t *node)
{
    json_t *object = template_eval (r, node->kids[0]);
    if (!object || object == r->undefined)
        return object;
    json_t *key = template_eval (r, node->kids[1]);
    json_t *value = NULL;
    if (key == r->undefined)
        template_fail_undefined (r, node->kids[1]);
    else if (key)
        value = s_lookup (r, node, object, key);
    json_decref (key);
    json_decref (object);
    return value;
}

//  The strings of `list` end to end; malloc'd.
static char *
s_join_strings (const json_t *list)
{
    size_t n = 0;
    for (size_t i = 0; i < json_array_size (list); i++)
        n += json_string_length (json_array_get (list, i));
    char *text = (char *)malloc (n + 1);
    if (!text)
        return NULL;
    n = 0;
    for (size_t i = 0; i < json_array_size (list); i++) {
        json_t *s = json_array_get (list, i);
        memcpy (text + n, json_string_value (s), json_string_length (s));
        n += json_string_length (s);
    }
    text[n] = 0;
    return text;
}

//  A slice bound: the evaluated kid or `fallback`. false on error.
static bool
s_bound (render_t *r, const node_t *kid, long long fallback, long long *out)
{
    *out = fallback;
    if (!kid)
        return true;
    json_t *v = template_eval (r, kid);
    bool ok = v && (json_is_integer (v) || json_is_null (v));
    if (ok && json_is_integer (v))
        *out = json_integer_value (v);
    if (v && !ok)
        template_fail (r, kid, "slice indices must be integers");
    json_decref (v);
    return ok;
}

static json_t *
s_slice (render_t *r, const node_t *node)
{
    json_t *object = template_eval (r, node->kids[0]);
    if (!object || object == r->undefined)
        return object;
    json_t *items = json_is_string (object) || json_is_array (object)
                        ? template_items (r, node, object)
                        : template_fail (r, node, "'%s' object is not subscriptable",
                                         template_type_name (object));
    long long step, n = items ? (long long)json_array_size (items) : 0, start, stop;
    json_t *out = NULL;
    if (items && s_bound (r, node->kids[3], 1, &step) && step == 0)
        template_fail (r, node, "slice step cannot be zero");
    else if (items && !r->error &&
             s_bound (r, node->kids[1], step > 0 ? 0 : n - 1, &start) &&
             s_bound (r, node->kids[2], step > 0 ? n : -n - 1, &stop)) {
        if (start < 0)
            start = start + n < 0 ? (step > 0 ? 0 : -1) : start + n;
        if (stop < 0)
            stop = stop + n < 0 ? -1 : stop + n;
        start = start > n ? (step > 0 ? n : n - 1) : start;
        stop = stop > n ? n : stop;
        out = json_array ();
        for (long long i = start; step > 0 ? i < stop : i > stop; i += step)
            if (i >= 0 && i < n)
                json_array_append (out, json_array_get (items, (size_t)i));
        if (json_is_string (object)) {
            char *text = s_join_strings (out);
            json_decref (out);
            out = text ? json_string (text) : NULL;
            free (text);
        }
    }
    json_decref (items);
    json_decref (object);
    return out;
}

int
template_arguments (render_t *r, const node_t *node, size_t from, targs_t *args)
{
    args->count = 0;
    args->values = (json_t **)calloc (node->count + 1, sizeof (json_t *));
    args->keys = node->keys + from;
    if (!args->values) {
        template_fail (r, node, "out of memory");
        return -1;
    }
    for (size_t i = from; i < node->count; i++) {
        json_t *v = template_eval (r, node->kids[i]);
        if (!v)
            return -1;
        args->values[args->count++] = v;
    }
    return 0;
}

void
template_arguments_free (targs_t *args)
{
    for (size_t i = 0; i < args->count; i++)
        json_decref (args->values[i]);
    free (args->values);
}

json_t *
template_arg (const targs_t *args, size_t index, const char *key)
{
    size_t positional = 0;
    for (size_t i = 0; i < args->count; i++) {
        if (!args->keys[i] && positional++ == index)
            return args->values[i];
        if (args->keys[i] && key && strcmp (args->keys[i], key) == 0)
            return args->values[i];
    }
    return NULL;
}

//  range(stop), range(start, stop[, step])
static json_t *
s_range (render_t *r, const node_t *node, const targs_t *args)
{
    long long bounds[3] = {0, 0, 1};
    size_t n = args->count;
    for (size_t i = 0; i < n; i++)
        if (!json_is_integer (args->values[i]) || args->keys[i])
            return template_fail (r, node, "range() takes integers");
    if (n < 1 || n > 3)
        return template_fail (r, node, "range() takes 1 to 3 arguments");
    for (size_t i = 0; i < n; i++)
        bounds[n == 1 ? 1 : i] = json_integer_value (args->values[i]);
    if (bounds[2] == 0)
        return template_fail (r, node, "range() step must not be zero");
    json_t *list = json_array ();
    for (long long i = bounds[0]; bounds[2] > 0 ? i < bounds[1] : i > bounds[1];
         i += bounds[2]) {
        if (++r->iterations > TEMPLATE_MAX_ITERATIONS) {
            json_decref (list);
            return template_fail (r, node, "more than %d loop iterations or range items",
                                  TEMPLATE_MAX_ITERATIONS);
        }
        json_array_append_new (list, json_integer (i));
    }
    return list;
}

//  dict.items() .keys() .values() .get(key[, default])
static json_t *
s_method (render_t *r, const node_t *node, json_t *object, const char *name,
          const targs_t *args)
{
    if (!strcmp (name, "get") && args->count >= 1 && args->count <= 2) {
        json_t *key = args->values[0];
        json_t *found = json_is_string (key)
                            ? json_object_get (object, json_string_value (key))
                            : NULL;
        found = found ? found : args->count == 2 ? args->values[1] : json_null ();
        return json_incref (found);
    }
    if (args->count)
        return template_fail (r, node, "%s() takes no arguments", name);
    json_t *list = json_array ();
    const char *key;
    json_t *item;
    json_object_foreach (object, key, item)
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

//  A function of the caller's (template_hooks_t.call): the positional
//  arguments, then the keyword ones (if any) as one object; none undefined.
static json_t *
s_hook_call (render_t *r, const node_t *node, const char *function)
{
    targs_t args = {NULL, NULL, 0};
    json_t *result = NULL, *named = NULL;
    json_t **values = (json_t **)calloc (node->count + 1, sizeof *values);
    size_t count = 0;
    if (!values)
        template_fail (r, node, "out of memory");
    else if (template_arguments (r, node, 1, &args) == 0) {
        for (size_t i = 0; i < args.count && !r->error; i++)
            if (args.values[i] == r->undefined)
                template_fail_undefined (r, node->kids[i + 1]);
            else if (!args.keys[i])
                values[count++] = args.values[i];
            else if (named || (named = json_object ()))
                json_object_set (named, args.keys[i], args.values[i]);
        if (named)
            values[count++] = named;
        char *reason = NULL;
        if (!r->error) {
            result = r->hooks->call (r->hooks->arg, function, values, count, &reason);
            if (!result)
                template_fail (r, node, "%s(): %s", function,
                               reason ? reason : "out of memory");
        }
        free (reason);
    }
    json_decref (named);
    free (values);
    template_arguments_free (&args);
    return result;
}

static json_t *
s_call (render_t *r, const node_t *node)
{
    const node_t *callee = node->kids[0];
    static const char *const methods[] = {"items", "keys", "values", "get", NULL};
    bool method = false;
    for (const char *const *m = methods; callee->type == N_ATTR && *m; m++)
        method |= strcmp (callee->name, *m) == 0;
    bool range = callee->type == N_NAME && strcmp (callee->name, "range") == 0;
    if (callee->type == N_NAME && !range) {
        bool known = true;
        json_t *v = template_function (r, node, callee->name, &known);
        if (known || r->error)
            return v;
        if (r->hooks && r->hooks->call)
            return s_hook_call (r, node, callee->name);
        return template_fail (r, node,
                              "calls are not allowed (%s() is not a known function)",
                              callee->name);
    }
    if (!method && !range)
        return template_fail (r, node,
                              "calls are not allowed (only functions and a dict's "
                              "items(), keys(), values(), get())");
    json_t *object = method ? template_eval (r, callee->kids[0]) : NULL;
    if (method && object == r->undefined)
        template_fail_undefined (r, callee->kids[0]);
    else if (method && object && !json_is_object (object))
        template_fail (r, node, "'%s' object has no method %s()",
                       template_type_name (object), callee->name);
    json_t *result = NULL;
    targs_t args = {NULL, NULL, 0};
    if (!r->error && template_arguments (r, node, 1, &args) == 0)
        result = method ? s_method (r, node, object, callee->name, &args)
                        : s_range (r, node, &args);
    template_arguments_free (&args);
    json_decref (object);
    return result;
}

static json_t *
s_filter_or_test (render_t *r, const node_t *node)
{
    json_t *subject = template_eval (r, node->kids[0]);
    if (!subject)
        return NULL;
    targs_t args = {NULL, NULL, 0};
    json_t *result = NULL;
    if (template_arguments (r, node, 1, &args) == 0) {
        for (size_t i = 0; i < args.count; i++)
            if (args.values[i] == r->undefined)
                template_fail_undefined (r, node->kids[i + 1]);
        if (r->error)
            ;
        else if (node->type == N_FILTER)
            result = template_filter (r, node, node->name, subject, &args);
        else {
            int rc = template_test (r, node, node->name, subject, &args);
            result = rc < 0 ? NULL : json_boolean ((rc == 1) != node->negated);
        }
    }
    template_arguments_free (&args);
    json_decref (subject);
    return result;
}

//  Evaluate a kid that must be defined.
static json_t *
s_defined (render_t *r, const node_t *node)
{
    json_t *v = template_eval (r, node);
    if (v == r->undefined) {
        json_decref (v);
        return template_fail_undefined (r, node);
    }
    return v;
}

//  a OP b for one comparison: 0/1, or -1 with error.
static int
s_compare_one (render_t *r, const node_t *at, const char *op, json_t *a, json_t *b)
{
    if (!strcmp (op, "=="))
        return template_equal (a, b);
    if (!strcmp (op, "!="))
        return !template_equal (a, b);
    if (!strcmp (op, "in"))
        return template_contains (r, at, b, a);
    if (!strcmp (op, "nin")) {
        int rc = template_contains (r, at, b, a);
        return rc < 0 ? rc : !rc;
    }
    int order;
    if (template_compare (a, b, &order)) {
        template_fail (r, at, "'%s' not supported between '%s' and '%s'", op,
                       template_type_name (a), template_type_name (b));
        return -1;
    }
    return !strcmp (op, "<")    ? order < 0
           : !strcmp (op, ">")  ? order > 0
           : !strcmp (op, "<=") ? order <= 0
                                : order >= 0;
}

static json_t *
s_compare (render_t *r, const node_t *node)
{
    json_t *left = s_defined (r, node->kids[0]);
    int rc = left ? 1 : -1;
    for (size_t i = 1; rc == 1 && i < node->count; i++) {
        json_t *right = s_defined (r, node->kids[i]);
        rc = right ? s_compare_one (r, node, node->ops[i - 1], left, right) : -1;
        json_decref (left);
        left = right;
    }
    json_decref (left);
    return rc < 0 ? NULL : json_boolean (rc);
}

static json_t *
s_binary (render_t *r, const node_t *node)
{
    json_t *a = s_defined (r, node->kids[0]);
    json_t *b = a ? s_defined (r, node->kids[1]) : NULL;
    json_t *result = NULL;
    if (b && !strcmp (node->op, "~")) {
        char *x = template_str (a), *y = template_str (b);
        size_t n = x ? strlen (x) : 0, m = y ? strlen (y) : 0;
        if (!x || !y)
            template_fail (r, node, "out of memory");
        else if (n + m > TEMPLATE_MAX_OUTPUT)
            template_fail (r, node, "string longer than %d bytes", TEMPLATE_MAX_OUTPUT);
        else if ((x = (char *)realloc (x, n + m + 1))) {
            memcpy (x + n, y, m + 1);
            result = json_string (x);
        }
        free (x);
        free (y);
    } else if (b && node->yaql && node->op[0] == '+' && json_is_object (a) &&
               json_is_object (b)) { //  YAQL's dict + dict
        result = json_copy (a);
        json_object_update (result, b);
    } else if (b) { //  YAQL's / of two integers is floor division
        bool floor = node->yaql && node->op[0] == '/' && json_is_integer (a) &&
                     json_is_integer (b);
        result = template_arith (r, node, floor ? "//" : node->op, a, b);
    }
    json_decref (a);
    json_decref (b);
    return result;
}

static json_t *
s_unary (render_t *r, const node_t *node)
{
    json_t *v = s_defined (r, node->kids[0]);
    if (!v)
        return NULL;
    json_t *result = NULL;
    if (!json_is_number (v) && !json_is_boolean (v))
        template_fail (r, node, "bad operand type for unary %s: '%s'", node->op,
                       template_type_name (v));
    else if (node->op[0] == '+')
        result = json_is_boolean (v) ? json_integer (json_is_true (v)) : json_incref (v);
    else if (json_is_real (v))
        result = json_real (-json_real_value (v));
    else {
        json_int_t i = json_is_boolean (v) ? json_is_true (v) : json_integer_value (v);
        result = i == INT64_MIN ? template_fail (r, node, "integer overflow")
                                : json_integer (-i);
    }
    json_decref (v);
    return result;
}

//  A value's truth (an undefined one is an error): 0/1, or -1.
static int
s_truth (render_t *r, const node_t *node)
{
    json_t *v = s_defined (r, node);
    int rc = v ? template_truthy (v) : -1;
    json_decref (v);
    return rc;
}

//  and/or return an operand, as Python does.
static json_t *
s_logic (render_t *r, const node_t *node)
{
    json_t *a = s_defined (r, node->kids[0]);
    if (!a)
        return NULL;
    bool truth = template_truthy (a);
    if ((node->type == N_AND) != truth)
        return a;
    json_decref (a);
    return s_defined (r, node->kids[1]);
}

static json_t *
s_cond (render_t *r, const node_t *node)
{
    int rc = s_truth (r, node->kids[0]);
    if (rc < 0)
        return NULL;
    if (rc)
        return template_eval (r, node->kids[1]);
    return node->kids[2] ? template_eval (r, node->kids[2]) : s_undefined (r, node);
}

static json_t *
s_collection (render_t *r, const node_t *node)
{
    json_t *out = node->type == N_LIST ? json_array () : json_object ();
    for (size_t i = 0; out && i < node->count; i++) {
        json_t *v = s_defined (r, node->kids[i]);
        if (v && node->type == N_LIST)
            json_array_append_new (out, v);
        else if (v) {
            json_t *value = s_defined (r, node->kids[++i]);
            char *key =
                json_is_string (v) ? strdup (json_string_value (v)) : template_str (v);
            if (value && key)
                json_object_set_new (out, key, value);
            else
                json_decref (value);
            free (key);
            json_decref (v);
        }
        if (r->error) {
            json_decref (out);
            return NULL;
        }
    }
    return out;
}

json_t *
template_eval (render_t *r, const node_t *node)
{
    if (r->error)
        return NULL;
    if (++r->depth > 4 * TEMPLATE_MAX_DEPTH) {
        r->depth--;
        return template_fail (r, node, "expression nested too deeply");
    }
    json_t *v = NULL;
    switch (node->type) {
        case N_LITERAL:
            v = json_incref (node->value);
            break;
        case N_NAME:
            v = s_name (r, node);
            break;
        case N_ATTR:
            v = s_attr (r, node);
            break;
        case N_ITEM:
            v = s_item (r, node);
            break;
        case N_SLICE:
            v = s_slice (r, node);
            break;
        case N_CALL:
            v = s_call (r, node);
            break;
        case N_FILTER:
        case N_TEST:
            v = s_filter_or_test (r, node);
            break;
        case N_UNARY:
            v = s_unary (r, node);
            break;
        case N_BINARY:
            v = s_binary (r, node);
            break;
        case N_AND:
        case N_OR:
            v = s_logic (r, node);
            break;
        case N_NOT: {
            int rc = s_truth (r, node->kids[0]);
            v = rc < 0 ? NULL : json_boolean (!rc);
            break;
        }
        case N_COMPARE:
            v = s_compare (r, node);
            break;
        case N_COND:
            v = s_cond (r, node);
            break;
        case N_LIST:
        case N_DICT:
            v = s_collection (r, node);
            break;
        default:
            v = template_fail (r, node, "not an expression");
    }
    r->depth--;
    if (!v && !r->error)
        template_fail (r, node, "out of memory");
    return v;
}
