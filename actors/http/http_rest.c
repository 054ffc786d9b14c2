/*  http_rest: StackStorm's REST resources over the api (http_internal.h).
    Lists answer a JSON array, as st2api does, paged with `limit` (1-1000,
    default 50) and `offset` (at most HTTP_MAX_OFFSET), headers X-Limit and,
    when the whole list was read, X-Total-Count; attune's own cursors
    (`before`, `after`) are followed underneath.
*/
#include "actors/http/http_internal.h"

#include <errno.h>

#define S_DEFAULT_LIMIT 50
#define HTTP_MAX_OFFSET 100000

typedef json_t *(http_shape_fn)(json_t *item);

//  ---------------------------------------------------------------------------
//  Shapes of definitions and records

//  A definition: StackStorm's shape is attune's, with an id (the ref)
static json_t *
s_shape_definition (json_t *item)
{
    json_t *out = json_deep_copy (item);
    json_t *ref = json_object_get (item, "ref");
    if (!ref) {
        const char *pack = json_string_value (json_object_get (item, "pack"));
        const char *name = json_string_value (json_object_get (item, "name"));
        ref =
            json_sprintf ("%s%s%s", pack ? pack : "", pack ? "." : "", name ? name : "");
        json_object_set_new (out, "ref", ref);
    }
    if (!json_object_get (out, "id"))
        json_object_set (out, "id", json_object_get (out, "ref"));
    return out;
}

static json_t *
s_shape_event (json_t *item)
{
    char when[64];
    http_iso_time (json_object_get (item, "ts"), when, sizeof when);
    return json_pack ("{s:O?, s:O?, s:O?, s:O?, s:s, s:s}", "id",
                      json_object_get (item, "event"), "trigger",
                      json_object_get (item, "trigger"), "payload",
                      json_object_get (item, "payload"), "trigger_parameters",
                      json_object_get (item, "trigger_parameters"), "occurrence_time",
                      when, "status", "processed");
}

static json_t *
s_shape_inquiry (json_t *item)
{
    json_t *out = json_deep_copy (item);
    json_t *timeout = json_object_get (item, "timeout");
    json_object_set_new (out, "ttl",
                         json_integer (json_is_integer (timeout)
                                           ? (json_integer_value (timeout) + 59) / 60
                                           : 0));
    json_object_set (out, "users",
                     json_object_get (item, "assigned_to") ?: json_array ());
    json_object_set_new (out, "roles", json_array ());
    json_object_set_new (out, "route", json_string (""));
    json_object_set (out, "liveaction", json_object_get (item, "execution"));
    return out;
}

//  st2client's include_attributes / exclude_attributes (comma lists of
//  top-level fields; id always stays): applied to `item` in place
static json_t *
s_attributes (http_req_t *req, json_t *item)
{
    const char *include = http_query (req, "include_attributes");
    const char *exclude = http_query (req, "exclude_attributes");
    if (!json_is_object (item) || (!include && !exclude))
        return item;
    const char *key;
    void *tmp;
    json_t *value;
    json_object_foreach_safe (item, tmp, key, value)
    {
        char needle[300];
        snprintf (needle, sizeof needle, ",%s,", key);
        char *in = include ? zsys_sprintf (",%s,", include) : NULL;
        char *out = exclude ? zsys_sprintf (",%s,", exclude) : NULL;
        bool drop = !streq (key, "id") &&
                    ((in && !strstr (in, needle)) || (out && strstr (out, needle)));
        zstr_free (&in);
        zstr_free (&out);
        if (drop)
            json_object_del (item, key);
    }
    return item;
}

//  ---------------------------------------------------------------------------
//  Lists

//  `name` as a number low..high (default `fallback`) into *out; false after
//  answering 400
static bool
s_number (http_req_t *req, const char *name, long low, long high, long fallback,
          long *out)
{
    const char *text = http_query (req, name);
    *out = fallback;
    if (!text)
        return true;
    char *end = NULL;
    long value = strtol (text, &end, 10);
    if (!*text || *end || value < low || value > high) {
        http_fault (req, 400, "%s: '%s' is not a number %ld..%ld", name, text, low, high);
        return false;
    }
    *out = value;
    return true;
}

