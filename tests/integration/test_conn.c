/*
 * test_conn.c — connection handling: vanishing clients, many connections,
 * back-pressure against a client that never reads, idle timeout,
 * --max-connections, and who may use control ops.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

TestSuite(conn, .init = fdt_setup, .fini = fdt_teardown, .timeout = 60);

static void expect_ping(fdt_conn *c)
{
    char *line = fdt_roundtrip(c, "{\"op\":\"ping\"}");
    cr_assert_str_eq(line, "{\"ok\":true}");
    free(line);
}

Test(conn, client_vanishes_mid_line)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    for (int i = 0; i < 20; i++) {
        fdt_conn *a = fdt_connect(fdt_d.sock);
        /* a complete request, then half of the next one, then gone */
        cr_assert(fdt_sends(a, "{\"id\":1,\"text\":\"bomb\"}\n{\"id\":2,\"text\":\"bo") == 0);
        fdt_close(a);
    }
    fdt_conn *b = fdt_connect(fdt_d.sock);
    expect_ping(b);
    char *line = fdt_roundtrip(b, "{\"text\":\"bomb\"}");
    cr_assert(strstr(line, "\"decision\":\"block\""), "%s", line);
    free(line);
    fdt_close(b);
    cr_assert_eq(kill(fdt_d.pid, 0), 0, "daemon died");
}

Test(conn, concurrent_500)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    enum { N = 500 };
    fdt_conn **cs = calloc(N, sizeof(*cs));
    for (int i = 0; i < N; i++)
        cs[i] = fdt_connect(fdt_d.sock);
    for (int i = 0; i < N; i++) {
        char req[96];
        snprintf(req, sizeof(req), "{\"id\":%d,\"text\":\"%s\"}\n", i, i % 2 ? "bomb" : "fine");
        cr_assert(fdt_sends(cs[i], req) == 0);
    }
    for (int i = 0; i < N; i++) {
        char *line = fdt_readline(cs[i], FDT_TIMEOUT_MS);
        cr_assert(line, "connection %d got no answer", i);
        char want[64];
        snprintf(want, sizeof(want), "{\"id\":%d,\"decision\":\"%s\"", i,
                 i % 2 ? "block" : "allow");
        cr_assert(strncmp(line, want, strlen(want)) == 0, "%d: %s", i, line);
        free(line);
    }
    char *line = fdt_roundtrip(cs[0], "{\"op\":\"stats\"}");
    cJSON *s = fdt_json(line);
    cJSON *conns = cJSON_GetObjectItem(s, "connections");
    cr_assert_eq(cJSON_GetObjectItem(conns, "current")->valueint, N, "%s", line);
    /* both worker threads got their share */
    cJSON *per = cJSON_GetObjectItem(conns, "per_thread"), *t;
    cr_assert_eq(cJSON_GetArraySize(per), 2, "%s", line);
    cJSON_ArrayForEach(t, per) cr_assert(t->valueint >= N / 4, "unbalanced: %s", line);
    cJSON_Delete(s);
    free(line);
    for (int i = 0; i < N; i++)
        fdt_close(cs[i]);
    free(cs);
}

/*
 * A client that writes requests with large responses and never reads:
 * the daemon must stop reading from it once its unsent responses pass the
 * bound, stay small, and keep serving everyone else.
 */
