/*  attune_cli_st2: StackStorm's names for attune's execution statuses, on
    request (--st2-status). attune says `completed` where StackStorm says
    `succeeded`, and `cancelled` where it says `canceled`; the other
    statuses have the same names in both. */
#include "tools/attune_cli.h"

#include <stdbool.h>
#include <string.h>

static bool s_enabled;

void
cli_st2_status_enable (bool on)
{
    s_enabled = on;
}

const char *
cli_st2_status_name (const char *status)
{
    if (!s_enabled)
        return status;
    if (status && !strcmp (status, "completed"))
        return "succeeded";
    if (status && !strcmp (status, "cancelled"))
        return "canceled";
    return status;
}

void
cli_st2_status (json_t *value)
{
    const char *key;
    json_t *item;
    size_t i;
    if (json_is_object (value)) {
        json_object_foreach (value, key, item)
        {
            if (!strcmp (key, "status") && json_is_string (item)) {
                const char *name = cli_st2_status_name (json_string_value (item));
                if (name != json_string_value (item))
                    json_string_set (item, name);
            } else if (strcmp (key, "result") && strcmp (key, "parameters"))
                cli_st2_status (item); //  not inside an action's own data
        }
    } else if (json_is_array (value))
        json_array_foreach (value, i, item) cli_st2_status (item);
}
