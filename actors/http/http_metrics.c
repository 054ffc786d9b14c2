/*  http_metrics: GET /metrics, the Prometheus text of api.metrics
    (http_internal.h; proto/PROTOCOL.md, "Metrics"). With an API key (any
    role: api.metrics needs viewer) as every other route; without one, only
    from a loopback address (a scraper on the gateway's host), delegated as
    identity `metrics@loopback` with the role viewer.
*/
#include "actors/http/http_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>

//  Whether the request's client connected from a loopback address
static bool
s_from_loopback (http_req_t *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (req->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *address = info ? info->client_addr : NULL;
    if (address && address->sa_family == AF_INET)
        return (ntohl (((const struct sockaddr_in *)address)->sin_addr.s_addr) >> 24) ==
               127;
    if (address && address->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)address)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK (a6) ||
               (IN6_IS_ADDR_V4MAPPED (a6) && a6->s6_addr[12] == 127);
    }
    return false;
}

void
http_metrics (http_req_t *req)
{
    if (!req->role[0]) { //  no key (key_optional): loopback only
        if (!s_from_loopback (req)) {
            http_fault (req, 401,
                        "Unauthorized - /metrics needs an API key from a host that is "
                        "not the gateway's.");
            return;
        }
        req->identity = "metrics@loopback";
        snprintf (req->role, sizeof req->role, "viewer");
    }
    json_t *result = http_api (req, "api.metrics", NULL);
    if (!result)
        return;
    const char *text = json_string_value (json_object_get (result, "text"));
    char *copy = strdup (text ? text : "");
    json_decref (result);
    req->response =
        MHD_create_response_from_buffer (strlen (copy), copy, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header (req->response, "Content-Type",
                             "text/plain; version=0.0.4; charset=utf-8");
    req->status = 200;
}
