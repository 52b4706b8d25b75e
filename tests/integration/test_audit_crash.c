/*
 * test_audit_crash.c — the audit log under failure: SIGKILL in the middle
 * of a pipelined load, rotation (rename + SIGUSR1) under load, and a full
 * device (fail closed with audit_failed, then recovery).
 *
 * The load: per connection, one thread writes N pipelined checks (ids
 * BASE+i) while another reads the responses; the test waits on a
 * condition variable for "K responses received", never on a timer.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_util.h"
#include "harness.h"

static char mounted[PATH_MAX + 16]; /* a tmpfs to unmount at the end */

static void fini(void)
{
    if (mounted[0]) {
        if (fdt_d.pid > 0)
            fdt_stop(&fdt_d, SIGTERM);
        umount2(mounted, MNT_DETACH);
        mounted[0] = '\0';
    }
    fdt_teardown();
}

TestSuite(audit_crash, .init = fdt_setup, .fini = fini, .timeout = 90);

static char audit_path[PATH_MAX + 16];

static void start_audit(const char *path, const char *const *extra)
{
    snprintf(audit_path, sizeof audit_path, "%s", path);
    const char *argv[24];
    int n = 0;
    argv[n++] = "--audit";
    argv[n++] = audit_path;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    cr_assert(fdt_start(argv) == 0, "daemon did not start:\n%s", fdt_d.log);
}

/* ---- load ----------------------------------------------------------------- */

typedef struct load {
    fdt_conn *c;
    long base;
    int n;
    pthread_t writer, reader;
    long *got; /* ids of the decisions received */
    int ngot;
    int errors; /* error responses */
} load;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int received; /* over all loads, under mu */

static void *writer_main(void *arg)
{
    load *l = arg;
    enum { BATCH = 256 };
    char *buf = malloc(BATCH * 64);
    for (int i = 0; i < l->n; i += BATCH) {
        size_t len = 0;
        for (int k = i; k < l->n && k < i + BATCH; k++)
            len += (size_t)sprintf(buf + len, "{\"id\":%ld,\"text\":\"%s %d\"}\n", l->base + k,
                                   k % 4 == 0   ? "bomb"
                                   : k % 4 == 1 ? "casino"
                                                : "fine",
                                   k);
        if (fdt_send(l->c, buf, len) != 0)
            break; /* the daemon is gone */
    }
    free(buf);
    return NULL;
}

static void *reader_main(void *arg)
{
    load *l = arg;
    l->got = malloc((size_t)l->n * sizeof(long));
    while (l->ngot + l->errors < l->n) {
        char *line = fdt_readline(l->c, FDT_TIMEOUT_MS);
        if (!line)
            break; /* EOF: killed */
        long id = -1;
        if (sscanf(line, "{\"id\":%ld,", &id) == 1 && strstr(line, "\"decision\":"))
            l->got[l->ngot++] = id;
        else
            l->errors++;
        free(line);
        pthread_mutex_lock(&mu);
        received++;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static void load_start(load *l, long base, int n)
{
    memset(l, 0, sizeof *l);
    l->c = fdt_connect(fdt_d.sock);
    l->base = base;
    l->n = n;
    cr_assert(pthread_create(&l->reader, NULL, reader_main, l) == 0);
    cr_assert(pthread_create(&l->writer, NULL, writer_main, l) == 0);
}

static void load_join(load *l)
{
    pthread_join(l->writer, NULL);
    pthread_join(l->reader, NULL);
}

static void load_free(load *l)
{
    fdt_close(l->c);
    free(l->got);
}

/* Block until at least K responses were received in all (bounded). */
static void wait_received(int k)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += FDT_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&mu);
    while (received < k)
        if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT)
            break;
    int r = received;
    pthread_mutex_unlock(&mu);
    cr_assert(r >= k, "only %d of %d responses", r, k);
}

/* Per id (id - BASE0 indexes): how often it is recorded in LINES. */
static void count_ids(const fdt_lines *r, unsigned char *seen, long base0, long span)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *p = strstr(r->l[i], ",\"id\":");
        cr_assert(p, "%s", r->l[i]);
        long id = strtol(p + 6, NULL, 10);
        if (id >= base0 && id < base0 + span && seen[id - base0] < 255)
            seen[id - base0]++;
    }
}

