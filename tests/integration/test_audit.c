/*
 * test_audit.c — the audit log of SPEC §4 against the real daemon: which
 * decisions are recorded (--audit-level), every field of a record, the
 * text modes (--audit-text), the chain (checked here with OpenSSL
 * directly), `filterctl audit verify` on tampered files, `filterctl audit
 * stats`, startup with a torn tail and with an unusable path.
 *
 * No sleeps: a record is written before its response leaves the daemon,
 * so once a response has arrived its record is in the file; that ordering
 * is itself under test here.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_util.h"
#include "harness.h"

TestSuite(audit, .init = fdt_setup, .fini = fdt_teardown, .timeout = 60);

static char audit_path[PATH_MAX + 16];

/* Start the daemon with --audit DIR/audit.log plus EXTRA (NULL-terminated). */
static void start_audit(const char *const *extra)
{
    snprintf(audit_path, sizeof audit_path, "%s/audit.log", fdt_d.dir);
    const char *argv[24];
    int n = 0;
    argv[n++] = "--audit";
    argv[n++] = audit_path;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    cr_assert(fdt_start(argv) == 0, "daemon did not start:\n%s", fdt_d.log);
}

/* Round trip REQ and return the response's decision (or error code). */
static char *ask(fdt_conn *c, const char *req)
{
    char *line = fdt_roundtrip(c, req);
    cJSON *r = fdt_json(line);
    const char *v = fdt_errcode(r) ? fdt_errcode(r) : fdt_str(r, "decision");
    char *s = strdup(v ? v : "?");
    cJSON_Delete(r);
    free(line);
    return s;
}

static void send_three(fdt_conn *c)
{
    const char *reqs[] = {"{\"id\":1,\"text\":\"hello world\"}",
                          "{\"id\":2,\"text\":\"casino night\"}", "{\"id\":3,\"text\":\"a bomb\"}"};
    const char *want[] = {"allow", "flag", "block"};
    for (int i = 0; i < 3; i++) {
        char *d = ask(c, reqs[i]);
        cr_assert_str_eq(d, want[i]);
        free(d);
    }
}

/* The ids recorded, in file order, as a string like "2,3". */
static void recorded_ids(char *buf, size_t cap)
{
    fdt_lines r = fdt_read_lines(audit_path);
    buf[0] = '\0';
    for (size_t i = 0; i < r.n; i++) {
        cJSON *j = cJSON_Parse(r.l[i]);
        cr_assert(j, "%s", r.l[i]);
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%d", n ? "," : "", cJSON_GetObjectItem(j, "id")->valueint);
        cJSON_Delete(j);
    }
    fdt_lines_free(&r);
}

Test(audit, levels)
{
    static const struct {
        const char *level;
        const char *ids;
    } cases[] = {{NULL, "2,3"}, {"block", "3"}, {"flag", "2,3"}, {"all", "1,2,3"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *extra[] = {"--audit-level", cases[k].level, NULL};
        start_audit(cases[k].level ? extra : NULL);
        fdt_conn *c = fdt_connect(fdt_d.sock);
        send_three(c);
        /* responses are out, so their records are in the file already */
        char ids[64];
        recorded_ids(ids, sizeof ids);
        cr_assert_str_eq(ids, cases[k].ids, "level %s",
                         cases[k].level ? cases[k].level : "(default)");
        fdt_close(c);
        cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0, "%s", fdt_d.log);
        unlink(audit_path);
    }
}

