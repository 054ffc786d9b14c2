/*  test_workflow_journal: the workflow engine stores a transition as one
    row of the run's journal (the conductor call it made), not as its whole
    state: a with items run whose state is large (a 20 KB variable) killed
    twice while its items wait their delay (none running: a kill abandons a
    running child, which fails its item) holds journal rows at each kill,
    goes on from its snapshot and journal replayed, and runs every item
    exactly once. A run keeps the definition it started with: its file
    edited while the run waits, then the daemon killed, the run ends as
    first written while a new run takes the edited file, and a re-run of it
    from a task goes on as first written too.
*/
#include "store/store.h"
#include "tests/testing_workflow_daemon.h"

TestSuite (workflow_journal, .fini = testing_daemon_stop_all, .timeout = 180);

#define S_ITEMS 24
#define S_PAD   20000
//  Each item's delay, s: the kill must fall while the next items wait, and
//  between the last look that saw none running and the kill, an api round
//  trip or two go by (long on a machine busy with other suites)
#define S_DELAY 3

//  The journal rows the engine's store holds.
static size_t
s_journal_rows (testing_daemon_t *daemon)
{
    char dir[PATH_MAX + 16];
    snprintf (dir, sizeof dir, "%s/workflow", daemon->data);
    store_code_t code;
    store_t *store = store_open (dir, NULL, &code, NULL, 0);
    cr_assert (store, "the engine's store opens (%d)", code);
    store_table_t *journal = store_table (store, "run_journal", false);
    cr_assert (journal);
    store_txn_t *txn = store_read_begin (store);
    cr_assert (txn);
    size_t rows = (size_t)store_count (txn, journal);
    store_read_end (&txn);
    store_close (&store);
    return rows;
}

//  Wait until no child of `id` runs (the next items wait their delay): a
//  kill then abandons none.
static void
s_wait_idle (zsock_t *api, const char *id)
{
    for (int64_t until = zclock_mono () + 10000; zclock_mono () < until;) {
        json_t *children = testing_workflow_children (api, id);
        bool idle = true;
        size_t i;
        json_t *child;
        json_array_foreach (children, i, child) idle =
            idle && testing_status_terminal (
                        json_string_value (json_object_get (child, "status")));
        json_decref (children);
        if (idle)
            return;
        zclock_sleep (5);
    }
    cr_assert_fail ("the items never wait together");
}

static char *
s_yaml (void)
{
    char *pad = (char *)zmalloc (S_PAD + 1);
    memset (pad, 'x', S_PAD);
    char *yaml = NULL;
    cr_assert_geq (
        asprintf (
            &yaml,
            "version: 1.0\ninput:\n  - file\nvars:\n  - pad: %s\ntasks:\n"
            "  each:\n    with:\n      items: <%% range(%d) %%>\n"
            "      concurrency: 4\n    delay: %d\n    action: core.local\n"
            "    input:\n      cmd: echo item<%% item() %%> >> <%% ctx().file %%>\n",
            pad, S_ITEMS, S_DELAY),
        0);
    free (pad);
    return yaml;
}

Test (workflow_journal, items_killed_twice_replay_their_journal_and_run_once)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-journal");
    char *yaml = s_yaml ();
    testing_workflow_write (&daemon, "items", yaml);
    free (yaml);
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX];
    snprintf (file, sizeof file, "%s/lines", daemon.root);
    char *id = testing_workflow_run (api, "wf.items", file);
    const size_t at[] = {6, 14};
    for (size_t k = 0; k < 2; k++) {
        int64_t deadline = zclock_mono () + 60000;
        while ((size_t)testing_count_in_file (file, "\n") < at[k] &&
               zclock_mono () < deadline)
            zclock_sleep (10);
        if ((size_t)testing_count_in_file (file, "\n") < at[k]) {
            char *log = testing_daemon_read_log (&daemon);
            fprintf (stderr, "%s\n", log);
            free (log);
        }
        cr_assert_geq ((size_t)testing_count_in_file (file, "\n"), at[k]);
        s_wait_idle (api, id);
        zsock_destroy (&api);
        testing_daemon_signal (&daemon, SIGKILL, 5000);
        //  A transition wrote a row, not the 20 KB state
        cr_expect_gt (s_journal_rows (&daemon), 0, "journal rows at kill %zu", k + 1);
        testing_daemon_start (&daemon, NULL);
        cr_assert (testing_daemon_wait_log (&daemon, "workflow: 1 runs continue", 5000));
        api = testing_api_client (&daemon);
    }
    json_t *record = testing_api_wait_status (api, id, "completed", 60000);
    for (int i = 0; i < S_ITEMS; i++) {
        char line[32];
        snprintf (line, sizeof line, "item%d\n", i);
        cr_expect_eq (testing_count_in_file (file, line), 1, "%s ran once", line);
    }
    json_t *children = testing_workflow_children (api, id);
    cr_expect_eq (json_array_size (children), S_ITEMS, "one child per item");
    json_decref (children);
    json_decref (record);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon);
}

