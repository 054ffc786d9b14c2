/*  sensor: the actor that runs the built-in timer triggers, and the packs'
    Python sensors through sensor_python.h (one supervised process per
    enabled sensor definition, rebuilt as sensors, rules and trigger types
    change; STATUS lists them under "sensors").

    It keeps the rules through a registry_client and runs one timer for each
    distinct (trigger type, trigger parameters) among enabled rules of the
    timer types: core.st2.IntervalTimer {unit, delta}, core.st2.DateTimer
    {date, timezone} (once; a date already past is skipped), core.st2.CronTimer
    {second, minute, hour, day, month, day_of_week, timezone}. Two rules with
    the same parameters share a timer; rules added, changed, enabled,
    disabled or deleted add and remove timers at once, without a restart.

    Timers are kept ordered by their next fire time; the poll timeout is the
    time to the first one. Interval timers keep their phase (next = previous
    + delta) and skip slots missed while the process was stopped or late,
    rather than firing a burst.

    Each firing sends event.create {trigger, trigger_parameters, payload
    {executed_at (ISO 8601 UTC), schedule (the parameters)}} over a
    bus_link to `rules.commands`. While the link's window is full, firings
    wait in a memory queue (at most 100,000; beyond, they are counted as
    dropped and logged).

    Its Python sensors' process starts and ends are raised as
    core.st2.sensor.process_spawn / process_exit (sensor_python.h) while an
    enabled rule is on them, durable in the actor's own store
    (<data_dir>/sensor, its outbox table; actors/event_outbox.h) before
    they are sent, sent again until rules acknowledges them.

    Pipe: "$TERM"; "STATUS" -> JSON {timers: [{type, parameters, next}],
    sensors, fired, sent, dropped, queued, process_events, outbox}; anything
    else -> the unknown reply (actor.h). The loop is actor_loop's.
*/
#ifndef SENSOR_H_INCLUDED
#define SENSOR_H_INCLUDED

#include "actors/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

void sensor_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
