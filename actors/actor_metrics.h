/*  actor_metrics: metric families gathered from actors and rendered in
    Prometheus's text exposition format 0.0.4 (proto/PROTOCOL.md,
    "Metrics").

    An actor answers `metrics.get` on its query endpoint (actor_query.h)
    with its families as data, not text: one JSON object, name -> family,

        {"attune_store_used_bytes": {"type": "gauge", "help": "...",
             "samples": [{"labels": {"store": "executor"}, "value": 123}]},
         "attune_store_commit_duration_seconds": {"type": "histogram", ...,
             "bounds": [0.001, ...],
             "samples": [{"labels": {...}, "buckets": [n, ...], "sum": s,
                          "count": c}]}}

    (a histogram's `buckets` are per bucket, the last one +Inf), so the api
    can merge the families of every actor (a family's samples may come from
    several: the store families from each store's owner) and render each
    family once, with one HELP and one TYPE line.

    Names are attune_..., counters end in _total, units are seconds and
    bytes. Families are rendered in name order; label values are escaped.
*/
#ifndef ACTOR_METRICS_H_INCLUDED
#define ACTOR_METRICS_H_INCLUDED

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus_inbox.h"
#include "bus/bus_link.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ACTOR_HISTOGRAM_MAX 24 //  buckets of a histogram, at most (+Inf not counted)

//  A fixed-bucket histogram, kept by one thread (no lock).
typedef struct {
    const double *bounds;                      //  upper bounds, ascending (static)
    size_t nbounds;                            //  at most ACTOR_HISTOGRAM_MAX
    uint64_t buckets[ACTOR_HISTOGRAM_MAX + 1]; //  per bucket, the last +Inf
    uint64_t count;
    double sum;
} actor_histogram_t;

//  Start an empty histogram on `bounds` (kept, not copied).
void actor_histogram_init (actor_histogram_t *self, const double *bounds, size_t nbounds);
//  Count one observation of `value`.
void actor_histogram_observe (actor_histogram_t *self, double value);

//  Latency buckets, in seconds, 1 ms to 1 h: for the execution stages.
extern const double actor_latency_bounds[];
extern const size_t actor_latency_nbounds;

//  Make sure family `name` is there (rendered with its HELP and TYPE even
//  without samples).
void actor_metrics_declare (json_t *families, const char *name, const char *type,
                            const char *help);
//  Add a sample to family `name` (created with `type`, "counter" or
//  "gauge", and `help` when new) of `families` (a JSON object). `labels`:
//  name, value, name, value ..., NULL (values may be any text: escaped
//  when rendered). A label whose value is NULL is left out.
void actor_metrics_add (json_t *families, const char *name, const char *type,
                        const char *help, double value, ...);
//  The same for a histogram sample (its bounds, set when the family is new).
void actor_metrics_histogram (json_t *families, const char *name, const char *help,
                              const actor_histogram_t *histogram, ...);
//  Add the store families of `store` (counters, commit times, sizes),
//  labelled store=`name`. From the thread that owns the store.
void actor_metrics_store (json_t *families, store_t *store, const char *name);

//  A reliable link's families (sent, resent, heartbeats missed, unacked,
//  peer up), labelled actor=`actor`, peer=`peer` (the receiver).
void actor_metrics_link (json_t *families, const char *actor, const char *peer,
                         bus_link_t *link);
//  An inbox's families (delivered, duplicates, heartbeats missed by its
//  senders), labelled actor=`actor`.
void actor_metrics_inbox (json_t *families, const char *actor, bus_inbox_t *inbox);

//  Merge the families of `from` (borrowed) into `into`: new families are
//  copied, samples of a known one appended (a family of another type is
//  skipped). Returns how many families were skipped.
size_t actor_metrics_merge (json_t *into, const json_t *from);

//  The families as exposition text (0.0.4), families in name order; NULL
//  when out of memory. Caller frees. Families that do not have the shape
//  above are left out (a malformed answer never breaks the page).
char *actor_metrics_render (const json_t *families);

#ifdef __cplusplus
}
#endif

#endif
