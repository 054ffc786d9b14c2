/*  test_workflow_live: what happens to a workflow's children from outside
    the engine, in a live attuned: a re-run from tasks (StackStorm's
    `re-run --tasks`, through the CLI and the api: the tasks before them do
    not run again, the re-run task sees the recorded context, with items
    re-run all items or only the failed ones), a child retried by its
    action's retry policy (the workflow waits for the last attempt), and a
    child cancelled by hand (the task ends canceled, and the workflow, as
    Orquesta's, is cancelled).
*/
#include "tests/testing_workflow_daemon.h"

#define S_ATTUNE ATTUNE_HELPER_DIR "/attune"

TestSuite (workflow_live, .fini = testing_daemon_stop_all, .timeout = 120);

//  The children of `id` with task `task` (all of them when NULL).
static size_t
s_count_children (zsock_t *api, const char *id, const char *task)
{
    json_t *page = testing_api_ok (api, "api.execution.list",
                                   json_pack ("{s:s, s:i}", "parent", id, "limit", 1000));
    size_t count = 0, i;
    json_t *child;
    json_array_foreach (json_object_get (page, "items"), i, child)
    {
        const char *its = json_string_value (json_object_get (child, "task"));
        count += !task || (its && streq (its, task));
    }
    json_decref (page);
    return count;
}

//  one appends, two fails until the file `<file>.ok` exists (then appends
//  what one published), three appends.
static const char *s_gated =
    "version: 1.0\n"
    "input:\n  - file\n"
    "tasks:\n"
    "  one:\n"
    "    action: core.local\n"
    "    input:\n      cmd: echo one >> <% ctx().file %>\n"
    "    next:\n      - when: <% succeeded() %>\n        publish:\n"
    "          - said: from-one\n        do: two\n"
    "  two:\n"
    "    action: core.local\n"
    "    input:\n      cmd: test -f <% ctx().file %>.ok && echo two <% ctx().said %> "
    ">> <% ctx().file %>\n"
    "    next:\n      - when: <% succeeded() %>\n        do: three\n"
    "  three:\n"
    "    action: core.local\n"
    "    input:\n      cmd: echo three >> <% ctx().file %>\n";

Test (workflow_live, rerun_from_a_task_with_the_recorded_context)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-rerun");
    testing_workflow_write (&daemon, "gated", s_gated);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX], ok[PATH_MAX + 8];
    snprintf (file, sizeof file, "%s/lines", daemon.root);
    snprintf (ok, sizeof ok, "%s.ok", file);

    char *id = testing_workflow_run (api, "wf.gated", file);
    json_decref (testing_api_wait_status (api, id, "failed", 30000));
    //  Refused: parameters with tasks, reset not among tasks, a plain action
    testing_api_fails (api, "api.execution.rerun",
                       json_pack ("{s:s, s:[s], s:{s:s}}", "id", id, "tasks", "two",
                                  "parameters", "file", "x"),
                       "bad_request");
    testing_api_fails (
        api, "api.execution.rerun",
        json_pack ("{s:s, s:[s], s:[s]}", "id", id, "tasks", "two", "reset", "one"),
        "bad_request");
    //  An unknown task: the re-run fails, saying which
    json_t *bad = testing_api_ok (api, "api.execution.rerun",
                                  json_pack ("{s:s, s:[s]}", "id", id, "tasks", "nope"));
    const char *bad_id = json_string_value (json_object_get (bad, "execution"));
    json_t *failed = testing_api_wait_status (api, bad_id, "failed", 30000);
    char *why = json_dumps (json_object_get (failed, "result"), JSON_COMPACT);
    cr_expect (strstr (why, "nope"), "the re-run says which task: %s", why);
    free (why);
    json_decref (failed);
    json_decref (bad);

    //  Fixed, and re-run from two through the CLI (StackStorm's spelling): one does not run again,
    //  two sees what one published, three runs
    FILE *flag = fopen (ok, "w");
    cr_assert (flag);
    fclose (flag);
    char *out = NULL;
    const char *rerun[] = {S_ATTUNE, "--api",   daemon.api, "execution", "re-run",
                           id,       "--tasks", "two",      "--wait",    NULL};
    cr_expect_eq (testing_run (rerun, NULL, &out, NULL, 60000), 0, "%s", out);
    free (out);
    char *lines = testing_read (file);
    cr_expect_str_eq (lines, "one\ntwo from-one\nthree\n");
    free (lines);
    //  The new execution's children: two and three only
    json_t *page = testing_api_ok (api, "api.execution.list",
                                   json_pack ("{s:s, s:i}", "parent", id, "limit", 10));
    json_t *items = json_object_get (page, "items");
    const char *again = NULL;
    size_t i;
    json_t *item;
    json_array_foreach (items, i, item)
    {
        if (streq (json_string_value (json_object_get (item, "action")), "wf.gated") &&
            streq (json_string_value (json_object_get (item, "status")), "completed"))
            again = json_string_value (json_object_get (item, "id"));
    }
    cr_assert (again, "a completed re-run of %s", id);
    cr_expect_eq (s_count_children (api, again, NULL), 2);
    cr_expect_eq (s_count_children (api, again, "one"), 0);
    json_decref (page);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon);
}

