/*  test_sensors_python: StackStorm Python sensors run unchanged in a live
    attuned (issue 19, item 1). A temporary copy of the hello_st2 pack from
    ../shared/st2-packs, with sensor classes of the test's own (the packs'
    Python was left out): the sensor starts, dispatches, and the pack's
    rule runs its action; a sensor crashing in a loop is started again
    with backoff while the daemon keeps serving (a disabled one never
    starts); a PollingSensor polls at the YAML's poll_interval; trigger
    parameters of enabled rules reach add_trigger / remove_trigger;
    stopping the daemon takes the sensor process with it; linux's
    FileWatchSensor definition (a class of the test's) fires the examples
    pack's file-watch rule; a sensor dispatching 10,000 events (3,000 under
    ASan) loses none of those dispatch returned for across a SIGKILL of
    attuned; a crashing sensor's core.st2.sensor.process_spawn / _exit
    events run the rules on them.
*/
#include "tests/testing_api.h"

#include <errno.h>

static testing_daemon_t s_daemon;

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (sensors_python, .fini = s_teardown, .timeout = 240);

#define S_SHARED ATTUNE_SHARED_DIR "/st2-packs"

//  A daemon whose packs hold a copy of hello_st2 with `sensor` as
//  sensors/sensor1.py (HelloSensor) and a greet.sh.
static void
s_prepare (const char *prefix, const char *sensor)
{
    testing_daemon_init (&s_daemon, prefix);
    char command[PATH_MAX * 2 + 64];
    snprintf (command, sizeof command, "cp -r %s/hello_st2 %s/", S_SHARED,
              s_daemon.packs);
    cr_assert_eq (system (command), 0, "%s", command);
    testing_daemon_write (&s_daemon, "hello_st2/sensors/sensor1.py", sensor);
    testing_daemon_write (&s_daemon, "hello_st2/actions/greet.sh",
                          "#!/bin/sh\necho \"$1, StackStorm!\"\n");
    char script[PATH_MAX + 64];
    snprintf (script, sizeof script, "%s/hello_st2/actions/greet.sh", s_daemon.packs);
    chmod (script, 0755);
}

//  The file's lines, counted
static int
s_lines (const char *path)
{
    return testing_count_in_file (path, "\n");
}

static bool
s_wait_lines (const char *path, int count, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (s_lines (path) < count && zclock_mono () < deadline)
        zclock_sleep (50);
    return s_lines (path) >= count;
}

Test (sensors_python, hello_sensor_dispatches_and_the_rule_runs)
{
    s_prepare ("test_sensors_hello",
               "from st2reactor.sensor.base import Sensor\n"
               "import time\n\n"
               "class HelloSensor(Sensor):\n"
               "    def setup(self):\n"
               "        self._log = self.sensor_service.get_logger('hello')\n"
               "    def run(self):\n"
               "        s = self.sensor_service\n"
               "        s.set_value('count', '41')\n"
               "        n = int(s.get_value('count')) + 1\n"
               "        names = [p.name for p in s.list_values()]\n"
               "        s.delete_value('count')\n"
               "        self._log.info('hello from the sensor: %d %s', n, names)\n"
               "        s.dispatch(trigger='hello_st2.event1',\n"
               "                   payload={'greeting': 'Yo', 'n': n})\n"
               "        while True:\n"
               "            time.sleep(1)\n");
    testing_daemon_start (&s_daemon, NULL);
    cr_assert (testing_daemon_wait_log (&s_daemon,
                                        "sensor hello_st2.HelloSensor: started", 10000));
    cr_assert (testing_daemon_wait_log (
                   &s_daemon, "hello from the sensor: 42 ['hello_st2:count']", 15000),
               "%s", testing_daemon_read_log (&s_daemon));
    zsock_t *sock = testing_api_client (&s_daemon);
    //  The event, then the rule's execution of hello_st2.greet
    json_t *events = NULL;
    int64_t deadline = zclock_mono () + 15000;
    while (zclock_mono () < deadline) {
        events = testing_api_ok (sock, "api.event.list",
                                 json_pack ("{s:s}", "trigger", "hello_st2.event1"));
        if (json_array_size (json_object_get (events, "items")))
            break;
        json_decref (events);
        events = NULL;
        zclock_sleep (50);
    }
    cr_assert_not_null (events, "no hello_st2.event1 event");
    json_t *event = json_array_get (json_object_get (events, "items"), 0);
    cr_assert_eq (
        json_integer_value (json_object_get (json_object_get (event, "payload"), "n")),
        42);
    json_decref (events);
    json_t *found = NULL;
    deadline = zclock_mono () + 20000;
    while (!found && zclock_mono () < deadline) {
        json_t *list = testing_api_ok (sock, "api.execution.list",
                                       json_pack ("{s:s}", "action", "hello_st2.greet"));
        json_t *item = json_array_get (json_object_get (list, "items"), 0);
        if (item && testing_status_terminal (
                        json_string_value (json_object_get (item, "status"))))
            found = json_incref (item);
        json_decref (list);
        if (!found)
            zclock_sleep (100);
    }
    cr_assert_not_null (found, "the rule's execution did not end");
    cr_assert_str_eq (json_string_value (json_object_get (found, "status")), "completed");
    json_decref (found);
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
}

