/*  proto_validate: the first pass over every hostile frame.

    proto_msgpack_validate walks the msgpack bytes themselves, before any
    msgpack-c call sees them: msgpack_unpack allocates from declared counts,
    so a 5-byte array32 header could ask it for ~96 GiB. The walk:

    - checks every declared str/bin length against the bytes that remain, an
      array's count n against them (each element takes at least one byte) and
      a map's count n (2n bytes at least);
    - is iterative, with an explicit stack of at most PROTO_MAX_DEPTH levels,
      so a 10,000-deep input fails at level max_depth + 1 without recursion;
    - rejects 0xc1, ext/fixext, map keys that are not strings, and duplicate
      keys in any map (pairwise for small maps, sort + neighbours for large
      ones, so cost stays O(n log n));
    - must consume exactly `size` bytes: it validates one value.

    Memory: the key spans of the maps currently open, which hold at most one
    span per two bytes of frame; small frames use a stack buffer and never
    allocate.
*/
#include "proto/proto_envelope.h"
#include "proto/proto_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Maps with at most this many keys are checked for duplicates pairwise.
#define S_PAIRWISE_MAX 16
//  Key spans held on the stack before the walker allocates.
#define S_INLINE_KEYS 64
//  Room for a field path in error messages.
#define S_PATH_MAX 160
//  Longest piece of a key quoted in a path or message.
#define S_KEY_QUOTE_MAX 48

//  ---------------------------------------------------------------------------
//  Helpers shared with the decoder (proto_internal.h)

const char *
proto_format_name (uint8_t byte)
{
    if (byte <= 0x7f)
        return "positive fixint";
    if (byte <= 0x8f)
        return "fixmap";
    if (byte <= 0x9f)
        return "fixarray";
    if (byte <= 0xbf)
        return "fixstr";
    if (byte >= 0xe0)
        return "negative fixint";
    static const char *names[] = {
        "nil",     "reserved", "false",   "true",     "bin8",    "bin16", "bin32",
        "ext8",    "ext16",    "ext32",   "float32",  "float64", "uint8", "uint16",
        "uint32",  "uint64",   "int8",    "int16",    "int32",   "int64", "fixext1",
        "fixext2", "fixext4",  "fixext8", "fixext16", "str8",    "str16", "str32",
        "array16", "array32",  "map16",   "map32"};
    return names[byte - 0xc0];
}

size_t
proto_path_append_key (char *path, size_t cap, size_t len, const void *key,
                       size_t key_len)
{
    const uint8_t *k = (const uint8_t *)key;
    if (cap == 0)
        return 0;
    if (len > 0 && len + 1 < cap)
        path[len++] = '.';
    size_t quoted = key_len > S_KEY_QUOTE_MAX ? S_KEY_QUOTE_MAX : key_len;
    for (size_t i = 0; i < quoted && len + 1 < cap; i++)
        path[len++] = k[i] >= 0x20 && k[i] < 0x7f ? (char)k[i] : '?';
    if (quoted < key_len)
        for (int i = 0; i < 3 && len + 1 < cap; i++)
            path[len++] = '.';
    path[len] = '\0';
    return len;
}

size_t
proto_path_append_index (char *path, size_t cap, size_t len, uint64_t index)
{
    if (len >= cap)
        return len;
    int n = snprintf (path + len, cap - len, "[%" PRIu64 "]", index);
    if (n < 0)
        return len;
    len += (size_t)n;
    if (len >= cap)
        len = cap - 1;
    return len;
}

//  ---------------------------------------------------------------------------
//  The walker

typedef struct {
    const uint8_t *ptr;
    uint32_t len;
} s_span_t;

typedef struct {
    bool is_map;
    uint64_t count;     //  items declared: elements, or keys + values
    uint64_t started;   //  items begun; the active one is started - 1
    size_t keys_base;   //  maps: first of this map's spans in walker.keys
    const uint8_t *key; //  maps: the last key read
    uint32_t key_len;
} s_level_t;

