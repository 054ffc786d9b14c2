/*  test_security: CURVE on the api and its roles, against a live attuned
    (issue 7, item 4; proto/PROTOCOL.md, "Security (CURVE)").

    Every daemon runs with `--security-mode always` so that CURVE applies on
    127.0.0.1 ephemeral ports; keys are made with `attune keygen`, as an
    operator would.
*/
#include "tests/testing_api.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

static void
s_fini (void)
{
    testing_daemon_stop_all ();
}

TestSuite (security, .fini = s_fini, .timeout = 120);

typedef struct {
    testing_daemon_t daemon;
    char keys[PATH_MAX];  //  every pair made
    char allow[PATH_MAX]; //  the public certs the daemon lets in
    char core_public[64];
} s_fixture_t;

static int
s_keygen (const char *dir, const char *name, const char *identity, const char *role,
          char **out, char **err)
{
    const char *argv[12] = {ATTUNE_HELPER_DIR "/attune", "keygen", name, "--dir", dir};
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
    return testing_run (argv, NULL, out, err, 10000);
}

//  Make a key (asserted) and, when `allowed`, put its public cert in the
//  allow dir.
static void
s_key (s_fixture_t *self, const char *name, const char *identity, const char *role,
       bool allowed)
{
    char *out = NULL, *err = NULL;
    int rc = s_keygen (self->keys, name, identity, role, &out, &err);
    cr_assert_eq (rc, 0, "attune keygen %s: %s%s", name, out, err);
    free (out);
    free (err);
    if (allowed) {
        char from[PATH_MAX + 64], to[PATH_MAX + 64];
        snprintf (from, sizeof from, "%s/%s.cert", self->keys, name);
        snprintf (to, sizeof to, "%s/%s.cert", self->allow, name);
        zcert_t *cert = zcert_load (from);
        cr_assert_not_null (cert);
        cr_assert_eq (zcert_save_public (cert, to), 0);
        zcert_destroy (&cert);
    }
}

//  The daemon's keys, the users' keys, and a running daemon; with the
//  topology file `config` when not NULL.
static void
s_start_with (s_fixture_t *self, const char *config)
{
    testing_daemon_init (&self->daemon, "security");
    snprintf (self->keys, sizeof self->keys, "%s/keys", self->daemon.root);
    snprintf (self->allow, sizeof self->allow, "%s/allow", self->daemon.root);
    cr_assert_eq (mkdir (self->keys, 0700), 0);
    cr_assert_eq (mkdir (self->allow, 0750), 0);
    s_key (self, "core", NULL, NULL, true);
    s_key (self, "alice", NULL, "viewer", true);
    s_key (self, "bob", "bob@example", "operator", true);
    s_key (self, "mallory", NULL, "operator", true);
    s_key (self, "root", "ops-admin", "admin", true);
    s_key (self, "eve", NULL, "admin", false); //  made, never allowed
    char core[PATH_MAX + 64];
    snprintf (core, sizeof core, "%s/core.cert", self->keys);
    zcert_t *cert = zcert_load (core);
    cr_assert_not_null (cert);
    snprintf (self->core_public, sizeof self->core_public, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
    snprintf (core, sizeof core, "%s/core.cert_secret", self->keys);
    const char *extra[] = {"--cert", core, "--allow", self->allow, "--security-mode",
                           "always", "-c", config,    NULL};
    if (!config)
        extra[6] = NULL;
    testing_daemon_start (&self->daemon, extra);
}

static void
s_start (s_fixture_t *self)
{
    s_start_with (self, NULL);
}

//  A DEALER to the api with the key `name` (CURVE), or plaintext with NULL.
static zsock_t *
s_client (s_fixture_t *self, const char *name, int timeout_ms)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    zsock_set_linger (sock, 0);
    if (name) {
        testing_curve_client (sock, self->keys, name, self->core_public);
    }
    cr_assert_eq (zsock_connect (sock, "%s", self->daemon.api), 0);
    zsock_set_rcvtimeo (sock, timeout_ms);
    return sock;
}

