/*  rules_set: compiled rule definitions indexed by trigger type. See
    rules_set.h.
*/
#include "actors/rules/rules_set.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t count;
    size_t capacity;
    rules_rule_t **items;
} s_bucket_t;

struct _rules_set_t {
    zhashx_t *rules; //  ref -> rules_rule_t
    zhashx_t *index; //  trigger type -> s_bucket_t (enabled rules)
    bool dirty;      //  index must be rebuilt
    size_t enabled;
};

static void
s_rule_destroy (void **item_p)
{
    rules_rule_t *rule = (rules_rule_t *)*item_p;
    if (rule) {
        free (rule->ref);
        free (rule->trigger);
        free (rule->action);
        json_decref (rule->trigger_parameters);
        json_decref (rule->action_parameters);
        json_decref (rule->definition);
        rules_criteria_destroy (&rule->criteria);
        free (rule);
        *item_p = NULL;
    }
}

static void
s_bucket_destroy (void **item_p)
{
    s_bucket_t *bucket = (s_bucket_t *)*item_p;
    if (bucket) {
        free (bucket->items);
        free (bucket);
        *item_p = NULL;
    }
}

rules_set_t *
rules_set_new (void)
{
    rules_set_t *self = (rules_set_t *)zmalloc (sizeof (rules_set_t));
    self->rules = zhashx_new ();
    self->index = zhashx_new ();
    if (!self->rules || !self->index) {
        rules_set_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->rules, s_rule_destroy);
    zhashx_set_destructor (self->index, s_bucket_destroy);
    return self;
}

void
rules_set_destroy (rules_set_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        rules_set_t *self = *self_p;
        zhashx_destroy (&self->index);
        zhashx_destroy (&self->rules);
        free (self);
        *self_p = NULL;
    }
}

static const char *
s_str (const json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    return value && *value ? value : NULL;
}

//  Compile a definition. NULL with `message` set.
static rules_rule_t *
s_compile (const char *ref, const json_t *definition, char *message, size_t message_size)
{
    const json_t *trigger = json_object_get (definition, "trigger");
    const json_t *action = json_object_get (definition, "action");
    const char *type = s_str (trigger, "type");
    const char *action_ref = s_str (action, "ref");
    if (!type || !action_ref) {
        snprintf (message, message_size, "rule %s: %s missing", ref,
                  type ? "action.ref" : "trigger.type");
        return NULL;
    }
    const json_t *tparams = json_object_get (trigger, "parameters");
    const json_t *aparams = json_object_get (action, "parameters");
    if ((tparams && !json_is_object (tparams)) ||
        (aparams && !json_is_object (aparams))) {
        snprintf (message, message_size, "rule %s: %s is not an object", ref,
                  tparams && !json_is_object (tparams) ? "trigger.parameters"
                                                       : "action.parameters");
        return NULL;
    }
    char field[256] = "", reason[512] = "";
    rules_criteria_t *criteria =
        rules_criteria_new (json_object_get (definition, "criteria"), field, sizeof field,
                            reason, sizeof reason);
    if (!criteria) {
        snprintf (message, message_size, "rule %s: %s", ref, reason);
        return NULL;
    }
    rules_rule_t *rule = (rules_rule_t *)zmalloc (sizeof (rules_rule_t));
    rule->ref = strdup (ref);
    rule->trigger = strdup (type);
    rule->action = strdup (action_ref);
    rule->trigger_parameters = tparams ? json_deep_copy (tparams) : json_object ();
    rule->action_parameters = aparams ? json_deep_copy (aparams) : json_object ();
    rule->criteria = criteria;
    rule->enabled = !json_is_false (json_object_get (definition, "enabled"));
    rule->definition = json_deep_copy (definition);
    if (!rule->ref || !rule->trigger || !rule->action || !rule->trigger_parameters ||
        !rule->action_parameters || !rule->definition) {
        void *item = rule;
        s_rule_destroy (&item);
        snprintf (message, message_size, "rule %s: out of memory", ref);
        return NULL;
    }
    return rule;
}

rules_rule_t *
rules_rule_compile (const char *ref, const json_t *definition, char *message,
                    size_t message_size)
{
    return s_compile (ref, definition, message, message_size);
}

