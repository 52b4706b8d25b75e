/*
 * conn.c — see conn.h.
 */
#include "conn.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

struct fd_conn {
    uv_pipe_t pipe;
    fd_conn_set *set;
    fd_conn *prev, *next; /* the set's list */
    fd_conn *dirty_next;  /* the set's flush list */
    fd_ndjson nd;         /* the door: requests in, responses out */

    fd_buf in; /* received bytes; [in_off, in.len) not yet parsed */
    size_t in_off;
    size_t scan_off; /* bytes after in_off known to hold no '\n' */
    fd_buf wout;     /* the bytes of the write in flight */
    uv_write_t wreq;

    struct ucred peer;    /* SO_PEERCRED at accept */
    uint64_t last_active; /* loop time (ms) of the last read or write */
    uint64_t serial;      /* connection number, for logs */
    int fd;

    bool reading;
    bool writing;
    bool dirty;
    bool discarding; /* inside an oversized line */
    bool paused;     /* back-pressure */
    bool eof;
    bool draining;
    bool reject;     /* over --max-connections: answer busy, close */
    bool registered; /* counted in the registry */
    bool closing;
    bool handle_closed; /* libuv's close callback ran */
    bool door_done;     /* the door has no callback outstanding */
};

static atomic_uint_fast64_t g_serial;

/* Rejected connections: a flood of them must not flood the log. */
static fd_log_limit reject_log = FD_LOG_LIMIT_INIT;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void process(fd_conn *c);

#define CONN_OF(s) ((fd_conn *)((char *)(s)-offsetof(fd_conn, nd)))

/* ---- the registry: what is really open ----------------------------------- */

int fd_conn_registry_init(fd_conn_registry *r, size_t maxfd)
{
    r->nwords = maxfd / 64 + 1;
    r->bits = calloc(r->nwords, sizeof *r->bits);
    atomic_init(&r->nopen, 0);
    return r->bits ? 0 : FD_ENOMEM;
}

void fd_conn_registry_free(fd_conn_registry *r)
{
    free((void *)r->bits);
    r->bits = NULL;
}

static void reg_set(fd_conn_registry *r, int fd, bool on)
{
    size_t w = (size_t)fd / 64;
    if (w >= r->nwords)
        return;
    uint64_t bit = 1ull << (fd % 64);
    if (on)
        atomic_fetch_or(&r->bits[w], bit);
    else
        atomic_fetch_and(&r->bits[w], ~bit);
}

/*
 * How many registered connections' clients have hung up completely
 * (POLLHUP: nobody can read an answer any more) while their workers have
 * not yet read the EOF. Only called at the --max-connections limit. A
 * descriptor closed and reused meanwhile can only make the count err
 * towards "open", never admit more than the limit for long.
 */
