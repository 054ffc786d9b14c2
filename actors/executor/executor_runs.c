/*  executor_runs: the group commit of api.execution.run and rerun
    (executor_internal.h). The runs that one actor_query_handle delivers are
    created together in one write transaction (one fsync), and only then
    answered and their effects (facts, dispatch) applied: durable before
    acknowledged, as the datastore's writes (datastore_batch.c). A request
    id seen twice in the batch finds the first one's execution in the same
    transaction: one execution. A run whose create fails is answered with
    its error and the batch written again without it; a commit that fails
    answers every run with the error.
*/
#include "actors/executor/executor_internal.h"

#define S_ANSWER_MS 30000 //  a deferred answer is kept this long at most

typedef struct _executor_run_t {
    json_t *payload;           //  for executor_create_json: key, action, parameters, ...
    char key[64];              //  "run:<request>"
    uint64_t ticket;           //  the deferred answer
    char id[EXECUTOR_ID_SIZE]; //  out: the execution
    char code[32];             //  out: why it was refused
    char message[512];
} executor_run_t;

void
executor_runs_add (executor_t *self, json_t *payload, actor_answer_t *answer)
{
    executor_run_t *run = (executor_run_t *)zmalloc (sizeof (executor_run_t));
    run->payload = payload;
    executor_copy (run->key, sizeof run->key,
                   json_string_value (json_object_get (payload, "key")));
    run->ticket = actor_query_defer (self->query, answer, S_ANSWER_MS);
    zlist_append (self->runs, run);
}

//  One run in the transaction: its execution, or the one its request made
static int
s_write_run (executor_t *self, store_txn_t *txn, executor_run_t *run)
{
    run->id[0] = 0;
    const void *data;
    size_t size;
    if (store_get (txn, self->by_enforcement, run->key, strlen (run->key), &data,
                   &size) != STORE_OK) {
        bus_command_t info = {.peer = "api"};
        if (executor_create_json (self, txn, run->payload, &info) != 0) {
            snprintf (run->code, sizeof run->code, "%s",
                      info.reject_code[0] ? info.reject_code : "store");
            if (info.reject_code[0])
                snprintf (run->message, sizeof run->message, "%s", info.reject_message);
            self->run_failed = run;
            return -1;
        }
        if (store_get (txn, self->by_enforcement, run->key, strlen (run->key), &data,
                       &size) != STORE_OK) {
            snprintf (run->code, sizeof run->code, "store");
            self->run_failed = run;
            return -1;
        }
    }
    snprintf (run->id, sizeof run->id, "%.*s", (int)size, (const char *)data);
    return 0;
}

static int
s_write_fn (store_txn_t *txn, void *arg)
{
    executor_t *self = (executor_t *)arg;
    executor_effects_clear (self); //  a retry of this transaction starts over
    self->queued_in_batch = false;
    self->run_failed = NULL;
    for (executor_run_t *run = (executor_run_t *)zlist_first (self->runs); run;
         run = (executor_run_t *)zlist_next (self->runs))
        if (s_write_run (self, txn, run) != 0)
            return -1;
    return 0;
}

static void
s_run_destroy (executor_run_t **run_p)
{
    json_decref ((*run_p)->payload);
    free (*run_p);
    *run_p = NULL;
}

void
executor_runs_flush (executor_t *self)
{
    store_code_t code = STORE_OK;
    while (zlist_size (self->runs) > 0) {
        code = store_write (self->store, s_write_fn, self);
        if (code == STORE_OK)
            break;
        executor_effects_clear (self);
        self->queued_in_batch = false;
        executor_run_t *refused = self->run_failed;
        self->run_failed = NULL;
        if (!refused)
            break; //  the commit failed: every run fails
        //  That run failed: it is answered, the others written again
        if (streq (refused->code, "store"))
            snprintf (refused->message, sizeof refused->message,
                      "cannot write the execution: %s", store_last_error (self->store));
        zlist_remove (self->runs, refused);
        actor_query_reply (self->query, refused->ticket, NULL, refused->code,
                           refused->message);
        s_run_destroy (&refused);
    }
    if (zlist_size (self->runs) == 0)
        return;
    if (code == STORE_OK)
        executor_effects_apply (self);
    self->queued_in_batch = false;
    char message[512];
    snprintf (message, sizeof message, "cannot write the execution: %s",
              store_last_error (self->store));
    executor_run_t *run;
    while ((run = (executor_run_t *)zlist_pop (self->runs))) {
        if (code == STORE_OK)
            actor_query_reply (self->query, run->ticket,
                               json_pack ("{s:s}", "execution", run->id), NULL, NULL);
        else
            actor_query_reply (self->query, run->ticket, NULL, "store", message);
        s_run_destroy (&run);
    }
}

void
executor_runs_discard (executor_t *self)
{
    executor_run_t *run;
    while (self->runs && (run = (executor_run_t *)zlist_pop (self->runs)))
        s_run_destroy (&run);
    zlist_destroy (&self->runs);
}
