/*  executor_schema: the JSON Schema subset an inquiry's response_schema is
    written in, and the check of a response against it.

    Keywords: type (object, string, number, integer, boolean, array, null,
    or a list of them), properties, required, additionalProperties (false
    or a schema), enum, items, minimum, maximum, minLength, maxLength,
    minItems, maxItems. Others (description, title, default ...) are
    accepted and ignored. Nesting is bounded (32 levels of schema).

    Errors name the failing path and the rule, as a person reads them:
        approved: expected boolean, got "yes"
        reason: required
        count: expected at most 10, got 12
    The path of the response itself is "response"; properties are joined
    with '.', items with [i].
*/
#ifndef EXECUTOR_SCHEMA_H_INCLUDED
#define EXECUTOR_SCHEMA_H_INCLUDED

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  0 when `schema` is a schema this module can check values against;
//  -1 with what is wrong and where (`properties.approved.type: unknown
//  type "bool"`) in `error`.
int executor_schema_check (const json_t *schema, char *error, size_t size);

//  0 when `value` satisfies `schema` (already checked); -1 with the first
//  failing path and rule in `error`.
int executor_schema_validate (const json_t *schema, const json_t *value, char *error,
                              size_t size);

#ifdef __cplusplus
}
#endif

#endif
