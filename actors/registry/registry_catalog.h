/*  registry_catalog: every definition the registry knows, by kind and ref:
    packs, actions, rules, trigger types (the built-in core.st2.* ones
    included) and policies, loaded from pack folders (registry_pack.h) or
    put by the api. Rules are checked against the actions and trigger types
    they name; definitions are normalised JSON objects (registry_pack.h).
    Actions are kept packed (registry_packed.h, issue 17: ~1.3 KiB an
    action in tests/test_st2_memory.c, not ~5.2) and decoded when read.
*/
#ifndef REGISTRY_CATALOG_H_INCLUDED
#define REGISTRY_CATALOG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>
#include <jansson.h>
#include "actors/registry/registry_packed.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _registry_catalog_t registry_catalog_t;

//  New catalog holding the built-in trigger types only.
registry_catalog_t *registry_catalog_new (void);
void registry_catalog_destroy (registry_catalog_t **self_p);

//  Load every pack in `dir` (each subdirectory holding a pack.yaml), then
//  check references across packs (a rule's action and trigger type). Each
//  error is appended to `errors`, which must be an autofree list
//  (zlist_autofree: it keeps copies); NULL logs them instead. Returns the number of packs loaded, -1 if `dir` cannot be read.
int registry_catalog_load_dir (registry_catalog_t *self, const char *dir,
                               zlist_t *errors);

//  Load one pack directory (no cross-pack reference check). 0 or -1.
int registry_catalog_load_pack (registry_catalog_t *self, const char *pack_dir,
                                zlist_t *errors);

//  Check every rule's references; drops the rules that fail. Returns the
//  number of rules dropped.
int registry_catalog_check (registry_catalog_t *self, zlist_t *errors);

//  Add or replace a rule from a parsed definition (API, tests). `origin`
//  names it in errors. 0 or -1 with `message` set.
int registry_catalog_put_rule (registry_catalog_t *self, const json_t *definition,
                               const char *origin, char *message, size_t message_size);

//  Add or replace a trigger type from a definition (API): `pack`, `name`,
//  and optionally `description`, `parameters_schema`, `payload_schema`, as
//  in triggers/*.yaml. 0; -1 (`message` says why) when it does not load;
//  -2 for a built-in type (core.st2.*), which cannot be replaced.
int registry_catalog_put_trigger (registry_catalog_t *self, const json_t *definition,
                                  const char *origin, char *message, size_t message_size);

//  Remove a trigger type. 0; -1 when unknown; -2 when it is built in or a
//  rule uses it (`message` names the rules).
int registry_catalog_delete_trigger (registry_catalog_t *self, const char *ref,
                                     char *message, size_t message_size);

//  Definitions by ref (borrowed; NULL when unknown). An action is decoded
//  and kept decoded until the catalog's actions change (a pack loaded or
//  dropped): for tests and tools; the registry reads the packed actions.
const json_t *registry_catalog_action (registry_catalog_t *self, const char *ref);
const json_t *registry_catalog_rule (registry_catalog_t *self, const char *ref);
const json_t *registry_catalog_trigger (registry_catalog_t *self, const char *ref);
const json_t *registry_catalog_pack (registry_catalog_t *self, const char *ref);

//  All definitions of a kind as an object ref -> definition (borrowed).
//  Actions: every one decoded as registry_catalog_action does, costing their
//  trees again (tests, tools); the registry reads them packed:
const json_t *registry_catalog_actions (registry_catalog_t *self);
//  The actions, packed (borrowed; changes with the catalog).
registry_packed_t *registry_catalog_packed_actions (registry_catalog_t *self);
const json_t *registry_catalog_rules (registry_catalog_t *self);
const json_t *registry_catalog_triggers (registry_catalog_t *self);
const json_t *registry_catalog_packs (registry_catalog_t *self);
//  Policies (policies/*.yaml): ref -> {ref, pack, name, description, enabled,
//  resource_ref, policy_type, parameters (defaults filled in), file}.
const json_t *registry_catalog_policies (registry_catalog_t *self);
//  Sensors (sensors/*.yaml): ref -> registry_pack_sensors' definition.
const json_t *registry_catalog_sensors (registry_catalog_t *self);

//  A deep copy (NULL when out of memory).
registry_catalog_t *registry_catalog_copy (const registry_catalog_t *self);

//  Remove pack `pack` and every definition of it (built-in trigger types
//  stay).
void registry_catalog_drop_pack (registry_catalog_t *self, const char *pack);

//  Remove a rule. 0, or -1 when unknown.
int registry_catalog_delete_rule (registry_catalog_t *self, const char *ref);

#ifdef __cplusplus
}
#endif

#endif
