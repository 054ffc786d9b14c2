//  Tests for proto_envelope: codec round trips and the hostile-input decoder.

#include <criterion/criterion.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto_envelope.h"

//  ---------------------------------------------------------------------------
//  Helpers

static const uint8_t s_id[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const uint8_t s_corr[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

//  A payload with nesting: {"n": 3, "items": [1, "two", {"deep": [true, nil]}],
//  "blob": bin(3), "f": 1.5}
static void
s_pack_payload (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 4);
    msgpack_pack_str_with_body (pk, "n", 1);
    msgpack_pack_int (pk, 3);
    msgpack_pack_str_with_body (pk, "items", 5);
    msgpack_pack_array (pk, 3);
    msgpack_pack_int (pk, 1);
    msgpack_pack_str_with_body (pk, "two", 3);
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "deep", 4);
    msgpack_pack_array (pk, 2);
    msgpack_pack_true (pk);
    msgpack_pack_nil (pk);
    msgpack_pack_str_with_body (pk, "blob", 4);
    msgpack_pack_bin_with_body (pk, "\x00\x01\x02", 3);
    msgpack_pack_str_with_body (pk, "f", 1);
    msgpack_pack_double (pk, 1.5);
}

//  A full envelope with every field set and the nested payload.
static proto_envelope_t *
s_sample (void)
{
    proto_envelope_t *env = proto_envelope_new ("execution.completed", "executor@test");
    cr_assert_not_null (env);
    proto_envelope_set_id (env, s_id);
    proto_envelope_set_ts (env, 1700000000123456LL);
    proto_envelope_set_corr (env, s_corr);
    cr_assert_eq (proto_envelope_set_trace (env, "trace-abc"), 0);
    proto_envelope_set_retry (env, 7);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    s_pack_payload (&pk);
    proto_error_t error;
    cr_assert_eq (proto_envelope_set_payload (env, buf.data, buf.size, &error), PROTO_OK,
                  "%s", error.message);
    msgpack_sbuffer_destroy (&buf);
    return env;
}

static void
s_encode (const proto_envelope_t *env, msgpack_sbuffer *buf)
{
    msgpack_sbuffer_init (buf);
    cr_assert_eq (proto_envelope_encode (env, buf), 0);
}

//  Decode and expect failure with `code`; returns the error for more checks.
static proto_error_t
s_expect_error (const void *data, size_t size, const proto_limits_t *limits,
                proto_code_t code)
{
    proto_error_t error;
    memset (&error, 0, sizeof error);
    proto_envelope_t *env = proto_envelope_decode (data, size, limits, &error);
    if (env)
        proto_envelope_destroy (&env);
    cr_assert_eq (error.code, code, "expected %s, got %s: %s", proto_code_name (code),
                  proto_code_name (error.code), error.message);
    cr_assert_gt (strlen (error.message), 0);
    return error;
}

//  Builds an envelope by hand, with one field changed, dropped or added.
//  `skip` names a field to leave out, `replace` one whose value comes from
//  `fn`, and `extra` (if not NULL) an extra key with a nil value.
typedef void (s_value_fn) (msgpack_packer *pk);

