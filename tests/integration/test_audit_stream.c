/*
 * test_audit_stream.c — audit records of streams (SPEC §4): one record per
 * stream, at block, at close, or when the connection ends with the stream
 * still open ("end":"disconnect"); the digest and byte count cover every
 * byte fed; an excerpt may span chunks; the chain stays whole.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>

#include "audit_util.h"
#include "harness.h"

TestSuite(audit_stream, .init = fdt_setup, .fini = fdt_teardown, .timeout = 60);

static char audit_path[PATH_MAX + 16];

static void start(void)
{
    snprintf(audit_path, sizeof audit_path, "%s/audit.log", fdt_d.dir);
    const char *argv[] = {"--audit", audit_path, "--audit-level", "all", NULL};
    cr_assert(fdt_start(argv) == 0, "daemon did not start:\n%s", fdt_d.log);
}

static cJSON *req(fdt_conn *c, const char *r)
{
    char *line = fdt_roundtrip(c, r);
    cJSON *j = fdt_json(line);
    free(line);
    return j;
}

/* The record of stream ID in the log, parsed (caller deletes), or NULL. */
static cJSON *record_of(const char *id)
{
    fdt_lines r = fdt_read_lines(audit_path);
    cJSON *found = NULL;
    for (size_t i = 0; i < r.n && !found; i++) {
        cJSON *j = cJSON_Parse(r.l[i]);
        cr_assert(j, "%s", r.l[i]);
        const char *s = fdt_str(j, "stream");
        if (s && strcmp(s, id) == 0)
            found = j;
        else
            cJSON_Delete(j);
    }
    fdt_lines_free(&r);
    return found;
}

Test(audit_stream, block_close_and_disconnect)
{
    start();
    fdt_conn *c = fdt_connect(fdt_d.sock);
    /* blocked: 制造炸 | ZWSP 弹 across two chunks */
    cJSON_Delete(req(c, "{\"op\":\"open\",\"stream\":\"s-block\",\"meta\":{\"model\":\"m1\"}}"));
    cJSON_Delete(req(c, "{\"op\":\"chunk\",\"stream\":\"s-block\",\"text\":\"教你制造炸\"}"));
    cJSON *r =
        req(c, "{\"id\":42,\"op\":\"chunk\",\"stream\":\"s-block\",\"text\":\"\\u200b弹吧\"}");
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cJSON_Delete(r);
    /* closed: allowed text */
    cJSON_Delete(req(c, "{\"op\":\"open\",\"stream\":\"s-close\"}"));
    cJSON_Delete(req(c, "{\"op\":\"chunk\",\"stream\":\"s-close\",\"text\":\"the weather \"}"));
    cJSON_Delete(req(c, "{\"op\":\"chunk\",\"stream\":\"s-close\",\"text\":\"is fine\"}"));
    r = req(c, "{\"id\":\"c1\",\"op\":\"close\",\"stream\":\"s-close\"}");
    cr_assert_str_eq(fdt_str(r, "decision"), "allow");
    cJSON_Delete(r);
    /* left open when the connection goes */
    cJSON_Delete(req(c, "{\"op\":\"open\",\"stream\":\"s-gone\"}"));
    cJSON_Delete(req(c, "{\"op\":\"chunk\",\"stream\":\"s-gone\",\"text\":\"still talking\"}"));
    fdt_close(c);
    /* the daemon writes the disconnect record when it sees the close:
     * wait (bounded) for it by asking on another connection */
    cJSON *gone = NULL;
    fdt_conn *d = fdt_connect(fdt_d.sock);
    for (int i = 0; i < 200 && !gone; i++) {
        cJSON_Delete(req(d, "{\"op\":\"ping\"}"));
        gone = record_of("s-gone");
    }
    fdt_close(d);

    cJSON *b = record_of("s-block");
    cr_assert(b, "no record of the blocked stream");
    cr_assert_str_eq(fdt_str(b, "op"), "stream");
    cr_assert_str_eq(fdt_str(b, "end"), "block");
    cr_assert_str_eq(fdt_str(b, "decision"), "block");
    cr_assert_eq(cJSON_GetObjectItem(b, "id")->valueint, 42);
    const char *fed = "教你制造炸\u200b弹吧";
    char hex[65];
    fdt_sha256(fed, strlen(fed), hex);
    cr_assert_str_eq(fdt_str(b, "sha256"), hex);
    cr_assert_eq(cJSON_GetObjectItem(b, "bytes")->valueint, (int)strlen(fed));
    cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "matches"), 0);
    cr_assert(m);
    cr_assert_str_eq(fdt_str(m, "excerpt"), "制造炸\u200b弹"); /* spans both chunks */
    cr_assert(strstr(fdt_str(m, "src"), ".rules:"), "%s", fdt_str(m, "src"));
    cr_assert_str_eq(fdt_str(cJSON_GetObjectItem(b, "meta"), "model"), "m1");
    cJSON_Delete(b);

    cJSON *cl = record_of("s-close");
    cr_assert(cl, "no record of the closed stream");
    cr_assert_str_eq(fdt_str(cl, "end"), "close");
    cr_assert_str_eq(fdt_str(cl, "decision"), "allow");
    cr_assert_str_eq(fdt_str(cl, "id"), "c1");
    fdt_sha256("the weather is fine", 19, hex);
    cr_assert_str_eq(fdt_str(cl, "sha256"), hex);
    cJSON_Delete(cl);

    cr_assert(gone, "no record of the stream left open:\n%s", fdt_d.log);
    cr_assert_str_eq(fdt_str(gone, "end"), "disconnect");
    cJSON_Delete(gone);

    /* one record per stream, and the chain verifies */
    const char *args[] = {"audit", "verify", audit_path, NULL};
    char *out = NULL;
    cr_assert_eq(fdt_filterctl(args, NULL, &out), 0, "%s", out ? out : "");
    free(out);
    fdt_lines r2 = fdt_read_lines(audit_path);
    int streams = 0;
    for (size_t i = 0; i < r2.n; i++)
        streams += strstr(r2.l[i], "\"op\":\"stream\"") != NULL;
    cr_assert_eq(streams, 3);
    fdt_lines_free(&r2);
}

