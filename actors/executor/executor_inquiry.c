/*  executor_inquiry: inquiries in the executor's store (executor_inquiry.h). */
#include "actors/executor/executor_inquiry.h"
#include "actors/executor/executor_schema.h"
#include "proto/proto_json.h"

#include <czmq.h>
#include <math.h>

#define S_KEY_MAX 64 //  deadline key: 8 bytes + an id of at most 39

struct _executor_inquiry_t {
    store_table_t *inquiries;
    store_table_t *deadlines;
    msgpack_sbuffer packed;
};

executor_inquiry_t *
executor_inquiry_new (store_t *store)
{
    executor_inquiry_t *self =
        (executor_inquiry_t *)zmalloc (sizeof (executor_inquiry_t));
    self->inquiries = store_table (store, "inquiries", false);
    self->deadlines = store_table (store, "inquiry.deadlines", false);
    msgpack_sbuffer_init (&self->packed);
    if (!self->inquiries || !self->deadlines)
        executor_inquiry_destroy (&self);
    return self;
}

void
executor_inquiry_destroy (executor_inquiry_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        msgpack_sbuffer_destroy (&(*self_p)->packed);
        free (*self_p);
        *self_p = NULL;
    }
}

const json_t *
executor_inquiry_spec (const json_t *result)
{
    const json_t *spec = json_object_get (result, "__inquiry");
    if (!spec)
        spec = json_object_get (json_object_get (result, "result"), "__inquiry");
    //  a shell action's JSON stdout (StackStorm's shell results, parsed)
    if (!spec)
        spec = json_object_get (json_object_get (result, "stdout"), "__inquiry");
    return spec;
}

static size_t
s_deadline_key (int64_t deadline, const char *id, uint8_t key[S_KEY_MAX])
{
    store_id_key ((uint64_t)deadline, key);
    size_t len = strnlen (id, S_KEY_MAX - 9);
    memcpy (key + 8, id, len);
    return 8 + len;
}

static int
s_put (executor_inquiry_t *self, store_txn_t *txn, const json_t *inquiry)
{
    const char *id = json_string_value (json_object_get (inquiry, "id"));
    msgpack_sbuffer_clear (&self->packed);
    if (!id || proto_json_to_sbuffer (inquiry, &self->packed, NULL) != PROTO_OK)
        return -1;
    return store_put (txn, self->inquiries, id, strlen (id), self->packed.data,
                      self->packed.size) == STORE_OK
               ? 0
               : -1;
}

//  The default schema, StackStorm's: {continue: boolean}, required.
static json_t *
s_default_schema (void)
{
    return json_pack ("{s:s, s:{s:{s:s, s:s}}, s:[s]}", "type", "object", "properties",
                      "continue", "type", "boolean", "description",
                      "Would you like to continue?", "required", "continue");
}

//  The spec's response_schema (or core.ask's `schema`; a default when
//  none), checked. A new reference, or NULL with `reason`.
static json_t *
s_spec_schema (const json_t *spec, char *reason, size_t size)
{
    const json_t *given = json_object_get (spec, "response_schema");
    if (!given)
        given = json_object_get (spec, "schema"); //  core.ask's parameter name
    json_t *schema = !given || json_is_null (given) ? s_default_schema ()
                                                    : json_incref ((json_t *)given);
    char why[256];
    if (executor_schema_check (schema, why, sizeof why) != 0) {
        snprintf (reason, size, "__inquiry.response_schema: %s", why);
        json_decref (schema);
        return NULL;
    }
    return schema;
}

//  The spec's assigned_to as a list of identities, or NULL with `reason`.
static json_t *
s_spec_assignees (const json_t *spec, char *reason, size_t size)
{
    const json_t *assigned = json_object_get (spec, "assigned_to");
    json_t *assignees = json_array ();
    if (json_is_string (assigned) && json_string_length (assigned))
        json_array_append (assignees, (json_t *)assigned);
    else if (json_is_array (assigned)) {
        size_t i;
        const json_t *item;
        json_array_foreach (assigned, i, item)
        {
            if (!json_is_string (item) || json_string_length (item) == 0 ||
                json_string_length (item) > 256)
                break;
            json_array_append (assignees, (json_t *)item);
        }
        if (json_array_size (assignees) != json_array_size (assigned)) {
            snprintf (reason, size,
                      "__inquiry.assigned_to: expected identities (strings of 1 to 256 "
                      "bytes)");
            json_decref (assignees);
            return NULL;
        }
    } else if (assigned && !json_is_null (assigned) && !json_is_string (assigned)) {
        snprintf (reason, size,
                  "__inquiry.assigned_to: expected an identity or a list of them");
        json_decref (assignees);
        return NULL;
    }
    return assignees;
}

