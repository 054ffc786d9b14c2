/*  test_datastore: the datastore actor (actors/datastore/) in this process,
    driven over its datastore.query endpoint as the api drives it: each
    request carries `caller` {identity, role}. Scopes and roles between
    identities, bad input, TTL expiry against the deadline, secrets sealed
    at rest, rotation and its recovery at start.
*/
#include "tests/testing_api.h"
#include "actors/datastore/datastore.h"
#include "actors/datastore/datastore_keys.h"
#include "bus/bus_facts.h"

static char s_root[PATH_MAX - 256];
static char s_data[PATH_MAX];
static char s_dir[PATH_MAX + 16];
static bus_topology_t *s_topology;
static zactor_t *s_actor;
static zsock_t *s_sock;

static void
s_start (void)
{
    actor_config_t config = {
        .topology = s_topology, .data_dir = s_data, .host = "test", .heartbeat_ms = 100};
    s_actor = zactor_new (datastore_actor, &config);
    cr_assert_not_null (s_actor, "the datastore did not start");
    s_sock = zsock_new_dealer (bus_topology_connect (s_topology, "datastore.query"));
    cr_assert_not_null (s_sock);
}

static void
s_stop (void)
{
    zsock_destroy (&s_sock);
    zactor_destroy (&s_actor);
}

static void
s_setup (void)
{
    static int counter;
    testing_tmpdir (s_root, sizeof s_root, "test_datastore");
    snprintf (s_data, sizeof s_data, "%s/data", s_root);
    snprintf (s_dir, sizeof s_dir, "%s/datastore", s_data);
    char ns[64];
    snprintf (ns, sizeof ns, "ds-%d-%d", getpid (), ++counter);
    s_topology = bus_topology_new (ns);
    s_start ();
}

static void
s_teardown (void)
{
    s_stop ();
    bus_topology_destroy (&s_topology);
    testing_rmtree (s_root);
}

