/*  rules_criteria: every operator true and false, missing paths, wrong
    types, compile errors. */
#include <criterion/criterion.h>
#include <string.h>
#include "actors/rules/rules_criteria.h"

#define NOW 1795305600000000LL //  2026-11-22T00:00:00Z

typedef struct {
    const char *op;
    const char *value;   //  JSON, or NULL for a missing value
    const char *pattern; //  JSON
    int expect;          //  1 true, 0 false
} row_t;

static const row_t s_table[] = {
    {"equals", "3", "3", 1},
    {"equals", "3", "3.0", 1},
    {"equals", "3", "\"3\"", 0},
    {"equals", "\"a\"", "\"a\"", 1},
    {"equals", "{\"x\": [1]}", "{\"x\": [1]}", 1},
    {"equals", NULL, "3", 0},
    {"nequals", "3", "4", 1},
    {"nequals", "3", "3", 0},
    {"nequals", NULL, "3", 1},
    {"iequals", "\"HeLLo\"", "\"hello\"", 1},
    {"iequals", "\"hello\"", "\"help\"", 0},
    {"iequals", "5", "\"5\"", 0},
    {"contains", "\"deploy failed\"", "\"fail\"", 1},
    {"contains", "\"deploy ok\"", "\"fail\"", 0},
    {"contains", "[1, 2, 3]", "2", 1},
    {"contains", "[1, 2, 3]", "4", 0},
    {"contains", "{\"k\": 1}", "\"k\"", 1},
    {"contains", "5", "\"5\"", 0},
    {"icontains", "\"Deploy FAILED\"", "\"failed\"", 1},
    {"icontains", "\"Deploy ok\"", "\"failed\"", 0},
    {"ncontains", "\"deploy ok\"", "\"fail\"", 1},
    {"ncontains", "\"deploy failed\"", "\"fail\"", 0},
    {"ncontains", "5", "\"x\"", 0},
    {"ncontains", NULL, "\"x\"", 0},
    {"nicontains", "\"a B c\"", "\"d\"", 1},
    {"nicontains", "\"a B c\"", "\"b\"", 0},
    {"startswith", "\"web-01\"", "\"web\"", 1},
    {"startswith", "\"db-01\"", "\"web\"", 0},
    {"istartswith", "\"WEB-01\"", "\"web\"", 1},
    {"istartswith", "\"db\"", "\"web\"", 0},
    {"endswith", "\"app.log\"", "\".log\"", 1},
    {"endswith", "\"log\"", "\".log\"", 0},
    {"iendswith", "\"APP.LOG\"", "\".log\"", 1},
    {"iendswith", "\"app.txt\"", "\".log\"", 0},
    {"lessthan", "3", "5", 1},
    {"lessthan", "5", "3", 0},
    {"lessthan", "\"3\"", "5", 1},
    {"lessthan", "\"abc\"", "5", 0},
    {"lessthan", NULL, "5", 0},
    {"greaterthan", "7.5", "5", 1},
    {"greaterthan", "5", "5", 0},
    {"greaterthan", "true", "0", 0},
    {"exists", "null", "null", 1},
    {"exists", NULL, "null", 0},
    {"nexists", NULL, "null", 1},
    {"nexists", "1", "null", 0},
    {"inside", "\"b\"", "[\"a\", \"b\"]", 1},
    {"inside", "\"c\"", "[\"a\", \"b\"]", 0},
    {"inside", "\"ell\"", "\"hello\"", 1},
    {"ninside", "\"c\"", "[\"a\", \"b\"]", 1},
    {"ninside", "\"a\"", "[\"a\", \"b\"]", 0},
    {"matchregex", "\"web12\"", "\"web[0-9]+$\"", 1},
    {"matchregex", "\"my-web12\"", "\"web[0-9]+\"", 0}, //  anchored at the start
    {"matchregex", "12", "\"[0-9]+\"", 0},              //  not a string
    {"matchregex", "\"a\\nb\"", "\"a.b\"", 1},          //  re.DOTALL
    {"regex", "\"abc\"", "\"a.c\"", 1},
    {"regex", "\"my-web12\"", "\"web\\\\d+\"", 1}, //  re.search: anywhere
    {"regex", "\"a\\nb\"", "\"a.b\"", 0},
    {"regex", "\"ERROR: disk\"", "\"(?i)error\"", 1},
    {"regex", "\"<a><b>\"", "\"^<.+?>$\"", 1},    //  a lazy quantifier
    {"regex", "\"foobar\"", "\"foo(?=bar)\"", 1}, //  lookahead
    {"regex", "\"foobaz\"", "\"foo(?=bar)\"", 0},
    {"regex", "\"xbar\"", "\"(?<!foo)bar\"", 1}, //  lookbehind
    {"iregex", "\"ABC\"", "\"a.c\"", 1},
    {"iregex", "\"x-ABC\"", "\"a.c\"", 1},
    {"iregex", "\"xbc\"", "\"a.c\"", 0},
    //  StackStorm's short names
    {"eq", "3", "3", 1},
    {"ieq", "\"A\"", "\"a\"", 1},
    {"incontains", "\"a B c\"", "\"b\"", 0},
    {"incontains", "\"a B c\"", "\"d\"", 1},
    {"in", "\"b\"", "[\"a\", \"b\"]", 1},
    {"nin", "\"b\"", "[\"a\", \"b\"]", 0},
    {"td_lt", "\"2026-11-21T23:59:30Z\"", "60", 1},
    {"td_gt", "\"2026-11-21T23:59:30Z\"", "60", 0},
    {"timediff_lt_seconds", "\"2026-11-21T23:59:30Z\"", "60", 1},
    {"matchwildcard", "\"web-01.example\"", "\"web-*\"", 1},
    {"matchwildcard", "\"db-01\"", "\"web-*\"", 0},
    {"timediff_lt", "\"2026-11-21T23:59:30Z\"", "60", 1},
    {"timediff_lt", "\"2026-11-21T23:58:00Z\"", "60", 0},
    {"timediff_gt", "\"2026-11-21T23:58:00Z\"", "60", 1},
    {"timediff_gt", "\"2026-11-22T01:00:30+01:00\"", "60", 0},
    {"timediff_lt", "\"yesterday\"", "60", 0},
};

