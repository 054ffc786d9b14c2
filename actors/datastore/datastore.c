/*  datastore: the actor that owns keys and secrets (datastore.h).

    Rotation (datastore_rotate) is crash-safe in three steps: the new key is
    written to <key>.new; one write transaction re-seals every secret under
    it and records its id in the meta table; then <key>.new is renamed over
    <key>. At start, a <key>.new whose id the store recorded finishes the
    rename; any other <key>.new is removed (the transaction never
    committed, every secret is still under the old key).
*/
#include "actors/datastore/datastore_internal.h"
#include "proto/proto_messages.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>

#define S_EXPIRE_BATCH 256

//  ---------------------------------------------------------------------------
//  Facts and events

static void
s_send_fact (datastore_t *self, const char *type, json_t *payload)
{
    proto_envelope_t *envelope = proto_envelope_new (type, self->source);
    proto_error_t error;
    if (envelope &&
        proto_envelope_set_payload_json (envelope, payload, &error) == PROTO_OK)
        bus_pub_send (self->pub, envelope);
    proto_envelope_destroy (&envelope);
    json_decref (payload);
}

//  A record as triggers carry it (st2's KeyValuePair): a secret's value masked
static json_t *
s_trigger_object (const json_t *record)
{
    const char *scope = json_string_value (json_object_get (record, "scope"));
    bool user = scope && strncmp (scope, "user:", 5) == 0;
    bool secret = json_is_true (json_object_get (record, "secret"));
    json_t *object = json_pack (
        "{s:O, s:s, s:b, s:s}", "name", json_object_get (record, "name"), "scope",
        user ? "st2kv.user" : "st2kv.system", "secret", secret, "value",
        secret ? DATASTORE_MASK : json_string_value (json_object_get (record, "value")));
    if (user)
        json_object_set_new (object, "user", json_string (scope + 5));
    json_int_t expire = json_integer_value (json_object_get (record, "expire_at"));
    if (expire)
        json_object_set_new (object, "expire_at", json_integer (expire));
    return object;
}

static bool
s_same_value (const json_t *a, const json_t *b)
{
    const char *field = json_is_true (json_object_get (a, "secret")) ? "sealed" : "value";
    if (json_is_true (json_object_get (a, "secret")) !=
        json_is_true (json_object_get (b, "secret")))
        return false;
    //  Secrets are sealed with fresh nonces: a new seal counts as a change
    return json_equal (json_object_get (a, field), json_object_get (b, field));
}

int
datastore_events (datastore_t *self, store_txn_t *txn, const json_t *old,
                  const json_t *new_)
{
    event_outbox_t *out = self->outbox;
    if (!new_)
        return event_outbox_add (out, txn, "core.st2.key_value_pair.delete",
                                 json_pack ("{s:o}", "object", s_trigger_object (old)));
    if (!old)
        return event_outbox_add (out, txn, "core.st2.key_value_pair.create",
                                 json_pack ("{s:o}", "object", s_trigger_object (new_)));
    int rc = event_outbox_add (out, txn, "core.st2.key_value_pair.update",
                               json_pack ("{s:o}", "object", s_trigger_object (new_)));
    if (rc == 0 && !s_same_value (old, new_))
        rc = event_outbox_add (out, txn, "core.st2.key_value_pair.value_change",
                               json_pack ("{s:o, s:o}", "old_object",
                                          s_trigger_object (old), "new_object",
                                          s_trigger_object (new_)));
    return rc;
}

void
datastore_changed (datastore_t *self, const json_t *old, const json_t *new_,
                   const char *reason)
{
    const json_t *record = new_ ? new_ : old;
    json_t *fact =
        json_pack ("{s:O, s:O, s:b, s:s}", "scope", json_object_get (record, "scope"),
                   "name", json_object_get (record, "name"), "secret",
                   json_is_true (json_object_get (record, "secret")), "reason", reason);
    if (new_ && !json_is_true (json_object_get (new_, "secret")))
        json_object_set (fact, "value", json_object_get (new_, "value"));
    if (new_ && json_integer_value (json_object_get (new_, "expire_at")))
        json_object_set (fact, "expire_at", json_object_get (new_, "expire_at"));
    s_send_fact (self, new_ ? "kv.set" : "kv.deleted", fact);
}