typedef struct {
    const uint8_t *data;
    size_t size;
    const char *path;
    proto_error_t *error;
    s_level_t levels[PROTO_MAX_DEPTH];
    int depth;
    s_span_t *keys; //  spans of the keys of every open map, innermost last
    size_t nkeys;
    size_t keys_cap;
    s_span_t inline_keys[S_INLINE_KEYS];
} s_walker_t;

//  Field path of the active item: `levels` outermost levels, each naming its
//  active item. A key being read is not named (the message says "key #n").
static void
s_walker_path (const s_walker_t *self, int levels, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    if (self->path && *self->path) {
        int n = snprintf (out, cap, "%s", self->path);
        len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    }
    for (int i = 0; i < levels; i++) {
        const s_level_t *level = &self->levels[i];
        uint64_t item = level->started - 1;
        if (!level->is_map)
            len = proto_path_append_index (out, cap, len, item);
        else if (item % 2 == 1)
            len = proto_path_append_key (out, cap, len, level->key, level->key_len);
    }
    if (len == 0)
        snprintf (out, cap, "envelope");
}

//  Fail on the active item, with "path: [key #n: ]why".
static proto_code_t
s_walker_fail (s_walker_t *self, proto_code_t code, size_t offset, bool is_key,
               const char *why)
{
    char path[S_PATH_MAX];
    s_walker_path (self, self->depth, path, sizeof path);
    if (is_key) {
        const s_level_t *level = &self->levels[self->depth - 1];
        return proto_error_set (self->error, code, offset, "%s: key #%" PRIu64 ": %s",
                                path, (level->started - 1) / 2, why);
    }
    return proto_error_set (self->error, code, offset, "%s: %s", path, why);
}

static bool
s_walker_push_key (s_walker_t *self, const uint8_t *ptr, uint32_t len)
{
    if (self->nkeys == self->keys_cap) {
        size_t cap = self->keys_cap * 2;
        s_span_t *keys;
        if (self->keys == self->inline_keys) {
            keys = (s_span_t *)malloc (cap * sizeof (s_span_t));
            if (keys)
                memcpy (keys, self->keys, self->nkeys * sizeof (s_span_t));
        } else
            keys = (s_span_t *)realloc (self->keys, cap * sizeof (s_span_t));
        if (!keys)
            return false;
        self->keys = keys;
        self->keys_cap = cap;
    }
    self->keys[self->nkeys].ptr = ptr;
    self->keys[self->nkeys].len = len;
    self->nkeys++;
    return true;
}

static int
s_span_compare (const void *a_p, const void *b_p)
{
    const s_span_t *a = (const s_span_t *)a_p;
    const s_span_t *b = (const s_span_t *)b_p;
    uint32_t common = a->len < b->len ? a->len : b->len;
    int rc = common ? memcmp (a->ptr, b->ptr, common) : 0;
    if (rc == 0 && a->len != b->len)
        rc = a->len < b->len ? -1 : 1;
    if (rc == 0 && a->ptr != b->ptr)
        rc = a->ptr < b->ptr ? -1 : 1; //  equal keys: keep frame order
    return rc;
}

static inline bool
s_span_equal (const s_span_t *a, const s_span_t *b)
{
    //  The first byte settles most pairs without a call
    return a->len == b->len && (a->len == 0 || (a->ptr[0] == b->ptr[0] &&
                                                memcmp (a->ptr, b->ptr, a->len) == 0));
}

