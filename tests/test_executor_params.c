/*  executor_params: the schema applied on msgpack gives what
    registry_params_apply gives on JSON, or hands over to it. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>
#include "actors/executor/executor_internal.h"

//  Apply `schema` to `given` (JSON texts; given may be NULL) both ways and
//  compare. Returns what executor_params_apply returned.
static int
s_both (const char *schema_text, const char *given_text)
{
    json_t *schema = json_loads (schema_text, 0, NULL);
    json_t *given = given_text ? json_loads (given_text, 0, NULL) : NULL;
    cr_assert_not_null (schema, "%s", schema_text);
    msgpack_sbuffer packed, out;
    msgpack_sbuffer_init (&packed);
    msgpack_sbuffer_init (&out);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *object = NULL;
    if (given) {
        cr_assert_eq (proto_json_to_sbuffer (given, &packed, NULL), PROTO_OK);
        cr_assert_eq (msgpack_unpack_next (&unpacked, packed.data, packed.size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
        object = &unpacked.data;
    }
    char reason[512] = "", expected_reason[512] = "";
    int rc = executor_params_apply (schema, object, &out, reason, sizeof reason);
    json_t *expected =
        registry_params_apply (schema, given, expected_reason, sizeof expected_reason);
    if (rc == 0) {
        msgpack_unpacked result;
        msgpack_unpacked_init (&result);
        cr_assert_eq (msgpack_unpack_next (&result, out.data, out.size, NULL),
                      MSGPACK_UNPACK_SUCCESS);
        json_t *got = proto_json_from_msgpack (&result.data, "parameters", NULL);
        cr_assert_not_null (expected, "JSON path failed: %s", expected_reason);
        char *a = json_dumps (got, JSON_SORT_KEYS),
             *b = json_dumps (expected, JSON_SORT_KEYS);
        cr_expect (json_equal (got, expected), "%s %s: got %s, expected %s", schema_text,
                   given_text ? given_text : "-", a, b);
        free (a);
        free (b);
        json_decref (got);
        msgpack_unpacked_destroy (&result);
    } else if (rc < 0) {
        cr_expect_null (expected, "%s: the JSON path accepts it", schema_text);
        cr_expect_str_eq (reason, expected_reason);
    }
    json_decref (expected);
    json_decref (schema);
    json_decref (given);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&packed);
    msgpack_sbuffer_destroy (&out);
    return rc;
}

Test (executor_params, plain_schemas_are_applied_on_msgpack_as_on_json)
{
    const char *schema = "{\"cmd\": {\"type\": \"string\", \"required\": true},"
                         " \"timeout\": {\"type\": \"integer\", \"default\": 60},"
                         " \"env\": {\"type\": \"object\"},"
                         " \"ratio\": {\"type\": \"number\", \"default\": 0.5},"
                         " \"sudo\": {\"type\": \"boolean\", \"default\": false},"
                         " \"args\": {\"type\": \"array\"}, \"any\": {}}";
    cr_expect_eq (s_both (schema, "{\"cmd\": \"ls\"}"), 0);
    cr_expect_eq (s_both (schema, "{\"cmd\": \"ls\", \"timeout\": 5, \"env\": {\"A\": "
                                  "\"1\"}, \"ratio\": 2, \"args\": [1, \"x\"], \"any\": "
                                  "[{}], \"sudo\": true}"),
                  0);
    cr_expect_eq (s_both (schema, "{\"cmd\": \"ls\", \"timeout\": null}"), 0);
    cr_expect_eq (s_both ("{}", NULL), 0);
    cr_expect_eq (s_both ("{\"a\": {\"default\": {\"deep\": [1, 2.5, null]}}}", "{}"), 0);
}

Test (executor_params, unknown_and_missing_parameters_fail_with_the_same_words)
{
    const char *schema = "{\"cmd\": {\"type\": \"string\", \"required\": true}}";
    cr_expect_eq (s_both (schema, "{}"), -1);
    cr_expect_eq (s_both (schema, NULL), -1);
    cr_expect_eq (s_both (schema, "{\"cmd\": \"ls\", \"nope\": 1}"), -1);
    cr_expect_eq (s_both ("{}", "{\"nope\": 1}"), -1);
}

Test (executor_params, what_needs_a_json_tree_is_left_to_the_json_path)
{
    //  coercion, integer-valued floats, immutable, enum, limits
    cr_expect_eq (s_both ("{\"n\": {\"type\": \"integer\"}}", "{\"n\": \"5\"}"), 1);
    cr_expect_eq (s_both ("{\"n\": {\"type\": \"integer\"}}", "{\"n\": 5.0}"), 1);
    cr_expect_eq (s_both ("{\"n\": {\"type\": \"integer\", \"default\": 5.0}}", "{}"), 1);
    cr_expect_eq (s_both ("{\"n\": {\"immutable\": true, \"default\": 1}}", "{}"), 1);
    cr_expect_eq (s_both ("{\"n\": {\"enum\": [1, 2]}}", "{\"n\": 1}"), 1);
    cr_expect_eq (
        s_both ("{\"n\": {\"type\": \"number\", \"minimum\": 0}}", "{\"n\": 1}"), 1);
    cr_expect_eq (s_both ("{\"s\": {\"type\": \"string\"}}", "{\"s\": 3}"), 1);
}
