/*  registry_runners: the runner table and parameter inheritance. See
    registry_runners.h. The parameters are StackStorm's (contrib/runners/
    * /runner.yaml), written here as attune's JSON.
*/
#include "actors/registry/registry_runners.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_SUDO                                                                           \
    "\"sudo\": {\"type\": \"boolean\", \"default\": false, \"description\": "            \
    "\"Run the command with sudo.\"},"                                                   \
    "\"sudo_password\": {\"type\": \"string\", \"default\": null, \"secret\": true, "    \
    "\"required\": false, \"description\": \"Password for sudo.\"},"
#define S_KWARG                                                                          \
    "\"kwarg_op\": {\"type\": \"string\", \"default\": \"--\", \"description\": "        \
    "\"Operator in front of keyword arguments (-- or -).\"},"
#define S_ENV                                                                            \
    "\"env\": {\"type\": \"object\", \"description\": \"Environment variables for the "  \
    "command.\"},"
#define S_TIMEOUT(n)                                                                     \
    "\"timeout\": {\"type\": \"integer\", \"default\": " #n ", \"description\": "        \
    "\"Seconds before the action is terminated.\"}"
#define S_SCRIPT_EXTRA                                                                   \
    "\"debug\": {\"type\": \"boolean\", \"default\": false, \"required\": false},"       \
    "\"content_version\": {\"type\": \"string\", \"required\": false},"
#define S_REMOTE                                                                         \
    "\"hosts\": {\"type\": \"string\", \"required\": true, \"description\": "            \
    "\"Comma-separated hosts (host or host:port).\"},"                                   \
    "\"username\": {\"type\": \"string\", \"required\": false},"                         \
    "\"password\": {\"type\": \"string\", \"required\": false, \"secret\": true},"       \
    "\"private_key\": {\"type\": \"string\", \"required\": false, \"secret\": true},"    \
    "\"passphrase\": {\"type\": \"string\", \"required\": false, \"secret\": true},"     \
    "\"port\": {\"type\": \"integer\", \"required\": false},"                            \
    "\"parallel\": {\"type\": \"boolean\", \"default\": false, \"immutable\": true},"    \
    "\"bastion_host\": {\"type\": \"string\", \"required\": false},"                     \
    "\"known_hosts\": {\"type\": \"string\", \"required\": false, \"description\": "     \
    "\"attune's: the known_hosts file host keys are checked against.\"},"                \
    "\"cwd\": {\"type\": \"string\", \"default\": \"/tmp\"},"                            \
    "\"dir\": {\"type\": \"string\", \"default\": \"/tmp\", \"immutable\": true}," S_ENV \
        S_KWARG S_SUDO S_TIMEOUT (60)

typedef struct {
    const char *name;
    registry_runner_state_t state;
    const char *parameters; //  JSON text
} s_runner_t;

