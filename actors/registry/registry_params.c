/*  registry_params: parameter schemas. See registry_params.h. */
#include "actors/registry/registry_params.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const s_types[] = {"string", "integer", "number", "boolean",
                                      "array",  "object",  "null",   NULL};
static const char *const s_keys[] = {
    "type",      "required",  "default",  "enum",       "description",
    "secret",    "immutable", "position", "minimum",    "maximum",
    "minLength", "maxLength", "items",    "properties", "additionalProperties",
    "pattern",   "title",     NULL};

static bool
s_in (const char *value, const char *const *list)
{
    for (; *list; list++)
        if (strcmp (value, *list) == 0)
            return true;
    return false;
}

bool
registry_params_type_known (const char *type)
{
    return type && s_in (type, s_types);
}

bool
registry_params_is_type (const json_t *value, const char *type)
{
    if (!strcmp (type, "string"))
        return json_is_string (value);
    if (!strcmp (type, "integer"))
        return json_is_integer (value) ||
               (json_is_real (value) &&
                json_real_value (value) == floor (json_real_value (value)) &&
                fabs (json_real_value (value)) < 9e15);
    if (!strcmp (type, "number"))
        return json_is_number (value);
    if (!strcmp (type, "boolean"))
        return json_is_boolean (value);
    if (!strcmp (type, "array"))
        return json_is_array (value);
    if (!strcmp (type, "object"))
        return json_is_object (value);
    if (!strcmp (type, "null"))
        return json_is_null (value);
    return false;
}

const char *
registry_params_type_name (const json_t *value)
{
    switch (json_typeof (value)) {
        case JSON_OBJECT:
            return "object";
        case JSON_ARRAY:
            return "array";
        case JSON_STRING:
            return "string";
        case JSON_INTEGER:
            return "integer";
        case JSON_REAL:
            return "number";
        case JSON_TRUE:
        case JSON_FALSE:
            return "boolean";
        default:
            return "null";
    }
}

//  Convert a string to the declared type when it parses exactly. New
//  reference or NULL.
static json_t *
s_coerce (const json_t *value, const char *type)
{
    if (!json_is_string (value) || !strcmp (type, "string"))
        return NULL;
    const char *text = json_string_value (value);
    if (!strcmp (type, "boolean")) {
        if (!strcasecmp (text, "true") || !strcasecmp (text, "yes") ||
            !strcmp (text, "1"))
            return json_true ();
        if (!strcasecmp (text, "false") || !strcasecmp (text, "no") ||
            !strcmp (text, "0"))
            return json_false ();
        return NULL;
    }
    json_t *parsed = json_loads (text, JSON_DECODE_ANY, NULL);
    if (parsed && registry_params_is_type (parsed, type)) {
        if (!strcmp (type, "integer") && json_is_real (parsed)) {
            json_t *integer = json_integer ((json_int_t)json_real_value (parsed));
            json_decref (parsed);
            return integer;
        }
        return parsed;
    }
    json_decref (parsed);
    return NULL;
}

static void
s_show (const json_t *value, char *out, size_t size)
{
    char *text = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf (out, size, "%.60s%s", text ? text : "?",
              text && strlen (text) > 60 ? "..." : "");
    free (text);
}

int
registry_params_check_schema (const json_t *schema, char *field, size_t field_size,
                              char *message, size_t message_size)
{
#define FAIL(ptr, ...)                                                                   \
    do {                                                                                 \
        if (field && field_size)                                                         \
            snprintf (field, field_size, "%s", ptr);                                     \
        if (message && message_size)                                                     \
            snprintf (message, message_size, __VA_ARGS__);                               \
        return -1;                                                                       \
    } while (0)

    if (!schema || json_is_null (schema))
        return 0;
    if (!json_is_object (schema))
        FAIL ("", "parameters: must be a mapping of name: {type, ...}");
    const char *name;
    json_t *spec;
    json_object_foreach ((json_t *)schema, name, spec)
    {
        char ptr[512];
        snprintf (ptr, sizeof ptr, "/%s", name);
        if (!json_is_object (spec))
            FAIL (ptr, "parameters.%s: must be a mapping {type, required, default ...}",
                  name);
        const json_t *type = json_object_get (spec, "type");
        snprintf (ptr, sizeof ptr, "/%s/type", name);
        if (type && (!json_is_string (type) || !s_in (json_string_value (type), s_types)))
            FAIL (ptr,
                  "parameters.%s.type: unknown type (string, integer, number, boolean, "
                  "array, "
                  "object)",
                  name);
        const char *key;
        json_t *value;
        json_object_foreach (spec, key, value)
        {
            snprintf (ptr, sizeof ptr, "/%s/%s", name, key);
            if (!s_in (key, s_keys))
                FAIL (ptr, "parameters.%s: unknown key \"%s\"", name, key);
            if ((!strcmp (key, "required") || !strcmp (key, "secret") ||
                 !strcmp (key, "immutable")) &&
                !json_is_boolean (value))
                FAIL (ptr, "parameters.%s.%s: must be true or false", name, key);
        }
        const json_t *choices = json_object_get (spec, "enum");
        snprintf (ptr, sizeof ptr, "/%s/enum", name);
        if (choices && (!json_is_array (choices) || json_array_size (choices) == 0))
            FAIL (ptr, "parameters.%s.enum: must be a non-empty list", name);
        const json_t *fallback = json_object_get (spec, "default");
        snprintf (ptr, sizeof ptr, "/%s/default", name);
        if (fallback && !json_is_null (fallback) && type &&
            !registry_params_is_type (fallback, json_string_value (type))) {
            //  "{{ ... }}" defaults are templates in StackStorm: allow strings
            json_t *coerced = s_coerce (fallback, json_string_value (type));
            bool ok = coerced != NULL || json_is_string (fallback);
            json_decref (coerced);
            if (!ok)
                FAIL (ptr, "parameters.%s.default: expected %s, got %s", name,
                      json_string_value (type), registry_params_type_name (fallback));
        }
    }
    return 0;
#undef FAIL
}

