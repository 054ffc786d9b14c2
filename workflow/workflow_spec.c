/*  workflow_spec: Orquesta definitions (YAML, read with the registry's
    reader so every node has its line) into workflow_spec_t; the ActionChain
    form is in workflow_chain.c, the graph and its checks in
    workflow_graph.c. See workflow.h. */
#include "workflow/workflow_internal.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
wf_format (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = NULL;
    if (vasprintf (&text, format, args) < 0)
        text = NULL;
    va_end (args);
    return text;
}

void
wf_errors_add (wf_errors_t *errors, const char *name, int line, const char *field,
               const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *what = NULL;
    if (vasprintf (&what, format, args) < 0)
        what = NULL;
    va_end (args);
    char *entry = line > 0 ? wf_format ("%s line %d: %s: %s", name, line, field,
                                        what ? what : "out of memory")
                           : wf_format ("%s: %s: %s", name, field, what ? what : "?");
    free (what);
    if (!entry)
        return;
    char *joined = errors->text ? wf_format ("%s\n%s", errors->text, entry) : entry;
    if (joined != entry)
        free (entry);
    if (joined) {
        free (errors->text);
        errors->text = joined;
    }
    errors->count++;
}

int
wf_spec_task (const workflow_spec_t *spec, const char *name)
{
    //  A hash of the names, built again when tasks were added (lookups run
    //  in the graph's loops: a linear search made a 400-task load quadratic)
    workflow_spec_t *self = (workflow_spec_t *)spec;
    if (self->indexed != self->task_count || !self->index) {
        json_decref (self->index);
        self->index = json_object ();
        for (size_t i = 0; self->index && i < self->task_count; i++)
            if (!json_object_get (self->index, self->tasks[i].name))
                json_object_set_new (self->index, self->tasks[i].name,
                                     json_integer ((json_int_t)i));
        self->indexed = self->task_count;
    }
    json_t *at = self->index ? json_object_get (self->index, name) : NULL;
    if (at)
        return (int)json_integer_value (at);
    for (size_t i = 0; !self->index && i < spec->task_count; i++)
        if (streq (spec->tasks[i].name, name))
            return (int)i; //  out of memory: the slow way
    return -1;
}

bool
wf_is_command (const char *name)
{
    return streq (name, "noop") || streq (name, "fail") || streq (name, "retry") ||
           streq (name, "continue");
}

//  --------------------------------------------------------------------------
//  Inline parameters (`core.echo message="hi" n=2`), as Orquesta reads them:
//  name=value where value is [..], "..", '..', a number, true, false, null
//  or an expression; anything else is skipped.

static size_t
s_match_delimited (const char *s, const char *open, const char *close, bool greedy)
{
    size_t lo = strlen (open);
    if (strncmp (s, open, lo))
        return 0;
    const char *end = NULL;
    if (greedy) {
        for (const char *p = s + lo; (p = strstr (p, close)); p++)
            end = p;
    } else
        end = strstr (s + lo, close);
    return end ? (size_t)(end - s) + strlen (close) : 0;
}

static size_t
s_match_value (const char *s)
{
    size_t n = s_match_delimited (s, "[", "]", true);
    if (!n)
        n = s_match_delimited (s, "\"", "\"", false);
    if (!n)
        n = s_match_delimited (s, "'", "'", false);
    if (!n)
        n = s_match_delimited (s, "<%", "%>", false);
    if (!n)
        n = s_match_delimited (s, "{{", "}}", false);
    if (!n)
        n = s_match_delimited (s, "{%", "%}", false);
    if (n) {
        while (s[n] == ' ' || s[n] == '\t' || s[n] == '\n')
            n++;
        return n;
    }
    size_t i = s[0] == '-' ? 1 : 0;
    size_t digits = i;
    while (isdigit ((unsigned char)s[digits]))
        digits++;
    if (s[digits] == '.' && isdigit ((unsigned char)s[digits + 1])) {
        digits++;
        while (isdigit ((unsigned char)s[digits]))
            digits++;
        return digits;
    }
    if (digits > i)
        return digits;
    if (!strncasecmp (s, "true", 4))
        return 4;
    if (!strncasecmp (s, "false", 5))
        return 5;
    if (!strncmp (s, "null", 4))
        return 4;
    return 0;
}

