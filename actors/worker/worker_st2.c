/*  worker_st2: the inquirer and announcement runners. See worker_st2.h. */
#include "actors/worker/worker_st2.h"

#include <string.h>

static json_t *
s_get (const json_t *parameters, const char *name)
{
    json_t *value = json_object_get (parameters, name);
    return value ? value : json_null ();
}

json_t *
worker_st2_inquirer (const json_t *parameters)
{
    json_t *assignee = json_object_get (parameters, "assignee");
    const json_t *users = json_object_get (parameters, "users");
    if (!json_is_string (assignee) && json_is_string (json_array_get (users, 0)))
        assignee = json_array_get (users, 0);
    json_t *timeout = json_object_get (parameters, "timeout");
    json_t *ttl = json_object_get (parameters, "ttl");
    json_t *seconds = json_is_number (timeout) ? json_incref (timeout)
                      : json_is_integer (ttl)
                          ? json_integer (json_integer_value (ttl) * 60)
                          : json_null ();
    json_t *inquiry = json_pack (
        "{s:O, s:O, s:O, s:o, s:O, s:O, s:O}", "prompt", s_get (parameters, "prompt"),
        "response_schema", s_get (parameters, "schema"), "assigned_to",
        assignee ? assignee : json_null (), "timeout_seconds", seconds, "route",
        s_get (parameters, "route"), "users", s_get (parameters, "users"), "roles",
        s_get (parameters, "roles"));
    return json_pack ("{s:o}", "__inquiry", inquiry);
}

json_t *
worker_st2_announcement (const json_t *parameters)
{
    json_t *result = json_deep_copy (parameters);
    if (!json_is_object (result)) {
        json_decref (result);
        result = json_object ();
    }
    json_object_del (result, "experimental");
    json_object_del (result, "route");
    json_object_set_new (result, "__announcement",
                         json_pack ("{s:O}", "route", s_get (parameters, "route")));
    return result;
}