static void
s_build (msgpack_sbuffer *buf, const char *skip, const char *replace, s_value_fn *fn,
         const char *extra)
{
    static const char *fields[] = {"v",    "id",    "type",  "source", "ts",
                                   "corr", "trace", "retry", "payload"};
    msgpack_sbuffer_init (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    size_t count = 9 - (skip ? 1 : 0) + (extra ? 1 : 0);
    msgpack_pack_map (&pk, count);
    for (int i = 0; i < 9; i++) {
        const char *name = fields[i];
        if (skip && strcmp (name, skip) == 0)
            continue;
        msgpack_pack_str_with_body (&pk, name, strlen (name));
        if (replace && strcmp (name, replace) == 0) {
            fn (&pk);
            continue;
        }
        switch (i) {
            case 0:
                msgpack_pack_uint8 (&pk, 1);
                break;
            case 1:
                msgpack_pack_bin_with_body (&pk, s_id, 16);
                break;
            case 2:
                msgpack_pack_str_with_body (&pk, "test.ping", 9);
                break;
            case 3:
                msgpack_pack_str_with_body (&pk, "me@host", 7);
                break;
            case 4:
                msgpack_pack_int64 (&pk, 42);
                break;
            case 5:
            case 6:
                msgpack_pack_nil (&pk);
                break;
            case 7:
                msgpack_pack_uint8 (&pk, 0);
                break;
            case 8:
                msgpack_pack_map (&pk, 0);
                break;
        }
    }
    if (extra) {
        msgpack_pack_str_with_body (&pk, extra, strlen (extra));
        msgpack_pack_nil (&pk);
    }
}

//  ---------------------------------------------------------------------------
//  Round trips

Test (proto_envelope, new_defaults)
{
    proto_envelope_t *env = proto_envelope_new ("test.ping", "me@host");
    cr_assert_not_null (env);
    cr_assert_eq (proto_envelope_version (env), PROTO_VERSION);
    cr_assert_str_eq (proto_envelope_type (env), "test.ping");
    cr_assert_str_eq (proto_envelope_source (env), "me@host");
    cr_assert_null (proto_envelope_corr (env));
    cr_assert_null (proto_envelope_trace (env));
    cr_assert_eq (proto_envelope_retry (env), 0);
    int64_t now = proto_now_usec ();
    cr_assert (llabs (proto_envelope_ts (env) - now) < 10 * 1000000LL);
    const uint8_t *id = proto_envelope_id (env);
    cr_assert_eq (id[6] >> 4, 7, "UUID version 7 (time-ordered)");
    cr_assert_eq (id[8] & 0xc0, 0x80, "UUID variant");
    size_t size;
    const uint8_t *payload = proto_envelope_payload (env, &size);
    cr_assert_eq (size, 1);
    cr_assert_eq (payload[0], 0x80);

    proto_envelope_t *other = proto_envelope_new ("test.ping", "me@host");
    cr_assert_neq (memcmp (proto_envelope_id (other), id, 16), 0, "ids differ");
    cr_assert_gt (memcmp (proto_envelope_id (other), id, 16), 0, "later ids sort later");
    //  Many in a row, within the same milliseconds: strictly increasing
    uint8_t previous[16], next[16];
    proto_uuid_generate (previous);
    for (int i = 0; i < 20000; i++) {
        proto_uuid_generate (next);
        cr_assert_gt (memcmp (next, previous, 16), 0, "id %d sorts after the one before",
                      i);
        cr_assert_eq (next[6] >> 4, 7);
        cr_assert_eq (next[8] & 0xc0, 0x80);
        memcpy (previous, next, 16);
    }
    proto_envelope_destroy (&other);
    proto_envelope_destroy (&env);
    cr_assert_null (env);
    proto_envelope_destroy (&env); //  safe twice
}

Test (proto_envelope, new_rejects_bad_strings)
{
    char long_type[PROTO_MAX_TYPE + 2];
    memset (long_type, 'a', sizeof long_type - 1);
    long_type[sizeof long_type - 1] = '\0';
    cr_assert_null (proto_envelope_new ("", "me"));
    cr_assert_null (proto_envelope_new ("t", ""));
    cr_assert_null (proto_envelope_new (NULL, "me"));
    cr_assert_null (proto_envelope_new (long_type, "me"));
    long_type[PROTO_MAX_TYPE] = '\0'; //  exactly the maximum: fine
    proto_envelope_t *env = proto_envelope_new (long_type, "me");
    cr_assert_not_null (env);
    char long_trace[PROTO_MAX_TRACE + 2];
    memset (long_trace, 'x', sizeof long_trace - 1);
    long_trace[sizeof long_trace - 1] = '\0';
    cr_assert_eq (proto_envelope_set_trace (env, long_trace), -1);
    cr_assert_eq (proto_envelope_set_type (env, ""), -1);
    cr_assert_eq (proto_envelope_set_source (env, ""), -1);
    cr_assert_str_eq (proto_envelope_type (env), long_type);
    proto_envelope_destroy (&env);
}

Test (proto_envelope, unique_ids)
{
    //  Enough to cross many refills of the random pool
    enum { N = 2000 };
    static uint8_t ids[N][16];
    for (int i = 0; i < N; i++)
        proto_uuid_generate (ids[i]);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            cr_assert_neq (memcmp (ids[i], ids[j], 16), 0);
}

Test (proto_envelope, round_trip_all_fields)
{
    proto_envelope_t *env = s_sample ();
    msgpack_sbuffer buf;
    s_encode (env, &buf);
    proto_error_t error;
    proto_envelope_t *copy = proto_envelope_decode (buf.data, buf.size, NULL, &error);
    cr_assert_not_null (copy, "%s", error.message);
    cr_assert_eq (error.code, PROTO_OK);
    cr_assert_eq (proto_envelope_version (copy), 1);
    cr_assert_eq (memcmp (proto_envelope_id (copy), s_id, 16), 0);
    cr_assert_str_eq (proto_envelope_type (copy), "execution.completed");
    cr_assert_str_eq (proto_envelope_source (copy), "executor@test");
    cr_assert_eq (proto_envelope_ts (copy), 1700000000123456LL);
    cr_assert_not_null (proto_envelope_corr (copy));
    cr_assert_eq (memcmp (proto_envelope_corr (copy), s_corr, 16), 0);
    cr_assert_str_eq (proto_envelope_trace (copy), "trace-abc");
    cr_assert_eq (proto_envelope_retry (copy), 7);

    size_t a_size, b_size;
    const uint8_t *a = proto_envelope_payload (env, &a_size);
    const uint8_t *b = proto_envelope_payload (copy, &b_size);
    cr_assert_eq (a_size, b_size);
    cr_assert_eq (memcmp (a, b, a_size), 0);

    //  The nested payload as an object
    const msgpack_object *payload = proto_envelope_payload_object (copy);
    cr_assert_not_null (payload);
    cr_assert_eq (payload->type, MSGPACK_OBJECT_MAP);
    const msgpack_object *n = proto_map_get (payload, "n");
    cr_assert_not_null (n);
    cr_assert_eq (n->via.u64, 3);
    const msgpack_object *items = proto_map_get (payload, "items");
    cr_assert_eq (items->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq (items->via.array.size, 3);
    char *two = proto_str_dup (&items->via.array.ptr[1]);
    cr_assert_str_eq (two, "two");
    free (two);
    const msgpack_object *deep = proto_map_get (&items->via.array.ptr[2], "deep");
    cr_assert_eq (deep->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq (deep->via.array.ptr[0].type, MSGPACK_OBJECT_BOOLEAN);
    cr_assert_null (proto_map_get (payload, "absent"));
    cr_assert_null (proto_map_get (n, "n"), "not a map");
    cr_assert_null (proto_str_dup (n), "not a str");

    //  Re-encoding the decoded copy gives the same bytes
    msgpack_sbuffer again;
    s_encode (copy, &again);
    cr_assert_eq (again.size, buf.size);
    cr_assert_eq (memcmp (again.data, buf.data, buf.size), 0);

    msgpack_sbuffer_destroy (&again);
    msgpack_sbuffer_destroy (&buf);
    proto_envelope_destroy (&copy);
    proto_envelope_destroy (&env);
}

Test (proto_envelope, round_trip_nil_and_extremes)
{
    struct {
        int64_t ts;
        uint64_t retry;
        const char *trace;
    } cases[] = {
        {0, 0, NULL},
        {-1, 1, ""},
        {-32, 127, "t"},
        {-33, 128, NULL},
        {INT64_MIN, UINT64_MAX, NULL},
        {INT64_MAX, (uint64_t)INT64_MAX + 1, "x"},
        {-1700000000000000LL, 65536, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        proto_envelope_t *env = proto_envelope_new ("a", "b");
        proto_envelope_set_ts (env, cases[i].ts);
        proto_envelope_set_retry (env, cases[i].retry);
        cr_assert_eq (proto_envelope_set_trace (env, cases[i].trace), 0);
        msgpack_sbuffer buf;
        s_encode (env, &buf);
        proto_error_t error;
        proto_envelope_t *copy = proto_envelope_decode (buf.data, buf.size, NULL, &error);
        cr_assert_not_null (copy, "case %zu: %s", i, error.message);
        cr_assert_eq (proto_envelope_ts (copy), cases[i].ts, "case %zu", i);
        cr_assert_eq (proto_envelope_retry (copy), cases[i].retry, "case %zu", i);
        cr_assert_null (proto_envelope_corr (copy));
        if (cases[i].trace)
            cr_assert_str_eq (proto_envelope_trace (copy), cases[i].trace);
        else
            cr_assert_null (proto_envelope_trace (copy));
        msgpack_sbuffer_destroy (&buf);
        proto_envelope_destroy (&copy);
        proto_envelope_destroy (&env);
    }
}

Test (proto_envelope, encode_appends_and_is_deterministic)
{
    proto_envelope_t *env = s_sample ();
    msgpack_sbuffer a, b;
    s_encode (env, &a);
    s_encode (env, &b);
    cr_assert_eq (a.size, b.size);
    cr_assert_eq (memcmp (a.data, b.data, a.size), 0);
    //  Append: two envelopes back to back, each decodes on its own
    size_t one = a.size;
    cr_assert_eq (proto_envelope_encode (env, &a), 0);
    cr_assert_eq (a.size, 2 * one);
    cr_assert_eq (memcmp (a.data + one, b.data, one), 0);
    //  Key order: v id type source ts corr trace retry payload
    const char *order[] = {"v",    "id",    "type",  "source", "ts",
                           "corr", "trace", "retry", "payload"};
    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    cr_assert_eq (msgpack_unpack_next (&result, b.data, b.size, NULL),
                  MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (result.data.via.map.size, 9);
    for (int i = 0; i < 9; i++) {
        msgpack_object_str key = result.data.via.map.ptr[i].key.via.str;
        cr_assert_eq (key.size, strlen (order[i]));
        cr_assert_eq (memcmp (key.ptr, order[i], key.size), 0);
    }
    msgpack_unpacked_destroy (&result);
    //  nil corr and trace are written, not left out
    proto_envelope_set_corr (env, NULL);
    proto_envelope_set_trace (env, NULL);
    msgpack_sbuffer_clear (&b);
    cr_assert_eq (proto_envelope_encode (env, &b), 0);
    msgpack_unpacked_init (&result);
    cr_assert_eq (msgpack_unpack_next (&result, b.data, b.size, NULL),
                  MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (result.data.via.map.size, 9);
    cr_assert_eq (result.data.via.map.ptr[5].val.type, MSGPACK_OBJECT_NIL);
    cr_assert_eq (result.data.via.map.ptr[6].val.type, MSGPACK_OBJECT_NIL);
    msgpack_unpacked_destroy (&result);
    msgpack_sbuffer_destroy (&a);
    msgpack_sbuffer_destroy (&b);
    proto_envelope_destroy (&env);
}

Test (proto_envelope, dup_is_deep)
{
    proto_envelope_t *env = s_sample ();
    proto_envelope_t *copy = proto_envelope_dup (env);
    cr_assert_not_null (copy);
    proto_envelope_destroy (&env);
    //  env is gone: the copy must own everything
    cr_assert_str_eq (proto_envelope_type (copy), "execution.completed");
    cr_assert_str_eq (proto_envelope_trace (copy), "trace-abc");
    const msgpack_object *payload = proto_envelope_payload_object (copy);
    cr_assert_not_null (proto_map_get (payload, "items"));
    proto_envelope_destroy (&copy);
}

Test (proto_envelope, set_payload_replaces_and_validates)
{
    proto_envelope_t *env = s_sample ();
    const msgpack_object *before = proto_envelope_payload_object (env);
    cr_assert_not_null (proto_map_get (before, "n"));
    proto_error_t error;
    //  {"k": "v"}
    cr_assert_eq (proto_envelope_set_payload (env, "\x81\xa1k\xa1v", 5, &error),
                  PROTO_OK);
    const msgpack_object *after = proto_envelope_payload_object (env);
    cr_assert_null (proto_map_get (after, "n"));
    cr_assert_not_null (proto_map_get (after, "k"));
    //  Not a map, duplicate keys, trailing bytes, ext, empty
    cr_assert_eq (proto_envelope_set_payload (env, "\x91\x01", 2, &error),
                  PROTO_ERR_NOT_MAP);
    cr_assert_eq (proto_envelope_set_payload (env, "\x82\xa1k\x01\xa1k\x02", 7, &error),
                  PROTO_ERR_DUP_KEY);
    cr_assert (strstr (error.message, "payload"), "%s", error.message);
    cr_assert_eq (proto_envelope_set_payload (env, "\x80\x00", 2, &error),
                  PROTO_ERR_TRAILING);
    cr_assert_eq (proto_envelope_set_payload (env, "\x81\xa1k\xd4\x01\x00", 6, &error),
                  PROTO_ERR_EXT);
    cr_assert_eq (proto_envelope_set_payload (env, "", 0, &error), PROTO_ERR_EMPTY);
    //  Unchanged by the failures
    size_t size;
    const uint8_t *payload = proto_envelope_payload (env, &size);
    cr_assert_eq (size, 5);
    cr_assert_eq (memcmp (payload, "\x81\xa1k\xa1v", 5), 0);
    //  Setting the payload from its own bytes works
    cr_assert_eq (proto_envelope_set_payload (env, payload, size, &error), PROTO_OK);
    payload = proto_envelope_payload (env, &size);
    cr_assert_eq (memcmp (payload, "\x81\xa1k\xa1v", 5), 0);
    proto_envelope_destroy (&env);
}

Test (proto_envelope, payload_depth_matches_decoder)
{
    //  The payload is depth 2 in the envelope: 15 nested maps fit, 16 do not
    for (int levels = 15; levels <= 16; levels++) {
        uint8_t data[64];
        size_t n = 0;
        for (int i = 0; i < levels - 1; i++) {
            data[n++] = 0x81;
            data[n++] = 0xa1;
            data[n++] = 'k';
        }
        data[n++] = 0x80;
        proto_envelope_t *env = proto_envelope_new ("a", "b");
        proto_error_t error;
        proto_code_t rc = proto_envelope_set_payload (env, data, n, &error);
        if (levels == 15) {
            cr_assert_eq (rc, PROTO_OK, "%s", error.message);
            msgpack_sbuffer buf;
            s_encode (env, &buf);
            proto_envelope_t *copy =
                proto_envelope_decode (buf.data, buf.size, NULL, &error);
            cr_assert_not_null (copy, "%s", error.message);
            proto_envelope_destroy (&copy);
            msgpack_sbuffer_destroy (&buf);
        } else
            cr_assert_eq (rc, PROTO_ERR_TOO_DEEP);
        proto_envelope_destroy (&env);
    }
}

//  ---------------------------------------------------------------------------
//  Helpers: UUIDs and codes

Test (proto_envelope, uuid_format_parse)
{
    char text[PROTO_UUID_STR_SIZE];
    proto_uuid_format (s_id, text);
    cr_assert_str_eq (text, "00112233-4455-6677-8899-aabbccddeeff");
    uint8_t id[16];
    cr_assert_eq (proto_uuid_parse (text, id), 0);
    cr_assert_eq (memcmp (id, s_id, 16), 0);
    memset (id, 0, 16);
    cr_assert_eq (proto_uuid_parse ("00112233445566778899AABBCCDDEEFF", id), 0);
    cr_assert_eq (memcmp (id, s_id, 16), 0);
    cr_assert_eq (proto_uuid_parse ("00112233-4455-6677-8899-aabbccddeef", id), -1);
    cr_assert_eq (proto_uuid_parse ("00112233-4455-6677-8899-aabbccddeeffa", id), -1);
    cr_assert_eq (proto_uuid_parse ("0011223344-55-6677-8899-aabbccddeeff", id), -1);
    cr_assert_eq (proto_uuid_parse ("00112233-4455-6677-8899-aabbccddeefg", id), -1);
    cr_assert_eq (proto_uuid_parse ("", id), -1);
    cr_assert_eq (proto_uuid_parse (NULL, id), -1);
}

Test (proto_envelope, code_names_distinct)
{
    for (int a = 0; a < PROTO_ERR_COUNT; a++) {
        const char *name = proto_code_name ((proto_code_t)a);
        const char *text = proto_strerror ((proto_code_t)a);
        cr_assert (name && *name, "code %d has a name", a);
        cr_assert (text && *text, "code %d has a text", a);
        for (int b = 0; b < a; b++) {
            cr_assert_str_neq (name, proto_code_name ((proto_code_t)b));
            cr_assert_str_neq (text, proto_strerror ((proto_code_t)b));
        }
    }
    cr_assert_str_eq (proto_code_name (PROTO_ERR_TRUNCATED), "truncated");
    cr_assert_str_eq (proto_code_name (PROTO_ERR_TOO_DEEP), "too_deep");
    cr_assert_str_eq (proto_code_name (PROTO_ERR_COUNT), "unknown");
    cr_assert_str_eq (proto_code_name ((proto_code_t)-1), "unknown");
    cr_assert_not_null (proto_strerror ((proto_code_t)999));
}

//  ---------------------------------------------------------------------------
//  Hostile frames

Test (proto_envelope, every_truncation_fails)
{
    proto_envelope_t *env = s_sample ();
    msgpack_sbuffer buf;
    s_encode (env, &buf);
    for (size_t len = 0; len < buf.size; len++) {
        proto_error_t error;
        proto_envelope_t *copy = proto_envelope_decode (buf.data, len, NULL, &error);
        cr_assert_null (copy, "prefix of %zu bytes decoded", len);
        cr_assert_neq (error.code, PROTO_OK);
        cr_assert (error.code == PROTO_ERR_TRUNCATED || error.code == PROTO_ERR_LENGTH ||
                       error.code == PROTO_ERR_EMPTY,
                   "prefix %zu: %s: %s", len, proto_code_name (error.code),
                   error.message);
        cr_assert_leq (error.offset, len);
    }
    msgpack_sbuffer_destroy (&buf);
    proto_envelope_destroy (&env);
}

Test (proto_envelope, empty_and_oversize)
{
    s_expect_error ("", 0, NULL, PROTO_ERR_EMPTY);
    s_expect_error (NULL, 0, NULL, PROTO_ERR_EMPTY);

    //  Over the default limit: refused before anything is read (the bytes are
    //  garbage that would otherwise fail differently)
    size_t big = PROTO_MAX_FRAME + 1;
    uint8_t *data = (uint8_t *)malloc (big);
    memset (data, 0xc1, big);
    proto_error_t error = s_expect_error (data, big, NULL, PROTO_ERR_TOO_LARGE);
    cr_assert (strstr (error.message, "1048577"), "%s", error.message);
    //  A custom, smaller limit
    proto_envelope_t *env = s_sample ();
    msgpack_sbuffer buf;
    s_encode (env, &buf);
    proto_limits_t limits = {.max_frame = buf.size - 1, .max_depth = 0};
    s_expect_error (buf.data, buf.size, &limits, PROTO_ERR_TOO_LARGE);
    limits.max_frame = buf.size;
    proto_envelope_t *copy = proto_envelope_decode (buf.data, buf.size, &limits, &error);
    cr_assert_not_null (copy, "%s", error.message);
    //  A custom depth limit: the sample's payload nests 4 deep in the envelope
    limits.max_depth = 3;
    s_expect_error (buf.data, buf.size, &limits, PROTO_ERR_TOO_DEEP);
    proto_envelope_destroy (&copy);
    msgpack_sbuffer_destroy (&buf);
    proto_envelope_destroy (&env);
    free (data);
}

static void
s_pack_str (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "x", 1);
}
static void
s_pack_int (msgpack_packer *pk)
{
    msgpack_pack_int (pk, 5);
}
static void
s_pack_neg (msgpack_packer *pk)
{
    msgpack_pack_int (pk, -5);
}
static void
s_pack_nil (msgpack_packer *pk)
{
    msgpack_pack_nil (pk);
}
static void
s_pack_bin15 (msgpack_packer *pk)
{
    msgpack_pack_bin_with_body (pk, s_id, 15);
}
static void
s_pack_bin16 (msgpack_packer *pk)
{
    msgpack_pack_bin_with_body (pk, s_id, 16);
}
static void
s_pack_str16 (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "0123456789abcdef", 16);
}
static void
s_pack_empty_str (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "", 0);
}
static void
s_pack_nul_str (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "a\0b", 3);
}
static void
s_pack_long_str (msgpack_packer *pk)
{
    char text[PROTO_MAX_SOURCE + 1];
    memset (text, 's', sizeof text);
    msgpack_pack_str_with_body (pk, text, sizeof text);
}
static void
s_pack_float (msgpack_packer *pk)
{
    msgpack_pack_double (pk, 1.0);
}
static void
s_pack_array (msgpack_packer *pk)
{
    msgpack_pack_array (pk, 0);
}
static void
s_pack_map (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 0);
}
static void
s_pack_true (msgpack_packer *pk)
{
    msgpack_pack_true (pk);
}
static void
s_pack_big_uint (msgpack_packer *pk)
{
    msgpack_pack_uint64 (pk, (uint64_t)INT64_MAX + 1);
}
static void
s_pack_v2 (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 2);
}
static void
s_pack_v0 (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 0);
}
static void
s_pack_v1_int8 (msgpack_packer *pk)
{
    msgpack_pack_fix_int8 (pk, 1);
}
static void
s_pack_ts_uint64 (msgpack_packer *pk)
{
    msgpack_pack_fix_uint64 (pk, 12345);
}
static void
s_pack_ts_int64 (msgpack_packer *pk)
{
    msgpack_pack_fix_int64 (pk, -12345);
}