Test (rules_criteria, operator_table)
{
    for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; i++) {
        const row_t *row = &s_table[i];
        json_t *value =
            row->value ? json_loads (row->value, JSON_DECODE_ANY, NULL) : NULL;
        json_t *pattern = json_loads (row->pattern, JSON_DECODE_ANY, NULL);
        cr_assert (pattern, "row %zu: bad pattern", i);
        int got = rules_criteria_test (row->op, value, pattern, NOW);
        cr_expect_eq (got, row->expect, "row %zu: %s(%s, %s) = %d, expected %d", i,
                      row->op, row->value ? row->value : "<missing>", row->pattern, got,
                      row->expect);
        json_decref (value);
        json_decref (pattern);
    }
}

Test (rules_criteria, compiled_criteria_are_anded)
{
    json_t *criteria = json_loads (
        "{\"trigger.payload.status\": {\"type\": \"equals\", \"pattern\": \"failed\"},"
        " \"trigger.host\": {\"type\": \"matchregex\", \"pattern\": \"^web[0-9]+$\"}}",
        0, NULL);
    char field[128], message[512];
    rules_criteria_t *c =
        rules_criteria_new (criteria, field, sizeof field, message, sizeof message);
    cr_assert_not_null (c, "%s", message);
    json_t *yes = json_loads (
        "{\"trigger\": {\"payload\": {\"status\": \"failed\", \"host\": \"web3\"}}}", 0,
        NULL);
    json_t *no1 = json_loads (
        "{\"trigger\": {\"payload\": {\"status\": \"ok\", \"host\": \"web3\"}}}", 0,
        NULL);
    json_t *no2 = json_loads (
        "{\"trigger\": {\"payload\": {\"status\": \"failed\", \"host\": \"db1\"}}}", 0,
        NULL);
    json_t *no3 = json_loads ("{\"trigger\": {\"payload\": {}}}", 0, NULL);
    cr_expect (rules_criteria_match (c, yes, NOW));
    cr_expect_not (rules_criteria_match (c, no1, NOW));
    cr_expect_not (rules_criteria_match (c, no2, NOW));
    cr_expect_not (rules_criteria_match (c, no3, NOW));
    rules_criteria_destroy (&c);
    cr_expect_null (c);
    //  No criteria: always true
    c = rules_criteria_new (NULL, field, sizeof field, message, sizeof message);
    cr_assert_not_null (c);
    cr_expect (rules_criteria_match (c, no3, NOW));
    rules_criteria_destroy (&c);
    json_decref (criteria);
    json_decref (yes);
    json_decref (no1);
    json_decref (no2);
    json_decref (no3);
}

