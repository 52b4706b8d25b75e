/*
 * loadgen.c — fd_loadgen: end-to-end load against a running filterd over
 * its Unix socket (SPEC §2: NDJSON, responses in request order per
 * connection, pipelining allowed). One thread, epoll, non-blocking sockets.
 *
 * Requests are `{"id":N,"op":"check","text":"…"}\n`, the text cut from the
 * fortunes corpora by bench/corpus.c (about --size bytes, Chinese and
 * English alternating), JSON-escaped once at start-up.
 *
 * Two modes:
 *  - closed loop (--rate 0): each of --connections connections keeps
 *    --depth requests outstanding; every response is answered by a new
 *    request. Latency = response read time - time the request was queued
 *    for writing. Measures throughput (checks/s) at saturation.
 *  - open loop (--rate R > 0): requests are scheduled at fixed times
 *    t0 + k/R (evenly spaced over all connections), request k going to
 *    connection k mod C, and at most one request is outstanding per
 *    connection (no pipelining). When a request's time comes and its
 *    connection is still waiting for the previous answer, it is sent as
 *    soon as that answer arrives. Latency is always measured from the
 *    scheduled time, not the actual send, so a stalled daemon is charged
 *    for every request that could not be sent (no coordinated omission).
 *    Also kept: latency from the actual send, and the send lag (actual
 *    send - scheduled time: our own lateness, e.g. waiting for a CPU).
 *
 * A warm-up (--warmup s) precedes the measured window (--duration s). In
 * the window: checks/s (responses received / window), latency percentiles
 * (exact, from every sample), error responses, and CPU: the daemon's
 * utime+stime from /proc/PID/stat (clock ticks) and, at ns resolution, the
 * sum of /proc/PID/task/ * /schedstat run times; our own CPU; and the whole
 * machine's busy time from /proc/stat, so the load of others sharing the
 * machine can be read off ("other" cores).
 *
 * With --rules DIR, the same messages are also scanned in process just
 * before the load, one thread, for --baseline seconds each: (a) raw
 * hs_scan of the rule set's databases, (b) fd_scan (the full path). The
 * daemon's CPU per check is reported as a ratio to both: these machines
 * are noisy, ratios measured in one run are what to compare.
 *
 * --make-ruledir N writes a synthetic rule directory of N keywords (+200
 * regexes, the same seeds as fd_bench's sets), prints its path and exits.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "corpus.h"
#include "ruleset_int.h"
#include "scan.h"

#define NMSGS      2000
#define READ_CHUNK (256 * 1024)

typedef struct opts {
    const char *socket, *json, *label, *rules, *cache_dir;
    int conns, depth, pid;
    int http; /* --http: POST /v1/check over HTTP/1.1 on the same socket */
    double duration, warmup, rate, baseline;
    size_t size;
} opts;

/* Per connection: buffers and a ring of request times. Entries
 * [head, sent) of the ring are in flight, [sent, tail) scheduled but not
 * yet sent (open loop only). */
typedef struct conn {
    int fd, idx, dead, want_out;
    char *out;
    size_t out_len, out_off, out_cap;
    char *in;
    size_t in_len;
    uint64_t *ts;      /* scheduled (open loop) or queued (closed loop) time */
    uint64_t *sent_at; /* when the request was actually queued for writing */
    uint64_t mask, head, sent, tail;
    uint64_t nreq, nresp; /* ids: seq * conns + idx */
} conn;

/* Everything the run counts. */
typedef struct run {
    const opts *o;
    conn *c;
    int ep;
    char **body; /* per message: `,"op":"check","text":"…"}\n` */
    size_t *body_len, nbody, seq;
    uint64_t t_warm, t_end; /* nominal window */
    int in_window, ended;
    uint64_t *lat; /* from the scheduled time: the figure */
    uint64_t *svc; /* from the actual send */
    uint64_t *lag; /* open loop: actual send - scheduled time */
    size_t nlat, nlag, lat_cap, lag_cap;
    uint64_t resp_window, resp_total, err_resp, bad_id, conn_err, overflow, late;
    uint64_t dec[3]; /* allow, flag, block (in window) */
    char first_err[256];
} run;

/* CPU readings taken at the window's edges. */
typedef struct cpu_snap {
    uint64_t t;         /* monotonic ns */
    long long ticks;    /* daemon utime+stime, clock ticks */
    uint64_t task_ns;   /* daemon, sum over threads of schedstat run time */
    uint64_t wait_ns;   /* daemon, sum over threads of run-queue wait time */
    uint64_t self_ns;   /* our own CPU */
    long long sys_busy; /* whole machine, ticks */
} cpu_snap;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "fd_loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "fd_loadgen: out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- JSON escaping ------------------------------------------------------ */

