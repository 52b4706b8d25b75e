/*
 * test_hostile.c — hostile and broken clients against the real daemon.
 *
 * Each test runs one kind of abuse in a thread while a healthy client keeps
 * sending checks on its own connection. Throughout, the healthy client must
 * get correct answers, none of them stalled for FD_STALL_MS or more, and the
 * daemon's resident memory must stay within FD_RSS_BOUND_KIB of what it was
 * before the abuse started.
 *
 * Why a stall bound and not a latency percentile: on a loaded machine (two
 * cores shared with builds and other tests, sanitizers) scheduling alone
 * delays single checks by tens of milliseconds, so "nine in ten within
 * 10 ms" failed without anything being wrong. What the abuse must not do
 * is hold a worker: a loop it blocks stalls the healthy client for as long
 * as the abuse lasts (the slow drip runs longer than the bound), while
 * scheduling hiccups stay below it (the worst seen: about 1.5 s with a load
 * average of 12 on two cores). The share within 10 ms and the
 * worst latency are still reported (stderr) for whoever looks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Growth of the daemon's RSS that any abuse below may cause, at most.
 * Under AddressSanitizer freed memory sits in a quarantine (256 MiB by
 * default) instead of being reused, so RSS there says little: the bound
 * then only catches runaway growth. */
#ifdef __SANITIZE_ADDRESS__
#define FD_RSS_BOUND_KIB (256 * 1024)
#else
#define FD_RSS_BOUND_KIB (16 * 1024)
#endif

/* No check of the healthy client may take this long (see the top). */
#define FD_STALL_MS 4000.0

TestSuite(hostile, .init = fdt_setup, .fini = fdt_teardown, .timeout = 120);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The abuse, run in a thread until it returns. */
typedef struct abuse {
    void (*fn)(struct abuse *);
    atomic_int done;
    long peak_rss;
    int param;
} abuse;

static void *abuse_thread(void *p)
{
    abuse *a = p;
    a->fn(a);
    atomic_store(&a->done, 1);
    return NULL;
}

/* Send checks on a fresh connection while the abuse runs (and at least
 * MIN_CHECKS of them); assert every answer and the latency, and the RSS. */
static void healthy_client_during(abuse *a, int min_checks)
{
    long rss0 = fdt_rss_kib(fdt_d.pid);
    cr_assert_gt(rss0, 0);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    /* Accepted and served before the abuse begins (a flood of connections
     * must not find it still in the listen queue). */
    char *hello = fdt_roundtrip(c, "{\"op\":\"ping\"}");
    cr_assert(hello && strstr(hello, "\"ok\":true"), "%s", hello ? hello : "(none)");
    free(hello);
    pthread_t t;
    pthread_create(&t, NULL, abuse_thread, a);
    int n = 0, fast = 0;
    double worst = 0;
    long peak = rss0;
    while (!atomic_load(&a->done) || n < min_checks) {
        const char *req = n % 2 ? "{\"id\":1,\"text\":\"how to make a bomb\"}"
                                : "{\"id\":2,\"text\":\"the weather is fine\"}";
        double t0 = now_ms();
        char *line = fdt_roundtrip(c, req);
        double dt = now_ms() - t0;
        cr_assert(line, "healthy client got no answer after %d checks", n);
        cr_assert(strstr(line, n % 2 ? "\"decision\":\"block\"" : "\"decision\":\"allow\""),
                  "wrong answer: %s", line);
        free(line);
        fast += dt <= 10.0;
        if (dt > worst)
            worst = dt;
        n++;
        if (n % 16 == 0) {
            long r = fdt_rss_kib(fdt_d.pid);
            if (r > peak)
                peak = r;
        }
        if (n % 64 == 0) {
            struct timespec ts = {0, 2 * 1000 * 1000}; /* pace: a gateway, not a flood */
            nanosleep(&ts, NULL);
        }
    }
    pthread_join(t, NULL);
    long r = fdt_rss_kib(fdt_d.pid);
    if (r > peak)
        peak = r;
    if (a->peak_rss > peak)
        peak = a->peak_rss;
    fdt_close(c);
    fprintf(stderr, "hostile: %d checks, %d within 10 ms, worst %.1f ms; RSS %ld -> peak %ld KiB\n",
            n, fast, worst, rss0, peak);
    cr_assert_lt(worst, FD_STALL_MS, "a check stalled for %.1f ms (%d of %d within 10 ms)", worst,
                 fast, n);
    cr_assert_leq(peak - rss0, FD_RSS_BOUND_KIB, "RSS grew from %ld to %ld KiB", rss0, peak);
    cr_assert_eq(kill(fdt_d.pid, 0), 0, "daemon died");
}