//  The spec's timeout_seconds (or timeout; a default when none), or -1 with
//  `reason`.
static double
s_spec_timeout (const json_t *spec, char *reason, size_t size)
{
    const json_t *timeout = json_object_get (spec, "timeout_seconds");
    if (!timeout)
        timeout = json_object_get (spec, "timeout");
    if (!timeout || json_is_null (timeout))
        return EXECUTOR_INQUIRY_TIMEOUT_DEFAULT;
    double seconds = json_is_number (timeout) ? json_number_value (timeout) : -1;
    if (seconds > 0 && seconds <= EXECUTOR_INQUIRY_TIMEOUT_MAX)
        return seconds;
    snprintf (reason, size,
              "__inquiry.timeout_seconds: expected a number of seconds above 0 and at "
              "most %d",
              EXECUTOR_INQUIRY_TIMEOUT_MAX);
    return -1;
}

int
executor_inquiry_open (executor_inquiry_t *self, store_txn_t *txn, const char *execution,
                       const char *action, const json_t *spec, int64_t now,
                       json_t **inquiry, char *reason, size_t size)
{
    *inquiry = NULL;
    if (!json_is_object (spec)) {
        snprintf (reason, size, "__inquiry: expected a map");
        return 1;
    }
    const json_t *prompt = json_object_get (spec, "prompt");
    if (prompt && !json_is_string (prompt) && !json_is_null (prompt)) {
        snprintf (reason, size, "__inquiry.prompt: expected a string");
        return 1;
    }
    json_t *schema = s_spec_schema (spec, reason, size);
    json_t *assignees = schema ? s_spec_assignees (spec, reason, size) : NULL;
    double seconds = assignees ? s_spec_timeout (spec, reason, size) : -1;
    if (seconds < 0) {
        json_decref (assignees);
        json_decref (schema);
        return 1;
    }
    int64_t deadline = now + (int64_t)llround (seconds * 1e6);
    json_t *record = json_pack (
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:f, s:I, s:I, s:n, s:n, s:n}", "id",
        execution, "execution", execution, "action", action ? action : "", "status",
        "pending", "prompt", json_is_string (prompt) ? json_string_value (prompt) : "",
        "schema", schema, "assigned_to", assignees, "timeout", seconds, "created",
        (json_int_t)now, "deadline", (json_int_t)deadline, "response", "responder",
        "responded");
    if (!record)
        return -1;
    uint8_t key[S_KEY_MAX];
    size_t key_size = s_deadline_key (deadline, execution, key);
    if (s_put (self, txn, record) != 0 ||
        store_put (txn, self->deadlines, key, key_size, "", 0) != STORE_OK) {
        json_decref (record);
        return -1;
    }
    *inquiry = record;
    return 0;
}

json_t *
executor_inquiry_get (executor_inquiry_t *self, store_txn_t *txn, const char *id)
{
    const void *data;
    size_t size;
    if (store_get (txn, self->inquiries, id, strlen (id), &data, &size) != STORE_OK)
        return NULL;
    return proto_json_from_buffer (data, size, "inquiry", NULL);
}

