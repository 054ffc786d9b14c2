/*  test_api_protocol: the api's protocol edges against a live attuned
    (proto/PROTOCOL.md, "Frame limits", "Requests and replies").

    The frame limits at 1 MiB - 1 (answered), 1 MiB + 1 (too_large) and
    2 MiB (the connection dropped, the api still serving); a bad_frame reply
    carrying the request's corr; read-your-writes: a rule created, enabled,
    disabled or deleted is applied by the rules actor before the api
    answers, so an event published right after the answer sees it.
*/
#include "tests/testing_api.h"
#include "proto/proto_envelope.h"
#include "proto/proto_json.h"

static testing_daemon_t s_daemon;

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

static void
s_start (void)
{
    testing_daemon_init (&s_daemon, "test_api_protocol");
    testing_daemon_write (&s_daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (&s_daemon, "test/triggers/hook.yaml",
                          "name: hook\npack: test\n");
    testing_daemon_write (&s_daemon, "test/actions/step.yaml",
                          "name: step\nrunner_type: noop\nparameters:\n"
                          "  n:\n    type: integer\n");
    testing_daemon_start (&s_daemon, NULL);
}

TestSuite (api_protocol, .fini = s_teardown, .timeout = 240);

//  An api.ping envelope padded to exactly `size` bytes.
static void
s_sized_ping (msgpack_sbuffer *buffer, size_t size, uint8_t id[PROTO_UUID_SIZE])
{
    size_t pad = size - 200;
    for (int round = 0; round < 4; round++) {
        proto_envelope_t *request = proto_envelope_new ("api.ping", "test@api");
        memcpy (id, proto_envelope_id (request), PROTO_UUID_SIZE);
        msgpack_sbuffer payload;
        msgpack_sbuffer_init (&payload);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &payload, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 1);
        msgpack_pack_str_with_body (&pk, "pad", 3);
        char *text = (char *)malloc (pad);
        memset (text, 'x', pad);
        msgpack_pack_str_with_body (&pk, text, pad);
        free (text);
        cr_assert_eq (
            proto_envelope_set_payload (request, payload.data, payload.size, NULL),
            PROTO_OK);
        msgpack_sbuffer_destroy (&payload);
        msgpack_sbuffer_clear (buffer);
        proto_envelope_encode (request, buffer);
        proto_envelope_destroy (&request);
        if (buffer->size == size)
            return;
        pad = pad + size - buffer->size;
    }
    cr_assert_fail ("cannot make an envelope of %zu bytes", size);
}

//  Send one frame; the reply (or NULL after `wait_ms`).
static proto_envelope_t *
s_exchange (zsock_t *sock, const void *data, size_t size, int wait_ms)
{
    zframe_t *frame = zframe_new (data, size);
    cr_assert_eq (zframe_send (&frame, sock, 0), 0);
    zpoller_t *poller = zpoller_new (sock, NULL);
    void *ready = zpoller_wait (poller, wait_ms);
    zpoller_destroy (&poller);
    if (!ready)
        return NULL;
    zframe_t *answer = zframe_recv (sock);
    cr_assert_not_null (answer);
    proto_envelope_t *reply =
        proto_envelope_decode (zframe_data (answer), zframe_size (answer), NULL, NULL);
    zframe_destroy (&answer);
    cr_assert_not_null (reply);
    return reply;
}

static const char *
s_code (proto_envelope_t *reply)
{
    static char code[64];
    json_t *payload = proto_envelope_payload_json (reply, NULL);
    snprintf (code, sizeof code, "%s",
              json_string_value (json_object_get (payload, "code")) ?: "");
    json_decref (payload);
    return code;
}

