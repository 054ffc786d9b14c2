/*  executor_query: the api's requests (executor.query): reads, and the
    changes people make (run, cancel, re-run). Changes are written in their
    own transaction and answered after the commit; each is idempotent by
    request id. Runs and re-runs are written together, one transaction a
    wake-up (executor_runs.c). */
#include "actors/executor/executor_internal.h"

//  ---------------------------------------------------------------------------
//  API requests (executor.query): reads, and the changes people make (run,
//  cancel, re-run). Changes are answered after their commit; each is
//  idempotent by request id.

json_t *
executor_query_public (executor_t *self, json_t *record, bool brief)
{
    const json_t *action = registry_client_get (
        self->registry, "action", json_string_value (json_object_get (record, "action")));
    json_object_set_new (record, "parameters",
                         registry_params_mask (json_object_get (action, "parameters"),
                                               json_object_get (record, "parameters")));
    if (!json_object_get (record, "parent"))
        json_object_set_new (record, "parent", json_null ());
    if (brief) {
        json_object_del (record, "result");
        json_object_del (record, "log");
    }
    return record;
}

//  Create an execution of `ref` with `given` parameters for request `request`
//  (natural key "run:<request>"), `parent` for a re-run or a workflow's
//  task, `task` its name in the workflow.
static void
s_api_run (executor_t *self, const char *request, const char *ref, json_t *given,
           const char *parent, const char *task, json_t *rerun, const char *user,
           actor_answer_t *answer)
{
    const json_t *action = registry_client_get (self->registry, "action", ref);
    if (!action) {
        actor_query_fail (answer, "not_found", "action '%s' does not exist", ref);
        return;
    }
    if (json_is_false (json_object_get (action, "enabled"))) {
        actor_query_fail (answer, "invalid", "action '%s' is disabled", ref);
        return;
    }
    char reason[512] = "";
    json_t *checked = executor_params_check (json_object_get (action, "parameters"),
                                             given, reason, sizeof reason);
    if (!checked) {
        actor_query_fail (answer, "invalid", "%s: %s", ref, reason);
        return;
    }
    json_decref (checked);
    char key[64];
    snprintf (key, sizeof key, "run:%s", request);
    json_t *payload =
        json_pack ("{s:s, s:s, s:o}", "key", key, "action", ref, "parameters",
                   given ? json_incref (given) : json_object ());
    if (parent)
        json_object_set_new (payload, "parent", json_string (parent));
    if (task)
        json_object_set_new (payload, "task", json_string (task));
    if (rerun)
        json_object_set (payload, "rerun", rerun);
    if (user)
        json_object_set_new (payload, "user", json_string (user));
    executor_runs_add (self, payload, answer); //  answered after its commit
}

typedef struct {
    executor_t *self;
    const char *id;
    int before;       //  status found
    int after;        //  status written (-1: nothing to do)
    char worker[256]; //  assigned worker
    uint64_t wait_key;
} s_cancel_t;

//  Cancelled here and now: its inquiry (if pending) closed, out of the
//  waiting table (if waiting), ended. 0 or -1.
static int
s_cancel_here (executor_t *self, store_txn_t *txn, s_cancel_t *cancel, int64_t now)
{
    json_t *inquiry = cancel->before == EXECUTION_PENDING
                          ? executor_inquiry_get (self->inquiry, txn, cancel->id)
                          : NULL;
    if (inquiry && streq (json_string_value (json_object_get (inquiry, "status")) ?: "",
                          "pending")) {
        if (executor_inquiry_close (self->inquiry, txn, inquiry, "cancelled", NULL, NULL,
                                    NULL, now) != 0) {
            json_decref (inquiry);
            return -1;
        }
        executor_inquiries_fact (self, "inquiry.cancelled", inquiry);
    }
    json_decref (inquiry);
    if (cancel->before == EXECUTION_REQUESTED || cancel->before == EXECUTION_DELAYED)
        for (executor_wait_t *wait = (executor_wait_t *)zlistx_first (self->queue); wait;
             wait = (executor_wait_t *)zlistx_next (self->queue))
            if (streq (wait->id, cancel->id)) {
                store_del_id (txn, self->waiting, wait->key);
                break;
            }
    executor_end_t end = {
        .event = EXECUTION_CANCEL, .error = "cancelled by request", .policies = true};
    return executor_end (self, txn, cancel->id, &end, now) < 0 ? -1 : 0;
}

