/*  http_conns: the gateway's open connections, the request deadline and
    the eviction of slow clients (http_internal.h).

    libmicrohttpd's connection timeout is idle-only: a client that sends a
    header byte every few seconds holds its thread forever. Each connection
    stamps when it began waiting for a request (its opening, or the last
    answer); the access handler clears the stamp once the request is whole.
    The actor's timer (every HTTP_WATCH_MS) shuts down (shutdown(2): the connection's own thread
    sees the end and libmicrohttpd closes it) every connection whose stamp
    is older than HTTP_REQUEST_DEADLINE_S. When the open connections come
    within HTTP_HEADROOM of the limit, each new one, and the timer, shut
    the connections that have waited longest for their requests, so that a flood of idle
    connections cannot keep a prompt client out: the slots turn over.
    libmicrohttpd reports a connection closed before it closes its socket,
    so a descriptor shut here is never one reused by a later connection.
*/
#include "actors/http/http_internal.h"

#include <sys/socket.h>

static void
s_cut (http_server_t *server, http_conn_t *conn)
{
    conn->cut = true;
    shutdown (conn->fd, SHUT_RDWR);
    atomic_fetch_add (&server->cut, 1);
}

//  The connection waiting longest for its request, older than `age_ms`
static http_conn_t *
s_oldest (http_server_t *server, int64_t now, int64_t age_ms)
{
    http_conn_t *oldest = NULL;
    int64_t oldest_since = now - age_ms;
    for (http_conn_t *conn = server->conns; conn; conn = conn->next) {
        int64_t since = atomic_load (&conn->receiving_since);
        if (!conn->cut && since && since <= oldest_since) {
            oldest = conn;
            oldest_since = since;
        }
    }
    return oldest;
}

void
http_conns_open (http_server_t *server, http_conn_t *conn, int fd)
{
    conn->fd = fd;
    atomic_store (&conn->receiving_since, zclock_mono ());
    pthread_mutex_lock (&server->conns_lock);
    conn->next = server->conns;
    if (server->conns)
        server->conns->prev = conn;
    server->conns = conn;
    server->conns_open++;
    if (server->conns_open > HTTP_MAX_CONNECTIONS - HTTP_HEADROOM) {
        http_conn_t *oldest = s_oldest (server, zclock_mono (), HTTP_EVICT_AFTER_MS);
        if (oldest)
            s_cut (server, oldest);
    }
    pthread_mutex_unlock (&server->conns_lock);
}

void
http_conns_close (http_server_t *server, http_conn_t *conn)
{
    pthread_mutex_lock (&server->conns_lock);
    if (conn->prev)
        conn->prev->next = conn->next;
    else if (server->conns == conn)
        server->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    server->conns_open--;
    pthread_mutex_unlock (&server->conns_lock);
}

void
http_conns_receiving (http_conn_t *conn, bool receiving)
{
    if (conn)
        atomic_store (&conn->receiving_since, receiving ? zclock_mono () : 0);
}

void
http_conns_watch (http_server_t *server)
{
    int64_t now = zclock_mono ();
    pthread_mutex_lock (&server->conns_lock);
    size_t live = 0;
    for (http_conn_t *conn = server->conns; conn; conn = conn->next) {
        int64_t since = atomic_load (&conn->receiving_since);
        if (!conn->cut && since && now - since > HTTP_REQUEST_DEADLINE_S * 1000)
            s_cut (server, conn);
        live += !conn->cut;
    }
    //  Near the limit, libmicrohttpd stops accepting: free the headroom
    //  from the connections that have waited longest for their requests
    for (; live > HTTP_MAX_CONNECTIONS - HTTP_HEADROOM; live--) {
        http_conn_t *oldest = s_oldest (server, now, HTTP_EVICT_AFTER_MS);
        if (!oldest)
            break;
        s_cut (server, oldest);
    }
    pthread_mutex_unlock (&server->conns_lock);
}
