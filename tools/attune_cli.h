/*  attune_cli: what the files of the `attune` command share (tools/attune_cli.c
    tells what the command does).

        attune_cli.c            main: global options, the command table, dispatch
        attune_cli_client.c     the api client (bus/bus_client.h) and the last error
        attune_cli_args.c       a command's options and arguments, parsed and checked
        attune_cli_print.c      tables from column specs, property lists, results
        attune_cli_follow.c     following an execution until it ends
        attune_cli_output.c     an execution's live output (execution tail)
        attune_cli_pages.c      lists fetched over their pages
        attune_cli_execution.c  run, execution list/get/tail/cancel/rerun
        attune_cli_rule.c       rule list/get/create/enable/disable/delete
        attune_cli_action.c     action list/get/queue-stats, policy list/get
        attune_cli_event.c      event publish/list
        attune_cli_sensor.c     sensor list/get/enable/disable
        attune_cli_system.c     worker list, status
        attune_cli_inquiry.c    inquiry list/get/respond
        attune_cli_keygen.c     keygen
        attune_cli_key.c        key set/get/list/delete/load/rotate-crypto

    Each command group's file exports its commands as a table slice
    (cli_*_commands, ending with {NULL}); attune_cli.c puts them together.
*/
#ifndef ATTUNE_CLI_H_INCLUDED
#define ATTUNE_CLI_H_INCLUDED

#include <czmq.h>
#include <jansson.h>

#include "bus/bus_client.h"
#include "proto/proto_envelope.h"

#define CLI_EXIT_OK     0
#define CLI_EXIT_FAILED 1
#define CLI_EXIT_USAGE  2
#define CLI_DEFAULT_API PROTO_API_ENDPOINT
#define CLI_DEFAULT_MS  10000
#define CLI_POLL_MS     500  //  api.execution.get while following
#define CLI_PROGRESS_MS 100  //  redraw of the progress line on a tty
#define CLI_LAG_MS      3000 //  terminal fact seen, store not yet: wait this long
#define CLI_CELL_MAX    64   //  longest table cell, in characters
#define CLI_FILE_MAX    (1024 * 1024) //  largest rule file
#define CLI_MAX_OPTIONS 12
#define CLI_LIMIT       100     //  items a newest-first list shows unless --limit
#define CLI_LIMIT_MAX   1000000 //  --limit, at most (fetched in pages)

//  ---------------------------------------------------------------------------
//  The client: the api, the last error (attune_cli_client.c)

typedef struct {
    const char *endpoint;
    const char *identity; //  who responds to inquiries (--as, $ATTUNE_IDENTITY)
    bool json;
    bool st2_status; //  show StackStorm's status names (--st2-status, $ATTUNE_ST2_STATUS)
    int timeout_ms;
    bus_client_t *api; //  the api, connected on first use
    char source[PROTO_MAX_SOURCE + 1];
    char code[64];    //  last error: stable code ...
    char *message;    //  ... and what, where, why
    const char *cert; //  secret cert (--cert, $ATTUNE_CERT)
    const char
        *server_cert; //  the api's public cert (--server-cert, $ATTUNE_SERVER_CERT)
} cli_t;

//  Set the last error.
void cli_fail (cli_t *self, const char *code, const char *format, ...);
//  Print the last error; returns the exit code for it.
int cli_report (cli_t *self);
//  CURVE for a socket to `endpoint` (bus_security_apply as a client). 0 or -1.
int cli_secure (cli_t *self, zsock_t *sock, const char *endpoint);
//  Send one request and wait for its reply. Takes ownership of `payload`
//  (NULL = {}). Returns the result (caller owns it), or NULL with the
//  client's error set (the api's code and message for api.error).
json_t *cli_request (cli_t *self, const char *type, json_t *payload);

//  With StackStorm's names on (cli_st2_status_enable), StackStorm's name
//  for an attune status (completed -> succeeded, cancelled -> canceled; the
//  others are the same); otherwise `status` itself. attune_cli_st2.c.
void cli_st2_status_enable (bool on);
const char *cli_st2_status_name (const char *status);

//  Rename, in place, every "status" string in `value` (any depth) to
//  StackStorm's name.
void cli_st2_status (json_t *value);

