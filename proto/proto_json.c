/*  proto_json: msgpack <-> JSON (jansson).

    Nothing is changed silently: a value without a JSON form fails with
    PROTO_ERR_JSON and a message naming its path. That covers unsigned
    integers above INT64_MAX, NaN and infinities, strings (and keys) that are
    not UTF-8, map keys that are not strings, duplicate keys, ext values, and
    a msgpack map {"$bin": <str>}, which would come back from JSON as bin.
    Nesting deeper than PROTO_MAX_DEPTH fails with PROTO_ERR_TOO_DEEP; an
    allocation failure with PROTO_ERR_NOMEM.
*/
#include "proto/proto_json.h"
#include "proto/proto_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PATH_MAX 160
#define S_BIN_KEY  "$bin"

typedef struct {
    char path[S_PATH_MAX];
    size_t len;
    proto_error_t *error;
} s_ctx_t;

static void
s_ctx_init (s_ctx_t *self, const char *path, proto_error_t *error)
{
    //  Copied by hand: snprintf cost as much as checking a small value
    size_t len = path ? strnlen (path, S_PATH_MAX - 1) : 0;
    memcpy (self->path, path ? path : "", len);
    self->path[len] = 0;
    self->len = len;
    self->error = error;
}

static proto_code_t
s_ctx_fail (s_ctx_t *self, proto_code_t code, const char *why)
{
    return proto_error_set (self->error, code, 0, "%s: %s",
                            self->len ? self->path : "value", why);
}

//  ---------------------------------------------------------------------------
//  Base64 (RFC 4648, with padding)

