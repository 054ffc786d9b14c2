/*  worker: runs executions (worker.h).

    One thread, one loop (actor_loop) over the pipe, the inbox, the link to
    the executor and the pipes of every running process. Jobs beyond the free
    slots wait in a FIFO; status reports wait in a FIFO while the link's
    window is full, so the loop never blocks.
*/
#include "actors/worker/worker.h"
#include "actors/actor_loop.h"
#include "actors/worker/worker_groups.h"
#include "actors/worker/worker_guard.h"
#include "actors/worker/worker_ledger.h"
#include "actors/worker/worker_process.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"
#include "bus/bus_security.h"
#include "proto/proto_json.h"

#include <ctype.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <unistd.h>

#define S_DEFAULT_TIMEOUT_S 600
#define S_MAX_ENV           256
#define S_OUTPUT_CAP        (256 * 1024) //  per stream: a report stays far below the frame limit
#define S_MAX_REPORT        (960 * 1024) //  payload bytes of a status report
#define S_FINISHED_KEEP     16384        //  a re-dispatch of these gets the outcome again
#define S_FINISHED_REPORTS  (16 << 20)   //  bytes of their final reports kept
#define S_LEDGER_WAIT_MS    5000         //  for what a previous instance left to end
#define S_RUNTIMES          PROTO_RUNNERS
#define S_RANK_LINK         0 //  the order the loop reads in: the executor's link,
#define S_RANK_INBOX        1 //  its commands,
#define S_RANK_PROCESSES    2 //  then what the processes say

typedef struct {
    char id[PROTO_UUID_STR_SIZE + 8];
    char runner[32];
    json_t *action; //  ref, runner_type, entry_point, pack_dir, timeout
    json_t *parameters;
    json_t *secret; //  names never to print
    worker_process_t *process;
    long long start;       //  its start time (worker_groups_start)
    worker_guard_t *guard; //  told when it started (borrowed), NULL if not
    int64_t due;           //  builtin sleep: monotonic ms when it ends
    bool running;
    bool cancelled;
    bool reported_running;
    bool confirm;  //  a process with effects: start only on execution.start
    bool claiming; //  `running` reported as a claim, waiting for the start

    int64_t started_usec; //  wall clock µs its process started (reported at the end)
    int64_t claim_ts;     //  monotonic µs the claim was sent (echoed by the start)
    char *tmpdir;         //  working directory made for the process
    bool dropped;         //  the executor settled it without us (reconciled)
    bool ledgered;        //  in the ledger: claimed or started here
} s_job_t;

//  An execution that ended here: its final report, sent again when the
//  executor dispatches it again (it took the first for a late one, or has
//  not seen it yet), so the outcome is never lost and the action never runs
//  twice. The report's bytes go once S_FINISHED_REPORTS is exceeded, oldest
//  first; then only the status is said again.
typedef struct {
    char status[16];
    int exit_code;
    uint8_t *report; //  packed execution.status payload, NULL once evicted
    size_t size;
} s_done_t;

typedef struct {
    zsock_t *pipe;
    actor_loop_t *loop;
    actor_loop_fd_t *watched; //  the running processes' descriptors (s_before)
    size_t watch_capacity;
    char name[256];
    char source[300];
    char endpoint[512];
    uint64_t instance;
    int slots;
    char runtimes[256];
    bus_inbox_t *inbox;
    bus_link_t *link;
    worker_ledger_t *ledger;            //  what may run here, durable (NULL: no data dir)
    worker_guard_t *guard;              //  ends our processes if we die (NULL: none)
    uint8_t report_id[PROTO_UUID_SIZE]; //  the last execution.status queued
    bool report_queued;                 //  ... since report_queued was cleared
    zhashx_t *jobs;                     //  id -> s_job_t (queued and running)
    zlist_t *queue;                     //  ids waiting for a slot, FIFO (strings, owned)
    zlist_t *outbox;                    //  proto_envelope_t waiting for link window
    msgpack_sbuffer report;             //  a status report being packed
    msgpack_sbuffer last;               //  the last status report sent (its payload)
    zhashx_t *finished;      //  id -> s_done_t of the last S_FINISHED_KEEP ended here
    zlist_t *finished_order; //  the same ids, oldest first
    zlist_t *kept_order; //  the s_done_t (in finished) still with a report, oldest first
    size_t kept_bytes;   //  their reports' bytes
    int busy;
    uint64_t ran, completed, failed, timeouts, cancelled, duplicates, returned, resent;
    uint64_t claims, refused, stale_starts;
    bool draining;         //  stopping: takes nothing new
    int64_t drain_until;   //  monotonic ms: the grace for what runs ends
    bool drained_reported; //  DRAINED said on the pipe
    int64_t silence_ms; //  heartbeat x liveness: after that the executor gives up on us
    int64_t heartbeat_ms;
    bool connected; //  the executor has been heard at least once
    bool suspect;   //  it may have given up on us: start nothing until it
                    //  answers our registration (worker.reconciled)
} s_worker_t;

static void
s_job_destroy (s_job_t **job_p)
{
    s_job_t *job = *job_p;
    if (job) {
        if (job->process) {
            pid_t pid = worker_process_pid (job->process);
            worker_process_destroy (&job->process); //  killed if it still runs
            if (job->guard)
                worker_guard_ended (job->guard, pid, job->start);
        }
        json_decref (job->action);
        json_decref (job->parameters);
        json_decref (job->secret);
        if (job->tmpdir) {
            rmdir (job->tmpdir); //  only if the action left it empty
            free (job->tmpdir);
        }
        free (job);
        *job_p = NULL;
    }
}

//  ---------------------------------------------------------------------------
//  Reports to the executor

static void
s_flush (s_worker_t *self)
{
    while (zlist_size (self->outbox) && bus_link_can_send (self->link)) {
        proto_envelope_t *envelope = (proto_envelope_t *)zlist_pop (self->outbox);
        if (bus_link_send (self->link, &envelope) != 0) {
            zlist_push (self->outbox, envelope);
            break;
        }
    }
}

static void
s_send (s_worker_t *self, const char *type, json_t *payload)
{
    proto_envelope_t *envelope = proto_envelope_new (type, self->source);
    proto_error_t error;
    proto_code_t code = envelope
                            ? proto_envelope_set_payload_json (envelope, payload, &error)
                            : PROTO_ERR_NOMEM;
    size_t size = 0;
    if (code == PROTO_OK)
        proto_envelope_payload (envelope, &size);
    if (envelope && json_object_get (payload, "result") &&
        (code != PROTO_OK || size > S_MAX_REPORT)) {
        //  A status must always get out: a result that cannot travel is
        //  replaced by one that says why
        char reason[300];
        snprintf (reason, sizeof reason, "the result could not be reported: %s",
                  code != PROTO_OK ? error.message : "larger than the frame limit");
        json_object_set_new (payload, "result", json_pack ("{s:s}", "error", reason));
        code = proto_envelope_set_payload_json (envelope, payload, &error);
    }
    if (!envelope || code != PROTO_OK) {
        zsys_error ("%s: cannot encode %s: %s", self->name, type,
                    envelope ? error.message : "out of memory");
        proto_envelope_destroy (&envelope);
        json_decref (payload);
        return;
    }
    json_decref (payload);
    if (streq (type, "execution.status")) {
        memcpy (self->report_id, proto_envelope_id (envelope), PROTO_UUID_SIZE);
        self->report_queued = true;
        const void *bytes = proto_envelope_payload (envelope, &size);
        msgpack_sbuffer_clear (&self->last);
        msgpack_sbuffer_write (&self->last, (const char *)bytes, size);
    }
    zlist_append (self->outbox, envelope);
    s_flush (self);
}

