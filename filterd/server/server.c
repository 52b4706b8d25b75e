/*
 * server.c — the listening socket, workers, signals, reload, shutdown.
 *
 * Threads: the main thread owns a small libuv loop that accepts
 * connections, handles signals and runs reloads. N worker threads
 * (--threads) each run their own loop with their own Hyperscan scratch and
 * result buffers. The acceptor hands each new connection to the least busy
 * worker through that worker's lock-free ring (fd_handoff) and wakes it; the
 * connection then lives on that worker until it closes. (Letting every
 * worker listen on the shared socket was tried first: under a burst of
 * connects the first loop to wake accepted them all, leaving the other
 * cores idle.) Nothing on the request path is shared between threads
 * except the relaxed counters of the `stats` op.
 *
 * Reload (SIGHUP or the `reload` op): the main thread loads and compiles
 * the rules on libuv's thread pool, then gives every worker the result;
 * each worker switches its scratch and rule-set reference between two
 * requests, so a request is always scanned with one complete rule set, and
 * the old set is freed when its last user lets go of it.
 *
 * Stop (SIGTERM/SIGINT): workers stop accepting, read what clients have
 * already sent, answer it, and close each connection when its responses
 * are written (at most FD_DRAIN_MS, then the rest is cut). Then the socket
 * file is removed and the process exits 0.
 */
#include "server.h"
#include "notify.h"
#include "watch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "jarena.h"
#include "log.h"
#include "service.h"

/* Longest a graceful stop waits for slow clients to take their answers. */
#define FD_DRAIN_MS 10000

typedef struct fd_server fd_server;

/*
 * Accepted connections on their way from the acceptor (main thread, the
 * only producer) to one worker (the only consumer): a single-producer,
 * single-consumer ring of file descriptors. head and tail only grow.
 */
#define FD_HANDOFF_CAP 1024
typedef struct fd_handoff {
    int fds[FD_HANDOFF_CAP];
    bool tcp[FD_HANDOFF_CAP]; /* from a --http listener */
    _Atomic size_t head;      /* next slot the worker takes */
    _Atomic size_t tail;      /* next slot the acceptor fills */
} fd_handoff;

/* Producer side: 0, or -1 if the ring is full. */
static int handoff_push(fd_handoff *h, int fd, bool tcp)
{
    size_t t = atomic_load_explicit(&h->tail, memory_order_relaxed);
    if (t - atomic_load_explicit(&h->head, memory_order_acquire) == FD_HANDOFF_CAP)
        return -1;
    h->fds[t % FD_HANDOFF_CAP] = fd;
    h->tcp[t % FD_HANDOFF_CAP] = tcp;
    atomic_store_explicit(&h->tail, t + 1, memory_order_release);
    return 0;
}

/* Consumer side: an fd, or -1 if the ring is empty. */
static int handoff_pop(fd_handoff *h, bool *tcp)
{
    size_t hd = atomic_load_explicit(&h->head, memory_order_relaxed);
    if (hd == atomic_load_explicit(&h->tail, memory_order_acquire))
        return -1;
    int fd = h->fds[hd % FD_HANDOFF_CAP];
    *tcp = h->tcp[hd % FD_HANDOFF_CAP];
    atomic_store_explicit(&h->head, hd + 1, memory_order_release);
    return fd;
}

static size_t handoff_len(fd_handoff *h)
{
    return atomic_load_explicit(&h->tail, memory_order_relaxed) -
           atomic_load_explicit(&h->head, memory_order_relaxed);
}

/*
 * A worker thread: its loop, its service context (rules, scratch,
 * counters, audit batch) and its connections. Everything but the fields
 * marked "cross thread" is touched only by the worker's own thread; the
 * main thread stores into those and sends `wake`.
 */
typedef struct fd_worker {
    fd_server *srv;
    unsigned idx;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t wake;  /* the main thread has something for us */
    uv_check_t flush; /* end of each loop iteration: audit batch, then writes */
    uv_timer_t sweep; /* idle timeouts */
    uv_timer_t drain_timer;
    fd_svc_thread svc;
    fd_conn_set conns;

    /* cross thread: set by the main thread, then wake is sent */
    fd_handoff handoff; /* newly accepted connections */
    bool handed;        /* main thread only: got connections in this batch */
    _Atomic(fd_reload_result *) pending_reload;
    atomic_int drain_req;

    bool draining;
    bool finished;
    bool loop_ok; /* loop initialised: worker_free() must close it */
    bool svc_ok;  /* svc initialised */
} fd_worker;

