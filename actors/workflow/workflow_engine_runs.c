/*  workflow_engine_runs: the engine's runs (workflow_engine_internal.h):
    each stored before any command it leads to leaves, its commands sent
    until the executor answers them, its children followed to their end. */
#include "actors/workflow/workflow_engine_internal.h"
#include "actors/registry/registry_yaml.h"

#include <inttypes.h>

bool
wf_terminal (const char *status)
{
    static const char *ends[] = {"completed", "failed", "timeout", "cancelled",
                                 "abandoned"};
    for (size_t i = 0; status && i < sizeof ends / sizeof ends[0]; i++)
        if (streq (status, ends[i]))
            return true;
    return false;
}

static const char *
s_text (const json_t *object, const char *key)
{
    const char *text = json_string_value (json_object_get (object, key));
    return text ? text : "";
}

//  FNV-1a of a definition's text: the cache tells an edited file from the
//  text a run started with
static uint64_t
s_digest (const char *text)
{
    uint64_t hash = 14695981039346656037ULL;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        hash = (hash ^ *c) * 1099511628211ULL;
    return hash;
}

workflow_spec_t *
wf_runs_spec (wf_engine_t *self, const json_t *action, const char *text, char **read,
              char **error)
{
    char path[2048], key[2400], message[512];
    const char *entry = s_text (action, "entry_point");
    if (!*entry || strstr (entry, "..") || entry[0] == '/') {
        *error =
            strdup ("entry_point: must name a file inside the pack's actions folder");
        return NULL;
    }
    snprintf (path, sizeof path, "%s/actions/%s", s_text (action, "pack_dir"), entry);
    size_t size;
    char *owned = text ? NULL : registry_yaml_read (path, &size, message, sizeof message);
    if (!text && !owned) {
        *error = strdup (message);
        return NULL;
    }
    if (!text)
        text = owned;
    snprintf (key, sizeof key, "%s\n%s\n%016" PRIx64, s_text (action, "ref"), path,
              s_digest (text));
    workflow_spec_t *spec = (workflow_spec_t *)zhashx_lookup (self->specs, key);
    if (!spec &&
        (spec = workflow_spec_parse (path, text, s_text (action, "runner_type"), error)))
        zhashx_insert (self->specs, key, spec);
    if (spec && read) {
        *read = owned;
        owned = NULL;
    }
    free (owned);
    return spec;
}

//  ---------------------------------------------------------------------------
//  The store

typedef struct {
    wf_engine_t *self;
    wf_run_t *run;
    bool remove;
} s_write_t;

static int
s_put (store_txn_t *txn, void *arg)
{
    s_write_t *write = (s_write_t *)arg;
    return wf_store_put (txn, write->self, write->run, write->remove);
}

static int
s_commit (wf_engine_t *self, wf_run_t *run, bool remove)
{
    s_write_t write = {self, run, remove};
    if (store_write (self->store, s_put, &write) == STORE_OK) {
        wf_run_clean (run);
        return 0;
    }
    zsys_error ("workflow: cannot store the run %s: %s", run->id,
                store_last_error (self->store));
    return -1;
}

//  ---------------------------------------------------------------------------
//  Reports

static void
s_report_final (wf_engine_t *self, wf_run_t *run)
{
    const char *status = workflow_status (json_object_get (run->record, "state"));
    const char *reported = streq (status, "succeeded")   ? "completed"
                           : streq (status, "cancelled") ? "cancelled"
                                                         : "failed";
    char sent[S_ID_SIZE] = "";
    wf_engine_report (self, run->id, reported,
                      workflow_result (json_object_get (run->record, "state")), sent);
    if (*sent)
        zhashx_update (self->finals, sent, strdup (run->id));
    if (!run->reported)
        self->ended++;
    run->reported = true;
}

//  Say the run's status when it is not what was said last (or, `force`,
//  always): paused (asked to, or a task waits on a person), or running
//  (started, resumed). Pausing and canceling are the executor's to say.
static void
s_say (wf_engine_t *self, wf_run_t *run, bool force)
{
    const char *now = workflow_status (json_object_get (run->record, "state"));
    const char *say = streq (now, "paused")                               ? "paused"
                      : streq (now, "running") || streq (now, "resuming") ? "running"
                                                                          : NULL;
    if (run->reported || !say || (!force && streq (run->said, say)))
        return;
    snprintf (run->said, sizeof run->said, "%s", say);
    wf_engine_report (self, run->id, say, NULL, NULL);
}