typedef void (cli_show_fn) (const json_t *result);
//  A request whose result is shown as JSON with --json, or by `show`.
int cli_simple (cli_t *client, const char *type, json_t *payload, cli_show_fn *show);
//  A list followed through its pages up to `total` items (0: all), shown as
//  one; `cursor` is where a page's `next` goes in the next request.
int cli_list (cli_t *client, const char *type, json_t *payload, const char *cursor,
              size_t total, cli_show_fn *show);

//  ---------------------------------------------------------------------------
//  Commands and their arguments (attune_cli_args.c)

typedef struct {
    const char *name;    //  "--status"
    const char *metavar; //  "S", or NULL for a flag
    const char *help;
} cli_option_t;

typedef struct _cli_args_t cli_args_t;
typedef int (cli_handler_fn) (cli_t *client, cli_args_t *args);

typedef struct {
    const char *group; //  "execution"; NULL ends a table
    const char *name;  //  "list", or NULL for a command without subcommands
    const char *synopsis;
    const char *summary;
    const cli_option_t *options; //  ends with {NULL}
    int min_pos, max_pos;        //  positional arguments (-1 = no limit)
    cli_handler_fn *fn;
} cli_command_t;

struct _cli_args_t {
    const cli_command_t *command;
    int npos;
    char **pos;
    const char *value[CLI_MAX_OPTIONS]; //  by option index; "" for a flag given
};

extern const cli_option_t cli_no_options[];

//  "group name" of a command.
void cli_command_path (const cli_command_t *command, char *out, size_t size);
//  A command's usage and options.
void cli_command_usage (const cli_command_t *command, FILE *out);
//  Say what is wrong with the arguments, and the usage; returns 2.
int cli_usage_error (const cli_command_t *command, const char *format, ...);
//  The value of an option, NULL when not given.
const char *cli_opt (const cli_args_t *args, const char *name);
//  Parse a command's arguments. Returns -1 to go on, or the exit code
//  (0 after --help, 2 after a usage error).
int cli_args_parse (cli_t *client, const cli_command_t *command, int argc, char **argv,
                    cli_args_t *args);
//  A whole number min..max.
bool cli_parse_long (const char *text, long long min, long long max, long long *out);
//  Seconds, positive, up to a year: "30", "2.5".
bool cli_parse_seconds (const char *text, double *out);
//  A time for --since/--until: µs since the epoch (digits), "now", an age
//  ("90s", "10m", "2h", "1d": that long ago), or a date "YYYY-MM-DD",
//  "YYYY-MM-DD HH:MM[:SS]" or with a "T" (local time; UTC with a final "Z").
bool cli_parse_time (const char *text, int64_t *out);
//  An execution id: a UUID, made canonical (lowercase, with dashes).
bool cli_parse_id (const char *text, char out[PROTO_UUID_STR_SIZE]);
//  key=value arguments as a JSON object: a value that parses as JSON is
//  that JSON (n=3, flag=true, x={"a":1}), any other is a string. Returns
//  NULL after a usage error was printed.
json_t *cli_parse_parameters (const cli_command_t *command, char **args, int count);

//  The text of FILE ("-": stdin), NUL-terminated, at most CLI_FILE_MAX bytes
//  and no NUL byte; its length in *size. Caller frees; NULL with the error set.
char *cli_read_file (cli_t *client, const char *path, size_t *size);
//  Check an id argument; NULL after a usage error.
const char *cli_id_arg (cli_args_t *args, int index, char out[PROTO_UUID_STR_SIZE]);
//  {key: the positional argument}, checked to be non-empty UTF-8; NULL
//  after a usage error.
json_t *cli_name_payload (cli_args_t *args, int index, const char *key);
//  --limit N (into *total: items over all pages) and --before ID (into the
//  request). 0 or the exit code.
int cli_paging (cli_args_t *args, json_t *payload, size_t *total);
//  A string option into the payload; 0, or 2 when it is not valid UTF-8.
int cli_string_opt (cli_args_t *args, const char *option, json_t *payload,
                    const char *key);

//  ---------------------------------------------------------------------------
//  Output (attune_cli_print.c)

//  A copy of `text` fit for a terminal: control characters become spaces,
//  and at most `max` characters (UTF-8 code points) are kept (0 = all).
char *cli_clean (const char *text, size_t max);
//  A JSON value as text: strings as they are, null as "-", others as JSON.
char *cli_json_text (const json_t *value);
//  A time (µs since the epoch) as local time, "-" for none.
void cli_format_time (int64_t usec, bool with_ms, char *out, size_t size);
//  Seconds as "850 ms", "2.5 s", "3m 20s" ...
void cli_format_duration (double seconds, char *out, size_t size);
//  A member as an integer (0 when absent) or a string (NULL when not one).
int64_t cli_int (const json_t *object, const char *key);
const char *cli_str (const json_t *object, const char *key);
//  Duration of an execution: ended - started, or now - started while it runs.
void cli_execution_duration (const json_t *execution, char *out, size_t size);