Test (proto_envelope, wrong_field_types)
{
    struct {
        const char *field;
        s_value_fn *fn;
        proto_code_t code;
    } cases[] = {
        {"v", s_pack_str, PROTO_ERR_FIELD_TYPE},
        {"v", s_pack_nil, PROTO_ERR_FIELD_TYPE},
        {"v", s_pack_float, PROTO_ERR_FIELD_TYPE},
        {"v", s_pack_v2, PROTO_ERR_VERSION},
        {"v", s_pack_v0, PROTO_ERR_VERSION},
        {"v", s_pack_neg, PROTO_ERR_VERSION},
        {"id", s_pack_str16, PROTO_ERR_FIELD_TYPE},
        {"id", s_pack_bin15, PROTO_ERR_FIELD_TYPE},
        {"id", s_pack_nil, PROTO_ERR_FIELD_TYPE},
        {"type", s_pack_int, PROTO_ERR_FIELD_TYPE},
        {"type", s_pack_empty_str, PROTO_ERR_FIELD_TYPE},
        {"type", s_pack_nul_str, PROTO_ERR_FIELD_TYPE},
        {"type", s_pack_long_str, PROTO_ERR_FIELD_TYPE},
        {"type", s_pack_bin16, PROTO_ERR_FIELD_TYPE},
        {"source", s_pack_nil, PROTO_ERR_FIELD_TYPE},
        {"source", s_pack_empty_str, PROTO_ERR_FIELD_TYPE},
        {"source", s_pack_nul_str, PROTO_ERR_FIELD_TYPE},
        {"source", s_pack_long_str, PROTO_ERR_FIELD_TYPE},
        {"ts", s_pack_str, PROTO_ERR_FIELD_TYPE},
        {"ts", s_pack_float, PROTO_ERR_FIELD_TYPE},
        {"ts", s_pack_nil, PROTO_ERR_FIELD_TYPE},
        {"ts", s_pack_big_uint, PROTO_ERR_FIELD_TYPE},
        {"corr", s_pack_str16, PROTO_ERR_FIELD_TYPE},
        {"corr", s_pack_bin15, PROTO_ERR_FIELD_TYPE},
        {"corr", s_pack_int, PROTO_ERR_FIELD_TYPE},
        {"trace", s_pack_int, PROTO_ERR_FIELD_TYPE},
        {"trace", s_pack_nul_str, PROTO_ERR_FIELD_TYPE},
        {"trace", s_pack_long_str, PROTO_ERR_FIELD_TYPE},
        {"trace", s_pack_bin16, PROTO_ERR_FIELD_TYPE},
        {"retry", s_pack_neg, PROTO_ERR_FIELD_TYPE},
        {"retry", s_pack_str, PROTO_ERR_FIELD_TYPE},
        {"retry", s_pack_nil, PROTO_ERR_FIELD_TYPE},
        {"retry", s_pack_true, PROTO_ERR_FIELD_TYPE},
        {"payload", s_pack_array, PROTO_ERR_NOT_MAP},
        {"payload", s_pack_nil, PROTO_ERR_NOT_MAP},
        {"payload", s_pack_str, PROTO_ERR_NOT_MAP},
        //  Accepted alternatives
        {"v", s_pack_v1_int8, PROTO_OK},
        {"ts", s_pack_ts_uint64, PROTO_OK},
        {"ts", s_pack_ts_int64, PROTO_OK},
        {"ts", s_pack_neg, PROTO_OK},
        {"corr", s_pack_bin16, PROTO_OK},
        {"trace", s_pack_empty_str, PROTO_OK},
        {"retry", s_pack_big_uint, PROTO_OK},
        {"payload", s_pack_map, PROTO_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgpack_sbuffer buf;
        s_build (&buf, NULL, cases[i].field, cases[i].fn, NULL);
        proto_error_t error;
        proto_envelope_t *env = proto_envelope_decode (buf.data, buf.size, NULL, &error);
        cr_assert_eq (error.code, cases[i].code, "case %zu (%s): expected %s, got %s: %s",
                      i, cases[i].field, proto_code_name (cases[i].code),
                      proto_code_name (error.code), error.message);
        if (cases[i].code == PROTO_OK)
            cr_assert_not_null (env);
        else {
            cr_assert_null (env);
            //  The message names the field
            cr_assert (strncmp (error.message, cases[i].field, strlen (cases[i].field)) ==
                           0,
                       "case %zu: %s", i, error.message);
            cr_assert_gt (error.offset, 0);
        }
        proto_envelope_destroy (&env);
        msgpack_sbuffer_destroy (&buf);
    }
}

Test (proto_envelope, missing_each_field)
{
    const char *fields[] = {"v",    "id",    "type",  "source", "ts",
                            "corr", "trace", "retry", "payload"};
    for (int i = 0; i < 9; i++) {
        msgpack_sbuffer buf;
        s_build (&buf, fields[i], NULL, NULL, NULL);
        proto_error_t error =
            s_expect_error (buf.data, buf.size, NULL, PROTO_ERR_MISSING);
        char expected[64];
        snprintf (expected, sizeof expected, "%s: ", fields[i]);
        cr_assert (strncmp (error.message, expected, strlen (expected)) == 0, "%s",
                   error.message);
        msgpack_sbuffer_destroy (&buf);
    }
    //  And the complete one decodes
    msgpack_sbuffer buf;
    s_build (&buf, NULL, NULL, NULL, NULL);
    proto_error_t error;
    proto_envelope_t *env = proto_envelope_decode (buf.data, buf.size, NULL, &error);
    cr_assert_not_null (env, "%s", error.message);
    cr_assert_str_eq (proto_envelope_type (env), "test.ping");
    proto_envelope_destroy (&env);
    msgpack_sbuffer_destroy (&buf);
}

Test (proto_envelope, unknown_field)
{
    msgpack_sbuffer buf;
    s_build (&buf, NULL, NULL, NULL, "extra");
    proto_error_t error =
        s_expect_error (buf.data, buf.size, NULL, PROTO_ERR_UNKNOWN_FIELD);
    cr_assert (strstr (error.message, "extra"), "%s", error.message);
    msgpack_sbuffer_destroy (&buf);
    //  A newer version with new fields reports the version, not the field
    s_build (&buf, NULL, "v", s_pack_v2, "extra");
    s_expect_error (buf.data, buf.size, NULL, PROTO_ERR_VERSION);
    msgpack_sbuffer_destroy (&buf);
}

Test (proto_envelope, not_a_map)
{
    s_expect_error ("\x01", 1, NULL, PROTO_ERR_NOT_MAP);
    s_expect_error ("\x93\x01\x02\x03", 4, NULL, PROTO_ERR_NOT_MAP);
    s_expect_error ("\xa3"
                    "abc",
                    4, NULL, PROTO_ERR_NOT_MAP);
    s_expect_error ("\x80", 1, NULL, PROTO_ERR_MISSING);
}

Test (proto_envelope, duplicate_keys)
{
    //  Top level: "type" twice (10 keys in the map header)
    msgpack_sbuffer buf;
    s_build (&buf, NULL, NULL, NULL, "type");
    proto_error_t error = s_expect_error (buf.data, buf.size, NULL, PROTO_ERR_DUP_KEY);
    cr_assert (strstr (error.message, "\"type\""), "%s", error.message);
    cr_assert_gt (error.offset, 0);
    msgpack_sbuffer_destroy (&buf);

    //  Nested in the payload: {"a": {"b": 1, "b": 2}}
    proto_envelope_t *env = proto_envelope_new ("a", "b");
    cr_assert_eq (proto_envelope_set_payload (env,
                                              "\x81\xa1"
                                              "a\x80",
                                              4, NULL),
                  PROTO_OK);
    s_encode (env, &buf);
    //  Replace the payload bytes (the last 4) with the bad one
    buf.size -= 4;
    msgpack_sbuffer_write (&buf,
                           "\x81\xa1"
                           "a\x82\xa1"
                           "b\x01\xa1"
                           "b\x02",
                           10);
    error = s_expect_error (buf.data, buf.size, NULL, PROTO_ERR_DUP_KEY);
    const char *expected = "payload.a: duplicate key \"b\" at offset ";
    cr_assert (strncmp (error.message, expected, strlen (expected)) == 0, "%s",
               error.message);
    msgpack_sbuffer_destroy (&buf);
    proto_envelope_destroy (&env);
}

//  A payload map of `n` distinct keys "k0".."k<n-1>"; when `dup` >= 0, key
//  n-1 repeats key `dup`.
static void
s_pack_big_map (msgpack_packer *pk, int n, int dup)
{
    msgpack_pack_map (pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        char key[16];
        int len = snprintf (key, sizeof key, "k%d", (dup >= 0 && i == n - 1) ? dup : i);
        msgpack_pack_str_with_body (pk, key, (size_t)len);
        msgpack_pack_int (pk, i);
    }
}

Test (proto_envelope, large_map_duplicates)
{
    for (int round = 0; round < 3; round++) {
        int dup = round == 0 ? -1 : round == 1 ? 1234 : 0;
        msgpack_sbuffer payload;
        msgpack_sbuffer_init (&payload);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &payload, msgpack_sbuffer_write);
        s_pack_big_map (&pk, 5000, dup);
        proto_envelope_t *env = proto_envelope_new ("a", "b");
        proto_error_t error;
        proto_code_t rc =
            proto_envelope_set_payload (env, payload.data, payload.size, &error);
        if (dup < 0) {
            cr_assert_eq (rc, PROTO_OK, "%s", error.message);
            //  And through the decoder
            msgpack_sbuffer buf;
            s_encode (env, &buf);
            proto_envelope_t *copy =
                proto_envelope_decode (buf.data, buf.size, NULL, &error);
            cr_assert_not_null (copy, "%s", error.message);
            const msgpack_object *obj = proto_envelope_payload_object (copy);
            cr_assert_eq (obj->via.map.size, 5000);
            cr_assert_not_null (proto_map_get (obj, "k4999"));
            proto_envelope_destroy (&copy);
            msgpack_sbuffer_destroy (&buf);
        } else {
            cr_assert_eq (rc, PROTO_ERR_DUP_KEY);
            char expected[32];
            snprintf (expected, sizeof expected, "\"k%d\"", dup);
            cr_assert (strstr (error.message, expected), "%s", error.message);
        }
        proto_envelope_destroy (&env);
        msgpack_sbuffer_destroy (&payload);
    }
}