//  Items 0..3: item 2 fails until `<file>.ok` exists
static const char *s_items =
    "version: 1.0\n"
    "input:\n  - file\n"
    "tasks:\n"
    "  each:\n"
    "    with: <% [0, 1, 2, 3] %>\n"
    "    action: core.local\n"
    "    input:\n      cmd: (test <% item() %> != 2 || test -f <% ctx().file %>.ok) "
    "&& echo item<% item() %> >> <% ctx().file %>\n";

Test (workflow_live, rerun_of_items_resets_them_or_only_the_failed)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-rerun-items");
    testing_workflow_write (&daemon, "items", s_items);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX], ok[PATH_MAX + 8];
    snprintf (file, sizeof file, "%s/lines", daemon.root);
    snprintf (ok, sizeof ok, "%s.ok", file);
    char *id = testing_workflow_run (api, "wf.items", file);
    json_decref (testing_api_wait_status (api, id, "failed", 30000));
    cr_expect_eq (testing_count_in_file (file, "\n"), 3, "three items succeeded");
    FILE *flag = fopen (ok, "w");
    cr_assert (flag);
    fclose (flag);
    //  Not reset: only the failed item runs again
    json_t *kept = testing_api_ok (api, "api.execution.rerun",
                                   json_pack ("{s:s, s:[s]}", "id", id, "tasks", "each"));
    const char *kept_id = json_string_value (json_object_get (kept, "execution"));
    json_decref (testing_api_wait_status (api, kept_id, "completed", 30000));
    cr_expect_eq (testing_count_in_file (file, "item2\n"), 1);
    cr_expect_eq (testing_count_in_file (file, "item0\n"), 1, "item 0 not run again");
    cr_expect_eq (s_count_children (api, kept_id, NULL), 1);
    //  Reset (the CLI's default): every item runs again
    json_t *reset = testing_api_ok (
        api, "api.execution.rerun",
        json_pack ("{s:s, s:[s], s:[s]}", "id", id, "tasks", "each", "reset", "each"));
    const char *reset_id = json_string_value (json_object_get (reset, "execution"));
    json_decref (testing_api_wait_status (api, reset_id, "completed", 30000));
    cr_expect_eq (testing_count_in_file (file, "item0\n"), 2, "item 0 ran again");
    cr_expect_eq (s_count_children (api, reset_id, NULL), 4);
    json_decref (kept);
    json_decref (reset);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon);
}

//  A task whose action fails twice then succeeds, under a retry policy of
//  up to 3 retries: the workflow sees the last attempt and goes on.
static const char *s_retried =
    "version: 1.0\n"
    "input:\n  - file\n"
    "tasks:\n"
    "  flaky:\n"
    "    action: wf.flaky\n"
    "    next:\n      - when: <% succeeded() %>\n        do: after\n"
    "      - when: <% failed() %>\n        do: fail\n"
    "  after:\n"
    "    action: core.local\n"
    "    input:\n      cmd: echo after >> <% ctx().file %>\n";

Test (workflow_live, a_retried_child_is_seen_at_its_last_attempt)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-retry");
    testing_workflow_write (&daemon, "retried", s_retried);
    char file[PATH_MAX], flaky[2 * PATH_MAX + 200];
    snprintf (file, sizeof file, "%s/lines", daemon.root);
    snprintf (flaky, sizeof flaky,
              "name: flaky\nrunner_type: local-shell-cmd\nenabled: true\n"
              "entry_point: 'echo try >> %s; test $(grep -c try %s) -ge 3'\n",
              file, file);
    testing_daemon_write (&daemon, "wf/actions/flaky.yaml", flaky);
    testing_daemon_write (&daemon, "wf/policies/flaky.yaml",
                          "name: flaky\nresource_ref: wf.flaky\n"
                          "policy_type: action.retry\n"
                          "parameters:\n  max_retry_count: 3\n  delay: 0.2\n");
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char *id = testing_workflow_run (api, "wf.retried", file);
    json_t *record = testing_api_wait_status (api, id, "completed", 30000);
    json_decref (record);
    cr_expect_eq (testing_count_in_file (file, "try\n"), 3, "two failures, one success");
    cr_expect_eq (testing_count_in_file (file, "after\n"), 1, "the next task ran once");
    cr_expect_eq (s_count_children (api, id, "flaky"), 1, "one child for the task");
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon);
}

