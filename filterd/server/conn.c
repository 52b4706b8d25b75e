/*
 * conn.c — see conn.h.
 */
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"

static atomic_uint_fast64_t g_serial;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static size_t pending_out(const fd_conn *c)
{
    return c->out.len + (c->writing ? c->wout.len : 0);
}

void fd_conn_mark_dirty(fd_conn *c)
{
    if (c->dirty || c->closing)
        return;
    c->dirty = true;
    c->dirty_next = c->w->dirty;
    c->w->dirty = c;
}

/* Start or stop reading to match the connection's state. */
static void update_reading(fd_conn *c)
{
    bool want = !c->closing && !c->eof && !c->draining && !c->reject && !c->paused && !c->waiting;
    if (want == c->reading)
        return;
    if (want) {
        if (uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb) != 0) {
            fd_conn_close(c);
            return;
        }
    } else {
        uv_read_stop((uv_stream_t *)&c->pipe);
    }
    c->reading = want;
}

/* Close C once it has nothing left to do: the client is gone (EOF) or we
 * are draining or rejecting, no request is pending and everything is sent. */
static void maybe_finish(fd_conn *c)
{
    if (c->closing || !(c->eof || c->draining || c->reject))
        return;
    if (c->waiting || c->paused || c->writing || c->out.len)
        return;
    fd_conn_close(c);
}

/* Drop the parsed prefix of the input buffer; give memory back when an
 * unusually large request left a big, now empty, buffer behind. */
static void compact_input(fd_conn *c)
{
    if (c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
        if (c->in.cap > 4 * FD_CONN_READ_CHUNK)
            fd_buf_free(&c->in);
        return;
    }
    if (c->in_off > 0) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
}

/*
 * Parse and answer every complete request line in the input buffer, in
 * order, until the buffer has no complete line, a deferred op makes the
 * connection wait, or back-pressure pauses it. Enforces --max-request,
 * both for complete lines and for a partial line that is already too long.
 */
