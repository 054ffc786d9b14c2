/*  datastore_ops: the datastore's operations and who may use them
    (datastore_internal.h; proto/PROTOCOL.md, "Datastore").

    The api forwards each request with `caller` {identity, role}: on a CURVE
    api the identity and role of the client's key, else the identity the
    client named (--as, $ATTUNE_IDENTITY) and the role admin (loopback
    without CURVE trusts its clients, as every other operation does). Only
    this process (the api's key) or an endpoint without CURVE may name a
    caller; a worker's key reads as admin (no writes); any other peer key
    reads as a viewer and never decrypts (datastore_peers.h).
    Within what the api's role check let through:
      - viewer reads, a secret masked; decrypting needs admin, or the owner
        of a user-scope key;
      - operator also sets and deletes user keys and non-secret system keys;
      - admin everything, other users' keys included (`user`).
*/
#include "actors/datastore/datastore_internal.h"

#include <inttypes.h>
#include <stdarg.h>

#define S_LIST_DEFAULT 100
#define S_LIST_MAX     1000
#define S_TTL_MAX      (10LL * 365 * 86400) //  ten years
#define S_LOAD_MAX     10000

typedef enum { S_VIEWER = 1, S_OPERATOR, S_ADMIN } s_role_t;

typedef struct {
    datastore_t *self;
    json_t *payload;
    actor_answer_t *answer;
    const char *identity; //  NULL when unknown
    s_role_t role;
    datastore_peer_t peer; //  who sent it: this process, a worker, another
    char who[80];          //  a peer's name in messages: "the worker key ..."
} s_req_t;

//  ---------------------------------------------------------------------------
//  Callers and scopes

