/*  worker_output: the live output of one running process, in chunks
    (worker_output.h). */
#include "actors/worker/worker_output.h"
#include "actors/pack/pack_config.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data; //  bytes waiting (raw, as read)
    size_t size, capacity;
    int64_t since; //  monotonic ms the oldest of them arrived
} s_pending_t;

struct _worker_output_t {
    char id[64];
    char worker[256];
    size_t cap;      //  bytes streamed, at most
    size_t accepted; //  bytes taken in (streamed or waiting)
    size_t streamed; //  bytes handed out
    uint64_t seq;    //  the next chunk's
    bool truncated;  //  the cap was reached: the rest is dropped
    bool marked;     //  the truncated chunk was handed out
    int last_stream; //  the stream that reached the cap
    s_pending_t pending[2];
    json_t *secrets; //  values never to stream: masked (NULL: none)
    char *end;       //  stdout from this on is not streamed (NULL: none)
    bool ended;      //  ... it came: stdout is over
};

static const char *const s_names[2] = {"stdout", "stderr"};

worker_output_t *
worker_output_new (const char *id, const char *worker, size_t cap)
{
    worker_output_t *self = (worker_output_t *)calloc (1, sizeof (worker_output_t));
    if (!self)
        return NULL;
    snprintf (self->id, sizeof self->id, "%s", id);
    snprintf (self->worker, sizeof self->worker, "%s", worker);
    self->cap = cap;
    return self;
}

void
worker_output_destroy (worker_output_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        worker_output_t *self = *self_p;
        free (self->pending[0].data);
        free (self->pending[1].data);
        json_decref (self->secrets);
        free (self->end);
        free (self);
        *self_p = NULL;
    }
}

void
worker_output_feed (worker_output_t *self, int stream, const char *data, size_t size,
                    int64_t now)
{
    assert (self);
    if (stream < 1 || stream > 2 || self->truncated || size == 0 ||
        (stream == 1 && self->ended))
        return;
    s_pending_t *pending = &self->pending[stream - 1];
    if (size > self->cap - self->accepted) {
        size = self->cap - self->accepted;
        self->truncated = true;
        self->last_stream = stream - 1;
    }
    if (pending->size + size > pending->capacity) {
        size_t capacity = pending->capacity ? pending->capacity : WORKER_OUTPUT_CHUNK;
        while (capacity < pending->size + size)
            capacity *= 2;
        char *grown = (char *)realloc (pending->data, capacity);
        if (!grown) {
            self->truncated = true; //  out of memory: say so, stream nothing more
            return;
        }
        pending->data = grown;
        pending->capacity = capacity;
    }
    if (size && pending->size == 0)
        pending->since = now;
    memcpy (pending->data + pending->size, data, size);
    pending->size += size;
    self->accepted += size;
}

//  Bytes of the UTF-8 sequence at `p` (`left` bytes there), or 0 when it
//  is not one; *incomplete when it is the start of one cut short.
static size_t
s_utf8_length (const unsigned char *p, size_t left, bool *incomplete)
{
    *incomplete = false;
    unsigned char c = p[0];
    size_t n;
    unsigned char low = 0x80, high = 0xBF; //  the second byte's range
    if (c < 0x80)
        return 1;
    else if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        low = c == 0xE0 ? 0xA0 : 0x80;
        high = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        low = c == 0xF0 ? 0x90 : 0x80;
        high = c == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (i >= left) {
            *incomplete = true;
            return 0;
        }
        unsigned char lo = i == 1 ? low : 0x80, hi = i == 1 ? high : 0xBF;
        if (p[i] < lo || p[i] > hi)
            return 0;
    }
    return n;
}

//  How many of the `size` waiting bytes make the chunk: at most a chunk's,
//  and (unless `final`) not ending in a character cut short.
static size_t
s_cut (const char *data, size_t size, bool final)
{
    size_t n = size < WORKER_OUTPUT_CHUNK ? size : WORKER_OUTPUT_CHUNK;
    if (final && n == size)
        return n;
    //  The last character's lead byte, up to three bytes back
    size_t lead = n - 1, back = 0;
    while (lead > 0 && back < 3 && ((unsigned char)data[lead] & 0xC0) == 0x80)
        lead--, back++;
    bool incomplete;
    s_utf8_length ((const unsigned char *)data + lead, n - lead, &incomplete);
    if (incomplete && lead > 0)
        return lead; //  its end waits for the next read
    return n;
}

//  Where the chunk of `n` of the `size` waiting bytes must end so that
//  `pattern` (`len` bytes) is not cut: before it when it crosses `n`, or
//  (unless `final`) before a tail that may be its start (it waits for more
//  bytes); `cut` when it is neither. A chunk that starts with the whole
//  pattern is the pattern.
static size_t
s_pattern_cut (const char *data, size_t size, size_t n, bool final, const char *pattern,
               size_t len, size_t cut)
{
    if (len == 0 || len > WORKER_OUTPUT_CHUNK)
        return cut;
    for (size_t p = n >= len ? n - len + 1 : 0; p < n && p < cut; p++) {
        size_t have = size - p < len ? size - p : len;
        if (memcmp (data + p, pattern, have) == 0 && !(have < len && final))
            return p == 0 && have == len ? len : p;
    }
    return cut;
}