//  worker.register carries this worker's CURVE public key when its endpoint
//  is a CURVE server (bus_security.h): the executor connects with it.
static json_t *
s_with_curve_key (s_worker_t *self, json_t *payload)
{
    if (payload && self->inbox &&
        zsock_mechanism (bus_inbox_sock (self->inbox)) == ZMQ_CURVE &&
        bus_security_public_key ())
        json_object_set_new (payload, "curve_key",
                             json_string (bus_security_public_key ()));
    return payload;
}

static void
s_register (s_worker_t *self)
{
    json_t *runtimes = json_array ();
    char copy[256];
    snprintf (copy, sizeof copy, "%s", self->runtimes);
    for (char *save = NULL, *token = strtok_r (copy, ", ", &save); token;
         token = strtok_r (NULL, ", ", &save))
        json_array_append_new (runtimes, json_string (token));
    //  What it holds (queued and running), so an executor that restarted, or
    //  settled them while it could not hear us, can reconcile
    json_t *held = json_array ();
    for (s_job_t *job = (s_job_t *)zhashx_first (self->jobs); job;
         job = (s_job_t *)zhashx_next (self->jobs))
        json_array_append_new (held, json_string (job->id));
    json_t *payload = s_with_curve_key (
        self, json_pack ("{s:s, s:I, s:s, s:o, s:i, s:o, s:b}", "worker", self->name,
                         "instance", (json_int_t)(self->instance & INT64_MAX), "endpoint",
                         self->endpoint, "runtimes", runtimes, "slots", self->slots,
                         "executions", held, "draining", self->draining));
    //  What the previous instance left (worker_ledger.h), until the executor
    //  has answered a registration that said it: its processes are gone
    json_t *never = worker_ledger_never_started (self->ledger);
    json_t *stopped = worker_ledger_stopped (self->ledger);
    if (payload && never && stopped) {
        json_object_set (payload, "never_started", never);
        json_object_set (payload, "stopped", stopped);
    }
    s_send (self, "worker.register", payload);
}

//  Give back executions not started (ids in `returned`, taken): the
//  executor sends them to another worker.
static void
s_return (s_worker_t *self, json_t *returned)
{
    self->returned += json_array_size (returned);
    s_send (self, "worker.draining",
            json_pack ("{s:s, s:o}", "worker", self->name, "returned", returned));
}

//  Stop taking work: what waits for a slot goes back to the executor; what
//  runs may finish within `grace_ms`.
static void
s_drain (s_worker_t *self, int grace_ms)
{
    if (self->draining)
        return;
    self->draining = true;
    self->drain_until = zclock_mono () + grace_ms;
    json_t *returned = json_array ();
    char *id;
    while ((id = (char *)zlist_pop (self->queue))) {
        s_job_t *job = (s_job_t *)zhashx_lookup (self->jobs, id);
        if (job && !job->running) {
            json_array_append_new (returned, json_string (id));
            zhashx_delete (self->jobs, id);
        }
        free (id);
    }
    zsys_info ("%s: draining: %zu returned, %d running (grace %d ms)", self->name,
               json_array_size (returned), self->busy, grace_ms);
    s_return (self, returned);
}

static void
s_report (s_worker_t *self, s_job_t *job, const char *status, json_t *result,
          int exit_code)
{
    //  Packed directly (no JSON payload to build and convert); a result that
    //  cannot travel takes the JSON path below, which replaces it. What is
    //  sent is kept in self->last (nothing when nothing could be sent)
    msgpack_sbuffer_clear (&self->last);
    msgpack_sbuffer_clear (&self->report);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->report, msgpack_sbuffer_write);
    bool claim = job->claiming && streq (status, "running");
    //  When the process started (a claimed one starts after its claim)
    bool started = job->confirm && job->started_usec && !streq (status, "running");
    msgpack_pack_map (&pk, 5 + (result != NULL) + claim + started);
    proto_pack_str (&pk, "execution");
    proto_pack_str (&pk, job->id);
    proto_pack_str (&pk, "worker");
    proto_pack_str (&pk, self->name);
    proto_pack_str (&pk, "status");
    proto_pack_str (&pk, status);
    proto_pack_str (&pk, "exit_code");
    msgpack_pack_int (&pk, exit_code);
    proto_pack_str (&pk, "ts");
    msgpack_pack_int64 (&pk, proto_now_usec ());
    if (claim) {
        proto_pack_str (&pk, "claim");
        msgpack_pack_int64 (&pk, job->claim_ts);
    }
    if (started) {
        proto_pack_str (&pk, "started");
        msgpack_pack_int64 (&pk, job->started_usec);
    }
    proto_code_t code = PROTO_OK;
    if (result) {
        proto_pack_str (&pk, "result");
        code = proto_json_to_msgpack (result, &pk, NULL);
    }
    proto_envelope_t *envelope =
        code == PROTO_OK && self->report.size <= S_MAX_REPORT
            ? proto_envelope_new ("execution.status", self->source)
            : NULL;
    if (envelope && proto_envelope_set_payload_packed (envelope, self->report.data,
                                                       self->report.size) == 0) {
        json_decref (result);
        msgpack_sbuffer_clear (&self->last);
        msgpack_sbuffer_write (&self->last, self->report.data, self->report.size);
        memcpy (self->report_id, proto_envelope_id (envelope), PROTO_UUID_SIZE);
        self->report_queued = true;
        zlist_append (self->outbox, envelope);
        s_flush (self);
        return;
    }
    proto_envelope_destroy (&envelope);
    json_t *payload = json_pack ("{s:s, s:s, s:s, s:i, s:I}", "execution", job->id,
                                 "worker", self->name, "status", status, "exit_code",
                                 exit_code, "ts", (json_int_t)proto_now_usec ());
    if (result)
        json_object_set_new (payload, "result", result);
    if (claim)
        json_object_set_new (payload, "claim", json_integer ((json_int_t)job->claim_ts));
    if (started)
        json_object_set_new (payload, "started",
                             json_integer ((json_int_t)job->started_usec));
    s_send (self, "execution.status", payload);
}

static void
s_done_destroy (void **item_p)
{
    s_done_t *done = (s_done_t *)*item_p;
    if (done) {
        free (done->report);
        free (done);
        *item_p = NULL;
    }
}

