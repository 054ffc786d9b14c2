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
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/actor.h"
#include "actors/api/api.h"
#include "actors/datastore/datastore.h"
#include "tools/attuned_python.h"
#include "tools/attuned_log.h"
#include "actors/executor/executor.h"
#include "actors/http/http.h"
#include "actors/registry/registry.h"
#include "actors/rules/rules.h"
#include "actors/sensor/sensor.h"
#include "actors/worker/worker.h"
#include "actors/workflow/workflow_engine.h"
#include "bus/bus_facts.h"
#include "bus/bus_security.h"
#include "tools/attuned_options.h"
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
#define S_ACTOR_COUNT (sizeof s_actors / sizeof s_actors[0])
_Static_assert(S_HTTP + 1 == S_ACTOR_COUNT, "one index per actor, in s_actors order");

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
        bool here = attuned_listed (actors, owner);
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
    attuned_options_t options;
    bus_topology_t *topology;
    bool secured; //  bus_security_configure was called
    attuned_watch_t *facts;
    zactor_t *running[S_ACTOR_COUNT];
} s_daemon_t;

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
    const char *sets[2][3] = {
        {"api.requests", self->options.api_endpoint, PROTO_API_ENDPOINT},
        {"api.facts", self->options.facts_endpoint, PROTO_FACTS_ENDPOINT}};
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
    bus_security_config_t *security = &self->options.security;
    if (self->options.security_mode &&
        bus_security_mode_parse (self->options.security_mode, &security->mode) != 0) {
        fprintf (stderr, "attuned: security mode '%s': expected auto or always\n",
                 self->options.security_mode);
        return 2;
    }
    //  The executor in this process commands its workers with this
    //  process's own key: that is the executor's identity unless named
    if (!security->executor && attuned_listed (self->options.actors, "executor") &&
        attuned_listed (self->options.actors, "worker"))
        security->executor = security->cert;
    char message[512];
    self->secured = true;
    if (bus_security_configure (security, message, sizeof message) != 0 ||
        s_security_check (self->options.file, self->topology, self->options.actors,
                          security, message, sizeof message) != 0) {
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
    if (!self->options.data_dir)
        self->options.data_dir = "./var/attune";
    if (!self->options.packs_dir)
        self->options.packs_dir = "./packs";
    zsys_init ();
    zsys_set_logident ("attuned");
    char message[512];
    if (attuned_log_setup (self->options.log_format, self->options.log_level, message,
                           sizeof message)) {
        fprintf (stderr, "attuned: %s\n", message);
        return 2;
    }
    self->topology =
        self->options.config_path
            ? bus_topology_load (self->options.config_path, message, sizeof message)
            : bus_topology_new (NULL);
    if (!self->topology) {
        fprintf (stderr, "attuned: %s\n",
                 self->options.config_path ? message : "out of memory");
        return 1;
    }
    if (s_mkdirs (self->options.data_dir) != 0) {
        fprintf (stderr, "attuned: cannot create the data directory %s: %s\n",
                 self->options.data_dir, strerror (errno));
        return 1;
    }
    int rc = s_api_endpoints (self);
    if (rc < 0)
        rc = s_secure (self);
    if (rc < 0)
        attuned_python_environment (self->options.data_dir, self->options.packs_dir,
                                    self->options.configs_dir,
                                    bus_topology_bind (self->topology, "api.requests"));
    self->options.config.topology = self->topology;
    self->options.config.data_dir = self->options.data_dir;
    self->options.config.packs_dir = self->options.packs_dir;
    return rc;
}

//  Start the actors listed, in order. 0, or 1 when one did not start.
static int
s_start (s_daemon_t *self)
{
    //  Watch execution facts before the executor starts, so none is missed.
    if (!self->options.quiet && attuned_listed (self->options.actors, "executor"))
        self->facts = attuned_watch_new (self->topology);
    for (size_t a = 0; a < S_ACTOR_COUNT; a++) {
        if (!attuned_listed (self->options.actors, s_actors[a].name))
            continue;
        self->running[a] = zactor_new (s_actors[a].fn, &self->options.config);
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
    zsys_info ("attuned: running (data %s, packs %s%s%s%s)", self->options.data_dir,
               self->options.packs_dir, self->options.config_path ? ", topology " : "",
               self->options.config_path ? self->options.config_path : "", api_line);
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
    if (!worker || self->running[S_EXECUTOR] || self->options.drain_ms <= 0)
        return;
    zsys_info ("attuned: draining the worker (up to %d ms)", self->options.drain_ms);
    zstr_sendm (worker, "DRAIN");
    zstr_sendf (worker, "%d", self->options.drain_ms);
    zsock_set_rcvtimeo (zactor_sock (worker), self->options.drain_ms + 2000);
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
    zconfig_destroy (&self->options.file);
}

int
main (int argc, char *argv[])
{
    s_daemon_t self = {.options = {.drain_ms = 30000}};
    int rc = attuned_options_parse (&self.options, argc, argv);
    if (rc < 0)
        rc = s_check_actors (self.options.actors);
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
