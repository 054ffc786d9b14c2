/*  executor: the actor shell: start, the loop, the pipe, command routing (executor.h). */
#include "actors/executor/executor_internal.h"

//  The order the loop reads in: registry first (actor_loop), then
#define S_RANK_LINKS 1 //  the worker links
#define S_RANK_QUERY 2 //  the query socket
#define S_RANK_INBOX 3 //  the command inbox

//  A retry of the same batch starts again from its first command.
static void
s_batch_begin (executor_t *self, bus_command_t *info)
{
    if (!self->batch_open) {
        self->batch_open = true;
        executor_copy (self->first_peer, sizeof self->first_peer, info->peer);
        self->first_epoch = info->epoch;
        self->first_seq = info->seq;
    } else if (info->seq == self->first_seq && info->epoch == self->first_epoch &&
               streq (info->peer, self->first_peer)) {
        executor_effects_clear (self);
        zhashx_purge (self->batch_running);
        self->queued_in_batch = false;
    }
}

//  bus_inbox handler: one command of a batch, inside its transaction. Its
//  payload is checked against the message table first (executor_check).
static int
s_handle_command (void *arg, store_txn_t *txn, proto_envelope_t *command,
                  bus_command_t *info)
{
    executor_t *self = (executor_t *)arg;
    s_batch_begin (self, info);
    const msgpack_object *payload = executor_check_command (self, command, info);
    if (!payload)
        return -1;
    const char *type = proto_envelope_type (command);
    if (streq (type, "enforcement.create"))
        return executor_create (self, txn, payload, info);
    if (streq (type, "execution.status"))
        return executor_report_status (self, txn, payload, info);
    if (streq (type, "execution.output"))
        return executor_output_report (self, txn, payload, info);
    if (streq (type, "worker.register"))
        return executor_links_register (self, txn, payload, info);
    return executor_links_draining (self, txn, payload, info);
}

//  Last in every batch's transaction: what waits for a slot, and the
//  outbox rows of acked events (deleted in this commit, not one of their own)
static int
s_batch_end (void *arg, store_txn_t *txn)
{
    executor_t *self = (executor_t *)arg;
    if (executor_schedule_batch (self, txn) != 0)
        return -1;
    return executor_triggers_flush (self, txn);
}

//  ---------------------------------------------------------------------------
//  Start-up: memory mirrors from the store

static int
s_load (executor_t *self)
{
    store_txn_t *txn = store_read_begin (self->store);
    if (!txn)
        return -1;
    store_cursor_t *cursor = store_cursor_new (txn, self->active);
    while (cursor && store_cursor_next (cursor) == STORE_OK) {
        size_t size;
        const char *key = (const char *)store_cursor_key (cursor, &size);
        char id[EXECUTOR_ID_SIZE];
        snprintf (id, sizeof id, "%.*s",
                  (int)(size < EXECUTOR_ID_SIZE ? size : EXECUTOR_ID_SIZE - 1), key);
        if (executor_read (self, txn, id) != 0)
            continue;
        executor_active_t *active =
            (executor_active_t *)zmalloc (sizeof (executor_active_t));
        active->status = (char)executor_status_of (self);
        executor_record_text (&self->record, EXECUTOR_RECORD_WORKER, active->worker,
                              sizeof active->worker);
        zhashx_update (self->actives, id, active);
    }
    store_cursor_destroy (&cursor);
    cursor = store_cursor_new (txn, self->workers_table);
    while (cursor && store_cursor_next (cursor) == STORE_OK) {
        size_t key_size, size;
        const char *key = (const char *)store_cursor_key (cursor, &key_size);
        const char *data = (const char *)store_cursor_data (cursor, &size);
        uint64_t stored;
        if (key_size < 256 && executor_links_stored_instance (data, size, &stored)) {
            char name[256];
            snprintf (name, sizeof name, "%.*s", (int)key_size, key);
            uint64_t *instance = (uint64_t *)zmalloc (sizeof (uint64_t));
            *instance = stored;
            zhashx_update (self->instances, name, instance);
        }
    }
    store_cursor_destroy (&cursor);
    cursor = store_cursor_new (txn, self->waiting);
    while (cursor && store_cursor_next (cursor) == STORE_OK) {
        size_t size;
        const char *data = (const char *)store_cursor_data (cursor, &size);
        executor_wait_t *wait = (executor_wait_t *)zmalloc (sizeof (executor_wait_t));
        snprintf (wait->id, sizeof wait->id, "%.*s",
                  (int)(size < EXECUTOR_ID_SIZE ? size : EXECUTOR_ID_SIZE - 1), data);
        wait->key = store_cursor_id (cursor);
        if (executor_read (self, txn, wait->id) == 0)
            executor_record_text (&self->record, EXECUTOR_RECORD_RUNNER, wait->runner,
                                  sizeof wait->runner);
        zlistx_add_end (self->queue, wait);
    }
    store_cursor_destroy (&cursor);
    //  A deadline that passed while we were down fires at once
    self->inquiry_next = executor_inquiry_next_deadline (self->inquiry, txn);
    uint64_t pending = executor_inquiry_pending (self->inquiry, txn);
    store_read_end (&txn);
    if (pending)
        zsys_info ("executor: %" PRIu64 " inquiries pending", pending);
    if (zhashx_size (self->actives))
        zsys_info ("executor: %zu executions in progress, %zu waiting for a worker",
                   zhashx_size (self->actives), zlistx_size (self->queue));
    return 0;
}