/* The error code of R, or "" (a decision). */
static const char *code_of(const cJSON *r)
{
    const char *e = fdt_errcode(r);
    return e ? e : "";
}

/* Answer R must be audit_failed and carry no decision. */
static void expect_audit_failed(cJSON *r, const char *what)
{
    char *s = cJSON_PrintUnformatted(r);
    cr_assert_str_eq(code_of(r), "audit_failed", "%s: %s", what, s);
    cr_assert_null(cJSON_GetObjectItem(r, "decision"), "%s: %s", what, s);
    free(s);
    cJSON_Delete(r);
}

/*
 * Streams with a failing audit log (RLIMIT_FSIZE 0 on the daemon: every
 * write fails with EFBIG): a stream whose record could not be written
 * never answers a decision — not the blocking chunk, not a later close,
 * not a close pipelined right behind the chunk — and the log holds no
 * record of it. Once writes work again, streams answer again.
 */
Test(audit_stream, failing_log_never_answers_a_decision)
{
    start();
    struct rlimit none = {0, RLIM_INFINITY};
    if (prlimit(fdt_d.pid, RLIMIT_FSIZE, &none, NULL) != 0)
        cr_skip_test("prlimit(RLIMIT_FSIZE) on the daemon is not possible here: %s",
                     strerror(errno));
    fdt_conn *c = fdt_connect(fdt_d.sock);

    /* the blocking chunk, then a close on its own */
    cJSON_Delete(req(c, "{\"op\":\"open\",\"stream\":\"s1\"}"));
    expect_audit_failed(req(c, "{\"id\":1,\"op\":\"chunk\",\"stream\":\"s1\",\"text\":\"a bomb\"}"),
                        "blocking chunk");
    expect_audit_failed(req(c, "{\"id\":2,\"op\":\"close\",\"stream\":\"s1\"}"), "close after it");

    /* chunk and close in one burst: the close waits behind the record */
    cJSON_Delete(req(c, "{\"op\":\"open\",\"stream\":\"s2\"}"));
    const char *burst = "{\"id\":3,\"op\":\"chunk\",\"stream\":\"s2\",\"text\":\"bomb\"}\n"
                        "{\"id\":4,\"op\":\"ping\"}\n"
                        "{\"id\":5,\"op\":\"close\",\"stream\":\"s2\"}\n";
    cr_assert(fdt_send(c, burst, strlen(burst)) == 0);
    for (int i = 3; i <= 5; i++) {
        char *line = fdt_readline(c, FDT_TIMEOUT_MS);
        cJSON *r = fdt_json(line);
        cr_assert_eq(cJSON_GetObjectItem(r, "id")->valueint, i, "%s", line);
        free(line);
        if (i == 4) {
            cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
            cJSON_Delete(r);
        } else {
            expect_audit_failed(r, i == 3 ? "pipelined chunk" : "pipelined close");
        }
    }

    /* a stream that never blocks: its close needs the record (level all) */
    cJSON_Delete(req(c, "{\"op\":\"open\",\"stream\":\"s3\"}"));
    cJSON *r = req(c, "{\"op\":\"chunk\",\"stream\":\"s3\",\"text\":\"fine weather\"}");
    cr_assert_str_eq(fdt_str(r, "decision"), "allow"); /* no record needed yet */
    cJSON_Delete(r);
    expect_audit_failed(req(c, "{\"id\":6,\"op\":\"close\",\"stream\":\"s3\"}"), "close of s3");

    /* writes work again: decisions again */
    struct rlimit all = {RLIM_INFINITY, RLIM_INFINITY};
    cr_assert_eq(prlimit(fdt_d.pid, RLIMIT_FSIZE, &all, NULL), 0);
    cJSON_Delete(req(c, "{\"op\":\"open\",\"stream\":\"s4\"}"));
    r = req(c, "{\"id\":7,\"op\":\"chunk\",\"stream\":\"s4\",\"text\":\"bomb\"}");
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cJSON_Delete(r);
    r = req(c, "{\"id\":8,\"op\":\"close\",\"stream\":\"s4\"}");
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cJSON_Delete(r);
    fdt_close(c);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0, "%s", fdt_d.log);

    /* records: s4's only */
    cr_assert_null(record_of("s1"));
    cr_assert_null(record_of("s2"));
    cr_assert_null(record_of("s3"));
    cJSON *s4 = record_of("s4");
    cr_assert(s4, "no record of s4");
    cr_assert_str_eq(fdt_str(s4, "end"), "block");
    cJSON_Delete(s4);
}
