/*
 * test_auditlog.c — the audit chain: records and their hashes (checked
 * here with libcrypto directly, not through the code under test),
 * tampering detected at the right line, torn tails, restarts, rotation,
 * concurrent writers, and failed writes that leave the file whole.
 */
#include "testutil.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include "auditlog.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

static char dir[64], path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/fd-audit-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/audit.log", dir);
}

static void teardown(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(auditlog, .init = setup, .fini = teardown);

/* SHA-256 of BUF as lowercase hex, independently of hash.c. */
static void sha_hex(const char *buf, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int l = 0;
    EVP_Digest(buf, n, md, &l, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static void add(fd_audit_batch *b, int i)
{
    char head[64], body[128];
    int hl = snprintf(head, sizeof head, "\"ts\":\"2026-11-22T10:00:00.%06dZ\"", i);
    int bl = snprintf(body, sizeof body, "\"op\":\"check\",\"decision\":\"block\",\"n\":%d", i);
    cr_assert_eq(fd_audit_batch_add(b, head, (size_t)hl, body, (size_t)bl), 0);
}

static void write_records(const char *p, int from, int count, int per_batch)
{
    fd_auditlog *a = NULL;
    fd_diag w = FD_DIAG_INIT;
    cr_assert_eq(fd_auditlog_open(p, FD_AUDIT_FSYNC_NEVER, &a, &w), 0);
    fd_audit_batch b;
    fd_audit_batch_init(&b);
    for (int i = from; i < from + count; i++) {
        add(&b, i);
        if (b.n == (size_t)per_batch || i == from + count - 1) {
            cr_assert_eq(fd_auditlog_commit(a, &b), 0);
            fd_audit_batch_clear(&b);
        }
    }
    fd_audit_batch_free(&b);
    fd_auditlog_close(a);
    fd_diag_free(&w);
}

/* Read PATH's lines into a NULL-terminated malloc'd array. */
static char **read_lines(const char *p, size_t *n)
{
    FILE *f = fopen(p, "r");
    cr_assert(f);
    char **v = calloc(100000, sizeof *v);
    char *line = NULL;
    size_t cap = 0;
    ssize_t l;
    *n = 0;
    while ((l = getline(&line, &cap, f)) > 0) {
        cr_assert_eq(line[l - 1], '\n');
        line[l - 1] = '\0';
        v[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    return v;
}

static void free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Check the chain of PATH independently: seq 1.., prev = sha256(previous). */
static void check_chain(const char *p, size_t want)
{
    size_t n;
    char **v = read_lines(p, &n);
    cr_assert_eq(n, want);
    char prev[65] = ZEROS;
    for (size_t i = 0; i < n; i++) {
        char want_prefix[200];
        snprintf(want_prefix, sizeof want_prefix, "\"seq\":%zu,", i + 1);
        cr_assert(strstr(v[i], want_prefix), "line %zu: %s", i + 1, v[i]);
        char want_prev[80];
        snprintf(want_prev, sizeof want_prev, ",\"prev\":\"%s\"}", prev);
        size_t l = strlen(v[i]);
        cr_assert(l > strlen(want_prev) && strcmp(v[i] + l - strlen(want_prev), want_prev) == 0,
                  "line %zu: prev is not the hash of line %zu", i + 1, i);
        sha_hex(v[i], l, prev);
    }
    free_lines(v, n);
}

static char *verify(const char *const *paths, size_t n, int *rc, uint64_t *lines)
{
    fd_diag d = FD_DIAG_INIT;
    *rc = fd_audit_verify(paths, n, &d, lines);
    char *s = fd_diag_join(&d);
    fd_diag_free(&d);
    return s ? s : strdup("");
}

Test(auditlog, records_chain_and_verify)
{
    write_records(path, 0, 50, 7);
    check_chain(path, 50);
    size_t n;
    char **v = read_lines(path, &n);
    cr_assert(strncmp(v[0], "{\"ts\":\"2026-11-22T10:00:00.000000Z\",\"seq\":1,\"op\":\"check\"",
                      55) == 0,
              "%s", v[0]);
    free_lines(v, n);
    const char *p[] = {path};
    int rc;
    uint64_t lines;
    char *e = verify(p, 1, &rc, &lines);
    cr_assert_eq(rc, 0, "%s", e);
    cr_assert_eq(lines, 50);
    free(e);
}

/* Rewrite PATH with line K (1-based) changed by F. */
static void rewrite(const char *p, void (*f)(char **v, size_t *n))
{
    size_t n;
    char **v = read_lines(p, &n);
    f(v, &n);
    FILE *o = fopen(p, "w");
    for (size_t i = 0; i < n; i++)
        fprintf(o, "%s\n", v[i]);
    fclose(o);
    free_lines(v, n);
}

static void flip_byte(char **v, size_t *n)
{
    (void)n;
    char *d = strstr(v[19], "block");
    d[0] = 'B'; /* one byte of line 20 */
}

static void delete_line(char **v, size_t *n)
{
    free(v[29]);
    memmove(&v[29], &v[30], (*n - 30) * sizeof *v);
    (*n)--;
}

static void swap_lines(char **v, size_t *n)
{
    (void)n;
    char *t = v[9];
    v[9] = v[10];
    v[10] = t;
}

Test(auditlog, tampering_detected_at_the_right_line)
{
    struct {
        void (*f)(char **, size_t *);
        const char *want;
    } cases[] = {
        {flip_byte, ":21: chain broken"},   /* line 21's prev no longer matches line 20 */
        {delete_line, ":30: chain broken"}, /* line 31 moved up: seq still increases */
        {swap_lines, ":10: chain broken"},  /* line 10 now holds seq 11 */
    };
    for (size_t c = 0; c < 3; c++) {
        unlink(path);
        write_records(path, 0, 40, 5);
        rewrite(path, cases[c].f);
        const char *p[] = {path};
        int rc;
        uint64_t lines;
        char *e = verify(p, 1, &rc, &lines);
        static const uint64_t good[] = {20, 29, 9};
        cr_assert_eq(rc, FD_ERULES, "case %zu not detected", c);
        cr_assert(strstr(e, cases[c].want), "case %zu: %s", c, e);
        cr_assert_eq(lines, good[c], "case %zu: %lu good lines", c, (unsigned long)lines);
        free(e);
    }
}

Test(auditlog, restart_continues_chain_and_torn_tail_is_set_aside)
{
    write_records(path, 0, 10, 3);
    /* a crash in the middle of a write leaves half a line */
    FILE *f = fopen(path, "a");
    fputs("{\"ts\":\"2026-11-22T10:00:01.000000Z\",\"seq\":11,\"op\":\"ch", f);
    fclose(f);
    const char *p[] = {path};
    int rc;
    uint64_t lines;
    char *e = verify(p, 1, &rc, &lines);
    cr_assert_eq(rc, FD_ERULES);
    cr_assert(strstr(e, ":11: torn last line"), "%s", e);
    cr_assert_eq(lines, 10); /* verifies up to the torn tail */
    free(e);

    fd_auditlog *a = NULL;
    fd_diag w = FD_DIAG_INIT;
    cr_assert_eq(fd_auditlog_open(path, FD_AUDIT_FSYNC_ALWAYS, &a, &w), 0);
    cr_assert_eq(w.n, 1);
    cr_assert(strstr(w.lines[0], "torn last line (53 bytes"), "%s", w.lines[0]);
    fd_audit_batch b;
    fd_audit_batch_init(&b);
    add(&b, 10);
    add(&b, 11);
    cr_assert_eq(fd_auditlog_commit(a, &b), 0);
    cr_assert_eq(b.first_seq, 11);
    fd_audit_batch_free(&b);
    fd_auditlog_close(a);
    fd_diag_free(&w);
    check_chain(path, 12);
    char torn[200];
    snprintf(torn, sizeof torn, "%s.torn", path);
    cr_assert_eq(access(torn, F_OK), 0);
}

Test(auditlog, rotation_carries_the_chain_on)
{
    fd_auditlog *a = NULL;
    fd_diag w = FD_DIAG_INIT;
    cr_assert_eq(fd_auditlog_open(path, FD_AUDIT_FSYNC_INTERVAL, &a, &w), 0);
    fd_audit_batch b;
    fd_audit_batch_init(&b);
    add(&b, 1);
    add(&b, 2);
    cr_assert_eq(fd_auditlog_commit(a, &b), 0);
    char old[200];
    snprintf(old, sizeof old, "%s.1", path);
    cr_assert_eq(rename(path, old), 0); /* logrotate moves it */
    cr_assert_eq(fd_auditlog_reopen(a, &w), 0);
    fd_audit_batch_clear(&b);
    add(&b, 3);
    cr_assert_eq(fd_auditlog_commit(a, &b), 0);
    cr_assert_eq(fd_auditlog_sync(a), 0);
    fd_audit_batch_free(&b);
    fd_auditlog_close(a);
    fd_diag_free(&w);
    const char *p[] = {old, path};
    int rc;
    uint64_t lines;
    char *e = verify(p, 2, &rc, &lines);
    cr_assert_eq(rc, 0, "%s", e);
    cr_assert_eq(lines, 3);
    free(e);
    /* the new file alone: its first line's prev is accepted as the start */
    const char *q[] = {path};
    e = verify(q, 1, &rc, &lines);
    cr_assert_eq(rc, 0, "%s", e);
    free(e);
}

typedef struct wargs {
    fd_auditlog *a;
    int id;
} wargs;

static void *writer(void *p)
{
    wargs *w = p;
    fd_audit_batch b;
    fd_audit_batch_init(&b);
    for (int k = 0; k < 200; k++) {
        for (int r = 0; r < 1 + k % 4; r++)
            add(&b, w->id * 100000 + k * 10 + r);
        if (fd_auditlog_commit(w->a, &b) != 0)
            abort();
        fd_audit_batch_clear(&b);
    }
    fd_audit_batch_free(&b);
    return NULL;
}

Test(auditlog, concurrent_writers_one_chain)
{
    fd_auditlog *a = NULL;
    fd_diag w = FD_DIAG_INIT;
    cr_assert_eq(fd_auditlog_open(path, FD_AUDIT_FSYNC_NEVER, &a, &w), 0);
    pthread_t t[4];
    wargs args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (wargs){a, i};
        pthread_create(&t[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    fd_auditlog_stats st;
    fd_auditlog_get_stats(a, &st);
    fd_auditlog_close(a);
    fd_diag_free(&w);
    size_t per = 0;
    for (int k = 0; k < 200; k++)
        per += 1 + k % 4;
    cr_assert_eq(st.records, 4 * per);
    cr_assert_leq(st.writes, 4 * 200);
    check_chain(path, 4 * per);
}

Test(auditlog, failed_write_leaves_file_whole_then_recovers)
{
    signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG instead */
    write_records(path, 0, 5, 5);
    struct stat sb;
    stat(path, &sb);
    fd_auditlog *a = NULL;
    fd_diag w = FD_DIAG_INIT;
    cr_assert_eq(fd_auditlog_open(path, FD_AUDIT_FSYNC_NEVER, &a, &w), 0);
    struct rlimit rl = {(rlim_t)sb.st_size + 100, RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    fd_audit_batch b;
    fd_audit_batch_init(&b);
    for (int i = 0; i < 10; i++)
        add(&b, 100 + i); /* ~1 KiB: more than fits */
    cr_assert_eq(fd_auditlog_commit(a, &b), FD_EIO);
    struct stat sb2;
    stat(path, &sb2);
    cr_assert_eq(sb2.st_size, sb.st_size, "a partial write was left behind");
    /* the disk has room again: the same chain goes on */
    rl.rlim_cur = RLIM_INFINITY;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    cr_assert_eq(fd_auditlog_commit(a, &b), 0);
    fd_auditlog_stats st;
    fd_auditlog_get_stats(a, &st);
    cr_assert_eq(st.errors, 1);
    fd_audit_batch_free(&b);
    fd_auditlog_close(a);
    fd_diag_free(&w);
    check_chain(path, 15);
}

/* A path that cannot be opened: FD_EIO and the reason, nothing left
 * allocated (the error path once read the log after freeing it). */
Test(auditlog, open_failure_reports_and_frees)
{
    char bad[200];
    snprintf(bad, sizeof bad, "%s/no/such/dir/audit.log", dir);
    fd_auditlog *a = NULL;
    fd_diag w = FD_DIAG_INIT;
    cr_assert_eq(fd_auditlog_open(bad, FD_AUDIT_FSYNC_NEVER, &a, &w), FD_EIO);
    cr_assert_null(a);
    cr_assert_eq(w.n, 1);
    cr_assert(strstr(w.lines[0], "cannot open the audit log"), "%s", w.lines[0]);
    fd_diag_free(&w);
}
