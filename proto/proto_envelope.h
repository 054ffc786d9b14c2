/*  proto_envelope: the msgpack envelope every attune message travels in.

    An envelope is a msgpack map with string keys (proto/PROTOCOL.md, "Envelope"):

        v       uint       protocol version (PROTO_VERSION)
        id      bin 16     message id (UUID); resends keep it
        type    str        message type, e.g. "execution.completed"
        source  str        sender: "actor@host"
        ts      int        microseconds since the Unix epoch
        corr    bin16|nil  correlation id (the id of the message this answers)
        trace   str|nil    trace id, carried unchanged through a flow
        retry   uint       how many times this message has been re-sent
        payload map        type-specific body; keys are strings

    The decoder treats every frame as hostile: it validates the whole frame
    with bounded recursion before anything is allocated, checks every declared
    length against the bytes that remain, rejects ext types, the reserved byte
    0xc1, non-string map keys and duplicate keys at any depth, and checks the
    required fields and their types. It never asserts on input.
*/
#ifndef PROTO_ENVELOPE_H_INCLUDED
#define PROTO_ENVELOPE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROTO_VERSION 1
//  Frame limits, stated once (proto/PROTOCOL.md, "Frame limits"):
//  - PROTO_MAX_FRAME: the largest envelope the decoder accepts and the
//    largest any attune sender encodes (1 MiB). A frame of 1 MiB + 1 byte
//    or more is refused `too_large` by the decoder.
//  - PROTO_MAX_SOCKET_MSG: ZMQ_MAXMSGSIZE of every attune socket (1 MiB +
//    4 KiB of slack, so that a frame just over PROTO_MAX_FRAME still
//    arrives and is answered `too_large` instead of silently cutting the
//    connection). Above it libzmq drops the connection: no answer.
#define PROTO_MAX_FRAME      (1024 * 1024) //  default decode limit, bytes
#define PROTO_FRAME_SLACK    4096          //  socket limit above the decode limit
#define PROTO_MAX_SOCKET_MSG ((int64_t)PROTO_MAX_FRAME + PROTO_FRAME_SLACK)
#define PROTO_MAX_DEPTH      16  //  maximum container nesting
#define PROTO_MAX_TYPE       128 //  longest message type, bytes
#define PROTO_MAX_SOURCE     256 //  longest source, bytes
#define PROTO_MAX_TRACE      256 //  longest trace id, bytes
#define PROTO_UUID_SIZE      16
#define PROTO_UUID_STR_SIZE  37 //  36 characters + NUL

//  Where a client finds attune by default (PROTOCOL.md, "API"): the api's
//  requests and its fact proxy. Every tool's default is these.
#define PROTO_API_ENDPOINT   "tcp://127.0.0.1:5570"
#define PROTO_FACTS_ENDPOINT "tcp://127.0.0.1:5571"

//  The runner types an action may name (`runner_type`), which are also the
//  runtimes a worker offers by default (`worker.register` `runtimes`);
//  proto_runner_known (proto_messages.h) checks a name against it.
#define PROTO_RUNNERS                                                                    \
    "noop,builtin,local-shell-cmd,local-shell-script,python-script,http-request,"        \
    "remote-shell-cmd,remote-shell-script,inquirer,announcement,nodejs"

//  Error codes: every decode failure has its own.
typedef enum {
    PROTO_OK = 0,
    PROTO_ERR_EMPTY,         //  zero-length frame
    PROTO_ERR_TOO_LARGE,     //  frame larger than the configured limit
    PROTO_ERR_TRUNCATED,     //  data ends inside a value
    PROTO_ERR_LENGTH,        //  declared length/count exceeds the bytes remaining
    PROTO_ERR_TOO_DEEP,      //  nesting deeper than the limit
    PROTO_ERR_RESERVED,      //  reserved byte 0xc1
    PROTO_ERR_EXT,           //  ext / fixext / timestamp type
    PROTO_ERR_KEY_TYPE,      //  a map key that is not a string
    PROTO_ERR_DUP_KEY,       //  the same key twice in one map
    PROTO_ERR_NOT_MAP,       //  envelope (or payload) is not a map
    PROTO_ERR_TRAILING,      //  bytes left after the envelope
    PROTO_ERR_MISSING,       //  a required field is absent
    PROTO_ERR_FIELD_TYPE,    //  a field has the wrong type or size
    PROTO_ERR_UNKNOWN_FIELD, //  an envelope key that is not in the spec
    PROTO_ERR_VERSION,       //  unsupported protocol version
    PROTO_ERR_NOMEM,         //  allocation failed
    PROTO_ERR_JSON,          //  value cannot be converted to/from JSON
    PROTO_ERR_COUNT
} proto_code_t;