static unsigned count_dead(fd_conn_registry *r)
{
    enum { BATCH = 256 };
    struct pollfd pf[BATCH];
    unsigned dead = 0;
    size_t n = 0;
    for (size_t w = 0; w < r->nwords; w++) {
        uint64_t bits = atomic_load_explicit(&r->bits[w], memory_order_relaxed);
        while (bits) {
            int b = __builtin_ctzll(bits);
            bits &= bits - 1;
            pf[n++] = (struct pollfd){.fd = (int)(w * 64 + (size_t)b), .events = POLLRDHUP};
            if (n == BATCH || (!bits && w + 1 == r->nwords)) {
                if (poll(pf, n, 0) > 0)
                    for (size_t i = 0; i < n; i++)
                        dead += (pf[i].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
                n = 0;
            }
        }
    }
    if (n && poll(pf, n, 0) > 0)
        for (size_t i = 0; i < n; i++)
            dead += (pf[i].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
    return dead;
}

/* ---- state ----------------------------------------------------------------- */

static size_t pending_out(const fd_conn *c)
{
    return c->nd.out.len + (c->writing ? c->wout.len : 0);
}

static void mark_dirty(fd_conn *c)
{
    if (c->dirty || c->closing)
        return;
    c->dirty = true;
    c->dirty_next = c->set->dirty;
    c->set->dirty = c;
}

/* Start or stop reading to match the connection's state. */
static void update_reading(fd_conn *c)
{
    bool want =
        !c->closing && !c->eof && !c->draining && !c->reject && !c->paused && !c->nd.waiting;
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
 * are draining or rejecting, no request is pending and everything is sent
 * (responses kept back for their records included). */
static void maybe_finish(fd_conn *c)
{
    if (c->closing || !(c->eof || c->draining || c->reject))
        return;
    if (c->nd.waiting || c->paused || c->writing || c->nd.out.len)
        return;
    fd_conn_close(c);
}

/* Free C once libuv and the door are both done with it. */
static void maybe_free(fd_conn *c)
{
    if (!c->handle_closed || !c->door_done)
        return;
    fd_conn_set *set = c->set;
    if (c->prev)
        c->prev->next = c->next;
    else
        set->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    set->nconns--;
    fd_ndjson_free(&c->nd);
    fd_buf_free(&c->in);
    fd_buf_free(&c->wout);
    free(c);
    if (set->on_free)
        set->on_free(set->arg);
}

/* ---- the door's callbacks -------------------------------------------------- */

/* Responses became ready, or a reload was answered: write, go on. */
static void door_wake(fd_ndjson *s)
{
    fd_conn *c = CONN_OF(s);
    if (c->closing)
        return;
    mark_dirty(c);
    process(c);
    update_reading(c);
    maybe_finish(c);
}

static void door_release(fd_ndjson *s)
{
    fd_conn *c = CONN_OF(s);
    c->door_done = true;
    maybe_free(c);
}

static const fd_ndjson_ops door_ops = {door_wake, door_release};

/* ---- reading and parsing --------------------------------------------------- */

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
 * Hand every complete request line in the input buffer to the door, in
 * order, until the buffer has no complete line, a deferred op makes the
 * session wait, or back-pressure pauses it. Enforces --max-request, both
 * for complete lines and for a partial line that is already too long.
 */
static void process(fd_conn *c)
{
    size_t max = c->set->cfg->max_request;

    while (!c->closing && !c->nd.waiting) {
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
                fd_ndjson_error_noid(&c->nd, FD_SVC_ETOO_LARGE,
                                     "request line exceeds --max-request");
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
            fd_ndjson_error_noid(&c->nd, FD_SVC_ETOO_LARGE, "request line exceeds --max-request");
            continue;
        }
        size_t i = 0;
        while (i < len && (start[i] == ' ' || start[i] == '\t'))
            i++;
        if (i == len)
            continue; /* blank line: not a request */
        fd_ndjson_line(&c->nd, start, len);
    }
    if (c->nd.out.len)
        mark_dirty(c);
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
        c->last_active = uv_now(c->set->loop);
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

/* ---- writing ---------------------------------------------------------------- */

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
    c->last_active = uv_now(c->set->loop);
    /* A burst of responses grew this buffer: don't keep it for an idle
     * connection. */
    if (c->wout.cap > 4 * FD_CONN_OUT_HIGH)
        fd_buf_free(&c->wout);
    if (c->paused)
        process(c);
    if (c->nd.out.len)
        mark_dirty(c);
    update_reading(c);
    maybe_finish(c);
}

static void flush(fd_conn *c)
{
    c->dirty = false;
    if (c->closing)
        return;
    if (c->nd.out.oom) {
        fd_error("conn %llu: out of memory for responses", (unsigned long long)c->serial);
        fd_conn_close(c);
        return;
    }
    if (!c->writing && fd_ndjson_ready(&c->nd)) {
        fd_ndjson_take(&c->nd, &c->wout);
        if (c->wout.len) {
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
    }
    maybe_finish(c);
}

void fd_conn_flush_all(fd_conn_set *set)
{
    fd_conn *c = set->dirty;
    set->dirty = NULL;
    while (c) {
        fd_conn *next = c->dirty_next;
        flush(c);
        c = next;
    }
}

/* ---- life cycle ------------------------------------------------------------- */

static void close_cb(uv_handle_t *h)
{
    fd_conn *c = h->data;
    c->handle_closed = true;
    if (!c->reject)
        fd_stat_sub(&c->set->t->stats.conns_current, 1);
    maybe_free(c);
}

void fd_conn_close(fd_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    /* It is not open any more: out of the --max-connections count now,
     * not when libuv gets round to the close callback. */
    if (c->registered) {
        reg_set(c->set->reg, c->fd, false);
        atomic_fetch_sub(&c->set->reg->nopen, 1);
        c->registered = false;
    }
    /* No request of this connection will be handled any more: the door
     * ends its streams (audited "disconnect") and forgets a reload. */
    c->door_done = fd_ndjson_close(&c->nd);
    uv_close((uv_handle_t *)&c->pipe, close_cb);
}

void fd_conn_adopt(fd_conn_set *set, int fd)
{
    fd_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        fd_error("accept: out of memory");
        close(fd);
        return;
    }
    c->set = set;
    c->fd = fd;
    c->serial = atomic_fetch_add(&g_serial, 1) + 1;
    uv_pipe_init(set->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->next = set->conns;
    if (set->conns)
        set->conns->prev = c;
    set->conns = c;
    set->nconns++;

    socklen_t sl = sizeof(c->peer);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &sl) != 0) {
        /* Without credentials the peer is nobody: never an admin. */
        c->peer.pid = 0;
        c->peer.uid = (uid_t)-1;
        c->peer.gid = (gid_t)-1;
    }
    fd_ndjson_init(&c->nd, set->t, &door_ops, &c->peer, c->serial);

    if (uv_pipe_open(&c->pipe, fd) != 0) {
        close(fd);
        c->reject = true; /* not counted as current */
        fd_conn_close(c);
        return;
    }
    c->last_active = uv_now(set->loop);

    const char *why = set->draining ? "shutting down" : NULL;
    if (!why) {
        fd_conn_registry *reg = set->reg;
        unsigned open = atomic_fetch_add(&reg->nopen, 1);
        unsigned max = set->cfg->max_connections;
        if (open >= max && open - count_dead(reg) >= max) {
            atomic_fetch_sub(&reg->nopen, 1);
            why = "too many connections";
        } else {
            reg_set(reg, fd, true);
            c->registered = true;
        }
    }
    if (why) {
        c->reject = true;
        fd_stat_add(&set->t->stats.conns_rejected, 1);
        fd_log_limited(&reject_log, FD_LOG_WARN, "connection from pid %ld uid %ld rejected: %s",
                       (long)c->peer.pid, (long)c->peer.uid, why);
        fd_ndjson_error_noid(&c->nd, FD_SVC_EBUSY,
                             set->draining ? "the daemon is shutting down"
                                           : "too many connections (--max-connections)");
        mark_dirty(c);
        return;
    }
    fd_stat_add(&set->t->stats.conns_current, 1);
    fd_stat_add(&set->t->stats.conns_total, 1);
    fd_debug("conn %llu: thread %u, pid %ld uid %ld gid %ld", (unsigned long long)c->serial,
             set->t->idx, (long)c->peer.pid, (long)c->peer.uid, (long)c->peer.gid);
    update_reading(c);
}

/* Graceful stop of C: read what the client has already sent, answer it,
 * close. */
static void conn_drain(fd_conn *c)
{
    if (c->closing)
        return;
    /* Read synchronously what the client has already sent: those requests
     * count as "already read" for a graceful stop. The kernel's socket
     * buffer bounds how much this can be. */
    if (c->reading && !c->eof) {
        for (;;) {
            if (c->discarding && c->in_off == c->in.len)
                c->in.len = c->in_off = c->scan_off = 0;
            if (fd_buf_reserve(&c->in, FD_CONN_READ_CHUNK) != 0)
                break;
            ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
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
    c->draining = true;
    process(c);
    update_reading(c);
    maybe_finish(c);
}

void fd_conn_drain_all(fd_conn_set *set)
{
    set->draining = true;
    fd_conn *next;
    for (fd_conn *c = set->conns; c; c = next) {
        next = c->next;
        conn_drain(c);
    }
}

void fd_conn_close_all(fd_conn_set *set)
{
    fd_conn *next;
    for (fd_conn *c = set->conns; c; c = next) {
        next = c->next;
        fd_conn_close(c);
    }
}

void fd_conn_sweep(fd_conn_set *set)
{
    uint64_t timeout = (uint64_t)set->cfg->idle_timeout * 1000;
    uint64_t stream_timeout = (uint64_t)set->cfg->stream_timeout * 1000;
    uint64_t now = uv_now(set->loop);
    fd_conn *next;
    for (fd_conn *c = set->conns; c; c = next) {
        next = c->next;
        if (stream_timeout && c->nd.owner.n && !c->closing)
            fd_svc_owner_sweep(set->t, &c->nd.owner, stream_timeout);
        if (timeout && !c->closing && !c->nd.waiting && now - c->last_active >= timeout) {
            fd_debug("conn %llu: idle for %u s, closing", (unsigned long long)c->serial,
                     set->cfg->idle_timeout);
            fd_conn_close(c);
        }
    }
}
