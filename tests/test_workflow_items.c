/*  The workflow conductor: with items (concurrency, several lists zipped,
    empty lists, a failed item), retry (the spec and the command), delay,
    task_status() and task(), and ActionChain runs. */
#include "tests/testing_workflow.h"

#define SEQ(...) ((const char *const[]){__VA_ARGS__, NULL})

static workflow_spec_t *
s_parse (const char *text, const char *runner)
{
    char *error = NULL;
    workflow_spec_t *spec = workflow_spec_parse ("inline.yaml", text, runner, &error);
    cr_assert (spec, "%s", error ? error : "?");
    return spec;
}

static const char *
s_param (json_t *command, const char *name)
{
    return json_string_value (
        json_object_get (json_object_get (command, "parameters"), name));
}

Test (items, list_results_in_item_order)
{
    wf_drive_t d = {0};
    const char *results[] = {"\"fee\"", "\"fi\"", "\"fo\"", "\"fum\""};
    for (int i = 0; i < 4; i++)
        d.mocks[d.mock_count++] = (wf_mock_t){"task1", i, NULL, results[i], 0};
    wf_drive (&d, wf_load_fixture ("with-items-transition"), NULL);
    wf_assert_sequence (&d, SEQ ("task1", "task2"));
    wf_assert_status (&d, "succeeded");
    wf_assert_output (&d, "{\"items\": [\"fee\", \"fi\", \"fo\", \"fum\"]}");
    //  four children at once, each with its item rendered
    cr_assert_eq (d.max_batch, 4);
    const char *words[] = {"fee", "fi", "fo", "fum"};
    for (int i = 0; i < 4; i++) {
        json_t *c = json_array_get (d.commands, (size_t)i);
        cr_assert_eq (json_integer_value (json_object_get (c, "item")), i);
        cr_assert_str_eq (s_param (c, "message"), words[i]);
    }
    wf_drive_free (&d);
}

