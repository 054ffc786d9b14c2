/*  rules_enforce: an event.create command in, the event stored, its rules
    evaluated, one enforcement (record, outbox command, fact) per matching
    rule (rules_internal.h). */
#include "actors/rules/rules_internal.h"
#include "actors/rules/rules_config.h"

//  ---------------------------------------------------------------------------
//  Helpers

//  New envelope of `type` with a msgpack payload, corr = the command's id,
//  trace = the command's trace or the event id. NULL on failure (logged).
static proto_envelope_t *
s_envelope (rules_t *self, const char *type, proto_envelope_t *command,
            const char *event_id, const msgpack_sbuffer *payload)
{
    //  Packed here (from values already validated on the way in): no second
    //  validation
    proto_envelope_t *envelope =
        proto_envelope_new_packed (type, self->source, payload->data, payload->size);
    if (!envelope) {
        zsys_error ("rules: cannot build %s for event %s: out of memory", type, event_id);
        return NULL;
    }
    proto_envelope_set_corr (envelope, proto_envelope_id (command));
    const char *trace = proto_envelope_trace (command);
    proto_envelope_set_trace (envelope, trace ? trace : event_id);
    return envelope;
}

//  ---------------------------------------------------------------------------
//  Enforcements

static int
s_count_failed (rules_t *self, store_txn_t *txn)
{
    uint64_t failed = 0;
    const void *data;
    size_t size;
    if (store_get (txn, self->counters, "failed", 6, &data, &size) == STORE_OK &&
        size == 8)
        failed = store_key_id (data);
    uint8_t value[8];
    store_id_key (failed + 1, value);
    return store_put (txn, self->counters, "failed", 6, value, sizeof value) == STORE_OK
               ? 0
               : -1;
}

//  Pack {enforcement, rule, event, action} (the start of every enforcement
//  map, `extra` more entries follow).
static void
s_pack_head (msgpack_packer *pk, size_t extra, const char *enforcement,
             const rules_rule_t *rule, const char *event_id)
{
    msgpack_pack_map (pk, 4 + extra);
    proto_pack_str (pk, "enforcement");
    proto_pack_str (pk, enforcement);
    proto_pack_str (pk, "rule");
    proto_pack_str (pk, rule->ref);
    proto_pack_str (pk, "event");
    proto_pack_str (pk, event_id);
    proto_pack_str (pk, "action");
    proto_pack_str (pk, rule->action);
}

//  Whether `rule`'s action runs its `cmd` parameter as a shell command: its
//  runner is local-shell-cmd or remote-shell-cmd, or the action is not (yet)
//  in the registry's copy (quoting a value that needed none is the safe
//  mistake).
static bool
s_cmd_is_shell (rules_t *self, const rules_rule_t *rule)
{
    const json_t *action = registry_client_get (self->registry, "action", rule->action);
    const char *runner = json_string_value (json_object_get (action, "runner_type"));
    return !runner || streq (runner, "local-shell-cmd") ||
           streq (runner, "remote-shell-cmd");
}

//  Render the rule's action parameters for the event; a shell command (a
//  string `cmd` of a shell action) is rendered with every inserted value
//  quoted as one word (principle 7). New reference, or NULL with `reason`.
static json_t *
s_render_in (rules_t *self, const rules_rule_t *rule, const json_t *context, char *reason,
             size_t size)
{
    const json_t *params = rule->action_parameters;
    const json_t *cmd = json_object_get (params, "cmd");
    if (!json_is_string (cmd) || !s_cmd_is_shell (self, rule))
        return rules_template_render (params, context, "action.parameters", reason, size);
    json_t *others = json_copy ((json_t *)params);
    json_object_del (others, "cmd");
    json_t *rendered = others ? rules_template_render (others, context,
                                                       "action.parameters", reason, size)
                              : NULL;
    json_decref (others);
    json_t *line =
        rendered ? rules_template_render_shell (json_string_value (cmd), context,
                                                "action.parameters.cmd", reason, size)
                 : NULL;
    if (!line) {
        json_decref (rendered);
        return NULL;
    }
    json_object_set_new (rendered, "cmd", line);
    return rendered;
}