//  The events of `trigger` once there are at least `want` (bounded wait),
//  newest first; NULL when they did not come
static json_t *
s_wait_events (zsock_t *sock, const char *trigger, size_t want, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        json_t *page =
            testing_api_ok (sock, "api.event.list",
                            json_pack ("{s:s, s:i}", "trigger", trigger, "limit", 1000));
        json_t *items = json_incref (json_object_get (page, "items"));
        json_decref (page);
        if (json_array_size (items) >= want)
            return items;
        json_decref (items);
        if (zclock_mono () >= deadline)
            return NULL;
        zclock_sleep (100);
    }
}

//  core.st2.sensor.process_spawn / process_exit of a sensor that crashes:
//  StackStorm's payloads, and the rules on them run
static void
s_check_process_events (zsock_t *sock)
{
    json_t *spawns = s_wait_events (sock, "core.st2.sensor.process_spawn", 3, 10000);
    json_t *exits = s_wait_events (sock, "core.st2.sensor.process_exit", 3, 10000);
    cr_assert_not_null (spawns, "fewer than 3 process_spawn events");
    cr_assert_not_null (exits, "fewer than 3 process_exit events");
    size_t i;
    json_t *event;
    json_array_foreach (spawns, i, event)
    {
        json_t *payload = json_object_get (event, "payload");
        cr_assert_str_eq (json_string_value (json_object_get (payload, "id")),
                          "HelloSensor");
        cr_assert_str_eq (json_string_value (json_object_get (payload, "ref")),
                          "hello_st2.HelloSensor");
        cr_assert_gt (json_integer_value (json_object_get (payload, "pid")), 0);
        cr_assert_gt (json_integer_value (json_object_get (payload, "timestamp")), 0);
        cr_assert (strstr (json_string_value (json_object_get (payload, "cmd")) ?: "",
                           "sensor_wrapper.py"));
    }
    json_array_foreach (exits, i, event)
    {
        json_t *payload = json_object_get (event, "payload");
        cr_assert_str_eq (json_string_value (json_object_get (payload, "id")),
                          "HelloSensor");
        cr_assert_eq (json_integer_value (json_object_get (payload, "exit_code")), 1);
    }
    json_decref (spawns);
    json_decref (exits);
    //  The rule on process_exit (its criteria on exit_code) ran
    json_t *found = NULL;
    int64_t deadline = zclock_mono () + 15000;
    while (!found && zclock_mono () < deadline) {
        json_t *list = testing_api_ok (sock, "api.execution.list",
                                       json_pack ("{s:s}", "rule", "hello_st2.on_exit"));
        found = json_incref (json_array_get (json_object_get (list, "items"), 0));
        json_decref (list);
        if (!found)
            zclock_sleep (100);
    }
    cr_assert_not_null (found, "the rule on process_exit did not run");
    json_decref (found);
}

