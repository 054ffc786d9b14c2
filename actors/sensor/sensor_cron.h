/*  sensor_cron: cron schedules for core.st2.CronTimer.

    Five standard fields (minute hour day-of-month month day-of-week), each
    "*", a number, a range "a-b", a list "a,b,c", or a step "*\/n" / "a-b/n";
    months and weekdays also by name (jan..dec, sun..sat; 0 and 7 are
    Sunday). An optional sixth leading field gives seconds (default 0). As
    in cron, when both day fields are restricted a day matches either.
    Times are UTC or a fixed offset ("+02:00"); named zones are refused
    rather than guessed.
*/
#ifndef SENSOR_CRON_H_INCLUDED
#define SENSOR_CRON_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t seconds; //  bit n set: second n matches (0-59)
    uint64_t minutes; //  0-59
    uint32_t hours;   //  0-23
    uint32_t days;    //  1-31
    uint16_t months;  //  1-12
    uint8_t weekdays; //  0-6, Sunday = 0
    bool days_any;    //  day-of-month was "*"
    bool weekdays_any;
    int offset_s; //  timezone offset from UTC, seconds
} sensor_cron_t;

//  Parse fields. Any field may be NULL for "*" (second: NULL for "0").
//  `timezone` NULL/"UTC"/"Z"/"+HH:MM"/"-HH:MM". 0, or -1 with `message` as
//  "<field>: <reason>".
int sensor_cron_parse_fields (sensor_cron_t *self, const char *second, const char *minute,
                              const char *hour, const char *day, const char *month,
                              const char *day_of_week, const char *timezone,
                              char *message, size_t message_size);

//  Parse "m h dom mon dow" or "s m h dom mon dow". 0 or -1.
int sensor_cron_parse (sensor_cron_t *self, const char *expression, const char *timezone,
                       char *message, size_t message_size);

//  The first matching time strictly after `after_usec` (microseconds since
//  the epoch, UTC), in microseconds; -1 if none within five years.
int64_t sensor_cron_next (const sensor_cron_t *self, int64_t after_usec);

#ifdef __cplusplus
}
#endif

#endif
