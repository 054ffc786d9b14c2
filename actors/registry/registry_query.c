/*  registry_query: the registry's answers on registry.query (definitions
    for the api, live pack operations, status). See registry_internal.h.
*/
#include "actors/registry/registry_internal.h"
#include "actors/registry/registry_live.h"

//  ---------------------------------------------------------------------------
//  Queries (registry.query): definitions for the api

//  Kind of an api.<kind>.<verb> operation; NULL when not ours.
static const char *
s_query_kind (const char *type, const char **verb)
{
    static const char *kinds[] = {"pack", "action", "trigger", "rule", "policy"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n = strlen (kinds[i]);
        if (strncmp (type, "api.", 4) == 0 && strncmp (type + 4, kinds[i], n) == 0 &&
            type[4 + n] == '.') {
            *verb = type + 5 + n;
            return kinds[i];
        }
    }
    return NULL;
}

//  A definition as clients see it: without the server's file paths.
static json_t *
s_public (const json_t *definition)
{
    json_t *copy = json_deep_copy (definition);
    json_object_del (copy, "file");
    json_object_del (copy, "pack_dir");
    json_object_del (copy, "dir");
    return copy;
}

//  Whether a definition is listed for a `pack` and an `enabled` filter
//  (each NULL: any)
static bool
s_listed (const json_t *definition, const char *kind, const char *ref, const char *pack,
          const json_t *enabled)
{
    const char *its_pack = json_string_value (json_object_get (definition, "pack"));
    if (streq (kind, "pack"))
        its_pack = ref;
    if (pack && (!its_pack || !streq (pack, its_pack)))
        return false;
    return !json_is_boolean (enabled) ||
           json_is_false (json_object_get (definition, "enabled")) !=
               json_is_true (enabled);
}

//  api.action.list as actor_page_list lists the other kinds, over the packed
//  actions: the refs above `after` in order, and only those up to the
//  page's end decoded. NULL when out of memory.
static json_t *
s_page_actions (registry_packed_t *actions, const char *pack, const json_t *enabled,
                const char *after, size_t limit)
{
    zlistx_t *refs = registry_packed_refs (actions);
    if (!refs)
        return NULL;
    actor_page_t page;
    actor_page_init (&page, limit);
    size_t length = pack ? strlen (pack) : 0;
    const char *last = NULL;
    for (const char *ref = (const char *)zlistx_first (refs); ref && !page.more;
         ref = (const char *)zlistx_next (refs)) {
        if ((after && strcmp (ref, after) <= 0) ||
            (pack && (strncmp (ref, pack, length) || ref[length] != '.')))
            continue;
        json_t *definition = registry_packed_get (actions, ref);
        if (definition && s_listed (definition, "action", ref, pack, enabled) &&
            actor_page_add (&page, s_public (definition)))
            last = ref;
        json_decref (definition);
    }
    json_t *next = page.more && last ? json_string (last) : json_null ();
    zlistx_destroy (&refs);
    return json_pack ("{s:o, s:o}", "items", page.items, "next", next);
}

//  api.<kind>.list: in ref order from the first above `after`, cut by count
//  (`limit`, none by default) and by bytes (a reply is one frame).
static void
s_list (registry_t *self, const char *kind, json_t *payload, actor_answer_t *answer)
{
    const char *pack = actor_arg_str (payload, "pack", answer);
    const char *after = actor_arg_str (payload, "after", answer);
    int64_t limit = actor_arg_int (payload, "limit", 0, 1, INT32_MAX, answer);
    json_t *enabled = json_object_get (payload, "enabled");
    if (answer->code[0])
        return;
    if (enabled && !json_is_boolean (enabled) && !json_is_null (enabled)) {
        actor_query_fail (answer, "bad_request", "enabled: expected a boolean");
        return;
    }
    if (streq (kind, "action")) {
        answer->result = s_page_actions (registry_catalog_packed_actions (self->catalog),
                                         pack, enabled, after, (size_t)limit);
        return;
    }
    json_t *matching = json_array ();
    const char *ref;
    json_t *definition;
    json_object_foreach ((json_t *)registry_all (self, kind), ref, definition)
    {
        if (s_listed (definition, kind, ref, pack, enabled))
            json_array_append (matching, definition);
    }
    answer->result = actor_page_list (matching, "ref", after, (size_t)limit, s_public);
    json_decref (matching);
}

//  ---------------------------------------------------------------------------
//  Packs managed while running (registry_live.h)

static void
s_publish_change (void *self, const char *kind, const char *ref, const json_t *definition)
{
    registry_publish ((registry_t *)self, kind, ref, definition);
}

static void
s_reapply_changes (void *self)
{
    registry_apply_changes ((registry_t *)self);
}

static void
s_pack_op (registry_t *self, const char *verb, json_t *payload, actor_answer_t *answer)
{
    registry_live_t live = {&self->catalog,
                            &self->errors,
                            self->packs_dir,
                            self->data_dir,
                            s_reapply_changes,
                            s_publish_change,
                            self};
    registry_live_op (&live, verb, payload, answer);
}

void
registry_query_handle (void *arg, const char *type, json_t *payload,
                       actor_answer_t *answer)
{
    registry_t *self = (registry_t *)arg;
    const char *verb = NULL;
    const char *kind = s_query_kind (type, &verb);
    if (streq (type, "api.status")) {
        answer->result = registry_status (self);
        json_object_set_new (answer->result, "up", json_true ());
        return;
    }
    if (kind && streq (kind, "pack") &&
        (streq (verb, "install") || streq (verb, "remove") || streq (verb, "reload"))) {
        s_pack_op (self, verb, payload, answer);
        return;
    }
    if (!kind || (!streq (verb, "list") && !streq (verb, "get"))) {
        actor_query_fail (answer, "unknown_type", "the registry does not answer '%s'",
                          type);
        return;
    }
    if (streq (verb, "get")) {
        const char *ref = actor_arg_str (payload, "ref", answer);
        if (answer->code[0])
            return;
        if (!ref) {
            actor_query_fail (answer, "bad_request", "ref: required (a %s ref)", kind);
            return;
        }
        json_t *definition =
            streq (kind, "action")
                ? registry_packed_get (registry_catalog_packed_actions (self->catalog),
                                       ref)
                : json_incref (json_object_get (registry_all (self, kind), ref));
        if (!definition)
            actor_query_fail (answer, "not_found", "%s '%s' does not exist", kind, ref);
        else
            answer->result = s_public (definition);
        json_decref (definition);
        return;
    }
    s_list (self, kind, payload, answer);
}
