/*  proto_internal: helpers shared by the proto/ sources. Not a public API:
    nothing outside proto/ includes this file.
*/
#ifndef PROTO_INTERNAL_H_INCLUDED
#define PROTO_INTERNAL_H_INCLUDED

#include "proto/proto_envelope.h"

//  Fill `error` (if not NULL) with a code, an offset and a printf-style message.
//  Returns `code` so callers can write `return proto_error_set (...)`.
proto_code_t proto_error_set (proto_error_t *error, proto_code_t code, size_t offset,
                              const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

//  Name of the msgpack format that starts with `byte` ("fixstr", "str32",
//  "uint8", "fixmap", "reserved", ...), for error messages.
const char *proto_format_name (uint8_t byte);

//  Append a map key to a field path held in `path` (capacity `cap`, current
//  length `len`): ".key", or "key" when the path is empty. Bytes that are not
//  printable ASCII become '?', and long keys are cut. Returns the new length;
//  the path is always NUL-terminated and never overflows.
size_t proto_path_append_key (char *path, size_t cap, size_t len, const void *key,
                              size_t key_len);

//  Append "[index]" to a field path, as proto_path_append_key does.
size_t proto_path_append_index (char *path, size_t cap, size_t len, uint64_t index);

//  What a msgpack header says, read by proto_head_read.
typedef enum {
    PROTO_KIND_NIL,
    PROTO_KIND_BOOL,
    PROTO_KIND_UINT,  //  positive fixint, uint8..uint64
    PROTO_KIND_INT,   //  negative fixint, int8..int64 (value may be >= 0)
    PROTO_KIND_FLOAT, //  float32, float64
    PROTO_KIND_STR,
    PROTO_KIND_BIN,
    PROTO_KIND_ARRAY,
    PROTO_KIND_MAP,
    PROTO_KIND_EXT,     //  ext, fixext: never accepted
    PROTO_KIND_RESERVED //  0xc1
} proto_kind_t;

typedef struct {
    proto_kind_t kind;
    size_t header;  //  bytes of the header; for scalars, of the whole value
    uint64_t value; //  str/bin: byte length; array: count; map: pair count;
                    //  bool: 0/1; uint: the value; int: the value as int64
                    //  bits; float: 0 (not decoded)
} proto_head_t;

//  Big-endian unsigned integer of n = 1, 2, 4 or 8 bytes.
static inline uint64_t
proto_read_be (const uint8_t *p, size_t n)
{
    switch (n) {
        case 1:
            return p[0];
        case 2:
            return (uint64_t)p[0] << 8 | p[1];
        case 4:
            return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 |
                   p[3];
        default:
            return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
                   (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
                   (uint64_t)p[6] << 8 | p[7];
    }
}

//  Read the header of the value that starts at data[pos] (pos < size).
//  Returns false when the header itself runs past `size`; never reads past
//  it. Lengths and counts are not checked against what remains. Inline: it
//  is the inner loop of the validator and the decoder.
static inline bool
proto_head_read (const uint8_t *data, size_t size, size_t pos, proto_head_t *head)
{
    uint8_t b = data[pos];
    size_t avail = size - pos;
    head->value = 0;
    head->header = 1;
    if (b <= 0x7f) {
        head->kind = PROTO_KIND_UINT;
        head->value = b;
        return true;
    }
    if (b <= 0x8f) {
        head->kind = PROTO_KIND_MAP;
        head->value = b & 0x0f;
        return true;
    }
    if (b <= 0x9f) {
        head->kind = PROTO_KIND_ARRAY;
        head->value = b & 0x0f;
        return true;
    }
    if (b <= 0xbf) {
        head->kind = PROTO_KIND_STR;
        head->value = b & 0x1f;
        return true;
    }
    if (b >= 0xe0) {
        head->kind = PROTO_KIND_INT;
        head->value = (uint64_t)(int64_t)(int8_t)b;
        return true;
    }
    //  Size of the length/count/value field that follows the type byte
    size_t extra = 0;
    switch (b) {
        case 0xc0:
            head->kind = PROTO_KIND_NIL;
            return true;
        case 0xc1:
            head->kind = PROTO_KIND_RESERVED;
            return true;
        case 0xc2:
        case 0xc3:
            head->kind = PROTO_KIND_BOOL;
            head->value = b == 0xc3;
            return true;
        case 0xc7:
        case 0xc8:
        case 0xc9:
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            head->kind = PROTO_KIND_EXT;
            return true;
        case 0xc4:
        case 0xc5:
        case 0xc6:
            head->kind = PROTO_KIND_BIN;
            extra = (size_t)1 << (b - 0xc4);
            break;
        case 0xd9:
        case 0xda:
        case 0xdb:
            head->kind = PROTO_KIND_STR;
            extra = (size_t)1 << (b - 0xd9);
            break;
        case 0xdc:
        case 0xdd:
            head->kind = PROTO_KIND_ARRAY;
            extra = b == 0xdc ? 2 : 4;
            break;
        case 0xde:
        case 0xdf:
            head->kind = PROTO_KIND_MAP;
            extra = b == 0xde ? 2 : 4;
            break;
        case 0xca:
        case 0xcb:
            head->kind = PROTO_KIND_FLOAT;
            head->header = b == 0xca ? 5 : 9;
            return avail >= head->header;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
            head->kind = PROTO_KIND_UINT;
            extra = (size_t)1 << (b - 0xcc);
            break;
        default: //  0xd0 .. 0xd3
            head->kind = PROTO_KIND_INT;
            extra = (size_t)1 << (b - 0xd0);
            break;
    }
    head->header = 1 + extra;
    if (avail < head->header)
        return false;
    uint64_t v = proto_read_be (data + pos + 1, extra);
    if (head->kind == PROTO_KIND_INT) {
        //  Sign-extend int8/16/32 to 64 bits
        unsigned shift = 64 - 8 * (unsigned)extra;
        if (shift)
            v = (uint64_t)((int64_t)(v << shift) >> shift);
    }
    head->value = v;
    return true;
}

//  proto_json_to_msgpack with `path` naming the value in error messages.
proto_code_t proto_json_pack (const json_t *value, msgpack_packer *packer,
                              const char *path, proto_error_t *error);

#endif