//  ... with the st2kv keys the parameters name added to the context
static json_t *
s_render_parameters (rules_t *self, const rules_rule_t *rule, const json_t *context,
                     char *reason, size_t size)
{
    json_t *with_kv = rules_kv_context (self->kv, rule->definition,
                                        rule->action_parameters, context, reason, size);
    bool config = rules_config_add (self->packs_dir, rule->action,
                                    rule->action_parameters, with_kv);
    json_t *rendered = with_kv ? s_render_in (self, rule, with_kv, reason, size) : NULL;
    if (rendered && rules_kv_check (self->kv, rendered, reason, size) != 0) {
        json_decref (rendered); //  a secret reference smuggled in: refused
        rendered = NULL;
    }
    if (config)
        rules_config_done (with_kv);
    rules_kv_done (&with_kv);
    return rendered;
}

//  Whether `value` holds a template ("{{" in a string), or is nested
//  deeper than a renderer takes (it says why): only then is it rendered,
//  with the event's context; anything else renders as itself.
static bool
s_templated (const json_t *value, int depth)
{
    if (depth > 32)
        return true;
    if (json_is_string (value))
        return strstr (json_string_value (value), "{{") != NULL;
    const char *key;
    json_t *item;
    size_t index;
    if (json_is_object (value))
        json_object_foreach ((json_t *)value, key, item)
        {
            if (s_templated (item, depth + 1))
                return true;
        }
    else if (json_is_array (value))
        json_array_foreach (value, index, item)
        {
            if (s_templated (item, depth + 1))
                return true;
        }
    return false;
}

//  The rule's action parameters for the event, packed into self->params:
//  none, as written (no template: no context, no render), or rendered.
//  True; false with `reason`.
static bool
s_parameters (rules_t *self, const rules_rule_t *rule, const json_t *context,
              char *reason, size_t size)
{
    msgpack_sbuffer_clear (&self->params);
    const json_t *params = rule->action_parameters;
    proto_error_t error;
    if (json_object_size (params) == 0) {
        msgpack_sbuffer_write (&self->params, "\x80", 1); //  an empty map
        return true;
    }
    if (!s_templated (params, 0)) {
        if (proto_json_to_sbuffer (params, &self->params, &error) == PROTO_OK)
            return true;
        snprintf (reason, size, "action.parameters: %s", error.message);
        return false;
    }
    assert (context);
    json_t *rendered = s_render_parameters (self, rule, context, reason, size);
    bool packed =
        rendered && proto_json_to_sbuffer (rendered, &self->params, &error) == PROTO_OK;
    if (rendered && !packed)
        snprintf (reason, size, "action.parameters: %s", error.message);
    else if (!rendered && !reason[0])
        snprintf (reason, size, "action.parameters: cannot be rendered");
    json_decref (rendered);
    return packed;
}

json_t *
rules_enforce_test (rules_t *self, const rules_rule_t *rule, const json_t *event)
{
    const char *id = json_string_value (json_object_get (event, "event"));
    json_t *payload = json_object_get (event, "payload");
    const char *trigger = json_string_value (json_object_get (event, "trigger"));
    json_t *context = json_pack (
        "{s:{s:s, s:o}, s:{s:s, s:I}, s:{s:s}}", "trigger", "type",
        trigger ? trigger : "", "payload",
        payload ? json_incref (payload) : json_object (), "event", "id", id ? id : "",
        "ts", (json_int_t)json_integer_value (json_object_get (event, "ts")), "rule",
        "ref", rule->ref);
    if (!context)
        return NULL;
    bool matched = false;
    json_t *criteria =
        rules_criteria_explain (rule->criteria, context, proto_now_usec (), &matched);
    json_t *answer =
        json_pack ("{s:s, s:s, s:b, s:o}", "rule", rule->ref, "action", rule->action,
                   "matched", matched, "criteria", criteria ? criteria : json_array ());
    const json_t *params = rule->action_parameters;
    char reason[1024] = "";
    json_t *rendered =
        !matched ? NULL
        : !s_templated (params, 0)
            ? json_deep_copy (params)
            : s_render_parameters (self, rule, context, reason, sizeof reason);
    if (rendered)
        json_object_set_new (answer, "parameters", rendered);
    else if (matched)
        json_object_set_new (answer, "error",
                             json_string (reason[0] ? reason : "cannot be rendered"));
    json_decref (context);
    return answer;
}

