/*  bus_security: CURVE on tcp endpoints, with CZMQ's zcert and zcertstore
    and attune's own ZAP handler (proto/PROTOCOL.md, "Security (CURVE)").

    Process-wide settings, set once by the main thread before any actor
    starts (bus_security_configure) and read-only afterwards: actors run in
    threads and only read them. Every bind and connect in attune goes
    through bus_security_apply, which decides from the endpoint whether the
    socket needs CURVE:

        inproc://, ipc://             never (the kernel's permissions guard
                                      them; CURVE would buy nothing)
        tcp:// in mode `auto`         when the host is not loopback
                                      (127.0.0.0/8, ::1, localhost)
        tcp:// in mode `always`       always (tests use it on 127.0.0.1)

    A socket that needs CURVE and cannot have it fails closed: apply returns
    -1 (and logs why), the caller refuses to bind or connect, and the actor
    does not start. Nothing falls back to plaintext.

    Servers (binds) take this process's secret cert and curve_server. One
    ZAP handler for the process (ZeroMQ RFC 27: an actor with a REP socket
    on inproc://zeromq.zap.01, answering from a zcertstore of the allow
    dir) is started by the first server socket that needs it and kept until
    bus_security_shutdown. It admits a client during the CURVE handshake by
    the socket's ZAP domain:

        "attune"      (bus_security_apply: every internal endpoint) a key
                      in the allow dir without `role`: peers only
        "attune.api"  (bus_security_apply_api: api.requests, api.facts)
                      any key in the allow dir: users and peers
        "attune.worker" (bus_security_apply_executor: a worker's endpoint)
                      the executor's key only, as named by `executor` (the
                      core's public cert); the allow dir is not asked, so
                      a sensor's, another worker's or a user's key never
                      gets in, whatever the allow dir holds

    Anything else (a key not in the allow dir, a user key on an internal
    endpoint, another mechanism, an unknown domain, a malformed request) is
    refused (400, or 500) before a message can pass or a routing id be
    claimed; a plaintext client never completes the handshake.
    ZMQ_ZAP_ENFORCE_DOMAIN is set too where libzmq has it, so a missing ZAP
    handler refuses clients rather than lets them in.

    Clients (connects) take this process's secret cert and the server's
    public key: the one given (a worker's key from its registration), else
    the configured server cert, else this process's own public key (a core
    connecting to its own tcp endpoints).

    Keys come in two kinds, told apart by their metadata in the allow dir:
    *peers* (attune processes: core, workers, sensors; no `role`) and
    *users* (people and programs; `identity` and `role` = admin | operator |
    viewer). The ZAP handler gives libzmq the client's z85 key as User-Id
    and the cert's metadata as the connection's properties, so a socket
    sees who sent each message (zmq_msg_gets "User-Id", "role",
    "identity"; bus_security_user). A worker's inbox checks every message
    again against the executor's key (bus_security_from_executor).
*/
#ifndef BUS_SECURITY_H_INCLUDED
#define BUS_SECURITY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BUS_SECURITY_ZAP_DOMAIN        "attune"        //  internal endpoints: peer keys
#define BUS_SECURITY_ZAP_DOMAIN_API    "attune.api"    //  the api: user and peer keys
#define BUS_SECURITY_ZAP_DOMAIN_WORKER "attune.worker" //  workers: the executor only
#define BUS_SECURITY_KEY_SIZE          40              //  a z85 key, without the NUL

typedef enum {
    BUS_SECURITY_AUTO = 0, //  CURVE on tcp endpoints that are not loopback
    BUS_SECURITY_ALWAYS    //  CURVE on every tcp endpoint
} bus_security_mode_t;

typedef struct {
    const char *cert;   //  this process's secret cert (zcert_save; FILE or FILE_secret)
    const char *allow;  //  directory of allowed client public certs
    const char *server; //  public cert of the server this process's clients use
    //  public cert of the executor (the core's): the one key a worker
    //  endpoint of this process admits (bus_security_apply_executor)
    const char *executor;
    bus_security_mode_t mode;
} bus_security_config_t;

