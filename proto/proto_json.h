/*  proto_json: msgpack <-> JSON (jansson) for the CLI, the probe and action I/O.

    Mapping (proto/PROTOCOL.md, "JSON form"):

        msgpack nil / bool / int / float  <->  JSON null / bool / integer / real
        msgpack str                       <->  JSON string (UTF-8 checked)
        msgpack bin                        ->  JSON {"$bin": "<base64>"}
        JSON {"$bin": "<base64>"}          ->  msgpack bin
        msgpack array / map               <->  JSON array / object (string keys)

    Unsigned integers above INT64_MAX, NaN and infinities have no JSON form and
    fail with PROTO_ERR_JSON instead of being silently changed.
*/
#ifndef PROTO_JSON_H_INCLUDED
#define PROTO_JSON_H_INCLUDED

#include "proto/proto_envelope.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Convert a msgpack object to a new JSON value. Caller owns the result.
//  NULL with `error` (if given) filled on failure; `path` names the value.
json_t *proto_json_from_msgpack (const msgpack_object *obj, const char *path,
                                 proto_error_t *error);

//  Whether a msgpack object has a JSON form (what proto_json_from_msgpack
//  would refuse, this refuses), without converting it. PROTO_OK or a code,
//  `error` filled. Duplicate keys are not looked for (decoded frames have
//  none).
proto_code_t proto_json_check (const msgpack_object *obj, const char *path,
                               proto_error_t *error);

//  Pack a JSON value as msgpack. Depth is limited to PROTO_MAX_DEPTH.
//  Returns PROTO_OK or an error code, filling `error` if given.
proto_code_t proto_json_to_msgpack (const json_t *value, msgpack_packer *packer,
                                    proto_error_t *error);

//  Convenience: JSON value -> msgpack bytes appended to `buffer`.
proto_code_t proto_json_to_sbuffer (const json_t *value, msgpack_sbuffer *buffer,
                                    proto_error_t *error);

//  True when `data` is well-formed UTF-8 (no overlong forms, surrogates or
//  code points above U+10FFFF).
bool proto_utf8_valid (const void *data, size_t size);

//  One msgpack value in `data` (a stored record, say) as a new JSON value:
//  validated with the envelope rules first, so a corrupt or hostile buffer
//  costs no more than its size. NULL with `error` (if given) on failure.
json_t *proto_json_from_buffer (const void *data, size_t size, const char *path,
                                proto_error_t *error);

//  Pack a NUL-terminated string (a short one in a single write: the hot
//  paths pack many field names).
void proto_pack_str (msgpack_packer *pk, const char *text);

#ifdef __cplusplus
}
#endif

#endif