//  enforcement.create of a created enforcement into the outbox (stored in
//  this transaction, sent after the commit as stored). 0 or -1.
static int
s_outbox_put (rules_t *self, store_txn_t *txn, proto_envelope_t *command, const char *id,
              const rules_rule_t *rule, const char *event_id)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear (&self->payload);
    msgpack_packer_init (&pk, &self->payload, msgpack_sbuffer_write);
    s_pack_head (&pk, 1, id, rule, event_id);
    proto_pack_str (&pk, "parameters");
    msgpack_sbuffer_write (&self->payload, self->params.data, self->params.size);
    proto_envelope_t *envelope =
        s_envelope (self, "enforcement.create", command, event_id, &self->payload);
    msgpack_sbuffer_clear (&self->encoded);
    if (!envelope || proto_envelope_encode (envelope, &self->encoded) != 0) {
        proto_envelope_destroy (&envelope);
        return -1;
    }
    //  Never over a stored command: STORE_EXISTS fails the batch
    uint64_t oid = ++self->outbox_pending;
    uint8_t oid_key[8];
    store_id_key (oid, oid_key);
    uint8_t envelope_id[PROTO_UUID_SIZE];
    memcpy (envelope_id, proto_envelope_id (envelope), PROTO_UUID_SIZE);
    proto_envelope_destroy (&envelope);
    if (store_put_new (txn, self->outbox, oid_key, sizeof oid_key, self->encoded.data,
                       self->encoded.size) != STORE_OK ||
        rules_effect_command (self, oid, envelope_id, &self->encoded) != 0)
        return -1;
    return 0;
}

//  enforcement.created, for after the commit.
static void
s_enforced_fact (rules_t *self, proto_envelope_t *command, const char *id,
                 const rules_rule_t *rule, const char *event_id, const char *reason)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear (&self->payload);
    msgpack_packer_init (&pk, &self->payload, msgpack_sbuffer_write);
    s_pack_head (&pk, reason ? 2 : 1, id, rule, event_id);
    proto_pack_str (&pk, "status");
    proto_pack_str (&pk, reason ? "failed" : "created");
    if (reason) {
        proto_pack_str (&pk, "reason");
        proto_pack_str (&pk, reason);
    }
    proto_envelope_t *fact =
        s_envelope (self, "enforcement.created", command, event_id, &self->payload);
    if (fact)
        rules_effect_fact (self, fact);
}

//  One enforcement of `rule` for the event. `failure` non-NULL fails it
//  without rendering. 0, or -1 when the store failed.
static int
s_enforce (rules_t *self, store_txn_t *txn, proto_envelope_t *command,
           const char *event_id, int64_t ts, const rules_rule_t *rule,
           const json_t *context, const char *failure)
{
    //  Natural key (event, rule): the event is stored under its command id
    //  in this same transaction (a redelivered event stops in
    //  rules_enforce_command before any rule is looked at) and a rule is
    //  once in its trigger's list, so this (event, rule) has no enforcement
    //  yet. No key table to check: one table (three pages of a grown tree)
    //  less per commit.
    uint8_t uuid[PROTO_UUID_SIZE];
    proto_uuid_generate (uuid);
    char id[PROTO_UUID_STR_SIZE];
    proto_uuid_format (uuid, id);
    char reason[768] = "";
    bool created = false;
    if (failure)
        snprintf (reason, sizeof reason, "%s", failure);
    else
        created = s_parameters (self, rule, context, reason, sizeof reason);

    //  Record
    msgpack_packer pk;
    msgpack_sbuffer_clear (&self->record);
    msgpack_packer_init (&pk, &self->record, msgpack_sbuffer_write);
    s_pack_head (&pk, 3, id, rule, event_id);
    proto_pack_str (&pk, "status");
    proto_pack_str (&pk, created ? "created" : "failed");
    proto_pack_str (&pk, "ts");
    msgpack_pack_int64 (&pk, ts);
    if (created) {
        proto_pack_str (&pk, "parameters");
        msgpack_sbuffer_write (&self->record, self->params.data, self->params.size);
    } else {
        proto_pack_str (&pk, "reason");
        proto_pack_str (&pk, reason);
    }
    if (store_put (txn, self->enforcements, uuid, sizeof uuid, self->record.data,
                   self->record.size) != STORE_OK)
        return -1;
    if (created) {
        if (s_outbox_put (self, txn, command, id, rule, event_id) != 0)
            return -1;
    } else {
        zsys_warning ("rules: enforcement %s of rule %s for event %s failed: %s", id,
                      rule->ref, event_id, reason);
        if (s_count_failed (self, txn) != 0)
            return -1;
    }
    s_enforced_fact (self, command, id, rule, event_id, created ? NULL : reason);
    return 0;
}

