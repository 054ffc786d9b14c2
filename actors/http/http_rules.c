/*  http_rules: /api/v1/rules (http_internal.h). A rule is StackStorm's rule
    as attune stores it (a rules file), with id = ref. POST creates (409 if
    the ref exists), PUT replaces with the body merged over the rule (a body
    of just {"enabled": false} disables it), DELETE removes it (204).
*/
#include "actors/http/http_internal.h"

static json_t *
s_shape (json_t *rule)
{
    json_t *out = json_deep_copy (rule);
    if (!json_object_get (out, "ref")) {
        const char *pack = json_string_value (json_object_get (rule, "pack"));
        const char *name = json_string_value (json_object_get (rule, "name"));
        json_object_set_new (out, "ref",
                             json_sprintf ("%s.%s", pack ? pack : "", name ? name : ""));
    }
    json_object_set (out, "id", json_object_get (out, "ref"));
    return out;
}

void
http_rest_rules (http_req_t *req)
{
    //  Paging as the other lists: a small copy of http_rest.c's would be
    //  a second list walker; rules are few, so one page of up to 1000
    json_t *payload = json_object ();
    const char *pack = http_query (req, "pack");
    const char *enabled = http_query (req, "enabled");
    if (pack)
        json_object_set_new (payload, "pack", json_string (pack));
    if (enabled)
        json_object_set_new (payload, "enabled", json_boolean (streq (enabled, "true")));
    json_object_set_new (payload, "limit", json_integer (1000));
    json_t *page = http_api (req, "api.rule.list", payload);
    if (!page)
        return;
    json_t *out = json_array ();
    size_t i;
    json_t *rule;
    json_array_foreach (json_object_get (page, "items"), i, rule)
        json_array_append_new (out, s_shape (rule));
    json_decref (page);
    http_reply (req, 200, out);
}

void
http_rest_rule_get (http_req_t *req)
{
    json_t *rule =
        http_api (req, "api.rule.get", json_pack ("{s:s}", "ref", req->params[0]));
    if (rule)
        http_reply (req, 200, s_shape (rule));
    json_decref (rule);
}

//  Store `definition` (taken) and answer the rule as stored, with `status`
static void
s_store (http_req_t *req, json_t *definition, int status)
{
    json_t *enabled = json_incref (json_object_get (definition, "enabled"));
    static const char *dropped[] = {"id", "ref", "uid", "type", "tags", NULL};
    for (int i = 0; dropped[i]; i++)
        json_object_del (definition, dropped[i]);
    json_t *done =
        http_api (req, "api.rule.create", json_pack ("{s:o}", "definition", definition));
    const char *ref = json_string_value (json_object_get (done, "ref"));
    if (ref && json_is_boolean (enabled)) {
        json_t *changed = http_api (
            req, json_is_true (enabled) ? "api.rule.enable" : "api.rule.disable",
            json_pack ("{s:s}", "ref", ref));
        if (!changed)
            ref = NULL;
        json_decref (changed);
    }
    json_t *rule =
        ref ? http_api (req, "api.rule.get", json_pack ("{s:s}", "ref", ref)) : NULL;
    if (rule)
        http_reply (req, status, s_shape (rule));
    json_decref (rule);
    json_decref (done);
    json_decref (enabled);
}

void
http_rest_rule_create (http_req_t *req)
{
    json_t *body = http_body_json (req);
    if (!body)
        return;
    const char *pack = json_string_value (json_object_get (body, "pack"));
    const char *name = json_string_value (json_object_get (body, "name"));
    if (!json_is_object (body) || !pack || !name) {
        http_fault (req, 400, "a rule needs a pack and a name (str)");
        json_decref (body);
        return;
    }
    char ref[600];
    snprintf (ref, sizeof ref, "%s.%s", pack, name);
    json_t *existing = http_api (req, "api.rule.get", json_pack ("{s:s}", "ref", ref));
    if (existing || req->status != 404) {
        if (existing)
            http_fault (req, 409, "Tried to save duplicate unique keys: rule %s exists",
                        ref);
        json_decref (existing);
        json_decref (body);
        return;
    }
    http_reply (req, 0, NULL); //  the 404 was only the check
    s_store (req, body, 201);
}

void
http_rest_rule_update (http_req_t *req)
{
    json_t *body = http_body_json (req);
    if (!body)
        return;
    if (!json_is_object (body)) {
        http_fault (req, 400, "a rule is an object");
        json_decref (body);
        return;
    }
    json_t *rule =
        http_api (req, "api.rule.get", json_pack ("{s:s}", "ref", req->params[0]));
    if (!rule) {
        json_decref (body);
        return;
    }
    json_object_update (rule, body);
    const char *pack = json_string_value (json_object_get (rule, "pack"));
    const char *name = json_string_value (json_object_get (rule, "name"));
    char ref[600];
    snprintf (ref, sizeof ref, "%s.%s", pack ? pack : "", name ? name : "");
    json_decref (body);
    if (!streq (ref, req->params[0])) {
        http_fault (req, 400, "the body names rule %s, the path %s", ref, req->params[0]);
        json_decref (rule);
        return;
    }
    s_store (req, rule, 200);
}

void
http_rest_rule_delete (http_req_t *req)
{
    json_t *done =
        http_api (req, "api.rule.delete", json_pack ("{s:s}", "ref", req->params[0]));
    if (done)
        http_reply (req, 204, NULL);
    json_decref (done);
}