static bool s_deny (s_req_t *req, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  A peer that is not this process: what its key may do. False after
//  answering forbidden.
static bool
s_peer_caller (s_req_t *req, const char *type, const char *key)
{
    bool worker = req->peer == DATASTORE_PEER_WORKER;
    snprintf (req->who, sizeof req->who, "the %s key %.40s", worker ? "worker" : "peer",
              key ? key : "?");
    req->identity = NULL;
    req->role = worker ? S_ADMIN : S_VIEWER;
    bool read = streq (type, "api.key.get") || streq (type, "api.key.list");
    const char *refused =
        json_object_get (req->payload, "caller")
            ? "may not name a caller: only the api delegates"
        : !read ? "may only read (get, list)"
        : !worker && json_is_true (json_object_get (req->payload, "decrypt"))
            ? "may not decrypt: only the api, this process and the keys of "
              "--worker-certs may"
            : NULL;
    if (!refused)
        return true;
    if (++req->self->peer_refusals <= 10 || req->self->peer_refusals % 1000 == 0)
        zsys_warning ("datastore: refused %s from %s (%" PRIu64 " so far): %s", type,
                      req->who, req->self->peer_refusals, refused);
    return s_deny (req, "%s %s", req->who, refused);
}

//  Who asks, and in which role. False after answering forbidden.
static bool
s_caller (s_req_t *req, const char *type)
{
    const char *key = NULL;
    req->peer = datastore_peers_of (req->self->peers, req->self->query, &key);
    if (req->peer != DATASTORE_PEER_SELF)
        return s_peer_caller (req, type, key);
    json_t *caller = json_object_get (req->payload, "caller");
    const char *role = json_string_value (json_object_get (caller, "role"));
    req->identity = json_string_value (json_object_get (caller, "identity"));
    if (!caller) //  straight to datastore.query: an attune process
        req->identity = json_string_value (json_object_get (req->payload, "identity"));
    req->role = !caller                            ? S_ADMIN
                : role && streq (role, "admin")    ? S_ADMIN
                : role && streq (role, "operator") ? S_OPERATOR
                : role && streq (role, "viewer")   ? S_VIEWER
                                                   : 0;
    if (req->identity && !*req->identity)
        req->identity = NULL;
    return true;
}

//  Answer forbidden (counted); returns false
static bool
s_deny (s_req_t *req, const char *format, ...)
{
    char message[sizeof req->answer->message];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    req->self->denied++;
    actor_query_fail (req->answer, "forbidden", "%s", message);
    return false;
}

//  Who the caller is, for messages
static const char *
s_who (const s_req_t *req)
{
    return req->identity ? req->identity : req->who[0] ? req->who : "(anonymous)";
}

//  The scope of `item` ("system" or "user:<identity>") into `scope`. False
//  after answering when it is unknown or not the caller's to name.
static bool
s_scope (s_req_t *req, const json_t *item, char *scope, size_t size)
{
    const char *name = json_string_value (json_object_get (item, "scope"));
    const char *user = json_string_value (json_object_get (item, "user"));
    if (!name || streq (name, "system") || streq (name, "st2kv.system")) {
        if (user) {
            actor_query_fail (req->answer, "bad_request",
                              "user: only with scope user (not system)");
            return false;
        }
        snprintf (scope, size, "system");
        return true;
    }
    if (!streq (name, "user") && !streq (name, "st2kv.user")) {
        actor_query_fail (req->answer, "bad_request",
                          "scope: unknown scope '%.64s' (system or user)", name);
        return false;
    }
    if (!user)
        user = req->identity;
    if (!user || !*user || strlen (user) > 255) {
        actor_query_fail (req->answer, "bad_request",
                          "scope user: needs an identity of 1 to 255 bytes (attune --as "
                          "NAME, $ATTUNE_IDENTITY, or a CURVE key)");
        return false;
    }
    if (req->role < S_ADMIN && (!req->identity || !streq (user, req->identity)))
        return s_deny (req, "%s may not use the user scope of '%s' (admin only)",
                       s_who (req), user);
    snprintf (scope, size, "user:%s", user);
    return true;
}

static bool
s_is_user_scope (const char *scope)
{
    return strncmp (scope, "user:", 5) == 0;
}

//  Whether the caller may change (scope, secret): operator for user keys and
//  plain system keys, admin for secret system keys
static bool
s_may_write (s_req_t *req, const char *scope, bool secret, const char *name)
{
    if (req->role < S_OPERATOR)
        return s_deny (req, "%s may not change '%s': needs the role operator",
                       s_who (req), name);
    if (!s_is_user_scope (scope) && secret && req->role < S_ADMIN)
        return s_deny (req, "%s may not change the secret system key '%s': needs admin",
                       s_who (req), name);
    return true;
}

static bool
s_may_decrypt (s_req_t *req, const char *scope)
{
    return req->role >= S_ADMIN ||
           (s_is_user_scope (scope) && req->identity && streq (scope + 5, req->identity));
}

//  ---------------------------------------------------------------------------
//  Records as clients see them

//  The public form of a record: value clear only when `decrypt`
static json_t *
s_public (datastore_t *self, const json_t *record, bool decrypt)
{
    const char *scope = json_string_value (json_object_get (record, "scope"));
    bool secret = json_is_true (json_object_get (record, "secret"));
    json_t *item =
        json_pack ("{s:O, s:s, s:b, s:O, s:O}", "name", json_object_get (record, "name"),
                   "scope", s_is_user_scope (scope) ? "user" : "system", "secret", secret,
                   "created_at", json_object_get (record, "created_at"), "updated_at",
                   json_object_get (record, "updated_at"));
    if (s_is_user_scope (scope))
        json_object_set_new (item, "user", json_string (scope + 5));
    json_int_t expire = json_integer_value (json_object_get (record, "expire_at"));
    if (expire) {
        json_object_set_new (item, "expire_at", json_integer (expire));
        json_int_t left = (expire - proto_now_usec () + 999999) / 1000000;
        json_object_set_new (item, "ttl", json_integer (left > 0 ? left : 0));
    }
    if (!secret)
        json_object_set (item, "value", json_object_get (record, "value"));
    else if (!decrypt)
        json_object_set_new (item, "value", json_string (DATASTORE_MASK));
    else {
        const char *sealed = json_string_value (json_object_get (record, "sealed"));
        size_t size = 0;
        char *clear = sealed ? store_crypto_unseal (self->crypto, sealed, &size) : NULL;
        json_object_set_new (item, "value",
                             clear ? json_stringn (clear, size) : json_null ());
        if (!clear)
            json_object_set_new (item, "error",
                                 json_string ("does not open under the key"));
        store_crypto_free (clear);
    }
    return item;
}

//  ---------------------------------------------------------------------------
//  Writes: set, load, delete, each committed before it is answered

//  The value of an item as text (st2 key load: a non-string is its JSON)
static char *
s_value_text (const json_t *value)
{
    if (json_is_string (value))
        return strndup (json_string_value (value), json_string_length (value));
    return value && !json_is_null (value)
               ? json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY)
               : NULL;
}

