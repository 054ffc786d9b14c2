/*  actor_query: the request/reply endpoint an actor offers for reads and
    small synchronous operations (proto/PROTOCOL.md, "API").

    A ROUTER bound to a logical endpoint (`executor.query` ...). A client
    (the api actor, the probe, any DEALER or REQ socket) sends one frame, a
    request envelope whose type is the operation (`api.execution.get`) and
    whose payload holds the arguments; the actor answers with one frame, an
    `api.reply` {result} or `api.error` {code, message} envelope with corr =
    the request id. `api.ping` is answered here, without the handler.

    Every reply fits in a frame: a result over ACTOR_REPLY_MAX is answered
    `too_large` with its size instead, and lists cut their pages by bytes as
    well as by count (actor_page_t).

    Hostile input never reaches the handler undecoded: an undecodable frame
    gets `api.error` with the decoder's code (corr nil); a message of more
    than one frame gets `bad_frame`; both are counted.
*/
#ifndef ACTOR_QUERY_H_INCLUDED
#define ACTOR_QUERY_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include "proto/proto_envelope.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _actor_query_t actor_query_t;

//  What a handler says back: set `result` (taken) for api.reply, or call
//  actor_query_fail for api.error.
typedef struct {
    json_t *result;
    char code[32];
    char message[512];
    uint64_t deferred; //  set by actor_query_defer: answered later
} actor_answer_t;

//  Handle one request. `type` is the operation, `payload` the arguments
//  (borrowed). Fill `answer`. An answer with neither result nor code is
//  replied with result nil.
typedef void (actor_query_fn) (void *arg, const char *type, json_t *payload,
                               actor_answer_t *answer);