static int
s_apply_cancel (store_txn_t *txn, void *arg)
{
    s_cancel_t *cancel = (s_cancel_t *)arg;
    executor_t *self = cancel->self;
    executor_effects_clear (self);
    cancel->before = cancel->after = -1;
    if (executor_read (self, txn, cancel->id) != 0)
        return 0;
    cancel->before = executor_status_of (self);
    executor_record_text (&self->record, EXECUTOR_RECORD_WORKER, cancel->worker,
                          sizeof cancel->worker);
    if (cancel->before < 0 || execution_status_terminal (cancel->before) ||
        cancel->before == EXECUTION_CANCELING)
        return 0;
    //  Not on a worker, or on one that cannot hear us: cancelled here and now.
    //  On a live worker: canceling until the worker reports how it ended.
    executor_link_t *wl =
        cancel->worker[0] ? (executor_link_t *)zhashx_lookup (self->links, cancel->worker)
                          : NULL;
    executor_worker_t *known =
        cancel->worker[0] ? executor_workers_find (self->workers, cancel->worker) : NULL;
    bool on_worker = cancel->before != EXECUTION_REQUESTED &&
                     cancel->before != EXECUTION_DELAYED &&
                     cancel->before != EXECUTION_PENDING && wl && known && known->alive;
    int64_t now = proto_now_usec ();
    if (!on_worker) {
        cancel->after = EXECUTION_CANCELLED;
        return s_cancel_here (self, txn, cancel, now);
    }
    cancel->after = executor_move (self, EXECUTION_CANCEL_ON_WORKER, now);
    char ref[512];
    executor_fact_packed (self, executor_action_of (self, ref, sizeof ref));
    return executor_packed_put (self, txn, cancel->id);
}

void
executor_query_tell (executor_t *self, const char *worker, const char *type,
                     const char *id)
{
    executor_link_t *wl = (executor_link_t *)zhashx_lookup (self->links, worker);
    json_t *payload = json_pack ("{s:s}", "execution", id);
    proto_envelope_t *command = proto_envelope_new (type, self->source);
    if (wl && command && payload &&
        proto_envelope_set_payload_json (command, payload, NULL) == PROTO_OK &&
        bus_link_send (wl->link, &command) != 0)
        zsys_warning ("executor: %s of %s to %s is waiting (link full)", type, id,
                      worker);
    proto_envelope_destroy (&command);
    json_decref (payload);
}

static void
s_api_cancel (executor_t *self, const char *id, actor_answer_t *answer)
{
    s_cancel_t cancel = {.self = self, .id = id};
    store_code_t code = store_write (self->store, s_apply_cancel, &cancel);
    if (code != STORE_OK) {
        executor_effects_clear (self);
        actor_query_fail (answer, "store", "cannot cancel: %s",
                          store_last_error (self->store));
        return;
    }
    if (cancel.before < 0) {
        actor_query_fail (answer, "not_found", "execution %s does not exist", id);
        return;
    }
    if (execution_status_terminal (cancel.before)) {
        actor_query_fail (answer, "conflict", "execution %s has already ended (%s)", id,
                          execution_status_name (cancel.before));
        return;
    }
    executor_effects_apply (self); //  the fact
    if (cancel.after == EXECUTION_CANCELLED) {
        for (executor_wait_t *wait = (executor_wait_t *)zlistx_first (self->queue); wait;
             wait = (executor_wait_t *)zlistx_next (self->queue))
            if (streq (wait->id, id)) {
                zlistx_delete (self->queue, zlistx_cursor (self->queue));
                break;
            }
        //  (a pending execution gave its worker slot back when it went pending)
        if (cancel.before != EXECUTION_REQUESTED && cancel.before != EXECUTION_DELAYED &&
            cancel.before != EXECUTION_PENDING && cancel.worker[0])
            executor_workers_release (self->workers, cancel.worker);
        zhashx_delete (self->actives, id);
    } else if (cancel.after == EXECUTION_CANCELING) {
        executor_active_t *active =
            (executor_active_t *)zhashx_lookup (self->actives, id);
        if (active)
            active->status = EXECUTION_CANCELING;
        executor_query_tell (self, cancel.worker, "execution.cancel", id);
    }
    answer->result = json_pack ("{s:s, s:s}", "execution", id, "status",
                                cancel.after >= 0 ? execution_status_name (cancel.after)
                                                  : "canceling");
}

