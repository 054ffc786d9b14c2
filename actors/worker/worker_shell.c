/*  worker_shell: command lines and results of the local shell runners. See
    worker_shell.h. */
#include "actors/worker/worker_shell.h"
#include "actors/registry/registry_runners.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_ARGS 1024

typedef struct {
    char **argv;
    size_t count;
    bool failed;
} s_args_t;

static void
s_add (s_args_t *a, char *owned)
{
    if (!owned || a->count >= S_MAX_ARGS) {
        a->failed = true;
        free (owned);
        return;
    }
    a->argv[a->count++] = owned;
}

static char **
s_finish (s_args_t *a, char *message, size_t size)
{
    if (a->failed) {
        snprintf (message, size,
                  "the command line has more than %d words or "
                  "the worker is out of memory",
                  S_MAX_ARGS);
        worker_shell_free (a->argv);
        return NULL;
    }
    return a->argv;
}

void
worker_shell_free (char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free (argv[i]);
    free (argv);
}

//  The sudo password, when the job runs under sudo with one
static const char *
s_sudo_password (const json_t *parameters)
{
    const char *password =
        json_is_true (json_object_get (parameters, "sudo"))
            ? json_string_value (json_object_get (parameters, "sudo_password"))
            : NULL;
    return password && *password ? password : NULL;
}

//  sudo in front, as StackStorm: `sudo -E -- ...`; with a password, `sudo
//  -S -p ''` reads it from the first line of stdin (worker_shell_stdin):
//  never in argv, the environment or a log.
static void
s_sudo (s_args_t *a, const json_t *parameters)
{
    s_add (a, strdup ("sudo"));
    if (s_sudo_password (parameters)) {
        s_add (a, strdup ("-S"));
        s_add (a, strdup ("-p"));
        s_add (a, strdup (""));
    }
    s_add (a, strdup ("-E"));
    s_add (a, strdup ("--"));
}

char *
worker_shell_stdin (const json_t *parameters, const char *input, size_t *size)
{
    const char *password = s_sudo_password (parameters);
    if (!password || strchr (password, '\n'))
        return NULL;
    size_t length = strlen (password), rest = input ? strlen (input) : 0;
    char *data = (char *)malloc (length + 1 + rest + 1);
    if (!data)
        return NULL;
    memcpy (data, password, length);
    data[length] = '\n';
    memcpy (data + length + 1, input ? input : "", rest);
    data[length + 1 + rest] = 0;
    *size = length + 1 + rest;
    return data;
}

char **
worker_shell_cmd_argv (const json_t *parameters, const char *entry_point, char *message,
                       size_t size)
{
    const char *cmd = json_string_value (json_object_get (parameters, "cmd"));
    const char *text = cmd && *cmd ? cmd : entry_point;
    if (!text || !*text) {
        snprintf (message, size, "local-shell-cmd: no 'cmd' to run");
        return NULL;
    }
    s_args_t a = {calloc (S_MAX_ARGS + 1, sizeof (char *)), 0, false};
    if (!a.argv) {
        snprintf (message, size, "out of memory");
        return NULL;
    }
    if (json_is_true (json_object_get (parameters, "sudo")))
        s_sudo (&a, parameters);
    s_add (&a, strdup ("bash"));
    s_add (&a, strdup ("-c"));
    s_add (&a, strdup (text));
    return s_finish (&a, message, size);
}

//  A value as Python's str() would print it for a named argument (arrays
//  and objects as compact JSON: attune's, Python prints its repr).
static char *
s_text (const json_t *value)
{
    if (json_is_string (value))
        return strdup (json_string_value (value));
    if (json_is_true (value))
        return strdup ("True");
    if (json_is_false (value))
        return strdup ("False");
    if (json_is_real (value)) {
        //  the shortest text that reads back the same, as Python's repr
        char buffer[64];
        double d = json_real_value (value);
        snprintf (buffer, sizeof buffer, "%.15g", d);
        if (strtod (buffer, NULL) != d)
            snprintf (buffer, sizeof buffer, "%.17g", d);
        if (!strpbrk (buffer, ".eEn"))
            strcat (buffer, ".0");
        return strdup (buffer);
    }
    return json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
}

