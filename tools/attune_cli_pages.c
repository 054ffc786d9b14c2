/*  attune_cli_pages: a list followed through its pages (attune_cli_pages.h). */
#include "tools/attune_cli_pages.h"
#include <stdbool.h>
#include <string.h>

//  The request for the page after `next` (NULL: the first).
static json_t *
s_page_request (const json_t *payload, const char *cursor, const json_t *next,
                size_t total, size_t have)
{
    json_t *ask = json_deep_copy (payload);
    if (ask && total) {
        size_t want = total - have;
        json_object_set_new (
            ask, "limit",
            json_integer (
                (json_int_t)(want < ATTUNE_CLI_PAGE_MAX ? want : ATTUNE_CLI_PAGE_MAX)));
    }
    if (ask && json_is_string (next))
        json_object_set (ask, cursor, (json_t *)next);
    return ask;
}

json_t *
attune_cli_pages_fetch (attune_cli_request_fn *request, void *client, const char *type,
                        json_t *payload, const char *cursor, size_t total)
{
    json_t *items = json_array ();
    json_t *next = json_null ();
    bool failed = !payload || !items;
    while (!failed) {
        json_t *result = request (
            client, type,
            s_page_request (payload, cursor, next, total, json_array_size (items)));
        if (!result) {
            failed = true;
            break;
        }
        json_array_extend (items, json_object_get (result, "items"));
        json_t *after = json_object_get (result, "next");
        //  A cursor that does not move would ask for the same page forever
        bool stuck = json_is_string (after) && json_equal (after, next);
        json_decref (next);
        next = json_is_string (after) ? json_incref (after) : json_null ();
        json_decref (result);
        if (stuck || !json_is_string (next) ||
            (total && json_array_size (items) >= total))
            break;
    }
    json_decref (payload);
    if (failed) {
        json_decref (items);
        json_decref (next);
        return NULL;
    }
    return json_pack ("{s:o, s:o}", "items", items, "next", next);
}
