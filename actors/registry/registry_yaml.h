/*  registry_yaml: a YAML document (libyaml) as JSON (jansson), with the line
    of every node, so pack definition errors can name the file, the line and
    the field: "packs/core/rules/echo.yaml:7: criteria.trigger.payload.n:
    unknown operator "equal"".

    Plain scalars resolve as PyYAML does for StackStorm packs (YAML 1.1):
    null (~, null, empty), booleans (true/false/yes/no/on/off in any of their
    usual cases), integers (decimal, 0x, 0o), floats; quoted, literal and
    folded scalars are strings. Anchors and aliases work; duplicate keys,
    non-scalar keys, and documents over the limits (1 MiB of text, 64 levels,
    100,000 nodes including alias expansions) are errors.

    Paths are JSON Pointers (RFC 6901): "/criteria/trigger.payload.n",
    "/parameters/message/type", "/items/0".
*/
#ifndef REGISTRY_YAML_H_INCLUDED
#define REGISTRY_YAML_H_INCLUDED

#include <stddef.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define REGISTRY_YAML_MAX_SIZE  (1024 * 1024)
#define REGISTRY_YAML_MAX_DEPTH 64
#define REGISTRY_YAML_MAX_NODES 100000

typedef struct _registry_yaml_t registry_yaml_t;

//  Load and parse a YAML file (its first document). NULL on failure with
//  `message` as "<path>:<line>: <reason>".
registry_yaml_t *registry_yaml_load (const char *path, char *message,
                                     size_t message_size);

//  Read a YAML file's text (NUL-terminated, at most REGISTRY_YAML_MAX_SIZE
//  bytes; the caller frees it), its size in *size. NULL on failure with
//  `message` as "<path>: <reason>".
char *registry_yaml_read (const char *path, size_t *size, char *message,
                          size_t message_size);

//  Parse YAML text; `origin` names it in messages.
registry_yaml_t *registry_yaml_parse (const char *text, size_t size, const char *origin,
                                      char *message, size_t message_size);

void registry_yaml_destroy (registry_yaml_t **self_p);

//  The document as JSON (an empty document is JSON null). Owned by self.
json_t *registry_yaml_root (registry_yaml_t *self);

//  Take the root away from the document (caller owns it).
json_t *registry_yaml_take_root (registry_yaml_t *self);

//  1-based line of the node at `pointer` ("" = the root); for a mapping
//  entry, the line of its key. Falls back to the nearest ancestor that has
//  one; 0 if nothing matches.
int registry_yaml_line (registry_yaml_t *self, const char *pointer);

//  The file name or origin given at load.
const char *registry_yaml_origin (registry_yaml_t *self);

#ifdef __cplusplus
}
#endif

#endif
