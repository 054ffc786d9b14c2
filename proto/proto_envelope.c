/*  proto_envelope: the envelope object and its encoder; the decoder is in
    proto_envelope_decode.c, the time and UUID helpers in proto_uuid.c.

    An envelope is one malloc: the struct holds type, source and trace inline
    (at their maximum sizes) and, after a decode, the payload's bytes in a
    tail allocated with it. A payload set later that does not fit the tail
    gets its own block. Decoding a frame therefore costs one malloc.
*/
#include "proto/proto_envelope.h"
#include "proto/proto_envelope_internal.h"
#include "proto/proto_internal.h"
#include "proto/proto_json.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint8_t s_empty_map[] = {0x80};

//  ---------------------------------------------------------------------------
//  Codes

static const struct {
    const char *name;
    const char *text;
} s_codes[PROTO_ERR_COUNT] = {
    [PROTO_OK] = {"ok", "success"},
    [PROTO_ERR_EMPTY] = {"empty", "the frame is empty"},
    [PROTO_ERR_TOO_LARGE] = {"too_large", "the frame is larger than the limit"},
    [PROTO_ERR_TRUNCATED] = {"truncated", "the data ends inside a value"},
    [PROTO_ERR_LENGTH] = {"length",
                          "a declared length or count exceeds the bytes remaining"},
    [PROTO_ERR_TOO_DEEP] = {"too_deep", "values nest deeper than the limit"},
    [PROTO_ERR_RESERVED] = {"reserved", "the reserved msgpack byte 0xc1 was found"},
    [PROTO_ERR_EXT] = {"ext", "msgpack ext types are not allowed"},
    [PROTO_ERR_KEY_TYPE] = {"key_type", "a map key is not a string"},
    [PROTO_ERR_DUP_KEY] = {"dup_key", "a map holds the same key twice"},
    [PROTO_ERR_NOT_MAP] = {"not_map", "the envelope or its payload is not a map"},
    [PROTO_ERR_TRAILING] = {"trailing", "bytes follow the value"},
    [PROTO_ERR_MISSING] = {"missing", "a required field is missing"},
    [PROTO_ERR_FIELD_TYPE] = {"field_type", "a field has the wrong type or size"},
    [PROTO_ERR_UNKNOWN_FIELD] = {"unknown_field", "the envelope has a field not in the "
                                                  "protocol"},
    [PROTO_ERR_VERSION] = {"version", "the protocol version is not supported"},
    [PROTO_ERR_NOMEM] = {"nomem", "out of memory"},
    [PROTO_ERR_JSON] = {"json", "the value has no JSON form"},
};

const char *
proto_code_name (proto_code_t code)
{
    if ((unsigned)code >= PROTO_ERR_COUNT)
        return "unknown";
    return s_codes[code].name;
}

const char *
proto_strerror (proto_code_t code)
{
    if ((unsigned)code >= PROTO_ERR_COUNT)
        return "unknown error code";
    return s_codes[code].text;
}

proto_code_t
proto_error_set (proto_error_t *error, proto_code_t code, size_t offset,
                 const char *format, ...)
{
    if (error) {
        error->code = code;
        error->offset = offset;
        va_list args;
        va_start (args, format);
        vsnprintf (error->message, sizeof error->message, format, args);
        va_end (args);
    }
    return code;
}

//  ---------------------------------------------------------------------------
//  Helpers: msgpack objects (time and UUIDs: proto_uuid.c)

const msgpack_object *
proto_map_get (const msgpack_object *map, const char *key)
{
    if (!map || !key || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t len = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == len &&
            (len == 0 || memcmp (kv->key.via.str.ptr, key, len) == 0))
            return &kv->val;
    }
    return NULL;
}

char *
proto_str_dup (const msgpack_object *obj)
{
    if (!obj || obj->type != MSGPACK_OBJECT_STR)
        return NULL;
    size_t len = obj->via.str.size;
    if (len && memchr (obj->via.str.ptr, '\0', len))
        return NULL;
    char *copy = (char *)malloc (len + 1);
    if (copy) {
        if (len)
            memcpy (copy, obj->via.str.ptr, len);
        copy[len] = '\0';
    }
    return copy;
}

//  ---------------------------------------------------------------------------
//  Zones for unpacked payloads: each thread keeps a few cleared ones for
//  reuse, so decoding a payload costs no zone allocation (a fresh zone is a
//  large malloc, which also makes glibc consolidate its fast bins)

#define S_ZONES_KEPT 256
#define S_ZONE_CHUNK 4096

