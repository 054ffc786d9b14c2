/*  test_workflow_engine: the workflow engine actor (actors/workflow) in a
    live attuned: an Orquesta workflow's tasks run as child executions with
    `parent` and `task`, the tree shows (api and CLI, nested workflows
    too), a cancel in the middle ends the workflow cancelled with nothing
    started after it (cascading to a subworkflow), pause waits for the
    running task and resume goes on, a SIGKILL of the daemon while a
    workflow waits for its next task continues it with every task's side
    effect (a line appended to a file) done exactly once, and SIGKILLs at
    random moments of a 400-task run (each once it went on by 20 to 80 tasks)
    never give a task two children.
*/
#include "store/store.h"
#include "tests/testing_workflow_daemon.h"

#define S_ATTUNE ATTUNE_HELPER_DIR "/attune"

TestSuite (workflow_engine, .fini = testing_daemon_stop_all, .timeout = 120);

//  Three tasks: two append their name to the file, the last is a noop.
static const char *s_three =
    "version: 1.0\n"
    "input:\n  - file\n"
    "tasks:\n"
    "  one:\n"
    "    action: core.local\n"
    "    input:\n      cmd: echo one >> <% ctx().file %>\n"
    "    next:\n      - when: <% succeeded() %>\n        do: two\n"
    "  two:\n"
    "    action: core.local\n"
    "    input:\n      cmd: echo two >> <% ctx().file %>\n"
    "    next:\n      - when: <% succeeded() %>\n        do: three\n"
    "  three:\n"
    "    action: core.noop\n";

//  The second task waits long enough to be cancelled.
static const char *s_slow =
    "version: 1.0\n"
    "input:\n  - file\n"
    "tasks:\n"
    "  one:\n"
    "    action: core.local\n"
    "    input:\n      cmd: echo one >> <% ctx().file %>\n"
    "    next:\n      - when: <% succeeded() %>\n        do: two\n"
    "  two:\n"
    "    action: core.local\n"
    "    input:\n      cmd: sleep 30\n      timeout: 60\n"
    "    next:\n      - when: <% completed() %>\n        do: three\n"
    "  three:\n"
    "    action: core.local\n"
    "    input:\n      cmd: echo three >> <% ctx().file %>\n";

//  The child of task `task`, or NULL.
static json_t *
s_child (json_t *children, const char *task)
{
    size_t i;
    json_t *child;
    json_array_foreach (children, i, child)
    {
        const char *its = json_string_value (json_object_get (child, "task"));
        if (its && streq (its, task))
            return child;
    }
    return NULL;
}

