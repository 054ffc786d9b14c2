/*  Workflow definitions: Orquesta's fixtures and the examples pack's
    Orquesta workflows and ActionChains parse and validate; bad definitions
    (unknown task, bad expression, cycle with no exit, unreachable task,
    unknown field, over the bounds) give errors with file, line and field. */
#include "tests/testing_workflow.h"

#include <dirent.h>

static char *
s_errors_of (const char *text, const char *runner)
{
    char *error = NULL;
    workflow_spec_t *spec = workflow_spec_parse ("bad.yaml", text, runner, &error);
    cr_assert_null (spec, "the definition loaded:\n%s", text);
    cr_assert (error);
    return error;
}

//  Definitions that must not load, and a part of the error they give.
typedef struct {
    const char *file, *error;
} refused_t;

static const refused_t s_refused[] = {
    //  failure demos: on-failure names a node the chain lacks (StackStorm
    //  refuses them when they run)
    {"echochain_task_failure.yaml", "line 4: chain.c1.on-failure: unknown task 'c4'"},
    {"echochain_top_level_failure.yaml",
     "line 4: chain.c1.on-failure: unknown task 'c4'"},
    {NULL, NULL}};

//  Load every *.yaml in `dir` with `runner`; count them.
static size_t
s_load_dir (const char *dir, const char *runner)
{
    DIR *d = opendir (dir);
    if (!d)
        cr_skip_test ("no %s", dir);
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        size_t n = strlen (e->d_name);
        if (n < 6 || strcmp (e->d_name + n - 5, ".yaml"))
            continue;
        char path[1024];
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        char *error = NULL;
        workflow_spec_t *spec = workflow_spec_load (path, runner, &error);
        const refused_t *r = s_refused;
        while (r->file && strcmp (r->file, e->d_name))
            r++;
        if (r->file)
            cr_expect (!spec && strstr (error, r->error), "%s: %s", path, error);
        else
            cr_expect (spec, "%s", error ? error : path);
        free (error);
        workflow_spec_destroy (&spec);
        count++;
    }
    closedir (d);
    return count;
}

Test (spec, orquesta_fixtures_load)
{
    cr_assert_eq (s_load_dir (WF_FIXTURES, "orquesta"), 42);
}

Test (spec, examples_workflows_load)
{
    cr_assert_geq (s_load_dir (WF_EXAMPLES "/workflows", "orquesta"), 30);
}

Test (spec, examples_chains_load)
{
    cr_assert_geq (s_load_dir (WF_EXAMPLES "/chains", "action-chain"), 21);
}

Test (spec, destroy_twice_is_safe)
{
    workflow_spec_t *spec = wf_load_fixture ("sequential");
    workflow_spec_destroy (&spec);
    cr_assert_null (spec);
    workflow_spec_destroy (&spec);
}

Test (spec, unknown_task_in_do)
{
    char *error = s_errors_of ("version: 1.0\n"
                               "tasks:\n"
                               "  task1:\n"
                               "    action: core.noop\n"
                               "    next:\n"
                               "      - when: <% succeeded() %>\n"
                               "        do: task2, tsak3\n"
                               "  task2:\n"
                               "    action: core.noop\n",
                               "orquesta");
    cr_assert_str_eq (error,
                      "bad.yaml line 7: tasks.task1.next[0].do: unknown task 'tsak3'");
    free (error);
}

Test (spec, unknown_node_in_on_success)
{
    char *error = s_errors_of ("chain:\n"
                               "  - name: a\n"
                               "    ref: core.noop\n"
                               "    on-success: b\n",
                               "action-chain");
    cr_assert_str_eq (error, "bad.yaml line 2: chain.a.on-success: unknown task 'b'");
    free (error);
}

Test (spec, bad_expression_names_line_field_and_expression)
{
    char *error = s_errors_of ("version: 1.0\n"
                               "tasks:\n"
                               "  task1:\n"
                               "    action: core.noop\n"
                               "    next:\n"
                               "      - when: <% succeeded( and %>\n"
                               "        do: task2\n"
                               "  task2:\n"
                               "    action: core.echo message=\"{{ ctx().x + }}\"\n",
                               "orquesta");
    cr_assert (strstr (error,
                       "bad.yaml line 6: tasks.task1.next[0].when: <% succeeded( and "
                       "%>: "),
               "%s", error);
    cr_assert (strstr (error, "bad.yaml line 9: tasks.task2.action: "), "%s", error);
    free (error);
}

