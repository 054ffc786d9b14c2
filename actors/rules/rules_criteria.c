/*  rules_criteria: StackStorm criteria operators. See rules_criteria.h. */
#include "actors/rules/rules_criteria.h"
#include "actors/rules/rules_template.h"
#include "template/template_regex.h"

#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef enum {
    OP_EQUALS,
    OP_NEQUALS,
    OP_IEQUALS,
    OP_CONTAINS,
    OP_ICONTAINS,
    OP_NCONTAINS,
    OP_NICONTAINS,
    OP_STARTSWITH,
    OP_ISTARTSWITH,
    OP_ENDSWITH,
    OP_IENDSWITH,
    OP_LESSTHAN,
    OP_GREATERTHAN,
    OP_EXISTS,
    OP_NEXISTS,
    OP_INSIDE,
    OP_NINSIDE,
    OP_MATCHREGEX,
    OP_REGEX,
    OP_IREGEX,
    OP_SEARCH,
    OP_MATCHWILDCARD,
    OP_TIMEDIFF_LT,
    OP_TIMEDIFF_GT,
} op_t;

static const struct {
    const char *name;
    op_t op;
} s_ops[] = {{"equals", OP_EQUALS},
             {"eq", OP_EQUALS},
             {"nequals", OP_NEQUALS},
             {"neq", OP_NEQUALS},
             {"iequals", OP_IEQUALS},
             {"ieq", OP_IEQUALS},
             {"contains", OP_CONTAINS},
             {"icontains", OP_ICONTAINS},
             {"ncontains", OP_NCONTAINS},
             {"nicontains", OP_NICONTAINS},
             {"incontains", OP_NICONTAINS},
             {"startswith", OP_STARTSWITH},
             {"istartswith", OP_ISTARTSWITH},
             {"endswith", OP_ENDSWITH},
             {"iendswith", OP_IENDSWITH},
             {"lessthan", OP_LESSTHAN},
             {"lt", OP_LESSTHAN},
             {"greaterthan", OP_GREATERTHAN},
             {"gt", OP_GREATERTHAN},
             {"exists", OP_EXISTS},
             {"nexists", OP_NEXISTS},
             {"inside", OP_INSIDE},
             {"in", OP_INSIDE},
             {"ninside", OP_NINSIDE},
             {"nin", OP_NINSIDE},
             {"matchregex", OP_MATCHREGEX},
             {"regex", OP_REGEX},
             {"iregex", OP_IREGEX},
             {"search", OP_SEARCH},
             {"matchwildcard", OP_MATCHWILDCARD},
             {"timediff_lt", OP_TIMEDIFF_LT},
             {"td_lt", OP_TIMEDIFF_LT},
             {"timediff_lt_seconds", OP_TIMEDIFF_LT},
             {"timediff_gt", OP_TIMEDIFF_GT},
             {"td_gt", OP_TIMEDIFF_GT},
             {"timediff_gt_seconds", OP_TIMEDIFF_GT},
             {NULL, OP_EQUALS}};

//  search's condition: which items must match, and whether one child
//  criterion (any) or all of them make an item match
typedef enum { COND_ALL, COND_ANY, COND_ALL2ANY, COND_ANY2ANY } condition_t;

typedef struct {
    char *path;
    char *type; //  the operator as written
    op_t op;
    json_t *pattern;
    template_regex_t *regex;    //  Python's re, as StackStorm's operators use
    rules_criteria_t *children; //  search: the criteria on each `item`
    condition_t condition;      //  search
    bool templated;             //  the pattern is a template, rendered per event
} criterion_t;

struct _rules_criteria_t {
    criterion_t *items;
    size_t count;
    bool kv;       //  a templated pattern names st2kv
    char **keys;   //  the payload keys the criteria read (count: nkeys) ...
    size_t nkeys;  //
    bool keys_any; //  ... unless they may read more
};

//  ---------------------------------------------------------------------------
//  Value helpers

static bool
s_number (const json_t *value, double *out)
{
    if (json_is_number (value)) {
        *out = json_number_value (value);
        return true;
    }
    if (json_is_string (value)) {
        const char *s = json_string_value (value);
        char *end;
        errno = 0;
        double d = strtod (s, &end);
        while (end && isspace ((unsigned char)*end))
            end++;
        if (end != s && *end == 0 && errno == 0 && isfinite (d)) {
            *out = d;
            return true;
        }
    }
    return false;
}

