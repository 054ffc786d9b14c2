/*  proto_envelope: the envelope object, its encoder and its decoder.

    An envelope is one malloc: the struct holds type, source and trace inline
    (at their maximum sizes) and, after a decode, the payload's bytes in a
    tail allocated with it. A payload set later that does not fit the tail
    gets its own block. Decoding a frame therefore costs one malloc.

    The decoder is strict: the nine fields of PROTOCOL.md are all required and
    any other key is PROTO_ERR_UNKNOWN_FIELD. A peer that speaks a newer
    protocol must bump `v`, which is checked first (PROTO_ERR_VERSION), so it
    never gets a misleading "unknown field" back.
*/
#include "proto/proto_envelope.h"
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
#include <sys/random.h>
#include <time.h>

struct _proto_envelope_t {
    unsigned version;
    bool has_corr;
    bool has_trace;
    bool unpacked_ok; //  `unpacked` holds the payload object
    uint8_t id[PROTO_UUID_SIZE];
    uint8_t corr[PROTO_UUID_SIZE];
    int64_t ts;
    uint64_t retry;
    const uint8_t *payload; //  msgpack map: s_empty_map, tail or payload_heap
    size_t payload_size;
    uint8_t *payload_heap; //  owned payload block, or NULL
    size_t tail_size;      //  bytes of `tail`
    msgpack_unpacked unpacked;
    uint16_t type_len, source_len, trace_len;
    char type[PROTO_MAX_TYPE + 1];
    char source[PROTO_MAX_SOURCE + 1];
    char trace[PROTO_MAX_TRACE + 1];
    uint8_t tail[]; //  payload room allocated with the struct
};

static const uint8_t s_empty_map[] = {0x80};

//  The nine fields, in the order the encoder writes them
typedef enum {
    S_FIELD_V,
    S_FIELD_ID,
    S_FIELD_TYPE,
    S_FIELD_SOURCE,
    S_FIELD_TS,
    S_FIELD_CORR,
    S_FIELD_TRACE,
    S_FIELD_RETRY,
    S_FIELD_PAYLOAD,
    S_FIELD_COUNT
} s_field_t;

static const char *s_field_names[S_FIELD_COUNT] = {
    "v", "id", "type", "source", "ts", "corr", "trace", "retry", "payload"};

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
//  Helpers: time, UUIDs, msgpack objects

int64_t
proto_now_usec (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

//  Random bytes for ids come from getrandom() in blocks, kept per thread.
//  A forked child drops its inherited block so parent and child never hand
//  out the same ids.
#define S_POOL_SIZE 512
static _Thread_local uint8_t s_pool[S_POOL_SIZE];
static _Thread_local size_t s_pool_used = S_POOL_SIZE;
static pthread_once_t s_atfork_once = PTHREAD_ONCE_INIT;

static void
s_pool_drop (void)
{
    s_pool_used = S_POOL_SIZE;
}

static void
s_atfork_register (void)
{
    pthread_atfork (NULL, NULL, s_pool_drop);
}

//  Fallback when getrandom() is unavailable: splitmix64 over time, address
//  and a counter. Unique enough for ids; not for secrets.
static void
s_fallback_fill (uint8_t *buffer, size_t size)
{
    static _Thread_local uint64_t state;
    if (state == 0) {
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        state = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 30) ^
                (uint64_t)(uintptr_t)&state ^ (uint64_t)proto_now_usec ();
    }
    for (size_t i = 0; i < size; i += 8) {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        size_t n = size - i < 8 ? size - i : 8;
        memcpy (buffer + i, &z, n);
    }
}

static void
s_pool_refill (void)
{
    pthread_once (&s_atfork_once, s_atfork_register);
    size_t got = 0;
    while (got < S_POOL_SIZE) {
        ssize_t rc = getrandom (s_pool + got, S_POOL_SIZE - got, 0);
        if (rc > 0)
            got += (size_t)rc;
        else if (rc < 0 && errno != EINTR) {
            s_fallback_fill (s_pool + got, S_POOL_SIZE - got);
            break;
        }
    }
    s_pool_used = 0;
}