/* A listening socket: the Unix socket (NDJSON and HTTP) or a --http TCP
 * listener (HTTP only). */
typedef struct fd_listener {
    fd_server *srv;
    int fd;
    bool tcp;
    uv_poll_t poll;
    uv_timer_t retry; /* out of file descriptors: accept again later */
    char name[96];    /* for logs: the path, or "http://HOST:PORT" */
} fd_listener;

/* The daemon: the main thread's loop (accept, signals, reloads) and the
 * workers. */
struct fd_server {
    const fd_config *cfg;
    fd_service svc;
    fd_listener lis[1 + FD_MAX_HTTP]; /* [0]: the Unix socket */
    unsigned nlis;
    uv_loop_t *loop;
    unsigned next_worker; /* round-robin start for tie-breaking */
    uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;
    uv_async_t reload_async;
    fd_worker *workers;
    unsigned nworkers;
    fd_conn_registry reg;
    fd_ruleset *rs; /* main thread: the current rule set */
    struct fd_watch *watch;
    _Atomic uint64_t reload_req_gen; /* bumped by every reload request */
    uint64_t reload_started_gen;     /* main thread */
    bool reload_running;             /* main thread */
    uv_work_t reload_work;
    fd_ruleset *reload_new; /* result of the background load */
    char *reload_errors;
    /* A reload result allocated ahead, for when memory runs out at the end
     * of a reload: the waiters must still be answered. spare_used marks
     * it once taken. */
    fd_reload_result *spare_result, *spare_used;
    bool stopping;
};

static uint64_t request_reload(void *arg);

/* ---- the listening socket ----------------------------------------------- */

static int resolve_group(const char *s, gid_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s && !*end) {
        *out = (gid_t)v;
        return 0;
    }
    struct group *g = getgrnam(s);
    if (!g)
        return -1;
    *out = g->gr_gid;
    return 0;
}

/*
 * If PATH exists: refuse (-1) when it is not a socket or when a live
 * daemon answers on it; remove it when nothing answers (a stale socket left
 * by a daemon that died). Returns 0 when PATH is free to bind.
 */
static int check_existing(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : (fd_error("%s: %s", path, strerror(errno)), -1);
    if (!S_ISSOCK(st.st_mode)) {
        fd_error("%s exists and is not a socket; refusing to replace it", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        fd_error("socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    /* Non-blocking: EAGAIN means a live listener with a full backlog. */
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
        fd_error("another daemon is already listening on %s; refusing to start", path);
        return -1;
    }
    if (e != ECONNREFUSED) {
        fd_error("%s: cannot probe existing socket: %s", path, strerror(e));
        return -1;
    }
    fd_info("removing stale socket %s", path);
    if (unlink(path) != 0 && errno != ENOENT) {
        fd_error("%s: cannot remove stale socket: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Create, bind and listen on the Unix socket of CFG with its mode and group.
 * Returns the fd, or -1 after logging why. *INO receives the socket file's
 * inode, so that only our own file is removed at exit.
 */
static int make_listener(const fd_config *cfg, ino_t *ino)
{
    const char *path = cfg->socket_path;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fd_error("socket path too long (max %zu bytes): %s", sizeof(sa.sun_path) - 1, path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);

    gid_t gid = (gid_t)-1;
    if (cfg->socket_group && resolve_group(cfg->socket_group, &gid) != 0) {
        fd_error("--socket-group: unknown group '%s'", cfg->socket_group);
        return -1;
    }

    /* The standard place as root: create /run/filterd if it is missing. */
    char dir[sizeof(sa.sun_path)];
    memcpy(dir, path, strlen(path) + 1);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) == 0)
            fd_info("created %s", dir);
    }

    if (check_existing(path) != 0)
        return -1;

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        fd_error("socket: %s", strerror(errno));
        return -1;
    }
    /* Bind with a tight umask so the socket is never more open than asked,
     * not even between bind and chmod. */
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    umask(old);
    if (rc != 0) {
        fd_error("bind %s: %s", path, strerror(e));
        close(fd);
        return -1;
    }
    struct stat st;
    if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0) {
        fd_error("chown %s to group %s: %s", path, cfg->socket_group, strerror(errno));
        goto fail;
    }
    if (chmod(path, cfg->socket_mode) != 0) {
        fd_error("chmod %s: %s", path, strerror(errno));
        goto fail;
    }
    if (listen(fd, SOMAXCONN) != 0) {
        fd_error("listen %s: %s", path, strerror(errno));
        goto fail;
    }
    *ino = stat(path, &st) == 0 ? st.st_ino : 0;
    return fd;
fail:
    unlink(path);
    close(fd);
    return -1;
}

