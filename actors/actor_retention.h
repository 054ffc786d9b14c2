/*  actor_retention: how long ended records are kept (issue 21, retention),
    and the durations operators write them in.

    Each kind has a TTL in seconds; 0 keeps it for ever. The executor purges
    ended executions (with what hangs off them: their dedup key, children
    index entries, inquiry, late reports) and closed inquiries; the rules
    actor purges events and their enforcements (trigger instances). Both
    purge inside their own loop, in bounded batches.

    Defaults (attuned): 30 days for each kind, a sweep every 10 minutes.
    StackStorm's garbage collector keeps everything unless told
    (action_executions_ttl, trigger_instances_ttl, purge_inquiries unset),
    with a minimum of 7 days when set and a sweep every 600 s; attune keeps
    a month by default because an LMDB store that only grows is what an
    operator running for months does not expect. Any duration is accepted
    (tests use seconds); 0 keeps for ever.
*/
#ifndef ACTOR_RETENTION_H_INCLUDED
#define ACTOR_RETENTION_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACTOR_RETENTION_TTL_DEFAULT      (30 * 86400) //  s: executions, events, inquiries
#define ACTOR_RETENTION_INTERVAL_DEFAULT 600          //  s between sweeps
#define ACTOR_DURATION_MAX               (100LL * 366 * 86400)

//  TTLs in seconds (0: keep for ever). All 0, as in a zeroed actor_config_t,
//  purges nothing by itself.
typedef struct {
    int64_t executions; //  ended executions, their late reports and dedup keys
    int64_t inquiries;  //  responded, timed out or cancelled inquiries
    int64_t events;     //  events and enforcements (trigger instances)
    int64_t interval;   //  between sweeps (0: ACTOR_RETENTION_INTERVAL_DEFAULT)
} actor_retention_t;

//  A duration: a whole number with an optional unit, s (the default), m, h,
//  d or w: "30d", "12h", "90s", "0". 0 with *seconds, or -1 with why in
//  `error` ("'3x': not a duration (a number with s, m, h, d or w, as 30d or
//  12h; 0 keeps for ever)").
int actor_duration_parse (const char *text, int64_t *seconds, char *error, size_t size);

//  Bounded work per loop turn: records deleted per write transaction, and
//  records examined per turn (kept ones included).
#define ACTOR_RETENTION_BATCH 512
#define ACTOR_RETENTION_SCAN  4096
//  While the actor is busy (commands this turn), one step at most this
//  often: the pipeline keeps its rate, the purge goes on between
#define ACTOR_RETENTION_BUSY_MS 50

#ifdef __cplusplus
}
#endif

#endif