Test (workflow_engine, tasks_are_children_with_parent_and_task)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-engine");
    testing_workflow_write (&daemon, "three", s_three);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX];
    snprintf (file, sizeof file, "%s/lines", daemon.root);

    char *id = testing_workflow_run (api, "wf.three", file);
    json_t *record = testing_api_wait_status (api, id, "completed", 30000);
    cr_expect (
        json_is_object (json_object_get (json_object_get (record, "result"), "output")),
        "the result is the workflow's: {output}");
    json_decref (record);
    char *lines = testing_read (file);
    cr_expect_str_eq (lines, "one\ntwo\n", "each task ran once, in order");
    free (lines);

    json_t *children = testing_workflow_children (api, id);
    cr_assert_eq (json_array_size (children), 3);
    const char *tasks[] = {"one", "two", "three"};
    const char *actions[] = {"core.local", "core.local", "core.noop"};
    for (int i = 0; i < 3; i++) {
        json_t *child = s_child (children, tasks[i]);
        cr_assert_not_null (child, "a child of task %s", tasks[i]);
        cr_expect_str_eq (json_string_value (json_object_get (child, "parent")), id);
        cr_expect_str_eq (json_string_value (json_object_get (child, "action")),
                          actions[i]);
        cr_expect_str_eq (json_string_value (json_object_get (child, "status")),
                          "completed");
    }
    //  Newest first: three, two, one
    cr_expect_str_eq (
        json_string_value (json_object_get (json_array_get (children, 0), "task")),
        "three");
    json_decref (children);

    //  api.execution.children says the same; an unknown id is not_found
    json_t *page =
        testing_api_ok (api, "api.execution.children", json_pack ("{s:s}", "id", id));
    cr_expect_eq (json_array_size (json_object_get (page, "items")), 3);
    cr_expect (json_is_null (json_object_get (page, "next")));
    json_decref (page);
    testing_api_fails (api, "api.execution.children",
                       json_pack ("{s:s}", "id", "01890000-0000-7000-8000-000000000000"),
                       "not_found");
    //  A run naming a parent that does not exist is refused
    testing_api_fails (api, "api.execution.run",
                       json_pack ("{s:s, s:s, s:s, s:s}", "action", "core.noop",
                                  "request", "r1", "parent",
                                  "01890000-0000-7000-8000-000000000000", "task", "x"),
                       "not_found");

    //  The CLI shows the tree and lists by parent
    char *out = NULL;
    const char *get[] = {S_ATTUNE, "--api", daemon.api, "execution",
                         "get",    id,      "--tree",   NULL};
    cr_expect_eq (testing_run (get, NULL, &out, NULL, 30000), 0);
    cr_expect (out && strstr (out, "tasks:") &&
                   strstr (out, "one core.local completed") &&
                   strstr (out, "three core.noop completed"),
               "the tree: %s", out);
    free (out);
    const char *list[] = {S_ATTUNE, "--api",    daemon.api, "execution",
                          "list",   "--parent", id,         NULL};
    cr_expect_eq (testing_run (list, NULL, &out, NULL, 30000), 0);
    cr_expect (out && strstr (out, "core.noop") && strstr (out, "core.local"), "%s", out);
    free (out);
    //  A child request sent again (the same request id: through the api, the
    //  envelope's) is the same child
    uint8_t request[PROTO_UUID_SIZE];
    proto_uuid_generate (request);
    json_t *replies[2];
    for (int i = 0; i < 2; i++)
        replies[i] =
            testing_api_call_id (api, "api.execution.run",
                                 json_pack ("{s:s, s:s, s:s}", "action", "core.noop",
                                            "parent", id, "task", "again"),
                                 request);
    cr_expect (json_equal (json_object_get (replies[0], "payload"),
                           json_object_get (replies[1], "payload")),
               "one child per request");
    json_decref (replies[0]);
    json_decref (replies[1]);
    children = testing_workflow_children (api, id);
    cr_expect_eq (json_array_size (children), 4, "listed once");
    json_decref (children);

    //  attune run --wait shows the tasks as they start and end
    char file2[PATH_MAX + 8], param[PATH_MAX + 16], *err = NULL;
    snprintf (file2, sizeof file2, "%s2", file);
    snprintf (param, sizeof param, "file=%s", file2);
    const char *run[] = {S_ATTUNE,   "--api", daemon.api, "run",
                         "wf.three", param,   "--wait",   NULL};
    cr_expect_eq (testing_run (run, NULL, &out, &err, 30000), 0, "%s", err);
    //  (the first may have started before the CLI subscribed)
    cr_expect (err && strstr (err, "task three (core.noop) completed"), "the tasks: %s",
               err);
    free (out);
    free (err);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon); //  a clean stop (sanitizers: no leak)
}