static bool
s_equal (const json_t *a, const json_t *b)
{
    if (json_is_number (a) && json_is_number (b))
        return json_number_value (a) == json_number_value (b);
    return json_equal ((json_t *)a, (json_t *)b) != 0;
}

//  Case-insensitive substring search.
static const char *
s_strcasestr (const char *haystack, const char *needle)
{
    size_t n = strlen (needle);
    for (; *haystack; haystack++)
        if (strncasecmp (haystack, needle, n) == 0)
            return haystack;
    return n == 0 ? haystack : NULL;
}

//  Python's `needle in container`, optionally case-insensitive for strings.
static bool
s_contains (const json_t *container, const json_t *needle, bool icase)
{
    if (json_is_string (container)) {
        if (!json_is_string (needle))
            return false;
        const char *h = json_string_value (container), *n = json_string_value (needle);
        return icase ? s_strcasestr (h, n) != NULL : strstr (h, n) != NULL;
    }
    if (json_is_array (container)) {
        size_t i;
        json_t *item;
        json_array_foreach (container, i, item)
        {
            if (icase && json_is_string (item) && json_is_string (needle)) {
                if (strcasecmp (json_string_value (item), json_string_value (needle)) ==
                    0)
                    return true;
            } else if (s_equal (item, needle))
                return true;
        }
        return false;
    }
    if (json_is_object (container) && json_is_string (needle))
        return json_object_get (container, json_string_value (needle)) != NULL;
    return false;
}

static bool
s_affix (const json_t *value, const json_t *pattern, bool suffix, bool icase)
{
    if (!json_is_string (value) || !json_is_string (pattern))
        return false;
    const char *v = json_string_value (value), *p = json_string_value (pattern);
    size_t vl = strlen (v), pl = strlen (p);
    if (pl > vl)
        return false;
    const char *at = suffix ? v + vl - pl : v;
    return icase ? strncasecmp (at, p, pl) == 0 : strncmp (at, p, pl) == 0;
}

//  Days from civil date (proleptic Gregorian), Howard Hinnant's algorithm.
static int64_t
s_days_from_civil (int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int
rules_parse_time (const char *text, int64_t *usec)
{
    int year, month, day, hour = 0, minute = 0, second = 0, consumed = 0;
    if (!text || sscanf (text, "%4d-%2d-%2d%n", &year, &month, &day, &consumed) != 3)
        return -1;
    const char *p = text + consumed;
    int64_t micros = 0;
    int64_t offset = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        int n = 0;
        if (sscanf (p + 1, "%2d:%2d%n", &hour, &minute, &n) != 2)
            return -1;
        p += 1 + n;
        if (*p == ':') {
            if (sscanf (p + 1, "%2d%n", &second, &n) != 1)
                return -1;
            p += 1 + n;
            if (*p == '.' || *p == ',') {
                p++;
                int digits = 0;
                while (isdigit ((unsigned char)*p)) {
                    if (digits < 6) {
                        micros = micros * 10 + (*p - '0');
                        digits++;
                    }
                    p++;
                }
                if (digits == 0)
                    return -1;
                while (digits++ < 6)
                    micros *= 10;
            }
        }
        if (*p == 'Z' || *p == 'z')
            p++;
        else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh = 0, om = 0;
            if (sscanf (p + 1, "%2d:%2d%n", &oh, &om, &n) == 2 ||
                sscanf (p + 1, "%2d%2d%n", &oh, &om, &n) == 2)
                p += 1 + n;
            else
                return -1;
            offset = sign * ((int64_t)oh * 3600 + om * 60);
        }
    }
    if (*p || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
        minute > 59 || second > 60)
        return -1;
    int64_t days = s_days_from_civil (year, (unsigned)month, (unsigned)day);
    int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset;
    *usec = seconds * 1000000 + micros;
    return 0;
}

static bool
s_time_of (const json_t *value, int64_t *usec)
{
    if (json_is_number (value)) {
        *usec = (int64_t)(json_number_value (value) * 1e6);
        return true;
    }
    if (json_is_string (value))
        return rules_parse_time (json_string_value (value), usec) == 0;
    return false;
}

//  ---------------------------------------------------------------------------

//  The criterion's regex finds `value` (matchregex: re.match, anchored at
//  the start; the others: re.search). A match over PCRE2's limits does not.
static bool
s_regex_matches (const criterion_t *c, const json_t *value)
{
    if (!json_is_string (value))
        return false;
    char *error = NULL;
    int rc = template_regex_find (c->regex, json_string_value (value),
                                  c->op == OP_MATCHREGEX ? TEMPLATE_REGEX_MATCH
                                                         : TEMPLATE_REGEX_SEARCH,
                                  NULL, &error);
    free (error);
    return rc == 1;
}