Test (sensors_python, crashing_sensor_restarts_with_backoff)
{
    s_prepare ("test_sensors_crash", "from st2reactor.sensor.base import Sensor\n\n"
                                     "class HelloSensor(Sensor):\n"
                                     "    def run(self):\n"
                                     "        raise RuntimeError('boom on purpose')\n");
    //  A disabled sensor does not run
    testing_daemon_write (&s_daemon, "hello_st2/sensors/off.yaml",
                          "class_name: OffSensor\nentry_point: sensor1.py\n"
                          "enabled: false\ntrigger_types: [{name: off}]\n");
    //  Rules on the sensor process triggers
    testing_daemon_write (
        &s_daemon, "hello_st2/rules/on_spawn.yaml",
        "name: on_spawn\npack: hello_st2\n"
        "trigger: {type: core.st2.sensor.process_spawn}\n"
        "criteria:\n  trigger.id: {type: equals, pattern: HelloSensor}\n"
        "action: {ref: core.noop}\n");
    testing_daemon_write (&s_daemon, "hello_st2/rules/on_exit.yaml",
                          "name: on_exit\npack: hello_st2\n"
                          "trigger: {type: core.st2.sensor.process_exit}\n"
                          "criteria:\n  trigger.exit_code: {type: equals, pattern: 1}\n"
                          "action: {ref: core.noop}\n");
    testing_daemon_start (&s_daemon, NULL);
    //  1 s, 2 s, 4 s: the third start comes about 3 s after the first crash
    cr_assert (testing_daemon_wait_log (&s_daemon, "starting it again in 4000 ms", 20000),
               "%s", testing_daemon_read_log (&s_daemon));
    char *log = testing_daemon_read_log (&s_daemon);
    cr_assert (
        strstr (log, "sensor hello_st2.HelloSensor: RuntimeError: boom on purpose"),
        "the traceback is logged with the sensor's name:\n%s", log);
    cr_assert (strstr (log, "starting it again in 1000 ms"));
    cr_assert (strstr (log, "starting it again in 2000 ms"));
    cr_assert_null (strstr (log, "sensor hello_st2.OffSensor"), "%s", log);
    free (log);
    zsock_t *sock = testing_api_client (&s_daemon);
    json_decref (testing_api_ok (sock, "api.ping", NULL));
    s_check_process_events (sock);
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
}

//  `attune --api <daemon> sensor ARGS`: its stdout (caller frees), the
//  exit code asserted
static char *
s_cli (int expect, const char *a1, const char *a2)
{
    const char *argv[] = {
        ATTUNE_HELPER_DIR "/attune", "--api", s_daemon.api, "sensor", a1, a2, NULL};
    char *out = NULL, *err = NULL;
    int rc = testing_run (argv, NULL, &out, &err, 20000);
    cr_assert_eq (rc, expect, "attune sensor %s %s: %d\n%s%s", a1, a2 ? a2 : "", rc,
                  out ? out : "", err ? err : "");
    free (err);
    return out;
}

//  api.sensor.get of `ref` once its process is in `state` (bounded wait)
static json_t *
s_wait_sensor (zsock_t *sock, const char *ref, const char *state)
{
    int64_t deadline = zclock_mono () + 15000;
    while (true) {
        json_t *sensor =
            testing_api_ok (sock, "api.sensor.get", json_pack ("{s:s}", "ref", ref));
        json_t *process = json_object_get (sensor, "process");
        const char *now = json_string_value (json_object_get (process, "state"));
        if ((!state && json_is_null (process)) || (state && now && streq (now, state)))
            return sensor;
        cr_assert (zclock_mono () < deadline, "sensor %s: not %s: %s", ref,
                   state ? state : "without a process", json_dumps (sensor, 0));
        json_decref (sensor);
        zclock_sleep (100);
    }
}

