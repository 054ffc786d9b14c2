/*  executor_schema: a JSON Schema subset (executor_schema.h). */
#include "actors/executor/executor_schema.h"
#include "actors/registry/registry_params.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define S_DEPTH_MAX 32
#define S_PATH_MAX  256

//  A value as the error shows it: JSON, cut at 60 bytes.
static void
s_show (const json_t *value, char *out, size_t size)
{
    char *text = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        snprintf (out, size, "a %s", registry_params_type_name (value));
    else if (strlen (text) > 60)
        snprintf (out, size, "%.57s...", text);
    else
        snprintf (out, size, "%s", text);
    free (text);
}

//  path.key (key alone at the top), cut to fit `size`.
static void
s_join (char *out, size_t size, const char *path, const char *key)
{
    size_t used = 0;
    for (const char *part = *path ? path : key; part; part = part == key ? NULL : key) {
        if (part == key && *path && used + 1 < size)
            out[used++] = '.';
        size_t len = strlen (part);
        if (len > size - 1 - used)
            len = size - 1 - used;
        memcpy (out + used, part, len);
        used += len;
    }
    out[used] = 0;
}

//  ---------------------------------------------------------------------------
//  The schema itself

static int s_check (const json_t *schema, const char *path, int depth, char *error,
                    size_t size);
static int s_validate (const json_t *schema, const json_t *value, const char *path,
                       int depth, char *error, size_t size);

static int
s_check_count (const json_t *schema, const char *key, const char *path, char *error,
               size_t size)
{
    const json_t *value = json_object_get (schema, key);
    if (value && (!json_is_integer (value) || json_integer_value (value) < 0)) {
        snprintf (error, size, "%s%s%s: expected a non-negative integer", path,
                  *path ? "." : "", key);
        return -1;
    }
    return 0;
}

//  type: a known type name or a list of them.
static int
s_check_type (const json_t *schema, const char *path, int depth, char *error, size_t size)
{
    (void)depth;
    char sub[S_PATH_MAX];
    const json_t *type = json_object_get (schema, "type");
    if (type) {
        if (json_is_string (type)) {
            if (!registry_params_type_known (json_string_value (type))) {
                s_join (sub, sizeof sub, path, "type");
                snprintf (error, size, "%s: unknown type \"%.40s\"", sub,
                          json_string_value (type));
                return -1;
            }
        } else if (json_is_array (type) && json_array_size (type) > 0) {
            size_t i;
            const json_t *item;
            json_array_foreach (type, i, item)
            {
                if (!json_is_string (item) ||
                    !registry_params_type_known (json_string_value (item))) {
                    snprintf (error, size, "%s%stype[%zu]: expected a type name", path,
                              *path ? "." : "", i);
                    return -1;
                }
            }
        } else {
            s_join (sub, sizeof sub, path, "type");
            snprintf (error, size, "%s: expected a type name or a list of them", sub);
            return -1;
        }
    }
    return 0;
}

//  properties: a map of schemas.
static int
s_check_properties (const json_t *schema, const char *path, int depth, char *error,
                    size_t size)
{
    char sub[S_PATH_MAX];
    const json_t *properties = json_object_get (schema, "properties");
    if (properties) {
        if (!json_is_object (properties)) {
            s_join (sub, sizeof sub, path, "properties");
            snprintf (error, size, "%s: expected a map", sub);
            return -1;
        }
        const char *name;
        const json_t *child;
        json_object_foreach ((json_t *)properties, name, child)
        {
            char prefix[S_PATH_MAX];
            s_join (prefix, sizeof prefix, path, "properties");
            s_join (sub, sizeof sub, prefix, name);
            if (s_check (child, sub, depth + 1, error, size) != 0)
                return -1;
        }
    }
    return 0;
}

//  required: a list of property names.
static int
s_check_required (const json_t *schema, const char *path, int depth, char *error,
                  size_t size)
{
    (void)depth;
    char sub[S_PATH_MAX];
    const json_t *required = json_object_get (schema, "required");
    if (required) {
        bool ok = json_is_array (required);
        size_t i;
        const json_t *item;
        json_array_foreach (required, i, item)
        {
            if (!json_is_string (item))
                ok = false;
        }
        if (!ok) {
            s_join (sub, sizeof sub, path, "required");
            snprintf (error, size, "%s: expected a list of property names", sub);
            return -1;
        }
    }
    return 0;
}

