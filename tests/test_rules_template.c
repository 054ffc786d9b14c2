/*  rules_template: sandboxed parameter rendering. */
#include <criterion/criterion.h>
#include <string.h>
#include "actors/rules/rules_template.h"

static json_t *s_context;

static void
s_setup (void)
{
    s_context =
        json_loads ("{\"trigger\": {\"type\": \"core.webhook\", \"payload\": "
                    "{\"n\": 3, \"host\": \"web1\", \"ok\": true, \"ratio\": 0.5, "
                    "\"m\": {\"a\": [1, 2, {\"b\": \"deep\"}]}, \"a.b\": 5, "
                    "\"nothing\": null}}, \"event\": {\"id\": \"17\"}, "
                    "\"rule\": {\"ref\": \"ops.restart\"}}",
                    0, NULL);
    cr_assert_not_null (s_context);
}

static void
s_teardown (void)
{
    json_decref (s_context);
}

static json_t *
s_render (const char *text, char *message)
{
    json_t *value = json_string (text);
    json_t *result =
        rules_template_render (value, s_context, "parameters.p", message, 512);
    json_decref (value);
    return result;
}

#define EXPECT_JSON(text, expected)                                                      \
    do {                                                                                 \
        char message_[512] = "";                                                         \
        json_t *got_ = s_render (text, message_);                                        \
        cr_assert_not_null (got_, "%s: %s", text, message_);                             \
        json_t *want_ = json_loads (expected, JSON_DECODE_ANY, NULL);                    \
        char *dump_ = json_dumps (got_, JSON_ENCODE_ANY);                                \
        cr_expect (json_equal (got_, want_), "%s rendered %s, expected %s", text, dump_, \
                   expected);                                                            \
        free (dump_);                                                                    \
        json_decref (got_);                                                              \
        json_decref (want_);                                                             \
    } while (0)

#define EXPECT_ERROR(text, fragment)                                                     \
    do {                                                                                 \
        char message_[512] = "";                                                         \
        json_t *got_ = s_render (text, message_);                                        \
        cr_expect_null (got_, "%s rendered", text);                                      \
        json_decref (got_);                                                              \
        cr_expect (strstr (message_, fragment) != NULL, "%s: '%s' lacks '%s'", text,     \
                   message_, fragment);                                                  \
    } while (0)

TestSuite (rules_template, .init = s_setup, .fini = s_teardown);

Test (rules_template, single_expression_keeps_type)
{
    EXPECT_JSON ("{{ trigger.payload.n }}", "3");
    EXPECT_JSON ("{{trigger.payload.ok}}", "true");
    EXPECT_JSON ("{{ trigger.payload.ratio }}", "0.5");
    EXPECT_JSON ("{{ trigger.payload.m }}", "{\"a\": [1, 2, {\"b\": \"deep\"}]}");
    EXPECT_JSON ("  {{ trigger.payload.m.a }}  ", "[1, 2, {\"b\": \"deep\"}]");
    EXPECT_JSON ("{{ trigger.payload.nothing }}", "null");
    EXPECT_JSON ("{{ trigger.payload.m.a[2].b }}", "\"deep\"");
    EXPECT_JSON ("{{ trigger.payload[\"a.b\"] }}", "5");
}

Test (rules_template, interpolation_makes_text)
{
    EXPECT_JSON ("n={{ trigger.payload.n }} on {{ trigger.payload.host }}",
                 "\"n=3 on web1\"");
    //  Jinja writes a value into text as Python's str() does (StackStorm's)
    EXPECT_JSON ("m={{ trigger.payload.m.a }}", "\"m=[1, 2, {'b': 'deep'}]\"");
    EXPECT_JSON ("ok={{ trigger.payload.ok }}", "\"ok=True\"");
    EXPECT_JSON ("m={{ trigger.payload.m.a | json }}",
                 "\"m=[1,2,{\\\"b\\\":\\\"deep\\\"}]\"");
    EXPECT_JSON ("event {{ event.id }} by {{ rule.ref }}", "\"event 17 by ops.restart\"");
    EXPECT_JSON ("no templates here", "\"no templates here\"");
}

