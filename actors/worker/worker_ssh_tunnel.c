/*  worker_ssh_tunnel: TCP through an SSH bastion. See worker_ssh_tunnel.h. */
#include "actors/worker/worker_ssh_tunnel.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct _worker_ssh_tunnel_t {
    ssh_session bastion;
    ssh_channel channel;
    int fds[2]; //  [0] the target session's (libssh closes it), [1] the relay's
    pthread_t thread;
    bool running;
    bool handed; //  fds[0] given to the target's session
    atomic_bool stop;
};

static int
s_write_all (int fd, const char *data, size_t size)
{
    while (size) {
        ssize_t n = write (fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

//  The target's bytes to the channel, the channel's to the target, until
//  either side ends or the tunnel stops.
static void *
s_relay (void *arg)
{
    worker_ssh_tunnel_t *self = (worker_ssh_tunnel_t *)arg;
    char buffer[16384];
    while (!atomic_load (&self->stop)) {
        struct pollfd items[2] = {{self->fds[1], POLLIN, 0},
                                  {ssh_get_fd (self->bastion), POLLIN, 0}};
        int ready = poll (items, 2, 20);
        if (ready < 0 && errno != EINTR)
            break;
        if (items[0].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read (self->fds[1], buffer, sizeof buffer);
            if (n <= 0 || ssh_channel_write (self->channel, buffer, (uint32_t)n) != n)
                break;
        }
        int n = ssh_channel_read_nonblocking (self->channel, buffer, sizeof buffer, 0);
        if (n == SSH_ERROR || (n > 0 && s_write_all (self->fds[1], buffer, (size_t)n)))
            break;
        if (n == 0 && ssh_channel_is_eof (self->channel))
            break;
    }
    shutdown (self->fds[1], SHUT_RDWR); //  the target's session sees the end
    return NULL;
}

worker_ssh_tunnel_t *
worker_ssh_tunnel_new (ssh_session *bastion_p, const char *host, int port, char *message,
                       size_t size)
{
    worker_ssh_tunnel_t *self = (worker_ssh_tunnel_t *)calloc (1, sizeof *self);
    if (!self) {
        snprintf (message, size, "out of memory");
        ssh_disconnect (*bastion_p);
        ssh_free (*bastion_p);
        *bastion_p = NULL;
        return NULL;
    }
    self->bastion = *bastion_p;
    *bastion_p = NULL;
    self->fds[0] = self->fds[1] = -1;
    self->channel = ssh_channel_new (self->bastion);
    if (!self->channel ||
        ssh_channel_open_forward (self->channel, host, port, "127.0.0.1", 0) != SSH_OK) {
        snprintf (message, size, "bastion_host: cannot open a channel to %s:%d: %s", host,
                  port, ssh_get_error (self->bastion));
        worker_ssh_tunnel_destroy (&self);
        return NULL;
    }
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, self->fds) != 0 ||
        pthread_create (&self->thread, NULL, s_relay, self) != 0) {
        snprintf (message, size, "bastion_host: cannot relay: %s", strerror (errno));
        worker_ssh_tunnel_destroy (&self);
        return NULL;
    }
    self->running = true;
    return self;
}

int
worker_ssh_tunnel_fd (worker_ssh_tunnel_t *self)
{
    self->handed = true;
    return self->fds[0];
}

void
worker_ssh_tunnel_destroy (worker_ssh_tunnel_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    worker_ssh_tunnel_t *self = *self_p;
    atomic_store (&self->stop, true);
    if (self->running)
        pthread_join (self->thread, NULL);
    if (self->fds[1] >= 0)
        close (self->fds[1]);
    if (self->fds[0] >= 0 && !self->handed)
        close (self->fds[0]);
    if (self->channel) {
        ssh_channel_close (self->channel);
        ssh_channel_free (self->channel);
    }
    ssh_disconnect (self->bastion);
    ssh_free (self->bastion);
    free (self);
    *self_p = NULL;
}