TestSuite (datastore, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  A payload (taken) with caller {identity, role}
static json_t *
s_as (const char *identity, const char *role, json_t *payload)
{
    json_object_set_new (payload, "caller",
                         json_pack ("{s:s, s:s}", "identity", identity, "role", role));
    return payload;
}

static json_t *
s_ok (const char *identity, const char *role, const char *type, json_t *payload)
{
    return testing_api_ok (s_sock, type, s_as (identity, role, payload));
}

static void
s_fails (const char *identity, const char *role, const char *type, json_t *payload,
         const char *code)
{
    testing_api_fails (s_sock, type, s_as (identity, role, payload), code);
}

static const char *
s_value (const json_t *key)
{
    return json_string_value (json_object_get (key, "value"));
}

Test (datastore, set_get_list_delete_round_trip)
{
    json_t *set = s_ok ("root", "admin", "api.key.set",
                        json_pack ("{s:s, s:s}", "name", "api_url", "value", "http://x"));
    cr_assert_str_eq (s_value (set), "http://x");
    json_decref (set);
    for (int i = 0; i < 25; i++) {
        char name[32];
        snprintf (name, sizeof name, "page.%02d", i);
        json_decref (s_ok ("root", "admin", "api.key.set",
                           json_pack ("{s:s, s:s}", "name", name, "value", "v")));
    }
    json_t *got =
        s_ok ("v", "viewer", "api.key.get", json_pack ("{s:s}", "name", "api_url"));
    cr_assert_str_eq (s_value (got), "http://x");
    cr_assert_str_eq (json_string_value (json_object_get (got, "scope")), "system");
    json_decref (got);
    //  Pages of 10 by prefix, in name order, through `next`
    int seen = 0;
    char after[64] = "";
    do {
        json_t *page = s_ok ("v", "viewer", "api.key.list",
                             json_pack ("{s:s, s:i}", "prefix", "page.", "limit", 10));
        if (after[0]) {
            json_decref (page);
            page = s_ok ("v", "viewer", "api.key.list",
                         json_pack ("{s:s, s:i, s:s}", "prefix", "page.", "limit", 10,
                                    "after", after));
        }
        json_t *items = json_object_get (page, "items");
        for (size_t i = 0; i < json_array_size (items); i++) {
            char expected[32];
            snprintf (expected, sizeof expected, "page.%02d", seen++);
            cr_assert_str_eq (
                json_string_value (json_object_get (json_array_get (items, i), "name")),
                expected);
        }
        const char *next = json_string_value (json_object_get (page, "next"));
        snprintf (after, sizeof after, "%s", next ? next : "");
        json_decref (page);
    } while (after[0]);
    cr_assert_eq (seen, 25);
    json_decref (s_ok ("op", "operator", "api.key.delete",
                       json_pack ("{s:s}", "name", "api_url")));
    s_fails ("v", "viewer", "api.key.get", json_pack ("{s:s}", "name", "api_url"),
             "not_found");
    s_fails ("op", "operator", "api.key.delete", json_pack ("{s:s}", "name", "api_url"),
             "not_found");
}

Test (datastore, scopes_and_roles_between_identities)
{
    json_decref (s_ok ("alice", "operator", "api.key.set",
                       json_pack ("{s:s, s:s, s:s}", "name", "token", "value", "a-secret",
                                  "scope", "user")));
    json_decref (s_ok ("bob", "operator", "api.key.set",
                       json_pack ("{s:s, s:s, s:s}", "name", "token", "value", "b-value",
                                  "scope", "user")));
    //  Each sees their own under the same name
    json_t *a = s_ok ("alice", "viewer", "api.key.get",
                      json_pack ("{s:s, s:s}", "name", "token", "scope", "user"));
    cr_assert_str_eq (s_value (a), "a-secret");
    cr_assert_str_eq (json_string_value (json_object_get (a, "user")), "alice");
    json_decref (a);
    json_t *list =
        s_ok ("bob", "operator", "api.key.list", json_pack ("{s:s}", "scope", "user"));
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 1);
    cr_assert_str_eq (s_value (json_array_get (json_object_get (list, "items"), 0)),
                      "b-value");
    json_decref (list);
    //  Bob may not name alice; an admin may
    s_fails (
        "bob", "operator", "api.key.get",
        json_pack ("{s:s, s:s, s:s}", "name", "token", "scope", "user", "user", "alice"),
        "forbidden");
    s_fails (
        "bob", "operator", "api.key.delete",
        json_pack ("{s:s, s:s, s:s}", "name", "token", "scope", "user", "user", "alice"),
        "forbidden");
    json_t *admin = s_ok (
        "root", "admin", "api.key.get",
        json_pack ("{s:s, s:s, s:s}", "name", "token", "scope", "user", "user", "alice"));
    cr_assert_str_eq (s_value (admin), "a-secret");
    json_decref (admin);
    //  A viewer reads but does not write; an operator writes plain system
    //  keys, not secret ones
    s_fails ("v", "viewer", "api.key.set",
             json_pack ("{s:s, s:s}", "name", "x", "value", "1"), "forbidden");
    json_decref (s_ok ("op", "operator", "api.key.set",
                       json_pack ("{s:s, s:s}", "name", "plain", "value", "1")));
    s_fails ("op", "operator", "api.key.set",
             json_pack ("{s:s, s:s, s:b}", "name", "pw", "value", "1", "secret", 1),
             "forbidden");
    json_decref (s_ok (
        "root", "admin", "api.key.set",
        json_pack ("{s:s, s:s, s:b}", "name", "pw", "value", "hunter2", "secret", 1)));
    //  ... nor replace or delete a secret system key
    s_fails ("op", "operator", "api.key.set",
             json_pack ("{s:s, s:s}", "name", "pw", "value", "mine now"), "forbidden");
    s_fails ("op", "operator", "api.key.delete", json_pack ("{s:s}", "name", "pw"),
             "forbidden");
    //  Secrets: masked, decrypted for an admin or the owner only
    json_t *masked =
        s_ok ("v", "viewer", "api.key.get", json_pack ("{s:s}", "name", "pw"));
    cr_assert_str_eq (s_value (masked), DATASTORE_MASK);
    json_decref (masked);
    s_fails ("op", "operator", "api.key.get",
             json_pack ("{s:s, s:b}", "name", "pw", "decrypt", 1), "forbidden");
    json_decref (s_ok ("carol", "operator", "api.key.set",
                       json_pack ("{s:s, s:s, s:s, s:b}", "name", "own", "value", "c-pw",
                                  "scope", "user", "secret", 1)));
    json_t *own = s_ok (
        "carol", "viewer", "api.key.get",
        json_pack ("{s:s, s:s, s:b}", "name", "own", "scope", "user", "decrypt", 1));
    cr_assert_str_eq (s_value (own), "c-pw");
    json_decref (own);
    //  Listing with decrypt shows only what the caller may decrypt
    list = s_ok ("op", "operator", "api.key.list", json_pack ("{s:b}", "decrypt", 1));
    json_t *item;
    size_t i;
    json_array_foreach (json_object_get (list, "items"), i, item)
    {
        if (streq (json_string_value (json_object_get (item, "name")), "pw"))
            cr_assert_str_eq (s_value (item), DATASTORE_MASK);
    }
    json_decref (list);
}

