/*  testing_sshd: a real sshd for the remote-shell tests, started on a
    loopback port with a temporary host key, a temporary client key and its
    own known_hosts. sshd runs only as root: as another user, or without
    /usr/sbin/sshd (Debian's openssh-server), testing_sshd_start says so
    and the tests skip.

        testing_sshd_t sshd;
        if (testing_sshd_start (&sshd) != 0)
            cr_skip_test ("needs root and /usr/sbin/sshd");
        ... hosts 127.0.0.1, port sshd.port, username root,
            private_key sshd.key, known_hosts sshd.known ...
        testing_sshd_stop (&sshd);
*/
#ifndef TESTING_SSHD_H_INCLUDED
#define TESTING_SSHD_H_INCLUDED

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testing.h"

#define TESTING_SSHD "/usr/sbin/sshd"

typedef struct {
    pid_t pid;
    int port;
    char dir[64];    //  keys, config, known_hosts; removed by stop
    char key[128];   //  the client's private key
    char known[128]; //  known_hosts with the server's key
} testing_sshd_t;

static inline void
testing_sshd_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file, "%s", path);
    fputs (text, file);
    fclose (file);
}

static inline bool
testing_sshd_listening (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons ((uint16_t)port),
                               .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    bool ok = connect (fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close (fd);
    return ok;
}

//  Keys, config and known_hosts in a new directory (self->dir).
static inline void
testing_sshd_prepare (testing_sshd_t *self)
{
    snprintf (self->dir, sizeof self->dir, "/tmp/attune-sshd-XXXXXX");
    cr_assert_not_null (mkdtemp (self->dir));
    char command[512], path[160], line[2048], config[1024], key[512];
    snprintf (command, sizeof command,
              "ssh-keygen -q -t ed25519 -N '' -f %s/host_key && "
              "ssh-keygen -q -t ed25519 -N '' -f %s/client_key && "
              "cp %s/client_key.pub %s/authorized_keys && mkdir -p /run/sshd",
              self->dir, self->dir, self->dir, self->dir);
    cr_assert_eq (system (command), 0, "%s", command);
    snprintf (self->key, sizeof self->key, "%s/client_key", self->dir);
    self->port = testing_free_port ();
    snprintf (config, sizeof config,
              "Port %d\nListenAddress 127.0.0.1\nHostKey %s/host_key\n"
              "AuthorizedKeysFile %s/authorized_keys\nStrictModes no\nUsePAM no\n"
              "PermitRootLogin yes\nPasswordAuthentication no\nPidFile %s/sshd.pid\n"
              "LogLevel FATAL\n",
              self->port, self->dir, self->dir, self->dir);
    snprintf (path, sizeof path, "%s/sshd_config", self->dir);
    testing_sshd_write (path, config);
    snprintf (path, sizeof path, "%s/host_key.pub", self->dir);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "%s", path);
    cr_assert_not_null (fgets (key, (int)sizeof key, file));
    fclose (file);
    key[strcspn (key, "\n")] = 0;
    snprintf (line, sizeof line, "[127.0.0.1]:%d %s\n[localhost]:%d %s\n", self->port,
              key, self->port, key);
    snprintf (self->known, sizeof self->known, "%s/known_hosts", self->dir);
    testing_sshd_write (self->known, line);
}

//  Start the sshd and wait until it listens: 0, or -1 when this host
//  cannot run one (not root, no sshd).
static inline int
testing_sshd_start (testing_sshd_t *self)
{
    memset (self, 0, sizeof *self);
    if (geteuid () != 0 || access (TESTING_SSHD, X_OK) != 0)
        return -1;
    testing_sshd_prepare (self);
    self->pid = fork ();
    if (self->pid == 0) {
        char path[160];
        snprintf (path, sizeof path, "%s/sshd_config", self->dir);
        execl (TESTING_SSHD, TESTING_SSHD, "-D", "-e", "-f", path, (char *)NULL);
        _exit (127);
    }
    bool up = false;
    for (int i = 0; i < 200 && !(up = testing_sshd_listening (self->port)); i++)
        usleep (25000);
    cr_assert (up, "sshd listens on %d", self->port);
    return 0;
}

//  Stop the sshd and remove its directory; safe when not started.
static inline void
testing_sshd_stop (testing_sshd_t *self)
{
    if (self->pid > 0) {
        kill (self->pid, SIGTERM);
        waitpid (self->pid, NULL, 0);
        self->pid = 0;
    }
    if (*self->dir) {
        char command[128];
        snprintf (command, sizeof command, "rm -rf %s", self->dir);
        if (system (command) != 0)
            fprintf (stderr, "cannot remove %s\n", self->dir);
        *self->dir = 0;
    }
}

#endif
