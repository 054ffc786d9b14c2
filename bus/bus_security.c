/*  bus_security: CURVE on tcp endpoints (bus_security.h).

    The settings are globals written by bus_security_configure in the main
    thread before any actor exists, then only read: no lock is needed for
    them. The one thing made later, from whichever actor thread binds the
    first CURVE server socket, is the ZAP handler actor (s_zap_actor): that
    is under a mutex.

    The ZAP handler (ZeroMQ RFC 27, ZAP 1.0) is a REP socket bound to
    inproc://zeromq.zap.01 in CZMQ's context, where libzmq asks, during
    every CURVE handshake on a server socket of this process, whether the
    client's key may in. It answers from a zcertstore of the allow dir
    (which reloads the directory when it changes), by the socket's ZAP
    domain: "attune" admits peer keys only (no `role`), "attune.api" any
    key in the allow dir. Every request gets a reply, malformed or not: a
    REP that does not answer would stall every later handshake.
*/
#include "bus/bus_security.h"
#include "bus/bus_topology.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

//  A draft option in libzmq 4.3's header, present in Debian's build: a
//  CURVE server whose ZAP handler is missing refuses clients instead of
//  accepting every one (libzmq's "Stonehouse" default). The ZAP handler is
//  always started before a server binds, so this is a second line of
//  defence.
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

static struct {
    bool configured;
    bus_security_mode_t mode;
    zcert_t *cert; //  this process's secret cert
    char public_key[BUS_SECURITY_KEY_SIZE + 1];
    char server_key[BUS_SECURITY_KEY_SIZE + 1]; //  "" when not configured
    char cert_path[4096];
    char allow[4096];  //  "" when not configured
    zcert_t *executor; //  the executor's public cert (its metadata), or NULL
    char executor_key[BUS_SECURITY_KEY_SIZE + 1]; //  "" when not named
} s_settings;

static pthread_mutex_t s_auth_lock = PTHREAD_MUTEX_INITIALIZER;
static zactor_t *s_auth;   //  the process's ZAP handler (s_zap_actor), once needed
static bool s_auth_failed; //  it could not start: every later bind fails too

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01" //  RFC 27; where zauth binds too
#define S_ZAP_FRAMES   16                       //  more frames than this: malformed
#define S_ZAP_META_MAX 65536 //  a cert whose metadata encodes larger: refused (500)
#define S_ZAP_LOG_MS   60000 //  a key refused again within this is counted, not logged
#define S_ZAP_LOG_KEYS 1024  //  refused keys remembered for that (then forgotten)

