/*  actor_retention: durations (actor_retention.h). */
#include "actors/actor_retention.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int
actor_duration_parse (const char *text, int64_t *seconds, char *error, size_t size)
{
    static const struct {
        char unit;
        int64_t scale;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    const char *p = text ? text : "";
    int64_t value = 0;
    bool digits = false;
    while (isdigit ((unsigned char)*p) && value <= ACTOR_DURATION_MAX) {
        value = value * 10 + (*p++ - '0');
        digits = true;
    }
    int64_t scale = 0;
    if (*p == 0)
        scale = 1;
    else if (p[1] == 0)
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (*p == units[i].unit)
                scale = units[i].scale;
    if (!digits || !scale) {
        snprintf (error, size,
                  "'%.40s': not a duration (a number with s, m, h, d or w, as 30d or "
                  "12h; 0 keeps for ever)",
                  text ? text : "");
        return -1;
    }
    if (value > ACTOR_DURATION_MAX / scale) {
        snprintf (error, size, "'%.40s': longer than 100 years", text);
        return -1;
    }
    *seconds = value * scale;
    return 0;
}
