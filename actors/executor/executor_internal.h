/*  executor_internal: the state the executor's classes share, private to
    actors/executor/ (executor.h is the public face).

    One executor_t per actor, owned by executor.c (the actor shell). The
    other classes are its jobs, each a file:

        executor_lifecycle  every status change, through the transition table
                            (executor_status.h); ending an execution, once
        executor_create     enforcement.create, api runs, re-runs and retries:
                            one create path on the msgpack record
        executor_schedule   waiting -> scheduled, one routine per execution
        executor_report     execution.status and claims from workers
        executor_links      workers: register, drain, lose, reconcile
        executor_policies   the executor's side of executor_policy
        executor_inquiries  the executor's side of executor_inquiry
        executor_query      the api's reads and changes (executor.query)
        executor_facts      facts, dispatches and stored records, built
        executor_effects    what a transaction leaves to do after its commit

    Retry safety: bus_inbox may run the handlers of a batch twice when the
    store grows its map. Handlers therefore change only the transaction and
    a list of effects (facts to publish, slots to release, workers to
    register); the effects are applied after the batch committed, and
    cleared when the first command of the batch is seen again (a retry).
*/
#ifndef EXECUTOR_INTERNAL_H_INCLUDED
#define EXECUTOR_INTERNAL_H_INCLUDED

#include "actors/executor/executor.h"
#include "actors/actor_effects.h"
#include "actors/actor_loop.h"
#include "actors/executor/executor_changes.h"
#include "actors/executor/executor_inquiry.h"
#include "actors/executor/executor_policy.h"
#include "actors/actor_query.h"
#include "actors/executor/executor_record.h"
#include "actors/executor/executor_status.h"
#include "actors/executor/executor_workers.h"
#include "actors/registry/registry_client.h"
#include "actors/registry/registry_params.h"
#include "proto/proto_messages.h"
#include "bus/bus_facts.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"
#include "bus/bus_security.h"
#include "proto/proto_json.h"
#include "store/store.h"
#include "actors/executor/executor_secret.h"

#include <inttypes.h>
#include <unistd.h>

//  snprintf (dst, size, "%s", src) without the formatter (hot paths)
static inline void
executor_copy (char *dst, size_t size, const char *src)
{
    size_t len = strnlen (src, size - 1);
    memcpy (dst, src, len);
    dst[len] = 0;
}

#define EXECUTOR_SCHEDULE_MAX 1024 //  executions scheduled per transaction
#define EXECUTOR_ID_SIZE      40
#define EXECUTOR_PREFETCH     2 //  dispatch window, in multiples of a worker's slots
#define EXECUTOR_LIST_DEFAULT 50
#define EXECUTOR_LIST_MAX     1000
#define EXECUTOR_SCAN_MAX     200000 //  records examined per list request, at most

typedef struct _executor_t executor_t;
typedef struct _executor_retention_t executor_retention_t;

//  What a transaction leaves to do once it committed (the fields each kind
//  uses are named after it)
typedef enum {
    EFFECT_FACT,     //  type; envelope (packed) or payload (JSON): publish it
    EFFECT_RELEASE,  //  worker, id: the execution left the worker: slot freed
    EFFECT_STATUS,   //  id, status: the active execution's status changed
    EFFECT_WORKER,   //  payload: a registration: link, reconcile
    EFFECT_WAIT,     //  id, runner, key: it waits for a worker
    EFFECT_DELAYED,  //  id: held by a policy: active, not waiting for a worker
    EFFECT_FORGET,   //  id: ended without a worker: no longer active
    EFFECT_ACQUIRED, //  worker, id: a slot taken in the transaction: given back if it
                     //  does not commit; active on that worker when it does
    EFFECT_DISPATCH, //  worker, envelope: send the execution.dispatch
    EFFECT_DRAINING, //  worker: takes nothing new from now on
    EFFECT_DEQUEUE,  //  handle: scheduled from the queue: leaves the queue
    EFFECT_START,    //  worker, id, claim: start it, it is recorded running
    EFFECT_REFUSED   //  worker, id, reason: do not start it
} executor_effect_kind_t;

typedef struct {
    executor_effect_kind_t kind;
    char type[48];              //  fact type
    json_t *payload;            //  fact payload / worker registration
    proto_envelope_t *envelope; //  fact / dispatch
    char worker[256];           //  worker name
    char id[EXECUTOR_ID_SIZE];  //  execution id
    char runner[32];            //  runner it needs
    uint64_t key;               //  key in the waiting table
    void *handle;               //  the item's handle in the queue
    execution_status_t status;  //  new status
    uint64_t claim;             //  the worker's claim
    char reason[64];            //  why a claim is refused
} executor_effect_t;

