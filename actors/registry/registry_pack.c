/*  registry_pack: pack loading and validation. See registry_pack.h. */
#include "actors/registry/registry_pack.h"
#include "proto/proto_messages.h"
#include "actors/registry/registry_params.h"
#include "actors/registry/registry_yaml.h"
#include "actors/rules/rules_criteria.h"
#include "actors/rules/rules_template.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_TIMEOUT 600

struct _registry_catalog_t {
    json_t *packs;
    json_t *actions;
    json_t *rules;
    json_t *triggers;
    json_t *policies;
};

static const char *const s_builtins[] = {"noop", "echo", "sleep", "ask", NULL};

bool
registry_runner_known (const char *runner)
{
    return proto_runner_known (runner);
}

static bool
s_in (const char *value, const char *const *list)
{
    for (; *list; list++)
        if (strcmp (value, *list) == 0)
            return true;
    return false;
}

//  Append a copy of an error to the list (autofree: it copies), or log it.
static void
s_push (zlist_t *errors, const char *text)
{
    if (errors)
        zlist_append (errors, (void *)text);
    else
        zsys_warning ("%s", text);
}

//  Append "<file>:<line>: <text>" to the error list.
static void
s_report (zlist_t *errors, registry_yaml_t *doc, const char *file, const char *pointer,
          const char *format, ...)
{
    char text[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    int line = doc ? registry_yaml_line (doc, pointer ? pointer : "") : 0;
    char *entry = line > 0 ? zsys_sprintf ("%s:%d: %s", file, line, text)
                           : zsys_sprintf ("%s: %s", file, text);
    s_push (errors, entry ? entry : text);
    zstr_free (&entry);
}

static bool
s_valid_name (const char *name)
{
    if (!name || !*name || strlen (name) > 128)
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum ((unsigned char)*c) && *c != '_' && *c != '-')
            return false;
    return true;
}

//  ---------------------------------------------------------------------------
//  Built-in trigger types

static void
s_add_builtin_triggers (registry_catalog_t *self)
{
    const char *defs[] = {
        "{\"ref\": \"core.st2.IntervalTimer\", \"pack\": \"core\", \"name\": "
        "\"st2.IntervalTimer\", \"description\": \"Fires every delta units.\", "
        "\"builtin\": true, \"parameters_schema\": {"
        "\"unit\": {\"type\": \"string\", \"required\": true, \"enum\": [\"weeks\", "
        "\"days\", \"hours\", \"minutes\", \"seconds\"]},"
        "\"delta\": {\"type\": \"integer\", \"required\": true, \"minimum\": 1}},"
        "\"payload_schema\": {\"executed_at\": {\"type\": \"string\"}, "
        "\"schedule\": {\"type\": \"object\"}}}",

        "{\"ref\": \"core.st2.DateTimer\", \"pack\": \"core\", \"name\": "
        "\"st2.DateTimer\", "
        "\"description\": \"Fires once at the given date and time.\", \"builtin\": true, "
        "\"parameters_schema\": {"
        "\"date\": {\"type\": \"string\", \"required\": true},"
        "\"timezone\": {\"type\": \"string\", \"default\": \"UTC\"}},"
        "\"payload_schema\": {\"executed_at\": {\"type\": \"string\"}, "
        "\"schedule\": {\"type\": \"object\"}}}",

        "{\"ref\": \"core.st2.CronTimer\", \"pack\": \"core\", \"name\": "
        "\"st2.CronTimer\", "
        "\"description\": \"Fires on a cron schedule (five standard fields).\", "
        "\"builtin\": true, \"parameters_schema\": {"
        "\"minute\": {\"type\": \"string\", \"default\": \"*\"},"
        "\"hour\": {\"type\": \"string\", \"default\": \"*\"},"
        "\"day\": {\"type\": \"string\", \"default\": \"*\"},"
        "\"month\": {\"type\": \"string\", \"default\": \"*\"},"
        "\"day_of_week\": {\"type\": \"string\", \"default\": \"*\"},"
        "\"second\": {\"type\": \"string\", \"default\": \"0\"},"
        "\"timezone\": {\"type\": \"string\", \"default\": \"UTC\"}},"
        "\"payload_schema\": {\"executed_at\": {\"type\": \"string\"}, "
        "\"schedule\": {\"type\": \"object\"}}}",
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        json_error_t error;
        json_t *def = json_loads (defs[i], 0, &error);
        assert (def); //  our own constant
        json_object_set (self->triggers, json_string_value (json_object_get (def, "ref")),
                         def);
        json_decref (def);
    }
}

registry_catalog_t *
registry_catalog_new (void)
{
    registry_catalog_t *self =
        (registry_catalog_t *)calloc (1, sizeof (registry_catalog_t));
    if (!self)
        return NULL;
    self->packs = json_object ();
    self->actions = json_object ();
    self->rules = json_object ();
    self->triggers = json_object ();
    self->policies = json_object ();
    s_add_builtin_triggers (self);
    return self;
}

void
registry_catalog_destroy (registry_catalog_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        registry_catalog_t *self = *self_p;
        json_decref (self->packs);
        json_decref (self->actions);
        json_decref (self->rules);
        json_decref (self->triggers);
        json_decref (self->policies);
        free (self);
        *self_p = NULL;
    }
}

//  ---------------------------------------------------------------------------
//  Field checks. Each returns 0, or -1 after reporting.

typedef struct {
    zlist_t *errors;
    registry_yaml_t *doc;
    const char *file;
    const json_t *root;
} check_t;