//  Remember an execution that ended here with its final report (the last
//  one sent, in self->last).
static void
s_remember (s_worker_t *self, const char *id, const char *status, int exit_code)
{
    s_done_t *done = (s_done_t *)zmalloc (sizeof (s_done_t));
    snprintf (done->status, sizeof done->status, "%s", status);
    done->exit_code = exit_code;
    if (self->last.size) {
        done->report = (uint8_t *)malloc (self->last.size);
        if (done->report) {
            memcpy (done->report, self->last.data, self->last.size);
            done->size = self->last.size;
            self->kept_bytes += done->size;
            zlist_append (self->kept_order, done);
        }
    }
    zhashx_insert (self->finished, id, done);
    zlist_append (self->finished_order, strdup (id));
    while (zlist_size (self->finished_order) > S_FINISHED_KEEP) {
        char *oldest = (char *)zlist_pop (self->finished_order);
        s_done_t *gone = (s_done_t *)zhashx_lookup (self->finished, oldest);
        if (gone && gone->report) {
            //  The oldest of all with a report is the oldest of those kept
            self->kept_bytes -= gone->size;
            void *head = zlist_pop (self->kept_order);
            assert (head == gone);
            (void)head;
        }
        zhashx_delete (self->finished, oldest);
        free (oldest);
    }
    //  Over the budget: the oldest reports go (their status stays)
    while (self->kept_bytes > S_FINISHED_REPORTS && zlist_size (self->kept_order)) {
        s_done_t *kept = (s_done_t *)zlist_pop (self->kept_order);
        self->kept_bytes -= kept->size;
        free (kept->report);
        kept->report = NULL;
        kept->size = 0;
    }
}

//  A dispatch of what ended here: say again how it ended.
static void
s_resend (s_worker_t *self, const char *id, s_done_t *done)
{
    proto_envelope_t *envelope = proto_envelope_new ("execution.status", self->source);
    if (envelope && done->report &&
        proto_envelope_set_payload_packed (envelope, done->report, done->size) == 0) {
        zlist_append (self->outbox, envelope);
        s_flush (self);
        self->resent++;
        return;
    }
    proto_envelope_destroy (&envelope);
    s_send (self, "execution.status",
            json_pack ("{s:s, s:s, s:s, s:i, s:I, s:{s:s}}", "execution", id, "worker",
                       self->name, "status", done->status, "exit_code", done->exit_code,
                       "ts", (json_int_t)proto_now_usec (), "result", "error",
                       "it ran on this worker earlier; its result is no longer held"));
    self->resent++;
}

//  The job is over: report, free the slot.
static void
s_finish (s_worker_t *self, s_job_t *job, const char *status, json_t *result,
          int exit_code)
{
    self->report_queued = false;
    s_report (self, job, status, result, exit_code);
    //  Out of the ledger once the executor holds the outcome (its ack)
    if (job->ledgered && self->report_queued)
        worker_ledger_end_after (self->ledger, job->id, self->report_id);
    else if (job->ledgered)
        worker_ledger_end (self->ledger, job->id);
    if (streq (status, "completed"))
        self->completed++;
    else if (streq (status, "timeout"))
        self->timeouts++;
    else if (streq (status, "cancelled"))
        self->cancelled++;
    else
        self->failed++;
    if (job->running)
        self->busy--;
    //  Remember it and its report: a dispatch of it that arrives again
    //  (the executor restarted before it learnt the outcome, or took back
    //  what it thought lost with us and ignored the report as late) must not
    //  run it twice, and gets the outcome again. One the executor told us to
    //  drop is not ours: given again, it runs again.
    if (!job->dropped && !zhashx_lookup (self->finished, job->id))
        s_remember (self, job->id, status, exit_code);
    zhashx_delete (self->jobs, job->id);
}

//  ---------------------------------------------------------------------------
//  Running a job

static const char *
s_param_string (s_job_t *job, const char *name)
{
    return json_string_value (json_object_get (job->parameters, name));
}

static int64_t
s_timeout_ms (s_job_t *job)
{
    json_t *value = json_object_get (job->parameters, "timeout");
    if (!json_is_number (value))
        value = json_object_get (job->action, "timeout");
    double seconds = json_is_number (value) ? json_number_value (value) : 0;
    if (seconds <= 0)
        seconds = S_DEFAULT_TIMEOUT_S;
    return (int64_t)(seconds * 1000.0);
}

//  Environment: a minimal base, ATTUNE_EXECUTION_ID, the `env` parameter
//  (an object) and ATTUNE_PARAM_<NAME> for every parameter. Caller frees.
static char **
s_environment (s_worker_t *self, s_job_t *job)
{
    char **envp = (char **)calloc (S_MAX_ENV + 1, sizeof (char *));
    if (!envp)
        return NULL;
    int n = 0;
    const char *path = getenv ("PATH");
    envp[n++] = zsys_sprintf ("PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
    const char *home = getenv ("HOME");
    envp[n++] = zsys_sprintf ("HOME=%s", home ? home : "/");
    envp[n++] = zsys_sprintf ("LANG=%s", getenv ("LANG") ? getenv ("LANG") : "C.UTF-8");
    envp[n++] = zsys_sprintf ("ATTUNE_EXECUTION_ID=%s", job->id);
    envp[n++] = zsys_sprintf ("ATTUNE_WORKER=%s", self->name);
    const char *key;
    json_t *value;
    json_t *extra = json_object_get (job->parameters, "env");
    if (json_is_object (extra))
        json_object_foreach (extra, key, value)
        {
            if (n >= S_MAX_ENV - 1 || !json_is_string (value) || !*key ||
                strchr (key, '='))
                continue;
            envp[n++] = zsys_sprintf ("%s=%s", key, json_string_value (value));
        }
    json_object_foreach (job->parameters, key, value)
    {
        if (n >= S_MAX_ENV)
            break;
        char name[128];
        size_t i = 0;
        for (; key[i] && i < sizeof name - 1; i++)
            name[i] = isalnum ((unsigned char)key[i])
                          ? (char)toupper ((unsigned char)key[i])
                          : '_';
        name[i] = 0;
        char *text = json_is_string (value)
                         ? strdup (json_string_value (value))
                         : json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text) {
            envp[n++] = zsys_sprintf ("ATTUNE_PARAM_%s=%s", name, text);
            free (text);
        }
    }
    return envp;
}

static void
s_free_strings (char **strings)
{
    for (int i = 0; strings && strings[i]; i++)
        zstr_free (&strings[i]);
    free (strings);
}

//  Resolve a script path under the pack's actions directory. Refuses paths
//  that climb out of it. Caller frees.
static char *
s_script_path (s_job_t *job, const char *entry)
{
    if (!entry || !*entry)
        return NULL;
    if (entry[0] == '/')
        return strdup (entry);
    if (strstr (entry, ".."))
        return NULL;
    const char *pack_dir = json_string_value (json_object_get (job->action, "pack_dir"));
    return zsys_sprintf ("%s/actions/%s", pack_dir ? pack_dir : ".", entry);
}

#define S_MAX_WORDS 256 //  words of a `cmd` parameter

