/*  rules_config: `config_context` in a rule's action parameters, as
    StackStorm's: the pack config (actors/pack/pack_config.h) of the pack of
    the action the rule runs, read from <packs>/<pack> and its configs
    directory when the parameters name `config_context`.

    Rendered parameters are stored in the enforcement and the execution and
    published in facts, so a `secret: true` value renders as "********"
    here: an action that needs a secret reads it from its own config (a
    Python action's self.config), on the worker.
*/
#ifndef RULES_CONFIG_H_INCLUDED
#define RULES_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <jansson.h>

//  When `params` (templates) mention config_context, add it to `context`
//  (secrets masked; {} when the pack has no config or it does not
//  validate) and return true: take it off again with rules_config_done.
bool rules_config_add (const char *packs_dir, const char *action_ref,
                       const json_t *params, json_t *context);

void rules_config_done (json_t *context);

#endif