static int
s_check_keys (check_t *c, const char *const *known, const char *const *ignored)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)c->root, key, value)
    {
        if (!s_in (key, known) && !s_in (key, ignored)) {
            char pointer[300];
            snprintf (pointer, sizeof pointer, "/%s", key);
            s_report (c->errors, c->doc, c->file, pointer, "%s: unknown field", key);
            return -1;
        }
    }
    return 0;
}

static int
s_check_string (check_t *c, const char *key, bool required)
{
    const json_t *value = json_object_get (c->root, key);
    char pointer[128];
    snprintf (pointer, sizeof pointer, "/%s", key);
    if (!value || json_is_null (value)) {
        if (required) {
            s_report (c->errors, c->doc, c->file, "", "%s: required field missing", key);
            return -1;
        }
        return 0;
    }
    if (!json_is_string (value)) {
        s_report (c->errors, c->doc, c->file, pointer, "%s: expected a string", key);
        return -1;
    }
    return 0;
}

static int
s_check_bool (check_t *c, const char *key)
{
    const json_t *value = json_object_get (c->root, key);
    if (value && !json_is_boolean (value)) {
        char pointer[128];
        snprintf (pointer, sizeof pointer, "/%s", key);
        s_report (c->errors, c->doc, c->file, pointer, "%s: expected true or false", key);
        return -1;
    }
    return 0;
}

static const char *
s_str (const json_t *object, const char *key, const char *fallback)
{
    const json_t *value = json_object_get (object, key);
    return json_is_string (value) ? json_string_value (value) : fallback;
}

//  ---------------------------------------------------------------------------
//  Actions

static const char *const s_action_keys[] = {
    "name",        "runner_type", "entry_point", "parameters", "enabled",
    "description", "timeout",     "pack",        "idempotent", NULL};
static const char *const s_action_ignored[] = {
    "ref",           "uid",           "id",         "tags", "notify",
    "output_schema", "metadata_file", "output_key", NULL};

static json_t *
s_load_action (check_t *c, const char *pack, const char *pack_dir)
{
    if (s_check_keys (c, s_action_keys, s_action_ignored) ||
        s_check_string (c, "name", true) || s_check_string (c, "runner_type", true) ||
        s_check_string (c, "entry_point", false) ||
        s_check_string (c, "description", false) || s_check_string (c, "pack", false) ||
        s_check_bool (c, "enabled") || s_check_bool (c, "idempotent"))
        return NULL;
    const char *name = s_str (c->root, "name", "");
    if (!s_valid_name (name)) {
        s_report (c->errors, c->doc, c->file, "/name",
                  "name: \"%s\" must be 1-128 letters, digits, '_' or '-'", name);
        return NULL;
    }
    const char *declared = s_str (c->root, "pack", NULL);
    if (declared && strcmp (declared, pack)) {
        s_report (c->errors, c->doc, c->file, "/pack",
                  "pack: \"%s\" but the file is in pack \"%s\"", declared, pack);
        return NULL;
    }
    const char *runner = s_str (c->root, "runner_type", "");
    if (!registry_runner_known (runner)) {
        s_report (c->errors, c->doc, c->file, "/runner_type",
                  "runner_type: unknown runner \"%s\" (%s)", runner, REGISTRY_RUNNERS);
        return NULL;
    }
    const char *entry = s_str (c->root, "entry_point", "");
    if (!strcmp (runner, "builtin") && !s_in (entry, s_builtins)) {
        s_report (c->errors, c->doc, c->file, "/entry_point",
                  "entry_point: the builtin runner offers noop, echo, sleep and ask, not "
                  "\"%s\"",
                  entry);
        return NULL;
    }
    if ((!strcmp (runner, "local-shell-script") || !strcmp (runner, "python-script")) &&
        !*entry && !json_object_get (json_object_get (c->root, "parameters"), "script")) {
        s_report (c->errors, c->doc, c->file, "",
                  "entry_point: %s actions need a script file", runner);
        return NULL;
    }
    if (*entry &&
        (!strcmp (runner, "local-shell-script") || !strcmp (runner, "python-script"))) {
        if (strstr (entry, "..") || entry[0] == '/') {
            s_report (
                c->errors, c->doc, c->file, "/entry_point",
                "entry_point: \"%s\" must be a path inside the pack's actions folder",
                entry);
            return NULL;
        }
    }
    const json_t *timeout = json_object_get (c->root, "timeout");
    if (timeout && (!json_is_integer (timeout) || json_integer_value (timeout) <= 0)) {
        s_report (c->errors, c->doc, c->file, "/timeout",
                  "timeout: expected a positive integer "
                  "(seconds)");
        return NULL;
    }
    const json_t *params = json_object_get (c->root, "parameters");
    char field[256] = "", message[512] = "";
    if (registry_params_check_schema (params, field, sizeof field, message,
                                      sizeof message)) {
        char pointer[300];
        snprintf (pointer, sizeof pointer, "/parameters%s", field);
        s_report (c->errors, c->doc, c->file, pointer, "%s", message);
        return NULL;
    }
    json_t *action = json_object ();
    json_object_set_new (action, "ref", json_sprintf ("%s.%s", pack, name));
    json_object_set_new (action, "pack", json_string (pack));
    json_object_set_new (action, "name", json_string (name));
    json_object_set_new (action, "runner_type", json_string (runner));
    json_object_set_new (action, "entry_point", json_string (entry));
    json_object_set_new (action, "description",
                         json_string (s_str (c->root, "description", "")));
    json_object_set_new (
        action, "enabled",
        json_boolean (!json_is_false (json_object_get (c->root, "enabled"))));
    json_object_set_new (
        action, "timeout",
        json_integer (timeout ? json_integer_value (timeout) : DEFAULT_TIMEOUT));
    //  attune's: running it twice is harmless, so an execution its worker
    //  lost runs again instead of being abandoned
    json_object_set_new (
        action, "idempotent",
        json_boolean (json_is_true (json_object_get (c->root, "idempotent"))));
    json_object_set_new (action, "parameters",
                         params && json_is_object (params) ? json_deep_copy (params)
                                                           : json_object ());
    json_object_set_new (action, "file", json_string (c->file));
    json_object_set_new (action, "pack_dir", json_string (pack_dir));
    //  StackStorm's idiom for a shell action: the command as an immutable
    //  `cmd` default. That text is the author's, so it is the entry point (the
    //  only text a shell runs); a `cmd` a caller gives is run without a shell.
    const json_t *cmd = json_object_get (json_object_get (action, "parameters"), "cmd");
    if (streq (runner, "local-shell-cmd") && !*entry &&
        json_is_true (json_object_get (cmd, "immutable")) &&
        json_is_string (json_object_get (cmd, "default")))
        json_object_set_new (
            action, "entry_point",
            json_string (json_string_value (json_object_get (cmd, "default"))));
    return action;
}

