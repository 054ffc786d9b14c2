/*  worker_st2: the inquirer and announcement runners. See worker_st2.h. */
#include "actors/worker/worker_st2.h"
#include "actors/registry/registry_runners.h"
#include "bus/bus_link.h"
#include "proto/proto_json.h"

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

//  The action's parameters: the runner's (experimental, route) left out
static json_t *
s_action_parameters (const json_t *parameters)
{
    json_t *own = json_object ();
    const char *name;
    json_t *value;
    json_object_foreach ((json_t *)parameters, name, value)
    {
        if (!registry_runners_is_runner_param ("announcement", name))
            json_object_set (own, name, value);
    }
    return own;
}

//  Why rules refused the event (bus_reject_fn)
static void
s_on_reject (void *arg, const proto_envelope_t *command, const char *code,
             const char *message)
{
    (void)command;
    snprintf ((char *)arg, 256, "%s: %s", code, message);
}

//  Send `event` (taken) to rules.commands and wait for its ack. 0, or -1
//  with `reason`.
static int
s_publish (bus_topology_t *topology, const char *source, proto_envelope_t **event,
           char *reason, size_t size)
{
    char name[320], refused[256] = "";
    snprintf (name, sizeof name, "%s/announcement", source);
    const char *endpoint =
        topology ? bus_topology_connect (topology, "rules.commands") : NULL;
    bus_link_t *link = endpoint ? bus_link_new (endpoint, name, NULL) : NULL;
    if (link)
        bus_link_set_reject_handler (link, s_on_reject, refused);
    int rc = link && bus_link_send (link, event) == 0 &&
                     bus_link_flush (link, WORKER_ST2_ANNOUNCE_TIMEOUT_MS) == 0 &&
                     !*refused
                 ? 0
                 : -1;
    if (rc != 0)
        snprintf (reason, size, "announcement: %s",
                  *refused ? refused
                  : !link  ? "cannot connect to rules.commands"
                           : "rules did not take the event in time");
    bus_link_destroy (&link);
    proto_envelope_destroy (event);
    return rc;
}

json_t *
worker_st2_announce (bus_topology_t *topology, const char *source, const char *execution,
                     const json_t *action, const json_t *parameters, char *reason,
                     size_t size)
{
    if (!json_is_true (json_object_get (parameters, "experimental"))) {
        const char *ref = json_string_value (json_object_get (action, "ref"));
        snprintf (reason, size, "Experimental flag is missing for action %s",
                  ref ? ref : "?");
        return NULL;
    }
    const char *route = json_string_value (json_object_get (parameters, "route"));
    json_t *own = s_action_parameters (parameters);
    json_t *payload = json_pack ("{s:s, s:O, s:s}", "route", route ? route : "general",
                                 "payload", own, "execution", execution);
    json_t *body = json_pack ("{s:s, s:{}, s:o}", "trigger", WORKER_ST2_ANNOUNCE_TRIGGER,
                              "trigger_parameters", "payload", payload);
    proto_envelope_t *event = proto_envelope_new ("event.create", source);
    uint8_t id[PROTO_UUID_SIZE];
    bool made = event && body &&
                proto_envelope_set_payload_json (event, body, NULL) == PROTO_OK &&
                proto_uuid_parse (execution, id) == 0;
    json_decref (body);
    if (made)
        proto_envelope_set_id (event, id); //  one event per execution, run again or not
    if (!made || s_publish (topology, source, &event, reason, size) != 0) {
        if (!made)
            snprintf (reason, size, "announcement: cannot build the event");
        proto_envelope_destroy (&event);
        json_decref (own);
        return NULL;
    }
    //  StackStorm's result: the parameters, and again under `output`
    json_t *result = json_deep_copy (own);
    json_object_set_new (result, "output", own);
    return result;
}
