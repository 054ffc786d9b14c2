/*  attuned: the attune daemon.

    With no arguments it runs every actor in one process over inproc://,
    keeps its data in ./var/attune and loads the packs in ./packs:

        attuned [-c TOPOLOGY] [--data DIR] [--packs DIR] [--actors LIST]
                [--worker-name NAME] [--worker-slots N] [--runtimes LIST]
                [--host NAME] [--heartbeat MS] [--no-fsync] [--quiet]
                [--cert FILE] [--allow DIR] [--server-cert FILE]
                [--executor-cert FILE] [--security-mode auto|always]

    Security (proto/PROTOCOL.md, "Security (CURVE)"): every tcp endpoint
    whose host is not loopback is CURVE (bus/bus_security.h), with this
    process's secret cert, an allow dir of client public certs, and the
    core's public cert for the clients this process runs. They come from
    the flags or the topology's `daemon/security` section:

        daemon
            security
                cert = /etc/attune/keys/core.cert_secret
                allow = /etc/attune/allow
                server = /etc/attune/keys/core.cert    #  clients of the core
                executor = /etc/attune/keys/core.cert  #  a worker: who commands it
                mode = auto                            #  or always

    A worker's endpoint admits one key, the executor's (`executor`, the
    core's public cert; by default this process's own when the executor
    runs here too), not the allow dir: a worker bound to an endpoint that
    needs CURVE refuses to start without it.

    It refuses to start (exit 1, saying which file and why) when a cert
    does not load, the allow dir is not a directory, or an endpoint it binds
    needs CURVE and the keys for it are missing: never plaintext instead.

    It logs one line per finished execution (action, id, status, duration,
    and the first line of its output). When facts of the executor were lost
    (a gap in their sequence numbers), it asks the executor what changed
    meanwhile (api.execution.changes on executor.query) and logs the
    executions that ended in the gap, once each, marked "recovered after a
    gap". SIGINT and SIGTERM stop it cleanly: every actor gets $TERM and
    closes its store.
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/actor.h"
#include "actors/api/api.h"
#include "actors/datastore/datastore.h"
#include "tools/attuned_python.h"
#include "actors/executor/executor.h"
#include "actors/http/http.h"
#include "actors/registry/registry.h"
#include "actors/rules/rules.h"
#include "actors/sensor/sensor.h"
#include "actors/worker/worker.h"
#include "actors/workflow/workflow_engine.h"
#include "bus/bus_facts.h"
#include "bus/bus_security.h"
#include "tools/attuned_watch.h"

typedef struct {
    const char *name;
    zactor_fn *fn;
} s_actor_def_t;

//  Start order: definitions first, then the executor (workers register with
//  it), rules (send to the executor), workers, the workflow engine (a
//  worker of workflows, actors/workflow), the sensors, the datastore,
//  and last the api (clients come in when everything is there to answer
//  them). The indexes below name them (s_drain, the executor check).
static const s_actor_def_t s_actors[] = {
    {"registry", registry_actor},
    {"executor", executor_actor},
    {"rules", rules_actor},
    {"worker", worker_actor},
    {"workflow", workflow_engine_actor},
    {"sensor", sensor_actor},
    {"datastore", datastore_actor},
    {"api", api_actor},
    {"http", http_actor},
};
//  http: the HTTP gateway, a client of the api, started after it
enum {
    S_REGISTRY,
    S_EXECUTOR,
    S_RULES,
    S_WORKER,
    S_WORKFLOW,
    S_SENSOR,
    S_DATASTORE,
    S_API,
    S_HTTP
};
#define S_API_DEFAULT   PROTO_API_ENDPOINT
#define S_FACTS_DEFAULT PROTO_FACTS_ENDPOINT
#define S_ACTOR_COUNT   (sizeof s_actors / sizeof s_actors[0])
_Static_assert(S_HTTP + 1 == S_ACTOR_COUNT, "one index per actor, in s_actors order");

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
        "  -q, --quiet           do not log each finished execution\n"
        "  -h, --help            this text\n");
}

static bool
s_listed (const char *list, const char *name)
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

static int
s_mkdirs (const char *path)
{
    char buffer[4096];
    snprintf (buffer, sizeof buffer, "%s", path);
    for (char *p = buffer + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir (buffer, 0750) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    if (mkdir (buffer, 0750) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

//  Before any actor starts, what would make one fail on security, said
//  plainly: an endpoint bound here that needs CURVE without the keys for it,
//  and an endpoint whose bind and connect addresses disagree on CURVE (a
//  server on 0.0.0.0 that peers reach as 127.0.0.1 would never be reached).
//  The sockets check again as they bind (bus_security_apply): this only
//  gives the message early and in one place.
static int
s_security_check (zconfig_t *file, bus_topology_t *topology, const char *actors,
                  const bus_security_config_t *security, char *message, size_t size)
{
    zconfig_t *endpoints = file ? zconfig_locate (file, "endpoints") : NULL;
    const char *always[] = {"api.requests", "api.facts"};
    zconfig_t *item = endpoints ? zconfig_child (endpoints) : NULL;
    for (int i = 0; i < 2 || item; i++) {
        const char *name = i < 2 ? always[i] : zconfig_name (item);
        if (i >= 2)
            item = zconfig_next (item);
        const char *bind = bus_topology_bind (topology, name);
        const char *connect = bus_topology_connect (topology, name);
        if (!bind || !connect)
            continue;
        //  Who binds it: the actor its name starts with
        char owner[64];
        snprintf (owner, sizeof owner, "%.*s", (int)strcspn (name, "."), name);
        bool here = s_listed (actors, owner);
        bool needs = bus_security_needs (bind);
        const char *why = bus_security_mode () == BUS_SECURITY_ALWAYS
                              ? "security mode always"
                              : "its host is not loopback";
        //  A worker's endpoint admits the executor's key, not the allow dir
        if (here && needs && streq (owner, "worker") &&
            (!security->cert || !security->executor)) {
            snprintf (message, size,
                      "%s: %s needs CURVE (%s) and no %s is configured (%s): a "
                      "worker takes commands from the executor only; refusing to "
                      "start",
                      name, bind, why,
                      !security->cert ? "certificate" : "executor's public certificate",
                      !security->cert ? "--cert FILE or daemon/security/cert"
                                      : "--executor-cert FILE or "
                                        "daemon/security/executor: the core's cert");
            return -1;
        }
        if (here && needs && !streq (owner, "worker") &&
            (!security->cert || !security->allow)) {
            snprintf (message, size,
                      "%s: %s needs CURVE (%s) and no %s is configured (%s): refusing "
                      "to start",
                      name, bind, why,
                      !security->cert ? "certificate"
                                      : "allow directory of client "
                                        "certificates",
                      !security->cert ? "--cert FILE or daemon/security/cert; attune "
                                        "keygen makes one"
                                      : "--allow DIR or daemon/security/allow");
            return -1;
        }
        if (needs != bus_security_needs (connect)) {
            snprintf (message, size,
                      "%s: bind %s %s CURVE but connect %s %s: both sides must agree "
                      "(name the host the same way, or security mode always)",
                      name, bind, needs ? "needs" : "does not need", connect,
                      needs ? "does not" : "does");
            return -1;
        }
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  main, in steps: options, the topology file's settings, the topology and
//  security, the actors, the loop, the stop

typedef struct {
    const char *config_path;
    const char *data_dir;    //  default ./var/attune
    const char *packs_dir;   //  default ./packs
    const char *configs_dir; //  pack configs (default <packs>/../configs)
    const char *actors;
    actor_config_t config;
    bool quiet;
    const char *api_endpoint;
    const char *facts_endpoint;
    bus_security_config_t security;
    const char *security_mode;
    int drain_ms;
    zconfig_t *file;
    bus_topology_t *topology;
    bool secured; //  bus_security_configure was called
    attuned_watch_t *facts;
    zactor_t *running[S_ACTOR_COUNT];
} s_daemon_t;

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
s_string_option (s_daemon_t *self, int option)
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
    }
    return NULL;
}

//  One option from getopt_long. -1 to go on, or the exit code.
static int
s_option (s_daemon_t *self, int option, const char *arg)
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
s_parse_options (s_daemon_t *self, int argc, char *argv[])
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
s_daemon_numbers (s_daemon_t *self, zconfig_t *daemon)
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
s_daemon_settings (s_daemon_t *self, zconfig_t *daemon)
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
                    {&self->config.datastore_key, "datastore/key"}};
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (!*settings[i].target)
            *settings[i].target = s_setting (daemon, settings[i].key);
}

//  The topology file's `daemon` section says what runs here; flags win.
//  -1 to go on, or the exit code.
static int
s_load_config (s_daemon_t *self)
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
    static const char *const keys[] = {
        "actors", "data",     "packs",   "host", "heartbeat", "api", "api-facts",
        "worker", "security", "configs", "http", "datastore", NULL};
    static const char *const security[] = {"cert", "allow",   "server", "executor",
                                           "mode", "workers", NULL};
    if (s_known_settings (
            self->config_path, daemon, "daemon/", keys,
            "actors, data, packs, configs, host, heartbeat, api, api-facts, http, "
            "worker/name|slots|runtimes, datastore/key, "
            "security/cert|allow|server|executor|mode|workers") ||
        s_known_settings (self->config_path, zconfig_locate (daemon, "security"),
                          "daemon/security/", security,
                          "cert, allow, server, executor, mode, workers"))
        return 2;
    s_daemon_settings (self, daemon);
    return s_daemon_numbers (self, daemon) ?: -1;
}

//  Every name in --actors is an actor. -1 to go on, or 2.
static int
s_check_actors (const char *actors)
{
    for (size_t i = 0; actors && i < strlen (actors);) {
        size_t n = strcspn (actors + i, ",");
        bool known = false;
        for (size_t a = 0; a < S_ACTOR_COUNT; a++)
            if (strlen (s_actors[a].name) == n &&
                strncmp (actors + i, s_actors[a].name, n) == 0)
                known = true;
        if (!known) {
            fprintf (stderr,
                     "attuned: actors: unknown actor '%.*s' (registry, executor, "
                     "rules, worker, workflow, sensor, datastore, api, http)\n",
                     (int)n, actors + i);
            return 2;
        }
        i += n + 1;
    }
    return -1;
}

//  The api faces the outside: on loopback tcp unless told otherwise (a
//  topology may place it; one that leaves it to inproc gets the default).
//  -1 to go on, or 2.
static int
s_api_endpoints (s_daemon_t *self)
{
    const char *sets[2][3] = {{"api.requests", self->api_endpoint, S_API_DEFAULT},
                              {"api.facts", self->facts_endpoint, S_FACTS_DEFAULT}};
    for (int i = 0; i < 2; i++) {
        const char *given = sets[i][1];
        const char *current = bus_topology_bind (self->topology, sets[i][0]);
        if (!given && current && strncmp (current, "inproc://", 9) != 0)
            continue;
        if (bus_topology_set (self->topology, sets[i][0], given ? given : sets[i][2],
                              NULL) != 0) {
            fprintf (stderr,
                     "attuned: --%s: '%s' is not an address (tcp://host:port, "
                     "ipc://path)\n",
                     i == 0 ? "api" : "api-facts", given);
            return 2;
        }
    }
    return -1;
}

//  Security: set once, before any actor (they only read it). -1 to go on,
//  or the exit code.
static int
s_secure (s_daemon_t *self)
{
    bus_security_config_t *security = &self->security;
    if (self->security_mode &&
        bus_security_mode_parse (self->security_mode, &security->mode) != 0) {
        fprintf (stderr, "attuned: security mode '%s': expected auto or always\n",
                 self->security_mode);
        return 2;
    }
    //  The executor in this process commands its workers with this
    //  process's own key: that is the executor's identity unless named
    if (!security->executor && s_listed (self->actors, "executor") &&
        s_listed (self->actors, "worker"))
        security->executor = security->cert;
    char message[512];
    self->secured = true;
    if (bus_security_configure (security, message, sizeof message) != 0 ||
        s_security_check (self->file, self->topology, self->actors, security, message,
                          sizeof message) != 0) {
        fprintf (stderr, "attuned: %s\n", message);
        return 1;
    }
    return -1;
}

//  The topology (the file's, or inproc everywhere), the data directory, the
//  api's endpoints, security. -1 to go on, or the exit code.
static int
s_prepare (s_daemon_t *self)
{
    if (!self->data_dir)
        self->data_dir = "./var/attune";
    if (!self->packs_dir)
        self->packs_dir = "./packs";
    zsys_init ();
    zsys_set_logident ("attuned");
    char message[512];
    self->topology = self->config_path
                         ? bus_topology_load (self->config_path, message, sizeof message)
                         : bus_topology_new (NULL);
    if (!self->topology) {
        fprintf (stderr, "attuned: %s\n", self->config_path ? message : "out of memory");
        return 1;
    }
    if (s_mkdirs (self->data_dir) != 0) {
        fprintf (stderr, "attuned: cannot create the data directory %s: %s\n",
                 self->data_dir, strerror (errno));
        return 1;
    }
    int rc = s_api_endpoints (self);
    if (rc < 0)
        rc = s_secure (self);
    if (rc < 0)
        attuned_python_environment (self->data_dir, self->packs_dir, self->configs_dir,
                                    bus_topology_bind (self->topology, "api.requests"));
    self->config.topology = self->topology;
    self->config.data_dir = self->data_dir;
    self->config.packs_dir = self->packs_dir;
    return rc;
}

//  Start the actors listed, in order. 0, or 1 when one did not start.
static int
s_start (s_daemon_t *self)
{
    //  Watch execution facts before the executor starts, so none is missed.
    if (!self->quiet && s_listed (self->actors, "executor"))
        self->facts = attuned_watch_new (self->topology);
    for (size_t a = 0; a < S_ACTOR_COUNT; a++) {
        if (!s_listed (self->actors, s_actors[a].name))
            continue;
        self->running[a] = zactor_new (s_actors[a].fn, &self->config);
        if (!self->running[a]) {
            fprintf (stderr, "attuned: the %s actor did not start (see the log above)\n",
                     s_actors[a].name);
            return 1;
        }
    }
    //  An actor that fails to start says why, signals, and ends; zactor_new
    //  does not report it, so give the actors a moment to fail before
    //  declaring the daemon up (the main loop also watches their pipes).
    int rc = 0;
    zpoller_t *check = zpoller_new (NULL);
    for (size_t a = 0; a < S_ACTOR_COUNT; a++)
        if (self->running[a])
            zpoller_add (check, self->running[a]);
    void *which = zpoller_wait (check, 50);
    for (size_t a = 0; which && a < S_ACTOR_COUNT; a++)
        if (which == self->running[a]) {
            fprintf (stderr, "attuned: the %s actor did not start (see the log above)\n",
                     s_actors[a].name);
            rc = 1;
        }
    zpoller_destroy (&check);
    return rc;
}

//  "attuned: running (data D, packs P[, topology T][, api A, facts F])"
static void
s_announce (s_daemon_t *self)
{
    char api_line[1200] = "";
    zactor_t *api = self->running[S_API];
    zactor_t *http = self->running[S_HTTP];
    if (api) {
        zstr_send (api, "ENDPOINTS");
        char *requests = NULL, *facts_at = NULL;
        if (zstr_recvx (api, &requests, &facts_at, NULL) == 2)
            snprintf (api_line, sizeof api_line, ", api %s, facts %s", requests,
                      facts_at);
        zstr_free (&requests);
        zstr_free (&facts_at);
    }
    if (http) {
        zstr_send (http, "ADDRESS");
        char *address = zstr_recv (http);
        if (address && *address)
            snprintf (api_line + strlen (api_line), sizeof api_line - strlen (api_line),
                      ", http %s", address);
        zstr_free (&address);
    }
    zsys_info ("attuned: running (data %s, packs %s%s%s%s)", self->data_dir,
               self->packs_dir, self->config_path ? ", topology " : "",
               self->config_path ? self->config_path : "", api_line);
}

//  Until SIGINT/SIGTERM (CZMQ's handler sets zsys_interrupted) or an actor
//  stops on its own (1).
static int
s_run (s_daemon_t *self)
{
    int rc = 0;
    attuned_watch_t *facts = self->facts;
    zpoller_t *poller = zpoller_new (NULL);
    if (facts)
        zpoller_add (poller, attuned_watch_sock (facts));
    for (size_t a = 0; a < S_ACTOR_COUNT; a++)
        if (self->running[a])
            zpoller_add (poller, self->running[a]);
    while (rc == 0 && !zsys_interrupted) {
        void *which = zpoller_wait (poller, 1000);
        bool fact = facts && which == attuned_watch_sock (facts);
        if (fact || (facts && attuned_watch_due (facts)))
            attuned_watch_handle (facts); //  a catch-up put off waits at most a poll
        if (fact)
            continue;
        if (!which && zpoller_terminated (poller))
            break;
        //  A signal reaches every actor too: one that saw it first and ended
        //  its loop has not failed, whatever order the pipes are read in.
        if (which && zsys_interrupted)
            break;
        //  An actor said something unasked: it stopped on its own. Its
        //  thread has ended: what is waiting on its pipe is CZMQ's
        //  end-of-thread signal, which zactor_destroy collects.
        for (size_t a = 0; which && a < S_ACTOR_COUNT; a++)
            if (which == self->running[a]) {
                zsys_error ("attuned: the %s actor stopped (see the log above)",
                            s_actors[a].name);
                zpoller_remove (poller, self->running[a]);
                rc = 1;
            }
    }
    zpoller_destroy (&poller);
    return rc;
}

//  A worker host drains: the executor (elsewhere) stops sending it work at
//  once, what waits goes back, what runs may finish within the grace. With
//  the executor in this process everything stops together.
static void
s_drain (s_daemon_t *self)
{
    zactor_t *worker = self->running[S_WORKER];
    if (!worker || self->running[S_EXECUTOR] || self->drain_ms <= 0)
        return;
    zsys_info ("attuned: draining the worker (up to %d ms)", self->drain_ms);
    zstr_sendm (worker, "DRAIN");
    zstr_sendf (worker, "%d", self->drain_ms);
    zsock_set_rcvtimeo (zactor_sock (worker), self->drain_ms + 2000);
    char *drained = zstr_recv (worker);
    if (drained && atoi (drained + strlen ("DRAINED ")) > 0)
        zsys_warning ("attuned: %s still running after the grace: the executor will "
                      "settle them",
                      drained + strlen ("DRAINED "));
    zstr_free (&drained);
}

//  Stop the actors (last started first) and free everything.
static void
s_stop (s_daemon_t *self)
{
    for (size_t a = S_ACTOR_COUNT; a-- > 0;)
        zactor_destroy (&self->running[a]);
    attuned_watch_destroy (&self->facts);
    if (self->secured)
        bus_security_shutdown (); //  the ZAP handler last: after every socket it guarded
    bus_topology_destroy (&self->topology);
    zconfig_destroy (&self->file);
}

int
main (int argc, char *argv[])
{
    s_daemon_t self = {.drain_ms = 30000};
    int rc = s_parse_options (&self, argc, argv);
    if (rc < 0)
        rc = s_load_config (&self);
    if (rc < 0)
        rc = s_check_actors (self.actors);
    if (rc < 0)
        rc = s_prepare (&self);
    if (rc < 0) {
        rc = s_start (&self);
        if (rc == 0) {
            s_announce (&self);
            rc = s_run (&self);
        }
        if (rc == 0) {
            zsys_info ("attuned: stopping");
            s_drain (&self);
        }
    }
    s_stop (&self);
    return rc;
}
