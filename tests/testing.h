/*  testing: what the Criterion suites share (temporary directories, files).
    Included by tests only; every function asserts instead of returning
    errors, so a broken fixture fails the test that uses it.
*/
#ifndef TESTING_H_INCLUDED
#define TESTING_H_INCLUDED

#include <criterion/criterion.h>
#include <czmq.h>
#include <dirent.h>
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
    if (snprintf (full, sizeof full, "%s/%s", dir, path) >= (int)sizeof full) {
        fprintf (stderr, "testing_write: %s/%s: path too long\n", dir, path);
        abort ();
    }
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

//  How many processes of group `pgid` still run (zombies do not count).
static inline int
testing_group_alive (int pgid)
{
    DIR *proc = opendir ("/proc");
    int alive = 0;
    struct dirent *item;
    while (proc && (item = readdir (proc))) {
        char path[300], text[1024];
        snprintf (path, sizeof path, "/proc/%s/stat", item->d_name);
        FILE *file = atoi (item->d_name) > 0 ? fopen (path, "r") : NULL;
        if (!file)
            continue;
        size_t n = fread (text, 1, sizeof text - 1, file);
        fclose (file);
        text[n] = 0;
        const char *paren = strrchr (text, ')');
        char state = 0;
        int ppid = 0, pgrp = 0;
        if (paren && sscanf (paren + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 &&
            pgrp == pgid && state != 'Z' && state != 'X')
            alive++;
    }
    if (proc)
        closedir (proc);
    return alive;
}

//  Of the lines "<id> start <pgid>" in an action's log at `path`, how many
//  groups still have a running process.
static inline int
testing_groups_alive (const char *path)
{
    char *text = testing_read (path);
    int alive = 0;
    for (char *line = strstr (text, " start "); line; line = strstr (line + 1, " start "))
        alive += testing_group_alive (atoi (line + 7)) > 0;
    free (text);
    return alive;
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

//  1 under AddressSanitizer (gcc or clang), else 0: the build is several
//  times slower, so repeat counts and latency bounds scale with it
#if defined(__SANITIZE_ADDRESS__)
#define TESTING_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TESTING_SANITIZED 1
#endif
#endif
#ifndef TESTING_SANITIZED
#define TESTING_SANITIZED 0
#endif

//  socket (closing a ZeroMQ socket releases its port asynchronously).
static inline int
testing_free_port (void)
{
    //  Below the kernel's ephemeral range: a port found free there is not
    //  handed out a moment later to someone's connect or `tcp://...:*` bind
    //  (as an ephemeral one can be, under a parallel ctest); suites that
    //  pick at the same time pick at random among thousands
    int low = 32768, high = 60999;
    FILE *range = fopen ("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (range) {
        if (fscanf (range, "%d %d", &low, &high) != 2)
            low = 32768;
        fclose (range);
    }
    //  Seeded from the kernel: two tests forked in the same microsecond
    //  (pid ^ time could agree) pick different ports; one process never
    //  gets a port it was given before (its daemon may not hold it yet)
    static unsigned seed = 0;
    static int given[256];
    static size_t ngiven = 0;
    if (!seed) {
        FILE *random = fopen ("/dev/urandom", "rb");
        if (!random || fread (&seed, sizeof seed, 1, random) != 1 || !seed)
            seed = (unsigned)getpid () * 2654435761u + (unsigned)zclock_usecs ();
        if (random)
            fclose (random);
    }
    for (int attempt = 0; attempt < 200; attempt++) {
        int port = 0;
        if (low > 11024)
            port = 10000 + (int)(rand_r (&seed) % (unsigned)(low - 11024));
        bool seen = false;
        for (size_t i = 0; port && i < ngiven && i < 256; i++)
            seen = seen || given[i] == port;
        if (seen)
            continue;
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        cr_assert_geq (fd, 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port = htons ((uint16_t)port),
                                      .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
        int rc = bind (fd, (struct sockaddr *)&address, sizeof address);
        socklen_t size = sizeof address;
        if (rc == 0)
            getsockname (fd, (struct sockaddr *)&address, &size);
        close (fd);
        if (rc == 0 && ntohs (address.sin_port) > 0) {
            given[ngiven++ % 256] = ntohs (address.sin_port);
            return ntohs (address.sin_port);
        }
    }
    cr_assert_fail ("no free tcp port on 127.0.0.1");
    return 0;
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