static const char s_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *
s_base64_encode (const uint8_t *data, size_t size, size_t *out_len)
{
    size_t len = (size + 2) / 3 * 4;
    char *out = (char *)malloc (len + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 2 < size; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        out[o++] = s_b64[v >> 18];
        out[o++] = s_b64[(v >> 12) & 63];
        out[o++] = s_b64[(v >> 6) & 63];
        out[o++] = s_b64[v & 63];
    }
    if (i < size) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < size)
            v |= (uint32_t)data[i + 1] << 8;
        out[o++] = s_b64[v >> 18];
        out[o++] = s_b64[(v >> 12) & 63];
        out[o++] = i + 1 < size ? s_b64[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static int
s_base64_value (char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

//  Decode strict base64 (length a multiple of 4, '=' only at the end).
//  Returns a new buffer (never NULL on success, even when empty) or NULL with
//  *bad set when the text is not base64 (*bad clear: out of memory).
static uint8_t *
s_base64_decode (const char *text, size_t len, size_t *out_len, bool *bad)
{
    *bad = true;
    if (len % 4 != 0)
        return NULL;
    size_t pad = 0;
    if (len >= 4 && text[len - 1] == '=')
        pad = text[len - 2] == '=' ? 2 : 1;
    *bad = false;
    uint8_t *out = (uint8_t *)malloc (len / 4 * 3 + 1);
    if (!out)
        return NULL;
    *bad = true;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        uint32_t v = 0;
        for (size_t j = 0; j < 4; j++) {
            int d;
            if (last && j >= 4 - pad)
                d = 0;
            else if ((d = s_base64_value (text[i + j])) < 0) {
                free (out);
                return NULL;
            }
            v = v << 6 | (uint32_t)d;
        }
        out[o++] = (uint8_t)(v >> 16);
        if (!(last && pad == 2))
            out[o++] = (uint8_t)(v >> 8);
        if (!(last && pad >= 1))
            out[o++] = (uint8_t)v;
    }
    *bad = false;
    *out_len = o;
    return out;
}

//  ---------------------------------------------------------------------------
//  msgpack -> JSON

static json_t *s_from_msgpack (s_ctx_t *ctx, const msgpack_object *obj, int depth);

static json_t *
s_from_map (s_ctx_t *ctx, const msgpack_object *obj, int depth)
{
    const msgpack_object_map *map = &obj->via.map;
    char why[128];
    if (map->size == 1 && map->ptr[0].key.type == MSGPACK_OBJECT_STR &&
        map->ptr[0].key.via.str.size == 4 &&
        memcmp (map->ptr[0].key.via.str.ptr, S_BIN_KEY, 4) == 0 &&
        map->ptr[0].val.type == MSGPACK_OBJECT_STR) {
        s_ctx_fail (ctx, PROTO_ERR_JSON,
                    "a map whose only key is \"$bin\" with a str value is reserved for "
                    "bin values in JSON");
        return NULL;
    }
    json_t *object = json_object ();
    if (!object) {
        s_ctx_fail (ctx, PROTO_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR) {
            snprintf (why, sizeof why, "map key #%" PRIu32 " is not a str", i);
            s_ctx_fail (ctx, PROTO_ERR_JSON, why);
            json_decref (object);
            return NULL;
        }
        const char *name = key->via.str.ptr;
        size_t name_len = key->via.str.size;
        size_t saved = ctx->len;
        ctx->len =
            proto_path_append_key (ctx->path, S_PATH_MAX, ctx->len, name, name_len);
        if (json_object_getn (object, name, name_len)) {
            s_ctx_fail (ctx, PROTO_ERR_JSON, "duplicate key");
            json_decref (object);
            return NULL;
        }
        json_t *value = s_from_msgpack (ctx, &map->ptr[i].val, depth);
        if (!value) {
            json_decref (object);
            return NULL;
        }
        if (json_object_setn_new (object, name, name_len, value) != 0) {
            s_ctx_fail (ctx, PROTO_ERR_JSON, "key is not valid UTF-8");
            json_decref (object);
            return NULL;
        }
        ctx->len = saved;
        ctx->path[saved] = '\0';
    }
    return object;
}

//  A bin as {"$bin": base64}; NULL when out of memory.
static json_t *
s_from_bin (const msgpack_object *obj)
{
    size_t len = 0;
    char *text =
        s_base64_encode ((const uint8_t *)obj->via.bin.ptr, obj->via.bin.size, &len);
    json_t *b64 = text ? json_stringn_nocheck (text, len) : NULL;
    free (text);
    json_t *value = b64 ? json_object () : NULL;
    if (value && json_object_set_new (value, S_BIN_KEY, b64) != 0) {
        json_decref (value);
        value = NULL;
    } else if (!value)
        json_decref (b64);
    return value;
}

//  An array whose items are at `depth`; NULL after failing the context.
static json_t *
s_from_array (s_ctx_t *ctx, const msgpack_object *obj, int depth)
{
    json_t *value = json_array ();
    for (uint32_t i = 0; value && i < obj->via.array.size; i++) {
        size_t saved = ctx->len;
        ctx->len = proto_path_append_index (ctx->path, S_PATH_MAX, ctx->len, i);
        json_t *item = s_from_msgpack (ctx, &obj->via.array.ptr[i], depth);
        if (!item) {
            json_decref (value);
            return NULL;
        }
        if (json_array_append_new (value, item) != 0) {
            json_decref (value);
            value = NULL;
        }
        ctx->len = saved;
        ctx->path[saved] = '\0';
    }
    if (!value)
        s_ctx_fail (ctx, PROTO_ERR_NOMEM, "out of memory");
    return value;
}

static json_t *
s_from_msgpack (s_ctx_t *ctx, const msgpack_object *obj, int depth)
{
    char why[128];
    json_t *value = NULL;
    switch (obj->type) {
        case MSGPACK_OBJECT_NIL:
            value = json_null ();
            break;
        case MSGPACK_OBJECT_BOOLEAN:
            value = json_boolean (obj->via.boolean);
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            if (obj->via.u64 > INT64_MAX) {
                snprintf (why, sizeof why,
                          "unsigned integer %" PRIu64 " exceeds INT64_MAX: no JSON form",
                          obj->via.u64);
                s_ctx_fail (ctx, PROTO_ERR_JSON, why);
                return NULL;
            }
            value = json_integer ((json_int_t)obj->via.u64);
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            value = json_integer ((json_int_t)obj->via.i64);
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            if (!isfinite (obj->via.f64)) {
                s_ctx_fail (ctx, PROTO_ERR_JSON,
                            isnan (obj->via.f64) ? "NaN has no JSON form"
                                                 : "infinity has no JSON form");
                return NULL;
            }
            value = json_real (obj->via.f64);
            break;
        case MSGPACK_OBJECT_STR:
            value = json_stringn (obj->via.str.ptr, obj->via.str.size);
            if (!value) {
                s_ctx_fail (ctx, PROTO_ERR_JSON, "str is not valid UTF-8");
                return NULL;
            }
            break;
        case MSGPACK_OBJECT_BIN:
            value = s_from_bin (obj);
            break;
        case MSGPACK_OBJECT_ARRAY:
        case MSGPACK_OBJECT_MAP:
            if (depth >= PROTO_MAX_DEPTH) {
                snprintf (why, sizeof why, "nests deeper than the limit of %d",
                          PROTO_MAX_DEPTH);
                s_ctx_fail (ctx, PROTO_ERR_TOO_DEEP, why);
                return NULL;
            }
            if (obj->type == MSGPACK_OBJECT_MAP)
                return s_from_map (ctx, obj, depth + 1);
            return s_from_array (ctx, obj, depth + 1);
        default:
            snprintf (why, sizeof why, "msgpack type %d (ext) has no JSON form",
                      (int)obj->type);
            s_ctx_fail (ctx, PROTO_ERR_JSON, why);
            return NULL;
    }
    if (!value)
        s_ctx_fail (ctx, PROTO_ERR_NOMEM, "out of memory");
    return value;
}

json_t *
proto_json_from_msgpack (const msgpack_object *obj, const char *path,
                         proto_error_t *error)
{
    s_ctx_t ctx;
    s_ctx_init (&ctx, path, error);
    if (!obj) {
        s_ctx_fail (&ctx, PROTO_ERR_JSON, "no value");
        return NULL;
    }
    return s_from_msgpack (&ctx, obj, 0);
}

//  ---------------------------------------------------------------------------
//  Has it a JSON form? The same verdicts as s_from_msgpack, no allocation
//  (duplicate keys are not looked for: received payloads were validated).

bool
proto_utf8_valid (const void *data, size_t size)
{
    const uint8_t *text = (const uint8_t *)data;
    size_t i = 0;
    while (i < size) {
        //  ASCII runs eight bytes at a time
        while (size - i >= 8) {
            uint64_t word;
            memcpy (&word, text + i, 8);
            if (word & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i == size)
            break;
        uint8_t c = text[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07;
        } else
            return false;
        if (size - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((text[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (text[i + k] & 0x3f);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

static proto_code_t
s_check (s_ctx_t *ctx, const msgpack_object *obj, int depth)
{
    switch (obj->type) {
        case MSGPACK_OBJECT_NIL:
        case MSGPACK_OBJECT_BOOLEAN:
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        case MSGPACK_OBJECT_BIN:
            return PROTO_OK;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return obj->via.u64 > INT64_MAX
                       ? s_ctx_fail (ctx, PROTO_ERR_JSON,
                                     "unsigned integer exceeds INT64_MAX: no JSON form")
                       : PROTO_OK;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return isfinite (obj->via.f64)
                       ? PROTO_OK
                       : s_ctx_fail (ctx, PROTO_ERR_JSON,
                                     "NaN or infinity has no JSON form");
        case MSGPACK_OBJECT_STR:
            return proto_utf8_valid ((const uint8_t *)obj->via.str.ptr, obj->via.str.size)
                       ? PROTO_OK
                       : s_ctx_fail (ctx, PROTO_ERR_JSON, "str is not valid UTF-8");
        case MSGPACK_OBJECT_ARRAY:
        case MSGPACK_OBJECT_MAP:
            if (depth >= PROTO_MAX_DEPTH)
                return s_ctx_fail (ctx, PROTO_ERR_TOO_DEEP,
                                   "nests deeper than the limit");
            if (obj->type == MSGPACK_OBJECT_ARRAY) {
                for (uint32_t i = 0; i < obj->via.array.size; i++) {
                    proto_code_t rc = s_check (ctx, &obj->via.array.ptr[i], depth + 1);
                    if (rc != PROTO_OK)
                        return rc;
                }
                return PROTO_OK;
            }
            {
                const msgpack_object_map *map = &obj->via.map;
                if (map->size == 1 && map->ptr[0].key.type == MSGPACK_OBJECT_STR &&
                    map->ptr[0].key.via.str.size == 4 &&
                    memcmp (map->ptr[0].key.via.str.ptr, S_BIN_KEY, 4) == 0 &&
                    map->ptr[0].val.type == MSGPACK_OBJECT_STR)
                    return s_ctx_fail (
                        ctx, PROTO_ERR_JSON,
                        "a map whose only key is \"$bin\" with a str value "
                        "is reserved for bin values in JSON");
                for (uint32_t i = 0; i < map->size; i++) {
                    const msgpack_object *key = &map->ptr[i].key;
                    if (key->type != MSGPACK_OBJECT_STR ||
                        !proto_utf8_valid ((const uint8_t *)key->via.str.ptr,
                                           key->via.str.size))
                        return s_ctx_fail (ctx, PROTO_ERR_JSON,
                                           "map key is not a UTF-8 str");
                    proto_code_t rc = s_check (ctx, &map->ptr[i].val, depth + 1);
                    if (rc != PROTO_OK)
                        return rc;
                }
                return PROTO_OK;
            }
        default:
            return s_ctx_fail (ctx, PROTO_ERR_JSON, "ext has no JSON form");
    }
}

proto_code_t
proto_json_check (const msgpack_object *obj, const char *path, proto_error_t *error)
{
    s_ctx_t ctx;
    s_ctx_init (&ctx, path, error);
    if (!obj)
        return s_ctx_fail (&ctx, PROTO_ERR_JSON, "no value");
    return s_check (&ctx, obj, 0);
}

//  ---------------------------------------------------------------------------
//  JSON -> msgpack

static proto_code_t s_to_msgpack (s_ctx_t *ctx, const json_t *value, msgpack_packer *pk,
                                  int depth);

static proto_code_t
s_packed (s_ctx_t *ctx, int rc)
{
    return rc == 0 ? PROTO_OK
                   : s_ctx_fail (ctx, PROTO_ERR_NOMEM, "out of memory packing");
}

//  An object whose only key is "$bin" with a string value is a bin.
static proto_code_t
s_to_bin (s_ctx_t *ctx, const json_t *text, msgpack_packer *pk)
{
    size_t len = 0;
    bool bad = false;
    uint8_t *bin =
        s_base64_decode (json_string_value (text), json_string_length (text), &len, &bad);
    if (!bin)
        return s_ctx_fail (ctx, bad ? PROTO_ERR_JSON : PROTO_ERR_NOMEM,
                           bad ? "\"$bin\" is not valid base64" : "out of memory");
    proto_code_t rc = s_packed (ctx, msgpack_pack_bin_with_body (pk, bin, len));
    free (bin);
    return rc;
}

static proto_code_t
s_to_msgpack (s_ctx_t *ctx, const json_t *value, msgpack_packer *pk, int depth)
{
    char why[128];
    switch (json_typeof (value)) {
        case JSON_NULL:
            return s_packed (ctx, msgpack_pack_nil (pk));
        case JSON_TRUE:
            return s_packed (ctx, msgpack_pack_true (pk));
        case JSON_FALSE:
            return s_packed (ctx, msgpack_pack_false (pk));
        case JSON_INTEGER:
            return s_packed (ctx, msgpack_pack_int64 (pk, json_integer_value (value)));
        case JSON_REAL: {
            double real = json_real_value (value);
            if (!isfinite (real))
                return s_ctx_fail (ctx, PROTO_ERR_JSON,
                                   "NaN or infinity has no msgpack "
                                   "form here");
            return s_packed (ctx, msgpack_pack_double (pk, real));
        }
        case JSON_STRING:
            return s_packed (ctx,
                             msgpack_pack_str_with_body (pk, json_string_value (value),
                                                         json_string_length (value)));
        case JSON_ARRAY:
        case JSON_OBJECT:
            break;
    }
    if (depth >= PROTO_MAX_DEPTH) {
        snprintf (why, sizeof why, "nests deeper than the limit of %d", PROTO_MAX_DEPTH);
        return s_ctx_fail (ctx, PROTO_ERR_TOO_DEEP, why);
    }
    //  jansson's iteration API is not const-correct; nothing is modified.
    json_t *container = (json_t *)value;
    proto_code_t rc = PROTO_OK;
    if (json_is_array (container)) {
        size_t size = json_array_size (container);
        if (size > UINT32_MAX)
            return s_ctx_fail (ctx, PROTO_ERR_JSON, "array too large for msgpack");
        rc = s_packed (ctx, msgpack_pack_array (pk, size));
        for (size_t i = 0; rc == PROTO_OK && i < size; i++) {
            size_t saved = ctx->len;
            ctx->len = proto_path_append_index (ctx->path, S_PATH_MAX, ctx->len, i);
            rc = s_to_msgpack (ctx, json_array_get (container, i), pk, depth + 1);
            ctx->len = saved;
            ctx->path[saved] = '\0';
        }
        return rc;
    }
    size_t size = json_object_size (container);
    json_t *bin = json_object_get (container, S_BIN_KEY);
    if (size == 1 && json_is_string (bin))
        return s_to_bin (ctx, bin, pk);
    if (size > UINT32_MAX)
        return s_ctx_fail (ctx, PROTO_ERR_JSON, "object too large for msgpack");
    rc = s_packed (ctx, msgpack_pack_map (pk, size));
    const char *key;
    size_t key_len;
    json_t *item;
    json_object_keylen_foreach (container, key, key_len, item)
    {
        if (rc != PROTO_OK)
            break;
        size_t saved = ctx->len;
        ctx->len = proto_path_append_key (ctx->path, S_PATH_MAX, ctx->len, key, key_len);
        rc = s_packed (ctx, msgpack_pack_str_with_body (pk, key, key_len));
        if (rc == PROTO_OK)
            rc = s_to_msgpack (ctx, item, pk, depth + 1);
        ctx->len = saved;
        ctx->path[saved] = '\0';
    }
    return rc;
}

proto_code_t
proto_json_pack (const json_t *value, msgpack_packer *packer, const char *path,
                 proto_error_t *error)
{
    s_ctx_t ctx;
    s_ctx_init (&ctx, path, error);
    if (!value || !packer)
        return s_ctx_fail (&ctx, PROTO_ERR_JSON, "no value");
    return s_to_msgpack (&ctx, value, packer, 0);
}

proto_code_t
proto_json_to_msgpack (const json_t *value, msgpack_packer *packer, proto_error_t *error)
{
    return proto_json_pack (value, packer, NULL, error);
}

proto_code_t
proto_json_to_sbuffer (const json_t *value, msgpack_sbuffer *buffer, proto_error_t *error)
{
    if (!buffer)
        return proto_json_to_msgpack (value, NULL, error);
    size_t mark = buffer->size;
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    proto_code_t rc = proto_json_to_msgpack (value, &pk, error);
    if (rc != PROTO_OK)
        buffer->size = mark; //  leave no half-packed value behind
    return rc;
}

void
proto_pack_str (msgpack_packer *pk, const char *text)
{
    size_t size = strlen (text);
    if (size < 32) {
        //  A fixstr: header and body in one write
        char packed[32];
        packed[0] = (char)(0xa0 | size);
        memcpy (packed + 1, text, size);
        pk->callback (pk->data, packed, size + 1);
        return;
    }
    msgpack_pack_str (pk, size);
    msgpack_pack_str_body (pk, text, size);
}

json_t *
proto_json_from_buffer (const void *data, size_t size, const char *path,
                        proto_error_t *error)
{
    //  Validated first: msgpack_unpack allocates from declared counts
    if (proto_msgpack_validate (data, size, PROTO_MAX_DEPTH, path, error) != PROTO_OK)
        return NULL;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    json_t *json = NULL;
    size_t offset = 0;
    if (msgpack_unpack_next (&unpacked, (const char *)data, size, &offset) ==
        MSGPACK_UNPACK_SUCCESS)
        json = proto_json_from_msgpack (&unpacked.data, path, error);
    msgpack_unpacked_destroy (&unpacked);
    return json;
}
