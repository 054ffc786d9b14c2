/*  attuned_options: the daemon's flags and the topology file's `daemon`
    section (tools/attuned_options.h).
*/
#include <getopt.h>

#include "actors/http/http.h"
#include "proto/proto_envelope.h"
#include "tools/attuned_options.h"

#define S_API_DEFAULT   PROTO_API_ENDPOINT
#define S_FACTS_DEFAULT PROTO_FACTS_ENDPOINT

static void
s_usage (FILE *out)
{
    fprintf (
        out,
        "usage: attuned [options]\n"
        "  -c, --config FILE     topology (ZPL): endpoints, and in its `daemon` section\n"
        "                        what runs here (actors, data, packs, worker/...);\n"
        "                        flags override it (deploy/*.cfg are examples)\n"
        "  -d, --data DIR        data directory (default ./var/attune)\n"
        "  -p, --packs DIR       packs directory (default ./packs)\n"
        "  -a, --actors LIST     actors to run here, comma-separated (default all:\n"
        "                        registry,executor,rules,worker,workflow,sensor,\n"
        "                        datastore,api,http)\n"
        "      --configs DIR     pack configs, DIR/PACK.yaml (default PACKS/../configs)\n"
        "      --datastore-key F the datastore's secret key file (default\n"
        "                        DATA/datastore/crypto.key, created 0600)\n"
        "      --api ENDPOINT    where the api takes requests (default " S_API_DEFAULT
        ";\n"
        "                        tcp://127.0.0.1:* picks a free port)\n"
        "      --api-facts EP    where the api republishes every fact (default\n"
        "                        " S_FACTS_DEFAULT ")\n"
        "      --worker-name N   this worker's unique name (default worker@HOST)\n"
        "      --worker-slots N  concurrent executions of the worker (default 2 x "
        "cores)\n"
        "      --runtimes LIST   runners the worker offers (default all)\n"
        "      --host NAME       host part of actor names (default the hostname)\n"
        "      --heartbeat MS    bus heartbeat interval (default 1000)\n"
        "      --worker-output K live output streamed per execution, KiB (default\n"
        "                        4096, at most 16384; 0: none, only the result's)\n"
        "      --drain MS        a worker-only process stopping (SIGTERM): how long\n"
        "                        running actions may finish (default 30000; 0: no "
        "drain)\n"
        "      --no-fsync        do not fsync commits (benchmarks only: not durable)\n"
        "      --cert FILE       this process's secret CURVE cert (attune keygen)\n"
        "      --allow DIR       directory of allowed client public certs\n"
        "      --server-cert F   the core's public cert, for this process's clients\n"
        "      --executor-cert F the executor's (core's) public cert: the one key\n"
        "                        a worker endpoint here admits\n"
        "      --worker-certs D  the worker hosts' public certs: the keys the\n"
        "                        datastore gives secrets to (resolving references)\n"
        "      --security-mode M auto (CURVE on non-loopback tcp, the default) or\n"
        "                        always (every tcp endpoint)\n"
        "      --http ADDR:PORT  the HTTP gateway (default " HTTP_DEFAULT_ADDRESS ";\n"
        "                        port 0 picks one); plain HTTP only on loopback\n"
        "      --http-insecure   allow plain HTTP beyond loopback\n"
        "      --http-cert F     HTTPS: PEM certificate (with --http-key F)\n"
        "      --http-key F      HTTPS: PEM private key\n"
        "      --log-format F    text (the default) or json: one object a line\n"
        "                        {ts, level, actor, message}\n"
        "      --log-level L     LEVEL or ACTOR=LEVEL, comma-separated (default\n"
        "                        info; e.g. warning,executor=info); levels debug,\n"
        "                        info, notice, warning, error\n"
        "      --retention-executions D  ended executions kept this long (default\n"
        "                        30d; s, m, h, d, w; 0 keeps for ever)\n"
        "      --retention-events D      events and enforcements (default 30d)\n"
        "      --retention-inquiries D   closed inquiries (default 30d)\n"
        "      --retention-interval D    between sweeps (default 10m)\n"
        "  -q, --quiet           do not log each finished execution\n"
        "  -h, --help            this text\n");
}

