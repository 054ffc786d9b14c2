/*  workflow_engine_internal: the engine's state, shared by its classes:
    workflow_engine.c (the actor: loop, executor link, facts, the query
    client) and workflow_engine_runs.c (the runs: store, conductor,
    commands, reports). Not a public header.

    A run is stored in four tables (workflow_engine_store.c), so that a
    transition writes what it changed, not the whole run:
        `runs` (key: the workflow execution id), JSON text
            {action: {ref, runner_type, entry_point, pack_dir},
             state: (the conductor's), done: bool}
            a snapshot of the state, written whole when the journal since
            it outgrew it (or the run began, or was re-run);
        `run_journal` (key: "ID\nNUMBER", NUMBER 16 hex digits): the
            conductor calls made since that snapshot, in order
            ({call: "ended", key, status, result?}, {call: "pending", key},
            {call: "request", what}); the conductor is a pure function of
            its state and calls, so the snapshot and its journal replayed
            are the state. A transition appends one row: its cost does
            not grow with the run (a with items task's 10,000 slots), the
            snapshots amortised over the journal they replace;
        `run_children` (key: "ID\nKEY"): {task, execution?, status?,
            ending?}, one row per child, written when that child changed;
        `run_commands` (key: the id): [command not yet acknowledged
            (workflow.h), ...], written when they changed.
    In memory the record holds them all ({..., children: {KEY: child},
    commands: [...]}), its state the latest. A record of an older build
    holds its children and commands itself: read as it is, moved to their
    tables at the next commit; one with no journal is its state.

    A run whose end the executor acked moves to table `ended` (same key,
    {action, state}), for a re-run from its tasks (workflow_rerun); table
    `ended_order` (sequence -> id) keeps the S_ENDED_MAX latest, the oldest
    go first.
*/
#ifndef WORKFLOW_ENGINE_INTERNAL_H_INCLUDED
#define WORKFLOW_ENGINE_INTERNAL_H_INCLUDED

#include "actors/workflow/workflow_engine.h"
#include "actors/actor_loop.h"
#include "actors/actor_query.h"
#include "actors/worker/worker_link.h"
#include "bus/bus_client.h"
#include "bus/bus_facts.h"
#include "workflow/workflow.h"

#define S_REQUEST_MS 5000   //  an executor.query answer, at most; then sent again
#define S_EARLY_MAX  100000 //  facts of children not yet known, kept
#define S_ID_SIZE    40
#define S_ENDED_MAX  10000 //  ended runs kept for re-runs

typedef struct {
    char id[S_ID_SIZE];    //  the workflow execution
    json_t *record;        //  as stored (see above)
    workflow_spec_t *spec; //  borrowed from the engine's cache; NULL: not loadable
    bool reported;         //  its final status is queued to the executor
    bool first;            //  say its status even if said already (after the flush)
    char said[16];         //  the last status reported before: running, paused
    bool state_dirty;      //  the state is to be written whole at the next commit
    json_t *journal;       //  conductor calls since the last commit, to append
    json_t *replay;        //  calls read from the journal, until replayed
    uint64_t journal_first, journal_next; //  rows of run_journal after the snapshot
    size_t journal_bytes;                 //  their size
    size_t snapshot_bytes;                //  the size of the state as last written whole
    bool put_snapshot;                    //  what wf_store_put wrote: the state whole, of
    size_t put_bytes;                     //  that size; or journal rows of that size
    bool commands_dirty;                  //  the commands changed since the last commit
    zhashx_t *touched;                    //  child keys changed since the last commit
} wf_run_t;

//  A request to executor.query in flight.
typedef struct {
    char run[S_ID_SIZE];
    char key[256]; //  the command's key, or the child's id (get)
    char op[16];   //  run, cancel, get
    int64_t sent;  //  monotonic ms
} wf_request_t;

typedef struct {
    zsock_t *pipe;
    actor_loop_t *loop;
    char name[64];
    char source[300];
    uint64_t instance;
    worker_link_t wl;
    zlist_t *outbox; //  proto_envelope_t waiting for the link's window
    store_t *store;
    store_table_t *runs, *meta, *finished, *finished_order;
    store_table_t *run_children, *run_commands, *run_journal; //  see above
    zhashx_t *active;                                         //  run id -> wf_run_t
    zhashx_t *specs;      //  "ref\npath" -> workflow_spec_t
    zhashx_t *children;   //  child execution id -> "run id\nkey"
    zhashx_t *early;      //  child execution id -> its last fact (json), not known yet
    zlist_t *early_order; //  their ids, oldest first
    zhashx_t *requests;   //  envelope id (text) -> wf_request_t
    zhashx_t *in_flight;  //  "run id\nkey" -> "" : a command sent, not answered
    zhashx_t *finals;     //  final report envelope id (text) -> run id
    zhashx_t *sendable;   //  run id -> "": runs with commands to send
    zhashx_t *dirty;      //  run id -> "": changed, to commit (wf_runs_flush)
    bus_client_t *query;  //  executor.query
    actor_query_t *own;   //  workflow.query: store.backup (the api's backup)
    bus_sub_t *facts;     //  executor.facts
    bool poll_due;        //  a gap or a restart: ask for every running child
    uint64_t started, ended, gaps;
    uint64_t lost; //  facts missed so far: gaps, early facts dropped
} wf_engine_t;

