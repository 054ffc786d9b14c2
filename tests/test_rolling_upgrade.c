/*  test_rolling_upgrade: a worker one version behind, in a split
    deployment, keeps working (proto/PROTOCOL.md, "Versioning").

    The core is a real attuned without the worker actor (--actors
    registry,executor,rules,api) and its executor.commands on loopback tcp.
    The "older worker" is written here, on the bus classes (bus_link to
    executor.commands, bus_inbox on its own endpoint, envelopes built from
    JSON): it sends only the required fields of worker.register and
    execution.status (proto/proto_messages.c's table), never a claim nor an
    execution.output chunk, and reads only the required fields of
    execution.dispatch (execution, action.ref, action.runner_type,
    parameters), noting and ignoring the rest the newer core sends. It
    reports `running` (no claim: what a timer does) and later the terminal
    status with its result.

    Checked: both executions complete with the worker's result; the second
    is dispatched while the first runs; the worker stays up (its link's
    heartbeats) for several liveness timeouts; the core logs no rejection
    or error. The other direction, at message level: a command on the
    worker endpoint (executor.commands) whose envelope has a `v` the core
    does not speak is refused with `version` (tests/test_versions.c does
    the same on the api).
*/
#include "tests/testing_api.h"
#include "bus/bus_inbox.h"
#include "bus/bus_link.h"

#define S_NAME "old-worker"

static testing_daemon_t s_daemon;

static void
s_fini (void)
{
    testing_daemon_stop_all ();
}

TestSuite (rolling_upgrade, .fini = s_fini, .timeout = 90);

//  The older worker: what it knows of the protocol, and what it saw
typedef struct {
    bus_inbox_t *inbox;
    bus_link_t *link;
    char endpoint[64];
    char dispatched[4][64]; //  execution ids, in order
    size_t dispatches;
    size_t reconciled;
    json_t *ignored; //  dispatch fields it does not know: {"secret": true, ...}
    json_t *parameters[4];
    size_t rejected; //  ERRs the core answered its commands with
} s_old_t;

static void
s_on_reject (void *arg, const proto_envelope_t *command, const char *code,
             const char *message)
{
    ((s_old_t *)arg)->rejected++;
    fprintf (stderr, "the core rejected %s: %s: %s\n", proto_envelope_type (command),
             code, message);
}

//  Note what is not among the fields an old worker knows of `object`.
static void
s_note_unknown (s_old_t *self, const char *prefix, json_t *object,
                const char *const known[])
{
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value)
    {
        bool is_known = false;
        for (size_t i = 0; known[i] && !is_known; i++)
            is_known = streq (known[i], key);
        if (!is_known) {
            char path[128];
            snprintf (path, sizeof path, "%s%s", prefix, key);
            json_object_set_new (self->ignored, path, json_true ());
        }
    }
}

static int
s_on_command (void *arg, store_txn_t *txn, proto_envelope_t *command, bus_command_t *info)
{
    (void)txn;
    (void)info;
    s_old_t *self = (s_old_t *)arg;
    const char *type = proto_envelope_type (command);
    if (streq (type, "worker.reconciled"))
        self->reconciled++;
    if (!streq (type, "execution.dispatch"))
        return 0; //  anything else: an old worker has nothing to do with it
    json_t *payload = proto_envelope_payload_json (command, NULL);
    cr_assert_not_null (payload);
    //  The required fields, the only ones it reads
    const char *id = json_string_value (json_object_get (payload, "execution"));
    json_t *action = json_object_get (payload, "action");
    cr_assert_not_null (id);
    cr_assert_not_null (json_string_value (json_object_get (action, "ref")));
    cr_assert_not_null (json_string_value (json_object_get (action, "runner_type")));
    cr_assert (json_is_object (json_object_get (payload, "parameters")));
    static const char *const known[] = {"execution", "action", "parameters", NULL};
    static const char *const known_action[] = {"ref", "runner_type", NULL};
    s_note_unknown (self, "", payload, known);
    s_note_unknown (self, "action.", action, known_action);
    bool held = false;
    for (size_t i = 0; i < self->dispatches; i++)
        held |= streq (self->dispatched[i], id);
    if (!held && self->dispatches < 4) {
        snprintf (self->dispatched[self->dispatches], 64, "%s", id);
        self->parameters[self->dispatches] =
            json_incref (json_object_get (payload, "parameters"));
        self->dispatches++;
    }
    json_decref (payload);
    return 0;
}