/*
 * Split a --http value "HOST:PORT" or "[V6]:PORT" into HOST and PORT
 * (buffers of HLEN and PLEN bytes). 0 or -1.
 */
static int split_hostport(const char *spec, char *host, size_t hlen, char *port, size_t plen)
{
    const char *colon;
    size_t n;
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':')
            return -1;
        n = (size_t)(end - spec - 1);
        if (n == 0 || n >= hlen)
            return -1;
        memcpy(host, spec + 1, n);
        colon = end + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || colon == spec || memchr(spec, ':', (size_t)(colon - spec)))
            return -1;
        n = (size_t)(colon - spec);
        if (n >= hlen)
            return -1;
        memcpy(host, spec, n);
    }
    host[n] = '\0';
    const char *p = colon + 1;
    if (!*p || strlen(p) >= plen || strspn(p, "0123456789") != strlen(p) || atol(p) > 65535)
        return -1;
    strcpy(port, p);
    return 0;
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* "HOST:PORT" of a bound socket into BUF ("[V6]:PORT" for IPv6). */
static void sock_name(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
            snprintf(buf, len, "http://[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
            return;
        }
    }
    snprintf(buf, len, "http://%s:%u", ip, port);
}

/*
 * Resolve --http value SPEC and check it against SPEC §1: without
 * --http-token only a loopback address may be used. With BIND, create,
 * bind and listen; returns the fd (or, without BIND, 0), or -1 after
 * reporting why through REPORT.
 */
