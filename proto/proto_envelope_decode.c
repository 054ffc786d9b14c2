/*  proto_envelope_decode: the envelope's decoder, strict and bounded for
    hostile input. Pass 1 validates the bytes (proto_validate), pass 2 finds
    the fields, pass 3 checks each one's type; then the envelope is built in
    one allocation, its payload copied into the tail.

    The nine fields of PROTOCOL.md are all required and any other key is
    PROTO_ERR_UNKNOWN_FIELD. A peer that speaks a newer protocol must bump
    `v`, which is checked first (PROTO_ERR_VERSION), so it never gets a
    misleading "unknown field" back.
*/
#include "proto/proto_envelope.h"
#include "proto/proto_envelope_internal.h"
#include "proto/proto_internal.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *s_field_names[PROTO_ENV_FIELD_COUNT] = {
    "v", "id", "type", "source", "ts", "corr", "trace", "retry", "payload"};

//  Offset just past the value at `pos`, in a frame already validated.
static size_t
s_skip (const uint8_t *data, size_t size, size_t pos)
{
    uint64_t pending = 1;
    while (pending > 0 && pos < size) {
        proto_head_t head;
        if (!proto_head_read (data, size, pos, &head))
            return size;
        pending--;
        pos += head.header;
        if (head.kind == PROTO_KIND_STR || head.kind == PROTO_KIND_BIN)
            pos += (size_t)head.value;
        else if (head.kind == PROTO_KIND_ARRAY)
            pending += head.value;
        else if (head.kind == PROTO_KIND_MAP)
            pending += head.value * 2;
    }
    return pos < size ? pos : size;
}

//  The field a key names, or -1. Picks the candidate by length and first
//  byte, then compares once.
static int
s_field_lookup (const uint8_t *key, size_t len)
{
    int field = -1;
    switch (len) {
        case 1:
            field = PROTO_ENV_FIELD_V;
            break;
        case 2:
            field = key[0] == 'i' ? PROTO_ENV_FIELD_ID : PROTO_ENV_FIELD_TS;
            break;
        case 4:
            field = key[0] == 't' ? PROTO_ENV_FIELD_TYPE : PROTO_ENV_FIELD_CORR;
            break;
        case 5:
            field = key[0] == 't' ? PROTO_ENV_FIELD_TRACE : PROTO_ENV_FIELD_RETRY;
            break;
        case 6:
            field = PROTO_ENV_FIELD_SOURCE;
            break;
        case 7:
            field = PROTO_ENV_FIELD_PAYLOAD;
            break;
        default:
            return -1;
    }
    return memcmp (s_field_names[field], key, len) == 0 ? field : -1;
}

static proto_code_t
s_wrong_type (proto_error_t *error, proto_env_field_t field, size_t at, uint8_t byte,
              const char *expected)
{
    return proto_error_set (error, PROTO_ERR_FIELD_TYPE, at,
                            "%s: expected %s, got a %s at offset %zu",
                            s_field_names[field], expected, proto_format_name (byte), at);
}

//  Check a str field: 1..max bytes (0..max when allow_empty), no NUL.
static proto_code_t
s_check_str (const uint8_t *data, size_t size, size_t at, proto_env_field_t field,
             size_t max, bool allow_empty, const uint8_t **str, size_t *len,
             proto_error_t *error)
{
    proto_head_t head;
    proto_head_read (data, size, at, &head);
    if (head.kind != PROTO_KIND_STR || head.value > max ||
        (head.value == 0 && !allow_empty)) {
        char expected[64];
        snprintf (expected, sizeof expected, "a str of %d..%zu bytes",
                  allow_empty ? 0 : 1, max);
        if (head.kind != PROTO_KIND_STR)
            return s_wrong_type (error, field, at, data[at], expected);
        return proto_error_set (error, PROTO_ERR_FIELD_TYPE, at,
                                "%s: expected %s, got %" PRIu64 " bytes at offset %zu",
                                s_field_names[field], expected, head.value, at);
    }
    *str = data + at + head.header;
    *len = (size_t)head.value;
    const uint8_t *nul = (const uint8_t *)memchr (*str, '\0', *len);
    if (nul)
        return proto_error_set (error, PROTO_ERR_FIELD_TYPE, (size_t)(nul - data),
                                "%s: str holds a NUL byte at offset %zu",
                                s_field_names[field], (size_t)(nul - data));
    return PROTO_OK;
}

