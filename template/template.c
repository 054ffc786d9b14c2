/*  template: compiling and rendering (statements, output, the public API).
    See template.h. */
#include "template/template_ast.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _template_t {
    char *name;
    char *text;
    node_t *body;
    const node_t *lone; //  the one N_OUTPUT when the template is one expression
    bool statements;
};

int
template_buf_add (render_t *r, const node_t *at, tbuf_t *b, const char *text, size_t n)
{
    if (b->used + n + 1 > TEMPLATE_MAX_OUTPUT) {
        template_fail (r, at, "output longer than %d bytes", TEMPLATE_MAX_OUTPUT);
        return -1;
    }
    if (b->used + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->used + n + 1)
            cap *= 2;
        char *grown = (char *)realloc (b->data, cap);
        if (!grown) {
            template_fail (r, at, "out of memory");
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

//  Whether `name` is bound by a {% set %} or a loop (a scope), not read
//  from the context
static bool
s_scoped (const render_t *r, const char *name)
{
    for (size_t i = 0; i < r->scope_count; i++)
        if (json_object_get (r->scopes[i], name))
            return true;
    return false;
}

//  Pass one piece to the caller's emitter; its error is set at `at`.
static int
s_emitted (render_t *r, const node_t *at, int rc, char *error)
{
    if (rc != 0)
        template_fail (r, at, "%s", error ? error : "out of memory");
    free (error);
    return rc != 0 ? -1 : 0;
}

static int
s_output (render_t *r, const node_t *node, tbuf_t *out)
{
    json_t *v = template_eval (r, node->kids[0]);
    if (v == r->undefined)
        template_fail_undefined (r, node->kids[0]);
    if (r->emit && v && !r->error) {
        const node_t *e = node->kids[0];
        const char *name = e->type == N_NAME && !s_scoped (r, e->name) ? e->name : NULL;
        char *error = NULL;
        int rc = r->emit->value (r->emit->arg, v, name, &error);
        json_decref (v);
        return s_emitted (r, node, rc, error);
    }
    char *text = v && !r->error ? template_str (v) : NULL;
    json_decref (v);
    if (!text)
        return r->error ? -1 : (template_fail (r, node, "out of memory"), -1);
    int rc = template_buf_add (r, node, out, text, strlen (text));
    free (text);
    return rc;
}

static int
s_if (render_t *r, const node_t *node, tbuf_t *out)
{
    size_t i = 0;
    for (; i + 1 < node->count; i += 2) {
        json_t *v = template_eval (r, node->kids[i]);
        if (v == r->undefined)
            template_fail_undefined (r, node->kids[i]);
        bool truth = v && !r->error && template_truthy (v);
        json_decref (v);
        if (r->error)
            return -1;
        if (truth)
            return template_exec (r, node->kids[i + 1], out);
    }
    return i < node->count ? template_exec (r, node->kids[i], out) : 0;
}

//  Push a scope for one loop turn: the targets and `loop`. 0 or -1.
static int
s_loop_scope (render_t *r, const node_t *node, json_t *item, size_t index, size_t length)
{
    if (r->scope_count >= TEMPLATE_SCOPES) {
        template_fail (r, node, "loops nested deeper than %d", TEMPLATE_SCOPES);
        return -1;
    }
    json_t *scope = json_object ();
    if (node->name2) {
        if (!json_is_array (item) || json_array_size (item) != 2) {
            json_decref (scope);
            template_fail (r, node, "cannot unpack %s into %s, %s",
                           template_type_name (item), node->name, node->name2);
            return -1;
        }
        json_object_set (scope, node->name, json_array_get (item, 0));
        json_object_set (scope, node->name2, json_array_get (item, 1));
    } else
        json_object_set (scope, node->name, item);
    json_object_set_new (
        scope, "loop",
        json_pack ("{sIsIsIsIsbsbsI}", "index", (json_int_t)index + 1, "index0",
                   (json_int_t)index, "revindex", (json_int_t)(length - index),
                   "revindex0", (json_int_t)(length - index - 1), "first", index == 0,
                   "last", index + 1 == length, "length", (json_int_t)length));
    r->scopes[r->scope_count++] = scope;
    return 0;
}

static void
s_pop_scope (render_t *r)
{
    json_decref (r->scopes[--r->scope_count]);
}

static int
s_count_turn (render_t *r, const node_t *node)
{
    if (++r->iterations <= TEMPLATE_MAX_ITERATIONS)
        return 0;
    template_fail (r, node, "more than %d loop iterations or range items",
                   TEMPLATE_MAX_ITERATIONS);
    return -1;
}

//  The items a {% for %} visits: its iterable, filtered by its `if`.
static json_t *
s_for_items (render_t *r, const node_t *node)
{
    json_t *v = template_eval (r, node->kids[0]);
    if (v == r->undefined)
        template_fail_undefined (r, node->kids[0]);
    json_t *items = v && !r->error ? template_items (r, node->kids[0], v) : NULL;
    json_decref (v);
    const node_t *filter = node->kids[2];
    if (!items || !filter)
        return items;
    json_t *kept = json_array ();
    for (size_t i = 0; i < json_array_size (items) && !r->error; i++) {
        json_t *item = json_array_get (items, i);
        if (s_count_turn (r, node) || s_loop_scope (r, node, item, 0, 1))
            break;
        json_t *ok = template_eval (r, filter);
        if (ok == r->undefined)
            template_fail_undefined (r, filter);
        if (ok && !r->error && template_truthy (ok))
            json_array_append (kept, item);
        json_decref (ok);
        s_pop_scope (r);
    }
    json_decref (items);
    if (r->error)
        json_decref (kept);
    return r->error ? NULL : kept;
}

static int
s_for (render_t *r, const node_t *node, tbuf_t *out)
{
    json_t *items = s_for_items (r, node);
    if (!items)
        return -1;
    size_t length = json_array_size (items);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < length; i++) {
        rc = s_count_turn (r, node) ||
             s_loop_scope (r, node, json_array_get (items, i), i, length);
        if (rc == 0) {
            rc = template_exec (r, node->kids[1], out);
            s_pop_scope (r);
        }
    }
    json_decref (items);
    if (rc == 0 && length == 0 && node->kids[3])
        rc = template_exec (r, node->kids[3], out);
    return rc ? -1 : 0;
}

static int
s_set (render_t *r, const node_t *node)
{
    json_t *v = template_eval (r, node->kids[0]);
    if (!v)
        return -1;
    json_object_set_new (r->scopes[r->scope_count - 1], node->name, v);
    return 0;
}

int
template_exec (render_t *r, const node_t *body, tbuf_t *out)
{
    if (++r->depth > 4 * TEMPLATE_MAX_DEPTH) {
        r->depth--;
        template_fail (r, body, "blocks nested too deeply");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < body->count; i++) {
        const node_t *node = body->kids[i];
        char *error = NULL;
        if (node->type == N_TEXT && r->emit)
            rc = s_emitted (r, node,
                            r->emit->text (r->emit->arg, json_string_value (node->value),
                                           json_string_length (node->value), &error),
                            error);
        else if (node->type == N_TEXT)
            rc = template_buf_add (r, node, out, json_string_value (node->value),
                                   json_string_length (node->value));
        else if (node->type == N_OUTPUT)
            rc = s_output (r, node, out);
        else if (node->type == N_IF)
            rc = s_if (r, node, out);
        else if (node->type == N_FOR)
            rc = s_for (r, node, out);
        else if (node->type == N_SET)
            rc = s_set (r, node);
    }
    r->depth--;
    return rc;
}

static bool
s_blank (const node_t *node)
{
    if (node->type != N_TEXT)
        return false;
    for (const char *s = json_string_value (node->value); *s; s++)
        if (!strchr (" \t\r\n", *s))
            return false;
    return true;
}

//  The body's one N_OUTPUT when only blanks surround it.
static const node_t *
s_lone (const node_t *body)
{
    const node_t *lone = NULL;
    for (size_t i = 0; i < body->count; i++) {
        const node_t *node = body->kids[i];
        if (node->type == N_OUTPUT && !lone)
            lone = node;
        else if (!s_blank (node))
            return NULL;
    }
    return lone;
}

static bool
s_has_statements (const node_t *node)
{
    if (node->type == N_IF || node->type == N_FOR || node->type == N_SET)
        return true;
    for (size_t i = 0; node->type == N_BODY && i < node->count; i++)
        if (s_has_statements (node->kids[i]))
            return true;
    return false;
}

template_t *
template_compile (const char *name, const char *text, char **error)
{
    return template_compile_with (name, text, 0, error);
}

template_t *
template_compile_with (const char *name, const char *text, unsigned flags, char **error)
{
    assert (text && error);
    *error = NULL;
    template_t *self = (template_t *)calloc (1, sizeof *self);
    if (!self || !(self->name = strdup (name ? name : "")) ||
        !(self->text = strdup (text))) {
        template_destroy (&self);
        *error = strdup ("out of memory");
        return NULL;
    }
    tk_list_t tokens = {NULL, 0, 0};
    if (template_lex (self->name, text, flags, &tokens, error) == 0)
        self->body = template_parse (self->name, text, &tokens, error);
    template_tokens_free (&tokens);
    if (!self->body || *error) {
        template_destroy (&self);
        return NULL;
    }
    self->lone = s_lone (self->body);
    self->statements = s_has_statements (self->body);
    return self;
}

void
template_destroy (template_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        template_t *self = *self_p;
        template_node_free (&self->body);
        free (self->name);
        free (self->text);
        free (self);
        *self_p = NULL;
    }
}