/*
 * Length of the valid UTF-8 sequence at P (at most N bytes), or 0 when it
 * is invalid (overlong, surrogate, above U+10FFFF, truncated) or NUL: those
 * bytes are sent as U+FFFD so the daemon sees a valid request.
 */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    size_t l = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!l || l > n || c > 0xF4)
        return 0;
    for (size_t i = 1; i < l; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if (c == 0xE0 && p[1] < 0xA0)
        return 0; /* overlong */
    if (c == 0xED && p[1] >= 0xA0)
        return 0; /* surrogate */
    if (c == 0xF0 && p[1] < 0x90)
        return 0; /* overlong */
    if (c == 0xF4 && p[1] >= 0x90)
        return 0; /* above U+10FFFF */
    return l;
}

/*
 * The constant tail of one request: `,"op":"check","text":"ESC"}\n` where
 * ESC is TEXT as a JSON string body: `"` and `\` escaped, control
 * characters as \n, \t, \r or \u00XX, invalid UTF-8 as \ufffd, everything
 * else (valid UTF-8) verbatim.
 */
static char *make_body(const char *text, size_t len, size_t *out_len)
{
    static const char head[] = ",\"op\":\"check\",\"text\":\"";
    char *b = xmalloc(sizeof head + len * 6 + 4), *o = b;
    memcpy(o, head, sizeof head - 1);
    o += sizeof head - 1;
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        size_t l = utf8_len(p + i, len - i);
        if (!l) {
            o += sprintf(o, "\\ufffd");
            i++;
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
            i++;
        } else if (c < 0x20) {
            if (c == '\n')
                o += sprintf(o, "\\n");
            else if (c == '\t')
                o += sprintf(o, "\\t");
            else if (c == '\r')
                o += sprintf(o, "\\r");
            else
                o += sprintf(o, "\\u%04x", c);
            i++;
        } else {
            memcpy(o, p + i, l);
            o += l;
            i += l;
        }
    }
    memcpy(o, "\"}\n", 3);
    o += 3;
    *out_len = (size_t)(o - b);
    return b;
}

/* ---- CPU readings ------------------------------------------------------- */

/* utime+stime (fields 14 and 15 of /proc/PID/stat), in clock ticks; -1 if
 * the process is gone. Fields are counted after the ")" closing comm. */
static long long proc_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    unsigned long long ut = 0, st = 0;
    /* After ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt(13) utime(14) stime(15). */
    if (sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* Sums over the daemon's threads of the first two fields of
 * /proc/PID/task/TID/schedstat: time spent on a CPU, and time spent
 * runnable but waiting for one (what other processes cost its latency),
 * in ns. Returns the first, stores the second in *WAIT. */
static uint64_t proc_task_ns(int pid, uint64_t *wait)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    uint64_t sum = 0;
    *wait = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p2[160];
        snprintf(p2, sizeof p2, "/proc/%d/task/%.32s/schedstat", pid, e->d_name);
        FILE *f = fopen(p2, "r");
        unsigned long long v = 0, w = 0;
        if (f) {
            if (fscanf(f, "%llu %llu", &v, &w) == 2) {
                sum += v;
                *wait += w;
            }
            fclose(f);
        }
    }
    closedir(d);
    return sum;
}

/* Busy time of the whole machine (all CPUs, all processes) from the "cpu"
 * line of /proc/stat: everything but idle and iowait, in clock ticks. */
