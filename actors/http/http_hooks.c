/*  http_hooks: StackStorm's webhooks (http_internal.h).

        POST /api/v1/webhooks/st2    {"trigger": REF, "payload": {...}}
        POST /api/v1/webhooks/{url}  an event of core.st2.webhook with
                                     payload {headers, body} for each
                                     distinct trigger_parameters of the
                                     enabled rules whose parameters.url is
                                     {url} (as st2api: one trigger instance
                                     per trigger on the url); {url} alone
                                     when no rule has it

    Keys. A webhook needs an API key, as every route of st2api, unless an
    enabled rule's trigger parameters say `auth: none` (attune's own
    parameter; StackStorm has no keyless webhooks): a POST without a key
    then publishes to those triggers only (identity webhook:{url}, role
    operator), and gets 401 when the url has no such trigger. A POST with
    a key reaches every trigger on the url.

    Durable before 202: the answer is sent only after api.event.publish
    replied, and the api replies only once the rules actor acknowledged the
    event.create command, that is once the event is committed to its store
    (proto/PROTOCOL.md, "How the api works"). A sender that got 202 never
    loses its event; one that got no answer may send it again.
    Answered 202 with the body, as st2api does.
*/
#include "actors/http/http_internal.h"

#define HTTP_HOOKS_RULE_PAGES 100  //  of 1000 rules each
#define HTTP_HOOKS_CACHE_MS   1000 //  how long the webhook triggers are kept

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

//  The distinct trigger parameters of every enabled core.st2.webhook rule
//  (caller owns the array), or NULL after answering the api's error. Kept
//  HTTP_HOOKS_CACHE_MS, as st2api keeps its webhooks in memory: a rule
//  changed through this gateway counts at once (http_hooks_forget), one
//  changed elsewhere within that time.
static json_t *
s_webhook_triggers (http_req_t *req)
{
    http_server_t *server = req->server;
    pthread_mutex_lock (&server->hooks_lock);
    json_t *found =
        server->hooks && zclock_mono () - server->hooks_at < HTTP_HOOKS_CACHE_MS
            ? json_incref (server->hooks)
            : NULL;
    uint64_t generation = server->hooks_generation;
    pthread_mutex_unlock (&server->hooks_lock);
    if (found)
        return found;
    int64_t asked = zclock_mono ();
    found = json_array ();
    json_t *args = json_pack ("{s:b, s:i}", "enabled", 1, "limit", 1000);
    for (int page = 0; args && page < HTTP_HOOKS_RULE_PAGES; page++) {
        json_t *answer = http_api (req, "api.rule.list", args);
        if (!answer) {
            json_decref (found);
            return NULL;
        }
        size_t i, j;
        json_t *rule, *known;
        json_array_foreach (json_object_get (answer, "items"), i, rule)
        {
            json_t *trigger = json_object_get (rule, "trigger");
            json_t *tparams = json_object_get (trigger, "parameters");
            const char *type = json_string_value (json_object_get (trigger, "type"));
            if (!type || !streq (type, "core.st2.webhook") || !json_is_object (tparams))
                continue;
            bool seen = false;
            json_array_foreach (found, j, known) seen =
                seen || json_equal (known, tparams);
            if (!seen)
                json_array_append (found, tparams);
        }
        json_t *next = json_object_get (answer, "next");
        args = next && !json_is_null (next) ? json_pack ("{s:b, s:i, s:O}", "enabled", 1,
                                                         "limit", 1000, "after", next)
                                            : NULL;
        json_decref (answer);
    }
    json_decref (args);
    pthread_mutex_lock (&server->hooks_lock);
    if (server->hooks_generation == generation) {
        json_decref (server->hooks);
        server->hooks = json_incref (found);
        server->hooks_at = asked;
    }
    pthread_mutex_unlock (&server->hooks_lock);
    return found;
}

void
http_hooks_forget (http_server_t *server)
{
    pthread_mutex_lock (&server->hooks_lock);
    json_decref (server->hooks);
    server->hooks = NULL;
    server->hooks_generation++;
    pthread_mutex_unlock (&server->hooks_lock);
}

//  Those of `url` (caller owns the array), or NULL after answering
static json_t *
s_url_triggers (http_req_t *req, const char *url)
{
    json_t *all = s_webhook_triggers (req);
    if (!all)
        return NULL;
    json_t *found = json_array ();
    size_t i;
    json_t *tparams;
    json_array_foreach (all, i, tparams)
    {
        const char *at = json_string_value (json_object_get (tparams, "url"));
        if (at && streq (at, url))
            json_array_append (found, tparams);
    }
    json_decref (all);
    return found;
}

static bool
s_keyless (json_t *tparams)
{
    const char *auth = json_string_value (json_object_get (tparams, "auth"));
    return auth && streq (auth, "none");
}

void
http_hooks_url (http_req_t *req)
{
    //  Without a key (the route's key is optional): only the triggers that
    //  say auth: none, as an anonymous operator that can only publish here
    bool keyless = req->role[0] == 0;
    char identity[sizeof req->params[0] + 16];
    if (keyless) {
        snprintf (identity, sizeof identity, "webhook:%s", req->params[0]);
        req->identity = identity;
        snprintf (req->role, sizeof req->role, "viewer");
    }
    json_t *triggers = s_url_triggers (req, req->params[0]);
    if (!triggers)
        return;
    size_t i;
    json_t *tparams;
    if (keyless) {
        json_t *open = json_array ();
        json_array_foreach (triggers, i, tparams) if (s_keyless (tparams))
            json_array_append (open, tparams);
        json_decref (triggers);
        triggers = open;
        if (json_array_size (triggers) == 0) {
            json_decref (triggers);
            http_fault (req, 401, "Unauthorized - One of Token or API key required.");
            return;
        }
        snprintf (req->role, sizeof req->role, "operator");
    } else if (json_array_size (triggers) == 0)
        json_array_append_new (triggers, json_pack ("{s:s}", "url", req->params[0]));
    json_t *body = http_body_json (req);
    json_t *headers = json_object ();
    MHD_get_connection_values (req->connection, MHD_HEADER_KIND,
                               (MHD_KeyValueIterator)s_header_copy, headers);
    json_t *payload = json_pack ("{s:o, s:o*}", "headers", headers, "body", body);
    //  One event a trigger, as st2api dispatches one trigger instance to each
    //  trigger on the url; 202 once every one is durable
    json_array_foreach (triggers, i, tparams) if (body && req->status < 400)
        s_publish (req, "core.st2.webhook", payload, tparams, body);
    json_decref (triggers);
    json_decref (payload);
}