//  api.sensor.list / get and `attune sensor list|get|enable|disable`: the
//  definition, enabled, the process; a switch stops or starts the process
//  and is kept across a restart of the daemon
Test (sensors_python, sensor_list_get_enable_disable)
{
    //  The sensor also dispatches from 4 threads at once (one connection
    //  each): every dispatch stored
    s_prepare ("test_sensors_admin",
               "from st2reactor.sensor.base import Sensor\n"
               "import os, threading, time\n\n"
               "class HelloSensor(Sensor):\n"
               "    def run(self):\n"
               "        def work(k):\n"
               "            for i in range(50):\n"
               "                self.sensor_service.dispatch('hello_st2.event1',\n"
               "                                             {'t': k, 'i': i})\n"
               "        if not os.path.exists(self.config['done']):\n"
               "            threads = [threading.Thread(target=work, args=(k,))\n"
               "                       for k in range(4)]\n"
               "            [t.start() for t in threads]\n"
               "            [t.join() for t in threads]\n"
               "            open(self.config['done'], 'w').close()\n"
               "            self.sensor_service.get_logger('t').info('threads done')\n"
               "        while True:\n"
               "            time.sleep(1)\n");
    char path[PATH_MAX + 64], text[PATH_MAX + 16];
    snprintf (path, sizeof path, "%s/hello_st2/rules/rule1.yaml", s_daemon.packs);
    unlink (path);
    snprintf (text, sizeof text, "done: %s/threads.done\n", s_daemon.root);
    testing_write (s_daemon.root, "configs/hello_st2.yaml", text);
    testing_daemon_write (&s_daemon, "hello_st2/sensors/off.yaml",
                          "class_name: OffSensor\nentry_point: sensor1.py\n"
                          "enabled: false\ntrigger_types: [{name: off}]\n");
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    cr_assert (testing_daemon_wait_log (&s_daemon, "threads done", 30000), "%s",
               testing_daemon_read_log (&s_daemon));
    json_t *events = s_wait_events (sock, "hello_st2.event1", 200, 5000);
    cr_assert_not_null (events);
    cr_assert_eq (json_array_size (events), 200);
    json_decref (events);
    json_t *hello = s_wait_sensor (sock, "hello_st2.HelloSensor", "running");
    json_t *process = json_object_get (hello, "process");
    pid_t pid = (pid_t)json_integer_value (json_object_get (process, "pid"));
    cr_assert_gt (pid, 0);
    cr_assert_eq (kill (pid, 0), 0);
    cr_assert (json_is_true (json_object_get (hello, "enabled")));
    cr_assert_str_eq (json_string_value (json_object_get (hello, "class_name")),
                      "HelloSensor");
    cr_assert_str_eq (
        json_string_value (json_array_get (json_object_get (hello, "trigger_types"), 0)),
        "hello_st2.event1");
    cr_assert_null (json_object_get (hello, "pack_dir"), "no server paths");
    json_decref (hello);
    json_t *list = testing_api_ok (sock, "api.sensor.list",
                                   json_pack ("{s:s}", "pack", "hello_st2"));
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 2);
    json_decref (list);
    json_t *off = s_wait_sensor (sock, "hello_st2.OffSensor", NULL);
    cr_assert (json_is_false (json_object_get (off, "enabled")));
    json_decref (off);
    testing_api_fails (sock, "api.sensor.get", json_pack ("{s:s}", "ref", "no.such"),
                       "not_found");
    //  The CLI: a table, a record
    char *out = s_cli (0, "list", NULL);
    cr_assert (strstr (out, "hello_st2.HelloSensor") && strstr (out, "running") &&
                   strstr (out, "hello_st2.OffSensor"),
               "%s", out);
    free (out);
    out = s_cli (0, "get", "hello_st2.HelloSensor");
    cr_assert (strstr (out, "hello_st2.event1"), "%s", out);
    free (out);
    free (s_cli (1, "get", "no.such"));
    //  disable: the process stops; enable the one its YAML disables
    free (s_cli (0, "disable", "hello_st2.HelloSensor"));
    json_decref (s_wait_sensor (sock, "hello_st2.HelloSensor", NULL));
    int64_t deadline = zclock_mono () + 10000;
    while (kill (pid, 0) == 0 && zclock_mono () < deadline)
        zclock_sleep (50);
    cr_assert_neq (kill (pid, 0), 0, "the disabled sensor's process is gone");
    free (s_cli (0, "enable", "hello_st2.OffSensor"));
    json_decref (s_wait_sensor (sock, "hello_st2.OffSensor", "running"));
    zsock_destroy (&sock);
    //  The switches outlive the daemon
    testing_daemon_stop (&s_daemon);
    testing_daemon_start (&s_daemon, NULL);
    sock = testing_api_client (&s_daemon);
    json_t *on = s_wait_sensor (sock, "hello_st2.OffSensor", "running");
    cr_assert (json_is_true (json_object_get (on, "switch")));
    cr_assert (json_is_false (json_object_get (on, "enabled_in_pack")));
    json_decref (on);
    hello = s_wait_sensor (sock, "hello_st2.HelloSensor", NULL);
    cr_assert (json_is_false (json_object_get (hello, "enabled")));
    json_decref (hello);
    //  enabled again: it runs
    json_decref (testing_api_ok (sock, "api.sensor.enable",
                                 json_pack ("{s:s}", "ref", "hello_st2.HelloSensor")));
    json_decref (s_wait_sensor (sock, "hello_st2.HelloSensor", "running"));
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
}

