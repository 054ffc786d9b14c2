/*  test_http_curve: the gateway in a CURVE deployment (--security-mode
    always): it reaches the api with the process's peer cert and delegates
    each request with its API key's role; users' keys may delegate only as
    admin, capped at their own role (proto/PROTOCOL.md, "Delegation").
*/
#include "tests/testing_api.h"
#include <sys/stat.h>

static void
s_fini (void)
{
    testing_daemon_stop_all ();
}

TestSuite (http_curve, .fini = s_fini, .timeout = 120);

static testing_daemon_t s_daemon;
static char s_keys[PATH_MAX], s_allow[PATH_MAX], s_core_public[64];
static int s_port;

static void
s_keygen (const char *name, const char *role)
{
    const char *argv[] = {ATTUNE_HELPER_DIR "/attune", "keygen", name, "--dir", s_keys,
                          role ? "--role" : NULL,      role,     NULL};
    cr_assert_eq (testing_run (argv, NULL, NULL, NULL, 10000), 0);
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

//  An API key for the gateway (its text, caller frees)
static char *
s_apikey (const char *name, const char *role)
{
    const char *argv[] = {ATTUNE_HELPER_DIR "/attune",
                          "apikey",
                          "create",
                          name,
                          "--role",
                          role,
                          "--data",
                          s_daemon.data,
                          NULL};
    char *out = NULL;
    cr_assert_eq (testing_run (argv, NULL, &out, NULL, 10000), 0);
    out[strcspn (out, "\n")] = 0;
    return out;
}

static void
s_start (void)
{
    testing_daemon_init (&s_daemon, "test_http_curve");
    snprintf (s_keys, sizeof s_keys, "%s/keys", s_daemon.root);
    snprintf (s_allow, sizeof s_allow, "%s/allow", s_daemon.root);
    cr_assert_eq (mkdir (s_keys, 0700), 0);
    cr_assert_eq (mkdir (s_allow, 0750), 0);
    s_keygen ("core", NULL);
    s_keygen ("alice", "operator");
    s_keygen ("root", "admin");
    char core[PATH_MAX + 64], http[64];
    snprintf (core, sizeof core, "%s/core.cert_secret", s_keys);
    s_port = testing_free_port ();
    snprintf (http, sizeof http, "127.0.0.1:%d", s_port);
    const char *extra[] = {"--cert", core,     "--allow", s_allow, "--security-mode",
                           "always", "--http", http,      NULL};
    testing_daemon_start (&s_daemon, extra);
    cr_assert (testing_daemon_wait_log (&s_daemon, "http: serving", 5000));
}

//  POST /api/v1/executions with `key`: the HTTP status
static int
s_run (const char *key)
{
    char url[128], header[128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/api/v1/executions", s_port);
    snprintf (header, sizeof header, "St2-Api-Key: %s", key);
    const char *argv[] = {"/usr/bin/curl",
                          "-s",
                          "-o",
                          "/dev/null",
                          "-w",
                          "%{http_code}",
                          "-H",
                          header,
                          "-d",
                          "{\"action\": \"core.noop\", \"parameters\": {}}",
                          url,
                          NULL};
    char *out = NULL;
    cr_assert_eq (testing_run (argv, NULL, &out, NULL, 20000), 0);
    int status = atoi (out);
    free (out);
    return status;
}

Test (http_curve, gateway_delegates)
{
    s_start ();
    char *viewer = s_apikey ("v", "viewer");
    char *op = s_apikey ("o", "operator");
    cr_assert_eq (s_run (viewer), 403);
    cr_assert_eq (s_run (op), 201);
    free (viewer);
    free (op);
}

static zsock_t *
s_client (const char *name)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (sock, 0);
    testing_curve_client (sock, s_keys, name, s_core_public);
    cr_assert_eq (zsock_connect (sock, "%s", s_daemon.api), 0);
    zsock_set_rcvtimeo (sock, 5000);
    return sock;
}

static json_t *
s_delegate (const char *role, const char *type)
{
    return json_pack ("{s:s, s:{s:s}, s:s, s:s}", "type", type, "payload", "action",
                      "core.noop", "identity", "apikey:x", "role", role);
}

Test (http_curve, users_delegate_as_admin_only)
{
    s_start ();
    zsock_t *alice = s_client ("alice");
    zsock_t *root = s_client ("root");
    //  An operator may not delegate at all
    testing_api_fails (alice, "api.delegate",
                       s_delegate ("operator", "api.execution.run"), "forbidden");
    //  An admin delegates, and the role delegated is the one checked
    json_t *reply = testing_api_call (root, "api.delegate",
                                      s_delegate ("viewer", "api.execution.run"));
    char *text = json_dumps (reply, JSON_COMPACT);
    cr_assert (strstr (text, "forbidden") &&
                   strstr (text, "apikey:x has the role viewer"),
               "%s", text);
    free (text);
    json_decref (reply);
    json_decref (testing_api_ok (root, "api.delegate",
                                 s_delegate ("operator", "api.execution.run")));
    testing_api_fails (root, "api.delegate", s_delegate ("root", "api.execution.run"),
                       "bad_request");
    testing_api_fails (root, "api.delegate", s_delegate ("admin", "api.delegate"),
                       "bad_request");
    zsock_destroy (&alice);
    zsock_destroy (&root);
}
