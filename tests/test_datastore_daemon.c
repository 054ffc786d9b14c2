/*  test_datastore_daemon: the datastore in a live attuned, as clients use
    it: round trips through the CLI and the Python client (pyzmq), TTL
    expiry after a SIGKILL and restart, a secret's clear text never in the
    datastore's LMDB file or the daemon's log, rotations SIGKILLed at random
    points, st2kv in a rule's parameters.
*/
#include "tests/testing_api.h"
#include "bus/bus_facts.h"

static testing_daemon_t s_daemon;

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (datastore_daemon, .fini = s_teardown, .timeout = 120);

static void
s_start (void)
{
    testing_daemon_init (&s_daemon, "test_datastore_daemon");
    testing_daemon_write (&s_daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (&s_daemon, "test/triggers/hook.yaml",
                          "name: hook\npack: test\n");
    testing_daemon_write (&s_daemon, "test/rules/kv.yaml",
                          "name: kv\npack: test\ntrigger:\n  type: test.hook\n"
                          "criteria:\n  trigger.payload.which:\n    type: equals\n"
                          "    pattern: kv\n"
                          "action:\n  ref: core.echo\n  parameters:\n"
                          "    message: \"{{ st2kv.system.greeting }} "
                          "{{ trigger.payload.n }}\"\n");
    testing_daemon_write (&s_daemon, "test/rules/missing.yaml",
                          "name: missing\npack: test\ntrigger:\n  type: test.hook\n"
                          "criteria:\n  trigger.payload.which:\n    type: equals\n"
                          "    pattern: missing\n"
                          "action:\n  ref: core.echo\n  parameters:\n"
                          "    message: \"{{ st2kv.system.no_such_key }}\"\n");
    testing_daemon_start (&s_daemon, NULL);
}

//  Run a command with arguments (NULL-terminated); its exit code, stdout in
//  *out (caller frees)
static int
s_run (char **out, const char *const argv[])
{
    int fds[2];
    cr_assert_eq (pipe (fds), 0);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        dup2 (fds[1], 1);
        close (fds[0]);
        setenv ("ATTUNE_API", s_daemon.api, 1);
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    close (fds[1]);
    size_t size = 0, cap = 4096;
    char *text = (char *)malloc (cap);
    ssize_t n;
    while ((n = read (fds[0], text + size, cap - size - 1)) > 0) {
        size += (size_t)n;
        if (cap - size < 2)
            text = (char *)realloc (text, cap *= 2);
    }
    text[size] = 0;
    close (fds[0]);
    int status;
    waitpid (pid, &status, 0);
    *out = text;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

#define S_CLI ATTUNE_HELPER_DIR "/attune"
#define S_PY  ATTUNE_SOURCE_DIR "/tests/kv_client.py"

static const char *
s_python (void)
{
    const char *python = getenv ("ATTUNE_PYTHON");
    return python && *python ? python : "/usr/bin/python3";
}

//  The Python client's result of one request (JSON), or NULL when it failed
static json_t *
s_py (const char *type, const char *payload)
{
    char *out;
    const char *argv[] = {s_python (), S_PY, s_daemon.api, type, payload, NULL};
    int rc = s_run (&out, argv);
    json_t *result = rc == 0 ? json_loads (out, 0, NULL) : NULL;
    free (out);
    return result;
}

static json_t *
s_cli_json (const char *const args[])
{
    const char *argv[16] = {S_CLI, "--json"};
    int argc = 2;
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    char *out;
    int rc = s_run (&out, argv);
    cr_assert_eq (rc, 0, "attune %s: exit %d: %s", args[0], rc, out);
    json_t *result = json_loads (out, 0, NULL);
    cr_assert_not_null (result, "%s", out);
    free (out);
    return result;
}

Test (datastore_daemon, cli_and_python_round_trips)
{
    s_start ();
    //  Set by the CLI, read by Python; set by Python, read by the CLI
    json_decref (
        s_cli_json ((const char *[]){"key", "set", "api_url", "http://a", NULL}));
    json_t *got = s_py ("api.key.get", "{\"name\": \"api_url\"}");
    cr_assert_not_null (got);
    cr_assert_str_eq (json_string_value (json_object_get (got, "value")), "http://a");
    json_decref (got);
    json_decref (s_py ("api.key.set", "{\"name\": \"py\", \"value\": \"from python\", "
                                      "\"scope\": \"user\", \"identity\": \"alice\"}"));
    got = s_cli_json (
        (const char *[]){"--as", "alice", "key", "get", "py", "--scope", "user", NULL});
    cr_assert_str_eq (json_string_value (json_object_get (got, "value")), "from python");
    json_decref (got);
    //  Another identity does not see alice's key in its own scope
    const char *argv[] = {S_CLI, "--as",    "bob",  "key", "get",
                          "py",  "--scope", "user", NULL};
    char *out;
    cr_assert_eq (s_run (&out, argv), 1);
    free (out);
    //  Load (st2 key load's list), list, delete, rotate
    char path[PATH_MAX + 32];
    testing_write (
        s_daemon.root, "keys.json",
        "[{\"name\": \"l1\", \"value\": \"one\"}, {\"name\": \"l2\", \"value\": "
        "{\"a\": 1}, \"secret\": true}]");
    snprintf (path, sizeof path, "%s/keys.json", s_daemon.root);
    json_t *loaded = s_cli_json ((const char *[]){"key", "load", path, NULL});
    cr_assert_eq (json_integer_value (json_object_get (loaded, "loaded")), 2);
    json_decref (loaded);
    json_t *list = s_py ("api.key.list", "{\"prefix\": \"l\"}");
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 2);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_array_get (json_object_get (list, "items"), 1), "value")),
                      "********");
    json_decref (list);
    json_t *rotated = s_py ("api.key.rotate", "{}");
    cr_assert_eq (json_integer_value (json_object_get (rotated, "secrets")), 1);
    json_decref (rotated);
    got = s_cli_json ((const char *[]){"key", "get", "l2", "--decrypt", NULL});
    cr_assert_str_eq (json_string_value (json_object_get (got, "value")), "{\"a\":1}");
    json_decref (got);
    json_decref (s_py ("api.key.delete", "{\"name\": \"l1\"}"));
    cr_assert_null (s_py ("api.key.get", "{\"name\": \"l1\"}"));
    //  Bad input from the CLI: clear errors, exit 2 (usage) or 1 (refused)
    char name[600];
    memset (name, 'n', 513);
    name[513] = 0;
    const char *too_long[] = {S_CLI, "key", "set", name, "v", NULL};
    cr_assert_eq (s_run (&out, too_long), 2);
    free (out);
    const char *bad_utf8[] = {S_CLI, "key", "set", "\xff\xfe", "v", NULL};
    cr_assert_eq (s_run (&out, bad_utf8), 2);
    free (out);
    const char *scope[] = {S_CLI, "key", "set", "x", "v", "--scope", "galaxy", NULL};
    cr_assert_eq (s_run (&out, scope), 1);
    free (out);
    char *log = testing_daemon_read_log (&s_daemon);
    free (log);
}