Test (sensors_python, polling_sensor_trigger_parameters_and_daemon_stop)
{
    s_prepare ("test_sensors_params",
               "from st2reactor.sensor.base import PollingSensor\n"
               "import json, os\n\n"
               "class HelloSensor(PollingSensor):\n"
               "    def _note(self, what, trigger):\n"
               "        with open(self.config.get('notes'), 'a') as f:\n"
               "            f.write(json.dumps([what, trigger['type'],\n"
               "                    trigger['parameters']]) + '\\n')\n"
               "    def add_trigger(self, trigger):\n"
               "        self._note('add', trigger)\n"
               "    def remove_trigger(self, trigger):\n"
               "        self._note('remove', trigger)\n"
               "    def poll(self):\n"
               "        with open(self.config['pid'], 'a') as f:\n"
               "            f.write('%d %s\\n' % (os.getpid(),\n"
               "                                   self.get_poll_interval()))\n");
    //  A trigger type with parameters, and two rules on it with the same
    //  parameters (one instance) and one with others
    testing_daemon_write (
        &s_daemon, "hello_st2/sensors/sensor1.yaml",
        "class_name: HelloSensor\nentry_point: sensor1.py\n"
        "poll_interval: 0.1\ntrigger_types:\n  - name: event1\n  - name: watch\n"
        "    parameters_schema:\n      type: object\n"
        "      properties:\n        path: {type: string}\n");
    const char *rules[][2] = {{"w1", "/a"}, {"w2", "/a"}, {"w3", "/b"}};
    char text[PATH_MAX * 2 + 64];
    for (int i = 0; i < 3; i++) {
        char path[64];
        snprintf (path, sizeof path, "hello_st2/rules/%s.yaml", rules[i][0]);
        snprintf (text, sizeof text,
                  "name: %s\npack: hello_st2\ntrigger:\n  type: hello_st2.watch\n"
                  "  parameters: {path: %s}\naction:\n  ref: core.noop\n",
                  rules[i][0], rules[i][1]);
        testing_daemon_write (&s_daemon, path, text);
    }
    char notes[PATH_MAX], pidfile[PATH_MAX];
    snprintf (notes, sizeof notes, "%s/notes", s_daemon.root);
    snprintf (pidfile, sizeof pidfile, "%s/pid", s_daemon.root);
    snprintf (text, sizeof text, "notes: %s\npid: %s\n", notes, pidfile);
    testing_write (s_daemon.root, "configs/hello_st2.yaml", text);
    testing_daemon_start (&s_daemon, NULL);
    //  event1 (no parameters), watch /a, watch /b
    cr_assert (s_wait_lines (notes, 3, 15000), "%s", testing_daemon_read_log (&s_daemon));
    zclock_sleep (300);
    char *seen = testing_read (notes);
    cr_assert_eq (s_lines (notes), 3, "%s", seen);
    cr_assert (strstr (seen, "[\"add\", \"hello_st2.watch\", {\"path\": \"/a\"}]"), "%s",
               seen);
    cr_assert (strstr (seen, "[\"add\", \"hello_st2.watch\", {\"path\": \"/b\"}]"));
    cr_assert (strstr (seen, "[\"add\", \"hello_st2.event1\", {}]"));
    free (seen);
    //  Disabling w3 removes /b; disabling w1 keeps /a (w2 uses it)
    zsock_t *sock = testing_api_client (&s_daemon);
    json_decref (testing_api_ok (sock, "api.rule.disable",
                                 json_pack ("{s:s}", "ref", "hello_st2.w3")));
    json_decref (testing_api_ok (sock, "api.rule.disable",
                                 json_pack ("{s:s}", "ref", "hello_st2.w1")));
    cr_assert (s_wait_lines (notes, 4, 10000));
    zclock_sleep (300);
    seen = testing_read (notes);
    cr_assert_eq (s_lines (notes), 4, "%s", seen);
    cr_assert (strstr (seen, "[\"remove\", \"hello_st2.watch\", {\"path\": \"/b\"}]"),
               "%s", seen);
    free (seen);
    zsock_destroy (&sock);
    //  PollingSensor: poll() every poll_interval (0.1 s, from the YAML)
    cr_assert (s_wait_lines (pidfile, 5, 5000));
    char *pid_text = testing_read (pidfile);
    cr_assert (strstr (pid_text, " 0.1\n"), "%s", pid_text);
    //  The daemon stops: the sensor process is gone
    pid_t pid = (pid_t)atoi (pid_text);
    free (pid_text);
    cr_assert_gt (pid, 0);
    cr_assert_eq (kill (pid, 0), 0);
    testing_daemon_stop (&s_daemon);
    int64_t deadline = zclock_mono () + 5000;
    while (kill (pid, 0) == 0 && zclock_mono () < deadline)
        zclock_sleep (20);
    cr_assert_eq (kill (pid, 0), -1, "sensor process %d outlived the daemon", (int)pid);
}