Test (rules_template, stackstorm_alias_trigger_x)
{
    EXPECT_JSON ("{{ trigger.host }}", "\"web1\"");
    EXPECT_JSON ("{{ trigger.type }}", "\"core.webhook\"");
}

Test (rules_template, missing_keys_and_default)
{
    EXPECT_ERROR ("{{ trigger.payload.absent }}",
                  "trigger.payload.absent is not defined");
    EXPECT_ERROR ("x {{ trigger.payload.m.a[9] }}", "is not defined");
    EXPECT_JSON ("{{ trigger.payload.absent | default(7) }}", "7");
    EXPECT_JSON ("{{ trigger.payload.absent | default('a b') }}", "\"a b\"");
    EXPECT_JSON ("{{ trigger.payload.absent | default(\"x\") | upper }}", "\"X\"");
    //  Jinja's default replaces an undefined value; null only with true
    EXPECT_JSON ("{{ trigger.payload.nothing | default(false) }}", "null");
    EXPECT_JSON ("{{ trigger.payload.nothing | default(false, true) }}", "false");
    EXPECT_JSON ("{{ trigger.payload.n | default(9) }}", "3");
}

Test (rules_template, filters)
{
    EXPECT_JSON ("{{ event.id | int }}", "17");
    EXPECT_JSON ("{{ trigger.payload.n | string }}", "\"3\"");
    EXPECT_JSON ("{{ trigger.payload.n | float }}", "3.0");
    EXPECT_JSON ("{{ trigger.payload.host | upper }}", "\"WEB1\"");
    EXPECT_JSON ("{{ trigger.payload.m | json }}",
                 "\"{\\\"a\\\":[1,2,{\\\"b\\\":\\\"deep\\\"}]}\"");
    EXPECT_JSON ("{{ trigger.payload.n | bool }}", "true");
    EXPECT_JSON ("{{ trigger.payload.host | int }}",
                 "0"); //  Jinja's int: 0 when not a number
    EXPECT_JSON ("{{ trigger.payload.host | int(-1) }}", "-1");
    EXPECT_ERROR ("{{ trigger.payload.n | shell }}", "unknown filter 'shell'");
}

Test (rules_template, cannot_execute_code)
{
    EXPECT_ERROR ("{{ __import__('os').system('id') }}", "calls are not allowed");
    EXPECT_ERROR ("{{ ''.__class__.__mro__ }}", "''.__class__ is not defined");
    EXPECT_ERROR ("{{ trigger.payload.host.upper() }}", "calls are not allowed");
    EXPECT_ERROR ("{{ config.items() }}", "config is not defined");
    EXPECT_ERROR ("{{ }}", "line 1 column 4: expected an expression");
    EXPECT_ERROR ("{{ trigger.payload.n", "missing '}}'");
    //  Shell metacharacters are plain data
    EXPECT_JSON ("$(touch /tmp/x); `id` {{ trigger.payload.host }}",
                 "\"$(touch /tmp/x); `id` web1\"");
}

Test (rules_template, full_jinja)
{
    EXPECT_JSON ("{{ trigger.payload.n + 1 }}", "4");
    EXPECT_JSON ("{{ trigger.payload.m.a | length }}", "3");
    EXPECT_JSON ("{% for i in trigger.payload.m.a[:2] %}{{ i }};{% endfor %}",
                 "\"1;2;\"");
    EXPECT_JSON ("{% if trigger.host == 'web1' %}yes{% else %}no{% endif %}", "\"yes\"");
    EXPECT_JSON ("{{ trigger.host | regex_replace('(\\\\d)', '-\\\\1') }}", "\"web-1\"");
    EXPECT_JSON ("{{ trigger.payload.host is defined and trigger.zzz is not defined }}",
                 "true");
    EXPECT_ERROR (
        "line\n{{ trigger.payload.zzz }}",
        "template 'parameters.p' line 2 column 4: trigger.payload.zzz is not defined");
}

