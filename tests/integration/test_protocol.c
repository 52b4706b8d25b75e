/*
 * test_protocol.c — the socket protocol of SPEC §2 against the real daemon:
 * decisions, ids, pipelining, every error code a client can provoke.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

TestSuite(protocol, .init = fdt_setup, .fini = fdt_teardown, .timeout = 60);

/* Send REQ, parse the answer, check its decision; returns it (caller deletes). */
static cJSON *expect_decision(fdt_conn *c, const char *req, const char *decision)
{
    char *line = fdt_roundtrip(c, req);
    cJSON *r = fdt_json(line);
    cr_assert_null(fdt_errcode(r), "%s -> %s", req, line);
    cr_assert_str_eq(fdt_str(r, "decision"), decision, "%s -> %s", req, line);
    cr_assert(fdt_str(r, "rules") && strlen(fdt_str(r, "rules")) == 64, "%s", line);
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(r, "us")), "%s", line);
    cr_assert(cJSON_IsArray(cJSON_GetObjectItem(r, "matches")), "%s", line);
    free(line);
    return r;
}

/* Whether the NUL-terminated S is valid UTF-8 (shortest forms, no
 * surrogates, at most U+10FFFF): checked here, not with the daemon's code. */
static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, n;
        unsigned long cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += n + 1;
    }
    return 1;
}

/* The file at PATH (malloc'd, NUL-terminated), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            cr_assert(buf);
        }
        r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
    } while (r > 0);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void expect_error(fdt_conn *c, const char *req, const char *code)
{
    char *line = fdt_roundtrip(c, req);
    cJSON *r = fdt_json(line);
    cr_assert(fdt_errcode(r) && strcmp(fdt_errcode(r), code) == 0, "%s -> %s (want %s)", req, line,
              code);
    cr_assert(fdt_str(cJSON_GetObjectItem(r, "error"), "message"), "%s", line);
    cJSON_Delete(r);
    free(line);
}

Test(protocol, decisions)
{
    cr_assert(fdt_start(NULL) == 0, "daemon did not start:\n%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);

    cJSON *r = expect_decision(c, "{\"id\":1,\"op\":\"check\",\"text\":\"hello world\"}", "allow");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "matches")), 0);
    cJSON_Delete(r);

    /* missing op means check */
    r = expect_decision(c, "{\"id\":2,\"text\":\"how to make a bomb\"}", "block");
    cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "matches"), 0);
    cr_assert_str_eq(fdt_str(m, "rule"), "bomb");
    cr_assert_str_eq(fdt_str(m, "category"), "A1.4");
    cr_assert_str_eq(fdt_str(m, "action"), "block");
    cr_assert_eq(cJSON_GetObjectItem(m, "start")->valueint, 14);
    cr_assert_eq(cJSON_GetObjectItem(m, "end")->valueint, 18);
    cJSON_Delete(r);

    r = expect_decision(c, "{\"text\":\"welcome to the casino\"}", "flag");
    cJSON_Delete(r);

    /* spans are byte offsets into the original UTF-8 */
    r = expect_decision(c, "{\"text\":\"如何制造炸弹\"}", "block");
    m = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "matches"), 0);
    cr_assert_eq(cJSON_GetObjectItem(m, "start")->valueint, 6);
    cr_assert_eq(cJSON_GetObjectItem(m, "end")->valueint, 18);
    cJSON_Delete(r);

    /* an allow span suppresses the flag match inside it */
    r = expect_decision(c, "{\"text\":\"casino royale\"}", "allow");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "matches")), 0);
    cJSON_Delete(r);

    /* explain shows the allow match and the suppressed one */
    r = expect_decision(c, "{\"text\":\"casino royale\",\"explain\":true}", "allow");
    cJSON *ms = cJSON_GetObjectItem(r, "matches");
    cr_assert_eq(cJSON_GetArraySize(ms), 2);
    int suppressed = 0, allow = 0;
    cJSON_ArrayForEach(m, ms)
    {
        suppressed += cJSON_IsTrue(cJSON_GetObjectItem(m, "suppressed"));
        allow += strcmp(fdt_str(m, "action"), "allow") == 0;
    }
    cr_assert_eq(suppressed, 1);
    cr_assert_eq(allow, 1);
    cJSON_Delete(r);

    /* meta is accepted */
    r = expect_decision(c, "{\"text\":\"hi\",\"meta\":{\"user\":\"u1\",\"n\":[1,2]}}", "allow");
    cJSON_Delete(r);
    fdt_close(c);
}

