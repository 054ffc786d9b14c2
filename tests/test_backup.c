/*  test_backup: `api.backup` (`attune backup DIR`) and restoring from it
    (proto/PROTOCOL.md, "Backup and restore").

    A workflow runs while the backup is taken: started on the copy, it
    continues to its end, and no task the copy holds as completed runs again.

    A daemon with two worker slots runs a rule whose action appends its
    execution id to a file; events keep flowing (a thread publishing them)
    while the backup is taken, and after. The daemon stops; a new daemon
    starts on the copy. Every execution the copy holds as completed must not
    run again (its id is not appended again), and every one it holds as
    requested, delayed or scheduled must finish.
*/
#include "tests/testing_api.h"
#include "actors/executor/executor.h"
#include "bus/bus_client.h"

#include <pthread.h>

static char s_lines[PATH_MAX]; //  the file the action appends to

static void
s_fini (void)
{
    testing_daemon_stop_all ();
}

TestSuite (backup, .fini = s_fini, .timeout = 180);

static void
s_packs (testing_daemon_t *daemon)
{
    char action[PATH_MAX + 512];
    testing_daemon_write (daemon, "bk/pack.yaml", "ref: bk\nname: bk\nversion: 1.0.0\n");
    testing_daemon_write (daemon, "bk/triggers/hook.yaml", "name: hook\npack: bk\n");
    snprintf (action, sizeof action,
              "name: append\nrunner_type: local-shell-cmd\nparameters:\n"
              "  n:\n    type: integer\n"
              "  cmd:\n    type: string\n    immutable: true\n"
              "    default: sleep 0.05; echo \"$ATTUNE_EXECUTION_ID\" >> %s\n",
              s_lines);
    testing_daemon_write (daemon, "bk/actions/append.yaml", action);
    testing_daemon_write (daemon, "bk/rules/append.yaml",
                          "name: append\npack: bk\ntrigger:\n  type: bk.hook\n"
                          "action:\n  ref: bk.append\n  parameters:\n"
                          "    n: \"{{ trigger.payload.n }}\"\n");
}

typedef struct {
    const char *api;
    int from, count;
    int published;
} s_load_t;

//  Publish `count` events, as fast as the api takes them (no asserts: a
//  thread of its own).
static void *
s_publish (void *arg)
{
    s_load_t *load = (s_load_t *)arg;
    bus_client_t *client = bus_client_new ("test@load");
    if (!client || bus_client_connect (client, load->api) != 0) {
        bus_client_destroy (&client);
        return NULL;
    }
    bus_client_set_timeout (client, 8000);
    for (int i = 0; i < load->count; i++) {
        json_t *payload = json_pack ("{s:s, s:{s:i}}", "trigger", "bk.hook", "payload",
                                     "n", load->from + i);
        json_t *result = bus_client_request (client, "api.event.publish", &payload);
        json_decref (payload);
        if (result)
            load->published++;
        json_decref (result);
    }
    bus_client_destroy (&client);
    return NULL;
}

typedef struct {
    zhashx_t *completed; //  id -> ""
    zlistx_t *waiting;   //  ids requested, delayed or scheduled
    int total;
} s_copy_t;

static void
s_record (void *arg, const json_t *execution)
{
    s_copy_t *copy = (s_copy_t *)arg;
    const char *id = json_string_value (json_object_get (execution, "id"));
    const char *status = json_string_value (json_object_get (execution, "status"));
    const char *action = json_string_value (json_object_get (execution, "action"));
    if (!id || !status || !action || !streq (action, "bk.append"))
        return;
    copy->total++;
    if (streq (status, "completed"))
        zhashx_insert (copy->completed, id, (void *)"");
    else if (streq (status, "requested") || streq (status, "delayed") ||
             streq (status, "scheduled"))
        zlistx_add_end (copy->waiting, (void *)id);
}

//  How many lines of `text` are `id`.
static int
s_times (const char *text, const char *id)
{
    int n = 0;
    size_t size = strlen (id);
    for (const char *p = strstr (text, id); p; p = strstr (p + 1, id))
        if ((p == text || p[-1] == '\n') && p[size] == '\n')
            n++;
    return n;
}

