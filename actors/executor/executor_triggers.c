/*  executor_triggers: StackStorm's built-in triggers the executor raises
    (executor_internal.h), durable from the executor's own transaction
    through actors/event_outbox:

    - core.st2.generic.actiontrigger when an execution ends: execution_id,
      status (StackStorm's names: succeeded, failed, timeout, canceled,
      abandoned), start_timestamp, end_timestamp, action_name, action_ref,
      runner_ref, parameters (secrets masked, as in facts), result, and
      parent when it is a workflow's task;
    - core.st2.generic.notifytrigger from the action's `notify` block
      (on-complete, on-success, on-failure: message, data, routes), one per
      route, with the actiontrigger's fields and message, data, route and
      channel (StackStorm's older name of the route);
    - core.st2.generic.inquiry when an inquiry opens: id, route, execution.

    Each is raised only while an enabled rule is on its trigger type (the
    registry's rules, looked at again when they change), so an end costs
    nothing more when no rule listens. */
#include "actors/executor/executor_internal.h"
#include "actors/event_outbox.h"

#define S_ACTION  "core.st2.generic.actiontrigger"
#define S_NOTIFY  "core.st2.generic.notifytrigger"
#define S_INQUIRY "core.st2.generic.inquiry"

int
executor_triggers_open (executor_t *self)
{
    const char *endpoint = bus_topology_connect (self->config.topology, "rules.commands");
    if (!endpoint)
        return 0; //  no rules actor in this topology: nothing listens
    bus_link_config_t config = self->link_config;
    config.send_timeout_ms = 0; //  never block on the rules actor: the outbox waits
    self->events = bus_link_new (endpoint, self->source, &config);
    self->outbox = self->events ? event_outbox_new (self->store, "outbox", self->events,
                                                    self->source)
                                : NULL;
    if (!self->outbox) {
        zsys_error ("executor: cannot connect to rules.commands for built-in triggers");
        return -1;
    }
    return 0;
}

void
executor_triggers_close (executor_t *self)
{
    event_outbox_destroy (&self->outbox);
    bus_link_destroy (&self->events);
}

//  Which built-in triggers an enabled rule is on, from the registry's
//  rules (looked at again when the registry changed)
static void
s_listeners (executor_t *self)
{
    uint64_t version = registry_client_version (self->registry);
    if (version == self->triggers_version)
        return;
    self->triggers_version = version;
    self->listen_action = self->listen_notify = self->listen_inquiry = false;
    const char *ref;
    json_t *rule;
    json_object_foreach ((json_t *)registry_client_all (self->registry, "rule"), ref,
                         rule)
    {
        if (json_is_false (json_object_get (rule, "enabled")))
            continue;
        const char *type = json_string_value (
            json_object_get (json_object_get (rule, "trigger"), "type"));
        self->listen_action |= type && streq (type, S_ACTION);
        self->listen_notify |= type && streq (type, S_NOTIFY);
        self->listen_inquiry |= type && streq (type, S_INQUIRY);
    }
}

//  The outbox's events of this attempt go when it commits, are forgotten
//  when it does not
static void
s_committed (void *ctx, void *unused)
{
    executor_t *self = (executor_t *)ctx;
    event_outbox_committed (self->outbox);
}

static void
s_dropped (void *ctx, void *unused)
{
    executor_t *self = (executor_t *)ctx;
    event_outbox_attempt (self->outbox);
}

static int
s_raise (executor_t *self, store_txn_t *txn, const char *trigger, json_t *payload)
{
    if (!payload)
        return -1;
    if (event_outbox_add (self->outbox, txn, trigger, payload) != 0)
        return -1;
    //  One effect per event: each moves the events stored so far
    return actor_effects_add (self->effects, s_committed, s_dropped, NULL);
}

