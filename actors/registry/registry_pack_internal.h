/*  registry_pack_internal: the field checks the pack loaders share
    (registry_pack.c: packs, actions, rules, trigger types;
    registry_pack_policy.c: policies). Not a public API: nothing outside
    actors/registry/ includes this file.
*/
#ifndef REGISTRY_PACK_INTERNAL_H_INCLUDED
#define REGISTRY_PACK_INTERNAL_H_INCLUDED

#include "actors/registry/registry_pack.h"
#include "actors/registry/registry_yaml.h"

//  One definition being checked: its fields (`root`), the document and file
//  they came from (for the line of an error), and where errors go.
typedef struct {
    zlist_t *errors;
    registry_yaml_t *doc;
    const char *file;
    const json_t *root;
} registry_pack_check_t;

//  Field checks. Each returns 0, or -1 after reporting.

//  Every key of the definition is in `known` or `ignored`.
int registry_pack_check_keys (registry_pack_check_t *c, const char *const *known,
                              const char *const *ignored);

//  `key` is a string (or absent / null when not `required`).
int registry_pack_check_string (registry_pack_check_t *c, const char *key, bool required);

//  `key` is absent or a boolean.
int registry_pack_check_bool (registry_pack_check_t *c, const char *key);

//  An action (actions/<name>.yaml) of pack `pack`, checked, with its runner's
//  parameters. The normalised definition (caller owns it), or NULL after
//  reporting.
json_t *registry_pack_action_load (registry_pack_check_t *c, const char *pack,
                                   const char *pack_dir);

//  A policy (policies/*.yaml) of pack `pack`: its parameters checked per
//  policy type and their defaults filled in. The normalised definition
//  (caller owns it), or NULL after reporting.
json_t *registry_pack_policy_load (registry_pack_check_t *c, const char *pack,
                                   const char *pack_dir);

#endif