Test (spec, cycle_with_no_exit)
{
    char *error = s_errors_of ("version: 1.0\n"
                               "tasks:\n"
                               "  start:\n"
                               "    action: core.noop\n"
                               "    next:\n"
                               "      - do: a\n"
                               "  a:\n"
                               "    action: core.noop\n"
                               "    next:\n"
                               "      - do: b\n"
                               "  b:\n"
                               "    action: core.noop\n"
                               "    next:\n"
                               "      - do: a\n",
                               "orquesta");
    cr_assert (
        strstr (error, "bad.yaml line 7: tasks: task 'a' is in a cycle with no exit"),
        "%s", error);
    cr_assert (
        strstr (error, "bad.yaml line 11: tasks: task 'b' is in a cycle with no exit"),
        "%s", error);
    cr_assert_null (strstr (error, "'start'"), "%s", error);
    free (error);
    //  a cycle a condition can leave is fine (Orquesta's cycle fixtures)
    workflow_spec_destroy ((workflow_spec_t *[]){wf_load_fixture ("cycles")});
}

Test (spec, unreachable_task)
{
    char *error = s_errors_of ("version: 1.0\n"
                               "tasks:\n"
                               "  a:\n"
                               "    action: core.noop\n"
                               "  b:\n"
                               "    action: core.noop\n"
                               "    next:\n"
                               "      - when: <% succeeded() %>\n"
                               "        do: c\n"
                               "  c:\n"
                               "    action: core.noop\n"
                               "    next:\n"
                               "      - when: <% failed() %>\n"
                               "        do: b\n",
                               "orquesta");
    cr_assert (strstr (error, "no start task") || strstr (error, "unreachable"), "%s",
               error);
    free (error);
    error = s_errors_of ("version: 1.0\n"
                         "tasks:\n"
                         "  a:\n"
                         "    action: core.noop\n"
                         "  b:\n"
                         "    action: core.noop\n"
                         "    next:\n"
                         "      - when: <% succeeded() %>\n"
                         "        do: c\n"
                         "  c:\n"
                         "    action: core.noop\n"
                         "    next:\n"
                         "      - when: <% failed() %>\n"
                         "        do: b\n"
                         "  d:\n"
                         "    action: core.noop\n"
                         "    next:\n"
                         "      - do: a\n",
                         "orquesta");
    cr_assert (strstr (error, "bad.yaml line 5: tasks: task 'b' is unreachable"), "%s",
               error);
    cr_assert (strstr (error, "bad.yaml line 10: tasks: task 'c' is unreachable"), "%s",
               error);
    free (error);
}

Test (spec, fields_checked)
{
    char *error = s_errors_of ("version: 1.0\n"
                               "tasks:\n"
                               "  a:\n"
                               "    action: core.noop\n"
                               "    jion: all\n"
                               "    next:\n"
                               "      - when: <% succeeded() %>\n"
                               "        do: b\n"
                               "        publsh: x=1\n"
                               "  b:\n"
                               "    join: sometimes\n"
                               "    with: <% ctx(xs) %>\n",
                               "orquesta");
    cr_assert (strstr (error, "bad.yaml line 3: tasks.a: unknown field 'jion'"), "%s",
               error);
    cr_assert (strstr (error, "bad.yaml line 7: tasks.a.next[0]: unknown field 'publsh'"),
               "%s", error);
    cr_assert (
        strstr (error, "bad.yaml line 11: tasks.b.join: 'all' or a positive count"), "%s",
        error);
    cr_assert (strstr (error, "tasks.b: a with items task needs an action"), "%s", error);
    free (error);
    error = s_errors_of ("tasks: [a, b]\n", "orquesta");
    cr_assert (strstr (error, "bad.yaml line 1: tasks: a mapping of tasks expected"),
               "%s", error);
    free (error);
    error = s_errors_of ("version: 1.0\ntasks:\n  noop:\n    action: core.noop\n",
                         "orquesta");
    cr_assert (strstr (error, "line 3: tasks: 'noop' is an engine command"), "%s", error);
    free (error);
    error = s_errors_of ("a: [\n", "orquesta");
    cr_assert (strstr (error, "bad.yaml"), "%s", error);
    free (error);
    error = s_errors_of ("chain: []\n", "action-chain");
    cr_assert (strstr (error, "chain: a list of nodes expected"), "%s", error);
    free (error);
    error = s_errors_of ("tasks: {a: {action: core.noop}}\n", "mistral-v2");
    cr_assert (strstr (error, "'mistral-v2' is not a workflow runner"), "%s", error);
    free (error);
}