//  Set the process-wide settings (call once, before any actor starts; may
//  be called again only after bus_security_shutdown). Every path given is
//  checked now: the cert must load and hold a secret key, the server cert
//  must load, the allow dir must be a readable directory, the executor's
//  cert must load and have no `role` (a user key). Returns 0, or -1
//  with `message` naming the file and why. NULL paths are fine: a socket
//  that later needs what is missing fails then.
int bus_security_configure (const bus_security_config_t *config, char *message,
                            size_t message_size);

//  Stop the ZAP handler and forget the settings. Call after every socket
//  that used them is closed (end of main, end of a test).
void bus_security_shutdown (void);

//  Parse a mode name ("auto", "always"). 0, or -1 for anything else.
int bus_security_mode_parse (const char *text, bus_security_mode_t *mode);
bus_security_mode_t bus_security_mode (void);

//  Pure: true when `endpoint` is tcp:// and its host is loopback
//  (127.0.0.0/8, ::1 with or without brackets, localhost). For a connect
//  with a source ("tcp://src:0;host:port") the host after ';' counts.
bool bus_security_loopback (const char *endpoint);

//  Pure: whether `endpoint` needs CURVE in `mode` (see the table above).
bool bus_security_endpoint_needs (const char *endpoint, bus_security_mode_t mode);

//  The same with the configured mode.
bool bus_security_needs (const char *endpoint);

//  Prepare `sock` for binding (`server`) or connecting to `endpoint`, before
//  the bind or connect. A client's server key: `server_key_z85`, or NULL
//  for the configured one (see above). Returns 0 (CURVE set, or not needed:
//  a client socket that had CURVE for an earlier connect is set back to
//  plaintext), or -1 after logging why the endpoint cannot have CURVE (no
//  cert, no allow dir, no server key, a bad key, the ZAP handler did not
//  start): the caller must not bind or connect. A server is in ZAP domain
//  "attune": only peer keys complete the handshake.
int bus_security_apply (zsock_t *sock, const char *endpoint, bool server,
                        const char *server_key_z85);

//  The same for a server socket of the api (api.requests, api.facts), in
//  ZAP domain "attune.api": user keys complete the handshake too. 0 or -1.
int bus_security_apply_api (zsock_t *sock, const char *endpoint);

//  The same for a worker's endpoint (its command inbox), in ZAP domain
//  "attune.worker": only the executor's key completes the handshake; no
//  allow dir is needed. Fails closed: -1 when the endpoint needs CURVE and
//  no executor cert is configured (logged, naming --executor-cert).
int bus_security_apply_executor (zsock_t *sock, const char *endpoint);

//  The executor's public key (z85) from the configured `executor` cert, or
//  NULL when none is named. Owned here.
const char *bus_security_executor_key (void);

//  True when the message whose frame `frame` belongs to came over a CURVE
//  connection authenticated with the executor's key (its User-Id). False
//  without CURVE, or without a named executor. A worker's inbox drops
//  every message for which this is false when its endpoint is CURVE.
bool bus_security_from_executor (zmq_msg_t *frame);

//  This process's public key (z85), or NULL without a cert. Owned here.
const char *bus_security_public_key (void);

//  The allow dir, or NULL. Owned here.
const char *bus_security_allow_dir (void);

//  True when `key` is 40 characters of the Z85 alphabet.
bool bus_security_key_valid (const char *key);

//  True when the message whose frame `frame` belongs to came over a CURVE
//  connection authenticated with a *user* key (its cert in the allow dir
//  has a `role`). Internal endpoints (command inboxes, query endpoints)
//  drop those, as a second line of defence: their ZAP domain already
//  refuses user keys at the handshake. Users go through the api.
bool bus_security_user (zmq_msg_t *frame);
bool bus_security_user_frame (zframe_t *frame);

#ifdef __cplusplus
}
#endif

#endif