//  A positional argument as StackStorm serialises it.
static char *
s_positional (const json_t *value)
{
    if (!value || json_is_null (value))
        return strdup ("");
    if (json_is_boolean (value))
        return strdup (json_is_true (value) ? "1" : "0");
    if (json_is_array (value)) {
        char *joined = strdup ("");
        size_t i;
        json_t *item;
        json_array_foreach (value, i, item)
        {
            char *one = s_text (item);
            char *next = zsys_sprintf ("%s%s%s", joined ? joined : "", i ? "," : "",
                                       one ? one : "");
            free (one);
            zstr_free (&joined);
            joined = next;
        }
        return joined;
    }
    if (json_is_object (value))
        return json_object_size (value) ? json_dumps (value, JSON_COMPACT) : strdup ("");
    return s_text (value);
}

static bool
s_listed (const json_t *names, const char *name)
{
    size_t i;
    json_t *item;
    json_array_foreach (names, i, item)
    {
        if (json_is_string (item) && !strcmp (json_string_value (item), name))
            return true;
    }
    return false;
}

char **
worker_shell_script_argv (const char *runner, const char *script,
                          const json_t *parameters, const json_t *positional,
                          char *message, size_t size)
{
    s_args_t a = {calloc (S_MAX_ARGS + 1, sizeof (char *)), 0, false};
    if (!a.argv) {
        snprintf (message, size, "out of memory");
        return NULL;
    }
    const char *op = json_string_value (json_object_get (parameters, "kwarg_op"));
    if (!op)
        op = "--";
    if (json_is_true (json_object_get (parameters, "sudo")))
        s_sudo (&a, parameters);
    s_add (&a, strdup (script));
    const char *name;
    json_t *value;
    json_object_foreach ((json_t *)parameters, name, value)
    {
        if (registry_runners_is_runner_param (runner, name) ||
            s_listed (positional, name) || json_is_null (value) ||
            json_is_false (value) ||
            (json_is_string (value) && !*json_string_value (value)))
            continue;
        if (json_is_true (value)) {
            s_add (&a, zsys_sprintf ("%s%s", op, name));
            continue;
        }
        char *text = s_text (value);
        s_add (&a, text ? zsys_sprintf ("%s%s=%s", op, name, text) : NULL);
        free (text);
    }
    size_t i;
    json_array_foreach (positional, i, value)
    {
        if (json_is_string (value))
            s_add (&a, s_positional (
                           json_object_get (parameters, json_string_value (value))));
    }
    return s_finish (&a, message, size);
}

//  A captured stream as StackStorm reports it: its last "\n" (then "\r")
//  removed, parsed when it is JSON.
static json_t *
s_stream (const char *data, size_t size, bool truncated)
{
    if (!data)
        data = "";
    if (size && data[size - 1] == '\n')
        size--;
    if (size && data[size - 1] == '\r')
        size--;
    if (size && !truncated) {
        json_t *parsed = json_loadb (data, size, JSON_DECODE_ANY, NULL);
        if (parsed)
            return parsed;
    }
    json_t *text = json_stringn (data, size);
    //  Output that is not valid UTF-8 has no JSON string form: say so
    return text ? text : json_sprintf ("<%zu bytes, not UTF-8>", size);
}

json_t *
worker_shell_result (const worker_result_t *r, double timeout_s)
{
    int code = r->timed_out ? -9 : r->exited ? r->exit_code : -r->signal;
    bool succeeded = r->exited && r->exit_code == 0 && !r->timed_out;
    json_t *result = json_pack ("{s:b, s:b, s:i}", "failed", !succeeded, "succeeded",
                                succeeded, "return_code", code);
    json_object_set_new (result, "stdout",
                         s_stream (r->out, r->out_size, r->out_truncated));
    json_object_set_new (result, "stderr",
                         s_stream (r->err, r->err_size, r->err_truncated));
    if (r->out_truncated)
        json_object_set_new (result, "stdout_truncated", json_true ());
    if (r->err_truncated)
        json_object_set_new (result, "stderr_truncated", json_true ());
    if (r->timed_out)
        json_object_set_new (
            result, "error",
            json_sprintf ("Action failed to complete in %g seconds", timeout_s));
    return result;
}