static void
s_message (char *message, size_t size, const char *format, ...)
{
    if (!message || size == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (message, size, format, args);
    va_end (args);
}

bool
bus_security_key_valid (const char *key)
{
    //  Z85 (ZeroMQ RFC 32): 0-9 a-z A-Z .-:+=^!/*?&<>()[]{}@%$#
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    if (!key || strlen (key) != BUS_SECURITY_KEY_SIZE)
        return false;
    for (const char *p = key; *p; p++)
        if (!strchr (alphabet, *p))
            return false;
    return true;
}

//  A readable file at `path` or at `path`_secret (what zcert_load tries).
static bool
s_readable (const char *path, int *error)
{
    char secret[4200];
    snprintf (secret, sizeof secret, "%s_secret", path);
    if (access (path, R_OK) == 0 || access (secret, R_OK) == 0)
        return true;
    *error = errno;
    return false;
}

static bool
s_zero_key (const char *text)
{
    for (const char *p = text; *p; p++)
        if (*p != '0')
            return false;
    return true;
}

//  The executor's public cert: its key is the only one a worker endpoint
//  admits. A cert with a `role` is a person's, never the executor's.
static int
s_load_executor (const char *path, char *message, size_t message_size)
{
    int error = 0;
    zcert_t *cert = s_readable (path, &error) ? zcert_load (path) : NULL;
    if (!cert || !bus_security_key_valid (zcert_public_txt (cert))) {
        if (cert || !error)
            s_message (message, message_size,
                       "%s: the executor's cert is not a CURVE certificate (zcert "
                       "format, as `attune keygen` writes)",
                       path);
        else
            s_message (message, message_size, "%s: cannot read the executor's cert: %s",
                       path, strerror (error));
        zcert_destroy (&cert);
        return -1;
    }
    if (zcert_meta (cert, "role")) {
        s_message (message, message_size,
                   "%s: the executor's cert has a role (\"%.32s\"): that is a user "
                   "key; name the core's cert (attune keygen without --role)",
                   path, zcert_meta (cert, "role"));
        zcert_destroy (&cert);
        return -1;
    }
    snprintf (s_settings.executor_key, sizeof s_settings.executor_key, "%s",
              zcert_public_txt (cert));
    s_settings.executor = cert;
    return 0;
}

//  Load this process's certificate (secret key included). 0, or -1 with
//  the message set.
static int
s_load_cert (const char *path, char *message, size_t message_size)
{
    int error = 0;
    if (!s_readable (path, &error)) {
        s_message (message, message_size, "%s: cannot read the certificate: %s", path,
                   strerror (error));
        return -1;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert || !bus_security_key_valid (zcert_public_txt (cert))) {
        s_message (message, message_size,
                   "%s: not a CURVE certificate (zcert format: a curve section "
                   "with public-key and secret-key, as `attune keygen` writes)",
                   path);
        zcert_destroy (&cert);
        return -1;
    }
    if (s_zero_key (zcert_secret_txt (cert))) {
        s_message (message, message_size,
                   "%s: holds no secret key (give the secret certificate, "
                   "NAME.cert_secret as `attune keygen` writes it)",
                   path);
        zcert_destroy (&cert);
        return -1;
    }
    //  A secret others can read is a secret no more: said, not refused
    char secret[4200];
    snprintf (secret, sizeof secret, "%s_secret", path);
    struct stat info;
    if ((stat (secret, &info) == 0 || stat (path, &info) == 0) && (info.st_mode & 077))
        zsys_warning ("bus_security: %s: the secret certificate is readable by "
                      "others (mode %o): chmod 600 it",
                      path, (unsigned)(info.st_mode & 0777));
    s_settings.cert = cert;
    snprintf (s_settings.public_key, sizeof s_settings.public_key, "%s",
              zcert_public_txt (cert));
    snprintf (s_settings.cert_path, sizeof s_settings.cert_path, "%s", path);
    return 0;
}

//  Load the server's public key from its certificate. 0, or -1 with the
//  message set.
static int
s_load_server (const char *path, char *message, size_t message_size)
{
    int error = 0;
    zcert_t *server = s_readable (path, &error) ? zcert_load (path) : NULL;
    if (!server || !bus_security_key_valid (zcert_public_txt (server))) {
        if (server || !error)
            s_message (message, message_size,
                       "%s: not a CURVE certificate (zcert format, as `attune "
                       "keygen` writes)",
                       path);
        else
            s_message (message, message_size,
                       "%s: cannot read the server certificate: %s", path,
                       strerror (error));
        zcert_destroy (&server);
        return -1;
    }
    snprintf (s_settings.server_key, sizeof s_settings.server_key, "%s",
              zcert_public_txt (server));
    zcert_destroy (&server);
    return 0;
}

//  Take the allow list: a readable directory. 0, or -1 with the message set.
static int
s_set_allow (const char *path, char *message, size_t message_size)
{
    struct stat info;
    const char *reason = NULL;
    if (stat (path, &info) != 0)
        reason = strerror (errno);
    else if (!S_ISDIR (info.st_mode))
        reason = "not a directory";
    else if (access (path, R_OK | X_OK) != 0)
        reason = strerror (errno);
    if (reason) {
        s_message (message, message_size,
                   "%s: the allow list must be a readable directory of public "
                   "certificates: %s",
                   path, reason);
        return -1;
    }
    snprintf (s_settings.allow, sizeof s_settings.allow, "%s", path);
    return 0;
}

int
bus_security_configure (const bus_security_config_t *config, char *message,
                        size_t message_size)
{
    assert (config);
    bus_security_shutdown ();
    s_settings.mode = config->mode;
    if ((config->cert || config->server || config->allow || config->executor) &&
        !zsys_has_curve ()) {
        s_message (message, message_size,
                   "this libzmq was built without CURVE: no certificate can be used");
        return -1;
    }
    if (config->cert && s_load_cert (config->cert, message, message_size))
        return -1;
    if ((config->server && s_load_server (config->server, message, message_size)) ||
        (config->allow && s_set_allow (config->allow, message, message_size)) ||
        (config->executor && s_load_executor (config->executor, message, message_size))) {
        bus_security_shutdown ();
        return -1;
    }
    s_settings.configured = true;
    return 0;
}

void
bus_security_shutdown (void)
{
    pthread_mutex_lock (&s_auth_lock);
    zactor_destroy (&s_auth);
    s_auth_failed = false;
    pthread_mutex_unlock (&s_auth_lock);
    zcert_destroy (&s_settings.cert);
    zcert_destroy (&s_settings.executor);
    memset (&s_settings, 0, sizeof s_settings);
}

int
bus_security_mode_parse (const char *text, bus_security_mode_t *mode)
{
    if (text && streq (text, "auto"))
        *mode = BUS_SECURITY_AUTO;
    else if (text && streq (text, "always"))
        *mode = BUS_SECURITY_ALWAYS;
    else
        return -1;
    return 0;
}

bus_security_mode_t
bus_security_mode (void)
{
    return s_settings.mode;
}

bool
bus_security_loopback (const char *endpoint)
{
    if (!endpoint || strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    const char *semicolon = strchr (host, ';');
    if (semicolon)
        host = semicolon + 1; //  tcp://source;destination: the destination counts
    const char *colon = strrchr (host, ':');
    if (!colon || colon == host || (size_t)(colon - host) >= 256)
        return false;
    char name[256];
    memcpy (name, host, (size_t)(colon - host));
    name[colon - host] = 0;
    char *bare = name;
    size_t size = strlen (bare);
    if (size >= 2 && bare[0] == '[' && bare[size - 1] == ']') {
        bare[size - 1] = 0;
        bare++;
    }
    //  Only what is loopback by definition; interface names ("lo"), "*" and
    //  other host names are not (they may resolve or bind elsewhere).
    if (strcasecmp (bare, "localhost") == 0)
        return true;
    struct in_addr v4;
    if (inet_pton (AF_INET, bare, &v4) == 1)
        return (ntohl (v4.s_addr) >> 24) == 127;
    struct in6_addr v6;
    if (inet_pton (AF_INET6, bare, &v6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK (&v6))
            return true;
        return IN6_IS_ADDR_V4MAPPED (&v6) && v6.s6_addr[12] == 127;
    }
    return false;
}

bool
bus_security_endpoint_needs (const char *endpoint, bus_security_mode_t mode)
{
    if (!endpoint || strncmp (endpoint, "tcp://", 6) != 0)
        return false; //  inproc://, ipc://: never
    return mode == BUS_SECURITY_ALWAYS || !bus_security_loopback (endpoint);
}

bool
bus_security_needs (const char *endpoint)
{
    return bus_security_endpoint_needs (endpoint, s_settings.mode);
}

const char *
bus_security_public_key (void)
{
    return s_settings.cert ? s_settings.public_key : NULL;
}

const char *
bus_security_allow_dir (void)
{
    return s_settings.allow[0] ? s_settings.allow : NULL;
}

const char *
bus_security_executor_key (void)
{
    return s_settings.executor_key[0] ? s_settings.executor_key : NULL;
}

//  ---------------------------------------------------------------------------
//  The ZAP handler (ZeroMQ RFC 27, ZAP 1.0)

typedef struct {
    zsock_t *pipe;
    zsock_t *handler;    //  REP on S_ZAP_ENDPOINT
    zpoller_t *poller;   //  pipe and handler
    zcertstore_t *certs; //  the allow dir, reloaded by lookups when it changes
    zhashx_t *logged;    //  "domain key reason" of a refusal -> last logged (ms)
    uint64_t admitted;   //  handshakes admitted
    uint64_t refused;    //  requests answered with anything but 200
    bool terminated;
} s_zap_t;

static void
s_zap_destroy (s_zap_t *self)
{
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->handler);
    zcertstore_destroy (&self->certs);
    zhashx_destroy (&self->logged);
}

//  A frame as printable text for a log line or a status text (at most
//  `size` - 1 bytes; bytes outside printable ASCII become '?').
static void
s_zap_text (zframe_t *frame, char *out, size_t size)
{
    size_t n = frame ? zframe_size (frame) : 0;
    if (n > size - 1)
        n = size - 1;
    const byte *data = frame ? zframe_data (frame) : NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '?';
    out[n] = 0;
}

//  The cert's metadata as ZMTP properties (ZeroMQ RFC 23: a 1-byte name
//  length, the name, a 4-byte network-order value length, the value), the
//  form libzmq reads from a ZAP reply's metadata frame and serves through
//  zmq_msg_gets. libzmq's own properties (User-Id, Peer-Address) are not
//  the cert's to set and are left out, as are names over 255 bytes.
//  Caller owns the chunk; NULL when it would pass S_ZAP_META_MAX.
static zchunk_t *
s_zap_metadata (zcert_t *cert)
{
    zchunk_t *chunk = zchunk_new (NULL, 256);
    zlist_t *names = zcert_meta_keys (cert);
    if (!chunk || !names) {
        zchunk_destroy (&chunk);
        zlist_destroy (&names);
        return NULL;
    }
    for (const char *name = (const char *)zlist_first (names); name && chunk;
         name = (const char *)zlist_next (names)) {
        const char *value = zcert_meta (cert, name);
        size_t name_size = strlen (name);
        size_t value_size = value ? strlen (value) : 0;
        if (name_size == 0 || name_size > 255 || strcasecmp (name, "User-Id") == 0 ||
            strcasecmp (name, "Peer-Address") == 0)
            continue;
        if (zchunk_size (chunk) + 5 + name_size + value_size > S_ZAP_META_MAX) {
            zchunk_destroy (&chunk);
            break;
        }
        byte head[4] = {(byte)(value_size >> 24), (byte)(value_size >> 16),
                        (byte)(value_size >> 8), (byte)value_size};
        byte length = (byte)name_size;
        zchunk_extend (chunk, &length, 1);
        zchunk_extend (chunk, name, name_size);
        zchunk_extend (chunk, head, 4);
        if (value_size)
            zchunk_extend (chunk, value, value_size);
    }
    zlist_destroy (&names);
    return chunk;
}

//  Log a refusal, at most once per S_ZAP_LOG_MS for the same domain, key
//  and reason (a refused client reconnects every 100 ms; the count says
//  how many).
static void
s_zap_log (s_zap_t *self, zframe_t *domain_frame, zframe_t *address_frame,
           const char *key, const char *code, const char *text)
{
    char domain[64], address[80], id[200];
    s_zap_text (domain_frame, domain, sizeof domain);
    s_zap_text (address_frame, address, sizeof address);
    snprintf (id, sizeof id, "%s %s %.40s", domain, *key ? key : address, text);
    int64_t now = zclock_mono ();
    void *last = zhashx_lookup (self->logged, id);
    if (last && now - (int64_t)(uintptr_t)last < S_ZAP_LOG_MS)
        return;
    if (zhashx_size (self->logged) >= S_ZAP_LOG_KEYS)
        zhashx_purge (self->logged);
    zhashx_update (self->logged, id, (void *)(uintptr_t)(now > 0 ? now : 1));
    zsys_warning ("bus_security: ZAP %s to a client at %s, domain \"%s\", key %s: %s "
                  "(%" PRIu64 " refused since start)",
                  code, *address ? address : "(no address)", domain, *key ? key : "-",
                  text, self->refused);
}

//  The admission of a CURVE client's `key` (z85) by the socket's domain:
//  "200", or "400" / "500" with `text` saying why. On "200" `*metadata`
//  gets the connection's properties (caller owns them).
//
//      "attune"         a key in the allow dir without `role` (a peer)
//      "attune.api"     any key in the allow dir (users and peers)
//      "attune.worker"  the executor's key, as configured, and no other;
//                       the allow dir is not asked
static const char *
s_zap_admit (s_zap_t *self, zframe_t *domain, const char *key, zchunk_t **metadata,
             char *text, size_t size)
{
    bool peers = zframe_streq (domain, BUS_SECURITY_ZAP_DOMAIN);
    bool api = zframe_streq (domain, BUS_SECURITY_ZAP_DOMAIN_API);
    bool worker = zframe_streq (domain, BUS_SECURITY_ZAP_DOMAIN_WORKER);
    zcert_t *cert = NULL;
    if (worker)
        cert = s_settings.executor && streq (key, s_settings.executor_key)
                   ? s_settings.executor
                   : NULL;
    else if (peers || api)
        cert = zcertstore_lookup (self->certs, key);
    const char *role = cert ? zcert_meta (cert, "role") : NULL;
    if (!peers && !api && !worker) {
        char name[64];
        s_zap_text (domain, name, sizeof name);
        snprintf (text, size, "unknown ZAP domain \"%s\" (%s, %s or %s)", name,
                  BUS_SECURITY_ZAP_DOMAIN, BUS_SECURITY_ZAP_DOMAIN_API,
                  BUS_SECURITY_ZAP_DOMAIN_WORKER);
    } else if (worker && !cert)
        snprintf (text, size,
                  "not the executor's key: a worker takes commands from the executor "
                  "only");
    else if (!cert)
        snprintf (text, size, "key not in the allow dir");
    else if (peers && role)
        snprintf (text, size,
                  "a user key (role \"%.32s\") on an internal endpoint: users "
                  "reach attune through the api",
                  role);
    else if (!(*metadata = s_zap_metadata (cert))) {
        snprintf (text, size, "the key's certificate metadata does not fit a ZAP reply");
        return "500";
    } else {
        snprintf (text, size, "OK");
        return "200";
    }
    return "400";
}

//  Answer one ZAP request, whatever it holds. Replies with version, request
//  id, status code, status text, user id (the client's z85 key, as zauth
//  set it) and metadata (the cert's, for zmq_msg_gets).
static void
s_zap_handle (s_zap_t *self)
{
    zmsg_t *request = zmsg_recv (self->handler);
    if (!request)
        return; //  interrupted
    size_t count = zmsg_size (request);
    zframe_t *frame[S_ZAP_FRAMES] = {0};
    for (size_t i = 0; i < count && i < S_ZAP_FRAMES; i++)
        frame[i] = i == 0 ? zmsg_first (request) : zmsg_next (request);
    const char *code = "400";
    char text[256] = "";
    char key[BUS_SECURITY_KEY_SIZE + 1] = "";
    zchunk_t *metadata = NULL;
    if (count < 6 || count > S_ZAP_FRAMES)
        snprintf (text, sizeof text,
                  "malformed request: %zu frames (version, request id, domain, "
                  "address, identity, mechanism, credentials)",
                  count);
    else if (!zframe_streq (frame[0], "1.0")) {
        char version[16];
        s_zap_text (frame[0], version, sizeof version);
        snprintf (text, sizeof text, "unsupported ZAP version \"%s\" (1.0 only)",
                  version);
    } else if (!zframe_streq (frame[5], "CURVE")) {
        char mechanism[32];
        s_zap_text (frame[5], mechanism, sizeof mechanism);
        snprintf (text, sizeof text, "mechanism \"%s\" not admitted (CURVE only)",
                  mechanism);
    } else if (count != 7 || zframe_size (frame[6]) != 32)
        snprintf (text, sizeof text,
                  "malformed CURVE credentials: %zu frame(s), the first of %zu "
                  "bytes (one key of 32 bytes expected)",
                  count - 6, frame[6] ? zframe_size (frame[6]) : 0);
    else {
        zmq_z85_encode (key, zframe_data (frame[6]), 32);
        code = s_zap_admit (self, frame[2], key, &metadata, text, sizeof text);
    }
    bool ok = streq (code, "200");
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zframe_t *request_id = frame[1] ? zframe_dup (frame[1]) : zframe_new (NULL, 0);
    zmsg_append (reply, &request_id);
    zmsg_addstr (reply, code);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, ok ? key : "");
    zmsg_addmem (reply, metadata ? zchunk_data (metadata) : NULL,
                 metadata ? zchunk_size (metadata) : 0);
    if (ok)
        self->admitted++;
    else {
        self->refused++;
        s_zap_log (self, frame[2], frame[3], key, code, text);
    }
    if (zmsg_send (&reply, self->handler) != 0) {
        zsys_error ("bus_security: the ZAP reply could not be sent: %s",
                    zmq_strerror (zmq_errno ()));
        zmsg_destroy (&reply);
    }
    zchunk_destroy (&metadata);
    zmsg_destroy (&request);
}

