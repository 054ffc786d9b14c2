/*  executor_params: an action's parameter schema applied to the given
    parameters on their msgpack form, as registry_params_apply does on JSON
    (executor_internal.h). What it cannot decide without a JSON tree (a
    value to coerce, immutable, enum, minimum, maximum, a NUL in a name) it
    leaves to registry_params_apply: the answer is the same, only slower.
*/
#include "actors/executor/executor_internal.h"

#include "actors/pack/pack_config.h"
#include "actors/rules/rules_template.h"
#include "proto/proto_secret.h"
#include "template/template.h"

#include <ctype.h>
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

//  ---------------------------------------------------------------------------
//  Defaults that are templates (StackStorm's render_live_params)

//  Whether a string of `value` holds a template ({{ or {%)
static bool
s_is_template (const json_t *value, int depth)
{
    if (json_is_string (value)) {
        const char *text = json_string_value (value);
        return strstr (text, "{{") || strstr (text, "{%");
    }
    if (depth > 32)
        return false;
    size_t index;
    const char *key;
    json_t *each;
    if (json_is_array (value))
        json_array_foreach (value, index,
                            each) if (s_is_template (each, depth + 1)) return true;
    if (json_is_object (value))
        json_object_foreach ((json_t *)value, key,
                             each) if (s_is_template (each, depth + 1)) return true;
    return false;
}

//  Whether parameter `name` takes its default, and that default is a
//  template (not given, or immutable: it keeps its default)
static bool
s_templated (const char *name, const json_t *spec, const msgpack_object *given)
{
    return (!s_given (given, name) ||
            json_is_true (json_object_get (spec, "immutable"))) &&
           s_is_template (json_object_get (spec, "default"), 0);
}

bool
executor_params_templated (const json_t *schema, const msgpack_object *given)
{
    const char *name;
    json_t *spec;
    json_object_foreach ((json_t *)schema, name,
                         spec) if (s_templated (name, spec, given)) return true;
    return false;
}

typedef struct {
    const json_t *action;
    const json_t *schema;
    json_t *parameters; //  the values so far, rendered ones included
    json_t *context;    //  action_context, config_context, st2kv
    json_t *secrets;    //  the pack config's secret values
    json_t *pending;    //  name -> [names of pending parameters it reads]
    json_t *own;        //  name -> the action's own default text (not given)
    char nonce[33];     //  for the st2kv references of this rendering
    char *reason;
    size_t size;
} s_render_t;

//  Every name the strings of `value` read, into `names`. 0, or -1 with
//  the compile error.
static int
s_read_names (s_render_t *r, const char *param, const json_t *value, json_t *names,
              int depth)
{
    if (json_is_string (value)) {
        char *error = NULL;
        template_t *t = template_compile (param, json_string_value (value), &error);
        json_t *read = t ? template_variables (t) : NULL;
        template_destroy (&t);
        if (!read) {
            snprintf (r->reason, r->size, "parameter '%s': default: %s", param,
                      error ? error : "out of memory");
            free (error);
            return -1;
        }
        json_array_extend (names, read);
        json_decref (read);
        return 0;
    }
    size_t index;
    const char *key;
    json_t *each;
    if (depth < 32 && json_is_array (value))
        json_array_foreach (value, index, each) if (s_read_names (r, param, each, names,
                                                                  depth + 1)) return -1;
    if (depth < 32 && json_is_object (value))
        json_object_foreach (
            (json_t *)value, key,
            each) if (s_read_names (r, param, each, names, depth + 1)) return -1;
    return 0;
}

