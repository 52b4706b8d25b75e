/*
 * conn.c — see conn.h.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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
    fd_ndjson nd;         /* the NDJSON door: requests in, responses out */
    fd_httpd hd;          /* the HTTP door, when kind is KIND_HTTP */
    int kind;             /* KIND_*: which door the bytes go to */
    bool tcp;             /* from a --http listener */
    bool req_busy;        /* HTTP: part of a request has arrived */
    uint64_t req_start;   /* HTTP: loop time (ms) when it began */
    uint64_t req_seen;    /* HTTP: the door's request count then */

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

/* Which door a connection's bytes go to. A Unix-socket connection is
 * KIND_UNKNOWN until its first byte arrives. */
enum { KIND_UNKNOWN = 0, KIND_NDJSON, KIND_HTTP };

static atomic_uint_fast64_t g_serial;

/* Rejected connections: a flood of them must not flood the log. */
static fd_log_limit reject_log = FD_LOG_LIMIT_INIT;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void process(fd_conn *c);

#define CONN_OF(s)    ((fd_conn *)((char *)(s)-offsetof(fd_conn, nd)))
#define CONN_OF_HD(s) ((fd_conn *)((char *)(s)-offsetof(fd_conn, hd)))

/* The door's output buffer and state, whichever door it is. */
static fd_buf *door_out(fd_conn *c)
{
    return c->kind == KIND_HTTP ? &c->hd.out : &c->nd.out;
}

static bool door_waiting(const fd_conn *c)
{
    return c->kind == KIND_HTTP ? c->hd.waiting : c->nd.waiting;
}

/* HTTP: the last response is written; nothing more is read. */
static bool door_done(const fd_conn *c)
{
    return c->kind == KIND_HTTP && c->hd.done;
}

/* ---- the registry: what is really open ----------------------------------- */

