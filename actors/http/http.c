/*  http: the HTTP gateway actor (http.h). libmicrohttpd serves, one thread
    per connection; each request is routed (http_routes.c), its API key
    checked here, and its handler calls the api through the connection's
    bus_client.
*/
#include "actors/http/http_internal.h"
#include "actors/actor_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>

typedef struct {
    zsock_t *pipe;
    actor_loop_t *loop;
    http_server_t server;
    struct MHD_Daemon *daemon;
    char address[300]; //  http(s)://HOST:PORT as bound
    char *tls_cert, *tls_key;
} s_http_t;

//  ---------------------------------------------------------------------------
//  Requests

//  The request's API key (header, else query), or NULL
static const char *
s_key (http_req_t *req)
{
    const char *key =
        MHD_lookup_connection_value (req->connection, MHD_HEADER_KIND, "St2-Api-Key");
    return key ? key : http_query (req, "st2-api-key");
}

//  The API key of the request: its name and role into req. False after
//  answering 401.
static bool
s_authenticate (http_req_t *req)
{
    const char *key = s_key (req);
    if (!key) {
        http_fault (req, 401, "Unauthorized - One of Token or API key required.");
        return false;
    }
    http_keys_code_t code =
        http_keys_check (req->server->keys, key, req->key_name, sizeof req->key_name,
                         req->role, sizeof req->role);
    if (code == HTTP_KEYS_DISABLED)
        http_fault (req, 401, "Unauthorized - API key is disabled.");
    else if (code != HTTP_KEYS_OK)
        http_fault (req, 401, "Unauthorized - ApiKey not found.");
    return code == HTTP_KEYS_OK;
}

static void
s_dispatch (http_req_t *req)
{
    atomic_fetch_add (&req->server->requests, 1);
    bool path_known = false;
    const http_route_t *route = http_route_match (req, &path_known);
    if (!route) {
        if (path_known)
            http_fault (req, 405, "The method %s is not allowed for %s", req->method,
                        req->url);
        else
            http_fault (req, 404, "The resource %s could not be found.", req->url);
        return;
    }
    req->public_route = route->public_route;
    bool keyless = route->public_route || (route->key_optional && !s_key (req));
    if (!keyless && !s_authenticate (req))
        return;
    route->fn (req);
    if (!req->reply && !req->response && req->status != 204)
        http_fault (req, 500, "%s %s: no answer", req->method, req->url);
}

static int
s_header_add (void *cls, const char *key, json_t *value)
{
    return MHD_add_response_header ((struct MHD_Response *)cls, key,
                                    json_string_value (value));
}