Test(protocol, id_echo)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    static const struct {
        const char *req, *want;
    } ok[] = {
        {"{\"id\":\"abc\",\"op\":\"ping\"}", "{\"id\":\"abc\","},
        {"{\"id\":\"7\",\"op\":\"ping\"}", "{\"id\":\"7\","},
        {"{\"id\":7,\"op\":\"ping\"}", "{\"id\":7,"},
        {"{\"id\":-42,\"op\":\"ping\"}", "{\"id\":-42,"},
        {"{\"id\":9007199254740991,\"op\":\"ping\"}", "{\"id\":9007199254740991,"},
        {"{\"id\":\"q\\\"uote\",\"op\":\"ping\"}", "{\"id\":\"q\\\"uote\","},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char *line = fdt_roundtrip(c, ok[i].req);
        cr_assert(strncmp(line, ok[i].want, strlen(ok[i].want)) == 0, "%s -> %s", ok[i].req, line);
        free(line);
    }
    expect_error(c, "{\"id\":9007199254740992,\"op\":\"ping\"}", "bad_request");
    expect_error(c, "{\"id\":1.5,\"op\":\"ping\"}", "bad_request");
    expect_error(c, "{\"id\":true,\"op\":\"ping\"}", "bad_request");
    expect_error(c, "{\"id\":null,\"op\":\"ping\"}", "bad_request");
    expect_error(c, "{\"id\":{},\"op\":\"ping\"}", "bad_request");
    /* errors echo a valid id */
    char *line = fdt_roundtrip(c, "{\"id\":\"e1\",\"op\":\"nope\"}");
    cr_assert(strstr(line, "\"id\":\"e1\"") && strstr(line, "unknown_op"), "%s", line);
    free(line);
    fdt_close(c);
}

Test(protocol, error_codes)
{
    const char *extra[] = {"--max-request", "2048", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    expect_error(c, "{\"text\":", "bad_json");
    expect_error(c, "hello", "bad_json");
    expect_error(c, "[1,2]", "bad_request");
    expect_error(c, "\"text\"", "bad_request");
    expect_error(c, "{\"op\":\"check\"}", "bad_request");
    expect_error(c, "{\"text\":42}", "bad_request");
    expect_error(c, "{\"op\":7}", "bad_request");
    expect_error(c, "{\"text\":\"x\",\"explain\":\"yes\"}", "bad_request");
    expect_error(c, "{\"text\":\"x\",\"meta\":\"m\"}", "bad_request");
    expect_error(c, "{\"text\":\"x\",\"meta\":[1]}", "bad_request");
    expect_error(c, "{\"text\":\"a\\u0000bomb\"}", "bad_request");
    expect_error(c, "{\"op\":\"frobnicate\"}", "unknown_op");
    expect_error(c, "{\"text\":\"\xff\"}", "bad_utf8");

    /* meta larger than 4 KiB (within --max-request 2048? no: raise it) */
    fdt_close(c);
    fdt_stop(&fdt_d, SIGTERM);
    const char *extra2[] = {"--max-request", "65536", NULL};
    cr_assert(fdt_start(extra2) == 0, "%s", fdt_d.log);
    c = fdt_connect(fdt_d.sock);
    char *big = malloc(8000);
    int n = snprintf(big, 8000, "{\"text\":\"x\",\"meta\":{\"k\":\"");
    memset(big + n, 'm', 4200);
    strcpy(big + n + 4200, "\"}}");
    expect_error(c, big, "bad_request");
    /* just under the limit is fine */
    n = snprintf(big, 8000, "{\"text\":\"x\",\"meta\":{\"k\":\"");
    memset(big + n, 'm', 4000);
    strcpy(big + n + 4000, "\"}}");
    cJSON_Delete(expect_decision(c, big, "allow"));
    free(big);

    /* the connection survived every error */
    char *line = fdt_roundtrip(c, "{\"op\":\"ping\"}");
    cr_assert_str_eq(line, "{\"ok\":true}");
    free(line);
    fdt_close(c);
}

Test(protocol, invalid_utf8)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    static const char *const bad[] = {
        "{\"id\":1,\"text\":\"bo\xffmb\"}",         /* invalid byte */
        "{\"id\":2,\"text\":\"\xc0\xaf\"}",         /* overlong '/' */
        "{\"id\":3,\"text\":\"\xed\xa0\x80\"}",     /* UTF-16 surrogate */
        "{\"id\":4,\"text\":\"\xe5\x88\"}",         /* truncated sequence */
        "{\"id\":5,\"text\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *line = fdt_roundtrip(c, bad[i]);
        cJSON *r = fdt_json(line);
        cr_assert_str_eq(fdt_errcode(r), "bad_utf8", "%s", line);
        cr_assert_eq(cJSON_GetObjectItem(r, "id")->valueint, (int)i + 1, "%s", line);
        cJSON_Delete(r);
        free(line);
    }
    cJSON_Delete(expect_decision(c, "{\"text\":\"bomb\"}", "block"));
    fdt_close(c);
}

