/*  registry_yaml: YAML -> JSON with line numbers. See registry_yaml.h. */
#include "actors/registry/registry_yaml.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <czmq.h>
#include <yaml.h>

struct _registry_yaml_t {
    char *origin;
    json_t *root;
    zhashx_t *lines; //  JSON pointer -> line (as an integer in the pointer)
};

//  One open container while parsing.
typedef struct {
    json_t *node;  //  object or array
    char *pointer; //  its JSON pointer
    char *anchor;  //  its anchor, registered when it closes
    char *key;     //  mapping: the key waiting for its value (NULL = expect a key)
    int key_line;  //  line of that key
    int line;      //  line where the container starts
} frame_t;

typedef struct {
    registry_yaml_t *doc;
    zhashx_t *anchors; //  anchor -> json_t (owned)
    frame_t stack[REGISTRY_YAML_MAX_DEPTH + 1];
    int depth;
    size_t nodes;
    char *message;
    size_t message_size;
} parse_t;

static void
s_error (parse_t *p, size_t line, const char *format, ...)
{
    char reason[512];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    if (p->message && p->message_size)
        snprintf (p->message, p->message_size, "%s:%zu: %s", p->doc->origin, line,
                  reason);
}

//  Escape a key for a JSON pointer ("~" -> "~0", "/" -> "~1").
static char *
s_pointer_child (const char *parent, const char *key)
{
    size_t extra = 0;
    for (const char *c = key; *c; c++)
        if (*c == '~' || *c == '/')
            extra++;
    size_t size = strlen (parent) + 1 + strlen (key) + extra + 1;
    char *out = (char *)malloc (size);
    if (!out)
        return NULL;
    char *w = out + sprintf (out, "%s/", parent);
    for (const char *c = key; *c; c++) {
        if (*c == '~') {
            *w++ = '~';
            *w++ = '0';
        } else if (*c == '/') {
            *w++ = '~';
            *w++ = '1';
        } else
            *w++ = *c;
    }
    *w = 0;
    return out;
}

static void
s_line_set (parse_t *p, const char *pointer, size_t line)
{
    zhashx_update (p->doc->lines, pointer, (void *)(uintptr_t)(line + 1));
}

//  ---------------------------------------------------------------------------
//  Scalar resolution (YAML 1.1 as PyYAML reads StackStorm packs)

static bool
s_in (const char *value, const char *const *list)
{
    for (; *list; list++)
        if (streq (value, *list))
            return true;
    return false;
}

static json_t *
s_resolve_plain (const char *value, size_t length)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", "yes", "Yes",
                                        "YES",  "on",   "On",   "ON",  NULL};
    static const char *const falses[] = {"false", "False", "FALSE", "no",  "No",
                                         "NO",    "off",   "Off",   "OFF", NULL};
    if (strlen (value) != length) //  embedded NUL: keep as a string
        return json_stringn (value, length);
    if (s_in (value, nulls))
        return json_null ();
    if (s_in (value, trues))
        return json_true ();
    if (s_in (value, falses))
        return json_false ();

    const char *s = value;
    if (*s == '-' || *s == '+')
        s++;
    if (*s == 0)
        return json_string (value);
    //  Integers: decimal, 0x, 0o
    int base = 10;
    const char *digits = s;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        digits = s + 2;
    } else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
        base = 8;
        digits = s + 2;
    }
    bool all_digits = *digits != 0;
    for (const char *c = digits; *c; c++)
        if (!(base == 16 ? isxdigit ((unsigned char)*c)
                         : (*c >= '0' && *c <= (base == 8 ? '7' : '9'))))
            all_digits = false;
    if (all_digits) {
        errno = 0;
        char *end;
        long long n = strtoll (digits, &end, base);
        if (errno == 0 && *end == 0)
            return json_integer (value[0] == '-' ? -n : n);
        return json_string (value); //  out of range: keep the text
    }
    //  Floats: digits with a '.' and/or an exponent
    bool seen_digit = false, seen_dot = false, seen_exp = false, ok = true;
    for (const char *c = s; *c && ok; c++) {
        if (isdigit ((unsigned char)*c))
            seen_digit = true;
        else if (*c == '.' && !seen_dot && !seen_exp)
            seen_dot = true;
        else if ((*c == 'e' || *c == 'E') && seen_digit && !seen_exp) {
            seen_exp = true;
            if (c[1] == '-' || c[1] == '+')
                c++;
            if (!isdigit ((unsigned char)c[1]))
                ok = false;
        } else
            ok = false;
    }
    if (ok && seen_digit && (seen_dot || seen_exp)) {
        char *end;
        double d = strtod (value, &end);
        if (*end == 0 && d == d && d - d == 0) //  finite
            return json_real (d);
    }
    return json_stringn (value, length);
}

