/*  workflow_engine: the workflow engine actor (workflow_engine.h): its
    loop, its link to the executor as a worker, the facts it follows and
    its requests to executor.query. The runs are workflow_engine_runs.c. */
#include "actors/workflow/workflow_engine_internal.h"
#include "proto/proto_json.h"

#define S_RANK_LINK  0 //  the order the loop reads in: the executor's link,
#define S_RANK_INBOX 1 //  its commands,
#define S_RANK_QUERY 2 //  the answers to our requests,
#define S_RANK_FACTS 3 //  then the facts about children

//  ---------------------------------------------------------------------------
//  The executor link (worker_link.h)

static void
s_register (wf_engine_t *self)
{
    json_t *held = json_array ();
    for (wf_run_t *run = (wf_run_t *)zhashx_first (self->active); run;
         run = (wf_run_t *)zhashx_next (self->active))
        json_array_append_new (held, json_string (run->id));
    json_t *payload = worker_link_register_payload (&self->wl, self->name, self->instance,
                                                    WORKFLOW_ENGINE_RUNTIMES,
                                                    WORKFLOW_ENGINE_SLOTS, held, false);
    proto_envelope_t *envelope =
        payload ? worker_link_envelope (self->source, "worker.register", payload) : NULL;
    if (envelope)
        zlist_append (self->outbox, envelope);
    worker_link_flush (&self->wl, self->outbox);
}

void
wf_engine_report (wf_engine_t *self, const char *id, const char *status, json_t *result,
                  char *sent)
{
    json_t *payload =
        json_pack ("{s:s, s:s, s:s, s:i, s:I}", "execution", id, "worker", self->name,
                   "status", status, "exit_code", streq (status, "completed") ? 0 : 1,
                   "ts", (json_int_t)proto_now_usec ());
    if (result)
        json_object_set_new (payload, "result", result);
    proto_envelope_t *envelope =
        worker_link_envelope (self->source, "execution.status", payload);
    if (!envelope)
        return;
    if (sent)
        proto_uuid_format (proto_envelope_id (envelope), sent);
    zlist_append (self->outbox, envelope);
    worker_link_flush (&self->wl, self->outbox);
}

static void
s_on_peer (void *arg, const char *peer, bus_peer_event_t event)
{
    if (event == BUS_PEER_UP)
        s_register ((wf_engine_t *)arg); //  the executor (re)appeared
}

static void
s_on_ack (void *arg, const uint8_t id[PROTO_UUID_SIZE])
{
    wf_engine_t *self = (wf_engine_t *)arg;
    char text[PROTO_UUID_STR_SIZE];
    proto_uuid_format (id, text);
    char *run = (char *)zhashx_lookup (self->finals, text);
    if (run) {
        char copy[S_ID_SIZE];
        snprintf (copy, sizeof copy, "%s", run);
        zhashx_delete (self->finals, text);
        wf_runs_acked (self, copy);
    }
}

//  A string of a msgpack map as text in `out`; "" when absent.
static const char *
s_str (const msgpack_object *map, const char *key, char *out, size_t size)
{
    const msgpack_object *value = proto_map_get (map, key);
    out[0] = 0;
    if (value && value->type == MSGPACK_OBJECT_STR)
        snprintf (out, size, "%.*s", (int)value->via.str.size, value->via.str.ptr);
    return out;
}