static int tcp_listener(const fd_config *cfg, const char *spec, bool bind_it,
                        void (*report)(const char *fmt, ...))
{
    char host[256], port[8];
    if (split_hostport(spec, host, sizeof host, port, sizeof port) != 0) {
        report("--http %s: not HOST:PORT (IPv6: [ADDR]:PORT)", spec);
        return -1;
    }
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                             .ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0 || !ai) {
        report("--http %s: %s", spec, gai_strerror(g));
        return -1;
    }
    if (!cfg->http_token && !is_loopback(ai->ai_addr)) {
        report("--http %s: not a loopback address; a TCP listener on any other address needs "
               "--http-token; refusing to start",
               spec);
        freeaddrinfo(ai);
        return -1;
    }
    if (!bind_it) {
        freeaddrinfo(ai);
        return 0;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        report("--http %s: socket: %s", spec, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        report("--http %s: %s", spec, strerror(errno));
        close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static void report_stderr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report_stderr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("filterd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void report_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report_log(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fd_error("%s", msg);
}

int fd_server_check_config(const fd_config *cfg)
{
    int rc = 0;
    struct sockaddr_un sa;
    gid_t gid;
    if (strlen(cfg->socket_path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "filterd: socket path too long (max %zu bytes): %s\n",
                sizeof(sa.sun_path) - 1, cfg->socket_path);
        rc = -1;
    }
    if (cfg->socket_group && resolve_group(cfg->socket_group, &gid) != 0) {
        fprintf(stderr, "filterd: --socket-group: unknown group '%s'\n", cfg->socket_group);
        rc = -1;
    }
    for (size_t i = 0; i < cfg->n_http; i++)
        if (tcp_listener(cfg, cfg->http[i], false, report_stderr) < 0)
            rc = -1;
    return rc;
}

/* ---- workers ------------------------------------------------------------ */

/* End of a loop iteration: hand this iteration's audit records to the
 * writer, then write the responses that are ready. The records go first
 * and unconditionally: streams of closing connections queue records too. */
static void flush_cb(uv_check_t *h)
{
    fd_worker *w = h->data;
    fd_svc_thread_flush(&w->svc);
    fd_conn_flush_all(&w->conns);
}

static void sweep_cb(uv_timer_t *t)
{
    fd_worker *w = t->data;
    fd_conn_sweep(&w->conns);
}

static void drain_timeout_cb(uv_timer_t *t)
{
    fd_worker *w = t->data;
    fd_warn("worker %u: %u connection(s) still busy after %d ms, closing them", w->idx,
            w->conns.nconns, FD_DRAIN_MS);
    fd_conn_close_all(&w->conns);
}

/* A draining worker is done once no connection is left and no audit
 * record of it is on its way: close its handles, its loop ends. */
static void maybe_finish(void *arg)
{
    fd_worker *w = arg;
    if (!w->draining || w->finished || w->conns.nconns || fd_svc_thread_busy(&w->svc))
        return;
    w->finished = true;
    uv_close((uv_handle_t *)&w->wake, NULL);
    uv_close((uv_handle_t *)&w->flush, NULL);
    uv_close((uv_handle_t *)&w->sweep, NULL);
    uv_close((uv_handle_t *)&w->drain_timer, NULL);
    fd_svc_thread_close(&w->svc);
}

static void start_drain(fd_worker *w)
{
    w->draining = true;
    fd_svc_thread_stop(&w->svc); /* waiting reloads: "shutting down" */
    fd_conn_drain_all(&w->conns);
    if (w->conns.nconns)
        uv_timer_start(&w->drain_timer, drain_timeout_cb, FD_DRAIN_MS, 0);
    maybe_finish(w);
}

/* The main thread has new connections, a reload result or a stop request. */
static void wake_cb(uv_async_t *h)
{
    fd_worker *w = h->data;
    /* Read the stop request first: every connection handed over before it
     * was made is then visible in the ring below and gets adopted (and
     * drained) rather than lost. */
    int drain = atomic_load(&w->drain_req);
    int fd;
    bool tcp;
    while ((fd = handoff_pop(&w->handoff, &tcp)) >= 0)
        fd_conn_adopt(&w->conns, fd, tcp);

    fd_reload_result *res = atomic_exchange(&w->pending_reload, NULL);
    if (res) {
        fd_svc_thread_reload(&w->svc, res);
        fd_reload_result_release(res);
    }
    if (drain && !w->draining)
        start_drain(w);
}

static void worker_main(void *arg)
{
    fd_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    fd_jarena_thread_free();
}

/* Set up worker W on the main thread (its loop runs on its own thread). */
static int worker_init(fd_server *srv, fd_worker *w, unsigned idx)
{
    w->srv = srv;
    w->idx = idx;
    if (uv_loop_init(&w->loop) != 0)
        return -1;
    w->loop_ok = true;
    if (fd_svc_thread_init(&srv->svc, &w->svc, idx, &w->loop, srv->rs) != 0)
        return -1;
    w->svc_ok = true;
    w->svc.on_complete = maybe_finish;
    w->svc.on_complete_arg = w;
    w->conns = (fd_conn_set){
        .loop = &w->loop,
        .t = &w->svc,
        .cfg = srv->cfg,
        .reg = &srv->reg,
        .on_free = maybe_finish,
        .arg = w,
    };
    uv_async_init(&w->loop, &w->wake, wake_cb);
    w->wake.data = w;
    uv_check_init(&w->loop, &w->flush);
    w->flush.data = w;
    uv_check_start(&w->flush, flush_cb);
    uv_unref((uv_handle_t *)&w->flush);
    uv_timer_init(&w->loop, &w->sweep);
    w->sweep.data = w;
    /* One sweep serves --idle-timeout and --stream-timeout: every second,
     * or every 250 ms when either is short enough for that to matter. */
    unsigned idle = srv->cfg->idle_timeout, sidle = srv->cfg->stream_timeout;
    if (idle || sidle) {
        bool fine = (idle && idle < 10) || (sidle && sidle < 10);
        uint64_t every = fine ? 250 : 1000;
        uv_timer_start(&w->sweep, sweep_cb, every, every);
    }
    uv_unref((uv_handle_t *)&w->sweep);
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    uv_unref((uv_handle_t *)&w->drain_timer);
    return 0;
}

/* After the worker's thread has ended (or never started). */
static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void worker_free(fd_worker *w)
{
    fd_reload_result_release(atomic_exchange(&w->pending_reload, NULL));
    int fd;
    bool tcp;
    while ((fd = handoff_pop(&w->handoff, &tcp)) >= 0)
        close(fd); /* handed over after the worker had stopped */
    if (w->loop_ok) {
        /* A worker that never ran (start-up failure) still has its handles
         * open; a drained one has closed them all. */
        uv_walk(&w->loop, close_any, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&w->loop) != 0)
            fd_warn("worker %u: loop not closed cleanly", w->idx);
    }
    if (w->svc_ok)
        fd_svc_thread_free(&w->svc);
}

/* ---- the acceptor (main thread) ---------------------------------------- */

/*
 * Give connection FD to the least busy worker (open connections plus those
 * still in its ring; ties go round-robin). Returns the worker, or NULL if
 * every ring is full (FD is then closed).
 */
static fd_worker *dispatch(fd_server *srv, int fd, bool tcp)
{
    unsigned n = srv->nworkers, best = n;
    uint64_t best_load = UINT64_MAX;
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (srv->next_worker + k) % n;
        fd_worker *w = &srv->workers[i];
        if (handoff_len(&w->handoff) >= FD_HANDOFF_CAP)
            continue;
        uint64_t load = atomic_load_explicit(&w->svc.stats.conns_current, memory_order_relaxed) +
                        handoff_len(&w->handoff);
        if (load < best_load) {
            best_load = load;
            best = i;
        }
    }
    srv->next_worker = (srv->next_worker + 1) % n;
    if (best == n || handoff_push(&srv->workers[best].handoff, fd, tcp) != 0) {
        fd_warn("all workers are backlogged; dropping a new connection");
        close(fd);
        return NULL;
    }
    return &srv->workers[best];
}

