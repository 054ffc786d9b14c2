/*  testing_http: a live attuned with its HTTP gateway, for the suites that
    drive it as an HTTP client would (tests/test_http*.c): the daemon on a
    free loopback port with a small test pack (test.hook, test.step,
    test.wait, rule test.step, policy test.one), API keys of each role
    (admin, operator, viewer, and "off", disabled) in a JSON file, and
    Python scripts run against it. A script starts with the helpers below
    (req, expect, check, wait, run; PORT, KEYS, API, ATTUNE) and is written
    to the daemon's directory.
*/
#ifndef TESTING_HTTP_H_INCLUDED
#define TESTING_HTTP_H_INCLUDED

#include "tests/testing_daemon.h"
#include <jansson.h>

typedef struct {
    testing_daemon_t daemon;
    int port;            //  the gateway's
    char keys[PATH_MAX]; //  JSON file: role -> key
} testing_http_t;

static testing_http_t s_http;

static const char *s_testing_http_helpers =
    "import http.client, json, sys, time, socket\n"
    "PORT = int(sys.argv[1])\n"
    "KEYS = json.load(open(sys.argv[2]))\n"
    "API, ATTUNE = sys.argv[3], sys.argv[4]\n"
    "def req(method, path, key='admin', body=None, raw=None, headers=None, "
    "prefix='/api/v1'):\n"
    "    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=20)\n"
    "    h = dict(headers or {})\n"
    "    if key: h['St2-Api-Key'] = KEYS[key]\n"
    "    data = raw if raw is not None else (json.dumps(body) if body is not None else "
    "None)\n"
    "    if data is not None: h['Content-Type'] = 'application/json'\n"
    "    c.request(method, prefix + path, body=data, headers=h)\n"
    "    r = c.getresponse(); text = r.read(); c.close()\n"
    "    try: j = json.loads(text)\n"
    "    except Exception: j = text.decode('utf-8', 'replace')\n"
    "    return r.status, dict(r.getheaders()), j\n"
    "def check(cond, what):\n"
    "    if not cond:\n"
    "        print('FAIL:', what); sys.exit(1)\n"
    "def expect(status, method, path, **kw):\n"
    "    s, h, j = req(method, path, **kw)\n"
    "    check(s == status, '%s %s: %s (expected %s): %s' % (method, path, s, status, "
    "j))\n"
    "    if s >= 400: check(isinstance(j, dict) and 'faultstring' in j, 'no faultstring: "
    "%s' % j)\n"
    "    return j\n"
    "def has(obj, keys, what):\n"
    "    for k in keys: check(k in obj, '%s: no %s in %s' % (what, k, obj))\n"
    "def wait(eid, want=('succeeded', 'failed', 'canceled', 'timeout', 'pending')):\n"
    "    for _ in range(200):\n"
    "        e = expect(200, 'GET', '/executions/' + eid)\n"
    "        if e['status'] in want: return e\n"
    "        time.sleep(0.05)\n"
    "    check(False, 'execution %s stayed %s' % (eid, e['status']))\n"
    "def run(action, parameters, key='admin'):\n"
    "    return expect(201, 'POST', '/executions', key=key,\n"
    "                  body={'action': action, 'parameters': parameters})\n";

//  A key for `name` with `role` (enabled or not), into the keys file
static inline void
testing_http_key (json_t *keys, const char *name, const char *role, bool enabled)
{
    const char *argv[] = {
        ATTUNE_HELPER_DIR "/attune", "apikey", "create", name, "--role", role, "--data",
        s_http.daemon.data,          NULL};
    char *out = NULL, *err = NULL;
    int rc = testing_run (argv, NULL, &out, &err, 10000);
    cr_assert_eq (rc, 0, "apikey create: %s", err);
    out[strcspn (out, "\n")] = 0;
    cr_assert (strncmp (out, "atk_", 4) == 0, "the key: %s", out);
    json_object_set_new (keys, name, json_string (out));
    free (out);
    free (err);
    if (!enabled) {
        const char *off[] = {
            ATTUNE_HELPER_DIR "/attune", "apikey", "disable", name, "--data",
            s_http.daemon.data,          NULL};
        cr_assert_eq (testing_run (off, NULL, NULL, NULL, 10000), 0);
    }
}

