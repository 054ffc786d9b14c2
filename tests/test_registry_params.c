/*  registry_params: action parameter validation, defaults, coercion, secrets. */
#include <criterion/criterion.h>
#include <string.h>
#include "actors/registry/registry_params.h"

static const char *s_schema_text =
    "{\"message\": {\"type\": \"string\", \"required\": true},"
    " \"count\": {\"type\": \"integer\", \"default\": 2, \"minimum\": 1, \"maximum\": "
    "10},"
    " \"ratio\": {\"type\": \"number\"},"
    " \"force\": {\"type\": \"boolean\", \"default\": false},"
    " \"env\": {\"type\": \"string\", \"enum\": [\"dev\", \"prod\"], \"default\": "
    "\"dev\"},"
    " \"tags\": {\"type\": \"array\"},"
    " \"extra\": {\"type\": \"object\"},"
    " \"token\": {\"type\": \"string\", \"secret\": true},"
    " \"cmd\": {\"type\": \"string\", \"default\": \"echo\", \"immutable\": true}}";

static json_t *
s_apply (const char *given, char *message)
{
    json_t *schema = json_loads (s_schema_text, 0, NULL);
    cr_assert_not_null (schema);
    json_t *in = given ? json_loads (given, 0, NULL) : NULL;
    json_t *out = registry_params_apply (schema, in, message, 512);
    json_decref (in);
    json_decref (schema);
    return out;
}

Test (registry_params, defaults_applied_and_types_kept)
{
    char message[512] = "";
    json_t *out = s_apply ("{\"message\": \"hi\"}", message);
    cr_assert_not_null (out, "%s", message);
    json_t *want = json_loads ("{\"message\": \"hi\", \"count\": 2, \"force\": false, "
                               "\"env\": \"dev\", \"cmd\": \"echo\"}",
                               0, NULL);
    cr_expect (json_equal (out, want));
    json_decref (want);
    json_decref (out);
}

Test (registry_params, strings_coerced_like_st2_run)
{
    char message[512] = "";
    json_t *out = s_apply (
        "{\"message\": \"hi\", \"count\": \"5\", \"force\": \"true\", "
        "\"ratio\": \"0.25\", \"tags\": \"[1, 2]\", \"extra\": \"{\\\"a\\\": 1}\"}",
        message);
    cr_assert_not_null (out, "%s", message);
    cr_expect_eq (json_integer_value (json_object_get (out, "count")), 5);
    cr_expect (json_is_true (json_object_get (out, "force")));
    cr_expect_float_eq (json_real_value (json_object_get (out, "ratio")), 0.25, 1e-12);
    cr_expect_eq (json_array_size (json_object_get (out, "tags")), 2);
    cr_expect (json_is_object (json_object_get (out, "extra")));
    json_decref (out);
}

Test (registry_params, refusals_say_which_and_why)
{
    struct {
        const char *given;
        const char *fragment;
    } cases[] = {
        {"{}", "parameter 'message': required"},
        {"{\"message\": 3}", "parameter 'message': expected string, got 3"},
        {"{\"message\": \"x\", \"count\": \"abc\"}",
         "parameter 'count': expected integer, got \"abc\""},
        {"{\"message\": \"x\", \"count\": 1.5}", "parameter 'count': expected integer"},
        {"{\"message\": \"x\", \"count\": 11}", "above the maximum"},
        {"{\"message\": \"x\", \"count\": 0}", "below the minimum"},
        {"{\"message\": \"x\", \"env\": \"qa\"}",
         "parameter 'env': \"qa\" is not one of"},
        {"{\"message\": \"x\", \"nope\": 1}",
         "parameter 'nope': the action has no such parameter"},
        {"{\"message\": \"x\", \"cmd\": \"rm -rf /\"}", "parameter 'cmd': is immutable"},
        {"{\"message\": \"x\", \"force\": \"maybe\"}",
         "parameter 'force': expected boolean"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char message[512] = "";
        json_t *out = s_apply (cases[i].given, message);
        cr_expect_null (out, "case %zu accepted", i);
        json_decref (out);
        cr_expect (strstr (message, cases[i].fragment) != NULL,
                   "case %zu: '%s' lacks '%s'", i, message, cases[i].fragment);
    }
}

Test (registry_params, no_schema_means_no_parameters)
{
    char message[512] = "";
    json_t *out = registry_params_apply (NULL, NULL, message, sizeof message);
    cr_assert_not_null (out);
    cr_expect_eq (json_object_size (out), 0);
    json_decref (out);
    json_t *given = json_loads ("{\"x\": 1}", 0, NULL);
    cr_expect_null (registry_params_apply (NULL, given, message, sizeof message));
    json_decref (given);
}

Test (registry_params, secrets_masked)
{
    json_t *schema = json_loads (s_schema_text, 0, NULL);
    json_t *params = json_loads ("{\"message\": \"hi\", \"token\": \"s3cr3t\"}", 0, NULL);
    json_t *masked = registry_params_mask (schema, params);
    cr_expect_str_eq (json_string_value (json_object_get (masked, "token")), "********");
    cr_expect_str_eq (json_string_value (json_object_get (masked, "message")), "hi");
    cr_expect_str_eq (json_string_value (json_object_get (params, "token")), "s3cr3t");
    char *text = json_dumps (masked, 0);
    cr_expect_null (strstr (text, "s3cr3t"));
    free (text);
    json_decref (masked);
    json_decref (params);
    json_decref (schema);
}

Test (registry_params, schema_errors)
{
    struct {
        const char *schema;
        const char *field;
        const char *fragment;
    } cases[] = {
        {"{\"n\": {\"type\": \"int\"}}", "/n/type", "unknown type"},
        {"{\"n\": {\"type\": \"integer\", \"default\": \"abc\", \"bogus\": 1}}",
         "/n/bogus", "unknown key \"bogus\""},
        {"{\"n\": {\"type\": \"integer\", \"default\": [1]}}", "/n/default",
         "expected integer"},
        {"{\"n\": {\"type\": \"string\", \"enum\": []}}", "/n/enum", "non-empty list"},
        {"{\"n\": {\"type\": \"string\", \"required\": \"yes\"}}", "/n/required",
         "true or false"},
        {"{\"n\": 3}", "/n", "must be a mapping"},
        {"[1]", "", "must be a mapping"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *schema = json_loads (cases[i].schema, 0, NULL);
        char field[128] = "?", message[512] = "";
        cr_expect_eq (registry_params_check_schema (schema, field, sizeof field, message,
                                                    sizeof message),
                      -1, "case %zu", i);
        cr_expect_str_eq (field, cases[i].field, "case %zu", i);
        cr_expect (strstr (message, cases[i].fragment) != NULL, "case %zu: '%s'", i,
                   message);
        json_decref (schema);
    }
    json_t *good = json_loads (s_schema_text, 0, NULL);
    cr_expect_eq (registry_params_check_schema (good, NULL, 0, NULL, 0), 0);
    json_decref (good);
}
