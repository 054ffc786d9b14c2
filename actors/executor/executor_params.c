/*  executor_params: an action's parameter schema applied to the given
    parameters on their msgpack form, as registry_params_apply does on JSON
    (executor_internal.h). What it cannot decide without a JSON tree (a
    value to coerce, immutable, enum, minimum, maximum, a NUL in a name) it
    leaves to registry_params_apply: the answer is the same, only slower.
*/
#include "actors/executor/executor_internal.h"

#include <math.h>

//  Whether `value` is of the schema type `type` as registry_params_is_type
//  says of its JSON form (an integer-valued float is an integer there, and
//  is made one: not here, the JSON path does it).
static bool
s_is_type (const msgpack_object *value, const char *type)
{
    bool integer = value->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                   value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
    bool real =
        value->type == MSGPACK_OBJECT_FLOAT32 || value->type == MSGPACK_OBJECT_FLOAT64;
    if (streq (type, "string"))
        return value->type == MSGPACK_OBJECT_STR;
    if (streq (type, "integer"))
        return integer;
    if (streq (type, "number"))
        return integer || real;
    if (streq (type, "boolean"))
        return value->type == MSGPACK_OBJECT_BOOLEAN;
    if (streq (type, "array"))
        return value->type == MSGPACK_OBJECT_ARRAY;
    if (streq (type, "object"))
        return value->type == MSGPACK_OBJECT_MAP;
    return false; //  "null" and unknown types: the JSON path says
}

//  The given value of parameter `name`, or NULL (absent or nil).
static const msgpack_object *
s_given (const msgpack_object *given, const char *name)
{
    const msgpack_object *value = given ? proto_map_get (given, name) : NULL;
    return value && value->type != MSGPACK_OBJECT_NIL ? value : NULL;
}

//  Given names the schema does not have: 0, or -1 with `reason`; 1 when a
//  name cannot be looked up as a C string (the JSON path says).
static int
s_unknown (const json_t *schema, const msgpack_object *given, char *reason, size_t size)
{
    for (uint32_t i = 0; given && i < given->via.map.size; i++) {
        const msgpack_object *key = &given->via.map.ptr[i].key;
        char name[256];
        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size >= sizeof name ||
            memchr (key->via.str.ptr, 0, key->via.str.size))
            return 1;
        memcpy (name, key->via.str.ptr, key->via.str.size);
        name[key->via.str.size] = 0;
        if (!json_is_object (schema) || !json_object_get (schema, name)) {
            snprintf (reason, size, "parameter '%s': the action has no such parameter",
                      name);
            return -1;
        }
    }
    return 0;
}

//  What parameter `name` of `spec` becomes: 1 a value (*value given, or
//  *fallback the default), 0 nothing, -1 failed with `reason`, 2 for the
//  JSON path.
static int
s_decide (const char *name, const json_t *spec, const msgpack_object *given,
          const msgpack_object **value, const json_t **fallback, char *reason,
          size_t size)
{
    if (json_object_get (spec, "immutable") || json_object_get (spec, "enum") ||
        json_object_get (spec, "minimum") || json_object_get (spec, "maximum"))
        return 2;
    const json_t *type = json_object_get (spec, "type");
    const char *type_name = json_is_string (type) ? json_string_value (type) : NULL;
    *value = s_given (given, name);
    *fallback = NULL;
    if (*value)
        return !type_name || s_is_type (*value, type_name) ? 1 : 2;
    const json_t *preset = json_object_get (spec, "default");
    if (preset && !json_is_null (preset)) {
        *fallback = preset;
        bool as_is =
            !type_name || (registry_params_is_type (preset, type_name) &&
                           !(json_is_real (preset) && streq (type_name, "integer")));
        return as_is ? 1 : 2;
    }
    if (json_is_true (json_object_get (spec, "required"))) {
        snprintf (reason, size, "parameter '%s': required but not given", name);
        return -1;
    }
    return 0;
}

int
executor_params_apply (const json_t *schema, const msgpack_object *given,
                       msgpack_sbuffer *out, char *reason, size_t size)
{
    int rc = s_unknown (schema, given, reason, size);
    if (rc != 0)
        return rc < 0 ? -1 : 1;
    //  Once to decide and count, once to pack
    size_t count = 0;
    const char *name;
    json_t *spec;
    const msgpack_object *value;
    const json_t *fallback;
    json_object_foreach ((json_t *)schema, name, spec)
    {
        rc = s_decide (name, spec, given, &value, &fallback, reason, size);
        if (rc < 0 || rc == 2)
            return rc < 0 ? -1 : 1;
        count += rc;
    }
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, count);
    json_object_foreach ((json_t *)schema, name, spec)
    {
        if (s_decide (name, spec, given, &value, &fallback, reason, size) != 1)
            continue;
        proto_pack_str (&pk, name);
        if (value)
            msgpack_pack_object (&pk, *value);
        else if (proto_json_to_msgpack (fallback, &pk, NULL) != PROTO_OK)
            return 1; //  a default without a msgpack form: the JSON path says
    }
    return 0;
}