Test (datastore, bad_input_gets_clear_errors)
{
    char long_name[600];
    memset (long_name, 'k', 513);
    long_name[513] = 0;
    s_fails ("root", "admin", "api.key.set",
             json_pack ("{s:s, s:s}", "name", long_name, "value", "v"), "bad_request");
    long_name[512] = 0; //  512 bytes is allowed, in a user scope too
    json_decref (s_ok (
        "a-rather-long-identity-name", "admin", "api.key.set",
        json_pack ("{s:s, s:s, s:s}", "name", long_name, "value", "v", "scope", "user")));
    json_t *got = s_ok ("a-rather-long-identity-name", "admin", "api.key.get",
                        json_pack ("{s:s, s:s}", "name", long_name, "scope", "user"));
    cr_assert_str_eq (s_value (got), "v");
    json_decref (got);
    s_fails ("root", "admin", "api.key.set",
             json_pack ("{s:s, s:s, s:s}", "name", "x", "value", "v", "scope", "galaxy"),
             "bad_request");
    s_fails ("root", "admin", "api.key.set",
             json_pack ("{s:s, s:s, s:i}", "name", "x", "value", "v", "ttl", 0),
             "bad_request");
    size_t big = DATASTORE_VALUE_MAX + 1;
    char *value = (char *)malloc (big + 1);
    memset (value, 'v', big);
    value[big] = 0;
    s_fails ("root", "admin", "api.key.set",
             json_pack ("{s:s, s:s}", "name", "big", "value", value), "too_large");
    free (value);
    s_fails ("root", "admin", "api.key.set", json_pack ("{s:s}", "name", "novalue"),
             "bad_request");
    s_fails ("nobody", "", "api.key.get", json_pack ("{s:s}", "name", "x"), "forbidden");
    //  A load is all or nothing, and names the bad item
    json_t *reply = testing_api_call (
        s_sock, "api.key.load",
        s_as ("root", "admin",
              json_pack ("{s:[{s:s, s:s}, {s:s, s:s, s:s}]}", "items", "name", "good",
                         "value", "1", "name", "bad", "value", "1", "scope", "nope")));
    char *text = json_dumps (reply, JSON_COMPACT);
    const char *message = json_string_value (
        json_object_get (json_object_get (reply, "payload"), "message"));
    cr_assert (message && strstr (message, "items[1]") && strstr (message, "nope"), "%s",
               text);
    free (text);
    json_decref (reply);
    s_fails ("root", "admin", "api.key.get", json_pack ("{s:s}", "name", "good"),
             "not_found");
}

Test (datastore, names_must_be_utf8)
{
    char message[256];
    cr_assert (datastore_name_check ("héllo", strlen ("héllo"), message, sizeof message));
    cr_assert_not (datastore_name_check ("\xff", 1, message, sizeof message));
    cr_assert (strstr (message, "UTF-8"), "%s", message);
    cr_assert_not (datastore_utf8_valid ("\xc0\xaf", 2));         //  overlong
    cr_assert_not (datastore_utf8_valid ("\xed\xa0\x80", 3));     //  surrogate
    cr_assert_not (datastore_utf8_valid ("\xf4\x90\x80\x80", 4)); //  past U+10FFFF
    cr_assert_not (datastore_utf8_valid ("a\xe2\x82", 3));        //  cut short
    cr_assert (datastore_utf8_valid ("\xf0\x9f\x94\x91", 4));     //  a key emoji
}

//  A subscriber to the datastore's facts of `prefix`, connected and ready
static bus_sub_t *
s_subscribe (const char *prefix)
{
    bus_sub_t *sub = bus_sub_new (1000);
    cr_assert_not_null (sub);
    cr_assert_eq (
        bus_sub_connect (sub, bus_topology_connect (s_topology, "datastore.facts")), 0);
    cr_assert_eq (bus_sub_subscribe (sub, prefix), 0);
    zclock_sleep (100); //  the slow joiner: nothing to sync on before the first fact
    return sub;
}

