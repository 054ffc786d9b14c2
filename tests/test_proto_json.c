//  Tests for proto_json: msgpack <-> JSON, and the envelope's JSON form.

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto_json.h"

//  Unpack `size` bytes into `result` (caller destroys it).
static const msgpack_object *
s_unpack (msgpack_unpacked *result, const void *data, size_t size)
{
    msgpack_unpacked_init (result);
    size_t offset = 0;
    cr_assert_eq (msgpack_unpack_next (result, (const char *)data, size, &offset),
                  MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (offset, size);
    return &result->data;
}

//  JSON text -> msgpack -> JSON; the result must equal the input.
static void
s_round_trip (const char *text)
{
    json_error_t jerror;
    json_t *in = json_loads (text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerror);
    cr_assert_not_null (in, "%s: %s", text, jerror.text);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    proto_error_t error;
    cr_assert_eq (proto_json_to_sbuffer (in, &buf, &error), PROTO_OK, "%s",
                  error.message);
    msgpack_unpacked result;
    const msgpack_object *obj = s_unpack (&result, buf.data, buf.size);
    json_t *out = proto_json_from_msgpack (obj, "value", &error);
    cr_assert_not_null (out, "%s", error.message);
    char *dumped = json_dumps (out, JSON_ENCODE_ANY | JSON_COMPACT);
    cr_assert (json_equal (in, out), "%s came back as %s", text, dumped);
    free (dumped);
    json_decref (out);
    json_decref (in);
    msgpack_unpacked_destroy (&result);
    msgpack_sbuffer_destroy (&buf);
}

//  Convert msgpack bytes to JSON, expecting failure with `code`.
static proto_error_t
s_from_fails (const void *data, size_t size, proto_code_t code)
{
    msgpack_unpacked result;
    const msgpack_object *obj = s_unpack (&result, data, size);
    proto_error_t error;
    memset (&error, 0, sizeof error);
    json_t *out = proto_json_from_msgpack (obj, "payload", &error);
    cr_assert_null (out);
    cr_assert_eq (error.code, code, "expected %s, got %s: %s", proto_code_name (code),
                  proto_code_name (error.code), error.message);
    cr_assert_gt (strlen (error.message), 0);
    msgpack_unpacked_destroy (&result);
    return error;
}

Test (proto_json, round_trip_nested)
{
    s_round_trip ("null");
    s_round_trip ("true");
    s_round_trip ("-9223372036854775808");
    s_round_trip ("9223372036854775807");
    s_round_trip ("\"h\\u00e9llo \\u2603\"");
    s_round_trip ("1.25");
    s_round_trip ("[]");
    s_round_trip ("{}");
    s_round_trip ("{\"a\": 1, \"b\": [true, false, null, -5, 2.5, \"x\", {\"c\": {}}],"
                  " \"d\": {\"e\": {\"f\": [[[1]]]}}, \"\": \"empty key\","
                  " \"blob\": {\"$bin\": \"AAEC/w==\"}, \"nul\": \"a\\u0000b\"}");
}

Test (proto_json, key_order_preserved)
{
    json_t *in = json_loads ("{\"z\": 1, \"a\": 2, \"m\": 3}", 0, NULL);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    cr_assert_eq (proto_json_to_sbuffer (in, &buf, NULL), PROTO_OK);
    cr_assert_eq (buf.size, 10);
    cr_assert_eq (memcmp (buf.data,
                          "\x83\xa1z\x01\xa1"
                          "a\x02\xa1m\x03",
                          10),
                  0);
    json_decref (in);
    msgpack_sbuffer_destroy (&buf);
}

Test (proto_json, bin_to_dollar_bin_and_back)
{
    //  msgpack {"b": bin(00 01 02 ff), "e": bin(), "one": bin(41), "two": bin(41 42)}
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    msgpack_pack_str_with_body (&pk, "b", 1);
    msgpack_pack_bin_with_body (&pk, "\x00\x01\x02\xff", 4);
    msgpack_pack_str_with_body (&pk, "e", 1);
    msgpack_pack_bin_with_body (&pk, "", 0);
    msgpack_pack_str_with_body (&pk, "one", 3);
    msgpack_pack_bin_with_body (&pk, "A", 1);
    msgpack_pack_str_with_body (&pk, "two", 3);
    msgpack_pack_bin_with_body (&pk, "AB", 2);
    msgpack_unpacked result;
    const msgpack_object *obj = s_unpack (&result, buf.data, buf.size);
    proto_error_t error;
    json_t *json = proto_json_from_msgpack (obj, "payload", &error);
    cr_assert_not_null (json, "%s", error.message);
    char *text = json_dumps (json, JSON_COMPACT);
    cr_assert_str_eq (text, "{\"b\":{\"$bin\":\"AAEC/w==\"},\"e\":{\"$bin\":\"\"},"
                            "\"one\":{\"$bin\":\"QQ==\"},\"two\":{\"$bin\":\"QUI=\"}}");
    free (text);

    //  And back: the same bytes
    msgpack_sbuffer again;
    msgpack_sbuffer_init (&again);
    cr_assert_eq (proto_json_to_sbuffer (json, &again, &error), PROTO_OK, "%s",
                  error.message);
    cr_assert_eq (again.size, buf.size);
    cr_assert_eq (memcmp (again.data, buf.data, buf.size), 0);
    json_decref (json);
    msgpack_sbuffer_destroy (&again);
    msgpack_unpacked_destroy (&result);
    msgpack_sbuffer_destroy (&buf);
}

Test (proto_json, dollar_bin_rules)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    proto_error_t error;
    //  Not base64
    const char *bad[] = {"{\"$bin\": \"abc\"}", "{\"$bin\": \"ab!=\"}",
                         "{\"$bin\": \"a===\"}", "{\"$bin\": \"=AAA\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *in = json_loads (bad[i], 0, NULL);
        cr_assert_eq (proto_json_to_sbuffer (in, &buf, &error), PROTO_ERR_JSON, "%s",
                      bad[i]);
        cr_assert (strstr (error.message, "base64"), "%s", error.message);
        cr_assert_eq (buf.size, 0, "nothing left in the buffer");
        json_decref (in);
    }
    //  With another key, or a non-string value, "$bin" is an ordinary key
    json_t *in = json_loads ("{\"$bin\": \"QQ==\", \"x\": 1}", 0, NULL);
    cr_assert_eq (proto_json_to_sbuffer (in, &buf, &error), PROTO_OK);
    cr_assert_eq ((uint8_t)buf.data[0], 0x82);
    json_decref (in);
    msgpack_sbuffer_clear (&buf);
    in = json_loads ("{\"$bin\": 5}", 0, NULL);
    cr_assert_eq (proto_json_to_sbuffer (in, &buf, &error), PROTO_OK);
    cr_assert_eq ((uint8_t)buf.data[0], 0x81);
    json_decref (in);
    msgpack_sbuffer_destroy (&buf);
    //  A msgpack map {"$bin": str} would come back as bin: refused
    s_from_fails ("\x81\xa4$bin\xa2QQ", 9, PROTO_ERR_JSON);
}

