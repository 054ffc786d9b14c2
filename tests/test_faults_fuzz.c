/*  test_faults_fuzz: the seeded api fuzz of issue 14's fault campaign
    (tests/testing_faults.h holds what its suites share).

    seeded_api_fuzz: hostile frames at the api endpoint, 400,000 (100,000
    under sanitizers; ATTUNE_FAULTS_FRAMES asks for more): random bytes;
    valid requests of proto/PROTOCOL.md with bytes flipped, cut, spliced or
    appended; lengths declared huge; nesting too deep; fields of the wrong
    type; ext and reserved bytes; multi-frame messages. Every message is
    answered and every refusal of the envelope decoder is reached;
    afterwards the daemon answers a ping, its actors are up, its RSS stayed
    within 64 MiB of the baseline, and it stops cleanly (under ASan,
    LeakSanitizer checks that stop: a leak of any size fails it).

    The seed is printed; ATTUNE_FAULTS_SEED replaces it (the fuzz's bytes
    depend on its seed alone).
*/
#include "tests/testing_faults.h"
#include <msgpack.h>

TestSuite (faults, .fini = testing_daemon_stop_all, .timeout = 120);

static testing_daemon_t s_daemon;

//  ---------------------------------------------------------------------------
//  Seeded api fuzz: 100,000 frames, every message answered, RSS bounded

#define S_FUZZ_FRAMES 100000 //  the minimum; 4 times that without sanitizers
#define S_FUZZ_MAX    8192   //  bytes per frame: far below the 1 MiB limit
#define S_FUZZ_WINDOW 500    //  messages sent and not answered yet, at most
//  The bound on RSS growth. The api keeps nothing but requests in flight
//  (this client leaves at most S_FUZZ_WINDOW unanswered, the api takes
//  10,000 at most) and each frame is at most 8 KiB: what it may hold at once
//  is a few MiB, whatever the number of frames. Plain builds grow by 1-2
//  MiB here, ASan's by about 12 (its quarantine, cut to 16 MiB below);
//  64 MiB is the bound, and a leak of 170 bytes a frame crosses it
//  over 400,000 frames (smaller ones are LeakSanitizer's to find).
#define S_FUZZ_RSS_MB 64

//  Valid requests of proto/PROTOCOL.md's api section, the seeds of the
//  mutations. None changes anything when it arrives intact (no such
//  action, trigger or id), so 100,000 of them leave the stores as they are.
static const char *const s_requests[][2] = {
    {"api.ping", "{}"},
    {"api.hello", "{}"},
    {"api.status", "{}"},
    {"api.pack.list", "{}"},
    {"api.pack.get", "{\"ref\": \"test\"}"},
    {"api.action.list", "{\"pack\": \"test\"}"},
    {"api.action.get", "{\"ref\": \"test.step\"}"},
    {"api.action.queue_stats", "{\"ref\": \"test.step\"}"},
    {"api.trigger.get", "{\"ref\": \"test.hook\"}"},
    {"api.policy.list", "{}"},
    {"api.rule.list", "{\"pack\": \"test\", \"enabled\": true}"},
    {"api.rule.get", "{\"ref\": \"test.step\"}"},
    {"api.event.list", "{\"trigger\": \"test.hook\", \"limit\": 5}"},
    {"api.enforcement.list", "{\"rule\": \"test.step\", \"limit\": 5}"},
    {"api.execution.list", "{\"status\": \"completed\", \"limit\": 5}"},
    {"api.execution.get", "{\"id\": \"01900000-0000-7000-8000-000000000000\"}"},
    {"api.execution.changes", "{\"since\": 0, \"limit\": 5}"},
    {"api.execution.run", "{\"action\": \"test.nope\", \"parameters\": {\"n\": 1}}"},
    {"api.execution.cancel", "{\"id\": \"01900000-0000-7000-8000-000000000001\"}"},
    {"api.execution.rerun", "{\"id\": \"01900000-0000-7000-8000-000000000002\"}"},
    {"api.inquiry.list", "{\"status\": \"pending\", \"limit\": 5}"},
    {"api.inquiry.respond",
     "{\"id\": \"01900000-0000-7000-8000-000000000003\", \"response\": {\"ok\": true}}"},
    {"api.event.publish", "{\"trigger\": \"test.nope\", \"payload\": {\"n\": 1}}"},
    {"api.worker.list", "{}"}};

