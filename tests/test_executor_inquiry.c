/*  executor_schema and executor_inquiry: the response-schema subset (every
    rule, true and false, with its message), and inquiries in a real LMDB
    store: opening (spec checks, defaults), the deadline index (order, due,
    reopen), response checks (pending, expired, assignee, schema), close,
    lists. (The executor's use of them, end to end, is in test_inquiries.)
*/
#include "tests/testing.h"
#include <czmq.h>
#include "actors/executor/executor_inquiry.h"
#include "actors/executor/executor_schema.h"

TestSuite (executor_schema, .timeout = 30);

static json_t *
s_json (const char *text)
{
    json_error_t error;
    json_t *value = json_loads (text, JSON_DECODE_ANY, &error);
    cr_assert_not_null (value, "%s: %s", text, error.text);
    return value;
}

//  Validate `value` against `schema`: NULL when valid, else the message
//  (static buffer).
static const char *
s_check (const char *schema_text, const char *value_text)
{
    static char error[512];
    json_t *schema = s_json (schema_text);
    json_t *value = s_json (value_text);
    char why[512];
    cr_assert_eq (executor_schema_check (schema, why, sizeof why), 0, "%s: %s",
                  schema_text, why);
    int rc = executor_schema_validate (schema, value, error, sizeof error);
    json_decref (schema);
    json_decref (value);
    return rc == 0 ? NULL : error;
}

static void
s_valid (const char *schema, const char *value)
{
    const char *error = s_check (schema, value);
    cr_assert_null (error, "%s against %s: %s", value, schema, error);
}

static void
s_invalid (const char *schema, const char *value, const char *message)
{
    const char *error = s_check (schema, value);
    cr_assert_not_null (error, "%s against %s: accepted", value, schema);
    cr_assert_str_eq (error, message, "%s against %s", value, schema);
}

Test (executor_schema, types)
{
    s_valid ("{\"type\":\"object\"}", "{}");
    s_invalid ("{\"type\":\"object\"}", "3", "response: expected object, got 3");
    s_valid ("{\"type\":\"string\"}", "\"x\"");
    s_invalid ("{\"type\":\"string\"}", "[1]", "response: expected string, got [1]");
    s_valid ("{\"type\":\"number\"}", "1.5");
    s_valid ("{\"type\":\"number\"}", "2");
    s_invalid ("{\"type\":\"number\"}", "\"2\"", "response: expected number, got \"2\"");
    s_valid ("{\"type\":\"integer\"}", "2");
    s_valid ("{\"type\":\"integer\"}", "2.0");
    s_invalid ("{\"type\":\"integer\"}", "1.5", "response: expected integer, got 1.5");
    s_valid ("{\"type\":\"boolean\"}", "false");
    s_invalid ("{\"type\":\"boolean\"}", "0", "response: expected boolean, got 0");
    s_valid ("{\"type\":\"array\"}", "[]");
    s_invalid ("{\"type\":\"array\"}", "{}", "response: expected array, got {}");
    s_valid ("{\"type\":\"null\"}", "null");
    s_valid ("{\"type\":[\"string\",\"null\"]}", "null");
    s_invalid ("{\"type\":[\"string\",\"null\"]}", "1",
               "response: expected string or null, got 1");
    s_valid ("{}", "{\"anything\": [1, 2]}");
}

Test (executor_schema, properties_and_required)
{
    const char *schema = "{\"type\":\"object\",\"properties\":{"
                         "\"approved\":{\"type\":\"boolean\"},"
                         "\"reason\":{\"type\":\"string\"}},"
                         "\"required\":[\"approved\"]}";
    s_valid (schema, "{\"approved\": true}");
    s_valid (schema, "{\"approved\": false, \"reason\": \"no\", \"extra\": 1}");
    s_invalid (schema, "{\"approved\": \"yes\"}",
               "approved: expected boolean, got \"yes\"");
    s_invalid (schema, "{\"reason\": \"x\"}", "approved: required");
    s_invalid (schema, "{\"approved\": true, \"reason\": 5}",
               "reason: expected string, got 5");
    //  nested paths
    s_invalid ("{\"properties\":{\"a\":{\"properties\":{\"b\":{\"type\":\"integer\"}}}}}",
               "{\"a\": {\"b\": \"x\"}}", "a.b: expected integer, got \"x\"");
    s_invalid ("{\"properties\":{\"a\":{\"required\":[\"c\"]}}}", "{\"a\": {}}",
               "a.c: required");
    //  additionalProperties
    const char *closed = "{\"properties\":{\"a\":{}},\"additionalProperties\":false}";
    s_valid (closed, "{\"a\": 1}");
    s_invalid (closed, "{\"a\": 1, \"extra\": 2}",
               "extra: not allowed (no such property)");
    s_invalid ("{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"n\": \"x\"}",
               "n: expected integer, got \"x\"");
}

