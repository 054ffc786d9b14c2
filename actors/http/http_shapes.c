/*  http_shapes: attune's records in StackStorm's JSON shapes (st2common's
    API models, as st2api answers them): statuses, ISO 8601 times, the
    execution with its action, runner and liveaction parts.
*/
#include "actors/http/http_internal.h"

#include <time.h>

//  attune -> StackStorm statuses where they differ
static const char *s_statuses[][2] = {
    {"completed", "succeeded"}, {"cancelled", "canceled"}, {NULL, NULL}};

const char *
http_status_to_st2 (const char *status)
{
    for (int i = 0; status && s_statuses[i][0]; i++)
        if (streq (status, s_statuses[i][0]))
            return s_statuses[i][1];
    return status;
}

const char *
http_status_from_st2 (const char *status)
{
    for (int i = 0; status && s_statuses[i][0]; i++)
        if (streq (status, s_statuses[i][1]))
            return s_statuses[i][0];
    return status;
}

//  µs since the epoch -> "2026-12-05T04:53:00.123456Z" ("" for none)
void
http_iso_time (json_t *usec, char *out, size_t size)
{
    out[0] = 0;
    if (!json_is_integer (usec))
        return;
    json_int_t value = json_integer_value (usec);
    time_t seconds = (time_t)(value / 1000000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    char date[32];
    strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (out, size, "%s.%06dZ", date, (int)(value % 1000000));
}

static void
s_set_time (json_t *object, const char *key, json_t *usec)
{
    char text[64];
    http_iso_time (usec, text, sizeof text);
    if (text[0])
        json_object_set_new (object, key, json_string (text));
}

static json_t *
s_log (json_t *log)
{
    json_t *out = json_array ();
    size_t i;
    json_t *entry;
    json_array_foreach (log, i, entry)
    {
        json_t *item = json_pack (
            "{s:s?}", "status",
            http_status_to_st2 (json_string_value (json_object_get (entry, "status"))));
        s_set_time (item, "timestamp", json_object_get (entry, "ts"));
        json_array_append_new (out, item);
    }
    return out;
}

//  The action part {ref, name, pack, runner_type} of an execution
static json_t *
s_action (const char *ref, const char *runner)
{
    const char *dot = ref ? strchr (ref, '.') : NULL;
    return json_pack ("{s:s?, s:s?, s:s%, s:s*}", "ref", ref, "name", dot ? dot + 1 : ref,
                      "pack", ref ? ref : "", dot ? (size_t)(dot - ref) : 0,
                      "runner_type", runner);
}

json_t *
http_shape_execution (json_t *e)
{
    const char *id = json_string_value (json_object_get (e, "id"));
    if (!id)
        id = json_string_value (json_object_get (e, "execution"));
    const char *ref = json_string_value (json_object_get (e, "action"));
    const char *runner = json_string_value (json_object_get (e, "runner"));
    const char *status =
        http_status_to_st2 (json_string_value (json_object_get (e, "status")));
    json_t *parameters = json_object_get (e, "parameters");
    json_t *out = json_pack (
        "{s:s?, s:o, s:{s:s*}, s:s?, s:O, s:{s:s?, s:s?, s:s?, s:O}, s:[], s:{}}", "id",
        id, "action", s_action (ref, runner), "runner", "name", runner, "status", status,
        "parameters", parameters ? parameters : json_object (), "liveaction", "id", id,
        "action", ref, "status", status, "parameters",
        parameters ? parameters : json_object (), "children", "context");
    json_t *field;
    if (json_is_string (field =
                            json_object_get (e, "user"))) //  StackStorm's context.user
        json_object_set (json_object_get (out, "context"), "user", field);
    if ((field = json_object_get (e, "result")) && !json_is_null (field))
        json_object_set (out, "result", field);
    if ((field = json_object_get (e, "log")))
        json_object_set_new (out, "log", s_log (field));
    json_t *started = json_object_get (e, "requested");
    s_set_time (out, "start_timestamp",
                started ? started : json_object_get (e, "started"));
    json_t *ended = json_object_get (e, "ended");
    s_set_time (out, "end_timestamp", ended);
    if (json_is_integer (started) && json_is_integer (ended))
        json_object_set_new (out, "elapsed_seconds",
                             json_real ((double)(json_integer_value (ended) -
                                                 json_integer_value (started)) /
                                        1e6));
    const char *rule = json_string_value (json_object_get (e, "rule"));
    if (rule)
        json_object_set_new (out, "rule",
                             json_pack ("{s:s, s:s}", "ref", rule, "id", rule));
    const char *event = json_string_value (json_object_get (e, "event"));
    if (event)
        json_object_set_new (out, "trigger_instance", json_pack ("{s:s}", "id", event));
    static const char *copied[] = {"parent", "enforcement", "worker", "retry_count",
                                   NULL};
    for (int i = 0; copied[i]; i++)
        if ((field = json_object_get (e, copied[i])) && !json_is_null (field))
            json_object_set (out, copied[i], field);
    return out;
}