//  The innermost map is complete: check its keys for duplicates and drop
//  its spans.
static proto_code_t
s_walker_close_map (s_walker_t *self)
{
    s_level_t *level = &self->levels[self->depth - 1];
    s_span_t *keys = self->keys + level->keys_base;
    size_t n = self->nkeys - level->keys_base;
    const s_span_t *first = NULL, *second = NULL;
    if (n <= S_PAIRWISE_MAX) {
        for (size_t i = 1; i < n && !second; i++)
            for (size_t j = 0; j < i; j++)
                if (s_span_equal (&keys[i], &keys[j])) {
                    first = &keys[j];
                    second = &keys[i];
                    break;
                }
    } else {
        qsort (keys, n, sizeof (s_span_t), s_span_compare);
        for (size_t i = 1; i < n; i++)
            if (s_span_equal (&keys[i - 1], &keys[i])) {
                first = &keys[i - 1];
                second = &keys[i];
                break;
            }
    }
    self->nkeys = level->keys_base;
    if (!second)
        return PROTO_OK;

    char path[S_PATH_MAX];
    char key[S_KEY_QUOTE_MAX + 8];
    s_walker_path (self, self->depth - 1, path, sizeof path);
    proto_path_append_key (key, sizeof key, 0, second->ptr, second->len);
    size_t at = (size_t)(second->ptr - self->data);
    size_t first_at = (size_t)(first->ptr - self->data);
    return proto_error_set (
        self->error, PROTO_ERR_DUP_KEY, at,
        "%s: duplicate key \"%s\" at offset %zu (first at offset %zu)", path, key, at,
        first_at);
}

//  Read the header of the value at `pos` and check it: present, not the
//  reserved byte, not an ext type, a str where a map key is due.
static proto_code_t
s_walker_head (s_walker_t *self, size_t pos, bool is_key, proto_head_t *head)
{
    const uint8_t *data = self->data;
    size_t size = self->size;
    size_t at = pos;
    char why[160];
    if (pos >= size) {
        snprintf (why, sizeof why, "data ends at offset %zu where a value was expected",
                  at);
        return s_walker_fail (self, PROTO_ERR_TRUNCATED, at, is_key, why);
    }
    const char *format = proto_format_name (data[pos]);
    if (!proto_head_read (data, size, pos, head)) {
        snprintf (why, sizeof why,
                  "%s at offset %zu needs %zu header bytes, only %zu remain", format, at,
                  head->header, size - pos);
        return s_walker_fail (self, PROTO_ERR_TRUNCATED, at, is_key, why);
    }
    if (head->kind == PROTO_KIND_RESERVED) {
        snprintf (why, sizeof why, "reserved byte 0xc1 at offset %zu", at);
        return s_walker_fail (self, PROTO_ERR_RESERVED, at, is_key, why);
    }
    if (head->kind == PROTO_KIND_EXT) {
        snprintf (why, sizeof why, "%s (ext type) at offset %zu is not allowed", format,
                  at);
        return s_walker_fail (self, PROTO_ERR_EXT, at, is_key, why);
    }
    if (is_key && head->kind != PROTO_KIND_STR) {
        snprintf (why, sizeof why, "map key is a %s at offset %zu, not a str", format,
                  at);
        return s_walker_fail (self, PROTO_ERR_KEY_TYPE, at, is_key, why);
    }
    return PROTO_OK;
}

//  A str or bin at *pos: its bytes are there; a map key is kept for the
//  duplicate check. Moves *pos past it.
static proto_code_t
s_walker_bytes (s_walker_t *self, s_level_t *top, const proto_head_t *head, bool is_key,
                size_t *pos)
{
    size_t at = *pos;
    size_t remaining = self->size - at - head->header;
    char why[160];
    if (head->value > remaining) {
        snprintf (why, sizeof why,
                  "declared %s length %" PRIu64
                  " exceeds the %zu bytes remaining at offset %zu",
                  proto_format_name (self->data[at]), head->value, remaining, at);
        return s_walker_fail (self, PROTO_ERR_LENGTH, at, is_key, why);
    }
    if (is_key) {
        const uint8_t *key = self->data + at + head->header;
        if (!s_walker_push_key (self, key, (uint32_t)head->value)) {
            snprintf (why, sizeof why, "out of memory at offset %zu", at);
            return s_walker_fail (self, PROTO_ERR_NOMEM, at, is_key, why);
        }
        top->key = key;
        top->key_len = (uint32_t)head->value;
    }
    *pos += head->header + (size_t)head->value;
    return PROTO_OK;
}

