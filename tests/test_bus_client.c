/*  test_bus_client: the api client class (bus/bus_client.h) against a
    scripted ROUTER in an actor: correlation with late, stale and malformed
    replies, the timeout, one resend with the same id, a reply over the
    frame limit, errors as {code, message}, asynchronous use, and CURVE.
*/
#include "bus/bus_client.h"
#include "bus/bus_security.h"
#include "tests/testing.h"

#include <sys/stat.h>

//  ---------------------------------------------------------------------------
//  The scripted server

typedef enum {
    S_ANSWER,  //  api.reply {n: requests seen}
    S_NOISE,   //  stale reply, garbage, three frames, then the answer
    S_LATE,    //  answer the previous request first, then this one
    S_SECOND,  //  ignore the first copy of an id, answer the second
    S_SILENT,  //  never answer
    S_ERROR,   //  api.error not_found
    S_HUGE,    //  a reply of 64 KiB
    S_REVERSED //  hold three requests, answer them last first, plus a stale one
} s_mode_t;

typedef struct {
    zsock_t *router;
    s_mode_t mode;
    int seen;     //  requests received
    int retries;  //  of which with retry > 0
    int same_ids; //  of which with an id seen before
    uint8_t last_id[PROTO_UUID_SIZE];
    zframe_t *last_routing;
    proto_envelope_t *held[3]; //  S_REVERSED: requests waiting
    size_t held_count;
} s_server_t;

static void
s_send_frame (s_server_t *self, zframe_t *routing, const void *data, size_t size)
{
    zframe_send (&routing, self->router, ZFRAME_MORE | ZFRAME_REUSE);
    zmq_send (zsock_resolve (self->router), data, size, 0);
}

static void
s_reply (s_server_t *self, zframe_t *routing, const uint8_t *corr, const char *type,
         json_t *payload)
{
    proto_envelope_t *reply = proto_envelope_new (type, "server@test");
    proto_envelope_set_corr (reply, corr);
    proto_envelope_set_payload_json (reply, payload, NULL);
    json_decref (payload);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    proto_envelope_encode (reply, &buffer);
    s_send_frame (self, routing, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    proto_envelope_destroy (&reply);
}

static void
s_answer (s_server_t *self, zframe_t *routing, const uint8_t *corr)
{
    s_reply (self, routing, corr, "api.reply",
             json_pack ("{s:{s:i}}", "result", "n", self->seen));
}

static void
s_noise (s_server_t *self, zframe_t *routing, const uint8_t *id)
{
    uint8_t other[PROTO_UUID_SIZE];
    proto_uuid_generate (other);
    s_reply (self, routing, other, "api.reply", json_pack ("{s:s}", "result", "stale"));
    s_send_frame (self, routing, "garbage", 7);
    zframe_send (&routing, self->router, ZFRAME_MORE | ZFRAME_REUSE);
    zstr_sendm (self->router, "one");
    zstr_sendm (self->router, "two");
    zstr_send (self->router, "three");
    s_answer (self, routing, id);
}

static void
s_reversed (s_server_t *self, zframe_t *routing, proto_envelope_t **request_p)
{
    self->held[self->held_count++] = *request_p;
    *request_p = NULL;
    if (self->held_count < 3)
        return;
    uint8_t other[PROTO_UUID_SIZE];
    proto_uuid_generate (other);
    s_reply (self, routing, other, "api.reply", json_pack ("{s:s}", "result", "stale"));
    while (self->held_count) {
        proto_envelope_t *request = self->held[--self->held_count];
        s_reply (self, routing, proto_envelope_id (request), "api.reply",
                 json_pack ("{s:s}", "result", proto_envelope_type (request)));
        proto_envelope_destroy (&request);
    }
}

static void
s_late (s_server_t *self, zframe_t *routing, const uint8_t *id)
{
    if (self->last_routing)
        s_answer (self, self->last_routing, self->last_id);
    zframe_destroy (&self->last_routing);
    self->last_routing = zframe_dup (routing);
    s_answer (self, routing, id);
}

static void
s_handle (s_server_t *self, zframe_t *routing, proto_envelope_t **request_p)
{
    proto_envelope_t *request = *request_p;
    const uint8_t *id = proto_envelope_id (request);
    self->seen++;
    self->retries += proto_envelope_retry (request) > 0;
    bool same = self->seen > 1 && memcmp (id, self->last_id, PROTO_UUID_SIZE) == 0;
    self->same_ids += same;
    if (self->mode == S_ANSWER || (self->mode == S_SECOND && same))
        s_answer (self, routing, id);
    else if (self->mode == S_NOISE)
        s_noise (self, routing, id);
    else if (self->mode == S_LATE)
        s_late (self, routing, id);
    else if (self->mode == S_ERROR)
        s_reply (
            self, routing, id, "api.error",
            json_pack ("{s:s, s:s}", "code", "not_found", "message", "no such rule"));
    else if (self->mode == S_HUGE) {
        char *big = (char *)calloc (1, 64 * 1024 + 1);
        memset (big, 'x', 64 * 1024);
        s_reply (self, routing, id, "api.reply", json_pack ("{s:s}", "result", big));
        free (big);
    } else if (self->mode == S_REVERSED) {
        memcpy (self->last_id, id, PROTO_UUID_SIZE);
        s_reversed (self, routing, request_p);
        return;
    }
    memcpy (self->last_id, id, PROTO_UUID_SIZE);
}

static void
s_on_router (s_server_t *self)
{
    zmsg_t *msg = zmsg_recv (self->router);
    zframe_t *routing = zmsg_pop (msg);
    zframe_t *frame = zmsg_first (msg);
    proto_envelope_t *request =
        frame
            ? proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL)
            : NULL;
    if (request)
        s_handle (self, routing, &request);
    proto_envelope_destroy (&request);
    zframe_destroy (&routing);
    zmsg_destroy (&msg);
}

