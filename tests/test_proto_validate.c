/*  test_proto_validate: the walker every hostile frame goes through first
    (proto_msgpack_validate, proto/proto_validate.c), on its own: declared
    lengths against the bytes left, depth without recursion, reserved and
    ext bytes, string keys, duplicate keys (pairwise and sorted), exactly
    one value, and the path and offset its messages give.
*/
#include <criterion/criterion.h>
#include "proto/proto_envelope.h"

static proto_code_t
s_check (const void *data, size_t size, int depth, proto_error_t *error)
{
    memset (error, 0, sizeof *error);
    return proto_msgpack_validate (data, size, depth, "payload", error);
}

Test (proto_validate, scalars_and_containers)
{
    proto_error_t error;
    const uint8_t values[][8] = {{0x00},
                                 {0xc0},
                                 {0xc3},
                                 {0xa1, 'x'},
                                 {0x91, 0x01},
                                 {0x81, 0xa1, 'k', 0x02},
                                 {0xca, 0, 0, 0, 0}};
    const size_t sizes[] = {1, 1, 1, 2, 2, 4, 5};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        cr_expect_eq (s_check (values[i], sizes[i], 16, &error), PROTO_OK,
                      "value %zu: %s", i, error.message);
}

Test (proto_validate, lengths_against_what_remains)
{
    proto_error_t error;
    //  str32 declaring 4 GiB in 6 bytes
    const uint8_t str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'x'};
    cr_assert_eq (s_check (str, sizeof str, 16, &error), PROTO_ERR_LENGTH);
    cr_assert_not_null (strstr (error.message, "exceeds"), "%s", error.message);
    //  array32 of 2^32-1 elements: refused before anything is allocated
    const uint8_t array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x00};
    cr_assert_eq (s_check (array, sizeof array, 16, &error), PROTO_ERR_LENGTH);
    //  map16 of 3 pairs needs 6 bytes at least
    const uint8_t map[] = {0xde, 0x00, 0x03, 0xa1, 'a', 0x01};
    cr_assert_eq (s_check (map, sizeof map, 16, &error), PROTO_ERR_LENGTH);
    //  A value cut short
    const uint8_t cut[] = {0x92, 0x01};
    proto_code_t code = s_check (cut, sizeof cut, 16, &error);
    cr_assert (code == PROTO_ERR_TRUNCATED || code == PROTO_ERR_LENGTH, "%s",
               proto_code_name (code));
    const uint8_t uint32[] = {0xce, 0x00, 0x01};
    cr_assert_eq (s_check (uint32, sizeof uint32, 16, &error), PROTO_ERR_TRUNCATED);
}

Test (proto_validate, exactly_one_value)
{
    proto_error_t error;
    const uint8_t two[] = {0x01, 0x02};
    cr_assert_eq (s_check (two, sizeof two, 16, &error), PROTO_ERR_TRAILING);
    cr_assert_eq (error.offset, 1);
    cr_assert_eq (s_check ("", 0, 16, &error), PROTO_ERR_EMPTY);
}

Test (proto_validate, depth_is_bounded_without_recursion)
{
    proto_error_t error;
    //  10,000 nested arrays: fails at the limit, no stack overflow
    size_t n = 10000;
    uint8_t *deep = (uint8_t *)malloc (n + 1);
    memset (deep, 0x91, n);
    deep[n] = 0x00;
    cr_assert_eq (s_check (deep, n + 1, 16, &error), PROTO_ERR_TOO_DEEP);
    //  Exactly at the limit is fine
    cr_assert_eq (s_check (deep + n - 16, 17, 16, &error), PROTO_OK, "%s", error.message);
    cr_assert_eq (s_check (deep + n - 17, 18, 16, &error), PROTO_ERR_TOO_DEEP);
    //  A smaller limit asked for
    cr_assert_eq (s_check (deep + n - 4, 5, 4, &error), PROTO_OK);
    cr_assert_eq (s_check (deep + n - 5, 6, 4, &error), PROTO_ERR_TOO_DEEP);
    free (deep);
}

Test (proto_validate, reserved_ext_and_key_types)
{
    proto_error_t error;
    const uint8_t reserved[] = {0x91, 0xc1};
    cr_assert_eq (s_check (reserved, sizeof reserved, 16, &error), PROTO_ERR_RESERVED);
    cr_assert_eq (error.offset, 1);
    const uint8_t fixext[] = {0xd4, 0x01, 0x00};
    cr_assert_eq (s_check (fixext, sizeof fixext, 16, &error), PROTO_ERR_EXT);
    const uint8_t ext8[] = {0xc7, 0x01, 0x05, 0x00};
    cr_assert_eq (s_check (ext8, sizeof ext8, 16, &error), PROTO_ERR_EXT);
    //  {1: 2}: a key that is not a string, named by its path
    const uint8_t key[] = {0x81, 0xa1, 'a', 0x81, 0x01, 0x02};
    cr_assert_eq (s_check (key, sizeof key, 16, &error), PROTO_ERR_KEY_TYPE);
    cr_assert_not_null (strstr (error.message, "payload.a"), "%s", error.message);
}

//  A map of `n` fixstr keys "k<i>" (and the duplicate of key 0 when `dup`)
static size_t
s_map (uint8_t *out, int n, bool dup)
{
    size_t at = 0;
    int pairs = n + (dup ? 1 : 0);
    out[at++] = 0xde;
    out[at++] = (uint8_t)(pairs >> 8);
    out[at++] = (uint8_t)pairs;
    for (int i = 0; i < pairs; i++) {
        char key[16];
        int len = snprintf (key, sizeof key, "k%d", i < n ? i : 0);
        out[at++] = (uint8_t)(0xa0 | len);
        memcpy (out + at, key, (size_t)len);
        at += (size_t)len;
        out[at++] = 0x00;
    }
    return at;
}

Test (proto_validate, duplicate_keys_small_and_large_maps)
{
    proto_error_t error;
    uint8_t *buffer = (uint8_t *)malloc (100000);
    int sizes[] = {2, 16, 17, 1000, 5000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t size = s_map (buffer, sizes[i], false);
        cr_expect_eq (s_check (buffer, size, 16, &error), PROTO_OK, "%d keys: %s",
                      sizes[i], error.message);
        size = s_map (buffer, sizes[i], true);
        cr_expect_eq (s_check (buffer, size, 16, &error), PROTO_ERR_DUP_KEY,
                      "%d keys and a duplicate", sizes[i]);
        cr_expect_not_null (strstr (error.message, "k0"), "%s", error.message);
    }
    free (buffer);
    //  The same key in two different maps is fine
    const uint8_t two[] = {0x92, 0x81, 0xa1, 'a', 0x01, 0x81, 0xa1, 'a', 0x02};
    cr_assert_eq (s_check (two, sizeof two, 16, &error), PROTO_OK);
}

Test (proto_validate, every_prefix_of_a_frame_fails_cleanly)
{
    //  A realistic payload cut at every length: never OK, never a crash
    const uint8_t frame[] = {0x83, 0xa1, 'a',  0x92, 0xcd, 0x01, 0x00, 0xa2, 'h', 'i',
                             0xa1, 'b',  0xc4, 0x02, 0xff, 0xee, 0xa1, 'c',  0x80};
    proto_error_t error;
    cr_assert_eq (s_check (frame, sizeof frame, 16, &error), PROTO_OK, "%s",
                  error.message);
    for (size_t n = 1; n < sizeof frame; n++)
        cr_expect_neq (s_check (frame, n, 16, &error), PROTO_OK, "prefix of %zu", n);
}