/* ---- SIGKILL -------------------------------------------------------------- */

Test(audit_crash, sigkill_under_load)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/audit.log", fdt_d.dir);
    const char *extra[] = {"--audit-level", "all", "--audit-fsync", "never", NULL};
    start_audit(path, extra);

    enum { N = 100000, BASE = 1000000 };
    load l[2];
    received = 0;
    load_start(&l[0], BASE, N);
    load_start(&l[1], 2 * BASE, N);
    wait_received(5000);
    cr_assert_eq(kill(fdt_d.pid, SIGKILL), 0);
    load_join(&l[0]);
    load_join(&l[1]);
    cr_assert_eq(fdt_wait_exit(&fdt_d), 128 + SIGKILL);
    cr_assert(l[0].ngot + l[1].ngot < 2 * N, "the kill came after the load ended");
    cr_assert_eq(l[0].errors + l[1].errors, 0);

    /* the file: complete lines form one chain; a torn tail is possible */
    fdt_lines r = fdt_read_lines(path);
    long bad = fdt_check_chain(r.l, r.n, FDT_ZEROS, NULL);
    cr_assert_eq(bad, -1, "line %ld: %s", bad + 1, bad >= 0 ? r.l[bad] : "");
    /* every response received has its record */
    unsigned char *seen = calloc(2 * BASE, 1);
    count_ids(&r, seen, BASE, 2 * BASE);
    size_t nrec = r.n;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < l[k].ngot; i++)
            cr_assert_eq(seen[l[k].got[i] - BASE], 1, "id %ld: %d records", l[k].got[i],
                         seen[l[k].got[i] - BASE]);
    cr_assert(nrec >= (size_t)(l[0].ngot + l[1].ngot));
    free(seen);
    fdt_lines_free(&r);
    load_free(&l[0]);
    load_free(&l[1]);

    /* a restarted daemon continues the chain (seq and prev) */
    start_audit(path, extra);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    free(fdt_roundtrip(c, "{\"id\":1,\"text\":\"bomb\"}"));
    free(fdt_roundtrip(c, "{\"id\":2,\"text\":\"fine\"}"));
    fdt_close(c);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0, "%s", fdt_d.log);
    r = fdt_read_lines(path);
    cr_assert_eq(r.torn, 0);
    cr_assert_eq(r.n, nrec + 2);
    bad = fdt_check_chain(r.l, r.n, FDT_ZEROS, NULL);
    cr_assert_eq(bad, -1, "line %ld: %s", bad + 1, bad >= 0 ? r.l[bad] : "");
    fdt_lines_free(&r);
    char *out;
    const char *args[] = {"audit", "verify", path, NULL};
    cr_assert_eq(fdt_filterctl(args, NULL, &out), 0, "%s", out);
    free(out);
}

/* ---- rotation ------------------------------------------------------------- */