//  Pipe: MODE n -> (ok); COUNTS -> seen retries same_ids; $TERM.
static bool
s_on_pipe (s_server_t *self, zsock_t *pipe)
{
    char *command = zstr_recv (pipe);
    bool go_on = command && !streq (command, "$TERM");
    if (go_on && strncmp (command, "MODE ", 5) == 0) {
        self->mode = (s_mode_t)atoi (command + 5);
        zsock_signal (pipe, 0);
    } else if (go_on && streq (command, "COUNTS"))
        zsock_send (pipe, "iii", self->seen, self->retries, self->same_ids);
    free (command);
    return go_on;
}

static void
s_server_actor (zsock_t *pipe, void *arg)
{
    s_server_t self = {.router = zsock_new (ZMQ_ROUTER)};
    zsock_set_linger (self.router, 0);
    const char *endpoint = (const char *)arg;
    bool curve = endpoint && bus_security_apply_api (self.router, endpoint) == 0;
    int port = zsock_bind (self.router, "%s", endpoint ? endpoint : "tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zsock_send (pipe, "ii", port, curve);
    zpoller_t *poller = zpoller_new (pipe, self.router, NULL);
    while (true) {
        zsock_t *which = (zsock_t *)zpoller_wait (poller, -1);
        if (which == self.router)
            s_on_router (&self);
        else if (which != pipe || !s_on_pipe (&self, pipe))
            break;
    }
    zpoller_destroy (&poller);
    while (self.held_count)
        proto_envelope_destroy (&self.held[--self.held_count]);
    zframe_destroy (&self.last_routing);
    zsock_destroy (&self.router);
}

//  A server on tcp://127.0.0.1:* (CURVE in the api domain when `curve`); its
//  endpoint into `endpoint`.
static zactor_t *
s_server_new (s_mode_t mode, bool curve, char *endpoint, size_t size)
{
    zactor_t *server =
        zactor_new (s_server_actor, curve ? (void *)"tcp://127.0.0.1:*" : NULL);
    cr_assert_not_null (server);
    int port = 0, curved = 0;
    zsock_recv (server, "ii", &port, &curved);
    cr_assert_gt (port, 0);
    cr_assert_eq (curved, curve);
    snprintf (endpoint, size, "tcp://127.0.0.1:%d", port);
    zstr_sendf (server, "MODE %d", (int)mode);
    zsock_wait (server);
    return server;
}

static void
s_counts (zactor_t *server, int *seen, int *retries, int *same_ids)
{
    zstr_send (server, "COUNTS");
    zsock_recv (server, "iii", seen, retries, same_ids);
}

static bus_client_t *
s_client (const char *endpoint, int timeout_ms)
{
    bus_client_t *client = bus_client_new ("test@client");
    cr_assert_not_null (client);
    bus_client_set_timeout (client, timeout_ms);
    cr_assert_eq (bus_client_connect (client, endpoint), 0, "%s",
                  bus_client_message (client));
    return client;
}

//  ---------------------------------------------------------------------------
//  Synchronous use

Test (bus_client, request_returns_the_result)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_ANSWER, false, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 3000);
    for (int i = 1; i <= 3; i++) {
        json_t *result = bus_client_request (client, "api.ping", NULL);
        cr_assert_not_null (result, "%s: %s", bus_client_code (client),
                            bus_client_message (client));
        cr_assert_eq (json_integer_value (json_object_get (result, "n")), i);
        cr_assert_str_eq (bus_client_code (client), "");
        json_decref (result);
    }
    cr_assert_eq (bus_client_skipped (client), 0);
    bus_client_destroy (&client);
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

