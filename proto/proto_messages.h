/*  proto_messages: every message type attune speaks, defined once.

    One table (proto_messages.c), one row per message type: its name, its
    kind (command, fact, request, reply), who sends it and where to, and its
    payload fields (name, msgpack type, required or optional, nil allowed,
    limits, and for a map the fields inside it). Decoders check a payload
    against its row with proto_message_validate instead of by hand, and
    tests/test_proto_messages.c checks that proto/PROTOCOL.md's registry
    tables list exactly the types of this table, with their fields: the
    table, the decoders and the page cannot drift apart (as Malamute's
    mlm_proto.xml is the one source of its codec).

    The validator works on a payload the envelope decoder has already
    bounded (proto_envelope.h): it walks the table, not the data, so its
    cost is the number of fields described plus the elements of the arrays
    it checks. Payload fields the table does not name are allowed: readers
    ignore fields they do not know (PROTOCOL.md, "Versioning").
*/
#ifndef PROTO_MESSAGES_H_INCLUDED
#define PROTO_MESSAGES_H_INCLUDED

#include "proto/proto_envelope.h"

#ifdef __cplusplus
extern "C" {
#endif

//  True when `runner` is one of PROTO_RUNNERS.
bool proto_runner_known (const char *runner);

//  Kinds, as flags so that a lookup can accept several
typedef enum {
    PROTO_MESSAGE_COMMAND = 1, //  over a reliable link; must not be lost
    PROTO_MESSAGE_FACT = 2,    //  published; what happened
    PROTO_MESSAGE_REQUEST = 4, //  one frame to a ROUTER, answered by a reply
    PROTO_MESSAGE_REPLY = 8,   //  the answer to a request (corr = its id)
    PROTO_MESSAGE_ANY = 15
} proto_message_kind_t;

//  Field types (msgpack)
typedef enum {
    PROTO_FIELD_ANY = 0, //  any value
    PROTO_FIELD_STR,     //  str; limits are its length in bytes
    PROTO_FIELD_UUID,    //  str holding a canonical UUID
    PROTO_FIELD_INT,     //  any integer; limits are its value
    PROTO_FIELD_UINT,    //  a non-negative integer; limits are its value
    PROTO_FIELD_NUMBER,  //  integer or float
    PROTO_FIELD_BOOL,
    PROTO_FIELD_BIN,
    PROTO_FIELD_MAP,  //  `fields` (may be NULL) describe what it holds
    PROTO_FIELD_ARRAY //  of `items`; limits are its element count
} proto_field_type_t;

//  Field flags
#define PROTO_FIELD_REQUIRED 1 //  absent: `missing`
#define PROTO_FIELD_NULLABLE 2 //  nil is accepted as well as the type

//  Room for a field path in error messages ("payload.action.runner_type")
#define PROTO_MESSAGE_PATH_MAX 160

typedef struct _proto_field_t proto_field_t;
struct _proto_field_t {
    const char *name;            //  NULL ends a field list
    proto_field_type_t type;     //  the msgpack type
    unsigned flags;              //  PROTO_FIELD_*
    int64_t min, max;            //  limits: at least min; at most max unless max is 0
    proto_field_type_t items;    //  arrays: the elements' type
    const proto_field_t *fields; //  maps: the fields inside (NULL: any map)
    const char *about;           //  what it is, for `missing` (NULL: its type)
};

typedef struct {
    const char *type;            //  "event.create"
    proto_message_kind_t kind;   //  one kind (a type may have one row per kind)
    const char *from;            //  who sends it ("rules", "any", "api")
    const char *to;              //  logical endpoint, or who takes it
    const proto_field_t *fields; //  the payload; NULL-name terminated
} proto_message_t;

//  The row of `type` whose kind is one of `kinds` (flags), or NULL.
const proto_message_t *proto_message_lookup (const char *type, unsigned kinds);

//  Rows, for iteration: 0 ... proto_message_count () - 1.
size_t proto_message_count (void);
const proto_message_t *proto_message_at (size_t index);

//  Short name of a kind ("command", "fact", "request", "reply") and of a
//  field type ("str", "uint", ...).
const char *proto_message_kind_name (proto_message_kind_t kind);
const char *proto_field_type_name (proto_field_type_t type);

//  Check `payload` (a msgpack map object, as proto_envelope_payload_object
//  gives it) against `message`'s fields. PROTO_OK, or PROTO_ERR_NOT_MAP,
//  PROTO_ERR_MISSING (a required field is absent) or PROTO_ERR_FIELD_TYPE
//  (a field of the wrong type, or outside its limits), with `error` (if
//  given) naming the field by its path in the payload, as every actor's
//  messages do: "action.runner_type: expected str, got int",
//  "id: required (an execution id)".
proto_code_t proto_message_validate (const proto_message_t *message,
                                     const msgpack_object *payload, proto_error_t *error);

//  Look up the envelope's type among `kinds` and check its payload. An
//  unknown type is PROTO_ERR_UNKNOWN_FIELD ("type: no message 'x.y' of
//  this kind"). For a command handler or a request endpoint: one call in
//  place of checking each field by hand.
proto_code_t proto_envelope_validate (proto_envelope_t *envelope, unsigned kinds,
                                      proto_error_t *error);

#ifdef __cplusplus
}
#endif

#endif
