/*  executor_inquiries: the executor's side of executor_inquiry: an execution
    waiting for a person. */
#include "actors/executor/executor_internal.h"

//  ---------------------------------------------------------------------------
//  Inquiries (executor_inquiry.h): an execution waiting for a person

//  An inquiry fact (inquiry.created, .responded, .timeout, .cancelled),
//  published after the commit.
void
executor_inquiries_fact (executor_t *self, const char *type, const json_t *inquiry)
{
    executor_effect_t *effect = executor_effect_new (self, EFFECT_FACT);
    executor_copy (effect->type, sizeof effect->type, type);
    json_t *payload = json_deep_copy (inquiry);
    json_object_set (payload, "inquiry", json_object_get (inquiry, "id"));
    json_object_del (payload, "id");
    json_object_del (payload, "request");
    effect->payload = payload;
}

//  The result an execution ends with once its inquiry is answered: the
//  action's own result without `__inquiry`, plus `response`.
static json_t *
s_inquiry_result (const json_t *result, const json_t *response)
{
    json_t *out = json_is_object (result) ? json_deep_copy (result) : json_object ();
    json_object_del (out, "__inquiry");
    json_t *inner = json_object_get (out, "result");
    if (json_is_object (inner))
        json_object_del (inner, "__inquiry");
    inner = json_object_get (out, "stdout");
    if (json_is_object (inner))
        json_object_del (inner, "__inquiry");
    if (response)
        json_object_set (out, "response", (json_t *)response);
    return out;
}

//  self->record's result as JSON (NULL when it has none). Caller owns it.
static json_t *
s_result_json (executor_t *self)
{
    const msgpack_object *result =
        executor_record_get (&self->record, EXECUTOR_RECORD_RESULT);
    return result ? proto_json_from_msgpack (result, "result", NULL) : NULL;
}

//  Pending: self->record keeps the result that asks, its inquiry is open.
static int
s_pending (executor_t *self, store_txn_t *txn, const char *id, const json_t *result,
           const json_t *inquiry, int64_t now)
{
    executor_move (self, EXECUTION_ASK, now);
    msgpack_sbuffer_clear (&self->packed);
    if (proto_json_to_sbuffer (result, &self->packed, NULL) != PROTO_OK ||
        executor_record_set_packed (&self->record, EXECUTOR_RECORD_RESULT,
                                    self->packed.data, self->packed.size) != 0)
        return -1;
    int64_t deadline = json_integer_value (json_object_get (inquiry, "deadline"));
    if (deadline < self->inquiry_next)
        self->inquiry_next = deadline; //  at worst an early wake-up
    char ref[512];
    executor_fact_packed (self, executor_action_of (self, ref, sizeof ref));
    return executor_packed_put (self, txn, id);
}

//  Worker `worker` reported execution `id` completed with a result that
//  asks a person (`spec` inside `result`): the execution is pending and
//  its inquiry open, or failed when the inquiry is not valid. The worker's
//  slot is free either way; the policy slot stays taken while pending.
int
executor_inquiries_open (executor_t *self, store_txn_t *txn, const char *id,
                         const char *worker, const json_t *result, const json_t *spec)
{
    if (executor_read (self, txn, id) != 0)
        return 0;
    int64_t now = proto_now_usec ();
    char action[512];
    executor_record_text (&self->record, EXECUTOR_RECORD_ACTION, action, sizeof action);
    json_t *inquiry = NULL;
    char reason[512] = "";
    int rc = executor_inquiry_open (self->inquiry, txn, id, action, spec, now, &inquiry,
                                    reason, sizeof reason);
    if (rc < 0)
        return -1;
    const msgpack_object *started =
        executor_record_get (&self->record, EXECUTOR_RECORD_STARTED);
    if (!started || (started->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
                     started->type != MSGPACK_OBJECT_NEGATIVE_INTEGER))
        executor_record_set_int (&self->record, EXECUTOR_RECORD_STARTED, now);
    store_del (txn, self->active, id, strlen (id));
    executor_effect_t *effect = executor_effect_new (self, EFFECT_RELEASE);
    executor_copy (effect->worker, sizeof effect->worker, worker);
    executor_copy (effect->id, sizeof effect->id, id);
    if (rc == 1) {
        json_t *failed =
            json_pack ("{s:s, s:O}", "error", reason, "action_result", result);
        executor_end_t end = {
            .event = EXECUTION_ASK_WRONG, .result_json = failed, .policies = true};
        rc = executor_end (self, txn, id, &end, now) < 0 ? -1 : 0;
        json_decref (failed);
    } else
        rc = s_pending (self, txn, id, result, inquiry, now);
    if (inquiry)
        executor_inquiries_fact (self, "inquiry.created", inquiry);
    if (inquiry && rc == 0 && executor_triggers_inquiry (self, txn, inquiry) != 0)
        rc = -1;
    json_decref (inquiry);
    return rc;
}