typedef struct {
    msgpack_zone *zone[S_ZONES_KEPT];
    size_t count;
} s_zones_t;

static _Thread_local s_zones_t *s_zones;
static pthread_key_t s_zones_key;
static pthread_once_t s_zones_once = PTHREAD_ONCE_INIT;

static void
s_zones_free (void *arg)
{
    s_zones_t *zones = (s_zones_t *)arg;
    for (size_t i = 0; i < zones->count; i++)
        msgpack_zone_free (zones->zone[i]);
    free (zones);
    s_zones = NULL;
}

static void
s_zones_key_create (void)
{
    pthread_key_create (&s_zones_key, s_zones_free); //  frees at thread exit
}

static msgpack_zone *
s_zone_take (void)
{
    if (s_zones && s_zones->count > 0)
        return s_zones->zone[--s_zones->count];
    return msgpack_zone_new (S_ZONE_CHUNK);
}

static void
s_zone_give (msgpack_zone *zone)
{
    if (!zone)
        return;
    if (!s_zones) {
        pthread_once (&s_zones_once, s_zones_key_create);
        s_zones = (s_zones_t *)calloc (1, sizeof (s_zones_t));
        if (s_zones && pthread_setspecific (s_zones_key, s_zones) != 0) {
            free (s_zones);
            s_zones = NULL;
        }
    }
    if (s_zones && s_zones->count < S_ZONES_KEPT) {
        msgpack_zone_clear (zone);
        s_zones->zone[s_zones->count++] = zone;
    } else
        msgpack_zone_free (zone);
}

//  Give the unpacked payload's zone back.
static void
s_unpacked_release (proto_envelope_t *self)
{
    s_zone_give (self->unpacked.zone);
    self->unpacked.zone = NULL;
    self->unpacked_ok = false;
}

//  ---------------------------------------------------------------------------
//  Construction

proto_envelope_t *
proto_envelope_alloc (size_t tail_size)
{
    proto_envelope_t *self = (proto_envelope_t *)malloc (sizeof (*self) + tail_size);
    if (!self)
        return NULL;
    self->version = PROTO_VERSION;
    self->has_corr = false;
    self->has_trace = false;
    self->unpacked_ok = false;
    self->ts = 0;
    self->retry = 0;
    self->payload = s_empty_map;
    self->payload_size = sizeof s_empty_map;
    self->payload_heap = NULL;
    self->tail_size = tail_size;
    msgpack_unpacked_init (&self->unpacked);
    self->type_len = self->source_len = self->trace_len = 0;
    self->type[0] = '\0';
    self->source[0] = '\0';
    self->trace[0] = '\0';
    return self;
}

//  Copy a C string into a field of capacity max + 1 and set *field_len, or
//  return -1 (changing nothing) when it is NULL, empty or too long.
static int
s_string_set (char *field, uint16_t *field_len, size_t max, const char *value)
{
    size_t len = value ? strnlen (value, max + 1) : 0;
    if (len == 0 || len > max)
        return -1;
    memmove (field, value, len);
    field[len] = '\0';
    *field_len = (uint16_t)len;
    return 0;
}

//  New envelope with `tail_size` bytes of payload room
static proto_envelope_t *
s_new (const char *type, const char *source, size_t tail_size)
{
    if (!type || !source)
        return NULL;
    proto_envelope_t *self = proto_envelope_alloc (tail_size);
    if (!self)
        return NULL;
    if (s_string_set (self->type, &self->type_len, PROTO_MAX_TYPE, type) ||
        s_string_set (self->source, &self->source_len, PROTO_MAX_SOURCE, source)) {
        proto_envelope_destroy (&self);
        return NULL;
    }
    proto_uuid_generate (self->id);
    self->ts = proto_now_usec ();
    return self;
}

proto_envelope_t *
proto_envelope_new (const char *type, const char *source)
{
    return s_new (type, source, 0);
}

proto_envelope_t *
proto_envelope_new_packed (const char *type, const char *source, const void *payload,
                           size_t size)
{
    proto_envelope_t *self = s_new (type, source, size);
    if (self && proto_envelope_set_payload_packed (self, payload, size) != 0)
        proto_envelope_destroy (&self); //  cannot happen: the room is there
    return self;
}

void
proto_envelope_destroy (proto_envelope_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        proto_envelope_t *self = *self_p;
        s_unpacked_release (self);
        free (self->payload_heap);
        free (self);
        *self_p = NULL;
    }
}