Test(audit, fields)
{
    const char *extra[] = {"--audit-level", "all", NULL};
    start_audit(extra);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    /* "BOMB" matches rule bomb through case folding: the excerpt must be
     * the original bytes; 制造炸弹 is a second match, multi-byte */
    const char *text =
        "Say BOMB, \\\"quoted\\\" and \xe5\x88\xb6\xe9\x80\xa0\xe7\x82\xb8\xe5\xbc\xb9!";
    const char *raw = "Say BOMB, \"quoted\" and \xe5\x88\xb6\xe9\x80\xa0\xe7\x82\xb8\xe5\xbc\xb9!";
    const char *meta = "{\"user\":\"u-17\",\"n\":3,\"tags\":[\"a\",\"b\"],\"x\":{\"y\":null}}";
    char req[1024];
    snprintf(req, sizeof req, "{\"id\":\"req-1\",\"text\":\"%s\",\"meta\":%s}", text, meta);
    char *line = fdt_roundtrip(c, req);
    cJSON *resp = fdt_json(line);
    cr_assert_str_eq(fdt_str(resp, "decision"), "block", "%s", line);

    fdt_lines r = fdt_read_lines(audit_path);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.torn, 0);
    /* meta verbatim (compact JSON in, the same bytes out) */
    char want_meta[512];
    snprintf(want_meta, sizeof want_meta, "\"meta\":%s,", meta);
    cr_assert(strstr(r.l[0], want_meta), "%s", r.l[0]);
    /* members in the documented order */
    cr_assert(strncmp(r.l[0], "{\"ts\":\"", 7) == 0, "%s", r.l[0]);
    const char *order[] = {
        "\"ts\":",      "\"seq\":",    "\"op\":",    "\"id\":",    "\"decision\":",
        "\"matches\":", "\"sha256\":", "\"bytes\":", "\"rules\":", "\"peer\":",
        "\"meta\":",    "\"us\":",     "\"prev\":"};
    const char *at = r.l[0];
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *p = strstr(at, order[i]);
        cr_assert(p, "%s missing or out of order in %s", order[i], r.l[0]);
        at = p;
    }

    cJSON *j = cJSON_Parse(r.l[0]);
    cr_assert(j);
    const char *ts = fdt_str(j, "ts");
    cr_assert(ts && strlen(ts) == 27 && ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' &&
                  ts[26] == 'Z',
              "ts %s", ts);
    cr_assert_eq(cJSON_GetObjectItem(j, "seq")->valuedouble, 1);
    cr_assert_str_eq(fdt_str(j, "op"), "check");
    cr_assert_str_eq(fdt_str(j, "id"), "req-1");
    cr_assert_str_eq(fdt_str(j, "decision"), "block");
    char hex[65];
    fdt_sha256(raw, strlen(raw), hex);
    cr_assert_str_eq(fdt_str(j, "sha256"), hex);
    cr_assert_eq(cJSON_GetObjectItem(j, "bytes")->valuedouble, (double)strlen(raw));
    cr_assert_str_eq(fdt_str(j, "rules"), fdt_str(resp, "rules"));
    const cJSON *peer = cJSON_GetObjectItem(j, "peer");
    cr_assert_eq(cJSON_GetObjectItem(peer, "pid")->valuedouble, (double)getpid());
    cr_assert_eq(cJSON_GetObjectItem(peer, "uid")->valuedouble, (double)geteuid());
    cr_assert_eq(cJSON_GetObjectItem(peer, "gid")->valuedouble, (double)getegid());
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "us")));
    cr_assert_str_eq(fdt_str(j, "prev"), FDT_ZEROS);
    cr_assert_null(cJSON_GetObjectItem(j, "text"), "no whole text by default");

    const cJSON *ms = cJSON_GetObjectItem(j, "matches");
    cr_assert_eq(cJSON_GetArraySize(ms), 2, "%s", r.l[0]);
    const char *want_rule[] = {"bomb", "zhadan"}, *want_src[] = {"test.rules:4", "test.rules:6"};
    const cJSON *rm = cJSON_GetObjectItem(resp, "matches");
    for (int i = 0; i < 2; i++) {
        const cJSON *m = cJSON_GetArrayItem(ms, i);
        cr_assert_str_eq(fdt_str(m, "rule"), want_rule[i]);
        cr_assert_str_eq(fdt_str(m, "category"), "A1.4");
        cr_assert_str_eq(fdt_str(m, "action"), "block");
        cr_assert_str_eq(fdt_str(m, "src"), want_src[i]);
        int s = cJSON_GetObjectItem(m, "start")->valueint,
            e = cJSON_GetObjectItem(m, "end")->valueint;
        /* the same span as the response, and the excerpt is those bytes */
        const cJSON *mm = cJSON_GetArrayItem(rm, i);
        cr_assert_eq(s, cJSON_GetObjectItem(mm, "start")->valueint);
        cr_assert_eq(e, cJSON_GetObjectItem(mm, "end")->valueint);
        const char *ex = fdt_str(m, "excerpt");
        cr_assert(ex && strlen(ex) == (size_t)(e - s) && memcmp(ex, raw + s, (size_t)(e - s)) == 0,
                  "excerpt %s", ex);
    }
    cr_assert_str_eq(fdt_str(cJSON_GetArrayItem(ms, 0), "excerpt"), "BOMB");
    cJSON_Delete(j);
    cJSON_Delete(resp);
    free(line);
    fdt_lines_free(&r);

    /* an integer id keeps its type; no id and no meta are null */
    line = fdt_roundtrip(c, "{\"id\":42,\"text\":\"x\"}");
    free(line);
    line = fdt_roundtrip(c, "{\"text\":\"y\"}");
    free(line);
    r = fdt_read_lines(audit_path);
    cr_assert_eq(r.n, 3);
    cr_assert(strstr(r.l[1], ",\"id\":42,"), "%s", r.l[1]);
    cr_assert(strstr(r.l[2], ",\"id\":null,") && strstr(r.l[2], ",\"meta\":null,"), "%s", r.l[2]);
    cr_assert(strstr(r.l[2], "\"matches\":[],"), "%s", r.l[2]);
    fdt_lines_free(&r);

    /* the daemon's stats count records and writes */
    line = fdt_roundtrip(c, "{\"op\":\"stats\"}");
    cJSON *st = fdt_json(line);
    const cJSON *au = cJSON_GetObjectItem(st, "audit");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(au, "enabled")), "%s", line);
    cr_assert_eq(cJSON_GetObjectItem(au, "records")->valuedouble, 3, "%s", line);
    cr_assert(cJSON_GetObjectItem(au, "writes")->valuedouble >= 1, "%s", line);
    cr_assert_eq(cJSON_GetObjectItem(au, "errors")->valuedouble, 0, "%s", line);
    cJSON_Delete(st);
    free(line);
    fdt_close(c);
}