static const s_runner_t s_runners[] = {
    {"noop", REGISTRY_RUNNER_AVAILABLE, "{}"},
    {"builtin", REGISTRY_RUNNER_AVAILABLE, "{}"},
    {"local-shell-cmd", REGISTRY_RUNNER_AVAILABLE,
     "{\"cmd\": {\"type\": \"string\", \"description\": \"Command to run with bash "
     "-c.\"}, \"cwd\": {\"type\": \"string\", \"description\": \"Working "
     "directory.\"}," S_ENV S_KWARG S_SUDO S_TIMEOUT (60) "}"},
    {"local-shell-script", REGISTRY_RUNNER_AVAILABLE,
     "{" S_SCRIPT_EXTRA "\"cwd\": {\"type\": \"string\", \"description\": \"Working "
     "directory.\"}," S_ENV S_KWARG S_SUDO S_TIMEOUT (60) "}"},
    {"python-script", REGISTRY_RUNNER_AVAILABLE,
     "{" S_SCRIPT_EXTRA S_ENV "\"log_level\": {\"type\": \"string\", \"default\": "
     "\"DEBUG\", \"enum\": [\"AUDIT\", \"CRITICAL\", \"ERROR\", \"WARNING\", \"INFO\", "
     "\"DEBUG\"]}," S_TIMEOUT (600) "}"},
    //  attune's (StackStorm has none): node runs the entry point, the
    //  parameters as JSON on stdin, the result from JSON on stdout
    {"nodejs", REGISTRY_RUNNER_AVAILABLE, "{" S_ENV S_TIMEOUT (600) "}"},
    //  StackStorm's runner declares these; method, body, params, auth and
    //  timeout are core.http's own (an action declares them with its types)
    {"http-request", REGISTRY_RUNNER_AVAILABLE,
     "{\"url\": {\"type\": \"string\", \"required\": true},"
     "\"headers\": {\"type\": \"object\"}, \"cookies\": {\"type\": \"object\"},"
     "\"username\": {\"type\": \"string\"},"
     "\"password\": {\"type\": \"string\", \"secret\": true},"
     "\"verify_ssl_cert\": {\"type\": \"boolean\", \"default\": true},"
     "\"allow_redirects\": {\"type\": \"boolean\", \"default\": false},"
     "\"http_proxy\": {\"type\": \"string\"}, \"https_proxy\": {\"type\": \"string\"},"
     "\"url_hosts_blacklist\": {\"type\": \"array\", \"required\": false},"
     "\"url_hosts_whitelist\": {\"type\": \"array\", \"required\": false}}"},
    {"remote-shell-cmd", REGISTRY_RUNNER_AVAILABLE,
     "{\"cmd\": {\"type\": \"string\"}," S_REMOTE "}"},
    {"remote-shell-script", REGISTRY_RUNNER_AVAILABLE, "{" S_REMOTE "}"},
    {"inquirer", REGISTRY_RUNNER_AVAILABLE,
     "{\"schema\": {\"type\": \"object\", \"required\": true, \"default\": {\"title\": "
     "\"response_data\", \"type\": \"object\", \"properties\": {\"continue\": "
     "{\"type\": \"boolean\", \"required\": true}}}},"
     "\"route\": {\"type\": \"string\", \"default\": \"\", \"required\": false},"
     "\"roles\": {\"type\": \"array\", \"default\": [], \"required\": false},"
     "\"users\": {\"type\": \"array\", \"default\": [], \"required\": false},"
     "\"ttl\": {\"type\": \"integer\", \"default\": 1440, \"required\": true}}"},
    {"announcement", REGISTRY_RUNNER_AVAILABLE,
     "{\"experimental\": {\"type\": \"boolean\", \"default\": false, \"required\": "
     "true}, \"route\": {\"type\": \"string\", \"default\": \"general\", "
     "\"minLength\": 1, \"maxLength\": 255}}"},
    {"orquesta", REGISTRY_RUNNER_AVAILABLE, "{}"}, //  run by the workflow engine
    {"action-chain", REGISTRY_RUNNER_AVAILABLE, "{}"},
    {"mistral-v2", REGISTRY_RUNNER_LATER, "{}"},
    {"winrm-cmd", REGISTRY_RUNNER_ABSENT, "{}"},
    {"winrm-ps-cmd", REGISTRY_RUNNER_ABSENT, "{}"},
    {"winrm-ps-script", REGISTRY_RUNNER_ABSENT, "{}"},
};
#define S_COUNT (sizeof s_runners / sizeof s_runners[0])

static json_t *s_parsed[S_COUNT];
static char s_available[512];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_init (void)
{
    for (size_t i = 0; i < S_COUNT; i++) {
        json_error_t error;
        s_parsed[i] = json_loads (s_runners[i].parameters, 0, &error);
        if (!s_parsed[i]) {
            fprintf (stderr, "registry_runners: %s: %s\n", s_runners[i].name, error.text);
            abort (); //  the table is code: a programmer error
        }
        if (s_runners[i].state == REGISTRY_RUNNER_AVAILABLE)
            snprintf (s_available + strlen (s_available),
                      sizeof s_available - strlen (s_available), "%s%s",
                      *s_available ? "," : "", s_runners[i].name);
    }
}

static int
s_find (const char *name)
{
    pthread_once (&s_once, s_init);
    for (size_t i = 0; name && i < S_COUNT; i++)
        if (!strcmp (s_runners[i].name, name))
            return (int)i;
    return -1;
}

registry_runner_state_t
registry_runners_state (const char *name)
{
    int i = s_find (name);
    return i < 0 ? REGISTRY_RUNNER_UNKNOWN : s_runners[i].state;
}

const json_t *
registry_runners_parameters (const char *name)
{
    int i = s_find (name);
    return i < 0 ? NULL : s_parsed[i];
}

const char *
registry_runners_available (void)
{
    pthread_once (&s_once, s_init);
    return s_available;
}

bool
registry_runners_is_runner_param (const char *runner, const char *name)
{
    const json_t *params = registry_runners_parameters (runner);
    return params && name && json_object_get (params, name);
}

//  ---------------------------------------------------------------------------
//  Inheritance

static const char *const s_overridable[] = {"default",   "description", "enum",
                                            "immutable", "required",    NULL};

static bool
s_overridable_key (const char *key)
{
    for (const char *const *k = s_overridable; *k; k++)
        if (!strcmp (key, *k))
            return true;
    return false;
}