Test (proto_json, big_uint_refused)
{
    //  {"n": uint64 2^63}
    proto_error_t error = s_from_fails ("\x81\xa1n\xcf\x80\x00\x00\x00\x00\x00\x00\x00",
                                        12, PROTO_ERR_JSON);
    cr_assert (strstr (error.message, "payload.n"), "%s", error.message);
    cr_assert (strstr (error.message, "9223372036854775808"), "%s", error.message);
    //  INT64_MAX itself is fine
    msgpack_unpacked result;
    const msgpack_object *obj =
        s_unpack (&result, "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9);
    json_t *json = proto_json_from_msgpack (obj, "n", &error);
    cr_assert_not_null (json);
    cr_assert_eq (json_integer_value (json), INT64_MAX);
    json_decref (json);
    msgpack_unpacked_destroy (&result);
}

Test (proto_json, nan_and_infinity_refused)
{
    //  float64 NaN and +inf, float32 -inf, built by hand
    const char *nan64 = "\x91\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00";
    proto_error_t error = s_from_fails (nan64, 10, PROTO_ERR_JSON);
    cr_assert (strstr (error.message, "payload[0]"), "%s", error.message);
    cr_assert (strstr (error.message, "NaN"), "%s", error.message);
    s_from_fails ("\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00", 9, PROTO_ERR_JSON);
    s_from_fails ("\xca\xff\x80\x00\x00", 5, PROTO_ERR_JSON);
    //  Finite float32 is fine
    msgpack_unpacked result;
    const msgpack_object *obj = s_unpack (&result, "\xca\x3f\xc0\x00\x00", 5);
    json_t *json = proto_json_from_msgpack (obj, NULL, &error);
    cr_assert_not_null (json);
    cr_assert_float_eq (json_real_value (json), 1.5, 1e-9);
    json_decref (json);
    msgpack_unpacked_destroy (&result);
}

Test (proto_json, invalid_utf8_refused)
{
    proto_error_t error = s_from_fails ("\x81\xa1s\xa2\xc3\x28", 6, PROTO_ERR_JSON);
    cr_assert (strstr (error.message, "payload.s"), "%s", error.message);
    cr_assert (strstr (error.message, "UTF-8"), "%s", error.message);
    //  In a key
    error = s_from_fails ("\x81\xa1\xff\x01", 4, PROTO_ERR_JSON);
    cr_assert (strstr (error.message, "UTF-8"), "%s", error.message);
}

Test (proto_json, non_string_keys_and_ext_refused)
{
    s_from_fails ("\x81\x01\x02", 3, PROTO_ERR_JSON);
    s_from_fails ("\x81\xc0\x02", 3, PROTO_ERR_JSON);
    s_from_fails ("\x91\xd4\x01\x02", 4, PROTO_ERR_JSON);
    //  Duplicate keys would lose a value: refused
    s_from_fails ("\x82\xa1k\x01\xa1k\x02", 7, PROTO_ERR_JSON);
}

Test (proto_json, depth_limit_both_ways)
{
    //  msgpack: 16 nested arrays convert, 17 do not
    uint8_t data[20];
    memset (data, 0x91, sizeof data);
    data[16] = 0xc0;
    msgpack_unpacked result;
    proto_error_t error;
    const msgpack_object *obj = s_unpack (&result, data, 17);
    json_t *json = proto_json_from_msgpack (obj, "v", &error);
    cr_assert_not_null (json, "%s", error.message);
    msgpack_unpacked_destroy (&result);

    data[16] = 0x91;
    data[17] = 0xc0;
    s_from_fails (data, 18, PROTO_ERR_TOO_DEEP);

    //  JSON: the 16-deep array packs, one more level does not
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    cr_assert_eq (proto_json_to_sbuffer (json, &buf, &error), PROTO_OK, "%s",
                  error.message);
    json_t *deeper = json_array ();
    json_array_append (deeper, json);
    msgpack_sbuffer_clear (&buf);
    cr_assert_eq (proto_json_to_sbuffer (deeper, &buf, &error), PROTO_ERR_TOO_DEEP);
    cr_assert_eq (buf.size, 0);
    json_decref (deeper);
    json_decref (json);
    msgpack_sbuffer_destroy (&buf);
}

Test (proto_json, envelope_payload_json)
{
    proto_envelope_t *env = proto_envelope_new ("test.ping", "me@host");
    json_t *payload = json_loads (
        "{\"n\": 3, \"list\": [1, \"a\"], \"b\": {\"$bin\": \"AQI=\"}}", 0, NULL);
    proto_error_t error;
    cr_assert_eq (proto_envelope_set_payload_json (env, payload, &error), PROTO_OK, "%s",
                  error.message);
    const msgpack_object *obj = proto_envelope_payload_object (env);
    const msgpack_object *b = proto_map_get (obj, "b");
    cr_assert_eq (b->type, MSGPACK_OBJECT_BIN);
    cr_assert_eq (b->via.bin.size, 2);
    json_t *back = proto_envelope_payload_json (env, &error);
    cr_assert_not_null (back, "%s", error.message);
    cr_assert (json_equal (back, payload));
    json_decref (back);
    //  Not an object
    json_t *array = json_array ();
    cr_assert_eq (proto_envelope_set_payload_json (env, array, &error),
                  PROTO_ERR_NOT_MAP);
    json_decref (array);
    json_decref (payload);
    proto_envelope_destroy (&env);
}

Test (proto_json, envelope_to_json_fields)
{
    proto_envelope_t *env = proto_envelope_new ("execution.completed", "executor@core1");
    uint8_t id[16], corr[16];
    cr_assert_eq (proto_uuid_parse ("4f9c2b1e-8a4d-4c1e-9d6a-0b3f5e7a9c21", id), 0);
    cr_assert_eq (proto_uuid_parse ("00112233-4455-6677-8899-aabbccddeeff", corr), 0);
    proto_envelope_set_id (env, id);
    proto_envelope_set_ts (env, -1795363200000000LL);
    proto_envelope_set_retry (env, 3);
    json_t *payload = json_loads ("{\"status\": \"completed\"}", 0, NULL);
    cr_assert_eq (proto_envelope_set_payload_json (env, payload, NULL), PROTO_OK);

    proto_error_t error;
    json_t *json = proto_envelope_to_json (env, &error);
    cr_assert_not_null (json, "%s", error.message);
    cr_assert_eq (json_object_size (json), 9);
    cr_assert_eq (json_integer_value (json_object_get (json, "v")), 1);
    cr_assert_str_eq (json_string_value (json_object_get (json, "id")),
                      "4f9c2b1e-8a4d-4c1e-9d6a-0b3f5e7a9c21");
    cr_assert_str_eq (json_string_value (json_object_get (json, "type")),
                      "execution.completed");
    cr_assert_str_eq (json_string_value (json_object_get (json, "source")),
                      "executor@core1");
    cr_assert_eq (json_integer_value (json_object_get (json, "ts")), -1795363200000000LL);
    cr_assert (json_is_null (json_object_get (json, "corr")));
    cr_assert (json_is_null (json_object_get (json, "trace")));
    cr_assert_eq (json_integer_value (json_object_get (json, "retry")), 3);
    cr_assert (json_equal (json_object_get (json, "payload"), payload));
    json_decref (json);

    proto_envelope_set_corr (env, corr);
    proto_envelope_set_trace (env, "trace-1");
    json = proto_envelope_to_json (env, &error);
    cr_assert_str_eq (json_string_value (json_object_get (json, "corr")),
                      "00112233-4455-6677-8899-aabbccddeeff");
    cr_assert_str_eq (json_string_value (json_object_get (json, "trace")), "trace-1");
    json_decref (json);

    //  retry above INT64_MAX has no JSON form
    proto_envelope_set_retry (env, UINT64_MAX);
    cr_assert_null (proto_envelope_to_json (env, &error));
    cr_assert_eq (error.code, PROTO_ERR_JSON);
    cr_assert (strstr (error.message, "retry"), "%s", error.message);
    proto_envelope_set_retry (env, 0);
    //  A payload value without a JSON form fails the whole conversion
    cr_assert_eq (proto_envelope_set_payload (
                      env, "\x81\xa1n\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 12, NULL),
                  PROTO_OK);
    cr_assert_null (proto_envelope_to_json (env, &error));
    cr_assert_eq (error.code, PROTO_ERR_JSON);
    cr_assert (strstr (error.message, "payload.n"), "%s", error.message);
    json_decref (payload);
    proto_envelope_destroy (&env);
}