//  An array or map at *pos: its count fits the bytes left and the depth
//  limit holds; it becomes the innermost level. Moves *pos past its header.
static proto_code_t
s_walker_open (s_walker_t *self, const proto_head_t *head, bool is_key, int max_depth,
               size_t *pos)
{
    size_t at = *pos;
    size_t remaining = self->size - at - head->header;
    const char *format = proto_format_name (self->data[at]);
    char why[160];
    bool is_map = head->kind == PROTO_KIND_MAP;
    //  Each element takes one byte at least; each pair two.
    uint64_t need = is_map ? head->value * 2 : head->value;
    if (need > remaining) {
        if (is_map)
            snprintf (why, sizeof why,
                      "declared %s count %" PRIu64 " needs at least %" PRIu64
                      " bytes, more than the %zu remaining at offset %zu",
                      format, head->value, need, remaining, at);
        else
            snprintf (why, sizeof why,
                      "declared %s count %" PRIu64
                      " exceeds the %zu bytes remaining at offset %zu",
                      format, head->value, remaining, at);
        return s_walker_fail (self, PROTO_ERR_LENGTH, at, is_key, why);
    }
    if (self->depth >= max_depth) {
        snprintf (why, sizeof why, "%s at offset %zu nests deeper than the limit of %d",
                  format, at, max_depth);
        return s_walker_fail (self, PROTO_ERR_TOO_DEEP, at, is_key, why);
    }
    s_level_t *level = &self->levels[self->depth++];
    level->is_map = is_map;
    level->count = need;
    level->started = 0;
    level->keys_base = self->nkeys;
    level->key = NULL;
    level->key_len = 0;
    *pos += head->header;
    return PROTO_OK;
}

//  Validate one value; see the header and the comment at the top.
static proto_code_t
s_walker_run (s_walker_t *self, int max_depth)
{
    size_t pos = 0;
    bool begun = false;
    for (;;) {
        //  The slot of the next value: close the levels that are complete
        s_level_t *top = NULL;
        bool is_key = false;
        if (self->depth > 0) {
            top = &self->levels[self->depth - 1];
            if (top->started == top->count) {
                if (top->is_map) {
                    proto_code_t rc = s_walker_close_map (self);
                    if (rc != PROTO_OK)
                        return rc;
                }
                if (--self->depth == 0)
                    break;
                continue;
            }
            is_key = top->is_map && top->started % 2 == 0;
            top->started++;
        } else if (begun)
            break;
        begun = true;

        proto_head_t head = {0};
        proto_code_t rc = s_walker_head (self, pos, is_key, &head);
        if (rc != PROTO_OK)
            return rc;
        if (head.kind == PROTO_KIND_STR || head.kind == PROTO_KIND_BIN)
            rc = s_walker_bytes (self, top, &head, is_key, &pos);
        else if (head.kind == PROTO_KIND_ARRAY || head.kind == PROTO_KIND_MAP)
            rc = s_walker_open (self, &head, is_key, max_depth, &pos);
        else
            pos += head.header; //  scalars: the header is the whole value
        if (rc != PROTO_OK)
            return rc;
    }
    if (pos != self->size) {
        char why[160];
        snprintf (why, sizeof why,
                  "%zu bytes left after the value that ends at offset %zu",
                  self->size - pos, pos);
        return s_walker_fail (self, PROTO_ERR_TRAILING, pos, false, why);
    }
    return PROTO_OK;
}

proto_code_t
proto_msgpack_validate (const void *data, size_t size, int max_depth, const char *path,
                        proto_error_t *error)
{
    if (max_depth <= 0 || max_depth > PROTO_MAX_DEPTH)
        max_depth = PROTO_MAX_DEPTH;
    if (!data || size == 0)
        return proto_error_set (error, PROTO_ERR_EMPTY, 0, "%s: no data",
                                path && *path ? path : "envelope");
    s_walker_t self;
    self.data = (const uint8_t *)data;
    self.size = size;
    self.path = path;
    self.error = error;
    self.depth = 0;
    self.keys = self.inline_keys;
    self.nkeys = 0;
    self.keys_cap = S_INLINE_KEYS;

    proto_code_t rc = s_walker_run (&self, max_depth);
    if (self.keys != self.inline_keys)
        free (self.keys);
    if (rc == PROTO_OK && error) {
        error->code = PROTO_OK;
        error->offset = 0;
        error->message[0] = '\0';
    }
    return rc;
}
