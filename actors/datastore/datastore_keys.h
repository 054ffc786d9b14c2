/*  datastore_keys: the datastore's tables, in one LMDB store.

        keys     storage key -> record (JSON text)
        expiry   8-byte big-endian deadline (µs) + storage key -> "" (the
                 TTL index, in deadline order: the next expiry is its first
                 entry)
        meta     "crypto_key_id" -> the id of the key every secret is
                 sealed under (4 bytes big-endian)

    A key is (scope, name): scope "system" or "user:<identity>", name 1 ..
    DATASTORE_NAME_MAX bytes of valid UTF-8. The storage key is scope, NUL,
    name; one longer than S_KEY_MAX bytes (LMDB keys stop at 511) is its
    first bytes and a 16-byte BLAKE2b of the whole, so keys stay in name
    order for listing and a lookup checks the record's own scope and name.

    A record: {scope, name, value | sealed + key_id, secret, expire_at (µs,
    0: none), created_at, updated_at}. A secret's value is never stored:
    only `sealed` (store_crypto.h). Functions run inside the caller's
    transaction (store_write / store_read_begin).
*/
#ifndef DATASTORE_KEYS_H_INCLUDED
#define DATASTORE_KEYS_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DATASTORE_NAME_MAX  512          //  bytes of a key's name
#define DATASTORE_VALUE_MAX (512 * 1024) //  bytes of a value (fits a frame)
#define DATASTORE_SCOPE_MAX 261          //  "user:" + an identity of 255

typedef struct _datastore_keys_t datastore_keys_t;

//  Open the tables in `store`. NULL with store_last_error on failure.
datastore_keys_t *datastore_keys_new (store_t *store);
void datastore_keys_destroy (datastore_keys_t **self_p);

//  Check a name: true when it is 1 .. DATASTORE_NAME_MAX bytes of valid
//  UTF-8 without NUL; else false with the reason in `message`.
bool datastore_name_check (const char *name, size_t size, char *message, size_t msize);
//  True when `size` bytes at `text` are valid UTF-8 (no overlongs, no
//  surrogates, nothing past U+10FFFF).
bool datastore_utf8_valid (const char *text, size_t size);

//  The record of (scope, name), a copy the caller owns; NULL when absent.
json_t *datastore_keys_get (datastore_keys_t *self, store_txn_t *txn, const char *scope,
                            const char *name);
//  Store `record` (borrowed; its scope and name say where), replacing the
//  old one and its expiry entry.
store_code_t datastore_keys_put (datastore_keys_t *self, store_txn_t *txn,
                                 const json_t *record);
//  Delete (scope, name) and its expiry entry: STORE_NOTFOUND when absent.
store_code_t datastore_keys_del (datastore_keys_t *self, store_txn_t *txn,
                                 const char *scope, const char *name);

//  Called per record (borrowed) in name order; non-zero stops the walk.
typedef int (datastore_keys_fn) (void *arg, const json_t *record);
//  Walk the records of `scope` (NULL: every scope) whose names start with
//  `prefix` (NULL: all), from the first name after `after` (NULL: start).
store_code_t datastore_keys_each (datastore_keys_t *self, store_txn_t *txn,
                                  const char *scope, const char *prefix,
                                  const char *after, datastore_keys_fn *fn, void *arg);

//  The earliest deadline in the expiry index (µs), 0 when none.
int64_t datastore_keys_next_expiry (datastore_keys_t *self, store_txn_t *txn);
//  Delete up to `max` records whose deadline is <= `now`, appending each
//  deleted record to `expired` (an array). Returns how many, -1 on error.
int datastore_keys_expire (datastore_keys_t *self, store_txn_t *txn, int64_t now,
                           json_t *expired, size_t max);

//  The key id secrets are sealed under (0: none recorded yet), and set it.
uint32_t datastore_keys_crypto_id (datastore_keys_t *self, store_txn_t *txn);
store_code_t datastore_keys_set_crypto_id (datastore_keys_t *self, store_txn_t *txn,
                                           uint32_t id);

#ifdef __cplusplus
}
#endif

#endif
