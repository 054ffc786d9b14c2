/*  registry_pack_policy: policies (StackStorm's policies/<name>.yaml), loaded
    from a pack for the executor to apply. See registry_pack.h for the layout.
*/
#include "actors/registry/registry_pack_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Policies (StackStorm's policies/*.yaml): limits the executor applies to an
//  action's executions. Parameters are checked per type and defaults filled
//  in, so the executor reads complete definitions.

static const char *const s_policy_keys[] = {
    "name",         "pack",        "description", "enabled",
    "resource_ref", "policy_type", "parameters",  NULL};
static const char *const s_policy_ignored[] = {"ref",  "uid",           "id",
                                               "tags", "metadata_file", NULL};

typedef enum { P_INT, P_NUMBER, P_CHOICE, P_STRINGS } s_ptype_t;

typedef struct {
    const char *name;
    s_ptype_t type;
    bool required;
    double min;             //  P_INT / P_NUMBER: smallest allowed
    const char *fallback;   //  default as JSON text, NULL = none
    const char *choices[4]; //  P_CHOICE
} s_pspec_t;

typedef struct {
    const char *type;
    s_pspec_t params[8];
} s_policy_type_t;

static const s_policy_type_t s_policy_types[] = {
    {"action.concurrency",
     {{"threshold", P_INT, true, 1, NULL, {NULL}},
      {"action", P_CHOICE, false, 0, "\"delay\"", {"delay", "cancel", NULL}},
      {"max_queue", P_INT, false, 1, "10000", {NULL}},
      {"queue_timeout", P_NUMBER, false, 0.001, "3600", {NULL}},
      {NULL, 0, false, 0, NULL, {NULL}}}},
    {"action.concurrency.attr",
     {{"threshold", P_INT, true, 1, NULL, {NULL}},
      {"attributes", P_STRINGS, true, 0, NULL, {NULL}},
      {"action", P_CHOICE, false, 0, "\"delay\"", {"delay", "cancel", NULL}},
      {"max_queue", P_INT, false, 1, "10000", {NULL}},
      {"queue_timeout", P_NUMBER, false, 0.001, "3600", {NULL}},
      {NULL, 0, false, 0, NULL, {NULL}}}},
    {"action.ratelimit",
     {{"max", P_INT, true, 1, NULL, {NULL}},
      {"window_seconds", P_NUMBER, true, 0.001, NULL, {NULL}},
      {"action", P_CHOICE, false, 0, "\"delay\"", {"delay", "cancel", NULL}},
      {"max_queue", P_INT, false, 1, "10000", {NULL}},
      {"queue_timeout", P_NUMBER, false, 0.001, "3600", {NULL}},
      {NULL, 0, false, 0, NULL, {NULL}}}},
    {"action.retry",
     {{"retry_on",
       P_CHOICE,
       false,
       0,
       "\"failure\"",
       {"failure", "timeout", "abandoned", NULL}},
      {"max_retry_count", P_INT, false, 0, "2", {NULL}},
      {"delay", P_NUMBER, false, 0, "0", {NULL}},
      {"backoff",
       P_CHOICE,
       false,
       0,
       "\"constant\"",
       {"constant", "linear", "exponential", NULL}},
      {NULL, 0, false, 0, NULL, {NULL}}}},
    {"action.timeout",
     {{"timeout", P_NUMBER, true, 0.001, NULL, {NULL}},
      {NULL, 0, false, 0, NULL, {NULL}}}},
};
#define S_POLICY_TYPES (sizeof s_policy_types / sizeof s_policy_types[0])

//  The policy's fields, name, pack and type. Returns the type's spec, or
//  NULL after reporting.
static const s_policy_type_t *
s_policy_head (registry_pack_check_t *c, const char *pack)
{
    if (registry_pack_check_keys (c, s_policy_keys, s_policy_ignored) ||
        registry_pack_check_string (c, "name", true) ||
        registry_pack_check_string (c, "pack", false) ||
        registry_pack_check_string (c, "description", false) ||
        registry_pack_check_bool (c, "enabled") ||
        registry_pack_check_string (c, "resource_ref", true) ||
        registry_pack_check_string (c, "policy_type", true))
        return NULL;
    const char *name = registry_pack_str (c->root, "name", "");
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') {
            registry_pack_report (c->errors, c->doc, c->file, "/name",
                                  "name: \"%s\" has invalid characters", name);
            return NULL;
        }
    const char *its_pack = registry_pack_str (c->root, "pack", pack);
    if (!streq (its_pack, pack)) {
        registry_pack_report (c->errors, c->doc, c->file, "/pack",
                              "pack: \"%s\" is not the pack it is in (%s)", its_pack,
                              pack);
        return NULL;
    }
    const char *type = registry_pack_str (c->root, "policy_type", "");
    const s_policy_type_t *spec = NULL;
    for (size_t i = 0; i < S_POLICY_TYPES; i++)
        if (streq (type, s_policy_types[i].type))
            spec = &s_policy_types[i];
    if (!spec)
        registry_pack_report (
            c->errors, c->doc, c->file, "/policy_type",
            "policy_type: unknown policy type \"%s\" (action.concurrency, "
            "action.concurrency.attr, action.ratelimit, action.retry, "
            "action.timeout)",
            type);
    return spec;
}