/* Independent check of the chain over many records from two connections. */
Test(audit, chain)
{
    const char *extra[] = {"--audit-level", "all", "--audit-fsync", "always", NULL};
    start_audit(extra);
    fdt_conn *a = fdt_connect(fdt_d.sock), *b = fdt_connect(fdt_d.sock);
    enum { N = 300 };
    char *buf = malloc(N * 64);
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(buf + len, "{\"id\":%d,\"text\":\"%s %d\"}\n", i,
                               i % 3 ? "casino" : "bomb", i);
    cr_assert(fdt_send(a, buf, len) == 0);
    cr_assert(fdt_send(b, buf, len) == 0);
    for (int i = 0; i < 2 * N; i++) {
        char *line = fdt_readline(i % 2 ? a : b, FDT_TIMEOUT_MS);
        cr_assert(line, "response %d missing", i);
        free(line);
    }
    free(buf);
    fdt_lines r = fdt_read_lines(audit_path);
    cr_assert_eq(r.n, 2 * N);
    long bad = fdt_check_chain(r.l, r.n, FDT_ZEROS, NULL);
    cr_assert_eq(bad, -1, "chain broken at line %ld: %s", bad + 1, bad >= 0 ? r.l[bad] : "");
    fdt_lines_free(&r);
    fdt_close(a);
    fdt_close(b);
}

/* Run `filterctl audit verify FILE`; returns the exit status, output in *OUT. */
static int verify(const char *file, char **out)
{
    const char *args[] = {"audit", "verify", file, NULL};
    return fdt_filterctl(args, NULL, out);
}

