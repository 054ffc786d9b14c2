/*  bus_topology: logical endpoint names -> ZeroMQ addresses (bus_topology.h).
*/
#include "bus/bus_topology.h"

#include <assert.h>
#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_NAME 128

typedef struct {
    char *bind;
    char *connect;
    bool resolved; //  made from the defaults, not configured
} s_endpoint_t;

struct _bus_topology_t {
    char *transport; //  "inproc" or "ipc"
    char *namespace_;
    char *ipc_dir;
    zhashx_t *endpoints; //  name -> s_endpoint_t (explicit and resolved defaults)
};

static void
s_endpoint_destroy (void **item_p)
{
    s_endpoint_t *endpoint = (s_endpoint_t *)*item_p;
    if (endpoint) {
        free (endpoint->bind);
        free (endpoint->connect);
        free (endpoint);
        *item_p = NULL;
    }
}

static int
s_name_valid (const char *name)
{
    if (!name || !*name || strlen (name) > S_MAX_NAME)
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
            return 0;
    return 1;
}

int
bus_topology_check_address (const char *address)
{
    if (!address)
        return -1;
    const char *rest = NULL;
    if (strncmp (address, "inproc://", 9) == 0)
        rest = address + 9;
    else if (strncmp (address, "ipc://", 6) == 0)
        rest = address + 6;
    else if (strncmp (address, "tcp://", 6) == 0) {
        rest = address + 6;
        const char *colon = strrchr (rest, ':');
        if (!colon || colon == rest || !colon[1])
            return -1;
        for (const char *p = colon + 1; *p; p++)
            if (!isdigit ((unsigned char)*p) && !(*p == '*' && p == colon + 1 && !p[1]))
                return -1;
    } else
        return -1;
    if (!*rest || strlen (address) > 255)
        return -1;
    for (const char *p = rest; *p; p++)
        if (isspace ((unsigned char)*p) || !isprint ((unsigned char)*p))
            return -1;
    return 0;
}

bus_topology_t *
bus_topology_new (const char *namespace_)
{
    bus_topology_t *self = (bus_topology_t *)calloc (1, sizeof (bus_topology_t));
    if (!self)
        return NULL;
    self->transport = strdup ("inproc");
    self->namespace_ = strdup (namespace_ && *namespace_ ? namespace_ : "attune");
    self->ipc_dir = strdup ("/run/attune");
    self->endpoints = zhashx_new ();
    if (!self->transport || !self->namespace_ || !self->ipc_dir || !self->endpoints) {
        bus_topology_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->endpoints, s_endpoint_destroy);
    return self;
}

void
bus_topology_destroy (bus_topology_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        bus_topology_t *self = *self_p;
        zhashx_destroy (&self->endpoints);
        free (self->transport);
        free (self->namespace_);
        free (self->ipc_dir);
        free (self);
        *self_p = NULL;
    }
}

int
bus_topology_set (bus_topology_t *self, const char *name, const char *bind,
                  const char *connect)
{
    assert (self);
    if (!s_name_valid (name) || bus_topology_check_address (bind) != 0)
        return -1;
    if (connect && bus_topology_check_address (connect) != 0)
        return -1;
    s_endpoint_t *endpoint = (s_endpoint_t *)calloc (1, sizeof (s_endpoint_t));
    if (!endpoint)
        return -1;
    endpoint->bind = strdup (bind);
    endpoint->connect = strdup (connect ? connect : bind);
    if (!endpoint->bind || !endpoint->connect) {
        void *item = endpoint;
        s_endpoint_destroy (&item);
        return -1;
    }
    zhashx_update (self->endpoints, name, endpoint);
    return 0;
}

//  The entry of `name`, made from the defaults when not configured.
static s_endpoint_t *
s_resolve (bus_topology_t *self, const char *name)
{
    if (!s_name_valid (name))
        return NULL;
    s_endpoint_t *endpoint = (s_endpoint_t *)zhashx_lookup (self->endpoints, name);
    if (endpoint)
        return endpoint;
    char address[512];
    if (streq (self->transport, "ipc"))
        snprintf (address, sizeof (address), "ipc://%s/%s.sock", self->ipc_dir, name);
    else
        snprintf (address, sizeof (address), "inproc://%s/%s", self->namespace_, name);
    if (bus_topology_set (self, name, address, NULL) != 0)
        return NULL;
    endpoint = (s_endpoint_t *)zhashx_lookup (self->endpoints, name);
    endpoint->resolved = true;
    return endpoint;
}

bool
bus_topology_listed (bus_topology_t *self, const char *name)
{
    assert (self);
    s_endpoint_t *endpoint = s_name_valid (name)
                                 ? (s_endpoint_t *)zhashx_lookup (self->endpoints, name)
                                 : NULL;
    return endpoint && !endpoint->resolved;
}

const char *
bus_topology_bind (bus_topology_t *self, const char *name)
{
    assert (self);
    s_endpoint_t *endpoint = s_resolve (self, name);
    return endpoint ? endpoint->bind : NULL;
}

const char *
bus_topology_connect (bus_topology_t *self, const char *name)
{
    assert (self);
    s_endpoint_t *endpoint = s_resolve (self, name);
    return endpoint ? endpoint->connect : NULL;
}

static void
s_message (char *message, size_t message_size, const char *format, ...)
{
    if (!message || !message_size)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (message, message_size, format, args);
    va_end (args);
}