Test (rules_template, renders_nested_parameters_and_checks_syntax)
{
    json_t *params =
        json_loads ("{\"cmd\": \"echo {{ trigger.payload.host }}\", \"n\": "
                    "\"{{ trigger.payload.n }}\", \"list\": [\"{{ event.id }}\", 5], "
                    "\"fixed\": 1.5}",
                    0, NULL);
    char message[512] = "";
    json_t *out =
        rules_template_render (params, s_context, "parameters", message, sizeof message);
    cr_assert_not_null (out, "%s", message);
    json_t *want =
        json_loads ("{\"cmd\": \"echo web1\", \"n\": 3, \"list\": [\"17\", 5], "
                    "\"fixed\": 1.5}",
                    0, NULL);
    cr_expect (json_equal (out, want));
    json_decref (out);
    json_decref (want);
    cr_expect_eq (rules_template_check (params, "parameters", message, sizeof message),
                  0);
    json_decref (params);

    json_t *bad = json_loads ("{\"a\": {\"b\": [\"ok\", \"{{ x | nope }}\"]}}", 0, NULL);
    out = rules_template_render (bad, s_context, "parameters", message, sizeof message);
    cr_expect_null (out);
    cr_expect_eq (rules_template_check (bad, "parameters", message, sizeof message), -1);
    cr_expect (strstr (message, "parameters.a.b[1]") != NULL, "%s", message);
    json_decref (bad);
}

//  ---------------------------------------------------------------------------
//  Shell commands: an inserted value is one word, whatever it holds

//  Values an event could send, each to come out as exactly one word
static const char *const s_hostile[] = {"a b",
                                        "x -o -exec touch PWNED ;",
                                        "x -o -exec touch PWNED \\;",
                                        "a;b && touch PWNED | cat",
                                        "it's",
                                        "'",
                                        "''",
                                        "a'\\''b",
                                        "say \"hi\"",
                                        "\"'\"'",
                                        "$(touch PWNED)",
                                        "`touch PWNED`",
                                        "${HOME} $HOME",
                                        "line\nnext\n",
                                        "back\\slash",
                                        "\\",
                                        "trailing\\",
                                        "",
                                        " ",
                                        "*",
                                        "#not a comment",
                                        "-n",
                                        "}} {{",
                                        NULL};

//  Render `text` as a shell command with trigger.payload.v = `value`.
//  Caller frees; NULL with `message` set on failure.
static char *
s_shell (const char *text, const char *value, char *message)
{
    json_t *context =
        json_pack ("{s:{s:{s:s, s:i}}}", "trigger", "payload", "v", value, "n", 3);
    json_t *out =
        rules_template_render_shell (text, context, "parameters.cmd", message, 512);
    json_decref (context);
    char *line = out ? strdup (json_string_value (out)) : NULL;
    json_decref (out);
    return line;
}

#define EXPECT_SHELL(text, value, expected)                                              \
    do {                                                                                 \
        char message_[512] = "";                                                         \
        char *got_ = s_shell (text, value, message_);                                    \
        cr_assert_not_null (got_, "%s: %s", text, message_);                             \
        cr_expect_str_eq (got_, expected, "%s rendered [%s]", text, got_);               \
        free (got_);                                                                     \
    } while (0)

#define EXPECT_SHELL_ERROR(text, fragment)                                               \
    do {                                                                                 \
        char message_[512] = "";                                                         \
        char *got_ = s_shell (text, "x", message_);                                      \
        cr_expect_null (got_, "%s rendered [%s]", text, got_);                           \
        free (got_);                                                                     \
        cr_expect (strstr (message_, fragment) != NULL, "%s: '%s' lacks '%s'", text,     \
                   message_, fragment);                                                  \
    } while (0)