Test (spec, too_many_tasks)
{
    size_t size = (WORKFLOW_MAX_TASKS + 1) * 40 + 64;
    char *text = (char *)malloc (size);
    size_t used = (size_t)snprintf (text, size, "version: 1.0\ntasks:\n");
    for (int i = 0; i <= WORKFLOW_MAX_TASKS; i++)
        used += (size_t)snprintf (text + used, size - used,
                                  "  t%d: {action: core.noop}\n", i);
    char *error = s_errors_of (text, "orquesta");
    cr_assert (strstr (error, "1025 tasks, more than 1024"), "%s", error);
    free (error);
    free (text);
}

Test (spec, too_many_items_fails_the_run)
{
    workflow_spec_t *spec = wf_load_fixture ("with-items");
    json_t *members = json_array ();
    for (int i = 0; i <= WORKFLOW_MAX_ITEMS; i++)
        json_array_append_new (members, json_integer (i));
    json_t *input = json_pack ("{s:o}", "members", members);
    json_t *commands = json_array ();
    char *error = NULL;
    json_t *state = workflow_start (spec, input, commands, &error);
    cr_assert (state);
    cr_assert_str_eq (workflow_status (state), "failed");
    cr_assert_eq (json_array_size (commands), 0);
    char *errors = json_dumps (json_object_get (state, "errors"), JSON_COMPACT);
    cr_assert (strstr (errors, "100001 items, more than 100000"), "%s", errors);
    free (errors);
    json_decref (state);
    json_decref (commands);
    json_decref (input);
    workflow_spec_destroy (&spec);
}

Test (spec, inline_parameters)
{
    char *error = NULL;
    workflow_spec_t *spec = workflow_spec_parse (
        "inline.yaml",
        "version: 1.0\n"
        "tasks:\n"
        "  a:\n"
        "    action: 'core.local cmd=\"echo hi; ls\" n=3 f=1.5 ok=True none=null "
        "list=[1, 2] expr=<% ctx(x) %> text=''it is'' skip=bare'\n",
        "orquesta", &error);
    cr_assert (spec, "%s", error);
    json_t *commands = json_array ();
    json_t *input = json_pack ("{s:s}", "x", "ex");
    json_t *state = workflow_start (spec, input, commands, &error);
    json_t *params = json_object_get (json_array_get (commands, 0), "parameters");
    json_t *want =
        json_loads ("{\"cmd\": \"echo hi; ls\", \"n\": 3, \"f\": 1.5, \"ok\": true,"
                    " \"none\": null, \"list\": [1, 2], \"expr\": \"ex\","
                    " \"text\": \"it is\"}",
                    0, NULL);
    char *got = json_dumps (params, JSON_COMPACT);
    cr_assert (json_equal (params, want), "%s", got);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_array_get (commands, 0), "action")),
        "core.local");
    free (got);
    json_decref (want);
    json_decref (input);
    json_decref (state);
    json_decref (commands);
    workflow_spec_destroy (&spec);
}

Test (spec, input_defaults_and_vars)
{
    char *error = NULL;
    workflow_spec_t *spec =
        workflow_spec_parse ("vars.yaml",
                             "version: 1.0\n"
                             "input:\n"
                             "  - name\n"
                             "  - greeting: hello\n"
                             "vars:\n"
                             "  - text: <% ctx(greeting) %> <% ctx(name) %>\n"
                             "tasks:\n"
                             "  a:\n"
                             "    action: core.noop\n"
                             "output:\n"
                             "  - text: <% ctx(text) %>\n",
                             "orquesta", &error);
    cr_assert (spec, "%s", error);
    wf_drive_t d = {0};
    wf_drive (&d, spec, "{\"name\": \"Ada\"}");
    wf_assert_output (&d, "{\"text\": \"hello Ada\"}");
    wf_drive_free (&d);
}