#define S_TEMPLATES (sizeof s_requests / sizeof s_requests[0])

typedef struct {
    uint64_t rng;
    msgpack_sbuffer templates[S_TEMPLATES];
    msgpack_sbuffer work; //  what the packer writes
    uint8_t frame[S_FUZZ_MAX];
    size_t size;
} s_fuzz_t;

static void
s_fuzz_init (s_fuzz_t *self, uint64_t seed)
{
    memset (self, 0, sizeof *self);
    self->rng = seed;
    json_object_seed (1); //  payload keys in the same order each run
    msgpack_sbuffer_init (&self->work);
    for (size_t i = 0; i < S_TEMPLATES; i++) {
        msgpack_sbuffer_init (&self->templates[i]);
        json_t *payload = json_loads (s_requests[i][1], 0, NULL);
        cr_assert_not_null (payload, "%s", s_requests[i][1]);
        proto_envelope_t *request = proto_envelope_new (s_requests[i][0], "faults@test");
        cr_assert_eq (proto_envelope_set_payload_json (request, payload, NULL), PROTO_OK);
        json_decref (payload);
        //  The same bytes each run (a frame sent gets an id of its own)
        uint8_t id[PROTO_UUID_SIZE] = {0x01, 0x90, [15] = (uint8_t)i};
        proto_envelope_set_id (request, id);
        proto_envelope_set_ts (request, 1795363200000000);
        proto_envelope_encode (request, &self->templates[i]);
        proto_envelope_destroy (&request);
    }
}

static void
s_fuzz_destroy (s_fuzz_t *self)
{
    for (size_t i = 0; i < S_TEMPLATES; i++)
        msgpack_sbuffer_destroy (&self->templates[i]);
    msgpack_sbuffer_destroy (&self->work);
}

static uint64_t
s_fuzz_rand (s_fuzz_t *self, uint64_t range)
{
    return testing_faults_rand (&self->rng) % range;
}

//  The frame: `size` bytes of `data` (cut at S_FUZZ_MAX).
static void
s_fuzz_set (s_fuzz_t *self, const void *data, size_t size)
{
    self->size = size < S_FUZZ_MAX ? size : S_FUZZ_MAX;
    memcpy (self->frame, data, self->size);
}

//  The frame: template `which` intact, with an id of its own (requests in
//  flight with the same id are one request: the api answers it once)
static void
s_fuzz_template_of (s_fuzz_t *self, size_t which)
{
    const msgpack_sbuffer *valid = &self->templates[which];
    s_fuzz_set (self, valid->data, valid->size);
    static const uint8_t head[] = {0xa2, 'i', 'd', 0xc4, 0x10};
    uint8_t *at = (uint8_t *)memmem (self->frame, self->size, head, sizeof head);
    cr_assert_not_null (at, "the id field of an encoded %s", s_requests[which][0]);
    //  From the seeded stream: the same seed makes the same bytes
    uint64_t halves[2] = {testing_faults_rand (&self->rng),
                          testing_faults_rand (&self->rng)};
    memcpy (at + sizeof head, halves, sizeof halves);
}

static void
s_fuzz_template (s_fuzz_t *self)
{
    s_fuzz_template_of (self, s_fuzz_rand (self, S_TEMPLATES));
}

//  Random bytes: mostly short, now and then up to S_FUZZ_MAX
static void
s_fuzz_random (s_fuzz_t *self)
{
    self->size = 1 + s_fuzz_rand (self, s_fuzz_rand (self, 16) ? 256 : S_FUZZ_MAX);
    for (size_t i = 0; i < self->size; i++)
        self->frame[i] = (uint8_t)testing_faults_rand (&self->rng);
}

