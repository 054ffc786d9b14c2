/*  store_crypto: a secret key in a file and what it seals: the datastore's
    secrets (actors/datastore) and the executor's secret action parameters
    at rest (actors/executor/executor_secret.c), each under its own key.

    A key file holds one line: "attune-datastore-key 1 <id> <64 hex digits>"
    (a 32-byte libsodium crypto_secretbox key and its id, 1, 2 ... one more
    at each rotation). It is created 0600 (O_EXCL, fsync'd, renamed into
    place) and never logged. A sealed value is base64 (no padding, URL-safe)
    of nonce || crypto_secretbox_easy (clear): 24 + 16 bytes more than the
    clear text before base64.
*/
#ifndef STORE_CRYPTO_H_INCLUDED
#define STORE_CRYPTO_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _store_crypto_t store_crypto_t;

//  Initialise libsodium once (idempotent). 0 or -1.
int store_crypto_init (void);

//  Read the key file at `path`. NULL when it is missing (errno ENOENT) or
//  unreadable / malformed (message says which).
store_crypto_t *store_crypto_load (const char *path, char *message, size_t size);

//  Create a new random key with `id` in a new file at `path` (0600; fails if
//  the file exists). NULL with `message` on failure.
store_crypto_t *store_crypto_create (const char *path, uint32_t id, char *message,
                                     size_t size);

//  Free the key (wiped); clears the caller's pointer.
void store_crypto_destroy (store_crypto_t **self_p);

uint32_t store_crypto_id (const store_crypto_t *self);

//  Seal `size` bytes of `clear`: a malloc'd NUL-terminated base64 string
//  (caller frees), NULL when out of memory.
char *store_crypto_seal (const store_crypto_t *self, const char *clear, size_t size);

//  Open a sealed string: the clear text, malloc'd and NUL-terminated, its
//  length in *size (caller wipes and frees: store_crypto_free). NULL
//  when it is not sealed under this key (or malformed).
char *store_crypto_unseal (const store_crypto_t *self, const char *sealed, size_t *size);

//  Wipe and free a clear text from store_crypto_unseal; safe on NULL.
void store_crypto_free (char *clear);

#ifdef __cplusplus
}
#endif

#endif
