/*  test_bus_security: which endpoints need CURVE, what apply does without
    keys, and the ZAP handler's admission by domain over real CURVE
    handshakes on 127.0.0.1 (bus/bus_security.h), the worker domain (the
    executor's key alone) included. The api's roles against a live attuned
    are in tests/test_security.c; a worker host's admission across hosts in
    tests/test_netns.c.
*/
#include "bus/bus_security.h"
#include "tests/testing.h"

static void
s_fini (void)
{
    bus_security_shutdown ();
}

TestSuite (bus_security, .fini = s_fini);

Test (bus_security, loopback_classification)
{
    const char *loopback[] = {"tcp://127.0.0.1:5570",
                              "tcp://127.0.0.1:*",
                              "tcp://127.1.2.3:1",
                              "tcp://localhost:5570",
                              "tcp://LOCALHOST:1",
                              "tcp://[::1]:5570",
                              "tcp://::1:5570",
                              "tcp://[::ffff:127.0.0.1]:1",
                              "tcp://10.0.0.1:0;127.0.0.1:5570",
                              NULL};
    const char *exposed[] = {"tcp://0.0.0.0:5570",
                             "tcp://*:5570",
                             "tcp://10.0.0.1:1",
                             "tcp://core1:5562",
                             "tcp://lo:5570",
                             "tcp://[::]:1",
                             "tcp://128.0.0.1:1",
                             "tcp://127.0.0.1.example.com:1",
                             "tcp://localhost.evil:1",
                             "tcp://127.1:1",
                             "tcp://127.0.0.1:0;10.0.0.1:5570",
                             "tcp://:5570",
                             NULL};
    for (int i = 0; loopback[i]; i++)
        cr_assert (bus_security_loopback (loopback[i]), "%s is loopback", loopback[i]);
    for (int i = 0; exposed[i]; i++)
        cr_assert_not (bus_security_loopback (exposed[i]), "%s is not loopback",
                       exposed[i]);
    cr_assert_not (bus_security_loopback ("ipc:///tmp/x"));
    cr_assert_not (bus_security_loopback (NULL));
}

Test (bus_security, which_endpoints_need_curve)
{
    cr_assert_not (
        bus_security_endpoint_needs ("inproc://attune/x", BUS_SECURITY_ALWAYS));
    cr_assert_not (
        bus_security_endpoint_needs ("ipc:///run/attune/x.sock", BUS_SECURITY_ALWAYS));
    cr_assert_not (bus_security_endpoint_needs ("tcp://127.0.0.1:1", BUS_SECURITY_AUTO));
    cr_assert (bus_security_endpoint_needs ("tcp://127.0.0.1:1", BUS_SECURITY_ALWAYS));
    cr_assert (bus_security_endpoint_needs ("tcp://0.0.0.0:1", BUS_SECURITY_AUTO));
    cr_assert (bus_security_endpoint_needs ("tcp://core1:1", BUS_SECURITY_AUTO));
    bus_security_mode_t mode;
    cr_assert_eq (bus_security_mode_parse ("always", &mode), 0);
    cr_assert_eq (mode, BUS_SECURITY_ALWAYS);
    cr_assert_eq (bus_security_mode_parse ("auto", &mode), 0);
    cr_assert_eq (mode, BUS_SECURITY_AUTO);
    cr_assert_eq (bus_security_mode_parse ("off", &mode), -1);
}

Test (bus_security, keys_are_checked)
{
    cr_assert (bus_security_key_valid ("R$&V?K-3m[D)QBNW@nwuhpxI*[0HV>V:.BR5[v1<"));
    cr_assert_not (bus_security_key_valid ("R$&V?K-3m[D)QBNW@nwuhpxI*[0HV>V:.BR5[v1"));
    cr_assert_not (bus_security_key_valid ("R$&V?K-3m[D)QBNW@nwuhpxI*[0HV>V:.BR5[v1 "));
    cr_assert_not (bus_security_key_valid ("R$&V?K-3m[D)QBNW@nwuhpxI*[0HV>V:.BR5[v1<x"));
    cr_assert_not (bus_security_key_valid (NULL));
}