json_t *
executor_query_get (executor_t *self, const char *id)
{
    store_txn_t *txn = store_read_begin (self->store);
    json_t *record = txn ? executor_json_get (txn, self, id) : NULL;
    store_read_end (&txn);
    return record;
}

//  api.execution.list: newest first (ids are time-ordered), filtered.
//  Whether `record`'s string `key` is `want` (NULL: any)
static bool
s_field_is (const json_t *record, const char *key, const char *want)
{
    const char *value = json_string_value (json_object_get (record, key));
    return !want || (value && streq (want, value));
}

static void
s_api_list (executor_t *self, json_t *payload, actor_answer_t *answer)
{
    const char *status = actor_arg_str (payload, "status", answer);
    const char *action = actor_arg_str (payload, "action", answer);
    const char *rule = actor_arg_str (payload, "rule", answer);
    const char *before = actor_arg_str (payload, "before", answer);
    const char *parent = actor_arg_str (payload, "parent", answer);
    int64_t since = actor_arg_int (payload, "since", 0, 0, INT64_MAX, answer);
    int64_t until = actor_arg_int (payload, "until", INT64_MAX, 0, INT64_MAX, answer);
    int64_t limit = actor_arg_int (payload, "limit", EXECUTOR_LIST_DEFAULT, 1,
                                   EXECUTOR_LIST_MAX, answer);
    if (answer->code[0])
        return;
    if (status && execution_status_parse (status) < 0) {
        actor_query_fail (answer, "bad_request", "status: '%.64s' is not a status",
                          status);
        return;
    }
    if (before && strlen (before) >= EXECUTOR_ID_SIZE) {
        actor_query_fail (answer, "bad_request", "before: not an execution id");
        return;
    }
    if (parent) {
        if (strlen (parent) >= EXECUTOR_ID_SIZE)
            actor_query_fail (answer, "bad_request", "parent: not an execution id");
        else if (action || rule || since || until != INT64_MAX)
            actor_query_fail (answer, "bad_request",
                              "parent: lists the children by status only (no action, "
                              "rule, since or until)");
        else
            executor_workflow_children (self, parent, before, status, (size_t)limit,
                                        answer);
        return;
    }
    store_txn_t *txn = store_read_begin (self->store);
    store_cursor_t *cursor = txn ? store_cursor_new (txn, self->executions) : NULL;
    if (!cursor) {
        store_read_end (&txn);
        actor_query_fail (answer, "store", "cannot read: %s",
                          store_last_error (self->store));
        return;
    }
    store_code_t code;
    if (before) {
        code = store_cursor_seek (cursor, before, strlen (before));
        code = code == STORE_OK ? store_cursor_prev (cursor) : store_cursor_last (cursor);
    } else
        code = store_cursor_last (cursor);
    actor_page_t page; //  cut by bytes as well: a reply is one frame
    actor_page_init (&page, (size_t)limit);
    char next[EXECUTOR_ID_SIZE] = "";
    size_t seen = 0;
    while (code == STORE_OK && !actor_page_full (&page) && seen++ < EXECUTOR_SCAN_MAX) {
        size_t key_size, size;
        const char *key = (const char *)store_cursor_key (cursor, &key_size);
        const void *data = store_cursor_data (cursor, &size);
        json_t *record = executor_record_decode (data, size);
        code = store_cursor_prev (cursor);
        if (!record)
            continue;
        json_int_t requested = json_integer_value (json_object_get (record, "requested"));
        bool keep = requested >= since && requested <= until &&
                    s_field_is (record, "status", status) &&
                    s_field_is (record, "action", action) &&
                    s_field_is (record, "rule", rule);
        if (!keep)
            json_decref (record);
        else if (actor_page_add (&page, executor_query_public (self, record, true)))
            snprintf (
                next, sizeof next, "%.*s",
                (int)(key_size < EXECUTOR_ID_SIZE ? key_size : EXECUTOR_ID_SIZE - 1),
                key);
    }
    if (code != STORE_OK && !page.more)
        next[0] = 0; //  nothing older
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    answer->result = json_pack ("{s:o, s:o}", "items", page.items, "next",
                                next[0] ? json_string (next) : json_null ());
}