//  The actor. `args` is the allow dir. It signals its start twice: once
//  for zactor_new (which does not report the status) and once, with the
//  status, for s_auth_start.
static void
s_zap_actor (zsock_t *pipe, void *args)
{
    s_zap_t self_ = {.pipe = pipe};
    s_zap_t *self = &self_;
    const char *allow = (const char *)args;
    //  Without an allow dir (a worker host, which admits the executor
    //  only): an empty store, every peer and user key refused
    self->certs = zcertstore_new (allow && *allow ? allow : NULL);
    self->logged = zhashx_new ();
    self->handler = zsock_new (ZMQ_REP);
    int rc = -1;
    if (self->certs && self->logged && self->handler) {
        zsock_set_linger (self->handler, 0);
        //  An inproc endpoint a handler just closed is released a moment
        //  later (libzmq's reaper): bind_socket retries that for up to 1 s
        rc = bus_topology_bind_socket (self->handler, S_ZAP_ENDPOINT);
        if (rc != 0)
            zsys_error ("bus_security: cannot bind the ZAP handler to %s: %s (another "
                        "ZAP handler in this process?)",
                        S_ZAP_ENDPOINT, zmq_strerror (zmq_errno ()));
    }
    if (rc == 0) {
        self->poller = zpoller_new (pipe, self->handler, NULL);
        if (!self->poller)
            rc = -1;
        else
            //  Not on SIGINT/SIGTERM: the process's sockets may still take
            //  handshakes while it drains; it stops on $TERM, which
            //  bus_security_shutdown sends after every socket it guards
            zpoller_set_nonstop (self->poller, true);
    }
    zsock_signal (pipe, rc == 0 ? 0 : 1);
    zsock_signal (pipe, rc == 0 ? 0 : 1);
    while (rc == 0 && !self->terminated) {
        void *which = zpoller_wait (self->poller, -1);
        if (which == self->handler)
            s_zap_handle (self);
        else if (which == pipe) {
            char *command = zstr_recv (pipe);
            if (!command || streq (command, "$TERM"))
                self->terminated = true;
            else
                zsys_warning ("bus_security: ZAP handler: unknown command %.32s",
                              command);
            zstr_free (&command);
        } else if (zpoller_terminated (self->poller))
            break;
    }
    if (rc == 0)
        zsys_info ("bus_security: ZAP handler stopped: %" PRIu64 " handshakes admitted, "
                   "%" PRIu64 " requests refused",
                   self->admitted, self->refused);
    s_zap_destroy (self);
}