//  ---------------------------------------------------------------------------
//  workflow_engine_runs.c

//  Load every stored run (after a restart): children known, commands and
//  final reports to send again. 0 or -1.
int wf_runs_load (wf_engine_t *self);

//  The definition of `action` ({ref, runner_type, entry_point, pack_dir}):
//  `text` when given (a stored run's own), else the file's text now, given
//  to the caller in *read to keep with the run. Parsed once per distinct
//  text: an edited file (attune pack reload) is a new definition for new
//  runs, while a run goes on, after a restart too, with the one it started
//  with. NULL with *error set.
workflow_spec_t *wf_runs_spec (wf_engine_t *self, const json_t *action, const char *text,
                               char **read, char **error);

//  execution.dispatch of a workflow action (payload as JSON).
void wf_runs_dispatch (wf_engine_t *self, const char *id, json_t *payload);

//  execution.cancel, execution.pause, execution.resume of a workflow:
//  `what` is cancel, pause or resume.
void wf_runs_request (wf_engine_t *self, const char *id, const char *what);

//  The executor settled `id` without us (worker.reconciled drop).
void wf_runs_dropped (wf_engine_t *self, const char *id);

//  A child's fact or record (JSON with execution, status, result, parent).
void wf_runs_child (wf_engine_t *self, json_t *fact);

//  An answer from executor.query to `request` (result or error code).
void wf_runs_answer (wf_engine_t *self, wf_request_t *request, json_t *result,
                     const char *code, const char *message);

//  Commit every run changed since the last flush in one transaction, then
//  carry out what they lead to (reports; their commands become sendable).
void wf_runs_flush (wf_engine_t *self);

//  Send what is due: commands not in flight, and child queries when polling.
void wf_runs_send (wf_engine_t *self);

//  A final report was acked: the run is over here.
void wf_runs_acked (wf_engine_t *self, const char *run);

//  Milliseconds until the next delayed command is due; -1 for none.
int wf_runs_timeout (wf_engine_t *self);

//  True for an execution's final statuses (completed, failed, timeout,
//  cancelled, abandoned).
bool wf_terminal (const char *status);

//  zhashx destructor of a wf_run_t.
void wf_run_destroy (void **item_p);

//  ---------------------------------------------------------------------------
//  workflow_engine_store.c

//  A new run (its record, taken) of id `id`, to commit whole.
wf_run_t *wf_run_new (const char *id, json_t *record);

//  Child `key` of `run` changed: its row is written at the next commit.
void wf_run_touch (wf_run_t *run, const char *key);

//  Write what changed of `run` since the last commit (wf_run_clean after
//  it committed); `remove`: the run is over, its rows go (its state kept
//  for re-runs, wf_ended_put). 0 or -1.
int wf_store_put (store_txn_t *txn, wf_engine_t *self, wf_run_t *run, bool remove);

//  `run` committed: nothing of it is to write.
void wf_run_clean (wf_run_t *run);

//  The conductor call `call` (taken; see `run_journal` above) changed the
//  state of `run`: appended to its journal at the next commit.
void wf_run_journal (wf_run_t *run, json_t *call);

//  Replay the calls read from the run's journal (wf_store_load) on its
//  state, once its definition is known. 0, or -1 when one failed (logged).
int wf_store_replay (wf_run_t *run);

//  The stored run `id` (its `runs` record, taken): children, commands and
//  the journal to replay (wf_store_replay) read from their tables, or, an older build's record holding them, all
//  marked to be written. NULL when it does not read.
wf_run_t *wf_store_load (store_txn_t *txn, wf_engine_t *self, const char *id,
                         const char *data, size_t size);

//  ---------------------------------------------------------------------------
//  workflow_engine_ended.c

//  Keep the ended run `id` ({action, state, definition} of its `record`)
//  for re-runs, in the transaction that removes it from `runs`; the oldest
//  beyond S_ENDED_MAX forgotten. 0 or -1.
int wf_ended_put (store_txn_t *txn, wf_engine_t *self, const char *id,
                  const json_t *record);

//  A re-run from tasks ({ref, tasks, reset} of the dispatch): the ended
//  run's state re-run by the conductor with the definition that run had
//  (its text kept with it; the file as it is now for a run ended before
//  runs kept it), as Orquesta's re-run with its recorded spec. Its first
//  commands appended to `commands`, its spec in *spec, the text in
//  *definition (malloc'd) for the new run. NULL with *error set (malloc'd).
json_t *wf_ended_rerun (wf_engine_t *self, const json_t *action, const json_t *rerun,
                        json_t *commands, char **definition, workflow_spec_t **spec,
                        char **error);

//  ---------------------------------------------------------------------------
//  workflow_engine.c

//  Send a request of `type` with `payload` (taken) to executor.query for
//  run/key/op. 0, or -1 (not sent: tried again later).
int wf_engine_request (wf_engine_t *self, const char *type, json_t *payload,
                       const char *run, const char *key, const char *op);

//  execution.status of workflow `id` (takes `result`, may be NULL); returns
//  the envelope's id text in `sent` (S_ID_SIZE) when queued.
void wf_engine_report (wf_engine_t *self, const char *id, const char *status,
                       json_t *result, char *sent);

#endif