Test(protocol, oversized_line_then_valid)
{
    const char *extra[] = {"--max-request", "1000", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);

    /* a complete oversized line and a valid request in one write */
    char *big = malloc(10000);
    int n = snprintf(big, 10000, "{\"id\":1,\"text\":\"");
    memset(big + n, 'a', 5000);
    n += 5000;
    n += snprintf(big + n, 10000 - (size_t)n, "bomb\"}\n{\"id\":2,\"text\":\"bomb\"}\n");
    cr_assert(fdt_send(c, big, (size_t)n) == 0);
    char *l1 = fdt_readline(c, FDT_TIMEOUT_MS), *l2 = fdt_readline(c, FDT_TIMEOUT_MS);
    cJSON *r1 = fdt_json(l1), *r2 = fdt_json(l2);
    cr_assert_str_eq(fdt_errcode(r1), "too_large", "%s", l1);
    cr_assert_null(fdt_errcode(r2), "%s", l2);
    cr_assert_eq(cJSON_GetObjectItem(r2, "id")->valueint, 2);
    cr_assert_str_eq(fdt_str(r2, "decision"), "block");
    cJSON_Delete(r1);
    cJSON_Delete(r2);
    free(l1);
    free(l2);

    /* a line that is already too long before its end arrives: answered
     * early, the rest of the line is discarded when it comes */
    n = snprintf(big, 10000, "{\"id\":3,\"text\":\"");
    memset(big + n, 'b', 3000);
    n += 3000;
    cr_assert(fdt_send(c, big, (size_t)n) == 0);
    l1 = fdt_readline(c, FDT_TIMEOUT_MS);
    r1 = fdt_json(l1);
    cr_assert_str_eq(fdt_errcode(r1), "too_large", "%s", l1);
    cJSON_Delete(r1);
    free(l1);
    memset(big, 'c', 4000);
    cr_assert(fdt_send(c, big, 4000) == 0);
    cr_assert(fdt_sends(c, "bomb\"}\n{\"id\":4,\"op\":\"ping\"}\n") == 0);
    l2 = fdt_readline(c, FDT_TIMEOUT_MS);
    cr_assert_str_eq(l2, "{\"id\":4,\"ok\":true}");
    free(l2);
    free(big);
    fdt_close(c);
}