//  Whether `obj` has a JSON form; when not, `error` says why exactly as the
//  conversion would (it is run then, on the rare failing path, for the path).
static bool
s_has_json_form (const msgpack_object *obj, const char *path, proto_error_t *error)
{
    if (proto_json_check (obj, path, error) == PROTO_OK)
        return true;
    json_t *json = proto_json_from_msgpack (obj, path, error);
    json_decref (json);
    return json != NULL;
}

//  The JSON forms of an event, built on first need: the evaluation context
//  (criteria, templates) and the trigger parameters (compared with rules').
//  The context's payload starts with only the keys that criteria read
//  (partial), and is converted whole when a rule may read more: a rule on
//  status=failed costs the conversion of one value, not of the result.
typedef struct {
    const char *trigger;
    const char *event_id;
    int64_t ts;
    const msgpack_object *tparams;
    const msgpack_object *data;
    json_t *context;
    json_t *rule_object;
    json_t *tparams_json;
    bool partial;   //  the context's payload holds only the keys asked for
    json_t **cache; //  the last event's context, to build this one's in
} s_forms_t;

//  The trigger parameters' form. 0, or -1 (out of memory: checked before).
static int
s_forms_tparams (s_forms_t *forms)
{
    if (!forms->tparams_json)
        forms->tparams_json =
            forms->tparams
                ? proto_json_from_msgpack (forms->tparams, "trigger_parameters", NULL)
                : json_object ();
    return forms->tparams_json ? 0 : -1;
}

//  The last event's context made this one's: its objects and their keys
//  are kept, only the values are new (a dozen allocations fewer an event).
//  Only a context nobody else holds and that has only its own keys (a
//  rendering's st2kv and config_context are gone). 1 with *context set, 0
//  when it cannot be (nothing taken), -1 when out of memory (payload taken).
static int
s_context_reuse (s_forms_t *forms, json_t *payload, json_t **context)
{
    json_t *cached = *forms->cache;
    json_t *trigger = json_object_get (cached, "trigger");
    json_t *event = json_object_get (cached, "event");
    json_t *rule = json_object_get (cached, "rule");
    if (!trigger || !event || !rule || cached->refcount != 1 || trigger->refcount != 1 ||
        event->refcount != 1 || rule->refcount != 1 || json_object_size (cached) != 3 ||
        json_object_size (trigger) != 2 || json_object_size (event) != 2 ||
        json_object_size (rule) != 1)
        return 0;
    *forms->cache = NULL;
    int rc = json_object_set_new_nocheck (trigger, "payload", payload);
    rc |= json_object_set_new_nocheck (trigger, "type", json_string (forms->trigger));
    rc |= json_object_set_new_nocheck (event, "id", json_string (forms->event_id));
    rc |= json_object_set_new_nocheck (event, "ts", json_integer ((json_int_t)forms->ts));
    if (rc != 0) {
        json_decref (cached);
        return -1;
    }
    forms->rule_object = rule;
    *context = cached;
    return 1;
}

//  {trigger: {type, payload (taken)}, event: {id, ts}, rule: {ref}}, built
//  by hand: json_pack's walk of its format cost as much as the rest of the
//  context (or the last event's, reused). NULL when out of memory.
static json_t *
s_context_new (s_forms_t *forms, json_t *payload)
{
    json_t *reused = NULL;
    int reuse = *forms->cache ? s_context_reuse (forms, payload, &reused) : 0;
    if (reuse != 0)
        return reused; //  NULL when it failed
    json_decref (*forms->cache);
    *forms->cache = NULL;
    json_t *context = json_object ();
    json_t *trigger = json_object ();
    json_t *event = json_object ();
    forms->rule_object = json_object ();
    int rc = json_object_set_new_nocheck (trigger, "type", json_string (forms->trigger));
    rc |= json_object_set_new_nocheck (trigger, "payload", payload);
    rc |= json_object_set_new_nocheck (event, "id", json_string (forms->event_id));
    rc |= json_object_set_new_nocheck (event, "ts", json_integer ((json_int_t)forms->ts));
    rc |= json_object_set_new_nocheck (context, "trigger", trigger);
    rc |= json_object_set_new_nocheck (context, "event", event);
    rc |= json_object_set_new_nocheck (context, "rule", forms->rule_object);
    if (rc != 0) {
        json_decref (context);
        return NULL;
    }
    return context;
}

