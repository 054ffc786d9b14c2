/*  template: the Jinja engine (syntax, statements, filters, tests, type
    keeping, errors with line and column, bounds, sandbox). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "template/template.h"

static const char *s_data =
    "{\"x\": 3, \"s\": \"Hello\", \"l\": [3, 1, 2], \"d\": {\"a\": 1, \"b\": [1, 2]},"
    " \"n\": null, \"t\": true, \"f\": 0.5, \"users\": [{\"name\": \"ann\", \"age\": 31,"
    " \"admin\": true}, {\"name\": \"bob\", \"age\": 25, \"admin\": false}],"
    " \"words\": [\"b\", \"A\", \"c\", \"a\"], \"trigger\": {\"body\": \"$(id); `x`\"}}";

static json_t *
s_render (const char *text, char **error)
{
    json_t *context = json_loads (s_data, 0, NULL);
    cr_assert_not_null (context);
    *error = NULL;
    template_t *t = template_compile ("test", text, error);
    json_t *value = t ? template_render (t, context, NULL, error) : NULL;
    template_destroy (&t);
    cr_assert_null (t);
    json_decref (context);
    return value;
}

#define EXPECT_JSON(text, expected)                                                      \
    do {                                                                                 \
        char *error_ = NULL;                                                             \
        json_t *got_ = s_render (text, &error_);                                         \
        cr_assert_not_null (got_, "%s: %s", text, error_);                               \
        json_t *want_ = json_loads (expected, JSON_DECODE_ANY, NULL);                    \
        cr_assert_not_null (want_, "bad expectation %s", expected);                      \
        char *dump_ = json_dumps (got_, JSON_ENCODE_ANY);                                \
        cr_expect (json_equal (got_, want_), "%s rendered %s, expected %s", text, dump_, \
                   expected);                                                            \
        free (dump_);                                                                    \
        json_decref (got_);                                                              \
        json_decref (want_);                                                             \
    } while (0)

#define EXPECT_TEXT(text, expected)                                                      \
    do {                                                                                 \
        char *error_ = NULL;                                                             \
        json_t *got_ = s_render (text, &error_);                                         \
        cr_assert_not_null (got_, "%s: %s", text, error_);                               \
        cr_expect (json_is_string (got_) &&                                              \
                       !strcmp (json_string_value (got_), expected),                     \
                   "%s rendered '%s', expected '%s'", text,                              \
                   json_is_string (got_) ? json_string_value (got_) : "(not a string)",  \
                   expected);                                                            \
        json_decref (got_);                                                              \
    } while (0)

#define EXPECT_ERROR(text, fragment)                                                     \
    do {                                                                                 \
        char *error_ = NULL;                                                             \
        json_t *got_ = s_render (text, &error_);                                         \
        cr_expect_null (got_, "%s rendered", text);                                      \
        json_decref (got_);                                                              \
        cr_expect (error_ &&strstr (error_, fragment), "%s: '%s' lacks '%s'", text,      \
                   error_ ? error_ : "(no error)", fragment);                            \
        free (error_);                                                                   \
    } while (0)

Test (template, literals_keep_their_type)
{
    EXPECT_JSON ("{{ 42 }}", "42");
    EXPECT_JSON ("{{ 4.5 }}", "4.5");
    EXPECT_JSON ("{{ 'a' \"b\" }}", "\"ab\"");
    EXPECT_JSON ("{{ true }}", "true");
    EXPECT_JSON ("{{ False }}", "false");
    EXPECT_JSON ("{{ none }}", "null");
    EXPECT_JSON ("{{ [1, 'a', [none]] }}", "[1, \"a\", [null]]");
    EXPECT_JSON ("{{ (1, 2) }}", "[1, 2]");
    EXPECT_JSON ("{{ {'k': 1, 'j': [true]} }}", "{\"k\": 1, \"j\": [true]}");
    EXPECT_JSON ("  {{ d }}\n", "{\"a\": 1, \"b\": [1, 2]}");
    EXPECT_JSON ("{{ 'it\\'s\\n' }}", "\"it's\\n\"");
    EXPECT_JSON ("{{ 1_000 }}", "1000");
    EXPECT_JSON ("{{ 1e3 }}", "1000.0");
}

Test (template, access)
{
    EXPECT_JSON ("{{ d.a }}", "1");
    EXPECT_JSON ("{{ d['b'][1] }}", "2");
    EXPECT_JSON ("{{ d.b.0 }}", "1");
    EXPECT_JSON ("{{ l[-1] }}", "2");
    EXPECT_JSON ("{{ l[1:] }}", "[1, 2]");
    EXPECT_JSON ("{{ l[::-1] }}", "[2, 1, 3]");
    EXPECT_JSON ("{{ s[1:3] }}", "\"el\"");
    EXPECT_JSON ("{{ s[0] }}", "\"H\"");
    EXPECT_JSON ("{{ users[1].name }}", "\"bob\"");
}

Test (template, operators)
{
    EXPECT_JSON ("{{ x + 1 }}", "4");
    EXPECT_JSON ("{{ x - 5 }}", "-2");
    EXPECT_JSON ("{{ x * f }}", "1.5");
    EXPECT_JSON ("{{ 7 / 2 }}", "3.5");
    EXPECT_JSON ("{{ 6 / 2 }}", "3.0");
    EXPECT_JSON ("{{ -7 // 2 }}", "-4");
    EXPECT_JSON ("{{ 7 % -3 }}", "-2");
    EXPECT_JSON ("{{ 2 ** 10 }}", "1024");
    EXPECT_JSON ("{{ 2 + 3 * 4 }}", "14");
    EXPECT_JSON ("{{ (2 + 3) * 4 }}", "20");
    EXPECT_JSON ("{{ -x }}", "-3");
    EXPECT_JSON ("{{ 'ab' + 'cd' }}", "\"abcd\"");
    EXPECT_JSON ("{{ [1] + [2] }}", "[1, 2]");
    EXPECT_JSON ("{{ 'ab' * 2 }}", "\"abab\"");
    EXPECT_JSON ("{{ 'n=' ~ x ~ t ~ n }}", "\"n=3TrueNone\"");
    EXPECT_JSON ("{{ x == 3.0 }}", "true");
    EXPECT_JSON ("{{ x != 3 }}", "false");
    EXPECT_JSON ("{{ 1 < x <= 3 }}", "true");
    EXPECT_JSON ("{{ 'a' < 'b' }}", "true");
    EXPECT_JSON ("{{ d == {'b': [1, 2], 'a': 1} }}", "true");
    EXPECT_JSON ("{{ 3 in l }}", "true");
    EXPECT_JSON ("{{ 'ell' in s }}", "true");
    EXPECT_JSON ("{{ 'z' not in d }}", "true");
    EXPECT_JSON ("{{ x > 1 and s }}", "\"Hello\"");
    EXPECT_JSON ("{{ 0 or n or 'z' }}", "\"z\"");
    EXPECT_JSON ("{{ not l }}", "false");
    EXPECT_JSON ("{{ 'big' if x > 2 else 'small' }}", "\"big\"");
    EXPECT_JSON ("{{ x if x > 5 else none }}", "null");
    EXPECT_ERROR ("{{ 1 / 0 }}", "division by zero");
    EXPECT_ERROR ("{{ 1 // 0 }}", "division or modulo by zero");
    EXPECT_ERROR ("{{ 'a' - 1 }}", "unsupported operand types");
    EXPECT_ERROR ("{{ 9223372036854775807 + 1 }}", "integer overflow");
    EXPECT_ERROR ("{{ 'a' < 1 }}", "not supported between 'str' and 'int'");
}

Test (template, text_is_python_str)
{
    EXPECT_TEXT ("v={{ d }}", "v={'a': 1, 'b': [1, 2]}");
    EXPECT_TEXT ("{{ t }}/{{ n }}/{{ f }}/{{ 1e20 }}", "True/None/0.5/1e+20");
    EXPECT_TEXT ("{{ 0.1 + 0.2 }}!", "0.30000000000000004!");
    EXPECT_TEXT ("{{ [\"it's\"] }}.", "[\"it's\"].");
    EXPECT_TEXT ("no templates", "no templates");
    EXPECT_TEXT ("", "");
    char *error = NULL;
    char *text = template_render_text ("t", "{{ x }}", NULL, NULL, &error);
    cr_assert_null (text);
    cr_expect (strstr (error, "x is not defined"));
    free (error);
    json_t *context = json_pack ("{si}", "x", 5);
    text = template_render_text ("t", "{{ x }}", context, NULL, &error);
    cr_expect_str_eq (text, "5");
    free (text);
    json_decref (context);
}

Test (template, if_for_set)
{
    EXPECT_TEXT ("{% if x > 5 %}a{% elif x > 2 %}b{% else %}c{% endif %}", "b");
    EXPECT_TEXT ("{% if n %}a{% else %}c{% endif %}", "c");
    EXPECT_TEXT (
        "{% for i in l %}{{ loop.index }}:{{ i }}{% if not loop.last %},{% endif %}"
        "{% endfor %}",
        "1:3,2:1,3:2");
    EXPECT_TEXT ("{% for i in l %}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}"
                 "{{ loop.length }} {% endfor %}",
                 "03True3 12False3 21False3 ");
    EXPECT_TEXT ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
                 "a=1;b=[1, 2];");
    EXPECT_TEXT ("{% for k in d %}{{ k }}{% endfor %}", "ab");
    EXPECT_TEXT ("{% for k in d.keys() %}{{ k }}{% endfor %}{{ d.values() }}",
                 "ab[1, [1, 2]]");
    EXPECT_JSON ("{{ d.get('zz', 7) }}", "7");
    EXPECT_TEXT ("{% for c in 'héj' %}[{{ c }}]{% endfor %}", "[h][é][j]");
    EXPECT_TEXT ("{% for i in [] %}x{% else %}empty{% endfor %}", "empty");
    EXPECT_TEXT ("{% for u in users if u.admin %}{{ u.name }}{% endfor %}", "ann");
    EXPECT_TEXT ("{% for i in range(3) %}{{ i }}{% endfor %}", "012");
    EXPECT_TEXT ("{% for i in range(1, 10, 3) %}{{ i }}{% endfor %}", "147");
    EXPECT_TEXT ("{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}", "321");
    EXPECT_TEXT ("{% set y = x * 2 %}{{ y }}", "6");
    EXPECT_TEXT ("{% set y = 1 %}{% for i in l %}{% set y = i %}{% endfor %}{{ y }}",
                 "1");
    EXPECT_TEXT ("{% for a in [[1, 2], [3]] %}{% for b in a %}{{ b }}{% endfor %}|"
                 "{% endfor %}",
                 "12|3|");
    EXPECT_TEXT ("{# a comment #}x{# another\n one #}", "x");
    EXPECT_TEXT ("a{% raw %}{{ x }}{% if %}{% endraw %}b", "a{{ x }}{% if %}b");
    EXPECT_TEXT ("x {%- raw -%} {{ y }} {%- endraw %}", "x{{ y }}");
    EXPECT_ERROR ("{% raw %}{{ x }}", "missing {% endraw %}");
    EXPECT_JSON ("{{ __context.x }}", "3"); //  StackStorm's name for the whole context
}

Test (template, whitespace_control)
{
    //  StackStorm's trim_blocks and lstrip_blocks
    EXPECT_TEXT ("\n{% if x %}\n  yes\n{% endif %}\ndone", "\n  yes\ndone");
    EXPECT_TEXT ("    {% for i in l %}\n{{ i }}\n    {% endfor %}\n", "3\n1\n2\n");
    EXPECT_TEXT ("a  {{- x -}}  b", "a3b");
    EXPECT_TEXT ("{%- for i in range(3) -%}\n  {{ i }}\n{%- endfor %}", "012");
    EXPECT_TEXT ("  {%+ if x %}y{% endif %}", "  y");
    EXPECT_TEXT ("a {#- c -#} b", "ab");
}

Test (template, filters_common)
{
    EXPECT_JSON ("{{ n | default(5) }}", "null");
    EXPECT_JSON ("{{ nope | default(5) }}", "5");
    EXPECT_JSON ("{{ nope | d('x') }}", "\"x\"");
    EXPECT_JSON ("{{ n | default(5, true) }}", "5");
    EXPECT_JSON ("{{ nope.deeper | default('ok') }}", "\"ok\"");
    EXPECT_JSON ("{{ l | length }} ", "3"); //  blanks around: still one expression
    EXPECT_JSON ("{{ d | count }}", "2");
    EXPECT_JSON ("{{ s | lower }}", "\"hello\"");
    EXPECT_JSON ("{{ s | upper }}", "\"HELLO\"");
    EXPECT_JSON ("{{ 'hi there' | capitalize }}", "\"Hi there\"");
    EXPECT_JSON ("{{ 'hi there-you' | title }}", "\"Hi There-You\"");
    EXPECT_JSON ("{{ '  a b \\n' | trim }}", "\"a b\"");
    EXPECT_JSON ("{{ 'xxaxx' | trim('x') }}", "\"a\"");
    EXPECT_JSON ("{{ 'a-b-c' | replace('-', '+') }}", "\"a+b+c\"");
    EXPECT_JSON ("{{ 'a-b-c' | replace('-', '', 1) }}", "\"ab-c\"");
    EXPECT_JSON ("{{ l | join(',') }}", "\"3,1,2\"");
    EXPECT_JSON ("{{ users | join(', ', attribute='name') }}", "\"ann, bob\"");
    EXPECT_JSON ("{{ l | first }}", "3");
    EXPECT_JSON ("{{ s | last }}", "\"o\"");
    EXPECT_JSON ("{{ 'ab' | list }}", "[\"a\", \"b\"]");
    EXPECT_JSON ("{{ l | sort }}", "[1, 2, 3]");
    EXPECT_JSON ("{{ l | sort(reverse=true) }}", "[3, 2, 1]");
    EXPECT_JSON ("{{ words | sort }}", "[\"A\", \"a\", \"b\", \"c\"]");
    EXPECT_JSON ("{{ words | sort(case_sensitive=true) }}",
                 "[\"A\", \"a\", \"b\", \"c\"]");
    EXPECT_JSON ("{{ users | sort(attribute='age') | map(attribute='name') | list }}",
                 "[\"bob\", \"ann\"]");
    EXPECT_JSON ("{{ [1, 2, 1, 3] | unique }}", "[1, 2, 3]");
    EXPECT_JSON ("{{ words | unique }}", "[\"b\", \"A\", \"c\"]");
    EXPECT_JSON ("{{ l | reverse }}", "[2, 1, 3]");
    EXPECT_JSON ("{{ s | reverse }}", "\"olleH\"");
    EXPECT_JSON ("{{ l | min }}", "1");
    EXPECT_JSON ("{{ l | max }}", "3");
    EXPECT_JSON ("{{ users | max(attribute='age') }}",
                 "{\"name\": \"ann\", \"age\": 31, \"admin\": true}");
    EXPECT_JSON ("{{ l | sum }}", "6");
    EXPECT_JSON ("{{ users | sum(attribute='age') }}", "56");
    EXPECT_JSON ("{{ -3 | abs }}", "-3"); //  Jinja: the filter binds first
    EXPECT_JSON ("{{ (-3) | abs }}", "3");
    EXPECT_JSON ("{{ 2.5 | round }}", "3.0");
    EXPECT_JSON ("{{ 2.345 | round(2, 'floor') }}", "2.34");
    EXPECT_JSON ("{{ '42' | int }}", "42");
    EXPECT_JSON ("{{ '4.7' | int }}", "4");
    EXPECT_JSON ("{{ 'web' | int }}", "0");
    EXPECT_JSON ("{{ 'web' | int(-1) }}", "-1");
    EXPECT_JSON ("{{ 'ff' | int(base=16) }}", "255");
    EXPECT_JSON ("{{ '2.5' | float }}", "2.5");
    EXPECT_JSON ("{{ x | float }}", "3.0");
    EXPECT_JSON ("{{ x | string }}", "\"3\"");
    EXPECT_JSON ("{{ t | string }}", "\"True\"");
    EXPECT_JSON ("{{ 'yes' | bool }}", "true");
    EXPECT_JSON ("{{ users | selectattr('admin') | map(attribute='name') | list }}",
                 "[\"ann\"]");
    EXPECT_JSON (
        "{{ users | rejectattr('age', 'gt', 30) | map(attribute='name') | list }}",
        "[\"bob\"]");
    EXPECT_JSON ("{{ users | selectattr('name', 'equalto', 'bob') | list | length }}",
                 "1");
    EXPECT_JSON ("{{ [1, 2, 3, 4] | select('even') | list }}", "[2, 4]");
    EXPECT_JSON ("{{ [1, 2, 3, 4] | reject('odd') | list }}", "[2, 4]");
    EXPECT_JSON ("{{ l | map('string') | list }}", "[\"3\", \"1\", \"2\"]");
    EXPECT_JSON ("{{ d | dict2items }}",
                 "[{\"key\": \"a\", \"value\": 1}, {\"key\": \"b\", \"value\": [1, 2]}]");
    EXPECT_JSON ("{{ d | items | list }}", "[[\"a\", 1], [\"b\", [1, 2]]]");
    EXPECT_JSON ("{{ '<a&b>' | e }}", "\"&lt;a&amp;b&gt;\"");
    EXPECT_JSON ("{{ '/a/b/c.txt' | basename }}", "\"c.txt\"");
    EXPECT_JSON ("{{ '/a/b/c.txt' | dirname }}", "\"/a/b\"");
}

Test (template, filters_stackstorm)
{
    EXPECT_JSON ("{{ d | to_json_string }}", "\"{\\\"a\\\": 1,\\\"b\\\": [1,2]}\"");
    EXPECT_JSON ("{{ {'b': 1, 'a': 2} | to_json_string(sort_keys=true) }}",
                 "\"{\\\"a\\\": 2,\\\"b\\\": 1}\"");
    EXPECT_JSON ("{{ [1] | to_json_string(2) }}", "\"[\\n  1\\n]\"");
    EXPECT_JSON ("{{ {'b': '<'} | tojson }}", "\"{\\\"b\\\": \\\"\\\\u003c\\\"}\"");
    EXPECT_JSON ("{{ d | json }}", "\"{\\\"a\\\":1,\\\"b\\\":[1,2]}\"");
    EXPECT_JSON ("{{ l | to_complex }}", "\"[3, 1, 2]\"");
    EXPECT_JSON ("{{ '{\"k\": [1, 2.5]}' | from_json_string }}", "{\"k\": [1, 2.5]}");
    EXPECT_JSON ("{{ ('{\"k\": 1}' | from_json_string).k }}", "1");
    EXPECT_ERROR ("{{ '{bad' | from_json_string }}", "from_json_string");
    EXPECT_JSON ("{{ d | to_yaml_string }}", "\"a: 1\\nb:\\n- 1\\n- 2\\n\"");
    EXPECT_JSON ("{{ {'k': 'yes', 'e': ''} | to_yaml_string }}",
                 "\"e: ''\\nk: 'yes'\\n\"");
    EXPECT_JSON ("{{ 'say \"hi\"\\n' | json_escape }}",
                 "\"say \\\\\\\"hi\\\\\\\"\\\\n\"");
    EXPECT_JSON ("{{ n | use_none }}", "null");
    EXPECT_JSON ("{{ 'v1.20' | regex_match('v\\\\d+') }}", "true");
    EXPECT_JSON ("{{ 'xv1' | regex_match('v\\\\d') }}", "false");
    EXPECT_JSON ("{{ 'xv1' | regex_search('v\\\\d') }}", "true");
    EXPECT_JSON ("{{ 'ABC' | regex_search('b', ignorecase=true) }}", "true");
    EXPECT_JSON ("{{ 'a1b22' | regex_replace('(\\\\d+)', '<\\\\1>') }}", "\"a<1>b<22>\"");
    EXPECT_JSON ("{{ 'john smith' | regex_replace('(?P<f>\\\\w+) (?P<l>\\\\w+)', "
                 "'\\\\g<l>, \\\\g<f>') }}",
                 "\"smith, john\"");
    EXPECT_JSON ("{{ 'abc' | regex_replace('x*', '-') }}", "\"-a-b-c-\"");
    EXPECT_JSON ("{{ 'a1b22' | regex_substring('\\\\d+') }}", "\"1\"");
    EXPECT_JSON ("{{ 'a1b22' | regex_substring('\\\\d+', 1) }}", "\"22\"");
    EXPECT_JSON ("{{ 'k=v' | regex_substring('(\\\\w)=(\\\\w)') }}", "[\"k\", \"v\"]");
    EXPECT_ERROR ("{{ 'a' | regex_substring('\\\\d') }}", "no match");
    EXPECT_ERROR ("{{ 'a' | regex_match('(') }}", "invalid regular expression");
    EXPECT_ERROR ("{{ 'x' | decrypt_kv }}", "decrypt_kv is not available");
}

static json_t *
s_decrypt (void *arg, const json_t *value, char **error)
{
    if (strcmp (json_string_value (value), "sealed") != 0) {
        *error = strdup ("not a secret");
        return NULL;
    }
    return json_string ((const char *)arg);
}

Test (template, decrypt_kv_hook)
{
    template_hooks_t hooks = {s_decrypt, (void *)"opened"};
    char *error = NULL;
    json_t *value =
        template_evaluate ("h", " 'sealed' | decrypt_kv ", NULL, &hooks, &error);
    cr_assert_not_null (value, "%s", error);
    cr_expect_str_eq (json_string_value (value), "opened");
    json_decref (value);
    value = template_evaluate ("h", "'other' | decrypt_kv", NULL, &hooks, &error);
    cr_expect_null (value);
    cr_expect (strstr (error, "decrypt_kv: not a secret"), "%s", error);
    free (error);
}

//  The caller's functions (Orquesta's ctx(), task_status() ...)
static json_t *
s_call (void *arg, const char *function, json_t *const *args, size_t count, char **error)
{
    if (strcmp (function, "ctx") == 0 && count == 0)
        return json_deep_copy ((const json_t *)arg);
    if (strcmp (function, "ctx") == 0 && count == 1 && json_is_string (args[0])) {
        json_t *found =
            json_object_get ((const json_t *)arg, json_string_value (args[0]));
        if (found)
            return json_incref (found);
    }
    *error = strdup ("no such value");
    return NULL;
}

Test (template, call_hook)
{
    json_t *ctx = json_pack ("{s:i,s:[i,i]}", "a", 7, "b", 1, 2);
    template_hooks_t hooks = {NULL, ctx, s_call};
    char *error = NULL;
    json_t *value =
        template_evaluate ("h", "ctx('a') + ctx().b[1]", NULL, &hooks, &error);
    cr_assert_not_null (value, "%s", error);
    cr_expect_eq (json_integer_value (value), 9);
    json_decref (value);
    value = template_evaluate ("h", "ctx('zz')", NULL, &hooks, &error);
    cr_expect_null (value);
    cr_expect (strstr (error, "ctx(): no such value"), "%s", error);
    free (error);
    value = template_evaluate ("h", "ctx(nothing)", NULL, &hooks, &error);
    cr_expect_null (value);
    cr_expect (strstr (error, "nothing"), "%s", error);
    free (error);
    value = template_evaluate ("h", "ctx('a')", NULL, NULL, &error);
    cr_expect_null (value);
    cr_expect (strstr (error, "calls are not allowed"), "%s", error);
    free (error);
    json_decref (ctx);
}

Test (template, tests)
{
    EXPECT_JSON ("{{ x is defined }}", "true");
    EXPECT_JSON ("{{ zz is defined }}", "false");
    EXPECT_JSON ("{{ zz is undefined }}", "true");
    EXPECT_JSON ("{{ d.zz is not defined }}", "true");
    EXPECT_JSON ("{{ n is none }}", "true");
    EXPECT_JSON ("{{ x is number and f is number and s is not number }}", "true");
    EXPECT_JSON ("{{ x is integer and f is float }}", "true");
    EXPECT_JSON ("{{ s is string }}", "true");
    EXPECT_JSON ("{{ d is mapping and l is not mapping }}", "true");
    EXPECT_JSON ("{{ l is iterable and s is sequence and x is not iterable }}", "true");
    EXPECT_JSON ("{{ t is boolean and t is true and false is false }}", "true");
    EXPECT_JSON ("{{ x is odd and 4 is even }}", "true");
    EXPECT_JSON ("{{ 9 is divisibleby 3 }}", "true");
    EXPECT_JSON ("{{ 9 is divisibleby(4) }}", "false");
    EXPECT_JSON ("{{ x is equalto 3 and x is eq(3) and x is ne 4 }}", "true");
    EXPECT_JSON ("{{ x is gt 2 and x is lt 4 and x is ge 3 and x is le 3 }}", "true");
    EXPECT_JSON ("{{ n is sameas none and 1 is not sameas true }}", "true");
    EXPECT_JSON ("{{ 1 is in l }}", "true");
    EXPECT_JSON ("{{ 'abc' is lower and 'ABC' is upper }}", "true");
    EXPECT_JSON ("{{ 'upper' is filter }}", "true");
    EXPECT_ERROR ("{{ x is frobbed }}", "unknown test 'frobbed'");
    EXPECT_ERROR ("{{ zz is number }}", "zz is not defined");
}

Test (template, undefined_is_an_error_when_used)
{
    EXPECT_ERROR ("{{ zz }}", "line 1 column 4: zz is not defined");
    EXPECT_ERROR ("text {{ d.zz }}", "d.zz is not defined");
    EXPECT_ERROR ("{{ zz + 1 }}", "zz is not defined");
    EXPECT_ERROR ("{% if zz %}a{% endif %}", "zz is not defined");
    EXPECT_ERROR ("{% for i in zz %}a{% endfor %}", "zz is not defined");
    EXPECT_ERROR ("{{ zz | upper }}", "zz is not defined");
    EXPECT_ERROR ("{{ l[7] }}", "l[7] is not defined");
}

Test (template, errors_name_template_line_and_column)
{
    EXPECT_ERROR ("line one\n  {{ x +* 2 }}",
                  "template 'test' line 2 column 9: expected an expression");
    EXPECT_ERROR ("a\nb {{ x", "template 'test' line 2 column 7: missing '}}'");
    EXPECT_ERROR ("{% if x %}\nno end", "missing {% endif %}");
    EXPECT_ERROR ("{% endif %}", "line 1 column 4: unexpected 'endif'");
    EXPECT_ERROR ("{% while x %}{% endwhile %}", "unknown statement 'while'");
    EXPECT_ERROR ("{% for in l %}{% endfor %}", "expected {% for NAME");
    EXPECT_ERROR ("{{ x | nosuch }}", "line 1 column 8: unknown filter 'nosuch'");
    EXPECT_ERROR ("\n\n{{ 'unterminated }}", "line 3 column 4: unterminated string");
    EXPECT_ERROR ("{{ x ? 1 }}", "unexpected character '?'");
    EXPECT_ERROR ("{{ l[1:2:0] }}", "slice step cannot be zero");
    EXPECT_ERROR ("{% for a, b in l %}{% endfor %}", "cannot unpack");
    EXPECT_ERROR ("{{ 'x' | regex_match('a{2,1}') }}", "invalid regular expression");
}

Test (template, sandbox)
{
    EXPECT_ERROR ("{{ ''.__class__ }}", "''.__class__ is not defined");
    EXPECT_ERROR ("{{ ''.__class__.__mro__[1].__subclasses__() }}",
                  "calls are not allowed");
    EXPECT_ERROR ("{{ s.upper() }}", "calls are not allowed");
    EXPECT_ERROR ("{{ __import__('os').system('id') }}", "calls are not allowed");
    EXPECT_ERROR ("{{ d.items }}", "d.items is not defined");
    EXPECT_ERROR ("{{ cycler }}", "cycler is not defined");
    EXPECT_ERROR ("{{ l.items() }}", "has no method items()");
    EXPECT_ERROR ("{% include 'x' %}", "unknown statement 'include'");
    EXPECT_ERROR ("{% macro m() %}{% endmacro %}", "unknown statement 'macro'");
    //  Data is data: nothing in it is evaluated
    EXPECT_TEXT ("{{ trigger.body }}", "$(id); `x`");
    EXPECT_TEXT ("{{ '{{ x }}' }}", "{{ x }}");
}

Test (template, bounds)
{
    EXPECT_ERROR ("{% for i in range(1000000) %}{% endfor %}",
                  "more than 100000 loop iterations");
    EXPECT_ERROR ("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}"
                  "{% endfor %}",
                  "more than 100000 loop iterations");
    EXPECT_ERROR ("{% for i in range(400) %}{% for j in range(400) %}x{% endfor %}"
                  "{% endfor %}",
                  "more than 100000 loop iterations");
    EXPECT_ERROR ("{{ 'x' * 2000000 }}", "repetition longer than");
    EXPECT_ERROR ("{% for i in range(3000) %}{{ 'y' * 1000 }}{% endfor %}",
                  "output longer than 1048576 bytes");
    EXPECT_ERROR (
        "{% set s = 'ab' * 1000 %}{{ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s "
        "~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ "
        "s }}{{ 'x' * 1048000 ~ s }}",
        "longer than");
    EXPECT_ERROR ("{{ 2 ** 2 ** 70 }}", "integer overflow");
    //  Nesting
    char deep[1024] = "{{ ";
    for (int i = 0; i < 200; i++)
        strcat (deep, "(");
    strcat (deep, "1");
    for (int i = 0; i < 200; i++)
        strcat (deep, ")");
    strcat (deep, " }}");
    EXPECT_ERROR (deep, "nested deeper than");
    char blocks[4096] = "";
    for (int i = 0; i < 100; i++)
        strcat (blocks, "{% if 1 %}");
    for (int i = 0; i < 100; i++)
        strcat (blocks, "{% endif %}");
    EXPECT_ERROR (blocks, "nested deeper than");
    //  Length
    size_t n = TEMPLATE_MAX_TEXT + 10;
    char *huge = (char *)malloc (n + 1);
    memset (huge, 'a', n);
    huge[n] = 0;
    EXPECT_ERROR (huge, "template longer than");
    free (huge);
    //  A catastrophic pattern stops at PCRE2's limit instead of hanging
    EXPECT_ERROR ("{{ ('a' * 40 ~ '!') | regex_search('(a+)+$') }}", "limit");
}

Test (template, api)
{
    char *error = NULL;
    template_t *t = template_compile ("n", "{{ x }}", &error);
    cr_assert_not_null (t);
    cr_expect (template_is_expression (t));
    cr_expect_not (template_has_statements (t));
    json_t *v = template_render (t, NULL, NULL, &error);
    cr_expect_null (v);
    cr_expect (strstr (error, "template 'n' line 1 column 4: x is not defined"), "%s",
               error);
    free (error);
    template_destroy (&t);
    template_destroy (&t);
    t = template_compile ("n", "{% if 1 %}{{ x }}{% endif %}", &error);
    cr_expect_not (template_is_expression (t));
    cr_expect (template_has_statements (t));
    template_destroy (&t);
    v = template_evaluate ("e", " x }} {{ x ", NULL, NULL, &error);
    cr_expect_null (v);
    cr_expect (strstr (error, "expected one expression"), "%s", error);
    free (error);
    json_t *list = json_pack ("[bn]", 1);
    char *text = template_text (list);
    cr_expect_str_eq (text, "[True, None]");
    free (text);
    json_decref (list);
}

//  StackStorm's version_* and to_human_time_from_seconds
Test (template, version_and_time_filters)
{
    EXPECT_TEXT ("{{ '1.6.0' | version_bump_minor }}", "1.7.0");
    EXPECT_TEXT ("{{ '1.6.3' | version_bump_major }}", "2.0.0");
    EXPECT_TEXT ("{{ '1.6.3' | version_bump_patch }}", "1.6.4");
    EXPECT_TEXT ("{{ '1.6.3' | version_strip_patch }}", "1.6");
    EXPECT_JSON ("{{ '1.7.0' | version_compare('1.6.0') }}", "1");
    EXPECT_JSON ("{{ '1.6.0' | version_compare('1.6.0') }}", "0");
    EXPECT_JSON ("{{ '1.6.0-rc.1' | version_compare('1.6.0') }}", "-1");
    EXPECT_JSON ("{{ '1.10.0' | version_more_than('1.9.9') }}", "true");
    EXPECT_JSON ("{{ '1.2.0' | version_less_than('1.10.0') }}", "true");
    EXPECT_JSON ("{{ '1.2.0' | version_equal('1.2.0') }}", "true");
    EXPECT_JSON ("{{ '1.7.0' | version_match('>=1.7.0') }}", "true");
    EXPECT_JSON ("{{ '1.6.9' | version_match('>=1.7.0') }}", "false");
    EXPECT_JSON ("{{ '1.6.9' | version_match('!=1.7.0') }}", "true");
    EXPECT_ERROR ("{{ '1.6' | version_bump_minor }}", "not a semantic version");
    EXPECT_ERROR ("{{ '1.6.0' | version_match('~1.7') }}", "not OP VERSION");
    EXPECT_TEXT ("{{ 12345 | to_human_time_from_seconds }}", "3h25m45s");
    EXPECT_TEXT ("{{ 0 | to_human_time_from_seconds }}", "0s");
    EXPECT_TEXT ("{{ 59 | to_human_time_from_seconds }}", "59s");
    EXPECT_TEXT ("{{ 90061 | to_human_time_from_seconds }}", "1d1h1m1s");
    EXPECT_ERROR ("{{ 'x' | to_human_time_from_seconds }}", "takes a number");
}
