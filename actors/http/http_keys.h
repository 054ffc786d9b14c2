/*  http_keys: the gateway's API keys (StackStorm's St2-Api-Key), stored
    hashed in one JSON file, <data>/http/apikeys.json:

        {"keys": [{"name", "role", "hash", "enabled", "created"}]}

    A key is "atk_" and 64 hex digits (32 random bytes, libsodium's
    randombytes_buf); only its BLAKE2b-256 hash (crypto_generichash) is
    kept, so the file does not hold a usable key. Keys are high-entropy
    random values, so a fast hash suffices (no password stretching): a
    lookup hashes the key given and compares with every entry in constant
    time (sodium_memcmp).

    The CLI (`attune apikey`) changes the file (written to a temporary file
    and renamed: a reader never sees half of it); the gateway reads it again
    when its modification time or size changes, so a key created, disabled
    or deleted counts from the next request. Roles are the api's: viewer,
    operator, admin.
*/
#ifndef HTTP_KEYS_H_INCLUDED
#define HTTP_KEYS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HTTP_KEY_PREFIX "atk_"
#define HTTP_KEY_SIZE   (4 + 64 + 1) //  prefix, hex, NUL

typedef enum {
    HTTP_KEYS_OK = 0,
    HTTP_KEYS_UNKNOWN,  //  no such key (or name)
    HTTP_KEYS_DISABLED, //  the key is disabled
    HTTP_KEYS_INVALID,  //  bad name or role
    HTTP_KEYS_EXISTS,   //  a key of that name exists
    HTTP_KEYS_IO        //  the file could not be read or written
} http_keys_code_t;

typedef struct _http_keys_t http_keys_t;

//  The keys of file `path` (it may not exist yet: no keys). NULL when out of
//  memory or libsodium does not start.
http_keys_t *http_keys_new (const char *path);
void http_keys_destroy (http_keys_t **self_p);

//  Who holds `key`: its name and role copied out. Thread-safe (a mutex);
//  reads the file again when it changed.
http_keys_code_t http_keys_check (http_keys_t *self, const char *key, char *name,
                                  size_t name_size, char *role, size_t role_size);

//  The file of the keys under data directory `data_dir` (caller frees).
char *http_keys_path (const char *data_dir);

//  File operations for the CLI. `message` says what went wrong.
//  Create key `name` with `role`: the key (shown once) into `key`.
http_keys_code_t http_keys_create (const char *path, const char *name, const char *role,
                                   char key[HTTP_KEY_SIZE], char *message, size_t size);
//  Every key: [{name, role, enabled, created}] (no hashes). Caller owns it.
json_t *http_keys_list (const char *path, char *message, size_t size);
http_keys_code_t http_keys_enable (const char *path, const char *name, bool enabled,
                                   char *message, size_t size);
http_keys_code_t http_keys_delete (const char *path, const char *name, char *message,
                                   size_t size);

#ifdef __cplusplus
}
#endif

#endif
