/*  executor_record: the stored form of an execution (executor_record.h).
*/
#include "actors/executor/executor_record.h"
#include "actors/executor/executor.h"
#include "proto/proto_json.h"

#include <assert.h>
#include <string.h>

static const char *s_names[EXECUTOR_RECORD_FIELDS] = {
    "id",    "action", "runner",    "parameters", "status", "enforcement", "rule",
    "event", "worker", "requested", "started",    "ended",  "result",      "log"};

void
executor_record_init (executor_record_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
    msgpack_zone_init (&self->zone, 4096);
}

void
executor_record_release (executor_record_t *self)
{
    assert (self);
    msgpack_zone_destroy (&self->zone);
}

void
executor_record_clear (executor_record_t *self)
{
    assert (self);
    msgpack_zone_clear (&self->zone);
    memset (self->has, 0, sizeof self->has);
    self->nextra = 0;
    self->nappend = 0;
}

//  Copy `data` into the zone and unpack one value from it. 0 or -1.
static int
s_unpack (executor_record_t *self, const void *data, size_t size, msgpack_object *out)
{
    char *copy = (char *)msgpack_zone_malloc (&self->zone, size ? size : 1);
    if (!copy)
        return -1;
    memcpy (copy, data, size);
    size_t offset = 0;
    if (msgpack_unpack (copy, size, &offset, &self->zone, out) !=
            MSGPACK_UNPACK_SUCCESS ||
        offset != size)
        return -1;
    return 0;
}

static int
s_field_of (const msgpack_object *key)
{
    if (key->type != MSGPACK_OBJECT_STR)
        return -1;
    for (int i = 0; i < EXECUTOR_RECORD_FIELDS; i++)
        if (strlen (s_names[i]) == key->via.str.size &&
            memcmp (s_names[i], key->via.str.ptr, key->via.str.size) == 0)
            return i;
    return -1;
}

int
executor_record_read (executor_record_t *self, const void *data, size_t size)
{
    assert (self);
    executor_record_clear (self);
    msgpack_object map;
    if (size > 0 && *(const char *)data == '{') {
        //  JSON text, as stores before the msgpack records hold
        json_t *json = json_loadb ((const char *)data, size, 0, NULL);
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        int rc = json && proto_json_to_sbuffer (json, &buffer, NULL) == PROTO_OK
                     ? s_unpack (self, buffer.data, buffer.size, &map)
                     : -1;
        msgpack_sbuffer_destroy (&buffer);
        json_decref (json);
        if (rc != 0)
            return -1;
    } else if (s_unpack (self, data, size, &map) != 0)
        return -1;
    if (map.type != MSGPACK_OBJECT_MAP)
        return -1;
    for (uint32_t i = 0; i < map.via.map.size; i++) {
        msgpack_object_kv *kv = &map.via.map.ptr[i];
        int field = s_field_of (&kv->key);
        if (field >= 0) {
            self->field[field] = kv->val;
            self->has[field] = true;
        } else if (self->nextra < EXECUTOR_RECORD_EXTRA)
            self->extra[self->nextra++] = *kv;
        else
            return -1; //  would lose a key when written back
    }
    if ((self->has[EXECUTOR_RECORD_STATUS] &&
         self->field[EXECUTOR_RECORD_STATUS].type != MSGPACK_OBJECT_STR) ||
        (self->has[EXECUTOR_RECORD_LOG] &&
         self->field[EXECUTOR_RECORD_LOG].type != MSGPACK_OBJECT_ARRAY))
        return -1;
    return 0;
}

const msgpack_object *
executor_record_get (const executor_record_t *self, executor_record_field_t field)
{
    assert (self);
    return self->has[field] ? &self->field[field] : NULL;
}

const char *
executor_record_text (const executor_record_t *self, executor_record_field_t field,
                      char *out, size_t size)
{
    assert (size > 0);
    const msgpack_object *value = executor_record_get (self, field);
    size_t length = value && value->type == MSGPACK_OBJECT_STR ? value->via.str.size : 0;
    if (length >= size)
        length = size - 1;
    if (length)
        memcpy (out, value->via.str.ptr, length);
    out[length] = 0;
    return out;
}

void
executor_record_set (executor_record_t *self, executor_record_field_t field,
                     const msgpack_object *value)
{
    self->field[field] = *value;
    self->has[field] = true;
}

void
executor_record_set_str (executor_record_t *self, executor_record_field_t field,
                         const char *text)
{
    msgpack_object value = {.type = MSGPACK_OBJECT_STR};
    value.via.str.ptr = text;
    value.via.str.size = (uint32_t)strlen (text);
    executor_record_set (self, field, &value);
}

void
executor_record_set_int (executor_record_t *self, executor_record_field_t field,
                         int64_t number)
{
    msgpack_object value;
    if (number < 0) {
        value.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        value.via.i64 = number;
    } else {
        value.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        value.via.u64 = (uint64_t)number;
    }
    executor_record_set (self, field, &value);
}

