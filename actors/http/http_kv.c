/*  http_kv: /api/v1/keys, StackStorm's key-value pairs over the datastore's
    api.key.* (http_internal.h). Query or body `scope` (system, user,
    st2kv.system, st2kv.user), `user`, `decrypt`; the api decides who may
    read a secret or write a system key, by the API key's role.
*/
#include "actors/http/http_internal.h"

//  {id, name, value, secret, encrypted, scope: st2kv.*, user?, expire_timestamp?}
static json_t *
s_shape (json_t *key)
{
    const char *scope = json_string_value (json_object_get (key, "scope"));
    bool user = scope && streq (scope, "user");
    const char *name = json_string_value (json_object_get (key, "name"));
    json_t *value = json_object_get (key, "value");
    bool secret = json_is_true (json_object_get (key, "secret"));
    bool masked =
        secret && json_is_string (value) && streq (json_string_value (value), "********");
    json_t *out = json_pack ("{s:s++, s:s?, s:O?, s:b, s:b, s:s}", "id",
                             user ? "user:" : "system:", name ? name : "", "", "name",
                             name, "value", value, "secret", secret, "encrypted", masked,
                             "scope", user ? "st2kv.user" : "st2kv.system");
    json_t *field = json_object_get (key, "user");
    if (json_is_string (field))
        json_object_set (out, "user", field);
    char when[64];
    http_iso_time (json_object_get (key, "expire_at"), when, sizeof when);
    if (when[0])
        json_object_set_new (out, "expire_timestamp", json_string (when));
    return out;
}

//  scope, user, decrypt, prefix from the query into an api payload
static json_t *
s_args (http_req_t *req)
{
    json_t *payload = json_object ();
    const char *names[] = {"scope", "user", "prefix", NULL};
    for (int i = 0; names[i]; i++) {
        const char *value = http_query (req, names[i]);
        if (value)
            json_object_set_new (payload, names[i], json_string (value));
    }
    const char *decrypt = http_query (req, "decrypt");
    if (decrypt)
        json_object_set_new (
            payload, "decrypt",
            json_boolean (streq (decrypt, "true") || streq (decrypt, "1")));
    return payload;
}

void
http_kv_list (http_req_t *req)
{
    http_rest_list (req, "api.key.list", s_args (req), "after", s_shape);
}

void
http_kv_get (http_req_t *req)
{
    json_t *payload = s_args (req);
    json_object_set_new (payload, "name", json_string (req->params[0]));
    json_t *key = http_api (req, "api.key.get", payload);
    if (key)
        http_reply (req, 200, s_shape (key));
    json_decref (key);
}

//  PUT /keys/{name} {value, scope?, user?, secret?, ttl?}
void
http_kv_put (http_req_t *req)
{
    json_t *body = http_body_json (req);
    if (!body)
        return;
    json_t *value = json_object_get (body, "value");
    json_t *name = json_object_get (body, "name");
    if (!json_is_object (body) || !json_is_string (value) ||
        (name &&
         (!json_is_string (name) || !streq (json_string_value (name), req->params[0])))) {
        http_fault (req, 400, "%s",
                    json_is_string (value) ? "name: not the key of the path"
                                           : "value: required (a string)");
        json_decref (body);
        return;
    }
    json_t *payload = json_pack ("{s:s, s:O}", "name", req->params[0], "value", value);
    const char *copied[] = {"scope", "user", "secret", "ttl", NULL};
    for (int i = 0; copied[i]; i++)
        if (json_object_get (body, copied[i]))
            json_object_set (payload, copied[i], json_object_get (body, copied[i]));
    json_decref (body);
    json_t *key = http_api (req, "api.key.set", payload);
    if (key)
        http_reply (req, 200, s_shape (key));
    json_decref (key);
}

void
http_kv_delete (http_req_t *req)
{
    json_t *payload = s_args (req);
    json_object_del (payload, "decrypt");
    json_object_del (payload, "prefix");
    json_object_set_new (payload, "name", json_string (req->params[0]));
    json_t *done = http_api (req, "api.key.delete", payload);
    if (done)
        http_reply (req, 204, NULL);
    json_decref (done);
}