//  A template with 1-8 bytes replaced at random
static void
s_fuzz_flip (s_fuzz_t *self)
{
    s_fuzz_template (self);
    int flips = 1 + (int)s_fuzz_rand (self, 8);
    for (int i = 0; i < flips; i++)
        self->frame[s_fuzz_rand (self, self->size)] =
            (uint8_t)testing_faults_rand (&self->rng);
}

//  A template cut short, or with bytes after its end
static void
s_fuzz_cut_or_append (s_fuzz_t *self)
{
    s_fuzz_template (self);
    if (s_fuzz_rand (self, 2))
        self->size = 1 + s_fuzz_rand (self, self->size - 1);
    else {
        size_t more = 1 + s_fuzz_rand (self, 64);
        for (size_t i = 0; i < more && self->size < S_FUZZ_MAX; i++)
            self->frame[self->size++] = (uint8_t)testing_faults_rand (&self->rng);
    }
}

//  A template with a length declared huge: a str/bin/array/map header of
//  up to 2^32-1 written over its bytes at random (often where a header was)
static void
s_fuzz_huge (s_fuzz_t *self)
{
    static const uint8_t heads[] = {0xd9, 0xda, 0xdb, 0xc4, 0xc5,
                                    0xc6, 0xdc, 0xdd, 0xde, 0xdf};
    s_fuzz_template (self);
    size_t at = s_fuzz_rand (self, self->size);
    for (size_t tries = 0; tries < 8; tries++) {
        uint8_t byte = self->frame[at];
        if ((byte & 0xe0) == 0xa0 || (byte & 0xf0) == 0x80 || (byte & 0xf0) == 0x90)
            break; //  a fixstr, fixmap or fixarray header
        at = s_fuzz_rand (self, self->size);
    }
    uint8_t head = heads[s_fuzz_rand (self, sizeof heads)];
    uint32_t length =
        s_fuzz_rand (self, 2) ? 0xffffffffu : (uint32_t)testing_faults_rand (&self->rng);
    uint8_t bytes[5] = {head, (uint8_t)(length >> 24), (uint8_t)(length >> 16),
                        (uint8_t)(length >> 8), (uint8_t)length};
    for (size_t i = 0; i < 5 && at + i < S_FUZZ_MAX; i++)
        self->frame[at + i] = bytes[i];
    if (at + 5 > self->size)
        self->size = at + 5 < S_FUZZ_MAX ? at + 5 : S_FUZZ_MAX;
}

//  A template with bytes msgpack reserves or attune refuses (ext,
//  fixext, timestamp, 0xc1) put in at random
static void
s_fuzz_forbidden (s_fuzz_t *self)
{
    static const uint8_t bytes[] = {0xc1, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8};
    s_fuzz_template (self);
    size_t at = s_fuzz_rand (self, self->size);
    self->frame[at] = bytes[s_fuzz_rand (self, sizeof bytes)];
    if (at + 1 < self->size)
        self->frame[at + 1] = (uint8_t)(s_fuzz_rand (self, 2) ? 0xff : 0x01);
}

//  The head of one template and the tail of another
static void
s_fuzz_splice (s_fuzz_t *self)
{
    const msgpack_sbuffer *a = &self->templates[s_fuzz_rand (self, S_TEMPLATES)];
    const msgpack_sbuffer *b = &self->templates[s_fuzz_rand (self, S_TEMPLATES)];
    size_t head = s_fuzz_rand (self, a->size);
    size_t from = s_fuzz_rand (self, b->size);
    s_fuzz_set (self, a->data, head);
    size_t tail = b->size - from;
    if (self->size + tail > S_FUZZ_MAX)
        tail = S_FUZZ_MAX - self->size;
    memcpy (self->frame + self->size, b->data + from, tail);
    self->size += tail;
    if (self->size == 0)
        s_fuzz_template (self);
}