Test (api_protocol, frame_limits)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    zsock_set_maxmsgsize (sock, -1);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    uint8_t id[PROTO_UUID_SIZE];

    //  1 MiB - 1: an ordinary request, answered
    s_sized_ping (&buffer, PROTO_MAX_FRAME - 1, id);
    proto_envelope_t *reply = s_exchange (sock, buffer.data, buffer.size, 8000);
    cr_assert_not_null (reply, "a frame of 1 MiB - 1 is answered");
    cr_assert_str_eq (proto_envelope_type (reply), "api.reply");
    cr_assert_not_null (proto_envelope_corr (reply));
    cr_assert_eq (memcmp (proto_envelope_corr (reply), id, PROTO_UUID_SIZE), 0);
    proto_envelope_destroy (&reply);

    //  1 MiB + 1: within the socket's limit, refused by the decoder:
    //  api.error too_large, corr nil (the frame was not decoded)
    s_sized_ping (&buffer, PROTO_MAX_FRAME + 1, id);
    reply = s_exchange (sock, buffer.data, buffer.size, 8000);
    cr_assert_not_null (reply, "a frame of 1 MiB + 1 is answered too_large");
    cr_assert_str_eq (proto_envelope_type (reply), "api.error");
    cr_assert_str_eq (s_code (reply), "too_large");
    cr_assert_null (proto_envelope_corr (reply));
    proto_envelope_destroy (&reply);

    //  Exactly the socket's limit still arrives; one byte more does not
    s_sized_ping (&buffer, (size_t)PROTO_MAX_SOCKET_MSG, id);
    reply = s_exchange (sock, buffer.data, buffer.size, 8000);
    cr_assert_not_null (reply);
    cr_assert_str_eq (s_code (reply), "too_large");
    proto_envelope_destroy (&reply);

    //  2 MiB: over ZMQ_MAXMSGSIZE, libzmq drops the connection: no answer
    s_sized_ping (&buffer, 2 * PROTO_MAX_FRAME, id);
    reply = s_exchange (sock, buffer.data, buffer.size, 1500);
    cr_assert_null (reply, "a frame of 2 MiB is not answered");
    msgpack_sbuffer_destroy (&buffer);
    zsock_destroy (&sock);

    //  ... and the api keeps serving
    sock = testing_api_client (&s_daemon);
    json_decref (testing_api_ok (sock, "api.ping", NULL));
    zsock_destroy (&sock);
}

Test (api_protocol, bad_frame_carries_the_request_corr)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    proto_envelope_t *request = proto_envelope_new ("api.ping", "test@api");
    uint8_t id[PROTO_UUID_SIZE];
    memcpy (id, proto_envelope_id (request), sizeof id);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    proto_envelope_encode (request, &buffer);
    proto_envelope_destroy (&request);
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, buffer.data, buffer.size);
    zmsg_addstr (msg, "extra");
    cr_assert_eq (zmsg_send (&msg, sock), 0);
    zframe_t *frame = zframe_recv (sock);
    cr_assert_not_null (frame);
    proto_envelope_t *reply =
        proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
    zframe_destroy (&frame);
    cr_assert_str_eq (s_code (reply), "bad_frame");
    cr_assert_not_null (proto_envelope_corr (reply), "corr: the first frame's id");
    cr_assert_eq (memcmp (proto_envelope_corr (reply), id, sizeof id), 0);
    proto_envelope_destroy (&reply);
    //  A first frame that is not an envelope: corr nil
    msg = zmsg_new ();
    zmsg_addstr (msg, "junk");
    zmsg_addstr (msg, "extra");
    cr_assert_eq (zmsg_send (&msg, sock), 0);
    frame = zframe_recv (sock);
    reply = proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
    zframe_destroy (&frame);
    cr_assert_str_eq (s_code (reply), "bad_frame");
    cr_assert_null (proto_envelope_corr (reply));
    proto_envelope_destroy (&reply);
    msgpack_sbuffer_destroy (&buffer);
    zsock_destroy (&sock);
}

//  Send a request without waiting; its id in `id`.
static void
s_send (zsock_t *sock, const char *type, json_t *payload, uint8_t id[PROTO_UUID_SIZE])
{
    proto_envelope_t *request = proto_envelope_new (type, "test@api");
    memcpy (id, proto_envelope_id (request), PROTO_UUID_SIZE);
    cr_assert_eq (proto_envelope_set_payload_json (request, payload, NULL), PROTO_OK);
    json_decref (payload);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    proto_envelope_encode (request, &buffer);
    zframe_t *frame = zframe_new (buffer.data, buffer.size);
    cr_assert_eq (zframe_send (&frame, sock, 0), 0);
    msgpack_sbuffer_destroy (&buffer);
    proto_envelope_destroy (&request);
}

//  The enforcements of an event (the api.enforcement.list items)
static json_t *
s_enforcements (zsock_t *sock, const char *event)
{
    json_t *list = testing_api_ok (sock, "api.enforcement.list",
                                   json_pack ("{s:s}", "event", event));
    json_t *items = json_incref (json_object_get (list, "items"));
    json_decref (list);
    return items;
}

