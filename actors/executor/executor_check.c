/*  executor_check: every command to the executor checked against its row in
    the message table (proto/proto_messages.c) before a handler reads it
    (executor_internal.h). */
#include "actors/executor/executor_internal.h"

const msgpack_object *
executor_check_command (executor_t *self, proto_envelope_t *command, bus_command_t *info)
{
    (void)self;
    const char *type = proto_envelope_type (command);
    //  Its row: the executor's own looked up once (the table is a list)
    static const char *const types[] = {"enforcement.create", "execution.status",
                                        "worker.register", "worker.draining",
                                        "execution.output"};
    static _Thread_local const proto_message_t *rows[5]; //  no lock: per thread
    const proto_message_t *message = NULL;
    for (size_t i = 0; i < 5 && !message; i++)
        if (streq (type, types[i])) {
            if (!rows[i])
                rows[i] = proto_message_lookup (types[i], PROTO_MESSAGE_COMMAND);
            message = rows[i];
        }
    if (!message || !streq (message->to, "executor.commands")) {
        zsys_warning ("executor: rejected '%s' from %s: the executor does not take it",
                      type, info->peer);
        bus_command_reject (info, "unknown_type", "the executor does not take '%s'",
                            type);
        return NULL;
    }
    const msgpack_object *payload = proto_envelope_payload_object (command);
    proto_error_t error;
    if (!payload)
        snprintf (error.message, sizeof error.message, "payload: out of memory");
    else if (proto_message_validate (message, payload, &error) == PROTO_OK &&
             proto_json_check (payload, "payload", &error) == PROTO_OK)
        return payload; //  else `error` names the field by its path
    zsys_warning ("executor: rejected %s from %s: %s", type, info->peer, error.message);
    bus_command_reject (info, "bad_request", "%s: %s", type, error.message);
    return NULL;
}
