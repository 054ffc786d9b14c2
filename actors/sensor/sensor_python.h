/*  sensor_python: the sensor actor's supervisor of StackStorm Python sensors.

    One child process per enabled sensor definition (registry kind
    "sensor", sensors/NAME.yaml): the pack's virtualenv interpreter (else
    $ATTUNE_PYTHON, else python3; worker_python.h) running
    python/attune_st2/sensor_wrapper.py, with attune's python/ on
    PYTHONPATH and ATTUNE_API / ATTUNE_IDENTITY / ATTUNE_PACK as actions
    get them. Its first stdin line is JSON {sensor: the definition, config:
    the pack's config (pack_config.h), triggers: [instance]}; later lines
    {op: "add" | "remove", trigger: instance} as rules change. An instance
    is {id, ref, uid, type, pack, name, parameters}: one per trigger type of
    the sensor without parameters_schema, and one per distinct parameter
    set that enabled rules give a trigger type with one (StackStorm's
    TriggerDB objects).

    The child's stdout and stderr are logged line by line, prefixed with
    "sensor REF:", the pack config's secret values masked. A child that
    exits is started again after a backoff that doubles from 1 s to 60 s
    (reset once it ran 60 s). A sensor disabled, deleted (pack unloaded) or
    changed is stopped: SIGTERM, SIGKILL 5 s later (a changed one then
    starts again). Children get SIGKILL when the sensor actor's thread
    ends (PR_SET_PDEATHSIG), so they never outlive the daemon.

    Each start and each end is told to the owner's process handler as
    StackStorm's sensor container dispatches them:
    core.st2.sensor.process_spawn {id: class_name, ref, timestamp (Unix
    seconds), pid, cmd} and core.st2.sensor.process_exit {id, ref,
    timestamp, pid, exit_code (the exit status, or minus the signal number
    as Python's Popen.returncode)}.
*/
#ifndef SENSOR_PYTHON_H_INCLUDED
#define SENSOR_PYTHON_H_INCLUDED

#include "actors/actor_loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _sensor_python_t sensor_python_t;

#define SENSOR_PYTHON_SPAWN "core.st2.sensor.process_spawn"
#define SENSOR_PYTHON_EXIT  "core.st2.sensor.process_exit"

//  A child started or ended: `trigger` is process_spawn's or process_exit's
//  ref, `payload` is the handler's (taken).
typedef void (sensor_python_process_fn) (void *arg, const char *trigger, json_t *payload);

//  A supervisor reading its children's output through `loop` (readers of
//  rank 1), telling `on_process` (may be NULL) of starts and ends.
sensor_python_t *sensor_python_new (actor_loop_t *loop,
                                    sensor_python_process_fn *on_process, void *arg);

//  Stop every child (SIGTERM, then SIGKILL after the grace) and free.
void sensor_python_destroy (sensor_python_t **self_p);

//  Make the children match the definitions: `sensors`, `rules` and
//  `triggers` as registry_client_all gives them.
void sensor_python_sync (sensor_python_t *self, const json_t *sensors,
                         const json_t *rules, const json_t *triggers);

//  Reap, restart, enforce stop deadlines, refresh the readers. Every turn.
void sensor_python_tick (sensor_python_t *self);

//  Milliseconds until the next restart or kill is due; -1 when none.
int sensor_python_timeout (sensor_python_t *self);

//  The process of sensor `ref`: {state: running | waiting (to start again
//  after a backoff) | stopping | stopped, pid (0 when none), restarts,
//  triggers (instances), started, next_start (microseconds since the
//  epoch, when known), last_exit ("exited with code 1", "killed by signal
//  9")}; NULL when the supervisor has none for it (a sensor disabled, or
//  stopped and forgotten). Caller owns it.
json_t *sensor_python_child (sensor_python_t *self, const char *ref);

//  [{ref, pid, running, restarts, triggers}] for STATUS.
json_t *sensor_python_status (sensor_python_t *self);

#ifdef __cplusplus
}
#endif

#endif