Test (executor_schema, enum_bounds_lengths_items)
{
    const char *colors = "{\"enum\":[\"red\",\"blue\"]}";
    s_valid (colors, "\"red\"");
    s_invalid (colors, "\"green\"",
               "response: expected one of [\"red\",\"blue\"], got \"green\"");
    s_valid ("{\"enum\":[{\"a\":1}, 2]}", "{\"a\": 1}");
    const char *count = "{\"properties\":{\"count\":{\"type\":\"integer\","
                        "\"minimum\":1,\"maximum\":10}}}";
    s_valid (count, "{\"count\": 1}");
    s_valid (count, "{\"count\": 10}");
    s_invalid (count, "{\"count\": 0}", "count: expected at least 1, got 0");
    s_invalid (count, "{\"count\": 12}", "count: expected at most 10, got 12");
    s_invalid ("{\"minimum\":0.5}", "0.25", "response: expected at least 0.5, got 0.25");
    const char *name = "{\"properties\":{\"name\":{\"minLength\":3,\"maxLength\":5}}}";
    s_valid (name, "{\"name\": \"abc\"}");
    s_valid (name, "{\"name\": \"h\\u00e9llo\"}"); //  characters, not bytes
    s_invalid (name, "{\"name\": \"ab\"}", "name: expected at least 3 characters, got 2");
    s_invalid (name, "{\"name\": \"abcdef\"}",
               "name: expected at most 5 characters, got 6");
    const char *tags = "{\"properties\":{\"tags\":{\"type\":\"array\","
                       "\"items\":{\"type\":\"string\"},\"minItems\":1,\"maxItems\":2}}}";
    s_valid (tags, "{\"tags\": [\"a\"]}");
    s_invalid (tags, "{\"tags\": [\"a\", 3]}", "tags[1]: expected string, got 3");
    s_invalid (tags, "{\"tags\": []}", "tags: expected at least 1 items, got 0");
    s_invalid (tags, "{\"tags\": [\"a\",\"b\",\"c\"]}",
               "tags: expected at most 2 items, got 3");
    s_invalid ("{\"items\":{\"type\":\"integer\"}}", "[1, \"x\"]",
               "response[1]: expected integer, got \"x\"");
}

