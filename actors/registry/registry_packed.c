/*  registry_packed: definitions kept as msgpack, decoded when read
    (registry_packed.h).
*/
#include "actors/registry/registry_packed.h"
#include "actors/registry/registry_runners.h"
#include "proto/proto_json.h"

#include <czmq.h>
#include <string.h>

typedef struct {
    size_t size;
    unsigned char data[];
} s_buffer_t;

struct _registry_packed_t {
    zhashx_t *table; //  ref -> s_buffer_t
    zlistx_t *walk;  //  the refs first and next walk, copied (NULL: none)
};

static void
s_buffer_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static void *
s_buffer_dup (const void *item)
{
    const s_buffer_t *buffer = (const s_buffer_t *)item;
    s_buffer_t *copy = (s_buffer_t *)malloc (sizeof (s_buffer_t) + buffer->size);
    if (copy)
        memcpy (copy, buffer, sizeof (s_buffer_t) + buffer->size);
    return copy;
}

static registry_packed_t *
s_wrap (zhashx_t *table)
{
    registry_packed_t *self =
        table ? (registry_packed_t *)calloc (1, sizeof (registry_packed_t)) : NULL;
    if (!self) {
        zhashx_destroy (&table);
        return NULL;
    }
    //  No duplicator: a put hands its buffer over, a dup copies by hand
    zhashx_set_destructor (table, s_buffer_destroy);
    self->table = table;
    return self;
}

registry_packed_t *
registry_packed_new (void)
{
    return s_wrap (zhashx_new ());
}

void
registry_packed_destroy (registry_packed_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        registry_packed_t *self = *self_p;
        zhashx_destroy (&self->table);
        zlistx_destroy (&self->walk);
        free (self);
        *self_p = NULL;
    }
}

registry_packed_t *
registry_packed_dup (registry_packed_t *self)
{
    assert (self);
    registry_packed_t *copy = s_wrap (zhashx_new ());
    for (void *item = copy ? zhashx_first (self->table) : NULL; item;
         item = zhashx_next (self->table)) {
        s_buffer_t *buffer = (s_buffer_t *)s_buffer_dup (item);
        if (!buffer || zhashx_insert (copy->table, zhashx_cursor (self->table), buffer)) {
            free (buffer);
            registry_packed_destroy (&copy);
            break;
        }
    }
    return copy;
}

//  The parameters of an action that are its runner's own specs, as the
//  runner table holds them (NULL: none, or not an action)
static const json_t *
s_runner_specs (const json_t *definition)
{
    const json_t *runner = json_object_get (definition, "runner_type");
    return json_is_object (json_object_get (definition, "parameters")) &&
                   json_is_string (runner)
               ? registry_runners_parameters (json_string_value (runner))
               : NULL;
}

//  `definition` as it is packed: a shallow copy whose parameters that are
//  the runner's specs are nil (a new reference), or `definition` itself.
static json_t *
s_with_markers (const json_t *definition)
{
    const json_t *runner = s_runner_specs (definition);
    if (!runner)
        return json_incref ((json_t *)definition);
    json_t *copy = json_copy ((json_t *)definition);
    json_t *parameters = json_copy (json_object_get (definition, "parameters"));
    if (!copy || !parameters) {
        json_decref (copy);
        json_decref (parameters);
        return NULL;
    }
    const char *name;
    json_t *spec;
    json_object_foreach (parameters, name, spec)
    {
        if (spec == json_object_get (runner, name))
            json_object_set_new (parameters, name, json_null ());
    }
    json_object_set_new (copy, "parameters", parameters);
    return copy;
}

int
registry_packed_put (registry_packed_t *self, const char *ref, const json_t *definition)
{
    assert (self);
    assert (ref);
    json_t *marked = s_with_markers (definition);
    msgpack_sbuffer sbuffer;
    msgpack_sbuffer_init (&sbuffer);
    bool packed = marked && proto_json_to_sbuffer (marked, &sbuffer, NULL) == PROTO_OK;
    json_decref (marked);
    s_buffer_t *buffer =
        packed ? (s_buffer_t *)malloc (sizeof (s_buffer_t) + sbuffer.size) : NULL;
    int rc = buffer ? 0 : -1;
    if (buffer) {
        buffer->size = sbuffer.size;
        memcpy (buffer->data, sbuffer.data, sbuffer.size);
        zhashx_update (self->table, ref, buffer); //  the table's now
    }
    msgpack_sbuffer_destroy (&sbuffer);
    return rc;
}

int
registry_packed_delete (registry_packed_t *self, const char *ref)
{
    assert (self);
    if (!zhashx_lookup (self->table, ref))
        return -1;
    zhashx_delete (self->table, ref);
    return 0;
}

bool
registry_packed_has (registry_packed_t *self, const char *ref)
{
    assert (self);
    return zhashx_lookup (self->table, ref) != NULL;
}

size_t
registry_packed_size (registry_packed_t *self)
{
    assert (self);
    return zhashx_size (self->table);
}