//  A workflow that cannot run: failed, with why.
static void
s_report_failed (wf_engine_t *self, const char *id, const char *why)
{
    zsys_warning ("workflow: %s failed: %s", id, why);
    wf_engine_report (self, id, "failed", json_pack ("{s:s}", "error", why), NULL);
}

//  ---------------------------------------------------------------------------
//  Applying the conductor's commands

//  What the conductor said is recorded (the commands to send, the run's
//  end), committed, and only then carried out.
static void
s_apply (wf_engine_t *self, wf_run_t *run, json_t *commands, bool first)
{
    json_t *pending = json_object_get (run->record, "commands");
    json_t *children = json_object_get (run->record, "children");
    size_t i;
    json_t *command;
    json_array_foreach (commands, i, command)
    {
        const char *op = s_text (command, "op");
        const char *key = s_text (command, "key");
        if (streq (op, "run")) {
            json_object_set_new (children, key,
                                 json_pack ("{s:s}", "task", s_text (command, "task")));
            wf_run_touch (run, key);
            json_int_t delay = json_integer_value (json_object_get (command, "delay"));
            if (delay > 0) //  due at a wall-clock time, kept across restarts
                json_object_set_new (
                    command, "due",
                    json_integer ((json_int_t)proto_now_usec () + delay * 1000000));
        }
        json_array_append (pending, command);
    }
    bool done = workflow_done (json_object_get (run->record, "state"));
    json_object_set_new (run->record, "done", json_boolean (done));
    run->commands_dirty = true;
    run->first |= first;
    zhashx_update (self->dirty, run->id, ""); //  committed by wf_runs_flush
}

//  Every changed run, in one transaction (group commit).
static int
s_put_dirty (store_txn_t *txn, void *arg)
{
    wf_engine_t *self = (wf_engine_t *)arg;
    for (void *item = zhashx_first (self->dirty); item;
         item = zhashx_next (self->dirty)) {
        wf_run_t *run =
            (wf_run_t *)zhashx_lookup (self->active, zhashx_cursor (self->dirty));
        s_write_t write = {self, run, false};
        if (run && s_put (txn, &write) != 0)
            return -1;
    }
    return 0;
}

void
wf_runs_flush (wf_engine_t *self)
{
    if (zhashx_size (self->dirty) == 0)
        return;
    if (store_write (self->store, s_put_dirty, self) != STORE_OK) {
        //  Nothing of them leaves; tried again next turn (the store paces it)
        zsys_error ("workflow: cannot store %zu runs: %s", zhashx_size (self->dirty),
                    store_last_error (self->store));
        return;
    }
    //  Stored: now what they lead to may leave
    for (void *item = zhashx_first (self->dirty); item;
         item = zhashx_next (self->dirty)) {
        wf_run_t *run =
            (wf_run_t *)zhashx_lookup (self->active, zhashx_cursor (self->dirty));
        if (!run)
            continue;
        wf_run_clean (run);
        bool done = json_is_true (json_object_get (run->record, "done"));
        if (!done)
            s_say (self, run, run->first);
        run->first = false;
        if (json_array_size (json_object_get (run->record, "commands")))
            zhashx_update (self->sendable, run->id, "");
        if (done && !run->reported)
            s_report_final (self, run);
    }
    zhashx_purge (self->dirty);
}