Test (proto_envelope, deep_nesting_fails_fast)
{
    //  10,000 nested arrays: 0x91 x 9999, then nil
    size_t n = 10000;
    uint8_t *data = (uint8_t *)malloc (n);
    memset (data, 0x91, n - 1);
    data[n - 1] = 0xc0;
    proto_error_t error = s_expect_error (data, n, NULL, PROTO_ERR_TOO_DEEP);
    cr_assert_eq (error.offset, 16, "fails at the 17th level");
    cr_assert_eq (proto_msgpack_validate (data, n, 0, "x", &error), PROTO_ERR_TOO_DEEP);
    //  Same with maps: {"": {"": ...}}
    uint8_t *maps = (uint8_t *)malloc (2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        maps[2 * i] = 0x81;
        maps[2 * i + 1] = 0xa0;
    }
    maps[2 * n] = 0xc0;
    error = s_expect_error (maps, 2 * n + 1, NULL, PROTO_ERR_TOO_DEEP);
    cr_assert_eq (error.offset, 32);
    free (maps);
    free (data);

    //  Exactly 16 levels validate; 17 do not
    uint8_t levels[20];
    memset (levels, 0x91, sizeof levels);
    levels[16] = 0xc0;
    cr_assert_eq (proto_msgpack_validate (levels, 17, 16, NULL, &error), PROTO_OK, "%s",
                  error.message);
    levels[16] = 0x91;
    levels[17] = 0xc0;
    cr_assert_eq (proto_msgpack_validate (levels, 18, 16, NULL, &error),
                  PROTO_ERR_TOO_DEEP);
}