//  What is wrong with `value` for parameter `p`, or NULL when it fits.
static const char *
s_param_problem (const s_pspec_t *p, const json_t *value)
{
    const char *problem = NULL;
    if (p->type == P_INT &&
        (!json_is_integer (value) || json_integer_value (value) < p->min))
        problem = p->min >= 1 ? "expected a whole number of at least 1"
                              : "expected a whole number of at least 0";
    else if (p->type == P_NUMBER &&
             (!json_is_number (value) || json_number_value (value) < p->min))
        problem = p->min > 0 ? "expected a number above 0" : "expected a number >= 0";
    else if (p->type == P_CHOICE) {
        bool ok = false;
        for (int i = 0; p->choices[i]; i++)
            if (json_is_string (value) &&
                streq (json_string_value (value), p->choices[i]))
                ok = true;
        if (!ok)
            problem = "not one of the allowed values";
    } else if (p->type == P_STRINGS) {
        bool ok = json_is_array (value) && json_array_size (value) > 0;
        for (size_t i = 0; ok && i < json_array_size (value); i++)
            ok = json_is_string (json_array_get (value, i));
        if (!ok)
            problem = "expected a list of parameter names";
    }
    return problem;
}

//  Every parameter given is one of the type's. 0, or -1 after reporting.
static int
s_params_known (registry_pack_check_t *c, const s_policy_type_t *spec,
                const json_t *given, const char *type)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)given, key, value)
    {
        bool known = false;
        for (const s_pspec_t *p = spec->params; p->name; p++)
            if (streq (p->name, key))
                known = true;
        if (!known) {
            char pointer[300];
            snprintf (pointer, sizeof pointer, "/parameters/%s", key);
            registry_pack_report (c->errors, c->doc, c->file, pointer,
                                  "parameters.%s: not a parameter of %s", key, type);
            return -1;
        }
    }
    return 0;
}

//  The policy's parameters, checked against its type's and with their
//  defaults filled in; NULL after reporting.
static json_t *
s_policy_parameters (registry_pack_check_t *c, const s_policy_type_t *spec)
{
    const char *type = registry_pack_str (c->root, "policy_type", "");
    const json_t *given = json_object_get (c->root, "parameters");
    if (given && !json_is_object (given) && !json_is_null (given)) {
        registry_pack_report (c->errors, c->doc, c->file, "/parameters",
                              "parameters: expected a mapping");
        return NULL;
    }
    json_t *parameters = json_object ();
    if (s_params_known (c, spec, given, type)) {
        json_decref (parameters);
        return NULL;
    }
    for (const s_pspec_t *p = spec->params; p->name; p++) {
        json_t *value = json_object_get (given, p->name);
        char pointer[300];
        snprintf (pointer, sizeof pointer, "/parameters/%s", p->name);
        if (!value || json_is_null (value)) {
            if (p->required) {
                registry_pack_report (c->errors, c->doc, c->file, "/parameters",
                                      "parameters.%s: required by %s", p->name, type);
                json_decref (parameters);
                return NULL;
            }
            if (p->fallback)
                json_object_set_new (parameters, p->name,
                                     json_loads (p->fallback, JSON_DECODE_ANY, NULL));
            continue;
        }
        const char *problem = s_param_problem (p, value);
        if (problem) {
            char *text = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
            registry_pack_report (c->errors, c->doc, c->file, pointer,
                                  "parameters.%s: %s: %s", p->name, text ? text : "?",
                                  problem);
            free (text);
            json_decref (parameters);
            return NULL;
        }
        json_object_set (parameters, p->name, value);
    }
    return parameters;
}

json_t *
registry_pack_policy_load (registry_pack_check_t *c, const char *pack,
                           const char *pack_dir)
{
    const s_policy_type_t *spec = s_policy_head (c, pack);
    if (!spec)
        return NULL;
    json_t *parameters = s_policy_parameters (c, spec);
    if (!parameters)
        return NULL;
    const char *name = registry_pack_str (c->root, "name", "");
    json_t *policy = json_object ();
    json_object_set_new (policy, "ref", json_sprintf ("%s.%s", pack, name));
    json_object_set_new (policy, "pack", json_string (pack));
    json_object_set_new (policy, "name", json_string (name));
    json_object_set_new (policy, "description",
                         json_string (registry_pack_str (c->root, "description", "")));
    json_object_set_new (
        policy, "enabled",
        json_boolean (!json_is_false (json_object_get (c->root, "enabled"))));
    json_object_set_new (policy, "resource_ref",
                         json_string (registry_pack_str (c->root, "resource_ref", "")));
    json_object_set_new (policy, "policy_type",
                         json_string (registry_pack_str (c->root, "policy_type", "")));
    json_object_set_new (policy, "parameters", parameters);
    json_object_set_new (policy, "file", json_string (c->file));
    return policy;
}
