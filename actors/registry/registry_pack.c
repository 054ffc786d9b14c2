/*  registry_pack: reading packs: pack.yaml, and the actions, rules and
    trigger types in their folders (policies: registry_pack_policy.c),
    checked and normalised. See registry_pack.h.
*/
#include "actors/registry/registry_pack.h"
#include "actors/registry/registry_pack_internal.h"
#include "proto/proto_messages.h"
#include "actors/registry/registry_params.h"
#include "actors/registry/registry_runners.h"
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

bool
registry_runner_known (const char *runner)
{
    return registry_runners_state (runner) == REGISTRY_RUNNER_AVAILABLE;
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
void
registry_pack_report (zlist_t *errors, registry_yaml_t *doc, const char *file,
                      const char *pointer, const char *format, ...)
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

bool
registry_pack_action_name_valid (const char *name)
{
    if (!name || !*name || strlen (name) > 128 || name[0] == '.')
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum ((unsigned char)*c) && !strchr ("_-.", *c))
            return false;
    return true;
}

bool
registry_pack_name_valid (const char *name)
{
    if (!name || !*name || strlen (name) > 128)
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum ((unsigned char)*c) && *c != '_' && *c != '-')
            return false;
    return true;
}

int
registry_pack_check_keys (registry_pack_check_t *c, const char *const *known,
                          const char *const *ignored)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)c->root, key, value)
    {
        if (!s_in (key, known) && !s_in (key, ignored)) {
            char pointer[300];
            snprintf (pointer, sizeof pointer, "/%s", key);
            registry_pack_report (c->errors, c->doc, c->file, pointer,
                                  "%s: unknown field", key);
            return -1;
        }
    }
    return 0;
}

int
registry_pack_check_string (registry_pack_check_t *c, const char *key, bool required)
{
    const json_t *value = json_object_get (c->root, key);
    char pointer[128];
    snprintf (pointer, sizeof pointer, "/%s", key);
    if (!value || json_is_null (value)) {
        if (required) {
            registry_pack_report (c->errors, c->doc, c->file, "",
                                  "%s: required field missing", key);
            return -1;
        }
        return 0;
    }
    if (!json_is_string (value)) {
        registry_pack_report (c->errors, c->doc, c->file, pointer,
                              "%s: expected a string", key);
        return -1;
    }
    return 0;
}

int
registry_pack_check_bool (registry_pack_check_t *c, const char *key)
{
    const json_t *value = json_object_get (c->root, key);
    if (value && !json_is_boolean (value)) {
        char pointer[128];
        snprintf (pointer, sizeof pointer, "/%s", key);
        registry_pack_report (c->errors, c->doc, c->file, pointer,
                              "%s: expected true or false", key);
        return -1;
    }
    return 0;
}

const char *
registry_pack_str (const json_t *object, const char *key, const char *fallback)
{
    const json_t *value = json_object_get (object, key);
    return json_is_string (value) ? json_string_value (value) : fallback;
}

//  ---------------------------------------------------------------------------
//  Rules

static const char *const s_rule_keys[] = {"name",     "pack",   "enabled",     "trigger",
                                          "criteria", "action", "description", NULL};
static const char *const s_rule_ignored[] = {
    "ref", "uid", "id", "tags", "type", "context", "metadata_file", NULL};

//  StackStorm's rule schema has no notify (the rule's and its action's
//  additionalProperties are false): notifications come from the action
static const char s_rule_notify[] =
    "notify: a rule has no notify block (StackStorm's rule schema refuses one too): "
    "put it in the action's metadata (actions/NAME.yaml), whose notify raises "
    "core.st2.generic.notifytrigger for every execution of the action";

