/*  registry_catalog: the definitions the registry knows, by kind and ref.
    Packs are read by registry_pack; the catalog holds what they define,
    checks every rule's references across packs, and takes rules and trigger
    types from the api. See registry_catalog.h.
*/
#include "actors/registry/registry_catalog.h"
#include "actors/pack/pack_config.h"
#include "actors/registry/registry_pack.h"
#include "actors/registry/registry_packed.h"
#include "actors/registry/registry_params.h"
#include "actors/registry/registry_yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _registry_catalog_t {
    json_t *packs;
    registry_packed_t *actions; //  packed: ~0.7 KiB an action, not ~5.2
    json_t *decoded; //  what registry_catalog_action (s) handed out, until a change
    json_t *rules;
    json_t *triggers;
    json_t *policies;
    json_t *sensors;
};

//  ---------------------------------------------------------------------------
//  Built-in trigger types

//  Their definitions, as the registry serves them
static const char *const s_builtin_triggers[] = {
    "{\"ref\": \"core.st2.IntervalTimer\", \"pack\": \"core\", \"name\": "
    "\"st2.IntervalTimer\", \"description\": \"Fires every delta units.\", "
    "\"builtin\": true, \"parameters_schema\": {"
    "\"unit\": {\"type\": \"string\", \"required\": true, \"enum\": [\"weeks\", "
    "\"days\", \"hours\", \"minutes\", \"seconds\"]},"
    "\"delta\": {\"type\": \"integer\", \"required\": true, \"minimum\": 1}},"
    "\"payload_schema\": {\"executed_at\": {\"type\": \"string\"}, "
    "\"schedule\": {\"type\": \"object\"}}}",

    "{\"ref\": \"core.st2.DateTimer\", \"pack\": \"core\", \"name\": "
    "\"st2.DateTimer\", "
    "\"description\": \"Fires once at the given date and time.\", \"builtin\": true, "
    "\"parameters_schema\": {"
    "\"date\": {\"type\": \"string\", \"required\": true},"
    "\"timezone\": {\"type\": \"string\", \"default\": \"UTC\"}},"
    "\"payload_schema\": {\"executed_at\": {\"type\": \"string\"}, "
    "\"schedule\": {\"type\": \"object\"}}}",

    "{\"ref\": \"core.st2.CronTimer\", \"pack\": \"core\", \"name\": "
    "\"st2.CronTimer\", "
    "\"description\": \"Fires on a cron schedule (five standard fields).\", "
    "\"builtin\": true, \"parameters_schema\": {"
    "\"minute\": {\"type\": \"string\", \"default\": \"*\"},"
    "\"hour\": {\"type\": \"string\", \"default\": \"*\"},"
    "\"day\": {\"type\": \"string\", \"default\": \"*\"},"
    "\"month\": {\"type\": \"string\", \"default\": \"*\"},"
    "\"day_of_week\": {\"type\": \"string\", \"default\": \"*\"},"
    "\"second\": {\"type\": \"string\", \"default\": \"0\"},"
    "\"timezone\": {\"type\": \"string\", \"default\": \"UTC\"}},"
    "\"payload_schema\": {\"executed_at\": {\"type\": \"string\"}, "
    "\"schedule\": {\"type\": \"object\"}}}",

    //  StackStorm's system triggers, declared so that rules on them load;
    //  the gateway fires core.st2.webhook (POST /api/v1/webhooks/{url},
    //  actors/http), the others are to come
    "{\"ref\": \"core.st2.webhook\", \"pack\": \"core\", \"name\": "
    "\"st2.webhook\", \"description\": \"An HTTP POST to /api/v1/webhooks/{url}.\", "
    "\"builtin\": true, \"parameters_schema\": {\"url\": {\"type\": \"string\", "
    "\"required\": true}, \"auth\": {\"type\": \"string\", \"enum\": [\"key\", "
    "\"none\"], \"description\": \"attune: none lets POSTs "
    "without an API key in (actors/http/http_hooks.c)\"}}, \"payload_schema\": "
    "{\"headers\": {\"type\": "
    "\"object\"}, \"body\": {}}}",

    "{\"ref\": \"core.st2.generic.actiontrigger\", \"pack\": \"core\", "
    "\"name\": \"st2.generic.actiontrigger\", \"description\": \"An action "
    "execution ended.\", \"builtin\": true, \"parameters_schema\": {}, "
    "\"payload_schema\": {\"execution_id\": {\"type\": \"string\"}, \"status\": "
    "{\"type\": \"string\"}, \"start_timestamp\": {\"type\": \"string\"}, "
    "\"action_name\": {\"type\": \"string\"}, \"action_ref\": {\"type\": "
    "\"string\"}, \"runner_ref\": {\"type\": \"string\"}, \"parameters\": "
    "{\"type\": \"object\"}, \"result\": {}}}",

    "{\"ref\": \"core.st2.generic.notifytrigger\", \"pack\": \"core\", "
    "\"name\": \"st2.generic.notifytrigger\", \"description\": \"A "
    "notification of an action's end.\", \"builtin\": true, "
    "\"parameters_schema\": {}, \"payload_schema\": {\"execution_id\": "
    "{\"type\": \"string\"}, \"status\": {\"type\": \"string\"}, \"message\": "
    "{\"type\": \"string\"}, \"data\": {}, \"channel\": {\"type\": \"string\"}, "
    "\"route\": {\"type\": \"string\"}, \"action_ref\": {\"type\": \"string\"}}}",

    "{\"ref\": \"core.st2.sensor.process_spawn\", \"pack\": \"core\", "
    "\"name\": \"st2.sensor.process_spawn\", \"description\": \"A sensor's "
    "process started.\", \"builtin\": true, \"parameters_schema\": {}, "
    "\"payload_schema\": {\"id\": {\"type\": \"string\"}, \"ref\": "
    "{\"type\": \"string\"}, \"timestamp\": {\"type\": \"integer\"}, "
    "\"pid\": {\"type\": \"integer\"}, \"cmd\": {\"type\": \"string\"}}}",

    "{\"ref\": \"core.st2.sensor.process_exit\", \"pack\": \"core\", "
    "\"name\": \"st2.sensor.process_exit\", \"description\": \"A sensor's "
    "process ended.\", \"builtin\": true, \"parameters_schema\": {}, "
    "\"payload_schema\": {\"id\": {\"type\": \"string\"}, \"ref\": "
    "{\"type\": \"string\"}, \"timestamp\": {\"type\": \"integer\"}, "
    "\"pid\": {\"type\": \"integer\"}, \"exit_code\": {\"type\": "
    "\"integer\"}}}",

    "{\"ref\": \"core.st2.generic.inquiry\", \"pack\": \"core\", \"name\": "
    "\"st2.generic.inquiry\", \"description\": \"An inquiry was opened.\", "
    "\"builtin\": true, \"parameters_schema\": {}, \"payload_schema\": {\"id\": "
    "{\"type\": \"string\"}, \"route\": {\"type\": \"string\"}}}",
};

