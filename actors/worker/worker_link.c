/*  worker_link: the worker's side of the executor link (worker_link.h). */
#include "actors/worker/worker_link.h"
#include "bus/bus_security.h"
#include "proto/proto_json.h"
#include "proto/proto_messages.h"

#include <ctype.h>

//  The topology name of worker `name`'s endpoint. Names allow
//  [A-Za-z0-9_.-]: "worker@host" becomes "worker.worker_host"; a topology
//  that does not name it may give every worker of the process one address:
//  `worker` (deploy/worker.cfg).
static void
s_endpoint_name (const actor_config_t *config, const char *name, char *out, size_t size)
{
    snprintf (out, size, "worker.%s", name);
    for (char *p = out; *p; p++)
        if (!isalnum ((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            *p = '_';
    if (!bus_topology_listed (config->topology, out) &&
        bus_topology_listed (config->topology, "worker"))
        snprintf (out, size, "worker");
}

int
worker_link_open (const actor_config_t *config, const char *name, const char *source,
                  worker_link_t *out)
{
    memset (out, 0, sizeof *out);
    char endpoint_name[300];
    s_endpoint_name (config, name, endpoint_name, sizeof endpoint_name);
    const char *bind = bus_topology_bind (config->topology, endpoint_name);
    const char *connect = bus_topology_connect (config->topology, endpoint_name);
    if (!bind || !connect) {
        zsys_error ("%s: no endpoint for '%s'", name, endpoint_name);
        return -1;
    }
    bus_link_config_t link_config;
    actor_link_config (config, &link_config);
    out->silence_ms = (int64_t)link_config.liveness * link_config.heartbeat_ms;
    out->heartbeat_ms = link_config.heartbeat_ms;
    //  Commands from the executor only: over CURVE its key alone gets in,
    //  checked at the handshake and on every message (bus_link.h)
    link_config.executor_only = true;
    out->inbox = bus_inbox_new (bind, name, NULL, &link_config);
    if (!out->inbox) {
        zsys_error ("%s: cannot bind %s", name, bind);
        return -1;
    }
    //  With tcp://*:0 style binds the resolved endpoint is what peers need
    snprintf (out->endpoint, sizeof out->endpoint, "%s",
              strstr (connect, ":*") ? bus_inbox_endpoint (out->inbox) : connect);
    out->link =
        bus_link_new (bus_topology_connect (config->topology, "executor.commands"),
                      source, &link_config);
    return out->link ? 0 : -1;
}

void
worker_link_close (worker_link_t *self)
{
    bus_link_destroy (&self->link);
    bus_inbox_destroy (&self->inbox);
}

json_t *
worker_link_register_payload (worker_link_t *self, const char *name, uint64_t instance,
                              const char *runtimes, int slots, json_t *held,
                              bool draining)
{
    json_t *list = json_array ();
    char copy[256];
    snprintf (copy, sizeof copy, "%s", runtimes);
    for (char *save = NULL, *token = strtok_r (copy, ", ", &save); token;
         token = strtok_r (NULL, ", ", &save))
        json_array_append_new (list, json_string (token));
    json_t *payload = json_pack ("{s:s, s:I, s:s, s:o, s:i, s:o, s:b}", "worker", name,
                                 "instance", (json_int_t)(instance & INT64_MAX),
                                 "endpoint", self->endpoint, "runtimes", list, "slots",
                                 slots, "executions", held, "draining", draining);
    //  Its CURVE public key when its endpoint is a CURVE server
    //  (bus_security.h): the executor connects with it
    if (payload && self->inbox &&
        zsock_mechanism (bus_inbox_sock (self->inbox)) == ZMQ_CURVE &&
        bus_security_public_key ())
        json_object_set_new (payload, "curve_key",
                             json_string (bus_security_public_key ()));
    return payload;
}

const msgpack_object *
worker_link_checked (const char *name, proto_envelope_t *command, bus_command_t *info)
{
    const char *type = proto_envelope_type (command);
    //  Its row: a worker's own looked up once (the table is a list)
    static const char *const types[] = {
        "execution.dispatch", "execution.start",   "execution.refused",
        "execution.cancel",   "worker.reconciled", "worker.resync",
        "execution.pause",    "execution.resume"};       //  the last two: workflows
    static _Thread_local const proto_message_t *rows[8]; //  no lock: per thread
    const proto_message_t *message = NULL;
    for (size_t i = 0; i < 8 && !message; i++)
        if (streq (type, types[i])) {
            if (!rows[i])
                rows[i] = proto_message_lookup (types[i], PROTO_MESSAGE_COMMAND);
            message = rows[i];
        }
    const msgpack_object *payload = proto_envelope_payload_object (command);
    proto_error_t error;
    if (!message || !streq (message->to, "worker")) {
        zsys_warning ("%s: rejected '%s': a worker does not take it", name, type);
        bus_command_reject (info, "unknown_type", "a worker does not take '%s'", type);
        return NULL;
    }
    if (!payload)
        snprintf (error.message, sizeof error.message,
                  "payload: out of memory unpacking");
    else if (proto_message_validate (message, payload, &error) != PROTO_OK) {
        //  `error` names the field
    } else if (proto_json_check (payload, "payload", &error) == PROTO_OK)
        return payload;
    else {
        //  Rare: convert to get the message the conversion gives (its path)
        json_t *json = proto_json_from_msgpack (payload, "payload", &error);
        json_decref (json);
    }
    zsys_warning ("%s: rejected %s: %s", name, type, error.message);
    bus_command_reject (info, "bad_request", "%s: %s", type, error.message);
    return NULL;
}

proto_envelope_t *
worker_link_envelope (const char *source, const char *type, json_t *payload)
{
    proto_envelope_t *envelope = proto_envelope_new (type, source);
    proto_error_t error;
    proto_code_t code = envelope
                            ? proto_envelope_set_payload_json (envelope, payload, &error)
                            : PROTO_ERR_NOMEM;
    size_t size = 0;
    if (code == PROTO_OK)
        proto_envelope_payload (envelope, &size);
    if (envelope && json_object_get (payload, "result") &&
        (code != PROTO_OK || size > WORKER_LINK_MAX_REPORT)) {
        //  A status must always get out: a result that cannot travel is
        //  replaced by one that says why
        char reason[300];
        snprintf (reason, sizeof reason, "the result could not be reported: %s",
                  code != PROTO_OK ? error.message : "larger than the frame limit");
        json_object_set_new (payload, "result", json_pack ("{s:s}", "error", reason));
        code = proto_envelope_set_payload_json (envelope, payload, &error);
    }
    json_decref (payload);
    if (!envelope || code != PROTO_OK) {
        zsys_error ("%s: cannot encode %s: %s", source, type,
                    envelope ? error.message : "out of memory");
        proto_envelope_destroy (&envelope);
    }
    return envelope;
}

void
worker_link_flush (worker_link_t *self, zlist_t *outbox)
{
    while (zlist_size (outbox) && bus_link_can_send (self->link)) {
        proto_envelope_t *envelope = (proto_envelope_t *)zlist_pop (outbox);
        if (bus_link_send (self->link, &envelope) != 0) {
            zlist_push (outbox, envelope);
            break;
        }
    }
}
