/*  attune_scale_bench: what the files of `attune-scale-bench` share
    (tools/attune_scale_bench.c tells what it measures).

        attune_scale_bench.c         main: options, the two parts, the results
        attune_scale_bench_deploy.c  processes: a core and workers on free ports
        attune_scale_bench_cpu.c     CPU from /proc, raw spawn, fdatasync, load
        attune_scale_bench_client.c  the api client and pipelined batches
*/
#ifndef ATTUNE_SCALE_BENCH_H_INCLUDED
#define ATTUNE_SCALE_BENCH_H_INCLUDED

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "proto/proto_envelope.h"
#include "proto/proto_json.h"
#include "bus/bus_client.h"
#include "bus/bus_facts.h"

#ifndef ATTUNE_SOURCE_DIR
#define ATTUNE_SOURCE_DIR "."
#endif

extern char **environ;

extern char scale_root[4096];    //  the run's directory
extern char scale_attuned[4200]; //  the attuned binary
extern volatile sig_atomic_t scale_interrupted;
extern long scale_ticks; //  clock ticks per second (/proc times)

#define SCALE_WINDOW     500   //  api requests outstanding at most
#define SCALE_STALL_MS   30000 //  no progress for this long: a timeout
#define SCALE_FLEET_SLOT 4     //  slots of each worker of the fleet (part 2)
#define SCALE_MAX_NAMES  256

//  ---------------------------------------------------------------------------
//  Processes

typedef struct {
    pid_t pid;
    char name[32];
    char log[4300];
    bool up;
} scale_proc_t;

typedef struct {
    char dir[4200];      //  this deployment's directory
    char api[64];        //  api.requests
    char facts[64];      //  api.facts
    int executor_port;   //  executor.commands
    scale_proc_t *procs; //  [0] the core, then the workers
    size_t count, cap;
} scale_deploy_t;

//  ---------------------------------------------------------------------------
//  CPU from /proc

typedef struct {
    int64_t self;     //  utime + stime of the process (ticks)
    int64_t children; //  cutime + cstime: its reaped children
} scale_cpu_t;

typedef struct {
    scale_cpu_t *procs;
    int tids[64];
    int64_t ticks[64];
    size_t threads;
    int64_t bench_usec;
    int64_t busy, idle; //  the whole machine (/proc/stat, ticks)
    int64_t wall_usec;
} scale_cpu_snap_t;

typedef struct {
    double core, core_thread, workers, shells, bench; //  % of one cpu
    double other, idle; //  the rest of the machine's busy time; its idle time
} scale_cpu_use_t;

//  ---------------------------------------------------------------------------
//  The api client

typedef struct {
    bus_client_t *api; //  bus/bus_client.h
    bus_sub_t *sub;
} scale_client_t;

//  ---------------------------------------------------------------------------
//  A pipelined batch of runs

typedef struct {
    size_t count;     //  runs asked for
    size_t accepted;  //  api.reply
    size_t rejected;  //  api.error other than unavailable (no execution)
    size_t resent;    //  unavailable: sent again with the same id
    size_t completed; //  execution.completed facts
    size_t other;     //  other terminal facts (failed, timeout, ...)
    double seconds;   //  first request to the last terminal fact
    double submit_s;  //  first request to the last reply
    bool timed_out;
    char names[SCALE_MAX_NAMES][32]; //  worker -> executions it completed
    size_t per[SCALE_MAX_NAMES];
    size_t workers;
} scale_batch_t;

//  The two ways in: api.execution.run {action}, or api.event.publish
//  {trigger, payload} of a trigger whose rule runs the same action.
#define SCALE_VIAS 2

//  ---------------------------------------------------------------------------
//  Processes (attune_scale_bench_deploy.c)

//  SIGINT, SIGTERM, SIGHUP: stop at the next check.
void scale_on_signal (int sig);
//  SIGTERM (workers first), then SIGKILL whatever is left after 5 s.
void scale_deploy_stop (scale_deploy_t *d);
//  Stop what runs and remove the run's directory (atexit).
void scale_cleanup (void);
//  A core and `workers` worker processes of `slots` slots offering
//  `runtimes`, on free loopback ports, all running. 0 or -1 (stopped).
int scale_deploy_start (scale_deploy_t *d, const char *tag, int workers, int slots,
                        const char *runtimes);
//  The packs the runs use, under scale_root.
int scale_write_packs (void);

//  ---------------------------------------------------------------------------
//  CPU and the machine (attune_scale_bench_cpu.c)

//  CPU counters now, of the deployment, this process and the machine.
void scale_snap (scale_deploy_t *d, scale_cpu_snap_t *snap);
//  CPU used since `before`, % of one cpu.
scale_cpu_use_t scale_cpu_use (scale_deploy_t *d, scale_cpu_snap_t *before);
//  Returns runs/s; `cpu` gets the CPU it used (this process and the shells,
//  % of one cpu).
double scale_raw_spawn (size_t count, int parallel, double *cpu);
//  Median time of a 4 KiB write + fdatasync in `dir` (ms): what one durable
//  commit costs at least on this disk.
double scale_fsync_ms (const char *dir);
//  The 1, 5 and 15 minute load averages (other work on the machine skews
//  every number here).
void scale_loadavg (char *out, size_t size);

//  ---------------------------------------------------------------------------
//  The api client and batches (attune_scale_bench_client.c)

//  Connect to the deployment's api and its terminal execution facts.
int scale_client_open (scale_client_t *c, scale_deploy_t *d);
void scale_client_close (scale_client_t *c);
//  Wait (bounded) until api.worker.list shows `count` live workers.
int scale_wait_workers (scale_client_t *c, size_t count);
//  `count` requests of `type` with `payload` (packed msgpack map), each
//  making one execution; at most SCALE_WINDOW requests in flight. Timed from the
//  first request to the last terminal execution fact.
void scale_batch (scale_client_t *c, const char *type, const msgpack_sbuffer *payload,
                  size_t count, scale_batch_t *b);
//  Executions ended per second.
double scale_rate (const scale_batch_t *b);
//  What went wrong in a batch, if anything.
void scale_batch_report (const char *label, const scale_batch_t *b);

#endif