//  The children index as the api lists it: pages, status, bad filters.
Test (workflow_engine, children_list_in_pages)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-pages");
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    json_t *parent = testing_api_ok (api, "api.execution.run",
                                     json_pack ("{s:s}", "action", "core.noop"));
    const char *id = json_string_value (json_object_get (parent, "execution"));
    char made[5][64];
    for (int i = 0; i < 5; i++) {
        char task[16];
        snprintf (task, sizeof task, "t%d", i);
        json_t *child =
            testing_api_ok (api, "api.execution.run",
                            json_pack ("{s:s, s:s, s:s}", "action", "core.noop", "parent",
                                       id, "task", task));
        snprintf (made[i], sizeof made[i], "%s",
                  json_string_value (json_object_get (child, "execution")));
        json_decref (child);
        json_t *record = testing_api_wait_status (api, made[i], "completed", 10000);
        json_decref (record);
    }
    //  Newest first, two by two, each child once
    char before[64] = "";
    int seen = 0;
    do {
        json_t *payload = json_pack ("{s:s, s:i}", "parent", id, "limit", 2);
        if (*before)
            json_object_set_new (payload, "before", json_string (before));
        json_t *page = testing_api_ok (api, "api.execution.list", payload);
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (page, "items"), i, item)
        {
            cr_assert_lt (seen, 5);
            cr_expect_str_eq (json_string_value (json_object_get (item, "id")),
                              made[4 - seen]);
            seen++;
        }
        const char *next = json_string_value (json_object_get (page, "next"));
        snprintf (before, sizeof before, "%s", next ? next : "");
        json_decref (page);
    } while (*before);
    cr_expect_eq (seen, 5);
    //  By status; an unknown parent has none; other filters are refused
    json_t *page =
        testing_api_ok (api, "api.execution.list",
                        json_pack ("{s:s, s:s}", "parent", id, "status", "failed"));
    cr_expect_eq (json_array_size (json_object_get (page, "items")), 0);
    json_decref (page);
    page = testing_api_ok (api, "api.execution.list",
                           json_pack ("{s:s}", "parent", made[0]));
    cr_expect_eq (json_array_size (json_object_get (page, "items")), 0);
    json_decref (page);
    testing_api_fails (api, "api.execution.list",
                       json_pack ("{s:s, s:s}", "parent", id, "action", "core.noop"),
                       "bad_request");
    testing_api_fails (api, "api.execution.run",
                       json_pack ("{s:s, s:s}", "action", "core.noop", "task", "orphan"),
                       "bad_request");
    json_decref (parent);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon); //  a clean stop (sanitizers: no leak)
}

Test (workflow_engine, cancel_in_the_middle_ends_cancelled)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-cancel");
    testing_workflow_write (&daemon, "slow", s_slow);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX];
    snprintf (file, sizeof file, "%s/lines", daemon.root);

    char *id = testing_workflow_run (api, "wf.slow", file);
    //  Task two runs (its sleep)
    json_t *two = NULL;
    int64_t deadline = zclock_mono () + 30000;
    while (!two && zclock_mono () < deadline) {
        json_t *children = testing_workflow_children (api, id);
        json_t *child = s_child (children, "two");
        const char *status = json_string_value (json_object_get (child, "status"));
        if (status && streq (status, "running"))
            two = json_incref (child);
        json_decref (children);
        if (!two)
            zclock_sleep (50);
    }
    cr_assert_not_null (two, "task two runs");
    json_t *answer =
        testing_api_ok (api, "api.execution.cancel", json_pack ("{s:s}", "id", id));
    json_decref (answer);
    json_t *record = testing_api_wait_status (api, id, "cancelled", 30000);
    json_decref (record);
    json_t *ended = testing_api_ok (
        api, "api.execution.get",
        json_pack ("{s:s}", "id", json_string_value (json_object_get (two, "id"))));
    cr_expect_str_eq (json_string_value (json_object_get (ended, "status")), "cancelled",
                      "the running task was cancelled");
    json_decref (ended);
    json_decref (two);
    zclock_sleep (500); //  nothing more starts
    json_t *children = testing_workflow_children (api, id);
    cr_expect_eq (json_array_size (children), 2, "task three never started");
    cr_expect_null (s_child (children, "three"));
    json_decref (children);
    char *lines = testing_read (file);
    cr_expect_str_eq (lines, "one\n");
    free (lines);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon); //  a clean stop (sanitizers: no leak)
}

//  The first task takes a moment: long enough to pause the workflow.
static const char *s_pausable =
    "version: 1.0\n"
    "input:\n  - file\n"
    "tasks:\n"
    "  one:\n"
    "    action: core.local\n"
    "    input:\n      cmd: sleep 1; echo one >> <% ctx().file %>\n"
    "    next:\n      - when: <% succeeded() %>\n        do: two\n"
    "  two:\n"
    "    action: core.local\n"
    "    input:\n      cmd: echo two >> <% ctx().file %>\n";

