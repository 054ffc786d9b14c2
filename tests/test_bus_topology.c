/*  test_bus_topology: logical endpoint names -> addresses.
*/
#include "tests/testing.h"
#include <limits.h>
#include <sys/stat.h>

#include "bus/bus_facts.h"
#include "bus/bus_topology.h"

static char s_root[PATH_MAX - 256];

static void
s_setup (void)
{
    testing_tmpdir (s_root, sizeof s_root, "test_topology");
}

static void
s_teardown (void)
{
    testing_rmtree (s_root);
}

TestSuite (bus_topology, .init = s_setup, .fini = s_teardown, .timeout = 30);

Test (bus_topology, defaults_are_inproc_per_namespace)
{
    bus_topology_t *a = bus_topology_new ("alpha");
    bus_topology_t *b = bus_topology_new (NULL);
    cr_assert_str_eq (bus_topology_bind (a, "rules.commands"),
                      "inproc://alpha/rules.commands");
    cr_assert_str_eq (bus_topology_connect (a, "rules.commands"),
                      "inproc://alpha/rules.commands");
    cr_assert_str_eq (bus_topology_bind (b, "rules.commands"),
                      "inproc://attune/rules.commands");
    cr_assert_null (bus_topology_bind (a, "bad name"), "names are [A-Za-z0-9_.-]");
    cr_assert_null (bus_topology_bind (a, ""));
    cr_assert_null (bus_topology_connect (a, "a/b"));
    bus_topology_destroy (&a);
    bus_topology_destroy (&b);
    cr_assert_null (a);
    bus_topology_destroy (&a); //  twice is safe
}

Test (bus_topology, parse_transport_and_endpoints)
{
    const char *text = "bus\n"
                       "    transport = ipc\n"
                       "    ipc_dir = /run/test\n"
                       "endpoints\n"
                       "    executor.commands = tcp://10.0.0.1:5561\n"
                       "    rules.facts\n"
                       "        bind = tcp://0.0.0.0:5562\n"
                       "        connect = tcp://core1:5562\n";
    char message[256] = "";
    bus_topology_t *topology =
        bus_topology_parse (text, "test.cfg", message, sizeof message);
    cr_assert_not_null (topology, "%s", message);
    cr_assert_str_eq (bus_topology_bind (topology, "executor.commands"),
                      "tcp://10.0.0.1:5561");
    cr_assert_str_eq (bus_topology_connect (topology, "executor.commands"),
                      "tcp://10.0.0.1:5561");
    cr_assert_str_eq (bus_topology_bind (topology, "rules.facts"), "tcp://0.0.0.0:5562");
    cr_assert_str_eq (bus_topology_connect (topology, "rules.facts"), "tcp://core1:5562");
    cr_assert_str_eq (bus_topology_bind (topology, "registry.facts"),
                      "ipc:///run/test/registry.facts.sock", "unlisted names use ipc");
    //  Set overrides
    cr_assert_eq (bus_topology_set (topology, "rules.facts", "inproc://x", NULL), 0);
    cr_assert_str_eq (bus_topology_connect (topology, "rules.facts"), "inproc://x");
    cr_assert_eq (bus_topology_set (topology, "rules.facts", "udp://x", NULL), -1);
    cr_assert_eq (bus_topology_set (topology, "bad name", "inproc://x", NULL), -1);
    bus_topology_destroy (&topology);
}

Test (bus_topology, errors_name_origin_endpoint_and_address)
{
    char message[256] = "";
    cr_assert_null (bus_topology_parse ("endpoints\n    rules.commands = tpc://x\n",
                                        "split.cfg", message, sizeof message));
    cr_assert (strstr (message, "split.cfg"), "%s", message);
    cr_assert (strstr (message, "rules.commands"), "%s", message);
    cr_assert (strstr (message, "tpc://x"), "%s", message);
    cr_assert_null (bus_topology_parse ("bus\n    transport = carrier-pigeon\n", "t.cfg",
                                        message, sizeof message));
    cr_assert (strstr (message, "transport"), "%s", message);
    cr_assert_null (
        bus_topology_parse ("endpoints\n    x.y\n        connect = tcp://a:1\n", "t.cfg",
                            message, sizeof message),
        "a bind is required");
    cr_assert (strstr (message, "x.y"), "%s", message);
    cr_assert_null (bus_topology_parse ("endpoints\n  bad indent\n", "t.cfg", message,
                                        sizeof message));
}