//  ---------------------------------------------------------------------------
//  TTL

void
datastore_expiry_note (datastore_t *self, int64_t deadline)
{
    if (deadline > 0 && (self->next_expiry == 0 || deadline < self->next_expiry))
        self->next_expiry = deadline;
}

static void
s_expiry_reload (datastore_t *self)
{
    store_txn_t *txn = store_read_begin (self->store);
    self->next_expiry = txn ? datastore_keys_next_expiry (self->keys, txn) : 0;
    store_read_end (&txn);
}

typedef struct {
    datastore_t *self;
    json_t *expired;
    int64_t now;
} s_expire_t;

static int
s_expire_fn (store_txn_t *txn, void *arg)
{
    s_expire_t *job = (s_expire_t *)arg;
    json_array_clear (job->expired);
    event_outbox_attempt (job->self->outbox);
    if (datastore_keys_expire (job->self->keys, txn, job->now, job->expired,
                               S_EXPIRE_BATCH) < 0)
        return -1;
    size_t i;
    json_t *record;
    json_array_foreach (job->expired, i, record)
    {
        if (datastore_events (job->self, txn, record, NULL) != 0)
            return -1;
    }
    return 0;
}

//  Delete the keys whose deadline has come, publish, move the timer
static void
s_expire (datastore_t *self)
{
    s_expire_t job = {self, json_array (), proto_now_usec ()};
    store_code_t code = store_write (self->store, s_expire_fn, &job);
    if (code == STORE_OK)
        event_outbox_committed (self->outbox);
    else {
        event_outbox_attempt (self->outbox);
        json_array_clear (job.expired);
        zsys_error ("datastore: expiring keys: %s", store_strerror (code));
    }
    size_t i;
    json_t *record;
    json_array_foreach (job.expired, i, record)
    {
        datastore_changed (self, record, NULL, "expire");
        self->expired++;
    }
    json_decref (job.expired);
    s_expiry_reload (self);
    if (code != STORE_OK && self->next_expiry)
        self->next_expiry = proto_now_usec () + 100000; //  try again shortly
}

//  Milliseconds until the next deadline, -1 when none
static int
s_expiry_timeout (datastore_t *self)
{
    if (!self->next_expiry)
        return -1;
    int64_t wait = self->next_expiry - proto_now_usec ();
    return wait <= 0 ? 0 : (int)((wait + 999) / 1000);
}

//  ---------------------------------------------------------------------------
//  The secret key: opened at start, rotated on request

typedef struct {
    datastore_t *self;
    store_crypto_t *next;
    json_t *secrets; //  records to re-seal (collected, then written)
    char message[256];
} s_rotate_t;

static int
s_collect_secret (void *arg, const json_t *record)
{
    s_rotate_t *job = (s_rotate_t *)arg;
    if (json_is_true (json_object_get (record, "secret")))
        json_array_append_new (job->secrets, json_deep_copy (record));
    return 0;
}

//  Re-seal one secret record under the next key. 0 or -1 (message set).
static int
s_reseal (s_rotate_t *job, store_txn_t *txn, json_t *record)
{
    const char *sealed = json_string_value (json_object_get (record, "sealed"));
    size_t size = 0;
    char *clear = sealed ? store_crypto_unseal (job->self->crypto, sealed, &size) : NULL;
    char *resealed = clear ? store_crypto_seal (job->next, clear, size) : NULL;
    store_crypto_free (clear);
    if (!resealed) {
        snprintf (job->message, sizeof job->message,
                  "secret '%s' (%s) does not open under key %u: rotation abandoned",
                  json_string_value (json_object_get (record, "name")),
                  json_string_value (json_object_get (record, "scope")),
                  store_crypto_id (job->self->crypto));
        return -1;
    }
    json_object_set_new (record, "sealed", json_string (resealed));
    json_object_set_new (record, "key_id", json_integer (store_crypto_id (job->next)));
    free (resealed);
    return datastore_keys_put (job->self->keys, txn, record) == STORE_OK ? 0 : -1;
}

