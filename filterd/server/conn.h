/*
 * conn.h — the transport of one client connection, on the Unix socket or
 * on a --http TCP listener: buffers, line framing, pipelining,
 * back-pressure, limits, idle timeout, peer identity. What the bytes mean
 * is a door's: on the Unix socket the first byte decides (an ASCII letter:
 * HTTP/1.1, httpd.h; anything else: NDJSON, ndjson.h); a TCP connection is
 * HTTP only. Each connection embeds one door session.
 *
 * HTTP: the door frames requests itself (http1.h); the transport feeds it
 * the bytes read and sends what it says is ready. A request must arrive
 * whole within --idle-timeout of its first byte (slow headers or a slow
 * body: the connection is closed), and a response with Connection: close
 * ends the connection once it is sent.
 *
 * Framing: a request is the bytes up to '\n' (a trailing '\r' is dropped,
 * blank lines are ignored). Responses leave strictly in order: the door
 * says how many of its output bytes are ready (a decision waits for its
 * audit record), and they are handed to libuv once per loop iteration,
 * with at most one write in flight per connection.
 *
 * Limits:
 *  - a line longer than --max-request gets `too_large` as soon as that is
 *    known; the rest of the line is discarded and the connection stays
 *    usable;
 *  - back-pressure: when the unsent response bytes exceed FD_CONN_OUT_HIGH,
 *    the connection stops parsing and reading; it resumes as writes drain;
 *  - --max-connections counts the connections really open: one leaves the
 *    count when the daemon starts closing it, and at the limit, connections
 *    whose client has already hung up (the worker has not read their EOF
 *    yet) are not counted. Over the limit a new connection is answered
 *    with one `busy` error line and closed (the warning is rate-limited);
 *  - a connection with no read or write progress for --idle-timeout
 *    seconds is closed. A connection that ends, for any reason, ends its
 *    open streams ("disconnect").
 *
 * Ownership: a connection belongs to its set (one per worker thread) and
 * is freed once libuv has closed its handle and the door has no callback
 * outstanding; after fd_conn_close() it must not be used.
 */
#ifndef FD_CONN_H
#define FD_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "buf.h"
#include "config.h"
#include "httpd.h"
#include "ndjson.h"
#include "service.h"

/* Pause reading above this many unsent response bytes. */
#define FD_CONN_OUT_HIGH (1024 * 1024)
/* Bytes asked from the kernel per read. */
#define FD_CONN_READ_CHUNK (16 * 1024)

typedef struct fd_conn fd_conn;

/*
 * Every open connection of the daemon, for --max-connections: a count and
 * a bitmap of their descriptors (atomic words: set by the thread that
 * adopts a connection, cleared by the one that closes it; read by any).
 */
typedef struct fd_conn_registry {
    _Atomic uint64_t *bits;
    size_t nwords;
    atomic_uint nopen;
    _Atomic uint64_t gen; /* bumped whenever a connection enters or leaves */
} fd_conn_registry;

int fd_conn_registry_init(fd_conn_registry *r, size_t maxfd);
void fd_conn_registry_free(fd_conn_registry *r);

/* One worker thread's connections. */
typedef struct fd_conn_set {
    uv_loop_t *loop;
    fd_svc_thread *t;
    const fd_config *cfg;
    fd_conn_registry *reg;
    fd_conn *conns; /* every connection not yet freed */
    unsigned nconns;
    fd_conn *dirty; /* connections with responses to write this iteration */
    bool draining;  /* graceful stop: new connections get busy */
    /* At the --max-connections limit: the hung-up connections counted at
     * loop time dead_at, registry generation dead_gen (a flood of rejected
     * connections costs one probe, not one each). */
    uint64_t dead_at, dead_gen;
    unsigned dead;
    bool dead_valid;
    /* After a connection was freed (a draining worker checks whether it
     * is done). */
    void (*on_free)(void *arg);
    void *arg;
} fd_conn_set;

/* Take over FD, a connection the acceptor handed to SET's thread: from the
 * Unix socket, or (TCP) from a --http listener. */
void fd_conn_adopt(fd_conn_set *set, int fd, bool tcp);

/* Start closing C (idempotent). */
void fd_conn_close(fd_conn *c);

/* End of a loop iteration: hand every dirty connection's ready responses
 * to libuv. */
void fd_conn_flush_all(fd_conn_set *set);

/* Graceful stop: every connection reads what its client has already sent,
 * answers it, and closes. */
void fd_conn_drain_all(fd_conn_set *set);

/* Close every connection now. */
void fd_conn_close_all(fd_conn_set *set);

/* Close connections idle for longer than --idle-timeout; end streams idle
 * for longer than --stream-timeout. */
void fd_conn_sweep(fd_conn_set *set);

#endif