int
executor_inquiry_check (const json_t *inquiry, const char *identity,
                        const json_t *response, int64_t now, char code[32], char *message,
                        size_t size)
{
    const char *id = json_string_value (json_object_get (inquiry, "id"));
    const char *status = json_string_value (json_object_get (inquiry, "status"));
    if (!status || strcmp (status, "pending") != 0) {
        snprintf (code, 32, "conflict");
        snprintf (message, size, "inquiry %s is not pending (%s)", id ? id : "?",
                  status ? status : "unknown");
        return -1;
    }
    json_int_t deadline = json_integer_value (json_object_get (inquiry, "deadline"));
    if (now >= deadline) {
        snprintf (code, 32, "expired");
        snprintf (message, size, "inquiry %s expired %.3f s ago", id ? id : "?",
                  (double)(now - deadline) / 1e6);
        return -1;
    }
    const json_t *assignees = json_object_get (inquiry, "assigned_to");
    if (json_array_size (assignees)) {
        bool allowed = false;
        char names[300] = "";
        size_t i;
        const json_t *name;
        json_array_foreach (assignees, i, name)
        {
            if (identity && streq (identity, json_string_value (name)))
                allowed = true;
            if (strlen (names) + json_string_length (name) + 3 < sizeof names) {
                if (i)
                    strcat (names, ", ");
                strcat (names, json_string_value (name));
            }
        }
        if (!allowed) {
            snprintf (code, 32, "forbidden");
            if (identity && *identity)
                snprintf (message, size, "inquiry %s is assigned to %s, not to %.64s",
                          id ? id : "?", names, identity);
            else
                snprintf (message, size,
                          "inquiry %s is assigned to %s: respond with an identity "
                          "(attune --as NAME, or ATTUNE_IDENTITY)",
                          id ? id : "?", names);
            return -1;
        }
    }
    char why[512];
    if (executor_schema_validate (json_object_get (inquiry, "schema"), response, why,
                                  sizeof why) != 0) {
        snprintf (code, 32, "invalid");
        snprintf (message, size, "%s", why);
        return -1;
    }
    return 0;
}

int
executor_inquiry_close (executor_inquiry_t *self, store_txn_t *txn, json_t *inquiry,
                        const char *status, const json_t *response, const char *responder,
                        const char *request, int64_t now)
{
    const char *id = json_string_value (json_object_get (inquiry, "id"));
    json_int_t deadline = json_integer_value (json_object_get (inquiry, "deadline"));
    if (!id)
        return -1;
    uint8_t key[S_KEY_MAX];
    size_t key_size = s_deadline_key (deadline, id, key);
    store_code_t code = store_del (txn, self->deadlines, key, key_size);
    if (code != STORE_OK && code != STORE_NOTFOUND)
        return -1;
    json_object_set_new (inquiry, "status", json_string (status));
    json_object_set_new (inquiry, "ended", json_integer (now));
    if (response) {
        json_object_set (inquiry, "response", (json_t *)response);
        json_object_set_new (inquiry, "responder",
                             responder ? json_string (responder) : json_null ());
        json_object_set_new (inquiry, "responded", json_integer (now));
    }
    if (request)
        json_object_set_new (inquiry, "request", json_string (request));
    return s_put (self, txn, inquiry);
}

int64_t
executor_inquiry_next_deadline (executor_inquiry_t *self, store_txn_t *txn)
{
    store_cursor_t *cursor = store_cursor_new (txn, self->deadlines);
    int64_t next = INT64_MAX;
    if (cursor && store_cursor_first (cursor) == STORE_OK) {
        size_t size;
        const void *key = store_cursor_key (cursor, &size);
        if (size >= 8)
            next = (int64_t)store_key_id (key);
    }
    store_cursor_destroy (&cursor);
    return next;
}

size_t
executor_inquiry_due (executor_inquiry_t *self, store_txn_t *txn, int64_t now,
                      char (*ids)[40], size_t max)
{
    store_cursor_t *cursor = store_cursor_new (txn, self->deadlines);
    size_t count = 0;
    store_code_t code = cursor ? store_cursor_first (cursor) : STORE_NOTFOUND;
    while (code == STORE_OK && count < max) {
        size_t size;
        const uint8_t *key = (const uint8_t *)store_cursor_key (cursor, &size);
        if (size < 9 || (int64_t)store_key_id (key) > now)
            break;
        size_t len = size - 8 < 39 ? size - 8 : 39;
        memcpy (ids[count], key + 8, len);
        ids[count][len] = 0;
        count++;
        code = store_cursor_next (cursor);
    }
    store_cursor_destroy (&cursor);
    return count;
}

json_t *
executor_inquiry_list (executor_inquiry_t *self, store_txn_t *txn, const char *status,
                       const char *before, size_t limit, char next[40])
{
    actor_page_t page;
    actor_page_init (&page, limit);
    executor_inquiry_page (self, txn, status, before, &page, next);
    return page.items;
}