static json_t *
s_inline_value (const char *s, size_t n)
{
    while (n && isspace ((unsigned char)s[n - 1]))
        n--;
    char *v = strndup (s, n);
    if (!v)
        return NULL;
    bool quoted = n >= 2 && ((v[0] == '"' && strchr (v + 1, '"')) ||
                             (v[0] == '\'' && strchr (v + 1, '\'')));
    char *start = v;
    if (*start == '"' || *start == '\'')
        start++;
    size_t len = strlen (start);
    if (len && (start[len - 1] == '"' || start[len - 1] == '\''))
        start[--len] = 0;
    bool curly = len && start[0] == '{' && start[len - 1] == '}';
    json_t *value = NULL;
    if (!quoted || curly) {
        if (!strcasecmp (start, "true") || !strcasecmp (start, "false"))
            value = json_boolean (!strcasecmp (start, "true"));
        else
            value = json_loads (start, JSON_DECODE_ANY, NULL);
    }
    if (!value)
        value = json_string (start);
    free (v);
    return value;
}

json_t *
wf_inline_params (const char *text)
{
    json_t *params = NULL;
    const char *p = text;
    while (p && *p) {
        if (!(isalnum ((unsigned char)*p) || *p == '_')) {
            p++;
            continue;
        }
        const char *name = p;
        while (isalnum ((unsigned char)*p) || *p == '_')
            p++;
        if (*p != '=')
            continue;
        size_t n = s_match_value (p + 1);
        if (!n) {
            p++;
            continue;
        }
        char *key = strndup (name, (size_t)(p - name));
        if (!params)
            params = json_object ();
        json_object_set_new (params, key, s_inline_value (p + 1, n));
        free (key);
        p += 1 + n;
    }
    return params;
}

//  --------------------------------------------------------------------------
//  Orquesta

typedef struct {
    workflow_spec_t *spec;
    registry_yaml_t *doc;
    wf_errors_t *errors;
} parse_t;

static int s_line (parse_t *p, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static int
s_line (parse_t *p, const char *format, ...)
{
    char pointer[512];
    va_list args;
    va_start (args, format);
    vsnprintf (pointer, sizeof pointer, format, args);
    va_end (args);
    return registry_yaml_line (p->doc, pointer);
}

static bool
s_keys_known (parse_t *p, json_t *object, const char *const *known, int line,
              const char *field)
{
    bool ok = true;
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value)
    {
        size_t i = 0;
        while (known[i] && strcmp (known[i], key))
            i++;
        if (!known[i]) {
            wf_errors_add (p->errors, p->spec->name, line, field, "unknown field '%s'",
                           key);
            ok = false;
        }
    }
    return ok;
}

//  A list of names and {name: value} entries (input, vars, output, publish)
//  as an array of one-key objects, or of [name]/[name, default] for input.
static json_t *
s_entries (parse_t *p, json_t *value, const char *field, bool names, int line)
{
    json_t *out = json_array ();
    if (json_is_object (value)) {
        const char *key;
        json_t *v;
        json_object_foreach (value, key, v)
        {
            json_array_append_new (out, names ? json_pack ("[sO]", key, v)
                                              : json_pack ("{sO}", key, v));
        }
        return out;
    }
    if (!json_is_array (value)) {
        wf_errors_add (p->errors, p->spec->name, line, field,
                       "a list of names and {name: value} entries expected");
        return out;
    }
    size_t i;
    json_t *entry;
    json_array_foreach (value, i, entry)
    {
        if (names && json_is_string (entry))
            json_array_append_new (out, json_pack ("[O]", entry));
        else if (json_is_object (entry) && json_object_size (entry) == 1) {
            const char *key = json_object_iter_key (json_object_iter (entry));
            json_t *v = json_object_get (entry, key);
            json_array_append_new (out, names ? json_pack ("[sO]", key, v)
                                              : json_pack ("{sO}", key, v));
        } else
            wf_errors_add (p->errors, p->spec->name, line, field,
                           "entry %zu: a %s{name: value} expected", i,
                           names ? "name or " : "");
    }
    return out;
}

static void
s_parse_targets (parse_t *p, wf_next_t *next, json_t *value, int line, const char *field)
{
    json_t *list = json_array ();
    if (json_is_string (value)) {
        char *copy = strdup (json_string_value (value));
        char *save = NULL;
        for (char *t = strtok_r (copy, ",", &save); t; t = strtok_r (NULL, ",", &save)) {
            while (isspace ((unsigned char)*t))
                t++;
            size_t n = strlen (t);
            while (n && isspace ((unsigned char)t[n - 1]))
                t[--n] = 0;
            if (n)
                json_array_append_new (list, json_string (t));
        }
        free (copy);
    } else if (json_is_array (value)) {
        size_t i;
        json_t *t;
        json_array_foreach (value, i, t)
        {
            if (json_is_string (t) && json_string_length (t))
                json_array_append (list, t);
            else
                wf_errors_add (p->errors, p->spec->name, line, field,
                               "entry %zu: a task name expected", i);
        }
    } else if (value && !json_is_null (value))
        wf_errors_add (p->errors, p->spec->name, line, field,
                       "a task name, names separated by commas, or a list expected");
    if (json_array_size (list) == 0)
        json_array_append_new (list, json_string ("continue"));
    next->target_count = json_array_size (list);
    next->targets = (char **)calloc (next->target_count, sizeof (char *));
    for (size_t i = 0; i < next->target_count; i++)
        next->targets[i] = strdup (json_string_value (json_array_get (list, i)));
    json_decref (list);
}

