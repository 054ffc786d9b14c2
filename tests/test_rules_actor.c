/*  test_rules_actor: the rules actor (actors/rules/rules.h) with the real
    registry actor.

    Each test writes a pack into its own temporary directory, starts the
    registry and the rules actor in a topology namespace of its own, and
    plays the executor with a plain bus_inbox bound on executor.commands
    that records the enforcement.create commands. Events go in over a
    bus_link to rules.commands; facts are watched with a bus_sub on
    rules.facts. Waits are poll loops with deadlines.
*/
#include "tests/testing_rules.h"

TestSuite (rules_actor, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  ---------------------------------------------------------------------------
//  Tests

Test (rules_actor, event_matching_one_rule)
{
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    proto_envelope_t *envelope =
        s_event ("\"t.webhook\"", "{}",
                 "{\"kind\": \"deploy\", \"app\": \"web\", \"n\": 42, \"flag\": true, "
                 "\"obj\": {\"a\": [1, 2.5, null]}}",
                 event);
    proto_envelope_set_trace (envelope, "trace-1");
    s_send (s_fx.sender, envelope);
    WAIT_FOR (json_array_size (s_fx.commands) >= 1 &&
                  s_facts_count ("enforcement.created", event),
              NULL);

    //  The command: rendered parameters with their types
    cr_assert_eq (json_array_size (s_fx.commands), 1);
    json_t *command = json_array_get (s_fx.commands, 0);
    cr_assert_str_eq (json_string_value (json_object_get (command, "rule")), "t.r_match");
    cr_assert_str_eq (json_string_value (json_object_get (command, "event")), event);
    cr_assert_str_eq (json_string_value (json_object_get (command, "action")), "t.echo");
    const char *enforcement =
        json_string_value (json_object_get (command, "enforcement"));
    uint8_t uuid[PROTO_UUID_SIZE];
    cr_assert (enforcement && proto_uuid_parse (enforcement, uuid) == 0);
    json_t *params = json_object_get (command, "parameters");
    json_t *expected =
        json_pack ("{s:s, s:i, s:b, s:{s:[i, f, n]}, s:i, s:s, s:s}", "message",
                   "deploy web", "n", 42, "flag", 1, "obj", "a", 1, 2.5, "retries", 3,
                   "event", event, "rule", "t.r_match");
    cr_assert (json_equal (params, expected), "parameters: %s",
               json_dumps (params, JSON_COMPACT | JSON_SORT_KEYS));
    json_decref (expected);
    cr_assert (json_is_integer (json_object_get (params, "n")));
    cr_assert (json_is_true (json_object_get (params, "flag")));
    json_t *corr = json_array_get (s_fx.corrs, 0);
    cr_assert_str_eq (json_string_value (json_object_get (corr, "corr")), event);
    cr_assert_str_eq (json_string_value (json_object_get (corr, "trace")), "trace-1");

    //  Facts
    json_t *created = s_fact ("event.created", event);
    cr_assert_not_null (created);
    cr_assert_str_eq (json_string_value (json_object_get (created, "trigger")),
                      "t.webhook");
    cr_assert_eq (
        json_integer_value (json_object_get (json_object_get (created, "payload"), "n")),
        42);
    cr_assert (json_is_integer (json_object_get (created, "ts")));
    json_t *enf = s_fact ("enforcement.created", event);
    cr_assert_not_null (enf);
    cr_assert_str_eq (json_string_value (json_object_get (enf, "status")), "created");
    cr_assert_str_eq (json_string_value (json_object_get (enf, "enforcement")),
                      enforcement);
    cr_assert_str_eq (json_string_value (json_object_get (enf, "rule")), "t.r_match");
    cr_assert_eq (s_facts_count ("enforcement.created", event), 1);

    //  Durable counters; the acked command leaves the outbox
    cr_assert_eq (s_status_int ("events"), 1);
    cr_assert_eq (s_status_int ("enforcements"), 1);
    cr_assert_eq (s_status_int ("failed"), 0);
    cr_assert_eq (s_status_int ("rules"), 5);
    WAIT_FOR (s_status_int ("outbox") == 0, NULL);
}

Test (rules_actor, criteria_false_no_enforcement)
{
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, "{\"kind\": \"other\"}", event));
    WAIT_FOR (s_facts_count ("event.created", event) == 1, NULL);
    //  Committed before the fact went out: nothing else will come of it
    cr_assert_eq (s_status_int ("events"), 1);
    cr_assert_eq (s_status_int ("enforcements"), 0);
    cr_assert_eq (s_status_int ("outbox"), 0);
    //  A later matching event gets through; the first still has nothing
    char second[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL,
                                  "{\"kind\": \"deploy\", \"app\": \"a\", \"n\": 1, "
                                  "\"flag\": false, \"obj\": {}}",
                                  second));
    WAIT_FOR (json_array_size (s_fx.commands) == 1, NULL);
    cr_assert_str_eq (
        json_string_value (json_object_get (json_array_get (s_fx.commands, 0), "event")),
        second);
    cr_assert_eq (s_facts_count ("enforcement.created", event), 0);
    //  An unknown trigger type: refused (not_found), nothing stored
    char third[PROTO_UUID_STR_SIZE];
    s_fx.reject_code[0] = 0;
    s_send (s_fx.sender, s_event ("\"t.nobody\"", NULL, "{}", third));
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_assert_str_eq (s_fx.reject_code, "not_found");
    cr_assert (strstr (s_fx.reject_message, "t.nobody"), "message: %s",
               s_fx.reject_message);
    cr_assert_eq (s_facts_count ("event.created", third), 0);
    cr_assert_eq (s_status_int ("events"), 2);
    cr_assert_eq (s_status_int ("enforcements"), 1);
}