typedef struct {
    bus_link_t *link;
    uint64_t instance;
    char endpoint[512];
    bool up;
    char name[256]; //  the worker's name
    executor_t *owner;
} executor_link_t;

typedef struct {
    char id[EXECUTOR_ID_SIZE];
    char runner[32];
    uint64_t key;
} executor_wait_t;

typedef struct {
    char status; //  execution_status_t
    char worker[256];
} executor_active_t;

//  A parent execution looked up for its children (api.execution.run with a
//  parent, executor_query.c): a workflow starts thousands of children of
//  one parent, whose record (its input) can be large. Valid while no
//  execution was deleted since (`purged`): records are deleted only then.
#define EXECUTOR_PARENTS 8
typedef struct {
    char id[EXECUTOR_ID_SIZE]; //  "": unused
    char user[256];
    uint64_t purged;
} executor_parent_t;

//  A lost worker's executions that could not be settled (the commit failed:
//  disk full): tried again every turn (the store's backoff paces it)
typedef struct {
    char worker[256];
    bool abandon_running;
    bool requeue_running;
    zlist_t *only; //  ids (autofree), NULL: all of the worker's
} executor_unsettled_t;

struct _executor_t {
    zsock_t *pipe;
    actor_loop_t *loop;
    char host[256];
    char source[300];
    actor_config_t config;
    bus_link_config_t link_config;
    store_t *store;
    store_table_t *executions, *by_enforcement, *waiting, *active, *workers_table;
    store_table_t
        *children; //  "<parent>/<child>" -> "": a workflow's children (issue 18)

    store_table_t *output; //  "<id><seq, 8 bytes BE>" -> a chunk (executor_output.c)
    uint64_t output_stored, output_dropped, output_published;

    bus_inbox_t *inbox;
    actor_query_t *query;        //  executor.query: the api's reads and changes
    executor_policy_t *policy;   //  concurrency, rate, retry, timeout policies
    executor_inquiry_t *inquiry; //  inquiries and their deadlines
    executor_secret_t *secret;   //  seals secret parameters at rest
    int64_t inquiry_next;    //  wall-clock µs of the first deadline (INT64_MAX: none)
    uint64_t policy_version; //  registry version the policies were taken at
    int64_t policy_tick_at;  //  monotonic ms of the next policy tick
    bus_pub_t *pub;
    executor_changes_t *changes; //  what recent facts were about (resync)
    registry_client_t *registry;
    executor_workers_t *workers;
    zhashx_t *links;          //  worker name -> executor_link_t
    zhashx_t *actives;        //  execution id -> executor_active_t
    zhashx_t *instances;      //  worker name -> uint64_t instance, as stored at start
    zlistx_t *queue;          //  executor_wait_t, FIFO
    actor_effects_t *effects; //  executor_effect_t of the batch being applied
    bool batch_open;
    zhashx_t *batch_running; //  ids this batch recorded running (not yet durable)
    zlist_t *unsettled;   //  executor_unsettled_t: settles whose commit failed, retried
    bool queued_in_batch; //  an execution of this batch went to the waiting queue
    zlist_t *runs;        //  executor_run_t: api runs waiting for the group commit
    struct _executor_run_t *run_failed; //  the run whose create failed (executor_runs.c)
    bool schedule_soon; //  the batch took slots: schedule the rest on the next turn
    char first_peer[256];
    uint64_t first_epoch, first_seq;
    uint64_t created, ignored, repeated, duplicates, late,
        by_status[EXECUTION_STATUS_COUNT];
    bool commands;            //  the inbox was read this turn
    bool poll_dirty;          //  the links changed: their readers are registered again
    executor_record_t record; //  the record every handler works on (one at a time)
    msgpack_sbuffer packed;   //  a record, fact or dispatch being packed
    msgpack_sbuffer params;   //  parameters, packed once per execution
    bool record_ready;
    bus_link_t *events;             //  to rules.commands: built-in triggers
    struct _event_outbox_t *outbox; //  their events until the rules actor acks
    uint64_t triggers_version;      //  registry version the listeners were taken at
    bool listen_action, listen_notify, listen_inquiry; //  an enabled rule is on it
    bool outbox_effect;                  //  the running attempt's outbox effect is queued
    struct _executor_metrics_t *metrics; //  executor_metrics.c
    executor_retention_t *retention;     //  purges: TTL sweeps and api.purge
    uint64_t purged;                     //  executions deleted so far (retention)
    executor_parent_t parents[EXECUTOR_PARENTS]; //  executor_query.c
    size_t parents_next;
};