//  Apply the bus section (transport, namespace, ipc_dir). 0 or -1 with
//  `message` set.
static int
s_apply_bus (bus_topology_t *self, zconfig_t *section, const char *origin, char *message,
             size_t message_size)
{
    for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
        const char *key = zconfig_name (item);
        const char *value = zconfig_value (item);
        if (!value || !*value) {
            s_message (message, message_size, "%s: bus/%s: a value is required", origin,
                       key);
            return -1;
        }
        char **target = NULL;
        if (streq (key, "transport")) {
            if (!streq (value, "inproc") && !streq (value, "ipc")) {
                s_message (message, message_size,
                           "%s: bus/transport: '%s' must be inproc or ipc", origin,
                           value);
                return -1;
            }
            target = &self->transport;
        } else if (streq (key, "namespace"))
            target = &self->namespace_;
        else if (streq (key, "ipc_dir"))
            target = &self->ipc_dir;
        else
            continue; //  other actors' settings live here too (heartbeat ...)
        char *copy = strdup (value);
        if (!copy) {
            s_message (message, message_size, "%s: out of memory", origin);
            return -1;
        }
        free (*target);
        *target = copy;
    }
    return 0;
}

//  Apply the endpoints section: name = address, or name with bind and
//  connect entries. 0 or -1 with `message` set.
static int
s_apply_endpoints (bus_topology_t *self, zconfig_t *section, const char *origin,
                   char *message, size_t message_size)
{
    for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        if (!s_name_valid (name)) {
            s_message (message, message_size,
                       "%s: endpoints/%s: a name is 1-%d characters of "
                       "[A-Za-z0-9_.-]",
                       origin, name, S_MAX_NAME);
            return -1;
        }
        const char *bind = zconfig_value (item);
        const char *connect = NULL;
        if (!bind || !*bind) {
            bind = zconfig_get (item, "bind", NULL);
            connect = zconfig_get (item, "connect", NULL);
        }
        if (!bind || !*bind) {
            s_message (message, message_size,
                       "%s: endpoints/%s: an address or a 'bind' entry is required",
                       origin, name);
            return -1;
        }
        const char *bad = bus_topology_check_address (bind) != 0                 ? bind
                          : connect && bus_topology_check_address (connect) != 0 ? connect
                                                                                 : NULL;
        if (bad) {
            s_message (message, message_size,
                       "%s: endpoints/%s: address '%s' must start with inproc://, "
                       "ipc:// or tcp:// (tcp://host:port)",
                       origin, name, bad);
            return -1;
        }
        if (bus_topology_set (self, name, bind, connect) != 0) {
            s_message (message, message_size, "%s: endpoints/%s: out of memory", origin,
                       name);
            return -1;
        }
    }
    return 0;
}

//  Apply a loaded config tree. 0 or -1 with `message` set.
static int
s_apply (bus_topology_t *self, zconfig_t *root, const char *origin, char *message,
         size_t message_size)
{
    for (zconfig_t *section = zconfig_child (root); section;
         section = zconfig_next (section)) {
        const char *sname = zconfig_name (section);
        if (streq (sname, "bus")) {
            if (s_apply_bus (self, section, origin, message, message_size))
                return -1;
        } else if (streq (sname, "endpoints")) {
            if (s_apply_endpoints (self, section, origin, message, message_size))
                return -1;
        }
        //  Other sections (actors, worker, ...) belong to the daemon.
    }
    return 0;
}

bus_topology_t *
bus_topology_parse (const char *text, const char *origin, char *message,
                    size_t message_size)
{
    assert (text);
    if (!origin)
        origin = "topology";
    zconfig_t *root = zconfig_str_load (text);
    if (!root) {
        s_message (message, message_size,
                   "%s: not a valid ZPL document (4-space indentation, 'name = value')",
                   origin);
        return NULL;
    }
    bus_topology_t *self = bus_topology_new (NULL);
    if (self && s_apply (self, root, origin, message, message_size) != 0)
        bus_topology_destroy (&self);
    zconfig_destroy (&root);
    return self;
}

bus_topology_t *
bus_topology_load (const char *path, char *message, size_t message_size)
{
    assert (path);
    FILE *file = fopen (path, "r");
    if (!file) {
        s_message (message, message_size, "%s: cannot open (%s)", path, strerror (errno));
        return NULL;
    }
    char *text = NULL;
    size_t size = 0, cap = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread (chunk, 1, sizeof (chunk), file)) > 0) {
        if (size + n + 1 > cap) {
            cap = (size + n + 1) * 2;
            if (cap > 16 * 1024 * 1024) {
                free (text);
                fclose (file);
                s_message (message, message_size, "%s: larger than 16 MiB", path);
                return NULL;
            }
            char *bigger = (char *)realloc (text, cap);
            if (!bigger) {
                free (text);
                fclose (file);
                s_message (message, message_size, "%s: out of memory", path);
                return NULL;
            }
            text = bigger;
        }
        memcpy (text + size, chunk, n);
        size += n;
    }
    int failed = ferror (file);
    fclose (file);
    if (text)
        text[size] = 0; //  room for it was kept by every growth
    if (failed) {
        free (text);
        s_message (message, message_size, "%s: read error", path);
        return NULL;
    }
    bus_topology_t *self =
        bus_topology_parse (text ? text : "", path, message, message_size);
    free (text);
    return self;
}

int
bus_topology_bind_socket (zsock_t *sock, const char *endpoint)
{
    int64_t deadline = zclock_mono () + 1000;
    while (true) {
        if (zsock_bind (sock, "%s", endpoint) != -1)
            return 0;
        int error = zmq_errno ();
        if (error != EADDRINUSE || strncmp (endpoint, "inproc://", 9) != 0 ||
            zclock_mono () >= deadline) {
            errno = error;
            return -1;
        }
        zclock_sleep (10);
    }
}