static int
s_rotate_fn (store_txn_t *txn, void *arg)
{
    s_rotate_t *job = (s_rotate_t *)arg;
    json_array_clear (job->secrets);
    if (datastore_keys_each (job->self->keys, txn, NULL, NULL, NULL, s_collect_secret,
                             job) != STORE_OK)
        return -1;
    size_t i;
    json_t *record;
    json_array_foreach (job->secrets, i, record)
    {
        if (s_reseal (job, txn, record) != 0)
            return -1;
    }
    return datastore_keys_set_crypto_id (job->self->keys, txn,
                                         store_crypto_id (job->next)) != STORE_OK;
}

//  fsync the directory of `path` (a rename in it is durable)
static void
s_sync_dir (const char *path)
{
    char dir[4096];
    snprintf (dir, sizeof dir, "%s", path);
    char *slash = strrchr (dir, '/');
    if (slash)
        *slash = 0;
    int fd = open (slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd != -1) {
        fsync (fd);
        close (fd);
    }
}

int
datastore_rotate (datastore_t *self, json_t **result, char *message, size_t size)
{
    char next_path[4200];
    snprintf (next_path, sizeof next_path, "%s.new", self->key_path);
    unlink (next_path);
    s_rotate_t job = {self, NULL, json_array (), ""};
    job.next = store_crypto_create (next_path, store_crypto_id (self->crypto) + 1,
                                    message, size);
    if (!job.next) {
        json_decref (job.secrets);
        return -1;
    }
    store_code_t code = store_write (self->store, s_rotate_fn, &job);
    if (code != STORE_OK) {
        snprintf (message, size, "%s",
                  job.message[0] ? job.message : store_strerror (code));
        unlink (next_path);
        store_crypto_destroy (&job.next);
        json_decref (job.secrets);
        return -1;
    }
    //  Committed: the new key is the one. A crash before this rename is
    //  finished at the next start (the store names the new key's id).
    if (rename (next_path, self->key_path) != 0)
        zsys_error ("datastore: cannot rename %s: %s (finished at the next start)",
                    next_path, strerror (errno));
    s_sync_dir (self->key_path);
    store_crypto_destroy (&self->crypto);
    self->crypto = job.next;
    *result = json_pack ("{s:i, s:i}", "key_id", (int)store_crypto_id (self->crypto),
                         "secrets", (int)json_array_size (job.secrets));
    zsys_info ("datastore: secrets re-sealed under key %u (%zu secrets)",
               store_crypto_id (self->crypto), json_array_size (job.secrets));
    json_decref (job.secrets);
    self->rotations++;
    return 0;
}

static int
s_set_id_fn (store_txn_t *txn, void *arg)
{
    datastore_t *self = (datastore_t *)arg;
    return datastore_keys_set_crypto_id (self->keys, txn,
                                         store_crypto_id (self->crypto)) != STORE_OK;
}

//  A rotation interrupted by a crash: finished or rolled back
static void
s_recover_rotation (datastore_t *self, uint32_t stored)
{
    char next_path[4200], message[512];
    snprintf (next_path, sizeof next_path, "%s.new", self->key_path);
    if (access (next_path, F_OK) != 0)
        return;
    store_crypto_t *next = store_crypto_load (next_path, message, sizeof message);
    if (next && store_crypto_id (next) == stored) {
        zsys_info ("datastore: finishing the rotation to key %u", stored);
        if (rename (next_path, self->key_path) == 0)
            s_sync_dir (self->key_path);
    } else {
        zsys_info ("datastore: rolling back an unfinished key rotation");
        unlink (next_path);
    }
    store_crypto_destroy (&next);
}

//  A first key: written to <key>.tmp, then renamed into place
static store_crypto_t *
s_create_key (datastore_t *self, char *message, size_t size)
{
    char tmp[4200];
    snprintf (tmp, sizeof tmp, "%s.tmp", self->key_path);
    unlink (tmp);
    store_crypto_t *crypto = store_crypto_create (tmp, 1, message, size);
    if (crypto && rename (tmp, self->key_path) != 0) {
        snprintf (message, size, "%.900s: cannot create (%s)", self->key_path,
                  strerror (errno));
        store_crypto_destroy (&crypto);
    }
    if (crypto) {
        s_sync_dir (self->key_path);
        zsys_info ("datastore: created the key file %s (0600)", self->key_path);
    }
    return crypto;
}