//  Strings a request is made of (none names anything that exists: no
//  request built from them changes anything)
static const char *const s_words[] = {
    "id",        "ref",       "action",    "parameters",
    "trigger",   "payload",   "limit",     "before",
    "status",    "since",     "publisher", "after",
    "pack",      "enabled",   "v",         "type",
    "test.nope", "completed", "",          "01900000-0000-7000-8000-000000000000"};

static void
s_fuzz_word (s_fuzz_t *self, msgpack_packer *pk)
{
    const char *word = s_words[s_fuzz_rand (self, sizeof s_words / sizeof s_words[0])];
    msgpack_pack_str_with_body (pk, word, strlen (word));
}

static void s_fuzz_value (s_fuzz_t *self, msgpack_packer *pk, int depth);

//  A container of 0-4 items, map keys mostly words, now and then another
//  value or the same key twice
static void
s_fuzz_container (s_fuzz_t *self, msgpack_packer *pk, int depth)
{
    size_t count = s_fuzz_rand (self, 5);
    bool map = s_fuzz_rand (self, 2);
    map ? msgpack_pack_map (pk, count) : msgpack_pack_array (pk, count);
    for (size_t i = 0; i < count; i++) {
        if (map && s_fuzz_rand (self, 8) == 0)
            s_fuzz_value (self, pk, 0);
        else if (map)
            s_fuzz_word (self, pk);
        s_fuzz_value (self, pk, depth - 1);
    }
}

//  A random msgpack value of any type but ext, nested `depth` at most
static void
s_fuzz_value (s_fuzz_t *self, msgpack_packer *pk, int depth)
{
    uint64_t bits = testing_faults_rand (&self->rng);
    double real;
    memcpy (&real, &bits, sizeof real);
    uint8_t bytes[300];
    size_t size = s_fuzz_rand (self, s_fuzz_rand (self, 8) ? 24 : sizeof bytes);
    for (size_t i = 0; i < size; i++)
        bytes[i] = (uint8_t)testing_faults_rand (&self->rng);
    switch (s_fuzz_rand (self, depth > 0 ? 10 : 8)) {
        case 0:
            msgpack_pack_nil (pk);
            break;
        case 1:
            bits & 1 ? msgpack_pack_true (pk) : msgpack_pack_false (pk);
            break;
        case 2:
            msgpack_pack_uint64 (pk, bits >> s_fuzz_rand (self, 64));
            break;
        case 3:
            msgpack_pack_int64 (pk, -(int64_t)(bits >> (1 + s_fuzz_rand (self, 63))));
            break;
        case 4:
            bits & 1 ? msgpack_pack_float (pk, (float)real)
                     : msgpack_pack_double (pk, real);
            break;
        case 5:
            msgpack_pack_str_with_body (pk, bytes, size);
            break;
        case 6:
            msgpack_pack_bin_with_body (pk, bytes, size);
            break;
        case 7:
            s_fuzz_word (self, pk);
            break;
        default:
            s_fuzz_container (self, pk, depth);
    }
}

//  Arrays and maps `depth` deep around a nil (the limit is 16 in all)
static void
s_fuzz_nest (s_fuzz_t *self, msgpack_packer *pk, int depth)
{
    for (int i = 0; i < depth; i++)
        if (s_fuzz_rand (self, 2)) {
            msgpack_pack_map (pk, 1);
            msgpack_pack_str_with_body (pk, "a", 1);
        } else
            msgpack_pack_array (pk, 1);
    msgpack_pack_nil (pk);
}

enum {
    S_WRONG_MISSING = 9, //  0-8: that field of a random type
    S_WRONG_DUPLICATE,
    S_WRONG_UNKNOWN,
    S_WRONG_VERSION,
    S_WRONG_ID_SIZE,
    S_WRONG_TYPE_TEXT,
    S_WRONG_KEY_TYPE,
    S_WRONG_NONE, //  a well-formed envelope, its payload at random
    S_WRONG_KINDS
};