//  The value part of a record: `value`, or for a secret `sealed` + `key_id`
static bool
s_prepare_value (s_req_t *req, const json_t *item, json_t *record, bool secret)
{
    char *text = s_value_text (json_object_get (item, "value"));
    size_t size = text ? strlen (text) : 0;
    bool ok = false;
    if (!text)
        actor_query_fail (req->answer, "bad_request", "value: required (a string)");
    else if (size > DATASTORE_VALUE_MAX)
        actor_query_fail (req->answer, "too_large", "value: %zu bytes, at most %d", size,
                          DATASTORE_VALUE_MAX);
    else if (!secret) {
        json_object_set_new (record, "value", json_stringn (text, size));
        ok = true;
    } else {
        char *sealed = store_crypto_seal (req->self->crypto, text, size);
        if (sealed) {
            json_object_set_new (record, "sealed", json_string (sealed));
            json_object_set_new (record, "key_id",
                                 json_integer (store_crypto_id (req->self->crypto)));
            ok = true;
        } else
            actor_query_fail (req->answer, "internal", "out of memory");
        free (sealed);
    }
    if (text) {
        memset (text, 0, size); //  may be a secret's clear text
        free (text);
    }
    return ok;
}

//  Whether an existing key may be replaced or deleted by the caller
static bool
s_may_replace (s_req_t *req, const char *scope, const char *name)
{
    store_txn_t *txn = store_read_begin (req->self->store);
    json_t *old = txn ? datastore_keys_get (req->self->keys, txn, scope, name) : NULL;
    store_read_end (&txn);
    bool secret = json_is_true (json_object_get (old, "secret"));
    json_decref (old);
    return s_may_write (req, scope, secret, name);
}

//  A record for one item to set, checked; NULL after answering
static json_t *
s_prepare (s_req_t *req, const json_t *item)
{
    char scope[DATASTORE_SCOPE_MAX + 1], message[256];
    const json_t *jname = json_object_get (item, "name");
    const char *name = json_string_value (jname);
    if (!json_is_string (jname) ||
        !datastore_name_check (name, json_string_length (jname), message,
                               sizeof message)) {
        actor_query_fail (req->answer, "bad_request", "%s",
                          json_is_string (jname) ? message : "name: required (a string)");
        return NULL;
    }
    if (json_is_true (json_object_get (item, "encrypted"))) {
        actor_query_fail (req->answer, "bad_request",
                          "%s: a value encrypted elsewhere cannot be loaded (give the "
                          "clear value with secret: true)",
                          name);
        return NULL;
    }
    json_t *ttl = json_object_get (item, "ttl");
    if (ttl && !json_is_null (ttl) &&
        (!json_is_integer (ttl) || json_integer_value (ttl) < 1 ||
         json_integer_value (ttl) > S_TTL_MAX)) {
        actor_query_fail (req->answer, "bad_request",
                          "ttl: expected whole seconds from 1 to %lld", S_TTL_MAX);
        return NULL;
    }
    bool secret = json_is_true (json_object_get (item, "secret"));
    if (!s_scope (req, item, scope, sizeof scope))
        return NULL;
    datastore_batch_touched (req->self, scope, name); //  reads below see its write
    if (!s_may_replace (req, scope, name) || !s_may_write (req, scope, secret, name))
        return NULL;
    int64_t now = proto_now_usec ();
    json_t *record = json_pack (
        "{s:s, s:s, s:b, s:I, s:I, s:I}", "scope", scope, "name", name, "secret", secret,
        "expire_at",
        (json_int_t)(json_is_integer (ttl) ? now + json_integer_value (ttl) * 1000000
                                           : 0),
        "created_at", (json_int_t)now, "updated_at", (json_int_t)now);
    if (!s_prepare_value (req, item, record, secret))
        json_decref (record);
    else
        return record;
    return NULL;
}