//  The second task sleeps long enough to be cancelled by hand
static const char *s_slow = "version: 1.0\n"
                            "input:\n  - file\n"
                            "tasks:\n"
                            "  one:\n"
                            "    action: core.local\n"
                            "    input:\n      cmd: sleep 30\n      timeout: 60\n"
                            "    next:\n      - do: two\n"
                            "  two:\n"
                            "    action: core.local\n"
                            "    input:\n      cmd: echo two >> <% ctx().file %>\n";

Test (workflow_live, a_child_cancelled_by_hand_cancels_the_workflow)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-child-cancel");
    testing_workflow_write (&daemon, "slow", s_slow);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX];
    snprintf (file, sizeof file, "%s/lines", daemon.root);
    char *id = testing_workflow_run (api, "wf.slow", file);
    char child[64] = "";
    int64_t deadline = zclock_mono () + 30000;
    while (!*child && zclock_mono () < deadline) {
        json_t *page = testing_api_ok (api, "api.execution.list",
                                       json_pack ("{s:s, s:s, s:i}", "parent", id,
                                                  "status", "running", "limit", 10));
        json_t *first = json_array_get (json_object_get (page, "items"), 0);
        if (first)
            snprintf (child, sizeof child, "%s",
                      json_string_value (json_object_get (first, "id")));
        json_decref (page);
        if (!*child)
            zclock_sleep (50);
    }
    cr_assert (*child, "task one runs");
    json_decref (
        testing_api_ok (api, "api.execution.cancel", json_pack ("{s:s}", "id", child)));
    //  Orquesta: a canceled task no transition handles cancels the workflow
    json_t *record = testing_api_wait_status (api, id, "cancelled", 30000);
    json_decref (record);
    zclock_sleep (300);
    cr_expect_eq (s_count_children (api, id, "two"), 0, "nothing starts after it");
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon);
}

//  ---------------------------------------------------------------------------
//  Split: the engine in a process of its own, killed and silent beyond the
//  executor's heartbeat, then started again

typedef struct {
    pid_t pid;
    char cfg[PATH_MAX], log[PATH_MAX];
} s_proc_t;

static s_proc_t s_procs[2];

static void
s_kill_procs (void)
{
    for (int i = 0; i < 2; i++)
        if (s_procs[i].pid > 0) {
            kill (s_procs[i].pid, SIGKILL);
            waitpid (s_procs[i].pid, NULL, 0);
            s_procs[i].pid = 0;
        }
}

//  attuned -c cfg, its log in proc->log; until it says it runs
static void
s_spawn (s_proc_t *proc)
{
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        int fd = open (proc->log, O_WRONLY | O_CREAT | O_APPEND, 0640);
        dup2 (fd, 1);
        dup2 (fd, 2);
        const char *argv[] = {
            ATTUNE_HELPER_DIR "/attuned", "-c", proc->cfg, "--heartbeat", "200", NULL};
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    proc->pid = pid;
    int64_t deadline = zclock_mono () + 20000;
    while (zclock_mono () < deadline) {
        char *log = testing_read (proc->log);
        bool up = log && strstr (log, "attuned: running");
        free (log);
        if (up)
            return;
        zclock_sleep (20);
    }
    cr_assert_fail ("%s did not start:\n%s", proc->cfg, testing_read (proc->log));
}