static enum MHD_Result
s_respond (http_req_t *req)
{
    struct MHD_Response *response = req->response;
    if (!response && req->status == 204)
        response =
            MHD_create_response_from_buffer (0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!response) {
        char *text = json_dumps (req->reply ? req->reply : json_null (),
                                 JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            return MHD_NO;
        response =
            MHD_create_response_from_buffer (strlen (text), text, MHD_RESPMEM_MUST_FREE);
        if (!response) {
            free (text);
            return MHD_NO;
        }
        MHD_add_response_header (response, "Content-Type", "application/json");
    }
    const char *key;
    json_t *value;
    json_object_foreach (req->headers, key, value) s_header_add (response, key, value);
    enum MHD_Result rc = MHD_queue_response (req->connection, req->status, response);
    MHD_destroy_response (response);
    req->response = NULL;
    return rc;
}

//  The body, kept up to the limit; past it only counted as too large
static void
s_body_append (http_req_t *req, const char *data, size_t size)
{
    if (req->too_large || req->body_size + size > req->server->max_body) {
        req->too_large = true;
        return;
    }
    char *grown = (char *)realloc (req->body, req->body_size + size + 1);
    if (!grown) {
        req->too_large = true;
        return;
    }
    req->body = grown;
    memcpy (req->body + req->body_size, data, size);
    req->body_size += size;
    req->body[req->body_size] = 0;
}

static http_req_t *
s_request_new (http_server_t *server, struct MHD_Connection *connection,
               const char *method, const char *url)
{
    http_req_t *req = (http_req_t *)zmalloc (sizeof (http_req_t));
    req->server = server;
    req->connection = connection;
    req->method = method;
    req->url = url;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->conn = info ? (http_conn_t *)info->socket_context : NULL;
    return req;
}

static enum MHD_Result
s_access (void *cls, struct MHD_Connection *connection, const char *url,
          const char *method, const char *version, const char *upload_data,
          size_t *upload_data_size, void **con_cls)
{
    http_server_t *server = (http_server_t *)cls;
    http_req_t *req = (http_req_t *)*con_cls;
    if (!req) {
        req = s_request_new (server, connection, method, url);
        *con_cls = req;
        if (!req->conn)
            return MHD_NO;
        const char *length =
            MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Content-Length");
        if (length && strtoull (length, NULL, 10) > server->max_body) {
            //  Refused before the body is read (MHD closes the connection)
            req->too_large = true;
            http_fault (req, 413, "the body is %s bytes, more than the limit of %zu",
                        length, server->max_body);
            return s_respond (req);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        s_body_append (req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->status)
        return MHD_YES; //  answered already (413)
    http_conns_receiving (req->conn, false);
    if (req->too_large)
        http_fault (req, 413, "the body is more than the limit of %zu bytes",
                    server->max_body);
    else
        s_dispatch (req);
    return s_respond (req);
}

static void
s_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    http_req_t *req = (http_req_t *)*con_cls;
    if (req) {
        //  The next request on this connection is awaited from now
        http_conns_receiving (req->conn, true);
        if (req->response)
            MHD_destroy_response (req->response);
        json_decref (req->reply);
        json_decref (req->headers);
        free (req->body);
        free (req);
        *con_cls = NULL;
    }
}

static void
s_notify (void *cls, struct MHD_Connection *connection, void **socket_context,
          enum MHD_ConnectionNotificationCode toe)
{
    http_server_t *server = (http_server_t *)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        http_conn_t *conn = (http_conn_t *)zmalloc (sizeof (http_conn_t));
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        http_conns_open (server, conn, info ? info->connect_fd : -1);
        *socket_context = conn;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        http_conn_t *conn = (http_conn_t *)*socket_context;
        http_conns_close (server, conn);
        bus_client_destroy (&conn->client);
        free (conn);
        *socket_context = NULL;
    }
}

//  ---------------------------------------------------------------------------
//  The actor

//  "ADDR:PORT" into `sa`; -1 if it is not an IPv4 address and port
static int
s_parse_address (const char *text, struct sockaddr_in *sa, bool *loopback)
{
    char host[64];
    const char *colon = strrchr (text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof host)
        return -1;
    memcpy (host, text, colon - text);
    host[colon - text] = 0;
    if (streq (host, "localhost"))
        strcpy (host, "127.0.0.1");
    char *end = NULL;
    long port = strtol (colon + 1, &end, 10);
    memset (sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    if (*end || port < 0 || port > 65535 || inet_pton (AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    sa->sin_port = htons ((uint16_t)port);
    *loopback = (ntohl (sa->sin_addr.s_addr) >> 24) == 127;
    return 0;
}

//  The api's endpoints from the topology (a wildcard host: loopback)
static void
s_endpoints (s_http_t *self, const actor_config_t *config)
{
    const char *names[2] = {"api.requests", "api.facts"};
    char *outs[2] = {self->server.api, self->server.facts};
    for (int i = 0; i < 2; i++) {
        const char *at = bus_topology_connect (config->topology, names[i]);
        snprintf (outs[i], 512, "%s", at ? at : "");
        char *star = strstr (outs[i], "://*:");
        char *any = strstr (outs[i], "://0.0.0.0:");
        if (star || any) {
            char rest[16];
            snprintf (rest, sizeof rest, "%.15s", strrchr (outs[i], ':'));
            snprintf (star ? star : any, 64, "://127.0.0.1%s", rest);
        }
    }
}

static int
s_start (s_http_t *self, const actor_config_t *config)
{
    const char *address = config->http ? config->http : HTTP_DEFAULT_ADDRESS;
    struct sockaddr_in sa;
    bool loopback = false;
    if (s_parse_address (address, &sa, &loopback) != 0) {
        zsys_error ("http: --http: '%s' is not ADDRESS:PORT (an IPv4 address)", address);
        return -1;
    }
    bool tls = config->http_cert && config->http_key;
    if (!loopback && !tls && !config->http_insecure) {
        zsys_error ("http: %s is not loopback: give --http-cert and --http-key, or "
                    "--http-insecure for plain HTTP",
                    address);
        return -1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG;
    if (tls) {
        zfile_t *files[2] = {zfile_new (NULL, config->http_cert),
                             zfile_new (NULL, config->http_key)};
        char **outs[2] = {&self->tls_cert, &self->tls_key};
        for (int i = 0; i < 2; i++) {
            zchunk_t *chunk = files[i] && zfile_input (files[i]) == 0
                                  ? zfile_read (files[i], 1024 * 1024, 0)
                                  : NULL;
            *outs[i] =
                chunk ? strndup ((char *)zchunk_data (chunk), zchunk_size (chunk)) : NULL;
            zchunk_destroy (&chunk);
            zfile_destroy (&files[i]);
        }
        if (!self->tls_cert || !self->tls_key) {
            zsys_error ("http: --http-cert/--http-key: cannot read %s",
                        self->tls_cert ? config->http_key : config->http_cert);
            return -1;
        }
        flags |= MHD_USE_TLS;
    }
    self->daemon = MHD_start_daemon (
        flags, 0, NULL, NULL, s_access, &self->server, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_MAX_PER_IP,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MAX_HEADERS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)HTTP_THREAD_STACK,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
        s_notify, &self->server, tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
        self->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, self->tls_key, MHD_OPTION_END);
    if (!self->daemon) {
        zsys_error ("http: cannot serve on %s: %s", address, strerror (errno));
        return -1;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf (self->address, sizeof self->address, "%s://%s:%u", tls ? "https" : "http",
              inet_ntoa (sa.sin_addr), info ? info->port : ntohs (sa.sin_port));
    return 0;
}

//  Every HTTP_WATCH_MS: the request deadline and the headroom (http_conns.c)
static void
s_watch (void *arg, void *unused)
{
    http_conns_watch (&((s_http_t *)arg)->server);
}

static json_t *
s_status (void *arg)
{
    s_http_t *self = (s_http_t *)arg;
    return json_pack ("{s:s, s:I, s:I, s:I, s:I}", "address", self->address, "requests",
                      (json_int_t)atomic_load (&self->server.requests), "faults",
                      (json_int_t)atomic_load (&self->server.faults), "streams",
                      (json_int_t)atomic_load (&self->server.streams), "cut",
                      (json_int_t)atomic_load (&self->server.cut));
}

static int
s_command (void *arg, const char *command, zmsg_t *msg)
{
    s_http_t *self = (s_http_t *)arg;
    if (!streq (command, "ADDRESS"))
        return -1;
    zstr_send (self->pipe, self->address);
    return 0;
}

static void
s_destroy (s_http_t **self_p)
{
    s_http_t *self = *self_p;
    if (!self)
        return;
    atomic_store (&self->server.stopping, true);
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    actor_loop_destroy (&self->loop);
    http_keys_destroy (&self->server.keys);
    pthread_mutex_destroy (&self->server.conns_lock);
    pthread_mutex_destroy (&self->server.hooks_lock);
    json_decref (self->server.hooks);
    free (self->tls_cert);
    free (self->tls_key);
    free (self);
    *self_p = NULL;
}

void
http_actor (zsock_t *pipe, void *args)
{
    const actor_config_t *config = (const actor_config_t *)args;
    s_http_t *self = (s_http_t *)zmalloc (sizeof (s_http_t));
    self->pipe = pipe;
    char host[256];
    actor_host (config, host, sizeof host);
    snprintf (self->server.source, sizeof self->server.source, "http@%s", host);
    self->server.max_body = HTTP_MAX_BODY;
    pthread_mutex_init (&self->server.conns_lock, NULL);
    pthread_mutex_init (&self->server.hooks_lock, NULL);
    s_endpoints (self, config);
    char *keys = http_keys_path (config->data_dir);
    self->server.keys = keys ? http_keys_new (keys) : NULL;
    free (keys);
    self->loop = actor_loop_new (pipe, "http", self);
    int rc = self->server.keys && self->loop ? s_start (self, config) : -1;
    //  Not binding the default address is not fatal (another attuned may
    //  hold it): the actor runs, serving nothing; an address asked for is
    if (rc != 0 && (config->http_required || !self->server.keys || !self->loop)) {
        s_destroy (&self);
        zsock_signal (pipe, 1);
        return;
    }
    if (rc != 0)
        zsys_warning ("http: the gateway is off (start with --http ADDR:PORT)");
    else
        zsys_info ("http: serving %s (api %s)", self->address, self->server.api);
    actor_loop_set_status (self->loop, s_status);
    if (rc == 0)
        actor_loop_timer (self->loop, HTTP_WATCH_MS, s_watch, self);
    actor_loop_set_command (self->loop, s_command);
    zsock_signal (pipe, 0);
    actor_loop_run (self->loop);
    s_destroy (&self);
}
