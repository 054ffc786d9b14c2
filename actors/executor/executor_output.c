/*  executor_output: the live output of executions (proto/PROTOCOL.md, "Live
    output"; executor_internal.h).

    Workers send `execution.output` chunks on their link while a process
    runs. Each is stored in the `output` table, key: the execution id then
    its sequence number as 8 big-endian bytes (so one execution's chunks are
    one range, in order), value: the stream (1 byte), flags (1 byte:
    truncated), the offset (8 bytes, big-endian), then the data. Stored in
    the batch's transaction; published as an `execution.output` fact after
    the commit (not in the ring of changes: a client that missed chunks reads
    them again by offset). A chunk is dropped (counted) when its execution is
    not active on the worker that sent it, when it is stored already (a
    resend), or beyond the executor's own cap.
*/
#include "actors/executor/executor_internal.h"

#define S_HEADER 10 //  stream, flags, offset

typedef struct {
    char id[EXECUTOR_ID_SIZE];
    size_t id_size;
    uint8_t key[EXECUTOR_ID_SIZE + 8];
    size_t key_size;
} s_key_t;

static void
s_key (s_key_t *key, const char *id, uint64_t seq)
{
    key->id_size = strnlen (id, EXECUTOR_ID_SIZE - 1);
    memcpy (key->id, id, key->id_size);
    key->id[key->id_size] = 0;
    memcpy (key->key, id, key->id_size);
    store_id_key (seq, key->key + key->id_size);
    key->key_size = key->id_size + 8;
}

//  ---------------------------------------------------------------------------
//  Chunks from workers

static void
s_publish (void *ctx, void *arg)
{
    executor_t *self = (executor_t *)ctx;
    proto_envelope_t *fact = (proto_envelope_t *)arg;
    if (bus_pub_send (self->pub, fact))
        self->output_published++;
    proto_envelope_destroy (&fact);
}

static void
s_drop (void *ctx, void *arg)
{
    (void)ctx;
    proto_envelope_t *fact = (proto_envelope_t *)arg;
    proto_envelope_destroy (&fact);
}

//  The fact of a chunk stored: an effect of the transaction.
static void
s_fact (executor_t *self, const char *id, uint64_t seq, const char *stream,
        const msgpack_object *data, uint64_t offset, bool truncated)
{
    msgpack_sbuffer_clear (&self->packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5 + truncated);
    proto_pack_str (&pk, "execution");
    proto_pack_str (&pk, id);
    proto_pack_str (&pk, "seq");
    msgpack_pack_uint64 (&pk, seq);
    proto_pack_str (&pk, "stream");
    proto_pack_str (&pk, stream);
    proto_pack_str (&pk, "data");
    msgpack_pack_str (&pk, data->via.str.size);
    msgpack_pack_str_body (&pk, data->via.str.ptr, data->via.str.size);
    proto_pack_str (&pk, "offset");
    msgpack_pack_uint64 (&pk, offset);
    if (truncated) {
        proto_pack_str (&pk, "truncated");
        msgpack_pack_true (&pk);
    }
    proto_envelope_t *fact = executor_envelope_packed (self, "execution.output");
    if (fact && actor_effects_add (self->effects, s_publish, s_drop, fact) != 0)
        proto_envelope_destroy (&fact);
}

//  Whether execution `id` is active on `worker` (else the chunk is late or
//  from a worker that no longer has it).
static bool
s_active_on (executor_t *self, const char *id, const char *worker)
{
    executor_active_t *active = (executor_active_t *)zhashx_lookup (self->actives, id);
    return active && streq (active->worker, worker);
}

