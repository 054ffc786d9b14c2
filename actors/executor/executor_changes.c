/*  executor_changes: the ring of recent facts and api.execution.changes
    (executor_changes.h).

    Two rings in sequence order (every fact is noted with the sequence
    number bus_pub_send returned, which only grows): executions and
    inquiries (fixed 40-byte keys), workers (names up to 255 bytes). Each
    remembers the highest sequence number it has forgotten; every fact
    above the higher of the two is still known. A query walks both rings
    merged in sequence order from `since`, reads the current record of
    each thing touched once, and stops at the limit: `next` is then the
    sequence number of the last fact covered.
*/
#include "actors/executor/executor_changes.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#define S_KEY_SIZE  40  //  execution / inquiry ids (UUIDs: 36 bytes)
#define S_NAME_SIZE 256 //  worker names

typedef struct {
    uint64_t seq;
    char key[S_KEY_SIZE];
    uint8_t kind; //  EXECUTOR_CHANGE_EXECUTION or _INQUIRY
} s_entry_t;

typedef struct {
    uint64_t seq;
    char name[S_NAME_SIZE];
} s_worker_entry_t;

struct _executor_changes_t {
    s_entry_t *entries;
    size_t capacity, head, count; //  head: the oldest entry
    uint64_t floor;               //  highest sequence number forgotten
    s_worker_entry_t *workers;
    size_t wcapacity, whead, wcount;
    uint64_t wfloor;
};

executor_changes_t *
executor_changes_new (size_t capacity)
{
    assert (capacity > 0);
    executor_changes_t *self = (executor_changes_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->capacity = capacity;
    self->entries = (s_entry_t *)calloc (capacity, sizeof (s_entry_t));
    self->wcapacity = EXECUTOR_CHANGES_WORKERS;
    self->workers =
        (s_worker_entry_t *)calloc (self->wcapacity, sizeof (s_worker_entry_t));
    if (!self->entries || !self->workers)
        executor_changes_destroy (&self);
    return self;
}

void
executor_changes_destroy (executor_changes_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        executor_changes_t *self = *self_p;
        free (self->entries);
        free (self->workers);
        free (self);
        *self_p = NULL;
    }
}

static s_entry_t *
s_at (executor_changes_t *self, size_t index)
{
    return &self->entries[(self->head + index) % self->capacity];
}

static s_worker_entry_t *
s_wat (executor_changes_t *self, size_t index)
{
    return &self->workers[(self->whead + index) % self->wcapacity];
}

void
executor_changes_note (executor_changes_t *self, uint64_t seq,
                       executor_change_kind_t kind, const char *key)
{
    assert (self);
    if (seq == 0 || !key)
        return;
    size_t len = strlen (key);
    if (kind == EXECUTOR_CHANGE_WORKER) {
        if (len == 0 || len >= S_NAME_SIZE ||
            (self->wcount && s_wat (self, self->wcount - 1)->seq >= seq))
            return;
        if (self->wcount == self->wcapacity) {
            self->wfloor = s_wat (self, 0)->seq;
            self->whead = (self->whead + 1) % self->wcapacity;
            self->wcount--;
        }
        s_worker_entry_t *entry = s_wat (self, self->wcount++);
        entry->seq = seq;
        memcpy (entry->name, key, len + 1);
        return;
    }
    if (len == 0 || len >= S_KEY_SIZE ||
        (self->count && s_at (self, self->count - 1)->seq >= seq))
        return;
    if (self->count == self->capacity) {
        self->floor = s_at (self, 0)->seq;
        self->head = (self->head + 1) % self->capacity;
        self->count--;
    }
    s_entry_t *entry = s_at (self, self->count++);
    entry->seq = seq;
    entry->kind = (uint8_t)kind;
    memcpy (entry->key, key, len + 1);
}