Test (rules_actor, timer_parameters_select_the_rule)
{
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"core.st2.IntervalTimer\"",
                                  "{\"unit\": \"seconds\", \"delta\": 10}",
                                  "{\"executed_at\": \"2026-01-01T00:00:00Z\"}", event));
    WAIT_FOR (json_array_size (s_fx.commands) == 1, NULL);
    json_t *command = json_array_get (s_fx.commands, 0);
    cr_assert_str_eq (json_string_value (json_object_get (command, "rule")),
                      "t.r_every10");
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (command, "parameters"), "message")),
                      "ten");
    cr_assert_eq (s_status_int ("enforcements"), 1);
    cr_assert_eq (s_facts_count ("enforcement.created", event), 1);

    //  Parameters no rule has: nothing
    char none[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"core.st2.IntervalTimer\"",
                                  "{\"unit\": \"seconds\", \"delta\": 7}", "{}", none));
    WAIT_FOR (s_facts_count ("event.created", none) == 1, NULL);
    cr_assert_eq (s_status_int ("enforcements"), 1);

    //  No parameters (an external event of that type): not a timer's event,
    //  so no timer rule fires (a client cannot set off every timer rule)
    char any[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"core.st2.IntervalTimer\"", "{}", "{}", any));
    WAIT_FOR (s_facts_count ("event.created", any) == 1, NULL);
    cr_assert_eq (s_facts_count ("enforcement.created", any), 0);
    cr_assert_eq (s_status_int ("enforcements"), 1);
    cr_assert_eq (json_array_size (s_fx.commands), 1);
}

Test (rules_actor, redelivered_event_is_one_event)
{
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    proto_envelope_t *envelope =
        s_event ("\"t.webhook\"", "{}",
                 "{\"kind\": \"deploy\", \"app\": \"x\", \"n\": 1, \"flag\": true, "
                 "\"obj\": []}",
                 event);
    proto_envelope_t *again = proto_envelope_dup (envelope);
    cr_assert_not_null (again);
    bus_link_t *second = s_new_sender ("sensor-restarted@test");
    s_send (s_fx.sender, envelope);
    s_send (second, again);
    WAIT_FOR (bus_link_unacked (s_fx.sender) == 0 && bus_link_unacked (second) == 0 &&
                  json_array_size (s_fx.commands) >= 1,
              second);
    cr_assert_eq (s_status_int ("events"), 1);
    cr_assert_eq (s_status_int ("enforcements"), 1);
    WAIT_FOR (s_status_int ("outbox") == 0, second);
    //  Let anything late arrive, then count
    int64_t until = zclock_mono () + 300;
    while (zclock_mono () < until)
        s_service (second, 20);
    cr_assert_eq (json_array_size (s_fx.commands), 1);
    cr_assert_eq (s_facts_count ("event.created", event), 1);
    cr_assert_eq (s_facts_count ("enforcement.created", event), 1);
    bus_link_destroy (&second);
}