Test(conn, slow_reader_backpressure)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *probe = fdt_connect(fdt_d.sock);
    expect_ping(probe);
    long rss0 = fdt_rss_kib(fdt_d.pid);
    cr_assert(rss0 > 0);

    /* ~1 KiB request -> ~16 KiB response (explain lists 200 matches) */
    char req[2048];
    int n = snprintf(req, sizeof(req), "{\"text\":\"");
    for (int i = 0; i < 200; i++)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "bomb ");
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\",\"explain\":true}\n");

    fdt_conn *hog = fdt_connect(fdt_d.sock);
    size_t sent = 0, limit = (size_t)256 << 20; /* give up after 256 MiB */
    for (;;) {
        ssize_t w = send(hog->fd, req, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
            if ((size_t)w < (size_t)n) /* finish the line when there is room */
                cr_assert(fdt_send(hog, req + w, (size_t)n - (size_t)w) == 0);
            cr_assert(sent < limit, "the daemon never stopped reading");
            continue;
        }
        cr_assert(errno == EAGAIN, "send: %s", strerror(errno));
        /* Socket full. The daemon stopped reading if it stays full. */
        struct pollfd pf = {.fd = hog->fd, .events = POLLOUT};
        if (poll(&pf, 1, 1000) == 0)
            break;
    }
    /* others are still served, promptly */
    for (int i = 0; i < 10; i++)
        expect_ping(probe);
    fdt_conn *other = fdt_connect(fdt_d.sock);
    char *line = fdt_roundtrip(other, "{\"text\":\"bomb\"}");
    cr_assert(strstr(line, "block"), "%s", line);
    free(line);

    long rss1 = fdt_rss_kib(fdt_d.pid);
    cr_log_info("sent %zu KiB without reading; daemon RSS %ld -> %ld KiB", sent >> 10, rss0, rss1);
    cr_assert(rss1 - rss0 < 32 * 1024, "daemon RSS grew from %ld to %ld KiB", rss0, rss1);

    fdt_close(hog);
    expect_ping(other);
    fdt_close(other);
    fdt_close(probe);
}

