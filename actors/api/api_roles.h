/*  api_roles: who may use which api operation (proto/PROTOCOL.md,
    "Security (CURVE)", Roles).

    When api.requests is a CURVE endpoint every request frame carries the
    client's public key (User-Id, set by bus_security's ZAP handler, which
    admits user keys on the api's two sockets only: ZAP domain attune.api).
    The api looks it up here, in a zcertstore of the allow dir, not in the
    connection's metadata, so that removing a cert or changing its role
    takes effect on the next request (at most API_ROLES_RECHECK_MS later),
    not the next connection. An operation needs a role: reads need viewer,
    runs / cancels / events / responses operator, definition changes admin,
    and anything not classified admin (an operation added later is refused
    until someone decides who may use it).
*/
#ifndef API_ROLES_H_INCLUDED
#define API_ROLES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bus/bus_security.h"

#ifdef __cplusplus
extern "C" {
#endif

#define API_ROLES_RECHECK_MS 2000 //  a key's role is looked up again after this long

//  Roles, in order: each allows what the one before allows
typedef enum {
    API_ROLE_NONE = 0,
    API_ROLE_VIEWER,
    API_ROLE_OPERATOR,
    API_ROLE_ADMIN
} api_role_t;

//  Who sent a request on a CURVE front: from the allow dir's cert of its key
typedef struct {
    char key[BUS_SECURITY_KEY_SIZE + 1];
    char identity[256]; //  the cert's `identity` (else its `name`, else the key)
    api_role_t role;
    bool known;        //  the key is in the allow dir (now)
    char bad_role[64]; //  a `role` that is none of the three, to say so
    int64_t checked;   //  monotonic ms of the lookup
    bool delegated;    //  api.delegate: roles apply even without CURVE
} api_caller_t;

typedef struct _api_roles_t api_roles_t;

//  New lookup over the allow dir `dir`. NULL on failure.
api_roles_t *api_roles_new (const char *dir);
void api_roles_destroy (api_roles_t **self_p);

//  The holder of `key` (z85), looked up again when the last look is older
//  than API_ROLES_RECHECK_MS. Borrowed; valid until the next call.
const api_caller_t *api_roles_caller (api_roles_t *self, const char *key);

//  The role operation `type` needs. Reads are listed one by one (a suffix
//  would let a future write named *.get through); the rest needs admin.
api_role_t api_roles_required (const char *type);

//  "none", "viewer", "operator", "admin"
const char *api_role_name (api_role_t role);

//  Whether `caller` (NULL: no key) may use `type`; when not, `message`
//  says who has which role and what the operation needs.
bool api_roles_allow (const api_caller_t *caller, const char *type, char *message,
                      size_t size);

#ifdef __cplusplus
}
#endif

#endif
