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

void
registry_pack_ignored_folders (const char *pack_dir, const char *pack)
{
    static const char *const folders[][2] = {
        {"aliases", "action aliases (ChatOps) are not read"},
        {"sensors", "sensors are not run (Python sensors: issue 19); the trigger "
                    "types they declare are loaded"},
    };
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++) {
        char *path = zsys_sprintf ("%s/%s", pack_dir, folders[i][0]);
        struct stat st;
        if (path && stat (path, &st) == 0 && S_ISDIR (st.st_mode))
            zsys_info ("pack %s: %s/ skipped: %s", pack, folders[i][0], folders[i][1]);
        zstr_free (&path);
    }
}