Test (backup, restored_copy_runs_what_waited_and_nothing_completed_again)
{
    static testing_daemon_t daemon, restored;
    testing_daemon_init (&daemon, "test_backup");
    snprintf (s_lines, sizeof s_lines, "%s/lines", daemon.root);
    s_packs (&daemon);
    testing_daemon_start (&daemon, (const char *[]){"--worker-slots", "2", "-q", NULL});
    zsock_t *sock = testing_api_client (&daemon);

    //  Events flowing while the copy is taken
    s_load_t before = {daemon.api, 0, 40, 0}, during = {daemon.api, 1000, 60, 0};
    s_publish (&before);
    cr_assert_eq (before.published, 40);
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_publish, &during), 0);
    zclock_sleep (100);
    //  A store no owner answers for (as a newer actor's would be) is named
    testing_write (daemon.data, "extra/data.mdb", "not a store");
    char copy[PATH_MAX - 256];
    snprintf (copy, sizeof copy, "%s/backup", daemon.root);
    json_t *manifest =
        testing_api_ok (sock, "api.backup", json_pack ("{s:s}", "dir", copy));
    pthread_join (thread, NULL);
    cr_assert_eq (during.published, 60);

    //  The manifest: every store, in order, with its format and size
    json_t *stores = json_object_get (manifest, "stores");
    cr_assert_eq (json_array_size (stores), 6);
    const char *order[] = {"sensor",   "datastore", "rules",
                           "workflow", "executor",  "registry"};
    for (size_t i = 0; i < 6; i++) {
        json_t *store = json_array_get (stores, i);
        cr_assert_str_eq (json_string_value (json_object_get (store, "store")), order[i]);
        cr_assert_eq (json_integer_value (json_object_get (store, "order")), (int)i + 1);
        cr_assert_eq (json_integer_value (json_object_get (store, "format")),
                      STORE_FORMAT_VERSION);
        cr_assert_gt (json_integer_value (json_object_get (store, "size")), 0);
    }
    //  A store no owner copied is named: the test's own
    json_t *uncopied = json_object_get (manifest, "stores_not_copied");
    cr_assert_eq (json_array_size (uncopied), 1);
    cr_assert_str_eq (json_string_value (json_array_get (uncopied, 0)), "extra");
    char path[PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/manifest.json", copy);
    json_t *on_disk = json_load_file (path, 0, NULL);
    cr_assert (json_equal (on_disk, manifest));
    json_decref (on_disk);
    snprintf (path, sizeof path, "%s/datastore/crypto.key", copy);
    struct stat st;
    cr_assert_eq (stat (path, &st), 0);
    cr_assert_eq (st.st_mode & 0077, 0, "the key copy is private");
    json_decref (manifest);

    //  Never over an earlier backup; admin input checked
    testing_api_fails (sock, "api.backup", json_pack ("{s:s}", "dir", copy),
                       "bad_request");
    testing_api_fails (sock, "api.backup", json_pack ("{s:s}", "dir", "relative/dir"),
                       "bad_request");
    zsock_destroy (&sock);
    testing_daemon_stop (&daemon);

    //  What the copy holds
    s_copy_t held = {zhashx_new (), zlistx_new (), 0};
    zlistx_set_duplicator (held.waiting, (zlistx_duplicator_fn *)strdup);
    zlistx_set_destructor (held.waiting, (zlistx_destructor_fn *)zstr_free);
    cr_assert_geq (executor_store_scan (copy, s_record, &held), 0);
    cr_assert_gt (held.total, 0);
    char *lines_before = testing_read (s_lines);

    //  A new daemon on the copy
    testing_daemon_init (&restored, "test_backup_restored");
    s_packs (&restored);
    snprintf (restored.data, sizeof restored.data, "%s", copy);
    testing_daemon_start (&restored, (const char *[]){"--worker-slots", "2", NULL});
    sock = testing_api_client (&restored);
    for (const char *id = (const char *)zlistx_first (held.waiting); id;
         id = (const char *)zlistx_next (held.waiting))
        json_decref (testing_api_wait_status (sock, id, "completed", 60000));
    //  Let whatever else it would run, run
    zclock_sleep (1000);
    zsock_destroy (&sock);
    testing_daemon_stop (&restored);

    char *lines_after = testing_read (s_lines);
    cr_assert_geq (strlen (lines_after), strlen (lines_before));
    const char *added = lines_after + strlen (lines_before);
    int checked = 0;
    for (const char *id = (const char *)zhashx_first (held.completed); id;
         id = (const char *)zhashx_next (held.completed)) {
        id = (const char *)zhashx_cursor (held.completed);
        cr_assert_eq (s_times (added, id), 0, "%s, completed in the copy, ran again", id);
        cr_assert_eq (s_times (lines_after, id), 1, "%s ran %d times", id,
                      s_times (lines_after, id));
        checked++;
    }
    for (const char *id = (const char *)zlistx_first (held.waiting); id;
         id = (const char *)zlistx_next (held.waiting))
        cr_assert_geq (s_times (added, id), 1, "%s waited in the copy, never ran", id);
    cr_log_info ("copy: %d executions, %d completed, %zu waiting", held.total, checked,
                 zlistx_size (held.waiting));
    free (lines_before);
    free (lines_after);
    zhashx_destroy (&held.completed);
    zlistx_destroy (&held.waiting);
}

//  A workflow of S_TASKS tasks in sequence, each appending its name
#define S_TASKS 30

