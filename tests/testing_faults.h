/*  testing_faults: what the suites of issue 14's fault campaign share
    (tests/test_faults_kill.c, tests/test_faults_worker.c,
    tests/test_faults_fuzz.c): whether the build runs under a sanitizer
    (the load is lighter then), a test's seed (printed, replaced by
    ATTUNE_FAULTS_SEED), a random stream that is the same for a seed on
    every platform, and the status of an execution record.
*/
#ifndef TESTING_FAULTS_H_INCLUDED
#define TESTING_FAULTS_H_INCLUDED

#include "tests/testing_api.h"

//  The seed of a test: ATTUNE_FAULTS_SEED when set, else the fixed one.
//  Printed as "faults::TEST: seed N".
static inline uint64_t
testing_faults_seed (const char *test, uint64_t fixed)
{
    const char *text = getenv ("ATTUNE_FAULTS_SEED");
    uint64_t seed = text && *text ? strtoull (text, NULL, 0) : fixed;
    cr_log_info ("%s: seed %" PRIu64 " (ATTUNE_FAULTS_SEED replaces it)", test, seed);
    fprintf (stderr, "faults::%s: seed %" PRIu64 "\n", test, seed);
    return seed;
}

//  splitmix64: the same stream for the same seed on every platform
static inline uint64_t
testing_faults_rand (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

//  An execution record's status (api.execution.get or .list), or NULL.
static inline const char *
testing_faults_status (const json_t *record)
{
    return json_string_value (json_object_get (record, "status"));
}

#endif