//  The st2kv keys a template names, as references the worker resolves
//  (proto_secret.h): st2kv.system.NAME and st2kv.user.NAME, a secret
//  reference when `| decrypt_kv` follows
static void
s_kv_names (s_render_t *r, const json_t *value, int depth)
{
    size_t index;
    const char *key;
    json_t *each;
    if (depth < 32 && json_is_array (value))
        json_array_foreach (value, index, each) s_kv_names (r, each, depth + 1);
    if (depth < 32 && json_is_object (value))
        json_object_foreach ((json_t *)value, key, each) s_kv_names (r, each, depth + 1);
    const char *p = json_is_string (value) ? json_string_value (value) : NULL;
    for (p = p ? strstr (p, "st2kv.") : NULL; p; p = strstr (p + 1, "st2kv.")) {
        const char *scope = p + 6;
        bool system = strncmp (scope, "system.", 7) == 0;
        if (!system && strncmp (scope, "user.", 5) != 0)
            continue;
        const char *name = scope + (system ? 7 : 5);
        size_t n = strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789_-");
        if (n == 0 || n > PROTO_SECRET_NAME_MAX)
            continue;
        const char *after = name + n + strspn (name + n, " \t");
        bool decrypt = *after == '|' && strncmp (after + 1 + strspn (after + 1, " \t"),
                                                 "decrypt_kv", 10) == 0;
        const char *user = json_string_value (
            json_object_get (json_object_get (r->context, "action_context"), "user"));
        json_t *st2kv = json_object_get (r->context, "st2kv");
        json_t *keys = json_object_get (st2kv, system ? "system" : "user");
        char *ref = zsys_sprintf ("%s%s:%s%s:%.*s%c",
                                  decrypt ? PROTO_SECRET_OPEN : PROTO_SECRET_KV_OPEN,
                                  r->nonce, system ? "system" : "user:",
                                  system ? ""
                                  : user ? user
                                         : EXECUTOR_SECRET_KV_USER,
                                  (int)n, name, PROTO_SECRET_CLOSE);
        char *k = zsys_sprintf ("%.*s", (int)n, name);
        if (ref && k && (decrypt || !json_object_get (keys, k)))
            json_object_set_new (keys, k, json_string (ref));
        zstr_free (&ref);
        zstr_free (&k);
    }
}

//  The context every default renders in: `action_context` (given),
//  `config_context` (the pack's config) and `st2kv` when a default names
//  them. 0, or -1 with `reason`.
static int
s_context (s_render_t *r, const json_t *action_context)
{
    r->context = json_pack ("{s:O, s:{s:{}, s:{}}}", "action_context", action_context,
                            "st2kv", "system", "user");
    if (!r->context)
        return -1;
    zuuid_t *uuid = zuuid_new ();
    snprintf (r->nonce, sizeof r->nonce, "%s", uuid ? zuuid_str (uuid) : "");
    zuuid_destroy (&uuid);
    for (size_t i = 0; i < 32; i++)
        r->nonce[i] = (char)tolower ((unsigned char)r->nonce[i]);
    const char *name;
    json_t *spec;
    json_object_foreach ((json_t *)r->schema, name, spec)
    {
        if (json_object_get (r->pending, name))
            s_kv_names (r, json_object_get (spec, "default"), 0);
    }
    const char *ref = json_string_value (json_object_get (r->action, "ref"));
    const char *pack_dir = json_string_value (json_object_get (r->action, "pack_dir"));
    const char *dot = ref ? strchr (ref, '.') : NULL;
    json_t *config = NULL;
    if (dot && pack_dir && *pack_dir) {
        char pack[256];
        snprintf (pack, sizeof pack, "%.*s", (int)(dot - ref), ref);
        char message[512];
        if (pack_config_load (pack_dir, pack, NULL, &config, &r->secrets, message,
                              sizeof message) != 0) {
            snprintf (r->reason, r->size, "config_context: %s", message);
            return -1;
        }
    }
    json_object_set_new (r->context, "config_context", config ? config : json_object ());
    return 0;
}

//  The pending parameters and what each reads of the others. 0 or -1.
static int
s_pending (s_render_t *r, const msgpack_object *given)
{
    r->pending = json_object ();
    r->own = json_object ();
    const char *name;
    json_t *spec;
    json_object_foreach ((json_t *)r->schema, name, spec)
    {
        if (s_templated (name, spec, given))
            json_object_set_new (r->pending, name, json_array ());
        json_t *preset = json_object_get (spec, "default");
        if (json_is_string (preset) &&
            (!s_given (given, name) ||
             json_is_true (json_object_get (spec, "immutable"))))
            json_object_set (r->own, name, preset);
    }
    json_object_foreach ((json_t *)r->schema, name, spec)
    {
        json_t *reads = json_object_get (r->pending, name);
        json_t *names = reads ? json_array () : NULL;
        if (reads &&
            s_read_names (r, name, json_object_get (spec, "default"), names, 0) != 0) {
            json_decref (names);
            return -1;
        }
        size_t i;
        json_t *each;
        json_array_foreach (names, i, each)
        {
            if (json_object_get (r->pending, json_string_value (each)))
                json_array_append (reads, each);
        }
        json_decref (names);
    }
    return 0;
}