proto_envelope_t *
proto_envelope_dup (const proto_envelope_t *self)
{
    assert (self);
    bool empty = self->payload == s_empty_map;
    proto_envelope_t *copy = proto_envelope_alloc (empty ? 0 : self->payload_size);
    if (!copy)
        return NULL;
    copy->version = self->version;
    copy->has_corr = self->has_corr;
    copy->has_trace = self->has_trace;
    memcpy (copy->id, self->id, PROTO_UUID_SIZE);
    memcpy (copy->corr, self->corr, PROTO_UUID_SIZE);
    copy->ts = self->ts;
    copy->retry = self->retry;
    copy->type_len = self->type_len;
    copy->source_len = self->source_len;
    copy->trace_len = self->trace_len;
    memcpy (copy->type, self->type, self->type_len + 1u);
    memcpy (copy->source, self->source, self->source_len + 1u);
    memcpy (copy->trace, self->trace, self->trace_len + 1u);
    if (!empty) {
        memcpy (copy->tail, self->payload, self->payload_size);
        copy->payload = copy->tail;
        copy->payload_size = self->payload_size;
    }
    return copy;
}

//  ---------------------------------------------------------------------------
//  Fields

unsigned
proto_envelope_version (const proto_envelope_t *self)
{
    assert (self);
    return self->version;
}

const uint8_t *
proto_envelope_id (const proto_envelope_t *self)
{
    assert (self);
    return self->id;
}

void
proto_envelope_set_id (proto_envelope_t *self, const uint8_t id[PROTO_UUID_SIZE])
{
    assert (self && id);
    memcpy (self->id, id, PROTO_UUID_SIZE);
}

const char *
proto_envelope_type (const proto_envelope_t *self)
{
    assert (self);
    return self->type;
}

int
proto_envelope_set_type (proto_envelope_t *self, const char *type)
{
    assert (self);
    return s_string_set (self->type, &self->type_len, PROTO_MAX_TYPE, type);
}

const char *
proto_envelope_source (const proto_envelope_t *self)
{
    assert (self);
    return self->source;
}

int
proto_envelope_set_source (proto_envelope_t *self, const char *source)
{
    assert (self);
    return s_string_set (self->source, &self->source_len, PROTO_MAX_SOURCE, source);
}

int64_t
proto_envelope_ts (const proto_envelope_t *self)
{
    assert (self);
    return self->ts;
}

void
proto_envelope_set_ts (proto_envelope_t *self, int64_t ts_usec)
{
    assert (self);
    self->ts = ts_usec;
}

const uint8_t *
proto_envelope_corr (const proto_envelope_t *self)
{
    assert (self);
    return self->has_corr ? self->corr : NULL;
}

void
proto_envelope_set_corr (proto_envelope_t *self, const uint8_t *corr_or_null)
{
    assert (self);
    self->has_corr = corr_or_null != NULL;
    if (corr_or_null)
        memmove (self->corr, corr_or_null, PROTO_UUID_SIZE);
}

const char *
proto_envelope_trace (const proto_envelope_t *self)
{
    assert (self);
    return self->has_trace ? self->trace : NULL;
}

int
proto_envelope_set_trace (proto_envelope_t *self, const char *trace_or_null)
{
    assert (self);
    if (!trace_or_null) {
        self->has_trace = false;
        self->trace[0] = '\0';
        self->trace_len = 0;
        return 0;
    }
    size_t len = strnlen (trace_or_null, PROTO_MAX_TRACE + 1);
    if (len > PROTO_MAX_TRACE)
        return -1;
    memmove (self->trace, trace_or_null, len);
    self->trace[len] = '\0';
    self->trace_len = (uint16_t)len;
    self->has_trace = true;
    return 0;
}

uint64_t
proto_envelope_retry (const proto_envelope_t *self)
{
    assert (self);
    return self->retry;
}

void
proto_envelope_set_retry (proto_envelope_t *self, uint64_t retry)
{
    assert (self);
    self->retry = retry;
}

//  ---------------------------------------------------------------------------
//  Payload

const uint8_t *
proto_envelope_payload (const proto_envelope_t *self, size_t *size)
{
    assert (self);
    if (size)
        *size = self->payload_size;
    return self->payload;
}

