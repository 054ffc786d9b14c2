/*  test_st2_shell: StackStorm's shell runners end to end (registry, rules,
    executor, worker in one process): local-shell-cmd runs `cmd` with bash
    -c while event data a rule inserts stays one quoted word; action names
    with dots; local-shell-script's positional and --name=value arguments;
    results as StackStorm's. */
#include "tests/testing_st2.h"
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>

static testing_st2_t s_st2;

static void
s_setup (void)
{
    testing_st2_init (&s_st2, "test_st2_shell", "st2sh",
                      TESTING_ST2_CORE | TESTING_ST2_SENSOR);
}

static void
s_teardown (void)
{
    testing_st2_fini (&s_st2);
}

TestSuite (st2_shell, .init = s_setup, .fini = s_teardown, .timeout = 60);

Test (st2_shell, event_data_in_a_cmd_runs_nothing_but_the_intended_command)
{
    char marker[PATH_MAX + 16];
    snprintf (marker, sizeof marker, "%s/pwned", s_st2.root);
    //  the author's pipe and `;` are shell; the event's text is one word
    testing_st2_rule (
        &s_st2, "inject", "core.local",
        "    cmd: \"printf '%s|' {{ trigger.payload.text }} | tr a-z A-Z; echo "
        "end\"\n");
    testing_st2_start (&s_st2);
    char text[PATH_MAX * 6];
    snprintf (text, sizeof text,
              "a $(touch %s) `touch %s` ; touch %s\ntouch %s && touch %s | x '\" \\",
              marker, marker, marker, marker, marker);
    json_t *done = testing_st2_run (&s_st2, "inject", json_pack ("{s:s}", "text", text));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    json_t *result = json_object_get (done, "result");
    const char *out = json_string_value (json_object_get (result, "stdout"));
    cr_assert_not_null (out);
    //  one argument, upper-cased by the author's pipe, then the author's echo
    char expect[PATH_MAX * 6 + 16];
    size_t n = 0;
    for (const char *p = text; *p; p++)
        expect[n++] = (char)toupper ((unsigned char)*p);
    snprintf (expect + n, sizeof expect - n, "|end");
    cr_assert_str_eq (out, expect);
    struct stat st;
    cr_assert_neq (stat (marker, &st), 0, "the event's text ran nothing");
    cr_assert (json_is_true (json_object_get (result, "succeeded")));
    cr_assert (json_is_false (json_object_get (result, "failed")));
    cr_assert_eq (json_integer_value (json_object_get (result, "return_code")), 0);
    json_decref (done);
}

Test (st2_shell, core_local_is_bash_and_results_are_stackstorms)
{
    testing_st2_rule (&s_st2, "local", "core.local",
                      "    cmd: \"echo hi; echo '{\\\"a\\\": [1, 2]}' | cat\"\n");
    testing_st2_rule (&s_st2, "json", "core.local",
                      "    cmd: \"echo '{\\\"a\\\": [1, 2]}'; echo oops >&2; exit 3\"\n");
    testing_st2_start (&s_st2);
    json_t *done = testing_st2_run (&s_st2, "local", json_object ());
    json_t *result = json_object_get (done, "result");
    cr_assert_str_eq (json_string_value (json_object_get (result, "stdout")),
                      "hi\n{\"a\": [1, 2]}", "not JSON as a whole: kept as text");
    json_decref (done);
    done = testing_st2_run (&s_st2, "json", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "failed");
    result = json_object_get (done, "result");
    cr_assert_eq (
        json_array_size (json_object_get (json_object_get (result, "stdout"), "a")), 2,
        "stdout that is JSON is parsed");
    cr_assert_str_eq (json_string_value (json_object_get (result, "stderr")), "oops");
    cr_assert_eq (json_integer_value (json_object_get (result, "return_code")), 3);
    cr_assert (json_is_true (json_object_get (result, "failed")));
    cr_assert (json_is_false (json_object_get (result, "succeeded")));
    json_decref (done);
}

Test (st2_shell, dotted_names_and_script_arguments_as_stackstorm)
{
    //  chat.postMessage: the ref test.chat.postMessage splits at the first dot
    testing_st2_write (&s_st2, "test/actions/chat.postMessage.yaml",
                       "name: chat.postMessage\nrunner_type: local-shell-script\n"
                       "entry_point: args.sh\nparameters:\n"
                       "  first:\n    type: string\n    position: 0\n"
                       "  flag:\n    type: boolean\n    default: true\n"
                       "  quiet:\n    type: boolean\n    default: false\n"
                       "  name:\n    type: string\n"
                       "  empty:\n    type: string\n    default: ''\n"
                       "  n:\n    type: integer\n    default: 3\n"
                       "  third:\n    type: array\n    position: 2\n"
                       "  second:\n    type: boolean\n    position: 1\n"
                       "  timeout:\n    default: 20\n");
    testing_st2_write (&s_st2, "test/actions/args.sh",
                       "#!/bin/sh\nprintf '<%s>' \"$@\"\n");
    char script[PATH_MAX + 64];
    snprintf (script, sizeof script, "%s/test/actions/args.sh", s_st2.packs);
    cr_assert_eq (chmod (script, 0755), 0);
    testing_st2_rule (&s_st2, "args", "test.chat.postMessage",
                      "    first: \"{{ trigger.payload.first }}\"\n    name: x y\n"
                      "    second: true\n    third: [p, q]\n");
    testing_st2_start (&s_st2);
    json_t *done =
        testing_st2_run (&s_st2, "args", json_pack ("{s:s}", "first", "a b;$(c)"));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    cr_assert_str_eq (json_string_value (json_object_get (done, "action")),
                      "test.chat.postMessage");
    json_t *result = json_object_get (done, "result");
    //  named (declaration order; true alone, false and "" left out), then
    //  positional in order (booleans 1/0, lists joined with ','); the
    //  runner's parameters (timeout, kwarg_op ...) are not arguments
    cr_assert_str_eq (json_string_value (json_object_get (result, "stdout")),
                      "<--flag><--name=x y><--n=3><a b;$(c)><1><p,q>");
    json_decref (done);
}

