/*  http_request: one request's helpers (http_internal.h): answers, query
    arguments, the JSON body, and calls to the api on behalf of its key.
*/
#include "actors/http/http_internal.h"

#include <stdarg.h>

void
http_reply (http_req_t *req, int status, json_t *reply)
{
    json_decref (req->reply);
    req->status = status;
    req->reply = reply;
}

void
http_fault (http_req_t *req, int status, const char *format, ...)
{
    char message[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    atomic_fetch_add (&req->server->faults, 1);
    http_reply (req, status, json_pack ("{s:s}", "faultstring", message));
}

void
http_header (http_req_t *req, const char *name, const char *value)
{
    if (!req->headers)
        req->headers = json_object ();
    json_object_set_new (req->headers, name, json_string (value));
}

const char *
http_query (http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value (req->connection, MHD_GET_ARGUMENT_KIND, name);
}

json_t *
http_body_json (http_req_t *req)
{
    if (!req->body || req->body_size == 0) {
        http_fault (req, 400, "a JSON body is required");
        return NULL;
    }
    json_error_t error;
    //  Bounded: the body is at most the body limit, jansson nests at most
    //  2048 deep; duplicate keys are refused
    json_t *body = json_loadb (req->body, req->body_size, JSON_REJECT_DUPLICATES, &error);
    if (!body) {
        http_fault (req, 400, "the body is not JSON: line %d, column %d: %s", error.line,
                    error.column, error.text);
        return NULL;
    }
    return body;
}

int
http_status_of (const char *code)
{
    static const struct {
        const char *code;
        int status;
    } map[] = {{"not_found", 404},   {"bad_request", 400}, {"invalid", 400},
               {"forbidden", 403},   {"conflict", 409},    {"expired", 409},
               {"too_large", 413},   {"unavailable", 503}, {"interrupted", 503},
               {"unknown_type", 501}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (streq (code, map[i].code))
            return map[i].status;
    return 500;
}

bus_client_t *
http_client (http_req_t *req)
{
    if (req->conn->client)
        return req->conn->client;
    bus_client_t *client = bus_client_new (req->server->source);
    if (client && bus_client_connect (client, req->server->api) != 0)
        bus_client_destroy (&client);
    req->conn->client = client;
    return client;
}

json_t *
http_api (http_req_t *req, const char *type, json_t *payload)
{
    bus_client_t *client = http_client (req);
    if (!client) {
        json_decref (payload);
        http_fault (req, 503, "the api at %s cannot be reached", req->server->api);
        return NULL;
    }
    char identity[100];
    snprintf (identity, sizeof identity, "%s%s", req->identity ? "" : "apikey:",
              req->identity ? req->identity : req->key_name);
    json_t *wrapper = json_pack ("{s:s, s:o, s:s, s:s}", "type", type, "payload",
                                 payload ? payload : json_object (), "identity", identity,
                                 "role", req->role);
    json_t *result = bus_client_request (client, "api.delegate", &wrapper);
    if (result && strncmp (type, "api.rule.", 9) == 0 && !streq (type, "api.rule.list") &&
        !streq (type, "api.rule.get"))
        http_hooks_forget (req->server);
    if (!result)
        http_fault (req, http_status_of (bus_client_code (client)), "%s",
                    bus_client_message (client));
    return result;
}
