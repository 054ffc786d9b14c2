/*  datastore_peers: who sent a request on datastore.query
    (proto/PROTOCOL.md, "Datastore", Who may ask).

    The datastore tells its clients apart by the CURVE key of their
    connection (actor_query_peer_key), fail closed:
        self     no CURVE on the endpoint (inproc, ipc, loopback tcp: the
                 host is trusted), or this process's own key: the api,
                 rules and worker of this process. Only these may name a
                 `caller` (the api's delegation of a user's identity and
                 role); without one they are an attune process (admin).
        worker   a key whose public cert is in the worker certs directory
                 (`daemon/security/workers`, --worker-certs; a cert with a
                 `role` there does not count): reads at admin level, the
                 clear values of secrets included (a worker resolves secret
                 references just before a process starts); no writes.
        other    any other key the handshake admitted (a sensor host, a
                 probe): reads as a viewer without identity; never
                 `decrypt`, never a `caller`.
    A key is looked up again at most every DATASTORE_PEERS_RECHECK_MS, so a
    cert added to or removed from the directory counts within that time.
*/
#ifndef DATASTORE_PEERS_H_INCLUDED
#define DATASTORE_PEERS_H_INCLUDED

#include "actors/actor_query.h"
#include <stdbool.h>
#include <stddef.h>

#define DATASTORE_PEERS_RECHECK_MS 2000

typedef enum {
    DATASTORE_PEER_SELF = 0,
    DATASTORE_PEER_WORKER,
    DATASTORE_PEER_OTHER
} datastore_peer_t;

typedef struct _datastore_peers_t datastore_peers_t;

//  New lookup over `worker_dir` (NULL: no worker keys). NULL with `message`
//  when the directory is given and cannot be read.
datastore_peers_t *datastore_peers_new (const char *worker_dir, char *message,
                                        size_t size);
void datastore_peers_destroy (datastore_peers_t **self_p);

//  Who sent the request `query` is answering (call from inside its
//  handler). `key` (may be NULL) gets the client's key, NULL for self.
datastore_peer_t datastore_peers_of (datastore_peers_t *self, actor_query_t *query,
                                     const char **key);

//  "self", "worker", "peer"
const char *datastore_peer_name (datastore_peer_t peer);

#endif
