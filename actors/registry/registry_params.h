/*  registry_params: action parameter schemas (StackStorm's `parameters:`).

    A schema maps each parameter name to {type, required, default, enum,
    description, secret, immutable, position}; type is one of string,
    integer, number, boolean, array, object. Before an execution is created
    its parameters are checked and completed here:

    - unknown parameters are refused (StackStorm: additionalProperties false);
    - a string given for an integer, number, boolean, array or object
      parameter is converted when it parses exactly ("3" -> 3, "true" -> true,
      "[1]" -> [1]), as `st2 run` does; anything else of the wrong type is
      refused;
    - enum values are enforced; missing parameters take their default;
      immutable parameters cannot be overridden; a required parameter
      with no value is refused.

    Errors read `parameter 'count': expected integer, got "abc"`.
*/
#ifndef REGISTRY_PARAMS_H_INCLUDED
#define REGISTRY_PARAMS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Check a schema at load time. 0, or -1 with `field` (the JSON pointer below
//  the schema, e.g. "/count/type") and `message` set.
int registry_params_check_schema (const json_t *schema, char *field, size_t field_size,
                                  char *message, size_t message_size);

//  Validate `given` (an object, or NULL for none) against `schema` (NULL for
//  an action without parameters) and return the complete parameter set
//  (caller owns it), or NULL with `message` set.
json_t *registry_params_apply (const json_t *schema, const json_t *given, char *message,
                               size_t message_size);

//  The JSON types schemas name (string, integer, number, boolean, array,
//  object, null): whether `type` is one, whether `value` is of it (an
//  integer may be written 2.0), and the type name of a value.
bool registry_params_type_known (const char *type);
bool registry_params_is_type (const json_t *value, const char *type);
const char *registry_params_type_name (const json_t *value);

//  A copy of `params` with every secret parameter's value replaced by
//  "********", for logs, facts and outputs. Caller owns it.
json_t *registry_params_mask (const json_t *schema, const json_t *params);

#ifdef __cplusplus
}
#endif

#endif