static void process(fd_conn *c)
{
    size_t max = c->w->srv->cfg->max_request;

    while (!c->closing && !c->waiting) {
        if (pending_out(c) >= FD_CONN_OUT_HIGH) {
            c->paused = true;
            break;
        }
        c->paused = false;
        char *start = c->in.data + c->in_off;
        size_t avail = c->in.len - c->in_off;
        if (avail == 0)
            break;

        if (c->discarding) {
            char *nl = memchr(start, '\n', avail);
            if (!nl) {
                c->in_off = c->in.len;
                break;
            }
            c->in_off += (size_t)(nl - start) + 1;
            c->discarding = false;
            continue;
        }

        char *nl = memchr(start + c->scan_off, '\n', avail - c->scan_off);
        if (!nl) {
            c->scan_off = avail;
            if (avail > max) {
                /* Known to be too long before its end arrives: answer now,
                 * drop what we have and the rest of the line as it comes. */
                fd_proto_error_noid(c, FD_PERR_TOO_LARGE, "request line exceeds --max-request");
                c->in_off = c->in.len;
                c->scan_off = 0;
                c->discarding = true;
                continue;
            }
            break;
        }
        size_t len = (size_t)(nl - start);
        c->in_off += len + 1;
        c->scan_off = 0;
        if (len && start[len - 1] == '\r')
            len--;
        if (len > max) {
            fd_proto_error_noid(c, FD_PERR_TOO_LARGE, "request line exceeds --max-request");
            continue;
        }
        size_t i = 0;
        while (i < len && (start[i] == ' ' || start[i] == '\t'))
            i++;
        if (i == len)
            continue; /* blank line: not a request */
        fd_proto_handle(c, start, len);
    }
    if (c->out.len)
        fd_conn_mark_dirty(c);
    compact_input(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    fd_conn *c = h->data;
    compact_input(c);
    if (c->discarding) /* nothing before the next '\n' will be kept */
        c->in.len = c->in_off = c->scan_off = 0;
    if (fd_buf_reserve(&c->in, FD_CONN_READ_CHUNK) != 0) {
        c->in.oom = false;
        *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init(c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    fd_conn *c = s->data;
    if (nread > 0) {
        c->in.len += (size_t)nread;
        c->last_active = uv_now(&c->w->loop);
        process(c);
        update_reading(c);
        return;
    }
    if (nread == 0)
        return; /* EAGAIN */
    if (nread == UV_EOF) {
        /* Half-close: answer every complete request, then close. A partial
         * line without its '\n' is not a request and is dropped. */
        c->eof = true;
        if (c->in.len - c->in_off && !c->discarding)
            fd_debug("conn %llu: EOF inside a request line, %zu bytes dropped",
                     (unsigned long long)c->serial, c->in.len - c->in_off);
        update_reading(c);
        maybe_finish(c);
        return;
    }
    if (nread != UV_ECONNRESET)
        fd_debug("conn %llu: read: %s", (unsigned long long)c->serial, uv_strerror((int)nread));
    fd_conn_close(c);
}

static void write_cb(uv_write_t *req, int status)
{
    fd_conn *c = req->data;
    c->writing = false;
    c->wout.len = 0;
    if (c->closing)
        return;
    if (status < 0) {
        if (status != UV_EPIPE && status != UV_ECONNRESET)
            fd_debug("conn %llu: write: %s", (unsigned long long)c->serial, uv_strerror(status));
        fd_conn_close(c);
        return;
    }
    c->last_active = uv_now(&c->w->loop);
    /* A burst of responses grew this buffer: don't keep it for an idle
     * connection. */
    if (c->wout.cap > 4 * FD_CONN_OUT_HIGH)
        fd_buf_free(&c->wout);
    if (c->paused)
        process(c);
    if (c->out.len)
        fd_conn_mark_dirty(c);
    update_reading(c);
    maybe_finish(c);
}

void fd_conn_flush(fd_conn *c)
{
    c->dirty = false;
    if (c->closing)
        return;
    if (c->out.oom) {
        fd_error("conn %llu: out of memory for responses", (unsigned long long)c->serial);
        fd_conn_close(c);
        return;
    }
    if (!c->writing && c->out.len) {
        /* Swap the buffers: `out` keeps collecting while `wout` is written. */
        fd_buf t = c->wout;
        c->wout = c->out;
        c->out = t;
        c->out.len = 0;
        uv_buf_t b = uv_buf_init(c->wout.data, (unsigned)c->wout.len);
        c->wreq.data = c;
        int rc = uv_write(&c->wreq, (uv_stream_t *)&c->pipe, &b, 1, write_cb);
        if (rc != 0) {
            fd_debug("conn %llu: write: %s", (unsigned long long)c->serial, uv_strerror(rc));
            fd_conn_close(c);
            return;
        }
        c->writing = true;
    }
    maybe_finish(c);
}

static void close_cb(uv_handle_t *h)
{
    fd_conn *c = h->data;
    fd_worker *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    atomic_fetch_sub(&w->srv->nconns, 1);
    if (!c->reject)
        fd_stat_sub(&w->stats.conns_current, 1);
    fd_buf_free(&c->in);
    fd_buf_free(&c->out);
    fd_buf_free(&c->wout);
    fd_buf_free(&c->defer_id);
    free(c);
    if (w->draining)
        fd_worker_maybe_finish(w);
}

void fd_conn_close(fd_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    /* No request of this connection will be handled any more: its streams
     * end now (audited as "disconnect"), not when libuv gets round to the
     * close callback. */
    fd_streams_end_all(c, "disconnect");
    if (c->waiting) {
        /* unlink from the worker's reload waiters */
        for (fd_conn **p = &c->w->waiters; *p; p = &(*p)->wait_next) {
            if (*p == c) {
                *p = c->wait_next;
                break;
            }
        }
        c->waiting = false;
    }
    uv_close((uv_handle_t *)&c->pipe, close_cb);
}

void fd_conn_adopt(fd_worker *w, int fd)
{
    fd_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        fd_error("accept: out of memory");
        close(fd);
        return;
    }
    c->w = w;
    c->serial = atomic_fetch_add(&g_serial, 1) + 1;
    uv_pipe_init(&w->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    unsigned prev = atomic_fetch_add(&w->srv->nconns, 1);

    if (uv_pipe_open(&c->pipe, fd) != 0) {
        close(fd);
        c->reject = true; /* not counted as current */
        fd_conn_close(c);
        return;
    }
    c->last_active = uv_now(&w->loop);

    socklen_t sl = sizeof(c->peer);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &sl) != 0) {
        /* Without credentials the peer is nobody: never an admin. */
        c->peer.pid = 0;
        c->peer.uid = (uid_t)-1;
        c->peer.gid = (gid_t)-1;
    }

    if (prev >= w->srv->cfg->max_connections || w->draining) {
        c->reject = true;
        fd_stat_add(&w->stats.conns_rejected, 1);
        fd_warn("connection from pid %ld uid %ld rejected: %s", (long)c->peer.pid,
                (long)c->peer.uid, w->draining ? "shutting down" : "too many connections");
        fd_proto_error_noid(c, FD_PERR_BUSY,
                            w->draining ? "the daemon is shutting down"
                                        : "too many connections (--max-connections)");
        fd_conn_mark_dirty(c);
        return;
    }
    fd_stat_add(&w->stats.conns_current, 1);
    fd_stat_add(&w->stats.conns_total, 1);
    fd_debug("conn %llu: worker %u, pid %ld uid %ld gid %ld", (unsigned long long)c->serial, w->idx,
             (long)c->peer.pid, (long)c->peer.uid, (long)c->peer.gid);
    update_reading(c);
}

void fd_conn_drain(fd_conn *c)
{
    if (c->closing)
        return;
    /* Read synchronously what the client has already sent: those requests
     * count as "already read" for a graceful stop. The kernel's socket
     * buffer bounds how much this can be. */
    if (c->reading && !c->eof) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0) {
            for (;;) {
                if (c->discarding && c->in_off == c->in.len)
                    c->in.len = c->in_off = c->scan_off = 0;
                if (fd_buf_reserve(&c->in, FD_CONN_READ_CHUNK) != 0)
                    break;
                ssize_t n = recv(fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
                if (n > 0) {
                    c->in.len += (size_t)n;
                    process(c);
                    continue;
                }
                if (n == 0)
                    c->eof = true;
                break;
            }
        }
    }
    c->draining = true;
    process(c);
    update_reading(c);
    maybe_finish(c);
}

void fd_conn_resume(fd_conn *c)
{
    c->waiting = false;
    fd_conn_mark_dirty(c);
    process(c);
    update_reading(c);
    maybe_finish(c);
}

void fd_conn_sweep(fd_worker *w)
{
    uint64_t timeout = (uint64_t)w->srv->cfg->idle_timeout * 1000;
    uint64_t stream_timeout = (uint64_t)w->srv->cfg->stream_timeout * 1000;
    uint64_t now = uv_now(&w->loop);
    for (fd_conn *c = w->conns; c; c = c->next) {
        if (stream_timeout && c->streams.n && !c->closing)
            fd_streams_sweep(c, now, stream_timeout);
        if (timeout && !c->closing && !c->waiting && now - c->last_active >= timeout) {
            fd_debug("conn %llu: idle for %u s, closing", (unsigned long long)c->serial,
                     w->srv->cfg->idle_timeout);
            fd_conn_close(c);
        }
    }
}