//  Check a bin16 field; nil allowed when `nullable`. *id is NULL for nil.
static proto_code_t
s_check_id (const uint8_t *data, size_t size, size_t at, proto_env_field_t field,
            bool nullable, const uint8_t **id, proto_error_t *error)
{
    proto_head_t head;
    proto_head_read (data, size, at, &head);
    const char *expected = nullable ? "a bin of 16 bytes or nil" : "a bin of 16 bytes";
    *id = NULL;
    if (nullable && head.kind == PROTO_KIND_NIL)
        return PROTO_OK;
    if (head.kind != PROTO_KIND_BIN)
        return s_wrong_type (error, field, at, data[at], expected);
    if (head.value != PROTO_UUID_SIZE)
        return proto_error_set (error, PROTO_ERR_FIELD_TYPE, at,
                                "%s: expected %s, got %" PRIu64 " bytes at offset %zu",
                                s_field_names[field], expected, head.value, at);
    *id = data + at + head.header;
    return PROTO_OK;
}

//  What pass 3 read from the fields, for the envelope to be built from.
typedef struct {
    const uint8_t *id, *corr, *type, *source, *trace;
    size_t type_len, source_len, trace_len;
    int64_t ts;
    uint64_t retry;
    size_t payload_at, payload_size;
} s_fields_t;

//  Pass 1: the frame is not empty, within the limits, and its bytes are
//  well-formed and bounded.
static proto_code_t
s_frame_check (const uint8_t *data, size_t size, const proto_limits_t *limits,
               proto_error_t *error)
{
    size_t max_frame = PROTO_MAX_FRAME;
    int max_depth = PROTO_MAX_DEPTH;
    if (limits && limits->max_frame > 0)
        max_frame = limits->max_frame;
    if (limits && limits->max_depth > 0 && limits->max_depth < PROTO_MAX_DEPTH)
        max_depth = limits->max_depth;

    if (!data || size == 0)
        return proto_error_set (error, PROTO_ERR_EMPTY, 0,
                                "envelope: the frame is empty");
    if (size > max_frame)
        return proto_error_set (
            error, PROTO_ERR_TOO_LARGE, 0,
            "envelope: the frame of %zu bytes exceeds the limit of %zu bytes", size,
            max_frame);
    return proto_msgpack_validate (data, size, max_depth, "", error);
}

//  Pass 2: find the fields. Fills at[] with the offset of each field's value
//  (0 if absent) and *unknown_at with the offset of the first unknown key.
static proto_code_t
s_fields_find (const uint8_t *data, size_t size, size_t at[PROTO_ENV_FIELD_COUNT],
               size_t *unknown_at, proto_error_t *error)
{
    proto_head_t head;
    proto_head_read (data, size, 0, &head);
    if (head.kind != PROTO_KIND_MAP)
        return proto_error_set (error, PROTO_ERR_NOT_MAP, 0,
                                "envelope: expected a map, got a %s at offset 0",
                                proto_format_name (data[0]));
    size_t pos = head.header;
    for (uint64_t i = 0; i < head.value; i++) {
        proto_head_t key;
        proto_head_read (data, size, pos, &key); //  validated: a str
        size_t key_at = pos;
        int field = s_field_lookup (data + pos + key.header, (size_t)key.value);
        pos += key.header + (size_t)key.value;
        if (field >= 0)
            at[field] = pos;
        else if (*unknown_at == 0)
            *unknown_at = key_at;
        pos = s_skip (data, size, pos);
    }
    return PROTO_OK;
}