//  A string default on a boolean or number parameter, as StackStorm reads it.
static json_t *
s_from_text (const char *text, const char *type)
{
    if (!strcmp (type, "boolean")) {
        if (!strcasecmp (text, "true") || !strcmp (text, "1"))
            return json_true ();
        if (!strcasecmp (text, "false") || !strcmp (text, "0"))
            return json_false ();
        return NULL;
    }
    if (strstr (text, "{{") || strstr (text, "{%"))
        return NULL; //  a template: rendered at run time
    char *end = NULL;
    if (!strcmp (type, "integer")) {
        long long v = strtoll (text, &end, 10);
        return end != text && !*end ? json_integer (v) : NULL;
    }
    if (!strcmp (type, "number")) {
        double v = strtod (text, &end);
        return end != text && !*end ? json_real (v) : NULL;
    }
    return NULL;
}

int
registry_runners_coerce_default (json_t *spec, char *message, size_t size)
{
    const char *type = json_string_value (json_object_get (spec, "type"));
    json_t *value = json_object_get (spec, "default");
    if (!type || !value || json_is_null (value))
        return 0;
    json_t *coerced = NULL;
    if (!strcmp (type, "string") && json_is_integer (value))
        coerced = json_sprintf ("%lld", (long long)json_integer_value (value));
    else if (!strcmp (type, "string") && json_is_real (value))
        coerced = json_sprintf ("%g", json_real_value (value));
    else if (!strcmp (type, "string") && json_is_boolean (value))
        coerced = json_string (json_is_true (value) ? "True" : "False");
    else if (!strcmp (type, "boolean") && json_is_integer (value) &&
             (json_integer_value (value) == 0 || json_integer_value (value) == 1))
        coerced = json_boolean (json_integer_value (value) == 1);
    else if (json_is_string (value))
        coerced = s_from_text (json_string_value (value), type);
    if (!coerced)
        return 0;
    char *before = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
    char *after = json_dumps (coerced, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf (message, size, "default %s coerced to %s %s (StackStorm does the same)",
              before ? before : "?", type, after ? after : "?");
    free (before);
    free (after);
    json_object_set_new (spec, "default", coerced);
    return 1;
}

//  The runner's spec `base` overridden by the action's `own`: a new spec,
//  or NULL with `message` set.
static json_t *
s_override (const char *name, const json_t *base, const json_t *own, char *field,
            size_t field_size, char *message, size_t message_size)
{
    json_t *spec = json_copy ((json_t *)base);
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)own, key, value)
    {
        if (!s_overridable_key (key) &&
            !json_equal (value, json_object_get (base, key))) {
            snprintf (field, field_size, "/%s/%s", name, key);
            snprintf (message, message_size,
                      "parameters.%s.%s: the runner's parameter cannot change its \"%s\" "
                      "(only default, description, enum, immutable, required)",
                      name, key, key);
            json_decref (spec);
            return NULL;
        }
        json_object_set (spec, key, value);
    }
    return spec;
}

//  Coerce the default of `spec` (a new spec, or shared: copied first).
static json_t *
s_coerced (const char *name, json_t *spec, bool shared, registry_runners_warn_fn *warn,
           void *warn_arg)
{
    json_t *work = shared ? json_copy (spec) : json_incref (spec);
    char text[300];
    if (registry_runners_coerce_default (work, text, sizeof text)) {
        char pointer[300], line[600];
        snprintf (pointer, sizeof pointer, "/parameters/%s/default", name);
        snprintf (line, sizeof line, "parameters.%s.%s", name, text);
        if (warn)
            warn (warn_arg, pointer, line);
        return work;
    }
    json_decref (work);
    return json_incref (spec);
}

json_t *
registry_runners_inherit (const char *runner, const json_t *own,
                          registry_runners_warn_fn *warn, void *warn_arg, char *field,
                          size_t field_size, char *message, size_t message_size)
{
    const json_t *base = registry_runners_parameters (runner);
    json_t *out = json_object ();
    const char *name;
    json_t *spec;
    if (base)
        json_object_foreach ((json_t *)base, name, spec)
        {
            const json_t *mine = json_object_get (own, name);
            if (!json_is_object (mine)) {
                json_object_set (out, name, spec); //  shared, read only
                continue;
            }
            json_t *merged =
                s_override (name, spec, mine, field, field_size, message, message_size);
            if (!merged) {
                json_decref (out);
                return NULL;
            }
            json_object_set_new (out, name,
                                 s_coerced (name, merged, false, warn, warn_arg));
            json_decref (merged);
        }
    if (json_is_object (own))
        json_object_foreach ((json_t *)own, name, spec)
        {
            if (!json_object_get (out, name))
                json_object_set_new (out, name,
                                     json_is_object (spec)
                                         ? s_coerced (name, spec, true, warn, warn_arg)
                                         : json_incref (spec));
        }
    return out;
}