//  End pending execution `id` (in self->record) with its inquiry, by
//  `event` (answered, unanswered), with `result` (taken), the policy slot
//  released.
static int
s_inquiry_settle (executor_t *self, store_txn_t *txn, const char *id,
                  execution_event_t event, json_t *result, int64_t now)
{
    executor_end_t end = {.event = event, .result_json = result, .policies = true};
    int rc = executor_end (self, txn, id, &end, now) < 0 ? -1 : 0;
    json_decref (result);
    return rc;
}

typedef struct {
    executor_t *self;
    const char *id, *identity, *request;
    const json_t *response;
    char code[32];
    char message[600];
    json_t *result; //  out: the answer
} s_respond_t;

static int
s_apply_respond (store_txn_t *txn, void *arg)
{
    s_respond_t *respond = (s_respond_t *)arg;
    executor_t *self = respond->self;
    executor_effects_clear (self); //  a retry of this transaction starts over
    self->queued_in_batch = false;
    respond->code[0] = 0;
    json_decref (respond->result);
    respond->result = NULL;
    json_t *inquiry = executor_inquiry_get (self->inquiry, txn, respond->id);
    if (!inquiry) {
        snprintf (respond->code, sizeof respond->code, "not_found");
        snprintf (respond->message, sizeof respond->message, "inquiry %s does not exist",
                  respond->id);
        return 0;
    }
    const char *status = json_string_value (json_object_get (inquiry, "status"));
    const char *request = json_string_value (json_object_get (inquiry, "request"));
    int64_t now = proto_now_usec ();
    if (status && streq (status, "responded") && request && respond->request &&
        streq (request, respond->request)) {
        //  The same request again (a client that got no reply): the same answer
        respond->result =
            json_pack ("{s:s, s:s, s:s, s:O}", "inquiry", respond->id, "execution",
                       respond->id, "status", "responded", "responder",
                       json_object_get (inquiry, "responder") ?: json_null ());
        json_decref (inquiry);
        return 0;
    }
    if (executor_inquiry_check (inquiry, respond->identity, respond->response, now,
                                respond->code, respond->message,
                                sizeof respond->message) != 0) {
        json_decref (inquiry);
        return 0;
    }
    int current = executor_load (self, txn, respond->id);
    int rc = 0;
    if (current != EXECUTION_PENDING) {
        snprintf (respond->code, sizeof respond->code, "conflict");
        snprintf (respond->message, sizeof respond->message,
                  "the execution of inquiry %s is not pending (%s)", respond->id,
                  current >= 0 ? execution_status_name ((execution_status_t)current)
                               : "missing");
    } else if (executor_inquiry_close (self->inquiry, txn, inquiry, "responded",
                                       respond->response, respond->identity,
                                       respond->request, now) != 0)
        rc = -1;
    else {
        //  The inquiry's fact first, then its execution's (as on a timeout
        //  or a cancel)
        executor_inquiries_fact (self, "inquiry.responded", inquiry);
        json_t *given = s_result_json (self);
        json_t *result = s_inquiry_result (given, respond->response);
        json_decref (given);
        if (s_inquiry_settle (self, txn, respond->id, EXECUTION_ANSWER, result, now) != 0)
            rc = -1;
        else
            respond->result = json_pack ("{s:s, s:s, s:s, s:s?}", "inquiry", respond->id,
                                         "execution", respond->id, "status", "responded",
                                         "responder", respond->identity);
    }
    json_decref (inquiry);
    return rc;
}

void
executor_inquiries_respond (executor_t *self, const char *id, const char *identity,
                            const char *request, const json_t *response,
                            actor_answer_t *answer)
{
    s_respond_t respond = {.self = self,
                           .id = id,
                           .identity = identity,
                           .request = request,
                           .response = response};
    store_code_t code = store_write (self->store, s_apply_respond, &respond);
    if (code != STORE_OK) {
        executor_effects_clear (self);
        json_decref (respond.result);
        actor_query_fail (answer, "store", "cannot record the response: %s",
                          store_last_error (self->store));
        return;
    }
    executor_effects_apply (self);
    self->queued_in_batch = false;
    if (respond.code[0])
        actor_query_fail (answer, respond.code, "%s", respond.message);
    else
        answer->result = respond.result;
}

