/*  http_routes: the one route table (http_internal.h). The router matches
    requests against it and the OpenAPI document is made from it, so what is
    served and what is described cannot drift apart (tests/test_http.c
    checks both ways).
*/
#include "actors/http/http_internal.h"

#define V1 "/api/v1"

const http_route_t http_routes[] = {
    {"GET", V1 "/executions", http_rest_resource_list, "List executions", false, false,
     &http_rest_executions},
    {"POST", V1 "/executions", http_rest_execution_run, "Run an action", false},
    {"GET", V1 "/executions/{id}", http_rest_execution_get, "Get an execution", false},
    {"DELETE", V1 "/executions/{id}", http_rest_execution_cancel, "Cancel an execution",
     false},
    {"POST", V1 "/executions/{id}/re_run", http_rest_execution_rerun,
     "Run an execution again", false},
    {"GET", V1 "/executions/{id}/output", http_rest_execution_output,
     "An execution's output", false},
    {"GET", V1 "/executions/{id}/children", http_rest_execution_children,
     "An execution's children", false},
    {"GET", V1 "/actions", http_rest_resource_list, "List actions", false, false,
     &http_rest_actions},
    {"GET", V1 "/actions/{ref}", http_rest_resource_get, "Get an action", false, false,
     &http_rest_actions},
    {"GET", V1 "/rules", http_rest_rules, "List rules", false},
    {"POST", V1 "/rules", http_rest_rule_create, "Create a rule", false},
    {"GET", V1 "/rules/{ref}", http_rest_rule_get, "Get a rule", false},
    {"PUT", V1 "/rules/{ref}", http_rest_rule_update, "Update, enable or disable a rule",
     false},
    {"DELETE", V1 "/rules/{ref}", http_rest_rule_delete, "Delete a rule", false},
    {"GET", V1 "/triggertypes", http_rest_resource_list, "List trigger types", false,
     false, &http_rest_triggertypes},
    {"GET", V1 "/triggertypes/{ref}", http_rest_resource_get, "Get a trigger type", false,
     false, &http_rest_triggertypes},
    {"GET", V1 "/triggerinstances", http_rest_resource_list, "List trigger instances",
     false, false, &http_rest_triggerinstances},
    {"GET", V1 "/triggerinstances/{id}", http_rest_resource_get, "Get a trigger instance",
     false, false, &http_rest_triggerinstances},
    {"GET", V1 "/inquiries", http_rest_resource_list, "List inquiries", false, false,
     &http_rest_inquiries},
    {"GET", V1 "/inquiries/{id}", http_rest_resource_get, "Get an inquiry", false, false,
     &http_rest_inquiries},
    {"PUT", V1 "/inquiries/{id}", http_rest_inquiry_respond, "Respond to an inquiry",
     false},
    {"GET", V1 "/packs", http_rest_resource_list, "List packs", false, false,
     &http_rest_packs},
    {"GET", V1 "/packs/{ref}", http_rest_resource_get, "Get a pack", false, false,
     &http_rest_packs},
    {"GET", V1 "/policies", http_rest_resource_list, "List policies", false, false,
     &http_rest_policies},
    {"GET", V1 "/policies/{ref}", http_rest_resource_get, "Get a policy", false, false,
     &http_rest_policies},
    {"GET", V1 "/keys", http_kv_list, "List datastore keys", false},
    {"GET", V1 "/keys/{name}", http_kv_get, "Get a datastore key", false},
    {"PUT", V1 "/keys/{name}", http_kv_put, "Set a datastore key", false},
    {"DELETE", V1 "/keys/{name}", http_kv_delete, "Delete a datastore key", false},
    {"POST", V1 "/webhooks/st2", http_hooks_st2, "Publish an event of any trigger",
     false},
    {"POST", V1 "/webhooks/{url+}", http_hooks_url,
     "A core.st2.webhook rule's webhook (no key when its rule says auth: none)", false,
     true},
    {"GET", V1 "/stream", http_stream, "Server-Sent Events", false},
    {"GET", V1 "/openapi.json", http_rest_openapi, "This document", true},
    {"GET", "/", http_page, "The operator page (its API calls need a key)", true},
    {"GET", "/metrics", http_metrics,
     "Prometheus metrics (text 0.0.4; no key needed from loopback)", false, true},
    {NULL, NULL, NULL, NULL, false}};

