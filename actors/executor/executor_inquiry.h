/*  executor_inquiry: the executor's inquiries (a person's decision an
    execution waits for), in the executor's store.

    An action whose result holds `__inquiry` {prompt, response_schema,
    assigned_to, timeout_seconds} opens an inquiry; its id is the id of the
    execution, which stays `pending` until the inquiry is responded to,
    times out, or the execution is cancelled.

    Tables (in the executor's store, written inside its transactions):
        inquiries           id -> msgpack {id, execution, action, status,
                            prompt, schema, assigned_to [str], timeout,
                            created, deadline, response, responder,
                            responded, request}
        inquiry.deadlines   8-byte big-endian deadline (µs) + id -> "":
                            the pending inquiries in deadline order; the
                            executor's timer wakes for the first one.

    Status: pending -> responded | timeout | cancelled.
*/
#ifndef EXECUTOR_INQUIRY_H_INCLUDED
#define EXECUTOR_INQUIRY_H_INCLUDED

#include <jansson.h>
#include <stdint.h>

#include "store/store.h"
#include "actors/actor_query.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EXECUTOR_INQUIRY_TIMEOUT_DEFAULT 3600 //  s, when __inquiry names none
#define EXECUTOR_INQUIRY_TIMEOUT_MAX     (366 * 86400)

typedef struct _executor_inquiry_t executor_inquiry_t;

//  Open the tables in `store`. NULL when they cannot be opened.
executor_inquiry_t *executor_inquiry_new (store_t *store);
void executor_inquiry_destroy (executor_inquiry_t **self_p);

//  The `__inquiry` map of an action's result: at its top level, or in
//  `result` (the JSON a script printed). NULL when there is none.
const json_t *executor_inquiry_spec (const json_t *result);

//  Open the inquiry of execution `execution` (of `action`) from `spec`.
//  Returns 0 with the new inquiry record in *inquiry (caller owns it),
//  1 when `spec` is not a valid inquiry (`reason` says why), -1 on a
//  store error.
int executor_inquiry_open (executor_inquiry_t *self, store_txn_t *txn,
                           const char *execution, const char *action, const json_t *spec,
                           int64_t now, json_t **inquiry, char *reason, size_t size);

//  The inquiry `id`, or NULL. Caller owns it.
json_t *executor_inquiry_get (executor_inquiry_t *self, store_txn_t *txn, const char *id);

//  Check a response to `inquiry` from `identity` (NULL: none configured)
//  at `now`. 0 when it may be accepted; else -1 with an api error code
//  (`conflict`, `expired`, `forbidden`, `invalid`) and a message.
int executor_inquiry_check (const json_t *inquiry, const char *identity,
                            const json_t *response, int64_t now, char code[32],
                            char *message, size_t size);

//  End the pending inquiry `inquiry` as `status` (responded, timeout,
//  cancelled) at `now`, with the response and responder when responded,
//  and write it. Its deadline leaves the index. 0 or -1.
int executor_inquiry_close (executor_inquiry_t *self, store_txn_t *txn, json_t *inquiry,
                            const char *status, const json_t *response,
                            const char *responder, const char *request, int64_t now);

//  The first deadline (µs) among pending inquiries, or INT64_MAX.
int64_t executor_inquiry_next_deadline (executor_inquiry_t *self, store_txn_t *txn);

//  Up to `max` ids of pending inquiries whose deadline is at or before
//  `now`, in deadline order, into `ids` (each 40 bytes). Returns the count.
size_t executor_inquiry_due (executor_inquiry_t *self, store_txn_t *txn, int64_t now,
                             char (*ids)[40], size_t max);

//  Inquiries, newest first, those with `status` (NULL: all), at most
//  `limit`, starting below id `before` (NULL: the newest). A JSON array;
//  *next is set to the id to pass as `before` for the next page (empty
//  when there is none); `next` must not be `before`.
json_t *executor_inquiry_list (executor_inquiry_t *self, store_txn_t *txn,
                               const char *status, const char *before, size_t limit,
                               char next[40]);

//  The same into `page` (actor_query.h), which also cuts it by bytes: *next
//  is set when the page filled up and older inquiries remain.
void executor_inquiry_page (executor_inquiry_t *self, store_txn_t *txn,
                            const char *status, const char *before, actor_page_t *page,
                            char next[40]);

//  Delete inquiry `id` with its deadline entry, unless it is pending (a
//  person may still answer it). 1 deleted, 0 absent or pending (kept), -1
//  on a store error. executor_execution_delete calls it for the inquiry of
//  the execution it deletes.
int executor_inquiry_delete (executor_inquiry_t *self, store_txn_t *txn, const char *id);

//  One bounded step of a purge: closed inquiries that ended before `cutoff`
//  (µs), oldest first, from the key after `after` ("" the first; updated to
//  the last one examined): at most `scan` examined and `max` deleted. The
//  number deleted (*done when the table is behind it), or -1.
int executor_inquiry_sweep (executor_inquiry_t *self, store_txn_t *txn, int64_t cutoff,
                            char after[40], size_t scan, size_t max, bool *done);

//  Number of pending inquiries.
uint64_t executor_inquiry_pending (executor_inquiry_t *self, store_txn_t *txn);

#ifdef __cplusplus
}
#endif

#endif