//  Wait until task `task` of workflow `id` has a child in `status`.
static void
s_wait_child (zsock_t *api, const char *id, const char *task, const char *status)
{
    int64_t deadline = zclock_mono () + 30000;
    while (true) {
        json_t *children = testing_workflow_children (api, id);
        const char *now =
            json_string_value (json_object_get (s_child (children, task), "status"));
        bool there = now && streq (now, status);
        json_decref (children);
        if (there)
            return;
        cr_assert_lt (zclock_mono (), deadline, "task %s is not %s", task, status);
        zclock_sleep (50);
    }
}

Test (workflow_engine, pause_waits_for_running_tasks_then_resume_goes_on)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-pause");
    testing_workflow_write (&daemon, "pausable", s_pausable);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX];
    snprintf (file, sizeof file, "%s/lines", daemon.root);
    char *id = testing_workflow_run (api, "wf.pausable", file);
    s_wait_child (api, id, "one", "running");

    json_t *answer =
        testing_api_ok (api, "api.execution.pause", json_pack ("{s:s}", "id", id));
    cr_expect_str_eq (json_string_value (json_object_get (answer, "status")), "pausing");
    json_decref (answer);
    //  Task one finishes; then the workflow is paused and two does not start
    json_t *record = testing_api_wait_status (api, id, "paused", 30000);
    json_decref (record);
    zclock_sleep (500);
    json_t *children = testing_workflow_children (api, id);
    cr_expect_eq (json_array_size (children), 1, "nothing started while paused");
    json_decref (children);
    //  Paused twice is a conflict; a plain action does not pause
    testing_api_fails (api, "api.execution.pause", json_pack ("{s:s}", "id", id),
                       "conflict");
    json_t *noop = testing_api_ok (api, "api.execution.run",
                                   json_pack ("{s:s}", "action", "core.noop"));
    testing_api_fails (api, "api.execution.pause",
                       json_pack ("{s:O}", "id", json_object_get (noop, "execution")),
                       "invalid");
    json_decref (noop);

    answer = testing_api_ok (api, "api.execution.resume", json_pack ("{s:s}", "id", id));
    cr_expect_str_eq (json_string_value (json_object_get (answer, "status")), "resuming");
    json_decref (answer);
    record = testing_api_wait_status (api, id, "completed", 30000);
    json_decref (record);
    char *lines = testing_read (file);
    cr_expect_str_eq (lines, "one\ntwo\n");
    free (lines);
    //  Resuming what ended is a conflict
    testing_api_fails (api, "api.execution.resume", json_pack ("{s:s}", "id", id),
                       "conflict");
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon); //  a clean stop (sanitizers: no leak)
}

//  A task whose action the executor refuses (there is none) fails, and
//  with it the workflow, saying why.
Test (workflow_engine, a_refused_task_fails_the_workflow)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-refused");
    testing_workflow_write (&daemon, "refused",
                            "version: 1.0\ninput:\n  - file\ntasks:\n  one:\n"
                            "    action: nopack.nothing\n");
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char *id = testing_workflow_run (api, "wf.refused", "unused");
    json_t *record = testing_api_wait_status (api, id, "failed", 30000);
    json_t *errors = json_object_get (json_object_get (record, "result"), "errors");
    char *text = json_dumps (record, JSON_COMPACT);
    cr_expect (json_array_size (errors) > 0 && strstr (text, "nopack.nothing"),
               "the errors say which action: %s", text);
    free (text);
    json_decref (record);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon); //  a clean stop (sanitizers: no leak)
}

//  The first task asks a person; the second runs once answered.
static const char *s_asks = "version: 1.0\n"
                            "input:\n  - file\n"
                            "tasks:\n"
                            "  ask:\n"
                            "    action: core.ask\n"
                            "    input:\n      prompt: go on?\n"
                            "    next:\n      - when: <% succeeded() %>\n        do: go\n"
                            "  go:\n"
                            "    action: core.local\n"
                            "    input:\n      cmd: echo go >> <% ctx().file %>\n";