//  ---------------------------------------------------------------------------
//  Rules

static const char *const s_rule_keys[] = {"name",     "pack",   "enabled",     "trigger",
                                          "criteria", "action", "description", NULL};
static const char *const s_rule_ignored[] = {
    "ref", "uid", "id", "tags", "type", "context", "metadata_file", NULL};

//  Validate a rule definition against the syntax rules (not references).
static json_t *
s_load_rule (check_t *c, const char *pack)
{
    if (!json_is_object (c->root)) {
        s_report (c->errors, c->doc, c->file, "", "a rule must be a mapping");
        return NULL;
    }
    if (s_check_keys (c, s_rule_keys, s_rule_ignored) ||
        s_check_string (c, "name", true) || s_check_string (c, "pack", false) ||
        s_check_string (c, "description", false) || s_check_bool (c, "enabled"))
        return NULL;
    const char *name = s_str (c->root, "name", "");
    if (!s_valid_name (name)) {
        s_report (c->errors, c->doc, c->file, "/name",
                  "name: \"%s\" must be 1-128 letters, digits, '_' or '-'", name);
        return NULL;
    }
    const char *declared = s_str (c->root, "pack", NULL);
    if (!pack)
        pack = declared;
    if (!pack || !s_valid_name (pack)) {
        s_report (c->errors, c->doc, c->file, "/pack", "pack: a rule needs its pack");
        return NULL;
    }
    if (declared && strcmp (declared, pack)) {
        s_report (c->errors, c->doc, c->file, "/pack",
                  "pack: \"%s\" but the file is in pack \"%s\"", declared, pack);
        return NULL;
    }
    const json_t *trigger = json_object_get (c->root, "trigger");
    if (!json_is_object (trigger) ||
        !json_is_string (json_object_get (trigger, "type"))) {
        s_report (
            c->errors, c->doc, c->file, "/trigger",
            "trigger: expected a mapping with a type (e.g. core.st2.IntervalTimer)");
        return NULL;
    }
    const json_t *tparams = json_object_get (trigger, "parameters");
    if (tparams && !json_is_null (tparams) && !json_is_object (tparams)) {
        s_report (c->errors, c->doc, c->file, "/trigger/parameters",
                  "trigger.parameters: expected a mapping");
        return NULL;
    }
    const json_t *criteria = json_object_get (c->root, "criteria");
    char field[256] = "", message[512] = "";
    rules_criteria_t *compiled =
        rules_criteria_new (criteria, field, sizeof field, message, sizeof message);
    if (!compiled) {
        char pointer[300];
        //  the criteria key may hold '/' or '~': escape for the pointer
        char escaped[256];
        size_t w = 0;
        for (const char *p = field; *p && w + 2 < sizeof escaped; p++) {
            if (*p == '~' || *p == '/') {
                escaped[w++] = '~';
                escaped[w++] = *p == '~' ? '0' : '1';
            } else
                escaped[w++] = *p;
        }
        escaped[w] = 0;
        snprintf (pointer, sizeof pointer, "/criteria/%s", escaped);
        s_report (c->errors, c->doc, c->file, pointer, "%s", message);
        return NULL;
    }
    rules_criteria_destroy (&compiled);
    const json_t *action = json_object_get (c->root, "action");
    if (!json_is_object (action) || !json_is_string (json_object_get (action, "ref"))) {
        s_report (c->errors, c->doc, c->file, "/action",
                  "action: expected a mapping with a ref (e.g. core.echo)");
        return NULL;
    }
    const json_t *aparams = json_object_get (action, "parameters");
    if (aparams && !json_is_null (aparams) && !json_is_object (aparams)) {
        s_report (c->errors, c->doc, c->file, "/action/parameters",
                  "action.parameters: expected a mapping");
        return NULL;
    }
    if (aparams &&
        rules_template_check (aparams, "action.parameters", message, sizeof message)) {
        //  "action.parameters.x[2]: ..." -> "/action/parameters/x/2" for the line
        char pointer[300] = "";
        size_t w = 0;
        for (const char *p = message; *p && *p != ':' && w + 2 < sizeof pointer; p++) {
            if (p == message || *p == '.' || *p == '[')
                pointer[w++] = '/';
            if (*p != '.' && *p != '[' && *p != ']')
                pointer[w++] = *p;
        }
        pointer[w] = 0;
        s_report (c->errors, c->doc, c->file, pointer, "%s", message);
        return NULL;
    }
    json_t *rule = json_object ();
    json_object_set_new (rule, "ref", json_sprintf ("%s.%s", pack, name));
    json_object_set_new (rule, "pack", json_string (pack));
    json_object_set_new (rule, "name", json_string (name));
    json_object_set_new (rule, "description",
                         json_string (s_str (c->root, "description", "")));
    json_object_set_new (
        rule, "enabled",
        json_boolean (!json_is_false (json_object_get (c->root, "enabled"))));
    json_t *t = json_object ();
    json_object_set_new (t, "type", json_string (s_str (trigger, "type", "")));
    json_object_set_new (t, "parameters",
                         json_is_object (tparams) ? json_deep_copy (tparams)
                                                  : json_object ());
    json_object_set_new (rule, "trigger", t);
    json_object_set_new (rule, "criteria",
                         json_is_object (criteria) ? json_deep_copy (criteria)
                                                   : json_object ());
    json_t *a = json_object ();
    json_object_set_new (a, "ref", json_string (s_str (action, "ref", "")));
    json_object_set_new (a, "parameters",
                         json_is_object (aparams) ? json_deep_copy (aparams)
                                                  : json_object ());
    json_object_set_new (rule, "action", a);
    json_object_set_new (rule, "file", json_string (c->file));
    return rule;
}