//  ---------------------------------------------------------------------------
//  Actor

//  The pipe's STATUS (executor.h); $TERM and the unknown reply are
//  actor_loop's.
static json_t *
s_pipe_status (void *arg)
{
    executor_t *self = (executor_t *)arg;
    json_t *by_status = json_object ();
    for (int s = 0; s < EXECUTION_STATUS_COUNT; s++)
        json_object_set_new (by_status, execution_status_name ((execution_status_t)s),
                             json_integer ((json_int_t)self->by_status[s]));
    json_t *status = json_pack (
        "{s:I, s:I, s:I, s:I, s:o, s:I, s:I}", "executions", (json_int_t)self->created,
        "active", (json_int_t)zhashx_size (self->actives), "waiting",
        (json_int_t)zlistx_size (self->queue), "workers",
        (json_int_t)executor_workers_count (self->workers), "by_status", by_status,
        "ignored_status", (json_int_t)self->ignored, "duplicates",
        (json_int_t)self->duplicates);
    json_object_set_new (status, "late", json_integer ((json_int_t)self->late));
    json_object_set_new (status, "repeated_status",
                         json_integer ((json_int_t)self->repeated));
    json_object_set_new (status, "output",
                         json_pack ("{s:I, s:I, s:I}", "stored",
                                    (json_int_t)self->output_stored, "dropped",
                                    (json_int_t)self->output_dropped, "published",
                                    (json_int_t)self->output_published));
    return status;
}

