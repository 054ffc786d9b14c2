/*  template_yaql: YAQL's <% %> expressions through the one evaluator
    (operators, precedence, = against ==, literals, the call hook with
    Orquesta's functions, mixed text, every expression of Orquesta's
    fixtures and StackStorm's examples pack, errors, bounds). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "template/template.h"

//  What an Orquesta conductor would hold while task1 ends.
static const char *s_state =
    "{\"vars\": {\"a1\": 1, \"a2\": 2, \"a3\": 3, \"a4\": 4, \"a5\": 5, \"b1\": \"x\","
    " \"b2\": \"y\", \"b3\": \"z\", \"b4\": \"w\", \"cheer\": \"go\", \"count\": 1,"
    " \"error\": \"boom\", \"extra\": {\"k\": 1}, \"file\": \"/tmp/f1\","
    " \"file_path\": \"/tmp/p\", \"fork1\": true, \"fork2\": false, \"fork3\": true,"
    " \"fork4\": false, \"fork5\": true, \"fork6\": false, \"fork7\": true, \"fork8\": 0,"
    " \"greeting\": \"hello\", \"ip\": \"10.0.0.1\", \"message\": \"hi\", \"meta\": {},"
    " \"msg1\": \"m1\", \"msg2\": \"m2\", \"msg3\": \"m3\", \"msg4\": \"m4\","
    " \"name\": \"Stanley\", \"progress\": 50, \"status_message\": \"ok\","
    " \"task_exit_code\": 1, \"task_name\": \"task1\", \"vm_id\": \"vm-1\","
    " \"vm_name\": \"web1\", \"work\": \"done\", \"cmd\": \"date\", \"concurrency\": 2,"
    " \"items\": [1, 2], \"members\": [\"a\", \"b\", \"c\"], \"messages\": [\"x\", "
    "\"y\"],"
    " \"sleep_delay\": 3, \"st2\": {\"api_url\": \"http://api/v1\","
    " \"action_execution_id\": \"e1\"}, \"stdout\": \"out\", \"t1_items\": [],"
    " \"t2_items\": [], \"timeout\": 60, \"xs\": [1, 2], \"ys\": [3, 4], \"delay\": 1,"
    " \"approver_department_id\": 7, \"custom_output\": \"extra\", \"a\": true,"
    " \"b\": false, \"which\": \"c\", \"proceed\": true, \"key_name\": \"k1\","
    " \"decrypt\": false, \"default\": null, \"__secret\": 1},"
    " \"current\": \"task1\", \"item\": {\"member\": \"a\", \"message\": \"x\"},"
    " \"tasks\": {\"task1\": {\"status\": \"succeeded\", \"result\": {\"stdout\": "
    "\"out1\","
    " \"stderr\": \"\", \"result\": {\"vm_id\": \"vm-9\", \"context_value\": 5},"
    " \"items\": [{\"result\": {\"stdout\": \"i1\"}}, {\"result\": {\"stdout\": "
    "\"i2\"}}]}},"
    " \"get_approval\": {\"status\": \"succeeded\", \"result\": {\"response\":"
    " {\"approved\": true, \"department_id\": 7, \"extra_output\": \"more\"}}},"
    " \"task2\": {\"status\": \"failed\", \"result\": {}}}}";

//  The functions Orquesta's conductor supplies (ctx, result, item,
//  succeeded, failed, completed, task_status, task) and st2kv.
static json_t *
s_call (void *arg, const char *function, json_t *const *args, size_t count, char **error)
{
    const json_t *state = (const json_t *)arg;
    json_t *vars = json_object_get (state, "vars");
    const char *current = json_string_value (json_object_get (state, "current"));
    json_t *tasks = json_object_get (state, "tasks");
    json_t *task = json_object_get (tasks, current);
    const char *name =
        count && json_is_string (args[0]) ? json_string_value (args[0]) : NULL;
    json_t *found = NULL;
    if (!strcmp (function, "ctx") && count == 0) {
        json_t *copy = json_deep_copy (vars);
        json_object_del (copy, "__secret");
        return copy;
    }
    if (!strcmp (function, "ctx") && name)
        found = json_object_get (vars, name);
    else if (!strcmp (function, "result") && count == 0)
        found = json_object_get (task, "result");
    else if (!strcmp (function, "item"))
        found = name ? json_object_get (json_object_get (state, "item"), name)
                     : json_object_get (state, "item");
    else if (!strcmp (function, "task_status") && name)
        found = json_object_get (json_object_get (tasks, name), "status");
    else if (!strcmp (function, "succeeded") || !strcmp (function, "failed") ||
             !strcmp (function, "completed")) {
        const char *status = json_string_value (json_object_get (task, "status"));
        return json_boolean (!strcmp (function, "completed") ||
                             !strcmp (function, status));
    } else if (!strcmp (function, "task")) {
        json_t *t = json_object_get (tasks, name ? name : current);
        return t ? json_pack ("{sssO}", "task_name", name ? name : current, "result",
                              json_object_get (t, "result"))
                 : NULL;
    } else if (!strcmp (function, "st2kv") && name) {
        json_t *options = count == 2 ? args[1] : NULL;
        return json_pack ("s++", "kv:", name,
                          json_is_true (json_object_get (options, "decrypt")) ? ":clear"
                                                                              : "");
    }
    if (found)
        return json_incref (found);
    if (asprintf (error, "%s: no value for '%s'", function, name ? name : "") < 0)
        *error = NULL;
    return NULL;
}

static json_t *s_context;
static template_hooks_t s_hooks;

static void
s_setup (void)
{
    json_error_t e;
    json_t *state = json_loads (s_state, 0, &e);
    cr_assert_not_null (state, "%s", e.text);
    s_context =
        json_pack ("{s:i,s:[i,i,i],s:{s:s}}", "x", 3, "l", 1, 2, 3, "d", "k", "v");
    s_hooks = (template_hooks_t){NULL, state, s_call};
}

static void
s_teardown (void)
{
    json_decref ((json_t *)s_hooks.arg);
    json_decref (s_context);
}

//  Render `text` (with TEMPLATE_YAQL); error set on NULL.
static json_t *
s_render (const char *text, char **error)
{
    *error = NULL;
    template_t *t = template_compile_with ("wf", text, TEMPLATE_YAQL, error);
    json_t *value = t ? template_render (t, s_context, &s_hooks, error) : NULL;
    template_destroy (&t);
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

TestSuite (template_yaql, .init = s_setup, .fini = s_teardown);

Test (template_yaql, literals)
{
    EXPECT_JSON ("<% 42 %>", "42");
    EXPECT_JSON ("<% 4.5 %>", "4.5");
    EXPECT_JSON ("<% 'a' %>", "\"a\"");
    EXPECT_JSON ("<% \"it's\\n\" %>", "\"it's\\n\"");
    EXPECT_JSON ("<% `raw \\n` %>", "\"raw \\\\n\"");
    EXPECT_JSON ("<% true %>", "true");
    EXPECT_JSON ("<% false %>", "false");
    EXPECT_JSON ("<% null %>", "null");
    EXPECT_JSON ("<% foo %>", "\"foo\""); //  a bare word is a string
    EXPECT_JSON ("<% [1, 'a', [null]] %>", "[1, \"a\", [null]]");
    EXPECT_JSON ("<% [] %>", "[]");
    EXPECT_JSON ("<% list(a, 2) %>", "[\"a\", 2]");
    EXPECT_JSON ("<% {a => 1, 'b c' => [true]} %>", "{\"a\": 1, \"b c\": [true]}");
    EXPECT_JSON ("<% {} %>", "{}");
    EXPECT_JSON ("<% dict(a => 1, b => x) %>", "{\"a\": 1, \"b\": \"x\"}");
    EXPECT_JSON ("<% dict() %>", "{}");
    EXPECT_JSON ("<% dict([[k, 1]]) %>", "{\"k\": 1}");
    EXPECT_JSON ("  <% 1 %>\n", "1"); //  blanks around one block: still typed
    EXPECT_JSON ("<% 1, 2 %>", "[1, 2]");
}

Test (template_yaql, operators)
{
    EXPECT_JSON ("<% 1 + 2 * 3 %>", "7");
    EXPECT_JSON ("<% (1 + 2) * 3 %>", "9");
    EXPECT_JSON ("<% 7 / 2 %>", "3"); //  integers: floor division
    EXPECT_JSON ("<% -7 / 2 %>", "-4");
    EXPECT_JSON ("<% 7.0 / 2 %>", "3.5");
    EXPECT_JSON ("<% 7 mod 3 %>", "1");
    EXPECT_JSON ("<% 10 - 2 - 3 %>", "5");
    EXPECT_JSON ("<% -2 * 3 %>", "-6");
    EXPECT_JSON ("<% - - 2 %>", "2");
    EXPECT_JSON ("<% +2 %>", "2");
    EXPECT_JSON ("<% 'ab' + 'cd' %>", "\"abcd\"");
    EXPECT_JSON ("<% [1] + [2] %>", "[1, 2]");
    EXPECT_JSON ("<% {a => 1} + {b => 2, a => 3} %>", "{\"a\": 3, \"b\": 2}");
    EXPECT_JSON ("<% 'ab' * 2 %>", "\"abab\"");
    EXPECT_JSON ("<% 1 = 1 %>", "true");
    EXPECT_JSON ("<% 1 = 1.0 %>", "true");
    EXPECT_JSON ("<% 'a' = 'b' %>", "false");
    EXPECT_JSON ("<% [1, {a => 2}] = [1, {a => 2}] %>", "true");
    EXPECT_JSON ("<% 1 != 2 %>", "true");
    EXPECT_JSON ("<% 1 < 2 %>", "true");
    EXPECT_JSON ("<% 2 > 1 %>", "true");
    EXPECT_JSON ("<% 2 <= 2 %>", "true");
    EXPECT_JSON ("<% 1 >= 2 %>", "false");
    EXPECT_JSON ("<% 'a' < 'b' %>", "true");
    EXPECT_JSON ("<% 2 in [1, 2] %>", "true");
    EXPECT_JSON ("<% 'ell' in 'hello' %>", "true");
    EXPECT_JSON ("<% k in {k => 1} %>", "true");
    EXPECT_JSON ("<% 1 = 1 and 2 = 3 %>", "false");
    EXPECT_JSON ("<% 1 = 2 or 2 = 2 %>", "true");
    EXPECT_JSON ("<% not 1 = 2 %>", "true");
    EXPECT_JSON ("<% not true and false %>", "false"); //  (not true) and false
    EXPECT_JSON ("<% not false or true %>", "true");
    EXPECT_JSON ("<% true or true and false %>", "true"); //  and binds tighter
    EXPECT_JSON ("<% not 3 in [1, 2] %>", "true");        //  not (3 in ...)
    EXPECT_JSON ("<% 1 + 1 = 2 %>", "true");              //  + tighter than =
    EXPECT_JSON ("<% 1 < 2 = true %>", "true");           //  (1 < 2) = true
    EXPECT_JSON ("<% 0 or 'x' %>", "\"x\"");              //  the operand, as YAQL's
    EXPECT_JSON ("<% 1 and [] %>", "[]");
    EXPECT_ERROR ("<% 1 == 1 %>", "'==' is not an operator: YAQL compares with '='");
    EXPECT_ERROR ("<% 'a' + 1 %>", "yaql: unsupported operand types");
    EXPECT_ERROR ("<% 1 < 'a' %>", "yaql: '<' not supported");
    EXPECT_ERROR ("<% 1 / 0 %>", "by zero");
}

Test (template_yaql, data_access)
{
    EXPECT_JSON ("<% $ %>", "{\"x\": 3, \"l\": [1, 2, 3], \"d\": {\"k\": \"v\"}}");
    EXPECT_JSON ("<% $.x + 1 %>", "4");
    EXPECT_JSON ("<% $x %>", "3");
    EXPECT_JSON ("<% $.d.k %>", "\"v\"");
    EXPECT_JSON ("<% $.l[0] + $.l[-1] %>", "4");
    EXPECT_JSON ("<% $.d['k'] %>", "\"v\"");
    EXPECT_JSON ("<% $.d[zz, 'fallback'] %>", "\"fallback\"");
    EXPECT_JSON ("<% [{a => 1}, {a => 2}].a %>", "[1, 2]");
    EXPECT_JSON ("<% $.l.len() %>", "3");
    EXPECT_JSON ("<% len($.d) + len('héllo') %>", "6");
    EXPECT_JSON ("<% $.l.select($ * 10) %>", "[10, 20, 30]");
    EXPECT_JSON ("<% $.l.where($ > 1) %>", "[2, 3]");
    EXPECT_JSON ("<% select($.l, $ + $) %>", "[2, 4, 6]");
    EXPECT_JSON ("<% $.d.containsKey(k) %>", "true");
    EXPECT_JSON ("<% $.d.keys() %>", "[\"k\"]");
    EXPECT_JSON ("<% $.d.get(zz, 0) %>", "0");
    EXPECT_JSON ("<% [a, b].join('-') %>", "\"a-b\"");
    EXPECT_JSON ("<% concat('a', 'b', 'c') %>", "\"abc\"");
    EXPECT_ERROR ("<% $.zz %>", "line 1 column 4: yaql: $.zz is not defined");
    EXPECT_ERROR ("<% $.l[7] %>", "yaql: $.l[7] is not defined");
    EXPECT_ERROR ("<% $.d.k.j %>", "is not defined");
}

Test (template_yaql, functions)
{
    EXPECT_JSON ("<% json('{\"a\": [1]}') %>", "{\"a\": [1]}");
    EXPECT_JSON ("<% json($.d) %>", "{\"k\": \"v\"}");
    EXPECT_JSON ("<% zip([1, 2], [a, b]) %>", "[[1, \"a\"], [2, \"b\"]]");
    EXPECT_JSON ("<% zip([1, 2, 3], [a]) %>", "[[1, \"a\"], [2, null], [3, null]]");
    EXPECT_JSON ("<% zip([1, 2], [a], pad => 0) %>", "[[1, \"a\"], [2, 0]]");
    EXPECT_JSON ("<% zip([1, 2]) %>", "[1, 2]");
    EXPECT_JSON ("<% zip(null) %>", "[]");
    EXPECT_JSON ("<% str(1) + str(null) + str(true) %>", "\"1nulltrue\"");
    EXPECT_JSON ("<% int('42') + int(2.9) + int(null) %>", "44");
    EXPECT_JSON ("<% float('2.5') %>", "2.5");
    EXPECT_JSON ("<% bool([]) %>", "false");
    EXPECT_JSON ("<% random(5, 5) %>", "5");
    EXPECT_ERROR ("<% json('{') %>", "json(): not JSON");
    EXPECT_ERROR ("<% json(1) %>", "json() takes a string");
    EXPECT_ERROR ("<% len(1) %>", "len() of int");
    EXPECT_ERROR ("<% len(1, 2) %>", "len() takes 1 argument, not 2");
    EXPECT_ERROR ("<% int('x') %>", "int(): not a number");
}

Test (template_yaql, call_hook)
{
    EXPECT_JSON ("<% ctx(greeting) %>", "\"hello\"");
    EXPECT_JSON ("<% ctx('greeting') %>", "\"hello\"");
    EXPECT_JSON ("<% ctx().name %>", "\"Stanley\"");
    EXPECT_JSON ("<% ctx(st2).api_url %>", "\"http://api/v1\"");
    EXPECT_JSON ("<% result().result.vm_id %>", "\"vm-9\"");
    EXPECT_JSON ("<% item() %>", "{\"member\": \"a\", \"message\": \"x\"}");
    EXPECT_JSON ("<% item(member) %>", "\"a\"");
    EXPECT_JSON ("<% succeeded() %>", "true");
    EXPECT_JSON ("<% failed() %>", "false");
    EXPECT_JSON ("<% completed() %>", "true");
    EXPECT_JSON ("<% task_status(task2) %>", "\"failed\"");
    EXPECT_JSON ("<% task_status(task1) = 'succeeded' %>", "true");
    EXPECT_JSON ("<% task(get_approval).result.response.approved = true %>", "true");
    EXPECT_JSON ("<% task(task1).result.items.select($.result.stdout) %>",
                 "[\"i1\", \"i2\"]");
    EXPECT_JSON ("<% st2kv(ctx().key_name, decrypt => true) %>", "\"kv:k1:clear\"");
    EXPECT_JSON ("<% succeeded() and ctx().count < 2 %>", "true");
    EXPECT_ERROR ("<% ctx(nothing) %>", "line 1 column 4: yaql: ctx(): ctx: no value for "
                                        "'nothing'");
    EXPECT_ERROR ("<% ctx().zz %>", "yaql: ctx().zz is not defined");
    EXPECT_ERROR ("<% f(a => 1, 2) %>", "a positional argument after a keyword one");
    //  Without a hook the conductor's functions are unknown
    char *error = NULL;
    json_t *v = template_evaluate_yaql ("h", "ctx()", NULL, NULL, &error);
    cr_expect_null (v);
    cr_expect (error &&
                   strstr (error, "yaql: calls are not allowed (ctx() is not a known "
                                  "function)"),
               "%s", error);
    free (error);
    v = template_evaluate_yaql ("h", " ctx(a1) + 1 ", NULL, &s_hooks, &error);
    cr_assert_not_null (v, "%s", error);
    cr_expect_eq (json_integer_value (v), 2);
    json_decref (v);
    v = template_evaluate_yaql ("h", "1 %> text <% 2", NULL, &s_hooks, &error);
    cr_expect_null (v);
    cr_expect (error && strstr (error, "expected one expression"), "%s", error);
    free (error);
}

//  Every distinct <% %> expression in ../shared/orquesta-fixtures and the
//  examples pack's workflows (72 files).
static const char *const s_fixture_expressions[] = {
    "completed()",
    "ctx(\"delay\")",
    "ctx(\"greeting\")",
    "ctx('approver_department_id')",
    "ctx('custom_output')",
    "ctx('greeting')",
    "ctx().a1",
    "ctx().a2",
    "ctx().a3",
    "ctx().a4",
    "ctx().a5",
    "ctx().b1",
    "ctx().b2",
    "ctx().b3",
    "ctx().b4",
    "ctx().cheer",
    "ctx().count + 1",
    "ctx().error",
    "ctx().extra",
    "ctx().file",
    "ctx().file_path",
    "ctx().fork1",
    "ctx().fork5",
    "ctx().fork6",
    "ctx().fork7",
    "ctx().fork8",
    "ctx().greeting",
    "ctx().ip",
    "ctx().message",
    "ctx().meta",
    "ctx().msg1",
    "ctx().msg2",
    "ctx().msg3",
    "ctx().msg4",
    "ctx().name",
    "ctx().progress",
    "ctx().status_message",
    "ctx().task_exit_code",
    "ctx().task_name",
    "ctx().vm_id",
    "ctx().vm_name",
    "ctx().work",
    "ctx(cmd)",
    "ctx(concurrency)",
    "ctx(count)",
    "ctx(items)",
    "ctx(members)",
    "ctx(sleep_delay)",
    "ctx(st2).action_execution_id",
    "ctx(st2).api_url",
    "ctx(stdout)",
    "ctx(t1_items)",
    "ctx(t2_items)",
    "ctx(timeout)",
    "ctx(xs)",
    "ctx(ys)",
    "failed()",
    "item()",
    "item(member), item(message)",
    "not ctx().fork1",
    "not ctx().fork5",
    "not ctx().fork6",
    "not ctx().fork7",
    "not ctx().fork8",
    "not task(get_approval).result.response.containsKey(\"extra_output\") and "
    "task(get_approval).result.response.approved = true",
    "result()",
    "result().result",
    "result().result.vm_id",
    "result().stderr",
    "result().stdout",
    "st2kv(ctx().key_name, decrypt => ctx().decrypt)",
    "st2kv(ctx().key_name, decrypt => ctx().decrypt, default => ctx().default)",
    "str(random(1000000, 9999999))",
    "succeeded()",
    "succeeded() and ctx().count < 2",
    "succeeded() and ctx().fork2",
    "succeeded() and ctx().fork3",
    "succeeded() and ctx().fork4",
    "succeeded() and ctx().proceed",
    "succeeded() and ctx().which = \"a\"",
    "succeeded() and ctx().which = \"b\"",
    "succeeded() and ctx(a)",
    "succeeded() and ctx(b)",
    "succeeded() and not ctx().fork2",
    "succeeded() and not ctx().fork3",
    "succeeded() and not ctx().fork4",
    "succeeded() and not ctx().proceed",
    "succeeded() and not ctx().which in list(a, b)",
    "succeeded() and not result()",
    "succeeded() and result()",
    "task().result.stdout",
    "task().task_name",
    "task(get_approval).result.response.approved = false",
    "task(get_approval).result.response.containsKey(\"extra_output\") and "
    "task(get_approval).result.response.approved = true",
    "task(get_approval).result.response.department_id",
    "task(get_approval).result.response.extra_output",
    "task(task1).result.items.select($.result.stdout)",
    "task(task1).result.result.context_value",
    "task(task1).result.stdout",
    "zip(ctx(members), ctx(messages))",
    NULL};

//  Every line holding one, as the YAML value it is (mixed text included).
static const char *const s_fixture_texts[] = {
    "/tmp/<% str(random(1000000, 9999999)) %>",
    "<% completed() %>",
    "<% ctx(\"delay\") %>",
    "<% ctx(\"greeting\") %>, <% result() %>",
    "<% ctx(\"greeting\") %>, <% result().stdout %>",
    "<% ctx().a1 %>",
    "<% ctx().a2 %>",
    "<% ctx().a3 %>",
    "<% ctx().a5 %>",
    "<% ctx().b1 %>",
    "<% ctx().b2 %>",
    "<% ctx().b4 %>",
    "<% ctx().cheer %>",
    "<% ctx().count + 1 %>",
    "<% ctx().extra %>",
    "<% ctx().file_path %>",
    "<% ctx().fork1 %>",
    "<% ctx().fork5 %>",
    "<% ctx().fork6 %>",
    "<% ctx().fork7 %>",
    "<% ctx().fork8 %>",
    "<% ctx().greeting %>",
    "<% ctx().ip %>",
    "<% ctx().message %>",
    "<% ctx().meta %>",
    "<% ctx().msg1 %>",
    "<% ctx().msg1 %> <% result() %>",
    "<% ctx().msg1 %> <% result().stdout %>",
    "<% ctx().msg2 %>",
    "<% ctx().msg3 %>",
    "<% ctx().msg4 %>",
    "<% ctx().progress %>",
    "<% ctx().task_name %> failed with exit code: <% ctx().task_exit_code %>",
    "<% ctx().vm_id %>",
    "<% ctx().vm_name %>",
    "<% ctx().work %>",
    "<% ctx(concurrency) %>",
    "<% ctx(count) %>",
    "<% ctx(items) %>",
    "<% ctx(members) %>",
    "<% ctx(sleep_delay) %>",
    "<% ctx(st2).api_url %>/executions/<% ctx(st2).action_execution_id %>",
    "<% ctx(stdout) %>",
    "<% ctx(t1_items) %>",
    "<% ctx(t2_items) %>",
    "<% ctx(xs) %>",
    "<% ctx(ys) %>",
    "<% failed()  %>",
    "<% failed() %>",
    "<% not ctx().fork1 %>",
    "<% not ctx().fork5 %>",
    "<% not ctx().fork6 %>",
    "<% not ctx().fork7 %>",
    "<% not ctx().fork8 %>",
    "<% not task(get_approval).result.response.containsKey(\"extra_output\") and "
    "task(get_approval).result.response.approved = true %>",
    "<% result().result %>",
    "<% result().result.vm_id %>",
    "<% result().stderr %>",
    "<% result().stdout %>",
    "<% st2kv(ctx().key_name, decrypt => ctx().decrypt, default => ctx().default) %>",
    "<% succeeded() %>",
    "<% succeeded() and ctx().count < 2 %>",
    "<% succeeded() and ctx().fork2 %>",
    "<% succeeded() and ctx().fork3 %>",
    "<% succeeded() and ctx().fork4 %>",
    "<% succeeded() and ctx().proceed %>",
    "<% succeeded() and ctx().which = \"a\" %>",
    "<% succeeded() and ctx().which = \"b\" %>",
    "<% succeeded() and ctx(a) %>",
    "<% succeeded() and ctx(b) %>",
    "<% succeeded() and not ctx().fork2 %>",
    "<% succeeded() and not ctx().fork3 %>",
    "<% succeeded() and not ctx().fork4 %>",
    "<% succeeded() and not ctx().proceed %>",
    "<% succeeded() and not ctx().which in list(a, b) %>",
    "<% succeeded() and not result() %>",
    "<% succeeded() and result() %>",
    "<% task().result.stdout %>",
    "<% task().task_name %>",
    "<% task(get_approval).result.response.approved = false %>",
    "<% task(get_approval).result.response.containsKey(\"extra_output\") and "
    "task(get_approval).result.response.approved = true %>",
    "<% task(get_approval).result.response.department_id %>",
    "<% task(get_approval).result.response.extra_output %>",
    "<% task(task1).result.items.select($.result.stdout) %>",
    "<% task(task1).result.result.context_value %>",
    "<% task(task1).result.stdout %>",
    "DNS for <% ctx().vm_name %> is registered.",
    "VM <% ctx().vm_name %> is created.",
    "VM <% ctx().vm_name %> is reconfigured.",
    "a4=<% result().result %> b4=<% ctx().a4 %>",
    "a4=<% result().stdout %> b4=<% ctx().a4 %>",
    "cheer=<% result() %> work=<% result() %>",
    "core.echo message=\"<% item() %>, resistance is futile!\"",
    "core.echo message=\"Approved by department <% ctx('approver_department_id') %>. "
    "Automation completed.\"",
    "core.echo message=\"Extra info <% ctx('custom_output') %>.\"",
    "core.echo message=<% ctx('greeting') %>",
    "core.echo message=<% ctx().b3 %>",
    "core.echo message=<% ctx().error %>",
    "core.echo message=<% ctx().name %>",
    "core.echo message=<% item() %>",
    "core.echo message=<% item(member), item(message) %>",
    "core.local cmd=\"rm -f <% ctx().file %>\"",
    "core.local cmd=\"rm -rf <% ctx().file %>\"",
    "core.local cmd=\"sleep 10; touch <% ctx().file %>\"",
    "core.local cmd=\"sleep 3; touch <% ctx().file %>\"",
    "core.local cmd=<% ctx(cmd) %> timeout=<% ctx(timeout) %>",
    "echo <% st2kv(ctx().key_name, decrypt => ctx().decrypt) %>",
    "error=<% result() %>",
    "greeting=<% result() %>",
    "greeting=<% result().stdout %>",
    "if [ ! -e <% ctx().file %> ]; then exit 1; fi",
    "items=<% result() %>",
    "member, message in <% zip(ctx(members), ctx(messages)) %>",
    "msg1=<% result() %>",
    "msg1=<% result().stdout %>",
    "msg2=<% result() %>",
    "msg2=<% result().stdout %>",
    "msg3=<% result() %>",
    "msg3=<% result().stdout %>",
    "printf '<% ctx().status_message %>'",
    "sleep 1; printf 'Registering <% ctx().vm_name %>...'",
    "t1_items=<% result() %>",
    "t2_items=<% result() %>",
    NULL};

Test (template_yaql, mixed_text)
{
    EXPECT_JSON ("Hello <% ctx(name) %>!", "\"Hello Stanley!\"");
    EXPECT_JSON ("<% ctx().a1 %><% ctx().a2 %>", "\"12\"");
    EXPECT_JSON ("<% ctx(fork1) %> and <% ctx(items) %> and <% null %>",
                 "\"True and [1, 2] and None\""); //  text as Orquesta writes it
    EXPECT_JSON ("<% ctx(name) %> {{ ctx('greeting') }}", "\"Stanley hello\"");
    EXPECT_JSON ("{{ ctx().a1 + 1 }}", "2");
    EXPECT_JSON ("{% if ctx().fork1 %}<% ctx().a5 %>{% endif %}", "\"5\"");
    EXPECT_JSON ("<% '%>' %>", "\"%>\""); //  a string may hold the closing mark
    EXPECT_JSON ("50 <%% not a tag", "\"50 <%% not a tag\"");
    //  Without the flag <% %> is text
    char *error = NULL;
    template_t *t = template_compile ("n", "<% 1 %>", &error);
    cr_assert_not_null (t, "%s", error);
    cr_expect_not (template_is_expression (t));
    json_t *v = template_render (t, NULL, NULL, &error);
    cr_expect_str_eq (json_string_value (v), "<% 1 %>");
    json_decref (v);
    template_destroy (&t);
    t = template_compile_with ("n", " <% 1 %> ", TEMPLATE_YAQL, &error);
    cr_assert_not_null (t, "%s", error);
    cr_expect (template_is_expression (t));
    template_destroy (&t);
    cr_expect (template_has_tags ("a <% b", TEMPLATE_YAQL));
    cr_expect_not (template_has_tags ("a <% b", 0));
    cr_expect_not (template_has_tags ("plain", TEMPLATE_YAQL));
    const char *truth[][2] = {{"0", "false"},  {"\"\"", "false"}, {"[]", "false"},
                              {"{}", "false"}, {"null", "false"}, {"0.0", "false"},
                              {"1", "true"},   {"\"0\"", "true"}, {"[0]", "true"}};
    for (size_t i = 0; i < sizeof truth / sizeof *truth; i++) {
        json_t *b = json_loads (truth[i][0], JSON_DECODE_ANY, NULL);
        cr_expect_eq (template_is_true (b), !strcmp (truth[i][1], "true"), "%s",
                      truth[i][0]);
        json_decref (b);
    }
}

Test (template_yaql, jinja_has_the_functions)
{
    char *error = NULL;
    const char *cases[][2] = {
        {"json('[1, 2]') | length", "2"},
        {"zip([1, 2], ['a', 'b'])", "[[1, \"a\"], [2, \"b\"]]"},
        {"zip([1], [2, 3], pad=0)", "[[1, 2], [0, 3]]"},
        {"len('abc') + len([1])", "4"},
        {"ctx('a1') + ctx().a2", "3"},
        {"st2kv(ctx().key_name, decrypt=true)", "\"kv:k1:clear\""},
        {"task_status('task2')", "\"failed\""},
        //  the one {{ }} of the examples pack's workflows (orquesta-st2kv-default)
        {"st2kv(ctx().key_name, decrypt=ctx().decrypt, default=ctx().default)",
         "\"kv:k1\""},
        {NULL, NULL}};
    for (int i = 0; cases[i][0]; i++) {
        json_t *v = template_evaluate ("j", cases[i][0], s_context, &s_hooks, &error);
        cr_assert_not_null (v, "%s: %s", cases[i][0], error);
        json_t *want = json_loads (cases[i][1], JSON_DECODE_ANY, NULL);
        cr_expect (json_equal (v, want), "%s", cases[i][0]);
        json_decref (want);
        json_decref (v);
    }
}

Test (template_yaql, errors_say_where_and_yaql)
{
    EXPECT_ERROR ("<% 1 +  %>", "template 'wf' line 1 column 9: yaql: expected a value, "
                                "found the expression's end");
    EXPECT_ERROR ("x\n  <% ctx(a1) ) %>", "line 2 column 14: yaql: unexpected ')'");
    EXPECT_ERROR ("<% 'abc %>", "line 1 column 1: yaql: unterminated string");
    EXPECT_JSON ("<% 1 ", "\"<% 1 \""); //  no %> after it: text, as Orquesta's
    EXPECT_ERROR ("<%  %>", "yaql: empty expression");
    EXPECT_ERROR ("<% [1, 2 %>", "yaql: expected ',', found the expression's end");
    EXPECT_ERROR ("<% {a: 1} %>", "yaql: unexpected character ':'");
    EXPECT_ERROR ("<% {a, 1} %>", "a dict's items are 'key => value'");
    EXPECT_ERROR ("<% $.l.select($ -> 1) %>", "'->' (a lambda) is not supported");
    EXPECT_ERROR ("<% $.x =~ 'a' %>", "is not supported");
    EXPECT_ERROR ("<% $.x?.y %>", "'?.' is not supported");
    EXPECT_ERROR ("<% $.x. %>", "expected a name after '.'");
    EXPECT_ERROR ("<% and %>", "expected a value, found 'and'");
    EXPECT_ERROR ("<% 1 # 2 %>", "unexpected character '#'");
    EXPECT_ERROR ("{{ 1 == 1 }} <% 1 == 1 %>", "line 1 column 19: yaql: '=='");
    EXPECT_ERROR ("{{ zz }}", "template 'wf' line 1 column 4: zz is not defined");
}

Test (template_yaql, fixtures_parse_and_evaluate)
{
    for (int i = 0; s_fixture_expressions[i]; i++) {
        char *error = NULL;
        json_t *v =
            template_evaluate_yaql (s_fixture_expressions[i], s_fixture_expressions[i],
                                    s_context, &s_hooks, &error);
        cr_expect_not_null (v, "%s", error);
        json_decref (v);
        free (error);
    }
    for (int i = 0; s_fixture_texts[i]; i++) {
        char *error = NULL;
        json_t *v = s_render (s_fixture_texts[i], &error);
        cr_expect_not_null (v, "%s", error);
        json_decref (v);
        free (error);
    }
    EXPECT_JSON ("<% item(member), item(message) %>", "[\"a\", \"x\"]");
    EXPECT_JSON ("<% zip(ctx(members), ctx(messages)) %>",
                 "[[\"a\", \"x\"], [\"b\", \"y\"], [\"c\", null]]");
    EXPECT_JSON ("<% succeeded() and not ctx().which in list(a, b) %>", "true");
    EXPECT_JSON (
        "<% not task(get_approval).result.response.containsKey(\"extra_output\") "
        "and task(get_approval).result.response.approved = true %>",
        "false");
    EXPECT_JSON ("core.local cmd=<% ctx(cmd) %> timeout=<% ctx(timeout) %>",
                 "\"core.local cmd=date timeout=60\"");
    EXPECT_JSON ("<% ctx(st2).api_url %>/executions/<% ctx(st2).action_execution_id %>",
                 "\"http://api/v1/executions/e1\"");
    EXPECT_JSON ("<% ctx().count + 1 %>", "2");
    char *error = NULL;
    json_t *v = s_render ("/tmp/<% str(random(1000000, 9999999)) %>", &error);
    cr_assert_not_null (v, "%s", error);
    cr_expect_eq (strlen (json_string_value (v)), strlen ("/tmp/") + 7);
    json_decref (v);
}

Test (template_yaql, render_value)
{
    json_t *value = json_pack ("{s:s, s:[s, i, {s:s}], s:s, s:n, s:s}", "greeting",
                               "<% ctx(greeting) %>", "list", "x=<% ctx().a1 %>", 7,
                               "deep", "{{ ctx().a2 }}", "<% ctx(b1) %>", "keyed", "none",
                               "plain", "no tags here");
    char *error = NULL;
    json_t *out = template_render_value ("tasks.t1.input", value, TEMPLATE_YAQL,
                                         s_context, &s_hooks, &error);
    cr_assert_not_null (out, "%s", error);
    json_t *want =
        json_pack ("{s:s, s:[s, i, {s:i}], s:s, s:n, s:s}", "greeting", "hello", "list",
                   "x=1", 7, "deep", 2, "x", "keyed", "none", "plain", "no tags here");
    char *dump = json_dumps (out, JSON_SORT_KEYS);
    cr_expect (json_equal (out, want), "%s", dump);
    free (dump);
    json_decref (want);
    json_decref (out);
    //  Without TEMPLATE_YAQL neither <% %> nor the keys are touched
    out = template_render_value ("p", value, 0, s_context, &s_hooks, &error);
    cr_assert_not_null (out, "%s", error);
    cr_expect_str_eq (json_string_value (json_object_get (out, "greeting")),
                      "<% ctx(greeting) %>");
    cr_expect_not_null (json_object_get (out, "<% ctx(b1) %>"));
    json_decref (out);
    //  An error names the string's place
    json_object_set_new (value, "bad", json_pack ("[s, s]", "ok", "<% ctx(zz) %>"));
    out = template_render_value ("tasks.t1.input", value, TEMPLATE_YAQL, s_context,
                                 &s_hooks, &error);
    cr_expect_null (out);
    cr_expect (error &&
                   strstr (error, "template 'tasks.t1.input.bad[1]' line 1 column 4: "
                                  "yaql: ctx(): ctx: no value for 'zz'"),
               "%s", error);
    free (error);
    json_decref (value);
    //  Nesting past TEMPLATE_MAX_DEPTH
    json_t *deep = json_string ("<% 1 %>");
    for (int i = 0; i < TEMPLATE_MAX_DEPTH + 5; i++)
        deep = json_pack ("[o]", deep);
    out = template_render_value ("d", deep, TEMPLATE_YAQL, NULL, NULL, &error);
    cr_expect_null (out);
    cr_expect (error && strstr (error, "nested deeper than"), "%s", error);
    free (error);
    json_decref (deep);
}

Test (template_yaql, bounds_and_malformed_input)
{
    //  Nesting
    char deep[4096] = "<% ";
    for (int i = 0; i < 500; i++)
        strcat (deep, "(");
    strcat (deep, "1 %>");
    EXPECT_ERROR (deep, "nested deeper than");
    strcpy (deep, "<% ");
    for (int i = 0; i < 500; i++)
        strcat (deep, "[");
    strcat (deep, " %>");
    EXPECT_ERROR (deep, "nested deeper than");
    for (int kind = 0; kind < 2; kind++) {
        strcpy (deep, "<% ");
        for (int i = 0; i < 500; i++)
            strcat (deep, kind ? "not " : "- ");
        strcat (deep, "1 %>");
        EXPECT_ERROR (deep, "nested deeper than");
    }
    strcpy (deep, "<% 1");
    for (int i = 0; i < 400; i++)
        strcat (deep, ".len()");
    strcat (deep, " %>");
    EXPECT_ERROR (deep, "yaql:");
    //  Iterations and output
    EXPECT_ERROR ("<% range(200000) %>", "more than 100000");
    EXPECT_ERROR ("<% range(400).select(range(400)) %>", "more than 100000");
    EXPECT_ERROR ("<% 'x' * 1048577 %>", "longer than");
    //  1 MB of input
    size_t n = 1024 * 1024;
    char *huge = (char *)malloc (n + 1);
    memset (huge, '(', n);
    memcpy (huge, "<% ", 3);
    huge[n] = 0;
    EXPECT_ERROR (huge, "template longer than");
    free (huge);
    //  Malformed: unbalanced, truncated, stray bytes; errors, never a crash
    const char *bad[] = {"<% (1 %>",
                         "<% 1) %>",
                         "<% [1 %>",
                         "<% {a => %>",
                         "<% f( %>",
                         "<% ctx(, a) %>",
                         "<% $. %>",
                         "<% 'a %>",
                         "<% \"a\\\" %>",
                         "<% `a %>",
                         "<% 1 2 %>",
                         "<% => %>",
                         "<% a => b %>",
                         "<% a[] %>",
                         "<% a[1, 2, 3] %>",
                         "<% ,1 %>",
                         "<% 1, %>",
                         "<% not %>",
                         "<% - %>",
                         "<% 99999999999999999999 %>",
                         "<% \x01 %>",
                         "<% \xff\xfe %>",
                         "<% <% 1 %> %>",
                         "<% dict(a => ) %>",
                         "<% list(a => 1) %>",
                         "<% f(a => 1, a) %>",
                         "<% [1, 2][x y] %>",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        char *error = NULL;
        json_t *v = s_render (bad[i], &error);
        cr_expect_null (v, "%s rendered", bad[i]);
        cr_expect (error && strstr (error, "template 'wf' line "), "%s: %s", bad[i],
                   error ? error : "(no error)");
        json_decref (v);
        free (error);
    }
    //  Random bytes from a fixed seed, as a fuzz: any outcome but a crash
    unsigned seed = 18;
    const char alphabet[] = "<%>$.()[]{},=!'\"` abc123+-*/ctx_modnotandor\n";
    for (int round = 0; round < 2000; round++) {
        char text[64] = "<% ";
        size_t len = 3 + (size_t)(rand_r (&seed) % 50);
        for (size_t i = 3; i < len; i++)
            text[i] = alphabet[rand_r (&seed) % (sizeof alphabet - 1)];
        text[len] = 0;
        char *error = NULL;
        json_t *v = s_render (text, &error);
        cr_expect (v || error, "%s: neither a value nor an error", text);
        json_decref (v);
        free (error);
    }
}