bool
attuned_listed (const char *list, const char *name)
{
    if (!list)
        return true;
    size_t len = strlen (name);
    for (const char *p = list; *p;) {
        const char *comma = strchr (p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen (p);
        if (n == len && strncmp (p, name, n) == 0)
            return true;
        p += n + (comma ? 1 : 0);
    }
    return false;
}

//  A non-empty value in the daemon section, or NULL.
static const char *
s_setting (zconfig_t *daemon, const char *path)
{
    const char *value = zconfig_get (daemon, path, NULL);
    return value && *value ? value : NULL;
}

//  A number low..high for option `name`, into *out. 0, or 2 after saying why.
static int
s_number_option (const char *name, const char *text, long low, long high,
                 const char *what, int *out)
{
    char *end = NULL;
    long value = strtol (text, &end, 10);
    if (!*text || *end || value < low || value > high) {
        fprintf (stderr, "attuned: --%s: '%s' is not a number %s%ld..%ld\n", name, text,
                 what, low, high);
        return 2;
    }
    *out = (int)value;
    return 0;
}

//  Where an option that takes a string keeps it; NULL for the others.
static const char **
s_string_option (attuned_options_t *self, int option)
{
    switch (option) {
        case 'c':
            return &self->config_path;
        case 25:
            return &self->config.http;
        case 'd':
            return &self->data_dir;
        case 'p':
            return &self->packs_dir;
        case 'a':
            return &self->actors;
        case 1:
            return &self->config.worker_name;
        case 3:
            return &self->config.runtimes;
        case 4:
            return &self->config.host;
        case 27:
            return &self->config.http_cert;
        case 28:
            return &self->config.http_key;
        case 7:
            return &self->api_endpoint;
        case 10:
            return &self->config.datastore_key;
        case 11:
            return &self->configs_dir;
        case 8:
            return &self->facts_endpoint;
        case 20:
            return &self->security.cert;
        case 21:
            return &self->security.allow;
        case 22:
            return &self->security.server;
        case 23:
            return &self->security_mode;
        case 24:
            return &self->security.executor;
        case 12:
            return &self->config.worker_certs;
        case 13:
            return &self->log_format;
        case 14:
            return &self->log_level;
        case 30:
        case 31:
        case 32:
        case 33:
            return &self->retention[option - 30];
    }
    return NULL;
}

//  One option from getopt_long. -1 to go on, or the exit code.
static int
s_option (attuned_options_t *self, int option, const char *arg)
{
    const char **target = s_string_option (self, option);
    if (target) {
        *target = arg;
        self->config.http_required = self->config.http_required || option == 25;
        return -1;
    }
    switch (option) {
        case 2:
            return s_number_option ("worker-slots", arg, 1, 4096, "",
                                    &self->config.worker_slots)
                       ?: -1;
        case 5:
            return s_number_option ("heartbeat", arg, 10, 600000, "",
                                    &self->config.heartbeat_ms)
                       ?: -1;
        case 26:
            self->config.http_insecure = true;
            break;
        case 6:
            self->config.nosync = true;
            break;
        case 29:
            if (s_number_option ("worker-output", arg, 0, 16384, "of KiB ",
                                 &self->config.worker_output_kib))
                return 2;
            if (self->config.worker_output_kib == 0)
                self->config.worker_output_kib = -1; //  none
            return -1;
        case 9:
            return s_number_option ("drain", arg, 0, 3600000, "of ms ", &self->drain_ms)
                       ?: -1;
        case 'q':
            self->quiet = true;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        default:
            s_usage (stderr);
            return 2;
    }
    return -1;
}

static int
s_parse_options (attuned_options_t *self, int argc, char *argv[])
{
    static struct option options[] = {{"config", required_argument, 0, 'c'},
                                      {"data", required_argument, 0, 'd'},
                                      {"packs", required_argument, 0, 'p'},
                                      {"actors", required_argument, 0, 'a'},
                                      {"worker-name", required_argument, 0, 1},
                                      {"worker-slots", required_argument, 0, 2},
                                      {"runtimes", required_argument, 0, 3},
                                      {"host", required_argument, 0, 4},
                                      {"heartbeat", required_argument, 0, 5},
                                      {"no-fsync", no_argument, 0, 6},
                                      {"api", required_argument, 0, 7},
                                      {"api-facts", required_argument, 0, 8},
                                      {"drain", required_argument, 0, 9},
                                      {"worker-output", required_argument, 0, 29},
                                      {"datastore-key", required_argument, 0, 10},
                                      {"configs", required_argument, 0, 11},
                                      {"cert", required_argument, 0, 20},
                                      {"allow", required_argument, 0, 21},
                                      {"server-cert", required_argument, 0, 22},
                                      {"security-mode", required_argument, 0, 23},
                                      {"executor-cert", required_argument, 0, 24},
                                      {"worker-certs", required_argument, 0, 12},
                                      {"http", required_argument, 0, 25},
                                      {"http-insecure", no_argument, 0, 26},
                                      {"http-cert", required_argument, 0, 27},
                                      {"http-key", required_argument, 0, 28},
                                      {"log-format", required_argument, 0, 13},
                                      {"log-level", required_argument, 0, 14},
                                      {"retention-executions", required_argument, 0, 30},
                                      {"retention-events", required_argument, 0, 31},
                                      {"retention-inquiries", required_argument, 0, 32},
                                      {"retention-interval", required_argument, 0, 33},
                                      {"quiet", no_argument, 0, 'q'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    int option, rc = -1;
    while (rc < 0 &&
           (option = getopt_long (argc, argv, "c:d:p:a:qh", options, NULL)) != -1)
        rc = s_option (self, option, optarg);
    if (rc < 0 && optind < argc) {
        fprintf (stderr, "attuned: unexpected argument '%s'\n", argv[optind]);
        s_usage (stderr);
        rc = 2;
    }
    return rc;
}

//  The names under `section` are all in `known` (NULL-terminated). 0, or 2
//  after naming the unknown one.
static int
s_known_settings (const char *path, zconfig_t *section, const char *prefix,
                  const char *const *known, const char *list)
{
    for (zconfig_t *item = section ? zconfig_child (section) : NULL; item;
         item = zconfig_next (item)) {
        bool found = false;
        for (int k = 0; known[k]; k++)
            found = found || streq (zconfig_name (item), known[k]);
        if (!found) {
            fprintf (stderr, "attuned: %s: %s%s: unknown setting (%s)\n", path, prefix,
                     zconfig_name (item), list);
            return 2;
        }
    }
    return 0;
}

//  `daemon/heartbeat` and `daemon/worker/slots`, unless given as flags.
//  0, or 2 after saying why.
static int
s_daemon_numbers (attuned_options_t *self, zconfig_t *daemon)
{
    const struct {
        const char *key;
        int *target, low, high;
    } numbers[] = {{"heartbeat", &self->config.heartbeat_ms, 10, 600000},
                   {"worker/slots", &self->config.worker_slots, 1, 4096}};
    for (size_t n = 0; n < 2; n++) {
        const char *text = s_setting (daemon, numbers[n].key);
        char *end = NULL;
        long value = text ? strtol (text, &end, 10) : 0;
        if (text &&
            (!*text || *end || value < numbers[n].low || value > numbers[n].high)) {
            fprintf (stderr, "attuned: %s: daemon/%s: '%s' is not a number %d..%d\n",
                     self->config_path, numbers[n].key, text, numbers[n].low,
                     numbers[n].high);
            return 2;
        }
        if (text && *numbers[n].target == 0)
            *numbers[n].target = (int)value;
    }
    return 0;
}

//  What the `daemon` section sets and the flags did not.
static void
s_daemon_settings (attuned_options_t *self, zconfig_t *daemon)
{
    const struct {
        const char **target;
        const char *key;
    } settings[] = {{&self->actors, "actors"},
                    {&self->data_dir, "data"},
                    {&self->packs_dir, "packs"},
                    {&self->configs_dir, "configs"},
                    {&self->config.host, "host"},
                    {&self->api_endpoint, "api"},
                    {&self->facts_endpoint, "api-facts"},
                    {&self->config.http, "http"},
                    {&self->security.cert, "security/cert"},
                    {&self->security.allow, "security/allow"},
                    {&self->security.server, "security/server"},
                    {&self->security.executor, "security/executor"},
                    {&self->security_mode, "security/mode"},
                    {&self->config.worker_certs, "security/workers"},
                    {&self->config.worker_name, "worker/name"},
                    {&self->config.runtimes, "worker/runtimes"},
                    {&self->config.datastore_key, "datastore/key"},
                    {&self->log_format, "log/format"},
                    {&self->log_level, "log/level"},
                    {&self->retention[0], "retention/executions"},
                    {&self->retention[1], "retention/events"},
                    {&self->retention[2], "retention/inquiries"},
                    {&self->retention[3], "retention/interval"}};
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (!*settings[i].target)
            *settings[i].target = s_setting (daemon, settings[i].key);
}

//  The topology file's `daemon` section says what runs here; flags win.
//  -1 to go on, or the exit code.
static int
s_load_config (attuned_options_t *self)
{
    if (!self->config_path)
        return -1;
    self->file = zconfig_load (self->config_path);
    if (!self->file) {
        fprintf (stderr,
                 "attuned: %s: cannot read it, or it is not ZPL (4-space indents, "
                 "name = value)\n",
                 self->config_path);
        return 1;
    }
    zconfig_t *daemon = zconfig_locate (self->file, "daemon");
    if (!daemon)
        return -1;
    static const char *const keys[] = {"actors",    "data",      "packs",     "host",
                                       "heartbeat", "api",       "api-facts", "worker",
                                       "security",  "configs",   "http",      "datastore",
                                       "log",       "retention", NULL};
    static const char *const retention[] = {"executions", "events", "inquiries",
                                            "interval", NULL};
    static const char *const security[] = {"cert", "allow",   "server", "executor",
                                           "mode", "workers", NULL};
    if (s_known_settings (
            self->config_path, daemon, "daemon/", keys,
            "actors, data, packs, configs, host, heartbeat, api, api-facts, http, "
            "worker/name|slots|runtimes, datastore/key, log/format|level, "
            "security/cert|allow|server|executor|mode|workers, "
            "retention/executions|events|inquiries|interval") ||
        s_known_settings (self->config_path, zconfig_locate (daemon, "retention"),
                          "daemon/retention/", retention,
                          "executions, events, inquiries, interval") ||
        s_known_settings (self->config_path, zconfig_locate (daemon, "security"),
                          "daemon/security/", security,
                          "cert, allow, server, executor, mode, workers"))
        return 2;
    s_daemon_settings (self, daemon);
    return s_daemon_numbers (self, daemon) ?: -1;
}
//  The retention durations (flags, else the file, else the defaults) into
//  config.retention. -1 to go on, or 2 after naming the bad one.
static int
s_retention (attuned_options_t *self)
{
    static const char *const names[] = {"executions", "events", "inquiries", "interval"};
    int64_t *targets[] = {
        &self->config.retention.executions, &self->config.retention.events,
        &self->config.retention.inquiries, &self->config.retention.interval};
    for (int i = 0; i < 4; i++) {
        char error[256];
        *targets[i] =
            i == 3 ? ACTOR_RETENTION_INTERVAL_DEFAULT : ACTOR_RETENTION_TTL_DEFAULT;
        if (self->retention[i] &&
            actor_duration_parse (self->retention[i], targets[i], error, sizeof error)) {
            fprintf (stderr, "attuned: --retention-%s (daemon/retention/%s): %s\n",
                     names[i], names[i], error);
            return 2;
        }
    }
    if (self->config.retention.interval == 0)
        self->config.retention.interval = ACTOR_RETENTION_INTERVAL_DEFAULT;
    return -1;
}

int
attuned_options_parse (attuned_options_t *self, int argc, char *argv[])
{
    int rc = s_parse_options (self, argc, argv);
    rc = rc < 0 ? s_load_config (self) : rc;
    return rc < 0 ? s_retention (self) : rc;
}
