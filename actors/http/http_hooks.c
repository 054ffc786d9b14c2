/*  http_hooks: StackStorm's webhooks (http_internal.h).

        POST /api/v1/webhooks/st2    {"trigger": REF, "payload": {...}}
        POST /api/v1/webhooks/{url}  an event of core.st2.webhook with
                                     trigger_parameters {url} and payload
                                     {headers, body}: the rules on that
                                     trigger whose parameters.url is {url}

    Durable before 202: the answer is sent only after api.event.publish
    replied, and the api replies only once the rules actor acknowledged the
    event.create command, that is once the event is committed to its store
    (proto/PROTOCOL.md, "How the api works"). A sender that got 202 never
    loses its event; one that got no answer may send it again.
    Answered 202 with the body, as st2api does.
*/
#include "actors/http/http_internal.h"

static int
s_header_copy (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    //  The key is not the rule's business
    if (strcasecmp (key, "St2-Api-Key") != 0)
        json_object_set_new ((json_t *)cls, key, json_string (value ? value : ""));
    return MHD_YES;
}

//  Publish and answer 202 with `echo`
static void
s_publish (http_req_t *req, const char *trigger, json_t *payload, json_t *tparams,
           json_t *echo)
{
    json_t *request = json_pack ("{s:s, s:O}", "trigger", trigger, "payload", payload);
    if (tparams)
        json_object_set (request, "trigger_parameters", tparams);
    json_t *done = http_api (req, "api.event.publish", request);
    if (done) {
        http_reply (req, 202, json_incref (echo));
        const char *event = json_string_value (json_object_get (done, "event"));
        if (event)
            http_header (req, "X-Attune-Event", event);
    }
    json_decref (done);
}

void
http_hooks_st2 (http_req_t *req)
{
    json_t *body = http_body_json (req);
    if (!body)
        return;
    json_t *trigger = json_object_get (body, "trigger");
    json_t *payload = json_object_get (body, "payload");
    if (!json_is_string (trigger) || (payload && !json_is_object (payload)))
        http_fault (req, 400, "%s",
                    !json_is_string (trigger) ? "trigger: required (a trigger type ref)"
                                              : "payload: expected an object");
    else {
        json_t *empty = json_object ();
        s_publish (req, json_string_value (trigger), payload ? payload : empty,
                   json_object_get (body, "trigger_parameters"), body);
        json_decref (empty);
    }
    json_decref (body);
}

void
http_hooks_url (http_req_t *req)
{
    json_t *body = http_body_json (req);
    if (!body)
        return;
    json_t *headers = json_object ();
    MHD_get_connection_values (req->connection, MHD_HEADER_KIND,
                               (MHD_KeyValueIterator)s_header_copy, headers);
    json_t *payload = json_pack ("{s:o, s:O}", "headers", headers, "body", body);
    json_t *tparams = json_pack ("{s:s}", "url", req->params[0]);
    s_publish (req, "core.st2.webhook", payload, tparams, body);
    json_decref (tparams);
    json_decref (payload);
    json_decref (body);
}