//  A subscriber to the daemon's facts (the api's proxy) of `prefix`
static bus_sub_t *
s_subscribe (const char *prefix)
{
    bus_sub_t *sub = bus_sub_new (10000);
    cr_assert_not_null (sub);
    cr_assert_eq (bus_sub_connect (sub, s_daemon.facts), 0);
    cr_assert_eq (bus_sub_subscribe (sub, prefix), 0);
    zclock_sleep (300); //  the slow joiner
    return sub;
}

Test (datastore_daemon, ttl_expires_after_sigkill_and_restart)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *key = testing_api_ok (
        sock, "api.key.set",
        json_pack ("{s:s, s:s, s:i}", "name", "lease", "value", "x", "ttl", 3));
    int64_t deadline = json_integer_value (json_object_get (key, "expire_at"));
    json_decref (key);
    zsock_destroy (&sock);
    testing_daemon_signal (&s_daemon, SIGKILL, 5000);
    testing_daemon_start (&s_daemon, NULL);
    bus_sub_t *sub = s_subscribe ("kv.deleted");
    cr_assert_lt (proto_now_usec (), deadline, "restarted before the deadline");
    proto_envelope_t *fact = NULL;
    while (!fact && proto_now_usec () < deadline + 3000000)
        fact = bus_sub_recv (sub, NULL, 500);
    int64_t late = proto_now_usec () - deadline;
    cr_assert_not_null (fact, "no kv.deleted after the restart");
    cr_assert (late >= 0 && late < 100000, "expired %lld µs after the deadline",
               (long long)late);
    proto_envelope_destroy (&fact);
    bus_sub_destroy (&sub);
    sock = testing_api_client (&s_daemon);
    testing_api_fails (sock, "api.key.get", json_pack ("{s:s}", "name", "lease"),
                       "not_found");
    zsock_destroy (&sock);
}

