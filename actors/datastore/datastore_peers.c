/*  datastore_peers: who sent a request on datastore.query
    (datastore_peers.h). */
#include "actors/datastore/datastore_peers.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>

typedef struct {
    bool worker;
    int64_t checked; //  monotonic ms of the lookup
} s_known_t;

struct _datastore_peers_t {
    zcertstore_t *workers; //  the worker certs directory, or NULL
    zhashx_t *known;       //  z85 key -> s_known_t
};

static void
s_known_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

datastore_peers_t *
datastore_peers_new (const char *worker_dir, char *message, size_t size)
{
    if (worker_dir) {
        DIR *dir = opendir (worker_dir);
        if (!dir) {
            snprintf (message, size, "worker certs %.900s: cannot read it (%s)",
                      worker_dir, strerror (errno));
            return NULL;
        }
        closedir (dir);
    }
    datastore_peers_t *self = (datastore_peers_t *)zmalloc (sizeof (datastore_peers_t));
    self->workers = worker_dir ? zcertstore_new (worker_dir) : NULL;
    self->known = zhashx_new ();
    if ((worker_dir && !self->workers) || !self->known) {
        snprintf (message, size, "worker certs: out of memory");
        datastore_peers_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->known, s_known_destroy);
    return self;
}

void
datastore_peers_destroy (datastore_peers_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        datastore_peers_t *self = *self_p;
        zhashx_destroy (&self->known);
        zcertstore_destroy (&self->workers);
        free (self);
        *self_p = NULL;
    }
}

//  Whether `key` is a worker's: its cert in the directory, without a role
static bool
s_worker (datastore_peers_t *self, const char *key)
{
    int64_t now = zclock_mono ();
    s_known_t *known = (s_known_t *)zhashx_lookup (self->known, key);
    if (known && now - known->checked < DATASTORE_PEERS_RECHECK_MS)
        return known->worker;
    if (!known) {
        if (zhashx_size (self->known) >= 10000)
            zhashx_purge (self->known); //  bounded: admitted keys are few
        known = (s_known_t *)zmalloc (sizeof (s_known_t));
        zhashx_insert (self->known, key, known);
    }
    //  zcertstore reads the directory again on a lookup when it changed
    zcert_t *cert = self->workers ? zcertstore_lookup (self->workers, key) : NULL;
    known->worker = cert && !zcert_meta (cert, "role");
    known->checked = now;
    return known->worker;
}

datastore_peer_t
datastore_peers_of (datastore_peers_t *self, actor_query_t *query, const char **key)
{
    assert (self && query);
    const char *peer = actor_query_peer_key (query);
    if (key)
        *key = NULL;
    if (actor_query_from_self (query))
        return DATASTORE_PEER_SELF;
    if (key)
        *key = peer;
    return peer && s_worker (self, peer) ? DATASTORE_PEER_WORKER : DATASTORE_PEER_OTHER;
}

const char *
datastore_peer_name (datastore_peer_t peer)
{
    return peer == DATASTORE_PEER_SELF     ? "self"
           : peer == DATASTORE_PEER_WORKER ? "worker"
                                           : "peer";
}