void
executor_inquiry_page (executor_inquiry_t *self, store_txn_t *txn, const char *status,
                       const char *before, actor_page_t *page, char next[40])
{
    next[0] = 0;
    store_cursor_t *cursor = store_cursor_new (txn, self->inquiries);
    if (!cursor)
        return;
    store_code_t code;
    if (before) {
        code = store_cursor_seek (cursor, before, strlen (before));
        code = code == STORE_OK ? store_cursor_prev (cursor) : store_cursor_last (cursor);
    } else
        code = store_cursor_last (cursor);
    size_t seen = 0;
    while (code == STORE_OK && !actor_page_full (page) && seen++ < 200000) {
        size_t key_size, size;
        const char *key = (const char *)store_cursor_key (cursor, &key_size);
        const void *data = store_cursor_data (cursor, &size);
        json_t *inquiry = proto_json_from_buffer (data, size, "inquiry", NULL);
        const char *its = json_string_value (json_object_get (inquiry, "status"));
        if (!inquiry || (status && !streq (status, its ? its : "")))
            json_decref (inquiry);
        else if (actor_page_add (page, inquiry))
            snprintf (next, 40, "%.*s", (int)(key_size < 39 ? key_size : 39), key);
        code = store_cursor_prev (cursor);
    }
    if (code != STORE_OK && !page->more)
        next[0] = 0;
    store_cursor_destroy (&cursor);
}

uint64_t
executor_inquiry_pending (executor_inquiry_t *self, store_txn_t *txn)
{
    return store_count (txn, self->deadlines);
}

int
executor_inquiry_delete (executor_inquiry_t *self, store_txn_t *txn, const char *id)
{
    json_t *inquiry = executor_inquiry_get (self, txn, id);
    if (!inquiry)
        return 0;
    const char *status = json_string_value (json_object_get (inquiry, "status"));
    json_int_t deadline = json_integer_value (json_object_get (inquiry, "deadline"));
    bool pending = !status || streq (status, "pending");
    json_decref (inquiry);
    if (pending)
        return 0;
    uint8_t key[S_KEY_MAX];
    size_t key_size = s_deadline_key (deadline, id, key);
    store_code_t code = store_del (txn, self->deadlines, key, key_size);
    if (code != STORE_OK && code != STORE_NOTFOUND)
        return -1;
    return store_del (txn, self->inquiries, id, strlen (id)) == STORE_OK ? 1 : -1;
}

//  The ids of closed inquiries that ended before `cutoff`, from after
//  `after`, into ids (at most max). Their count.
static size_t
s_sweep_scan (executor_inquiry_t *self, store_txn_t *txn, int64_t cutoff, char after[40],
              size_t scan, size_t max, char (*ids)[40], bool *done)
{
    store_cursor_t *cursor = store_cursor_new (txn, self->inquiries);
    store_code_t code = STORE_NOTFOUND;
    if (cursor)
        code = *after ? store_cursor_seek (cursor, after, strlen (after))
                      : store_cursor_first (cursor);
    size_t key_size, found = 0, seen = 0;
    const char *key = code == STORE_OK ? store_cursor_key (cursor, &key_size) : NULL;
    if (key && *after && key_size == strlen (after) && memcmp (key, after, key_size) == 0)
        code = store_cursor_next (cursor);
    while (code == STORE_OK && seen++ < scan && found < max) {
        key = (const char *)store_cursor_key (cursor, &key_size);
        snprintf (after, 40, "%.*s", (int)(key_size < 40 ? key_size : 39), key);
        size_t size;
        const void *data = store_cursor_data (cursor, &size);
        json_t *inquiry = proto_json_from_buffer (data, size, "inquiry", NULL);
        const char *status = json_string_value (json_object_get (inquiry, "status"));
        json_int_t ended = json_integer_value (json_object_get (inquiry, "ended"));
        if (status && !streq (status, "pending") && ended > 0 && ended < cutoff)
            snprintf (ids[found++], 40, "%s", after);
        json_decref (inquiry);
        code = store_cursor_next (cursor);
    }
    *done = code != STORE_OK;
    store_cursor_destroy (&cursor);
    return found;
}

int
executor_inquiry_sweep (executor_inquiry_t *self, store_txn_t *txn, int64_t cutoff,
                        char after[40], size_t scan, size_t max, bool *done)
{
    char (*ids)[40] = (char (*)[40])calloc (max ? max : 1, 40);
    if (!ids)
        return -1;
    size_t found = s_sweep_scan (self, txn, cutoff, after, scan, max, ids, done);
    int removed = 0;
    for (size_t i = 0; i < found && removed >= 0; i++) {
        int rc = executor_inquiry_delete (self, txn, ids[i]);
        removed = rc < 0 ? -1 : removed + rc;
    }
    free (ids);
    return removed;
}
