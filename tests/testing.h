/*  testing: what the Criterion suites share (temporary directories, files).
    Included by tests only; every function asserts instead of returning
    errors, so a broken fixture fails the test that uses it.
*/
#ifndef TESTING_H_INCLUDED
#define TESTING_H_INCLUDED

#include <criterion/criterion.h>
#include <czmq.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  A new directory <base>/<prefix>-XXXXXX, base being $ATTUNE_TEST_TMP
//  (ctest sets it to the build's tmp/) or /tmp.
static inline void
testing_tmpdir (char *out, size_t size, const char *prefix)
{
    const char *base = getenv ("ATTUNE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir (base, 0750); //  ctest's directory may not exist yet
    snprintf (out, size, "%s/%s-XXXXXX", base, prefix);
    cr_assert_not_null (mkdtemp (out), "mkdtemp %s", out);
}

//  Remove a directory tree (best effort: a leftover is reported, not fatal).
static inline void
testing_rmtree (const char *dir)
{
    if (!dir || !*dir)
        return;
    char command[PATH_MAX + 32];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    if (system (command) != 0)
        fprintf (stderr, "could not remove %s\n", dir);
}

//  Write `text` to <dir>/<path>, creating the directories on the way.
static inline void
testing_write (const char *dir, const char *path, const char *text)
{
    char full[PATH_MAX + 256];
    snprintf (full, sizeof full, "%s/%s", dir, path);
    char parent[PATH_MAX + 256];
    snprintf (parent, sizeof parent, "%s", full);
    *strrchr (parent, '/') = 0;
    char command[PATH_MAX + 300];
    snprintf (command, sizeof command, "mkdir -p '%s'", parent);
    cr_assert_eq (system (command), 0, "%s", command);
    FILE *file = fopen (full, "w");
    cr_assert_not_null (file, "cannot write %s", full);
    fputs (text, file);
    fclose (file);
}

//  A file's text (at most 1 MiB), "" when it does not exist. Caller frees.
static inline char *
testing_read (const char *path)
{
    FILE *file = fopen (path, "r");
    char *text = (char *)calloc (1, 1 << 20);
    cr_assert_not_null (text);
    if (file) {
        size_t n = fread (text, 1, (1 << 20) - 1, file);
        text[n] = 0;
        fclose (file);
    }
    return text;
}

//  How many times `needle` is in the file at `path` (an action's log of
//  the executions it started, say).
static inline int
testing_count_in_file (const char *path, const char *needle)
{
    char *text = testing_read (path);
    int n = 0;
    for (char *p = strstr (text, needle); p; p = strstr (p + 1, needle))
        n++;
    free (text);
    return n;
}

//  Whether an execution status is terminal.
static inline bool
testing_status_terminal (const char *status)
{
    static const char *const ends[] = {"completed", "failed", "timeout", "cancelled",
                                       "abandoned"};
    for (size_t i = 0; status && i < sizeof ends / sizeof ends[0]; i++)
        if (strcmp (status, ends[i]) == 0)
            return true;
    return false;
}

//  A free loopback tcp port: bound, read back and released with a plain
//  socket (closing a ZeroMQ socket releases its port asynchronously).
static inline int
testing_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    cr_assert_eq (bind (fd, (struct sockaddr *)&address, sizeof address), 0);
    socklen_t size = sizeof address;
    getsockname (fd, (struct sockaddr *)&address, &size);
    close (fd);
    int port = ntohs (address.sin_port);
    cr_assert_gt (port, 0);
    return port;
}

//  Give `sock` the secret cert `keys`/`name`.cert_secret and, as a CURVE
//  client, the server's public key `server_public` (z85).
static inline void
testing_curve_client (zsock_t *sock, const char *keys, const char *name,
                      const char *server_public)
{
    char path[PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/%s.cert_secret", keys, name);
    zcert_t *cert = zcert_load (path);
    cr_assert_not_null (cert, "%s", path);
    zcert_apply (cert, sock);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (sock, server_public);
}

#endif
