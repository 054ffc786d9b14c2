/*  test_actor_query: the query endpoint every actor offers (actor_query.h),
    on its own: requests reach the handler decoded and checked against the
    message table; hostile frames are answered with the decoder's code, a
    bad_frame with the request's corr; deferred answers; results too large
    for a frame; pages cut by count and by bytes.
*/
#include <criterion/criterion.h>
#include "actors/actor_query.h"

#define S_ENDPOINT "inproc://test-actor-query"

static actor_query_t *s_query;
static zsock_t *s_client;
static uint64_t s_ticket; //  the last deferred request
static int s_calls;

static void
s_setup (void)
{
    s_query = actor_query_new (S_ENDPOINT, "test@query");
    cr_assert_not_null (s_query);
    s_client = zsock_new_dealer (S_ENDPOINT);
    cr_assert_not_null (s_client);
    s_calls = 0;
}

static void
s_teardown (void)
{
    zsock_destroy (&s_client);
    actor_query_destroy (&s_query);
}

TestSuite (actor_query, .init = s_setup, .fini = s_teardown, .timeout = 30);

static void
s_handler (void *arg, const char *type, json_t *payload, actor_answer_t *answer)
{
    s_calls++;
    if (streq (type, "api.event.get"))
        answer->result = json_pack ("{s:O}", "id", json_object_get (payload, "id"));
    else if (streq (type, "api.event.list"))
        s_ticket = actor_query_defer (s_query, answer, 1000);
    else if (streq (type, "api.action.get")) {
        //  A record over the frame limit
        char *big = (char *)malloc (PROTO_MAX_FRAME);
        memset (big, 'x', PROTO_MAX_FRAME - 1);
        big[PROTO_MAX_FRAME - 1] = 0;
        answer->result = json_pack ("{s:s}", "blob", big);
        free (big);
    } else
        actor_query_fail (answer, "unknown_type", "no %s here", type);
}

//  Send frames; serve them; the reply (or NULL within `wait_ms`)
static proto_envelope_t *
s_exchange (zmsg_t *msg, int wait_ms)
{
    cr_assert_eq (zmsg_send (&msg, s_client), 0);
    zpoller_t *poller = zpoller_new (actor_query_sock (s_query), NULL);
    cr_assert_not_null (zpoller_wait (poller, 2000));
    zpoller_destroy (&poller);
    actor_query_handle (s_query, s_handler, NULL);
    poller = zpoller_new (s_client, NULL);
    bool ready = zpoller_wait (poller, wait_ms) != NULL;
    zpoller_destroy (&poller);
    if (!ready)
        return NULL;
    zframe_t *frame = zframe_recv (s_client);
    proto_envelope_t *reply =
        proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
    zframe_destroy (&frame);
    cr_assert_not_null (reply);
    return reply;
}

//  A request frame of `type` with a JSON payload; its id in `id`
static zmsg_t *
s_request (const char *type, const char *json, uint8_t id[PROTO_UUID_SIZE])
{
    proto_envelope_t *request = proto_envelope_new (type, "test@client");
    memcpy (id, proto_envelope_id (request), PROTO_UUID_SIZE);
    json_t *payload = json_loads (json, 0, NULL);
    proto_envelope_set_payload_json (request, payload, NULL);
    json_decref (payload);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    proto_envelope_encode (request, &buffer);
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    proto_envelope_destroy (&request);
    return msg;
}

//  The reply's code ("ok" for api.reply); asserts its corr
static const char *
s_code (proto_envelope_t *reply, const uint8_t *id, char *message, size_t size)
{
    static char code[64];
    if (id) {
        cr_assert_not_null (proto_envelope_corr (reply));
        cr_assert_eq (memcmp (proto_envelope_corr (reply), id, PROTO_UUID_SIZE), 0);
    } else
        cr_assert_null (proto_envelope_corr (reply));
    json_t *payload = proto_envelope_payload_json (reply, NULL);
    bool ok = streq (proto_envelope_type (reply), "api.reply");
    snprintf (code, sizeof code, "%s",
              ok ? "ok" : json_string_value (json_object_get (payload, "code")));
    if (message)
        snprintf (message, size, "%s",
                  ok ? "" : json_string_value (json_object_get (payload, "message")));
    json_decref (payload);
    return code;
}