static void accept_cb(uv_poll_t *h, int status, int events);

static void accept_retry_cb(uv_timer_t *t)
{
    fd_listener *l = t->data;
    if (!l->srv->stopping)
        uv_poll_start(&l->poll, UV_READABLE, accept_cb);
}

/* The listening socket is readable: accept everything pending, hand it
 * out, then wake each worker that got something, once. Waking only after
 * the batch matters: a worker woken early could empty its ring before the
 * rest of the batch arrives and then sleep on it. */
static void accept_cb(uv_poll_t *h, int status, int events)
{
    fd_listener *l = h->data;
    fd_server *srv = l->srv;
    (void)events;
    if (status < 0) {
        fd_warn("accept: %s", uv_strerror(status));
        return;
    }
    for (int i = 0; i < 512; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            /* Out of descriptors or memory: the socket stays readable, so
             * pause accepting for a moment instead of spinning. */
            fd_warn("accept: %s; pausing for 100 ms", strerror(errno));
            uv_poll_stop(&l->poll);
            uv_timer_start(&l->retry, accept_retry_cb, 100, 0);
            break;
        }
        if (l->tcp) { /* answers are small and often: no Nagle delay */
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        fd_worker *w = dispatch(srv, fd, l->tcp);
        if (w)
            w->handed = true;
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        fd_worker *w = &srv->workers[i];
        if (w->handed) {
            w->handed = false;
            uv_async_send(&w->wake);
        }
    }
}

/* ---- reload (main thread) ----------------------------------------------- */

static uint64_t request_reload(void *arg)
{
    fd_server *srv = arg;
    uint64_t gen = atomic_fetch_add(&srv->reload_req_gen, 1) + 1;
    uv_async_send(&srv->reload_async);
    return gen;
}

static void reload_work_cb(uv_work_t *req)
{
    fd_server *srv = req->data;
    fd_diag diag = FD_DIAG_INIT;
    srv->reload_new = NULL;
    srv->reload_errors = NULL;
    fd_ruleset_opts opts = {.cache_dir = srv->cfg->cache_dir};
    int rc = fd_ruleset_load_opts(srv->cfg->rules_dir, &opts, &srv->reload_new, &diag);
    if (rc != 0) {
        srv->reload_errors = fd_diag_join(&diag);
        if (!srv->reload_errors) {
            const char *m = fd_strerror(rc);
            srv->reload_errors = strdup(m ? m : "reload failed");
        }
    }
    fd_diag_free(&diag);
}