//  Whether `needle` is anywhere in the file at `path` (binary safe)
static bool
s_file_has (const char *path, const char *needle)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return false;
    size_t cap = 1 << 20, size = 0, n;
    char *data = (char *)malloc (cap);
    while ((n = fread (data + size, 1, cap - size, file)) > 0) {
        size += n;
        if (size == cap)
            data = (char *)realloc (data, cap *= 2);
    }
    fclose (file);
    bool found = memmem (data, size, needle, strlen (needle)) != NULL;
    free (data);
    return found;
}

#define S_NEEDLE "Needle-S3cr3t-4f1c"

static void
s_assert_nowhere (const char *when)
{
    char path[PATH_MAX + 64];
    const char *files[] = {"data.mdb", "lock.mdb", "crypto.key"};
    for (int i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "%s/datastore/%s", s_daemon.data, files[i]);
        cr_assert_not (s_file_has (path, S_NEEDLE), "%s: the clear secret is in %s", when,
                       path);
    }
    cr_assert_not (s_file_has (s_daemon.log, S_NEEDLE),
                   "%s: the clear secret is in the log", when);
}

Test (datastore_daemon, a_secret_is_never_in_clear_at_rest_or_in_the_log)
{
    s_start ();
    json_decref (s_cli_json (
        (const char *[]){"key", "set", "token", S_NEEDLE, "--encrypt", NULL}));
    s_assert_nowhere ("after set");
    json_t *got = s_cli_json ((const char *[]){"key", "get", "token", "--decrypt", NULL});
    cr_assert_str_eq (json_string_value (json_object_get (got, "value")), S_NEEDLE);
    json_decref (got);
    json_t *list = s_cli_json ((const char *[]){"key", "list", NULL});
    char *text = json_dumps (list, 0);
    cr_assert_null (strstr (text, S_NEEDLE), "listed in clear: %s", text);
    free (text);
    json_decref (list);
    s_assert_nowhere ("after get");
    json_decref (s_cli_json ((const char *[]){"key", "rotate-crypto", NULL}));
    json_decref (s_cli_json ((const char *[]){"key", "rotate-crypto", NULL}));
    s_assert_nowhere ("after two rotations");
    got = s_cli_json ((const char *[]){"key", "get", "token", "--decrypt", NULL});
    cr_assert_str_eq (json_string_value (json_object_get (got, "value")), S_NEEDLE);
    json_decref (got);
    testing_daemon_signal (&s_daemon, SIGTERM, 10000);
    s_assert_nowhere ("after stop");
    //  Under ASan (ATTUNE_SANITIZE) the daemon's exit is checked too
    cr_assert_not (s_file_has (s_daemon.log, "Sanitizer"), "the daemon's log reports a "
                                                           "sanitizer error");
}