//  The context around `payload` (taken; NULL: the one it has), for `rule`.
//  0 or -1.
static int
s_forms_context (s_forms_t *forms, json_t *payload, const rules_rule_t *rule)
{
    if (!forms->context) {
        if (!payload || !(forms->context = s_context_new (forms, payload)))
            return -1;
    } else if (payload &&
               json_object_set_new (json_object_get (forms->context, "trigger"),
                                    "payload", payload) != 0)
        return -1;
    return json_object_set_new (forms->rule_object, "ref", json_string (rule->ref));
}

//  The context with the whole payload, for `rule`. 0 or -1.
static int
s_forms_full (s_forms_t *forms, const rules_rule_t *rule)
{
    json_t *payload = NULL;
    if (!forms->context || forms->partial) {
        payload = proto_json_from_msgpack (forms->data, "payload", NULL);
        if (!payload)
            return -1;
        forms->partial = false;
    }
    return s_forms_context (forms, payload, rule);
}

//  The context for `rule`'s criteria: the payload's keys they read, or the
//  whole payload when they may read more. 0 or -1.
static int
s_forms_criteria (s_forms_t *forms, const rules_rule_t *rule)
{
    size_t count;
    const char *const *keys = rules_criteria_payload_keys (rule->criteria, &count);
    if (!keys)
        return s_forms_full (forms, rule);
    if (!forms->context) {
        forms->partial = true;
        if (s_forms_context (forms, json_object (), rule) != 0)
            return -1;
    } else if (s_forms_context (forms, NULL, rule) != 0)
        return -1;
    if (!forms->partial)
        return 0;
    json_t *payload =
        json_object_get (json_object_get (forms->context, "trigger"), "payload");
    const msgpack_object_map *map = &forms->data->via.map;
    for (size_t k = 0; k < count; k++) {
        if (json_object_get (payload, keys[k]))
            continue;
        size_t size = strlen (keys[k]);
        for (uint32_t i = 0; i < map->size; i++) {
            const msgpack_object *key = &map->ptr[i].key;
            if (key->type != MSGPACK_OBJECT_STR || key->via.str.size != size ||
                memcmp (key->via.str.ptr, keys[k], size) != 0)
                continue;
            json_t *value = proto_json_from_msgpack (&map->ptr[i].val, "payload", NULL);
            if (!value || json_object_set_new (payload, keys[k], value) != 0)
                return -1;
            break;
        }
    }
    return 0;
}

//  The rule's criteria on the event, with the st2kv keys its patterns name
//  in the context (rules_kv.h): a key that cannot be read matches nothing.
static bool
s_criteria_match (rules_t *self, const rules_rule_t *rule, const json_t *context,
                  int64_t now)
{
    if (!rules_criteria_uses_kv (rule->criteria))
        return rules_criteria_match (rule->criteria, context, now);
    const json_t *criteria = json_object_get (rule->definition, "criteria");
    char reason[512] = "";
    json_t *with_kv = rules_kv_context (self->kv, rule->definition, criteria, context,
                                        reason, sizeof reason);
    if (!with_kv)
        zsys_warning ("rules: %s: criteria: %s", rule->ref, reason);
    bool match = with_kv && rules_criteria_match (rule->criteria, with_kv, now);
    rules_kv_done (&with_kv);
    return match;
}

