/*  worker_python: python-script actions through attune's wrapper
    (worker_python.h). */
#include "actors/worker/worker_python.h"
#include "actors/pack/pack_config.h"
#include "actors/registry/registry_runners.h"

#ifndef ATTUNE_PYTHON_DIR
#define ATTUNE_PYTHON_DIR "python"
#endif

struct _worker_python_t {
    char *interpreter;
    char *wrapper;
    char *script;
    char pack[256];
    char marker[48];
    json_t *config;
    json_t *secrets; //  the config's secret values, masked in the result
};

void
worker_python_destroy (worker_python_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        worker_python_t *self = *self_p;
        free (self->interpreter);
        free (self->wrapper);
        free (self->script);
        json_decref (self->config);
        json_decref (self->secrets);
        free (self);
        *self_p = NULL;
    }
}

const char *
worker_python_dir (void)
{
    const char *dir = getenv ("ATTUNE_PYTHON_PATH");
    return dir && *dir ? dir : ATTUNE_PYTHON_DIR;
}

char *
worker_python_interpreter (const char *pack)
{
    const char *venvs = getenv ("ATTUNE_VIRTUALENVS");
    if (venvs && *venvs && *pack) {
        char *venv = zsys_sprintf ("%s/%s/bin/python3", venvs, pack);
        if (venv && access (venv, X_OK) == 0)
            return venv;
        free (venv);
    }
    const char *python = getenv ("ATTUNE_PYTHON");
    if (python && *python)
        return strdup (python);
    return strdup (access ("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                                                          : "python3");
}

int
worker_python_command (worker_job_t *job, const char *script, char *argv[4],
                       char *message, size_t size)
{
    worker_python_t *self = (worker_python_t *)zmalloc (sizeof (worker_python_t));
    worker_python_destroy (&job->python);
    job->python = self;
    const char *ref = json_string_value (json_object_get (job->action, "ref"));
    const char *dot = ref ? strchr (ref, '.') : NULL;
    snprintf (self->pack, sizeof self->pack, "%.*s", dot ? (int)(dot - ref) : 0,
              dot ? ref : "");
    const char *pack_dir = json_string_value (json_object_get (job->action, "pack_dir"));
    if (pack_dir && *pack_dir && *self->pack &&
        pack_config_load (pack_dir, self->pack, NULL, &self->config, &self->secrets,
                          message, size) != 0)
        return -1; //  the pack's config does not validate: nothing runs
    if (!self->config)
        self->config = json_object ();
    if (!self->secrets)
        self->secrets = json_array ();
    zuuid_t *uuid = zuuid_new ();
    snprintf (self->marker, sizeof self->marker, "%%%%attune-result-%s%%%%",
              zuuid_str (uuid));
    zuuid_destroy (&uuid);
    self->interpreter = worker_python_interpreter (self->pack);
    self->wrapper = zsys_sprintf ("%s/attune_st2/wrapper.py", worker_python_dir ());
    self->script = strdup (script);
    if (!self->interpreter || !self->wrapper || !self->script) {
        snprintf (message, size, "python-script: out of memory");
        return -1;
    }
    argv[0] = self->interpreter;
    argv[1] = self->wrapper;
    argv[2] = NULL;
    return 0;
}

const json_t *
worker_python_secrets (worker_job_t *job)
{
    return job->python ? job->python->secrets : NULL;
}

const char *
worker_python_marker (worker_job_t *job)
{
    return job->python ? job->python->marker : NULL;
}

char *
worker_python_input (worker_job_t *job)
{
    worker_python_t *self = job->python;
    assert (self);
    json_t *log_level = json_object_get (job->parameters, "log_level");
    //  The action's own parameters, and its runner's apart (registry_runners.h):
    //  run() gets those only when it names them, as StackStorm's
    json_t *own = json_object (), *runner = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach (job->parameters, key, value)
    {
        json_object_set (registry_runners_is_runner_param (job->runner, key) ? runner
                                                                             : own,
                         key, value);
    }
    json_t *input = json_pack (
        "{s:s, s:s, s:s, s:s, s:o, s:o, s:O, s:s, s:O}", "entry_point", self->script,
        "action", json_string_value (json_object_get (job->action, "ref")) ?: "", "pack",
        self->pack, "pack_dir",
        json_string_value (json_object_get (job->action, "pack_dir")) ?: "", "parameters",
        own, "runner_parameters", runner, "config", self->config, "marker", self->marker,
        "log_level", log_level ? log_level : json_null ());
    char *text = input ? json_dumps (input, JSON_COMPACT) : NULL;
    json_decref (input);
    return text;
}

int
worker_python_environment (worker_job_t *job, char **envp, int n, int max)
{
    worker_python_t *self = job->python;
    assert (self);
    const char *api = getenv ("ATTUNE_API");
    const char *identity = getenv ("ATTUNE_IDENTITY");
    if (n < max)
        envp[n++] = zsys_sprintf ("PYTHONPATH=%s", worker_python_dir ());
    if (n < max)
        envp[n++] = zsys_sprintf ("ATTUNE_PACK=%s", self->pack);
    if (n < max && api && *api)
        envp[n++] = zsys_sprintf ("ATTUNE_API=%s", api);
    if (n < max && identity && *identity)
        envp[n++] = zsys_sprintf ("ATTUNE_IDENTITY=%s", identity);
    if (n < max)
        envp[n++] = strdup ("PYTHONUNBUFFERED=1"); //  prints and logs in order
    return n;
}

//  Where the marker line starts (the newline before it), or NULL.
static const char *
s_find_marker (const char *out, size_t size, const char *marker)
{
    size_t n = strlen (marker);
    const char *last = NULL;
    const char *p = out;
    const char *end = out + size;
    const char *hit;
    while (p < end && (hit = (const char *)memmem (p, (size_t)(end - p), marker, n))) {
        last = hit;
        p = hit + n;
    }
    if (last && last > out && last[-1] == '\n')
        last--;
    return last;
}

//  A string of process output as JSON, with the secrets masked
static json_t *
s_text (worker_python_t *self, const char *text, size_t size)
{
    size_t masked_size = 0;
    char *masked =
        pack_config_mask_text (text ? text : "", size, self->secrets, &masked_size);
    json_t *value = masked ? json_stringn (masked, masked_size)
                           : json_stringn (text ? text : "", size);
    free (masked);
    return value ? value : json_sprintf ("<%zu bytes, not UTF-8>", size);
}

json_t *
worker_python_result (worker_job_t *job, const worker_result_t *r, const char **status)
{
    worker_python_t *self = job->python;
    assert (self);
    const char *out = r->out ? r->out : "";
    const char *at = s_find_marker (out, r->out_size, self->marker);
    json_t *outcome = NULL;
    size_t stdout_size = r->out_size;
    if (at) {
        stdout_size = (size_t)(at - out);
        const char *json = strstr (at, self->marker) + strlen (self->marker);
        const char *eol = memchr (json, '\n', (size_t)(out + r->out_size - json));
        size_t length = eol ? (size_t)(eol - json) : (size_t)(out + r->out_size - json);
        outcome = json_loadb (json, length, JSON_DECODE_ANY, NULL);
    }
    int code = r->exited ? r->exit_code : 128 + r->signal;
    json_t *value = json_object_get (outcome, "result");
    json_t *masked = pack_config_mask (value ? value : json_null (), self->secrets);
    json_t *result = json_pack ("{s:o, s:i, s:o, s:o}", "result", masked, "exit_code",
                                code, "stdout", s_text (self, out, stdout_size), "stderr",
                                s_text (self, r->err, r->err_size));
    json_t *error = json_object_get (outcome, "error");
    if (json_is_string (error))
        json_object_set_new (result, "error", pack_config_mask (error, self->secrets));
    else if (!outcome && !r->timed_out && !r->cancelled && !job->cancelled)
        json_object_set_new (
            result, "error",
            json_sprintf ("the action ended without a result (exit code %d%s)", code,
                          r->out_truncated ? ", its stdout was truncated" : ""));
    if (r->out_truncated)
        json_object_set_new (result, "stdout_truncated", json_true ());
    if (r->err_truncated)
        json_object_set_new (result, "stderr_truncated", json_true ());
    const char *said = json_string_value (json_object_get (outcome, "status"));
    *status = r->timed_out                     ? "timeout"
              : r->cancelled || job->cancelled ? "cancelled"
              : said && streq (said, "succeeded") && r->exited && r->exit_code == 0
                  ? "completed"
                  : "failed";
    json_decref (outcome);
    return result;
}