Test (workflow_engine, a_task_waiting_on_a_person_pauses_the_workflow)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-ask");
    testing_workflow_write (&daemon, "asks", s_asks);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX];
    snprintf (file, sizeof file, "%s/lines", daemon.root);
    char *id = testing_workflow_run (api, "wf.asks", file);
    s_wait_child (api, id, "ask", "pending");
    json_t *record = testing_api_wait_status (api, id, "paused", 10000);
    json_decref (record);
    json_t *children = testing_workflow_children (api, id);
    char *ask =
        strdup (json_string_value (json_object_get (s_child (children, "ask"), "id")));
    json_decref (children);
    json_t *answer = testing_api_ok (
        api, "api.inquiry.respond",
        json_pack ("{s:s, s:{s:b}}", "id", ask, "response", "continue", 1));
    json_decref (answer);
    record = testing_api_wait_status (api, id, "completed", 30000);
    json_decref (record);
    char *lines = testing_read (file);
    cr_expect_str_eq (lines, "go\n");
    free (lines);
    free (ask);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon); //  a clean stop (sanitizers: no leak)
}

//  A workflow whose first task is another workflow (wf.NAME), then a noop.
static char *
s_outer (const char *inner)
{
    char *yaml = NULL;
    int rc = asprintf (&yaml,
                       "version: 1.0\n"
                       "input:\n  - file\n"
                       "tasks:\n"
                       "  sub:\n"
                       "    action: wf.%s\n"
                       "    input:\n      file: <%% ctx().file %%>\n"
                       "    next:\n      - when: <%% succeeded() %%>\n        do: last\n"
                       "  last:\n"
                       "    action: core.noop\n",
                       inner);
    cr_assert_geq (rc, 0);
    return yaml;
}

Test (workflow_engine, subworkflows_nest_and_cancel_cascades)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-nest");
    testing_workflow_write (&daemon, "three", s_three);
    testing_workflow_write (&daemon, "slow", s_slow);
    char *outer = s_outer ("three");
    testing_workflow_write (&daemon, "outer", outer);
    free (outer);
    outer = s_outer ("slow");
    testing_workflow_write (&daemon, "outerslow", outer);
    free (outer);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX];
    snprintf (file, sizeof file, "%s/lines", daemon.root);

    //  Two levels: the tree shows the inner workflow's tasks under `sub`
    char *id = testing_workflow_run (api, "wf.outer", file);
    json_t *record = testing_api_wait_status (api, id, "completed", 30000);
    json_decref (record);
    char *lines = testing_read (file);
    cr_expect_str_eq (lines, "one\ntwo\n");
    free (lines);
    char *out = NULL;
    const char *get[] = {S_ATTUNE, "--api", daemon.api, "execution",
                         "get",    id,      "--tree",   NULL};
    cr_expect_eq (testing_run (get, NULL, &out, NULL, 30000), 0);
    cr_expect (out && strstr (out, "  sub wf.three completed") &&
                   strstr (out, "    one core.local completed") &&
                   strstr (out, "  last core.noop completed"),
               "the tree: %s", out);
    free (out);
    free (id);

    //  Cancel of the outer workflow reaches the inner one's running task
    id = testing_workflow_run (api, "wf.outerslow", file);
    s_wait_child (api, id, "sub", "running");
    json_t *children = testing_workflow_children (api, id);
    char *sub =
        strdup (json_string_value (json_object_get (s_child (children, "sub"), "id")));
    json_decref (children);
    s_wait_child (api, sub, "two", "running");
    json_t *answer =
        testing_api_ok (api, "api.execution.cancel", json_pack ("{s:s}", "id", id));
    json_decref (answer);
    record = testing_api_wait_status (api, id, "cancelled", 30000);
    json_decref (record);
    record = testing_api_wait_status (api, sub, "cancelled", 5000);
    json_decref (record);
    children = testing_workflow_children (api, sub);
    cr_expect_str_eq (
        json_string_value (json_object_get (s_child (children, "two"), "status")),
        "cancelled");
    cr_expect_null (s_child (children, "three"));
    json_decref (children);
    children = testing_workflow_children (api, id);
    cr_expect_null (s_child (children, "last"), "nothing after the cancel");
    json_decref (children);
    free (sub);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon); //  a clean stop (sanitizers: no leak)
}

