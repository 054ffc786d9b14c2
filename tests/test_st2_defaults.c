/*  test_st2_defaults: Jinja in action parameter defaults, as StackStorm
    renders them when the execution is created (registry, rules, executor,
    worker in one process): StackStorm's own core.echo from the corpus
    (../shared/st2-packs), defaults that read other parameters,
    action_context and config_context, in the order of what reads what;
    a cycle and an undefined name are errors naming them; values given are
    data, never rendered. */
#include "tests/testing_st2.h"

#define CORPUS ATTUNE_SHARED_DIR "/st2-packs"

static testing_st2_t s_st2;

static void
s_setup (void)
{
    testing_st2_init (&s_st2, "test_st2_defaults", "st2df", 0);
}

static void
s_teardown (void)
{
    testing_st2_fini (&s_st2);
}

TestSuite (st2_defaults, .init = s_setup, .fini = s_teardown, .timeout = 60);

Test (st2_defaults, stackstorms_core_echo_renders_its_cmd_with_the_message)
{
    //  StackStorm's own core pack definitions (no scripts needed for echo)
    char command[PATH_MAX * 3];
    snprintf (command, sizeof command, "cp -r '%s/core' '%s/core'", CORPUS, s_st2.packs);
    cr_assert_eq (system (command), 0);
    char marker[PATH_MAX + 16];
    snprintf (marker, sizeof marker, "%s/pwned", s_st2.root);
    testing_st2_rule (&s_st2, "echo", "core.echo",
                      "    message: \"{{ trigger.payload.text }}\"\n");
    testing_st2_start (&s_st2);
    json_t *done = testing_st2_run (&s_st2, "echo", json_pack ("{s:s}", "text", "hello"));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed",
                      "%s", testing_st2_error (done) ? testing_st2_error (done) : "");
    cr_assert_str_eq (testing_st2_stdout (done), "hello");
    json_decref (done);
    //  the message is one word inside the author's "...", whatever it holds
    char text[PATH_MAX * 3];
    snprintf (text, sizeof text, "a \"$(touch %s)\" `touch %s`; {{ x }}", marker, marker);
    done = testing_st2_run (&s_st2, "echo", json_pack ("{s:s}", "text", text));
    cr_assert_str_eq (testing_st2_stdout (done), text);
    struct stat st;
    cr_assert_neq (stat (marker, &st), 0, "the message ran nothing");
    json_decref (done);
}

Test (st2_defaults, defaults_read_parameters_action_and_config_context_in_order)
{
    testing_st2_write (
        &s_st2, "test/config.schema.yaml",
        "api_url:\n  type: string\n  required: true\n"
        "token:\n  type: string\n  secret: true\n  default: s3cr3t-token\n");
    testing_write (s_st2.root, "configs/test.yaml", "api_url: http://example.test\n");
    //  declared in an order that is not the order of rendering
    testing_st2_write (
        &s_st2, "test/actions/show.yaml",
        "name: show\nrunner_type: local-shell-cmd\nparameters:\n"
        "  cmd:\n    type: string\n    immutable: true\n"
        "    default: 'echo {{ line }} {{ count }}'\n"
        "  line:\n    type: string\n    default: '{{ greeting }} at {{ url }}'\n"
        "  greeting:\n    type: string\n    default: 'hello {{ who }}'\n"
        "  who:\n    type: string\n    default: '{{ action_context.user }}'\n"
        "  url:\n    type: string\n    default: '{{ config_context.api_url }}/v1'\n"
        "  count:\n    type: integer\n    default: '{{ n * 2 }}'\n"
        "  n:\n    type: integer\n    default: 2\n"
        "  label:\n    type: string\n    default: '{{ n }}'\n");
    testing_st2_rule (&s_st2, "show", "test.show",
                      "    n: \"{{ trigger.payload.n }}\"\n");
    testing_st2_rule (&s_st2, "given", "test.show",
                      "    who: \"{{ trigger.payload.who }}\"\n");
    testing_st2_start (&s_st2);
    json_t *done = testing_st2_run (&s_st2, "show", json_pack ("{s:i}", "n", 21));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed",
                      "%s", testing_st2_error (done) ? testing_st2_error (done) : "");
    cr_assert_str_eq (testing_st2_stdout (done),
                      "hello attune at http://example.test/v1 42");
    json_decref (done);
    //  a value given is data: "{{ n }}" from an event is not rendered again
    done = testing_st2_run (&s_st2, "given", json_pack ("{s:s}", "who", "{{ n }}"));
    cr_assert_str_eq (testing_st2_stdout (done),
                      "hello {{ n }} at http://example.test/v1 4");
    json_decref (done);
}