//  Wait until the rules actor has stored `event` (its enforcements are
//  written in the same transaction)
static void
s_wait_event (zsock_t *sock, const char *event)
{
    int64_t deadline = zclock_mono () + 10000;
    while (true) {
        json_t *reply =
            testing_api_call (sock, "api.event.get", json_pack ("{s:s}", "id", event));
        bool found =
            streq (json_string_value (json_object_get (reply, "type")), "api.reply");
        json_decref (reply);
        if (found)
            return;
        cr_assert_lt (zclock_mono (), deadline, "event %s stored", event);
        zclock_sleep (5);
    }
}

#define S_CREATES 1000

//  Read-your-writes: an event published as soon as api.rule.create answers
//  is matched by the new rule, every time.
Test (api_protocol, a_rule_is_applied_when_its_create_is_answered)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    char (*events)[PROTO_UUID_STR_SIZE] = calloc (S_CREATES, PROTO_UUID_STR_SIZE);
    for (int i = 0; i < S_CREATES; i++) {
        char yaml[512];
        snprintf (yaml, sizeof yaml,
                  "name: r%d\npack: test\ntrigger:\n  type: test.hook\n"
                  "criteria:\n  trigger.payload.n: {type: equals, pattern: %d}\n"
                  "action:\n  ref: test.step\n  parameters:\n    n: %d\n",
                  i, i, i);
        json_decref (
            testing_api_ok (sock, "api.rule.create", json_pack ("{s:s}", "yaml", yaml)));
        //  In the same breath: no wait between the answer and the event
        uint8_t id[PROTO_UUID_SIZE];
        s_send (sock, "api.event.publish",
                json_pack ("{s:s, s:{s:i}}", "trigger", "test.hook", "payload", "n", i),
                id);
        proto_uuid_format (id, events[i]);
        json_t *reply = NULL;
        do { //  the publish's reply (testing_api_call_id reads by corr)
            zframe_t *frame = zframe_recv (sock);
            cr_assert_not_null (frame);
            proto_envelope_t *env = proto_envelope_decode (
                zframe_data (frame), zframe_size (frame), NULL, NULL);
            zframe_destroy (&frame);
            if (env && proto_envelope_corr (env) &&
                memcmp (proto_envelope_corr (env), id, sizeof id) == 0)
                reply = proto_envelope_to_json (env, NULL);
            proto_envelope_destroy (&env);
        } while (!reply);
        cr_assert_str_eq (json_string_value (json_object_get (reply, "type")),
                          "api.reply");
        json_decref (reply);
    }
    for (int i = 0; i < S_CREATES; i++) {
        s_wait_event (sock, events[i]);
        json_t *items = s_enforcements (sock, events[i]);
        char rule[64];
        snprintf (rule, sizeof rule, "test.r%d", i);
        cr_assert_eq (json_array_size (items), 1, "event %d matched its rule (%zu)", i,
                      json_array_size (items));
        cr_assert_str_eq (
            json_string_value (json_object_get (json_array_get (items, 0), "rule")),
            rule);
        json_decref (items);
    }
    free (events);
    zsock_destroy (&sock);
}

//  The same for disable, enable and delete: the next event sees the change
Test (api_protocol, enable_disable_delete_are_applied_when_answered)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    const char *yaml = "name: flip\npack: test\ntrigger:\n  type: test.hook\n"
                       "action:\n  ref: test.step\n";
    json_decref (
        testing_api_ok (sock, "api.rule.create", json_pack ("{s:s}", "yaml", yaml)));
    const char *verbs[] = {"api.rule.disable", "api.rule.enable"};
    for (int i = 0; i < 100; i++) {
        const char *verb = verbs[i % 2];
        json_decref (
            testing_api_ok (sock, verb, json_pack ("{s:s}", "ref", "test.flip")));
        json_t *event =
            testing_api_ok (sock, "api.event.publish",
                            json_pack ("{s:s, s:{}}", "trigger", "test.hook", "payload"));
        const char *id = json_string_value (json_object_get (event, "event"));
        s_wait_event (sock, id);
        json_t *items = s_enforcements (sock, id);
        cr_assert_eq (json_array_size (items), i % 2 ? 1 : 0, "after %s", verb);
        json_decref (items);
        json_decref (event);
    }
    json_decref (testing_api_ok (sock, "api.rule.delete",
                                 json_pack ("{s:s}", "ref", "test.flip")));
    json_t *event =
        testing_api_ok (sock, "api.event.publish",
                        json_pack ("{s:s, s:{}}", "trigger", "test.hook", "payload"));
    const char *id = json_string_value (json_object_get (event, "event"));
    s_wait_event (sock, id);
    json_t *items = s_enforcements (sock, id);
    cr_assert_eq (json_array_size (items), 0, "a deleted rule matches nothing");
    json_decref (items);
    json_decref (event);
    zsock_destroy (&sock);
}

