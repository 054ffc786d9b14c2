/*  testing_api: a small api client for the suites that talk to a live
    attuned (tests/testing_daemon.h) over its documented protocol. Every
    function asserts instead of returning errors.
*/
#ifndef TESTING_API_H_INCLUDED
#define TESTING_API_H_INCLUDED

#include "tests/testing_daemon.h"
#include "bus/bus_client.h"
#include "proto/proto_envelope.h"
#include "proto/proto_json.h"

//  A DEALER connected to the daemon's api (replies awaited at most 8 s by
//  testing_api_call; tests may send raw frames on it too).
static inline zsock_t *
testing_api_client (testing_daemon_t *daemon)
{
    zsock_t *sock = zsock_new_dealer (daemon->api);
    cr_assert_not_null (sock);
    zsock_set_rcvtimeo (sock, 8000);
    return sock;
}

//  Send a request with a given id (NULL: fresh) and return the reply as JSON
//  {type, corr, payload}; asserts it arrives with the right corr within 8 s
//  (bus/bus_client.h over the caller's socket: no resend).
static inline json_t *
testing_api_call_id (zsock_t *sock, const char *type, json_t *payload, const uint8_t *id)
{
    proto_envelope_t *request = proto_envelope_new (type, "test@api");
    if (id)
        proto_envelope_set_id (request, id);
    if (!payload)
        payload = json_object ();
    cr_assert_eq (proto_envelope_set_payload_json (request, payload, NULL), PROTO_OK);
    json_decref (payload);
    bus_client_t *client = bus_client_attach (sock, "test@api");
    cr_assert_not_null (client);
    bus_client_set_timeout (client, 8000);
    proto_envelope_t *reply = bus_client_call (client, &request);
    cr_assert_not_null (reply, "no reply to %s: %s: %s", type, bus_client_code (client),
                        bus_client_message (client));
    bus_client_destroy (&client);
    json_t *json = proto_envelope_to_json (reply, NULL);
    proto_envelope_destroy (&reply);
    return json;
}

static inline json_t *
testing_api_call (zsock_t *sock, const char *type, json_t *payload)
{
    return testing_api_call_id (sock, type, payload, NULL);
}

//  The result of a call that must succeed (caller owns it).
static inline json_t *
testing_api_ok (zsock_t *sock, const char *type, json_t *payload)
{
    json_t *reply = testing_api_call (sock, type, payload);
    char *text = json_dumps (reply, JSON_COMPACT);
    cr_assert_str_eq (json_string_value (json_object_get (reply, "type")), "api.reply",
                      "%s: %s", type, text);
    free (text);
    json_t *result =
        json_incref (json_object_get (json_object_get (reply, "payload"), "result"));
    json_decref (reply);
    return result;
}

//  The error code of a call that must fail.
static inline void
testing_api_fails (zsock_t *sock, const char *type, json_t *payload, const char *code)
{
    json_t *reply = testing_api_call (sock, type, payload);
    char *text = json_dumps (reply, JSON_COMPACT);
    cr_assert_str_eq (json_string_value (json_object_get (reply, "type")), "api.error",
                      "%s: %s", type, text);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_object_get (reply, "payload"), "code")),
        code, "%s: %s", type, text);
    cr_assert_gt (strlen (json_string_value (
                      json_object_get (json_object_get (reply, "payload"), "message"))),
                  0);
    free (text);
    json_decref (reply);
}

//  Wait until execution `id` has status `status` (bounded). Returns the record.
static inline json_t *
testing_api_wait_status (zsock_t *sock, const char *id, const char *status,
                         int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        json_t *record =
            testing_api_ok (sock, "api.execution.get", json_pack ("{s:s}", "id", id));
        const char *now = json_string_value (json_object_get (record, "status"));
        if (now && streq (now, status))
            return record;
        cr_assert_lt (zclock_mono (), deadline, "execution %s is %s, not %s", id, now,
                      status);
        json_decref (record);
        zclock_sleep (20);
    }
}

#endif