Test (st2_defaults, a_cycle_and_an_undefined_name_are_errors_naming_them)
{
    testing_st2_write (&s_st2, "test/actions/cycle.yaml",
                       "name: cycle\nrunner_type: local-shell-cmd\nparameters:\n"
                       "  cmd:\n    type: string\n    default: 'echo {{ a }}'\n"
                       "  a:\n    type: string\n    default: '{{ b }}'\n"
                       "  b:\n    type: string\n    default: 'x{{ a }}'\n");
    testing_st2_write (
        &s_st2, "test/actions/unknown.yaml",
        "name: unknown\nrunner_type: local-shell-cmd\nparameters:\n"
        "  cmd:\n    type: string\n    default: 'echo {{ nope }}'\n"
        "  fine:\n    type: string\n    default: \"{{ nope | default('d') }}\"\n");
    testing_st2_write (&s_st2, "test/actions/typed.yaml",
                       "name: typed\nrunner_type: local-shell-cmd\nparameters:\n"
                       "  cmd:\n    type: string\n    default: 'echo {{ n }}'\n"
                       "  n:\n    type: integer\n    default: '{{ word }}'\n"
                       "  word:\n    type: string\n    default: abc\n");
    testing_st2_rule (&s_st2, "cycle", "test.cycle", "");
    testing_st2_rule (&s_st2, "unknown", "test.unknown", "");
    testing_st2_rule (&s_st2, "typed", "test.typed", "");
    testing_st2_start (&s_st2);
    json_t *done = testing_st2_run (&s_st2, "cycle", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    cr_assert (testing_st2_error (done) &&
                   strstr (testing_st2_error (done), "parameters a, b, cmd"),
               "the cycle named: %s", testing_st2_error (done));
    json_decref (done);
    done = testing_st2_run (&s_st2, "unknown", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    cr_assert (testing_st2_error (done) &&
                   strstr (testing_st2_error (done), "parameter 'cmd' default") &&
                   strstr (testing_st2_error (done), "nope"),
               "the name and the parameter: %s", testing_st2_error (done));
    json_decref (done);
    done = testing_st2_run (&s_st2, "typed", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    cr_assert (testing_st2_error (done) &&
                   strstr (testing_st2_error (done), "parameter 'n'"),
               "%s", testing_st2_error (done));
    json_decref (done);
}

Test (st2_defaults, a_config_secret_only_into_a_secret_parameter)
{
    testing_st2_write (
        &s_st2, "test/config.schema.yaml",
        "token:\n  type: string\n  secret: true\n  default: s3cr3t-token\n");
    testing_st2_write (
        &s_st2, "test/actions/leak.yaml",
        "name: leak\nrunner_type: local-shell-cmd\nparameters:\n"
        "  cmd:\n    type: string\n    default: 'echo {{ config_context.token }}'\n");
    testing_st2_write (
        &s_st2, "test/actions/kept.yaml",
        "name: kept\nrunner_type: local-shell-cmd\nparameters:\n"
        "  cmd:\n    type: string\n    default: 'test -n \"$T\" && echo set'\n"
        "  token:\n    type: string\n    secret: true\n"
        "    default: '{{ config_context.token }}'\n");
    testing_st2_rule (&s_st2, "leak", "test.leak", "");
    testing_st2_rule (&s_st2, "kept", "test.kept", "");
    testing_st2_start (&s_st2);
    json_t *done = testing_st2_run (&s_st2, "leak", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    cr_assert (testing_st2_error (done) &&
                   strstr (testing_st2_error (done), "secret: true") &&
                   !strstr (testing_st2_error (done), "s3cr3t"),
               "%s", testing_st2_error (done));
    char *text = json_dumps (done, 0);
    cr_assert_null (strstr (text, "s3cr3t"), "never in a fact: %s", text);
    free (text);
    json_decref (done);
    done = testing_st2_run (&s_st2, "kept", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed",
                      "$T is not set: the token is a parameter, not env");
    text = json_dumps (done, 0);
    cr_assert_null (strstr (text, "s3cr3t"), "never in a fact: %s", text);
    free (text);
    json_decref (done);
}