//  The same for every secret value, and on stdout the end marker.
static size_t
s_secret_cut (const worker_output_t *self, int index, const char *data, size_t size,
              size_t n, bool final)
{
    size_t cut = n, i;
    json_t *secret;
    json_array_foreach (self->secrets, i, secret)
    {
        size_t len = strlen (json_string_value (secret));
        if (len >= PACK_CONFIG_MASK_MIN)
            cut = s_pattern_cut (data, size, n, final, json_string_value (secret), len,
                                 cut);
    }
    if (index == 0 && self->end) {
        //  A whole end marker before the cut: the chunk ends before it
        size_t len = strlen (self->end);
        const char *at =
            (const char *)memmem (data, cut < size ? cut : size, self->end, len);
        if (at && at > data)
            cut = (size_t)(at - data);
        else if (at)
            cut = len <= size ? len : cut;
        else
            cut = s_pattern_cut (data, size, n, final, self->end, len, cut);
    }
    return cut;
}

//  `size` raw bytes as valid UTF-8 (an invalid byte: U+FFFD), as a string.
static json_t *
s_text (const char *data, size_t size)
{
    char *text = (char *)malloc (size * 3 + 1);
    if (!text)
        return NULL;
    size_t at = 0, out = 0;
    while (at < size) {
        bool incomplete;
        size_t n =
            s_utf8_length ((const unsigned char *)data + at, size - at, &incomplete);
        if (n) {
            memcpy (text + out, data + at, n);
            out += n;
            at += n;
        } else {
            memcpy (text + out, "\xEF\xBF\xBD", 3);
            out += 3;
            at++;
        }
    }
    json_t *string = json_stringn_nocheck (text, out);
    free (text);
    return string;
}

static json_t *
s_chunk (worker_output_t *self, int index, json_t *data, size_t raw, bool truncated)
{
    json_t *chunk =
        json_pack ("{s:s, s:s, s:I, s:s, s:o, s:I}", "execution", self->id, "worker",
                   self->worker, "seq", (json_int_t)self->seq, "stream", s_names[index],
                   "data", data, "offset", (json_int_t)self->streamed);
    if (chunk && truncated)
        json_object_set_new (chunk, "truncated", json_true ());
    self->seq++;
    self->streamed += raw;
    return chunk;
}

//  Whether stream `index` has a chunk due.
static bool
s_due (worker_output_t *self, int index, int64_t now, bool final)
{
    s_pending_t *pending = &self->pending[index];
    return pending->size > 0 && (final || pending->size >= WORKER_OUTPUT_CHUNK ||
                                 now - pending->since >= WORKER_OUTPUT_DELAY_MS);
}

json_t *
worker_output_take (worker_output_t *self, int64_t now, bool final)
{
    assert (self);
    if (self->seq + 1 >= WORKER_OUTPUT_CHUNKS_MAX && !self->marked) {
        //  One chunk left: the marker's; what waits is dropped
        if (!self->truncated)
            self->last_stream = self->pending[1].size && !self->pending[0].size;
        self->truncated = true;
        self->pending[0].size = self->pending[1].size = 0;
    }
    //  The stream that waited longer goes first
    int first =
        self->pending[1].size &&
        (!self->pending[0].size || self->pending[1].since < self->pending[0].since);
    for (int k = 0; k < 2; k++) {
        int index = k ? !first : first;
        if (!s_due (self, index, now, final))
            continue;
        s_pending_t *pending = &self->pending[index];
        size_t n = s_cut (pending->data, pending->size, final);
        if (self->secrets || self->end)
            n = s_secret_cut (self, index, pending->data, pending->size, n, final);
        if (index == 0 && self->end && n == strlen (self->end) &&
            memcmp (pending->data, self->end, n) == 0) {
            self->ended = true; //  the rest of stdout is not streamed
            self->accepted -= pending->size;
            pending->size = 0;
            continue;
        }
        if (n == 0) {
            pending->since = now; //  the start of a secret, perhaps: more bytes first
            continue;
        }
        size_t masked_size = 0;
        char *masked = self->secrets ? pack_config_mask_text (pending->data, n,
                                                              self->secrets, &masked_size)
                                     : NULL;
        json_t *data = masked ? s_text (masked, masked_size) : s_text (pending->data, n);
        free (masked);
        if (!data)
            return NULL;
        memmove (pending->data, pending->data + n, pending->size - n);
        pending->size -= n;
        pending->since = now; //  what is left waits anew (at most a delay)
        return s_chunk (self, index, data, n, false);
    }
    if (self->truncated && !self->marked && !self->pending[0].size &&
        !self->pending[1].size) {
        self->marked = true;
        return s_chunk (self, self->last_stream, json_string (""), 0, true);
    }
    return NULL;
}

int
worker_output_timeout (worker_output_t *self, int64_t now)
{
    assert (self);
    int timeout = -1;
    for (int index = 0; index < 2; index++) {
        s_pending_t *pending = &self->pending[index];
        if (!pending->size)
            continue;
        int64_t left = pending->size >= WORKER_OUTPUT_CHUNK
                           ? 0
                           : pending->since + WORKER_OUTPUT_DELAY_MS - now;
        int t = left > 0 ? (int)left : 0;
        if (timeout < 0 || t < timeout)
            timeout = t;
    }
    if (self->truncated && !self->marked && timeout < 0)
        timeout = 0;
    return timeout;
}

void
worker_output_set_end (worker_output_t *self, const char *end)
{
    assert (self);
    free (self->end);
    self->end = end && *end ? strdup (end) : NULL;
}

void
worker_output_set_secrets (worker_output_t *self, const json_t *values)
{
    assert (self);
    json_decref (self->secrets);
    self->secrets = json_array_size (values) ? json_deep_copy (values) : NULL;
}

uint64_t
worker_output_chunks (worker_output_t *self)
{
    assert (self);
    return self->seq;
}
