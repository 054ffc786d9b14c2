/*  proto_envelope_internal: the envelope's fields, shared by the object and
    its encoder (proto_envelope.c) and the decoder (proto_envelope_decode.c).
    Not a public API: nothing outside proto/ includes this file.
*/
#ifndef PROTO_ENVELOPE_INTERNAL_H_INCLUDED
#define PROTO_ENVELOPE_INTERNAL_H_INCLUDED

#include "proto/proto_envelope.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

struct _proto_envelope_t {
    unsigned version;
    bool has_corr;
    bool has_trace;
    bool unpacked_ok; //  `unpacked` holds the payload object
    uint8_t id[PROTO_UUID_SIZE];
    uint8_t corr[PROTO_UUID_SIZE];
    int64_t ts;
    uint64_t retry;
    const uint8_t *payload; //  msgpack map: an empty map, tail or payload_heap
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

//  The nine fields, in the order the encoder writes them
typedef enum {
    PROTO_ENV_FIELD_V,
    PROTO_ENV_FIELD_ID,
    PROTO_ENV_FIELD_TYPE,
    PROTO_ENV_FIELD_SOURCE,
    PROTO_ENV_FIELD_TS,
    PROTO_ENV_FIELD_CORR,
    PROTO_ENV_FIELD_TRACE,
    PROTO_ENV_FIELD_RETRY,
    PROTO_ENV_FIELD_PAYLOAD,
    PROTO_ENV_FIELD_COUNT
} proto_env_field_t;

//  Allocate an envelope with `tail_size` bytes of payload room; every field
//  but the strings is set to its default. NULL when out of memory.
proto_envelope_t *proto_envelope_alloc (size_t tail_size);

#endif