void
rules_rule_destroy (rules_rule_t **rule_p)
{
    s_rule_destroy ((void **)rule_p);
}

rules_rule_t *
rules_set_get (rules_set_t *self, const char *ref)
{
    return (rules_rule_t *)zhashx_lookup (self->rules, ref);
}

int
rules_set_put (rules_set_t *self, const char *ref, const json_t *definition,
               char *message, size_t message_size)
{
    assert (self);
    assert (ref);
    rules_rule_t *old = (rules_rule_t *)zhashx_lookup (self->rules, ref);
    if (!definition) {
        if (old) {
            zhashx_delete (self->rules, ref);
            self->dirty = true;
        }
        return 0;
    }
    if (old && json_equal (old->definition, definition))
        return 0;
    self->dirty = true;
    rules_rule_t *rule = s_compile (ref, definition, message, message_size);
    if (!rule) {
        zhashx_delete (self->rules, ref);
        return -1;
    }
    zhashx_update (self->rules, ref, rule); //  destroys the old one
    return 0;
}

static int
s_compare_refs (const void *a, const void *b)
{
    const rules_rule_t *ra = *(rules_rule_t *const *)a;
    const rules_rule_t *rb = *(rules_rule_t *const *)b;
    return strcmp (ra->ref, rb->ref);
}

static void
s_rebuild (rules_set_t *self)
{
    zhashx_purge (self->index);
    self->enabled = 0;
    for (rules_rule_t *rule = (rules_rule_t *)zhashx_first (self->rules); rule;
         rule = (rules_rule_t *)zhashx_next (self->rules)) {
        if (!rule->enabled)
            continue;
        s_bucket_t *bucket = (s_bucket_t *)zhashx_lookup (self->index, rule->trigger);
        if (!bucket) {
            bucket = (s_bucket_t *)zmalloc (sizeof (s_bucket_t));
            zhashx_insert (self->index, rule->trigger, bucket);
        }
        if (bucket->count == bucket->capacity) {
            size_t capacity = bucket->capacity ? bucket->capacity * 2 : 4;
            rules_rule_t **items =
                (rules_rule_t **)realloc (bucket->items, capacity * sizeof *items);
            assert (items);
            bucket->items = items;
            bucket->capacity = capacity;
        }
        bucket->items[bucket->count++] = rule;
        self->enabled++;
    }
    for (s_bucket_t *bucket = (s_bucket_t *)zhashx_first (self->index); bucket;
         bucket = (s_bucket_t *)zhashx_next (self->index))
        qsort (bucket->items, bucket->count, sizeof bucket->items[0], s_compare_refs);
    self->dirty = false;
}

rules_rule_t *const *
rules_set_for_trigger (rules_set_t *self, const char *trigger, size_t *count)
{
    assert (self);
    assert (count);
    if (self->dirty)
        s_rebuild (self);
    s_bucket_t *bucket = (s_bucket_t *)zhashx_lookup (self->index, trigger);
    *count = bucket ? bucket->count : 0;
    return bucket ? bucket->items : NULL;
}

size_t
rules_set_size (rules_set_t *self)
{
    assert (self);
    return zhashx_size (self->rules);
}

size_t
rules_set_enabled (rules_set_t *self)
{
    assert (self);
    if (self->dirty)
        s_rebuild (self);
    return self->enabled;
}

bool
rules_json_same (const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    if (json_is_number (a) && json_is_number (b)) {
        if (json_is_integer (a) && json_is_integer (b))
            return json_integer_value (a) == json_integer_value (b);
        return json_number_value (a) == json_number_value (b);
    }
    if (json_typeof (a) != json_typeof (b))
        return false;
    if (json_is_object (a)) {
        if (json_object_size (a) != json_object_size (b))
            return false;
        const char *key;
        const json_t *value;
        json_object_foreach ((json_t *)a, key, value)
        {
            if (!rules_json_same (value, json_object_get (b, key)))
                return false;
        }
        return true;
    }
    if (json_is_array (a)) {
        if (json_array_size (a) != json_array_size (b))
            return false;
        for (size_t i = 0; i < json_array_size (a); i++)
            if (!rules_json_same (json_array_get (a, i), json_array_get (b, i)))
                return false;
        return true;
    }
    return json_equal (a, b);
}