static void
s_parse_next (parse_t *p, wf_task_t *task, json_t *value)
{
    char field[300];
    int line = s_line (p, "/tasks/%s/next", task->name);
    snprintf (field, sizeof field, "tasks.%s.next", task->name);
    if (!json_is_array (value)) {
        wf_errors_add (p->errors, p->spec->name, line, field,
                       "a list of transitions expected");
        return;
    }
    task->next = (wf_next_t *)calloc (json_array_size (value) + 1, sizeof (wf_next_t));
    size_t i;
    json_t *entry;
    json_array_foreach (value, i, entry)
    {
        wf_next_t *next = &task->next[task->next_count++];
        line = s_line (p, "/tasks/%s/next/%zu", task->name, i);
        next->line = line;
        snprintf (field, sizeof field, "tasks.%s.next[%zu]", task->name, i);
        if (!json_is_object (entry)) {
            wf_errors_add (p->errors, p->spec->name, line, field,
                           "a transition expected");
            continue;
        }
        static const char *const known[] = {"when", "publish", "do", NULL};
        s_keys_known (p, entry, known, line, field);
        json_t *when = json_object_get (entry, "when");
        char sub[340];
        snprintf (sub, sizeof sub, "%s.when", field);
        if (json_is_string (when)) {
            next->when = strdup (json_string_value (when));
            wf_expr_check (p->spec, when,
                           s_line (p, "/tasks/%s/next/%zu/when", task->name, i), sub,
                           p->errors);
        } else if (when && !json_is_null (when))
            wf_errors_add (p->errors, p->spec->name, line, sub, "an expression expected");
        json_t *publish = json_object_get (entry, "publish");
        snprintf (sub, sizeof sub, "%s.publish", field);
        int pline = s_line (p, "/tasks/%s/next/%zu/publish", task->name, i);
        if (json_is_string (publish)) {
            json_t *params = wf_inline_params (json_string_value (publish));
            publish = params ? params : json_object ();
            next->publish = s_entries (p, publish, sub, false, pline);
            json_decref (publish);
        } else if (publish)
            next->publish = s_entries (p, publish, sub, false, pline);
        if (next->publish)
            wf_expr_check (p->spec, next->publish, pline, sub, p->errors);
        snprintf (sub, sizeof sub, "%s.do", field);
        next->do_line = s_line (p, "/tasks/%s/next/%zu/do", task->name, i);
        s_parse_targets (p, next, json_object_get (entry, "do"), next->do_line, sub);
    }
}

static void
s_parse_with (parse_t *p, wf_task_t *task, json_t *with, int line, const char *field)
{
    json_t *items = with;
    if (json_is_object (with)) {
        static const char *const known[] = {"items", "concurrency", NULL};
        s_keys_known (p, with, known, line, field);
        items = json_object_get (with, "items");
        task->concurrency = json_incref (json_object_get (with, "concurrency"));
    }
    if (!json_is_string (items)) {
        wf_errors_add (p->errors, p->spec->name, line, field,
                       "items: an expression or `x in <%% expression %%>` expected");
        return;
    }
    const char *text = json_string_value (items);
    const char *in = strstr (text, " in ");
    if (in) {
        task->item_keys = json_array ();
        char *keys = strndup (text, (size_t)(in - text));
        char *save = NULL;
        for (char *k = strtok_r (keys, ", \t", &save); k;
             k = strtok_r (NULL, ", \t", &save))
            json_array_append_new (task->item_keys, json_string (k));
        free (keys);
        text = in + 4;
    }
    while (isspace ((unsigned char)*text))
        text++;
    task->items = strdup (text);
    json_t *expr = json_string (task->items);
    wf_expr_check (p->spec, expr, line, field, p->errors);
    json_decref (expr);
    if (task->concurrency)
        wf_expr_check (p->spec, task->concurrency, line, field, p->errors);
}

