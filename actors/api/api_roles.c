/*  api_roles: who may use which api operation (api_roles.h).
*/
#include "actors/api/api_roles.h"

#include <czmq.h>

static const char *s_role_names[] = {"none", "viewer", "operator", "admin"};

struct _api_roles_t {
    zcertstore_t *certs; //  the allow dir
    zhashx_t *callers;   //  z85 key -> api_caller_t
};

static void
s_caller_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

api_roles_t *
api_roles_new (const char *dir)
{
    api_roles_t *self = (api_roles_t *)zmalloc (sizeof (api_roles_t));
    self->certs = dir ? zcertstore_new (dir) : NULL;
    self->callers = zhashx_new ();
    if (!self->certs || !self->callers) {
        api_roles_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->callers, s_caller_destroy);
    return self;
}

void
api_roles_destroy (api_roles_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        api_roles_t *self = *self_p;
        zhashx_destroy (&self->callers);
        zcertstore_destroy (&self->certs);
        free (self);
        *self_p = NULL;
    }
}

const char *
api_role_name (api_role_t role)
{
    return role >= API_ROLE_NONE && role <= API_ROLE_ADMIN ? s_role_names[role] : "?";
}

//  zcertstore reloads the directory on a lookup when it changed
const api_caller_t *
api_roles_caller (api_roles_t *self, const char *key)
{
    assert (self && key);
    int64_t now = zclock_mono ();
    api_caller_t *caller = (api_caller_t *)zhashx_lookup (self->callers, key);
    if (caller && now - caller->checked < API_ROLES_RECHECK_MS)
        return caller;
    if (!caller) {
        caller = (api_caller_t *)zmalloc (sizeof (api_caller_t));
        snprintf (caller->key, sizeof caller->key, "%s", key);
        zhashx_insert (self->callers, key, caller);
    }
    caller->checked = now;
    caller->role = API_ROLE_NONE;
    caller->bad_role[0] = 0;
    zcert_t *cert = zcertstore_lookup (self->certs, key);
    caller->known = cert != NULL;
    const char *identity = cert ? zcert_meta (cert, "identity") : NULL;
    if (cert && (!identity || !*identity))
        identity = zcert_meta (cert, "name");
    snprintf (caller->identity, sizeof caller->identity, "%s",
              identity && *identity ? identity : key);
    const char *role = cert ? zcert_meta (cert, "role") : NULL;
    for (int r = API_ROLE_VIEWER; role && r <= API_ROLE_ADMIN; r++)
        if (streq (role, s_role_names[r]))
            caller->role = (api_role_t)r;
    if (role && caller->role == API_ROLE_NONE)
        snprintf (caller->bad_role, sizeof caller->bad_role, "%s", role);
    return caller;
}

api_role_t
api_roles_required (const char *type)
{
    static const char *reads[] = {"api.ping",
                                  "api.hello",
                                  "api.status",
                                  "api.metrics",
                                  "api.action.queue_stats",
                                  "api.execution.changes",
                                  "api.execution.children",
                                  "api.execution.output",
                                  NULL};
    static const char *runs[] = {
        "api.execution.run",   "api.execution.rerun",  "api.execution.cancel",
        "api.execution.pause", "api.execution.resume", "api.event.publish",
        "api.inquiry.respond", "api.key.set",          "api.key.delete",
        "api.key.load",        "api.rule.test",        NULL};
    for (int i = 0; reads[i]; i++)
        if (streq (type, reads[i]))
            return API_ROLE_VIEWER;
    for (int i = 0; runs[i]; i++)
        if (streq (type, runs[i]))
            return API_ROLE_OPERATOR;
    static const char *prefixes[] = {"api.pack.",
                                     "api.action.",
                                     "api.trigger.",
                                     "api.policy.",
                                     "api.rule.",
                                     "api.event.",
                                     "api.enforcement.",
                                     "api.execution.",
                                     "api.inquiry.",
                                     "api.worker.",
                                     "api.key.",
                                     "api.sensor.",
                                     NULL};
    for (int i = 0; prefixes[i]; i++) {
        size_t n = strlen (prefixes[i]);
        if (strncmp (type, prefixes[i], n) == 0 &&
            (streq (type + n, "list") || streq (type + n, "get")))
            return API_ROLE_VIEWER;
    }
    return API_ROLE_ADMIN;
}

bool
api_roles_allow (const api_caller_t *caller, const char *type, char *message, size_t size)
{
    api_role_t needed = api_roles_required (type);
    if (caller && caller->role >= needed)
        return true;
    //  A peer (an attune process: the HTTP gateway) may delegate: it can
    //  send commands to the owners directly anyway (PROTOCOL.md, Delegation)
    if (caller && streq (type, "api.delegate") && caller->known &&
        caller->role == API_ROLE_NONE && !caller->bad_role[0])
        return true;
    const char *who = caller ? caller->identity : "(no key)";
    if (caller && !caller->known) {
        snprintf (message, size,
                  "%s: the key %s is no longer in the allow list; %s needs the role %s",
                  who, caller->key, type, s_role_names[needed]);
        return false;
    }
    const char *bad = caller && caller->bad_role[0] ? caller->bad_role : NULL;
    snprintf (message, size, "%s has the role %s%s%s%s; %s needs the role %s%s", who,
              s_role_names[caller ? caller->role : API_ROLE_NONE], bad ? " ('" : "",
              bad ? bad : "", bad ? "' is not admin, operator or viewer)" : "", type,
              s_role_names[needed],
              needed == API_ROLE_VIEWER     ? " or higher"
              : needed == API_ROLE_OPERATOR ? " or admin"
                                            : "");
    return false;
}
