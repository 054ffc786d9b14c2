/*  test_rules_sync: read-your-writes in the rules actor (rules_sync.h), with
    a real registry_client fed by a registry played by the test: a rules.sync
    request is answered only once the change it names has arrived, at once
    when it already has, `unavailable` when it never comes.
*/
#include <criterion/criterion.h>
#include "actors/rules/rules_sync.h"
#include "bus/bus_facts.h"

typedef struct {
    bus_topology_t *topology;
    bus_pub_t *pub;    //  registry.facts
    zsock_t *snapshot; //  registry.snapshot (ROUTER)
    registry_client_t *registry;
    actor_query_t *query; //  rules.query
    rules_sync_t *sync;
    zsock_t *client; //  the api, asking
} s_fixture_t;

static s_fixture_t s_fx;

static void
s_handler (void *arg, const char *type, json_t *payload, actor_answer_t *answer)
{
    if (streq (type, "rules.sync"))
        rules_sync_request (s_fx.sync, payload, answer);
    else
        actor_query_fail (answer, "unknown_type", "%s", type);
}

//  Serve the snapshot request: nothing, ending at the publisher's seq
static void
s_serve_snapshot (void)
{
    zmsg_t *msg = zmsg_recv (s_fx.snapshot);
    cr_assert_not_null (msg);
    zframe_t *routing = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    proto_envelope_t *request =
        proto_envelope_decode (zframe_data (body), zframe_size (body), NULL, NULL);
    cr_assert_not_null (request);
    proto_envelope_t *end = proto_envelope_new ("registry.snapshot.end", "registry@test");
    proto_envelope_set_corr (end, proto_envelope_id (request));
    json_t *payload = json_pack (
        "{s:I, s:I, s:i}", "seq", (json_int_t)bus_pub_seq (s_fx.pub), "publisher",
        (json_int_t)(bus_pub_id (s_fx.pub) & INT64_MAX), "count", 0);
    proto_envelope_set_payload_json (end, payload, NULL);
    json_decref (payload);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    proto_envelope_encode (end, &buffer);
    zmsg_t *reply = zmsg_new ();
    zmsg_append (reply, &routing);
    zmsg_addmem (reply, buffer.data, buffer.size);
    zmsg_send (&reply, s_fx.snapshot);
    msgpack_sbuffer_destroy (&buffer);
    proto_envelope_destroy (&end);
    proto_envelope_destroy (&request);
    zframe_destroy (&body);
    zmsg_destroy (&msg);
}

static void
s_setup (void)
{
    s_fx.topology = bus_topology_new ("test-rules-sync");
    cr_assert_not_null (s_fx.topology);
    s_fx.pub = bus_pub_new (bus_topology_bind (s_fx.topology, "registry.facts"), 0);
    s_fx.snapshot = zsock_new (ZMQ_ROUTER);
    cr_assert_neq (
        bus_topology_bind_socket (s_fx.snapshot,
                                  bus_topology_bind (s_fx.topology, "registry.snapshot")),
        -1);
    s_fx.registry = registry_client_new (s_fx.topology, "rules@test");
    cr_assert_not_null (s_fx.registry);
    s_serve_snapshot ();
    cr_assert_eq (registry_client_wait_synced (s_fx.registry, 5000), 0);
    s_fx.query =
        actor_query_new (bus_topology_bind (s_fx.topology, "rules.query"), "rules@test");
    cr_assert_not_null (s_fx.query);
    s_fx.sync = rules_sync_new (s_fx.query, s_fx.registry);
    s_fx.client = zsock_new_dealer (bus_topology_connect (s_fx.topology, "rules.query"));
    cr_assert_not_null (s_fx.client);
}

static void
s_teardown (void)
{
    zsock_destroy (&s_fx.client);
    rules_sync_destroy (&s_fx.sync);
    actor_query_destroy (&s_fx.query);
    registry_client_destroy (&s_fx.registry);
    zsock_destroy (&s_fx.snapshot);
    bus_pub_destroy (&s_fx.pub);
    bus_topology_destroy (&s_fx.topology);
}

TestSuite (rules_sync, .init = s_setup, .fini = s_teardown, .timeout = 30);

//  Ask rules.sync; its id in `id`. The query endpoint reads it at once.
static void
s_ask (const char *ref, const char *change, bool deleted, uint8_t id[PROTO_UUID_SIZE])
{
    proto_envelope_t *request = proto_envelope_new ("rules.sync", "api@test");
    memcpy (id, proto_envelope_id (request), PROTO_UUID_SIZE);
    json_t *payload =
        json_pack ("{s:s, s:s, s:b}", "ref", ref, "change", change, "deleted", deleted);
    proto_envelope_set_payload_json (request, payload, NULL);
    json_decref (payload);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    proto_envelope_encode (request, &buffer);
    zframe_t *frame = zframe_new (buffer.data, buffer.size);
    zframe_send (&frame, s_fx.client, 0);
    msgpack_sbuffer_destroy (&buffer);
    proto_envelope_destroy (&request);
    zpoller_t *poller = zpoller_new (actor_query_sock (s_fx.query), NULL);
    cr_assert_not_null (zpoller_wait (poller, 2000));
    zpoller_destroy (&poller);
    actor_query_handle (s_fx.query, s_handler, NULL);
}

