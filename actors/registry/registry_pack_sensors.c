/*  registry_pack_sensors: what attune reads of a pack's sensors/ folder
    today (the trigger types its sensors declare) and the folders it does not
    read, named once in the load log. See registry_pack.h. */
#include "actors/registry/registry_pack.h"
#include "actors/registry/registry_pack_internal.h"

#include <dirent.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>

//  The trigger types of one sensor definition into `into`.
static void
s_sensor_file (const char *file, const char *pack, json_t *into, zlist_t *errors)
{
    char message[1024];
    registry_yaml_t *doc = registry_yaml_load (file, message, sizeof message);
    if (!doc) {
        registry_pack_report (errors, NULL, file, NULL, "%s", message);
        return;
    }
    const json_t *types = json_object_get (registry_yaml_root (doc), "trigger_types");
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
        json_decref (def);
    }
    registry_yaml_destroy (&doc);
}

void
registry_pack_sensor_triggers (const char *pack_dir, const char *pack, json_t *into,
                               zlist_t *errors)
{
    const char *patterns[] = {"%s/sensors/*.yaml", "%s/sensors/*.yml"};
    for (int p = 0; p < 2; p++) {
        char *pattern = zsys_sprintf (patterns[p], pack_dir);
        glob_t found;
        if (pattern && glob (pattern, 0, NULL, &found) == 0) {
            for (size_t i = 0; i < found.gl_pathc; i++)
                s_sensor_file (found.gl_pathv[i], pack, into, errors);
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
    if (s_is_dir (pack_dir, "sensors"))
        s_skip (skipped, pack, "sensors/",
                "sensors are not run (Python sensors: issue 19); the trigger types "
                "they declare are loaded");
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