int fd_conn_registry_init(fd_conn_registry *r, size_t maxfd)
{
    r->nwords = maxfd / 64 + 1;
    r->bits = calloc(r->nwords, sizeof *r->bits);
    atomic_init(&r->nopen, 0);
    atomic_init(&r->gen, 0);
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
    atomic_fetch_add_explicit(&r->gen, 1, memory_order_relaxed);
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

/*
 * Close SET's own connections whose client has hung up completely
 * (POLLHUP: nobody can read an answer any more) and whose EOF this worker
 * has not read yet: they leave the count at once.
 */
static void reap_own(fd_conn_set *set)
{
    enum { BATCH = 256 };
    struct pollfd pf[BATCH];
    fd_conn *batch[BATCH];
    fd_conn *c = set->conns;
    while (c) {
        size_t n = 0;
        for (; c && n < BATCH; c = c->next) {
            if (c->closing || !c->registered)
                continue;
            pf[n] = (struct pollfd){.fd = c->fd, .events = POLLRDHUP};
            batch[n++] = c;
        }
        if (n && poll(pf, n, 0) > 0)
            for (size_t i = 0; i < n; i++)
                if (pf[i].revents & (POLLHUP | POLLERR | POLLNVAL))
                    fd_conn_close(batch[i]); /* the handle closes later: c stays valid */
    }
}

/*
 * At the limit: close SET's own hung-up connections, then count the other
 * threads' (count_dead). Probed again only when a connection has entered
 * or left the registry or the loop's clock has moved since, so a flood of
 * connections rejected at the limit costs one probe per loop iteration,
 * not one each; and since the probe closes this thread's dead ones, a
 * flood of quick connect/close cycles brings the count down instead of
 * probing at every admission.
 */
static unsigned dead_now(fd_conn_set *set)
{
    uint64_t now = uv_now(set->loop);
    uint64_t gen = atomic_load_explicit(&set->reg->gen, memory_order_relaxed);
    if (!set->dead_valid || set->dead_at != now || set->dead_gen != gen) {
        reap_own(set);
        set->dead = count_dead(set->reg);
        set->dead_at = now;
        set->dead_gen = atomic_load_explicit(&set->reg->gen, memory_order_relaxed);
        set->dead_valid = true;
    }
    return set->dead;
}

/* ---- state ----------------------------------------------------------------- */

static size_t pending_out(const fd_conn *c)
{
    return door_out((fd_conn *)c)->len + (c->writing ? c->wout.len : 0);
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
    bool want = !c->closing && !c->eof && !c->draining && !c->reject && !c->paused &&
                !door_waiting(c) && !door_done(c);
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
    if (c->closing || !(c->eof || c->draining || c->reject || door_done(c)))
        return;
    if (door_waiting(c) || c->paused || c->writing || door_out(c)->len)
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
    fd_httpd_free(&c->hd);
    fd_buf_free(&c->in);
    fd_buf_free(&c->wout);
    free(c);
    if (set->on_free)
        set->on_free(set->arg);
}

/* ---- the door's callbacks -------------------------------------------------- */

/* Responses became ready, or a reload was answered: write, go on. The
 * same for either door; only the way back from the door's session to its
 * connection differs. */
static void conn_wake(fd_conn *c)
{
    if (c->closing)
        return;
    mark_dirty(c);
    process(c);
    update_reading(c);
    maybe_finish(c);
}

/* The door has no callback outstanding: the connection may be freed. */
static void conn_door_released(fd_conn *c)
{
    c->door_done = true;
    maybe_free(c);
}

static void door_wake(fd_ndjson *s)
{
    conn_wake(CONN_OF(s));
}

static void door_release(fd_ndjson *s)
{
    conn_door_released(CONN_OF(s));
}

static const fd_ndjson_ops door_ops = {door_wake, door_release};

static void http_wake(fd_httpd *s)
{
    conn_wake(CONN_OF_HD(s));
}

static void http_release(fd_httpd *s)
{
    conn_door_released(CONN_OF_HD(s));
}

static const fd_httpd_ops http_ops = {http_wake, http_release};

/* Hand C to the HTTP door. 0, or -1 (out of memory). */
static int start_http(fd_conn *c, const char *addr)
{
    const fd_config *cfg = c->set->cfg;
    fd_httpd_access acc = {
        .tcp = c->tcp,
        .token = cfg->http_token,
        .token_len = cfg->http_token_len,
        .admin = cfg->admin_token,
        .admin_len = cfg->admin_token_len,
    };
    c->kind = KIND_HTTP;
    if (fd_httpd_init(&c->hd, c->set->t, &http_ops, &acc, c->tcp ? NULL : &c->peer,
                      cfg->max_request, c->serial) != 0)
        return -1;
    if (addr)
        snprintf(c->hd.owner.addr, sizeof c->hd.owner.addr, "%s", addr);
    return 0;
}

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
static void process_http(fd_conn *c);

static void process(fd_conn *c)
{
    size_t max = c->set->cfg->max_request;

    if (c->kind == KIND_UNKNOWN && c->in.len > c->in_off) {
        /* SPEC §1: a connection whose first byte is an ASCII letter speaks
         * HTTP (a request line), any other NDJSON (a JSON object). */
        unsigned char b = (unsigned char)c->in.data[c->in_off];
        if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z')) {
            fd_ndjson_close(&c->nd); /* nothing asked of it yet */
            fd_ndjson_free(&c->nd);
            if (start_http(c, NULL) != 0) {
                fd_error("conn %llu: out of memory", (unsigned long long)c->serial);
                fd_conn_close(c);
                return;
            }
        } else {
            c->kind = KIND_NDJSON;
        }
    }
    if (c->kind == KIND_HTTP) {
        process_http(c);
        return;
    }

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

/*
 * Hand the bytes read to the HTTP door until it has taken them all, waits
 * for a reload, is done (Connection: close), or back-pressure pauses it.
 * Keeps the deadline of the request being received.
 */
static void process_http(fd_conn *c)
{
    while (!c->closing && !c->hd.waiting && !c->hd.done) {
        if (pending_out(c) >= FD_CONN_OUT_HIGH) {
            c->paused = true;
            break;
        }
        c->paused = false;
        size_t avail = c->in.len - c->in_off;
        if (avail == 0)
            break;
        size_t used = fd_httpd_feed(&c->hd, c->in.data + c->in_off, avail);
        c->in_off += used;
        if (used == 0) { /* the door's own output is full */
            c->paused = true;
            break;
        }
    }
    if (c->hd.done)
        c->in_off = c->in.len; /* nothing after the last response is read */
    if (fd_httpd_busy(&c->hd)) {
        if (!c->req_busy || c->hd.nreq != c->req_seen) {
            c->req_busy = true;
            c->req_start = uv_now(c->set->loop);
            c->req_seen = c->hd.nreq;
        }
    } else {
        c->req_busy = false;
    }
    if (c->hd.out.len)
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
    if (door_out(c)->len)
        mark_dirty(c);
    update_reading(c);
    maybe_finish(c);
}

static void flush(fd_conn *c)
{
    c->dirty = false;
    if (c->closing)
        return;
    if (door_out(c)->oom) {
        fd_error("conn %llu: out of memory for responses", (unsigned long long)c->serial);
        fd_conn_close(c);
        return;
    }
    bool http = c->kind == KIND_HTTP;
    if (!c->writing && (http ? fd_httpd_ready(&c->hd) : fd_ndjson_ready(&c->nd))) {
        if (http)
            fd_httpd_take(&c->hd, &c->wout);
        else
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
    c->door_done = c->kind == KIND_HTTP ? fd_httpd_close(&c->hd) : fd_ndjson_close(&c->nd);
    uv_close((uv_handle_t *)&c->pipe, close_cb);
}

/* A TCP peer's address as "1.2.3.4:5" or "[::1]:5" into BUF (empty if
 * unknown). */
static void peer_addr(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN];
    buf[0] = '\0';
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip))
            snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        if (inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip))
            snprintf(buf, len, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
    }
}