Test (items, a_failed_item_fails_the_task_after_the_others_end)
{
    wf_drive_t d = {0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task1", 2, "failed", NULL, 0};
    wf_drive (&d, wf_load_fixture ("with-items-transition"), NULL);
    wf_assert_sequence (&d, SEQ ("task1"));
    wf_assert_status (&d, "failed");
    json_t *entry = json_array_get (json_object_get (d.state, "sequence"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (entry, "status")), "failed");
    wf_drive_free (&d);
}

Test (items, remediated)
{
    wf_drive_t d = {0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task1", 0, NULL, "\"fee\"", 0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task1", 1, NULL, "\"fi\"", 0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task1", 2, "failed", NULL, 0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task1", 3, NULL, "\"fum\"", 0};
    wf_drive (&d, wf_load_fixture ("with-items-remediate"), NULL);
    wf_assert_sequence (&d, SEQ ("task1", "task2"));
    wf_assert_status (&d, "succeeded");
    wf_assert_output (&d, "{\"items\": [\"fee\", \"fi\", null, \"fum\"]}");
    wf_drive_free (&d);
}

Test (items, parallel_tasks_join)
{
    wf_drive_t d = {0};
    const char *xs[] = {"\"fee\"", "\"fi\"", "\"fo\"", "\"fum\""};
    const char *ys[] = {"\"fie\"", "\"foh\"", "\"fum\""};
    for (int i = 0; i < 4; i++)
        d.mocks[d.mock_count++] = (wf_mock_t){"task1", i, NULL, xs[i], 0};
    for (int i = 0; i < 3; i++)
        d.mocks[d.mock_count++] = (wf_mock_t){"task2", i, NULL, ys[i], 0};
    wf_drive (&d, wf_load_fixture ("with-items-parallel"), NULL);
    wf_assert_sequence (&d, SEQ ("task1", "task2", "task3"));
    wf_assert_output (&d, "{\"t1_items\": [\"fee\", \"fi\", \"fo\", \"fum\"],"
                          " \"t2_items\": [\"fie\", \"foh\", \"fum\"]}");
    wf_drive_free (&d);
    wf_drive_t e = {0};
    e.mocks[e.mock_count++] = (wf_mock_t){"task1", 2, "failed", NULL, 0};
    wf_drive (&e, wf_load_fixture ("with-items-parallel"), NULL);
    wf_assert_sequence (&e, SEQ ("task1", "task2"));
    wf_assert_status (&e, "failed");
    wf_drive_free (&e);
}

Test (items, concurrency_bounds_the_children)
{
    wf_drive_t d = {0};
    wf_drive (&d, wf_load_fixture ("with-items-concurrency"),
              "{\"members\": [\"Lakshmi\", \"Lindsay\", \"Tomaz\", \"Matt\", \"Sean\"]}");
    wf_assert_status (&d, "succeeded");
    cr_assert_eq (d.max_batch, 2);
    cr_assert_eq (json_array_size (d.commands), 5);
    cr_assert_str_eq (s_param (json_array_get (d.commands, 4), "message"),
                      "Sean, resistance is futile!");
    json_t *result = json_object_get (
        json_array_get (json_object_get (d.state, "sequence"), 0), "result");
    cr_assert_eq (json_array_size (result), 5);
    wf_drive_free (&d);
}

Test (items, empty_list_succeeds_with_no_child)
{
    wf_drive_t d = {0};
    wf_drive (&d, wf_load_fixture ("with-items"), "{\"members\": []}");
    wf_assert_status (&d, "succeeded");
    cr_assert_eq (json_array_size (d.commands), 0);
    wf_drive_free (&d);
}

Test (items, not_a_list_fails_naming_the_field)
{
    wf_drive_t d = {0};
    wf_drive (&d, wf_load_fixture ("with-items"), "{\"members\": 7}");
    wf_assert_status (&d, "failed");
    char *errors = json_dumps (json_object_get (d.state, "errors"), JSON_COMPACT);
    cr_assert (strstr (errors, "tasks.task1.with.items") && strstr (errors, "not a list"),
               "%s", errors);
    free (errors);
    wf_drive_free (&d);
}

Test (items, several_lists_zipped)
{
    wf_drive_t d = {0};
    wf_drive (&d,
              s_parse ("version: 1.0\n"
                       "input: [members, messages]\n"
                       "tasks:\n"
                       "  task1:\n"
                       "    with:\n"
                       "      items: member, message in <% zip(ctx(members), "
                       "ctx(messages)) %>\n"
                       "      concurrency: 1\n"
                       "    action: 'core.echo message=\"<% item(member) %>: <% "
                       "item(message) %>\"'\n",
                       "orquesta"),
              "{\"members\": [\"a\", \"b\", \"c\"], \"messages\": [\"x\", \"y\"]}");
    wf_assert_status (&d, "succeeded");
    //  zip() pads the shorter list with null, as Orquesta's
    cr_assert_eq (json_array_size (d.commands), 3);
    cr_assert_eq (d.max_batch, 1);
    cr_assert_str_eq (s_param (json_array_get (d.commands, 0), "message"), "a: x");
    cr_assert_str_eq (s_param (json_array_get (d.commands, 1), "message"), "b: y");
    wf_drive_free (&d);
    //  Orquesta's own multi-items fixtures run too
    wf_drive_t e = {0};
    wf_drive (
        &e, wf_load_fixture ("with-multi-items-concurrency"),
        "{\"members\": [\"a\", \"b\", \"c\"], \"messages\": [\"x\", \"y\", \"z\"]}");
    cr_assert_eq (json_array_size (e.commands), 3);
    cr_assert_eq (e.max_batch, 2);
    //  `<% item(member), item(message) %>`: the pair
    json_t *pair = json_object_get (
        json_object_get (json_array_get (e.commands, 2), "parameters"), "message");
    char *text = json_dumps (pair, JSON_COMPACT);
    cr_assert_str_eq (text, "[\"c\",\"z\"]");
    free (text);
    wf_drive_free (&e);
}

Test (retry, spec_retries_until_the_count)
{
    wf_drive_t d = {0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task1", -1, "failed", NULL, 10};
    wf_drive (&d, wf_load_fixture ("task-retry-spec"), NULL);
    //  one run and three retries, each after the delay, then the failure
    wf_assert_status (&d, "failed");
    cr_assert_eq (json_array_size (d.commands), 4);
    cr_assert_eq (
        json_integer_value (json_object_get (json_array_get (d.commands, 0), "delay")),
        0);
    for (size_t i = 1; i < 4; i++)
        cr_assert_eq (json_integer_value (
                          json_object_get (json_array_get (d.commands, i), "delay")),
                      1);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_array_get (d.commands, 3), "key")),
        "0.3/task1");
    wf_drive_free (&d);
}

