/*  pack_config: a pack's configuration checked against its schema
    (pack_config.h). */
#include "actors/pack/pack_config.h"
#include "actors/registry/registry_yaml.h"

#include <czmq.h>
#include <errno.h>
#include <sys/stat.h>

typedef struct {
    registry_yaml_t *schema_doc; //  config.schema.yaml
    registry_yaml_t *config_doc; //  <configs>/<pack>.yaml, NULL when none
    const char *schema_file;
    const char *config_file;
    json_t *secrets;
    char *message;
    size_t size;
} s_check_t;

char *
pack_config_dir (const char *pack_dir, const char *configs_dir)
{
    if (configs_dir && *configs_dir)
        return strdup (configs_dir);
    const char *env = getenv ("ATTUNE_CONFIGS");
    if (env && *env)
        return strdup (env);
    char *copy = strdup (pack_dir ? pack_dir : ".");
    if (!copy)
        return NULL;
    size_t length = strlen (copy);
    while (length > 1 && copy[length - 1] == '/')
        copy[--length] = 0;
    char *slash = strrchr (copy, '/');
    char *dir =
        slash ? (*slash = 0, zsys_sprintf ("%s/../configs", slash == copy ? "" : copy))
              : strdup ("../configs");
    free (copy);
    return dir;
}

static const char *
s_type_of (const json_t *value)
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

static bool
s_type_is (const char *type, const json_t *value)
{
    if (streq (type, "string"))
        return json_is_string (value);
    if (streq (type, "integer"))
        return json_is_integer (value);
    if (streq (type, "number"))
        return json_is_number (value);
    if (streq (type, "boolean"))
        return json_is_boolean (value);
    if (streq (type, "object"))
        return json_is_object (value);
    if (streq (type, "array"))
        return json_is_array (value);
    if (streq (type, "null"))
        return json_is_null (value);
    return true; //  a type we do not check (any, a typo StackStorm also lets by)
}

//  True when `value` has (one of) the schema's type(s); none declared: any
static bool
s_type_ok (const json_t *spec, const json_t *value)
{
    const json_t *type = json_object_get (spec, "type");
    if (json_is_string (type))
        return s_type_is (json_string_value (type), value);
    if (!json_is_array (type) || json_array_size (type) == 0)
        return true;
    size_t i;
    const json_t *each;
    json_array_foreach (type, i, each)
    {
        if (json_is_string (each) && s_type_is (json_string_value (each), value))
            return true;
    }
    return false;
}

//  `base` + "/" + key as a JSON pointer (~ and / escaped)
static void
s_pointer (char *out, size_t size, const char *base, const char *key)
{
    size_t n = (size_t)snprintf (out, size, "%s/", base);
    for (const char *p = key; *p && n + 3 < size; p++) {
        if (*p == '~' || *p == '/') {
            out[n++] = '~';
            out[n++] = *p == '~' ? '0' : '1';
        } else
            out[n++] = *p;
    }
    out[n < size ? n : size - 1] = 0;
}

static void
s_add_secret (s_check_t *c, const json_t *value)
{
    char *text = json_is_string (value)
                     ? strdup (json_string_value (value))
                     : json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text && *text)
        json_array_append_new (c->secrets, json_string (text));
    free (text);
}

static int s_check_object (s_check_t *c, json_t *properties, const char *schema_at,
                           json_t *config, const char *config_at, const char *path);

//  One key of the schema against the config: default, required, type,
//  secret, and its properties when it is an object. 0 or -1 with message.
static int
s_check_key (s_check_t *c, const char *key, json_t *spec, const char *schema_at,
             json_t *config, const char *config_at, const char *path)
{
    char sp[1024], cp[1024], kp[1024];
    s_pointer (sp, sizeof sp, schema_at, key);
    s_pointer (cp, sizeof cp, config_at, key);
    snprintf (kp, sizeof kp, "%s%s%s", path, *path ? "." : "", key);
    json_t *value = json_object_get (config, key);
    bool given = value && !json_is_null (value);
    if (!given) {
        json_t *fallback = json_object_get (spec, "default");
        if (fallback) {
            value = json_deep_copy (fallback);
            json_object_set_new (config, key, value);
        } else if (c->config_doc && json_is_true (json_object_get (spec, "required"))) {
            //  Without a config file StackStorm checks nothing: the
            //  defaults are the config
            snprintf (c->message, c->size, "%s: %s: required by %s:%d, missing",
                      c->config_file, kp, c->schema_file,
                      registry_yaml_line (c->schema_doc, sp));
            return -1;
        } else
            return 0;
    }
    if (!s_type_ok (spec, value)) {
        const json_t *type = json_object_get (spec, "type");
        char *wanted = json_dumps (type, JSON_COMPACT | JSON_ENCODE_ANY);
        if (given && c->config_doc)
            snprintf (c->message, c->size, "%s:%d: %s: expected %s, got %s",
                      c->config_file, registry_yaml_line (c->config_doc, cp), kp,
                      json_is_string (type) ? json_string_value (type) : wanted,
                      s_type_of (value));
        else
            snprintf (c->message, c->size, "%s:%d: %s: default: expected %s, got %s",
                      c->schema_file, registry_yaml_line (c->schema_doc, sp), kp,
                      json_is_string (type) ? json_string_value (type) : wanted,
                      s_type_of (value));
        free (wanted);
        return -1;
    }
    if (json_is_true (json_object_get (spec, "secret")))
        s_add_secret (c, value);
    json_t *properties = json_object_get (spec, "properties");
    if (json_is_object (value) && json_is_object (properties)) {
        char sub[1100];
        snprintf (sub, sizeof sub, "%s/properties", sp);
        return s_check_object (c, properties, sub, value, cp, kp);
    }
    return 0;
}