//  ---------------------------------------------------------------------------
//  executor_metrics: the executor's families for metrics.get

typedef struct _executor_metrics_t executor_metrics_t;
//  Start counting; the query endpoint answers metrics.get with them.
void executor_metrics_open (executor_t *self);
void executor_metrics_close (executor_t *self);
//  In the transaction that ended self->record's execution as `status`
//  (action ref `action`): counted once it commits.
void executor_metrics_ended (executor_t *self, int status, const char *action);
//  actor_metrics_fn: the executor's families (arg: the executor).
void executor_metrics_families (void *arg, json_t *families);

//  ---------------------------------------------------------------------------
//  executor_triggers: StackStorm's built-in triggers (actiontrigger,
//  notifytrigger, inquiry), durable through the executor's outbox
int executor_triggers_open (executor_t *self);
void executor_triggers_close (executor_t *self);
//  In the transaction that ended self->record's execution. 0 or -1.
int executor_triggers_ended (executor_t *self, store_txn_t *txn, const json_t *action);
//  In the transaction that opened `inquiry`. 0 or -1.
int executor_triggers_inquiry (executor_t *self, store_txn_t *txn, const json_t *inquiry);
//  In every command batch's transaction: delete the outbox rows of the
//  events acked so far (no write of their own). 0 or -1.
int executor_triggers_flush (executor_t *self, store_txn_t *txn);
//  Send what the link takes, delete what was acked long ago: once per turn.
void executor_triggers_pump (executor_t *self);

//  executor_effects: after-commit work of a transaction

//  Append an effect of `kind` to the current list; owned by the list.
executor_effect_t *executor_effect_new (executor_t *self, executor_effect_kind_t kind);
void executor_effect_destroy (executor_effect_t **effect_p);
//  Drop the effects of a transaction that did not commit (slots taken in it
//  are given back).
void executor_effects_clear (executor_t *self);
//  Apply (and drop) the effects of a transaction that committed.
void executor_effects_apply (executor_t *self);
//  Publish a JSON fact now (control traffic: worker.*, heartbeats).
void executor_publish (executor_t *self, const char *type, json_t *payload);

//  ---------------------------------------------------------------------------
//  executor_facts: records, facts and dispatches built

//  The stored record `id` as JSON, or NULL. Caller owns it.
json_t *executor_json_get (store_txn_t *txn, executor_t *self, const char *id);
//  Store a JSON record (under its "id"). 0 or -1.
int executor_json_put (store_txn_t *txn, executor_t *self, const json_t *record);
//  Store self->record under `id`. 0 or -1.
int executor_packed_put (executor_t *self, store_txn_t *txn, const char *id);
//  A fact effect for self->record's current status.
void executor_fact_packed (executor_t *self, const json_t *action);
//  The fact for self->record as an envelope (`type` gets its type), or NULL.
proto_envelope_t *executor_fact_envelope (executor_t *self, const json_t *action,
                                          char *type, size_t type_size);
//  Pack self->record's parameters as facts show them: secrets (by the
//  action's schema) masked; nil when absent. 0, or -1 when they cannot be
//  masked.
int executor_pack_parameters (executor_t *self, const json_t *action, msgpack_packer *pk);
//  An envelope of `type` whose payload is what self->packed holds, or NULL.
proto_envelope_t *executor_envelope_packed (executor_t *self, const char *type);
//  The execution.dispatch of self->record as an envelope, or NULL.
proto_envelope_t *executor_dispatch_envelope (executor_t *self, const json_t *action);
//  A dispatch effect of self->record to `worker`.
void executor_dispatch_packed (executor_t *self, const json_t *action,
                               const char *worker);
//  A string of `map` (< size bytes, no NUL) into out; false otherwise.
bool executor_get_str (const msgpack_object *map, const char *key, char *out,
                       size_t size);

//  ---------------------------------------------------------------------------
//  executor_lifecycle: status changes, through the table (executor_status.h)