Test(audit, verify_tampering)
{
    const char *extra[] = {"--audit-level", "all", NULL};
    start_audit(extra);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    for (int i = 0; i < 6; i++) {
        char req[64];
        snprintf(req, sizeof req, "{\"id\":%d,\"text\":\"bomb %d\"}", i, i);
        free(fdt_roundtrip(c, req));
    }
    fdt_close(c);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);

    char *out;
    cr_assert_eq(verify(audit_path, &out), 0, "%s", out);
    cr_assert(strstr(out, "OK: 6 lines"), "%s", out);
    free(out);

    fdt_lines r = fdt_read_lines(audit_path);
    cr_assert_eq(r.n, 6);
    char path[PATH_MAX + 32], want[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/tampered.log", fdt_d.dir);

    /* one flipped byte in line 3 (inside its digest: still valid JSON):
     * the chain breaks at line 4, and the note names line 3 */
    char *l3 = strdup(r.l[2]);
    char *d = strstr(l3, "\"sha256\":\"") + 10;
    *d = *d == 'a' ? 'b' : 'a';
    char *saved = r.l[2];
    r.l[2] = l3;
    fdt_write_lines(path, r.l, r.n);
    r.l[2] = saved;
    free(l3);
    cr_assert_eq(verify(path, &out), 1, "%s", out);
    snprintf(want, sizeof want, "%s:4: chain broken", path);
    cr_assert(strstr(out, want), "%s", out);
    snprintf(want, sizeof want, "%s:3: note", path);
    cr_assert(strstr(out, want), "%s", out);
    free(out);

    /* a flipped byte that breaks the JSON is named on its own line */
    l3 = strdup(r.l[2]);
    l3[0] = '[';
    r.l[2] = l3;
    fdt_write_lines(path, r.l, r.n);
    r.l[2] = saved;
    free(l3);
    cr_assert_eq(verify(path, &out), 1, "%s", out);
    snprintf(want, sizeof want, "%s:3: not a JSON object", path);
    cr_assert(strstr(out, want), "%s", out);
    free(out);

    /* line 3 deleted: the former line 4, now line 3, does not chain */
    char *del[5] = {r.l[0], r.l[1], r.l[3], r.l[4], r.l[5]};
    fdt_write_lines(path, del, 5);
    cr_assert_eq(verify(path, &out), 1, "%s", out);
    snprintf(want, sizeof want, "%s:3: chain broken", path);
    cr_assert(strstr(out, want), "%s", out);
    free(out);

    /* lines 4 and 5 swapped: line 4 is the first bad one (seq goes back
     * only at line 5, the chain already breaks at line 4) */
    char *sw[6] = {r.l[0], r.l[1], r.l[2], r.l[4], r.l[3], r.l[5]};
    fdt_write_lines(path, sw, 6);
    cr_assert_eq(verify(path, &out), 1, "%s", out);
    snprintf(want, sizeof want, "%s:4: chain broken", path);
    cr_assert(strstr(out, want), "%s", out);
    free(out);

    /* a missing file is an I/O error (70), no file a usage error (64) */
    snprintf(path, sizeof path, "%s/missing.log", fdt_d.dir);
    cr_assert_eq(verify(path, &out), 70);
    free(out);
    const char *noargs[] = {"audit", "verify", NULL};
    cr_assert_eq(fdt_filterctl(noargs, NULL, NULL), 64);
    fdt_lines_free(&r);
}

/* A text none of whose 4-byte windows occur anywhere in a record by
 * chance: each holds a non-hex letter or a UTF-8 byte. */
static const char secret[] = "Zq9xK7 \xe5\x88\xb6\xe9\x80\xa0\xe7\x82\xb8\xe5\xbc\xb9 wV3pR8";

static void send_secret(void)
{
    fdt_conn *c = fdt_connect(fdt_d.sock);
    char req[256];
    snprintf(req, sizeof req, "{\"id\":7,\"text\":\"%s\"}", secret);
    char *d = ask(c, req);
    cr_assert_str_eq(d, "block");
    free(d);
    fdt_close(c);
}

Test(audit, text_none)
{
    const char *extra[] = {"--audit-text", "none", NULL};
    start_audit(extra);
    send_secret();
    size_t len;
    char *file = fdt_slurp(audit_path, &len);
    cr_assert(file && len > 0);
    cr_assert(strstr(file, "\"zhadan\""), "the record is there: %s", file);
    cr_assert_null(strstr(file, "excerpt"), "%s", file);
    size_t n = strlen(secret);
    for (size_t i = 0; i + 4 <= n; i++)
        cr_assert_null(memmem(file, len, secret + i, 4), "bytes %zu..%zu of the text in %s", i,
                       i + 4, file);
    free(file);
}

