/*  rules_template: sandboxed parameter templates. See rules_template.h. */
#include "actors/rules/rules_template.h"
#include "template/template.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESULT (1024 * 1024)
#define MAX_DEPTH  32

typedef struct {
    char *message;
    size_t message_size;
    const char *where;
} ctx_t;

static void
s_fail (ctx_t *c, const char *format, ...)
{
    char reason[512];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    if (c->message && c->message_size && *c->where)
        snprintf (c->message, c->message_size, "%s: %s", c->where, reason);
    else if (c->message && c->message_size)
        snprintf (c->message, c->message_size, "%s", reason);
}

//  ---------------------------------------------------------------------------
//  Paths

//  Walk `path` from `node`. Returns a borrowed value or NULL. Sets *syntax
//  when the path is malformed.
static const json_t *
s_walk (const json_t *node, const char *path, bool *syntax)
{
    const char *p = path;
    bool first = true;
    while (*p) {
        if (*p == '[') {
            p++;
            if (*p == '"' || *p == '\'') {
                char quote = *p++;
                const char *start = p;
                while (*p && *p != quote)
                    p++;
                if (*p != quote || p[1] != ']') {
                    *syntax = true;
                    return NULL;
                }
                char key[256];
                size_t len = (size_t)(p - start);
                if (len >= sizeof key) {
                    *syntax = true;
                    return NULL;
                }
                memcpy (key, start, len);
                key[len] = 0;
                node = json_is_object (node) ? json_object_get (node, key) : NULL;
                p += 2;
            } else {
                char *end;
                errno = 0;
                long index = strtol (p, &end, 10);
                if (end == p || *end != ']' || errno) {
                    *syntax = true;
                    return NULL;
                }
                if (!json_is_array (node) || index < 0 ||
                    (size_t)index >= json_array_size (node))
                    node = NULL;
                else
                    node = json_array_get (node, (size_t)index);
                p = end + 1;
            }
        } else {
            if (!first) {
                if (*p != '.') {
                    *syntax = true;
                    return NULL;
                }
                p++;
            }
            const char *start = p;
            while (*p && (isalnum ((unsigned char)*p) || *p == '_' || *p == '-'))
                p++;
            size_t len = (size_t)(p - start);
            if (len == 0 || len >= 256) {
                *syntax = true;
                return NULL;
            }
            char key[256];
            memcpy (key, start, len);
            key[len] = 0;
            node = json_is_object (node) ? json_object_get (node, key) : NULL;
        }
        first = false; //  a missing node stays NULL; keep parsing for syntax
    }
    return node;
}

const json_t *
rules_template_lookup (const json_t *context, const char *path)
{
    bool syntax = false;
    const json_t *value = s_walk (context, path, &syntax);
    if (!value && !syntax && strncmp (path, "trigger.", 8) == 0 &&
        strncmp (path, "trigger.payload", 15) != 0) {
        //  StackStorm spells trigger.payload.X as trigger.X
        const json_t *trigger = json_object_get (context, "trigger");
        const json_t *payload = trigger ? json_object_get (trigger, "payload") : NULL;
        if (payload)
            value = s_walk (payload, path + 8, &syntax);
    }
    return syntax ? NULL : value;
}

//  ---------------------------------------------------------------------------
//  Expressions: the Jinja engine (template/template.h)

//  decrypt_kv: rules_kv (rules_kv.h) has already put the clear value of a
//  `st2kv.X | decrypt_kv` into the context; the filter passes it on.
static json_t *
s_decrypt_kv (void *arg, const json_t *value, char **error)
{
    return json_incref ((json_t *)value);
}

static const template_hooks_t s_hooks = {s_decrypt_kv, NULL};