//  Ten tasks in sequence, each a moment long, appending its name
static void
s_split_setup (const char *root, char *api, size_t size)
{
    char packs[PATH_MAX], core_pack[PATH_MAX + 16];
    snprintf (packs, sizeof packs, "%s/packs", root);
    mkdir (packs, 0750);
    snprintf (core_pack, sizeof core_pack, "%s/core", packs);
    cr_assert_eq (symlink (ATTUNE_SOURCE_DIR "/packs/core", core_pack), 0);
    char yaml[4096] = "version: 1.0\ninput:\n  - file\ntasks:\n";
    for (int i = 1; i <= 10; i++) {
        char task[256];
        snprintf (task, sizeof task,
                  "  t%d:\n    action: core.local\n    input:\n"
                  "      cmd: sleep 0.3; echo t%d >> <%% ctx().file %%>\n%s",
                  i, i, i < 10 ? "    next:\n      - do: t" : "");
        strcat (yaml, task);
        if (i < 10) {
            snprintf (task, sizeof task, "%d\n", i + 1);
            strcat (yaml, task);
        }
    }
    testing_write (packs, "wf/pack.yaml", "ref: wf\nname: wf\nversion: 0.1.0\n");
    testing_write (packs, "wf/actions/ten.yaml",
                   "name: ten\nrunner_type: orquesta\nentry_point: workflows/ten.yaml\n"
                   "parameters:\n  file:\n    type: string\n    required: true\n");
    testing_write (packs, "wf/actions/workflows/ten.yaml", yaml);
    const char *names[] = {"executor.commands", "executor.facts",   "executor.query",
                           "api.requests",      "api.facts",        "registry.facts",
                           "registry.snapshot", "registry.commands"};
    char endpoints[2048] = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char line[128];
        int port = testing_free_port ();
        snprintf (line, sizeof line, "    %s = tcp://127.0.0.1:%d\n", names[i], port);
        strcat (endpoints, line);
        if (streq (names[i], "api.requests"))
            snprintf (api, size, "tcp://127.0.0.1:%d", port);
    }
    char cfg[4 * PATH_MAX + 4096];
    snprintf (cfg, sizeof cfg,
              "daemon\n    actors = registry,executor,rules,worker,api\n"
              "    data = %s/core\n    packs = %s\nbus\n    namespace = core\n"
              "endpoints\n%s",
              root, packs, endpoints);
    testing_write (root, "core.cfg", cfg);
    snprintf (cfg, sizeof cfg,
              "daemon\n    actors = workflow\n    data = %s/engine\n    packs = %s\n"
              "bus\n    namespace = engine\nendpoints\n%s"
              "    worker.workflow = tcp://127.0.0.1:%d\n"
              "    workflow.query = tcp://127.0.0.1:%d\n",
              root, packs, endpoints, testing_free_port (), testing_free_port ());
    testing_write (root, "engine.cfg", cfg);
    for (int i = 0; i < 2; i++) {
        snprintf (s_procs[i].cfg, sizeof s_procs[i].cfg, "%s/%s.cfg", root,
                  i ? "engine" : "core");
        snprintf (s_procs[i].log, sizeof s_procs[i].log, "%s/%s.log", root,
                  i ? "engine" : "core");
    }
}

Test (workflow_live, the_engine_killed_and_silent_in_a_split_continues_once_back,
      .fini = s_kill_procs)
{
    char root[PATH_MAX - 512], api[64], file[PATH_MAX];
    testing_tmpdir (root, sizeof root, "wf-split");
    s_split_setup (root, api, sizeof api);
    snprintf (file, sizeof file, "%s/lines", root);
    s_spawn (&s_procs[0]);
    s_spawn (&s_procs[1]);
    zsock_t *sock = zsock_new_dealer (api);
    zsock_set_rcvtimeo (sock, 8000);
    //  The engine registered (the workflow would wait for it otherwise)
    json_t *run = testing_api_ok (
        sock, "api.execution.run",
        json_pack ("{s:s, s:{s:s}}", "action", "wf.ten", "parameters", "file", file));
    char *id = strdup (json_string_value (json_object_get (run, "execution")));
    json_decref (run);
    int64_t deadline = zclock_mono () + 30000;
    while (testing_count_in_file (file, "\n") < 3 && zclock_mono () < deadline)
        zclock_sleep (20);
    cr_assert_geq (testing_count_in_file (file, "\n"), 3, "three tasks ran");
    //  Killed, and silent long enough for the executor to give it up
    kill (s_procs[1].pid, SIGKILL);
    waitpid (s_procs[1].pid, NULL, 0);
    s_procs[1].pid = 0;
    deadline = zclock_mono () + 10000;
    bool lost = false;
    while (!lost && zclock_mono () < deadline) {
        char *log = testing_read (s_procs[0].log);
        lost = log && strstr (log, "worker workflow stopped heartbeating");
        free (log);
        zclock_sleep (50);
    }
    cr_assert (lost, "the executor lost the engine");
    zclock_sleep (1000); //  the task running then ends meanwhile
    s_spawn (&s_procs[1]);
    json_t *record = testing_api_wait_status (sock, id, "completed", 60000);
    json_decref (record);
    char *lines = testing_read (file);
    for (int i = 1; i <= 10; i++) {
        char line[16];
        snprintf (line, sizeof line, "t%d\n", i);
        int times = 0;
        for (const char *p = strstr (lines, line); p; p = strstr (p + 1, line))
            times += p == lines || p[-1] == '\n';
        cr_expect_eq (times, 1, "t%d ran %d times:\n%s", i, times, lines);
    }
    free (lines);
    free (id);
    zsock_destroy (&sock);
    s_kill_procs ();
    testing_rmtree (root);
}