Test (bus_security, fails_closed_without_keys)
{
    bus_security_config_t config = {.mode = BUS_SECURITY_AUTO};
    char message[256];
    cr_assert_eq (bus_security_configure (&config, message, sizeof message), 0);
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    //  Loopback and ipc need nothing; a tcp host that is not loopback is refused
    cr_assert_eq (bus_security_apply (sock, "tcp://127.0.0.1:*", true, NULL), 0);
    cr_assert_eq (bus_security_apply (sock, "ipc:///tmp/x", true, NULL), 0);
    cr_assert_eq (bus_security_apply (sock, "tcp://0.0.0.0:*", true, NULL), -1);
    cr_assert_eq (bus_security_apply (sock, "tcp://core1:5560", false, NULL), -1);
    cr_assert_neq (zsock_mechanism (sock), ZMQ_CURVE);
    zsock_destroy (&sock);

    //  Bad files are named
    config.cert = "/nonexistent/x.cert";
    cr_assert_eq (bus_security_configure (&config, message, sizeof message), -1);
    cr_assert_not_null (strstr (message, "/nonexistent/x.cert"), "%s", message);
    config.cert = NULL;
    config.allow = "/nonexistent-dir";
    cr_assert_eq (bus_security_configure (&config, message, sizeof message), -1);
    cr_assert_not_null (strstr (message, "/nonexistent-dir"), "%s", message);
}

Test (bus_security, client_goes_back_to_plaintext)
{
    char dir[PATH_MAX - 64];
    testing_tmpdir (dir, sizeof dir, "bus-security");
    zcert_t *cert = zcert_new ();
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/me.cert", dir);
    cr_assert_eq (zcert_save (cert, path), 0);
    zcert_destroy (&cert);
    bus_security_config_t config = {.cert = path, .mode = BUS_SECURITY_ALWAYS};
    char message[256];
    cr_assert_eq (bus_security_configure (&config, message, sizeof message), 0, "%s",
                  message);
    cr_assert_not_null (bus_security_public_key ());
    zsock_t *sock = zsock_new (ZMQ_SUB);
    cr_assert_eq (bus_security_apply (sock, "tcp://127.0.0.1:5999", false, NULL), 0);
    cr_assert_eq (zsock_mechanism (sock), ZMQ_CURVE);
    cr_assert_eq (bus_security_apply (sock, "ipc:///tmp/attune-x", false, NULL), 0);
    cr_assert_eq (zsock_mechanism (sock), ZMQ_NULL);
    //  A server without an allow dir is refused
    zsock_t *server = zsock_new (ZMQ_ROUTER);
    cr_assert_eq (bus_security_apply (server, "tcp://127.0.0.1:*", true, NULL), -1);
    zsock_destroy (&server);
    zsock_destroy (&sock);
    bus_security_shutdown ();
    testing_rmtree (dir);
}

//  ---------------------------------------------------------------------------
//  The ZAP handler: who completes the handshake, by domain

typedef struct {
    char dir[PATH_MAX - 64];
    char keys[PATH_MAX];
    char allow[PATH_MAX];
    char core_public[BUS_SECURITY_KEY_SIZE + 1];
} s_curve_t;