void
wf_runs_dispatch (wf_engine_t *self, const char *id, json_t *payload)
{
    wf_run_t *run = (wf_run_t *)zhashx_lookup (self->active, id);
    if (run) { //  given again: say again where it is
        if (run->reported)
            s_report_final (self, run);
        else
            wf_engine_report (self, id, "running", NULL, NULL);
        return;
    }
    json_t *action = json_object_get (payload, "action");
    char *error = NULL, *definition = NULL;
    workflow_spec_t *spec = NULL;
    json_t *commands = json_array ();
    json_t *rerun = json_object_get (payload, "rerun");
    json_t *state = NULL;
    if (rerun)
        state =
            wf_ended_rerun (self, action, rerun, commands, &definition, &spec, &error);
    else if ((spec = wf_runs_spec (self, action, NULL, &definition, &error)))
        state = workflow_start (spec, json_object_get (payload, "parameters"), commands,
                                &error);
    if (!state) {
        s_report_failed (self, id, error ? error : "cannot start the workflow");
        free (error);
        free (definition);
        json_decref (commands);
        return;
    }
    run = wf_run_new (
        id,
        json_pack ("{s:{s:s, s:s, s:s, s:s}, s:o, s:b, s:{}, s:[], s:s}", "action", "ref",
                   s_text (action, "ref"), "runner_type", s_text (action, "runner_type"),
                   "entry_point", s_text (action, "entry_point"), "pack_dir",
                   s_text (action, "pack_dir"), "state", state, "done", false, "children",
                   "commands", "definition", definition));
    free (definition);
    run->spec = spec;
    zhashx_insert (self->active, id, run);
    self->started++;
    s_apply (self, run, commands, true);
    json_decref (commands);
}

//  A control request (cancel, pause, resume) on a run: the executor
//  hears where it is after it, whatever the conductor said.
static void
s_request (wf_engine_t *self, wf_run_t *run, const char *what)
{
    if (run->reported) {
        s_report_final (self, run);
        return;
    }
    json_t *commands = json_array ();
    char *error = NULL;
    if (!run->spec || workflow_request (run->spec, json_object_get (run->record, "state"),
                                        what, commands, &error) != 0)
        zsys_warning ("workflow: %s of %s: %s", what, run->id,
                      error ? error : "no definition");
    else {
        wf_run_journal (run, json_pack ("{s:s, s:s}", "call", "request", "what", what));
        s_apply (self, run, commands, false);
    }
    if (!streq (what, "cancel")) {
        run->first = true; //  say where it is, once stored
        zhashx_update (self->dirty, run->id, "");
    }
    free (error);
    json_decref (commands);
}

void
wf_runs_request (wf_engine_t *self, const char *id, const char *what)
{
    wf_run_t *run = (wf_run_t *)zhashx_lookup (self->active, id);
    if (run)
        s_request (self, run, what);
}

void
wf_runs_dropped (wf_engine_t *self, const char *id)
{
    wf_run_t *run = (wf_run_t *)zhashx_lookup (self->active, id);
    if (run && !run->reported) {
        zsys_info ("workflow: %s was settled without us: cancelling its tasks", id);
        s_request (self, run, "cancel");
    }
}

//  ---------------------------------------------------------------------------
//  Children

//  A child that failed or timed out may be run again by its action's retry
//  policy: the executor makes the retry (a child of the child, with
//  `retry_count`) in the transaction that ends it, so its children say it.
//  The task ends when they show none (s_retries_answer). True when asked.
static bool
s_retry_check (wf_engine_t *self, wf_run_t *run, const char *key, json_t *child,
               const char *status, const json_t *result)
{
    const char *execution = s_text (child, "execution");
    if ((!streq (status, "failed") && !streq (status, "timeout")) || !*execution)
        return false; //  a child the executor refused is no retry's
    json_object_set_new (child, "ending",
                         json_pack ("{s:s, s:O}", "status", status, "result",
                                    result ? result : json_null ()));
    wf_run_touch (run, key);
    if (wf_engine_request (self, "api.execution.children",
                           json_pack ("{s:s, s:i}", "id", execution, "limit", 100),
                           run->id, execution, "retries") != 0)
        self->poll_due = true; //  its record is asked for again, then this
    return true;
}

//  Child `key` of `run` ended as `status` (`result`): the conductor hears it.
static void
s_child_end (wf_engine_t *self, wf_run_t *run, const char *key, const char *status,
             const json_t *result)
{
    json_t *child = json_object_get (json_object_get (run->record, "children"), key);
    json_t *commands = json_array ();
    char *error = NULL;
    json_object_set_new (child, "status", json_string (status));
    json_object_del (child, "ending");
    wf_run_touch (run, key);
    zhashx_delete (self->children, s_text (child, "execution"));
    if (workflow_task_ended (run->spec, json_object_get (run->record, "state"), key,
                             status, result, commands, &error) != 0)
        zsys_warning ("workflow: %s task %s: %s", run->id, key, error ? error : "?");
    else {
        json_t *call =
            json_pack ("{s:s, s:s, s:s}", "call", "ended", "key", key, "status", status);
        if (result)
            json_object_set (call, "result", (json_t *)result);
        wf_run_journal (run, call);
    }
    s_apply (self, run, commands, false);
    free (error);
    json_decref (commands);
}

