/*  api_request: the api's operations (api_internal.h). Every request is
    checked against the message table (proto/proto_messages.c) first; the
    operations below are handled here, every other read is forwarded to the
    actor that owns the answer.
*/
#include "actors/api/api_internal.h"
#include "proto/proto_secret.h"
#include "actors/registry/registry_yaml.h"
#include "proto/proto_json.h"
#include "proto/proto_messages.h"

//  ---------------------------------------------------------------------------
//  Requests: checked against the message table (proto/proto_messages.c),
//  then handled here or forwarded to their owner

typedef struct {
    proto_envelope_t *request;
    zframe_t *identity;
    bool delimiter;
    const uint8_t *id;
    const char *type;
    json_t *payload;
    char rid[PROTO_UUID_STR_SIZE]; //  the request id as a UUID string
    const api_caller_t *caller;
} s_req_t;

//  Answer the request of `req` (result taken, or an error)
#define s_reply(self, req, result, ...)                                                  \
    api_answer (self, (req)->identity, (req)->delimiter, (req)->id, result, __VA_ARGS__)

static void
s_op_ping (api_t *self, s_req_t *req)
{
    s_reply (self, req,
             json_pack ("{s:I, s:s}", "pong", (json_int_t)proto_now_usec (), "source",
                        self->source),
             NULL, NULL);
}

static void
s_op_hello (api_t *self, s_req_t *req)
{
    json_t *hello = json_pack ("{s:i, s:s, s:s}", "version", PROTO_VERSION, "facts",
                               self->facts_endpoint, "api", self->endpoint);
    if (req->caller) {
        //  Who the api thinks the client is (`attune whoami` reads it)
        json_object_set_new (hello, "identity", json_string (req->caller->identity));
        json_object_set_new (hello, "role",
                             json_string (api_role_name (req->caller->role)));
    }
    s_reply (self, req, hello, NULL, NULL);
}

void
api_status_ask (api_t *self, api_status_t *status, const char *type)
{
    status->remaining = API_OWNERS;
    for (int owner = 0; owner < API_OWNERS; owner++) {
        proto_envelope_t *ask = proto_envelope_new (type, self->source);
        uint8_t part[PROTO_UUID_SIZE];
        memcpy (part, proto_envelope_id (ask), sizeof part);
        msgpack_sbuffer_clear (&self->buffer);
        bool sent = ask && proto_envelope_encode (ask, &self->buffer) == 0 &&
                    zmq_send (zsock_resolve (self->owners[owner]), self->buffer.data,
                              self->buffer.size, ZMQ_DONTWAIT) != -1;
        proto_envelope_destroy (&ask);
        if (sent) {
            api_pending_t *pending = api_pending_new (
                self, part, NULL, false, status->request, API_STATUS_TIMEOUT_MS);
            pending->status = status;
            pending->owner = owner;
        } else
            api_status_part_done (self, status, owner, NULL);
    }
}

static void
s_op_status (api_t *self, s_req_t *req)
{
    api_status_t *status = (api_status_t *)zmalloc (sizeof (api_status_t));
    status->identity = zframe_dup (req->identity);
    status->delimiter = req->delimiter;
    memcpy (status->request, req->id, PROTO_UUID_SIZE);
    status->actors = json_object ();
    api_status_ask (self, status, "api.status");
}

//  api.metrics: the Prometheus text of every actor's metrics (api_metrics.c)
static void
s_op_metrics (api_t *self, s_req_t *req)
{
    api_metrics_start (self, req->identity, req->delimiter, req->id);
}

//  A definition given as `definition` (a map) or `yaml` (text); NULL after
//  answering the client when there is none.
static json_t *
s_definition (api_t *self, s_req_t *req, const char *what)
{
    json_t *definition = json_incref (json_object_get (req->payload, "definition"));
    json_t *yaml = json_object_get (req->payload, "yaml");
    char message[1024] = "";
    if (!definition && json_is_string (yaml)) {
        registry_yaml_t *doc =
            registry_yaml_parse (json_string_value (yaml), json_string_length (yaml),
                                 "yaml", message, sizeof message);
        definition = doc ? registry_yaml_take_root (doc) : NULL;
        registry_yaml_destroy (&doc);
    }
    if (json_is_object (definition))
        return definition;
    json_decref (definition);
    if (message[0])
        s_reply (self, req, NULL, "invalid", "%s", message);
    else
        s_reply (self, req, NULL, "bad_request",
                 "definition: expected a map (or yaml: a %s definition as text)", what);
    return NULL;
}