//  A key pair keys/NAME.cert[_secret] with the metadata given; its public
//  cert in the allow dir when `allowed`. The public key into `public_key`
//  when not NULL.
static void
s_cert (s_curve_t *self, const char *name, const char *identity, const char *role,
        bool allowed, char *public_key)
{
    zcert_t *cert = zcert_new ();
    cr_assert_not_null (cert);
    zcert_set_meta (cert, "name", "%s", name);
    if (identity)
        zcert_set_meta (cert, "identity", "%s", identity);
    if (role)
        zcert_set_meta (cert, "role", "%s", role);
    char path[PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/%s.cert", self->keys, name);
    cr_assert_eq (zcert_save (cert, path), 0, "%s", path);
    if (allowed) {
        snprintf (path, sizeof path, "%s/%s.cert", self->allow, name);
        cr_assert_eq (zcert_save_public (cert, path), 0, "%s", path);
    }
    if (public_key)
        snprintf (public_key, BUS_SECURITY_KEY_SIZE + 1, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
}

//  Keys: core (this process; a peer), peer, alice (a user), eve (not
//  allowed), exec (a peer not in the allow dir: the executor named by
//  s_curve_start_executor); bus_security configured with core's cert,
//  mode always.
static void
s_curve_keys (s_curve_t *self)
{
    testing_tmpdir (self->dir, sizeof self->dir, "bus-security-zap");
    snprintf (self->keys, sizeof self->keys, "%s/keys", self->dir);
    snprintf (self->allow, sizeof self->allow, "%s/allow", self->dir);
    cr_assert_eq (mkdir (self->keys, 0700), 0);
    cr_assert_eq (mkdir (self->allow, 0750), 0);
    s_cert (self, "core", NULL, NULL, true, self->core_public);
    s_cert (self, "peer", NULL, NULL, true, NULL);
    s_cert (self, "alice", "alice@example", "operator", true, NULL);
    s_cert (self, "eve", NULL, NULL, false, NULL);
    s_cert (self, "exec", NULL, NULL, false, NULL);
}

//  Configure with the core's cert, the allow dir when `allow`, and
//  keys/`executor`.cert as the executor's when not NULL: 0, or -1 with
//  the message in `message`.
static int
s_curve_configure (s_curve_t *self, bool allow, const char *executor, char *message,
                   size_t size)
{
    char cert[PATH_MAX + 64], executor_cert[PATH_MAX + 64];
    snprintf (cert, sizeof cert, "%s/core.cert_secret", self->keys);
    snprintf (executor_cert, sizeof executor_cert, "%s/%s.cert", self->keys,
              executor ? executor : "");
    bus_security_config_t config = {.cert = cert,
                                    .allow = allow ? self->allow : NULL,
                                    .executor = executor ? executor_cert : NULL,
                                    .mode = BUS_SECURITY_ALWAYS};
    return bus_security_configure (&config, message, size);
}

static void
s_curve_start (s_curve_t *self)
{
    s_curve_keys (self);
    char message[512];
    cr_assert_eq (s_curve_configure (self, true, NULL, message, sizeof message), 0, "%s",
                  message);
}

//  The same, with keys/exec.cert named as the executor's.
static void
s_curve_start_executor (s_curve_t *self)
{
    s_curve_keys (self);
    char message[512];
    cr_assert_eq (s_curve_configure (self, true, "exec", message, sizeof message), 0,
                  "%s", message);
}

static void
s_curve_stop (s_curve_t *self)
{
    bus_security_shutdown ();
    testing_rmtree (self->dir);
}

typedef enum { S_PEERS, S_API, S_WORKER } s_domain_t;

//  A ROUTER bound to tcp://127.0.0.1:* in the peer domain, the api's or a
//  worker's; its endpoint into `endpoint`, its handshake events on
//  `*monitor`.
static zsock_t *
s_server (s_domain_t domain, char *endpoint, size_t size, zsock_t **monitor)
{
    static int monitors;
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    cr_assert_not_null (sock);
    zsock_set_linger (sock, 0);
    int rc = domain == S_API ? bus_security_apply_api (sock, "tcp://127.0.0.1:*")
             : domain == S_WORKER
                 ? bus_security_apply_executor (sock, "tcp://127.0.0.1:*")
                 : bus_security_apply (sock, "tcp://127.0.0.1:*", true, NULL);
    cr_assert_eq (rc, 0);
    cr_assert_eq (zsock_mechanism (sock), ZMQ_CURVE);
    char name[64];
    snprintf (name, sizeof name, "inproc://test-monitor-%d", ++monitors);
    cr_assert_eq (zmq_socket_monitor (zsock_resolve (sock), name,
                                      ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL),
                  0);
    *monitor = zsock_new (ZMQ_PAIR);
    cr_assert_not_null (*monitor);
    cr_assert_neq (zsock_connect (*monitor, "%s", name), -1);
    cr_assert_neq (zsock_bind (sock, "tcp://127.0.0.1:*"), -1);
    char *last = zsock_last_endpoint (sock);
    snprintf (endpoint, size, "%s", last);
    zstr_free (&last);
    return sock;
}

//  The next handshake event on `monitor` within `timeout_ms`
//  (ZMQ_EVENT_HANDSHAKE_*, its value into `*value`), or 0.
static int
s_handshake (zsock_t *monitor, int timeout_ms, uint32_t *value)
{
    zsock_set_rcvtimeo (monitor, timeout_ms);
    zmsg_t *event = zmsg_recv (monitor);
    if (!event)
        return 0;
    zframe_t *head = zmsg_first (event);
    cr_assert_eq (zframe_size (head), 6);
    uint16_t kind;
    memcpy (&kind, zframe_data (head), 2);
    memcpy (value, zframe_data (head) + 2, 4);
    zmsg_destroy (&event);
    return kind;
}

//  A DEALER with the key `name`, connected to `endpoint` (core's key).
static zsock_t *
s_client (s_curve_t *self, const char *name, const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    zsock_set_linger (sock, 0);
    testing_curve_client (sock, self->keys, name, self->core_public);
    cr_assert_eq (zsock_connect (sock, "%s", endpoint), 0);
    zsock_set_sndtimeo (sock, 500);
    return sock;
}

//  The public key of keys/NAME.cert.
static void
s_public (s_curve_t *self, const char *name, char *out)
{
    char path[PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/%s.cert", self->keys, name);
    zcert_t *cert = zcert_load (path);
    cr_assert_not_null (cert, "%s", path);
    snprintf (out, BUS_SECURITY_KEY_SIZE + 1, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
}

//  True when a message reaches `server` within `timeout_ms`; its body (the
//  routing id skipped) into `body`, which the caller closes.
static bool
s_arrives (zsock_t *server, int timeout_ms, zmq_msg_t *body)
{
    zsock_set_rcvtimeo (server, timeout_ms);
    zmq_msg_t id;
    zmq_msg_init (&id);
    int rc = zmq_msg_recv (&id, zsock_resolve (server), 0);
    zmq_msg_close (&id);
    zmq_msg_init (body);
    if (rc == -1)
        return false;
    cr_assert_neq (zmq_msg_recv (body, zsock_resolve (server), 0), -1);
    return true;
}

//  `name` connects to `server`: its handshake succeeds and its message
//  arrives with the User-Id of its key (asserted). The body for more checks.
static void
s_admitted (s_curve_t *self, const char *name, zsock_t *server, zsock_t *monitor,
            const char *endpoint, zmq_msg_t *body)
{
    zsock_t *client = s_client (self, name, endpoint);
    uint32_t value = 0;
    cr_assert_eq (s_handshake (monitor, 5000, &value), ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
                  "%s was not admitted on %s", name, endpoint);
    cr_assert_eq (zstr_send (client, "hello"), 0);
    cr_assert (s_arrives (server, 5000, body), "%s's message did not arrive", name);
    cr_assert_eq (zmq_msg_size (body), 5);
    char key[BUS_SECURITY_KEY_SIZE + 1];
    s_public (self, name, key);
    const char *user_id = zmq_msg_gets (body, "User-Id");
    cr_assert_not_null (user_id);
    cr_assert_str_eq (user_id, key);
    zsock_destroy (&client);
}

//  `name` connects to `server`: the handshake is refused by the ZAP
//  handler (status 400) and nothing arrives.
static void
s_refused (s_curve_t *self, const char *name, zsock_t *server, zsock_t *monitor,
           const char *endpoint)
{
    zsock_t *client = s_client (self, name, endpoint);
    uint32_t value = 0;
    int event = s_handshake (monitor, 5000, &value);
    cr_assert_eq (event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
                  "%s on %s: handshake event 0x%x, not a refusal", name, endpoint, event);
    cr_assert_eq (value, 400);
    zstr_send (client, "hello"); //  queued at most: it has no connection
    zmq_msg_t body;
    cr_assert_not (s_arrives (server, 300, &body), "%s's message arrived", name);
    zmq_msg_close (&body);
    zsock_destroy (&client);
    //  Later attempts (libzmq reconnects) are refused too, never admitted
    while ((event = s_handshake (monitor, 0, &value)))
        cr_assert_eq (event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
}

Test (bus_security, user_key_refused_on_internal_admitted_on_api)
{
    s_curve_t self;
    s_curve_start (&self);
    char peer_endpoint[256], api_endpoint[256];
    zsock_t *peer_monitor, *api_monitor;
    zsock_t *peer =
        s_server (S_PEERS, peer_endpoint, sizeof peer_endpoint, &peer_monitor);
    zsock_t *api = s_server (S_API, api_endpoint, sizeof api_endpoint, &api_monitor);

    //  The user key does not get past the handshake of an internal ROUTER
    s_refused (&self, "alice", peer, peer_monitor, peer_endpoint);

    //  ... and gets into the api, its cert's metadata readable on each message
    zmq_msg_t body;
    s_admitted (&self, "alice", api, api_monitor, api_endpoint, &body);
    const char *role = zmq_msg_gets (&body, "role");
    const char *identity = zmq_msg_gets (&body, "identity");
    cr_assert_not_null (role);
    cr_assert_str_eq (role, "operator");
    cr_assert_not_null (identity);
    cr_assert_str_eq (identity, "alice@example");
    cr_assert (bus_security_user (&body));
    zmq_msg_close (&body);

    zsock_destroy (&peer_monitor);
    zsock_destroy (&api_monitor);
    zsock_destroy (&peer);
    zsock_destroy (&api);
    s_curve_stop (&self);
}

Test (bus_security, peer_key_admitted_on_both_domains)
{
    s_curve_t self;
    s_curve_start (&self);
    char peer_endpoint[256], api_endpoint[256];
    zsock_t *peer_monitor, *api_monitor;
    zsock_t *peer =
        s_server (S_PEERS, peer_endpoint, sizeof peer_endpoint, &peer_monitor);
    zsock_t *api = s_server (S_API, api_endpoint, sizeof api_endpoint, &api_monitor);
    const char *names[] = {"peer", "core"};
    for (size_t i = 0; i < 2; i++) {
        zmq_msg_t body;
        s_admitted (&self, names[i], peer, peer_monitor, peer_endpoint, &body);
        cr_assert_not (bus_security_user (&body));
        cr_assert_null (zmq_msg_gets (&body, "role"));
        const char *name = zmq_msg_gets (&body, "name");
        cr_assert_not_null (name);
        cr_assert_str_eq (name, names[i]);
        zmq_msg_close (&body);
        s_admitted (&self, names[i], api, api_monitor, api_endpoint, &body);
        cr_assert_not (bus_security_user (&body));
        zmq_msg_close (&body);
    }
    zsock_destroy (&peer_monitor);
    zsock_destroy (&api_monitor);
    zsock_destroy (&peer);
    zsock_destroy (&api);
    s_curve_stop (&self);
}

Test (bus_security, unknown_key_refused_on_both_domains)
{
    s_curve_t self;
    s_curve_start (&self);
    char peer_endpoint[256], api_endpoint[256];
    zsock_t *peer_monitor, *api_monitor;
    zsock_t *peer =
        s_server (S_PEERS, peer_endpoint, sizeof peer_endpoint, &peer_monitor);
    zsock_t *api = s_server (S_API, api_endpoint, sizeof api_endpoint, &api_monitor);
    s_refused (&self, "eve", peer, peer_monitor, peer_endpoint);
    s_refused (&self, "eve", api, api_monitor, api_endpoint);
    //  ... while the allowed keep getting in
    zmq_msg_t body;
    s_admitted (&self, "peer", peer, peer_monitor, peer_endpoint, &body);
    zmq_msg_close (&body);
    zsock_destroy (&peer_monitor);
    zsock_destroy (&api_monitor);
    zsock_destroy (&peer);
    zsock_destroy (&api);
    s_curve_stop (&self);
}

Test (bus_security, cert_added_later_is_admitted_without_restart)
{
    s_curve_t self;
    s_curve_start (&self);
    char endpoint[256];
    zsock_t *monitor;
    zsock_t *server = s_server (S_PEERS, endpoint, sizeof endpoint, &monitor);
    s_cert (&self, "late", NULL, NULL, false, NULL);
    s_refused (&self, "late", server, monitor, endpoint);
    //  Into the allow dir, from its keys/ copy
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    snprintf (from, sizeof from, "%s/late.cert", self.keys);
    snprintf (to, sizeof to, "%s/late.cert", self.allow);
    zcert_t *cert = zcert_load (from);
    cr_assert_not_null (cert);
    cr_assert_eq (zcert_save_public (cert, to), 0);
    zcert_destroy (&cert);
    zmq_msg_t body;
    s_admitted (&self, "late", server, monitor, endpoint, &body);
    zmq_msg_close (&body);
    //  ... and a cert that gains a role is a user's: refused from then on
    snprintf (from, sizeof from, "%s/late.cert_secret", self.keys);
    cert = zcert_load (from);
    cr_assert_not_null (cert);
    zcert_set_meta (cert, "role", "viewer");
    cr_assert_eq (zcert_save_public (cert, to), 0);
    zcert_destroy (&cert);
    s_refused (&self, "late", server, monitor, endpoint);
    zsock_destroy (&monitor);
    zsock_destroy (&server);
    s_curve_stop (&self);
}

Test (bus_security, worker_endpoint_admits_the_executor_key_alone)
{
    s_curve_t self;
    s_curve_start_executor (&self);
    char worker_endpoint[256], peer_endpoint[256];
    zsock_t *worker_monitor, *peer_monitor;
    zsock_t *worker =
        s_server (S_WORKER, worker_endpoint, sizeof worker_endpoint, &worker_monitor);
    zsock_t *peer =
        s_server (S_PEERS, peer_endpoint, sizeof peer_endpoint, &peer_monitor);
    //  The executor's key gets in though it is not in the allow dir, with
    //  its User-Id and its cert's metadata; each message is the executor's
    zmq_msg_t body;
    s_admitted (&self, "exec", worker, worker_monitor, worker_endpoint, &body);
    cr_assert (bus_security_from_executor (&body));
    cr_assert_not (bus_security_user (&body));
    const char *name = zmq_msg_gets (&body, "name");
    cr_assert (name && streq (name, "exec"));
    zmq_msg_close (&body);
    //  Every other key is refused there, whatever the allow dir says: a
    //  peer's (a sensor's, another worker's), this process's own, a user's,
    //  a stranger's
    const char *others[] = {"peer", "core", "alice", "eve"};
    for (size_t i = 0; i < 4; i++)
        s_refused (&self, others[i], worker, worker_monitor, worker_endpoint);
    //  ... while the peer domain still admits peers, whose messages are not
    //  the executor's; and the executor's key is not in the allow dir
    s_admitted (&self, "peer", peer, peer_monitor, peer_endpoint, &body);
    cr_assert_not (bus_security_from_executor (&body));
    zmq_msg_close (&body);
    s_refused (&self, "exec", peer, peer_monitor, peer_endpoint);
    s_admitted (&self, "exec", worker, worker_monitor, worker_endpoint, &body);
    zmq_msg_close (&body);
    zsock_destroy (&worker_monitor);
    zsock_destroy (&peer_monitor);
    zsock_destroy (&worker);
    zsock_destroy (&peer);
    s_curve_stop (&self);
}

Test (bus_security, worker_endpoint_fails_closed_without_an_executor)
{
    s_curve_t self;
    s_curve_keys (&self);
    char message[512];
    //  No executor named: a worker endpoint that needs CURVE does not bind
    cr_assert_eq (s_curve_configure (&self, true, NULL, message, sizeof message), 0);
    cr_assert_null (bus_security_executor_key ());
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    cr_assert_eq (bus_security_apply_executor (sock, "tcp://127.0.0.1:*"), -1);
    cr_assert_neq (zsock_mechanism (sock), ZMQ_CURVE);
    //  (inproc and ipc need no CURVE, nor a key: the kernel guards them)
    cr_assert_eq (bus_security_apply_executor (sock, "ipc:///tmp/attune-w"), 0);
    zsock_destroy (&sock);
    //  A user's cert (a role) is never the executor's; a missing file is named
    cr_assert_eq (s_curve_configure (&self, true, "alice", message, sizeof message), -1);
    cr_assert (strstr (message, "role"), "%s", message);
    cr_assert_eq (s_curve_configure (&self, true, "nobody", message, sizeof message), -1);
    cr_assert (strstr (message, "nobody.cert"), "%s", message);
    //  Named, a worker endpoint needs no allow dir (other servers still do)
    cr_assert_eq (s_curve_configure (&self, false, "exec", message, sizeof message), 0,
                  "%s", message);
    cr_assert_not_null (bus_security_executor_key ());
    sock = zsock_new (ZMQ_ROUTER);
    cr_assert_eq (bus_security_apply (sock, "tcp://127.0.0.1:*", true, NULL), -1);
    cr_assert_eq (bus_security_apply_executor (sock, "tcp://127.0.0.1:*"), 0);
    cr_assert_eq (zsock_mechanism (sock), ZMQ_CURVE);
    zsock_destroy (&sock);
    char endpoint[256];
    zsock_t *monitor;
    zsock_t *worker = s_server (S_WORKER, endpoint, sizeof endpoint, &monitor);
    zmq_msg_t body;
    s_admitted (&self, "exec", worker, monitor, endpoint, &body);
    cr_assert (bus_security_from_executor (&body));
    zmq_msg_close (&body);
    s_refused (&self, "peer", worker, monitor, endpoint);
    zsock_destroy (&monitor);
    zsock_destroy (&worker);
    s_curve_stop (&self);
}

//  Send a raw ZAP request (the frames given, NULL-ended; "#KEY:name" is
//  the 32-byte CURVE key of keys/name, "#BYTES:n" n bytes of 'x') from
//  `req`, and the reply within 2 s (asserted). Caller destroys it.
static zmsg_t *
s_zap_ask (s_curve_t *self, zsock_t *req, const char *frames[])
{
    zmsg_t *request = zmsg_new ();
    for (int i = 0; frames[i]; i++) {
        if (strncmp (frames[i], "#KEY:", 5) == 0) {
            char key[BUS_SECURITY_KEY_SIZE + 1];
            s_public (self, frames[i] + 5, key);
            byte binary[32];
            cr_assert_not_null (zmq_z85_decode (binary, key));
            zmsg_addmem (request, binary, 32);
        } else if (strncmp (frames[i], "#BYTES:", 7) == 0) {
            size_t size = (size_t)atoi (frames[i] + 7);
            char *bytes = (char *)malloc (size + 1);
            memset (bytes, 'x', size);
            zmsg_addmem (request, bytes, size);
            free (bytes);
        } else
            zmsg_addstr (request, frames[i]);
    }
    cr_assert_eq (zmsg_send (&request, req), 0);
    zmsg_t *reply = zmsg_recv (req);
    cr_assert_not_null (reply, "no ZAP reply to a request of %s...", frames[0]);
    return reply;
}

//  The reply's frames checked: 6 of them, version 1.0, the request id
//  echoed, status `code`; its user id and metadata frames returned.
static void
s_zap_check (zmsg_t *reply, const char *request_id, const char *code, char **user_id,
             zframe_t **metadata)
{
    cr_assert_eq (zmsg_size (reply), 6);
    char *version = zmsg_popstr (reply);
    char *id = zmsg_popstr (reply);
    char *status = zmsg_popstr (reply);
    char *text = zmsg_popstr (reply);
    cr_assert_str_eq (version, "1.0");
    cr_assert_str_eq (id, request_id);
    cr_assert_str_eq (status, code, "status %s (%s), not %s", status, text, code);
    cr_assert_gt (strlen (text), 0);
    *user_id = zmsg_popstr (reply);
    *metadata = zmsg_pop (reply);
    zstr_free (&version);
    zstr_free (&id);
    zstr_free (&status);
    zstr_free (&text);
}

//  The value of `name` in ZMTP-property-encoded metadata, or NULL; the
//  encoding is checked as it is read. Caller frees.
static char *
s_property (zframe_t *metadata, const char *name)
{
    const byte *data = zframe_data (metadata);
    size_t size = zframe_size (metadata), at = 0;
    char *found = NULL;
    while (at < size) {
        size_t name_size = data[at++];
        cr_assert_gt (name_size, 0);
        cr_assert_leq (at + name_size + 4, size, "a name runs past the frame");
        bool match =
            name_size == strlen (name) && memcmp (data + at, name, name_size) == 0;
        at += name_size;
        size_t value_size = ((size_t)data[at] << 24) | ((size_t)data[at + 1] << 16) |
                            ((size_t)data[at + 2] << 8) | data[at + 3];
        at += 4;
        cr_assert_leq (at + value_size, size, "a value runs past the frame");
        if (match) {
            found = (char *)calloc (1, value_size + 1);
            memcpy (found, data + at, value_size);
        }
        at += value_size;
    }
    return found;
}

Test (bus_security, zap_handler_answers_every_request_and_keeps_serving)
{
    s_curve_t self;
    s_curve_start (&self);
    char endpoint[256];
    zsock_t *monitor;
    zsock_t *server =
        s_server (S_PEERS, endpoint, sizeof endpoint, &monitor); //  starts it
    zsock_t *req = zsock_new (ZMQ_REQ);
    zsock_set_linger (req, 0);
    zsock_set_rcvtimeo (req, 2000);
    zsock_set_sndtimeo (req, 2000);
    cr_assert_eq (zsock_connect (req, "inproc://zeromq.zap.01"), 0);
    char *user_id;
    zframe_t *metadata;

    //  Malformed: each gets a 400 (the request id echoed when there is one)
    struct {
        const char *id; //  the request id expected back
        const char *frames[24];
    } bad[] = {
        {"", {"hello", NULL}},
        {"1", {"1.0", "1", "attune", NULL}},
        {"2", {"2.0", "2", "attune", "127.0.0.1", "", "CURVE", "#KEY:peer", NULL}},
        {"3", {"1.0", "3", "attune", "127.0.0.1", "", "CURVE", "#BYTES:31", NULL}},
        {"4", {"1.0", "4", "attune", "127.0.0.1", "", "CURVE", "#BYTES:0", NULL}},
        {"5", {"1.0", "5", "attune", "127.0.0.1", "", "CURVE", "#KEY:peer", "x", NULL}},
        {"6", {"1.0", "6", "attune", "127.0.0.1", "", "CURVE", NULL}},
        {"7", {"1.0", "7", "attune", "127.0.0.1", "", "PLAIN", "admin", "secret", NULL}},
        {"8", {"1.0", "8", "attune", "127.0.0.1", "", "NULL", NULL}},
        {"9", {"1.0", "9", "other", "127.0.0.1", "", "CURVE", "#KEY:peer", NULL}},
        {"10", {"1.0", "10", "", "127.0.0.1", "", "CURVE", "#KEY:peer", NULL}},
        {"11", {"1.0", "11", "attune", "127.0.0.1", "", "CURVE", "#KEY:eve", NULL}},
        {"12", {"1.0", "12", "attune", "127.0.0.1", "", "CURVE", "#KEY:alice", NULL}},
        {"13", {"1.0", "13", "attune.api", "127.0.0.1", "", "CURVE", "#KEY:eve", NULL}},
        {"14",
         {"1.0", "14", "attune", "",  "",  "CURVE", "#KEY:peer", "a", "b", "c", "d", "e",
          "f",   "g",  "h",      "i", "j", "k",     "l",         "m", "n", "o", NULL}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zmsg_t *reply = s_zap_ask (&self, req, bad[i].frames);
        s_zap_check (reply, bad[i].id, "400", &user_id, &metadata);
        cr_assert_str_eq (user_id, "", "case %zu", i);
        cr_assert_eq (zframe_size (metadata), 0, "case %zu", i);
        zstr_free (&user_id);
        zframe_destroy (&metadata);
        zmsg_destroy (&reply);
    }

    //  Well formed: a peer on attune, a user on attune.api, with metadata
    char alice[BUS_SECURITY_KEY_SIZE + 1], peer[BUS_SECURITY_KEY_SIZE + 1];
    s_public (&self, "alice", alice);
    s_public (&self, "peer", peer);
    const char *peer_request[] = {"1.0", "p",     "attune",    "127.0.0.1",
                                  "",    "CURVE", "#KEY:peer", NULL};
    zmsg_t *reply = s_zap_ask (&self, req, peer_request);
    s_zap_check (reply, "p", "200", &user_id, &metadata);
    cr_assert_str_eq (user_id, peer);
    char *name = s_property (metadata, "name");
    cr_assert_not_null (name);
    cr_assert_str_eq (name, "peer");
    cr_assert_null (s_property (metadata, "role"));
    free (name);
    zstr_free (&user_id);
    zframe_destroy (&metadata);
    zmsg_destroy (&reply);
    const char *alice_request[] = {"1.0", "a",     "attune.api", "10.1.2.3",
                                   "",    "CURVE", "#KEY:alice", NULL};
    reply = s_zap_ask (&self, req, alice_request);
    s_zap_check (reply, "a", "200", &user_id, &metadata);
    cr_assert_str_eq (user_id, alice);
    char *role = s_property (metadata, "role");
    char *identity = s_property (metadata, "identity");
    cr_assert_not_null (role);
    cr_assert_not_null (identity);
    cr_assert_str_eq (role, "operator");
    cr_assert_str_eq (identity, "alice@example");
    free (role);
    free (identity);
    zstr_free (&user_id);
    zframe_destroy (&metadata);
    zmsg_destroy (&reply);

    //  ... and real handshakes are still answered
    zmq_msg_t body;
    s_admitted (&self, "peer", server, monitor, endpoint, &body);
    zmq_msg_close (&body);
    s_refused (&self, "alice", server, monitor, endpoint);
    zsock_destroy (&req);
    zsock_destroy (&monitor);
    zsock_destroy (&server);
    s_curve_stop (&self);
}

Test (bus_security, fails_closed_when_the_zap_handler_cannot_start)
{
    s_curve_t self;
    s_curve_start (&self);
    //  Someone else holds the ZAP endpoint: no CURVE server binds
    zsock_t *squatter = zsock_new (ZMQ_REP);
    zsock_set_linger (squatter, 0);
    cr_assert_eq (zsock_bind (squatter, "inproc://zeromq.zap.01"), 0);
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    cr_assert_eq (bus_security_apply (sock, "tcp://127.0.0.1:*", true, NULL), -1);
    cr_assert_eq (bus_security_apply_api (sock, "tcp://127.0.0.1:*"), -1);
    cr_assert_neq (zsock_mechanism (sock), ZMQ_CURVE);
    zsock_destroy (&sock);
    zsock_unbind (squatter, "inproc://zeromq.zap.01");
    zsock_destroy (&squatter);
    //  A new configuration tries again, and a handler stopped by shutdown
    //  frees the endpoint for the next one
    char cert[PATH_MAX + 64];
    snprintf (cert, sizeof cert, "%s/core.cert_secret", self.keys);
    bus_security_config_t config = {
        .cert = cert, .allow = self.allow, .mode = BUS_SECURITY_ALWAYS};
    for (int round = 0; round < 2; round++) {
        cr_assert_eq (bus_security_configure (&config, NULL, 0), 0);
        char endpoint[256];
        zsock_t *monitor;
        zsock_t *server =
            s_server (round == 1 ? S_API : S_PEERS, endpoint, sizeof endpoint, &monitor);
        zmq_msg_t body;
        s_admitted (&self, "peer", server, monitor, endpoint, &body);
        zmq_msg_close (&body);
        zsock_destroy (&monitor);
        zsock_destroy (&server);
        bus_security_shutdown ();
    }
    s_curve_stop (&self);
}
