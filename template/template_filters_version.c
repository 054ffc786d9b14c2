/*  template_filters_version: StackStorm's semver and time filters
    (st2common/expressions/functions/version.py, time.py), for templates
    such as the examples pack's chains:

        version_compare(v, p)     -1, 0 or 1 (semantic versions)
        version_more_than, version_less_than, version_equal   booleans
        version_match(v, ">=1.7.0")   <, >, <=, >=, ==, != against a version
        version_bump_major, version_bump_minor, version_bump_patch
        version_strip_patch       "MAJOR.MINOR"
        to_human_time_from_seconds   12345 -> "3h25m45s"

    A version is MAJOR.MINOR.PATCH with an optional -prerelease and
    +build; a prerelease sorts before its release, as semver says. A value
    that is not one is an error naming it. */
#include "template/template_ast.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    long long part[3];
    char pre[128]; //  the prerelease ("" for a release)
} s_version_t;

//  Parse `text` as a semantic version. True on success.
static bool
s_parse (const char *text, s_version_t *v)
{
    memset (v, 0, sizeof *v);
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        if (!isdigit ((unsigned char)*p))
            return false;
        char *end;
        v->part[i] = strtoll (p, &end, 10);
        p = end;
        if (i < 2 && *p++ != '.')
            return false;
    }
    if (*p == '-') {
        size_t n = strcspn (p + 1, "+");
        if (n == 0 || n >= sizeof v->pre)
            return false;
        memcpy (v->pre, p + 1, n);
        p += 1 + n;
    }
    return *p == 0 || (*p == '+' && p[1]);
}

//  semver's order: the numbers, then a prerelease before its release
static int
s_compare (const s_version_t *a, const s_version_t *b)
{
    for (int i = 0; i < 3; i++)
        if (a->part[i] != b->part[i])
            return a->part[i] < b->part[i] ? -1 : 1;
    if (!*a->pre || !*b->pre)
        return *a->pre ? -1 : *b->pre ? 1 : 0;
    int c = strcmp (a->pre, b->pre);
    return c < 0 ? -1 : c > 0;
}

//  The value (and, when `with` is set, the first argument) as versions
static bool
s_operands (render_t *r, const node_t *at, json_t *value, const targs_t *args,
            s_version_t *v, const char **with)
{
    const char *text = json_string_value (value);
    if (!text || !s_parse (text, v)) {
        template_fail (r, at, "'%s' is not a semantic version (MAJOR.MINOR.PATCH)",
                       text ? text : template_type_name (value));
        return false;
    }
    if (with) {
        *with = json_string_value (template_arg (args, 0, NULL));
        if (!*with) {
            template_fail (r, at, "the filter takes a version to compare with");
            return false;
        }
    }
    return true;
}

//  The order of the value against the first argument. True, or false with
//  the render's error set.
static bool
s_compare_with (render_t *r, const node_t *at, json_t *value, const targs_t *args,
                int *order)
{
    s_version_t a, b;
    const char *other;
    if (!s_operands (r, at, value, args, &a, &other))
        return false;
    if (!s_parse (other, &b)) {
        template_fail (r, at, "'%s' is not a semantic version", other);
        return false;
    }
    *order = s_compare (&a, &b);
    return true;
}

static json_t *
f_version_compare (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    int order;
    return s_compare_with (r, at, v, a, &order) ? json_integer (order) : NULL;
}

static json_t *
f_version_more_than (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    int order;
    return s_compare_with (r, at, v, a, &order) ? json_boolean (order == 1) : NULL;
}

static json_t *
f_version_less_than (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    int order;
    return s_compare_with (r, at, v, a, &order) ? json_boolean (order == -1) : NULL;
}

static json_t *
f_version_equal (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    int order;
    return s_compare_with (r, at, v, a, &order) ? json_boolean (order == 0) : NULL;
}

//  version_match: "OP VERSION", OP one of < > <= >= == !=
static json_t *
f_version_match (render_t *r, const node_t *at, json_t *value, const targs_t *args)
{
    s_version_t v, w;
    const char *expr;
    if (!s_operands (r, at, value, args, &v, &expr))
        return NULL;
    static const char *const ops[] = {"<=", ">=", "==", "!=", "<", ">"};
    for (int i = 0; i < 6; i++) {
        size_t n = strlen (ops[i]);
        if (strncmp (expr, ops[i], n) != 0)
            continue;
        if (!s_parse (expr + n, &w))
            break;
        int c = s_compare (&v, &w);
        bool holds[] = {c <= 0, c >= 0, c == 0, c != 0, c<0, c> 0};
        return json_boolean (holds[i]);
    }
    return template_fail (r, at,
                          "version_match: '%s' is not OP VERSION (<, >, <=, >=, "
                          "==, !=)",
                          expr);
}

static json_t *
s_bump (render_t *r, const node_t *at, json_t *value, int which)
{
    s_version_t v;
    if (!s_operands (r, at, value, NULL, &v, NULL))
        return NULL;
    v.part[which]++;
    for (int i = which + 1; i < 3; i++)
        v.part[i] = 0;
    return json_sprintf ("%lld.%lld.%lld", v.part[0], v.part[1], v.part[2]);
}

static json_t *
f_bump_major (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_bump (r, at, v, 0);
}

static json_t *
f_bump_minor (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_bump (r, at, v, 1);
}

static json_t *
f_bump_patch (render_t *r, const node_t *at, json_t *v, const targs_t *a)
{
    return s_bump (r, at, v, 2);
}

static json_t *
f_strip_patch (render_t *r, const node_t *at, json_t *value, const targs_t *a)
{
    s_version_t v;
    if (!s_operands (r, at, value, NULL, &v, NULL))
        return NULL;
    return json_sprintf ("%lld.%lld", v.part[0], v.part[1]);
}

//  12345 -> "3h25m45s": years (of 365 days), days, hours, minutes, seconds
//  from the first that is not zero; under a second, "Nμs" as StackStorm's
static json_t *
f_human_time (render_t *r, const node_t *at, json_t *value, const targs_t *a)
{
    if (!json_is_number (value))
        return template_fail (r, at, "to_human_time_from_seconds takes a number, not %s",
                              template_type_name (value));
    double seconds = json_number_value (value);
    if (seconds == 0)
        return json_string ("0s");
    if (seconds < 1) {
        char *text = template_str (value);
        json_t *out = json_sprintf ("%s\u03bcs", text ? text : "?");
        free (text);
        return out;
    }
    long long s = (long long)(seconds + 0.5);
    long long parts[5] = {s / (365 * 86400), s % (365 * 86400) / 86400, s % 86400 / 3600,
                          s % 3600 / 60, s % 60};
    static const char units[] = "ydhms";
    char text[128] = "";
    bool started = false;
    for (int i = 0; i < 5; i++) {
        started |= parts[i] != 0 || i == 4;
        if (started)
            snprintf (text + strlen (text), sizeof text - strlen (text), "%lld%c",
                      parts[i], units[i]);
    }
    return json_string (text);
}

const template_filter_entry_t template_version_filters[] = {
    {"version_compare", f_version_compare},
    {"version_more_than", f_version_more_than},
    {"version_less_than", f_version_less_than},
    {"version_equal", f_version_equal},
    {"version_match", f_version_match},
    {"version_bump_major", f_bump_major},
    {"version_bump_minor", f_bump_minor},
    {"version_bump_patch", f_bump_patch},
    {"version_strip_patch", f_strip_patch},
    {"to_human_time_from_seconds", f_human_time},
    {NULL, NULL}};