static json_t *
s_api_workers (executor_t *self)
{
    json_t *items = json_array ();
    for (size_t i = 0; i < executor_workers_count (self->workers); i++) {
        executor_worker_t *worker = executor_workers_at (self->workers, i);
        json_t *runtimes = json_array ();
        for (int r = 0; r < worker->runtime_count; r++)
            json_array_append_new (runtimes, json_string (worker->runtimes[r]));
        executor_link_t *wl =
            (executor_link_t *)zhashx_lookup (self->links, worker->name);
        json_array_append_new (
            items,
            json_pack ("{s:s, s:s, s:o, s:i, s:i, s:b, s:b, s:I}", "worker", worker->name,
                       "endpoint", worker->endpoint, "runtimes", runtimes, "slots",
                       worker->slots / EXECUTOR_PREFETCH, "busy", worker->busy, "alive",
                       worker->alive, "draining", worker->draining, "last_heartbeat",
                       (json_int_t)(wl ? bus_link_last_heard_usec (wl->link)
                                       : worker->last_seen_usec)));
    }
    return json_pack ("{s:o}", "items", items);
}

//  api.execution.changes (executor_changes.h): the records it reads here
static json_t *
s_changes_record (void *arg, executor_change_kind_t kind, const char *key)
{
    executor_t *self = (executor_t *)arg;
    if (kind == EXECUTOR_CHANGE_WORKER) {
        json_t *all = s_api_workers (self), *item, *found = NULL;
        size_t i;
        json_array_foreach (json_object_get (all, "items"), i, item)
        {
            const char *name = json_string_value (json_object_get (item, "worker"));
            if (!found && name && streq (name, key))
                found = json_incref (item);
        }
        json_decref (all);
        return found;
    }
    if (kind == EXECUTOR_CHANGE_INQUIRY) {
        store_txn_t *txn = store_read_begin (self->store);
        json_t *inquiry = txn ? executor_inquiry_get (self->inquiry, txn, key) : NULL;
        store_read_end (&txn);
        if (inquiry)
            json_object_del (inquiry, "request");
        return inquiry;
    }
    json_t *record = executor_query_get (self, key);
    return record ? executor_query_public (self, record, true) : NULL;
}

//  Every non-terminal execution: the active ones, and those pending (an
//  inquiry open: not in actives) from the deadline index.
static json_t *
s_changes_active_ids (void *arg)
{
    executor_t *self = (executor_t *)arg;
    json_t *ids = json_array ();
    for (void *item = zhashx_first (self->actives); item;
         item = zhashx_next (self->actives))
        json_array_append_new (ids,
                               json_string ((const char *)zhashx_cursor (self->actives)));
    store_txn_t *txn = store_read_begin (self->store);
    size_t pending = txn ? (size_t)executor_inquiry_pending (self->inquiry, txn) : 0;
    char (*pending_ids)[40] = pending ? calloc (pending, 40) : NULL;
    if (pending_ids) {
        size_t count =
            executor_inquiry_due (self->inquiry, txn, INT64_MAX, pending_ids, pending);
        for (size_t i = 0; i < count; i++)
            json_array_append_new (ids, json_string (pending_ids[i]));
    }
    free (pending_ids);
    store_read_end (&txn);
    return ids;
}

static json_t *
s_changes_workers (void *arg)
{
    json_t *all = s_api_workers ((executor_t *)arg);
    json_t *items = json_incref (json_object_get (all, "items"));
    json_decref (all);
    return items;
}

static void
s_changes (executor_t *self, json_t *payload, actor_answer_t *answer)
{
    executor_changes_source_t source = {s_changes_record, s_changes_active_ids,
                                        s_changes_workers, self};
    executor_changes_query (self->changes, bus_pub_id (self->pub) & INT64_MAX,
                            bus_pub_seq (self->pub), payload, &source, answer);
}

