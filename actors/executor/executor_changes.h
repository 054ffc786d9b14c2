/*  executor_changes: what the executor's recent facts were about, so a
    subscriber that missed some can catch up (proto/PROTOCOL.md,
    "Resynchronising after a gap"; the zguide's Clone pattern).

    A RAM ring of the last EXECUTOR_CHANGES_CAPACITY facts the executor's
    publisher sent: for each, its sequence number and what it concerns (the
    execution id of an `execution.*` fact, the inquiry id of an `inquiry.*`
    one, the worker name of a `worker.*` one). Worker facts are rare and
    their names long: they keep a ring of their own. Nothing is durable: a
    restarted executor has a new publisher id, and subscribers of the old
    one get a reset (the active executions) instead of changes.

    executor_changes_query answers `api.execution.changes` {publisher,
    since, limit, after} from the ring and the executor's current records,
    which it reads through the callbacks of an executor_changes_source_t.

    Capacity: 65536 facts, about 3 MiB. A burst of 16,000 executions (four
    facts each: requested, scheduled, running, an end) still answers with
    changes; a subscriber further behind gets a reset, which is correct,
    only coarser. The ring need not reach the publisher's high-water mark
    (100,000): what matters is how far behind a subscriber is when it asks,
    and past the ring the reset path serves it.
*/
#ifndef EXECUTOR_CHANGES_H_INCLUDED
#define EXECUTOR_CHANGES_H_INCLUDED

#include <jansson.h>
#include <stdint.h>
#include "actors/actor_query.h"
#include "proto/proto_envelope.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EXECUTOR_CHANGES_CAPACITY      65536 //  facts remembered
#define EXECUTOR_CHANGES_WORKERS       1024  //  worker facts remembered
#define EXECUTOR_CHANGES_LIMIT_DEFAULT 200   //  records per answer
#define EXECUTOR_CHANGES_LIMIT_MAX     1000  //  records per answer, at most
#define EXECUTOR_CHANGES_BYTES         (PROTO_MAX_FRAME / 2) //  records per answer, bytes

typedef enum {
    EXECUTOR_CHANGE_EXECUTION,
    EXECUTOR_CHANGE_INQUIRY,
    EXECUTOR_CHANGE_WORKER
} executor_change_kind_t;

typedef struct _executor_changes_t executor_changes_t;

//  What the query reads from the executor. Each callback returns a new
//  JSON value (the caller owns it), or NULL when there is none.
typedef struct {
    //  The record of `key` (execution id, inquiry id, worker name) as the
    //  api shows it (executions in the brief form of api.execution.list).
    json_t *(*record) (void *arg, executor_change_kind_t kind, const char *key);
    //  The ids of every non-terminal execution (an array of strings, any
    //  order), and every worker (an array of api.worker.list items).
    json_t *(*active_ids) (void *arg);
    json_t *(*workers) (void *arg);
    void *arg;
} executor_changes_source_t;

//  New ring of `capacity` facts (and EXECUTOR_CHANGES_WORKERS worker facts).
//  NULL when out of memory.
executor_changes_t *executor_changes_new (size_t capacity);
void executor_changes_destroy (executor_changes_t **self_p);

//  Remember that fact `seq` concerns `key`. `seq` 0 (not sent) and keys
//  longer than 39 bytes (executions) or 255 (workers) are ignored.
void executor_changes_note (executor_changes_t *self, uint64_t seq,
                            executor_change_kind_t kind, const char *key);
//  The same, reading the key from a fact of `type` (`execution.*`,
//  `inquiry.*`, `worker.*`; other types are ignored) with a JSON payload.
void executor_changes_note_json (executor_changes_t *self, uint64_t seq, const char *type,
                                 const json_t *payload);
//  The same, from the envelope of the fact (its payload as packed).
void executor_changes_note_envelope (executor_changes_t *self, uint64_t seq,
                                     proto_envelope_t *envelope);

//  Facts with a sequence number above this are all remembered (0: all of
//  them since the start).
uint64_t executor_changes_floor (executor_changes_t *self);
//  Facts remembered (both rings).
size_t executor_changes_size (executor_changes_t *self);

//  Answer api.execution.changes (payload borrowed) for the publisher
//  `publisher` (its id with the top bit cleared, as the answer shows it)
//  whose last sequence number is `seq`. Fills `answer` (result or error).
void executor_changes_query (executor_changes_t *self, uint64_t publisher, uint64_t seq,
                             json_t *payload, const executor_changes_source_t *source,
                             actor_answer_t *answer);

#ifdef __cplusplus
}
#endif

#endif
