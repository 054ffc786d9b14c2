/*  bus_topology: logical endpoint names -> ZeroMQ addresses.

    Actors name endpoints logically ("executor.commands", "rules.facts"); the
    topology resolves each name to the address its owner binds and the
    address everyone else connects to, so the same actor code runs over
    inproc://, ipc:// or tcp:// unchanged.

    A topology is a ZPL file (CZMQ zconfig, 4-space indentation):

        bus
            transport = inproc          #  default for names not listed:
                                        #  inproc | ipc
            namespace = attune          #  inproc://attune/<name>
            ipc_dir = /run/attune       #  ipc:///run/attune/<name>.sock
        endpoints
            executor.commands = tcp://10.0.0.1:5561        #  bind = connect
            rules.facts
                bind = tcp://0.0.0.0:5562
                connect = tcp://core1:5562

    Names are made of [A-Za-z0-9_.-]. Addresses must start with inproc://,
    ipc:// or tcp://.
*/
#ifndef BUS_TOPOLOGY_H_INCLUDED
#define BUS_TOPOLOGY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _bus_topology_t bus_topology_t;

//  A topology with defaults only: every name resolves to
//  inproc://<namespace>/<name>. `namespace_` may be NULL ("attune"); tests
//  give each daemon its own so several run in one process.
bus_topology_t *bus_topology_new (const char *namespace_);

//  Load a ZPL topology file. NULL on failure with `message` saying what,
//  where and why: "deploy/split.cfg: endpoints/executor.commands: address
//  'tpc://x' must start with inproc://, ipc:// or tcp://".
bus_topology_t *bus_topology_load (const char *path, char *message, size_t message_size);

//  The same from ZPL text (`origin` names it in messages).
bus_topology_t *bus_topology_parse (const char *text, const char *origin, char *message,
                                    size_t message_size);

void bus_topology_destroy (bus_topology_t **self_p);

//  Set or replace one endpoint. `connect` NULL means the same as `bind`.
//  Returns 0, or -1 when the name or an address is invalid.
int bus_topology_set (bus_topology_t *self, const char *name, const char *bind,
                      const char *connect);

//  Address the owner of `name` binds / everyone else connects to. Never NULL
//  for a valid name (falls back to the default transport); NULL for an
//  invalid name. The string belongs to the topology.
const char *bus_topology_bind (bus_topology_t *self, const char *name);
const char *bus_topology_connect (bus_topology_t *self, const char *name);

//  True when `name` was configured (a file or bus_topology_set), not made
//  from the defaults.
bool bus_topology_listed (bus_topology_t *self, const char *name);

//  Validate an address ("inproc://x", "ipc:///p", "tcp://h:p"). 0 or -1.
int bus_topology_check_address (const char *address);

//  Bind `sock` to `endpoint` (zsock_bind). An inproc endpoint that a socket
//  just closed in this process is released by libzmq's reaper a moment
//  later: EADDRINUSE on inproc is retried for up to 1 s (an actor restarted
//  in the same process, as tests do). 0, or -1 with errno set.
int bus_topology_bind_socket (zsock_t *sock, const char *endpoint);

#ifdef __cplusplus
}
#endif

#endif