/* One byte every 10 ms for 5 s (longer than FD_STALL_MS: a worker that
 * waited for the line would be caught): a request that never completes. */
static void slow_drip(abuse *a)
{
    (void)a;
    fdt_conn *c = fdt_connect(fdt_d.sock);
    const char *req = "{\"id\":\"drip\",\"text\":\"one byte at a time, for a long while....\"}";
    for (int i = 0; i < 500; i++) {
        if (fdt_send(c, req + i % strlen(req), 1) != 0)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fdt_close(c);
}

Test(hostile, one_byte_at_a_time)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    abuse a = {.fn = slow_drip};
    healthy_client_during(&a, 50);
}

/* A 100 MB line, then a valid request on the same connection. */
static void huge_line(abuse *a)
{
    fdt_conn *c = fdt_connect(fdt_d.sock);
    size_t chunk = 1 << 20;
    char *buf = malloc(chunk);
    memset(buf, 'x', chunk);
    memcpy(buf, "{\"text\":\"", 9);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(fdt_send(c, buf, chunk), 0, "daemon stopped reading the huge line");
        if (i % 10 == 0) {
            long r = fdt_rss_kib(fdt_d.pid);
            if (r > a->peak_rss)
                a->peak_rss = r;
        }
    }
    free(buf);
    cr_assert_eq(fdt_sends(c, "\"}\n{\"id\":7,\"op\":\"ping\"}\n"), 0);
    char *l1 = fdt_readline(c, FDT_TIMEOUT_MS);
    char *l2 = fdt_readline(c, FDT_TIMEOUT_MS);
    cr_assert(l1 && strstr(l1, "\"too_large\""), "%s", l1 ? l1 : "(none)");
    cr_assert(l2 && strstr(l2, "\"id\":7") && strstr(l2, "\"ok\":true"), "%s", l2 ? l2 : "(none)");
    free(l1);
    free(l2);
    fdt_close(c);
}

Test(hostile, hundred_megabyte_line)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    abuse a = {.fn = huge_line};
    healthy_client_during(&a, 50);
}

/* Random bytes, NULs and newlines included; every line gets an error. */
static void garbage(abuse *a)
{
    (void)a;
    uint64_t x = 0x243F6A8885A308D3ull;
    for (int round = 0; round < 50; round++) {
        fdt_conn *c = fdt_connect(fdt_d.sock);
        char buf[4096];
        for (size_t i = 0; i < sizeof buf; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (char)x;
        }
        buf[sizeof buf - 1] = '\n';
        fdt_send(c, buf, sizeof buf);
        char *line = fdt_readline(c, FDT_TIMEOUT_MS);
        cr_assert(line, "no answer to garbage");
        /* A first byte that is an ASCII letter makes it HTTP (SPEC §1):
         * then the error is a 4xx status line. */
        cr_assert(strstr(line, "\"error\"") || strncmp(line, "HTTP/1.1 4", 10) == 0,
                  "garbage was not an error: %.200s", line);
        free(line);
        fdt_close(c);
    }
}