//  A command from the executor (bus_inbox handler), checked as a worker
//  checks its commands.
static int
s_command (void *arg, store_txn_t *txn, proto_envelope_t *command, bus_command_t *info)
{
    (void)txn;
    wf_engine_t *self = (wf_engine_t *)arg;
    const msgpack_object *payload = worker_link_checked (self->name, command, info);
    if (!payload)
        return -1;
    const char *type = proto_envelope_type (command);
    char id[S_ID_SIZE];
    if (streq (type, "worker.resync"))
        s_register (self);
    else if (streq (type, "worker.reconciled")) {
        const msgpack_object *drop = proto_map_get (payload, "drop");
        for (uint32_t i = 0; drop && i < drop->via.array.size; i++)
            if (drop->via.array.ptr[i].type == MSGPACK_OBJECT_STR) {
                snprintf (id, sizeof id, "%.*s", (int)drop->via.array.ptr[i].via.str.size,
                          drop->via.array.ptr[i].via.str.ptr);
                wf_runs_dropped (self, id);
            }
    } else if (streq (type, "execution.dispatch")) {
        json_t *json = proto_json_from_msgpack (payload, "payload", NULL);
        if (json)
            wf_runs_dispatch (self, s_str (payload, "execution", id, sizeof id), json);
        json_decref (json);
    } else if (streq (type, "execution.cancel") || streq (type, "execution.pause") ||
               streq (type, "execution.resume"))
        wf_runs_request (self, s_str (payload, "execution", id, sizeof id), type + 10);
    //  execution.start, execution.refused: the engine never claims
    return 0;
}

//  ---------------------------------------------------------------------------
//  Requests to executor.query

int
wf_engine_request (wf_engine_t *self, const char *type, json_t *payload, const char *run,
                   const char *key, const char *op)
{
    proto_envelope_t *request = proto_envelope_new (type, self->source);
    if (!request ||
        proto_envelope_set_payload_json (request, payload, NULL) != PROTO_OK) {
        proto_envelope_destroy (&request);
        json_decref (payload);
        return -1;
    }
    json_decref (payload);
    char id[PROTO_UUID_STR_SIZE];
    proto_uuid_format (proto_envelope_id (request), id);
    if (bus_client_send (self->query, &request) != 0) {
        proto_envelope_destroy (&request);
        return -1;
    }
    wf_request_t *entry = (wf_request_t *)zmalloc (sizeof (wf_request_t));
    snprintf (entry->run, sizeof entry->run, "%s", run);
    snprintf (entry->key, sizeof entry->key, "%s", key);
    snprintf (entry->op, sizeof entry->op, "%s", op);
    entry->sent = zclock_mono ();
    zhashx_insert (self->requests, id, entry);
    return 0;
}

static void
s_on_query (void *arg, void *unused)
{
    wf_engine_t *self = (wf_engine_t *)arg;
    proto_envelope_t *reply;
    while ((reply = bus_client_recv (self->query))) {
        char corr[PROTO_UUID_STR_SIZE];
        proto_uuid_format (proto_envelope_corr (reply), corr);
        bus_client_forget (self->query, proto_envelope_corr (reply));
        wf_request_t *request = (wf_request_t *)zhashx_lookup (self->requests, corr);
        if (request) {
            json_t *result = bus_client_result (self->query, reply);
            wf_runs_answer (self, request, result, bus_client_code (self->query),
                            bus_client_message (self->query));
            json_decref (result);
            zhashx_delete (self->requests, corr);
        }
        proto_envelope_destroy (&reply);
    }
}

//  Requests unanswered for S_REQUEST_MS are forgotten: what they were for
//  is sent again (the same request id: nothing happens twice).
static void
s_expire_requests (wf_engine_t *self)
{
    int64_t now = zclock_mono ();
    zlist_t *old = zlist_new ();
    for (wf_request_t *request = (wf_request_t *)zhashx_first (self->requests); request;
         request = (wf_request_t *)zhashx_next (self->requests))
        if (now - request->sent > S_REQUEST_MS)
            zlist_append (old, (void *)zhashx_cursor (self->requests));
    for (const char *id = (const char *)zlist_first (old); id;
         id = (const char *)zlist_next (old)) {
        wf_request_t *request = (wf_request_t *)zhashx_lookup (self->requests, id);
        wf_runs_answer (self, request, NULL, "unavailable", "no answer in time");
        uint8_t bytes[PROTO_UUID_SIZE];
        if (proto_uuid_parse (id, bytes) == 0)
            bus_client_forget (self->query, bytes);
        zhashx_delete (self->requests, id);
    }
    zlist_destroy (&old);
}