static long long sys_busy_ticks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 5)
        return 0;
    return (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

static void snap(const opts *o, cpu_snap *s)
{
    struct timespec ts;
    s->t = now_ns();
    s->ticks = o->pid ? proc_ticks(o->pid) : -1;
    s->task_ns = o->pid ? proc_task_ns(o->pid, &s->wait_ns) : 0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    s->self_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    s->sys_busy = sys_busy_ticks();
}

/* ---- in-process baseline ------------------------------------------------ */

static int count_cb(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    ++*(int *)ctx;
    return 0;
}

/*
 * Scan the messages round-robin for about SECS seconds, one thread, and
 * return CPU ns per message (this thread's CPU time, not wall time: the
 * daemon's side is CPU time too, and time lost to other processes on a
 * shared machine is not counted in either): with RAW set, hs_scan of each of the rule set's
 * block-mode databases over the original text (a callback that only
 * counts; fd_bench's (a)); else fd_scan, the daemon's full path per check
 * (fd_bench's (b)).
 */
static double baseline_ns(fd_ruleset *rs, const bench_msgs *m, double secs, int raw)
{
    hs_scratch_t *hs = NULL;
    fd_scratch *fs = NULL;
    fd_result res;
    fd_result_init(&res);
    if (raw) {
        for (int b = 0; b < FD_BUF_MAX; b++)
            if (rs->db[b] && hs_alloc_scratch(rs->db[b], &hs) != HS_SUCCESS)
                return -1;
    } else if (fd_scratch_new(rs, &fs)) {
        return -1;
    }
    volatile int sink = 0;
    size_t n = 0, i = 0;
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    uint64_t t0 = now_ns(), t;
    do {
        for (int k = 0; k < 16; k++, n++, i = (i + 1) % m->n) {
            if (raw) {
                int cnt = 0;
                for (int b = 0; b < FD_BUF_MAX; b++)
                    if (rs->db[b])
                        hs_scan(rs->db[b], m->msg[i], (unsigned)m->len[i], 0, hs, count_cb, &cnt);
                sink += cnt;
            } else {
                fd_scan(rs, fs, m->msg[i], m->len[i], &res);
                sink += (int)res.decision;
            }
        }
        t = now_ns();
    } while ((double)(t - t0) < secs * 1e9);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    (void)sink;
    if (hs)
        hs_free_scratch(hs);
    if (fs)
        fd_scratch_free(fs);
    fd_result_free(&res);
    return ((double)(c1.tv_sec - c0.tv_sec) * 1e9 + (double)(c1.tv_nsec - c0.tv_nsec)) / (double)n;
}

/* ---- requests and responses --------------------------------------------- */

static void set_out_interest(run *r, conn *c, int want)
{
    if (c->dead || c->want_out == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
                             .data.u32 = (uint32_t)c->idx};
    epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

static void conn_fail(run *r, conn *c, const char *why)
{
    if (c->dead)
        return;
    if (!r->first_err[0])
        snprintf(r->first_err, sizeof r->first_err, "connection %d: %s", c->idx, why);
    c->dead = 1;
    r->conn_err++;
    epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

/* Write as much of C's output buffer as the socket takes; ask for EPOLLOUT
 * while some is left. */
static void flush(run *r, conn *c)
{
    while (!c->dead && c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w > 0) {
            c->out_off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            set_out_interest(r, c, 1);
            return;
        } else {
            conn_fail(r, c, w < 0 ? strerror(errno) : "write returned 0");
            return;
        }
    }
    c->out_off = c->out_len = 0;
    set_out_interest(r, c, 0);
}

/* Append the next request (the message after the last one sent on any
 * connection) to C's output buffer at time NOW; it becomes in flight. */
static void send_one(run *r, conn *c, uint64_t now)
{
    size_t m = r->seq++ % r->nbody;
    size_t need = r->body_len[m] + 160;
    if (c->out_len + need > c->out_cap) {
        if (c->out_off) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        if (c->out_len + need > c->out_cap) {
            c->out_cap = (c->out_len + need) * 2;
            c->out = realloc(c->out, c->out_cap);
            if (!c->out)
                die("realloc");
        }
    }
    uint64_t id = c->nreq++ * (uint64_t)r->o->conns + (uint64_t)c->idx;
    if (r->o->http) { /* the same JSON as the body of a keep-alive POST */
        char idj[32];
        int il = sprintf(idj, "{\"id\":%llu", (unsigned long long)id);
        c->out_len +=
            (size_t)sprintf(c->out + c->out_len,
                            "POST /v1/check HTTP/1.1\r\nHost: filterd\r\n"
                            "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                            (size_t)il + r->body_len[m], idj);
    } else {
        c->out_len += (size_t)sprintf(c->out + c->out_len, "{\"id\":%llu", (unsigned long long)id);
    }
    memcpy(c->out + c->out_len, r->body[m], r->body_len[m]);
    c->out_len += r->body_len[m];
    c->sent_at[c->sent & c->mask] = now;
    c->sent++;
}

/* Put a request time in C's ring (grows no further than its capacity:
 * beyond it, the schedule is dropped and counted as overflow). */
static int enqueue(run *r, conn *c, uint64_t t)
{
    if (c->tail - c->head > c->mask) {
        r->overflow++;
        return -1;
    }
    c->ts[c->tail++ & c->mask] = t;
    return 0;
}

/* Append V to the sample array *A (N used, CAP allocated). */
static void push(uint64_t **a, size_t *n, size_t *cap, uint64_t v)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1 << 16;
        *a = realloc(*a, *cap * sizeof **a);
        if (!*a)
            die("realloc");
    }
    (*a)[(*n)++] = v;
}

/* One latency sample: from the scheduled time and from the actual send.
 * The two arrays grow in lockstep: svc is pushed with lat's count and
 * capacity as they were before, so it reallocates exactly when lat did. */
static void record(run *r, uint64_t ns, uint64_t svc)
{
    size_t n = r->nlat, cap = r->lat_cap;
    push(&r->lat, &r->nlat, &r->lat_cap, ns);
    push(&r->svc, &n, &cap, svc);
}

/*
 * One response line of C, read at time NOW: match it to the oldest request
 * in flight (responses come in request order), check the echoed id, tally
 * the decision or the error, and record the latency when it counts (closed
 * loop: received in the window; open loop: scheduled in the window).
 */
static void on_response(run *r, conn *c, const char *line, size_t len, uint64_t now)
{
    if (c->head == c->sent) {
        r->bad_id++;
        return;
    }
    uint64_t sent_at = c->sent_at[c->head & c->mask];
    uint64_t t = c->ts[c->head++ & c->mask];
    uint64_t want = c->nresp++ * (uint64_t)r->o->conns + (uint64_t)c->idx;
    r->resp_total++;
    const char *p = line;
    unsigned long long id = 0;
    if (len > 6 && !memcmp(p, "{\"id\":", 6)) {
        char *end;
        id = strtoull(p + 6, &end, 10);
        p = end;
    } else {
        id = ~0ull;
    }
    if (id != want)
        r->bad_id++;
    int is_err = memmem(line, len, "\"error\":{", 9) != NULL;
    if (is_err) {
        r->err_resp++;
        if (!r->first_err[0])
            snprintf(r->first_err, sizeof r->first_err, "%.*s", (int)(len > 200 ? 200 : len), line);
    }
    int counts = r->o->rate > 0 ? (t >= r->t_warm && t < r->t_end) : r->in_window;
    if (!counts)
        return;
    if (r->in_window)
        r->resp_window++;
    record(r, now - t, now - sent_at);
    if (!is_err) {
        const char *d = memmem(p, len - (size_t)(p - line), "\"decision\":\"", 12);
        if (d) {
            char k = d[12];
            r->dec[k == 'a' ? 0 : k == 'f' ? 1 : 2]++;
        }
    }
}

/* Read what C's socket has, handle each complete line, keep the partial
 * rest. */
static void on_readable(run *r, conn *c)
{
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->in_len, READ_CHUNK - c->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            conn_fail(r, c, n < 0 ? strerror(errno) : "closed by the daemon");
            return;
        }
        uint64_t now = now_ns();
        c->in_len += (size_t)n;
        char *s = c->in, *e = c->in + c->in_len, *nl;
        while ((nl = memchr(s, '\n', (size_t)(e - s)))) {
            /* HTTP: a response's JSON body is one line of its own (filterd
             * ends bodies with '\n'); status and header lines end in '\r'
             * and are skipped (an error status has an error body). */
            if (!r->o->http || *s == '{')
                on_response(r, c, s, (size_t)(nl - s), now);
            s = nl + 1;
        }
        c->in_len = (size_t)(e - s);
        memmove(c->in, s, c->in_len);
        if (c->in_len == READ_CHUNK) {
            conn_fail(r, c, "response line longer than the read buffer");
            return;
        }
        if ((size_t)n < READ_CHUNK / 2)
            return; /* most likely drained: let epoll tell us */
    }
}