//  Send one request; the reply's JSON, or NULL when none came in time.
static json_t *
s_try (zsock_t *sock, const char *type, json_t *payload)
{
    proto_envelope_t *request = proto_envelope_new (type, "test@security");
    if (!payload)
        payload = json_object ();
    cr_assert_eq (proto_envelope_set_payload_json (request, payload, NULL), PROTO_OK);
    json_decref (payload);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    proto_envelope_encode (request, &buffer);
    zsock_set_sndtimeo (sock, 500);
    zmq_send (zsock_resolve (sock), buffer.data, buffer.size, 0);
    msgpack_sbuffer_destroy (&buffer);
    proto_envelope_destroy (&request);
    zframe_t *answer = zframe_recv (sock);
    if (!answer)
        return NULL;
    proto_envelope_t *reply =
        proto_envelope_decode (zframe_data (answer), zframe_size (answer), NULL, NULL);
    zframe_destroy (&answer);
    cr_assert_not_null (reply);
    json_t *json = proto_envelope_to_json (reply, NULL);
    proto_envelope_destroy (&reply);
    return json;
}

//  The `forbidden` message of a refused call (asserted), caller frees.
static char *
s_forbidden (zsock_t *sock, const char *type, json_t *payload)
{
    json_t *reply = testing_api_call (sock, type, payload);
    json_t *body = json_object_get (reply, "payload");
    char *text = json_dumps (reply, JSON_COMPACT);
    cr_assert_str_eq (json_string_value (json_object_get (reply, "type")), "api.error",
                      "%s: %s", type, text);
    cr_assert_str_eq (json_string_value (json_object_get (body, "code")), "forbidden",
                      "%s: %s", type, text);
    free (text);
    char *message = strdup (json_string_value (json_object_get (body, "message")));
    json_decref (reply);
    return message;
}

static const char *s_rule_yaml = "name: sec_rule\n"
                                 "pack: core\n"
                                 "enabled: false\n"
                                 "trigger:\n"
                                 "  type: core.st2.IntervalTimer\n"
                                 "  parameters: {unit: seconds, delta: 3600}\n"
                                 "action:\n"
                                 "  ref: core.echo\n"
                                 "  parameters: {message: hi}\n";

//  ---------------------------------------------------------------------------

Test (security, keygen_writes_both_files_with_metadata)
{
    char dir[PATH_MAX - 64];
    testing_tmpdir (dir, sizeof dir, "keygen");
    char *out = NULL, *err = NULL;
    int rc = s_keygen (dir, "carol", "carol@example", "operator", &out, &err);
    cr_assert_eq (rc, 0, "%s%s", out, err);
    char public_path[PATH_MAX], secret_path[PATH_MAX + 16];
    snprintf (public_path, sizeof public_path, "%s/carol.cert", dir);
    snprintf (secret_path, sizeof secret_path, "%s/carol.cert_secret", dir);
    cr_assert_not_null (strstr (out, public_path), "%s", out);
    cr_assert_not_null (strstr (out, secret_path), "%s", out);
    free (out);
    free (err);
    struct stat info;
    cr_assert_eq (stat (secret_path, &info), 0);
    cr_assert_eq (info.st_mode & 0777, 0600, "secret mode %o", info.st_mode & 0777);
    cr_assert_eq (stat (public_path, &info), 0);
    //  The public file holds no secret; both carry the metadata
    FILE *file = fopen (public_path, "r");
    char text[4096] = "";
    size_t n = fread (text, 1, sizeof text - 1, file);
    text[n] = 0;
    fclose (file);
    cr_assert_null (strstr (text, "secret-key"), "%s", text);
    zconfig_t *config = zconfig_load (public_path);
    cr_assert_not_null (config);
    cr_assert_str_eq (zconfig_get (config, "metadata/identity", ""), "carol@example");
    cr_assert_str_eq (zconfig_get (config, "metadata/role", ""), "operator");
    zconfig_destroy (&config);
    zcert_t *cert = zcert_load (secret_path);
    cr_assert_not_null (cert);
    cr_assert_str_eq (zcert_meta (cert, "role"), "operator");
    cr_assert_neq (
        strcmp (zcert_secret_txt (cert), "0000000000000000000000000000000000000000"), 0);
    zcert_destroy (&cert);

    //  Never replaces a key; refuses a role it does not know
    rc = s_keygen (dir, "carol", NULL, NULL, NULL, &err);
    cr_assert_eq (rc, 1);
    cr_assert_not_null (strstr (err, "exists"), "%s", err);
    free (err);
    rc = s_keygen (dir, "dave", NULL, "superuser", NULL, &err);
    cr_assert_eq (rc, 2);
    cr_assert_not_null (strstr (err, "superuser"), "%s", err);
    free (err);
    testing_rmtree (dir);
}