Test (bus_client, request_ids_are_fresh_uuidv7)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_ANSWER, false, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 3000);
    json_t *payload = json_pack ("{s:i}", "x", 1);
    json_t *result = bus_client_request (client, "api.ping", &payload);
    cr_assert_null (payload, "the payload is taken");
    json_decref (result);
    result = bus_client_request (client, "api.ping", NULL);
    json_decref (result);
    int seen, retries, same;
    s_counts (server, &seen, &retries, &same);
    cr_assert_eq (seen, 2);
    cr_assert_eq (same, 0, "each request has its own id");
    //  The id is a UUIDv7: version nibble 7
    proto_envelope_t *request = proto_envelope_new ("api.ping", "x");
    cr_assert_eq (proto_envelope_id (request)[6] >> 4, 7);
    proto_envelope_destroy (&request);
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

Test (bus_client, stale_malformed_and_multiframe_replies_are_skipped)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_NOISE, false, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 3000);
    json_t *result = bus_client_request (client, "api.ping", NULL);
    cr_assert_not_null (result, "%s", bus_client_message (client));
    cr_assert_eq (json_integer_value (json_object_get (result, "n")), 1);
    json_decref (result);
    cr_assert_eq (bus_client_skipped (client), 3, "stale, garbage, three frames");
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

typedef struct {
    int frames, decode, stale;
} s_skips_t;

static void
s_on_skip (void *arg, bus_client_skip_t why, const char *text)
{
    s_skips_t *skips = (s_skips_t *)arg;
    cr_assert (strstr (text, "skipped a "), "%s", text);
    skips->frames += why == BUS_CLIENT_SKIP_FRAMES;
    skips->decode += why == BUS_CLIENT_SKIP_DECODE;
    skips->stale += why == BUS_CLIENT_SKIP_STALE;
}

Test (bus_client, out_of_order_late_replies_are_not_taken_for_the_current_one)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_LATE, false, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 3000);
    s_skips_t skips = {0};
    bus_client_set_skip_handler (client, s_on_skip, &skips);
    for (int i = 1; i <= 4; i++) {
        //  Request i gets the late reply to i - 1 first: only corr tells
        proto_envelope_t *request = proto_envelope_new ("api.ping", "test@client");
        uint8_t id[PROTO_UUID_SIZE];
        memcpy (id, proto_envelope_id (request), sizeof id);
        proto_envelope_t *reply = bus_client_call (client, &request);
        cr_assert_null (request);
        cr_assert_not_null (reply, "%s", bus_client_message (client));
        cr_assert_eq (memcmp (proto_envelope_corr (reply), id, sizeof id), 0);
        proto_envelope_destroy (&reply);
    }
    cr_assert_eq (skips.stale, 3, "the late replies to requests 1 to 3");
    cr_assert_eq (skips.frames + skips.decode, 0);
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

