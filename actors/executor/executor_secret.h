/*  executor_secret: secret action parameters sealed at rest.

    A parameter an action's schema marks `secret: true` is stored in the
    executor's LMDB (execution records) sealed, never in clear: its value
    (as compact JSON) sealed with libsodium crypto_secretbox under the
    executor's own key (store/store_crypto.h), the key file
    <data_dir>/executor/secret.key, created 0600 on first start, never
    logged, never sent. A sealed value is the string
    "\x1e$sealed:<key id>:<base64>" (proto_secret.h's separator byte: no
    YAML or CLI value looks like it). It is opened only to build the
    execution.dispatch for the worker (the worker link is CURVE in split
    deployments) and for a re-run's parameters; the api masks secret
    parameters whatever they hold (registry_params_mask), facts too.
*/
#ifndef EXECUTOR_SECRET_H_INCLUDED
#define EXECUTOR_SECRET_H_INCLUDED

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#define EXECUTOR_SECRET_PREFIX "\x1e$sealed:"

typedef struct _executor_secret_t executor_secret_t;

//  The executor's key, loaded from (or created in) `dir`/secret.key. NULL
//  with `message` when it cannot be read or made.
executor_secret_t *executor_secret_new (const char *dir, char *message, size_t size);
void executor_secret_destroy (executor_secret_t **self_p);

//  Seal, in `parameters`, the values of the parameters `schema` (an
//  action's parameters) marks secret. 0, or -1 when out of memory.
int executor_secret_seal (executor_secret_t *self, const json_t *schema,
                          json_t *parameters);

//  Open, in `parameters`, every sealed value (top level). 0, or -1 with
//  `message` when one does not open under this key.
int executor_secret_open (executor_secret_t *self, json_t *parameters, char *message,
                          size_t size);

//  Seal the secret parameters of the packed map in `params` (replaced by
//  the sealed map when the schema marks any given one). 0 or -1.
int executor_secret_seal_packed (executor_secret_t *self, const json_t *schema,
                                 msgpack_sbuffer *params);

//  Pack `parameters` with every sealed value opened: 1; 0 when none is
//  sealed (nothing packed: the caller packs them as they are); -1 with
//  `message` when one does not open (nothing packed).
int executor_secret_pack_open (executor_secret_t *self, const msgpack_object *parameters,
                               msgpack_packer *pk, char *message, size_t size);

//  `st2kv.user` in defaults is the user scope of EXECUTOR_SECRET_KV_USER
//  (executor_params_defaults).
#define EXECUTOR_SECRET_KV_USER "attune"

//  Whether any top-level value of a packed map of parameters is sealed.
bool executor_secret_any (const msgpack_object *parameters);

#endif
