/*  attune-probe: the bus probe (in the spirit of `nats sub` and
    `mosquitto_sub`): watch fact streams, publish facts, send requests and
    reliable commands, and time the api, from any host that can reach the
    endpoints (tcp:// or ipc://, never inproc://).

        attune-probe sub ENDPOINT... [--type PREFIX]... [--count N] [--timeout MS]
                                     [--stats] [--quiet-gaps]
        attune-probe pub ENDPOINT TYPE [JSON] [--connect] [--count N] [--wait MS]
        attune-probe req ENDPOINT TYPE [JSON] [--timeout MS] [--raw]
        attune-probe cmd ENDPOINT TYPE [JSON] [--name NAME] [--timeout MS]
        attune-probe ping ENDPOINT [--count N] [--interval MS] [--timeout MS]

    Every command also takes --cert FILE (a secret cert, default
    $ATTUNE_CERT) and --server-cert FILE (the endpoint's public cert, default
    $ATTUNE_SERVER_CERT); with them every tcp connect is CURVE
    (bus/bus_security.h), and `pub` binding tcp also takes --allow DIR.
    Without them a tcp endpoint that is not loopback is refused. The probe
    talks to internal endpoints: give it an attune process's key (one
    without a role); user keys are dropped there (proto/PROTOCOL.md).

    Results go to stdout, one line each (facts and replies as JSON lines,
    flushed per line); diagnostics (gaps, malformed facts, errors, the
    summary) go to stderr. Exit status: 0 success, 1 failure or an error
    reply, 2 bad usage. The wire formats are proto/PROTOCOL.md's.
*/
#include <signal.h>
#include <unistd.h>

#include "tools/attune_probe.h"
#include "bus/bus_security.h"

char probe_command[64] = "attune-probe";
char probe_source[PROTO_MAX_SOURCE + 1] = "attune-probe@localhost";
bool probe_stdout_ok = true;

//  ---------------------------------------------------------------------------
//  Usage

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: attune-probe COMMAND [ARGS] [OPTIONS]   (COMMAND --help for more)\n"
             "  sub ENDPOINT...          print the facts of one or more fact streams\n"
             "  pub ENDPOINT TYPE [JSON] publish facts\n"
             "  req ENDPOINT TYPE [JSON] send one request to a ROUTER (api, query) and\n"
             "                           print the reply\n"
             "  cmd ENDPOINT TYPE [JSON] send one reliable command to a *.commands "
             "ROUTER\n"
             "  ping ENDPOINT            time api.ping round trips\n"
             "ENDPOINT is tcp://HOST:PORT or ipc://PATH; JSON is an object (default "
             "{}).\n"
             "Every command takes --cert FILE and --server-cert FILE (default\n"
             "$ATTUNE_CERT, $ATTUNE_SERVER_CERT): CURVE on every tcp endpoint; pub\n"
             "binding tcp also needs --allow DIR (the client certs let in).\n"
             "Exit status: 0 success, 1 failure or error reply, 2 bad usage.\n");
}

//  ---------------------------------------------------------------------------

typedef int (s_run_fn) (int argc, char *argv[]);

static s_run_fn *
s_command_fn (const char *command)
{
    static const struct {
        const char *name;
        s_run_fn *run;
    } commands[] = {{"sub", probe_sub_main},
                    {"pub", probe_pub_main},
                    {"req", probe_req_main},
                    {"cmd", probe_cmd_main},
                    {"ping", probe_ping_main}};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp (command, commands[i].name) == 0)
            return commands[i].run;
    return NULL;
}

//  Take --cert, --server-cert and --allow out of argv (anywhere, before the
//  command parses the rest) into `security`. -1 to go on, or the exit code.
static int
s_take_security (int *argc_p, char *argv[], bus_security_config_t *security)
{
    int argc = *argc_p, kept = 1;
    for (int i = 1; i < argc; i++) {
        const char *names[] = {"--cert", "--server-cert", "--allow"};
        const char **targets[] = {&security->cert, &security->server, &security->allow};
        int found = -1;
        const char *value = NULL;
        for (int n = 0; n < 3 && found < 0; n++) {
            size_t len = strlen (names[n]);
            if (strncmp (argv[i], names[n], len) == 0 &&
                (argv[i][len] == 0 || argv[i][len] == '=')) {
                found = n;
                value = argv[i][len] == '=' ? argv[i] + len + 1
                        : i + 1 < argc      ? argv[++i]
                                            : NULL;
            }
        }
        if (found < 0) {
            argv[kept++] = argv[i];
            continue;
        }
        if (!value || !*value) {
            fprintf (stderr, "%s: %s needs a value\n", probe_command, names[found]);
            return PROBE_EXIT_USAGE;
        }
        *targets[found] = value;
    }
    *argc_p = kept;
    argv[kept] = NULL;
    return -1;
}

//  CURVE for every tcp endpoint when a cert (or an allow dir) is given, from
//  the options or $ATTUNE_CERT, $ATTUNE_SERVER_CERT. -1 to go on, or the
//  exit code.
static int
s_security (int *argc_p, char *argv[])
{
    bus_security_config_t security = {0};
    security.cert = getenv ("ATTUNE_CERT");
    security.server = getenv ("ATTUNE_SERVER_CERT");
    int rc = s_take_security (argc_p, argv, &security);
    if (rc >= 0)
        return rc;
    if (security.cert && !*security.cert)
        security.cert = NULL;
    if (security.server && !*security.server)
        security.server = NULL;
    if (!security.cert && !security.server && !security.allow)
        return -1;
    security.mode = BUS_SECURITY_ALWAYS; //  asked for: every tcp endpoint
    char message[512];
    if (!security.cert) {
        fprintf (stderr, "%s: CURVE needs --cert (a secret cert)\n", probe_command);
        return PROBE_EXIT_USAGE;
    }
    if (bus_security_configure (&security, message, sizeof message) != 0) {
        fprintf (stderr, "%s: %s\n", probe_command, message);
        return PROBE_EXIT_USAGE;
    }
    return -1;
}

int
main (int argc, char *argv[])
{
    if (argc < 2) {
        s_usage (stderr);
        return PROBE_EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp (command, "--help") == 0 || strcmp (command, "-h") == 0 ||
        strcmp (command, "help") == 0) {
        s_usage (stdout);
        return PROBE_EXIT_OK;
    }
    s_run_fn *run = s_command_fn (command);
    if (!run) {
        fprintf (stderr,
                 "attune-probe: unknown command '%.64s' (sub, pub, req, cmd, "
                 "ping)\n",
                 command);
        s_usage (stderr);
        return PROBE_EXIT_USAGE;
    }
    snprintf (probe_command, sizeof probe_command, "attune-probe %s", command);
    int rc = s_security (&argc, argv);
    if (rc >= 0)
        return rc;
    char host[256] = "localhost";
    if (gethostname (host, sizeof host - 1) != 0 || !*host)
        snprintf (host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    snprintf (probe_source, sizeof probe_source, "attune-probe@%.200s", host);

    //  CZMQ logs to stdout by default: stdout is for results only. Its
    //  SIGINT/SIGTERM handler sets zsys_interrupted, which every loop
    //  checks; a closed stdout pipe is an error return, not a signal.
    zsys_init ();
    zsys_set_logstream (stderr);
    zsys_set_logident ("attune-probe");
    signal (SIGPIPE, SIG_IGN);
    rc = run (argc - 1, argv + 1);
    bus_security_shutdown ();
    return rc;
}
