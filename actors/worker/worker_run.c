/*  worker_run: running a job: builtins, processes, claims
    (worker_internal.h). */
#include "actors/worker/worker_internal.h"
#include "actors/worker/worker_http.h"
#include "actors/worker/worker_ssh.h"
#include "actors/worker/worker_python.h"
#include "actors/worker/worker_shell.h"
#include "actors/worker/worker_st2.h"
#include "actors/registry/registry_runners.h"

//  ---------------------------------------------------------------------------
//  Running a job

static const char *
s_param_string (worker_job_t *job, const char *name)
{
    return json_string_value (json_object_get (job->parameters, name));
}

static int64_t
s_timeout_ms (worker_job_t *job)
{
    //  The dispatch's timeout (a policy's, or the action's when it has no
    //  `timeout` parameter), else the `timeout` parameter
    json_t *value = json_object_get (job->action, "timeout");
    if (!json_is_number (value) || json_number_value (value) <= 0)
        value = json_object_get (job->parameters, "timeout");
    double seconds = json_is_number (value) ? json_number_value (value) : 0;
    if (seconds <= 0)
        seconds = S_DEFAULT_TIMEOUT_S;
    return (int64_t)(seconds * 1000.0);
}

//  Environment: a minimal base, ATTUNE_EXECUTION_ID, the `env` parameter
//  (an object) and ATTUNE_PARAM_<NAME> for every parameter. Caller frees.
static char **
s_environment (worker_t *self, worker_job_t *job)
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
    if (job->python) //  before the parameters, which may fill the rest
        n = worker_python_environment (job, envp, n, S_MAX_ENV);
    json_object_foreach (job->parameters, key, value)
    {
        if (n >= S_MAX_ENV)
            break;
        if (streq (key, "sudo_password"))
            continue; //  sudo reads it on stdin (worker_shell_stdin)
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
s_script_path (worker_job_t *job, const char *entry)
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

//  What a process job runs: `argv` (room for 4), or *words (the shell
//  runners' argv, worker_shell.h), with *script allocated. 0, or -1 with
//  `message`.
static int
s_command_line (worker_job_t *job, char *argv[4], char ***words, char **script,
                char *message, size_t size)
{
    const char *entry = json_string_value (json_object_get (job->action, "entry_point"));
    if (streq (job->runner, "local-shell-cmd")) {
        //  StackStorm's: `cmd` with bash -c (worker_shell.h). Values a rule
        //  inserted into it arrive shell-quoted, one word each.
        *words = worker_shell_cmd_argv (job->parameters, entry, message, size);
        return *words ? 0 : -1;
    } else if (streq (job->runner, "local-shell-script") ||
               streq (job->runner, "python-script") || streq (job->runner, "nodejs")) {
        const char *which = entry && *entry ? entry : s_param_string (job, "script");
        *script = s_script_path (job, which);
        if (!*script) {
            snprintf (message, size,
                      "no script to run (entry_point or 'script' parameter)");
            return -1;
        }
        if (streq (job->runner, "python-script"))
            return worker_python_command (job, *script, argv, message, size);
        if (streq (job->runner, "nodejs")) {
            //  node (ATTUNE_NODE names another) runs the script as it is
            const char *node = getenv ("ATTUNE_NODE");
            *words = (char **)calloc (3, sizeof (char *));
            if (*words) {
                (*words)[0] = strdup (node && *node ? node : "node");
                (*words)[1] = strdup (*script);
            }
            if (*words && (*words)[0] && (*words)[1])
                return 0;
            snprintf (message, size, "nodejs: out of memory");
            return -1;
        }
        *words = worker_shell_script_argv (job->runner, *script, job->parameters,
                                           json_object_get (job->action, "positional"),
                                           message, size);
        return *words ? 0 : -1;
    }
    return 0;
}

//  http-request and remote-shell-*: a helper thread (worker_task.h) with
//  copies of the action (pack_dir, entry_point) and parameters.
static worker_task_fn *
s_task_runner (worker_job_t *job)
{
    if (streq (job->runner, "http-request"))
        return worker_http_run;
    if (streq (job->runner, "remote-shell-cmd") ||
        streq (job->runner, "remote-shell-script"))
        return worker_ssh_run;
    return NULL;
}

//  The live output of `job` (its secret values masked), or NULL.
static worker_output_t *
s_output_new (worker_t *self, worker_job_t *job)
{
    worker_output_t *output = worker_output_new (job->id, self->name, self->output_cap);
    if (!output)
        return NULL;
    json_t *values = worker_report_secret_values (job);
    json_array_extend (values, (json_t *)worker_python_secrets (job));
    worker_output_set_secrets (output, values);
    json_decref (values);
    if (worker_python_marker (job)) {
        //  The wrapper's result line (worker_python.h) is the result's
        char *end = zsys_sprintf ("\n%s", worker_python_marker (job));
        worker_output_set_end (output, end);
        zstr_free (&end);
    }
    return output;
}

static int
s_start_task (worker_t *self, worker_job_t *job, worker_task_fn *fn)
{
    json_t *parameters = json_deep_copy (job->parameters);
    json_t *action = json_deep_copy (job->action);
    json_object_set_new (action, "runner_type", json_string (job->runner));
    if (self->ledger && worker_ledger_intent (self->ledger, job->id) != 0) {
        json_decref (parameters);
        json_decref (action);
        worker_report_finish (
            self, job, "failed",
            json_pack ("{s:s}", "error",
                       "not started: the worker cannot write its ledger"),
            -1);
        return -1;
    }
    job->ledgered = job->ledgered || self->ledger;
    //  The remote runners stream what their commands print; http-request
    //  has nothing to stream (its body is its result)
    worker_output_t *output = self->output_cap && strstr (job->runner, "remote")
                                  ? s_output_new (self, job)
                                  : NULL;
    job->task = worker_task_start (fn, &parameters, &action, self->tasks_endpoint,
                                   job->id, &output);
    if (!job->task) {
        worker_report_finish (self, job, "failed",
                              json_pack ("{s:s}", "error", "cannot start a thread"), -1);
        return -1;
    }
    return 0;
}

//  A task said it is done (its id on self->tasks): report its result.
void
worker_run_task_done (worker_t *self, worker_job_t *job)
{
    const char *status = "failed";
    json_t *result = worker_task_take (job->task, &status);
    if (!result)
        return; //  not done (cannot happen: it says so after)
    //  The last chunks go before the status
    worker_report_output (self, job, true);
    worker_task_destroy (&job->task);
    if (job->cancelled && !streq (status, "completed"))
        status = "cancelled";
    json_t *code = json_object_get (result, "return_code");
    worker_report_finish (self, job, status, result,
                          streq (status, "completed") ? 0
                          : json_is_integer (code)    ? (int)json_integer_value (code)
                                                      : -1);
}

//  The JSON on the process's stdin: the action's parameters, without its
//  runner's (registry_runners.h). Caller frees.
static char *
s_input (worker_job_t *job)
{
    json_t *own = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach (job->parameters, key, value)
    {
        if (!registry_runners_is_runner_param (job->runner, key))
            json_object_set (own, key, value);
    }
    char *input = json_dumps (own, JSON_COMPACT);
    json_decref (own);
    return input;
}

//  A read of the process's stdout or stderr: its live output.
static void
s_on_output (void *arg, int stream, const char *data, size_t size)
{
    worker_job_t *job = (worker_job_t *)arg;
    if (job->output)
        worker_output_feed (job->output, stream, data, size, zclock_mono ());
}

static int
s_start_process (worker_t *self, worker_job_t *job)
{
    char *argv[4] = {NULL, NULL, NULL, NULL};
    char **words = NULL; //  a shell runner's argv (worker_shell.h)
    char *script = NULL;
    char message[512] = "";
    //  Secret references become clear values here, in memory only (for the
    //  helper threads' runners too)
    worker_task_fn *task = s_task_runner (job);
    if (worker_secrets_resolve (self->secrets, job->parameters,
                                strstr (job->runner, "shell") != NULL, message,
                                sizeof message) != 0 ||
        (!task &&
         s_command_line (job, argv, &words, &script, message, sizeof message) != 0)) {
        worker_report_finish (self, job, "failed", json_pack ("{s:s}", "error", message),
                              -1);
        return -1;
    }
    if (task)
        return s_start_task (self, job, task);
    char *input = job->python ? worker_python_input (job) : s_input (job);
    size_t input_size = input ? strlen (input) : 0;
    char *with_password =
        words ? worker_shell_stdin (job->parameters, input, &input_size) : NULL;
    if (with_password) {
        free (input);
        input = with_password;
    }
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
                                  .input_size = input ? input_size : 0,
                                  .output_cap = S_OUTPUT_CAP,
                                  .timeout_ms = s_timeout_ms (job),
                                  .on_output = s_on_output,
                                  .output_arg = job};
    if (self->output_cap && !job->output)
        job->output = s_output_new (self, job);
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
    if (input)
        memset (input, 0, input_size); //  it may hold the sudo password
    free (input);
    s_free_strings (envp);
    free (script);
    worker_shell_free (words);
    if (!job->process) {
        worker_report_finish (self, job, "failed", json_pack ("{s:s}", "error", message),
                              -1);
        return -1;
    }
    return 0;
}