//  Wait for the kv.deleted fact of `name`; how late it came after the key's
//  deadline (µs)
static int64_t
s_expired_late (bus_sub_t *sub, const char *name, int64_t deadline)
{
    int64_t until = zclock_mono () + 5000;
    while (zclock_mono () < until) {
        proto_envelope_t *fact = bus_sub_recv (sub, NULL, 500);
        if (!fact)
            continue;
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        int64_t now = proto_now_usec ();
        bool it = streq (proto_envelope_type (fact), "kv.deleted") &&
                  streq (json_string_value (json_object_get (payload, "name")), name);
        if (it)
            cr_assert_str_eq (json_string_value (json_object_get (payload, "reason")),
                              "expire");
        json_decref (payload);
        proto_envelope_destroy (&fact);
        if (it)
            return now - deadline;
    }
    cr_assert_fail ("no kv.deleted for %s", name);
    return -1;
}

static int64_t
s_set_ttl (const char *name, int ttl)
{
    json_t *key =
        s_ok ("root", "admin", "api.key.set",
              json_pack ("{s:s, s:s, s:i}", "name", name, "value", "soon", "ttl", ttl));
    int64_t deadline = json_integer_value (json_object_get (key, "expire_at"));
    cr_assert_gt (deadline, 0);
    json_decref (key);
    return deadline;
}

Test (datastore, ttl_expires_at_the_deadline_across_restarts)
{
    bus_sub_t *sub = s_subscribe ("kv.");
    int64_t deadline = s_set_ttl ("short", 1);
    json_decref (s_ok ("root", "admin", "api.key.set",
                       json_pack ("{s:s, s:s}", "name", "stays", "value", "1")));
    int64_t late = s_expired_late (sub, "short", deadline);
    cr_assert (late >= 0 && late < 100000, "expired %lld µs after the deadline",
               (long long)late);
    s_fails ("root", "admin", "api.key.get", json_pack ("{s:s}", "name", "short"),
             "not_found");
    //  A deadline that passes while the actor is stopped, and one after the
    //  restart: each within 100 ms of the restart / deadline
    int64_t gone = s_set_ttl ("while_down", 1);
    deadline = s_set_ttl ("after_restart", 2);
    bus_sub_destroy (&sub);
    s_stop ();
    zclock_sleep (1200);
    cr_assert_gt (proto_now_usec (), gone);
    s_start ();
    sub = s_subscribe ("kv.");
    s_fails ("root", "admin", "api.key.get", json_pack ("{s:s}", "name", "while_down"),
             "not_found");
    late = s_expired_late (sub, "after_restart", deadline);
    cr_assert (late >= 0 && late < 100000, "expired %lld µs after the deadline",
               (long long)late);
    json_t *stays =
        s_ok ("root", "admin", "api.key.get", json_pack ("{s:s}", "name", "stays"));
    cr_assert_str_eq (s_value (stays), "1");
    json_decref (stays);
    bus_sub_destroy (&sub);
}

Test (datastore, facts_never_carry_a_secret)
{
    bus_sub_t *sub = s_subscribe ("kv.");
    json_decref (s_ok ("root", "admin", "api.key.set",
                       json_pack ("{s:s, s:s, s:b}", "name", "pw", "value",
                                  "hunter2-fact", "secret", 1)));
    json_decref (s_ok ("root", "admin", "api.key.set",
                       json_pack ("{s:s, s:s}", "name", "plain", "value", "visible")));
    int found = 0;
    for (int i = 0; i < 2; i++) {
        proto_envelope_t *fact = bus_sub_recv (sub, NULL, 2000);
        cr_assert_not_null (fact);
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        char *text = json_dumps (payload, 0);
        cr_assert_null (strstr (text, "hunter2-fact"), "%s", text);
        if (strstr (text, "visible"))
            found++;
        free (text);
        json_decref (payload);
        proto_envelope_destroy (&fact);
    }
    cr_assert_eq (found, 1, "the plain value is in its fact");
    bus_sub_destroy (&sub);
}

//  Every secret set by s_secrets readable, decrypted
static void
s_check_secrets (int count)
{
    for (int i = 0; i < count; i++) {
        char name[32], value[32];
        snprintf (name, sizeof name, "secret%d", i);
        snprintf (value, sizeof value, "clear-text-%d", i);
        json_t *key = s_ok ("root", "admin", "api.key.get",
                            json_pack ("{s:s, s:b}", "name", name, "decrypt", 1));
        cr_assert_str_eq (s_value (key), value);
        json_decref (key);
    }
}

static void
s_secrets (int count)
{
    for (int i = 0; i < count; i++) {
        char name[32], value[32];
        snprintf (name, sizeof name, "secret%d", i);
        snprintf (value, sizeof value, "clear-text-%d", i);
        json_decref (s_ok (
            "root", "admin", "api.key.set",
            json_pack ("{s:s, s:s, s:b}", "name", name, "value", value, "secret", 1)));
    }
}

