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
#include "actors/executor/executor.h"
#include "actors/registry/registry.h"
#include "actors/rules/rules.h"
#include "actors/sensor/sensor.h"
#include "actors/worker/worker.h"
#include "bus/bus_facts.h"
#include "bus/bus_security.h"
#include "tools/attuned_watch.h"

typedef struct {
    const char *name;
    zactor_fn *fn;
} s_actor_def_t;

//  Start order: definitions first, then the executor (workers register with
//  it), rules (send to the executor), workers, the sensors, and last the api
//  (clients come in when everything is there to answer them).
static const s_actor_def_t s_actors[] = {
    {"registry", registry_actor}, {"executor", executor_actor}, {"rules", rules_actor},
    {"worker", worker_actor},     {"sensor", sensor_actor},     {"api", api_actor}};
#define S_API_DEFAULT   "tcp://127.0.0.1:5570"
#define S_FACTS_DEFAULT "tcp://127.0.0.1:5571"
#define S_ACTOR_COUNT   (sizeof s_actors / sizeof s_actors[0])

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
        "                        registry,executor,rules,worker,sensor,api)\n"
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
        "      --security-mode M auto (CURVE on non-loopback tcp, the default) or\n"
        "                        always (every tcp endpoint)\n"
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

int
main (int argc, char *argv[])
{
    const char *config_path = NULL;
    const char *data_dir = NULL;  //  default ./var/attune
    const char *packs_dir = NULL; //  default ./packs
    const char *actors = NULL;
    actor_config_t config = {0};
    bool quiet = false;
    const char *api_endpoint = NULL;
    const char *facts_endpoint = NULL;
    bus_security_config_t security = {0};
    const char *security_mode = NULL;
    int drain_ms = 30000;
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
                                      {"cert", required_argument, 0, 20},
                                      {"allow", required_argument, 0, 21},
                                      {"server-cert", required_argument, 0, 22},
                                      {"security-mode", required_argument, 0, 23},
                                      {"executor-cert", required_argument, 0, 24},
                                      {"quiet", no_argument, 0, 'q'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    int option;
    while ((option = getopt_long (argc, argv, "c:d:p:a:qh", options, NULL)) != -1) {
        char *end = NULL;
        switch (option) {
            case 'c':
                config_path = optarg;
                break;
            case 'd':
                data_dir = optarg;
                break;
            case 'p':
                packs_dir = optarg;
                break;
            case 'a':
                actors = optarg;
                break;
            case 1:
                config.worker_name = optarg;
                break;
            case 2:
                config.worker_slots = (int)strtol (optarg, &end, 10);
                if (!*optarg || *end || config.worker_slots < 1 ||
                    config.worker_slots > 4096) {
                    fprintf (stderr,
                             "attuned: --worker-slots: '%s' is not a number 1..4096\n",
                             optarg);
                    return 2;
                }
                break;
            case 3:
                config.runtimes = optarg;
                break;
            case 4:
                config.host = optarg;
                break;
            case 5:
                config.heartbeat_ms = (int)strtol (optarg, &end, 10);
                if (!*optarg || *end || config.heartbeat_ms < 10 ||
                    config.heartbeat_ms > 600000) {
                    fprintf (stderr,
                             "attuned: --heartbeat: '%s' is not a number 10..600000\n",
                             optarg);
                    return 2;
                }
                break;
            case 6:
                config.nosync = true;
                break;
            case 7:
                api_endpoint = optarg;
                break;
            case 8:
                facts_endpoint = optarg;
                break;
            case 9:
                drain_ms = (int)strtol (optarg, &end, 10);
                if (!*optarg || *end || drain_ms < 0 || drain_ms > 3600000) {
                    fprintf (stderr,
                             "attuned: --drain: '%s' is not a number of ms 0..3600000\n",
                             optarg);
                    return 2;
                }
                break;
            case 20:
                security.cert = optarg;
                break;
            case 21:
                security.allow = optarg;
                break;
            case 22:
                security.server = optarg;
                break;
            case 23:
                security_mode = optarg;
                break;
            case 24:
                security.executor = optarg;
                break;
            case 'q':
                quiet = true;
                break;
            case 'h':
                s_usage (stdout);
                return 0;
            default:
                s_usage (stderr);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "attuned: unexpected argument '%s'\n", argv[optind]);
        s_usage (stderr);
        return 2;
    }
    //  The topology file's `daemon` section says what runs here; flags win
    zconfig_t *file = config_path ? zconfig_load (config_path) : NULL;
    if (config_path && !file) {
        fprintf (stderr,
                 "attuned: %s: cannot read it, or it is not ZPL (4-space indents, "
                 "name = value)\n",
                 config_path);
        return 1;
    }
    zconfig_t *daemon = file ? zconfig_locate (file, "daemon") : NULL;
    if (daemon) {
        const char *keys[] = {"actors", "data",      "packs",  "host",     "heartbeat",
                              "api",    "api-facts", "worker", "security", NULL};
        for (zconfig_t *item = zconfig_child (daemon); item; item = zconfig_next (item)) {
            bool known = false;
            for (int k = 0; keys[k]; k++)
                known = known || streq (zconfig_name (item), keys[k]);
            if (!known) {
                fprintf (stderr,
                         "attuned: %s: daemon/%s: unknown setting (actors, data, packs, "
                         "host, heartbeat, api, api-facts, worker/name|slots|runtimes, "
                         "security/cert|allow|server|executor|mode)\n",
                         config_path, zconfig_name (item));
                zconfig_destroy (&file);
                return 2;
            }
        }
        if (!actors)
            actors = s_setting (daemon, "actors");
        if (!data_dir)
            data_dir = s_setting (daemon, "data");
        if (!packs_dir)
            packs_dir = s_setting (daemon, "packs");
        if (!config.host)
            config.host = s_setting (daemon, "host");
        if (!api_endpoint)
            api_endpoint = s_setting (daemon, "api");
        if (!facts_endpoint)
            facts_endpoint = s_setting (daemon, "api-facts");
        zconfig_t *section = zconfig_locate (daemon, "security");
        for (zconfig_t *item = section ? zconfig_child (section) : NULL; item;
             item = zconfig_next (item)) {
            const char *name = zconfig_name (item);
            if (!streq (name, "cert") && !streq (name, "allow") &&
                !streq (name, "server") && !streq (name, "executor") &&
                !streq (name, "mode")) {
                fprintf (stderr,
                         "attuned: %s: daemon/security/%s: unknown setting (cert, allow, "
                         "server, executor, mode)\n",
                         config_path, name);
                zconfig_destroy (&file);
                return 2;
            }
        }
        if (!security.cert)
            security.cert = s_setting (daemon, "security/cert");
        if (!security.allow)
            security.allow = s_setting (daemon, "security/allow");
        if (!security.server)
            security.server = s_setting (daemon, "security/server");
        if (!security.executor)
            security.executor = s_setting (daemon, "security/executor");
        if (!security_mode)
            security_mode = s_setting (daemon, "security/mode");
        if (!config.worker_name)
            config.worker_name = s_setting (daemon, "worker/name");
        if (!config.runtimes)
            config.runtimes = s_setting (daemon, "worker/runtimes");
        const struct {
            const char *key;
            int *target, low, high;
        } numbers[] = {{"heartbeat", &config.heartbeat_ms, 10, 600000},
                       {"worker/slots", &config.worker_slots, 1, 4096}};
        for (size_t n = 0; n < 2; n++) {
            const char *text = s_setting (daemon, numbers[n].key);
            char *end = NULL;
            long value = text ? strtol (text, &end, 10) : 0;
            if (text &&
                (!*text || *end || value < numbers[n].low || value > numbers[n].high)) {
                fprintf (stderr, "attuned: %s: daemon/%s: '%s' is not a number %d..%d\n",
                         config_path, numbers[n].key, text, numbers[n].low,
                         numbers[n].high);
                zconfig_destroy (&file);
                return 2;
            }
            if (text && *numbers[n].target == 0)
                *numbers[n].target = (int)value;
        }
    }
    if (!data_dir)
        data_dir = "./var/attune";
    if (!packs_dir)
        packs_dir = "./packs";
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
                     "rules, worker, sensor, api)\n",
                     (int)n, actors + i);
            zconfig_destroy (&file);
            return 2;
        }
        i += n + 1;
    }

    zsys_init ();
    zsys_set_logident ("attuned");
    char message[512];
    bus_topology_t *topology =
        config_path ? bus_topology_load (config_path, message, sizeof message)
                    : bus_topology_new (NULL);
    if (!topology) {
        fprintf (stderr, "attuned: %s\n", config_path ? message : "out of memory");
        zconfig_destroy (&file);
        return 1;
    }
    if (s_mkdirs (data_dir) != 0) {
        fprintf (stderr, "attuned: cannot create the data directory %s: %s\n", data_dir,
                 strerror (errno));
        bus_topology_destroy (&topology);
        zconfig_destroy (&file);
        return 1;
    }
    //  The api faces the outside: on loopback tcp unless told otherwise (a
    //  topology may place it; one that leaves it to inproc gets the default)
    const char *sets[2][3] = {{"api.requests", api_endpoint, S_API_DEFAULT},
                              {"api.facts", facts_endpoint, S_FACTS_DEFAULT}};
    for (int i = 0; i < 2; i++) {
        const char *given = sets[i][1];
        const char *current = bus_topology_bind (topology, sets[i][0]);
        if (!given && current && strncmp (current, "inproc://", 9) != 0)
            continue;
        if (bus_topology_set (topology, sets[i][0], given ? given : sets[i][2], NULL) !=
            0) {
            fprintf (stderr,
                     "attuned: --%s: '%s' is not an address (tcp://host:port, "
                     "ipc://path)\n",
                     i == 0 ? "api" : "api-facts", given);
            bus_topology_destroy (&topology);
            zconfig_destroy (&file);
            return 2;
        }
    }
    //  Security: set once, before any actor (they only read it)
    if (security_mode && bus_security_mode_parse (security_mode, &security.mode) != 0) {
        fprintf (stderr, "attuned: security mode '%s': expected auto or always\n",
                 security_mode);
        bus_topology_destroy (&topology);
        zconfig_destroy (&file);
        return 2;
    }
    //  The executor in this process commands its workers with this
    //  process's own key: that is the executor's identity unless named
    if (!security.executor && s_listed (actors, "executor") &&
        s_listed (actors, "worker"))
        security.executor = security.cert;
    if (bus_security_configure (&security, message, sizeof message) != 0 ||
        s_security_check (file, topology, actors, &security, message, sizeof message) !=
            0) {
        fprintf (stderr, "attuned: %s\n", message);
        bus_security_shutdown ();
        bus_topology_destroy (&topology);
        zconfig_destroy (&file);
        return 1;
    }
    config.topology = topology;
    config.data_dir = data_dir;
    config.packs_dir = packs_dir;

    //  Watch execution facts before the executor starts, so none is missed.
    attuned_watch_t *facts = NULL;
    if (!quiet && s_listed (actors, "executor"))
        facts = attuned_watch_new (topology);

    zactor_t *running[S_ACTOR_COUNT] = {0};
    int rc = 0;
    for (size_t a = 0; a < S_ACTOR_COUNT; a++) {
        if (!s_listed (actors, s_actors[a].name))
            continue;
        running[a] = zactor_new (s_actors[a].fn, &config);
        if (!running[a]) {
            fprintf (stderr, "attuned: the %s actor did not start (see the log above)\n",
                     s_actors[a].name);
            rc = 1;
            break;
        }
    }
    //  An actor that fails to start says why, signals, and ends; zactor_new
    //  does not report it, so give the actors a moment to fail before
    //  declaring the daemon up (the main loop also watches their pipes).
    if (rc == 0) {
        zpoller_t *check = zpoller_new (NULL);
        for (size_t a = 0; a < S_ACTOR_COUNT; a++)
            if (running[a])
                zpoller_add (check, running[a]);
        void *which = zpoller_wait (check, 50);
        for (size_t a = 0; which && a < S_ACTOR_COUNT; a++)
            if (which == running[a]) {
                fprintf (stderr,
                         "attuned: the %s actor did not start (see the log above)\n",
                         s_actors[a].name);
                rc = 1;
            }
        zpoller_destroy (&check);
    }
    char api_line[1200] = "";
    zactor_t *api = running[S_ACTOR_COUNT - 1];
    if (rc == 0 && api) {
        zstr_send (api, "ENDPOINTS");
        char *requests = NULL, *facts_at = NULL;
        if (zstr_recvx (api, &requests, &facts_at, NULL) == 2)
            snprintf (api_line, sizeof api_line, ", api %s, facts %s", requests,
                      facts_at);
        zstr_free (&requests);
        zstr_free (&facts_at);
    }
    if (rc == 0)
        zsys_info ("attuned: running (data %s, packs %s%s%s%s)", data_dir, packs_dir,
                   config_path ? ", topology " : "", config_path ? config_path : "",
                   api_line);

    //  Until SIGINT/SIGTERM (CZMQ's handler sets zsys_interrupted)
    zpoller_t *poller = zpoller_new (NULL);
    if (facts)
        zpoller_add (poller, attuned_watch_sock (facts));
    for (size_t a = 0; a < S_ACTOR_COUNT; a++)
        if (running[a])
            zpoller_add (poller, running[a]);
    while (rc == 0 && !zsys_interrupted) {
        void *which = zpoller_wait (poller, 1000);
        bool fact = facts && which == attuned_watch_sock (facts);
        if (fact || (facts && attuned_watch_due (facts)))
            attuned_watch_handle (facts); //  a catch-up put off waits at most a poll
        if (fact)
            continue;
        if (which) {
            //  An actor said something unasked: it stopped on its own
            for (size_t a = 0; a < S_ACTOR_COUNT; a++)
                if (which == running[a]) {
                    //  Its thread has ended: what is waiting on its pipe is
                    //  CZMQ's end-of-thread signal, which zactor_destroy
                    //  below collects.
                    zsys_error ("attuned: the %s actor stopped (see the log above)",
                                s_actors[a].name);
                    zpoller_remove (poller, running[a]);
                    rc = 1;
                }
        } else if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    if (rc == 0)
        zsys_info ("attuned: stopping");
    //  A worker host drains: the executor (elsewhere) stops sending it work
    //  at once, what waits goes back, what runs may finish within the grace.
    //  With the executor in this process everything stops together.
    zactor_t *worker = running[3];
    if (rc == 0 && worker && !running[1] && drain_ms > 0) {
        zsys_info ("attuned: draining the worker (up to %d ms)", drain_ms);
        zstr_sendm (worker, "DRAIN");
        zstr_sendf (worker, "%d", drain_ms);
        zsock_set_rcvtimeo (zactor_sock (worker), drain_ms + 2000);
        char *drained = zstr_recv (worker);
        if (drained && atoi (drained + strlen ("DRAINED ")) > 0)
            zsys_warning ("attuned: %s still running after the grace: the executor will "
                          "settle them",
                          drained + strlen ("DRAINED "));
        zstr_free (&drained);
    }
    for (size_t a = S_ACTOR_COUNT; a-- > 0;)
        zactor_destroy (&running[a]);
    attuned_watch_destroy (&facts);
    bus_security_shutdown (); //  the ZAP handler last: after every socket it guarded
    bus_topology_destroy (&topology);
    zconfig_destroy (&file);
    return rc;
}