Test (bus_client, no_reply_times_out_as_unavailable)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_SILENT, false, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 400);
    int64_t start = zclock_mono ();
    json_t *result = bus_client_request (client, "api.ping", NULL);
    int64_t elapsed = zclock_mono () - start;
    cr_assert_null (result);
    cr_assert_str_eq (bus_client_code (client), "unavailable");
    cr_assert (strstr (bus_client_message (client), endpoint), "%s",
               bus_client_message (client));
    cr_assert (strstr (bus_client_message (client), "sent once"));
    cr_assert (elapsed >= 390 && elapsed < 1500, "gave up after %lld ms",
               (long long)elapsed);
    int seen, retries, same;
    s_counts (server, &seen, &retries, &same);
    cr_assert_eq (seen, 1, "no resend unless asked");
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

Test (bus_client, nothing_listening_fails_within_the_timeout)
{
    int port = testing_free_port ();
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    bus_client_t *client = bus_client_new ("test@client");
    bus_client_set_timeout (client, 300);
    cr_assert_eq (bus_client_connect (client, endpoint), 0);
    json_t *result = bus_client_request (client, "api.ping", NULL);
    cr_assert_null (result);
    cr_assert_str_eq (bus_client_code (client), "unavailable");
    cr_assert (strstr (bus_client_message (client), endpoint), "%s",
               bus_client_message (client));
    bus_client_destroy (&client);
}

Test (bus_client, resend_half_way_with_the_same_id)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_SECOND, false, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 1000);
    bus_client_set_resend (client, true);
    int64_t start = zclock_mono ();
    json_t *result = bus_client_request (client, "api.ping", NULL);
    int64_t elapsed = zclock_mono () - start;
    cr_assert_not_null (result, "%s", bus_client_message (client));
    json_decref (result);
    cr_assert (elapsed >= 490 && elapsed < 1000, "answered after %lld ms",
               (long long)elapsed);
    int seen, retries, same;
    s_counts (server, &seen, &retries, &same);
    cr_assert_eq (seen, 2);
    cr_assert_eq (same, 1, "the resend has the same id");
    cr_assert_eq (retries, 1, "and says it is a retry");
    cr_assert_eq (bus_client_resent (client), 1);
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

Test (bus_client, resend_then_timeout_says_twice)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_SILENT, false, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 400);
    bus_client_set_resend (client, true);
    cr_assert_null (bus_client_request (client, "api.ping", NULL));
    cr_assert (strstr (bus_client_message (client), "sent twice"), "%s",
               bus_client_message (client));
    int seen, retries, same;
    s_counts (server, &seen, &retries, &same);
    cr_assert_eq (seen, 2);
    cr_assert_eq (same, 1);
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

Test (bus_client, api_error_is_code_and_message)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_ERROR, false, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 3000);
    cr_assert_null (bus_client_request (client, "api.rule.get", NULL));
    cr_assert_str_eq (bus_client_code (client), "not_found");
    cr_assert_str_eq (bus_client_message (client), "no such rule");
    //  As an envelope, the same reply is there to read
    proto_envelope_t *request = proto_envelope_new ("api.rule.get", "test@client");
    proto_envelope_t *reply = bus_client_call (client, &request);
    cr_assert_not_null (reply);
    cr_assert_str_eq (proto_envelope_type (reply), "api.error");
    cr_assert_null (bus_client_result (client, reply));
    cr_assert_str_eq (bus_client_code (client), "not_found");
    proto_envelope_destroy (&reply);
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