static void
s_add_builtin_triggers (registry_catalog_t *self)
{
    size_t count = sizeof s_builtin_triggers / sizeof s_builtin_triggers[0];
    for (size_t i = 0; i < count; i++) {
        json_error_t error;
        json_t *def = json_loads (s_builtin_triggers[i], 0, &error);
        assert (def); //  our own constant
        json_object_set (self->triggers, json_string_value (json_object_get (def, "ref")),
                         def);
        json_decref (def);
    }
}

registry_catalog_t *
registry_catalog_new (void)
{
    registry_catalog_t *self =
        (registry_catalog_t *)calloc (1, sizeof (registry_catalog_t));
    if (!self)
        return NULL;
    self->packs = json_object ();
    self->actions = registry_packed_new ();
    self->decoded = json_object ();
    self->rules = json_object ();
    self->triggers = json_object ();
    self->policies = json_object ();
    self->sensors = json_object ();
    s_add_builtin_triggers (self);
    return self;
}

void
registry_catalog_destroy (registry_catalog_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        registry_catalog_t *self = *self_p;
        json_decref (self->packs);
        registry_packed_destroy (&self->actions);
        json_decref (self->decoded);
        json_decref (self->rules);
        json_decref (self->triggers);
        json_decref (self->policies);
        json_decref (self->sensors);
        free (self);
        *self_p = NULL;
    }
}

