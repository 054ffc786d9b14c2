/*  executor_workflow: the executor's side of workflows (issue 18): the
    children of an execution (the children index, "<parent>/<child>",
    written by executor_create), and pause / resume of a workflow on its
    engine. See executor_internal.h. */
#include "actors/executor/executor_internal.h"

//  The children of `parent` (children table, "<parent>/<child>"), newest
//  first, older than `before` when given, of `status` when given: the
//  api.execution.list answer {items, next}.
void
executor_workflow_children (executor_t *self, const char *parent, const char *before,
                            const char *status, size_t limit, actor_answer_t *answer)
{
    char prefix[EXECUTOR_ID_SIZE + 2], from[2 * EXECUTOR_ID_SIZE + 2];
    int plen = snprintf (prefix, sizeof prefix, "%s/", parent);
    //  '0' follows '/': the first key past every child
    int flen = before ? snprintf (from, sizeof from, "%s/%s", parent, before)
                      : snprintf (from, sizeof from, "%s0", parent);
    store_txn_t *txn = store_read_begin (self->store);
    store_cursor_t *cursor = txn ? store_cursor_new (txn, self->children) : NULL;
    if (!cursor) {
        store_read_end (&txn);
        actor_query_fail (answer, "store", "cannot read: %s",
                          store_last_error (self->store));
        return;
    }
    store_code_t code = store_cursor_seek (cursor, from, (size_t)flen);
    code = code == STORE_OK ? store_cursor_prev (cursor) : store_cursor_last (cursor);
    actor_page_t page;
    actor_page_init (&page, limit);
    char next[EXECUTOR_ID_SIZE] = "";
    bool ended = false; //  no older child left
    while (!actor_page_full (&page)) {
        if (code != STORE_OK) {
            ended = true;
            break;
        }
        size_t size;
        const char *key = (const char *)store_cursor_key (cursor, &size);
        if (size <= (size_t)plen || memcmp (key, prefix, (size_t)plen) != 0) {
            ended = true; //  past this parent's children
            break;
        }
        char child[EXECUTOR_ID_SIZE];
        snprintf (child, sizeof child, "%.*s", (int)(size - (size_t)plen), key + plen);
        code = store_cursor_prev (cursor);
        json_t *record = executor_json_get (txn, self, child);
        const char *its = json_string_value (json_object_get (record, "status"));
        if (!record || (status && (!its || !streq (its, status))))
            json_decref (record);
        else if (actor_page_add (&page, executor_query_public (self, record, true)))
            snprintf (next, sizeof next, "%s", child);
    }
    if (ended && !page.more)
        next[0] = 0; //  nothing older
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    answer->result = json_pack ("{s:o, s:o}", "items", page.items, "next",
                                next[0] ? json_string (next) : json_null ());
}

//  api.execution.children {id, limit?, before?}: the executions started
//  under `id` (a workflow's tasks, re-runs, retries), newest first.
void
executor_workflow_children_op (executor_t *self, const char *id, json_t *payload,
                               actor_answer_t *answer)
{
    const char *before = actor_arg_str (payload, "before", answer);
    int64_t limit =
        actor_arg_int (payload, "limit", EXECUTOR_LIST_MAX, 1, EXECUTOR_LIST_MAX, answer);
    if (answer->code[0])
        return;
    if (before && strlen (before) >= EXECUTOR_ID_SIZE) {
        actor_query_fail (answer, "bad_request", "before: not an execution id");
        return;
    }
    json_t *record = executor_query_get (self, id);
    if (!record) {
        actor_query_fail (answer, "not_found", "execution %s does not exist", id);
        return;
    }
    json_decref (record);
    executor_workflow_children (self, id, before, NULL, (size_t)limit, answer);
}

typedef struct {
    executor_t *self;
    const char *id;
    bool pause;       //  or resume
    int before;       //  status found
    int after;        //  status written (-1: nothing to do)
    bool workflow;    //  its runner is a workflow's
    bool live;        //  on a worker that can hear us
    char worker[256]; //  assigned worker
} s_control_t;

static int
s_apply_control (store_txn_t *txn, void *arg)
{
    s_control_t *control = (s_control_t *)arg;
    executor_t *self = control->self;
    executor_effects_clear (self);
    control->before = control->after = -1;
    if (executor_read (self, txn, control->id) != 0)
        return 0;
    control->before = executor_status_of (self);
    char runner[32];
    executor_record_text (&self->record, EXECUTOR_RECORD_RUNNER, runner, sizeof runner);
    control->workflow = streq (runner, "orquesta") || streq (runner, "action-chain");
    executor_record_text (&self->record, EXECUTOR_RECORD_WORKER, control->worker,
                          sizeof control->worker);
    executor_worker_t *known =
        control->worker[0] ? executor_workers_find (self->workers, control->worker)
                           : NULL;
    control->live = known && known->alive && zhashx_lookup (self->links, control->worker);
    if (!control->workflow || !control->live)
        return 0;
    control->after = executor_move (
        self, control->pause ? EXECUTION_PAUSE_ON_WORKER : EXECUTION_RESUME_ON_WORKER,
        proto_now_usec ());
    if (control->after < 0)
        return 0;
    char ref[512];
    executor_fact_packed (self, executor_action_of (self, ref, sizeof ref));
    return executor_packed_put (self, txn, control->id);
}

