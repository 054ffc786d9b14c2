/*  registry_pack_action: an action definition (actions/<name>.yaml) checked and
    normalised, with its runner's parameters (registry_runners.h). See
    registry_pack.h and registry_pack_internal.h.
*/
#include "actors/registry/registry_pack.h"
#include "workflow/workflow.h"
#include "actors/registry/registry_pack_internal.h"
#include "actors/registry/registry_params.h"
#include "actors/registry/registry_runners.h"

#include <string.h>
#include <sys/stat.h>

#define DEFAULT_TIMEOUT 600

static const char *const s_builtins[] = {"noop", "echo", "sleep", "ask", NULL};

static bool
s_in (const char *value, const char *const *list)
{
    for (; *list; list++)
        if (strcmp (value, *list) == 0)
            return true;
    return false;
}

//  ---------------------------------------------------------------------------
//  Actions

static const char *const s_action_keys[] = {
    "name",    "runner_type", "entry_point", "parameters", "enabled", "description",
    "timeout", "pack",        "idempotent",  "notify",     NULL};
static const char *const s_action_ignored[] = {
    "ref", "uid", "id", "tags", "output_schema", "metadata_file", "output_key", NULL};

//  The runner is one attune knows, with the entry point it needs. 0 or -1.
static int
s_action_runner_valid (registry_pack_check_t *c)
{
    const char *runner = registry_pack_str (c->root, "runner_type", "");
    registry_runner_state_t state = registry_runners_state (runner);
    if (state != REGISTRY_RUNNER_AVAILABLE) {
        registry_pack_report (
            c->errors, c->doc, c->file, "/runner_type",
            state == REGISTRY_RUNNER_LATER
                ? "runner_type: runner \"%s\" not available yet (workflows: issue 18)"
            : state == REGISTRY_RUNNER_ABSENT
                ? "runner_type: runner \"%s\" is StackStorm's; attune does not have it"
                : "runner_type: unknown runner \"%s\"",
            runner);
        return -1;
    }
    const char *entry = registry_pack_str (c->root, "entry_point", "");
    if (!strcmp (runner, "builtin") && !s_in (entry, s_builtins)) {
        registry_pack_report (c->errors, c->doc, c->file, "/entry_point",
                              "entry_point: the builtin runner offers noop, echo, sleep "
                              "and ask, not "
                              "\"%s\"",
                              entry);
        return -1;
    }
    if ((!strcmp (runner, "local-shell-script") || !strcmp (runner, "python-script")) &&
        !*entry && !json_object_get (json_object_get (c->root, "parameters"), "script")) {
        registry_pack_report (c->errors, c->doc, c->file, "",
                              "entry_point: %s actions need a script file", runner);
        return -1;
    }
    if (*entry &&
        (!strcmp (runner, "local-shell-script") || !strcmp (runner, "python-script"))) {
        if (strstr (entry, "..") || entry[0] == '/') {
            registry_pack_report (
                c->errors, c->doc, c->file, "/entry_point",
                "entry_point: \"%s\" must be a path inside the pack's actions folder",
                entry);
            return -1;
        }
    }
    return 0;
}