//  A definition change for the registry, answered once the rules actor has
//  applied it (read-your-writes: rules.sync after the registry's ack)
static void
s_registry_change (api_t *self, s_req_t *req, const char *command_type, json_t *command,
                   const char *kind, const char *ref, bool deleted)
{
    json_t *sync = json_pack ("{s:s, s:s, s:s, s:b}", "kind", kind, "ref", ref, "change",
                              req->rid, "deleted", deleted);
    api_forward_command (self, self->registry_link, "registry", command_type, command,
                         req->request, req->identity, req->delimiter,
                         json_pack ("{s:s}", "ref", ref), sync);
    json_decref (command);
}

static void
s_op_define (api_t *self, s_req_t *req)
{
    bool trigger = streq (req->type, "api.trigger.create");
    json_t *definition = s_definition (self, req, trigger ? "trigger type" : "rule");
    if (!definition)
        return;
    const char *name = json_string_value (json_object_get (definition, "name"));
    const char *pack = json_string_value (json_object_get (definition, "pack"));
    char ref[600];
    snprintf (ref, sizeof ref, "%s.%s", pack ? pack : "", name ? name : "");
    s_registry_change (self, req, trigger ? "registry.trigger.put" : "registry.rule.put",
                       json_pack ("{s:O}", "definition", definition),
                       trigger ? "trigger" : "rule", ref, false);
    json_decref (definition);
}

//  api.rule.enable / disable / delete, api.trigger.delete
static void
s_op_change (api_t *self, s_req_t *req)
{
    const char *ref = json_string_value (json_object_get (req->payload, "ref"));
    const char *verb = strrchr (req->type, '.') + 1;
    bool trigger = strncmp (req->type, "api.trigger.", 12) == 0;
    char command_type[64];
    snprintf (command_type, sizeof command_type, "registry.%s.%s",
              trigger ? "trigger" : "rule", verb);
    s_registry_change (self, req, command_type, json_pack ("{s:s}", "ref", ref),
                       trigger ? "trigger" : "rule", ref, streq (verb, "delete"));
}

static void
s_op_publish (api_t *self, s_req_t *req)
{
    json_t *body = json_object_get (req->payload, "payload");
    json_t *tparams = json_object_get (req->payload, "trigger_parameters");
    json_t *command = json_pack (
        "{s:O, s:o, s:o}", "trigger", json_object_get (req->payload, "trigger"),
        "trigger_parameters", tparams ? json_incref (tparams) : json_object (), "payload",
        body ? json_incref (body) : json_object ());
    //  The event's id is the command's id: the request id
    api_forward_command (self, self->rules_link, "rules", "event.create", command,
                         req->request, req->identity, req->delimiter,
                         json_pack ("{s:s}", "event", req->rid), NULL);
    json_decref (command);
}

//  api.execution.run / rerun, api.inquiry.respond: the executor makes them
//  idempotent by request id. A run's `user` (its action_context.user) is
//  the caller's identity (a CURVE key's, or an API key's delegated
//  "apikey:NAME"); on an api without CURVE, where clients are trusted, the
//  `identity` the client names (attune --as), else none (the executor's
//  system user). Never a `user` the client wrote.
static void
s_op_idempotent (api_t *self, s_req_t *req)
{
    json_object_set_new (req->payload, "request", json_string (req->rid));
    if (!streq (req->type, "api.inquiry.respond")) {
        const char *named =
            json_string_value (json_object_get (req->payload, "identity"));
        const char *user = req->caller ? req->caller->identity : named;
        json_t *value = user && *user ? json_string (user) : NULL;
        json_object_del (req->payload, "user");
        if (value)
            json_object_set_new (req->payload, "user", value);
    }
    if (req->caller && streq (req->type, "api.inquiry.respond"))
        //  The authenticated identity: a client cannot answer as someone else
        json_object_set_new (req->payload, "identity",
                             json_string (req->caller->identity));
    api_forward_query (self, API_EXECUTOR, req->request, req->identity, req->delimiter,
                       req->payload);
}