proto_code_t
proto_payload_check (const void *data, size_t size, proto_error_t *error)
{
    //  The payload sits one level below the envelope map.
    proto_code_t rc =
        proto_msgpack_validate (data, size, PROTO_MAX_DEPTH - 1, "payload", error);
    if (rc != PROTO_OK)
        return rc;
    proto_head_t head;
    proto_head_read ((const uint8_t *)data, size, 0, &head);
    if (head.kind != PROTO_KIND_MAP)
        return proto_error_set (error, PROTO_ERR_NOT_MAP, 0,
                                "payload: expected a map, got a %s at offset 0",
                                proto_format_name (*(const uint8_t *)data));
    return PROTO_OK;
}

proto_code_t
proto_envelope_set_payload (proto_envelope_t *self, const void *data, size_t size,
                            proto_error_t *error)
{
    assert (self);
    proto_code_t rc = proto_payload_check (data, size, error);
    if (rc != PROTO_OK)
        return rc;
    return proto_envelope_set_payload_packed (self, data, size) == 0
               ? PROTO_OK
               : proto_error_set (error, PROTO_ERR_NOMEM, 0,
                                  "payload: out of memory copying %zu bytes", size);
}

int
proto_envelope_set_payload_packed (proto_envelope_t *self, const void *data, size_t size)
{
    assert (self);
    assert (data && size > 0);
#ifndef NDEBUG
    //  Debug builds check the promise the caller makes
    assert (proto_msgpack_validate (data, size, PROTO_MAX_DEPTH - 1, "payload", NULL) ==
                PROTO_OK &&
            ((*(const uint8_t *)data & 0xf0) == 0x80 || *(const uint8_t *)data == 0xde ||
             *(const uint8_t *)data == 0xdf));
#endif
    if (size <= self->tail_size) {
        memmove (self->tail, data, size); //  data may be our own payload
        free (self->payload_heap);
        self->payload_heap = NULL;
        self->payload = self->tail;
    } else {
        uint8_t *copy = (uint8_t *)malloc (size);
        if (!copy)
            return -1;
        memcpy (copy, data, size);
        free (self->payload_heap);
        self->payload_heap = copy;
        self->payload = copy;
    }
    self->payload_size = size;
    s_unpacked_release (self);
    return 0;
}

const msgpack_object *
proto_envelope_payload_object (proto_envelope_t *self)
{
    assert (self);
    if (!self->unpacked_ok) {
        //  The payload was validated when it came in, so msgpack-c allocates
        //  at most ~24 bytes per byte of payload here.
        s_unpacked_release (self);
        msgpack_zone *zone = s_zone_take ();
        if (!zone)
            return NULL; //  out of memory
        size_t offset = 0;
        msgpack_unpack_return rc =
            msgpack_unpack ((const char *)self->payload, self->payload_size, &offset,
                            zone, &self->unpacked.data);
        if (rc != MSGPACK_UNPACK_SUCCESS ||
            self->unpacked.data.type != MSGPACK_OBJECT_MAP) {
            s_zone_give (zone);
            return NULL; //  out of memory
        }
        self->unpacked.zone = zone;
        self->unpacked_ok = true;
    }
    return &self->unpacked.data;
}

proto_code_t
proto_envelope_set_payload_json (proto_envelope_t *self, const json_t *object,
                                 proto_error_t *error)
{
    assert (self);
    if (!json_is_object (object))
        return proto_error_set (error, PROTO_ERR_NOT_MAP, 0,
                                "payload: expected a JSON object");
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    proto_code_t rc = proto_json_pack (object, &pk, "payload", error);
    if (rc == PROTO_OK)
        rc = proto_envelope_set_payload (self, buffer.data, buffer.size, error);
    msgpack_sbuffer_destroy (&buffer);
    return rc;
}

json_t *
proto_envelope_payload_json (proto_envelope_t *self, proto_error_t *error)
{
    assert (self);
    const msgpack_object *object = proto_envelope_payload_object (self);
    if (!object) {
        proto_error_set (error, PROTO_ERR_NOMEM, 0, "payload: out of memory unpacking");
        return NULL;
    }
    return proto_json_from_msgpack (object, "payload", error);
}