//  A field's value as attune writes it, or bent by `wrong`
static void
s_fuzz_field (s_fuzz_t *self, msgpack_packer *pk, int field, int wrong, int deep)
{
    static const char *const types[] = {"", "api.", "api.ping\0x", "x"};
    uint8_t id[17];
    for (size_t i = 0; i < sizeof id; i++)
        id[i] = (uint8_t)testing_faults_rand (&self->rng);
    const char *type = s_requests[s_fuzz_rand (self, S_TEMPLATES)][0];
    if (field == wrong)
        s_fuzz_value (self, pk, 2);
    else if (field == 0)
        msgpack_pack_uint64 (pk,
                             wrong == S_WRONG_VERSION ? 2 + s_fuzz_rand (self, 9) : 1);
    else if (field == 1)
        msgpack_pack_bin_with_body (
            pk, id, wrong == S_WRONG_ID_SIZE ? 15 + 2 * s_fuzz_rand (self, 2) : 16);
    else if (field == 2 && wrong == S_WRONG_TYPE_TEXT) {
        size_t which = s_fuzz_rand (self, 5);
        if (which == 4) {
            char longer[200];
            memset (longer, 'a', sizeof longer);
            msgpack_pack_str_with_body (pk, longer, sizeof longer);
        } else
            msgpack_pack_str_with_body (pk, types[which],
                                        which == 2 ? 10 : strlen (types[which]));
    } else if (field == 2)
        msgpack_pack_str_with_body (pk, type, strlen (type));
    else if (field == 3)
        msgpack_pack_str_with_body (pk, "faults@test", 11);
    else if (field == 4)
        msgpack_pack_int64 (pk, 1795363200000000 + (int64_t)s_fuzz_rand (self, 1u << 30));
    else if (field == 5 || field == 6)
        msgpack_pack_nil (pk);
    else if (field == 7)
        msgpack_pack_uint64 (pk, 0);
    else if (deep)
        s_fuzz_nest (self, pk, deep);
    else
        s_fuzz_container (self, pk, 3);
}

//  An envelope built field by field, one thing wrong in it (or none), its
//  payload random or nested `deep` levels
static void
s_fuzz_envelope (s_fuzz_t *self, int wrong, int deep)
{
    static const char *const fields[] = {"v",    "id",    "type",  "source", "ts",
                                         "corr", "trace", "retry", "payload"};
    msgpack_sbuffer_clear (&self->work);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->work, msgpack_sbuffer_write);
    int missing = wrong == S_WRONG_MISSING ? (int)s_fuzz_rand (self, 9) : -1;
    int extra = wrong == S_WRONG_DUPLICATE || wrong == S_WRONG_UNKNOWN;
    msgpack_pack_map (&pk, (size_t)(9 - (missing >= 0) + extra));
    int bad_key = wrong == S_WRONG_KEY_TYPE ? (int)s_fuzz_rand (self, 9) : -1;
    for (int field = 0; field < 9; field++) {
        if (field == missing)
            continue;
        if (field == bad_key)
            msgpack_pack_uint64 (&pk, (uint64_t)field);
        else
            msgpack_pack_str_with_body (&pk, fields[field], strlen (fields[field]));
        s_fuzz_field (self, &pk, field, wrong, deep);
    }
    if (extra) {
        const char *key =
            wrong == S_WRONG_DUPLICATE ? fields[s_fuzz_rand (self, 9)] : "x";
        msgpack_pack_str_with_body (&pk, key, strlen (key));
        msgpack_pack_nil (&pk);
    }
    s_fuzz_set (self, self->work.data, self->work.size);
}