//  Send a command with exactly `payload` (taken).
static void
s_send (s_old_t *self, const char *type, json_t *payload)
{
    proto_envelope_t *envelope = proto_envelope_new (type, S_NAME);
    cr_assert_not_null (envelope);
    proto_error_t error;
    cr_assert_eq (proto_envelope_set_payload_json (envelope, payload, &error), PROTO_OK,
                  "%s", error.message);
    json_decref (payload);
    cr_assert_eq (bus_link_send (self->link, &envelope), 0);
}

//  Serve the inbox and the link for `ms` (heartbeats, ACKs, commands).
static void
s_pump (s_old_t *self, int ms)
{
    int64_t until = zclock_mono () + ms;
    while (zclock_mono () < until) {
        zmq_pollitem_t items[2] = {
            {zsock_resolve (bus_inbox_sock (self->inbox)), 0, ZMQ_POLLIN, 0},
            {zsock_resolve (bus_link_sock (self->link)), 0, ZMQ_POLLIN, 0}};
        zmq_poll (items, 2, 20);
        if (items[0].revents & ZMQ_POLLIN)
            bus_inbox_process (self->inbox, s_on_command, self);
        if (items[1].revents & ZMQ_POLLIN)
            bus_link_handle (self->link);
        bus_inbox_tick (self->inbox);
        bus_link_tick (self->link);
    }
}