Test (bus_topology, address_check)
{
    cr_assert_eq (bus_topology_check_address ("inproc://a"), 0);
    cr_assert_eq (bus_topology_check_address ("ipc:///tmp/a.sock"), 0);
    cr_assert_eq (bus_topology_check_address ("tcp://127.0.0.1:5555"), 0);
    cr_assert_eq (bus_topology_check_address ("tcp://*:5555"), 0);
    cr_assert_eq (bus_topology_check_address ("tcp://127.0.0.1:*"), 0);
    cr_assert_eq (bus_topology_check_address ("tcp://host"), -1, "tcp needs a port");
    cr_assert_eq (bus_topology_check_address ("tcp://:5555"), -1);
    cr_assert_eq (bus_topology_check_address ("tcp://h:55x5"), -1);
    cr_assert_eq (bus_topology_check_address ("inproc://"), -1);
    cr_assert_eq (bus_topology_check_address ("inproc://a b"), -1);
    cr_assert_eq (bus_topology_check_address ("http://x"), -1);
    cr_assert_eq (bus_topology_check_address (NULL), -1);
}

Test (bus_topology, load_file_and_missing_file)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/t.cfg", s_root);
    FILE *file = fopen (path, "w");
    fputs ("endpoints\n    api = tcp://127.0.0.1:5570\n", file);
    fclose (file);
    char message[256] = "";
    bus_topology_t *topology = bus_topology_load (path, message, sizeof message);
    cr_assert_not_null (topology, "%s", message);
    cr_assert_str_eq (bus_topology_bind (topology, "api"), "tcp://127.0.0.1:5570");
    bus_topology_destroy (&topology);
    snprintf (path, sizeof path, "%s/missing.cfg", s_root);
    cr_assert_null (bus_topology_load (path, message, sizeof message));
    cr_assert (strstr (message, "missing.cfg"), "%s", message);
}

//  The same publishing code over inproc, ipc and tcp, chosen by topology only
Test (bus_topology, same_code_over_every_transport)
{
    char ipc[PATH_MAX + 32];
    snprintf (ipc, sizeof ipc, "ipc://%s/facts.sock", s_root);
    const char *addresses[] = {"inproc://topology-test/facts", ipc, "tcp://127.0.0.1:*"};
    for (int t = 0; t < 3; t++) {
        bus_topology_t *topology = bus_topology_new ("topology-test");
        cr_assert_eq (bus_topology_set (topology, "test.facts", addresses[t], NULL), 0);
        bus_pub_t *pub = bus_pub_new (bus_topology_bind (topology, "test.facts"), 0);
        cr_assert_not_null (pub, "bind %s", addresses[t]);
        bus_sub_t *sub = bus_sub_new (0);
        //  tcp://...:* resolves at bind time: connect to what was bound
        const char *connect = strstr (addresses[t], ":*")
                                  ? bus_pub_endpoint (pub)
                                  : bus_topology_connect (topology, "test.facts");
        cr_assert_eq (bus_sub_connect (sub, connect), 0);
        bus_sub_subscribe (sub, "");
        proto_envelope_t *fact = proto_envelope_new ("test.hello", "test@topology");
        proto_envelope_t *got = NULL;
        int64_t deadline = zclock_mono () + 5000;
        while (!got && zclock_mono () < deadline) {
            bus_pub_send (pub, fact);
            got = bus_sub_recv (sub, NULL, 20);
        }
        cr_assert_not_null (got, "a fact over %s", addresses[t]);
        cr_assert_str_eq (proto_envelope_type (got), "test.hello");
        proto_envelope_destroy (&got);
        proto_envelope_destroy (&fact);
        bus_sub_destroy (&sub);
        bus_pub_destroy (&pub);
        bus_topology_destroy (&topology);
    }
}