//  Check an action definition of pack `pack`. 0, or -1 after reporting.
static int
s_action_valid (registry_pack_check_t *c, const char *pack)
{
    if (registry_pack_check_keys (c, s_action_keys, s_action_ignored) ||
        registry_pack_check_string (c, "name", true) ||
        registry_pack_check_string (c, "runner_type", true) ||
        registry_pack_check_string (c, "entry_point", false) ||
        registry_pack_check_string (c, "description", false) ||
        registry_pack_check_string (c, "pack", false) ||
        registry_pack_check_bool (c, "enabled") ||
        registry_pack_check_bool (c, "idempotent"))
        return -1;
    const json_t *notify = json_object_get (c->root, "notify");
    if (notify && !json_is_object (notify)) {
        registry_pack_report (c->errors, c->doc, c->file, "/notify",
                              "notify: a mapping of on-complete, on-success, "
                              "on-failure to {message, data, routes}");
        return -1;
    }
    const char *name = registry_pack_str (c->root, "name", "");
    if (!registry_pack_action_name_valid (name)) {
        registry_pack_report (
            c->errors, c->doc, c->file, "/name",
            "name: \"%s\" must be 1-128 letters, digits, '_', '-' or '.'", name);
        return -1;
    }
    const char *declared = registry_pack_str (c->root, "pack", NULL);
    if (declared && strcmp (declared, pack)) {
        registry_pack_report (c->errors, c->doc, c->file, "/pack",
                              "pack: \"%s\" but the file is in pack \"%s\"", declared,
                              pack);
        return -1;
    }
    if (s_action_runner_valid (c))
        return -1;
    const json_t *timeout = json_object_get (c->root, "timeout");
    if (timeout && (!json_is_integer (timeout) || json_integer_value (timeout) <= 0)) {
        registry_pack_report (c->errors, c->doc, c->file, "/timeout",
                              "timeout: expected a positive integer "
                              "(seconds)");
        return -1;
    }
    const json_t *params = json_object_get (c->root, "parameters");
    if (params && !json_is_null (params) && !json_is_object (params)) {
        registry_pack_report (c->errors, c->doc, c->file, "/parameters",
                              "parameters: must be a mapping of name: {type, ...}");
        return -1;
    }
    return 0;
}

//  A warning about a definition that still loads: "<file>:<line>: <text>"
//  in the load log.
static void
s_warn (void *arg, const char *pointer, const char *text)
{
    registry_pack_check_t *c = (registry_pack_check_t *)arg;
    int line = c->doc ? registry_yaml_line (c->doc, pointer) : 0;
    if (line > 0)
        zsys_warning ("%s:%d: %s", c->file, line, text);
    else
        zsys_warning ("%s: %s", c->file, text);
}

//  The action's parameters with its runner's (registry_runners.h),
//  checked. The schema (caller owns it), or NULL after reporting.
static json_t *
s_action_params (registry_pack_check_t *c)
{
    const char *runner = registry_pack_str (c->root, "runner_type", "");
    const json_t *own = json_object_get (c->root, "parameters");
    char field[256] = "", message[512] = "", pointer[300];
    json_t *params = registry_runners_inherit (runner, own, s_warn, c, field,
                                               sizeof field, message, sizeof message);
    //  attune's action-level `timeout` is the default of the runner's
    //  `timeout` parameter when the action does not declare that one
    const json_t *timeout = json_object_get (c->root, "timeout");
    const json_t *spec = json_object_get (params, "timeout");
    if (params && json_is_integer (timeout) && spec &&
        !json_object_get (own, "timeout")) {
        json_t *copy = json_copy ((json_t *)spec);
        json_object_set (copy, "default", (json_t *)timeout);
        json_object_set_new (params, "timeout", copy);
    }
    if (params && registry_params_check_schema (params, field, sizeof field, message,
                                                sizeof message) == 0)
        return params;
    json_decref (params);
    snprintf (pointer, sizeof pointer, "/parameters%s", field);
    registry_pack_report (c->errors, c->doc, c->file, pointer, "%s", message);
    return NULL;
}

//  A script runner's entry point that is not there: reported in the load
//  log, not refused (StackStorm registers such an action; running it fails).
static void
s_entry_point_exists (registry_pack_check_t *c, const char *pack_dir)
{
    const char *runner = registry_pack_str (c->root, "runner_type", "");
    const char *entry = registry_pack_str (c->root, "entry_point", "");
    if (!*entry ||
        (strcmp (runner, "local-shell-script") && strcmp (runner, "python-script") &&
         strcmp (runner, "remote-shell-script") && strcmp (runner, "orquesta") &&
         strcmp (runner, "action-chain")))
        return;
    char *path = zsys_sprintf ("%s/actions/%s", pack_dir, entry);
    struct stat st;
    if (path && stat (path, &st) != 0) {
        char text[600];
        snprintf (text, sizeof text,
                  "entry_point: %s is missing (the action loads; running it fails)",
                  path);
        s_warn (c, "/entry_point", text);
    }
    zstr_free (&path);
}