//  Set an error answer; returns nothing useful, for brevity in handlers.
void actor_query_fail (actor_answer_t *answer, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  New endpoint bound to `endpoint`; replies carry `source`. NULL on failure
//  (logged with the reason).
actor_query_t *actor_query_new (const char *endpoint, const char *source);
void actor_query_destroy (actor_query_t **self_p);

//  Answer everything waiting (at most 64 requests), without blocking.
void actor_query_handle (actor_query_t *self, actor_query_fn *fn, void *arg);

//  From inside a handler: answer this request later instead of now (its
//  answer is not sent). Returns the ticket to give actor_query_reply. A
//  deferred request not answered within `timeout_ms` is forgotten (its
//  client times out). Requests are answered in any order.
uint64_t actor_query_defer (actor_query_t *self, actor_answer_t *answer, int timeout_ms);
//  Answer a deferred request: api.reply {result} (taken; NULL = nil) or,
//  when `code` is set, api.error {code, message}. 0, or -1 when the ticket
//  is unknown (answered already, or forgotten).
int actor_query_reply (actor_query_t *self, uint64_t ticket, json_t *result,
                       const char *code, const char *message);
//  Deferred requests waiting for an answer.
size_t actor_query_parked (actor_query_t *self);

//  From inside a handler: the z85 public key (CURVE User-Id) of the client
//  whose request is being answered, or NULL when its connection is not
//  CURVE (inproc, ipc, plaintext tcp on loopback).
const char *actor_query_peer_key (actor_query_t *self);
//  From inside a handler: whether the request came from this process's own
//  actors or its host, not from another attune process: without CURVE (no
//  key to tell: the host is trusted, as everywhere in attune), or with this
//  process's own key (bus_security_public_key: a core's api, rules ...).
bool actor_query_from_self (actor_query_t *self);

//  The actor's store, `name` its directory under the data directory
//  ("executor"): the endpoint then answers `store.backup {dir}` itself, for
//  this process's own clients only (actor_query_from_self), with a hot copy
//  to <dir>/<name> (store_backup) made in the actor's thread, and
//  {store, path, format, size, copied_at, took_ms}.
void actor_query_set_store (actor_query_t *self, store_t *store, const char *name);
//  A file that belongs with the store (the datastore's secret key): copied
//  to <dir>/<name>/<its base name> (0600) right after the store, in the same
//  turn of the actor's loop; the answer names it as `file`.
void actor_query_backup_file (actor_query_t *self, const char *path);

//  Metrics (actor_metrics.h): the endpoint answers `metrics.get {}` itself
//  with {families}: the store's (when set), the links and inbox named
//  here, its own request counters, then what `fn` adds (may be NULL), all
//  labelled with the actor's name (`actor`, "executor"). Links and inbox
//  are borrowed: they must outlive the endpoint.
typedef void (actor_metrics_fn) (void *arg, json_t *families);
void actor_query_set_metrics (actor_query_t *self, const char *actor,
                              actor_metrics_fn *fn, void *arg);
//  A link whose counters go in the metrics, `peer` its receiver's name.
void actor_query_metrics_link (actor_query_t *self, const char *peer, bus_link_t *link);
//  The actor's inbox, for the metrics.
void actor_query_metrics_inbox (actor_query_t *self, bus_inbox_t *inbox);

zsock_t *actor_query_sock (actor_query_t *self);
const char *actor_query_endpoint (actor_query_t *self); //  resolved (port)
uint64_t actor_query_requests (actor_query_t *self);
uint64_t actor_query_malformed (actor_query_t *self);

//  Split a request read from a ROUTER: [identity]([empty])[body][...]. Takes
//  the identity and the body (NULL when missing) off `msg`, whatever frames
//  remain are extras; `delimiter` says a REQ client sent the empty frame
//  (its reply must carry one too).
void actor_request_split (zmsg_t *msg, zframe_t **identity, zframe_t **body,
                          bool *delimiter);

//  Build a reply envelope: api.reply {result} (result taken; NULL = nil) or,
//  when `code` is set, api.error {code, message}. corr = `corr` (may be
//  NULL). Caller owns it. NULL when out of memory.
proto_envelope_t *actor_reply_envelope (const char *source, const uint8_t *corr,
                                        json_t *result, const char *code,
                                        const char *message);

//  ---------------------------------------------------------------------------
//  Pages: every reply fits in one frame (PROTO_MAX_FRAME)

//  The largest result an answer may have (msgpack bytes): the rest of the
//  frame is the envelope's (type, source, ids, trace: under 1 KiB).
#define ACTOR_REPLY_MAX (PROTO_MAX_FRAME - PROTO_MAX_FRAME / 64)
//  The items of one list page, at most (msgpack bytes): the rest of the
//  result is its other fields (`next` ...).
#define ACTOR_PAGE_BYTES (ACTOR_REPLY_MAX - PROTO_MAX_FRAME / 64)

//  A list reply's page. Items are added while the page holds fewer than
//  `limit` and their encoded size stays within ACTOR_PAGE_BYTES; the first
//  one refused sets `more` (a next page exists). A record that alone is
//  over ACTOR_PAGE_BYTES is listed as its summary (actor_page_summary).
typedef struct {
    json_t *items; //  the page (caller takes it; NULL when out of memory)
    size_t limit;  //  items, at most
    size_t bytes;  //  msgpack bytes of the items
    bool more;     //  an item was refused: the page is full
} actor_page_t;

//  Start an empty page of at most `limit` items (0: no count limit).
void actor_page_init (actor_page_t *page, size_t limit);

//  Add `item` (taken). True when added; false (item destroyed, `more` set)
//  when the page is full: it holds `limit` items, or the item would take it
//  over ACTOR_PAGE_BYTES.
bool actor_page_add (actor_page_t *page, json_t *item);

//  Whether the page takes no more items (`limit` reached, or `more`).
bool actor_page_full (const actor_page_t *page);

//  The stand-in for a record of `size` msgpack bytes, too large for a frame:
//  `{too_large: true, size}` and the record's short top-level scalars (id,
//  ref, status, times ...). Caller owns it.
json_t *actor_page_summary (const json_t *record, size_t size);

//  A list result `{items, next}` of the objects in `all` (an array,
//  borrowed) in the order of their string field `key`, from the first above
//  `after` (NULL: the first), at most `limit` (0: no count limit) and cut by
//  bytes. `copy` (NULL: a reference) makes the item listed from an element.
//  `next` is the key of the page's last item when more remain (the client
//  passes it back as `after`), else null. Caller owns it; NULL when out of
//  memory.
json_t *actor_page_list (const json_t *all, const char *key, const char *after,
                         size_t limit, json_t *(*copy) (const json_t *));

//  The size of `value` packed as msgpack (what it adds to a frame); SIZE_MAX
//  when it has no msgpack form.
size_t actor_packed_size (const json_t *value);

//  Optional integer argument: `default_` when absent (or nil); when present
//  and not an integer in [min, max], `default_` too, with the answer filled
//  with bad_request (check answer->code).
int64_t actor_arg_int (json_t *payload, const char *key, int64_t default_, int64_t min,
                       int64_t max, actor_answer_t *answer);
//  Optional string argument: NULL when absent; sets bad_request and returns
//  NULL when present and not a string (check answer->code).
const char *actor_arg_str (json_t *payload, const char *key, actor_answer_t *answer);

#ifdef __cplusplus
}
#endif

#endif
