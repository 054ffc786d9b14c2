/*  registry_yaml: YAML -> JSON with line numbers, limits and errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "actors/registry/registry_yaml.h"

static registry_yaml_t *
s_parse (const char *text, char *message)
{
    return registry_yaml_parse (text, strlen (text), "t.yaml", message, 512);
}

Test (registry_yaml, scalars_resolve_like_pyyaml)
{
    char message[512];
    registry_yaml_t *doc = s_parse ("a: yes\nb: Off\nc: ~\nd:\ne: 0x1f\nf: -12\ng: 1.5\n"
                                    "h: 2e3\ni: '42'\nj: \"true\"\nk: hello world\n"
                                    "l: 1.2.3\nm: !!str 7\nn: .inf\n",
                                    message);
    cr_assert_not_null (doc, "%s", message);
    json_t *root = registry_yaml_root (doc);
    cr_expect (json_is_true (json_object_get (root, "a")));
    cr_expect (json_is_false (json_object_get (root, "b")));
    cr_expect (json_is_null (json_object_get (root, "c")));
    cr_expect (json_is_null (json_object_get (root, "d")));
    cr_expect_eq (json_integer_value (json_object_get (root, "e")), 31);
    cr_expect_eq (json_integer_value (json_object_get (root, "f")), -12);
    cr_expect (json_is_real (json_object_get (root, "g")));
    cr_expect_float_eq (json_real_value (json_object_get (root, "h")), 2000.0, 1e-9);
    cr_expect_str_eq (json_string_value (json_object_get (root, "i")), "42");
    cr_expect_str_eq (json_string_value (json_object_get (root, "j")), "true");
    cr_expect_str_eq (json_string_value (json_object_get (root, "k")), "hello world");
    cr_expect_str_eq (json_string_value (json_object_get (root, "l")), "1.2.3");
    cr_expect_str_eq (json_string_value (json_object_get (root, "m")), "7");
    cr_expect_str_eq (json_string_value (json_object_get (root, "n")), ".inf");
    registry_yaml_destroy (&doc);
    cr_expect_null (doc);
    registry_yaml_destroy (&doc); //  safe twice
}

Test (registry_yaml, lines_of_nested_fields)
{
    char message[512];
    const char *text = "---\n"                    // 1
                       "name: timer_echo\n"       // 2
                       "trigger:\n"               // 3
                       "  type: core.st2.Timer\n" // 4
                       "criteria:\n"              // 5
                       "  trigger.payload.n:\n"   // 6
                       "    type: equal\n"        // 7
                       "    pattern: 3\n"         // 8
                       "list:\n"                  // 9
                       "  - a\n"                  // 10
                       "  - {b/c: 1, d~e: 2}\n";  // 11
    registry_yaml_t *doc = s_parse (text, message);
    cr_assert_not_null (doc, "%s", message);
    cr_expect_eq (registry_yaml_line (doc, "/name"), 2);
    cr_expect_eq (registry_yaml_line (doc, "/trigger/type"), 4);
    cr_expect_eq (registry_yaml_line (doc, "/criteria/trigger.payload.n"), 6);
    cr_expect_eq (registry_yaml_line (doc, "/criteria/trigger.payload.n/type"), 7);
    cr_expect_eq (registry_yaml_line (doc, "/list/1"), 11);
    cr_expect_eq (registry_yaml_line (doc, "/list/1/b~1c"), 11);
    cr_expect_eq (registry_yaml_line (doc, "/list/1/d~0e"), 11);
    //  unknown paths fall back to the nearest known ancestor
    cr_expect_eq (registry_yaml_line (doc, "/criteria/trigger.payload.n/nope"), 6);
    cr_expect_str_eq (registry_yaml_origin (doc), "t.yaml");
    registry_yaml_destroy (&doc);
}

Test (registry_yaml, anchors_and_aliases)
{
    char message[512];
    registry_yaml_t *doc = s_parse (
        "base: &b {type: string, required: true}\nx: *b\ny: [*b, *b]\n", message);
    cr_assert_not_null (doc, "%s", message);
    json_t *root = registry_yaml_root (doc);
    cr_expect (json_equal (json_object_get (root, "base"), json_object_get (root, "x")));
    cr_expect_eq (json_array_size (json_object_get (root, "y")), 2);
    registry_yaml_destroy (&doc);
}

Test (registry_yaml, errors_name_file_and_line)
{
    struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"a: 1\nb: 2\na: 3\n", "t.yaml:3: /: duplicate key \"a\""},
        {"a:\n  - [1, 2\n", "t.yaml:"},
        {"? [1, 2]\n: x\n", "mapping keys"},
        {"a: *nothing\n", "t.yaml:1: alias *nothing"},
        {"a: \"unterminated\n", "t.yaml:"},
        {"a:\n\tb: 1\n", "t.yaml:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char message[512] = "";
        registry_yaml_t *doc = s_parse (cases[i].text, message);
        cr_expect_null (doc, "case %zu parsed", i);
        cr_expect (strstr (message, cases[i].expect) != NULL, "case %zu: '%s' lacks '%s'",
                   i, message, cases[i].expect);
        registry_yaml_destroy (&doc);
    }
}

Test (registry_yaml, limits_stop_alias_bombs_and_deep_nesting)
{
    //  Billion laughs: each level doubles; must stop at the node limit.
    char text[4096] = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 12; i++) {
        char line[256];
        snprintf (line, sizeof line, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
                  i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        strcat (text, line);
    }
    char message[512] = "";
    registry_yaml_t *doc = s_parse (text, message);
    cr_expect_null (doc);
    cr_expect (strstr (message, "nodes") != NULL, "%s", message);

    char *deep = (char *)malloc (20000);
    size_t n = 0;
    for (int i = 0; i < 5000; i++)
        deep[n++] = '[';
    for (int i = 0; i < 5000; i++)
        deep[n++] = ']';
    deep[n] = 0;
    doc = registry_yaml_parse (deep, n, "deep.yaml", message, sizeof message);
    cr_expect_null (doc);
    cr_expect (strstr (message, "deep") != NULL, "%s", message);
    free (deep);
}

Test (registry_yaml, load_from_file_and_missing_file)
{
    char path[] = "/tmp/attune-yaml-XXXXXX";
    int fd = mkstemp (path);
    cr_assert (fd >= 0);
    const char *text = "name: x\nvalue: 3\n";
    cr_assert_eq (write (fd, text, strlen (text)), (ssize_t)strlen (text));
    close (fd);
    char message[512];
    registry_yaml_t *doc = registry_yaml_load (path, message, sizeof message);
    cr_assert_not_null (doc, "%s", message);
    cr_expect_eq (
        json_integer_value (json_object_get (registry_yaml_root (doc), "value")), 3);
    json_t *taken = registry_yaml_take_root (doc);
    cr_expect (json_is_object (taken));
    json_decref (taken);
    registry_yaml_destroy (&doc);
    unlink (path);
    doc = registry_yaml_load (path, message, sizeof message);
    cr_expect_null (doc);
    cr_expect (strstr (message, "No such file") != NULL, "%s", message);
}

//  A file is read whole up to the limit, and one past it is refused by
//  name; an empty file is read too
Test (registry_yaml, read_sizes_up_to_the_limit)
{
    char path[] = "/tmp/attune-yaml-XXXXXX";
    int fd = mkstemp (path);
    cr_assert (fd >= 0);
    close (fd);
    char message[512];
    size_t size = 99;
    char *text = registry_yaml_read (path, &size, message, sizeof message);
    cr_assert_not_null (text, "%s", message);
    cr_expect_eq (size, 0);
    cr_expect_str_eq (text, "");
    free (text);
    const size_t sizes[] = {REGISTRY_YAML_MAX_SIZE, REGISTRY_YAML_MAX_SIZE + 1};
    for (int i = 0; i < 2; i++) {
        FILE *file = fopen (path, "w");
        cr_assert_not_null (file);
        for (size_t n = 0; n < sizes[i]; n++)
            fputc (n % 64 == 63 ? '\n' : '#', file); //  comment lines
        fclose (file);
        text = registry_yaml_read (path, &size, message, sizeof message);
        if (i == 0) {
            cr_assert_not_null (text, "%s", message);
            cr_expect_eq (size, REGISTRY_YAML_MAX_SIZE);
            cr_expect_eq (strlen (text), REGISTRY_YAML_MAX_SIZE);
            free (text);
        } else {
            cr_expect_null (text);
            cr_expect (strstr (message, path) && strstr (message, "larger than 1048576"),
                       "%s", message);
        }
    }
    unlink (path);
}

Test (registry_yaml, random_garbage_never_crashes)
{
    srand (12345);
    char buffer[256];
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(rand () % (int)sizeof buffer);
        const char alphabet[] = "ab: -[]{}&*!|>'\"\n\t#%@`,?~01";
        for (size_t j = 0; j < n; j++)
            buffer[j] = rand () % 4 ? alphabet[rand () % (int)(sizeof alphabet - 1)]
                                    : (char)(rand () & 0xff);
        char message[512];
        registry_yaml_t *doc =
            registry_yaml_parse (buffer, n, "r.yaml", message, sizeof message);
        registry_yaml_destroy (&doc);
    }
}