//  Every item up to offset + limit, following the api's `cursor`; *whole:
//  the list ended. NULL after answering the error.
static json_t *
s_collect (http_req_t *req, const char *type, json_t *payload, const char *cursor,
           size_t wanted, bool *whole)
{
    json_t *items = json_array ();
    *whole = false;
    while (json_array_size (items) < wanted) {
        size_t room = wanted - json_array_size (items);
        json_object_set_new (payload, "limit", json_integer (room > 1000 ? 1000 : room));
        json_t *page = http_api (req, type, json_incref (payload));
        if (!page) {
            json_decref (items);
            items = NULL;
            break;
        }
        json_array_extend (items, json_object_get (page, "items"));
        json_t *next = json_object_get (page, "next");
        if (json_is_null (next) || !next) {
            *whole = true;
            json_decref (page);
            break;
        }
        json_object_set (payload, cursor, next);
        json_decref (page);
    }
    json_decref (payload);
    return items;
}

void
http_rest_list (http_req_t *req, const char *type, json_t *payload, const char *cursor,
                http_shape_fn *shape)
{
    long limit, offset;
    if (!s_number (req, "limit", 1, 1000, S_DEFAULT_LIMIT, &limit) ||
        !s_number (req, "offset", 0, HTTP_MAX_OFFSET, 0, &offset)) {
        json_decref (payload);
        return;
    }
    bool whole = false;
    json_t *items =
        s_collect (req, type, payload, cursor, (size_t)(offset + limit), &whole);
    if (!items)
        return;
    json_t *out = json_array ();
    for (size_t i = (size_t)offset; i < json_array_size (items); i++)
        json_array_append_new (out,
                               s_attributes (req, shape (json_array_get (items, i))));
    char number[32];
    snprintf (number, sizeof number, "%ld", limit);
    http_header (req, "X-Limit", number);
    if (whole) {
        snprintf (number, sizeof number, "%zu", json_array_size (items));
        http_header (req, "X-Total-Count", number);
    }
    json_decref (items);
    http_reply (req, 200, out);
}

//  Query arguments copied into an api payload: {st2 name, attune name}
static json_t *
s_filters (http_req_t *req, const char *const names[][2])
{
    json_t *payload = json_object ();
    for (int i = 0; names[i][0]; i++) {
        const char *value = http_query (req, names[i][0]);
        if (value && streq (names[i][0], "status"))
            value = http_status_from_st2 (value);
        if (value && streq (names[i][0], "enabled"))
            json_object_set_new (
                payload, names[i][1],
                json_boolean (streq (value, "true") || streq (value, "1")));
        else if (value)
            json_object_set_new (payload, names[i][1], json_string (value));
    }
    return payload;
}

//  ---------------------------------------------------------------------------
//  Collections served alike: one row each

#define S_FILTERS 4 //  query filters of a collection, the last {NULL, NULL}

struct http_rest_resource_s {
    const char *list;   //  the api's list request
    const char *cursor; //  ... and its cursor: "after" a name, "before" a time
    const char *get;    //  the api's request for one record (NULL: a handler of
    const char *key;    //  its own), by `key` = the path's {param}
    http_shape_fn *shape;
    const char *const filters[S_FILTERS][2]; //  query arguments: {st2 name, api name}
};

const http_rest_resource_t http_rest_executions = {
    .list = "api.execution.list",
    .cursor = "before",
    .shape = http_shape_execution,
    .filters = {{"action", "action"}, {"status", "status"}, {"rule_ref", "rule"}}};
const http_rest_resource_t http_rest_actions = {.list = "api.action.list",
                                                .cursor = "after",
                                                .get = "api.action.get",
                                                .key = "ref",
                                                .shape = s_shape_definition,
                                                .filters = {{"pack", "pack"}}};
const http_rest_resource_t http_rest_triggertypes = {.list = "api.trigger.list",
                                                     .cursor = "after",
                                                     .get = "api.trigger.get",
                                                     .key = "ref",
                                                     .shape = s_shape_definition};
const http_rest_resource_t http_rest_triggerinstances = {
    .list = "api.event.list",
    .cursor = "before",
    .get = "api.event.get",
    .key = "id",
    .shape = s_shape_event,
    .filters = {{"trigger", "trigger"}}};
const http_rest_resource_t http_rest_packs = {.list = "api.pack.list",
                                              .cursor = "after",
                                              .get = "api.pack.get",
                                              .key = "ref",
                                              .shape = s_shape_definition};
const http_rest_resource_t http_rest_policies = {.list = "api.policy.list",
                                                 .cursor = "after",
                                                 .get = "api.policy.get",
                                                 .key = "ref",
                                                 .shape = s_shape_definition,
                                                 .filters = {{"pack", "pack"}}};