//  api.execution.pause / resume: a workflow on its live engine is pausing
//  (resuming) until the engine reports paused (running).
static void
s_api_control (executor_t *self, const char *id, bool pause, actor_answer_t *answer)
{
    const char *what = pause ? "pause" : "resume";
    s_control_t control = {.self = self, .id = id, .pause = pause};
    if (store_write (self->store, s_apply_control, &control) != STORE_OK) {
        executor_effects_clear (self);
        actor_query_fail (answer, "store", "cannot %s: %s", what,
                          store_last_error (self->store));
        return;
    }
    const char *status =
        control.before >= 0 ? execution_status_name (control.before) : "";
    if (control.before < 0)
        actor_query_fail (answer, "not_found", "execution %s does not exist", id);
    else if (!control.workflow)
        actor_query_fail (answer, "invalid",
                          "execution %s is not a workflow: only "
                          "workflows %s",
                          id, what);
    else if (control.after < 0)
        actor_query_fail (answer, "conflict", "execution %s is %s: it cannot %s%s", id,
                          status, what,
                          control.live || execution_status_terminal (control.before)
                              ? ""
                              : " (its workflow engine is not there)");
    if (control.after < 0)
        return;
    executor_effects_apply (self); //  the fact
    executor_active_t *active = (executor_active_t *)zhashx_lookup (self->actives, id);
    if (active)
        active->status = (char)control.after;
    executor_query_tell (self, control.worker,
                         pause ? "execution.pause" : "execution.resume", id);
    answer->result = json_pack ("{s:s, s:s}", "execution", id, "status",
                                execution_status_name (control.after));
}

void
executor_workflow_pause (executor_t *self, const char *id, json_t *payload,
                         actor_answer_t *answer)
{
    (void)payload;
    s_api_control (self, id, true, answer);
}

void
executor_workflow_resume (executor_t *self, const char *id, json_t *payload,
                          actor_answer_t *answer)
{
    (void)payload;
    s_api_control (self, id, false, answer);
}

//  True when `list` is an array of at most 1024 task names (1 to 255 bytes).
static bool
s_names (const json_t *list)
{
    size_t i;
    json_t *name;
    json_array_foreach (list, i, name)
    {
        if (!json_is_string (name) || !json_string_length (name) ||
            json_string_length (name) > 255)
            return false;
    }
    return json_is_array (list) && json_array_size (list) <= 1024;
}

json_t *
executor_workflow_rerun_options (const json_t *original, const json_t *payload,
                                 actor_answer_t *answer)
{
    const json_t *tasks = json_object_get (payload, "tasks");
    const json_t *reset = json_object_get (payload, "reset");
    const json_t *given = json_object_get (payload, "parameters");
    const char *runner = json_string_value (json_object_get (original, "runner"));
    if (json_array_size (reset) && !json_array_size (tasks)) {
        actor_query_fail (answer, "bad_request", "reset: only with tasks");
        return NULL;
    }
    if (!json_array_size (tasks))
        return NULL;
    if ((tasks && !s_names (tasks)) || (reset && !s_names (reset)))
        actor_query_fail (answer, "bad_request",
                          "tasks, reset: lists of 1 to 1024 task names");
    else if (json_object_size (given))
        actor_query_fail (answer, "bad_request",
                          "parameters: not with tasks (a workflow re-run from its tasks "
                          "keeps its recorded context)");
    else if (!runner || !streq (runner, "orquesta"))
        actor_query_fail (answer, "invalid",
                          "tasks: only an orquesta workflow re-runs from its tasks "
                          "(the execution's runner is %s)",
                          runner ? runner : "unknown");
    size_t i, k;
    json_t *name;
    json_array_foreach (reset, i, name)
    {
        bool among = false;
        for (k = 0; k < json_array_size (tasks); k++)
            among = among || json_equal (name, json_array_get (tasks, k));
        if (!among && !answer->code[0])
            actor_query_fail (answer, "bad_request",
                              "reset: '%s' is not among the tasks to re-run",
                              json_string_value (name));
    }
    if (answer->code[0])
        return NULL;
    return json_pack ("{s:O, s:O, s:o}", "ref", json_object_get (original, "id"), "tasks",
                      tasks, "reset", reset ? json_deep_copy (reset) : json_array ());
}