static void
s_executor_destroy (executor_t **self_p)
{
    executor_t *self = *self_p;
    if (!self)
        return;
    actor_loop_destroy (&self->loop);
    zhashx_destroy (&self->links);
    zhashx_destroy (&self->actives);
    zhashx_destroy (&self->batch_running);
    executor_runs_discard (self);
    if (self->unsettled) {
        executor_unsettled_t *item;
        while ((item = (executor_unsettled_t *)zlist_pop (self->unsettled)))
            executor_unsettled_destroy (&item);
        zlist_destroy (&self->unsettled);
    }
    zhashx_destroy (&self->instances);
    zlistx_destroy (&self->queue);
    actor_effects_destroy (&self->effects); //  slots taken in them given back
    executor_triggers_close (self);
    executor_retention_close (self);
    executor_workers_destroy (&self->workers);
    registry_client_destroy (&self->registry);
    actor_query_destroy (&self->query);
    executor_metrics_close (self);
    executor_policy_destroy (&self->policy);
    executor_inquiry_destroy (&self->inquiry);
    executor_secret_destroy (&self->secret);
    bus_inbox_destroy (&self->inbox);
    bus_pub_destroy (&self->pub);
    executor_changes_destroy (&self->changes);
    store_close (&self->store);
    if (self->record_ready) {
        executor_record_release (&self->record);
        msgpack_sbuffer_destroy (&self->packed);
        msgpack_sbuffer_destroy (&self->params);
        self->record_ready = false;
    }
    free (self);
    *self_p = NULL;
}

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  Memory: buffers, registries, mirrors. 0 or -1.
static int
s_start_memory (executor_t *self, const actor_config_t *config)
{
    self->config = *config;
    executor_record_init (&self->record);
    msgpack_sbuffer_init (&self->packed);
    msgpack_sbuffer_init (&self->params);
    self->record_ready = true;
    actor_host (config, self->host, sizeof self->host);
    snprintf (self->source, sizeof self->source, "executor@%s", self->host);
    actor_link_config (config, &self->link_config);
    self->workers = executor_workers_new ();
    self->links = zhashx_new ();
    self->actives = zhashx_new ();
    self->batch_running = zhashx_new ();
    self->unsettled = zlist_new ();
    self->runs = zlist_new ();
    self->instances = zhashx_new ();
    self->queue = zlistx_new ();
    self->effects = actor_effects_new (self);
    if (!self->workers || !self->links || !self->actives || !self->batch_running ||
        !self->unsettled || !self->runs || !self->queue || !self->effects)
        return -1;
    zhashx_set_destructor (self->links, executor_link_destroy);
    zhashx_set_destructor (self->actives, s_free_item);
    zhashx_set_destructor (self->instances, s_free_item);
    zlistx_set_destructor (self->queue, s_free_item);
    return executor_retention_open (self);
}

//  The store (<data_dir>/executor) and its tables. 0 or -1.
static int
s_start_store (executor_t *self, const actor_config_t *config)
{
    self->store = actor_store_open (config, "executor");
    if (!self->store)
        return -1;
    self->executions = store_table (self->store, "executions", false);
    self->by_enforcement = store_table (self->store, "by_enforcement", false);
    self->waiting = store_table (self->store, "waiting", false);
    self->active = store_table (self->store, "active", false);
    self->workers_table = store_table (self->store, "workers", false);
    self->children = store_table (self->store, "children", false);
    self->output = store_table (self->store, "output", false);
    if (self->executions && self->by_enforcement && self->waiting && self->active &&
        self->workers_table && self->children && self->output)
        self->inquiry = executor_inquiry_new (self->store);
    if (!self->inquiry) {
        zsys_error ("executor: %s", store_last_error (self->store));
        return -1;
    }
    char dir[4096], message[512];
    snprintf (dir, sizeof dir, "%s/executor", config->data_dir ? config->data_dir : ".");
    self->secret = executor_secret_new (dir, message, sizeof message);
    if (!self->secret) {
        zsys_error ("executor: the key of secret parameters: %s", message);
        return -1;
    }
    return s_load (self);
}

//  Sockets: registry client, facts, the command inbox, the query socket.
static int
s_start_sockets (executor_t *self, const actor_config_t *config)
{
    self->registry = registry_client_new_keeping (config->topology, self->source,
                                                  REGISTRY_KEEP_EXECUTOR);
    //  A burst of thousands of executions is tens of thousands of facts: a
    //  subscriber a moment behind should not lose them (it resyncs if it does)
    self->pub =
        bus_pub_new (bus_topology_bind (config->topology, "executor.facts"), 100000);
    self->changes = executor_changes_new (EXECUTOR_CHANGES_CAPACITY);
    if (!self->registry || !self->pub || !self->changes)
        return -1;
    self->inbox =
        bus_inbox_new (bus_topology_bind (config->topology, "executor.commands"),
                       "executor", self->store, &self->link_config);
    if (!self->inbox)
        return -1;
    bus_inbox_set_batch_end (self->inbox, s_batch_end, self);
    //  One execution per enforcement (by_enforcement, looked up first): a
    //  redelivered enforcement.create needs no processed-id record. Status
    //  reports come from workers, which keep nothing across a restart and
    //  so never resend in a new epoch what the old one sent (the inbox's
    //  per-sender order drops a resend within an epoch); and a report the
    //  execution already reflects (its worker, its status) changes nothing
    //  in executor_report_status, not even the late list.
    bus_inbox_set_handler_dedups (self->inbox, "enforcement.create");
    bus_inbox_set_handler_dedups (self->inbox, "execution.status");
    bus_inbox_set_handler_dedups (self->inbox, "execution.output"); //  by (id, seq)
    self->policy = executor_policy_new (self->store);
    self->query = actor_query_new (bus_topology_bind (config->topology, "executor.query"),
                                   self->source);
    return self->policy && self->query ? executor_triggers_open (self) : -1;
}

