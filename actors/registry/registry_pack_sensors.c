/*  registry_pack_sensors: what attune reads of a pack's sensors/ folder
    (the trigger types its sensors declare, the sensors the sensor actor runs) and the folders it does not
    read, named once in the load log. See registry_pack.h. */
#include "actors/registry/registry_pack.h"
#include "actors/registry/registry_pack_internal.h"

#include <dirent.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>

//  The sensor itself: {ref, pack, name, class_name, entry_point (absolute),
//  pack_dir, description, enabled, poll_interval, trigger_types, file}, or
//  NULL after reporting. `types` are the refs of its trigger types.
static json_t *
s_sensor_definition (registry_yaml_t *doc, const char *file, const char *pack,
                     const char *pack_dir, json_t *types, zlist_t *errors)
{
    const json_t *root = registry_yaml_root (doc);
    const char *class_name = registry_pack_str (root, "class_name", NULL);
    const char *entry = registry_pack_str (root, "entry_point", NULL);
    const json_t *poll = json_object_get (root, "poll_interval");
    const json_t *enabled = json_object_get (root, "enabled");
    const char *pointer = NULL, *reason = NULL;
    if (!class_name || !registry_pack_action_name_valid (class_name))
        pointer = "/class_name", reason = "required: a name (letters, digits, _ - .)";
    else if (!entry || !*entry || strstr (entry, ".."))
        pointer = "/entry_point", reason = "required: a file in the pack's sensors/";
    else if (poll && !json_is_null (poll) && !json_is_number (poll))
        pointer = "/poll_interval", reason = "expected a number of seconds";
    else if (enabled && !json_is_boolean (enabled))
        pointer = "/enabled", reason = "expected true or false";
    if (pointer) {
        registry_pack_report (errors, doc, file, pointer, "%s: %s", pointer + 1, reason);
        return NULL;
    }
    char *path = entry[0] == '/' ? strdup (entry)
                                 : zsys_sprintf ("%s/sensors/%s", pack_dir, entry);
    json_t *def = json_pack (
        "{s:s++, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:O, s:O, s:s}", "ref", pack, ".",
        class_name, "pack", pack, "name", class_name, "class_name", class_name,
        "entry_point", path ? path : "", "pack_dir", pack_dir, "description",
        registry_pack_str (root, "description", ""), "enabled", !json_is_false (enabled),
        "poll_interval", poll && json_is_number (poll) ? (json_t *)poll : json_null (),
        "trigger_types", types, "file", file);
    free (path);
    return def;
}

//  The trigger types of one sensor definition into `into`, the sensor into
//  `sensors`.
static void
s_sensor_file (const char *file, const char *pack, const char *pack_dir, json_t *into,
               json_t *sensors, zlist_t *errors)
{
    char message[1024];
    registry_yaml_t *doc = registry_yaml_load (file, message, sizeof message);
    if (!doc) {
        registry_pack_report (errors, NULL, file, NULL, "%s", message);
        return;
    }
    const json_t *types = json_object_get (registry_yaml_root (doc), "trigger_types");
    json_t *refs = json_array ();
    size_t i;
    json_t *type;
    json_array_foreach (types, i, type)
    {
        char origin[1100];
        int line = registry_yaml_line (doc, "/trigger_types");
        snprintf (origin, sizeof origin, line > 0 ? "%s:%d" : "%s", file, line);
        json_t *def = registry_pack_trigger (type, pack, origin, errors);
        if (!def)
            continue;
        const char *ref = json_string_value (json_object_get (def, "ref"));
        if (!json_object_get (into, ref))
            json_object_set (into, ref, def);
        json_array_append_new (refs, json_string (ref));
        json_decref (def);
    }
    json_t *sensor =
        sensors ? s_sensor_definition (doc, file, pack, pack_dir, refs, errors) : NULL;
    const char *ref = json_string_value (json_object_get (sensor, "ref"));
    if (ref && json_object_get (sensors, ref))
        registry_pack_report (errors, doc, file, "/class_name",
                              "class_name: sensor %s is defined twice", ref);
    else if (ref)
        json_object_set (sensors, ref, sensor);
    json_decref (sensor);
    json_decref (refs);
    registry_yaml_destroy (&doc);
}

void
registry_pack_sensor_triggers (const char *pack_dir, const char *pack, json_t *into,
                               json_t *sensors, zlist_t *errors)
{
    const char *patterns[] = {"%s/sensors/*.yaml", "%s/sensors/*.yml"};
    for (int p = 0; p < 2; p++) {
        char *pattern = zsys_sprintf (patterns[p], pack_dir);
        glob_t found;
        if (pattern && glob (pattern, 0, NULL, &found) == 0) {
            for (size_t i = 0; i < found.gl_pathc; i++)
                s_sensor_file (found.gl_pathv[i], pack, pack_dir, into, sensors, errors);
            globfree (&found);
        }
        zstr_free (&pattern);
    }
}

//  Append {path, reason} to `skipped` and say it once in the log.
static void
s_skip (json_t *skipped, const char *pack, const char *path, const char *reason)
{
    zsys_info ("pack %s: %s skipped: %s", pack, path, reason);
    json_array_append_new (skipped,
                           json_pack ("{s:s, s:s}", "path", path, "reason", reason));
}

static bool
s_is_dir (const char *pack_dir, const char *name)
{
    char *path = zsys_sprintf ("%s/%s", pack_dir, name);
    struct stat st;
    bool dir = path && stat (path, &st) == 0 && S_ISDIR (st.st_mode);
    zstr_free (&path);
    return dir;
}

//  Files in a definitions folder that are not YAML definitions.
static void
s_skip_files (json_t *skipped, const char *pack_dir, const char *pack, const char *folder)
{
    char *path = zsys_sprintf ("%s/%s", pack_dir, folder);
    DIR *dir = path ? opendir (path) : NULL;
    zstr_free (&path);
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        const char *name = entry->d_name;
        size_t n = strlen (name);
        bool yaml = (n > 5 && streq (name + n - 5, ".yaml")) ||
                    (n > 4 && streq (name + n - 4, ".yml"));
        if (name[0] == '.' || yaml)
            continue;
        char relative[600];
        snprintf (relative, sizeof relative, "%s/%s", folder, name);
        s_skip (skipped, pack, relative, "not a YAML definition");
    }
    if (dir)
        closedir (dir);
}

json_t *
registry_pack_skipped (const char *pack_dir, const char *pack)
{
    //  The folders attune reads, and those it reads a part of
    static const char *const read[] = {"actions", "rules",   "triggers", "policies",
                                       "wheels",  "sensors", "aliases",  NULL};
    json_t *skipped = json_array ();
    if (s_is_dir (pack_dir, "aliases"))
        s_skip (skipped, pack, "aliases/", "action aliases (ChatOps) are not read");
    const char *folders[] = {"rules", "triggers", "policies"};
    for (size_t i = 0; i < 3; i++)
        s_skip_files (skipped, pack_dir, pack, folders[i]);
    DIR *dir = opendir (pack_dir);
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        const char *name = entry->d_name;
        bool known = name[0] == '.';
        for (size_t i = 0; read[i] && !known; i++)
            known = streq (name, read[i]);
        if (known || !s_is_dir (pack_dir, name))
            continue;
        char relative[300];
        snprintf (relative, sizeof relative, "%s/", name);
        s_skip (skipped, pack, relative, "not a folder attune reads");
    }
    if (dir)
        closedir (dir);
    return skipped;
}