Test (rules_actor, render_failure_fails_the_enforcement)
{
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender,
            s_event ("\"t.webhook\"", NULL, "{\"kind\": \"broken\"}", event));
    WAIT_FOR (s_facts_count ("enforcement.created", event) == 1, NULL);
    json_t *fact = s_fact ("enforcement.created", event);
    cr_assert_str_eq (json_string_value (json_object_get (fact, "status")), "failed");
    cr_assert_str_eq (json_string_value (json_object_get (fact, "rule")), "t.r_broken");
    const char *reason = json_string_value (json_object_get (fact, "reason"));
    cr_assert_not_null (reason);
    cr_assert (strstr (reason, "action.parameters.message"), "reason: %s", reason);
    cr_assert (strstr (reason, "missing"), "reason: %s", reason);
    cr_assert_eq (s_status_int ("failed"), 1);
    cr_assert_eq (s_status_int ("enforcements"), 1);
    cr_assert_eq (s_status_int ("outbox"), 0);
    int64_t until = zclock_mono () + 200;
    while (zclock_mono () < until)
        s_service (NULL, 20);
    cr_assert_eq (json_array_size (s_fx.commands), 0);
}

Test (rules_actor, outbox_survives_a_restart)
{
    s_start_registry ();
    s_start_rules ();
    s_fx.sender = s_new_sender ("sensor@test");
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL,
                                  "{\"kind\": \"deploy\", \"app\": \"late\", \"n\": 7, "
                                  "\"flag\": true, \"obj\": {}}",
                                  event));
    WAIT_FOR (s_facts_count ("enforcement.created", event) == 1, NULL);
    cr_assert_eq (s_status_int ("outbox"), 1);

    //  Restart with the executor still absent
    zactor_destroy (&s_fx.rules);
    s_start_rules ();
    cr_assert_eq (s_status_int ("outbox"), 1);
    cr_assert_eq (s_status_int ("enforcements"), 1);

    //  The executor comes up: the command arrives, the outbox drains
    s_start_executor ();
    WAIT_FOR (json_array_size (s_fx.commands) >= 1, NULL);
    WAIT_FOR (s_status_int ("outbox") == 0, NULL);
    int64_t until = zclock_mono () + 300;
    while (zclock_mono () < until)
        s_service (NULL, 20);
    cr_assert_eq (json_array_size (s_fx.commands), 1);
    json_t *command = json_array_get (s_fx.commands, 0);
    cr_assert_str_eq (json_string_value (json_object_get (command, "event")), event);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (command, "parameters"), "message")),
                      "deploy late");
    cr_assert_eq (s_status_int ("enforcements"), 1);
}

Test (rules_actor, outbox_ids_after_a_restart_go_above_the_stored_ones)
{
    s_start_registry ();
    s_start_rules ();
    s_fx.sender = s_new_sender ("sensor@test");
    char first[PROTO_UUID_STR_SIZE], second[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL,
                                  "{\"kind\": \"deploy\", \"app\": \"one\", \"n\": 1, "
                                  "\"flag\": true, \"obj\": {}}",
                                  first));
    WAIT_FOR (s_facts_count ("enforcement.created", first) == 1, NULL);
    cr_assert_eq (s_status_int ("outbox"), 1);

    //  Restarted with a command still in the outbox, a new one must not take
    //  its id (the write would fail and the event would never commit)
    zactor_destroy (&s_fx.rules);
    s_start_rules ();
    bus_link_t *later = s_new_sender ("sensor-later@test");
    s_send (later, s_event ("\"t.webhook\"", NULL,
                            "{\"kind\": \"deploy\", \"app\": \"two\", \"n\": 2, "
                            "\"flag\": true, \"obj\": {}}",
                            second));
    WAIT_FOR (s_status_int ("enforcements") == 2, later);
    cr_assert_eq (s_status_int ("outbox"), 2);
    bus_link_destroy (&later);
    zactor_destroy (&s_fx.rules);
    s_start_rules ();
    cr_assert_eq (s_status_int ("outbox"), 2);

    s_start_executor ();
    WAIT_FOR (json_array_size (s_fx.commands) >= 2, NULL);
    WAIT_FOR (s_status_int ("outbox") == 0, NULL);
    cr_assert_eq (json_array_size (s_fx.commands), 2);
    cr_assert_eq (s_status_int ("enforcements"), 2);
}