static void
s_iso (int64_t usec, char *out, size_t size)
{
    time_t seconds = (time_t)(usec / 1000000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    char base[32];
    strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (out, size, "%s.%06dZ", base, (int)(usec % 1000000));
}

//  StackStorm's name of a status
static const char *
s_st2_status (const char *status)
{
    if (streq (status, "completed"))
        return "succeeded";
    return streq (status, "cancelled") ? "canceled" : status;
}

//  The actiontrigger payload of the fact (JSON) of an ended execution
static json_t *
s_action_payload (const json_t *fact, const json_t *action)
{
    char started[48], ended[48];
    s_iso (json_integer_value (json_object_get (fact, "started")), started,
           sizeof started);
    s_iso (json_integer_value (json_object_get (fact, "ended")), ended, sizeof ended);
    const char *status = json_string_value (json_object_get (fact, "status"));
    const char *name = json_string_value (json_object_get (action, "name"));
    const char *runner = json_string_value (json_object_get (action, "runner_type"));
    json_t *payload = json_pack (
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "execution_id",
        json_string_value (json_object_get (fact, "execution")) ?: "", "status",
        s_st2_status (status ? status : ""), "start_timestamp", started, "end_timestamp",
        ended, "action_name", name ? name : "", "action_ref",
        json_string_value (json_object_get (fact, "action")) ?: "", "runner_ref",
        runner ? runner : "");
    json_t *parameters = json_object_get (fact, "parameters");
    json_t *result = json_object_get (fact, "result");
    json_t *parent = json_object_get (fact, "parent");
    if (payload) {
        json_object_set_new (payload, "parameters",
                             json_is_object (parameters) ? json_incref (parameters)
                                                         : json_object ());
        json_object_set_new (payload, "result",
                             result ? json_incref (result) : json_null ());
        if (json_is_string (parent))
            json_object_set (payload, "parent", parent);
    }
    return payload;
}

//  notifytrigger: the action's notify block for this end, one event per
//  route. 0 or -1.
static int
s_notify (executor_t *self, store_txn_t *txn, const json_t *base, const json_t *action)
{
    const json_t *notify = json_object_get (action, "notify");
    const char *status = json_string_value (json_object_get (base, "status"));
    if (!json_is_object (notify) || !status)
        return 0;
    const char *which[] = {"on-complete",
                           streq (status, "succeeded") ? "on-success" : "on-failure"};
    for (int w = 0; w < 2; w++) {
        const json_t *block = json_object_get (notify, which[w]);
        const json_t *routes = json_object_get (block, "routes");
        if (!json_is_array (routes))
            routes = json_object_get (block, "channels"); //  StackStorm's old name
        size_t i;
        const json_t *route;
        json_array_foreach (routes, i, route)
        {
            if (!json_is_string (route))
                continue;
            json_t *payload = json_deep_copy (base);
            const json_t *message = json_object_get (block, "message");
            const json_t *data = json_object_get (block, "data");
            json_object_set_new (payload, "message",
                                 json_is_string (message)
                                     ? json_incref ((json_t *)message)
                                     : json_string (""));
            json_object_set_new (payload, "data",
                                 data ? json_incref ((json_t *)data) : json_object ());
            json_object_set (payload, "route", (json_t *)route);
            json_object_set (payload, "channel", (json_t *)route);
            if (s_raise (self, txn, S_NOTIFY, payload) != 0)
                return -1;
        }
    }
    return 0;
}

int
executor_triggers_ended (executor_t *self, store_txn_t *txn, const json_t *action)
{
    if (!self->outbox)
        return 0;
    s_listeners (self);
    bool notify =
        self->listen_notify && json_is_object (json_object_get (action, "notify"));
    if (!self->listen_action && !notify)
        return 0; //  the common case: no rule listens
    char type[48];
    proto_envelope_t *fact = executor_fact_envelope (self, action, type, sizeof type);
    json_t *json = fact ? proto_envelope_payload_json (fact, NULL) : NULL;
    proto_envelope_destroy (&fact);
    json_t *base = json ? s_action_payload (json, action) : NULL;
    json_decref (json);
    if (!base)
        return -1;
    int rc = 0;
    if (notify)
        rc = s_notify (self, txn, base, action);
    if (rc == 0 && self->listen_action)
        rc = s_raise (self, txn, S_ACTION, json_incref (base));
    json_decref (base);
    return rc;
}

int
executor_triggers_inquiry (executor_t *self, store_txn_t *txn, const json_t *inquiry)
{
    if (!self->outbox)
        return 0;
    s_listeners (self);
    if (!self->listen_inquiry)
        return 0;
    //  The route is core.ask's parameter (the execution is self->record)
    char route[256] = "";
    const msgpack_object *parameters =
        executor_record_get (&self->record, EXECUTOR_RECORD_PARAMETERS);
    if (parameters && parameters->type == MSGPACK_OBJECT_MAP)
        executor_get_str (parameters, "route", route, sizeof route);
    const char *execution = json_string_value (json_object_get (inquiry, "execution"));
    const char *id = json_string_value (json_object_get (inquiry, "id"));
    if (!id)
        id = json_string_value (json_object_get (inquiry, "inquiry"));
    return s_raise (self, txn, S_INQUIRY,
                    json_pack ("{s:s, s:s, s:s}", "id", id ? id : "", "route", route,
                               "execution", execution ? execution : ""));
}

void
executor_triggers_pump (executor_t *self)
{
    if (self->outbox) {
        event_outbox_pump (self->outbox);
        bus_link_tick (self->events);
    }
}
