/*  workflow_chain: an ActionChain definition as a workflow_spec_t. Each
    node is a task whose action is the node's `ref` and whose input is its
    `params` (or `parameters`); `on-success` and `on-failure` are its two
    transitions, each publishing the node's `publish`. The conductor adds
    the node's result to the context under the node's name, as StackStorm's
    runner does, so `{{ node.stdout }}` reads it. The run starts at
    `default`, or at the first node. */
#include "workflow/workflow_internal.h"

#include <stdio.h>
#include <stdlib.h>

static void
s_transition (wf_task_t *task, wf_on_t on, const char *target, json_t *publish, int line)
{
    wf_next_t *next = &task->next[task->next_count++];
    next->on = on;
    next->line = line;
    next->publish = json_incref (publish);
    next->target_count = 1;
    next->targets = (char **)calloc (1, sizeof (char *));
    next->targets[0] = strdup (target ? target : "continue");
}

static void
s_node (workflow_spec_t *spec, wf_task_t *task, json_t *node, registry_yaml_t *doc,
        size_t index, wf_errors_t *errors)
{
    char pointer[64], field[300];
    snprintf (pointer, sizeof pointer, "/chain/%zu", index);
    task->line = registry_yaml_line (doc, pointer);
    json_t *name = json_object_get (node, "name");
    task->name = strdup (json_is_string (name) ? json_string_value (name) : "");
    snprintf (field, sizeof field, "chain.%s", task->name);
    if (!json_is_string (name) || !json_string_length (name))
        wf_errors_add (errors, spec->name, task->line, field, "a node needs a name");
    json_t *ref = json_object_get (node, "ref");
    if (json_is_string (ref) && json_string_length (ref))
        task->action = strdup (json_string_value (ref));
    else
        wf_errors_add (errors, spec->name, task->line, field, "a node needs a ref");
    json_t *params = json_object_get (node, "params");
    if (!params)
        params = json_object_get (node, "parameters");
    if (params && !json_is_object (params))
        wf_errors_add (errors, spec->name, task->line, field,
                       "params: a mapping expected");
    else if (params) {
        task->input = json_incref (params);
        wf_expr_check (spec, params, task->line, field, errors);
    }
    json_t *publish = json_object_get (node, "publish");
    json_t *entries = NULL;
    if (json_is_object (publish)) {
        entries = json_array ();
        const char *key;
        json_t *value;
        json_object_foreach (publish, key, value)
            json_array_append_new (entries, json_pack ("{sO}", key, value));
        wf_expr_check (spec, entries, task->line, field, errors);
    } else if (publish)
        wf_errors_add (errors, spec->name, task->line, field,
                       "publish: a mapping expected");
    json_t *success = json_object_get (node, "on-success");
    json_t *failure = json_object_get (node, "on-failure");
    task->next = (wf_next_t *)calloc (2, sizeof (wf_next_t));
    s_transition (task, WF_ON_SUCCESS, json_string_value (success), entries, task->line);
    if (json_is_string (failure))
        s_transition (task, WF_ON_FAILURE, json_string_value (failure), entries,
                      task->line);
    json_decref (entries);
}

void
wf_chain_parse (workflow_spec_t *spec, json_t *root, registry_yaml_t *doc,
                wf_errors_t *errors)
{
    json_t *chain = json_object_get (root, "chain");
    if (!json_is_array (chain) || json_array_size (chain) == 0) {
        wf_errors_add (errors, spec->name, registry_yaml_line (doc, "/chain"), "chain",
                       "a list of nodes expected");
        return;
    }
    if (json_array_size (chain) > WORKFLOW_MAX_TASKS) {
        wf_errors_add (errors, spec->name, registry_yaml_line (doc, "/chain"), "chain",
                       "%zu nodes, more than %d", json_array_size (chain),
                       WORKFLOW_MAX_TASKS);
        return;
    }
    spec->input = json_array ();
    spec->output = json_array ();
    spec->vars = json_array ();
    json_t *vars = json_object_get (root, "vars");
    if (json_is_object (vars)) {
        const char *key;
        json_t *value;
        json_object_foreach (vars, key, value)
            json_array_append_new (spec->vars, json_pack ("{sO}", key, value));
        wf_expr_check (spec, spec->vars, registry_yaml_line (doc, "/vars"), "vars",
                       errors);
    } else if (vars)
        wf_errors_add (errors, spec->name, registry_yaml_line (doc, "/vars"), "vars",
                       "a mapping expected");
    spec->tasks = (wf_task_t *)calloc (json_array_size (chain), sizeof (wf_task_t));
    size_t i;
    json_t *node;
    json_array_foreach (chain, i, node)
    {
        wf_task_t *task = &spec->tasks[spec->task_count++];
        if (!json_is_object (node)) {
            task->name = strdup ("");
            wf_errors_add (errors, spec->name, task->line, "chain",
                           "node %zu: a mapping expected", i);
            continue;
        }
        s_node (spec, task, node, doc, i, errors);
        for (size_t j = 0; j + 1 < spec->task_count; j++)
            if (streq (spec->tasks[j].name, task->name))
                wf_errors_add (errors, spec->name, task->line, "chain",
                               "node '%s' is defined twice", task->name);
    }
    json_t *start = json_object_get (root, "default");
    const char *first =
        json_is_string (start) ? json_string_value (start) : spec->tasks[0].name;
    if (wf_spec_task (spec, first) < 0)
        wf_errors_add (errors, spec->name, registry_yaml_line (doc, "/default"),
                       "default", "unknown node '%s'", first);
    spec->start = json_pack ("[s]", first);
}