//  The rule's fields, name and pack: `*pack` is the pack it is in, or
//  (NULL) becomes the one it declares. 0, or -1 after reporting.
static int
s_rule_head_valid (registry_pack_check_t *c, const char **pack)
{
    if (!json_is_object (c->root)) {
        registry_pack_report (c->errors, c->doc, c->file, "", "a rule must be a mapping");
        return -1;
    }
    if (json_object_get (c->root, "notify")) {
        registry_pack_report (c->errors, c->doc, c->file, "/notify", "%s", s_rule_notify);
        return -1;
    }
    if (registry_pack_check_keys (c, s_rule_keys, s_rule_ignored) ||
        registry_pack_check_string (c, "name", true) ||
        registry_pack_check_string (c, "pack", false) ||
        registry_pack_check_string (c, "description", false) ||
        registry_pack_check_bool (c, "enabled"))
        return -1;
    const char *name = registry_pack_str (c->root, "name", "");
    if (!registry_pack_name_valid (name)) {
        registry_pack_report (c->errors, c->doc, c->file, "/name",
                              "name: \"%s\" must be 1-128 letters, digits, '_' or '-'",
                              name);
        return -1;
    }
    const char *declared = registry_pack_str (c->root, "pack", NULL);
    if (!*pack)
        *pack = declared;
    if (!*pack || !registry_pack_name_valid (*pack)) {
        registry_pack_report (c->errors, c->doc, c->file, "/pack",
                              "pack: a rule needs its pack");
        return -1;
    }
    if (declared && strcmp (declared, *pack)) {
        registry_pack_report (c->errors, c->doc, c->file, "/pack",
                              "pack: \"%s\" but the file is in pack \"%s\"", declared,
                              *pack);
        return -1;
    }
    return 0;
}

//  The trigger (a mapping with a type and parameters) and the criteria
//  (they compile). 0, or -1 after reporting; `message` is scratch room.
static int
s_rule_when_valid (registry_pack_check_t *c, char *message, size_t message_size)
{
    const json_t *trigger = json_object_get (c->root, "trigger");
    if (!json_is_object (trigger) ||
        !json_is_string (json_object_get (trigger, "type"))) {
        registry_pack_report (
            c->errors, c->doc, c->file, "/trigger",
            "trigger: expected a mapping with a type (e.g. core.st2.IntervalTimer)");
        return -1;
    }
    const json_t *tparams = json_object_get (trigger, "parameters");
    if (tparams && !json_is_null (tparams) && !json_is_object (tparams)) {
        registry_pack_report (c->errors, c->doc, c->file, "/trigger/parameters",
                              "trigger.parameters: expected a mapping");
        return -1;
    }
    const json_t *criteria = json_object_get (c->root, "criteria");
    char field[256] = "";
    rules_criteria_t *compiled =
        rules_criteria_new (criteria, field, sizeof field, message, message_size);
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
        registry_pack_report (c->errors, c->doc, c->file, pointer, "%s", message);
        return -1;
    }
    rules_criteria_destroy (&compiled);
    return 0;
}

//  The action: a mapping with a ref, and parameters whose templates
//  compile. 0, or -1 after reporting; `message` is scratch room.
static int
s_rule_action_valid (registry_pack_check_t *c, char *message, size_t message_size)
{
    const json_t *action = json_object_get (c->root, "action");
    if (!json_is_object (action) || !json_is_string (json_object_get (action, "ref"))) {
        registry_pack_report (c->errors, c->doc, c->file, "/action",
                              "action: expected a mapping with a ref (e.g. core.echo)");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)action, key, value)
    {
        if (streq (key, "ref") || streq (key, "parameters") || streq (key, "description"))
            continue;
        char pointer[300];
        snprintf (pointer, sizeof pointer, "/action/%s", key);
        if (streq (key, "notify"))
            registry_pack_report (c->errors, c->doc, c->file, pointer, "action.%s",
                                  s_rule_notify);
        else
            registry_pack_report (c->errors, c->doc, c->file, pointer,
                                  "action.%s: unknown field (a rule's action has ref, "
                                  "parameters and description)",
                                  key);
        return -1;
    }
    const json_t *aparams = json_object_get (action, "parameters");
    if (aparams && !json_is_null (aparams) && !json_is_object (aparams)) {
        registry_pack_report (c->errors, c->doc, c->file, "/action/parameters",
                              "action.parameters: expected a mapping");
        return -1;
    }
    if (aparams &&
        rules_template_check (aparams, "action.parameters", message, message_size)) {
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
        registry_pack_report (c->errors, c->doc, c->file, pointer, "%s", message);
        return -1;
    }
    return 0;
}