void
proto_uuid_generate (uint8_t id[PROTO_UUID_SIZE])
{
    assert (id);
    if (S_POOL_SIZE - s_pool_used < PROTO_UUID_SIZE)
        s_pool_refill ();
    memcpy (id, s_pool + s_pool_used, PROTO_UUID_SIZE);
    s_pool_used += PROTO_UUID_SIZE;
    //  UUID version 7 (RFC 9562): 48-bit Unix time in milliseconds, then
    //  random bits. Ids made later sort later, so every table keyed by an id
    //  appends to its last pages instead of dirtying a random page per
    //  insert (write amplification at tens of thousands of ids a second).
    //  Within one millisecond a thread's ids keep increasing: rand_a (12
    //  bits) becomes a counter seeded at random each millisecond.
    static _Thread_local uint64_t last_ms = 0;
    static _Thread_local uint16_t counter = 0;
    uint64_t ms = (uint64_t)(proto_now_usec () / 1000);
    if (ms > last_ms) {
        last_ms = ms;
        counter = (uint16_t)(((id[6] << 8) | id[7]) & 0x07ff); //  room to count up
    } else {
        ms = last_ms;             //  the clock stepped back or is in the same millisecond
        if (++counter > 0x0fff) { //  4096 ids in one millisecond: borrow the next one
            last_ms = ++ms;
            counter = 0;
        }
    }
    for (int i = 0; i < 6; i++)
        id[i] = (uint8_t)(ms >> (40 - 8 * i));
    id[6] = (uint8_t)(0x70 | ((counter >> 8) & 0x0f)); //  version 7
    id[7] = (uint8_t)(counter & 0xff);
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); //  variant 10
}

void
proto_uuid_format (const uint8_t id[PROTO_UUID_SIZE], char out[PROTO_UUID_STR_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    assert (id && out);
    size_t o = 0;
    for (size_t i = 0; i < PROTO_UUID_SIZE; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 0x0f];
    }
    out[o] = '\0';
}