static bool s_eval (const criterion_t *c, const json_t *value, int64_t now_usec);

//  One item of a search: its child criteria, all or any of them
static bool
s_search_item (const criterion_t *c, const json_t *item, int64_t now_usec)
{
    bool any = c->condition == COND_ALL2ANY || c->condition == COND_ANY2ANY;
    json_t *context = json_pack ("{s:O}", "item", item);
    bool matched = !any;
    const rules_criteria_t *children = c->children;
    for (size_t i = 0; context && i < children->count; i++) {
        const criterion_t *child = &children->items[i];
        if (s_eval (child, rules_template_lookup (context, child->path), now_usec) ==
            any) {
            matched = any;
            break;
        }
    }
    json_decref (context);
    return context && matched;
}

//  StackStorm's search: a list (an object counts as a list of one) whose
//  items match the child criteria as the condition says
static bool
s_search (const criterion_t *c, const json_t *value, int64_t now_usec)
{
    if (json_is_object (value))
        return s_search_item (c, value, now_usec);
    if (!json_is_array (value))
        return false;
    bool any = c->condition == COND_ANY || c->condition == COND_ANY2ANY;
    size_t i;
    const json_t *item;
    json_array_foreach (value, i, item)
    {
        if (s_search_item (c, item, now_usec) == any)
            return any;
    }
    return !any;
}

static bool
s_eval (const criterion_t *c, const json_t *value, int64_t now_usec)
{
    const json_t *pattern = c->pattern;
    double a, b;
    switch (c->op) {
        case OP_EXISTS:
            return value != NULL;
        case OP_NEXISTS:
            return value == NULL;
        case OP_EQUALS:
            return value ? s_equal (value, pattern) : json_is_null (pattern);
        case OP_NEQUALS:
            return value ? !s_equal (value, pattern) : !json_is_null (pattern);
        default:
            break;
    }
    if (!value)
        return false;
    switch (c->op) {
        case OP_IEQUALS:
            return json_is_string (value) && json_is_string (pattern) &&
                   strcasecmp (json_string_value (value), json_string_value (pattern)) ==
                       0;
        case OP_CONTAINS:
            return s_contains (value, pattern, false);
        case OP_ICONTAINS:
            return s_contains (value, pattern, true);
        case OP_NCONTAINS:
            return (json_is_string (value) || json_is_array (value) ||
                    json_is_object (value)) &&
                   !s_contains (value, pattern, false);
        case OP_NICONTAINS:
            return (json_is_string (value) || json_is_array (value) ||
                    json_is_object (value)) &&
                   !s_contains (value, pattern, true);
        case OP_STARTSWITH:
            return s_affix (value, pattern, false, false);
        case OP_ISTARTSWITH:
            return s_affix (value, pattern, false, true);
        case OP_ENDSWITH:
            return s_affix (value, pattern, true, false);
        case OP_IENDSWITH:
            return s_affix (value, pattern, true, true);
        case OP_LESSTHAN:
            return s_number (value, &a) && s_number (pattern, &b) && a < b;
        case OP_GREATERTHAN:
            return s_number (value, &a) && s_number (pattern, &b) && a > b;
        case OP_INSIDE:
            return s_contains (pattern, value, false);
        case OP_NINSIDE:
            return (json_is_string (pattern) || json_is_array (pattern) ||
                    json_is_object (pattern)) &&
                   !s_contains (pattern, value, false);
        case OP_MATCHREGEX:
        case OP_REGEX:
        case OP_IREGEX:
            return s_regex_matches (c, value);
        case OP_SEARCH:
            return s_search (c, value, now_usec);
        case OP_MATCHWILDCARD:
            return json_is_string (value) && fnmatch (json_string_value (pattern),
                                                      json_string_value (value), 0) == 0;
        case OP_TIMEDIFF_LT:
        case OP_TIMEDIFF_GT: {
            int64_t when;
            if (!s_time_of (value, &when) || !s_number (pattern, &b))
                return false;
            double elapsed = (double)(now_usec - when) / 1e6;
            return c->op == OP_TIMEDIFF_LT ? elapsed < b : elapsed > b;
        }
        default:
            return false;
    }
}