//  The kind of fact `type` is, and the payload field that names what it
//  concerns; -1 for a type this ring does not follow.
static int
s_kind (const char *type, const char **field)
{
    if (strncmp (type, "execution.", 10) == 0) {
        *field = "execution";
        return EXECUTOR_CHANGE_EXECUTION;
    }
    if (strncmp (type, "inquiry.", 8) == 0) {
        *field = "inquiry";
        return EXECUTOR_CHANGE_INQUIRY;
    }
    if (strncmp (type, "worker.", 7) == 0) {
        *field = "worker";
        return EXECUTOR_CHANGE_WORKER;
    }
    return -1;
}

void
executor_changes_note_json (executor_changes_t *self, uint64_t seq, const char *type,
                            const json_t *payload)
{
    assert (self);
    const char *field = NULL;
    int kind = type ? s_kind (type, &field) : -1;
    if (seq == 0 || kind < 0)
        return;
    const char *key = json_string_value (json_object_get (payload, field));
    executor_changes_note (self, seq, (executor_change_kind_t)kind, key);
}

//  A msgpack str at p: its bytes in *str, *len, and what follows in *next.
//  False when p is not a str or the bytes end first.
static bool
s_read_str (const uint8_t *p, const uint8_t *end, const char **str, size_t *len,
            const uint8_t **next)
{
    if (p >= end)
        return false;
    size_t n, head;
    if ((*p & 0xe0) == 0xa0)
        n = *p & 0x1f, head = 1;
    else if (*p == 0xd9 && end - p >= 2)
        n = p[1], head = 2;
    else if (*p == 0xda && end - p >= 3)
        n = ((size_t)p[1] << 8) | p[2], head = 3;
    else
        return false; //  str32: no key of a fact is that long
    if ((size_t)(end - p) < head + n)
        return false;
    *str = (const char *)p + head;
    *len = n;
    *next = p + head + n;
    return true;
}

void
executor_changes_note_envelope (executor_changes_t *self, uint64_t seq,
                                proto_envelope_t *envelope)
{
    assert (self);
    const char *field = NULL;
    int kind = envelope ? s_kind (proto_envelope_type (envelope), &field) : -1;
    if (seq == 0 || kind < 0)
        return;
    char key[S_NAME_SIZE];
    key[0] = 0;
    //  The executor packs the key first ({execution: id, ...}): read it
    //  straight from the bytes; anything else goes through the unpacker.
    size_t size = 0;
    const uint8_t *p = proto_envelope_payload (envelope, &size);
    const uint8_t *end = p ? p + size : NULL;
    const char *str;
    size_t len;
    if (p && size > 1 && (*p & 0xf0) == 0x80 && (*p & 0x0f) > 0 &&
        s_read_str (p + 1, end, &str, &len, &p) && len == strlen (field) &&
        memcmp (str, field, len) == 0 && s_read_str (p, end, &str, &len, &p) &&
        len < sizeof key) {
        memcpy (key, str, len);
        key[len] = 0;
    } else {
        const msgpack_object *payload = proto_envelope_payload_object (envelope);
        const msgpack_object *value = payload ? proto_map_get (payload, field) : NULL;
        if (!value || value->type != MSGPACK_OBJECT_STR ||
            value->via.str.size >= sizeof key ||
            memchr (value->via.str.ptr, 0, value->via.str.size))
            return;
        memcpy (key, value->via.str.ptr, value->via.str.size);
        key[value->via.str.size] = 0;
    }
    executor_changes_note (self, seq, (executor_change_kind_t)kind, key);
}

uint64_t
executor_changes_floor (executor_changes_t *self)
{
    assert (self);
    return self->floor > self->wfloor ? self->floor : self->wfloor;
}

size_t
executor_changes_size (executor_changes_t *self)
{
    assert (self);
    return self->count + self->wcount;
}

//  ---------------------------------------------------------------------------
//  The query