static void maybe_start_reload(fd_server *srv);

static void reload_after_cb(uv_work_t *req, int status)
{
    fd_server *srv = req->data;
    srv->reload_running = false;
    fd_reload_result *res = calloc(1, sizeof(*res));
    if (!res) {
        /* Out of memory: the waiters are still answered (from the result
         * kept aside for this), with the truth. */
        res = srv->spare_result;
        srv->spare_result = NULL;
    }
    if (!res) {
        fd_error("reload: out of memory; the reload requests waiting now are answered when "
                 "the daemon stops");
        if (srv->reload_new)
            fd_ruleset_unref(srv->reload_new);
        free(srv->reload_errors);
        srv->reload_new = NULL;
        srv->reload_errors = NULL;
        return;
    }
    memset(res, 0, sizeof *res);
    res->gen = srv->reload_started_gen;
    if (status != 0 || res == srv->spare_used) {
        if (srv->reload_new)
            fd_ruleset_unref(srv->reload_new);
        free(srv->reload_errors);
        res->status = FD_SVC_EINTERNAL;
        fd_error("reload failed: %s", status ? uv_strerror(status) : "out of memory");
        fd_service_note_reload(&srv->svc, res);
    } else if (srv->reload_new) {
        res->rs = srv->reload_new; /* the result's reference */
        snprintf(res->version, sizeof(res->version), "%s", fd_ruleset_version(res->rs));
        res->nrules = fd_ruleset_nrules(res->rs);
        fd_ruleset_unref(srv->rs);
        srv->rs = fd_ruleset_ref(res->rs);
        fd_service_note_reload(&srv->svc, res);
        fd_info("rules reloaded from %s: version %s, %zu rules, %s in %.1f ms", srv->cfg->rules_dir,
                res->version, res->nrules,
                fd_ruleset_cached(res->rs) ? "from the cache" : "compiled",
                fd_ruleset_compile_ms(res->rs));
    } else {
        res->errors = srv->reload_errors;
        res->status = FD_SVC_EBAD_RULES;
        fd_service_note_reload(&srv->svc, res);
        fd_error("reload of %s failed, keeping rules %s:", srv->cfg->rules_dir,
                 fd_ruleset_version(srv->rs));
        for (char *line = res->errors, *nl; line && *line; line = nl ? nl + 1 : NULL) {
            nl = strchr(line, '\n');
            fd_error("  %.*s", nl ? (int)(nl - line) : (int)strlen(line), line);
        }
    }
    if (!srv->spare_result) /* for the next time memory runs out */
        srv->spare_used = srv->spare_result = malloc(sizeof *srv->spare_result);
    srv->reload_new = NULL;
    srv->reload_errors = NULL;

    if (srv->stopping) {
        atomic_store(&res->refs, 1);
        fd_reload_result_release(res);
        return;
    }
    atomic_store(&res->refs, (int)srv->nworkers);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        fd_worker *w = &srv->workers[i];
        fd_reload_result_release(atomic_exchange(&w->pending_reload, res));
        uv_async_send(&w->wake);
    }
    maybe_start_reload(srv); /* requests that came in meanwhile */
}

static void maybe_start_reload(fd_server *srv)
{
    if (srv->stopping || srv->reload_running)
        return;
    uint64_t want = atomic_load(&srv->reload_req_gen);
    if (want <= srv->reload_started_gen)
        return;
    srv->reload_started_gen = want;
    srv->reload_running = true;
    srv->reload_work.data = srv;
    fd_info("reloading rules from %s", srv->cfg->rules_dir);
    int rc = uv_queue_work(srv->loop, &srv->reload_work, reload_work_cb, reload_after_cb);
    if (rc != 0) {
        srv->reload_running = false;
        fd_error("reload: %s", uv_strerror(rc));
    }
}

static void reload_async_cb(uv_async_t *h)
{
    maybe_start_reload(h->data);
}

/* ---- signals (main thread) ---------------------------------------------- */