Test (retry, spec_stops_on_success)
{
    wf_drive_t d = {0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task1", -1, "failed", NULL, 2};
    wf_drive (&d, wf_load_fixture ("task-retry-spec"), NULL);
    wf_assert_status (&d, "succeeded");
    wf_assert_sequence (&d, SEQ ("task1", "task1", "task1", "task2"));
    wf_drive_free (&d);
}

Test (retry, command)
{
    wf_drive_t d = {0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task1", -1, "failed", NULL, 1};
    wf_drive (&d, wf_load_fixture ("task-retry-command"), NULL);
    wf_assert_sequence (&d, SEQ ("task1", "task1", "task2"));
    wf_assert_status (&d, "succeeded");
    wf_drive_free (&d);
    //  with no `when`, retry on completion: three more runs, then on
    wf_drive_t e = {0};
    wf_drive (&e, wf_load_fixture ("task-retry-command-default-when"), NULL);
    wf_assert_sequence (&e, SEQ ("task1", "task1", "task1", "task1", "task2"));
    wf_assert_status (&e, "succeeded");
    wf_drive_free (&e);
}

Test (tasks, delay_task_status_and_task)
{
    wf_drive_t d = {0};
    d.mocks[d.mock_count++] = (wf_mock_t){"a", -1, NULL, "{\"stdout\": \"hello\"}", 0};
    wf_drive (
        &d,
        s_parse ("version: 1.0\n"
                 "tasks:\n"
                 "  a:\n"
                 "    action: core.noop\n"
                 "    delay: 5\n"
                 "    next:\n"
                 "      - when: <% task_status(a) = 'succeeded' %>\n"
                 "        publish: out=<% task(a).result.stdout %> n=<% len(list(1, 2)) "
                 "+ 1 %>\n"
                 "        do: b\n"
                 "  b:\n"
                 "    action: core.echo message=\"<% ctx(out) %> {{ ctx('n') }}\"\n"
                 "output:\n"
                 "  - out: <% ctx().out %>\n"
                 "  - n: <% ctx(n) %>\n",
                 "orquesta"),
        NULL);
    wf_assert_status (&d, "succeeded");
    cr_assert_eq (
        json_integer_value (json_object_get (json_array_get (d.commands, 0), "delay")),
        5);
    cr_assert_str_eq (s_param (json_array_get (d.commands, 1), "message"), "hello 3");
    wf_assert_output (&d, "{\"out\": \"hello\", \"n\": 3}");
    wf_drive_free (&d);
}

Test (tasks, an_expression_error_fails_naming_task_field_and_expression)
{
    wf_drive_t d = {0};
    wf_drive (&d,
              s_parse ("version: 1.0\n"
                       "tasks:\n"
                       "  a:\n"
                       "    action: core.noop\n"
                       "    next:\n"
                       "      - when: <% ctx(missing) %>\n"
                       "        do: b\n"
                       "  b:\n"
                       "    action: core.noop\n",
                       "orquesta"),
              NULL);
    wf_assert_status (&d, "failed");
    json_t *result = workflow_result (d.state);
    char *text = json_dumps (json_object_get (result, "errors"), JSON_COMPACT);
    cr_assert (strstr (text, "\"task\":\"a\"") && strstr (text, "tasks.a.next[0].when") &&
                   strstr (text, "<% ctx(missing) %>") && strstr (text, "missing"),
               "%s", text);
    free (text);
    json_decref (result);
    wf_drive_free (&d);
}

Test (chain, runs_publishes_and_branches_on_failure)
{
    const char *chain = "vars:\n"
                        "  greeting: hello\n"
                        "chain:\n"
                        "  - name: c1\n"
                        "    ref: core.local\n"
                        "    params:\n"
                        "      cmd: \"echo {{ greeting }} {{ input1 }}\"\n"
                        "    publish:\n"
                        "      said: \"{{ c1.stdout }}\"\n"
                        "    on-success: c2\n"
                        "    on-failure: c4\n"
                        "  - name: c2\n"
                        "    ref: core.local\n"
                        "    parameters:\n"
                        "      cmd: \"echo {{ said }} / {{ c1.stdout }}\"\n"
                        "    on-failure: c4\n"
                        "  - name: c4\n"
                        "    ref: core.local\n"
                        "    params:\n"
                        "      cmd: echo fail c4\n"
                        "default: c1\n";
    wf_drive_t d = {0};
    d.mocks[d.mock_count++] = (wf_mock_t){"c1", -1, NULL, "{\"stdout\": \"hi\"}", 0};
    wf_drive (&d, s_parse (chain, "action-chain"), "{\"input1\": \"there\"}");
    wf_assert_sequence (&d, SEQ ("c1", "c2", "continue"));
    wf_assert_status (&d, "succeeded");
    cr_assert_str_eq (s_param (json_array_get (d.commands, 0), "cmd"),
                      "echo hello there");
    cr_assert_str_eq (s_param (json_array_get (d.commands, 1), "cmd"), "echo hi / hi");
    json_t *result = workflow_result (d.state);
    cr_assert_eq (json_array_size (json_object_get (result, "tasks")), 2);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (result, "published"), "said")),
                      "hi");
    json_decref (result);
    wf_drive_free (&d);
    //  c1 fails: on-failure runs c4; the chain ends with c4's status
    wf_drive_t e = {0};
    e.mocks[e.mock_count++] = (wf_mock_t){"c1", -1, "failed", "{\"stdout\": \"\"}", 0};
    wf_drive (&e, s_parse (chain, "action-chain"), "{\"input1\": \"x\"}");
    wf_assert_status (&e, "succeeded");
    wf_assert_sequence (&e, SEQ ("c1", "c4", "continue"));
    wf_assert_status (&e, "succeeded");
    wf_drive_free (&e);
    //  c2 fails and c4 fails: no handler, the chain fails
    wf_drive_t f = {0};
    f.mocks[f.mock_count++] = (wf_mock_t){"c1", -1, NULL, "{\"stdout\": \"hi\"}", 0};
    f.mocks[f.mock_count++] = (wf_mock_t){"c2", -1, "failed", NULL, 0};
    f.mocks[f.mock_count++] = (wf_mock_t){"c4", -1, "failed", NULL, 0};
    wf_drive (&f, s_parse (chain, "action-chain"), "{\"input1\": \"x\"}");
    wf_assert_sequence (&f, SEQ ("c1", "c2", "c4"));
    wf_assert_status (&f, "failed");
    wf_drive_free (&f);
}