//  The reply the client has within `wait_ms` (its type and code), or false
static bool
s_answered (int wait_ms, const uint8_t id[PROTO_UUID_SIZE], char *code, size_t size)
{
    zpoller_t *poller = zpoller_new (s_fx.client, NULL);
    bool ready = zpoller_wait (poller, wait_ms) != NULL;
    zpoller_destroy (&poller);
    if (!ready)
        return false;
    zframe_t *frame = zframe_recv (s_fx.client);
    proto_envelope_t *reply =
        proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
    zframe_destroy (&frame);
    cr_assert_not_null (reply);
    cr_assert_eq (memcmp (proto_envelope_corr (reply), id, PROTO_UUID_SIZE), 0);
    json_t *payload = proto_envelope_payload_json (reply, NULL);
    snprintf (code, size, "%s",
              streq (proto_envelope_type (reply), "api.reply")
                  ? "ok"
                  : json_string_value (json_object_get (payload, "code")));
    json_decref (payload);
    proto_envelope_destroy (&reply);
    return true;
}

//  The registry publishes a rule (definition with `change`, or deleted)
static void
s_publish (const char *ref, const char *change)
{
    proto_envelope_t *fact = proto_envelope_new (
        change ? "registry.rule.updated" : "registry.rule.deleted", "registry@test");
    json_t *payload = json_pack ("{s:s}", "ref", ref);
    if (change)
        json_object_set_new (
            payload, "definition",
            json_pack ("{s:s, s:s, s:b}", "ref", ref, "change", change, "enabled", 1));
    proto_envelope_set_payload_json (fact, payload, NULL);
    json_decref (payload);
    bus_pub_send (s_fx.pub, fact);
    proto_envelope_destroy (&fact);
    //  The registry client reads it; then the waiting syncs are looked at
    zpoller_t *poller = zpoller_new (registry_client_sub_sock (s_fx.registry), NULL);
    cr_assert_not_null (zpoller_wait (poller, 2000));
    zpoller_destroy (&poller);
    registry_client_handle (s_fx.registry, registry_client_sub_sock (s_fx.registry));
    rules_sync_check (s_fx.sync);
}

#define S_C1 "0190f0c2-2c4e-7a8b-9c0d-000000000001"
#define S_C2 "0190f0c2-2c4e-7a8b-9c0d-000000000002"

Test (rules_sync, answered_only_once_the_change_arrives)
{
    uint8_t id[PROTO_UUID_SIZE];
    char code[64];
    s_ask ("p.r", S_C2, false, id);
    cr_assert_not (s_answered (200, id, code, sizeof code), "not before the change");
    cr_assert_eq (rules_sync_waiting (s_fx.sync), 1);
    s_publish ("p.r", S_C1); //  an older change of the same rule: still waiting
    cr_assert_not (s_answered (200, id, code, sizeof code));
    s_publish ("p.r", S_C2);
    cr_assert (s_answered (2000, id, code, sizeof code), "answered once it arrived");
    cr_assert_str_eq (code, "ok");
    cr_assert_eq (rules_sync_waiting (s_fx.sync), 0);
    //  Already applied: at once
    s_ask ("p.r", S_C2, false, id);
    cr_assert (s_answered (1000, id, code, sizeof code));
    cr_assert_str_eq (code, "ok");
    cr_assert_eq (actor_query_parked (s_fx.query), 0);
}

Test (rules_sync, a_deletion_is_applied_when_the_rule_is_gone)
{
    uint8_t id[PROTO_UUID_SIZE];
    char code[64];
    s_publish ("p.gone", S_C1);
    s_ask ("p.gone", S_C2, true, id);
    cr_assert_not (s_answered (200, id, code, sizeof code));
    s_publish ("p.gone", NULL);
    cr_assert (s_answered (2000, id, code, sizeof code));
    cr_assert_str_eq (code, "ok");
}

Test (rules_sync, a_change_that_never_comes_is_unavailable)
{
    uint8_t id[PROTO_UUID_SIZE];
    char code[64];
    s_ask ("p.never", S_C1, false, id);
    int64_t start = zclock_mono ();
    while (!s_answered (100, id, code, sizeof code)) {
        cr_assert_lt (zclock_mono () - start, RULES_SYNC_TIMEOUT_MS + 2000);
        rules_sync_check (s_fx.sync);
    }
    cr_assert_str_eq (code, "unavailable");
    cr_assert_geq (zclock_mono () - start, RULES_SYNC_TIMEOUT_MS - 100);
}

Test (rules_sync, a_bad_kind_is_bad_request)
{
    actor_answer_t answer = {0};
    json_t *payload =
        json_pack ("{s:s, s:s, s:s}", "kind", "pack", "ref", "p.r", "change", S_C1);
    rules_sync_request (s_fx.sync, payload, &answer);
    json_decref (payload);
    cr_assert_str_eq (answer.code, "bad_request");
}