//  The normalised definition of a rule that passed the checks.
static json_t *
s_rule_build (registry_pack_check_t *c, const char *pack)
{
    const char *name = registry_pack_str (c->root, "name", "");
    const json_t *trigger = json_object_get (c->root, "trigger");
    const json_t *tparams = json_object_get (trigger, "parameters");
    const json_t *criteria = json_object_get (c->root, "criteria");
    const json_t *action = json_object_get (c->root, "action");
    const json_t *aparams = json_object_get (action, "parameters");
    json_t *rule = json_object ();
    json_object_set_new (rule, "ref", json_sprintf ("%s.%s", pack, name));
    json_object_set_new (rule, "pack", json_string (pack));
    json_object_set_new (rule, "name", json_string (name));
    json_object_set_new (rule, "description",
                         json_string (registry_pack_str (c->root, "description", "")));
    json_object_set_new (
        rule, "enabled",
        json_boolean (!json_is_false (json_object_get (c->root, "enabled"))));
    json_t *t = json_object ();
    json_object_set_new (t, "type",
                         json_string (registry_pack_str (trigger, "type", "")));
    json_object_set_new (t, "parameters",
                         json_is_object (tparams) ? json_deep_copy (tparams)
                                                  : json_object ());
    json_object_set_new (rule, "trigger", t);
    json_object_set_new (rule, "criteria",
                         json_is_object (criteria) ? json_deep_copy (criteria)
                                                   : json_object ());
    json_t *a = json_object ();
    json_object_set_new (a, "ref", json_string (registry_pack_str (action, "ref", "")));
    json_object_set_new (a, "parameters",
                         json_is_object (aparams) ? json_deep_copy (aparams)
                                                  : json_object ());
    json_object_set_new (rule, "action", a);
    json_object_set_new (rule, "file", json_string (c->file));
    return rule;
}

//  Validate a rule definition against the syntax rules (not references).
static json_t *
s_load_rule (registry_pack_check_t *c, const char *pack)
{
    char message[512] = "";
    if (s_rule_head_valid (c, &pack) || s_rule_when_valid (c, message, sizeof message) ||
        s_rule_action_valid (c, message, sizeof message))
        return NULL;
    return s_rule_build (c, pack);
}

//  ---------------------------------------------------------------------------
//  Triggers

static const char *const s_trigger_keys[] = {
    "name", "pack", "description", "parameters_schema", "payload_schema", NULL};
static const char *const s_trigger_ignored[] = {"ref",  "uid",           "id",
                                                "tags", "metadata_file", NULL};

//  A schema in JSON Schema's shape ({type: object, ...}), not the flat one.
static bool
s_json_schema (const json_t *schema)
{
    return json_is_string (json_object_get (schema, "type"));
}

