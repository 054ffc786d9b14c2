/*  sensor_cron: parsing and next-fire computation. */
#include <criterion/criterion.h>
#include <string.h>
#include "actors/rules/rules_criteria.h"
#include "actors/sensor/sensor_cron.h"

static int64_t
s_at (const char *iso)
{
    int64_t usec;
    cr_assert_eq (rules_parse_time (iso, &usec), 0, "%s", iso);
    return usec;
}

static void
s_expect_next (const char *expression, const char *tz, const char *after,
               const char *want)
{
    sensor_cron_t cron;
    char message[256] = "";
    cr_assert_eq (sensor_cron_parse (&cron, expression, tz, message, sizeof message), 0,
                  "%s: %s", expression, message);
    int64_t next = sensor_cron_next (&cron, s_at (after));
    cr_expect_eq (next, s_at (want), "%s after %s: got %lld, want %s", expression, after,
                  (long long)next, want);
}

Test (sensor_cron, standard_fields)
{
    s_expect_next ("* * * * *", NULL, "2026-11-22T10:15:30Z", "2026-11-22T10:16:00Z");
    s_expect_next ("*/15 * * * *", NULL, "2026-11-22T10:15:00Z", "2026-11-22T10:30:00Z");
    s_expect_next ("0 9-17/4 * * *", NULL, "2026-11-22T10:00:00Z",
                   "2026-11-22T13:00:00Z");
    s_expect_next ("30 2 * * *", NULL, "2026-11-22T03:00:00Z", "2026-11-23T02:30:00Z");
    s_expect_next ("0 0 1 * *", NULL, "2026-11-22T00:00:00Z", "2026-12-01T00:00:00Z");
    s_expect_next ("0 0 29 2 *", NULL, "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z");
    s_expect_next ("5,10,55 * * * *", NULL, "2026-11-22T10:11:00Z",
                   "2026-11-22T10:55:00Z");
    s_expect_next ("0 12 * jan-mar mon", NULL, "2026-11-22T00:00:00Z",
                   "2027-01-04T12:00:00Z");
    s_expect_next ("0 0 * * 7", NULL, "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z");
    //  Both day fields restricted: either matches (the 1st, or a Friday)
    s_expect_next ("0 0 1 * fri", NULL, "2026-11-22T00:00:00Z", "2026-11-27T00:00:00Z");
    //  Seconds as a sixth leading field
    s_expect_next ("*/10 * * * * *", NULL, "2026-11-22T10:15:31Z",
                   "2026-11-22T10:15:40Z");
    //  Across a year end
    s_expect_next ("59 23 31 12 *", NULL, "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z");
}

Test (sensor_cron, fixed_offset_timezone)
{
    //  09:00 at +02:00 is 07:00 UTC
    s_expect_next ("0 9 * * *", "+02:00", "2026-11-22T08:00:00Z", "2026-11-23T07:00:00Z");
    s_expect_next ("0 9 * * *", "+02:00", "2026-11-22T06:00:00Z", "2026-11-22T07:00:00Z");
}

Test (sensor_cron, errors_name_the_field)
{
    struct {
        const char *expression;
        const char *fragment;
    } cases[] = {
        {"61 * * * *", "minute: \"61\": values must be within 0-59"},
        {"* 24 * * *", "hour:"},
        {"* * 0 * *", "day:"},
        {"* * * 13 *", "month:"},
        {"* * * * 8", "day_of_week:"},
        {"*/0 * * * *", "step must be a positive"},
        {"* * * foo *", "month: \"foo\""},
        {"5-1 * * * *", "minute:"},
        {"* * * *", "expected 5 fields"},
        {"1 2 3 4 5 6 7", "expected 5 fields"},
        {"1x * * * *", "unexpected 'x'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sensor_cron_t cron;
        char message[256] = "";
        cr_expect_eq (
            sensor_cron_parse (&cron, cases[i].expression, NULL, message, sizeof message),
            -1, "%s parsed", cases[i].expression);
        cr_expect (strstr (message, cases[i].fragment) != NULL, "%s: '%s' lacks '%s'",
                   cases[i].expression, message, cases[i].fragment);
    }
    sensor_cron_t cron;
    char message[256] = "";
    cr_expect_eq (
        sensor_cron_parse (&cron, "* * * * *", "Europe/Paris", message, sizeof message),
        -1);
    cr_expect (strstr (message, "named zones") != NULL, "%s", message);
}

Test (sensor_cron, impossible_schedule_has_no_next)
{
    sensor_cron_t cron;
    cr_assert_eq (sensor_cron_parse (&cron, "0 0 31 2 *", NULL, NULL, 0), 0);
    cr_expect_eq (sensor_cron_next (&cron, s_at ("2026-01-01T00:00:00Z")), -1);
}