Test (datastore_daemon, rotations_killed_at_random_points_keep_every_secret)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *items = json_array ();
    for (int i = 0; i < 200; i++) {
        char name[16], value[16];
        snprintf (name, sizeof name, "s%03d", i);
        snprintf (value, sizeof value, "clear-%03d", i);
        json_array_append_new (items, json_pack ("{s:s, s:s, s:b}", "name", name, "value",
                                                 value, "secret", 1));
    }
    json_decref (
        testing_api_ok (sock, "api.key.load", json_pack ("{s:o}", "items", items)));
    zsock_destroy (&sock);
    unsigned seed = (unsigned)getpid ();
    for (int round = 0; round < 8; round++) {
        sock = testing_api_client (&s_daemon);
        proto_envelope_t *rotate = proto_envelope_new ("api.key.rotate", "test");
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        proto_envelope_encode (rotate, &buffer);
        zmq_send (zsock_resolve (sock), buffer.data, buffer.size, 0);
        msgpack_sbuffer_destroy (&buffer);
        proto_envelope_destroy (&rotate);
        zclock_sleep ((int)(rand_r (&seed) % 40)); //  somewhere in the rotation, or after
        testing_daemon_signal (&s_daemon, SIGKILL, 5000);
        zsock_destroy (&sock);
        testing_daemon_start (&s_daemon, NULL);
        char next[PATH_MAX + 64];
        snprintf (next, sizeof next, "%s/datastore/crypto.key.new", s_daemon.data);
        cr_assert_neq (access (next, F_OK), 0, "round %d: crypto.key.new left", round);
        sock = testing_api_client (&s_daemon);
        for (int i = 0; i < 200; i += 7) {
            char name[16], value[16];
            snprintf (name, sizeof name, "s%03d", i);
            snprintf (value, sizeof value, "clear-%03d", i);
            json_t *key =
                testing_api_ok (sock, "api.key.get",
                                json_pack ("{s:s, s:b}", "name", name, "decrypt", 1));
            cr_assert_str_eq (json_string_value (json_object_get (key, "value")), value,
                              "round %d: %s", round, name);
            json_decref (key);
        }
        zsock_destroy (&sock);
    }
}

//  The newest enforcement of `rule` once there are `count` of them
static json_t *
s_enforcement (zsock_t *sock, const char *rule, size_t count)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        json_t *list = testing_api_ok (sock, "api.enforcement.list",
                                       json_pack ("{s:s}", "rule", rule));
        json_t *items = json_object_get (list, "items");
        if (json_array_size (items) >= count) {
            json_t *newest = json_incref (json_array_get (items, 0));
            json_decref (list);
            json_t *full = testing_api_ok (
                sock, "api.enforcement.get",
                json_pack ("{s:O}", "id", json_object_get (newest, "enforcement")));
            json_decref (newest);
            return full;
        }
        json_decref (list);
        zclock_sleep (50);
    }
    cr_assert_fail ("no enforcement %zu of %s", count, rule);
    return NULL;
}

static void
s_publish (zsock_t *sock, const char *which, int n)
{
    json_decref (testing_api_ok (sock, "api.event.publish",
                                 json_pack ("{s:s, s:{s:s, s:i}}", "trigger", "test.hook",
                                            "payload", "which", which, "n", n)));
}