static json_t *
s_resolve_scalar (yaml_event_t *event)
{
    const char *value = (const char *)event->data.scalar.value;
    size_t length = event->data.scalar.length;
    const char *tag = (const char *)event->data.scalar.tag;
    if (tag) {
        if (streq (tag, YAML_STR_TAG))
            return json_stringn (value, length);
        if (streq (tag, YAML_NULL_TAG) || streq (tag, YAML_BOOL_TAG) ||
            streq (tag, YAML_INT_TAG) || streq (tag, YAML_FLOAT_TAG))
            return s_resolve_plain (value, length);
    }
    if (event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn (value, length);
    return s_resolve_plain (value, length);
}

//  ---------------------------------------------------------------------------
//  Building the tree

static size_t
s_count_nodes (json_t *node)
{
    size_t n = 1;
    if (json_is_object (node)) {
        const char *key;
        json_t *value;
        json_object_foreach (node, key, value) n += s_count_nodes (value);
    } else if (json_is_array (node)) {
        size_t i;
        json_t *value;
        json_array_foreach (node, i, value) n += s_count_nodes (value);
    }
    return n;
}

//  Attach a finished node to the current container (or make it the root).
//  Takes the node's reference. Returns 0 or -1 (error set).
static int
s_attach (parse_t *p, json_t *node, size_t line, const char *anchor)
{
    if (!node) {
        s_error (p, line, "out of memory");
        return -1;
    }
    if (anchor) {
        json_t *old = (json_t *)zhashx_lookup (p->anchors, anchor);
        if (old)
            json_decref (old);
        zhashx_update (p->anchors, anchor, json_incref (node));
    }
    if (p->depth == 0) {
        p->doc->root = node;
        s_line_set (p, "", line);
        return 0;
    }
    frame_t *top = &p->stack[p->depth - 1];
    if (json_is_array (top->node)) {
        char index[32];
        snprintf (index, sizeof index, "%zu", json_array_size (top->node));
        char *pointer = s_pointer_child (top->pointer, index);
        if (pointer) {
            s_line_set (p, pointer, line);
            free (pointer);
        }
        json_array_append_new (top->node, node);
        return 0;
    }
    //  Mapping: either this is a key or the value for the pending key
    if (!top->key) {
        if (!json_is_string (node)) {
            json_decref (node);
            s_error (p, line, "%s: mapping keys must be scalars that read as strings",
                     *top->pointer ? top->pointer : "/");
            return -1;
        }
        top->key = strdup (json_string_value (node));
        top->key_line = (int)line;
        json_decref (node);
        if (json_object_get (top->node, top->key)) {
            s_error (p, line, "%s: duplicate key \"%s\"",
                     *top->pointer ? top->pointer : "/", top->key);
            return -1;
        }
        return 0;
    }
    char *pointer = s_pointer_child (top->pointer, top->key);
    if (pointer) {
        s_line_set (p, pointer, (size_t)top->key_line);
        free (pointer);
    }
    json_object_set_new (top->node, top->key, node);
    free (top->key);
    top->key = NULL;
    return 0;
}

//  The pointer a new container at the current position will have.
static char *
s_next_pointer (parse_t *p)
{
    if (p->depth == 0)
        return strdup ("");
    frame_t *top = &p->stack[p->depth - 1];
    if (json_is_array (top->node)) {
        char index[32];
        snprintf (index, sizeof index, "%zu", json_array_size (top->node));
        return s_pointer_child (top->pointer, index);
    }
    return s_pointer_child (top->pointer, top->key ? top->key : "");
}

static int
s_open (parse_t *p, json_t *container, size_t line, const char *anchor)
{
    if (p->depth >= REGISTRY_YAML_MAX_DEPTH) {
        json_decref (container);
        s_error (p, line, "nesting deeper than %d levels", REGISTRY_YAML_MAX_DEPTH);
        return -1;
    }
    if (p->depth > 0) {
        frame_t *top = &p->stack[p->depth - 1];
        if (json_is_object (top->node) && !top->key) {
            json_decref (container);
            s_error (p, line, "%s: mapping keys must be scalars",
                     *top->pointer ? top->pointer : "/");
            return -1;
        }
    }
    frame_t *frame = &p->stack[p->depth];
    memset (frame, 0, sizeof *frame);
    frame->node = container;
    frame->pointer = s_next_pointer (p);
    frame->anchor = anchor ? strdup (anchor) : NULL;
    frame->line = (int)line;
    p->depth++;
    return 0;
}

static int
s_close (parse_t *p)
{
    frame_t *frame = &p->stack[--p->depth];
    json_t *node = frame->node;
    char *anchor = frame->anchor;
    int line = frame->line;
    free (frame->pointer);
    free (frame->key);
    memset (frame, 0, sizeof *frame);
    int rc = s_attach (p, node, (size_t)line, anchor);
    free (anchor);
    return rc;
}

static void
s_anchor_free (void **item)
{
    json_t *node = (json_t *)*item;
    json_decref (node);
    *item = NULL;
}

//  Count one more node. 0, or -1 (error set) past the limit.
static int
s_node_count (parse_t *p, size_t line)
{
    if (++p->nodes > REGISTRY_YAML_MAX_NODES) {
        s_error (p, line, "more than %d nodes", REGISTRY_YAML_MAX_NODES);
        return -1;
    }
    return 0;
}

//  An alias: a copy of the node its anchor named, counted. 0, or -1 (error
//  set).
static int
s_alias (parse_t *p, const char *name, size_t line)
{
    json_t *target = (json_t *)zhashx_lookup (p->anchors, name);
    if (!target) {
        s_error (p, line, "alias *%s names no anchor defined before it", name);
        return -1;
    }
    p->nodes += s_count_nodes (target);
    if (p->nodes > REGISTRY_YAML_MAX_NODES) {
        s_error (p, line, "more than %d nodes (alias expansion)",
                 REGISTRY_YAML_MAX_NODES);
        return -1;
    }
    return s_attach (p, json_deep_copy (target), line, NULL) ? -1 : 0;
}

//  Take one parser event. 0, or -1 (error set); *done once the stream or
//  the first document ends.
static int
s_event (parse_t *p, yaml_event_t *event, bool *done, bool *document_seen)
{
    size_t line = event->start_mark.line + 1;
    switch (event->type) {
        case YAML_STREAM_END_EVENT:
            *done = true;
            return 0;
        case YAML_DOCUMENT_START_EVENT:
            if (*document_seen) //  only the first document counts
                *done = true;
            *document_seen = true;
            return 0;
        case YAML_SCALAR_EVENT:
            if (s_node_count (p, line) ||
                s_attach (p, s_resolve_scalar (event), line,
                          (const char *)event->data.scalar.anchor))
                return -1;
            return 0;
        case YAML_SEQUENCE_START_EVENT:
            if (s_node_count (p, line) ||
                s_open (p, json_array (), line,
                        (const char *)event->data.sequence_start.anchor))
                return -1;
            return 0;
        case YAML_MAPPING_START_EVENT:
            if (s_node_count (p, line) ||
                s_open (p, json_object (), line,
                        (const char *)event->data.mapping_start.anchor))
                return -1;
            return 0;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            return p->depth > 0 && s_close (p) ? -1 : 0;
        case YAML_ALIAS_EVENT:
            return s_alias (p, (const char *)event->data.alias.anchor, line);
        default:
            return 0;
    }
}

//  Free the containers still open (after a failure).
static void
s_unwind (parse_t *p)
{
    while (p->depth > 0) {
        frame_t *frame = &p->stack[--p->depth];
        json_decref (frame->node);
        free (frame->pointer);
        free (frame->anchor);
        free (frame->key);
    }
}

static registry_yaml_t *
s_parse (yaml_parser_t *parser, const char *origin, char *message, size_t message_size)
{
    registry_yaml_t *self = (registry_yaml_t *)zmalloc (sizeof (registry_yaml_t));
    self->origin = strdup (origin ? origin : "<yaml>");
    self->lines = zhashx_new ();
    parse_t p = {.doc = self, .message = message, .message_size = message_size};
    p.anchors = zhashx_new ();
    zhashx_set_destructor (p.anchors, s_anchor_free);

    bool done = false, failed = false, document_seen = false;
    while (!done && !failed) {
        yaml_event_t event;
        if (!yaml_parser_parse (parser, &event)) {
            s_error (&p, parser->problem_mark.line + 1, "YAML syntax error: %s%s%s",
                     parser->problem ? parser->problem : "unknown",
                     parser->context ? " " : "", parser->context ? parser->context : "");
            failed = true;
            break;
        }
        if (s_event (&p, &event, &done, &document_seen))
            failed = true;
        yaml_event_delete (&event);
    }
    s_unwind (&p);
    zhashx_destroy (&p.anchors);
    if (failed) {
        registry_yaml_destroy (&self);
        return NULL;
    }
    if (!self->root)
        self->root = json_null ();
    return self;
}

registry_yaml_t *
registry_yaml_parse (const char *text, size_t size, const char *origin, char *message,
                     size_t message_size)
{
    if (size > REGISTRY_YAML_MAX_SIZE) {
        if (message && message_size)
            snprintf (message, message_size, "%s: larger than %d bytes", origin,
                      REGISTRY_YAML_MAX_SIZE);
        return NULL;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize (&parser)) {
        if (message && message_size)
            snprintf (message, message_size, "%s: out of memory", origin);
        return NULL;
    }
    yaml_parser_set_input_string (&parser, (const unsigned char *)text, size);
    registry_yaml_t *self = s_parse (&parser, origin, message, message_size);
    yaml_parser_delete (&parser);
    return self;
}

char *
registry_yaml_read (const char *path, size_t *size, char *message, size_t message_size)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        if (message && message_size)
            snprintf (message, message_size, "%s: %s", path, strerror (errno));
        return NULL;
    }
    //  A buffer the file's size, not the limit's (a pack of thousands of
    //  definitions reads each one); one byte more tells a file that grew
    //  while it was read
    struct stat info;
    bool sized = fstat (fileno (file), &info) == 0 && info.st_size >= 0 &&
                 (uint64_t)info.st_size <= REGISTRY_YAML_MAX_SIZE;
    size_t room = sized ? (size_t)info.st_size + 1 : REGISTRY_YAML_MAX_SIZE + 1;
    char *text = (char *)malloc (room + 1);
    *size = text ? fread (text, 1, room, file) : 0;
    bool read_error = !text || ferror (file);
    fclose (file);
    const char *why = read_error                       ? "cannot read the file"
                      : *size > REGISTRY_YAML_MAX_SIZE ? "larger than"
                      : *size == room                  ? "changed while it was read"
                                                       : NULL;
    if (why) {
        if (message && message_size && !read_error && *size > REGISTRY_YAML_MAX_SIZE)
            snprintf (message, message_size, "%s: larger than %d bytes", path,
                      REGISTRY_YAML_MAX_SIZE);
        else if (message && message_size)
            snprintf (message, message_size, "%s: %s", path, why);
        free (text);
        return NULL;
    }
    text[*size] = 0;
    return text;
}