//  Child `key` of `run` is `status` now (`result` when it ended).
static void
s_child_status (wf_engine_t *self, wf_run_t *run, const char *key, const char *status,
                const json_t *result)
{
    json_t *child = json_object_get (json_object_get (run->record, "children"), key);
    const char *was = s_text (child, "status");
    if (!child || wf_terminal (was) || run->reported)
        return; //  known already
    if (wf_terminal (status)) {
        if (!s_retry_check (self, run, key, child, status, result))
            s_child_end (self, run, key, status, result);
        return;
    }
    if (!streq (status, "pending") || streq (was, "pending"))
        return;
    json_t *commands = json_array ();
    char *error = NULL;
    json_object_set_new (child, "status", json_string (status));
    wf_run_touch (run, key);
    if (workflow_task_pending (run->spec, json_object_get (run->record, "state"), key,
                               commands, &error) != 0)
        zsys_warning ("workflow: %s task %s: %s", run->id, key, error ? error : "?");
    else
        wf_run_journal (run, json_pack ("{s:s, s:s}", "call", "pending", "key", key));
    s_apply (self, run, commands, false);
    free (error);
    json_decref (commands);
}

static void s_child_known (wf_engine_t *self, wf_run_t *run, const char *key,
                           const char *execution, bool ask);

//  The children of the failed child `execution` (`result`, a page): its
//  retry, followed as the task's child from now on (the workflow sees the
//  last attempt), or none, and the task ends as the child did.
static void
s_retries_answer (wf_engine_t *self, wf_run_t *run, const char *execution,
                  const json_t *result)
{
    const char *where = (const char *)zhashx_lookup (self->children, execution);
    const char *newline = where ? strchr (where, '\n') : NULL;
    if (!newline)
        return; //  settled already
    char key[256];
    snprintf (key, sizeof key, "%s", newline + 1);
    json_t *child = json_object_get (json_object_get (run->record, "children"), key);
    json_t *ending = json_incref (json_object_get (child, "ending"));
    if (!ending || !streq (s_text (child, "execution"), execution)) {
        json_decref (ending);
        return; //  an answer heard twice
    }
    const char *retry = NULL;
    json_int_t attempt = 0;
    size_t i;
    json_t *item;
    json_array_foreach (json_object_get (result, "items"), i, item)
    {
        json_int_t count = json_integer_value (json_object_get (item, "retry_count"));
        if (count > attempt && *s_text (item, "id"))
            attempt = count, retry = s_text (item, "id");
    }
    if (retry) {
        zsys_info ("workflow: %s task %s: retry %d is %s", run->id, key, (int)attempt,
                   retry);
        zhashx_delete (self->children, execution);
        json_object_del (child, "ending");
        json_object_set_new (child, "execution", json_string (retry));
        wf_run_touch (run, key);
        s_apply (self, run, NULL, false);
        s_child_known (self, run, key, s_text (child, "execution"), true);
    } else
        s_child_end (self, run, key, s_text (ending, "status"),
                     json_object_get (ending, "result"));
    json_decref (ending);
}

void
wf_runs_child (wf_engine_t *self, json_t *fact)
{
    const char *id = s_text (fact, "execution");
    const char *where = (const char *)zhashx_lookup (self->children, id);
    if (!where) {
        //  One of ours whose id the executor's answer has not told us yet
        if (!zhashx_lookup (self->active, s_text (fact, "parent")) || !*id)
            return;
        if (!zhashx_lookup (self->early, id)) {
            zlist_append (self->early_order, (void *)id); //  copied (autofree)
            if (zlist_size (self->early_order) > S_EARLY_MAX) {
                char *oldest = (char *)zlist_pop (self->early_order);
                zhashx_delete (self->early, oldest);
                free (oldest);
                self->lost++;
                self->poll_due = true;
            }
        }
        zhashx_update (self->early, id, json_incref (fact));
        return;
    }
    char run_id[S_ID_SIZE], key[256];
    const char *newline = strchr (where, '\n');
    snprintf (run_id, sizeof run_id, "%.*s", (int)(newline - where), where);
    snprintf (key, sizeof key, "%s", newline + 1);
    wf_run_t *run = (wf_run_t *)zhashx_lookup (self->active, run_id);
    if (run)
        s_child_status (self, run, key, s_text (fact, "status"),
                        json_object_get (fact, "result"));
}

