/*  attune_cli_pages: a list operation of the api followed through its pages.

    A list reply holds what fits in one frame (proto/PROTOCOL.md, "Pages"):
    at most `limit` items and at most about 1 MiB of them, with `next` set
    when more remain. The CLI asks again with `next` as the cursor (`before`
    for the newest-first lists, `after` for those in ref or name order) until
    it has what the user asked for, and shows the pages as one list.
*/
#ifndef ATTUNE_CLI_PAGES_H_INCLUDED
#define ATTUNE_CLI_PAGES_H_INCLUDED

#include <jansson.h>
#include <stddef.h>

//  Items asked for per page at most: the api's largest `limit`.
#define ATTUNE_CLI_PAGE_MAX 1000

//  Send one request (payload taken) and return its result (caller owns it),
//  or NULL with the error kept by `client`.
typedef json_t *(attune_cli_request_fn)(void *client, const char *type, json_t *payload);

//  Request `type` with `payload` (taken; `limit` is set on each request when
//  `total` is not 0), page after page, each page's `next` sent back as
//  `cursor`, until `total` items (0: all) are in or a page has no `next`.
//  Returns `{items, next}`: the items of every page, and the last page's
//  `next` when `total` stopped the listing before its end (else null).
//  Caller owns it. NULL when a request failed (`client` holds the error).
json_t *attune_cli_pages_fetch (attune_cli_request_fn *request, void *client,
                                const char *type, json_t *payload, const char *cursor,
                                size_t total);

#endif