Test (actor_query, requests_reach_the_handler_checked)
{
    uint8_t id[PROTO_UUID_SIZE];
    char message[512];
    proto_envelope_t *reply =
        s_exchange (s_request ("api.event.get", "{\"id\": \"e1\"}", id), 2000);
    cr_assert_str_eq (s_code (reply, id, NULL, 0), "ok");
    proto_envelope_destroy (&reply);
    cr_assert_eq (s_calls, 1);
    //  The message table: a field of the wrong type never reaches the handler
    reply = s_exchange (s_request ("api.event.get", "{\"id\": 3}", id), 2000);
    cr_assert_str_eq (s_code (reply, id, message, sizeof message), "bad_request");
    cr_assert_str_eq (message, "id: expected str, got int");
    proto_envelope_destroy (&reply);
    reply = s_exchange (s_request ("api.event.get", "{}", id), 2000);
    cr_assert_str_eq (s_code (reply, id, message, sizeof message), "bad_request");
    cr_assert_str_eq (message, "id: required (an id)");
    proto_envelope_destroy (&reply);
    cr_assert_eq (s_calls, 1);
    //  A type the table does not know goes to the handler, which says no
    reply = s_exchange (s_request ("api.nothing", "{}", id), 2000);
    cr_assert_str_eq (s_code (reply, id, NULL, 0), "unknown_type");
    proto_envelope_destroy (&reply);
    //  api.ping is answered without the handler
    reply = s_exchange (s_request ("api.ping", "{}", id), 2000);
    cr_assert_str_eq (s_code (reply, id, NULL, 0), "ok");
    proto_envelope_destroy (&reply);
    cr_assert_eq (s_calls, 2);
    cr_assert_eq (actor_query_requests (s_query), 5);
}

Test (actor_query, hostile_frames_are_answered_with_their_code)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "not msgpack");
    proto_envelope_t *reply = s_exchange (msg, 2000);
    cr_assert_str_eq (s_code (reply, NULL, NULL, 0), "trailing");
    proto_envelope_destroy (&reply);
    //  Two frames: bad_frame, with the first frame's id as corr
    uint8_t id[PROTO_UUID_SIZE];
    msg = s_request ("api.ping", "{}", id);
    zmsg_addstr (msg, "extra");
    reply = s_exchange (msg, 2000);
    cr_assert_str_eq (s_code (reply, id, NULL, 0), "bad_frame");
    proto_envelope_destroy (&reply);
    //  ... and corr nil when the first frame is not an envelope
    msg = zmsg_new ();
    zmsg_addstr (msg, "junk");
    zmsg_addstr (msg, "extra");
    reply = s_exchange (msg, 2000);
    cr_assert_str_eq (s_code (reply, NULL, NULL, 0), "bad_frame");
    proto_envelope_destroy (&reply);
    cr_assert_eq (actor_query_malformed (s_query), 3);
    cr_assert_eq (s_calls, 0);
}

Test (actor_query, a_deferred_answer_comes_later)
{
    uint8_t id[PROTO_UUID_SIZE];
    proto_envelope_t *reply = s_exchange (s_request ("api.event.list", "{}", id), 200);
    cr_assert_null (reply, "deferred: no answer yet");
    cr_assert_eq (actor_query_parked (s_query), 1);
    cr_assert_eq (
        actor_query_reply (s_query, s_ticket, json_pack ("{s:i}", "n", 7), NULL, NULL),
        0);
    zpoller_t *poller = zpoller_new (s_client, NULL);
    cr_assert_not_null (zpoller_wait (poller, 2000));
    zpoller_destroy (&poller);
    zframe_t *frame = zframe_recv (s_client);
    reply = proto_envelope_decode (zframe_data (frame), zframe_size (frame), NULL, NULL);
    zframe_destroy (&frame);
    cr_assert_str_eq (s_code (reply, id, NULL, 0), "ok");
    proto_envelope_destroy (&reply);
    //  Once only
    cr_assert_eq (actor_query_reply (s_query, s_ticket, NULL, NULL, NULL), -1);
    cr_assert_eq (actor_query_parked (s_query), 0);
    //  One past its time is forgotten at the next defer
    reply = s_exchange (s_request ("api.event.list", "{}", id), 100);
    uint64_t old = s_ticket;
    zclock_sleep (1100);
    reply = s_exchange (s_request ("api.event.list", "{}", id), 100);
    cr_assert_null (reply);
    cr_assert_eq (actor_query_parked (s_query), 1);
    cr_assert_eq (actor_query_reply (s_query, old, NULL, "unavailable", "late"), -1);
}

