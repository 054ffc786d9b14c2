/*  registry_live: packs managed while the daemon runs (api.pack.install,
    .remove, .reload; PROTOCOL.md, "Packs managed while running").

    An install fetches the pack into a hidden temporary directory beside the
    others in the packs directory (a copy of a local directory, or a `git
    clone` of a git source, checked out at `ref`), checks that it loads, and
    renames it into place as <packs>/<pack ref>: the packs directory never
    holds half a pack. A removal renames the pack out of the way, then
    deletes it. What the registry publishes after either (or a reload) is
    the difference of its catalog before and after (registry_live_diff).
*/
#ifndef REGISTRY_LIVE_H_INCLUDED
#define REGISTRY_LIVE_H_INCLUDED

#include <stddef.h>
#include <jansson.h>
#include "actors/actor_query.h"
#include "actors/registry/registry_catalog.h"

#ifdef __cplusplus
extern "C" {
#endif

//  How long a git clone or checkout may take.
#define REGISTRY_LIVE_GIT_MS 60000

//  Fetch `source` (an absolute directory path, or a git URL; `ref` a
//  branch, tag or commit, for git only) into `packs_dir` as a checked pack,
//  not yet loaded by `catalog` (which it must not already hold). `pack_dir`
//  gets its final path. 0, or -1 with `code` (bad_request, not_found,
//  conflict, invalid, failed) and `message` saying what, where and why.
int registry_live_install (registry_catalog_t *catalog, const char *packs_dir,
                           const char *source, const char *ref, char *pack_dir,
                           size_t pack_dir_size, char code[32], char *message,
                           size_t message_size);

//  Delete the directory `pack_dir` (renamed out of the way first). 0, or
//  -1 with `message`.
int registry_live_delete (const char *pack_dir, char *message, size_t message_size);

//  Called per definition that differs: the new definition, or NULL when
//  it is gone.
typedef void (registry_live_fn) (void *arg, const char *kind, const char *ref,
                                 const json_t *definition);

//  The registry, as an operation sees it: its catalog and load errors
//  (replaced by a reload), its directories, and its callbacks to apply its
//  stored changes (rules and trigger types put through the api) over a
//  fresh catalog and to publish a difference.
typedef struct {
    registry_catalog_t **catalog;
    zlist_t **errors;
    const char *packs_dir; //  NULL: none
    const char *data_dir;
    void (*reapply) (void *arg);
    registry_live_fn *publish;
    void *arg;
} registry_live_t;

//  api.pack.install ({source, ref}), .remove ({ref}), .reload ({ref}: one
//  pack, or every pack): `verb` "install", "remove" or "reload". The
//  answer's result is {pack, version, updated, deleted, errors}, or its
//  error.
void registry_live_op (registry_live_t *self, const char *verb, json_t *payload,
                       actor_answer_t *answer);

//  Call `fn` for every definition `after` adds or changes (packs, trigger
//  types, actions, policies, rules, in that order), then every one it
//  removes (rules, actions, policies, trigger types, packs). Returns {updated: n, deleted: n}.
json_t *registry_live_diff (registry_catalog_t *before, registry_catalog_t *after,
                            registry_live_fn *fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