Test (bus_client, a_reply_over_the_frame_limit_is_dropped)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_HUGE, false, endpoint, sizeof endpoint);
    bus_client_t *client = bus_client_new ("test@client");
    bus_client_set_timeout (client, 500);
    bus_client_set_max_recv (client, 16 * 1024);
    cr_assert_eq (bus_client_connect (client, endpoint), 0);
    cr_assert_null (bus_client_request (client, "api.ping", NULL));
    cr_assert_str_eq (bus_client_code (client), "unavailable");
    bus_client_destroy (&client);
    //  With the default limit the same reply arrives
    client = s_client (endpoint, 3000);
    json_t *result = bus_client_request (client, "api.ping", NULL);
    cr_assert_not_null (result, "%s", bus_client_message (client));
    cr_assert_eq (strlen (json_string_value (result)), 64 * 1024);
    json_decref (result);
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

Test (bus_client, a_request_over_the_frame_limit_is_refused)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_ANSWER, false, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 3000);
    char *big = (char *)calloc (1, PROTO_MAX_FRAME + 1);
    memset (big, 'x', PROTO_MAX_FRAME);
    json_t *payload = json_pack ("{s:s}", "text", big);
    free (big);
    cr_assert_null (bus_client_request (client, "api.ping", &payload));
    cr_assert_str_eq (bus_client_code (client), "too_large");
    int seen, retries, same;
    s_counts (server, &seen, &retries, &same);
    cr_assert_eq (seen, 0);
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

Test (bus_client, attached_socket_stays_the_callers)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_ANSWER, false, endpoint, sizeof endpoint);
    zsock_t *dealer = zsock_new_dealer (endpoint);
    bus_client_t *client = bus_client_attach (dealer, "test@client");
    json_t *result = bus_client_request (client, "api.ping", NULL);
    cr_assert_not_null (result);
    json_decref (result);
    bus_client_destroy (&client);
    cr_assert (zsock_is (dealer));
    zsock_destroy (&dealer);
    zactor_destroy (&server);
}

//  ---------------------------------------------------------------------------
//  Asynchronous use

Test (bus_client, async_replies_in_any_order_are_matched)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_REVERSED, false, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 3000);
    const char *types[] = {"api.one", "api.two", "api.three"};
    for (int i = 0; i < 3; i++) {
        proto_envelope_t *request = proto_envelope_new (types[i], "test@client");
        cr_assert_eq (bus_client_send (client, &request), 0);
        cr_assert_null (request);
    }
    cr_assert_eq (bus_client_pending (client), 3);
    zpoller_t *poller = zpoller_new (bus_client_sock (client), NULL);
    const char *order[3];
    int got = 0;
    int64_t deadline = zclock_mono () + 3000;
    while (got < 3 && zclock_mono () < deadline) {
        zpoller_wait (poller, 100);
        proto_envelope_t *reply;
        while ((reply = bus_client_recv (client))) {
            json_t *result = bus_client_result (client, reply);
            for (int i = 0; i < 3; i++)
                if (streq (json_string_value (result), types[i]))
                    order[got] = types[i];
            got++;
            bus_client_forget (client, proto_envelope_corr (reply));
            json_decref (result);
            proto_envelope_destroy (&reply);
        }
    }
    zpoller_destroy (&poller);
    cr_assert_eq (got, 3);
    cr_assert_str_eq (order[0], "api.three");
    cr_assert_str_eq (order[2], "api.one");
    cr_assert_eq (bus_client_pending (client), 0);
    cr_assert_eq (bus_client_skipped (client), 1, "the stale one");
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

Test (bus_client, forgotten_requests_are_stale)
{
    char endpoint[64];
    zactor_t *server = s_server_new (S_ANSWER, false, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 3000);
    proto_envelope_t *request = proto_envelope_new ("api.ping", "test@client");
    cr_assert_eq (bus_client_send (client, &request), 0);
    bus_client_forget (client, NULL);
    cr_assert_eq (bus_client_pending (client), 0);
    zpoller_t *poller = zpoller_new (bus_client_sock (client), NULL);
    cr_assert_not_null (zpoller_wait (poller, 3000));
    zpoller_destroy (&poller);
    cr_assert_null (bus_client_recv (client));
    cr_assert_eq (bus_client_skipped (client), 1);
    bus_client_destroy (&client);
    zactor_destroy (&server);
}