static int
s_lookup_op (const char *name, op_t *op)
{
    for (size_t i = 0; s_ops[i].name; i++)
        if (strcmp (s_ops[i].name, name) == 0) {
            *op = s_ops[i].op;
            return 0;
        }
    return -1;
}

//  search: `condition` and a pattern of child criteria on `item.PATH`
static int
s_prepare_search (criterion_t *c, const json_t *condition, char *reason,
                  size_t reason_size)
{
    static const char *const names[] = {"all", "any", "all2any", "any2any"};
    const char *name = json_string_value (condition);
    for (int i = 0; name && i < 4; i++)
        if (strcmp (name, names[i]) == 0) {
            c->condition = (condition_t)i;
            name = NULL;
            break;
        }
    if (name || !condition) {
        snprintf (reason, reason_size,
                  "search needs condition: any, all, any2any or all2any");
        return -1;
    }
    if (!json_is_object (c->pattern) || json_object_size (c->pattern) == 0) {
        snprintf (reason, reason_size,
                  "search needs a pattern of criteria on the items "
                  "(item.PATH: {type: OPERATOR, pattern: VALUE})");
        return -1;
    }
    char field[256], message[512] = "";
    c->children =
        rules_criteria_new (c->pattern, field, sizeof field, message, sizeof message);
    if (!c->children) {
        snprintf (reason, reason_size, "pattern.%s",
                  *message ? message : "out of memory");
        return -1;
    }
    return 0;
}

static int s_pattern (criterion_t *c, const char *op_name, char *reason,
                      size_t reason_size);

//  Prepare one criterion. 0 or -1 with `reason` set.
static int
s_prepare (criterion_t *c, const char *op_name, const json_t *pattern,
           const json_t *condition, char *reason, size_t reason_size)
{
    if (s_lookup_op (op_name, &c->op)) {
        snprintf (
            reason, reason_size,
            "unknown operator \"%s\" (equals, nequals, iequals, contains, icontains, "
            "ncontains, nicontains, startswith, istartswith, endswith, iendswith, "
            "lessthan, greaterthan, exists, nexists, inside, ninside, matchregex, "
            "regex, iregex, search, matchwildcard, timediff_lt, timediff_gt, and "
            "StackStorm's short names eq, neq, ieq, incontains, in, nin, lt, gt, "
            "td_lt, td_gt)",
            op_name);
        return -1;
    }
    c->pattern = pattern ? json_deep_copy (pattern) : json_null ();
    if (c->op == OP_SEARCH) //  its pattern is criteria on the items
        return s_prepare_search (c, condition, reason, reason_size);
    const char *text = json_string_value (c->pattern);
    if (text && (strstr (text, "{{") || strstr (text, "{%"))) {
        c->templated = true; //  checked now, rendered and prepared per event
        return rules_template_check (c->pattern, "pattern", reason, reason_size);
    }
    return s_pattern (c, op_name, reason, reason_size);
}

//  Check the pattern against the operator (a regex compiled). 0 or -1
//  with `reason` set.
static int
s_pattern (criterion_t *c, const char *op_name, char *reason, size_t reason_size)
{
    switch (c->op) {
        case OP_MATCHREGEX:
        case OP_REGEX:
        case OP_IREGEX: {
            if (!json_is_string (c->pattern)) {
                snprintf (reason, reason_size, "%s needs a string pattern", op_name);
                return -1;
            }
            int flags = c->op == OP_IREGEX       ? TEMPLATE_REGEX_IGNORECASE
                        : c->op == OP_MATCHREGEX ? TEMPLATE_REGEX_DOTALL
                                                 : 0;
            char *error = NULL;
            c->regex = template_regex_new (json_string_value (c->pattern), flags, &error);
            if (!c->regex) {
                snprintf (reason, reason_size, "%s", error ? error : "out of memory");
                free (error);
                return -1;
            }
            break;
        }
        case OP_MATCHWILDCARD:
        case OP_IEQUALS:
        case OP_STARTSWITH:
        case OP_ISTARTSWITH:
        case OP_ENDSWITH:
        case OP_IENDSWITH:
            if (!json_is_string (c->pattern)) {
                snprintf (reason, reason_size, "%s needs a string pattern", op_name);
                return -1;
            }
            break;
        case OP_LESSTHAN:
        case OP_GREATERTHAN:
        case OP_TIMEDIFF_LT:
        case OP_TIMEDIFF_GT: {
            double d;
            if (!s_number (c->pattern, &d)) {
                snprintf (reason, reason_size, "%s needs a number pattern", op_name);
                return -1;
            }
            break;
        }
        case OP_INSIDE:
        case OP_NINSIDE:
            if (!json_is_array (c->pattern) && !json_is_string (c->pattern) &&
                !json_is_object (c->pattern)) {
                snprintf (reason, reason_size, "%s needs a list or string pattern",
                          op_name);
                return -1;
            }
            break;
        default:
            break;
    }
    return 0;
}