//  Sequential tasks, each after a one-second delay (the engine holds its
//  command, durably): the daemon is killed while it waits.
#define S_STEPS 6

Test (workflow_engine, sigkill_continues_and_runs_each_task_once, .timeout = 180)
{
    char yaml[4096] = "version: 1.0\ninput:\n  - file\ntasks:\n";
    for (int i = 1; i <= S_STEPS; i++) {
        char task[512];
        snprintf (task, sizeof task,
                  "  t%d:\n    delay: 1\n    action: core.local\n"
                  "    input:\n      cmd: echo t%d >> <%% ctx().file %%>\n",
                  i, i);
        strcat (yaml, task);
        if (i < S_STEPS) {
            snprintf (task, sizeof task,
                      "    next:\n      - when: <%% succeeded() %%>\n        do: t%d\n",
                      i + 1);
            strcat (yaml, task);
        }
    }
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-kill");
    testing_workflow_write (&daemon, "steps", yaml);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX];
    snprintf (file, sizeof file, "%s/lines", daemon.root);
    char *id = testing_workflow_run (api, "wf.steps", file);

    //  Killed after lines 1, 3 and 5: in the next task's delay
    int kills = 0;
    for (int after = 1; after < S_STEPS; after += 2) {
        int64_t deadline = zclock_mono () + 30000;
        while (testing_count_in_file (file, "\n") < after && zclock_mono () < deadline)
            zclock_sleep (20);
        cr_assert_geq (testing_count_in_file (file, "\n"), after, "line %d", after);
        zclock_sleep (300); //  its report is in, the next task waits its delay
        zsock_destroy (&api);
        testing_daemon_signal (&daemon, SIGKILL, 5000);
        kills++;
        testing_daemon_start (&daemon, NULL);
        cr_assert (testing_daemon_wait_log (&daemon, "workflow: 1 runs continue", 5000),
                   "the engine took the run back from its store");
        api = testing_api_client (&daemon);
    }
    json_t *record = testing_api_wait_status (api, id, "completed", 60000);
    json_decref (record);
    for (int i = 1; i <= S_STEPS; i++) {
        char line[16];
        snprintf (line, sizeof line, "t%d\n", i);
        cr_expect_eq (testing_count_in_file (file, line), 1, "%s ran once", line);
    }
    json_t *children = testing_workflow_children (api, id);
    cr_expect_eq (json_array_size (children), S_STEPS, "one child per task");
    json_decref (children);
    cr_expect_eq (kills, 3);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon); //  a clean stop (sanitizers: no leak)
}

//  Killed at random moments (the engine's commits, its requests, the
//  executor's): a run of noops still ends, and no task ever has two
//  children.
#define S_NOOPS        400
#define S_RANDOM_KILLS 4