/* After C made progress: refill it (closed loop: back to --depth in
 * flight; open loop: the next scheduled request if none is in flight),
 * then write. */
static void refill(run *r, conn *c, uint64_t now)
{
    if (c->dead)
        return;
    if (r->o->rate > 0) {
        if (c->head == c->sent && c->sent < c->tail) {
            uint64_t sched = c->ts[c->sent & c->mask];
            if (now - sched > 1000000) /* > 1 ms behind schedule */
                r->late++;
            if (sched >= r->t_warm && sched < r->t_end)
                push(&r->lag, &r->nlag, &r->lag_cap, now - sched);
            send_one(r, c, now);
        }
    } else if (!r->ended) {
        while (c->tail - c->head < (uint64_t)r->o->depth) {
            enqueue(r, c, now);
            send_one(r, c, now);
        }
    }
    if (c->out_len > c->out_off)
        flush(r, c);
}

static int connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "fd_loadgen: socket path too long\n");
        exit(1);
    }
    strcpy(sa.sun_path, path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die(path);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile Q of the sorted samples, in µs. */
static double pct_us(const uint64_t *v, size_t n, double q)
{
    if (!n)
        return -1;
    size_t k = (size_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1000.0;
}

/* ---- the run ------------------------------------------------------------ */

/* Connect the --connections sockets and register them, with a timer for
 * the open loop's schedule, in a new epoll set. Returns the timerfd. */
static int open_conns(run *r)
{
    const opts *o = r->o;
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    if (r->ep < 0)
        die("epoll_create1");
    r->c = calloc((size_t)o->conns, sizeof *r->c);
    if (!r->c)
        die("calloc");
    /* Closed loop: room for --depth in flight; open loop: for a backlog of
     * scheduled requests if the daemon falls behind. */
    uint64_t ring = 1;
    while (ring < (o->rate > 0 ? 65536u : (uint64_t)o->depth))
        ring <<= 1;
    for (int i = 0; i < o->conns; i++) {
        conn *c = &r->c[i];
        c->idx = i;
        c->fd = connect_unix(o->socket);
        c->in = xmalloc(READ_CHUNK);
        c->ts = xmalloc(ring * sizeof *c->ts);
        c->sent_at = xmalloc(ring * sizeof *c->sent_at);
        c->mask = ring - 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &ev))
            die("epoll_ctl");
    }
    /* No timer slack, so open-loop sends leave on time as far as the
     * scheduler lets them. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (tfd < 0 || epoll_ctl(r->ep, EPOLL_CTL_ADD, tfd, &tev))
        die("timerfd");
    return tfd;
}

/*
 * The event loop: warm-up, the measured window (CPU readings S0 and S1 at
 * its edges), then the drain (answers still due, at most 5 s). Open loop:
 * at every wake-up, each request whose scheduled time has passed is handed
 * to its connection (sent at once if the connection is idle, else queued)
 * and the timer is armed for the next one. Closed loop: every connection
 * is refilled to --depth after each read. Returns the number of requests
 * never answered.
 */
static uint64_t event_loop(run *r, int tfd, cpu_snap *s0, cpu_snap *s1)
{
    const opts *o = r->o;
    uint64_t t0 = now_ns();
    r->t_warm = t0 + (uint64_t)(o->warmup * 1e9);
    r->t_end = r->t_warm + (uint64_t)(o->duration * 1e9);
    uint64_t drain_by = r->t_end + 5000000000ull;
    double interval = o->rate > 0 ? 1e9 / o->rate : 0;
    uint64_t next_k = 0;
    if (o->warmup <= 0) {
        snap(o, s0);
        r->in_window = 1;
    }
    if (o->rate <= 0)
        for (int i = 0; i < o->conns; i++)
            refill(r, &r->c[i], t0);

    struct epoll_event evs[64];
    for (;;) {
        uint64_t now = now_ns();
        if (!r->in_window && !r->ended && now >= r->t_warm) {
            snap(o, s0);
            r->in_window = 1;
        }
        if (!r->ended && now >= r->t_end) {
            snap(o, s1);
            r->in_window = 0;
            r->ended = 1;
        }
        if (o->rate > 0) {
            uint64_t sched = t0;
            while ((sched = t0 + (uint64_t)((double)next_k * interval)) <= now &&
                   sched < r->t_end) {
                conn *c = &r->c[next_k % (uint64_t)o->conns];
                if (!c->dead && enqueue(r, c, sched) == 0)
                    refill(r, c, now);
                next_k++;
            }
            if (sched < r->t_end) {
                struct itimerspec its = {
                    .it_value = {(time_t)(sched / 1000000000u), (long)(sched % 1000000000u)}};
                timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
            }
        }
        int busy = 0, alive = 0;
        for (int i = 0; i < o->conns; i++) {
            if (!r->c[i].dead) {
                alive++;
                busy += r->c[i].head != r->c[i].tail;
            }
        }
        if (r->ended && (!busy || now >= drain_by))
            break;
        if (!alive) {
            if (!r->ended)
                snap(o, s1);
            r->ended = 1;
            break;
        }
        /* Wake for the next window edge at the latest. */
        uint64_t edge = !r->in_window && !r->ended ? r->t_warm : !r->ended ? r->t_end : drain_by;
        int tmo = edge > now ? (int)((edge - now) / 1000000u) + 1 : 0;
        int n = epoll_wait(r->ep, evs, 64, tmo);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        now = now_ns();
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u32 == UINT32_MAX) {
                uint64_t x;
                if (read(tfd, &x, sizeof x) < 0 && errno != EAGAIN)
                    die("timerfd read");
                continue;
            }
            conn *c = &r->c[evs[k].data.u32];
            if (c->dead)
                continue;
            if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(r, c);
            if (evs[k].events & EPOLLOUT)
                flush(r, c);
            refill(r, c, now);
        }
    }
    uint64_t lost = 0;
    for (int i = 0; i < o->conns; i++)
        lost += r->c[i].tail - r->c[i].head;
    return lost;
}