//  A pending parameter whose reads are all rendered, or NULL
static const char *
s_ready (s_render_t *r)
{
    const char *name;
    json_t *reads;
    json_object_foreach (r->pending, name, reads)
    {
        bool ready = true;
        size_t i;
        json_t *each;
        json_array_foreach (reads, i, each)
        {
            ready &= !json_object_get (r->pending, json_string_value (each));
        }
        if (ready)
            return name;
    }
    return NULL;
}

//  Whether the runner runs `cmd` as a shell command (rules_enforce says
//  the same of a rule's parameters)
static bool
s_shell_cmd (const json_t *action, const char *name)
{
    const char *runner = json_string_value (json_object_get (action, "runner_type"));
    return streq (name, "cmd") && runner &&
           (streq (runner, "local-shell-cmd") || streq (runner, "remote-shell-cmd"));
}

//  Render parameter `name`'s default with the values so far in scope. 0,
//  or -1 with `reason`.
static int
s_render_one (s_render_t *r, const char *name)
{
    const json_t *spec = json_object_get (r->schema, name);
    const json_t *preset = json_object_get (spec, "default");
    json_t *scope = json_copy (r->parameters);
    if (!scope || json_object_update (scope, r->context) != 0) {
        json_decref (scope);
        return -1;
    }
    const char *key;
    json_t *each;
    json_object_foreach ((json_t *)r->schema, key, each)
    {
        if (!json_object_get (scope, key)) //  StackStorm's None for a value not set
            json_object_set_new (scope, key, json_null ());
    }
    char where[300], message[1024];
    snprintf (where, sizeof where, "parameter '%s' default", name);
    json_t *value =
        json_is_string (preset) && s_shell_cmd (r->action, name)
            ? rules_template_render_shell_own (json_string_value (preset), scope, r->own,
                                               where, message, sizeof message)
            : rules_template_render (preset, scope, where, message, sizeof message);
    json_decref (scope);
    if (!value) {
        snprintf (r->reason, r->size, "%s", message);
        return -1;
    }
    const char *type = json_string_value (json_object_get (spec, "type"));
    if (type && streq (type, "string") && !json_is_string (value)) {
        char *text = template_text (value); //  as StackStorm's text rendering
        json_decref (value);
        value = text ? json_string (text) : NULL;
        free (text);
    }
    if (!value)
        return -1;
    json_object_set_new (r->parameters, name, value);
    json_object_del (r->pending, name);
    return 0;
}

//  The schema with the defaults of the templated parameters (r->pending)
//  taken out, and `required` with them (`rendered` NULL), or replaced by
//  their values in `rendered`. New reference.
static json_t *
s_schema_with (s_render_t *r, const json_t *rendered)
{
    json_t *copy = json_copy ((json_t *)r->schema);
    const char *name;
    json_t *spec;
    json_object_foreach (copy, name, spec)
    {
        if (!json_object_get (r->pending, name))
            continue;
        json_t *changed = json_copy (spec);
        json_t *value = rendered ? json_object_get (rendered, name) : NULL;
        if (value)
            json_object_set (changed, "default", value);
        else {
            json_object_del (changed, "default");
            json_object_del (changed, "required");
        }
        json_object_set_new (copy, name, changed);
    }
    return copy;
}

//  Cycle: "parameters a, b: their defaults read each other (a cycle)"
static void
s_cycle (s_render_t *r)
{
    char names[400] = "";
    const char *name;
    json_t *reads;
    json_t *sorted = json_array ();
    json_object_foreach (r->pending, name, reads)
        json_array_append_new (sorted, json_string (name));
    size_t count = json_array_size (sorted);
    for (size_t i = 0; i < count; i++) { //  a few names: insertion order is fine
        size_t least = i;
        for (size_t j = i + 1; j < count; j++)
            if (strcmp (json_string_value (json_array_get (sorted, j)),
                        json_string_value (json_array_get (sorted, least))) < 0)
                least = j;
        json_t *each = json_incref (json_array_get (sorted, least));
        json_array_set (sorted, least, json_array_get (sorted, i));
        json_array_set_new (sorted, i, each);
        size_t used = strlen (names);
        snprintf (names + used, sizeof names - used, "%s%s", i ? ", " : "",
                  json_string_value (each));
    }
    json_decref (sorted);
    snprintf (r->reason, r->size,
              "parameters %s: their defaults read each other (a cyclic dependency)",
              names);
}

