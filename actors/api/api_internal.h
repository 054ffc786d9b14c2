/*  api_internal: the api actor's state, shared by its two files: api.c (the
    actor: sockets, requests in flight, forwarding, replies) and
    api_request.c (each operation: checked against the message table, then
    handled or forwarded). Not for use outside actors/api/.
*/
#ifndef API_INTERNAL_H_INCLUDED
#define API_INTERNAL_H_INCLUDED

#include "actors/actor_loop.h"
#include "actors/api/api_roles.h"
#include "bus/bus_link.h"
#include "proto/proto_envelope.h"
#include <czmq.h>
#include <jansson.h>

#define API_TIMEOUT_MS        5000    //  a request not answered by then: unavailable
#define API_PACK_TIMEOUT_MS   300000  //  api.pack.install/remove/reload (git, pip)
#define API_PURGE_TIMEOUT_MS  3600000 //  api.purge: answered when done
#define API_STATUS_TIMEOUT_MS 1000    //  an actor silent this long on api.status is down

typedef enum {
    API_REGISTRY = 0,
    API_RULES,
    API_EXECUTOR,
    API_DATASTORE,
    API_SENSOR,
    API_OWNERS,                //  the owners of requests (forwarded, api.status)
    API_WORKFLOW = API_OWNERS, //  the workflow engine: store.backup only
    API_QUERY_ENDPOINTS        //  every <owner>.query the api connects to
} api_owner_t;
extern const char *api_owner_names[API_QUERY_ENDPOINTS];

typedef struct _api_status_t api_status_t;
typedef struct _api_backup_t api_backup_t;

#define API_BACKUP_STEP_MS (10 * 60 * 1000) //  one store's copy, at most

typedef struct {
    zframe_t *identity;               //  the client
    bool delimiter;                   //  a REQ client: reply with an empty frame first
    uint8_t request[PROTO_UUID_SIZE]; //  the client's request id (corr of the reply)
    int64_t deadline;                 //  monotonic ms
    json_t *on_ack;                   //  commands: the result sent when acked
    json_t *sync;                     //  ... after rules.sync {sync} answers
    api_status_t *status;             //  api.status parts: the aggregate
    int owner;                        //  api.status parts: which actor
    api_backup_t *backup;             //  api.backup: the copy under way
} api_pending_t;

struct _api_status_t {
    zframe_t *identity;
    bool delimiter;
    uint8_t request[PROTO_UUID_SIZE];
    json_t *actors; //  name -> status
    int remaining;
    bool metrics; //  api.metrics: the parts are metrics.get answers (api_metrics.c)
};

typedef struct {
    zsock_t *pipe;
    actor_loop_t *loop;
    char source[300];
    zsock_t *front; //  ROUTER api.requests
    zsock_t *xpub;  //  api.facts
    zsock_t *xsub;
    zsock_t *owners[API_QUERY_ENDPOINTS]; //  DEALER to <owner>.query
    bus_link_t *registry_link;            //  registry.commands
    bus_link_t *rules_link;               //  rules.commands
    zhashx_t *pending;                    //  hex id -> api_pending_t
    char endpoint[512];                   //  api.requests as bound
    char facts_endpoint[512];             //  api.facts as bound
    bool curve;                           //  api.requests is CURVE: roles apply
    api_roles_t *roles;                   //  who may do what (when curve)
    msgpack_sbuffer buffer;
    char data_dir[1024];  //  the data directory (api.backup: http keys)
    api_backup_t *backup; //  api.backup under way (one at a time)
    bool sensor_here;     //  sensor.query is inproc: the sensor actor is here
    int64_t expire_at;    //  monotonic ms of the next deadline scan
    uint64_t requests, replies, errors, malformed, forwarded_facts;
    uint64_t dropped; //  replies a client was not there (or not reading) to take
} api_t;

//  Answer a client: result (taken) or, when `code` is set, an error.
void api_answer (api_t *self, zframe_t *identity, bool delimiter, const uint8_t *corr,
                 json_t *result, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 7, 8)));

//  A request in flight, keyed by the id the api sent on; answered by
//  `timeout_ms` at the latest (`unavailable`).
api_pending_t *api_pending_new (api_t *self, const uint8_t key[PROTO_UUID_SIZE],
                                zframe_t *identity, bool delimiter,
                                const uint8_t request[PROTO_UUID_SIZE], int timeout_ms);

//  One owner's part of api.status (result taken; NULL: it is down).
void api_status_part_done (api_t *self, api_status_t *status, int owner, json_t *result);

//  api.metrics (api_metrics.c): every owner asked for metrics.get, as
//  api.status asks (the same parts, api_status_part_done); once all
//  answered or timed out, one Prometheus text.
void api_metrics_start (api_t *self, zframe_t *identity, bool delimiter,
                        const uint8_t request[PROTO_UUID_SIZE]);
//  Every part in: render and answer (frees `status`).
void api_metrics_finish (api_t *self, api_status_t *status);

//  Ask every owner for `type` {}: the parts of `status`, each answered
//  within API_STATUS_TIMEOUT_MS (or done as down).
void api_status_ask (api_t *self, api_status_t *status, const char *type);

//  api.backup {dir} (api_backup.c): copy every store, one at a time, in
//  the order PROTOCOL.md ("Backup") gives, then write the manifest.
void api_backup_start (api_t *self, zframe_t *identity, bool delimiter,
                       const uint8_t request[PROTO_UUID_SIZE], const char *dir);
//  An owner's answer to store.backup (`reply`: its payload, NULL when it
//  did not answer in time; `error`: an api.error): on to the next store.
void api_backup_part_done (api_t *self, api_backup_t *backup, json_t *reply, bool error);
//  Forget a backup under way (the api stopping).
void api_backup_destroy (api_t *self);

//  Send `request` (a copy, with a fresh id; payload replaced by
//  `payload_override` when given) to an owner's query endpoint. The
//  request in flight (its deadline may be moved), or NULL when answered.
api_pending_t *api_forward_query (api_t *self, int owner, proto_envelope_t *request,
                                  zframe_t *identity, bool delimiter,
                                  json_t *payload_override);

//  Send a command over a link, answered with `on_ack` (taken) once acked;
//  with `sync` (taken, may be NULL), only once the rules actor has also
//  applied the change (rules.sync {sync} on rules.query).
void api_forward_command (api_t *self, bus_link_t *link, const char *owner,
                          const char *type, json_t *payload, proto_envelope_t *request,
                          zframe_t *identity, bool delimiter, json_t *on_ack,
                          json_t *sync);

//  Handle one decoded request (api_request.c). `caller` is the client's
//  cert on a CURVE front, else NULL.
void api_request (api_t *self, proto_envelope_t *request, zframe_t *identity,
                  bool delimiter, const api_caller_t *caller);

#endif