static int
s_open_crypto (datastore_t *self)
{
    char message[1024];
    if (store_crypto_init () != 0) {
        zsys_error ("datastore: libsodium does not initialise");
        return -1;
    }
    store_txn_t *txn = store_read_begin (self->store);
    uint32_t stored = txn ? datastore_keys_crypto_id (self->keys, txn) : 0;
    store_read_end (&txn);
    s_recover_rotation (self, stored);
    self->crypto = store_crypto_load (self->key_path, message, sizeof message);
    if (!self->crypto && errno == ENOENT && stored == 0)
        self->crypto = s_create_key (self, message, sizeof message);
    else if (!self->crypto && errno == ENOENT)
        snprintf (message, sizeof message,
                  "%.900s: missing, and the store's secrets are sealed under key %u",
                  self->key_path, stored);
    if (self->crypto && stored && stored != store_crypto_id (self->crypto)) {
        snprintf (message, sizeof message,
                  "%.900s holds key %u, the store's secrets are sealed under key %u",
                  self->key_path, store_crypto_id (self->crypto), stored);
        store_crypto_destroy (&self->crypto);
    }
    if (!self->crypto) {
        zsys_error ("datastore: %s", message);
        return -1;
    }
    if (!stored && store_write (self->store, s_set_id_fn, self) != STORE_OK)
        return -1;
    return 0;
}

//  ---------------------------------------------------------------------------
//  The actor

static void
s_datastore_destroy (datastore_t **self_p)
{
    datastore_t *self = *self_p;
    if (!self)
        return;
    actor_loop_destroy (&self->loop);
    if (self->batch && self->query && self->outbox)
        datastore_batch_flush (self); //  answered: nothing is lost
    event_outbox_destroy (&self->outbox);
    zlist_destroy (&self->batch);
    json_decref (self->touched);
    actor_query_destroy (&self->query);
    datastore_peers_destroy (&self->peers);
    bus_link_destroy (&self->events);
    bus_pub_destroy (&self->pub);
    store_crypto_destroy (&self->crypto);
    datastore_keys_destroy (&self->keys);
    store_close (&self->store);
    free (self);
    *self_p = NULL;
}

static int
s_open_store (datastore_t *self, const actor_config_t *config)
{
    snprintf (self->dir, sizeof self->dir, "%s/datastore",
              config->data_dir ? config->data_dir : ".");
    const char *key = getenv ("ATTUNE_DATASTORE_KEY");
    snprintf (self->key_path, sizeof self->key_path, "%s",
              config->datastore_key ? config->datastore_key
              : key && *key         ? key
                                    : "");
    if (!self->key_path[0])
        snprintf (self->key_path, sizeof self->key_path, "%s/crypto.key", self->dir);
    self->store = actor_store_open (config, "datastore");
    if (!self->store)
        return -1;
    self->keys = datastore_keys_new (self->store);
    if (!self->keys) {
        zsys_error ("datastore: %s", store_last_error (self->store));
        return -1;
    }
    return s_open_crypto (self);
}

static int
s_start (datastore_t *self, const actor_config_t *config)
{
    char host[256];
    actor_host (config, host, sizeof host);
    snprintf (self->source, sizeof self->source, "datastore@%s", host);
    self->batch = zlist_new ();
    self->touched = json_object ();
    if (s_open_store (self, config) != 0)
        return -1;
    char message[1024];
    self->peers = datastore_peers_new (config->worker_certs, message, sizeof message);
    if (!self->peers) {
        zsys_error ("datastore: %s", message);
        return -1;
    }
    bus_topology_t *topology = config->topology;
    bus_link_config_t link_config;
    actor_link_config (config, &link_config);
    //  Never block on the rules actor: events wait in the outbox
    link_config.send_timeout_ms = 0;
    self->heartbeat_ms = link_config.heartbeat_ms;
    self->pub = bus_pub_new (bus_topology_bind (topology, "datastore.facts"), 0);
    self->query =
        actor_query_new (bus_topology_bind (topology, "datastore.query"), self->source);
    self->events = bus_link_new (bus_topology_connect (topology, "rules.commands"),
                                 self->source, &link_config);
    self->outbox = self->events ? event_outbox_new (self->store, "outbox", self->events,
                                                    self->source)
                                : NULL;
    if (!self->pub || !self->query || !self->events || !self->outbox) {
        zsys_error ("datastore: cannot bind datastore.facts / datastore.query or "
                    "connect to rules.commands");
        return -1;
    }
    actor_query_set_store (self->query, self->store, "datastore");
    actor_query_backup_file (self->query, self->key_path);
    actor_query_metrics_link (self->query, "rules", self->events); //  metrics.get
    s_expiry_reload (self);
    zsys_info ("datastore: keys in %s, secret key %s (id %u), worker certs %s", self->dir,
               self->key_path, store_crypto_id (self->crypto),
               config->worker_certs ? config->worker_certs : "(none)");
    return 0;
}