Test(audit, text_match_and_full)
{
    start_audit(NULL); /* default: match */
    send_secret();
    fdt_lines r = fdt_read_lines(audit_path);
    cr_assert_eq(r.n, 1);
    cJSON *j = cJSON_Parse(r.l[0]);
    cr_assert_str_eq(fdt_str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "matches"), 0), "excerpt"),
                     "\xe5\x88\xb6\xe9\x80\xa0\xe7\x82\xb8\xe5\xbc\xb9");
    cr_assert_null(cJSON_GetObjectItem(j, "text"));
    cr_assert_null(strstr(r.l[0], "Zq9x"), "only the match: %s", r.l[0]);
    cJSON_Delete(j);
    fdt_lines_free(&r);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);

    /* full: the whole text, and the chain goes on in the same file */
    const char *extra[] = {"--audit-text", "full", NULL};
    start_audit(extra);
    send_secret();
    r = fdt_read_lines(audit_path);
    cr_assert_eq(r.n, 2);
    j = cJSON_Parse(r.l[1]);
    cr_assert_str_eq(fdt_str(j, "text"), secret);
    cr_assert_eq(cJSON_GetObjectItem(j, "seq")->valuedouble, 2);
    cJSON_Delete(j);
    cr_assert_eq(fdt_check_chain(r.l, r.n, FDT_ZEROS, NULL), -1);
    fdt_lines_free(&r);
}

Test(audit, stats)
{
    const char *extra[] = {"--audit-level", "all", NULL};
    start_audit(extra);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    /* 3 allow, 2 flag, 4 block (one with bomb twice and zhadan) */
    const char *reqs[] = {
        "{\"text\":\"a\"}",
        "{\"text\":\"b\"}",
        "{\"text\":\"c\"}",
        "{\"text\":\"casino\"}",
        "{\"text\":\"casino casino\"}",
        "{\"text\":\"bomb\"}",
        "{\"text\":\"bomb\"}",
        "{\"text\":\"casino bomb\"}",
        "{\"text\":\"bomb bomb \xe5\x88\xb6\xe9\x80\xa0\xe7\x82\xb8\xe5\xbc\xb9\"}"};
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
        free(fdt_roundtrip(c, reqs[i]));
    fdt_close(c);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);

    char *out;
    const char *args[] = {"audit", "stats", audit_path, "--json", NULL};
    cr_assert_eq(fdt_filterctl(args, NULL, &out), 0, "%s", out);
    cJSON *j = fdt_json(out);
    cr_assert_eq(cJSON_GetObjectItem(j, "records")->valueint, 9, "%s", out);
    const cJSON *d = cJSON_GetObjectItem(j, "decisions");
    cr_assert_eq(cJSON_GetObjectItem(d, "allow")->valueint, 3, "%s", out);
    cr_assert_eq(cJSON_GetObjectItem(d, "flag")->valueint, 2, "%s", out);
    cr_assert_eq(cJSON_GetObjectItem(d, "block")->valueint, 4, "%s", out);
    const cJSON *cats = cJSON_GetObjectItem(j, "categories");
    cr_assert_eq(cJSON_GetArraySize(cats), 2, "%s", out);
    cr_assert_str_eq(fdt_str(cJSON_GetArrayItem(cats, 0), "category"), "A1.4");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cats, 0), "records")->valueint, 4);
    cr_assert_str_eq(fdt_str(cJSON_GetArrayItem(cats, 1), "category"), "A1.8");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cats, 1), "records")->valueint, 3);
    const cJSON *rules = cJSON_GetObjectItem(j, "rules");
    /* most matched first: bomb 5, casino 4, zhadan 1 */
    const char *want[] = {"bomb", "casino", "zhadan"};
    int wantn[] = {5, 4, 1};
    cr_assert_eq(cJSON_GetArraySize(rules), 3, "%s", out);
    for (int i = 0; i < 3; i++) {
        const cJSON *r = cJSON_GetArrayItem(rules, i);
        cr_assert_str_eq(fdt_str(r, "rule"), want[i], "%s", out);
        cr_assert_eq(cJSON_GetObjectItem(r, "matches")->valueint, wantn[i], "%s", out);
    }
    cr_assert_str_eq(fdt_str(cJSON_GetArrayItem(rules, 0), "src"), "test.rules:4");
    cJSON_Delete(j);
    free(out);

    /* the table, with category names from --rules */
    const char *targs[] = {"audit", "stats", audit_path, "--rules", fdt_d.rules, NULL};
    cr_assert_eq(fdt_filterctl(targs, NULL, &out), 0, "%s", out);
    cr_assert(strstr(out, "records:    9"), "%s", out);
    char row[64];
    snprintf(row, sizeof row, "  %-8s %12d\n", "block", 4);
    cr_assert(strstr(out, row), "%s", out);
    cr_assert(strstr(out, "Promoting terrorism or extremism"), "%s", out);
    cr_assert(strstr(out, "bomb"), "%s", out);
    free(out);

    /* --since: the future leaves nothing, the past everything */
    const char *fut[] = {"audit",  "stats", audit_path, "--since", "2999-01-01T00:00:00Z",
                         "--json", NULL};
    cr_assert_eq(fdt_filterctl(fut, NULL, &out), 0, "%s", out);
    j = fdt_json(out);
    cr_assert_eq(cJSON_GetObjectItem(j, "records")->valueint, 0, "%s", out);
    cr_assert_eq(cJSON_GetObjectItem(j, "before_since")->valueint, 9, "%s", out);
    cJSON_Delete(j);
    free(out);
    const char *past[] = {"audit",    "stats",  "--since", "2000-01-01T08:00:00+08:00",
                          audit_path, "--json", NULL};
    cr_assert_eq(fdt_filterctl(past, NULL, &out), 0, "%s", out);
    j = fdt_json(out);
    cr_assert_eq(cJSON_GetObjectItem(j, "records")->valueint, 9, "%s", out);
    cJSON_Delete(j);
    free(out);
    const char *bad[] = {"audit", "stats", audit_path, "--since", "yesterday", NULL};
    cr_assert_eq(fdt_filterctl(bad, NULL, NULL), 64);
}