static void
s_criterion_clear (criterion_t *c)
{
    free (c->path);
    free (c->type);
    json_decref (c->pattern);
    template_regex_destroy (&c->regex);
    rules_criteria_destroy (&c->children);
    memset (c, 0, sizeof *c);
}

//  The payload key that `path` reads as rules_template_lookup resolves it
//  (trigger.payload.K... or trigger.K..., K a plain name): its start and
//  length, 0 for a path outside the payload (event.id). False when the
//  path may read more (trigger, trigger.payload, a bracketed key).
static bool
s_payload_key (const char *path, const char **key, size_t *len)
{
    *len = 0;
    if (strncmp (path, "trigger", 7) != 0)
        return true;
    if (path[7] != '.')
        return path[7] != 0 && path[7] != '[';
    const char *p = path + 8;
    if (strncmp (p, "payload", 7) == 0 && !isalnum ((unsigned char)p[7]) && p[7] != '_' &&
        p[7] != '-') {
        if (p[7] != '.')
            return false;
        p += 8;
    }
    *key = p;
    while (isalnum ((unsigned char)*p) || *p == '_' || *p == '-')
        p++;
    *len = (size_t)(p - *key);
    return *len > 0 && (*p == 0 || *p == '.' || *p == '[');
}

//  The payload keys the criteria read (rules_criteria_payload_keys). 0, or
//  -1 when out of memory.
static int
s_keys (rules_criteria_t *self)
{
    self->keys = self->count ? (char **)calloc (self->count, sizeof (char *)) : NULL;
    if (self->count && !self->keys)
        return -1;
    for (size_t i = 0; i < self->count && !self->keys_any; i++) {
        const criterion_t *c = &self->items[i];
        const char *key = NULL;
        size_t len;
        //  A template or a search's items may read anything
        self->keys_any =
            c->templated || c->op == OP_SEARCH || !s_payload_key (c->path, &key, &len);
        if (self->keys_any || len == 0)
            continue;
        if (!(self->keys[self->nkeys] = strndup (key, len)))
            return -1;
        self->nkeys++;
    }
    return 0;
}

const char *const *
rules_criteria_payload_keys (const rules_criteria_t *self, size_t *count)
{
    static const char *const none[] = {NULL};
    *count = self ? self->nkeys : 0;
    if (!self)
        return none;
    return self->keys_any ? NULL : self->keys ? (const char *const *)self->keys : none;
}

rules_criteria_t *
rules_criteria_new (const json_t *criteria, char *field, size_t field_size, char *message,
                    size_t message_size)
{
    if (field && field_size)
        *field = 0;
    if (criteria && !json_is_null (criteria) && !json_is_object (criteria)) {
        if (message && message_size)
            snprintf (message, message_size,
                      "criteria: must be a mapping of path: "
                      "{type: OPERATOR, pattern: VALUE}");
        return NULL;
    }
    rules_criteria_t *self = (rules_criteria_t *)calloc (1, sizeof (rules_criteria_t));
    if (!self)
        return NULL;
    size_t count = json_is_object (criteria) ? json_object_size (criteria) : 0;
    self->items = count ? (criterion_t *)calloc (count, sizeof (criterion_t)) : NULL;
    if (count && !self->items) {
        free (self);
        return NULL;
    }
    const char *key;
    json_t *spec;
    if (count)
        json_object_foreach ((json_t *)criteria, key, spec)
        {
            char reason[768] = "";
            criterion_t *c = &self->items[self->count];
            const json_t *type = json_object_get (spec, "type");
            if (!json_is_object (spec))
                snprintf (reason, sizeof reason,
                          "must be a mapping {type: OPERATOR, pattern: VALUE}");
            else if (!json_is_string (type))
                snprintf (reason, sizeof reason, "type: missing operator name");
            else if (!*key || *key == '#')
                snprintf (reason, sizeof reason, "empty path");
            else {
                const char *k;
                json_t *v;
                json_object_foreach (spec, k, v) if (strcmp (k, "type") &&
                                                     strcmp (k, "pattern") &&
                                                     strcmp (k, "condition"))
                    snprintf (reason, sizeof reason,
                              "unknown key \"%s\" (only type, pattern and condition)", k);
            }
            if (!*reason) {
                //  From a '#' on, a key is a comment: one path, several criteria
                const char *hash = strchr (key, '#');
                c->path = hash ? strndup (key, (size_t)(hash - key)) : strdup (key);
                c->type = strdup (json_string_value (type));
                s_prepare (c, json_string_value (type), json_object_get (spec, "pattern"),
                           json_object_get (spec, "condition"), reason, sizeof reason);
                self->kv |=
                    c->templated && strstr (json_string_value (c->pattern), "st2kv.");
            }
            if (*reason) {
                if (field && field_size)
                    snprintf (field, field_size, "%s", key);
                if (message && message_size)
                    snprintf (message, message_size, "criteria.%s: %s", key, reason);
                self->count++;
                rules_criteria_destroy (&self);
                return NULL;
            }
            self->count++;
        }
    if (s_keys (self) != 0)
        rules_criteria_destroy (&self);
    return self;
}