//  A default that rendered a secret of the pack's config into a parameter
//  not marked secret: refused (it would be stored and shown in clear).
//  0 or -1.
static int
s_secrets_kept (s_render_t *r, const json_t *final, const json_t *templated)
{
    const char *name;
    json_t *each;
    json_object_foreach ((json_t *)templated, name, each)
    {
        const json_t *spec = json_object_get (r->schema, name);
        if (json_is_true (json_object_get (spec, "secret")) ||
            !json_array_size (r->secrets))
            continue;
        char *text = json_dumps (json_object_get (final, name), JSON_ENCODE_ANY);
        size_t masked_size = 0;
        char *masked =
            text ? pack_config_mask_text (text, strlen (text), r->secrets, &masked_size)
                 : NULL;
        free (text);
        free (masked);
        if (masked) {
            snprintf (
                r->reason, r->size,
                "parameter '%s': its default renders a secret of the pack's config; "
                "mark the parameter secret: true",
                name);
            return -1;
        }
    }
    return 0;
}

//  Every pending parameter rendered, in dependency order. 0 or -1.
static int
s_render_all (s_render_t *r)
{
    const char *name;
    while ((name = s_ready (r)))
        if (s_render_one (r, name) != 0)
            return -1;
    if (json_object_size (r->pending)) {
        s_cycle (r);
        return -1;
    }
    return 0;
}

int
executor_params_defaults (const json_t *action, const msgpack_object *given,
                          const json_t *action_context, msgpack_sbuffer *out,
                          char *reason, size_t size)
{
    s_render_t r = {.action = action,
                    .schema = json_object_get (action, "parameters"),
                    .reason = reason,
                    .size = size};
    *reason = 0;
    json_t *given_json =
        given ? proto_json_from_msgpack (given, "parameters", NULL) : NULL;
    json_t *plain = NULL, *templated = NULL, *schema = NULL, *final = NULL;
    int rc = -1;
    if (s_pending (&r, given) == 0 && (templated = json_copy (r.pending)) &&
        (plain = s_schema_with (&r, NULL)) &&
        (r.parameters = registry_params_apply (plain, given_json, reason, size)) &&
        s_context (&r, action_context) == 0 && s_render_all (&r) == 0 &&
        (json_object_update (r.pending, templated), true) &&
        (schema = s_schema_with (&r, r.parameters)) &&
        (final = registry_params_apply (schema, given_json, reason, size)) &&
        s_secrets_kept (&r, final, templated) == 0) {
        msgpack_sbuffer_clear (out);
        rc = proto_json_to_sbuffer (final, out, NULL) == PROTO_OK ? 0 : -1;
    }
    if (rc != 0 && !*reason)
        snprintf (reason, size, "parameters: cannot render the defaults (out of memory)");
    json_decref (given_json);
    json_decref (plain);
    json_decref (templated);
    json_decref (schema);
    json_decref (final);
    json_decref (r.parameters);
    json_decref (r.context);
    json_decref (r.secrets);
    json_decref (r.pending);
    json_decref (r.own);
    return rc;
}

json_t *
executor_params_check (const json_t *schema, const json_t *given, char *reason,
                       size_t size)
{
    s_render_t r = {.schema = schema, .pending = json_object ()};
    const char *name;
    json_t *spec;
    json_object_foreach ((json_t *)schema, name, spec)
    {
        if (s_is_template (json_object_get (spec, "default"), 0))
            json_object_set_new (r.pending, name, json_true ());
    }
    json_t *plain = json_object_size (r.pending) ? s_schema_with (&r, NULL)
                                                 : json_incref ((json_t *)schema);
    json_t *checked = registry_params_apply (plain, given, reason, size);
    json_decref (plain);
    json_decref (r.pending);
    return checked;
}