static void
s_op_set (s_req_t *req)
{
    json_t *record = s_prepare (req, req->payload);
    if (!record)
        return;
    json_t *reply = s_public (req->self, record, false);
    datastore_batch_add (req->self, req->answer, json_pack ("[o]", record), false, reply);
}

static void
s_op_load (s_req_t *req)
{
    json_t *items = json_object_get (req->payload, "items");
    if (!json_is_array (items) || json_array_size (items) > S_LOAD_MAX) {
        actor_query_fail (req->answer, "bad_request",
                          "items: expected a list of at most %d keys", S_LOAD_MAX);
        return;
    }
    json_t *records = json_array ();
    size_t i;
    json_t *item;
    json_array_foreach (items, i, item)
    {
        json_t *record = json_is_object (item) ? s_prepare (req, item) : NULL;
        if (!record) {
            char reason[sizeof req->answer->message], code[sizeof req->answer->code];
            snprintf (reason, sizeof reason, "%s",
                      req->answer->code[0] ? req->answer->message : "expected a map");
            snprintf (code, sizeof code, "%s",
                      req->answer->code[0] ? req->answer->code : "bad_request");
            actor_query_fail (req->answer, code, "items[%zu]: %s (nothing loaded)", i,
                              reason);
            json_decref (records);
            return;
        }
        json_array_append_new (records, record);
    }
    size_t count = json_array_size (records);
    datastore_batch_add (req->self, req->answer, records, false,
                         json_pack ("{s:i}", "loaded", (int)count));
    req->self->loads++;
}

//  The (scope, name) of a get or delete into `scope`; the name, or NULL
//  after answering
static const char *
s_target (s_req_t *req, char *scope, size_t size)
{
    json_t *jname = json_object_get (req->payload, "name");
    char message[256];
    if (!json_is_string (jname) ||
        !datastore_name_check (json_string_value (jname), json_string_length (jname),
                               message, sizeof message)) {
        actor_query_fail (req->answer, "bad_request", "%s",
                          json_is_string (jname) ? message : "name: required (a string)");
        return NULL;
    }
    return s_scope (req, req->payload, scope, size) ? json_string_value (jname) : NULL;
}

static json_t *
s_read (datastore_t *self, const char *scope, const char *name)
{
    store_txn_t *txn = store_read_begin (self->store);
    json_t *record = txn ? datastore_keys_get (self->keys, txn, scope, name) : NULL;
    store_read_end (&txn);
    return record;
}

static void
s_not_found (s_req_t *req, const char *scope, const char *name)
{
    actor_query_fail (req->answer, "not_found", "no key '%.300s' in scope %.280s", name,
                      scope);
}

static void
s_op_get (s_req_t *req)
{
    char scope[DATASTORE_SCOPE_MAX + 1];
    const char *name = s_target (req, scope, sizeof scope);
    if (!name)
        return;
    bool decrypt = json_is_true (json_object_get (req->payload, "decrypt"));
    json_t *record = s_read (req->self, scope, name);
    req->self->gets++;
    if (!record)
        s_not_found (req, scope, name);
    else if (decrypt && json_is_true (json_object_get (record, "secret")) &&
             !s_may_decrypt (req, scope))
        s_deny (req, "%s may not decrypt '%s': needs admin, or to own the user key",
                s_who (req), name);
    else
        req->answer->result = s_public (req->self, record, decrypt);
    json_decref (record);
}

static void
s_op_delete (s_req_t *req)
{
    char scope[DATASTORE_SCOPE_MAX + 1];
    const char *name = s_target (req, scope, sizeof scope);
    if (!name)
        return;
    datastore_batch_touched (req->self, scope, name);
    json_t *record = s_read (req->self, scope, name);
    if (!record)
        s_not_found (req, scope, name);
    else if (s_may_write (req, scope, json_is_true (json_object_get (record, "secret")),
                          name)) {
        datastore_batch_add (req->self, req->answer,
                             json_pack ("[{s:s, s:s}]", "scope", scope, "name", name),
                             true, json_pack ("{s:s, s:b}", "name", name, "deleted", 1));
        req->self->deletes++;
    }
    json_decref (record);
}

