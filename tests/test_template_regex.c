/*  template_regex: Python's re on PCRE2 (match, search, fullmatch, sub,
    findall), what POSIX regex.h could not do. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "template/template_regex.h"

static int
s_test (const char *pattern, int flags, template_regex_mode_t mode, const char *subject)
{
    char *error = NULL;
    int rc = template_regex_test (pattern, flags, mode, subject, &error);
    cr_assert (rc >= 0, "%s: %s", pattern, error);
    return rc;
}

Test (template_regex, modes_as_python)
{
    cr_expect_eq (s_test ("b", 0, TEMPLATE_REGEX_MATCH, "abc"), 0);
    cr_expect_eq (s_test ("b", 0, TEMPLATE_REGEX_SEARCH, "abc"), 1);
    cr_expect_eq (s_test ("a", 0, TEMPLATE_REGEX_MATCH, "abc"), 1);
    cr_expect_eq (s_test ("ab", 0, TEMPLATE_REGEX_FULLMATCH, "abc"), 0);
    cr_expect_eq (s_test ("abc", 0, TEMPLATE_REGEX_FULLMATCH, "abc"), 1);
    cr_expect_eq (s_test ("a.c", 0, TEMPLATE_REGEX_MATCH, "a\nc"), 0);
    cr_expect_eq (s_test ("a.c", TEMPLATE_REGEX_DOTALL, TEMPLATE_REGEX_MATCH, "a\nc"), 1);
    cr_expect_eq (s_test ("ABC", TEMPLATE_REGEX_IGNORECASE, TEMPLATE_REGEX_MATCH, "abc"),
                  1);
    cr_expect_eq (
        s_test ("^b$", TEMPLATE_REGEX_MULTILINE, TEMPLATE_REGEX_SEARCH, "a\nb\n"), 1);
    cr_expect_eq (s_test ("a\\Z", 0, TEMPLATE_REGEX_SEARCH, "a\n"),
                  0); //  \Z: the very end
    cr_expect_eq (s_test ("a$", 0, TEMPLATE_REGEX_SEARCH, "a\n"), 1);
}

Test (template_regex, python_syntax_posix_lacks)
{
    cr_expect_eq (s_test ("^\\d{3}-\\d{4}$", 0, TEMPLATE_REGEX_MATCH, "555-1234"), 1);
    cr_expect_eq (s_test ("\\w+\\s\\w+", 0, TEMPLATE_REGEX_FULLMATCH, "héllo wörld"), 1);
    cr_expect_eq (s_test ("\\d", 0, TEMPLATE_REGEX_SEARCH, "٣"), 1); //  Unicode digit
    cr_expect_eq (s_test ("(?i)error", 0, TEMPLATE_REGEX_SEARCH, "An ERROR here"), 1);
    cr_expect_eq (s_test ("foo(?=bar)", 0, TEMPLATE_REGEX_SEARCH, "foobaz"), 0);
    cr_expect_eq (s_test ("foo(?=bar)", 0, TEMPLATE_REGEX_SEARCH, "foobar"), 1);
    cr_expect_eq (s_test ("(?<!x)y", 0, TEMPLATE_REGEX_SEARCH, "xy"), 0);
    cr_expect_eq (s_test ("(?<!x)y", 0, TEMPLATE_REGEX_SEARCH, "ay"), 1);
    cr_expect_eq (s_test ("(?P<word>ab)(?P=word)", 0, TEMPLATE_REGEX_FULLMATCH, "abab"),
                  1);
    char *error = NULL;
    template_regex_t *re = template_regex_new ("<(.+?)>", 0, &error);
    cr_assert_not_null (re);
    json_t *groups = NULL;
    cr_expect_eq (
        template_regex_find (re, "<a><b>", TEMPLATE_REGEX_SEARCH, &groups, &error), 1);
    cr_expect_str_eq (json_string_value (json_array_get (groups, 1)), "a"); //  lazy
    json_decref (groups);
    template_regex_destroy (&re);
    template_regex_destroy (&re);
}

Test (template_regex, sub_and_findall)
{
    char *error = NULL;
    template_regex_t *re = template_regex_new ("(\\d+)", 0, &error);
    char *out = template_regex_sub (re, "a1b22c", "[\\1]", 0, &error);
    cr_expect_str_eq (out, "a[1]b[22]c");
    free (out);
    out = template_regex_sub (re, "a1b22c", "\\g<1>\\n", 1, &error);
    cr_expect_str_eq (out, "a1\nb22c");
    free (out);
    out = template_regex_sub (re, "a1", "\\2", 0, &error);
    cr_expect_null (out);
    cr_expect (strstr (error, "invalid group reference"), "%s", error);
    free (error);
    error = NULL;
    json_t *all = template_regex_findall (re, "a1b22c333", &error);
    cr_expect_eq (json_array_size (all), 3);
    cr_expect_str_eq (json_string_value (json_array_get (all, 2)), "333");
    json_decref (all);
    template_regex_destroy (&re);
    re = template_regex_new ("", 0, &error);
    out = template_regex_sub (re, "ab", "-", 0, &error);
    cr_expect_str_eq (out, "-a-b-");
    free (out);
    template_regex_destroy (&re);
}

Test (template_regex, errors_and_cache)
{
    char *error = NULL;
    cr_expect_null (template_regex_new ("(", 0, &error));
    cr_expect (strstr (error, "invalid regular expression '(' at offset 1"), "%s", error);
    free (error);
    error = NULL;
    cr_expect_eq (template_regex_test ("(a+)+$", 0, TEMPLATE_REGEX_SEARCH,
                                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
                                       &error),
                  -1);
    cr_expect (strstr (error, "limit"), "%s", error);
    free (error);
    error = NULL;
    template_regex_cache_t *cache = template_regex_cache_new ();
    template_regex_t *a = template_regex_cache_get (cache, "a", 0, &error);
    cr_expect_eq (template_regex_cache_get (cache, "a", 0, &error), a);
    cr_expect_neq (
        template_regex_cache_get (cache, "a", TEMPLATE_REGEX_IGNORECASE, &error), a);
    char pattern[16];
    for (int i = 0; i < 3 * TEMPLATE_REGEX_CACHE; i++) {
        snprintf (pattern, sizeof pattern, "p%d", i);
        cr_expect_not_null (template_regex_cache_get (cache, pattern, 0, &error));
    }
    template_regex_cache_destroy (&cache);
    template_regex_cache_destroy (&cache);
}