int
executor_output_report (executor_t *self, store_txn_t *txn, const msgpack_object *payload,
                        bus_command_t *info)
{
    (void)info;
    char id[EXECUTOR_ID_SIZE], worker[256], stream[16];
    const msgpack_object *seq = proto_map_get (payload, "seq");
    const msgpack_object *data = proto_map_get (payload, "data");
    const msgpack_object *offset = proto_map_get (payload, "offset");
    const msgpack_object *truncated = proto_map_get (payload, "truncated");
    //  The message table checked the types and sizes
    if (!executor_get_str (payload, "execution", id, sizeof id) ||
        !executor_get_str (payload, "worker", worker, sizeof worker) ||
        !executor_get_str (payload, "stream", stream, sizeof stream) || !seq || !data ||
        data->type != MSGPACK_OBJECT_STR)
        return 0;
    int which = streq (stream, "stdout") ? 1 : streq (stream, "stderr") ? 2 : 0;
    uint64_t at =
        offset && offset->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? offset->via.u64 : 0;
    bool cut =
        truncated && truncated->type == MSGPACK_OBJECT_BOOLEAN && truncated->via.boolean;
    if (!which || seq->via.u64 >= EXECUTOR_OUTPUT_CHUNKS_MAX ||
        at + data->via.str.size > EXECUTOR_OUTPUT_MAX ||
        !s_active_on (self, id, worker)) {
        self->output_dropped++;
        return 0;
    }
    s_key_t key;
    s_key (&key, id, seq->via.u64);
    size_t size = S_HEADER + data->via.str.size;
    uint8_t *value = (uint8_t *)malloc (size);
    if (!value)
        return -1;
    value[0] = (uint8_t)which;
    value[1] = cut ? 1 : 0;
    store_id_key (at, value + 2);
    memcpy (value + S_HEADER, data->via.str.ptr, data->via.str.size);
    store_code_t code =
        store_put_new (txn, self->output, key.key, key.key_size, value, size);
    free (value);
    if (code == STORE_EXISTS) {
        self->output_dropped++; //  a resend: stored and published already
        return 0;
    }
    if (code != STORE_OK)
        return -1;
    self->output_stored++;
    s_fact (self, id, seq->via.u64, stream, data, at, cut);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Deleting an execution's chunks

int
executor_output_delete (executor_t *self, store_txn_t *txn, const char *id)
{
    s_key_t key;
    s_key (&key, id, 0);
    store_cursor_t *cursor = store_cursor_new (txn, self->output);
    if (!cursor)
        return -1;
    int deleted = 0;
    store_code_t code = store_cursor_seek (cursor, key.key, key.key_size);
    while (code == STORE_OK) {
        size_t size;
        const uint8_t *at = (const uint8_t *)store_cursor_key (cursor, &size);
        if (size != key.key_size || memcmp (at, key.id, key.id_size) != 0)
            break;
        if (store_cursor_del (cursor) != STORE_OK) {
            deleted = -1;
            break;
        }
        deleted++;
        code = store_cursor_next (cursor);
    }
    store_cursor_destroy (&cursor);
    return deleted;
}

//  ---------------------------------------------------------------------------
//  api.execution.output {id, offset?, stream?, limit?}

//  One stored chunk as the api shows it, or NULL when it does not read.
static json_t *
s_chunk_json (const uint8_t *key, const uint8_t *value, size_t size)
{
    if (size < S_HEADER || (value[0] != 1 && value[0] != 2))
        return NULL;
    json_t *data = json_stringn ((const char *)value + S_HEADER, size - S_HEADER);
    if (!data)
        data = json_string ("");
    json_t *chunk =
        json_pack ("{s:I, s:s, s:o, s:I}", "seq", (json_int_t)store_key_id (key),
                   "stream", value[0] == 1 ? "stdout" : "stderr", "data", data, "offset",
                   (json_int_t)store_key_id (value + 2));
    if (chunk && (value[1] & 1))
        json_object_set_new (chunk, "truncated", json_true ());
    return chunk;
}

//  The chunks of `key`'s execution from its seq on, into `answer`.
static void
s_read_chunks (executor_t *self, store_txn_t *txn, s_key_t *key, const char *stream,
               int64_t limit, json_t *answer)
{
    json_t *chunks = json_object_get (answer, "chunks");
    uint64_t next = store_key_id (key->key + key->id_size);
    size_t bytes = 0;
    bool truncated = false;
    store_cursor_t *cursor = store_cursor_new (txn, self->output);
    store_code_t code =
        cursor ? store_cursor_seek (cursor, key->key, key->key_size) : STORE_NOTFOUND;
    for (; code == STORE_OK && (int64_t)json_array_size (chunks) < limit &&
           bytes < EXECUTOR_OUTPUT_REPLY_BYTES;
         code = store_cursor_next (cursor)) {
        size_t key_size, size;
        const uint8_t *at = (const uint8_t *)store_cursor_key (cursor, &key_size);
        const uint8_t *value = (const uint8_t *)store_cursor_data (cursor, &size);
        if (key_size != key->key_size || memcmp (at, key->id, key->id_size) != 0)
            break;
        next = store_key_id (at + key->id_size) + 1;
        truncated = truncated || (size >= S_HEADER && (value[1] & 1));
        if (stream && (size < 1 || value[0] != (streq (stream, "stdout") ? 1 : 2)))
            continue;
        json_t *chunk = s_chunk_json (at + key->id_size, value, size);
        if (chunk) {
            bytes += size;
            json_array_append_new (chunks, chunk);
        }
    }
    store_cursor_destroy (&cursor);
    json_object_set_new (answer, "next", json_integer ((json_int_t)next));
    json_object_set_new (answer, "truncated", json_boolean (truncated));
}

void
executor_output_query (executor_t *self, const char *id, json_t *payload,
                       actor_answer_t *answer)
{
    int64_t offset = actor_arg_int (payload, "offset", 0, 0, INT64_MAX, answer);
    int64_t limit =
        actor_arg_int (payload, "limit", EXECUTOR_LIST_MAX, 1, EXECUTOR_LIST_MAX, answer);
    const char *stream = actor_arg_str (payload, "stream", answer);
    if (answer->code[0])
        return;
    if (stream && !streq (stream, "stdout") && !streq (stream, "stderr")) {
        actor_query_fail (answer, "bad_request", "stream: stdout or stderr");
        return;
    }
    store_txn_t *txn = store_read_begin (self->store);
    int status = txn ? executor_load (self, txn, id) : -1;
    if (status < 0) {
        store_read_end (&txn);
        actor_query_fail (answer, "not_found", "execution %s does not exist", id);
        return;
    }
    s_key_t key;
    s_key (&key, id, (uint64_t)offset);
    json_t *result =
        json_pack ("{s:s, s:[], s:s, s:b}", "execution", key.id, "chunks", "status",
                   execution_status_name ((execution_status_t)status), "ended",
                   execution_status_terminal ((execution_status_t)status));
    if (result)
        s_read_chunks (self, txn, &key, stream, limit, result);
    store_read_end (&txn);
    answer->result = result;
}
