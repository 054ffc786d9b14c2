/*  http_internal: the gateway's shared state and request helpers, used by
    http.c (the actor and MHD), http_routes.c (the route table, dispatch
    and the OpenAPI document), http_rest.c (REST resources), http_hooks.c
    (webhooks) and http_stream.c (the event stream). Not for use outside
    actors/http/.
*/
#ifndef HTTP_INTERNAL_H_INCLUDED
#define HTTP_INTERNAL_H_INCLUDED

#include "actors/http/http.h"
#include "actors/http/http_keys.h"
#include "bus/bus_client.h"
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

//  One connection: its api client, made by its own thread when first needed,
//  and what the deadline watch needs (http_conns.c)
typedef struct http_conn_s {
    bus_client_t *client;
    int fd;
    atomic_int_fast64_t receiving_since; //  zclock_mono ms; 0: being answered
    bool cut;                            //  shut down by the watch
    struct http_conn_s *prev, *next;     //  the server's list, under its lock
} http_conn_t;

//  What every connection thread reads (set before MHD starts)
typedef struct {
    char api[512];    //  api.requests, to connect to
    char facts[512];  //  api.facts, to subscribe to
    char source[300]; //  "http@host"
    http_keys_t *keys;
    size_t max_body;
    atomic_bool stopping;
    atomic_uint_fast64_t requests, faults, streams, cut;
    //  Open connections (http_conns.c)
    pthread_mutex_t conns_lock;
    http_conn_t *conns;
    size_t conns_open;
    //  The webhook triggers of the enabled rules, cached (http_hooks.c)
    pthread_mutex_t hooks_lock;
    json_t *hooks;
    int64_t hooks_at;
    uint64_t hooks_generation;
} http_server_t;

#define HTTP_MAX_PARAMS 2

//  One request (MHD's con_cls)
typedef struct {
    http_server_t *server;
    struct MHD_Connection *connection;
    http_conn_t *conn;
    const char *method;
    const char *url;
    char *body; //  NUL-terminated
    size_t body_size;
    bool too_large;
    bool public_route;
    char key_name[80]; //  the API key's name and role, once checked
    char role[16];
    const char *identity; //  for the api when there is no key (else apikey:NAME)
    char params[HTTP_MAX_PARAMS][512]; //  the route's {params}, decoded
    const struct http_route_s *route;  //  the route matched (http_route_match)
    //  The answer: a status and JSON body, or a response made by the handler
    int status;
    json_t *reply;
    json_t *headers; //  extra headers: name -> str
    struct MHD_Response *response;
} http_req_t;

typedef void (http_handler_fn) (http_req_t *req);

//  A collection of records served by http_rest_resource_list/_get (http_rest.c)
typedef struct http_rest_resource_s http_rest_resource_t;

typedef struct http_route_s {
    const char *method;
    const char *path; //  "/api/v1/executions/{id}"; a last {x+} takes the rest
    http_handler_fn *fn;
    const char *summary;
    bool public_route; //  no API key needed
    bool key_optional; //  no key: the handler decides (req->role empty)
    const http_rest_resource_t *resource; //  what a http_rest_resource_* handler serves
} http_route_t;

//  http_conns.c: open connections and the request deadline. A connection
//  has HTTP_REQUEST_DEADLINE_S to deliver each whole request (from its
//  opening, or from the previous answer); one that has not is shut down,
//  however steadily it trickles. Near HTTP_MAX_CONNECTIONS, each new
//  connection shuts the one waiting longest for its request first.
void http_conns_open (http_server_t *server, http_conn_t *conn, int fd);
void http_conns_close (http_server_t *server, http_conn_t *conn);
//  Mark the connection's request whole (receiving: false) or awaited (true)
void http_conns_receiving (http_conn_t *conn, bool receiving);
//  Shut every connection past the deadline (the actor's timer)
void http_conns_watch (http_server_t *server);

//  http_routes.c
extern const http_route_t http_routes[];
//  Find the route of `method` `url`, params copied into req. NULL: none
//  (*path_known tells a 405 from a 404).
const http_route_t *http_route_match (http_req_t *req, bool *path_known);
//  The OpenAPI 3 document of http_routes (caller owns it)
json_t *http_openapi (void);

//  Answer an error: {"faultstring": ...}
void http_fault (http_req_t *req, int status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Answer `reply` (taken) with `status`
void http_reply (http_req_t *req, int status, json_t *reply);
//  An extra response header
void http_header (http_req_t *req, const char *name, const char *value);
//  A query argument, or NULL
const char *http_query (http_req_t *req, const char *name);
//  The body as JSON (caller owns it), or NULL after answering 400
json_t *http_body_json (http_req_t *req);
//  Call the api on behalf of the request's key (api.delegate): the result
//  (caller owns it), or NULL after answering the api's error as HTTP
json_t *http_api (http_req_t *req, const char *type, json_t *payload);
//  The connection's api client (made on first use), or NULL
bus_client_t *http_client (http_req_t *req);
//  HTTP status for an api error code
int http_status_of (const char *code);

//  A list answered as st2api does (limit, offset; X-Limit, X-Total-Count),
//  read with api `type` (payload taken) following the api's `cursor`
typedef json_t *(http_shape_fn)(json_t *item);
void http_rest_list (http_req_t *req, const char *type, json_t *payload,
                     const char *cursor, http_shape_fn *shape);

//  The collections served alike: GET /{collection} lists one as st2api
//  does (its query filters, limit and offset), GET /{collection}/{key}
//  gets one record; the route's `resource` says which
extern const http_rest_resource_t http_rest_executions, http_rest_actions,
    http_rest_triggertypes, http_rest_triggerinstances, http_rest_inquiries,
    http_rest_packs, http_rest_policies;
void http_rest_resource_list (http_req_t *req);
void http_rest_resource_get (http_req_t *req);

//  http_rest.c: the resources; http_hooks.c: webhooks; http_stream.c
void http_rest_execution_run (http_req_t *req);
void http_rest_execution_get (http_req_t *req);
void http_rest_execution_cancel (http_req_t *req);
void http_rest_execution_rerun (http_req_t *req);
void http_rest_execution_output (http_req_t *req);
void http_rest_execution_children (http_req_t *req);
void http_rest_rules (http_req_t *req);
void http_rest_rule_get (http_req_t *req);
void http_rest_rule_create (http_req_t *req);
void http_rest_rule_update (http_req_t *req);
void http_rest_rule_delete (http_req_t *req);
void http_rest_inquiry_respond (http_req_t *req);
void http_rest_openapi (http_req_t *req);
void http_kv_list (http_req_t *req);
void http_kv_get (http_req_t *req);
void http_kv_put (http_req_t *req);
void http_kv_delete (http_req_t *req);
void http_hooks_st2 (http_req_t *req);
void http_hooks_url (http_req_t *req);
//  Forget the cached webhook triggers (a rule changed through the gateway)
void http_hooks_forget (http_server_t *server);
void http_stream (http_req_t *req);
void http_page (http_req_t *req);
//  http_metrics.c: GET /metrics (a key, or loopback without one)
void http_metrics (http_req_t *req);

//  StackStorm's shapes (http_shapes.c)
json_t *http_shape_execution (json_t *execution);
const char *http_status_to_st2 (const char *status);
const char *http_status_from_st2 (const char *status);
void http_iso_time (json_t *usec, char *out, size_t size);

#endif