Test (rules_actor, malformed_event_rejected)
{
    s_start_all ();
    //  trigger of the wrong type
    s_send (s_fx.sender, s_event ("5", NULL, "{}", NULL));
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_assert_str_eq (s_fx.reject_code, "bad_request");
    cr_assert (strstr (s_fx.reject_message, "trigger"), "message: %s",
               s_fx.reject_message);
    //  payload missing
    s_fx.reject_code[0] = 0;
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, NULL, NULL));
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_assert_str_eq (s_fx.reject_code, "bad_request");
    cr_assert (strstr (s_fx.reject_message, "payload"), "message: %s",
               s_fx.reject_message);
    //  payload not a map
    s_fx.reject_code[0] = 0;
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, "[1]", NULL));
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_assert_str_eq (s_fx.reject_code, "bad_request");
    //  trigger_parameters not a map
    s_fx.reject_code[0] = 0;
    s_send (s_fx.sender, s_event ("\"t.webhook\"", "\"x\"", "{}", NULL));
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_assert_str_eq (s_fx.reject_code, "bad_request");
    cr_assert (strstr (s_fx.reject_message, "trigger_parameters"), "message: %s",
               s_fx.reject_message);
    cr_assert_eq (s_status_int ("events"), 0);
    cr_assert_eq (s_status_int ("rejected"), 4);
    //  The link still works after rejects
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, "{}", event));
    WAIT_FOR (s_facts_count ("event.created", event) == 1, NULL);
}

static void
s_registry_command (bus_link_t *link, const char *type, const char *payload_json)
{
    proto_envelope_t *envelope = proto_envelope_new (type, "test@test");
    json_t *payload = json_loads (payload_json, 0, NULL);
    cr_assert_not_null (payload, "bad JSON: %s", payload_json);
    cr_assert_eq (proto_envelope_set_payload_json (envelope, payload, NULL), PROTO_OK);
    json_decref (payload);
    s_send (link, envelope);
    WAIT_FOR (bus_link_unacked (link) == 0, link);
    cr_assert_str_empty (s_fx.reject_code, "registry rejected %s: %s", type,
                         s_fx.reject_message);
}

//  rules.facts heartbeats like the other fact streams: a subscriber sees
//  rules.heartbeat every interval (200 ms here) with no event at all.
Test (rules_actor, facts_stream_heartbeats)
{
    s_start_all ();
    WAIT_FOR (s_facts_count ("rules.heartbeat", NULL) >= 3, NULL);
    cr_assert_eq (s_facts_count ("event.created", NULL), 0);
}

Test (rules_actor, rule_changes_apply_without_restart)
{
    s_start_all ();
    bus_link_t *registry = bus_link_new (
        bus_topology_connect (s_fx.topology, "registry.commands"), "admin@test", NULL);
    cr_assert_not_null (registry);
    bus_link_set_reject_handler (registry, s_on_reject, NULL);
    WAIT_FOR (s_status_int ("rules_enabled") == 4, registry);

    //  Disabled: a matching event gets nothing
    s_registry_command (registry, "registry.rule.disable", "{\"ref\": \"t.r_match\"}");
    WAIT_FOR (s_status_int ("rules_enabled") == 3, registry);
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL,
                                  "{\"kind\": \"deploy\", \"app\": \"a\", \"n\": 1, "
                                  "\"flag\": true, \"obj\": {}}",
                                  event));
    WAIT_FOR (s_facts_count ("event.created", event) == 1, registry);
    cr_assert_eq (s_status_int ("enforcements"), 0);

    //  A new rule with criteria of its own, compiled on arrival
    s_registry_command (
        registry, "registry.rule.put",
        "{\"definition\": {\"name\": \"r_new\", \"pack\": \"t\", \"trigger\": {\"type\": "
        "\"t.webhook\"}, \"criteria\": {\"trigger.payload.n\": {\"type\": "
        "\"greaterthan\", "
        "\"pattern\": 10}}, \"action\": {\"ref\": \"t.echo\", \"parameters\": "
        "{\"message\": "
        "\"n={{ trigger.payload.n }}\"}}}}");
    WAIT_FOR (s_status_int ("rules") == 6 && s_status_int ("rules_enabled") == 4,
              registry);
    char small[PROTO_UUID_STR_SIZE], big[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, "{\"n\": 5}", small));
    s_send (s_fx.sender, s_event ("\"t.webhook\"", NULL, "{\"n\": 50}", big));
    WAIT_FOR (json_array_size (s_fx.commands) == 1 &&
                  s_facts_count ("event.created", small) == 1,
              registry);
    json_t *command = json_array_get (s_fx.commands, 0);
    cr_assert_str_eq (json_string_value (json_object_get (command, "rule")), "t.r_new");
    cr_assert_str_eq (json_string_value (json_object_get (command, "event")), big);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (command, "parameters"), "message")),
                      "n=50");
    cr_assert_eq (s_facts_count ("enforcement.created", small), 0);

    //  Deleted: gone from the cache
    s_registry_command (registry, "registry.rule.delete", "{\"ref\": \"t.r_new\"}");
    WAIT_FOR (s_status_int ("rules") == 5, registry);
    bus_link_destroy (&registry);
}

