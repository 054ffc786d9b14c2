/*  proto_uuid: the time and the ids envelopes carry: microseconds since the
    Unix epoch, and time-ordered UUIDs (version 7, RFC 9562) made from a
    per-thread pool of random bytes; their canonical text form.
*/
#include "proto/proto_envelope.h"

#include <czmq.h>

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t
proto_now_usec (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

//  Random bytes for ids come from getrandom() in blocks, kept per thread.
//  A forked child drops its inherited block so parent and child never hand
//  out the same ids.
#define S_POOL_SIZE 512
static _Thread_local uint8_t s_pool[S_POOL_SIZE];
static _Thread_local size_t s_pool_used = S_POOL_SIZE;
static pthread_once_t s_atfork_once = PTHREAD_ONCE_INIT;

static void
s_pool_drop (void)
{
    s_pool_used = S_POOL_SIZE;
}

static void
s_atfork_register (void)
{
    pthread_atfork (NULL, NULL, s_pool_drop);
}

//  Fallback when getrandom() is unavailable: splitmix64 over time, address
//  and a counter. Unique enough for ids; not for secrets.
static void
s_fallback_fill (uint8_t *buffer, size_t size)
{
    static _Thread_local uint64_t state;
    if (state == 0) {
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        state = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 30) ^
                (uint64_t)(uintptr_t)&state ^ (uint64_t)proto_now_usec ();
    }
    for (size_t i = 0; i < size; i += 8) {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        size_t n = size - i < 8 ? size - i : 8;
        memcpy (buffer + i, &z, n);
    }
}

static void
s_pool_refill (void)
{
    pthread_once (&s_atfork_once, s_atfork_register);
    size_t got = 0;
    while (got < S_POOL_SIZE) {
        ssize_t rc = getrandom (s_pool + got, S_POOL_SIZE - got, 0);
        if (rc > 0)
            got += (size_t)rc;
        else if (rc < 0 && errno != EINTR) {
            s_fallback_fill (s_pool + got, S_POOL_SIZE - got);
            break;
        }
    }
    s_pool_used = 0;
}

void
proto_uuid_generate (uint8_t id[PROTO_UUID_SIZE])
{
    assert (id);
    if (S_POOL_SIZE - s_pool_used < PROTO_UUID_SIZE)
        s_pool_refill ();
    memcpy (id, s_pool + s_pool_used, PROTO_UUID_SIZE);
    s_pool_used += PROTO_UUID_SIZE;
    //  UUID version 7 (RFC 9562): 48-bit Unix time in milliseconds, then
    //  random bits. Ids made later sort later, so every table keyed by an id
    //  appends to its last pages instead of dirtying a random page per
    //  insert (write amplification at tens of thousands of ids a second).
    //  Within one millisecond a thread's ids keep increasing: rand_a (12
    //  bits) becomes a counter seeded at random each millisecond.
    static _Thread_local uint64_t last_ms = 0;
    static _Thread_local uint16_t counter = 0;
    uint64_t ms = (uint64_t)(proto_now_usec () / 1000);
    if (ms > last_ms) {
        last_ms = ms;
        counter = (uint16_t)(((id[6] << 8) | id[7]) & 0x07ff); //  room to count up
    } else {
        ms = last_ms;             //  the clock stepped back or is in the same millisecond
        if (++counter > 0x0fff) { //  4096 ids in one millisecond: borrow the next one
            last_ms = ++ms;
            counter = 0;
        }
    }
    for (int i = 0; i < 6; i++)
        id[i] = (uint8_t)(ms >> (40 - 8 * i));
    id[6] = (uint8_t)(0x70 | ((counter >> 8) & 0x0f)); //  version 7
    id[7] = (uint8_t)(counter & 0xff);
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); //  variant 10
}

void
proto_uuid_format (const uint8_t id[PROTO_UUID_SIZE], char out[PROTO_UUID_STR_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    assert (id && out);
    size_t o = 0;
    for (size_t i = 0; i < PROTO_UUID_SIZE; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 0x0f];
    }
    out[o] = '\0';
}

static int
s_hex_value (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
proto_uuid_parse (const char *text, uint8_t id[PROTO_UUID_SIZE])
{
    if (!text || !id)
        return -1;
    size_t len = strnlen (text, 37);
    bool dashed = len == 36;
    if (!dashed && len != 32)
        return -1;
    if (dashed &&
        (text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-'))
        return -1;
    uint8_t out[PROTO_UUID_SIZE];
    size_t t = 0;
    for (size_t i = 0; i < PROTO_UUID_SIZE; i++) {
        if (dashed && (t == 8 || t == 13 || t == 18 || t == 23))
            t++;
        int hi = s_hex_value (text[t]);
        int lo = s_hex_value (text[t + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
        t += 2;
    }
    memcpy (id, out, PROTO_UUID_SIZE);
    return 0;
}

void
proto_uuid_derive (const uint8_t ns[PROTO_UUID_SIZE], const char *name,
                   uint8_t id[PROTO_UUID_SIZE])
{
    assert (ns && name && id);
    zdigest_t *digest = zdigest_new ();
    assert (digest); //  out of memory
    zdigest_update (digest, ns, PROTO_UUID_SIZE);
    zdigest_update (digest, (const byte *)name, strlen (name));
    memcpy (id, zdigest_data (digest), PROTO_UUID_SIZE); //  SHA-1: 20 bytes
    zdigest_destroy (&digest);
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x50); //  version 5
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); //  variant RFC 9562
}