registry_yaml_t *
registry_yaml_load (const char *path, char *message, size_t message_size)
{
    size_t size;
    char *text = registry_yaml_read (path, &size, message, message_size);
    registry_yaml_t *self =
        text ? registry_yaml_parse (text, size, path, message, message_size) : NULL;
    free (text);
    return self;
}

void
registry_yaml_destroy (registry_yaml_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        registry_yaml_t *self = *self_p;
        json_decref (self->root);
        zhashx_destroy (&self->lines);
        free (self->origin);
        free (self);
        *self_p = NULL;
    }
}

json_t *
registry_yaml_root (registry_yaml_t *self)
{
    assert (self);
    return self->root;
}

json_t *
registry_yaml_take_root (registry_yaml_t *self)
{
    assert (self);
    json_t *root = self->root;
    self->root = json_null ();
    return root;
}

int
registry_yaml_line (registry_yaml_t *self, const char *pointer)
{
    assert (self);
    char *path = strdup (pointer ? pointer : "");
    if (!path)
        return 0;
    while (true) {
        void *line = zhashx_lookup (self->lines, path);
        if (line) {
            free (path);
            return (int)((uintptr_t)line - 1);
        }
        char *slash = strrchr (path, '/');
        if (!slash)
            break;
        *slash = 0;
    }
    free (path);
    return 0;
}

const char *
registry_yaml_origin (registry_yaml_t *self)
{
    assert (self);
    return self->origin;
}