Test (proto_envelope, huge_declared_lengths)
{
    struct {
        const char *data;
        size_t size;
        const char *what;
    } cases[] = {
        {"\xdd\xff\xff\xff\xff\x01\x02\x03\x04\x05", 10, "array32"},
        {"\xdf\xff\xff\xff\xff\x01\x02\x03\x04\x05", 10, "map32"},
        {"\xdb\xff\xff\xff\xff\x01\x02\x03\x04\x05", 10, "str32"},
        {"\xc6\xff\xff\xff\xff\x01\x02\x03\x04\x05", 10, "bin32"},
        {"\xdc\xff\xff\x01\x02\x03\x04\x05", 8, "array16"},
        {"\xde\x00\x03\xa1"
         "a\x01",
         6, "map16"},
        {"\xd9\x10"
         "abc",
         5, "str8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        proto_error_t error =
            s_expect_error (cases[i].data, cases[i].size, NULL, PROTO_ERR_LENGTH);
        cr_assert (strstr (error.message, cases[i].what), "%s", error.message);
        cr_assert_eq (error.offset, 0);
    }
    //  Inside a payload, with the path in the message
    proto_error_t error;
    const char *bad =
        "\x81\xa5items\x94\x01\x02\x03\xdb\xff\xff\xff\xff\x01\x02\x03\x04\x05";
    cr_assert_eq (proto_msgpack_validate (bad, 21, 0, "payload", &error),
                  PROTO_ERR_LENGTH);
    cr_assert_str_eq (error.message, "payload.items[3]: declared str32 length 4294967295 "
                                     "exceeds the 5 bytes remaining at offset 11");
    cr_assert_eq (error.offset, 11);
}

Test (proto_envelope, ext_reserved_trailing_keys)
{
    //  Every ext and fixext format, as a payload value
    const uint8_t ext_bytes[] = {0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8};
    for (size_t i = 0; i < sizeof ext_bytes; i++) {
        uint8_t data[32] = {0x81, 0xa1, 'k', ext_bytes[i], 0x01, 0x01, 0x01, 0x01};
        proto_error_t error;
        cr_assert_eq (proto_msgpack_validate (data, sizeof data, 0, "payload", &error),
                      PROTO_ERR_EXT, "0x%02x", ext_bytes[i]);
        cr_assert_eq (error.offset, 3);
        cr_assert (strstr (error.message, "payload.k: "), "%s", error.message);
    }
    s_expect_error ("\xd6\xff\x00\x00\x00\x00", 6, NULL, PROTO_ERR_EXT); //  timestamp
    s_expect_error ("\xc1", 1, NULL, PROTO_ERR_RESERVED);
    s_expect_error ("\x81\xa1k\xc1", 4, NULL, PROTO_ERR_RESERVED);
    s_expect_error ("\x81\xc1\x01", 3, NULL, PROTO_ERR_RESERVED);

    //  Trailing bytes after a complete envelope
    proto_envelope_t *env = s_sample ();
    msgpack_sbuffer buf;
    s_encode (env, &buf);
    msgpack_sbuffer_write (&buf, "\xc0", 1);
    proto_error_t error = s_expect_error (buf.data, buf.size, NULL, PROTO_ERR_TRAILING);
    cr_assert_eq (error.offset, buf.size - 1);
    //  Two envelopes back to back are trailing bytes too
    buf.size--;
    cr_assert_eq (proto_envelope_encode (env, &buf), 0);
    s_expect_error (buf.data, buf.size, NULL, PROTO_ERR_TRAILING);
    msgpack_sbuffer_destroy (&buf);
    proto_envelope_destroy (&env);

    //  Non-string keys: int, nil, bin, array, at the top and nested
    s_expect_error ("\x81\x01\x01", 3, NULL, PROTO_ERR_KEY_TYPE);
    s_expect_error ("\x81\xc0\x01", 3, NULL, PROTO_ERR_KEY_TYPE);
    s_expect_error ("\x81\xc4\x01k\x01", 5, NULL, PROTO_ERR_KEY_TYPE);
    s_expect_error ("\x81\x90\x01", 3, NULL, PROTO_ERR_KEY_TYPE);
    s_expect_error ("\x81\xa1k\x81\x81\x80\x01", 7, NULL, PROTO_ERR_KEY_TYPE);
}

//  A tiny deterministic PRNG (xorshift64*) so failures reproduce.
static uint64_t s_rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t
s_rng (void)
{
    s_rng_state ^= s_rng_state >> 12;
    s_rng_state ^= s_rng_state << 25;
    s_rng_state ^= s_rng_state >> 27;
    return s_rng_state * 2685821657736338717ULL;
}

static void
s_decode_any (const uint8_t *data, size_t size, size_t *decoded)
{
    proto_error_t error;
    error.code = PROTO_ERR_COUNT;
    proto_envelope_t *env = proto_envelope_decode (data, size, NULL, &error);
    if (env) {
        (*decoded)++;
        cr_assert_eq (error.code, PROTO_OK);
        //  A frame that decodes gives a usable envelope
        cr_assert_not_null (proto_envelope_payload_object (env));
        msgpack_sbuffer buf;
        s_encode (env, &buf);
        proto_envelope_t *again =
            proto_envelope_decode (buf.data, buf.size, NULL, &error);
        cr_assert_not_null (again, "%s", error.message);
        proto_envelope_destroy (&again);
        msgpack_sbuffer_destroy (&buf);
        proto_envelope_destroy (&env);
    } else {
        cr_assert (error.code > PROTO_OK && error.code < PROTO_ERR_COUNT);
        cr_assert_gt (strlen (error.message), 0);
        cr_assert_leq (error.offset, size);
    }
}

Test (proto_envelope, random_and_mutated_frames)
{
    proto_envelope_t *env = s_sample ();
    msgpack_sbuffer valid;
    s_encode (env, &valid);
    uint8_t data[512];
    size_t decoded = 0;
    size_t mutated_decoded = 0;

    //  Random bytes, lengths 0..256. A map header byte first half the time
    //  so the walker gets past the first byte more often.
    for (int i = 0; i < 100000; i++) {
        size_t len = (size_t)(s_rng () % 257);
        for (size_t j = 0; j < len; j++)
            data[j] = (uint8_t)s_rng ();
        if (len && i % 2)
            data[0] = (uint8_t)(0x80 | (s_rng () % 16));
        s_decode_any (data, len, &decoded);
    }
    //  Mutations of a valid frame: flip, insert, delete bytes
    for (int i = 0; i < 100000; i++) {
        size_t len = valid.size;
        memcpy (data, valid.data, len);
        int edits = 1 + (int)(s_rng () % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = len ? (size_t)(s_rng () % len) : 0;
            switch (s_rng () % 3) {
                case 0: //  flip
                    if (len)
                        data[at] ^= (uint8_t)(1u << (s_rng () % 8));
                    break;
                case 1: //  insert
                    if (len < sizeof data) {
                        memmove (data + at + 1, data + at, len - at);
                        data[at] = (uint8_t)s_rng ();
                        len++;
                    }
                    break;
                default: //  delete
                    if (len) {
                        memmove (data + at, data + at + 1, len - at - 1);
                        len--;
                    }
                    break;
            }
        }
        s_decode_any (data, len, &mutated_decoded);
    }
    //  Some mutations only touch values and still decode
    cr_assert_gt (mutated_decoded, 0);
    msgpack_sbuffer_destroy (&valid);
    proto_envelope_destroy (&env);
}

//  ---------------------------------------------------------------------------
//  Allocation bound

#if defined(__SANITIZE_ADDRESS__)
#define S_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_HAVE_ASAN 1
#endif
#endif

#ifndef S_HAVE_ASAN
//  Heap growth with mmap disabled and trimming off, so `arena` only grows
//  and its growth is the peak of what was allocated in between.
static size_t
s_heap_size (void)
{
    struct mallinfo2 info = mallinfo2 ();
    return info.arena + info.hblkhd;
}
#endif

//  Decode `data` and check the heap grew by less than 64x its size + 64 KiB.
//  Under AddressSanitizer the decode runs but the heap is not measured.
static void
s_check_bounded (const uint8_t *data, size_t size, bool decodes, bool unpack)
{
#ifndef S_HAVE_ASAN
    mallopt (M_MMAP_MAX, 0);
    mallopt (M_TRIM_THRESHOLD, 1 << 30);
    size_t before = s_heap_size ();
#endif
    proto_error_t error;
    proto_envelope_t *env = proto_envelope_decode (data, size, NULL, &error);
    cr_assert_eq (env != NULL, decodes, "%s", error.message);
    if (env && unpack)
        cr_assert_not_null (proto_envelope_payload_object (env));
#ifndef S_HAVE_ASAN
    size_t growth = s_heap_size () - before;
    size_t bound = 64 * size + 64 * 1024;
    cr_assert_lt (growth, bound, "heap grew %zu bytes for a %zu-byte frame", growth,
                  size);
#endif
    proto_envelope_destroy (&env);
}

//  An envelope whose payload is {"a": [nil x n]} filling about `frame` bytes.
static msgpack_sbuffer
s_big_array_frame (size_t frame)
{
    proto_envelope_t *env = proto_envelope_new ("a", "b");
    msgpack_sbuffer buf;
    s_encode (env, &buf);
    buf.size -= 1; //  drop the empty payload map
    size_t n = frame - buf.size - 10;
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "a", 1);
    msgpack_pack_array (&pk, n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_nil (&pk);
    proto_envelope_destroy (&env);
    return buf;
}

Test (proto_envelope, allocation_bound_huge_array)
{
    msgpack_sbuffer buf = s_big_array_frame (PROTO_MAX_FRAME);
    cr_assert_leq (buf.size, PROTO_MAX_FRAME);
    s_check_bounded ((const uint8_t *)buf.data, buf.size, true, true);
    msgpack_sbuffer_destroy (&buf);
}

Test (proto_envelope, allocation_bound_big_map)
{
    //  A payload of 80,000 keys (~800 KB): the duplicate check sorts spans
    msgpack_sbuffer payload;
    msgpack_sbuffer_init (&payload);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &payload, msgpack_sbuffer_write);
    s_pack_big_map (&pk, 80000, -1);
    proto_envelope_t *env = proto_envelope_new ("a", "b");
    cr_assert_eq (proto_envelope_set_payload (env, payload.data, payload.size, NULL),
                  PROTO_OK);
    msgpack_sbuffer buf;
    s_encode (env, &buf);
    s_check_bounded ((const uint8_t *)buf.data, buf.size, true, true);
    msgpack_sbuffer_destroy (&buf);
    msgpack_sbuffer_destroy (&payload);
    proto_envelope_destroy (&env);
}

Test (proto_envelope, allocation_bound_huge_headers)
{
    const char *headers[] = {"\xdd\xff\xff\xff\xff", "\xdf\xff\xff\xff\xff",
                             "\xdb\xff\xff\xff\xff", "\xc6\xff\xff\xff\xff"};
    for (int i = 0; i < 4; i++) {
        uint8_t data[10] = {0};
        memcpy (data, headers[i], 5);
        s_check_bounded (data, sizeof data, false, false);
        //  And nested in a valid-looking envelope prefix
        uint8_t nested[16] = {0x81, 0xa7, 'p', 'a', 'y', 'l', 'o', 'a', 'd'};
        memcpy (nested + 9, headers[i], 5);
        s_check_bounded (nested, sizeof nested, false, false);
    }
}