static int
s_sooner (int timeout, int t)
{
    return t >= 0 && (timeout < 0 || t < timeout) ? t : timeout;
}

//  How long the poll may wait: the nearest of every timer (ms), -1 none.
static int
s_timeout (void *arg)
{
    executor_t *self = (executor_t *)arg;
    int timeout = bus_inbox_timeout (self->inbox);
    if (self->events)
        timeout = s_sooner (timeout, bus_link_timeout (self->events));
    for (executor_link_t *wl = (executor_link_t *)zhashx_first (self->links); wl;
         wl = (executor_link_t *)zhashx_next (self->links))
        timeout = s_sooner (timeout, bus_link_timeout (wl->link));
    if (executor_policy_tick_ms (self->policy) >= 0) {
        int64_t left = self->policy_tick_at - zclock_mono ();
        timeout = s_sooner (timeout, left < 0 ? 0 : (int)left);
    }
    if (self->inquiry_next != INT64_MAX) {
        //  Rounded up: woken at the deadline, not a millisecond before
        int64_t left = self->inquiry_next - proto_now_usec ();
        timeout = s_sooner (timeout, left <= 0             ? 0
                                     : left > 3600000000LL ? 3600000
                                                           : (int)((left + 999) / 1000));
    }
    timeout = s_sooner (timeout, executor_retention_timeout (self));
    return self->schedule_soon ? 0 : timeout;
}

//  A heartbeat fact every interval (zguide Clone's HUGZ): its sequence
//  number shows a subscriber the facts it lost at the end of a burst, and a
//  restart (a new publisher id), without waiting for the next execution.
static void
s_heartbeat (void *self, void *unused)
{
    json_t *beat = json_object ();
    executor_publish ((executor_t *)self, "executor.heartbeat", beat);
    json_decref (beat);
}

//  A batch of commands: applied in one transaction, effects after commit.
static void
s_handle_inbox (void *arg, void *unused)
{
    executor_t *self = (executor_t *)arg;
    self->commands = true;
    self->batch_open = false;
    self->queued_in_batch = false;
    int delivered = bus_inbox_process (self->inbox, s_handle_command, self);
    zhashx_purge (self->batch_running); //  committed, or undone
    self->batch_open = false;
    self->queued_in_batch = false;
    if (delivered < 0)
        executor_effects_clear (self); //  nothing committed: senders resend
    else
        executor_effects_apply (self);
    //  What waits for the slots this batch freed: taken by the next batch
    //  when one is already waiting (one commit a turn), else by
    //  executor_schedule_run on a turn that comes at once
    self->schedule_soon = delivered > 0 && zlistx_size (self->queue) > 0;
}

static void
s_handle_link (void *arg, void *link)
{
    executor_t *self = (executor_t *)arg;
    //  Links may change while handled (a worker lost): this one may be gone
    if (!self->poll_dirty)
        bus_link_handle (((executor_link_t *)link)->link);
}

static void
s_handle_query (void *arg, void *unused)
{
    executor_t *self = (executor_t *)arg;
    actor_query_handle (self->query, executor_query_handle, self);
    executor_runs_flush (self); //  one commit for the runs of this wake-up
}

//  Before each poll: the policies, and the links' readers when the links
//  changed (executor_links marks it).
static void
s_before (void *arg)
{
    executor_t *self = (executor_t *)arg;
    executor_policies_sync (self);
    if (!self->poll_dirty)
        return;
    actor_loop_remove_rank (self->loop, S_RANK_LINKS);
    for (executor_link_t *wl = (executor_link_t *)zhashx_first (self->links); wl;
         wl = (executor_link_t *)zhashx_next (self->links)) {
        int rc = actor_loop_reader (self->loop, bus_link_sock (wl->link), S_RANK_LINKS,
                                    s_handle_link, wl);
        assert (rc == 0);
        (void)rc;
    }
    self->poll_dirty = false;
}