//  ---------------------------------------------------------------------------
//  Facts

static void
s_on_gap (void *arg, uint64_t publisher, uint64_t expected, uint64_t received)
{
    wf_engine_t *self = (wf_engine_t *)arg;
    if (expected == 0 && received <= 1)
        return; //  the executor's first fact: nothing before it
    self->gaps++;
    self->lost++;
    self->poll_due = true; //  ask for every child still running
}

static void
s_on_facts (void *arg, void *unused)
{
    wf_engine_t *self = (wf_engine_t *)arg;
    for (int i = 0; i < 1000; i++) {
        proto_envelope_t *fact = bus_sub_recv (self->facts, NULL, 0);
        if (!fact)
            break;
        const char *type = proto_envelope_type (fact);
        const msgpack_object *payload = proto_envelope_payload_object (fact);
        const msgpack_object *value = payload ? proto_map_get (payload, "status") : NULL;
        char status[32] = "";
        if (value && value->type == MSGPACK_OBJECT_STR &&
            value->via.str.size < sizeof status)
            memcpy (status, value->via.str.ptr, value->via.str.size);
        //  Only the facts of children (they name a parent) that the conductor
        //  hears of: their end, or a wait on a person (wf_runs_child); not
        //  each step between, converted for nothing
        if (strncmp (type, "execution.", 10) == 0 && payload &&
            proto_map_get (payload, "parent") &&
            (wf_terminal (status) || streq (status, "pending"))) {
            json_t *json = proto_json_from_msgpack (payload, "payload", NULL);
            if (json)
                wf_runs_child (self, json);
            json_decref (json);
        }
        proto_envelope_destroy (&fact);
    }
}

//  workflow.query: nothing but what actor_query answers itself (api.ping,
//  store.backup)
static void
s_own_handle (void *arg, const char *type, json_t *payload, actor_answer_t *answer)
{
    (void)arg;
    (void)payload;
    actor_query_fail (answer, "not_found", "workflow.query: no request %s", type);
}

static void
s_on_own (void *arg, void *unused)
{
    (void)unused;
    wf_engine_t *self = (wf_engine_t *)arg;
    actor_query_handle (self->own, s_own_handle, self);
}

//  ---------------------------------------------------------------------------
//  Actor

static json_t *
s_pipe_status (void *arg)
{
    wf_engine_t *self = (wf_engine_t *)arg;
    return json_pack ("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "name", self->name, "runs",
                      (json_int_t)zhashx_size (self->active), "children",
                      (json_int_t)zhashx_size (self->children), "requests",
                      (json_int_t)zhashx_size (self->requests), "started",
                      (json_int_t)self->started, "ended", (json_int_t)self->ended, "gaps",
                      (json_int_t)self->gaps);
}

static void
s_on_link (void *arg, void *unused)
{
    bus_link_handle (((wf_engine_t *)arg)->wl.link);
}

static void
s_on_inbox (void *arg, void *unused)
{
    wf_engine_t *self = (wf_engine_t *)arg;
    bus_inbox_process (self->wl.inbox, s_command, self);
}

static int
s_timeout (void *arg)
{
    wf_engine_t *self = (wf_engine_t *)arg;
    int timeout = bus_link_timeout (self->wl.link);
    int t = bus_inbox_timeout (self->wl.inbox);
    if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    t = wf_runs_timeout (self);
    if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    if (zhashx_size (self->requests) && (timeout < 0 || timeout > 500))
        timeout = 500; //  requests expire
    if (zlist_size (self->outbox) && (timeout < 0 || timeout > 10))
        timeout = 10; //  waiting for window: look again soon
    return timeout;
}

static void
s_after (void *arg)
{
    wf_engine_t *self = (wf_engine_t *)arg;
    s_expire_requests (self);
    wf_runs_flush (self); //  stored before anything they lead to leaves
    wf_runs_send (self);
    bus_link_tick (self->wl.link);
    bus_inbox_tick (self->wl.inbox);
    worker_link_flush (&self->wl, self->outbox);
}