bool
template_is_expression (const template_t *self)
{
    assert (self);
    return self->lone != NULL;
}

bool
template_has_statements (const template_t *self)
{
    assert (self);
    return self->statements;
}

//  A render's state for `self` with `context`; s_render_done frees it.
static void
s_render_init (render_t *r, template_t *self, const json_t *context,
               const template_hooks_t *hooks, json_t *empty)
{
    *r = (render_t){self->name, self->text, context ? context : empty, hooks};
    r->scopes[r->scope_count++] = json_object ();
    r->undefined = json_object ();
    r->regex = template_regex_cache_new ();
}

//  Free the state; hands its error to *error. 0, or -1 when it failed.
static int
s_render_done (render_t *r, char **error)
{
    *error = r->error;
    for (size_t i = 0; i < r->scope_count; i++)
        json_decref (r->scopes[i]);
    json_decref (r->undefined);
    template_regex_cache_destroy (&r->regex);
    return r->error ? -1 : 0;
}

json_t *
template_render (template_t *self, const json_t *context, const template_hooks_t *hooks,
                 char **error)
{
    assert (self && error);
    *error = NULL;
    json_t *empty = context ? NULL : json_object ();
    render_t r;
    s_render_init (&r, self, context, hooks, empty);
    json_t *result = NULL;
    if (self->lone) {
        result = template_eval (&r, self->lone->kids[0]);
        if (result == r.undefined) {
            template_fail_undefined (&r, self->lone->kids[0]);
            json_decref (result);
            result = NULL;
        }
    } else {
        tbuf_t out = {NULL, 0, 0};
        if (template_buf_add (&r, self->body, &out, "", 0) == 0 &&
            template_exec (&r, self->body, &out) == 0 &&
            !(result = json_stringn (out.data, out.used)))
            template_fail (&r, self->body, "output is not valid UTF-8");
        free (out.data);
    }
    if (!result && !r.error)
        r.error = strdup ("out of memory");
    if (s_render_done (&r, error) != 0) {
        json_decref (result);
        result = NULL;
    }
    json_decref (empty);
    return result;
}