//  Start the process's ZAP handler once. 0, or -1 when it cannot run.
static int
s_auth_start (void)
{
    pthread_mutex_lock (&s_auth_lock);
    if (!s_auth && !s_auth_failed) {
        s_auth = zactor_new (s_zap_actor, s_settings.allow);
        if (s_auth && zsock_wait (s_auth) != 0)
            zactor_destroy (&s_auth);
        if (!s_auth) {
            s_auth_failed = true;
            zsys_error ("bus_security: the authentication handler (ZAP) did not "
                        "start: no CURVE server socket can bind");
        } else
            zsys_info ("bus_security: CURVE clients allowed from %s (domain %s: peer "
                       "keys; %s: peer and user keys); %s: the executor's key %s",
                       s_settings.allow[0] ? s_settings.allow : "(no allow dir)",
                       BUS_SECURITY_ZAP_DOMAIN, BUS_SECURITY_ZAP_DOMAIN_API,
                       BUS_SECURITY_ZAP_DOMAIN_WORKER,
                       s_settings.executor_key[0] ? s_settings.executor_key
                                                  : "(none named)");
    }
    int rc = s_auth ? 0 : -1;
    pthread_mutex_unlock (&s_auth_lock);
    return rc;
}

//  s_apply for a server socket that needs CURVE: this process's cert, the
//  ZAP handler, `domain`. The worker domain needs the executor's key named
//  (not an allow dir); the others need the allow dir. 0 or -1 (logged).
static int
s_apply_server (zsock_t *sock, const char *endpoint, const char *domain, const char *why)
{
    bool worker = streq (domain, BUS_SECURITY_ZAP_DOMAIN_WORKER);
    if (worker && !s_settings.executor_key[0]) {
        zsys_error ("bus_security: the worker endpoint %s needs CURVE (%s) and no "
                    "executor key is named (attuned --executor-cert FILE, or "
                    "daemon/security/executor: the core's public cert): a worker takes "
                    "commands from the executor only, refused",
                    endpoint, why);
        return -1;
    }
    if (!worker && !s_settings.allow[0]) {
        zsys_error ("bus_security: %s needs CURVE (%s) and no allow directory of "
                    "client certificates is configured (attuned --allow, or "
                    "daemon/security/allow): refused",
                    endpoint, why);
        return -1;
    }
    if (s_auth_start () != 0)
        return -1;
    zcert_apply (s_settings.cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, domain);
    int on = 1; //  best effort (see ZMQ_ZAP_ENFORCE_DOMAIN above)
    zmq_setsockopt (zsock_resolve (sock), ZMQ_ZAP_ENFORCE_DOMAIN, &on, sizeof on);
    if (zsock_mechanism (sock) != ZMQ_CURVE) {
        zsys_error ("bus_security: %s: CURVE could not be set on the socket", endpoint);
        return -1;
    }
    return 0;
}

