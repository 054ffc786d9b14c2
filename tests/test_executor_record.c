/*  executor_record: the stored form of an execution, read, changed and
    packed again without JSON; older JSON-text records still read. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>
#include "actors/executor/executor.h"
#include "actors/executor/executor_record.h"

static executor_record_t s_record;
static msgpack_sbuffer s_buffer;

static void
s_setup (void)
{
    executor_record_init (&s_record);
    msgpack_sbuffer_init (&s_buffer);
}

static void
s_teardown (void)
{
    executor_record_release (&s_record);
    msgpack_sbuffer_destroy (&s_buffer);
}

//  Pack s_record into s_buffer; the record as JSON (caller owns it).
static json_t *
s_pack (void)
{
    msgpack_sbuffer_clear (&s_buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &s_buffer, msgpack_sbuffer_write);
    cr_assert_eq (executor_record_pack (&s_record, &pk), 0);
    json_t *json = executor_record_decode (s_buffer.data, s_buffer.size);
    cr_assert_not_null (json);
    return json;
}

TestSuite (executor_record, .init = s_setup, .fini = s_teardown);

Test (executor_record, new_record_packs_its_fields_and_log)
{
    executor_record_clear (&s_record);
    executor_record_set_str (&s_record, EXECUTOR_RECORD_ID, "e1");
    executor_record_set_str (&s_record, EXECUTOR_RECORD_ACTION, "core.noop");
    executor_record_set_nil (&s_record, EXECUTOR_RECORD_WORKER);
    executor_record_set_int (&s_record, EXECUTOR_RECORD_REQUESTED, 1000);
    executor_record_set_status (&s_record, "requested", 1000);
    executor_record_set_status (&s_record, "scheduled", 1001);
    cr_assert_eq (executor_record_set_packed (&s_record, EXECUTOR_RECORD_PARAMETERS,
                                              "\x81\xa1n\x01", 4),
                  0);
    json_t *json = s_pack ();
    cr_expect_str_eq (json_string_value (json_object_get (json, "id")), "e1");
    cr_expect_str_eq (json_string_value (json_object_get (json, "status")), "scheduled");
    cr_expect (json_is_null (json_object_get (json, "worker")));
    cr_expect_eq (json_integer_value (json_object_get (json, "requested")), 1000);
    cr_expect_eq (
        json_integer_value (json_object_get (json_object_get (json, "parameters"), "n")),
        1);
    json_t *log = json_object_get (json, "log");
    cr_assert_eq (json_array_size (log), 2);
    cr_expect_str_eq (
        json_string_value (json_object_get (json_array_get (log, 1), "status")),
        "scheduled");
    cr_expect_eq (json_integer_value (json_object_get (json_array_get (log, 1), "ts")),
                  1001);
    cr_expect_null (json_object_get (json, "started"));
    json_decref (json);
}

Test (executor_record, read_change_pack_keeps_other_keys_and_the_log)
{
    const char *text = "{\"id\":\"e2\",\"status\":\"running\",\"parent\":\"e1\","
                       "\"retry_count\":2,\"log\":[{\"status\":\"requested\",\"ts\":1}]}";
    //  A JSON-text record (older stores) reads the same as msgpack
    cr_assert_eq (executor_record_read (&s_record, text, strlen (text)), 0);
    char out[32];
    cr_expect_str_eq (
        executor_record_text (&s_record, EXECUTOR_RECORD_STATUS, out, sizeof out),
        "running");
    const msgpack_object *retry = executor_record_extra (&s_record, "retry_count");
    cr_assert_not_null (retry);
    cr_expect_eq (retry->via.i64, 2);
    cr_expect_null (executor_record_extra (&s_record, "nope"));
    executor_record_set_status (&s_record, "completed", 5);
    json_t *json = s_pack ();
    cr_expect_str_eq (json_string_value (json_object_get (json, "parent")), "e1");
    cr_expect_eq (json_array_size (json_object_get (json, "log")), 2);
    //  And back from the msgpack just packed
    cr_assert_eq (executor_record_read (&s_record, s_buffer.data, s_buffer.size), 0);
    cr_expect_str_eq (
        executor_record_text (&s_record, EXECUTOR_RECORD_STATUS, out, sizeof out),
        "completed");
    cr_expect_not_null (executor_record_extra (&s_record, "parent"));
    json_decref (json);
}

Test (executor_record, set_extra_replaces_a_key)
{
    executor_record_clear (&s_record);
    msgpack_object one = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1};
    msgpack_object two = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 2};
    cr_expect_eq (executor_record_set_extra (&s_record, "redispatched", &one), 0);
    cr_expect_eq (executor_record_set_extra (&s_record, "redispatched", &two), 0);
    json_t *json = s_pack ();
    cr_expect_eq (json_integer_value (json_object_get (json, "redispatched")), 2);
    cr_expect_eq (json_object_size (json), 1);
    json_decref (json);
}

Test (executor_record, text_is_cut_and_absent_is_empty)
{
    executor_record_clear (&s_record);
    char out[4];
    cr_expect_str_eq (
        executor_record_text (&s_record, EXECUTOR_RECORD_WORKER, out, sizeof out), "");
    executor_record_set_str (&s_record, EXECUTOR_RECORD_WORKER, "worker-long");
    cr_expect_str_eq (
        executor_record_text (&s_record, EXECUTOR_RECORD_WORKER, out, sizeof out), "wor");
    executor_record_set_int (&s_record, EXECUTOR_RECORD_RUNNER, 7);
    cr_expect_str_eq (
        executor_record_text (&s_record, EXECUTOR_RECORD_RUNNER, out, sizeof out), "");
    cr_expect_null (executor_record_get (&s_record, EXECUTOR_RECORD_RESULT));
}

Test (executor_record, what_is_not_a_record_does_not_read)
{
    cr_expect_eq (executor_record_read (&s_record, "\x93\x01\x02\x03", 4), -1);
    cr_expect_eq (executor_record_read (&s_record, "{not json", 9), -1);
    //  status must be a string, log an array
    const char *bad_status = "{\"id\":\"e\",\"status\":3}";
    cr_expect_eq (executor_record_read (&s_record, bad_status, strlen (bad_status)), -1);
    const char *bad_log = "{\"id\":\"e\",\"log\":{}}";
    cr_expect_eq (executor_record_read (&s_record, bad_log, strlen (bad_log)), -1);
    cr_expect_eq (
        executor_record_set_packed (&s_record, EXECUTOR_RECORD_RESULT, "\xc1", 1), -1);
    cr_expect_null (executor_record_decode ("\x01", 1));
    cr_expect_null (executor_record_decode (NULL, 0));
}
