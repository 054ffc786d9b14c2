/*  registry_packed: definitions kept packed, ref -> one msgpack buffer each,
    decoded when read (issue 17). A definition as a jansson tree costs
    ~5.2 KiB for a StackStorm action (a hashtable per object, a node per
    value); packed it costs its bytes and a table entry, ~0.7 KiB (both
    measured by tests/test_st2_memory.c). The registry's catalog
    keeps its actions so: they are read when a replica takes a snapshot, an
    api client lists or gets them, or a pack is reloaded, never per event.

    An action's parameters that are its runner's unchanged (the runner
    table's own specs, registry_runners.h) are packed as nil and are the
    runner table's specs again when decoded: shared and read only, as
    registry_runners_inherit leaves them.

    Iteration (first / next) is in no particular order, one walk at a time
    per table, over a copy of the refs that first takes (freed when next
    reaches the end): the table may be read and changed meanwhile.
*/
#ifndef REGISTRY_PACKED_H_INCLUDED
#define REGISTRY_PACKED_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>
#include <jansson.h>
#include <msgpack.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _registry_packed_t registry_packed_t;

//  New empty table; NULL when out of memory.
registry_packed_t *registry_packed_new (void);
void registry_packed_destroy (registry_packed_t **self_p);

//  A copy (the buffers copied); NULL when out of memory.
registry_packed_t *registry_packed_dup (registry_packed_t *self);

//  Add or replace `ref`'s definition (an object, packed: the caller keeps
//  its tree). 0, or -1 when it cannot be packed (out of memory, a value
//  with no msgpack form).
int registry_packed_put (registry_packed_t *self, const char *ref,
                         const json_t *definition);

//  Remove `ref`. 0, or -1 when unknown.
int registry_packed_delete (registry_packed_t *self, const char *ref);

bool registry_packed_has (registry_packed_t *self, const char *ref);
size_t registry_packed_size (registry_packed_t *self);

//  `ref`'s definition decoded: a new reference (caller owns it), NULL when
//  unknown.
json_t *registry_packed_get (registry_packed_t *self, const char *ref);

//  Pack `ref`'s definition, as registry_packed_get would decode it, into
//  `packer` without making its tree (a snapshot sends every action so).
//  0, or -1 when unknown (nothing packed).
int registry_packed_write (registry_packed_t *self, const char *ref,
                           msgpack_packer *packer);

//  True when both tables hold `ref` with the same packed bytes (the same
//  definition, fields in the same order).
bool registry_packed_same (registry_packed_t *self, registry_packed_t *other,
                           const char *ref);

//  The refs in order (strcmp), copies: a new list (caller destroys it),
//  NULL when out of memory.
zlistx_t *registry_packed_refs (registry_packed_t *self);

//  The refs: the first, then the next ones; NULL after the last.
const char *registry_packed_first (registry_packed_t *self);
const char *registry_packed_next (registry_packed_t *self);

#ifdef __cplusplus
}
#endif

#endif