//  Serve the worker until `condition` holds, at most timeout_ms (asserts).
#define S_PUMP_UNTIL(self, condition, timeout_ms)                                        \
    do {                                                                                 \
        int64_t deadline_ = zclock_mono () + (timeout_ms);                               \
        while (!(condition) && zclock_mono () < deadline_)                               \
            s_pump ((self), 20);                                                         \
        cr_assert ((condition), "not within %d ms: %s", (int)(timeout_ms), #condition);  \
    } while (0)

static void
s_old_start (s_old_t *self, const char *executor_commands)
{
    memset (self, 0, sizeof *self);
    self->ignored = json_object ();
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    config.heartbeat_ms = 200; //  as the core's --heartbeat (testing_daemon)
    snprintf (self->endpoint, sizeof self->endpoint, "tcp://127.0.0.1:%d",
              testing_free_port ());
    self->inbox = bus_inbox_new (self->endpoint, S_NAME, NULL, &config);
    cr_assert_not_null (self->inbox);
    self->link = bus_link_new (executor_commands, S_NAME, &config);
    cr_assert_not_null (self->link);
    bus_link_set_reject_handler (self->link, s_on_reject, self);
    //  worker.register with its required fields only
    s_send (self, "worker.register",
            json_pack ("{s:s, s:i, s:s, s:[s], s:i}", "worker", S_NAME, "instance", 7,
                       "endpoint", self->endpoint, "runtimes", "local-shell-cmd", "slots",
                       2));
}

static void
s_old_stop (s_old_t *self)
{
    bus_link_destroy (&self->link);
    bus_inbox_destroy (&self->inbox);
    for (size_t i = 0; i < self->dispatches; i++)
        json_decref (self->parameters[i]);
    json_decref (self->ignored);
}

//  The core without a worker, its executor.commands on a loopback port.
static void
s_core_start (char *commands, size_t size)
{
    testing_daemon_init (&s_daemon, "test_rolling");
    testing_daemon_write (&s_daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    //  A secret parameter: the dispatch carries `secret` (optional)
    testing_daemon_write (&s_daemon, "test/actions/job.yaml",
                          "name: job\nrunner_type: local-shell-cmd\n"
                          "entry_point: 'echo never run here'\n"
                          "parameters:\n  n:\n    type: integer\n    required: true\n"
                          "  token:\n    type: string\n    secret: true\n"
                          "    default: s3cret\n");
    snprintf (commands, size, "tcp://127.0.0.1:%d", testing_free_port ());
    char cfg[512];
    snprintf (cfg, sizeof cfg, "endpoints\n    executor.commands = %s\n", commands);
    testing_write (s_daemon.root, "core.cfg", cfg);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/core.cfg", s_daemon.root);
    const char *extra[] = {"-c", path, "--actors", "registry,executor,rules,api", NULL};
    testing_daemon_start (&s_daemon, extra);
}

static bool
s_worker_alive (zsock_t *api)
{
    json_t *list = testing_api_ok (api, "api.worker.list", NULL);
    bool alive = false;
    size_t i;
    json_t *item;
    json_array_foreach (json_object_get (list, "items"), i, item)
    {
        if (streq (json_string_value (json_object_get (item, "worker")) ?: "", S_NAME))
            alive = json_is_true (json_object_get (item, "alive"));
    }
    json_decref (list);
    return alive;
}

static char *
s_run (zsock_t *api, int n)
{
    json_t *reply = testing_api_ok (
        api, "api.execution.run",
        json_pack ("{s:s, s:{s:i}}", "action", "test.job", "parameters", "n", n));
    char *id = strdup (json_string_value (json_object_get (reply, "execution")));
    json_decref (reply);
    return id;
}

static void
s_status (s_old_t *old, const char *id, const char *status, json_t *result)
{
    json_t *payload = json_pack ("{s:s, s:s, s:s}", "execution", id, "worker", S_NAME,
                                 "status", status);
    if (result)
        json_object_set_new (payload, "result", result);
    s_send (old, "execution.status", payload);
}

//  How many lines of the log are of `level` ('E' error, 'W' warning)
static size_t
s_lines_of_level (const char *log, char level)
{
    size_t count = 0;
    for (const char *line = log; line && *line; line = strchr (line, '\n')) {
        if (*line == '\n')
            line++;
        count += line[0] == level && line[1] == ':';
    }
    return count;
}

//  Serve the old worker until execution `id` is `status`; its record.
static json_t *
s_wait_status (s_old_t *old, zsock_t *api, const char *id, const char *status)
{
    int64_t deadline = zclock_mono () + 10000;
    while (true) {
        s_pump (old, 50);
        json_t *record =
            testing_api_ok (api, "api.execution.get", json_pack ("{s:s}", "id", id));
        if (streq (json_string_value (json_object_get (record, "status")) ?: "", status))
            return record;
        cr_assert_lt (zclock_mono (), deadline, "not %s: %s", status,
                      json_dumps (record, 0));
        json_decref (record);
    }
}

Test (rolling_upgrade, a_worker_one_version_behind_keeps_working)
{
    char commands[64];
    s_core_start (commands, sizeof commands);
    zsock_t *api = testing_api_client (&s_daemon);
    s_old_t old;
    s_old_start (&old, commands);
    S_PUMP_UNTIL (&old, old.reconciled >= 1, 10000);

    //  The first execution: dispatched, reported running (no claim)
    char *first = s_run (api, 1);
    S_PUMP_UNTIL (&old, old.dispatches >= 1, 10000);
    cr_assert_str_eq (old.dispatched[0], first);
    s_status (&old, first, "running", NULL);
    json_decref (s_wait_status (&old, api, first, "running"));

    //  A second one while the first runs: dispatched too
    char *second = s_run (api, 2);
    S_PUMP_UNTIL (&old, old.dispatches >= 2, 10000);
    cr_assert_str_eq (old.dispatched[1], second);
    cr_assert_eq (json_integer_value (json_object_get (old.parameters[1], "n")), 2);

    //  Up for several liveness timeouts (3 × 200 ms) on heartbeats alone
    for (int i = 0; i < 5; i++) {
        s_pump (&old, 400);
        cr_assert (s_worker_alive (api), "the old worker was declared down");
    }

    //  Both end with its result (terminal only, as noop reports)
    s_status (&old, second, "completed", json_pack ("{s:i}", "answer", 2));
    s_status (&old, first, "completed", json_pack ("{s:i}", "answer", 1));
    const char *ids[] = {first, second};
    for (int i = 0; i < 2; i++) {
        json_t *record = s_wait_status (&old, api, ids[i], "completed");
        json_t *result = json_object_get (record, "result");
        cr_assert_eq (json_integer_value (json_object_get (result, "answer")), i + 1,
                      "%s", json_dumps (record, 0));
        json_decref (record);
    }
    //  Everything it sent was acknowledged, nothing rejected
    S_PUMP_UNTIL (&old, bus_link_unacked (old.link) == 0, 5000);
    cr_assert_eq (old.rejected, 0);

    //  The newer core sent fields the old worker does not know, and it
    //  ignored them
    cr_assert (json_object_get (old.ignored, "secret"), "%s",
               json_dumps (old.ignored, 0));
    cr_assert (json_object_get (old.ignored, "action.entry_point"));
    cr_assert (json_object_get (old.ignored, "action.idempotent"));

    //  No error, no rejection in the core's log
    char *log = testing_daemon_read_log (&s_daemon);
    cr_assert_null (strstr (log, "rejected"), "%s", log);
    cr_assert_null (strstr (log, "bad_request"), "%s", log);
    cr_assert_eq (s_lines_of_level (log, 'E'), 0, "%s", log);
    cr_assert_eq (s_lines_of_level (log, 'W'), 0, "%s", log);
    cr_assert_null (strstr (log, "s3cret"), "%s", log);
    free (log);

    free (first);
    free (second);
    s_old_stop (&old);
    zsock_destroy (&api);
    testing_daemon_stop (&s_daemon);
}

//  One CMD of `envelope` (raw bytes) as a sender whose epoch is `epoch`.
static void
s_raw_command (zsock_t *dealer, uint64_t epoch, const char *envelope, size_t size)
{
    uint8_t header[24];
    uint64_t fields[3] = {epoch, 1, 1};
    for (int f = 0; f < 3; f++)
        for (int b = 0; b < 8; b++)
            header[f * 8 + b] = (uint8_t)(fields[f] >> (56 - 8 * b));
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "CMD");
    zmsg_addmem (msg, header, sizeof header);
    zmsg_addmem (msg, envelope, size);
    cr_assert_eq (zmsg_send (&msg, dealer), 0);
}

Test (rolling_upgrade, a_worker_of_another_version_is_refused_with_version)
{
    char commands[64];
    s_core_start (commands, sizeof commands);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_identity (dealer, "newer-worker");
    zsock_set_rcvtimeo (dealer, 5000);
    cr_assert_eq (zsock_connect (dealer, "%s", commands), 0);
    //  worker.register in an envelope of the next `v`
    proto_envelope_t *envelope = proto_envelope_new ("worker.register", "newer-worker");
    json_t *payload = json_pack ("{s:s, s:i, s:s, s:[s], s:i}", "worker", "newer-worker",
                                 "instance", 1, "endpoint", "tcp://127.0.0.1:1",
                                 "runtimes", "local-shell-cmd", "slots", 1);
    proto_error_t error;
    cr_assert_eq (proto_envelope_set_payload_json (envelope, payload, &error), PROTO_OK);
    json_decref (payload);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (proto_envelope_encode (envelope, &buffer), 0);
    //  "v" is the first key, written by attune as fixstr "v" then its value
    cr_assert_eq ((uint8_t)buffer.data[1], 0xa1);
    cr_assert_eq (buffer.data[2], 'v');
    cr_assert_eq (buffer.data[3], PROTO_VERSION);
    buffer.data[3] = PROTO_VERSION + 1;
    uint64_t epoch = (uint64_t)zclock_time () * 1000;
    s_raw_command (dealer, epoch, buffer.data, buffer.size);
    //  ERR epoch seq code message (HBs may come first)
    bool refused = false;
    for (int i = 0; i < 20 && !refused; i++) {
        zmsg_t *msg = zmsg_recv (dealer);
        cr_assert_not_null (msg, "no answer from the core");
        char *kind = zmsg_popstr (msg);
        if (streq (kind, "ERR")) {
            cr_assert_eq (zmsg_size (msg), 4);
            zframe_t *frame = zmsg_pop (msg);
            zframe_destroy (&frame);
            frame = zmsg_pop (msg);
            zframe_destroy (&frame);
            char *code = zmsg_popstr (msg);
            char *message = zmsg_popstr (msg);
            cr_assert_str_eq (code, "version", "%s: %s", code, message);
            free (code);
            free (message);
            refused = true;
        }
        free (kind);
        zmsg_destroy (&msg);
    }
    cr_assert (refused);
    //  Logged by the receiver, saying why
    cr_assert (testing_daemon_wait_log (
        &s_daemon, "from newer-worker does not decode: version", 5000));
    //  And the worker is not registered
    zsock_t *api = testing_api_client (&s_daemon);
    json_t *list = testing_api_ok (api, "api.worker.list", NULL);
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 0, "%s",
                  json_dumps (list, 0));
    json_decref (list);
    msgpack_sbuffer_destroy (&buffer);
    proto_envelope_destroy (&envelope);
    zsock_destroy (&api);
    zsock_destroy (&dealer);
    testing_daemon_stop (&s_daemon);
}