Test (rules_criteria, compile_errors_name_the_field)
{
    struct {
        const char *criteria;
        const char *field;
        const char *fragment;
    } cases[] = {
        {"{\"trigger.payload.n\": {\"type\": \"equal\", \"pattern\": 3}}",
         "trigger.payload.n", "criteria.trigger.payload.n: unknown operator \"equal\""},
        {"{\"trigger.payload.n\": {\"pattern\": 3}}", "trigger.payload.n",
         "missing operator"},
        {"{\"trigger.payload.s\": {\"type\": \"matchregex\", \"pattern\": \"([\"}}",
         "trigger.payload.s", "invalid regular expression"},
        {"{\"trigger.payload.n\": {\"type\": \"lessthan\", \"pattern\": \"abc\"}}",
         "trigger.payload.n", "needs a number"},
        {"{\"trigger.payload.n\": {\"type\": \"inside\", \"pattern\": 3}}",
         "trigger.payload.n", "needs a list"},
        {"{\"trigger.payload.n\": 3}", "trigger.payload.n", "must be a mapping"},
        {"{\"trigger.payload.n\": {\"type\": \"equals\", \"pattern\": 1, \"extra\": 2}}",
         "trigger.payload.n", "unknown key \"extra\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *criteria = json_loads (cases[i].criteria, 0, NULL);
        cr_assert (criteria, "case %zu", i);
        char field[128] = "", message[512] = "";
        rules_criteria_t *c =
            rules_criteria_new (criteria, field, sizeof field, message, sizeof message);
        cr_expect_null (c, "case %zu compiled", i);
        cr_expect_str_eq (field, cases[i].field, "case %zu", i);
        cr_expect (strstr (message, cases[i].fragment) != NULL,
                   "case %zu: '%s' lacks '%s'", i, message, cases[i].fragment);
        rules_criteria_destroy (&c);
        json_decref (criteria);
    }
    json_t *list = json_loads ("[1]", 0, NULL);
    char message[512] = "";
    cr_expect_null (rules_criteria_new (list, NULL, 0, message, sizeof message));
    json_decref (list);
}

Test (rules_criteria, iso8601_times)
{
    int64_t usec;
    cr_expect_eq (rules_parse_time ("1970-01-01T00:00:00Z", &usec), 0);
    cr_expect_eq (usec, 0);
    cr_expect_eq (rules_parse_time ("2026-11-22T00:00:00Z", &usec), 0);
    cr_expect_eq (usec, NOW);
    cr_expect_eq (rules_parse_time ("2026-11-22T01:00:00.250+01:00", &usec), 0);
    cr_expect_eq (usec, NOW + 250000);
    cr_expect_eq (rules_parse_time ("2026-11-22 00:00", &usec), 0);
    cr_expect_eq (usec, NOW);
    cr_expect_eq (rules_parse_time ("2026-13-01T00:00:00Z", &usec), -1);
    cr_expect_eq (rules_parse_time ("2026-11-22T00:00:00Zjunk", &usec), -1);
    cr_expect_eq (rules_parse_time ("", &usec), -1);
}

Test (rules_criteria, unknown_operator_in_test_helper)
{
    json_t *one = json_integer (1);
    cr_expect_eq (rules_criteria_test ("bogus", one, one, NOW), -1);
    json_decref (one);
}

//  StackStorm's search: child criteria on each item, four conditions
static bool
s_search (const char *condition, const char *fields)
{
    char text[1024];
    snprintf (text, sizeof text,
              "{\"trigger.fields\": {\"type\": \"search\", \"condition\": \"%s\","
              " \"pattern\": {\"item.field_name\": {\"type\": \"equals\", \"pattern\":"
              " \"Status\"}, \"item.to_value\": {\"type\": \"equals\", \"pattern\":"
              " \"Approved\"}}}}",
              condition);
    json_t *criteria = json_loads (text, 0, NULL);
    char field[128], message[512];
    rules_criteria_t *c =
        rules_criteria_new (criteria, field, sizeof field, message, sizeof message);
    cr_assert_not_null (c, "%s", message);
    snprintf (text, sizeof text, "{\"trigger\": {\"payload\": {\"fields\": %s}}}",
              fields);
    json_t *context = json_loads (text, 0, NULL);
    cr_assert_not_null (context, "%s", text);
    bool result = rules_criteria_match (c, context, NOW);
    json_decref (context);
    json_decref (criteria);
    rules_criteria_destroy (&c);
    return result;
}

Test (rules_criteria, search_conditions)
{
    const char *both = "[{\"field_name\": \"Status\", \"to_value\": \"Approved\"},"
                       " {\"field_name\": \"Status\", \"to_value\": \"Approved\"}]";
    const char *one = "[{\"field_name\": \"Status\", \"to_value\": \"Approved\"},"
                      " {\"field_name\": \"Other\", \"to_value\": \"x\"}]";
    const char *halves = "[{\"field_name\": \"Status\", \"to_value\": \"x\"},"
                         " {\"field_name\": \"y\", \"to_value\": \"Approved\"}]";
    const char *none = "[{\"field_name\": \"a\", \"to_value\": \"b\"}]";
    cr_expect (s_search ("any", one));
    cr_expect_not (s_search ("any", halves));
    cr_expect (s_search ("all", both));
    cr_expect_not (s_search ("all", one));
    cr_expect (s_search ("any2any", halves));
    cr_expect_not (s_search ("any2any", none));
    cr_expect (s_search ("all2any", halves));
    cr_expect_not (s_search ("all2any", one));
    //  An object is a list of one; anything else matches nothing
    cr_expect (
        s_search ("all", "{\"field_name\": \"Status\", \"to_value\": \"Approved\"}"));
    cr_expect_not (s_search ("any", "\"Status\""));
    cr_expect (s_search ("all", "[]")); //  all() of nothing, as Python's
    cr_expect_not (s_search ("any", "[]"));
}

Test (rules_criteria, search_errors_and_hash_comments)
{
    char field[128], message[512];
    json_t *criteria =
        json_loads ("{\"trigger.xs\": {\"type\": \"search\", \"pattern\": {\"item.a\":"
                    " {\"type\": \"equals\", \"pattern\": 1}}}}",
                    0, NULL);
    rules_criteria_t *c =
        rules_criteria_new (criteria, field, sizeof field, message, sizeof message);
    cr_expect_null (c);
    cr_expect (strstr (message, "condition"), "%s", message);
    json_decref (criteria);
    criteria =
        json_loads ("{\"trigger.xs\": {\"type\": \"search\", \"condition\": \"any\","
                    " \"pattern\": {\"item.a\": {\"type\": \"equal\"}}}}",
                    0, NULL);
    c = rules_criteria_new (criteria, field, sizeof field, message, sizeof message);
    cr_expect_null (c);
    cr_expect (strstr (message, "criteria.trigger.xs: pattern.criteria.item.a: unknown"),
               "%s", message);
    json_decref (criteria);
    //  From '#' on a key is a comment: two criteria on one path
    criteria = json_loads ("{\"trigger.n#1\": {\"type\": \"gt\", \"pattern\": 40},"
                           " \"trigger.n#2\": {\"type\": \"lt\", \"pattern\": 50}}",
                           0, NULL);
    c = rules_criteria_new (criteria, field, sizeof field, message, sizeof message);
    cr_assert_not_null (c, "%s", message);
    json_t *in = json_loads ("{\"trigger\": {\"payload\": {\"n\": 45}}}", 0, NULL);
    json_t *out = json_loads ("{\"trigger\": {\"payload\": {\"n\": 55}}}", 0, NULL);
    cr_expect (rules_criteria_match (c, in, NOW));
    cr_expect_not (rules_criteria_match (c, out, NOW));
    json_decref (in);
    json_decref (out);
    json_decref (criteria);
    rules_criteria_destroy (&c);
}

static bool
s_matches (rules_criteria_t *c, const char *context)
{
    json_t *json = json_loads (context, 0, NULL);
    cr_assert (json, "%s", context);
    bool match = rules_criteria_match (c, json, NOW);
    json_decref (json);
    return match;
}

Test (rules_criteria, jinja_patterns_render_per_event_as_stackstorms)
{
    json_t *criteria =
        json_loads ("{\"trigger.payload.owner\": {\"type\": \"equals\","
                    "   \"pattern\": \"{{ trigger.payload.author }}\"},"
                    " \"trigger.payload.n\": {\"type\": \"lessthan\","
                    "   \"pattern\": \"{{ trigger.payload.limit * 2 }}\"},"
                    " \"trigger.payload.host\": {\"type\": \"inside\","
                    "   \"pattern\": \"{{ st2kv.system.hosts | from_json_string }}\"},"
                    " \"trigger.payload.tag\": {\"type\": \"regex\","
                    "   \"pattern\": \"^{{ trigger.payload.prefix }}-\\\\d+$\"}}",
                    0, NULL);
    cr_assert (criteria);
    char field[128], message[512];
    rules_criteria_t *c =
        rules_criteria_new (criteria, field, sizeof field, message, sizeof message);
    cr_assert_not_null (c, "%s", message);
    cr_expect (rules_criteria_uses_kv (c));
    const char *kv = "\"st2kv\": {\"system\": {\"hosts\": \"[\\\"a\\\", \\\"b\\\"]\"}}";
    char yes[1024], no[1024], bad[1024];
    snprintf (yes, sizeof yes,
              "{\"trigger\": {\"payload\": {\"owner\": \"ann\", \"author\": \"ann\","
              " \"n\": 7, \"limit\": 4, \"host\": \"b\", \"tag\": \"rel-12\","
              " \"prefix\": \"rel\"}}, %s}",
              kv);
    cr_expect (s_matches (c, yes), "every rendered pattern holds");
    snprintf (no, sizeof no,
              "{\"trigger\": {\"payload\": {\"owner\": \"ann\", \"author\": \"bob\","
              " \"n\": 7, \"limit\": 4, \"host\": \"b\", \"tag\": \"rel-12\","
              " \"prefix\": \"rel\"}}, %s}",
              kv);
    cr_expect_not (s_matches (c, no), "the owner is not the author");
    snprintf (no, sizeof no,
              "{\"trigger\": {\"payload\": {\"owner\": \"ann\", \"author\": \"ann\","
              " \"n\": 9, \"limit\": 4, \"host\": \"b\", \"tag\": \"rel-12\","
              " \"prefix\": \"rel\"}}, %s}",
              kv);
    cr_expect_not (s_matches (c, no), "9 is not below 4 * 2: the number kept its type");
    //  a pattern that does not render (an undefined name) matches nothing
    snprintf (bad, sizeof bad,
              "{\"trigger\": {\"payload\": {\"owner\": \"ann\", \"author\": \"ann\","
              " \"n\": 7, \"limit\": 4, \"host\": \"b\", \"tag\": \"rel-12\"}}, %s}",
              kv);
    cr_expect_not (s_matches (c, bad));
    //  ... nor one that renders unfit for its operator
    snprintf (bad, sizeof bad,
              "{\"trigger\": {\"payload\": {\"owner\": \"ann\", \"author\": \"ann\","
              " \"n\": 7, \"limit\": \"x\", \"host\": \"b\", \"tag\": \"rel-12\","
              " \"prefix\": \"rel\"}}, %s}",
              kv);
    cr_expect_not (s_matches (c, bad));
    rules_criteria_destroy (&c);
    json_decref (criteria);
    //  a template's syntax is checked at load, naming the criterion
    criteria = json_loads (
        "{\"trigger.payload.a\": {\"type\": \"equals\", \"pattern\": \"{{ x + }}\"}}", 0,
        NULL);
    c = rules_criteria_new (criteria, field, sizeof field, message, sizeof message);
    cr_expect_null (c);
    cr_expect_str_eq (field, "trigger.payload.a");
    cr_expect (strstr (message, "criteria.trigger.payload.a") &&
                   strstr (message, "line 1"),
               "%s", message);
    json_decref (criteria);
}

//  The payload keys a rule's criteria read (the rules actor converts only
//  those of an event's payload): NULL whenever they may read more
static const char *
s_keys (const char *yaml_json)
{
    static char out[256];
    json_t *criteria = json_loads (yaml_json, 0, NULL);
    cr_assert (criteria, "%s", yaml_json);
    char field[128], message[512];
    rules_criteria_t *c =
        rules_criteria_new (criteria, field, sizeof field, message, sizeof message);
    cr_assert (c, "%s", message);
    size_t count;
    const char *const *keys = rules_criteria_payload_keys (c, &count);
    if (!keys)
        snprintf (out, sizeof out, "any");
    else {
        out[0] = 0;
        for (size_t i = 0; i < count; i++)
            snprintf (out + strlen (out), sizeof out - strlen (out), "%s%s", i ? "," : "",
                      keys[i]);
    }
    rules_criteria_destroy (&c);
    json_decref (criteria);
    return out;
}

Test (rules_criteria, payload_keys_read_by_criteria)
{
    cr_expect_str_eq (s_keys ("{\"trigger.status\": {\"type\": \"equals\", "
                              "\"pattern\": \"failed\"}}"),
                      "status");
    cr_expect_str_eq (s_keys ("{\"trigger.payload.a.b\": {\"type\": \"exists\"}, "
                              "\"trigger.c[0]\": {\"type\": \"exists\"}, "
                              "\"event.id\": {\"type\": \"exists\"}}"),
                      "a,c");
    cr_expect_str_eq (s_keys ("{}"), "");
    //  What may read more: the payload whole, the trigger whole, a bracketed
    //  key, a template, a search's items
    cr_expect_str_eq (s_keys ("{\"trigger.payload\": {\"type\": \"exists\"}}"), "any");
    cr_expect_str_eq (s_keys ("{\"trigger\": {\"type\": \"exists\"}}"), "any");
    cr_expect_str_eq (
        s_keys ("{\"trigger.payload[\\\"a b\\\"]\": {\"type\": \"exists\"}}"), "any");
    cr_expect_str_eq (s_keys ("{\"trigger.status\": {\"type\": \"equals\", "
                              "\"pattern\": \"{{ trigger.wanted }}\"}}"),
                      "any");
    cr_expect_str_eq (s_keys ("{\"trigger.items\": {\"type\": \"search\", "
                              "\"condition\": \"any\", \"pattern\": "
                              "{\"item.n\": {\"type\": \"equals\", \"pattern\": 1}}}}"),
                      "any");
}