static void
s_parse_retry (parse_t *p, wf_task_t *task, json_t *retry, int line, const char *field)
{
    static const char *const known[] = {"when", "count", "delay", NULL};
    if (!json_is_object (retry)) {
        wf_errors_add (p->errors, p->spec->name, line, field,
                       "{when, count, delay} expected");
        return;
    }
    s_keys_known (p, retry, known, line, field);
    task->retry = true;
    json_t *when = json_object_get (retry, "when");
    if (json_is_string (when))
        task->retry_when = strdup (json_string_value (when));
    task->retry_count = json_incref (json_object_get (retry, "count"));
    task->retry_delay = json_incref (json_object_get (retry, "delay"));
    if (!task->retry_count)
        wf_errors_add (p->errors, p->spec->name, line, field, "count is required");
    wf_expr_check (p->spec, retry, line, field, p->errors);
}

static void
s_parse_action (parse_t *p, wf_task_t *task, json_t *action, int line, const char *field)
{
    if (!json_is_string (action) || !json_string_length (action)) {
        wf_errors_add (p->errors, p->spec->name, line, field, "an action ref expected");
        return;
    }
    const char *text = json_string_value (action);
    const char *space = strpbrk (text, " \t");
    json_t *params = space ? wf_inline_params (space) : NULL;
    if (params) {
        task->action = strndup (text, (size_t)(space - text));
        json_decref (task->input);
        task->input = params;
    } else
        task->action = strdup (text);
    wf_expr_check (p->spec, action, line, field, p->errors);
}

static void
s_parse_task (parse_t *p, wf_task_t *task, json_t *body)
{
    char field[300];
    snprintf (field, sizeof field, "tasks.%s", task->name);
    if (!json_is_object (body)) {
        if (!json_is_null (body))
            wf_errors_add (p->errors, p->spec->name, task->line, field,
                           "a task expected");
        return;
    }
    static const char *const known[] = {"action", "input", "join", "with",
                                        "retry",  "delay", "next", NULL};
    s_keys_known (p, body, known, task->line, field);
    const char *key;
    json_t *value;
    json_object_foreach (body, key, value)
    {
        char sub[340];
        snprintf (sub, sizeof sub, "%s.%s", field, key);
        int line = s_line (p, "/tasks/%s/%s", task->name, key);
        if (streq (key, "input")) {
            if (!task->input) {
                task->input = json_incref (value);
                wf_expr_check (p->spec, value, line, sub, p->errors);
            }
        } else if (streq (key, "join")) {
            if (json_is_string (value) && streq (json_string_value (value), "all"))
                task->join = -1;
            else if (json_is_integer (value) && json_integer_value (value) > 0 &&
                     json_integer_value (value) <= WORKFLOW_MAX_TASKS)
                task->join = (int)json_integer_value (value);
            else
                wf_errors_add (p->errors, p->spec->name, line, sub,
                               "'all' or a positive count expected");
        } else if (streq (key, "with"))
            s_parse_with (p, task, value, line, sub);
        else if (streq (key, "retry"))
            s_parse_retry (p, task, value, line, sub);
        else if (streq (key, "delay")) {
            task->delay = json_incref (value);
            wf_expr_check (p->spec, value, line, sub, p->errors);
        }
    }
    //  action after input: inline parameters replace `input`, as Orquesta
    json_t *action = json_object_get (body, "action");
    if (action) {
        char sub[340];
        snprintf (sub, sizeof sub, "%s.action", field);
        s_parse_action (p, task, action, s_line (p, "/tasks/%s/action", task->name), sub);
    }
    if (task->items && !task->action)
        wf_errors_add (p->errors, p->spec->name, task->line, field,
                       "a with items task needs an action");
    json_t *next = json_object_get (body, "next");
    if (next)
        s_parse_next (p, task, next);
}

