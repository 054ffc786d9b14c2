/*  st2_memory: the memory the registry's catalog keeps per loaded action,
    measured on a generated pack of 3,600 StackStorm-shaped actions (a
    description, a runner with its inherited parameters, three parameters
    of its own): at most 8 KB each (issue 17). */
#include <criterion/criterion.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "actors/registry/registry_catalog.h"

#define S_ACTIONS 3600

static char s_root[256];

static void
s_setup (void)
{
    const char *base = getenv ("ATTUNE_TEST_TMP");
    if (base)
        mkdir (base, 0755);
    snprintf (s_root, sizeof s_root, "%s/st2-memory-XXXXXX", base ? base : "/tmp");
    cr_assert_not_null (mkdtemp (s_root));
}

static void
s_teardown (void)
{
    char command[512];
    snprintf (command, sizeof command, "rm -rf '%s'", s_root);
    cr_expect_eq (system (command), 0);
}

TestSuite (st2_memory, .init = s_setup, .fini = s_teardown);

static void
s_generate (void)
{
    char path[512];
    snprintf (path, sizeof path, "%s/big", s_root);
    mkdir (path, 0755);
    snprintf (path, sizeof path, "%s/big/actions", s_root);
    mkdir (path, 0755);
    snprintf (path, sizeof path, "%s/big/pack.yaml", s_root);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs ("ref: big\nname: big\nversion: 1.0.0\n", file);
    fclose (file);
    const char *runners[] = {"local-shell-cmd", "python-script", "http-request",
                             "local-shell-script"};
    for (int i = 0; i < S_ACTIONS; i++) {
        snprintf (path, sizeof path, "%s/big/actions/a%d.yaml", s_root, i);
        file = fopen (path, "w");
        cr_assert_not_null (file);
        const char *runner = runners[i % 4];
        fprintf (file,
                 "name: object.method%d\nrunner_type: %s\nentry_point: run.py\n"
                 "description: Call the method number %d of the service's API and "
                 "return what it answers.\nparameters:\n"
                 "  id:\n    type: string\n    description: The object's id.\n"
                 "    required: true\n"
                 "  limit:\n    type: integer\n    description: At most this many.\n"
                 "    default: 100\n"
                 "  verbose:\n    type: boolean\n    default: false\n",
                 i, runner, i);
        if (i % 4 == 2)
            fputs ("  url:\n    default: https://api.example.com/v1\n", file);
        fclose (file);
    }
}

Test (st2_memory, at_most_8_kb_per_loaded_action, .timeout = 120)
{
    s_generate ();
    malloc_trim (0);
    struct mallinfo2 before = mallinfo2 ();
    registry_catalog_t *catalog = registry_catalog_new ();
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    registry_catalog_load_dir (catalog, s_root, errors);
    cr_assert_eq (zlist_size (errors), 0, "%s",
                  zlist_size (errors) ? (char *)zlist_first (errors) : "");
    zlist_destroy (&errors);
    size_t actions = json_object_size (registry_catalog_actions (catalog));
    cr_assert_eq (actions, S_ACTIONS);
    malloc_trim (0);
    struct mallinfo2 after = mallinfo2 ();
    double per = (double)(after.uordblks - before.uordblks) / (double)actions;
    fprintf (stderr, "st2 memory: %zu actions, %.0f bytes of heap per action\n", actions,
             per);
    cr_expect_leq (per, 8192.0, "%.0f bytes per action", per);
    registry_catalog_destroy (&catalog);
}