json_t *
datastore_status (datastore_t *self)
{
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                      "sets", (json_int_t)self->sets, "gets", (json_int_t)self->gets,
                      "lists", (json_int_t)self->lists, "deletes",
                      (json_int_t)self->deletes, "loads", (json_int_t)self->loads,
                      "expired", (json_int_t)self->expired, "rotations",
                      (json_int_t)self->rotations, "denied", (json_int_t)self->denied,
                      "events_sent", (json_int_t)event_outbox_sent (self->outbox),
                      "events_waiting", (json_int_t)event_outbox_size (self->outbox),
                      "commits", (json_int_t)store_commits (self->store), "store_bytes",
                      (json_int_t)store_used_size (self->store));
}

static json_t *
s_pipe_status (void *self)
{
    return datastore_status ((datastore_t *)self);
}

static int
s_timeout (void *arg)
{
    datastore_t *self = (datastore_t *)arg;
    int timeout = bus_link_timeout (self->events);
    int expiry = s_expiry_timeout (self);
    if (expiry >= 0 && (timeout < 0 || expiry < timeout))
        timeout = expiry;
    return timeout;
}

//  A heartbeat fact every interval, as on the other fact streams
static void
s_heartbeat (void *arg, void *unused)
{
    datastore_t *self = (datastore_t *)arg;
    proto_envelope_t *beat = proto_envelope_new ("datastore.heartbeat", self->source);
    if (beat && proto_envelope_set_payload_packed (beat, "\x80", 1) == 0)
        bus_pub_send (self->pub, beat);
    else
        zsys_error ("datastore: cannot publish datastore.heartbeat: out of memory");
    proto_envelope_destroy (&beat);
}

static void
s_on_query (void *arg, void *unused)
{
    datastore_t *self = (datastore_t *)arg;
    actor_query_handle (self->query, datastore_handle_query, self);
    datastore_batch_flush (self); //  one commit for the writes of this wake-up
}

static void
s_on_events (void *arg, void *unused)
{
    bus_link_handle (((datastore_t *)arg)->events);
}

static void
s_after (void *arg)
{
    datastore_t *self = (datastore_t *)arg;
    if (self->next_expiry && self->next_expiry <= proto_now_usec ())
        s_expire (self);
    event_outbox_pump (self->outbox);
    bus_link_tick (self->events);
}

//  The state, its store, sockets and loop; NULL on failure (logged).
static datastore_t *
s_datastore_new (zsock_t *pipe, const actor_config_t *config)
{
    datastore_t *self = (datastore_t *)zmalloc (sizeof (datastore_t));
    self->pipe = pipe;
    self->loop = actor_loop_new (pipe, "datastore", self);
    if (!self->loop || !config || s_start (self, config) != 0 ||
        actor_loop_reader (self->loop, actor_query_sock (self->query), 0, s_on_query,
                           NULL) != 0 ||
        actor_loop_reader (self->loop, bus_link_sock (self->events), 1, s_on_events,
                           NULL) != 0 ||
        actor_loop_timer (self->loop, self->heartbeat_ms, s_heartbeat, NULL) != 0) {
        s_datastore_destroy (&self);
        return NULL;
    }
    actor_loop_set_status (self->loop, s_pipe_status);
    actor_loop_set_timeout (self->loop, s_timeout);
    actor_loop_set_after (self->loop, s_after);
    return self;
}

void
datastore_actor (zsock_t *pipe, void *args)
{
    datastore_t *self = s_datastore_new (pipe, (const actor_config_t *)args);
    zsock_signal (pipe, self ? 0 : 1);
    if (self)
        actor_loop_run (self->loop);
    s_datastore_destroy (&self);
}
