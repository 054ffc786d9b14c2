/*  sensor: built-in timer triggers (sensor.h).
*/
#include "actors/sensor/sensor.h"
#include "actors/sensor/sensor_cron.h"
#include "actors/sensor/sensor_python.h"
#include "actors/sensor/sensor_query.h"
#include "actors/actor_loop.h"
#include "actors/event_outbox.h"
#include "actors/registry/registry_client.h"
#include "actors/rules/rules_criteria.h"
#include "bus/bus_link.h"

#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_QUEUE 100000

typedef enum { TIMER_INTERVAL, TIMER_DATE, TIMER_CRON } s_kind_t;

typedef struct {
    char *key; //  type + canonical parameters
    char type[64];
    json_t *parameters;
    s_kind_t kind;
    int64_t interval_us;
    sensor_cron_t cron;
    int64_t next_us; //  wall clock, microseconds
    void *handle;    //  in the ordered list
    bool seen;       //  mark for the rebuild
} s_timer_t;

typedef struct {
    zsock_t *pipe;
    actor_loop_t *loop;
    char source[300];
    registry_client_t *registry;
    bus_link_t *link;
    store_t *store;           //  <data_dir>/sensor: the outbox of process events
    event_outbox_t *outbox;   //  process_spawn / process_exit until rules acks
    sensor_python_t *python;  //  the packs' Python sensors
    sensor_query_t *switches; //  api.sensor.* answers, enable/disable switches
    actor_query_t *query;     //  sensor.query
    zhashx_t *timers;         //  key -> s_timer_t
    zlistx_t *order;          //  s_timer_t by next_us (not owning)
    zlist_t *queue;           //  proto_envelope_t waiting for the link
    bool dirty;               //  rules changed: rebuild the timer set
    uint64_t fired, sent, dropped;
    uint64_t processes; //  process_spawn / process_exit events stored
} s_sensor_t;

static void
s_timer_destroy (void **item_p)
{
    s_timer_t *timer = (s_timer_t *)*item_p;
    if (timer) {
        free (timer->key);
        json_decref (timer->parameters);
        free (timer);
        *item_p = NULL;
    }
}