Test (security, allowed_key_is_served_with_its_identity)
{
    static s_fixture_t self;
    s_start (&self);
    zsock_t *sock = s_client (&self, "alice", 8000);
    json_t *hello = testing_api_ok (sock, "api.hello", NULL);
    cr_assert_str_eq (json_string_value (json_object_get (hello, "identity")), "alice");
    cr_assert_str_eq (json_string_value (json_object_get (hello, "role")), "viewer");
    json_decref (hello);
    json_t *actions = testing_api_ok (sock, "api.action.list", NULL);
    cr_assert_gt (json_array_size (json_object_get (actions, "items")), 0);
    json_decref (actions);
    zsock_destroy (&sock);
}

Test (security, unknown_key_and_plaintext_get_nothing)
{
    static s_fixture_t self;
    s_start (&self);
    //  A key not in the allow dir: the handshake is refused, no reply
    zsock_t *eve = s_client (&self, "eve", 1500);
    cr_assert_null (s_try (eve, "api.ping", NULL), "an unknown key was answered");
    zsock_destroy (&eve);
    //  A plaintext client never completes the handshake
    zsock_t *plain = s_client (&self, NULL, 1500);
    cr_assert_null (s_try (plain, "api.ping", NULL), "a plaintext client was answered");
    zsock_destroy (&plain);
    //  ... and the daemon keeps serving the allowed ones
    zsock_t *alice = s_client (&self, "alice", 8000);
    json_decref (testing_api_ok (alice, "api.ping", NULL));
    zsock_destroy (&alice);
    char *log = testing_daemon_read_log (&self.daemon);
    cr_assert_null (strstr (log, "stopped"), "%s", log);
    free (log);
}

Test (security, viewer_reads_but_cannot_run)
{
    static s_fixture_t self;
    s_start (&self);
    zsock_t *sock = s_client (&self, "alice", 8000);
    json_decref (testing_api_ok (sock, "api.execution.list", NULL));
    json_decref (testing_api_ok (sock, "api.rule.list", NULL));
    json_decref (testing_api_ok (sock, "api.status", NULL));
    //  Catching up after a gap in the facts is a read
    json_t *changes = testing_api_ok (sock, "api.execution.changes", NULL);
    cr_assert (json_is_true (json_object_get (changes, "reset")));
    json_decref (changes);
    char *message = s_forbidden (sock, "api.execution.run",
                                 json_pack ("{s:s}", "action", "core.noop"));
    cr_assert_not_null (strstr (message, "alice"), "%s", message);
    cr_assert_not_null (strstr (message, "viewer"), "%s", message);
    cr_assert_not_null (strstr (message, "operator"), "%s", message);
    free (message);
    free (s_forbidden (
        sock, "api.event.publish",
        json_pack ("{s:s, s:{}}", "trigger", "core.st2.webhook", "payload")));
    free (s_forbidden (sock, "api.rule.delete", json_pack ("{s:s}", "ref", "core.x")));
    //  Nothing ran
    json_t *list = testing_api_ok (sock, "api.execution.list",
                                   json_pack ("{s:s}", "action", "core.noop"));
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 0);
    json_decref (list);
    zsock_destroy (&sock);
}