Test (rules_template, shell_quote_is_one_posix_word)
{
    char *q = rules_template_shell_quote ("it's $(x) \"y\"");
    cr_assert_str_eq (q, "'it'\\''s $(x) \"y\"'");
    free (q);
    q = rules_template_shell_quote ("");
    cr_assert_str_eq (q, "''");
    free (q);
    q = rules_template_shell_quote ("''");
    cr_assert_str_eq (q, "''\\'''\\'''");
    free (q);
}

Test (rules_template, shell_command_quotes_inserted_values_for_their_context)
{
    //  Outside quotes: one '...' word
    EXPECT_SHELL ("find /d -name {{ trigger.payload.v }}", "x -o -exec touch PWNED ;",
                  "find /d -name 'x -o -exec touch PWNED ;'");
    EXPECT_SHELL ("echo {{ trigger.payload.v }}", "it's", "echo 'it'\\''s'");
    EXPECT_SHELL ("echo {{ trigger.payload.v }}", "", "echo ''");
    EXPECT_SHELL ("echo a{{ trigger.payload.v }}b", "1 2", "echo a'1 2'b");
    //  Inside "...": close the author's quotes, one '...', reopen
    EXPECT_SHELL ("echo \"<{{ trigger.payload.v }}>\"", "a \"b\" $(c)",
                  "echo \"<\"'a \"b\" $(c)'\">\"");
    EXPECT_SHELL ("echo \"$HOME{{ trigger.payload.v }}\"", "x", "echo \"$HOME\"'x'\"\"");
    //  Inside '...': stays inside, each ' as '\''
    EXPECT_SHELL ("echo '<{{ trigger.payload.v }}>'", "it's", "echo '<it'\\''s>'");
    EXPECT_SHELL ("echo '\\{{ trigger.payload.v }}'", "x", "echo '\\x'");
    //  Types are not kept, a lone expression is text; no expression, no change
    EXPECT_SHELL ("{{ trigger.payload.n }}", "x", "'3'");
    EXPECT_SHELL ("  {{ trigger.payload.v }}", "ls -l", "  'ls -l'");
    EXPECT_SHELL ("echo \"$(date)\" `id` #", "x", "echo \"$(date)\" `id` #");
    //  Constructs that stay followable
    EXPECT_SHELL ("echo $(basename {{ trigger.payload.v }})", "a b",
                  "echo $(basename 'a b')");
    EXPECT_SHELL ("echo ${HOME}/{{ trigger.payload.v }}", "a", "echo ${HOME}/'a'");
    EXPECT_SHELL ("true # c\necho {{ trigger.payload.v }}", "a", "true # c\necho 'a'");
    EXPECT_SHELL ("echo a#{{ trigger.payload.v }}", "b", "echo a#'b'");
}

Test (rules_template, shell_command_refuses_contexts_it_cannot_quote_for)
{
    EXPECT_SHELL_ERROR ("echo #{{ trigger.payload.v }}", "inside a # comment");
    EXPECT_SHELL_ERROR ("echo ok; #{{ trigger.payload.v }}", "inside a # comment");
    EXPECT_SHELL_ERROR ("echo `echo {{ trigger.payload.v }}`", "after a backquote");
    EXPECT_SHELL_ERROR ("echo \"$(echo '{{ trigger.payload.v }}')\"", "after ${");
    EXPECT_SHELL_ERROR ("echo ${X:-{{ trigger.payload.v }}}", "after ${");
    EXPECT_SHELL_ERROR ("echo $(({{ trigger.payload.v }} + 1))", "after ${");
    EXPECT_SHELL_ERROR ("echo $'{{ trigger.payload.v }}'", "after ${");
    EXPECT_SHELL_ERROR ("cat <<EOF\n{{ trigger.payload.v }}\nEOF", "here-document");
    EXPECT_SHELL_ERROR ("(( {{ trigger.payload.v }} > 1 ))", "after (( or [[");
    EXPECT_SHELL_ERROR ("[[ {{ trigger.payload.v }} -eq 1 ]]", "after (( or [[");
    EXPECT_SHELL_ERROR ("echo \\{{ trigger.payload.v }}", "right after a backslash");
    EXPECT_SHELL_ERROR ("echo \"\\{{ trigger.payload.v }}\"", "right after a backslash");
    EXPECT_SHELL_ERROR ("echo ${{ trigger.payload.v }}", "right after a '$'");
    EXPECT_SHELL_ERROR ("echo \"${{ trigger.payload.v }}\"", "right after a '$'");
    EXPECT_SHELL_ERROR ("echo {{ trigger.payload.missing }}", "is not defined");
}