static int
s_hex_value (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
proto_uuid_parse (const char *text, uint8_t id[PROTO_UUID_SIZE])
{
    if (!text || !id)
        return -1;
    size_t len = strnlen (text, 37);
    bool dashed = len == 36;
    if (!dashed && len != 32)
        return -1;
    if (dashed &&
        (text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-'))
        return -1;
    uint8_t out[PROTO_UUID_SIZE];
    size_t t = 0;
    for (size_t i = 0; i < PROTO_UUID_SIZE; i++) {
        if (dashed && (t == 8 || t == 13 || t == 18 || t == 23))
            t++;
        int hi = s_hex_value (text[t]);
        int lo = s_hex_value (text[t + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
        t += 2;
    }
    memcpy (id, out, PROTO_UUID_SIZE);
    return 0;
}

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

#define S_ZONES_KEPT 4
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

//  Allocate an envelope with `tail_size` bytes of payload room; every field
//  but the strings is set to its default.
static proto_envelope_t *
s_envelope_alloc (size_t tail_size)
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

proto_envelope_t *
proto_envelope_new (const char *type, const char *source)
{
    if (!type || !source)
        return NULL;
    proto_envelope_t *self = s_envelope_alloc (0);
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
    proto_envelope_t *copy = s_envelope_alloc (empty ? 0 : self->payload_size);
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
proto_envelope_set_payload (proto_envelope_t *self, const void *data, size_t size,
                            proto_error_t *error)
{
    assert (self);
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
    assert (self && buffer);
    s_scratch_t scratch;
    scratch.size = 0;
    msgpack_packer pk;
    msgpack_packer_init (&pk, &scratch, s_scratch_write);

    int rc = msgpack_pack_map (&pk, S_FIELD_COUNT);
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
        msgpack_sbuffer_write (buffer, (const char *)self->payload, self->payload_size)) {
        buffer->size = mark;
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Decoder

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
            field = S_FIELD_V;
            break;
        case 2:
            field = key[0] == 'i' ? S_FIELD_ID : S_FIELD_TS;
            break;
        case 4:
            field = key[0] == 't' ? S_FIELD_TYPE : S_FIELD_CORR;
            break;
        case 5:
            field = key[0] == 't' ? S_FIELD_TRACE : S_FIELD_RETRY;
            break;
        case 6:
            field = S_FIELD_SOURCE;
            break;
        case 7:
            field = S_FIELD_PAYLOAD;
            break;
        default:
            return -1;
    }
    return memcmp (s_field_names[field], key, len) == 0 ? field : -1;
}

static proto_code_t
s_wrong_type (proto_error_t *error, s_field_t field, size_t at, uint8_t byte,
              const char *expected)
{
    return proto_error_set (error, PROTO_ERR_FIELD_TYPE, at,
                            "%s: expected %s, got a %s at offset %zu",
                            s_field_names[field], expected, proto_format_name (byte), at);
}

//  Check a str field: 1..max bytes (0..max when allow_empty), no NUL.
static proto_code_t
s_check_str (const uint8_t *data, size_t size, size_t at, s_field_t field, size_t max,
             bool allow_empty, const uint8_t **str, size_t *len, proto_error_t *error)
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
s_check_id (const uint8_t *data, size_t size, size_t at, s_field_t field, bool nullable,
            const uint8_t **id, proto_error_t *error)
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

proto_envelope_t *
proto_envelope_decode (const void *data_v, size_t size, const proto_limits_t *limits,
                       proto_error_t *error)
{
    const uint8_t *data = (const uint8_t *)data_v;
    size_t max_frame = PROTO_MAX_FRAME;
    int max_depth = PROTO_MAX_DEPTH;
    if (limits && limits->max_frame > 0)
        max_frame = limits->max_frame;
    if (limits && limits->max_depth > 0 && limits->max_depth < PROTO_MAX_DEPTH)
        max_depth = limits->max_depth;

    if (!data || size == 0) {
        proto_error_set (error, PROTO_ERR_EMPTY, 0, "envelope: the frame is empty");
        return NULL;
    }
    if (size > max_frame) {
        proto_error_set (
            error, PROTO_ERR_TOO_LARGE, 0,
            "envelope: the frame of %zu bytes exceeds the limit of %zu bytes", size,
            max_frame);
        return NULL;
    }
    //  Pass 1: the bytes are well-formed and bounded
    if (proto_msgpack_validate (data, size, max_depth, "", error) != PROTO_OK)
        return NULL;

    //  Pass 2: find the fields
    proto_head_t head;
    proto_head_read (data, size, 0, &head);
    if (head.kind != PROTO_KIND_MAP) {
        proto_error_set (error, PROTO_ERR_NOT_MAP, 0,
                         "envelope: expected a map, got a %s at offset 0",
                         proto_format_name (data[0]));
        return NULL;
    }
    size_t at[S_FIELD_COUNT] = {0}; //  offset of each field's value; 0 if absent
    size_t unknown_at = 0;          //  offset of the first unknown key
    size_t pos = head.header;
    for (uint64_t i = 0; i < head.value; i++) {
        proto_head_t key;
        proto_head_read (data, size, pos, &key); //  validated: a str
        size_t key_at = pos;
        int field = s_field_lookup (data + pos + key.header, (size_t)key.value);
        pos += key.header + (size_t)key.value;
        if (field >= 0)
            at[field] = pos;
        else if (unknown_at == 0)
            unknown_at = key_at;
        pos = s_skip (data, size, pos);
    }

    //  The version first: a newer peer gets "version", not "unknown field"
    if (at[S_FIELD_V] == 0) {
        proto_error_set (error, PROTO_ERR_MISSING, 0, "v: required field is missing");
        return NULL;
    }
    proto_head_read (data, size, at[S_FIELD_V], &head);
    if (head.kind != PROTO_KIND_UINT && head.kind != PROTO_KIND_INT) {
        s_wrong_type (error, S_FIELD_V, at[S_FIELD_V], data[at[S_FIELD_V]],
                      "an unsigned integer");
        return NULL;
    }
    if (head.value != PROTO_VERSION) {
        if (head.kind == PROTO_KIND_INT && (int64_t)head.value < 0)
            proto_error_set (error, PROTO_ERR_VERSION, at[S_FIELD_V],
                             "v: protocol version %" PRId64 " is not supported (only %d)",
                             (int64_t)head.value, PROTO_VERSION);
        else
            proto_error_set (error, PROTO_ERR_VERSION, at[S_FIELD_V],
                             "v: protocol version %" PRIu64 " is not supported (only %d)",
                             head.value, PROTO_VERSION);
        return NULL;
    }
    if (unknown_at) {
        proto_head_t key;
        proto_head_read (data, size, unknown_at, &key);
        char name[64];
        proto_path_append_key (name, sizeof name, 0, data + unknown_at + key.header,
                               (size_t)key.value);
        proto_error_set (error, PROTO_ERR_UNKNOWN_FIELD, unknown_at,
                         "%s: unknown envelope field at offset %zu", name, unknown_at);
        return NULL;
    }
    for (int i = 0; i < S_FIELD_COUNT; i++)
        if (at[i] == 0) {
            proto_error_set (error, PROTO_ERR_MISSING, 0, "%s: required field is missing",
                             s_field_names[i]);
            return NULL;
        }

    //  Pass 3: check each field's type
    const uint8_t *id, *corr, *type, *source, *trace = NULL;
    size_t type_len, source_len, trace_len = 0;
    if (s_check_id (data, size, at[S_FIELD_ID], S_FIELD_ID, false, &id, error) ||
        s_check_str (data, size, at[S_FIELD_TYPE], S_FIELD_TYPE, PROTO_MAX_TYPE, false,
                     &type, &type_len, error) ||
        s_check_str (data, size, at[S_FIELD_SOURCE], S_FIELD_SOURCE, PROTO_MAX_SOURCE,
                     false, &source, &source_len, error))
        return NULL;

    proto_head_read (data, size, at[S_FIELD_TS], &head);
    if (head.kind != PROTO_KIND_UINT && head.kind != PROTO_KIND_INT) {
        s_wrong_type (error, S_FIELD_TS, at[S_FIELD_TS], data[at[S_FIELD_TS]],
                      "an integer (microseconds)");
        return NULL;
    }
    if (head.kind == PROTO_KIND_UINT && head.value > INT64_MAX) {
        proto_error_set (error, PROTO_ERR_FIELD_TYPE, at[S_FIELD_TS],
                         "ts: %" PRIu64 " at offset %zu does not fit an int64",
                         head.value, at[S_FIELD_TS]);
        return NULL;
    }
    int64_t ts = (int64_t)head.value;

    if (s_check_id (data, size, at[S_FIELD_CORR], S_FIELD_CORR, true, &corr, error))
        return NULL;
    proto_head_read (data, size, at[S_FIELD_TRACE], &head);
    if (head.kind != PROTO_KIND_NIL &&
        s_check_str (data, size, at[S_FIELD_TRACE], S_FIELD_TRACE, PROTO_MAX_TRACE, true,
                     &trace, &trace_len, error))
        return NULL;

    proto_head_read (data, size, at[S_FIELD_RETRY], &head);
    if ((head.kind != PROTO_KIND_UINT && head.kind != PROTO_KIND_INT) ||
        (head.kind == PROTO_KIND_INT && (int64_t)head.value < 0)) {
        s_wrong_type (error, S_FIELD_RETRY, at[S_FIELD_RETRY], data[at[S_FIELD_RETRY]],
                      "an unsigned integer");
        return NULL;
    }
    uint64_t retry = head.value;

    size_t payload_at = at[S_FIELD_PAYLOAD];
    proto_head_read (data, size, payload_at, &head);
    if (head.kind != PROTO_KIND_MAP) {
        proto_error_set (error, PROTO_ERR_NOT_MAP, payload_at,
                         "payload: expected a map, got a %s at offset %zu",
                         proto_format_name (data[payload_at]), payload_at);
        return NULL;
    }
    size_t payload_size = s_skip (data, size, payload_at) - payload_at;

    //  Build it: one allocation
    proto_envelope_t *self = s_envelope_alloc (payload_size);
    if (!self) {
        proto_error_set (error, PROTO_ERR_NOMEM, 0, "envelope: out of memory");
        return NULL;
    }
    memcpy (self->id, id, PROTO_UUID_SIZE);
    memcpy (self->type, type, type_len);
    self->type[type_len] = '\0';
    self->type_len = (uint16_t)type_len;
    memcpy (self->source, source, source_len);
    self->source[source_len] = '\0';
    self->source_len = (uint16_t)source_len;
    self->ts = ts;
    if (corr) {
        memcpy (self->corr, corr, PROTO_UUID_SIZE);
        self->has_corr = true;
    }
    if (trace) {
        memcpy (self->trace, trace, trace_len);
        self->trace[trace_len] = '\0';
        self->trace_len = (uint16_t)trace_len;
        self->has_trace = true;
    }
    self->retry = retry;
    memcpy (self->tail, data + payload_at, payload_size);
    self->payload = self->tail;
    self->payload_size = payload_size;
    if (error) {
        error->code = PROTO_OK;
        error->offset = 0;
        error->message[0] = '\0';
    }
    return self;
}