static void
s_copy (const char *from, const char *to)
{
    char *text = testing_read (from);
    FILE *file = fopen (to, "w");
    cr_assert_not_null (file);
    fputs (text, file);
    fclose (file);
    free (text);
}

Test (datastore, rotation_reseals_and_recovers_at_start)
{
    s_secrets (20);
    char key[PATH_MAX + 64], next[PATH_MAX + 64], old[PATH_MAX + 64];
    snprintf (key, sizeof key, "%s/crypto.key", s_dir);
    snprintf (next, sizeof next, "%s/crypto.key.new", s_dir);
    snprintf (old, sizeof old, "%s/old.key", s_dir);
    struct stat st;
    cr_assert_eq (stat (key, &st), 0);
    cr_assert_eq (st.st_mode & 0777, 0600);
    s_copy (key, old);
    json_t *rotated = s_ok ("root", "admin", "api.key.rotate", json_object ());
    cr_assert_eq (json_integer_value (json_object_get (rotated, "key_id")), 2);
    cr_assert_eq (json_integer_value (json_object_get (rotated, "secrets")), 20);
    json_decref (rotated);
    s_check_secrets (20);
    s_fails ("op", "operator", "api.key.rotate", json_object (), "forbidden");

    //  A crash after the commit, before the rename: the store says key 2,
    //  crypto.key.new holds it; the start finishes the rename
    s_stop ();
    cr_assert_eq (rename (key, next), 0);
    s_copy (old, key);
    s_start ();
    s_check_secrets (20);
    cr_assert_neq (access (next, F_OK), 0, "crypto.key.new is gone");

    //  A crash before the commit: a crypto.key.new the store never named is
    //  rolled back
    s_stop ();
    s_copy (old, next); //  key 1: not the store's
    s_start ();
    s_check_secrets (20);
    cr_assert_neq (access (next, F_OK), 0, "crypto.key.new is gone");

    //  The wrong key file: the datastore refuses to start rather than lose
    //  secrets
    s_stop ();
    s_copy (old, key);
    actor_config_t config = {.topology = s_topology, .data_dir = s_data, .host = "test"};
    zactor_t *refused = zactor_new (datastore_actor, &config);
    //  (zactor_new returns the actor even when it signalled a failure: its
    //  endpoint is not there to answer)
    zsock_t *sock =
        zsock_new_dealer (bus_topology_connect (s_topology, "datastore.query"));
    proto_envelope_t *ping = proto_envelope_new ("api.ping", "test");
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    cr_assert_eq (proto_envelope_encode (ping, &buffer), 0);
    zmq_send (zsock_resolve (sock), buffer.data, buffer.size, ZMQ_DONTWAIT);
    zmq_pollitem_t item = {zsock_resolve (sock), 0, ZMQ_POLLIN, 0};
    cr_assert_eq (zmq_poll (&item, 1, 500), 0,
                  "started with key 1 for secrets under key 2");
    msgpack_sbuffer_destroy (&buffer);
    proto_envelope_destroy (&ping);
    zsock_destroy (&sock);
    zactor_destroy (&refused);
}

//  datastore.facts heartbeats like the other fact streams: a subscriber sees
//  datastore.heartbeat every interval (100 ms here) with no change at all,
//  and the unknown pipe command gets the shell's one reply.
Test (datastore, facts_stream_heartbeats_and_pipe_protocol)
{
    bus_sub_t *sub = s_subscribe ("datastore.");
    int beats = 0;
    int64_t until = zclock_mono () + 5000;
    while (beats < 3 && zclock_mono () < until) {
        proto_envelope_t *fact = bus_sub_recv (sub, NULL, 500);
        if (fact && streq (proto_envelope_type (fact), "datastore.heartbeat"))
            beats++;
        proto_envelope_destroy (&fact);
    }
    cr_assert_geq (beats, 3, "%d heartbeats in 5 s", beats);
    bus_sub_destroy (&sub);
    zstr_send (s_actor, "BOGUS");
    char *reply = zstr_recv (s_actor);
    json_t *value = reply ? json_loads (reply, 0, NULL) : NULL;
    cr_assert_str_eq (json_string_value (json_object_get (value, "error")),
                      ACTOR_UNKNOWN_REPLY, "%s", reply ? reply : "(none)");
    json_decref (value);
    zstr_free (&reply);
}