Test(audit_crash, rotation_under_load)
{
    char path[PATH_MAX + 16], old[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/audit.log", fdt_d.dir);
    snprintf(old, sizeof old, "%s/audit.log.1", fdt_d.dir);
    const char *extra[] = {"--audit-level", "all", NULL};
    start_audit(path, extra);

    enum { N = 40000, BASE = 1000000, EXTRA = 100 };
    load l[2];
    received = 0;
    load_start(&l[0], BASE, N);
    load_start(&l[1], 2 * BASE, N);
    wait_received(5000);
    /* logrotate's create mode: rename, then tell the daemon */
    cr_assert_eq(rename(path, old), 0);
    cr_assert_eq(kill(fdt_d.pid, SIGUSR1), 0);
    cr_assert(fdt_wait_log(&fdt_d, "reopened", FDT_TIMEOUT_MS), "%s", fdt_d.log);
    /* and some more after the reopen, which must land in the new file */
    load more;
    load_start(&more, 3 * BASE, EXTRA);
    load_join(&more);
    load_join(&l[0]);
    load_join(&l[1]);
    cr_assert_eq(l[0].ngot + l[1].ngot + more.ngot, 2 * N + EXTRA);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0, "%s", fdt_d.log);

    fdt_lines a = fdt_read_lines(old), b = fdt_read_lines(path);
    cr_assert(a.n > 0 && b.n >= EXTRA, "%zu and %zu records", a.n, b.n);
    cr_assert(a.torn == 0 && b.torn == 0);
    /* no record lost or duplicated across the two files */
    unsigned char *seen = calloc(3 * BASE, 1);
    count_ids(&a, seen, BASE, 3 * BASE);
    count_ids(&b, seen, BASE, 3 * BASE);
    for (int k = 0; k < 2; k++)
        for (long i = 0; i < N; i++)
            cr_assert_eq(seen[(k + 1) * BASE + i - BASE], 1, "id %ld", (k + 1) * BASE + i);
    for (long i = 0; i < EXTRA; i++)
        cr_assert_eq(seen[2 * BASE + i], 1);
    cr_assert_eq(a.n + b.n, (size_t)(2 * N + EXTRA));
    free(seen);
    /* the new file holds the records after the reopen */
    fdt_lines e = b;
    size_t found = 0;
    for (size_t i = 0; i < e.n; i++)
        if (strstr(e.l[i], ",\"id\":3"))
            found++;
    cr_assert_eq(found, EXTRA);

    /* one chain across both files: checked here, and by filterctl */
    char last[65];
    cr_assert_eq(fdt_check_chain(a.l, a.n, FDT_ZEROS, last), -1);
    cr_assert_eq(fdt_check_chain(b.l, b.n, last, NULL), -1);
    fdt_lines_free(&a);
    fdt_lines_free(&b);
    char *out;
    const char *args[] = {"audit", "verify", old, path, NULL};
    cr_assert_eq(fdt_filterctl(args, NULL, &out), 0, "%s", out);
    cr_assert(strstr(out, "in 2 files"), "%s", out);
    free(out);
    load_free(&l[0]);
    load_free(&l[1]);
    load_free(&more);
}

/* ---- full device -------------------------------------------------------- */

typedef enum { FULL_TMPFS, FULL_RLIMIT } full_kind;