//  additionalProperties, items, enum, bounds and counts.
static int
s_check_rest (const json_t *schema, const char *path, int depth, char *error, size_t size)
{
    char sub[S_PATH_MAX];
    const json_t *additional = json_object_get (schema, "additionalProperties");
    if (additional && !json_is_boolean (additional)) {
        s_join (sub, sizeof sub, path, "additionalProperties");
        if (s_check (additional, sub, depth + 1, error, size) != 0)
            return -1;
    }
    const json_t *items = json_object_get (schema, "items");
    if (items) {
        s_join (sub, sizeof sub, path, "items");
        if (s_check (items, sub, depth + 1, error, size) != 0)
            return -1;
    }
    const json_t *choices = json_object_get (schema, "enum");
    if (choices && (!json_is_array (choices) || json_array_size (choices) == 0)) {
        s_join (sub, sizeof sub, path, "enum");
        snprintf (error, size, "%s: expected a non-empty list", sub);
        return -1;
    }
    static const char *const bounds[] = {"minimum", "maximum"};
    for (size_t b = 0; b < 2; b++) {
        const json_t *bound = json_object_get (schema, bounds[b]);
        if (bound && !json_is_number (bound)) {
            s_join (sub, sizeof sub, path, bounds[b]);
            snprintf (error, size, "%s: expected a number", sub);
            return -1;
        }
    }
    static const char *const counts[] = {"minLength", "maxLength", "minItems",
                                         "maxItems"};
    for (size_t c = 0; c < 4; c++)
        if (s_check_count (schema, counts[c], path, error, size) != 0)
            return -1;
    return 0;
}

static int
s_check (const json_t *schema, const char *path, int depth, char *error, size_t size)
{
    const char *where = *path ? path : "schema";
    if (!json_is_object (schema)) {
        snprintf (error, size, "%s: expected a schema (a map)", where);
        return -1;
    }
    if (depth > S_DEPTH_MAX) {
        snprintf (error, size, "%s: nested more than %d deep", where, S_DEPTH_MAX);
        return -1;
    }
    if (s_check_type (schema, path, depth, error, size) != 0 ||
        s_check_properties (schema, path, depth, error, size) != 0 ||
        s_check_required (schema, path, depth, error, size) != 0 ||
        s_check_rest (schema, path, depth, error, size) != 0)
        return -1;
    return 0;
}

int
executor_schema_check (const json_t *schema, char *error, size_t size)
{
    return s_check (schema, "", 0, error, size);
}

//  ---------------------------------------------------------------------------
//  A value against it

//  Characters of a UTF-8 string (what minLength counts).
static size_t
s_chars (const char *text, size_t bytes)
{
    size_t count = 0;
    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            count++;
    return count;
}

//  type: one of the types it names.
static int
s_validate_type (const json_t *schema, const json_t *value, const char *path, int depth,
                 char *error, size_t size)
{
    (void)depth;
    const char *where = *path ? path : "response";
    char shown[80];
    const json_t *type = json_object_get (schema, "type");
    if (json_is_string (type) &&
        !registry_params_is_type (value, json_string_value (type))) {
        s_show (value, shown, sizeof shown);
        snprintf (error, size, "%s: expected %s, got %s", where, json_string_value (type),
                  shown);
        return -1;
    }
    if (json_is_array (type)) {
        bool any = false;
        size_t i;
        const json_t *item;
        char names[128] = "";
        json_array_foreach (type, i, item)
        {
            any = any || registry_params_is_type (value, json_string_value (item));
            if (strlen (names) + 16 < sizeof names) {
                if (i)
                    strcat (names, " or ");
                strncat (names, json_string_value (item), 10);
            }
        }
        if (!any) {
            s_show (value, shown, sizeof shown);
            snprintf (error, size, "%s: expected %s, got %s", where, names, shown);
            return -1;
        }
    }
    return 0;
}

//  enum: one of its values.
static int
s_validate_enum (const json_t *schema, const json_t *value, const char *path, int depth,
                 char *error, size_t size)
{
    (void)depth;
    const char *where = *path ? path : "response";
    char shown[80];
    const json_t *choices = json_object_get (schema, "enum");
    if (json_is_array (choices)) {
        bool found = false;
        size_t i;
        const json_t *choice;
        json_array_foreach (choices, i, choice)
        {
            if (json_equal ((json_t *)choice, (json_t *)value))
                found = true;
        }
        if (!found) {
            char list[128];
            s_show (choices, list, sizeof list);
            s_show (value, shown, sizeof shown);
            snprintf (error, size, "%s: expected one of %s, got %s", where, list, shown);
            return -1;
        }
    }
    return 0;
}

//  minimum, maximum.
static int
s_validate_number (const json_t *schema, const json_t *value, const char *path, int depth,
                   char *error, size_t size)
{
    (void)depth;
    const char *where = *path ? path : "response";
    char shown[80];
    if (json_is_number (value)) {
        double number = json_number_value (value);
        const json_t *minimum = json_object_get (schema, "minimum");
        const json_t *maximum = json_object_get (schema, "maximum");
        s_show (value, shown, sizeof shown);
        if (minimum && number < json_number_value (minimum)) {
            char bound[80];
            s_show (minimum, bound, sizeof bound);
            snprintf (error, size, "%s: expected at least %s, got %s", where, bound,
                      shown);
            return -1;
        }
        if (maximum && number > json_number_value (maximum)) {
            char bound[80];
            s_show (maximum, bound, sizeof bound);
            snprintf (error, size, "%s: expected at most %s, got %s", where, bound,
                      shown);
            return -1;
        }
    }
    return 0;
}

