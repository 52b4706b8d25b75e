/*
 * test_audit_stream.c — audit records of streams (SPEC §4): one record per
 * stream, at block, at close, or when the connection ends with the stream
 * still open ("end":"disconnect"); the digest and byte count cover every
 * byte fed; an excerpt may span chunks; the chain stays whole.
 */
#include <limits.h>

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