//  Timers and retries, every turn.
static void
s_tick (void *arg)
{
    executor_t *self = (executor_t *)arg;
    bool commands = self->commands;
    self->commands = false;
    executor_links_retry (self);
    executor_policies_tick (self);
    executor_inquiries_tick (self);
    if (!commands)
        self->schedule_soon = false;
    if (!self->schedule_soon)
        executor_schedule_run (self);
    bus_inbox_tick (self->inbox);
    for (executor_link_t *wl = (executor_link_t *)zhashx_first (self->links); wl;
         wl = (executor_link_t *)zhashx_next (self->links))
        bus_link_tick (wl->link);
    executor_triggers_pump (self);
    executor_retention_tick (self, commands);
}

//  Acks of the built-in trigger events (executor_triggers)
static void
s_handle_events (void *arg, void *unused)
{
    bus_link_handle (((executor_t *)arg)->events);
}

//  The state, its store, sockets and loop; NULL on failure (logged).
//  Commands wait for the registry's definitions (an enforcement needs its
//  action's schema): the inbox is read once the first snapshot is in.
static executor_t *
s_executor_new (zsock_t *pipe, const actor_config_t *config)
{
    executor_t *self = (executor_t *)zmalloc (sizeof (executor_t));
    self->pipe = pipe;
    self->loop = actor_loop_new (pipe, "executor", self);
    actor_loop_t *loop = self->loop;
    if (!loop || !config || s_start_memory (self, config) != 0 ||
        s_start_store (self, config) != 0 || s_start_sockets (self, config) != 0 ||
        actor_loop_registry (loop, self->registry, bus_inbox_sock (self->inbox), NULL) ||
        actor_loop_reader (loop, actor_query_sock (self->query), S_RANK_QUERY,
                           s_handle_query, NULL) ||
        actor_loop_reader (loop, bus_inbox_sock (self->inbox), S_RANK_INBOX,
                           s_handle_inbox, NULL) ||
        actor_loop_timer (loop, self->link_config.heartbeat_ms, s_heartbeat, NULL) ||
        (self->events && actor_loop_reader (loop, bus_link_sock (self->events),
                                            S_RANK_QUERY, s_handle_events, NULL))) {
        s_executor_destroy (&self);
        return NULL;
    }
    self->poll_dirty = true; //  the links' readers, at the first turn
    actor_query_set_store (self->query, self->store, "executor"); //  store.backup
    executor_metrics_open (self);                                 //  metrics.get
    actor_loop_set_status (loop, s_pipe_status);
    actor_loop_set_timeout (loop, s_timeout);
    actor_loop_set_before (loop, s_before);
    actor_loop_set_after (loop, s_tick);
    return self;
}

void
executor_actor (zsock_t *pipe, void *args)
{
    executor_t *self = s_executor_new (pipe, (const actor_config_t *)args);
    zsock_signal (pipe, self ? 0 : 1);
    if (self)
        actor_loop_run (self->loop);
    s_executor_destroy (&self);
}

//  ---------------------------------------------------------------------------
//  Reading a closed store

int
executor_store_scan (const char *data_dir, executor_record_fn *fn, void *arg)
{
    char dir[4096], message[512];
    snprintf (dir, sizeof dir, "%s/executor", data_dir);
    store_code_t code;
    store_t *store = store_open (dir, NULL, &code, message, sizeof message);
    if (!store)
        return -1;
    store_table_t *executions = store_table (store, "executions", false);
    int count = -1;
    store_txn_t *txn = executions ? store_read_begin (store) : NULL;
    if (txn) {
        count = 0;
        store_cursor_t *cursor = store_cursor_new (txn, executions);
        while (cursor && store_cursor_next (cursor) == STORE_OK) {
            size_t size;
            const void *data = store_cursor_data (cursor, &size);
            json_t *record = executor_record_decode (data, size);
            if (record) {
                fn (arg, record);
                json_decref (record);
                count++;
            }
        }
        store_cursor_destroy (&cursor);
        store_read_end (&txn);
    }
    store_close (&store);
    return count;
}