//  A workflow action's definition (orquesta, action-chain) checked when its
//  pack loads: unknown tasks, unreachable ones, bad expressions, cycles
//  with no exit, each with its file and line (workflow/workflow.h). A bad
//  Orquesta workflow refuses its action only; a bad chain is warned of and
//  loads, as StackStorm registers it. 0 or -1 after reporting.
static int
s_workflow_valid (registry_pack_check_t *c, const char *pack_dir)
{
    const char *runner = registry_pack_str (c->root, "runner_type", "");
    const char *entry = registry_pack_str (c->root, "entry_point", "");
    if (strcmp (runner, "orquesta") && strcmp (runner, "action-chain"))
        return 0;
    if (!*entry || strstr (entry, "..") || entry[0] == '/') {
        registry_pack_report (c->errors, c->doc, c->file, "/entry_point",
                              "entry_point: a %s action names its definition, a file "
                              "inside the pack's actions folder",
                              runner);
        return -1;
    }
    char *path = zsys_sprintf ("%s/actions/%s", pack_dir, entry);
    struct stat st;
    if (path && stat (path, &st) != 0) {
        zstr_free (&path);
        return 0; //  reported by s_entry_point_exists: loads, fails to run
    }
    char *error = NULL;
    workflow_spec_t *spec = path ? workflow_spec_load (path, runner, &error) : NULL;
    bool valid = spec != NULL;
    //  An action-chain StackStorm registers and fails when it runs (a node
    //  that is not there): warned in the load log, loaded, fails to run
    bool chain = !strcmp (runner, "action-chain") && error;
    if (chain) {
        char text[2048];
        snprintf (text, sizeof text,
                  "entry_point: %s (the action loads; running it "
                  "fails)",
                  error);
        s_warn (c, "/entry_point", text);
        valid = true;
    } else if (!valid)
        registry_pack_report (c->errors, c->doc, c->file, "/entry_point",
                              "entry_point: %s", error ? error : "out of memory");
    workflow_spec_destroy (&spec);
    free (error);
    zstr_free (&path);
    return valid ? 0 : -1;
}

//  The normalised definition of an action that passed s_action_valid.
static json_t *
s_action_build (registry_pack_check_t *c, const char *pack, const char *pack_dir,
                json_t *params)
{
    const char *name = registry_pack_str (c->root, "name", "");
    const char *runner = registry_pack_str (c->root, "runner_type", "");
    const char *entry = registry_pack_str (c->root, "entry_point", "");
    const json_t *timeout = json_object_get (c->root, "timeout");
    json_t *action = json_object ();
    json_object_set_new (action, "ref", json_sprintf ("%s.%s", pack, name));
    json_object_set_new (action, "pack", json_string (pack));
    json_object_set_new (action, "name", json_string (name));
    json_object_set_new (action, "runner_type", json_string (runner));
    json_object_set_new (action, "entry_point", json_string (entry));
    json_object_set_new (action, "description",
                         json_string (registry_pack_str (c->root, "description", "")));
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
    json_object_set_new (action, "parameters", params);
    //  StackStorm's notify block: the executor raises notifytrigger from it
    if (json_is_object (json_object_get (c->root, "notify")))
        json_object_set (action, "notify", json_object_get (c->root, "notify"));
    json_object_set_new (action, "file", json_string (c->file));
    json_object_set_new (action, "pack_dir", json_string (pack_dir));
    return action;
}

json_t *
registry_pack_action_load (registry_pack_check_t *c, const char *pack,
                           const char *pack_dir)
{
    if (s_action_valid (c, pack))
        return NULL;
    json_t *params = s_action_params (c);
    if (!params)
        return NULL;
    s_entry_point_exists (c, pack_dir);
    if (s_workflow_valid (c, pack_dir) != 0) {
        json_decref (params);
        return NULL;
    }
    return s_action_build (c, pack, pack_dir, params);
}