//  Child `key` of `run` is execution `execution`: known from now on, and
//  what was heard of it before is applied. `ask`: its facts may have gone
//  by unseen, its record is asked for.
static void
s_child_known (wf_engine_t *self, wf_run_t *run, const char *key, const char *execution,
               bool ask)
{
    char where[S_ID_SIZE + 260];
    snprintf (where, sizeof where, "%s\n%s", run->id, key);
    zhashx_update (self->children, execution, strdup (where));
    json_t *early = (json_t *)zhashx_lookup (self->early, execution);
    if (early) {
        json_incref (early);
        zhashx_delete (self->early, execution);
        wf_runs_child (self, early);
        json_decref (early);
    }
    //  Its facts may have gone by unseen (it was made before a restart, and
    //  the request sent again found it; a retry, whose facts name its
    //  parent, not the run): ask for its record once
    if (ask && zhashx_lookup (self->children, execution) &&
        wf_engine_request (self, "api.execution.get",
                           json_pack ("{s:s}", "id", execution), run->id, execution,
                           "get") != 0)
        self->poll_due = true;
}

//  ---------------------------------------------------------------------------
//  Commands to the executor

//  Remove the command `op` of `key` from the run's pending commands; true
//  when the facts of what it made may have gone by unseen: it was sent
//  before a restart (s_load_run marks them `resent`), or facts were missed
//  since it was first sent (`lost`, s_send_command).
static bool
s_command_done (wf_engine_t *self, wf_run_t *run, const char *op, const char *key)
{
    json_t *pending = json_object_get (run->record, "commands");
    size_t i;
    json_t *command;
    json_array_foreach (pending, i, command)
    {
        if (streq (s_text (command, "op"), op) && streq (s_text (command, "key"), key)) {
            bool resent = json_is_true (json_object_get (command, "resent")) ||
                          json_integer_value (json_object_get (command, "lost")) !=
                              (json_int_t)self->lost;
            json_array_remove (pending, i);
            run->commands_dirty = true;
            return resent;
        }
    }
    return true; //  not known: ask
}

void
wf_runs_answer (wf_engine_t *self, wf_request_t *request, json_t *result,
                const char *code, const char *message)
{
    char flight[S_ID_SIZE + 280];
    snprintf (flight, sizeof flight, "%s\n%s\n%s", request->run, request->op,
              request->key);
    zhashx_delete (self->in_flight, flight);
    wf_run_t *run = (wf_run_t *)zhashx_lookup (self->active, request->run);
    if (!run)
        return;
    //  No answer, or the executor could not write: asked again. Any other
    //  error is an answer (a run refused fails its task; a cancel of what
    //  ended is done with)
    bool transient = streq (code, "unavailable") || streq (code, "store") ||
                     streq (code, "nomem") || streq (code, "interrupted");
    if (!result && transient) {
        zhashx_update (self->sendable, run->id, ""); //  sent again
        if (streq (request->op, "get") || streq (request->op, "retries"))
            self->poll_due = true;
        return;
    }
    if (streq (request->op, "retries")) {
        s_retries_answer (self, run, request->key, result);
        return;
    }
    if (streq (request->op, "get")) {
        if (result) {
            json_object_set_new (result, "execution", json_string (request->key));
            wf_runs_child (self, result);
        }
        return;
    }
    //  A child made by a request of this process, no fact missed since: its
    //  facts are followed (those before its id was known kept as early),
    //  its record is not asked for
    bool resent = s_command_done (self, run, request->op, request->key);
    json_t *child =
        json_object_get (json_object_get (run->record, "children"), request->key);
    const char *execution = s_text (result, "execution");
    if (streq (request->op, "run") && result && *execution && child) {
        if (*s_text (child, "execution"))
            return; //  answered before
        json_object_set_new (child, "execution", json_string (execution));
        wf_run_touch (run, request->key);
        s_apply (self, run, NULL, false);
        s_child_known (self, run, request->key, execution, resent);
    } else if (streq (request->op, "run") && !result) {
        //  The executor refused the child (no such action, bad parameters):
        //  the task failed, saying why
        json_t *why = json_pack ("{s:s, s:s}", "error", message, "code", code);
        s_child_status (self, run, request->key, "failed", why);
        json_decref (why);
    } else
        s_apply (self, run, NULL, false);
}

