/*  testing: what the Criterion suites share (temporary directories, files).
    Included by tests only; every function asserts instead of returning
    errors, so a broken fixture fails the test that uses it.
*/
#ifndef TESTING_H_INCLUDED
#define TESTING_H_INCLUDED

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  A new directory <base>/<prefix>-XXXXXX, base being $ATTUNE_TEST_TMP
//  (ctest sets it to the build's tmp/) or /tmp.
static inline void
testing_tmpdir (char *out, size_t size, const char *prefix)
{
    const char *base = getenv ("ATTUNE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir (base, 0750); //  ctest's directory may not exist yet
    snprintf (out, size, "%s/%s-XXXXXX", base, prefix);
    cr_assert_not_null (mkdtemp (out), "mkdtemp %s", out);
}

//  Remove a directory tree (best effort: a leftover is reported, not fatal).
static inline void
testing_rmtree (const char *dir)
{
    if (!dir || !*dir)
        return;
    char command[PATH_MAX + 32];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    if (system (command) != 0)
        fprintf (stderr, "could not remove %s\n", dir);
}

//  Write `text` to <dir>/<path>, creating the directories on the way.
static inline void
testing_write (const char *dir, const char *path, const char *text)
{
    char full[PATH_MAX + 256];
    snprintf (full, sizeof full, "%s/%s", dir, path);
    char parent[PATH_MAX + 256];
    snprintf (parent, sizeof parent, "%s", full);
    *strrchr (parent, '/') = 0;
    char command[PATH_MAX + 300];
    snprintf (command, sizeof command, "mkdir -p '%s'", parent);
    cr_assert_eq (system (command), 0, "%s", command);
    FILE *file = fopen (full, "w");
    cr_assert_not_null (file, "cannot write %s", full);
    fputs (text, file);
    fclose (file);
}

#endif
