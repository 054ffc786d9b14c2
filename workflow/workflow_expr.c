/*  workflow_expr: the one place a workflow field is evaluated (text ->
    value), by the template engine: {{ }} and {% %} (Jinja) and <% %>
    (YAQL, TEMPLATE_YAQL); a text that is one expression gives its typed
    value. The engine has the general functions (zip, len, json, str ...);
    this file adds Orquesta's, through the call hook: ctx(), ctx(name),
    result(), item(), item(name), succeeded(), failed(), completed(),
    task_status(name), task(name). The context of an expression is the
    task's variables (so YAQL's $.name and Jinja's {{ name }} read them
    too, as ctx().name does). */
#include "workflow/workflow_internal.h"
#include "template/template.h"

#include <stdio.h>
#include <stdlib.h>

static bool
s_has_expression (const char *text)
{
    return template_has_tags (text, TEMPLATE_YAQL);
}

//  --------------------------------------------------------------------------
//  The functions

static json_t *
s_latest_entry (const wf_scope_t *scope, const char *name)
{
    json_t *sequence = json_object_get (scope->state, "sequence");
    json_t *any = NULL;
    for (size_t i = json_array_size (sequence); i-- > 0;) {
        json_t *entry = json_array_get (sequence, i);
        if (!streq (json_string_value (json_object_get (entry, "task")), name))
            continue;
        if (json_integer_value (json_object_get (entry, "route")) == scope->route)
            return entry;
        if (!any)
            any = entry;
    }
    return any;
}

//  A task's result as task(name).result gives it: a with items task's is
//  {"items": [{"status", "result"}, ...]}, as StackStorm records it.
static json_t *
s_task_result (json_t *entry)
{
    json_t *result = json_object_get (entry, "result");
    json_t *items = json_object_get (entry, "items");
    if (!items)
        return json_incref (result ? result : json_null ());
    json_t *list = json_array ();
    size_t i;
    json_t *slot;
    json_array_foreach (items, i, slot)
    {
        json_t *r = json_object_get (slot, "result");
        if (!r)
            r = json_array_get (result, i);
        json_array_append_new (list, json_pack ("{s:O, s:O}", "status",
                                                json_object_get (slot, "status"),
                                                "result", r ? r : json_null ()));
    }
    return json_pack ("{s:o}", "items", list);
}

static json_t *
s_call_status (const wf_scope_t *scope, const char *function, json_t *const *args,
               size_t count, char **error)
{
    if (streq (function, "task_status") || streq (function, "task")) {
        if (count != 1 || !json_is_string (args[0])) {
            *error = wf_format ("%s(name): one task name expected", function);
            return NULL;
        }
        json_t *entry = s_latest_entry (scope, json_string_value (args[0]));
        if (streq (function, "task_status"))
            return json_string (
                entry ? json_string_value (json_object_get (entry, "status")) : "unset");
        if (!entry) {
            *error =
                wf_format ("task(%s): the task has not run", json_string_value (args[0]));
            return NULL;
        }
        json_t *result = s_task_result (entry);
        return json_pack ("{s:O, s:O, s:O, s:o}", "task_id",
                          json_object_get (entry, "task"), "route",
                          json_object_get (entry, "route"), "status",
                          json_object_get (entry, "status"), "result", result);
    }
    const char *status = scope->status ? scope->status : "";
    bool truth = streq (function, "succeeded") ? streq (status, "succeeded")
                 : streq (function, "failed")
                     ? streq (status, "failed")
                     : (streq (status, "succeeded") || streq (status, "failed") ||
                        streq (status, "canceled"));
    return json_boolean (truth);
}