//  Send command `command` of `run`. 1 sent, 2 nothing to send (done with),
//  0 not yet (not due, or its child not known yet), -1 could not send.
static int
s_send_command (wf_engine_t *self, wf_run_t *run, json_t *command)
{
    const char *op = s_text (command, "op");
    const char *key = s_text (command, "key");
    json_t *child = json_object_get (json_object_get (run->record, "children"), key);
    json_t *payload = NULL;
    const char *type = NULL;
    if (streq (op, "run")) {
        json_int_t due = json_integer_value (json_object_get (command, "due"));
        if (due > proto_now_usec ())
            return 0;
        if (!json_object_get (command, "lost"))
            json_object_set_new (command, "lost", json_integer ((json_int_t)self->lost));
        uint8_t ns[PROTO_UUID_SIZE], derived[PROTO_UUID_SIZE];
        char request[PROTO_UUID_STR_SIZE];
        if (proto_uuid_parse (run->id, ns) != 0)
            memset (ns, 0, sizeof ns);
        proto_uuid_derive (ns, key, derived);
        proto_uuid_format (derived, request);
        json_t *parameters = json_object_get (command, "parameters");
        type = "api.execution.run";
        payload = json_pack (
            "{s:s, s:O, s:s, s:s, s:s}", "action", s_text (command, "action"),
            "parameters", json_is_object (parameters) ? parameters : json_object (),
            "request", request, "parent", run->id, "task", s_text (command, "task"));
    } else if (streq (op, "cancel") || streq (op, "pause") || streq (op, "resume")) {
        //  Sent once the child is known; nothing to send to one that ended
        if (!*s_text (child, "execution") || wf_terminal (s_text (child, "status")))
            return wf_terminal (s_text (child, "status")) ? 2 : 0;
        type = streq (op, "cancel")  ? "api.execution.cancel"
               : streq (op, "pause") ? "api.execution.pause"
                                     : "api.execution.resume";
        payload = json_pack ("{s:s}", "id", s_text (child, "execution"));
    } else
        return 2; //  nothing the engine knows how to send
    return wf_engine_request (self, type, payload, run->id, key, op) == 0 ? 1 : -1;
}

//  Send the run's commands not in flight. True when none is left to send.
static bool
s_send_run (wf_engine_t *self, wf_run_t *run)
{
    json_t *pending = json_object_get (run->record, "commands");
    bool all = true;
    for (size_t i = 0; i < json_array_size (pending); i++) {
        json_t *command = json_array_get (pending, i);
        char flight[S_ID_SIZE + 280];
        snprintf (flight, sizeof flight, "%s\n%s\n%s", run->id, s_text (command, "op"),
                  s_text (command, "key"));
        if (zhashx_lookup (self->in_flight, flight))
            continue;
        int rc = s_send_command (self, run, command);
        if (rc == 2) {
            json_array_remove (pending, i--); //  nothing to send
            run->commands_dirty = true;
            continue;
        }
        if (rc == 1)
            zhashx_insert (self->in_flight, flight, "");
        else
            all = false;
    }
    return all;
}