//  Split a `cmd` parameter into words, with no shell: blanks separate words,
//  '...' and "..." group them (inside "...", \" and \\ are " and \), a
//  backslash outside quotes takes the next character as it is. Nothing is
//  expanded, substituted, piped or redirected: `$(x)`, `;`, `|` are text.
//  Returns the words (NULL-terminated, in one allocation), or NULL with
//  `message` saying why.
static char **
s_split_words (const char *cmd, char *message, size_t size)
{
    size_t length = strlen (cmd);
    char **words = (char **)calloc (1, (S_MAX_WORDS + 1) * sizeof (char *) + length + 1);
    if (!words) {
        snprintf (message, size, "cmd: out of memory");
        return NULL;
    }
    char *out = (char *)(words + S_MAX_WORDS + 1);
    size_t count = 0;
    const char *p = cmd;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        if (count == S_MAX_WORDS) {
            snprintf (message, size, "cmd: more than %d words", S_MAX_WORDS);
            free (words);
            return NULL;
        }
        words[count++] = out;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
            char quote = *p;
            if (quote == '\'' || quote == '"') {
                const char *start = p++;
                while (*p && *p != quote) {
                    if (quote == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
                        p++;
                    *out++ = *p++;
                }
                if (!*p) {
                    snprintf (message, size, "cmd: unterminated %c at offset %zu", quote,
                              (size_t)(start - cmd));
                    free (words);
                    return NULL;
                }
                p++;
            } else if (*p == '\\' && p[1])
                p++, *out++ = *p++;
            else
                *out++ = *p++;
        }
        *out++ = 0;
    }
    if (count == 0) {
        snprintf (message, size, "cmd: no command in it");
        free (words);
        return NULL;
    }
    return words;
}

//  Start a process-backed job. Returns 0, or -1 after finishing it failed.
static int
s_start_process (s_worker_t *self, s_job_t *job)
{
    char *argv[4] = {NULL, NULL, NULL, NULL};
    char **words = NULL; //  a `cmd` given as a parameter, split without a shell
    char *script = NULL;
    const char *entry = json_string_value (json_object_get (job->action, "entry_point"));
    char message[512] = "";
    if (streq (job->runner, "local-shell-cmd")) {
        //  The shell runs only the action author's text (entry_point, or an
        //  immutable `cmd` default the registry made the entry point). A `cmd`
        //  that arrives as a parameter is data from whoever ran the action or
        //  from an event: it is run as words, never parsed by a shell.
        const char *cmd = s_param_string (job, "cmd");
        if (entry && *entry) {
            argv[0] = "/bin/sh";
            argv[1] = "-c";
            argv[2] = (char *)entry;
        } else if (cmd && *cmd) {
            words = s_split_words (cmd, message, sizeof message);
            if (!words) {
                s_finish (self, job, "failed", json_pack ("{s:s}", "error", message), -1);
                return -1;
            }
        } else {
            s_finish (self, job, "failed",
                      json_pack ("{s:s}", "error", "local-shell-cmd: no 'cmd' to run"),
                      -1);
            return -1;
        }
    } else if (streq (job->runner, "local-shell-script") ||
               streq (job->runner, "python-script")) {
        const char *which = entry && *entry ? entry : s_param_string (job, "script");
        script = s_script_path (job, which);
        if (!script) {
            s_finish (self, job, "failed",
                      json_pack ("{s:s}", "error",
                                 "no script to run (entry_point or 'script' parameter)"),
                      -1);
            return -1;
        }
        if (streq (job->runner, "python-script")) {
            argv[0] = "python3";
            argv[1] = script;
        } else
            argv[0] = script;
    }
    char *input = json_dumps (job->parameters, JSON_COMPACT);
    char **envp = s_environment (self, job);
    const char *cwd = s_param_string (job, "cwd");
    if (!cwd) {
        job->tmpdir = zsys_sprintf ("/tmp/attune-%s", job->id);
        if (job->tmpdir && mkdir (job->tmpdir, 0700) == 0)
            cwd = job->tmpdir;
        else
            cwd = "/tmp";
    }
    worker_process_spec_t spec = {.argv = words ? words : argv,
                                  .envp = envp,
                                  .cwd = cwd,
                                  .input = input,
                                  .input_size = input ? strlen (input) : 0,
                                  .output_cap = S_OUTPUT_CAP,
                                  .timeout_ms = s_timeout_ms (job)};
    //  The intent is written before the process can exist: a worker that
    //  restarts never says "never started" of what may have run
    if (self->ledger && worker_ledger_intent (self->ledger, job->id) != 0)
        snprintf (message, sizeof message,
                  "not started: the worker cannot write its ledger");
    else
        job->process = worker_process_start (&spec, message, sizeof message);
    job->ledgered = job->ledgered || self->ledger;
    if (job->process) {
        pid_t pid = worker_process_pid (job->process);
        job->start = worker_groups_start (pid, NULL, NULL);
        if (self->ledger)
            worker_ledger_started (self->ledger, job->id, pid, job->start);
        if (worker_guard_started (self->guard, pid, job->start, job->id) == 0)
            job->guard = self->guard;
    }
    free (input);
    s_free_strings (envp);
    free (script);
    free (words);
    if (!job->process) {
        s_finish (self, job, "failed", json_pack ("{s:s}", "error", message), -1);
        return -1;
    }
    return 0;
}

//  A process ended: build the result and report.
static void
s_process_done (s_worker_t *self, s_job_t *job)
{
    const worker_result_t *r = worker_process_result (job->process);
    json_t *result = json_object ();
    //  Output that is not valid UTF-8 has no JSON string form: say so
    json_t *out = json_stringn (r->out ? r->out : "", r->out_size);
    json_t *err = json_stringn (r->err ? r->err : "", r->err_size);
    json_object_set_new (result, "stdout",
                         out ? out
                             : json_sprintf ("<%zu bytes, not UTF-8>", r->out_size));
    json_object_set_new (result, "stderr",
                         err ? err
                             : json_sprintf ("<%zu bytes, not UTF-8>", r->err_size));
    int code = r->exited ? r->exit_code : 128 + r->signal;
    json_object_set_new (result, "return_code", json_integer (code));
    json_object_set_new (result, "succeeded",
                         json_boolean (r->exited && r->exit_code == 0));
    if (r->out_truncated)
        json_object_set_new (result, "stdout_truncated", json_true ());
    if (r->err_truncated)
        json_object_set_new (result, "stderr_truncated", json_true ());
    if (r->out && r->out_size) {
        json_t *parsed = json_loadb (r->out, r->out_size, JSON_DECODE_ANY, NULL);
        if (parsed)
            json_object_set_new (result, "result", parsed);
    }
    const char *status = r->timed_out                     ? "timeout"
                         : r->cancelled || job->cancelled ? "cancelled"
                         : r->exited && r->exit_code == 0 ? "completed"
                                                          : "failed";
    s_finish (self, job, status, result, code);
}

//  How long after its claim a start may still be acted on: short of the
//  executor's heartbeat x liveness by one and a half heartbeats (its
//  silence clock may have started up to a heartbeat before our claim), so a
//  start that waited out a partition is claimed again rather than taken for
//  a fresh one after the executor may have given up on us.
static int64_t
s_claim_lease_ms (s_worker_t *self)
{
    int64_t lease = self->silence_ms - self->heartbeat_ms - self->heartbeat_ms / 2;
    return lease > self->heartbeat_ms / 2 ? lease : self->heartbeat_ms / 2;
}

static bool
s_claim_fresh (s_worker_t *self, s_job_t *job)
{
    return (zclock_usecs () - job->claim_ts) / 1000 < s_claim_lease_ms (self);
}

//  Report `running` as a claim (with the time, which the start echoes).
static void
s_claim (s_worker_t *self, s_job_t *job)
{
    job->claiming = true;
    job->claim_ts = zclock_usecs ();
    self->claims++;
    //  Before the executor can record it running here: a restarted worker
    //  names what it claimed and never started, and that waits again
    if (self->ledger && !job->ledgered) {
        worker_ledger_claim (self->ledger, job->id);
        job->ledgered = true;
    }
    s_report (self, job, "running", NULL, 0);
}