static int
s_compare (const void *a, const void *b)
{
    int64_t x = ((const s_timer_t *)a)->next_us, y = ((const s_timer_t *)b)->next_us;
    return x < y ? -1 : x > y;
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

//  First fire time of a new timer, or -1 when it will never fire.
static int64_t
s_first (s_timer_t *timer, int64_t now)
{
    switch (timer->kind) {
        case TIMER_INTERVAL:
            return now + timer->interval_us;
        case TIMER_CRON:
            return sensor_cron_next (&timer->cron, now);
        case TIMER_DATE: {
            const char *date =
                json_string_value (json_object_get (timer->parameters, "date"));
            int64_t at;
            if (!date || rules_parse_time (date, &at) != 0)
                return -1;
            //  A time without an offset is in the timer's timezone: only UTC
            //  and fixed offsets are supported (no guessing named zones)
            const char *tz =
                json_string_value (json_object_get (timer->parameters, "timezone"));
            if (tz && (tz[0] == '+' || tz[0] == '-') && strlen (date) <= 26 &&
                !strchr (date + 10, 'Z') && !strchr (date + 10, '+') &&
                !strchr (date + 11, '-')) {
                int hours = 0, minutes = 0;
                if (sscanf (tz + 1, "%d:%d", &hours, &minutes) >= 1)
                    at -= (tz[0] == '-' ? -1 : 1) *
                          ((int64_t)hours * 3600 + minutes * 60) * 1000000;
            }
            return at > now ? at : -1;
        }
    }
    return -1;
}

//  Build a timer from a rule's trigger, or NULL (with a log) when the
//  parameters cannot make one.
static s_timer_t *
s_timer_new (const char *type, const json_t *parameters, const char *key,
             const char *rule)
{
    s_timer_t *timer = (s_timer_t *)zmalloc (sizeof (s_timer_t));
    timer->key = strdup (key);
    snprintf (timer->type, sizeof timer->type, "%s", type);
    timer->parameters = json_deep_copy (parameters);
    char message[256] = "";
    if (streq (type, "core.st2.IntervalTimer")) {
        timer->kind = TIMER_INTERVAL;
        const char *unit = json_string_value (json_object_get (parameters, "unit"));
        json_int_t delta = json_integer_value (json_object_get (parameters, "delta"));
        int64_t scale = !unit                     ? 0
                        : streq (unit, "seconds") ? 1
                        : streq (unit, "minutes") ? 60
                        : streq (unit, "hours")   ? 3600
                        : streq (unit, "days")    ? 86400
                        : streq (unit, "weeks")   ? 604800
                                                  : 0;
        if (scale == 0 || delta < 1)
            snprintf (message, sizeof message, "interval needs unit and delta >= 1");
        timer->interval_us = (int64_t)delta * scale * 1000000;
    } else if (streq (type, "core.st2.CronTimer")) {
        timer->kind = TIMER_CRON;
        const char *fields[7] = {"second", "minute",      "hour",    "day",
                                 "month",  "day_of_week", "timezone"};
        char values[7][64];
        for (int i = 0; i < 7; i++) {
            json_t *value = json_object_get (parameters, fields[i]);
            if (json_is_integer (value))
                snprintf (values[i], sizeof values[i], "%" JSON_INTEGER_FORMAT,
                          json_integer_value (value));
            else
                snprintf (values[i], sizeof values[i], "%s",
                          json_is_string (value) ? json_string_value (value) : "*");
        }
        if (!json_object_get (parameters, "second"))
            snprintf (values[0], sizeof values[0], "0");
        if (!json_object_get (parameters, "timezone"))
            snprintf (values[6], sizeof values[6], "UTC");
        sensor_cron_parse_fields (&timer->cron, values[0], values[1], values[2],
                                  values[3], values[4], values[5], values[6], message,
                                  sizeof message);
    } else if (streq (type, "core.st2.DateTimer"))
        timer->kind = TIMER_DATE;
    else
        snprintf (message, sizeof message, "not a timer type");
    if (*message) {
        zsys_error ("sensor: rule %s: trigger.parameters: %s", rule, message);
        void *item = timer;
        s_timer_destroy (&item);
        return NULL;
    }
    return timer;
}

static bool
s_is_timer (const char *type)
{
    return type &&
           (streq (type, "core.st2.IntervalTimer") ||
            streq (type, "core.st2.DateTimer") || streq (type, "core.st2.CronTimer"));
}

static void
s_schedule (s_sensor_t *self, s_timer_t *timer)
{
    if (timer->handle) {
        zlistx_delete (self->order, timer->handle);
        timer->handle = NULL;
    }
    if (timer->next_us >= 0)
        timer->handle = zlistx_insert (self->order, timer, true);
}

//  Rebuild the timer set from the enabled rules; keep timers that still
//  exist (their phase is kept), add new ones, drop the others.
static void
s_rebuild (s_sensor_t *self)
{
    self->dirty = false;
    for (s_timer_t *timer = (s_timer_t *)zhashx_first (self->timers); timer;
         timer = (s_timer_t *)zhashx_next (self->timers))
        timer->seen = false;
    int64_t now = proto_now_usec ();
    const char *ref;
    json_t *rule;
    json_object_foreach ((json_t *)registry_client_all (self->registry, "rule"), ref,
                         rule)
    {
        if (json_is_false (json_object_get (rule, "enabled")))
            continue;
        json_t *trigger = json_object_get (rule, "trigger");
        const char *type = json_string_value (json_object_get (trigger, "type"));
        if (!s_is_timer (type))
            continue;
        json_t *parameters = json_object_get (trigger, "parameters");
        char *canonical = json_dumps (parameters ? parameters : json_object (),
                                      JSON_COMPACT | JSON_SORT_KEYS);
        char *key = zsys_sprintf ("%s %s", type, canonical ? canonical : "{}");
        free (canonical);
        s_timer_t *timer = (s_timer_t *)zhashx_lookup (self->timers, key);
        if (!timer) {
            timer =
                s_timer_new (type, parameters ? parameters : json_object (), key, ref);
            if (timer) {
                timer->next_us = s_first (timer, now);
                zhashx_insert (self->timers, key, timer);
                s_schedule (self, timer);
                char when[64] = "never";
                if (timer->next_us >= 0)
                    s_iso (timer->next_us, when, sizeof when);
                zsys_info ("sensor: timer %s: next %s", key, when);
            }
        }
        if (timer)
            timer->seen = true;
        zstr_free (&key);
    }
    zlist_t *gone = zlist_new ();
    for (s_timer_t *timer = (s_timer_t *)zhashx_first (self->timers); timer;
         timer = (s_timer_t *)zhashx_next (self->timers))
        if (!timer->seen)
            zlist_append (gone, timer);
    for (s_timer_t *timer = (s_timer_t *)zlist_first (gone); timer;
         timer = (s_timer_t *)zlist_next (gone)) {
        if (timer->handle)
            zlistx_delete (self->order, timer->handle);
        timer->handle = NULL;
        zsys_info ("sensor: timer %s: removed", timer->key);
        zhashx_delete (self->timers, timer->key);
    }
    zlist_destroy (&gone);
    json_t *sensors = sensor_query_apply (self->switches,
                                          registry_client_all (self->registry, "sensor"));
    sensor_python_sync (self->python, sensors,
                        registry_client_all (self->registry, "rule"),
                        registry_client_all (self->registry, "trigger"));
    json_decref (sensors);
}

static void
s_on_change (void *arg, const char *kind, const char *ref, const json_t *definition)
{
    if (streq (kind, "rule") || streq (kind, "sensor") || streq (kind, "trigger"))
        ((s_sensor_t *)arg)->dirty = true;
}

//  ---------------------------------------------------------------------------
//  Firing

static void
s_flush (s_sensor_t *self)
{
    while (zlist_size (self->queue) && bus_link_can_send (self->link)) {
        proto_envelope_t *event = (proto_envelope_t *)zlist_pop (self->queue);
        if (bus_link_send (self->link, &event) != 0) {
            zlist_push (self->queue, event);
            break;
        }
        self->sent++;
    }
}

static void
s_fire (s_sensor_t *self, s_timer_t *timer, int64_t at)
{
    self->fired++;
    char when[64];
    s_iso (at, when, sizeof when);
    json_t *payload = json_pack ("{s:s, s:O, s:{s:s, s:O}}", "trigger", timer->type,
                                 "trigger_parameters", timer->parameters, "payload",
                                 "executed_at", when, "schedule", timer->parameters);
    proto_envelope_t *event = proto_envelope_new ("event.create", self->source);
    if (!event || proto_envelope_set_payload_json (event, payload, NULL) != PROTO_OK) {
        proto_envelope_destroy (&event);
        json_decref (payload);
        return;
    }
    json_decref (payload);
    if (zlist_size (self->queue) >= S_MAX_QUEUE) {
        self->dropped++;
        if (self->dropped <= 10 || self->dropped % 1000 == 0)
            zsys_warning (
                "sensor: rules is not keeping up: dropped a firing of %s (%" PRIu64
                " so far)",
                timer->key, self->dropped);
        proto_envelope_destroy (&event);
        return;
    }
    zlist_append (self->queue, event);
    s_flush (self);
}

static void
s_run_timers (s_sensor_t *self)
{
    int64_t now = proto_now_usec ();
    s_timer_t *timer;
    while ((timer = (s_timer_t *)zlistx_first (self->order)) && timer->next_us <= now) {
        int64_t at = timer->next_us;
        s_fire (self, timer, at);
        switch (timer->kind) {
            case TIMER_INTERVAL:
                timer->next_us = at + timer->interval_us;
                if (timer->next_us <= now) //  late: skip the missed slots
                    timer->next_us =
                        now + timer->interval_us - (now - at) % timer->interval_us;
                break;
            case TIMER_CRON:
                timer->next_us = sensor_cron_next (&timer->cron, now > at ? now : at);
                break;
            case TIMER_DATE:
                timer->next_us = -1; //  once
                break;
        }
        s_schedule (self, timer);
    }
}

static int
s_timers_timeout (s_sensor_t *self)
{
    s_timer_t *timer = (s_timer_t *)zlistx_first (self->order);
    if (!timer)
        return -1;
    int64_t wait = (timer->next_us - proto_now_usec () + 999) / 1000;
    return wait < 0 ? 0 : wait > 60000 ? 60000 : (int)wait;
}

//  ---------------------------------------------------------------------------
//  Process events: process_spawn / process_exit, durable in the sensor's
//  own store before they are sent (event_outbox.h), raised only while an
//  enabled rule is on their type (they are rare: the rules are looked at
//  each time)

typedef struct {
    s_sensor_t *self;
    const char *trigger;
    json_t *payload;
} s_process_event_t;

static bool
s_listened (s_sensor_t *self, const char *trigger)
{
    const char *ref;
    json_t *rule;
    json_object_foreach ((json_t *)registry_client_all (self->registry, "rule"), ref,
                         rule)
    {
        const char *type = json_string_value (
            json_object_get (json_object_get (rule, "trigger"), "type"));
        if (!json_is_false (json_object_get (rule, "enabled")) && type &&
            streq (type, trigger))
            return true;
    }
    return false;
}

static int
s_process_write (store_txn_t *txn, void *arg)
{
    s_process_event_t *event = (s_process_event_t *)arg;
    event_outbox_attempt (event->self->outbox);
    return event_outbox_add (event->self->outbox, txn, event->trigger,
                             json_incref (event->payload));
}

static void
s_on_process (void *arg, const char *trigger, json_t *payload)
{
    s_sensor_t *self = (s_sensor_t *)arg;
    if (self->outbox && s_listened (self, trigger)) {
        s_process_event_t event = {self, trigger, payload};
        store_code_t code = store_write (self->store, s_process_write, &event);
        if (code == STORE_OK) {
            event_outbox_committed (self->outbox);
            self->processes++;
        } else {
            event_outbox_attempt (self->outbox);
            zsys_error ("sensor: cannot store a %s event: %s", trigger,
                        store_last_error (self->store));
        }
    }
    json_decref (payload);
}

//  ---------------------------------------------------------------------------
//  Actor

static json_t *
s_pipe_status (void *arg)
{
    s_sensor_t *self = (s_sensor_t *)arg;
    json_t *timers = json_array ();
    for (s_timer_t *timer = (s_timer_t *)zlistx_first (self->order); timer;
         timer = (s_timer_t *)zlistx_next (self->order)) {
        char when[64];
        s_iso (timer->next_us, when, sizeof when);
        json_array_append_new (timers,
                               json_pack ("{s:s, s:O, s:s}", "type", timer->type,
                                          "parameters", timer->parameters, "next", when));
    }
    return json_pack ("{s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I}", "timers", timers,
                      "sensors", sensor_python_status (self->python), "fired",
                      (json_int_t)self->fired, "sent", (json_int_t)self->sent, "dropped",
                      (json_int_t)self->dropped, "queued",
                      (json_int_t)zlist_size (self->queue), "process_events",
                      (json_int_t)self->processes, "outbox",
                      (json_int_t)(self->outbox ? event_outbox_size (self->outbox) : 0));
}

//  sensor.query: api.status, and api.sensor.* (sensor_query.h); a switch
//  changed is applied before the answer, which shows the process after it
static void
s_handle_query (void *arg, const char *type, json_t *payload, actor_answer_t *answer)
{
    s_sensor_t *self = (s_sensor_t *)arg;
    if (streq (type, "api.status")) {
        answer->result = s_pipe_status (self);
        json_object_set_new (answer->result, "up", json_true ());
        return;
    }
    const json_t *sensors = registry_client_all (self->registry, "sensor");
    if (sensor_query_answer (self->switches, sensors, self->python, type, payload,
                             answer)) {
        s_rebuild (self);
        json_decref (answer->result);
        answer->result = NULL;
        sensor_query_answer (self->switches, sensors, self->python, "api.sensor.get",
                             payload, answer);
    }
}

static void
s_on_query (void *arg, void *unused)
{
    s_sensor_t *self = (s_sensor_t *)arg;
    actor_query_handle (self->query, s_handle_query, self);
}

static void
s_sensor_destroy (s_sensor_t **self_p)
{
    s_sensor_t *self = *self_p;
    if (!self)
        return;
    sensor_python_destroy (&self->python);
    actor_query_destroy (&self->query);
    sensor_query_destroy (&self->switches);
    event_outbox_destroy (&self->outbox);
    actor_loop_destroy (&self->loop);
    zlistx_destroy (&self->order);
    zhashx_destroy (&self->timers);
    if (self->queue) {
        proto_envelope_t *event;
        while ((event = (proto_envelope_t *)zlist_pop (self->queue)))
            proto_envelope_destroy (&event);
        zlist_destroy (&self->queue);
    }
    bus_link_destroy (&self->link);
    store_close (&self->store);
    registry_client_destroy (&self->registry);
    free (self);
    *self_p = NULL;
}

static void
s_on_link (void *self, void *unused)
{
    bus_link_handle (((s_sensor_t *)self)->link);
}

static int
s_timeout (void *arg)
{
    s_sensor_t *self = (s_sensor_t *)arg;
    int timeout = bus_link_timeout (self->link);
    int t = s_timers_timeout (self);
    if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    t = sensor_python_timeout (self->python);
    if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    if (zlist_size (self->queue) && (timeout < 0 || timeout > 10))
        timeout = 10;
    return timeout;
}

static void
s_after (void *arg)
{
    s_sensor_t *self = (s_sensor_t *)arg;
    if (self->dirty)
        s_rebuild (self);
    s_run_timers (self);
    sensor_python_tick (self->python);
    bus_link_tick (self->link);
    s_flush (self);
    event_outbox_pump (self->outbox);
}

//  The state, the link to rules, the registry client and the loop; NULL
//  on failure (logged).
static s_sensor_t *
s_sensor_new (zsock_t *pipe, const actor_config_t *config)
{
    s_sensor_t *self = (s_sensor_t *)zmalloc (sizeof (s_sensor_t));
    self->pipe = pipe;
    char host[256];
    actor_host (config, host, sizeof host);
    snprintf (self->source, sizeof self->source, "sensor@%s", host);
    bus_link_config_t link_config;
    actor_link_config (config, &link_config);
    self->timers = zhashx_new ();
    self->order = zlistx_new ();
    self->queue = zlist_new ();
    self->registry = registry_client_new_keeping (config->topology, self->source,
                                                  REGISTRY_KEEP_SENSOR);
    self->link = bus_link_new (bus_topology_connect (config->topology, "rules.commands"),
                               self->source, &link_config);
    self->store = actor_store_open (config, "sensor");
    self->outbox = self->store && self->link ? event_outbox_new (self->store, "outbox",
                                                                 self->link, self->source)
                                             : NULL;
    self->switches = self->store ? sensor_query_new (self->store) : NULL;
    self->query = actor_query_new (bus_topology_bind (config->topology, "sensor.query"),
                                   self->source);
    if (self->query && self->store)
        actor_query_set_store (self->query, self->store, "sensor"); //  store.backup
    self->loop = actor_loop_new (pipe, "sensor", self);
    self->python = self->loop ? sensor_python_new (self->loop, s_on_process, self) : NULL;
    if (!self->timers || !self->order || !self->queue || !self->registry || !self->link ||
        !self->outbox || !self->switches || !self->query || !self->loop ||
        !self->python ||
        actor_loop_reader (self->loop, actor_query_sock (self->query), 2, s_on_query,
                           NULL) != 0 ||
        actor_loop_registry (self->loop, self->registry, NULL, NULL) != 0 ||
        actor_loop_reader (self->loop, bus_link_sock (self->link), 0, s_on_link, NULL) !=
            0) {
        zsys_error ("sensor: cannot start");
        s_sensor_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->timers, s_timer_destroy);
    zlistx_set_comparator (self->order, s_compare);
    registry_client_set_change_handler (self->registry, s_on_change, self);
    actor_loop_set_status (self->loop, s_pipe_status);
    actor_loop_set_timeout (self->loop, s_timeout);
    actor_loop_set_after (self->loop, s_after);
    return self;
}

void
sensor_actor (zsock_t *pipe, void *args)
{
    s_sensor_t *self = s_sensor_new (pipe, (const actor_config_t *)args);
    zsock_signal (pipe, self ? 0 : 1);
    if (self)
        actor_loop_run (self->loop);
    s_sensor_destroy (&self);
}