registry_catalog_t *
registry_catalog_copy (const registry_catalog_t *self)
{
    assert (self);
    registry_catalog_t *copy =
        (registry_catalog_t *)calloc (1, sizeof (registry_catalog_t));
    if (!copy)
        return NULL;
    copy->packs = json_deep_copy (self->packs);
    copy->actions = registry_packed_dup (self->actions);
    copy->decoded = json_object ();
    copy->rules = json_deep_copy (self->rules);
    copy->triggers = json_deep_copy (self->triggers);
    copy->policies = json_deep_copy (self->policies);
    copy->sensors = json_deep_copy (self->sensors);
    if (!copy->packs || !copy->actions || !copy->decoded || !copy->rules ||
        !copy->triggers || !copy->policies || !copy->sensors)
        registry_catalog_destroy (&copy);
    return copy;
}

//  The actions of `pack`: their refs start with "pack." (the field says
//  which when pack names hold dots)
static void
s_drop_actions (registry_catalog_t *self, const char *pack)
{
    json_object_clear (self->decoded);
    size_t length = strlen (pack);
    for (const char *ref = registry_packed_first (self->actions); ref;
         ref = registry_packed_next (self->actions)) {
        if (strncmp (ref, pack, length) || ref[length] != '.')
            continue;
        json_t *definition = registry_packed_get (self->actions, ref);
        if (streq (registry_pack_str (definition, "pack", ""), pack))
            registry_packed_delete (self->actions, ref);
        json_decref (definition);
    }
}

void
registry_catalog_drop_pack (registry_catalog_t *self, const char *pack)
{
    assert (self);
    json_object_del (self->packs, pack);
    s_drop_actions (self, pack);
    json_t *kinds[] = {self->rules, self->triggers, self->policies, self->sensors};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const char *ref;
        json_t *definition;
        void *tmp;
        json_object_foreach_safe (kinds[k], tmp, ref, definition)
        {
            if (!json_is_true (json_object_get (definition, "builtin")) &&
                streq (registry_pack_str (definition, "pack", ""), pack))
                json_object_del (kinds[k], ref);
        }
    }
}

//  ---------------------------------------------------------------------------
//  Loading

//  registry_pack_put_fn into the packed actions
static int
s_put_action (void *arg, const char *ref, const json_t *definition, char *file,
              size_t file_size)
{
    registry_catalog_t *self = (registry_catalog_t *)arg;
    json_t *old = registry_packed_get (self->actions, ref);
    if (old || registry_packed_put (self->actions, ref, definition) != 0) {
        snprintf (file, file_size, "%s",
                  old ? registry_pack_str (old, "file", "?") : "? (out of memory)");
        json_decref (old);
        return -1;
    }
    return 0;
}

int
registry_catalog_load_pack (registry_catalog_t *self, const char *pack_dir,
                            zlist_t *errors)
{
    assert (self);
    json_t *pack = registry_pack_read (pack_dir, self->packs, errors);
    if (!pack)
        return -1;
    const char *ref = json_string_value (json_object_get (pack, "ref"));
    json_object_set_new (self->packs, ref, pack);
    registry_pack_load_folder (pack_dir, ref, REGISTRY_PACK_TRIGGERS, self->triggers,
                               errors);
    json_object_clear (self->decoded);
    registry_pack_load_folder_to (pack_dir, ref, REGISTRY_PACK_ACTIONS, s_put_action,
                                  self, errors);
    registry_pack_load_folder (pack_dir, ref, REGISTRY_PACK_RULES, self->rules, errors);
    registry_pack_load_folder (pack_dir, ref, REGISTRY_PACK_POLICIES, self->policies,
                               errors);
    //  As StackStorm, a config that does not validate does not keep the
    //  pack out; its Python actions fail at run with this error
    char message[1024];
    if (pack_config_load (pack_dir, ref, NULL, NULL, NULL, message, sizeof message) != 0)
        zlist_append (errors, message);
    registry_pack_sensor_triggers (pack_dir, ref, self->triggers, self->sensors, errors);
    json_object_set_new (pack, "skipped", registry_pack_skipped (pack_dir, ref));
    return 0;
}