#define S_DUE_MAX 256 //  inquiries timed out per transaction

typedef struct {
    executor_t *self;
    int64_t next; //  out: the next deadline after these
    size_t count;
} s_due_t;

static int
s_apply_inquiry_due (store_txn_t *txn, void *arg)
{
    s_due_t *due = (s_due_t *)arg;
    executor_t *self = due->self;
    executor_effects_clear (self);
    self->queued_in_batch = false;
    int64_t now = proto_now_usec ();
    char ids[S_DUE_MAX][40];
    due->count = executor_inquiry_due (self->inquiry, txn, now, ids, S_DUE_MAX);
    for (size_t i = 0; i < due->count; i++) {
        json_t *inquiry = executor_inquiry_get (self->inquiry, txn, ids[i]);
        if (!inquiry)
            continue;
        double seconds = json_number_value (json_object_get (inquiry, "timeout"));
        if (executor_inquiry_close (self->inquiry, txn, inquiry, "timeout", NULL, NULL,
                                    NULL, now) != 0) {
            json_decref (inquiry);
            return -1;
        }
        executor_inquiries_fact (self, "inquiry.timeout", inquiry);
        json_decref (inquiry);
        int status = executor_load (self, txn, ids[i]);
        int rc = 0;
        if (status == EXECUTION_PENDING) {
            char message[160];
            snprintf (message, sizeof message, "no response to its inquiry within %g s",
                      seconds);
            json_t *given = s_result_json (self);
            json_t *result = s_inquiry_result (given, NULL);
            json_decref (given);
            json_object_set_new (result, "error", json_string (message));
            rc = s_inquiry_settle (self, txn, ids[i], EXECUTION_UNANSWERED, result, now);
        }
        if (rc != 0)
            return -1;
    }
    due->next = executor_inquiry_next_deadline (self->inquiry, txn);
    return 0;
}

//  Inquiries whose deadline has come: timed out, with their executions.
void
executor_inquiries_tick (executor_t *self)
{
    if (proto_now_usec () < self->inquiry_next)
        return;
    s_due_t due = {.self = self};
    store_code_t code = store_write (self->store, s_apply_inquiry_due, &due);
    if (code != STORE_OK) {
        executor_effects_clear (self);
        if (code != STORE_IO) //  a full disk is said once by the store
            zsys_error ("executor: inquiry deadlines: %s",
                        store_last_error (self->store));
        self->inquiry_next = proto_now_usec () + 1000000; //  tried again in 1 s
        return;
    }
    executor_effects_apply (self);
    self->queued_in_batch = false;
    self->inquiry_next = due.count == S_DUE_MAX ? proto_now_usec () : due.next;
}

void
executor_inquiries_list (executor_t *self, json_t *payload, actor_answer_t *answer)
{
    const char *status = actor_arg_str (payload, "status", answer);
    const char *before = actor_arg_str (payload, "before", answer);
    int64_t limit = actor_arg_int (payload, "limit", EXECUTOR_LIST_DEFAULT, 1,
                                   EXECUTOR_LIST_MAX, answer);
    if (answer->code[0])
        return;
    if (status && !streq (status, "pending") && !streq (status, "responded") &&
        !streq (status, "timeout") && !streq (status, "cancelled")) {
        actor_query_fail (answer, "bad_request",
                          "status: '%.64s' is not pending, responded, timeout or "
                          "cancelled",
                          status);
        return;
    }
    if (before && strlen (before) >= EXECUTOR_ID_SIZE) {
        actor_query_fail (answer, "bad_request", "before: not an inquiry id");
        return;
    }
    store_txn_t *txn = store_read_begin (self->store);
    if (!txn) {
        actor_query_fail (answer, "store", "cannot read: %s",
                          store_last_error (self->store));
        return;
    }
    char next[40];
    actor_page_t page;
    actor_page_init (&page, (size_t)limit);
    executor_inquiry_page (self->inquiry, txn, status, before, &page, next);
    store_read_end (&txn);
    size_t i;
    json_t *item;
    json_array_foreach (page.items, i, item)
    {
        json_object_del (item, "request");
    }
    answer->result = json_pack ("{s:o, s:o}", "items", page.items, "next",
                                next[0] ? json_string (next) : json_null ());
}