Test (datastore_daemon, st2kv_renders_the_current_value_and_a_missing_key_fails)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    json_decref (
        testing_api_ok (sock, "api.key.set",
                        json_pack ("{s:s, s:s}", "name", "greeting", "value", "hello")));
    s_publish (sock, "kv", 1);
    json_t *first = s_enforcement (sock, "test.kv", 1);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (first, "parameters"), "message")),
                      "hello 1");
    json_decref (first);
    //  Changed: the next event renders the new value
    json_decref (
        testing_api_ok (sock, "api.key.set",
                        json_pack ("{s:s, s:s}", "name", "greeting", "value", "world")));
    s_publish (sock, "kv", 2);
    json_t *second = s_enforcement (sock, "test.kv", 2);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (second, "parameters"), "message")),
                      "world 2");
    json_decref (second);
    //  A key that does not exist: the enforcement fails, naming it
    s_publish (sock, "missing", 3);
    json_t *failed = s_enforcement (sock, "test.missing", 1);
    char *text = json_dumps (failed, JSON_COMPACT);
    const char *reason = json_string_value (json_object_get (failed, "reason"));
    cr_assert (reason && strstr (reason, "st2kv.system.no_such_key"), "%s", text);
    cr_assert_str_eq (json_string_value (json_object_get (failed, "status")), "failed",
                      "%s", text);
    free (text);
    json_decref (failed);
    zsock_destroy (&sock);
}

//  ---------------------------------------------------------------------------
//  Roles and scopes through a CURVE api: the identity and role of each key

static char s_keys[PATH_MAX], s_allow[PATH_MAX], s_core_public[64];

static void
s_curve_key (const char *name, const char *identity, const char *role)
{
    const char *argv[12] = {S_CLI, "keygen", name, "--dir", s_keys};
    int argc = 5;
    if (identity) {
        argv[argc++] = "--identity";
        argv[argc++] = identity;
    }
    if (role) {
        argv[argc++] = "--role";
        argv[argc++] = role;
    }
    argv[argc] = NULL;
    char *out;
    cr_assert_eq (s_run (&out, argv), 0, "keygen %s: %s", name, out);
    free (out);
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    snprintf (from, sizeof from, "%s/%s.cert", s_keys, name);
    snprintf (to, sizeof to, "%s/%s.cert", s_allow, name);
    zcert_t *cert = zcert_load (from);
    cr_assert_not_null (cert);
    cr_assert_eq (zcert_save_public (cert, to), 0);
    if (streq (name, "core"))
        snprintf (s_core_public, sizeof s_core_public, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
}

static zsock_t *
s_curve_client (const char *name)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (sock, 0);
    testing_curve_client (sock, s_keys, name, s_core_public);
    cr_assert_eq (zsock_connect (sock, "%s", s_daemon.api), 0);
    return sock;
}