//  Start the job in a free slot: builtins finish here; processes start, or
//  are claimed first.
static void
s_start_job (s_worker_t *self, s_job_t *job)
{
    job->running = true;
    self->busy++;
    self->ran++;
    const char *ref = json_string_value (json_object_get (job->action, "ref"));
    const char *entry = json_string_value (json_object_get (job->action, "entry_point"));
    if (streq (job->runner, "noop")) {
        s_finish (self, job, "completed", json_object (), 0);
        return;
    }
    if (streq (job->runner, "builtin")) {
        const char *what = entry && *entry
                               ? entry
                               : (ref && strchr (ref, '.') ? strchr (ref, '.') + 1 : "");
        if (streq (what, "echo")) {
            const char *message = s_param_string (job, "message");
            s_finish (self, job, "completed",
                      json_pack ("{s:s, s:s, s:i, s:b}", "stdout", message ? message : "",
                                 "stderr", "", "return_code", 0, "succeeded", 1),
                      0);
        } else if (streq (what, "ask")) {
            //  core.ask: the result asks a person; the executor opens the
            //  inquiry and the execution waits, pending, for the answer
            json_t *p = job->parameters;
            json_t *inquiry = json_pack (
                "{s:O, s:O, s:O, s:O}", "prompt",
                json_object_get (p, "prompt") ?: json_null (), "response_schema",
                json_object_get (p, "schema") ?: json_null (), "assigned_to",
                json_object_get (p, "assignee") ?: json_null (), "timeout_seconds",
                json_object_get (p, "timeout") ?: json_null ());
            s_finish (self, job, "completed", json_pack ("{s:o}", "__inquiry", inquiry),
                      0);
        } else if (streq (what, "sleep")) {
            json_t *seconds = json_object_get (job->parameters, "seconds");
            double s = json_is_number (seconds) ? json_number_value (seconds) : 1;
            if (s < 0)
                s = 0;
            int64_t limit = s_timeout_ms (job);
            job->due = zclock_mono () + (int64_t)(s * 1000.0);
            if ((int64_t)(s * 1000.0) > limit) {
                job->due = zclock_mono () + limit;
                job->cancelled = false;
                json_object_set_new (job->parameters, "__timed_out", json_true ());
            }
            s_report (self, job, "running", NULL, 0);
            job->reported_running = true;
        } else
            s_finish (self, job, "failed",
                      json_pack ("{s:s}", "error", "unknown built-in action"), -1);
        return;
    }
    if (job->confirm) {
        //  A process that acts on the world starts only once the executor
        //  has recorded it running here (execution.start): until then it
        //  may still give it to another worker (PROTOCOL.md, "Confirmed
        //  start"). The slot is taken meanwhile.
        self->ran--; //  counted when it really starts
        s_claim (self, job);
        return;
    }
    job->started_usec = proto_now_usec ();
    if (s_start_process (self, job) == 0) {
        s_report (self, job, "running", NULL, 0);
        job->reported_running = true;
    }
}

//  The executor's answer to a claim: start the process, unless the answer
//  is for another claim than the one we hold (it came after we claimed
//  again) or came too late (see s_claim_lease_ms).
static void
s_start_confirmed (s_worker_t *self, s_job_t *job, int64_t claim_ts)
{
    if (!job->claiming || claim_ts != job->claim_ts)
        return; //  an answer to an earlier claim, or a duplicate
    if (self->suspect || !s_claim_fresh (self, job)) {
        self->stale_starts++;
        zsys_info ("%s: the start of %s came %d ms after its claim: claiming again",
                   self->name, job->id, (int)((zclock_usecs () - job->claim_ts) / 1000));
        s_claim (self, job);
        return;
    }
    job->claiming = false;
    self->ran++;
    job->started_usec = proto_now_usec ();
    if (s_start_process (self, job) == 0)
        job->reported_running = true; //  its claim said running
}

//  The executor refused a claim (the execution was settled or given to
//  another worker meanwhile): free the slot and forget the job, nothing ran.
static void
s_refused (s_worker_t *self, s_job_t *job, const char *reason)
{
    if (!job->claiming)
        return;
    self->refused++;
    zsys_info ("%s: %s not started: %s", self->name, job->id,
               reason && *reason ? reason : "refused by the executor");
    job->running = false;
    job->claiming = false;
    self->busy--;
    if (job->ledgered)
        worker_ledger_end (self->ledger, job->id); //  nothing ran
    zhashx_delete (self->jobs, job->id);
}

static void
s_start_ready (s_worker_t *self)
{
    while (self->busy < self->slots && zlist_size (self->queue)) {
        char *id = (char *)zlist_pop (self->queue);
        s_job_t *job = (s_job_t *)zhashx_lookup (self->jobs, id);
        free (id);
        if (job && !job->running)
            s_start_job (self, job);
    }
}

//  ---------------------------------------------------------------------------
//  Commands from the executor

//  A str field copied as a C string (up to its first NUL, as its JSON form
//  would read): its length, or SIZE_MAX when it is not a str.
static size_t
s_str_field (const msgpack_object *obj, char *out, size_t size)
{
    if (!obj || obj->type != MSGPACK_OBJECT_STR)
        return SIZE_MAX;
    size_t len = strnlen (obj->via.str.ptr, obj->via.str.size);
    if (len < size) {
        memcpy (out, obj->via.str.ptr, len);
        out[len] = 0;
    }
    return len;
}