Test (security, operator_runs_but_cannot_define)
{
    static s_fixture_t self;
    s_start (&self);
    zsock_t *sock = s_client (&self, "bob", 8000);
    json_t *run = testing_api_ok (sock, "api.execution.run",
                                  json_pack ("{s:s}", "action", "core.noop"));
    const char *id = json_string_value (json_object_get (run, "execution"));
    cr_assert_not_null (id);
    json_decref (testing_api_wait_status (sock, id, "completed", 10000));
    json_decref (run);
    char *message =
        s_forbidden (sock, "api.rule.create", json_pack ("{s:s}", "yaml", s_rule_yaml));
    cr_assert_not_null (strstr (message, "bob@example"), "%s", message);
    cr_assert_not_null (strstr (message, "operator"), "%s", message);
    cr_assert_not_null (strstr (message, "admin"), "%s", message);
    free (message);
    free (s_forbidden (sock, "api.rule.disable",
                       json_pack ("{s:s}", "ref", "core.timer_echo_10s")));
    zsock_destroy (&sock);
}

Test (security, admin_defines_rules)
{
    static s_fixture_t self;
    s_start (&self);
    zsock_t *sock = s_client (&self, "root", 8000);
    json_t *created = testing_api_ok (sock, "api.rule.create",
                                      json_pack ("{s:s}", "yaml", s_rule_yaml));
    cr_assert_str_eq (json_string_value (json_object_get (created, "ref")),
                      "core.sec_rule");
    json_decref (created);
    json_decref (testing_api_ok (sock, "api.rule.delete",
                                 json_pack ("{s:s}", "ref", "core.sec_rule")));
    zsock_destroy (&sock);
}

Test (security, inquiry_identity_is_the_key_s)
{
    static s_fixture_t self;
    s_start (&self);
    zsock_t *bob = s_client (&self, "bob", 8000);
    zsock_t *mallory = s_client (&self, "mallory", 8000);
    json_t *run = testing_api_ok (bob, "api.execution.run",
                                  json_pack ("{s:s, s:{s:s, s:s}}", "action", "core.ask",
                                             "parameters", "prompt", "Deploy?",
                                             "assignee", "bob@example"));
    char id[64];
    snprintf (id, sizeof id, "%s",
              json_string_value (json_object_get (run, "execution")));
    json_decref (run);
    json_decref (testing_api_wait_status (bob, id, "pending", 10000));
    //  An operator claiming to be the assignee is still who its key says
    testing_api_fails (mallory, "api.inquiry.respond",
                       json_pack ("{s:s, s:{s:b}, s:s}", "id", id, "response", "continue",
                                  1, "identity", "bob@example"),
                       "forbidden");
    //  The assignee's key answers, whatever identity its request claims
    json_decref (testing_api_ok (bob, "api.inquiry.respond",
                                 json_pack ("{s:s, s:{s:b}, s:s}", "id", id, "response",
                                            "continue", 1, "identity", "someone-else")));
    json_t *inquiry =
        testing_api_ok (bob, "api.inquiry.get", json_pack ("{s:s}", "id", id));
    cr_assert_str_eq (json_string_value (json_object_get (inquiry, "status")),
                      "responded");
    cr_assert_str_eq (json_string_value (json_object_get (inquiry, "responder")),
                      "bob@example");
    json_decref (inquiry);
    zsock_destroy (&bob);
    zsock_destroy (&mallory);
}