//  The result of a python-script process: stdout, stderr, return_code,
//  succeeded, and `result` when stdout is JSON.
static json_t *
s_process_result (const worker_result_t *r, int code)
{
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
    return result;
}

//  A process ended: build the result and report.
void
worker_run_ended (worker_t *self, worker_job_t *job)
{
    worker_report_output (self, job, true); //  the last chunks go before the status
    const worker_result_t *r = worker_process_result (job->process);
    int code = r->exited ? r->exit_code : 128 + r->signal;
    if (job->python) {
        const char *said = "failed";
        json_t *outcome = worker_python_result (job, r, &said);
        worker_report_finish (self, job, said, outcome, code);
        return;
    }
    json_t *result;
    if (streq (job->runner, "local-shell-cmd") ||
        streq (job->runner, "local-shell-script"))
        result = worker_shell_result (r, (double)s_timeout_ms (job) / 1000.0);
    else
        result = s_process_result (r, code);
    const char *status = r->timed_out                     ? "timeout"
                         : r->cancelled || job->cancelled ? "cancelled"
                         : r->exited && r->exit_code == 0 ? "completed"
                                                          : "failed";
    worker_report_finish (self, job, status, result, code);
}

//  How long after its claim a start may still be acted on: short of the
//  executor's heartbeat x liveness by one and a half heartbeats (its
//  silence clock may have started up to a heartbeat before our claim), so a
//  start that waited out a partition is claimed again rather than taken for
//  a fresh one after the executor may have given up on us.
int64_t
worker_run_claim_lease_ms (worker_t *self)
{
    int64_t lease =
        self->wl.silence_ms - self->wl.heartbeat_ms - self->wl.heartbeat_ms / 2;
    return lease > self->wl.heartbeat_ms / 2 ? lease : self->wl.heartbeat_ms / 2;
}