static int
s_handle_command (void *arg, store_txn_t *txn, proto_envelope_t *command,
                  bus_command_t *info)
{
    s_worker_t *self = (s_worker_t *)arg;
    const char *type = proto_envelope_type (command);
    //  Read from the msgpack form: the payload must have a JSON form (as
    //  before), but only what a job needs is converted, and nothing for noop
    const msgpack_object *payload = proto_envelope_payload_object (command);
    if (!payload)
        return bus_command_reject (info, "bad_request",
                                   "payload: out of memory unpacking");
    proto_error_t error;
    if (proto_json_check (payload, "payload", &error) != PROTO_OK) {
        //  Rare: convert to get the message the conversion gives (its path)
        json_t *json = proto_json_from_msgpack (payload, "payload", &error);
        if (!json)
            return bus_command_reject (info, "bad_request", "payload: %s", error.message);
        json_decref (json);
    }
    char id[PROTO_UUID_STR_SIZE + 8];
    int rc = 0;
    if (streq (type, "worker.reconciled")) {
        //  The executor's answer to a registration: drop what it settled
        //  without us (given to another worker, or ended), then carry on
        const msgpack_object *drop = proto_map_get (payload, "drop");
        for (uint32_t i = 0;
             drop && drop->type == MSGPACK_OBJECT_ARRAY && i < drop->via.array.size;
             i++) {
            if (s_str_field (&drop->via.array.ptr[i], id, sizeof id) >= sizeof id)
                continue;
            s_job_t *job = (s_job_t *)zhashx_lookup (self->jobs, id);
            if (!job)
                continue;
            zsys_info ("%s: dropping %s: the executor settled it without us", self->name,
                       id);
            job->cancelled = true;
            job->dropped = true;
            if (job->claiming)
                s_refused (self, job, "settled without this worker"); //  never started
            else if (job->process)
                worker_process_cancel (job->process);
            else if (job->running)
                s_finish (
                    self, job, "cancelled",
                    json_pack ("{s:s}", "error", "dropped: settled without this worker"),
                    -1);
            else
                zhashx_delete (self->jobs, id); //  not started: nothing to report
        }
        self->suspect = false;
        worker_ledger_settled (self->ledger); //  it has what the last one left
        //  Claims the executor may not have answered (it restarted, or the
        //  answer came too late): claim again, it answers each
        for (s_job_t *job = (s_job_t *)zhashx_first (self->jobs); job;
             job = (s_job_t *)zhashx_next (self->jobs))
            if (job->claiming)
                s_claim (self, job);
        return 0;
    }
    if (streq (type, "worker.resync")) {
        s_register (self); //  the executor lost track of us: say who we are again
        return 0;
    }
    if (s_str_field (proto_map_get (payload, "execution"), id, sizeof id) >= sizeof id)
        rc = bus_command_reject (info, "bad_request", "execution: expected an id string");
    else if (streq (type, "execution.dispatch")) {
        const msgpack_object *action = proto_map_get (payload, "action");
        char runner[32];
        size_t runner_len =
            s_str_field (proto_map_get (action, "runner_type"), runner, sizeof runner);
        const msgpack_object *parameters = proto_map_get (payload, "parameters");
        if (!action || action->type != MSGPACK_OBJECT_MAP || runner_len >= sizeof runner)
            rc = bus_command_reject (info, "bad_request",
                                     "action: expected a map with a runner_type");
        else if (parameters && parameters->type != MSGPACK_OBJECT_MAP)
            rc = bus_command_reject (info, "bad_request", "parameters: expected a map");
        else if (zhashx_lookup (self->jobs, id))
            self->duplicates++; //  already here: the executor re-sent it
        else if (zhashx_lookup (self->finished, id)) {
            self->duplicates++; //  done here: it gets the outcome again
            s_resend (self, id, (s_done_t *)zhashx_lookup (self->finished, id));
        } else if (self->draining)
            s_return (self, json_pack ("[s]", id)); //  sent before it heard we stop
        else {
            s_job_t *job = (s_job_t *)zmalloc (sizeof (s_job_t));
            memcpy (job->id, id, strlen (id) + 1);
            memcpy (job->runner, runner, runner_len + 1);
            if (!streq (runner, "noop")) {
                job->action = proto_json_from_msgpack (action, "action", NULL);
                job->parameters =
                    parameters ? proto_json_from_msgpack (parameters, "parameters", NULL)
                               : json_object ();
                const msgpack_object *secret = proto_map_get (payload, "secret");
                job->secret =
                    secret ? proto_json_from_msgpack (secret, "secret", NULL) : NULL;
                //  A process can act on the world: it starts only when the
                //  executor confirms (idempotent or not: a dispatch alone,
                //  without an execution the executor recorded running here,
                //  runs nothing). Builtins act on nothing outside attune.
                job->confirm = !streq (runner, "builtin");
            }
            zhashx_insert (self->jobs, id, job);
            zlist_append (self->queue, strdup (id));
        }
    } else if (streq (type, "execution.start")) {
        s_job_t *job = (s_job_t *)zhashx_lookup (self->jobs, id);
        const msgpack_object *claim = proto_map_get (payload, "claim");
        if (job && claim &&
            (claim->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
             claim->type == MSGPACK_OBJECT_NEGATIVE_INTEGER))
            s_start_confirmed (self, job, claim->via.i64);
    } else if (streq (type, "execution.refused")) {
        s_job_t *job = (s_job_t *)zhashx_lookup (self->jobs, id);
        char reason[256] = "";
        s_str_field (proto_map_get (payload, "reason"), reason, sizeof reason);
        if (job)
            s_refused (self, job, reason);
    } else if (streq (type, "execution.cancel")) {
        s_job_t *job = (s_job_t *)zhashx_lookup (self->jobs, id);
        if (job) {
            job->cancelled = true;
            if (job->process)
                worker_process_cancel (job->process);
            else
                s_finish (self, job, "cancelled",
                          json_pack ("{s:s}", "error", "cancelled"), -1);
        }
    } else
        rc = bus_command_reject (info, "unknown_type", "a worker does not take '%s'",
                                 type);
    return rc;
}

static void
s_on_peer (void *arg, const char *peer, bus_peer_event_t event)
{
    s_worker_t *self = (s_worker_t *)arg;
    if (event == BUS_PEER_UP) {
        self->connected = true;
        s_register (self); //  the executor (re)appeared: tell it who we are
    }
}

//  ---------------------------------------------------------------------------
//  Timers: processes and builtin sleeps

static int
s_jobs_timeout (s_worker_t *self)
{
    int timeout = -1;
    if (self->busy == 0)
        return timeout; //  no process, no sleep, no claim: those take a slot
    int64_t now = zclock_mono ();
    for (s_job_t *job = (s_job_t *)zhashx_first (self->jobs); job;
         job = (s_job_t *)zhashx_next (self->jobs)) {
        int t = -1;
        if (job->process)
            t = worker_process_timeout (job->process);
        else if (job->claiming) {
            //  Claimed again at the lease's end, when the executor can hear
            //  us (until then the link's own timers wake the loop)
            if (self->suspect || !bus_link_peer_alive (self->link))
                continue;
            int64_t left =
                s_claim_lease_ms (self) - (zclock_usecs () - job->claim_ts) / 1000;
            t = left > 0 ? (int)left : 0;
        } else if (job->running && job->due)
            t = job->due > now ? (int)(job->due - now) : 0;
        if (t >= 0 && (timeout < 0 || t < timeout))
            timeout = t;
    }
    return timeout;
}

static void
s_jobs_tick (s_worker_t *self)
{
    if (self->busy == 0)
        return; //  no process, no sleep, no claim: those take a slot
    int64_t now = zclock_mono ();
    zlist_t *done = zlist_new ();
    int64_t lease_us = s_claim_lease_ms (self) * 1000, now_us = zclock_usecs ();
    bool heard = !self->suspect && bus_link_peer_alive (self->link);
    for (s_job_t *job = (s_job_t *)zhashx_first (self->jobs); job;
         job = (s_job_t *)zhashx_next (self->jobs)) {
        //  A claim unanswered for its lease (the executor restarted after
        //  recording it, or the start was lost): claim again
        if (job->claiming && heard && now_us - job->claim_ts >= lease_us)
            s_claim (self, job);
        if ((job->process && worker_process_poll (job->process)) ||
            (!job->process && job->running && job->due && job->due <= now))
            zlist_append (done, job);
    }
    for (s_job_t *job = (s_job_t *)zlist_first (done); job;
         job = (s_job_t *)zlist_next (done)) {
        if (job->process)
            s_process_done (self, job);
        else if (json_object_get (job->parameters, "__timed_out"))
            s_finish (self, job, "timeout", json_pack ("{s:s}", "error", "timed out"),
                      -1);
        else
            s_finish (self, job, "completed", json_object (), 0);
    }
    zlist_destroy (&done);
}

//  ---------------------------------------------------------------------------
//  Actor

