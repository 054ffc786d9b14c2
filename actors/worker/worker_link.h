/*  worker_link: the worker's side of the executor link, written once for
    every actor that takes executions from the executor as a worker does
    (the worker, actors/worker; the workflow engine, actors/workflow):
    proto/PROTOCOL.md, "Pipeline messages" and "Workers".

    It binds the worker's endpoint (`worker.<name>`, a bus_inbox that takes
    commands from the executor only) and connects a bus_link to
    `executor.commands`; builds `worker.register`; checks each command to a
    worker against its row of the message table; encodes reports (a result
    that cannot travel is replaced by one saying why) and sends them through
    an outbox that waits for the link's window, so the loop never blocks.
*/
#ifndef WORKER_LINK_H_INCLUDED
#define WORKER_LINK_H_INCLUDED

#include "actors/actor.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Payload bytes of a report at most: far below the frame limit.
#define WORKER_LINK_MAX_REPORT (960 * 1024)

//  What worker_link_open makes.
typedef struct {
    bus_inbox_t *inbox;   //  worker.<name>: the executor's commands
    bus_link_t *link;     //  to executor.commands
    char endpoint[512];   //  the address the executor reaches the inbox at
    int64_t silence_ms;   //  heartbeat x liveness
    int64_t heartbeat_ms; //  the link's heartbeat
} worker_link_t;

//  Bind the inbox of worker `name` and connect the link to the executor
//  (`source` names the sender). 0, or -1 (logged); what was made is in
//  `out` either way, for worker_link_close.
int worker_link_open (const actor_config_t *config, const char *name, const char *source,
                      worker_link_t *out);

//  Close what worker_link_open made. Safe twice.
void worker_link_close (worker_link_t *self);

//  worker.register {worker, instance, endpoint, runtimes (a comma or space
//  list), slots, executions: `held` (taken), draining, curve_key when the
//  inbox is CURVE}. Caller owns it.
json_t *worker_link_register_payload (worker_link_t *self, const char *name,
                                      uint64_t instance, const char *runtimes, int slots,
                                      json_t *held, bool draining);

//  The payload of a command to a worker, checked against its row of the
//  message table (and for a JSON form), or NULL after a reject (the
//  executor gets an ERR; logged as `name`).
const msgpack_object *worker_link_checked (const char *name, proto_envelope_t *command,
                                           bus_command_t *info);

//  An envelope of `type` from `source` with `payload` (taken). A `result`
//  that cannot be encoded or makes the payload larger than
//  WORKER_LINK_MAX_REPORT is replaced by {error: why}. NULL on failure
//  (logged as `source`).
proto_envelope_t *worker_link_envelope (const char *source, const char *type,
                                        json_t *payload);

//  Send what `outbox` (proto_envelope_t, taken as sent) holds while the
//  link has window.
void worker_link_flush (worker_link_t *self, zlist_t *outbox);

#ifdef __cplusplus
}
#endif

#endif