/* ---- figures -------------------------------------------------------------- */

typedef struct figures {
    double win_s, cps, mean, p50, p99, p999, max;
    double svc50, svc99, svc999, lag50, lag99, lag999;
    uint64_t checks, errors, lost;
    double d_stat_s, d_task_s, d_stat_us, d_task_us, d_wait_us; /* daemon CPU */
    double self_s, self_us, busy_s, other_s, idle_est;
    double raw_ns, full_ns, text_bytes;
} figures;

/*
 * Turn the run's samples and the CPU readings at the window's edges into
 * figures: throughput, exact percentiles (sorting the samples), CPU per
 * check of the daemon and of ourselves, the machine's busy cores, and the
 * idle-machine estimate: all cores divided among the daemon's and our CPU
 * per check (closed loop only: at a fixed rate the throughput is the rate).
 */
static void compute(run *r, const cpu_snap *s0, const cpu_snap *s1, figures *f)
{
    const opts *o = r->o;
    f->win_s = (double)(s1->t - s0->t) / 1e9;
    if (r->nlat) {
        qsort(r->lat, r->nlat, sizeof *r->lat, cmp_u64);
        qsort(r->svc, r->nlat, sizeof *r->svc, cmp_u64);
    }
    if (r->nlag) /* none in closed loop (and the array is NULL) */
        qsort(r->lag, r->nlag, sizeof *r->lag, cmp_u64);
    f->p50 = pct_us(r->lat, r->nlat, 0.50);
    f->p99 = pct_us(r->lat, r->nlat, 0.99);
    f->p999 = pct_us(r->lat, r->nlat, 0.999);
    f->max = r->nlat ? (double)r->lat[r->nlat - 1] / 1000.0 : -1;
    f->svc50 = pct_us(r->svc, r->nlat, 0.50);
    f->svc99 = pct_us(r->svc, r->nlat, 0.99);
    f->svc999 = pct_us(r->svc, r->nlat, 0.999);
    f->lag50 = pct_us(r->lag, r->nlag, 0.50);
    f->lag99 = pct_us(r->lag, r->nlag, 0.99);
    f->lag999 = pct_us(r->lag, r->nlag, 0.999);
    double sum = 0;
    for (size_t i = 0; i < r->nlat; i++)
        sum += (double)r->lat[i];
    f->mean = r->nlat ? sum / (double)r->nlat / 1000.0 : -1;
    f->checks = o->rate > 0 ? r->nlat : r->resp_window;
    f->cps = (double)f->checks / f->win_s;
    f->errors = r->err_resp + r->bad_id + r->conn_err + r->overflow + f->lost;

    double tck = (double)sysconf(_SC_CLK_TCK), n = (double)f->checks;
    f->d_stat_s =
        o->pid && s0->ticks >= 0 && s1->ticks >= 0 ? (double)(s1->ticks - s0->ticks) / tck : -1;
    f->d_task_s = o->pid ? (double)(s1->task_ns - s0->task_ns) / 1e9 : -1;
    f->d_stat_us = f->d_stat_s >= 0 && n > 0 ? f->d_stat_s * 1e6 / n : -1;
    f->d_task_us = f->d_task_s >= 0 && n > 0 ? f->d_task_s * 1e6 / n : -1;
    f->d_wait_us = o->pid && n > 0 ? (double)(s1->wait_ns - s0->wait_ns) / 1e3 / n : -1;
    f->self_s = (double)(s1->self_ns - s0->self_ns) / 1e9;
    f->self_us = n > 0 ? f->self_s * 1e6 / n : -1;
    f->busy_s = (double)(s1->sys_busy - s0->sys_busy) / tck;
    f->other_s = f->busy_s - (f->d_task_s > 0 ? f->d_task_s : 0) - f->self_s;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    f->idle_est =
        f->d_task_us > 0 && o->rate <= 0 ? (double)ncpu * 1e6 / (f->d_task_us + f->self_us) : -1;
}