//  Read stored execution `id` into self->record. 0, or -1 when it is not
//  there or does not read.
int executor_read (executor_t *self, store_txn_t *txn, const char *id);
//  Read stored execution `id` into self->record. Its status, or -1 when it
//  is not there or does not read.
int executor_load (executor_t *self, store_txn_t *txn, const char *id);
//  The status of self->record, or -1 when it has no known one.
int executor_status_of (executor_t *self);
//  Move self->record by `event`: its new status and log entry. The new
//  status, or -1 when the table has no such move (the record is unchanged).
int executor_move (executor_t *self, execution_event_t event, int64_t now);
//  The registry's definition of self->record's action (NULL when unknown);
//  its ref in `ref`.
const json_t *executor_action_of (executor_t *self, char *ref, size_t size);

typedef struct {
    execution_event_t event;      //  what ends it
    const char *error;            //  result: {error}, or
    const json_t *result_json;    //  this result, or
    const msgpack_object *result; //  this one (alive until executor_end returns);
                                  //  none of them: nil
    bool policies;                //  its policy slot is released (a retry may follow)
} executor_end_t;

//  End execution `id` (in self->record): moved by end->event, `ended` now,
//  its result, its fact, no longer active, stored; then, with
//  end->policies, executor_policies_ended. self->record may hold another
//  record afterwards. 0; 1 when the table has no such end (nothing
//  changed); -1 on a store error.
int executor_end (executor_t *self, store_txn_t *txn, const char *id,
                  const executor_end_t *end, int64_t now);

//  ---------------------------------------------------------------------------
//  executor_create: new executions, one path for every origin

//  enforcement.create {key?, enforcement, action, parameters, rule, event,
//  parent?, retry_count?, not_before?}: one execution per key (or
//  enforcement); parameters checked against the action's schema; policies
//  admit, hold or refuse it; admitted, it is scheduled in the same
//  transaction when nothing waits ahead of it and a worker is free.
//  0, -1 on a store error, or a bus_command_reject.
int executor_create (executor_t *self, store_txn_t *txn, const msgpack_object *payload,
                     bus_command_t *info);
//  The same from a JSON payload (api runs, re-runs, retries: not the hot
//  path): packed once, then executor_create.
int executor_create_json (executor_t *self, store_txn_t *txn, const json_t *payload,
                          bus_command_t *info);

//  ---------------------------------------------------------------------------
//  executor_schedule: waiting -> scheduled

//  self->record (requested) goes to `worker`: scheduled, the slot taken
//  (given back if the transaction does not commit), its fact and dispatch
//  as effects. The caller stores the record. 0 or -1.
int executor_schedule_one (executor_t *self, executor_worker_t *worker,
                           const json_t *action, int64_t now);
//  Execution `id` waits for a worker of `runner`, last in line. 0 or -1.
int executor_schedule_wait (executor_t *self, store_txn_t *txn, const char *id,
                            const char *runner);
//  bus_inbox batch-end hook: schedule into the batch's own transaction.
int executor_schedule_batch (void *arg, store_txn_t *txn);
//  Schedule what waits and fits, in a transaction of its own.
void executor_schedule_run (executor_t *self);

//  ---------------------------------------------------------------------------
//  executor_report: execution.status and claims

int executor_report_status (executor_t *self, store_txn_t *txn,
                            const msgpack_object *payload, bus_command_t *info);
//  Send execution.start (start) or execution.refused (reason) to `worker`.
void executor_report_answer (executor_t *self, const char *worker, const char *id,
                             bool start, uint64_t claim, const char *reason);

//  ---------------------------------------------------------------------------
//  executor_output: live output (proto/PROTOCOL.md, "Live output")

#define EXECUTOR_OUTPUT_MAX         (16 * 1024 * 1024 + 65536) //  bytes per execution
#define EXECUTOR_OUTPUT_CHUNKS_MAX  100000 //  chunks per execution (workers send 65536)
#define EXECUTOR_OUTPUT_REPLY_BYTES (512 * 1024) //  chunk bytes per answer, about

//  execution.output from a worker: stored, its fact an effect. 0 (also
//  when dropped: counted), or -1 on a store error.
int executor_output_report (executor_t *self, store_txn_t *txn,
                            const msgpack_object *payload, bus_command_t *info);