//  Run `command` with /bin/sh -c (popen) and return all it printed.
static char *
s_sh_output (const char *command)
{
    FILE *pipe = popen (command, "r");
    cr_assert_not_null (pipe);
    size_t cap = 4096, used = 0;
    char *out = (char *)malloc (cap);
    size_t n;
    while ((n = fread (out + used, 1, cap - used - 1, pipe)) > 0) {
        used += n;
        if (used + 1 == cap)
            out = (char *)realloc (out, cap *= 2);
    }
    out[used] = 0;
    cr_expect_eq (pclose (pipe), 0, "%s", command);
    return out;
}

Test (rules_template, the_shell_reads_each_inserted_value_as_one_word)
{
    //  What /bin/sh -c makes of the rendered text: each value is one
    //  argument with its bytes unchanged, in every quoting context
    static const char *const templates[] = {
        "printf '[%s]' {{ trigger.payload.v }}",
        "printf '[%s]' \"<{{ trigger.payload.v }}>\"",
        "printf '[%s]' '<{{ trigger.payload.v }}>'",
        "printf '[%s]' a{{ trigger.payload.v }}\"b\"{{ trigger.payload.v }}'c'",
    };
    //  What each prints, @ standing for the value
    static const char *const shapes[] = {"[@]", "[<@>]", "[<@>]", "[a@b@c]"};
    for (const char *const *value = s_hostile; *value; value++) {
        for (size_t t = 0; t < sizeof templates / sizeof templates[0]; t++) {
            char message[512] = "";
            char *line = s_shell (templates[t], *value, message);
            cr_assert_not_null (line, "%s: %s", templates[t], message);
            char *out = s_sh_output (line);
            char want[256] = "";
            for (const char *s = shapes[t]; *s; s++)
                if (*s == '@')
                    strcat (want, *value);
                else
                    strncat (want, s, 1);
            cr_expect_str_eq (out, want, "sh -c [%s] printed [%s]", line, out);
            free (out);
            free (line);
        }
    }
}

Test (rules_template, shell_takes_statements_and_uses_jinja_expressions)
{
    //  {% %} statements write the author's text; each {{ }} stays one word
    //  (tests/test_shell_templates.c has more)
    char message[512] = "";
    json_t *out = rules_template_render_shell ("{% for h in trigger.payload.m.a %}echo "
                                               "{{ h }};{% endfor %}",
                                               s_context, "parameters.cmd", message,
                                               sizeof message);
    cr_assert_not_null (out, "%s", message);
    cr_expect_str_eq (json_string_value (out),
                      "echo '1';echo '2';echo '{\"b\":\"deep\"}';");
    json_decref (out);
    //  Full expressions, each still one quoted word
    out = rules_template_render_shell ("echo {{ trigger.host ~ '; id' }} {{ "
                                       "trigger.payload.n * 2 }}",
                                       s_context, "parameters.cmd", message,
                                       sizeof message);
    cr_assert_not_null (out, "%s", message);
    cr_expect_str_eq (json_string_value (out), "echo 'web1; id' '6'");
    json_decref (out);
    out = rules_template_render_shell ("echo {{ trigger.nope }}", s_context,
                                       "parameters.cmd", message, sizeof message);
    cr_expect_null (out);
    cr_expect (strstr (message, "trigger.nope is not defined") != NULL, "%s", message);
}
