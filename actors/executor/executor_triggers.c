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

//  The outbox's work of this attempt (events stored, acked rows deleted)
//  is settled when it commits, undone when it does not: one effect an
//  attempt, queued by the first change
static void
s_committed (void *ctx, void *unused)
{
    executor_t *self = (executor_t *)ctx;
    self->outbox_effect = false;
    event_outbox_committed (self->outbox);
}

static void
s_dropped (void *ctx, void *unused)
{
    executor_t *self = (executor_t *)ctx;
    self->outbox_effect = false;
    event_outbox_attempt (self->outbox);
}

static int
s_effect (executor_t *self)
{
    if (self->outbox_effect)
        return 0;
    if (actor_effects_add (self->effects, s_committed, s_dropped, NULL) != 0)
        return -1;
    self->outbox_effect = true;
    return 0;
}

static int
s_raise (executor_t *self, store_txn_t *txn, const char *trigger, json_t *payload)
{
    if (s_effect (self) != 0) {
        json_decref (payload);
        return -1;
    }
    return event_outbox_add (self->outbox, txn, trigger, payload);
}

int
executor_triggers_flush (executor_t *self, store_txn_t *txn)
{
    if (!self->outbox || event_outbox_acked (self->outbox) == 0)
        return 0;
    if (s_effect (self) != 0)
        return -1;
    return event_outbox_flush (self->outbox, txn) < 0 ? -1 : 0;
}

//  ISO 8601 in UTC with microseconds. The second last formatted is kept:
//  an execution's start and end, and the ends of one commit, mostly fall in
//  the same second, and gmtime_r + strftime cost more than the rest of the
//  payload
static void
s_iso (int64_t usec, char *out, size_t size)
{
    static _Thread_local time_t last;
    static _Thread_local char base[32]; //  "": none formatted yet
    time_t seconds = (time_t)(usec / 1000000);
    if (seconds != last || !base[0]) {
        struct tm tm;
        gmtime_r (&seconds, &tm);
        strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
        last = seconds;
    }
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

//  A string field of the record, "" when it is not one
static void
s_pack_text (msgpack_packer *pk, const executor_record_t *record,
             executor_record_field_t field)
{
    const msgpack_object *value = executor_record_get (record, field);
    if (value && value->type == MSGPACK_OBJECT_STR)
        msgpack_pack_object (pk, *value);
    else
        proto_pack_str (pk, "");
}

//  A time field of the record (microseconds), 0 when it is not an integer
static int64_t
s_usec (const executor_record_t *record, executor_record_field_t field)
{
    const msgpack_object *value = executor_record_get (record, field);
    if (value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)value->via.u64;
    return value && value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? value->via.i64 : 0;
}

static void
s_pack_json_text (msgpack_packer *pk, const json_t *action, const char *key)
{
    const char *text = json_string_value (json_object_get (action, key));
    proto_pack_str (pk, text ? text : "");
}

//  The actiontrigger payload of self->record's ended execution, packed
//  straight from the record into self->packed. 0, or -1 when its
//  parameters cannot be masked.
static int
s_action_payload (executor_t *self, const json_t *action)
{
    const executor_record_t *record = &self->record;
    char started[48], ended[48], status[32];
    s_iso (s_usec (record, EXECUTOR_RECORD_STARTED), started, sizeof started);
    s_iso (s_usec (record, EXECUTOR_RECORD_ENDED), ended, sizeof ended);
    executor_record_text (record, EXECUTOR_RECORD_STATUS, status, sizeof status);
    const msgpack_object *parameters =
        executor_record_get (record, EXECUTOR_RECORD_PARAMETERS);
    const msgpack_object *result = executor_record_get (record, EXECUTOR_RECORD_RESULT);
    const msgpack_object *parent = executor_record_extra (record, "parent");
    bool with_parent = parent && parent->type == MSGPACK_OBJECT_STR;
    msgpack_sbuffer_clear (&self->packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 9 + with_parent);
    proto_pack_str (&pk, "execution_id");
    s_pack_text (&pk, record, EXECUTOR_RECORD_ID);
    proto_pack_str (&pk, "status");
    proto_pack_str (&pk, s_st2_status (status));
    proto_pack_str (&pk, "start_timestamp");
    proto_pack_str (&pk, started);
    proto_pack_str (&pk, "end_timestamp");
    proto_pack_str (&pk, ended);
    proto_pack_str (&pk, "action_name");
    s_pack_json_text (&pk, action, "name");
    proto_pack_str (&pk, "action_ref");
    s_pack_text (&pk, record, EXECUTOR_RECORD_ACTION);
    proto_pack_str (&pk, "runner_ref");
    s_pack_json_text (&pk, action, "runner_type");
    proto_pack_str (&pk, "parameters");
    if (!parameters || parameters->type != MSGPACK_OBJECT_MAP)
        msgpack_pack_map (&pk, 0);
    else if (executor_pack_parameters (self, action, &pk) != 0)
        return -1;
    proto_pack_str (&pk, "result");
    if (result)
        msgpack_pack_object (&pk, *result);
    else
        msgpack_pack_nil (&pk);
    if (with_parent) {
        proto_pack_str (&pk, "parent");
        msgpack_pack_object (&pk, *parent);
    }
    return 0;
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
    if (s_action_payload (self, action) != 0)
        return -1;
    if (notify) {
        //  The notify block's events are rare: built from the JSON form
        json_t *base = proto_json_from_buffer (self->packed.data, self->packed.size,
                                               "payload", NULL);
        int rc = base ? s_notify (self, txn, base, action) : -1;
        json_decref (base);
        if (rc != 0)
            return -1;
    }
    if (!self->listen_action)
        return 0;
    if (s_effect (self) != 0)
        return -1;
    return event_outbox_add_packed (self->outbox, txn, S_ACTION, self->packed.data,
                                    self->packed.size);
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