Test (workflow_engine, sigkill_at_random_moments_never_doubles_a_task, .timeout = 180)
{
    char *yaml = strdup ("version: 1.0\ninput:\n  - file\ntasks:\n");
    for (int i = 1; i <= S_NOOPS; i++) {
        char *more = NULL;
        char next[128] = "";
        if (i < S_NOOPS)
            snprintf (next, sizeof next, "    next:\n      - do: n%d\n", i + 1);
        cr_assert_geq (
            asprintf (&more, "%s  n%d:\n    action: core.noop\n%s", yaml, i, next), 0);
        free (yaml);
        yaml = more;
    }
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-random");
    testing_workflow_write (&daemon, "noops", yaml);
    free (yaml);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char *id = testing_workflow_run (api, "wf.noops", "unused");
    unsigned seed = (unsigned)zclock_usecs ();
    fprintf (stderr, "sigkill_at_random_moments: seed %u\n", seed);
    //  Killed again and again while it runs (at least S_RANDOM_KILLS times
    //  unless it ends before)
    int kills = 0;
    size_t at = 0; //  children at the last kill
    for (; kills < 20; kills++) {
        //  Killed once the run went on by 20 to 80 tasks (whatever the
        //  machine's speed), at a random moment of that
        size_t step = 20 + (size_t)(rand_r (&seed) % 60), count = at;
        bool ended = false;
        for (int64_t until = zclock_mono () + 30000;
             !ended && count < at + step && zclock_mono () < until;) {
            zclock_sleep ((int)(rand_r (&seed) % 20));
            json_t *now =
                testing_api_ok (api, "api.execution.get", json_pack ("{s:s}", "id", id));
            ended = testing_status_terminal (
                json_string_value (json_object_get (now, "status")));
            json_decref (now);
            json_t *before = testing_workflow_children (api, id);
            count = json_array_size (before);
            json_decref (before);
        }
        fprintf (stderr, "sigkill_at_random_moments: kill %d at %zu children%s\n",
                 kills + 1, count, ended ? ": it ended" : "");
        at = count;
        if (ended)
            break;
        zsock_destroy (&api);
        testing_daemon_signal (&daemon, SIGKILL, 5000);
        testing_daemon_start (&daemon, NULL);
        api = testing_api_client (&daemon);
    }
    cr_expect_geq (kills, S_RANDOM_KILLS, "killed %d times while it ran", kills);
    //  It ends: completed, or failed when a kill caught a child running
    //  (abandoned with its worker, as any execution)
    int64_t deadline = zclock_mono () + 60000;
    const char *status = NULL;
    json_t *record = NULL;
    while (zclock_mono () < deadline) {
        json_decref (record);
        record = testing_api_ok (api, "api.execution.get", json_pack ("{s:s}", "id", id));
        status = json_string_value (json_object_get (record, "status"));
        if (status && testing_status_terminal (status))
            break;
        zclock_sleep (50);
    }
    cr_assert (status && testing_status_terminal (status), "the workflow is %s", status);
    json_t *children = testing_workflow_children (api, id);
    size_t count = json_array_size (children);
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++)
            cr_expect_str_neq (json_string_value (json_object_get (
                                   json_array_get (children, i), "task")),
                               json_string_value (json_object_get (
                                   json_array_get (children, j), "task")),
                               "two children of one task");
    if (streq (status, "completed"))
        cr_expect_eq (count, S_NOOPS);
    fprintf (stderr, "sigkill_at_random_moments: %s with %zu children\n", status, count);
    if (!streq (status, "completed")) {
        char *log = testing_daemon_read_log (&daemon);
        fprintf (stderr, "%s\n", log);
        free (log);
    }
    json_decref (children);
    json_decref (record);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon); //  a clean stop (sanitizers: no leak)
}

//  A run stored by an older build (its children and commands inside its
//  record, no rows of them): read back as it is, it goes on, each task once.
typedef struct {
    store_table_t *runs, *kids, *commands;
} s_tables_t;

