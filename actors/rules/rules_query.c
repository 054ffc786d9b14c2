/*  rules_query: events and enforcements for the api (rules_query.h). */
#include "actors/rules/rules_query.h"
#include "proto/proto_json.h"

#define S_LIMIT_DEFAULT 50
#define S_LIMIT_MAX     1000
#define S_SCAN_MAX      200000 //  records examined per request, at most

int
rules_query_walk (store_t *store, store_table_t *table, const char *before, size_t limit,
                  size_t scan_max, rules_query_fn *fn, void *arg, char next[40],
                  actor_answer_t *answer)
{
    next[0] = 0;
    uint8_t start[PROTO_UUID_SIZE];
    if (before && proto_uuid_parse (before, start) != 0) {
        actor_query_fail (answer, "bad_request", "before: '%.64s' is not a UUID", before);
        return -1;
    }
    store_txn_t *txn = store_read_begin (store);
    store_cursor_t *cursor = txn ? store_cursor_new (txn, table) : NULL;
    if (!cursor) {
        actor_query_fail (answer, "store", "cannot read: %s", store_last_error (store));
        store_read_end (&txn);
        return -1;
    }
    store_code_t code;
    if (before) {
        code = store_cursor_seek (cursor, start, sizeof start);
        code = code == STORE_OK ? store_cursor_prev (cursor) : store_cursor_last (cursor);
    } else
        code = store_cursor_last (cursor);
    size_t accepted = 0, seen = 0;
    bool full = false;
    uint8_t last_seen[PROTO_UUID_SIZE] = {0};
    while (code == STORE_OK && accepted < limit && seen < scan_max) {
        size_t key_size, size;
        const void *key = store_cursor_key (cursor, &key_size);
        const void *data = store_cursor_data (cursor, &size);
        seen++;
        int taken = fn (arg, key, key_size, data, size);
        if (taken < 0) {
            full = true; //  `next` stays the last one taken
            break;
        }
        if (taken > 0) {
            accepted++;
            if (key_size == PROTO_UUID_SIZE)
                proto_uuid_format ((const uint8_t *)key, next);
        }
        if (key_size == PROTO_UUID_SIZE)
            memcpy (last_seen, key, sizeof last_seen);
        code = store_cursor_prev (cursor);
    }
    //  A next page exists when we stopped early and records remain
    if (code != STORE_OK)
        next[0] = 0;
    else if (!full && seen >= scan_max && accepted < limit)
        //  The scan budget ran out: go on below the last one seen next time
        proto_uuid_format (last_seen, next);
    store_cursor_destroy (&cursor);
    store_read_end (&txn);
    return (int)accepted;
}

typedef struct {
    actor_page_t page; //  cut by bytes as well: a reply is one frame
    const char *filter_key[2];
    const char *filter_value[2];
} s_list_t;

static int
s_accept (void *arg, const void *key, size_t key_size, const void *data, size_t size)
{
    s_list_t *list = (s_list_t *)arg;
    json_t *record = proto_json_from_buffer (data, size, "record", NULL);
    if (!record)
        return 0;
    for (int i = 0; i < 2; i++) {
        if (!list->filter_key[i])
            continue;
        const char *value =
            json_string_value (json_object_get (record, list->filter_key[i]));
        if (!value || !streq (value, list->filter_value[i])) {
            json_decref (record);
            return 0;
        }
    }
    return actor_page_add (&list->page, record) ? 1 : -1;
}

static void
s_get (const rules_query_tables_t *tables, store_table_t *table, const char *what,
       json_t *payload, actor_answer_t *answer)
{
    const char *id = actor_arg_str (payload, "id", answer);
    if (answer->code[0])
        return;
    uint8_t key[PROTO_UUID_SIZE];
    if (!id || proto_uuid_parse (id, key) != 0) {
        actor_query_fail (answer, "bad_request", "id: required, a UUID");
        return;
    }
    store_txn_t *txn = store_read_begin (tables->store);
    const void *data;
    size_t size;
    store_code_t code =
        txn ? store_get (txn, table, key, sizeof key, &data, &size) : STORE_INTERNAL;
    if (code == STORE_OK) {
        answer->result = proto_json_from_buffer (data, size, "record", NULL);
        if (!answer->result)
            actor_query_fail (answer, "store", "%s %s: the stored record is corrupt",
                              what, id);
    } else if (code == STORE_NOTFOUND)
        actor_query_fail (answer, "not_found", "%s %s does not exist", what, id);
    else
        actor_query_fail (answer, "store", "cannot read: %s",
                          store_last_error (tables->store));
    store_read_end (&txn);
}

static void
s_list (const rules_query_tables_t *tables, store_table_t *table, const char *keys[2],
        json_t *payload, actor_answer_t *answer)
{
    s_list_t list = {0};
    for (int i = 0; i < 2; i++)
        if (keys[i]) {
            list.filter_value[i] = actor_arg_str (payload, keys[i], answer);
            list.filter_key[i] = list.filter_value[i] ? keys[i] : NULL;
        }
    int64_t limit =
        actor_arg_int (payload, "limit", S_LIMIT_DEFAULT, 1, S_LIMIT_MAX, answer);
    const char *before = actor_arg_str (payload, "before", answer);
    if (answer->code[0])
        return;
    actor_page_init (&list.page, (size_t)limit);
    char next[40];
    if (rules_query_walk (tables->store, table, before, (size_t)limit, S_SCAN_MAX,
                          s_accept, &list, next, answer) < 0) {
        json_decref (list.page.items);
        return;
    }
    answer->result = json_pack ("{s:o, s:o}", "items", list.page.items, "next",
                                next[0] ? json_string (next) : json_null ());
}

void
rules_query (const rules_query_tables_t *tables, const char *type, json_t *payload,
             actor_answer_t *answer)
{
    if (streq (type, "api.event.get"))
        s_get (tables, tables->events, "event", payload, answer);
    else if (streq (type, "api.enforcement.get"))
        s_get (tables, tables->enforcements, "enforcement", payload, answer);
    else if (streq (type, "api.event.list")) {
        const char *keys[2] = {"trigger", NULL};
        s_list (tables, tables->events, keys, payload, answer);
    } else if (streq (type, "api.enforcement.list")) {
        const char *keys[2] = {"rule", "event"};
        s_list (tables, tables->enforcements, keys, payload, answer);
    } else if (streq (type, "api.status")) {
        json_t *status = json_pack ("{s:b, s:I}", "up", 1, "store_bytes",
                                    (json_int_t)store_used_size (tables->store));
        if (tables->counters)
            json_object_update (status, tables->counters);
        answer->result = status;
    } else
        actor_query_fail (answer, "unknown_type", "the rules actor does not answer '%s'",
                          type);
}