json_t *
registry_packed_get (registry_packed_t *self, const char *ref)
{
    assert (self);
    const s_buffer_t *buffer = (const s_buffer_t *)zhashx_lookup (self->table, ref);
    json_t *definition =
        buffer ? proto_json_from_buffer (buffer->data, buffer->size, ref, NULL) : NULL;
    const json_t *runner = s_runner_specs (definition);
    json_t *parameters = json_object_get (definition, "parameters");
    const char *name;
    json_t *spec;
    json_object_foreach (runner ? parameters : NULL, name, spec)
    {
        const json_t *shared = json_object_get (runner, name);
        if (json_is_null (spec) && shared)
            json_object_set (parameters, name, (json_t *)shared);
    }
    return definition;
}

//  The spec of parameter `key` (a msgpack str) in `runner`, or NULL
static const json_t *
s_runner_spec (const json_t *runner, const msgpack_object *key)
{
    return key->type == MSGPACK_OBJECT_STR
               ? json_object_getn (runner, key->via.str.ptr, key->via.str.size)
               : NULL;
}

//  A packed definition (a map) packed again, its nil parameters the runner's
//  specs
static void
s_write_definition (const msgpack_object *root, msgpack_packer *packer)
{
    const msgpack_object *name = proto_map_get (root, "runner_type");
    char runner_type[128] = "";
    if (name && name->type == MSGPACK_OBJECT_STR)
        snprintf (runner_type, sizeof runner_type, "%.*s", (int)name->via.str.size,
                  name->via.str.ptr);
    const json_t *runner = registry_runners_parameters (runner_type);
    msgpack_pack_map (packer, root->via.map.size);
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *field = &root->via.map.ptr[i];
        msgpack_pack_object (packer, field->key);
        bool parameters =
            field->key.type == MSGPACK_OBJECT_STR &&
            field->key.via.str.size == strlen ("parameters") &&
            !memcmp (field->key.via.str.ptr, "parameters", strlen ("parameters"));
        if (!runner || !parameters || field->val.type != MSGPACK_OBJECT_MAP) {
            msgpack_pack_object (packer, field->val);
            continue;
        }
        const msgpack_object_map *specs = &field->val.via.map;
        msgpack_pack_map (packer, specs->size);
        for (uint32_t p = 0; p < specs->size; p++) {
            msgpack_pack_object (packer, specs->ptr[p].key);
            const json_t *shared = specs->ptr[p].val.type == MSGPACK_OBJECT_NIL
                                       ? s_runner_spec (runner, &specs->ptr[p].key)
                                       : NULL;
            if (!shared || proto_json_to_msgpack (shared, packer, NULL) != PROTO_OK)
                msgpack_pack_object (packer, specs->ptr[p].val);
        }
    }
}

int
registry_packed_write (registry_packed_t *self, const char *ref, msgpack_packer *packer)
{
    assert (self);
    const s_buffer_t *buffer = (const s_buffer_t *)zhashx_lookup (self->table, ref);
    if (!buffer)
        return -1;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = msgpack_unpack_next (&unpacked, (const char *)buffer->data, buffer->size,
                                  NULL) == MSGPACK_UNPACK_SUCCESS &&
                     unpacked.data.type == MSGPACK_OBJECT_MAP
                 ? 0
                 : -1;
    if (rc == 0)
        s_write_definition (&unpacked.data, packer);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

bool
registry_packed_same (registry_packed_t *self, registry_packed_t *other, const char *ref)
{
    assert (self);
    assert (other);
    const s_buffer_t *mine = (const s_buffer_t *)zhashx_lookup (self->table, ref);
    const s_buffer_t *theirs = (const s_buffer_t *)zhashx_lookup (other->table, ref);
    return mine && theirs && mine->size == theirs->size &&
           memcmp (mine->data, theirs->data, mine->size) == 0;
}

static int
s_compare_refs (const void *a, const void *b)
{
    return strcmp ((const char *)a, (const char *)b);
}

zlistx_t *
registry_packed_refs (registry_packed_t *self)
{
    assert (self);
    zlistx_t *refs = zhashx_keys (self->table);
    if (refs) {
        zlistx_set_comparator (refs, s_compare_refs);
        zlistx_sort (refs);
    }
    return refs;
}

//  A walk over a copy of the refs: zhashx's own cursor moves on every lookup
//  (and a lookup may rehash the table), so walking the table itself while
//  reading it would not end
const char *
registry_packed_first (registry_packed_t *self)
{
    assert (self);
    zlistx_destroy (&self->walk);
    self->walk = zhashx_keys (self->table);
    return registry_packed_next (self);
}

const char *
registry_packed_next (registry_packed_t *self)
{
    assert (self);
    const char *ref = self->walk ? (const char *)zlistx_next (self->walk) : NULL;
    if (!ref)
        zlistx_destroy (&self->walk); //  the walk's end: its copy goes
    return ref;
}