static void
s_worker_list (executor_t *self, json_t *payload, actor_answer_t *answer)
{
    const char *after = actor_arg_str (payload, "after", answer);
    json_t *all = answer->code[0] ? NULL : s_api_workers (self);
    if (all) //  by name, cut by bytes: a reply is one frame
        answer->result =
            actor_page_list (json_object_get (all, "items"), "worker", after, 0, NULL);
    json_decref (all);
}

static void
s_queue_stats (executor_t *self, json_t *payload, actor_answer_t *answer)
{
    const char *ref = actor_arg_str (payload, "ref", answer);
    if (answer->code[0])
        return;
    if (!ref || strlen (ref) > 255) {
        actor_query_fail (answer, "bad_request", "ref: required (an action ref)");
        return;
    }
    if (!registry_client_get (self->registry, "action", ref)) {
        actor_query_fail (answer, "not_found", "action '%s' does not exist", ref);
        return;
    }
    store_txn_t *txn = store_read_begin (self->store);
    if (txn)
        answer->result =
            executor_policy_stats (self->policy, txn, ref, proto_now_usec ());
    else
        actor_query_fail (answer, "store", "cannot read: %s",
                          store_last_error (self->store));
    store_read_end (&txn);
}

static void
s_status (executor_t *self, json_t *payload, actor_answer_t *answer)
{
    (void)payload;
    json_t *by_status = json_object ();
    for (int s = 0; s < EXECUTION_STATUS_COUNT; s++)
        json_object_set_new (by_status, execution_status_name ((execution_status_t)s),
                             json_integer ((json_int_t)self->by_status[s]));
    store_txn_t *txn = store_read_begin (self->store);
    uint64_t pending = txn ? executor_inquiry_pending (self->inquiry, txn) : 0;
    store_read_end (&txn);
    answer->result = json_pack (
        "{s:b, s:I, s:I, s:I, s:I, s:o, s:I, s:I}", "up", 1, "executions",
        (json_int_t)self->created, "active", (json_int_t)zhashx_size (self->actives),
        "waiting", (json_int_t)zlistx_size (self->queue), "workers",
        (json_int_t)executor_workers_count (self->workers), "by_status", by_status,
        "store_bytes", (json_int_t)store_used_size (self->store), "inquiries_pending",
        (json_int_t)pending);
    json_object_set_new (answer->result, "purged", executor_retention_status (self));
}

//  api.execution.run {action, parameters?, request, parent?, task?, user?}:
//  the workflow engine names the parent (the workflow execution, which must
//  exist) and the task of the child it starts; `user` is the api's caller
//  (api_request.c), else the parent's.
//  Whether execution `id` exists, and its user (action_context.user) into
//  `user` ("" without one). Reads the stored msgpack record, not its JSON
//  form, once per parent (self->parents): a workflow starts each of its
//  children with this, and its input (10,000 items) would be read for
//  every one.
static bool
s_parent_user (executor_t *self, const char *id, char *user, size_t size)
{
    for (size_t i = 0; i < EXECUTOR_PARENTS; i++) {
        executor_parent_t *known = &self->parents[i];
        if (*known->id && known->purged == self->purged && streq (known->id, id)) {
            snprintf (user, size, "%s", known->user);
            return true;
        }
    }
    user[0] = 0;
    store_txn_t *txn = store_read_begin (self->store);
    const void *data;
    size_t data_size;
    bool found = txn && store_get (txn, self->executions, id, strlen (id), &data,
                                   &data_size) == STORE_OK;
    executor_record_t record;
    executor_record_init (&record);
    if (found && executor_record_read (&record, data, data_size) == 0) {
        const msgpack_object *value = executor_record_extra (&record, "user");
        if (value && value->type == MSGPACK_OBJECT_STR && value->via.str.size < size)
            snprintf (user, size, "%.*s", (int)value->via.str.size, value->via.str.ptr);
    }
    executor_record_release (&record);
    store_read_end (&txn);
    if (found && strlen (user) < sizeof self->parents[0].user) {
        executor_parent_t *known = &self->parents[self->parents_next];
        self->parents_next = (self->parents_next + 1) % EXECUTOR_PARENTS;
        snprintf (known->id, sizeof known->id, "%s", id);
        snprintf (known->user, sizeof known->user, "%s", user);
        known->purged = self->purged;
    }
    return found;
}

