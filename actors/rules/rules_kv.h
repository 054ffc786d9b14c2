/*  rules_kv: the datastore's keys in rule action parameters, as StackStorm's
    `{{ st2kv.system.NAME }}` and `{{ st2kv.user.NAME }}`, with
    `| decrypt_kv` for a secret's clear value.

    The rules actor keeps a cache of the keys its rules refer to, kept
    current by the datastore's facts (kv.set, kv.deleted on
    datastore.facts). Parameters that name no `st2kv.` cost a substring
    scan: no request, no copy of the context. A scope is loaded from the
    datastore (api.key.list on datastore.query) the first time a template
    needs it, and again after a gap in the facts. A key that does not exist
    fails the enforcement with a reason naming it.

    `| decrypt_kv` of a secret renders a reference to it (proto_secret.h),
    never its clear value: the clear value is asked of the datastore by the
    worker that runs the action, just before it starts. Rules never holds
    a clear secret. rules_kv_check refuses rendered parameters holding a
    reference this rendering did not make (one from an event's payload).

    `st2kv.user` is the user scope of the rule's `context.user` (as st2
    rules carry), else of RULES_KV_USER.
*/
#ifndef RULES_KV_H_INCLUDED
#define RULES_KV_H_INCLUDED

#include <jansson.h>
#include <stddef.h>
#include "bus/bus_topology.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RULES_KV_USER       "attune" //  whose user scope st2kv.user is, by default
#define RULES_KV_TIMEOUT_MS 1000     //  a datastore request, at most
#define RULES_KV_RETRY_MS   5000     //  after one unanswered, others fail at once

typedef struct _rules_kv_t rules_kv_t;

//  New cache subscribed to datastore.facts; requests go to datastore.query
//  (connected on first use). NULL on failure.
rules_kv_t *rules_kv_new (bus_topology_t *topology, const char *source);
void rules_kv_destroy (rules_kv_t **self_p);

//  Apply the facts waiting, without blocking. The rules actor calls it
//  before each batch of events (a change answered before an event was
//  published is rendered by it) and once per loop.
void rules_kv_drain (rules_kv_t *self);

//  The context to render `params` of `rule` (a definition) in: `context`
//  (a new reference), with `st2kv` {system: {NAME: value}, user: {NAME:
//  value}} holding the keys named added to it when the parameters name any.
//  NULL with `reason` when a key does not exist or the datastore cannot be
//  asked. Give it back to rules_kv_done after rendering.
json_t *rules_kv_context (rules_kv_t *self, const json_t *rule, const json_t *params,
                          const json_t *context, char *reason, size_t size);
//  After rendering with the context of rules_kv_context: 0 when every
//  secret reference in `rendered` was made by that rendering, else -1 with
//  `reason`. Call it for every rendering (also without st2kv).
int rules_kv_check (rules_kv_t *self, const json_t *rendered, char *reason, size_t size);

//  Take `st2kv` off the context again and drop the reference; clears it.
void rules_kv_done (json_t **context_p);

//  Counters: scope loads, secret reads, facts applied, gaps.
json_t *rules_kv_status (rules_kv_t *self);

#ifdef __cplusplus
}
#endif

#endif