//  ---------------------------------------------------------------------------
//  CURVE

//  This process's cert (a user's, in the allow dir) and mode always.
static void
s_curve_setup (char *dir, size_t size, bool allowed)
{
    testing_tmpdir (dir, size, "bus-client-curve");
    char path[PATH_MAX + 64], allow[PATH_MAX];
    snprintf (allow, sizeof allow, "%s/allow", dir);
    cr_assert_eq (mkdir (allow, 0750), 0);
    zcert_t *cert = zcert_new ();
    zcert_set_meta (cert, "identity", "tester");
    zcert_set_meta (cert, "role", "operator");
    snprintf (path, sizeof path, "%s/me.cert", dir);
    cr_assert_eq (zcert_save (cert, path), 0);
    if (allowed) {
        snprintf (path, sizeof path, "%s/me.cert", allow);
        cr_assert_eq (zcert_save_public (cert, path), 0);
    }
    zcert_destroy (&cert);
    snprintf (path, sizeof path, "%s/me.cert_secret", dir);
    bus_security_config_t config = {
        .cert = path, .allow = allow, .mode = BUS_SECURITY_ALWAYS};
    char message[512];
    cr_assert_eq (bus_security_configure (&config, message, sizeof message), 0, "%s",
                  message);
}

Test (bus_client, curve_with_an_allowed_key)
{
    char dir[PATH_MAX - 128];
    s_curve_setup (dir, sizeof dir, true);
    char endpoint[64];
    zactor_t *server = s_server_new (S_ANSWER, true, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 3000);
    cr_assert_eq (zsock_mechanism (bus_client_sock (client)), ZMQ_CURVE);
    json_t *result = bus_client_request (client, "api.ping", NULL);
    cr_assert_not_null (result, "%s", bus_client_message (client));
    json_decref (result);
    bus_client_destroy (&client);
    zactor_destroy (&server);
    bus_security_shutdown ();
    testing_rmtree (dir);
}

Test (bus_client, curve_with_a_key_not_allowed_gets_no_reply)
{
    char dir[PATH_MAX - 128];
    s_curve_setup (dir, sizeof dir, false);
    char endpoint[64];
    zactor_t *server = s_server_new (S_ANSWER, true, endpoint, sizeof endpoint);
    bus_client_t *client = s_client (endpoint, 500);
    cr_assert_null (bus_client_request (client, "api.ping", NULL));
    cr_assert_str_eq (bus_client_code (client), "unavailable");
    int seen, retries, same;
    s_counts (server, &seen, &retries, &same);
    cr_assert_eq (seen, 0);
    bus_client_destroy (&client);
    zactor_destroy (&server);
    bus_security_shutdown ();
    testing_rmtree (dir);
}

Test (bus_client, curve_without_keys_refuses_to_connect)
{
    char dir[PATH_MAX - 128];
    testing_tmpdir (dir, sizeof dir, "bus-client-nokeys");
    bus_security_config_t config = {.mode = BUS_SECURITY_ALWAYS};
    char message[512];
    cr_assert_eq (bus_security_configure (&config, message, sizeof message), 0);
    bus_client_t *client = bus_client_new ("test@client");
    cr_assert_eq (bus_client_connect (client, "tcp://127.0.0.1:9"), -1);
    cr_assert_str_eq (bus_client_code (client), "unavailable");
    cr_assert (strstr (bus_client_message (client), "CURVE"));
    cr_assert_null (bus_client_sock (client), "never reached in plaintext");
    bus_client_destroy (&client);
    bus_security_shutdown ();
    testing_rmtree (dir);
}