static int
s_check_object (s_check_t *c, json_t *properties, const char *schema_at, json_t *config,
                const char *config_at, const char *path)
{
    const char *key;
    json_t *spec;
    json_object_foreach (properties, key, spec)
    {
        if (json_is_object (spec) &&
            s_check_key (c, key, spec, schema_at, config, config_at, path) != 0)
            return -1;
    }
    return 0;
}

//  Parse `path` if it exists: 1 with *doc, 0 when it does not exist, -1
static int
s_read (const char *path, registry_yaml_t **doc, char *message, size_t size)
{
    struct stat st;
    if (stat (path, &st) != 0 && errno == ENOENT)
        return 0;
    *doc = registry_yaml_load (path, message, size);
    return *doc ? 1 : -1;
}

int
pack_config_load (const char *pack_dir, const char *pack, const char *configs_dir,
                  json_t **config_p, json_t **secrets_p, char *message, size_t size)
{
    assert (pack_dir && pack);
    char *dir = pack_config_dir (pack_dir, configs_dir);
    char *schema_file = zsys_sprintf ("%s/config.schema.yaml", pack_dir);
    char *config_file = zsys_sprintf ("%s/%s.yaml", dir ? dir : ".", pack);
    s_check_t c = {.schema_file = schema_file,
                   .config_file = config_file,
                   .secrets = json_array (),
                   .message = message,
                   .size = size};
    json_t *config = NULL;
    int rc = s_read (config_file, &c.config_doc, message, size);
    if (rc >= 0)
        rc = s_read (schema_file, &c.schema_doc, message, size) >= 0 ? 0 : -1;
    if (rc == 0) {
        config = c.config_doc ? registry_yaml_take_root (c.config_doc) : json_object ();
        if (json_is_null (config)) {
            json_decref (config); //  an empty file
            config = json_object ();
        }
        json_t *schema = c.schema_doc ? registry_yaml_root (c.schema_doc) : NULL;
        if (!json_is_object (config)) {
            snprintf (message, size, "%s:1: expected a mapping of keys, got %s",
                      config_file, s_type_of (config));
            rc = -1;
        } else if (schema && !json_is_null (schema) && !json_is_object (schema)) {
            snprintf (message, size, "%s:1: expected a mapping of keys, got %s",
                      schema_file, s_type_of (schema));
            rc = -1;
        } else if (json_is_object (schema))
            rc = s_check_object (&c, schema, "", config, "", "");
    }
    registry_yaml_destroy (&c.schema_doc);
    registry_yaml_destroy (&c.config_doc);
    if (rc == 0 && config_p)
        *config_p = json_incref (config);
    if (rc == 0 && secrets_p)
        *secrets_p = json_incref (c.secrets);
    json_decref (config);
    json_decref (c.secrets);
    free (dir);
    free (schema_file);
    free (config_file);
    return rc;
}

char *
pack_config_mask_text (const char *text, size_t size, const json_t *secrets,
                       size_t *masked_size)
{
    char *out = NULL;
    size_t out_size = size;
    size_t i;
    const json_t *secret;
    json_array_foreach (secrets, i, secret)
    {
        const char *s = json_string_value (secret);
        size_t n = s ? strlen (s) : 0;
        if (n < PACK_CONFIG_MASK_MIN)
            continue;
        const char *from = out ? out : text;
        size_t from_size = out ? out_size : size;
        if (!memmem (from, from_size, s, n))
            continue;
        //  At most one mask per n bytes: the result is never longer than
        //  from_size * len(mask) / n + from_size
        size_t cap = from_size + (from_size / n + 1) * strlen (PACK_CONFIG_MASK) + 1;
        char *next = (char *)malloc (cap);
        if (!next)
            continue;
        size_t w = 0;
        const char *p = from, *end = from + from_size;
        const char *hit;
        while ((hit = (const char *)memmem (p, (size_t)(end - p), s, n))) {
            memcpy (next + w, p, (size_t)(hit - p));
            w += (size_t)(hit - p);
            memcpy (next + w, PACK_CONFIG_MASK, strlen (PACK_CONFIG_MASK));
            w += strlen (PACK_CONFIG_MASK);
            p = hit + n;
        }
        memcpy (next + w, p, (size_t)(end - p));
        w += (size_t)(end - p);
        next[w] = 0;
        free (out);
        out = next;
        out_size = w;
    }
    if (out && masked_size)
        *masked_size = out_size;
    return out;
}

json_t *
pack_config_mask (json_t *value, const json_t *secrets)
{
    if (!value || json_array_size (secrets) == 0)
        return json_incref (value);
    if (json_is_string (value)) {
        size_t n = 0;
        char *masked = pack_config_mask_text (json_string_value (value),
                                              json_string_length (value), secrets, &n);
        if (!masked)
            return json_incref (value);
        json_t *copy = json_stringn (masked, n);
        free (masked);
        return copy ? copy : json_string (PACK_CONFIG_MASK);
    }
    if (json_is_array (value)) {
        json_t *copy = json_array ();
        size_t i;
        json_t *each;
        json_array_foreach (value, i, each)
            json_array_append_new (copy, pack_config_mask (each, secrets));
        return copy;
    }
    if (json_is_object (value)) {
        json_t *copy = json_object ();
        const char *key;
        json_t *each;
        json_object_foreach (value, key, each)
        {
            char *masked = pack_config_mask_text (key, strlen (key), secrets, NULL);
            json_object_set_new (copy, masked ? masked : key,
                                 pack_config_mask (each, secrets));
            free (masked);
        }
        return copy;
    }
    return json_incref (value);
}
