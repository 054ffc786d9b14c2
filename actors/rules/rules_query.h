/*  rules_query: the rules actor's answers on `rules.query` (events and
    enforcements for the api; proto/PROTOCOL.md, "API"). Reads only, in
    its own read transaction on the actor's store.
*/
#ifndef RULES_QUERY_H_INCLUDED
#define RULES_QUERY_H_INCLUDED

#include "actors/actor_query.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    store_t *store;
    store_table_t *events;       //  uuid (16) -> msgpack event
    store_table_t *enforcements; //  uuid (16) -> msgpack enforcement
    json_t *counters;            //  extra fields for api.status (borrowed)
} rules_query_tables_t;

//  api.event.list / get, api.enforcement.list / get, api.status.
void rules_query (const rules_query_tables_t *tables, const char *type, json_t *payload,
                  actor_answer_t *answer);

//  Newest-first listing helper: walk `table` (keys are 16-byte UUIDv7, so key
//  order is creation order) backwards from before `before` (canonical UUID
//  string, or NULL for the newest), calling `fn` on each record until it has
//  accepted `limit` of them (fn returns 1 to accept, 0 to pass over, -1 when
//  its page is full: the record is left for the next page) or `scan_max`
//  records were seen. Fills `next` (the key of the last accepted record, when
//  the listing stopped at the limit or a full page) as a UUID string or "".
//  Returns the accepted count, or -1 with answer set (bad `before`, store
//  error).
typedef int (rules_query_fn) (void *arg, const void *key, size_t key_size,
                              const void *data, size_t size);
int rules_query_walk (store_t *store, store_table_t *table, const char *before,
                      size_t limit, size_t scan_max, rules_query_fn *fn, void *arg,
                      char next[40], actor_answer_t *answer);

#ifdef __cplusplus
}
#endif

#endif
