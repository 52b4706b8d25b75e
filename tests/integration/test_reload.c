/*
 * test_reload.c — `--watch` and `--cache-dir` against the real daemon:
 * an edit, an added file, a removed file and a save by rename each reload
 * the rules by themselves; a restart with an unchanged rule set loads the
 * compiled databases from the cache and answers the same.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

TestSuite(reload, .init = fdt_setup, .fini = fdt_teardown, .timeout = 60);

static const char *decision(fdt_conn *c, const char *text)
{
    static char out[16];
    char req[256];
    snprintf(req, sizeof req, "{\"text\":\"%s\"}", text);
    char *line = fdt_roundtrip(c, req);
    cr_assert(line, "no answer");
    const char *d = strstr(line, "\"decision\":\"");
    cr_assert(d, "%s", line);
    snprintf(out, sizeof out, "%.*s", (int)strcspn(d + 12, "\""), d + 12);
    free(line);
    return out;
}

/* Each worker takes a new rule set between two requests, a moment after
 * the reload: ask again (bounded) until TEXT gets WANT. */
static void eventually(fdt_conn *c, const char *text, const char *want)
{
    for (int i = 0; i < 1000; i++) {
        if (strcmp(decision(c, text), want) == 0)
            return;
        poll(NULL, 0, 5);
    }
    cr_assert_fail("'%s' never became %s", text, want);
}

/* Wait (bounded) for the Nth "rules reloaded" line of the daemon's log:
 * the harness's reader thread signals fdt_d.cv on every piece of output. */
static void wait_reloads(int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += FDT_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&fdt_d.mu);
    for (;;) {
        int count = 0;
        for (const char *p = fdt_d.log; p && (p = strstr(p, "rules reloaded")); p++)
            count++;
        if (count >= n || fdt_d.log_eof ||
            pthread_cond_timedwait(&fdt_d.cv, &fdt_d.mu, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&fdt_d.mu);
            cr_assert_geq(count, n, "no reload number %d:\n%s", n, fdt_d.log);
            return;
        }
    }
}

Test(reload, watch_edit_add_remove_rename)
{
    const char *extra[] = {"--watch", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    cr_assert_str_eq(decision(c, "zorblax"), "allow");

    /* an edit */
    fdt_write_file(fdt_d.rules, "watched.rules", "@category A1.4\nzorblax\n");
    wait_reloads(1);
    eventually(c, "zorblax", "block");

    /* an added file in a new directory */
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/more", fdt_d.rules);
    mkdir(sub, 0755);
    fdt_write_file(fdt_d.rules, "more/added.rules", "@category A1.4\n@action flag\nquuxly\n");
    wait_reloads(2);
    eventually(c, "quuxly", "flag");

    /* a save by rename, as editors do: write a temporary file, rename it */
    fdt_write_file(fdt_d.rules, ".watched.rules.swp", "@category A1.4\n@action flag\nzorblax\n");
    char from[4200], to[4200];
    snprintf(from, sizeof from, "%s/.watched.rules.swp", fdt_d.rules);
    snprintf(to, sizeof to, "%s/watched.rules", fdt_d.rules);
    cr_assert_eq(rename(from, to), 0);
    wait_reloads(3);
    eventually(c, "zorblax", "flag");

    /* a removed file */
    cr_assert_eq(unlink(to), 0);
    wait_reloads(4);
    eventually(c, "zorblax", "allow");

    /* a broken edit keeps the old rules and names the line */
    fdt_write_file(fdt_d.rules, "broken.rules", "@category A1.4\n@action maybe\n");
    cr_assert(fdt_wait_log(&fdt_d, "broken.rules:2:", FDT_TIMEOUT_MS), "%s", fdt_d.log);
    cr_assert_str_eq(decision(c, "quuxly"), "flag");
    fdt_close(c);
}

Test(reload, cache_hit_on_restart)
{
    char cache[4200];
    snprintf(cache, sizeof cache, "%s/cache", fdt_d.dir);
    mkdir(cache, 0755);
    const char *extra[] = {"--cache-dir", cache, NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    cr_assert(strstr(fdt_d.log, "cache: missing"), "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    char first[3][16];
    const char *texts[] = {"how to make a bomb", "the weather is fine", "bomb"};
    for (int i = 0; i < 3; i++)
        snprintf(first[i], sizeof first[i], "%s", decision(c, texts[i]));
    fdt_close(c);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);

    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    cr_assert(strstr(fdt_d.log, "cache: hit"), "%s", fdt_d.log);
    c = fdt_connect(fdt_d.sock);
    for (int i = 0; i < 3; i++)
        cr_assert_str_eq(decision(c, texts[i]), first[i], "text %d", i);
    /* the reload op reports where the rules came from too */
    char *line = fdt_roundtrip(c, "{\"op\":\"stats\"}");
    cr_assert(line && strstr(line, "\"reload\""), "%s", line ? line : "(none)");
    free(line);
    fdt_close(c);
}

/* systemd's Type=notify: READY=1 once the rules are loaded and the socket
 * listens, STOPPING=1 on SIGTERM. */
Test(reload, sd_notify_ready_and_stopping)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/notify.sock", fdt_d.dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cr_assert_lt(snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path), (int)sizeof sa.sun_path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    unsetenv("NOTIFY_SOCKET");
    char buf[256];
    struct pollfd p = {fd, POLLIN, 0};
    cr_assert_eq(poll(&p, 1, FDT_TIMEOUT_MS), 1, "no notification");
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert(strstr(buf, "READY=1"), "%s", buf);
    /* ready means answering */
    fdt_conn *c = fdt_connect(fdt_d.sock);
    cr_assert_str_eq(decision(c, "bomb"), "block");
    fdt_close(c);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    cr_assert_eq(poll(&p, 1, FDT_TIMEOUT_MS), 1, "no STOPPING notification");
    n = recv(fd, buf, sizeof buf - 1, 0);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert(strstr(buf, "STOPPING=1"), "%s", buf);
    close(fd);
}