void
wf_runs_send (wf_engine_t *self)
{
    if (self->poll_due) {
        self->poll_due = false;
        for (const char *where = (const char *)zhashx_first (self->children); where;
             where = (const char *)zhashx_next (self->children)) {
            const char *id = (const char *)zhashx_cursor (self->children);
            char run[S_ID_SIZE];
            snprintf (run, sizeof run, "%.*s", (int)strcspn (where, "\n"), where);
            if (wf_engine_request (self, "api.execution.get",
                                   json_pack ("{s:s}", "id", id), run, id, "get") != 0)
                self->poll_due = true;
        }
    }
    zlist_t *done = zlist_new ();
    for (void *item = zhashx_first (self->sendable); item;
         item = zhashx_next (self->sendable)) {
        const char *id = (const char *)zhashx_cursor (self->sendable);
        wf_run_t *run = (wf_run_t *)zhashx_lookup (self->active, id);
        if (!run || s_send_run (self, run))
            zlist_append (done, (void *)id);
    }
    for (const char *id = (const char *)zlist_first (done); id;
         id = (const char *)zlist_next (done))
        zhashx_delete (self->sendable, id);
    zlist_destroy (&done);
}

int
wf_runs_timeout (wf_engine_t *self)
{
    int timeout = -1;
    int64_t now = proto_now_usec ();
    for (void *item = zhashx_first (self->sendable); item;
         item = zhashx_next (self->sendable)) {
        wf_run_t *run =
            (wf_run_t *)zhashx_lookup (self->active, zhashx_cursor (self->sendable));
        json_t *pending = run ? json_object_get (run->record, "commands") : NULL;
        size_t i;
        json_t *command;
        json_array_foreach (pending, i, command)
        {
            json_int_t due = json_integer_value (json_object_get (command, "due"));
            int t = due > now ? (int)((due - now) / 1000 + 1) : 0;
            if (timeout < 0 || t < timeout)
                timeout = t;
        }
    }
    return timeout;
}

//  ---------------------------------------------------------------------------
//  Restart

void
wf_runs_acked (wf_engine_t *self, const char *id)
{
    wf_run_t *run = (wf_run_t *)zhashx_lookup (self->active, id);
    if (run && run->reported && s_commit (self, run, true) == 0) {
        zhashx_delete (self->sendable, id);
        zhashx_delete (self->active, id);
    }
}

//  A stored run, back in memory: its children followed, its commands and
//  its end sent again.
static void
s_load_run (wf_engine_t *self, wf_run_t *run)
{
    const char *id = run->id;
    json_t *record = run->record;
    char *error = NULL;
    //  Its own definition's text (a run stored before runs kept it: the file)
    const char *definition = json_string_value (json_object_get (record, "definition"));
    run->spec =
        wf_runs_spec (self, json_object_get (record, "action"), definition, NULL, &error);
    zhashx_insert (self->active, id, run);
    if (!run->spec) {
        zsys_warning ("workflow: %s cannot continue: %s", id, error ? error : "?");
        free (error);
        return;
    }
    wf_store_replay (run);
    s_say (self, run, true); //  where it is, again
    const char *key;
    json_t *child;
    json_object_foreach (json_object_get (record, "children"), key, child)
    {
        const char *execution = s_text (child, "execution");
        if (*execution && !wf_terminal (s_text (child, "status")))
            s_child_known (self, run, key, execution, true);
    }
    size_t i;
    json_t *command;
    json_array_foreach (json_object_get (record, "commands"), i, command)
        json_object_set_new (command, "resent", json_true ());
    if (json_array_size (json_object_get (record, "commands")))
        zhashx_update (self->sendable, id, "");
    if (json_is_true (json_object_get (record, "done")))
        s_report_final (self, run);
}

int
wf_runs_load (wf_engine_t *self)
{
    store_txn_t *txn = store_read_begin (self->store);
    store_cursor_t *cursor = txn ? store_cursor_new (txn, self->runs) : NULL;
    if (!cursor) {
        store_read_end (&txn);
        return -1;
    }
    for (store_code_t code = store_cursor_first (cursor); code == STORE_OK;
         code = store_cursor_next (cursor)) {
        size_t key_size, size;
        const char *key = (const char *)store_cursor_key (cursor, &key_size);
        const char *data = (const char *)store_cursor_data (cursor, &size);
        char id[S_ID_SIZE];
        snprintf (id, sizeof id, "%.*s", (int)(key_size < S_ID_SIZE ? key_size : 0), key);
        wf_run_t *run = *id ? wf_store_load (txn, self, id, data, size) : NULL;
        if (!run) {
            zsys_error ("workflow: run %s does not read: skipped", id);
            continue;
        }
        s_load_run (self, run);
    }
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    return 0; //  each child still running is asked for (s_child_known)
}