//  The version first (a newer peer gets "version", not "unknown field"),
//  then no unknown field and every field present.
static proto_code_t
s_fields_present (const uint8_t *data, size_t size,
                  const size_t at[PROTO_ENV_FIELD_COUNT], size_t unknown_at,
                  proto_error_t *error)
{
    if (at[PROTO_ENV_FIELD_V] == 0)
        return proto_error_set (error, PROTO_ERR_MISSING, 0,
                                "v: required field is missing");
    proto_head_t head;
    proto_head_read (data, size, at[PROTO_ENV_FIELD_V], &head);
    if (head.kind != PROTO_KIND_UINT && head.kind != PROTO_KIND_INT)
        return s_wrong_type (error, PROTO_ENV_FIELD_V, at[PROTO_ENV_FIELD_V],
                             data[at[PROTO_ENV_FIELD_V]], "an unsigned integer");
    if (head.value != PROTO_VERSION) {
        if (head.kind == PROTO_KIND_INT && (int64_t)head.value < 0)
            return proto_error_set (error, PROTO_ERR_VERSION, at[PROTO_ENV_FIELD_V],
                                    "v: protocol version %" PRId64
                                    " is not supported (only %d)",
                                    (int64_t)head.value, PROTO_VERSION);
        return proto_error_set (error, PROTO_ERR_VERSION, at[PROTO_ENV_FIELD_V],
                                "v: protocol version %" PRIu64
                                " is not supported (only %d)",
                                head.value, PROTO_VERSION);
    }
    if (unknown_at) {
        proto_head_t key;
        proto_head_read (data, size, unknown_at, &key);
        char name[64];
        proto_path_append_key (name, sizeof name, 0, data + unknown_at + key.header,
                               (size_t)key.value);
        return proto_error_set (error, PROTO_ERR_UNKNOWN_FIELD, unknown_at,
                                "%s: unknown envelope field at offset %zu", name,
                                unknown_at);
    }
    for (int i = 0; i < PROTO_ENV_FIELD_COUNT; i++)
        if (at[i] == 0)
            return proto_error_set (error, PROTO_ERR_MISSING, 0,
                                    "%s: required field is missing", s_field_names[i]);
    return PROTO_OK;
}

//  ts: an integer that fits an int64.
static proto_code_t
s_check_ts (const uint8_t *data, size_t size, size_t at, int64_t *ts,
            proto_error_t *error)
{
    proto_head_t head;
    proto_head_read (data, size, at, &head);
    if (head.kind != PROTO_KIND_UINT && head.kind != PROTO_KIND_INT)
        return s_wrong_type (error, PROTO_ENV_FIELD_TS, at, data[at],
                             "an integer (microseconds)");
    if (head.kind == PROTO_KIND_UINT && head.value > INT64_MAX)
        return proto_error_set (error, PROTO_ERR_FIELD_TYPE, at,
                                "ts: %" PRIu64 " at offset %zu does not fit an int64",
                                head.value, at);
    *ts = (int64_t)head.value;
    return PROTO_OK;
}