//  The parameters of the command for `rule` (borrowed), or NULL.
static json_t *
s_command_parameters (const char *rule)
{
    size_t i;
    json_t *command;
    json_array_foreach (s_fx.commands, i, command)
    {
        if (s_streq (json_string_value (json_object_get (command, "rule")), rule))
            return json_object_get (command, "parameters");
    }
    return NULL;
}

Test (rules_actor, a_shell_actions_cmd_gets_values_quoted_as_one_word)
{
    s_write ("t/actions/sh.yaml", "---\nname: sh\nrunner_type: local-shell-cmd\n"
                                  "parameters:\n  cmd:\n    type: string\n"
                                  "  note:\n    type: string\n");
    const char *rules[][2] = {
        {"r_sh", "ref: t.sh\n  parameters:\n    cmd: \"ls {{ trigger.payload.msg }}\"\n"
                 "    note: \"ls {{ trigger.payload.msg }}\"\n"},
        {"r_builtin", "ref: t.echo\n  parameters:\n"
                      "    cmd: \"ls {{ trigger.payload.msg }}\"\n"},
        {"r_quoted", "ref: t.sh\n  parameters:\n"
                     "    cmd: \"ls \\\"{{ trigger.payload.msg }}\\\"\"\n"},
        {"r_comment", "ref: t.sh\n  parameters:\n"
                      "    cmd: \"ls # {{ trigger.payload.msg }}\"\n"}};
    for (size_t i = 0; i < 4; i++) {
        char path[64], text[512];
        snprintf (path, sizeof path, "t/rules/%s.yaml", rules[i][0]);
        snprintf (text, sizeof text,
                  "---\nname: %s\npack: t\ntrigger:\n  type: t.webhook\ncriteria:\n"
                  "  trigger.payload.kind: {type: equals, pattern: shell}\n"
                  "action:\n  %s",
                  rules[i][0], rules[i][1]);
        s_write (path, text);
    }
    s_start_all ();
    char event[PROTO_UUID_STR_SIZE];
    s_send (s_fx.sender,
            s_event ("\"t.webhook\"", NULL,
                     "{\"kind\": \"shell\", \"msg\": \"a b; it's\"}", event));
    WAIT_FOR (json_array_size (s_fx.commands) == 3 &&
                  s_facts_count ("enforcement.created", event) == 4,
              NULL);
    //  A shell action's cmd: one word; its other parameters as they are
    json_t *sh = s_command_parameters ("t.r_sh");
    cr_assert_str_eq (json_string_value (json_object_get (sh, "cmd")),
                      "ls 'a b; it'\\''s'");
    cr_assert_str_eq (json_string_value (json_object_get (sh, "note")), "ls a b; it's");
    //  Another runner's cmd is not a shell command
    cr_assert_str_eq (
        json_string_value (json_object_get (s_command_parameters ("t.r_builtin"), "cmd")),
        "ls a b; it's");
    //  Inside the author's "...": still one word, the same bytes
    cr_assert_str_eq (
        json_string_value (json_object_get (s_command_parameters ("t.r_quoted"), "cmd")),
        "ls \"\"'a b; it'\\''s'\"\"");
    //  Where no quoting holds, the enforcement fails with the reason
    cr_assert_null (s_command_parameters ("t.r_comment"));
    size_t i;
    json_t *fact;
    bool failed = false;
    json_array_foreach (s_fx.facts, i, fact)
    {
        json_t *payload = json_object_get (fact, "payload");
        const char *rule = json_string_value (json_object_get (payload, "rule"));
        if (!s_streq (rule, "t.r_comment"))
            continue;
        const char *reason = json_string_value (json_object_get (payload, "reason"));
        cr_assert (reason && strstr (reason, "action.parameters.cmd") &&
                       strstr (reason, "comment"),
                   "reason: %s", reason ? reason : "none");
        failed = true;
    }
    cr_assert (failed);
}