static json_t *
s_st2kv (void *arg, const char *function, json_t *const *args, size_t count, char **error)
{
    if (strcmp (function, "st2kv") || count < 1 || !json_is_string (args[0])) {
        *error = strdup ("no such function");
        return NULL;
    }
    (*(int *)arg)++;
    return json_sprintf ("value of %s", json_string_value (args[0]));
}

Test (tasks, caller_hooks_give_st2kv)
{
    char path[512];
    snprintf (path, sizeof path, "%s/workflows/orquesta-st2kv.yaml", WF_EXAMPLES);
    if (access (path, R_OK))
        cr_skip_test ("no examples");
    char *error = NULL;
    workflow_spec_t *spec = workflow_spec_load (path, "orquesta", &error);
    cr_assert (spec, "%s", error);
    int calls = 0;
    template_hooks_t hooks = {NULL, &calls, s_st2kv};
    workflow_spec_set_hooks (spec, &hooks);
    wf_drive_t d = {0};
    d.mocks[d.mock_count++] = (wf_mock_t){"task1", -1, NULL, "{\"stdout\": \"v\"}", 0};
    wf_drive (&d, spec, "{\"key_name\": \"k1\", \"decrypt\": false}");
    wf_assert_status (&d, "succeeded");
    cr_assert_gt (calls, 0);
    char *text = json_dumps (json_array_get (d.commands, 0), JSON_COMPACT);
    cr_assert (strstr (text, "value of k1"), "%s", text);
    free (text);
    wf_drive_free (&d);
}

