/*  test_bus_security: which endpoints need CURVE, and what apply does
    without keys (bus/bus_security.h). The live CURVE exchanges are in
    tests/test_security.c.
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