//  An event.create.batch of `count` items: each an envelope's bytes, or
//  (NULL) bytes that do not decode
static proto_envelope_t *
s_batch (proto_envelope_t **events, size_t count)
{
    msgpack_sbuffer payload, encoded;
    msgpack_sbuffer_init (&payload);
    msgpack_sbuffer_init (&encoded);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &payload, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "events", 6);
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_sbuffer_clear (&encoded);
        if (events[i])
            cr_assert_eq (proto_envelope_encode (events[i], &encoded), 0);
        else
            msgpack_sbuffer_write (&encoded, "\xc1\x00", 2);
        msgpack_pack_bin (&pk, encoded.size);
        msgpack_pack_bin_body (&pk, encoded.data, encoded.size);
        proto_envelope_destroy (&events[i]);
    }
    proto_envelope_t *batch = proto_envelope_new ("event.create.batch", "outbox@test");
    cr_assert_eq (proto_envelope_set_payload (batch, payload.data, payload.size, NULL),
                  PROTO_OK);
    msgpack_sbuffer_destroy (&payload);
    msgpack_sbuffer_destroy (&encoded);
    return batch;
}

#define S_DEPLOY                                                                         \
    "{\"kind\": \"deploy\", \"app\": \"x\", \"n\": 1, \"flag\": true, \"obj\": []}"

Test (rules_actor, a_batch_applies_each_event_as_if_it_came_alone)
{
    s_start_all ();
    char first[PROTO_UUID_STR_SIZE], second[PROTO_UUID_STR_SIZE],
        third[PROTO_UUID_STR_SIZE];
    proto_envelope_t *alone = s_event ("\"t.webhook\"", "{}", S_DEPLOY, first);
    proto_envelope_t *again = proto_envelope_dup (alone);
    s_send (s_fx.sender, alone);
    WAIT_FOR (s_facts_count ("event.created", first) == 1, NULL);
    //  A resent event, bytes that do not decode, another command, an
    //  unknown trigger type: each skipped; the two new events apply
    proto_envelope_t *other = proto_envelope_new ("enforcement.create", "outbox@test");
    proto_envelope_t *items[] = {
        s_event ("\"t.webhook\"", "{}", S_DEPLOY, second),
        again,
        NULL,
        other,
        s_event ("\"t.nope\"", "{}", "{}", NULL),
        s_event ("\"t.webhook\"", NULL, "{\"kind\": \"x\"}", third)};
    s_send (s_fx.sender, s_batch (items, 6));
    WAIT_FOR (bus_link_unacked (s_fx.sender) == 0 &&
                  s_facts_count ("event.created", third) == 1 &&
                  json_array_size (s_fx.commands) == 2,
              NULL);
    cr_expect_str_empty (s_fx.reject_code, "the batch is acked: %s", s_fx.reject_message);
    cr_expect_eq (s_status_int ("events"), 3);
    cr_expect_eq (s_status_int ("rejected"), 3);
    cr_expect_eq (s_facts_count ("event.created", first), 1, "the resent one once");
    cr_expect_eq (s_facts_count ("event.created", second), 1);
    cr_expect_eq (s_facts_count ("enforcement.created", second), 1);
    cr_expect_eq (s_facts_count ("enforcement.created", third), 0);
    //  A batch of no events, or of something else than envelopes' bytes, is
    //  refused whole
    s_send (s_fx.sender, s_batch (NULL, 0));
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_expect_str_eq (s_fx.reject_code, "bad_request");
    cr_expect (strstr (s_fx.reject_message, "events"), "%s", s_fx.reject_message);
    s_fx.reject_code[0] = 0;
    proto_envelope_t *strings = proto_envelope_new ("event.create.batch", "outbox@test");
    json_t *body = json_pack ("{s:[s]}", "events", "not bytes");
    cr_assert_eq (proto_envelope_set_payload_json (strings, body, NULL), PROTO_OK);
    json_decref (body);
    s_send (s_fx.sender, strings);
    WAIT_FOR (s_fx.reject_code[0], NULL);
    cr_expect_str_eq (s_fx.reject_code, "bad_request");
    cr_expect_eq (s_status_int ("events"), 3);
}