static json_t *
s_load_trigger (registry_pack_check_t *c, const char *pack)
{
    if (registry_pack_check_keys (c, s_trigger_keys, s_trigger_ignored) ||
        registry_pack_check_string (c, "name", true) ||
        registry_pack_check_string (c, "description", false))
        return NULL;
    const char *name = registry_pack_str (c->root, "name", "");
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') {
            registry_pack_report (c->errors, c->doc, c->file, "/name",
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
        //  {type: object} with no properties is JSON Schema too
        if (schema && !json_is_object (props) && !s_json_schema (schema) &&
            registry_params_check_schema (flat, field, sizeof field, message,
                                          sizeof message)) {
            char pointer[300];
            snprintf (pointer, sizeof pointer, "/%s%s", keys[i], field);
            registry_pack_report (c->errors, c->doc, c->file, pointer, "%s: %s", keys[i],
                                  message);
            return NULL;
        }
    }
    json_t *trigger = json_object ();
    json_object_set_new (trigger, "ref", json_sprintf ("%s.%s", pack, name));
    json_object_set_new (trigger, "pack", json_string (pack));
    json_object_set_new (trigger, "name", json_string (name));
    json_object_set_new (trigger, "description",
                         json_string (registry_pack_str (c->root, "description", "")));
    for (int i = 0; i < 2; i++) {
        const json_t *schema = json_object_get (c->root, keys[i]);
        const json_t *props = json_object_get (schema, "properties");
        const json_t *use = json_is_object (props)   ? props
                            : s_json_schema (schema) ? NULL
                                                     : schema;
        json_object_set_new (trigger, keys[i],
                             json_is_object (use) ? json_deep_copy (use)
                                                  : json_object ());
    }
    json_object_set_new (trigger, "file", json_string (c->file));
    return trigger;
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

typedef json_t *(loader_fn)(registry_pack_check_t *c, const char *pack,
                            const char *pack_dir);

static json_t *
s_action_loader (registry_pack_check_t *c, const char *pack, const char *pack_dir)
{
    return registry_pack_action_load (c, pack, pack_dir);
}

static json_t *
s_rule_loader (registry_pack_check_t *c, const char *pack, const char *pack_dir)
{
    return s_load_rule (c, pack);
}

static json_t *
s_trigger_loader (registry_pack_check_t *c, const char *pack, const char *pack_dir)
{
    return s_load_trigger (c, pack);
}

//  registry_pack_put_fn into a JSON object
static int
s_put_json (void *arg, const char *ref, const json_t *definition, char *file,
            size_t file_size)
{
    json_t *into = (json_t *)arg;
    const json_t *old = json_object_get (into, ref);
    if (old) {
        snprintf (file, file_size, "%s", registry_pack_str (old, "file", "?"));
        return -1;
    }
    json_object_set (into, ref, (json_t *)definition);
    return 0;
}

void
registry_pack_load_folder (const char *pack_dir, const char *pack,
                           registry_pack_folder_t folder, json_t *into, zlist_t *errors)
{
    registry_pack_load_folder_to (pack_dir, pack, folder, s_put_json, into, errors);
}

void
registry_pack_load_folder_to (const char *pack_dir, const char *pack,
                              registry_pack_folder_t folder, registry_pack_put_fn *put,
                              void *arg, zlist_t *errors)
{
    static const char *const names[] = {[REGISTRY_PACK_TRIGGERS] = "triggers",
                                        [REGISTRY_PACK_ACTIONS] = "actions",
                                        [REGISTRY_PACK_RULES] = "rules",
                                        [REGISTRY_PACK_POLICIES] = "policies"};
    static loader_fn *const loaders[] = {[REGISTRY_PACK_TRIGGERS] = s_trigger_loader,
                                         [REGISTRY_PACK_ACTIONS] = s_action_loader,
                                         [REGISTRY_PACK_RULES] = s_rule_loader,
                                         [REGISTRY_PACK_POLICIES] =
                                             registry_pack_policy_load};
    loader_fn *loader = loaders[folder];
    char *dir = zsys_sprintf ("%s/%s", pack_dir, names[folder]);
    char **files;
    int count = s_yaml_files (dir, &files);
    if (count < 0)
        registry_pack_report (errors, NULL, dir, NULL, "cannot read the folder: %s",
                              strerror (errno));
    for (int i = 0; i < count; i++) {
        char message[1024];
        registry_yaml_t *doc = registry_yaml_load (files[i], message, sizeof message);
        if (!doc)
            s_push (errors, message);
        else if (!json_is_object (registry_yaml_root (doc)))
            registry_pack_report (errors, doc, files[i], "",
                                  "expected a mapping of fields");
        else {
            registry_pack_check_t c = {errors, doc, files[i], registry_yaml_root (doc)};
            json_t *def = loader (&c, pack, pack_dir);
            if (def) {
                const char *ref = json_string_value (json_object_get (def, "ref"));
                char old[600];
                if (put (arg, ref, def, old, sizeof old) != 0)
                    registry_pack_report (errors, doc, files[i], "/name",
                                          "name: %s is also defined in %s", ref, old);
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
registry_pack_dirs (const char *dir, char ***paths_p)
{
    *paths_p = NULL;
    DIR *d = opendir (dir);
    if (!d)
        return -1;
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
    if (names)
        qsort (names, count, sizeof (char *), s_compare);
    *paths_p = names;
    return (int)count;
}

//  ---------------------------------------------------------------------------
//  Packs

//  The pack definition of a pack.yaml whose fields passed the checks; NULL
//  after reporting when its version, ref or uniqueness is wrong.
static json_t *
s_pack_build (registry_pack_check_t *c, const char *pack_dir, const json_t *packs)
{
    const json_t *root = c->root;
    const json_t *version = json_object_get (root, "version");
    const char *ref =
        registry_pack_str (root, "ref", registry_pack_str (root, "name", ""));
    if (version && !json_is_string (version) && !json_is_number (version)) {
        registry_pack_report (c->errors, c->doc, c->file, "/version",
                              "version: expected a string such as 1.0.0");
        return NULL;
    }
    if (!registry_pack_name_valid (ref)) {
        registry_pack_report (
            c->errors, c->doc, c->file, json_object_get (root, "ref") ? "/ref" : "/name",
            "ref: \"%s\" must be 1-128 letters, digits, '_' or '-'", ref);
        return NULL;
    }
    if (json_object_get (packs, ref)) {
        registry_pack_report (
            c->errors, c->doc, c->file, "", "pack %s is already loaded from %s", ref,
            registry_pack_str (json_object_get (packs, ref), "dir", "?"));
        return NULL;
    }
    json_t *pack = json_object ();
    json_object_set_new (pack, "ref", json_string (ref));
    json_object_set_new (pack, "name",
                         json_string (registry_pack_str (root, "name", ref)));
    json_object_set_new (pack, "version",
                         json_is_string (version)
                             ? json_string (json_string_value (version))
                             : (version ? json_sprintf ("%g", json_number_value (version))
                                        : json_string ("0.0.0")));
    json_object_set_new (pack, "description",
                         json_string (registry_pack_str (root, "description", "")));
    json_object_set_new (pack, "dir", json_string (pack_dir));
    return pack;
}

json_t *
registry_pack_read (const char *pack_dir, const json_t *packs, zlist_t *errors)
{
    char *file = zsys_sprintf ("%s/pack.yaml", pack_dir);
    char message[1024];
    registry_yaml_t *doc = registry_yaml_load (file, message, sizeof message);
    if (!doc) {
        s_push (errors, message);
        zstr_free (&file);
        return NULL;
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
    registry_pack_check_t c = {errors, doc, file, root};
    json_t *pack = NULL;
    if (!json_is_object (root))
        registry_pack_report (errors, doc, file, "", "expected a mapping of fields");
    else if (!registry_pack_check_keys (&c, pack_keys, pack_ignored) &&
             !registry_pack_check_string (&c, "ref", false) &&
             !registry_pack_check_string (&c, "name", true) &&
             !registry_pack_check_string (&c, "description", false))
        pack = s_pack_build (&c, pack_dir, packs);
    registry_yaml_destroy (&doc);
    zstr_free (&file);
    return pack;
}

json_t *
registry_pack_rule (const json_t *definition, const char *pack, const char *origin,
                    zlist_t *errors)
{
    registry_pack_check_t c = {errors, NULL, origin, definition};
    return s_load_rule (&c, pack);
}

json_t *
registry_pack_trigger (const json_t *definition, const char *pack, const char *origin,
                       zlist_t *errors)
{
    registry_pack_check_t c = {errors, NULL, origin, definition};
    return s_load_trigger (&c, pack);
}