/* A blocking check of about 9 KB with id ID into BUF (16 KiB). */
static size_t big_check(char *buf, int id)
{
    static char pad[9001];
    memset(pad, 'x', 9000);
    return (size_t)snprintf(buf, 16384, "{\"id\":%d,\"text\":\"bomb %s\"}", id, pad);
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

Test(audit_crash, full_device)
{
    /* A small tmpfs when we may mount (root, as in CI); else a file size
     * limit on the daemon (it ignores SIGXFSZ, so writes fail with EFBIG). */
    char dir[PATH_MAX + 16], path[PATH_MAX + 32], filler[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/full", fdt_d.dir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    full_kind kind = FULL_RLIMIT;
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=256k,mode=0755") == 0) {
        kind = FULL_TMPFS;
        snprintf(mounted, sizeof mounted, "%s", dir);
    } else {
        cr_log_info("no tmpfs (%s): using RLIMIT_FSIZE on the daemon", strerror(errno));
    }
    snprintf(path, sizeof path, "%s/audit.log", dir);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    /* full text: every record is larger than a page, so no slack at the
     * end of the file's last page can take it */
    const char *extra[] = {"--audit-text", "full", NULL};
    start_audit(path, extra);

    fdt_conn *c = fdt_connect(fdt_d.sock);
    char req[16384];
    big_check(req, 1);
    char *line = fdt_roundtrip(c, req);
    cr_assert(strstr(line, "\"decision\":\"block\""), "%s", line);
    free(line);

    /* fill the device, or cap the file where it is */
    if (kind == FULL_TMPFS) {
        int fd = open(filler, O_WRONLY | O_CREAT, 0600);
        cr_assert(fd >= 0);
        char blk[4096];
        memset(blk, 0, sizeof blk);
        while (write(fd, blk, sizeof blk) > 0)
            ;
        cr_assert_eq(errno, ENOSPC);
        close(fd);
    } else {
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        struct rlimit rl = {(rlim_t)st.st_size, RLIM_INFINITY};
        if (prlimit(fdt_d.pid, RLIMIT_FSIZE, &rl, NULL) != 0)
            cr_skip_test("neither a tmpfs (mount) nor prlimit(RLIMIT_FSIZE) is possible here: %s",
                         strerror(errno));
    }

    /* one pipelined burst: failing records, a ping and an allow (no record
     * needed) mixed; the waiting responses become audit_failed in place */
    char burst[65536];
    size_t len = 0;
    for (int i = 10; i < 15; i++) {
        len += big_check(burst + len, i);
        burst[len++] = '\n';
        len += (size_t)snprintf(burst + len, sizeof burst - len, "{\"id\":%d,\"op\":\"ping\"}\n",
                                100 + i);
    }
    len += (size_t)snprintf(burst + len, sizeof burst - len, "{\"id\":99,\"text\":\"fine\"}\n");
    cr_assert(fdt_send(c, burst, len) == 0);
    for (int i = 10; i < 15; i++) {
        line = fdt_readline(c, FDT_TIMEOUT_MS);
        cJSON *r = fdt_json(line);
        cr_assert_eq(cJSON_GetObjectItem(r, "id")->valueint, i, "%s", line);
        cr_assert(fdt_errcode(r) && strcmp(fdt_errcode(r), "audit_failed") == 0, "%s", line);
        cr_assert_null(cJSON_GetObjectItem(r, "decision"), "%s", line);
        cJSON_Delete(r);
        free(line);
        line = fdt_readline(c, FDT_TIMEOUT_MS);
        char want[64];
        snprintf(want, sizeof want, "{\"id\":%d,\"ok\":true}", 100 + i);
        cr_assert_str_eq(line, want);
        free(line);
    }
    line = fdt_readline(c, FDT_TIMEOUT_MS);
    cr_assert(line && strstr(line, "{\"id\":99,\"decision\":\"allow\""), "%s", line);
    free(line);
    /* more failures, one at a time: still one error line for the incident */
    for (int i = 20; i < 25; i++) {
        big_check(req, i);
        line = fdt_roundtrip(c, req);
        cr_assert(strstr(line, "audit_failed"), "%s", line);
        free(line);
    }
    cr_assert(fdt_wait_log(&fdt_d, "write failed", FDT_TIMEOUT_MS), "%s", fdt_d.log);
    line = fdt_roundtrip(c, "{\"op\":\"stats\"}");
    cJSON *st = fdt_json(line);
    const cJSON *au = cJSON_GetObjectItem(st, "audit");
    cr_assert(cJSON_GetObjectItem(au, "errors")->valueint >= 1, "%s", line);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(au, "failing")), "%s", line);
    const cJSON *errs = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "requests"), "errors");
    cr_assert_eq(cJSON_GetObjectItem(errs, "audit_failed")->valueint, 10, "%s", line);
    cJSON_Delete(st);
    free(line);

    /* space again: decisions again, and one recovery line */
    if (kind == FULL_TMPFS) {
        cr_assert_eq(unlink(filler), 0);
    } else {
        struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
        cr_assert_eq(prlimit(fdt_d.pid, RLIMIT_FSIZE, &rl, NULL), 0);
    }
    big_check(req, 30);
    line = fdt_roundtrip(c, req);
    cr_assert(strstr(line, "\"decision\":\"block\""), "%s", line);
    free(line);
    cr_assert(fdt_wait_log(&fdt_d, "writes work again", FDT_TIMEOUT_MS), "%s", fdt_d.log);
    pthread_mutex_lock(&fdt_d.mu);
    int nfail = count_str(fdt_d.log, "write failed");
    pthread_mutex_unlock(&fdt_d.mu);
    cr_assert_eq(nfail, 1, "%s", fdt_d.log);
    fdt_close(c);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0, "%s", fdt_d.log);

    /* the file holds exactly the records of decisions given, and verifies */
    fdt_lines r = fdt_read_lines(path);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.torn, 0);
    cr_assert(strstr(r.l[0], ",\"id\":1,") && strstr(r.l[1], ",\"id\":30,"));
    cr_assert_eq(fdt_check_chain(r.l, r.n, FDT_ZEROS, NULL), -1);
    fdt_lines_free(&r);
}