static void
s_workflow_pack (testing_daemon_t *daemon)
{
    testing_daemon_write (daemon, "wf/pack.yaml", "ref: wf\nname: wf\nversion: 1.0.0\n");
    testing_daemon_write (daemon, "wf/actions/steps.yaml",
                          "name: steps\nrunner_type: orquesta\n"
                          "entry_point: workflows/steps.yaml\nparameters:\n"
                          "  file:\n    type: string\n    required: true\n");
    char *yaml = strdup ("version: 1.0\ninput:\n  - file\ntasks:\n");
    for (int i = 1; i <= S_TASKS; i++) {
        char *more = NULL;
        char next[128] = "";
        if (i < S_TASKS)
            snprintf (next, sizeof next, "    next:\n      - do: t%d\n", i + 1);
        cr_assert (asprintf (&more,
                             "%s  t%d:\n    action: core.local\n    input:\n"
                             "      cmd: sleep 0.1; echo t%d >> <%% ctx().file %%>\n%s",
                             yaml, i, i, next) > 0);
        free (yaml);
        yaml = more;
    }
    testing_daemon_write (daemon, "wf/actions/workflows/steps.yaml", yaml);
    free (yaml);
}

//  The tasks the copy holds as completed: task name -> ""
//  Each task's status in the copy: "completed", or where it was (a task
//  running on a worker in the copy is settled as a lost worker's on
//  restore: core.local is not idempotent, so it is abandoned, not re-run)
static void
s_record_task (void *arg, const json_t *execution)
{
    const char *task = json_string_value (json_object_get (execution, "task"));
    const char *status = json_string_value (json_object_get (execution, "status"));
    if (task && status)
        zhashx_update ((zhashx_t *)arg, task, (void *)strdup (status));
}

static size_t
s_count_status (zhashx_t *tasks, const char *status)
{
    size_t count = 0;
    for (const char *item = (const char *)zhashx_first (tasks); item;
         item = (const char *)zhashx_next (tasks))
        count += streq (item, status);
    return count;
}

Test (backup, a_workflow_continues_from_the_copy_and_no_finished_task_runs_again)
{
    static testing_daemon_t daemon, restored;
    testing_daemon_init (&daemon, "test_backup_wf");
    s_workflow_pack (&daemon);
    testing_daemon_start (&daemon, (const char *[]){"-q", NULL});
    zsock_t *sock = testing_api_client (&daemon);
    char file[PATH_MAX];
    snprintf (file, sizeof file, "%s/lines", daemon.root);
    json_t *run = testing_api_ok (
        sock, "api.execution.run",
        json_pack ("{s:s, s:{s:s}}", "action", "wf.steps", "parameters", "file", file));
    char *id = strdup (json_string_value (json_object_get (run, "execution")));
    json_decref (run);
    int64_t deadline = zclock_mono () + 30000;
    while (testing_count_in_file (file, "\n") < 5 && zclock_mono () < deadline)
        zclock_sleep (20);
    char copy[PATH_MAX - 256];
    snprintf (copy, sizeof copy, "%s/backup", daemon.root);
    json_t *manifest =
        testing_api_ok (sock, "api.backup", json_pack ("{s:s}", "dir", copy));
    json_decref (manifest);
    zsock_destroy (&sock);
    testing_daemon_signal (&daemon, SIGKILL, 5000); //  nothing more after the copy
    zhashx_t *copied = zhashx_new ();
    zhashx_set_destructor (copied, (zhashx_destructor_fn *)zstr_free);
    cr_assert_geq (executor_store_scan (copy, s_record_task, copied), 0);
    size_t completed = s_count_status (copied, "completed");
    cr_assert_lt (completed, S_TASKS, "the copy was taken mid-run");
    cr_assert_gt (completed, 0);

    testing_daemon_init (&restored, "test_backup_wf_restored");
    s_workflow_pack (&restored);
    snprintf (restored.data, sizeof restored.data, "%s", copy);
    testing_daemon_start (&restored, NULL);
    sock = testing_api_client (&restored);
    json_decref (testing_api_wait_status (sock, id, "completed", 60000));
    zsock_destroy (&sock);
    testing_daemon_stop (&restored);
    char *lines = testing_read (file);
    for (int i = 1; i <= S_TASKS; i++) {
        char task[16];
        snprintf (task, sizeof task, "t%d", i);
        int times = s_times (lines, task);
        const char *status = (const char *)zhashx_lookup (copied, task);
        if (status && streq (status, "completed"))
            cr_expect_eq (times, 1, "%s, completed in the copy, ran %d times", task,
                          times);
        else if (status && (streq (status, "running") || streq (status, "scheduled")))
            cr_expect_leq (times, 1, "%s, %s in the copy (abandoned), ran %d times", task,
                           status, times);
        else
            cr_expect_geq (times, 1, "%s never ran", task);
    }
    free (lines);
    zhashx_destroy (&copied);
    free (id);
}