#define FAIL(...)                                                                        \
    do {                                                                                 \
        if (message && message_size)                                                     \
            snprintf (message, message_size, __VA_ARGS__);                               \
        return -1;                                                                       \
    } while (0)

//  A parameter's value is in its enum and its range. 0, or -1 with
//  `message` set.
static int
s_param_bounds (const char *name, const json_t *spec, const json_t *final, char *message,
                size_t message_size)
{
    const json_t *choices = json_object_get (spec, "enum");
    if (json_is_array (choices)) {
        bool found = false;
        size_t i;
        json_t *choice;
        json_array_foreach (choices, i, choice) if (json_equal (choice, final)) found =
            true;
        if (!found) {
            char shown[128], allowed[256];
            s_show (final, shown, sizeof shown);
            s_show (choices, allowed, sizeof allowed);
            FAIL ("parameter '%s': %s is not one of %s", name, shown, allowed);
        }
    }
    const json_t *minimum = json_object_get (spec, "minimum");
    const json_t *maximum = json_object_get (spec, "maximum");
    if (json_is_number (final)) {
        double d = json_number_value (final);
        if (json_is_number (minimum) && d < json_number_value (minimum))
            FAIL ("parameter '%s': %g is below the minimum %g", name, d,
                  json_number_value (minimum));
        if (json_is_number (maximum) && d > json_number_value (maximum))
            FAIL ("parameter '%s': %g is above the maximum %g", name, d,
                  json_number_value (maximum));
    }
    return 0;
}

//  One parameter's value: the one given or its default, of its type
//  (coerced where it can be), within its bounds. 0 with *final_p (the
//  caller's; NULL when it has none), or -1 with `message` set.
static int
s_param_value (const char *name, const json_t *spec, const json_t *given,
               json_t **final_p, char *message, size_t message_size)
{
    *final_p = NULL;
    const json_t *type = json_object_get (spec, "type");
    const char *type_name = json_is_string (type) ? json_string_value (type) : NULL;
    const json_t *fallback = json_object_get (spec, "default");
    json_t *v = json_is_object (given) ? json_object_get (given, name) : NULL;
    if (v && json_is_true (json_object_get (spec, "immutable")) && fallback &&
        !json_equal (v, (json_t *)fallback))
        FAIL ("parameter '%s': is immutable and cannot be set", name);
    if (!v || json_is_null (v))
        v = (json_t *)fallback;
    if (!v || json_is_null (v)) {
        if (json_is_true (json_object_get (spec, "required")))
            FAIL ("parameter '%s': required but not given", name);
        return 0;
    }
    json_t *final = json_incref (v);
    if (type_name && !registry_params_is_type (final, type_name)) {
        json_t *coerced = s_coerce (final, type_name);
        if (!coerced) {
            char shown[128];
            s_show (final, shown, sizeof shown);
            json_decref (final);
            FAIL ("parameter '%s': expected %s, got %s", name, type_name, shown);
        }
        json_decref (final);
        final = coerced;
    }
    if (type_name && !strcmp (type_name, "integer") && json_is_real (final)) {
        json_t *integer = json_integer ((json_int_t)json_real_value (final));
        json_decref (final);
        final = integer;
    }
    if (s_param_bounds (name, spec, final, message, message_size)) {
        json_decref (final);
        return -1;
    }
    *final_p = final;
    return 0;
}
#undef FAIL

json_t *
registry_params_apply (const json_t *schema, const json_t *given, char *message,
                       size_t message_size)
{
#define FAIL(...)                                                                        \
    do {                                                                                 \
        if (message && message_size)                                                     \
            snprintf (message, message_size, __VA_ARGS__);                               \
        json_decref (out);                                                               \
        return NULL;                                                                     \
    } while (0)

    json_t *out = json_object ();
    if (!out)
        return NULL;
    if (given && !json_is_null (given) && !json_is_object (given))
        FAIL ("parameters: must be an object");
    const char *name;
    json_t *value;
    //  Unknown parameters
    if (json_is_object (given))
        json_object_foreach ((json_t *)given, name, value)
        {
            if (!json_is_object (schema) || !json_object_get (schema, name))
                FAIL ("parameter '%s': the action has no such parameter", name);
        }
    if (!json_is_object (schema))
        return out;
    json_t *spec;
    json_object_foreach ((json_t *)schema, name, spec)
    {
        json_t *final;
        if (s_param_value (name, spec, given, &final, message, message_size)) {
            json_decref (out);
            return NULL;
        }
        if (final)
            json_object_set_new (out, name, final);
    }
    return out;
#undef FAIL
}

json_t *
registry_params_mask (const json_t *schema, const json_t *params)
{
    json_t *out = json_deep_copy (params);
    if (!json_is_object (out) || !json_is_object (schema))
        return out;
    const char *name;
    json_t *spec;
    json_object_foreach ((json_t *)schema, name, spec)
    {
        if (json_is_true (json_object_get (spec, "secret")) &&
            json_object_get (out, name))
            json_object_set_new (out, name, json_string ("********"));
    }
    return out;
}