typedef struct {
    s_req_t *req;
    actor_page_t page;
    bool decrypt;
    const char *last;
    char next[DATASTORE_NAME_MAX + 1];
} s_list_t;

static int
s_list_item (void *arg, const json_t *record)
{
    s_list_t *list = (s_list_t *)arg;
    bool secret = json_is_true (json_object_get (record, "secret"));
    const char *scope = json_string_value (json_object_get (record, "scope"));
    bool decrypt = list->decrypt && secret && s_may_decrypt (list->req, scope);
    if (!actor_page_add (&list->page, s_public (list->req->self, record, decrypt)))
        return 1;
    snprintf (list->next, sizeof list->next, "%s",
              json_string_value (json_object_get (record, "name")));
    return actor_page_full (&list->page);
}

static void
s_op_list (s_req_t *req)
{
    char scope[DATASTORE_SCOPE_MAX + 1];
    if (!s_scope (req, req->payload, scope, sizeof scope))
        return;
    int64_t limit =
        actor_arg_int (req->payload, "limit", S_LIST_DEFAULT, 1, S_LIST_MAX, req->answer);
    const char *prefix = actor_arg_str (req->payload, "prefix", req->answer);
    const char *after = actor_arg_str (req->payload, "after", req->answer);
    if (req->answer->code[0])
        return;
    s_list_t list = {
        req, {0}, json_is_true (json_object_get (req->payload, "decrypt")), NULL, ""};
    actor_page_init (&list.page, (size_t)limit);
    store_txn_t *txn = store_read_begin (req->self->store);
    store_code_t code = txn ? datastore_keys_each (req->self->keys, txn, scope, prefix,
                                                   after, s_list_item, &list)
                            : STORE_INTERNAL;
    store_read_end (&txn);
    req->self->lists++;
    if (code != STORE_OK) {
        json_decref (list.page.items);
        actor_query_fail (req->answer, "unavailable", "the datastore cannot read: %s",
                          store_strerror (code));
        return;
    }
    //  A page that stopped full may have more: its last name is the cursor
    bool more = actor_page_full (&list.page) && list.next[0];
    req->answer->result = json_pack ("{s:o, s:o}", "items", list.page.items, "next",
                                     more ? json_string (list.next) : json_null ());
}

static void
s_op_rotate (s_req_t *req)
{
    char message[512] = "";
    json_t *result = NULL;
    if (req->role < S_ADMIN)
        s_deny (req, "%s may not %s: needs the role admin", s_who (req),
                "rotate the datastore key");
    else if (datastore_rotate (req->self, &result, message, sizeof message) != 0)
        actor_query_fail (req->answer, "internal", "rotation failed: %s", message);
    else
        req->answer->result = result;
}

void
datastore_handle_query (void *arg, const char *type, json_t *payload,
                        actor_answer_t *answer)
{
    s_req_t req = {(datastore_t *)arg, payload, answer, NULL, 0, DATASTORE_PEER_SELF, ""};
    if (streq (type, "api.status")) {
        answer->result = datastore_status (req.self);
        json_object_set_new (answer->result, "up", json_true ());
        return;
    }
    if (!s_caller (&req, type))
        return;
    static const struct {
        const char *type;
        void (*fn) (s_req_t *req);
    } ops[] = {{"api.key.set", s_op_set},
               {"api.key.get", s_op_get},
               {"api.key.list", s_op_list},
               {"api.key.delete", s_op_delete},
               {"api.key.load", s_op_load},
               {"api.key.rotate", s_op_rotate},
               {NULL, NULL}};
    //  Reads and rotation see every write answered before them
    if (!streq (type, "api.key.set") && !streq (type, "api.key.delete") &&
        !streq (type, "api.key.load"))
        datastore_batch_flush (req.self);
    for (int i = 0; ops[i].type; i++)
        if (streq (type, ops[i].type)) {
            if (req.role < S_VIEWER)
                s_deny (&req, "%s has no role; %s needs one", s_who (&req), type);
            else
                ops[i].fn (&req);
            return;
        }
    actor_query_fail (answer, "unknown_type", "the datastore does not answer '%s'", type);
}
