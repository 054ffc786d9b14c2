/*  worker_secrets: the clear values of the secret references in a job's
    parameters (proto/proto_secret.h), asked of the datastore at the last
    moment, just before the process starts.

    A reference `{{ st2kv.system.NAME | decrypt_kv }}` rendered travels as
    "\x1e$secret:<nonce>:<scope>:<name>\x1e" through the rules and executor
    stores, facts and the api; only here, in the job's memory, does it
    become the clear value (api.key.get with decrypt on datastore.query;
    connected on first use, RULES_KV-like timeout). In the `cmd` of a shell
    runner the value is inserted as the body of the '...' word the template
    quoted it into (each ' written '\''). A key that is missing, or that the
    datastore refuses, fails the execution with a reason naming the key.
    The request blocks the worker's loop (at most WORKER_SECRETS_TIMEOUT_MS
    per reference), only for jobs that hold references.
*/
#ifndef WORKER_SECRETS_H_INCLUDED
#define WORKER_SECRETS_H_INCLUDED

#include <jansson.h>
#include <stddef.h>
#include "bus/bus_topology.h"

#define WORKER_SECRETS_TIMEOUT_MS 2000

typedef struct _worker_secrets_t worker_secrets_t;

//  New resolver asking datastore.query of `topology` (borrowed, outlives
//  it) as `source`. NULL when out of memory.
worker_secrets_t *worker_secrets_new (bus_topology_t *topology, const char *source);
void worker_secrets_destroy (worker_secrets_t **self_p);

//  Replace every reference in the strings of `parameters` by its clear
//  value (shell-quoted in `cmd` when `shell`). 0 (also when there is none:
//  a scan, no request), or -1 with `reason` naming the key.
int worker_secrets_resolve (worker_secrets_t *self, json_t *parameters, bool shell,
                            char *reason, size_t size);

#endif