//  The context with StackStorm's trigger.X spelling of trigger.payload.X:
//  a shallow copy whose trigger also holds the payload's keys (a key of
//  trigger itself wins). New reference.
static json_t *
s_alias (const json_t *context)
{
    json_t *trigger = json_object_get (context, "trigger");
    json_t *payload = json_object_get (trigger, "payload");
    if (!json_is_object (trigger) || !json_is_object (payload))
        return json_incref ((json_t *)context);
    json_t *aliased = json_copy ((json_t *)context);
    json_t *both = json_copy (trigger);
    json_object_update_missing (both, payload);
    json_object_set_new (aliased, "trigger", both);
    return aliased;
}

//  Stringify for a shell word: strings as they are, others compact JSON.
static char *
s_text (const json_t *value)
{
    if (json_is_string (value))
        return strdup (json_string_value (value));
    return json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
}

//  ---------------------------------------------------------------------------
//  Output text

typedef struct {
    char *data;
    size_t used, cap;
} s_buf_t;

//  Append `n` bytes. 0, or -1 (error set) past MAX_RESULT or out of memory.
static int
s_buf_add (ctx_t *c, s_buf_t *b, const char *text, size_t n)
{
    if (b->used + n + 1 > MAX_RESULT) {
        s_fail (c, "rendered text longer than %d bytes", MAX_RESULT);
        return -1;
    }
    if (b->used + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->used + n + 1 > cap)
            cap *= 2;
        char *grown = (char *)realloc (b->data, cap);
        if (!grown) {
            s_fail (c, "out of memory");
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy (b->data + b->used, text, n);
    b->used += n;
    b->data[b->used] = 0;
    return 0;
}

//  Append `text` with every ' written '\'' (the body of a '...' word).
static int
s_buf_add_quoted (ctx_t *c, s_buf_t *b, const char *text)
{
    const char *p = text;
    const char *quote;
    while ((quote = strchr (p, '\''))) {
        if (s_buf_add (c, b, p, (size_t)(quote - p)) || s_buf_add (c, b, "'\\''", 4))
            return -1;
        p = quote + 1;
    }
    return s_buf_add (c, b, p, strlen (p));
}

char *
rules_template_shell_quote (const char *value)
{
    assert (value);
    ctx_t c = {NULL, 0, ""};
    s_buf_t b = {NULL, 0, 0};
    if (s_buf_add (&c, &b, "'", 1) || s_buf_add_quoted (&c, &b, value) ||
        s_buf_add (&c, &b, "'", 1)) {
        free (b.data);
        return NULL;
    }
    return b.data;
}

//  ---------------------------------------------------------------------------
//  Shell commands: where in the author's shell text an expression stands

typedef enum {
    S_SH_PLAIN,   //  outside quotes
    S_SH_SINGLE,  //  inside '...'
    S_SH_DOUBLE,  //  inside "..."
    S_SH_COMMENT, //  after a # that starts a word, up to the line's end
    S_SH_UNSAFE   //  after a construct this scanner does not follow
} s_sh_state_t;

typedef struct {
    s_sh_state_t state;
    bool escaped;    //  a backslash waits for its character
    bool dollar;     //  the last character was an unquoted '$'
    char prev;       //  the last character written (0 at the start)
    const char *why; //  for S_SH_UNSAFE
} s_shell_t;

//  `p` (after a '$') starts ${NAME}: a plain parameter, safe to pass over.
static size_t
s_simple_brace (const char *p, size_t n)
{
    size_t i = 1;
    while (i < n && (isalnum ((unsigned char)p[i]) || p[i] == '_'))
        i++;
    return p[0] == '{' && i > 1 && i < n && p[i] == '}' ? i : 0;
}

//  What follows an unquoted or double-quoted '$': 0, or the number of
//  characters to pass over; sets S_SH_UNSAFE for an expansion that opens a
//  context of its own.
static size_t
s_shell_dollar (s_shell_t *sh, const char *p, size_t n)
{
    size_t skip = n ? s_simple_brace (p, n) : 0;
    if (skip)
        return skip;
    bool plain = sh->state == S_SH_PLAIN;
    if (n && (p[0] == '{' || p[0] == '[' ||
              (p[0] == '(' && (!plain || (n > 1 && p[1] == '('))) ||
              (plain && (p[0] == '\'' || p[0] == '"')))) {
        sh->state = S_SH_UNSAFE;
        sh->why = "after ${...}, $((, $[, $'...', $\"...\" or $( inside \"...\"";
    }
    return 0;
}

//  Follow the author's text `p` (n bytes) through the shell's quoting.
static void
s_shell_scan (s_shell_t *sh, const char *p, size_t n)
{
    for (size_t i = 0; i < n && sh->state != S_SH_UNSAFE; i++) {
        char ch = p[i];
        sh->dollar = false;
        if (sh->escaped)
            sh->escaped = false;
        else if (sh->state == S_SH_SINGLE)
            sh->state = ch == '\'' ? S_SH_PLAIN : S_SH_SINGLE;
        else if (sh->state == S_SH_COMMENT)
            sh->state = ch == '\n' ? S_SH_PLAIN : S_SH_COMMENT;
        else if (ch == '\\')
            sh->escaped = true;
        else if (ch == '`') {
            sh->state = S_SH_UNSAFE;
            sh->why = "after a backquote";
        } else if (ch == '$') {
            size_t skip = s_shell_dollar (sh, p + i + 1, n - i - 1);
            sh->dollar = skip == 0;
            i += skip;
        } else if (sh->state == S_SH_DOUBLE)
            sh->state = ch == '"' ? S_SH_PLAIN : S_SH_DOUBLE;
        else if (ch == '\'' || ch == '"')
            sh->state = ch == '\'' ? S_SH_SINGLE : S_SH_DOUBLE;
        else if (ch == '#' && (!sh->prev || strchr (" \t\n;&|()<>", sh->prev)))
            sh->state = S_SH_COMMENT;
        else if (ch == '<' && sh->prev == '<') {
            sh->state = S_SH_UNSAFE;
            sh->why = "after a here-document (<<)";
        } else if ((ch == '(' || ch == '[') && sh->prev == ch) {
            sh->state = S_SH_UNSAFE; //  bash evaluates a word there as arithmetic
            sh->why = "after (( or [[";
        }
        sh->prev = ch;
    }
}

//  Append `value` where the author's text left the shell (`sh`): as one
//  word with the same bytes for the shell whatever it holds. 0, or -1 with
//  the error set when no quoting can promise that.
static int
s_shell_insert (ctx_t *c, s_shell_t *sh, s_buf_t *b, const char *value)
{
    const char *why = sh->state == S_SH_UNSAFE    ? sh->why
                      : sh->state == S_SH_COMMENT ? "inside a # comment"
                      : sh->state == S_SH_SINGLE  ? NULL
                      : sh->escaped               ? "right after a backslash"
                      : sh->dollar                ? "right after a '$'"
                                                  : NULL;
    if (why) {
        s_fail (c,
                "a value cannot be inserted into a shell command %s "
                "(write the expression outside such a construct)",
                why);
        return -1;
    }
    int rc = 0;
    if (sh->state == S_SH_SINGLE) //  '...{{ x }}...': stays inside the quotes
        rc = s_buf_add_quoted (c, b, value);
    else {
        //  "...{{ x }}...": close the author's quotes, one '...', reopen
        const char *around = sh->state == S_SH_DOUBLE ? "\"" : "";
        rc = s_buf_add (c, b, around, strlen (around)) || s_buf_add (c, b, "'", 1) ||
             s_buf_add_quoted (c, b, value) || s_buf_add (c, b, "'", 1) ||
             s_buf_add (c, b, around, strlen (around));
    }
    sh->prev = '\'';
    return rc ? -1 : 0;
}

//  ---------------------------------------------------------------------------
//  Shell commands rendered by the engine (template_render_emit): the text
//  the engine writes is followed through the shell's quoting as it comes,
//  statements included; each value arrives as one word (s_shell_insert),
//  or, for a bare name of the action's own defaults (`own`) where a word
//  starts, as that default's text rendered the same way.

#define MAX_OWN_DEPTH 8 //  own defaults inserted inside own defaults

typedef struct {
    ctx_t c;             //  errors (no prefix: the engine adds where)
    s_buf_t *b;          //  the command so far
    s_shell_t sh;        //  where the text so far left the shell
    const json_t *scope; //  the context, aliased
    const json_t *own;   //  name -> the action's own default text, or NULL
    json_t *inside;      //  names whose default is being inserted
    int depth;
} s_emit_t;

static int s_emit_text (void *arg, const char *text, size_t n, char **error);
static int s_emit_value (void *arg, const json_t *value, const char *name, char **error);

//  rc as an emitter returns it: -1 with the reason in *error
static int
s_emit_rc (s_emit_t *e, int rc, char **error)
{
    if (rc != 0)
        *error = strdup (*e->c.message ? e->c.message : "out of memory");
    return rc != 0 ? -1 : 0;
}

//  Render `text` (a template, `where` in errors) into e's command. 0, or
//  -1 with e's error set.
static int
s_emit_template (s_emit_t *e, const char *where, const char *text)
{
    char *error = NULL;
    template_t *t = template_compile (where, text, &error);
    template_emit_t emit = {s_emit_text, s_emit_value, e};
    int rc = t ? template_render_emit (t, e->scope, &s_hooks, &emit, &error) : -1;
    if (rc != 0)
        s_fail (&e->c, "%s", error ? error : "out of memory");
    free (error);
    template_destroy (&t);
    return rc;
}

static int
s_emit_text (void *arg, const char *text, size_t n, char **error)
{
    s_emit_t *e = (s_emit_t *)arg;
    s_shell_scan (&e->sh, text, n);
    return s_emit_rc (e, s_buf_add (&e->c, e->b, text, n), error);
}

//  The action's own default `text` of parameter `name` inserted as shell
//  text, itself rendered as a shell command (its values one word each).
static int
s_emit_own (s_emit_t *e, const char *name, const char *text)
{
    if (!strstr (text, "{{") && !strstr (text, "{%")) {
        s_shell_scan (&e->sh, text, strlen (text));
        return s_buf_add (&e->c, e->b, text, strlen (text));
    }
    if (e->depth >= MAX_OWN_DEPTH || json_object_get (e->inside, name)) {
        s_fail (&e->c, "parameter '%s': its default inserts itself", name);
        return -1;
    }
    char where[300];
    snprintf (where, sizeof where, "parameter '%s' default", name);
    s_emit_t inner = *e;
    inner.depth++;
    json_object_set_new (e->inside, name, json_true ());
    int rc = s_emit_template (&inner, where, text);
    json_object_del (e->inside, name);
    e->sh = inner.sh;
    return rc;
}

static int
s_emit_value (void *arg, const json_t *value, const char *name, char **error)
{
    s_emit_t *e = (s_emit_t *)arg;
    const json_t *own = name && e->own ? json_object_get (e->own, name) : NULL;
    bool word = e->sh.state == S_SH_PLAIN && !e->sh.escaped && !e->sh.dollar;
    if (json_is_string (own) && word)
        return s_emit_rc (e, s_emit_own (e, name, json_string_value (own)), error);
    char *text = s_text (value);
    int rc = text ? s_shell_insert (&e->c, &e->sh, e->b, text) : -1;
    if (!text)
        s_fail (&e->c, "out of memory");
    free (text);
    return s_emit_rc (e, rc, error);
}

//  Render `text` as a shell command (rules_template_render_shell_own).
//  New reference or NULL with the error set.
static json_t *
s_render_shell (ctx_t *c, const char *text, const json_t *context, const json_t *own)
{
    if (!strstr (text, "{{") && !strstr (text, "{%"))
        return json_string (text);
    char reason[512] = "";
    s_buf_t b = {NULL, 0, 0};
    s_emit_t e = {{reason, sizeof reason, ""},
                  &b,
                  {S_SH_PLAIN, false, false, 0, NULL},
                  s_alias (context),
                  own,
                  json_object (),
                  0};
    int rc = e.inside && s_buf_add (&e.c, &b, "", 0) == 0 ? 0 : -1;
    if (rc == 0)
        rc = s_emit_template (&e, c->where, text);
    json_t *result = rc == 0 ? json_stringn (b.data, b.used) : NULL;
    if (rc != 0)
        s_fail (c, "%s", *reason ? reason : "out of memory");
    else if (!result)
        s_fail (c, "rendered text is not valid UTF-8");
    free (b.data);
    json_decref ((json_t *)e.scope);
    json_decref (e.inside);
    return result;
}

static json_t *
s_render (ctx_t *c, const json_t *value, const json_t *context, const char *where,
          int depth)
{
    (void)depth; //  the engine's walker (it names the failing string's path)
    json_t *aliased = s_alias (context);
    char *error = NULL;
    json_t *out = template_render_value (where, value, 0, aliased, &s_hooks, &error);
    json_decref (aliased);
    c->where = where;
    if (!out)
        s_fail (c, "%s", error ? error : "out of memory");
    free (error);
    return out;
}

json_t *
rules_template_render (const json_t *value, const json_t *context, const char *where,
                       char *message, size_t message_size)
{
    ctx_t c = {message, message_size, where ? where : "value"};
    json_t *empty = context ? NULL : json_object ();
    json_t *result = s_render (&c, value, context ? context : empty, c.where, 0);
    json_decref (empty);
    return result;
}

json_t *
rules_template_render_shell (const char *text, const json_t *context, const char *where,
                             char *message, size_t message_size)
{
    return rules_template_render_shell_own (text, context, NULL, where, message,
                                            message_size);
}

json_t *
rules_template_render_shell_own (const char *text, const json_t *context,
                                 const json_t *own, const char *where, char *message,
                                 size_t message_size)
{
    assert (text);
    ctx_t c = {message, message_size, where ? where : "value"};
    json_t *empty = context ? NULL : json_object ();
    json_t *result = s_render_shell (&c, text, context ? context : empty, own);
    json_decref (empty);
    return result;
}

//  Syntax-only walk.
static int
s_check (ctx_t *c, const json_t *value, const char *where, int depth)
{
    if (depth > MAX_DEPTH)
        return -1;
    c->where = where;
    if (json_is_string (value)) {
        const char *text = json_string_value (value);
        if (!strstr (text, "{{") && !strstr (text, "{%") && !strstr (text, "{#"))
            return 0;
        char *error = NULL;
        template_t *t = template_compile (where, text, &error);
        if (!t)
            s_fail (c, "%s", error ? error : "out of memory");
        free (error);
        int rc = t ? 0 : -1;
        template_destroy (&t);
        return rc;
    }
    if (json_is_object (value)) {
        const char *key;
        json_t *item;
        json_object_foreach ((json_t *)value, key, item)
        {
            char path[512];
            snprintf (path, sizeof path, "%s.%s", where, key);
            if (s_check (c, item, path, depth + 1))
                return -1;
        }
    } else if (json_is_array (value)) {
        size_t i;
        json_t *item;
        json_array_foreach (value, i, item)
        {
            char path[512];
            snprintf (path, sizeof path, "%s[%zu]", where, i);
            if (s_check (c, item, path, depth + 1))
                return -1;
        }
    }
    return 0;
}

int
rules_template_check (const json_t *value, const char *where, char *message,
                      size_t message_size)
{
    ctx_t c = {message, message_size, where ? where : "value"};
    return s_check (&c, value, c.where, 0);
}