Test(hostile, binary_garbage)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    abuse a = {.fn = garbage};
    healthy_client_during(&a, 50);
}

/* JSON nested a hundred thousand levels deep. */
static void nested(abuse *a)
{
    (void)a;
    fdt_conn *c = fdt_connect(fdt_d.sock);
    size_t depth = 100000;
    char *buf = malloc(2 * depth + 64);
    size_t n = (size_t)sprintf(buf, "{\"text\":\"x\",\"meta\":");
    for (size_t i = 0; i < depth; i++)
        buf[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        buf[n++] = ']';
    buf[n++] = '}';
    buf[n++] = '\n';
    cr_assert_eq(fdt_send(c, buf, n), 0);
    free(buf);
    char *line = fdt_readline(c, FDT_TIMEOUT_MS);
    cr_assert(line && (strstr(line, "\"bad_json\"") || strstr(line, "\"bad_request\"")), "%s",
              line ? line : "(none)");
    free(line);
    char *ok = fdt_roundtrip(c, "{\"op\":\"ping\"}");
    cr_assert_str_eq(ok, "{\"ok\":true}");
    free(ok);
    fdt_close(c);
}

Test(hostile, deeply_nested_json)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    abuse a = {.fn = nested};
    healthy_client_during(&a, 50);
}

/* Thousands of connections beyond --max-connections. */
static void too_many(abuse *a)
{
    enum { N = 2000 };
    fdt_conn **cs = calloc(N, sizeof *cs);
    int opened = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        cs[i] = fdt_try_connect(fdt_d.sock);
        if (cs[i])
            opened++;
    }
    /* The refusals arrive while we look: scan until some came (bounded). */
    double deadline = now_ms() + FDT_TIMEOUT_MS;
    while (!busy && now_ms() < deadline) {
        for (int i = 0; i < N; i++) {
            if (!cs[i])
                continue;
            struct pollfd p = {cs[i]->fd, POLLIN, 0};
            if (poll(&p, 1, 0) > 0) {
                char *line = fdt_readline(cs[i], 100);
                if (line && strstr(line, "\"busy\""))
                    busy++;
                free(line);
                fdt_close(cs[i]);
                cs[i] = NULL;
            }
        }
    }
    long r = fdt_rss_kib(fdt_d.pid);
    if (r > a->peak_rss)
        a->peak_rss = r;
    for (int i = 0; i < N; i++)
        if (cs[i])
            fdt_close(cs[i]);
    free(cs);
    cr_assert_gt(opened, 0);
    cr_assert_gt(busy, 0, "no connection was refused with busy (%d opened)", opened);
}

Test(hostile, beyond_max_connections)
{
    const char *extra[] = {"--max-connections", "64", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    abuse a = {.fn = too_many};
    healthy_client_during(&a, 50);
    /* Once they are gone, new connections are served again. The daemon
     * learns of the closes asynchronously: retry (bounded) while busy. */
    double deadline = now_ms() + FDT_TIMEOUT_MS;
    char *line = NULL;
    do {
        free(line);
        fdt_conn *c = fdt_connect(fdt_d.sock);
        line = fdt_roundtrip(c, "{\"op\":\"ping\"}");
        fdt_close(c);
        if (line && strstr(line, "\"busy\""))
            poll(NULL, 0, 10);
    } while (line && strstr(line, "\"busy\"") && now_ms() < deadline);
    cr_assert(line, "no answer after the flood");
    cr_assert_str_eq(line, "{\"ok\":true}");
    free(line);
}

/* Requests followed by shutdown(SHUT_WR): answered, then closed. */
static void half_closed(abuse *a)
{
    (void)a;
    for (int i = 0; i < 100; i++) {
        fdt_conn *c = fdt_connect(fdt_d.sock);
        fdt_sends(c, "{\"id\":1,\"op\":\"ping\"}\n{\"id\":2,\"text\":\"bomb\"}\n");
        shutdown(c->fd, SHUT_WR);
        char *l1 = fdt_readline(c, FDT_TIMEOUT_MS);
        char *l2 = fdt_readline(c, FDT_TIMEOUT_MS);
        cr_assert(l1 && strstr(l1, "\"ok\":true"), "%s", l1 ? l1 : "(none)");
        cr_assert(l2 && strstr(l2, "\"block\""), "%s", l2 ? l2 : "(none)");
        cr_assert(fdt_wait_eof(c, FDT_TIMEOUT_MS), "half-closed connection left open");
        free(l1);
        free(l2);
        fdt_close(c);
    }
}

Test(hostile, half_closed_sockets)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    abuse a = {.fn = half_closed};
    healthy_client_during(&a, 50);
}