//  Evaluate the candidate rules of an event and enforce the matching ones.
//  0, or -1 when the store failed.
static int
s_evaluate (rules_t *self, store_txn_t *txn, proto_envelope_t *command,
            const char *event_id, int64_t ts, const char *trigger,
            const msgpack_object *tparams, const msgpack_object *data)
{
    size_t count;
    rules_rule_t *const *rules = rules_set_for_trigger (self->rules, trigger, &count);
    if (count == 0)
        return 0;
    //  Whether the event has JSON forms, once per event; they are built only
    //  for a rule that needs them (criteria, templates, trigger parameters)
    char failure[512] = "";
    proto_error_t error;
    if (!s_has_json_form (data, "payload", &error) ||
        (tparams && !s_has_json_form (tparams, "trigger_parameters", &error)))
        snprintf (failure, sizeof failure, "the event has no JSON form: %s",
                  error.message);
    bool by_parameters = !failure[0] && tparams && tparams->via.map.size > 0;
    s_forms_t forms = {trigger, event_id, ts,   tparams, data,
                       NULL,    NULL,     NULL, false,   &self->context_cache};
    int64_t now = proto_now_usec ();
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        const rules_rule_t *rule = rules[i];
        //  A rule with trigger parameters takes only the events of that
        //  trigger instance (its timer); one without, events without any
        bool rule_has = json_object_size (rule->trigger_parameters) > 0;
        if (rule_has && !by_parameters)
            continue; //  the event has none (or no JSON form): never the same
        if (by_parameters) {
            if (s_forms_tparams (&forms) != 0) {
                rc = -1;
                break;
            }
            if (!rules_json_same (rule->trigger_parameters, forms.tparams_json))
                continue;
        }
        //  The context only for criteria and templates: parameters without
        //  one are copied as written (s_parameters)
        if (!failure[0] &&
            json_object_size (json_object_get (rule->definition, "criteria")) > 0) {
            if (s_forms_criteria (&forms, rule) != 0) {
                rc = -1;
                break;
            }
            if (!s_criteria_match (self, rule, forms.context, now))
                continue;
        }
        if (!failure[0] && s_templated (rule->action_parameters, 0) &&
            s_forms_full (&forms, rule) != 0) {
            rc = -1;
            break;
        }
        rc = s_enforce (self, txn, command, event_id, ts, rule, forms.context,
                        failure[0] ? failure : NULL);
    }
    //  Kept for the next event's (s_context_reuse)
    if (!self->context_cache)
        self->context_cache = forms.context;
    else
        json_decref (forms.context);
    json_decref (forms.tparams_json);
    return rc;
}