//  The daemon's directory and test pack, not started: a suite may add
//  files (testing_daemon_write) before testing_http_run_daemon
static inline void
testing_http_prepare (void)
{
    testing_daemon_init (&s_http.daemon, "test_http");
    testing_daemon_write (&s_http.daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (&s_http.daemon, "test/triggers/hook.yaml",
                          "name: hook\npack: test\n");
    testing_daemon_write (&s_http.daemon, "test/actions/step.yaml",
                          "name: step\nrunner_type: local-shell-cmd\n"
                          "entry_point: 'echo step \"$ATTUNE_PARAM_N\"'\nparameters:\n"
                          "  n:\n    type: integer\n    required: true\n");
    testing_daemon_write (&s_http.daemon, "test/actions/wait.yaml",
                          "name: wait\nrunner_type: local-shell-cmd\n"
                          "entry_point: \"sleep 30\"\n");
    testing_daemon_write (&s_http.daemon, "test/actions/flow.yaml",
                          "name: flow\nrunner_type: orquesta\n"
                          "entry_point: workflows/flow.yaml\n");
    testing_daemon_write (&s_http.daemon, "test/actions/workflows/flow.yaml",
                          "version: 1.0\ntasks:\n  one:\n    action: core.noop\n"
                          "    next:\n      - when: <% succeeded() %>\n        do: two\n"
                          "  two:\n    action: core.noop\n");
    testing_daemon_write (&s_http.daemon, "test/rules/step.yaml",
                          "name: step\npack: test\ntrigger:\n  type: test.hook\n"
                          "action:\n  ref: test.step\n  parameters:\n"
                          "    n: \"{{ trigger.payload.n }}\"\n");
    testing_daemon_write (
        &s_http.daemon, "test/policies/one.yaml",
        "name: one\nresource_ref: test.step\n"
        "policy_type: action.concurrency\nparameters:\n  threshold: 4\n");
}

//  The keys, then the daemon with its gateway (and `more` flags) started
static inline void
testing_http_run_daemon (const char *more[])
{
    json_t *keys = json_object ();
    testing_http_key (keys, "admin", "admin", true);
    testing_http_key (keys, "operator", "operator", true);
    testing_http_key (keys, "viewer", "viewer", true);
    testing_http_key (keys, "off", "admin", false);
    snprintf (s_http.keys, sizeof s_http.keys, "%s/keys.json", s_http.daemon.root);
    cr_assert_eq (json_dump_file (keys, s_http.keys, 0), 0);
    json_decref (keys);
    s_http.port = testing_free_port ();
    char http[64];
    snprintf (http, sizeof http, "127.0.0.1:%d", s_http.port);
    const char *extra[8] = {"--http", http};
    for (int i = 0; more && more[i] && i < 5; i++)
        extra[2 + i] = more[i];
    testing_daemon_start (&s_http.daemon, extra);
    cr_assert (testing_daemon_wait_log (&s_http.daemon, "http: serving", 5000));
}

static inline void
testing_http_start (const char *more[])
{
    testing_http_prepare ();
    testing_http_run_daemon (more);
}

//  Run a script (the helpers, then `body`) with the port and keys; asserts
//  it passed
static inline void
testing_http_python (const char *name, const char *body, int timeout_ms)
{
    char path[PATH_MAX + 64], port[16];
    snprintf (path, sizeof path, "%s/%s.py", s_http.daemon.root, name);
    char *script = zsys_sprintf ("%s%s", s_testing_http_helpers, body);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs (script, file);
    fclose (file);
    zstr_free (&script);
    snprintf (port, sizeof port, "%d", s_http.port);
    const char *argv[] = {
        "/usr/bin/python3",          path, port, s_http.keys, s_http.daemon.api,
        ATTUNE_HELPER_DIR "/attune", NULL};
    char *out = NULL, *err = NULL;
    int rc = testing_run (argv, NULL, &out, &err, timeout_ms);
    char *log = rc == 0 ? NULL : testing_daemon_read_log (&s_http.daemon);
    cr_assert_eq (rc, 0, "%s: exit %d\n%s\n%s\nlog:\n%.3000s", name, rc, out, err,
                  log ? log : "");
    free (log);
    free (out);
    free (err);
}

#endif