//  One frame, of one kind at random
static void
s_fuzz_one (s_fuzz_t *self)
{
    switch (s_fuzz_rand (self, 12)) {
        case 0:
        case 1:
            s_fuzz_random (self);
            break;
        case 2:
        case 3:
            s_fuzz_flip (self);
            break;
        case 4:
            s_fuzz_cut_or_append (self);
            break;
        case 5:
            s_fuzz_huge (self);
            break;
        case 6:
            s_fuzz_forbidden (self);
            break;
        case 7:
            s_fuzz_splice (self);
            break;
        case 8:
        case 9:
            s_fuzz_envelope (self, (int)s_fuzz_rand (self, S_WRONG_KINDS), 0);
            break;
        case 10:
            s_fuzz_envelope (self, S_WRONG_NONE, 1 + (int)s_fuzz_rand (self, 40));
            break;
        default:
            if (s_fuzz_rand (self, 8) == 0)
                self->size = 0; //  empty
            else
                s_fuzz_template (self); //  intact: the real paths too
    }
}

//  One message: mostly one frame, one in ten 2-4 (the first now and then
//  empty, as a REQ socket's delimiter). Returns the number of frames.
static int
s_fuzz_send (s_fuzz_t *self, zsock_t *sock)
{
    int frames = s_fuzz_rand (self, 10) == 0 ? 2 + (int)s_fuzz_rand (self, 3) : 1;
    for (int i = 0; i < frames; i++) {
        if (i == 0 && frames > 1 && s_fuzz_rand (self, 4) == 0)
            self->size = 0;
        else
            s_fuzz_one (self);
        int more = i + 1 < frames ? ZMQ_SNDMORE : 0;
        cr_assert_eq (zmq_send (zsock_resolve (sock), self->frame, self->size, more),
                      (int)self->size);
    }
    return frames;
}

//  Frames to send: ATTUNE_FAULTS_FRAMES (a longer campaign), else 400,000
//  (under sanitizers 100,000), never fewer than 100,000
static int
s_fuzz_frames (void)
{
    const char *text = getenv ("ATTUNE_FAULTS_FRAMES");
    int frames =
        text && *text ? atoi (text) : S_FUZZ_FRAMES * (TESTING_SANITIZED ? 1 : 4);
    return frames > S_FUZZ_FRAMES ? frames : S_FUZZ_FRAMES;
}

typedef struct {
    zsock_t *sock;
    pid_t pid;
    int messages, frames, replies;
    int64_t answered; //  when the last reply came
    long baseline_kb, peak_kb;
    zhashx_t *codes; //  how many replies of each kind: an error code, or "reply"
} s_fuzz_run_t;

//  A process's resident set (kB), from /proc/PID/status: `field` is
//  "VmRSS" or "RssAnon". 0 when it cannot be read.
static long
s_rss_kb (pid_t pid, const char *field)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line[256];
    long kb = 0;
    size_t length = strlen (field);
    while (fgets (line, sizeof line, file))
        if (strncmp (line, field, length) == 0 && line[length] == ':')
            kb = strtol (line + length + 1, NULL, 10);
    fclose (file);
    return kb;
}

//  Count a reply by its kind: `reply`, or the error's code.
static void
s_fuzz_tally (s_fuzz_run_t *run, zmsg_t *msg)
{
    zframe_t *body = zmsg_last (msg);
    proto_envelope_t *reply =
        proto_envelope_decode (zframe_data (body), zframe_size (body), NULL, NULL);
    cr_assert_not_null (reply, "the api answers with an envelope");
    const char *kind = "reply";
    char code[32];
    if (streq (proto_envelope_type (reply), "api.error")) {
        const msgpack_object *value =
            proto_map_get (proto_envelope_payload_object (reply), "code");
        cr_assert (value && value->type == MSGPACK_OBJECT_STR, "an error has a code");
        snprintf (code, sizeof code, "%.*s", (int)value->via.str.size,
                  value->via.str.ptr);
        kind = code;
    }
    uintptr_t n = (uintptr_t)zhashx_lookup (run->codes, kind);
    zhashx_update (run->codes, kind, (void *)(n + 1));
    proto_envelope_destroy (&reply);
}