//  Delete every chunk of execution `id` in `txn` (a write transaction).
//  How many were deleted, or -1 on a store error.
int executor_output_delete (executor_t *self, store_txn_t *txn, const char *id);
//  api.execution.output {id, offset?, stream?, limit?}: {execution, chunks,
//  next, status, ended, truncated}.
void executor_output_query (executor_t *self, const char *id, json_t *payload,
                            actor_answer_t *answer);

//  ---------------------------------------------------------------------------
//  executor_params: an action's parameter schema on msgpack parameters

//  `schema` (the action's `parameters`) applied to `given` (a map, or
//  NULL) as registry_params_apply does, packed into `out`: 0; -1 with
//  `reason` (unknown or missing parameter); 1 when only the JSON path can
//  say (coercion, immutable, enum, limits), with `out` to clear.
int executor_params_apply (const json_t *schema, const msgpack_object *given,
                           msgpack_sbuffer *out, char *reason, size_t size);

//  Whether a parameter of `schema` takes a default that is a template
//  ({{ }} or {% %}, in a string or inside an array or object): not given,
//  or immutable. A scan of the schema.
bool executor_params_templated (const json_t *schema, const msgpack_object *given);

//  StackStorm's rendering of parameter defaults: `action`'s parameters
//  applied to `given` as registry_params_apply does, with every default
//  that is a template rendered (the one Jinja engine, rules_template.h) in
//  the order of what reads what, with the other parameters' values in
//  scope, and `action_context` (given), `config_context` (the pack's
//  config) and `st2kv` (each key named becomes a reference the worker
//  resolves, proto_secret.h). The `cmd` of a shell runner renders with
//  each value one shell word, the parameters that keep the action's own
//  default inserted as its shell text (rules_template_render_shell_own);
//  parameters with no value are null in scope. Values given
//  are data, never rendered. Packed into `out`: 0; -1 with `reason` (a
//  cycle naming its parameters, an undefined name, a template error, a
//  value of the wrong type, a config secret in a parameter not secret).
//  registry_params_apply for a request (api.execution.run), the defaults
//  that are templates left out (and their `required`): rendered and
//  checked when the execution is created. Caller owns the result; NULL
//  with `reason`.
json_t *executor_params_check (const json_t *schema, const json_t *given, char *reason,
                               size_t size);

int executor_params_defaults (const json_t *action, const msgpack_object *given,
                              const json_t *action_context, msgpack_sbuffer *out,
                              char *reason, size_t size);

//  ---------------------------------------------------------------------------
//  executor_check: commands checked against the message table

//  The payload of a command to the executor, checked against its row in
//  proto_messages (and for a JSON form, which records and facts need), or
//  NULL after a reject (bad_request naming the field, unknown_type), which
//  the sender gets as ERR and the log says.
const msgpack_object *executor_check_command (executor_t *self, proto_envelope_t *command,
                                              bus_command_t *info);

//  ---------------------------------------------------------------------------
//  executor_links: workers

//  worker.register (checked): stored (its msgpack payload, by name); the
//  link and reconciliation follow after the commit. 0, a reject, or -1.
int executor_links_register (executor_t *self, store_txn_t *txn,
                             const msgpack_object *payload, bus_command_t *info);
//  worker.draining (checked): what it returned waits again. 0 or -1.
int executor_links_draining (executor_t *self, store_txn_t *txn,
                             const msgpack_object *payload, bus_command_t *info);
//  The instance of a stored registration (msgpack; JSON text in a store
//  written before registrations were msgpack). False when it has none.
bool executor_links_stored_instance (const void *data, size_t size, uint64_t *instance);
//  After a registration committed: link, reconcile, worker.up.
void executor_links_apply_worker (executor_t *self, json_t *payload);
//  Settles whose commit failed, tried again.
void executor_links_retry (executor_t *self);
void executor_link_destroy (void **item_p);
void executor_unsettled_destroy (executor_unsettled_t **item_p);

//  ---------------------------------------------------------------------------
//  executor_policies: the executor's side of executor_policy

//  executor_policy_fn: a delayed execution let go (requested, waiting).
int executor_policies_wake (void *arg, store_txn_t *txn, const char *id);
//  Execution `id` of `action` ended as `status`: release, maybe retry.
int executor_policies_ended (executor_t *self, store_txn_t *txn, const char *id,
                             const char *action, int status);
void executor_policies_tick (executor_t *self);
void executor_policies_sync (executor_t *self);

//  ---------------------------------------------------------------------------
//  executor_inquiries: the executor's side of executor_inquiry