static void
s_run (executor_t *self, json_t *payload, actor_answer_t *answer)
{
    const char *action = actor_arg_str (payload, "action", answer);
    const char *request = actor_arg_str (payload, "request", answer);
    const char *parent = actor_arg_str (payload, "parent", answer);
    const char *task = actor_arg_str (payload, "task", answer);
    const char *user = actor_arg_str (payload, "user", answer);
    json_t *given = json_object_get (payload, "parameters");
    if (answer->code[0])
        return;
    char parent_user[256] = "";
    if (!action || !request || strlen (request) > 40)
        actor_query_fail (answer, "bad_request", "action: required (an action ref)");
    else if (given && !json_is_object (given) && !json_is_null (given))
        actor_query_fail (answer, "bad_request", "parameters: expected a map");
    else if (task && (!parent || !*task || strlen (task) > 255))
        actor_query_fail (answer, "bad_request",
                          "task: 1 to 255 bytes, and only with a parent");
    else if (parent && (strlen (parent) >= EXECUTOR_ID_SIZE ||
                        !s_parent_user (self, parent, parent_user, sizeof parent_user)))
        actor_query_fail (answer, "not_found", "parent: execution %.40s does not exist",
                          parent);
    else
        s_api_run (self, request, action, json_is_object (given) ? given : NULL, parent,
                   task, NULL, user ? user : (*parent_user ? parent_user : NULL), answer);
}

//  The requests of one execution or inquiry: {id, ...}.
//  api.execution.get; with `show_secrets`, the secret parameters opened:
//  honoured only as the api forwards it (an admin's request, api_request.c)
//  from this process, never from another peer's key
static void
s_get (executor_t *self, const char *id, json_t *payload, actor_answer_t *answer)
{
    json_t *record = executor_query_get (self, id);
    if (!record) {
        actor_query_fail (answer, "not_found", "execution %s does not exist", id);
        return;
    }
    json_t *opened = NULL;
    if (json_is_true (json_object_get (payload, "show_secrets")) &&
        actor_query_from_self (self->query)) {
        char message[512];
        opened = json_deep_copy (json_object_get (record, "parameters"));
        if (json_is_object (opened) &&
            executor_secret_open (self->secret, opened, message, sizeof message) != 0) {
            actor_query_fail (answer, "internal", "%s", message);
            json_decref (opened);
            json_decref (record);
            return;
        }
    }
    answer->result = executor_query_public (self, record, false);
    if (opened) //  in the reply only: never stored, published or logged
        json_object_set_new (answer->result, "parameters", opened);
}

static void
s_cancel (executor_t *self, const char *id, json_t *payload, actor_answer_t *answer)
{
    (void)payload;
    s_api_cancel (self, id, answer);
}

static void
s_inquiry_get (executor_t *self, const char *id, json_t *payload, actor_answer_t *answer)
{
    (void)payload;
    store_txn_t *txn = store_read_begin (self->store);
    json_t *inquiry = txn ? executor_inquiry_get (self->inquiry, txn, id) : NULL;
    store_read_end (&txn);
    if (inquiry) {
        json_object_del (inquiry, "request");
        answer->result = inquiry;
    } else
        actor_query_fail (answer, "not_found", "inquiry %s does not exist", id);
}

static void
s_respond (executor_t *self, const char *id, json_t *payload, actor_answer_t *answer)
{
    const char *identity = actor_arg_str (payload, "identity", answer);
    const char *request = actor_arg_str (payload, "request", answer);
    const json_t *response = json_object_get (payload, "response");
    if (answer->code[0])
        return;
    if (!response)
        actor_query_fail (answer, "bad_request",
                          "response: required (the answer, checked against the "
                          "inquiry's response_schema)");
    else if (identity && strlen (identity) > 256)
        actor_query_fail (answer, "bad_request", "identity: at most 256 bytes");
    else if (request && strlen (request) > 40)
        actor_query_fail (answer, "bad_request", "request: not a request id");
    else
        executor_inquiries_respond (self, id, identity && *identity ? identity : NULL,
                                    request, response, answer);
}

