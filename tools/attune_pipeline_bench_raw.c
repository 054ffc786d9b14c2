/*  attune_pipeline_bench_raw: the raw libraries under the pipeline,
    measured in the same run so the pipeline's figures read as ratios
    (attune_pipeline_bench_raw.h). */
#include "tools/attune_pipeline_bench_raw.h"

#include <fcntl.h>
#include <lmdb.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/proto_envelope.h"

extern char **environ;

int
bench_compare_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

double
bench_percentile (int64_t *values, size_t count, double p)
{
    if (!count)
        return 0;
    size_t index = (size_t)(p * (double)(count - 1));
    return (double)values[index];
}

//  Raw fdatasync: `count` times, write `pages` 4 KiB pages at random places
//  of a 64 MiB file (written out first) and fdatasync. p50/p99 in *p50, *p99.
void
bench_raw_fdatasync (const char *dir, size_t count, int pages, double *p50, double *p99)
{
    char path[4300];
    snprintf (path, sizeof path, "%s/raw-fdatasync", dir);
    int fd = open (path, O_RDWR | O_CREAT | O_TRUNC, 0640);
    if (fd < 0) {
        fprintf (stderr, "bench: cannot create %s\n", path);
        exit (1);
    }
    static char page[4096];
    const size_t file_pages = 16384; //  64 MiB, as an LMDB map that is in use
    for (size_t i = 0; i < file_pages; i++)
        if (pwrite (fd, page, sizeof page, (off_t)(i * sizeof page)) != sizeof page)
            exit (1);
    if (fdatasync (fd) != 0)
        exit (1);
    int64_t *lat = (int64_t *)calloc (count, sizeof (int64_t));
    unsigned seed = 12345;
    for (size_t i = 0; i < count; i++) {
        int64_t t0 = proto_now_usec ();
        for (int p = 0; p < pages; p++) {
            page[0] = (char)i;
            off_t at = (off_t)((size_t)rand_r (&seed) % file_pages * sizeof page);
            if (pwrite (fd, page, sizeof page, at) != sizeof page)
                exit (1);
        }
        if (fdatasync (fd) != 0)
            exit (1);
        lat[i] = proto_now_usec () - t0;
    }
    qsort (lat, count, sizeof (int64_t), bench_compare_i64);
    *p50 = bench_percentile (lat, count, 0.50) / 1000.0;
    *p99 = bench_percentile (lat, count, 0.99) / 1000.0;
    free (lat);
    close (fd);
    unlink (path);
}

//  The raw LMDB chain: three environments under dir, `count` rounds at
//  `rate` per second; a round is one durable transaction of one 200-byte put
//  in each environment, one after the other. Prints p50/p99/max of a round.
void
bench_raw_lmdb_chain (const char *dir, size_t count, double rate, double *p50,
                      double *p99)
{
    MDB_env *envs[3];
    MDB_dbi dbis[3];
    for (int e = 0; e < 3; e++) {
        char path[4300];
        snprintf (path, sizeof path, "%s/raw-lmdb-%d", dir, e);
        if (mkdir (path, 0750) != 0 || mdb_env_create (&envs[e]) != 0 ||
            mdb_env_set_mapsize (envs[e], (size_t)64 << 20) != 0 ||
            mdb_env_open (envs[e], path, MDB_NOTLS, 0640) != 0) {
            fprintf (stderr, "bench: cannot open an LMDB environment in %s\n", path);
            exit (1);
        }
        MDB_txn *txn;
        if (mdb_txn_begin (envs[e], NULL, 0, &txn) != 0 ||
            mdb_dbi_open (txn, NULL, 0, &dbis[e]) != 0 || mdb_txn_commit (txn) != 0)
            exit (1);
    }
    char value[200];
    memset (value, 'v', sizeof value);
    int64_t *lat = (int64_t *)calloc (count, sizeof (int64_t));
    int64_t start = proto_now_usec ();
    for (size_t i = 0; i < count; i++) {
        int64_t due = start + (int64_t)((double)i * 1e6 / rate);
        struct timespec until = {(time_t)(due / 1000000), (long)(due % 1000000) * 1000};
        clock_nanosleep (CLOCK_REALTIME, TIMER_ABSTIME, &until, NULL);
        //  Measured from its start: the chain cannot batch, so at this rate
        //  rounds that counted from when they were due would never catch up
        //  after a stall of the disk. Its max shows such stalls, which every
        //  event the pipeline takes meanwhile waits through.
        int64_t t0 = proto_now_usec ();
        uint8_t key[8];
        uint64_t id = i + 1;
        for (int b = 7; b >= 0; b--, id >>= 8)
            key[b] = (uint8_t)(id & 0xff);
        for (int e = 0; e < 3; e++) {
            MDB_txn *txn;
            MDB_val k = {sizeof key, key}, v = {sizeof value, value};
            if (mdb_txn_begin (envs[e], NULL, 0, &txn) != 0 ||
                mdb_put (txn, dbis[e], &k, &v, MDB_APPEND) != 0 ||
                mdb_txn_commit (txn) != 0) {
                fprintf (stderr, "bench: raw LMDB commit failed\n");
                exit (1);
            }
        }
        lat[i] = proto_now_usec () - t0;
    }
    for (int e = 0; e < 3; e++)
        mdb_env_close (envs[e]);
    qsort (lat, count, sizeof (int64_t), bench_compare_i64);
    char label[96];
    snprintf (label, sizeof label, "raw LMDB chain, 3 envs at %.0f/s (%zu)", rate, count);
    *p50 = bench_percentile (lat, count, 0.50) / 1000.0;
    *p99 = bench_percentile (lat, count, 0.99) / 1000.0;
    printf ("  %-38s %9s          p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms\n", label,
            "", *p50, *p99, (double)lat[count - 1] / 1000.0);
    free (lat);
}

//  Raw posix_spawn loop: `count` runs of argv (default sh -c 'echo hello'),
//  `parallel` at a time, stdout to a pipe that is read (as the worker does).
double
bench_raw_spawn_argv (size_t count, int parallel, char *argv[])
{
    int64_t t0 = proto_now_usec ();
    size_t started = 0, finished = 0;
    int running = 0;
    while (finished < count) {
        while (running < parallel && started < count) {
            int fds[2];
            if (pipe (fds) != 0)
                exit (1);
            posix_spawn_file_actions_t actions;
            posix_spawn_file_actions_init (&actions);
            posix_spawn_file_actions_adddup2 (&actions, fds[1], 1);
            posix_spawn_file_actions_addclose (&actions, fds[0]);
            pid_t pid;
            if (posix_spawn (&pid, argv[0], &actions, NULL, argv, environ) != 0)
                exit (1);
            posix_spawn_file_actions_destroy (&actions);
            close (fds[1]);
            char buffer[64];
            while (read (fds[0], buffer, sizeof buffer) > 0)
                ;
            close (fds[0]);
            started++;
            running++;
        }
        int status;
        if (waitpid (-1, &status, 0) > 0) {
            running--;
            finished++;
        }
    }
    return (double)count / ((double)(proto_now_usec () - t0) / 1e6);
}

double
bench_raw_spawn (size_t count, int parallel)
{
    char *argv[] = {"/bin/sh", "-c", "echo hello", NULL};
    return bench_raw_spawn_argv (count, parallel, argv);
}
