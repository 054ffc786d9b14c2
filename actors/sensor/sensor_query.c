/*  sensor_query: the sensor actor's answers about Python sensors, and
    their switches (sensor_query.h).
*/
#include "actors/sensor/sensor_query.h"

#define S_TABLE "switches"

struct _sensor_query_t {
    store_t *store;
    store_table_t *table;
    json_t *switches; //  ref -> true | false
};

static int
s_load (sensor_query_t *self)
{
    store_txn_t *txn = store_read_begin (self->store);
    store_cursor_t *cursor = txn ? store_cursor_new (txn, self->table) : NULL;
    store_code_t code = cursor ? store_cursor_first (cursor) : STORE_INTERNAL;
    for (; code == STORE_OK; code = store_cursor_next (cursor)) {
        size_t key_size, size;
        const char *key = (const char *)store_cursor_key (cursor, &key_size);
        const char *data = (const char *)store_cursor_data (cursor, &size);
        char *ref = key ? strndup (key, key_size) : NULL;
        if (ref)
            json_object_set_new (self->switches, ref,
                                 json_boolean (size == 1 && data[0] == '1'));
        free (ref);
    }
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    return code == STORE_NOTFOUND ? 0 : -1;
}

sensor_query_t *
sensor_query_new (store_t *store)
{
    sensor_query_t *self = (sensor_query_t *)zmalloc (sizeof (sensor_query_t));
    self->store = store;
    self->table = store_table (store, S_TABLE, false);
    self->switches = json_object ();
    if (!self->table || s_load (self) != 0) {
        zsys_error ("sensor: cannot read the sensor switches: %s",
                    store_last_error (store));
        sensor_query_destroy (&self);
    }
    return self;
}

void
sensor_query_destroy (sensor_query_t **self_p)
{
    if (self_p && *self_p) {
        json_decref ((*self_p)->switches);
        free (*self_p);
        *self_p = NULL;
    }
}

json_t *
sensor_query_apply (sensor_query_t *self, const json_t *sensors)
{
    json_t *out = json_object ();
    const char *ref;
    json_t *sensor;
    json_object_foreach ((json_t *)sensors, ref, sensor)
    {
        json_t *on = json_object_get (self->switches, ref);
        bool enabled =
            on ? json_is_true (on) : !json_is_false (json_object_get (sensor, "enabled"));
        if (enabled == !json_is_false (json_object_get (sensor, "enabled")))
            json_object_set (out, ref, sensor);
        else {
            json_t *copy = json_copy (sensor);
            json_object_set_new (copy, "enabled", json_boolean (enabled));
            json_object_set_new (out, ref, copy);
        }
    }
    return out;
}

//  ---------------------------------------------------------------------------
//  Answers

//  A sensor as clients see it: the definition without the server's paths,
//  `enabled` as applied, `enabled_in_pack` as written, its switch and its
//  process. Caller owns it.
static json_t *
s_item (sensor_query_t *self, sensor_python_t *python, const char *ref,
        const json_t *definition)
{
    json_t *item = json_deep_copy (definition);
    if (!item)
        return NULL;
    json_object_del (item, "file");
    json_object_del (item, "pack_dir");
    json_object_del (item, "entry_point");
    bool written = !json_is_false (json_object_get (definition, "enabled"));
    json_t *on = json_object_get (self->switches, ref);
    json_object_set_new (item, "enabled_in_pack", json_boolean (written));
    json_object_set_new (item, "enabled",
                         json_boolean (on ? json_is_true (on) : written));
    json_object_set_new (item, "switch", on ? json_incref (on) : json_null ());
    json_t *process = sensor_python_child (python, ref);
    json_object_set_new (item, "process", process ? process : json_null ());
    return item;
}

static void
s_list (sensor_query_t *self, const json_t *sensors, sensor_python_t *python,
        json_t *payload, actor_answer_t *answer)
{
    const char *pack = actor_arg_str (payload, "pack", answer);
    const char *after = actor_arg_str (payload, "after", answer);
    int64_t limit = actor_arg_int (payload, "limit", 0, 0, INT32_MAX, answer);
    if (answer->code[0])
        return;
    json_t *matching = json_array ();
    const char *ref;
    json_t *definition;
    json_object_foreach ((json_t *)sensors, ref, definition)
    {
        const char *its_pack = json_string_value (json_object_get (definition, "pack"));
        if (!pack || (its_pack && streq (pack, its_pack)))
            json_array_append_new (matching, s_item (self, python, ref, definition));
    }
    answer->result = actor_page_list (matching, "ref", after, (size_t)limit, NULL);
    json_decref (matching);
}

typedef struct {
    sensor_query_t *self;
    const char *ref;
    bool enabled;
} s_switch_t;

static int
s_switch_write (store_txn_t *txn, void *arg)
{
    s_switch_t *change = (s_switch_t *)arg;
    return store_put (txn, change->self->table, change->ref, strlen (change->ref),
                      change->enabled ? "1" : "0", 1) == STORE_OK
               ? 0
               : -1;
}

//  api.sensor.enable / disable: the switch stored, then applied. True
//  when it changed.
static bool
s_switch (sensor_query_t *self, const char *ref, bool enabled, actor_answer_t *answer)
{
    json_t *on = json_object_get (self->switches, ref);
    if (on && json_is_true (on) == enabled)
        return false;
    s_switch_t change = {self, ref, enabled};
    if (store_write (self->store, s_switch_write, &change) != STORE_OK) {
        actor_query_fail (answer, "internal", "sensor %s: cannot store the switch: %s",
                          ref, store_last_error (self->store));
        return false;
    }
    json_object_set_new (self->switches, ref, json_boolean (enabled));
    zsys_info ("sensor %s: %s through the api", ref, enabled ? "enabled" : "disabled");
    return true;
}

bool
sensor_query_answer (sensor_query_t *self, const json_t *sensors, sensor_python_t *python,
                     const char *type, json_t *payload, actor_answer_t *answer)
{
    if (streq (type, "api.sensor.list")) {
        s_list (self, sensors, python, payload, answer);
        return false;
    }
    bool get = streq (type, "api.sensor.get"), enable = streq (type, "api.sensor.enable"),
         disable = streq (type, "api.sensor.disable");
    if (!get && !enable && !disable) {
        actor_query_fail (answer, "unknown_type", "the sensor actor does not answer '%s'",
                          type);
        return false;
    }
    const char *ref = json_string_value (json_object_get (payload, "ref"));
    const json_t *definition = ref ? json_object_get (sensors, ref) : NULL;
    if (!definition) {
        actor_query_fail (answer, "not_found", "no sensor '%s'", ref ? ref : "");
        return false;
    }
    bool changed = !get && s_switch (self, ref, enable, answer);
    if (!answer->code[0])
        answer->result = s_item (self, python, ref, definition);
    return changed;
}