//  Take the replies waiting, after waiting up to `wait_ms` for one.
static void
s_fuzz_receive (s_fuzz_run_t *run, int wait_ms)
{
    zmq_pollitem_t item = {zsock_resolve (run->sock), 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, wait_ms) <= 0)
        return;
    zmsg_t *msg;
    while ((msg = zmsg_recv_nowait (run->sock))) {
        run->replies++;
        s_fuzz_tally (run, msg);
        zmsg_destroy (&msg);
    }
    run->answered = zclock_mono ();
}

static void
s_fuzz_sample (s_fuzz_run_t *run)
{
    long kb = s_rss_kb (run->pid, "VmRSS");
    if (kb > run->peak_kb)
        run->peak_kb = kb;
    fprintf (stderr,
             "faults::seeded_api_fuzz: %d frames (%d messages, %d answered): VmRSS %ld "
             "kB, RssAnon %ld kB\n",
             run->frames, run->messages, run->replies, kb,
             s_rss_kb (run->pid, "RssAnon"));
}

//  Send `frames` frames, at most S_FUZZ_WINDOW messages unanswered: as fast
//  as the api answers. A reply that takes over 8 s (the api answers within
//  5 s) fails it.
static void
s_fuzz_stream (s_fuzz_t *self, s_fuzz_run_t *run, int frames)
{
    run->answered = zclock_mono ();
    int sample = run->frames + frames / 10;
    while (run->frames < frames) {
        while (run->messages - run->replies >= S_FUZZ_WINDOW) {
            s_fuzz_receive (run, 100);
            cr_assert_lt (zclock_mono () - run->answered, 8000,
                          "no reply for 8 s: %d of %d messages answered (seed %" PRIu64
                          ")",
                          run->replies, run->messages, self->rng);
        }
        run->frames += s_fuzz_send (self, run->sock);
        run->messages++;
        s_fuzz_receive (run, 0);
        if (run->frames >= sample) {
            s_fuzz_sample (run);
            sample += frames / 10;
        }
    }
    while (run->replies < run->messages && zclock_mono () - run->answered < 8000)
        s_fuzz_receive (run, 100);
    cr_assert_eq (run->replies, run->messages, "every message answered (%d of %d)",
                  run->replies, run->messages);
}

//  Under ASan, freed memory waits in a quarantine of 256 MiB before reuse:
//  a daemon's RSS would grow by that much with no leak. A small one keeps
//  the bound meaningful (LeakSanitizer checks leaks at the clean stop).
static void
s_fuzz_quarantine (void)
{
#if TESTING_SANITIZED
    const char *options = getenv ("ASAN_OPTIONS");
    char text[1024];
    snprintf (text, sizeof text, "%s%squarantine_size_mb=16", options ? options : "",
              options && *options ? ":" : "");
    setenv ("ASAN_OPTIONS", text, 1);
#endif
}

//  Every refusal of the envelope decoder (but too_large: no frame is that
//  large here) and of the api's framing was reached: the fuzz goes deep
static void
s_fuzz_reached (s_fuzz_run_t *run)
{
    static const char *const codes[] = {
        "empty",         "truncated", "length",    "too_deep", "reserved", "ext",
        "key_type",      "dup_key",   "not_map",   "trailing", "missing",  "field_type",
        "unknown_field", "version",   "bad_frame", "reply"};
    char text[1024] = "";
    for (void *n = zhashx_first (run->codes); n; n = zhashx_next (run->codes))
        snprintf (text + strlen (text), sizeof text - strlen (text), " %s %d",
                  (const char *)zhashx_cursor (run->codes), (int)(uintptr_t)n);
    fprintf (stderr, "faults::seeded_api_fuzz: answers:%s\n", text);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        cr_assert_not_null (zhashx_lookup (run->codes, codes[i]),
                            "no frame was refused as %s:%s", codes[i], text);
}