//  Run attuned to a failed start: its exit code, and stderr (caller frees).
static int
s_attuned_fails (testing_daemon_t *daemon, const char *const extra[], char **err)
{
    const char *argv[32] = {ATTUNE_HELPER_DIR "/attuned",
                            "--data",
                            daemon->data,
                            "--packs",
                            daemon->packs,
                            "--api-facts",
                            "tcp://127.0.0.1:*"};
    int argc = 7;
    for (int i = 0; extra[i]; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    char *out = NULL;
    int rc = testing_run (argv, NULL, &out, err, 15000);
    //  zsys logs go to stdout: keep both
    size_t size = strlen (*err) + strlen (out) + 2;
    char *both = (char *)malloc (size);
    snprintf (both, size, "%s\n%s", *err, out);
    free (*err);
    free (out);
    *err = both;
    return rc;
}

Test (security, attuned_refuses_curve_without_keys)
{
    static s_fixture_t self;
    testing_daemon_init (&self.daemon, "security-refuse");
    snprintf (self.keys, sizeof self.keys, "%s/keys", self.daemon.root);
    snprintf (self.allow, sizeof self.allow, "%s/allow", self.daemon.root);
    mkdir (self.keys, 0700);
    mkdir (self.allow, 0750);
    s_key (&self, "core", NULL, NULL, false);
    char cert[PATH_MAX + 64];
    snprintf (cert, sizeof cert, "%s/core.cert_secret", self.keys);
    char *err = NULL;

    //  Mode always, no cert: refused, naming the endpoint
    const char *none[] = {"--api", "tcp://127.0.0.1:*", "--security-mode", "always",
                          NULL};
    cr_assert_eq (s_attuned_fails (&self.daemon, none, &err), 1, "%s", err);
    cr_assert_not_null (strstr (err, "needs CURVE"), "%s", err);
    cr_assert_not_null (strstr (err, "certificate"), "%s", err);
    cr_assert_null (strstr (err, "attuned: running"), "%s", err);
    free (err);

    //  A cert but no allow dir
    const char *no_allow[] = {
        "--api", "tcp://127.0.0.1:*", "--cert", cert, "--security-mode", "always", NULL};
    cr_assert_eq (s_attuned_fails (&self.daemon, no_allow, &err), 1, "%s", err);
    cr_assert_not_null (strstr (err, "allow"), "%s", err);
    free (err);

    //  Mode auto (the default) and an address that is not loopback
    const char *exposed[] = {"--api", "tcp://0.0.0.0:*", NULL};
    cr_assert_eq (s_attuned_fails (&self.daemon, exposed, &err), 1, "%s", err);
    cr_assert_not_null (strstr (err, "tcp://0.0.0.0:*"), "%s", err);
    cr_assert_not_null (strstr (err, "not loopback"), "%s", err);
    free (err);

    //  A cert file that is not there, and an allow dir that is a file
    const char *missing[] = {"--cert", "/nonexistent/core.cert_secret", NULL};
    cr_assert_eq (s_attuned_fails (&self.daemon, missing, &err), 1, "%s", err);
    cr_assert_not_null (strstr (err, "/nonexistent/core.cert_secret"), "%s", err);
    free (err);
    const char *file_allow[] = {"--cert", cert, "--allow", cert, NULL};
    cr_assert_eq (s_attuned_fails (&self.daemon, file_allow, &err), 1, "%s", err);
    cr_assert_not_null (strstr (err, "not a directory"), "%s", err);
    free (err);

    //  A public cert given as this process's own: it holds no secret
    char public_cert[PATH_MAX + 64];
    snprintf (public_cert, sizeof public_cert, "%s/core.cert", self.keys);
    char copy[PATH_MAX + 64];
    snprintf (copy, sizeof copy, "%s/public-only.cert", self.daemon.root);
    zcert_t *loaded = zcert_load (public_cert);
    zcert_save_public (loaded, copy);
    zcert_destroy (&loaded);
    const char *public_only[] = {"--cert", copy, NULL};
    cr_assert_eq (s_attuned_fails (&self.daemon, public_only, &err), 1, "%s", err);
    cr_assert_not_null (strstr (err, "no secret key"), "%s", err);
    free (err);

    //  A worker on a CURVE endpoint without the executor's cert: it would
    //  not know whose commands to take
    char worker_cfg[PATH_MAX + 64];
    snprintf (worker_cfg, sizeof worker_cfg, "%s/worker.cfg", self.daemon.root);
    testing_write (self.daemon.root, "worker.cfg",
                   "daemon\n    actors = worker\nendpoints\n"
                   "    executor.commands = tcp://127.0.0.1:1\n"
                   "    worker = tcp://127.0.0.1:*\n");
    const char *no_executor[] = {"-c",     worker_cfg, "--cert", cert, "--security-mode",
                                 "always", NULL};
    cr_assert_eq (s_attuned_fails (&self.daemon, no_executor, &err), 1, "%s", err);
    cr_assert_not_null (strstr (err, "--executor-cert"), "%s", err);
    cr_assert_null (strstr (err, "attuned: running"), "%s", err);
    free (err);
    //  ... and a user's cert named as the executor's
    s_key (&self, "mallory", NULL, "admin", false);
    char user_cert[PATH_MAX + 64];
    snprintf (user_cert, sizeof user_cert, "%s/mallory.cert", self.keys);
    const char *user_executor[] = {
        "-c",      worker_cfg,        "--cert", cert, "--executor-cert",
        user_cert, "--security-mode", "always", NULL};
    cr_assert_eq (s_attuned_fails (&self.daemon, user_executor, &err), 1, "%s", err);
    cr_assert_not_null (strstr (err, "role"), "%s", err);
    free (err);
    testing_rmtree (self.daemon.root);
}

//  The outcome of a CURVE handshake of the key `name` with `endpoint`, seen
//  by the client: ZMQ_EVENT_HANDSHAKE_SUCCEEDED, or _FAILED_AUTH with the
//  ZAP status in `*status`; 0 when nothing happened within 8 s.
static int
s_handshake (s_fixture_t *self, const char *name, const char *endpoint, uint32_t *status)
{
    static int monitors;
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    zsock_set_linger (sock, 0);
    testing_curve_client (sock, self->keys, name, self->core_public);
    char monitor_name[64];
    snprintf (monitor_name, sizeof monitor_name, "inproc://security-monitor-%d",
              ++monitors);
    cr_assert_eq (zmq_socket_monitor (zsock_resolve (sock), monitor_name,
                                      ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL),
                  0);
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    cr_assert_eq (zsock_connect (monitor, "%s", monitor_name), 0);
    cr_assert_eq (zsock_connect (sock, "%s", endpoint), 0);
    zsock_set_rcvtimeo (monitor, 8000);
    zmsg_t *event = zmsg_recv (monitor);
    uint16_t kind = 0;
    if (event) {
        zframe_t *head = zmsg_first (event);
        cr_assert_eq (zframe_size (head), 6);
        memcpy (&kind, zframe_data (head), 2);
        memcpy (status, zframe_data (head) + 2, 4);
    }
    zmsg_destroy (&event);
    zmq_socket_monitor (zsock_resolve (sock), NULL, 0);
    zsock_destroy (&monitor);
    zsock_destroy (&sock);
    return kind;
}

Test (security, user_keys_are_refused_at_internal_handshakes)
{
    static s_fixture_t self;
    testing_daemon_init (&self.daemon, "security-internal");
    //  rules.commands on tcp: a CURVE inbox (ZAP domain attune) that the
    //  daemon's own api reaches with the core's key
    char commands[64];
    snprintf (commands, sizeof commands, "tcp://127.0.0.1:%d", testing_free_port ());
    char text[256];
    snprintf (text, sizeof text, "endpoints\n    rules.commands = %s\n", commands);
    testing_write (self.daemon.root, "core.cfg", text);
    char config[PATH_MAX + 16];
    snprintf (config, sizeof config, "%s/core.cfg", self.daemon.root);
    s_start_with (&self, config);

    //  A user key never completes the handshake of the internal endpoint
    //  (before, it did, and only its messages were dropped)...
    const char *users[] = {"alice", "bob", "root"};
    for (size_t i = 0; i < 3; i++) {
        uint32_t status = 0;
        int event = s_handshake (&self, users[i], commands, &status);
        cr_assert_eq (event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
                      "%s on %s: event 0x%x, not refused", users[i], commands, event);
        cr_assert_eq (status, 400);
    }
    //  ... nor does an unknown key; a peer key (the core's) does
    uint32_t status = 0;
    cr_assert_eq (s_handshake (&self, "eve", commands, &status),
                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    cr_assert_eq (s_handshake (&self, "core", commands, &status),
                  ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    char *log = testing_daemon_read_log (&self.daemon);
    cr_assert_not_null (strstr (log, "a user key"), "%s", log);
    free (log);

    //  The same user keys are served by the api, which reaches rules.commands
    //  with the core's key
    zsock_t *root = s_client (&self, "root", 8000);
    json_t *hello = testing_api_ok (root, "api.hello", NULL);
    cr_assert_str_eq (json_string_value (json_object_get (hello, "role")), "admin");
    json_decref (hello);
    json_decref (testing_api_ok (root, "api.rule.create",
                                 json_pack ("{s:s}", "yaml", s_rule_yaml)));
    json_decref (testing_api_ok (root, "api.rule.delete",
                                 json_pack ("{s:s}", "ref", "core.sec_rule")));
    zsock_destroy (&root);
}