//  api.rule.create with a given request id, answered {ref}
static void
s_create_ok (zsock_t *sock, const char *yaml, const uint8_t id[PROTO_UUID_SIZE])
{
    json_t *reply = testing_api_call_id (sock, "api.rule.create",
                                         json_pack ("{s:s}", "yaml", yaml), id);
    cr_assert_str_eq (json_string_value (json_object_get (reply, "type")), "api.reply",
                      "%s", json_dumps (reply, 0));
    json_decref (reply);
}

//  api.trigger.create / delete: a trigger type defined at runtime takes
//  events at once, outlives a restart, and cannot go while a rule uses it
Test (api_protocol, trigger_types_defined_at_runtime)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    testing_api_fails (sock, "api.event.publish",
                       json_pack ("{s:s, s:{}}", "trigger", "test.made", "payload"),
                       "not_found");
    json_t *made = testing_api_ok (
        sock, "api.trigger.create",
        json_pack ("{s:s}", "yaml",
                   "name: made\npack: test\ndescription: made at runtime\n"
                   "payload_schema:\n  n: {type: integer}\n"));
    cr_assert_str_eq (json_string_value (json_object_get (made, "ref")), "test.made");
    json_decref (made);
    //  At once: the rules actor knows it
    json_decref (
        testing_api_ok (sock, "api.event.publish",
                        json_pack ("{s:s, s:{}}", "trigger", "test.made", "payload")));
    json_t *got =
        testing_api_ok (sock, "api.trigger.get", json_pack ("{s:s}", "ref", "test.made"));
    cr_assert_str_eq (json_string_value (json_object_get (got, "description")),
                      "made at runtime");
    json_decref (got);
    //  A rule on it; the type cannot go while the rule is there
    const char *on_made = "name: on_made\npack: test\ntrigger:\n  type: test.made\n"
                          "action:\n  ref: test.step\n";
    uint8_t create_id[PROTO_UUID_SIZE];
    proto_uuid_generate (create_id);
    s_create_ok (sock, on_made, create_id);
    testing_api_fails (sock, "api.trigger.delete",
                       json_pack ("{s:s}", "ref", "test.made"), "conflict");
    //  Built-in types are not replaced; bad definitions say why
    testing_api_fails (sock, "api.trigger.create",
                       json_pack ("{s:{s:s, s:s}}", "definition", "name",
                                  "st2.IntervalTimer", "pack", "core"),
                       "conflict");
    testing_api_fails (sock, "api.trigger.create",
                       json_pack ("{s:{s:s, s:s, s:i}}", "definition", "name", "x",
                                  "pack", "test", "bogus", 1),
                       "invalid");
    testing_api_fails (sock, "api.trigger.create", json_pack ("{s:i}", "definition", 3),
                       "bad_request");
    //  Outlives a restart
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
    testing_daemon_start (&s_daemon, NULL);
    sock = testing_api_client (&s_daemon);
    json_decref (testing_api_ok (sock, "api.trigger.get",
                                 json_pack ("{s:s}", "ref", "test.made")));
    //  The create sent again with its id, after the restart: the same answer
    //  at once (the registry keeps which request made the rule)
    int64_t start = zclock_mono ();
    s_create_ok (sock, on_made, create_id);
    cr_assert_lt (zclock_mono () - start, 2000, "answered at once");
    json_decref (testing_api_ok (sock, "api.rule.delete",
                                 json_pack ("{s:s}", "ref", "test.on_made")));
    json_decref (testing_api_ok (sock, "api.trigger.delete",
                                 json_pack ("{s:s}", "ref", "test.made")));
    testing_api_fails (sock, "api.trigger.delete",
                       json_pack ("{s:s}", "ref", "test.made"), "not_found");
    testing_api_fails (sock, "api.event.publish",
                       json_pack ("{s:s, s:{}}", "trigger", "test.made", "payload"),
                       "not_found");
    zsock_destroy (&sock);
    testing_daemon_stop (&s_daemon);
    testing_daemon_start (&s_daemon, NULL);
    sock = testing_api_client (&s_daemon);
    testing_api_fails (sock, "api.trigger.get", json_pack ("{s:s}", "ref", "test.made"),
                       "not_found");
    zsock_destroy (&sock);
}