//  The daemon answers, its actors are up; what the api counted.
static void
s_fuzz_still_serving (testing_daemon_t *daemon)
{
    zsock_t *sock = testing_api_client (daemon);
    json_decref (testing_api_ok (sock, "api.ping", NULL));
    json_t *status = testing_api_ok (sock, "api.status", NULL);
    const char *actors[] = {"registry", "rules", "executor"};
    for (int i = 0; i < 3; i++)
        cr_assert (
            json_is_true (json_object_get (
                json_object_get (json_object_get (status, "actors"), actors[i]), "up")),
            "%s is still up", actors[i]);
    char *api = json_dumps (json_object_get (status, "api"), JSON_COMPACT);
    fprintf (stderr, "faults::seeded_api_fuzz: api counters %s\n", api);
    free (api);
    json_decref (status);
    zsock_destroy (&sock);
}

//  The pack the requests name: test.hook, test.step and its rule.
static void
s_fuzz_pack (testing_daemon_t *daemon)
{
    const char *files[][2] = {
        {"test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n"},
        {"test/triggers/hook.yaml", "name: hook\npack: test\n"},
        {"test/actions/step.yaml", "name: step\nrunner_type: noop\n"},
        {"test/rules/step.yaml", "name: step\npack: test\ntrigger:\n  type: test.hook\n"
                                 "action:\n  ref: test.step\n"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        testing_daemon_write (daemon, files[i][0], files[i][1]);
}

Test (faults, seeded_api_fuzz)
{
    uint64_t seed = testing_faults_seed ("seeded_api_fuzz", 20260114);
    testing_daemon_t *daemon = &s_daemon;
    testing_daemon_init (daemon, "test_faults_fuzz");
    s_fuzz_pack (daemon);
    s_fuzz_quarantine ();
    testing_daemon_start (daemon, NULL);
    s_fuzz_t *self = (s_fuzz_t *)zmalloc (sizeof (s_fuzz_t));
    s_fuzz_init (self, seed);
    s_fuzz_run_t run = {
        .sock = testing_api_client (daemon), .pid = daemon->pid, .codes = zhashx_new ()};
    //  The baseline: after every request has been served intact 50 times
    run.answered = zclock_mono ();
    for (int i = 0; i < 50 * (int)S_TEMPLATES; i++) {
        s_fuzz_template_of (self, (size_t)i % S_TEMPLATES);
        zmq_send (zsock_resolve (run.sock), self->frame, self->size, 0);
        run.messages++;
        s_fuzz_receive (&run, 0);
    }
    while (run.replies < run.messages && zclock_mono () - run.answered < 8000)
        s_fuzz_receive (&run, 100);
    cr_assert_eq (run.replies, run.messages, "the intact requests answered: %d of %d\n%s",
                  run.replies, run.messages, testing_daemon_read_log (daemon));
    run.baseline_kb = s_rss_kb (daemon->pid, "VmRSS");
    s_fuzz_sample (&run);
    int64_t began = zclock_mono ();
    run.frames = run.messages = run.replies = 0;
    s_fuzz_stream (self, &run, s_fuzz_frames ());
    int took = (int)(zclock_mono () - began);
    s_fuzz_sample (&run);
    fprintf (stderr,
             "faults::seeded_api_fuzz: %d frames in %d messages in %d ms; VmRSS "
             "baseline %ld kB, peak %ld kB (+%ld kB, bound +%d MiB)\n",
             run.frames, run.messages, took, run.baseline_kb, run.peak_kb,
             run.peak_kb - run.baseline_kb, S_FUZZ_RSS_MB);
    cr_assert_geq (run.frames, s_fuzz_frames ());
    cr_assert_lt (run.peak_kb - run.baseline_kb, S_FUZZ_RSS_MB * 1024L,
                  "VmRSS grew by %ld kB", run.peak_kb - run.baseline_kb);
    s_fuzz_reached (&run);
    s_fuzz_still_serving (daemon);
    zhashx_destroy (&run.codes);
    zsock_destroy (&run.sock);
    s_fuzz_destroy (self);
    free (self);
    //  A clean stop (and under ASan, no leak)
    testing_daemon_stop (daemon);
}