Test (datastore_daemon, roles_and_scopes_follow_the_curve_key)
{
    testing_daemon_init (&s_daemon, "test_datastore_curve");
    snprintf (s_keys, sizeof s_keys, "%s/keys", s_daemon.root);
    snprintf (s_allow, sizeof s_allow, "%s/allow", s_daemon.root);
    cr_assert_eq (mkdir (s_keys, 0700), 0);
    cr_assert_eq (mkdir (s_allow, 0750), 0);
    s_curve_key ("core", NULL, NULL);
    s_curve_key ("alice", NULL, "viewer");
    s_curve_key ("bob", "bob@example", "operator");
    s_curve_key ("carol", NULL, "operator");
    s_curve_key ("root", NULL, "admin");
    char core[PATH_MAX + 64];
    snprintf (core, sizeof core, "%s/core.cert_secret", s_keys);
    const char *extra[] = {"--cert",          core,     "--allow", s_allow,
                           "--security-mode", "always", NULL};
    testing_daemon_start (&s_daemon, extra);
    zsock_t *alice = s_curve_client ("alice"), *bob = s_curve_client ("bob"),
            *carol = s_curve_client ("carol"), *root = s_curve_client ("root");
    //  bob's user scope is his key's identity, whatever he names
    json_t *set =
        testing_api_ok (bob, "api.key.set",
                        json_pack ("{s:s, s:s, s:s, s:s}", "name", "pw", "value", "bobs",
                                   "scope", "user", "identity", "carol"));
    cr_assert_str_eq (json_string_value (json_object_get (set, "user")), "bob@example");
    json_decref (set);
    testing_api_fails (carol, "api.key.get",
                       json_pack ("{s:s, s:s}", "name", "pw", "scope", "user"),
                       "not_found");
    testing_api_fails (carol, "api.key.get",
                       json_pack ("{s:s, s:s, s:s}", "name", "pw", "scope", "user",
                                  "user", "bob@example"),
                       "forbidden");
    json_t *got =
        testing_api_ok (root, "api.key.get",
                        json_pack ("{s:s, s:s, s:s, s:b}", "name", "pw", "scope", "user",
                                   "user", "bob@example", "decrypt", 1));
    cr_assert_str_eq (json_string_value (json_object_get (got, "value")), "bobs");
    json_decref (got);
    //  viewer: reads, no writes; operator: plain system keys, not secret ones
    testing_api_fails (alice, "api.key.set",
                       json_pack ("{s:s, s:s}", "name", "x", "value", "1"), "forbidden");
    json_decref (testing_api_ok (carol, "api.key.set",
                                 json_pack ("{s:s, s:s}", "name", "x", "value", "1")));
    testing_api_fails (
        carol, "api.key.set",
        json_pack ("{s:s, s:s, s:b}", "name", "s", "value", "1", "secret", 1),
        "forbidden");
    json_decref (testing_api_ok (
        root, "api.key.set",
        json_pack ("{s:s, s:s, s:b}", "name", "s", "value", "top", "secret", 1)));
    got = testing_api_ok (alice, "api.key.get", json_pack ("{s:s}", "name", "s"));
    cr_assert_str_eq (json_string_value (json_object_get (got, "value")), "********");
    json_decref (got);
    testing_api_fails (alice, "api.key.get",
                       json_pack ("{s:s, s:b}", "name", "s", "decrypt", 1), "forbidden");
    testing_api_fails (carol, "api.key.rotate", json_object (), "forbidden");
    json_decref (testing_api_ok (root, "api.key.rotate", json_object ()));
    zsock_destroy (&alice);
    zsock_destroy (&bob);
    zsock_destroy (&carol);
    zsock_destroy (&root);
}

//  The events of trigger `trigger` whose object is named `name`
static int
s_events_of (zsock_t *sock, const char *trigger, const char *name)
{
    json_t *list =
        testing_api_ok (sock, "api.event.list",
                        json_pack ("{s:s, s:i}", "trigger", trigger, "limit", 100));
    int count = 0;
    size_t i;
    json_t *event;
    json_array_foreach (json_object_get (list, "items"), i, event)
    {
        json_t *object = json_object_get (json_object_get (event, "payload"), "object");
        const char *named = json_string_value (json_object_get (object, "name"));
        if (named && streq (named, name))
            count++;
    }
    json_decref (list);
    return count;
}