Test (actor_query, a_result_over_a_frame_is_too_large)
{
    uint8_t id[PROTO_UUID_SIZE];
    char message[512];
    proto_envelope_t *reply =
        s_exchange (s_request ("api.action.get", "{\"ref\": \"p.big\"}", id), 2000);
    cr_assert_str_eq (s_code (reply, id, message, sizeof message), "too_large");
    cr_assert_not_null (strstr (message, "api.action.get p.big: the record is"), "%s",
                        message);
    proto_envelope_destroy (&reply);
}

Test (actor_query, pages_are_cut_by_count_and_by_bytes)
{
    actor_page_t page;
    actor_page_init (&page, 2);
    cr_assert (actor_page_add (&page, json_pack ("{s:i}", "n", 1)));
    cr_assert (actor_page_add (&page, json_pack ("{s:i}", "n", 2)));
    cr_assert (actor_page_full (&page));
    cr_assert_not (actor_page_add (&page, json_pack ("{s:i}", "n", 3)));
    cr_assert (page.more);
    json_decref (page.items);
    //  By bytes: items of 300 KiB, three fit under ACTOR_PAGE_BYTES
    actor_page_init (&page, 0);
    char *text = (char *)malloc (300 * 1024 + 1);
    memset (text, 'y', 300 * 1024);
    text[300 * 1024] = 0;
    int added = 0;
    while (actor_page_add (&page, json_pack ("{s:s}", "t", text)))
        added++;
    cr_assert_eq (added, 3);
    cr_assert_leq (page.bytes, ACTOR_PAGE_BYTES);
    json_decref (page.items);
    //  A record alone over a page: a stub with its size and short fields
    actor_page_init (&page, 0);
    char *huge = (char *)malloc (ACTOR_PAGE_BYTES + 2);
    memset (huge, 'z', ACTOR_PAGE_BYTES + 1);
    huge[ACTOR_PAGE_BYTES + 1] = 0;
    cr_assert (
        actor_page_add (&page, json_pack ("{s:s, s:s}", "id", "r1", "blob", huge)));
    json_t *stub = json_array_get (page.items, 0);
    cr_assert (json_is_true (json_object_get (stub, "too_large")));
    cr_assert_str_eq (json_string_value (json_object_get (stub, "id")), "r1");
    cr_assert_null (json_object_get (stub, "blob"));
    json_decref (page.items);
    free (huge);
    free (text);
    //  actor_page_list: key order, after, next
    json_t *all = json_pack ("[{s:s}, {s:s}, {s:s}]", "ref", "c", "ref", "a", "ref", "b");
    json_t *list = actor_page_list (all, "ref", "a", 1, NULL);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_array_get (json_object_get (list, "items"), 0), "ref")),
                      "b");
    cr_assert_str_eq (json_string_value (json_object_get (list, "next")), "b");
    json_decref (list);
    list = actor_page_list (all, "ref", "b", 5, NULL);
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 1);
    cr_assert (json_is_null (json_object_get (list, "next")));
    json_decref (list);
    json_decref (all);
}

Test (actor_query, argument_helpers)
{
    actor_answer_t answer = {0};
    json_t *payload = json_pack ("{s:i, s:s, s:i}", "limit", 5, "after", "x", "bad", 1);
    cr_assert_eq (actor_arg_int (payload, "limit", 1, 1, 10, &answer), 5);
    cr_assert_eq (actor_arg_int (payload, "none", 7, 1, 10, &answer), 7);
    cr_assert_str_eq (actor_arg_str (payload, "after", &answer), "x");
    cr_assert_str_eq (answer.code, "");
    cr_assert_eq (actor_arg_int (payload, "limit", 1, 6, 10, &answer), 1);
    cr_assert_str_eq (answer.code, "bad_request");
    memset (&answer, 0, sizeof answer);
    cr_assert_null (actor_arg_str (payload, "bad", &answer));
    cr_assert_str_eq (answer.code, "bad_request");
    json_decref (payload);
}