json_t *
proto_envelope_to_json (proto_envelope_t *self, proto_error_t *error)
{
    assert (self);
    if (self->retry > INT64_MAX) {
        proto_error_set (error, PROTO_ERR_JSON, 0,
                         "retry: %" PRIu64 " exceeds the largest JSON integer",
                         self->retry);
        return NULL;
    }
    json_t *payload = proto_envelope_payload_json (self, error);
    if (!payload)
        return NULL;
    char id[PROTO_UUID_STR_SIZE], corr[PROTO_UUID_STR_SIZE];
    proto_uuid_format (self->id, id);
    if (self->has_corr)
        proto_uuid_format (self->corr, corr);
    json_t *root = json_object ();
    //  json_object_set_new steals the value even when it fails.
    int rc = root ? 0 : -1;
    rc |= json_object_set_new (root, "v", json_integer (self->version));
    rc |= json_object_set_new (root, "id", json_string (id));
    rc |= json_object_set_new (root, "type", json_stringn (self->type, self->type_len));
    rc |= json_object_set_new (root, "source",
                               json_stringn (self->source, self->source_len));
    rc |= json_object_set_new (root, "ts", json_integer (self->ts));
    rc |= json_object_set_new (root, "corr",
                               self->has_corr ? json_string (corr) : json_null ());
    rc |= json_object_set_new (
        root, "trace",
        self->has_trace ? json_stringn (self->trace, self->trace_len) : json_null ());
    rc |= json_object_set_new (root, "retry", json_integer ((json_int_t)self->retry));
    rc |= json_object_set_new (root, "payload", payload);
    if (rc != 0) {
        json_decref (root);
        //  type/source/trace are not checked for UTF-8 on the wire
        proto_error_set (error, PROTO_ERR_JSON, 0,
                         "envelope: type, source or trace is not valid UTF-8 (or out of "
                         "memory)");
        return NULL;
    }
    return root;
}

//  ---------------------------------------------------------------------------
//  Encoder

//  Everything before the payload is packed into a stack buffer, then copied
//  to the caller's sbuffer in one write: two writes per envelope.
#define S_HEADER_MAX 1024 //  worst case is ~760 bytes

typedef struct {
    size_t size;
    char data[S_HEADER_MAX];
} s_scratch_t;

static int
s_scratch_write (void *data, const char *buf, size_t len)
{
    s_scratch_t *scratch = (s_scratch_t *)data;
    if (len > S_HEADER_MAX - scratch->size)
        return -1;
    memcpy (scratch->data + scratch->size, buf, len);
    scratch->size += len;
    return 0;
}

int
proto_envelope_encode (const proto_envelope_t *self, msgpack_sbuffer *buffer)
{
    assert (self);
    return proto_envelope_encode_with (self, self->payload, self->payload_size, buffer);
}

int
proto_envelope_encode_with (const proto_envelope_t *self, const void *payload,
                            size_t size, msgpack_sbuffer *buffer)
{
    assert (self && payload && size > 0 && buffer);
    s_scratch_t scratch;
    scratch.size = 0;
    msgpack_packer pk;
    msgpack_packer_init (&pk, &scratch, s_scratch_write);

    int rc = msgpack_pack_map (&pk, PROTO_ENV_FIELD_COUNT);
    rc |= msgpack_pack_str_with_body (&pk, "v", 1);
    rc |= msgpack_pack_unsigned_int (&pk, self->version);
    rc |= msgpack_pack_str_with_body (&pk, "id", 2);
    rc |= msgpack_pack_bin_with_body (&pk, self->id, PROTO_UUID_SIZE);
    rc |= msgpack_pack_str_with_body (&pk, "type", 4);
    rc |= msgpack_pack_str_with_body (&pk, self->type, self->type_len);
    rc |= msgpack_pack_str_with_body (&pk, "source", 6);
    rc |= msgpack_pack_str_with_body (&pk, self->source, self->source_len);
    rc |= msgpack_pack_str_with_body (&pk, "ts", 2);
    rc |= msgpack_pack_int64 (&pk, self->ts);
    rc |= msgpack_pack_str_with_body (&pk, "corr", 4);
    if (self->has_corr)
        rc |= msgpack_pack_bin_with_body (&pk, self->corr, PROTO_UUID_SIZE);
    else
        rc |= msgpack_pack_nil (&pk);
    rc |= msgpack_pack_str_with_body (&pk, "trace", 5);
    if (self->has_trace)
        rc |= msgpack_pack_str_with_body (&pk, self->trace, self->trace_len);
    else
        rc |= msgpack_pack_nil (&pk);
    rc |= msgpack_pack_str_with_body (&pk, "retry", 5);
    rc |= msgpack_pack_uint64 (&pk, self->retry);
    rc |= msgpack_pack_str_with_body (&pk, "payload", 7);
    if (rc != 0)
        return -1; //  cannot happen: the scratch buffer holds the largest header

    size_t mark = buffer->size;
    if (msgpack_sbuffer_write (buffer, scratch.data, scratch.size) ||
        msgpack_sbuffer_write (buffer, (const char *)payload, size)) {
        buffer->size = mark;
        return -1;
    }
    return 0;
}