//  Pass 3: check each field's type, reading the values into `fields`.
static proto_code_t
s_fields_check (const uint8_t *data, size_t size, const size_t at[PROTO_ENV_FIELD_COUNT],
                s_fields_t *fields, proto_error_t *error)
{
    proto_code_t code;
    if ((code = s_check_id (data, size, at[PROTO_ENV_FIELD_ID], PROTO_ENV_FIELD_ID, false,
                            &fields->id, error)) ||
        (code = s_check_str (data, size, at[PROTO_ENV_FIELD_TYPE], PROTO_ENV_FIELD_TYPE,
                             PROTO_MAX_TYPE, false, &fields->type, &fields->type_len,
                             error)) ||
        (code = s_check_str (data, size, at[PROTO_ENV_FIELD_SOURCE],
                             PROTO_ENV_FIELD_SOURCE, PROTO_MAX_SOURCE, false,
                             &fields->source, &fields->source_len, error)) ||
        (code = s_check_ts (data, size, at[PROTO_ENV_FIELD_TS], &fields->ts, error)) ||
        (code = s_check_id (data, size, at[PROTO_ENV_FIELD_CORR], PROTO_ENV_FIELD_CORR,
                            true, &fields->corr, error)))
        return code;
    proto_head_t head;
    proto_head_read (data, size, at[PROTO_ENV_FIELD_TRACE], &head);
    if (head.kind != PROTO_KIND_NIL &&
        (code = s_check_str (data, size, at[PROTO_ENV_FIELD_TRACE], PROTO_ENV_FIELD_TRACE,
                             PROTO_MAX_TRACE, true, &fields->trace, &fields->trace_len,
                             error)))
        return code;

    proto_head_read (data, size, at[PROTO_ENV_FIELD_RETRY], &head);
    if ((head.kind != PROTO_KIND_UINT && head.kind != PROTO_KIND_INT) ||
        (head.kind == PROTO_KIND_INT && (int64_t)head.value < 0))
        return s_wrong_type (error, PROTO_ENV_FIELD_RETRY, at[PROTO_ENV_FIELD_RETRY],
                             data[at[PROTO_ENV_FIELD_RETRY]], "an unsigned integer");
    fields->retry = head.value;

    size_t payload_at = at[PROTO_ENV_FIELD_PAYLOAD];
    proto_head_read (data, size, payload_at, &head);
    if (head.kind != PROTO_KIND_MAP)
        return proto_error_set (error, PROTO_ERR_NOT_MAP, payload_at,
                                "payload: expected a map, got a %s at offset %zu",
                                proto_format_name (data[payload_at]), payload_at);
    fields->payload_at = payload_at;
    fields->payload_size = s_skip (data, size, payload_at) - payload_at;
    return PROTO_OK;
}

//  Build the envelope from checked fields: one allocation. NULL when out of
//  memory (error set).
static proto_envelope_t *
s_build (const uint8_t *data, const s_fields_t *fields, proto_error_t *error)
{
    proto_envelope_t *self = proto_envelope_alloc (fields->payload_size);
    if (!self) {
        proto_error_set (error, PROTO_ERR_NOMEM, 0, "envelope: out of memory");
        return NULL;
    }
    memcpy (self->id, fields->id, PROTO_UUID_SIZE);
    memcpy (self->type, fields->type, fields->type_len);
    self->type[fields->type_len] = '\0';
    self->type_len = (uint16_t)fields->type_len;
    memcpy (self->source, fields->source, fields->source_len);
    self->source[fields->source_len] = '\0';
    self->source_len = (uint16_t)fields->source_len;
    self->ts = fields->ts;
    if (fields->corr) {
        memcpy (self->corr, fields->corr, PROTO_UUID_SIZE);
        self->has_corr = true;
    }
    if (fields->trace) {
        memcpy (self->trace, fields->trace, fields->trace_len);
        self->trace[fields->trace_len] = '\0';
        self->trace_len = (uint16_t)fields->trace_len;
        self->has_trace = true;
    }
    self->retry = fields->retry;
    memcpy (self->tail, data + fields->payload_at, fields->payload_size);
    self->payload = self->tail;
    self->payload_size = fields->payload_size;
    return self;
}

proto_envelope_t *
proto_envelope_decode (const void *data_v, size_t size, const proto_limits_t *limits,
                       proto_error_t *error)
{
    const uint8_t *data = (const uint8_t *)data_v;
    size_t at[PROTO_ENV_FIELD_COUNT] = {0}; //  offset of each field's value; 0 if absent
    size_t unknown_at = 0;                  //  offset of the first unknown key
    s_fields_t fields = {0};
    if (s_frame_check (data, size, limits, error) != PROTO_OK ||
        s_fields_find (data, size, at, &unknown_at, error) != PROTO_OK ||
        s_fields_present (data, size, at, unknown_at, error) != PROTO_OK ||
        s_fields_check (data, size, at, &fields, error) != PROTO_OK)
        return NULL;
    proto_envelope_t *self = s_build (data, &fields, error);
    if (self && error) {
        error->code = PROTO_OK;
        error->offset = 0;
        error->message[0] = '\0';
    }
    return self;
}