void
rules_criteria_destroy (rules_criteria_t **self_p)
{
    if (self_p && *self_p) {
        rules_criteria_t *self = *self_p;
        for (size_t i = 0; i < self->nkeys; i++)
            free (self->keys[i]);
        free (self->keys);
        for (size_t i = 0; i < self->count; i++)
            s_criterion_clear (&self->items[i]);
        free (self->items);
        free (self);
        *self_p = NULL;
    }
}

//  A criterion whose pattern is a template: rendered with the event's
//  context (a lone expression keeps its type, as StackStorm's to_complex
//  does), then checked and evaluated as a written pattern would be. A
//  pattern that does not render, or renders unfit for the operator, does
//  not match (logged), as in StackStorm.
static bool
s_eval_rendered (const criterion_t *c, const json_t *value, const json_t *context,
                 int64_t now_usec)
{
    char reason[768] = "";
    char where[300];
    snprintf (where, sizeof where, "criteria.%s.pattern", c->path);
    criterion_t rendered = {.op = c->op};
    rendered.pattern =
        rules_template_render (c->pattern, context, where, reason, sizeof reason);
    bool match = false;
    if (!rendered.pattern)
        zsys_warning ("rules: %s", reason);
    else if (s_pattern (&rendered, "the operator", reason, sizeof reason) != 0)
        zsys_warning ("rules: %s: %s", where, reason);
    else
        match = s_eval (&rendered, value, now_usec);
    s_criterion_clear (&rendered);
    return match;
}

bool
rules_criteria_uses_kv (const rules_criteria_t *self)
{
    return self && self->kv;
}

//  Whether criterion `c` holds in `context` (a templated pattern rendered)
static bool
s_holds (const criterion_t *c, const json_t *context, int64_t now_usec)
{
    const json_t *value = rules_template_lookup (context, c->path);
    return c->templated ? s_eval_rendered (c, value, context, now_usec)
                        : s_eval (c, value, now_usec);
}

bool
rules_criteria_match (const rules_criteria_t *self, const json_t *context,
                      int64_t now_usec)
{
    if (!self)
        return true;
    for (size_t i = 0; i < self->count; i++)
        if (!s_holds (&self->items[i], context, now_usec))
            return false;
    return true;
}

int
rules_criteria_test (const char *op, const json_t *value, const json_t *pattern,
                     int64_t now_usec)
{
    criterion_t c;
    memset (&c, 0, sizeof c);
    char reason[512];
    if (s_prepare (&c, op, pattern, NULL, reason, sizeof reason)) {
        s_criterion_clear (&c);
        return -1;
    }
    bool result = s_eval (&c, value, now_usec);
    s_criterion_clear (&c);
    return result ? 1 : 0;
}

json_t *
rules_criteria_explain (const rules_criteria_t *self, const json_t *context,
                        int64_t now_usec, bool *matched)
{
    json_t *list = json_array ();
    *matched = true;
    for (size_t i = 0; self && list && i < self->count; i++) {
        const criterion_t *c = &self->items[i];
        const json_t *value = rules_template_lookup (context, c->path);
        bool holds = s_holds (c, context, now_usec);
        *matched &= holds;
        json_t *entry =
            json_pack ("{s:s, s:s, s:O, s:b}", "path", c->path, "type",
                       c->type ? c->type : "?", "pattern", c->pattern, "matched", holds);
        if (entry && value)
            json_object_set (entry, "value", (json_t *)value);
        json_array_append_new (list, entry);
    }
    return list;
}