/* A ratio of daemon CPU per check (µs) over an in-process ns figure. */
static double ratio(double us, double ns)
{
    return us > 0 && ns > 0 ? us * 1000 / ns : -1;
}

static void print_header(void)
{
    printf("%-34s %6s %5s | %8s %8s | %7s %7s %7s %7s | %6s | %7s %6s %6s | %5s %5s %5s %5s\n",
           "run", "rate", "CxD", "checks/s", "idle-est", "p50 us", "p99 us", "p999 us", "p99 snd",
           "errors", "us/chk", "/raw", "/full", "dmn", "lgen", "other", "all");
}

/* One table row (columns: print_header). */
static void print_row(const opts *o, const figures *f)
{
    char rate_s[32] = "max", cd[32], est[32] = "-";
    if (o->rate > 0)
        snprintf(rate_s, sizeof rate_s, "%.0f", o->rate);
    snprintf(cd, sizeof cd, "%dx%d", o->conns, o->depth);
    if (f->idle_est > 0)
        snprintf(est, sizeof est, "%.0f", f->idle_est);
    printf("%-34s %6s %5s | %8.0f %8s | %7.0f %7.0f %7.0f %7.0f | %6llu | %7.2f %6.1f %6.2f | "
           "%5.2f %5.2f %5.2f %5.2f\n",
           o->label, rate_s, cd, f->cps, est, f->p50, f->p99, f->p999, f->svc99,
           (unsigned long long)f->errors, f->d_task_us, ratio(f->d_task_us, f->raw_ns),
           ratio(f->d_task_us, f->full_ns), f->d_task_s >= 0 ? f->d_task_s / f->win_s : -1,
           f->self_s / f->win_s, f->other_s / f->win_s, f->busy_s / f->win_s);
    fflush(stdout);
}