//  Reference and trigger-parameter checks for one rule. 0 or -1 with message.
static int
s_check_rule_refs (registry_catalog_t *self, json_t *rule, char *message, size_t size)
{
    const json_t *trigger = json_object_get (rule, "trigger");
    const char *type = registry_pack_str (trigger, "type", "");
    const json_t *tdef = json_object_get (self->triggers, type);
    if (!tdef) {
        snprintf (message, size, "trigger.type: unknown trigger type \"%s\"", type);
        return -1;
    }
    //  Cron fields are strings ("*/5", "1-5"), but StackStorm packs also
    //  write plain numbers (minute: 0): take those as their text
    json_t *given = json_object_get (trigger, "parameters");
    if (!strcmp (type, "core.st2.CronTimer") && json_is_object (given)) {
        const char *key;
        json_t *value;
        json_object_foreach (given, key, value)
        {
            if (json_is_integer (value))
                json_object_set_new (
                    given, key,
                    json_sprintf ("%" JSON_INTEGER_FORMAT, json_integer_value (value)));
        }
    }
    char reason[512];
    json_t *params = registry_params_apply (json_object_get (tdef, "parameters_schema"),
                                            json_object_get (trigger, "parameters"),
                                            reason, sizeof reason);
    if (!params) {
        snprintf (message, size, "trigger.parameters: %s", reason);
        return -1;
    }
    //  Keep the completed parameters (defaults applied): the sensor keys its
    //  timers on them.
    json_object_set_new ((json_t *)trigger, "parameters", params);
    const char *action = registry_pack_str (json_object_get (rule, "action"), "ref", "");
    if (!registry_packed_has (self->actions, action)) {
        snprintf (message, size, "action.ref: unknown action \"%s\"", action);
        return -1;
    }
    return 0;
}

int
registry_catalog_check (registry_catalog_t *self, zlist_t *errors)
{
    assert (self);
    int dropped = 0;
    const char *ref;
    json_t *rule;
    void *tmp;
    json_object_foreach_safe (self->rules, tmp, ref, rule)
    {
        char message[768];
        if (s_check_rule_refs (self, rule, message, sizeof message)) {
            const char *file = registry_pack_str (rule, "file", ref);
            //  Re-read the file only to find the line of the failing field.
            registry_yaml_t *doc = registry_yaml_load (file, NULL, 0);
            const char *pointer =
                !strncmp (message, "action", 6)
                    ? "/action/ref"
                    : (!strncmp (message, "trigger.type", 12) ? "/trigger/type"
                                                              : "/trigger/parameters");
            registry_pack_report (errors, doc, file, pointer, "%s", message);
            registry_yaml_destroy (&doc);
            json_object_del (self->rules, ref);
            dropped++;
        }
    }
    //  A policy applies to an action that exists
    json_t *policy;
    json_object_foreach_safe (self->policies, tmp, ref, policy)
    {
        const char *target = registry_pack_str (policy, "resource_ref", "");
        if (!registry_packed_has (self->actions, target)) {
            const char *file = registry_pack_str (policy, "file", ref);
            registry_yaml_t *doc = registry_yaml_load (file, NULL, 0);
            registry_pack_report (errors, doc, file, "/resource_ref",
                                  "resource_ref: unknown action \"%s\"", target);
            registry_yaml_destroy (&doc);
            json_object_del (self->policies, ref);
            dropped++;
        }
    }
    return dropped;
}

int
registry_catalog_load_dir (registry_catalog_t *self, const char *dir, zlist_t *errors)
{
    assert (self);
    char **names;
    int count = registry_pack_dirs (dir, &names);
    if (count < 0) {
        registry_pack_report (errors, NULL, dir, NULL, "cannot read the packs folder: %s",
                              strerror (errno));
        return -1;
    }
    int loaded = 0;
    if (names) {
        for (int i = 0; i < count; i++) {
            if (registry_catalog_load_pack (self, names[i], errors) == 0)
                loaded++;
            zstr_free (&names[i]);
        }
        free (names);
    }
    registry_catalog_check (self, errors);
    return loaded;
}

int
registry_catalog_put_rule (registry_catalog_t *self, const json_t *definition,
                           const char *origin, char *message, size_t message_size)
{
    assert (self);
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    const char *file = origin ? origin : "rule";
    json_t *rule = registry_pack_rule (definition, NULL, file, errors);
    int rc = -1;
    if (!rule) {
        char *first = (char *)zlist_first (errors);
        snprintf (message, message_size, "%s", first ? first : "invalid rule");
    } else {
        char reason[768];
        if (s_check_rule_refs (self, rule, reason, sizeof reason))
            snprintf (message, message_size, "%s: %s", file, reason);
        else {
            json_object_set (self->rules,
                             json_string_value (json_object_get (rule, "ref")), rule);
            rc = 0;
        }
        json_decref (rule);
    }
    zlist_destroy (&errors);
    return rc;
}

