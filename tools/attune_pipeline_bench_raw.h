/*  attune_pipeline_bench_raw: the raw libraries under the pipeline
    (fdatasync, an LMDB chain, posix_spawn), measured by
    attune-pipeline-bench in the same run and data directory, so its
    figures read as ratios to them; and the bench's sort and percentile. */
#ifndef ATTUNE_PIPELINE_BENCH_RAW_H_INCLUDED
#define ATTUNE_PIPELINE_BENCH_RAW_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  qsort comparison of int64_t values
int bench_compare_i64 (const void *a, const void *b);
//  The value at fraction p (0..1) of `count` sorted values, 0 when none
double bench_percentile (int64_t *values, size_t count, double p);

//  `count` times: write `pages` 4 KiB pages at random places of a 64 MiB
//  file under `dir`, then fdatasync. p50/p99 in ms.
void bench_raw_fdatasync (const char *dir, size_t count, int pages, double *p50,
                          double *p99);
//  Three LMDB environments under `dir`, `count` rounds at `rate` per second,
//  each one durable put in each environment in series; prints p50/p99/max
//  of a round, p50/p99 in ms.
void bench_raw_lmdb_chain (const char *dir, size_t count, double rate, double *p50,
                           double *p99);
//  `count` posix_spawn runs of argv, `parallel` at a time, stdout read from
//  a pipe. Runs per second.
double bench_raw_spawn_argv (size_t count, int parallel, char *argv[]);
//  ... of /bin/sh -c 'echo hello'
double bench_raw_spawn (size_t count, int parallel);

#endif