void fd_conn_adopt(fd_conn_set *set, int fd, bool tcp)
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

    c->tcp = tcp;
    socklen_t sl = sizeof(c->peer);
    if (tcp || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &sl) != 0) {
        /* Without credentials the peer is nobody: never an admin. */
        c->peer.pid = 0;
        c->peer.uid = (uid_t)-1;
        c->peer.gid = (gid_t)-1;
    }
    char addr[64] = "";
    if (tcp) {
        peer_addr(fd, addr, sizeof addr);
        if (start_http(c, addr) != 0) {
            fd_error("accept: out of memory");
            close(fd);
            c->reject = true;
            c->door_done = true;
            uv_close((uv_handle_t *)&c->pipe, close_cb);
            c->closing = true;
            return;
        }
    } else {
        fd_ndjson_init(&c->nd, set->t, &door_ops, &c->peer, c->serial);
    }

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
        unsigned dead = 0;
        if (open >= max) {
            dead = dead_now(set);
            open = atomic_load(&reg->nopen) - 1; /* the reaped ones are out */
        }
        if (open >= max && open - (dead < open ? dead : open) >= max) {
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
        const char *msg = set->draining ? "the daemon is shutting down"
                                        : "too many connections (--max-connections)";
        if (tcp) {
            fd_log_limited(&reject_log, FD_LOG_WARN, "connection from %s rejected: %s", addr, why);
            fd_httpd_refuse(&c->hd, msg);
        } else {
            fd_log_limited(&reject_log, FD_LOG_WARN, "connection from pid %ld uid %ld rejected: %s",
                           (long)c->peer.pid, (long)c->peer.uid, why);
            fd_ndjson_error_noid(&c->nd, FD_SVC_EBUSY, msg);
        }
        mark_dirty(c);
        return;
    }
    fd_stat_add(&set->t->stats.conns_current, 1);
    fd_stat_add(&set->t->stats.conns_total, 1);
    if (tcp)
        fd_debug("conn %llu: thread %u, http from %s", (unsigned long long)c->serial, set->t->idx,
                 addr);
    else
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
        if (stream_timeout && c->kind != KIND_HTTP && c->nd.owner.n && !c->closing)
            fd_svc_owner_sweep(set->t, &c->nd.owner, stream_timeout);
        /* HTTP: a request must be complete within the idle timeout of its
         * first byte, however slowly its bytes trickle in. */
        if (timeout && !c->closing && c->kind == KIND_HTTP && c->req_busy &&
            fd_httpd_busy(&c->hd) && now - c->req_start >= timeout) {
            fd_debug("conn %llu: request not complete after %u s, closing",
                     (unsigned long long)c->serial, set->cfg->idle_timeout);
            fd_conn_close(c);
            continue;
        }
        if (timeout && !c->closing && !door_waiting(c) && now - c->last_active >= timeout) {
            fd_debug("conn %llu: idle for %u s, closing", (unsigned long long)c->serial,
                     set->cfg->idle_timeout);
            fd_conn_close(c);
        }
    }
}