const http_rest_resource_t http_rest_inquiries = {.list = "api.inquiry.list",
                                                  .cursor = "before",
                                                  .get = "api.inquiry.get",
                                                  .key = "id",
                                                  .shape = s_shape_inquiry,
                                                  .filters = {{"status", "status"}}};

//  GET /{collection}: its query filters into the api's list request
void
http_rest_resource_list (http_req_t *req)
{
    const http_rest_resource_t *self = req->route->resource;
    http_rest_list (req, self->list, s_filters (req, self->filters), self->cursor,
                    self->shape);
}

//  GET /{collection}/{key}: one record, by the path's param
void
http_rest_resource_get (http_req_t *req)
{
    const http_rest_resource_t *self = req->route->resource;
    json_t *item =
        http_api (req, self->get, json_pack ("{s:s}", self->key, req->params[0]));
    if (item)
        http_reply (req, 200, s_attributes (req, self->shape (item)));
    json_decref (item);
}

//  ---------------------------------------------------------------------------
//  Executions

void
http_rest_execution_get (http_req_t *req)
{
    //  ?show_secrets=true: the api honours it for admins only (StackStorm's)
    const char *show = http_query (req, "show_secrets");
    json_t *item =
        http_api (req, "api.execution.get",
                  json_pack ("{s:s, s:b}", "id", req->params[0], "show_secrets",
                             show && (streq (show, "true") || streq (show, "True") ||
                                      streq (show, "1"))));
    if (item)
        http_reply (req, 200, s_attributes (req, http_shape_execution (item)));
    json_decref (item);
}

//  Answer the execution `id` with `status` (after a run, re-run, cancel)
static void
s_execution_answer (http_req_t *req, const char *id, int status)
{
    json_t *execution =
        http_api (req, "api.execution.get", json_pack ("{s:s}", "id", id));
    if (execution)
        http_reply (req, status, http_shape_execution (execution));
    json_decref (execution);
}

void
http_rest_execution_run (http_req_t *req)
{
    json_t *body = http_body_json (req);
    if (!body)
        return;
    json_t *action = json_object_get (body, "action");
    json_t *parameters = json_object_get (body, "parameters");
    if (!json_is_string (action) || (parameters && !json_is_object (parameters)))
        http_fault (req, 400, "%s",
                    !json_is_string (action) ? "action: required (a ref, str)"
                                             : "parameters: expected an object");
    else {
        json_t *run = http_api (req, "api.execution.run",
                                json_pack ("{s:O, s:O}", "action", action, "parameters",
                                           parameters ? parameters : json_object ()));
        const char *id = json_string_value (json_object_get (run, "execution"));
        if (id)
            s_execution_answer (req, id, 201);
        json_decref (run);
    }
    json_decref (body);
}

void
http_rest_execution_cancel (http_req_t *req)
{
    json_t *done =
        http_api (req, "api.execution.cancel", json_pack ("{s:s}", "id", req->params[0]));
    if (done)
        s_execution_answer (req, req->params[0], 200);
    json_decref (done);
}

void
http_rest_execution_rerun (http_req_t *req)
{
    json_t *body = req->body_size ? http_body_json (req) : json_object ();
    if (!body)
        return;
    json_t *parameters = json_object_get (body, "parameters");
    json_t *payload = json_pack ("{s:s}", "id", req->params[0]);
    if (json_is_object (parameters))
        json_object_set (payload, "parameters", parameters);
    //  StackStorm's body: tasks to re-run a workflow from, reset among them
    const char *lists[] = {"tasks", "reset"};
    for (size_t i = 0; i < 2; i++)
        if (json_array_size (json_object_get (body, lists[i])))
            json_object_set (payload, lists[i], json_object_get (body, lists[i]));
    json_t *run = http_api (req, "api.execution.rerun", payload);
    const char *id = json_string_value (json_object_get (run, "execution"));
    if (id)
        s_execution_answer (req, id, 201);
    json_decref (run);
    json_decref (body);
}

//  ?offset=N: the live output from chunk N on (api.execution.output, JSON:
//  chunks, next, ended), output_type=stdout|stderr for one stream.
static void
s_output_by_offset (http_req_t *req, const char *offset, const char *only)
{
    char *end = NULL;
    errno = 0;
    unsigned long long at = strtoull (offset, &end, 10);
    if (!*offset || *end || errno || *offset == '-') {
        http_fault (req, 400, "offset: '%s' is not a chunk number (0, 1, 2 ...)", offset);
        return;
    }
    json_t *payload =
        json_pack ("{s:s, s:I}", "id", req->params[0], "offset", (json_int_t)at);
    if (only)
        json_object_set_new (payload, "stream", json_string (only));
    json_t *answer = http_api (req, "api.execution.output", payload);
    if (answer)
        http_reply (req, 200, answer);
}