static void
s_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static void
s_spec_destroy (void **item_p)
{
    workflow_spec_destroy ((workflow_spec_t **)item_p);
}

static void
s_json_destroy (void **item_p)
{
    json_decref ((json_t *)*item_p);
    *item_p = NULL;
}

static void
s_engine_destroy (wf_engine_t **self_p)
{
    wf_engine_t *self = *self_p;
    if (!self)
        return;
    actor_loop_destroy (&self->loop);
    if (self->outbox) {
        proto_envelope_t *envelope;
        while ((envelope = (proto_envelope_t *)zlist_pop (self->outbox)))
            proto_envelope_destroy (&envelope);
        zlist_destroy (&self->outbox);
    }
    zhashx_destroy (&self->active);
    zhashx_destroy (&self->specs);
    zhashx_destroy (&self->children);
    zhashx_destroy (&self->early);
    zlist_destroy (&self->early_order);
    zhashx_destroy (&self->requests);
    zhashx_destroy (&self->in_flight);
    zhashx_destroy (&self->finals);
    zhashx_destroy (&self->sendable);
    zhashx_destroy (&self->dirty);
    bus_client_destroy (&self->query);
    actor_query_destroy (&self->own);
    bus_sub_destroy (&self->facts);
    worker_link_close (&self->wl);
    store_close (&self->store);
    free (self);
    *self_p = NULL;
}

static int
s_put_instance (store_txn_t *txn, void *arg)
{
    wf_engine_t *self = (wf_engine_t *)arg;
    return store_put (txn, self->meta, "instance", 8, &self->instance, 8) == STORE_OK
               ? 0
               : -1;
}

//  The instance the engine registers with is kept in its store: a restart
//  is the same worker holding the same runs, not a lost one.
static int
s_instance (wf_engine_t *self)
{
    store_txn_t *txn = store_read_begin (self->store);
    const void *data;
    size_t size;
    bool found = txn &&
                 store_get (txn, self->meta, "instance", 8, &data, &size) == STORE_OK &&
                 size == 8;
    if (found)
        memcpy (&self->instance, data, 8);
    store_read_end (&txn);
    if (found)
        return 0;
    self->instance = ((uint64_t)randof (0x7fffffff) << 32) ^ (uint64_t)zclock_usecs ();
    return store_write (self->store, s_put_instance, self) == STORE_OK ? 0 : -1;
}