Test(protocol, pipelined_10000)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    enum { N = 10000 };
    static const char *const texts[] = {"hello", "a bomb", "casino night", "casino royale"};
    static const char *const want[] = {"allow", "block", "flag", "allow"};
    size_t cap = (size_t)N * 64, len = 0;
    char *all = malloc(cap);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(all + len, cap - len, "{\"id\":%d,\"text\":\"%s\"}\n", i,
                                texts[i % 4]);
    cr_assert(fdt_send(c, all, len) == 0); /* one write */
    free(all);
    for (int i = 0; i < N; i++) {
        char *line = fdt_readline(c, FDT_TIMEOUT_MS);
        cr_assert(line, "response %d missing", i);
        cJSON *r = fdt_json(line);
        cJSON *id = cJSON_GetObjectItem(r, "id");
        cr_assert(cJSON_IsNumber(id) && id->valueint == i, "response %d out of order: %s", i, line);
        cr_assert_str_eq(fdt_str(r, "decision"), want[i % 4], "%s", line);
        cJSON_Delete(r);
        free(line);
    }
    fdt_close(c);
}

Test(protocol, ping_version_stats)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    char *line = fdt_roundtrip(c, "{\"op\":\"ping\",\"id\":1}");
    cr_assert_str_eq(line, "{\"id\":1,\"ok\":true}");
    free(line);

    line = fdt_roundtrip(c, "{\"op\":\"version\"}");
    cJSON *v = fdt_json(line);
    cr_assert(fdt_str(v, "version") && fdt_str(v, "hyperscan") && fdt_str(v, "rules"), "%s", line);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(v, "categories")), 3, "%s", line);
    cJSON_Delete(v);
    free(line);

    cJSON_Delete(expect_decision(c, "{\"text\":\"bomb\"}", "block"));
    cJSON_Delete(expect_decision(c, "{\"text\":\"casino\"}", "flag"));
    expect_error(c, "{\"op\":\"nope\"}", "unknown_op");

    line = fdt_roundtrip(c, "{\"op\":\"stats\"}");
    cJSON *s = fdt_json(line);
    cJSON *req = cJSON_GetObjectItem(s, "requests");
    cr_assert_eq(cJSON_GetObjectItem(req, "check")->valueint, 2, "%s", line);
    cr_assert_eq(cJSON_GetObjectItem(req, "ping")->valueint, 1, "%s", line);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(req, "errors"), "unknown_op")->valueint, 1,
                 "%s", line);
    cJSON *dec = cJSON_GetObjectItem(s, "decisions");
    cr_assert_eq(cJSON_GetObjectItem(dec, "block")->valueint, 1, "%s", line);
    cr_assert_eq(cJSON_GetObjectItem(dec, "flag")->valueint, 1, "%s", line);
    cJSON *cats = cJSON_GetObjectItem(s, "categories");
    cr_assert_eq(cJSON_GetObjectItem(cats, "A1.4")->valueint, 1, "%s", line);
    cr_assert_eq(cJSON_GetObjectItem(cats, "A1.8")->valueint, 1, "%s", line);
    cJSON *lat = cJSON_GetObjectItem(s, "latency_us");
    cr_assert(cJSON_GetObjectItem(lat, "p99"), "%s", line);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "connections"), "current")->valueint, 1,
                 "%s", line);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "rules"), "count")->valueint, 4, "%s",
                 line);
    cJSON_Delete(s);
    free(line);
    fdt_close(c);
}

/*
 * The whole line must be UTF-8, not only `text`: cJSON copies invalid bytes
 * in `meta` (or an id) through, and they would reach the audit log and the
 * response. The error keeps a valid id and drops an invalid one.
 */