Test(audit, startup)
{
    /* no --audit: a line says so */
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    cr_assert(strstr(fdt_d.log, "audit log off"), "%s", fdt_d.log);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);

    /* an unusable path: exit 1 with a clear message, no socket */
    char bad[PATH_MAX + 32];
    snprintf(bad, sizeof bad, "%s/no/such/dir/audit.log", fdt_d.dir);
    const char *extra[] = {"--audit", bad, NULL};
    cr_assert(fdt_start(extra) != 0);
    cr_assert_eq(fdt_wait_exit(&fdt_d), 1);
    cr_assert(strstr(fdt_d.log, "cannot open the audit log"), "%s", fdt_d.log);
    cr_assert_neq(access(fdt_d.sock, F_OK), 0, "socket created anyway");
}

Test(audit, torn_tail_at_startup)
{
    start_audit(NULL);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    free(fdt_roundtrip(c, "{\"id\":1,\"text\":\"bomb\"}"));
    free(fdt_roundtrip(c, "{\"id\":2,\"text\":\"bomb\"}"));
    fdt_close(c);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    /* a write cut short by a crash */
    FILE *f = fopen(audit_path, "a");
    fputs("{\"ts\":\"2026-01-01T00:00:00.000000Z\",\"seq\":3,\"op\":\"che", f);
    fclose(f);

    start_audit(NULL);
    cr_assert(strstr(fdt_d.log, "warn:") && strstr(fdt_d.log, "torn last line"), "%s", fdt_d.log);
    c = fdt_connect(fdt_d.sock);
    free(fdt_roundtrip(c, "{\"id\":3,\"text\":\"bomb\"}"));
    fdt_close(c);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    fdt_lines r = fdt_read_lines(audit_path);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.torn, 0);
    cr_assert_eq(fdt_check_chain(r.l, r.n, FDT_ZEROS, NULL), -1);
    fdt_lines_free(&r);
    char torn[PATH_MAX + 32];
    snprintf(torn, sizeof torn, "%s.torn", audit_path);
    cr_assert_eq(access(torn, F_OK), 0);
    char *out;
    cr_assert_eq(verify(audit_path, &out), 0, "%s", out);
    free(out);
}