//  ---------------------------------------------------------------------------
//  Triggers

static const char *const s_trigger_keys[] = {
    "name", "pack", "description", "parameters_schema", "payload_schema", NULL};
static const char *const s_trigger_ignored[] = {"ref",  "uid",           "id",
                                                "tags", "metadata_file", NULL};

static json_t *
s_load_trigger (check_t *c, const char *pack)
{
    if (s_check_keys (c, s_trigger_keys, s_trigger_ignored) ||
        s_check_string (c, "name", true) || s_check_string (c, "description", false))
        return NULL;
    const char *name = s_str (c->root, "name", "");
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') {
            s_report (c->errors, c->doc, c->file, "/name",
                      "name: \"%s\" has invalid characters", name);
            return NULL;
        }
    const char *keys[] = {"parameters_schema", "payload_schema"};
    for (int i = 0; i < 2; i++) {
        const json_t *schema = json_object_get (c->root, keys[i]);
        //  StackStorm writes JSON Schema ({type: object, properties: {...}});
        //  accept that shape as well as the flat one.
        const json_t *props = json_object_get (schema, "properties");
        const json_t *flat = json_is_object (props) ? props : schema;
        char field[256] = "", message[512] = "";
        if (schema && !json_is_object (props) &&
            registry_params_check_schema (flat, field, sizeof field, message,
                                          sizeof message)) {
            char pointer[300];
            snprintf (pointer, sizeof pointer, "/%s%s", keys[i], field);
            s_report (c->errors, c->doc, c->file, pointer, "%s: %s", keys[i], message);
            return NULL;
        }
    }
    json_t *trigger = json_object ();
    json_object_set_new (trigger, "ref", json_sprintf ("%s.%s", pack, name));
    json_object_set_new (trigger, "pack", json_string (pack));
    json_object_set_new (trigger, "name", json_string (name));
    json_object_set_new (trigger, "description",
                         json_string (s_str (c->root, "description", "")));
    for (int i = 0; i < 2; i++) {
        const json_t *schema = json_object_get (c->root, keys[i]);
        const json_t *props = json_object_get (schema, "properties");
        const json_t *use = json_is_object (props) ? props : schema;
        json_object_set_new (trigger, keys[i],
                             json_is_object (use) ? json_deep_copy (use)
                                                  : json_object ());
    }
    json_object_set_new (trigger, "file", json_string (c->file));
    return trigger;
}

//  ---------------------------------------------------------------------------
//  Policies (StackStorm's policies/*.yaml): limits the executor applies to an
//  action's executions. Parameters are checked per type and defaults filled
//  in, so the executor reads complete definitions.

static const char *const s_policy_keys[] = {
    "name",         "pack",        "description", "enabled",
    "resource_ref", "policy_type", "parameters",  NULL};
static const char *const s_policy_ignored[] = {"ref",  "uid",           "id",
                                               "tags", "metadata_file", NULL};

typedef enum { P_INT, P_NUMBER, P_CHOICE, P_STRINGS } s_ptype_t;

typedef struct {
    const char *name;
    s_ptype_t type;
    bool required;
    double min;             //  P_INT / P_NUMBER: smallest allowed
    const char *fallback;   //  default as JSON text, NULL = none
    const char *choices[4]; //  P_CHOICE
} s_pspec_t;

typedef struct {
    const char *type;
    s_pspec_t params[8];
} s_policy_type_t;

