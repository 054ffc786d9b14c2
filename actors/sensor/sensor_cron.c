/*  sensor_cron: cron schedules. See sensor_cron.h. */
#include "actors/sensor/sensor_cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const s_months[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                       "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const s_days[] = {"sun", "mon", "tue", "wed",
                                     "thu", "fri", "sat", NULL};

//  Parse a number or a name at *pp. Returns -1 on failure.
static int
s_value (const char **pp, const char *const *names, int name_base)
{
    const char *p = *pp;
    if (isdigit ((unsigned char)*p)) {
        int n = 0;
        while (isdigit ((unsigned char)*p) && n < 1000)
            n = n * 10 + (*p++ - '0');
        *pp = p;
        return n;
    }
    if (names)
        for (int i = 0; names[i]; i++)
            if (strncasecmp (p, names[i], 3) == 0 && !isalpha ((unsigned char)p[3])) {
                *pp = p + 3;
                return i + name_base;
            }
    return -1;
}

//  Parse one field into a bit mask of values in [lo, hi]. 0 or -1.
static int
s_field (const char *text, int lo, int hi, const char *const *names, int name_base,
         uint64_t *mask, bool *any, const char *label, char *message, size_t size)
{
    *mask = 0;
    if (any)
        *any = false;
    if (!text || !*text) {
        snprintf (message, size, "%s: empty field", label);
        return -1;
    }
    const char *p = text;
    while (true) {
        int from, to, step = 1;
        if (*p == '*') {
            from = lo;
            to = hi;
            p++;
            if (any && *p != '/')
                *any = true;
        } else {
            from = s_value (&p, names, name_base);
            if (from < 0) {
                snprintf (message, size,
                          "%s: \"%s\": expected a number%s, '*', a range or a list",
                          label, text, names ? " or a name" : "");
                return -1;
            }
            to = from;
            if (*p == '-') {
                p++;
                to = s_value (&p, names, name_base);
                if (to < 0) {
                    snprintf (message, size, "%s: \"%s\": bad range end", label, text);
                    return -1;
                }
            }
        }
        if (*p == '/') {
            p++;
            step = s_value (&p, NULL, 0);
            if (step <= 0) {
                snprintf (message, size, "%s: \"%s\": a step must be a positive number",
                          label, text);
                return -1;
            }
            if (from == to && text[0] != '*')
                to = hi; //  "5/15" means 5-max/15
        }
        if (from < lo || to > hi || from > to) {
            snprintf (message, size, "%s: \"%s\": values must be within %d-%d", label,
                      text, lo, hi);
            return -1;
        }
        for (int v = from; v <= to; v += step)
            *mask |= 1ULL << v;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p) {
            snprintf (message, size, "%s: \"%s\": unexpected '%c'", label, text, *p);
            return -1;
        }
        break;
    }
    return 0;
}

static int
s_timezone (const char *tz, int *offset, char *message, size_t size)
{
    *offset = 0;
    if (!tz || !*tz || !strcasecmp (tz, "UTC") || !strcasecmp (tz, "Z") ||
        !strcasecmp (tz, "Etc/UTC") || !strcasecmp (tz, "GMT"))
        return 0;
    int h, m;
    char sign;
    if (sscanf (tz, "%c%2d:%2d", &sign, &h, &m) == 3 && (sign == '+' || sign == '-') &&
        h <= 14 && m < 60 && strlen (tz) == 6) {
        *offset = (sign == '-' ? -1 : 1) * (h * 3600 + m * 60);
        return 0;
    }
    snprintf (
        message, size,
        "timezone: \"%s\": use UTC or a fixed offset such as +02:00 (named zones are "
        "not supported)",
        tz);
    return -1;
}