int
template_render_emit (template_t *self, const json_t *context,
                      const template_hooks_t *hooks, const template_emit_t *emit,
                      char **error)
{
    assert (self && emit && emit->text && emit->value && error);
    *error = NULL;
    json_t *empty = context ? NULL : json_object ();
    render_t r;
    s_render_init (&r, self, context, hooks, empty);
    r.emit = emit;
    if (template_exec (&r, self->body, NULL) != 0 && !r.error)
        r.error = strdup ("out of memory");
    int rc = s_render_done (&r, error);
    json_decref (empty);
    return rc;
}

char *
template_render_text (const char *name, const char *text, const json_t *context,
                      const template_hooks_t *hooks, char **error)
{
    template_t *template = template_compile (name, text, error);
    json_t *value = template ? template_render (template, context, hooks, error) : NULL;
    char *result = value ? template_str (value) : NULL;
    if (value && !result)
        *error = strdup ("out of memory");
    json_decref (value);
    template_destroy (&template);
    return result;
}

//  Evaluate `expression` set between `open` and `close`.
static json_t *
s_evaluate (const char *name, const char *expression, const char *open, const char *close,
            unsigned flags, const json_t *context, const template_hooks_t *hooks,
            char **error)
{
    assert (expression && error);
    *error = NULL;
    size_t n = strlen (expression) + 5;
    char *text = (char *)malloc (n);
    if (!text) {
        *error = strdup ("out of memory");
        return NULL;
    }
    snprintf (text, n, "%s%s%s", open, expression, close);
    template_t *template = template_compile_with (name, text, flags, error);
    free (text);
    json_t *value = NULL;
    if (template && !template->lone) {
        node_t *at = template->body->count ? template->body->kids[0] : template->body;
        render_t r = {template->name, template->text, NULL, hooks};
        template_fail (&r, at, "expected one expression");
        *error = r.error;
    } else if (template)
        value = template_render (template, context, hooks, error);
    template_destroy (&template);
    return value;
}