static int
s_make_legacy (store_txn_t *txn, void *arg)
{
    s_tables_t *t = (s_tables_t *)arg;
    store_table_t *runs = t->runs, *kids = t->kids, *commands = t->commands;
    store_cursor_t *cursor = store_cursor_new (txn, runs);
    cr_assert (cursor && store_cursor_first (cursor) == STORE_OK, "a run is stored");
    size_t size, id_size;
    const char *id = (const char *)store_cursor_key (cursor, &id_size);
    const char *data = (const char *)store_cursor_data (cursor, &size);
    json_t *record = json_loadb (data, size, 0, NULL);
    char run[64];
    snprintf (run, sizeof run, "%.*s", (int)id_size, id);
    store_cursor_destroy (&cursor);
    cr_assert (record && !json_object_get (record, "children"));
    json_t *children = json_object ();
    cursor = store_cursor_new (txn, kids);
    for (store_code_t code = store_cursor_first (cursor); code == STORE_OK;) {
        const char *key = (const char *)store_cursor_key (cursor, &id_size);
        data = (const char *)store_cursor_data (cursor, &size);
        const char *newline = memchr (key, '\n', id_size);
        cr_assert (newline);
        char name[300];
        snprintf (name, sizeof name, "%.*s", (int)(id_size - (size_t)(newline + 1 - key)),
                  newline + 1);
        json_object_set_new (children, name, json_loadb (data, size, 0, NULL));
        cr_assert_eq (store_cursor_del (cursor), STORE_OK);
        code = store_cursor_next (cursor);
    }
    store_cursor_destroy (&cursor);
    cr_assert_geq (json_object_size (children), 2, "tasks one and two");
    const void *text;
    cr_assert_eq (store_get (txn, commands, run, strlen (run), &text, &size), STORE_OK);
    json_object_set_new (record, "commands", json_loadb (text, size, 0, NULL));
    json_object_set_new (record, "children", children);
    cr_assert_eq (store_del (txn, commands, run, strlen (run)), STORE_OK);
    char *legacy = json_dumps (record, JSON_COMPACT);
    cr_assert_eq (store_put (txn, runs, run, strlen (run), legacy, strlen (legacy)),
                  STORE_OK);
    free (legacy);
    json_decref (record);
    return 0;
}

Test (workflow_engine, a_run_stored_by_an_older_build_goes_on, .timeout = 120)
{
    char yaml[2048] = "version: 1.0\ninput:\n  - file\ntasks:\n";
    for (int i = 1; i <= 3; i++) {
        char task[512];
        snprintf (task, sizeof task,
                  "  t%d:\n    delay: 1\n    action: core.local\n"
                  "    input:\n      cmd: echo t%d >> <%% ctx().file %%>\n%s",
                  i, i, i < 3 ? "    next:\n      - do: t" : "");
        strcat (yaml, task);
        if (i < 3) {
            snprintf (task, sizeof task, "%d\n", i + 1);
            strcat (yaml, task);
        }
    }
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-legacy");
    testing_workflow_write (&daemon, "steps", yaml);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX];
    snprintf (file, sizeof file, "%s/lines", daemon.root);
    char *id = testing_workflow_run (api, "wf.steps", file);
    int64_t deadline = zclock_mono () + 30000;
    while (testing_count_in_file (file, "\n") < 1 && zclock_mono () < deadline)
        zclock_sleep (20);
    zclock_sleep (300); //  t2 waits its delay, its command stored
    zsock_destroy (&api);
    testing_daemon_signal (&daemon, SIGKILL, 5000);
    //  The store rewritten as an older build kept it
    char dir[PATH_MAX + 16];
    snprintf (dir, sizeof dir, "%s/workflow", daemon.data);
    store_code_t code;
    store_t *store = store_open (dir, NULL, &code, NULL, 0);
    cr_assert (store, "the engine's store opens (%d)", code);
    s_tables_t tables = {store_table (store, "runs", false),
                         store_table (store, "run_children", false),
                         store_table (store, "run_commands", false)};
    cr_assert (tables.runs && tables.kids && tables.commands);
    cr_assert_eq (store_write (store, s_make_legacy, &tables), STORE_OK);
    store_close (&store);
    testing_daemon_start (&daemon, NULL);
    cr_assert (testing_daemon_wait_log (&daemon, "a record of an older build", 5000));
    cr_assert (testing_daemon_wait_log (&daemon, "workflow: 1 runs continue", 5000));
    api = testing_api_client (&daemon);
    json_t *record = testing_api_wait_status (api, id, "completed", 60000);
    json_decref (record);
    for (int i = 1; i <= 3; i++) {
        char line[16];
        snprintf (line, sizeof line, "t%d\n", i);
        cr_expect_eq (testing_count_in_file (file, line), 1, "%s ran once", line);
    }
    json_t *children = testing_workflow_children (api, id);
    cr_expect_eq (json_array_size (children), 3, "one child per task");
    json_decref (children);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon);
}