//  The examples pack's workflows, every child ending with one result that
//  has what they read (stdout, result, response), end as they should.
Test (examples, run_to_their_end)
{
    static const struct {
        const char *file, *status;
    } cases[] = {{"orquesta-basic", "succeeded"},
                 {"orquesta-sequential", "succeeded"},
                 {"orquesta-delay", "succeeded"},
                 {"orquesta-join", "succeeded"},
                 {"orquesta-with-items", "succeeded"},
                 {"orquesta-with-items-concurrency", "succeeded"},
                 {"orquesta-data-flow", "succeeded"},
                 {"orquesta-mock-create-vm", "succeeded"},
                 {"orquesta-error-handling-continue", "succeeded"},
                 {"orquesta-error-handling-noop", "succeeded"},
                 {"orquesta-output-on-error", "succeeded"},
                 {"orquesta-task-retry", "succeeded"},
                 {"orquesta-rollback-retry", "succeeded"},
                 {"orquesta-ask-basic", "succeeded"},
                 {"orquesta-ask-parallel", "succeeded"},
                 {"orquesta-subworkflow", "succeeded"},
                 {"orquesta-streaming-demo", "succeeded"},
                 {NULL, NULL}};
    for (size_t i = 0; cases[i].file; i++) {
        char path[512];
        snprintf (path, sizeof path, "%s/workflows/%s.yaml", WF_EXAMPLES, cases[i].file);
        if (access (path, R_OK))
            cr_skip_test ("no examples");
        char *error = NULL;
        workflow_spec_t *spec = workflow_spec_load (path, "orquesta", &error);
        cr_assert (spec, "%s", error);
        wf_drive_t d = {0};
        d.mocks[d.mock_count++] =
            (wf_mock_t){"*", -1, NULL,
                        "{\"stdout\": \"out\", \"stderr\": \"\", \"result\": {\"vm_id\": "
                        "\"vm1\"}, \"response\": {\"approved\": true}}",
                        -1};
        wf_drive (
            &d, spec,
            "{\"name\": \"Ada\", \"delay\": 1, \"members\": [\"a\", \"b\", \"c\"]}");
        cr_expect_str_eq (workflow_status (d.state), cases[i].status, "%s: %s",
                          cases[i].file,
                          json_dumps (json_object_get (d.state, "errors"), JSON_COMPACT));
        wf_drive_free (&d);
    }
}

//  A long cycle: contexts are compacted as it turns, values stay right,
//  and a join after it still merges the other branch over ctx0.
Test (tasks, long_cycle_then_join)
{
    wf_drive_t d = {0};
    wf_drive (&d,
              s_parse ("version: 1.0\n"
                       "vars: [{i: 0}, {side: none}, {deep: {a: 1}}]\n"
                       "tasks:\n"
                       "  start:\n"
                       "    action: core.noop\n"
                       "    next: [{do: 'loop, other'}]\n"
                       "  loop:\n"
                       "    action: core.noop\n"
                       "    next:\n"
                       "      - when: <% ctx(i) < 200 %>\n"
                       "        publish: i=<% ctx(i) + 1 %>\n"
                       "        do: loop\n"
                       "      - when: <% ctx(i) >= 200 %>\n"
                       "        do: end\n"
                       "  other:\n"
                       "    action: core.noop\n"
                       "    next:\n"
                       "      - publish:\n"
                       "          - side: set\n"
                       "          - deep: {b: 2}\n"
                       "        do: end\n"
                       "  end:\n"
                       "    join: all\n"
                       "    action: core.noop\n"
                       "output:\n"
                       "  - i: <% ctx(i) %>\n"
                       "  - side: <% ctx(side) %>\n"
                       "  - deep: <% ctx(deep) %>\n",
                       "orquesta"),
              NULL);
    wf_assert_status (&d, "succeeded");
    wf_assert_output (&d,
                      "{\"i\": 200, \"side\": \"set\", \"deep\": {\"a\": 1, \"b\": 2}}");
    json_t *sequence = json_object_get (d.state, "sequence");
    json_t *last = json_array_get (sequence, json_array_size (sequence) - 1);
    cr_assert_leq (json_array_size (json_object_get (last, "ctxs")), 20);
    wf_drive_free (&d);
}