/* Everything as one JSON object (bench/run.sh collects them in e2e.json). */
static void write_json(const char *path, const opts *o, const run *r, const figures *f)
{
    FILE *j = fopen(path, "w");
    if (!j)
        die(path);
    fprintf(j,
            "{\"label\": \"%s\", \"mode\": \"%s\", \"rate\": %.0f, \"connections\": %d, "
            "\"depth\": %d, \"msg_bytes\": %.0f, \"window_s\": %.3f, \"checks\": %llu, "
            "\"checks_per_s\": %.0f, ",
            o->label, o->rate > 0 ? "open-loop" : "closed-loop", o->rate, o->conns, o->depth,
            f->text_bytes, f->win_s, (unsigned long long)f->checks, f->cps);
    fprintf(j,
            "\"latency_us\": {\"mean\": %.1f, \"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, "
            "\"max\": %.1f}, "
            "\"latency_from_send_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f}, "
            "\"send_lag_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f}, "
            "\"late_sends_over_1ms\": %llu, ",
            f->mean, f->p50, f->p99, f->p999, f->max, f->svc50, f->svc99, f->svc999, f->lag50,
            f->lag99, f->lag999, (unsigned long long)r->late);
    fprintf(j,
            "\"errors\": {\"total\": %llu, \"error_responses\": %llu, \"bad_id\": %llu, "
            "\"connection\": %llu, \"schedule_overflow\": %llu, \"unanswered\": %llu}, "
            "\"decisions\": {\"allow\": %llu, \"flag\": %llu, \"block\": %llu}, ",
            (unsigned long long)f->errors, (unsigned long long)r->err_resp,
            (unsigned long long)r->bad_id, (unsigned long long)r->conn_err,
            (unsigned long long)r->overflow, (unsigned long long)f->lost,
            (unsigned long long)r->dec[0], (unsigned long long)r->dec[1],
            (unsigned long long)r->dec[2]);
    fprintf(j,
            "\"daemon_cpu\": {\"stat_s\": %.3f, \"schedstat_s\": %.4f, "
            "\"us_per_check_stat\": %.3f, \"us_per_check\": %.3f, \"cores\": %.3f, "
            "\"runqueue_wait_us_per_check\": %.2f}, "
            "\"loadgen_cpu\": {\"s\": %.4f, \"us_per_check\": %.3f, \"cores\": %.3f}, "
            "\"machine\": {\"busy_cores\": %.3f, \"other_cores\": %.3f}, "
            "\"idle_machine_estimate_checks_per_s\": %.0f, ",
            f->d_stat_s, f->d_task_s, f->d_stat_us, f->d_task_us,
            f->d_task_s >= 0 ? f->d_task_s / f->win_s : -1, f->d_wait_us, f->self_s, f->self_us,
            f->self_s / f->win_s, f->busy_s / f->win_s, f->other_s / f->win_s, f->idle_est);
    fprintf(j,
            "\"in_process\": {\"raw_hs_scan_ns\": %.0f, \"fd_scan_ns\": %.0f, "
            "\"daemon_cpu_over_raw\": %.2f, \"daemon_cpu_over_fd_scan\": %.3f}}\n",
            f->raw_ns, f->full_ns, ratio(f->d_task_us, f->raw_ns), ratio(f->d_task_us, f->full_ns));
    if (fclose(j) != 0)
        die(path);
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: fd_loadgen --socket PATH [--connections N] [--depth D] [--duration S]\n"
            "                  [--warmup S] [--size BYTES] [--rate CHECKS_PER_S (0 = max)]\n"
            "                  [--pid DAEMON_PID] [--rules DIR [--cache-dir DIR] [--baseline S]]\n"
            "                  [--label TEXT] [--json FILE] [--http]\n"
            "       fd_loadgen --table-header\n"
            "       fd_loadgen --make-ruledir NKEYWORDS\n");
    exit(64);
}

/* Write a synthetic rule directory of N keywords (+200 regexes) with the
 * seeds fd_bench uses for its sets of that size, and print its path. */
static int make_ruledir(size_t n)
{
    bench_keywords kw;
    bench_keywords_make(n, n == 1000 ? 42 : n == 10000 ? 43 : 44, &kw);
    char *dir = bench_ruledir_make(&kw, 200, 99);
    bench_keywords_free(&kw);
    if (!dir)
        die("mkdtemp");
    printf("%s\n", dir);
    free(dir);
    return 0;
}

/* Parse the command line into *O; handles --table-header and
 * --make-ruledir itself (and exits). */
