/*  rules_set: the rules actor's compiled copy of the rule definitions.

    Each definition (the JSON object registry_pack makes: ref, enabled,
    trigger {type, parameters}, criteria, action {ref, parameters}) is
    compiled once when it is added or changed: criteria through
    rules_criteria, nothing parsed again per event. Enabled rules are
    indexed by trigger type (rebuilt lazily after a change), sorted by ref so
    evaluation order is stable.
*/
#ifndef RULES_SET_H_INCLUDED
#define RULES_SET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "actors/rules/rules_criteria.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char *ref;
    char *trigger;              //  trigger type ref
    json_t *trigger_parameters; //  object (defaults applied by the registry)
    rules_criteria_t *criteria; //  compiled; always set
    char *action;               //  action ref
    json_t *action_parameters;  //  object of templates
    bool enabled;
    json_t *definition; //  as received, to skip unchanged updates
} rules_rule_t;

typedef struct _rules_set_t rules_set_t;

rules_set_t *rules_set_new (void);
void rules_set_destroy (rules_set_t **self_p);

//  Add, replace or (definition NULL) remove the rule `ref`. An unchanged
//  definition is a no-op. Returns 0, or -1 with `message` set when the
//  definition cannot be used (the rule is then dropped from the set).
int rules_set_put (rules_set_t *self, const char *ref, const json_t *definition,
                   char *message, size_t message_size);

//  The enabled rules of trigger type `trigger`, sorted by ref; *count is
//  set (0 and NULL when none). Borrowed: valid until the next put.
rules_rule_t *const *rules_set_for_trigger (rules_set_t *self, const char *trigger,
                                            size_t *count);

//  The rule `ref` (enabled or not), or NULL. Borrowed: valid until the
//  next put.
rules_rule_t *rules_set_get (rules_set_t *self, const char *ref);

//  A rule compiled apart from any set (the rule tester's rule from a file).
//  NULL with `message` set. rules_rule_destroy frees it.
rules_rule_t *rules_rule_compile (const char *ref, const json_t *definition,
                                  char *message, size_t message_size);
void rules_rule_destroy (rules_rule_t **rule_p);

//  Rules held (enabled or not), and enabled ones.
size_t rules_set_size (rules_set_t *self);
size_t rules_set_enabled (rules_set_t *self);

//  Deep equality where numbers compare by value (1 == 1.0).
bool rules_json_same (const json_t *a, const json_t *b);

#ifdef __cplusplus
}
#endif

#endif