static void stop(fd_server *srv, const char *why)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    fd_info("%s: stopping (answering what was already received)", why);
    for (unsigned i = 0; i < srv->nlis; i++) {
        uv_close((uv_handle_t *)&srv->lis[i].poll, NULL);
        uv_close((uv_handle_t *)&srv->lis[i].retry, NULL);
    }
    uv_close((uv_handle_t *)&srv->sig_term, NULL);
    uv_close((uv_handle_t *)&srv->sig_int, NULL);
    uv_close((uv_handle_t *)&srv->sig_hup, NULL);
    uv_close((uv_handle_t *)&srv->sig_usr1, NULL);
    fd_notify("STOPPING=1");
    fd_watch_stop(srv->watch);
    srv->watch = NULL;
    /* reload_async stays open until the workers are joined: they may still
     * send to it. Unreferenced, it no longer keeps this loop running. */
    uv_unref((uv_handle_t *)&srv->reload_async);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        atomic_store(&srv->workers[i].drain_req, 1);
        uv_async_send(&srv->workers[i].wake);
    }
}

static void signal_cb(uv_signal_t *h, int signum)
{
    fd_server *srv = h->data;
    switch (signum) {
    case SIGTERM:
        stop(srv, "SIGTERM");
        break;
    case SIGINT:
        stop(srv, "SIGINT");
        break;
    case SIGHUP:
        fd_info("SIGHUP: reload requested");
        request_reload(srv);
        break;
    case SIGUSR1:
        fd_service_reopen_audit(&srv->svc);
        break;
    }
}

static void start_signal(fd_server *srv, uv_signal_t *h, int signum)
{
    uv_signal_init(srv->loop, h);
    h->data = srv;
    uv_signal_start(h, signal_cb, signum);
}

/* How long a rule directory must be quiet after a change before --watch
 * reloads: one save, or a `git pull` of many files, makes one reload. */
#define FD_WATCH_DEBOUNCE_MS 300

/* --watch: rule files changed (and have been quiet for a moment). */
static void watch_cb(void *arg)
{
    fd_server *srv = arg;
    fd_info("rule files changed: reload requested");
    request_reload(srv);
}

