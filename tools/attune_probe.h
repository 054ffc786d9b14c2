/*  attune_probe: what the files of `attune-probe` share (tools/attune_probe.c
    tells what the probe does).

        attune_probe.c          main: the command, CURVE options, the source name
        attune_probe_args.c     options and arguments, endpoints, types, envelopes
        attune_probe_output.c   JSON lines on stdout, envelopes as JSON, clocks
        attune_probe_sub.c      sub: watch fact streams
        attune_probe_pub.c      pub: publish facts
        attune_probe_req.c      req and ping: requests through bus_client
        attune_probe_cmd.c      cmd: a reliable command over bus_link
*/
#ifndef ATTUNE_PROBE_H_INCLUDED
#define ATTUNE_PROBE_H_INCLUDED

#include <czmq.h>
#include <jansson.h>

#include "bus/bus_facts.h"
#include "proto/proto_envelope.h"

#define PROBE_EXIT_OK      0
#define PROBE_EXIT_FAIL    1
#define PROBE_EXIT_USAGE   2
#define PROBE_CONTINUE     -1         //  from probe_parse: arguments fine, go on
#define PROBE_MAX_COUNT    1000000000 //  --count
#define PROBE_MAX_MS       86400000   //  --timeout, --wait, --interval: one day
#define PROBE_MAX_NAME     255        //  a link's routing id (PROTOCOL.md)
#define PROBE_MAX_IPC_PATH 107        //  sockaddr_un.sun_path less the NUL
#define PROBE_MAX_TYPES    256        //  distinct types counted per --stats interval

//  "attune-probe sub" while a command runs: the prefix of every message.
extern char probe_command[64];
//  The envelopes' source: attune-probe@HOST.
extern char probe_source[PROTO_MAX_SOURCE + 1];
//  False once stdout cannot be written (a closed pipe): stop quietly.
extern bool probe_stdout_ok;

//  ---------------------------------------------------------------------------
//  Arguments (attune_probe_args.c)

//  A message about the command line, then a hint; returns PROBE_EXIT_USAGE.
int probe_usage_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
//  A failure at run time; returns PROBE_EXIT_FAIL.
int probe_fail (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  A growable list of strings that point into argv.
typedef struct {
    const char **items;
    size_t count;
} probe_strings_t;

void probe_strings_free (probe_strings_t *self);

typedef enum {
    PROBE_OPT_FLAG,
    PROBE_OPT_NUMBER,
    PROBE_OPT_STRING,
    PROBE_OPT_LIST
} probe_opt_kind_t;

//  One option of a command: --name, its kind, its range, where it goes
//  (bool *, long long *, const char **, probe_strings_t *).
typedef struct {
    const char *name;
    probe_opt_kind_t kind;
    long long min, max;
    void *value;
} probe_opt_t;

//  Parse argv (argv[0] is the command) against `options`; positional
//  arguments go to `args`, which must end up with `names_min`..`names_max`
//  of them (`names` says what each is, for the messages; the last name
//  repeats when names_max is SIZE_MAX). Returns PROBE_CONTINUE, or the exit
//  status: 0 after --help, PROBE_EXIT_USAGE after a message.
int probe_parse (int argc, char *argv[], probe_opt_t *options, probe_strings_t *args,
                 const char *const names[], size_t names_min, size_t names_max,
                 void (*help) (FILE *));
//  Check a ZeroMQ endpoint: tcp://HOST:PORT (HOST and PORT may be * to
//  bind) or ipc://PATH. 0, or -1 after saying what is wrong with it.
int probe_check_endpoint (const char *endpoint, bool bind);
//  Check a message type (1..128 bytes) or, with `prefix`, a type prefix
//  (0..128 bytes). 0, or -1 after a message.
int probe_check_type (const char *what, const char *type, bool prefix);
//  A new envelope of `type` whose payload is the JSON object in `text`
//  (NULL for {}). Caller owns it. NULL after a usage message.
proto_envelope_t *probe_envelope_from_args (const char *type, const char *text);

//  ---------------------------------------------------------------------------
//  Output (attune_probe_output.c)

//  Print one line on stdout and flush it. -1 when stdout is gone.
int probe_print_line (const char *text);
//  Print a JSON value as one compact line; takes the reference.
int probe_print_json (json_t *value);
//  An envelope as the JSON object the probe prints: type, source, then (for
//  facts) seq and publisher, then id, corr, ts, trace, payload. NULL with
//  `error` filled when part of it has no JSON form.
json_t *probe_envelope_json (proto_envelope_t *envelope, const bus_fact_info_t *fact,
                             proto_error_t *error);
//  Sleep up to `ms`, returning early on SIGINT/SIGTERM.
void probe_sleep_ms (int64_t ms);
//  A monotonic clock, ns.
int64_t probe_mono_ns (void);

//  ---------------------------------------------------------------------------
//  The commands: argv[0] is the command's name. The exit status.

int probe_sub_main (int argc, char *argv[]);
int probe_pub_main (int argc, char *argv[]);
int probe_req_main (int argc, char *argv[]);
int probe_ping_main (int argc, char *argv[]);
int probe_cmd_main (int argc, char *argv[]);

#endif