static json_t *
s_pipe_status (void *arg)
{
    s_worker_t *self = (s_worker_t *)arg;
    json_t *status = json_pack (
        "{s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", self->name, "slots",
        self->slots, "busy", self->busy, "queued", (json_int_t)zlist_size (self->queue),
        "ran", (json_int_t)self->ran, "completed", (json_int_t)self->completed, "failed",
        (json_int_t)self->failed, "timeouts", (json_int_t)self->timeouts, "cancelled",
        (json_int_t)self->cancelled, "duplicates", (json_int_t)self->duplicates);
    json_object_set_new (status, "draining", json_boolean (self->draining));
    json_object_set_new (status, "claims", json_integer ((json_int_t)self->claims));
    json_object_set_new (status, "refused", json_integer ((json_int_t)self->refused));
    json_object_set_new (status, "resent", json_integer ((json_int_t)self->resent));
    json_object_set_new (status, "stale_starts",
                         json_integer ((json_int_t)self->stale_starts));
    json_object_set_new (status, "returned", json_integer ((json_int_t)self->returned));
    return status;
}

//  DRAIN grace_ms: answered DRAINED once nothing runs or the grace is over
//  (what still runs then is left to the executor to settle).
static int
s_pipe_command (void *arg, const char *command, zmsg_t *msg)
{
    if (!streq (command, "DRAIN"))
        return -1;
    char *grace = zmsg_popstr (msg);
    s_drain ((s_worker_t *)arg, grace ? atoi (grace) : 10000);
    zstr_free (&grace);
    return 0;
}

static void
s_job_destructor (void **item_p)
{
    s_job_destroy ((s_job_t **)item_p);
}

static void
s_worker_destroy (s_worker_t **self_p)
{
    s_worker_t *self = *self_p;
    if (!self)
        return;
    actor_loop_destroy (&self->loop);
    free (self->watched);
    zhashx_destroy (&self->jobs);        //  kills what still runs
    worker_guard_destroy (&self->guard); //  then: all done
    if (self->queue) {
        char *id;
        while ((id = (char *)zlist_pop (self->queue)))
            free (id);
        zlist_destroy (&self->queue);
    }
    if (self->outbox) {
        proto_envelope_t *envelope;
        while ((envelope = (proto_envelope_t *)zlist_pop (self->outbox)))
            proto_envelope_destroy (&envelope);
        zlist_destroy (&self->outbox);
    }
    zhashx_destroy (&self->finished);
    zlist_destroy (&self->kept_order); //  borrowed from finished
    if (self->finished_order) {
        char *id;
        while ((id = (char *)zlist_pop (self->finished_order)))
            free (id);
        zlist_destroy (&self->finished_order);
    }
    bus_link_destroy (&self->link);
    bus_inbox_destroy (&self->inbox);
    worker_ledger_destroy (&self->ledger);
    msgpack_sbuffer_destroy (&self->report);
    msgpack_sbuffer_destroy (&self->last);
    free (self);
    *self_p = NULL;
}

static void
s_on_ack (void *arg, const uint8_t id[PROTO_UUID_SIZE])
{
    worker_ledger_acked (((s_worker_t *)arg)->ledger, id);
}