static bool
s_claim_fresh (worker_t *self, worker_job_t *job)
{
    return (zclock_usecs () - job->claim_ts) / 1000 < worker_run_claim_lease_ms (self);
}

//  Report `running` as a claim (with the time, which the start echoes).
void
worker_run_claim (worker_t *self, worker_job_t *job)
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
    worker_report_status (self, job, "running", NULL, 0);
}

//  StackStorm's runners that start no process (worker_st2.h): done here.
static void
s_run_st2 (worker_t *self, worker_job_t *job)
{
    if (streq (job->runner, "inquirer")) {
        worker_report_finish (self, job, "completed",
                              worker_st2_inquirer (job->parameters), 0);
        return;
    }
    char reason[512];
    json_t *result =
        worker_st2_announce (self->topology, self->source, job->id, job->action,
                             job->parameters, reason, sizeof reason);
    worker_report_finish (self, job, result ? "completed" : "failed",
                          result ? result : json_pack ("{s:s}", "error", reason), 0);
}

//  Start the job in a free slot: builtins finish here; processes start, or
//  are claimed first.
void
worker_run_start_job (worker_t *self, worker_job_t *job)
{
    job->running = true;
    self->busy++;
    self->ran++;
    const char *ref = json_string_value (json_object_get (job->action, "ref"));
    const char *entry = json_string_value (json_object_get (job->action, "entry_point"));
    if (streq (job->runner, "noop")) {
        worker_report_finish (self, job, "completed", json_object (), 0);
        return;
    }
    if (streq (job->runner, "inquirer") || streq (job->runner, "announcement")) {
        s_run_st2 (self, job);
        return;
    }
    if (streq (job->runner, "builtin")) {
        const char *what = entry && *entry
                               ? entry
                               : (ref && strchr (ref, '.') ? strchr (ref, '.') + 1 : "");
        if (streq (what, "echo")) {
            const char *message = s_param_string (job, "message");
            worker_report_finish (
                self, job, "completed",
                json_pack ("{s:s, s:s, s:i, s:b, s:b}", "stdout", message ? message : "",
                           "stderr", "", "return_code", 0, "succeeded", 1, "failed", 0),
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
            worker_report_finish (self, job, "completed",
                                  json_pack ("{s:o}", "__inquiry", inquiry), 0);
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
            worker_report_status (self, job, "running", NULL, 0);
            job->reported_running = true;
        } else
            worker_report_finish (self, job, "failed",
                                  json_pack ("{s:s}", "error", "unknown built-in action"),
                                  -1);
        return;
    }
    if (job->confirm) {
        //  A process that acts on the world starts only once the executor
        //  has recorded it running here (execution.start): until then it
        //  may still give it to another worker (PROTOCOL.md, "Confirmed
        //  start"). The slot is taken meanwhile.
        self->ran--; //  counted when it really starts
        worker_run_claim (self, job);
        return;
    }
    job->started_usec = proto_now_usec ();
    if (s_start_process (self, job) == 0) {
        worker_report_status (self, job, "running", NULL, 0);
        job->reported_running = true;
    }
}

//  The executor's answer to a claim: start the process, unless the answer
//  is for another claim than the one we hold (it came after we claimed
//  again) or came too late (see worker_run_claim_lease_ms).
void
worker_run_confirmed (worker_t *self, worker_job_t *job, int64_t claim_ts)
{
    if (!job->claiming || claim_ts != job->claim_ts)
        return; //  an answer to an earlier claim, or a duplicate
    if (self->suspect || !s_claim_fresh (self, job)) {
        self->stale_starts++;
        zsys_info ("%s: the start of %s came %d ms after its claim: claiming again",
                   self->name, job->id, (int)((zclock_usecs () - job->claim_ts) / 1000));
        worker_run_claim (self, job);
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
void
worker_run_refused (worker_t *self, worker_job_t *job, const char *reason)
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

void
worker_run_start_ready (worker_t *self)
{
    while (self->busy < self->slots && zlist_size (self->queue)) {
        char *id = (char *)zlist_pop (self->queue);
        worker_job_t *job = (worker_job_t *)zhashx_lookup (self->jobs, id);
        free (id);
        if (job && !job->running)
            worker_run_start_job (self, job);
    }
}
