/*  datastore_keys: the datastore's tables (datastore_keys.h).
*/
#include "actors/datastore/datastore_keys.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_KEY_MAX    480 //  storage keys up to this long are scope NUL name
#define S_KEY_PREFIX 464 //  longer ones: this much of it, then a hash
#define S_HASH       16
#define S_BUFFER     (DATASTORE_SCOPE_MAX + 1 + DATASTORE_NAME_MAX + 1)

struct _datastore_keys_t {
    store_t *store;
    store_table_t *keys;
    store_table_t *expiry;
    store_table_t *meta;
};

datastore_keys_t *
datastore_keys_new (store_t *store)
{
    datastore_keys_t *self = (datastore_keys_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->keys = store_table (store, "keys", false);
    self->expiry = store_table (store, "expiry", false);
    self->meta = store_table (store, "meta", false);
    if (!self->keys || !self->expiry || !self->meta)
        datastore_keys_destroy (&self);
    return self;
}

void
datastore_keys_destroy (datastore_keys_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

bool
datastore_utf8_valid (const char *text, size_t size)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    while (i < size) {
        unsigned c = p[i];
        size_t n = c < 0x80                 ? 0
                   : c >= 0xC2 && c <= 0xDF ? 1
                   : (c & 0xF0) == 0xE0     ? 2
                   : c >= 0xF0 && c <= 0xF4 ? 3
                                            : 9;
        if (n == 9 || i + n >= size)
            return false;
        unsigned code = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            code = (code << 6) | (p[i + k] & 0x3F);
        }
        if ((n == 2 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
            (n == 3 && (code < 0x10000 || code > 0x10FFFF)))
            return false;
        i += n + 1;
    }
    return true;
}

bool
datastore_name_check (const char *name, size_t size, char *message, size_t msize)
{
    if (!name || size == 0)
        snprintf (message, msize, "name: empty (a key needs a name)");
    else if (size > DATASTORE_NAME_MAX)
        snprintf (message, msize, "name: %zu bytes, at most %d", size,
                  DATASTORE_NAME_MAX);
    else if (memchr (name, 0, size))
        snprintf (message, msize, "name: holds a NUL byte");
    else if (!datastore_utf8_valid (name, size))
        snprintf (message, msize, "name: not valid UTF-8");
    else
        return true;
    return false;
}

//  The storage key of (scope, name) in `key` (S_KEY_MAX bytes at most).
static size_t
s_key (const char *scope, const char *name, uint8_t key[S_KEY_MAX])
{
    uint8_t full[S_BUFFER];
    size_t scope_size = strlen (scope), name_size = strlen (name);
    size_t size = scope_size + 1 + name_size;
    if (size > sizeof full)
        size = sizeof full; //  checked by the caller: cannot happen
    memcpy (full, scope, scope_size);
    full[scope_size] = 0;
    memcpy (full + scope_size + 1, name, size - scope_size - 1);
    if (size <= S_KEY_MAX) {
        memcpy (key, full, size);
        return size;
    }
    memcpy (key, full, S_KEY_PREFIX);
    crypto_generichash (key + S_KEY_PREFIX, S_HASH, full, size, NULL, 0);
    return S_KEY_PREFIX + S_HASH;
}

static json_t *
s_decode (const void *data, size_t size)
{
    return json_loadb ((const char *)data, size, 0, NULL);
}

static bool
s_is (const json_t *record, const char *scope, const char *name)
{
    const char *s = json_string_value (json_object_get (record, "scope"));
    const char *n = json_string_value (json_object_get (record, "name"));
    return s && n && strcmp (s, scope) == 0 && strcmp (n, name) == 0;
}

static int64_t
s_expire_at (const json_t *record)
{
    return record ? json_integer_value (json_object_get (record, "expire_at")) : 0;
}

//  The expiry index key of a record: deadline (8 bytes BE) + storage key
static size_t
s_expiry_key (int64_t deadline, const uint8_t *key, size_t key_size, uint8_t *out)
{
    store_id_key ((uint64_t)deadline, out);
    memcpy (out + 8, key, key_size);
    return 8 + key_size;
}

json_t *
datastore_keys_get (datastore_keys_t *self, store_txn_t *txn, const char *scope,
                    const char *name)
{
    uint8_t key[S_KEY_MAX];
    size_t key_size = s_key (scope, name, key);
    const void *data;
    size_t size;
    if (store_get (txn, self->keys, key, key_size, &data, &size) != STORE_OK)
        return NULL;
    json_t *record = s_decode (data, size);
    if (record && !s_is (record, scope, name))
        json_decref (record); //  a different long name with the same prefix
    else
        return record;
    return NULL;
}

store_code_t
datastore_keys_put (datastore_keys_t *self, store_txn_t *txn, const json_t *record)
{
    const char *scope = json_string_value (json_object_get (record, "scope"));
    const char *name = json_string_value (json_object_get (record, "name"));
    if (!scope || !name)
        return STORE_INVALID;
    uint8_t key[S_KEY_MAX], index[8 + S_KEY_MAX];
    size_t key_size = s_key (scope, name, key);
    json_t *old = datastore_keys_get (self, txn, scope, name);
    int64_t old_deadline = s_expire_at (old), deadline = s_expire_at (record);
    json_decref (old);
    store_code_t code = STORE_OK;
    if (old_deadline && old_deadline != deadline)
        code = store_del (txn, self->expiry, index,
                          s_expiry_key (old_deadline, key, key_size, index));
    if (code == STORE_NOTFOUND)
        code = STORE_OK;
    if (code == STORE_OK && deadline > 0)
        code = store_put (txn, self->expiry, index,
                          s_expiry_key (deadline, key, key_size, index), "", 1);
    char *text = code == STORE_OK ? json_dumps (record, JSON_COMPACT) : NULL;
    if (code == STORE_OK && !text)
        code = STORE_NOMEM;
    if (code == STORE_OK)
        code = store_put (txn, self->keys, key, key_size, text, strlen (text));
    free (text);
    return code;
}

store_code_t
datastore_keys_del (datastore_keys_t *self, store_txn_t *txn, const char *scope,
                    const char *name)
{
    json_t *old = datastore_keys_get (self, txn, scope, name);
    if (!old)
        return STORE_NOTFOUND;
    uint8_t key[S_KEY_MAX], index[8 + S_KEY_MAX];
    size_t key_size = s_key (scope, name, key);
    int64_t deadline = s_expire_at (old);
    json_decref (old);
    store_code_t code = STORE_OK;
    if (deadline)
        code = store_del (txn, self->expiry, index,
                          s_expiry_key (deadline, key, key_size, index));
    if (code == STORE_OK || code == STORE_NOTFOUND)
        code = store_del (txn, self->keys, key, key_size);
    return code;
}

//  Whether a record is in the walk: its scope, its name's prefix, past `after`
static int
s_in_walk (const json_t *record, const char *scope, const char *prefix, const char *after)
{
    const char *s = json_string_value (json_object_get (record, "scope"));
    const char *n = json_string_value (json_object_get (record, "name"));
    if (!s || !n || (scope && strcmp (s, scope) != 0))
        return 0;
    if (prefix && strncmp (n, prefix, strlen (prefix)) != 0)
        return 0;
    return !after || strcmp (n, after) > 0;
}

store_code_t
datastore_keys_each (datastore_keys_t *self, store_txn_t *txn, const char *scope,
                     const char *prefix, const char *after, datastore_keys_fn *fn,
                     void *arg)
{
    uint8_t seek[S_KEY_MAX];
    size_t seek_size = 0;
    if (scope) {
        seek_size = s_key (scope, prefix ? prefix : "", seek);
        if (seek_size > S_KEY_PREFIX)
            seek_size = S_KEY_PREFIX; //  hashed: walk from the common part
    }
    store_cursor_t *cursor = store_cursor_new (txn, self->keys);
    if (!cursor)
        return STORE_INTERNAL;
    //  Start at `after` when it is past the prefix: a later page does not
    //  walk the earlier ones again
    uint8_t start[S_KEY_MAX];
    size_t start_size = seek_size;
    memcpy (start, seek, seek_size);
    if (scope && after && (!prefix || strcmp (after, prefix) > 0)) {
        start_size = s_key (scope, after, start);
        if (start_size > S_KEY_PREFIX)
            start_size = S_KEY_PREFIX;
    }
    store_code_t code = start_size ? store_cursor_seek (cursor, start, start_size)
                                   : store_cursor_first (cursor);
    for (; code == STORE_OK; code = store_cursor_next (cursor)) {
        size_t key_size, size;
        const void *key = store_cursor_key (cursor, &key_size);
        if (key_size < seek_size || memcmp (key, seek, seek_size) != 0)
            break; //  past the scope and prefix
        const void *data = store_cursor_data (cursor, &size);
        json_t *record = s_decode (data, size);
        int stop =
            record && s_in_walk (record, scope, prefix, after) ? fn (arg, record) : 0;
        json_decref (record);
        if (stop)
            break;
    }
    store_cursor_destroy (&cursor);
    return code == STORE_NOTFOUND ? STORE_OK : code;
}

int64_t
datastore_keys_next_expiry (datastore_keys_t *self, store_txn_t *txn)
{
    store_cursor_t *cursor = store_cursor_new (txn, self->expiry);
    int64_t deadline = 0;
    size_t size;
    const void *key = NULL;
    if (cursor && store_cursor_first (cursor) == STORE_OK)
        key = store_cursor_key (cursor, &size);
    if (key && size >= 8)
        deadline = (int64_t)store_key_id (key);
    store_cursor_destroy (&cursor);
    return deadline;
}

int
datastore_keys_expire (datastore_keys_t *self, store_txn_t *txn, int64_t now,
                       json_t *expired, size_t max)
{
    int count = 0;
    while ((size_t)count < max) {
        store_cursor_t *cursor = store_cursor_new (txn, self->expiry);
        size_t size = 0;
        const void *key = NULL;
        if (cursor && store_cursor_first (cursor) == STORE_OK)
            key = store_cursor_key (cursor, &size);
        if (!key || size < 8 || (int64_t)store_key_id (key) > now) {
            store_cursor_destroy (&cursor);
            break;
        }
        uint8_t index[8 + S_KEY_MAX];
        memcpy (index, key, size);
        store_cursor_destroy (&cursor);
        const void *data;
        size_t data_size;
        if (store_get (txn, self->keys, index + 8, size - 8, &data, &data_size) ==
            STORE_OK) {
            json_t *record = s_decode (data, data_size);
            if (record)
                json_array_append_new (expired, record);
            if (store_del (txn, self->keys, index + 8, size - 8) != STORE_OK)
                return -1;
        }
        if (store_del (txn, self->expiry, index, size) != STORE_OK)
            return -1;
        count++;
    }
    return count;
}

uint32_t
datastore_keys_crypto_id (datastore_keys_t *self, store_txn_t *txn)
{
    const void *data;
    size_t size;
    if (store_get (txn, self->meta, "crypto_key_id", 13, &data, &size) != STORE_OK ||
        size != 4)
        return 0;
    const uint8_t *b = (const uint8_t *)data;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

store_code_t
datastore_keys_set_crypto_id (datastore_keys_t *self, store_txn_t *txn, uint32_t id)
{
    uint8_t b[4] = {(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8),
                    (uint8_t)id};
    return store_put (txn, self->meta, "crypto_key_id", 13, b, 4);
}