Test(conn, idle_timeout)
{
    const char *extra[] = {"--idle-timeout", "1", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    expect_ping(c);
    /* closed after about a second of silence (bounded wait of 5 s) */
    cr_assert(fdt_wait_eof(c, 5000), "idle connection was not closed");
    fdt_close(c);
    /* new connections still work */
    c = fdt_connect(fdt_d.sock);
    expect_ping(c);
    fdt_close(c);
}

Test(conn, max_connections_busy)
{
    const char *extra[] = {"--max-connections", "2", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *a = fdt_connect(fdt_d.sock), *b = fdt_connect(fdt_d.sock);
    expect_ping(a);
    expect_ping(b);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    char *line = fdt_readline(c, FDT_TIMEOUT_MS);
    cJSON *r = fdt_json(line);
    cr_assert_str_eq(fdt_errcode(r), "busy", "%s", line);
    cJSON_Delete(r);
    free(line);
    cr_assert(fdt_wait_eof(c, FDT_TIMEOUT_MS));
    fdt_close(c);

    /* once a slot is free, a new connection is served; the daemon frees the
     * slot when it has seen the close, so retry (bounded) until then */
    fdt_close(a);
    int served = 0;
    for (int i = 0; i < 200 && !served; i++) {
        fdt_conn *d = fdt_connect(fdt_d.sock);
        /* a "busy" connection may be closed before we even send */
        line = fdt_sends(d, "{\"op\":\"ping\"}\n") == 0 ? fdt_readline(d, FDT_TIMEOUT_MS) : NULL;
        served = line && strcmp(line, "{\"ok\":true}") == 0;
        free(line);
        fdt_close(d);
    }
    cr_assert(served, "no slot became free");
    fdt_close(b);
}

/* Run FN as uid/gid 65534 (nobody) in a child; returns its exit status. */
static int as_nobody(void (*fn)(void))
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(99);
        fn();
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int roundtrip_contains(const char *req, const char *needle)
{
    fdt_conn *c = fdt_try_connect(fdt_d.sock);
    if (!c)
        return 0;
    int ok = 0;
    if (fdt_sends(c, req) == 0 && fdt_sends(c, "\n") == 0) {
        char *line = fdt_readline(c, FDT_TIMEOUT_MS);
        ok = line && strstr(line, needle) != NULL;
        free(line);
    }
    fdt_close(c);
    return ok;
}

static void nobody_is_forbidden(void)
{
    if (!roundtrip_contains("{\"op\":\"ping\"}", "\"ok\":true"))
        _exit(1);
    if (!roundtrip_contains("{\"op\":\"stats\"}", "\"requests\""))
        _exit(2);
    if (!roundtrip_contains("{\"text\":\"bomb\"}", "block"))
        _exit(3);
    if (!roundtrip_contains("{\"id\":1,\"op\":\"reload\"}", "\"code\":\"forbidden\""))
        _exit(4);
}

static void nobody_may_reload(void)
{
    if (!roundtrip_contains("{\"id\":1,\"op\":\"reload\"}", "\"ok\":true"))
        _exit(5);
}

Test(conn, forbidden_control_op)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to run a client as another uid");
    const char *extra[] = {"--socket-mode", "0666", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    cr_assert_eq(as_nobody(nobody_is_forbidden), 0);
    /* root may */
    cr_assert(roundtrip_contains("{\"op\":\"reload\"}", "\"ok\":true"));
    fdt_stop(&fdt_d, SIGTERM);

    /* --admin-uid lets nobody reload */
    const char *extra2[] = {"--socket-mode", "0666", "--admin-uid", "65534", NULL};
    cr_assert(fdt_start(extra2) == 0, "%s", fdt_d.log);
    cr_assert_eq(as_nobody(nobody_may_reload), 0);
}

Test(conn, reload_op_and_sighup)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    char *line = fdt_roundtrip(c, "{\"text\":\"dynamite\"}");
    cr_assert(strstr(line, "allow"), "%s", line);
    free(line);

    /* a new rule file, then the reload op */
    fdt_write_file(fdt_d.rules, "more.rules", "@category A1.4\n@id dynamite\ndynamite\n");
    line = fdt_roundtrip(c, "{\"id\":\"r\",\"op\":\"reload\"}");
    cJSON *r = fdt_json(line);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")), "%s", line);
    char version[80];
    snprintf(version, sizeof(version), "%s", fdt_str(r, "rules"));
    cJSON_Delete(r);
    free(line);
    line = fdt_roundtrip(c, "{\"text\":\"dynamite\"}");
    cr_assert(strstr(line, "block") && strstr(line, version), "%s", line);
    free(line);

    /* broken rules: bad_rules with FILE:LINE, the old rules stay */
    fdt_write_file(fdt_d.rules, "broken.rules", "@category A1.4\n@action explode\nx\n");
    line = fdt_roundtrip(c, "{\"op\":\"reload\"}");
    r = fdt_json(line);
    cr_assert_str_eq(fdt_errcode(r), "bad_rules", "%s", line);
    cr_assert(strstr(fdt_str(cJSON_GetObjectItem(r, "error"), "message"), "broken.rules:2:"), "%s",
              line);
    cJSON_Delete(r);
    free(line);
    line = fdt_roundtrip(c, "{\"text\":\"dynamite\"}");
    cr_assert(strstr(line, "block") && strstr(line, version), "%s", line);
    free(line);

    /* SIGHUP: fixed rules are picked up */
    char path[4200];
    snprintf(path, sizeof(path), "%s/broken.rules", fdt_d.rules);
    unlink(path);
    fdt_write_file(fdt_d.rules, "more.rules", "@category A1.4\n@id tnt\ntnt\n");
    kill(fdt_d.pid, SIGHUP);
    cr_assert(fdt_wait_log(&fdt_d, "info: rules reloaded", FDT_TIMEOUT_MS), "%s", fdt_d.log);
    /* The workers switch right after the log line: a reload op orders us
     * after it (it answers only once a reload started after it is done). */
    line = fdt_roundtrip(c, "{\"op\":\"reload\"}");
    free(line);
    line = fdt_roundtrip(c, "{\"text\":\"tnt and dynamite\"}");
    cr_assert(strstr(line, "\"rule\":\"tnt\"") && !strstr(line, "\"rule\":\"dynamite\""), "%s",
              line);
    free(line);
    fdt_close(c);
}

/*
 * Reloads (op and SIGHUP) while other connections keep checking: every
 * check is answered, with one of the two rule-set versions, and the
 * decisions stay right (the sanitizer build checks the rule-set handover).
 */
Test(conn, reload_under_load)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    enum { CONNS = 4, N = 3000, RELOADS = 20 };
    fdt_conn *cs[CONNS];
    size_t cap = (size_t)N * 48;
    char *all = malloc(cap);
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(all + len, cap - len, "{\"id\":%d,\"text\":\"%s\"}\n", i,
                                i % 2 ? "a bomb" : "fine");
    for (int k = 0; k < CONNS; k++)
        cs[k] = fdt_connect(fdt_d.sock);
    fdt_conn *admin = fdt_connect(fdt_d.sock);

    /* Alternate rule files so that consecutive reloads change the version. */
    for (int k = 0; k < CONNS; k++)
        cr_assert(fdt_send(cs[k], all, len / 2) == 0);
    for (int r = 0; r < RELOADS; r++) {
        fdt_write_file(fdt_d.rules, "extra.rules",
                       r % 2 ? "@category A2.1\n@id extra-a\nzzqa\n"
                             : "@category A2.1\n@id extra-b\nzzqb\n");
        if (r % 4 == 3) {
            kill(fdt_d.pid, SIGHUP);
        } else {
            char *line = fdt_roundtrip(admin, "{\"op\":\"reload\"}");
            cr_assert(strstr(line, "\"ok\":true"), "%s", line);
            free(line);
        }
    }
    for (int k = 0; k < CONNS; k++)
        cr_assert(fdt_send(cs[k], all + len / 2, len - len / 2) == 0);
    free(all);
    for (int k = 0; k < CONNS; k++) {
        for (int i = 0; i < N; i++) {
            char *line = fdt_readline(cs[k], FDT_TIMEOUT_MS);
            cr_assert(line, "conn %d: response %d missing", k, i);
            char want[48];
            snprintf(want, sizeof(want), "{\"id\":%d,\"decision\":\"%s\"", i,
                     i % 2 ? "block" : "allow");
            cr_assert(strncmp(line, want, strlen(want)) == 0, "%d/%d: %s", k, i, line);
            free(line);
        }
        fdt_close(cs[k]);
    }
    char *line = fdt_roundtrip(admin, "{\"op\":\"stats\"}");
    cJSON *s = fdt_json(line);
    cr_assert(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "reloads"), "ok")->valueint >= 1, "%s",
              line);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "reloads"), "failed")->valueint, 0,
                 "%s", line);
    cJSON_Delete(s);
    free(line);
    fdt_close(admin);
}

