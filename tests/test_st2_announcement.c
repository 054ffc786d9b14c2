/*  test_st2_announcement: the announcement runner as StackStorm's
    (core.announcement): refused without `experimental`; otherwise the
    event core.st2.announcement {route, payload, execution} through rules'
    event.create, so a rule on it fires, and StackStorm's result (the
    parameters, again under `output`). */
#include "tests/testing_st2.h"

static testing_st2_t s_st2;

static void
s_setup (void)
{
    testing_st2_init (&s_st2, "test_st2_announcement", "st2an", TESTING_ST2_CORE);
}

static void
s_teardown (void)
{
    testing_st2_fini (&s_st2);
}

TestSuite (st2_announcement, .init = s_setup, .fini = s_teardown, .timeout = 60);

Test (st2_announcement, an_announcement_is_an_event_rules_act_on)
{
    testing_st2_rule (
        &s_st2, "announce", "core.announcement",
        "    route: ops\n    message:\n      text: \"{{ trigger.payload.text }}\"\n");
    //  a rule on the announcement, as on any trigger
    testing_st2_write (
        &s_st2, "test/rules/heard.yaml",
        "name: heard\npack: test\ntrigger:\n  type: core.st2.announcement\n"
        "criteria:\n  trigger.payload.route: {type: equals, pattern: ops}\n"
        "action:\n  ref: core.local\n  parameters:\n"
        "    cmd: \"echo heard {{ trigger.payload.payload.message.text }}\"\n");
    testing_st2_write (
        &s_st2, "test/actions/muted.yaml",
        "name: muted\nrunner_type: announcement\nparameters:\n"
        "  experimental:\n    default: false\n  note:\n    type: string\n");
    testing_st2_rule (&s_st2, "muted", "test.muted", "    note: hi\n");
    testing_st2_start (&s_st2);
    json_t *done =
        testing_st2_run (&s_st2, "announce", json_pack ("{s:s}", "text", "deploy; done"));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed",
                      "%s", testing_st2_error (done) ? testing_st2_error (done) : "");
    json_t *result = json_object_get (done, "result");
    cr_assert_str_eq (
        json_string_value (json_object_get (json_object_get (result, "message"), "text")),
        "deploy; done");
    cr_assert_str_eq (
        json_string_value (json_object_get (
            json_object_get (json_object_get (result, "output"), "message"), "text")),
        "deploy; done");
    cr_assert_null (json_object_get (result, "route"),
                    "the runner's parameters left out");
    cr_assert_null (json_object_get (result, "experimental"));
    json_decref (done);
    //  the rule on core.st2.announcement ran
    done = testing_st2_wait (&s_st2, "rule", "test.heard", 10000);
    cr_assert_not_null (done, "no end of test.heard");
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    cr_assert_str_eq (testing_st2_stdout (done), "heard deploy; done");
    json_decref (done);
    //  StackStorm's pre_run: without the experimental flag, refused
    done = testing_st2_run (&s_st2, "muted", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    cr_assert (testing_st2_error (done) &&
                   strstr (testing_st2_error (done),
                           "Experimental flag is missing for action test.muted"),
               "%s", testing_st2_error (done));
    json_decref (done);
}