static void parse_args(int argc, char **argv, opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--table-header")) {
            print_header();
            exit(0);
        }
        if (!strcmp(a, "--http")) { /* POST /v1/check over HTTP/1.1 (keep-alive) */
            o->http = 1;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--make-ruledir"))
            exit(make_ruledir(strtoul(v, NULL, 10)));
        else if (!strcmp(a, "--socket"))
            o->socket = v;
        else if (!strcmp(a, "--connections"))
            o->conns = atoi(v);
        else if (!strcmp(a, "--depth"))
            o->depth = atoi(v);
        else if (!strcmp(a, "--duration"))
            o->duration = atof(v);
        else if (!strcmp(a, "--warmup"))
            o->warmup = atof(v);
        else if (!strcmp(a, "--size"))
            o->size = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--rate"))
            o->rate = atof(v);
        else if (!strcmp(a, "--pid"))
            o->pid = atoi(v);
        else if (!strcmp(a, "--rules"))
            o->rules = v;
        else if (!strcmp(a, "--cache-dir"))
            o->cache_dir = v;
        else if (!strcmp(a, "--baseline"))
            o->baseline = atof(v);
        else if (!strcmp(a, "--label"))
            o->label = v;
        else if (!strcmp(a, "--json"))
            o->json = v;
        else
            usage();
    }
    if (!o->socket || o->conns < 1 || o->depth < 1 || o->duration <= 0 || o->warmup < 0 ||
        o->size < 1 || o->rate < 0)
        usage();
    if (o->rate > 0)
        o->depth = 1; /* open loop: one outstanding request per connection */
}

/* The in-process baseline of --rules on MSGS (loaded through --cache-dir
 * when given): raw hs_scan and fd_scan CPU ns per message. */
static void in_process(const opts *o, const bench_msgs *msgs, double *raw_ns, double *full_ns)
{
    *raw_ns = *full_ns = -1;
    if (!o->rules)
        return;
    fd_ruleset *rs = NULL;
    fd_diag diag = FD_DIAG_INIT;
    fd_ruleset_opts ro = {.cache_dir = o->cache_dir};
    if (o->cache_dir && mkdir(o->cache_dir, 0700) != 0 && errno != EEXIST)
        die(o->cache_dir); /* the cache only writes into an existing directory */
    if (fd_ruleset_load_opts(o->rules, &ro, &rs, &diag)) {
        char *e = fd_diag_join(&diag);
        fprintf(stderr, "fd_loadgen: %s: %s\n", o->rules, e ? e : "cannot load");
        exit(1);
    }
    fd_diag_free(&diag);
    *raw_ns = baseline_ns(rs, msgs, o->baseline, 1);
    *full_ns = baseline_ns(rs, msgs, o->baseline, 0);
    fd_ruleset_unref(rs);
}

int main(int argc, char **argv)
{
    opts o = {.conns = 4,
              .depth = 1,
              .duration = 5,
              .warmup = 0.5,
              .size = 1024,
              .baseline = 0.3,
              .label = "run"};
    parse_args(argc, argv, &o);

    bench_msgs msgs;
    if (bench_msgs_load(o.size, NMSGS, &msgs)) {
        fprintf(stderr, "fd_loadgen: no fortunes corpus (install fortunes, fortunes-zh)\n");
        return 1;
    }
    figures f = {0};
    f.text_bytes = (double)msgs.total / (double)msgs.n;
    in_process(&o, &msgs, &f.raw_ns, &f.full_ns); /* before the load, daemon idle */

    run r = {.o = &o};
    r.nbody = msgs.n;
    r.body = xmalloc(msgs.n * sizeof *r.body);
    r.body_len = xmalloc(msgs.n * sizeof *r.body_len);
    for (size_t i = 0; i < msgs.n; i++)
        r.body[i] = make_body(msgs.msg[i], msgs.len[i], &r.body_len[i]);

    int tfd = open_conns(&r);
    cpu_snap s0 = {0}, s1 = {0};
    f.lost = event_loop(&r, tfd, &s0, &s1);
    compute(&r, &s0, &s1, &f);
    print_row(&o, &f);
    if (r.first_err[0])
        fprintf(stderr, "fd_loadgen: %s: first error: %s\n", o.label, r.first_err);
    if (o.json)
        write_json(o.json, &o, &r, &f);

    for (int i = 0; i < o.conns; i++) {
        if (!r.c[i].dead)
            close(r.c[i].fd);
        free(r.c[i].out);
        free(r.c[i].in);
        free(r.c[i].ts);
        free(r.c[i].sent_at);
    }
    for (size_t i = 0; i < r.nbody; i++)
        free(r.body[i]);
    free(r.body);
    free(r.body_len);
    free(r.c);
    free(r.lat);
    free(r.svc);
    free(r.lag);
    close(tfd);
    close(r.ep);
    bench_msgs_free(&msgs);
    return f.errors ? 2 : 0;
}