/*
 * Connection churn: 300 quick connect/close cycles against
 * --max-connections 64, then one client. The daemon must count the
 * connections that are really open (the closed ones are gone, even if a
 * worker has not read their EOF yet): the client gets its answer, not
 * `busy`, and no retry is needed.
 */
Test(conn, churn_no_spurious_busy)
{
    const char *extra[] = {"--max-connections", "64", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    for (int i = 0; i < 300; i++) {
        fdt_conn *c = fdt_connect(fdt_d.sock);
        fdt_close(c);
    }
    fdt_conn *c = fdt_connect(fdt_d.sock);
    expect_ping(c);
    fdt_close(c);
}

/*
 * A flood of rejected connections does not flood the log: the warning is
 * rate-limited (a few lines, then a count of those left out).
 */
Test(conn, rejected_warnings_rate_limited)
{
    const char *extra[] = {"--max-connections", "1", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *a = fdt_connect(fdt_d.sock);
    expect_ping(a);
    enum { N = 100 };
    for (int i = 0; i < N; i++) {
        fdt_conn *c = fdt_connect(fdt_d.sock);
        char *line = fdt_readline(c, FDT_TIMEOUT_MS);
        cr_assert(line && strstr(line, "\"busy\""), "%d: %s", i, line ? line : "(none)");
        free(line);
        fdt_close(c);
    }
    cr_assert(fdt_wait_log(&fdt_d, "rejected: too many connections", FDT_TIMEOUT_MS), "%s",
              fdt_d.log);
    pthread_mutex_lock(&fdt_d.mu);
    int lines = 0;
    for (const char *p = fdt_d.log; (p = strstr(p, "rejected: too many connections")); p++)
        lines++;
    pthread_mutex_unlock(&fdt_d.mu);
    cr_assert_leq(lines, 10, "%d warning lines for %d rejections", lines, N);
    fdt_close(a);
}