json_t *
template_evaluate (const char *name, const char *expression, const json_t *context,
                   const template_hooks_t *hooks, char **error)
{
    return s_evaluate (name, expression, "{{", "}}", 0, context, hooks, error);
}

json_t *
template_evaluate_yaql (const char *name, const char *expression, const json_t *context,
                        const template_hooks_t *hooks, char **error)
{
    return s_evaluate (name, expression, "<%", "%>", TEMPLATE_YAQL, context, hooks,
                       error);
}

char *
template_text (const json_t *value)
{
    return template_str (value);
}

bool
template_is_true (const json_t *value)
{
    return value && template_truthy (value);
}

//  The names `node` reads (N_NAME) into `read`, those it binds ({% set %},
//  {% for %}) into `bound`.
static void
s_names (const node_t *node, json_t *read, json_t *bound, int depth)
{
    if (!node || depth > TEMPLATE_MAX_DEPTH * 4)
        return;
    if (node->type == N_NAME && node->name)
        json_object_set_new (read, node->name, json_true ());
    if ((node->type == N_FOR || node->type == N_SET) && node->name)
        json_object_set_new (bound, node->name, json_true ());
    if (node->type == N_FOR && node->name2)
        json_object_set_new (bound, node->name2, json_true ());
    for (size_t i = 0; i < node->count; i++)
        s_names (node->kids[i], read, bound, depth + 1);
}

json_t *
template_variables (const template_t *self)
{
    assert (self);
    json_t *read = json_object (), *bound = json_object ();
    json_t *names = json_array ();
    if (read && bound && names) {
        s_names (self->body, read, bound, 0);
        if (json_object_size (bound))
            json_object_set_new (bound, "loop", json_true ());
        const char *name;
        json_t *each;
        json_object_foreach (read, name, each)
        {
            if (!json_object_get (bound, name))
                json_array_append_new (names, json_string (name));
        }
    }
    json_decref (read);
    json_decref (bound);
    return names;
}