static const s_policy_type_t s_policy_types[] = {
    {"action.concurrency",
     {{"threshold", P_INT, true, 1, NULL, {NULL}},
      {"action", P_CHOICE, false, 0, "\"delay\"", {"delay", "cancel", NULL}},
      {"max_queue", P_INT, false, 1, "10000", {NULL}},
      {"queue_timeout", P_NUMBER, false, 0.001, "3600", {NULL}},
      {NULL, 0, false, 0, NULL, {NULL}}}},
    {"action.concurrency.attr",
     {{"threshold", P_INT, true, 1, NULL, {NULL}},
      {"attributes", P_STRINGS, true, 0, NULL, {NULL}},
      {"action", P_CHOICE, false, 0, "\"delay\"", {"delay", "cancel", NULL}},
      {"max_queue", P_INT, false, 1, "10000", {NULL}},
      {"queue_timeout", P_NUMBER, false, 0.001, "3600", {NULL}},
      {NULL, 0, false, 0, NULL, {NULL}}}},
    {"action.ratelimit",
     {{"max", P_INT, true, 1, NULL, {NULL}},
      {"window_seconds", P_NUMBER, true, 0.001, NULL, {NULL}},
      {"action", P_CHOICE, false, 0, "\"delay\"", {"delay", "cancel", NULL}},
      {"max_queue", P_INT, false, 1, "10000", {NULL}},
      {"queue_timeout", P_NUMBER, false, 0.001, "3600", {NULL}},
      {NULL, 0, false, 0, NULL, {NULL}}}},
    {"action.retry",
     {{"retry_on",
       P_CHOICE,
       false,
       0,
       "\"failure\"",
       {"failure", "timeout", "abandoned", NULL}},
      {"max_retry_count", P_INT, false, 0, "2", {NULL}},
      {"delay", P_NUMBER, false, 0, "0", {NULL}},
      {"backoff",
       P_CHOICE,
       false,
       0,
       "\"constant\"",
       {"constant", "linear", "exponential", NULL}},
      {NULL, 0, false, 0, NULL, {NULL}}}},
    {"action.timeout",
     {{"timeout", P_NUMBER, true, 0.001, NULL, {NULL}},
      {NULL, 0, false, 0, NULL, {NULL}}}},
};
#define S_POLICY_TYPES (sizeof s_policy_types / sizeof s_policy_types[0])

static json_t *
s_load_policy (check_t *c, const char *pack, const char *pack_dir)
{
    if (s_check_keys (c, s_policy_keys, s_policy_ignored) ||
        s_check_string (c, "name", true) || s_check_string (c, "pack", false) ||
        s_check_string (c, "description", false) || s_check_bool (c, "enabled") ||
        s_check_string (c, "resource_ref", true) ||
        s_check_string (c, "policy_type", true))
        return NULL;
    const char *name = s_str (c->root, "name", "");
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') {
            s_report (c->errors, c->doc, c->file, "/name",
                      "name: \"%s\" has invalid characters", name);
            return NULL;
        }
    const char *its_pack = s_str (c->root, "pack", pack);
    if (!streq (its_pack, pack)) {
        s_report (c->errors, c->doc, c->file, "/pack",
                  "pack: \"%s\" is not the pack it is in (%s)", its_pack, pack);
        return NULL;
    }
    const char *type = s_str (c->root, "policy_type", "");
    const s_policy_type_t *spec = NULL;
    for (size_t i = 0; i < S_POLICY_TYPES; i++)
        if (streq (type, s_policy_types[i].type))
            spec = &s_policy_types[i];
    if (!spec) {
        s_report (c->errors, c->doc, c->file, "/policy_type",
                  "policy_type: unknown policy type \"%s\" (action.concurrency, "
                  "action.concurrency.attr, action.ratelimit, action.retry, "
                  "action.timeout)",
                  type);
        return NULL;
    }
    const json_t *given = json_object_get (c->root, "parameters");
    if (given && !json_is_object (given) && !json_is_null (given)) {
        s_report (c->errors, c->doc, c->file, "/parameters",
                  "parameters: expected a mapping");
        return NULL;
    }
    json_t *parameters = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)given, key, value)
    {
        bool known = false;
        for (const s_pspec_t *p = spec->params; p->name; p++)
            if (streq (p->name, key))
                known = true;
        if (!known) {
            char pointer[300];
            snprintf (pointer, sizeof pointer, "/parameters/%s", key);
            s_report (c->errors, c->doc, c->file, pointer,
                      "parameters.%s: not a parameter of %s", key, type);
            json_decref (parameters);
            return NULL;
        }
    }
    for (const s_pspec_t *p = spec->params; p->name; p++) {
        value = json_object_get (given, p->name);
        char pointer[300];
        snprintf (pointer, sizeof pointer, "/parameters/%s", p->name);
        if (!value || json_is_null (value)) {
            if (p->required) {
                s_report (c->errors, c->doc, c->file, "/parameters",
                          "parameters.%s: required by %s", p->name, type);
                json_decref (parameters);
                return NULL;
            }
            if (p->fallback)
                json_object_set_new (parameters, p->name,
                                     json_loads (p->fallback, JSON_DECODE_ANY, NULL));
            continue;
        }
        const char *problem = NULL;
        if (p->type == P_INT &&
            (!json_is_integer (value) || json_integer_value (value) < p->min))
            problem = p->min >= 1 ? "expected a whole number of at least 1"
                                  : "expected a whole number of at least 0";
        else if (p->type == P_NUMBER &&
                 (!json_is_number (value) || json_number_value (value) < p->min))
            problem = p->min > 0 ? "expected a number above 0" : "expected a number >= 0";
        else if (p->type == P_CHOICE) {
            bool ok = false;
            for (int i = 0; p->choices[i]; i++)
                if (json_is_string (value) &&
                    streq (json_string_value (value), p->choices[i]))
                    ok = true;
            if (!ok)
                problem = "not one of the allowed values";
        } else if (p->type == P_STRINGS) {
            bool ok = json_is_array (value) && json_array_size (value) > 0;
            for (size_t i = 0; ok && i < json_array_size (value); i++)
                ok = json_is_string (json_array_get (value, i));
            if (!ok)
                problem = "expected a list of parameter names";
        }
        if (problem) {
            char *text = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
            s_report (c->errors, c->doc, c->file, pointer, "parameters.%s: %s: %s",
                      p->name, text ? text : "?", problem);
            free (text);
            json_decref (parameters);
            return NULL;
        }
        json_object_set (parameters, p->name, value);
    }
    json_t *policy = json_object ();
    json_object_set_new (policy, "ref", json_sprintf ("%s.%s", pack, name));
    json_object_set_new (policy, "pack", json_string (pack));
    json_object_set_new (policy, "name", json_string (name));
    json_object_set_new (policy, "description",
                         json_string (s_str (c->root, "description", "")));
    json_object_set_new (
        policy, "enabled",
        json_boolean (!json_is_false (json_object_get (c->root, "enabled"))));
    json_object_set_new (policy, "resource_ref",
                         json_string (s_str (c->root, "resource_ref", "")));
    json_object_set_new (policy, "policy_type", json_string (type));
    json_object_set_new (policy, "parameters", parameters);
    json_object_set_new (policy, "file", json_string (c->file));
    return policy;
}