int
registry_catalog_put_trigger (registry_catalog_t *self, const json_t *definition,
                              const char *origin, char *message, size_t message_size)
{
    assert (self);
    const char *pack = registry_pack_str (definition, "pack", NULL);
    if (!json_is_object (definition) || !pack || !registry_pack_name_valid (pack)) {
        snprintf (message, message_size, "%s: pack: a trigger type needs its pack",
                  origin ? origin : "trigger");
        return -1;
    }
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    const char *file = origin ? origin : "trigger";
    json_t *trigger = registry_pack_trigger (definition, pack, file, errors);
    int rc = -1;
    const char *ref = trigger ? registry_pack_str (trigger, "ref", "") : "";
    const json_t *old = json_object_get (self->triggers, ref);
    if (!trigger) {
        char *first = (char *)zlist_first (errors);
        snprintf (message, message_size, "%s", first ? first : "invalid trigger type");
    } else if (json_is_true (json_object_get (old, "builtin")) ||
               strncmp (ref, "core.st2.", 9) == 0) {
        snprintf (message, message_size, "%s: %s is a built-in trigger type", file, ref);
        rc = -2;
    } else {
        json_object_del (trigger, "file");
        json_object_set (self->triggers, ref, trigger);
        rc = 0;
    }
    json_decref (trigger);
    zlist_destroy (&errors);
    return rc;
}

int
registry_catalog_delete_trigger (registry_catalog_t *self, const char *ref, char *message,
                                 size_t message_size)
{
    assert (self);
    const json_t *trigger = json_object_get (self->triggers, ref);
    if (!trigger) {
        snprintf (message, message_size, "trigger type '%s' does not exist", ref);
        return -1;
    }
    if (json_is_true (json_object_get (trigger, "builtin"))) {
        snprintf (message, message_size, "%s is a built-in trigger type", ref);
        return -2;
    }
    size_t len = 0;
    message[0] = 0;
    const char *key;
    json_t *rule;
    json_object_foreach (self->rules, key, rule)
    {
        if (strcmp (registry_pack_str (json_object_get (rule, "trigger"), "type", ""),
                    ref) == 0 &&
            len + 1 < message_size)
            len += (size_t)snprintf (message + len, message_size - len, "%s%s",
                                     len ? ", " : "", key);
    }
    if (len) {
        char rules[512];
        snprintf (rules, sizeof rules, "%s", message);
        snprintf (message, message_size, "trigger type %s is used by the rules %s", ref,
                  rules);
        return -2;
    }
    json_object_del (self->triggers, ref);
    return 0;
}

int
registry_catalog_delete_rule (registry_catalog_t *self, const char *ref)
{
    assert (self);
    return json_object_del (self->rules, ref) == 0 ? 0 : -1;
}

const json_t *
registry_catalog_action (registry_catalog_t *self, const char *ref)
{
    assert (self);
    json_t *definition = json_object_get (self->decoded, ref);
    if (!definition && (definition = registry_packed_get (self->actions, ref)))
        json_object_set_new (self->decoded, ref, definition);
    return definition;
}

const json_t *
registry_catalog_rule (registry_catalog_t *self, const char *ref)
{
    return json_object_get (self->rules, ref);
}

const json_t *
registry_catalog_trigger (registry_catalog_t *self, const char *ref)
{
    return json_object_get (self->triggers, ref);
}

const json_t *
registry_catalog_pack (registry_catalog_t *self, const char *ref)
{
    return json_object_get (self->packs, ref);
}

const json_t *
registry_catalog_actions (registry_catalog_t *self)
{
    assert (self);
    for (const char *ref = registry_packed_first (self->actions); ref;
         ref = registry_packed_next (self->actions))
        registry_catalog_action (self, ref);
    return self->decoded;
}

registry_packed_t *
registry_catalog_packed_actions (registry_catalog_t *self)
{
    assert (self);
    return self->actions;
}

const json_t *
registry_catalog_rules (registry_catalog_t *self)
{
    return self->rules;
}

const json_t *
registry_catalog_policies (registry_catalog_t *self)
{
    assert (self);
    return self->policies;
}

const json_t *
registry_catalog_triggers (registry_catalog_t *self)
{
    return self->triggers;
}

const json_t *
registry_catalog_packs (registry_catalog_t *self)
{
    return self->packs;
}

const json_t *
registry_catalog_sensors (registry_catalog_t *self)
{
    assert (self);
    return self->sensors;
}