//  Two tasks, the first waiting 2 s; each appends "<task>-<version>".
static void
s_write_versioned (testing_daemon_t *daemon, const char *version)
{
    char yaml[1024];
    snprintf (yaml, sizeof yaml,
              "version: 1.0\ninput:\n  - file\ntasks:\n"
              "  first:\n    delay: 2\n    action: core.local\n"
              "    input:\n      cmd: echo first-%s >> <%% ctx().file %%>\n"
              "    next:\n      - when: <%% succeeded() %%>\n        do: second\n"
              "  second:\n    action: core.local\n"
              "    input:\n      cmd: echo second-%s >> <%% ctx().file %%>\n",
              version, version);
    testing_workflow_write (daemon, "versioned", yaml);
}

Test (workflow_journal, a_run_keeps_its_definition_when_the_file_changes)
{
    testing_daemon_t daemon;
    testing_daemon_init (&daemon, "wf-definition");
    s_write_versioned (&daemon, "v1");
    testing_daemon_start (&daemon, NULL);
    zsock_t *api = testing_api_client (&daemon);
    char file[PATH_MAX], again[PATH_MAX];
    snprintf (file, sizeof file, "%s/lines", daemon.root);
    snprintf (again, sizeof again, "%s/again", daemon.root);
    char *id = testing_workflow_run (api, "wf.versioned", file);
    zclock_sleep (500); //  the first task waits its delay
    zsock_destroy (&api);
    testing_daemon_signal (&daemon, SIGKILL, 5000);
    s_write_versioned (&daemon, "v2");
    testing_daemon_start (&daemon, NULL);
    api = testing_api_client (&daemon);
    json_t *record = testing_api_wait_status (api, id, "completed", 30000);
    json_decref (record);
    cr_expect_eq (testing_count_in_file (file, "first-v1\n"), 1);
    cr_expect_eq (testing_count_in_file (file, "second-v1\n"), 1);
    cr_expect_eq (testing_count_in_file (file, "-v2"), 0,
                  "the edit reached a running run");
    //  A new run (the daemon still up) takes the file as it is now
    char *second = testing_workflow_run (api, "wf.versioned", again);
    record = testing_api_wait_status (api, second, "completed", 30000);
    json_decref (record);
    cr_expect_eq (testing_count_in_file (again, "first-v2\n"), 1);
    cr_expect_eq (testing_count_in_file (again, "second-v2\n"), 1);
    //  A re-run of the first run from its task `second` goes on with the
    //  definition that run had, as Orquesta's re-run with its recorded spec
    json_t *rerun =
        testing_api_ok (api, "api.execution.rerun",
                        json_pack ("{s:s, s:[s]}", "id", id, "tasks", "second"));
    const char *third = json_string_value (json_object_get (rerun, "execution"));
    cr_assert (third);
    record = testing_api_wait_status (api, third, "completed", 30000);
    json_decref (record);
    json_decref (rerun);
    cr_expect_eq (testing_count_in_file (file, "second-v1\n"), 2,
                  "re-run as first written");
    cr_expect_eq (testing_count_in_file (file, "first-v1\n"), 1, "from `second` only");
    cr_expect_eq (testing_count_in_file (file, "-v2"), 0, "the re-run took the edit");
    free (second);
    free (id);
    zsock_destroy (&api);
    testing_daemon_stop (&daemon);
}