static json_t *
s_call (void *arg, const char *function, json_t *const *args, size_t count, char **error)
{
    const wf_scope_t *scope = (const wf_scope_t *)arg;
    if (streq (function, "ctx")) {
        if (count == 0)
            return json_deep_copy (scope->vars ? scope->vars : json_object ());
        json_t *v = json_is_string (args[0])
                        ? json_object_get (scope->vars, json_string_value (args[0]))
                        : NULL;
        if (!v)
            *error =
                wf_format ("ctx(%s): the variable is referenced before assignment",
                           json_is_string (args[0]) ? json_string_value (args[0]) : "?");
        return json_incref (v);
    }
    if (streq (function, "result"))
        return json_incref (scope->result ? (json_t *)scope->result : json_null ());
    if (streq (function, "item")) {
        if (!scope->item) {
            *error = wf_format ("item(): not in a with items task");
            return NULL;
        }
        if (count == 0)
            return json_incref ((json_t *)scope->item);
        json_t *v = json_is_string (args[0])
                        ? json_object_get (scope->item, json_string_value (args[0]))
                        : NULL;
        if (!v)
            *error =
                wf_format ("item(%s): the item has no such key",
                           json_is_string (args[0]) ? json_string_value (args[0]) : "?");
        return json_incref (v);
    }
    if (streq (function, "succeeded") || streq (function, "failed") ||
        streq (function, "completed") || streq (function, "task_status") ||
        streq (function, "task"))
        return s_call_status (scope, function, args, count, error);
    if (scope->spec && scope->spec->hooks.call)
        return scope->spec->hooks.call (scope->spec->hooks.arg, function, args, count,
                                        error);
    *error = wf_format ("unknown function %s()", function);
    return NULL;
}

//  --------------------------------------------------------------------------

static json_t *
s_decrypt (void *arg, const json_t *value, char **error)
{
    const wf_scope_t *scope = (const wf_scope_t *)arg;
    return scope->spec->hooks.decrypt_kv (scope->spec->hooks.arg, value, error);
}

static json_t *
s_eval_text (const wf_scope_t *scope, const char *text, const char *field, char **error)
{
    if (!s_has_expression (text))
        return json_string (text);
    char *reason = NULL;
    template_t *template = template_compile_with (field, text, TEMPLATE_YAQL, &reason);
    json_t *value = NULL;
    if (template) {
        template_hooks_t hooks = {NULL, NULL, s_call};
        hooks.arg = (void *)scope;
        if (scope->spec && scope->spec->hooks.decrypt_kv)
            hooks.decrypt_kv = s_decrypt;
        value = template_render (template, scope->vars, &hooks, &reason);
        template_destroy (&template);
    }
    if (!value) {
        *error = wf_format ("%s: %s: %s", field, text, reason ? reason : "out of memory");
        free (reason);
    }
    return value;
}

json_t *
wf_eval (const wf_scope_t *scope, const json_t *value, const char *field, char **error)
{
    if (json_is_string (value))
        return s_eval_text (scope, json_string_value (value), field, error);
    if (json_is_array (value)) {
        json_t *out = json_array ();
        size_t i;
        json_t *v;
        json_array_foreach (value, i, v)
        {
            json_t *r = wf_eval (scope, v, field, error);
            if (!r) {
                json_decref (out);
                return NULL;
            }
            json_array_append_new (out, r);
        }
        return out;
    }
    if (json_is_object (value)) {
        json_t *out = json_object ();
        const char *key;
        json_t *v;
        json_object_foreach ((json_t *)value, key, v)
        {
            json_t *r = wf_eval (scope, v, field, error);
            if (!r) {
                json_decref (out);
                return NULL;
            }
            json_object_set_new (out, key, r);
        }
        return out;
    }
    return json_incref ((json_t *)value);
}

int
wf_eval_bool (const wf_scope_t *scope, const char *text, const char *field, bool *truth,
              char **error)
{
    json_t *text_value = json_string (text);
    json_t *value = wf_eval (scope, text_value, field, error);
    json_decref (text_value);
    if (!value)
        return -1;
    *truth = template_is_true (value);
    json_decref (value);
    return 0;
}

void
wf_expr_check (const workflow_spec_t *spec, const json_t *value, int line,
               const char *field, wf_errors_t *errors)
{
    if (json_is_array (value) || json_is_object (value)) {
        size_t i;
        json_t *v;
        const char *key;
        if (json_is_array (value))
            json_array_foreach (value, i, v) wf_expr_check (spec, v, line, field, errors);
        else
            json_object_foreach ((json_t *)value, key, v)
                wf_expr_check (spec, v, line, field, errors);
        return;
    }
    if (!json_is_string (value) || !s_has_expression (json_string_value (value)))
        return;
    const char *text = json_string_value (value);
    char *reason = NULL;
    template_t *template = template_compile_with (field, text, TEMPLATE_YAQL, &reason);
    if (!template)
        wf_errors_add (errors, spec->name, line, field, "%s: %s", text,
                       reason ? reason : "does not parse");
    template_destroy (&template);
    free (reason);
}