//  The event, stored as its event.created payload under the command's id,
//  and its fact for after the commit. 0 or -1.
static int
s_event_put (rules_t *self, store_txn_t *txn, proto_envelope_t *command,
             const char *event_id, const char *trigger_ref, const msgpack_object *tparams,
             const msgpack_object *data)
{
    const uint8_t *event_uuid = proto_envelope_id (command);
    int64_t ts = proto_envelope_ts (command);
    //  Stored as the event.created payload
    msgpack_packer pk;
    msgpack_sbuffer_clear (&self->record);
    msgpack_packer_init (&pk, &self->record, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    proto_pack_str (&pk, "event");
    proto_pack_str (&pk, event_id);
    proto_pack_str (&pk, "trigger");
    proto_pack_str (&pk, trigger_ref);
    proto_pack_str (&pk, "trigger_parameters");
    if (tparams)
        msgpack_pack_object (&pk, *tparams);
    else
        msgpack_pack_map (&pk, 0);
    proto_pack_str (&pk, "payload");
    msgpack_pack_object (&pk, *data);
    proto_pack_str (&pk, "ts");
    msgpack_pack_int64 (&pk, ts);
    if (store_put (txn, self->events, event_uuid, PROTO_UUID_SIZE, self->record.data,
                   self->record.size) != STORE_OK)
        return -1;
    proto_envelope_t *fact =
        s_envelope (self, "event.created", command, event_id, &self->record);
    if (fact)
        rules_effect_fact (self, fact);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Commands

//  The command's payload checked against the message table's row for
//  `type` (looked up once, into *message); NULL once it is rejected
static const msgpack_object *
s_payload (proto_envelope_t *command, const char *type, const proto_message_t **message,
           bus_command_t *info)
{
    if (!*message)
        *message = proto_message_lookup (type, PROTO_MESSAGE_COMMAND);
    const msgpack_object *payload = proto_envelope_payload_object (command);
    proto_error_t error = {0};
    if (!payload)
        snprintf (error.message, sizeof error.message, "out of memory");
    else if (proto_message_validate (*message, payload, &error) == PROTO_OK)
        return payload;
    bus_command_reject (info, "bad_request", "%s: %s", type, error.message);
    return NULL;
}

//  One event.create, alone or from a batch: validated, stored under its
//  command id unless it is already (a redelivery), its rules enforced. 0,
//  bus_command_reject, or -1 when the store failed.
static int
s_event_command (rules_t *self, store_txn_t *txn, proto_envelope_t *command,
                 bus_command_t *info)
{
    //  The payload against the message table (proto/proto_messages.c):
    //  trigger a str of 1-255 bytes, trigger_parameters a map or nil,
    //  payload a map
    static const proto_message_t *message;
    const msgpack_object *payload = s_payload (command, "event.create", &message, info);
    if (!payload)
        return -1;
    const msgpack_object *trigger = proto_map_get (payload, "trigger");
    if (memchr (trigger->via.str.ptr, 0, trigger->via.str.size))
        return bus_command_reject (info, "bad_request",
                                   "event.create: trigger: holds a NUL byte");
    char trigger_ref[S_MAX_TRIGGER];
    memcpy (trigger_ref, trigger->via.str.ptr, trigger->via.str.size); //  < S_MAX_TRIGGER
    trigger_ref[trigger->via.str.size] = 0;
    if (!registry_client_get (self->registry, "trigger", trigger_ref))
        return bus_command_reject (info, "not_found",
                                   "event.create: trigger type '%s' does not exist",
                                   trigger_ref);
    const msgpack_object *tparams = proto_map_get (payload, "trigger_parameters");
    if (tparams && tparams->type == MSGPACK_OBJECT_NIL)
        tparams = NULL;
    const msgpack_object *data = proto_map_get (payload, "payload");
    if (rules_attempt_begin (self, txn) != 0)
        return -1;

    //  The event: the command's id
    const uint8_t *event_uuid = proto_envelope_id (command);
    const void *found;
    size_t found_size;
    store_code_t code =
        store_get (txn, self->events, event_uuid, PROTO_UUID_SIZE, &found, &found_size);
    if (code == STORE_OK) {
        self->attempt_duplicates++;
        return 0;
    }
    if (code != STORE_NOTFOUND)
        return -1;
    char event_id[PROTO_UUID_STR_SIZE];
    proto_uuid_format (event_uuid, event_id);
    int64_t ts = proto_envelope_ts (command);
    if (s_event_put (self, txn, command, event_id, trigger_ref, tparams, data) != 0)
        return -1;
    return s_evaluate (self, txn, command, event_id, ts, trigger_ref, tparams, data);
}

//  The `index`th event of a batch, decoded and applied as if it came
//  alone. One that is refused (it does not decode, it is not an
//  event.create, its content is invalid) is logged and skipped: the batch's
//  sender can do no more with it than with a refused event.create. 0, or
//  -1 when the store failed.
static int
s_batch_event (rules_t *self, store_txn_t *txn, const msgpack_object *item, size_t index,
               bus_command_t *info)
{
    proto_error_t error = {0};
    proto_envelope_t *event =
        proto_envelope_decode (item->via.bin.ptr, item->via.bin.size, NULL, &error);
    bus_command_t one = *info;
    one.reject_code[0] = one.reject_message[0] = 0;
    int rc = 0;
    if (!event)
        bus_command_reject (&one, proto_code_name (error.code), "%s", error.message);
    else if (!streq (proto_envelope_type (event), "event.create"))
        bus_command_reject (&one, "bad_request", "an event.create, not %s",
                            proto_envelope_type (event));
    else
        rc = s_event_command (self, txn, event, &one);
    if (one.reject_code[0]) {
        zsys_warning ("rules: event %zu of a batch from %s refused: %s: %s", index,
                      info->peer, one.reject_code, one.reject_message);
        self->attempt_refused++;
        rc = 0;
    }
    proto_envelope_destroy (&event);
    return rc;
}

//  event.create.batch: events: [bin], each the bytes of one event.create
//  envelope, applied in order in this transaction (PROTOCOL.md)
static int
s_batch_command (rules_t *self, store_txn_t *txn, proto_envelope_t *command,
                 bus_command_t *info)
{
    static const proto_message_t *message;
    const msgpack_object *payload =
        s_payload (command, "event.create.batch", &message, info);
    if (!payload)
        return -1;
    const msgpack_object_array *events = &proto_map_get (payload, "events")->via.array;
    if (rules_attempt_begin (self, txn) != 0)
        return -1;
    for (uint32_t i = 0; i < events->size; i++)
        if (s_batch_event (self, txn, &events->ptr[i], i, info) != 0)
            return -1;
    return 0;
}

int
rules_enforce_command (void *arg, store_txn_t *txn, proto_envelope_t *command,
                       bus_command_t *info)
{
    rules_t *self = (rules_t *)arg;
    const char *type = proto_envelope_type (command);
    bool batch = streq (type, "event.create.batch");
    if (!batch && !streq (type, "event.create"))
        return bus_command_reject (
            info, "bad_request",
            "rules.commands takes event.create and event.create.batch, not %s", type);
    return batch ? s_batch_command (self, txn, command, info)
                 : s_event_command (self, txn, command, info);
}