#define S_COUNT (TESTING_SANITIZED ? 3000 : 10000)

//  Every n of the events stored for hello_st2.event1, as a bitmap
static int
s_stored (zsock_t *sock, bool *seen)
{
    int count = 0;
    json_t *before = NULL;
    while (true) {
        json_t *request =
            json_pack ("{s:s, s:i}", "trigger", "hello_st2.event1", "limit", 1000);
        if (before)
            json_object_set_new (request, "before", before);
        json_t *page = testing_api_ok (sock, "api.event.list", request);
        size_t i;
        json_t *event;
        json_array_foreach (json_object_get (page, "items"), i, event)
        {
            json_int_t n = json_integer_value (
                json_object_get (json_object_get (event, "payload"), "n"));
            if (n >= 0 && n < S_COUNT && !seen[n]) {
                seen[n] = true;
                count++;
            }
        }
        json_t *next = json_object_get (page, "next");
        before = json_is_null (next) || !next ? NULL : json_incref (next);
        json_decref (page);
        if (!before)
            break;
    }
    return count;
}

//  The sensor of the SIGKILL test: dispatches n = 0 .. count-1 as fast as
//  it can, from 4 threads (each dispatch durable before it returns; the
//  threads share the rules actor's commits), writing each n to `done` once
//  dispatch returned for it; a start after the first dispatches the n not
//  written yet (what the SIGKILL cut)
#define S_KILL_SENSOR                                                                    \
    "from st2reactor.sensor.base import Sensor\n"                                        \
    "import os, threading, time\n\n"                                                     \
    "class HelloSensor(Sensor):\n"                                                       \
    "    def run(self):\n"                                                               \
    "        done, count = self.config['done'], self.config['count']\n"                  \
    "        seen = set()\n"                                                             \
    "        if os.path.exists(done):\n"                                                 \
    "            with open(done) as f:\n"                                                \
    "                seen = {int(l) for l in f.read().split('\\n') if l.isdigit()}\n"    \
    "        unsent = iter([n for n in range(count) if n not in seen])\n"                \
    "        lock = threading.Lock()\n"                                                  \
    "        log = self.sensor_service.get_logger('bench')\n"                            \
    "        start, returned = time.monotonic(), [0]\n"                                  \
    "        out = open(done, 'a')\n"                                                    \
    "        def work():\n"                                                              \
    "            while True:\n"                                                          \
    "                with lock:\n"                                                       \
    "                    n = next(unsent, None)\n"                                       \
    "                if n is None:\n"                                                    \
    "                    return\n"                                                       \
    "                self.sensor_service.dispatch('hello_st2.event1', {'n': n})\n"       \
    "                with lock:\n"                                                       \
    "                    out.write('%d\\n' % n)\n"                                       \
    "                    out.flush()\n"                                                  \
    "                    returned[0] += 1\n"                                             \
    "                    if returned[0] == 1000:\n"                                      \
    "                        t = time.monotonic() - start\n"                             \
    "                        log.info('dispatched 1000 events in %.3f s: %.0f/s'\n"      \
    "                                 ' (4 threads)', t, 1000 / t)\n"                    \
    "        threads = [threading.Thread(target=work) for _ in range(4)]\n"              \
    "        [t.start() for t in threads]\n"                                             \
    "        [t.join() for t in threads]\n"                                              \
    "        log.info('dispatched all %d events', count)\n"                              \
    "        while True:\n"                                                              \
    "            time.sleep(1)\n"