//  ---------------------------------------------------------------------------
//  Directories

static int
s_compare (const void *a, const void *b)
{
    return strcmp (*(const char *const *)a, *(const char *const *)b);
}

//  Sorted list of *.yaml / *.yml files in dir (caller frees each and the
//  array). Returns the count, or -1 when the directory cannot be read
//  (ENOENT returns 0).
static int
s_yaml_files (const char *dir, char ***files_p)
{
    *files_p = NULL;
    DIR *d = opendir (dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    size_t count = 0, cap = 16;
    char **files = (char **)malloc (cap * sizeof (char *));
    struct dirent *entry;
    while (files && (entry = readdir (d))) {
        size_t len = strlen (entry->d_name);
        bool yaml = (len > 5 && !strcmp (entry->d_name + len - 5, ".yaml")) ||
                    (len > 4 && !strcmp (entry->d_name + len - 4, ".yml"));
        if (!yaml || entry->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap *= 2;
            char **grown = (char **)realloc (files, cap * sizeof (char *));
            if (!grown)
                break;
            files = grown;
        }
        files[count++] = zsys_sprintf ("%s/%s", dir, entry->d_name);
    }
    closedir (d);
    if (files)
        qsort (files, count, sizeof (char *), s_compare);
    *files_p = files;
    return (int)count;
}

typedef json_t *(loader_fn)(check_t *c, const char *pack, const char *pack_dir);

static json_t *
s_action_loader (check_t *c, const char *pack, const char *pack_dir)
{
    return s_load_action (c, pack, pack_dir);
}

static json_t *
s_rule_loader (check_t *c, const char *pack, const char *pack_dir)
{
    return s_load_rule (c, pack);
}

static json_t *
s_trigger_loader (check_t *c, const char *pack, const char *pack_dir)
{
    return s_load_trigger (c, pack);
}

static void
s_load_folder (registry_catalog_t *self, const char *pack_dir, const char *pack,
               const char *folder, json_t *into, loader_fn *loader, zlist_t *errors)
{
    char *dir = zsys_sprintf ("%s/%s", pack_dir, folder);
    char **files;
    int count = s_yaml_files (dir, &files);
    if (count < 0)
        s_report (errors, NULL, dir, NULL, "cannot read the folder: %s",
                  strerror (errno));
    for (int i = 0; i < count; i++) {
        char message[1024];
        registry_yaml_t *doc = registry_yaml_load (files[i], message, sizeof message);
        if (!doc)
            s_push (errors, message);
        else if (!json_is_object (registry_yaml_root (doc)))
            s_report (errors, doc, files[i], "", "expected a mapping of fields");
        else {
            check_t c = {errors, doc, files[i], registry_yaml_root (doc)};
            json_t *def = loader (&c, pack, pack_dir);
            if (def) {
                const char *ref = json_string_value (json_object_get (def, "ref"));
                const json_t *old = json_object_get (into, ref);
                if (old)
                    s_report (errors, doc, files[i], "/name",
                              "name: %s is also defined in %s", ref,
                              s_str (old, "file", "?"));
                else
                    json_object_set (into, ref, def);
                json_decref (def);
            }
        }
        registry_yaml_destroy (&doc);
        zstr_free (&files[i]);
    }
    free (files);
    zstr_free (&dir);
}

int
registry_catalog_load_pack (registry_catalog_t *self, const char *pack_dir,
                            zlist_t *errors)
{
    assert (self);
    char *file = zsys_sprintf ("%s/pack.yaml", pack_dir);
    char message[1024];
    registry_yaml_t *doc = registry_yaml_load (file, message, sizeof message);
    if (!doc) {
        s_push (errors, message);
        zstr_free (&file);
        return -1;
    }
    json_t *root = registry_yaml_root (doc);
    static const char *const pack_keys[] = {"ref",    "name",  "version", "description",
                                            "author", "email", NULL};
    static const char *const pack_ignored[] = {"keywords",
                                               "contributors",
                                               "dependencies",
                                               "python_versions",
                                               "stackstorm_version",
                                               "system",
                                               "uid",
                                               "id",
                                               "attribute",
                                               NULL};
    check_t c = {errors, doc, file, root};
    int rc = -1;
    if (!json_is_object (root))
        s_report (errors, doc, file, "", "expected a mapping of fields");
    else if (!s_check_keys (&c, pack_keys, pack_ignored) &&
             !s_check_string (&c, "ref", false) && !s_check_string (&c, "name", true) &&
             !s_check_string (&c, "description", false)) {
        const json_t *version = json_object_get (root, "version");
        const char *ref = s_str (root, "ref", s_str (root, "name", ""));
        if (version && !json_is_string (version) && !json_is_number (version))
            s_report (errors, doc, file, "/version",
                      "version: expected a string such as 1.0.0");
        else if (!s_valid_name (ref))
            s_report (errors, doc, file, json_object_get (root, "ref") ? "/ref" : "/name",
                      "ref: \"%s\" must be 1-128 letters, digits, '_' or '-'", ref);
        else if (json_object_get (self->packs, ref))
            s_report (errors, doc, file, "", "pack %s is already loaded from %s", ref,
                      s_str (json_object_get (self->packs, ref), "dir", "?"));
        else {
            json_t *pack = json_object ();
            json_object_set_new (pack, "ref", json_string (ref));
            json_object_set_new (pack, "name", json_string (s_str (root, "name", ref)));
            json_object_set_new (
                pack, "version",
                json_is_string (version)
                    ? json_string (json_string_value (version))
                    : (version ? json_sprintf ("%g", json_number_value (version))
                               : json_string ("0.0.0")));
            json_object_set_new (pack, "description",
                                 json_string (s_str (root, "description", "")));
            json_object_set_new (pack, "dir", json_string (pack_dir));
            json_object_set_new (self->packs, ref, pack);
            s_load_folder (self, pack_dir, ref, "triggers", self->triggers,
                           s_trigger_loader, errors);
            s_load_folder (self, pack_dir, ref, "actions", self->actions, s_action_loader,
                           errors);
            s_load_folder (self, pack_dir, ref, "rules", self->rules, s_rule_loader,
                           errors);
            s_load_folder (self, pack_dir, ref, "policies", self->policies, s_load_policy,
                           errors);
            rc = 0;
        }
    }
    registry_yaml_destroy (&doc);
    zstr_free (&file);
    return rc;
}

//  Reference and trigger-parameter checks for one rule. 0 or -1 with message.
static int
s_check_rule_refs (registry_catalog_t *self, json_t *rule, char *message, size_t size)
{
    const json_t *trigger = json_object_get (rule, "trigger");
    const char *type = s_str (trigger, "type", "");
    const json_t *tdef = json_object_get (self->triggers, type);
    if (!tdef) {
        snprintf (message, size, "trigger.type: unknown trigger type \"%s\"", type);
        return -1;
    }
    //  Cron fields are strings ("*/5", "1-5"), but StackStorm packs also
    //  write plain numbers (minute: 0): take those as their text
    json_t *given = json_object_get (trigger, "parameters");
    if (!strcmp (type, "core.st2.CronTimer") && json_is_object (given)) {
        const char *key;
        json_t *value;
        json_object_foreach (given, key, value)
        {
            if (json_is_integer (value))
                json_object_set_new (
                    given, key,
                    json_sprintf ("%" JSON_INTEGER_FORMAT, json_integer_value (value)));
        }
    }
    char reason[512];
    json_t *params = registry_params_apply (json_object_get (tdef, "parameters_schema"),
                                            json_object_get (trigger, "parameters"),
                                            reason, sizeof reason);
    if (!params) {
        snprintf (message, size, "trigger.parameters: %s", reason);
        return -1;
    }
    //  Keep the completed parameters (defaults applied): the sensor keys its
    //  timers on them.
    json_object_set_new ((json_t *)trigger, "parameters", params);
    const char *action = s_str (json_object_get (rule, "action"), "ref", "");
    if (!json_object_get (self->actions, action)) {
        snprintf (message, size, "action.ref: unknown action \"%s\"", action);
        return -1;
    }
    return 0;
}

int
registry_catalog_check (registry_catalog_t *self, zlist_t *errors)
{
    assert (self);
    int dropped = 0;
    const char *ref;
    json_t *rule;
    void *tmp;
    json_object_foreach_safe (self->rules, tmp, ref, rule)
    {
        char message[768];
        if (s_check_rule_refs (self, rule, message, sizeof message)) {
            const char *file = s_str (rule, "file", ref);
            //  Re-read the file only to find the line of the failing field.
            registry_yaml_t *doc = registry_yaml_load (file, NULL, 0);
            const char *pointer =
                !strncmp (message, "action", 6)
                    ? "/action/ref"
                    : (!strncmp (message, "trigger.type", 12) ? "/trigger/type"
                                                              : "/trigger/parameters");
            s_report (errors, doc, file, pointer, "%s", message);
            registry_yaml_destroy (&doc);
            json_object_del (self->rules, ref);
            dropped++;
        }
    }
    //  A policy applies to an action that exists
    json_t *policy;
    json_object_foreach_safe (self->policies, tmp, ref, policy)
    {
        const char *target = s_str (policy, "resource_ref", "");
        if (!json_object_get (self->actions, target)) {
            const char *file = s_str (policy, "file", ref);
            registry_yaml_t *doc = registry_yaml_load (file, NULL, 0);
            s_report (errors, doc, file, "/resource_ref",
                      "resource_ref: unknown action \"%s\"", target);
            registry_yaml_destroy (&doc);
            json_object_del (self->policies, ref);
            dropped++;
        }
    }
    return dropped;
}

int
registry_catalog_load_dir (registry_catalog_t *self, const char *dir, zlist_t *errors)
{
    assert (self);
    DIR *d = opendir (dir);
    if (!d) {
        s_report (errors, NULL, dir, NULL, "cannot read the packs folder: %s",
                  strerror (errno));
        return -1;
    }
    //  Sorted for a deterministic load order.
    size_t count = 0, cap = 16;
    char **names = (char **)malloc (cap * sizeof (char *));
    struct dirent *entry;
    while (names && (entry = readdir (d))) {
        if (entry->d_name[0] == '.')
            continue;
        char *path = zsys_sprintf ("%s/%s/pack.yaml", dir, entry->d_name);
        struct stat st;
        bool is_pack = path && stat (path, &st) == 0;
        zstr_free (&path);
        if (!is_pack)
            continue;
        if (count == cap) {
            cap *= 2;
            char **grown = (char **)realloc (names, cap * sizeof (char *));
            if (!grown)
                break;
            names = grown;
        }
        names[count++] = zsys_sprintf ("%s/%s", dir, entry->d_name);
    }
    closedir (d);
    int loaded = 0;
    if (names) {
        qsort (names, count, sizeof (char *), s_compare);
        for (size_t i = 0; i < count; i++) {
            if (registry_catalog_load_pack (self, names[i], errors) == 0)
                loaded++;
            zstr_free (&names[i]);
        }
        free (names);
    }
    registry_catalog_check (self, errors);
    return loaded;
}

int
registry_catalog_put_rule (registry_catalog_t *self, const json_t *definition,
                           const char *origin, char *message, size_t message_size)
{
    assert (self);
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    check_t c = {errors, NULL, origin ? origin : "rule", definition};
    json_t *rule = s_load_rule (&c, NULL);
    int rc = -1;
    if (!rule) {
        char *first = (char *)zlist_first (errors);
        snprintf (message, message_size, "%s", first ? first : "invalid rule");
    } else {
        char reason[768];
        if (s_check_rule_refs (self, rule, reason, sizeof reason))
            snprintf (message, message_size, "%s: %s", c.file, reason);
        else {
            json_object_set (self->rules,
                             json_string_value (json_object_get (rule, "ref")), rule);
            rc = 0;
        }
        json_decref (rule);
    }
    zlist_destroy (&errors);
    return rc;
}

int
registry_catalog_put_trigger (registry_catalog_t *self, const json_t *definition,
                              const char *origin, char *message, size_t message_size)
{
    assert (self);
    const char *pack = s_str (definition, "pack", NULL);
    if (!json_is_object (definition) || !pack || !s_valid_name (pack)) {
        snprintf (message, message_size, "%s: pack: a trigger type needs its pack",
                  origin ? origin : "trigger");
        return -1;
    }
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    check_t c = {errors, NULL, origin ? origin : "trigger", definition};
    json_t *trigger = s_load_trigger (&c, pack);
    int rc = -1;
    const char *ref = trigger ? s_str (trigger, "ref", "") : "";
    const json_t *old = json_object_get (self->triggers, ref);
    if (!trigger) {
        char *first = (char *)zlist_first (errors);
        snprintf (message, message_size, "%s", first ? first : "invalid trigger type");
    } else if (json_is_true (json_object_get (old, "builtin")) ||
               strncmp (ref, "core.st2.", 9) == 0) {
        snprintf (message, message_size, "%s: %s is a built-in trigger type", c.file,
                  ref);
        rc = -2;
    } else {
        json_object_del (trigger, "file");
        json_object_set (self->triggers, ref, trigger);
        rc = 0;
    }
    json_decref (trigger);
    zlist_destroy (&errors);
    return rc;
}

int
registry_catalog_delete_trigger (registry_catalog_t *self, const char *ref, char *message,
                                 size_t message_size)
{
    assert (self);
    const json_t *trigger = json_object_get (self->triggers, ref);
    if (!trigger) {
        snprintf (message, message_size, "trigger type '%s' does not exist", ref);
        return -1;
    }
    if (json_is_true (json_object_get (trigger, "builtin"))) {
        snprintf (message, message_size, "%s is a built-in trigger type", ref);
        return -2;
    }
    size_t len = 0;
    message[0] = 0;
    const char *key;
    json_t *rule;
    json_object_foreach (self->rules, key, rule)
    {
        if (strcmp (s_str (json_object_get (rule, "trigger"), "type", ""), ref) == 0 &&
            len + 1 < message_size)
            len += (size_t)snprintf (message + len, message_size - len, "%s%s",
                                     len ? ", " : "", key);
    }
    if (len) {
        char rules[512];
        snprintf (rules, sizeof rules, "%s", message);
        snprintf (message, message_size, "trigger type %s is used by the rules %s", ref,
                  rules);
        return -2;
    }
    json_object_del (self->triggers, ref);
    return 0;
}

int
registry_catalog_delete_rule (registry_catalog_t *self, const char *ref)
{
    assert (self);
    return json_object_del (self->rules, ref) == 0 ? 0 : -1;
}

const json_t *
registry_catalog_action (registry_catalog_t *self, const char *ref)
{
    return json_object_get (self->actions, ref);
}

const json_t *
registry_catalog_rule (registry_catalog_t *self, const char *ref)
{
    return json_object_get (self->rules, ref);
}

const json_t *
registry_catalog_trigger (registry_catalog_t *self, const char *ref)
{
    return json_object_get (self->triggers, ref);
}

const json_t *
registry_catalog_pack (registry_catalog_t *self, const char *ref)
{
    return json_object_get (self->packs, ref);
}

const json_t *
registry_catalog_actions (registry_catalog_t *self)
{
    return self->actions;
}

const json_t *
registry_catalog_rules (registry_catalog_t *self)
{
    return self->rules;
}

const json_t *
registry_catalog_policies (registry_catalog_t *self)
{
    assert (self);
    return self->policies;
}

const json_t *
registry_catalog_triggers (registry_catalog_t *self)
{
    return self->triggers;
}

const json_t *
registry_catalog_packs (registry_catalog_t *self)
{
    return self->packs;
}