Test (st2_shell, sudo_password_reaches_sudo_on_stdin_only)
{
    //  a stand-in sudo first on PATH: records what it was given, then runs
    //  the command after "--" with the rest of stdin, as sudo -S does
    char bin[PATH_MAX], script[PATH_MAX * 4];
    snprintf (bin, sizeof bin, "%s/bin", s_st2.root);
    mkdir (bin, 0750);
    snprintf (script, sizeof script,
              "#!/bin/sh\nIFS= read -r password\n"
              "printf '%%s' \"$password\" > '%s/password'\n"
              "printf '%%s\\n' \"$*\" > '%s/argv'\n"
              "while [ \"$#\" -gt 0 ] && [ \"$1\" != \"--\" ]; do shift; done\n"
              "shift\nexec \"$@\"\n",
              s_st2.root, s_st2.root);
    testing_write (bin, "sudo", script);
    char sudo[PATH_MAX + 8];
    snprintf (sudo, sizeof sudo, "%s/sudo", bin);
    cr_assert_eq (chmod (sudo, 0755), 0);
    char path[PATH_MAX * 2];
    snprintf (path, sizeof path, "%s:%s", bin,
              getenv ("PATH") ? getenv ("PATH") : "/bin");
    setenv ("PATH", path, 1);
    char rule[PATH_MAX * 2];
    snprintf (rule, sizeof rule,
              "    cmd: \"env > %s/env; cat\"\n    sudo_password: \"pw-S3cret 'x\"\n",
              s_st2.root);
    testing_st2_rule (&s_st2, "sudo", "core.local_sudo", rule);
    testing_st2_start (&s_st2);
    json_t *done = testing_st2_run (&s_st2, "sudo", json_object ());
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed");
    json_t *result = json_object_get (done, "result");
    cr_assert (json_is_object (json_object_get (result, "stdout")),
               "the command reads the parameters after the password line");
    char file[PATH_MAX + 16];
    snprintf (file, sizeof file, "%s/password", s_st2.root);
    char *text = testing_read (file);
    cr_assert_str_eq (text, "pw-S3cret 'x", "sudo read the password on stdin");
    free (text);
    snprintf (file, sizeof file, "%s/argv", s_st2.root);
    text = testing_read (file);
    cr_assert_eq (strncmp (text, "-S -p  -E -- bash -c env > ", 27), 0, "%s", text);
    cr_assert_null (strstr (text, "S3cret"), "not in argv: %s", text);
    free (text);
    snprintf (file, sizeof file, "%s/env", s_st2.root);
    text = testing_read (file);
    cr_assert_null (strstr (text, "S3cret"), "not in the environment: %s", text);
    free (text);
    text = json_dumps (done, 0);
    cr_assert_null (strstr (text, "S3cret"), "not in the facts: %s", text);
    free (text);
    json_decref (done);
}

Test (st2_shell, a_nodejs_action_gets_json_on_stdin_and_returns_json)
{
    if (access ("/usr/bin/node", X_OK) != 0 && access ("/usr/local/bin/node", X_OK) != 0)
        cr_skip_test ("needs node (Debian's nodejs)");
    testing_st2_write (
        &s_st2, "test/actions/add.yaml",
        "name: add\nrunner_type: nodejs\nentry_point: add.js\nparameters:\n"
        "  a:\n    type: integer\n  b:\n    type: integer\n    default: 2\n");
    testing_st2_write (
        &s_st2, "test/actions/add.js",
        "let t = '';\nprocess.stdin.on('data', d => t += d);\n"
        "process.stdin.on('end', () => {\n  const p = JSON.parse(t);\n"
        "  console.log(JSON.stringify({sum: p.a + p.b, keys: Object.keys(p)}));\n"
        "});\n");
    testing_st2_rule (&s_st2, "node", "test.add", "    a: \"{{ trigger.payload.a }}\"\n");
    testing_st2_start (&s_st2);
    json_t *done = testing_st2_run (&s_st2, "node", json_pack ("{s:i}", "a", 40));
    cr_assert_str_eq (json_string_value (json_object_get (done, "status")), "completed",
                      "%s", json_dumps (done, 0));
    json_t *result = json_object_get (json_object_get (done, "result"), "result");
    cr_assert_eq (json_integer_value (json_object_get (result, "sum")), 42);
    //  the action's parameters, not the runner's (env, timeout)
    cr_assert_eq (json_array_size (json_object_get (result, "keys")), 2, "%s",
                  json_dumps (result, 0));
    json_decref (done);
}