//  Where a decode or conversion failed, and why. `message` reads like
//  "payload.params.n: declared str32 length 4294967295 exceeds the 3 bytes
//  remaining at offset 57".
typedef struct {
    proto_code_t code;
    size_t offset; //  byte offset in the frame where it failed
    char message[256];
} proto_error_t;

//  Decoder limits. Zero in a field means "use the default".
typedef struct {
    size_t max_frame; //  PROTO_MAX_FRAME by default
    int max_depth;    //  PROTO_MAX_DEPTH by default; never above it
} proto_limits_t;

typedef struct _proto_envelope_t proto_envelope_t;

//  Short stable name of a code ("truncated", "too_deep", ...), used in
//  error replies on the wire.
const char *proto_code_name (proto_code_t code);
//  A sentence describing the code.
const char *proto_strerror (proto_code_t code);

//  ---------------------------------------------------------------------------
//  Construction

//  New envelope of the given type and source, with a fresh random id,
//  ts = now, v = PROTO_VERSION, corr and trace nil, retry 0, an empty payload.
//  Returns NULL if type or source is empty or too long. Caller owns it.
proto_envelope_t *proto_envelope_new (const char *type, const char *source);
//  The same with a payload this process packed itself (as
//  proto_envelope_set_payload_packed), held in the envelope's own
//  allocation: one allocation in all, for an actor's hot path.
proto_envelope_t *proto_envelope_new_packed (const char *type, const char *source,
                                             const void *payload, size_t size);

//  Destroy an envelope; safe on NULL; clears the caller's pointer.
void proto_envelope_destroy (proto_envelope_t **self_p);

//  Deep copy. Caller owns the result; NULL on allocation failure.
proto_envelope_t *proto_envelope_dup (const proto_envelope_t *self);

//  ---------------------------------------------------------------------------
//  Fields

unsigned proto_envelope_version (const proto_envelope_t *self);
const uint8_t *proto_envelope_id (const proto_envelope_t *self); //  16 bytes
void proto_envelope_set_id (proto_envelope_t *self, const uint8_t id[PROTO_UUID_SIZE]);
const char *proto_envelope_type (const proto_envelope_t *self);
int proto_envelope_set_type (proto_envelope_t *self, const char *type); //  -1 if bad
const char *proto_envelope_source (const proto_envelope_t *self);
int proto_envelope_set_source (proto_envelope_t *self, const char *source);
int64_t proto_envelope_ts (const proto_envelope_t *self);
void proto_envelope_set_ts (proto_envelope_t *self, int64_t ts_usec);
//  Correlation id: 16 bytes, or NULL when nil.
const uint8_t *proto_envelope_corr (const proto_envelope_t *self);
void proto_envelope_set_corr (proto_envelope_t *self, const uint8_t *corr_or_null);
//  Trace id, or NULL when nil.
const char *proto_envelope_trace (const proto_envelope_t *self);
int proto_envelope_set_trace (proto_envelope_t *self, const char *trace_or_null);
uint64_t proto_envelope_retry (const proto_envelope_t *self);
void proto_envelope_set_retry (proto_envelope_t *self, uint64_t retry);

//  ---------------------------------------------------------------------------
//  Payload: always a msgpack map with string keys.

//  The payload's msgpack bytes (a map). Valid until the payload changes.
const uint8_t *proto_envelope_payload (const proto_envelope_t *self, size_t *size);

//  Replace the payload with a copy of `data` (msgpack). The bytes are validated
//  like a received frame (must be one map, bounded, no ext, string keys, no
//  duplicates). Returns PROTO_OK or an error code, filling `error` if given.
proto_code_t proto_envelope_set_payload (proto_envelope_t *self, const void *data,
                                         size_t size, proto_error_t *error);
//  The check proto_envelope_set_payload makes, alone: `data` is fit to be a
//  payload (for proto_envelope_encode_with).
proto_code_t proto_payload_check (const void *data, size_t size, proto_error_t *error);