Test (datastore_daemon, change_events_wait_for_the_rules_actor_across_a_crash)
{
    testing_daemon_init (&s_daemon, "test_datastore_events");
    const char *without_rules[] = {"--actors", "registry,datastore,api", NULL};
    testing_daemon_start (&s_daemon, without_rules);
    zsock_t *sock = testing_api_client (&s_daemon);
    json_decref (testing_api_ok (sock, "api.key.set",
                                 json_pack ("{s:s, s:s}", "name", "cfg", "value", "1")));
    json_decref (testing_api_ok (sock, "api.key.set",
                                 json_pack ("{s:s, s:s}", "name", "cfg", "value", "2")));
    json_decref (testing_api_ok (sock, "api.key.set",
                                 json_pack ("{s:s, s:s, s:b}", "name", "pw", "value",
                                            "Needle-in-an-event", "secret", 1)));
    json_decref (
        testing_api_ok (sock, "api.key.delete", json_pack ("{s:s}", "name", "cfg")));
    zsock_destroy (&sock);
    testing_daemon_signal (&s_daemon, SIGKILL, 5000);
    //  With the rules actor: every change arrives, once
    testing_daemon_start (&s_daemon, NULL);
    sock = testing_api_client (&s_daemon);
    int64_t until = zclock_mono () + 10000;
    while (s_events_of (sock, "core.st2.key_value_pair.delete", "cfg") == 0 &&
           zclock_mono () < until)
        zclock_sleep (50);
    cr_assert_eq (s_events_of (sock, "core.st2.key_value_pair.create", "cfg"), 1);
    cr_assert_eq (s_events_of (sock, "core.st2.key_value_pair.update", "cfg"), 1);
    cr_assert_eq (s_events_of (sock, "core.st2.key_value_pair.value_change", "cfg") +
                      s_events_of (sock, "core.st2.key_value_pair.value_change", ""),
                  0, "value_change events carry old_object/new_object, not object");
    cr_assert_eq (s_events_of (sock, "core.st2.key_value_pair.delete", "cfg"), 1);
    cr_assert_eq (s_events_of (sock, "core.st2.key_value_pair.create", "pw"), 1);
    json_t *changes = testing_api_ok (
        sock, "api.event.list",
        json_pack ("{s:s}", "trigger", "core.st2.key_value_pair.value_change"));
    json_t *change = json_array_get (json_object_get (changes, "items"), 0);
    cr_assert_str_eq (
        json_string_value (json_object_get (
            json_object_get (json_object_get (change, "payload"), "new_object"),
            "value")),
        "2");
    char *text = json_dumps (changes, 0);
    json_decref (changes);
    free (text);
    json_t *secret =
        testing_api_ok (sock, "api.event.list",
                        json_pack ("{s:s}", "trigger", "core.st2.key_value_pair.create"));
    text = json_dumps (secret, 0);
    cr_assert_null (strstr (text, "Needle-in-an-event"), "%s", text);
    free (text);
    json_decref (secret);
    zsock_destroy (&sock);
}

Test (datastore_daemon, the_key_file_goes_where_it_is_told)
{
    testing_daemon_init (&s_daemon, "test_datastore_keyfile");
    char dir[PATH_MAX], key[PATH_MAX + 32], default_key[PATH_MAX + 64];
    snprintf (dir, sizeof dir, "%s/secrets", s_daemon.root);
    cr_assert_eq (mkdir (dir, 0700), 0);
    snprintf (key, sizeof key, "%s/ds.key", dir);
    const char *extra[] = {"--datastore-key", key, NULL};
    testing_daemon_start (&s_daemon, extra);
    struct stat st;
    cr_assert_eq (stat (key, &st), 0, "no key file at %s", key);
    cr_assert_eq (st.st_mode & 0777, 0600);
    snprintf (default_key, sizeof default_key, "%s/datastore/crypto.key", s_daemon.data);
    cr_assert_neq (access (default_key, F_OK), 0, "a key file in the data directory too");
    zsock_t *sock = testing_api_client (&s_daemon);
    json_decref (testing_api_ok (
        sock, "api.key.set",
        json_pack ("{s:s, s:s, s:b}", "name", "pw", "value", "v", "secret", 1)));
    zsock_destroy (&sock);
    //  Started without it, the daemon refuses rather than lose the secrets
    testing_daemon_signal (&s_daemon, SIGTERM, 10000);
    const char *argv[] = {ATTUNE_HELPER_DIR "/attuned",
                          "--data",
                          s_daemon.data,
                          "--packs",
                          s_daemon.packs,
                          "--api",
                          "tcp://127.0.0.1:0",
                          NULL};
    char *out;
    int rc = s_run (&out, argv);
    free (out);
    cr_assert_neq (rc, 0, "attuned started without the key file of its secrets");
    cr_assert_neq (access (default_key, F_OK), 0, "a second key was made");
}