//  One column of a table: its header, and the cell of each row: the
//  member at `path` (dots go into objects; "" is the row's key when the
//  rows are an object's members) shown as `kind`, or what `cell` makes.
typedef enum {
    CLI_CELL_TEXT = 0, //  the value as text (cli_json_text), clipped
    CLI_CELL_TIME,     //  an integer time, cli_format_time
    CLI_CELL_YES_NO,   //  "no" when false, else "yes"
    CLI_CELL_WHOLE     //  the value as text, never clipped (a last column)
} cli_cell_t;

//  A cell of row `item` (the member `key` of an object of rows, or NULL),
//  made by the caller: a new string the table frees.
typedef char *(cli_cell_fn)(const char *key, const json_t *item);

typedef struct {
    const char *header;
    const char *path;
    cli_cell_t kind;
    cli_cell_fn *cell; //  when not NULL, makes the cell instead
} cli_column_t;

//  Print `rows` (an array of objects, or an object whose members are the
//  rows) as a table with aligned columns, each line after `indent`.
//  `columns` ends with {NULL}.
void cli_table_print (const json_t *rows, const cli_column_t *columns,
                      const char *indent);

//  A "key: value" line of a property list; a value of several lines has
//  them indented under the key.
void cli_prop (const char *key, const char *value);
void cli_prop_json (const char *key, const json_t *value);
void cli_prop_time (const char *key, int64_t usec);
//  The result document as JSON on stdout (--json).
int cli_print_json (const json_t *value);
//  A text block under a property, YAML style: "  stdout: |" then the lines.
void cli_print_text (const char *indent, const char *key, const char *text);
//  An execution's result: stdout/stderr/return_code for shell and python
//  actions (and the error attune detected), the JSON result otherwise.
void cli_print_result (const json_t *result);
//  An execution as a property list, then its result.
void cli_print_execution (const json_t *execution);
//  The properties of a definition, `first` in that order, then the rest.
void cli_show_definition (const json_t *definition, const char *const *first);

//  ---------------------------------------------------------------------------
//  Following an execution (attune_cli_follow.c)

//  An execution's live output being printed (attune_cli_output.c)
typedef struct {
    cli_t *client;
    const char *id;
    uint64_t next;   //  the next chunk's sequence number
    uint64_t chunks; //  printed
    bool truncated;  //  the worker's cap was reached
    bool off;        //  the api has no live output (older than issue 21)
} cli_output_t;

//  Print the stored chunks from self->next on (api.execution.output, every
//  page). 0, or -1 with the client's error set.
int cli_output_fetch (cli_output_t *self);
//  An execution.output fact of the execution: printed in sequence order
//  (a gap is read by offset first; a duplicate is skipped).
void cli_output_fact (cli_output_t *self, const json_t *fact);

//  Follow an execution until it ends or `wait_ms` (0 = no limit) passes;
//  with `output`, its live output is printed as it comes, and what is left
//  once it ended. Returns the final execution (caller owns it), or NULL
//  with the error set.
json_t *cli_follow (cli_t *client, const char *id, bool tail, int64_t wait_ms,
                    cli_output_t *output);
//  Show the end of an execution; exit 0 only when it completed.
int cli_follow_done (cli_t *client, json_t *execution);

//  ---------------------------------------------------------------------------
//  The command groups, each a table slice ending with {NULL}

extern const cli_command_t cli_execution_commands[];
extern const cli_command_t cli_rule_commands[];
extern const cli_command_t cli_action_commands[];
extern const cli_command_t cli_event_commands[];
extern const cli_command_t cli_inquiry_commands[];
extern const cli_command_t cli_system_commands[];
extern const cli_command_t cli_keygen_commands[];
extern const cli_command_t cli_key_commands[];
extern const cli_command_t cli_pack_commands[];
extern const cli_command_t cli_apikey_commands[];
extern const cli_command_t cli_sensor_commands[];
extern const cli_command_t cli_purge_commands[];

#endif