//  bus_security_apply, with the ZAP domain of a server socket.
static int
s_apply (zsock_t *sock, const char *endpoint, bool server, const char *server_key_z85,
         const char *domain)
{
    assert (sock);
    void *handle = zsock_resolve (sock);
    if (!bus_security_needs (endpoint)) {
        //  A client socket keeps its options across connects: one that used
        //  CURVE for an earlier endpoint goes back to NULL for this one (an
        //  empty PLAIN username is libzmq's way to reset the mechanism)
        if (!server && zsock_mechanism (sock) == ZMQ_CURVE)
            zmq_setsockopt (handle, ZMQ_PLAIN_USERNAME, NULL, 0);
        return 0;
    }
    const char *why = s_settings.mode == BUS_SECURITY_ALWAYS ? "security mode is always"
                                                             : "its host is not loopback";
    if (!s_settings.cert) {
        zsys_error ("bus_security: %s needs CURVE (%s) and this process has no "
                    "certificate (attuned --cert, or daemon/security/cert): refused",
                    endpoint, why);
        return -1;
    }
    if (server)
        return s_apply_server (sock, endpoint, domain, why);
    const char *key = server_key_z85 && *server_key_z85 ? server_key_z85
                      : s_settings.server_key[0]        ? s_settings.server_key
                                                        : s_settings.public_key;
    if (!bus_security_key_valid (key)) {
        zsys_error ("bus_security: %s: the server key '%.48s' is not a 40-character "
                    "z85 CURVE key: refused",
                    endpoint, key);
        return -1;
    }
    zcert_apply (s_settings.cert, sock);
    zsock_set_curve_server (sock, 0);
    zsock_set_curve_serverkey (sock, key);
    if (zsock_mechanism (sock) != ZMQ_CURVE) {
        zsys_error ("bus_security: %s: CURVE could not be set on the socket", endpoint);
        return -1;
    }
    return 0;
}

int
bus_security_apply (zsock_t *sock, const char *endpoint, bool server,
                    const char *server_key_z85)
{
    return s_apply (sock, endpoint, server, server_key_z85, BUS_SECURITY_ZAP_DOMAIN);
}

int
bus_security_apply_api (zsock_t *sock, const char *endpoint)
{
    return s_apply (sock, endpoint, true, NULL, BUS_SECURITY_ZAP_DOMAIN_API);
}

int
bus_security_apply_executor (zsock_t *sock, const char *endpoint)
{
    return s_apply (sock, endpoint, true, NULL, BUS_SECURITY_ZAP_DOMAIN_WORKER);
}

bool
bus_security_user (zmq_msg_t *frame)
{
    return frame && zmq_msg_gets (frame, "role") != NULL;
}

bool
bus_security_user_frame (zframe_t *frame)
{
    return frame && zframe_meta (frame, "role") != NULL;
}

bool
bus_security_from_executor (zmq_msg_t *frame)
{
    const char *user_id = frame ? zmq_msg_gets (frame, "User-Id") : NULL;
    return user_id && s_settings.executor_key[0] &&
           streq (user_id, s_settings.executor_key);
}