//  minLength, maxLength (characters).
static int
s_validate_string (const json_t *schema, const json_t *value, const char *path, int depth,
                   char *error, size_t size)
{
    (void)depth;
    const char *where = *path ? path : "response";
    if (json_is_string (value)) {
        size_t chars = s_chars (json_string_value (value), json_string_length (value));
        const json_t *least = json_object_get (schema, "minLength");
        const json_t *most = json_object_get (schema, "maxLength");
        if (least && chars < (size_t)json_integer_value (least)) {
            snprintf (error, size, "%s: expected at least %lld characters, got %zu",
                      where, (long long)json_integer_value (least), chars);
            return -1;
        }
        if (most && chars > (size_t)json_integer_value (most)) {
            snprintf (error, size, "%s: expected at most %lld characters, got %zu", where,
                      (long long)json_integer_value (most), chars);
            return -1;
        }
    }
    return 0;
}

//  minItems, maxItems, items.
static int
s_validate_array (const json_t *schema, const json_t *value, const char *path, int depth,
                  char *error, size_t size)
{
    const char *where = *path ? path : "response";
    char sub[S_PATH_MAX];
    if (json_is_array (value)) {
        const json_t *least = json_object_get (schema, "minItems");
        const json_t *most = json_object_get (schema, "maxItems");
        size_t count = json_array_size (value);
        if (least && count < (size_t)json_integer_value (least)) {
            snprintf (error, size, "%s: expected at least %lld items, got %zu", where,
                      (long long)json_integer_value (least), count);
            return -1;
        }
        if (most && count > (size_t)json_integer_value (most)) {
            snprintf (error, size, "%s: expected at most %lld items, got %zu", where,
                      (long long)json_integer_value (most), count);
            return -1;
        }
        const json_t *items = json_object_get (schema, "items");
        if (json_is_object (items)) {
            size_t i;
            const json_t *item;
            json_array_foreach (value, i, item)
            {
                snprintf (sub, sizeof sub, "%s[%zu]", where, i);
                if (s_validate (items, item, sub, depth + 1, error, size) != 0)
                    return -1;
            }
        }
    }
    return 0;
}

//  required, properties, additionalProperties.
static int
s_validate_object (const json_t *schema, const json_t *value, const char *path, int depth,
                   char *error, size_t size)
{
    char sub[S_PATH_MAX];
    if (json_is_object (value)) {
        const json_t *required = json_object_get (schema, "required");
        size_t i;
        const json_t *name;
        json_array_foreach (required, i, name)
        {
            if (!json_object_get (value, json_string_value (name))) {
                s_join (sub, sizeof sub, path, json_string_value (name));
                snprintf (error, size, "%s: required", sub);
                return -1;
            }
        }
        const json_t *properties = json_object_get (schema, "properties");
        const json_t *additional = json_object_get (schema, "additionalProperties");
        const char *key;
        const json_t *member;
        json_object_foreach ((json_t *)value, key, member)
        {
            s_join (sub, sizeof sub, path, key);
            const json_t *child = json_object_get (properties, key);
            if (child) {
                if (s_validate (child, member, sub, depth + 1, error, size) != 0)
                    return -1;
            } else if (json_is_false (additional)) {
                snprintf (error, size, "%s: not allowed (no such property)", sub);
                return -1;
            } else if (json_is_object (additional) &&
                       s_validate (additional, member, sub, depth + 1, error, size) != 0)
                return -1;
        }
    }
    return 0;
}

static int
s_validate (const json_t *schema, const json_t *value, const char *path, int depth,
            char *error, size_t size)
{
    const char *where = *path ? path : "response";
    if (depth > S_DEPTH_MAX) {
        snprintf (error, size, "%s: nested more than %d deep", where, S_DEPTH_MAX);
        return -1;
    }
    if (s_validate_type (schema, value, path, depth, error, size) != 0 ||
        s_validate_enum (schema, value, path, depth, error, size) != 0 ||
        s_validate_number (schema, value, path, depth, error, size) != 0 ||
        s_validate_string (schema, value, path, depth, error, size) != 0 ||
        s_validate_array (schema, value, path, depth, error, size) != 0 ||
        s_validate_object (schema, value, path, depth, error, size) != 0)
        return -1;
    return 0;
}

int
executor_schema_validate (const json_t *schema, const json_t *value, char *error,
                          size_t size)
{
    return s_validate (schema, value, "", 0, error, size);
}