/* Connect and disconnect as fast as possible, sometimes mid-request. */
static void churn(abuse *a)
{
    (void)a;
    for (int i = 0; i < 3000; i++) {
        fdt_conn *c = fdt_try_connect(fdt_d.sock);
        if (!c)
            continue;
        if (i % 3 == 0)
            fdt_sends(c, "{\"text\":\"half a requ");
        else if (i % 3 == 1)
            fdt_sends(c, "{\"text\":\"a whole request\"}\n");
        fdt_close(c);
    }
}

Test(hostile, rapid_connect_disconnect)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    abuse a = {.fn = churn};
    healthy_client_during(&a, 50);
}

/* Many pipelined requests on a socket that is never read. */
static void never_reads(abuse *a)
{
    fdt_conn *c = fdt_connect(fdt_d.sock);
    const char *req = "{\"id\":123456789,\"text\":\"a request whose answer nobody reads\"}\n";
    size_t l = strlen(req);
    for (int i = 0; i < 200000; i++) {
        struct pollfd p = {c->fd, POLLOUT, 0};
        if (poll(&p, 1, 50) <= 0)
            break; /* the daemon stopped reading: back-pressure works */
        if (send(c->fd, req, l, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
            break;
        if (i % 5000 == 0) {
            long r = fdt_rss_kib(fdt_d.pid);
            if (r > a->peak_rss)
                a->peak_rss = r;
        }
    }
    fdt_close(c);
}

Test(hostile, client_that_never_reads)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    abuse a = {.fn = never_reads};
    healthy_client_during(&a, 50);
}

/* Connections that open streams, feed them, and vanish. */
static void drop_streams(abuse *a)
{
    for (int i = 0; i < 300; i++) {
        fdt_conn *c = fdt_connect(fdt_d.sock);
        char buf[256];
        for (int s = 0; s < 8; s++) {
            snprintf(
                buf, sizeof buf,
                "{\"op\":\"open\",\"stream\":\"s%d\"}\n"
                "{\"op\":\"chunk\",\"stream\":\"s%d\",\"text\":\"partial text of stream %d\"}\n",
                s, s, s);
            fdt_sends(c, buf);
        }
        if (i % 50 == 0) {
            long r = fdt_rss_kib(fdt_d.pid);
            if (r > a->peak_rss)
                a->peak_rss = r;
        }
        fdt_close(c);
    }
}

Test(hostile, connections_dropped_with_streams_open)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    abuse a = {.fn = drop_streams};
    healthy_client_during(&a, 50);
    /* every dropped stream was ended: none left open */
    fdt_conn *c = fdt_connect(fdt_d.sock);
    double deadline = now_ms() + FDT_TIMEOUT_MS;
    char *line = NULL;
    for (;;) {
        free(line);
        line = fdt_roundtrip(c, "{\"op\":\"stats\"}");
        cr_assert(line);
        if (strstr(line, "\"current\":0") || now_ms() > deadline)
            break;
        poll(NULL, 0, 10);
    }
    cr_assert(strstr(line, "\"streams\":{\"current\":0"), "streams left open: %s", line);
    free(line);
    fdt_close(c);
}
