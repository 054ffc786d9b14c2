/*  test_versions: mixed versions against a live attuned (proto/PROTOCOL.md,
    "Versioning"; store format versions, "Backup and restore").

    A peer one version ahead: an envelope of another `v` is refused with
    `version`; a payload with a field this build does not know is served
    (readers ignore unknown fields). A data directory written by a newer
    attune (a store of a newer format) is refused at start, naming the
    store and both versions; an older one (no version recorded) is
    migrated and runs.
*/
#include "tests/testing_api.h"
#include "store/store.h"

#include <lmdb.h>

static testing_daemon_t s_daemon;

static void
s_fini (void)
{
    testing_daemon_stop_all ();
}

TestSuite (versions, .fini = s_fini, .timeout = 90);

//  Set (value >= 0) or delete (-1) the format key of the closed store `dir`
static void
s_set_format (const char *dir, long value)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    cr_assert_eq (mdb_env_create (&env), 0);
    mdb_env_set_maxdbs (env, 256);
    cr_assert_eq (mdb_env_open (env, dir, MDB_NOTLS, 0640), 0);
    cr_assert_eq (mdb_txn_begin (env, NULL, 0, &txn), 0);
    cr_assert_eq (mdb_dbi_open (txn, "__meta", 0, &meta), 0);
    MDB_val k = {8, "__format"};
    uint8_t bytes[8];
    store_id_key ((uint64_t)(value < 0 ? 0 : value), bytes);
    MDB_val v = {8, bytes};
    if (value >= 0)
        cr_assert_eq (mdb_put (txn, meta, &k, &v, 0), 0);
    else
        cr_assert_eq (mdb_del (txn, meta, &k, NULL), 0);
    cr_assert_eq (mdb_txn_commit (txn), 0);
    mdb_env_close (env);
}

Test (versions, another_envelope_version_is_refused_unknown_fields_are_not)
{
    testing_daemon_init (&s_daemon, "test_versions");
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    //  A newer client's optional field: ignored
    json_t *hello =
        testing_api_ok (sock, "api.hello", json_pack ("{s:s}", "added_later", "x"));
    cr_assert_eq (json_integer_value (json_object_get (hello, "version")), PROTO_VERSION);
    json_decref (hello);

    //  The same request as v 2: refused, saying why
    proto_envelope_t *request = proto_envelope_new ("api.ping", "test@versions");
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (proto_envelope_encode (request, &buffer), 0);
    bool patched = false;
    for (size_t i = 0; i + 2 < buffer.size && !patched; i++)
        if ((uint8_t)buffer.data[i] == 0xa1 && buffer.data[i + 1] == 'v' &&
            buffer.data[i + 2] == PROTO_VERSION) {
            buffer.data[i + 2] = PROTO_VERSION + 1;
            patched = true;
        }
    cr_assert (patched);
    cr_assert_eq (zmq_send (zsock_resolve (sock), buffer.data, buffer.size, 0),
                  (int)buffer.size);
    zframe_t *frame = zframe_recv (sock);
    cr_assert_not_null (frame);
    proto_envelope_t *reply =
        proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
    cr_assert_not_null (reply);
    json_t *payload = proto_envelope_payload_json (reply, NULL);
    cr_assert_str_eq (proto_envelope_type (reply), "api.error");
    cr_assert_str_eq (json_string_value (json_object_get (payload, "code")), "version");
    json_decref (payload);
    proto_envelope_destroy (&reply);
    proto_envelope_destroy (&request);
    zframe_destroy (&frame);
    msgpack_sbuffer_destroy (&buffer);
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
}

Test (versions, a_newer_store_is_refused_an_older_one_migrated)
{
    testing_daemon_init (&s_daemon, "test_versions");
    testing_daemon_start (&s_daemon, NULL);
    testing_daemon_stop (&s_daemon);
    char executor[PATH_MAX + 16];
    snprintf (executor, sizeof executor, "%s/executor", s_daemon.data);

    //  Written by a newer attune: attuned does not run on it
    s_set_format (executor, STORE_FORMAT_VERSION + 1);
    char command[PATH_MAX * 3];
    snprintf (command, sizeof command,
              "%s/attuned -d %s -p %s --api tcp://127.0.0.1:0 --api-facts "
              "tcp://127.0.0.1:0 --http 127.0.0.1:0 2>&1",
              ATTUNE_HELPER_DIR, s_daemon.data, s_daemon.packs);
    FILE *pipe = popen (command, "r");
    static char text[65536];
    size_t n = fread (text, 1, sizeof text - 1, pipe);
    text[n] = 0;
    int status = pclose (pipe);
    cr_assert_neq (WEXITSTATUS (status), 0, "%s", text);
    char expect[PATH_MAX + 128];
    snprintf (expect, sizeof expect, "%s: store format version %d is newer", executor,
              STORE_FORMAT_VERSION + 1);
    cr_assert_not_null (strstr (text, expect), "%s", text);

    //  Written before versions were recorded: migrated, and it runs
    s_set_format (executor, -1);
    testing_daemon_start (&s_daemon, NULL);
    testing_daemon_stop (&s_daemon);
    store_t *store = store_open (executor, NULL, NULL, NULL, 0);
    cr_assert_not_null (store);
    cr_assert_eq (store_format_version (store), STORE_FORMAT_VERSION);
    store_close (&store);
}
