/*  rules_template: sandboxed parameter rendering. */
#include <criterion/criterion.h>
#include <string.h>
#include "actors/rules/rules_template.h"

static json_t *s_context;

static void
s_setup (void)
{
    s_context =
        json_loads ("{\"trigger\": {\"type\": \"core.webhook\", \"payload\": "
                    "{\"n\": 3, \"host\": \"web1\", \"ok\": true, \"ratio\": 0.5, "
                    "\"m\": {\"a\": [1, 2, {\"b\": \"deep\"}]}, \"a.b\": 5, "
                    "\"nothing\": null}}, \"event\": {\"id\": \"17\"}, "
                    "\"rule\": {\"ref\": \"ops.restart\"}}",
                    0, NULL);
    cr_assert_not_null (s_context);
}

static void
s_teardown (void)
{
    json_decref (s_context);
}

static json_t *
s_render (const char *text, char *message)
{
    json_t *value = json_string (text);
    json_t *result =
        rules_template_render (value, s_context, "parameters.p", message, 512);
    json_decref (value);
    return result;
}

#define EXPECT_JSON(text, expected)                                                      \
    do {                                                                                 \
        char message_[512] = "";                                                         \
        json_t *got_ = s_render (text, message_);                                        \
        cr_assert_not_null (got_, "%s: %s", text, message_);                             \
        json_t *want_ = json_loads (expected, JSON_DECODE_ANY, NULL);                    \
        char *dump_ = json_dumps (got_, JSON_ENCODE_ANY);                                \
        cr_expect (json_equal (got_, want_), "%s rendered %s, expected %s", text, dump_, \
                   expected);                                                            \
        free (dump_);                                                                    \
        json_decref (got_);                                                              \
        json_decref (want_);                                                             \
    } while (0)

#define EXPECT_ERROR(text, fragment)                                                     \
    do {                                                                                 \
        char message_[512] = "";                                                         \
        json_t *got_ = s_render (text, message_);                                        \
        cr_expect_null (got_, "%s rendered", text);                                      \
        json_decref (got_);                                                              \
        cr_expect (strstr (message_, fragment) != NULL, "%s: '%s' lacks '%s'", text,     \
                   message_, fragment);                                                  \
    } while (0)

TestSuite (rules_template, .init = s_setup, .fini = s_teardown);

Test (rules_template, single_expression_keeps_type)
{
    EXPECT_JSON ("{{ trigger.payload.n }}", "3");
    EXPECT_JSON ("{{trigger.payload.ok}}", "true");
    EXPECT_JSON ("{{ trigger.payload.ratio }}", "0.5");
    EXPECT_JSON ("{{ trigger.payload.m }}", "{\"a\": [1, 2, {\"b\": \"deep\"}]}");
    EXPECT_JSON ("  {{ trigger.payload.m.a }}  ", "[1, 2, {\"b\": \"deep\"}]");
    EXPECT_JSON ("{{ trigger.payload.nothing }}", "null");
    EXPECT_JSON ("{{ trigger.payload.m.a[2].b }}", "\"deep\"");
    EXPECT_JSON ("{{ trigger.payload[\"a.b\"] }}", "5");
}

Test (rules_template, interpolation_makes_text)
{
    EXPECT_JSON ("n={{ trigger.payload.n }} on {{ trigger.payload.host }}",
                 "\"n=3 on web1\"");
    EXPECT_JSON ("m={{ trigger.payload.m.a }}", "\"m=[1,2,{\\\"b\\\":\\\"deep\\\"}]\"");
    EXPECT_JSON ("event {{ event.id }} by {{ rule.ref }}", "\"event 17 by ops.restart\"");
    EXPECT_JSON ("no templates here", "\"no templates here\"");
}

Test (rules_template, stackstorm_alias_trigger_x)
{
    EXPECT_JSON ("{{ trigger.host }}", "\"web1\"");
    EXPECT_JSON ("{{ trigger.type }}", "\"core.webhook\"");
}

Test (rules_template, missing_keys_and_default)
{
    EXPECT_ERROR ("{{ trigger.payload.absent }}",
                  "trigger.payload.absent is not defined");
    EXPECT_ERROR ("x {{ trigger.payload.m.a[9] }}", "is not defined");
    EXPECT_JSON ("{{ trigger.payload.absent | default(7) }}", "7");
    EXPECT_JSON ("{{ trigger.payload.absent | default('a b') }}", "\"a b\"");
    EXPECT_JSON ("{{ trigger.payload.absent | default(\"x\") | upper }}", "\"X\"");
    EXPECT_JSON ("{{ trigger.payload.nothing | default(false) }}", "false");
    EXPECT_JSON ("{{ trigger.payload.n | default(9) }}", "3");
}

Test (rules_template, filters)
{
    EXPECT_JSON ("{{ event.id | int }}", "17");
    EXPECT_JSON ("{{ trigger.payload.n | string }}", "\"3\"");
    EXPECT_JSON ("{{ trigger.payload.n | float }}", "3.0");
    EXPECT_JSON ("{{ trigger.payload.host | upper }}", "\"WEB1\"");
    EXPECT_JSON ("{{ trigger.payload.m | json }}",
                 "\"{\\\"a\\\":[1,2,{\\\"b\\\":\\\"deep\\\"}]}\"");
    EXPECT_JSON ("{{ trigger.payload.n | bool }}", "true");
    EXPECT_ERROR ("{{ trigger.payload.host | int }}", "cannot convert");
    EXPECT_ERROR ("{{ trigger.payload.n | shell }}", "unknown filter 'shell'");
}

Test (rules_template, cannot_execute_code)
{
    EXPECT_ERROR ("{{ __import__('os').system('id') }}", "malformed path");
    EXPECT_ERROR ("{{ trigger.payload.n + 1 }}", "unexpected");
    EXPECT_ERROR ("{{ config.items() }}", "malformed path");
    EXPECT_ERROR ("{{ }}", "expected a path");
    EXPECT_ERROR ("{{ trigger.payload.n", "without a closing");
    //  Shell metacharacters are plain data
    EXPECT_JSON ("$(touch /tmp/x); `id` {{ trigger.payload.host }}",
                 "\"$(touch /tmp/x); `id` web1\"");
}

Test (rules_template, renders_nested_parameters_and_checks_syntax)
{
    json_t *params =
        json_loads ("{\"cmd\": \"echo {{ trigger.payload.host }}\", \"n\": "
                    "\"{{ trigger.payload.n }}\", \"list\": [\"{{ event.id }}\", 5], "
                    "\"fixed\": 1.5}",
                    0, NULL);
    char message[512] = "";
    json_t *out =
        rules_template_render (params, s_context, "parameters", message, sizeof message);
    cr_assert_not_null (out, "%s", message);
    json_t *want =
        json_loads ("{\"cmd\": \"echo web1\", \"n\": 3, \"list\": [\"17\", 5], "
                    "\"fixed\": 1.5}",
                    0, NULL);
    cr_expect (json_equal (out, want));
    json_decref (out);
    json_decref (want);
    cr_expect_eq (rules_template_check (params, "parameters", message, sizeof message),
                  0);
    json_decref (params);

    json_t *bad = json_loads ("{\"a\": {\"b\": [\"ok\", \"{{ x | nope }}\"]}}", 0, NULL);
    out = rules_template_render (bad, s_context, "parameters", message, sizeof message);
    cr_expect_null (out);
    cr_expect_eq (rules_template_check (bad, "parameters", message, sizeof message), -1);
    cr_expect (strstr (message, "parameters.a.b[1]") != NULL, "%s", message);
    json_decref (bad);
}