static void
s_parse_orquesta (parse_t *p, json_t *root)
{
    workflow_spec_t *spec = p->spec;
    static const char *const known[] = {"version", "description", "input", "vars",
                                        "tasks",   "output",      NULL};
    s_keys_known (p, root, known, 1, "workflow");
    json_t *description = json_object_get (root, "description");
    if (json_is_string (description))
        spec->description = strdup (json_string_value (description));
    json_t *value = json_object_get (root, "input");
    spec->input =
        value ? s_entries (p, value, "input", true, s_line (p, "/input")) : json_array ();
    value = json_object_get (root, "vars");
    spec->vars =
        value ? s_entries (p, value, "vars", false, s_line (p, "/vars")) : json_array ();
    wf_expr_check (spec, spec->vars, s_line (p, "/vars"), "vars", p->errors);
    value = json_object_get (root, "output");
    spec->output = value ? s_entries (p, value, "output", false, s_line (p, "/output"))
                         : json_array ();
    wf_expr_check (spec, spec->output, s_line (p, "/output"), "output", p->errors);
    json_t *tasks = json_object_get (root, "tasks");
    if (!json_is_object (tasks) || json_object_size (tasks) == 0) {
        wf_errors_add (p->errors, spec->name, s_line (p, "/tasks"), "tasks",
                       "a mapping of tasks expected");
        return;
    }
    if (json_object_size (tasks) > WORKFLOW_MAX_TASKS) {
        wf_errors_add (p->errors, spec->name, s_line (p, "/tasks"), "tasks",
                       "%zu tasks, more than %d", json_object_size (tasks),
                       WORKFLOW_MAX_TASKS);
        return;
    }
    spec->tasks = (wf_task_t *)calloc (json_object_size (tasks), sizeof (wf_task_t));
    const char *name;
    json_object_foreach (tasks, name, value)
    {
        wf_task_t *task = &spec->tasks[spec->task_count++];
        task->name = strdup (name);
        task->line = s_line (p, "/tasks/%s", name);
        if (wf_is_command (name))
            wf_errors_add (p->errors, spec->name, task->line, "tasks",
                           "'%s' is an engine command, not a task name", name);
        s_parse_task (p, task, value);
    }
}

static void
s_task_free (wf_task_t *task)
{
    free (task->name);
    free (task->action);
    json_decref (task->input);
    free (task->items);
    json_decref (task->item_keys);
    json_decref (task->concurrency);
    free (task->retry_when);
    json_decref (task->retry_count);
    json_decref (task->retry_delay);
    json_decref (task->delay);
    for (size_t i = 0; i < task->next_count; i++) {
        free (task->next[i].when);
        json_decref (task->next[i].publish);
        for (size_t j = 0; j < task->next[i].target_count; j++)
            free (task->next[i].targets[j]);
        free (task->next[i].targets);
    }
    free (task->next);
}

void
workflow_spec_set_hooks (workflow_spec_t *spec, const template_hooks_t *hooks)
{
    assert (spec);
    if (hooks)
        spec->hooks = *hooks;
    else
        memset (&spec->hooks, 0, sizeof spec->hooks);
}

void
workflow_spec_destroy (workflow_spec_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        workflow_spec_t *self = *self_p;
        for (size_t i = 0; i < self->task_count; i++)
            s_task_free (&self->tasks[i]);
        free (self->tasks);
        free (self->edges);
        json_decref (self->index);
        json_decref (self->start);
        json_decref (self->input);
        json_decref (self->vars);
        json_decref (self->output);
        free (self->description);
        free (self->name);
        free (self);
        *self_p = NULL;
    }
}

static workflow_spec_t *
s_build (const char *name, registry_yaml_t *doc, const char *runner, char **error)
{
    workflow_spec_t *spec = (workflow_spec_t *)calloc (1, sizeof (workflow_spec_t));
    wf_errors_t errors = {NULL, 0};
    spec->name = strdup (name);
    spec->chain =
        runner && (streq (runner, "action-chain") || streq (runner, "action_chain"));
    parse_t p = {spec, doc, &errors};
    json_t *root = registry_yaml_root (doc);
    if (runner && !spec->chain && !streq (runner, "orquesta"))
        wf_errors_add (&errors, name, 0, "runner", "'%s' is not a workflow runner",
                       runner);
    else if (!json_is_object (root))
        wf_errors_add (&errors, name, 1, "workflow", "a mapping expected");
    else if (spec->chain)
        wf_chain_parse (spec, root, doc, &errors);
    else
        s_parse_orquesta (&p, root);
    if (!errors.count)
        wf_spec_graph (spec, &errors);
    if (errors.count) {
        workflow_spec_destroy (&spec);
        if (error)
            *error = errors.text;
        else
            free (errors.text);
        return NULL;
    }
    return spec;
}

workflow_spec_t *
workflow_spec_parse (const char *name, const char *text, const char *runner, char **error)
{
    char message[512];
    registry_yaml_t *doc =
        registry_yaml_parse (text, strlen (text), name, message, sizeof message);
    if (!doc) {
        if (error)
            *error = strdup (message);
        return NULL;
    }
    workflow_spec_t *spec = s_build (name, doc, runner, error);
    registry_yaml_destroy (&doc);
    return spec;
}

workflow_spec_t *
workflow_spec_load (const char *path, const char *runner, char **error)
{
    char message[512];
    registry_yaml_t *doc = registry_yaml_load (path, message, sizeof message);
    if (!doc) {
        if (error)
            *error = strdup (message);
        return NULL;
    }
    workflow_spec_t *spec = s_build (path, doc, runner, error);
    registry_yaml_destroy (&doc);
    return spec;
}