//  First index of a ring whose sequence number is above `since`.
static size_t
s_first_after (executor_changes_t *self, bool workers, uint64_t since)
{
    size_t low = 0, high = workers ? self->wcount : self->count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        uint64_t seq = workers ? s_wat (self, mid)->seq : s_at (self, mid)->seq;
        if (seq <= since)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

typedef struct {
    json_t *lists[3]; //  by kind: executions, inquiries, workers (borrowed)
    size_t count, bytes, limit;
} s_page_t;

//  Whether the page is full.
static bool
s_page_full (const s_page_t *page)
{
    return page->count >= page->limit || page->bytes >= EXECUTOR_CHANGES_BYTES;
}

//  Add a record (taken) to the page. One over half a page (parameters of
//  hundreds of KiB) is replaced by what says which it is: a page is added
//  to only while under EXECUTOR_CHANGES_BYTES, so it stays below one and a
//  half of that, well inside a frame.
static void
s_page_add (s_page_t *page, executor_change_kind_t kind, json_t *record)
{
    size_t size = actor_packed_size (record);
    if (size > EXECUTOR_CHANGES_BYTES / 2) {
        json_t *summary = actor_page_summary (record, size);
        json_decref (record);
        record = summary;
        size = summary ? actor_packed_size (summary) : 0;
    }
    if (record) {
        json_array_append_new (page->lists[kind], record);
        page->count++;
        page->bytes += size;
    }
}

//  Changes since `since`: the current record of everything facts above it
//  concern, once each. Returns `next` ({since} or nil).
static json_t *
s_changes_page (executor_changes_t *self, uint64_t since, s_page_t *page,
                const executor_changes_source_t *source)
{
    zhashx_t *seen = zhashx_new ();
    if (!seen)
        return json_null ();
    size_t i = s_first_after (self, false, since);
    size_t j = s_first_after (self, true, since);
    uint64_t cursor = since;
    bool more = false;
    while (i < self->count || j < self->wcount) {
        bool worker = i >= self->count ||
                      (j < self->wcount && s_wat (self, j)->seq < s_at (self, i)->seq);
        uint64_t seq;
        executor_change_kind_t kind;
        const char *key;
        if (worker) {
            s_worker_entry_t *entry = s_wat (self, j);
            seq = entry->seq, kind = EXECUTOR_CHANGE_WORKER, key = entry->name;
        } else {
            s_entry_t *entry = s_at (self, i);
            seq = entry->seq, kind = (executor_change_kind_t)entry->kind,
            key = entry->key;
        }
        char tag[S_NAME_SIZE + 2];
        snprintf (tag, sizeof tag, "%c%s", "eiw"[kind], key);
        if (!zhashx_lookup (seen, tag)) {
            if (s_page_full (page)) {
                more = true;
                break;
            }
            zhashx_insert (seen, tag, (void *)1);
            json_t *record = source->record (source->arg, kind, key);
            if (record)
                s_page_add (page, kind, record);
        }
        cursor = seq;
        if (worker)
            j++;
        else
            i++;
    }
    zhashx_destroy (&seen);
    return more ? json_pack ("{s:I}", "since", (json_int_t)cursor) : json_null ();
}

static int
s_compare_ids (const void *a, const void *b)
{
    return strcmp (*(const char *const *)a, *(const char *const *)b);
}

//  A page of the reset listing: the non-terminal executions in id order,
//  from the first above `after` (NULL: from the start). `base` is the
//  sequence number the listing started at. Returns `next`.
static json_t *
s_reset_page (uint64_t base, uint64_t seq, const char *after, s_page_t *page,
              const executor_changes_source_t *source)
{
    json_t *ids = source->active_ids (source->arg);
    size_t count = json_array_size (ids);
    const char **sorted = (const char **)calloc (count ? count : 1, sizeof (char *));
    size_t n = 0;
    for (size_t k = 0; sorted && k < count; k++) {
        const char *id = json_string_value (json_array_get (ids, k));
        if (id && (!after || strcmp (id, after) > 0))
            sorted[n++] = id;
    }
    qsort (sorted, n, sizeof (char *), s_compare_ids);
    const char *last = NULL;
    bool more = false;
    for (size_t k = 0; k < n; k++) {
        if (k > 0 && streq (sorted[k], sorted[k - 1]))
            continue; //  active and pending both: once
        if (s_page_full (page)) {
            more = true;
            break;
        }
        json_t *record =
            source->record (source->arg, EXECUTOR_CHANGE_EXECUTION, sorted[k]);
        if (record)
            s_page_add (page, EXECUTOR_CHANGE_EXECUTION, record);
        last = sorted[k];
    }
    json_t *next;
    if (more && last)
        next = json_pack ("{s:I, s:s}", "since", (json_int_t)base, "after", last);
    else if (more) //  not one fit: cannot happen (a page takes at least one)
        next = json_null ();
    else if (base < seq) //  what changed while the listing was taken
        next = json_pack ("{s:I}", "since", (json_int_t)base);
    else
        next = json_null ();
    free (sorted);
    json_decref (ids);
    return next;
}

void
executor_changes_query (executor_changes_t *self, uint64_t publisher, uint64_t seq,
                        json_t *payload, const executor_changes_source_t *source,
                        actor_answer_t *answer)
{
    assert (self);
    assert (source);
    assert (answer);
    json_t *asked_value = json_object_get (payload, "publisher");
    if (asked_value && !json_is_null (asked_value) &&
        (!json_is_integer (asked_value) || json_integer_value (asked_value) < 0)) {
        actor_query_fail (answer, "bad_request",
                          "publisher: expected an unsigned integer (the publisher id "
                          "an earlier answer gave), or nil");
        return;
    }
    uint64_t asked = (uint64_t)json_integer_value (asked_value); //  0 when absent
    int64_t since = actor_arg_int (payload, "since", 0, 0, INT64_MAX, answer);
    int64_t limit = actor_arg_int (payload, "limit", EXECUTOR_CHANGES_LIMIT_DEFAULT, 1,
                                   EXECUTOR_CHANGES_LIMIT_MAX, answer);
    if (answer->code[0])
        return;
    const char *after = actor_arg_str (payload, "after", answer);
    if (answer->code[0])
        return;
    if (after && (!*after || strlen (after) >= S_KEY_SIZE)) {
        actor_query_fail (answer, "bad_request",
                          "after: not an execution id (pass `next` back as it came)");
        return;
    }
    uint64_t floor = executor_changes_floor (self);
    //  Another publisher (the executor restarted, or a first request), a
    //  `since` this publisher never reached, or one older than the ring
    bool reset = asked != publisher || (uint64_t)since > seq || (uint64_t)since < floor;
    json_t *result = json_pack ("{s:I, s:I, s:I, s:b, s:[], s:[], s:[]}", "publisher",
                                (json_int_t)publisher, "seq", (json_int_t)seq, "floor",
                                (json_int_t)floor, "reset", reset || after, "executions",
                                "inquiries", "workers");
    if (!result) {
        actor_query_fail (answer, "internal", "out of memory");
        return;
    }
    size_t workers_bytes = 0;
    if (reset) {
        //  Every worker, counted in the page; past half a page the rest is
        //  left out (`workers_truncated`: api.worker.list has them all)
        json_t *workers = source->workers (source->arg);
        json_t *kept = json_array ();
        size_t w;
        json_t *worker;
        json_array_foreach (workers, w, worker)
        {
            size_t size = actor_packed_size (worker);
            if (workers_bytes + size > EXECUTOR_CHANGES_BYTES / 2) {
                json_object_set_new (result, "workers_truncated", json_true ());
                break;
            }
            workers_bytes += size;
            json_array_append (kept, worker);
        }
        json_decref (workers);
        if (kept)
            json_object_set_new (result, "workers", kept);
    }
    s_page_t page = {{json_object_get (result, "executions"),
                      json_object_get (result, "inquiries"),
                      json_object_get (result, "workers")},
                     0,
                     workers_bytes,
                     (size_t)limit};
    json_t *next;
    if (reset)
        next = s_reset_page (seq, seq, NULL, &page, source);
    else if (after)
        next = s_reset_page ((uint64_t)since, seq, after, &page, source);
    else
        next = s_changes_page (self, (uint64_t)since, &page, source);
    json_object_set_new (result, "next", next ? next : json_null ());
    answer->result = result;
}