Test (executor_schema, bad_schemas)
{
    static const struct {
        const char *schema, *message;
    } cases[] = {
        {"3", "schema: expected a schema (a map)"},
        {"{\"type\":\"bool\"}", "type: unknown type \"bool\""},
        {"{\"type\":3}", "type: expected a type name or a list of them"},
        {"{\"type\":[\"string\", \"date\"]}", "type[1]: expected a type name"},
        {"{\"properties\":[]}", "properties: expected a map"},
        {"{\"properties\":{\"a\":{\"type\":\"nope\"}}}",
         "properties.a.type: unknown type \"nope\""},
        {"{\"required\":\"a\"}", "required: expected a list of property names"},
        {"{\"enum\":[]}", "enum: expected a non-empty list"},
        {"{\"minimum\":\"1\"}", "minimum: expected a number"},
        {"{\"minLength\":-1}", "minLength: expected a non-negative integer"},
        {"{\"items\":5}", "items: expected a schema (a map)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *schema = s_json (cases[i].schema);
        char error[256];
        cr_assert_eq (executor_schema_check (schema, error, sizeof error), -1, "%s",
                      cases[i].schema);
        cr_assert_str_eq (error, cases[i].message, "%s", cases[i].schema);
        json_decref (schema);
    }
    //  Nesting is bounded: 40 levels of items are refused, not recursed into
    char deep[1024] = "";
    for (int i = 0; i < 40; i++)
        strcat (deep, "{\"items\":");
    strcat (deep, "{}");
    for (int i = 0; i < 40; i++)
        strcat (deep, "}");
    json_t *schema = s_json (deep);
    char error[256];
    cr_assert_eq (executor_schema_check (schema, error, sizeof error), -1);
    cr_assert (strstr (error, "nested more than"), "%s", error);
    json_decref (schema);
}

//  ---------------------------------------------------------------------------
//  Inquiries in a store

static char s_dir[PATH_MAX];
static store_t *s_store;
static executor_inquiry_t *s_inquiry;

static void
s_open (void)
{
    char message[256];
    store_code_t code;
    s_store = store_open (s_dir, NULL, &code, message, sizeof message);
    cr_assert_not_null (s_store, "%s", message);
    s_inquiry = executor_inquiry_new (s_store);
    cr_assert_not_null (s_inquiry);
}

static void
s_close (void)
{
    executor_inquiry_destroy (&s_inquiry);
    store_close (&s_store);
}

static void
s_setup (void)
{
    testing_tmpdir (s_dir, sizeof s_dir, "test_executor_inquiry");
    s_open ();
}

static void
s_teardown (void)
{
    s_close ();
    testing_rmtree (s_dir);
}

TestSuite (executor_inquiry, .init = s_setup, .fini = s_teardown, .timeout = 30);

typedef struct {
    const char *id;
    const char *spec;
    int64_t now;
    int rc;
    json_t *inquiry;
    char reason[512];
} s_open_t;

static int
s_apply_open (store_txn_t *txn, void *arg)
{
    s_open_t *open = (s_open_t *)arg;
    json_t *spec = s_json (open->spec);
    json_decref (open->inquiry);
    open->rc =
        executor_inquiry_open (s_inquiry, txn, open->id, "test.ask", spec, open->now,
                               &open->inquiry, open->reason, sizeof open->reason);
    json_decref (spec);
    return open->rc < 0 ? -1 : 0;
}

//  Open an inquiry; returns it (caller owns), or NULL with `reason`.
static json_t *
s_open_inquiry (const char *id, const char *spec, int64_t now, char *reason)
{
    s_open_t open = {.id = id, .spec = spec, .now = now};
    cr_assert_eq (store_write (s_store, s_apply_open, &open), STORE_OK);
    if (reason)
        strcpy (reason, open.reason);
    cr_assert (open.rc == 0 || open.rc == 1);
    return open.inquiry;
}

Test (executor_inquiry, open_fills_defaults_and_checks_the_spec)
{
    json_t *inquiry = s_open_inquiry ("a1", "{\"prompt\": \"Deploy?\"}", 1000000, NULL);
    cr_assert_not_null (inquiry);
    cr_assert_str_eq (json_string_value (json_object_get (inquiry, "status")), "pending");
    cr_assert_str_eq (json_string_value (json_object_get (inquiry, "prompt")), "Deploy?");
    cr_assert_eq (json_integer_value (json_object_get (inquiry, "deadline")),
                  1000000 + (json_int_t)EXECUTOR_INQUIRY_TIMEOUT_DEFAULT * 1000000);
    cr_assert_eq (json_array_size (json_object_get (inquiry, "assigned_to")), 0);
    //  StackStorm's default schema: {continue: boolean}, required
    const json_t *schema = json_object_get (inquiry, "schema");
    cr_assert_str_eq (
        json_string_value (json_object_get (
            json_object_get (json_object_get (schema, "properties"), "continue"),
            "type")),
        "boolean");
    json_decref (inquiry);

    inquiry = s_open_inquiry (
        "a2", "{\"assigned_to\": \"alice\", \"timeout_seconds\": 1.5}", 0, NULL);
    cr_assert_eq (json_integer_value (json_object_get (inquiry, "deadline")), 1500000);
    cr_assert_str_eq (
        json_string_value (json_array_get (json_object_get (inquiry, "assigned_to"), 0)),
        "alice");
    json_decref (inquiry);

    static const struct {
        const char *spec, *reason;
    } bad[] = {
        {"[]", "__inquiry: expected a map"},
        {"{\"prompt\": 3}", "__inquiry.prompt: expected a string"},
        {"{\"timeout_seconds\": -1}", "__inquiry.timeout_seconds: expected a number"},
        {"{\"timeout_seconds\": \"10\"}", "__inquiry.timeout_seconds: expected a number"},
        {"{\"assigned_to\": [\"a\", 3]}", "__inquiry.assigned_to: expected identities"},
        {"{\"assigned_to\": 3}", "__inquiry.assigned_to: expected an identity"},
        {"{\"response_schema\": {\"type\": \"bool\"}}",
         "__inquiry.response_schema: type: unknown type \"bool\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char reason[512];
        json_t *none = s_open_inquiry ("bad", bad[i].spec, 0, reason);
        cr_assert_null (none, "%s accepted", bad[i].spec);
        cr_assert (strncmp (reason, bad[i].reason, strlen (bad[i].reason)) == 0, "%s: %s",
                   bad[i].spec, reason);
    }
    //  Nothing of the refused ones was stored
    store_txn_t *txn = store_read_begin (s_store);
    cr_assert_null (executor_inquiry_get (s_inquiry, txn, "bad"));
    cr_assert_eq (executor_inquiry_pending (s_inquiry, txn), 2);
    store_read_end (&txn);
}

Test (executor_inquiry, spec_is_found_in_the_result_or_in_a_scripts_output)
{
    json_t *top = s_json ("{\"__inquiry\": {\"prompt\": \"a\"}}");
    json_t *script = s_json ("{\"stdout\": \"...\", \"result\": {\"__inquiry\": {}}}");
    json_t *none = s_json ("{\"result\": 3}");
    cr_assert_not_null (executor_inquiry_spec (top));
    cr_assert_not_null (executor_inquiry_spec (script));
    cr_assert_null (executor_inquiry_spec (none));
    json_decref (top);
    json_decref (script);
    json_decref (none);
}

typedef struct {
    int64_t now;
    char ids[8][40];
    size_t count;
    int64_t next;
} s_due_t;

static int
s_apply_due (store_txn_t *txn, void *arg)
{
    s_due_t *due = (s_due_t *)arg;
    due->count = executor_inquiry_due (s_inquiry, txn, due->now, due->ids, 8);
    for (size_t i = 0; i < due->count; i++) {
        json_t *inquiry = executor_inquiry_get (s_inquiry, txn, due->ids[i]);
        cr_assert_not_null (inquiry);
        cr_assert_eq (executor_inquiry_close (s_inquiry, txn, inquiry, "timeout", NULL,
                                              NULL, NULL, due->now),
                      0);
        json_decref (inquiry);
    }
    due->next = executor_inquiry_next_deadline (s_inquiry, txn);
    return 0;
}

Test (executor_inquiry, deadlines_come_in_order_and_survive_a_reopen)
{
    //  Opened out of order; due in deadline order
    const struct {
        const char *id;
        int seconds;
    } opened[] = {{"c", 30}, {"a", 10}, {"d", 40}, {"b", 20}};
    for (size_t i = 0; i < 4; i++) {
        char spec[64];
        snprintf (spec, sizeof spec, "{\"timeout_seconds\": %d}", opened[i].seconds);
        json_decref (s_open_inquiry (opened[i].id, spec, 0, NULL));
    }
    s_close ();
    s_open ();
    store_txn_t *txn = store_read_begin (s_store);
    cr_assert_eq (executor_inquiry_next_deadline (s_inquiry, txn), 10000000);
    store_read_end (&txn);
    s_due_t due = {.now = 9999999};
    cr_assert_eq (store_write (s_store, s_apply_due, &due), STORE_OK);
    cr_assert_eq (due.count, 0, "nothing is due a microsecond early");
    due.now = 25000000;
    cr_assert_eq (store_write (s_store, s_apply_due, &due), STORE_OK);
    cr_assert_eq (due.count, 2);
    cr_assert_str_eq (due.ids[0], "a");
    cr_assert_str_eq (due.ids[1], "b");
    cr_assert_eq (due.next, 30000000);
    due.now = 100000000;
    cr_assert_eq (store_write (s_store, s_apply_due, &due), STORE_OK);
    cr_assert_eq (due.count, 2);
    cr_assert_str_eq (due.ids[0], "c");
    cr_assert_str_eq (due.ids[1], "d");
    cr_assert_eq (due.next, INT64_MAX);
    txn = store_read_begin (s_store);
    cr_assert_eq (executor_inquiry_pending (s_inquiry, txn), 0);
    json_t *a = executor_inquiry_get (s_inquiry, txn, "a");
    cr_assert_str_eq (json_string_value (json_object_get (a, "status")), "timeout");
    json_decref (a);
    store_read_end (&txn);
}

static void
s_rejects (const json_t *inquiry, const char *identity, const char *response, int64_t now,
           const char *code, const char *message)
{
    json_t *value = s_json (response);
    char got_code[32], got[512];
    cr_assert_eq (
        executor_inquiry_check (inquiry, identity, value, now, got_code, got, sizeof got),
        -1, "%s accepted", response);
    cr_assert_str_eq (got_code, code, "%s: %s", response, got);
    cr_assert (strstr (got, message), "%s: '%s' has no '%s'", response, got, message);
    json_decref (value);
}

Test (executor_inquiry, responses_are_checked)
{
    json_t *inquiry = s_open_inquiry (
        "q1",
        "{\"assigned_to\": [\"alice\", \"bob\"], \"timeout_seconds\": 10,"
        " \"response_schema\": {\"type\": \"object\", \"properties\":"
        " {\"approved\": {\"type\": \"boolean\"}}, \"required\": [\"approved\"]}}",
        0, NULL);
    json_t *yes = s_json ("{\"approved\": true}");
    char code[32], message[512];
    cr_assert_eq (executor_inquiry_check (inquiry, "bob", yes, 9999999, code, message,
                                          sizeof message),
                  0, "%s", message);
    s_rejects (inquiry, "carol", "{\"approved\": true}", 1, "forbidden",
               "assigned to alice, bob, not to carol");
    s_rejects (inquiry, NULL, "{\"approved\": true}", 1, "forbidden", "--as NAME");
    s_rejects (inquiry, "alice", "{\"approved\": \"yes\"}", 1, "invalid",
               "approved: expected boolean, got \"yes\"");
    s_rejects (inquiry, "alice", "{\"approved\": true}", 10000000, "expired",
               "expired 0.000 s ago");
    //  Closed: not pending any more, whatever the response
    json_object_set_new (inquiry, "status", json_string ("responded"));
    s_rejects (inquiry, "alice", "{\"approved\": true}", 1, "conflict",
               "is not pending (responded)");
    json_decref (yes);
    json_decref (inquiry);
    //  Without an assignee anyone (or no one in particular) may respond
    inquiry = s_open_inquiry ("q2", "{}", 0, NULL);
    json_t *go = s_json ("{\"continue\": true}");
    cr_assert_eq (
        executor_inquiry_check (inquiry, NULL, go, 1, code, message, sizeof message), 0,
        "%s", message);
    cr_assert_eq (
        executor_inquiry_check (inquiry, "x", go, 1, code, message, sizeof message), 0,
        "%s", message);
    json_decref (go);
    json_decref (inquiry);
}

typedef struct {
    const char *id;
    const char *status;
} s_close_t;

static int
s_apply_close (store_txn_t *txn, void *arg)
{
    s_close_t *close = (s_close_t *)arg;
    json_t *inquiry = executor_inquiry_get (s_inquiry, txn, close->id);
    cr_assert_not_null (inquiry);
    json_t *response = s_json ("{\"continue\": true}");
    int rc = executor_inquiry_close (s_inquiry, txn, inquiry, close->status,
                                     streq (close->status, "responded") ? response : NULL,
                                     "alice", "req-1", 5);
    json_decref (response);
    json_decref (inquiry);
    return rc;
}

Test (executor_inquiry, close_records_the_response_and_lists_page)
{
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf (id, sizeof id, "i%d", i);
        json_decref (s_open_inquiry (id, "{\"timeout_seconds\": 60}", i, NULL));
    }
    s_close_t close = {.id = "i1", .status = "responded"};
    cr_assert_eq (store_write (s_store, s_apply_close, &close), STORE_OK);
    close = (s_close_t){.id = "i3", .status = "cancelled"};
    cr_assert_eq (store_write (s_store, s_apply_close, &close), STORE_OK);
    store_txn_t *txn = store_read_begin (s_store);
    cr_assert_eq (executor_inquiry_pending (s_inquiry, txn), 3);
    json_t *one = executor_inquiry_get (s_inquiry, txn, "i1");
    cr_assert_str_eq (json_string_value (json_object_get (one, "status")), "responded");
    cr_assert_str_eq (json_string_value (json_object_get (one, "responder")), "alice");
    cr_assert (
        json_is_true (json_object_get (json_object_get (one, "response"), "continue")));
    cr_assert_eq (json_integer_value (json_object_get (one, "responded")), 5);
    json_decref (one);
    //  Newest first, by status, paged
    char next[40];
    json_t *all = executor_inquiry_list (s_inquiry, txn, NULL, NULL, 2, next);
    cr_assert_eq (json_array_size (all), 2);
    cr_assert_str_eq (json_string_value (json_object_get (json_array_get (all, 0), "id")),
                      "i4");
    cr_assert_str_eq (next, "i3");
    char after[40];
    json_t *rest = executor_inquiry_list (s_inquiry, txn, NULL, next, 10, after);
    cr_assert_eq (json_array_size (rest), 3);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_array_get (rest, 0), "id")), "i2");
    cr_assert_str_eq (after, "");
    json_t *pending = executor_inquiry_list (s_inquiry, txn, "pending", NULL, 10, next);
    cr_assert_eq (json_array_size (pending), 3);
    json_t *cancelled =
        executor_inquiry_list (s_inquiry, txn, "cancelled", NULL, 10, next);
    cr_assert_eq (json_array_size (cancelled), 1);
    json_decref (all);
    json_decref (rest);
    json_decref (pending);
    json_decref (cancelled);
    store_read_end (&txn);
}