void executor_inquiries_fact (executor_t *self, const char *type, const json_t *inquiry);
int executor_inquiries_open (executor_t *self, store_txn_t *txn, const char *id,
                             const char *worker, const json_t *result,
                             const json_t *spec);
void executor_inquiries_respond (executor_t *self, const char *id, const char *identity,
                                 const char *request, const json_t *response,
                                 actor_answer_t *answer);
void executor_inquiries_tick (executor_t *self);
void executor_inquiries_list (executor_t *self, json_t *payload, actor_answer_t *answer);

//  ---------------------------------------------------------------------------
//  executor_query: executor.query (actor_query handler)

void executor_query_handle (void *arg, const char *type, json_t *payload,
                            actor_answer_t *answer);
//  executor_runs: the group commit of api.execution.run and rerun. Add
//  defers `answer` and takes `payload` (executor_create_json's: key,
//  action, parameters, ...); flush (after each actor_query_handle, and
//  before a request that writes otherwise) creates them in one transaction,
//  then applies the effects and answers each {execution}. Discard frees
//  what was never flushed (at destruction).
void executor_runs_add (executor_t *self, json_t *payload, actor_answer_t *answer);
void executor_runs_flush (executor_t *self);
void executor_runs_discard (executor_t *self);
//  A stored record as the api shows it: secret parameters masked; `brief`
//  (lists) leaves out result and log. Takes the record; returns it.
json_t *executor_query_public (executor_t *self, json_t *record, bool brief);
//  The stored record `id` as JSON (caller owns it), or NULL.
json_t *executor_query_get (executor_t *self, const char *id);
//  Send `type` {execution: id} to `worker` (cancel, pause, resume).
void executor_query_tell (executor_t *self, const char *worker, const char *type,
                          const char *id);

//  ---------------------------------------------------------------------------
//  executor_workflow: children, pause and resume (issue 18)

//  The children of `parent`, newest first, older than `before` when given,
//  of `status` when given: {items, next} in `answer`.
void executor_workflow_children (executor_t *self, const char *parent, const char *before,
                                 const char *status, size_t limit,
                                 actor_answer_t *answer);
//  api.execution.children {id, before?, limit?}.
void executor_workflow_children_op (executor_t *self, const char *id, json_t *payload,
                                    actor_answer_t *answer);
//  api.execution.pause / api.execution.resume {id}: a workflow on its live
//  engine is pausing (resuming) until the engine reports paused (running).
void executor_workflow_pause (executor_t *self, const char *id, json_t *payload,
                              actor_answer_t *answer);
void executor_workflow_resume (executor_t *self, const char *id, json_t *payload,
                               actor_answer_t *answer);
//  api.execution.rerun's `tasks` and `reset` for a re-run of `original`
//  (its record): {ref, tasks, reset} for the new execution (the engine
//  re-runs the original's recorded state from those tasks), NULL without
//  tasks, or NULL with the refusal in `answer` (as StackStorm's: tasks of an
//  orquesta workflow only, not with parameters, reset among the tasks).
json_t *executor_workflow_rerun_options (const json_t *original, const json_t *payload,
                                         actor_answer_t *answer);

//  ---------------------------------------------------------------------------
//  executor_retention: ended executions and closed inquiries purged (TTLs,
//  api.purge), in bounded steps of the loop

int executor_retention_open (executor_t *self);
void executor_retention_close (executor_t *self);
//  One step of the first purge (a TTL sweep started when due). Every turn;
//  `busy`: the turn handled commands (a step then at most every 50 ms).
void executor_retention_tick (executor_t *self, bool busy);
//  0 while a purge is under way, else ms to the next sweep (-1: none).
int executor_retention_timeout (executor_t *self);
//  {executions, inquiries: purged since the start, jobs: purges under way}
json_t *executor_retention_status (executor_t *self);
//  api.purge {kind, older_than, status?, action?}: answered when done.
void executor_retention_purge (executor_t *self, json_t *payload, actor_answer_t *answer);

//  Delete execution `id` with everything that hangs off it: its record
//  (late reports inside), its dedup key (by_enforcement), its children
//  index entries (under its parent, and its own children's), its inquiry.
//  Does not check its status: callers purge final executions only. Every
//  other deletion of an execution goes through here (live output too).
//  1 deleted, 0 absent, -1 on a store error.
int executor_execution_delete (executor_t *self, store_txn_t *txn, const char *id);

#endif