Test (spec, odd_shapes_are_errors_not_crashes)
{
    const char *docs[] = {
        "42\n",
        "tasks:\n  a:\n    next: x\n",
        "tasks:\n  a:\n    action: core.noop\n    next: [1, [2], {do: [1, 2]}]\n",
        "tasks:\n  a:\n    action: [core.noop]\n    with: 5\n    retry: 3\n",
        "tasks:\n  a:\n    action: core.noop\n    with: {items: 5, concurrency: x}\n",
        "tasks:\n  a:\n    action: core.noop\n    retry: {when: 1, delay: 2}\n",
        "input: 5\nvars: x\noutput: [1]\ntasks:\n  a: {action: core.noop}\n",
        "tasks:\n  a:\n    action: core.noop\n    next:\n      - publish: [1, {a: 1, b: "
        "2}]\n",
        "tasks:\n  a:\n    action: '<% ctx( %>'\n",
        "tasks:\n  a:\n    action: core.noop\n    join: 0\n    delay: '<% 1 + %>'\n",
        "tasks:\n  a:\n    action: core.noop\n    input: {x: '{{ 1 + }}'}\n",
        NULL};
    for (size_t i = 0; docs[i]; i++) {
        char *error = NULL;
        workflow_spec_t *spec =
            workflow_spec_parse ("odd.yaml", docs[i], "orquesta", &error);
        cr_expect_null (spec, "loaded: %s", docs[i]);
        cr_expect (error && strstr (error, "odd.yaml"), "%s -> %s", docs[i], error);
        free (error);
        workflow_spec_destroy (&spec);
    }
    const char *chains[] = {"chain: [1, 2]\n",
                            "chain:\n  - {name: a}\n",
                            "chain:\n  - {ref: x}\n",
                            "chain:\n  - {name: a, ref: b, params: 1, publish: 2}\n",
                            "chain:\n  - {name: a, ref: b}\n  - {name: a, ref: b}\n",
                            "vars: 1\nchain:\n  - {name: a, ref: b}\ndefault: z\n",
                            NULL};
    for (size_t i = 0; chains[i]; i++) {
        char *error = NULL;
        workflow_spec_t *spec =
            workflow_spec_parse ("odd.yaml", chains[i], "action-chain", &error);
        cr_expect_null (spec, "loaded: %s", chains[i]);
        free (error);
        workflow_spec_destroy (&spec);
    }
}

//  Every prefix of Orquesta's fixtures either loads or gives an error; a
//  definition that loads starts with any input.
Test (spec, truncated_fixtures_never_crash)
{
    DIR *d = opendir (WF_FIXTURES);
    if (!d)
        cr_skip_test ("no fixtures");
    struct dirent *e;
    size_t tried = 0;
    while ((e = readdir (d))) {
        if (!strstr (e->d_name, ".yaml"))
            continue;
        char path[1024];
        snprintf (path, sizeof path, "%s/%s", WF_FIXTURES, e->d_name);
        FILE *f = fopen (path, "r");
        char text[8192];
        size_t n = fread (text, 1, sizeof text - 1, f);
        fclose (f);
        for (size_t cut = 0; cut < n; cut += 5) {
            char saved = text[cut];
            text[cut] = 0;
            char *error = NULL;
            workflow_spec_t *spec =
                workflow_spec_parse ("cut.yaml", text, "orquesta", &error);
            if (spec) {
                json_t *commands = json_array ();
                json_t *state = workflow_start (spec, json_null (), commands, &error);
                cr_assert (state);
                json_decref (state);
                json_decref (commands);
            }
            free (error);
            workflow_spec_destroy (&spec);
            text[cut] = saved;
            tried++;
        }
    }
    closedir (d);
    cr_assert_gt (tried, 1000);
}