//  10,000 events (3,000 under ASan, slower) dispatched as fast as one
//  sensor can (4 threads), attuned SIGKILLed a third of the way, the sensor resuming
//  after the restart: every n dispatch returned for is in the store
Test (sensors_python, sigkill_loses_no_returned_dispatch)
{
    s_prepare ("test_sensors_kill", S_KILL_SENSOR);
    //  No rule on the events: only their durability is under test
    char path[PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/hello_st2/rules/rule1.yaml", s_daemon.packs);
    unlink (path);
    char done[PATH_MAX], text[PATH_MAX + 64];
    snprintf (done, sizeof done, "%s/done", s_daemon.root);
    snprintf (text, sizeof text, "done: %s\ncount: %d\n", done, S_COUNT);
    testing_write (s_daemon.root, "configs/hello_st2.yaml", text);
    testing_daemon_start (&s_daemon, NULL);
    cr_assert (s_wait_lines (done, S_COUNT / 3, 180000), "%s",
               testing_daemon_read_log (&s_daemon));
    kill (s_daemon.pid, SIGKILL);
    waitpid (s_daemon.pid, NULL, 0);
    char *log = testing_daemon_read_log (&s_daemon);
    const char *rate = strstr (log, "dispatched 1000 events in");
    if (rate)
        printf ("sensor_service.dispatch (durable, one sensor): %.*s\n",
                (int)strcspn (rate, "\n"), rate);
    free (log);
    zclock_sleep (300); //  the sensor process ends with its parent
    int returned = s_lines (done);
    //  The restarted daemon starts the sensor again: it dispatches the rest
    testing_daemon_start (&s_daemon, NULL);
    cr_assert (testing_daemon_wait_log (&s_daemon, "dispatched all", 240000), "%s",
               testing_daemon_read_log (&s_daemon));
    zsock_t *sock = testing_api_client (&s_daemon);
    bool *seen = (bool *)calloc (S_COUNT, sizeof (bool));
    int stored = s_stored (sock, seen);
    char *lines = testing_read (done);
    int missing = 0, count = 0;
    for (char *line = lines; line && *line; line = strchr (line, '\n') + 1) {
        int n = atoi (line);
        count++;
        if (n >= 0 && n < S_COUNT && !seen[n])
            missing++;
        if (!strchr (line, '\n'))
            break;
    }
    printf ("dispatch returned for %d of %d events before the SIGKILL; %d stored in "
            "all\n",
            returned, S_COUNT, stored);
    cr_assert_eq (missing, 0, "%d returned dispatches are not in the store", missing);
    cr_assert_geq (count, S_COUNT);
    cr_assert_eq (stored, S_COUNT);
    free (lines);
    free (seen);
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
}

//  linux's FileWatchSensor definition with a small class of the test's own,
//  and the examples pack's rule on linux.file_watch.line (its file_path
//  pointed into the test's directory): a line appended runs the rule
Test (sensors_python, linux_file_watch_fires_the_examples_rule)
{
    s_prepare ("test_sensors_linux", "from st2reactor.sensor.base import Sensor\n\n"
                                     "class HelloSensor(Sensor):\n"
                                     "    def run(self):\n"
                                     "        pass\n");
    char command[PATH_MAX * 3 + 128];
    snprintf (command, sizeof command, "cp -r %s/linux %s/examples %s/", S_SHARED,
              S_SHARED, s_daemon.packs);
    cr_assert_eq (system (command), 0, "%s", command);
    char watched[PATH_MAX];
    snprintf (watched, sizeof watched, "%s/watched.log", s_daemon.root);
    testing_write (s_daemon.root, "watched.log", "");
    snprintf (
        command, sizeof command,
        "sed -i 's|/tmp/st2_test|%s|' %s/examples/rules/sample_rule_file_watch.yaml",
        watched, s_daemon.packs);
    cr_assert_eq (system (command), 0, "%s", command);
    testing_daemon_write (
        &s_daemon, "linux/sensors/file_watch_sensor.py",
        "import os, time\n"
        "from st2reactor.sensor.base import Sensor\n\n"
        "class FileWatchSensor(Sensor):\n"
        "    def setup(self):\n"
        "        self._files = {}\n"
        "    def add_trigger(self, trigger):\n"
        "        path = trigger['parameters']['file_path']\n"
        "        self._files[path] = [trigger['ref'], os.path.getsize(path)]\n"
        "    def remove_trigger(self, trigger):\n"
        "        self._files.pop(trigger['parameters']['file_path'], None)\n"
        "    def run(self):\n"
        "        while True:\n"
        "            for path, watch in list(self._files.items()):\n"
        "                with open(path) as f:\n"
        "                    f.seek(watch[1])\n"
        "                    for line in f.readlines():\n"
        "                        self.sensor_service.dispatch(watch[0], {\n"
        "                            'file_path': path, 'line': line.rstrip(),\n"
        "                            'file_name': os.path.basename(path)})\n"
        "                    watch[1] = f.tell()\n"
        "            time.sleep(0.05)\n");
    testing_daemon_start (&s_daemon, NULL);
    cr_assert (testing_daemon_wait_log (&s_daemon,
                                        "sensor linux.FileWatchSensor: started", 15000),
               "%s", testing_daemon_read_log (&s_daemon));
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *found = NULL;
    int64_t deadline = zclock_mono () + 20000;
    while (!found && zclock_mono () < deadline) {
        //  Appended until the sensor has the trigger and sees one
        FILE *file = fopen (watched, "a");
        cr_assert_not_null (file);
        fprintf (file, "hello from the test\n");
        fclose (file);
        zclock_sleep (300);
        json_t *list = testing_api_ok (
            sock, "api.execution.list",
            json_pack ("{s:s}", "rule", "examples.sample_rule_file_watch"));
        json_t *item = json_array_get (json_object_get (list, "items"), 0);
        if (item && testing_status_terminal (
                        json_string_value (json_object_get (item, "status"))))
            found = json_incref (item);
        json_decref (list);
    }
    cr_assert_not_null (found, "the examples rule did not run:\n%s",
                        testing_daemon_read_log (&s_daemon));
    cr_assert_str_eq (json_string_value (json_object_get (found, "status")), "completed");
    json_decref (found);
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
}