//  The text of the live output chunks (of `only`, or both) of a running
//  execution (its result has no output yet). Caller frees.
static char *
s_live_text (http_req_t *req, const char *only)
{
    json_t *payload = json_pack ("{s:s}", "id", req->params[0]);
    if (only)
        json_object_set_new (payload, "stream", json_string (only));
    json_t *answer = http_api (req, "api.execution.output", payload);
    size_t i, size = 0;
    json_t *chunk;
    json_array_foreach (json_object_get (answer, "chunks"), i, chunk)
    {
        size += json_string_length (json_object_get (chunk, "data"));
    }
    char *text = (char *)zmalloc (size + 1), *at = text;
    json_array_foreach (json_object_get (answer, "chunks"), i, chunk)
    {
        json_t *data = json_object_get (chunk, "data");
        memcpy (at, json_string_value (data), json_string_length (data));
        at += json_string_length (data);
    }
    json_decref (answer);
    return text;
}

//  stdout then stderr, as text/plain (output_type=stdout|stderr for one):
//  the result's, or while it runs what it printed so far; with ?offset=N,
//  the live output by chunk as JSON
void
http_rest_execution_output (http_req_t *req)
{
    const char *only = http_query (req, "output_type");
    if (only && !streq (only, "stdout") && !streq (only, "stderr")) {
        http_fault (req, 400, "output_type: stdout or stderr");
        return;
    }
    const char *offset = http_query (req, "offset");
    if (offset) {
        s_output_by_offset (req, offset, only);
        return;
    }
    json_t *e =
        http_api (req, "api.execution.get", json_pack ("{s:s}", "id", req->params[0]));
    if (!e)
        return;
    json_t *result = json_object_get (e, "result");
    const char *out = json_string_value (json_object_get (result, "stdout"));
    const char *err = json_string_value (json_object_get (result, "stderr"));
    char *text = !out && !err && json_integer_value (json_object_get (e, "ended")) <= 0
                     ? s_live_text (req, only)
                     : zsys_sprintf ("%s%s",
                                     only && !streq (only, "stdout") ? ""
                                     : out                           ? out
                                                                     : "",
                                     only && !streq (only, "stderr") ? ""
                                     : err                           ? err
                                                                     : "");
    json_decref (e);
    if (req->reply) {
        free (text); //  the live output could not be read: its fault is the answer
        return;
    }
    req->response =
        MHD_create_response_from_buffer (strlen (text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header (req->response, "Content-Type", "text/plain; charset=utf-8");
    req->status = 200;
}

//  The executions started under one (a workflow's tasks, its re-runs and
//  retries), oldest first as StackStorm lists them, each with its `task`
void
http_rest_execution_children (http_req_t *req)
{
    json_t *page =
        http_api (req, "api.execution.children",
                  json_pack ("{s:s, s:i}", "id", req->params[0], "limit", 1000));
    if (!page)
        return;
    json_t *items = json_object_get (page, "items");
    json_t *out = json_array ();
    for (size_t i = json_array_size (items); i-- > 0;) {
        json_t *item = json_array_get (items, i);
        json_t *task = json_object_get (item, "task");
        json_t *shaped = http_shape_execution (item);
        if (shaped && json_is_string (task))
            json_object_set (shaped, "task", task);
        json_array_append_new (out, shaped);
    }
    json_decref (page);
    http_reply (req, 200, out);
}

//  ---------------------------------------------------------------------------
//  Inquiries

//  PUT /inquiries/{id} {"response": {...}} (st2client sends {id, response})
void
http_rest_inquiry_respond (http_req_t *req)
{
    json_t *body = http_body_json (req);
    if (!body)
        return;
    json_t *response = json_object_get (body, "response");
    if (!json_is_object (response))
        http_fault (req, 400, "response: required (an object)");
    else {
        json_t *done = http_api (
            req, "api.inquiry.respond",
            json_pack ("{s:s, s:O}", "id", req->params[0], "response", response));
        if (done)
            http_reply (
                req, 200,
                json_pack ("{s:s, s:O}", "id", req->params[0], "response", response));
        json_decref (done);
    }
    json_decref (body);
}
