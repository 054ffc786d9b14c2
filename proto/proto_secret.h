/*  proto_secret: a reference to a datastore secret, as it travels in
    action parameters instead of the secret's clear value.

    `{{ st2kv.system.NAME | decrypt_kv }}` in a rule's action parameters
    renders as a reference, never as the clear value: the parameters are
    stored by rules (enforcement, outbox) and by the executor (execution
    record), published in facts and shown by the api, so a clear value
    there would be a secret in clear in LMDB, facts and outputs. The worker
    resolves each reference into the clear value just before it starts the
    process, by asking the datastore (datastore.query, api.key.get with
    decrypt), and keeps the clear value only in the job's memory
    (actors/worker/worker_secrets.h).

    Why references and not values sealed under a key: a reference needs no
    key shared between the rules, executor and worker hosts (one key file
    per datastore stays the only place secrets can be opened), a rotation
    of the datastore's key never strands a queued execution, and the value
    used is the current one when the action starts. The price is one
    request to the datastore per reference at start, and an execution that
    fails when its key was deleted meanwhile (the reason names the key).

    A reference is a string that may stand alone or inside text ("Bearer
    <ref>"), so whole-string interpolation works:

        \x1e $secret:<nonce>:<scope>:<name> \x1e      (no spaces)

    <nonce> 32 hex digits drawn by rules for one rendering, <scope>
    "system" or "user:<identity>", <name> [A-Za-z0-9_-]{1,512}. The form
    "\x1e$kv:...\x1e" stands for a plain (not decrypted) key's value: the
    executor makes both for an action parameter whose default is exactly
    `{{ st2kv.SCOPE.NAME }}` (optionally `| decrypt_kv`) and was not given
    (actors/executor/executor_secret.h). The record
    separator byte (U+001E) cannot come from a YAML rule by accident.
    Forgery: rules refuses rendered parameters holding a reference whose
    nonce is not the one it drew for that rendering (an event cannot
    smuggle one in through a template), and the api refuses parameters
    holding a reference from anyone but an admin (api.execution.run).
*/
#ifndef PROTO_SECRET_H_INCLUDED
#define PROTO_SECRET_H_INCLUDED

#include <string.h>

#define PROTO_SECRET_OPEN      "\x1e$secret:" //  a reference starts with this
#define PROTO_SECRET_KV_OPEN   "\x1e$kv:"     //  ... or, for a plain key's value, this
#define PROTO_SECRET_CLOSE     '\x1e'         //  ... and ends with this byte
#define PROTO_SECRET_NONCE_LEN 32
#define PROTO_SECRET_NAME_MAX  512

//  The first reference (either form) in `text` at or after it, or NULL.
static inline const char *
proto_secret_find (const char *text)
{
    for (const char *p = text ? strstr (text, "\x1e$") : NULL; p;
         p = strstr (p + 1, "\x1e$"))
        if (strncmp (p + 2, "secret:", 7) == 0 || strncmp (p + 2, "kv:", 3) == 0)
            return p;
    return NULL;
}

#endif
