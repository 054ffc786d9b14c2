/*  worker_ssh_tunnel: a TCP stream to host:port through an SSH bastion (a
    direct-tcpip channel, as `ssh -J` and StackStorm's bastion_host do),
    for libssh 0.10, which has no ProxyJump: one end of a socketpair is
    given to the target's session (SSH_OPTIONS_FD), and a thread relays
    between the other end and the channel. The tunnel owns the bastion's
    session from then on: nothing else may use it.
*/
#ifndef WORKER_SSH_TUNNEL_H_INCLUDED
#define WORKER_SSH_TUNNEL_H_INCLUDED

#include <libssh/libssh.h>
#include <stddef.h>

typedef struct _worker_ssh_tunnel_t worker_ssh_tunnel_t;

//  Open the channel to `host`:`port` from `bastion` (connected and
//  authenticated; taken in every case) and start relaying. NULL with
//  `message` when the bastion refuses the channel (or out of resources).
worker_ssh_tunnel_t *worker_ssh_tunnel_new (ssh_session *bastion_p, const char *host,
                                            int port, char *message, size_t size);

//  The socket the target's session is to use (SSH_OPTIONS_FD); libssh
//  closes it with that session.
int worker_ssh_tunnel_fd (worker_ssh_tunnel_t *self);

//  Stop the relay, close the channel and the bastion's session; safe twice.
void worker_ssh_tunnel_destroy (worker_ssh_tunnel_t **self_p);

#endif
