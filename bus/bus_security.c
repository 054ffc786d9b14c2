/*  bus_security: CURVE on tcp endpoints (bus_security.h).

    The settings are globals written by bus_security_configure in the main
    thread before any actor exists, then only read: no lock is needed for
    them. The one thing made later, from whichever actor thread binds the
    first CURVE server socket, is the zauth actor: that is under a mutex.
*/
#include "bus/bus_security.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

//  A draft option in libzmq 4.3's header, present in Debian's build: a
//  CURVE server whose ZAP handler is missing refuses clients instead of
//  accepting every one (libzmq's "Stonehouse" default). zauth is always
//  started before a server binds, so this is a second line of defence.
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
    char allow[4096]; //  "" when not configured
} s_settings;

static pthread_mutex_t s_auth_lock = PTHREAD_MUTEX_INITIALIZER;
static zactor_t *s_auth;   //  the process's ZAP handler, once needed
static bool s_auth_failed; //  it could not start: every later bind fails too

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

int
bus_security_configure (const bus_security_config_t *config, char *message,
                        size_t message_size)
{
    assert (config);
    bus_security_shutdown ();
    s_settings.mode = config->mode;
    if ((config->cert || config->server || config->allow) && !zsys_has_curve ()) {
        s_message (message, message_size,
                   "this libzmq was built without CURVE: no certificate can be used");
        return -1;
    }
    int error = 0;
    if (config->cert) {
        if (!s_readable (config->cert, &error)) {
            s_message (message, message_size, "%s: cannot read the certificate: %s",
                       config->cert, strerror (error));
            return -1;
        }
        zcert_t *cert = zcert_load (config->cert);
        if (!cert || !bus_security_key_valid (zcert_public_txt (cert))) {
            s_message (message, message_size,
                       "%s: not a CURVE certificate (zcert format: a curve section "
                       "with public-key and secret-key, as `attune keygen` writes)",
                       config->cert);
            zcert_destroy (&cert);
            return -1;
        }
        if (s_zero_key (zcert_secret_txt (cert))) {
            s_message (message, message_size,
                       "%s: holds no secret key (give the secret certificate, "
                       "NAME.cert_secret as `attune keygen` writes it)",
                       config->cert);
            zcert_destroy (&cert);
            return -1;
        }
        //  A secret others can read is a secret no more: said, not refused
        char secret[4200];
        snprintf (secret, sizeof secret, "%s_secret", config->cert);
        struct stat info;
        if ((stat (secret, &info) == 0 || stat (config->cert, &info) == 0) &&
            (info.st_mode & 077))
            zsys_warning ("bus_security: %s: the secret certificate is readable by "
                          "others (mode %o): chmod 600 it",
                          config->cert, (unsigned)(info.st_mode & 0777));
        s_settings.cert = cert;
        snprintf (s_settings.public_key, sizeof s_settings.public_key, "%s",
                  zcert_public_txt (cert));
        snprintf (s_settings.cert_path, sizeof s_settings.cert_path, "%s", config->cert);
    }
    if (config->server) {
        zcert_t *server =
            s_readable (config->server, &error) ? zcert_load (config->server) : NULL;
        if (!server || !bus_security_key_valid (zcert_public_txt (server))) {
            if (server || !error)
                s_message (message, message_size,
                           "%s: not a CURVE certificate (zcert format, as `attune "
                           "keygen` writes)",
                           config->server);
            else
                s_message (message, message_size,
                           "%s: cannot read the server certificate: %s", config->server,
                           strerror (error));
            zcert_destroy (&server);
            bus_security_shutdown ();
            return -1;
        }
        snprintf (s_settings.server_key, sizeof s_settings.server_key, "%s",
                  zcert_public_txt (server));
        zcert_destroy (&server);
    }
    if (config->allow) {
        struct stat info;
        const char *reason = NULL;
        if (stat (config->allow, &info) != 0)
            reason = strerror (errno);
        else if (!S_ISDIR (info.st_mode))
            reason = "not a directory";
        else if (access (config->allow, R_OK | X_OK) != 0)
            reason = strerror (errno);
        if (reason) {
            s_message (message, message_size,
                       "%s: the allow list must be a readable directory of public "
                       "certificates: %s",
                       config->allow, reason);
            bus_security_shutdown ();
            return -1;
        }
        snprintf (s_settings.allow, sizeof s_settings.allow, "%s", config->allow);
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

//  Start the process's zauth once. 0, or -1 when it cannot run.
static int
s_auth_start (void)
{
    pthread_mutex_lock (&s_auth_lock);
    if (!s_auth && !s_auth_failed) {
        s_auth = zactor_new (zauth, NULL);
        if (s_auth && (zstr_sendx (s_auth, "CURVE", s_settings.allow, NULL) != 0 ||
                       zsock_wait (s_auth) != 0))
            zactor_destroy (&s_auth);
        if (!s_auth) {
            s_auth_failed = true;
            zsys_error ("bus_security: the authentication handler (zauth) did not "
                        "start: no CURVE server socket can bind");
        } else
            zsys_info ("bus_security: CURVE clients allowed from %s", s_settings.allow);
    }
    int rc = s_auth ? 0 : -1;
    pthread_mutex_unlock (&s_auth_lock);
    return rc;
}

int
bus_security_apply (zsock_t *sock, const char *endpoint, bool server,
                    const char *server_key_z85)
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
    if (server) {
        if (!s_settings.allow[0]) {
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
        zsock_set_zap_domain (sock, BUS_SECURITY_ZAP_DOMAIN);
        int on = 1;
        zmq_setsockopt (handle, ZMQ_ZAP_ENFORCE_DOMAIN, &on, sizeof on); //  best effort
        if (zsock_mechanism (sock) != ZMQ_CURVE) {
            zsys_error ("bus_security: %s: CURVE could not be set on the socket",
                        endpoint);
            return -1;
        }
        return 0;
    }
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