//  The same for a map this process packed itself with msgpack_pack_* (string
//  keys, no duplicates, depth below PROTO_MAX_DEPTH): copied without being
//  validated again (debug builds assert it). For an actor's hot path only;
//  bytes from outside go through proto_envelope_set_payload. 0, or -1 when
//  out of memory.
int proto_envelope_set_payload_packed (proto_envelope_t *self, const void *data,
                                       size_t size);

//  The payload as a msgpack object (type MSGPACK_OBJECT_MAP), unpacked on
//  first use into a zone the envelope owns. Valid until the payload changes
//  or the envelope is destroyed.
const msgpack_object *proto_envelope_payload_object (proto_envelope_t *self);

//  Replace the payload with the msgpack form of a JSON object.
proto_code_t proto_envelope_set_payload_json (proto_envelope_t *self,
                                              const json_t *object, proto_error_t *error);

//  The payload as a new JSON object. Caller owns it (json_decref). NULL with
//  `error` filled when a value has no JSON form.
json_t *proto_envelope_payload_json (proto_envelope_t *self, proto_error_t *error);

//  ---------------------------------------------------------------------------
//  Codec

//  Append the envelope's msgpack encoding to `buffer` (reuse one sbuffer per
//  actor: msgpack_sbuffer_clear between messages). Returns 0, or -1 when out
//  of memory.
int proto_envelope_encode (const proto_envelope_t *self, msgpack_sbuffer *buffer);
//  The same with `payload` in place of the envelope's own (a map packed by
//  this process, or checked with proto_payload_check): the envelope's
//  fields around bytes the caller holds, with no copy into the envelope.
int proto_envelope_encode_with (const proto_envelope_t *self, const void *payload,
                                size_t size, msgpack_sbuffer *buffer);

//  Decode one envelope from a frame of `size` bytes. `limits` may be NULL for
//  the defaults. Returns a new envelope (caller owns it), or NULL with `error`
//  (if given) saying what, where and why. Allocation is bounded by a small
//  multiple of `size`.
proto_envelope_t *proto_envelope_decode (const void *data, size_t size,
                                         const proto_limits_t *limits,
                                         proto_error_t *error);

//  Validate that `data` holds exactly one msgpack value obeying the envelope
//  rules (bounded lengths, depth, no ext, string keys, no duplicate keys).
//  `path` names the value in error messages ("payload"). Returns PROTO_OK or
//  an error code, filling `error` if given.
proto_code_t proto_msgpack_validate (const void *data, size_t size, int max_depth,
                                     const char *path, proto_error_t *error);

//  The whole envelope as JSON (ids as canonical UUID strings, ts as an
//  integer, payload converted): what the probe prints. Caller owns it.
json_t *proto_envelope_to_json (proto_envelope_t *self, proto_error_t *error);

//  ---------------------------------------------------------------------------
//  Helpers

//  Current time in microseconds since the Unix epoch.
int64_t proto_now_usec (void);

//  Fill `id` with a time-ordered (version 7, RFC 9562) UUID: 48 bits of
//  Unix time in ms, then random bits; ids a thread makes keep increasing.
void proto_uuid_generate (uint8_t id[PROTO_UUID_SIZE]);

//  Format a UUID as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into `out`.
void proto_uuid_format (const uint8_t id[PROTO_UUID_SIZE], char out[PROTO_UUID_STR_SIZE]);

//  Fill `id` with the name-based UUID (version 5, RFC 9562: SHA-1 of the
//  namespace `ns` then `name`) of `name` in `ns`: the same pair, the same id,
//  so a request derived from what it is about is idempotent across restarts
//  (the workflow engine: a child's request from (workflow id, task key)).
void proto_uuid_derive (const uint8_t ns[PROTO_UUID_SIZE], const char *name,
                        uint8_t id[PROTO_UUID_SIZE]);

//  Parse a canonical UUID string (also accepts 32 hex digits). Returns 0 or -1.
int proto_uuid_parse (const char *text, uint8_t id[PROTO_UUID_SIZE]);

//  Look up `key` in a msgpack map object; NULL when absent or not a map.
const msgpack_object *proto_map_get (const msgpack_object *map, const char *key);

//  Copy a msgpack str object into a new NUL-terminated string (caller frees);
//  NULL if `obj` is not a str or holds a NUL byte.
char *proto_str_dup (const msgpack_object *obj);

#ifdef __cplusplus
}
#endif

#endif