void
executor_record_set_nil (executor_record_t *self, executor_record_field_t field)
{
    msgpack_object value = {.type = MSGPACK_OBJECT_NIL};
    executor_record_set (self, field, &value);
}

int
executor_record_set_packed (executor_record_t *self, executor_record_field_t field,
                            const void *data, size_t size)
{
    msgpack_object value;
    if (s_unpack (self, data, size, &value) != 0)
        return -1;
    executor_record_set (self, field, &value);
    return 0;
}

const msgpack_object *
executor_record_extra (const executor_record_t *self, const char *key)
{
    size_t size = strlen (key);
    for (size_t i = 0; i < self->nextra; i++)
        if (self->extra[i].key.type == MSGPACK_OBJECT_STR &&
            self->extra[i].key.via.str.size == size &&
            memcmp (self->extra[i].key.via.str.ptr, key, size) == 0)
            return &self->extra[i].val;
    return NULL;
}

int
executor_record_set_extra_packed (executor_record_t *self, const char *key,
                                  const void *data, size_t size)
{
    msgpack_object value;
    if (s_unpack (self, data, size, &value) != 0)
        return -1;
    return executor_record_set_extra (self, key, &value);
}

int
executor_record_set_extra (executor_record_t *self, const char *key,
                           const msgpack_object *value)
{
    for (size_t i = 0; i < self->nextra; i++)
        if (self->extra[i].key.via.str.size == strlen (key) &&
            memcmp (self->extra[i].key.via.str.ptr, key, strlen (key)) == 0) {
            self->extra[i].val = *value;
            return 0;
        }
    if (self->nextra == EXECUTOR_RECORD_EXTRA)
        return -1;
    msgpack_object_kv *kv = &self->extra[self->nextra++];
    kv->key.type = MSGPACK_OBJECT_STR;
    kv->key.via.str.ptr = key;
    kv->key.via.str.size = (uint32_t)strlen (key);
    kv->val = *value;
    return 0;
}

void
executor_record_set_status (executor_record_t *self, const char *status, int64_t ts)
{
    executor_record_set_str (self, EXECUTOR_RECORD_STATUS, status);
    assert (self->nappend < EXECUTOR_RECORD_APPEND);
    self->append[self->nappend].status = status;
    self->append[self->nappend].ts = ts;
    self->nappend++;
}

void
executor_record_pack_str (msgpack_packer *pk, const char *text)
{
    proto_pack_str (pk, text);
}

int
executor_record_pack (const executor_record_t *self, msgpack_packer *pk)
{
    assert (self);
    size_t count = self->nextra;
    bool log = self->has[EXECUTOR_RECORD_LOG] || self->nappend > 0;
    for (int i = 0; i < EXECUTOR_RECORD_FIELDS; i++)
        count += i == EXECUTOR_RECORD_LOG ? log : self->has[i];
    int rc = msgpack_pack_map (pk, count);
    for (int i = 0; i < EXECUTOR_RECORD_FIELDS; i++) {
        if (i == EXECUTOR_RECORD_LOG || !self->has[i])
            continue;
        executor_record_pack_str (pk, s_names[i]);
        rc |= msgpack_pack_object (pk, self->field[i]);
    }
    if (log) {
        const msgpack_object *old = executor_record_get (self, EXECUTOR_RECORD_LOG);
        uint32_t kept =
            old && old->type == MSGPACK_OBJECT_ARRAY ? old->via.array.size : 0;
        executor_record_pack_str (pk, "log");
        rc |= msgpack_pack_array (pk, kept + self->nappend);
        for (uint32_t i = 0; i < kept; i++)
            rc |= msgpack_pack_object (pk, old->via.array.ptr[i]);
        for (size_t i = 0; i < self->nappend; i++) {
            rc |= msgpack_pack_map (pk, 2);
            executor_record_pack_str (pk, "status");
            executor_record_pack_str (pk, self->append[i].status);
            executor_record_pack_str (pk, "ts");
            rc |= msgpack_pack_int64 (pk, self->append[i].ts);
        }
    }
    for (size_t i = 0; i < self->nextra; i++) {
        rc |= msgpack_pack_object (pk, self->extra[i].key);
        rc |= msgpack_pack_object (pk, self->extra[i].val);
    }
    return rc == 0 ? 0 : -1;
}

//  ---------------------------------------------------------------------------

json_t *
executor_record_decode (const void *data, size_t size)
{
    if (!data || size == 0)
        return NULL;
    if (*(const char *)data == '{')
        return json_loadb ((const char *)data, size, 0, NULL);
    //  Bounded: a corrupt record costs no more than its size
    json_t *json = proto_json_from_buffer (data, size, "execution", NULL);
    if (json && !json_is_object (json)) {
        json_decref (json);
        json = NULL;
    }
    return json;
}