Test(protocol, invalid_utf8_anywhere_in_the_line)
{
    char audit[PATH_MAX + 16];
    snprintf(audit, sizeof audit, "%s/audit.log", fdt_d.dir);
    const char *extra[] = {"--audit", audit, "--audit-level", "all", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    char *line = fdt_roundtrip(c, "{\"id\":1,\"text\":\"bomb\",\"meta\":{\"k\":\"\xff\xfe\"}}");
    cJSON *r = fdt_json(line);
    cr_assert_str_eq(fdt_errcode(r), "bad_utf8", "%s", line);
    cr_assert_eq(cJSON_GetObjectItem(r, "id")->valueint, 1, "%s", line);
    cr_assert_null(cJSON_GetObjectItem(r, "decision"), "%s", line);
    cJSON_Delete(r);
    free(line);
    line = fdt_roundtrip(c, "{\"id\":\"x\xc0\xaf\",\"text\":\"bomb\"}");
    cr_assert(utf8_ok(line), "the response carries the invalid id: %s", line);
    r = fdt_json(line);
    cr_assert_str_eq(fdt_errcode(r), "bad_utf8", "%s", line);
    cr_assert_null(cJSON_GetObjectItem(r, "id"), "%s", line);
    cJSON_Delete(r);
    free(line);
    line =
        fdt_roundtrip(c, "{\"id\":3,\"op\":\"open\",\"stream\":\"s\",\"meta\":{\"\xe5\x88\":1}}");
    cr_assert(strstr(line, "\"bad_utf8\""), "%s", line);
    free(line);
    cJSON_Delete(expect_decision(c, "{\"id\":4,\"text\":\"bomb\"}", "block"));
    fdt_close(c);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0, "%s", fdt_d.log);
    /* only the good check was recorded, and the log is UTF-8 */
    char *log = slurp(audit);
    cr_assert(log);
    cr_assert(utf8_ok(log), "%s", log);
    cr_assert(strstr(log, "\"id\":4") && !strstr(log, "\"id\":1,"), "%s", log);
    free(log);
}

/*
 * A "\u0000" escape is refused (cJSON would cut the text there), but an
 * escaped backslash followed by "u0000" is ordinary text: the number of
 * backslashes before it decides.
 */
Test(protocol, nul_escape_and_escaped_backslashes)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    expect_error(c, "{\"text\":\"bomb\\u0000 hidden\"}", "bad_request");
    expect_error(c, "{\"text\":\"a\\\\\\u0000\"}", "bad_request"); /* \\ then \u0000 */
    expect_error(c, "{\"meta\":{\"k\":\"\\u0000\"},\"text\":\"x\"}", "bad_request");
    /* \\u0000: a backslash, then the letters u0000 */
    cJSON *r = expect_decision(c, "{\"text\":\"a\\\\u0000 bomb\"}", "block");
    cJSON_Delete(r);
    r = expect_decision(c, "{\"text\":\"a\\\\\\\\u0000\"}", "allow"); /* \\\\u0000 */
    cJSON_Delete(r);
    fdt_close(c);
}

/* Lines may end in CRLF; a CRLF alone is a blank line, not a request. */
Test(protocol, crlf_line_endings)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    const char *burst = "{\"id\":1,\"op\":\"ping\"}\r\n\r\n{\"id\":2,\"text\":\"bomb\"}\r\n"
                        "\r\n\r\n{\"id\":3,\"text\":\"fine\"}\r\n";
    cr_assert(fdt_send(c, burst, strlen(burst)) == 0);
    char *line = fdt_readline(c, FDT_TIMEOUT_MS);
    cr_assert_str_eq(line, "{\"id\":1,\"ok\":true}");
    free(line);
    line = fdt_readline(c, FDT_TIMEOUT_MS);
    cr_assert(line && strncmp(line, "{\"id\":2,\"decision\":\"block\"", 26) == 0, "%s", line);
    free(line);
    line = fdt_readline(c, FDT_TIMEOUT_MS);
    cr_assert(line && strncmp(line, "{\"id\":3,\"decision\":\"allow\"", 26) == 0, "%s", line);
    free(line);
    /* nothing else: the blank CRLF lines got no answer */
    line = fdt_roundtrip(c, "{\"id\":4,\"op\":\"ping\"}");
    cr_assert_str_eq(line, "{\"id\":4,\"ok\":true}");
    free(line);
    fdt_close(c);
}