static void
s_rerun (executor_t *self, const char *id, json_t *payload, actor_answer_t *answer)
{
    const char *request = actor_arg_str (payload, "request", answer);
    json_t *overrides = json_object_get (payload, "parameters");
    if (answer->code[0])
        return;
    if (!request || strlen (request) > 40) {
        actor_query_fail (answer, "bad_request", "request: required");
        return;
    }
    if (overrides && !json_is_object (overrides) && !json_is_null (overrides)) {
        actor_query_fail (answer, "bad_request", "parameters: expected a map");
        return;
    }
    json_t *original = executor_query_get (self, id);
    if (!original) {
        actor_query_fail (answer, "not_found", "execution %s does not exist", id);
        return;
    }
    json_t *rerun = executor_workflow_rerun_options (original, payload, answer);
    if (answer->code[0]) {
        json_decref (original);
        return;
    }
    json_t *parameters = json_deep_copy (json_object_get (original, "parameters"));
    if (!json_is_object (parameters)) {
        json_decref (parameters);
        parameters = json_object ();
    }
    //  The record keeps the parameters as rendered: an immutable one keeps
    //  its default (rendered again), as given back it would be refused
    const char *ref = json_string_value (json_object_get (original, "action")) ?: "";
    const json_t *action = registry_client_get (self->registry, "action", ref);
    const char *name;
    json_t *spec;
    json_object_foreach (json_object_get (action, "parameters"), name, spec)
    {
        if (json_is_true (json_object_get (spec, "immutable")))
            json_object_del (parameters, name);
    }
    if (json_is_object (overrides))
        json_object_update (parameters, overrides);
    s_api_run (self, request, ref, parameters, id, NULL, rerun,
               json_string_value (json_object_get (payload, "user")), answer);
    json_decref (rerun);
    json_decref (parameters);
    json_decref (original);
}

typedef void (s_request_fn) (executor_t *self, json_t *payload, actor_answer_t *answer);
typedef void (s_one_fn) (executor_t *self, const char *id, json_t *payload,
                         actor_answer_t *answer);

//  A request that writes (`writes`) follows the runs received before it: the
//  batch is committed first. Runs and re-runs join the batch; reads read
//  what is committed.
static const struct {
    const char *type;
    s_request_fn *request; //  a request of its own
    s_one_fn *one;         //  or a request about one execution or inquiry: {id}
    bool writes;
} s_requests[] = {
    {"api.execution.changes", s_changes, NULL, false},
    {"api.execution.list", s_api_list, NULL, false},
    {"api.worker.list", s_worker_list, NULL, false},
    {"api.inquiry.list", executor_inquiries_list, NULL, false},
    {"api.action.queue_stats", s_queue_stats, NULL, false},
    {"api.status", s_status, NULL, false},
    {"api.execution.run", s_run, NULL, false},
    {"api.purge", executor_retention_purge, NULL, true},
    {"api.execution.get", NULL, s_get, false},
    {"api.execution.children", NULL, executor_workflow_children_op, false},
    {"api.execution.output", NULL, executor_output_query, false},
    {"api.execution.cancel", NULL, s_cancel, true},
    {"api.execution.pause", NULL, executor_workflow_pause, true},
    {"api.execution.resume", NULL, executor_workflow_resume, true},
    {"api.inquiry.get", NULL, s_inquiry_get, false},
    {"api.inquiry.respond", NULL, s_respond, true},
    {"api.execution.rerun", NULL, s_rerun, false},
};

void
executor_query_handle (void *arg, const char *type, json_t *payload,
                       actor_answer_t *answer)
{
    executor_t *self = (executor_t *)arg;
    size_t count = sizeof s_requests / sizeof s_requests[0], i = 0;
    while (i < count && !streq (type, s_requests[i].type))
        i++;
    if (i < count && s_requests[i].writes)
        executor_runs_flush (self);
    if (i < count && s_requests[i].request) {
        s_requests[i].request (self, payload, answer);
        return;
    }
    const char *id = actor_arg_str (payload, "id", answer);
    if (answer->code[0])
        return;
    if (!id || strlen (id) >= EXECUTOR_ID_SIZE) {
        actor_query_fail (answer, "bad_request", "id: required (an execution id)");
        return;
    }
    if (i < count)
        s_requests[i].one (self, id, payload, answer);
    else
        actor_query_fail (answer, "unknown_type", "the executor does not answer '%s'",
                          type);
}
