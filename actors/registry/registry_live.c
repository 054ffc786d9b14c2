/*  registry_live: installing and removing packs while running, and the
    difference of two catalogs. See registry_live.h.
*/
#include "actors/registry/registry_live.h"
#include "actors/pack/pack_venv.h"
#include "actors/registry/registry_pack.h"

#include <inttypes.h>

#include <czmq.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  ---------------------------------------------------------------------------
//  Deleting

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove (path) == 0 || errno == ENOENT ? 0 : -1;
}

int
registry_live_delete (const char *pack_dir, char *message, size_t message_size)
{
    static unsigned counter = 0;
    char aside[PATH_MAX + 64];
    const char *slash = strrchr (pack_dir, '/');
    snprintf (aside, sizeof aside, "%.*s/.remove-%s-%d-%u",
              slash ? (int)(slash - pack_dir) : 1, slash ? pack_dir : ".",
              slash ? slash + 1 : pack_dir, (int)getpid (), counter++);
    if (rename (pack_dir, aside) != 0) {
        snprintf (message, message_size, "cannot move %s aside: %s", pack_dir,
                  strerror (errno));
        return -1;
    }
    if (nftw (aside, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        snprintf (message, message_size, "cannot delete %s: %s", aside, strerror (errno));
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Installing

//  A git source: a URL, scp-like (user@host:path), or a path ending in .git
static bool
s_is_git (const char *source, const char *ref)
{
    size_t n = strlen (source);
    const char *colon = strchr (source, ':');
    const char *at = strchr (source, '@');
    return ref || strstr (source, "://") || (n > 4 && streq (source + n - 4, ".git")) ||
           (at && colon && at < colon && !strchr (source, '/'));
}

//  The last line of a program's output.
static const char *
s_last_line (char *output)
{
    size_t n = strlen (output);
    while (n && (output[n - 1] == '\n' || output[n - 1] == '\r'))
        output[--n] = 0;
    char *line = strrchr (output, '\n');
    return line ? line + 1 : output;
}

//  Fetch `source` into the empty directory `into`. 0, or -1 with code and
//  message.
static int
s_fetch (const char *source, const char *ref, const char *into, char code[32],
         char *message, size_t message_size)
{
    char output[1024] = "";
    if (s_is_git (source, ref)) {
        const char *clone[] = {"git", "clone", "--quiet", "--", source, into, NULL};
        int rc = pack_spawn (clone, NULL, REGISTRY_LIVE_GIT_MS, output, sizeof output);
        if (rc == 0 && ref) {
            const char *checkout[] = {"git", "checkout", "--quiet", ref, "--", NULL};
            rc = pack_spawn (checkout, into, REGISTRY_LIVE_GIT_MS, output, sizeof output);
            if (rc != 0) {
                snprintf (code, 32, "not_found");
                snprintf (message, message_size,
                          "ref: git checkout %s in %s: exit %d: %s", ref, source, rc,
                          s_last_line (output));
                return -1;
            }
        }
        if (rc != 0) {
            snprintf (code, 32, "failed");
            snprintf (message, message_size, "source: git clone %s: %s: %s", source,
                      rc == 124   ? "timed out"
                      : rc == 127 ? "cannot run git (is git installed?)"
                                  : "failed",
                      s_last_line (output));
            return -1;
        }
        return 0;
    }
    struct stat st;
    if (source[0] != '/' || stat (source, &st) != 0 || !S_ISDIR (st.st_mode)) {
        snprintf (code, 32, source[0] != '/' ? "bad_request" : "not_found");
        snprintf (message, message_size,
                  source[0] != '/'
                      ? "source: '%s' is neither an absolute directory path nor a git URL"
                      : "source: %s: not a directory on the registry's host (%s)",
                  source, strerror (errno ? errno : ENOTDIR));
        return -1;
    }
    char from[PATH_MAX + 8];
    snprintf (from, sizeof from, "%s/.", source);
    const char *copy[] = {"cp", "-R", "--", from, into, NULL};
    int rc = pack_spawn (copy, NULL, REGISTRY_LIVE_GIT_MS, output, sizeof output);
    if (rc != 0) {
        snprintf (code, 32, "failed");
        snprintf (message, message_size, "source: cannot copy %s: %s", source,
                  s_last_line (output));
        return -1;
    }
    return 0;
}

//  The errors of loading the pack in `dir` next to the packs `catalog`
//  holds, joined (NULL when it loads cleanly), with `dir` shown as `shown`.
static char *
s_check_loads (registry_catalog_t *catalog, const char *dir, const char *shown)
{
    registry_catalog_t *trial = registry_catalog_copy (catalog);
    zlist_t *errors = zlist_new ();
    if (!trial || !errors) {
        registry_catalog_destroy (&trial);
        zlist_destroy (&errors);
        return strdup ("out of memory");
    }
    zlist_autofree (errors);
    if (registry_catalog_load_pack (trial, dir, errors) == 0)
        registry_catalog_check (trial, errors);
    char *joined = NULL;
    size_t used = 0, n = 0;
    for (char *e = (char *)zlist_first (errors); e && n < 5;
         e = (char *)zlist_next (errors), n++) {
        const char *rest = strncmp (e, dir, strlen (dir)) == 0 ? e + strlen (dir) : e;
        char *more = zsys_sprintf ("%s%s%s%s", joined ? joined : "", used ? "; " : "",
                                   rest == e ? "" : shown, rest);
        zstr_free (&joined);
        joined = more;
        used = 1;
    }
    if (joined && zlist_size (errors) > 5) {
        char *more = zsys_sprintf ("%s; and %zu more", joined, zlist_size (errors) - 5);
        zstr_free (&joined);
        joined = more;
    }
    zlist_destroy (&errors);
    registry_catalog_destroy (&trial);
    return joined;
}

//  The fetched pack in `tmp`: read, not installed yet, loading cleanly;
//  moved to <packs_dir>/<ref>. 0 or -1 with code and message.
static int
s_place (registry_catalog_t *catalog, const char *packs_dir, const char *tmp,
         char *pack_dir, size_t pack_dir_size, char code[32], char *message,
         size_t message_size)
{
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    json_t *none = json_object ();
    json_t *pack = registry_pack_read (tmp, none, errors);
    json_decref (none);
    const char *first = (const char *)zlist_first (errors);
    int rc = -1;
    const char *ref = pack ? registry_pack_str (pack, "ref", "") : "";
    snprintf (pack_dir, pack_dir_size, "%s/%s", packs_dir, ref);
    struct stat st;
    char *failed = NULL;
    if (!pack) {
        snprintf (code, 32, "invalid");
        snprintf (message, message_size, "not a pack: %s",
                  first ? first : "no pack.yaml");
    } else if (registry_catalog_pack (catalog, ref) || stat (pack_dir, &st) == 0) {
        snprintf (code, 32, "conflict");
        snprintf (message, message_size,
                  "pack %s is already installed (attune pack remove %s first, or "
                  "attune pack reload %s)",
                  ref, ref, ref);
    } else if ((failed = s_check_loads (catalog, tmp, ref))) {
        snprintf (code, 32, "invalid");
        snprintf (message, message_size, "pack %s does not load: %s", ref, failed);
    } else if (rename (tmp, pack_dir) != 0) {
        snprintf (code, 32, "failed");
        snprintf (message, message_size, "cannot move the pack to %s: %s", pack_dir,
                  strerror (errno));
    } else
        rc = 0;
    zstr_free (&failed);
    json_decref (pack);
    zlist_destroy (&errors);
    return rc;
}

int
registry_live_install (registry_catalog_t *catalog, const char *packs_dir,
                       const char *source, const char *ref, char *pack_dir,
                       size_t pack_dir_size, char code[32], char *message,
                       size_t message_size)
{
    if (!*source || source[0] == '-' || (ref && (!*ref || ref[0] == '-'))) {
        snprintf (code, 32, "bad_request");
        snprintf (message, message_size, "%s: '%s' cannot start with '-' or be empty",
                  *source && source[0] != '-' ? "ref" : "source",
                  *source && source[0] != '-' ? ref : source);
        return -1;
    }
    char tmp[PATH_MAX];
    snprintf (tmp, sizeof tmp, "%s/.install-XXXXXX", packs_dir);
    if (!mkdtemp (tmp)) {
        snprintf (code, 32, "failed");
        snprintf (message, message_size, "cannot make a directory in %s: %s", packs_dir,
                  strerror (errno));
        return -1;
    }
    errno = 0;
    if (s_fetch (source, ref, tmp, code, message, message_size) != 0 ||
        s_place (catalog, packs_dir, tmp, pack_dir, pack_dir_size, code, message,
                 message_size) != 0) {
        char ignored[256];
        registry_live_delete (tmp, ignored, sizeof ignored);
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Operations

//  Read pack `only` from `only_dir` (NULL: it is gone), or every pack
//  (`only` NULL), again; the stored changes applied over them again; every
//  difference published. The result: {updated, deleted, errors}.
static json_t *
s_reload (registry_live_t *self, const char *only, const char *only_dir)
{
    zlist_t *errors = zlist_new ();
    registry_catalog_t *next =
        only ? registry_catalog_copy (*self->catalog) : registry_catalog_new ();
    if (!errors || !next) {
        zlist_destroy (&errors);
        registry_catalog_destroy (&next);
        return NULL;
    }
    zlist_autofree (errors);
    if (!only)
        registry_catalog_load_dir (next, self->packs_dir, errors);
    else {
        registry_catalog_drop_pack (next, only);
        if (only_dir)
            registry_catalog_load_pack (next, only_dir, errors);
        registry_catalog_check (next, errors);
    }
    registry_catalog_t *before = *self->catalog;
    *self->catalog = next;
    self->reapply (self->arg);
    json_t *result = registry_live_diff (before, next, self->publish, self->arg);
    registry_catalog_destroy (&before);
    //  The pack's earlier load errors give way to these
    size_t n = only_dir ? strlen (only_dir) : 0;
    for (char *e = only_dir ? (char *)zlist_first (*self->errors) : NULL; e;) {
        char *after = (char *)zlist_next (*self->errors);
        if (strncmp (e, only_dir, n) == 0 && e[n] == '/')
            zlist_remove (*self->errors, e);
        e = after;
    }
    json_t *list = json_array ();
    for (char *e = (char *)zlist_first (errors); e; e = (char *)zlist_next (errors)) {
        zsys_error ("registry: %s", e);
        json_array_append_new (list, json_string (e));
        if (only)
            zlist_append (*self->errors, e);
    }
    json_object_set_new (result, "errors", list);
    if (only)
        zlist_destroy (&errors);
    else {
        zlist_destroy (self->errors);
        *self->errors = errors;
    }
    return result;
}

//  An installed pack's virtualenv, when it has a requirements.txt (as
//  `attune pack setup-venv`). 0, or -1 with the pack deleted again.
static int
s_pack_venv (registry_live_t *self, const char *pack_dir, const char *pack,
             actor_answer_t *answer)
{
    char path[PATH_MAX + 32], venv[PATH_MAX + 300], message[2048];
    snprintf (path, sizeof path, "%s/requirements.txt", pack_dir);
    bool requirements = false;
    if (access (path, F_OK) != 0 ||
        pack_venv_setup (pack_dir, pack, self->data_dir, NULL, venv, sizeof venv,
                         &requirements, message, sizeof message) == 0)
        return 0;
    actor_query_fail (answer, "failed", "pack %s: its virtualenv: %s", pack, message);
    registry_live_delete (pack_dir, path, sizeof path);
    return -1;
}

void
registry_live_op (registry_live_t *self, const char *verb, json_t *payload,
                  actor_answer_t *answer)
{
    const char *ref = actor_arg_str (payload, "ref", answer);
    const char *source = actor_arg_str (payload, "source", answer);
    if (answer->code[0])
        return;
    if (!self->packs_dir) {
        actor_query_fail (answer, "unavailable", "this registry has no packs directory");
        return;
    }
    char dir[PATH_MAX], code[32] = "", message[2048];
    const json_t *pack = ref ? registry_catalog_pack (*self->catalog, ref) : NULL;
    snprintf (dir, sizeof dir, "%s", registry_pack_str (pack, "dir", ""));
    if (streq (verb, "install")) {
        if (registry_live_install (*self->catalog, self->packs_dir, source ? source : "",
                                   ref, dir, sizeof dir, code, message,
                                   sizeof message) != 0) {
            actor_query_fail (answer, code, "%s", message);
            return;
        }
        ref = strrchr (dir, '/') + 1;
        if (s_pack_venv (self, dir, ref, answer) != 0)
            return;
    } else if (ref && !pack) {
        //  reload of a pack put there by hand: its folder by its name
        snprintf (dir, sizeof dir, "%s/%s/pack.yaml", self->packs_dir, ref);
        if (streq (verb, "remove") || !registry_pack_name_valid (ref) ||
            access (dir, F_OK) != 0) {
            actor_query_fail (answer, "not_found", "pack '%s' is not loaded", ref);
            return;
        }
        *strrchr (dir, '/') = 0;
    } else if (streq (verb, "remove") &&
               registry_live_delete (dir, message, sizeof message) != 0) {
        actor_query_fail (answer, "failed", "%s", message);
        return;
    }
    char name[256];
    snprintf (name, sizeof name, "%s", ref ? ref : "");
    json_t *result =
        s_reload (self, ref ? name : NULL, streq (verb, "remove") ? NULL : dir);
    if (!result) {
        actor_query_fail (answer, "internal", "out of memory");
        return;
    }
    pack = ref ? registry_catalog_pack (*self->catalog, name) : NULL;
    if (ref)
        json_object_set_new (result, "pack", json_string (name));
    if (pack)
        json_object_set (result, "version", json_object_get (pack, "version"));
    zsys_info ("registry: pack %s %s: %" JSON_INTEGER_FORMAT
               " updated, %" JSON_INTEGER_FORMAT " deleted",
               ref ? name : "(all)", verb,
               json_integer_value (json_object_get (result, "updated")),
               json_integer_value (json_object_get (result, "deleted")));
    answer->result = result;
}

//  ---------------------------------------------------------------------------
//  Differences

static const char *const s_kinds[] = {"pack",   "trigger", "action",
                                      "policy", "rule",    "sensor"};

//  The definitions of kind `kind` (an index in s_kinds); NULL for actions,
//  which are packed (registry_catalog_packed_actions).
static const json_t *
s_kind (registry_catalog_t *catalog, int kind)
{
    switch (kind) {
        case 0:
            return registry_catalog_packs (catalog);
        case 1:
            return registry_catalog_triggers (catalog);
        case 2:
            return NULL;
        case 3:
            return registry_catalog_policies (catalog);
        case 5:
            return registry_catalog_sensors (catalog);
        default:
            return registry_catalog_rules (catalog);
    }
}

//  Each action new or changed in `after`, to fn. Their number.
static json_int_t
s_actions_updated (registry_packed_t *before, registry_packed_t *after,
                   registry_live_fn *fn, void *arg)
{
    json_int_t updated = 0;
    for (const char *ref = registry_packed_first (after); ref;
         ref = registry_packed_next (after)) {
        if (registry_packed_same (after, before, ref))
            continue;
        json_t *definition = registry_packed_get (after, ref);
        fn (arg, "action", ref, definition);
        json_decref (definition);
        updated++;
    }
    return updated;
}

//  Each definition of kind `k` new or changed in `after`, to fn. Their
//  number.
static json_int_t
s_updated (registry_catalog_t *before, registry_catalog_t *after, int k,
           registry_live_fn *fn, void *arg)
{
    if (k == 2)
        return s_actions_updated (registry_catalog_packed_actions (before),
                                  registry_catalog_packed_actions (after), fn, arg);
    json_int_t updated = 0;
    const char *ref;
    json_t *definition;
    json_object_foreach ((json_t *)s_kind (after, k), ref, definition)
    {
        if (!json_equal (definition, json_object_get (s_kind (before, k), ref))) {
            fn (arg, s_kinds[k], ref, definition);
            updated++;
        }
    }
    return updated;
}

//  Each definition of kind `k` of `before` that `after` has not, to fn.
//  Their number.
static json_int_t
s_deleted (registry_catalog_t *before, registry_catalog_t *after, int k,
           registry_live_fn *fn, void *arg)
{
    json_int_t deleted = 0;
    if (k == 2) {
        registry_packed_t *old = registry_catalog_packed_actions (before);
        registry_packed_t *now = registry_catalog_packed_actions (after);
        for (const char *ref = registry_packed_first (old); ref;
             ref = registry_packed_next (old))
            if (!registry_packed_has (now, ref)) {
                fn (arg, "action", ref, NULL);
                deleted++;
            }
        return deleted;
    }
    const char *ref;
    json_t *definition;
    json_object_foreach ((json_t *)s_kind (before, k), ref, definition)
    {
        if (!json_object_get (s_kind (after, k), ref)) {
            fn (arg, s_kinds[k], ref, NULL);
            deleted++;
        }
    }
    return deleted;
}

json_t *
registry_live_diff (registry_catalog_t *before, registry_catalog_t *after,
                    registry_live_fn *fn, void *arg)
{
    json_int_t updated = 0, deleted = 0;
    static const int updates[] = {0, 1, 2, 3, 5, 4};
    for (int u = 0; u < 6; u++)
        updated += s_updated (before, after, updates[u], fn, arg);
    //  Rules, actions, then their policies: a queued execution woken when
    //  its policy goes already finds its action gone
    static const int order[] = {4, 5, 2, 3, 1, 0};
    for (int o = 0; o < 6; o++)
        deleted += s_deleted (before, after, order[o], fn, arg);
    return json_pack ("{s:I, s:I}", "updated", updated, "deleted", deleted);
}