//  Whether `url` has the shape of `path`; params copied into req when given
static bool
s_path_match (const char *path, const char *url, http_req_t *req)
{
    int param = 0;
    while (*path && *url) {
        if (*path == '{') {
            const char *close = strchr (path, '}');
            bool rest = close && close[-1] == '+';
            size_t n = rest ? strlen (url) : strcspn (url, "/");
            if (n == 0 || n >= sizeof req->params[0] || param >= HTTP_MAX_PARAMS)
                return false;
            if (req) {
                memcpy (req->params[param], url, n);
                req->params[param][n] = 0;
            }
            param++;
            path = close + 1;
            url += n;
            continue;
        }
        if (*path++ != *url++)
            return false;
    }
    if (*url == '/' && url[1] == 0)
        url++; //  a trailing slash is the same path
    return *path == 0 && *url == 0;
}

const http_route_t *
http_route_match (http_req_t *req, bool *path_known)
{
    *path_known = false;
    for (int i = 0; http_routes[i].method; i++) {
        if (!s_path_match (http_routes[i].path, req->url, NULL))
            continue;
        *path_known = true;
        if (streq (http_routes[i].method, req->method)) {
            s_path_match (http_routes[i].path, req->url, req);
            req->route = &http_routes[i];
            return &http_routes[i];
        }
    }
    return NULL;
}

//  One operation of the document
static json_t *
s_operation (const http_route_t *route, const char *path)
{
    json_t *params = json_array ();
    for (const char *p = strchr (path, '{'); p; p = strchr (p + 1, '{')) {
        size_t n = strcspn (p + 1, "}");
        json_array_append_new (params, json_pack ("{s:s%, s:s, s:b, s:{s:s}}", "name",
                                                  p + 1, n, "in", "path", "required", 1,
                                                  "schema", "type", "string"));
    }
    json_t *security = route->public_route
                           ? json_array ()
                           : json_pack ("[{s:[]}, {s:[]}]", "api_key", "api_key_query");
    return json_pack ("{s:s, s:o, s:o, s:{s:{s:s}, s:{s:s}}}", "summary", route->summary,
                      "parameters", params, "security", security, "responses", "200",
                      "description", "OK", "default", "description",
                      "{\"faultstring\": ...}");
}

json_t *
http_openapi (void)
{
    json_t *paths = json_object ();
    for (int i = 0; http_routes[i].method; i++) {
        char path[256], method[16];
        //  {url+} is {url} in the document
        snprintf (path, sizeof path, "%s", http_routes[i].path);
        char *plus = strstr (path, "+}");
        if (plus)
            memmove (plus, plus + 1, strlen (plus + 1) + 1);
        snprintf (method, sizeof method, "%s", http_routes[i].method);
        for (char *m = method; *m; m++)
            *m = (char)tolower ((unsigned char)*m);
        json_t *item = json_object_get (paths, path);
        if (!item) {
            item = json_object ();
            json_object_set_new (paths, path, item);
        }
        json_object_set_new (item, method, s_operation (&http_routes[i], path));
    }
    return json_pack (
        "{s:s, s:{s:s, s:s}, s:o, s:{s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}}}",
        "openapi", "3.0.3", "info", "title", "attune HTTP gateway (StackStorm API v1)",
        "version", "1", "paths", paths, "components", "securitySchemes", "api_key",
        "type", "apiKey", "in", "header", "name", "St2-Api-Key", "api_key_query", "type",
        "apiKey", "in", "query", "name", "st2-api-key");
}

void
http_rest_openapi (http_req_t *req)
{
    http_reply (req, 200, http_openapi ());
}

//  The page, built in from http_page.html (CMakeLists.txt)
extern const unsigned char http_page_data[];
extern const unsigned long http_page_size;

void
http_page (http_req_t *req)
{
    req->response = MHD_create_response_from_buffer (
        http_page_size, (void *)http_page_data, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header (req->response, "Content-Type", "text/html; charset=utf-8");
    //  Everything from attuned itself, nothing framed
    MHD_add_response_header (req->response, "Content-Security-Policy",
                             "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                             "style-src 'unsafe-inline'; frame-ancestors 'none'");
    MHD_add_response_header (req->response, "X-Frame-Options", "DENY");
    req->status = 200;
}