int
sensor_cron_parse_fields (sensor_cron_t *self, const char *second, const char *minute,
                          const char *hour, const char *day, const char *month,
                          const char *day_of_week, const char *timezone, char *message,
                          size_t message_size)
{
    char scratch[256];
    if (!message) {
        message = scratch;
        message_size = sizeof scratch;
    }
    memset (self, 0, sizeof *self);
    uint64_t mask;
    if (s_field (second ? second : "0", 0, 59, NULL, 0, &mask, NULL, "second", message,
                 message_size))
        return -1;
    self->seconds = mask;
    if (s_field (minute ? minute : "*", 0, 59, NULL, 0, &mask, NULL, "minute", message,
                 message_size))
        return -1;
    self->minutes = mask;
    if (s_field (hour ? hour : "*", 0, 23, NULL, 0, &mask, NULL, "hour", message,
                 message_size))
        return -1;
    self->hours = (uint32_t)mask;
    if (s_field (day ? day : "*", 1, 31, NULL, 0, &mask, &self->days_any, "day", message,
                 message_size))
        return -1;
    self->days = (uint32_t)mask;
    if (s_field (month ? month : "*", 1, 12, s_months, 1, &mask, NULL, "month", message,
                 message_size))
        return -1;
    self->months = (uint16_t)mask;
    if (s_field (day_of_week ? day_of_week : "*", 0, 7, s_days, 0, &mask,
                 &self->weekdays_any, "day_of_week", message, message_size))
        return -1;
    if (mask & (1ULL << 7))
        mask |= 1; //  7 is Sunday too
    self->weekdays = (uint8_t)(mask & 0x7f);
    return s_timezone (timezone, &self->offset_s, message, message_size);
}

int
sensor_cron_parse (sensor_cron_t *self, const char *expression, const char *timezone,
                   char *message, size_t message_size)
{
    char copy[256];
    if (!expression || strlen (expression) >= sizeof copy) {
        if (message && message_size)
            snprintf (message, message_size, "cron: expression missing or too long");
        return -1;
    }
    snprintf (copy, sizeof copy, "%s", expression);
    char *fields[7];
    int count = 0;
    char *save = NULL;
    for (char *token = strtok_r (copy, " \t", &save); token && count < 7;
         token = strtok_r (NULL, " \t", &save))
        fields[count++] = token;
    if (count != 5 && count != 6) {
        if (message && message_size)
            snprintf (message, message_size,
                      "cron: \"%s\": expected 5 fields (minute hour day month "
                      "day_of_week) or 6 "
                      "(with seconds first)",
                      expression);
        return -1;
    }
    int o = count == 6 ? 1 : 0;
    return sensor_cron_parse_fields (self, o ? fields[0] : NULL, fields[o], fields[o + 1],
                                     fields[o + 2], fields[o + 3], fields[o + 4],
                                     timezone, message, message_size);
}

static bool
s_day_matches (const sensor_cron_t *self, const struct tm *tm)
{
    bool dom = (self->days >> tm->tm_mday) & 1;
    bool dow = (self->weekdays >> tm->tm_wday) & 1;
    if (self->days_any && self->weekdays_any)
        return true;
    if (self->days_any)
        return dow;
    if (self->weekdays_any)
        return dom;
    return dom || dow; //  cron: either restricted day field
}

int64_t
sensor_cron_next (const sensor_cron_t *self, int64_t after_usec)
{
    //  Work in local (offset) wall-clock seconds, field by field.
    time_t t = (time_t)(after_usec / 1000000) + 1;
    if (after_usec < 0 && after_usec % 1000000)
        t = (time_t)(after_usec / 1000000);
    t += self->offset_s;
    time_t limit = t + (time_t)5 * 366 * 86400;
    while (t < limit) {
        struct tm tm;
        gmtime_r (&t, &tm);
        if (!((self->months >> (tm.tm_mon + 1)) & 1)) {
            //  first second of next month
            tm.tm_mon += 1;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
            t = timegm (&tm);
            continue;
        }
        if (!s_day_matches (self, &tm)) {
            tm.tm_mday += 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
            t = timegm (&tm);
            continue;
        }
        if (!((self->hours >> tm.tm_hour) & 1)) {
            tm.tm_hour += 1;
            tm.tm_min = tm.tm_sec = 0;
            t = timegm (&tm);
            continue;
        }
        if (!((self->minutes >> tm.tm_min) & 1)) {
            tm.tm_min += 1;
            tm.tm_sec = 0;
            t = timegm (&tm);
            continue;
        }
        if (!((self->seconds >> tm.tm_sec) & 1)) {
            t += 1;
            continue;
        }
        return ((int64_t)t - self->offset_s) * 1000000;
    }
    return -1;
}