//  The ledger, <data_dir>/worker/<name>.ledger: before anything runs here,
//  what a previous instance left running is ended (worker_ledger.h). A
//  worker without a data directory keeps none (then the executor settles a
//  restart as lost); one whose ledger cannot be written does not start.
static int
s_open_ledger (s_worker_t *self, const actor_config_t *config)
{
    if (!config->data_dir)
        return 0;
    char dir[1024], name[256], message[1200];
    snprintf (dir, sizeof dir, "%s/worker", config->data_dir);
    snprintf (name, sizeof name, "%s", self->name); //  a file name: [A-Za-z0-9_.-]
    for (char *p = name; *p; p++)
        if (!isalnum ((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            *p = '_';
    self->ledger =
        worker_ledger_new (dir, name, S_LEDGER_WAIT_MS, message, sizeof message);
    if (!self->ledger) {
        zsys_error ("%s: ledger %s", self->name, message);
        return -1;
    }
    size_t never = json_array_size (worker_ledger_never_started (self->ledger));
    size_t stopped = json_array_size (worker_ledger_stopped (self->ledger));
    if (never || stopped)
        zsys_warning ("%s: the previous instance left %zu claimed, never started, and "
                      "%zu started (their processes are gone%s)",
                      self->name, never, stopped,
                      worker_ledger_survivors (self->ledger) ? ", but not all" : "");
    return 0;
}

//  The guard (worker_guard.h) ends what our actions forked as soon as this
//  process dies: a worker that runs processes starts one.
static void
s_open_guard (s_worker_t *self)
{
    if (!strstr (self->runtimes, "shell") && !strstr (self->runtimes, "python"))
        return;
    char message[1200];
    self->guard = worker_guard_new (NULL, self->name, message, sizeof message);
    if (!self->guard)
        zsys_warning ("%s: no guard (%s): what actions fork outlives a killed worker "
                      "until a worker of this name starts again",
                      self->name, message);
}

static int
s_start (s_worker_t *self, const actor_config_t *config)
{
    msgpack_sbuffer_init (&self->report);
    msgpack_sbuffer_init (&self->last);
    char host[240];
    actor_host (config, host, sizeof host);
    if (config->worker_name && *config->worker_name)
        snprintf (self->name, sizeof self->name, "%s", config->worker_name);
    else
        snprintf (self->name, sizeof self->name, "worker@%s", host);
    snprintf (self->source, sizeof self->source, "%s", self->name);
    snprintf (self->runtimes, sizeof self->runtimes, "%s",
              config->runtimes && *config->runtimes ? config->runtimes : S_RUNTIMES);
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    self->slots = config->worker_slots > 0 ? config->worker_slots
                                           : (int)(cores > 0 ? cores * 2 : 2);
    self->instance = ((uint64_t)randof (0x7fffffff) << 32) ^ (uint64_t)zclock_usecs ();
    self->jobs = zhashx_new ();
    self->queue = zlist_new ();
    self->outbox = zlist_new ();
    self->finished = zhashx_new ();
    self->finished_order = zlist_new ();
    self->kept_order = zlist_new ();
    if (!self->jobs || !self->queue || !self->outbox || !self->finished ||
        !self->finished_order || !self->kept_order)
        return -1;
    zhashx_set_destructor (self->finished, s_done_destroy);
    zhashx_set_destructor (self->jobs, s_job_destructor);

    char endpoint_name[300];
    //  Endpoint names allow [A-Za-z0-9_.-]: "worker@host" becomes "worker.worker_host"
    snprintf (endpoint_name, sizeof endpoint_name, "worker.%s", self->name);
    for (char *p = endpoint_name; *p; p++)
        if (!isalnum ((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            *p = '_';
    //  A topology that does not name this worker's endpoint may give every
    //  worker of the process one address: `worker` (deploy/worker.cfg)
    if (!bus_topology_listed (config->topology, endpoint_name) &&
        bus_topology_listed (config->topology, "worker"))
        snprintf (endpoint_name, sizeof endpoint_name, "worker");
    const char *bind = bus_topology_bind (config->topology, endpoint_name);
    const char *connect = bus_topology_connect (config->topology, endpoint_name);
    if (!bind || !connect) {
        zsys_error ("%s: no endpoint for '%s'", self->name, endpoint_name);
        return -1;
    }
    bus_link_config_t link_config;
    actor_link_config (config, &link_config);
    self->silence_ms = (int64_t)link_config.liveness * link_config.heartbeat_ms;
    self->heartbeat_ms = link_config.heartbeat_ms;
    //  Commands from the executor only: over CURVE its key alone gets in,
    //  checked at the handshake and on every message (bus_link.h)
    link_config.executor_only = true;
    self->inbox = bus_inbox_new (bind, self->name, NULL, &link_config);
    if (!self->inbox) {
        zsys_error ("%s: cannot bind %s", self->name, bind);
        return -1;
    }
    //  With tcp://*:0 style binds the resolved endpoint is what peers need
    snprintf (self->endpoint, sizeof self->endpoint, "%s",
              strstr (connect, ":*") ? bus_inbox_endpoint (self->inbox) : connect);
    self->link =
        bus_link_new (bus_topology_connect (config->topology, "executor.commands"),
                      self->name, &link_config);
    if (!self->link)
        return -1;
    bus_link_set_peer_handler (self->link, s_on_peer, self);
    bus_link_set_ack_handler (self->link, s_on_ack, self);
    if (s_open_ledger (self, config) != 0)
        return -1;
    s_open_guard (self);
    s_register (self);
    zsys_info ("%s: %d slots, runtimes %s, endpoint %s", self->name, self->slots,
               self->runtimes, self->endpoint);
    return 0;
}

//  Silent longer than the executor waits (a partition, or this process
//  stopped): it may have given our work to others. Checked before reading
//  what waits on the link, which would look fresh, and every turn.
static void
s_check_silence (s_worker_t *self)
{
    if (self->connected && !self->suspect &&
        proto_now_usec () - bus_link_last_heard_usec (self->link) >
            self->silence_ms * 1000) {
        self->suspect = true;
        zsys_warning ("%s: the executor was silent for %d ms: starting nothing until "
                      "it has our registration",
                      self->name, (int)self->silence_ms);
        s_register (self);
    }
}

static void
s_on_link (void *arg, void *unused)
{
    s_worker_t *self = (s_worker_t *)arg;
    s_check_silence (self);
    bus_link_handle (self->link);
}

static void
s_on_inbox (void *arg, void *unused)
{
    s_worker_t *self = (s_worker_t *)arg;
    bus_inbox_process (self->inbox, s_handle_command, self);
}

static void
s_on_process (void *self, void *job, int fd, short revents)
{
    worker_process_handle (((s_job_t *)job)->process, fd);
}

//  Before each poll: the running processes' descriptors (three each at
//  most); the loop registers them again only when they changed. Only
//  running jobs have processes (busy counts them): a zhashx walk visits
//  every bucket.
static void
s_before (void *arg)
{
    s_worker_t *self = (s_worker_t *)arg;
    size_t n = 0;
    for (s_job_t *job = self->busy ? (s_job_t *)zhashx_first (self->jobs) : NULL; job;
         job = (s_job_t *)zhashx_next (self->jobs)) {
        if (!job->process)
            continue;
        int fds[3];
        worker_process_fds (job->process, fds);
        for (int i = 0; i < 3; i++) {
            if (fds[i] < 0)
                continue;
            if (n == self->watch_capacity) {
                self->watch_capacity =
                    self->watch_capacity ? self->watch_capacity * 2 : 48;
                self->watched = (actor_loop_fd_t *)realloc (
                    self->watched, self->watch_capacity * sizeof (actor_loop_fd_t));
                assert (self->watched);
            }
            self->watched[n++] = (actor_loop_fd_t){
                fds[i], (short)(i == 0 ? ZMQ_POLLOUT : ZMQ_POLLIN), job};
        }
    }
    int rc =
        actor_loop_set_fds (self->loop, S_RANK_PROCESSES, self->watched, n, s_on_process);
    assert (rc == 0);
    (void)rc;
}

static int
s_timeout (void *arg)
{
    s_worker_t *self = (s_worker_t *)arg;
    int timeout = bus_link_timeout (self->link);
    int t = bus_inbox_timeout (self->inbox);
    if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    t = s_jobs_timeout (self);
    if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    if (self->draining && !self->drained_reported && (timeout < 0 || timeout > 50))
        timeout = 50; //  the grace, and the last acks
    if (zlist_size (self->outbox) && (timeout < 0 || timeout > 10))
        timeout = 10; //  waiting for window: look again soon
    return timeout;
}

static void
s_after (void *arg)
{
    s_worker_t *self = (s_worker_t *)arg;
    s_check_silence (self);
    s_jobs_tick (self);
    //  Nothing new starts while draining, or while the executor cannot
    //  hear us: after heartbeat x liveness it gives what waits here to
    //  another worker, and tells us to drop it when we are back
    //  (and not when it has been quiet for two heartbeats: the executor
    //  gives up at heartbeat x liveness, and a job started at that edge
    //  could be given to another worker as well)
    bool quiet = proto_now_usec () - bus_link_last_heard_usec (self->link) >
                 self->heartbeat_ms * 2000;
    if (!self->draining && !self->suspect && !quiet && bus_link_peer_alive (self->link))
        s_start_ready (self);
    bus_link_tick (self->link);
    bus_inbox_tick (self->inbox);
    s_flush (self);
    if (self->draining && !self->drained_reported &&
        ((self->busy == 0 && zlist_size (self->outbox) == 0 &&
          bus_link_unacked (self->link) == 0) ||
         zclock_mono () >= self->drain_until)) {
        self->drained_reported = true;
        zstr_sendf (self->pipe, "DRAINED %d", self->busy);
    }
}

//  The state, its sockets, ledger and loop; NULL on failure (logged).
static s_worker_t *
s_worker_new (zsock_t *pipe, const actor_config_t *config)
{
    s_worker_t *self = (s_worker_t *)zmalloc (sizeof (s_worker_t));
    self->pipe = pipe;
    self->loop = actor_loop_new (pipe, "worker", self);
    if (!self->loop || !config || s_start (self, config) != 0 ||
        actor_loop_reader (self->loop, bus_link_sock (self->link), S_RANK_LINK, s_on_link,
                           NULL) != 0 ||
        actor_loop_reader (self->loop, bus_inbox_sock (self->inbox), S_RANK_INBOX,
                           s_on_inbox, NULL) != 0) {
        s_worker_destroy (&self);
        return NULL;
    }
    actor_loop_set_status (self->loop, s_pipe_status);
    actor_loop_set_command (self->loop, s_pipe_command);
    actor_loop_set_timeout (self->loop, s_timeout);
    actor_loop_set_before (self->loop, s_before);
    actor_loop_set_after (self->loop, s_after);
    return self;
}

//  Not stopped by SIGINT (actor_loop): attuned asks for a drain (DRAIN),
//  then sends $TERM.
void
worker_actor (zsock_t *pipe, void *args)
{
    s_worker_t *self = s_worker_new (pipe, (const actor_config_t *)args);
    zsock_signal (pipe, self ? 0 : 1);
    if (self) {
        actor_loop_run (self->loop);
        //  Let the last reports out before leaving
        s_flush (self);
        bus_link_flush (self->link, 200);
    }
    s_worker_destroy (&self);
}
