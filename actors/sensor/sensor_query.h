/*  sensor_query: what the sensor actor answers on `sensor.query` about the
    packs' Python sensors (proto/PROTOCOL.md, "Sensors"), and their
    switches.

    The registry owns the definitions (a pack's sensors/NAME.yaml, `enabled`
    as written); the sensor actor knows its processes. A list or get joins
    both: the definition's fields, `enabled` as the actor applies it, and
    `process` (sensor_python_child). `api.sensor.enable` / `disable` set a
    switch that overrides the definition's `enabled` (StackStorm's `st2
    sensor enable|disable`): kept in the actor's own store (table
    "switches": ref -> "1" | "0"), durable before the answer, kept across
    restarts and pack reloads until set again.
*/
#ifndef SENSOR_QUERY_H_INCLUDED
#define SENSOR_QUERY_H_INCLUDED

#include "actors/actor_query.h"
#include "actors/sensor/sensor_python.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _sensor_query_t sensor_query_t;

//  The switches of `store` (borrowed) loaded. NULL on failure (logged).
sensor_query_t *sensor_query_new (store_t *store);
void sensor_query_destroy (sensor_query_t **self_p);

//  `sensors` (registry_client_all's, borrowed) with the switches applied:
//  a new object the caller owns.
json_t *sensor_query_apply (sensor_query_t *self, const json_t *sensors);

//  Answer api.sensor.list {pack, after, limit}, api.sensor.get {ref},
//  api.sensor.enable / disable {ref}. True when a switch changed (the
//  caller makes its processes match again).
bool sensor_query_answer (sensor_query_t *self, const json_t *sensors,
                          sensor_python_t *python, const char *type, json_t *payload,
                          actor_answer_t *answer);

#ifdef __cplusplus
}
#endif

#endif