//  api.delegate: `type` with `payload` on behalf of `identity` with `role`
//  (at most the caller's own on a CURVE front), roles enforced here even
//  without CURVE (PROTOCOL.md, "Delegation"). Same request id.
static void
s_op_delegate (api_t *self, s_req_t *req)
{
    const char *type = json_string_value (json_object_get (req->payload, "type"));
    const char *role = json_string_value (json_object_get (req->payload, "role"));
    json_t *payload = json_object_get (req->payload, "payload");
    api_caller_t caller = {.known = true, .delegated = true};
    bool valid = false;
    for (int r = API_ROLE_VIEWER; r <= API_ROLE_ADMIN; r++)
        if (streq (role, api_role_name ((api_role_t)r))) {
            caller.role = (api_role_t)r;
            valid = true;
        }
    if (req->caller && req->caller->role != API_ROLE_NONE &&
        caller.role > req->caller->role)
        caller.role = req->caller->role; //  a user delegates at most its own role
    snprintf (caller.identity, sizeof caller.identity, "%s",
              json_string_value (json_object_get (req->payload, "identity")));
    proto_envelope_t *inner = NULL;
    if (!valid)
        s_reply (self, req, NULL, "bad_request",
                 "role: '%s' is not viewer, operator or admin", role);
    else if (streq (type, "api.delegate"))
        s_reply (self, req, NULL, "bad_request",
                 "type: api.delegate cannot be delegated");
    else if (!(inner = proto_envelope_new (type, proto_envelope_source (req->request))))
        s_reply (self, req, NULL, "bad_request", "type: '%s' is not an operation", type);
    else {
        json_t *empty = json_object ();
        proto_envelope_set_id (inner, req->id);
        proto_envelope_set_payload_json (inner, payload ? payload : empty, NULL);
        json_decref (empty);
        api_request (self, inner, req->identity, req->delimiter, &caller);
    }
    proto_envelope_destroy (&inner);
}

//  api.key.*: to the datastore with who asks, which it checks per key
//  (scopes, secrets: actors/datastore/datastore_ops.c). On a CURVE api the
//  caller is its key's identity and role; on loopback the identity the
//  client names (--as) and admin, as for every other operation there.
static void
s_op_key (api_t *self, s_req_t *req)
{
    const char *identity =
        req->caller ? req->caller->identity
                    : json_string_value (json_object_get (req->payload, "identity"));
    json_object_set_new (
        req->payload, "caller",
        json_pack ("{s:s?, s:s}", "identity", identity, "role",
                   req->caller ? api_role_name (req->caller->role) : "admin"));
    api_forward_query (self, API_DATASTORE, req->request, req->identity, req->delimiter,
                       req->payload);
}

//  api.execution.get: `show_secrets` reaches the executor only from an
//  admin (a CURVE key's role, a delegation's, or loopback without CURVE,
//  which trusts its clients); anyone else gets the masked record, as
//  StackStorm's ?show_secrets=true does for a user who is not an admin.
static void
s_op_execution_get (api_t *self, s_req_t *req)
{
    if (req->caller && req->caller->role < API_ROLE_ADMIN)
        json_object_del (req->payload, "show_secrets");
    api_forward_query (self, API_EXECUTOR, req->request, req->identity, req->delimiter,
                       req->payload);
}

//  api.backup {dir}: admin only (not in a role's list: api_roles.c)
static void
s_op_backup (api_t *self, s_req_t *req)
{
    api_backup_start (self, req->identity, req->delimiter, req->id,
                      json_string_value (json_object_get (req->payload, "dir")));
}

//  api.pack.install / remove / reload: to the registry, which owns the
//  packs directory; an install runs git and pip there, so it has longer
static void
s_op_pack (api_t *self, s_req_t *req)
{
    api_pending_t *pending = api_forward_query (self, API_REGISTRY, req->request,
                                                req->identity, req->delimiter, NULL);
    if (pending)
        pending->deadline = zclock_mono () + API_PACK_TIMEOUT_MS;
}

//  api.purge {kind, older_than, status?, action?}: to the actor that owns
//  the kind (events: rules; executions, inquiries: executor), answered once
//  the purge is done; admin only (not in a role's list: api_roles.c)
static void
s_op_purge (api_t *self, s_req_t *req)
{
    const char *kind = json_string_value (json_object_get (req->payload, "kind"));
    int owner = kind && streq (kind, "events") ? API_RULES : API_EXECUTOR;
    if (!kind || (owner == API_EXECUTOR && !streq (kind, "executions") &&
                  !streq (kind, "inquiries"))) {
        s_reply (self, req, NULL, "bad_request", "kind: executions, events or inquiries");
        return;
    }
    api_pending_t *pending = api_forward_query (self, owner, req->request, req->identity,
                                                req->delimiter, NULL);
    if (pending)
        pending->deadline = zclock_mono () + API_PURGE_TIMEOUT_MS;
}

typedef void (s_op_fn) (api_t *self, s_req_t *req);

static const struct {
    const char *type;
    s_op_fn *fn;
} s_ops[] = {{"api.ping", s_op_ping},
             {"api.hello", s_op_hello},
             {"api.status", s_op_status},
             {"api.metrics", s_op_metrics},
             {"api.rule.create", s_op_define},
             {"api.trigger.create", s_op_define},
             {"api.rule.enable", s_op_change},
             {"api.rule.disable", s_op_change},
             {"api.rule.delete", s_op_change},
             {"api.trigger.delete", s_op_change},
             {"api.event.publish", s_op_publish},
             {"api.pack.install", s_op_pack},
             {"api.pack.remove", s_op_pack},
             {"api.pack.reload", s_op_pack},
             {"api.execution.run", s_op_idempotent},
             {"api.execution.rerun", s_op_idempotent},
             {"api.execution.get", s_op_execution_get},
             {"api.inquiry.respond", s_op_idempotent},
             {"api.key.set", s_op_key},
             {"api.key.get", s_op_key},
             {"api.key.list", s_op_key},
             {"api.key.delete", s_op_key},
             {"api.key.load", s_op_key},
             {"api.key.rotate", s_op_key},
             {"api.delegate", s_op_delegate},
             {"api.backup", s_op_backup},
             {"api.purge", s_op_purge},
             {NULL, NULL}};