/* Let the daemon hold as many connections as the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int fd_server_run(const fd_config *cfg, fd_ruleset *rs)
{
    fd_server srv_storage, *srv = &srv_storage;
    memset(srv, 0, sizeof(*srv));
    srv->cfg = cfg;
    srv->rs = rs;
    int status = 1;
    unsigned started = 0;
    ino_t ino = 0;
    uv_loop_t main_loop;

    signal(SIGPIPE, SIG_IGN);
    /* Over RLIMIT_FSIZE a write fails with EFBIG instead of killing us: the
     * audit log then answers audit_failed like on a full device. */
    signal(SIGXFSZ, SIG_IGN);
    raise_fd_limit();
    fd_jarena_install();

    /* The audit log before the socket: a daemon that cannot record its
     * decisions must not accept requests for them. */
    fd_svc_hooks hooks = {request_reload, srv};
    if (fd_service_init(&srv->svc, cfg, cfg->threads, &hooks) != 0) {
        fd_ruleset_unref(rs);
        return 1;
    }
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY ||
        nofile.rlim_cur > (1u << 22))
        nofile.rlim_cur = 1u << 22;
    srv->spare_used = srv->spare_result = malloc(sizeof *srv->spare_result);
    if (fd_conn_registry_init(&srv->reg, nofile.rlim_cur) != 0 || !srv->spare_result) {
        fd_error("out of memory");
        fd_service_fini(&srv->svc);
        fd_conn_registry_free(&srv->reg);
        free(srv->spare_result);
        fd_ruleset_unref(rs);
        return 1;
    }

    srv->lis[0] = (fd_listener){.srv = srv, .fd = make_listener(cfg, &ino)};
    snprintf(srv->lis[0].name, sizeof srv->lis[0].name, "%s", cfg->socket_path);
    srv->nlis = 1;
    for (size_t i = 0; srv->lis[0].fd >= 0 && i < cfg->n_http; i++) {
        fd_listener *l = &srv->lis[srv->nlis];
        *l = (fd_listener){.srv = srv, .tcp = true};
        l->fd = tcp_listener(cfg, cfg->http[i], true, report_log);
        if (l->fd < 0)
            break;
        sock_name(l->fd, l->name, sizeof l->name);
        srv->nlis++;
    }
    if (srv->lis[0].fd < 0 || srv->nlis != 1 + cfg->n_http) {
        for (unsigned i = 0; i < srv->nlis; i++)
            close(srv->lis[i].fd);
        if (srv->lis[0].fd >= 0)
            unlink(cfg->socket_path);
        fd_service_fini(&srv->svc);
        fd_conn_registry_free(&srv->reg);
        free(srv->spare_result);
        fd_ruleset_unref(rs);
        return 1;
    }

    uv_loop_init(&main_loop);
    srv->loop = &main_loop;
    uv_async_init(srv->loop, &srv->reload_async, reload_async_cb);
    srv->reload_async.data = srv;

    srv->workers = calloc(cfg->threads, sizeof(fd_worker));
    if (!srv->workers) {
        fd_error("out of memory");
        goto out;
    }
    srv->nworkers = cfg->threads;
    for (unsigned i = 0; i < srv->nworkers; i++) {
        if (worker_init(srv, &srv->workers[i], i) != 0) {
            fd_error("cannot start worker %u", i);
            goto out_workers;
        }
    }
    for (; started < srv->nworkers; started++) {
        if (uv_thread_create(&srv->workers[started].thread, worker_main, &srv->workers[started]) !=
            0) {
            fd_error("cannot start worker thread %u", started);
            goto out_workers;
        }
    }
    for (unsigned i = 0; i < srv->nlis; i++) {
        fd_listener *l = &srv->lis[i];
        uv_poll_init(srv->loop, &l->poll, l->fd);
        l->poll.data = l;
        uv_timer_init(srv->loop, &l->retry);
        l->retry.data = l;
        uv_poll_start(&l->poll, UV_READABLE, accept_cb);
        if (l->tcp)
            fd_info("http: listening on %s%s", l->name,
                    cfg->http_token ? " (token required)" : " (loopback, no token)");
    }
    start_signal(srv, &srv->sig_term, SIGTERM);
    start_signal(srv, &srv->sig_int, SIGINT);
    start_signal(srv, &srv->sig_hup, SIGHUP);
    start_signal(srv, &srv->sig_usr1, SIGUSR1);

    if (cfg->watch) {
        int wr = fd_watch_start(srv->loop, cfg->rules_dir, FD_WATCH_DEBOUNCE_MS, watch_cb, srv,
                                &srv->watch);
        if (wr)
            fd_warn("--watch: cannot watch %s: %s; reload with SIGHUP instead", cfg->rules_dir,
                    uv_strerror(wr));
        else
            fd_info("watching %s (%u directories) for rule changes", cfg->rules_dir,
                    fd_watch_count(srv->watch));
    }

    fd_info("ready: listening on %s (%u threads, %zu rules, version %s)", cfg->socket_path,
            srv->nworkers, fd_ruleset_nrules(srv->rs), fd_ruleset_version(srv->rs));
    fd_notify("READY=1\nSTATUS=listening");
    uv_run(srv->loop, UV_RUN_DEFAULT);
    status = 0;

out_workers:
    if (!srv->stopping) { /* a start-up failure: stop what did start */
        srv->stopping = true;
        for (unsigned i = 0; i < started; i++) {
            atomic_store(&srv->workers[i].drain_req, 1);
            uv_async_send(&srv->workers[i].wake);
        }
    }
    for (unsigned i = 0; i < started; i++)
        uv_thread_join(&srv->workers[i].thread);
    for (unsigned i = 0; i < srv->nworkers; i++)
        worker_free(&srv->workers[i]);
    free(srv->workers);
out:
    fd_service_fini(&srv->svc); /* the workers are gone: every record is written */
    fd_conn_registry_free(&srv->reg);
    free(srv->spare_result);
    uv_close((uv_handle_t *)&srv->reload_async, NULL);
    uv_run(srv->loop, UV_RUN_DEFAULT);
    uv_loop_close(srv->loop);
    for (unsigned i = 0; i < srv->nlis; i++)
        close(srv->lis[i].fd);
    /* Remove the socket file, unless someone else has replaced it since. */
    struct stat st;
    if (stat(cfg->socket_path, &st) == 0 && st.st_ino == ino)
        unlink(cfg->socket_path);
    fd_ruleset_unref(srv->rs);
    if (status == 0)
        fd_info("stopped");
    return status;
}
