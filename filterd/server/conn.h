/*
 * conn.h — one client connection: buffers, NDJSON framing, pipelining,
 * back-pressure, limits, idle timeout, peer credentials.
 *
 * Framing: a request is the bytes up to '\n' (a trailing '\r' is dropped,
 * blank lines are ignored). Requests are answered strictly in order: each
 * response is appended to `out`, and `out` is handed to libuv once per loop
 * iteration (after the audit batch of that iteration has been committed),
 * with at most one write in flight per connection.
 *
 * Limits:
 *  - a line longer than --max-request gets `too_large` as soon as that is
 *    known; the rest of the line is discarded and the connection stays
 *    usable;
 *  - back-pressure: when the unsent response bytes exceed FD_CONN_OUT_HIGH,
 *    the connection stops parsing and reading; it resumes as writes drain;
 *  - over --max-connections a new connection is answered with one `busy`
 *    error line and closed;
 *  - a connection with no read or write progress for --idle-timeout
 *    seconds is closed;
 *  - at most --max-streams open streams; a stream without a chunk for
 *    --stream-timeout seconds is ended. A connection that ends, for any
 *    reason, ends its open streams ("disconnect", see streams.h).
 *
 * Ownership: a connection is owned by its worker and freed in its libuv
 * close callback; after fd_conn_close() it must not be used.
 */
#ifndef FD_CONN_H
#define FD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "buf.h"
#include "streams.h"
#include "worker.h"

/* Pause reading above this many unsent response bytes. */
#define FD_CONN_OUT_HIGH (1024 * 1024)
/* Bytes asked from the kernel per read. */
#define FD_CONN_READ_CHUNK (16 * 1024)

struct fd_conn {
    uv_pipe_t pipe;
    fd_worker *w;
    fd_conn *prev, *next; /* the worker's list */
    fd_conn *dirty_next;  /* the worker's flush list */
    fd_conn *wait_next;   /* the worker's reload waiters */

    fd_buf in; /* received bytes; [in_off, in.len) not yet parsed */
    size_t in_off;
    size_t scan_off; /* bytes after in_off known to hold no '\n' */
    fd_buf out;      /* responses not yet handed to libuv */
    fd_buf wout;     /* the bytes of the write in flight */
    uv_write_t wreq;
    fd_buf defer_id;    /* '"id":X,' of a deferred request, or empty */
    uint64_t defer_gen; /* reload generation it waits for */

    fd_streams streams;   /* open streams (open/chunk/close), see streams.h */
    struct ucred peer;    /* SO_PEERCRED at accept */
    uint64_t last_active; /* loop time (ms) of the last read or write */
    uint64_t serial;      /* connection number, for logs */

    bool reading;
    bool writing;
    bool dirty;
    bool discarding; /* inside an oversized line */
    bool paused;     /* back-pressure */
    bool waiting;    /* a deferred op (reload) is pending */
    bool eof;
    bool draining;
    bool reject; /* over --max-connections: answer busy, close */
    bool closing;
};

/* Take over FD, a connection the acceptor handed to worker W. */
void fd_conn_adopt(fd_worker *w, int fd);

/* Start closing C (idempotent). */
void fd_conn_close(fd_conn *c);

/* Hand C's pending responses to libuv (called from the worker's flush). */
void fd_conn_flush(fd_conn *c);

/* Graceful stop: read what the client has already sent, answer it, close. */
void fd_conn_drain(fd_conn *c);

/* A deferred response has been appended to c->out: continue with the next
 * requests. */
void fd_conn_resume(fd_conn *c);

/* Close W's connections idle for longer than the idle timeout; end their
 * streams idle for longer than the stream timeout. */
void fd_conn_sweep(fd_worker *w);

/* Put C on its worker's flush list. */
void fd_conn_mark_dirty(fd_conn *c);

#endif
