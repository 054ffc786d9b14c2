/*  template_walk: rendering every string inside a JSON value (action
    parameters, a workflow task's input, publish, output). See template.h. */
#include "template/template_ast.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned flags;
    const json_t *context;
    const template_hooks_t *hooks;
    char **error;
} walk_t;

bool
template_has_tags (const char *text, unsigned flags)
{
    assert (text);
    return strstr (text, "{{") || strstr (text, "{%") || strstr (text, "{#") ||
           ((flags & TEMPLATE_YAQL) && strstr (text, "<%"));
}

static json_t *
s_string (walk_t *w, const char *path, const json_t *value)
{
    const char *text = json_string_value (value);
    if (!template_has_tags (text, w->flags))
        return json_copy ((json_t *)value);
    template_t *template = template_compile_with (path, text, w->flags, w->error);
    json_t *out =
        template ? template_render (template, w->context, w->hooks, w->error) : NULL;
    template_destroy (&template);
    return out;
}

static json_t *s_walk (walk_t *w, const char *path, const json_t *value, int depth);

//  An object's keys and values; keys too with TEMPLATE_YAQL (Orquesta's).
static json_t *
s_object (walk_t *w, const char *path, const json_t *value, int depth)
{
    json_t *out = json_object ();
    const char *key;
    json_t *item;
    json_object_foreach ((json_t *)value, key, item)
    {
        char *at = NULL;
        if (asprintf (&at, "%s.%s", path, key) < 0) {
            *w->error = strdup ("out of memory");
            break;
        }
        json_t *name = json_string (key), *rendered_key = NULL;
        if (name && (w->flags & TEMPLATE_YAQL))
            rendered_key = s_string (w, at, name);
        else
            rendered_key = json_incref (name);
        json_t *rendered = rendered_key ? s_walk (w, at, item, depth + 1) : NULL;
        char *text = NULL;
        if (rendered)
            text = json_is_string (rendered_key)
                       ? strdup (json_string_value (rendered_key))
                       : template_text (rendered_key);
        if (text)
            json_object_set (out, text, rendered);
        else if (rendered && !*w->error)
            *w->error = strdup ("out of memory");
        free (text);
        json_decref (rendered);
        json_decref (rendered_key);
        json_decref (name);
        free (at);
        if (*w->error)
            break;
    }
    if (*w->error)
        json_decref (out);
    return *w->error ? NULL : out;
}

static json_t *
s_walk (walk_t *w, const char *path, const json_t *value, int depth)
{
    if (depth > TEMPLATE_MAX_DEPTH) {
        if (asprintf (w->error, "template '%s': nested deeper than %d levels", path,
                      TEMPLATE_MAX_DEPTH) < 0)
            *w->error = NULL;
        return NULL;
    }
    if (json_is_string (value))
        return s_string (w, path, value);
    if (json_is_object (value))
        return s_object (w, path, value, depth);
    if (!json_is_array (value))
        return json_copy ((json_t *)value);
    json_t *out = json_array ();
    for (size_t i = 0; out && i < json_array_size (value); i++) {
        char *at = NULL;
        json_t *rendered = asprintf (&at, "%s[%zu]", path, i) < 0
                               ? NULL
                               : s_walk (w, at, json_array_get (value, i), depth + 1);
        free (at);
        if (!rendered || json_array_append_new (out, rendered)) {
            json_decref (out);
            out = NULL;
        }
    }
    return out;
}

json_t *
template_render_value (const char *name, const json_t *value, unsigned flags,
                       const json_t *context, const template_hooks_t *hooks, char **error)
{
    assert (value && error);
    *error = NULL;
    walk_t w = {flags, context, hooks, error};
    json_t *out = s_walk (&w, name ? name : "", value, 0);
    if (!out && !*error)
        *error = strdup ("out of memory");
    if (*error)
        json_decref (out);
    return *error ? NULL : out;
}
