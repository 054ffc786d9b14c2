/*  registry_pack: read packs (StackStorm layout) into definitions, for the
    catalog (registry_catalog.h) to hold.

    packs/<pack>/pack.yaml            ref, name, version, description
    packs/<pack>/actions/<n>.yaml      name, runner_type, entry_point, parameters,
                                      timeout, enabled, description
    packs/<pack>/rules/<n>.yaml        name, pack, enabled, trigger {type,
                                      parameters}, criteria, action {ref,
                                      parameters}, description
    packs/<pack>/triggers/<n>.yaml     name, description, parameters_schema,
                                      payload_schema (external trigger types)

    Built-in trigger types: core.st2.IntervalTimer {unit, delta},
    core.st2.DateTimer {date, timezone}, core.st2.CronTimer {minute, hour,
    day, month, day_of_week, timezone}.

    Definitions are normalised JSON objects with a "ref" ("pack.name"), the
    "pack", and the "file" they came from. Fields StackStorm defines that
    attune does not use (tags, notify, output_schema ...) are accepted and
    ignored, so simple StackStorm packs load unchanged; fields of the wrong
    type are errors. Every error reads "<file>:<line>: <field>: <reason>" and
    skips only that definition: the other files and packs still load.
*/
#ifndef REGISTRY_PACK_H_INCLUDED
#define REGISTRY_PACK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>
#include <jansson.h>
#include "actors/registry/registry_yaml.h"
#include "proto/proto_messages.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Runners a worker can offer: one list, PROTO_RUNNERS (proto_messages.h).
#define REGISTRY_RUNNERS PROTO_RUNNERS

//  The folders of a pack, one kind of definition each.
typedef enum {
    REGISTRY_PACK_TRIGGERS, //  triggers/*.yaml
    REGISTRY_PACK_ACTIONS,  //  actions/*.yaml
    REGISTRY_PACK_RULES,    //  rules/*.yaml
    REGISTRY_PACK_POLICIES  //  policies/*.yaml
} registry_pack_folder_t;

//  Sorted paths of the packs in `dir` (its subdirectories holding a
//  pack.yaml); the caller frees each (zstr_free) and the array (which may be
//  NULL when out of memory). Returns the count, or -1 when `dir` cannot be
//  read (errno says why).
int registry_pack_dirs (const char *dir, char ***paths_p);

//  Read and check `pack_dir`/pack.yaml. Returns the pack's definition {ref,
//  name, version, description, dir} (caller owns it), or NULL after
//  reporting to `errors`; a ref already in `packs` is an error.
json_t *registry_pack_read (const char *pack_dir, const json_t *packs, zlist_t *errors);

//  Load the definitions in one folder of pack `pack` (in `pack_dir`) into
//  `into` (ref -> definition). A definition that does not load, and a ref
//  `into` already holds, are reported to `errors` and skipped.
void registry_pack_load_folder (const char *pack_dir, const char *pack,
                                registry_pack_folder_t folder, json_t *into,
                                zlist_t *errors);

//  Where registry_pack_load_folder_to puts each definition it loads: keeps
//  `definition` (borrowed) as `ref` and returns 0, or returns -1 when `ref`
//  is taken, with the file that defines the one there in `file`.
typedef int (registry_pack_put_fn) (void *arg, const char *ref, const json_t *definition,
                                    char *file, size_t file_size);

//  The same, each definition handed to `put` as it loads (the catalog packs
//  its actions so, registry_packed.h).
void registry_pack_load_folder_to (const char *pack_dir, const char *pack,
                                   registry_pack_folder_t folder,
                                   registry_pack_put_fn *put, void *arg, zlist_t *errors);

//  The trigger types the sensors of pack `pack` declare (sensors/*.yaml,
//  `trigger_types`), into `into` as registry_pack_load_folder does, and
//  the sensors themselves into `sensors` (may be NULL): ref (pack.class_name)
//  -> {ref, pack, name, class_name, entry_point (absolute), pack_dir,
//  description, enabled, poll_interval, trigger_types [refs], file}.
void registry_pack_sensor_triggers (const char *pack_dir, const char *pack, json_t *into,
                                    json_t *sensors, zlist_t *errors);

//  What of `pack_dir` attune does not use (aliases/, the sensors' code,
//  folders and files of kinds it does not know), each named once in the
//  load log: an array of {path (relative to the pack), reason} (caller
//  owns it).
json_t *registry_pack_skipped (const char *pack_dir, const char *pack);

//  A rule from a parsed definition, checked against the syntax rules (not
//  its references); `pack` NULL takes the definition's own. Returns the
//  normalised definition (caller owns it), or NULL after reporting to
//  `errors` under the name `origin`.
json_t *registry_pack_rule (const json_t *definition, const char *pack,
                            const char *origin, zlist_t *errors);

//  A trigger type of pack `pack` from a parsed definition, as
//  registry_pack_rule.
json_t *registry_pack_trigger (const json_t *definition, const char *pack,
                               const char *origin, zlist_t *errors);

//  Append "<file>:<line>: <text>" (the line of the field at JSON pointer
//  `pointer` in `doc`; "<file>: <text>" without a doc) to `errors`, an
//  autofree list; NULL logs it instead.
void registry_pack_report (zlist_t *errors, registry_yaml_t *doc, const char *file,
                           const char *pointer, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

//  True when `name` is 1-128 letters, digits, '_' or '-' (a pack or an
//  action name).
bool registry_pack_name_valid (const char *name);

//  True when `name` is an action name StackStorm accepts: 1-128 letters,
//  digits, '_', '-' or '.' (chat.postMessage), not starting with '.'. The
//  ref is pack + "." + name: split it at the first dot.
bool registry_pack_action_name_valid (const char *name);

//  The string at `key` of a definition, or `fallback` when it is not one.
const char *registry_pack_str (const json_t *object, const char *key,
                               const char *fallback);

//  True when actions of `runner` load (registry_runners.h).
bool registry_runner_known (const char *runner);

#ifdef __cplusplus
}
#endif

#endif