//  The actor that answers a read (every type here is in the message table)
static int
s_owner_of (const char *type)
{
    static const char *prefixes[] = {"api.event.",   "api.enforcement.", "api.execution.",
                                     "api.inquiry.", "api.worker.",      NULL};
    static const int owners[] = {API_RULES, API_RULES, API_EXECUTOR, API_EXECUTOR,
                                 API_EXECUTOR};
    if (streq (type, "api.action.queue_stats"))
        return API_EXECUTOR; //  queues and counts are the executor's
    if (streq (type, "api.rule.test"))
        return API_RULES; //  the rules actor evaluates rules
    if (strncmp (type, "api.sensor.", 11) == 0)
        return API_SENSOR; //  it knows its processes, and has the definitions
    for (int i = 0; prefixes[i]; i++)
        if (strncmp (type, prefixes[i], strlen (prefixes[i])) == 0)
            return owners[i];
    return API_REGISTRY; //  packs, actions, triggers, policies, rules
}

//  Whether a string of `value` holds a secret reference (proto_secret.h)
static bool
s_holds_secret_ref (const json_t *value, int depth)
{
    if (json_is_string (value))
        return proto_secret_find (json_string_value (value)) != NULL;
    const char *key;
    json_t *item;
    size_t i;
    if (depth < 64 && json_is_object (value))
        json_object_foreach ((json_t *)value, key, item)
        {
            if (s_holds_secret_ref (item, depth + 1))
                return true;
        }
    else if (depth < 64 && json_is_array (value))
        json_array_foreach (value, i, item)
        {
            if (s_holds_secret_ref (item, depth + 1))
                return true;
        }
    return false;
}

//  A caller whose role does not allow `type`: answered forbidden. True when
//  the request may go on.
static bool
s_allowed (api_t *self, s_req_t *req)
{
    char message[1024];
    if (api_roles_allow (req->caller, req->type, message, sizeof message))
        return true;
    s_reply (self, req, NULL, "forbidden", "%s", message);
    return false;
}

void
api_request (api_t *self, proto_envelope_t *request, zframe_t *identity, bool delimiter,
             const api_caller_t *caller)
{
    s_req_t req = {request,
                   identity,
                   delimiter,
                   proto_envelope_id (request),
                   proto_envelope_type (request),
                   NULL,
                   "",
                   caller};
    proto_uuid_format (req.id, req.rid);
    if ((self->curve || (caller && caller->delegated)) && !s_allowed (self, &req))
        return; //  roles, before anything else is looked at
    const proto_message_t *message =
        proto_message_lookup (req.type, PROTO_MESSAGE_REQUEST);
    proto_error_t error = {0};
    if (!message || !streq (message->to, "api.requests")) {
        s_reply (self, &req, NULL, "unknown_type",
                 "no operation '%s' (proto/PROTOCOL.md lists them)", req.type);
        return;
    }
    int op = 0;
    while (s_ops[op].type && !streq (s_ops[op].type, req.type))
        op++;
    //  A JSON tree only for an operation the api handles itself; a read it
    //  forwards goes on as it came (its payload must still have a JSON
    //  form: when not, the conversion says why, with the path)
    const msgpack_object *payload = proto_envelope_payload_object (request);
    json_t *checked = NULL;
    if (proto_message_validate (message, payload, &error) != PROTO_OK ||
        ((s_ops[op].fn || proto_json_check (payload, "payload", &error) != PROTO_OK) &&
         !(checked = proto_envelope_payload_json (request, &error)))) {
        s_reply (self, &req, NULL, "bad_request", "%s", error.message);
        return;
    }
    req.payload = checked;
    if (caller && caller->role < API_ROLE_ADMIN && s_holds_secret_ref (checked, 0))
        //  A worker would resolve it with the datastore's rights (proto_secret.h)
        s_reply (self, &req, NULL, "forbidden",
                 "a secret reference in the payload: admin only");
    else if (s_ops[op].fn)
        s_ops[op].fn (self, &req);
    else
        api_forward_query (self, s_owner_of (req.type), request, identity, delimiter,
                           NULL);
    json_decref (req.payload);
}