//  Memory, store, sockets. 0 or -1 (logged).
static int
s_start (wf_engine_t *self, const actor_config_t *config)
{
    snprintf (self->name, sizeof self->name, "%s", WORKFLOW_ENGINE_NAME);
    char host[240];
    actor_host (config, host, sizeof host);
    snprintf (self->source, sizeof self->source, "workflow@%s", host);
    self->outbox = zlist_new ();
    self->active = zhashx_new ();
    self->specs = zhashx_new ();
    self->children = zhashx_new ();
    self->early = zhashx_new ();
    self->early_order = zlist_new ();
    self->requests = zhashx_new ();
    self->in_flight = zhashx_new ();
    self->finals = zhashx_new ();
    self->sendable = zhashx_new ();
    self->dirty = zhashx_new ();
    if (!self->sendable || !self->dirty || !self->outbox || !self->active ||
        !self->specs || !self->children || !self->early || !self->early_order ||
        !self->requests || !self->in_flight || !self->finals)
        return -1;
    zhashx_set_destructor (self->active, wf_run_destroy);
    zhashx_set_destructor (self->specs, s_spec_destroy);
    zhashx_set_destructor (self->children, s_free);
    zhashx_set_destructor (self->early, s_json_destroy);
    zlist_autofree (self->early_order);
    zhashx_set_destructor (self->requests, s_free);
    zhashx_set_destructor (self->finals, s_free);
    self->store = actor_store_open (config, "workflow");
    if (!self->store)
        return -1;
    self->runs = store_table (self->store, "runs", false);
    self->meta = store_table (self->store, "meta", false);
    self->finished = store_table (self->store, "ended", false);
    self->finished_order = store_table (self->store, "ended_order", false);
    self->run_children = store_table (self->store, "run_children", false);
    self->run_commands = store_table (self->store, "run_commands", false);
    self->run_journal = store_table (self->store, "run_journal", false);
    if (!self->runs || !self->meta || !self->finished || !self->finished_order ||
        !self->run_children || !self->run_commands || !self->run_journal ||
        s_instance (self) != 0) {
        zsys_error ("workflow: %s", store_last_error (self->store));
        return -1;
    }
    //  workflow.query answers store.backup only (api_backup.c: the api's
    //  backup copies this store between rules' and the executor's)
    self->own = actor_query_new (bus_topology_bind (config->topology, "workflow.query"),
                                 self->source);
    if (!self->own)
        return -1;
    actor_query_set_store (self->own, self->store, "workflow");
    self->query = bus_client_new (self->source);
    const char *query = bus_topology_connect (config->topology, "executor.query");
    if (!self->query || !query || bus_client_connect (self->query, query) != 0)
        return -1;
    bus_client_set_send_timeout (self->query, 0);
    //  Every executor fact: the sequence numbers count them all, and only
    //  the whole stream shows a gap exactly
    self->facts = bus_sub_new (0);
    if (!self->facts ||
        bus_sub_connect (self->facts, bus_topology_connect (config->topology,
                                                            "executor.facts")) != 0 ||
        bus_sub_subscribe (self->facts, "") != 0)
        return -1;
    bus_sub_set_gap_handler (self->facts, s_on_gap, self);
    if (worker_link_open (config, self->name, self->name, &self->wl) != 0)
        return -1;
    bus_link_set_peer_handler (self->wl.link, s_on_peer, self);
    bus_link_set_ack_handler (self->wl.link, s_on_ack, self);
    if (wf_runs_load (self) != 0)
        return -1;
    s_register (self);
    zsys_info ("workflow: %zu runs continue, runtimes %s, endpoint %s",
               zhashx_size (self->active), WORKFLOW_ENGINE_RUNTIMES, self->wl.endpoint);
    return 0;
}

static wf_engine_t *
s_engine_new (zsock_t *pipe, const actor_config_t *config)
{
    wf_engine_t *self = (wf_engine_t *)zmalloc (sizeof (wf_engine_t));
    self->pipe = pipe;
    self->loop = actor_loop_new (pipe, "workflow", self);
    if (!self->loop || !config || s_start (self, config) != 0 ||
        actor_loop_reader (self->loop, bus_link_sock (self->wl.link), S_RANK_LINK,
                           s_on_link, NULL) != 0 ||
        actor_loop_reader (self->loop, bus_inbox_sock (self->wl.inbox), S_RANK_INBOX,
                           s_on_inbox, NULL) != 0 ||
        actor_loop_reader (self->loop, bus_client_sock (self->query), S_RANK_QUERY,
                           s_on_query, NULL) != 0 ||
        actor_loop_reader (self->loop, bus_sub_sock (self->facts), S_RANK_FACTS,
                           s_on_facts, NULL) != 0 ||
        actor_loop_reader (self->loop, actor_query_sock (self->own), S_RANK_FACTS,
                           s_on_own, NULL) != 0) {
        s_engine_destroy (&self);
        return NULL;
    }
    actor_loop_set_status (self->loop, s_pipe_status);
    actor_loop_set_timeout (self->loop, s_timeout);
    actor_loop_set_after (self->loop, s_after);
    return self;
}

void
workflow_engine_actor (zsock_t *pipe, void *args)
{
    wf_engine_t *self = s_engine_new (pipe, (const actor_config_t *)args);
    zsock_signal (pipe, self ? 0 : 1);
    if (self) {
        actor_loop_run (self->loop);
        wf_runs_flush (self);
        worker_link_flush (&self->wl, self->outbox);
        bus_link_flush (self->wl.link, 200);
    }
    s_engine_destroy (&self);
}
