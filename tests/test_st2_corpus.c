/*  st2_corpus: every pack of StackStorm's contrib/ (../shared/st2-packs,
    copied to a temporary folder) loads; the only definitions refused are
    those whose runner attune does not have (named), and errors name file,
    line and field. */
#include "tests/testing.h"
#include "actors/registry/registry_catalog.h"
#include "actors/registry/registry_pack.h"

#ifndef ATTUNE_ST2_PACKS
#define ATTUNE_ST2_PACKS ATTUNE_SHARED_DIR "/st2-packs"
#endif

static char s_root[256];

static void
s_setup (void)
{
    testing_tmpdir (s_root, sizeof s_root, "st2-corpus");
    char command[1024];
    snprintf (command, sizeof command, "cp -r '%s'/. '%s'/", ATTUNE_ST2_PACKS, s_root);
    cr_assert_eq (system (command), 0, "%s", command);
}

static void
s_teardown (void)
{
    testing_rmtree (s_root);
}

TestSuite (st2_corpus, .init = s_setup, .fini = s_teardown);

//  How many files a folder of the corpus holds (find | wc -l).
static int
s_count (const char *pattern)
{
    char command[1024];
    snprintf (command, sizeof command, "ls %s/%s 2>/dev/null | wc -l", s_root, pattern);
    FILE *pipe = popen (command, "r");
    int count = 0;
    if (pipe) {
        if (fscanf (pipe, "%d", &count) != 1)
            count = 0;
        pclose (pipe);
    }
    return count;
}

Test (st2_corpus, every_definition_loads_but_those_of_runners_attune_lacks, .timeout = 60)
{
    registry_catalog_t *catalog = registry_catalog_new ();
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    int64_t start = zclock_usecs ();
    int packs = registry_catalog_load_dir (catalog, s_root, errors);
    int64_t took = zclock_usecs () - start;
    cr_assert_eq (packs, 8, "the eight packs load");
    int workflows = 0, absent = 0, dependent = 0, other = 0;
    for (char *e = (char *)zlist_first (errors); e; e = (char *)zlist_next (errors)) {
        if (strstr (e, "runner_type: runner \"orquesta\" not available yet") ||
            strstr (e, "runner_type: runner \"action-chain\" not available yet"))
            workflows++;
        else if (strstr (e, "runner_type: runner \"winrm-") &&
                 strstr (e, "attune does not have it"))
            absent++;
        else if (strstr (e, "action.ref: unknown action \"chatops.post_result\"") ||
                 strstr (e, "action.ref: unknown action \"slack.post_message\"")) {
            //  rules on a workflow refused above (chatops.post_result is
            //  orquesta) or on a pack outside the corpus (slack)
            dependent++;
            fprintf (stderr, "rule refused, its action is not loaded: %s\n", e);
        } else {
            other++;
            fprintf (stderr, "refused: %s\n", e);
        }
    }
    size_t actions = json_object_size (registry_catalog_actions (catalog));
    size_t rules = json_object_size (registry_catalog_rules (catalog));
    int files = s_count ("*/actions/*.yaml") + s_count ("*/actions/*.yml");
    fprintf (stderr,
             "st2 corpus: %d packs, %d action files: %zu actions loaded, %d workflow "
             "actions refused (issue 18), %d winrm actions refused, %d other "
             "refusals; %zu rules loaded, %d refused for their action; loaded in "
             "%.1f ms\n",
             packs, files, actions, workflows, absent, other, rules, dependent,
             (double)took / 1000.0);
    cr_expect_eq (other, 0, "no other definition is refused");
    cr_expect_eq ((int)actions + workflows + absent, files,
                  "every action file is accounted for");
    //  Dotted names and the refs split at the first dot
    cr_expect_not_null (registry_catalog_action (catalog, "core.local"));
    cr_expect_not_null (registry_catalog_action (catalog, "core.http"));
    cr_expect_not_null (registry_catalog_trigger (catalog, "hello_st2.event1"),
                        "trigger types of sensors/ load");
    //  Workflows (orquesta, action-chain) load since the workflow engine
    //  runs them (issue 18), checked as their pack loads (two chains whose
    //  on-failure names a node that is not there are warned of and load, as
    //  StackStorm registers them); two rules still name an action of a pack
    //  outside the corpus (slack)
    cr_expect_eq (workflows, 0);
    cr_expect_eq (dependent, 2);
    zlist_destroy (&errors);
    registry_catalog_destroy (&catalog);
}
